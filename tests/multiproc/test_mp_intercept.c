/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_mp_intercept -- libpmemlease-intercept.so under unmodified
 * programs: coreutils truncate(1) and util-linux fallocate(1), run with
 * LD_PRELOAD while helper B (holder.c) holds a PIN over the range they
 * change.  Checked:
 *   - truncate -s and fallocate -p/-z/--collapse-range/--insert-range wait
 *     for B's put (they are still running long after they would have
 *     finished unguarded, and finish right after the put); the file is
 *     what the command asked for afterwards, byte for byte, and B's region
 *     follows the new size;
 *   - sizes and ranges that are not whole units (truncate -s 10000,
 *     fallocate -p -o 5000) go through the barrier too;
 *   - PMEMLEASE_INTERCEPT_POLICY=fail: the command fails with ETIMEDOUT
 *     after the timeout and the file is exactly as before; =revoke: B is
 *     told (PML_BREAK_REVOKED) and the truncate proceeds;
 *   - fallocate --posix (posix_fallocate) grows the file and B's region;
 *   - the same commands on a file nobody leases are passed straight
 *     through, and a bad policy value refuses loudly;
 *   - sqlite3(1), unmodified: 100k inserts, updates, deletes and VACUUM
 *     while B pins the database's tail; VACUUM's truncate waits for B,
 *     and integrity_check and the row count and sum are right.
 */
#include "mp.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define EV_MS (5000 * mp_slow())
/* long after an unguarded command would have finished */
#define HELD_MS (400 * mp_slow())

/* run argv with the intercept preloaded, and env added */
static void
cmd_start(struct pmlt_cmd *c, const char *const *argv,
		const char *const *env)
{
	const char *e[16] = {
		/* a sanitizer's runtime must come before the library */
		"LD_PRELOAD=" PRELOAD_RUNTIME INTERCEPT_SO,
		"ASAN_OPTIONS=detect_leaks=0",
	};

	for (unsigned i = 0; env && env[i] && i < 13; i++)
		e[i + 2] = env[i];
	pmlt_cmd_start(c, argv, e);
}

static int
cmd_finish(struct pmlt_cmd *c, const char *what)
{
	return pmlt_cmd_finish(c, what, EV_MS);
}

static bool
cmd_running_after(struct pmlt_cmd *c, unsigned ms)
{
	return pmlt_cmd_running_after(c, ms);
}

/* run it to the end */
static int
cmd_run(struct pmlt_cmd *c, const char *const *argv, const char *const *env,
		const char *what)
{
	cmd_start(c, argv, env);
	return cmd_finish(c, what);
}

/* B opens the file and pins [off, off + len) (on_break: report only) */
static void
b_pins(struct mp_fix *f, uint64_t off, uint64_t len)
{
	mp_spawn_open(f, &f->b, "b");
	mp_ok(&f->b, "acq 0 %" PRIu64 " %" PRIu64 " 0 keep", off, len);
}

/* the command must wait for B's pin: still running, then done on the put */
static void
waits_for_put(struct mp_fix *f, const char *const *argv, const char *what)
{
	struct pmlt_cmd c;

	cmd_start(&c, argv, NULL);
	if (!cmd_running_after(&c, HELD_MS))
		fail_msg("%s finished while B held its PIN over the range", what);
	mp_event(&f->b, "break 0 ", EV_MS);	/* asked to let go */
	uint64_t t0 = pmlt_now_ns();

	mp_ok(&f->b, "put 0");
	assert_int_equal(cmd_finish(&c, what), 0);
	printf("# %s finished %.1f ms after B's put\n", what,
			(double)(pmlt_now_ns() - t0) / 1e6);
}

static uint64_t
b_size(struct mp_fix *f)
{
	return (uint64_t)mp_cmd(&f->b, "size");
}

static char *
num(char *buf, uint64_t v)
{
	sprintf(buf, "%" PRIu64, v);
	return buf;
}

static void
test_truncate_waits_for_pin(void **state)
{
	struct mp_fix *f = *state;
	char s[32];
	uint64_t size = 6 * f->A;

	b_pins(f, 10 * f->A, f->A);
	waits_for_put(f, (const char *[]){ "truncate", "-s", num(s, size),
			f->path, NULL }, "truncate -s 6 units");
	assert_int_equal(pmlt_file_size(f->path), size);
	pmlt_file_pattern(f->path, 0, size, MP_FILE_SEED, 0);
	assert_int_equal(b_size(f), size);	/* B's region followed */
}

