/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pmemlease.c -- the pmemlease command: global options and the dispatcher.
 *
 * Subcommands parse their own options, so global options stop at the first
 * word that is not one ("+" in the optstring): `pmemlease demo --keep` must
 * hand --keep to demo, not reject it here.
 */

#include <stdio.h>

#include <pmemlease.h>

#include "cli.h"

#ifndef PML_TOOLS_VERSION
#define PML_TOOLS_VERSION "unknown"
#endif

const char *cli_prog = "pmemlease";

/*
 * The command table; help and the command list follow from it.  A NULL
 * summary hides a command from the list (internal helpers of the demo and
 * the tests).
 */
static const struct cli_cmd commands[] = {
	{ "list", "show files with lease state, their processes and leases",
	  cmd_list, usage_list },
	{ "watch", "show the same, refreshed until interrupted",
	  cmd_watch, usage_watch },
	{ "punch", "deallocate a range through the lease-drain barrier",
	  cmd_punch, usage_punch },
	{ "truncate", "grow or shrink a file through the barrier",
	  cmd_truncate, usage_truncate },
	{ "revoke", "ask every holder to let go, then revoke what is left",
	  cmd_revoke, usage_revoke },
	{ "copy", "copy a file as a DMA engine would, a PIN per chunk in flight",
	  cmd_copy, usage_copy },
	{ "badblocks", "list or clear the bad blocks under a file or device",
	  cmd_badblocks, usage_badblocks },
	{ "demo", "show leases, the barrier and revoke, in two processes",
	  cmd_demo, usage_demo },
	{ "_hold", NULL, cmd_hold, usage_hold },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

void
cli_print_exit_codes(FILE *out)
{
	fprintf(out,
		"Exit status:\n"
		"  %d  success\n"
		"  %d  an operation failed, or the library did not behave as it promises\n"
		"  %d  usage error (unknown command or option, bad argument)\n"
		"  %d  the system would not let the command set up (file, memory, threads)\n",
		CLI_EXIT_OK, CLI_EXIT_FAIL, CLI_EXIT_USAGE, CLI_EXIT_SYSTEM);
}

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: %s [--help] [--version] COMMAND [ARGS...]\n"
		"\n"
		"Inspect and drive DMA leases on persistent memory (devdax, fsdax, or a\n"
		"plain file).\n"
		"\n"
		"Commands:\n", cli_prog);
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (commands[i].summary != NULL)
			fprintf(out, "  %-10s %s\n", commands[i].name,
				commands[i].summary);
	fprintf(out,
		"  %-10s %s\n"
		"\n"
		"Options:\n"
		"  -h, --help     show this help, or COMMAND's with `%s help COMMAND`\n"
		"  -V, --version  show the version and exit\n"
		"\n"
		"Each command takes --help.  See pmemlease(1).\n"
		"\n", "help", "show help for a command", cli_prog);
	cli_print_exit_codes(out);
}

static void
version(void)
{
	printf("%s %s (API %d.%d)\n", cli_prog, PML_TOOLS_VERSION,
	       PMEMLEASE_MAJOR_VERSION, PMEMLEASE_MINOR_VERSION);
}

int
main(int argc, char **argv)
{
	static const struct cli_cmds t = {
		commands, NCOMMANDS, usage, version
	};

	return cli_main(&t, argc, argv);
}
