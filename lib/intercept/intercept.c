/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * intercept.c -- the C library's truncate, ftruncate, fallocate and
 * posix_fallocate, sent through the barrier when the file has lease state.
 * What it promises and what it cannot catch: pmemlease_intercept.h.
 *
 * Every call pays for one lookup (pml_file_has_state) and nothing else
 * when the file has no lease state.  Otherwise the call is made by the
 * library, on a region opened on the file at its first such call and kept
 * open until exit (the header says why it is never closed).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pmemlease.h"
#include "pmemlease_intercept.h"

#define PUBLIC __attribute__((visibility("default")))
#define DEFAULT_TIMEOUT_MS 10000

/*
 * Calls made while this thread is already inside the intercept -- the
 * library's own system calls go around libc, but the region open below
 * may meet libc's functions -- pass straight through.
 */
static __thread int inside;

static struct {
	int (*truncate)(const char *, off_t);
	int (*ftruncate)(int, off_t);
	int (*fallocate)(int, int, off_t, off_t);
	int (*posix_fallocate)(int, off_t, off_t);
} real;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;

static void
real_resolve(void)
{
	real.truncate = (int (*)(const char *, off_t))dlsym(RTLD_NEXT,
			"truncate");
	real.ftruncate = (int (*)(int, off_t))dlsym(RTLD_NEXT, "ftruncate");
	real.fallocate = (int (*)(int, int, off_t, off_t))dlsym(RTLD_NEXT,
			"fallocate");
	real.posix_fallocate = (int (*)(int, off_t, off_t))dlsym(RTLD_NEXT,
			"posix_fallocate");
}

static _Atomic unsigned long calls_seen, calls_barrier;

/* ---------------------------------------------------------------- policy */

static struct {
	int bad;			/* the environment could not be read */
	char why[160];
	struct pml_barrier_opts opts;
	int verbose;
} policy;
static pthread_once_t policy_once = PTHREAD_ONCE_INIT;

static void
policy_read(void)
{
	const char *p = getenv("PMEMLEASE_INTERCEPT_POLICY");
	const char *t = getenv("PMEMLEASE_INTERCEPT_TIMEOUT_MS");
	const char *v = getenv("PMEMLEASE_INTERCEPT_VERBOSE");
	unsigned long ms = DEFAULT_TIMEOUT_MS;

	policy.verbose = v && *v && strcmp(v, "0") != 0;
	if (t && *t) {
		char *end;

		errno = 0;
		ms = strtoul(t, &end, 10);
		if (errno || *end || ms == 0 || ms > UINT32_MAX) {
			policy.bad = 1;
			snprintf(policy.why, sizeof(policy.why),
				"PMEMLEASE_INTERCEPT_TIMEOUT_MS='%.40s' is not "
				"a number of milliseconds from 1 to %u", t,
				UINT32_MAX);
			return;
		}
	}
	if (!p || !*p || strcmp(p, "wait") == 0) {
		policy.opts.timeout_ms = 0;	/* as long as it takes */
	} else if (strcmp(p, "fail") == 0) {
		policy.opts.timeout_ms = (uint32_t)ms;
		policy.opts.on_timeout = PML_ON_TIMEOUT_FAIL;
	} else if (strcmp(p, "revoke") == 0) {
		policy.opts.timeout_ms = (uint32_t)ms;
		policy.opts.on_timeout = PML_ON_TIMEOUT_REVOKE;
	} else {
		policy.bad = 1;
		snprintf(policy.why, sizeof(policy.why),
			"PMEMLEASE_INTERCEPT_POLICY='%.40s' is not wait, fail "
			"or revoke", p);
	}
}

static void
say(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n = snprintf(line, sizeof(line), "pmemlease-intercept[%d]: ",
			(int)getpid());

	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	if (n < (int)sizeof(line) - 1)
		line[n++] = '\n';
	/* one write: lines of several processes do not interleave */
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);

	(void) w;
}

/* --------------------------------------------------------------- regions */

/*
 * One region per file, by device and inode, opened at the file's first
 * call and never closed; a child after fork() starts a table of its own
 * (its parent's regions answer it -ECHILD).
 */
struct open_file {
	dev_t dev;
	ino_t ino;
	struct pml_region *region;
	struct open_file *next;
};

static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;
static struct open_file *files;
static pid_t files_pid;

static int
region_of(struct pml_region **region, const struct stat *st,
		const char *path)
{
	int ret = 0;

	pthread_mutex_lock(&files_lock);
	if (files_pid != getpid()) {
		files = NULL;	/* the parent's: leaked on purpose */
		files_pid = getpid();
	}

	struct open_file *f = files;

	while (f && (f->dev != st->st_dev || f->ino != st->st_ino))
		f = f->next;
	if (!f) {
		struct pml_region_opts o = { .flags = PML_REGION_PARTIAL_TAIL };
		struct pml_region *r = NULL;

		ret = pml_region_open(&r, path, &o);
		if (!ret && !(f = malloc(sizeof(*f)))) {
			/* closing it would drop the caller's record locks */
			ret = -ENOMEM;
		} else if (!ret) {
			*f = (struct open_file){ st->st_dev, st->st_ino, r,
				files };
			files = f;
		}
	}
	if (f)
		*region = f->region;
	pthread_mutex_unlock(&files_lock);
	return ret;
}

/* ------------------------------------------------------------- the calls */

enum call_kind { CALL_TRUNCATE, CALL_FALLOCATE };

