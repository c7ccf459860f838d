/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_mp_death -- processes that die (kill -9) in the middle never block
 * the others, and a dead process's pid, reused by a live one, is not
 * taken for it.
 *
 * This program is process A; B, C are the helper program.  The issue's
 * bound is "within a second"; the tests print what they measure and fail
 * past MP_DEATH_MS (times mp_slow() under the sanitizers).
 */
#include "mp.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared.h"

#define EV_MS (5000 * mp_slow())
#define MP_DEATH_MS 3000	/* "about a second", with room for a slow CI */

struct layout_call {
	struct pml_region *r;
	uint64_t off, len;
	struct pml_barrier_opts o;
};

static int
punch_fn(void *p)
{
	struct layout_call *c = p;

	return pml_region_punch(c->r, c->off, c->len, &c->o);
}

static bool
async_done(void *p)
{
	return pmlt_async_is_done(p);
}

/* wait for our call to return, at most MP_DEATH_MS after t0; its latency */
static double
finish_within(struct mp_fix *f, uint64_t t0, const char *what)
{
	long ms = mp_poll_ms(async_done, &f->async, MP_DEATH_MS * mp_slow());

	if (ms < 0)
		fail_msg("%s: still waiting %u ms after the kill", what,
				MP_DEATH_MS * mp_slow());
	PMLT_OK(pmlt_async_finish(&f->async, what));

	double lat = (double)(f->async.done_ns - t0) / 1e6;

	printf("  %s: %.1f ms after the kill\n", what, lat);
	return lat;
}

static void
expect_break(struct mp_proc *p, int id, int reason)
{
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "break %d %d ", id, reason);
	mp_event(p, prefix, EV_MS);
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

/* ------------------------------------------------------------- holders */

static void
test_kill_holder_during_punch(void **state)
{
	struct mp_fix *f = *state;
	uint64_t A = f->A;

	mp_open_here(f);
	mp_spawn_open(f, &f->b, "B");
	mp_ok(&f->b, "acq 1 %" PRIu64 " %" PRIu64 " 0 keep", 4 * A, 2 * A);

	struct layout_call pc = { f->r, 4 * A, 4 * A, mp_long() };

	pmlt_async_start(&f->async, punch_fn, &pc);
	expect_break(&f->b, 1, PML_BREAK_LAYOUT);
	pmlt_sleep_ms(100);
	if (pmlt_async_is_done(&f->async))
		fail_msg("the punch returned %d with B's PIN held",
				f->async.rc);

	uint64_t t0 = pmlt_now_ns();

	mp_kill9(&f->b);
	finish_within(f, t0, "punch waiting for B, B killed");
	assert_int_equal(mp_alloc(f, 4 * A, 4 * A), 0);
}

static void
test_kill_holder_of_revoked_lease(void **state)
{
	struct mp_fix *f = *state;
	uint64_t A = f->A;
	const struct pml_barrier_opts rev = { 50, PML_ON_TIMEOUT_REVOKE };

	mp_open_here(f);
	mp_spawn_open(f, &f->b, "B");
	mp_ok(&f->b, "acq 1 %" PRIu64 " %" PRIu64 " 0 keep", 4 * A, 2 * A);
	PMLT_OK(pml_region_punch(f->r, 4 * A, 4 * A, &rev));
	expect_break(&f->b, 1, PML_BREAK_REVOKED);
	assert_int_equal(mp_quarantined(f), 2 * A);
	assert_int_equal(mp_alloc(f, 4 * A, 2 * A), 2 * A);

	uint64_t t0 = pmlt_now_ns();

	mp_kill9(&f->b);

	struct quar_arg q = { f, 4 * A, 2 * A };
	long ms = mp_poll_ms(quar_lifted, &q, MP_DEATH_MS * mp_slow());

	printf("  quarantine of the killed holder lifted %.1f ms after the "
			"kill\n", (double)(pmlt_now_ns() - t0) / 1e6);
	if (ms < 0)
		fail_msg("quarantine of a killed process still there after %u "
				"ms: %" PRIu64 " bytes quarantined, %" PRIu64
				" allocated", MP_DEATH_MS * mp_slow(),
				mp_quarantined(f), mp_alloc(f, 4 * A, 2 * A));
	PMLT_OK(pml_lease_acquire(&f->mine[0], f->r, 4 * A, 2 * A,
			PML_LEASE_NOWAIT, NULL, NULL));
	assert_int_equal(pmlt_find_nonzero(pml_lease_addr(f->mine[0]), 2 * A),
			-1);
}

