/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_revoke -- PML_ON_TIMEOUT_REVOKE and the quarantine.
 *
 * The invariant under test: no block under a lease, live or revoked, is
 * ever handed back to the filesystem.  So after a revoke the blocks under
 * the revoked leases must stay allocated -- checked with FIEMAP and
 * st_blocks, never SEEK_HOLE, which calls unwritten extents holes -- no new
 * lease may cover them, and everything else in the range is punched at
 * once.  Only the last put of the last revoked lease over a block hands it
 * back, and then it reads zero, whatever the "device" wrote meanwhile.
 *
 * The files are written with pwrite and fsync'ed first, so every block
 * starts out allocated and each change in allocation is the library's.
 */
#include "common.h"

#include <inttypes.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define NPAGES 16

static uint64_t A;

struct fix {
	char path[4200];
	struct pml_region *r;
	uint64_t size;
	char *base;
};

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	A = pmlt_probe_alignment();
	f->size = NPAGES * A;
	pmlt_path(f->path, sizeof(f->path), "revoke");
	pmlt_make_file(f->path, f->size, 13);
	f->r = pmlt_open(f->path, 4 * f->size, 0);
	f->base = pml_region_base(f->r);
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

static const struct pml_barrier_opts revoke_opts = {
	.timeout_ms = 50,
	.on_timeout = PML_ON_TIMEOUT_REVOKE,
};

/* ------------------------------------------------------------- helpers */

struct layout_call {
	struct pml_region *r;
	uint64_t off, len;	/* len 0: truncate to off */
};

static int
revoke_fn(void *p)
{
	struct layout_call *c = p;
	if (c->len == 0)
		return pml_region_truncate(c->r, c->off, &revoke_opts);
	return pml_region_punch(c->r, c->off, c->len, &revoke_opts);
}

/*
 * A revoking punch or truncate, from another thread so that a wrong wait
 * is reported by name; it must return 0 "without waiting for them".
 */
static void
revoke_layout(struct fix *f, uint64_t off, uint64_t len)
{
	struct layout_call c = { f->r, off, len };
	struct pmlt_async a;
	pmlt_async_start(&a, revoke_fn, &c);
	PMLT_RC(0, pmlt_async_finish(&a, "a revoking punch/truncate with "
			"its leases still held"));
}

struct acquire_call {
	struct pml_region *r;
	uint64_t off, len;
	unsigned flags;
	struct pml_lease *lease;
};

static int
acquire_fn(void *p)
{
	struct acquire_call *c = p;
	return pml_lease_acquire(&c->lease, c->r, c->off, c->len, c->flags,
			NULL, NULL);
}

static uint64_t
quarantined(struct fix *f)
{
	uint64_t q = UINT64_MAX;
	PMLT_OK(pml_region_quarantined(&q, f->r));
	return q;
}

#define ALLOCATED(f, off, len, expect) do { \
	uint64_t got_ = pmlt_fiemap_bytes((f)->path, (off), (len)); \
	if (got_ != (expect)) \
		fail_msg("%s:%d: FIEMAP: %" PRIu64 " bytes of [%" PRIu64 \
				", +%" PRIu64 ") allocated, expected %" PRIu64, \
				__FILE__, __LINE__, got_, (uint64_t)(off), \
				(uint64_t)(len), (uint64_t)(expect)); \
} while (0)

static void
reads_zero(struct fix *f, uint64_t off, uint64_t len, const char *when)
{
	int64_t nz = pmlt_find_nonzero(f->base + off, len);
	if (nz >= 0)
		fail_msg("%s: mapped byte %" PRIu64 " not zero", when,
				off + (uint64_t)nz);
	uint8_t *buf = malloc(len);
	pmlt_read_file(f->path, off, buf, len);
	nz = pmlt_find_nonzero(buf, len);
	free(buf);
	if (nz >= 0)
		fail_msg("%s: file byte %" PRIu64 " not zero", when,
				off + (uint64_t)nz);
}

