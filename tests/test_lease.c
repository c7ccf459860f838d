/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_lease -- acquire, get, put and the lease accessors, with no barrier
 * in the way: REF and PIN, NOWAIT, puts from other threads, many leases at
 * once, ranges with no alignment, refcounts hammered from many threads.
 */
#include "common.h"

#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#define NPAGES 32

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
	pmlt_path(f->path, sizeof(f->path), "lease");
	pmlt_make_file(f->path, f->size, 5);
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
	if (f->r) {
		int rc = pml_region_close(&f->r);
		if (rc)
			fprintf(stderr, "teardown: close: %d: %s\n", rc,
					pml_errormsg());
	}
	unlink(f->path);
	free(f);
	return 0;
}

/* close must work: no reference was left behind */
static void
all_released(struct fix *f)
{
	int rc = pml_region_close(&f->r);
	if (rc)
		fail_msg("close after releasing every lease: %d (%s): %s", rc,
				pmlt_errname(rc), pml_errormsg());
	assert_null(f->r);
}

static void
test_basic(void **state)
{
	struct fix *f = *state;
	struct pml_lease *l = NULL;
	PMLT_OK(pml_lease_acquire(&l, f->r, 3 * A + 17, 1000, PML_LEASE_PIN,
			NULL, NULL));
	assert_non_null(l);
	assert_ptr_equal(pml_lease_addr(l), f->base + 3 * A + 17);
	assert_int_equal(pml_lease_offset(l), 3 * A + 17);
	assert_int_equal(pml_lease_length(l), 1000);
	assert_int_equal(pml_lease_revoked(l), 0);

	/* the address is the file's data, both ways */
	uint8_t *p = pml_lease_addr(l);
	assert_int_equal(pmlt_check_pattern(p, 3 * A + 17, 1000, 5), -1);
	memset(p, 0xc3, 1000);
	PMLT_OK(pml_region_persist(f->r, p, 1000));
	uint8_t buf[1002];
	pmlt_read_file(f->path, 3 * A + 16, buf, 1002);
	assert_int_equal(buf[0], pmlt_pattern(5, 3 * A + 16));
	for (int i = 1; i <= 1000; i++)
		assert_int_equal(buf[i], 0xc3);
	assert_int_equal(buf[1001], pmlt_pattern(5, 3 * A + 1017));

	/* refcount: get adds a holder, each put drops one */
	PMLT_OK(pml_lease_get(l));
	PMLT_OK(pml_lease_get(l));
	PMLT_OK(pml_lease_put(l));
	PMLT_OK(pml_lease_put(l));
	assert_int_equal(pml_lease_revoked(l), 0);
	assert_ptr_equal(pml_lease_addr(l), p);
	PMLT_RC(-EBUSY, pml_region_close(&f->r));
	PMLT_OK(pml_lease_put(l));
	all_released(f);
}

static void
test_kinds_and_flags(void **state)
{
	struct fix *f = *state;
	struct pml_lease *l[6];
	const unsigned fl[6] = {
		PML_LEASE_PIN, PML_LEASE_REF, PML_LEASE_NOWAIT,
		PML_LEASE_REF | PML_LEASE_NOWAIT, PML_LEASE_PIN, PML_LEASE_REF,
	};
	assert_int_equal(PML_LEASE_PIN, 0);
	/* overlapping leases of any kind coexist */
	for (int i = 0; i < 6; i++) {
		PMLT_OK(pml_lease_acquire(&l[i], f->r, 2 * A, 2 * A, fl[i],
				NULL, NULL));
		assert_ptr_equal(pml_lease_addr(l[i]), f->base + 2 * A);
	}
	for (int i = 0; i < 6; i++)
		for (int j = i + 1; j < 6; j++)
			assert_ptr_not_equal(l[i], l[j]);
	for (int i = 5; i >= 0; i--)
		PMLT_OK(pml_lease_put(l[i]));
	all_released(f);
}

static void
test_edges_no_alignment(void **state)
{
	struct fix *f = *state;
	uint64_t S = f->size;
	struct { uint64_t off, len; } ok[] = {
		{ 0, 1 }, { S - 1, 1 }, { 0, S }, { 1, S - 1 }, { 0, S - 1 },
		{ A - 1, 2 }, { 12345, 6789 }, { S - A - 3, A + 3 },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		for (unsigned fl = 0; fl < 4; fl++) {
			struct pml_lease *l;
			PMLT_OK(pml_lease_acquire(&l, f->r, ok[i].off,
					ok[i].len, fl, NULL, NULL));
			assert_ptr_equal(pml_lease_addr(l),
					f->base + ok[i].off);
			assert_int_equal(pml_lease_offset(l), ok[i].off);
			assert_int_equal(pml_lease_length(l), ok[i].len);
			volatile uint8_t *last = (uint8_t *)pml_lease_addr(l) +
				ok[i].len - 1;
			assert_int_equal(*last, pmlt_pattern(5, ok[i].off +
					ok[i].len - 1));
			PMLT_OK(pml_lease_put(l));
		}
	}
	all_released(f);
}

