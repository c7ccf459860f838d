/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hold.c -- `pmemlease _hold`, hidden: a process that holds leases on a file
 * the way a database with DMA in flight would, until told to stop.
 *
 * The demo runs it as its second process and the CLI tests as the holder
 * whose leases `list` must show and `punch` must wait for.  It speaks a
 * line protocol, so that its parent can tell what happened and when:
 *
 *   stdout  ready PID TID                  every lease is held
 *           break IDX REASON MONO_MS       on_break ran here, for lease IDX
 *           put IDX RC CALL_MS RET_MS      one reference put: RC its return,
 *                                          called at CALL_MS, back at RET_MS
 *           bye                            every lease put, region closed
 *   stdin   release IDX | release all      complete those requests now
 *           quit (or end of file)          put everything and exit
 *
 * MONO_MS is CLOCK_MONOTONIC in milliseconds: the same clock in every
 * process, so the parent can order our events with its own.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cli.h"

#define MAX_LEASES 64
#define DMA_EVERY_MS 10

struct held {
	unsigned idx;
	uint64_t off, len;
	unsigned flags;
	unsigned refs;		/* references taken: one per request */
	struct pml_lease *lease;
	/* under hs.mu */
	double due;		/* complete at this time (0: not scheduled) */
	bool completing;	/* the puts have started: no more DMA */
	bool done;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_mutex_t out_mu;
	struct held h[MAX_LEASES];
	unsigned n;
	bool ignore_break;
	unsigned cancel_ms;
	bool dma;
	unsigned char fill;
	bool stop;		/* threads: finish */
	unsigned put_errors;
} hs = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
	.out_mu = PTHREAD_MUTEX_INITIALIZER,
	.fill = 'H',
};

static volatile int got_signal;

static void
on_signal(int sig)
{
	(void)sig;
	got_signal = 1;
}

__attribute__((format(printf, 1, 2)))
static void
tell(const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&hs.out_mu);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	pthread_mutex_unlock(&hs.out_mu);
}

/* schedule the completion of lease i; under hs.mu */
static void
schedule(struct held *h, double at)
{
	if (!h->done && !h->completing && (h->due == 0 || at < h->due)) {
		h->due = at;
		pthread_cond_broadcast(&hs.cv);
	}
}

static void
on_break(struct pml_lease *lease, enum pml_break_reason reason, void *arg)
{
	struct held *h = arg;
	(void)lease;
	tell("break %u %s %.3f", h->idx, cli_reason_name(reason), cli_mono_ms());
	if (hs.ignore_break)
		return;
	/* a driver's cancel: the requests complete a little later, elsewhere */
	pthread_mutex_lock(&hs.mu);
	schedule(h, cli_mono_ms() + hs.cancel_ms);
	pthread_mutex_unlock(&hs.mu);
}

static const struct pml_lease_ops hold_ops = { .on_break = on_break };

/* put every reference of h; called with hs.mu not held */
static void
complete(struct held *h)
{
	for (unsigned k = 0; k < h->refs; k++) {
		double t = cli_mono_ms();
		int rc = pml_lease_put(h->lease);
		tell("put %u %d %.3f %.3f", h->idx, rc, t, cli_mono_ms());
		if (rc != 0) {
			pthread_mutex_lock(&hs.mu);
			hs.put_errors++;
			pthread_mutex_unlock(&hs.mu);
		}
	}
	pthread_mutex_lock(&hs.mu);
	h->done = true;
	pthread_cond_broadcast(&hs.cv);
	pthread_mutex_unlock(&hs.mu);
}

/* the completion thread: puts leases when their requests are due */
static void *
completion_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&hs.mu);
	for (;;) {
		double now = cli_mono_ms(), next = 0;
		struct held *due = NULL;
		for (unsigned i = 0; i < hs.n && due == NULL; i++) {
			struct held *h = &hs.h[i];
			if (h->done || h->completing || h->due == 0)
				continue;
			if (h->due <= now)
				due = h;
			else if (next == 0 || h->due < next)
				next = h->due;
		}
		if (due != NULL) {
			due->completing = true;
			pthread_mutex_unlock(&hs.mu);
			complete(due);
			pthread_mutex_lock(&hs.mu);
			continue;
		}
		if (hs.stop)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		double wait = next != 0 ? next - now : 1000;
		long ns = ts.tv_nsec + (long)(wait * 1e6);
		ts.tv_sec += ns / 1000000000L;
		ts.tv_nsec = ns % 1000000000L;
		pthread_cond_timedwait(&hs.cv, &hs.mu, &ts);
	}
	pthread_mutex_unlock(&hs.mu);
	return NULL;
}

