/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_errors -- argument validation of every public function.
 *
 * Each bad call must return a negative errno, leave a message in
 * pml_errormsg(), and change nothing: the file (size, blocks, content), the
 * region (size, content, leases) and the out-parameters are as before.
 * Where the header names the errno it is checked exactly; elsewhere the
 * plausible ones are listed.
 */
#include "common.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPAGES 16

static uint64_t A;	/* the region's alignment */

struct fix {
	char path[4200];
	struct pml_region *r;
	uint64_t size;
	struct pmlt_snap snap;
};

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	A = pmlt_probe_alignment();
	f->size = NPAGES * A;
	pmlt_path(f->path, sizeof(f->path), "errors");
	pmlt_make_file(f->path, f->size, 7);
	f->r = pmlt_open(f->path, 4 * f->size, 0);
	pmlt_snap_take(&f->snap, f->path);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;
	if (f->r)
		pml_region_close(&f->r);
	pmlt_snap_free(&f->snap);
	unlink(f->path);
	free(f);
	return 0;
}

/* the file, the region's size and its mapped content are as at setup */
static void
unchanged(struct fix *f, const char *when)
{
	pmlt_snap_same(&f->snap, f->path, when);
	if (pml_region_size(f->r) != f->size)
		fail_msg("%s: region size %" PRIu64 ", was %" PRIu64, when,
				pml_region_size(f->r), f->size);
	int64_t bad = pmlt_check_pattern(pml_region_base(f->r), 0, f->size, 7);
	if (bad >= 0)
		fail_msg("%s: mapped byte %" PRId64 " changed", when, bad);
	uint64_t q = 1;
	PMLT_OK(pml_region_quarantined(&q, f->r));
	if (q)
		fail_msg("%s: %" PRIu64 " bytes quarantined", when, q);
}

/* no lease was left behind: close works (then reopen for the next check) */
static void
no_leases_left(struct fix *f, const char *when)
{
	int rc = pml_region_close(&f->r);
	if (rc)
		fail_msg("%s: close after the failures: %d (%s): %s -- a "
				"failed call left a lease behind?", when, rc,
				pmlt_errname(rc), pml_errormsg());
	f->r = pmlt_open(f->path, 4 * f->size, 0);
}

/* ------------------------------------------------------------ errormsg */

static void *
other_thread_fails(void *arg)
{
	(void)arg;
	int rc = pml_lease_put(NULL);
	if (rc != -EINVAL)
		pmlt_thread_fail("pml_lease_put(NULL) in thread: %d", rc);
	const char *m = pml_errormsg();
	if (!m || !*m)
		pmlt_thread_fail("no message in the failing thread");
	return NULL;
}

static void
test_errormsg(void **state)
{
	struct fix *f = *state;
	assert_non_null(pml_errormsg());

	PMLT_RC(-EINVAL, pml_region_punch(f->r, 1, A, NULL));
	const char *m = pml_errormsg();
	assert_non_null(m);
	if (!pmlt_msg_mentions(m, A))
		fail_msg("misaligned punch: message \"%s\" does not name the "
				"alignment %" PRIu64, m, A);
	char mine[1024];
	snprintf(mine, sizeof(mine), "%s", m);

	/* another thread's failure must not touch this thread's message */
	pthread_t t;
	pthread_create(&t, NULL, other_thread_fails, NULL);
	pthread_join(t, NULL);
	PMLT_CHECK_THREADS();
	assert_string_equal(pml_errormsg(), mine);
}

/* ---------------------------------------------------------------- open */

static void
expect_open_fails(const char *path, const struct pml_region_opts *o,
		const int *ok, size_t nok, const char *what)
{
	/* the header: "on failure it is left NULL", whatever it held */
	struct pml_region *r = (struct pml_region *)(uintptr_t)0x1;
	int rc = pml_region_open(&r, path, o);
	pmlt_check_fails(rc, ok, nok, what, __FILE__, __LINE__);
	if (r != NULL)
		fail_msg("%s: failed with %s but *region is %p, not NULL", what,
				pmlt_errname(rc), (void *)r);
	r = NULL;
	rc = pml_region_open(&r, path, o);
	if (rc >= 0 || r != NULL)
		fail_msg("%s: second try: rc %d, region %p", what, rc,
				(void *)r);
}

