/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cxl.c -- disable-region, disable-memdev: the `cxl` tool's operations on
 * CXL memory, preceded by the pre-removal protocol.
 *
 * A CXL region's pmem is an nd region (matched by host physical address,
 * as the library does: nothing in sysfs links them), and its namespaces
 * carry the dax and block devices holders keyed their state by.  Taking a
 * region away tells every holder on every namespace of it first; taking a
 * memdev away does so for every region it is part of, disables those
 * regions in order, and only then the memdev -- where `cxl disable-memdev`
 * refuses a memdev in an active region unless forced, and then tears the
 * regions down unannounced.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cxl/libcxl.h>
#include <ndctl/libndctl.h>

#include "daxctl-lease.h"

#define MAX_REGIONS 16

static struct cxl_region *
find_region(struct cxl_ctx *ctx, const char *name)
{
	struct cxl_bus *bus;

	cxl_bus_foreach(ctx, bus) {
		struct cxl_decoder *decoder;

		cxl_decoder_foreach(cxl_bus_get_port(bus), decoder) {
			struct cxl_region *region;

			cxl_region_foreach(decoder, region)
				if (strcmp(cxl_region_get_devname(region), name) == 0)
					return region;
		}
	}
	return NULL;
}

static struct cxl_memdev *
find_memdev(struct cxl_ctx *ctx, const char *name)
{
	struct cxl_memdev *memdev;

	cxl_memdev_foreach(ctx, memdev)
		if (strcmp(cxl_memdev_get_devname(memdev), name) == 0)
			return memdev;
	return NULL;
}

/* the enabled regions memdev is a target of */
static unsigned
regions_of(struct cxl_ctx *ctx, struct cxl_memdev *memdev,
	   struct cxl_region **out, unsigned max)
{
	struct cxl_bus *bus;
	unsigned n = 0;

	cxl_bus_foreach(ctx, bus) {
		struct cxl_decoder *decoder;

		cxl_decoder_foreach(cxl_bus_get_port(bus), decoder) {
			struct cxl_region *region;

			cxl_region_foreach(decoder, region) {
				unsigned ways = cxl_region_get_interleave_ways(region);
				bool mine = false;

				for (unsigned p = 0; p < ways; p++) {
					struct cxl_decoder *ep =
						cxl_region_get_target_decoder(region, (int)p);
					mine |= ep != NULL &&
						cxl_decoder_get_memdev(ep) == memdev;
				}
				if (mine && cxl_region_is_enabled(region) > 0 && n < max)
					out[n++] = region;
			}
		}
	}
	return n;
}

/*
 * The devices on the nd region at region's host physical address, added to
 * devs[*n..max): every namespace's dax or block devices.  None when the
 * region has no nd region (not assembled): nobody to tell.
 */
static void
region_devts(struct ndctl_ctx *nctx, struct cxl_region *region, dev_t *devs,
	     unsigned *n, unsigned max)
{
	unsigned long long res = cxl_region_get_resource(region);
	struct ndctl_bus *bus;

	ndctl_bus_foreach(nctx, bus) {
		struct ndctl_region *ndr;

		ndctl_region_foreach(bus, ndr) {
			struct ndctl_namespace *ndns;

			if (ndctl_region_get_resource(ndr) != res)
				continue;
			ndctl_namespace_foreach(ndr, ndns)
				*n += dl_ns_devts(ndns, devs + *n, max - *n);
			return;
		}
	}
}

/* root, before anyone is told: telling holders, then EACCES, loses them */
static int
check_root(const char *cmd, const char *devname)
{
	char unbind[256];

	snprintf(unbind, sizeof(unbind), "/sys/bus/cxl/devices/%s/driver/unbind",
		 devname);
	return dl_check_writable(cmd, unbind);
}

static int
setup(const char *cmd, struct cxl_ctx **cctx, struct ndctl_ctx **nctx)
{
	int rc = cxl_new(cctx);

	if (rc < 0) {
		fprintf(stderr, "%s: libcxl: %s\n", cmd, strerror(-rc));
		return DL_EXIT_SYSTEM;
	}
	rc = ndctl_new(nctx);
	if (rc < 0) {
		fprintf(stderr, "%s: libndctl: %s\n", cmd, strerror(-rc));
		cxl_unref(*cctx);
		return DL_EXIT_SYSTEM;
	}
	return -1;
}

/*
 * Tell the holders on regions[0..n), then disable the regions.  Returns -1
 * when every region is disabled, else the exit code.
 */
static int
take_regions(const char *cmd, const char *what, struct ndctl_ctx *nctx,
	     struct cxl_region **regions, unsigned n,
	     const struct dl_removal *rm)
{
	dev_t devs[DL_MAX_DEVS * MAX_REGIONS];
	unsigned ndevs = 0;
	int rc;

	for (unsigned i = 0; i < n; i++)
		region_devts(nctx, regions[i], devs, &ndevs,
			     sizeof(devs) / sizeof(devs[0]));
	if (ndevs > 0 &&
	    (rc = dl_prepare_removal(cmd, what, devs, ndevs, rm, 0)) >= 0)
		return rc;
	for (unsigned i = 0; i < n; i++) {
		rc = cxl_region_disable(regions[i]);
		if (rc < 0) {
			fprintf(stderr, "%s: disabling %s: %s\n", cmd,
				cxl_region_get_devname(regions[i]), strerror(-rc));
			rc = dl_exit_for_errno(rc);
			return rc == DL_EXIT_NODEV ? DL_EXIT_FAIL : rc;
		}
	}
	return -1;
}

