/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pmemlease_heap.h -- a heap on a region (libpmemlease_heap.so).
 *
 * malloc-like allocation inside a region's mapping, for programs (databases)
 * that keep their data in persistent memory and hand parts of it to
 * devices.  It is built on jemalloc arenas with custom extent hooks, the
 * design of memkind's PMEM kind:
 *
 *   - every allocation lies in [base, base + size) of the region; the heap
 *     carves jemalloc's extents out of the region from offset 0 up, and
 *     grows the region with pml_region_truncate() when it runs out, up to
 *     the region's max_size; beyond it an allocation fails with NULL and
 *     errno ENOMEM;
 *   - jemalloc's decommit and purges of free extents become
 *     pml_region_punch() -- through the barrier, with a 1 ms timeout and
 *     PML_ON_TIMEOUT_FAIL: a purge never waits for a lease, never revokes
 *     one, and a purge the barrier refuses leaves the pages allocated in the
 *     file (jemalloc keeps them; they go back when it purges them again);
 *   - a lease taken through the heap (pml_heap_lease(),
 *     pml_heap_alloc_lease()) holds its allocation: pml_heap_free() of it
 *     is deferred until pml_heap_lease_put() drops the last heap lease on
 *     it, so its blocks are neither punched nor handed to another
 *     allocation while a device may still DMA into them.
 *
 * The heap is volatile, like memkind's PMEM kind: which extents are free
 * or used is known only to this process (jemalloc keeps it in its arena's
 * metadata, which it allocates through the same hooks: in the region, among
 * the allocations), and nothing of it survives pml_heap_destroy() or the
 * process.  What the region
 * holds when the heap is created is overwritten from offset 0 on; one heap
 * per region at a time.
 *
 * jemalloc beside the C library: the process's malloc/free stay the C
 * library's as long as the program itself does not link jemalloc (the heap
 * only calls jemalloc's *allocx and mallctl).  jemalloc uses initial-exec
 * TLS, so a program cannot dlopen() this library late unless jemalloc was
 * loaded at start (linked, or LD_PRELOAD).
 *
 * Conventions are those of pmemlease.h: int functions return 0 or a
 * negative errno and leave a message for pml_heap_errormsg(); allocation
 * functions return NULL and set errno.  Every function may be called from
 * any thread; pml_heap_destroy() must not race with other calls on the
 * heap.  Each thread gets its own jemalloc cache (tcache) per heap.
 */
#ifndef PMEMLEASE_HEAP_H
#define PMEMLEASE_HEAP_H 1

#include <stddef.h>
#include <stdint.h>

#include <pmemlease.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pml_heap;

/* pml_heap_opts.flags */
#define PML_HEAP_NO_TCACHE	(1U << 0)	/* no per-thread cache: every
						 * call takes the arena's
						 * locks (slower, no memory
						 * parked in threads) */

struct pml_heap_opts {
	unsigned flags;		/* PML_HEAP_* */
	uint64_t reserved[7];	/* zero */
};

/*
 * pml_heap_errormsg -- the message of the calling thread's last failing
 * pml_heap_* call (it includes pml_errormsg() when the core failed).
 */
const char *pml_heap_errormsg(void);

/*
 * pml_heap_create -- a heap on an open region.
 *
 * The region stays the caller's: it must outlive the heap, and must not be
 * punched or shrunk under the heap's allocations by other means.  On devdax
 * the heap never purges (a punch there zeroes and deallocates nothing).
 * opts may be NULL.  Returns -EINVAL for bad arguments or unknown flags,
 * -EMFILE with 64 heaps alive in the process, -ENOMEM when jemalloc cannot
 * create an arena.  On success *heap is the
 * new heap; on failure it is left NULL.
 */
int pml_heap_create(struct pml_heap **heap, struct pml_region *region,
		const struct pml_heap_opts *opts);

