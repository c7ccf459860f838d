/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lease.c -- acquire, get and put: the fast path.
 *
 * With no barrier raised, an acquire is: find the calling thread's lease
 * context (a thread-local cache hit), take its spinlock, read the region's
 * view, pop a lease from the context's free list, link it into the
 * context's index, unlock.  A put is: take the owning context's spinlock,
 * drop the refcount, unlink, push the lease back, unlock.  No system call,
 * no allocation once the context has grown to its working set, and nothing
 * written outside the thread's own context and the lease's own line.
 * Why that is enough against a concurrent barrier is told in region.h.
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

/* ---------------------------------------------- the thread's contexts */

/*
 * A thread caches its context per region.  The cache is trusted only while
 * no region anywhere has been closed since the entry was made: a closed
 * region's memory may be reused by a new one at the same address.  Closes
 * are rare, so the check is one load of a read-mostly global.
 */
#define TLS_SLOTS 4

struct tls_slot {
	struct pml_region *region;
	uint64_t region_id;
	uint64_t epoch;
	struct lease_ctx *ctx;
};

static __thread struct tls_slot tls_slots[TLS_SLOTS];
static __thread unsigned tls_next_slot;
static __thread uint64_t tls_serial;

static atomic_uint_fast64_t thread_serials;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

/*
 * On thread exit, give the thread's contexts up for adoption, so a program
 * that churns threads reuses them (and their memory) instead of growing a
 * context per thread ever created.  Leases still live in them stay valid:
 * puts take the context's lock, whoever owns it.
 */
static void
thread_exit(void *unused)
{
	for (unsigned i = 0; i < TLS_SLOTS; i++) {
		struct tls_slot *s = &tls_slots[i];

		if (!s->region)
			continue;
		/* only a region still open, and the same one, is touched */
		if (region_find(s->region) == 0) {
			struct pml_region *r = s->region;

			region_lock(r);
			if (r->id == s->region_id && s->ctx->owner == tls_serial)
				s->ctx->owner = 0;
			region_unlock(r);
		}
		s->region = NULL;
	}
}

static void
exit_key_create(void)
{
	(void) pthread_key_create(&exit_key, thread_exit);
}

static void
ctx_free(struct lease_ctx *ctx)
{
	while (ctx->slabs) {
		struct lease_slab *s = ctx->slabs;

		ctx->slabs = s->next;
		free(s);
	}
	free(ctx->buckets);
	free(ctx);
}

void
lease_ctxs_free(struct pml_region *r)
{
	while (r->ctxs) {
		struct lease_ctx *ctx = r->ctxs;

		r->ctxs = ctx->next;
		ctx_free(ctx);
	}
}

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

/* find, adopt or create this thread's context; region->mutex held */
static int
ctx_find_locked(struct lease_ctx **out, struct pml_region *r)
{
	struct lease_ctx *orphan = NULL;

	for (struct lease_ctx *c = r->ctxs; c; c = c->next) {
		if (c->owner == tls_serial) {
			*out = c;
			return 0;
		}
		if (c->owner == 0 && !orphan)
			orphan = c;
	}
	if (orphan) {
		orphan->owner = tls_serial;
		orphan->tid = gettid();
		*out = orphan;
		return 0;
	}

	size_t bytes = (sizeof(struct lease_ctx) + CACHELINE - 1) / CACHELINE *
		CACHELINE;
	struct lease_ctx *c = aligned_alloc(CACHELINE, bytes);

	if (!c)
		return err_set(ENOMEM, "cannot allocate a lease context");
	memset(c, 0, sizeof(*c));
	c->buckets = buckets_alloc(16);
	if (!c->buckets) {
		free(c);
		return err_set(ENOMEM, "cannot allocate a lease index");
	}
	spin_init(&c->lock);
	c->mask = 15;
	c->owner = tls_serial;
	c->tid = gettid();
	c->region = r;
	c->next = r->ctxs;
	r->ctxs = c;
	*out = c;
	return 0;
}

static int __attribute__((noinline))
ctx_get_slow(struct lease_ctx **out, struct pml_region *r)
{
	int ret = region_validate(r);

	if (ret)
		return ret;
	if (!tls_serial) {
		tls_serial = atomic_fetch_add(&thread_serials, 1) + 1;
		pthread_once(&exit_key_once, exit_key_create);
		/* any non-NULL value arms the destructor */
		(void) pthread_setspecific(exit_key, tls_slots);
	}

	region_lock(r);
	ret = ctx_find_locked(out, r);
	region_unlock(r);
	if (ret)
		return ret;

	struct tls_slot *s = &tls_slots[tls_next_slot++ % TLS_SLOTS];

	s->region = r;
	s->region_id = r->id;
	s->epoch = region_close_epoch();
	s->ctx = *out;
	return 0;
}

static inline int
ctx_get(struct lease_ctx **out, struct pml_region *r)
{
	uint64_t epoch = region_close_epoch();

	for (unsigned i = 0; i < TLS_SLOTS; i++) {
		if (tls_slots[i].region == r && tls_slots[i].epoch == epoch) {
			*out = tls_slots[i].ctx;
			return 0;
		}
	}
	return ctx_get_slow(out, r);
}

/* ------------------------------------------------------------ the index */

