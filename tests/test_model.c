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
 */
#include "common.h"

#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#define NPMAX 32		/* pages the region may grow to */
#define NW 5			/* worker threads */
#define MAXL 64			/* lease slots */
#define MAXLIVE 40		/* leases held at once, at most */
#define MAXWAIT 2		/* acquires left waiting at once, at most */

static uint64_t A;

/* ---------------------------------------------------------------- leases */

/* RESERVED: a waiting acquire will fill it */
enum slot_state { S_FREE, S_HELD, S_RETIRED, S_RESERVED };

struct mlease {
	enum slot_state st;
	int id;
	struct pml_lease *l;
	uint64_t off, len;
	bool ref;
	bool auto_layout;	/* PIN that puts itself on LAYOUT */
	bool auto_revoke;	/* puts itself on REVOKED */
	int refs;		/* references the driver holds */
	bool revoked;		/* as far as the model knows */
	uint64_t qmask;		/* pages it keeps quarantined */
	atomic_int gone;	/* put from inside on_break */
	atomic_int n_layout, n_revoked, n_other;
	int layout0, revoked0;	/* counters when the current op started */
	bool revoked0_flag;
};

static struct mlease slots[MAXL];

/* the layout change under way, for the callbacks to check against */
static atomic_uint_fast64_t cb_lo, cb_hi;
static atomic_int cb_active;

static bool
overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static void
model_on_break(struct pml_lease *lease, enum pml_break_reason why, void *arg)
{
	struct mlease *m = arg;
	if (!atomic_load(&cb_active))
		pmlt_thread_fail("lease %d: on_break(%d) with no layout change "
				"under way", m->id, why);
	else if (!overlaps(m->off, m->len, atomic_load(&cb_lo),
			atomic_load(&cb_hi) - atomic_load(&cb_lo)))
		pmlt_thread_fail("lease %d [%" PRIu64 ", +%" PRIu64 "): "
				"on_break(%d) from a layout change of [%" PRIu64
				", %" PRIu64 ") it does not overlap", m->id,
				m->off, m->len, why, atomic_load(&cb_lo),
				atomic_load(&cb_hi));
	if (why == PML_BREAK_LAYOUT && m->ref)
		pmlt_thread_fail("REF lease %d got on_break(LAYOUT)", m->id);
	bool put = (why == PML_BREAK_LAYOUT && m->auto_layout) ||
		(why == PML_BREAK_REVOKED && m->auto_revoke);
	if (put && !atomic_load(&m->gone)) {
		int rc = pml_lease_put(lease);
		if (rc)
			pmlt_thread_fail("lease %d: put in on_break(%d): %d "
					"(%s)", m->id, why, rc,
					pmlt_errname(rc));
		atomic_store(&m->gone, 1);
	}
	if (why == PML_BREAK_LAYOUT)
		atomic_fetch_add(&m->n_layout, 1);
	else if (why == PML_BREAK_REVOKED)
		atomic_fetch_add(&m->n_revoked, 1);
	else
		atomic_fetch_add(&m->n_other, 1);
}

static const struct pml_lease_ops model_ops = { .on_break = model_on_break };

/* --------------------------------------------------------------- workers */

enum jtype { J_ACQUIRE, J_PUT, J_GET, J_WRITE, J_PUNCH, J_TRUNCATE };

struct job {
	enum jtype t;
	struct mlease *m;	/* J_ACQUIRE (callback arg), J_PUT, J_GET */
	struct pml_lease *l;
	uint64_t off, len;	/* J_ACQUIRE, J_PUNCH; J_TRUNCATE: off */
	unsigned flags;
	void *addr;		/* J_WRITE */
	uint8_t byte;
	struct pml_barrier_opts opts;
	int rc;
	struct pml_lease *out;
	char msg[256];		/* pml_errormsg() is per thread: the worker's */
};

struct worker {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool posted, quit;
	atomic_int done;	/* the job's call has returned */
	bool busy;		/* driver side: job not yet collected */
	struct job job;
	uint64_t done_seq;
};

static struct worker workers[NW];
static struct pml_region *R;

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

static bool
worker_done(int i)
{
	return atomic_load(&workers[i].done) != 0;
}

static struct job *
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

/* ----------------------------------------------------------------- model */

static char path[4200];
static uint8_t model[NPMAX * 4096 * 16];	/* sized at run time below */
static uint8_t *base;
static uint64_t S;		/* region size, pages * A */
static uint64_t lifting;	/* pages whose lift waits for the op's end */
static uint64_t step, nsteps;
static uint8_t *filebuf;

