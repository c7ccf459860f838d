/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * copy.c -- `pmemlease copy`: a hot copy the way a DMA engine makes it.
 *
 * The region's pages are written to another file with O_DIRECT through
 * io_uring: the kernel hands the source pages to the device, which reads
 * them while the write is in flight -- on DAX, straight from the
 * filesystem's blocks.  Each chunk in flight holds a PIN over its range,
 * put when its write completes (and, with --hold-ms, that much later: a
 * slow device), so a truncate or punch of the source waits for the chunks
 * in flight instead of handing their blocks back under the device.
 *
 * on_break cannot cancel a write the device is reading: it is counted, and
 * the chunk is put on completion.  A chunk behind a barrier is not started
 * while others are in flight (their puts are what the barrier waits for):
 * the copy reaps first, then waits for the barrier on its own.  A source
 * that shrinks under the copy ends it at the new size.
 *
 * --with SRC:DST copies companion files (a database's rollback journal)
 * as soon as the last chunk landed, before the chunks still held are put;
 * with it, one PIN over the whole source covers every chunk from the first
 * to the companions, so a truncate of a part not yet copied waits too.
 * A copy is one moment of a database if no transaction wrote its pages
 * while the chunks were read -- or if the one that did had not committed
 * when the journal was taken: the journal holds the originals of the
 * pages it wrote, and SQLite rolls the copy back to them.  Leases cannot
 * stop a commit (SQLite 3.40 truncates a shrunk database after deleting
 * its journal), only the truncate; see README.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <liburing.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define DEFAULT_CHUNK (1024 * 1024)
#define DEFAULT_DEPTH 8
#define MAX_WITH 8

void
usage_copy(FILE *out)
{
	fprintf(out,
		"Usage: %s copy [OPTIONS] SRC DST\n"
		"\n"
		"Copy a file or device with leases, as a DMA engine would: SRC's\n"
		"pages are written to DST with O_DIRECT through io_uring, each chunk\n"
		"in flight holding a PIN over its range, so that a truncate or punch\n"
		"of SRC waits for the chunks in flight.  DST is created or truncated.\n"
		"\n"
		"Options:\n"
		"  -c, --chunk SIZE     bytes per write (default 1m; a multiple of\n"
		"                       4k and of SRC's alignment)\n"
		"  -d, --depth N        writes in flight (default %d)\n"
		"  -H, --hold-ms MS     keep each chunk's PIN MS after its write\n"
		"                       completed (a slow device)\n"
		"  -w, --with SRC:DST   also copy file SRC to DST as soon as the last\n"
		"                       chunk landed, before the chunks are put (a\n"
		"                       database's journal; if SRC does not exist,\n"
		"                       DST is removed); up to %d.  The whole of\n"
		"                       the source is then pinned until they are\n"
		"                       copied\n"
		"  -B, --buffered       DST without O_DIRECT (tmpfs refuses it)\n"
		"  -q, --quiet          no summary\n"
		"  -h, --help           show this help\n"
		"\n", cli_prog, DEFAULT_DEPTH, MAX_WITH);
	cli_print_exit_codes(out);
}

struct chunk {
	struct pml_lease *lease;	/* NULL under the whole-source PIN */
	char *addr;
	uint64_t off;
	uint64_t len;
	uint64_t done;		/* bytes written so far */
	uint64_t put_at_ns;	/* 0 while in flight */
	bool busy;
};

struct copy {
	struct pml_region *r;
	struct pml_lease *whole;	/* --with: a PIN over all of SRC */
	int dst;
	struct io_uring ring;
	struct chunk *chunks;
	unsigned depth, inflight, held, max_inflight;
	uint64_t chunk, hold_ns;
	atomic_uint breaks;
	unsigned barrier_waits;
	uint64_t copied;
};

static uint64_t
mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* a device cannot drop a write in flight: note it, put on completion */
static void
on_break(struct pml_lease *lease, enum pml_break_reason why, void *arg)
{
	struct copy *c = arg;

	(void) lease;
	(void) why;
	atomic_fetch_add(&c->breaks, 1);
}

static const struct pml_lease_ops copy_ops = { .on_break = on_break };

static int
submit(struct copy *c, struct chunk *k)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_write(sqe, c->dst, k->addr + k->done, (unsigned)(k->len - k->done), k->off + k->done);
	io_uring_sqe_set_data(sqe, k);
	int ret = io_uring_submit(&c->ring);

	return ret == 1 ? 0 : ret < 0 ? ret : -EIO;
}

