/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mp.c -- helper processes, runtime directories and watchdogs for the
 * multi-process tests.  See mp.h.
 */
#include "mp.h"

#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MP_HOLDER
#error "MP_HOLDER: the path of the helper program"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define MP_ASAN 1
#else
#define MP_ASAN 0
#endif

unsigned
mp_slow(void)
{
	return PMLT_TSAN ? 6 : MP_ASAN ? 3 : 1;
}

/* the helpers alive, for the watchdog (async-signal-safe reads only) */
static volatile pid_t live[64];

static void
live_add(pid_t pid)
{
	for (unsigned i = 0; i < 64; i++)
		if (!live[i]) {
			live[i] = pid;
			return;
		}
}

static void
live_del(pid_t pid)
{
	for (unsigned i = 0; i < 64; i++)
		if (live[i] == pid)
			live[i] = 0;
}

static struct mp_proc *procs[64];

void
mp_kill_all(void)
{
	for (unsigned i = 0; i < 64; i++) {
		if (procs[i] && procs[i]->running)
			mp_kill9(procs[i]);
		procs[i] = NULL;	/* the fixture holding it goes next */
	}
}

unsigned mp_cmd_timeout_ms = 20000;

/* ------------------------------------------------------------ spawning */

void
mp_spawn(struct mp_proc *p, const char *name, const struct mp_spawn_opts *o)
{
	int in[2], out[2];

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		fail_msg("pipe: %s", strerror(errno));

	pid_t pid = fork();

	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		/* the helper dies with the test, however the test dies */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		signal(SIGALRM, SIG_DFL);
		alarm(0);
		if (o && o->setuid) {
			if (setgroups(0, NULL) || setgid(o->gid) ||
					setuid(o->uid)) {
				dprintf(2, "helper: cannot become %u:%u: %s\n",
						o->uid, o->gid, strerror(errno));
				_exit(126);
			}
		}

		const char *argv[16];
		unsigned n = 0;

		for (unsigned i = 0; o && o->wrapper && o->wrapper[i] &&
				n < 14; i++)
			argv[n++] = o->wrapper[i];
		argv[n++] = MP_HOLDER;
		argv[n] = NULL;
		execvp(argv[0], (char *const *)argv);
		dprintf(2, "helper: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	p->pid = pid;
	p->to_fd = in[1];
	p->from_fd = out[0];
	p->running = true;
	live_add(pid);
	for (unsigned i = 0; i < 64; i++)
		if (!procs[i] || !procs[i]->running || procs[i] == p) {
			procs[i] = p;
			break;
		}
}

static void
describe_status(int st, char *buf, size_t n)
{
	if (WIFEXITED(st))
		snprintf(buf, n, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, n, "was killed by signal %d (%s)", WTERMSIG(st),
				strsignal(WTERMSIG(st)));
	else
		snprintf(buf, n, "status %#x", st);
}

static void
reap(struct mp_proc *p, bool wait)
{
	if (!p->running)
		return;

	pid_t w;

	do
		w = waitpid(p->pid, &p->status, wait ? 0 : WNOHANG);
	while (w < 0 && errno == EINTR);
	if (w == p->pid || (w < 0 && errno == ECHILD)) {
		p->running = false;
		live_del(p->pid);
		close(p->to_fd);
		close(p->from_fd);
		for (unsigned i = 0; i < p->nev; i++)
			free(p->events[i]);
		p->nev = 0;
	}
}

bool
mp_dead(struct mp_proc *p)
{
	reap(p, false);
	return !p->running;
}

void
mp_kill9(struct mp_proc *p)
{
	if (!p->running)
		return;
	kill(p->pid, SIGKILL);
	reap(p, true);
}

/* ------------------------------------------------------------- reading */

static void
take_line(struct mp_proc *p, char *line, bool *got_reply)
{
	if (line[0] == '=' && line[1] == ' ') {
		snprintf(p->reply, sizeof(p->reply), "%s", line + 2);
		*got_reply = true;
	} else if (line[0] == '!' && line[1] == ' ') {
		if (p->nev == MP_MAX_EVENTS) {
			free(p->events[0]);
			memmove(p->events, p->events + 1,
					(MP_MAX_EVENTS - 1) * sizeof(char *));
			p->nev--;
		}
		p->events[p->nev++] = strdup(line + 2);
	} else {
		printf("[%s] %s\n", p->name, line);
	}
}

/*
 * read what is there, waiting up to ms; returns false at EOF.  Stops at a
 * reply when want_reply.
 */
static bool
pump(struct mp_proc *p, int ms, bool want_reply, bool *got_reply)
{
	uint64_t deadline = pmlt_now_ns() + (uint64_t)ms * 1000000ULL;
	bool progress = false;

	for (;;) {
		char *nl;

		while ((nl = memchr(p->buf, '\n', p->blen))) {
			*nl = '\0';
			take_line(p, p->buf, got_reply);
			progress = true;
			p->blen -= (size_t)(nl + 1 - p->buf);
			memmove(p->buf, nl + 1, p->blen);
			if (want_reply && *got_reply)
				return true;
		}
		if (!want_reply && progress)
			return true;	/* let the caller look at what came */

		uint64_t now = pmlt_now_ns();

		if (now >= deadline)
			return true;

		struct pollfd pf = { p->from_fd, POLLIN, 0 };
		int r = poll(&pf, 1, (int)((deadline - now) / 1000000ULL) + 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;

		ssize_t n = read(p->from_fd, p->buf + p->blen,
				sizeof(p->buf) - 1 - p->blen);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p->blen += (size_t)n;
		progress = true;
		if (p->blen == sizeof(p->buf) - 1)
			fail_msg("helper %s wrote a line longer than %zu bytes",
					p->name, sizeof(p->buf));
	}
}

static void __attribute__((noreturn))
helper_gone(struct mp_proc *p, const char *doing)
{
	char st[128];

	reap(p, true);
	describe_status(p->status, st, sizeof(st));
	fail_msg("helper %s (pid %d) %s while %s", p->name, (int)p->pid, st,
			doing);
	abort();	/* not reached: fail_msg longjmps */
}

static int
vcmd(struct mp_proc *p, const char *fmt, va_list ap)
{
	char line[8192];
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);

	if (!p->running)
		fail_msg("helper %s is not running (command \"%s\")", p->name,
				line);
	line[n++] = '\n';
	for (int off = 0; off < n;) {
		ssize_t w = write(p->to_fd, line + off, (size_t)(n - off));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			line[n - 1] = '\0';
			helper_gone(p, line);
		}
		off += (int)w;
	}
	line[n - 1] = '\0';

	bool got = false;
	unsigned ms = mp_cmd_timeout_ms * mp_slow();

	if (!pump(p, (int)ms, true, &got))
		helper_gone(p, line);
	if (!got)
		fail_msg("helper %s did not answer \"%s\" within %u ms (hung?)",
				p->name, line, ms);

	char *end;
	long rc = strtol(p->reply, &end, 10);

	memmove(p->reply, end + (*end == ' '), strlen(end + (*end == ' ')) + 1);
	return (int)rc;
}

