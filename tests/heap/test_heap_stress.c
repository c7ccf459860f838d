/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_heap_stress -- threads allocating, reallocating and freeing at once,
 * with and without per-thread caches: every allocation lies inside the
 * region, holds the pattern derived from its address until it is freed
 * (so no two live allocations overlap), and survives realloc.
 */
#include "heap_test.h"

#define MiB (1ULL << 20)
#define THREADS 4
#define LIVE 64

struct worker {
	struct heap_fix *f;
	unsigned seed;
	uint64_t ops;
};

static size_t
pick_size(unsigned *seed)
{
	unsigned r = rand_r(seed);

	switch (r % 8) {
	case 0: return 1 + r % 64 * 1024;		/* up to 64 KiB */
	case 1: return 1 + r % (512 * 1024);		/* large */
	default: return 1 + r % 512;			/* small */
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct heap_fix *f = w->f;
	void *live[LIVE] = { 0 };
	size_t len[LIVE] = { 0 };

	for (uint64_t i = 0; i < w->ops; i++) {
		unsigned k = rand_r(&w->seed) % LIVE;
		if (live[k] != NULL) {
			int64_t bad = heap_check(live[k], len[k]);
			if (bad >= 0) {
				pmlt_thread_fail("%p+%ld lost its pattern",
						live[k], (long)bad);
				return NULL;
			}
		}
		unsigned op = rand_r(&w->seed) % 3;
		if (live[k] != NULL && op == 0) {
			pml_heap_free(f->heap, live[k]);
			live[k] = NULL;
			continue;
		}
		size_t n = pick_size(&w->seed);
		void *p;
		if (live[k] != NULL && op == 1) {
			p = pml_heap_realloc(f->heap, live[k], n);
			size_t kept = n < len[k] ? n : len[k];
			/* the content moves: the old address's pattern */
			for (size_t j = 0; p != NULL && j < kept; j++) {
				if (((uint8_t *)p)[j] != heap_byte(live[k], j)) {
					pmlt_thread_fail("realloc lost byte %zu",
							j);
					return NULL;
				}
			}
		} else {
			if (live[k] != NULL)
				pml_heap_free(f->heap, live[k]);
			p = pml_heap_alloc(f->heap, n);
		}
		if (p == NULL) {
			pmlt_thread_fail("alloc %zu: %s", n, strerror(errno));
			return NULL;
		}
		if (!heap_fix_inside(f, p, n)) {
			pmlt_thread_fail("%p+%zu outside the region", p, n);
			return NULL;
		}
		if (pml_heap_usable_size(f->heap, p) < n) {
			pmlt_thread_fail("usable size below %zu", n);
			return NULL;
		}
		heap_fill(p, n);
		live[k] = p;
		len[k] = n;
	}
	for (unsigned k = 0; k < LIVE; k++) {
		if (live[k] != NULL && heap_check(live[k], len[k]) >= 0)
			pmlt_thread_fail("%p lost its pattern", live[k]);
		pml_heap_free(f->heap, live[k]);
	}
	return NULL;
}

static void
stress(unsigned flags)
{
	struct heap_fix f;
	heap_fix_open(&f, "heap-stress", 1 * MiB, 1024 * MiB);
	if (flags) {
		assert_int_equal(pml_heap_destroy(&f.heap), 0);
		struct pml_heap_opts o = { .flags = flags };
		assert_int_equal(pml_heap_create(&f.heap, f.region, &o), 0);
	}
	pthread_t t[THREADS];
	struct worker w[THREADS];
	for (unsigned i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .f = &f, .seed = 1234 + i,
				.ops = pmlt_scaled(PMLT_TSAN ? 5000 : 40000) };
		assert_int_equal(pthread_create(&t[i], NULL, worker_main,
					&w[i]), 0);
	}
	/* purges run through the barrier while the workers go on */
	for (int i = 0; i < 20; i++) {
		heap_purge_all();
		pmlt_sleep_ms(5);
	}
	for (unsigned i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	PMLT_CHECK_THREADS();
	heap_fix_close(&f);
}

static void
test_stress_tcache(void **state)
{
	stress(0);
}

static void
test_stress_no_tcache(void **state)
{
	stress(PML_HEAP_NO_TCACHE);
}

/* two heaps on two regions at once: no pointer crosses between them */
static void
test_two_heaps(void **state)
{
	struct heap_fix a, b;
	heap_fix_open(&a, "heap-stress-a", 1 * MiB, 64 * MiB);
	heap_fix_open(&b, "heap-stress-b", 1 * MiB, 64 * MiB);
	void *pa[256], *pb[256];
	for (int i = 0; i < 256; i++) {
		pa[i] = pml_heap_alloc(a.heap, 1 + i * 97);
		pb[i] = pml_heap_alloc(b.heap, 1 + i * 97);
		assert_true(heap_fix_inside(&a, pa[i], 1 + i * 97));
		assert_true(heap_fix_inside(&b, pb[i], 1 + i * 97));
	}
	for (int i = 0; i < 256; i++) {
		pml_heap_free(a.heap, pa[i]);
		pml_heap_free(b.heap, pb[i]);
	}
	/* freed into the thread's caches, then taken again: same heap */
	for (int i = 0; i < 256; i++) {
		pa[i] = pml_heap_alloc(b.heap, 1 + i * 97);
		assert_true(heap_fix_inside(&b, pa[i], 1 + i * 97));
	}
	for (int i = 0; i < 256; i++)
		pml_heap_free(b.heap, pa[i]);
	heap_fix_close(&a);
	heap_fix_close(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stress_tcache),
		cmocka_unit_test(test_stress_no_tcache),
		cmocka_unit_test(test_two_heaps),
	};

	pmlt_watchdog(240, "test_heap_stress");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