/* put the held chunks whose time has come (all of them with force) */
static void
put_due(struct copy *c, bool force)
{
	uint64_t now = mono_ns();

	for (unsigned i = 0; i < c->depth; i++) {
		struct chunk *k = &c->chunks[i];

		if (k->busy && k->put_at_ns && (force || now >= k->put_at_ns)) {
			if (k->lease)
				pml_lease_put(k->lease);
			k->busy = false;
			c->held--;
		}
	}
}

/* reap one completion, waiting for it if wait; 0, or a negative errno */
static int
reap(struct copy *c, bool wait)
{
	struct io_uring_cqe *cqe;
	int ret = wait ? io_uring_wait_cqe(&c->ring, &cqe) :
		io_uring_peek_cqe(&c->ring, &cqe);

	if (ret == -EAGAIN && !wait)
		return 0;
	if (ret < 0)
		return ret;

	struct chunk *k = io_uring_cqe_get_data(cqe);
	int res = cqe->res;

	io_uring_cqe_seen(&c->ring, cqe);
	if (res < 0) {
		fprintf(stderr, "%s copy: write at %" PRIu64 ": %s\n", cli_prog,
				k->off + k->done, strerror(-res));
		return res;
	}
	k->done += (uint64_t)res;
	if (k->done < k->len) {
		if (res == 0)
			return -EIO;
		return submit(c, k);	/* a short write: the rest */
	}
	c->inflight--;
	c->copied += k->len;
	k->put_at_ns = mono_ns() + c->hold_ns;
	if (k->put_at_ns == 0)
		k->put_at_ns = 1;
	return 0;
}

static struct chunk *
free_chunk(struct copy *c)
{
	for (unsigned i = 0; i < c->depth; i++)
		if (!c->chunks[i].busy)
			return &c->chunks[i];
	return NULL;
}

/*
 * acquire -- a PIN over [off, off + len).  A barrier in the way: with
 * writes in flight, reap (their puts may be what it waits for); with none,
 * wait for it.  Returns 0, 1 when the source ended before off, or <0.
 */
static int
acquire(struct copy *c, struct chunk *k, uint64_t off, uint64_t len)
{
	if (c->whole) {
		/* the whole source is pinned already: its chunks are too */
		k->lease = NULL;
		k->addr = (char *)pml_lease_addr(c->whole) + off;
		return 0;
	}
	for (;;) {
		int ret = pml_lease_acquire(&k->lease, c->r, off, len,
				PML_LEASE_PIN | (c->held ? PML_LEASE_NOWAIT : 0),
				&copy_ops, c);

		if (ret == 0) {
			k->addr = pml_lease_addr(k->lease);
			return 0;
		}
		if (ret == -EINVAL && off + len > pml_region_size(c->r))
			return 1;	/* shrunk under us: the copy ends */
		if (ret != -EAGAIN)
			return ret;
		c->barrier_waits++;
		if (c->inflight && (ret = reap(c, true)))
			return ret;
		put_due(c, false);
		if (!c->inflight)
			usleep(1000);	/* our holds may be what it waits for */
	}
}

static int
copy_file(const char *src, const char *dst)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);

	/* no journal is a state too: the copy alone is the database */
	if (in < 0 && errno == ENOENT) {
		unlink(dst);
		printf("--with %s: absent, nothing to copy\n", src);
		return 0;
	}

	int out = in < 0 ? -1 : open(dst, O_WRONLY | O_CREAT | O_TRUNC |
			O_CLOEXEC, 0644);
	char buf[65536];
	ssize_t n = 0;

	if (in < 0 || out < 0) {
		fprintf(stderr, "%s copy: --with %s:%s: %s\n", cli_prog, src,
				dst, strerror(errno));
		if (in >= 0)
			close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	if (n < 0 || fsync(out))
		fprintf(stderr, "%s copy: --with %s:%s: %s\n", cli_prog, src,
				dst, strerror(errno));
	close(in);
	close(out);
	return n < 0 ? -1 : 0;
}

