/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * list.c -- `daxctl-lease list`: daxctl's regions and devices, and the
 * fsdax namespaces, each with the lease state on it.
 *
 * Lease state is keyed by device number: a devdax holder's state file
 * carries the device's st_rdev, an fsdax holder's the st_dev of its data
 * file, which is the namespace's block device or a partition of it.  The
 * snapshot is converted once (the same JSON as `pmemlease list --json`)
 * and its files handed out to the devices by major and minor; what no
 * device claims is listed apart, so nothing a holder has open is hidden.
 */

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <daxctl/libdaxctl.h>
#include <json-c/json.h>

#include "daxctl-lease.h"

static void
add_size(struct json_object *o, const char *key, uint64_t v, bool human)
{
	char b[32];

	if (human)
		json_object_object_add(o, key,
			json_object_new_string(cli_size(b, sizeof(b), v)));
	else
		json_object_object_add(o, key, json_object_new_uint64(v));
}

static void
add_int(struct json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

struct json_object *
dl_dev_json(struct daxctl_dev *dev, bool human)
{
	struct json_object *o = json_object_new_object();
	bool enabled = daxctl_dev_is_enabled(dev) > 0;
	int node = daxctl_dev_get_target_node(dev);
	unsigned long align = daxctl_dev_get_align(dev);

	json_object_object_add(o, "chardev",
		json_object_new_string(daxctl_dev_get_devname(dev)));
	add_int(o, "major", daxctl_dev_get_major(dev));
	add_int(o, "minor", daxctl_dev_get_minor(dev));
	add_size(o, "size", daxctl_dev_get_size(dev), human);
	if (node >= 0)
		add_int(o, "target_node", node);
	if (align > 0)
		add_size(o, "align", align, human);
	json_object_object_add(o, "mode", json_object_new_string(
		daxctl_dev_get_memory(dev) ? "system-ram" : "devdax"));
	json_object_object_add(o, "enabled", json_object_new_boolean(enabled));
	if (!enabled)	/* daxctl's key, for scripts written against it */
		json_object_object_add(o, "state",
			json_object_new_string("disabled"));
	return o;
}

/* ------------------------------------------------------------- joining */

struct lease_files {
	struct json_object *files;	/* the snapshot, as pmemlease list */
	bool *claimed;
};

/*
 * Attach to o the lease state on the devices devs[0..n): "files" (as
 * `pmemlease list --json` shows them), and the counts "holders" (distinct
 * processes) and "leases".
 */
static void
attach(struct json_object *o, struct lease_files *lf, const dev_t *devs,
       unsigned n)
{
	struct json_object *mine = json_object_new_array();
	int64_t pids[256];
	unsigned npids = 0;
	uint64_t nleases = 0;

	for (size_t i = 0; i < json_object_array_length(lf->files); i++) {
		struct json_object *f = json_object_array_get_idx(lf->files, i);
		dev_t d = makedev((unsigned)cli_ji64(f, "major"),
				  (unsigned)cli_ji64(f, "minor"));
		bool match = false;
		for (unsigned k = 0; k < n; k++)
			match |= devs[k] == d;
		if (!match)
			continue;
		lf->claimed[i] = true;
		json_object_array_add(mine, json_object_get(f));
		struct json_object *procs = cli_jarr(f, "processes");
		for (size_t p = 0; procs && p < json_object_array_length(procs); p++) {
			struct json_object *pr = json_object_array_get_idx(procs, p);
			int64_t pid = cli_ji64(pr, "pid");
			struct json_object *ls = cli_jarr(pr, "leases");
			bool seen = false;
			nleases += ls ? json_object_array_length(ls) : 0;
			for (unsigned q = 0; q < npids; q++)
				seen |= pids[q] == pid;
			if (!seen && npids < sizeof(pids) / sizeof(*pids))
				pids[npids++] = pid;
		}
	}
	add_int(o, "holders", npids);
	json_object_object_add(o, "leases", json_object_new_uint64(nleases));
	json_object_object_add(o, "files", mine);
}

static struct json_object *
regions_json(struct daxctl_ctx *ctx, struct lease_files *lf, bool human)
{
	struct json_object *regions = json_object_new_array();
	struct daxctl_region *region;
	struct daxctl_dev *dev;

	daxctl_region_foreach(ctx, region) {
		struct json_object *r = json_object_new_object();
		struct json_object *devs = json_object_new_array();
		unsigned long long size = daxctl_region_get_size(region);
		const char *path = daxctl_region_get_path(region);

		add_int(r, "id", daxctl_region_get_id(region));
		if (size < ULLONG_MAX)
			add_size(r, "size", size, human);
		add_size(r, "available_size",
			 daxctl_region_get_available_size(region), human);
		add_size(r, "align", daxctl_region_get_align(region), human);
		if (path != NULL)
			json_object_object_add(r, "path", json_object_new_string(path));
		struct json_object *cxl = NULL;
		daxctl_dev_foreach(region, dev) {
			struct json_object *d = dl_dev_json(dev, human);
			dev_t t = makedev((unsigned)daxctl_dev_get_major(dev),
					  (unsigned)daxctl_dev_get_minor(dev));
			char node[80];
			attach(d, lf, &t, 1);
			json_object_array_add(devs, d);
			/* the region's CXL memory, seen through a device node */
			snprintf(node, sizeof(node), "/dev/%s",
				 daxctl_dev_get_devname(dev));
			if (cxl == NULL)
				cxl = cli_cxl_json(node);
		}
		if (cxl != NULL)
			json_object_object_add(r, "cxl", cxl);
		json_object_object_add(r, "devices", devs);
		json_object_array_add(regions, r);
	}
	return regions;
}

static struct json_object *
namespaces_json(const struct dl_ns *ns, int n, struct lease_files *lf,
		bool human)
{
	struct json_object *arr = json_object_new_array();

	for (int i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "dev", json_object_new_string(ns[i].name));
		json_object_object_add(o, "mode", json_object_new_string(ns[i].mode));
		add_int(o, "region", ns[i].region);
		if (ns[i].bdev[0] != '\0') {
			json_object_object_add(o, "blockdev",
				json_object_new_string(ns[i].bdev));
			if (ns[i].ndevs > 0) {
				add_int(o, "major", major(ns[i].devs[0]));
				add_int(o, "minor", minor(ns[i].devs[0]));
			}
		}
		add_size(o, "size", ns[i].size, human);
		if (ns[i].align > 0)
			add_size(o, "align", ns[i].align, human);
		if (ns[i].numa_node >= 0)
			add_int(o, "numa_node", ns[i].numa_node);
		json_object_object_add(o, "enabled",
			json_object_new_boolean(ns[i].enabled));
		if (!ns[i].enabled)
			json_object_object_add(o, "state",
				json_object_new_string("disabled"));
		if (ns[i].bdev[0] != '\0') {
			char node[80];
			snprintf(node, sizeof(node), "/dev/%s", ns[i].bdev);
			struct json_object *cxl = cli_cxl_json(node);
			if (cxl != NULL)
				json_object_object_add(o, "cxl", cxl);
		}
		attach(o, lf, ns[i].devs, ns[i].ndevs);
		json_object_array_add(arr, o);
	}
	return arr;
}

