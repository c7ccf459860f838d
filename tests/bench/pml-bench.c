/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pml-bench.c -- what a lease costs, next to baselines from the same run.
 *
 *   pml-bench [-d DIR] [-o OUTDIR] [-s SCALE] [-r REPS] [-t THREADS]
 *             [-S SECTIONS] [-q]
 *
 * DIR holds the data files (plain files; a filesystem that punches holes),
 * OUTDIR gets results.md, results.csv and the *.dat files run-bench.sh
 * plots.  SCALE multiplies the iteration counts (0.001 for a smoke run);
 * -q caps the live-lease scaling at 1000 leases.  SECTIONS, comma-separated,
 * picks among fast, data, barrier, scaling and processes (default: all).  Thread costs are CPU time
 * per operation of each thread (CLOCK_THREAD_CPUTIME_ID), so oversubscribed
 * threads are not charged for the time they wait for a core; latencies are
 * CLOCK_MONOTONIC.  Every figure is the median over REPS repetitions, each
 * after a warm-up, with the min and max printed as the spread.
 *
 * pml-bench --helper PATH is the other process: it holds leases on PATH as
 * told on stdin (see helper_main).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libpmem2.h>
#include <pmemlease.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

struct bench_global g = { .scale = 1, .reps = 7 };

void
die(const char *what, int ret)
{
	fprintf(stderr, "pml-bench: %s: %s (%s)\n", what, strerror(-ret),
			pml_errormsg());
	exit(1);
}

uint64_t
scaled(double n)
{
	n *= g.scale;
	return n < 1 ? 1 : (uint64_t)n;
}

void
pin_cpu(unsigned i)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(i % (unsigned)g.ncpu, &set);
	(void) pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* is the section in -S LIST (all when there is no -S)? */
static bool
wanted(const char *name)
{
	size_t n = strlen(name);

	for (const char *p = g.sections; p; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		if (!strncmp(p, name, n) && (p[n] == ',' || !p[n]))
			return true;
	}
	return !g.sections;
}

static int
bench_all(void)
{
	char path[4200];
	int ret;

	snprintf(g.data, sizeof(g.data), "%s/pml-bench.data", g.dir);
	g.fd = open(g.data, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (g.fd < 0 || ftruncate(g.fd, (off_t)DATA_SIZE))
		die(g.data, -errno);
	ret = pml_region_open(&g.r, g.data, NULL);
	if (ret)
		die("open region", ret);
	g.base = pml_region_base(g.r);
	snprintf(path, sizeof(path), "%s/results.md", bo.dir);
	bo.md = fopen(path, "w");
	printf("# pml-bench: %d CPUs, %u reps, scale %g, %u threads as N, "
		"data in %s\n", g.ncpu, g.reps, g.scale, g.nthreads, g.dir);
	if (bo.md)
		fprintf(bo.md, "# pml-bench: %d CPUs, %u reps, scale %g\n",
			g.ncpu, g.reps, g.scale);

	static const struct {
		const char *name;
		void (*run)(void);
	} sections[] = {
		{ "fast", fast_paths }, { "data", datapath },
		{ "barrier", barrier }, { "scaling", scaling },
		{ "processes", holders },
	};

	local_holder_start();
	for (unsigned i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		if (!wanted(sections[i].name))
			continue;
		note("%s...\n", sections[i].name);
		sections[i].run();
	}
	local_holder_stop();

	rows_print();
	rows_csv();
	if (bo.md)
		fclose(bo.md);
	pml_region_close(&g.r);
	close(g.fd);
	unlink(g.data);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "helper", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 } };
	const char *out = ".";
	int opt;

	while ((opt = getopt_long(argc, argv, "d:o:s:r:t:S:qh", lo, NULL)) != -1) {
		switch (opt) {
		case 'H':
			return helper_main(optarg);
		case 'd':
			g.dir = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 's':
			g.scale = atof(optarg);
			break;
		case 'r':
			g.reps = (unsigned)atoi(optarg);
			break;
		case 't':
			g.nthreads = (unsigned)atoi(optarg);
			break;
		case 'S':
			g.sections = optarg;
			break;
		case 'q':
			g.quick = 1;
			break;
		default:
			fprintf(stderr, "usage: pml-bench [-d DIR] [-o OUTDIR] "
				"[-s SCALE] [-r REPS] [-t THREADS] [-S SECTIONS] "
				"[-q]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (g.reps < 1 || g.reps > BENCH_MAX_REPS)
		g.reps = 7;
	g.ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (!g.nthreads)
		g.nthreads = (unsigned)g.ncpu;
	if (g.nthreads > MAXT)
		g.nthreads = MAXT;
	if (!g.dir)
		g.dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	bo.dir = out;
	return bench_all();
}
