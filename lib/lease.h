/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lease.h -- leases and the per-thread lease contexts that own them.
 *
 * A lease is one cache line.  It is allocated from, indexed in, and guarded
 * by the lease context of the thread that acquired it, so leases taken by
 * different threads never share a written cache line, whatever their
 * ranges.  The context's index lets a barrier find the leases overlapping
 * its range without visiting the others: short leases (at most one chunk
 * long) hang in a hash of the chunk their range starts in, so only the
 * chunks the barrier's range touches, and the one before, are visited;
 * the rare long leases sit on a list of their own.
 */
#ifndef PML_LEASE_H
#define PML_LEASE_H 1

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "region.h"
#include "spinlock.h"

#define LEASE_CHUNK_SHIFT 21	/* 2 MiB: the usual largest DMA buffer */
#define LEASE_CHUNK (UINT64_C(1) << LEASE_CHUNK_SHIFT)

enum lease_state {
	LEASE_FREE = 0,
	LEASE_LIVE = 1,
	LEASE_REVOKED = 2,
};

/* pml_lease.flags besides PML_LEASE_REF */
#define LEASE_AWAITED	(1U << 4)	/* a barrier counts it as pending */
#define LEASE_LONG	(1U << 5)	/* on the long list, not the hash */
#define LEASE_BREAK_REVOKED (1U << 6)	/* owes its holder PML_BREAK_REVOKED */

typedef void (*on_break_fn)(struct pml_lease *, enum pml_break_reason,
		void *);

/*
 * A lease's counts, state and flags in one word, so that an acquire writes
 * them with one store and the put that often follows at once reads them
 * with one load: a load spanning several narrower stores cannot be
 * forwarded from them, and stalls.
 */
union lease_word {
	struct {
		uint32_t refs;		/* holders */
		uint16_t holds;		/* library references: a barrier
					 * calling on_break, a quarantine
					 * waiting for the put; the memory
					 * is reused only when both are 0 */
		uint8_t state;		/* enum lease_state; atomic reads */
		uint8_t flags;
	};
	uint64_t word;
};

struct pml_lease {
	uint64_t offset;
	uint64_t end;
	uint32_t born_ms;		/* lease_clock at acquire */
	uint32_t spare;
	on_break_fn on_break;
	void *arg;
	struct pml_lease *next;		/* index chain, or the free list */
	struct pml_lease *prev;
	union lease_word w;
} __attribute__((aligned(CACHELINE)));

_Static_assert(sizeof(struct pml_lease) == CACHELINE,
		"a lease is one cache line");

/*
 * Leases come in slabs of one page, aligned to it, whose first line says
 * which context they belong to: a lease finds its context from its own
 * address, and keeps its line for what the inspection tools show.  Slabs
 * are allocated in batches that double as a context grows (context.c frees
 * them): an allocation aligned to a page wastes up to a page, so one slab
 * at a time would cost a context with a million leases twice their size.
 */
#define SLAB_SIZE 4096
#define SLAB_LEASES (SLAB_SIZE / CACHELINE - 1)

struct lease_slab {
	struct lease_ctx *ctx;
	struct lease_slab *next;
	bool owns_batch;	/* the first slab of an allocation frees it */
	struct pml_lease leases[SLAB_LEASES] __attribute__((aligned(CACHELINE)));
} __attribute__((aligned(SLAB_SIZE)));

_Static_assert(sizeof(struct lease_slab) == SLAB_SIZE, "a slab is a page");

static inline struct lease_ctx *
lease_ctx(const struct pml_lease *l)
{
	return ((const struct lease_slab *)((uintptr_t)l &
			~(uintptr_t)(SLAB_SIZE - 1)))->ctx;
}

/*
 * lease_clock -- milliseconds, kept by the agent threads and the slow
 * paths, read by acquires for the lease's age: one load of a variable
 * written a few times a second, instead of a clock read per acquire.
 */
extern _Atomic uint32_t lease_clock;
void lease_clock_tick(void);

/* lease_ctx.bias: see context.c */
enum ctx_bias {
	BIAS_NONE = 0,		/* everybody, the owner too, takes the lock */
	BIAS_OWNER,		/* the owner works in fast sections */
	BIAS_REVOKING,		/* being taken away: the owner takes the lock */
};

