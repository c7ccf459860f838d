/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cxl_info.c -- on the CXL machine, what the library and the tools say of
 * the CXL memory under a devdax region is what the kernel says:
 *
 *   - pml_region_info names the CXL region; pml_region_cxl_info and
 *     pml_device_cxl_info report its window, range, interleave, memdev,
 *     endpoint decoder, PCI device, host bridge and serial -- each checked
 *     against sysfs, read here independently of libcxl, and against what
 *     `cxl list` prints;
 *   - `pmemlease list` (table and JSON) shows it beside a lease this test
 *     holds, and `daxctl-lease list --json` on the dax region.
 *
 * The machine (run-vm.sh --machine cxl): one type-3 device mem0 behind the
 * host bridge pci0000:0c, region0 in the window decoder0.0, one way.
 */
#include "pmlvm.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef PMLVM_PMEMLEASE
#define PMLVM_PMEMLEASE "pmemlease"
#endif
#ifndef PMLVM_DAXCTL_LEASE
#define PMLVM_DAXCTL_LEASE "daxctl-lease"
#endif

#define CXL "/sys/bus/cxl/devices/"

static uint64_t sys_u64(const char *path)
{
	char *line = pmlvm_read_line(path);
	uint64_t v;

	if (line == NULL)
		fail_msg("cannot read %s", path);
	v = strtoull(line, NULL, 0);
	free(line);
	return v;
}

/* the last component of the real path of a sysfs link, or of its parent */
static const char *sys_name(const char *path, int parent, char *buf, size_t len)
{
	char full[PATH_MAX], *slash;

	if (realpath(path, full) == NULL)
		fail_msg("realpath %s: %s", path, strerror(errno));
	if (parent && (slash = strrchr(full, '/')) != NULL)
		*slash = '\0';
	slash = strrchr(full, '/');
	snprintf(buf, len, "%.63s", slash ? slash + 1 : full);
	return buf;
}

/* out (JSON pretty or not, or a table) says what, blanks aside */
static void has(const char *out, const char *what, const char *who)
{
	static char flat[65536];
	size_t n = 0;

	for (const char *p = out; *p && n + 1 < sizeof(flat); p++)
		if (*p != ' ' && *p != '\n' && *p != '\t')
			flat[n++] = *p;
	flat[n] = '\0';
	if (strstr(flat, what) == NULL)
		fail_msg("%s does not say %s:\n%s", who, what, out);
}

static void check_info(const struct pml_cxl_info *ci, const char *who)
{
	char name[64], want[256], path[PATH_MAX];
	char *target;

	print_message("%s: %s in %s at %#" PRIx64 " (%" PRIu64 " bytes), %u "
		"way(s) of %u bytes, nd %s; memdev %s (%s, %s, host bridge %s, "
		"serial %" PRIu64 ")\n", who, ci->region, ci->root_decoder,
		ci->resource, ci->size, ci->interleave_ways,
		ci->interleave_granularity, ci->nd_region, ci->memdevs[0].memdev,
		ci->memdevs[0].decoder, ci->memdevs[0].host,
		ci->memdevs[0].host_bridge, ci->memdevs[0].serial);
	assert_string_equal(ci->region, "region0");
	assert_int_equal(ci->resource, sys_u64(CXL "region0/resource"));
	assert_int_equal(ci->size, sys_u64(CXL "region0/size"));
	assert_int_equal(ci->interleave_ways,
		sys_u64(CXL "region0/interleave_ways"));
	assert_int_equal(ci->interleave_granularity,
		sys_u64(CXL "region0/interleave_granularity"));
	assert_string_equal(ci->root_decoder,
		sys_name(CXL "region0", 1, name, sizeof(name)));
	snprintf(path, sizeof(path), "/sys/bus/nd/devices/%s/resource",
		ci->nd_region);
	assert_int_equal(sys_u64(path), ci->resource);

	assert_int_equal(ci->nmemdevs, 1);
	assert_string_equal(ci->memdevs[0].memdev, "mem0");
	assert_int_equal(ci->memdevs[0].position, 0);
	target = pmlvm_read_line(CXL "region0/target0");
	assert_non_null(target);
	assert_string_equal(ci->memdevs[0].decoder, target);
	free(target);
	assert_string_equal(ci->memdevs[0].host,
		sys_name(CXL "mem0", 1, name, sizeof(name)));
	/* the host bridge: the PCI root the memdev's device sits under */
	if (realpath(CXL "mem0", path) == NULL)
		fail_msg("realpath mem0: %s", strerror(errno));
	snprintf(want, sizeof(want), "/sys/devices/%s/", ci->memdevs[0].host_bridge);
	if (strncmp(path, want, strlen(want)) != 0)
		fail_msg("mem0 is at %s, not under the host bridge %s", path,
			ci->memdevs[0].host_bridge);
	assert_int_equal(ci->memdevs[0].serial, sys_u64(CXL "mem0/serial"));
}

