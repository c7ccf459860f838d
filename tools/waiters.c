/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * waiters.c -- who a punch, truncate or revoke is waiting for.
 *
 * The library's barrier call blocks its thread until every lease over the
 * range is put.  Meanwhile this thread takes a snapshot of the file every
 * interval (pml_snapshot_take) and prints the processes whose leases
 * overlap the range, whenever that set changes -- the answer to "what is it
 * waiting for?" that an administrator otherwise has to guess.
 */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define ANSWER_MS 300		/* agents answer in microseconds when alive */

struct cli_waiters {
	char path[4096];
	uint64_t off, end;
	unsigned interval;
	FILE *out;
	pid_t self;
	double t0;

	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;

	/* under mu */
	struct cli_waiter_proc *procs;
	unsigned nprocs, cap;
	char *last;		/* what was printed last, to print changes only */
};

static bool
overlaps(const struct cli_waiters *w, uint64_t off, uint64_t len)
{
	return off < w->end && off + len > w->off;
}

static struct cli_waiter_proc *
proc_of(struct cli_waiters *w, pid_t pid, const char *comm)
{
	for (unsigned i = 0; i < w->nprocs; i++)
		if (w->procs[i].pid == pid)
			return &w->procs[i];
	if (w->nprocs == w->cap) {
		unsigned cap = w->cap ? 2 * w->cap : 8;
		void *n = realloc(w->procs, cap * sizeof(*w->procs));
		if (n == NULL)
			return NULL;
		w->procs = n;
		w->cap = cap;
	}
	struct cli_waiter_proc *p = &w->procs[w->nprocs++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	snprintf(p->comm, sizeof(p->comm), "%.15s", comm);
	return p;
}

/* append to a growing string; the text is only ever for printing */
static void
cat(char **s, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
cat(char **s, size_t *len, const char *fmt, ...)
{
	va_list ap;
	char buf[512];
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	char *r = realloc(*s, *len + (size_t)n + 1);
	if (r == NULL)
		return;
	memcpy(r + *len, buf, (size_t)n + 1);
	*s = r;
	*len += (size_t)n;
}

void
cli_waiters_poll(struct cli_waiters *w)
{
	struct pml_snapshot *snap = NULL;
	int rc = pml_snapshot_take(&snap, w->path, 0, ANSWER_MS);
	double t = cli_mono_ms();
	char *text = NULL;
	size_t tlen = 0;
	char s1[32], s2[32];

	if (rc < 0 || snap == NULL) {
		cat(&text, &tlen, "cannot inspect the holders: %s: %s\n",
		    cli_errname(rc), cli_libmsg());
		goto print;
	}

	pthread_mutex_lock(&w->mu);
	for (unsigned i = 0; i < w->nprocs; i++) {
		w->procs[i].present = false;
		w->procs[i].now_live = w->procs[i].now_revoked = 0;
	}
	unsigned waiting = 0;
	for (unsigned f = 0; f < pml_snapshot_nfiles(snap); f++) {
		const struct pml_file_info *fi = pml_snapshot_file(snap, f);
		if (fi == NULL)
			break;
		if (fi->barrier && fi->barrier_pid != w->self)
			cat(&text, &tlen, "        (pid %d's barrier on [%s, +%s) is up: "
			    "layout changes take turns)\n", (int)fi->barrier_pid,
			    cli_offset(s1, sizeof(s1), fi->barrier_offset),
			    cli_offset(s2, sizeof(s2), fi->barrier_length));
		for (unsigned h = 0; h < fi->nholders; h++) {
			const struct pml_holder_info *hi = pml_snapshot_holder(snap, f, h);
			if (hi == NULL || hi->pid == w->self)
				continue;
			char comm[17];
			snprintf(comm, sizeof(comm), "%.16s", hi->comm);
			if (!hi->answered) {
				cat(&text, &tlen, "        pid %d (%s) did not answer: it "
				    "may hold leases over the range\n", (int)hi->pid, comm);
				continue;
			}
			unsigned live = 0, revoked = 0;
			size_t mark = tlen;
			for (unsigned l = 0; l < hi->nleases; l++) {
				const struct pml_lease_info *li =
					pml_snapshot_lease(snap, f, h, l);
				if (li == NULL || !overlaps(w, li->offset, li->length))
					continue;
				if (li->revoked)
					revoked++;
				else
					live++;
				/* no age: the lines are printed when they change */
				cat(&text, &tlen, "          %s [%s, +%s)  %u ref%s  "
				    "tid %d%s\n", (li->flags & PML_LEASE_REF) ? "ref" : "pin",
				    cli_offset(s1, sizeof(s1), li->offset),
				    cli_offset(s2, sizeof(s2), li->length), li->refs,
				    li->refs == 1 ? "" : "s", (int)li->tid,
				    li->revoked ? "  revoked, not yet put" : "");
			}
			struct cli_waiter_proc *p = proc_of(w, hi->pid, comm);
			if (p != NULL) {
				p->present = true;
				p->now_live = live;
				p->now_revoked = revoked;
				if (live + revoked > 0) {
					if (p->first_ms == 0) {
						p->first_ms = t;
						p->first_revoked = revoked;
					}
					p->last_ms = t;
					p->gone_ms = 0;
					if (live + revoked > p->leases)
						p->leases = live + revoked;
				} else if (p->first_ms != 0 && p->gone_ms == 0) {
					p->gone_ms = t;
				}
			}
			if (live + revoked == 0)
				continue;
			waiting++;
			/* the process line goes before its leases */
			char head[160];
			int hn = snprintf(head, sizeof(head), "        pid %d (%s, uid %u): "
					  "%u lease%s over the range\n", (int)hi->pid, comm,
					  (unsigned)hi->uid, live + revoked,
					  live + revoked == 1 ? "" : "s");
			char *r = realloc(text, tlen + (size_t)hn + 1);
			if (r != NULL) {
				text = r;
				memmove(text + mark + (size_t)hn, text + mark,
					tlen - mark + 1);
				memcpy(text + mark, head, (size_t)hn);
				tlen += (size_t)hn;
			}
		}
	}
	/* processes that left since the last poll let go of everything */
	for (unsigned i = 0; i < w->nprocs; i++)
		if (!w->procs[i].present && w->procs[i].first_ms != 0 &&
		    w->procs[i].gone_ms == 0)
			w->procs[i].gone_ms = t;
	if (waiting == 0)
		cat(&text, &tlen, "        no other process holds a lease over "
		    "the range\n");
	pthread_mutex_unlock(&w->mu);
	pml_snapshot_free(&snap);

print:
	if (text == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	bool same = w->last != NULL && strcmp(w->last, text) == 0;
	if (!same) {
		free(w->last);
		w->last = text;
		text = NULL;
	}
	FILE *out = w->out;
	if (!same && out != NULL) {
		fprintf(out, "  +%.1f s  holders:\n%s", (t - w->t0) / 1000.0,
			w->last);
		fflush(out);
	}
	pthread_mutex_unlock(&w->mu);
	free(text);
}

static void *
waiters_main(void *arg)
{
	struct cli_waiters *w = arg;
	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		long ns = ts.tv_nsec + (long)(w->interval % 1000) * 1000000L;
		ts.tv_sec += (time_t)(w->interval / 1000) + ns / 1000000000L;
		ts.tv_nsec = ns % 1000000000L;
		int e = 0;
		while (!w->stop && e != ETIMEDOUT)
			e = pthread_cond_timedwait(&w->cv, &w->mu, &ts);
		if (w->stop)
			break;
		pthread_mutex_unlock(&w->mu);
		cli_waiters_poll(w);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

struct cli_waiters *
cli_waiters_start(const char *path, uint64_t offset, uint64_t length,
		  unsigned interval_ms, FILE *out)
{
	struct cli_waiters *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	snprintf(w->path, sizeof(w->path), "%s", path);
	w->off = offset;
	w->end = length > UINT64_MAX - offset ? UINT64_MAX : offset + length;
	w->interval = interval_ms;
	w->out = out;
	w->self = getpid();
	w->t0 = cli_mono_ms();
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (interval_ms != 0 &&
	    pthread_create(&w->thread, NULL, waiters_main, w) == 0)
		w->started = true;
	return w;
}

void
cli_waiters_stop(struct cli_waiters *w)
{
	if (w == NULL || !w->started)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	w->started = false;
}

void
cli_waiters_free(struct cli_waiters *w)
{
	if (w == NULL)
		return;
	cli_waiters_stop(w);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w->procs);
	free(w->last);
	free(w);
}

unsigned
cli_waiters_nprocs(const struct cli_waiters *w)
{
	return w->nprocs;
}

const struct cli_waiter_proc *
cli_waiters_proc(const struct cli_waiters *w, unsigned i)
{
	return i < w->nprocs ? &w->procs[i] : NULL;
}

double
cli_waiters_t0(const struct cli_waiters *w)
{
	return w->t0;
}

void
cli_waiters_mute(struct cli_waiters *w)
{
	pthread_mutex_lock(&w->mu);
	w->out = NULL;
	pthread_mutex_unlock(&w->mu);
}
