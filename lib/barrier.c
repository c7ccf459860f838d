/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * barrier.c -- punch and truncate through the lease-drain barrier.
 *
 * The recipe is seed 002's, moved to user space: lock the range against
 * new users, drain the users in flight, write back, invalidate, change the
 * layout, and only then let users in again.  The kernel cannot do this for
 * long-term DMA pins on DAX, because the DMA target *is* the filesystem
 * block (seed 000); so every layout change of a region comes here, and it
 * waits for the leases of every process that has the file open.
 *
 * The owner's side, step by step (the holders' side is agent.c):
 *   1. own the file's layout (shared.c), then the region's;
 *   2. raise the barrier in the state file and wake every process's agent;
 *      run this process's own pass here, so our own PINs are broken by the
 *      thread that asked;
 *   3. wait until every live process reports the range drained -- each
 *      report is sent by the put that drains it, so the wait ends right
 *      after the last put;
 *   4. on timeout, give up (PML_ON_TIMEOUT_FAIL: retract, nothing changed)
 *      or revoke (PML_ON_TIMEOUT_REVOKE: every holder revokes what it
 *      still holds and quarantines its blocks);
 *   5. flush, invalidate, deallocate what no quarantine keeps, map again;
 *   6. drop the barrier (with the new size, for a truncate) and let every
 *      process in again; lift what was released meanwhile.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "lease.h"
#include "region.h"
#include "shared.h"

#define LIVENESS_CHECK_MS 100	/* how often a silent holder is checked */

/* set by pml_region_break around its drain: a barrier that changes nothing */
static __thread bool tls_breaking;
#define REVOKE_GRACE_MS 1000	/* for holders to record their revokes */

struct timespec
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

/* milliseconds to deadline, at most cap; 0 once passed; cap without one */
static int
ms_left(const struct timespec *deadline, int cap)
{
	if (!deadline)
		return cap;

	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);

	long ms = (deadline->tv_sec - now.tv_sec) * 1000 +
		(deadline->tv_nsec - now.tv_nsec + 999999) / 1000000;

	return ms <= 0 ? 0 : ms < cap ? (int)ms : cap;
}

/* has slot i done its part of barrier seq (in phase)? */
static bool
slot_done(const struct shm_slot *s, uint64_t seq, enum shm_phase phase)
{
	return atomic_load(&s->drained_seq) == seq ||
		(phase == SHM_PHASE_REVOKE && atomic_load(&s->revoked_seq) == seq);
}

/*
 * wait_holders -- until every live process has done its part of barrier
 * seq, or the deadline.  A process that is silent for LIVENESS_CHECK_MS is
 * checked for liveness; a dead one is reaped and counts as done.
 */
static int
wait_holders(struct shared_file *sf, uint64_t seq, enum shm_phase phase,
		const struct timespec *deadline)
{
	struct shm_header *h = sf->h;

	for (;;) {
		/* read the wake count first: a report after it wakes us */
		uint32_t w = atomic_load(&h->owner_wake);
		bool done = true;

		for (uint32_t i = 0; i < SHM_SLOTS && done; i++)
			if (atomic_load(&h->slots[i].used))
				done = slot_done(&h->slots[i], seq, phase);
		if (done)
			return 0;

		int ms = ms_left(deadline, LIVENESS_CHECK_MS);

		if (ms == 0)
			return -ETIMEDOUT;
		if (shm_futex_wait(&h->owner_wake, w, ms) == 0)
			continue;
		if (shm_lock(sf) == 0) {
			shm_reap_dead(sf);
			shm_unlock(sf);
		}
	}
}

/* set the barrier's phase (NONE: drop it) and let every process know */
static int
set_phase(struct shared_file *sf, enum shm_phase phase, uint64_t *seq,
		uint64_t start, uint64_t end)
{
	struct shm_header *h = sf->h;
	int ret = shm_lock(sf);

	if (ret)
		return ret;
	if (phase == SHM_PHASE_DRAIN) {
		*seq = ++h->barrier_seq;
		h->barrier_start = start;
		h->barrier_end = end;
		h->barrier_owner = sf->slot + 1;
		h->barrier_break = tls_breaking;
	} else if (phase == SHM_PHASE_NONE) {
		h->barrier_owner = 0;
	}
	h->barrier_phase = phase;
	shm_bump(sf);
	shm_unlock(sf);
	shm_wake_agents(sf);
	return 0;
}

