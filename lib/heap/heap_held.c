/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * heap_held.c -- allocations held by heap leases.
 *
 * An allocation with a live heap lease is held: a free of it is recorded
 * and performed by the last heap lease's put, so its blocks are neither
 * purged (jemalloc never purges live memory) nor handed to another
 * allocation while a device may still DMA into them.  A hash of the held
 * pointers, in DRAM, under one lock; nheld lets a free skip it when no heap
 * lease is live.
 */
#include <errno.h>
#include <stdlib.h>

#include "heap.h"

struct heap_held {
	struct heap_held *next;
	void *ptr;
	unsigned leases;
	bool freed;	/* pml_heap_free() came while leased */
};

static struct heap_held **
bucket(struct pml_heap *heap, void *ptr)
{
	uintptr_t h = (uintptr_t)ptr >> 4;

	h ^= h >> 17;
	h *= 0x9e3779b97f4a7c15ULL;
	return &heap->held[(h >> 32) % HEAP_BUCKETS];
}

static struct heap_held *
find(struct pml_heap *heap, void *ptr)
{
	for (struct heap_held *h = *bucket(heap, ptr); h != NULL; h = h->next)
		if (h->ptr == ptr)
			return h;
	return NULL;
}

int
heap_held_add(struct pml_heap *heap, void *ptr)
{
	int ret = 0;

	pthread_mutex_lock(&heap->held_lock);
	struct heap_held *h = find(heap, ptr);
	if (h != NULL && h->freed) {
		ret = heap_err(EINVAL, "allocation %p was freed", ptr);
	} else if (h != NULL) {
		h->leases++;
	} else if ((h = calloc(1, sizeof(*h))) == NULL) {
		ret = heap_err(ENOMEM, "no memory to track a lease");
	} else {
		struct heap_held **b = bucket(heap, ptr);
		*h = (struct heap_held){ .next = *b, .ptr = ptr, .leases = 1 };
		*b = h;
	}
	if (ret == 0)
		atomic_fetch_add_explicit(&heap->nheld, 1, memory_order_relaxed);
	pthread_mutex_unlock(&heap->held_lock);
	return ret;
}

static bool
held_op(struct pml_heap *heap, void *ptr, bool defer)
{
	if (atomic_load_explicit(&heap->nheld, memory_order_acquire) == 0)
		return false;
	pthread_mutex_lock(&heap->held_lock);
	struct heap_held *h = find(heap, ptr);
	if (h != NULL && defer)
		h->freed = true;
	pthread_mutex_unlock(&heap->held_lock);
	return h != NULL;
}

bool
heap_held_defer_free(struct pml_heap *heap, void *ptr)
{
	return held_op(heap, ptr, true);
}

bool
heap_held_is(struct pml_heap *heap, void *ptr)
{
	return held_op(heap, ptr, false);
}

int
heap_held_drop(struct pml_heap *heap, void *ptr, bool *free_now)
{
	int ret = 0;

	*free_now = false;
	pthread_mutex_lock(&heap->held_lock);
	struct heap_held **p = bucket(heap, ptr);
	while (*p != NULL && (*p)->ptr != ptr)
		p = &(*p)->next;
	struct heap_held *h = *p;
	if (h == NULL) {
		ret = heap_err(EINVAL, "no heap lease on %p", ptr);
	} else if (--h->leases == 0) {
		*free_now = h->freed;
		*p = h->next;
		free(h);
	}
	if (ret == 0)
		atomic_fetch_sub_explicit(&heap->nheld, 1, memory_order_release);
	pthread_mutex_unlock(&heap->held_lock);
	return ret;
}
