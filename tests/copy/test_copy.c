/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_copy -- `pmemlease copy`, the hot copy a DMA engine makes: pages
 * written with O_DIRECT through io_uring, a PIN over each chunk in flight.
 *   - the copy is the source, byte for byte, in several chunk sizes and
 *     depths, and the summary says what it did;
 *   - a truncate of the source waits for the chunks in flight (held
 *     --hold-ms after their writes, a slow device): the copy has all the
 *     bytes the truncate would have cut, the copy saw the break, and the
 *     truncate returned only after its puts;
 *   - with --with, the whole source is pinned: a truncate of a part the
 *     copy has not reached yet waits for the copy's end;
 *   - bad arguments and paths: a clear message and exit status, no DST;
 *   - the scenario: a database (the VFS "pmemlease", rollback
 *     journal) is in the middle of a DELETE (pages spilled, journal hot)
 *     while the copy reads it; then DELETE commits and VACUUM runs while
 *     the copy still holds every chunk: VACUUM's truncate waits for the
 *     copy; the copy plus the journal it took (--with) opens, with SQLite's
 *     own unix VFS, as a database that passes integrity_check with the
 *     rows of before the DELETE.
 */
#include "common.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "pmemlease_sqlite.h"
#include "sqlt.h"

#define MAX_MS 60000

static const char *
cli(void)
{
	return PML_CLI;
}

static void
same_files(const char *a, const char *b, uint64_t n)
{
	uint8_t *x = malloc(n), *y = malloc(n);

	assert_int_equal(pmlt_file_size(b), n);
	pmlt_read_file(a, 0, x, n);
	pmlt_read_file(b, 0, y, n);
	for (uint64_t i = 0; i < n; i++)
		if (x[i] != y[i])
			fail_msg("%s and %s differ at byte %" PRIu64, a, b, i);
	free(x);
	free(y);
}

static void
test_copy_is_the_source(void **state)
{
	char src[4200], dst[4200];
	uint64_t A = pmlt_probe_alignment(), size = 64 * A;
	static const char *const shapes[][2] = {
		{ "4k", "1" }, { "64k", "8" }, { "1m", "64" },
	};

	pmlt_path(src, sizeof(src), "src");
	pmlt_path(dst, sizeof(dst), "dst");
	pmlt_make_file(src, size, 7);
	for (unsigned i = 0; i < 3; i++) {
		struct pmlt_cmd c;

		pmlt_cmd_start(&c, (const char *[]){ cli(), "copy", "--chunk",
				shapes[i][0], "--depth", shapes[i][1], src, dst,
				NULL }, NULL);
		assert_int_equal(pmlt_cmd_finish(&c, "copy", MAX_MS), 0);
		assert_non_null(strstr(c.out, "copied 256 KiB"));
		same_files(src, dst, size);
		unlink(dst);
	}
	unlink(src);
}

static void
test_truncate_waits_for_chunks_in_flight(void **state)
{
	char src[4200], dst[4200], orig[4200];
	uint64_t A = pmlt_probe_alignment(), size = 64 * A;
	struct pml_region *r = NULL;
	struct pmlt_cmd c;

	pmlt_path(src, sizeof(src), "src");
	pmlt_path(dst, sizeof(dst), "dst");
	pmlt_path(orig, sizeof(orig), "orig");
	pmlt_make_file(src, size, 9);
	pmlt_make_file(orig, size, 9);
	PMLT_OK(pml_region_open(&r, src, NULL));
	/* every chunk in flight at once, each held 1.5 s after its write */
	pmlt_cmd_start(&c, (const char *[]){ cli(), "copy", "--chunk", "16k",
			"--depth", "64", "--hold-ms", "1500", src, dst, NULL },
			NULL);
	pmlt_wait_leases(src, c.pid, 10000);

	uint64_t t0 = pmlt_now_ns();

	PMLT_OK(pml_region_truncate(r, 4 * A, NULL));

	double waited = (double)(pmlt_now_ns() - t0) / 1e6;

	assert_int_equal(pmlt_cmd_finish(&c, "copy under a truncate", MAX_MS),
			0);
	printf("# the truncate returned after %.0f ms, once the copy put "
			"its chunks\n", waited);
	/* the truncate waited for the chunks: the copy has every byte */
	same_files(orig, dst, size);
	assert_non_null(strstr(c.out, "copied 256 KiB"));
	assert_null(strstr(c.out, " 0 breaks"));	/* it was asked */
	assert_int_equal(pmlt_file_size(src), 4 * A);
	PMLT_OK(pml_region_close(&r));
	unlink(src);
	unlink(dst);
	unlink(orig);
}

