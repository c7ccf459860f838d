/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cli.h -- what the pmemlease command's pieces share.
 *
 * Each subcommand lives in its own file and is reached only through the
 * table in pmemlease.c, so adding one means one new file, one line in that
 * table and one line in CMakeLists.txt.
 */
#ifndef PMEMLEASE_CLI_H
#define PMEMLEASE_CLI_H 1

#include <stdint.h>
#include <stdio.h>

/*
 * Exit codes are part of the interface: scripts and CI tell "the library
 * broke a promise" (1) from "you called me wrong" (2) from "this machine
 * would not let me set up" (3).
 */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAIL = 1,
	CLI_EXIT_USAGE = 2,
	CLI_EXIT_SYSTEM = 3,
};

struct cli_cmd {
	const char *name;
	const char *summary;	/* one line for the command list */
	/* argv[0] is the subcommand's name; returns an enum cli_exit */
	int (*run)(int argc, char **argv);
	void (*usage)(FILE *out);
};

extern const char *cli_prog;	/* "pmemlease", for messages */

/* subcommands */
int cmd_demo(int argc, char **argv);
void usage_demo(FILE *out);

/* "4 KiB", "16 GiB", "1.5 MiB", "100 B": exact units when they divide */
const char *cli_size(char *buf, size_t bufsz, uint64_t bytes);

/* "-ETIMEDOUT" for -110: the way the header documents return values */
const char *cli_errname(int negerr);

#endif /* PMEMLEASE_CLI_H */