#define OPEN_FAILS(path, opts, ...) do { \
	const int ok_[] = { __VA_ARGS__ }; \
	expect_open_fails(path, opts, ok_, sizeof(ok_) / sizeof(ok_[0]), \
			#path); \
} while (0)

/* any errno is plausible for "this is not something to map" */
#define ANY_ERRNO -EINVAL, -ENODEV, -ENXIO, -ENOTSUP, -EISDIR, -ENOTTY, \
	-EACCES, -EPERM, -ENOENT, -ENAMETOOLONG, -EBADF, -EFAULT, -EIO, \
	-ENOMEM, -ENOSYS, -EOVERFLOW, -ESPIPE, -EOPNOTSUPP

static void
test_open_errors(void **state)
{
	struct fix *f = *state;
	struct pml_region *r = NULL;

	PMLT_RC(-EINVAL, pml_region_open(NULL, f->path, NULL));
	OPEN_FAILS(NULL, NULL, -EINVAL);

	char missing[4200];
	pmlt_path(missing, sizeof(missing), "missing");
	OPEN_FAILS(missing, NULL, -ENOENT);
	struct stat st;
	if (stat(missing, &st) == 0)
		fail_msg("a failed open without PML_REGION_CREATE created %s",
				missing);

	OPEN_FAILS("", NULL, -ENOENT, -EINVAL);

	char nodir[4300];
	snprintf(nodir, sizeof(nodir), "%s/no/such/dir/file", pmlt_dir());
	struct pml_region_opts create = { .flags = PML_REGION_CREATE };
	OPEN_FAILS(nodir, &create, -ENOENT);

	/* a directory, a character device that is not dax, a fifo */
	OPEN_FAILS(pmlt_dir(), NULL, ANY_ERRNO);
	OPEN_FAILS(pmlt_dir(), &create, ANY_ERRNO);
	OPEN_FAILS("/dev/null", NULL, ANY_ERRNO);
	char fifo[4200];
	pmlt_path(fifo, sizeof(fifo), "fifo");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	OPEN_FAILS(fifo, NULL, ANY_ERRNO);
	unlink(fifo);

	/* longer than pml_region_info.path can hold */
	char *longp = malloc(6000);
	memset(longp, 'x', 5999);
	longp[5999] = '\0';
	OPEN_FAILS(longp, NULL, ANY_ERRNO);
	OPEN_FAILS(longp, &create, ANY_ERRNO);
	free(longp);

	/*
	 * "A size that breaks the device's alignment is refused with -EINVAL
	 * rather than mapped into a later SIGBUS", and the message says
	 * the alignment; the file is left alone.
	 */
	char odd[4200];
	pmlt_path(odd, sizeof(odd), "odd");
	pmlt_make_file(odd, A + 904, 3);
	struct pmlt_snap s;
	pmlt_snap_take(&s, odd);
	OPEN_FAILS(odd, NULL, -EINVAL);
	if (!pmlt_msg_mentions(pml_errormsg(), A))
		fail_msg("unaligned file size: message \"%s\" does not name "
				"the alignment %" PRIu64, pml_errormsg(), A);
	OPEN_FAILS(odd, &create, -EINVAL);
	pmlt_snap_same(&s, odd, "after refusing an unaligned file");
	pmlt_snap_free(&s);
	unlink(odd);

	/*
	 * A max_size below the file's size: the header does not say; it
	 * either refuses (region NULL) or reserves at least the file.
	 */
	struct pml_region_opts small = { .max_size = A };
	int rc = pml_region_open(&r, f->path, &small);
	if (rc == 0) {
		struct pml_region_info info;
		PMLT_OK(pml_region_info(&info, r));
		if (info.max_size < f->size)
			fail_msg("max_size %" PRIu64 " below the file's size "
					"%" PRIu64 " was accepted as is",
					info.max_size, f->size);
		pmlt_close(&r);
	} else {
		assert_null(r);
	}
	unchanged(f, "after the failed opens");
}

/* --------------------------------------------------------------- close */

