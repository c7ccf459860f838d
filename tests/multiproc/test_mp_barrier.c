/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_mp_barrier -- the barrier across processes.
 *
 * Process A is this test program; B is the helper program (holder.c),
 * exec'd and driven through a pipe.  Both open the same data file, so they
 * share its lease state through the state file in a private runtime
 * directory.  Checked:
 *   - a punch in A waits for a PIN held in B; B's on_break runs in B; A's
 *     punch returns after B's put; B's acquires on the range wait (NOWAIT:
 *     -EAGAIN) while acquires elsewhere proceed;
 *   - PML_ON_TIMEOUT_FAIL across processes changes nothing;
 *   - PML_ON_TIMEOUT_REVOKE across processes: B is told in B, its blocks
 *     are quarantined until its put, then deallocated and read zero;
 *   - growth and shrinking are seen by every process at once;
 *   - and, over many rounds because they are races: an acquire waiting in
 *     the part a shrink cuts is refused, never let in against the old
 *     size; B's size right after A's truncate, and right after B's own
 *     growth, is the new one; B's NOWAIT acquire right after A's punch
 *     gave up is not refused; a growth after a shrink elsewhere really
 *     extends the file.
 */
#include "mp.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared.h"

#define EV_MS (5000 * mp_slow())

struct layout_call {
	struct pml_region *r;
	uint64_t off, len;	/* len 0: truncate to off */
	struct pml_barrier_opts o;
};

static int
layout_fn(void *p)
{
	struct layout_call *c = p;

	if (c->len == 0)
		return pml_region_truncate(c->r, c->off, &c->o);
	return pml_region_punch(c->r, c->off, c->len, &c->o);
}

/* an on_break event of lease id: its reason; it must have run in p */
static int
break_in(struct mp_proc *p, int id, const char *when)
{
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "break %d ", id);

	const char *e = mp_event(p, prefix, EV_MS);
	pid_t pid = (pid_t)mp_field(e, 3);

	printf("  %s: on_break in %s: %s\n", when, p->name, e);
	if (pid != p->pid)
		fail_msg("%s: on_break of %s's lease %d ran in pid %d, not in "
				"%s (pid %d)", when, p->name, id, (int)pid,
				p->name, (int)p->pid);
	return (int)mp_field(e, 2);
}

/* the data file reads the setup pattern outside [off, off + len) */
static void
pattern_outside(struct mp_fix *f, uint64_t off, uint64_t len)
{
	uint64_t size = pmlt_file_size(f->path);
	uint8_t *buf = malloc(size);

	pmlt_read_file(f->path, 0, buf, size);
	for (uint64_t i = 0; i < size; i++) {
		if (i >= off && i < off + len)
			continue;
		if (buf[i] != mp_pattern(MP_FILE_SEED, i)) {
			free(buf);
			fail_msg("file byte %" PRIu64 " (outside [%" PRIu64 ", %"
					PRIu64 ")) changed", i, off, off + len);
		}
	}
	free(buf);
}

static void
zero_in_file(struct mp_fix *f, uint64_t off, uint64_t len)
{
	uint8_t *buf = malloc(len);

	pmlt_read_file(f->path, off, buf, len);

	int64_t nz = pmlt_find_nonzero(buf, len);

	free(buf);
	if (nz >= 0)
		fail_msg("file byte %" PRIu64 " is not zero after the punch",
				off + (uint64_t)nz);
}

/* ------------------------------------------------------------ tests */

