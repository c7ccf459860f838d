/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lease.c -- acquire, get and put: the fast path.
 *
 * With no barrier raised, an acquire is: find the calling thread's lease
 * context (a thread-local cache hit), enter its fast section, read the
 * region's view, pop a lease from the context's free list, link it into the
 * context's index, leave.  A put by the same thread is: enter, drop the
 * refcount, unlink, push the lease back, leave.  No system call, no atomic
 * read-modify-write, no allocation once the context has grown to its
 * working set, and nothing written outside the thread's own context and the
 * lease's own line.  Anyone else -- a put from another thread -- takes the
 * context's lock (ctx_lock).  Why that is enough against a concurrent
 * barrier is told in region.h and context.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "lease.h"
#include "region.h"
#include "shared.h"

_Atomic uint32_t lease_clock;

void
lease_clock_tick(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
	atomic_store_explicit(&lease_clock, (uint32_t)(t.tv_sec * 1000 +
			t.tv_nsec / 1000000), memory_order_relaxed);
}

/* ------------------------------------------------------------ the index */

/*
 * Buckets are written on every acquire and put: give each thread's array
 * whole cache lines, so no other thread's array shares one.
 */
static struct pml_lease **
buckets_alloc(uint64_t n)
{
	size_t bytes = (n * sizeof(struct pml_lease *) + CACHELINE - 1) /
		CACHELINE * CACHELINE;
	struct pml_lease **b = aligned_alloc(CACHELINE, bytes);

	if (b)
		memset(b, 0, bytes);
	return b;
}

int
index_init(struct lease_ctx *c)
{
	c->buckets = buckets_alloc(16);
	c->mask = 15;
	return c->buckets ? 0 : -ENOMEM;
}

static inline struct pml_lease **
index_head(struct lease_ctx *ctx, const struct pml_lease *l)
{
	if (l->w.flags & LEASE_LONG)
		return &ctx->long_head;
	return &ctx->buckets[(l->offset >> LEASE_CHUNK_SHIFT) & ctx->mask];
}

static inline void
index_link(struct lease_ctx *ctx, struct pml_lease *l)
{
	struct pml_lease **head = index_head(ctx, l);

	l->prev = NULL;
	l->next = *head;
	if (*head)
		(*head)->prev = l;
	*head = l;
	ctx->nindexed++;
}

static inline void
index_unlink(struct lease_ctx *ctx, struct pml_lease *l)
{
	if (l->prev)
		l->prev->next = l->next;
	else
		*index_head(ctx, l) = l->next;
	if (l->next)
		l->next->prev = l->prev;
	ctx->nindexed--;
}

/*
 * Keep chains short as a thread's live leases grow: double the buckets
 * when there are more than two leases per bucket.  The index only grows,
 * so a thread at its working set never allocates again.
 */
static void
index_grow(struct lease_ctx *ctx)
{
	uint64_t n = (ctx->mask + 1) * 2;
	struct pml_lease **b = buckets_alloc(n);

	if (!b)
		return;		/* longer chains, still correct */

	struct pml_lease **old = ctx->buckets;
	uint64_t oldn = ctx->mask + 1;

	ctx->buckets = b;
	ctx->mask = n - 1;
	for (uint64_t i = 0; i < oldn; i++) {
		while (old[i]) {
			struct pml_lease *l = old[i];

			old[i] = l->next;
			ctx->nindexed--;
			index_link(ctx, l);
		}
	}
	free(old);
}

void
ctx_for_each_overlap(struct lease_ctx *ctx, uint64_t start, uint64_t end,
		lease_visit_fn fn, void *arg)
{
	struct pml_lease *l, *next;

	for (l = ctx->long_head; l; l = next) {
		next = l->next;
		if (range_overlaps(l->offset, l->end, start, end))
			fn(l, arg);
	}
	if (!ctx->nindexed)
		return;

	/* a short lease starting in the chunk before may reach into ours */
	uint64_t first = start >> LEASE_CHUNK_SHIFT;
	uint64_t last = (end - 1) >> LEASE_CHUNK_SHIFT;

	if (first)
		first--;

	uint64_t nb = ctx->mask + 1;
	uint64_t from = first, to = last;

	if (last - first + 1 >= nb) {	/* visit every bucket once */
		from = 0;
		to = nb - 1;
	}
	for (uint64_t c = from; c <= to; c++) {
		for (l = ctx->buckets[c & ctx->mask]; l; l = next) {
			next = l->next;
			if (range_overlaps(l->offset, l->end, start, end))
				fn(l, arg);
		}
	}
}

