/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * device.c -- disable-device, reconfigure-device, destroy-device: daxctl's
 * operations on a dax device, preceded by the pre-removal protocol.
 *
 * Order matters: everything that can refuse without harm (no such device,
 * not root, wrong mode, kernel policy) is checked before the holders are
 * told, because telling them is irreversible -- they revoke their regions
 * -- and must not be followed by "never mind".
 */

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <daxctl/libdaxctl.h>
#include <json-c/json.h>

#include "daxctl-lease.h"

enum op { OP_DISABLE, OP_RECONFIGURE, OP_DESTROY };

struct dev_args {
	enum op op;
	int mode;		/* reconfigure: 1 system-ram, 2 devdax */
	bool no_online;
	const char *cmd;
};

#define MODE_RAM 1
#define MODE_DEVDAX 2

/*
 * The device named as daxctl names it ("dax0.0", or "0.0"), by its path
 * ("/dev/dax0.0"), or by number ("252:0", what udev and the library's
 * state files know).
 */
static struct daxctl_dev *
find_dev(struct daxctl_ctx *ctx, const char *arg)
{
	struct daxctl_region *region;
	struct daxctl_dev *dev;
	const char *name = arg;
	dev_t want = 0;
	bool by_num = false;
	struct stat st;
	int rid, did;

	if (strncmp(arg, "/dev/", 5) == 0) {
		if (stat(arg, &st) == 0 && S_ISCHR(st.st_mode)) {
			want = st.st_rdev;
			by_num = true;
		} else {
			name = arg + 5;
		}
	} else if (dl_parse_devt(arg, &want) == 0) {
		by_num = true;
	}
	daxctl_region_foreach(ctx, region) {
		daxctl_dev_foreach(region, dev) {
			const char *dn = daxctl_dev_get_devname(dev);
			char n[64];
			if (by_num) {
				if (daxctl_dev_get_major(dev) == (int)major(want) &&
				    daxctl_dev_get_minor(dev) == (int)minor(want))
					return dev;
				continue;
			}
			if (dn != NULL && strcmp(dn, name) == 0)
				return dev;
			if (sscanf(name, "%d.%d%63s", &rid, &did, n) == 2 &&
			    rid == daxctl_region_get_id(region) &&
			    did == daxctl_dev_get_id(dev))
				return dev;
		}
	}
	return NULL;
}

static int
online_memory(const char *cmd, struct daxctl_dev *dev)
{
	struct daxctl_memory *mem = daxctl_dev_get_memory(dev);
	const char *dn = daxctl_dev_get_devname(dev);

	if (mem == NULL) {
		fprintf(stderr, "%s: %s: no memory object after enabling it as "
			"system-ram\n", cmd, dn);
		return -ENXIO;
	}
	int rc = daxctl_memory_online(mem);
	if (rc < 0)
		fprintf(stderr, "%s: %s: cannot online its memory: %s\n", cmd, dn,
			strerror(-rc));
	return rc < 0 ? rc : 0;
}

/* system-ram -> devdax: its memory must be offline first (daxctl's rule) */
static int
offline_for_devdax(const char *cmd, struct daxctl_dev *dev, bool force)
{
	struct daxctl_memory *mem = daxctl_dev_get_memory(dev);
	const char *dn = daxctl_dev_get_devname(dev);
	int on;

	if (mem == NULL)
		return 0;
	if (force && daxctl_memory_is_online(mem) > 0) {
		int rc = daxctl_memory_offline(mem);
		if (rc < 0) {
			fprintf(stderr, "%s: %s: cannot offline its memory: %s\n",
				cmd, dn, strerror(-rc));
			return rc;
		}
	}
	on = daxctl_memory_is_online(mem);
	if (on > 0) {
		fprintf(stderr, "%s: %s: %d memory block%s online; offline them "
			"first (daxctl offline-memory %s) or use --force\n", cmd, dn,
			on, on == 1 ? "" : "s", dn);
		return -EBUSY;
	}
	return on < 0 ? on : 0;
}

static int
do_reconfigure(const struct dev_args *a, struct daxctl_dev *dev, bool force)
{
	const char *dn = daxctl_dev_get_devname(dev);
	int rc;

	if (a->mode == MODE_RAM) {
		if (daxctl_dev_is_enabled(dev) &&
		    (rc = daxctl_dev_disable(dev)) < 0)
			return rc;
		if ((rc = daxctl_dev_enable_ram(dev)) < 0)
			return rc;
		return a->no_online ? 0 : online_memory(a->cmd, dev);
	}
	if (daxctl_dev_is_enabled(dev)) {
		if ((rc = offline_for_devdax(a->cmd, dev, force)) < 0)
			return rc;
		if ((rc = daxctl_dev_disable(dev)) < 0)
			return rc;
	}
	rc = daxctl_dev_enable_devdax(dev);
	if (rc < 0)
		fprintf(stderr, "%s: %s: enable as devdax failed\n", a->cmd, dn);
	return rc;
}

