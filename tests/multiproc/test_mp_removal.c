/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_mp_removal -- pml_device_prepare_removal across processes: the
 * user-space MF_MEM_PRE_REMOVE.  A holder process is told through the
 * state file, revokes its region there (on_break(PML_BREAK_REMOVE) in its
 * own process, the grace for its puts), and acknowledges; the caller --
 * not attached to the file at all -- returns once every live holder has.
 * A holder that cannot answer (stopped with SIGSTOP) makes it time out
 * and be named; a device nobody uses returns at once.
 */
#include "mp.h"

#include <inttypes.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define EV_MS (5000 * mp_slow())

static dev_t
file_dev(struct mp_fix *f)
{
	struct stat st;

	if (stat(f->path, &st))
		fail_msg("stat %s: %s", f->path, strerror(errno));
	return st.st_dev;
}

/* the reason of lease id's on_break in p, which must have run there */
static int
break_reason(struct mp_proc *p, int id)
{
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "break %d ", id);

	const char *e = mp_event(p, prefix, EV_MS);

	if ((pid_t)mp_field(e, 3) != p->pid)
		fail_msg("on_break of %s's lease ran in pid %lld", p->name,
				mp_field(e, 3));
	return (int)mp_field(e, 2);
}

static void
test_holder_revokes_before_removal(void **state)
{
	struct mp_fix *f = *state;
	struct pml_removal_opts o = { .timeout_ms = 2000 };
	unsigned n = 99;

	mp_spawn_open(f, &f->b, "B");
	mp_ok(&f->b, "acq 1 0 %" PRIu64 " 0 put", f->A);
	mp_ok(&f->b, "write 1 77");

	PMLT_OK(pml_device_prepare_removal(&n, file_dev(f), &o));
	assert_int_equal(n, 1);
	assert_int_equal(break_reason(&f->b, 1), PML_BREAK_REMOVE);
	/* revoked there: no new lease, ever */
	PMLT_RC(-ENODEV, mp_cmd(&f->b, "acq 2 0 1 0 none"));
	mp_ok(&f->b, "close");

	/* what was written through the lease before is in the file */
	uint8_t *buf = malloc(f->A);

	pmlt_read_file(f->path, 0, buf, f->A);
	for (uint64_t i = 0; i < f->A; i++)
		if (buf[i] != mp_pattern(77, i)) {
			free(buf);
			fail_msg("file byte %" PRIu64 " lost in the removal", i);
		}
	free(buf);
}

static void
test_keeper_is_revoked_after_grace(void **state)
{
	struct mp_fix *f = *state;
	struct pml_removal_opts o = { .timeout_ms = 300 };
	unsigned n = 0;

	mp_spawn_open(f, &f->b, "B");
	mp_ok(&f->b, "acq 1 0 %" PRIu64 " 0 keep", 2 * f->A);

	uint64_t t0 = pmlt_now_ns();

	PMLT_OK(pml_device_prepare_removal(&n, file_dev(f), &o));

	double ms = (double)(pmlt_now_ns() - t0) / 1e6;

	printf("  keeper: prepare_removal returned after %.1f ms\n", ms);
	assert_int_equal(n, 1);
	assert_int_equal(break_reason(&f->b, 1), PML_BREAK_REMOVE);
	if (ms < 250)
		fail_msg("returned after %.1f ms, before the 300 ms grace", ms);
	/* its lease outlived the grace: revoked; the put still lets go */
	assert_int_equal(mp_cmd(&f->b, "revoked 1"), 1);
	PMLT_RC(-ENODEV, mp_cmd(&f->b, "put 1"));
	mp_ok(&f->b, "close");
}

/*
 * kill() returns before the target has stopped: until it has, its agent
 * may still answer.  Wait for the kernel to say it is stopped ('T').
 */
static void
wait_stopped(pid_t pid)
{
	char path[64], buf[256];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 5000; i++) {
		FILE *f = fopen(path, "r");
		char *end = NULL;

		if (f != NULL) {
			if (fgets(buf, sizeof(buf), f) != NULL)
				end = strrchr(buf, ')');
			fclose(f);
		}
		/* "pid (comm) S ...": the state after the command's name */
		if (end != NULL && end[1] == ' ' && end[2] == 'T')
			return;
		usleep(1000);
	}
	fail_msg("pid %d did not stop within 5 s of SIGSTOP", (int)pid);
}

static void
test_stopped_holder_times_out(void **state)
{
	struct mp_fix *f = *state;
	struct pml_removal_opts o = { .timeout_ms = 200 };
	unsigned n = 0;

	mp_spawn_open(f, &f->b, "B");
	mp_ok(&f->b, "acq 1 0 %" PRIu64 " 0 put", f->A);
	if (kill(f->b.pid, SIGSTOP))
		fail_msg("SIGSTOP: %s", strerror(errno));
	wait_stopped(f->b.pid);

	int rc = pml_device_prepare_removal(&n, file_dev(f), &o);
	char pid[32];

	snprintf(pid, sizeof(pid), "pid %d", (int)f->b.pid);
	printf("  stopped holder: %d: %s\n", rc, pml_errormsg());
	kill(f->b.pid, SIGCONT);
	PMLT_RC(-ETIMEDOUT, rc);
	assert_int_equal(n, 1);
	if (!strstr(pml_errormsg(), pid))
		fail_msg("the message does not name %s: %s", pid,
				pml_errormsg());
	/* once running again, its agent acts on the request */
	assert_int_equal(break_reason(&f->b, 1), PML_BREAK_REMOVE);
}

static void
test_other_device_untouched(void **state)
{
	struct mp_fix *f = *state;
	unsigned n = 99;

	mp_spawn_open(f, &f->b, "B");
	mp_ok(&f->b, "acq 1 0 %" PRIu64 " 0 put", f->A);
	PMLT_OK(pml_device_prepare_removal(&n, makedev(4095, 4095), NULL));
	assert_int_equal(n, 0);
	assert_int_equal(mp_cmd(&f->b, "revoked 1"), 0);
	if (mp_event_try(&f->b, "break 1 ", 200))
		fail_msg("a removal of another device broke B's lease");
	mp_ok(&f->b, "put 1");
}

static void
test_bad_arguments(void **state)
{
	struct pml_removal_opts o = { .flags = 0x80 };
	unsigned n;

	(void)state;
	PMLT_RC(-EINVAL, pml_device_prepare_removal(NULL, 0, NULL));
	PMLT_RC(-EINVAL, pml_device_prepare_removal(&n, 0, &o));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_holder_revokes_before_removal, mp_setup,
			mp_teardown),
		cmocka_unit_test_setup_teardown(
			test_keeper_is_revoked_after_grace, mp_setup,
			mp_teardown),
		cmocka_unit_test_setup_teardown(
			test_stopped_holder_times_out, mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(
			test_other_device_untouched, mp_setup, mp_teardown),
		cmocka_unit_test(test_bad_arguments),
	};

	return MP_RUN("test_mp_removal", tests);
}
