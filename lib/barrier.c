/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * barrier.c -- punch and truncate through the lease-drain barrier.
 *
 * The recipe is seed 002's, moved to user space: lock the range against
 * new users, drain the users in flight, write back, invalidate, change the
 * layout, and only then let users in again.  The kernel cannot do this for
 * long-term DMA pins on DAX, because the DMA target *is* the filesystem
 * block (seed 000); so every layout change of a region comes here.
 *
 * Cost: raising a barrier is one view publish (a pass over the thread
 * contexts); finding the leases to wait for visits, in each context, the
 * hash chains of the chunks the range touches -- not the other leases of
 * the region; waiting costs nothing until the last overlapping put wakes
 * us, the put that drops region->barrier_pending to zero.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

#include "err.h"
#include "lease.h"
#include "region.h"

struct lease_list {
	struct pml_lease **v;
	size_t n;
	size_t cap;
	bool oom;
};

static void
list_push(struct lease_list *ls, struct pml_lease *l)
{
	if (ls->n == ls->cap) {
		size_t cap = ls->cap ? ls->cap * 2 : 16;
		struct pml_lease **v = realloc(ls->v, cap * sizeof(*v));

		if (!v) {
			ls->oom = true;
			return;
		}
		ls->v = v;
		ls->cap = cap;
	}
	ls->v[ls->n++] = l;
}

struct scan {
	struct pml_region *r;
	struct range range;
	struct lease_list *list;
};

/* the part of l's range inside the barrier, rounded out to whole blocks */
static struct range
lease_blocks(const struct scan *s, const struct pml_lease *l)
{
	uint64_t a = s->r->alignment;
	uint64_t start = l->offset / a * a;
	uint64_t end = l->end > UINT64_MAX - a + 1 ?
		UINT64_MAX / a * a : (l->end + a - 1) / a * a;

	if (start < s->range.start)
		start = s->range.start;
	if (end > s->range.end)
		end = s->range.end;
	return (struct range){ start, end };
}

/*
 * mark -- count a lease the barrier must wait for, and collect the PINs to
 * break.  A revoked lease is waited for too unless its blocks here are
 * quarantined already: a revoked lease still covers its blocks.
 * Under region->mutex and the lease's context lock.
 */
static void
mark(struct pml_lease *l, void *arg)
{
	struct scan *s = arg;

	if (lease_state(l) == LEASE_REVOKED) {
		struct range b = lease_blocks(s, l);

		if (quarantine_covers(s->r, b.start, b.end))
			return;
	}
	if (!(l->flags & LEASE_AWAITED)) {
		l->flags |= LEASE_AWAITED;
		atomic_fetch_add(&s->r->barrier_pending, 1);
	}
	if (lease_state(l) == LEASE_LIVE && !(l->flags & PML_LEASE_REF) &&
			l->on_break) {
		list_push(s->list, l);
		if (!s->list->oom)
			l->holds++;	/* its memory stays ours for the call */
	}
}

/* unmark -- stop waiting for a lease (the barrier gave up) */
static void
unmark(struct pml_lease *l, void *arg)
{
	struct scan *s = arg;

	if (l->flags & LEASE_AWAITED) {
		l->flags &= (uint8_t)~LEASE_AWAITED;
		atomic_fetch_sub(&s->r->barrier_pending, 1);
	}
}

/*
 * revoke -- the barrier will not wait for this lease any longer: revoke it
 * and quarantine its blocks inside the barrier's range.  Capacity for the
 * quarantine entry and the list was reserved.
 */
static void
revoke(struct pml_lease *l, void *arg)
{
	struct scan *s = arg;

	if (!(l->flags & LEASE_AWAITED))
		return;
	l->flags &= (uint8_t)~LEASE_AWAITED;
	atomic_fetch_sub(&s->r->barrier_pending, 1);

	struct range b = lease_blocks(s, l);

	quarantine_add(s->r, b.start, b.end, l);
	l->holds++;		/* released by quarantine_release */
	if (lease_state(l) == LEASE_LIVE) {
		lease_set_state(l, LEASE_REVOKED);
		if (l->on_break) {
			s->list->v[s->list->n++] = l;
			l->holds++;	/* for the on_break call */
		}
	}
}