/*
 * may_revoke -- a process may revoke only the leases of processes of its
 * own user; root may revoke anyone's.  Checked against the holders that
 * still hold something.
 */
static int
may_revoke(struct shared_file *sf, uint64_t seq)
{
	uid_t me = geteuid();

	if (me == 0)
		return 0;
	for (uint32_t i = 0; i < SHM_SLOTS; i++) {
		struct shm_slot *s = &sf->h->slots[i];

		if (atomic_load(&s->used) && s->uid != me &&
				!slot_done(s, seq, SHM_PHASE_DRAIN))
			return err_set(EPERM, "leases over the range are held "
					"by pid %d of uid %u: only that user or "
					"root may revoke them", s->pid, s->uid);
	}
	return 0;
}

/*
 * quarantine_laggards -- holders that did not record their revokes in
 * time: keep the whole range for them.  They replace it with exact
 * entries when they catch up (or it is released when they die).
 */
static int
quarantine_laggards(struct shared_file *sf, uint64_t seq, uint64_t start,
		uint64_t end)
{
	struct shm_header *h = sf->h;
	int ret = shm_lock(sf);

	if (ret)
		return ret;
	for (uint32_t i = 0; i < SHM_SLOTS && !ret; i++) {
		struct shm_slot *s = &h->slots[i];

		if (!atomic_load(&s->used) ||
				slot_done(s, seq, SHM_PHASE_REVOKE))
			continue;
		if (h->nquar >= SHM_QUAR_MAX) {
			ret = err_set(ENOSPC, "quarantine table of %s is full",
					sf->path);
			break;
		}
		h->quar[h->nquar] = (struct shm_quar){
			.start = start, .end = end, .key = 0, .slot = i,
		};
		h->nquar++;
	}
	shm_bump(sf);
	shm_unlock(sf);
	return ret;
}

/*
 * phase -- set the barrier's phase and run this process's own pass, with
 * no agent pass in between (agent_hold): our own leases are broken by this
 * thread.  We hold r's layout, so the pass skips r's size.
 */
static int
phase(struct pml_region *r, enum shm_phase ph, uint64_t *seq, uint64_t start,
		uint64_t end)
{
	struct shared_file *sf = r->shared;

	agent_hold(sf);

	int ret = set_phase(sf, ph, seq, start, end);

	if (!ret)
		agent_pass(sf, r);
	agent_release(sf);
	return ret;
}

/*
 * drain -- steps 2 to 4 on [start, end).  0: drained, or what was left is
 * revoked and quarantined; the barrier is up.  Negative: nothing changed,
 * no barrier.  Layout owner, no lock held.
 */
int
barrier_drain(struct pml_region *r, uint64_t start, uint64_t end,
		const struct pml_barrier_opts *o, const struct timespec *deadline,
		uint64_t *seqp)
{
	struct shared_file *sf = r->shared;
	uint64_t seq;
	int ret = phase(r, SHM_PHASE_DRAIN, &seq, start, end);

	if (ret)
		return ret;
	*seqp = seq;

	ret = wait_holders(sf, seq, SHM_PHASE_DRAIN,
			o->timeout_ms ? deadline : NULL);
	if (!ret)
		return 0;

	if (o->on_timeout != PML_ON_TIMEOUT_REVOKE) {
		ret = err_set(ETIMEDOUT, "leases over [%" PRIu64 ", %" PRIu64
				") not put within %u ms; nothing changed",
				start, end, o->timeout_ms);
		goto retract;
	}
	ret = may_revoke(sf, seq);
	if (ret)
		goto retract;
	ret = phase(r, SHM_PHASE_REVOKE, &seq, start, end);
	if (ret)
		goto retract;

	struct timespec grace = deadline_after(REVOKE_GRACE_MS);

	if (wait_holders(sf, seq, SHM_PHASE_REVOKE, &grace) && !tls_breaking) {
		ret = quarantine_laggards(sf, seq, start, end);
		if (ret)
			goto retract;	/* blocks unaccounted for: keep them */
	}
	return 0;

retract:
	phase(r, SHM_PHASE_NONE, &seq, start, end);
	return ret;
}