static int
run(struct copy *c, uint64_t *size_out)
{
	uint64_t size = c->whole ? pml_lease_length(c->whole) :
		pml_region_size(c->r), off = 0;
	int ret = 0;

	while (off < size) {
		struct chunk *k;

		put_due(c, false);
		while (!(k = free_chunk(c))) {
			if (c->inflight && (ret = reap(c, true)))
				return ret;
			put_due(c, false);
			if (!c->inflight && !free_chunk(c))
				usleep(1000);	/* all held: wait out a hold */
		}

		uint64_t len = size - off < c->chunk ? size - off : c->chunk;

		ret = acquire(c, k, off, len);
		if (ret == 1) {
			size = pml_region_size(c->r);
			break;
		}
		if (ret)
			return ret;
		*k = (struct chunk){ k->lease, k->addr, off, len, 0, 0, true };
		c->held++;
		if (++c->inflight > c->max_inflight)
			c->max_inflight = c->inflight;
		if ((ret = submit(c, k)))
			return ret;
		off += len;
		while ((ret = reap(c, false)) == 0 && io_uring_cq_ready(&c->ring))
			;
		if (ret)
			return ret;
	}
	while (c->inflight)
		if ((ret = reap(c, true)))
			return ret;
	*size_out = off < size ? off : size;
	return 0;
}

