/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * main.c -- daxctl-lease: the dispatcher, global options, help.
 *
 * daxctl has no plugin loader, so this is a dashed companion command in
 * the git style: `daxctl-lease list`, `daxctl-lease disable-device dax0.0`.
 * Subcommand names and options follow daxctl's, so that a script can put
 * "-lease" after "daxctl" and get the same operation, told to the holders
 * first.
 */

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "daxctl-lease.h"

#ifndef PML_TOOLS_VERSION
#define PML_TOOLS_VERSION "unknown"
#endif

const char *cli_prog = "daxctl-lease";

static const struct cli_cmd commands[] = {
	{ "list", "show dax regions, devices and fsdax namespaces with their leases",
	  dl_cmd_list, dl_usage_list },
	{ "disable-device", "tell the holders, then disable a dax device",
	  dl_cmd_disable_device, dl_usage_disable_device },
	{ "reconfigure-device", "tell the holders, then change a dax device's mode",
	  dl_cmd_reconfigure_device, dl_usage_reconfigure_device },
	{ "destroy-device", "tell the holders, then disable and destroy a dax device",
	  dl_cmd_destroy_device, dl_usage_destroy_device },
	{ "disable-namespace", "tell the holders, then disable an nd namespace",
	  dl_cmd_disable_namespace, dl_usage_disable_namespace },
	/* run by the udev rule, not by people: listed in the man page only */
	{ "notify-removed", NULL, dl_cmd_notify_removed, dl_usage_notify_removed },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct cli_cmd *
find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

void
dl_print_exit_codes(FILE *out)
{
	fprintf(out,
		"Exit status:\n"
		"  %d  success\n"
		"  %d  the operation failed (libdaxctl or libndctl refused it)\n"
		"  %d  usage error (unknown command or option, bad argument)\n"
		"  %d  the system would not let the command set up (libdaxctl, libndctl,\n"
		"     memory, the runtime directory)\n"
		"  %d  no such device or namespace\n"
		"  %d  permission denied (the operation needs root)\n"
		"  %d  holders did not let go within the timeout; nothing was removed\n",
		DL_EXIT_OK, DL_EXIT_FAIL, DL_EXIT_USAGE, DL_EXIT_SYSTEM,
		DL_EXIT_NODEV, DL_EXIT_PERM, DL_EXIT_BUSY);
}

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: %s [--help] [--version] COMMAND [ARGS...]\n"
		"\n"
		"daxctl for devices that pmemlease holders have mapped: daxctl's view of\n"
		"dax regions and devices joined with the leases held on each, and\n"
		"daxctl's device operations preceded by pmemlease's pre-removal protocol\n"
		"(every process holding leases on the device is told, drains, flushes\n"
		"and revokes before the device goes).\n"
		"\n"
		"Commands:\n", cli_prog);
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (commands[i].summary != NULL)
			fprintf(out, "  %-19s %s\n", commands[i].name,
				commands[i].summary);
	fprintf(out,
		"  %-19s %s\n"
		"\n"
		"Options:\n"
		"  -h, --help     show this help, or COMMAND's with `%s help COMMAND`\n"
		"  -V, --version  show the version and exit\n"
		"\n"
		"Each command takes --help.  See daxctl-lease(1), daxctl(1), pmemlease(1).\n"
		"\n", "help", "show help for a command", cli_prog);
	dl_print_exit_codes(out);
}

static int
help_command(int argc, char **argv)
{
	if (argc < 2) {
		usage(stdout);
		return DL_EXIT_OK;
	}
	const struct cli_cmd *c = find_command(argv[1]);
	if (c == NULL) {
		fprintf(stderr, "%s: unknown command '%s'; see '%s --help'\n",
			cli_prog, argv[1], cli_prog);
		return DL_EXIT_USAGE;
	}
	c->usage(stdout);
	return DL_EXIT_OK;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	opterr = 0;	/* our own messages name the program consistently */
	while ((opt = getopt_long(argc, argv, "+hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return DL_EXIT_OK;
		case 'V':
			printf("%s %s (pmemlease API %d.%d)\n", cli_prog,
			       PML_TOOLS_VERSION, PMEMLEASE_MAJOR_VERSION,
			       PMEMLEASE_MINOR_VERSION);
			return DL_EXIT_OK;
		default:
			fprintf(stderr, "%s: unknown option '%s'; see '%s --help'\n",
				cli_prog, argv[optind - 1], cli_prog);
			return DL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return DL_EXIT_USAGE;
	}

	char **sub_argv = argv + optind;
	int sub_argc = argc - optind;

	if (strcmp(sub_argv[0], "help") == 0)
		return help_command(sub_argc, sub_argv);
	const struct cli_cmd *c = find_command(sub_argv[0]);
	if (c == NULL) {
		fprintf(stderr, "%s: unknown command '%s'; see '%s --help'\n",
			cli_prog, sub_argv[0], cli_prog);
		return DL_EXIT_USAGE;
	}
	/* getopt names argv[0] in its messages: "daxctl-lease list: ..." */
	char name[64];
	snprintf(name, sizeof(name), "%s %s", cli_prog, c->name);
	sub_argv[0] = name;
	/* glibc re-initialises getopt for the new argv only when optind is 0 */
	optind = 0;
	opterr = 1;
	return c->run(sub_argc, sub_argv);
}
