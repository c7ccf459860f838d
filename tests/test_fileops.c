/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_fileops -- pml_region_ftruncate and pml_region_fallocate: what
 * ftruncate(2) and fallocate(2) do, through the barrier, at any offset.
 * In one process; test_mp_intercept runs them under real programs.
 *   - bad arguments: errors, nothing changed;
 *   - a PIN over the range is asked to let go and the call waits for its
 *     put; a PIN elsewhere is left alone (byte ranges, not units);
 *   - PML_ON_TIMEOUT_REVOKE where no block can be kept aside (collapse,
 *     a size inside a unit) gives up as FAIL does, nothing changed;
 *   - a quarantine in the way of a collapse refuses it with -EBUSY;
 *   - PML_REGION_PARTIAL_TAIL: a file that ends inside a unit maps its
 *     whole units; without it, -EINVAL as before;
 *   - a file grown by write(2) behind the library's back keeps its data
 *     through a punch (the layout owner adopts the growth).
 */
#include "common.h"

#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NPAGES 16
#define SEED 21

static uint64_t A;

struct fix {
	char path[4200];
	struct pml_region *r;
};

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	A = pmlt_probe_alignment();
	pmlt_path(f->path, sizeof(f->path), "fileops");
	pmlt_make_file(f->path, NPAGES * A, SEED);
	f->r = pmlt_open(f->path, 4 * NPAGES * A, 0);
	pmlt_thread_fail_reset();
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	if (f->r && pml_region_close(&f->r))
		fprintf(stderr, "teardown: close: %s\n", pml_errormsg());
	unlink(f->path);
	free(f);
	return 0;
}

static const struct pml_barrier_opts fail_50 = { 50, PML_ON_TIMEOUT_FAIL };
static const struct pml_barrier_opts revoke_50 = { 50, PML_ON_TIMEOUT_REVOKE };

static void
test_bad_arguments(void **state)
{
	struct fix *f = *state;
	struct pmlt_snap s;
	const struct pml_barrier_opts bad = { 0, (enum pml_on_timeout)7 };

	pmlt_snap_take(&s, f->path);
	PMLT_FAILS(pml_region_ftruncate(NULL, A, NULL), -EINVAL);
	PMLT_FAILS(pml_region_fallocate(NULL, 0, 0, A, NULL), -EINVAL);
	PMLT_FAILS(pml_region_fallocate(f->r, FALLOC_FL_PUNCH_HOLE |
			FALLOC_FL_KEEP_SIZE, 0, 0, NULL), -EINVAL);
	PMLT_FAILS(pml_region_fallocate(f->r, FALLOC_FL_PUNCH_HOLE |
			FALLOC_FL_KEEP_SIZE, UINT64_MAX - 5, 10, NULL), -EFBIG);
	PMLT_FAILS(pml_region_fallocate(f->r, FALLOC_FL_PUNCH_HOLE, 0, A,
			NULL), -EOPNOTSUPP);
	PMLT_FAILS(pml_region_ftruncate(f->r, UINT64_MAX, NULL), -EFBIG);
	PMLT_FAILS(pml_region_ftruncate(f->r, A + 1, &bad), -EINVAL);
	/* the kernel's own refusal, as it is: collapse inside a block */
	PMLT_FAILS(pml_region_fallocate(f->r, FALLOC_FL_COLLAPSE_RANGE, 1, A,
			NULL), -EINVAL);
	assert_int_equal(pml_region_size(f->r), NPAGES * A);
	pmlt_snap_same(&s, f->path, "after refused calls");
	pmlt_snap_free(&s);

	struct pml_region *gone = f->r;

	PMLT_OK(pml_region_close(&f->r));
	PMLT_FAILS(pml_region_ftruncate(gone, A, NULL), -EINVAL, -EBADF);
}