static void
test_punch_waits_for_pin_in_other_process(void **state)
{
	struct mp_fix *f = *state;
	uint64_t A = f->A;

	mp_open_here(f);
	mp_spawn_open(f, &f->b, "B");
	mp_ok(&f->b, "acq 1 %" PRIu64 " %" PRIu64 " 0 keep", 4 * A, 2 * A);

	struct layout_call pc = { f->r, 4 * A, 4 * A, mp_long() };

	pmlt_async_start(&f->async, layout_fn, &pc);
	assert_int_equal(break_in(&f->b, 1, "punch in A"), PML_BREAK_LAYOUT);

	/* while A's barrier is up: B's acquires on the range wait... */
	PMLT_RC(-EAGAIN, mp_cmd(&f->b, "acq 2 %" PRIu64 " 1 %u none", 5 * A,
			PML_LEASE_NOWAIT));
	PMLT_RC(-EAGAIN, mp_cmd(&f->b, "acq 2 %" PRIu64 " %" PRIu64 " %u none",
			8 * A - 1, A, PML_LEASE_NOWAIT | PML_LEASE_REF));
	/* ...acquires elsewhere proceed, right up to the range's edges */
	mp_ok(&f->b, "acq 3 %" PRIu64 " %" PRIu64 " 0 none", 3 * A, A);
	mp_ok(&f->b, "put 3");
	mp_ok(&f->b, "acq 3 %" PRIu64 " %" PRIu64 " %u none", 8 * A, 2 * A,
			PML_LEASE_REF);
	mp_ok(&f->b, "put 3");
	/* a blocking acquire on the range in B: it must wait */
	mp_ok(&f->b, "aacq w 4 %" PRIu64 " %" PRIu64 " 0 none", 6 * A, A);

	pmlt_sleep_ms(200);
	if (pmlt_async_is_done(&f->async))
		fail_msg("A's punch returned %d while B still holds its PIN",
				f->async.rc);
	if (mp_event_try(&f->b, "done w ", 0))
		fail_msg("B's acquire on the range returned while A's punch "
				"waits");

	uint64_t t_put = pmlt_now_ns();

	mp_ok(&f->b, "put 1");

	uint64_t t_put_ret = pmlt_now_ns();

	PMLT_RC(0, pmlt_async_finish(&f->async, "A's punch after B's put"));
	printf("  A's punch returned %.3f ms after B was told to put (B's put "
			"took %.3f ms round trip)\n",
			(double)(f->async.done_ns - t_put) / 1e6,
			(double)(t_put_ret - t_put) / 1e6);

	/* B's waiting acquire went through after the punch: it reads zero */
	const char *e = mp_event(&f->b, "done w ", EV_MS);

	printf("  B's waiting acquire: %s\n", e);
	assert_int_equal(mp_field(e, 2), 0);
	if (mp_field(e, 4) != -1)
		fail_msg("B's acquire, let in after the punch, reads byte %lld "
				"not zero: it went through before the punch",
				mp_field(e, 4));
	if ((uint64_t)mp_field(e, 3) < t_put)
		fail_msg("B's waiting acquire returned before B's put");

	assert_int_equal(mp_alloc(f, 4 * A, 4 * A), 0);
	zero_in_file(f, 4 * A, 4 * A);
	pattern_outside(f, 4 * A, 4 * A);
	mp_ok(&f->b, "put 4");
	mp_exit(&f->b);
}