/* nobody is attached when the holder dies: the next process in lifts */
static void
test_kill_revoked_holder_then_reopen(void **state)
{
	struct mp_fix *f = *state;
	uint64_t A = f->A;

	mp_spawn_open(f, &f->b, "B");
	mp_spawn_open(f, &f->c, "C");
	mp_ok(&f->b, "acq 1 %" PRIu64 " %" PRIu64 " 0 keep", 4 * A, 2 * A);
	mp_ok(&f->c, "punch %" PRIu64 " %" PRIu64 " 50 revoke", 4 * A, 4 * A);
	expect_break(&f->b, 1, PML_BREAK_REVOKED);
	mp_exit(&f->c);
	mp_kill9(&f->b);
	pmlt_sleep_ms(300);
	assert_int_equal(mp_alloc(f, 4 * A, 2 * A), 2 * A);

	uint64_t t0 = pmlt_now_ns();

	mp_open_here(f);

	struct quar_arg q = { f, 4 * A, 2 * A };
	long ms = mp_poll_ms(quar_lifted, &q, MP_DEATH_MS * mp_slow());

	printf("  the next process in lifted it %.1f ms after its open began\n",
			(double)(pmlt_now_ns() - t0) / 1e6);
	if (ms < 0)
		fail_msg("a dead process's quarantine not lifted by the next "
				"process within %u ms", MP_DEATH_MS * mp_slow());
	/* and once we leave, nothing is left behind */
	pmlt_close(&f->r);

	char st[8400];

	mp_state_path(st, sizeof(st), f->rt, f->path);
	if (access(st, F_OK) == 0)
		fail_msg("state file %s left behind by the last process", st);
}

/* -------------------------------------------------------- barrier owners */

struct nowait_arg {
	struct mp_fix *f;
	uint64_t off, len;
};

static bool
nowait_gets_in(void *p)
{
	struct nowait_arg *a = p;

	return pml_lease_acquire(&a->f->mine[0], a->f->r, a->off, a->len,
			PML_LEASE_NOWAIT, NULL, NULL) == 0;
}

/*
 * After the barrier owner's death: A's acquires (NOWAIT, polled, so that
 * a bug cannot leave a thread of ours stuck) and B's blocking acquire on
 * the range get in, and a new punch works.
 */
static void
others_proceed(struct mp_fix *f, uint64_t t0)
{
	uint64_t A = f->A;
	struct nowait_arg na = { f, 6 * A, A };

	if (mp_poll_ms(nowait_gets_in, &na, MP_DEATH_MS * mp_slow()) < 0)
		fail_msg("A's acquire under the dead owner's barrier: still "
				"refused %u ms after the kill: %s",
				MP_DEATH_MS * mp_slow(), pml_errormsg());
	printf("  A's acquire under the dead owner's barrier: %.1f ms after "
			"the kill\n", (double)(pmlt_now_ns() - t0) / 1e6);
	mp_ok(&f->b, "aacq w 3 %" PRIu64 " %" PRIu64 " 0 none", 7 * A, A);

	const char *e = mp_event(&f->b, "done w ", MP_DEATH_MS * mp_slow());

	assert_int_equal(mp_field(e, 2), 0);
	printf("  B's acquire under the dead owner's barrier: %.1f ms after "
			"the kill\n", (double)((uint64_t)mp_field(e, 3) - t0) / 1e6);
	mp_ok(&f->b, "put 3");
	PMLT_OK(pml_lease_put(f->mine[0]));
	f->mine[0] = NULL;

	/* a new punch by another process works, and waits for live pins */
	uint64_t t1 = pmlt_now_ns();
	const struct pml_barrier_opts bounded = { 2000 * mp_slow(), 0 };

	PMLT_OK(pml_region_punch(f->r, 6 * A, 2 * A, &bounded));
	printf("  a new punch by A next to B's PIN: %.1f ms\n",
			(double)(pmlt_now_ns() - t1) / 1e6);
	assert_int_equal(mp_alloc(f, 6 * A, 2 * A), 0);
}