static void
reads_pattern(struct fix *f, uint64_t off, uint64_t len, const char *when)
{
	int64_t bad = pmlt_check_pattern(f->base + off, off, len, 13);
	if (bad >= 0)
		fail_msg("%s: mapped byte %" PRIu64 " changed", when,
				off + (uint64_t)bad);
	uint8_t *buf = malloc(len);
	pmlt_read_file(f->path, off, buf, len);
	bad = pmlt_check_pattern(buf, off, len, 13);
	free(buf);
	if (bad >= 0)
		fail_msg("%s: file byte %" PRIu64 " changed", when,
				off + (uint64_t)bad);
}

/* NOWAIT over [off, off + len) must say -EAGAIN */
static void
refused(struct fix *f, uint64_t off, uint64_t len)
{
	struct pml_lease *l;
	for (unsigned fl = 0; fl < 2; fl++) {
		int rc = pml_lease_acquire(&l, f->r, off, len,
				PML_LEASE_NOWAIT | fl, NULL, NULL);
		if (rc != -EAGAIN)
			fail_msg("NOWAIT acquire [%" PRIu64 ", +%" PRIu64 ") "
					"over a quarantine: %d (%s), expected "
					"-EAGAIN", off, len, rc,
					pmlt_errname(rc));
	}
}

/* ---------------------------------------------------------------- tests */

