/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * demo.c -- `pmemlease demo`: the library's promises, acted out and checked.
 *
 * The demo is meant for a newcomer *and* as a smoke test, so every line it
 * prints about an outcome is something it measured (a return code, a time,
 * st_blocks, the file's extent map, the bytes under a lease), and every
 * promise of the header it acts out is checked; one broken promise makes it
 * exit non-zero.
 *
 * Cast: "devices" are threads that write into their leased range the way
 * DMA would and complete their requests some time later; a completion
 * thread puts the lease when a request completes (as an io_uring or NVMe
 * completion handler would), so leases are put from another thread than the
 * one that acquired them.  The main thread plays the database that punches
 * and truncates.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <pmemlease.h>

#include "cli.h"

#define NBLOCKS		16	/* the region is shown as this many blocks */
#define GROWN_BLOCKS	32
#define SHRUNK_BLOCKS	8
#define STEP_LIMIT_S	60	/* the watchdog's patience for one step */

/* the punch-and-wait scene; times in ms, chosen so the order is readable */
#define A_CANCEL_MS	60	/* dma-A: two requests, done 60 ms after on_break */
#define R_HOLD_MS	90	/* cpu-R: a REF held 90 ms for a checksum */
#define B_CANCEL_MS	120	/* dma-B: the last to let go */
#define C_CANCEL_MS	40
#define NATURAL_MS	5000	/* an unbroken request completes by itself */
#define FAIL_TIMEOUT_MS	200
#define REVOKE_TIMEOUT_MS 200
/*
 * A punch must proceed right after the last put.  The bound is loose so that
 * sanitizer builds on a busy 2-core machine pass; the measured figure is
 * printed either way.
 */
#define PROCEED_BOUND_MS 500.0

/* ------------------------------------------------------------ time, output */

static struct timespec t_origin;
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static double
now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t_origin.tv_sec) * 1e3 +
	       (double)(t.tv_nsec - t_origin.tv_nsec) / 1e6;
}

/* a narrated line: no time, indented under the current step */
__attribute__((format(printf, 1, 2)))
static void
say(const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&out_mu);
	fputs("    ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	pthread_mutex_unlock(&out_mu);
}

static void
blank(void)
{
	pthread_mutex_lock(&out_mu);
	fputc('\n', stdout);
	pthread_mutex_unlock(&out_mu);
}

/*
 * Something that happened, in whichever thread.  Stamped under the output
 * lock, so the printed times only ever go up and the lines read in order.
 */
__attribute__((format(printf, 2, 3)))
static void
event(const char *who, const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&out_mu);
	printf("    +%8.1f ms  %-10s ", now_ms(), who);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	pthread_mutex_unlock(&out_mu);
}

static unsigned n_checks, n_failed;
static bool sys_failed;		/* the machine, not the library, stopped us */

/* pthread_create, with the failure told and remembered for the exit code */
static int
start_thread(pthread_t *t, void *(*fn)(void *), void *arg, const char *what)
{
	int e = pthread_create(t, NULL, fn, arg);
	if (e != 0) {
		fprintf(stderr, "%s demo: cannot start the %s thread: %s\n",
			cli_prog, what, strerror(e));
		sys_failed = true;
		return -1;
	}
	return 0;
}

/*
 * expect -- a promise of the library against what was observed.  The
 * promise is the header's; the observation is formatted from measurements.
 */
__attribute__((format(printf, 3, 4)))
static bool
expect(bool ok, const char *promise, const char *observed_fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&out_mu);
	n_checks++;
	if (!ok)
		n_failed++;
	printf("    %s %s: ", ok ? "[ok]  " : "[FAIL]", promise);
	va_start(ap, observed_fmt);
	vprintf(observed_fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	pthread_mutex_unlock(&out_mu);
	return ok;
}

/* the library's own words for the last error of this thread */
static const char *
libmsg(void)
{
	const char *m = pml_errormsg();
	return m && *m ? m : "(no message)";
}

/* ------------------------------------------------------- the demo's state */

static struct {
	struct pml_region *region;
	uint64_t blk;			/* one block = the region's alignment */
	int fd;				/* our own: fstat and FIEMAP */
	char path[PATH_MAX];
	bool remove_at_exit;
	char model[GROWN_BLOCKS + 1];	/* what each block should read */
	/*
	 * tmpfs gives a page to a hole that is read through a shared mapping,
	 * so there a block read since its punch is allocated again; the
	 * demo's reads mark the blocks they touch so the checks can tell.
	 */
	bool reads_allocate;
	bool touched[GROWN_BLOCKS];
} dm = { .fd = -1 };

/* what a signal handler may touch: path to unlink, set once */
static volatile sig_atomic_t path_armed;

static volatile sig_atomic_t step_no;
static pthread_mutex_t step_mu = PTHREAD_MUTEX_INITIALIZER;
static double step_started;
static bool demo_done;

static void
step(int n, const char *title)
{
	pthread_mutex_lock(&step_mu);
	step_no = n;
	step_started = now_ms();
	pthread_mutex_unlock(&step_mu);
	pthread_mutex_lock(&out_mu);
	printf("\n[%d] %s\n", n, title);
	pthread_mutex_unlock(&out_mu);
}

static void
on_signal(int sig)
{
	if (path_armed)
		unlink(dm.path);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * A library that never returns from a punch would hang the demo, and ctest
 * would only say "timeout".  The watchdog says which step got stuck.
 */
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;

static void *
watchdog_main(void *arg)
{
	pthread_mutex_lock(&step_mu);
	while (!demo_done) {
		double age = now_ms() - step_started;
		if (age > STEP_LIMIT_S * 1000.0) {
			/* no out_mu: whoever holds it may be the one stuck */
			fprintf(stderr, "\n%s demo: step %d made no progress in %d s: "
				"giving up\n", cli_prog, (int)step_no, STEP_LIMIT_S);
			if (path_armed)
				unlink(dm.path);
			_exit(CLI_EXIT_FAIL);
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&done_cv, &step_mu, &ts);
	}
	pthread_mutex_unlock(&step_mu);
	return NULL;
}

/* ------------------------------------------------------ the file, observed */

static uint64_t
blk(uint64_t n)
{
	return n * dm.blk;
}

struct file_view {
	char alloc[GROWN_BLOCKS + 1];	/* '#' allocated, '.' hole */
	char data[GROWN_BLOCKS + 1];	/* what each block reads */
	uint64_t st_blocks;		/* 512-byte units */
	uint64_t st_size;
	const char *source;		/* how allocation was learned */
};

/*
 * Which blocks the file has allocated.  FIEMAP counts unwritten extents as
 * allocated (they are: a quarantine could leave some), SEEK_DATA would call
 * them holes; so FIEMAP first, SEEK_DATA only where FIEMAP is missing.
 */
static int
read_alloc(char *out, unsigned nblocks, const char **source)
{
	const unsigned max_ext = 64;
	size_t sz = sizeof(struct fiemap) + max_ext * sizeof(struct fiemap_extent);
	struct fiemap *fm = calloc(1, sz);
	uint64_t end = blk(nblocks);
	uint64_t start = 0;

	memset(out, '.', nblocks);
	out[nblocks] = '\0';
	if (fm == NULL)
		return -ENOMEM;

	*source = "FIEMAP";
	while (start < end) {
		memset(fm, 0, sz);
		fm->fm_start = start;
		fm->fm_length = end - start;
		fm->fm_flags = FIEMAP_FLAG_SYNC;
		fm->fm_extent_count = max_ext;
		if (ioctl(dm.fd, FS_IOC_FIEMAP, fm) < 0)
			goto seek;
		if (fm->fm_mapped_extents == 0)
			break;
		bool last = false;
		for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
			struct fiemap_extent *e = &fm->fm_extents[i];
			uint64_t a = e->fe_logical / dm.blk;
			uint64_t b = (e->fe_logical + e->fe_length + dm.blk - 1) / dm.blk;
			for (uint64_t k = a; k < b && k < nblocks; k++)
				out[k] = '#';
			start = e->fe_logical + e->fe_length;
			if (e->fe_flags & FIEMAP_EXTENT_LAST)
				last = true;
		}
		if (last)
			break;
	}
	free(fm);
	return 0;

seek:
	free(fm);
	*source = "SEEK_DATA";
	memset(out, '.', nblocks);
	for (off_t off = 0; (uint64_t)off < end;) {
		off_t d = lseek(dm.fd, off, SEEK_DATA);
		if (d < 0)
			break;	/* ENXIO: no data past off */
		off_t h = lseek(dm.fd, d, SEEK_HOLE);
		if (h < 0)
			return -errno;
		for (uint64_t k = (uint64_t)d / dm.blk;
		     k < ((uint64_t)h + dm.blk - 1) / dm.blk && k < nblocks; k++)
			out[k] = '#';
		off = h;
	}
	return 0;
}