static void
test_close_errors(void **state)
{
	struct fix *f = *state;
	struct pml_region *none = NULL;
	PMLT_RC(-EINVAL, pml_region_close(NULL));
	PMLT_RC(-EINVAL, pml_region_close(&none));

	struct pml_lease *l1, *l2;
	PMLT_OK(pml_lease_acquire(&l1, f->r, 10, 100, PML_LEASE_PIN, NULL,
			NULL));
	PMLT_OK(pml_lease_acquire(&l2, f->r, 3 * A, A, PML_LEASE_REF, NULL,
			NULL));
	PMLT_OK(pml_lease_get(l1));

	struct pml_region *r = f->r;
	PMLT_RC(-EBUSY, pml_region_close(&f->r));
	if (f->r != r)
		fail_msg("close -EBUSY changed *region to %p", (void *)f->r);
	unchanged(f, "after close -EBUSY");

	/* untouched means still usable: leases, data, punch */
	assert_ptr_equal(pml_lease_addr(l1), (char *)pml_region_base(f->r) + 10);
	uint8_t *p = pml_lease_addr(l2);
	assert_int_equal(p[5], pmlt_pattern(7, 3 * A + 5));
	struct pml_lease *l3;
	PMLT_OK(pml_lease_acquire(&l3, f->r, 5 * A, 1, 0, NULL, NULL));
	PMLT_OK(pml_lease_put(l3));
	PMLT_OK(pml_region_punch(f->r, 8 * A, A, NULL));
	assert_int_equal(pmlt_find_nonzero((char *)pml_region_base(f->r) +
			8 * A, A), -1);

	/* every reference counts */
	PMLT_OK(pml_lease_put(l2));
	PMLT_OK(pml_lease_put(l1));
	PMLT_RC(-EBUSY, pml_region_close(&f->r));
	assert_ptr_equal(f->r, r);
	PMLT_OK(pml_lease_put(l1));
	PMLT_OK(pml_region_close(&f->r));
	assert_null(f->r);
}

/* ---------------------------------------------------- info and getters */

static void
test_info_errors(void **state)
{
	struct fix *f = *state;
	struct pml_region_info info;
	memset(&info, 0xab, sizeof(info));
	PMLT_RC(-EINVAL, pml_region_info(NULL, f->r));
	PMLT_RC(-EINVAL, pml_region_info(&info, NULL));
	assert_null(pml_region_base(NULL));
	assert_int_equal(pml_region_size(NULL), 0);

	assert_string_equal(pml_region_kind_name(PML_REGION_PLAIN), "plain");
	assert_string_equal(pml_region_kind_name(PML_REGION_FSDAX), "fsdax");
	assert_string_equal(pml_region_kind_name(PML_REGION_DEVDAX),
			"devdax");
	assert_string_equal(pml_region_kind_name(0), "unknown");
	assert_string_equal(pml_region_kind_name((enum pml_region_kind)77),
			"unknown");
	assert_string_equal(pml_region_kind_name((enum pml_region_kind)-1),
			"unknown");

	/* CXL topology: arguments, and a plain file that is on no CXL */
	struct pml_cxl_info cxl;
	PMLT_RC(-EINVAL, pml_region_cxl_info(NULL, f->r));
	PMLT_RC(-EINVAL, pml_region_cxl_info(&cxl, NULL));
	PMLT_RC(-ENODEV, pml_region_cxl_info(&cxl, f->r));
	assert_non_null(strstr(pml_errormsg(), "not on CXL"));
	PMLT_RC(-EINVAL, pml_device_cxl_info(NULL, f->path));
	PMLT_RC(-EINVAL, pml_device_cxl_info(&cxl, NULL));
	PMLT_RC(-ENODEV, pml_device_cxl_info(&cxl, f->path));
	PMLT_RC(-ENOENT, pml_device_cxl_info(&cxl, "/nonexistent/pmem"));

	uint64_t q = 77;
	PMLT_RC(-EINVAL, pml_region_quarantined(NULL, f->r));
	PMLT_RC(-EINVAL, pml_region_quarantined(&q, NULL));
}

/* -------------------------------------------------------------- leases */