static void test_info(void **state)
{
	struct pml_region *r = NULL;
	struct pml_region_info info;
	struct pml_cxl_info a, b;
	char out[16384], want[128];
	char *cxl_list[] = { "cxl", "list", "-R", "-M", NULL };

	(void)state;
	PML_OK(pml_region_open(&r, pmlvm.devdax, NULL));
	PML_OK(pml_region_info(&info, r));
	assert_string_equal(info.cxl_region, "region0");
	PML_OK(pml_region_cxl_info(&a, r));
	check_info(&a, "pml_region_cxl_info");
	PML_OK(pml_device_cxl_info(&b, pmlvm.devdax));
	check_info(&b, "pml_device_cxl_info");
	assert_memory_equal(&a, &b, sizeof(a));

	/* and what the cxl tool says of the same */
	assert_int_equal(pmlvm_capture(cxl_list, out, sizeof(out)), 0);
	print_message("%s", out);
	has(out, "\"region\":\"region0\"", "cxl list");
	snprintf(want, sizeof(want), "\"interleave_ways\":%u", a.interleave_ways);
	has(out, want, "cxl list");
	snprintf(want, sizeof(want), "\"interleave_granularity\":%u",
		a.interleave_granularity);
	has(out, want, "cxl list");
	has(out, "\"memdev\":\"mem0\"", "cxl list");
	snprintf(want, sizeof(want), "\"host\":\"%s\"", a.memdevs[0].host);
	has(out, want, "cxl list");
	PML_OK(pml_region_close(&r));
}

static void test_tools(void **state)
{
	struct pml_region *r = NULL;
	struct pml_lease *l = NULL;
	struct pml_cxl_info ci;
	char out[65536], want[160];
	char *list_json[] = { PMLVM_PMEMLEASE, "list", "--json", NULL, NULL };
	char *list[] = { PMLVM_PMEMLEASE, "list", NULL, NULL };
	char *dl_json[] = { PMLVM_DAXCTL_LEASE, "list", "--json", NULL };

	(void)state;
	list_json[3] = (char *)pmlvm.devdax;
	list[2] = (char *)pmlvm.devdax;
	PML_OK(pml_region_open(&r, pmlvm.devdax, NULL));
	PML_OK(pml_region_cxl_info(&ci, r));
	PML_OK(pml_lease_acquire(&l, r, pmlvm.slot_offset, 4096, PML_LEASE_PIN,
		NULL, NULL));

	assert_int_equal(pmlvm_capture(list_json, out, sizeof(out)), 0);
	print_message("%s", out);
	has(out, "\"cxl\":{", "pmemlease list --json");
	has(out, "\"region\":\"region0\"", "pmemlease list --json");
	has(out, "\"memdev\":\"mem0\"", "pmemlease list --json");
	snprintf(want, sizeof(want), "\"host_bridge\":\"%s\"",
		ci.memdevs[0].host_bridge);
	has(out, want, "pmemlease list --json");

	assert_int_equal(pmlvm_capture(list, out, sizeof(out)), 0);
	print_message("%s", out);
	snprintf(want, sizeof(want), "CXLregion0x1(mem0@%s)",
		ci.memdevs[0].host_bridge);
	has(out, want, "pmemlease list");

	assert_int_equal(pmlvm_capture(dl_json, out, sizeof(out)), 0);
	print_message("%s", out);
	has(out, "\"cxl\":{", "daxctl-lease list --json");
	has(out, "\"region\":\"region0\"", "daxctl-lease list --json");
	has(out, "\"leases\":1", "daxctl-lease list --json");

	PML_OK(pml_lease_put(l));
	PML_OK(pml_region_close(&r));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_info),
		cmocka_unit_test(test_tools),
	};

	pmlvm_init(argc, argv);
	return pmlvm_run("cxl_info", tests, PMLVM_N(tests));
}