struct lease_ctx {
	/* the owner's line: written by it on every acquire and put */
	_Alignas(CACHELINE) struct spinlock lock;
	_Atomic int active;		/* the owner is in a fast section */
	_Atomic int bias;		/* enum ctx_bias */
	_Atomic uint64_t owner;		/* thread serial; 0 = orphaned */
	uint64_t rebias_ns;		/* under lock: no bias before this */
	pid_t tid;			/* the owner's thread id, for tools */
	struct pml_region *region;
	struct pml_lease **buckets;
	uint64_t mask;			/* nbuckets - 1 */
	uint64_t nindexed;
	struct pml_lease *long_head;
	struct pml_lease *free_head;
	struct pml_lease *free_tail;
	struct lease_slab *slabs;
	unsigned slab_batch;		/* slabs the next refill allocates */
	struct lease_ctx *next;		/* region->ctxs, under region->mutex */
};

/* thread-local state read on every acquire (PML_TLS: region.h) */
#define TLS_SLOTS 4

struct tls_slot {
	struct pml_region *region;
	uint64_t region_id;
	uint64_t epoch;
	struct lease_ctx *ctx;
};

extern PML_TLS struct tls_slot lease_tls_slots[TLS_SLOTS];
extern PML_TLS uint64_t lease_tls_serial;	/* 0 until the first acquire */

/* context.c */
int ctx_get_slow(struct lease_ctx **out, struct pml_region *r);
void ctx_lock(struct lease_ctx *c);
void ctx_unlock_owner(struct lease_ctx *c);
void ctxs_unbias(struct pml_region *r);
void lease_ctxs_free(struct pml_region *r);

/* lease.c */
int index_init(struct lease_ctx *c);

/*
 * this thread's context on r, if it is the one it used last (slot 0), or
 * NULL: ctx_get_slow finds it in the other slots, or makes it, and moves
 * it to slot 0.
 */
static inline struct lease_ctx *
ctx_cached(const struct pml_region *r)
{
	if (__builtin_expect(lease_tls_slots[0].region == r &&
			lease_tls_slots[0].epoch == region_close_epoch(), 1))
		return lease_tls_slots[0].ctx;
	return NULL;
}

static inline bool
ctx_is_mine(const struct lease_ctx *c)
{
	return atomic_load_explicit(&c->owner, memory_order_relaxed) ==
		lease_tls_serial && lease_tls_serial != 0;
}

/*
 * The owner's side of the bias (context.c tells why it is enough).
 * ctx_try_fast enters a fast section and returns true while the bias is the
 * owner's; otherwise it returns false, having entered nothing.
 */
static inline bool
ctx_try_fast(struct lease_ctx *c)
{
	atomic_store_explicit(&c->active, 1, memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
	if (__builtin_expect(atomic_load_explicit(&c->bias,
			memory_order_acquire) == BIAS_OWNER, 1))
		return true;
	atomic_store_explicit(&c->active, 0, memory_order_release);
	return false;
}

static inline void
ctx_leave_fast(struct lease_ctx *c)
{
	atomic_store_explicit(&c->active, 0, memory_order_release);
}

/* a fast section if the bias allows, else the spinlock: true if fast */
static inline bool
ctx_enter(struct lease_ctx *c)
{
	if (ctx_try_fast(c))
		return true;
	spin_lock(&c->lock);
	return false;
}

static inline void
ctx_leave(struct lease_ctx *c, bool fast)
{
	if (__builtin_expect(fast, 1))
		ctx_leave_fast(c);
	else
		ctx_unlock_owner(c);
}

/* anyone else: ctx_lock (context.c) revokes the bias if need be */
static inline void
ctx_unlock(struct lease_ctx *c)
{
	spin_unlock(&c->lock);
}

typedef void (*lease_visit_fn)(struct pml_lease *l, void *arg);

/* leases collected under locks, acted on after them (agent.c) */
struct lease_list {
	struct pml_lease **v;
	size_t n;
	size_t cap;
	bool oom;
};

void lease_list_push(struct lease_list *ls, struct pml_lease *l);
/* call on_break of each (holds taken when pushed), no lock held; drop holds */
void lease_list_call(struct lease_list *ls, enum pml_break_reason reason);

/*
 * ctx_for_each_overlap -- call fn for every lease of ctx (any state but
 * FREE) that overlaps [start, end).  Caller holds ctx_lock().
 */
void ctx_for_each_overlap(struct lease_ctx *ctx, uint64_t start,
		uint64_t end, lease_visit_fn fn, void *arg);

/* ctx_release_hold -- drop a library hold; caller holds ctx_lock() */
void ctx_release_hold(struct lease_ctx *ctx, struct pml_lease *l);

static inline uint8_t
lease_state(const struct pml_lease *l)
{
	return __atomic_load_n(&l->w.state, __ATOMIC_RELAXED);
}

static inline void
lease_set_state(struct pml_lease *l, uint8_t state)
{
	__atomic_store_n(&l->w.state, state, __ATOMIC_RELAXED);
}

#endif
