/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cases.c -- the figures, section by section: the fast path, the data
 * path, the barrier, how cost grows with the work, and a holder in another
 * process.
 */
#include <errno.h>
#include <fcntl.h>
#include <libpmem2.h>
#include <math.h>
#include <pmemlease.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

const struct stat3 no_base;

void
fast_path(const char *section, const char *suffix, unsigned nt)
{
	static const struct { const char *name; unsigned flags;
		uint64_t len; } kinds[] = {
		{ "lease PIN 4 KiB", PML_LEASE_PIN, 4096 },
		{ "lease PIN 2 MiB", PML_LEASE_PIN, 2 * MiB },
		{ "lease REF 4 KiB", PML_LEASE_REF, 4096 },
		{ "lease REF 2 MiB", PML_LEASE_REF, 2 * MiB } };
	uint64_t it = scaled(2e6);
	char what[80], param[24];
	unsigned tc[2] = { 1, nt };

	for (unsigned t = 0; t < 2; t++) {
		unsigned n = tc[t];
		struct stat3 fl = measure(OP_FLOOR, 0, 0, n, it);
		struct stat3 at = measure(OP_ATOMIC, 0, 0, n, it);
		struct stat3 rw = measure(OP_RWLOCK, 0, 0, n, it);
		struct stat3 kp = measure(OP_KPIN, 0, 0, n, it / 100 + 1);

		snprintf(param, sizeof(param), "%uT", n);
		if (!*suffix) {
			row_add(section, "floor: slot store + fence + flag",
				param, "ns/op", fl, NULL, no_base);
			row_add(section, "one shared atomic counter", param,
				"ns/op", at, "floor", fl);
			row_add(section, "pthread_rwlock read lock", param,
				"ns/op", rw, "floor", fl);
			row_add(section, "kernel pin (process_vm_readv 8 B)",
				param, "ns/op", kp, "floor", fl);
		}
		for (unsigned k = 0; k < 4; k++) {
			struct stat3 v = measure(OP_LEASE, kinds[k].flags,
					kinds[k].len, n, it);
			struct row *r;

			snprintf(what, sizeof(what), "%s%s", kinds[k].name,
					suffix);
			r = row_add(section, what, param, "ns/op", v,
					"floor", fl);
			if (kinds[k].flags == PML_LEASE_PIN)
				row_target(r, "<= 2.5x floor",
					v.med <= 2.5 * fl.med);
			if (k == 0 && n > 1)
				row_target(row_add(section, what, param,
					"ns/op", v, "one shared atomic", at),
					"< 1x atomic", v.med < at.med);
			if (k == 0 && n == 1)
				row_target(row_add(section, what, param,
					"ns/op", v, "kernel pin", kp),
					"<= 0.02x (50x cheaper)",
					v.med * 50 <= kp.med);
		}
	}
}

/*
 * The ways to copy into the file: the library's call, the libpmem2
 * function it calls (pml_region_memcpy_fn) on the same mapping, libpmem2
 * on a mapping of its own, and plain memcpy.
 */
enum copier { BY_LIBRARY, BY_PMEM2, BY_PMEM2_OWN_MAP, BY_MEMCPY, NCOPIERS };

struct copiers {
	struct pml_region *r;
	char *rb;			/* the region's mapping */
	pml_memcpy_fn rcpy;		/* its libpmem2 function */
	pmem2_memcpy_fn p2cpy;
	char *p2;			/* libpmem2's own mapping of the file */
	const char *buf;
};

/* copies [i, i + k) of len bytes the m-th way, in repetition rep: ns */
static uint64_t
copy_batch(const struct copiers *c, enum copier m, unsigned rep, uint64_t i,
		uint64_t k, uint64_t len, unsigned fl)
{
	/*
	 * Pages of its own for each way, so none finds another's in the
	 * cache; whose pages they are rotates with the repetition, as parts
	 * of a file need not persist alike (ext4 here syncs its first 16 MiB
	 * slower than the rest).
	 */
	uint64_t span = 16 * MiB / len, t0 = now_ns();

	for (uint64_t j = i; j < i + k; j++) {
		uint64_t o = (uint64_t)((m + rep) % NCOPIERS) * 16 * MiB +
			(j % span) * len;

		switch (m) {
		case BY_LIBRARY:
			pml_region_memcpy(c->r, c->rb + o, c->buf, len, fl);
			break;
		case BY_PMEM2:
			c->rcpy(c->rb + o, c->buf, len, fl);
			break;
		case BY_PMEM2_OWN_MAP:
			c->p2cpy(c->p2 + o, c->buf, len, fl);
			break;
		default:
			memcpy(c->rb + o, c->buf, len);
		}
	}
	return now_ns() - t0;
}

