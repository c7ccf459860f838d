/* SPDX-License-Identifier: BSD-3-Clause */
/* cli_harness.c -- see cli_harness.h */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_harness.h"

extern char **environ;

#define RUN_LIMIT_MS 60000
#define READY_LIMIT_MS 30000
#define MAX_ARGS 32

const char *h_bin;
const char *h_holder_bin;
const char *h_argv0 = "pmemlease";
char h_dir[4096];
unsigned h_failed;

bool
h_check(bool ok, const char *file, int line, const char *expr,
	const char *fmt, ...)
{
	if (ok)
		return true;
	va_list ap;
	h_failed++;
	fprintf(stderr, "FAIL %s:%d: %s: ", file, line, expr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return false;
}

double
h_mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

const char *
h_fmt(const char *fmt, ...)
{
	static char ring[16][4200];
	static unsigned next;
	char *b = ring[next++ % 16];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b, sizeof(ring[0]), fmt, ap);
	va_end(ap);
	return b;
}

bool
h_has(const char *s, const char *needle)
{
	return s != NULL && strstr(s, needle) != NULL;
}

/* argv from a va_list: the command's name first */
static void
collect(char **argv, const char *first, va_list ap)
{
	unsigned n = 0;
	argv[n++] = (char *)h_argv0;
	for (const char *a = first; a != NULL && n < MAX_ARGS - 1;
	     a = va_arg(ap, const char *))
		argv[n++] = (char *)a;
	argv[n] = NULL;
}

static pid_t
spawn(const char *bin, char **argv, int *in, int *out, int *err)
{
	int pi[2] = { -1, -1 }, po[2] = { -1, -1 }, pe[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	pid_t pid = -1;

	if ((in && pipe2(pi, O_CLOEXEC)) || pipe2(po, O_CLOEXEC) ||
	    (err && pipe2(pe, O_CLOEXEC))) {
		perror("pipe2");
		exit(3);
	}
	posix_spawn_file_actions_init(&fa);
	if (in)
		posix_spawn_file_actions_adddup2(&fa, pi[0], 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	if (err)
		posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	int e = posix_spawn(&pid, bin, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (e != 0) {
		fprintf(stderr, "posix_spawn %s: %s\n", bin, strerror(e));
		exit(3);
	}
	if (in) {
		close(pi[0]);
		*in = pi[1];
	}
	close(po[1]);
	*out = po[0];
	if (err) {
		close(pe[1]);
		*err = pe[0];
	}
	return pid;
}

struct buf {
	char *p;
	size_t len, cap;
};

static bool
drain(int fd, struct buf *b)
{
	if (b->len + 4096 + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 8192;
		while (cap < b->len + 4096 + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (b->p == NULL)
			exit(3);
		b->cap = cap;
		b->p[b->len] = '\0';
	}
	ssize_t k = read(fd, b->p + b->len, 4096);
	if (k <= 0)
		return false;
	b->len += (size_t)k;
	b->p[b->len] = '\0';
	return true;
}

struct run *
h_run(const char *arg, ...)
{
	char *argv[MAX_ARGS];
	va_list ap;
	va_start(ap, arg);
	collect(argv, arg, ap);
	va_end(ap);

	struct run *r = calloc(1, sizeof(*r));
	struct buf out = { 0 }, err = { 0 };
	int fo, fe;
	double t0 = h_mono_ms();
	pid_t pid = spawn(h_bin, argv, NULL, &fo, &fe);
	bool open_o = true, open_e = true;

	drain(-1, &out);	/* allocates: never NULL below */
	drain(-1, &err);
	while ((open_o || open_e) && h_mono_ms() - t0 < RUN_LIMIT_MS) {
		struct pollfd p[2] = { { .fd = open_o ? fo : -1, .events = POLLIN },
				       { .fd = open_e ? fe : -1, .events = POLLIN } };
		if (poll(p, 2, 100) <= 0)
			continue;
		if (p[0].revents && !drain(fo, &out))
			open_o = false;
		if (p[1].revents && !drain(fe, &err))
			open_e = false;
	}
	close(fo);
	close(fe);
	int st;
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			break;
		if (h_mono_ms() - t0 > RUN_LIMIT_MS) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			break;
		}
		usleep(2000);
	}
	r->ms = h_mono_ms() - t0;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	r->out = out.p;
	r->err = err.p;
	/* the transcript, for whoever reads a failed test's log */
	fprintf(stderr, "$");
	for (unsigned i = 0; argv[i]; i++)
		fprintf(stderr, " %s", argv[i]);
	fprintf(stderr, "    -> exit %d in %.0f ms\n%s%s%s", r->status, r->ms,
		r->out, *r->err ? "[stderr]\n" : "", r->err);
	return r;
}

void
h_run_free(struct run *r)
{
	if (r == NULL)
		return;
	free(r->out);
	free(r->err);
	free(r);
}

struct json_object *
h_json(const struct run *r)
{
	enum json_tokener_error e;
	struct json_object *o = json_tokener_parse_verbose(r->out, &e);
	CHECK(o != NULL, "stdout does not parse as JSON: %s",
	      json_tokener_error_desc(e));
	return o;
}

/* --------------------------------------------------------------- holders */

static bool
holder_read(struct holder *h, unsigned ms)
{
	struct pollfd p = { .fd = h->from, .events = POLLIN };
	if (poll(&p, 1, (int)ms) <= 0)
		return false;
	if (h->used + 1 >= sizeof(h->buf))
		h->used = 0;	/* never in these tests: they say little */
	ssize_t k = read(h->from, h->buf + h->used, sizeof(h->buf) - 1 - h->used);
	if (k <= 0)
		return false;
	h->used += (size_t)k;
	h->buf[h->used] = '\0';
	return true;
}

bool
h_holder_wait(struct holder *h, const char *prefix, unsigned ms,
	      char *line, size_t n)
{
	double end = h_mono_ms() + ms;
	for (;;) {
		/* lines are kept: a later wait may look for an earlier line */
		size_t plen = strlen(prefix);
		for (char *l = h->buf; l && *l;) {
			char *nl = strchr(l, '\n');
			if (nl == NULL)
				break;
			if (strncmp(l, prefix, plen) == 0) {
				if (line != NULL)
					snprintf(line, n, "%.*s", (int)(nl - l), l);
				return true;
			}
			l = nl + 1;
		}
		double left = end - h_mono_ms();
		if (left <= 0)
			return false;
		holder_read(h, (unsigned)(left > 100 ? 100 : left) + 1);
	}
}

struct holder *
h_holder(const char *arg, ...)
{
	char *argv[MAX_ARGS];
	unsigned n = 0;
	va_list ap;
	argv[n++] = "pmemlease";
	argv[n++] = "_hold";
	va_start(ap, arg);
	for (const char *a = arg; a != NULL && n < MAX_ARGS - 1;
	     a = va_arg(ap, const char *))
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;

	struct holder *h = calloc(1, sizeof(*h));
	h->pid = spawn(h_holder_bin ? h_holder_bin : h_bin, argv, &h->to,
		       &h->from, NULL);
	char line[128];
	if (!CHECK(h_holder_wait(h, "ready ", READY_LIMIT_MS, line, sizeof(line)),
		   "holder pid %d did not say ready: %s", (int)h->pid, h->buf)) {
		h_holder_stop(h);
		return NULL;
	}
	int pid;
	long tid;
	sscanf(line, "ready %d %ld", &pid, &tid);
	h->tid = (pid_t)tid;
	h->t_ready = h_mono_ms();
	CHECK(pid == h->pid, "ready names pid %d, spawned %d", pid, (int)h->pid);
	return h;
}

void
h_holder_say(struct holder *h, const char *cmd)
{
	if (h->to >= 0 && (write(h->to, cmd, strlen(cmd)) < 0 ||
			   write(h->to, "\n", 1) < 0))
		fprintf(stderr, "write to holder %d: %s\n", (int)h->pid,
			strerror(errno));
}

int
h_holder_stop(struct holder *h)
{
	if (h == NULL)
		return -1;
	h_holder_say(h, "quit");
	close(h->to);
	h->to = -1;
	double end = h_mono_ms() + READY_LIMIT_MS;
	int st, rc = -1;
	for (;;) {
		holder_read(h, 10);
		pid_t w = waitpid(h->pid, &st, WNOHANG);
		if (w == h->pid) {
			rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
			break;
		}
		if (h_mono_ms() > end) {
			kill(h->pid, SIGKILL);
			waitpid(h->pid, &st, 0);
			break;
		}
	}
	while (holder_read(h, 0))
		;
	close(h->from);
	fprintf(stderr, "holder %d said:\n%s(exit %d)\n", (int)h->pid, h->buf, rc);
	free(h);
	return rc;
}

/* ----------------------------------------------------------------- files */

const char *
h_file(const char *name, uint64_t size, int fill)
{
	const char *path = h_fmt("%s/%s", h_dir, name);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror(path);
		exit(3);
	}
	char buf[65536];
	memset(buf, fill, sizeof(buf));
	for (uint64_t off = 0; off < size;) {
		size_t n = size - off < sizeof(buf) ? (size_t)(size - off) : sizeof(buf);
		if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n) {
			perror("pwrite");
			exit(3);
		}
		off += n;
	}
	if (ftruncate(fd, (off_t)size) != 0) {
		perror("ftruncate");
		exit(3);
	}
	close(fd);
	return path;
}

