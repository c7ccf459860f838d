/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pml-heap-bench -- the heap on a region beside memkind's PMEM kind, in one
 * run: the same directory, the same max size, the same allocation size mix,
 * the same thread counts, repetitions interleaved (heap, heap without
 * tcache, memkind, libc malloc as a reference), medians reported with the
 * ratio heap / memkind.
 *
 * Each thread keeps SLOTS live allocations and replaces a random one per
 * operation (a free and an allocation, touching every page of the new
 * block).  Sizes: 90% 16 B..1 KiB, 9% 1..32 KiB, 1% 32..256 KiB.  The
 * footprint is the file's allocated blocks (st_blocks) with every slot
 * filled, against the bytes live in the slots; memkind's file is unlinked
 * at creation, so it is found through /proc/self/fd.
 *
 *   pml-heap-bench [-d dir] [-r reps] [-n ops per thread] [-t 1,2,4]
 *                  [-m max MiB]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <memkind.h>

#include "pmemlease_heap.h"

#define SLOTS 1024
#define MAX_THREADS 16
#define MAX_REPS 101

enum who { HEAP, HEAP_NOTC, MEMKIND, LIBC, NWHO };
static const char *const names[NWHO] = {
	"pml_heap", "pml_heap, no tcache", "memkind PMEM", "libc malloc",
};

struct alloc {
	enum who who;
	struct pml_heap *heap;
	memkind_t kind;
};

static void *
a_alloc(struct alloc *a, size_t n)
{
	switch (a->who) {
	case HEAP:
	case HEAP_NOTC: return pml_heap_alloc(a->heap, n);
	case MEMKIND: return memkind_malloc(a->kind, n);
	default: return malloc(n);
	}
}

static void
a_free(struct alloc *a, void *p)
{
	switch (a->who) {
	case HEAP:
	case HEAP_NOTC: pml_heap_free(a->heap, p); break;
	case MEMKIND: memkind_free(a->kind, p); break;
	default: free(p);
	}
}

struct worker {
	pthread_t t;
	struct alloc *a;
	uint64_t ops;
	unsigned seed;
	void *p[SLOTS];
	size_t n[SLOTS];
	int failed;
};

static size_t
pick(unsigned *seed)
{
	unsigned r = rand_r(seed) % 1000;

	if (r < 900)
		return 16 + rand_r(seed) % 1009;
	if (r < 990)
		return 1024 + rand_r(seed) % (31 * 1024);
	return 32768 + rand_r(seed) % (224 * 1024);
}

static void *
fill(struct alloc *a, size_t n)
{
	char *p = a_alloc(a, n);

	if (p != NULL)
		for (size_t i = 0; i < n; i += 4096)
			p[i] = (char)i;
	return p;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	for (uint64_t i = 0; i < w->ops; i++) {
		unsigned k = rand_r(&w->seed) % SLOTS;
		if (w->p[k] != NULL)
			a_free(w->a, w->p[k]);
		w->n[k] = pick(&w->seed);
		if ((w->p[k] = fill(w->a, w->n[k])) == NULL) {
			w->failed = 1;
			return NULL;
		}
	}
	return NULL;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* the allocated bytes of the first file under dir open in this process */
static uint64_t
footprint_of_open_file(const char *dir)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	uint64_t bytes = 0;

	while (d != NULL && (e = readdir(d)) != NULL) {
		char link[300], target[PATH_MAX];
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = 0;
		if (strncmp(target, dir, strlen(dir)) != 0 ||
				strstr(target, "pml-heap-bench.file") != NULL)
			continue;
		struct stat st;
		if (stat(link, &st) == 0 && S_ISREG(st.st_mode)) {
			bytes = (uint64_t)st.st_blocks * 512;
			break;
		}
	}
	if (d != NULL)
		closedir(d);
	return bytes;
}

struct result {
	double ops_s;
	double foot_ratio;	/* allocated file bytes / live bytes; 0: n/a */
};

