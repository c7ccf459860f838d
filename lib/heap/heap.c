/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * heap.c -- pml_heap_*: a jemalloc arena whose extents are the region's
 * (extent_hooks.c), with a tcache per thread (heap_tcache.c) and frees
 * deferred under heap leases (heap_held.c).
 *
 * Only jemalloc's *allocx and mallctl are called: its malloc and free are
 * never touched, so the process's stay the C library's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heap.h"

static __thread char errmsg[256];

const char *
pml_heap_errormsg(void)
{
	return errmsg;
}

int
heap_err(int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	return -errnum;
}

/* NULL with errno and a message, for the allocation calls */
static void *
fail_null(int errnum, const char *what)
{
	heap_err(errnum, "%s", what);
	errno = errnum;
	return NULL;
}

static bool
in_region(const struct pml_heap *heap, const void *ptr)
{
	const char *p = ptr;

	return p >= heap->base && p < heap->base + heap->max_size;
}

int
pml_heap_create(struct pml_heap **heap, struct pml_region *region,
		const struct pml_heap_opts *opts)
{
	if (heap == NULL)
		return heap_err(EINVAL, "heap is NULL");
	*heap = NULL;
	if (region == NULL)
		return heap_err(EINVAL, "region is NULL");
	if (opts != NULL && (opts->flags & ~PML_HEAP_NO_TCACHE))
		return heap_err(EINVAL, "unknown flags %#x", opts->flags);
	if (opts != NULL)
		for (size_t i = 0; i < 7; i++)
			if (opts->reserved[i] != 0)
				return heap_err(EINVAL, "reserved[%zu] not 0",
						i);

	struct pml_region_info info;
	int ret = pml_region_info(&info, region);
	if (ret < 0)
		return heap_err(-ret, "region: %s", pml_errormsg());

	struct pml_heap *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return heap_err(ENOMEM, "no memory for the heap");
	heap_hooks_init(h);
	h->region = region;
	h->base = info.base;
	h->align = info.alignment;
	h->max_size = info.kind == PML_REGION_DEVDAX ? info.size
						      : info.max_size;
	h->purge = info.kind != PML_REGION_DEVDAX;
	h->flags = opts != NULL ? opts->flags : 0;
	pthread_mutex_init(&h->grow_lock, NULL);
	pthread_mutex_init(&h->held_lock, NULL);

	ret = heap_tcache_register(h);
	if (ret < 0)
		goto fail;
	extent_hooks_t *hooks = &h->hooks;
	size_t sz = sizeof(h->arena);
	int jret = mallctl("arenas.create", &h->arena, &sz, &hooks,
			sizeof(hooks));
	if (jret != 0) {
		ret = heap_err(jret == EAGAIN || jret == ENOMEM ? ENOMEM : jret,
				"jemalloc's arenas.create: %s", strerror(jret));
		heap_tcache_destroy_all(h);
		goto fail;
	}
	*heap = h;
	return 0;
fail:
	pthread_mutex_destroy(&h->grow_lock);
	pthread_mutex_destroy(&h->held_lock);
	free(h);
	return ret;
}

int
pml_heap_destroy(struct pml_heap **heap)
{
	if (heap == NULL || *heap == NULL)
		return heap_err(EINVAL, "heap is NULL");
	struct pml_heap *h = *heap;
	size_t held = atomic_load(&h->nheld);
	if (held != 0)
		return heap_err(EBUSY, "%zu heap leases live", held);

	heap_tcache_destroy_all(h);
	char name[64];
	snprintf(name, sizeof(name), "arena.%u.destroy", h->arena);
	int jret = mallctl(name, NULL, NULL, NULL, 0);
	if (jret != 0)	/* the tcaches are gone: the arena is still usable */
		return heap_err(jret, "jemalloc's %s: %s", name,
				strerror(jret));
	pthread_mutex_destroy(&h->grow_lock);
	pthread_mutex_destroy(&h->held_lock);
	free(h);
	*heap = NULL;
	return 0;
}

static void *
do_alloc(struct pml_heap *heap, size_t size, size_t alignment)
{
	if (heap == NULL)
		return fail_null(EINVAL, "heap is NULL");
	if (size == 0)
		return fail_null(EINVAL, "size is 0");
	if (alignment != 0 && (alignment & (alignment - 1)) != 0)
		return fail_null(EINVAL, "alignment is not a power of two");
	if (size > heap->max_size)
		return fail_null(ENOMEM, "larger than the region may grow");
	int flags = heap_mallocx_flags(heap);
	if (alignment != 0)
		flags |= MALLOCX_ALIGN(alignment);
	void *p = mallocx(size, flags);
	if (p == NULL)
		return fail_null(ENOMEM, "the region cannot grow to fit it");
	return p;
}