/*
 * What block i reads, through a short REF lease as any CPU reader should:
 * '0' zeroes, a letter when the block is filled with it, '*' mixed,
 * '-' when no lease can be had right now (barrier or quarantine),
 * ' ' past the region's end.
 */
static char
read_block(unsigned i)
{
	struct pml_lease *l = NULL;
	if (blk(i + 1) > pml_region_size(dm.region))
		return ' ';
	int rc = pml_lease_acquire(&l, dm.region, blk(i), dm.blk,
				   PML_LEASE_REF | PML_LEASE_NOWAIT, NULL, NULL);
	if (rc == -EAGAIN)
		return '-';
	if (rc < 0)
		return '!';
	const unsigned char *p = pml_lease_addr(l);
	char c;
	bool same = true;
	dm.touched[i] = true;
	for (uint64_t k = 1; k < dm.blk && same; k++)
		same = p[k] == p[0];
	if (!same)
		c = '*';
	else if (p[0] == 0)
		c = '0';
	else if (p[0] >= 0x21 && p[0] < 0x7f)
		c = (char)p[0];
	else
		c = '*';
	pml_lease_put(l);
	return c;
}

/*
 * with_data: read every block too.  Never while a streaming device may be
 * writing into one: that read would race with the "DMA", as it would with
 * a real device.
 */
static void
observe_some(struct file_view *v, unsigned nblocks, bool with_data)
{
	struct stat st;

	memset(v, 0, sizeof(*v));
	if (read_alloc(v->alloc, nblocks, &v->source) < 0)
		memset(v->alloc, '?', nblocks);
	/* allocation before the reads: on tmpfs a read can change it */
	if (fstat(dm.fd, &st) == 0) {
		v->st_blocks = (uint64_t)st.st_blocks;
		v->st_size = (uint64_t)st.st_size;
	}
	for (unsigned i = 0; i < nblocks && with_data; i++)
		v->data[i] = read_block(i);
	v->data[nblocks] = '\0';
}

static void
observe(struct file_view *v, unsigned nblocks)
{
	observe_some(v, nblocks, true);
}

static void
show(const struct file_view *v, unsigned nblocks)
{
	char idx[GROWN_BLOCKS + 1], s1[32], s2[32];
	for (unsigned i = 0; i < nblocks; i++)
		idx[i] = "0123456789abcdef"[i % 16];
	idx[nblocks] = '\0';
	say("block      %s", idx);
	say("allocated  %s   (%s; st_blocks %" PRIu64 " = %s on disk, st_size %s)",
	    v->alloc, v->source, v->st_blocks,
	    cli_size(s1, sizeof(s1), v->st_blocks * 512),
	    cli_size(s2, sizeof(s2), v->st_size));
	say("reads      %s", v->data);
}

/* the blocks the model predicts, for the regions [0, nblocks) */
static bool
data_matches_model(const struct file_view *v, unsigned nblocks)
{
	return memcmp(v->data, dm.model, nblocks) == 0;
}

/* the blocks in [a, b) are holes, bar those tmpfs refilled on a read */
static bool
holes(const struct file_view *v, unsigned a, unsigned b)
{
	for (unsigned i = a; i < b; i++)
		if (v->alloc[i] != '.' && !(dm.reads_allocate && dm.touched[i]))
			return false;
	return true;
}

/* before a punch: reads from now on may refill a hole on tmpfs */
static void
untouch(unsigned a, unsigned b)
{
	for (unsigned i = a; i < b; i++)
		dm.touched[i] = false;
}

static unsigned
count_alloc(const struct file_view *v, unsigned a, unsigned b)
{
	unsigned n = 0;
	for (unsigned i = a; i < b; i++)
		n += v->alloc[i] == '#';
	return n;
}

/* ------------------------------------------------- devices and completions */

struct device {
	const char *name;
	uint64_t off, len;
	unsigned ios;		/* requests in flight, each holding one reference */
	unsigned cancel_ms;	/* from on_break until the requests complete */
	unsigned hold_ms;	/* a REF reader lets go after this long */
	bool ref;		/* a CPU reader holding a REF, not a device */
	bool ignores_break;	/* a stuck device: completes only when released */
	bool streaming;		/* keeps writing until its requests complete */
	unsigned char fill;
	struct pml_lease *lease;
	pthread_t thread;
	bool started;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool landed;		/* first transfer is in memory */
	bool released;		/* told to complete now (stuck device, teardown) */
	double t_go;		/* a REF reader's scan starts (0: not yet) */
	unsigned breaks[5];	/* on_break calls by reason */
	double t_break;		/* first on_break(PML_BREAK_LAYOUT) */
	unsigned writes;
	unsigned puts_called;	/* counted before the call: the put that lets a
				 * punch proceed may return after the punch */
	unsigned puts;
	unsigned put_errors;
	int put_rc;		/* the first bad return of pml_lease_put */
	double t_put_call;	/* when the last put was called */
	double t_put_ret;
	unsigned long checksum;
};

static pthread_cond_t barrier_up_cv = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t barrier_up_mu = PTHREAD_MUTEX_INITIALIZER;
static bool barrier_up;
static bool punch_returned;	/* so `db` never waits for a barrier that
				 * a broken library did not raise */

static const char *
reason_name(enum pml_break_reason r)
{
	switch (r) {
	case PML_BREAK_LAYOUT: return "PML_BREAK_LAYOUT";
	case PML_BREAK_REVOKED: return "PML_BREAK_REVOKED";
	case PML_BREAK_REMOVE: return "PML_BREAK_REMOVE";
	case PML_BREAK_POISON: return "PML_BREAK_POISON";
	}
	return "unknown reason";
}

/*
 * on_break runs in the thread that raised the barrier: it only tells the
 * device and returns; the device's completion puts the lease later, which
 * is what a real driver's cancel does.
 */