static void
test_truncate_inside_a_unit(void **state)
{
	struct mp_fix *f = *state;
	char s[32];
	uint64_t size = 9 * f->A + 10;	/* inside unit 9, which B pins */

	b_pins(f, 9 * f->A, 16);
	waits_for_put(f, (const char *[]){ "truncate", "-s", num(s, size),
			f->path, NULL }, "truncate -s 9 units + 10");
	assert_int_equal(pmlt_file_size(f->path), size);
	pmlt_file_pattern(f->path, 0, size, MP_FILE_SEED, 0);
	/* the partial unit left the region: B's is the whole units */
	assert_int_equal(b_size(f), 9 * f->A);
}

static void
test_punch_waits_for_pin(void **state)
{
	struct mp_fix *f = *state;
	char o[32], l[32];

	b_pins(f, 4 * f->A + 100, 8);
	uint64_t before = mp_alloc(f, 2 * f->A, 4 * f->A);

	/* from inside unit 2 to inside unit 6: units 3..5 deallocated */
	waits_for_put(f, (const char *[]){ "fallocate", "-p", "-o",
			num(o, 2 * f->A + 5), "-l", num(l, 4 * f->A), f->path,
			NULL }, "fallocate -p, not whole units");
	pmlt_file_pattern(f->path, 0, 2 * f->A + 5, MP_FILE_SEED, 0);
	pmlt_file_zeroes(f->path, 2 * f->A + 5, 6 * f->A + 5);
	pmlt_file_pattern(f->path, 6 * f->A + 5, MP_PAGES * f->A, MP_FILE_SEED, 0);
	assert_true(mp_alloc(f, 2 * f->A, 4 * f->A) <= before - 3 * f->A);
	assert_int_equal(pmlt_file_size(f->path), MP_PAGES * f->A);
}

static void
test_zero_range_waits_for_pin(void **state)
{
	struct mp_fix *f = *state;
	char o[32], l[32];

	b_pins(f, 7 * f->A, f->A);
	waits_for_put(f, (const char *[]){ "fallocate", "-z", "-o",
			num(o, 6 * f->A), "-l", num(l, 3 * f->A), f->path,
			NULL }, "fallocate -z");
	pmlt_file_pattern(f->path, 0, 6 * f->A, MP_FILE_SEED, 0);
	pmlt_file_zeroes(f->path, 6 * f->A, 9 * f->A);
	pmlt_file_pattern(f->path, 9 * f->A, MP_PAGES * f->A, MP_FILE_SEED, 0);
}

static void
test_collapse_and_insert_wait_for_pin(void **state)
{
	struct mp_fix *f = *state;
	char o[32], l[32];

	/* a pin past the collapsed range: its blocks move */
	b_pins(f, 12 * f->A, f->A);
	waits_for_put(f, (const char *[]){ "fallocate", "--collapse-range",
			"-o", num(o, 2 * f->A), "-l", num(l, 2 * f->A), f->path,
			NULL }, "fallocate --collapse-range");
	assert_int_equal(pmlt_file_size(f->path), 14 * f->A);
	pmlt_file_pattern(f->path, 0, 2 * f->A, MP_FILE_SEED, 0);
	pmlt_file_pattern(f->path, 2 * f->A, 14 * f->A, MP_FILE_SEED, 2 * f->A);
	assert_int_equal(b_size(f), 14 * f->A);

	mp_ok(&f->b, "acq 1 %" PRIu64 " %" PRIu64 " 0 keep", 8 * f->A, f->A);
	struct pmlt_cmd c;

	cmd_start(&c, (const char *[]){ "fallocate", "--insert-range", "-o",
			num(o, 2 * f->A), "-l", num(l, 2 * f->A), f->path,
			NULL }, NULL);
	if (!cmd_running_after(&c, HELD_MS))
		fail_msg("insert-range finished under B's PIN");
	mp_ok(&f->b, "put 1");
	assert_int_equal(cmd_finish(&c, "fallocate --insert-range"), 0);
	assert_int_equal(pmlt_file_size(f->path), MP_PAGES * f->A);
	pmlt_file_pattern(f->path, 0, 2 * f->A, MP_FILE_SEED, 0);
	pmlt_file_zeroes(f->path, 2 * f->A, 4 * f->A);
	pmlt_file_pattern(f->path, 4 * f->A, MP_PAGES * f->A, MP_FILE_SEED, 0);
	assert_int_equal(b_size(f), MP_PAGES * f->A);
}

static void
test_fail_policy_changes_nothing(void **state)
{
	struct mp_fix *f = *state;
	struct pmlt_cmd c;
	struct pmlt_snap before;
	char s[32];

	b_pins(f, 10 * f->A, f->A);
	pmlt_snap_take(&before, f->path);
	int st = cmd_run(&c, (const char *[]){ "truncate", "-s",
			num(s, 4 * f->A), f->path, NULL },
			(const char *[]){ "PMEMLEASE_INTERCEPT_POLICY=fail",
			"PMEMLEASE_INTERCEPT_TIMEOUT_MS=300", NULL },
			"truncate, policy fail");

	assert_int_not_equal(st, 0);
	assert_non_null(strstr(c.out, "refused"));
	assert_non_null(strstr(c.out, "timed out"));	/* truncate's strerror */
	pmlt_snap_same(&before, f->path, "after a refused truncate");
	pmlt_snap_free(&before);
	assert_int_equal(b_size(f), MP_PAGES * f->A);
	mp_ok(&f->b, "put 0");
}

