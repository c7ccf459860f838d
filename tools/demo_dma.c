/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * demo_dma.c -- the single-process cast of the demo.
 *
 * "Devices" are threads that write into their leased range the way DMA
 * would and complete their requests some time later; a completion thread
 * puts the lease when a request completes (as an io_uring or NVMe
 * completion handler would), so leases are put from another thread than
 * the one that acquired them.  A CPU reader holds a short REF instead.
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "demo.h"

pthread_cond_t barrier_up_cv = PTHREAD_COND_INITIALIZER;
pthread_mutex_t barrier_up_mu = PTHREAD_MUTEX_INITIALIZER;
bool barrier_up;
bool punch_returned;

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
		      cli_reason_name(reason));
	else if (d->ref)
		event(d->name, "on_break(%s) on a REF lease", cli_reason_name(reason));
	else
		event(d->name, "on_break(%s) -- cancelling %u request(s), "
		      "they complete in %u ms", cli_reason_name(reason), d->ios,
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
int
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
void
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

unsigned
breaks_of(struct device *d, enum pml_break_reason r)
{
	pthread_mutex_lock(&d->mu);
	unsigned n = d->breaks[r];
	pthread_mutex_unlock(&d->mu);
	return n;
}

struct device dev_a = {
	.name = "dma-A", .ios = 2, .cancel_ms = A_CANCEL_MS, .streaming = true,
	.fill = 'A',
};
struct device dev_b = {
	.name = "dma-B", .ios = 1, .cancel_ms = B_CANCEL_MS, .streaming = true,
	.fill = 'B',
};
struct device cpu_r = {
	.name = "cpu-R", .ios = 1, .ref = true, .hold_ms = R_HOLD_MS,
};
struct device dev_c = {
	.name = "dma-C", .ios = 1, .cancel_ms = C_CANCEL_MS, .fill = 'C',
};
struct device dev_d = {
	.name = "dma-D", .ios = 1, .ignores_break = true, .fill = 'D',
};
static struct device *const all_devices[] = {
	&dev_a, &dev_b, &cpu_r, &dev_c, &dev_d,
};

int
cq_start(void)
{
	if (start_thread(&cq.thread, completion_main, NULL, "completion") != 0)
		return -1;
	cq.started = true;
	return 0;
}

void
dma_teardown(void)
{
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
}
