/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_heap_growth -- a heap on a small file under many threads: the region
 * grows (through the barrier) as they allocate, never past max_size; past
 * it every allocation fails cleanly with errno ENOMEM, and what is freed
 * can be allocated again.
 */
#include "heap_test.h"

#define MiB (1ULL << 20)
#define THREADS 6
#define MAXP 4096

struct grower {
	struct heap_fix *f;
	unsigned seed;
	void *p[MAXP];
	size_t n[MAXP];
	unsigned count;
	unsigned enomem;
};

static void *
grower_main(void *arg)
{
	struct grower *g = arg;

	while (g->count < MAXP && g->enomem < 50) {
		size_t n = 1 + rand_r(&g->seed) % (256 * 1024);
		errno = 0;
		void *p = pml_heap_alloc(g->f->heap, n);
		if (p == NULL) {
			if (errno != ENOMEM) {
				pmlt_thread_fail("alloc: errno %d", errno);
				return NULL;
			}
			g->enomem++;
			continue;
		}
		if (!heap_fix_inside(g->f, p, n)) {
			pmlt_thread_fail("%p+%zu outside the region", p, n);
			return NULL;
		}
		heap_fill(p, n);
		g->p[g->count] = p;
		g->n[g->count++] = n;
	}
	return NULL;
}

static void
test_growth_to_enomem(void **state)
{
	struct heap_fix f;
	const uint64_t max = 48 * MiB;
	heap_fix_open(&f, "heap-growth", 64 * 1024, max);
	uint64_t start = pml_region_size(f.region);

	static struct grower g[THREADS];
	pthread_t t[THREADS];
	for (unsigned i = 0; i < THREADS; i++) {
		g[i] = (struct grower){ .f = &f, .seed = 77 + i };
		assert_int_equal(pthread_create(&t[i], NULL, grower_main,
					&g[i]), 0);
	}
	for (unsigned i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	PMLT_CHECK_THREADS();

	uint64_t size = pml_region_size(f.region);
	print_message("region grew from %lu to %lu bytes (max %lu)\n",
			(unsigned long)start, (unsigned long)size,
			(unsigned long)max);
	assert_true(size > start);
	assert_true(size <= max);
	uint64_t total = 0;
	unsigned enomem = 0;
	for (unsigned i = 0; i < THREADS; i++) {
		enomem += g[i].enomem;
		for (unsigned k = 0; k < g[i].count; k++) {
			total += g[i].n[k];
			assert_int_equal(heap_check(g[i].p[k], g[i].n[k]), -1);
		}
	}
	/* the region filled: most of it is in use, and everyone saw ENOMEM */
	assert_true(enomem >= THREADS);
	assert_true(total > max / 2);
	errno = 0;
	assert_null(pml_heap_alloc(f.heap, 8 * MiB));
	assert_int_equal(errno, ENOMEM);

	/*
	 * what is freed is allocated again: at least a third of the region in
	 * 1 MiB blocks (jemalloc's own metadata lies in the region too, in
	 * blocks between the extents, so not all of it is contiguous; how
	 * much depends on how the threads interleaved: 22 to 28 of 48 MiB
	 * over 20 runs here, and half was too tight a bound)
	 */
	for (unsigned i = 0; i < THREADS; i++)
		for (unsigned k = 0; k < g[i].count; k++)
			pml_heap_free(f.heap, g[i].p[k]);
	static void *again[64];
	unsigned n = 0;
	while (n < 64 && (again[n] = pml_heap_alloc(f.heap, MiB)) != NULL) {
		assert_true(heap_fix_inside(&f, again[n], MiB));
		n++;
	}
	print_message("%u MiB allocated again\n", n);
	assert_true(n >= max / MiB / 3);
	assert_int_equal(pml_region_size(f.region), size);
	while (n-- > 0)
		pml_heap_free(f.heap, again[n]);
	heap_fix_close(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_growth_to_enomem),
	};

	pmlt_watchdog(240, "test_heap_growth");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