static void
test_revoke_policy_tells_holder(void **state)
{
	struct mp_fix *f = *state;
	struct pmlt_cmd c;
	char s[32];

	b_pins(f, 10 * f->A, f->A);
	int st = cmd_run(&c, (const char *[]){ "truncate", "-s",
			num(s, 8 * f->A), f->path, NULL },
			(const char *[]){ "PMEMLEASE_INTERCEPT_POLICY=revoke",
			"PMEMLEASE_INTERCEPT_TIMEOUT_MS=300", NULL },
			"truncate, policy revoke");

	assert_int_equal(st, 0);
	char revoked[32];

	mp_event(&f->b, "break 0 1 ", EV_MS);	/* PML_BREAK_LAYOUT first */
	snprintf(revoked, sizeof(revoked), "break 0 %d ", PML_BREAK_REVOKED);
	mp_event(&f->b, revoked, EV_MS);
	assert_int_equal(b_size(f), 8 * f->A);
	assert_int_equal(mp_cmd(&f->b, "revoked 0"), 1);
	/* B's blocks stay in the file until its put */
	assert_true(pmlt_file_size(f->path) >= 11 * f->A);
	mp_ok(&f->b, "put 0");
	mp_ok(&f->b, "close");
	assert_int_equal(pmlt_file_size(f->path), 8 * f->A);
	pmlt_file_pattern(f->path, 0, 8 * f->A, MP_FILE_SEED, 0);
}

static void
test_posix_fallocate_grows_region(void **state)
{
	struct mp_fix *f = *state;
	struct pmlt_cmd c;
	char l[32];

	b_pins(f, 0, f->A);
	assert_int_equal(cmd_run(&c, (const char *[]){ "fallocate", "-x",
			"-l", num(l, 20 * f->A), f->path, NULL },
			(const char *[]){ "PMEMLEASE_INTERCEPT_VERBOSE=1", NULL },
			"fallocate --posix -l 20 units"), 0);
	assert_non_null(strstr(c.out, "went through the lease barrier"));
	assert_int_equal(pmlt_file_size(f->path), 20 * f->A);
	assert_int_equal(b_size(f), 20 * f->A);
	pmlt_file_pattern(f->path, 0, MP_PAGES * f->A, MP_FILE_SEED, 0);
	mp_ok(&f->b, "put 0");
}

static void
test_unleased_file_passes_through(void **state)
{
	struct mp_fix *f = *state;
	struct pmlt_cmd c;
	char other[4200], s[32];

	b_pins(f, 0, MP_PAGES * f->A);	/* a pin on the other file */
	pmlt_path(other, sizeof(other), "unleased");
	pmlt_make_file(other, 8 * f->A, 5);
	assert_int_equal(cmd_run(&c, (const char *[]){ "truncate", "-s",
			num(s, 3 * f->A + 7), other, NULL },
			(const char *[]){ "PMEMLEASE_INTERCEPT_VERBOSE=1",
			"PMEMLEASE_INTERCEPT_POLICY=bogus", NULL },
			"truncate of a file nobody leases"), 0);
	assert_null(strstr(c.out, "pmemlease-intercept"));	/* silent */
	assert_int_equal(pmlt_file_size(other), 3 * f->A + 7);
	assert_int_equal(cmd_run(&c, (const char *[]){ "fallocate", "-p",
			"-o", "0", "-l", num(s, f->A), other, NULL }, NULL,
			"fallocate -p of a file nobody leases"), 0);
	unlink(other);

	/* the leased one, with a bad policy: refused, loudly, unchanged */
	assert_int_not_equal(cmd_run(&c, (const char *[]){ "truncate", "-s",
			"0", f->path, NULL },
			(const char *[]){ "PMEMLEASE_INTERCEPT_POLICY=bogus",
			NULL }, "truncate with a bad policy"), 0);
	assert_non_null(strstr(c.out, "PMEMLEASE_INTERCEPT_POLICY='bogus'"));
	assert_int_equal(pmlt_file_size(f->path), MP_PAGES * f->A);
	mp_ok(&f->b, "put 0");
}

/* sqlite3(1) runs SQL from a file under the intercept; its output */
static int
sqlite3_run(struct pmlt_cmd *c, const char *db, const char *sql, bool wait,
		struct mp_fix *f, const char *what)
{
	char script[4400];

	snprintf(script, sizeof(script), "%s.sql", db);
	FILE *fp = fopen(script, "w");

