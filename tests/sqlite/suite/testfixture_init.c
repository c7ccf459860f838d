/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * testfixture_init.c -- SQLITE_EXTRA_INIT of the testfixture built by
 * build-testfixture.sh: every sqlite3_initialize() makes the VFS
 * "pmemlease" the default, so SQLite's own tests open their databases
 * through it (and the testvfs/crash wrappers some tests install wrap it);
 * with PML_TESTFIXTURE_VFS=unix it is only registered, for the baseline.
 */
#include <stdlib.h>
#include <string.h>

#include "pmemlease_sqlite.h"

int pml_testfixture_init(const char *unused);

int
pml_testfixture_init(const char *unused)
{
	const char *v = getenv("PML_TESTFIXTURE_VFS");

	(void) unused;
	/* the baseline run: the same tests on SQLite's own default */
	return pml_sqlite_register(!v || strcmp(v, "unix") != 0);
}