static void
test_kill_barrier_owner_waiting(void **state)
{
	struct mp_fix *f = *state;
	uint64_t A = f->A;

	mp_open_here(f);
	mp_spawn_open(f, &f->b, "B");
	mp_spawn_open(f, &f->c, "C");
	mp_ok(&f->b, "acq 1 %" PRIu64 " %" PRIu64 " 0 keep", 4 * A, 2 * A);
	/* C punches, waiting for B's PIN for ever */
	mp_ok(&f->c, "apunch p %" PRIu64 " %" PRIu64 " %u fail", 4 * A, 4 * A,
			MP_LONG);
	expect_break(&f->b, 1, PML_BREAK_LAYOUT);
	(void)pml_region_size(f->r);	/* apply what C published */
	PMLT_RC(-EAGAIN, pml_lease_acquire(&f->mine[0], f->r, 6 * A, A,
			PML_LEASE_NOWAIT, NULL, NULL));
	PMLT_RC(-EAGAIN, mp_cmd(&f->b, "acq 2 %" PRIu64 " %" PRIu64 " %u none",
			7 * A, A, PML_LEASE_NOWAIT));
	if (mp_event_try(&f->c, "done p ", 100))
		fail_msg("C's punch returned with B's PIN held");

	uint64_t t0 = pmlt_now_ns();

	mp_kill9(&f->c);
	others_proceed(f, t0);

	/* B's PIN is live still, and a new barrier over it breaks it again */
	struct layout_call pc = { f->r, 4 * A, 2 * A, mp_long() };

	pmlt_async_start(&f->async, punch_fn, &pc);
	expect_break(&f->b, 1, PML_BREAK_LAYOUT);
	mp_ok(&f->b, "put 1");
	PMLT_OK(pmlt_async_finish(&f->async, "A's punch over B's PIN"));
	assert_int_equal(mp_alloc(f, 4 * A, 4 * A), 0);
	mp_exit(&f->b);
}

static void
test_kill_barrier_owner_in_on_break(void **state)
{
	struct mp_fix *f = *state;
	uint64_t A = f->A;

	mp_open_here(f);
	mp_spawn_open(f, &f->b, "B");
	mp_spawn_open(f, &f->c, "C");
	/* C's own PIN, whose on_break never returns: C's punch is stuck in it */
	mp_ok(&f->c, "acq 1 %" PRIu64 " %" PRIu64 " 0 block", 4 * A, 2 * A);
	mp_ok(&f->c, "apunch p %" PRIu64 " %" PRIu64 " %u fail", 4 * A, 4 * A,
			MP_LONG);
	expect_break(&f->c, 1, PML_BREAK_LAYOUT);
	(void)pml_region_size(f->r);
	PMLT_RC(-EAGAIN, pml_lease_acquire(&f->mine[0], f->r, 6 * A, A,
			PML_LEASE_NOWAIT, NULL, NULL));

	uint64_t t0 = pmlt_now_ns();

	mp_kill9(&f->c);
	others_proceed(f, t0);
	/* C's lease died with C: its range is free */
	const struct pml_barrier_opts bounded = { 2000 * mp_slow(), 0 };

	PMLT_OK(pml_region_punch(f->r, 4 * A, 2 * A, &bounded));
	assert_int_equal(mp_alloc(f, 4 * A, 4 * A), 0);
	mp_exit(&f->b);
}

/*
 * The barrier owner was the only process: nobody reaps it until the next
 * process opens the file -- which must not inherit the dead barrier.
 * The opener is a helper, so that a hang is a failed wait, not ours.
 */
