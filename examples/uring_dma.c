/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * uring_dma.c -- a device DMA-ing into leased persistent memory, while the
 * file under it is punched and truncated.
 *
 * The pattern a storage engine copies:
 *
 *	pml_lease_acquire(&lease, region, off, len, PML_LEASE_PIN, &ops, req);
 *	io_uring_prep_read(sqe, fd, pml_lease_addr(lease), len, src_off);
 *	... the device writes straight into the pmem block ...
 *	on completion: pml_lease_put(lease);
 *
 * One PIN per in-flight request, put by whichever thread reaps the
 * completion.  A punch or truncate over the range waits for that put, so
 * the block the device writes into is never handed back to the filesystem
 * while the write is in flight (with DAX, the DMA target *is* the block).
 *
 * Everything else here checks that promise: a model of what each 4 KiB
 * block of the region must hold (a source block, or zeroes), compared with
 * the region after every completion and every layout change, and a record
 * of which requests were in flight when each punch started -- all of them
 * must have completed before the punch returns.
 *
 * usage: uring_dma [options] REGION SOURCE
 *   REGION  a devdax device, an fsdax file or a plain file (created); the
 *           bytes used are [--offset, --offset + --size)
 *   SOURCE  a block device or file read with O_DIRECT (filled first)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pmemlease.h>

#define BLK 4096u
#define DEPTH 32
#define MAX_BLKS 64		/* a request reads 4 KiB .. 256 KiB */
#define ZERO_BLOCK UINT64_MAX	/* model: the block reads zeroes */

struct request {
	struct pml_lease *lease;
	uint64_t off, len, src;	/* region offset, length, source offset */
	bool in_flight;
	bool broken;		/* on_break asked us to let go */
	unsigned long seq;	/* which submission this slot holds */
};

static struct {
	struct pml_region *region;
	struct pml_region_info info;
	int src_fd;
	uint64_t off, size;	/* the bytes of the region we use */
	uint64_t src_size;
	struct io_uring ring;

	pthread_mutex_t lock;	/* the model, the fence, the requests */
	pthread_cond_t cond;
	uint64_t *model;	/* per block: source block or ZERO_BLOCK */
	uint64_t fence_start, fence_end;	/* no new I/O in here */
	struct request req[DEPTH];
	unsigned in_flight;
	bool stop;

	unsigned long submitted, completed, breaks, waited_for;
	unsigned long punches, truncates, requests;
	unsigned seed;
	int failed;
} g = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.requests = 4000,
	.punches = 200,
	.truncates = 20,
	.size = 32u << 20,
	.seed = 1,
};

#define FAIL(...) do { \
	fprintf(stderr, "uring_dma: FAIL: " __VA_ARGS__); \
	fputc('\n', stderr); \
	__atomic_store_n(&g.failed, 1, __ATOMIC_RELAXED); \
} while (0)

/* what source block b holds: every 8 bytes say where they came from */
static uint64_t
pattern(uint64_t src_byte)
{
	return (src_byte / 8) * 0x9e3779b97f4a7c15ull ^ 0x706d656d6c656173ull;
}

static bool
block_matches(const char *addr, uint64_t model)
{
	const uint64_t *w = (const uint64_t *)addr;

	for (unsigned i = 0; i < BLK / 8; i++) {
		uint64_t want = model == ZERO_BLOCK ? 0 :
			pattern(model * BLK + i * 8);

		if (w[i] != want)
			return false;
	}
	return true;
}

static void
check_range(uint64_t off, uint64_t len, const char *when)
{
	const char *base = (const char *)pml_region_base(g.region) + g.off;

	for (uint64_t b = off / BLK; b < (off + len) / BLK; b++) {
		if (!block_matches(base + b * BLK, g.model[b])) {
			FAIL("block %" PRIu64 " differs from the model (%s)",
					b, when);
			return;
		}
	}
}

static unsigned
rnd(unsigned n)
{
	return (unsigned)rand_r(&g.seed) % n;
}

/* ----------------------------------------------------------- the lease */

/*
 * on_break: a punch or truncate needs the range.  A read completes on its
 * own within microseconds, so letting it finish is the right answer here;
 * a long-lived RDMA registration would deregister, and an engine with
 * queued I/O would cancel it (IORING_OP_ASYNC_CANCEL) -- from its own
 * submitting thread, since this runs in the thread that raised the barrier.
 */
