/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * revoke.c -- taking a region away for good: a device being removed, one
 * that went away unannounced, or an application that says so.
 *
 * Seed 001's order, in user space: tell the holders first, flush while the
 * device is still there, wait a grace period for them to let go, then tear
 * the mapping down so that nothing touches a dead device.  What is still
 * held after the grace is revoked like a barrier revokes: its blocks are
 * quarantined in the file's shared state until the put, because on a
 * device that stays (an application's revoke, a removal that was only
 * prepared) a DMA engine may still be writing into them.
 *
 * Tearing down means replacing the mapping with anonymous memory at the
 * same addresses, not unmapping: a pointer a holder kept stays valid, and
 * a late CPU access lands in memory of its own instead of faulting or
 * reaching a device that may be gone or given to someone else.
 *
 * r->revoke moves forward only: LIVE, DYING (a fault handler found the
 * device gone and replaced the mapping already), REVOKING, REVOKED.
 * Anything but LIVE refuses new leases (the acquire reads it beside the
 * view) and every call on the region but close.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "err.h"
#include "lease.h"
#include "region.h"
#include "shared.h"

/* replace the whole reservation with anonymous memory; signal-safe */
int
revoke_replace_mapping(char *base, uint64_t len)
{
	void *p = mmap(base, len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
			-1, 0);

	return p == MAP_FAILED ? -1 : 0;
}

/* collect the leases that have someone to tell; ctx->lock held */
static void
collect_breaks(struct pml_lease *l, void *arg)
{
	struct lease_list *ls = arg;

	if (lease_state(l) == LEASE_FREE || !l->on_break)
		return;
	lease_list_push(ls, l);
	if (!ls->oom)
		l->w.holds++;	/* its memory stays ours for the call */
}

/*
 * revoke_held -- after the grace: every lease still held becomes revoked,
 * and unless the device is gone, its blocks are quarantined until the put.
 * A barrier that waits for such a lease stops waiting: its blocks are kept
 * by the quarantine instead, exactly as when a barrier revokes.
 */
static void
revoke_held(struct pml_region *r, bool gone)
{
	struct shared_file *sf = r->shared;
	struct lease_list ls = { 0 };
	bool drained = false;

	region_lock(r);
	ctxs_unbias(r);
	for (struct lease_ctx *c = r->ctxs; c; c = c->next) {
		struct pml_lease *l, *next;

		ctx_lock(c);
		/* every lease, with or without on_break: the whole index */
		for (uint64_t b = 0; b <= c->mask; b++) {
			for (l = c->buckets[b]; l; l = next) {
				next = l->next;
				lease_list_push(&ls, l);
				if (!ls.oom)
					l->w.holds++;
			}
		}
		for (l = c->long_head; l; l = next) {
			next = l->next;
			lease_list_push(&ls, l);
			if (!ls.oom)
				l->w.holds++;
		}
		ctx_unlock(c);
	}
	region_unlock(r);

	for (size_t i = 0; i < ls.n; i++) {
		struct pml_lease *l = ls.v[i];
		struct lease_ctx *c = lease_ctx(l);
		bool quarantine = false;

		ctx_lock(c);
		if (lease_state(l) == LEASE_LIVE) {
			lease_set_state(l, LEASE_REVOKED);
			quarantine = !gone;
		}
		if (l->w.flags & LEASE_AWAITED) {
			l->w.flags &= (uint8_t)~LEASE_AWAITED;
			drained |= atomic_fetch_sub(&sf->pending, 1) == 1;
		}
		ctx_unlock(c);

		if (quarantine) {
			uint64_t a = r->alignment;
			uint64_t start = l->offset / a * a;
			uint64_t end = l->end > UINT64_MAX - a + 1 ?
				UINT64_MAX / a * a : (l->end + a - 1) / a * a;

			/* the entry holds the lease's memory until the put */
			if (quarantine_add(sf, start, end, l) == 0) {
				ctx_lock(c);
				l->w.holds++;
				ctx_unlock(c);
			}
		}
		ctx_lock(c);
		ctx_release_hold(c, l);
		ctx_unlock(c);
	}
	free(ls.v);

	if (drained)	/* the barrier waited for these: it may go on */
		lease_slow_put(r, NULL, true, false);
}