void
dl_usage_disable_region(FILE *out)
{
	fprintf(out,
		"Usage: %s disable-region [--timeout MS] [--force] REGION\n"
		"\n"
		"Disable a CXL region (region0), as `cxl disable-region` does.  First\n"
		"every process that has a region on its memory through pmemlease -- on\n"
		"the dax devices of its devdax namespaces, or on files of filesystems on\n"
		"its fsdax namespaces -- is told (pml_device_prepare_removal): its\n"
		"leases' on_break run with PML_BREAK_REMOVE, it flushes and revokes.  If\n"
		"some have not within the timeout, nothing is changed and the holders\n"
		"are listed, unless --force.\n"
		"\n"
		"Options:\n"
		"  -t, --timeout MS  how long holders get to drain, flush and revoke\n"
		"                    (default %d)\n"
		"  -f, --force       go on when holders did not let go in time\n"
		"  -h, --help        show this help\n"
		"\n"
		"Needs root.  `cxl enable-region REGION` brings it back.\n"
		"\n", cli_prog, DL_DEFAULT_TIMEOUT_MS);
	dl_print_exit_codes(out);
}

void
dl_usage_disable_memdev(FILE *out)
{
	fprintf(out,
		"Usage: %s disable-memdev [--timeout MS] [--force] MEMDEV\n"
		"\n"
		"Disable a CXL memory device (mem0), as `cxl disable-memdev` does --\n"
		"but where that refuses a memdev in an active region (or, forced, tears\n"
		"the region down under its users), this first tells every process with\n"
		"a pmemlease region on the memory of each CXL region the memdev is part\n"
		"of, as disable-region does, disables those regions, and then the\n"
		"memdev.  If holders have not let go within the timeout, nothing is\n"
		"changed and they are listed, unless --force.\n"
		"\n"
		"Options:\n"
		"  -t, --timeout MS  how long holders get to drain, flush and revoke\n"
		"                    (default %d)\n"
		"  -f, --force       go on when holders did not let go in time\n"
		"  -h, --help        show this help\n"
		"\n"
		"Needs root.  `cxl enable-memdev MEMDEV` brings it back; its regions\n"
		"must then be enabled again.\n"
		"\n", cli_prog, DL_DEFAULT_TIMEOUT_MS);
	dl_print_exit_codes(out);
}

/*
 * disable-region and disable-memdev: find the device (a region, or a
 * memdev and the regions it is part of), check before anyone is told,
 * tell the holders, disable the regions, then the memdev.
 */
static int
disable(int argc, char **argv, bool memdev_cmd)
{
	const char *cmd = argv[0];
	const char *what = memdev_cmd ? "memdev" : "region";
	struct cxl_ctx *cctx = NULL;
	struct ndctl_ctx *nctx = NULL;
	struct cxl_region *regions[MAX_REGIONS];
	struct cxl_memdev *memdev = NULL;
	struct dl_removal rm;
	unsigned n = 0;
	bool enabled;
	int rc;

	rc = dl_parse_removal(argc, argv, cmd, memdev_cmd ?
			      dl_usage_disable_memdev : dl_usage_disable_region,
			      &rm, NULL, NULL, NULL, NULL);
	if (rc >= 0)
		return rc;
	const char *name = argv[optind];
	if ((rc = setup(cmd, &cctx, &nctx)) >= 0)
		return rc;

	if (memdev_cmd) {
		memdev = find_memdev(cctx, name);
		enabled = memdev != NULL && cxl_memdev_is_enabled(memdev);
	} else {
		regions[0] = find_region(cctx, name);
		n = regions[0] != NULL;
		enabled = n && cxl_region_is_enabled(regions[0]) > 0;
	}
	if (memdev == NULL && n == 0) {
		fprintf(stderr, "%s: no CXL %s '%s' (`cxl list -%c` shows them)\n",
			cmd, what, name, memdev_cmd ? 'M' : 'R');
		rc = DL_EXIT_NODEV;
		goto out;
	}
	if (!enabled) {
		fprintf(stderr, "%s: %s is disabled already\n", cmd, name);
		rc = DL_EXIT_OK;
		goto out;
	}
	if ((rc = check_root(cmd, name)) >= 0)
		goto out;
	if (memdev_cmd)
		n = regions_of(cctx, memdev, regions, MAX_REGIONS);
	if ((rc = take_regions(cmd, name, nctx, regions, n, &rm)) >= 0)
		goto out;
	if (memdev_cmd && (rc = cxl_memdev_disable_invalidate(memdev)) < 0) {
		fprintf(stderr, "%s: disabling %s: %s\n", cmd, name, strerror(-rc));
		rc = dl_exit_for_errno(rc);
		if (rc == DL_EXIT_NODEV)
			rc = DL_EXIT_FAIL;
		goto out;
	}
	fprintf(stderr, "disabled %u region%s%s\n", n, n == 1 ? "" : "s",
		memdev_cmd ? " and 1 memdev" : "");
	rc = DL_EXIT_OK;
out:
	ndctl_unref(nctx);
	cxl_unref(cctx);
	return rc;
}

int
dl_cmd_disable_region(int argc, char **argv)
{
	return disable(argc, argv, false);
}

int
dl_cmd_disable_memdev(int argc, char **argv)
{
	return disable(argc, argv, true);
}
