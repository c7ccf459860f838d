/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * model.c -- test_model's reference model: what the file must hold, which
 * leases are held, revoked or quarantining which pages, and the layout
 * change under way; the lease callback that records what each lease was
 * told; and the comparison of the region's mapping, the file and the
 * region's counters with the model after every step.
 */
#include "model.h"

#include <stdlib.h>

uint64_t A;

/* ---------------------------------------------------------------- leases */

struct mlease slots[MAXL];

/* the layout change under way, for the callbacks to check against */
atomic_uint_fast64_t cb_lo, cb_hi;
atomic_int cb_active;

bool
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

const struct pml_lease_ops model_ops = { .on_break = model_on_break };

/* ----------------------------------------------------------------- model */

struct pml_region *R;
char path[4200];
uint8_t model[NPMAX * 4096 * 16];	/* A is known at run time: see
					 * test_model() */
uint8_t *base;
uint64_t S;		/* region size, pages * A */
uint64_t lifting;	/* pages whose lift waits for the op's end */
uint64_t step, nsteps;
uint8_t *filebuf;

const char *const mode_name[4] = { "no-timeout", "long-timeout",
	"FAIL-timeout", "REVOKE-timeout" };

struct op op;
struct stats st;

uint64_t
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
uint64_t
quarantine_mask(void)
{
	uint64_t m = 0;
	for (int i = 0; i < MAXL; i++)
		if (slots[i].st == S_HELD && slots[i].revoked)
			m |= slots[i].qmask;
	return m;
}

int
nheld(void)
{
	int n = 0;
	for (int i = 0; i < MAXL; i++)
		n += slots[i].st == S_HELD;
	return n;
}

bool
in_block(const struct mlease *m)
{
	for (int i = 0; i < op.nblock; i++)
		if (op.block[i] == m)
			return true;
	return false;
}

int
nblock_held(void)
{
	int n = 0;
	for (int i = 0; i < op.nblock; i++)
		n += op.block[i]->st == S_HELD;
	return n;
}

/* the driver must not touch it: the op may break or revoke it any time */
bool
frozen(const struct mlease *m)
{
	if (!op.pending || !overlaps(m->off, m->len, op.lo, op.hi - op.lo))
		return false;
	return m->auto_layout || op.mode == M_FAIL || op.mode == M_REVOKE;
}

/* is the barrier certainly up, and certainly staying up for now */
bool
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

void
retire(struct mlease *m)
{
	m->st = S_RETIRED;
}

/* slots are reused only between layout changes: late callbacks are safe */
void
free_retired(void)
{
	if (op.pending)
		return;
	for (int i = 0; i < MAXL; i++)
		if (slots[i].st == S_RETIRED)
			slots[i].st = S_FREE;
}

struct mlease *
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
void
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

void
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

void
dump_trace(void)
{
	uint64_t from = ntrace > NTRACE ? ntrace - NTRACE : 0;
	fprintf(stderr, "last steps (page = %" PRIu64 " bytes):\n", A);
	for (uint64_t i = from; i < ntrace; i++)
		fprintf(stderr, "  %s\n", trace_buf[i % NTRACE]);
}

/* -------------------------------------------------------------- checking */

void
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

void
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