void *
pml_heap_alloc(struct pml_heap *heap, size_t size)
{
	return do_alloc(heap, size, 0);
}

void *
pml_heap_aligned_alloc(struct pml_heap *heap, size_t alignment, size_t size)
{
	if (alignment == 0)
		return fail_null(EINVAL, "alignment is 0");
	return do_alloc(heap, size, alignment);
}

void *
pml_heap_realloc(struct pml_heap *heap, void *ptr, size_t size)
{
	if (ptr == NULL)
		return pml_heap_alloc(heap, size);
	if (heap == NULL)
		return fail_null(EINVAL, "heap is NULL");
	if (size == 0)
		return fail_null(EINVAL, "size is 0");
	if (!in_region(heap, ptr))
		return fail_null(EINVAL, "pointer outside the heap's region");
	if (heap_held_is(heap, ptr))
		return fail_null(EBUSY, "the allocation is under a heap lease");
	if (size > heap->max_size)
		return fail_null(ENOMEM, "larger than the region may grow");
	void *p = rallocx(ptr, size, heap_mallocx_flags(heap));
	if (p == NULL)
		return fail_null(ENOMEM, "the region cannot grow to fit it");
	return p;
}

void
pml_heap_free(struct pml_heap *heap, void *ptr)
{
	if (heap == NULL || ptr == NULL)
		return;
	if (!in_region(heap, ptr)) {
		heap_err(EINVAL, "pointer outside the heap's region");
		return;
	}
	if (heap_held_defer_free(heap, ptr))
		return;
	dallocx(ptr, heap_mallocx_flags(heap));
}

size_t
pml_heap_usable_size(struct pml_heap *heap, void *ptr)
{
	if (heap == NULL || ptr == NULL || !in_region(heap, ptr))
		return 0;
	return sallocx(ptr, 0);
}

int
pml_heap_lease(struct pml_lease **lease, struct pml_heap *heap, void *ptr,
		unsigned flags, const struct pml_lease_ops *ops, void *arg)
{
	if (lease == NULL)
		return heap_err(EINVAL, "lease is NULL");
	*lease = NULL;
	if (heap == NULL)
		return heap_err(EINVAL, "heap is NULL");
	if (ptr == NULL || !in_region(heap, ptr))
		return heap_err(EINVAL, "%p is not in the heap's region", ptr);

	int ret = heap_held_add(heap, ptr);
	if (ret < 0)
		return ret;
	ret = pml_lease_acquire(lease, heap->region,
			(uint64_t)((char *)ptr - heap->base), sallocx(ptr, 0),
			flags, ops, arg);
	if (ret < 0) {
		heap_err(-ret, "lease: %s", pml_errormsg());
		bool free_now;
		heap_held_drop(heap, ptr, &free_now);
		if (free_now)	/* freed by another thread meanwhile */
			dallocx(ptr, heap_mallocx_flags(heap));
	}
	return ret;
}

int
pml_heap_alloc_lease(struct pml_lease **lease, struct pml_heap *heap,
		size_t size, unsigned flags, const struct pml_lease_ops *ops,
		void *arg)
{
	if (lease == NULL)
		return heap_err(EINVAL, "lease is NULL");
	*lease = NULL;
	void *p = pml_heap_alloc(heap, size);
	if (p == NULL)
		return -errno;
	int ret = pml_heap_lease(lease, heap, p, flags, ops, arg);
	if (ret < 0)
		dallocx(p, heap_mallocx_flags(heap));
	return ret;
}

int
pml_heap_lease_put(struct pml_heap *heap, struct pml_lease *lease)
{
	if (heap == NULL || lease == NULL)
		return heap_err(EINVAL, "heap or lease is NULL");
	void *ptr = pml_lease_addr(lease);
	if (ptr == NULL || !in_region(heap, ptr) || !heap_held_is(heap, ptr))
		return heap_err(EINVAL, "not a lease of this heap");
	int ret = pml_lease_put(lease);
	if (ret < 0)
		return heap_err(-ret, "put: %s", pml_errormsg());
	bool free_now;
	ret = heap_held_drop(heap, ptr, &free_now);
	if (ret == 0 && free_now)
		dallocx(ptr, heap_mallocx_flags(heap));
	return ret;
}
