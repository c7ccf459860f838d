/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * context.c -- the per-thread lease contexts, and the bias that lets their
 * owners work on them without a single atomic read-modify-write.
 *
 * A context is written almost only by the thread that owns it: acquires,
 * and puts of the leases it acquired.  Everybody else -- a put from another
 * thread, a barrier scanning for leases, a view's grace pass, the tools --
 * comes rarely.  So the context is *biased* to its owner, in the manner of
 * BRAVO (Dice and Kogan, USENIX ATC 2019) and userspace RCU's membarrier
 * flavour:
 *
 *  - the owner enters a fast section with a plain store to ctx->active,
 *    a compiler barrier, and a load of ctx->bias; while the bias is its own
 *    it works without the spinlock, and leaves with a release store;
 *
 *  - anyone else takes the spinlock, and if the context is biased, revokes
 *    the bias: it stores BIAS_REVOKING, issues membarrier(2)
 *    (MEMBARRIER_CMD_PRIVATE_EXPEDITED: a full fence on every running
 *    thread of the process), then waits until ctx->active is 0.  The
 *    membarrier is the fence the owner did not execute: after it, either
 *    the revoker sees the owner's active store, and waits for the section
 *    to end, or the owner's load sees the revocation and it takes the
 *    spinlock instead.  Dekker's argument, with one side's fence paid by
 *    the rare party.
 *
 *  - A revoked context stays on the spinlock (plain BIAS_NONE) for a while
 *    -- BRAVO's inhibition -- so that a context which keeps being visited
 *    from outside (a completion thread putting another thread's leases)
 *    costs the membarrier at most once a millisecond, not once a put.  The
 *    owner re-biases from its locked path once that time has passed.
 *
 * The rule every other file relies on: *a party holding the spinlock of a
 * context whose bias is BIAS_NONE has that context to itself*.  ctx_lock()
 * establishes it; only the owner, holding the spinlock, ever sets the bias
 * back.  Where membarrier is not available, no context is ever biased and
 * every path takes the spinlock, as one would expect.
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "lease.h"
#include "region.h"

/* ------------------------------------------------------------- the bias */

/* a revoked context stays unbiased at least this long (BRAVO's N x cost) */
#define BIAS_INHIBIT_MIN_NS	1000000ULL
#define BIAS_INHIBIT_FACTOR	20

static bool bias_ok;
static pthread_once_t bias_once = PTHREAD_ONCE_INIT;

static long
membarrier(int cmd)
{
	return syscall(__NR_membarrier, cmd, 0, 0);
}

static void
bias_init(void)
{
	long cmds = membarrier(MEMBARRIER_CMD_QUERY);

	if (getenv("PMEMLEASE_NO_BIAS"))
		return;
	if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		return;
	bias_ok = membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
}

/*
 * A fence on every thread of the process.  Registration was done before any
 * context was biased; a process forked from it must register again.  If even
 * the global command fails, no ordering can be had, and going on would let
 * a barrier miss a lease: stop, loudly.
 */
static void
membarrier_all(void)
{
	if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0)
		return;
	if (errno == EPERM && membarrier(
			MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0 &&
			membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0)
		return;
	if (membarrier(MEMBARRIER_CMD_GLOBAL) == 0)
		return;
	fprintf(stderr, "pmemlease: membarrier failed (%s): cannot order a "
			"biased lease context\n", strerror(errno));
	abort();
}

static uint64_t
coarse_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static void
wait_idle(struct lease_ctx *c)
{
	for (unsigned spins = 0; atomic_load_explicit(&c->active,
			memory_order_acquire); spins++) {
		if (spins < 128)
			cpu_relax();
		else
			sched_yield();	/* the owner may be preempted */
	}
}

/* the revocation is over: inhibit re-biasing for a multiple of its cost */
static void
inhibit(struct lease_ctx *c, uint64_t t0)
{
	uint64_t t1 = coarse_ns(), cost = (t1 - t0) * BIAS_INHIBIT_FACTOR;

	c->rebias_ns = t1 + (cost > BIAS_INHIBIT_MIN_NS ? cost :
			BIAS_INHIBIT_MIN_NS);
	atomic_store_explicit(&c->bias, BIAS_NONE, memory_order_relaxed);
}

void
ctx_lock(struct lease_ctx *c)
{
	spin_lock(&c->lock);
	/* the owner is not in a fast section while it calls us */
	if (__builtin_expect(atomic_load_explicit(&c->bias,
			memory_order_relaxed) == BIAS_NONE, 1) || ctx_is_mine(c))
		return;

	uint64_t t0 = coarse_ns();

	atomic_store_explicit(&c->bias, BIAS_REVOKING, memory_order_relaxed);
	membarrier_all();
	wait_idle(c);
	inhibit(c, t0);
}

void
ctxs_unbias(struct pml_region *r)
{
	bool any = false;
	uint64_t t0 = coarse_ns();

	for (struct lease_ctx *c = r->ctxs; c; c = c->next) {
		spin_lock(&c->lock);
		if (atomic_load_explicit(&c->bias, memory_order_relaxed) ==
				BIAS_OWNER) {
			atomic_store_explicit(&c->bias, BIAS_REVOKING,
					memory_order_relaxed);
			any = true;
		}
		spin_unlock(&c->lock);
	}
	if (!any)
		return;
	/* one fence for all: this is why a pass over contexts starts here */
	membarrier_all();
	for (struct lease_ctx *c = r->ctxs; c; c = c->next) {
		spin_lock(&c->lock);
		if (atomic_load_explicit(&c->bias, memory_order_relaxed) ==
				BIAS_REVOKING) {
			wait_idle(c);
			inhibit(c, t0);
		}
		spin_unlock(&c->lock);
	}
}

void
ctx_unlock_owner(struct lease_ctx *c)
{
	if (bias_ok && atomic_load_explicit(&c->bias, memory_order_relaxed) ==
			BIAS_NONE && ctx_is_mine(c) &&
			coarse_ns() >= c->rebias_ns)
		atomic_store_explicit(&c->bias, BIAS_OWNER,
				memory_order_release);
	spin_unlock(&c->lock);
}

/* ---------------------------------------------- the thread's contexts */

/*
 * A thread caches its context per region.  The cache is trusted only while
 * no region anywhere has been closed since the entry was made: a closed
 * region's memory may be reused by a new one at the same address.  Closes
 * are rare, so the check is one load of a read-mostly global.
 */
PML_TLS struct tls_slot lease_tls_slots[TLS_SLOTS];
PML_TLS uint64_t lease_tls_serial;

static atomic_uint_fast64_t thread_serials;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

/*
 * On thread exit, give the thread's contexts up for adoption, so a program
 * that churns threads reuses them (and their memory) instead of growing a
 * context per thread ever created.  Leases still live in them stay valid:
 * puts take the context's lock, whoever owns it.  An orphan is unbiased:
 * nobody will run a fast section on it.
 */
static void
thread_exit(void *unused)
{
	(void) unused;
	for (unsigned i = 0; i < TLS_SLOTS; i++) {
		struct tls_slot *s = &lease_tls_slots[i];

		if (!s->region)
			continue;
		/*
		 * Only a region still open, and the same one, is touched --
		 * pinned, so that a close in another thread waits for us
		 * before it frees the contexts (found open, then freed under
		 * us, was a use after free).
		 */
		if (region_pin(s->region) == 0) {
			struct pml_region *r = s->region;

			region_lock(r);
			if (r->id == s->region_id && ctx_is_mine(s->ctx)) {
				spin_lock(&s->ctx->lock);
				atomic_store_explicit(&s->ctx->bias, BIAS_NONE,
						memory_order_relaxed);
				atomic_store_explicit(&s->ctx->owner, 0,
						memory_order_relaxed);
				spin_unlock(&s->ctx->lock);
			}
			region_unlock(r);
			region_unpin(r);
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
	/* a batch's first slab comes after its others on the list */
	while (ctx->slabs) {
		struct lease_slab *s = ctx->slabs;

		ctx->slabs = s->next;
		if (s->owns_batch)
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

/* take over c for this thread; c is new, or an orphan; region->mutex held */
static void
ctx_adopt(struct lease_ctx *c)
{
	spin_lock(&c->lock);
	c->tid = gettid();
	c->rebias_ns = 0;
	atomic_store_explicit(&c->owner, lease_tls_serial,
			memory_order_relaxed);
	if (bias_ok)
		atomic_store_explicit(&c->bias, BIAS_OWNER,
				memory_order_release);
	spin_unlock(&c->lock);
}

/* find, adopt or create this thread's context; region->mutex held */
static int
ctx_find_locked(struct lease_ctx **out, struct pml_region *r)
{
	struct lease_ctx *orphan = NULL;

	for (struct lease_ctx *c = r->ctxs; c; c = c->next) {
		uint64_t owner = atomic_load_explicit(&c->owner,
				memory_order_relaxed);

		if (owner == lease_tls_serial) {
			*out = c;
			return 0;
		}
		if (owner == 0 && !orphan)
			orphan = c;
	}
	if (orphan) {
		ctx_adopt(orphan);
		*out = orphan;
		return 0;
	}

	size_t bytes = (sizeof(struct lease_ctx) + CACHELINE - 1) / CACHELINE *
		CACHELINE;
	struct lease_ctx *c = aligned_alloc(CACHELINE, bytes);

	if (!c)
		return err_set(ENOMEM, "cannot allocate a lease context");
	memset(c, 0, sizeof(*c));
	if (index_init(c)) {
		free(c);
		return err_set(ENOMEM, "cannot allocate a lease index");
	}
	spin_init(&c->lock);
	c->region = r;
	ctx_adopt(c);
	c->next = r->ctxs;
	r->ctxs = c;
	*out = c;
	return 0;
}

/* this thread's context on r, made the first slot of its cache */
int
ctx_get_slow(struct lease_ctx **out, struct pml_region *r)
{
	uint64_t epoch = region_close_epoch();
	struct tls_slot hit = { 0 };
	unsigned i;

	for (i = 0; i < TLS_SLOTS; i++) {
		if (lease_tls_slots[i].region == r &&
				lease_tls_slots[i].epoch == epoch) {
			hit = lease_tls_slots[i];
			break;
		}
	}
	if (!hit.region) {
		int ret = region_validate(r);

		if (ret)
			return ret;
		if (!lease_tls_serial) {
			lease_tls_serial = atomic_fetch_add(&thread_serials,
					1) + 1;
			pthread_once(&exit_key_once, exit_key_create);
			pthread_once(&bias_once, bias_init);
			/* any non-NULL value arms the destructor */
			(void) pthread_setspecific(exit_key, lease_tls_slots);
		}
		region_lock(r);
		ret = ctx_find_locked(&hit.ctx, r);
		region_unlock(r);
		if (ret)
			return ret;
		hit.region = r;
		hit.region_id = r->id;
		hit.epoch = epoch;
		i = TLS_SLOTS - 1;	/* the least recently used goes */
	}
	/* most recently used first: ctx_cached looks at slot 0 only */
	memmove(&lease_tls_slots[1], &lease_tls_slots[0],
			i * sizeof(lease_tls_slots[0]));
	lease_tls_slots[0] = hit;
	*out = hit.ctx;
	return 0;
}