static void
on_break(struct pml_lease *lease, enum pml_break_reason why, void *arg)
{
	struct request *r = arg;

	pthread_mutex_lock(&g.lock);
	r->broken = true;
	g.breaks++;
	pthread_mutex_unlock(&g.lock);
}

static const struct pml_lease_ops lease_ops = { .on_break = on_break };

/* -------------------------------------------------------- the submitter */

static void *
submitter(void *unused)
{
	while (g.submitted < g.requests && !__atomic_load_n(&g.failed,
			__ATOMIC_RELAXED)) {
		pthread_mutex_lock(&g.lock);
		while (g.in_flight == DEPTH)
			pthread_cond_wait(&g.cond, &g.lock);

		struct request *r = NULL;

		for (unsigned i = 0; i < DEPTH && !r; i++)
			if (!g.req[i].in_flight)
				r = &g.req[i];

		uint64_t nblk = 1 + rnd(MAX_BLKS);
		uint64_t off = (uint64_t)rnd((unsigned)(g.size / BLK - nblk + 1)) * BLK;
		uint64_t len = nblk * BLK;

		/*
		 * Never start I/O inside a range the layout thread fenced off:
		 * the model could not tell which came first.  The lease is taken
		 * under the same lock that fences, so a layout change sees
		 * every request that can overlap it in g.req.
		 */
		bool busy = off < g.fence_end && g.fence_start < off + len;

		/* two reads into one block would race: the model needs one */
		for (unsigned i = 0; i < DEPTH && !busy; i++)
			busy = g.req[i].in_flight && g.req[i].off < off + len &&
				off < g.req[i].off + g.req[i].len;
		if (busy) {
			pthread_mutex_unlock(&g.lock);
			continue;
		}
		int ret = pml_lease_acquire(&r->lease, g.region, g.off + off, len,
				PML_LEASE_PIN | PML_LEASE_NOWAIT, &lease_ops, r);
		if (ret) {
			pthread_mutex_unlock(&g.lock);
			if (ret == -EAGAIN)
				continue;
			FAIL("acquire: %s", pml_errormsg());
			break;
		}
		r->off = off;
		r->len = len;
		r->src = (uint64_t)rnd((unsigned)((g.src_size - len) / BLK + 1)) * BLK;
		r->in_flight = true;
		r->broken = false;
		r->seq = ++g.submitted;
		g.in_flight++;
		pthread_mutex_unlock(&g.lock);

		struct io_uring_sqe *sqe = io_uring_get_sqe(&g.ring);

		io_uring_prep_read(sqe, g.src_fd, pml_lease_addr(r->lease),
				(unsigned)len, r->src);
		io_uring_sqe_set_data(sqe, r);
		if (io_uring_submit(&g.ring) != 1)
			FAIL("io_uring_submit");
	}
	pthread_mutex_lock(&g.lock);
	g.stop = true;
	pthread_mutex_unlock(&g.lock);
	return NULL;
}

/* ------------------------------------------------------------ the reaper */

static void *
reaper(void *unused)
{
	for (;;) {
		pthread_mutex_lock(&g.lock);
		bool done = g.stop && g.completed == g.submitted;
		pthread_mutex_unlock(&g.lock);
		if (done)
			break;

		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = { .tv_nsec = 100000000 };
		int ret = io_uring_wait_cqe_timeout(&g.ring, &cqe, &ts);

		if (ret == -ETIME)
			continue;	/* look at g.stop again */
		if (ret) {
			FAIL("io_uring_wait_cqe: %s", strerror(-ret));
			break;
		}

		struct request *r = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&g.ring, cqe);

		/*
		 * The request was handed over through the ring, which a race
		 * detector cannot see: read it under the lock it was written
		 * under.
		 */
		pthread_mutex_lock(&g.lock);
		if (res != (int)r->len)
			FAIL("read of %" PRIu64 " bytes returned %d", r->len, res);
		for (uint64_t b = 0; b < r->len / BLK; b++)
			g.model[r->off / BLK + b] = r->src / BLK + b;
		check_range(r->off, r->len, "after the DMA completed");

		struct pml_lease *lease = r->lease;	/* r is reused at once */

		r->in_flight = false;
		g.in_flight--;
		g.completed++;
		pthread_cond_broadcast(&g.cond);
		pthread_mutex_unlock(&g.lock);

		/* the device is done with the blocks: let layout changes in */
		if (pml_lease_put(lease))
			FAIL("put: %s", pml_errormsg());
	}
	return NULL;
}