static void
test_kill_lone_barrier_owner_then_open(void **state)
{
	struct mp_fix *f = *state;
	uint64_t A = f->A;

	mp_spawn_open(f, &f->c, "C");
	mp_ok(&f->c, "acq 1 %" PRIu64 " %" PRIu64 " 0 block", 4 * A, 2 * A);
	mp_ok(&f->c, "apunch p %" PRIu64 " %" PRIu64 " %u fail", 4 * A, 4 * A,
			MP_LONG);
	expect_break(&f->c, 1, PML_BREAK_LAYOUT);
	mp_kill9(&f->c);

	uint64_t t0 = pmlt_now_ns();

	mp_spawn_open(f, &f->d, "D");
	mp_ok(&f->d, "aacq w 2 %" PRIu64 " %" PRIu64 " 0 none", 5 * A, A);

	const char *e = mp_event_try(&f->d, "done w ", MP_DEATH_MS * mp_slow());

	if (!e)
		fail_msg("a process opening the file after its lone barrier "
				"owner died cannot acquire in the dead barrier's "
				"range (%u ms)", MP_DEATH_MS * mp_slow());
	assert_int_equal(mp_field(e, 2), 0);
	printf("  D's acquire in the dead lone owner's range: %.1f ms after "
			"D started\n", (double)((uint64_t)mp_field(e, 3) - t0) /
			1e6);
	mp_ok(&f->d, "put 2");
	PMLT_RC(0, mp_cmd(&f->d, "punch %" PRIu64 " %" PRIu64 " %u fail",
			4 * A, 4 * A, MP_DEATH_MS * mp_slow()));
	assert_int_equal(mp_alloc(f, 4 * A, 4 * A), 0);
	mp_exit(&f->d);
}

/* ------------------------------------------------------------ pid reuse */

static int
state_fd(struct mp_fix *f)
{
	char st[8400];

	mp_state_path(st, sizeof(st), f->rt, f->path);

	int fd = open(st, O_RDWR);

	if (fd < 0)
		fail_msg("open %s: %s", st, strerror(errno));
	return fd;
}

static off_t
slot_field(uint32_t i, size_t field)
{
	return (off_t)(offsetof(struct shm_header, slots) +
			i * sizeof(struct shm_slot) + field);
}

/* the slot pid holds (used), or -1 */
static int
find_slot(int fd, pid_t pid)
{
	for (uint32_t i = 0; i < SHM_SLOTS; i++) {
		uint32_t used = 0;
		int32_t p = 0;

		if (pread(fd, &used, 4, slot_field(i,
				offsetof(struct shm_slot, used))) != 4 ||
				pread(fd, &p, 4, slot_field(i,
				offsetof(struct shm_slot, pid))) != 4)
			fail_msg("pread of the state file: %s", strerror(errno));
		if (used && p == pid)
			return (int)i;
	}
	return -1;
}

static uint32_t
slot_used(int fd, int i)
{
	uint32_t used = 0;

	if (pread(fd, &used, 4, slot_field((uint32_t)i,
			offsetof(struct shm_slot, used))) != 4)
		fail_msg("pread: %s", strerror(errno));
	return used;
}

/* is slot i still the dead process's (used, naming the pid it was given)? */
static bool
slot_still_dead_ones(int fd, int i, pid_t given)
{
	int32_t p = 0;

	if (pread(fd, &p, 4, slot_field((uint32_t)i,
			offsetof(struct shm_slot, pid))) != 4)
		fail_msg("pread: %s", strerror(errno));
	return slot_used(fd, i) && p == given;
}

/* a live process that has nothing to do with the library */
static pid_t
spawn_sleeper(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		alarm(0);
		for (;;)
			pause();
	}
	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	return pid;
}