static void
test_revoke_punch(void **state)
{
	struct fix *f = *state;
	struct pmlt_holder pin, ref, far;
	pmlt_holder_init(&pin, 1);
	pmlt_holder_init(&ref, 2);
	pmlt_holder_init(&far, 3);
	PMLT_OK(pmlt_hold(&pin, f->r, 4 * A, A, PML_LEASE_PIN));
	PMLT_OK(pml_lease_get(pin.lease));
	PMLT_OK(pmlt_hold(&ref, f->r, 8 * A + 100, 100, PML_LEASE_REF));
	PMLT_OK(pmlt_hold(&far, f->r, 14 * A, A, PML_LEASE_PIN));
	void *pin_addr = pml_lease_addr(pin.lease);
	uint64_t blocks0 = pmlt_file_alloc_bytes(f->path);
	ALLOCATED(f, 0, f->size, f->size);

	revoke_layout(f, 2 * A, 10 * A);

	/* who was told what */
	assert_int_equal(atomic_load(&pin.n_layout), 1);
	assert_int_equal(atomic_load(&pin.n_revoked), 1);
	assert_int_equal(atomic_load(&ref.n_layout), 0);
	assert_int_equal(atomic_load(&ref.n_revoked), 1);
	assert_int_equal(atomic_load(&far.n_layout) +
			atomic_load(&far.n_revoked), 0);
	assert_int_equal(pml_lease_revoked(pin.lease), 1);
	assert_int_equal(pml_lease_revoked(ref.lease), 1);
	assert_int_equal(pml_lease_revoked(far.lease), 0);
	PMLT_RC(-ESTALE, pml_lease_get(pin.lease));
	PMLT_RC(-ESTALE, pml_lease_get(ref.lease));
	PMLT_OK(pml_lease_get(far.lease));
	PMLT_OK(pml_lease_put(far.lease));
	/* a revoked lease still says where it is */
	assert_ptr_equal(pml_lease_addr(pin.lease), pin_addr);
	assert_int_equal(pml_lease_offset(ref.lease), 8 * A + 100);
	assert_int_equal(pml_lease_length(ref.lease), 100);

	/* the blocks under them stay; the rest of the range is gone now */
	assert_int_equal(quarantined(f), 2 * A);
	ALLOCATED(f, 4 * A, A, A);
	ALLOCATED(f, 8 * A, A, A);
	ALLOCATED(f, 2 * A, 2 * A, 0);
	ALLOCATED(f, 5 * A, 3 * A, 0);
	ALLOCATED(f, 9 * A, 3 * A, 0);
	ALLOCATED(f, 0, 2 * A, 2 * A);
	ALLOCATED(f, 12 * A, 4 * A, 4 * A);
	uint64_t blocks1 = pmlt_file_alloc_bytes(f->path);
	/* st_blocks: 8 pages fewer, give or take one extent-tree block */
	if (blocks1 > blocks0 - 8 * A + A || blocks1 < 8 * A)
		fail_msg("st_blocks went from %" PRIu64 " to %" PRIu64 " bytes; "
				"8 of 16 pages were punched", blocks0, blocks1);
	reads_zero(f, 2 * A, 2 * A, "punched part");
	reads_zero(f, 5 * A, 3 * A, "punched part");
	reads_zero(f, 9 * A, 3 * A, "punched part");
	reads_pattern(f, 0, 2 * A, "before the range");
	reads_pattern(f, 12 * A, 4 * A, "after the range");
	assert_int_equal(pmlt_file_size(f->path), f->size);

	/* no lease may cover a quarantined block, not even a byte of it */
	refused(f, 4 * A + 10, 1);
	refused(f, 8 * A, 1);
	refused(f, 9 * A - 1, 1);
	refused(f, 3 * A, 2 * A);
	refused(f, 0, f->size);
	struct pml_lease *l;
	PMLT_OK(pml_lease_acquire(&l, f->r, 5 * A, 3 * A, PML_LEASE_NOWAIT,
			NULL, NULL));
	PMLT_OK(pml_lease_put(l));
	struct acquire_call ac = { f->r, 4 * A + 1, 2 * A, PML_LEASE_PIN,
		NULL };
	struct pmlt_async waiter;
	pmlt_async_start(&waiter, acquire_fn, &ac);

	/* revoked leases count until they are put */
	PMLT_RC(-EBUSY, pml_region_close(&f->r));
	assert_non_null(f->r);

	PMLT_OK(pml_lease_put(pin.lease));
	pmlt_settle();
	assert_false(pmlt_async_is_done(&waiter));
	assert_int_equal(quarantined(f), 2 * A);
	ALLOCATED(f, 4 * A, A, A);

	uint64_t before = pmlt_seq_next();
	PMLT_OK(pml_lease_put(pin.lease));
	/* lifted before pml_lease_put() returned */
	assert_int_equal(quarantined(f), A);
	ALLOCATED(f, 4 * A, A, 0);
	reads_zero(f, 4 * A, A, "the lifted block");
	PMLT_RC(0, pmlt_async_finish(&waiter, "acquire over a lifted "
			"quarantine"));
	assert_true(atomic_load(&waiter.done_seq) > before);
	assert_int_equal(pmlt_find_nonzero(pml_lease_addr(ac.lease), 2 * A),
			-1);
	PMLT_OK(pml_lease_put(ac.lease));
	PMLT_RC(-EINVAL, pml_lease_put(pin.lease));

	refused(f, 8 * A + 300, 1);
	PMLT_OK(pml_lease_put(ref.lease));
	assert_int_equal(quarantined(f), 0);
	ALLOCATED(f, 2 * A, 10 * A, 0);
	reads_zero(f, 2 * A, 10 * A, "the whole range at the end");
	uint64_t blocks2 = pmlt_file_alloc_bytes(f->path);
	if (blocks2 > blocks0 - 10 * A + A)
		fail_msg("st_blocks %" PRIu64 " bytes after the last put, "
				"%" PRIu64 " before the punch of 10 pages",
				blocks2, blocks0);
	reads_pattern(f, 0, 2 * A, "before the range");
	reads_pattern(f, 12 * A, 4 * A, "after the range");
	PMLT_OK(pml_lease_acquire(&l, f->r, 8 * A, A, PML_LEASE_NOWAIT, NULL,
			NULL));
	PMLT_OK(pml_lease_put(l));
	PMLT_OK(pml_lease_put(far.lease));
	PMLT_CHECK_THREADS();
	PMLT_OK(pml_region_close(&f->r));
}

/*
 * The "device" keeps writing through a revoked lease.  That must neither
 * crash the process nor land anywhere anybody reads: after the last put the
 * range reads zero and every other byte is as it was.  The first writes
 * happen in a child, so that a fault is reported rather than fatal.
 */
