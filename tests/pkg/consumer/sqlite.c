/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sqlite.c -- built against the installed libpmemlease_sqlite
 * (pkg-config pmemlease-sqlite sqlite3, or find_package(pmemlease
 * COMPONENTS sqlite)): a database written through the VFS "pmemlease".
 *
 *   sqlite FILE
 */
#include <pmemlease_sqlite.h>
#include <sqlite3.h>

#include <stdio.h>
#include <string.h>
#define CONSUMER_ERRMSG (db ? sqlite3_errmsg(db) : "-")
#include "consumer.h"

int main(int argc, char **argv)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	char uri[4200];
	char *vfs = NULL;
	int rc;
	long long n = -1;

	if (argc != 2) {
		fprintf(stderr, "usage: sqlite FILE\n");
		return 2;
	}
	rc = pml_sqlite_register(0);
	CHECK(rc == SQLITE_OK, "pml_sqlite_register = %d", rc);
	snprintf(uri, sizeof(uri), "file:%s?vfs=pmemlease", argv[1]);
	rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			     SQLITE_OPEN_URI, NULL);
	CHECK(rc == SQLITE_OK, "open %s = %d", uri, rc);
	rc = sqlite3_exec(db,
		"CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT);"
		"WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c"
		" WHERE i < 5000) INSERT INTO t SELECT i, printf('%0100d', i) FROM c;"
		"DELETE FROM t WHERE k % 2 = 0; VACUUM;", NULL, NULL, NULL);
	CHECK(rc == SQLITE_OK, "the workload = %d", rc);
	rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, NULL);
	CHECK(rc == SQLITE_OK, "prepare = %d", rc);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	CHECK(n == 2500, "count(*) = %lld, not 2500", n);
	rc = sqlite3_file_control(db, "main", SQLITE_FCNTL_VFSNAME, &vfs);
	CHECK(rc == SQLITE_OK && vfs && strstr(vfs, "pmemlease"),
	      "the database's VFS is %s", vfs ? vfs : "?");
	printf("sqlite: ok (%lld rows after DELETE and VACUUM, VFS %s)\n", n, vfs);
	sqlite3_free(vfs);
	sqlite3_close(db);
	return 0;
}
