/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * region_info.c -- on real devdax and fsdax, pml_region_info reports what
 * the media is: kind, alignment, store granularity and size equal what
 * libpmem2 itself says of the same file or device (asked here directly),
 * and the mapping is the media (a write through the region reads back
 * through an independent libpmem2 mapping).
 *
 * Expected on the QEMU NVDIMMs of this tier (no eADR):
 *   devdax  PML_REGION_DEVDAX, alignment 2 MiB, CACHE_LINE
 *   ext4    PML_REGION_FSDAX,  alignment 4 KiB, CACHE_LINE
 *   xfs     PML_REGION_FSDAX,  alignment 4 KiB, CACHE_LINE
 */
#include "pmlvm.h"

#include <errno.h>
#include <fcntl.h>
#include <libpmem2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_SIZE (8 * PMLVM_MiB)
#define SEED 0x494e464fULL	/* "INFO" */

/* what libpmem2 says of a path, mapped the way pmemlease maps (PAGE is
 * the weakest granularity a caller accepts: libpmem2 then reports the
 * best the media offers) */
struct pmem2_view {
	int fd;
	struct pmem2_source *src;
	struct pmem2_config *cfg;
	struct pmem2_map *map;
	size_t alignment;
	size_t size;
	enum pmem2_granularity granularity;
	uint8_t *addr;
};

static void pmem2_view_open(struct pmem2_view *v, const char *path)
{
	memset(v, 0, sizeof(*v));
	v->fd = open(path, O_RDWR);
	if (v->fd < 0)
		fail_msg("open(%s): %s", path, strerror(errno));
	if (pmem2_source_from_fd(&v->src, v->fd) != 0)
		fail_msg("pmem2_source_from_fd: %s", pmem2_errormsg());
	if (pmem2_source_alignment(v->src, &v->alignment) != 0)
		fail_msg("pmem2_source_alignment: %s", pmem2_errormsg());
	if (pmem2_source_size(v->src, &v->size) != 0)
		fail_msg("pmem2_source_size: %s", pmem2_errormsg());
	assert_int_equal(pmem2_config_new(&v->cfg), 0);
	assert_int_equal(pmem2_config_set_required_store_granularity(v->cfg,
		PMEM2_GRANULARITY_PAGE), 0);
	if (pmem2_map_new(&v->map, v->cfg, v->src) != 0)
		fail_msg("pmem2_map_new(%s): %s", path, pmem2_errormsg());
	v->granularity = pmem2_map_get_store_granularity(v->map);
	v->addr = pmem2_map_get_address(v->map);
	print_message("libpmem2 on %s: alignment %zu, size %zu, "
		"granularity %d\n", path, v->alignment, v->size,
		(int)v->granularity);
}

static void pmem2_view_close(struct pmem2_view *v)
{
	assert_int_equal(pmem2_map_delete(&v->map), 0);
	pmem2_config_delete(&v->cfg);
	pmem2_source_delete(&v->src);
	close(v->fd);
}

static enum pml_granularity from_pmem2(enum pmem2_granularity g)
{
	switch (g) {
	case PMEM2_GRANULARITY_BYTE:
		return PML_GRANULARITY_BYTE;
	case PMEM2_GRANULARITY_CACHE_LINE:
		return PML_GRANULARITY_CACHE_LINE;
	case PMEM2_GRANULARITY_PAGE:
		return PML_GRANULARITY_PAGE;
	}
	fail_msg("libpmem2 granularity %d unknown", (int)g);
	return 0;
}

static const char *media_path(void)
{
	static char *path;

	if (pmlvm.target == PMLVM_DEVDAX)
		return pmlvm.devdax;
	if (path == NULL) {
		path = pmlvm_path("info.dat");
		pmlvm_make_file(path, FILE_SIZE);
	}
	return path;
}