static void
scribble_in_child(void *addr, size_t len, const char *what)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		memset(addr, 0xee, len);
		_exit(0);
	}
	assert_true(pid > 0);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st))
		fail_msg("%s: writing through a revoked lease killed the "
				"writer with signal %d: the lease address is "
				"the DMA target and must stay writable until "
				"the lease is put", what, WTERMSIG(st));
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void
test_revoked_holder_keeps_writing(void **state)
{
	struct fix *f = *state;
	struct pmlt_holder h;
	pmlt_holder_init(&h, 1);
	PMLT_OK(pmlt_hold(&h, f->r, 4 * A, 2 * A, PML_LEASE_PIN));
	revoke_layout(f, 3 * A, 4 * A);
	assert_int_equal(pml_lease_revoked(h.lease), 1);
	scribble_in_child(pml_lease_addr(h.lease), 2 * A, "punch");
	memset(pml_lease_addr(h.lease), 0xdd, 2 * A);
	/* still the quarantined blocks: nobody else got them */
	ALLOCATED(f, 4 * A, 2 * A, 2 * A);
	ALLOCATED(f, 3 * A, A, 0);
	ALLOCATED(f, 6 * A, A, 0);
	reads_pattern(f, 0, 3 * A, "before the range");
	reads_pattern(f, 7 * A, 9 * A, "after the range");
	PMLT_OK(pml_lease_put(h.lease));
	reads_zero(f, 3 * A, 4 * A, "after the last put");
	ALLOCATED(f, 3 * A, 4 * A, 0);
	reads_pattern(f, 0, 3 * A, "before the range");
	reads_pattern(f, 7 * A, 9 * A, "after the range");

	/* the same past the end of a shrunk region */
	pmlt_holder_init(&h, 2);
	PMLT_OK(pmlt_hold(&h, f->r, 12 * A, A, PML_LEASE_PIN));
	revoke_layout(f, 8 * A, 0);
	assert_int_equal(pml_lease_revoked(h.lease), 1);
	scribble_in_child(pml_lease_addr(h.lease), A, "shrink");
	memset(pml_lease_addr(h.lease), 0xdd, A);
	ALLOCATED(f, 12 * A, A, A);
	PMLT_OK(pml_lease_put(h.lease));
	assert_int_equal(pmlt_file_size(f->path), 8 * A);
	PMLT_OK(pml_region_truncate(f->r, 16 * A, NULL));
	reads_zero(f, 8 * A, 8 * A, "regrown after the shrink");
	reads_pattern(f, 0, 3 * A, "before the first range");
	reads_pattern(f, 7 * A, A, "between");
}

/* leases with no alignment quarantine the whole blocks they touch */
static void
test_revoke_partial_blocks(void **state)
{
	struct fix *f = *state;
	struct pmlt_holder ref, pin;
	pmlt_holder_init(&ref, 1);
	pmlt_holder_init(&pin, 2);
	PMLT_OK(pmlt_hold(&ref, f->r, 3 * A + 100, 100, PML_LEASE_REF));
	PMLT_OK(pmlt_hold(&pin, f->r, 6 * A - 1, 2, PML_LEASE_PIN));
	revoke_layout(f, 2 * A, 6 * A);
	/* "quarantines the blocks under revoked leases": pages 3, 5 and 6 */
	assert_int_equal(quarantined(f), 3 * A);
	ALLOCATED(f, 3 * A, A, A);
	ALLOCATED(f, 5 * A, 2 * A, 2 * A);
	ALLOCATED(f, 2 * A, A, 0);
	ALLOCATED(f, 4 * A, A, 0);
	ALLOCATED(f, 7 * A, A, 0);
	reads_zero(f, 2 * A, A, "punched");
	reads_zero(f, 4 * A, A, "punched");
	reads_zero(f, 7 * A, A, "punched");
	refused(f, 3 * A, 1);
	refused(f, 5 * A, 1);
	refused(f, 7 * A - 1, 1);
	PMLT_OK(pml_lease_put(ref.lease));
	assert_int_equal(quarantined(f), 2 * A);
	ALLOCATED(f, 3 * A, A, 0);
	reads_zero(f, 3 * A, A, "lifted");
	PMLT_OK(pml_lease_put(pin.lease));
	assert_int_equal(quarantined(f), 0);
	ALLOCATED(f, 2 * A, 6 * A, 0);
	reads_zero(f, 2 * A, 6 * A, "all lifted");
}