static void
test_acquire_errors(void **state)
{
	struct fix *f = *state;
	struct pml_lease *l = NULL;
	uint64_t S = f->size;
	const uint64_t M = UINT64_MAX;

	PMLT_RC(-EINVAL, pml_lease_acquire(NULL, f->r, 0, 1, 0, NULL, NULL));
	PMLT_RC(-EINVAL, pml_lease_acquire(&l, NULL, 0, 1, 0, NULL, NULL));
	PMLT_RC(-EINVAL, pml_lease_acquire(&l, f->r, 0, 0, 0, NULL, NULL));
	PMLT_RC(-EINVAL, pml_lease_acquire(&l, f->r, 5, 0, PML_LEASE_REF,
			NULL, NULL));
	PMLT_RC(-EINVAL, pml_lease_acquire(&l, f->r, S, 0, PML_LEASE_NOWAIT,
			NULL, NULL));

	/* wrap-arounds: offset + length overflows to something small */
	struct { uint64_t off, len; } bad[] = {
		{ M, 1 }, { M, 2 }, { 1, M }, { M, M }, { M - 1, 3 },
		{ S, M - S + 1 }, { 8, M - 7 }, { M - A + 1, A },
		/* simply past the end */
		{ S, 1 }, { S - 1, 2 }, { 0, S + 1 }, { S + A, A },
		{ M - 10, 5 }, { 1ULL << 63, 1 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (unsigned fl = 0; fl < 4; fl++) {
			int rc = pml_lease_acquire(&l, f->r, bad[i].off,
					bad[i].len, fl, NULL, NULL);
			char what[160];
			snprintf(what, sizeof(what), "acquire [%#" PRIx64
					", +%#" PRIx64 ") flags %u", bad[i].off,
					bad[i].len, fl);
			const int ok[] = { -EINVAL, -ERANGE, -EOVERFLOW };
			pmlt_check_fails(rc, ok, 3, what, __FILE__, __LINE__);
		}
	}
	unchanged(f, "after the failed acquires");
	no_leases_left(f, "acquire");
}

static void
test_lease_accessor_errors(void **state)
{
	(void)state;
	assert_null(pml_lease_addr(NULL));
	int rv = pml_lease_revoked(NULL);
	if (rv >= 0)
		fail_msg("pml_lease_revoked(NULL) = %d, expected < 0", rv);
	PMLT_RC(-EINVAL, pml_lease_get(NULL));
	PMLT_RC(-EINVAL, pml_lease_put(NULL));
}

static void
test_double_put(void **state)
{
	struct fix *f = *state;
	struct pml_lease *l1, *l2;
	/* both before any put: l2 must not reuse l1's memory */
	PMLT_OK(pml_lease_acquire(&l1, f->r, A, 2 * A, PML_LEASE_PIN, NULL,
			NULL));
	PMLT_OK(pml_lease_acquire(&l2, f->r, A, 2 * A, PML_LEASE_PIN, NULL,
			NULL));
	PMLT_OK(pml_lease_get(l1));
	PMLT_OK(pml_lease_put(l1));
	PMLT_OK(pml_lease_put(l1));
	PMLT_RC(-EINVAL, pml_lease_put(l1));
	PMLT_FAILS(pml_lease_put(l1), -EINVAL);

	/* the extra puts must not have eaten l2's reference */
	assert_int_equal(pml_lease_revoked(l2), 0);
	PMLT_RC(-EBUSY, pml_region_close(&f->r));
	assert_non_null(f->r);
	PMLT_OK(pml_lease_put(l2));
	PMLT_RC(-EINVAL, pml_lease_put(l2));

	/* and a punch over the range has no phantom lease to wait for */
	PMLT_OK(pml_region_punch(f->r, A, 2 * A, NULL));
	PMLT_OK(pml_region_close(&f->r));
}

/* ------------------------------------------------------ punch/truncate */

static void
test_punch_errors(void **state)
{
	struct fix *f = *state;
	uint64_t S = f->size;
	const uint64_t M = UINT64_MAX;
	const uint64_t MA = M & ~(A - 1);	/* largest aligned value */

	PMLT_RC(-EINVAL, pml_region_punch(NULL, 0, A, NULL));
	PMLT_RC(-EINVAL, pml_region_punch(f->r, 0, 0, NULL));
	PMLT_RC(-EINVAL, pml_region_punch(f->r, S, 0, NULL));

	/* misaligned: -EINVAL, and the message names the alignment */
	struct { uint64_t off, len; } mis[] = {
		{ 1, A }, { 0, A + 1 }, { 0, A - 1 }, { A / 2, A / 2 },
		{ 0, 1 }, { A + 512, A }, { S - 1, 1 },
	};
	for (size_t i = 0; i < sizeof(mis) / sizeof(mis[0]); i++) {
		PMLT_RC(-EINVAL, pml_region_punch(f->r, mis[i].off, mis[i].len,
				NULL));
		if (!pmlt_msg_mentions(pml_errormsg(), A))
			fail_msg("punch [%" PRIu64 ", +%" PRIu64 "): message "
					"\"%s\" does not name the alignment %"
					PRIu64, mis[i].off, mis[i].len,
					pml_errormsg(), A);
	}

	/* aligned, but wrapping around or past the end */
	struct { uint64_t off, len; } bad[] = {
		{ A, MA }, { MA, A }, { MA, MA }, { S, A }, { S - A, 2 * A },
		{ 0, S + A }, { S + A, A }, { 1ULL << 63, A },
	};
	struct pml_barrier_opts revoke = { .timeout_ms = 1,
		.on_timeout = PML_ON_TIMEOUT_REVOKE };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		PMLT_FAILS(pml_region_punch(f->r, bad[i].off, bad[i].len,
				NULL), -EINVAL, -ERANGE, -EOVERFLOW);
		PMLT_FAILS(pml_region_punch(f->r, bad[i].off, bad[i].len,
				&revoke), -EINVAL, -ERANGE, -EOVERFLOW);
	}
	unchanged(f, "after the failed punches");

	/* a lease over the tail is neither broken nor revoked by them */
	struct pmlt_holder h;
	pmlt_holder_init(&h, 1);
	PMLT_OK(pmlt_hold(&h, f->r, S - A, A, PML_LEASE_PIN));
	PMLT_FAILS(pml_region_punch(f->r, S - A, 2 * A, &revoke), -EINVAL,
			-ERANGE, -EOVERFLOW);
	PMLT_RC(-EINVAL, pml_region_punch(f->r, S - A, A / 2, &revoke));
	assert_int_equal(atomic_load(&h.n_layout), 0);
	assert_int_equal(atomic_load(&h.n_revoked), 0);
	assert_int_equal(pml_lease_revoked(h.lease), 0);
	PMLT_OK(pml_lease_put(h.lease));
	unchanged(f, "after the failed punches over a lease");
	no_leases_left(f, "punch");
}

