/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * agent.c -- the holder's side of every barrier: apply what the state file
 * says to this process's regions and leases, and acknowledge.
 *
 * agent_apply() is one pass: read the barrier, size and quarantines from
 * the state file, then for each of this process's regions on the file
 *   - a new barrier: publish it in the region's view (no new lease enters
 *     the range), mark the overlapping leases awaited, call on_break of the
 *     PINs -- here, in this process -- and acknowledge; the last put of an
 *     awaited lease reports "drained" itself (lease.c), so a punch in
 *     another process proceeds right after it;
 *   - the barrier in its revoke phase: revoke what is still awaited and
 *     record its blocks in the shared quarantine table;
 *   - a barrier dropped or given up: stop waiting, let acquires in;
 *   - a new size or quarantine table: map or unmap, republish the view.
 *
 * The process that raises a barrier runs the pass itself for its own
 * regions, synchronously, so its own leases are broken by the thread that
 * asked; the agent thread runs it for everybody else when woken.  Passes
 * are serialised by sf->apply_lock.  The agent thread also reaps dead
 * processes and lifts what their death released, four times a second while
 * anything is pending.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "lease.h"
#include "region.h"
#include "shared.h"

#define AGENT_PERIOD_MS 250

void
lease_list_push(struct lease_list *ls, struct pml_lease *l)
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

struct visit {
	struct pml_region *r;
	struct range range;
	struct lease_list *list;	/* NULL: wait, but break nobody */
};

/* the part of l's range inside the barrier, rounded out to whole blocks */
static struct range
lease_blocks(const struct visit *s, const struct pml_lease *l)
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
 * mark -- count a lease the barrier must wait for; collect the PINs to
 * break.  A revoked lease is waited for too unless its blocks here are
 * quarantined already: revoked, it still covers them.
 * Under region->mutex and the lease's context lock.
 */
static void
mark(struct pml_lease *l, void *arg)
{
	struct visit *s = arg;

	if (lease_state(l) == LEASE_REVOKED) {
		struct range b = lease_blocks(s, l);

		if (quarantine_covers(s->r, b.start, b.end))
			return;
	}
	if (!(l->w.flags & LEASE_AWAITED)) {
		l->w.flags |= LEASE_AWAITED;
		atomic_fetch_add(&s->r->shared->pending, 1);
	}
	if (s->list && lease_state(l) == LEASE_LIVE &&
			!(l->w.flags & PML_LEASE_REF) && l->on_break) {
		lease_list_push(s->list, l);
		if (!s->list->oom)
			l->w.holds++;	/* its memory stays ours for the call */
	}
}

/* unmark -- stop waiting for a lease: the barrier is gone */
static void
unmark(struct pml_lease *l, void *arg)
{
	struct visit *s = arg;

	if (l->w.flags & LEASE_AWAITED) {
		l->w.flags &= (uint8_t)~LEASE_AWAITED;
		atomic_fetch_sub(&s->r->shared->pending, 1);
	}
}

/*
 * revoke_awaited -- the barrier will not wait any longer: revoke the lease and
 * hold its memory for the quarantine entry recorded after the scan.
 */
static void
revoke_awaited(struct pml_lease *l, void *arg)
{
	struct visit *s = arg;

	if (!(l->w.flags & LEASE_AWAITED))
		return;
	lease_list_push(s->list, l);
	if (s->list->oom)
		return;		/* stays awaited: the owner sees us lag */
	l->w.flags &= (uint8_t)~LEASE_AWAITED;
	l->w.holds++;		/* for the quarantine entry, until put */
	if (lease_state(l) == LEASE_LIVE) {
		lease_set_state(l, LEASE_REVOKED);
		l->w.flags |= LEASE_BREAK_REVOKED;
	}
	atomic_fetch_sub(&s->r->shared->pending, 1);
}

static void
visit_all(struct visit *s, lease_visit_fn fn)
{
	ctxs_unbias(s->r);
	for (struct lease_ctx *c = s->r->ctxs; c; c = c->next) {
		ctx_lock(c);
		ctx_for_each_overlap(c, s->range.start, s->range.end, fn, s);
		ctx_unlock(c);
	}
}

