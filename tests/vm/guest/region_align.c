/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * region_align.c -- on real DAX, a size or range that breaks the media's
 * alignment is refused with an error, and nothing that was accepted maps
 * into a SIGBUS.
 *
 * A DAX mapping past what the media backs does not fail at mmap time: the
 * first access faults with SIGBUS.  pmemlease promises to refuse such sizes
 * up front.  Every "accepted" case here is followed by a touch of the whole
 * mapped range under a SIGBUS/SIGSEGV catcher (pmlvm_touch), so a library
 * that maps what it should have refused fails the test instead of killing
 * it.
 *
 *   fsdax (4 KiB): a file whose size is not a multiple of 4 KiB is refused
 *                  by open (-EINVAL) and left as it was; truncate to a
 *                  misaligned size is -EINVAL and changes nothing; past
 *                  max_size is -EFBIG; punch of a misaligned range -EINVAL.
 *   devdax (2 MiB): truncate is -EOPNOTSUPP (fixed size); punch of a range
 *                  not 2 MiB-aligned is -EINVAL; an aligned punch zeroes.
 */
#include "pmlvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEED 0x414c474eULL	/* "ALGN" */

static uint64_t file_size_of(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		fail_msg("stat(%s): %s", path, strerror(errno));
	return (uint64_t)st.st_size;
}

/* the whole region must read without a fault */
static void assert_all_mapped(struct pml_region *r)
{
	uintptr_t fault = 0;
	uint64_t size = pml_region_size(r);
	int sig = pmlvm_touch(pml_region_base(r), size, 4096, &fault);

	if (sig != 0)
		fail_msg("signal %d reading the region's %llu bytes at %p "
			"(offset %lld)", sig, (unsigned long long)size,
			(void *)fault, (long long)(fault -
				(uintptr_t)pml_region_base(r)));
}

static void assert_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != 0)
			fail_msg("byte %zu is 0x%02x, not zero", i, p[i]);
}

/* ------------------------------------------------------------- fsdax */

static void test_open_misaligned_file(void **state)
{
	static const uint64_t bad_sizes[] = {
		8 * PMLVM_MiB + 512,
		8 * PMLVM_MiB + 4096 - 1,
		100,
	};
	char *path = pmlvm_path("misaligned.dat");

	(void)state;
	if (pmlvm.target == PMLVM_DEVDAX)
		PMLVM_SKIP("a device's size is fixed by its namespace");
	for (size_t i = 0; i < PMLVM_N(bad_sizes); i++) {
		/* not NULL: the failed open must set it to NULL */
		struct pml_region *r = (struct pml_region *)path;

		pmlvm_make_file(path, bad_sizes[i]);
		print_message("file of %llu bytes\n",
			(unsigned long long)bad_sizes[i]);
		PML_ERR(pml_region_open(&r, path, NULL), EINVAL);
		assert_null(r);
		assert_true(strlen(pml_errormsg()) > 0);
		/* refused means untouched: not "fixed" by a truncate */
		assert_int_equal(file_size_of(path), bad_sizes[i]);
	}

	/* 4 KiB-aligned (but not 2 MiB-aligned) is fine on fsdax */
	{
		struct pml_region *r = NULL;

		pmlvm_make_file(path, 8 * PMLVM_MiB + 4096);
		PML_OK(pml_region_open(&r, path, NULL));
		assert_int_equal(pml_region_size(r), 8 * PMLVM_MiB + 4096);
		assert_all_mapped(r);
		PML_OK(pml_region_close(&r));
	}
	unlink(path);
	free(path);
}

static void test_truncate_fsdax(void **state)
{
	const struct pml_region_opts opts = { .max_size = 64 * PMLVM_MiB };
	char *path = pmlvm_path("truncate.dat");
	struct pml_region *r = NULL;
	uint8_t *base;

	(void)state;
	if (pmlvm.target == PMLVM_DEVDAX)
		PMLVM_SKIP("see test_truncate_devdax");
	pmlvm_make_file(path, 8 * PMLVM_MiB);
	PML_OK(pml_region_open(&r, path, &opts));
	base = pml_region_base(r);
	pmlvm_pattern(base, 8 * PMLVM_MiB, SEED, 0);
	PML_OK(pml_region_persist(r, base, 8 * PMLVM_MiB));

	/* misaligned: refused, nothing changes */
	PML_ERR(pml_region_truncate(r, 8 * PMLVM_MiB + 100, NULL), EINVAL);
	PML_ERR(pml_region_truncate(r, 12 * PMLVM_MiB + 512, NULL), EINVAL);
	PML_ERR(pml_region_truncate(r, 4 * PMLVM_MiB - 1, NULL), EINVAL);
	assert_int_equal(pml_region_size(r), 8 * PMLVM_MiB);
	assert_int_equal(file_size_of(path), 8 * PMLVM_MiB);
	assert_ptr_equal(pml_region_base(r), base);
	assert_int_equal(pmlvm_pattern_check(base, 8 * PMLVM_MiB, SEED, 0),
		(size_t)-1);
	assert_all_mapped(r);

	/* past the reservation */
	PML_ERR(pml_region_truncate(r, 128 * PMLVM_MiB, NULL), EFBIG);
	assert_int_equal(pml_region_size(r), 8 * PMLVM_MiB);

	/* aligned growth to a 4 KiB (not 2 MiB) multiple: in place, and
	 * the new part reads zeroes */
	PML_OK(pml_region_truncate(r, 8 * PMLVM_MiB + 3 * 4096, NULL));
	assert_ptr_equal(pml_region_base(r), base);
	assert_int_equal(pml_region_size(r), 8 * PMLVM_MiB + 3 * 4096);
	assert_int_equal(file_size_of(path), 8 * PMLVM_MiB + 3 * 4096);
	assert_all_mapped(r);
	assert_zero(base + 8 * PMLVM_MiB, 3 * 4096);
	assert_int_equal(pmlvm_pattern_check(base, 8 * PMLVM_MiB, SEED, 0),
		(size_t)-1);

	/* shrink, and grow back: the regrown part reads zeroes */
	PML_OK(pml_region_truncate(r, 4 * PMLVM_MiB, NULL));
	assert_int_equal(pml_region_size(r), 4 * PMLVM_MiB);
	assert_int_equal(file_size_of(path), 4 * PMLVM_MiB);
	assert_all_mapped(r);
	PML_OK(pml_region_truncate(r, 6 * PMLVM_MiB, NULL));
	assert_all_mapped(r);
	assert_int_equal(pmlvm_pattern_check(base, 4 * PMLVM_MiB, SEED, 0),
		(size_t)-1);
	assert_zero(base + 4 * PMLVM_MiB, 2 * PMLVM_MiB);

	PML_OK(pml_region_close(&r));
	unlink(path);
	free(path);
}

