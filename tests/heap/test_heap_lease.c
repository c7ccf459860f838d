/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_heap_lease -- leases on heap memory against frees and purges:
 *   - memory freed under a heap lease is not reused before the last put,
 *     and is reused after it;
 *   - purges (through the barrier) racing with threads that lease, free
 *     and put: a leased allocation's data survives to the put, so no punch
 *     happened under a live lease;
 *   - a lease taken with pml_lease_acquire() on memory then freed: the
 *     purge asks its holder to let go, gives up, and the data stays; the
 *     same purge without the lease punches (the pages read zeroes).
 */
#include "heap_test.h"

#define MiB (1ULL << 20)

static bool
overlaps(const void *a, size_t alen, const void *b, size_t blen)
{
	const char *x = a, *y = b;

	return x < y + blen && y < x + alen;
}

/* allocate blocks of size; fail if one overlaps [held, + hlen) */
static void
none_reuses(struct heap_fix *f, size_t size, const void *held, size_t hlen)
{
	void *p[512];
	int n = size < MiB ? 512 : 32;

	for (int i = 0; i < n; i++) {
		p[i] = pml_heap_alloc(f->heap, size);
		assert_non_null(p[i]);
		if (overlaps(p[i], size, held, hlen))
			fail_msg("%p reused while leased", p[i]);
	}
	for (int i = 0; i < n; i++)
		pml_heap_free(f->heap, p[i]);
}

static void
held_across_free(size_t size)
{
	struct heap_fix f;
	heap_fix_open(&f, "heap-lease", 2 * MiB, 256 * MiB);

	struct pml_lease *l1, *l2;
	assert_int_equal(pml_heap_alloc_lease(&l1, f.heap, size,
				PML_LEASE_PIN, NULL, NULL), 0);
	char *p = pml_lease_addr(l1);
	size_t len = pml_heap_usable_size(f.heap, p);
	heap_fill(p, len);
	assert_int_equal(pml_heap_lease(&l2, f.heap, p, PML_LEASE_REF, NULL,
				NULL), 0);
	assert_ptr_equal(pml_lease_addr(l2), p);

	pml_heap_free(f.heap, p);	/* deferred: two leases live */
	none_reuses(&f, size, p, len);
	heap_purge_all();
	assert_int_equal(heap_check(p, len), -1);

	assert_int_equal(pml_heap_lease_put(f.heap, l1), 0);
	none_reuses(&f, size, p, len);	/* one lease left */
	heap_purge_all();
	assert_int_equal(heap_check(p, len), -1);
	/* a freed allocation takes no new heap lease */
	struct pml_lease *l3;
	assert_int_equal(pml_heap_lease(&l3, f.heap, p, 0, NULL, NULL),
			-EINVAL);

	/* the last put frees it: allocations of its size come to take it */
	assert_int_equal(pml_heap_lease_put(f.heap, l2), 0);
	void *again[64];
	bool reused = false;
	int n;
	for (n = 0; n < 64 && !reused; n++) {
		again[n] = pml_heap_alloc(f.heap, size);
		assert_non_null(again[n]);
		reused = overlaps(again[n], size, p, len);
	}
	assert_true(reused);
	while (n-- > 0)
		pml_heap_free(f.heap, again[n]);
	heap_fix_close(&f);
}

static void
test_held_across_free_small(void **state)
{
	held_across_free(48);
}

static void
test_held_across_free_large(void **state)
{
	held_across_free(3 * MiB);
}

/* ------------------------------------------------ purge versus lease */

struct race {
	struct heap_fix *f;
	atomic_bool stop;
	atomic_ulong puts, purges;
};

static void *
leaser_main(void *arg)
{
	struct race *r = arg;
	unsigned seed = (unsigned)(uintptr_t)&seed;

	while (!atomic_load(&r->stop)) {
		size_t n = 4096 + rand_r(&seed) % (512 * 1024);
		struct pml_lease *l;
		int rc = pml_heap_alloc_lease(&l, r->f->heap, n, PML_LEASE_PIN,
				NULL, NULL);
		if (rc) {
			pmlt_thread_fail("alloc_lease: %d %s", rc,
					pml_heap_errormsg());
			return NULL;
		}
		char *p = pml_lease_addr(l);
		heap_fill(p, n);
		/* freed while leased half the time: the free waits */
		bool freed = rand_r(&seed) % 2;
		if (freed)
			pml_heap_free(r->f->heap, p);
		sched_yield();
		int64_t bad = heap_check(p, n);
		if (bad >= 0) {
			pmlt_thread_fail("%p+%ld changed under a live lease",
					p, (long)bad);
			return NULL;
		}
		rc = pml_heap_lease_put(r->f->heap, l);
		if (rc) {
			pmlt_thread_fail("put: %d %s", rc, pml_heap_errormsg());
			return NULL;
		}
		if (!freed)
			pml_heap_free(r->f->heap, p);
		atomic_fetch_add(&r->puts, 1);
	}
	return NULL;
}