/* call on_break of collected leases, no lock held, then let them go */
void
lease_list_call(struct lease_list *ls, enum pml_break_reason reason)
{
	for (size_t i = 0; i < ls->n; i++) {
		struct pml_lease *l = ls->v[i];

		/* put meanwhile: nobody left to tell (memory is still ours) */
		if (lease_state(l) != LEASE_FREE && l->on_break)
			l->on_break(l, reason, l->arg);
	}
	for (size_t i = 0; i < ls->n; i++) {
		struct lease_ctx *c = lease_ctx(ls->v[i]);

		ctx_lock(c);
		ctx_release_hold(c, ls->v[i]);
		ctx_unlock(c);
	}
	ls->n = 0;
}

/*
 * record_revoked -- enter the revoked leases' blocks in the shared
 * quarantine table, then tell their holders.  The holds taken by revoke_awaited()
 * become the entries' holds (released by quarantine_release on put).
 */
static bool
record_revoked(struct shared_file *sf, struct pml_region *r,
		struct lease_list *ls, struct range barrier, bool quarantine)
{
	struct visit s = { r, barrier, NULL };
	struct lease_list breaks = { 0 };
	bool recorded = quarantine;

	for (size_t i = 0; i < ls->n; i++) {
		struct pml_lease *l = ls->v[i];
		struct range b = lease_blocks(&s, l);
		struct lease_ctx *c = lease_ctx(l);
		bool tell;

		/*
		 * Table full: no entry, so no hold -- and no "revoked" ack, so
		 * the owner, not seeing its blocks kept, gives up rather than
		 * deallocating them.  A break deallocates nothing: no entry.
		 */
		if (recorded && quarantine_add(sf, b.start, b.end, l))
			recorded = false;
		ctx_lock(c);
		if (!recorded)
			ctx_release_hold(c, l);	/* no entry holds it */
		tell = (l->w.flags & LEASE_BREAK_REVOKED) && l->on_break &&
			lease_state(l) != LEASE_FREE;
		l->w.flags &= (uint8_t)~LEASE_BREAK_REVOKED;
		if (tell)
			l->w.holds++;
		ctx_unlock(c);
		if (tell)
			lease_list_push(&breaks, l);
	}
	lease_list_call(&breaks, PML_BREAK_REVOKED);
	free(breaks.v);
	ls->n = 0;
	return recorded || !quarantine;
}

/*
 * region_follow_size -- bring a region's mapping and view to the file's
 * size, as the state file has it now: never from a pass's snapshot, which
 * may predate a growth this process has applied already.  The caller holds
 * the region's layout (layout_busy), not its mutex.  With extend_file (the
 * file's layout owner) a file found short is extended; otherwise that is
 * -EAGAIN: the growth is not done yet, and its own pass follows.
 *
 * Everything below r->size is accessible (a punch's protection aside,
 * under its barrier), and only the layout holder changes protection: so
 * [0, reach) stays accessible whatever passes lower r->size to meanwhile,
 * and that is how far the size may be raised.  The size is decided under
 * region->mutex, from the shared size read there: a shrink elsewhere
 * drains us under its barrier, then sets the shared size, then cuts the
 * file, and our passes drop the barrier only together with the smaller
 * size -- so the size read here is either still the file's (the barrier,
 * if any, covers what is being cut) or the cut one.  A size read before
 * mapping may be stale either way.
 */
int
region_follow_size(struct pml_region *r, bool extend_file)
{
	uint64_t reach = atomic_load(&r->size);
	uint64_t size = shared_get_size(r->shared);
	int ret = 0;

	if (size == UINT64_MAX)
		return 0;
	if (size > reach && (ret = mapping_grow(r, size, extend_file)) == 0)
		reach = size;

	region_lock(r);

	uint64_t now = shared_get_size(r->shared);
	uint64_t to = now < reach ? now : reach;

	if (now != UINT64_MAX && to != atomic_load(&r->size)) {
		/* out of the view first: then nothing can be leased there */
		atomic_store(&r->size, to);
		view_publish(r);
	}
	to = atomic_load(&r->size);
	region_unlock(r);
	/*
	 * What passes cut from the view, cut from the mapping too -- once:
	 * quarantined blocks stay accessible past the size, so the same cut
	 * would otherwise be planned again on every follow (every lift).
	 */
	if (to < r->open_end && (to != r->cut_to ||
			r->open_end != r->cut_end)) {
		int err = quarantine_protect_cut(r, to, r->open_end);

		if (!err) {
			r->cut_to = to;
			r->cut_end = r->open_end;
		} else if (!ret) {
			ret = err;
		}
	}
	return ret;
}

