/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * model_pending.c -- the calls test_model leaves under way: the layout
 * change (punch or shrink) and the acquires waiting for a barrier or a
 * quarantine.  After every step: has one returned while it must not have,
 * must one have returned by now, and when one has, is its result the one
 * the model foresaw, and what does the model learn from it.
 */
#include "model.h"

struct waiter waiters[MAXWAIT];

/* ------------------------------------------------------- op completion */

static void
op_finish(void)
{
	struct job *j = collect(op.worker, "the pending punch/truncate");
	int rc = j->rc;
	atomic_store(&cb_active, 0);
	int expect = 0;
	if (op.mode == M_FAIL && op.nblock > 0)
		expect = -ETIMEDOUT;
	if (rc != expect)
		MFAIL("%s %s [%" PRIu64 ", %" PRIu64 ") with %d blocking "
				"leases returned %d (%s), expected %d (%s): %s",
				mode_name[op.mode], op.shrink ? "shrink" :
				"punch", op.lo, op.hi, op.nblock, rc,
				pmlt_errname(rc), expect, pmlt_errname(expect),
				j->msg);
	if (rc == -ETIMEDOUT)
		st.timedout++;
	trace("%s %s [%#" PRIx64 ", %#" PRIx64 ") returned %d",
			mode_name[op.mode], op.shrink ? "shrink" : "punch",
			op.lo, op.hi, rc);

	for (int i = 0; i < op.nautos; i++) {
		struct mlease *m = op.autos[i];
		if (!atomic_load(&m->gone))
			MFAIL("self-putting PIN %d [%" PRIu64 ", +%" PRIu64
					") never got on_break(LAYOUT) from %s "
					"[%" PRIu64 ", %" PRIu64 ")", m->id,
					m->off, m->len, mode_name[op.mode],
					op.lo, op.hi);
		if (atomic_load(&m->n_layout) != m->layout0 + 1)
			MFAIL("PIN %d: %d on_break(LAYOUT) from one op", m->id,
					atomic_load(&m->n_layout) - m->layout0);
		retire(m);
	}
	uint64_t released = 0;
	for (int i = 0; i < op.nblock; i++) {
		struct mlease *m = op.block[i];
		int dl = atomic_load(&m->n_layout) - m->layout0;
		int dr = atomic_load(&m->n_revoked) - m->revoked0;
		if (m->revoked0_flag)
			dl = dr = -1;	/* told again or not: both fine */
		if (op.mode == M_NOTIMEOUT || op.mode == M_LONG) {
			/* all put by the driver before the op could end */
			if (dl > 1 || dr > 0)
				MFAIL("lease %d: %d LAYOUT, %d REVOKED from a "
						"%s op", m->id, dl, dr,
						mode_name[op.mode]);
			continue;
		}
		if (dl != -1 && dl != (m->ref ? 0 : 1))
			MFAIL("%s lease %d: %d on_break(LAYOUT) from one op",
					m->ref ? "REF" : "PIN", m->id, dl);
		if (op.mode == M_FAIL) {
			if (dr > 0 || pml_lease_revoked(m->l) != 0)
				MFAIL("lease %d revoked by a FAIL op", m->id);
			continue;
		}
		/* REVOKE: revoked; its blocks in the range quarantined */
		if (dr != -1 && dr != 1)
			MFAIL("lease %d: %d on_break(REVOKED)", m->id, dr);
		uint64_t lo = m->off > op.lo ? m->off : op.lo;
		uint64_t hi = m->off + m->len < op.hi ? m->off + m->len : op.hi;
		m->qmask |= pages_of(lo, hi - lo);
		if (!m->revoked)
			st.revoked++;
		m->revoked = true;
		if (m->auto_revoke) {
			if (!atomic_load(&m->gone))
				MFAIL("lease %d did not put itself on REVOKED",
						m->id);
			released |= m->qmask;
			retire(m);
		} else if (pml_lease_revoked(m->l) != 1) {
			MFAIL("lease %d not revoked by a REVOKE op", m->id);
		}
	}
	if (rc == 0) {
		memset(model + op.lo, 0, op.hi - op.lo);
		if (op.shrink) {
			memset(model + op.lo, 0, NPMAX * A - op.lo);
			S = op.lo;
		}
	}
	op.pending = false;
	/* lifts deferred to the end of the op happened by now */
	for (uint64_t p = 0; p < NPMAX; p++)
		if (lifting & (1ULL << p)) {
			memset(model + p * A, 0, A);
			st.lifted_pages++;
		}
	lifting = 0;
	pages_released(released);
	free_retired();
	waiters_progress();
}

/* is the op done while it must not be, or must it be done by now */
void
op_progress(bool force)
{
	if (!op.pending)
		return;
	bool must_wait = (op.mode == M_NOTIMEOUT || op.mode == M_LONG);
	if (must_wait && nblock_held() > 0) {
		if (worker_done(op.worker))
			MFAIL("%s %s [%" PRIu64 ", %" PRIu64 ") returned %d "
					"with %d overlapping leases still held",
					mode_name[op.mode], op.shrink ?
					"shrink" : "punch", op.lo, op.hi,
					workers[op.worker].job.rc,
					nblock_held());
		return;
	}
	if (!must_wait && !force && !worker_done(op.worker) &&
			step - op.started < op.wait_after)
		return;
	op_finish();
}

/* ------------------------------------------------------------- waiters */

static bool
waiter_blocked(const struct waiter *w)
{
	if (w->on_barrier && op.pending)
		return true;
	uint64_t pm = pages_of(w->off, w->len);
	return (pm & (quarantine_mask() | lifting)) != 0;
}

/* a waiter that can certainly not have its lease yet */
static bool
waiter_surely_blocked(const struct waiter *w)
{
	if (w->on_barrier)
		return barrier_surely_up();
	return (pages_of(w->off, w->len) & quarantine_mask()) != 0;
}

static void
waiter_finish(struct waiter *w)
{
	struct job *j = collect(w->worker, "an acquire whose barrier or "
			"quarantine has lifted");
	w->active = false;
	if (j->rc != 0)
		MFAIL("waiting acquire [%" PRIu64 ", +%" PRIu64 ") returned "
				"%d (%s): %s", w->off, w->len, j->rc,
				pmlt_errname(j->rc), j->msg);
	struct mlease *m = w->m;
	m->l = j->out;
	m->st = S_HELD;
	m->refs = 1;
	trace("lease %d: waiting acquire returned", m->id);
}

void
waiters_progress(void)
{
	for (int i = 0; i < MAXWAIT; i++) {
		struct waiter *w = &waiters[i];
		if (!w->active)
			continue;
		if (waiter_surely_blocked(w)) {
			if (worker_done(w->worker))
				MFAIL("acquire [%" PRIu64 ", +%" PRIu64 ") "
						"returned %d while %s",
						w->off, w->len,
						workers[w->worker].job.rc,
						w->on_barrier ? "the barrier "
						"was up" : "its blocks were "
						"quarantined");
			continue;
		}
		if (!waiter_blocked(w))
			waiter_finish(w);
	}
}

int
nwaiters(void)
{
	int n = 0;
	for (int i = 0; i < MAXWAIT; i++)
		n += waiters[i].active;
	return n;
}

/* layout changes keep off the ranges acquires are waiting for */
bool
hits_waiter(uint64_t lo, uint64_t hi)
{
	for (int i = 0; i < MAXWAIT; i++)
		if (waiters[i].active && overlaps(lo, hi - lo, waiters[i].off,
				waiters[i].len))
			return true;
	return false;
}