bool
h_bytes_are(const char *path, uint64_t off, uint64_t len, int c)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned char buf[4096];
	bool ok = fd >= 0;
	while (ok && len > 0) {
		size_t n = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		ok = pread(fd, buf, n, (off_t)off) == (ssize_t)n;
		for (size_t i = 0; ok && i < n; i++)
			ok = buf[i] == (unsigned char)c;
		off += n;
		len -= n;
	}
	if (fd >= 0)
		close(fd);
	return ok;
}

uint64_t
h_file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
}

/* ------------------------------------------------------------ JSON */

struct json_object *
h_jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

int64_t
h_jint(struct json_object *o, const char *key)
{
	struct json_object *v = h_jget(o, key);
	return v != NULL ? json_object_get_int64(v) : INT64_MIN;
}

const char *
h_jstr(struct json_object *o, const char *key)
{
	struct json_object *v = h_jget(o, key);
	return v != NULL && json_object_is_type(v, json_type_string) ?
		json_object_get_string(v) : "(missing)";
}

size_t
h_jlen(struct json_object *arr)
{
	return arr != NULL && json_object_is_type(arr, json_type_array) ?
		json_object_array_length(arr) : 0;
}

struct json_object *
h_jidx(struct json_object *arr, size_t i)
{
	return i < h_jlen(arr) ? json_object_array_get_idx(arr, i) : NULL;
}

struct json_object *
h_jproc(struct json_object *file, pid_t pid)
{
	struct json_object *procs = h_jget(file, "processes");
	for (size_t i = 0; i < h_jlen(procs); i++)
		if (h_jint(h_jidx(procs, i), "pid") == pid)
			return h_jidx(procs, i);
	return NULL;
}

struct json_object *
h_jlease(struct json_object *proc, uint64_t offset)
{
	struct json_object *ls = h_jget(proc, "leases");
	for (size_t i = 0; i < h_jlen(ls); i++)
		if (h_jint(h_jidx(ls, i), "offset") == (int64_t)offset)
			return h_jidx(ls, i);
	return NULL;
}