/*
 * agent_apply_size -- region_follow_size for a holder: never waits for
 * the region's layout, whose owner may be waiting for this very pass.
 * Returns false if the region was busy or the file not grown yet (try
 * again later).  Called with region->mutex held; returns with it released.
 */
bool
agent_apply_size(struct pml_region *r)
{
	if (r->layout_busy) {
		region_unlock(r);
		return false;
	}
	r->layout_busy = true;
	region_unlock(r);

	int ret = region_follow_size(r, false);

	region_layout_end(r);
	return ret != -EAGAIN;
}

/*
 * agent_apply -- one pass over this process's regions on sf; see above.
 * skip: a region whose layout the caller owns (its size it set itself).
 * Caller holds sf->apply_lock.
 */
void
agent_apply(struct shared_file *sf, struct pml_region *skip)
{
	struct shm_snapshot *s = sf->snap;

	if (shm_snapshot(sf, s))
		return;		/* corrupt: reported to whoever asks */

	bool up = s->phase != SHM_PHASE_NONE;
	struct range bar = { s->start, s->end };
	/*
	 * Only our own user, or root, may break or revoke our leases.  Any
	 * barrier still keeps new leases out of the range -- a device must
	 * not start writing into blocks being taken away -- and is waited
	 * for; that is no privilege.
	 */
	bool may_break = s->owner_uid == geteuid() || s->owner_uid == 0;
	struct lease_list breaks = { 0 }, revoked = { 0 };
	struct shm_slot *me = &sf->h->slots[sf->slot];
	bool revoke_ok = true;

	/* counted as one pending lease while we mark, so no put acks early */
	atomic_fetch_add(&sf->pending, 1);
	atomic_store(&sf->serving_seq, up ? s->seq : 0);

	for (unsigned i = 0; i < sf->napply; i++) {
		struct pml_region *r = sf->apply[i];
		struct visit v = { r, bar, may_break ? &breaks : NULL };
		bool publish = false;

		region_lock(r);
		if (r->state != REGION_OPEN) {
			region_unlock(r);
			continue;
		}
		publish = quarantine_mirror(r, s);
		/*
		 * A shrink elsewhere: the new size must be in the view no later
		 * than the barrier's going away, or an acquire waiting on the
		 * barrier gets in against the old size, past the file's end.
		 * Refusing more at once is always safe; the mapping follows
		 * below (agent_apply_size).  The size is read now, not from the
		 * pass's snapshot: a growth since must not be undone here.
		 */
		/*
		 * Whoever owns the layout: a layout owner publishes the shared
		 * size before its region's on a growth, and after on a shrink,
		 * so a shared size below ours is always a shrink to apply.
		 */
		uint64_t now = shared_get_size(sf);

		if (now != UINT64_MAX && now < atomic_load(&r->size)) {
			atomic_store(&r->size, now);
			publish = true;
		}
		if (r->applied_seq && (!up || r->applied_seq != s->seq)) {
			/* the barrier we applied is gone, or replaced */
			struct visit old = { r, r->barrier, NULL };

			visit_all(&old, unmark);
			r->barrier_up = false;
			r->applied_seq = 0;
			publish = true;
		}
		if (up && r->applied_seq != s->seq) {
			r->barrier = bar;
			r->barrier_up = true;
			r->applied_seq = s->seq;
			r->revoke_applied = false;
			view_publish(r);	/* no new lease enters the range */
			publish = false;
			visit_all(&v, mark);
		}
		if (up && s->phase == SHM_PHASE_REVOKE && !r->revoke_applied &&
				may_break) {
			struct visit rv = { r, bar, &revoked };

			visit_all(&rv, revoke_awaited);
			r->revoke_applied = !revoked.oom;
		}
		if (publish)
			view_publish(r);
		region_unlock(r);

		if (revoked.n && !record_revoked(sf, r, &revoked, bar, !s->brk))
			revoke_ok = false;
		if (revoked.oom)
			revoke_ok = false;
	}
	free(revoked.v);
	lease_list_call(&breaks, PML_BREAK_LAYOUT);
	free(breaks.v);

	if (up) {
		shm_report(&me->ack_seq, s->seq);
		if (s->phase == SHM_PHASE_REVOKE && revoke_ok && may_break)
			shm_report(&me->revoked_seq, s->seq);
	}
	if (atomic_fetch_sub(&sf->pending, 1) == 1 && up)
		shm_report(&me->drained_seq, s->seq);
	if (up)
		shm_wake_owner(sf);

	bool again = false;

	for (unsigned i = 0; i < sf->napply; i++) {
		struct pml_region *r = sf->apply[i];

		region_lock(r);
		if (r != skip && r->state == REGION_OPEN)
			again |= !agent_apply_size(r);	/* unlocks */
		else
			region_unlock(r);
	}
	/*
	 * Only now is the state applied: a region_sync that sees this need
	 * not wait for us, one that comes earlier waits for the pass lock.
	 * A size we could not apply yet is the agent's to retry, not every
	 * acquire's.
	 */
	atomic_store(&sf->seen_state_seq, s->state_seq);
	atomic_store(&sf->retry, again);
}