/*
 * With --with the whole source is pinned until the companions are copied:
 * a truncate of a part the copy has not reached yet waits for the end of
 * the copy, which then has every byte (one chunk in flight at a time).
 */
static void
test_with_pins_the_whole_source(void **state)
{
	char src[4200], dst[4200], orig[4200], side[4200], with[9000];
	uint64_t A = pmlt_probe_alignment(), size = 16 * A;
	struct pml_region *r = NULL;
	struct pmlt_cmd c;

	pmlt_path(src, sizeof(src), "src");
	pmlt_path(dst, sizeof(dst), "dst");
	pmlt_path(orig, sizeof(orig), "orig");
	pmlt_path(side, sizeof(side), "side");
	pmlt_make_file(src, size, 11);
	pmlt_make_file(orig, size, 11);
	pmlt_make_file(side, A, 12);
	snprintf(with, sizeof(with), "%s:%s.copy", side, side);
	PMLT_OK(pml_region_open(&r, src, NULL));
	pmlt_cmd_start(&c, (const char *[]){ cli(), "copy", "--chunk", "4k",
			"--depth", "1", "--hold-ms", "50", "--with", with, src,
			dst, NULL }, NULL);
	pmlt_wait_leases(src, c.pid, 10000);
	/* the copy is at its first chunks; cut the last three quarters */
	PMLT_OK(pml_region_truncate(r, 4 * A, NULL));
	assert_int_equal(pmlt_cmd_finish(&c, "copy --with under a truncate",
			MAX_MS), 0);
	same_files(orig, dst, size);
	assert_int_equal(pmlt_file_size(src), 4 * A);
	PMLT_OK(pml_region_close(&r));
	unlink(src);
	unlink(dst);
	unlink(orig);
	unlink(side);
	strcat(side, ".copy");
	unlink(side);
}

static void
test_bad_arguments(void **state)
{
	char src[4200], dst[4200];
	struct pmlt_cmd c;

	pmlt_path(src, sizeof(src), "src");
	pmlt_path(dst, sizeof(dst), "dst");
	pmlt_make_file(src, 4 * pmlt_probe_alignment(), 1);
	pmlt_cmd_start(&c, (const char *[]){ cli(), "copy", "--chunk", "1000",
			src, dst, NULL }, NULL);
	assert_int_equal(pmlt_cmd_finish(&c, "copy --chunk 1000", MAX_MS), 2);
	assert_non_null(strstr(c.out, "a multiple of 4k"));
	pmlt_cmd_start(&c, (const char *[]){ cli(), "copy", src, NULL }, NULL);
	assert_int_equal(pmlt_cmd_finish(&c, "copy, no DST", MAX_MS), 2);
	pmlt_cmd_start(&c, (const char *[]){ cli(), "copy", "/nonexistent/x",
			dst, NULL }, NULL);
	assert_int_equal(pmlt_cmd_finish(&c, "copy of a missing file", MAX_MS),
			1);
	assert_non_null(strstr(c.out, "/nonexistent/x"));
	assert_int_equal(access(dst, F_OK), -1);
	pmlt_cmd_start(&c, (const char *[]){ cli(), "copy", src,
			"/nonexistent/dir/y", NULL }, NULL);
	assert_int_equal(pmlt_cmd_finish(&c, "copy to a missing dir", MAX_MS),
			1);
	assert_non_null(strstr(c.out, "No such file"));
	unlink(src);
}

/* ------------------------------------------------- the database scenario */

static int
vacuum_fn(void *db)
{
	return sqlite3_exec(db, "COMMIT; VACUUM", NULL, NULL, NULL);
}

/*
 * A DELETE is under way (its pages spilled into the database, its journal
 * hot) while the copy reads the database; once the copy has landed and
 * taken the journal, the DELETE commits and VACUUM shrinks the file -- its
 * truncate waits for the chunks the copy still holds.  The copy plus the
 * journal is the database as it was before the DELETE.
 */
