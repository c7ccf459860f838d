/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * removal.c -- the pre-removal protocol as the removing subcommands run
 * it, their shared options, and `notify-removed`, which the udev rule runs
 * once a device has gone without anyone asking the holders first.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "daxctl-lease.h"

#define MAX_OPTS 16
/* udev waits for RUN programs: keep what a remove event costs small */
#define NOTIFY_TIMEOUT_MS 2000

int
dl_parse_devt(const char *s, dev_t *out)
{
	unsigned long ma, mi;
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	ma = strtoul(s, &end, 10);
	if (errno != 0 || *end != ':' || end[1] < '0' || end[1] > '9')
		return -1;
	mi = strtoul(end + 1, &end, 10);
	if (errno != 0 || *end != '\0' || ma > 0xfffff || mi > 0xfffff)
		return -1;
	*out = makedev(ma, mi);
	return 0;
}

int
dl_exit_for_errno(int negerr)
{
	switch (-negerr) {
	case 0:
		return DL_EXIT_OK;
	case EPERM:
	case EACCES:
		return DL_EXIT_PERM;
	case ENODEV:
	case ENXIO:
	case ENOENT:
		return DL_EXIT_NODEV;
	case ENOMEM:
		return DL_EXIT_SYSTEM;
	default:
		return DL_EXIT_FAIL;
	}
}

int
dl_check_writable(const char *cmd, const char *sysfs_file)
{
	/* a disabled device has no driver/unbind: nothing to check there */
	if (access(sysfs_file, F_OK) != 0 || access(sysfs_file, W_OK) == 0)
		return -1;
	fprintf(stderr, "%s: %s: %s; run as root (no holder was told anything)\n",
		cmd, sysfs_file, strerror(errno));
	return DL_EXIT_PERM;
}

int
dl_parse_removal(int argc, char **argv, const char *cmd,
		 void (*usage)(FILE *), struct dl_removal *rm,
		 const struct option *extra_opts, const char *extra_short,
		 int (*extra)(int opt, const char *arg, void *ctx), void *ctx)
{
	static const struct option base[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
	};
	struct option opts[MAX_OPTS];
	char shorts[64];
	unsigned n = 0;
	const char *why;
	int opt, rc;

	for (unsigned i = 0; i < sizeof(base) / sizeof(*base); i++)
		opts[n++] = base[i];
	for (; extra_opts && extra_opts[0].name && n < MAX_OPTS - 1; extra_opts++)
		opts[n++] = *extra_opts;
	memset(&opts[n], 0, sizeof(opts[n]));
	snprintf(shorts, sizeof(shorts), "t:fh%s", extra_short ? extra_short : "");

	rm->timeout_ms = DL_DEFAULT_TIMEOUT_MS;
	rm->force = false;
	while ((opt = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return DL_EXIT_OK;
		case 't':
			if (cli_parse_ms(optarg, &rm->timeout_ms, &why) != 0 ||
			    rm->timeout_ms == 0) {
				fprintf(stderr, "%s: --timeout '%s': %s\n", cmd,
					optarg, rm->timeout_ms == 0 && *optarg ?
					"must be at least 1 ms" : why);
				return DL_EXIT_USAGE;
			}
			break;
		case 'f':
			rm->force = true;
			break;
		case '?':
			fprintf(stderr, "Try '%s --help'.\n", cmd);
			return DL_EXIT_USAGE;
		default:
			if (extra == NULL)
				return DL_EXIT_USAGE;
			if ((rc = extra(opt, optarg, ctx)) >= 0)
				return rc;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "%s: which device? (try '%s --help')\n", cmd, cmd);
		return DL_EXIT_USAGE;
	}
	if (optind + 1 < argc) {
		fprintf(stderr, "%s: one device at a time; unexpected '%s'\n", cmd,
			argv[optind + 1]);
		return DL_EXIT_USAGE;
	}
	return -1;
}

static bool
dev_in(dev_t d, const dev_t *devs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (devs[i] == d)
			return true;
	return false;
}

/*
 * Who still holds something on the devices: a fresh snapshot, because the
 * library reports only that some holder did not revoke in time, and the
 * administrator needs the pid to go and ask.
 */
static void
report_holders(FILE *out, const char *cmd, const dev_t *devs, unsigned n)
{
	struct pml_snapshot *s = NULL;
	unsigned shown = 0;
	int rc = pml_snapshot_take(&s, NULL, 0, DL_ANSWER_MS);

	if (rc < 0) {
		fprintf(out, "%s: cannot tell which: %s: %s\n", cmd,
			cli_errname(rc), cli_libmsg());
		return;
	}
	for (unsigned f = 0; f < pml_snapshot_nfiles(s); f++) {
		const struct pml_file_info *fi = pml_snapshot_file(s, f);
		if (!dev_in(fi->dev, devs, n))
			continue;
		for (unsigned h = 0; h < fi->nholders; h++) {
			const struct pml_holder_info *hi = pml_snapshot_holder(s, f, h);
			const struct pml_holder_region_info *ri =
				hi->nregions ? pml_snapshot_region(s, f, h, 0) : NULL;
			unsigned live = 0, revoked = 0;
			for (unsigned l = 0; l < hi->nleases; l++) {
				const struct pml_lease_info *li =
					pml_snapshot_lease(s, f, h, l);
				if (li->revoked)
					revoked++;
				else
					live++;
			}
			const char *path = ri && ri->path[0] ? ri->path : fi->state_path;
			if (!hi->answered)
				fprintf(out, "  pid %d (%s): did not answer; has %s open\n",
					(int)hi->pid, hi->comm, path);
			else
				fprintf(out, "  pid %d (%s): %u live lease%s, %u revoked "
					"not yet put, on %s\n", (int)hi->pid, hi->comm,
					live, live == 1 ? "" : "s", revoked, path);
			shown++;
		}
	}
	if (shown == 0)
		fprintf(out, "  (none any more: they let go after the timeout)\n");
	pml_snapshot_free(&s);
}