static void
device_on_break(struct pml_lease *lease, enum pml_break_reason reason, void *arg)
{
	struct device *d = arg;
	double t = now_ms();

	pthread_mutex_lock(&d->mu);
	if ((unsigned)reason < 5)
		d->breaks[reason]++;
	if (reason == PML_BREAK_LAYOUT && d->t_break == 0)
		d->t_break = t;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);

	if (d->ignores_break)
		event(d->name, "on_break(%s) -- ignored: this device is stuck",
		      reason_name(reason));
	else if (d->ref)
		event(d->name, "on_break(%s) on a REF lease", reason_name(reason));
	else
		event(d->name, "on_break(%s) -- cancelling %u request(s), "
		      "they complete in %u ms", reason_name(reason), d->ios,
		      d->cancel_ms);

	pthread_mutex_lock(&barrier_up_mu);
	barrier_up = true;
	pthread_cond_broadcast(&barrier_up_cv);
	pthread_mutex_unlock(&barrier_up_mu);
}

static const struct pml_lease_ops device_ops = { .on_break = device_on_break };

/* the completion queue: devices post, one thread puts */
#define CQ_SIZE 64
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct device *q[CQ_SIZE];
	unsigned head, tail;
	bool stop;
	pthread_t thread;
	bool started;
} cq = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void
complete(struct device *d)
{
	pthread_mutex_lock(&cq.mu);
	cq.q[cq.tail++ % CQ_SIZE] = d;
	pthread_cond_signal(&cq.cv);
	pthread_mutex_unlock(&cq.mu);
}

static void *
completion_main(void *arg)
{
	for (;;) {
		pthread_mutex_lock(&cq.mu);
		while (cq.head == cq.tail && !cq.stop)
			pthread_cond_wait(&cq.cv, &cq.mu);
		if (cq.head == cq.tail) {
			pthread_mutex_unlock(&cq.mu);
			return NULL;
		}
		struct device *d = cq.q[cq.head++ % CQ_SIZE];
		pthread_mutex_unlock(&cq.mu);

		double t0 = now_ms();
		pthread_mutex_lock(&d->mu);
		unsigned nth = ++d->puts_called;
		d->t_put_call = t0;
		pthread_mutex_unlock(&d->mu);

		event("completion", "%s: request %u of %u done -> pml_lease_put()",
		      d->name, nth, d->ios);
		int rc = pml_lease_put(d->lease);
		double t1 = now_ms();
		if (rc != 0)
			event("completion", "%s: pml_lease_put() = %s: %s",
			      d->name, cli_errname(rc), libmsg());

		pthread_mutex_lock(&d->mu);
		d->puts++;
		if (rc != 0 && d->put_errors++ == 0)
			d->put_rc = rc;
		d->t_put_ret = t1;
		pthread_cond_broadcast(&d->cv);
		pthread_mutex_unlock(&d->mu);
	}
}

static void
timespec_at(struct timespec *ts, double t_ms)
{
	/* t_ms is on our origin's scale; condvars wait on CLOCK_REALTIME */
	struct timespec real;
	clock_gettime(CLOCK_REALTIME, &real);
	double delta = t_ms - now_ms();
	if (delta < 0)
		delta = 0;
	long long ns = real.tv_nsec + (long long)(delta * 1e6);
	ts->tv_sec = real.tv_sec + (time_t)(ns / 1000000000LL);
	ts->tv_nsec = (long)(ns % 1000000000LL);
}

static void *
device_main(void *arg)
{
	struct device *d = arg;
	unsigned char *mem = pml_lease_addr(d->lease);
	double t_start = now_ms();

	if (d->ref) {
		for (uint64_t k = 0; k < d->len; k++)
			d->checksum = d->checksum * 31 + mem[k];
	} else {
		memset(mem, d->fill, d->len);
	}
	pthread_mutex_lock(&d->mu);
	d->landed = true;
	d->writes++;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);

	char sz[32];
	if (d->ref)
		event(d->name, "REF held on %s at +%" PRIu64 " for a "
		      "checksum that will take %u ms", cli_size(sz, sizeof(sz), d->len),
		      d->off, d->hold_ms);
	else
		event(d->name, "DMA wrote %s of '%c' at +%" PRIu64
		      "; %u request(s) in flight", cli_size(sz, sizeof(sz), d->len),
		      d->fill, d->off, d->ios);

	pthread_mutex_lock(&d->mu);
	for (;;) {
		double deadline;
		if (d->released)
			break;
		if (d->ref && d->t_go == 0)
			deadline = t_start + 3600e3;
		else if (d->ref)
			deadline = d->t_go + d->hold_ms;
		else if (d->ignores_break)
			deadline = t_start + 3600e3;
		else if (d->t_break != 0)
			deadline = d->t_break + d->cancel_ms;
		else
			deadline = t_start + NATURAL_MS;
		double t = now_ms();
		if (t >= deadline)
			break;
		double wake = deadline;
		if (d->streaming && t + 10 < deadline)
			wake = t + 10;
		struct timespec ts;
		timespec_at(&ts, wake);
		pthread_cond_timedwait(&d->cv, &d->mu, &ts);
		if (d->streaming && !d->released && now_ms() < deadline) {
			/*
			 * The device keeps transferring while the barrier
			 * waits: harmless, because the blocks stay the file's
			 * until the put.
			 */
			pthread_mutex_unlock(&d->mu);
			memset(mem, d->fill, d->len);
			pthread_mutex_lock(&d->mu);
			d->writes++;
		}
	}
	unsigned writes = d->writes;
	pthread_mutex_unlock(&d->mu);

	if (!d->ref && d->streaming)
		event(d->name, "requests complete after %u transfers",
		      writes);
	for (unsigned i = 0; i < d->ios; i++)
		complete(d);
	return NULL;
}

/*
 * Acquire the device's lease (plus one get per extra request: each request
 * holds its own reference) and start it; returns once its first transfer is
 * in memory, so whoever reads the range afterwards reads after it.
 */
static int
device_start(struct device *d)
{
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	unsigned flags = d->ref ? PML_LEASE_REF : PML_LEASE_PIN;
	int rc = pml_lease_acquire(&d->lease, dm.region, d->off, d->len, flags,
				   &device_ops, d);
	if (!expect(rc == 0, d->ref ? "acquire a REF lease" : "acquire a PIN lease",
		    "%s [%" PRIu64 ", +%" PRIu64 ") -> %s%s%s", d->name, d->off,
		    d->len, cli_errname(rc), rc ? ": " : "", rc ? libmsg() : ""))
		return -1;
	void *want = (char *)pml_region_base(dm.region) + d->off;
	expect(pml_lease_addr(d->lease) == want, "pml_lease_addr = base + offset",
	       "%p", pml_lease_addr(d->lease));
	for (unsigned i = 1; i < d->ios; i++) {
		rc = pml_lease_get(d->lease);
		expect(rc == 0, "pml_lease_get for another request in flight",
		       "%s -> %s", d->name, cli_errname(rc));
	}
	if (start_thread(&d->thread, device_main, d, d->name) != 0) {
		for (unsigned i = 0; i < d->ios; i++)
			pml_lease_put(d->lease);
		return -1;
	}
	d->started = true;
	pthread_mutex_lock(&d->mu);
	while (!d->landed)
		pthread_cond_wait(&d->cv, &d->mu);
	pthread_mutex_unlock(&d->mu);
	return 0;
}

