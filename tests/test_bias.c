/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_bias -- the owner's fast path (lib/context.c) against everybody who
 * revokes its bias: punches that must find every lease over their range,
 * puts from other threads, threads that exit holding leases, threads that
 * exit while the region closes.
 *
 * The invariant is checked end to end, through the data: a thread holding a
 * lease writes its mark into the leased page and reads it back before the
 * put.  A punch that slipped past the lease would hand the page back to the
 * filesystem, and the mark would read as zeroes.
 *
 * ctest runs this program twice: biased, and with PMEMLEASE_NO_BIAS=1 (every
 * owner on the spinlock, as where membarrier(2) is missing).
 */
#include "common.h"

#include <stdlib.h>
#include <unistd.h>

#define NPAGES 16
#define PUNCH_FIRST 4
#define PUNCH_PAGES 4

static uint64_t A;

struct fix {
	char path[4200];
	struct pml_region *r;
	char *base;
	atomic_int stop;
};

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	A = pmlt_probe_alignment();
	pmlt_path(f->path, sizeof(f->path), "bias");
	pmlt_make_file(f->path, NPAGES * A, 3);
	f->r = pmlt_open(f->path, NPAGES * A, 0);
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

/* a mark only this holder writes: nonzero, different every time */
static uint64_t
mark_of(unsigned who, uint64_t i)
{
	return ((uint64_t)(who + 1) << 48) | (i + 1);
}

static _Atomic uint64_t *
mark_at(struct fix *f, uint64_t page, unsigned who)
{
	return (_Atomic uint64_t *)(void *)(f->base + page * A + who * 64);
}

/* the page is still the one we wrote: no punch took it while leased */
static bool
mark_kept(struct fix *f, uint64_t page, unsigned who, uint64_t i)
{
	_Atomic uint64_t *m = mark_at(f, page, who);

	for (unsigned k = 0; k < 64; k++)	/* give a wrong punch time */
		if (atomic_load_explicit(m, memory_order_relaxed) !=
				mark_of(who, i))
			return false;
	return true;
}

static void
punch_until(struct fix *f, atomic_uint *count, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		int rc = pml_region_punch(f->r, PUNCH_FIRST * A,
				PUNCH_PAGES * A, NULL);

		if (rc)
			fail_msg("punch %lu: %d: %s", (unsigned long)i, rc,
					pml_errormsg());
		atomic_fetch_add(count, 1);
	}
}

/* ------------------------------------------------ owners against punches */

struct owner {
	struct fix *f;
	unsigned who;
	atomic_uint_fast64_t held_in_punch;	/* leases over the punched pages */
};

static void *
owner_main(void *p)
{
	struct owner *o = p;
	struct fix *f = o->f;

	for (uint64_t i = 0; !atomic_load(&f->stop); i++) {
		uint64_t page = (o->who * 5 + i) % NPAGES;
		struct pml_lease *l;
		int rc = pml_lease_acquire(&l, f->r, page * A, A, PML_LEASE_PIN,
				NULL, NULL);

		if (rc) {
			pmlt_thread_fail("acquire page %lu: %d: %s",
					(unsigned long)page, rc, pml_errormsg());
			return NULL;
		}
		atomic_store_explicit(mark_at(f, page, o->who),
				mark_of(o->who, i), memory_order_relaxed);
		if (!mark_kept(f, page, o->who, i))
			pmlt_thread_fail("page %lu was punched under a live "
					"lease (owner %u)", (unsigned long)page,
					o->who);
		if (page >= PUNCH_FIRST && page < PUNCH_FIRST + PUNCH_PAGES)
			atomic_fetch_add(&o->held_in_punch, 1);
		rc = pml_lease_put(l);
		if (rc) {
			pmlt_thread_fail("put: %d: %s", rc, pml_errormsg());
			return NULL;
		}
	}
	return NULL;
}

