/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * layout.c -- `pmemlease punch` and `pmemlease truncate`: a layout change
 * through the library's barrier, from the command line.
 *
 * The command opens the region like any program would, so the change waits
 * for the leases of every process on the file.  While it waits, a second
 * thread (waiters.c) shows which processes hold leases over the range.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define SHOW_EVERY_MS 200	/* how often the waiting holders are polled */

struct layout_opts {
	struct pml_barrier_opts barrier;
	bool quiet;
};

static void
usage_barrier_opts(FILE *out)
{
	fprintf(out,
		"  -t, --timeout MS         give up after MS milliseconds (default 0:\n"
		"                           wait as long as it takes, as the kernel does)\n"
		"  -o, --on-timeout=POLICY  what to do then: fail (default: nothing is\n"
		"                           changed, exit 1) or revoke (the leases still\n"
		"                           held are revoked and their blocks quarantined\n"
		"                           until they are put; the change is made)\n"
		"  -q, --quiet              do not show the holders it waits for\n"
		"  -h, --help               show this help\n");
}

void
usage_punch(FILE *out)
{
	fprintf(out,
		"Usage: %s punch [--timeout MS] [--on-timeout=fail|revoke] PATH OFFSET LENGTH\n"
		"\n"
		"Deallocate [OFFSET, OFFSET + LENGTH) of the file or device at PATH through\n"
		"the lease-drain barrier: new leases on the range wait, the holders of PIN\n"
		"leases over it are asked to let go (their on_break runs, in their own\n"
		"process), and the punch proceeds once every lease over it is put.  While\n"
		"it waits, the processes holding leases over the range are shown.\n"
		"A devdax device cannot deallocate: the range is zeroed instead.\n"
		"\n"
		"OFFSET and LENGTH are bytes, with an optional suffix k, m, g or t\n"
		"(KiB, MiB, GiB, TiB), and must be multiples of the region's alignment.\n"
		"\n"
		"Options:\n", cli_prog);
	usage_barrier_opts(out);
	fputc('\n', out);
	cli_print_exit_codes(out);
	fprintf(out,
		"  A timeout with --on-timeout=fail exits 1; an offset or length the\n"
		"  library refuses (misaligned, past the end) exits 2.\n");
}

void
usage_truncate(FILE *out)
{
	fprintf(out,
		"Usage: %s truncate [--timeout MS] [--on-timeout=fail|revoke] PATH SIZE\n"
		"\n"
		"Grow or shrink the file at PATH to SIZE.  Growing maps the new part in\n"
		"place in every process that has the file open.  Shrinking goes through\n"
		"the lease-drain barrier over the cut part, as a punch does, and shows the\n"
		"processes it waits for.  devdax devices have a fixed size.\n"
		"\n"
		"SIZE is bytes, with an optional suffix k, m, g or t, and must be a\n"
		"multiple of the region's alignment.\n"
		"\n"
		"Options:\n", cli_prog);
	usage_barrier_opts(out);
	fputc('\n', out);
	cli_print_exit_codes(out);
	fprintf(out,
		"  A timeout with --on-timeout=fail exits 1; a size the library refuses\n"
		"  (misaligned, beyond what can be mapped, a devdax device) exits 2.\n");
}

/* options and the positional arguments; returns an exit code or -1 */
static int
parse(int argc, char **argv, const char *cmd, void (*usage)(FILE *),
      struct layout_opts *o, int nargs)
{
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "on-timeout", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *why;
	int opt;