/* the "device": keeps writing into its PIN ranges until they complete */
static void *
dma_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&hs.mu);
	while (!hs.stop) {
		/* under hs.mu: once `completing` is set, not one more byte */
		for (unsigned i = 0; i < hs.n; i++) {
			struct held *h = &hs.h[i];
			if (!h->completing && !h->done && !(h->flags & PML_LEASE_REF))
				memset(pml_lease_addr(h->lease), hs.fill, h->len);
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		long ns = ts.tv_nsec + DMA_EVERY_MS * 1000000L;
		ts.tv_sec += ns / 1000000000L;
		ts.tv_nsec = ns % 1000000000L;
		pthread_cond_timedwait(&hs.cv, &hs.mu, &ts);
	}
	pthread_mutex_unlock(&hs.mu);
	return NULL;
}

void
usage_hold(FILE *out)
{
	fprintf(out,
		"Usage: %s _hold [OPTIONS] PATH LEASE...\n"
		"\n"
		"Internal: hold leases on PATH until told to stop (for the demo and the\n"
		"tests).  LEASE is OFFSET:LENGTH[:pin|ref][:REFS], sizes with optional\n"
		"k/m/g suffixes; REFS references are taken (requests in flight).\n"
		"Prints \"ready PID TID\" once every lease is held, then \"break\" and \"put\"\n"
		"lines; reads \"release IDX\", \"release all\" and \"quit\" on stdin.\n"
		"\n"
		"Options:\n"
		"  --on-break=cancel|ignore  complete the requests CANCEL-MS after\n"
		"                            on_break (default), or ignore it (a stuck\n"
		"                            device: puts only on release or quit)\n"
		"  --cancel-ms MS            (default 0)\n"
		"  --dma                     keep writing FILL into PIN ranges until put\n"
		"  --fill C                  the byte the DMA writes (default H)\n"
		"  --max-ms MS               put everything and exit after MS\n"
		"  -h, --help                show this help\n", cli_prog);
}