static void
test_fail_timeout_across_processes(void **state)
{
	struct mp_fix *f = *state;
	uint64_t A = f->A;
	struct pmlt_snap snap;
	const struct pml_barrier_opts fail200 = { 200, PML_ON_TIMEOUT_FAIL };

	mp_open_here(f);
	mp_spawn_open(f, &f->b, "B");
	mp_ok(&f->b, "acq 1 %" PRIu64 " %" PRIu64 " 0 keep", 4 * A, 2 * A);
	pmlt_snap_take(&snap, f->path);

	uint64_t t0 = pmlt_now_ns();

	PMLT_RC(-ETIMEDOUT, pml_region_punch(f->r, 4 * A, 4 * A, &fail200));
	printf("  punch gave up after %.1f ms (timeout 200): %s\n",
			(double)(pmlt_now_ns() - t0) / 1e6, pml_errormsg());
	assert_true(strlen(pml_errormsg()) > 0);
	assert_int_equal(break_in(&f->b, 1, "FAIL punch"), PML_BREAK_LAYOUT);
	pmlt_snap_same(&snap, f->path, "after a punch that timed out");

	/* B's lease is still live, and its data is there */
	assert_int_equal(mp_cmd(&f->b, "revoked 1"), 0);
	mp_ok(&f->b, "get 1");
	mp_ok(&f->b, "put 1");
	mp_ok(&f->b, "check 1 %d", MP_FILE_SEED);
	assert_int_equal(mp_field(f->b.reply, 0), -1);
	/* the barrier is gone everywhere */
	mp_ok(&f->b, "acq 2 %" PRIu64 " %" PRIu64 " %u none", 6 * A, A,
			PML_LEASE_NOWAIT);
	mp_ok(&f->b, "put 2");
	PMLT_OK(pml_lease_acquire(&f->mine[0], f->r, 6 * A, A,
			PML_LEASE_NOWAIT, NULL, NULL));
	PMLT_OK(pml_lease_put(f->mine[0]));
	f->mine[0] = NULL;

	/* a shrink over B's pin, the same */
	PMLT_RC(-ETIMEDOUT, pml_region_truncate(f->r, 4 * A, &fail200));
	assert_int_equal(break_in(&f->b, 1, "FAIL truncate"), PML_BREAK_LAYOUT);
	pmlt_snap_same(&snap, f->path, "after a truncate that timed out");
	assert_int_equal(mp_cmd(&f->b, "size"), (int)(MP_PAGES * A));
	assert_int_equal(pml_region_size(f->r), MP_PAGES * A);
	assert_int_equal(mp_cmd(&f->b, "revoked 1"), 0);
	pmlt_snap_free(&snap);

	mp_ok(&f->b, "put 1");
	mp_exit(&f->b);
}

struct quar_arg {
	struct mp_fix *f;
	uint64_t off, len;
};

static bool
quar_lifted(void *p)
{
	struct quar_arg *q = p;

	return mp_quarantined(q->f) == 0 &&
		mp_alloc(q->f, q->off, q->len) == 0;
}

static void
test_revoke_across_processes(void **state)
{
	struct mp_fix *f = *state;
	uint64_t A = f->A;
	const struct pml_barrier_opts rev = { 100, PML_ON_TIMEOUT_REVOKE };

	mp_open_here(f);
	mp_spawn_open(f, &f->b, "B");
	mp_ok(&f->b, "acq 1 %" PRIu64 " %" PRIu64 " 0 keep", 4 * A, 2 * A);

	uint64_t blocks = pmlt_file_alloc_bytes(f->path);

	PMLT_OK(pml_region_punch(f->r, 4 * A, 4 * A, &rev));
	assert_int_equal(break_in(&f->b, 1, "revoke: first"),
			PML_BREAK_LAYOUT);
	assert_int_equal(break_in(&f->b, 1, "revoke: then"),
			PML_BREAK_REVOKED);
	PMLT_RC(-ESTALE, mp_cmd(&f->b, "get 1"));
	assert_int_equal(mp_cmd(&f->b, "revoked 1"), 1);

	/* quarantined: allocated, not leasable, from both sides */
	assert_int_equal(mp_alloc(f, 4 * A, 2 * A), 2 * A);
	assert_int_equal(mp_alloc(f, 6 * A, 2 * A), 0);
	assert_int_equal(pmlt_file_alloc_bytes(f->path), blocks - 2 * A);
	assert_int_equal(mp_quarantined(f), 2 * A);
	mp_ok(&f->b, "quar");
	assert_int_equal(mp_field(f->b.reply, 0), 2 * A);
	PMLT_RC(-EAGAIN, pml_lease_acquire(&f->mine[0], f->r, 5 * A, 1,
			PML_LEASE_NOWAIT, NULL, NULL));
	PMLT_OK(pml_lease_acquire(&f->mine[0], f->r, 6 * A, A,
			PML_LEASE_NOWAIT, NULL, NULL));
	PMLT_OK(pml_lease_put(f->mine[0]));
	f->mine[0] = NULL;

	/* the "device" keeps writing into the revoked range */
	mp_ok(&f->b, "write 1 9");
	uint64_t t = pmlt_now_ns();

	mp_ok(&f->b, "put 1");

	struct quar_arg q = { f, 4 * A, 4 * A };
	long ms = mp_poll_ms(quar_lifted, &q, 3000 * mp_slow());

	printf("  quarantine lifted %.3f ms after B was told to put (poll "
			"says %ld ms)\n", (double)(pmlt_now_ns() - t) / 1e6, ms);
	if (ms < 0)
		fail_msg("the quarantine was not lifted within 3 s of B's put: "
				"%" PRIu64 " bytes allocated, %" PRIu64
				" quarantined", mp_alloc(f, 4 * A, 4 * A),
				mp_quarantined(f));
	assert_int_equal(pmlt_file_alloc_bytes(f->path), blocks - 4 * A);
	zero_in_file(f, 4 * A, 4 * A);
	pattern_outside(f, 4 * A, 4 * A);
	PMLT_OK(pml_lease_acquire(&f->mine[0], f->r, 4 * A, 2 * A,
			PML_LEASE_NOWAIT, NULL, NULL));
	assert_int_equal(pmlt_find_nonzero(pml_lease_addr(f->mine[0]), 2 * A),
			-1);
	PMLT_OK(pml_lease_put(f->mine[0]));
	f->mine[0] = NULL;
	mp_exit(&f->b);
}

