/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench.h -- pml-bench: what the measurements share with the output.
 *
 * Every figure is a row: what was measured, its median over repetitions
 * and the spread (min and max of the repetitions), next to a baseline
 * measured in the same run and the ratio of the two.  Targets from issue 9
 * are printed as met / not met, never asserted.
 */
#ifndef PML_BENCH_H
#define PML_BENCH_H 1

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define BENCH_MAX_ROWS 256
#define BENCH_MAX_REPS 1024

struct stat3 {
	double med, lo, hi;	/* median, min, max (or p99 as hi) */
};

struct row {
	char section[24];
	char what[80];
	char param[24];
	char unit[12];
	struct stat3 v;
	char base_name[48];
	struct stat3 b;		/* b.med == 0: no baseline */
	double paired;		/* > 0: the ratio is the median of each
				 * repetition's own (row_paired) */
	char target[48];	/* "" or e.g. "<= 2.5x" */
	int met;		/* -1: no target */
};

struct bench_out {
	struct row rows[BENCH_MAX_ROWS];
	unsigned nrows;
	FILE *md;
	const char *dir;
};

extern struct bench_out bo;

uint64_t now_ns(void);
uint64_t thread_cpu_ns(void);
struct stat3 stat_of(double *v, unsigned n);
double pct(double *v, unsigned n, double p);

struct row *row_add(const char *section, const char *what, const char *param,
		const char *unit, struct stat3 v, const char *base_name,
		struct stat3 b);
void row_target(struct row *r, const char *target, int met);
/* the ratio of the medians is replaced by a median of per-repetition ratios */
void row_paired(struct row *r, double ratio);
void rows_print(void);
int rows_csv(void);
void section_title(const char *title);
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* O(1), O(n) or in between, from y measured at x (x may start at 0) */
const char *growth_of(const double *x, const double *y, unsigned n,
		const char *nname, char *buf, size_t len);

FILE *dat_open(const char *name, const char *header);

/* ------------------------------------------------ the run (pml-bench.c) */

#define MAXT 64
#define MiB (1024ULL * 1024)
#define DATA_SIZE (1024 * MiB)
#define THREAD_STRIDE (4 * MiB)		/* thread i leases at i * stride */
#define MANY_BASE (256 * MiB)		/* the live leases of the scaling */
#define PUNCH_BASE (512 * MiB)		/* 2 MiB ranges that get punched */
#define HELPER_BASE (768 * MiB)		/* the helper's leases */

struct pml_region;

struct bench_global {
	const char *dir;
	double scale;
	unsigned reps;
	unsigned nthreads;
	int quick;
	const char *sections;	/* -S: NULL for all */
	int ncpu;
	char data[4096];
	int fd;
	struct pml_region *r;
	char *base;
};

extern struct bench_global g;

void die(const char *what, int ret) __attribute__((noreturn));
uint64_t scaled(double n);
void pin_cpu(unsigned i);

/* ------------------------------------- per-thread operations (ops.c) */

enum op { OP_FLOOR, OP_ATOMIC, OP_RWLOCK, OP_KPIN, OP_LEASE };

struct job {
	enum op op;
	unsigned flags;
	uint64_t len;
	unsigned nthreads;
	uint64_t iters;
	pthread_barrier_t start;
	double ns[MAXT];
};

void run_ops(struct job *j, unsigned idx, uint64_t n);
/* per-thread CPU ns per operation: median over reps of the threads' mean */
struct stat3 measure(enum op op, unsigned flags, uint64_t len,
		unsigned nthreads, uint64_t iters);

/* -------------------------------------------- lease holders (holder.c) */

struct helper {
	pid_t pid;
	FILE *in, *out;
};

int helper_main(const char *path);
void helper_start(struct helper *h);
void helper_cmd(struct helper *h, const char *fmt, unsigned long long a,
		unsigned long long b, unsigned c);
void helper_stop(struct helper *h);
void local_holder_start(void);
void local_holder_stop(void);
void last_put(double *lat, unsigned n, struct helper *h, int punch);

/* --------------------------------------------- the sections (cases.c) */

extern const struct stat3 no_base;

void fast_path(const char *section, const char *suffix, unsigned nt);
void fast_paths(void);
void datapath(void);
void barrier(void);
void scaling(void);
void holders(void);

#endif /* PML_BENCH_H */