static int
do_destroy(struct daxctl_dev *dev)
{
	int rc;

	if (daxctl_dev_is_enabled(dev) && (rc = daxctl_dev_disable(dev)) < 0)
		return rc;
	/* its capacity goes back to the region before the device can go */
	if ((rc = daxctl_dev_set_size(dev, 0)) < 0)
		return rc;
	rc = daxctl_region_destroy_dev(daxctl_dev_get_region(dev), dev);
	/* the kernel keeps daxX.0 so the region stays visible: EBUSY is fine */
	if (rc == -EBUSY && daxctl_dev_get_id(dev) == 0)
		rc = 0;
	return rc;
}

/*
 * Refusals that cost nothing: a mode that makes the operation meaningless
 * or a kernel policy daxctl would refuse.  An exit code, -1 to go on, or
 * -2 for "nothing to do".
 */
static int
precheck(const struct dev_args *a, struct daxctl_dev *dev, bool force)
{
	const char *dn = daxctl_dev_get_devname(dev);
	bool ram = daxctl_dev_get_memory(dev) != NULL;
	bool enabled = daxctl_dev_is_enabled(dev);

	switch (a->op) {
	case OP_DISABLE:
		if (ram) {
			fprintf(stderr, "%s: %s is in system-ram mode: disable-device "
				"is for devdax (daxctl's rule)\n", a->cmd, dn);
			return DL_EXIT_FAIL;
		}
		if (!enabled) {
			fprintf(stderr, "%s: %s is disabled already\n", a->cmd, dn);
			return -2;
		}
		return -1;
	case OP_RECONFIGURE:
		if (enabled && ram == (a->mode == MODE_RAM)) {
			fprintf(stderr, "%s: %s is in %s mode already\n", a->cmd, dn,
				ram ? "system-ram" : "devdax");
			return -2;
		}
		if (a->mode == MODE_RAM && !a->no_online && !force &&
		    daxctl_dev_will_auto_online_memory(dev)) {
			/* the kernel would online it unmovable before we could */
			fprintf(stderr, "%s: %s: kernel policy will auto-online the "
				"memory; use --no-online or --force\n", a->cmd, dn);
			return DL_EXIT_FAIL;
		}
		return -1;
	case OP_DESTROY:
		return -1;
	}
	return -1;
}

static const char *const op_done[] = { "disabled", "reconfigured", "destroyed" };

static int
run(int argc, char **argv, struct dev_args *a, void (*usage)(FILE *),
    const struct option *extra_opts, const char *extra_short,
    int (*extra)(int, const char *, void *))
{
	struct daxctl_ctx *ctx = NULL;
	struct dl_removal rm;
	int rc;

	a->cmd = argv[0];
	rc = dl_parse_removal(argc, argv, a->cmd, usage, &rm, extra_opts,
			      extra_short, extra, a);
	if (rc >= 0)
		return rc;
	const char *name = argv[optind];
	if (a->op == OP_RECONFIGURE && a->mode == 0) {
		fprintf(stderr, "%s: which mode? --mode=system-ram or --mode=devdax\n",
			a->cmd);
		return DL_EXIT_USAGE;
	}
	if ((rc = daxctl_new(&ctx)) < 0) {
		fprintf(stderr, "%s: libdaxctl: %s\n", a->cmd, strerror(-rc));
		return DL_EXIT_SYSTEM;
	}
	struct daxctl_dev *dev = find_dev(ctx, name);
	if (dev == NULL) {
		fprintf(stderr, "%s: no dax device '%s' (`daxctl-lease list` shows "
			"them)\n", a->cmd, name);
		daxctl_unref(ctx);
		return DL_EXIT_NODEV;
	}
	const char *dn = daxctl_dev_get_devname(dev);
	char unbind[256];
	snprintf(unbind, sizeof(unbind), "/sys/bus/dax/devices/%s/driver/unbind",
		 dn);
	if ((rc = precheck(a, dev, rm.force)) == -2) {
		rc = DL_EXIT_OK;
		goto out;
	}
	if (rc >= 0 || (rc = dl_check_writable(a->cmd, unbind)) >= 0)
		goto out;

	/* only a devdax device has a character device holders can map */
	if (daxctl_dev_get_memory(dev) == NULL && daxctl_dev_is_enabled(dev)) {
		dev_t d = makedev((unsigned)daxctl_dev_get_major(dev),
				  (unsigned)daxctl_dev_get_minor(dev));
		if ((rc = dl_prepare_removal(a->cmd, dn, &d, 1, &rm, 0)) >= 0)
			goto out;
	}

	switch (a->op) {
	case OP_DISABLE:
		rc = daxctl_dev_disable(dev);
		break;
	case OP_RECONFIGURE:
		rc = do_reconfigure(a, dev, rm.force);
		break;
	case OP_DESTROY:
		rc = do_destroy(dev);
		break;
	}
	if (rc < 0) {
		fprintf(stderr, "%s: %s: %s\n", a->cmd, dn, strerror(-rc));
		rc = dl_exit_for_errno(rc);
		if (rc == DL_EXIT_NODEV)	/* it was there a moment ago */
			rc = DL_EXIT_FAIL;
		goto out;
	}
	if (a->op == OP_RECONFIGURE) {
		/* what daxctl reconfigure-device prints: the device as it is now */
		struct json_object *arr = json_object_new_array();
		json_object_array_add(arr, dl_dev_json(dev, false));
		cli_print_json(stdout, arr, true);
		json_object_put(arr);
	}
	fprintf(stderr, "%s 1 device\n", op_done[a->op]);
	rc = DL_EXIT_OK;
out:
	daxctl_unref(ctx);
	return rc;
}