/* ------------------------------------------------------------- memory */

static void
free_push(struct lease_ctx *ctx, struct pml_lease *l)
{
	/*
	 * FIFO, not LIFO: a lease's memory is reused as late as possible, so
	 * a double put right after the last one still finds it FREE.
	 */
	l->next = NULL;
	if (ctx->free_tail)
		ctx->free_tail->next = l;
	else
		ctx->free_head = l;
	ctx->free_tail = l;
}

static struct pml_lease *
free_pop(struct lease_ctx *ctx)
{
	struct pml_lease *l = ctx->free_head;

	if (l) {
		ctx->free_head = l->next;
		if (!ctx->free_head)
			ctx->free_tail = NULL;
	}
	return l;
}

/* slabs in one allocation at most: 256 KiB, 4032 leases */
#define SLAB_BATCH_MAX 64

/* grow the context by a batch of slabs; in its section, rarely */
static int __attribute__((noinline))
ctx_refill(struct lease_ctx *ctx)
{
	unsigned n = ctx->slab_batch ? ctx->slab_batch : 1;
	struct lease_slab *s = aligned_alloc(SLAB_SIZE, n * sizeof(*s));

	if (!s)
		return -ENOMEM;
	memset(s, 0, n * sizeof(*s));
	for (unsigned k = 0; k < n; k++) {
		s[k].ctx = ctx;
		s[k].owns_batch = k == 0;
		for (unsigned i = 0; i < SLAB_LEASES; i++)
			free_push(ctx, &s[k].leases[i]);
		s[k].next = ctx->slabs;
		ctx->slabs = &s[k];
	}
	if (n < SLAB_BATCH_MAX)
		ctx->slab_batch = n * 2;
	if (ctx->nindexed > 2 * (ctx->mask + 1))
		index_grow(ctx);
	return 0;
}

void
ctx_release_hold(struct lease_ctx *ctx, struct pml_lease *l)
{
	if (--l->w.holds == 0 && lease_state(l) == LEASE_FREE)
		free_push(ctx, l);
}

/* ------------------------------------------------------------ the API */

/* leave what pml_lease_get or _put entered: as owner, or through ctx_lock */
static inline void
ctx_done(struct lease_ctx *ctx, bool mine, bool fast)
{
	if (mine)
		ctx_leave(ctx, fast);
	else
		ctx_unlock(ctx);
}

static int __attribute__((cold))
acquire_einval(struct pml_lease **lease, struct pml_region *region,
		uint64_t offset, uint64_t length, unsigned flags)
{
	if (!lease)
		return err_set(EINVAL, "lease out-pointer is NULL");
	if (!region)
		return err_set(EINVAL, "region is NULL");
	if (flags & ~(PML_LEASE_REF | PML_LEASE_NOWAIT))
		return err_set(EINVAL, "unknown lease flags 0x%x", flags);
	if (length == 0)
		return err_set(EINVAL, "lease length is 0");
	return err_set(EINVAL, "lease range offset %" PRIu64 " + length %"
			PRIu64 " overflows", offset, length);
}

/* a free lease made live over [offset, end) and linked; in ctx's section */
static inline struct pml_lease *
lease_init(struct lease_ctx *ctx, struct pml_lease *l, uint64_t offset,
		uint64_t end, unsigned flags, const struct pml_lease_ops *ops,
		void *arg)
{
	l->offset = offset;
	l->end = end;
	l->born_ms = atomic_load_explicit(&lease_clock, memory_order_relaxed);
	l->on_break = ops ? ops->on_break : NULL;
	l->arg = arg;
	union lease_word w = { .refs = 1, .state = LEASE_LIVE,
		.flags = (uint8_t)((flags & PML_LEASE_REF) |
			(end - offset > LEASE_CHUNK ? LEASE_LONG : 0)) };

	/* holds is 0 on the free list: nothing else is in the word */
	__atomic_store_n(&l->w.word, w.word, __ATOMIC_RELAXED);
	index_link(ctx, l);
	return l;
}

