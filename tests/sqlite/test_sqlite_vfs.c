/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_sqlite_vfs -- SQLite through the VFS "pmemlease".
 *   - the workload (create, 100k inserts in transactions, updates,
 *     deletes, VACUUM, integrity_check) in journal (DELETE) and WAL modes,
 *     with mmap off and on: integrity_check ok, and the same answers as the
 *     same workload through SQLite's own unix VFS on another file;
 *   - two processes writing one database at once (busy_timeout): every row
 *     of both is there;
 *   - xFetch's pages are REF leases of this process while a read holds
 *     them (pml_snapshot sees them), gone after;
 *   - VACUUM's truncate waits for a PIN another process holds over the
 *     database's tail, and finishes after its put.
 * Other processes are this program again (--writer, --hold), never a bare
 * fork(): the library's threads do not survive one.
 * PML_TEST_SCALE scales the row counts (the real-DAX guest runs it too).
 */
#include "common.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "pmemlease_sqlite.h"
#include "sqlt.h"

static uint64_t
rows(void)
{
	uint64_t n = pmlt_scaled(100000);

	return n < 1000 ? 1000 : n;
}

/* the workload; what it leaves, summed, in out */
static void
workload(const char *path, const char *vfs, const char *mode, int mmap_on,
		char *out, size_t n)
{
	sqlite3 *db = sqlt_open(path, vfs);
	char sql[512];
	uint64_t total = rows(), batch = total / 10;

	snprintf(sql, sizeof(sql), "PRAGMA journal_mode=%s; "
			"PRAGMA mmap_size=%d; CREATE TABLE t(id INTEGER PRIMARY "
			"KEY, k INTEGER, v TEXT); CREATE INDEX tk ON t(k);", mode,
			mmap_on ? 256 << 20 : 0);
	sqlt_exec(db, sql);
	for (int i = 0; i < 10; i++) {
		snprintf(sql, sizeof(sql), "BEGIN; WITH RECURSIVE s(x) AS "
				"(SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < "
				"%" PRIu64 ") INSERT INTO t(k, v) SELECT x * %d, "
				"printf('row %%d of batch %d', x) FROM s; COMMIT;",
				batch, i + 1, i);
		sqlt_exec(db, sql);
	}
	sqlt_exec(db, "UPDATE t SET v = upper(v) || v WHERE id % 7 = 0");
	sqlt_exec(db, "DELETE FROM t WHERE id % 3 = 0");
	sqlt_exec(db, "VACUUM");
	sqlt_integrity_ok(db);
	sqlt_query(db, "SELECT count(*) || '|' || sum(k) || '|' || sum(length(v)) "
			"|| '|' || max(v) FROM t", out, n);
	sqlite3_close(db);
}

static void
compare_with_unix(const char *mode, int mmap_on)
{
	char a[4200], b[4200], ra[256], rb[256];

	pmlt_path(a, sizeof(a), "pml.db");
	pmlt_path(b, sizeof(b), "unix.db");
	workload(a, PML_SQLITE_VFS_NAME, mode, mmap_on, ra, sizeof(ra));
	workload(b, "unix", mode, mmap_on, rb, sizeof(rb));
	printf("# %s, mmap %s: pmemlease %s, unix %s\n", mode,
			mmap_on ? "on" : "off", ra, rb);
	assert_string_equal(ra, rb);

	/* and the unix VFS reads ours as the same database */
	sqlite3 *db = sqlt_open(a, "unix");

	sqlt_integrity_ok(db);
	sqlt_query(db, "SELECT count(*) || '|' || sum(k) || '|' || sum(length(v)) "
			"|| '|' || max(v) FROM t", rb, sizeof(rb));
	assert_string_equal(ra, rb);
	sqlite3_close(db);
	unlink(a);
	unlink(b);
}

static void
test_workload_delete(void **state)
{
	compare_with_unix("DELETE", 0);
}

static void
test_workload_delete_mmap(void **state)
{
	compare_with_unix("DELETE", 1);
}