static void test_info_matches_libpmem2(void **state)
{
	const char *path = media_path();
	struct pmem2_view v;
	struct pml_region *r = NULL;
	struct pml_region_info info;
	struct stat st;
	const char *want_device;

	(void)state;
	pmem2_view_open(&v, path);
	PML_OK(pml_region_open(&r, path, NULL));
	assert_non_null(r);
	memset(&info, 0xff, sizeof(info));
	PML_OK(pml_region_info(&info, r));
	print_message("pml_region_info: kind %s, granularity %d, size %llu, "
		"max_size %llu, alignment %llu, base %p, device '%s'\n",
		pml_region_kind_name(info.kind), (int)info.granularity,
		(unsigned long long)info.size,
		(unsigned long long)info.max_size,
		(unsigned long long)info.alignment, info.base, info.device);

	/* the kind: what the media is */
	if (pmlvm.target == PMLVM_DEVDAX) {
		assert_int_equal(info.kind, PML_REGION_DEVDAX);
		assert_string_equal(pml_region_kind_name(info.kind), "devdax");
	} else {
		assert_int_equal(info.kind, PML_REGION_FSDAX);
		assert_string_equal(pml_region_kind_name(info.kind), "fsdax");
	}

	/* alignment, granularity and size: libpmem2's, and what the tier's
	 * namespaces were made with */
	assert_int_equal(info.alignment, v.alignment);
	assert_int_equal(info.alignment, pmlvm.target == PMLVM_DEVDAX ?
		2 * PMLVM_MiB : (uint64_t)sysconf(_SC_PAGESIZE));
	assert_int_equal(info.granularity, from_pmem2(v.granularity));
	assert_int_equal(info.granularity, PML_GRANULARITY_CACHE_LINE);
	assert_int_equal(info.size, v.size);
	assert_int_equal(pml_region_size(r), info.size);
	if (pmlvm.target != PMLVM_DEVDAX)
		assert_int_equal(info.size, FILE_SIZE);
	assert_int_equal(info.size % info.alignment, 0);

	/* the reservation: the device itself on devdax, 16 GiB by default
	 * for files; aligned either way */
	if (pmlvm.target == PMLVM_DEVDAX)
		assert_int_equal(info.max_size, info.size);
	else
		assert_int_equal(info.max_size, 16ULL << 30);
	assert_int_equal(info.max_size % info.alignment, 0);

	/* where and what */
	assert_non_null(info.base);
	assert_ptr_equal(info.base, pml_region_base(r));
	assert_int_equal((uintptr_t)info.base % info.alignment, 0);
	assert_int_equal(stat(path, &st), 0);
	if (pmlvm.target == PMLVM_DEVDAX) {
		assert_int_equal(info.dev, st.st_rdev);
		want_device = strrchr(pmlvm.devdax, '/') + 1;
	} else {
		assert_int_equal(info.dev, st.st_dev);
		want_device = strrchr(pmlvm.pmemdev, '/') + 1;
	}
	assert_int_equal(info.ino, st.st_ino);
	assert_string_equal(info.device, want_device);
	assert_string_equal(info.path, path);
	for (size_t i = 0; i < PMLVM_N(info.reserved); i++)
		assert_int_equal(info.reserved[i], 0);

	PML_OK(pml_region_close(&r));
	assert_null(r);
	pmem2_view_close(&v);
}

static void test_max_size_option(void **state)
{
	struct pml_region_opts opts = { .max_size = 64 * PMLVM_MiB + 1 };
	struct pml_region *r = NULL;
	struct pml_region_info info;

	(void)state;
	if (pmlvm.target == PMLVM_DEVDAX)
		PMLVM_SKIP("devdax reserves the device, whatever max_size says");
	PML_OK(pml_region_open(&r, media_path(), &opts));
	PML_OK(pml_region_info(&info, r));
	/* "rounded up to the region's alignment" */
	assert_int_equal(info.max_size, 64 * PMLVM_MiB + info.alignment);
	PML_OK(pml_region_close(&r));
}

/* a write through the region is the media: an independent libpmem2
 * mapping of the same file or device reads it back, and the other way */
static void test_mapping_is_the_media(void **state)
{
	const char *path = media_path();
	const size_t len = 2 * PMLVM_MiB;
	uint64_t off = pmlvm.target == PMLVM_DEVDAX ? pmlvm.slot_offset : 0;
	struct pmem2_view v;
	struct pml_region *r = NULL;
	uint8_t *base, *src;
	size_t bad;

	(void)state;
	src = malloc(len);
	assert_non_null(src);
	pmlvm_pattern(src, len, SEED, off);

	PML_OK(pml_region_open(&r, path, NULL));
	base = pml_region_base(r);
	PML_OK(pml_region_memcpy(r, base + off, src, len, 0));

	pmem2_view_open(&v, path);
	bad = pmlvm_pattern_check(v.addr + off, len, SEED, off);
	if (bad != (size_t)-1)
		fail_msg("libpmem2's mapping differs at offset %llu",
			(unsigned long long)(off + bad));

	/* and back: written by libpmem2, read by the region */
	pmlvm_pattern(v.addr + off, len, SEED + 1, off);
	pmem2_get_persist_fn(v.map)(v.addr + off, len);
	bad = pmlvm_pattern_check(base + off, len, SEED + 1, off);
	if (bad != (size_t)-1)
		fail_msg("the region's mapping differs at offset %llu",
			(unsigned long long)(off + bad));

	/* the persist wrappers accept the region's range, refuse others */
	PML_OK(pml_region_persist(r, base + off, len));
	PML_OK(pml_region_flush(r, base + off, 64));
	PML_OK(pml_region_drain(r));
	assert_true(pml_region_persist(r, base + pml_region_size(r), 64) < 0);
	assert_true(pml_region_persist(r, src, 64) < 0);

	pmem2_view_close(&v);
	PML_OK(pml_region_close(&r));
	free(src);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_info_matches_libpmem2),
		cmocka_unit_test(test_max_size_option),
		cmocka_unit_test(test_mapping_is_the_media),
	};

	pmlvm_init(argc, argv);
	return pmlvm_run("region_info", tests, PMLVM_N(tests));
}