static __thread bool tls_in_pass;
static __thread struct shared_file *tls_held;

/* is the calling thread running a pass (an on_break, say)? */
bool
agent_in_pass(void)
{
	return tls_in_pass;
}

/*
 * agent_hold -- a barrier owner keeps passes to itself from raising a
 * phase until its own pass is done, so that its own process's PINs are
 * broken by the thread that asked, never by the agent thread.
 */
void
agent_hold(struct shared_file *sf)
{
	pthread_mutex_lock(&sf->apply_lock);
	tls_held = sf;
}

void
agent_release(struct shared_file *sf)
{
	tls_held = NULL;
	pthread_mutex_unlock(&sf->apply_lock);
}

/*
 * agent_pass -- take the pass lock (unless we hold it) and the list of
 * regions, and apply.  Pinning keeps the regions from being freed
 * meanwhile: closing waits for the pass (shared_detach).
 */
void
agent_pass(struct shared_file *sf, struct pml_region *skip)
{
	/*
	 * Called from an on_break of a running pass (a put that lifted a
	 * quarantine): that pass is followed by another, which applies it.
	 */
	if (tls_in_pass)
		return;

	bool held = tls_held == sf;

	if (!held)
		pthread_mutex_lock(&sf->apply_lock);
	tls_in_pass = true;
	shared_regions_pin(sf);
	agent_apply(sf, skip);
	shared_regions_unpin(sf);
	tls_in_pass = false;
	if (!held)
		pthread_mutex_unlock(&sf->apply_lock);
}

struct dump_visit {
	struct pml_lease_info *v;
	uint32_t n, cap;
	uint32_t region;
	uint32_t now;
	pid_t tid;
};

static void
dump_lease(struct pml_lease *l, void *arg)
{
	struct dump_visit *d = arg;

	if (lease_state(l) == LEASE_FREE)
		return;
	if (d->n == d->cap) {
		uint32_t cap = d->cap ? d->cap * 2 : 64;
		struct pml_lease_info *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			return;	/* a shorter list; the dump says how many */
		d->v = v;
		d->cap = cap;
	}
	d->v[d->n++] = (struct pml_lease_info){
		.region = d->region,
		.flags = l->w.flags & PML_LEASE_REF,
		.offset = l->offset,
		.length = l->end - l->offset,
		.refs = l->w.refs,
		.revoked = lease_state(l) == LEASE_REVOKED,
		.age_ms = (uint32_t)(d->now - l->born_ms),
		.tid = d->tid,
	};
}

/*
 * agent_dump -- answer a lister: write our regions and leases on sf to the
 * dump file.  Walks every context of every region (UINT64_MAX covers all).
 */
static void
agent_dump(struct shared_file *sf)
{
	char path[4200], tmp[4300];
	struct dump_visit d = { .now = atomic_load(&lease_clock) };
	struct pml_holder_region_info *regs = NULL;
	struct dump_header hdr = { .version = 1, .pid = getpid() };

	memcpy(hdr.magic, DUMP_MAGIC, sizeof(hdr.magic));
	if (dump_path(path, sizeof(path), sf->path, sf->slot))
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);

	shared_regions_pin(sf);
	regs = calloc(sf->napply ? sf->napply : 1, sizeof(*regs));
	for (unsigned i = 0; regs && i < sf->napply; i++) {
		struct pml_region *r = sf->apply[i];

		snprintf(regs[i].path, sizeof(regs[i].path), "%.*s",
				(int)sizeof(regs[i].path) - 1,
				r->abspath ? r->abspath : r->path);
		regs[i].kind = r->kind;
		regs[i].size = atomic_load(&r->size);
		memcpy(regs[i].device, r->device, sizeof(regs[i].device));
		d.region = i;
		region_lock(r);
		ctxs_unbias(r);
		for (struct lease_ctx *c = r->ctxs; c; c = c->next) {
			d.tid = c->tid;
			ctx_lock(c);
			ctx_for_each_overlap(c, 0, UINT64_MAX, dump_lease, &d);
			ctx_unlock(c);
		}
		region_unlock(r);
		hdr.nregions++;
	}
	shared_regions_unpin(sf);
	hdr.nleases = d.n;

	int fd = regs ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
			O_CLOEXEC, 0600) : -1;

	if (fd >= 0) {
		bool ok = write(fd, &hdr, sizeof(hdr)) == sizeof(hdr) &&
			write(fd, regs, hdr.nregions * sizeof(*regs)) ==
				(ssize_t)(hdr.nregions * sizeof(*regs)) &&
			write(fd, d.v, d.n * sizeof(*d.v)) ==
				(ssize_t)(d.n * sizeof(*d.v));

		close(fd);
		if (!ok || rename(tmp, path))
			unlink(tmp);
	}
	free(regs);
	free(d.v);
}