struct size_arg {
	struct mp_fix *f;
	uint64_t size;
};

static bool
file_size_is(void *p)
{
	struct size_arg *s = p;

	return pmlt_file_size(s->f->path) == s->size;
}

static void
test_revoke_truncate_across_processes(void **state)
{
	struct mp_fix *f = *state;
	uint64_t A = f->A;
	const struct pml_barrier_opts rev = { 100, PML_ON_TIMEOUT_REVOKE };

	mp_open_here(f);
	mp_spawn_open(f, &f->b, "B");
	mp_ok(&f->b, "acq 1 %" PRIu64 " %" PRIu64 " 0 keep", 12 * A, A);

	PMLT_OK(pml_region_truncate(f->r, 8 * A, &rev));
	assert_int_equal(break_in(&f->b, 1, "revoking shrink"),
			PML_BREAK_LAYOUT);
	assert_int_equal(break_in(&f->b, 1, "revoking shrink"),
			PML_BREAK_REVOKED);
	assert_int_equal(mp_cmd(&f->b, "size"), (int)(8 * A));
	assert_int_equal(pml_region_size(f->r), 8 * A);
	/* the file keeps the revoked lease's block past the new size */
	if (pmlt_file_size(f->path) < 13 * A ||
			mp_alloc(f, 12 * A, A) != A)
		fail_msg("the block under B's revoked lease was handed back: "
				"file size %" PRIu64 ", %" PRIu64 " bytes of it "
				"allocated", pmlt_file_size(f->path),
				mp_alloc(f, 12 * A, A));
	PMLT_RC(-EINVAL, mp_cmd(&f->b, "acq 2 %" PRIu64 " 1 0 none", 9 * A));

	mp_ok(&f->b, "put 1");

	struct size_arg s = { f, 8 * A };
	long ms = mp_poll_ms(file_size_is, &s, 3000 * mp_slow());

	printf("  file cut to the region's size %ld ms after B's put\n", ms);
	if (ms < 0)
		fail_msg("file size %" PRIu64 " 3 s after B's put, not %" PRIu64,
				pmlt_file_size(f->path), 8 * A);
	assert_int_equal(mp_quarantined(f), 0);
	pattern_outside(f, 8 * A, 0);
	mp_exit(&f->b);
}