/* a punch of bytes waits for the PIN over them, not for one beside them */
static void
test_byte_punch_waits_for_overlap_only(void **state)
{
	struct fix *f = *state;
	struct pmlt_holder over, beside;

	pmlt_holder_init(&over, 1);
	pmlt_holder_init(&beside, 2);
	over.put_on_layout = true;
	/* [3A + 100, 3A + 200) inside the punch, [3A, 3A + 50) before it */
	PMLT_OK(pmlt_hold(&over, f->r, 3 * A + 100, 100, PML_LEASE_PIN));
	PMLT_OK(pmlt_hold(&beside, f->r, 3 * A, 50, PML_LEASE_PIN));
	PMLT_OK(pml_region_fallocate(f->r, FALLOC_FL_PUNCH_HOLE |
			FALLOC_FL_KEEP_SIZE, 3 * A + 50, 3 * A, NULL));
	assert_int_equal(atomic_load(&over.n_layout), 1);
	assert_int_equal(atomic_load(&beside.n_layout), 0);
	pmlt_file_pattern(f->path, 0, 3 * A + 50, SEED, 0);
	pmlt_file_zeroes(f->path, 3 * A + 50, 6 * A + 50);
	pmlt_file_pattern(f->path, 6 * A + 50, NPAGES * A, SEED, 0);
	/* the lease beside still reads its bytes through the mapping */
	uint8_t *p = pml_lease_addr(beside.lease);

	assert_int_equal(pmlt_check_pattern(p, 3 * A, 50, SEED), -1);
	PMLT_OK(pml_lease_put(beside.lease));
}

/* what can keep no block aside gives up under REVOKE, nothing changed */
static void
test_revoke_gives_up_where_nothing_can_be_kept(void **state)
{
	struct fix *f = *state;
	struct pmlt_holder h;
	struct pmlt_snap s;

	pmlt_holder_init(&h, 1);	/* never puts on its own */
	PMLT_OK(pmlt_hold(&h, f->r, 10 * A, A, PML_LEASE_PIN));
	pmlt_snap_take(&s, f->path);
	PMLT_FAILS(pml_region_fallocate(f->r, FALLOC_FL_COLLAPSE_RANGE,
			2 * A, A, &revoke_50), -ETIMEDOUT);
	PMLT_FAILS(pml_region_ftruncate(f->r, 9 * A + 1, &revoke_50),
			-ETIMEDOUT);
	PMLT_FAILS(pml_region_fallocate(f->r, FALLOC_FL_ZERO_RANGE, 10 * A,
			10, &fail_50), -ETIMEDOUT);
	assert_int_equal(pml_lease_revoked(h.lease), 0);
	assert_int_equal(pml_region_size(f->r), NPAGES * A);
	pmlt_snap_same(&s, f->path, "after calls that gave up");
	pmlt_snap_free(&s);
	PMLT_OK(pml_lease_put(h.lease));

	/* and with the lease gone the same calls go through */
	PMLT_OK(pml_region_fallocate(f->r, FALLOC_FL_COLLAPSE_RANGE, 2 * A,
			A, &revoke_50));
	assert_int_equal(pmlt_file_size(f->path), (NPAGES - 1) * A);
	assert_int_equal(pml_region_size(f->r), (NPAGES - 1) * A);
	pmlt_file_pattern(f->path, 0, 2 * A, SEED, 0);
	pmlt_file_pattern(f->path, 2 * A, (NPAGES - 1) * A, SEED, A);
	PMLT_OK(pml_region_ftruncate(f->r, 9 * A + 1, &revoke_50));
	assert_int_equal(pmlt_file_size(f->path), 9 * A + 1);
	assert_int_equal(pml_region_size(f->r), 9 * A);
}