int
mp_cmd(struct mp_proc *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int rc = vcmd(p, fmt, ap);
	va_end(ap);
	return rc;
}

void
mp_ok(struct mp_proc *p, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	int rc = vcmd(p, fmt, ap);
	va_end(ap);
	if (rc)
		fail_msg("helper %s: \"%s\" returned %d (%s): %s", p->name,
				what, rc, pmlt_errname(rc), p->reply);
}

static char *last_event;

static const char *
find_event(struct mp_proc *p, const char *prefix)
{
	size_t n = strlen(prefix);

	for (unsigned i = 0; i < p->nev; i++) {
		if (strncmp(p->events[i], prefix, n))
			continue;
		free(last_event);
		last_event = p->events[i];
		memmove(p->events + i, p->events + i + 1,
				(p->nev - i - 1) * sizeof(char *));
		p->nev--;
		return last_event;
	}
	return NULL;
}

const char *
mp_event_try(struct mp_proc *p, const char *prefix, unsigned ms)
{
	uint64_t deadline = pmlt_now_ns() + (uint64_t)ms * 1000000ULL;

	for (;;) {
		const char *e = find_event(p, prefix);

		if (e)
			return e;
		if (!p->running)
			return NULL;

		uint64_t now = pmlt_now_ns();

		if (now >= deadline)
			return NULL;

		bool got = false;

		if (!pump(p, (int)((deadline - now) / 1000000ULL) + 1, false,
				&got)) {
			e = find_event(p, prefix);
			if (e)
				return e;
			reap(p, true);
			return NULL;
		}
	}
}

const char *
mp_event(struct mp_proc *p, const char *prefix, unsigned ms)
{
	const char *e = mp_event_try(p, prefix, ms);

	if (e)
		return e;
	if (!p->running) {
		char st[128];

		describe_status(p->status, st, sizeof(st));
		fail_msg("helper %s %s before the event \"%s...\"", p->name,
				st, prefix);
	}
	fail_msg("helper %s: no event \"%s...\" within %u ms", p->name,
			prefix, ms);
	return NULL;
}

void
mp_exit(struct mp_proc *p)
{
	int rc = mp_cmd(p, "exit");

	if (rc)
		fail_msg("helper %s: exit: close returned %d (%s): %s",
				p->name, rc, pmlt_errname(rc), p->reply);

	uint64_t deadline = pmlt_now_ns() + 20000000000ULL * mp_slow();

	while (!mp_dead(p)) {
		if (pmlt_now_ns() > deadline)
			fail_msg("helper %s did not exit after \"exit\"", p->name);
		pmlt_sleep_ms(2);
	}
	if (!WIFEXITED(p->status) || WEXITSTATUS(p->status) != 0) {
		char st[128];

		describe_status(p->status, st, sizeof(st));
		fail_msg("helper %s %s after a clean \"exit\" (a sanitizer "
				"report?  see its stderr above)", p->name, st);
	}
}

/* ---------------------------------------------------------- directories */