struct call {
	enum call_kind kind;
	const char *name;
	int mode;
	uint64_t offset;	/* the size, for a truncate */
	uint64_t length;
};

/*
 * through_barrier -- make the call on the file's region.  Returns 0, or
 * a positive errno for the caller to report as the real call would.
 */
static int
through_barrier(const struct call *c, const struct stat *st,
		const char *path, const char *shown)
{
	pthread_once(&policy_once, policy_read);
	if (policy.bad) {
		say("%s(%s) refused: %s", c->name, shown, policy.why);
		return EINVAL;
	}

	struct pml_region *r = NULL;
	int ret = region_of(&r, st, path);

	if (!ret && c->kind == CALL_TRUNCATE)
		ret = pml_region_ftruncate(r, c->offset, &policy.opts);
	else if (!ret)
		ret = pml_region_fallocate(r, c->mode, c->offset, c->length,
				&policy.opts);
	atomic_fetch_add(&calls_barrier, 1);
	if (ret) {
		say("%s(%s) refused: %s", c->name, shown, pml_errormsg());
		return -ret;
	}
	if (policy.verbose)
		say("%s(%s, %" PRIu64 ", %" PRIu64 ") went through the lease "
			"barrier", c->name, shown, c->offset, c->length);
	return 0;
}

/*
 * intercepted -- 1 if the call was made here (*err: 0 or an errno), 0 if
 * the caller should make the real call.  fd < 0: by path.
 */
static int
intercepted(const struct call *c, int fd, const char *path, int *err)
{
	struct stat st;

	atomic_fetch_add(&calls_seen, 1);
	if (inside)
		return 0;
	if (fd >= 0 ? fstat(fd, &st) : stat(path, &st))
		return 0;	/* the real call reports it */
	if (!S_ISREG(st.st_mode) || pml_file_has_state(st.st_dev,
			st.st_ino) <= 0)
		return 0;

	char proc[64], shown[512];

	if (fd >= 0) {
		/* the file the descriptor has open, even if renamed */
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(proc, shown, sizeof(shown) - 1);

		shown[n > 0 ? n : 0] = 0;
		if (n <= 0)
			snprintf(shown, sizeof(shown), "fd %d", fd);
		path = proc;
	} else {
		snprintf(shown, sizeof(shown), "%s", path);
	}
	inside = 1;
	*err = through_barrier(c, &st, path, shown);
	inside = 0;
	return 1;
}

static int
errno_result(int err)
{
	if (!err)
		return 0;
	errno = err;
	return -1;
}

PUBLIC int
ftruncate(int fd, off_t length)
{
	struct call c = { CALL_TRUNCATE, "ftruncate", 0, (uint64_t)length, 0 };
	int err;

	pthread_once(&real_once, real_resolve);
	if (length < 0 || !intercepted(&c, fd, NULL, &err))
		return real.ftruncate(fd, length);
	return errno_result(err);
}

PUBLIC int
truncate(const char *path, off_t length)
{
	struct call c = { CALL_TRUNCATE, "truncate", 0, (uint64_t)length, 0 };
	int err;

	pthread_once(&real_once, real_resolve);
	if (length < 0 || !intercepted(&c, -1, path, &err))
		return real.truncate(path, length);
	return errno_result(err);
}

PUBLIC int
fallocate(int fd, int mode, off_t offset, off_t length)
{
	struct call c = { CALL_FALLOCATE, "fallocate", mode,
		(uint64_t)offset, (uint64_t)length };
	int err;

	pthread_once(&real_once, real_resolve);
	/* what the kernel refuses anyway is its to refuse */
	if (offset < 0 || length <= 0 || !intercepted(&c, fd, NULL, &err))
		return real.fallocate(fd, mode, offset, length);
	return errno_result(err);
}

PUBLIC int
posix_fallocate(int fd, off_t offset, off_t length)
{
	struct call c = { CALL_FALLOCATE, "posix_fallocate", 0,
		(uint64_t)offset, (uint64_t)length };
	int err;

	pthread_once(&real_once, real_resolve);
	if (offset < 0 || length <= 0 || !intercepted(&c, fd, NULL, &err))
		return real.posix_fallocate(fd, offset, length);
	/*
	 * A filesystem without fallocate(2): the C library writes zeroes
	 * instead, which moves no block; the region adopts the growth at
	 * its next layout change.
	 */
	if (err == EOPNOTSUPP)
		return real.posix_fallocate(fd, offset, length);
	return err;	/* posix_fallocate returns the error, not -1 */
}

/* off_t is 64 bits wide on the ABIs this builds for: one implementation */
_Static_assert(sizeof(off_t) == 8, "the *64 names need a 64-bit off_t");

PUBLIC int truncate64(const char *path, off_t length)
	__attribute__((alias("truncate")));
PUBLIC int ftruncate64(int fd, off_t length)
	__attribute__((alias("ftruncate")));
PUBLIC int fallocate64(int fd, int mode, off_t offset, off_t length)
	__attribute__((alias("fallocate")));
PUBLIC int posix_fallocate64(int fd, off_t offset, off_t length)
	__attribute__((alias("posix_fallocate")));

PUBLIC int
pml_intercept_calls(unsigned long *seen, unsigned long *barrier)
{
	if (seen)
		*seen = atomic_load(&calls_seen);
	if (barrier)
		*barrier = atomic_load(&calls_barrier);
	return 0;
}