	assert_non_null(fp);
	fputs(sql, fp);
	fclose(fp);

	char init[4500];

	snprintf(init, sizeof(init), ".read %s", script);
	cmd_start(c, (const char *[]){ "sqlite3", "-bail", db, init, NULL },
			NULL);
	if (wait) {
		/* VACUUM's truncate reaches the barrier: B is asked */
		mp_event(&f->b, "break 1 1 ", EV_MS * 6);
		if (!cmd_running_after(c, HELD_MS))
			fail_msg("%s: finished while B held its PIN over the "
					"tail", what);
		mp_ok(&f->b, "put 1");
	}
	int st = cmd_finish(c, what);

	unlink(script);
	return st;
}

/*
 * The database workload of the issue under plain sqlite3 with the
 * intercept: 100k inserts in transactions while B pins the database's
 * tail, then updates, deletes and VACUUM (which truncates) while B pins the
 * tail again: the truncate waits for B, and the database is whole.
 */
static void
test_sqlite3_workload_under_intercept(void **state)
{
	struct mp_fix *f = *state;
	struct pmlt_cmd c;
	char db[4300];

	if (access("/usr/bin/sqlite3", X_OK)) {
		printf("# SKIPPED: /usr/bin/sqlite3 is missing (Debian package "
				"sqlite3; scripts/install-deps.sh installs it)\n");
		skip();
	}
	snprintf(db, sizeof(db), "%s.db", f->path);
	assert_int_equal(sqlite3_run(&c, db,
			"PRAGMA journal_mode=DELETE;\n"
			"CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, "
			"v TEXT);\n", false, f, "sqlite3: create"), 0);
	/* the db is whole units (4 KiB pages): B can open it */
	uint64_t size = pmlt_file_size(db);

	assert_int_equal(size % f->A, 0);
	mp_spawn(&f->b, "b", NULL);
	mp_ok(&f->b, "open %s %" PRIu64, db, 4096 * f->A);
	mp_ok(&f->b, "acq 0 %" PRIu64 " %" PRIu64 " 0 keep", size - f->A,
			f->A);

	char sql[4096];
	int n = 0;

	for (int i = 0; i < 10; i++)
		n += snprintf(sql + n, sizeof(sql) - (size_t)n,
			"BEGIN;\nWITH RECURSIVE s(x) AS (SELECT 1 UNION ALL "
			"SELECT x + 1 FROM s WHERE x < 10000) INSERT INTO t(k, v) "
			"SELECT x * %d, printf('row %%d of batch %d', x) FROM s;\n"
			"COMMIT;\n", i + 1, i);
	assert_int_equal(sqlite3_run(&c, db, sql, false, f,
			"sqlite3: 100k inserts"), 0);
	mp_ok(&f->b, "put 0");

	/* pin the grown file's tail, then shrink it under the pin */
	size = pmlt_file_size(db);
	mp_ok(&f->b, "close");
	mp_ok(&f->b, "open %s %" PRIu64, db, 4096 * f->A);
	mp_ok(&f->b, "acq 1 %" PRIu64 " %" PRIu64 " 0 keep", size - f->A,
			f->A);
	assert_int_equal(sqlite3_run(&c, db,
			"UPDATE t SET v = upper(v) WHERE id % 7 = 0;\n"
			"DELETE FROM t WHERE id % 3 = 0;\n"
			"VACUUM;\n"
			"PRAGMA integrity_check;\n"
			"SELECT count(*), sum(k) FROM t;\n",
			true, f, "sqlite3: update, delete, VACUUM"), 0);
	assert_true(pmlt_file_size(db) < size);
	/* 100000 rows less every third; k summed over what is left */
	uint64_t sum = 0, rows = 0;

	for (uint64_t id = 1; id <= 100000; id++) {
		if (id % 3 == 0)
			continue;
		rows++;
		sum += ((id - 1) % 10000 + 1) * ((id - 1) / 10000 + 1);
	}
	char want[128];

	snprintf(want, sizeof(want), "ok\n%" PRIu64 "|%" PRIu64 "\n", rows,
			sum);
	if (!strstr(c.out, want))
		fail_msg("sqlite3 said \"%s\", not \"%s\"", c.out, want);
	assert_int_equal(b_size(f), pmlt_file_size(db));
	mp_ok(&f->b, "close");
	unlink(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_truncate_waits_for_pin,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(test_truncate_inside_a_unit,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(test_punch_waits_for_pin,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(test_zero_range_waits_for_pin,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(
			test_collapse_and_insert_wait_for_pin,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(test_fail_policy_changes_nothing,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(test_revoke_policy_tells_holder,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(test_posix_fallocate_grows_region,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(test_unleased_file_passes_through,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(
			test_sqlite3_workload_under_intercept,
			mp_setup, mp_teardown),
	};

	return MP_RUN("mp_intercept", tests);
}