enum mode { M_NOTIMEOUT, M_LONG, M_FAIL, M_REVOKE };
static const char *const mode_name[] = { "no-timeout", "long-timeout",
	"FAIL-timeout", "REVOKE-timeout" };

struct op {
	bool pending;
	bool shrink;
	uint64_t lo, hi;	/* the barrier's range */
	enum mode mode;
	int worker;
	struct mlease *block[MAXL];	/* leases it must wait for */
	int nblock;
	struct mlease *autos[MAXL];	/* PINs that put themselves */
	int nautos;
	uint64_t started;	/* step */
	uint64_t wait_after;	/* steps before the driver waits for it */
};
static struct op op;

struct waiter {
	bool active;
	int worker;
	uint64_t off, len;
	unsigned flags;
	struct mlease *m;	/* the slot it will fill */
	bool on_barrier;	/* waits for the op, else for quarantine */
};
static struct waiter waiters[MAXWAIT];

struct stats {
	uint64_t acquire, acquire_eagain, waiters, put, get, get_estale,
		 write, scribble, punch[4], shrink[4], grow, revoked,
		 timedout, lifted_pages;
};
static struct stats st;

static uint64_t
pages_of(uint64_t off, uint64_t len)
{
	uint64_t first = off / A, last = (off + len - 1) / A;
	uint64_t m = 0;
	for (uint64_t p = first; p <= last && p < 64; p++)
		m |= 1ULL << p;
	return m;
}

static uint64_t
op_mask(void)
{
	return op.pending ? pages_of(op.lo, op.hi - op.lo) : 0;
}

/* pages some revoked lease not yet put keeps */
static uint64_t
quarantine_mask(void)
{
	uint64_t m = 0;
	for (int i = 0; i < MAXL; i++)
		if (slots[i].st == S_HELD && slots[i].revoked)
			m |= slots[i].qmask;
	return m;
}

static int
nheld(void)
{
	int n = 0;
	for (int i = 0; i < MAXL; i++)
		n += slots[i].st == S_HELD;
	return n;
}

static bool
in_block(const struct mlease *m)
{
	for (int i = 0; i < op.nblock; i++)
		if (op.block[i] == m)
			return true;
	return false;
}

static int
nblock_held(void)
{
	int n = 0;
	for (int i = 0; i < op.nblock; i++)
		n += op.block[i]->st == S_HELD;
	return n;
}

/* the driver must not touch it: the op may break or revoke it any time */
static bool
frozen(const struct mlease *m)
{
	if (!op.pending || !overlaps(m->off, m->len, op.lo, op.hi - op.lo))
		return false;
	return m->auto_layout || op.mode == M_FAIL || op.mode == M_REVOKE;
}

/* is the barrier certainly up, and certainly staying up for now */
static bool
barrier_surely_up(void)
{
	if (!op.pending || (op.mode != M_NOTIMEOUT && op.mode != M_LONG))
		return false;
	for (int i = 0; i < op.nblock; i++) {
		struct mlease *m = op.block[i];
		if (m->st == S_HELD && !m->ref && !m->revoked &&
				atomic_load(&m->n_layout) > m->layout0)
			return true;
	}
	return false;
}

static void
retire(struct mlease *m)
{
	m->st = S_RETIRED;
}

/* slots are reused only between layout changes: late callbacks are safe */
static void
free_retired(void)
{
	if (op.pending)
		return;
	for (int i = 0; i < MAXL; i++)
		if (slots[i].st == S_RETIRED)
			slots[i].st = S_FREE;
}

static struct mlease *
new_slot(void)
{
	for (int i = 0; i < MAXL; i++)
		if (slots[i].st == S_FREE) {
			struct mlease *m = &slots[i];
			int id = m->id;
			memset(m, 0, sizeof(*m));
			m->id = id;
			atomic_init(&m->gone, 0);
			atomic_init(&m->n_layout, 0);
			atomic_init(&m->n_revoked, 0);
			atomic_init(&m->n_other, 0);
			return m;
		}
	return NULL;
}

/* a page no revoked lease keeps any more: handed back, reads zero */
static void
pages_released(uint64_t mask)
{
	uint64_t still = quarantine_mask();
	for (uint64_t p = 0; p < NPMAX; p++) {
		if (!(mask & (1ULL << p)) || (still & (1ULL << p)))
			continue;
		if (op.pending) {
			lifting |= 1ULL << p;
		} else {
			memset(model + p * A, 0, A);
			st.lifted_pages++;
		}
	}
}