static void
test_owners_against_punches(void **state)
{
	struct fix *f = *state;
	struct owner o[3];
	pthread_t t[3];
	atomic_uint punches = 0;

	for (unsigned i = 0; i < 3; i++) {
		o[i] = (struct owner){ .f = f, .who = i };
		pthread_create(&t[i], NULL, owner_main, &o[i]);
	}
	/* until every owner held leases over the punched pages many times */
	for (uint64_t want = pmlt_scaled(2000);;) {
		punch_until(f, &punches, 20);
		if (atomic_load(&o[0].held_in_punch) >= want &&
				atomic_load(&o[1].held_in_punch) >= want &&
				atomic_load(&o[2].held_in_punch) >= want)
			break;
	}
	atomic_store(&f->stop, 1);
	for (unsigned i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	PMLT_CHECK_THREADS();
	PMLT_OK(pml_region_close(&f->r));
}

/* --------------------------------------------- puts from another thread */

#define RING 64

struct ring {
	struct pml_lease *l[RING];
	uint64_t page[RING];
	uint64_t i[RING];
	atomic_uint head, tail;
};

struct pair {
	struct fix *f;
	struct ring q;
	uint64_t handed;
	atomic_uint_fast64_t put;
};

static void *
producer_main(void *p)
{
	struct pair *c = p;
	struct fix *f = c->f;

	for (uint64_t i = 0; !atomic_load(&f->stop); i++) {
		unsigned h = atomic_load(&c->q.head);

		if (h - atomic_load(&c->q.tail) == RING) {
			sched_yield();
			continue;
		}

		uint64_t page = i % NPAGES;
		struct pml_lease *l;
		int rc = pml_lease_acquire(&l, f->r, page * A, A, PML_LEASE_PIN,
				NULL, NULL);

		if (rc) {
			pmlt_thread_fail("acquire: %d: %s", rc, pml_errormsg());
			break;
		}
		atomic_store_explicit(mark_at(f, page, 0), mark_of(0, i),
				memory_order_relaxed);
		c->q.l[h % RING] = l;
		c->q.page[h % RING] = page;
		c->q.i[h % RING] = i;
		atomic_store(&c->q.head, h + 1);
		c->handed++;
	}
	return NULL;
}

static void *
consumer_main(void *p)
{
	struct pair *c = p;
	struct fix *f = c->f;

	for (;;) {
		unsigned t = atomic_load(&c->q.tail);

		if (t == atomic_load(&c->q.head)) {
			if (atomic_load(&f->stop) == 2)
				break;
			sched_yield();
			continue;
		}

		/* the producer may have leased the page again since: check
		 * only that it is not zeroes, the mark of a punch */
		uint64_t v = atomic_load_explicit(mark_at(f, c->q.page[t % RING],
				0), memory_order_relaxed);

		if (v == 0)
			pmlt_thread_fail("page %lu was punched under a lease "
					"held across threads",
					(unsigned long)c->q.page[t % RING]);

		int rc = pml_lease_put(c->q.l[t % RING]);

		if (rc)
			pmlt_thread_fail("put from the consumer: %d: %s", rc,
					pml_errormsg());
		atomic_store(&c->q.tail, t + 1);
		atomic_fetch_add(&c->put, 1);
	}
	return NULL;
}

static void
test_foreign_puts(void **state)
{
	struct fix *f = *state;
	struct pair c = { .f = f };
	pthread_t pt, ct;
	atomic_uint punches = 0;

	pthread_create(&pt, NULL, producer_main, &c);
	pthread_create(&ct, NULL, consumer_main, &c);
	while (atomic_load(&punches) < 200 || atomic_load(&c.put) < pmlt_scaled(20000))
		punch_until(f, &punches, 20);
	atomic_store(&f->stop, 1);
	pthread_join(pt, NULL);
	atomic_store(&f->stop, 2);
	pthread_join(ct, NULL);
	PMLT_CHECK_THREADS();
	assert_true(c.handed > 0);
	assert_int_equal(c.handed, c.put);
	/* every lease let go: close finds none */
	PMLT_OK(pml_region_close(&f->r));
}

/* ------------------------------------------- threads that exit holding */

struct exiter {
	struct fix *f;
	uint64_t first;
	struct pml_lease *l[8];
};

static void *
exiter_main(void *p)
{
	struct exiter *e = p;

	for (unsigned i = 0; i < 8; i++)
		if (pml_lease_acquire(&e->l[i], e->f->r, (e->first + i) * A, A,
				PML_LEASE_PIN, NULL, NULL))
			pmlt_thread_fail("acquire: %s", pml_errormsg());
	return NULL;	/* exits holding eight leases: its context orphaned */
}

static void
test_exit_holding(void **state)
{
	struct fix *f = *state;

	for (unsigned round = 0; round < 20; round++) {
		struct exiter e[2] = { { .f = f, .first = 0 },
			{ .f = f, .first = 8 } };

		/* the second adopts the first's context, leases and all */
		for (unsigned k = 0; k < 2; k++) {
			pthread_t t;

			pthread_create(&t, NULL, exiter_main, &e[k]);
			pthread_join(t, NULL);
		}
		PMLT_CHECK_THREADS();
		PMLT_RC(-EBUSY, pml_region_close(&f->r));
		for (unsigned k = 0; k < 2; k++)
			for (unsigned i = 0; i < 8; i++)
				PMLT_OK(pml_lease_put(e[k].l[i]));
		for (unsigned i = 0; i < 8; i++)
			PMLT_RC(-EINVAL, pml_lease_put(e[1].l[i]));
		/* nothing left to wait for */
		PMLT_OK(pml_region_punch(f->r, 0, NPAGES * A, NULL));
	}
	PMLT_OK(pml_region_close(&f->r));
}

/*
 * Threads that leased, put, and are exiting -- their context given up for
 * adoption in a thread-exit handler -- while the region closes: the close
 * must wait for the handler, never free the contexts under it.
 */
struct racer {
	struct fix *f;
	unsigned page;
	atomic_int *done;
};

static void *
racer_main(void *arg)
{
	struct racer *rc = arg;
	struct pml_lease *l;

	if (pml_lease_acquire(&l, rc->f->r, rc->page * A, A, PML_LEASE_REF,
			NULL, NULL) || pml_lease_put(l))
		pmlt_thread_fail("lease: %s", pml_errormsg());
	atomic_fetch_add(rc->done, 1);
	return NULL;	/* its context is orphaned now, racing the close */
}

static void
test_exit_racing_close(void **state)
{
	struct fix *f = *state;
	unsigned rounds = pmlt_scaled(300);

	for (unsigned round = 0; round < rounds; round++) {
		atomic_int done = 0;
		struct racer rc[NPAGES];
		pthread_t t[NPAGES];

		for (unsigned k = 0; k < NPAGES; k++) {
			rc[k] = (struct racer){ f, k, &done };
			pthread_create(&t[k], NULL, racer_main, &rc[k]);
		}
		while (atomic_load(&done) < NPAGES)
			;
		PMLT_OK(pml_region_close(&f->r));
		for (unsigned k = 0; k < NPAGES; k++)
			pthread_join(t[k], NULL);
		PMLT_CHECK_THREADS();
		f->r = pmlt_open(f->path, NPAGES * A, 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_owners_against_punches,
				setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_puts, setup,
				teardown),
		cmocka_unit_test_setup_teardown(test_exit_holding, setup,
				teardown),
		cmocka_unit_test_setup_teardown(test_exit_racing_close, setup,
				teardown),
	};

	pmlt_watchdog(240, "test_bias");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