static void
test_truncate_errors(void **state)
{
	struct fix *f = *state;
	uint64_t S = f->size;
	struct pml_region_info info;
	PMLT_OK(pml_region_info(&info, f->r));
	uint64_t max = info.max_size;
	assert_int_equal(max, 4 * S);

	PMLT_RC(-EINVAL, pml_region_truncate(NULL, S, NULL));

	uint64_t mis[] = { S + 1, S - 1, A / 2, 1, S + A / 2, max - 1 };
	for (size_t i = 0; i < sizeof(mis) / sizeof(mis[0]); i++) {
		PMLT_RC(-EINVAL, pml_region_truncate(f->r, mis[i], NULL));
		if (!pmlt_msg_mentions(pml_errormsg(), A))
			fail_msg("truncate to %" PRIu64 ": message \"%s\" does "
					"not name the alignment %" PRIu64,
					mis[i], pml_errormsg(), A);
	}

	uint64_t big[] = { max + A, 2 * max, UINT64_MAX & ~(A - 1),
		1ULL << 62 };
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++)
		PMLT_RC(-EFBIG, pml_region_truncate(f->r, big[i], NULL));
	/* both wrong: either complaint is right */
	PMLT_FAILS(pml_region_truncate(f->r, UINT64_MAX, NULL), -EINVAL,
			-EFBIG);
	unchanged(f, "after the failed truncates");

	/* the same size is no change at all */
	PMLT_OK(pml_region_truncate(f->r, S, NULL));
	unchanged(f, "after truncating to the same size");

	/* exactly max_size is allowed */
	PMLT_OK(pml_region_truncate(f->r, max, NULL));
	assert_int_equal(pml_region_size(f->r), max);
	assert_int_equal(pmlt_file_size(f->path), max);
	PMLT_RC(-EFBIG, pml_region_truncate(f->r, max + A, NULL));
	assert_int_equal(pml_region_size(f->r), max);
	PMLT_OK(pml_region_truncate(f->r, S, NULL));
	unchanged(f, "after growing to max_size and back");
	no_leases_left(f, "truncate");
}

/* --------------------------------------------------------- persistence */