/*
 * agent_remove -- a device under the file is going away (removal.c): revoke
 * every region of ours on it -- holders told, data flushed, mapping torn
 * down -- then acknowledge.  Runs in the agent thread, outside any pass:
 * on_break callbacks run here, as they do for barriers.
 */
static void
agent_remove(struct shared_file *sf, uint64_t seq)
{
	struct shm_header *h = sf->h;
	uint32_t grace = atomic_load(&h->removal_grace_ms);
	bool gone = atomic_load(&h->removal_flags) & PML_REMOVAL_GONE;

	/*
	 * Pinned, but not under the pass lock: an on_break may put a lease
	 * whose put runs a pass.  The list is ours: passes reuse sf->apply.
	 */
	pthread_mutex_lock(&sf->apply_lock);
	shared_regions_pin(sf);

	unsigned n = sf->napply;
	struct pml_region **v = malloc((n ? n : 1) * sizeof(*v));

	if (v && n)
		memcpy(v, sf->apply, n * sizeof(*v));
	pthread_mutex_unlock(&sf->apply_lock);

	for (unsigned i = 0; v && i < n; i++)
		(void) region_revoke(v[i], PML_BREAK_REMOVE, grace,
				gone);	/* -ENODEV: revoked already */

	pthread_mutex_lock(&sf->apply_lock);
	shared_regions_unpin(sf);
	pthread_mutex_unlock(&sf->apply_lock);
	if (!v)
		return;		/* no memory: the next period tries again */
	free(v);
	sf->removal_seen = seq;
	shm_report(&h->slots[sf->slot].removal_ack, seq);
}

static void *
agent_main(void *arg)
{
	struct shared_file *sf = arg;
	struct shm_slot *me = &sf->h->slots[sf->slot];
	sigset_t all;

	/*
	 * Signals are the application's: never deliver one here -- but a
	 * fault in a region (a flush into a device going away) must reach the
	 * monitor's SIGBUS handler, not kill the process.
	 */
	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_setname_np(pthread_self(), "pml-agent");

	while (!atomic_load(&sf->stopping)) {
		uint32_t w = atomic_load(&me->wake);

		lease_clock_tick();

		if (atomic_load(&sf->h->state_seq) !=
				atomic_load(&sf->seen_state_seq) ||
				atomic_load(&sf->retry))
			agent_pass(sf, NULL);

		uint64_t rs = atomic_load(&sf->h->removal_seq);

		if (rs != sf->removal_seen)
			agent_remove(sf, rs);

		uint32_t req = atomic_load(&me->dump_req);

		if (req != atomic_load(&me->dump_ack)) {
			agent_dump(sf);
			atomic_store(&me->dump_ack, req);
		}
		shared_housekeeping(sf);
		shm_futex_wait(&me->wake, w, AGENT_PERIOD_MS);
	}
	return NULL;
}

int
agent_start(struct shared_file *sf)
{
	int ret = pthread_create(&sf->agent, NULL, agent_main, sf);

	if (ret)
		return err_set(ret, "cannot start the lease agent thread");
	sf->agent_running = true;
	return 0;
}

void
agent_stop(struct shared_file *sf)
{
	if (!sf->agent_running)
		return;
	atomic_store(&sf->stopping, true);
	atomic_fetch_add(&sf->h->slots[sf->slot].wake, 1);
	shm_futex_wake(&sf->h->slots[sf->slot].wake);
	pthread_join(sf->agent, NULL);
	sf->agent_running = false;
}