/* --------------------------------------------------------------- tables */

static void
print_tables(FILE *out, struct json_object *all)
{
	struct json_object *regions = cli_jarr(all, "regions");
	struct json_object *nss = cli_jarr(all, "namespaces");
	struct json_object *other = cli_jarr(all, "other_files");
	char s1[32], s2[32];
	size_t ndev = 0;

	for (size_t i = 0; i < json_object_array_length(regions); i++) {
		struct json_object *r = json_object_array_get_idx(regions, i);
		struct json_object *devs = cli_jarr(r, "devices");
		struct json_object *cxl = NULL;
		char on[224] = "";
		if (json_object_object_get_ex(r, "cxl", &cxl)) {
			char sum[192];
			snprintf(on, sizeof(on), ", on %s",
				 cli_cxl_summary(sum, sizeof(sum), cxl));
		}
		fprintf(out, "dax region %" PRId64 ": size %s, available %s%s\n",
			cli_ji64(r, "id"), cli_size(s1, sizeof(s1), cli_ju64(r, "size")),
			cli_size(s2, sizeof(s2), cli_ju64(r, "available_size")), on);
		fprintf(out, "  %-10s %-8s %10s %8s %-10s %-8s %4s %7s %6s\n",
			"DEVICE", "MAJ:MIN", "SIZE", "ALIGN", "MODE", "STATE", "NODE",
			"HOLDERS", "LEASES");
		for (size_t k = 0; k < json_object_array_length(devs); k++) {
			struct json_object *d = json_object_array_get_idx(devs, k);
			char mm[24], node[12];
			snprintf(mm, sizeof(mm), "%" PRId64 ":%" PRId64,
				 cli_ji64(d, "major"), cli_ji64(d, "minor"));
			struct json_object *tn = NULL;
			if (json_object_object_get_ex(d, "target_node", &tn))
				snprintf(node, sizeof(node), "%" PRId64,
					 cli_ji64(d, "target_node"));
			else
				snprintf(node, sizeof(node), "-");
			fprintf(out, "  %-10s %-8s %10s %8s %-10s %-8s %4s %7" PRId64
				" %6" PRIu64 "\n", cli_jstr(d, "chardev"), mm,
				cli_size(s1, sizeof(s1), cli_ju64(d, "size")),
				cli_size(s2, sizeof(s2), cli_ju64(d, "align")),
				cli_jstr(d, "mode"),
				cli_jbool(d, "enabled") ? "enabled" : "disabled", node,
				cli_ji64(d, "holders"), cli_ju64(d, "leases"));
			ndev++;
		}
		fputc('\n', out);
	}
	if (ndev == 0)
		fprintf(out, "no dax devices\n\n");

	if (json_object_array_length(nss) == 0) {
		fprintf(out, "no fsdax namespaces\n\n");
	} else {
		fprintf(out, "fsdax namespaces:\n");
		fprintf(out, "  %-14s %-10s %-8s %10s %8s %-8s %4s %7s %6s\n",
			"NAMESPACE", "BLOCKDEV", "MAJ:MIN", "SIZE", "ALIGN", "STATE",
			"NODE", "HOLDERS", "LEASES");
		for (size_t i = 0; i < json_object_array_length(nss); i++) {
			struct json_object *n = json_object_array_get_idx(nss, i);
			const char *b = cli_jstr(n, "blockdev");
			char mm[24] = "-", node[12] = "-";
			if (*b)
				snprintf(mm, sizeof(mm), "%" PRId64 ":%" PRId64,
					 cli_ji64(n, "major"), cli_ji64(n, "minor"));
			struct json_object *nn = NULL;
			if (json_object_object_get_ex(n, "numa_node", &nn))
				snprintf(node, sizeof(node), "%" PRId64,
					 cli_ji64(n, "numa_node"));
			fprintf(out, "  %-14s %-10s %-8s %10s %8s %-8s %4s %7" PRId64
				" %6" PRIu64 "\n", cli_jstr(n, "dev"), *b ? b : "-", mm,
				cli_size(s1, sizeof(s1), cli_ju64(n, "size")),
				cli_ju64(n, "align") ?
				cli_size(s2, sizeof(s2), cli_ju64(n, "align")) : "-",
				cli_jbool(n, "enabled") ? "enabled" : "disabled", node,
				cli_ji64(n, "holders"), cli_ju64(n, "leases"));
			struct json_object *cxl = NULL;
			if (json_object_object_get_ex(n, "cxl", &cxl)) {
				char sum[192];
				fprintf(out, "  %-14s on %s\n", "",
					cli_cxl_summary(sum, sizeof(sum), cxl));
			}
		}
		fputc('\n', out);
	}

	/* the leases themselves, per device, as `pmemlease list` shows them */
	for (size_t i = 0; i < json_object_array_length(regions); i++) {
		struct json_object *devs = cli_jarr(json_object_array_get_idx(
			regions, i), "devices");
		for (size_t k = 0; k < json_object_array_length(devs); k++) {
			struct json_object *d = json_object_array_get_idx(devs, k);
			if (json_object_array_length(cli_jarr(d, "files")) == 0)
				continue;
			fprintf(out, "=== leases on %s\n", cli_jstr(d, "chardev"));
			cli_print_files(out, cli_jarr(d, "files"));
			fputc('\n', out);
		}
	}
	for (size_t i = 0; i < json_object_array_length(nss); i++) {
		struct json_object *n = json_object_array_get_idx(nss, i);
		if (json_object_array_length(cli_jarr(n, "files")) == 0)
			continue;
		fprintf(out, "=== leases on %s (%s)\n", cli_jstr(n, "dev"),
			cli_jstr(n, "blockdev"));
		cli_print_files(out, cli_jarr(n, "files"));
		fputc('\n', out);
	}
	if (json_object_array_length(other) > 0) {
		fprintf(out, "=== leases on no device above (plain files, or "
			"devices not listed)\n");
		cli_print_files(out, other);
	} else {
		fprintf(out, "no lease state on other devices\n");
	}
}

