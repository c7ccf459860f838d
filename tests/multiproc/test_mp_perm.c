/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_mp_perm -- a process may revoke only the leases of processes of its
 * own user; root may revoke anyone's.
 *
 * Needs root, to start helpers that setuid() to other users before they
 * exec.  The runtime directory is shared on purpose (sticky, mode 1777),
 * the data file is mode 0666, and root -- this program -- opens it first,
 * so the state file is root's and every user may join it.
 *   B: uid 65534, holds PINs;
 *   C: uid 65533, another user: its revoking punch over B's lease fails
 *      with -EPERM and changes nothing;
 *   D: uid 65534, B's own user: it may revoke B's lease;
 *   root (this process) may revoke B's lease too.
 */
#include "mp.h"

#include <inttypes.h>
#include <stdlib.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define EV_MS (5000 * mp_slow())

static const struct mp_spawn_opts as_b = { true, 65534, 65534, NULL };
static const struct mp_spawn_opts as_c = { true, 65533, 65533, NULL };

static void
spawn_as(struct mp_fix *f, struct mp_proc *p, const char *name,
		const struct mp_spawn_opts *o)
{
	mp_spawn(p, name, o);
	mp_ok(p, "open %s %" PRIu64, f->path, 64 * f->A);
}

/* a break of B's lease id with this reason, or none within ms */
static bool
broke(struct mp_fix *f, int id, int reason, unsigned ms)
{
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "break %d %d ", id, reason);
	return mp_event_try(&f->b, prefix, ms) != NULL;
}

/* can uid 65534 run the helper and reach the test directory? */
static bool
nobody_can_reach(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		alarm(0);
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(2);
		_exit(access(MP_HOLDER, X_OK) || access(pmlt_dir(), X_OK));
	}

	int st = 1;

	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return false;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void
shared_setup(struct mp_fix *f)
{
	if (geteuid() != 0) {
		printf("  (needs root to start processes of other users: "
				"skipped)\n");
		skip();
	}
	/* others must reach the data file and the runtime directory */
	if (chmod(pmlt_dir(), 0755) || chmod(f->path, 0666) ||
			chmod(f->rt, 01777))
		fail_msg("chmod: %s", strerror(errno));
	if (!nobody_can_reach()) {
		printf("  (uid 65534 cannot run %s or reach %s -- a directory "
				"above is not searchable by others: skipped; "
				"build and PML_TEST_DIR under /tmp to run it)\n",
				MP_HOLDER, pmlt_dir());
		skip();
	}
	mp_open_here(f);
}

static void
test_revoke_other_user_refused(void **state)
{
	struct mp_fix *f = *state;
	uint64_t A = f->A;
	struct pmlt_snap snap;

	shared_setup(f);
	spawn_as(f, &f->b, "B", &as_b);
	spawn_as(f, &f->c, "C", &as_c);
	mp_ok(&f->b, "acq 1 %" PRIu64 " %" PRIu64 " 0 keep", 4 * A, 2 * A);
	pmlt_snap_take(&snap, f->path);

	int rc = mp_cmd(&f->c, "punch %" PRIu64 " %" PRIu64 " 100 revoke",
			4 * A, 4 * A);

	printf("  uid 65533's revoking punch over uid 65534's lease: %d "
			"(%s): %s\n", rc, pmlt_errname(rc), f->c.reply);
	PMLT_RC(-EPERM, rc);
	if (!strstr(f->c.reply, "65534"))
		fail_msg("the message \"%s\" does not name the holder's uid",
				f->c.reply);
	/* nothing changed: file, lease, no revoke told */
	pmlt_snap_same(&snap, f->path, "after a refused revoke");
	pmlt_snap_free(&snap);
	assert_int_equal(mp_cmd(&f->b, "revoked 1"), 0);
	mp_ok(&f->b, "get 1");
	mp_ok(&f->b, "put 1");
	if (broke(f, 1, PML_BREAK_REVOKED, 300))
		fail_msg("B was told its lease is revoked by a process of "
				"another user");
	assert_int_equal(mp_quarantined(f), 0);
	/* the barrier is gone: B and C acquire in the range again */
	(void)mp_cmd(&f->b, "size");
	mp_ok(&f->b, "acq 2 %" PRIu64 " %" PRIu64 " %u none", 6 * A, A,
			PML_LEASE_NOWAIT);
	mp_ok(&f->b, "put 2");
	mp_ok(&f->c, "acq 1 %" PRIu64 " %" PRIu64 " 0 none", 6 * A, A);
	mp_ok(&f->c, "put 1");

	/* with FAIL, the same punch only waits and times out */
	PMLT_RC(-ETIMEDOUT, mp_cmd(&f->c, "punch %" PRIu64 " %" PRIu64
			" 100 fail", 4 * A, 4 * A));
	assert_int_equal(mp_cmd(&f->b, "revoked 1"), 0);

	mp_ok(&f->b, "put 1");
	mp_exit(&f->b);
	mp_exit(&f->c);
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
revoked_then_put(struct mp_fix *f, int id, uint64_t off, uint64_t len)
{
	if (!broke(f, id, PML_BREAK_REVOKED, EV_MS))
		fail_msg("B's lease %d was not revoked in B", id);
	PMLT_RC(-ESTALE, mp_cmd(&f->b, "get %d", id));
	assert_int_equal(mp_alloc(f, off, len), len);
	mp_ok(&f->b, "put %d", id);

	struct quar_arg q = { f, off, len };

	if (mp_poll_ms(quar_lifted, &q, 3000 * mp_slow()) < 0)
		fail_msg("B's put (as uid 65534) did not lift its quarantine");
}

static void
test_revoke_same_user_and_root(void **state)
{
	struct mp_fix *f = *state;
	uint64_t A = f->A;
	const struct pml_barrier_opts rev = { 100, PML_ON_TIMEOUT_REVOKE };

	shared_setup(f);
	spawn_as(f, &f->b, "B", &as_b);
	spawn_as(f, &f->d, "D", &as_b);
	mp_ok(&f->b, "acq 1 %" PRIu64 " %" PRIu64 " 0 keep", 4 * A, 2 * A);
	mp_ok(&f->b, "acq 2 %" PRIu64 " %" PRIu64 " 0 keep", 10 * A, 2 * A);

	/* B's own user may */
	mp_ok(&f->d, "punch %" PRIu64 " %" PRIu64 " 100 revoke", 4 * A, 2 * A);
	revoked_then_put(f, 1, 4 * A, 2 * A);
	/* and root may */
	PMLT_OK(pml_region_punch(f->r, 10 * A, 2 * A, &rev));
	revoked_then_put(f, 2, 10 * A, 2 * A);
	mp_exit(&f->b);
	mp_exit(&f->d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_revoke_other_user_refused,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(test_revoke_same_user_and_root,
			mp_setup, mp_teardown),
	};

	return MP_RUN("test_mp_perm", tests);
}