/* ------------------------------------------------------------ devdax */

static void test_truncate_devdax(void **state)
{
	struct pml_region *r = NULL;
	uint64_t size;

	(void)state;
	if (pmlvm.target != PMLVM_DEVDAX)
		PMLVM_SKIP("see test_truncate_fsdax");
	PML_OK(pml_region_open(&r, pmlvm.devdax, NULL));
	size = pml_region_size(r);
	assert_true(size > 4 * PMLVM_MiB);
	PML_ERR(pml_region_truncate(r, size - 2 * PMLVM_MiB, NULL),
		EOPNOTSUPP);
	PML_ERR(pml_region_truncate(r, size + 2 * PMLVM_MiB, NULL),
		EOPNOTSUPP);
	assert_int_equal(pml_region_size(r), size);
	assert_all_mapped(r);
	PML_OK(pml_region_close(&r));
}

/* ------------------------------------------------------------ punch */

static void test_punch_alignment(void **state)
{
	const struct pml_region_opts opts = { .flags = PML_REGION_CREATE };
	struct pml_region *r = NULL;
	struct pml_region_info info;
	char *path = NULL;
	uint64_t off, a;
	uint8_t *p;

	(void)state;
	if (pmlvm.target == PMLVM_DEVDAX) {
		PML_OK(pml_region_open(&r, pmlvm.devdax, NULL));
		off = pmlvm.slot_offset;	/* our slot: 8 MiB of it */
	} else {
		path = pmlvm_path("punch.dat");
		pmlvm_make_file(path, 8 * PMLVM_MiB);
		PML_OK(pml_region_open(&r, path, &opts));
		off = 0;
	}
	PML_OK(pml_region_info(&info, r));
	a = info.alignment;
	p = (uint8_t *)info.base + off;
	pmlvm_pattern(p, 8 * PMLVM_MiB, SEED, off);
	PML_OK(pml_region_persist(r, p, 8 * PMLVM_MiB));

	/* offset or length not a multiple of the alignment */
	PML_ERR(pml_region_punch(r, off + a / 2, a, NULL), EINVAL);
	PML_ERR(pml_region_punch(r, off + a, a + 512, NULL), EINVAL);
	PML_ERR(pml_region_punch(r, off + 512, 4096, NULL), EINVAL);
	if (pmlvm.target == PMLVM_DEVDAX) /* 4 KiB is not devdax's unit */
		PML_ERR(pml_region_punch(r, off + 4096, 4096, NULL), EINVAL);
	assert_int_equal(pmlvm_pattern_check(p, 8 * PMLVM_MiB, SEED, off),
		(size_t)-1);

	/* aligned: the range reads zeroes, its neighbours keep their data
	 * (on devdax by zeroing, on fsdax by a hole) */
	PML_OK(pml_region_punch(r, off + a, a, NULL));
	assert_all_mapped(r);
	assert_int_equal(pmlvm_pattern_check(p, a, SEED, off), (size_t)-1);
	assert_zero(p + a, a);
	assert_int_equal(pmlvm_pattern_check(p + 2 * a, 8 * PMLVM_MiB - 2 * a,
		SEED, off + 2 * a), (size_t)-1);

	PML_OK(pml_region_close(&r));
	if (path != NULL) {
		unlink(path);
		free(path);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_misaligned_file),
		cmocka_unit_test(test_truncate_fsdax),
		cmocka_unit_test(test_truncate_devdax),
		cmocka_unit_test(test_punch_alignment),
	};

	pmlvm_init(argc, argv);
	return pmlvm_run("region_align", tests, PMLVM_N(tests));
}