void
mp_runtime_fresh(char *buf, size_t n)
{
	snprintf(buf, n, "%s/rt.XXXXXX", pmlt_dir());
	if (!mkdtemp(buf))
		fail_msg("mkdtemp %s: %s", buf, strerror(errno));
	if (setenv("PMEMLEASE_RUNTIME_DIR", buf, 1))
		fail_msg("setenv: %s", strerror(errno));
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void
mp_rmtree(const char *path)
{
	const char *keep = getenv("PML_TEST_KEEP");

	if (!path || !*path || (keep && *keep && strcmp(keep, "0")))
		return;
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void
mp_state_path(char *buf, size_t n, const char *rt, const char *data)
{
	struct stat st;

	if (stat(data, &st))
		fail_msg("stat %s: %s", data, strerror(errno));
	snprintf(buf, n, "%s/dev-%" PRIx64 "-ino-%" PRIx64 ".state", rt,
			(uint64_t)st.st_dev, (uint64_t)st.st_ino);
}

/* ------------------------------------------------------------- watchdog */

static const char *wd_what = "";

static void
wd_fired(int sig)
{
	static const char m1[] = "\nFATAL: watchdog: ";
	static const char m2[] = " did not finish in time; killing helpers\n";
	ssize_t w;

	(void)sig;
	for (unsigned i = 0; i < 64; i++)
		if (live[i] > 0)
			kill(live[i], SIGKILL);
	w = write(2, m1, sizeof(m1) - 1);
	w = write(2, wd_what, strlen(wd_what));
	w = write(2, m2, sizeof(m2) - 1);
	(void)w;
	_exit(3);
}

void
mp_watchdog(unsigned seconds, const char *what)
{
	if (!seconds) {
		alarm(0);
		return;
	}
	wd_what = what;
	signal(SIGALRM, wd_fired);
	alarm(seconds * mp_slow());
}

long
mp_poll_ms(bool (*pred)(void *), void *arg, unsigned ms)
{
	uint64_t t0 = pmlt_now_ns(), end = t0 + (uint64_t)ms * 1000000ULL;

	for (;;) {
		if (pred(arg))
			return (long)((pmlt_now_ns() - t0) / 1000000ULL);
		if (pmlt_now_ns() > end)
			return -1;
		pmlt_sleep_ms(5);
	}
}

struct pml_barrier_opts
mp_long(void)
{
	return (struct pml_barrier_opts){ MP_LONG, PML_ON_TIMEOUT_FAIL };
}

long long
mp_field(const char *s, unsigned n)
{
	while (n--) {
		while (*s && *s != ' ')
			s++;
		while (*s == ' ')
			s++;
	}
	return strtoll(s, NULL, 10);
}

int
mp_setup(void **state)
{
	struct mp_fix *f = calloc(1, sizeof(*f));

	f->arg = *state;
	mp_watchdog(240, "a multi-process test");
	mp_runtime_fresh(f->rt, sizeof(f->rt));
	f->A = pmlt_probe_alignment();
	pmlt_path(f->path, sizeof(f->path), "mp");
	pmlt_make_file(f->path, MP_PAGES * f->A, MP_FILE_SEED);
	pmlt_thread_fail_reset();
	*state = f;
	return 0;
}

int
mp_teardown(void **state)
{
	struct mp_fix *f = *state;

	/* helpers first: a call of ours may wait for one of them */
	mp_kill_all();
	if (f->async.started)
		(void)pmlt_async_finish(&f->async, "a call of the test process "
				"(in teardown)");
	for (unsigned i = 0; i < 8; i++)
		if (f->mine[i])
			(void)pml_lease_put(f->mine[i]);
	if (f->r && pml_region_close(&f->r))
		fprintf(stderr, "teardown: close: %s\n", pml_errormsg());
	unlink(f->path);
	mp_rmtree(f->rt);
	unsetenv("PMEMLEASE_RUNTIME_DIR");
	free(f);
	mp_watchdog(0, NULL);
	return 0;
}

void
mp_open_here(struct mp_fix *f)
{
	f->r = pmlt_open(f->path, 64 * f->A, 0);
}

void
mp_spawn_open(struct mp_fix *f, struct mp_proc *p, const char *name)
{
	mp_spawn(p, name, NULL);
	mp_ok(p, "open %s %" PRIu64, f->path, 64 * f->A);
}

uint64_t
mp_alloc(struct mp_fix *f, uint64_t off, uint64_t len)
{
	return pmlt_fiemap_bytes(f->path, off, len);
}

uint64_t
mp_quarantined(struct mp_fix *f)
{
	uint64_t q = UINT64_MAX;

	PMLT_OK(pml_region_quarantined(&q, f->r));
	return q;
}

int
mp_run(const char *name, const struct CMUnitTest *tests, size_t n)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);	/* a dead helper is an error, not death */
	printf("%s: test files in %s\n", name, pmlt_dir());
	int failed = _cmocka_run_group_tests(name, tests, n, NULL, NULL);

	mp_kill_all();
	return failed;
}