static void *
churn_main(void *arg)
{
	struct race *r = arg;
	unsigned seed = (unsigned)(uintptr_t)&seed;

	while (!atomic_load(&r->stop)) {
		void *p[16];
		for (int i = 0; i < 16; i++) {
			size_t n = 1 + rand_r(&seed) % (1024 * 1024);
			p[i] = pml_heap_alloc(r->f->heap, n);
			if (p[i] == NULL) {
				pmlt_thread_fail("alloc %zu failed", n);
				return NULL;
			}
			memset(p[i], 0xee, n);
		}
		for (int i = 0; i < 16; i++)
			pml_heap_free(r->f->heap, p[i]);
	}
	return NULL;
}

static void *
purger_main(void *arg)
{
	struct race *r = arg;

	while (!atomic_load(&r->stop)) {
		heap_purge_all();
		atomic_fetch_add(&r->purges, 1);
	}
	return NULL;
}

static void
test_purge_vs_lease(void **state)
{
	struct heap_fix f;
	heap_fix_open(&f, "heap-lease-race", 2 * MiB, 1024 * MiB);
	struct race r = { .f = &f };
	pthread_t t[4];
	void *(*fns[4])(void *) = { leaser_main, leaser_main, churn_main,
		purger_main };

	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, fns[i], &r), 0);
	pmlt_sleep_ms(PMLT_TSAN ? 1500 : 3000);
	atomic_store(&r.stop, true);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	PMLT_CHECK_THREADS();
	print_message("%lu lease puts, %lu purges\n",
			(unsigned long)atomic_load(&r.puts),
			(unsigned long)atomic_load(&r.purges));
	assert_true(atomic_load(&r.puts) > 10);
	assert_true(atomic_load(&r.purges) > 10);
	heap_fix_close(&f);
}

/* ------------------------------------------- a lease the heap never saw */

static atomic_int breaks;

static void
count_break(struct pml_lease *lease, enum pml_break_reason why, void *arg)
{
	if (why == PML_BREAK_LAYOUT)
		atomic_fetch_add(&breaks, 1);
}

static bool
all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static void
test_direct_lease_keeps_pages(void **state)
{
	struct heap_fix f;
	heap_fix_open(&f, "heap-lease-direct", 2 * MiB, 256 * MiB);
	const size_t n = 4 * MiB;

	/* control: a freed block, purged, is punched (reads zeroes) */
	char *p = pml_heap_alloc(f.heap, n);
	assert_non_null(p);
	heap_fill(p, n);
	pml_heap_free(f.heap, p);
	heap_purge_all();
	assert_true(all_zero(p, n));

	/* the same under a lease the heap does not know: kept, and asked */
	p = pml_heap_alloc(f.heap, n);
	assert_non_null(p);
	heap_fill(p, n);
	struct pml_lease *l;
	struct pml_lease_ops ops = { .on_break = count_break };
	assert_int_equal(pml_lease_acquire(&l, f.region,
				(uint64_t)(p - f.base), n, PML_LEASE_PIN, &ops,
				NULL), 0);
	pml_heap_free(f.heap, p);
	heap_purge_all();
	assert_int_equal(heap_check(p, n), -1);
	assert_true(atomic_load(&breaks) >= 1);
	assert_int_equal(pml_lease_revoked(l), 0);
	assert_int_equal(pml_lease_put(l), 0);
	heap_fix_close(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_held_across_free_small),
		cmocka_unit_test(test_held_across_free_large),
		cmocka_unit_test(test_purge_vs_lease),
		cmocka_unit_test(test_direct_lease_keeps_pages),
	};

	pmlt_watchdog(240, "test_heap_lease");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