/* everything but the common case: contexts to find, barriers, growth */
static int __attribute__((noinline))
acquire_slow(struct pml_lease **lease, struct pml_region *region,
		uint64_t offset, uint64_t end, unsigned flags,
		const struct pml_lease_ops *ops, void *arg)
{
	struct lease_ctx *ctx;
	int ret = ctx_get_slow(&ctx, region);
	bool looked = false, synced = false;
	/* a view whose blocks the state file, asked since, overruled */
	uint64_t stale_gen = UINT64_MAX;

	if (ret)
		return ret;

	for (;;) {
		bool fast = ctx_enter(ctx);

		const struct region_view *v = atomic_load_explicit(
				&region->view, memory_order_acquire);
		uint64_t gen = v->gen;

		if (__builtin_expect(v->state != REGION_OPEN ||
				atomic_load_explicit(&region->revoke,
					memory_order_relaxed), 0)) {
			ctx_leave(ctx, fast);
			if (v->state == REGION_CLOSING)
				return err_set(EBUSY, "region is being closed");
			return err_set(ENODEV, "%s was revoked: its device is "
					"gone or going", region->path);
		}
		/*
		 * Another process changed something our agent has not applied
		 * yet: a barrier raised there must hold here already, and one
		 * dropped there must not hold us here, so ask the state file
		 * itself.  A lease linked after this look is found by the
		 * agent's pass, which the barrier waits for.
		 */
		if (__builtin_expect(atomic_load_explicit(region->state_seq,
				memory_order_acquire) != atomic_load_explicit(
				region->applied_state_seq, memory_order_relaxed),
				0) && !looked) {
			ctx_leave(ctx, fast);
			looked = true;

			int b = shared_blocks(region->shared, offset, end);

			if (b == SHM_CLEAR) {
				stale_gen = gen;
				continue;
			}
			if (b == SHM_PAST_END)
				return err_set(EINVAL, "lease [%" PRIu64 ", %"
					PRIu64 ") lies past the file's end, "
					"cut by another process", offset, end);
			if (flags & PML_LEASE_NOWAIT)
				return err_set(EAGAIN, "[%" PRIu64 ", %" PRIu64
					") is under a barrier or quarantine",
					offset, end);
			view_wait_change(region, gen);
			continue;
		}
		if (end > v->size) {
			uint64_t size = v->size;

			ctx_leave(ctx, fast);
			/* grown by another process, and not applied yet? */
			if (!synced && region_sync(region)) {
				synced = true;
				continue;
			}
			return err_set(EINVAL, "lease [%" PRIu64 ", %" PRIu64
					") lies past the region's end (size %"
					PRIu64 ")", offset, end, size);
		}
		if (__builtin_expect(v->nblocked != 0, 0) &&
				gen != stale_gen && view_blocks(v, offset, end)) {
			ctx_leave(ctx, fast);
			if (flags & PML_LEASE_NOWAIT)
				return err_set(EAGAIN, "[%" PRIu64 ", %" PRIu64
					") is under a barrier or quarantine",
					offset, end);
			view_wait_change(region, gen);
			looked = false;	/* the state may have moved on */
			continue;
		}

		struct pml_lease *l = free_pop(ctx);

		if (__builtin_expect(!l, 0)) {
			if (ctx_refill(ctx)) {
				ctx_leave(ctx, fast);
				return err_set(ENOMEM, "cannot allocate leases");
			}
			l = free_pop(ctx);
		}
		*lease = lease_init(ctx, l, offset, end, flags, ops, arg);
		ctx_leave(ctx, fast);
		return 0;
	}
}

/*
 * The common case in one straight line: this thread's context is the one
 * it used last, its bias is its own, the region is open with nothing
 * blocked, nothing unapplied from other processes, and a free lease is at
 * hand.  Anything else -- and every error -- is acquire_slow's.
 */