static void
test_workload_wal(void **state)
{
	compare_with_unix("WAL", 0);
}

static void
test_workload_wal_mmap(void **state)
{
	compare_with_unix("WAL", 1);
}

/* ------------------------------------------------- two processes writing */

static void
writer(const char *path, int who, int txns, int per)
{
	sqlite3 *db = sqlt_open(path, PML_SQLITE_VFS_NAME);
	char sql[256];

	for (int i = 0; i < txns; i++) {
		snprintf(sql, sizeof(sql), "BEGIN IMMEDIATE; WITH RECURSIVE "
				"s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s "
				"WHERE x < %d) INSERT INTO t(who, v) SELECT %d, "
				"randomblob(64) FROM s; COMMIT;", per, who);
		char *err = NULL;

		if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
			fprintf(stderr, "writer %d: %s\n", who, err);
			_exit(1);
		}
	}
	sqlite3_close(db);
}

static void
two_writers(const char *mode)
{
	char path[4200], r[256], sql[128];
	const int txns = (int)pmlt_scaled(200) + 1, per = 50;

	pmlt_path(path, sizeof(path), "two.db");
	sqlite3 *db = sqlt_open(path, PML_SQLITE_VFS_NAME);

	snprintf(sql, sizeof(sql), "PRAGMA journal_mode=%s; CREATE TABLE "
			"t(id INTEGER PRIMARY KEY, who INTEGER, v BLOB)", mode);
	sqlt_exec(db, sql);
	sqlite3_close(db);

	/* two processes of this program (a fork alone would carry threads) */
	struct pmlt_cmd c[2];
	char who[2][8], n[16], m[16];

	snprintf(n, sizeof(n), "%d", txns);
	snprintf(m, sizeof(m), "%d", per);
	for (int w = 0; w < 2; w++) {
		snprintf(who[w], sizeof(who[w]), "%d", w);
		pmlt_cmd_start(&c[w], (const char *[]){ "/proc/self/exe",
				"--writer", path, who[w], n, m, NULL }, NULL);
	}
	for (int w = 0; w < 2; w++)
		assert_int_equal(pmlt_cmd_finish(&c[w], "a writer", 600000),
				0);
	db = sqlt_open(path, PML_SQLITE_VFS_NAME);
	sqlt_integrity_ok(db);
	sqlt_query(db, "SELECT count(*) || '|' || sum(who) FROM t", r, sizeof(r));

	char want[64];

	snprintf(want, sizeof(want), "%d|%d", 2 * txns * per, txns * per);
	printf("# two writers, %s: %s rows|sum(who)\n", mode, r);
	assert_string_equal(r, want);
	sqlite3_close(db);
	unlink(path);
}

static void
test_two_processes_delete(void **state)
{
	two_writers("DELETE");
}

static void
test_two_processes_wal(void **state)
{
	two_writers("WAL");
}

/* ------------------------------------------------ xFetch and its leases */

static void
test_fetch_holds_ref_leases(void **state)
{
	char path[4200];

	pmlt_path(path, sizeof(path), "fetch.db");
	sqlite3 *db = sqlt_open(path, PML_SQLITE_VFS_NAME);

	sqlt_exec(db, "PRAGMA mmap_size=268435456; CREATE TABLE t(v BLOB); "
			"WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
			"FROM s WHERE x < 500) INSERT INTO t SELECT "
			"randomblob(3000) FROM s");

	sqlite3_stmt *st;

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT v FROM t", -1, &st,
			NULL), SQLITE_OK);
	for (int i = 0; i < 10; i++)
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);

	unsigned held = pmlt_leases_of(path, getpid(), PML_LEASE_REF);

	printf("# a read in progress with mmap holds %u REF leases\n", held);
	assert_true(held > 0);
	sqlite3_finalize(st);
	assert_int_equal(pmlt_leases_of(path, getpid(), PML_LEASE_REF), 0);

	/* with mmap off, nothing is fetched */
	sqlt_exec(db, "PRAGMA mmap_size=0");
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT v FROM t", -1, &st,
			NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(pmlt_leases_of(path, getpid(), PML_LEASE_REF), 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	unlink(path);
}