static void
test_persist_errors(void **state)
{
	struct fix *f = *state;
	uint64_t S = f->size;
	char *base = pml_region_base(f->r);
	char src[64];
	memset(src, 0xee, sizeof(src));

	PMLT_RC(-EINVAL, pml_region_persist(NULL, base, 1));
	PMLT_RC(-EINVAL, pml_region_flush(NULL, base, 1));
	PMLT_RC(-EINVAL, pml_region_drain(NULL));
	PMLT_RC(-EINVAL, pml_region_memcpy(NULL, base, src, 1, 0));
	PMLT_RC(-EINVAL, pml_region_memset(NULL, base, 0, 1, 0));
	assert_null(pml_region_persist_fn(NULL));
	assert_null(pml_region_flush_fn(NULL));
	assert_null(pml_region_drain_fn(NULL));
	assert_null(pml_region_memcpy_fn(NULL));
	assert_null(pml_region_memset_fn(NULL));

#define RANGE_ERRNOS -EINVAL, -ERANGE, -EFAULT, -EOVERFLOW
	PMLT_FAILS(pml_region_persist(f->r, NULL, 1), RANGE_ERRNOS);
	PMLT_FAILS(pml_region_flush(f->r, NULL, 1), RANGE_ERRNOS);
	PMLT_FAILS(pml_region_memcpy(f->r, NULL, src, 1, 0), RANGE_ERRNOS);
	PMLT_FAILS(pml_region_memcpy(f->r, base, NULL, 1, 0), RANGE_ERRNOS);
	PMLT_FAILS(pml_region_memset(f->r, NULL, 0, 1, 0), RANGE_ERRNOS);

	/* ranges starting before, ending after, or wrapping around */
	struct { char *p; size_t len; } bad[] = {
		{ base - 1, 2 }, { base - A, A }, { base + S, 1 },
		{ base + S - 1, 2 }, { base, S + 1 }, { base + 1, SIZE_MAX },
		{ base + S / 2, SIZE_MAX - 10 }, { base + 4 * S, 1 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		PMLT_FAILS(pml_region_persist(f->r, bad[i].p, bad[i].len),
				RANGE_ERRNOS);
		PMLT_FAILS(pml_region_flush(f->r, bad[i].p, bad[i].len),
				RANGE_ERRNOS);
	}
	/* writes that would cross the end copy nothing at all */
	PMLT_FAILS(pml_region_memcpy(f->r, base + S - 10, src, 20, 0),
			RANGE_ERRNOS);
	PMLT_FAILS(pml_region_memset(f->r, base + S - 10, 0, 20, 0),
			RANGE_ERRNOS);
	PMLT_FAILS(pml_region_memcpy(f->r, base + S - 10, src, SIZE_MAX, 0),
			RANGE_ERRNOS);
	PMLT_FAILS(pml_region_memset(f->r, base - 10, 0, 20, 0),
			RANGE_ERRNOS);
	/* the part inside max_size but past size is not the region either */
	PMLT_FAILS(pml_region_memset(f->r, base + S, 0, A, 0), RANGE_ERRNOS);
	unchanged(f, "after the failed persistence calls");

	/* the edges themselves are fine */
	PMLT_OK(pml_region_persist(f->r, base, 1));
	PMLT_OK(pml_region_persist(f->r, base + S - 1, 1));
	PMLT_OK(pml_region_persist(f->r, base, S));
	PMLT_OK(pml_region_flush(f->r, base + S - 1, 1));
	PMLT_OK(pml_region_drain(f->r));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_errormsg, setup,
				teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup,
				teardown),
		cmocka_unit_test_setup_teardown(test_close_errors, setup,
				teardown),
		cmocka_unit_test_setup_teardown(test_info_errors, setup,
				teardown),
		cmocka_unit_test_setup_teardown(test_acquire_errors, setup,
				teardown),
		cmocka_unit_test_setup_teardown(test_lease_accessor_errors,
				setup, teardown),
		cmocka_unit_test_setup_teardown(test_double_put, setup,
				teardown),
		cmocka_unit_test_setup_teardown(test_punch_errors, setup,
				teardown),
		cmocka_unit_test_setup_teardown(test_truncate_errors, setup,
				teardown),
		cmocka_unit_test_setup_teardown(test_persist_errors, setup,
				teardown),
	};
	return PMLT_RUN("test_errors", tests);
}
