/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * intercept-bench -- what libpmemlease-intercept.so costs a program's
 * ftruncate(2) and fallocate(2), next to the bare system call in the same
 * run.  Linked against the intercept, so the program's own ftruncate and
 * fallocate are the intercept's, as under LD_PRELOAD.
 *
 *   unleased   a file with no lease state anywhere: the one lookup
 *              (fstat + stat of the state file) the header promises;
 *   leased     a file this process has a region open on, the call over a
 *              range nobody leases: the whole barrier (layout ownership
 *              across processes, drain of nobody, the call, the region
 *              following the size).
 *
 * Every figure is a median over repetitions; in each repetition the ways
 * run one batch each, in an order that rotates, and the ratio is the
 * median of the repetitions' own ratios.
 *
 * usage: intercept-bench [-d DIR] [-r REPS] [-n CALLS]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"
#include "pmemlease.h"
#include "pmemlease_intercept.h"


enum way {
	RAW_TRUNC,	/* syscall(SYS_ftruncate): the baseline */
	ICPT_TRUNC,	/* ftruncate through the intercept, unleased */
	RAW_PUNCH,
	ICPT_PUNCH,
	LEASED_TRUNC,	/* through the barrier */
	LEASED_PUNCH,
	NWAYS
};

static const char *const names[NWAYS] = {
	"ftruncate, system call", "ftruncate, intercept, unleased file",
	"fallocate punch, system call", "fallocate punch, intercept, unleased",
	"ftruncate, intercept, leased file", "fallocate punch, intercept, leased",
};

#define SIZE (4 * 1024 * 1024)

static int fd_free, fd_leased;

static void
call(enum way w, unsigned n)
{
	int ret = 0;

	for (unsigned i = 0; i < n && !ret; i++) {
		switch (w) {
		case RAW_TRUNC:
			ret = (int)syscall(SYS_ftruncate, fd_free, SIZE);
			break;
		case ICPT_TRUNC:
			ret = ftruncate(fd_free, SIZE);
			break;
		case RAW_PUNCH:
			ret = (int)syscall(SYS_fallocate, fd_free,
					FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					0, 4096);
			break;
		case ICPT_PUNCH:
			ret = fallocate(fd_free, FALLOC_FL_PUNCH_HOLE |
					FALLOC_FL_KEEP_SIZE, 0, 4096);
			break;
		case LEASED_TRUNC:
			ret = ftruncate(fd_leased, SIZE);
			break;
		case LEASED_PUNCH:
			ret = fallocate(fd_leased, FALLOC_FL_PUNCH_HOLE |
					FALLOC_FL_KEEP_SIZE, 0, 4096);
			break;
		default:
			break;
		}
	}
	if (ret) {
		fprintf(stderr, "intercept-bench: %s: %s\n", names[w],
				strerror(errno));
		exit(1);
	}
}

static int
make(const char *dir, const char *name, char *path, size_t n)
{
	snprintf(path, n, "%s/%s", dir, name);

	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || syscall(SYS_ftruncate, fd, SIZE)) {
		fprintf(stderr, "intercept-bench: %s: %s\n", path,
				strerror(errno));
		exit(1);
	}
	return fd;
}

int
main(int argc, char **argv)
{
	const char *dir = ".";
	unsigned reps = 9, calls = 2000;
	int opt;

	while ((opt = getopt(argc, argv, "d:r:n:h")) != -1) {
		switch (opt) {
		case 'd': dir = optarg; break;
		case 'r': reps = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'n': calls = (unsigned)strtoul(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: intercept-bench [-d DIR] "
					"[-r REPS] [-n CALLS]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (reps < 1 || reps > BENCH_MAX_REPS || calls < 1) {
		fprintf(stderr, "intercept-bench: -r 1..%d, -n >= 1\n",
				BENCH_MAX_REPS);
		return 2;
	}

	char free_path[4096], leased_path[4096];
	struct pml_region *r = NULL;

	fd_free = make(dir, "icpt-free.dat", free_path, sizeof(free_path));
	fd_leased = make(dir, "icpt-leased.dat", leased_path,
			sizeof(leased_path));
	if (pml_region_open(&r, leased_path, NULL)) {
		fprintf(stderr, "intercept-bench: %s\n", pml_errormsg());
		return 1;
	}

	static double v[NWAYS][BENCH_MAX_REPS];
	unsigned leased_calls = calls / 20 ? calls / 20 : 1;

	for (unsigned w = 0; w < NWAYS; w++)
		call((enum way)w, 10);	/* warm up, and the region exists */
	for (unsigned k = 0; k < reps; k++) {
		for (unsigned j = 0; j < NWAYS; j++) {
			enum way w = (enum way)((j + k) % NWAYS);
			unsigned n = w >= LEASED_TRUNC ? leased_calls : calls;
			uint64_t t0 = now_ns();

			call(w, n);
			v[w][k] = (double)(now_ns() - t0) / n;
		}
	}

	unsigned long seen = 0, barrier = 0;

	pml_intercept_calls(&seen, &barrier);
	printf("# intercept-bench: %u reps of %u calls (%u on the leased "
			"file); the intercept saw %lu calls, %lu through the "
			"barrier\n", reps, calls, leased_calls, seen, barrier);
	for (unsigned w = ICPT_TRUNC; w < NWAYS; w++) {
		enum way base = w == ICPT_TRUNC || w == LEASED_TRUNC ?
			RAW_TRUNC : RAW_PUNCH;

		if (w == RAW_PUNCH)
			continue;

		double ratio[BENCH_MAX_REPS];

		for (unsigned k = 0; k < reps; k++)
			ratio[k] = v[w][k] / v[base][k];

		struct row *row = row_add("intercept", names[w], "", "ns",
				stat_of(v[w], reps), names[base],
				stat_of(v[base], reps));

		row_paired(row, stat_of(ratio, reps).med);
	}
	rows_print();
	pml_region_close(&r);
	unlink(free_path);
	unlink(leased_path);
	return 0;
}