/* order[] = a random permutation of 0..n-1 (xorshift64, Fisher-Yates) */
static void
shuffle(unsigned *order, unsigned n, uint64_t *seed)
{
	for (unsigned i = 0; i < n; i++)
		order[i] = i;
	for (unsigned i = n - 1; i > 0; i--) {
		uint64_t x = *seed;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		*seed = x;

		unsigned j = (unsigned)(x % (i + 1)), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
}

/*
 * One size, one way of persisting: ns per copy each way.  They take turns
 * batch by batch in a random order -- each follows each other as often,
 * so none always pays for what one before it left (dirty lines to write
 * back, write-combining buffers to drain) -- and each batch is timed on its
 * own: the machine's drift (writeback, frequency, neighbours) falls on all
 * alike.  A batch is about 256 KiB of copies, or one persisted copy (an
 * msync(2) on a plain file).
 */
static void
copy_rows(const struct copiers *c, const char *sec, uint64_t len,
		unsigned fl, uint64_t n, FILE *dat)
{
	uint64_t k = fl && len < 256 * 1024 ? 256 * 1024 / len : 1;
	uint64_t batches = (n + k - 1) / k;
	/* a multiple of NCOPIERS: each way writes each part equally often */
	unsigned reps = (g.reps + NCOPIERS - 1) / NCOPIERS * NCOPIERS;
	double v[NCOPIERS][BENCH_MAX_REPS + NCOPIERS], pr[BENCH_MAX_REPS +
		NCOPIERS];
	struct stat3 st[NCOPIERS];
	char param[24];

	uint64_t seed = 0x9E3779B97F4A7C15ULL ^ len ^ fl;

	for (unsigned rep = 0; rep < reps; rep++) {
		uint64_t sum[NCOPIERS] = { 0 };

		for (uint64_t b = 0; b < batches + batches / 10 + 1; b++) {
			unsigned order[NCOPIERS];

			shuffle(order, NCOPIERS, &seed);
			for (unsigned mm = 0; mm < NCOPIERS; mm++) {
				enum copier m = order[mm];
				uint64_t ns = copy_batch(c, m, rep, b * k, k,
						len, fl);

				if (b > batches / 10)	/* after a warm-up */
					sum[m] += ns;
			}
		}
		for (unsigned m = 0; m < NCOPIERS; m++)
			v[m][rep] = (double)sum[m] / (double)(batches * k);
		pr[rep] = v[BY_LIBRARY][rep] / v[BY_PMEM2][rep];
	}
	for (unsigned m = 0; m < NCOPIERS; m++)
		st[m] = stat_of(v[m], reps);

	/* the target on the repetitions' own ratios: drift cancels */
	double paired = stat_of(pr, reps).med;
	snprintf(param, sizeof(param), "%llu KiB",
			(unsigned long long)len / 1024);
	struct row *r = row_add(sec, "pml_region_memcpy", param, "ns/copy",
		st[BY_LIBRARY], "its pmem2 memcpy_fn, same mapping",
		st[BY_PMEM2]);

	row_paired(r, paired);
	row_target(r, "<= 1.03x", paired <= 1.03);
	row_add(sec, "pml_region_memcpy", param, "ns/copy", st[BY_LIBRARY],
		"pmem2 memcpy_fn, pmem2's own map", st[BY_PMEM2_OWN_MAP]);
	row_add(sec, "pmem2 memcpy_fn", param, "ns/copy", st[BY_PMEM2],
		"plain memcpy", st[BY_MEMCPY]);
	if (dat)
		fprintf(dat, "%llu %.1f %.1f %.1f %.1f\n",
			(unsigned long long)len / 1024, st[BY_LIBRARY].med,
			st[BY_PMEM2].med, st[BY_MEMCPY].med,
			st[BY_PMEM2_OWN_MAP].med);
}
/* puts of the leases another thread acquired: ns per put, that thread's */
#define FOREIGN_BATCH 1000

struct foreign {
	struct pml_lease *l[FOREIGN_BATCH];
	pthread_barrier_t go;
	unsigned batches;
	uint64_t ns;
};

static void *
foreign_putter(void *arg)
{
	struct foreign *f = arg;

	pin_cpu(1);
	for (unsigned b = 0; b < f->batches; b++) {
		pthread_barrier_wait(&f->go);	/* acquired */

		uint64_t t0 = now_ns();

		for (unsigned i = 0; i < FOREIGN_BATCH; i++)
			if (pml_lease_put(f->l[i]))
				die("foreign put", -EINVAL);
		f->ns += now_ns() - t0;
		pthread_barrier_wait(&f->go);	/* put */
	}
	return NULL;
}

/*
 * A completion thread putting what a submitting thread acquired: the first
 * put revokes the submitter's bias (a membarrier), the others take its
 * spinlock; next to the same thread's own puts.
 */
static void
foreign_puts(void)
{
	double v[BENCH_MAX_REPS], own[BENCH_MAX_REPS];
	struct foreign f = { .batches = (unsigned)scaled(20) };

	pin_cpu(0);
	for (unsigned r = 0; r < g.reps; r++) {
		pthread_t t;
		uint64_t own_ns = 0;

		f.ns = 0;
		pthread_barrier_init(&f.go, NULL, 2);
		pthread_create(&t, NULL, foreign_putter, &f);
		for (unsigned b = 0; b < f.batches; b++) {
			/* its own puts first, timed, then a batch for the other */
			for (unsigned i = 0; i < FOREIGN_BATCH; i++)
				if (pml_lease_acquire(&f.l[i], g.r,
						i * 4096ULL, 4096, 0, NULL,
						NULL))
					die("acquire", -EINVAL);

			uint64_t t0 = now_ns();

			for (unsigned i = 0; i < FOREIGN_BATCH; i++)
				pml_lease_put(f.l[i]);
			own_ns += now_ns() - t0;
			for (unsigned i = 0; i < FOREIGN_BATCH; i++)
				if (pml_lease_acquire(&f.l[i], g.r,
						i * 4096ULL, 4096, 0, NULL,
						NULL))
					die("acquire", -EINVAL);
			pthread_barrier_wait(&f.go);
			pthread_barrier_wait(&f.go);
		}
		pthread_join(t, NULL);
		pthread_barrier_destroy(&f.go);
		v[r] = (double)f.ns / (f.batches * FOREIGN_BATCH);
		own[r] = (double)own_ns / (f.batches * FOREIGN_BATCH);
	}
	row_add("fast path", "put of another thread's lease (PIN 4 KiB)",
		"1000 a batch", "ns/op", stat_of(v, g.reps),
		"the acquiring thread's own put", stat_of(own, g.reps));
}

void
fast_paths(void)
{
	fast_path("fast path", "", g.nthreads);
	foreign_puts();
}

void
datapath(void)
{
	static const uint64_t sizes[] = { 4096, 64 * 1024, 2 * MiB };
	struct pmem2_config *cfg;
	struct pmem2_source *src;
	struct pmem2_map *map;
	struct copiers c;
	char path[4200];
	int fd, ret;

	snprintf(path, sizeof(path), "%s/pml-bench-copy.data", g.dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 64 * MiB))
		die("copy file", -errno);
	ret = pml_region_open(&c.r, path, NULL);
	if (ret)
		die("open copy region", ret);
	if (pmem2_config_new(&cfg) || pmem2_source_from_fd(&src, fd) ||
			pmem2_config_set_required_store_granularity(cfg,
				PMEM2_GRANULARITY_PAGE) ||
			pmem2_map_new(&map, cfg, src))
		die("pmem2 map", -EIO);
	c.p2cpy = pmem2_get_memcpy_fn(map);
	c.rcpy = pml_region_memcpy_fn(c.r);
	c.p2 = pmem2_map_get_address(map);
	c.rb = pml_region_base(c.r);

	char *buf = aligned_alloc(4096, 2 * MiB);
	FILE *dat = dat_open("datapath.dat", "# size_kib library pmem2 memcpy "
			"pmem2_own_map (ns per copy); index 0 persisted, 1 no "
			"flush");

	memset(buf, 'x', 2 * MiB);
	c.buf = buf;
	/* persisted (msync, on a plain file), then the CPU's copy alone */
	for (unsigned s = 0; s < 3; s++)
		copy_rows(&c, "data path", sizes[s], 0,
			scaled(32 * MiB / sizes[s] * 4), dat);
	if (dat)
		fprintf(dat, "\n\n");	/* gnuplot's next index */
	for (unsigned s = 0; s < 3; s++)
		copy_rows(&c, "data path, no flush", sizes[s],
			PML_F_MEM_NOFLUSH, scaled(32 * MiB / sizes[s] * 64),
			dat);
	if (dat)
		fclose(dat);
	free(buf);
	pmem2_map_delete(&map);
	pmem2_source_delete(&src);
	pmem2_config_delete(&cfg);
	pml_region_close(&c.r);
	close(fd);
	unlink(path);
}

