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

#include <stdio.h>

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
	{ "disable-region", "tell the holders, then disable a CXL region",
	  dl_cmd_disable_region, dl_usage_disable_region },
	{ "disable-memdev", "tell the holders, then disable a CXL memdev and its regions",
	  dl_cmd_disable_memdev, dl_usage_disable_memdev },
	/* run by the udev rule, not by people: listed in the man page only */
	{ "notify-removed", NULL, dl_cmd_notify_removed, dl_usage_notify_removed },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

void
dl_print_exit_codes(FILE *out)
{
	fprintf(out,
		"Exit status:\n"
		"  %d  success\n"
		"  %d  the operation failed (libdaxctl, libndctl or libcxl refused it)\n"
		"  %d  usage error (unknown command or option, bad argument)\n"
		"  %d  the system would not let the command set up (libdaxctl, libndctl,\n"
		"     memory, the runtime directory)\n"
		"  %d  no such device, namespace, CXL region or memdev\n"
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

static void
version(void)
{
	printf("%s %s (pmemlease API %d.%d)\n", cli_prog, PML_TOOLS_VERSION,
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
