/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sqlt.h -- what the SQLite tests share: open, run, ask, check; each fails
 * the test (cmocka) with SQLite's message when SQLite says no.
 */
#ifndef SQLT_H
#define SQLT_H 1

#include <stddef.h>
#include <sqlite3.h>

/* open (creating) path with the VFS vfs, a busy timeout of 30 s */
sqlite3 *sqlt_open(const char *path, const char *vfs);
void sqlt_exec(sqlite3 *db, const char *sql);
/* the first column of the first row, as text, into out */
void sqlt_query(sqlite3 *db, const char *sql, char *out, size_t n);
/* PRAGMA integrity_check says ok */
void sqlt_integrity_ok(sqlite3 *db);

#endif
