/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_model -- a randomized run of interleaved acquire / get / put /
 * write / punch / truncate (grow and shrink) from several threads, checked
 * after every step against a reference model of the file.
 *
 * A driver thread decides every step and hands it to one of a few worker
 * threads, so that a punch or a shrink can sit blocked in a worker while
 * the others keep acquiring, writing and putting elsewhere.  The model
 * is updated when an operation completes.  After every step the region's
 * mapping and the file (pread) are compared with the model, and when no
 * layout change is under way so are the region's size, the file's size and
 * the quarantined byte count.
 *
 * The driver only makes moves whose outcome is certain, so that the model
 * can say what must happen:
 *   - a layout change runs in one of four modes: no timeout or a very long
 *     one (the driver puts the blocking leases, one step at a time, and the
 *     call must return 0 after, and only after, the last of them); or a
 *     short timeout with FAIL or REVOKE, where the driver leaves the
 *     blocking leases alone, so the call must time out: -ETIMEDOUT and
 *     nothing changed, or 0 with those leases revoked and their blocks
 *     quarantined;
 *   - a layout change over a revoked lease always uses a short REVOKE;
 *   - an acquire over a range a barrier covers is only tried when the
 *     barrier is certainly up and certainly stays up (a PIN that is still
 *     held got on_break(LAYOUT)): NOWAIT must say -EAGAIN, a waiting one
 *     must not return before the barrier drops;
 *   - over quarantined blocks NOWAIT must say -EAGAIN and a waiting acquire
 *     must not return before the last revoked put over them;
 *   - holders of revoked leases keep scribbling on their quarantined
 *     blocks (a device that did not stop): nobody may ever see it.
 * Some PINs put themselves from on_break(LAYOUT), some leases from
 * on_break(REVOKED).
 *
 * PML_TEST_SEED reproduces a run's decisions (thread timing aside);
 * PML_TEST_MODEL_OPS sets the number of steps (default 12000, scaled by
 * PML_TEST_SCALE).
 *
 * This file is the driver: the worker threads, the random steps and the
 * run.  The reference model and its comparison with the region are in
 * model.c; what the layout change and the waiting acquires under way may
 * and must do, and what the model learns when they return, in
 * model_pending.c; model.h is what the three share.
 */
#include "model.h"

#include <stdlib.h>
#include <unistd.h>

/* --------------------------------------------------------------- workers */

struct worker workers[NW];

static void
run_job(struct job *j)
{
	switch (j->t) {
	case J_ACQUIRE:
		j->rc = pml_lease_acquire(&j->out, R, j->off, j->len, j->flags,
				&model_ops, j->m);
		break;
	case J_PUT:
		j->rc = pml_lease_put(j->l);
		break;
	case J_GET:
		j->rc = pml_lease_get(j->l);
		break;
	case J_WRITE:
		memset(j->addr, j->byte, j->len);
		j->rc = 0;
		break;
	case J_PUNCH:
		j->rc = pml_region_punch(R, j->off, j->len, &j->opts);
		break;
	case J_TRUNCATE:
		j->rc = pml_region_truncate(R, j->off, &j->opts);
		break;
	}
	snprintf(j->msg, sizeof(j->msg), "%s",
			j->rc < 0 ? pml_errormsg() : "");
}

static void *
worker_main(void *p)
{
	struct worker *w = p;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->posted && !w->quit)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->quit)
			break;
		w->posted = false;
		pthread_mutex_unlock(&w->mu);
		run_job(&w->job);
		w->done_seq = pmlt_seq_next();
		atomic_store(&w->done, 1);
		pmlt_event();
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static struct pmlt_rng rng;

static int
post(const struct job *j)
{
	int free_w[NW], n = 0;
	for (int i = 0; i < NW; i++)
		if (!workers[i].busy)
			free_w[n++] = i;
	if (n == 0)
		fail_msg("no idle worker (driver bug)");
	int i = free_w[pmlt_below(&rng, (uint64_t)n)];
	struct worker *w = &workers[i];
	pthread_mutex_lock(&w->mu);
	w->job = *j;
	atomic_store(&w->done, 0);
	w->posted = true;
	w->busy = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return i;
}

static bool
worker_done_pred(void *p)
{
	return atomic_load(&((struct worker *)p)->done) != 0;
}

bool
worker_done(int i)
{
	return atomic_load(&workers[i].done) != 0;
}