static void
scan_all(struct scan *s, lease_visit_fn fn)
{
	for (struct lease_ctx *c = s->r->ctxs; c; c = c->next) {
		spin_lock(&c->lock);
		ctx_for_each_overlap(c, s->range.start, s->range.end, fn, s);
		spin_unlock(&c->lock);
	}
}

/*
 * call_breaks -- call on_break of the collected leases, all of them before
 * anyone waits, with no lock held (the callback may put the lease), then
 * give their memory back.  Drops and retakes region->mutex.
 */
static void
call_breaks(struct pml_region *r, struct lease_list *ls,
		enum pml_break_reason reason)
{
	region_unlock(r);
	for (size_t i = 0; i < ls->n; i++) {
		struct pml_lease *l = ls->v[i];

		/* put meanwhile: nobody left to tell (memory is still ours) */
		if (lease_state(l) != LEASE_FREE)
			l->on_break(l, reason, l->arg);
	}
	for (size_t i = 0; i < ls->n; i++) {
		struct lease_ctx *c = ls->v[i]->ctx;

		spin_lock(&c->lock);
		ctx_release_hold(c, ls->v[i]);
		spin_unlock(&c->lock);
	}
	region_lock(r);
	ls->n = 0;
}

static struct timespec
deadline_after(uint32_t ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

/*
 * drain -- steps 1 and 2: raise the barrier on [start, end), break the
 * PINs, wait for every overlapping lease.  Returns 0 when drained (or when
 * the leases left were revoked and quarantined), -ETIMEDOUT with nothing
 * changed, or another negative errno with nothing changed.  Barrier raised
 * on return only if 0.  Layout owner, region->mutex held.
 */
static int
drain(struct pml_region *r, uint64_t start, uint64_t end,
		const struct pml_barrier_opts *o, const struct timespec *deadline)
{
	struct lease_list list = { 0 };
	struct scan s = { r, { start, end }, &list };
	int ret = view_reserve(r, r->nquar + 1);

	if (ret)
		return ret;
	r->barrier = s.range;
	r->barrier_up = true;
	view_publish(r);	/* from here no new lease enters the range */

	atomic_store(&r->barrier_pending, 0);
	scan_all(&s, mark);
	if (list.oom) {
		ret = err_set(ENOMEM, "cannot allocate the list of leases to "
				"break");
		goto undo;
	}
	call_breaks(r, &list, PML_BREAK_LAYOUT);

	while (atomic_load(&r->barrier_pending) > 0) {
		if (!o->timeout_ms) {
			pthread_cond_wait(&r->cond, &r->mutex);
		} else if (pthread_cond_timedwait(&r->cond, &r->mutex,
				deadline) == ETIMEDOUT) {
			break;
		}
	}
	if (atomic_load(&r->barrier_pending) == 0)
		goto out;

	long pending = atomic_load(&r->barrier_pending);

	if (o->on_timeout != PML_ON_TIMEOUT_REVOKE) {
		ret = err_set(ETIMEDOUT, "%ld lease(s) over [%" PRIu64 ", %"
				PRIu64 ") not put within %u ms; nothing changed",
				pending, start, end, o->timeout_ms);
		goto undo;
	}

	/* only puts happen meanwhile: pending can only shrink */
	ret = quarantine_reserve(r, (unsigned)pending);
	if (!ret && (size_t)pending > list.cap) {
		free(list.v);
		list.v = malloc((size_t)pending * sizeof(*list.v));
		list.cap = list.v ? (size_t)pending : 0;
		if (!list.v)
			ret = err_set(ENOMEM, "cannot allocate the revoke list");
	}
	if (ret)
		goto undo;
	scan_all(&s, revoke);
	view_publish(r);	/* the quarantines block acquires now */
	call_breaks(r, &list, PML_BREAK_REVOKED);
	goto out;

undo:
	scan_all(&s, unmark);
	r->barrier_up = false;
	view_publish(r);
out:
	free(list.v);
	return ret;
}

/* the barrier is up and drained: drop it once the layout has changed */
static void
barrier_drop(struct pml_region *r)
{
	r->barrier_up = false;
	view_publish(r);
	region_unlock(r);
	region_layout_end(r);
}

static int
check_aligned(const struct pml_region *r, const char *what, uint64_t v)
{
	if (v % r->alignment)
		return err_set(EINVAL, "%s %" PRIu64 " is not a multiple of the "
				"region's alignment %" PRIu64, what, v,
				r->alignment);
	return 0;
}

static int
layout_begin_by(struct pml_region *r, const struct pml_barrier_opts *o,
		const struct timespec *deadline)
{
	region_lock(r);
	while (r->layout_busy) {
		if (!o->timeout_ms) {
			pthread_cond_wait(&r->cond, &r->mutex);
		} else if (pthread_cond_timedwait(&r->cond, &r->mutex,
				deadline) == ETIMEDOUT && r->layout_busy) {
			region_unlock(r);
			return err_set(ETIMEDOUT, "another punch or truncate "
					"of the region did not finish within "
					"%u ms", o->timeout_ms);
		}
	}
	r->layout_busy = true;
	return 0;
}

static int
check_opts(const struct pml_barrier_opts *o)
{
	if (o->on_timeout != PML_ON_TIMEOUT_FAIL &&
			o->on_timeout != PML_ON_TIMEOUT_REVOKE)
		return err_set(EINVAL, "unknown on_timeout policy %d",
				(int)o->on_timeout);
	return 0;
}

int
pml_region_punch(struct pml_region *r, uint64_t offset, uint64_t length,
		const struct pml_barrier_opts *opts)
{
	static const struct pml_barrier_opts defaults;
	const struct pml_barrier_opts *o = opts ? opts : &defaults;
	uint64_t end = offset + length;
	int ret;

	if ((ret = region_validate(r)) || (ret = check_opts(o)))
		return ret;
	if (length == 0)
		return err_set(EINVAL, "punch length is 0");
	if (end < offset)
		return err_set(EINVAL, "punch offset %" PRIu64 " + length %"
				PRIu64 " overflows", offset, length);
	if ((ret = check_aligned(r, "punch offset", offset)) ||
	    (ret = check_aligned(r, "punch length", length)))
		return ret;

	struct timespec deadline = deadline_after(o->timeout_ms);

	ret = layout_begin_by(r, o, &deadline);
	if (ret)
		return ret;

	uint64_t size = atomic_load(&r->size);

	if (end > size) {
		region_unlock(r);
		region_layout_end(r);
		return err_set(EINVAL, "punch [%" PRIu64 ", %" PRIu64 ") lies "
				"past the region's end (size %" PRIu64 ")",
				offset, end, size);
	}
	ret = drain(r, offset, end, o, &deadline);
	if (ret) {
		region_unlock(r);
		region_layout_end(r);
		return ret;
	}
	/* steps 3 to 6 for what no quarantine keeps */
	ret = quarantine_dealloc_free_parts(r, offset, end);
	barrier_drop(r);
	return ret;
}

static int
grow(struct pml_region *r, uint64_t size)
{
	int ret = mapping_grow(r, size);

	if (!ret) {
		atomic_store(&r->size, size);
		view_publish(r);
	}
	return ret;
}

int
pml_region_truncate(struct pml_region *r, uint64_t size,
		const struct pml_barrier_opts *opts)
{
	static const struct pml_barrier_opts defaults;
	const struct pml_barrier_opts *o = opts ? opts : &defaults;
	int ret;

	if ((ret = region_validate(r)) || (ret = check_opts(o)))
		return ret;
	if (r->kind == PML_REGION_DEVDAX)
		return err_set(EOPNOTSUPP, "%s is a device-dax device: its "
				"size is fixed", r->path);
	if ((ret = check_aligned(r, "size", size)))
		return ret;
	if (size > r->max_size)
		return err_set(EFBIG, "size %" PRIu64 " exceeds the region's "
				"reservation max_size %" PRIu64, size,
				r->max_size);

	struct timespec deadline = deadline_after(o->timeout_ms);

	ret = layout_begin_by(r, o, &deadline);
	if (ret)
		return ret;

	uint64_t old = atomic_load(&r->size);

	if (size >= old) {
		/* nothing leased lies past the end: no one to drain */
		ret = size > old ? grow(r, size) : 0;
		region_unlock(r);
		region_layout_end(r);
		return ret;
	}

	ret = drain(r, size, old, o, &deadline);
	if (ret) {
		region_unlock(r);
		region_layout_end(r);
		return ret;
	}
	/* from here leases past size are refused; quarantines keep theirs */
	atomic_store(&r->size, size);
	ret = quarantine_dealloc_free_parts(r, size, old);
	barrier_drop(r);
	return ret;
}