static void
test_growth_and_shrink_seen_everywhere(void **state)
{
	struct mp_fix *f = *state;
	uint64_t A = f->A;

	mp_open_here(f);
	mp_spawn_open(f, &f->b, "B");

	/* A grows: B sees it the moment A's call returns */
	PMLT_OK(pml_region_truncate(f->r, 24 * A, MP_LONG_OPTS));
	assert_int_equal(mp_cmd(&f->b, "size"), (int)(24 * A));
	mp_ok(&f->b, "acq 1 %" PRIu64 " %" PRIu64 " 0 none", 20 * A, 2 * A);
	mp_ok(&f->b, "zero 1");
	assert_int_equal(mp_field(f->b.reply, 0), -1);
	mp_ok(&f->b, "write 1 5");
	assert_int_equal(pmlt_check_pattern((char *)pml_region_base(f->r) +
			20 * A, 20 * A, 2 * A, 5), -1);
	mp_ok(&f->b, "put 1");

	/* B grows: A sees it */
	mp_ok(&f->b, "trunc %" PRIu64 " %u fail", 32 * A, MP_LONG);
	assert_int_equal(pml_region_size(f->r), 32 * A);
	PMLT_OK(pml_lease_acquire(&f->mine[0], f->r, 28 * A, A, 0, NULL,
			NULL));
	pmlt_fill_pattern(pml_lease_addr(f->mine[0]), 28 * A, A, 6);
	mp_ok(&f->b, "acq 2 %" PRIu64 " %" PRIu64 " %u none", 28 * A, A,
			PML_LEASE_REF);
	mp_ok(&f->b, "check 2 6");
	assert_int_equal(mp_field(f->b.reply, 0), -1);
	mp_ok(&f->b, "put 2");
	PMLT_OK(pml_lease_put(f->mine[0]));
	f->mine[0] = NULL;

	/* A shrinks over B's PIN, whose on_break puts it */
	mp_ok(&f->b, "acq 3 %" PRIu64 " %" PRIu64 " 0 put", 26 * A, A);
	PMLT_OK(pml_region_truncate(f->r, 20 * A, MP_LONG_OPTS));
	assert_int_equal(break_in(&f->b, 3, "shrink"), PML_BREAK_LAYOUT);
	assert_int_equal(mp_cmd(&f->b, "size"), (int)(20 * A));
	assert_int_equal(pmlt_file_size(f->path), 20 * A);
	PMLT_RC(-EINVAL, mp_cmd(&f->b, "acq 4 %" PRIu64 " %" PRIu64 " 0 none",
			21 * A, A));

	/* A shrinks over B's PIN that B keeps: A waits for B's put */
	mp_ok(&f->b, "acq 5 %" PRIu64 " %" PRIu64 " 0 keep", 18 * A, A);

	struct layout_call tc = { f->r, 16 * A, 0, mp_long() };

	pmlt_async_start(&f->async, layout_fn, &tc);
	assert_int_equal(break_in(&f->b, 5, "waiting shrink"),
			PML_BREAK_LAYOUT);
	PMLT_RC(-EAGAIN, mp_cmd(&f->b, "acq 6 %" PRIu64 " %" PRIu64 " %u none",
			17 * A, A, PML_LEASE_NOWAIT));
	/* an acquire in the cut part waits, then finds the range gone */
	mp_ok(&f->b, "aacq w 7 %" PRIu64 " %" PRIu64 " 0 none", 17 * A, A);
	pmlt_sleep_ms(100);
	if (pmlt_async_is_done(&f->async))
		fail_msg("A's shrink returned %d while B holds a PIN in the "
				"cut part", f->async.rc);
	if (mp_event_try(&f->b, "done w ", 0))
		fail_msg("B's acquire in the part being cut returned while "
				"the shrink waits");
	assert_int_equal(mp_cmd(&f->b, "size"), (int)(20 * A));
	mp_ok(&f->b, "put 5");
	PMLT_RC(0, pmlt_async_finish(&f->async, "A's shrink after B's put"));

	const char *e = mp_event(&f->b, "done w ", EV_MS);

	if (mp_field(e, 2) != -EINVAL)
		fail_msg("B's acquire of [%" PRIu64 ", +%" PRIu64 "), waiting "
				"while A cut the file to %" PRIu64 ", returned %lld "
				"instead of -EINVAL: a lease past the end (%s)",
				17 * A, A, 16 * A, mp_field(e, 2), e);
	assert_int_equal(mp_cmd(&f->b, "size"), (int)(16 * A));
	assert_int_equal(pmlt_file_size(f->path), 16 * A);
	/* B grows again, over what A cut: it reads zero */
	mp_ok(&f->b, "trunc %" PRIu64 " %u fail", 24 * A, MP_LONG);
	assert_int_equal(pml_region_size(f->r), 24 * A);
	assert_int_equal(pmlt_find_nonzero((char *)pml_region_base(f->r) +
			16 * A, 8 * A), -1);
	mp_exit(&f->b);
}