int
cmd_copy(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "chunk", required_argument, NULL, 'c' },
		{ "depth", required_argument, NULL, 'd' },
		{ "hold-ms", required_argument, NULL, 'H' },
		{ "with", required_argument, NULL, 'w' },
		{ "buffered", no_argument, NULL, 'B' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct copy c = { .dst = -1, .chunk = DEFAULT_CHUNK,
		.depth = DEFAULT_DEPTH };
	char *with[MAX_WITH];
	unsigned nwith = 0;
	bool buffered = false, quiet = false;
	const char *why;
	uint32_t hold_ms = 0;
	uint64_t v;
	int opt;

	while ((opt = getopt_long(argc, argv, "c:d:H:w:Bqh", longopts,
			NULL)) != -1) {
		switch (opt) {
		case 'c':
			if (cli_parse_size(optarg, &c.chunk, &why) ||
					c.chunk == 0 || c.chunk % 4096 ||
					c.chunk > (1U << 30)) {
				fprintf(stderr, "%s copy: --chunk %s: a multiple "
						"of 4k up to 1g\n", cli_prog,
						optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case 'd':
			if (cli_parse_size(optarg, &v, &why) || v == 0 ||
					v > 4096) {
				fprintf(stderr, "%s copy: --depth %s: 1 to 4096\n",
						cli_prog, optarg);
				return CLI_EXIT_USAGE;
			}
			c.depth = (unsigned)v;
			break;
		case 'H':
			if (cli_parse_ms(optarg, &hold_ms, &why)) {
				fprintf(stderr, "%s copy: --hold-ms %s: %s\n",
						cli_prog, optarg, why);
				return CLI_EXIT_USAGE;
			}
			break;
		case 'w':
			if (nwith == MAX_WITH || !strchr(optarg, ':')) {
				fprintf(stderr, "%s copy: --with SRC:DST, up to "
						"%d times\n", cli_prog, MAX_WITH);
				return CLI_EXIT_USAGE;
			}
			with[nwith++] = optarg;
			break;
		case 'B':
			buffered = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage_copy(stdout);
			return CLI_EXIT_OK;
		default:
			usage_copy(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		usage_copy(stderr);
		return CLI_EXIT_USAGE;
	}

	const char *src = argv[optind], *dst = argv[optind + 1];
	struct pml_region_info info;
	int rc = pml_region_open(&c.r, src, &cli_open_opts);

	if (!rc)
		rc = pml_region_info(&info, c.r);
	if (rc) {
		fprintf(stderr, "%s copy: %s: %s: %s\n", cli_prog, src,
				cli_errname(rc), cli_libmsg());
		if (c.r)
			pml_region_close(&c.r);
		return CLI_EXIT_FAIL;
	}
	if (c.chunk % info.alignment) {
		fprintf(stderr, "%s copy: --chunk must be a multiple of %s's "
				"alignment %" PRIu64 "\n", cli_prog, src,
				info.alignment);
		pml_region_close(&c.r);
		return CLI_EXIT_USAGE;
	}
	c.dst = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
			(buffered ? 0 : O_DIRECT), 0644);
	if (c.dst < 0) {
		fprintf(stderr, "%s copy: %s: %s%s\n", cli_prog, dst,
				strerror(errno), errno == EINVAL && !buffered ?
				" (its filesystem refuses O_DIRECT: --buffered)" :
				"");
		pml_region_close(&c.r);
		return CLI_EXIT_FAIL;
	}
	c.chunks = calloc(c.depth, sizeof(*c.chunks));
	c.hold_ns = (uint64_t)hold_ms * 1000000u;
	if (!c.chunks || (rc = io_uring_queue_init(c.depth, &c.ring, 0))) {
		fprintf(stderr, "%s copy: io_uring: %s\n", cli_prog,
				strerror(rc ? -rc : ENOMEM));
		free(c.chunks);
		close(c.dst);
		pml_region_close(&c.r);
		return CLI_EXIT_SYSTEM;
	}

	uint64_t t0 = mono_ns(), copied = 0;

	/*
	 * With companions, the whole source is pinned from the first chunk to
	 * the companions: a truncate cutting a part not yet copied waits too,
	 * so the copy and the companions are of one moment of the layout.
	 */
	if (nwith && pml_region_size(c.r) &&
			(rc = pml_lease_acquire(&c.whole, c.r, 0,
			pml_region_size(c.r), PML_LEASE_PIN, &copy_ops, &c))) {
		fprintf(stderr, "%s copy: %s: %s\n", cli_prog, src,
				cli_libmsg());
		c.whole = NULL;
	}
	if (!rc)
		rc = run(&c, &copied);
	/*
	 * The companions as soon as the last chunk landed, while the chunks
	 * are still held: a journal that is hot now holds the original of
	 * every page a transaction wrote while the chunks were read.
	 */
	for (unsigned i = 0; i < nwith && !rc; i++) {
		char *sep = strchr(with[i], ':');

		*sep = 0;
		rc = copy_file(with[i], sep + 1) ? -EIO : 0;
		*sep = ':';
	}
	if (rc) {
		/* what is in flight must land before its lease goes */
		while (c.inflight && reap(&c, true) == 0)
			;
	}
	while (c.held) {
		put_due(&c, false);
		if (c.held)
			usleep(1000);
	}
	if (c.whole)
		pml_lease_put(c.whole);
	io_uring_queue_exit(&c.ring);
	if (!rc && (ftruncate(c.dst, (off_t)copied) || fsync(c.dst)))
		rc = -errno;
	close(c.dst);
	free(c.chunks);
	pml_region_close(&c.r);
	if (rc) {
		fprintf(stderr, "%s copy: %s -> %s failed: %s\n", cli_prog,
				src, dst, strerror(-rc));
		return CLI_EXIT_FAIL;
	}
	if (!quiet) {
		char s[32];

		printf("copied %s (%" PRIu64 " bytes) from %s to %s in %.1f ms: "
				"%" PRIu64 " chunks, %u in flight at most, %u "
				"breaks, %u waits for a barrier\n",
				cli_size(s, sizeof(s), copied), copied, src, dst,
				(double)(mono_ns() - t0) / 1e6,
				(copied + c.chunk - 1) / c.chunk, c.max_inflight,
				atomic_load(&c.breaks), c.barrier_waits);
	}
	return CLI_EXIT_OK;
}