/* ns of one 2 MiB punch of a written range: library or bare fallocate */
static double
one_punch(int how)
{
	uint64_t off = PUNCH_BASE, len = 2 * MiB, t0;
	int ret = 0;

	memset(g.base + off, 'p', len);
	t0 = now_ns();
	if (how == 0)
		ret = pml_region_punch(g.r, off, len, NULL);
	else if (how == 2 && msync(g.base + off, len, MS_SYNC))
		ret = -errno;
	if (how && fallocate(g.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			(off_t)off, (off_t)len))
		ret = -errno;
	if (ret)
		die("punch", ret);
	return (double)(now_ns() - t0);
}

/* ns of the barrier alone over those 2 MiB: raise, drain, drop */
static double
one_break(void)
{
	uint64_t t0 = now_ns();
	int ret = pml_region_break(g.r, PUNCH_BASE, 2 * MiB, NULL);

	if (ret)
		die("break", ret);
	return (double)(now_ns() - t0);
}

static _Atomic int punching;

static void *
puncher(void *arg)
{
	int how = (int)(intptr_t)arg;

	pin_cpu(1);
	while (atomic_load(&punching))
		one_punch(how);
	return NULL;
}

/* acquire+put (PIN 4 KiB) throughput of thread 0 while thread 1 punches */
static struct stat3
acquire_while(int how)
{
	double v[BENCH_MAX_REPS];
	uint64_t it = scaled(2e6);

	for (unsigned r = 0; r < g.reps; r++) {
		pthread_t t;
		struct job j = { .op = OP_LEASE, .len = 4096, .iters = it };

		atomic_store(&punching, 1);
		if (how >= 0)
			pthread_create(&t, NULL, puncher, (void *)(intptr_t)how);
		pin_cpu(0);

		uint64_t t0 = now_ns();

		run_ops(&j, 0, it);
		v[r] = (double)it * 1e3 / (double)(now_ns() - t0);
		atomic_store(&punching, 0);
		if (how >= 0)
			pthread_join(t, NULL);
	}
	return stat_of(v, g.reps);
}