static void
kill_sleeper(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* B dies; its slot gets the pid of a live process: a barrier still passes */
static void
pid_reuse_barrier(struct mp_fix *f, bool attached_pid)
{
	uint64_t A = f->A;

	mp_open_here(f);
	mp_spawn_open(f, &f->b, "B");
	if (attached_pid)
		mp_spawn_open(f, &f->c, "C");
	mp_ok(&f->b, "acq 1 %" PRIu64 " %" PRIu64 " 0 keep", 4 * A, 2 * A);

	int fd = state_fd(f);
	int slot = find_slot(fd, f->b.pid);

	if (slot < 0)
		fail_msg("B's slot not found in the state file");
	mp_kill9(&f->b);

	pid_t other = attached_pid ? f->c.pid : spawn_sleeper();
	int32_t v = (int32_t)other;

	if (pwrite(fd, &v, 4, slot_field((uint32_t)slot,
			offsetof(struct shm_slot, pid))) != 4)
		fail_msg("pwrite: %s", strerror(errno));
	if (!slot_used(fd, slot))
		fail_msg("B's slot was reaped before the test could give it "
				"a live pid: the test proves nothing");
	printf("  dead B's slot %d now names live pid %d (%s)\n", slot,
			(int)other, attached_pid ? "C, attached to the file" :
			"a process unrelated to the library");

	uint64_t t0 = pmlt_now_ns();
	const struct pml_barrier_opts bounded = { MP_DEATH_MS * mp_slow(), 0 };
	int rc = pml_region_punch(f->r, 4 * A, 4 * A, &bounded);
	double ms = (double)(pmlt_now_ns() - t0) / 1e6;

	if (!attached_pid)
		kill_sleeper(other);
	if (rc)
		fail_msg("punch over the dead B's lease, its slot naming live "
				"pid %d: %d (%s) after %.0f ms: %s", (int)other, rc,
				pmlt_errname(rc), ms, pml_errormsg());
	printf("  punch over the dead B's lease: %.1f ms\n", ms);
	if (slot_still_dead_ones(fd, slot, other))
		fail_msg("the dead B's slot %d was not reaped", slot);
	close(fd);
	assert_int_equal(mp_alloc(f, 4 * A, 4 * A), 0);
	if (attached_pid)
		mp_exit(&f->c);
}

static void
test_pid_reuse_unrelated(void **state)
{
	pid_reuse_barrier(*state, false);
}

static void
test_pid_reuse_attached(void **state)
{
	pid_reuse_barrier(*state, true);
}

/* the same for a quarantine: it is lifted though the pid is alive */
static void
test_pid_reuse_quarantine(void **state)
{
	struct mp_fix *f = *state;
	uint64_t A = f->A;

	mp_spawn_open(f, &f->b, "B");
	mp_spawn_open(f, &f->c, "C");
	mp_ok(&f->b, "acq 1 %" PRIu64 " %" PRIu64 " 0 keep", 4 * A, 2 * A);
	mp_ok(&f->c, "punch %" PRIu64 " %" PRIu64 " 50 revoke", 4 * A, 4 * A);
	expect_break(&f->b, 1, PML_BREAK_REVOKED);
	mp_exit(&f->c);		/* nobody is left to reap B */

	int fd = state_fd(f);
	int slot = find_slot(fd, f->b.pid);

	if (slot < 0)
		fail_msg("B's slot not found in the state file");
	mp_kill9(&f->b);

	pid_t other = spawn_sleeper();
	int32_t v = (int32_t)other;

	if (pwrite(fd, &v, 4, slot_field((uint32_t)slot,
			offsetof(struct shm_slot, pid))) != 4)
		fail_msg("pwrite: %s", strerror(errno));

	uint64_t t0 = pmlt_now_ns();

	mp_open_here(f);

	struct quar_arg q = { f, 4 * A, 2 * A };
	long ms = mp_poll_ms(quar_lifted, &q, MP_DEATH_MS * mp_slow());

	kill_sleeper(other);
	printf("  quarantine of dead B (slot naming live pid %d) lifted %.1f "
			"ms after A's open began\n", (int)other,
			(double)(pmlt_now_ns() - t0) / 1e6);
	if (ms < 0)
		fail_msg("a dead process's quarantine is kept because its slot "
				"names a live pid");
	/* reaped, and perhaps taken by A since: not B's any more */
	if (slot_still_dead_ones(fd, slot, other))
		fail_msg("the dead B's slot %d was not reaped", slot);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kill_holder_during_punch,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(
			test_kill_holder_of_revoked_lease,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(
			test_kill_revoked_holder_then_reopen,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(
			test_kill_barrier_owner_waiting,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(
			test_kill_barrier_owner_in_on_break,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(
			test_kill_lone_barrier_owner_then_open,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(test_pid_reuse_unrelated,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(test_pid_reuse_attached,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(test_pid_reuse_quarantine,
			mp_setup, mp_teardown),
	};

	return MP_RUN("test_mp_death", tests);
}