static inline struct pml_lease **
index_head(struct lease_ctx *ctx, const struct pml_lease *l)
{
	if (l->flags & LEASE_LONG)
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

/* grow the context by one slab; called under ctx->lock, rarely */
static int __attribute__((noinline))
ctx_refill(struct lease_ctx *ctx)
{
	struct lease_slab *s = aligned_alloc(SLAB_SIZE, sizeof(*s));

	if (!s)
		return -ENOMEM;
	memset(s, 0, sizeof(*s));
	s->ctx = ctx;
	for (unsigned i = 0; i < SLAB_LEASES; i++)
		free_push(ctx, &s->leases[i]);
	s->next = ctx->slabs;
	ctx->slabs = s;
	if (ctx->nindexed > 2 * (ctx->mask + 1))
		index_grow(ctx);
	return 0;
}

void
ctx_release_hold(struct lease_ctx *ctx, struct pml_lease *l)
{
	if (--l->holds == 0 && lease_state(l) == LEASE_FREE)
		free_push(ctx, l);
}

/* ------------------------------------------------------------ the API */

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

int
pml_lease_acquire(struct pml_lease **lease, struct pml_region *region,
		uint64_t offset, uint64_t length, unsigned flags,
		const struct pml_lease_ops *ops, void *arg)
{
	uint64_t end = offset + length;

	if (!lease || !region || length == 0 || end < offset ||
			(flags & ~(PML_LEASE_REF | PML_LEASE_NOWAIT))) {
		if (lease)
			*lease = NULL;
		return acquire_einval(lease, region, offset, length, flags);
	}
	*lease = NULL;

	struct lease_ctx *ctx;
	int ret = ctx_get(&ctx, region);
	bool looked = false, synced = false;
	/* a view whose blocks the state file, asked since, overruled */
	uint64_t stale_gen = UINT64_MAX;

	if (ret)
		return ret;

	for (;;) {
		spin_lock(&ctx->lock);

		const struct region_view *v = atomic_load_explicit(
				&region->view, memory_order_acquire);
		uint64_t gen = v->gen;

		if (__builtin_expect(v->state != REGION_OPEN ||
				atomic_load_explicit(&region->revoke,
					memory_order_relaxed), 0)) {
			spin_unlock(&ctx->lock);
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
			spin_unlock(&ctx->lock);
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

			spin_unlock(&ctx->lock);
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
			spin_unlock(&ctx->lock);
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
				spin_unlock(&ctx->lock);
				return err_set(ENOMEM, "cannot allocate leases");
			}
			l = free_pop(ctx);
		}
		l->offset = offset;
		l->end = end;
		l->born_ms = atomic_load_explicit(&lease_clock,
				memory_order_relaxed);
		l->on_break = ops ? ops->on_break : NULL;
		l->arg = arg;
		l->refs = 1;
		l->flags = (uint8_t)(flags & PML_LEASE_REF);
		if (length > LEASE_CHUNK)
			l->flags |= LEASE_LONG;
		lease_set_state(l, LEASE_LIVE);
		index_link(ctx, l);
		spin_unlock(&ctx->lock);
		*lease = l;
		return 0;
	}
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
	spin_lock(&ctx->lock);
	switch (lease_state(lease)) {
	case LEASE_LIVE:
		if (lease->refs == UINT32_MAX)
			ret = -EOVERFLOW;
		else
			lease->refs++;
		break;
	case LEASE_REVOKED:
		ret = -ESTALE;
		break;
	default:
		ret = -EINVAL;
	}
	spin_unlock(&ctx->lock);

	if (ret == -ESTALE)
		return err_set(ESTALE, "lease was revoked: it takes no new "
				"holders");
	if (ret == -EOVERFLOW)
		return err_set(EOVERFLOW, "too many holders on one lease");
	if (ret)
		return err_set(EINVAL, "lease was released");
	return 0;
}

int
pml_lease_put(struct pml_lease *lease)
{
	if (!lease)
		return err_set(EINVAL, "lease is NULL");

	struct lease_ctx *ctx = lease_ctx(lease);

	spin_lock(&ctx->lock);

	uint8_t state = lease_state(lease);

	if (state == LEASE_FREE || lease->refs == 0) {
		spin_unlock(&ctx->lock);
		return err_set(EINVAL, "put of a lease already released "
				"(more puts than acquire + gets)");
	}
	if (--lease->refs) {
		spin_unlock(&ctx->lock);
		return 0;
	}

	bool awaited = lease->flags & LEASE_AWAITED;
	bool revoked = state == LEASE_REVOKED;
	bool drained = false;
	struct pml_region *region = ctx->region;

	index_unlink(ctx, lease);
	lease_set_state(lease, LEASE_FREE);
	if (awaited) {
		lease->flags &= (uint8_t)~LEASE_AWAITED;
		/* counted under this lock, so the barrier's count is exact */
		drained = atomic_fetch_sub(&region->shared->pending, 1) == 1;
	}
	if (lease->holds == 0)
		free_push(ctx, lease);
	spin_unlock(&ctx->lock);

	if (__builtin_expect(drained || revoked, 0))
		lease_slow_put(region, lease, drained, revoked);
	/* let go all the same: it is how a holder says it is done */
	if (__builtin_expect(lease_gone(lease), 0))
		return lease_enodev();
	return 0;
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