void
barrier(void)
{
	unsigned n = (unsigned)scaled(200);
	double *a = calloc(4 * n + 3 * BENCH_MAX_REPS, sizeof(double));
	double *p[3] = { a, a + n, a + 2 * n };
	struct stat3 st[3], lb, lp;

	if (n > BENCH_MAX_REPS)
		n = BENCH_MAX_REPS;
	for (unsigned i = 0; i < n; i++)
		for (int how = 0; how < 3; how++)
			p[how][i] = one_punch(how) / 1e3;
	for (int how = 0; how < 3; how++)
		st[how] = stat_of(p[how], n);
	row_add("barrier", "2 MiB punch, no leases", "", "us", st[0],
		"bare fallocate(PUNCH_HOLE)", st[1]);
	row_add("barrier", "2 MiB punch, no leases", "", "us", st[0],
		"msync + fallocate", st[2]);

	double *lat = a + 3 * n;

	last_put(lat, n, NULL, 0);
	for (unsigned i = 0; i < n; i++)
		lat[i] /= 1e3;
	lb = stat_of(lat, n);
	lb.hi = pct(lat, n, 0.99);
	row_target(row_add("barrier", "last put -> barrier proceeds (median, "
		"p99 as max)", "same proc", "us", lb, NULL, no_base),
		"<= 100 us median", lb.med <= 100);
	last_put(lat, n, NULL, 1);
	for (unsigned i = 0; i < n; i++)
		lat[i] /= 1e3;
	lp = stat_of(lat, n);
	lp.hi = pct(lat, n, 0.99);
	row_add("barrier", "last put -> punch returns (median, p99 as max)",
		"same proc", "us", lp, "punch, no leases", st[0]);

	struct stat3 idle = acquire_while(-1), bare = acquire_while(1),
		     lib = acquire_while(0);

	row_add("barrier", "acquire+put while another thread punches",
		"PIN 4K", "Mops/s", lib, "while bare fallocates", bare);
	row_add("barrier", "acquire+put, other thread idle", "PIN 4K",
		"Mops/s", idle, NULL, no_base);
	free(a);
}

