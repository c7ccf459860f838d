/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cxl.c -- which CXL memory a region sits on.
 *
 * Persistent memory now arrives as CXL type-3 memory devices.  The kernel
 * assembles a CXL region (a root decoder's window, interleaved over the
 * endpoint decoders of one or more memdevs behind host bridges) and hands
 * its pmem to libnvdimm as an nd region on the CXL nvdimm bridge, where
 * devdax and fsdax namespaces live as on an NVDIMM.  Nothing in sysfs links
 * the nd region to its CXL region; both have the same host physical
 * address range, so that is how they are matched: the nd region's
 * "resource" against libcxl's region resource.
 *
 * The monitor watches the CXL region and its memdevs as well as the dax or
 * block device: disabling the region or a memdev, or pulling the memdev's
 * PCI device, takes the region's device away.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cxl/libcxl.h>

#include "err.h"
#include "region.h"

/*
 * The nd region under a sysfs device path ("/sys/devices/.../ndbus0/
 * region0/dax0.0/dax0.0"): its name and the start of its physical range.
 * -ENODEV when the path is not on an nvdimm bus.
 */
static int
nd_region_of(char *name, size_t namelen, uint64_t *resource,
		const char *syspath)
{
	const char *bus = strstr(syspath, "/ndbus");
	char path[PATH_MAX];
	unsigned long long res;
	FILE *f;
	int n = 0;

	if (!bus)
		return -ENODEV;
	const char *reg = strchr(bus + 1, '/');

	if (!reg || sscanf(reg, "/region%*u%n", &n) != 0 || n == 0)
		return -ENODEV;
	snprintf(name, namelen, "%.*s", n - 1, reg + 1);
	snprintf(path, sizeof(path), "%.*s/resource", (int)(reg + n - syspath),
			syspath);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fscanf(f, "%llx", &res);
	fclose(f);
	if (n != 1)
		return -EIO;
	*resource = res;
	return 0;
}

/* the host bridge a memdev sits behind: its port just below the root */
static const char *
host_bridge_of(struct cxl_memdev *memdev)
{
	struct cxl_endpoint *ep = cxl_memdev_get_endpoint(memdev);
	struct cxl_port *port = ep ? cxl_endpoint_get_parent(ep) : NULL;

	while (port && cxl_port_get_parent(port) &&
			!cxl_port_is_root(cxl_port_get_parent(port)))
		port = cxl_port_get_parent(port);
	return port && !cxl_port_is_root(port) ? cxl_port_get_host(port) : NULL;
}

#define COPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src) ? (src) : "")

static void
fill(struct pml_cxl_info *info, struct cxl_region *region)
{
	struct cxl_decoder *root = cxl_region_get_decoder(region);
	unsigned ways = cxl_region_get_interleave_ways(region);

	COPY(info->region, cxl_region_get_devname(region));
	COPY(info->root_decoder, root ? cxl_decoder_get_devname(root) : NULL);
	info->resource = cxl_region_get_resource(region);
	info->size = cxl_region_get_size(region);
	info->interleave_ways = ways;
	info->interleave_granularity =
		cxl_region_get_interleave_granularity(region);
	for (unsigned pos = 0; pos < ways &&
			info->nmemdevs < PML_CXL_MAX_MEMDEVS; pos++) {
		struct cxl_decoder *ep =
			cxl_region_get_target_decoder(region, (int)pos);
		struct cxl_memdev *md = ep ? cxl_decoder_get_memdev(ep) : NULL;
		struct pml_cxl_memdev_info *m = &info->memdevs[info->nmemdevs];

		if (!md)
			continue;
		COPY(m->memdev, cxl_memdev_get_devname(md));
		COPY(m->host, cxl_memdev_get_host(md));
		COPY(m->host_bridge, host_bridge_of(md));
		COPY(m->decoder, cxl_decoder_get_devname(ep));
		m->serial = cxl_memdev_get_serial(md);
		m->position = pos;
		info->nmemdevs++;
	}
}

/* the CXL region whose range starts at resource, filled into info */
static int
cxl_region_at(struct pml_cxl_info *info, uint64_t resource)
{
	struct cxl_ctx *ctx;
	struct cxl_bus *bus;
	int ret = cxl_new(&ctx);

	if (ret < 0)
		return ret;
	ret = -ENODEV;
	cxl_bus_foreach(ctx, bus) {
		struct cxl_port *port = cxl_bus_get_port(bus);
		struct cxl_decoder *decoder;

		cxl_decoder_foreach(port, decoder) {
			struct cxl_region *region;

			cxl_region_foreach(decoder, region) {
				if (cxl_region_get_resource(region) != resource)
					continue;
				fill(info, region);
				ret = 0;
				goto out;
			}
		}
	}
out:
	cxl_unref(ctx);
	return ret;
}