/* barrier_lower -- step 7: drop the barrier and let everyone in again */
void
barrier_lower(struct pml_region *r, uint64_t *seq)
{
	phase(r, SHM_PHASE_NONE, seq, 0, 0);
}

/*
 * region_set_size -- the layout owner's: leases past size are refused from
 * here on (the view first, under the region's lock).
 */
void
region_set_size(struct pml_region *r, uint64_t size)
{
	region_lock(r);
	atomic_store(&r->size, size);
	view_publish(r);
	region_unlock(r);
}

/* ------------------------------------------------------------ layout */

static int
check_aligned(const struct pml_region *r, const char *what, uint64_t v)
{
	if (v % r->alignment)
		return err_set(EINVAL, "%s %" PRIu64 " is not a multiple of the "
				"region's alignment %" PRIu64, what, v,
				r->alignment);
	return 0;
}

int
barrier_check_opts(const struct pml_barrier_opts *o)
{
	if (o->on_timeout != PML_ON_TIMEOUT_FAIL &&
			o->on_timeout != PML_ON_TIMEOUT_REVOKE)
		return err_set(EINVAL, "unknown on_timeout policy %d",
				(int)o->on_timeout);
	return 0;
}

/*
 * adopt_growth -- a write(2) past the end grows a file without a layout
 * change (SQLite's unix VFS extends a database that way): the whole units
 * it added become part of the region, so that nothing the layout change
 * about to be made plans past the old size mistakes them for leftovers.
 * Only the layout owner may, and not past a quarantine kept beyond the
 * size, whose blocks are not the file's to lease.
 */
static int
adopt_growth(struct pml_region *r)
{
	struct stat st;

	if (r->kind == PML_REGION_DEVDAX)
		return 0;
	if (fstat(r->fd, &st))
		return err_set(errno, "fstat %s: %m", r->path);

	uint64_t size = atomic_load(&r->size);
	uint64_t grown = (uint64_t)st.st_size / r->alignment * r->alignment;

	if (grown > r->max_size)
		grown = r->max_size;
	if (grown <= size)
		return 0;
	region_lock(r);

	bool kept = quarantine_overlaps(r, size, UINT64_MAX);

	region_unlock(r);
	if (kept)
		return 0;

	int ret = mapping_grow(r, grown, false);

	if (!ret)
		ret = shared_set_size(r->shared, grown);
	if (!ret)
		region_set_size(r, grown);
	return ret;
}

/*
 * layout_enter -- own the file's layout, then the region's, and bring the
 * region to the file's current size (another process may have changed it).
 */
int
layout_enter(struct pml_region *r, const struct pml_barrier_opts *o,
		const struct timespec *deadline)
{
	struct shared_file *sf = r->shared;
	int ret = shared_layout_begin(sf, o->timeout_ms ? deadline : NULL,
			false);

	if (ret)
		return ret;
	region_layout_begin(r);
	region_unlock(r);

	ret = region_follow_size(r, true);
	if (!ret)
		ret = adopt_growth(r);
	if (ret) {
		region_layout_end(r);
		shared_layout_end(sf);
	}
	return ret;
}

/* layout_leave -- give the layout up, lift what was released, catch up */
void
layout_leave(struct pml_region *r)
{
	struct shared_file *sf = r->shared;

	region_layout_end(r);
	shared_layout_end(sf);
	/*
	 * A change of ours that no pass of ours has applied yet (a size set
	 * without a barrier, a lift) would keep every acquire of this process
	 * off its fast path until the agent's next tick: apply it now.
	 */
	if (shared_lift(sf, r) || atomic_load(&sf->h->state_seq) !=
			atomic_load(&sf->seen_state_seq))
		agent_pass(sf, NULL);
}

/*
 * range_op -- punch or break [offset, offset + length): check the call,
 * own the layout, drain, then for a punch deallocate what no quarantine
 * keeps, and drop the barrier.
 */
/* what range_op does past the drain */
enum range_what {
	RANGE_BREAK,		/* nothing: the leases only */
	RANGE_PUNCH,		/* deallocate */
	RANGE_RENEW,		/* deallocate and map the file there again */
};