/* a block under several revoked leases waits for the last of them */
static void
test_revoke_overlapping(void **state)
{
	struct fix *f = *state;
	struct pmlt_holder r1, r2, pin;
	pmlt_holder_init(&r1, 1);
	pmlt_holder_init(&r2, 2);
	pmlt_holder_init(&pin, 3);
	PMLT_OK(pmlt_hold(&r1, f->r, 6 * A + 1, 10, PML_LEASE_REF));
	PMLT_OK(pmlt_hold(&r2, f->r, 6 * A + 500, A - 1000, PML_LEASE_REF));
	PMLT_OK(pmlt_hold(&pin, f->r, 6 * A, 2 * A, PML_LEASE_PIN));
	revoke_layout(f, 6 * A, 2 * A);
	assert_int_equal(quarantined(f), 2 * A);
	PMLT_OK(pml_lease_put(pin.lease));
	assert_int_equal(quarantined(f), A);
	ALLOCATED(f, 7 * A, A, 0);
	ALLOCATED(f, 6 * A, A, A);
	refused(f, 6 * A + A - 1, 1);
	PMLT_OK(pml_lease_put(r2.lease));
	assert_int_equal(quarantined(f), A);
	ALLOCATED(f, 6 * A, A, A);
	refused(f, 6 * A, 1);
	PMLT_OK(pml_lease_put(r1.lease));
	assert_int_equal(quarantined(f), 0);
	ALLOCATED(f, 6 * A, 2 * A, 0);
	reads_zero(f, 6 * A, 2 * A, "lifted");
}

/*
 * on_break(REVOKED) may put the lease itself: the quarantine then lifts
 * "when the layout change in progress on the region ends", i.e. by the
 * time the punch returns.
 */
static void
test_revoke_put_in_callback(void **state)
{
	struct fix *f = *state;
	struct pmlt_holder self, kept;
	pmlt_holder_init(&self, 1);
	pmlt_holder_init(&kept, 2);
	self.put_on_revoke = true;
	PMLT_OK(pmlt_hold(&self, f->r, 2 * A, A, PML_LEASE_PIN));
	PMLT_OK(pmlt_hold(&kept, f->r, 4 * A, A, PML_LEASE_REF));
	struct layout_call c = { f->r, 2 * A, 4 * A };
	struct pmlt_async a;
	pmlt_async_start(&a, revoke_fn, &c);
	PMLT_RC(0, pmlt_async_finish(&a, "revoking punch"));
	assert_int_equal(atomic_load(&self.n_revoked), 1);
	assert_int_equal(atomic_load(&self.n_cb_puts), 1);
	assert_true(pthread_equal(self.cb_thread, a.thread));
	assert_true(pthread_equal(kept.cb_thread, a.thread));
	assert_int_equal(quarantined(f), A);
	ALLOCATED(f, 2 * A, 2 * A, 0);
	ALLOCATED(f, 4 * A, A, A);
	ALLOCATED(f, 5 * A, A, 0);
	reads_zero(f, 2 * A, 2 * A, "lifted by the end of the punch");
	PMLT_OK(pml_lease_put(kept.lease));
	assert_int_equal(quarantined(f), 0);
	PMLT_CHECK_THREADS();
	PMLT_OK(pml_region_close(&f->r));
}

/* nothing to revoke when every holder lets go on LAYOUT */
static void
test_revoke_not_needed(void **state)
{
	struct fix *f = *state;
	struct pmlt_holder h;
	pmlt_holder_init(&h, 1);
	h.put_on_layout = true;
	PMLT_OK(pmlt_hold(&h, f->r, 2 * A, A, PML_LEASE_PIN));
	revoke_layout(f, 0, 4 * A);
	assert_int_equal(atomic_load(&h.n_layout), 1);
	assert_int_equal(atomic_load(&h.n_revoked), 0);
	assert_int_equal(quarantined(f), 0);
	ALLOCATED(f, 0, 4 * A, 0);
	reads_zero(f, 0, 4 * A, "punched");
}