	memset(o, 0, sizeof(*o));
	while ((opt = getopt_long(argc, argv, "t:o:qh", longopts, NULL)) != -1) {
		switch (opt) {
		case 't':
			if (cli_parse_ms(optarg, &o->barrier.timeout_ms, &why) != 0) {
				fprintf(stderr, "%s %s: --timeout '%s': %s\n", cli_prog,
					cmd, optarg, why);
				return CLI_EXIT_USAGE;
			}
			break;
		case 'o':
			if (strcmp(optarg, "fail") == 0) {
				o->barrier.on_timeout = PML_ON_TIMEOUT_FAIL;
			} else if (strcmp(optarg, "revoke") == 0) {
				o->barrier.on_timeout = PML_ON_TIMEOUT_REVOKE;
			} else {
				fprintf(stderr, "%s %s: --on-timeout '%s': use fail or "
					"revoke\n", cli_prog, cmd, optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		default:
			fprintf(stderr, "Try '%s %s --help'.\n", cli_prog, cmd);
			return CLI_EXIT_USAGE;
		}
	}
	if (argc - optind != nargs) {
		fprintf(stderr, "%s %s: %s; see '%s %s --help'\n", cli_prog, cmd,
			argc - optind < nargs ? "missing arguments" :
			"too many arguments", cli_prog, cmd);
		return CLI_EXIT_USAGE;
	}
	return -1;
}

static int
parse_size_arg(const char *cmd, const char *what, const char *s, uint64_t *v)
{
	const char *why;
	if (cli_parse_size(s, v, &why) != 0) {
		fprintf(stderr, "%s %s: %s '%s': %s\n", cli_prog, cmd, what, s, why);
		return CLI_EXIT_USAGE;
	}
	return -1;
}

static int
open_region(const char *cmd, const char *path, uint64_t max_size,
	    struct pml_region **r, struct pml_region_info *info)
{
	struct pml_region_opts ro = { .max_size = max_size,
		.flags = PML_REGION_PARTIAL_TAIL };
	struct stat st;

	/* the library would say the same; a clearer message for the common case */
	if (stat(path, &st) != 0) {
		fprintf(stderr, "%s %s: %s: %s\n", cli_prog, cmd, path, strerror(errno));
		return CLI_EXIT_SYSTEM;
	}
	int rc = pml_region_open(r, path, &ro);
	if (rc == 0)
		rc = pml_region_info(info, *r);
	if (rc != 0) {
		fprintf(stderr, "%s %s: cannot open %s: %s: %s\n", cli_prog, cmd,
			path, cli_errname(rc), cli_libmsg());
		if (*r != NULL)
			pml_region_close(r);
		return rc == -EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_SYSTEM;
	}
	return -1;
}

/* what was revoked, from the holders' own view after the change */
static void
report_revoked(struct cli_waiters *w, struct pml_region *r)
{
	uint64_t q = 0;
	char s1[32];

	cli_waiters_mute(w);
	cli_waiters_poll(w);
	for (unsigned i = 0; i < cli_waiters_nprocs(w); i++) {
		const struct cli_waiter_proc *p = cli_waiters_proc(w, i);
		if (p->now_revoked != 0)
			printf("  revoked %u lease%s of pid %d (%s): it was told "
			       "(on_break PML_BREAK_REVOKED) and must still put %s\n",
			       p->now_revoked, p->now_revoked == 1 ? "" : "s",
			       (int)p->pid, p->comm, p->now_revoked == 1 ? "it" : "them");
	}
	if (pml_region_quarantined(&q, r) == 0 && q != 0)
		printf("  %s quarantined: kept allocated until those leases are put\n",
		       cli_size(s1, sizeof(s1), q));
}

/* run the change with the waiting holders shown; prints the outcome */
static int
run_change(const char *cmd, const char *what, struct pml_region *r,
	   const char *path, uint64_t off, uint64_t len, const struct layout_opts *o,
	   int (*change)(struct pml_region *, uint64_t, uint64_t,
			 const struct pml_barrier_opts *))
{
	struct cli_waiters *w = cli_waiters_start(path, off, len,
			o->quiet ? 0 : SHOW_EVERY_MS, stdout);
	double t0 = cli_mono_ms();
	int rc = change(r, off, len, &o->barrier);
	double t1 = cli_mono_ms();

	cli_waiters_stop(w);
	if (rc == 0) {
		printf("%s in %.1f ms\n", what, t1 - t0);
		if (o->barrier.on_timeout == PML_ON_TIMEOUT_REVOKE && w != NULL)
			report_revoked(w, r);
	} else if (rc == -ETIMEDOUT) {
		printf("%s: gave up after %.1f ms (%s): nothing was changed\n", cmd,
		       t1 - t0, cli_errname(rc));
		fprintf(stderr, "%s %s: %s\n", cli_prog, cmd, cli_libmsg());
	} else {
		printf("%s: failed after %.1f ms (%s)\n", cmd, t1 - t0,
		       cli_errname(rc));
		fprintf(stderr, "%s %s: %s: %s\n", cli_prog, cmd, cli_errname(rc),
			cli_libmsg());
	}
	cli_waiters_free(w);
	return cli_exit_for(rc);
}

static int
do_punch(struct pml_region *r, uint64_t off, uint64_t len,
	 const struct pml_barrier_opts *o)
{
	return pml_region_punch(r, off, len, o);
}

static int
do_truncate(struct pml_region *r, uint64_t off, uint64_t len,
	    const struct pml_barrier_opts *o)
{
	(void)len;
	return pml_region_truncate(r, off, o);
}

static void
describe(const struct pml_region_info *info)
{
	char s1[32], s2[32];
	printf(" (%s, %s, alignment %s%s%s)\n", pml_region_kind_name(info->kind),
	       cli_size(s1, sizeof(s1), info->size),
	       cli_size(s2, sizeof(s2), info->alignment),
	       info->device[0] ? ", device " : "", info->device);
}

static const char *
policy(const struct layout_opts *o)
{
	static _Thread_local char buf[64];
	if (o->barrier.timeout_ms == 0)
		return "no timeout";
	snprintf(buf, sizeof(buf), "timeout %" PRIu32 " ms, then %s",
		 o->barrier.timeout_ms,
		 o->barrier.on_timeout == PML_ON_TIMEOUT_REVOKE ? "revoke" : "fail");
	return buf;
}

int
cmd_punch(int argc, char **argv)
{
	struct layout_opts o;
	uint64_t off, len;
	int rc;

	if ((rc = parse(argc, argv, "punch", usage_punch, &o, 3)) >= 0)
		return rc;
	const char *path = argv[optind];
	if ((rc = parse_size_arg("punch", "OFFSET", argv[optind + 1], &off)) >= 0 ||
	    (rc = parse_size_arg("punch", "LENGTH", argv[optind + 2], &len)) >= 0)
		return rc;

	struct pml_region *r = NULL;
	struct pml_region_info info;
	if ((rc = open_region("punch", path, 0, &r, &info)) >= 0)
		return rc;

	char s1[32], s2[32], what[256];
	printf("punch [%s, +%s) of %s", cli_offset(s1, sizeof(s1), off),
	       cli_offset(s2, sizeof(s2), len), path);
	describe(&info);
	printf("  %s\n", policy(&o));
	fflush(stdout);
	snprintf(what, sizeof(what), "punched [%s, +%s)", s1, s2);
	rc = run_change("punch", what, r, path, off, len, &o, do_punch);

	int crc = pml_region_close(&r);
	if (crc != 0) {
		fprintf(stderr, "%s punch: close: %s: %s\n", cli_prog,
			cli_errname(crc), cli_libmsg());
		if (rc == CLI_EXIT_OK)
			rc = CLI_EXIT_FAIL;
	}
	return rc;
}

int
cmd_truncate(int argc, char **argv)
{
	struct layout_opts o;
	uint64_t size;
	int rc;

	if ((rc = parse(argc, argv, "truncate", usage_truncate, &o, 2)) >= 0)
		return rc;
	const char *path = argv[optind];
	if ((rc = parse_size_arg("truncate", "SIZE", argv[optind + 1], &size)) >= 0)
		return rc;

	/* reserve room for the new size: growth maps in place (files only) */
	struct pml_region *r = NULL;
	struct pml_region_info info;
	struct stat st;
	uint64_t max = stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		       size > (uint64_t)st.st_size ? size : 0;
	if ((rc = open_region("truncate", path, max, &r, &info)) >= 0)
		return rc;

	char s1[32], s2[32], what[256];
	uint64_t old = info.size;
	printf("truncate %s from %s to %s", path, cli_size(s1, sizeof(s1), old),
	       cli_size(s2, sizeof(s2), size));
	describe(&info);
	printf("  %s\n", size < old ? policy(&o) : "growth: nothing to wait for");
	fflush(stdout);
	snprintf(what, sizeof(what), "%s to %s", size < old ? "shrunk" :
		 size > old ? "grown" : "kept the size", s2);
	/* a shrink waits for the leases on the cut part; growth for nothing */
	if (size >= old)
		o.quiet = true;
	rc = run_change("truncate", what, r, path, size,
			size < old ? old - size : 0, &o, do_truncate);

	int crc = pml_region_close(&r);
	if (crc != 0) {
		fprintf(stderr, "%s truncate: close: %s: %s\n", cli_prog,
			cli_errname(crc), cli_libmsg());
		if (rc == CLI_EXIT_OK)
			rc = CLI_EXIT_FAIL;
	}
	return rc;
}