static int
range_op(struct pml_region *r, uint64_t offset, uint64_t length,
		const struct pml_barrier_opts *opts, enum range_what what_op)
{
	bool punch = what_op != RANGE_BREAK;
	static const struct pml_barrier_opts defaults;
	const struct pml_barrier_opts *o = opts ? opts : &defaults;
	const char *what = punch ? "punch" : "break";
	uint64_t end = offset + length, seq;
	int ret;

	if ((ret = region_validate(r)) || (ret = barrier_check_opts(o)))
		return ret;
	if (length == 0)
		return err_set(EINVAL, "%s length is 0", what);
	if (end < offset)
		return err_set(EINVAL, "%s offset %" PRIu64 " + length %" PRIu64
				" overflows", what, offset, length);
	/* a break changes no block: it needs no alignment */
	if (punch && ((ret = check_aligned(r, "punch offset", offset)) ||
	    (ret = check_aligned(r, "punch length", length))))
		return ret;

	struct timespec deadline = deadline_after(o->timeout_ms);

	ret = layout_enter(r, o, &deadline);
	if (ret)
		return ret;

	uint64_t size = atomic_load(&r->size);

	if (end > size) {
		ret = err_set(EINVAL, "%s [%" PRIu64 ", %" PRIu64 ") lies past "
				"the region's end (size %" PRIu64 ")", what,
				offset, end, size);
	} else {
		tls_breaking = !punch;
		ret = barrier_drain(r, offset, end, o, &deadline, &seq);
		tls_breaking = false;

		bool up = ret == 0;	/* else drain retracted it */

		/*
		 * A range whose mapping a poison fault replaced maps the file
		 * again: on devdax before zeroing (that is the clearing), on
		 * files after the punch gave it fresh blocks.
		 */
		if (up && what_op == RANGE_RENEW && r->kind == PML_REGION_DEVDAX)
			ret = mapping_map_file(r, offset, end);
		/* steps 5 and 6 for what no quarantine keeps */
		if (up && punch && !ret)
			ret = quarantine_dealloc_free_parts(r, offset, end,
					false);
		if (up && what_op == RANGE_RENEW && r->kind != PML_REGION_DEVDAX &&
				!ret)
			ret = mapping_map_file(r, offset, end);
		if (up)
			barrier_lower(r, &seq);
	}
	layout_leave(r);
	return ret;
}

int
pml_region_punch(struct pml_region *r, uint64_t offset, uint64_t length,
		const struct pml_barrier_opts *opts)
{
	return range_op(r, offset, length, opts, RANGE_PUNCH);
}

int
pml_region_break(struct pml_region *r, uint64_t offset, uint64_t length,
		const struct pml_barrier_opts *opts)
{
	return range_op(r, offset, length, opts, RANGE_BREAK);
}

/* region_renew -- a punch that maps the file at the range again (poison.c) */
int
region_renew(struct pml_region *r, uint64_t offset, uint64_t length)
{
	return range_op(r, offset, length, NULL, RANGE_RENEW);
}

int
pml_region_truncate(struct pml_region *r, uint64_t size,
		const struct pml_barrier_opts *opts)
{
	static const struct pml_barrier_opts defaults;
	const struct pml_barrier_opts *o = opts ? opts : &defaults;
	uint64_t seq;
	int ret;

	if ((ret = region_validate(r)) || (ret = barrier_check_opts(o)))
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

	ret = layout_enter(r, o, &deadline);
	if (ret)
		return ret;

	uint64_t old = atomic_load(&r->size);

	if (size > old) {
		/* nothing leased lies past the end: no one to drain */
		ret = mapping_grow(r, size, true);
		/* the shared size first: an agent never sees ours ahead of it */
		if (!ret)
			ret = shared_set_size(r->shared, size);
		if (!ret) {
			region_set_size(r, size);
			barrier_lower(r, &seq);
		}
	} else if (size < old && !(ret = barrier_drain(r, size, old, o, &deadline,
			&seq))) {
		/*
		 * Leases past size are refused from here on, everywhere: the
		 * shared size first, which deallocation goes by.
		 */
		ret = shared_set_size(r->shared, size);
		region_set_size(r, size);
		if (!ret)
			ret = quarantine_dealloc_free_parts(r, size, old, true);
		barrier_lower(r, &seq);
	}
	layout_leave(r);
	return ret;
}
