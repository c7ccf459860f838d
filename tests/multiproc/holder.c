/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * holder.c -- the other process of the multi-process tests: a small program
 * that opens a region and takes leases, punches and truncates as told on
 * stdin, and reports replies and on_break callbacks on stdout.  The
 * protocol is in mpproto.h.  Started by fork + exec from the tests (mp.c),
 * so it is a real, separate program with its own agent thread.
 */
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mpproto.h"
#include "pmemlease.h"

#define NSLOTS 64

static struct pml_region *R;

struct slot {
	struct pml_lease *_Atomic l;
	/* atomic: set by one command's thread, read by on_break in another */
	_Atomic int id;
	_Atomic int mode;
};

enum { MODE_NONE, MODE_KEEP, MODE_PUT, MODE_BLOCK };

static struct slot slots[NSLOTS];

/* ------------------------------------------------------------ output */

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* one line, one write: lines of different threads never interleave */
static void __attribute__((format(printf, 1, 2)))
emit(const char *fmt, ...)
{
	char buf[MP_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	/* a message with a newline in it would split the line */
	for (int i = 0; i < n; i++)
		if (buf[i] == '\n')
			buf[i] = ' ';
	buf[n++] = '\n';

	ssize_t w;

	do
		w = write(1, buf, (size_t)n);
	while (w < 0 && errno == EINTR);
}

static void
reply_rc(int rc)
{
	if (rc < 0)
		emit("= %d %s", rc, pml_errormsg());
	else
		emit("= %d", rc);
}

/* ---------------------------------------------------------- on_break */

static void
on_break(struct pml_lease *lease, enum pml_break_reason why, void *arg)
{
	struct slot *s = arg;
	char name[16] = "?";
	int put = 1;

	pthread_getname_np(pthread_self(), name, sizeof(name));
	if (s->mode == MODE_PUT)
		put = pml_lease_put(lease);
	emit("! break %d %d %d %ld %" PRIu64 " %s %d", s->id, (int)why,
			(int)getpid(), (long)syscall(SYS_gettid), now_ns(),
			name, put);
	if (s->mode == MODE_BLOCK)
		for (;;)
			sleep(1000);	/* stuck in the callback until killed */
}

static const struct pml_lease_ops ops = { .on_break = on_break };

static int
parse_mode(const char *m)
{
	if (!strcmp(m, "keep"))
		return MODE_KEEP;
	if (!strcmp(m, "put"))
		return MODE_PUT;
	if (!strcmp(m, "block"))
		return MODE_BLOCK;
	return MODE_NONE;
}

static int
parse_pol(const char *p)
{
	return !strcmp(p, "revoke") ? PML_ON_TIMEOUT_REVOKE :
		PML_ON_TIMEOUT_FAIL;
}

static struct slot *
slot_of(int id)
{
	return id >= 0 && id < NSLOTS ? &slots[id] : NULL;
}

static int
acquire(int id, uint64_t off, uint64_t len, unsigned flags, const char *mode)
{
	struct slot *s = slot_of(id);
	struct pml_lease *l = NULL;

	if (!s)
		return -ERANGE;
	s->id = id;
	s->mode = parse_mode(mode);

	int rc = pml_lease_acquire(&l, R, off, len, flags,
			s->mode == MODE_NONE ? NULL : &ops, s);

	if (!rc)
		atomic_store(&s->l, l);
	return rc;
}

/* ----------------------------------------------------- async commands */

struct async {
	char tag[64];
	char cmd[16];
	int id;
	uint64_t a, b;
	uint32_t tmo;
	unsigned flags;
	char mode[16];
	char pol[16];
};

/*
 * Async calls still running.  "exit" waits for them (a while) before it
 * closes the region: their last touches of it must happen before the close
 * in this process, not merely before the test's reading of their "done"
 * lines in another, which no sanitizer can see.
 */
static atomic_int async_running;

static void *
async_main(void *p)
{
	struct async *c = p;
	struct pml_barrier_opts o = { .timeout_ms = c->tmo,
		.on_timeout = parse_pol(c->pol) };
	int rc;

	if (!strcmp(c->cmd, "aacq")) {
		rc = acquire(c->id, c->a, c->b, c->flags, c->mode);

		long first = -1;

		if (!rc) {
			const uint8_t *p8 = pml_lease_addr(slots[c->id].l);

			for (uint64_t i = 0; i < c->b && first < 0; i++)
				if (p8[i])
					first = (long)i;
		}
		emit("! done %s %d %" PRIu64 " %ld %s", c->tag, rc, now_ns(),
				first, rc ? pml_errormsg() : "");
	} else {
		rc = !strcmp(c->cmd, "apunch") ?
			pml_region_punch(R, c->a, c->b, &o) :
			pml_region_truncate(R, c->a, &o);
		emit("! done %s %d %" PRIu64 " %s", c->tag, rc, now_ns(),
				rc ? pml_errormsg() : "");
	}
	free(c);
	atomic_fetch_sub_explicit(&async_running, 1, memory_order_release);
	return NULL;
}

static int
async_start(struct async *c)
{
	pthread_t t;
	int e;

	atomic_fetch_add(&async_running, 1);
	e = pthread_create(&t, NULL, async_main, c);
	if (e) {
		atomic_fetch_sub(&async_running, 1);
		free(c);
		return -e;
	}
	pthread_detach(t);
	return 0;
}

/* ------------------------------------------------------------- churn */

struct churn {
	char tag[64];
	unsigned seconds;
	uint64_t seed;
	uint64_t maxsz;
	uint64_t align;
	atomic_bool stop;
	atomic_int failed;
	char msg[512];
	atomic_ulong leases, breaks, checks;
	unsigned ops, truncs, punches, timeouts, einval;
};

struct churn_thread {
	struct churn *c;
	pthread_t t;
	unsigned idx;
	atomic_int broken;
};

static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static uint64_t
below(uint64_t *s, uint64_t n)
{
	return n ? rng_next(s) % n : 0;
}

static void __attribute__((format(printf, 2, 3)))
churn_fail(struct churn *c, const char *fmt, ...)
{
	int expected = 0;

	if (!atomic_compare_exchange_strong(&c->failed, &expected, 1))
		return;

	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
	atomic_store(&c->stop, true);
}

static void
churn_on_break(struct pml_lease *lease, enum pml_break_reason why, void *arg)
{
	struct churn_thread *t = arg;

	(void)lease;
	if (why != PML_BREAK_LAYOUT)
		churn_fail(t->c, "on_break reason %d: nothing revokes here",
				(int)why);
	atomic_store(&t->broken, 1);
	atomic_fetch_add(&t->c->breaks, 1);
}

static const struct pml_lease_ops churn_ops = { .on_break = churn_on_break };

/*
 * A DMA user: lease a range, write the pattern into it, keep it a little
 * (less when asked to let go), check nothing changed under the lease, put.
 */
static void *
churn_leaser(void *p)
{
	struct churn_thread *t = p;
	struct churn *c = t->c;
	uint64_t rng = c->seed * 1000003 + t->idx;

	while (!atomic_load(&c->stop)) {
		uint64_t size = pml_region_size(R);

		if (size == 0) {
			churn_fail(c, "pml_region_size: 0: %s", pml_errormsg());
			break;
		}

		uint64_t off = below(&rng, size);
		uint64_t room = size - off, cap = 3 * c->align;
		uint64_t len = 1 + below(&rng, room < cap ? room : cap);
		unsigned flags = below(&rng, 4) == 0 ? PML_LEASE_REF : 0;
		struct pml_lease *l;

		atomic_store(&t->broken, 0);

		int rc = pml_lease_acquire(&l, R, off, len, flags, &churn_ops,
				t);

		if (rc == -EINVAL)
			continue;	/* shrunk between size and acquire */
		if (rc) {
			churn_fail(c, "acquire [%" PRIu64 ", +%" PRIu64 "): %d %s",
					off, len, rc, pml_errormsg());
			break;
		}
		atomic_fetch_add(&c->leases, 1);

		uint8_t *a = pml_lease_addr(l);

		/*
		 * Both leasers may write the same bytes (the same values):
		 * relaxed atomics, so that TSan sees no race of ours.
		 */
		for (uint64_t i = 0; i < len; i++)
			__atomic_store_n(&a[i], mp_pattern(MP_CHURN_SEED, off + i),
					__ATOMIC_RELAXED);

		uint64_t until = now_ns() + below(&rng, 2000) * 1000;

		while (now_ns() < until && !atomic_load(&t->broken)) {
			struct timespec ts = { 0, 50000 };

			nanosleep(&ts, NULL);
		}
		for (uint64_t i = 0; i < len; i++) {
			uint8_t got = __atomic_load_n(&a[i], __ATOMIC_RELAXED);

			if (got != mp_pattern(MP_CHURN_SEED, off + i)) {
				churn_fail(c, "byte %" PRIu64 " is %#x under a "
						"live lease [%" PRIu64 ", +%" PRIu64
						"), wrote %#x", off + i, got, off,
						len, mp_pattern(MP_CHURN_SEED,
							off + i));
				break;
			}
		}
		atomic_fetch_add(&c->checks, 1);
		rc = pml_lease_put(l);
		if (rc)
			churn_fail(c, "put: %d %s", rc, pml_errormsg());
	}
	return NULL;
}

static void
churn_layout(struct churn *c)
{
	uint64_t rng = c->seed * 7919 + 17;
	uint64_t A = c->align, maxp = c->maxsz / A;
	uint64_t end = now_ns() + (uint64_t)c->seconds * 1000000000ULL;

	while (!atomic_load(&c->stop) && now_ns() < end) {
		uint64_t size = pml_region_size(R), pages = size / A;
		unsigned op = (unsigned)below(&rng, 10);
		int rc;

		c->ops++;
		if (op < 4 || pages < 2) {
			uint64_t to = A * (2 + below(&rng, maxp - 1));

			rc = pml_region_truncate(R, to, NULL);
			c->truncs++;
			if (rc)
				churn_fail(c, "truncate to %" PRIu64 ": %d %s",
						to, rc, pml_errormsg());
		} else {
			uint64_t first = below(&rng, pages);
			uint64_t n = 1 + below(&rng, pages - first < 4 ?
					pages - first : 4);
			struct pml_barrier_opts o = { .timeout_ms =
				op >= 8 ? 1 : 0 };

			rc = pml_region_punch(R, first * A, n * A, &o);
			c->punches++;
			if (rc == -ETIMEDOUT && o.timeout_ms)
				c->timeouts++;
			else if (rc == -EINVAL)
				c->einval++;	/* shrunk by the other process */
			else if (rc)
				churn_fail(c, "punch [%" PRIu64 ", +%" PRIu64
						"): %d %s", first * A, n * A, rc,
						pml_errormsg());
		}
		if (pml_region_size(R) > c->maxsz)
			churn_fail(c, "size %" PRIu64 " > the largest ever set",
					pml_region_size(R));
	}
}

static void *
churn_main(void *p)
{
	struct churn *c = p;
	struct churn_thread th[2];
	struct pml_region_info info;
	int rc = pml_region_info(&info, R);

	if (rc) {
		emit("! done %s %d 0 | info: %s", c->tag, rc, pml_errormsg());
		free(c);
		return NULL;
	}
	c->align = info.alignment;
	for (unsigned i = 0; i < 2; i++) {
		th[i] = (struct churn_thread){ .c = c, .idx = i };
		pthread_create(&th[i].t, NULL, churn_leaser, &th[i]);
	}
	churn_layout(c);
	atomic_store(&c->stop, true);
	for (unsigned i = 0; i < 2; i++)
		pthread_join(th[i].t, NULL);
	emit("! done %s %d ops=%u truncs=%u punches=%u timeouts=%u einval=%u "
			"leases=%lu breaks=%lu checks=%lu | %s", c->tag,
			atomic_load(&c->failed) ? -EPROTO : 0, c->ops, c->truncs,
			c->punches, c->timeouts, c->einval,
			atomic_load(&c->leases), atomic_load(&c->breaks),
			atomic_load(&c->checks), c->msg);
	free(c);
	return NULL;
}

/* ---------------------------------------------------------- fastloop */

/* a counter of the calling thread's system calls, or -1 */
static int
syscall_counter(void)
{
	static const char *paths[] = {
		"/sys/kernel/tracing/events/raw_syscalls/sys_enter/id",
		"/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id",
	};
	long long id = -1;

	for (unsigned i = 0; i < 2 && id < 0; i++) {
		FILE *f = fopen(paths[i], "r");

		if (f) {
			if (fscanf(f, "%lld", &id) != 1)
				id = -1;
			fclose(f);
		}
	}
	if (id < 0)
		return -1;

	struct perf_event_attr a = {
		.type = PERF_TYPE_TRACEPOINT,
		.size = sizeof(a),
		.config = (uint64_t)id,
		.disabled = 1,
	};

	return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
}

static long long
count_window(int fd, struct pml_lease **l, uint64_t n, uint64_t off,
		uint64_t len, unsigned flags, int *rc)
{
	uint64_t v = 0;

	ioctl(fd, PERF_EVENT_IOC_RESET, 0);
	ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
	for (uint64_t i = 0; i < n && !*rc; i++) {
		*rc = pml_lease_acquire(l, R, off, len, flags, NULL, NULL);
		if (!*rc)
			*rc = pml_lease_put(*l);
	}
	ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return -1;
	return (long long)v;
}

static void
fastloop(uint64_t n, uint64_t off, uint64_t len, unsigned flags)
{
	struct pml_lease *l;
	int rc = 0;

	/* warm up: the thread's context and free list are made once */
	for (unsigned i = 0; i < 1000 && !rc; i++) {
		rc = pml_lease_acquire(&l, R, off, len, flags, NULL, NULL);
		if (!rc)
			rc = pml_lease_put(l);
	}
	if (rc) {
		reply_rc(rc);
		return;
	}

	int fd = syscall_counter();
	long long count = -1, control = -1;

	if (fd >= 0) {
		/* what enabling and disabling alone count */
		long long base = count_window(fd, &l, 0, off, len, flags, &rc);
		long long all = count_window(fd, &l, n, off, len, flags, &rc);

		if (base >= 0 && all >= 0)
			count = all - base;

		/* the counter counts: 10 getppid() must read as 10 */
		uint64_t v = 0;

		ioctl(fd, PERF_EVENT_IOC_RESET, 0);
		ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
		for (int i = 0; i < 10; i++)
			syscall(SYS_getppid);
		ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
		if (read(fd, &v, sizeof(v)) == sizeof(v) && base >= 0)
			control = (long long)v - base;
		close(fd);
	}

	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < n && !rc; i++) {
		rc = pml_lease_acquire(&l, R, off, len, flags, NULL, NULL);
		if (!rc)
			rc = pml_lease_put(l);
	}

	uint64_t t1 = now_ns();

	if (rc)
		reply_rc(rc);
	else
		emit("= 0 %lld %.1f %lld", count, n ? (double)(t1 - t0) / n : 0.0,
				control);
}