/* wait for all the device's requests to be completed and put */
static void
device_join(struct device *d)
{
	if (!d->started)
		return;
	pthread_mutex_lock(&d->mu);
	d->released = true;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->thread, NULL);
	d->started = false;
	pthread_mutex_lock(&d->mu);
	while (d->puts < d->ios)
		pthread_cond_wait(&d->cv, &d->mu);
	pthread_mutex_unlock(&d->mu);
}

static unsigned
breaks_of(struct device *d, enum pml_break_reason r)
{
	pthread_mutex_lock(&d->mu);
	unsigned n = d->breaks[r];
	pthread_mutex_unlock(&d->mu);
	return n;
}

static struct device dev_a = {
	.name = "dma-A", .ios = 2, .cancel_ms = A_CANCEL_MS, .streaming = true,
	.fill = 'A',
};
static struct device dev_b = {
	.name = "dma-B", .ios = 1, .cancel_ms = B_CANCEL_MS, .streaming = true,
	.fill = 'B',
};
static struct device cpu_r = {
	.name = "cpu-R", .ios = 1, .ref = true, .hold_ms = R_HOLD_MS,
};
static struct device dev_c = {
	.name = "dma-C", .ios = 1, .cancel_ms = C_CANCEL_MS, .fill = 'C',
};
static struct device dev_d = {
	.name = "dma-D", .ios = 1, .ignores_break = true, .fill = 'D',
};
static struct device *const all_devices[] = {
	&dev_a, &dev_b, &cpu_r, &dev_c, &dev_d,
};

/* ------------------------------------------------------------ the scenes */