/* ------------------------------------------------------ layout changes */

/*
 * fence -- stop new I/O in [start, end) and remember the requests in
 * flight there: the punch must not return before each has completed.
 */
static unsigned long
fence(uint64_t start, uint64_t end, unsigned long *seqs)
{
	unsigned long n = 0;

	pthread_mutex_lock(&g.lock);
	g.fence_start = start;
	g.fence_end = end;
	for (unsigned i = 0; i < DEPTH; i++) {
		struct request *r = &g.req[i];

		if (r->in_flight && r->off < end && start < r->off + r->len)
			seqs[n++] = r->seq;
	}
	pthread_mutex_unlock(&g.lock);
	return n;
}

/* after the layout change: every request we saw in flight has completed */
static void
unfence(uint64_t start, uint64_t end, const unsigned long *seqs,
		unsigned long n, const char *what)
{
	pthread_mutex_lock(&g.lock);
	for (unsigned long k = 0; k < n; k++)
		for (unsigned i = 0; i < DEPTH; i++)
			if (g.req[i].in_flight && g.req[i].seq == seqs[k])
				FAIL("%s returned while request %lu over its "
					"range was still in flight", what, seqs[k]);
	for (uint64_t b = start / BLK; b < end / BLK; b++)
		g.model[b] = ZERO_BLOCK;
	check_range(start, end - start, what);
	g.waited_for += n;
	g.fence_start = g.fence_end = 0;
	pthread_mutex_unlock(&g.lock);
}

static void
punch_once(void)
{
	uint64_t align = g.info.alignment > BLK ? g.info.alignment : BLK;
	uint64_t units = g.size / align;
	uint64_t n = 1 + rnd(units < 4 ? (unsigned)units : 4);
	uint64_t start = rnd((unsigned)(units - n + 1)) * align;
	uint64_t end = start + n * align;
	unsigned long seqs[DEPTH];
	unsigned long nseq = fence(start, end, seqs);

	if (pml_region_punch(g.region, g.off + start, end - start, NULL))
		FAIL("punch: %s", pml_errormsg());
	unfence(start, end, seqs, nseq, "punch");
	g.punches--;
}

/* shrink, then grow back: the cut part must come back as zeroes */
static void
truncate_once(void)
{
	uint64_t cut = (1 + rnd(8)) * (g.size / 32);
	unsigned long seqs[DEPTH];
	unsigned long nseq = fence(g.size - cut, g.size, seqs);

	if (pml_region_truncate(g.region, g.off + g.size - cut, NULL))
		FAIL("shrink: %s", pml_errormsg());
	if (pml_region_truncate(g.region, g.off + g.size, NULL))
		FAIL("grow: %s", pml_errormsg());
	unfence(g.size - cut, g.size, seqs, nseq, "truncate");
	g.truncates--;
}

/* ------------------------------------------------------------- setup */

static void
fill_source(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_DIRECT, 0600);
	char *buf;

	if (fd < 0 || posix_memalign((void **)&buf, BLK, 1u << 20)) {
		perror(path);
		exit(2);
	}
	for (uint64_t off = 0; off < g.src_size; off += 1u << 20) {
		for (unsigned i = 0; i < (1u << 20) / 8; i++)
			((uint64_t *)buf)[i] = pattern(off + i * 8ull);
		if (pwrite(fd, buf, 1u << 20, (off_t)off) != 1 << 20) {
			perror("fill the source");
			exit(2);
		}
	}
	fsync(fd);
	close(fd);
	free(buf);
}

