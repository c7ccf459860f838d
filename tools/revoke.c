/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * revoke.c -- `pmemlease revoke`: ask every holder of leases on a file or
 * device to let go, give them a grace period, then revoke what is left.
 *
 * It is pml_region_break() over the whole region with the grace period as
 * the timeout and PML_ON_TIMEOUT_REVOKE: nothing is deallocated.  What an
 * administrator runs before taking a device away.  The report says who let
 * go in time and whose leases were revoked, from the holders' own view
 * (the inspection API) before, during and after.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"

#define DEFAULT_GRACE_MS 5000
#define SHOW_EVERY_MS 200

void
usage_revoke(FILE *out)
{
	fprintf(out,
		"Usage: %s revoke [--grace MS] PATH|DEVICE\n"
		"\n"
		"Ask every process holding leases on a file or device to let go: their\n"
		"on_break callbacks run (PML_BREAK_LAYOUT) in their own processes, and\n"
		"new leases wait.  Leases still held after the grace period are revoked\n"
		"(on_break PML_BREAK_REVOKED; they take no new references).  Nothing is\n"
		"deallocated.  The report says who let go in time and who was revoked.\n"
		"\n"
		"PATH is a file or a devdax device (/dev/dax0.0, or just dax0.0).  A\n"
		"block device (/dev/pmem0, or pmem0) means every file on it that has\n"
		"lease state.\n"
		"\n"
		"Options:\n"
		"  -g, --grace MS  how long holders get to let go (default %d;\n"
		"                  0 revokes at once)\n"
		"  -q, --quiet     do not show the holders while it waits\n"
		"  -h, --help      show this help\n"
		"\n", cli_prog, DEFAULT_GRACE_MS);
	cli_print_exit_codes(out);
}

/* the paths to break: one file or device, or the files on a block device */
struct targets {
	char **paths;
	unsigned n;
};

static int
targets_add(struct targets *t, const char *path)
{
	for (unsigned i = 0; i < t->n; i++)
		if (strcmp(t->paths[i], path) == 0)
			return 0;
	char **p = realloc(t->paths, (t->n + 1) * sizeof(*p));
	if (p == NULL)
		return -1;
	t->paths = p;
	if ((t->paths[t->n] = strdup(path)) == NULL)
		return -1;
	t->n++;
	return 0;
}

static void
targets_free(struct targets *t)
{
	for (unsigned i = 0; i < t->n; i++)
		free(t->paths[i]);
	free(t->paths);
}

static int
resolve(const char *arg, struct targets *t)
{
	char dev[4096];
	struct stat st;
	const char *path = arg;

	if (stat(path, &st) != 0 && strchr(arg, '/') == NULL) {
		snprintf(dev, sizeof(dev), "/dev/%s", arg);
		path = dev;
	}
	if (stat(path, &st) != 0) {
		fprintf(stderr, "%s revoke: %s: %s\n", cli_prog, arg, strerror(errno));
		return CLI_EXIT_SYSTEM;
	}
	if (S_ISREG(st.st_mode) || S_ISCHR(st.st_mode))
		return targets_add(t, path) == 0 ? -1 : CLI_EXIT_SYSTEM;
	if (!S_ISBLK(st.st_mode)) {
		fprintf(stderr, "%s revoke: %s is not a file or a device\n", cli_prog,
			path);
		return CLI_EXIT_USAGE;
	}

	/* a block device: the files on it, by the paths their holders gave */
	struct json_object *files = NULL;
	int rc = cli_snapshot_json(&files, NULL, 0, 500);
	if (rc < 0) {
		fprintf(stderr, "%s revoke: cannot read the lease state: %s: %s\n",
			cli_prog, cli_errname(rc), cli_libmsg());
		return CLI_EXIT_FAIL;
	}
	for (size_t i = 0; i < json_object_array_length(files); i++) {
		struct json_object *f = json_object_array_get_idx(files, i);
		if (makedev((unsigned)cli_ji64(f, "major"),
			    (unsigned)cli_ji64(f, "minor")) != st.st_rdev)
			continue;
		const char *p = cli_jstr(f, "path");
		if (*p == '\0') {
			fprintf(stderr, "%s revoke: inode %" PRIu64 " on %s has lease "
				"state but no holder gave its path: skipped\n",
				cli_prog, cli_ju64(f, "ino"), path);
			continue;
		}
		if (targets_add(t, p) != 0) {
			json_object_put(files);
			return CLI_EXIT_SYSTEM;
		}
	}
	json_object_put(files);
	if (t->n == 0)
		printf("no file on %s has lease state: nothing to revoke\n", path);
	return -1;
}