/* ---------------------------------------- a truncate waits for a PIN */

struct vacuum_call {
	sqlite3 *db;
};

static int
vacuum_fn(void *arg)
{
	struct vacuum_call *c = arg;

	return sqlite3_exec(c->db, "VACUUM", NULL, NULL, NULL);
}

static void
test_vacuum_waits_for_pin(void **state)
{
	char path[4200], lease[64];

	pmlt_path(path, sizeof(path), "pin.db");
	sqlite3 *db = sqlt_open(path, PML_SQLITE_VFS_NAME);

	sqlt_exec(db, "CREATE TABLE t(v BLOB); WITH RECURSIVE s(x) AS (SELECT 1 "
			"UNION ALL SELECT x + 1 FROM s WHERE x < 6000) INSERT "
			"INTO t SELECT randomblob(1000) FROM s; "
			"DELETE FROM t WHERE rowid > 1000");

	uint64_t size = pmlt_file_size(path);

	/* another process pins the file's last unit, as a DMA would */
	struct pmlt_cmd h;

	snprintf(lease, sizeof(lease), "%" PRIu64, size / 4096 * 4096 - 4096);
	pmlt_cmd_start(&h, (const char *[]){ "/proc/self/exe", "--hold", path,
			lease, "2500", NULL }, NULL);
	pmlt_wait_leases(path, h.pid, 10000);

	struct vacuum_call vc = { db };
	struct pmlt_async a;

	pmlt_async_start(&a, vacuum_fn, &vc);
	pmlt_sleep_ms(500);
	if (pmlt_async_is_done(&a))
		fail_msg("VACUUM finished while another process pinned the "
				"tail it cuts");
	assert_int_equal(pmlt_async_finish(&a, "VACUUM"), SQLITE_OK);
	assert_int_equal(pmlt_cmd_finish(&h, "the holder", 60000), 0);
	assert_true(pmlt_file_size(path) < size);
	sqlt_integrity_ok(db);

	char r[64];

	sqlt_query(db, "SELECT count(*) FROM t", r, sizeof(r));
	assert_string_equal(r, "1000");
	sqlite3_close(db);
	unlink(path);
}

/* --hold PATH OFFSET MS: a PIN over [OFFSET, +4096) for MS, as a DMA */
static int
hold(const char *path, uint64_t off, unsigned ms)
{
	struct pml_region *r = NULL;
	struct pml_lease *l = NULL;
	const struct pml_region_opts o = { .flags = PML_REGION_PARTIAL_TAIL };

	if (pml_region_open(&r, path, &o) || pml_lease_acquire(&l, r, off, 4096,
			PML_LEASE_PIN, NULL, NULL)) {
		fprintf(stderr, "hold: %s\n", pml_errormsg());
		return 1;
	}
	pmlt_sleep_ms(ms);
	pml_lease_put(l);
	return pml_region_close(&r) ? 1 : 0;
}

int
main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "--hold") == 0)
		return hold(argv[2], strtoull(argv[3], NULL, 0),
				(unsigned)atoi(argv[4]));
	if (argc == 6 && strcmp(argv[1], "--writer") == 0) {
		pml_sqlite_register(0);
		writer(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
		return 0;
	}
	if (pml_sqlite_register(0) != SQLITE_OK) {
		fprintf(stderr, "pml_sqlite_register failed\n");
		return 1;
	}

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_workload_delete),
		cmocka_unit_test(test_workload_delete_mmap),
		cmocka_unit_test(test_workload_wal),
		cmocka_unit_test(test_workload_wal_mmap),
		cmocka_unit_test(test_two_processes_delete),
		cmocka_unit_test(test_two_processes_wal),
		cmocka_unit_test(test_fetch_holds_ref_leases),
		cmocka_unit_test(test_vacuum_waits_for_pin),
	};

	return PMLT_RUN("test_sqlite_vfs", tests);
}