static int
parse_lease(const char *arg, struct held *h)
{
	char buf[256], *save = NULL, *tok;
	const char *why;
	unsigned field = 0;

	if (strlen(arg) >= sizeof(buf))
		return -1;
	strcpy(buf, arg);
	h->refs = 1;
	h->flags = PML_LEASE_PIN;
	for (tok = strtok_r(buf, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
		switch (field++) {
		case 0:
			if (cli_parse_size(tok, &h->off, &why) != 0)
				return -1;
			break;
		case 1:
			if (cli_parse_size(tok, &h->len, &why) != 0)
				return -1;
			break;
		default:
			if (strcmp(tok, "pin") == 0) {
				h->flags = PML_LEASE_PIN;
			} else if (strcmp(tok, "ref") == 0) {
				h->flags = PML_LEASE_REF;
			} else {
				uint32_t n;
				if (cli_parse_ms(tok, &n, &why) != 0 || n == 0 || n > 1000)
					return -1;
				h->refs = n;
			}
		}
	}
	return field >= 2 ? 0 : -1;
}

/* put what is still held, in this thread */
static void
release_all(void)
{
	for (unsigned i = 0; i < hs.n; i++) {
		struct held *h = &hs.h[i];
		pthread_mutex_lock(&hs.mu);
		bool mine = !h->done && !h->completing;
		if (mine)
			h->completing = true;
		pthread_mutex_unlock(&hs.mu);
		if (mine)
			complete(h);
	}
	/* and wait for those the completion thread is putting */
	pthread_mutex_lock(&hs.mu);
	for (unsigned i = 0; i < hs.n; i++)
		while (!hs.h[i].done)
			pthread_cond_wait(&hs.cv, &hs.mu);
	pthread_mutex_unlock(&hs.mu);
}

static void
command(const char *line)
{
	unsigned idx;
	if (strcmp(line, "release all") == 0) {
		pthread_mutex_lock(&hs.mu);
		for (unsigned i = 0; i < hs.n; i++)
			schedule(&hs.h[i], cli_mono_ms());
		pthread_mutex_unlock(&hs.mu);
	} else if (sscanf(line, "release %u", &idx) == 1 && idx < hs.n) {
		pthread_mutex_lock(&hs.mu);
		schedule(&hs.h[idx], cli_mono_ms());
		pthread_mutex_unlock(&hs.mu);
	} else {
		fprintf(stderr, "%s _hold: unknown command '%s'\n", cli_prog, line);
	}
}

int
cmd_hold(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "on-break", required_argument, NULL, 'b' },
		{ "cancel-ms", required_argument, NULL, 'c' },
		{ "dma", no_argument, NULL, 'd' },
		{ "fill", required_argument, NULL, 'f' },
		{ "max-ms", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t max_ms = 0;
	const char *why;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			if (strcmp(optarg, "cancel") == 0)
				hs.ignore_break = false;
			else if (strcmp(optarg, "ignore") == 0)
				hs.ignore_break = true;
			else
				goto usage;
			break;
		case 'c':
			if (cli_parse_ms(optarg, &hs.cancel_ms, &why) != 0)
				goto usage;
			break;
		case 'd':
			hs.dma = true;
			break;
		case 'f':
			hs.fill = (unsigned char)optarg[0];
			break;
		case 'm':
			if (cli_parse_ms(optarg, &max_ms, &why) != 0)
				goto usage;
			break;
		case 'h':
			usage_hold(stdout);
			return CLI_EXIT_OK;
		default:
			goto usage;
		}
	}
	if (argc - optind < 2 || argc - optind - 1 > MAX_LEASES)
		goto usage;
	const char *path = argv[optind++];
	for (int i = optind; i < argc; i++) {
		hs.h[hs.n].idx = hs.n;
		if (parse_lease(argv[i], &hs.h[hs.n]) != 0) {
			fprintf(stderr, "%s _hold: bad lease '%s'\n", cli_prog, argv[i]);
			return CLI_EXIT_USAGE;
		}
		hs.n++;
	}

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);	/* a parent gone: carry on, then quit */

	struct pml_region *r = NULL;
	int rc = pml_region_open(&r, path, &cli_open_opts);
	if (rc != 0) {
		fprintf(stderr, "%s _hold: open %s: %s: %s\n", cli_prog, path,
			cli_errname(rc), cli_libmsg());
		return CLI_EXIT_SYSTEM;
	}
	unsigned held = 0;
	for (; held < hs.n; held++) {
		struct held *h = &hs.h[held];
		rc = pml_lease_acquire(&h->lease, r, h->off, h->len, h->flags,
				       &hold_ops, h);
		for (unsigned k = 1; rc == 0 && k < h->refs; k++) {
			if ((rc = pml_lease_get(h->lease)) != 0) {
				h->refs = k;	/* what is held, to put */
				held++;
			}
		}
		if (rc != 0) {
			fprintf(stderr, "%s _hold: lease %u [%" PRIu64 ", +%" PRIu64
				"): %s: %s\n", cli_prog, held, h->off, h->len,
				cli_errname(rc), cli_libmsg());
			break;
		}
	}
	if (rc != 0) {
		hs.n = held;
		release_all();
		pml_region_close(&r);
		return CLI_EXIT_FAIL;
	}

	pthread_t ct, dt;
	bool dma_started = false;
	if (pthread_create(&ct, NULL, completion_main, NULL) != 0) {
		release_all();
		pml_region_close(&r);
		return CLI_EXIT_SYSTEM;
	}
	if (hs.dma)
		dma_started = pthread_create(&dt, NULL, dma_main, NULL) == 0;

	tell("ready %d %ld", (int)getpid(), (long)syscall(SYS_gettid));

	double t_end = max_ms ? cli_mono_ms() + max_ms : 0;
	char line[256];
	size_t used = 0;
	bool eof = false;
	while (!got_signal && !eof && (t_end == 0 || cli_mono_ms() < t_end)) {
		struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
		int n = poll(&pfd, 1, 100);
		if (n <= 0)
			continue;
		ssize_t k = read(STDIN_FILENO, line + used, sizeof(line) - 1 - used);
		if (k <= 0) {
			eof = true;
			break;
		}
		used += (size_t)k;
		line[used] = '\0';
		char *nl;
		while ((nl = strchr(line, '\n')) != NULL) {
			*nl = '\0';
			if (strcmp(line, "quit") == 0)
				eof = true;
			else if (line[0] != '\0')
				command(line);
			size_t rest = used - (size_t)(nl + 1 - line);
			memmove(line, nl + 1, rest + 1);
			used = rest;
		}
		if (used == sizeof(line) - 1)
			used = 0;	/* a line too long: dropped */
	}

	release_all();
	pthread_mutex_lock(&hs.mu);
	hs.stop = true;
	pthread_cond_broadcast(&hs.cv);
	pthread_mutex_unlock(&hs.mu);
	pthread_join(ct, NULL);
	if (dma_started)
		pthread_join(dt, NULL);

	rc = pml_region_close(&r);
	if (rc != 0)
		fprintf(stderr, "%s _hold: close: %s: %s\n", cli_prog,
			cli_errname(rc), cli_libmsg());
	tell("bye");
	return rc == 0 && hs.put_errors == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;

usage:
	usage_hold(stderr);
	return CLI_EXIT_USAGE;
}