static void
test_revoke_shrink(void **state)
{
	struct fix *f = *state;
	struct pmlt_holder pin, ref, below;
	pmlt_holder_init(&pin, 1);
	pmlt_holder_init(&ref, 2);
	pmlt_holder_init(&below, 3);
	PMLT_OK(pmlt_hold(&pin, f->r, 13 * A, A, PML_LEASE_PIN));
	PMLT_OK(pml_lease_get(pin.lease));
	PMLT_OK(pmlt_hold(&ref, f->r, 10 * A + 5, 10, PML_LEASE_REF));
	PMLT_OK(pmlt_hold(&below, f->r, 2 * A, 6 * A, PML_LEASE_PIN));

	revoke_layout(f, 8 * A, 0);
	assert_int_equal(pml_lease_revoked(pin.lease), 1);
	assert_int_equal(pml_lease_revoked(ref.lease), 1);
	assert_int_equal(pml_lease_revoked(below.lease), 0);
	assert_int_equal(atomic_load(&below.n_layout), 0);
	assert_int_equal(atomic_load(&pin.n_revoked), 1);
	assert_int_equal(atomic_load(&ref.n_revoked), 1);

	/* the region is shrunk for everybody at once */
	assert_int_equal(pml_region_size(f->r), 8 * A);
	struct acquire_call ac[3] = {
		{ f->r, 8 * A, 1, PML_LEASE_PIN, NULL },
		{ f->r, 13 * A, 1, PML_LEASE_REF, NULL },
		{ f->r, 7 * A, 2 * A, PML_LEASE_NOWAIT, NULL },
	};
	for (int i = 0; i < 3; i++) {
		struct pmlt_async a;
		pmlt_async_start(&a, acquire_fn, &ac[i]);
		int rc = pmlt_async_finish(&a, "acquire past a shrunk end");
		if (rc != -EINVAL && rc != -ERANGE)
			fail_msg("acquire [%" PRIu64 ", +%" PRIu64 ") past the "
					"new end: %d (%s), expected a refusal",
					ac[i].off, ac[i].len, rc,
					pmlt_errname(rc));
	}
	/* the file keeps the quarantined tail, nothing else of the cut */
	assert_true(pmlt_file_size(f->path) >= 14 * A);
	assert_int_equal(quarantined(f), 2 * A);
	ALLOCATED(f, 10 * A, A, A);
	ALLOCATED(f, 13 * A, A, A);
	ALLOCATED(f, 8 * A, 2 * A, 0);
	ALLOCATED(f, 11 * A, 2 * A, 0);
	ALLOCATED(f, 14 * A, 2 * A, 0);
	reads_pattern(f, 0, 8 * A, "below the new end");

	PMLT_OK(pml_lease_put(ref.lease));
	assert_int_equal(quarantined(f), A);
	ALLOCATED(f, 10 * A, A, 0);
	assert_true(pmlt_file_size(f->path) >= 14 * A);
	PMLT_OK(pml_lease_put(pin.lease));
	assert_true(pmlt_file_size(f->path) >= 14 * A);
	ALLOCATED(f, 13 * A, A, A);
	PMLT_OK(pml_lease_put(pin.lease));
	/* the last put cuts the file to the region's size */
	assert_int_equal(quarantined(f), 0);
	assert_int_equal(pmlt_file_size(f->path), 8 * A);
	assert_int_equal(pml_region_size(f->r), 8 * A);
	ALLOCATED(f, 0, 8 * A, 8 * A);
	reads_pattern(f, 0, 8 * A, "below the new end");
	PMLT_OK(pml_lease_put(below.lease));
	PMLT_OK(pml_region_truncate(f->r, 16 * A, NULL));
	reads_zero(f, 8 * A, 8 * A, "regrown");
}

