/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cli_harness.h -- running the pmemlease command and its lease holders from
 * a test, and checking what comes back.
 *
 * Every test runs in a fresh directory with its own PMEMLEASE_RUNTIME_DIR,
 * so tests never see each other's state nor anyone else's.
 */
#ifndef PMEMLEASE_CLI_HARNESS_H
#define PMEMLEASE_CLI_HARNESS_H 1

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <json-c/json.h>

extern const char *h_bin;	/* the binary under test */
extern const char *h_holder_bin;	/* `pmemlease` for holders; NULL: h_bin */
extern const char *h_argv0;	/* argv[0] h_run gives it: "pmemlease" */
extern char h_dir[4096];		/* this test's directory */
extern unsigned h_failed;

/* a check: counts and reports a failure, returns ok */
#define CHECK(ok, ...) h_check((ok), __FILE__, __LINE__, #ok, __VA_ARGS__)
bool h_check(bool ok, const char *file, int line, const char *expr,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ------------------------------------------------------------ the command */

struct run {
	int status;		/* exit status, or -1 if it did not exit */
	char *out;		/* stdout and stderr, NUL-terminated */
	char *err;
	double ms;		/* how long it ran */
};

/* run `h_bin ARGS...` (NULL-terminated), at most 60 s */
struct run *h_run(const char *arg, ...) __attribute__((sentinel));
void h_run_free(struct run *r);
/* its stdout as JSON; NULL (with a failed check) if it does not parse */
struct json_object *h_json(const struct run *r);

/* --------------------------------------------------------------- holders */

struct holder {
	pid_t pid;
	pid_t tid;		/* the thread that acquired the leases */
	int to, from;
	char buf[8192];		/* what it said, unparsed */
	size_t used;
	double t_ready;		/* CLOCK_MONOTONIC ms it said ready */
};

/*
 * Start `pmemlease _hold ARGS...` and wait until it holds its leases.
 * Returns NULL (with a failed check) if it did not say ready in 30 s.
 */
struct holder *h_holder(const char *arg, ...) __attribute__((sentinel));
/* wait up to ms for a line starting with prefix; copies it to line */
bool h_holder_wait(struct holder *h, const char *prefix, unsigned ms,
		char *line, size_t n);
/* send one command line ("release all") */
void h_holder_say(struct holder *h, const char *cmd);
/* quit; returns its exit status (-1: killed after 30 s) */
int h_holder_stop(struct holder *h);

/* ----------------------------------------------------------------- files */

/* a file in h_dir of size bytes, every byte fill; its path (static ring) */
const char *h_file(const char *name, uint64_t size, int fill);
/* 1 if every byte of [off, off + len) of path is c */
bool h_bytes_are(const char *path, uint64_t off, uint64_t len, int c);
uint64_t h_file_size(const char *path);
/* a printf into a static ring of buffers, for arguments */
const char *h_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* does s contain needle */
bool h_has(const char *s, const char *needle);
double h_mono_ms(void);

/* ------------------------------------------------------------ JSON */

struct json_object *h_jget(struct json_object *o, const char *key);
int64_t h_jint(struct json_object *o, const char *key);
const char *h_jstr(struct json_object *o, const char *key);
size_t h_jlen(struct json_object *arr);
struct json_object *h_jidx(struct json_object *arr, size_t i);
/* the process of pid in a file object, or NULL */
struct json_object *h_jproc(struct json_object *file, pid_t pid);
/* the lease at offset in a process object, or NULL */
struct json_object *h_jlease(struct json_object *proc, uint64_t offset);

/* ------------------------------------------------------------ the tests */

#define KiB 1024ULL
#define FILE_SIZE (256 * KiB)	/* the tests' data files */

/* cli_test_list.c */
void test_list_json(void);
void test_list_age(void);
void test_list_pid(void);
void test_list_table(void);
void test_list_stopped(void);
/* cli_test_layout.c */
void test_punch_wait(void);
void test_punch_timeout_fail(void);
void test_punch_timeout_revoke(void);
void test_punch_args(void);
void test_truncate(void);
void test_revoke(void);

#endif