/* ------------------------------------------------- races, many rounds */

static void
nop_break(struct pml_lease *l, enum pml_break_reason why, void *arg)
{
	(void)l;
	(void)why;
	(void)arg;
}

static const struct pml_lease_ops nop_ops = { .on_break = nop_break };

/* what the state file says, for a failure's message */
static void
print_state(struct mp_fix *f)
{
	char st[8400];
	struct shm_header *h = malloc(sizeof(*h));
	int fd;

	mp_state_path(st, sizeof(st), f->rt, f->path);
	fd = open(st, O_RDONLY);
	if (fd < 0 || pread(fd, h, sizeof(*h), 0) != (ssize_t)sizeof(*h)) {
		printf("  (state file %s unreadable)\n", st);
	} else {
		printf("  state: size %" PRIu64 ", barrier %" PRIu64 " [%" PRIu64
				", %" PRIu64 ") owner %u phase %u, layout owner "
				"%u, lock %u\n", h->size, h->barrier_seq,
				h->barrier_start, h->barrier_end, h->barrier_owner,
				(unsigned)h->barrier_phase,
				(unsigned)h->layout_owner, (unsigned)h->lock);
		for (unsigned i = 0; i < SHM_SLOTS; i++)
			if (h->slots[i].used)
				printf("  slot %u: pid %d ack %" PRIu64 " drained %"
						PRIu64 "\n", i, h->slots[i].pid,
						(uint64_t)h->slots[i].ack_seq,
						(uint64_t)h->slots[i].drained_seq);
	}
	if (fd >= 0)
		close(fd);
	free(h);
}

/* is a barrier up on the data file?  (its phase, read off the state file) */
static bool
barrier_up(void *arg)
{
	struct mp_fix *f = arg;
	char st[8400];
	struct shm_header *h = malloc(sizeof(*h));
	bool up = false;

	mp_state_path(st, sizeof(st), f->rt, f->path);

	int fd = open(st, O_RDONLY);

	if (fd >= 0 && pread(fd, h, sizeof(*h), 0) == (ssize_t)sizeof(*h))
		up = h->barrier_phase != SHM_PHASE_NONE;
	if (fd >= 0)
		close(fd);
	free(h);
	return up;
}

/*
 * An acquire in B waiting on A's shrink barrier, in the part being cut,
 * must find the range gone (-EINVAL) when the barrier drops -- never be
 * let in against the old size.  Many rounds: it is a race.
 */