/* the last steps, printed when the model and the library disagree */
#define NTRACE 48
static char trace_buf[NTRACE][160];
static uint64_t ntrace;

static void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
trace(const char *fmt, ...)
{
	char *b = trace_buf[ntrace++ % NTRACE];
	int n = snprintf(b, 160, "%6" PRIu64 ": ", step);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b + n, (size_t)(160 - n), fmt, ap);
	va_end(ap);
	if (getenv("PML_TEST_TRACE"))
		fprintf(stderr, "%s\n", b);
}

static void
dump_trace(void)
{
	uint64_t from = ntrace > NTRACE ? ntrace - NTRACE : 0;
	fprintf(stderr, "last steps (page = %" PRIu64 " bytes):\n", A);
	for (uint64_t i = from; i < ntrace; i++)
		fprintf(stderr, "  %s\n", trace_buf[i % NTRACE]);
}

#define MFAIL(...) do { \
	dump_trace(); \
	fprintf(stderr, "step %" PRIu64 " of %" PRIu64 ": ", step, nsteps); \
	fail_msg(__VA_ARGS__); \
} while (0)

/* -------------------------------------------------------------- checking */

static void
compare(void)
{
	uint64_t skip = quarantine_mask() | lifting | op_mask();
	uint64_t npages = S / A;
	pmlt_read_file(path, 0, filebuf, S);
	for (uint64_t p = 0; p < npages; p++) {
		if (skip & (1ULL << p))
			continue;
		if (memcmp(base + p * A, model + p * A, A)) {
			uint64_t i = 0;
			while (base[p * A + i] == model[p * A + i])
				i++;
			MFAIL("mapped byte %" PRIu64 " is %#x, the model says "
					"%#x", p * A + i, base[p * A + i],
					model[p * A + i]);
		}
		if (memcmp(filebuf + p * A, model + p * A, A)) {
			uint64_t i = 0;
			while (filebuf[p * A + i] == model[p * A + i])
				i++;
			MFAIL("file byte %" PRIu64 " is %#x, the model says "
					"%#x", p * A + i, filebuf[p * A + i],
					model[p * A + i]);
		}
	}
	if (op.pending)
		return;
	if (pml_region_size(R) != S)
		MFAIL("region size %" PRIu64 ", the model says %" PRIu64,
				pml_region_size(R), S);
	uint64_t qm = quarantine_mask();
	uint64_t q = UINT64_MAX;
	PMLT_OK(pml_region_quarantined(&q, R));
	if (q != (uint64_t)__builtin_popcountll(qm) * A)
		MFAIL("%" PRIu64 " bytes quarantined, the model says %d "
				"pages (%#" PRIx64 ")", q,
				__builtin_popcountll(qm), qm);
	uint64_t fs = pmlt_file_size(path);
	if (qm == 0 && fs != S)
		MFAIL("file size %" PRIu64 ", region size %" PRIu64 " and "
				"nothing quarantined", fs, S);
	uint64_t qend = qm ? (64 - (uint64_t)__builtin_clzll(qm)) * A : 0;
	if (qm && (fs < qend || fs < S))
		MFAIL("file size %" PRIu64 " below the region (%" PRIu64 ") "
				"or the quarantined tail (%" PRIu64 ")", fs, S,
				qend);
}

static void
check_leases(void)
{
	for (int i = 0; i < MAXL; i++) {
		struct mlease *m = &slots[i];
		if (m->st != S_HELD || frozen(m))
			continue;
		int rv = pml_lease_revoked(m->l);
		if (rv != (m->revoked ? 1 : 0))
			MFAIL("lease %d: pml_lease_revoked %d, the model says "
					"%d", m->id, rv, m->revoked);
		if (pml_lease_addr(m->l) != base + m->off)
			MFAIL("lease %d: address moved", m->id);
		if (!m->revoked && atomic_load(&m->n_revoked))
			MFAIL("lease %d: on_break(REVOKED) but not revoked",
					m->id);
	}
}

/* ------------------------------------------------------- op completion */

static void waiters_progress(void);

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
static void
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

static void
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

static int
nwaiters(void)
{
	int n = 0;
	for (int i = 0; i < MAXWAIT; i++)
		n += waiters[i].active;
	return n;
}

/* layout changes keep off the ranges acquires are waiting for */
static bool
hits_waiter(uint64_t lo, uint64_t hi)
{
	for (int i = 0; i < MAXWAIT; i++)
		if (waiters[i].active && overlaps(lo, hi - lo, waiters[i].off,
				waiters[i].len))
			return true;
	return false;
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
