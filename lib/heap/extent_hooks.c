/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * extent_hooks.c -- jemalloc's extents carved out of the region, and its
 * purges sent through the lease barrier.
 *
 * jemalloc calls these with locks of its own held, so none of them may wait
 * for a lease: whoever holds it may need the allocator to let go.
 */
#include <errno.h>
#include <string.h>

#include "heap.h"

/* a purge gives the barrier this long, then leaves the pages as they are */
#define PURGE_TIMEOUT_MS 1

/* the hooks' address is the heap's (the hooks are its first member) */
static struct pml_heap *
heap_of(extent_hooks_t *hooks)
{
	return (struct pml_heap *)hooks;
}

static uint64_t
align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/*
 * Grow the region to hold end bytes: by at least an eighth of its size, so
 * that a run of small extents does not truncate the file every time.
 */
static bool
grow_to(struct pml_heap *heap, uint64_t end)
{
	uint64_t size = pml_region_size(heap->region);

	if (end <= size)
		return true;
	if (end > heap->max_size)
		return false;
	uint64_t want = end;
	if (want < size + size / 8)
		want = size + size / 8;
	want = align_up(want, heap->align);
	if (want > heap->max_size)
		want = heap->max_size;
	return pml_region_truncate(heap->region, want, NULL) == 0;
}

static void *
hook_alloc(extent_hooks_t *hooks, void *new_addr, size_t size,
		size_t alignment, bool *zero, bool *commit, unsigned arena_ind)
{
	struct pml_heap *heap = heap_of(hooks);

	/* in-place growth of an extent: only if it ends at the top */
	pthread_mutex_lock(&heap->grow_lock);
	uint64_t off = align_up(heap->top, alignment ? alignment : 1);
	if (new_addr != NULL && (char *)new_addr != heap->base + off)
		off = UINT64_MAX;
	void *addr = NULL;
	if (off <= heap->max_size && size <= heap->max_size - off &&
			grow_to(heap, off + size)) {
		heap->top = off + size;
		addr = heap->base + off;
	}
	pthread_mutex_unlock(&heap->grow_lock);
	if (addr == NULL)
		return NULL;
	/* the region may hold an earlier heap's data: zeroes are written */
	if (*zero)
		memset(addr, 0, size);
	*commit = true;
	return addr;
}

/*
 * Opting out of dalloc makes jemalloc retain the extent (and decommit or
 * purge it); the address range stays the heap's for reuse.
 */
static bool
hook_dalloc(extent_hooks_t *hooks, void *addr, size_t size, bool committed,
		unsigned arena_ind)
{
	return true;
}

/* a punched range reads zeroes and is allocated again on first write */
static bool
hook_commit(extent_hooks_t *hooks, void *addr, size_t size, size_t offset,
		size_t length, unsigned arena_ind)
{
	return false;
}

/*
 * Punch the aligned interior of [addr + offset, + length): true (failure:
 * jemalloc keeps the pages as they were) unless all of it was punched.  A
 * lease over the range -- one taken with pml_lease_acquire() on memory its
 * holder freed; heap leases keep their allocation live, and jemalloc never
 * purges live memory -- makes the barrier time out, and the pages stay.
 */
static bool
punch(struct pml_heap *heap, void *addr, size_t offset, size_t length)
{
	if (!heap->purge)
		return true;
	uint64_t start = (uint64_t)((char *)addr + offset - heap->base);
	uint64_t from = align_up(start, heap->align);
	uint64_t to = (start + length) & ~(heap->align - 1);
	if (to <= from)
		return true;
	struct pml_barrier_opts bo = {
		.timeout_ms = PURGE_TIMEOUT_MS,
		.on_timeout = PML_ON_TIMEOUT_FAIL,
	};
	if (pml_region_punch(heap->region, from, to - from, &bo) != 0)
		return true;
	return from != start || to != start + length;
}

static bool
hook_decommit(extent_hooks_t *hooks, void *addr, size_t size, size_t offset,
		size_t length, unsigned arena_ind)
{
	return punch(heap_of(hooks), addr, offset, length);
}

static bool
hook_purge(extent_hooks_t *hooks, void *addr, size_t size, size_t offset,
		size_t length, unsigned arena_ind)
{
	return punch(heap_of(hooks), addr, offset, length);
}

/* one mapping: any extent splits and any neighbours merge */
static bool
hook_split(extent_hooks_t *hooks, void *addr, size_t size, size_t size_a,
		size_t size_b, bool committed, unsigned arena_ind)
{
	return false;
}

static bool
hook_merge(extent_hooks_t *hooks, void *addr_a, size_t size_a, void *addr_b,
		size_t size_b, bool committed, unsigned arena_ind)
{
	return false;
}

void
heap_hooks_init(struct pml_heap *heap)
{
	heap->hooks = (extent_hooks_t){
		.alloc = hook_alloc,
		.dalloc = hook_dalloc,
		.destroy = NULL,	/* the region is the caller's */
		.commit = hook_commit,
		.decommit = hook_decommit,
		.purge_lazy = hook_purge,
		.purge_forced = hook_purge,
		.split = hook_split,
		.merge = hook_merge,
	};
}