struct job *
collect(int i, const char *what)
{
	pmlt_wait_for(worker_done_pred, &workers[i], what);
	workers[i].busy = false;
	return &workers[i].job;
}

static int
run_sync(struct job *j, const char *what)
{
	int i = post(j);
	*j = *collect(i, what);
	return j->rc;
}

/* ----------------------------------------------------------------- steps */

static struct mlease *
pick_lease(bool (*ok)(const struct mlease *))
{
	struct mlease *c[MAXL];
	int n = 0;
	for (int i = 0; i < MAXL; i++)
		if (slots[i].st == S_HELD && !frozen(&slots[i]) &&
				ok(&slots[i]))
			c[n++] = &slots[i];
	return n ? c[pmlt_below(&rng, (uint64_t)n)] : NULL;
}

static bool
any_lease(const struct mlease *m)
{
	(void)m;
	return true;
}

static bool
live_lease(const struct mlease *m)
{
	return !m->revoked;
}

static bool
revoked_lease(const struct mlease *m)
{
	return m->revoked;
}

static void
random_range(uint64_t *off, uint64_t *len)
{
	*off = pmlt_below(&rng, S);
	uint64_t room = S - *off;
	static const uint64_t sizes[] = { 16, 512, 1, 1, 3, 8, NPMAX };
	uint64_t k = sizes[pmlt_below(&rng, 7)];
	uint64_t max = k == 16 ? 16 : k == 512 ? 512 : k * A;
	if (max > room)
		max = room;
	*len = 1 + pmlt_below(&rng, max);
}

static void
step_acquire(void)
{
	if (S == 0 || nheld() >= MAXLIVE)
		return;
	uint64_t off, len;
	random_range(&off, &len);
	uint64_t pm = pages_of(off, len);
	bool on_op = op.pending && overlaps(off, len, op.lo, op.hi - op.lo);
	bool on_q = (pm & quarantine_mask()) != 0;
	bool on_lift = (pm & lifting) != 0;
	unsigned kind = pmlt_below(&rng, 3) == 0 ? PML_LEASE_REF :
		PML_LEASE_PIN;
	struct job j = { .t = J_ACQUIRE, .off = off, .len = len };

	if (on_lift)
		return;
	if (on_q || on_op) {
		/* a shrink that may be over already has moved the end */
		bool sure = (on_q && !(on_op && op.shrink)) ||
			barrier_surely_up();
		if (!sure)
			return;
		bool can_wait = nwaiters() < MAXWAIT && (on_q ? !on_op :
				(!op.shrink && !(pm & quarantine_mask())));
		if (!can_wait || pmlt_below(&rng, 2)) {
			struct mlease *m = new_slot();
			if (!m)
				return;
			j.m = m;
			j.flags = kind | PML_LEASE_NOWAIT;
			int rc = run_sync(&j, "NOWAIT acquire");
			if (rc != -EAGAIN)
				MFAIL("NOWAIT acquire [%" PRIu64 ", +%" PRIu64
						") over %s: %d (%s), expected "
						"-EAGAIN", off, len, on_q ?
						"a quarantine" :
						"a raised barrier", rc,
						pmlt_errname(rc));
			trace("NOWAIT acquire [%#" PRIx64 ", +%#" PRIx64 ") -> "
					"-EAGAIN (%s)", off, len, on_q ?
					"quarantine" : "barrier");
			st.acquire_eagain++;
			return;
		}
		struct waiter *w = NULL;
		for (int i = 0; i < MAXWAIT; i++)
			if (!waiters[i].active)
				w = &waiters[i];
		struct mlease *m = new_slot();
		if (!m)
			return;
		m->st = S_RESERVED;
		m->off = off;
		m->len = len;
		m->ref = kind == PML_LEASE_REF;
		j.m = m;
		j.flags = kind;
		*w = (struct waiter){ true, post(&j), off, len, kind, m,
			!on_q };
		trace("lease %d: waiting acquire [%#" PRIx64 ", +%#" PRIx64
				") on %s", m->id, off, len, on_q ? "quarantine" :
				"barrier");
		st.waiters++;
		return;
	}

	struct mlease *m = new_slot();
	if (!m)
		return;
	m->off = off;
	m->len = len;
	m->ref = kind == PML_LEASE_REF;
	m->auto_layout = !m->ref && pmlt_below(&rng, 4) == 0;
	m->auto_revoke = pmlt_below(&rng, 5) == 0;
	j.m = m;
	j.flags = kind | (pmlt_below(&rng, 2) ? PML_LEASE_NOWAIT : 0);
	int rc = run_sync(&j, "acquire");
	if (rc)
		MFAIL("acquire [%" PRIu64 ", +%" PRIu64 ") flags %u: %d (%s): "
				"%s", off, len, j.flags, rc, pmlt_errname(rc),
				j.msg);
	if (j.out == NULL || pml_lease_addr(j.out) != base + off)
		MFAIL("acquire gave a lease at the wrong address");
	m->l = j.out;
	m->refs = 1;
	m->st = S_HELD;
	trace("lease %d: acquire %s [%#" PRIx64 ", +%#" PRIx64 ")%s%s", m->id,
			m->ref ? "REF" : "PIN", off, len, m->auto_layout ?
			" put-on-layout" : "", m->auto_revoke ?
			" put-on-revoke" : "");
	st.acquire++;
}