/* call on_break(reason) of every lease that has one, no lock held */
static void
tell_holders(struct pml_region *r, enum pml_break_reason reason)
{
	struct lease_list ls = { 0 };

	region_lock(r);
	ctxs_unbias(r);
	for (struct lease_ctx *c = r->ctxs; c; c = c->next) {
		ctx_lock(c);
		ctx_for_each_overlap(c, 0, UINT64_MAX, collect_breaks, &ls);
		ctx_unlock(c);
	}
	region_unlock(r);
	lease_list_call(&ls, reason);
	free(ls.v);
}

/* wait until no lease of r is held, or grace_ms passed */
static void
wait_puts(struct pml_region *r, uint32_t grace_ms)
{
	struct timespec deadline = deadline_after(grace_ms);

	/* puts do not signal the region: look every few milliseconds */
	for (;;) {
		region_lock(r);

		bool held = region_has_leases(r);

		region_unlock(r);
		if (!held)
			return;
		struct timespec now, nap = { 0, 2000000L };

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > deadline.tv_sec || (now.tv_sec ==
				deadline.tv_sec && now.tv_nsec >=
				deadline.tv_nsec))
			return;
		nanosleep(&nap, NULL);
	}
}

/*
 * region_revoke -- the steps of pml_region_revoke (see the header).  gone:
 * the device is gone, nothing to flush or quarantine.  Returns -ENODEV if
 * somebody else revokes or revoked the region already.
 */
int
region_revoke(struct pml_region *r, enum pml_break_reason reason,
		uint32_t grace_ms, bool gone)
{
	int from = REVOKE_LIVE;

	if (!atomic_compare_exchange_strong(&r->revoke, &from,
			REVOKE_REVOKING)) {
		from = REVOKE_DYING;	/* a fault handler found it dead */
		if (!atomic_compare_exchange_strong(&r->revoke, &from,
				REVOKE_REVOKING))
			return err_set(ENODEV, "%s was revoked already",
					r->path);
		gone = true;
	}

	/* 1: no new lease, here or from a pass that follows another process */
	region_lock(r);
	r->state = REGION_REVOKED;
	view_publish(r);
	region_unlock(r);

	/* 2: what the device holds is made durable while it is there */
	uint64_t size = atomic_load(&r->size);

	if (!gone && size && r->persist)
		r->persist(r->base, size);

	/* 3, 4: holders first; then a grace period for their puts */
	tell_holders(r, reason);
	if (grace_ms)
		wait_puts(r, grace_ms);

	/* 5: what is still held is revoked and its blocks kept */
	revoke_held(r, gone);

	/*
	 * 6: a layout change in progress (its barrier no longer waits for
	 * our leases) ends first: it works on the mapping we replace.
	 */
	region_layout_begin(r);
	region_unlock(r);
	if (revoke_replace_mapping(r->base, r->max_size))
		err_set(errno, "cannot replace the mapping of %s: %m", r->path);
	atomic_store(&r->revoke, REVOKE_REVOKED);
	region_layout_end(r);
	return 0;
}

int
pml_region_revoke(struct pml_region *region, enum pml_break_reason reason,
		uint32_t grace_ms)
{
	int ret = region_find(region);

	if (ret)
		return ret;
	if (reason != PML_BREAK_REMOVE && reason != PML_BREAK_POISON &&
			reason != PML_BREAK_REVOKED)
		return err_set(EINVAL, "revoke reason %d is not one of "
				"PML_BREAK_REMOVE, PML_BREAK_POISON, "
				"PML_BREAK_REVOKED", (int)reason);
	return region_revoke(region, reason, grace_ms, false);
}

int
pml_region_revoked(const struct pml_region *region)
{
	int ret = region_find(region);

	if (ret)
		return ret;
	return atomic_load(&region->revoke) != REVOKE_LIVE;
}
