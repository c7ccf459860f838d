/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_heap_api -- every pml_heap_* call: what it returns, what it refuses,
 * and that a heap leaves the process's malloc and free the C library's.
 */
#include <link.h>
#include <malloc.h>

#include "heap_test.h"

#define MiB (1ULL << 20)

static void
test_arguments(void **state)
{
	struct heap_fix f;
	heap_fix_open(&f, "heap-api", 2 * MiB, 64 * MiB);
	struct pml_heap *h = (void *)1;

	assert_int_equal(pml_heap_create(NULL, f.region, NULL), -EINVAL);
	assert_int_equal(pml_heap_create(&h, NULL, NULL), -EINVAL);
	assert_null(h);
	struct pml_heap_opts bad = { .flags = 0x80 };
	assert_int_equal(pml_heap_create(&h, f.region, &bad), -EINVAL);
	struct pml_heap_opts res = { .reserved[3] = 1 };
	assert_int_equal(pml_heap_create(&h, f.region, &res), -EINVAL);
	assert_int_equal(pml_heap_destroy(NULL), -EINVAL);
	assert_int_equal(pml_heap_destroy(&h), -EINVAL);

	errno = 0;
	assert_null(pml_heap_alloc(NULL, 8));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(pml_heap_alloc(f.heap, 0));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(pml_heap_alloc(f.heap, 65 * MiB));
	assert_int_equal(errno, ENOMEM);
	assert_null(pml_heap_alloc(f.heap, SIZE_MAX));
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	assert_null(pml_heap_aligned_alloc(f.heap, 24, 8));
	assert_int_equal(errno, EINVAL);
	assert_null(pml_heap_aligned_alloc(f.heap, 0, 8));
	assert_int_equal(errno, EINVAL);

	char outside[16];
	errno = 0;
	assert_null(pml_heap_realloc(f.heap, outside, 8));
	assert_int_equal(errno, EINVAL);
	pml_heap_free(f.heap, NULL);
	pml_heap_free(f.heap, outside);		/* refused, not a crash */
	assert_int_equal(pml_heap_usable_size(f.heap, outside), 0);
	assert_int_equal(pml_heap_usable_size(f.heap, NULL), 0);

	struct pml_lease *l = (void *)1;
	assert_int_equal(pml_heap_lease(&l, f.heap, outside, 0, NULL, NULL),
			-EINVAL);
	assert_null(l);
	assert_int_equal(pml_heap_lease(NULL, f.heap, f.base, 0, NULL, NULL),
			-EINVAL);
	assert_int_equal(pml_heap_alloc_lease(&l, f.heap, 0, 0, NULL, NULL),
			-EINVAL);
	assert_int_equal(pml_heap_alloc_lease(&l, NULL, 8, 0, NULL, NULL),
			-EINVAL);
	assert_int_equal(pml_heap_lease_put(f.heap, NULL), -EINVAL);
	heap_fix_close(&f);
}

static void
test_calls(void **state)
{
	struct heap_fix f;
	heap_fix_open(&f, "heap-api", 2 * MiB, 64 * MiB);

	char *p = pml_heap_alloc(f.heap, 100);
	assert_non_null(p);
	assert_true(heap_fix_inside(&f, p, 100));
	assert_true(pml_heap_usable_size(f.heap, p) >= 100);
	heap_fill(p, 100);

	char *q = pml_heap_realloc(f.heap, p, 100000);
	assert_non_null(q);
	assert_true(heap_fix_inside(&f, q, 100000));
	for (int i = 0; i < 100; i++)	/* moved with p's pattern */
		assert_int_equal((uint8_t)q[i], heap_byte(p, i));
	assert_true(pml_heap_usable_size(f.heap, q) >= 100000);
	errno = 0;
	assert_null(pml_heap_realloc(f.heap, q, 0));
	assert_int_equal(errno, EINVAL);

	void *a = pml_heap_aligned_alloc(f.heap, 2 * MiB, 3000);
	assert_non_null(a);
	assert_int_equal((uintptr_t)a % (2 * MiB), 0);
	assert_true(heap_fix_inside(&f, a, 3000));

	/* the one-step lease: its address is the allocation */
	struct pml_lease *l;
	assert_int_equal(pml_heap_alloc_lease(&l, f.heap, 5000, PML_LEASE_PIN,
				NULL, NULL), 0);
	char *lp = pml_lease_addr(l);
	assert_true(heap_fix_inside(&f, lp, 5000));
	assert_int_equal(pml_lease_offset(l), (uint64_t)(lp - f.base));
	assert_int_equal(pml_lease_length(l), pml_heap_usable_size(f.heap, lp));
	errno = 0;
	assert_null(pml_heap_realloc(f.heap, lp, 100000));
	assert_int_equal(errno, EBUSY);
	/* destroy refuses while the lease lives; nothing changed */
	assert_int_equal(pml_heap_destroy(&f.heap), -EBUSY);
	assert_non_null(f.heap);
	/* a lease the heap did not take is not the heap's to put */
	struct pml_lease *direct;
	assert_int_equal(pml_lease_acquire(&direct, f.region, 0, 4096,
				PML_LEASE_REF, NULL, NULL), 0);
	assert_int_equal(pml_heap_lease_put(f.heap, direct), -EINVAL);
	assert_int_equal(pml_lease_put(direct), 0);
	assert_int_equal(pml_heap_lease_put(f.heap, l), 0);
	assert_int_equal(pml_heap_lease_put(f.heap, l), -EINVAL);
	pml_heap_free(f.heap, lp);

	pml_heap_free(f.heap, q);
	pml_heap_free(f.heap, a);
	assert_int_equal(pml_heap_destroy(&f.heap), 0);
	assert_null(f.heap);
	/* the region is the caller's: still open and usable */
	assert_true(pml_region_size(f.region) >= 2 * MiB);
	assert_int_equal(pml_heap_create(&f.heap, f.region, NULL), 0);
	assert_non_null(pml_heap_alloc(f.heap, 10));
	heap_fix_close(&f);
}

/* the library that defines the symbol the process binds name to */
static const char *
provider(void *addr)
{
	Dl_info di;

	assert_true(dladdr(addr, &di) != 0);
	return di.dli_fname;
}

static void
test_malloc_untouched(void **state)
{
	struct heap_fix f;
	heap_fix_open(&f, "heap-api", 2 * MiB, 64 * MiB);
	void *hp = pml_heap_alloc(f.heap, 64);
	assert_non_null(hp);

	/* the process's malloc and free are libc's, not jemalloc's */
	const char *fns[] = { "malloc", "free", "calloc", "realloc",
			"posix_memalign", "malloc_usable_size" };
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		void *sym = dlsym(RTLD_DEFAULT, fns[i]);
		assert_non_null(sym);
		const char *lib = provider(sym);
		/* sanitizer builds put their own malloc in the executable */
		if (strstr(lib, "jemalloc") != NULL)
			fail_msg("%s binds to %s", fns[i], lib);
	}
	void *mallocx_sym = dlsym(RTLD_DEFAULT, "mallocx");
	assert_non_null(mallocx_sym);
	assert_non_null(strstr(provider(mallocx_sym), "jemalloc"));

	/* and malloc's memory is nowhere near the region */
	void *m = malloc(64);
	assert_non_null(m);
	assert_false(heap_fix_inside(&f, m, 1));
	assert_true(malloc_usable_size(m) >= 64);
	free(m);
	pml_heap_free(f.heap, hp);
	heap_fix_close(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arguments),
		cmocka_unit_test(test_calls),
		cmocka_unit_test(test_malloc_untouched),
	};

	pmlt_watchdog(120, "test_heap_api");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