static int
revoke_one(const char *path, uint32_t grace, bool quiet)
{
	struct pml_region *r = NULL;
	struct pml_region_info info;
	char s1[32];
	int rc = pml_region_open(&r, path, &cli_open_opts);

	if (rc == 0)
		rc = pml_region_info(&info, r);
	if (rc != 0) {
		fprintf(stderr, "%s revoke: cannot open %s: %s: %s\n", cli_prog, path,
			cli_errname(rc), cli_libmsg());
		if (r != NULL)
			pml_region_close(&r);
		return CLI_EXIT_SYSTEM;
	}
	printf("revoke %s (%s, %s), grace %" PRIu32 " ms\n", path,
	       pml_region_kind_name(info.kind), cli_size(s1, sizeof(s1), info.size),
	       grace);
	if (info.size == 0) {
		printf("  the region is empty: nothing to revoke\n");
		pml_region_close(&r);
		return CLI_EXIT_OK;
	}

	/* who holds what before: printed now, then as it changes */
	struct cli_waiters *w = cli_waiters_start(path, 0, info.size,
			quiet ? 0 : SHOW_EVERY_MS, quiet ? NULL : stdout);
	if (w == NULL) {
		pml_region_close(&r);
		return CLI_EXIT_SYSTEM;
	}
	cli_waiters_poll(w);

	/* timeout 0 would mean "no limit": at once is 1 ms */
	struct pml_barrier_opts o = { .timeout_ms = grace ? grace : 1,
				      .on_timeout = PML_ON_TIMEOUT_REVOKE };
	double t0 = cli_mono_ms();
	rc = pml_region_break(r, 0, info.size, &o);
	double t1 = cli_mono_ms();
	cli_waiters_stop(w);
	cli_waiters_mute(w);
	cli_waiters_poll(w);	/* the holders' view after */

	int ret = cli_exit_for(rc);
	if (rc != 0) {
		printf("revoke: failed after %.1f ms (%s)\n", t1 - t0, cli_errname(rc));
		fprintf(stderr, "%s revoke: %s: %s: %s\n", cli_prog, path,
			cli_errname(rc), cli_libmsg());
	} else {
		unsigned let_go = 0, revoked = 0;
		printf("done in %.1f ms\n", t1 - t0);
		for (unsigned i = 0; i < cli_waiters_nprocs(w); i++) {
			const struct cli_waiter_proc *p = cli_waiters_proc(w, i);
			if (p->first_ms == 0)
				continue;	/* never held a lease here */
			if (p->now_revoked != 0) {
				revoked++;
				char before[64] = "";
				if (p->first_revoked != 0)
					snprintf(before, sizeof(before), " (%u already "
						 "before)", p->first_revoked);
				printf("  revoked:      pid %d (%s): %u lease%s revoked%s; "
				       "it was told (PML_BREAK_REVOKED) and must still put "
				       "%s\n", (int)p->pid, p->comm, p->now_revoked,
				       p->now_revoked == 1 ? "" : "s", before,
				       p->now_revoked == 1 ? "it" : "them");
			} else if (p->now_live != 0) {
				printf("  holds again:  pid %d (%s): %u lease%s taken after "
				       "the revoke\n", (int)p->pid, p->comm, p->now_live,
				       p->now_live == 1 ? "" : "s");
			} else {
				let_go++;
				printf("  let go:       pid %d (%s): %u lease%s put%s\n",
				       (int)p->pid, p->comm, p->leases,
				       p->leases == 1 ? "" : "s",
				       p->present ? " in time" : "; the process has exited");
			}
		}
		if (let_go + revoked == 0)
			printf("  no process held a lease\n");
		else
			printf("  %u process%s let go in time, %u had leases revoked\n",
			       let_go, let_go == 1 ? "" : "es", revoked);
	}
	cli_waiters_free(w);
	int crc = pml_region_close(&r);
	if (crc != 0 && ret == CLI_EXIT_OK) {
		fprintf(stderr, "%s revoke: close: %s: %s\n", cli_prog,
			cli_errname(crc), cli_libmsg());
		ret = CLI_EXIT_FAIL;
	}
	return ret;
}

int
cmd_revoke(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "grace", required_argument, NULL, 'g' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t grace = DEFAULT_GRACE_MS;
	bool quiet = false;
	const char *why;
	int opt;

	while ((opt = getopt_long(argc, argv, "g:qh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'g':
			if (cli_parse_ms(optarg, &grace, &why) != 0) {
				fprintf(stderr, "%s revoke: --grace '%s': %s\n", cli_prog,
					optarg, why);
				return CLI_EXIT_USAGE;
			}
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage_revoke(stdout);
			return CLI_EXIT_OK;
		default:
			fprintf(stderr, "Try '%s revoke --help'.\n", cli_prog);
			return CLI_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "%s revoke: %s; see '%s revoke --help'\n", cli_prog,
			argc - optind < 1 ? "missing PATH or DEVICE" :
			"too many arguments", cli_prog);
		return CLI_EXIT_USAGE;
	}

	struct targets t = { 0 };
	int rc = resolve(argv[optind], &t);
	if (rc < 0) {
		rc = CLI_EXIT_OK;
		for (unsigned i = 0; i < t.n; i++) {
			if (i > 0)
				putchar('\n');
			int r1 = revoke_one(t.paths[i], grace, quiet);
			if (r1 > rc)
				rc = r1;
		}
	}
	targets_free(&t);
	return rc;
}
