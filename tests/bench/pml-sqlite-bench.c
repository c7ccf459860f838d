/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pml-sqlite-bench -- the same SQL workload through the VFS "pmemlease" and
 * through SQLite's own unix VFS with PRAGMA mmap_size, on the same file,
 * in one run.
 *
 * Each repetition runs both VFSes one after the other (the order rotates),
 * each on a fresh database at the same path, phase by phase:
 *   insert   N rows in transactions of 1000
 *   select   N point lookups by key, in one read transaction
 *   scan     a full scan summing a column
 *   update   N/10 rows, in transactions of 100
 *   vacuum   delete a third of the rows, then VACUUM (which truncates)
 * Both use the journal mode given (-j, default WAL), synchronous=FULL and
 * mmap_size 256 MiB.  Every figure is the median over repetitions with its
 * spread; the ratio is the median of each repetition's own ratio
 * (pmemlease / unix: below 1 is faster).
 *
 * usage: pml-sqlite-bench [-d DIR] [-n ROWS] [-r REPS] [-j MODE] [-o VFS]
 * (-o runs one VFS only, for a profiler: no ratios then)
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bench.h"
#include "pmemlease_sqlite.h"

enum phase { P_INSERT, P_SELECT, P_SCAN, P_UPDATE, P_VACUUM, NPHASES };

static const char *const phase_names[NPHASES] = {
	"insert (txns of 1000)", "point select", "full scan",
	"update (txns of 100)", "delete a third + VACUUM",
};

static void
die_db(sqlite3 *db, const char *what)
{
	fprintf(stderr, "pml-sqlite-bench: %s: %s\n", what,
			db ? sqlite3_errmsg(db) : "cannot open");
	exit(1);
}

static void
exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		die_db(db, sql);
}

static void
remove_db(const char *path)
{
	char p[4200];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-journal", path);
	unlink(p);
}

/* one run of the workload; ns per phase in t */
static void
workload(const char *path, const char *vfs, const char *mode, unsigned n,
		double *t)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	char sql[256];
	uint64_t t0;

	remove_db(path);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
			SQLITE_OPEN_CREATE, vfs) != SQLITE_OK)
		die_db(db, path);
	snprintf(sql, sizeof(sql), "PRAGMA journal_mode=%s; PRAGMA "
			"synchronous=FULL; PRAGMA mmap_size=268435456; CREATE "
			"TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT)", mode);
	exec(db, sql);

	t0 = now_ns();
	if (sqlite3_prepare_v2(db, "INSERT INTO t(k, v) VALUES (?, ?)", -1,
			&st, NULL))
		die_db(db, "prepare insert");
	for (unsigned i = 0; i < n; i++) {
		if (i % 1000 == 0)
			exec(db, "BEGIN");
		sqlite3_bind_int64(st, 1, (sqlite3_int64)i * 7919 % n);
		snprintf(sql, sizeof(sql), "value %u of the benchmark, some "
				"text to make rows of a realistic size", i);
		sqlite3_bind_text(st, 2, sql, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_DONE)
			die_db(db, "insert");
		sqlite3_reset(st);
		if (i % 1000 == 999 || i == n - 1)
			exec(db, "COMMIT");
	}
	sqlite3_finalize(st);
	t[P_INSERT] = (double)(now_ns() - t0);

	t0 = now_ns();
	exec(db, "BEGIN");
	if (sqlite3_prepare_v2(db, "SELECT v FROM t WHERE id = ?", -1, &st,
			NULL))
		die_db(db, "prepare select");
	for (unsigned i = 0; i < n; i++) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)(i * 104729ULL % n) +
				1);
		if (sqlite3_step(st) != SQLITE_ROW)
			die_db(db, "select");
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	exec(db, "COMMIT");
	t[P_SELECT] = (double)(now_ns() - t0);

	t0 = now_ns();
	exec(db, "SELECT sum(k), sum(length(v)) FROM t");
	t[P_SCAN] = (double)(now_ns() - t0);

	t0 = now_ns();
	if (sqlite3_prepare_v2(db, "UPDATE t SET k = k + 1 WHERE id = ?", -1,
			&st, NULL))
		die_db(db, "prepare update");
	for (unsigned i = 0; i < n / 10; i++) {
		if (i % 100 == 0)
			exec(db, "BEGIN");
		sqlite3_bind_int64(st, 1, (sqlite3_int64)(i * 7ULL % n) + 1);
		if (sqlite3_step(st) != SQLITE_DONE)
			die_db(db, "update");
		sqlite3_reset(st);
		if (i % 100 == 99 || i == n / 10 - 1)
			exec(db, "COMMIT");
	}
	sqlite3_finalize(st);
	t[P_UPDATE] = (double)(now_ns() - t0);

	t0 = now_ns();
	exec(db, "DELETE FROM t WHERE id % 3 = 0; VACUUM");
	t[P_VACUUM] = (double)(now_ns() - t0);
	sqlite3_close(db);
	remove_db(path);
}

int
main(int argc, char **argv)
{
	const char *dir = ".", *mode = "WAL", *only = NULL;
	unsigned n = 50000, reps = 5;
	int opt;

	while ((opt = getopt(argc, argv, "d:n:r:j:o:h")) != -1) {
		switch (opt) {
		case 'd': dir = optarg; break;
		case 'n': n = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'r': reps = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'j': mode = optarg; break;
		case 'o': only = optarg; break;
		default:
			fprintf(stderr, "usage: pml-sqlite-bench [-d DIR] "
					"[-n ROWS] [-r REPS] [-j MODE] [-o VFS]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (n < 10 || reps < 1 || reps > BENCH_MAX_REPS) {
		fprintf(stderr, "pml-sqlite-bench: -n >= 10, -r 1..%d\n",
				BENCH_MAX_REPS);
		return 2;
	}
	if (pml_sqlite_register(0) != SQLITE_OK) {
		fprintf(stderr, "pml-sqlite-bench: cannot register the VFS\n");
		return 1;
	}

	char path[4096];

	snprintf(path, sizeof(path), "%s/pml-sqlite-bench.db", dir);

	static double v[2][NPHASES][BENCH_MAX_REPS];
	static const char *const vfs[2] = { PML_SQLITE_VFS_NAME, "unix" };
	double t[NPHASES];

	workload(path, "unix", mode, n / 10 + 10, t);	/* warm up */
	for (unsigned k = 0; k < reps; k++) {
		for (unsigned j = 0; j < 2; j++) {
			unsigned w = (j + k) % 2;

			if (only && strcmp(only, vfs[w]) != 0)
				continue;	/* profiling one of them */
			workload(path, vfs[w], mode, n, t);
			for (unsigned p = 0; p < NPHASES; p++)
				v[w][p][k] = t[p] / 1e6;
		}
	}

	char section[64];

	snprintf(section, sizeof(section), "sqlite %s", mode);
	printf("# pml-sqlite-bench: %u rows, %u reps, journal_mode=%s, "
			"synchronous=FULL, mmap_size=256 MiB, file %s\n", n,
			reps, mode, path);
	for (unsigned p = 0; p < NPHASES; p++) {
		double ratio[BENCH_MAX_REPS];

		for (unsigned k = 0; k < reps; k++)
			ratio[k] = v[0][p][k] / v[1][p][k];

		struct row *r = row_add(section, phase_names[p], "", "ms",
				stat_of(v[0][p], reps), "unix VFS + mmap_size",
				stat_of(v[1][p], reps));

		row_paired(r, stat_of(ratio, reps).med);
	}
	rows_print();
	return 0;
}
