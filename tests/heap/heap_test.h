/* SPDX-License-Identifier: BSD-3-Clause */
/* heap_test.h -- what the heap tests share: a region to build a heap on */
#ifndef PMLT_HEAP_TEST_H
#define PMLT_HEAP_TEST_H 1

#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

#include "common.h"
#include "pmemlease_heap.h"

struct heap_fix {
	char path[4096];
	struct pml_region *region;
	struct pml_heap *heap;
	char *base;
	uint64_t max_size;
};

/* a fresh sparse file of size bytes, mapped with room for max_size */
static inline void
heap_fix_open(struct heap_fix *f, const char *name, uint64_t size,
		uint64_t max_size)
{
	pmlt_require_fs();
	pmlt_path(f->path, sizeof(f->path), name);
	unlink(f->path);
	pmlt_make_sparse(f->path, size);
	struct pml_region_opts ro = { .max_size = max_size };
	int rc = pml_region_open(&f->region, f->path, &ro);
	assert_int_equal(rc, 0);
	f->base = pml_region_base(f->region);
	f->max_size = max_size;
	rc = pml_heap_create(&f->heap, f->region, NULL);
	if (rc)
		fail_msg("pml_heap_create: %d %s", rc, pml_heap_errormsg());
}

static inline void
heap_fix_close(struct heap_fix *f)
{
	if (f->heap)
		assert_int_equal(pml_heap_destroy(&f->heap), 0);
	assert_int_equal(pml_region_close(&f->region), 0);
	if (!getenv("PML_TEST_KEEP"))
		unlink(f->path);
}

static inline bool
heap_fix_inside(const struct heap_fix *f, const void *p, size_t len)
{
	const char *c = p;

	return c >= f->base &&
		c + len <= f->base + pml_region_size(f->region);
}

/*
 * jemalloc's mallctl, found where the heap library brought it in: the
 * tests must not link jemalloc themselves, or it would become the
 * process's malloc.
 */
static inline int
heap_mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp,
		size_t newlen)
{
	static int (*fn)(const char *, void *, size_t *, void *, size_t);

	if (fn == NULL)
		*(void **)&fn = dlsym(RTLD_DEFAULT, "mallctl");
	assert_non_null(fn);
	return fn(name, oldp, oldlenp, newp, newlen);
}

/* purge every arena's free pages now (MALLCTL_ARENAS_ALL is 4096) */
static inline void
heap_purge_all(void)
{
	assert_int_equal(heap_mallctl("arena.4096.purge", NULL, NULL, NULL, 0),
			0);
}

/* the byte an allocation at p holds at i: derived from its address */
static inline uint8_t
heap_byte(const void *p, size_t i)
{
	uintptr_t a = (uintptr_t)p + i;

	return (uint8_t)(a ^ (a >> 8) ^ (a >> 17) ^ 0x5a);
}

static inline void
heap_fill(void *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		((uint8_t *)p)[i] = heap_byte(p, i);
}

/* -1 if p holds its pattern, else the first wrong byte's index */
static inline int64_t
heap_check(const void *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (((const uint8_t *)p)[i] != heap_byte(p, i))
			return (int64_t)i;
	return -1;
}

#endif
