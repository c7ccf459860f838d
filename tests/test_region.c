/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_region -- opening regions, what they report, growth and shrinking,
 * and the persistence helpers.
 *
 * The answers are checked against the file system and against libpmem2
 * itself, never against numbers the test assumes.
 */
#include "common.h"

#include <fcntl.h>
#include <inttypes.h>
#include <libpmem2.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define GIB (1ULL << 30)

/* the alignment of a plain file here, as the library reports it */
#define A (pmlt_probe_alignment())

static bool
file_is_dax(const char *path)
{
	struct statx stx;
	if (statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, &stx))
		return false;
#ifdef STATX_ATTR_DAX
	return (stx.stx_attributes_mask & STATX_ATTR_DAX) &&
		(stx.stx_attributes & STATX_ATTR_DAX);
#else
	return false;
#endif
}

/* libpmem2's view of the file: alignment and size */
static void
pmem2_view(const char *path, size_t *align, size_t *size)
{
	int fd = open(path, O_RDWR);
	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	struct pmem2_source *src;
	if (pmem2_source_from_fd(&src, fd))
		fail_msg("pmem2_source_from_fd: %s", pmem2_errormsg());
	if (pmem2_source_alignment(src, align))
		fail_msg("pmem2_source_alignment: %s", pmem2_errormsg());
	if (pmem2_source_size(src, size))
		fail_msg("pmem2_source_size: %s", pmem2_errormsg());
	pmem2_source_delete(&src);
	close(fd);
}

static void
check_info(struct pml_region *r, const char *path, uint64_t size,
		uint64_t max_size)
{
	struct pml_region_info info;
	memset(&info, 0xa5, sizeof(info));
	PMLT_OK(pml_region_info(&info, r));

	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	bool dax = file_is_dax(path);
	if (dax) {
		printf("NOTE: %s is on a DAX mount: expecting fsdax\n", path);
		assert_int_equal(info.kind, PML_REGION_FSDAX);
		assert_int_not_equal(info.granularity, PML_GRANULARITY_PAGE);
	} else {
		assert_int_equal(info.kind, PML_REGION_PLAIN);
		assert_int_equal(info.granularity, PML_GRANULARITY_PAGE);
	}
	size_t palign, psize;
	pmem2_view(path, &palign, &psize);
	if (info.alignment != palign)
		fail_msg("alignment %" PRIu64 ", libpmem2 says %zu",
				info.alignment, palign);
	assert_int_equal(info.size, size);
	assert_int_equal(info.size, pml_region_size(r));
	assert_int_equal(psize, size);
	assert_int_equal(info.max_size, max_size);
	assert_int_equal(info.max_size % info.alignment, 0);
	assert_non_null(info.base);
	assert_ptr_equal(info.base, pml_region_base(r));
	assert_int_equal((uintptr_t)info.base % info.alignment, 0);
	assert_int_equal(info.dev, st.st_dev);
	assert_int_equal(info.ino, st.st_ino);
	assert_string_equal(info.path, path);
	/* a plain file is on no CXL memory */
	assert_string_equal(info.cxl_region, "");
	for (size_t i = 0; i < sizeof(info.reserved) / sizeof(info.reserved[0]); i++)
		if (info.reserved[i])
			fail_msg("info.reserved[%zu] = %#" PRIx64 ", not zero", i,
					info.reserved[i]);
	assert_string_equal(pml_region_kind_name(info.kind),
			info.kind == PML_REGION_PLAIN ? "plain" : "fsdax");
}