static void
test_waiting_acquire_in_cut_part(void **state)
{
	struct mp_fix *f = *state;
	uint64_t A = f->A;
	unsigned rounds = (unsigned)pmlt_scaled(40), bad = 0;

	mp_open_here(f);
	mp_spawn_open(f, &f->b, "B");
	for (unsigned i = 0; i < rounds; i++) {
		PMLT_OK(pml_region_truncate(f->r, 24 * A, MP_LONG_OPTS));
		PMLT_OK(pml_lease_acquire(&f->mine[0], f->r, 20 * A, A, 0,
				&nop_ops, NULL));

		struct layout_call tc = { f->r, 16 * A, 0, mp_long() };

		pmlt_async_start(&f->async, layout_fn, &tc);
		/*
		 * B's acquire must come after the barrier: one that came
		 * before would hold a lease the shrink waits for, which B
		 * puts only once the shrink returned.
		 */
		if (mp_poll_ms(barrier_up, f, EV_MS) < 0)
			fail_msg("round %u: A's shrink raised no barrier", i);
		mp_ok(&f->b, "aacq w 1 %" PRIu64 " %" PRIu64 " 0 none", 17 * A,
				A);
		pmlt_sleep_ms(3);
		PMLT_OK(pml_lease_put(f->mine[0]));
		f->mine[0] = NULL;

		int rc = pmlt_async_finish(&f->async, "A's shrink");

		if (rc) {
			print_state(f);
			fail_msg("round %u: A's shrink, after A put its PIN: %d "
					"(%s)", i, rc, pmlt_errname(rc));
		}

		const char *e = mp_event(&f->b, "done w ", EV_MS);

		if (mp_field(e, 2) == 0) {
			bad++;
			mp_ok(&f->b, "put 1");
		} else if (mp_field(e, 2) != -EINVAL) {
			fail_msg("B's acquire in the cut part: %s", e);
		}
	}
	printf("  B's acquire let in past the new end in %u of %u rounds\n",
			bad, rounds);
	if (bad)
		fail_msg("B got a lease in the part A cut, in %u of %u rounds "
				"(its view dropped the barrier before the size)",
				bad, rounds);
	mp_exit(&f->b);
}

/* B's size, right after A's truncate returned, is the new size */
static void
test_size_right_after_truncate(void **state)
{
	struct mp_fix *f = *state;
	uint64_t A = f->A;
	unsigned rounds = (unsigned)pmlt_scaled(150), bad = 0;

	mp_open_here(f);
	mp_spawn_open(f, &f->b, "B");
	for (unsigned i = 0; i < rounds; i++) {
		uint64_t s = (i % 3 == 0 ? 12 : i % 3 == 1 ? 40 : 24) * A;

		PMLT_OK(pml_region_truncate(f->r, s, MP_LONG_OPTS));
		if ((uint64_t)mp_cmd(&f->b, "size") != s)
			bad++;
	}
	printf("  B's size stale right after A's truncate in %u of %u "
			"rounds\n", bad, rounds);
	if (bad)
		fail_msg("B's pml_region_size was stale right after A's "
				"truncate returned, in %u of %u rounds", bad,
				rounds);
	mp_exit(&f->b);
}

/* right after B's own growth returns, B has the new size (A shrank before) */
static void
test_size_right_after_own_growth(void **state)
{
	struct mp_fix *f = *state;
	uint64_t A = f->A;
	unsigned rounds = (unsigned)pmlt_scaled(300), bad = 0;

	mp_open_here(f);
	mp_spawn_open(f, &f->b, "B");
	for (unsigned i = 0; i < rounds; i++) {
		PMLT_OK(pml_region_truncate(f->r, 8 * A, MP_LONG_OPTS));
		mp_ok(&f->b, "trunc %" PRIu64 " %u fail", 36 * A, MP_LONG);

		int rc = mp_cmd(&f->b, "acq 1 %" PRIu64 " %" PRIu64 " 0 none",
				30 * A, A);

		if (rc == 0)
			mp_ok(&f->b, "put 1");
		if (rc || (uint64_t)mp_cmd(&f->b, "size") != 36 * A)
			bad++;
	}
	printf("  B's region not at the size it just grew to in %u of %u "
			"rounds\n", bad, rounds);
	if (bad)
		fail_msg("right after B grew the region, B's size or an acquire "
				"past the old end said otherwise, in %u of %u "
				"rounds", bad, rounds);
	mp_exit(&f->b);
}