/*
 * pml_heap_destroy -- give the heap's arena back to jemalloc.
 *
 * Returns -EBUSY, changing nothing, while a heap lease is live.  Every
 * allocation of the heap becomes invalid; the region is left open and as
 * large as it has grown.  On success *heap is set to NULL.
 */
int pml_heap_destroy(struct pml_heap **heap);

/*
 * pml_heap_alloc -- size bytes inside the region (aligned to 16).
 *
 * NULL with errno EINVAL for a zero size or a bad heap, ENOMEM when the
 * region cannot grow to fit it.  Growing the region is a layout change:
 * it waits for one in progress on the file (a punch waiting for its
 * leases, in any process) to end.
 */
void *pml_heap_alloc(struct pml_heap *heap, size_t size);

/*
 * pml_heap_aligned_alloc -- as pml_heap_alloc(), aligned to alignment (a
 * power of two; EINVAL otherwise).
 */
void *pml_heap_aligned_alloc(struct pml_heap *heap, size_t alignment,
		size_t size);

/*
 * pml_heap_realloc -- resize an allocation, as realloc(3): ptr NULL
 * allocates; the content is kept up to the smaller size; on failure NULL
 * and ptr still valid.  size 0 is EINVAL (free with pml_heap_free()).  An
 * allocation under a heap lease cannot move: EBUSY.
 */
void *pml_heap_realloc(struct pml_heap *heap, void *ptr, size_t size);

/*
 * pml_heap_free -- give an allocation back (NULL does nothing).
 *
 * An allocation under a heap lease is freed when the last heap lease on it
 * is put, not before.  ptr must come from this heap.
 */
void pml_heap_free(struct pml_heap *heap, void *ptr);

/* pml_heap_usable_size -- the allocation's usable size (0 for NULL) */
size_t pml_heap_usable_size(struct pml_heap *heap, void *ptr);

/*
 * pml_heap_lease -- a lease (pml_lease_acquire() with flags, ops, arg) on
 * the whole usable size of the allocation at ptr.
 *
 * While a heap lease is live the allocation is kept: pml_heap_free() is
 * deferred, pml_heap_realloc() refuses to move it.  Several heap leases may
 * cover one allocation.  Put it with pml_heap_lease_put(), never with
 * pml_lease_put() alone; references added with pml_lease_get() must be put
 * (pml_lease_put()) before it.  Returns -EINVAL for a pointer outside the
 * region, and what pml_lease_acquire() returns.
 */
int pml_heap_lease(struct pml_lease **lease, struct pml_heap *heap,
		void *ptr, unsigned flags, const struct pml_lease_ops *ops,
		void *arg);

/*
 * pml_heap_alloc_lease -- allocate size bytes and lease them in one step:
 * pml_lease_addr(*lease) is the allocation.  Free it with pml_heap_free()
 * (before or after the put: the free waits for the put).  Returns -EINVAL,
 * -ENOMEM, or what pml_lease_acquire() returns, with nothing allocated.
 */
int pml_heap_alloc_lease(struct pml_lease **lease, struct pml_heap *heap,
		size_t size, unsigned flags, const struct pml_lease_ops *ops,
		void *arg);

/*
 * pml_heap_lease_put -- put a heap lease (the heap's reference); the last
 * heap lease on an allocation freed meanwhile frees it.  Returns -EINVAL
 * for a lease this heap does not hold, and what pml_lease_put() returns.
 */
int pml_heap_lease_put(struct pml_heap *heap, struct pml_lease *lease);

/*
 * A lease taken on heap memory with pml_lease_acquire() directly is
 * outside the heap's knowledge: if the memory under it is freed, a purge
 * of it may call the lease's on_break (PML_BREAK_LAYOUT) -- from a thread
 * inside the allocator, so that on_break must not call the heap -- and
 * gives up after 1 ms, leaving the blocks in place; it never revokes.
 */

#ifdef __cplusplus
}
#endif

#endif