static uint64_t
roundup(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

/* ------------------------------------------------------------- opening */

static void
test_open_plain(void **state)
{
	(void)state;
	char p[4200];
	pmlt_path(p, sizeof(p), "plain");
	pmlt_make_file(p, 8 * A, 11);
	struct pml_region *r = pmlt_open(p, 0, 0);
	/* default: the larger of the current size and 16 GiB */
	check_info(r, p, 8 * A, roundup(16 * GIB, A));
	int64_t bad = pmlt_check_pattern(pml_region_base(r), 0, 8 * A, 11);
	assert_int_equal(bad, -1);
	pmlt_close(&r);
	/* closing leaves the file alone */
	assert_int_equal(pmlt_file_size(p), 8 * A);
	uint8_t *buf = malloc(8 * A);
	pmlt_read_file(p, 0, buf, 8 * A);
	assert_int_equal(pmlt_check_pattern(buf, 0, 8 * A, 11), -1);
	free(buf);

	/* the same file twice at once: two regions, two mappings */
	struct pml_region *r1 = pmlt_open(p, 0, 0);
	struct pml_region *r2 = pmlt_open(p, 0, 0);
	assert_ptr_not_equal(pml_region_base(r1), pml_region_base(r2));
	pmlt_close(&r1);
	pmlt_close(&r2);
	unlink(p);
}

/* on its own, so a wrong name does not hide the other checks */
static void
test_plain_device_name(void **state)
{
	(void)state;
	char p[4200];
	pmlt_path(p, sizeof(p), "devname");
	pmlt_make_sparse(p, A);
	if (file_is_dax(p))
		skip();
	struct pml_region *r = pmlt_open(p, 0, 0);
	struct pml_region_info info;
	PMLT_OK(pml_region_info(&info, r));
	pmlt_close(&r);
	unlink(p);
	if (strcmp(info.device, ""))
		fail_msg("a plain file reports device \"%s\"; the header "
				"says \"\" when not pmem", info.device);
}

static void
test_open_create(void **state)
{
	(void)state;
	char p[4200];
	pmlt_path(p, sizeof(p), "created");
	struct pml_region *r = pmlt_open(p, 0, PML_REGION_CREATE);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	mode_t um = umask(0);
	umask(um);
	assert_int_equal(st.st_mode & 0777, 0600 & ~um);
	check_info(r, p, 0, roundup(16 * GIB, A));
	pmlt_close(&r);

	/* CREATE on an existing file opens it as it is */
	pmlt_make_file(p, 3 * A, 12);
	r = pmlt_open(p, 0, PML_REGION_CREATE);
	assert_int_equal(pml_region_size(r), 3 * A);
	assert_int_equal(pmlt_check_pattern(pml_region_base(r), 0, 3 * A, 12),
			-1);
	pmlt_close(&r);
	assert_int_equal(pmlt_file_size(p), 3 * A);
	unlink(p);
}

static void
test_empty_then_grow(void **state)
{
	(void)state;
	char p[4200];
	pmlt_path(p, sizeof(p), "empty");
	pmlt_make_sparse(p, 0);
	struct pml_region *r = pmlt_open(p, 64 * A, 0);
	assert_int_equal(pml_region_size(r), 0);
	char *base = pml_region_base(r);
	assert_non_null(base);
	struct pml_lease *l;
	PMLT_FAILS(pml_lease_acquire(&l, r, 0, 1, 0, NULL, NULL), -EINVAL,
			-ERANGE);

	PMLT_OK(pml_region_truncate(r, 4 * A, NULL));
	assert_ptr_equal(pml_region_base(r), base);
	assert_int_equal(pml_region_size(r), 4 * A);
	assert_int_equal(pmlt_file_size(p), 4 * A);
	assert_int_equal(pmlt_find_nonzero(base, 4 * A), -1);
	PMLT_OK(pml_lease_acquire(&l, r, 4 * A - 1, 1, 0, NULL, NULL));
	((char *)pml_lease_addr(l))[0] = 0x42;
	PMLT_OK(pml_region_persist(r, pml_lease_addr(l), 1));
	PMLT_OK(pml_lease_put(l));
	uint8_t b = 0;
	pmlt_read_file(p, 4 * A - 1, &b, 1);
	assert_int_equal(b, 0x42);
	check_info(r, p, 4 * A, 64 * A);

	/* and back to nothing */
	PMLT_OK(pml_region_truncate(r, 0, NULL));
	assert_int_equal(pml_region_size(r), 0);
	assert_int_equal(pmlt_file_size(p), 0);
	PMLT_FAILS(pml_lease_acquire(&l, r, 0, 1, 0, NULL, NULL), -EINVAL,
			-ERANGE);
	pmlt_close(&r);
	unlink(p);
}

static void
test_max_size(void **state)
{
	(void)state;
	char p[4200];
	pmlt_path(p, sizeof(p), "max");
	pmlt_make_sparse(p, 2 * A);

	/* explicit: rounded up to the alignment */
	struct pml_region *r = pmlt_open(p, 10 * A + 1, 0);
	check_info(r, p, 2 * A, 11 * A);
	PMLT_OK(pml_region_truncate(r, 11 * A, NULL));
	PMLT_RC(-EFBIG, pml_region_truncate(r, 12 * A, NULL));
	assert_int_equal(pml_region_size(r), 11 * A);
	PMLT_OK(pml_region_truncate(r, 2 * A, NULL));
	pmlt_close(&r);

	r = pmlt_open(p, 5 * A, 0);
	check_info(r, p, 2 * A, 5 * A);
	pmlt_close(&r);

	/* default for a file larger than 16 GiB: its own size (sparse) */
	uint64_t big = 16 * GIB + 4 * A;
	pmlt_make_sparse(p, big);
	r = pmlt_open(p, 0, 0);
	check_info(r, p, big, big);
	/* the last byte is really mapped */
	volatile char *last = (char *)pml_region_base(r) + big - 1;
	assert_int_equal(*last, 0);
	PMLT_RC(-EFBIG, pml_region_truncate(r, big + A, NULL));
	pmlt_close(&r);
	unlink(p);
}

/* -------------------------------------------------- growth, shrinking */

static void
test_base_stable_across_growth(void **state)
{
	(void)state;
	char p[4200];
	pmlt_path(p, sizeof(p), "grow");
	pmlt_make_file(p, 2 * A, 21);
	struct pml_region *r = pmlt_open(p, 1024 * A, 0);
	char *base = pml_region_base(r);

	/* a lease taken before growth keeps pointing at the same bytes */
	struct pml_lease *l;
	PMLT_OK(pml_lease_acquire(&l, r, 100, A, PML_LEASE_PIN, NULL, NULL));
	char *lp = pml_lease_addr(l);

	uint64_t size = 2 * A;
	for (uint64_t n = 3; n <= 1024; n = n * 2 + 1) {
		uint64_t ns = (n > 1024 ? 1024 : n) * A;
		PMLT_OK(pml_region_truncate(r, ns, NULL));
		assert_ptr_equal(pml_region_base(r), base);
		assert_ptr_equal(pml_lease_addr(l), lp);
		assert_int_equal(pml_region_size(r), ns);
		assert_int_equal(pmlt_file_size(p), ns);
		/* old data intact, the new part zero, everything writable */
		assert_int_equal(pmlt_check_pattern(base, 0, 2 * A, 21), -1);
		int64_t nz = pmlt_find_nonzero(base + size, ns - size);
		if (nz >= 0)
			fail_msg("grown part not zero at %" PRIu64,
					size + (uint64_t)nz);
		memset(base + ns - A, 0x77, A);
		PMLT_OK(pml_region_persist(r, base + ns - A, A));
		size = ns;
	}
	/* what was written through the mapping is in the file */
	uint8_t *buf = malloc(A);
	pmlt_read_file(p, size - A, buf, A);
	for (uint64_t i = 0; i < A; i++)
		assert_int_equal(buf[i], 0x77);
	pmlt_read_file(p, 0, buf, A);
	assert_int_equal(pmlt_check_pattern(buf, 0, A, 21), -1);
	free(buf);
	PMLT_OK(pml_lease_put(l));
	pmlt_close(&r);
	unlink(p);
}

static void
test_shrink_then_grow(void **state)
{
	(void)state;
	char p[4200];
	pmlt_path(p, sizeof(p), "shrink");
	pmlt_make_file(p, 16 * A, 31);
	struct pml_region *r = pmlt_open(p, 32 * A, 0);
	char *base = pml_region_base(r);

	PMLT_OK(pml_region_truncate(r, 5 * A, NULL));
	assert_int_equal(pml_region_size(r), 5 * A);
	assert_int_equal(pmlt_file_size(p), 5 * A);
	assert_int_equal(pmlt_check_pattern(base, 0, 5 * A, 31), -1);
	struct pml_lease *l;
	PMLT_FAILS(pml_lease_acquire(&l, r, 5 * A, 1, 0, NULL, NULL),
			-EINVAL, -ERANGE);
	PMLT_FAILS(pml_region_persist(r, base + 5 * A, 1), -EINVAL, -ERANGE,
			-EFAULT);

	PMLT_OK(pml_region_truncate(r, 20 * A, NULL));
	assert_ptr_equal(pml_region_base(r), base);
	assert_int_equal(pmlt_check_pattern(base, 0, 5 * A, 31), -1);
	int64_t nz = pmlt_find_nonzero(base + 5 * A, 15 * A);
	if (nz >= 0)
		fail_msg("regrown part reads old data at %" PRIu64,
				5 * A + (uint64_t)nz);
	uint8_t *buf = malloc(20 * A);
	pmlt_read_file(p, 0, buf, 20 * A);
	assert_int_equal(pmlt_check_pattern(buf, 0, 5 * A, 31), -1);
	assert_int_equal(pmlt_find_nonzero(buf + 5 * A, 15 * A), -1);
	free(buf);
	/* the shrink handed the blocks back */
	assert_int_equal(pmlt_fiemap_bytes(p, 5 * A, 15 * A), 0);
	pmlt_close(&r);
	unlink(p);
}

/* --------------------------------------------------------- persistence */

static void
test_persistence_helpers(void **state)
{
	(void)state;
	char p[4200];
	pmlt_path(p, sizeof(p), "persist");
	pmlt_make_file(p, 8 * A, 41);
	struct pml_region *r = pmlt_open(p, 16 * A, 0);
	char *base = pml_region_base(r);
	uint8_t *src = malloc(3 * A);
	uint8_t *buf = malloc(8 * A);
	pmlt_fill_pattern(src, 0, 3 * A, 42);

	PMLT_OK(pml_region_memcpy(r, base + A + 3, src, 2 * A, 0));
	PMLT_OK(pml_region_memset(r, base + 4 * A, 0x5c, 100, 0));
	PMLT_OK(pml_region_memcpy(r, base + 5 * A, src, A,
			PML_F_MEM_NODRAIN | PML_F_MEM_NONTEMPORAL));
	PMLT_OK(pml_region_memset(r, base + 6 * A, 0x3d, A,
			PML_F_MEM_NOFLUSH));
	PMLT_OK(pml_region_flush(r, base + 6 * A, A));
	PMLT_OK(pml_region_drain(r));
	PMLT_OK(pml_region_persist(r, base, 8 * A));

	pmlt_read_file(p, 0, buf, 8 * A);
	assert_memory_equal(buf + A + 3, src, 2 * A);
	assert_int_equal(pmlt_check_pattern(buf, 0, A + 3, 41), -1);
	for (int i = 0; i < 100; i++)
		assert_int_equal(buf[4 * A + i], 0x5c);
	assert_int_equal(buf[4 * A + 100], pmlt_pattern(41, 4 * A + 100));
	assert_memory_equal(buf + 5 * A, src, A);
	for (uint64_t i = 0; i < A; i++)
		assert_int_equal(buf[6 * A + i], 0x3d);

	/* the functions themselves, for hot loops */
	pml_persist_fn persist = pml_region_persist_fn(r);
	pml_flush_fn flush = pml_region_flush_fn(r);
	pml_drain_fn drain = pml_region_drain_fn(r);
	pml_memcpy_fn mcpy = pml_region_memcpy_fn(r);
	pml_memset_fn mset = pml_region_memset_fn(r);
	assert_non_null(persist);
	assert_non_null(flush);
	assert_non_null(drain);
	assert_non_null(mcpy);
	assert_non_null(mset);
	assert_ptr_equal(mcpy(base + 7 * A, src, 64, 0), base + 7 * A);
	assert_ptr_equal(mset(base + 7 * A + 64, 0x11, 64, 0),
			base + 7 * A + 64);
	base[7 * A + 200] = 0x22;
	flush(base + 7 * A + 200, 1);
	drain();
	persist(base + 7 * A, A);
	pmlt_read_file(p, 7 * A, buf, A);
	assert_memory_equal(buf, src, 64);
	for (int i = 64; i < 128; i++)
		assert_int_equal(buf[i], 0x11);
	assert_int_equal(buf[200], 0x22);

	/* the range check follows the size: after growth the new part is in */
	PMLT_FAILS(pml_region_persist(r, base + 8 * A, A), -EINVAL, -ERANGE,
			-EFAULT);
	PMLT_OK(pml_region_truncate(r, 12 * A, NULL));
	PMLT_OK(pml_region_memset(r, base + 11 * A, 0x66, A, 0));
	PMLT_OK(pml_region_persist(r, base + 8 * A, 4 * A));
	pmlt_read_file(p, 11 * A, buf, A);
	for (uint64_t i = 0; i < A; i++)
		assert_int_equal(buf[i], 0x66);
	/* the getters hand out the same functions after growth */
	assert_ptr_equal(pml_region_persist_fn(r), persist);
	assert_ptr_equal(pml_region_memcpy_fn(r), mcpy);
	free(src);
	free(buf);
	pmlt_close(&r);
	unlink(p);
}

/* ------------------------------------------------- kinds we can't make */

static void
test_fsdax(void **state)
{
	(void)state;
	const char *dir = getenv("PML_TEST_FSDAX_DIR");
	if (!dir || !*dir) {
		printf("\n*** SKIPPED: fsdax region tests need a directory on a "
				"-o dax mount in PML_TEST_FSDAX_DIR; none on "
				"this machine ***\n\n");
		skip();
	}
	char p[4200];
	snprintf(p, sizeof(p), "%s/pmlt-fsdax.%d", dir, (int)getpid());
	struct pml_region *r = pmlt_open(p, 0, PML_REGION_CREATE);
	PMLT_OK(pml_region_truncate(r, 2 * pmlt_alignment(r), NULL));
	struct pml_region_info info;
	PMLT_OK(pml_region_info(&info, r));
	assert_int_equal(info.kind, PML_REGION_FSDAX);
	assert_int_not_equal(info.granularity, PML_GRANULARITY_PAGE);
	size_t palign, psize;
	pmem2_view(p, &palign, &psize);
	assert_int_equal(info.alignment, palign);
	pmlt_close(&r);
	unlink(p);
}

static void
test_devdax(void **state)
{
	(void)state;
	const char *dev = getenv("PML_TEST_DEVDAX");
	if (!dev || !*dev) {
		printf("\n*** SKIPPED: devdax region tests need a device-dax "
				"device in PML_TEST_DEVDAX (its content is "
				"destroyed); none on this machine ***\n\n");
		skip();
	}
	struct pml_region *r = pmlt_open(dev, 0, 0);
	struct pml_region_info info;
	PMLT_OK(pml_region_info(&info, r));
	assert_int_equal(info.kind, PML_REGION_DEVDAX);
	assert_int_equal(info.max_size, info.size);
	assert_string_not_equal(info.device, "");
	struct stat st;
	assert_int_equal(stat(dev, &st), 0);
	assert_int_equal(info.dev, st.st_rdev);
	size_t palign, psize;
	pmem2_view(dev, &palign, &psize);
	assert_int_equal(info.alignment, palign);
	assert_int_equal(info.size, psize);
	PMLT_RC(-EOPNOTSUPP, pml_region_truncate(r, info.size, NULL));
	pmlt_close(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_plain),
		cmocka_unit_test(test_plain_device_name),
		cmocka_unit_test(test_open_create),
		cmocka_unit_test(test_empty_then_grow),
		cmocka_unit_test(test_max_size),
		cmocka_unit_test(test_base_stable_across_growth),
		cmocka_unit_test(test_shrink_then_grow),
		cmocka_unit_test(test_persistence_helpers),
		cmocka_unit_test(test_fsdax),
		cmocka_unit_test(test_devdax),
	};
	return PMLT_RUN("test_region", tests);
}