/* ------------------------------------------------------------ commands */

static void
command(char *line)
{
	char verb[16], s1[4096], s2[64], s3[64];
	int id = 0;
	unsigned long long a = 0, b = 0, c = 0;
	unsigned flags = 0, tmo = 0;
	struct pml_lease *l;

	if (sscanf(line, "%15s", verb) != 1)
		return;

	if (!strcmp(verb, "open") &&
	    sscanf(line, "%*s %4095s %llu", s1, &a) == 2) {
		struct pml_region_opts o = { .max_size = a };
		int rc = pml_region_open(&R, s1, &o);

		if (rc)
			reply_rc(rc);
		else
			emit("= 0 %" PRIu64, pml_region_size(R));
	} else if (!strcmp(verb, "close")) {
		reply_rc(pml_region_close(&R));
	} else if (!strcmp(verb, "acq") &&
		   sscanf(line, "%*s %d %llu %llu %u %63s", &id, &a, &b, &flags,
			   s2) == 5) {
		reply_rc(acquire(id, a, b, flags, s2));
	} else if (!strcmp(verb, "aacq")) {
		struct async *x = calloc(1, sizeof(*x));

		if (sscanf(line, "%*s %63s %d %llu %llu %u %15s", x->tag,
				&x->id, &a, &b, &x->flags, x->mode) != 6 ||
				!slot_of(x->id)) {
			free(x);
			emit("= -22 bad aacq");
			return;
		}
		strcpy(x->cmd, "aacq");
		x->a = a;
		x->b = b;
		reply_rc(async_start(x));
	} else if ((!strcmp(verb, "apunch") || !strcmp(verb, "atrunc"))) {
		struct async *x = calloc(1, sizeof(*x));
		int n = !strcmp(verb, "apunch") ?
			sscanf(line, "%*s %63s %llu %llu %u %15s", x->tag, &a, &b,
					&x->tmo, x->pol) - 5 :
			sscanf(line, "%*s %63s %llu %u %15s", x->tag, &a, &x->tmo,
					x->pol) - 4;

		if (n) {
			free(x);
			emit("= -22 bad %s", verb);
			return;
		}
		snprintf(x->cmd, sizeof(x->cmd), "%s", verb);
		x->a = a;
		x->b = b;
		reply_rc(async_start(x));
	} else if ((!strcmp(verb, "put") || !strcmp(verb, "get") ||
		    !strcmp(verb, "revoked") || !strcmp(verb, "zero")) &&
		   sscanf(line, "%*s %d", &id) == 1 && slot_of(id)) {
		l = atomic_load(&slots[id].l);
		if (!strcmp(verb, "put"))
			reply_rc(pml_lease_put(l));
		else if (!strcmp(verb, "get"))
			reply_rc(pml_lease_get(l));
		else if (!strcmp(verb, "revoked"))
			reply_rc(pml_lease_revoked(l));
		else {
			const uint8_t *p = pml_lease_addr(l);
			uint64_t n = pml_lease_length(l);
			long first = -1;

			for (uint64_t i = 0; p && i < n && first < 0; i++)
				if (p[i])
					first = (long)i;
			emit("= %d %ld", p ? 0 : -EINVAL, first);
		}
	} else if ((!strcmp(verb, "write") || !strcmp(verb, "check")) &&
		   sscanf(line, "%*s %d %llu", &id, &a) == 2 && slot_of(id)) {
		l = atomic_load(&slots[id].l);

		uint8_t *p = pml_lease_addr(l);
		uint64_t off = pml_lease_offset(l), n = pml_lease_length(l);
		long first = -1;

		for (uint64_t i = 0; p && i < n; i++) {
			uint8_t want = mp_pattern((unsigned)a, off + i);

			if (verb[0] == 'w')
				p[i] = want;
			else if (p[i] != want && first < 0)
				first = (long)i;
		}
		emit("= %d %ld", p ? 0 : -EINVAL, first);
	} else if (!strcmp(verb, "punch") &&
		   sscanf(line, "%*s %llu %llu %u %63s", &a, &b, &tmo, s3) == 4) {
		struct pml_barrier_opts o = { tmo, parse_pol(s3) };

		reply_rc(pml_region_punch(R, a, b, &o));
	} else if (!strcmp(verb, "trunc") &&
		   sscanf(line, "%*s %llu %u %63s", &a, &tmo, s3) == 3) {
		struct pml_barrier_opts o = { tmo, parse_pol(s3) };

		reply_rc(pml_region_truncate(R, a, &o));
	} else if (!strcmp(verb, "size")) {
		emit("= %" PRIu64, pml_region_size(R));
	} else if (!strcmp(verb, "quar")) {
		uint64_t q = 0;
		int rc = pml_region_quarantined(&q, R);

		if (rc)
			reply_rc(rc);
		else
			emit("= 0 %" PRIu64, q);
	} else if (!strcmp(verb, "pid")) {
		emit("= %d", (int)getpid());
	} else if (!strcmp(verb, "churn")) {
		struct churn *x = calloc(1, sizeof(*x));

		if (sscanf(line, "%*s %63s %u %llu %llu", x->tag, &x->seconds,
				&a, &b) != 4) {
			free(x);
			emit("= -22 bad churn");
			return;
		}
		x->seed = a;
		x->maxsz = b;

		pthread_t t;

		reply_rc(-pthread_create(&t, NULL, churn_main, x));
		pthread_detach(t);
	} else if (!strcmp(verb, "fastloop") &&
		   sscanf(line, "%*s %llu %llu %llu %u", &a, &b, &c, &flags) ==
		   4) {
		fastloop(a, b, c, flags);
	} else if (!strcmp(verb, "exit")) {
		/* a call blocked for good must not keep us: 5 s at most */
		for (int i = 0; i < 5000 && atomic_load_explicit(
				&async_running, memory_order_acquire); i++)
			usleep(1000);

		int rc = R ? pml_region_close(&R) : 0;

		reply_rc(rc);
		exit(rc ? 1 : 0);
	} else {
		emit("= -22 unknown or malformed command: %.200s", line);
	}
}

/*
 * A crash says where: the faulting address against the region's mapping,
 * and a backtrace.  Not under the sanitizers, whose own handlers say more.
 */
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
static void
on_fault(int sig, siginfo_t *si, void *uc)
{
	char buf[256];
	char *base = R ? pml_region_base(R) : NULL;
	int n = snprintf(buf, sizeof(buf), "mp_holder %d: signal %d at %p "
			"(region offset %lld)\n", (int)getpid(), sig, si->si_addr,
			base ? (long long)((char *)si->si_addr - base) : -1LL);
	void *bt[32];
	ssize_t w = write(2, buf, (size_t)n);

	(void)uc;
	(void)w;
	backtrace_symbols_fd(bt, backtrace(bt, 32), 2);
	signal(sig, SIG_DFL);
	raise(sig);
}
#endif

static void
catch_faults(void)
{
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	struct sigaction sa = { .sa_sigaction = on_fault,
		.sa_flags = SA_SIGINFO | SA_RESETHAND };

	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
#endif
}

int
main(int argc, char **argv)
{
	char line[8192];

	(void)argc;
	(void)argv;
	catch_faults();
	setvbuf(stdin, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		command(line);
	}
	return 1;	/* the test went away without "exit" */
}