static void
usage(void)
{
	fprintf(stderr,
		"usage: uring_dma [options] REGION SOURCE\n"
		"  -n, --requests N   reads to issue (default 4000)\n"
		"  -p, --punches N    punches meanwhile (default 200)\n"
		"  -t, --truncates N  shrink+grow cycles (default 20; 0 on devdax)\n"
		"  -o, --offset MIB   where in the region they start (default 0)\n"
		"  -s, --size MIB     bytes of the region to use (default 32)\n"
		"  -S, --source-size MIB  bytes of SOURCE to fill and read (default 16)\n"
		"  -r, --seed N       random seed (default 1)\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "requests", required_argument, NULL, 'n' },
		{ "punches", required_argument, NULL, 'p' },
		{ "truncates", required_argument, NULL, 't' },
		{ "offset", required_argument, NULL, 'o' },
		{ "size", required_argument, NULL, 's' },
		{ "source-size", required_argument, NULL, 'S' },
		{ "seed", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	g.src_size = 16u << 20;
	while ((c = getopt_long(argc, argv, "n:p:t:o:s:S:r:", opts, NULL)) != -1) {
		switch (c) {
		case 'n': g.requests = strtoul(optarg, NULL, 0); break;
		case 'p': g.punches = strtoul(optarg, NULL, 0); break;
		case 't': g.truncates = strtoul(optarg, NULL, 0); break;
		case 'o': g.off = strtoull(optarg, NULL, 0) << 20; break;
		case 's': g.size = strtoull(optarg, NULL, 0) << 20; break;
		case 'S': g.src_size = strtoull(optarg, NULL, 0) << 20; break;
		case 'r': g.seed = (unsigned)strtoul(optarg, NULL, 0); break;
		default: usage();
		}
	}
	if (argc - optind != 2 || g.size < (MAX_BLKS * BLK) ||
			g.src_size < MAX_BLKS * BLK)
		usage();

	struct pml_region_opts ropts = { .flags = PML_REGION_CREATE };

	if (pml_region_open(&g.region, argv[optind], &ropts) ||
			pml_region_info(&g.info, g.region)) {
		fprintf(stderr, "uring_dma: %s\n", pml_errormsg());
		return 2;
	}
	if (g.info.kind == PML_REGION_DEVDAX)
		g.truncates = 0;	/* a device has a fixed size */
	g.size = g.size / g.info.alignment * g.info.alignment;
	if (g.info.size < g.off + g.size && (g.info.kind == PML_REGION_DEVDAX ||
			pml_region_truncate(g.region, g.off + g.size, NULL))) {
		fprintf(stderr, "uring_dma: region too small: %s\n",
				pml_errormsg());
		return 2;
	}
	/* start from a known state: all zeroes */
	if (pml_region_punch(g.region, g.off, g.size, NULL)) {
		fprintf(stderr, "uring_dma: %s\n", pml_errormsg());
		return 2;
	}
	g.model = malloc(g.size / BLK * sizeof(*g.model));
	for (uint64_t b = 0; b < g.size / BLK; b++)
		g.model[b] = ZERO_BLOCK;

	fill_source(argv[optind + 1]);
	g.src_fd = open(argv[optind + 1], O_RDONLY | O_DIRECT);
	if (g.src_fd < 0 || io_uring_queue_init(DEPTH, &g.ring, 0)) {
		perror(argv[optind + 1]);
		return 2;
	}
	printf("uring_dma: %s region %s, %" PRIu64 " MiB used at %" PRIu64
		" MiB, alignment %" PRIu64 "; source %s\n",
		pml_region_kind_name(g.info.kind), argv[optind], g.size >> 20,
		g.off >> 20, g.info.alignment, argv[optind + 1]);

	unsigned long punches = g.punches, truncates = g.truncates;
	pthread_t sub, rea;

	pthread_create(&rea, NULL, reaper, NULL);
	pthread_create(&sub, NULL, submitter, NULL);

	/* spread the layout changes over the run */
	while ((g.punches || g.truncates) &&
			!__atomic_load_n(&g.failed, __ATOMIC_RELAXED)) {
		if (g.truncates && rnd(10) == 0)
			truncate_once();
		else if (g.punches)
			punch_once();
		usleep(500);
	}
	pthread_join(sub, NULL);
	pthread_join(rea, NULL);

	check_range(0, g.size, "at the end");
	io_uring_queue_exit(&g.ring);
	if (pml_region_close(&g.region))
		FAIL("close: %s", pml_errormsg());

	printf("uring_dma: %lu reads completed, %lu punches and %lu truncates "
		"over them waited for %lu in-flight requests (%lu on_break "
		"calls); every block matched the model: %s\n", g.completed,
		punches, truncates, g.waited_for, g.breaks,
		g.failed ? "NO" : "yes");
	return g.failed ? 1 : 0;
}