/* a quarantine where blocks would move refuses the move */
static void
test_quarantine_refuses_collapse(void **state)
{
	struct fix *f = *state;
	struct pmlt_holder h;
	uint64_t q = 0;

	pmlt_holder_init(&h, 1);
	PMLT_OK(pmlt_hold(&h, f->r, 12 * A, A, PML_LEASE_PIN));
	/* revoked and quarantined by an aligned punch */
	PMLT_OK(pml_region_punch(f->r, 12 * A, 2 * A, &revoke_50));
	PMLT_OK(pml_region_quarantined(&q, f->r));
	assert_int_equal(q, A);
	PMLT_FAILS(pml_region_fallocate(f->r, FALLOC_FL_COLLAPSE_RANGE, 4 * A,
			A, NULL), -EBUSY);
	assert_int_equal(pmlt_file_size(f->path), NPAGES * A);
	/* a growth moves nothing: fine */
	PMLT_OK(pml_region_fallocate(f->r, 0, 0, 20 * A, NULL));
	assert_int_equal(pml_region_size(f->r), 20 * A);
	PMLT_OK(pml_lease_put(h.lease));
	PMLT_OK(pml_region_quarantined(&q, f->r));
	assert_int_equal(q, 0);
	PMLT_OK(pml_region_fallocate(f->r, FALLOC_FL_COLLAPSE_RANGE, 4 * A,
			A, NULL));
	assert_int_equal(pml_region_size(f->r), 19 * A);
}

static void
test_partial_tail(void **state)
{
	struct fix *f = *state;
	struct pml_region *r = NULL;
	struct pml_lease *l = NULL;
	const struct pml_region_opts tail = { .flags = PML_REGION_PARTIAL_TAIL };

	PMLT_OK(pml_region_ftruncate(f->r, 5 * A + 123, NULL));
	assert_int_equal(pml_region_size(f->r), 5 * A);
	assert_int_equal(pmlt_file_size(f->path), 5 * A + 123);
	pmlt_file_pattern(f->path, 0, 5 * A + 123, SEED, 0);
	PMLT_FAILS(pml_region_open(&r, f->path, NULL), -EINVAL);
	assert_null(r);
	PMLT_OK(pml_region_open(&r, f->path, &tail));
	assert_int_equal(pml_region_size(r), 5 * A);
	PMLT_FAILS(pml_lease_acquire(&l, r, 5 * A, 1, PML_LEASE_REF, NULL,
			NULL), -EINVAL);
	/* a punch keeps the partial tail: it is the file's data */
	PMLT_OK(pml_region_punch(r, 0, A, NULL));
	assert_int_equal(pmlt_file_size(f->path), 5 * A + 123);
	pmlt_file_pattern(f->path, A, 5 * A + 123, SEED, 0);
	/* an aligned shrink cuts it with the rest */
	PMLT_OK(pml_region_truncate(r, 4 * A, NULL));
	assert_int_equal(pmlt_file_size(f->path), 4 * A);
	assert_int_equal(pml_region_size(f->r), 4 * A);
	PMLT_OK(pml_region_close(&r));
}

/* SQLite's unix VFS grows a database with pwrite(2), not ftruncate */
static void
test_growth_behind_the_back_survives_punch(void **state)
{
	struct fix *f = *state;
	int fd = open(f->path, O_WRONLY);
	uint8_t *buf = malloc(4 * A);

	assert_true(fd >= 0);
	pmlt_fill_pattern(buf, NPAGES * A, 4 * A, SEED);
	assert_int_equal(pwrite(fd, buf, 4 * A, (off_t)(NPAGES * A)),
			(ssize_t)(4 * A));
	close(fd);
	free(buf);
	PMLT_OK(pml_region_punch(f->r, 0, A, NULL));
	assert_int_equal(pmlt_file_size(f->path), (NPAGES + 4) * A);
	pmlt_file_pattern(f->path, A, (NPAGES + 4) * A, SEED, 0);
	assert_int_equal(pml_region_size(f->r), (NPAGES + 4) * A);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_byte_punch_waits_for_overlap_only, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_revoke_gives_up_where_nothing_can_be_kept, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_quarantine_refuses_collapse,
			setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_tail, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_growth_behind_the_back_survives_punch, setup,
			teardown),
	};

	return PMLT_RUN("test_fileops", tests);
}
