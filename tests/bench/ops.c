/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ops.c -- the per-thread operations timed side by side: a lease
 * acquire+put and its baselines (the fenced per-thread slot that is the
 * floor, one shared atomic counter, a pthread_rwlock read lock, a kernel
 * page pin round trip), run on N threads pinned to the CPUs in turn.
 */
#include <errno.h>
#include <fcntl.h>
#include <pmemlease.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench.h"

struct slot {
	_Atomic uint64_t v;
} __attribute__((aligned(64)));

static struct slot slots[MAXT];
static _Atomic int bias_flag;
static _Atomic uint64_t shared_counter __attribute__((aligned(64)));
static pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;
static char kpin_page[4096] __attribute__((aligned(4096)));

void
run_ops(struct job *j, unsigned idx, uint64_t n)
{
	struct slot *s = &slots[idx];
	uint64_t off = (uint64_t)idx * THREAD_STRIDE;
	char buf[8];
	struct iovec lo = { buf, 8 }, re = { kpin_page + 64 * (idx % 64), 8 };
	pid_t pid = getpid();

	for (uint64_t i = 0; i < n; i++) {
		switch (j->op) {
		case OP_FLOOR:
			atomic_store_explicit(&s->v, 1, memory_order_relaxed);
			atomic_thread_fence(memory_order_seq_cst);
			if (atomic_load_explicit(&bias_flag,
					memory_order_relaxed))
				abort();
			atomic_store_explicit(&s->v, 0, memory_order_release);
			break;
		case OP_ATOMIC:
			atomic_fetch_add(&shared_counter, 1);
			atomic_fetch_sub(&shared_counter, 1);
			break;
		case OP_RWLOCK:
			pthread_rwlock_rdlock(&rwlock);
			pthread_rwlock_unlock(&rwlock);
			break;
		case OP_KPIN:
			if (process_vm_readv(pid, &lo, 1, &re, 1, 0) != 8)
				abort();
			break;
		case OP_LEASE: {
			struct pml_lease *l;
			int ret = pml_lease_acquire(&l, g.r, off, j->len,
					j->flags, NULL, NULL);

			if (ret)
				die("acquire", ret);
			pml_lease_put(l);
			break;
		}
		}
	}
}

struct worker {
	pthread_t t;
	unsigned idx;
	struct job *j;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct job *j = w->j;

	pin_cpu(w->idx);
	run_ops(j, w->idx, j->iters / 10 + 1);	/* warm-up */
	pthread_barrier_wait(&j->start);

	uint64_t t0 = thread_cpu_ns();

	run_ops(j, w->idx, j->iters);
	j->ns[w->idx] = (double)(thread_cpu_ns() - t0) / (double)j->iters;
	return NULL;
}

struct stat3
measure(enum op op, unsigned flags, uint64_t len, unsigned nthreads,
		uint64_t iters)
{
	double reps[BENCH_MAX_REPS];
	struct worker w[MAXT];
	struct job j = { .op = op, .flags = flags, .len = len,
		.nthreads = nthreads, .iters = iters };

	for (unsigned r = 0; r < g.reps; r++) {
		double sum = 0;

		pthread_barrier_init(&j.start, NULL, nthreads);
		for (unsigned i = 0; i < nthreads; i++) {
			w[i].idx = i;
			w[i].j = &j;
			pthread_create(&w[i].t, NULL, worker_main, &w[i]);
		}
		for (unsigned i = 0; i < nthreads; i++) {
			pthread_join(w[i].t, NULL);
			sum += j.ns[i];
		}
		pthread_barrier_destroy(&j.start);
		reps[r] = sum / nthreads;
	}
	return stat_of(reps, g.reps);
}