/* ----------------------------------------------------------------- list */

void
dl_usage_list(FILE *out)
{
	fprintf(out,
		"Usage: %s list [--json] [--human] [--wait MS]\n"
		"\n"
		"daxctl's view of dax regions and devices (id, size, alignment, mode,\n"
		"state, target node) and libndctl's fsdax namespaces (block device,\n"
		"size, alignment), each joined with the pmemlease state on it: the\n"
		"processes holding regions there and their leases.  A devdax holder is\n"
		"matched by the device's number, an fsdax holder by the block device\n"
		"(or partition) its file lives on.  Lease state on no listed device\n"
		"(plain files, or devices this machine's daxctl does not show) is\n"
		"listed last, as \"other_files\".\n"
		"\n"
		"Options:\n"
		"  -j, --json      print JSON in daxctl's style: an object with \"regions\"\n"
		"                  (each with \"devices\": \"chardev\", \"size\", \"align\",\n"
		"                  \"mode\", ...), \"namespaces\" and \"other_files\"; every\n"
		"                  device and namespace has \"holders\", \"leases\" and\n"
		"                  \"files\" (as `pmemlease list --json` prints them)\n"
		"  -u, --human     with --json, sizes as strings (\"2 MiB\"), as daxctl -u;\n"
		"                  without, the tables (the default)\n"
		"  -w, --wait MS   how long holders get to answer (default %d)\n"
		"  -h, --help      show this help\n"
		"\n", cli_prog, DL_ANSWER_MS);
	dl_print_exit_codes(out);
}

