/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * namespace.c -- nd namespaces through libndctl: the fsdax ones for list,
 * and disable-namespace.
 *
 * An fsdax holder's state file is keyed by the st_dev of the data file,
 * which is the block device the filesystem sits on: the namespace's disk
 * (pmem0) or one of its partitions (pmem0p1).  So a namespace stands for
 * all of them.
 */

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include <daxctl/libdaxctl.h>
#include <ndctl/libndctl.h>

#include "daxctl-lease.h"

static int
read_devt(const char *path, dev_t *out)
{
	FILE *f = fopen(path, "re");
	unsigned ma, mi;
	int ok;

	if (f == NULL)
		return -1;
	ok = fscanf(f, "%u:%u", &ma, &mi) == 2;
	fclose(f);
	if (!ok)
		return -1;
	*out = makedev(ma, mi);
	return 0;
}

unsigned
dl_blockdev_devts(const char *bdev, dev_t *devs, unsigned max)
{
	char path[512];
	unsigned n = 0;
	size_t blen = strlen(bdev);

	if (*bdev == '\0' || max == 0)
		return 0;
	snprintf(path, sizeof(path), "/sys/class/block/%s/dev", bdev);
	if (read_devt(path, &devs[n]) == 0)
		n++;
	/* partitions are subdirectories named after the disk: pmem0p1 */
	snprintf(path, sizeof(path), "/sys/class/block/%s", bdev);
	DIR *d = opendir(path);
	if (d == NULL)
		return n;
	struct dirent *de;
	while ((de = readdir(d)) != NULL && n < max) {
		if (strncmp(de->d_name, bdev, blen) != 0 || de->d_name[blen] == '\0')
			continue;
		snprintf(path, sizeof(path), "/sys/class/block/%s/%s/dev", bdev,
			 de->d_name);
		if (read_devt(path, &devs[n]) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static const char *
mode_name(enum ndctl_namespace_mode m)
{
	switch (m) {
	case NDCTL_NS_MODE_FSDAX: return "fsdax";
	case NDCTL_NS_MODE_SECTOR: return "sector";
	case NDCTL_NS_MODE_RAW: return "raw";
	case NDCTL_NS_MODE_DEVDAX: return "devdax";
	default: return "unknown";
	}
}

/* the block device a namespace is reached through now, or "" */
static const char *
ns_blockdev(struct ndctl_namespace *ndns)
{
	struct ndctl_pfn *pfn = ndctl_namespace_get_pfn(ndns);
	struct ndctl_btt *btt = ndctl_namespace_get_btt(ndns);
	const char *b = NULL;

	if (pfn != NULL && ndctl_pfn_is_enabled(pfn))
		b = ndctl_pfn_get_block_device(pfn);
	else if (btt != NULL && ndctl_btt_is_enabled(btt))
		b = ndctl_btt_get_block_device(btt);
	else if (ndctl_namespace_is_enabled(ndns))
		b = ndctl_namespace_get_block_device(ndns);
	return b ? b : "";
}

static void
fill_ns(struct dl_ns *ns, struct ndctl_namespace *ndns)
{
	struct ndctl_pfn *pfn = ndctl_namespace_get_pfn(ndns);

	memset(ns, 0, sizeof(*ns));
	snprintf(ns->name, sizeof(ns->name), "%s",
		 ndctl_namespace_get_devname(ndns));
	ns->mode = mode_name(ndctl_namespace_get_mode(ndns));
	snprintf(ns->bdev, sizeof(ns->bdev), "%s", ns_blockdev(ndns));
	ns->region = ndctl_region_get_id(ndctl_namespace_get_region(ndns));
	ns->enabled = ndctl_namespace_is_enabled(ndns) > 0;
	ns->numa_node = ndctl_namespace_get_numa_node(ndns);
	ns->size = ndctl_namespace_get_size(ndns);
	if (pfn != NULL && ndctl_pfn_is_enabled(pfn)) {
		/* what the filesystem can use, after the struct-page reserve */
		unsigned long long s = ndctl_pfn_get_size(pfn);
		if (s != ULLONG_MAX)
			ns->size = s;
		ns->align = ndctl_pfn_get_align(pfn);
	}
	ns->ndevs = dl_blockdev_devts(ns->bdev, ns->devs, DL_MAX_DEVS);
}

int
dl_fsdax_namespaces(struct dl_ns **out)
{
	struct ndctl_ctx *ctx = NULL;
	struct ndctl_bus *bus;
	struct ndctl_region *region;
	struct ndctl_namespace *ndns;
	struct dl_ns *v = NULL;
	unsigned n = 0, cap = 0;
	int rc = ndctl_new(&ctx);

	*out = NULL;
	if (rc < 0)
		return rc;
	ndctl_bus_foreach(ctx, bus) {
		ndctl_region_foreach(bus, region) {
			ndctl_namespace_foreach(region, ndns) {
				if (ndctl_namespace_get_mode(ndns) != NDCTL_NS_MODE_FSDAX)
					continue;
				if (n == cap) {
					cap = cap ? cap * 2 : 8;
					struct dl_ns *nv = realloc(v, cap * sizeof(*v));
					if (nv == NULL) {
						free(v);
						ndctl_unref(ctx);
						return -ENOMEM;
					}
					v = nv;
				}
				fill_ns(&v[n++], ndns);
			}
		}
	}
	ndctl_unref(ctx);
	*out = v;
	return (int)n;
}

/* ---------------------------------------------------- disable-namespace */

static struct ndctl_namespace *
find_ns(struct ndctl_ctx *ctx, const char *name)
{
	struct ndctl_bus *bus;
	struct ndctl_region *region;
	struct ndctl_namespace *ndns;

	ndctl_bus_foreach(ctx, bus)
		ndctl_region_foreach(bus, region)
			ndctl_namespace_foreach(region, ndns)
				if (strcmp(ndctl_namespace_get_devname(ndns), name) == 0)
					return ndns;
	return NULL;
}

/*
 * Every device a holder may have keyed its state by: the block device and
 * its partitions, or, for a devdax namespace, its dax devices.
 */
unsigned
dl_ns_devts(struct ndctl_namespace *ndns, dev_t *devs, unsigned max)
{
	struct ndctl_dax *dax = ndctl_namespace_get_dax(ndns);
	unsigned n;

	if (dax != NULL && ndctl_dax_is_enabled(dax)) {
		struct daxctl_region *dr = ndctl_dax_get_daxctl_region(dax);
		struct daxctl_dev *dev;
		n = 0;
		if (dr == NULL)
			return 0;
		daxctl_dev_foreach(dr, dev)
			if (n < max && daxctl_dev_is_enabled(dev) &&
			    daxctl_dev_get_memory(dev) == NULL)
				devs[n++] = makedev((unsigned)daxctl_dev_get_major(dev),
						    (unsigned)daxctl_dev_get_minor(dev));
		return n;
	}
	return dl_blockdev_devts(ns_blockdev(ndns), devs, max);
}

void
dl_usage_disable_namespace(FILE *out)
{
	fprintf(out,
		"Usage: %s disable-namespace [--timeout MS] [--force] NAMESPACE\n"
		"\n"
		"Disable an nd namespace (namespace0.0), as `ndctl disable-namespace`\n"
		"does.  First every process that has a region on it through pmemlease --\n"
		"fsdax files on its block device or a partition of it, or its dax\n"
		"devices in devdax mode -- is told (pml_device_prepare_removal): its\n"
		"leases' on_break run with PML_BREAK_REMOVE, it flushes and revokes.  If\n"
		"some have not within the timeout, nothing is changed and the holders\n"
		"are listed, unless --force.\n"
		"\n"
		"The namespace is disabled the safe way (it is refused while a\n"
		"filesystem on it is mounted); --force disables it even then, which\n"
		"leaves such a filesystem without its device.\n"
		"\n"
		"Options:\n"
		"  -t, --timeout MS  how long holders get to drain, flush and revoke\n"
		"                    (default %d)\n"
		"  -f, --force       go on when holders did not let go in time, and\n"
		"                    disable the namespace even if it is mounted\n"
		"  -h, --help        show this help\n"
		"\n"
		"Needs root.\n"
		"\n", cli_prog, DL_DEFAULT_TIMEOUT_MS);
	dl_print_exit_codes(out);
}

int
dl_cmd_disable_namespace(int argc, char **argv)
{
	const char *cmd = argv[0];
	struct ndctl_ctx *ctx = NULL;
	struct dl_removal rm;
	dev_t devs[DL_MAX_DEVS];
	char unbind[256];
	int rc;

	rc = dl_parse_removal(argc, argv, cmd, dl_usage_disable_namespace, &rm,
			      NULL, NULL, NULL, NULL);
	if (rc >= 0)
		return rc;
	const char *name = argv[optind];
	if ((rc = ndctl_new(&ctx)) < 0) {
		fprintf(stderr, "%s: libndctl: %s\n", cmd, strerror(-rc));
		return DL_EXIT_SYSTEM;
	}
	struct ndctl_namespace *ndns = find_ns(ctx, name);
	if (ndns == NULL) {
		fprintf(stderr, "%s: no namespace '%s' (`ndctl list -N` shows them)\n",
			cmd, name);
		rc = DL_EXIT_NODEV;
		goto out;
	}
	if (!ndctl_namespace_is_enabled(ndns)) {
		fprintf(stderr, "%s: %s is disabled already\n", cmd, name);
		rc = DL_EXIT_OK;
		goto out;
	}
	snprintf(unbind, sizeof(unbind), "/sys/bus/nd/devices/%s/driver/unbind",
		 name);
	if ((rc = dl_check_writable(cmd, unbind)) >= 0)
		goto out;

	unsigned n = dl_ns_devts(ndns, devs, DL_MAX_DEVS);
	if (n > 0 && (rc = dl_prepare_removal(cmd, name, devs, n, &rm, 0)) >= 0)
		goto out;

	rc = ndctl_namespace_disable_safe(ndns);
	if (rc == -EBUSY && rm.force) {
		fprintf(stderr, "%s: %s is busy (mounted?): --force: disabling it "
			"anyway\n", cmd, name);
		rc = ndctl_namespace_disable_invalidate(ndns);
	}
	if (rc < 0) {
		fprintf(stderr, "%s: %s: %s%s\n", cmd, name, strerror(-rc),
			rc == -EBUSY ? " (a filesystem on it is mounted, or it is "
			"open exclusively; --force disables it anyway)" : "");
		rc = dl_exit_for_errno(rc);
		if (rc == DL_EXIT_NODEV)
			rc = DL_EXIT_FAIL;
		goto out;
	}
	fprintf(stderr, "disabled 1 namespace\n");
	rc = DL_EXIT_OK;
out:
	ndctl_unref(ctx);
	return rc;
}