static void
step_put(void)
{
	struct mlease *m = pick_lease(any_lease);
	if (!m)
		return;
	bool blocking = op.pending && in_block(m);
	if (blocking)
		op_progress(false);	/* must not be done yet */
	struct job j = { .t = J_PUT, .l = m->l };
	int rc = run_sync(&j, "put");
	if (rc)
		MFAIL("put of lease %d: %d (%s): %s", m->id, rc,
				pmlt_errname(rc), j.msg);
	st.put++;
	trace("lease %d: put (%d refs left)%s", m->id, m->refs - 1,
			m->revoked ? " revoked" : "");
	if (--m->refs > 0)
		return;
	retire(m);
	if (m->revoked)
		pages_released(m->qmask);
	free_retired();
	waiters_progress();
}

/* a self-putting lease's callback drops one reference: keep it at one */
static bool
gettable_lease(const struct mlease *m)
{
	return !m->auto_layout && !m->auto_revoke;
}

static void
step_get(void)
{
	struct mlease *m = pick_lease(gettable_lease);
	if (!m)
		return;
	struct job j = { .t = J_GET, .l = m->l };
	int rc = run_sync(&j, "get");
	if (m->revoked) {
		if (rc != -ESTALE)
			MFAIL("get on revoked lease %d: %d (%s), expected "
					"-ESTALE", m->id, rc, pmlt_errname(rc));
		st.get_estale++;
		return;
	}
	if (rc)
		MFAIL("get on lease %d: %d (%s)", m->id, rc, pmlt_errname(rc));
	m->refs++;
	trace("lease %d: get", m->id);
	st.get++;
}

static void
step_write(void)
{
	struct mlease *m = pick_lease(live_lease);
	if (!m)
		return;
	uint64_t o = pmlt_below(&rng, m->len);
	uint64_t n = 1 + pmlt_below(&rng, m->len - o);
	uint8_t b = (uint8_t)(1 + pmlt_below(&rng, 255));
	struct job j = { .t = J_WRITE, .addr = base + m->off + o, .len = n,
		.byte = b };
	run_sync(&j, "write under a lease");
	memset(model + m->off + o, b, n);
	trace("lease %d: write %#x to [%#" PRIx64 ", +%#" PRIx64 ")", m->id, b,
			m->off + o, n);
	st.write++;
}

/* a revoked holder that keeps writing onto its quarantined blocks */
static void
step_scribble(void)
{
	struct mlease *m = pick_lease(revoked_lease);
	if (!m)
		return;
	for (uint64_t p = 0; p < NPMAX; p++) {
		if (!(m->qmask & (1ULL << p)))
			continue;
		uint64_t lo = p * A > m->off ? p * A : m->off;
		uint64_t hi = (p + 1) * A < m->off + m->len ? (p + 1) * A :
			m->off + m->len;
		struct job j = { .t = J_WRITE, .addr = base + lo,
			.len = hi - lo, .byte = 0xee };
		run_sync(&j, "scribble through a revoked lease");
	}
	trace("lease %d: scribble on pages %#" PRIx64, m->id, m->qmask);
	st.scribble++;
}

