/* SPDX-License-Identifier: BSD-3-Clause */
/* sqlt.c -- what the SQLite tests share (sqlt.h) */
#include "common.h"
#include "sqlt.h"

sqlite3 *
sqlt_open(const char *path, const char *vfs)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
			SQLITE_OPEN_CREATE, vfs);

	if (rc != SQLITE_OK)
		fail_msg("open %s with %s: %s", path, vfs, db ?
				sqlite3_errmsg(db) : sqlite3_errstr(rc));
	sqlite3_busy_timeout(db, 30000);
	return db;
}

void
sqlt_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

/* the first column of the first row, as text */
void
sqlt_query(sqlite3 *db, const char *sql, char *out, size_t n)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) != SQLITE_ROW)
		fail_msg("%s: no row: %s", sql, sqlite3_errmsg(db));
	snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

void
sqlt_integrity_ok(sqlite3 *db)
{
	char r[256];

	sqlt_query(db, "PRAGMA integrity_check", r, sizeof(r));
	assert_string_equal(r, "ok");
}