/* a lease across the new end: only its part past the end is quarantined */
static void
test_revoke_shrink_straddling(void **state)
{
	struct fix *f = *state;
	struct pmlt_holder h;
	pmlt_holder_init(&h, 1);
	PMLT_OK(pmlt_hold(&h, f->r, 7 * A + 10, 2 * A, PML_LEASE_PIN));
	revoke_layout(f, 8 * A, 0);
	assert_int_equal(pml_lease_revoked(h.lease), 1);
	assert_int_equal(pml_region_size(f->r), 8 * A);
	assert_int_equal(quarantined(f), 2 * A);
	ALLOCATED(f, 8 * A, 2 * A, 2 * A);
	ALLOCATED(f, 10 * A, 6 * A, 0);
	/* the part below the end is the region's and stays leasable */
	struct pml_lease *l;
	PMLT_OK(pml_lease_acquire(&l, f->r, 7 * A, A, PML_LEASE_NOWAIT, NULL,
			NULL));
	PMLT_OK(pml_lease_put(l));
	reads_pattern(f, 0, 8 * A, "below the new end");
	PMLT_OK(pml_lease_put(h.lease));
	assert_int_equal(quarantined(f), 0);
	assert_int_equal(pmlt_file_size(f->path), 8 * A);
	reads_pattern(f, 0, 8 * A, "below the new end");
}

/* growing back over a quarantined tail: it stays quarantined, then zero */
static void
test_grow_over_quarantined_tail(void **state)
{
	struct fix *f = *state;
	struct pmlt_holder h;
	pmlt_holder_init(&h, 1);
	PMLT_OK(pmlt_hold(&h, f->r, 13 * A, A, PML_LEASE_REF));
	revoke_layout(f, 8 * A, 0);
	PMLT_OK(pml_region_truncate(f->r, 16 * A, NULL));
	assert_int_equal(pml_region_size(f->r), 16 * A);
	assert_int_equal(pmlt_file_size(f->path), 16 * A);
	assert_int_equal(quarantined(f), A);
	ALLOCATED(f, 13 * A, A, A);
	refused(f, 13 * A, 1);
	refused(f, 12 * A, 2 * A);
	reads_zero(f, 8 * A, 5 * A, "regrown");
	reads_zero(f, 14 * A, 2 * A, "regrown");
	struct pml_lease *l;
	PMLT_OK(pml_lease_acquire(&l, f->r, 12 * A, A, PML_LEASE_NOWAIT, NULL,
			NULL));
	PMLT_OK(pml_lease_put(l));
	PMLT_OK(pml_lease_put(h.lease));
	assert_int_equal(quarantined(f), 0);
	assert_int_equal(pmlt_file_size(f->path), 16 * A);
	ALLOCATED(f, 13 * A, A, 0);
	reads_zero(f, 8 * A, 8 * A, "regrown, lifted");

	/* regrown only part of the way: the last put cuts to the region */
	pmlt_holder_init(&h, 2);
	PMLT_OK(pmlt_hold(&h, f->r, 13 * A, A, PML_LEASE_PIN));
	revoke_layout(f, 8 * A, 0);
	PMLT_OK(pml_region_truncate(f->r, 10 * A, NULL));
	assert_true(pmlt_file_size(f->path) >= 14 * A);
	reads_zero(f, 8 * A, 2 * A, "regrown");
	PMLT_OK(pml_lease_put(h.lease));
	assert_int_equal(pmlt_file_size(f->path), 10 * A);
	assert_int_equal(quarantined(f), 0);
	reads_pattern(f, 0, 8 * A, "kept all along");
}

/* a new revoking punch over a quarantined block keeps it quarantined */
static void
test_punch_over_quarantine(void **state)
{
	struct fix *f = *state;
	struct pmlt_holder h, live;
	pmlt_holder_init(&h, 1);
	pmlt_holder_init(&live, 2);
	PMLT_OK(pmlt_hold(&h, f->r, 4 * A, A, PML_LEASE_PIN));
	revoke_layout(f, 4 * A, A);
	assert_int_equal(quarantined(f), A);
	PMLT_OK(pmlt_hold(&live, f->r, 6 * A, A, PML_LEASE_REF));
	revoke_layout(f, 2 * A, 6 * A);
	assert_int_equal(pml_lease_revoked(live.lease), 1);
	assert_int_equal(quarantined(f), 2 * A);
	ALLOCATED(f, 4 * A, A, A);
	ALLOCATED(f, 6 * A, A, A);
	ALLOCATED(f, 2 * A, 2 * A, 0);
	ALLOCATED(f, 5 * A, A, 0);
	ALLOCATED(f, 7 * A, A, 0);
	PMLT_OK(pml_lease_put(h.lease));
	PMLT_OK(pml_lease_put(live.lease));
	assert_int_equal(quarantined(f), 0);
	ALLOCATED(f, 2 * A, 6 * A, 0);
	reads_zero(f, 2 * A, 6 * A, "all lifted");
	reads_pattern(f, 0, 2 * A, "before");
	reads_pattern(f, 8 * A, 8 * A, "after");
}