static void
start_layout(bool shrink, uint64_t lo, uint64_t hi)
{
	/* the leases it will meet: self-putting PINs, and the rest */
	op = (struct op){ .pending = true, .shrink = shrink, .lo = lo,
		.hi = hi };
	bool over_revoked = false;
	for (int i = 0; i < MAXL; i++) {
		struct mlease *m = &slots[i];
		if (m->st != S_HELD || !overlaps(m->off, m->len, lo, hi - lo))
			continue;
		m->layout0 = atomic_load(&m->n_layout);
		m->revoked0 = atomic_load(&m->n_revoked);
		m->revoked0_flag = m->revoked;
		over_revoked |= m->revoked;
		if (m->auto_layout && !m->revoked)
			op.autos[op.nautos++] = m;
		else
			op.block[op.nblock++] = m;
	}
	if (over_revoked || (pages_of(lo, hi - lo) & quarantine_mask()))
		op.mode = M_REVOKE;
	else
		op.mode = (enum mode)pmlt_below(&rng, 4);
	struct job j = { .t = shrink ? J_TRUNCATE : J_PUNCH, .off = lo,
		.len = hi - lo };
	switch (op.mode) {
	case M_NOTIMEOUT:
		break;
	case M_LONG:
		j.opts.timeout_ms = 600000;
		j.opts.on_timeout = pmlt_below(&rng, 2) ?
			PML_ON_TIMEOUT_REVOKE : PML_ON_TIMEOUT_FAIL;
		break;
	case M_FAIL:
		j.opts.timeout_ms = 1 + (uint32_t)pmlt_below(&rng, 15);
		break;
	case M_REVOKE:
		j.opts.timeout_ms = 1 + (uint32_t)pmlt_below(&rng, 15);
		j.opts.on_timeout = PML_ON_TIMEOUT_REVOKE;
		break;
	}
	if (shrink) {
		j.off = lo;
		st.shrink[op.mode]++;
	} else {
		st.punch[op.mode]++;
	}
	op.started = step;
	op.wait_after = pmlt_below(&rng, 8);
	atomic_store(&cb_lo, lo);
	atomic_store(&cb_hi, hi);
	atomic_store(&cb_active, 1);
	op.worker = post(&j);
	trace("%s %s [%#" PRIx64 ", %#" PRIx64 ") timeout %u: %d blocking, "
			"%d self-putting", mode_name[op.mode], shrink ?
			"shrink" : "punch", lo, hi, j.opts.timeout_ms,
			op.nblock, op.nautos);
}

static void
step_punch(void)
{
	if (op.pending || S == 0)
		return;
	uint64_t np = S / A;
	uint64_t first = pmlt_below(&rng, np);
	uint64_t n = 1 + pmlt_below(&rng, pmlt_below(&rng, 4) ? 3 :
			np - first);
	if (first + n > np)
		n = np - first;
	if (hits_waiter(first * A, (first + n) * A))
		return;
	start_layout(false, first * A, (first + n) * A);
}

static void
step_truncate(void)
{
	if (op.pending)
		return;
	uint64_t np = S / A;
	if (pmlt_below(&rng, 2) || np == 0) {
		if (np == NPMAX)
			return;
		uint64_t nn = np + 1 + pmlt_below(&rng, NPMAX - np);
		struct job j = { .t = J_TRUNCATE, .off = nn * A };
		int rc = run_sync(&j, "grow");
		if (rc)
			MFAIL("grow to %" PRIu64 ": %d (%s): %s", nn * A, rc,
					pmlt_errname(rc), j.msg);
		if (pml_region_base(R) != base)
			MFAIL("growth moved the base");
		/* the model already holds zeroes past the old end */
		S = nn * A;
		trace("grow to %#" PRIx64, S);
		st.grow++;
		return;
	}
	uint64_t low = 0;
	for (int i = 0; i < MAXWAIT; i++)
		if (waiters[i].active && waiters[i].off + waiters[i].len > low)
			low = waiters[i].off + waiters[i].len;
	uint64_t lowp = (low + A - 1) / A;
	if (lowp >= np)
		return;
	uint64_t nn = lowp + pmlt_below(&rng, np - lowp);
	start_layout(true, nn * A, S);
}

static void
one_step(void)
{
	uint64_t r = pmlt_below(&rng, 100);
	if (r < 30)
		step_acquire();
	else if (r < 55)
		step_put();
	else if (r < 61)
		step_get();
	else if (r < 76)
		step_write();
	else if (r < 80)
		step_scribble();
	else if (r < 90)
		step_punch();
	else
		step_truncate();
	PMLT_CHECK_THREADS();
	op_progress(false);
	waiters_progress();
	PMLT_CHECK_THREADS();
	compare();
	check_leases();
}