static int
run_one(struct result *res, enum who who, const char *dir, uint64_t max,
		unsigned threads, uint64_t ops)
{
	struct alloc a = { .who = who };
	struct pml_region *region = NULL;
	char path[PATH_MAX + 32];
	int rc = 0;

	snprintf(path, sizeof(path), "%s/pml-heap-bench.file", dir);
	if (who == HEAP || who == HEAP_NOTC) {
		unlink(path);
		int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (fd < 0 || ftruncate(fd, 2 << 20) != 0) {
			perror(path);
			return -1;
		}
		close(fd);
		struct pml_region_opts ro = { .max_size = max };
		struct pml_heap_opts ho = {
			.flags = who == HEAP_NOTC ? PML_HEAP_NO_TCACHE : 0,
		};
		if ((rc = pml_region_open(&region, path, &ro)) != 0 ||
		    (rc = pml_heap_create(&a.heap, region, &ho)) != 0) {
			fprintf(stderr, "heap: %d %s %s\n", rc, pml_errormsg(),
					pml_heap_errormsg());
			return -1;
		}
	} else if (who == MEMKIND) {
		if ((rc = memkind_create_pmem(dir, max, &a.kind)) != 0) {
			char msg[256];
			memkind_error_message(rc, msg, sizeof(msg));
			fprintf(stderr, "memkind_create_pmem: %s\n", msg);
			return -1;
		}
	}

	static struct worker w[MAX_THREADS];
	double t0 = now();
	for (unsigned i = 0; i < threads; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].a = &a;
		w[i].ops = ops;
		w[i].seed = 1 + i;
		pthread_create(&w[i].t, NULL, worker_main, &w[i]);
	}
	for (unsigned i = 0; i < threads; i++)
		pthread_join(w[i].t, NULL);
	double dt = now() - t0;

	uint64_t live = 0;
	for (unsigned i = 0; i < threads; i++) {
		rc |= w[i].failed;
		for (unsigned k = 0; k < SLOTS; k++)
			live += w[i].p[k] ? w[i].n[k] : 0;
	}
	uint64_t foot = 0;
	if (who == HEAP || who == HEAP_NOTC) {
		struct stat st;
		if (stat(path, &st) == 0)
			foot = (uint64_t)st.st_blocks * 512;
	} else if (who == MEMKIND) {
		foot = footprint_of_open_file(dir);
	}
	res->ops_s = (double)ops * threads / dt;
	res->foot_ratio = foot && live ? (double)foot / live : 0;

	for (unsigned i = 0; i < threads; i++)
		for (unsigned k = 0; k < SLOTS; k++)
			if (w[i].p[k] != NULL)
				a_free(&a, w[i].p[k]);
	if (a.heap != NULL) {
		pml_heap_destroy(&a.heap);
		pml_region_close(&region);
		unlink(path);
	}
	if (a.kind != NULL)
		memkind_destroy_kind(a.kind);
	if (rc)
		fprintf(stderr, "%s: an allocation failed\n", names[who]);
	return rc ? -1 : 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int
main(int argc, char **argv)
{
	const char *dir = ".";
	unsigned reps = 5;
	uint64_t ops = 200000, max_mib = 1024;
	char tlist[64] = "1,2,4";
	int opt;

	while ((opt = getopt(argc, argv, "d:r:n:t:m:")) != -1) {
		switch (opt) {
		case 'd': dir = optarg; break;
		case 'r': reps = (unsigned)atoi(optarg); break;
		case 'n': ops = strtoull(optarg, NULL, 0); break;
		case 't': snprintf(tlist, sizeof(tlist), "%s", optarg); break;
		case 'm': max_mib = strtoull(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: %s [-d dir] [-r reps] "
				"[-n ops] [-t 1,2,4] [-m max MiB]\n", argv[0]);
			return 2;
		}
	}
	if (reps < 1 || reps > MAX_REPS || ops < 1 ||
			max_mib < MEMKIND_PMEM_MIN_SIZE >> 20) {
		fprintf(stderr, "reps 1..%d, ops >= 1, max >= 16 MiB\n",
				MAX_REPS);
		return 2;
	}
	char rdir[PATH_MAX];
	if (realpath(dir, rdir) == NULL) {
		perror(dir);
		return 2;
	}
	uint64_t max = max_mib << 20;

	printf("pml-heap-bench: %s, max %lu MiB, %lu ops per thread, "
	       "%u repetitions interleaved, medians\n", rdir,
	       (unsigned long)max_mib, (unsigned long)ops, reps);
	printf("| threads | allocator | Mops/s | vs memkind | "
	       "file bytes / live bytes |\n");
	printf("|---|---|---|---|---|\n");
	for (char *save = NULL, *tok = strtok_r(tlist, ",", &save); tok;
			tok = strtok_r(NULL, ",", &save)) {
		unsigned threads = (unsigned)atoi(tok);
		if (threads < 1 || threads > MAX_THREADS) {
			fprintf(stderr, "threads 1..%d\n", MAX_THREADS);
			return 2;
		}
		static double v[NWHO][MAX_REPS], f[NWHO][MAX_REPS];
		for (unsigned r = 0; r < reps; r++) {
			for (int who = 0; who < NWHO; who++) {
				struct result res;
				if (run_one(&res, who, rdir, max, threads,
						ops) != 0)
					return 1;
				v[who][r] = res.ops_s;
				f[who][r] = res.foot_ratio;
			}
		}
		double mk = median(v[MEMKIND], reps);
		for (int who = 0; who < NWHO; who++) {
			double m = median(v[who], reps);
			double fr = median(f[who], reps);
			char foot[32] = "n/a";
			if (fr > 0)
				snprintf(foot, sizeof(foot), "%.2f", fr);
			printf("| %u | %s | %.2f | %.2fx | %s |\n", threads,
					names[who], m / 1e6, m / mk, foot);
		}
	}
	return 0;
}