int
dl_cmd_list(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "human", no_argument, NULL, 'u' },
		{ "wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0], *why;
	uint32_t wait_ms = DL_ANSWER_MS;
	bool json = false, human = false;
	char dir[4096];
	struct stat st;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "juw:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			dl_usage_list(stdout);
			return DL_EXIT_OK;
		case 'j':
			json = true;
			break;
		case 'u':
			human = true;
			break;
		case 'w':
			if (cli_parse_ms(optarg, &wait_ms, &why) != 0) {
				fprintf(stderr, "%s: --wait '%s': %s\n", cmd, optarg, why);
				return DL_EXIT_USAGE;
			}
			break;
		default:
			fprintf(stderr, "Try '%s --help'.\n", cmd);
			return DL_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", cmd, argv[optind]);
		return DL_EXIT_USAGE;
	}

	struct lease_files lf = { 0 };
	/* no runtime directory yet: nobody has opened anything, not an error */
	if (cli_runtime_dir(dir, sizeof(dir)) == NULL ||
	    (stat(dir, &st) != 0 && errno == ENOENT)) {
		lf.files = json_object_new_array();
	} else if ((rc = cli_snapshot_json(&lf.files, NULL, 0, wait_ms)) < 0) {
		fprintf(stderr, "%s: cannot read the lease state in %s: %s: %s\n",
			cmd, dir, cli_errname(rc), cli_libmsg());
		return rc == -EACCES ? DL_EXIT_PERM : DL_EXIT_SYSTEM;
	}
	size_t nfiles = json_object_array_length(lf.files);
	lf.claimed = calloc(nfiles ? nfiles : 1, sizeof(bool));

	struct daxctl_ctx *ctx = NULL;
	if ((rc = daxctl_new(&ctx)) < 0) {
		fprintf(stderr, "%s: libdaxctl: %s\n", cmd, strerror(-rc));
		json_object_put(lf.files);
		free(lf.claimed);
		return DL_EXIT_SYSTEM;
	}
	struct dl_ns *ns = NULL;
	int nns = dl_fsdax_namespaces(&ns);
	if (nns < 0) {
		/* no nd bus support at all still leaves daxctl's view: say so */
		fprintf(stderr, "%s: libndctl: %s; fsdax namespaces not listed\n",
			cmd, strerror(-nns));
		nns = 0;
	}

	struct json_object *all = json_object_new_object();
	json_object_object_add(all, "regions", regions_json(ctx, &lf, human && json));
	json_object_object_add(all, "namespaces",
			       namespaces_json(ns, nns, &lf, human && json));
	struct json_object *other = json_object_new_array();
	for (size_t i = 0; i < nfiles; i++)
		if (!lf.claimed[i])
			json_object_array_add(other, json_object_get(
				json_object_array_get_idx(lf.files, i)));
	json_object_object_add(all, "other_files", other);

	if (json)
		cli_print_json(stdout, all, true);
	else
		print_tables(stdout, all);

	json_object_put(all);
	json_object_put(lf.files);
	free(lf.claimed);
	free(ns);
	daxctl_unref(ctx);
	return fflush(stdout) == 0 ? DL_EXIT_OK : DL_EXIT_FAIL;
}
