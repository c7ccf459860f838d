/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * persist.c -- what pmemlease persisted before a power-off is there after
 * the next boot, on the same NVDIMM media (PHASES 2).
 *
 * Phase 1 (boot 1) writes run-specific data through every persistence
 * entry point of the API, one 1 MiB section each, then closes the region.
 * On fsdax the file is created by pml_region_open(PML_REGION_CREATE) and
 * grown by pml_region_truncate, so its size (metadata) must persist too.
 * The guest then powers off without unmounting or syncing the filesystems.
 *
 * Phase 2 (boot 2) opens the same file or device and checks the size and
 * every section.
 *
 * What this cannot show: QEMU writes guest stores straight into the backing
 * file, so a missing cache flush is not lost here as it would be on real
 * hardware.  It does show that the data and the file's layout reach the
 * media through the library and the filesystem, and survive a reboot.
 */
#include "pmlvm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECTION (1 * PMLVM_MiB)
#define NSECTIONS 7
#define DATA_LEN (8 * PMLVM_MiB)	/* NSECTIONS sections, fits the slot */
#define SEED 0x50455253ULL		/* "PERS" */

/* the fill byte of the memset section: from the run id, never 0 */
static int fill_byte(void)
{
	return (int)((pmlvm.run_id >> 8) & 0xff) | 0x01;
}

static const char *section_name[NSECTIONS] = {
	"pml_region_memcpy",
	"stores + pml_region_persist",
	"stores + pml_region_flush (per 4 KiB) + pml_region_drain",
	"pml_region_memset",
	"pml_region_memcpy_fn + pml_region_drain_fn",
	"stores + pml_region_persist_fn",
	"pml_region_memcpy(NODRAIN) + pml_region_drain",
};

/* open the media; *data is where this test's bytes start */
static struct pml_region *open_media(int phase, uint8_t **data)
{
	struct pml_region *r = NULL;
	uint64_t off = 0;

	if (pmlvm.target == PMLVM_DEVDAX) {
		assert_true(pmlvm.slot_size >= DATA_LEN);
		PML_OK(pml_region_open(&r, pmlvm.devdax, NULL));
		off = pmlvm.slot_offset;
	} else {
		char *path = pmlvm_path("persist.dat");
		struct pml_region_opts opts = { .max_size = 64 * PMLVM_MiB };

		if (phase == 1) {
			/* a new file, made by the library */
			if (unlink(path) != 0 && errno != ENOENT)
				fail_msg("unlink(%s): %s", path,
					strerror(errno));
			opts.flags = PML_REGION_CREATE;
		} else if (access(path, F_OK) != 0) {
			fail_msg("%s is gone after the reboot: %s", path,
				strerror(errno));
		}
		PML_OK(pml_region_open(&r, path, &opts));
		free(path);
	}
	*data = (uint8_t *)pml_region_base(r) + off;
	return r;
}

static void test_write(void **state)
{
	struct pml_region *r;
	uint8_t *d, *src;

	(void)state;
	assert_int_equal(pmlvm.phase, 1);
	r = open_media(1, &d);
	if (pmlvm.target != PMLVM_DEVDAX) {
		assert_int_equal(pml_region_size(r), 0);
		PML_OK(pml_region_truncate(r, DATA_LEN, NULL));
		/* growth maps in place: d is still the base */
		assert_ptr_equal(pml_region_base(r), d);
	}
	assert_true(pml_region_size(r) >= DATA_LEN);

	src = malloc(SECTION);
	assert_non_null(src);

	/* 0: copy and persist in one call */
	pmlvm_pattern(src, SECTION, SEED, 0 * SECTION);
	PML_OK(pml_region_memcpy(r, d + 0 * SECTION, src, SECTION, 0));
	/* 1: plain stores, then persist */
	pmlvm_pattern(d + 1 * SECTION, SECTION, SEED, 1 * SECTION);
	PML_OK(pml_region_persist(r, d + 1 * SECTION, SECTION));
	/* 2: stores, flushes piecewise, one drain */
	pmlvm_pattern(d + 2 * SECTION, SECTION, SEED, 2 * SECTION);
	for (size_t o = 0; o < SECTION; o += 4096)
		PML_OK(pml_region_flush(r, d + 2 * SECTION + o, 4096));
	PML_OK(pml_region_drain(r));
	/* 3: fill and persist */
	PML_OK(pml_region_memset(r, d + 3 * SECTION, fill_byte(), SECTION, 0));
	/* 4: the raw libpmem2 copy function, flushed without drain, then
	 * the raw drain */
	pmlvm_pattern(src, SECTION, SEED, 4 * SECTION);
	assert_non_null(pml_region_memcpy_fn(r));
	assert_non_null(pml_region_drain_fn(r));
	pml_region_memcpy_fn(r)(d + 4 * SECTION, src, SECTION,
		PML_F_MEM_NODRAIN);
	pml_region_drain_fn(r)();
	/* 5: stores and the raw persist function */
	pmlvm_pattern(d + 5 * SECTION, SECTION, SEED, 5 * SECTION);
	assert_non_null(pml_region_persist_fn(r));
	pml_region_persist_fn(r)(d + 5 * SECTION, SECTION);
	/* 6: non-temporal copy without drain, then drain */
	pmlvm_pattern(src, SECTION, SEED, 6 * SECTION);
	PML_OK(pml_region_memcpy(r, d + 6 * SECTION, src, SECTION,
		PML_F_MEM_NODRAIN | PML_F_MEM_NONTEMPORAL));
	PML_OK(pml_region_drain(r));

	free(src);
	PML_OK(pml_region_close(&r));
	print_message("phase 1: %d sections written and persisted\n",
		NSECTIONS);
}

static void test_verify(void **state)
{
	struct pml_region *r;
	uint8_t *d;
	int bad_sections = 0;

	(void)state;
	assert_int_equal(pmlvm.phase, 2);
	r = open_media(2, &d);
	if (pmlvm.target != PMLVM_DEVDAX)
		assert_int_equal(pml_region_size(r), DATA_LEN);

	for (int s = 0; s < NSECTIONS; s++) {
		const uint8_t *p = d + (size_t)s * SECTION;
		size_t bad = (size_t)-1;

		if (s == 3) {
			for (size_t i = 0; i < SECTION; i++)
				if (p[i] != fill_byte()) {
					bad = i;
					break;
				}
		} else {
			bad = pmlvm_pattern_check(p, SECTION, SEED,
				(uint64_t)s * SECTION);
		}
		if (bad != (size_t)-1) {
			print_error("section %d (%s): lost, first difference "
				"at byte %zu\n", s, section_name[s], bad);
			bad_sections++;
		} else {
			print_message("section %d (%s): intact\n", s,
				section_name[s]);
		}
	}
	PML_OK(pml_region_close(&r));
	if (bad_sections)
		fail_msg("%d of %d sections did not survive the reboot",
			bad_sections, NSECTIONS);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest phase1[] = {
		cmocka_unit_test(test_write),
	};
	const struct CMUnitTest phase2[] = {
		cmocka_unit_test(test_verify),
	};

	pmlvm_init(argc, argv);
	if (pmlvm.phase == 1)
		return pmlvm_run("persist phase 1", phase1, PMLVM_N(phase1));
	if (pmlvm.phase == 2)
		return pmlvm_run("persist phase 2", phase2, PMLVM_N(phase2));
	fprintf(stderr, "persist: no phase %d\n", pmlvm.phase);
	return 1;
}
