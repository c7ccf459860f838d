/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * badblocks.c -- `pmemlease badblocks`: the bad blocks under a file or
 * device, as the library sees them (the kernel's list for the namespace,
 * through libpmem2 and libndctl), and clearing them.
 *
 * Poison that another process took a machine check on is that process's
 * to report: it lives in its memory until the kernel lists it too.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"

void
usage_badblocks(FILE *out)
{
	fprintf(out,
		"Usage: %s badblocks [--json] PATH\n"
		"       %s badblocks --clear [--offset OFF --length LEN] PATH\n"
		"\n"
		"List the bad blocks under a file on a DAX filesystem or a devdax\n"
		"device: offset and length in the file, and where they are known from.\n"
		"With --clear, clear those in the range (all by default): through\n"
		"libpmem2 for the kernel's list (root only), by fresh blocks through the\n"
		"lease-drain barrier for poison this process met.\n"
		"\n"
		"Options:\n"
		"  -j, --json          print JSON (an array of objects)\n"
		"  -c, --clear         clear instead of listing\n"
		"  -o, --offset OFF    start of the range to clear (default 0)\n"
		"  -l, --length LEN    length of the range (default: to the end)\n"
		"  -h, --help          show this help\n"
		"\n", cli_prog, cli_prog);
	cli_print_exit_codes(out);
}

static const char *
source_name(uint32_t flags)
{
	if ((flags & PML_BADBLOCK_DEVICE) && (flags & PML_BADBLOCK_SEEN))
		return "device+seen";
	return flags & PML_BADBLOCK_DEVICE ? "device" : "seen";
}

static int
list(struct pml_region *r, const char *path, bool json)
{
	size_t n = 0;
	int rc = pml_region_badblocks(NULL, &n, r);
	struct pml_badblock *bbs = NULL;

	/* the count first, then room for it (it may grow meanwhile) */
	while (rc == -ENOSPC || (rc == 0 && n && !bbs)) {
		free(bbs);
		bbs = calloc(n + 8, sizeof(*bbs));
		if (bbs == NULL) {
			fprintf(stderr, "%s badblocks: out of memory\n", cli_prog);
			return CLI_EXIT_SYSTEM;
		}
		n += 8;
		rc = pml_region_badblocks(bbs, &n, r);
	}
	if (rc) {
		fprintf(stderr, "%s badblocks: %s: %s\n", cli_prog, path,
			cli_libmsg());
		free(bbs);
		return cli_exit_for(rc);
	}
	if (json) {
		struct json_object *a = json_object_new_array();

		for (size_t i = 0; i < n; i++) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "offset",
				json_object_new_int64((int64_t)bbs[i].offset));
			json_object_object_add(o, "length",
				json_object_new_int64((int64_t)bbs[i].length));
			json_object_object_add(o, "source",
				json_object_new_string(source_name(bbs[i].flags)));
			json_object_array_add(a, o);
		}
		cli_print_json(stdout, a, true);
		json_object_put(a);
	} else if (n == 0) {
		printf("%s: no bad blocks\n", path);
	} else {
		char o[32], l[32];

		printf("%-16s %-12s %s\n", "OFFSET", "LENGTH", "SOURCE");
		for (size_t i = 0; i < n; i++)
			printf("%-16s %-12s %s\n",
				cli_offset(o, sizeof(o), bbs[i].offset),
				cli_offset(l, sizeof(l), bbs[i].length),
				source_name(bbs[i].flags));
	}
	free(bbs);
	return CLI_EXIT_OK;
}

int
cmd_badblocks(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "clear", no_argument, NULL, 'c' },
		{ "offset", required_argument, NULL, 'o' },
		{ "length", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false, clear = false, have_len = false;
	uint64_t off = 0, len = 0;
	const char *why;
	int opt;

	while ((opt = getopt_long(argc, argv, "jco:l:h", longopts, NULL)) !=
			-1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'c':
			clear = true;
			break;
		case 'o':
		case 'l':
			if (cli_parse_size(optarg, opt == 'o' ? &off : &len,
					&why)) {
				fprintf(stderr, "%s badblocks: bad %s '%s': %s\n",
					cli_prog, opt == 'o' ? "offset" :
					"length", optarg, why);
				return CLI_EXIT_USAGE;
			}
			have_len |= opt == 'l';
			break;
		case 'h':
			usage_badblocks(stdout);
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "%s badblocks: one PATH expected; see '%s "
			"badblocks --help'\n", cli_prog, cli_prog);
		return CLI_EXIT_USAGE;
	}
	if (!clear && (off || have_len)) {
		fprintf(stderr, "%s badblocks: --offset and --length go with "
			"--clear\n", cli_prog);
		return CLI_EXIT_USAGE;
	}

	const char *path = argv[optind];
	struct pml_region *r;
	int rc = pml_region_open(&r, path, &cli_open_opts);

	if (rc) {
		fprintf(stderr, "%s badblocks: %s: %s\n", cli_prog, path,
			cli_libmsg());
		return rc == -ENOENT || rc == -EACCES ? CLI_EXIT_USAGE :
			CLI_EXIT_SYSTEM;
	}

	int ret;

	if (!clear) {
		ret = list(r, path, json);
	} else {
		uint64_t size = pml_region_size(r);

		if (!have_len)
			len = off < size ? size - off : 0;
		rc = pml_region_badblock_clear(r, off, len);
		if (rc)
			fprintf(stderr, "%s badblocks: clearing %s: %s\n",
				cli_prog, path, cli_libmsg());
		ret = rc ? cli_exit_for(rc) : CLI_EXIT_OK;
	}
	pml_region_close(&r);
	return ret;
}
