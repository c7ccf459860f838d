/* SPDX-License-Identifier: BSD-3-Clause */
/* heap.h -- what the heap's files share: the heap itself */
#ifndef PML_HEAP_INTERNAL_H
#define PML_HEAP_INTERNAL_H 1

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jemalloc/jemalloc.h>

#include "pmemlease_heap.h"

#define HEAP_BUCKETS 256

struct heap_held;

struct pml_heap {
	/* first: jemalloc hands the hooks' address back to every hook */
	extent_hooks_t hooks;
	struct pml_region *region;
	char *base;
	uint64_t align;		/* the region's alignment */
	uint64_t max_size;	/* how far the region may grow */
	bool purge;		/* false on devdax: a punch only zeroes */
	unsigned arena;
	unsigned flags;		/* pml_heap_opts.flags */
	uint64_t serial;	/* names the heap in threads' tcache slots */

	pthread_mutex_t grow_lock;	/* top and the region's growth */
	uint64_t top;			/* extents are carved below it */

	/* allocations under heap leases (heap_held.c) */
	pthread_mutex_t held_lock;
	atomic_size_t nheld;	/* live heap leases; 0 lets free skip the lock */
	struct heap_held *held[HEAP_BUCKETS];

	/* explicit tcaches made for this heap (heap_tcache.c) */
	unsigned *tcaches;
	size_t ntcaches, tcaches_cap;
};

/* heap_err -- record the calling thread's message and return -errnum */
int heap_err(int errnum, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), cold));

/* extent_hooks.c: fill heap->hooks */
void heap_hooks_init(struct pml_heap *heap);

/*
 * heap_tcache.c: a serial number for a new heap (-EMFILE past 64 heaps);
 * the MALLOCX_ flags of the calling thread for heap (its arena and this
 * thread's tcache for it); the tcaches of a heap being destroyed
 */
int heap_tcache_register(struct pml_heap *heap);
int heap_mallocx_flags(struct pml_heap *heap);
void heap_tcache_destroy_all(struct pml_heap *heap);

/* heap_held.c: allocations under heap leases */
int heap_held_add(struct pml_heap *heap, void *ptr);
/* 1 if ptr is held (the free is recorded and deferred), 0 if not */
bool heap_held_defer_free(struct pml_heap *heap, void *ptr);
bool heap_held_is(struct pml_heap *heap, void *ptr);
/* drop one hold; 1 if ptr was freed meanwhile and must be freed now */
int heap_held_drop(struct pml_heap *heap, void *ptr, bool *free_now);

#endif