/* the CXL topology under a sysfs device path (without the "/sys" prefix) */
int
cxl_topology(struct pml_cxl_info *info, const char *devpath)
{
	char syspath[PATH_MAX];
	uint64_t resource = 0;
	int ret;

	memset(info, 0, sizeof(*info));
	snprintf(syspath, sizeof(syspath), "/sys%s", devpath);
	ret = nd_region_of(info->nd_region, sizeof(info->nd_region),
			&resource, syspath);
	if (ret == 0)
		ret = cxl_region_at(info, resource);
	return ret;
}

/*
 * the sysfs device path of a dax device, a block device, or the block
 * device under a file; NULL if none
 */
static char *
devpath_of(const char *path, char *buf, size_t len)
{
	char link[64], full[PATH_MAX];
	struct stat st;

	if (stat(path, &st))
		return NULL;
	if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
		snprintf(link, sizeof(link), "/sys/dev/%s/%u:%u",
				S_ISCHR(st.st_mode) ? "char" : "block",
				major(st.st_rdev), minor(st.st_rdev));
	else
		snprintf(link, sizeof(link), "/sys/dev/block/%u:%u",
				major(st.st_dev), minor(st.st_dev));
	if (!realpath(link, full) || strncmp(full, "/sys/", 5) != 0)
		return NULL;
	snprintf(buf, len, "%s", full + 4);
	return buf;
}

static int
not_cxl(int ret, const char *what)
{
	if (ret == -ENODEV)
		return err_set(ENODEV, "%s is not on CXL memory (no CXL "
				"region under its nvdimm region, or no nvdimm "
				"region at all)", what);
	return err_set(-ret, "%s: reading the CXL topology: %s", what,
			strerror(-ret));
}

int
pml_device_cxl_info(struct pml_cxl_info *info, const char *path)
{
	char buf[PATH_MAX];
	const char *devpath;
	int ret;

	if (!info)
		return err_set(EINVAL, "info is NULL");
	if (!path)
		return err_set(EINVAL, "path is NULL");
	devpath = devpath_of(path, buf, sizeof(buf));
	if (!devpath) {
		if (errno == ENOENT || errno == EACCES)
			return err_set(errno, "%s: %m", path);
		return err_set(ENODEV, "%s is on no device sysfs knows", path);
	}
	ret = cxl_topology(info, devpath);
	return ret ? not_cxl(ret, path) : 0;
}

int
pml_region_cxl_info(struct pml_cxl_info *info, const struct pml_region *region)
{
	if (!info)
		return err_set(EINVAL, "info is NULL");

	int ret = region_validate(region);

	if (ret)
		return ret;
	if (!region->devpath)
		return err_set(ENODEV, "%s is on no device sysfs knows",
				region->path);
	ret = cxl_topology(info, region->devpath);
	return ret ? not_cxl(ret, region->path) : 0;
}

/*
 * monitor.c, at open: the sysfs paths whose removal takes the region's
 * CXL memory away -- its CXL region and each memdev (whose PCI device is
 * above it, so a surprise removal matches too).  NULL-terminated, or NULL
 * when the region is not on CXL.  The CXL region's name goes to region.
 */
char **
cxl_watch_paths(const char *devpath, char *region, size_t regionlen)
{
	struct pml_cxl_info info;
	char link[PATH_MAX], full[PATH_MAX];
	char **v;
	unsigned n = 0;

	if (!devpath || !strstr(devpath, "/ndbus") ||
			cxl_topology(&info, devpath))
		return NULL;
	v = calloc(info.nmemdevs + 2, sizeof(*v));
	if (!v)
		return NULL;
	snprintf(region, regionlen, "%s", info.region);
	for (unsigned i = 0; i <= info.nmemdevs; i++) {
		snprintf(link, sizeof(link), "/sys/bus/cxl/devices/%s",
				i == 0 ? info.region : info.memdevs[i - 1].memdev);
		if (realpath(link, full) && strncmp(full, "/sys/", 5) == 0 &&
				(v[n] = strdup(full + 4)))
			n++;
	}
	return v;
}