/* ---------------------------------------------------------- other thread */

struct xput {
	struct pml_lease *l;
	int rc;
};

static void *
put_elsewhere(void *p)
{
	struct xput *x = p;
	x->rc = pml_lease_put(x->l);
	return NULL;
}

static void
test_put_from_other_thread(void **state)
{
	struct fix *f = *state;
	struct xput x[8];
	pthread_t t[8];
	for (int i = 0; i < 8; i++) {
		PMLT_OK(pml_lease_acquire(&x[i].l, f->r, (uint64_t)i * A, A,
				i % 2 ? PML_LEASE_REF : PML_LEASE_PIN, NULL,
				NULL));
		x[i].rc = 1;
		pthread_create(&t[i], NULL, put_elsewhere, &x[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		PMLT_RC(0, x[i].rc);
	}
	/* and a get in this thread, put in another */
	struct xput y = { .rc = 1 };
	PMLT_OK(pml_lease_acquire(&y.l, f->r, 0, f->size, 0, NULL, NULL));
	PMLT_OK(pml_lease_get(y.l));
	pthread_t u;
	pthread_create(&u, NULL, put_elsewhere, &y);
	pthread_join(u, NULL);
	PMLT_RC(0, y.rc);
	PMLT_RC(-EBUSY, pml_region_close(&f->r));
	pthread_create(&u, NULL, put_elsewhere, &y);
	pthread_join(u, NULL);
	PMLT_RC(0, y.rc);
	all_released(f);
}

/* ------------------------------------------------------------ many live */

struct putter {
	struct pml_lease **l;
	size_t from, to;
};

static void *
put_range(void *p)
{
	struct putter *pu = p;
	for (size_t i = pu->from; i < pu->to; i++) {
		int rc = pml_lease_put(pu->l[i]);
		if (rc) {
			pmlt_thread_fail("put of lease %zu: %d: %s", i, rc,
					pml_errormsg());
			return NULL;
		}
	}
	return NULL;
}

static void
test_many_leases(void **state)
{
	struct fix *f = *state;
	size_t n = (size_t)pmlt_scaled(100000);
	struct pml_lease **l = malloc(n * sizeof(*l));
	struct pmlt_rng rng = { pmlt_seed("test_many_leases") };
	uint64_t *off = malloc(n * sizeof(*off));
	for (size_t i = 0; i < n; i++) {
		uint64_t o = pmlt_below(&rng, f->size);
		uint64_t len = 1 + pmlt_below(&rng, f->size - o);
		off[i] = o;
		int rc = pml_lease_acquire(&l[i], f->r, o, len,
				i % 3 ? PML_LEASE_PIN : PML_LEASE_REF, NULL,
				NULL);
		if (rc)
			fail_msg("lease %zu of %zu: %d (%s): %s", i, n, rc,
					pmlt_errname(rc), pml_errormsg());
	}
	/* all distinct and all still right after the others came */
	for (size_t i = 0; i < n; i++)
		if (pml_lease_addr(l[i]) != f->base + off[i] ||
				pml_lease_offset(l[i]) != off[i])
			fail_msg("lease %zu points at the wrong place", i);
	/* release them from four threads at once */
	enum { T = 4 };
	pthread_t t[T];
	struct putter pu[T];
	for (int i = 0; i < T; i++) {
		pu[i] = (struct putter){ l, n * i / T, n * (i + 1) / T };
		pthread_create(&t[i], NULL, put_range, &pu[i]);
	}
	for (int i = 0; i < T; i++)
		pthread_join(t[i], NULL);
	PMLT_CHECK_THREADS();
	free(l);
	free(off);
	/* nothing lingers: a punch of everything needs no wait */
	PMLT_OK(pml_region_punch(f->r, 0, f->size, NULL));
	all_released(f);
}

/* ------------------------------------------- concurrent acquire and put */

struct churn {
	struct fix *f;
	int id;
	uint64_t iters;
	uint64_t seed;
};

static void *
churn_main(void *p)
{
	struct churn *c = p;
	struct pmlt_rng rng = { c->seed };
	/* each thread owns pages id, id + 4, ...: disjoint from the others */
	for (uint64_t i = 0; i < c->iters; i++) {
		uint64_t page = (uint64_t)c->id + 4 * pmlt_below(&rng,
				NPAGES / 4);
		uint64_t o = page * A + pmlt_below(&rng, A);
		uint64_t len = 1 + pmlt_below(&rng, page * A + A - o);
		struct pml_lease *l;
		unsigned fl = (unsigned)pmlt_below(&rng, 4);
		int rc = pml_lease_acquire(&l, c->f->r, o, len, fl, NULL,
				NULL);
		if (rc) {
			pmlt_thread_fail("thread %d: acquire: %d: %s", c->id,
					rc, pml_errormsg());
			return NULL;
		}
		uint8_t *a = pml_lease_addr(l);
		if (a != (uint8_t *)c->f->base + o) {
			pmlt_thread_fail("thread %d: wrong address", c->id);
			return NULL;
		}
		/* stamp the bytes: a lease handed to two owners shows up */
		uint8_t stamp = (uint8_t)(c->id + 1);
		a[0] = stamp;
		a[len - 1] = stamp;
		if (pmlt_below(&rng, 2)) {
			rc = pml_lease_get(l);
			if (!rc)
				rc = pml_lease_put(l);
		}
		if (a[0] != stamp || a[len - 1] != stamp)
			pmlt_thread_fail("thread %d: its bytes changed", c->id);
		if (!rc)
			rc = pml_lease_put(l);
		if (rc) {
			pmlt_thread_fail("thread %d: get/put: %d: %s", c->id,
					rc, pml_errormsg());
			return NULL;
		}
	}
	return NULL;
}

static void
test_concurrent_disjoint(void **state)
{
	struct fix *f = *state;
	enum { T = 4 };
	pthread_t t[T];
	struct churn c[T];
	uint64_t seed = pmlt_seed("test_concurrent_disjoint");
	for (int i = 0; i < T; i++) {
		c[i] = (struct churn){ f, i, pmlt_scaled(PMLT_TSAN ? 20000 :
				100000), seed + (uint64_t)i };
		pthread_create(&t[i], NULL, churn_main, &c[i]);
	}
	for (int i = 0; i < T; i++)
		pthread_join(t[i], NULL);
	PMLT_CHECK_THREADS();
	all_released(f);
}

struct shared {
	struct pml_lease *l;
	uint64_t iters;
};

static void *
shared_main(void *p)
{
	struct shared *s = p;
	for (uint64_t i = 0; i < s->iters; i++) {
		int rc = pml_lease_get(s->l);
		if (!rc)
			rc = pml_lease_put(s->l);
		if (rc) {
			pmlt_thread_fail("get/put on a shared lease: %d: %s",
					rc, pml_errormsg());
			return NULL;
		}
	}
	return NULL;
}

/* one lease shared by many in-flight I/Os: the count must not drift */
static void
test_shared_refcount(void **state)
{
	struct fix *f = *state;
	struct shared s = { NULL, pmlt_scaled(PMLT_TSAN ? 20000 : 200000) };
	PMLT_OK(pml_lease_acquire(&s.l, f->r, A, A, PML_LEASE_PIN, NULL,
			NULL));
	enum { T = 4 };
	pthread_t t[T];
	for (int i = 0; i < T; i++)
		pthread_create(&t[i], NULL, shared_main, &s);
	for (int i = 0; i < T; i++)
		pthread_join(t[i], NULL);
	PMLT_CHECK_THREADS();
	assert_int_equal(pml_lease_revoked(s.l), 0);
	PMLT_RC(-EBUSY, pml_region_close(&f->r));
	PMLT_OK(pml_lease_put(s.l));
	PMLT_RC(-EINVAL, pml_lease_put(s.l));
	all_released(f);
}

/* ------------------------------------------------------ leases vs growth */

static void
test_lease_across_growth(void **state)
{
	struct fix *f = *state;
	struct pmlt_holder h;
	pmlt_holder_init(&h, 1);
	PMLT_OK(pmlt_hold(&h, f->r, 0, f->size, PML_LEASE_PIN));
	char *p = pml_lease_addr(h.lease);

	/* growth is no layout change of leased blocks: nobody is asked */
	PMLT_OK(pml_region_truncate(f->r, 2 * f->size, NULL));
	assert_int_equal(atomic_load(&h.n_layout), 0);
	assert_ptr_equal(pml_lease_addr(h.lease), p);
	assert_int_equal(pmlt_check_pattern(p, 0, f->size, 5), -1);

	/* the new part takes leases right away, the old lease stays */
	struct pml_lease *l;
	PMLT_OK(pml_lease_acquire(&l, f->r, 2 * f->size - 1, 1,
			PML_LEASE_NOWAIT, NULL, NULL));
	assert_int_equal(*(char *)pml_lease_addr(l), 0);
	PMLT_OK(pml_lease_put(l));
	PMLT_OK(pml_lease_acquire(&l, f->r, f->size - 1, 2, PML_LEASE_REF,
			NULL, NULL));
	PMLT_OK(pml_lease_put(l));
	PMLT_OK(pml_lease_put(h.lease));
	assert_int_equal(atomic_load(&h.n_layout), 0);
	assert_int_equal(atomic_load(&h.n_revoked), 0);
	all_released(f);
}

/* with no barrier, NOWAIT never says -EAGAIN */
static void
test_nowait_without_barrier(void **state)
{
	struct fix *f = *state;
	struct pml_lease *l[64];
	for (int i = 0; i < 64; i++)
		PMLT_OK(pml_lease_acquire(&l[i], f->r, (uint64_t)i * 100,
				f->size / 2, PML_LEASE_NOWAIT |
				(i % 2 ? PML_LEASE_REF : 0), NULL, NULL));
	for (int i = 0; i < 64; i++)
		PMLT_OK(pml_lease_put(l[i]));
	all_released(f);
}

static int
punch_fn(void *p)
{
	struct fix *f = p;
	return pml_region_punch(f->r, 2 * A, 2 * A, NULL);
}

/* under a raised barrier NOWAIT says -EAGAIN, and only over its range */
static void
test_nowait_under_barrier(void **state)
{
	struct fix *f = *state;
	struct pmlt_holder h;
	pmlt_holder_init(&h, 1);
	PMLT_OK(pmlt_hold(&h, f->r, 3 * A, 1, PML_LEASE_PIN));
	struct pmlt_async a;
	pmlt_async_start(&a, punch_fn, f);
	pmlt_wait_atomic_ge(&h.n_layout, 1, "on_break(LAYOUT)");
	struct pml_lease *l;
	for (unsigned fl = 0; fl < 2; fl++) {
		PMLT_RC(-EAGAIN, pml_lease_acquire(&l, f->r, 2 * A, 1,
				PML_LEASE_NOWAIT | fl, NULL, NULL));
		PMLT_RC(-EAGAIN, pml_lease_acquire(&l, f->r, A, A + 1,
				PML_LEASE_NOWAIT | fl, NULL, NULL));
		PMLT_RC(-EAGAIN, pml_lease_acquire(&l, f->r, 4 * A - 1, 9,
				PML_LEASE_NOWAIT | fl, NULL, NULL));
		PMLT_OK(pml_lease_acquire(&l, f->r, A, A, PML_LEASE_NOWAIT |
				fl, NULL, NULL));
		PMLT_OK(pml_lease_put(l));
		PMLT_OK(pml_lease_acquire(&l, f->r, 4 * A, A, PML_LEASE_NOWAIT |
				fl, NULL, NULL));
		PMLT_OK(pml_lease_put(l));
	}
	/* an existing lease over the range still takes more holders */
	PMLT_OK(pml_lease_get(h.lease));
	PMLT_OK(pml_lease_put(h.lease));
	assert_false(pmlt_async_is_done(&a));
	PMLT_OK(pml_lease_put(h.lease));
	PMLT_RC(0, pmlt_async_finish(&a, "punch"));
	PMLT_OK(pml_lease_acquire(&l, f->r, 2 * A, 2 * A, PML_LEASE_NOWAIT,
			NULL, NULL));
	PMLT_OK(pml_lease_put(l));
	all_released(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kinds_and_flags, setup,
				teardown),
		cmocka_unit_test_setup_teardown(test_edges_no_alignment, setup,
				teardown),
		cmocka_unit_test_setup_teardown(test_put_from_other_thread,
				setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_leases, setup,
				teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_disjoint,
				setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_refcount, setup,
				teardown),
		cmocka_unit_test_setup_teardown(test_lease_across_growth,
				setup, teardown),
		cmocka_unit_test_setup_teardown(test_nowait_without_barrier,
				setup, teardown),
		cmocka_unit_test_setup_teardown(test_nowait_under_barrier,
				setup, teardown),
	};
	return PMLT_RUN("test_lease", tests);
}