int
pml_lease_acquire(struct pml_lease **lease, struct pml_region *region,
		uint64_t offset, uint64_t length, unsigned flags,
		const struct pml_lease_ops *ops, void *arg)
{
	uint64_t end = offset + length;

	if (__builtin_expect(!lease || !region || length == 0 || end < offset ||
			(flags & ~(PML_LEASE_REF | PML_LEASE_NOWAIT)), 0)) {
		if (lease)
			*lease = NULL;
		return acquire_einval(lease, region, offset, length, flags);
	}

	struct lease_ctx *ctx = ctx_cached(region);

	if (__builtin_expect(ctx != NULL, 1) && ctx_try_fast(ctx)) {
		const struct region_view *v = atomic_load_explicit(
				&region->view, memory_order_acquire);

		if (__builtin_expect(v->clear && end <= v->size &&
				ctx->free_head && atomic_load_explicit(
					&region->revoke, memory_order_relaxed) ==
					REVOKE_LIVE &&
				atomic_load_explicit(region->state_seq,
					memory_order_acquire) ==
				atomic_load_explicit(region->applied_state_seq,
					memory_order_relaxed), 1)) {
			*lease = lease_init(ctx, free_pop(ctx), offset, end,
					flags, ops, arg);
			ctx_leave_fast(ctx);
			return 0;
		}
		ctx_leave_fast(ctx);
	}
	*lease = NULL;
	return acquire_slow(lease, region, offset, end, flags, ops, arg);
}

/* is the lease's region revoked?  Then its calls say so (revoke.c) */
static inline bool
lease_gone(const struct pml_lease *lease)
{
	return atomic_load_explicit(&lease_ctx(lease)->region->revoke,
			memory_order_relaxed) == REVOKE_REVOKED;
}

static int __attribute__((cold))
lease_enodev(void)
{
	return err_set(ENODEV, "the lease's region was revoked: its device "
			"is gone or going");
}

void *
pml_lease_addr(const struct pml_lease *lease)
{
	if (!lease || lease_state(lease) == LEASE_FREE) {
		err_set(EINVAL, lease ? "lease was released" : "lease is NULL");
		return NULL;
	}
	if (lease_gone(lease)) {
		lease_enodev();
		return NULL;
	}
	return lease_ctx(lease)->region->base + lease->offset;
}

uint64_t
pml_lease_offset(const struct pml_lease *lease)
{
	if (!lease || lease_state(lease) == LEASE_FREE) {
		err_set(EINVAL, lease ? "lease was released" : "lease is NULL");
		return 0;
	}
	if (lease_gone(lease)) {
		lease_enodev();
		return 0;
	}
	return lease->offset;
}

uint64_t
pml_lease_length(const struct pml_lease *lease)
{
	if (!lease || lease_state(lease) == LEASE_FREE) {
		err_set(EINVAL, lease ? "lease was released" : "lease is NULL");
		return 0;
	}
	if (lease_gone(lease)) {
		lease_enodev();
		return 0;
	}
	return lease->end - lease->offset;
}

int
pml_lease_revoked(const struct pml_lease *lease)
{
	if (!lease)
		return err_set(EINVAL, "lease is NULL");
	/* the one call that answers for a revoked region's lease: yes */
	if (lease_state(lease) != LEASE_FREE && lease_gone(lease))
		return 1;
	switch (lease_state(lease)) {
	case LEASE_LIVE:
		return 0;
	case LEASE_REVOKED:
		return 1;
	default:
		return err_set(EINVAL, "lease was released");
	}
}

int
pml_lease_get(struct pml_lease *lease)
{
	if (!lease)
		return err_set(EINVAL, "lease is NULL");

	struct lease_ctx *ctx = lease_ctx(lease);
	int ret = 0;

	if (lease_gone(lease))
		return lease_enodev();

	bool mine = ctx_is_mine(ctx), fast = mine && ctx_enter(ctx);

	if (!mine)
		ctx_lock(ctx);
	switch (lease_state(lease)) {
	case LEASE_LIVE:
		if (lease->w.refs == UINT32_MAX)
			ret = -EOVERFLOW;
		else
			lease->w.refs++;
		break;
	case LEASE_REVOKED:
		ret = -ESTALE;
		break;
	default:
		ret = -EINVAL;
	}
	ctx_done(ctx, mine, fast);

	if (ret == -ESTALE)
		return err_set(ESTALE, "lease was revoked: it takes no new "
				"holders");
	if (ret == -EOVERFLOW)
		return err_set(EOVERFLOW, "too many holders on one lease");
	if (ret)
		return err_set(EINVAL, "lease was released");
	return 0;
}