static long
rss_bytes(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * sysconf(_SC_PAGESIZE);
}

static void
overlap_break(struct pml_lease *l, enum pml_break_reason why, void *arg)
{
	pml_lease_put(l);
}

void
scaling(void)
{
	static const double counts[] = { 0, 1000, 100000, 1000000 };
	static const unsigned tcs[] = { 1, 2, 8, 64 };
	static const struct pml_lease_ops ops = { .on_break = overlap_break };
	unsigned nc = g.quick ? 2 : 4, reps = (unsigned)scaled(50);
	double y[4], x[4], v[BENCH_MAX_REPS], mem = 0;
	struct pml_lease **ls = malloc(sizeof(*ls) * 1000000);
	char buf[96], param[24];
	FILE *dat = dat_open("punch-vs-leases.dat", "# leases punch_us min max "
			"break_us");
	struct stat3 s0 = no_base, b0 = no_base;
	double yb[4];

	if (!ls)
		die("malloc", -ENOMEM);
	memset(ls, 0, sizeof(*ls) * 1000000);	/* not in the RSS delta */
	if (reps > BENCH_MAX_REPS)
		reps = BENCH_MAX_REPS;
	/* punch latency against live leases elsewhere */
	for (unsigned c = 0, held = 0; c < nc; c++) {
		long rss0 = rss_bytes();

		for (; held < counts[c]; held++) {
			int ret = pml_lease_acquire(&ls[held], g.r,
					MANY_BASE + held * 64ULL, 64, 0, NULL,
					NULL);
			if (ret)
				die("acquire many", ret);
		}
		if (c == nc - 1 && counts[c] > counts[c - 1])
			mem = (double)(rss_bytes() - rss0) /
				(counts[c] - counts[c - 1]);
		for (unsigned r = 0; r < reps; r++)
			v[r] = one_punch(0) / 1e3;

		struct stat3 s = stat_of(v, reps);

		for (unsigned r = 0; r < reps; r++)
			v[r] = one_break() / 1e3;

		struct stat3 b = stat_of(v, reps);

		if (c == 0) {
			s0 = s;
			b0 = b;
		}
		snprintf(param, sizeof(param), "%.0f", counts[c]);
		row_add("scaling", "2 MiB punch, live leases elsewhere", param,
			"us", s, "no leases", s0);
		row_add("scaling", "barrier alone (break), live leases "
			"elsewhere", param, "us", b, "no leases", b0);
		x[c] = counts[c];
		y[c] = s.med;
		yb[c] = b.med;
		if (dat)
			fprintf(dat, "%.0f %.2f %.2f %.2f %.2f\n", x[c], s.med,
					s.lo, s.hi, b.med);
		if (c == nc - 1)
			for (unsigned i = 0; i < held; i++)
				pml_lease_put(ls[i]);
	}
	if (dat)
		fclose(dat);
	struct stat3 ms = { mem, mem, mem }, line = { 64, 64, 64 };

	row_add("scaling", "memory per live lease (RSS delta)", g.quick ?
		"1000" : "1000000", "bytes", ms, "one cache line", line);
	row_add("scaling", growth_of(x, y, nc, "leases", buf, sizeof(buf)),
		"punch vs leases", "", no_base, NULL, no_base);
	row_add("scaling", growth_of(x, yb, nc, "leases", buf, sizeof(buf)),
		"break vs leases", "", no_base, NULL, no_base);

	/* punch with k overlapping PIN leases, each put by its on_break */
	static const double ks[] = { 1, 100, 10000 };

	for (unsigned c = 0; c < 3; c++) {
		for (unsigned r = 0; r < reps; r++) {
			for (unsigned i = 0; i < ks[c]; i++) {
				struct pml_lease *l;
				int ret = pml_lease_acquire(&l, g.r,
					PUNCH_BASE + (i % 512) * 4096ULL,
					4096, 0, &ops, NULL);
				if (ret)
					die("acquire overlap", ret);
			}
			v[r] = one_punch(0) / 1e3;
		}
		x[c] = ks[c];
		y[c] = stat_of(v, reps).med;
		snprintf(param, sizeof(param), "%.0f", ks[c]);
		row_add("scaling", "2 MiB punch, overlapping PIN leases",
			param, "us", stat_of(v, reps), "no leases", s0);
	}
	row_add("scaling", growth_of(x, y, 3, "overlapping leases", buf,
		sizeof(buf)), "punch vs overlap", "", no_base, NULL, no_base);

	/* acquire+put against the number of threads */
	dat = dat_open("threads.dat", "# threads lease_ns floor_ns atomic_ns");
	for (unsigned t = 0; t < 4; t++) {
		uint64_t it = scaled(1e6);
		struct stat3 l = measure(OP_LEASE, 0, 4096, tcs[t], it);
		struct stat3 f = measure(OP_FLOOR, 0, 0, tcs[t], it);
		struct stat3 a = measure(OP_ATOMIC, 0, 0, tcs[t], it);

		snprintf(param, sizeof(param), "%uT", tcs[t]);
		row_add("scaling", "lease PIN 4 KiB, per thread (CPU time)",
			param, "ns/op", l, "floor", f);
		if (tcs[t] == 2)
			row_target(row_add("scaling", "lease PIN 4 KiB, per "
				"thread (CPU time)", param, "ns/op", l,
				"the same at 1T", (struct stat3){ y[0], y[0],
				y[0] }), "<= 1.3x 1T", l.med <= 1.3 * y[0]);
		if (t == 0)
			y[0] = l.med;
		x[t] = tcs[t];
		y[t] = l.med;
		if (dat)
			fprintf(dat, "%u %.2f %.2f %.2f\n", tcs[t], l.med,
					f.med, a.med);
	}
	if (dat)
		fclose(dat);
	row_add("scaling", growth_of(x, y, 4, "threads", buf, sizeof(buf)),
		"lease vs threads", "", no_base, NULL, no_base);
	free(ls);
}

/* a holder in another process versus one in this process */
void
holders(void)
{
	unsigned n = (unsigned)scaled(200);
	double lat[BENCH_MAX_REPS];
	struct helper h;
	struct stat3 same, other;

	if (n > BENCH_MAX_REPS)
		n = BENCH_MAX_REPS;
	last_put(lat, n, NULL, 0);
	for (unsigned i = 0; i < n; i++)
		lat[i] /= 1e3;
	same = stat_of(lat, n);
	same.hi = pct(lat, n, 0.99);

	helper_start(&h);
	helper_cmd(&h, "hold %llu %llu %u\n", HELPER_BASE, 4096, 1000);
	last_put(lat, n, &h, 0);
	for (unsigned i = 0; i < n; i++)
		lat[i] /= 1e3;
	other = stat_of(lat, n);
	other.hi = pct(lat, n, 0.99);
	row_target(row_add("processes", "last put -> barrier proceeds (median, "
		"p99 as max)", "other proc", "us", other, "holder in this "
		"process", same), "<= 100 us median", other.med <= 100);

	fast_path("processes", " (1000 held by another process)",
			g.nthreads);
	helper_stop(&h);

}