static int
scene_open(void)
{
	struct pml_region_info info;
	char s1[32], s2[32];
	long page = sysconf(_SC_PAGESIZE);

	step(1, "Open a region");
	say("A region maps a whole file or device once, in address space reserved");
	say("up front, so that growing it never moves a pointer a device holds.");

	/* the file starts at NBLOCKS pages; the alignment is known after open */
	if (ftruncate(dm.fd, (off_t)NBLOCKS * page) != 0) {
		say("ftruncate %s: %s", dm.path, strerror(errno));
		sys_failed = true;
		return -1;
	}
	double t0 = now_ms();
	int rc = pml_region_open(&dm.region, dm.path, NULL);
	double t1 = now_ms();
	if (!expect(rc == 0 && dm.region != NULL, "pml_region_open", "%s in %.1f ms%s%s",
		    cli_errname(rc), t1 - t0, rc ? ": " : "", rc ? libmsg() : ""))
		return -1;

	rc = pml_region_info(&info, dm.region);
	if (!expect(rc == 0, "pml_region_info", "%s", cli_errname(rc)))
		return -1;
	say("path         %s", info.path);
	say("kind         %s", pml_region_kind_name(info.kind));
	say("size         %s (%" PRIu64 " bytes)", cli_size(s1, sizeof(s1), info.size),
	    info.size);
	say("reserved     %s of address space at %p", cli_size(s2, sizeof(s2),
	    info.max_size), info.base);
	say("alignment    %s  (offsets and sizes of punch and truncate)",
	    cli_size(s1, sizeof(s1), info.alignment));
	say("granularity  %s", info.granularity == PML_GRANULARITY_BYTE ?
	    "byte (eADR: a visible store is durable)" :
	    info.granularity == PML_GRANULARITY_CACHE_LINE ?
	    "cache line (persist flushes CPU cache lines)" :
	    info.granularity == PML_GRANULARITY_PAGE ?
	    "page (persist is msync through the page cache)" : "unknown");
	say("device       %s", info.device[0] ? info.device : "none (not pmem)");

	expect(info.kind != PML_REGION_PLAIN || info.device[0] == '\0',
	       "a plain file names no pmem device", "device \"%s\"", info.device);
	bool pow2 = info.alignment != 0 && (info.alignment & (info.alignment - 1)) == 0;
	expect(pow2, "the alignment is a power of two", "%" PRIu64, info.alignment);
	expect(info.size == (uint64_t)NBLOCKS * (uint64_t)page,
	       "the size is the file's", "%" PRIu64 " bytes", info.size);
	expect(info.base == pml_region_base(dm.region) && info.base != NULL,
	       "pml_region_base = info.base", "%p", pml_region_base(dm.region));
	if (!pow2)
		return -1;
	dm.blk = info.alignment;

	char sb[32];
	say("From here on a \"block\" is %s, the alignment: the unit in which",
	    cli_size(sb, sizeof(sb), dm.blk));
	say("punch and truncate work.");

	struct statfs sfs;
	if (fstatfs(dm.fd, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC) {
		dm.reads_allocate = true;
		say("note: the file is on tmpfs, which gives a page to a hole read");
		say("through a shared mapping: blocks read after a punch may show as");
		say("allocated again, and the checks allow for that.");
	}

	if (info.size != blk(NBLOCKS)) {
		/* alignment above a page (fsdax on huge pages): make 16 blocks */
		say("alignment is above the page size: growing to %u blocks", NBLOCKS);
		rc = pml_region_truncate(dm.region, blk(NBLOCKS), NULL);
		if (!expect(rc == 0, "pml_region_truncate (grow)", "%s", cli_errname(rc)))
			return -1;
	}
	return 0;
}

static int
scene_write(void)
{
	struct file_view v;
	char s[32];

	step(2, "Write data and persist it");
	say("Each block is filled with its own letter through pml_region_memset,");
	say("which copies with the mapping's libpmem2 function and persists.");

	void *base = pml_region_base(dm.region);
	double t0 = now_ms();
	int bad = 0;
	for (unsigned i = 0; i < NBLOCKS; i++) {
		dm.model[i] = (char)('a' + i);
		int rc = pml_region_memset(dm.region, (char *)base + blk(i),
					   'a' + (int)i, dm.blk, 0);
		if (rc != 0 && bad++ == 0)
			say("pml_region_memset block %u: %s: %s", i,
			    cli_errname(rc), libmsg());
	}
	double t1 = now_ms();
	expect(bad == 0, "pml_region_memset persists each block",
	       "%u blocks of %s in %.1f ms, %d error(s)", NBLOCKS,
	       cli_size(s, sizeof(s), dm.blk), t1 - t0, bad);

	/* a write outside the region must be refused, not done */
	int rc = pml_region_persist(dm.region, (char *)base + blk(NBLOCKS), 1);
	expect(rc < 0, "persisting past the end is refused",
	       "%s: %s", cli_errname(rc), rc ? libmsg() : "accepted");

	observe(&v, NBLOCKS);
	show(&v, NBLOCKS);
	expect(data_matches_model(&v, NBLOCKS), "every block reads what was written",
	       "%s", v.data);
	expect(count_alloc(&v, 0, NBLOCKS) == NBLOCKS, "every block is allocated",
	       "%u of %u", count_alloc(&v, 0, NBLOCKS), NBLOCKS);
	return 0;
}

/* the database's other work while the punch waits */
#define NOT_TRIED 1	/* never a return of the library: 0 or -errno */

static const char *
rcname(int rc)
{
	return rc == NOT_TRIED ? "not tried" : cli_errname(rc);
}

static struct {
	pthread_t thread;
	double t_nowait, t_disjoint_start, t_disjoint_done, t_overlap_start,
	       t_overlap_done;
	int rc_nowait, rc_disjoint, rc_overlap;
	char overlap_reads;
} db;

static void *
db_main(void *arg)
{
	struct pml_lease *l = NULL;

	pthread_mutex_lock(&barrier_up_mu);
	while (!barrier_up && !punch_returned)
		pthread_cond_wait(&barrier_up_cv, &barrier_up_mu);
	bool up = barrier_up;
	pthread_mutex_unlock(&barrier_up_mu);
	if (!up) {
		event("db", "the punch returned without calling any on_break: "
		      "nothing to try");
		return NULL;
	}

	/* overlapping, NOWAIT: refused while the barrier is up */
	db.rc_nowait = pml_lease_acquire(&l, dm.region, blk(3), dm.blk,
					 PML_LEASE_PIN | PML_LEASE_NOWAIT, NULL, NULL);
	db.t_nowait = now_ms();
	event("db", "acquire block 3 (under the barrier), NOWAIT -> %s",
	      cli_errname(db.rc_nowait));
	if (db.rc_nowait == 0)
		pml_lease_put(l);

	/* disjoint: proceeds at once */
	db.t_disjoint_start = now_ms();
	db.rc_disjoint = pml_lease_acquire(&l, dm.region, blk(13), dm.blk,
					   PML_LEASE_PIN, NULL, NULL);
	db.t_disjoint_done = now_ms();
	event("db", "acquire block 13 (elsewhere) -> %s after "
	      "%.2f ms; writing 'W' into it", cli_errname(db.rc_disjoint),
	      db.t_disjoint_done - db.t_disjoint_start);
	if (db.rc_disjoint == 0) {
		pml_region_memset(dm.region, pml_lease_addr(l), 'W', dm.blk, 0);
		pml_lease_put(l);
	}

	/* overlapping, waiting: returns once the barrier drops */
	db.t_overlap_start = now_ms();
	event("db", "acquire block 2 (under the barrier), "
	      "waiting...");
	db.rc_overlap = pml_lease_acquire(&l, dm.region, blk(2), dm.blk,
					  PML_LEASE_REF, NULL, NULL);
	db.t_overlap_done = now_ms();
	if (db.rc_overlap == 0) {
		const unsigned char *p = pml_lease_addr(l);
		bool zero = true;
		for (uint64_t k = 0; k < dm.blk && zero; k++)
			zero = p[k] == 0;
		db.overlap_reads = zero ? '0' : '*';
		dm.touched[2] = true;	/* main reads it only after joining us */
		pml_lease_put(l);
	}
	event("db", "acquire block 2 -> %s after waiting %.1f ms; "
	      "it reads %s", cli_errname(db.rc_overlap),
	      db.t_overlap_done - db.t_overlap_start,
	      db.overlap_reads == '0' ? "zeroes" : "data");
	return NULL;
}

static int
scene_punch_wait(void)
{
	struct file_view before, after;

	step(3, "Leases held, and a punch that waits for them");
	say("dma-A holds a PIN on blocks 2-3 for two DMA requests (one reference");
	say("each), dma-B a PIN on block 5, cpu-R a short REF on block 4, dma-C a");
	say("PIN on blocks 10-11.  The database then punches blocks 2-5: the");
	say("barrier asks the PIN holders to let go (on_break), waits for every");
	say("put, REFs included, and only then deallocates.  Meanwhile thread `db`");
	say("tries the punched range and another one.");

	dev_a.off = blk(2); dev_a.len = blk(2);
	dev_b.off = blk(5); dev_b.len = blk(1);
	cpu_r.off = blk(4); cpu_r.len = blk(1);
	dev_c.off = blk(10); dev_c.len = blk(2);

	if (start_thread(&cq.thread, completion_main, NULL, "completion") != 0)
		return -1;
	cq.started = true;

	if (device_start(&dev_c) || device_start(&dev_a) ||
	    device_start(&dev_b) || device_start(&cpu_r))
		return -1;
	memset(dm.model + 10, 'C', 2);

	/* only the allocation: dma-A and dma-B are writing into their blocks */
	observe_some(&before, NBLOCKS, false);
	say("st_blocks before the punch: %" PRIu64, before.st_blocks);

	db.rc_nowait = db.rc_disjoint = db.rc_overlap = NOT_TRIED;
	if (start_thread(&db.thread, db_main, NULL, "db") != 0)
		return -1;

	/*
	 * cpu-R's scan is timed from here, so that it is still holding its REF
	 * when the punch starts however slow the set-up was (sanitizers).
	 */
	double t0 = now_ms();
	pthread_mutex_lock(&cpu_r.mu);
	cpu_r.t_go = t0;
	pthread_cond_broadcast(&cpu_r.cv);
	pthread_mutex_unlock(&cpu_r.mu);
	untouch(2, 6);
	event("main", "pml_region_punch(blocks 2-5), no timeout");
	int rc = pml_region_punch(dm.region, blk(2), blk(4), NULL);
	double t1 = now_ms();
	event("main", "pml_region_punch -> %s after %.1f ms%s%s",
	      cli_errname(rc), t1 - t0, rc ? ": " : "", rc ? libmsg() : "");
	pthread_mutex_lock(&barrier_up_mu);
	punch_returned = true;
	pthread_cond_broadcast(&barrier_up_cv);
	pthread_mutex_unlock(&barrier_up_mu);
	pthread_join(db.thread, NULL);

	/* every put over the range is done by now, or the library is wrong */
	double last_put = 0;
	struct device *last = NULL;
	struct device *mine[] = { &dev_a, &dev_b, &cpu_r };
	for (unsigned i = 0; i < 3; i++) {
		pthread_mutex_lock(&mine[i]->mu);
		if (mine[i]->puts_called == mine[i]->ios &&
		    mine[i]->t_put_call > last_put) {
			last_put = mine[i]->t_put_call;
			last = mine[i];
		}
		pthread_mutex_unlock(&mine[i]->mu);
	}
	unsigned puts_done = 0, puts_due = 0;
	for (unsigned i = 0; i < 3; i++) {
		pthread_mutex_lock(&mine[i]->mu);
		puts_done += mine[i]->puts_called;
		puts_due += mine[i]->ios;
		pthread_mutex_unlock(&mine[i]->mu);
	}

	blank();
	say("What happened, in order:");
	expect(rc == 0, "the punch succeeds", "%s", cli_errname(rc));
	expect(breaks_of(&dev_a, PML_BREAK_LAYOUT) == 1 &&
	       breaks_of(&dev_b, PML_BREAK_LAYOUT) == 1,
	       "on_break(LAYOUT) once for each PIN in the range",
	       "dma-A %u, dma-B %u", breaks_of(&dev_a, PML_BREAK_LAYOUT),
	       breaks_of(&dev_b, PML_BREAK_LAYOUT));
	expect(breaks_of(&cpu_r, PML_BREAK_LAYOUT) == 0,
	       "a REF is waited for, never broken", "on_break calls on cpu-R: %u",
	       breaks_of(&cpu_r, PML_BREAK_LAYOUT));
	expect(breaks_of(&dev_c, PML_BREAK_LAYOUT) == 0,
	       "a PIN outside the range is left alone", "on_break calls on dma-C: %u",
	       breaks_of(&dev_c, PML_BREAK_LAYOUT));
	expect(puts_done == puts_due, "the punch returns after every put in its range",
	       "%u of %u puts done when it returned", puts_done, puts_due);
	if (last != NULL)
		expect(t1 >= last_put && t1 - last_put < PROCEED_BOUND_MS,
		       "the punch proceeds right after the last put",
		       "last put (%s) at +%.1f ms, punch returned at +%.1f ms: "
		       "%.2f ms later", last->name, last_put, t1, t1 - last_put);
	expect(db.rc_nowait == -EAGAIN,
	       "NOWAIT acquire under a barrier returns -EAGAIN", "%s",
	       rcname(db.rc_nowait));
	expect(db.rc_disjoint == 0 && db.t_disjoint_done < t1 &&
	       db.t_disjoint_done - db.t_disjoint_start < PROCEED_BOUND_MS,
	       "an acquire elsewhere proceeds during the wait",
	       "%s at +%.1f ms (took %.2f ms), %.1f ms before the punch returned",
	       rcname(db.rc_disjoint), db.t_disjoint_done,
	       db.t_disjoint_done - db.t_disjoint_start, t1 - db.t_disjoint_done);
	expect(db.rc_overlap == 0 && last != NULL && db.t_overlap_done >= last_put,
	       "an acquire in the range waits for the barrier to drop",
	       "%s at +%.1f ms, %.2f ms after the last put",
	       rcname(db.rc_overlap), db.t_overlap_done,
	       db.t_overlap_done - last_put);
	expect(db.overlap_reads == '0', "it then reads the punched range as zeroes",
	       "%s", db.overlap_reads == '0' ? "zeroes" : "not zeroes");

	memset(dm.model + 2, '0', 4);
	dm.model[13] = 'W';
	device_join(&dev_a);
	device_join(&dev_b);
	device_join(&cpu_r);
	expect(dev_a.put_errors + dev_b.put_errors + cpu_r.put_errors == 0,
	       "every put returns 0", "%u error(s)",
	       dev_a.put_errors + dev_b.put_errors + cpu_r.put_errors);

	blank();
	observe(&after, NBLOCKS);
	show(&after, NBLOCKS);
	expect(data_matches_model(&after, NBLOCKS),
	       "blocks 2-5 read zero, the rest as before", "%s", after.data);
	expect(holes(&after, 2, 6) &&
	       (dm.reads_allocate || count_alloc(&after, 0, NBLOCKS) ==
				     count_alloc(&before, 0, NBLOCKS) - 4),
	       "blocks 2-5 are handed back to the filesystem",
	       "allocation of 2-5: %.4s%s; st_blocks %" PRIu64 " -> %" PRIu64,
	       after.alloc + 2, dm.reads_allocate ? " (tmpfs: block 2 was read)" : "",
	       before.st_blocks, after.st_blocks);
	return 0;
}

static int
scene_punch_fail(void)
{
	struct file_view before, after;
	struct pml_lease *l = NULL;

	step(4, "A punch that times out with PML_ON_TIMEOUT_FAIL");
	say("dma-D holds a PIN on 1000 bytes inside block 7 (a lease needs no");
	say("alignment) and is stuck: it ignores on_break.  A punch of blocks 6-8");
	say("with a %u ms timeout and PML_ON_TIMEOUT_FAIL must give up and change",
	    FAIL_TIMEOUT_MS);
	say("nothing at all.");

	dev_d.off = blk(7) + 100;
	dev_d.len = 1000;
	if (device_start(&dev_d))
		return -1;
	dm.model[7] = '*';

	observe(&before, NBLOCKS);
	show(&before, NBLOCKS);

	struct pml_barrier_opts o = { .timeout_ms = FAIL_TIMEOUT_MS,
				      .on_timeout = PML_ON_TIMEOUT_FAIL };
	double t0 = now_ms();
	event("main", "pml_region_punch(blocks 6-8, timeout %u ms, FAIL)",
	      FAIL_TIMEOUT_MS);
	int rc = pml_region_punch(dm.region, blk(6), blk(3), &o);
	double t1 = now_ms();
	event("main", "pml_region_punch -> %s after %.1f ms: %s", cli_errname(rc),
	      t1 - t0, rc ? libmsg() : "");

	expect(rc == -ETIMEDOUT, "the punch returns -ETIMEDOUT", "%s", cli_errname(rc));
	expect(t1 - t0 >= FAIL_TIMEOUT_MS * 0.95 &&
	       t1 - t0 < FAIL_TIMEOUT_MS + PROCEED_BOUND_MS,
	       "after the timeout", "%.1f ms", t1 - t0);
	expect(breaks_of(&dev_d, PML_BREAK_LAYOUT) == 1,
	       "the holder was asked first (on_break LAYOUT)", "%u call(s)",
	       breaks_of(&dev_d, PML_BREAK_LAYOUT));
	expect(breaks_of(&dev_d, PML_BREAK_REVOKED) == 0 &&
	       pml_lease_revoked(dev_d.lease) == 0, "the lease is still live",
	       "pml_lease_revoked = %d", pml_lease_revoked(dev_d.lease));
	rc = pml_lease_get(dev_d.lease);
	expect(rc == 0, "pml_lease_get still works", "%s", cli_errname(rc));
	if (rc == 0) {
		rc = pml_lease_put(dev_d.lease);
		expect(rc == 0, "and its put", "%s", cli_errname(rc));
	}

	observe(&after, NBLOCKS);
	show(&after, NBLOCKS);
	expect(strcmp(before.data, after.data) == 0, "the data is exactly as before",
	       "%s", after.data);
	expect(strcmp(before.alloc, after.alloc) == 0 &&
	       before.st_blocks == after.st_blocks,
	       "the file's blocks are exactly as before",
	       "st_blocks %" PRIu64 " -> %" PRIu64, before.st_blocks, after.st_blocks);
	rc = pml_lease_acquire(&l, dm.region, blk(6), blk(3), PML_LEASE_PIN |
			       PML_LEASE_NOWAIT, NULL, NULL);
	expect(rc == 0, "new leases on the range are allowed again",
	       "acquire blocks 6-8 NOWAIT -> %s", cli_errname(rc));
	if (rc == 0)
		pml_lease_put(l);
	return 0;
}

static int
scene_punch_revoke(void)
{
	struct file_view before, during, after;
	struct pml_lease *l = NULL;
	uint64_t q = UINT64_MAX;
	char s1[32], s2[32];

	step(5, "A punch that times out with PML_ON_TIMEOUT_REVOKE");
	say("The same punch with PML_ON_TIMEOUT_REVOKE goes ahead without dma-D:");
	say("its lease is revoked, blocks 6 and 8 are punched, and block 7, which");
	say("the stuck device may still write into, is quarantined: it stays the");
	say("file's, no new lease can cover it, and it is deallocated only when");
	say("dma-D's request finally completes and puts the lease.");

	observe(&before, NBLOCKS);
	untouch(6, 9);
	struct pml_barrier_opts o = { .timeout_ms = REVOKE_TIMEOUT_MS,
				      .on_timeout = PML_ON_TIMEOUT_REVOKE };
	double t0 = now_ms();
	event("main", "pml_region_punch(blocks 6-8, timeout %u ms, REVOKE)",
	      REVOKE_TIMEOUT_MS);
	int rc = pml_region_punch(dm.region, blk(6), blk(3), &o);
	double t1 = now_ms();
	event("main", "pml_region_punch -> %s after %.1f ms%s%s", cli_errname(rc),
	      t1 - t0, rc ? ": " : "", rc ? libmsg() : "");

	expect(rc == 0, "the punch returns 0", "%s", cli_errname(rc));
	expect(breaks_of(&dev_d, PML_BREAK_REVOKED) == 1,
	       "the holder is told: on_break(REVOKED)", "%u call(s)",
	       breaks_of(&dev_d, PML_BREAK_REVOKED));
	expect(pml_lease_revoked(dev_d.lease) == 1, "the lease is revoked",
	       "pml_lease_revoked = %d", pml_lease_revoked(dev_d.lease));
	rc = pml_lease_get(dev_d.lease);
	expect(rc == -ESTALE, "pml_lease_get on it returns -ESTALE", "%s",
	       cli_errname(rc));
	if (rc == 0)
		pml_lease_put(dev_d.lease);
	rc = pml_region_quarantined(&q, dm.region);
	expect(rc == 0 && q == dm.blk, "the block under it is quarantined",
	       "pml_region_quarantined = %s (%s)",
	       q == UINT64_MAX ? "?" : cli_size(s1, sizeof(s1), q), cli_errname(rc));

	rc = pml_lease_acquire(&l, dm.region, blk(7), 1, PML_LEASE_REF |
			       PML_LEASE_NOWAIT, NULL, NULL);
	expect(rc == -EAGAIN, "no new lease may cover a quarantined block",
	       "acquire 1 byte of block 7 NOWAIT -> %s", cli_errname(rc));
	if (rc == 0)
		pml_lease_put(l);
	rc = pml_lease_acquire(&l, dm.region, blk(6), dm.blk, PML_LEASE_PIN |
			       PML_LEASE_NOWAIT, NULL, NULL);
	expect(rc == 0, "its neighbours take leases again",
	       "acquire block 6 NOWAIT -> %s", cli_errname(rc));
	if (rc == 0)
		pml_lease_put(l);

	dm.model[6] = '0';
	dm.model[7] = '-';
	dm.model[8] = '0';
	observe(&during, NBLOCKS);
	show(&during, NBLOCKS);
	expect(data_matches_model(&during, NBLOCKS),
	       "blocks 6 and 8 read zero; 7 cannot be leased", "%s", during.data);
	expect(during.alloc[6] == '.' && during.alloc[7] == '#' &&
	       during.alloc[8] == '.',
	       "6 and 8 are deallocated, 7 stays allocated to the file",
	       "allocation of 6-8: %.3s; st_blocks %" PRIu64 " -> %" PRIu64,
	       during.alloc + 6, before.st_blocks, during.st_blocks);

	blank();
	say("Now dma-D's request completes, late:");
	pthread_mutex_lock(&dev_d.mu);
	dev_d.released = true;
	pthread_cond_broadcast(&dev_d.cv);
	while (dev_d.puts < dev_d.ios)
		pthread_cond_wait(&dev_d.cv, &dev_d.mu);
	double t_put = dev_d.t_put_ret;
	int put_rc = dev_d.put_errors ? dev_d.put_rc : 0;
	pthread_mutex_unlock(&dev_d.mu);
	pthread_join(dev_d.thread, NULL);
	dev_d.started = false;

	q = UINT64_MAX;
	rc = pml_region_quarantined(&q, dm.region);
	event("main", "after the put returned at +%.1f ms: "
	      "pml_region_quarantined = %s", t_put,
	      q == UINT64_MAX ? "?" : cli_size(s1, sizeof(s1), q));
	expect(put_rc == 0, "the late put of a revoked lease returns 0", "%s",
	       cli_errname(put_rc));
	expect(rc == 0 && q == 0, "the quarantine lifts with the last put",
	       "%s in quarantine", q == UINT64_MAX ? "?" : cli_size(s2, sizeof(s2), q));

	dm.model[7] = '0';
	observe(&after, NBLOCKS);
	show(&after, NBLOCKS);
	expect(data_matches_model(&after, NBLOCKS), "block 7 reads zero now",
	       "%s", after.data);
	expect(holes(&after, 6, 9),
	       "block 7 is handed back to the filesystem",
	       "allocation of 6-8: %.3s; st_blocks %" PRIu64 " -> %" PRIu64,
	       after.alloc + 6, during.st_blocks, after.st_blocks);
	return 0;
}

/* the database's own long-lived PIN, held across growth and at close */
static struct pml_lease *superblock;

static int
scene_truncate(void)
{
	struct file_view v;
	struct pml_lease *e = NULL;
	char s1[32], s2[32];

	step(6, "Grow and shrink with pml_region_truncate");
	say("The database keeps a PIN on block 0 (its superblock, say).  Growing");
	say("maps the new part in place: the base and every leased pointer stay");
	say("valid.  Shrinking is a punch of the cut part: dma-C's PIN on blocks");
	say("10-11 is broken and waited for.");

	int rc = pml_lease_acquire(&e, dm.region, 0, dm.blk, PML_LEASE_PIN, NULL, NULL);
	if (!expect(rc == 0, "acquire a PIN on block 0", "%s", cli_errname(rc)))
		return -1;
	superblock = e;
	void *base0 = pml_region_base(dm.region);
	unsigned char *p0 = pml_lease_addr(e);

	double t0 = now_ms();
	rc = pml_region_truncate(dm.region, blk(GROWN_BLOCKS), NULL);
	double t1 = now_ms();
	event("main", "pml_region_truncate(%u blocks = %s) -> %s after %.1f ms",
	      GROWN_BLOCKS, cli_size(s1, sizeof(s1), blk(GROWN_BLOCKS)),
	      cli_errname(rc), t1 - t0);
	expect(rc == 0 && pml_region_size(dm.region) == blk(GROWN_BLOCKS),
	       "the region grows", "%s, size %s", cli_errname(rc),
	       cli_size(s2, sizeof(s2), pml_region_size(dm.region)));
	expect(pml_region_base(dm.region) == base0 && pml_lease_addr(e) == p0,
	       "the base and leased pointers do not move", "base %p, lease %p",
	       pml_region_base(dm.region), pml_lease_addr(e));
	expect(p0[0] == 'a' && p0[dm.blk - 1] == 'a',
	       "the leased block still reads its data", "'%c'", p0[0]);
	memset(dm.model + NBLOCKS, '0', GROWN_BLOCKS - NBLOCKS);
	observe(&v, GROWN_BLOCKS);
	show(&v, GROWN_BLOCKS);
	expect(v.st_size == blk(GROWN_BLOCKS), "the file grows with it",
	       "st_size %s", cli_size(s1, sizeof(s1), v.st_size));
	expect(data_matches_model(&v, GROWN_BLOCKS), "the new part reads zero",
	       "%s", v.data);

	blank();
	t0 = now_ms();
	event("main", "pml_region_truncate(%u blocks = %s)", SHRUNK_BLOCKS,
	      cli_size(s1, sizeof(s1), blk(SHRUNK_BLOCKS)));
	rc = pml_region_truncate(dm.region, blk(SHRUNK_BLOCKS), NULL);
	t1 = now_ms();
	event("main", "pml_region_truncate -> %s after %.1f ms%s%s",
	      cli_errname(rc), t1 - t0, rc ? ": " : "", rc ? libmsg() : "");
	expect(rc == 0 && pml_region_size(dm.region) == blk(SHRUNK_BLOCKS),
	       "the region shrinks", "%s, size %s", cli_errname(rc),
	       cli_size(s2, sizeof(s2), pml_region_size(dm.region)));
	pthread_mutex_lock(&dev_c.mu);
	unsigned c_puts = dev_c.puts_called;
	double c_put = dev_c.t_put_call;
	pthread_mutex_unlock(&dev_c.mu);
	expect(breaks_of(&dev_c, PML_BREAK_LAYOUT) == 1 && c_puts == dev_c.ios &&
	       t1 >= c_put, "the shrink broke dma-C's PIN and waited for its put",
	       "%u on_break call(s); put at +%.1f ms, truncate returned %.2f ms later",
	       breaks_of(&dev_c, PML_BREAK_LAYOUT), c_put, t1 - c_put);
	device_join(&dev_c);

	struct pml_lease *l = NULL;
	rc = pml_lease_acquire(&l, dm.region, blk(SHRUNK_BLOCKS), dm.blk,
			       PML_LEASE_PIN | PML_LEASE_NOWAIT, NULL, NULL);
	expect(rc < 0, "leases past the new end are refused", "%s: %s",
	       cli_errname(rc), rc ? libmsg() : "granted");
	if (rc == 0)
		pml_lease_put(l);

	observe(&v, SHRUNK_BLOCKS);
	show(&v, SHRUNK_BLOCKS);
	expect(v.st_size == blk(SHRUNK_BLOCKS), "the file shrinks with it",
	       "st_size %s", cli_size(s1, sizeof(s1), v.st_size));
	expect(data_matches_model(&v, SHRUNK_BLOCKS), "what is left is intact",
	       "%s", v.data);

	return 0;
}

static int
scene_close(void)
{
	struct pml_lease *e = superblock;

	step(7, "Close");
	int rc = pml_region_close(&dm.region);
	expect(rc == -EBUSY && dm.region != NULL,
	       "close is refused while a lease is live", "%s: %s", cli_errname(rc),
	       rc ? libmsg() : "closed");
	if (dm.region == NULL)
		return -1;
	rc = pml_lease_put(e);
	superblock = NULL;
	expect(rc == 0, "put the PIN on block 0", "%s", cli_errname(rc));
	rc = pml_region_close(&dm.region);
	expect(rc == 0 && dm.region == NULL, "then close succeeds and clears the pointer",
	       "%s", cli_errname(rc));
	return 0;
}

/* ------------------------------------------------------------ the command */

void
usage_demo(FILE *out)
{
	fprintf(out,
		"Usage: %s demo [--path FILE] [--keep]\n"
		"\n"
		"Act out what pmemlease does, step by step, on a temporary plain file:\n"
		"leases held by simulated DMA, a punch that waits for them, a punch that\n"
		"times out (FAIL, then REVOKE and the quarantine), growth and shrinking.\n"
		"Every outcome shown is measured, and checked against the library's\n"
		"promises: the demo exits 1 if any is broken, so it doubles as a test.\n"
		"\n"
		"Options:\n"
		"  -p, --path FILE  use FILE (it must not exist; it is created) instead of\n"
		"                   a temporary file in $TMPDIR or /tmp; a file on a DAX\n"
		"                   filesystem shows the fsdax kind\n"
		"  -k, --keep       leave the file in place at exit\n"
		"  -h, --help       show this help\n"
		"\n"
		"Exit status: 0 every promise kept, 1 a promise broken, 2 usage error,\n"
		"3 the file or threads could not be set up.\n", cli_prog);
}

static void
teardown(void)
{
	if (superblock != NULL) {
		pml_lease_put(superblock);
		superblock = NULL;
	}
	for (size_t i = 0; i < sizeof(all_devices) / sizeof(*all_devices); i++)
		device_join(all_devices[i]);
	if (cq.started) {
		pthread_mutex_lock(&cq.mu);
		cq.stop = true;
		pthread_cond_broadcast(&cq.cv);
		pthread_mutex_unlock(&cq.mu);
		pthread_join(cq.thread, NULL);
		cq.started = false;
	}
	if (dm.region != NULL) {
		int rc = pml_region_close(&dm.region);
		if (rc != 0)
			say("pml_region_close: %s: %s", cli_errname(rc), libmsg());
	}
}

int
cmd_demo(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "path", required_argument, NULL, 'p' },
		{ "keep", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	bool keep = false;
	int opt;

	while ((opt = getopt_long(argc, argv, "p:kh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			path = optarg;
			break;
		case 'k':
			keep = true;
			break;
		case 'h':
			usage_demo(stdout);
			return CLI_EXIT_OK;
		default:
			fprintf(stderr, "Try '%s demo --help'.\n", cli_prog);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s demo: unexpected argument '%s'\n", cli_prog,
			argv[optind]);
		return CLI_EXIT_USAGE;
	}

	clock_gettime(CLOCK_MONOTONIC, &t_origin);
	/* interleaved lines from several threads must appear as they happen */
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (path != NULL) {
		if (strlen(path) >= sizeof(dm.path)) {
			fprintf(stderr, "%s demo: path too long\n", cli_prog);
			return CLI_EXIT_USAGE;
		}
		strcpy(dm.path, path);
		/* the demo punches and truncates: never someone's existing file */
		dm.fd = open(dm.path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (dm.fd < 0) {
			fprintf(stderr, "%s demo: cannot create %s: %s%s\n", cli_prog,
				dm.path, strerror(errno), errno == EEXIST ?
				" (give a path that does not exist)" : "");
			return CLI_EXIT_SYSTEM;
		}
	} else {
		const char *dir = getenv("TMPDIR");
		if (dir == NULL || *dir == '\0')
			dir = "/tmp";
		int n = snprintf(dm.path, sizeof(dm.path), "%s/pmemlease-demo.XXXXXX",
				 dir);
		if (n < 0 || (size_t)n >= sizeof(dm.path)) {
			fprintf(stderr, "%s demo: TMPDIR too long\n", cli_prog);
			return CLI_EXIT_SYSTEM;
		}
		dm.fd = mkostemp(dm.path, O_CLOEXEC);
		if (dm.fd < 0) {
			fprintf(stderr, "%s demo: cannot create a file in %s: %s\n",
				cli_prog, dir, strerror(errno));
			return CLI_EXIT_SYSTEM;
		}
	}
	dm.remove_at_exit = !keep;
	if (dm.remove_at_exit) {
		path_armed = 1;
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		signal(SIGHUP, on_signal);
	}

	printf("%s demo: DMA leases, the punch barrier and revoke, on %s\n"
	       "Times are milliseconds since the demo started.\n",
	       cli_prog, dm.path);

	pthread_t wd;
	bool wd_started = pthread_create(&wd, NULL, watchdog_main, NULL) == 0;

	int setup_failed = 0;
	if (scene_open() != 0)
		setup_failed = 1;
	else if (scene_write() || scene_punch_wait() || scene_punch_fail() ||
		 scene_punch_revoke() || scene_truncate() || scene_close())
		setup_failed = 1;

	teardown();

	pthread_mutex_lock(&step_mu);
	demo_done = true;
	pthread_cond_broadcast(&done_cv);
	pthread_mutex_unlock(&step_mu);
	if (wd_started)
		pthread_join(wd, NULL);

	close(dm.fd);
	if (dm.remove_at_exit) {
		unlink(dm.path);
		path_armed = 0;
	} else {
		printf("\nThe file is kept: %s\n", dm.path);
	}

	printf("\n");
	if (setup_failed)
		printf("demo stopped at step %d: a step it depends on failed\n",
		       (int)step_no);
	printf("demo: %u passed, %u failed\n", n_checks - n_failed, n_failed);
	if (n_failed != 0)
		return CLI_EXIT_FAIL;
	if (sys_failed)
		return CLI_EXIT_SYSTEM;
	if (setup_failed)
		return CLI_EXIT_FAIL;
	return CLI_EXIT_OK;
}