/* after A's punch gave up, B's NOWAIT acquire in the range goes through */
static void
test_nowait_right_after_failed_punch(void **state)
{
	struct mp_fix *f = *state;
	uint64_t A = f->A;
	unsigned rounds = (unsigned)pmlt_scaled(100), bad = 0;
	const struct pml_barrier_opts fail5 = { 5, PML_ON_TIMEOUT_FAIL };

	mp_open_here(f);
	mp_spawn_open(f, &f->b, "B");
	mp_ok(&f->b, "acq 1 %" PRIu64 " %" PRIu64 " 0 none", 4 * A, 2 * A);
	for (unsigned i = 0; i < rounds; i++) {
		PMLT_RC(-ETIMEDOUT, pml_region_punch(f->r, 4 * A, 4 * A,
				&fail5));

		int rc = mp_cmd(&f->b, "acq 2 %" PRIu64 " %" PRIu64 " %u none",
				6 * A, A, PML_LEASE_NOWAIT);

		if (rc == -EAGAIN)
			bad++;
		else if (rc)
			fail_msg("B's NOWAIT acquire: %d (%s): %s", rc,
					pmlt_errname(rc), f->b.reply);
		else
			mp_ok(&f->b, "put 2");
	}
	printf("  B's NOWAIT acquire -EAGAIN after A's punch gave up in %u of "
			"%u rounds\n", bad, rounds);
	if (bad)
		fail_msg("B saw A's retracted barrier after A's punch returned "
				"-ETIMEDOUT, in %u of %u rounds", bad, rounds);
	mp_ok(&f->b, "put 1");
	mp_exit(&f->b);
}

/* A grows after B shrank: the file really grows (A's idea of it is stale) */
static void
test_growth_after_shrink_elsewhere(void **state)
{
	struct mp_fix *f = *state;
	uint64_t A = f->A;

	mp_open_here(f);
	mp_spawn_open(f, &f->b, "B");
	mp_ok(&f->b, "trunc %" PRIu64 " %u fail", 40 * A, MP_LONG);
	PMLT_OK(pml_region_truncate(f->r, 8 * A, MP_LONG_OPTS));
	mp_ok(&f->b, "trunc %" PRIu64 " %u fail", 36 * A, MP_LONG);
	if (pmlt_file_size(f->path) != 36 * A)
		fail_msg("B grew the region to %" PRIu64 " bytes but the file "
				"has %" PRIu64 ": leases past its end would be "
				"SIGBUS", 36 * A, pmlt_file_size(f->path));
	assert_int_equal(pml_region_size(f->r), 36 * A);
	/* and a lease there is usable, in both processes */
	mp_ok(&f->b, "acq 1 %" PRIu64 " %" PRIu64 " 0 none", 30 * A, A);
	mp_ok(&f->b, "write 1 4");
	mp_ok(&f->b, "put 1");
	assert_int_equal(pmlt_check_pattern((char *)pml_region_base(f->r) +
			30 * A, 30 * A, A, 4), -1);
	mp_exit(&f->b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_punch_waits_for_pin_in_other_process,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(
			test_fail_timeout_across_processes,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(
			test_revoke_across_processes, mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(
			test_revoke_truncate_across_processes,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(
			test_growth_and_shrink_seen_everywhere,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(
			test_growth_after_shrink_elsewhere,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(
			test_waiting_acquire_in_cut_part,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(
			test_size_right_after_truncate,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(
			test_size_right_after_own_growth,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(
			test_nowait_right_after_failed_punch,
			mp_setup, mp_teardown),
	};

	return MP_RUN("test_mp_barrier", tests);
}
