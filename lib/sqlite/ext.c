/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ext.c -- libpmemlease_sqlite.so as a loadable extension:
 * `.load libpmemlease_sqlite` in the sqlite3 shell.
 *
 * The VFS calls the SQLite the library is linked to (libsqlite3.so.0)
 * directly, not through the routines the loader passes: so it also works
 * linked into a program (pml_sqlite_register), and so a program with
 * another SQLite inside must be refused here rather than have the VFS
 * registered with an SQLite it does not use.
 */
#include <stdlib.h>
#include <string.h>

#define SQLITE_CORE 1	/* the routines' type only: calls go direct */
#include <sqlite3ext.h>

#include "pmemlease_sqlite.h"

#define PUBLIC __attribute__((visibility("default")))

/* the loader's entry points (sqlite3_load_extension) */
int sqlite3_pmemlease_init(sqlite3 *db, char **err,
		const sqlite3_api_routines *api);
int sqlite3_pmemleasesqlite_init(sqlite3 *db, char **err,
		const sqlite3_api_routines *api);

PUBLIC int
sqlite3_pmemlease_init(sqlite3 *db, char **err,
		const sqlite3_api_routines *api)
{
	(void) db;
	if (api && api->vfs_find != sqlite3_vfs_find) {
		if (err && api->mprintf)
			*err = api->mprintf("libpmemlease_sqlite: this program "
				"has an SQLite of its own, not the system's "
				"libsqlite3.so.0 the extension is linked to; "
				"compile lib/sqlite/vfs.c into it instead");
		return SQLITE_ERROR;
	}

	const char *d = getenv("PMEMLEASE_SQLITE_DEFAULT");
	int rc = pml_sqlite_register(d && *d && strcmp(d, "0") != 0);

	if (rc != SQLITE_OK) {
		if (err)
			*err = sqlite3_mprintf("libpmemlease_sqlite: SQLite has "
					"no \"unix\" VFS to wrap");
		return rc;
	}
	/* the VFS outlives the connection that loaded it */
	return SQLITE_OK_LOAD_PERMANENTLY;
}

/* the name SQLite derives from the file name: `.load libpmemlease_sqlite` */
PUBLIC int sqlite3_pmemleasesqlite_init(sqlite3 *db, char **err,
		const sqlite3_api_routines *api)
	__attribute__((alias("sqlite3_pmemlease_init")));
