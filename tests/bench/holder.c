/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * holder.c -- the other party of the barrier figures: a thread of this
 * process, or a helper process (pml-bench --helper PATH) driven through a
 * pipe, holding leases and putting them when on_break asks.
 */
#include <errno.h>
#include <fcntl.h>
#include <pmemlease.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static int helper_out = 1;
static pthread_mutex_t helper_mu = PTHREAD_MUTEX_INITIALIZER;

static void
helper_break(struct pml_lease *l, enum pml_break_reason why, void *arg)
{
	char line[64];
	uint64_t t;
	int n;

	pml_lease_put(l);
	t = now_ns();
	n = snprintf(line, sizeof(line), "t %llu\n", (unsigned long long)t);
	pthread_mutex_lock(&helper_mu);
	if (write(helper_out, line, (size_t)n) != n)
		_exit(2);
	pthread_mutex_unlock(&helper_mu);
}

static void
helper_say(const char *s)
{
	pthread_mutex_lock(&helper_mu);
	if (write(helper_out, s, strlen(s)) < 0)
		_exit(2);
	pthread_mutex_unlock(&helper_mu);
}

/*
 * stdin:  hold OFF LEN N   N PIN leases of LEN from OFF, kept till quit
 *         arm OFF LEN      one PIN lease; its on_break puts it and says
 *                          "t NS" (CLOCK_MONOTONIC of the put)
 *         quit
 * stdout: "ok" after each hold and arm, once the leases are held.
 */
int
helper_main(const char *path)
{
	static const struct pml_lease_ops ops = { .on_break = helper_break };
	struct pml_region *r;
	struct pml_lease **held = NULL;
	unsigned long long off, len;
	unsigned nheld = 0, n;
	char line[256];
	int ret = pml_region_open(&r, path, NULL);

	if (ret)
		die("helper: open", ret);
	while (fgets(line, sizeof(line), stdin)) {
		if (sscanf(line, "hold %llu %llu %u", &off, &len, &n) == 3) {
			held = realloc(held, sizeof(*held) * (nheld + n));
			for (unsigned i = 0; i < n; i++) {
				ret = pml_lease_acquire(&held[nheld++], r,
						off + i * len, len, 0, NULL, NULL);
				if (ret)
					die("helper: hold", ret);
			}
			helper_say("ok\n");
		} else if (sscanf(line, "arm %llu %llu", &off, &len) == 2) {
			struct pml_lease *l;

			ret = pml_lease_acquire(&l, r, off, len, 0, &ops, NULL);
			if (ret)
				die("helper: arm", ret);
			helper_say("ok\n");
		} else {
			break;
		}
	}
	for (unsigned i = 0; i < nheld; i++)
		pml_lease_put(held[i]);
	free(held);
	pml_region_close(&r);
	return 0;
}

void
helper_start(struct helper *h)
{
	int to[2], from[2];

	if (pipe(to) || pipe(from))
		die("pipe", -errno);
	h->pid = fork();
	if (h->pid == 0) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		close(to[1]);
		close(from[0]);
		execl("/proc/self/exe", "pml-bench", "--helper", g.data,
				(char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	h->in = fdopen(to[1], "w");
	h->out = fdopen(from[0], "r");
}

void
helper_cmd(struct helper *h, const char *fmt, unsigned long long a,
		unsigned long long b, unsigned c)
{
	char line[64];

	fprintf(h->in, fmt, a, b, c);
	fflush(h->in);
	if (!fgets(line, sizeof(line), h->out) || strcmp(line, "ok\n"))
		die("helper did not answer", -EPROTO);
}

static uint64_t
helper_put_time(struct helper *h)
{
	unsigned long long t;
	char line[64];

	if (!fgets(line, sizeof(line), h->out) ||
			sscanf(line, "t %llu", &t) != 1)
		die("helper did not put", -EPROTO);
	return t;
}

void
helper_stop(struct helper *h)
{
	fprintf(h->in, "quit\n");
	fclose(h->in);
	fclose(h->out);
	waitpid(h->pid, NULL, 0);
}

/* -------------------------------------------- a holder in this process */

static struct {
	pthread_t t;
	_Atomic int cmd;	/* 1: arm once; 2: quit */
	_Atomic int ready, broken;
	_Atomic uint64_t t_put;
	uint64_t off, len;
} lh;

static void
local_break(struct pml_lease *l, enum pml_break_reason why, void *arg)
{
	atomic_store(&lh.broken, 1);
}

static void *
local_holder(void *arg)
{
	static const struct pml_lease_ops ops = { .on_break = local_break };

	pin_cpu(1);
	for (;;) {
		int c;

		while (!(c = atomic_load(&lh.cmd)))
			sched_yield();
		if (c == 2)
			return NULL;
		atomic_store(&lh.cmd, 0);

		struct pml_lease *l;
		int ret = pml_lease_acquire(&l, g.r, lh.off, lh.len, 0, &ops,
				NULL);

		if (ret)
			die("holder: acquire", ret);
		atomic_store(&lh.ready, 1);
		while (!atomic_load(&lh.broken))
			;
		atomic_store(&lh.broken, 0);
		uint64_t t = now_ns();

		pml_lease_put(l);
		atomic_store(&lh.t_put, t);
	}
}

/*
 * Last put -> the barrier proceeding: a PIN lease on the range, put by its
 * holder (another thread here, the agent thread of the helper process) as
 * soon as on_break asks; punch 0 times pml_region_break, which returns as
 * soon as the range is drained, punch 1 a real punch (drain, flush,
 * fallocate, map again).  Fills lat[] with ns from the put to the return.
 */
void
last_put(double *lat, unsigned n, struct helper *h, int punch)
{
	uint64_t off = PUNCH_BASE + 2 * MiB, len = 2 * MiB;

	for (unsigned i = 0; i < n; i++) {
		uint64_t t_put;
		int ret;

		if (punch)	/* dirty, as one_punch() leaves it */
			memset(g.base + off, 'p', len);
		if (h) {
			helper_cmd(h, "arm %llu %llu\n", off, len, 0);
		} else {
			lh.off = off;
			lh.len = len;
			atomic_store(&lh.t_put, 0);
			atomic_store(&lh.cmd, 1);
			while (!atomic_load(&lh.ready))
				;
			atomic_store(&lh.ready, 0);
		}
		ret = punch ? pml_region_punch(g.r, off, len, NULL) :
			pml_region_break(g.r, off, len, NULL);
		if (ret)
			die("barrier", ret);

		uint64_t t_ret = now_ns();

		if (h) {
			t_put = helper_put_time(h);
		} else {
			while (!(t_put = atomic_load(&lh.t_put)))
				;
		}
		lat[i] = t_ret > t_put ? (double)(t_ret - t_put) : 0;
	}
}

void
local_holder_start(void)
{
	pthread_create(&lh.t, NULL, local_holder, NULL);
}

void
local_holder_stop(void)
{
	atomic_store(&lh.cmd, 2);
	pthread_join(lh.t, NULL);
}