static void
test_database_copy_and_journal_restore(void **state)
{
	char dir[4200], db_path[4300], journal[4400], copy[4300],
	     copy_journal[4400], with[9000], before[64], after[64], got[64];

	pmlt_path(dir, sizeof(dir), "dbcopy");
	mkdir(dir, 0700);
	snprintf(db_path, sizeof(db_path), "%s/live.db", dir);
	snprintf(journal, sizeof(journal), "%s-journal", db_path);
	snprintf(copy, sizeof(copy), "%s/copy.db", dir);
	snprintf(copy_journal, sizeof(copy_journal), "%s-journal", copy);
	snprintf(with, sizeof(with), "%s:%s", journal, copy_journal);

	sqlite3 *db = sqlt_open(db_path, PML_SQLITE_VFS_NAME);

	sqlt_exec(db, "PRAGMA journal_mode=DELETE; CREATE TABLE t(id INTEGER "
			"PRIMARY KEY, v TEXT); WITH RECURSIVE s(x) AS (SELECT 1 "
			"UNION ALL SELECT x + 1 FROM s WHERE x < 30000) INSERT "
			"INTO t(v) SELECT printf('%0200d', x) FROM s");
	sqlt_query(db, "SELECT count(*) || '|' || sum(id) FROM t", before,
			sizeof(before));
	/* a small cache: the DELETE's pages go to the file before COMMIT */
	sqlt_exec(db, "PRAGMA cache_size=8; BEGIN; DELETE FROM t WHERE id % 3 = 0");
	assert_int_equal(access(journal, F_OK), 0);	/* hot */

	uint64_t size = pmlt_file_size(db_path);
	struct pmlt_cmd c;
	char depth[32];

	/* every chunk in flight at once, held 2 s after its write */
	snprintf(depth, sizeof(depth), "%" PRIu64, size / 65536 + 1);
	pmlt_cmd_start(&c, (const char *[]){ cli(), "copy", "--chunk", "64k",
			"--depth", depth, "--hold-ms", "2000", "--with", with,
			db_path, copy, NULL }, NULL);
	/* the journal copied means the chunks have landed */
	for (int i = 0; i < 3000 && access(copy_journal, F_OK); i++)
		pmlt_sleep_ms(5);
	assert_int_equal(access(copy_journal, F_OK), 0);

	struct pmlt_async a;
	uint64_t t0 = pmlt_now_ns();

	pmlt_async_start(&a, vacuum_fn, db);
	assert_int_equal(pmlt_cmd_finish(&c, "copy of a live database",
			MAX_MS), 0);
	assert_int_equal(pmlt_async_finish(&a, "COMMIT; VACUUM"), SQLITE_OK);
	printf("# COMMIT and VACUUM took %.0f ms beside the copy\n",
			(double)(pmlt_now_ns() - t0) / 1e6);
	/* VACUUM's truncate asked the copy to let go, and waited for it */
	assert_null(strstr(c.out, " 0 breaks"));
	assert_true(pmlt_file_size(db_path) < size);
	sqlt_query(db, "PRAGMA integrity_check", got, sizeof(got));
	assert_string_equal(got, "ok");
	sqlt_query(db, "SELECT count(*) || '|' || sum(id) FROM t", after,
			sizeof(after));
	assert_string_not_equal(after, before);
	sqlite3_close(db);

	/* the copy and its journal: SQLite's own unix VFS rolls it back */
	sqlite3 *restored = sqlt_open(copy, "unix");

	sqlt_query(restored, "PRAGMA integrity_check", got, sizeof(got));
	assert_string_equal(got, "ok");
	sqlt_query(restored, "SELECT count(*) || '|' || sum(id) FROM t", got,
			sizeof(got));
	printf("# live: %s rows|sum; the copy restored: %s; before the "
			"DELETE: %s\n", after, got, before);
	assert_string_equal(got, before);
	assert_int_equal(access(copy_journal, F_OK), -1);	/* rolled back */
	sqlite3_close(restored);
	unlink(db_path);
	unlink(copy);
	rmdir(dir);
}

int
main(void)
{
	if (pml_sqlite_register(0) != SQLITE_OK)
		return 1;

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_is_the_source),
		cmocka_unit_test(test_truncate_waits_for_chunks_in_flight),
		cmocka_unit_test(test_with_pins_the_whole_source),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_database_copy_and_journal_restore),
	};

	return PMLT_RUN("test_copy", tests);
}