/* put everything, let everything finish, and check the end state */
static void
drain_all(void)
{
	for (int guard = 0; guard < 100000; guard++) {
		bool any = false;
		for (int i = 0; i < MAXL; i++) {
			struct mlease *m = &slots[i];
			if (m->st != S_HELD || frozen(m))
				continue;
			any = true;
			step_put();
			break;
		}
		if (op.pending) {
			any = true;
			op_progress(!(op.mode == M_NOTIMEOUT ||
					op.mode == M_LONG));
		}
		if (nwaiters())
			any = true;
		if (!any)
			break;
		compare();
	}
	PMLT_CHECK_THREADS();
	if (nheld() || op.pending || nwaiters())
		MFAIL("could not drain: %d leases, op %d, %d waiters", nheld(),
				op.pending, nwaiters());
	compare();
	uint64_t q = 1;
	PMLT_OK(pml_region_quarantined(&q, R));
	assert_int_equal(q, 0);
	assert_int_equal(pmlt_file_size(path), S);
}

static void
test_model(void **state)
{
	(void)state;
	A = pmlt_probe_alignment();
	if (A * NPMAX > sizeof(model))
		skip();
	pmlt_die_hook = dump_trace;
	uint64_t seed = pmlt_seed("test_model");
	rng.s = seed;
	const char *ops_env = getenv("PML_TEST_MODEL_OPS");
	nsteps = ops_env && *ops_env ? strtoull(ops_env, NULL, 0) :
		pmlt_scaled(12000);

	pmlt_path(path, sizeof(path), "model");
	S = 16 * A;
	pmlt_make_file(path, S, 17);
	pmlt_fill_pattern(model, 0, S, 17);
	R = pmlt_open(path, NPMAX * A, 0);
	base = pml_region_base(R);
	filebuf = malloc(NPMAX * A);
	for (int i = 0; i < MAXL; i++)
		slots[i].id = i;
	for (int i = 0; i < NW; i++) {
		pthread_mutex_init(&workers[i].mu, NULL);
		pthread_cond_init(&workers[i].cv, NULL);
		pthread_create(&workers[i].th, NULL, worker_main, &workers[i]);
	}

	uint64_t t0 = pmlt_now_ns();
	for (step = 0; step < nsteps; step++)
		one_step();
	drain_all();
	double secs = (double)(pmlt_now_ns() - t0) / 1e9;

	for (int i = 0; i < NW; i++) {
		pthread_mutex_lock(&workers[i].mu);
		workers[i].quit = true;
		pthread_cond_signal(&workers[i].cv);
		pthread_mutex_unlock(&workers[i].mu);
		pthread_join(workers[i].th, NULL);
	}
	pmlt_close(&R);
	free(filebuf);
	unlink(path);

	printf("test_model: %" PRIu64 " steps in %.1f s: %" PRIu64
			" acquires, %" PRIu64 " NOWAIT -EAGAIN, %" PRIu64
			" waiting acquires, %" PRIu64 " puts, %" PRIu64
			" gets (+%" PRIu64 " -ESTALE), %" PRIu64 " writes, %"
			PRIu64 " scribbles, %" PRIu64 " grows\n", nsteps, secs,
			st.acquire, st.acquire_eagain, st.waiters, st.put,
			st.get, st.get_estale, st.write, st.scribble, st.grow);
	for (int m = 0; m < 4; m++)
		printf("test_model:   %-15s %5" PRIu64 " punches, %5" PRIu64
				" shrinks\n", mode_name[m], st.punch[m],
				st.shrink[m]);
	printf("test_model:   %" PRIu64 " leases revoked, %" PRIu64
			" timed out, %" PRIu64 " quarantined pages lifted\n",
			st.revoked, st.timedout, st.lifted_pages);
	/* a run that never got to the interesting cases proves little */
	if (nsteps >= 5000 && (st.revoked == 0 || st.timedout == 0 ||
			st.lifted_pages == 0 || st.waiters == 0 ||
			st.acquire_eagain == 0))
		fail_msg("the run did not exercise revoke, timeout, lifting, "
				"waiting and -EAGAIN each at least once");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model),
	};
	return PMLT_RUN("test_model", tests);
}