/* revoked leases may be put from any thread, all at once */
struct putter {
	struct pml_lease *l;
	int rc;
};

static void *
put_main(void *p)
{
	struct putter *pu = p;
	pu->rc = pml_lease_put(pu->l);
	return NULL;
}

static void
test_revoked_puts_race(void **state)
{
	struct fix *f = *state;
	enum { N = 12 };
	uint64_t rounds = pmlt_scaled(PMLT_TSAN ? 20 : 100);
	for (uint64_t round = 0; round < rounds; round++) {
		struct putter pu[N];
		for (int i = 0; i < N; i++)
			PMLT_OK(pml_lease_acquire(&pu[i].l, f->r,
					(uint64_t)(i % 6) * A + (uint64_t)i,
					A, i % 2 ? PML_LEASE_REF : PML_LEASE_PIN,
					NULL, NULL));
		revoke_layout(f, 0, 8 * A);
		pthread_t t[N];
		for (int i = 0; i < N; i++)
			pthread_create(&t[i], NULL, put_main, &pu[i]);
		for (int i = 0; i < N; i++) {
			pthread_join(t[i], NULL);
			PMLT_RC(0, pu[i].rc);
		}
		if (quarantined(f) != 0)
			fail_msg("round %" PRIu64 ": %" PRIu64 " bytes still "
					"quarantined after every put", round,
					quarantined(f));
		ALLOCATED(f, 0, 8 * A, 0);
		reads_pattern(f, 8 * A, 8 * A, "outside the range");
	}
	PMLT_OK(pml_region_close(&f->r));
}

/* quarantines that pile up one revoke at a time, none lifted between */
static void
test_quarantines_one_by_one(void **state)
{
	struct fix *f = *state;
	enum { N = 8 };
	struct pmlt_holder h[N];
	for (int i = 0; i < N; i++) {
		pmlt_holder_init(&h[i], i);
		PMLT_OK(pmlt_hold(&h[i], f->r, 2 * (uint64_t)i * A + 7, 1,
				i % 2 ? PML_LEASE_REF : PML_LEASE_PIN));
		revoke_layout(f, 2 * (uint64_t)i * A, A);
		assert_int_equal(quarantined(f), (uint64_t)(i + 1) * A);
	}
	for (int i = 0; i < N; i++) {
		ALLOCATED(f, 2 * (uint64_t)i * A, A, A);
		refused(f, 2 * (uint64_t)i * A, 1);
	}
	for (int i = N - 1; i >= 0; i--) {
		PMLT_OK(pml_lease_put(h[i].lease));
		assert_int_equal(quarantined(f), (uint64_t)i * A);
		ALLOCATED(f, 2 * (uint64_t)i * A, A, 0);
	}
	for (int i = 0; i < N; i++) {
		reads_zero(f, 2 * (uint64_t)i * A, A, "lifted");
		reads_pattern(f, (2 * (uint64_t)i + 1) * A, A, "between");
	}
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_revoke_punch),
		T(test_revoked_holder_keeps_writing),
		T(test_revoke_partial_blocks),
		T(test_revoke_overlapping),
		T(test_revoke_put_in_callback),
		T(test_revoke_not_needed),
		T(test_revoke_shrink),
		T(test_revoke_shrink_straddling),
		T(test_grow_over_quarantined_tail),
		T(test_punch_over_quarantine),
		T(test_revoked_puts_race),
		/* last: the library used to abort() the process here */
		T(test_quarantines_one_by_one),
	};
	return PMLT_RUN("test_revoke", tests);
}