/* every put but an owner's last put of a plain live lease */
static int __attribute__((noinline))
put_slow(struct pml_lease *lease)
{
	struct lease_ctx *ctx = lease_ctx(lease);
	bool mine = ctx_is_mine(ctx), fast = mine && ctx_enter(ctx);

	if (!mine)
		ctx_lock(ctx);

	uint8_t state = lease_state(lease);

	if (state == LEASE_FREE || lease->w.refs == 0) {
		ctx_done(ctx, mine, fast);
		return err_set(EINVAL, "put of a lease already released "
				"(more puts than acquire + gets)");
	}
	if (--lease->w.refs) {
		ctx_done(ctx, mine, fast);
		return 0;
	}

	bool awaited = lease->w.flags & LEASE_AWAITED;
	bool revoked = state == LEASE_REVOKED;
	bool drained = false;
	struct pml_region *region = ctx->region;

	index_unlink(ctx, lease);
	lease_set_state(lease, LEASE_FREE);
	if (awaited) {
		lease->w.flags &= (uint8_t)~LEASE_AWAITED;
		/* counted under this lock, so the barrier's count is exact */
		drained = atomic_fetch_sub(&region->shared->pending, 1) == 1;
	}
	if (lease->w.holds == 0)
		free_push(ctx, lease);
	ctx_done(ctx, mine, fast);

	if (__builtin_expect(drained || revoked, 0))
		lease_slow_put(region, lease, drained, revoked);
	/* let go all the same: it is how a holder says it is done */
	if (__builtin_expect(lease_gone(lease), 0))
		return lease_enodev();
	return 0;
}

/*
 * The common case: the owner's last put of a live lease that no barrier
 * waits for and the library holds no reference to.  Anything else -- and
 * every error -- is put_slow's.
 */
int
pml_lease_put(struct pml_lease *lease)
{
	if (__builtin_expect(!lease, 0))
		return err_set(EINVAL, "lease is NULL");

	struct lease_ctx *ctx = lease_ctx(lease);

	if (__builtin_expect(ctx_is_mine(ctx), 1) && ctx_try_fast(ctx)) {
		union lease_word w = { .word = __atomic_load_n(&lease->w.word,
				__ATOMIC_RELAXED) };

		if (__builtin_expect(w.refs == 1 && w.holds == 0 &&
				w.state == LEASE_LIVE &&
				!(w.flags & LEASE_AWAITED), 1)) {
			index_unlink(ctx, lease);
			w.refs = 0;
			w.state = LEASE_FREE;
			__atomic_store_n(&lease->w.word, w.word,
					__ATOMIC_RELAXED);
			free_push(ctx, lease);
			ctx_leave_fast(ctx);
			return 0;
		}
		ctx_leave_fast(ctx);
	}
	return put_slow(lease);
}

/*
 * lease_slow_put -- the part of a last put that concerns other parties:
 * report "drained" to the barrier owner -- in whatever process it runs --
 * when this was the last lease it waited for here, so it proceeds at once;
 * or release the quarantine a revoked lease kept, and lift it if nobody
 * else is changing the layout.  The lease's memory is still held by its
 * quarantine entries until quarantine_release, so it cannot be reused
 * meanwhile.
 */
void
lease_slow_put(struct pml_region *r, struct pml_lease *l, bool drained,
		bool revoked)
{
	struct shared_file *sf = r->shared;

	if (drained) {
		uint64_t seq = atomic_load(&sf->serving_seq);

		if (seq) {
			shm_report(&sf->h->slots[sf->slot].drained_seq, seq);
			shm_wake_owner(sf);
		}
	}
	if (revoked) {
		quarantine_release(r, l);
		/* a revoked region's mapping is not the file's: others lift */
		if (atomic_load(&r->revoke) == REVOKE_LIVE &&
				shared_lift(sf, r))
			agent_pass(sf, NULL);
	}
}