/* ---------------------------------------------------------------- usage */

static void
usage_common(FILE *out)
{
	fprintf(out,
		"  -t, --timeout MS  how long holders get to drain, flush and revoke\n"
		"                    (default %d)\n"
		"  -f, --force       go on when holders did not let go in time (their\n"
		"                    regions are revoked; a device may still be writing)\n"
		"  -h, --help        show this help\n"
		"\n"
		"DEVICE: dax0.0, 0.0, /dev/dax0.0 or MAJOR:MINOR.  Needs root.\n"
		"\n", DL_DEFAULT_TIMEOUT_MS);
	dl_print_exit_codes(out);
}

static const char protocol[] =
	"First every process that has the device mapped through pmemlease is\n"
	"told (pml_device_prepare_removal): its leases' on_break run with\n"
	"PML_BREAK_REMOVE, it flushes and revokes its regions.  If some have not\n"
	"within the timeout, nothing is changed and the holders are listed,\n"
	"unless --force.\n";

void
dl_usage_disable_device(FILE *out)
{
	fprintf(out,
		"Usage: %s disable-device [--timeout MS] [--force] DEVICE\n"
		"\n"
		"Disable a devdax device, as `daxctl disable-device` does.\n%s"
		"\n"
		"Options:\n", cli_prog, protocol);
	usage_common(out);
}

void
dl_usage_reconfigure_device(FILE *out)
{
	fprintf(out,
		"Usage: %s reconfigure-device --mode=system-ram|devdax [--no-online]\n"
		"       [--timeout MS] [--force] DEVICE\n"
		"\n"
		"Change a dax device's mode, as `daxctl reconfigure-device` does, and print\n"
		"the device as JSON.  To system-ram: disable, enable with the kmem driver,\n"
		"online its memory (movable) unless --no-online.  To devdax: its memory\n"
		"must be offline (--force offlines it), then disable and enable as devdax.\n"
		"%s"
		"\n"
		"Options:\n"
		"  -m, --mode MODE   system-ram or devdax\n"
		"  -N, --no-online   leave system-ram memory offline\n", cli_prog, protocol);
	usage_common(out);
}

void
dl_usage_destroy_device(FILE *out)
{
	fprintf(out,
		"Usage: %s destroy-device [--timeout MS] [--force] DEVICE\n"
		"\n"
		"Disable a dax device, give its capacity back to its region (size 0) and\n"
		"delete it, as `daxctl destroy-device` does (the kernel keeps daxX.0).\n"
		"Its data is lost.\n%s"
		"\n"
		"Options:\n", cli_prog, protocol);
	usage_common(out);
}

/* ------------------------------------------------------------- commands */

int
dl_cmd_disable_device(int argc, char **argv)
{
	struct dev_args a = { .op = OP_DISABLE };
	return run(argc, argv, &a, dl_usage_disable_device, NULL, NULL, NULL);
}

static int
reconfigure_opt(int opt, const char *arg, void *ctx)
{
	struct dev_args *a = ctx;

	switch (opt) {
	case 'm':
		if (strcmp(arg, "system-ram") == 0 || strcmp(arg, "kmem") == 0) {
			a->mode = MODE_RAM;
		} else if (strcmp(arg, "devdax") == 0) {
			a->mode = MODE_DEVDAX;
		} else {
			fprintf(stderr, "%s: --mode '%s': system-ram or devdax\n",
				a->cmd, arg);
			return DL_EXIT_USAGE;
		}
		return -1;
	case 'N':
		a->no_online = true;
		return -1;
	}
	return DL_EXIT_USAGE;
}

int
dl_cmd_reconfigure_device(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "no-online", no_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};
	struct dev_args a = { .op = OP_RECONFIGURE, .cmd = argv[0] };
	return run(argc, argv, &a, dl_usage_reconfigure_device, opts, "m:N",
		   reconfigure_opt);
}

int
dl_cmd_destroy_device(int argc, char **argv)
{
	struct dev_args a = { .op = OP_DESTROY };
	return run(argc, argv, &a, dl_usage_destroy_device, NULL, NULL, NULL);
}