int
dl_prepare_removal(const char *cmd, const char *what, const dev_t *devs,
		   unsigned n, const struct dl_removal *rm, unsigned flags)
{
	struct pml_removal_opts o = { .timeout_ms = rm->timeout_ms,
				      .flags = flags };
	unsigned total = 0;
	int worst = 0;

	for (unsigned i = 0; i < n; i++) {
		unsigned nh = 0;
		int rc = pml_device_prepare_removal(&nh, devs[i], &o);
		total += nh;
		if (rc == 0)
			continue;
		char num[32];
		snprintf(num, sizeof(num), "%u:%u", major(devs[i]), minor(devs[i]));
		if (strcmp(num, what) == 0)
			fprintf(stderr, "%s: %s: %s: %s\n", cmd, what,
				cli_errname(rc), cli_libmsg());
		else
			fprintf(stderr, "%s: %s (%s): %s: %s\n", cmd, what, num,
				cli_errname(rc), cli_libmsg());
		/* a timeout outranks the rest: it is the one --force is for */
		if (worst != -ETIMEDOUT)
			worst = rc;
	}
	if (worst == 0) {
		if (total > 0)
			fprintf(stderr, "%s: %s: %u process%s let go\n", cmd, what,
				total, total == 1 ? "" : "es");
		return -1;
	}
	if (worst == -ETIMEDOUT) {
		fprintf(stderr, "%s: %s: holders did not let go within %" PRIu32
			" ms:\n", cmd, what, rm->timeout_ms);
		report_holders(stderr, cmd, devs, n);
	}
	/* gone already: nothing to refuse, but the status says what happened */
	if (flags & PML_REMOVAL_GONE)
		return worst == -ETIMEDOUT ? DL_EXIT_BUSY : dl_exit_for_errno(worst);
	if (rm->force) {
		fprintf(stderr, "%s: %s: --force: going on anyway\n", cmd, what);
		return -1;
	}
	if (worst == -ETIMEDOUT) {
		fprintf(stderr, "%s: %s left as it was (--force removes it anyway)\n",
			cmd, what);
		return DL_EXIT_BUSY;
	}
	if (worst == -EACCES || worst == -EPERM) {
		fprintf(stderr, "%s: %s left as it was: another user's holders could "
			"not be told; run as root\n", cmd, what);
		return DL_EXIT_PERM;
	}
	fprintf(stderr, "%s: %s left as it was (--force removes it anyway)\n", cmd,
		what);
	return worst == -ENOMEM ? DL_EXIT_SYSTEM : DL_EXIT_FAIL;
}

/* -------------------------------------------------------- notify-removed */

void
dl_usage_notify_removed(FILE *out)
{
	fprintf(out,
		"Usage: %s notify-removed [--timeout MS] MAJOR:MINOR\n"
		"\n"
		"Tell every process holding leases on the device MAJOR:MINOR that it is\n"
		"gone already: they revoke their regions on it without flushing into\n"
		"it.  Run by the udev rule 90-pmemlease.rules when a dax device or a pmem\n"
		"block device is removed or unbound; a person has no reason to.\n"
		"\n"
		"Options:\n"
		"  -t, --timeout MS  how long holders get to revoke (default %d; udev\n"
		"                    waits for this command)\n"
		"  -h, --help        show this help\n"
		"\n", cli_prog, NOTIFY_TIMEOUT_MS);
	dl_print_exit_codes(out);
}

int
dl_cmd_notify_removed(int argc, char **argv)
{
	struct dl_removal rm;
	dev_t dev;
	int rc = dl_parse_removal(argc, argv, argv[0], dl_usage_notify_removed,
				  &rm, NULL, NULL, NULL, NULL);

	if (rc >= 0)
		return rc;
	/* --timeout not given: udev's short default, not the removal default */
	bool given = false;
	for (int i = 1; i < optind; i++)
		if (strncmp(argv[i], "-t", 2) == 0 ||
		    strncmp(argv[i], "--timeout", 9) == 0)
			given = true;
	if (!given)
		rm.timeout_ms = NOTIFY_TIMEOUT_MS;
	if (dl_parse_devt(argv[optind], &dev) != 0) {
		fprintf(stderr, "%s: '%s': not MAJOR:MINOR\n", argv[0],
			argv[optind]);
		return DL_EXIT_USAGE;
	}
	rc = dl_prepare_removal(argv[0], argv[optind], &dev, 1, &rm,
				PML_REMOVAL_GONE);
	return rc >= 0 ? rc : DL_EXIT_OK;
}
