/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * common.h -- shared helpers of the pmemlease unit and concurrency tests.
 *
 * cmocka's assertions longjmp to the test's frame, so they may only be used
 * on the thread running the test.  Helper threads report problems with
 * pmlt_thread_fail() and the test thread turns them into a failure with
 * PMLT_CHECK_THREADS().
 */
#ifndef PMLT_COMMON_H
#define PMLT_COMMON_H 1

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include <cmocka.h>

#include "pmemlease.h"

#if defined(__SANITIZE_THREAD__)
#define PMLT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PMLT_TSAN 1
#endif
#endif
#ifndef PMLT_TSAN
#define PMLT_TSAN 0
#endif

/* ------------------------------------------------------------ basics */

const char *pmlt_errname(int rc);
uint64_t pmlt_now_ns(void);
void pmlt_sleep_ms(unsigned ms);
/* PML_TEST_SCALE (default 1) times n, at least 1 */
uint64_t pmlt_scaled(uint64_t n);
/* how long a "must happen" wait may take before we call it a deadlock */
unsigned pmlt_deadline_ms(void);
/*
 * A pause that gives a wrongly-released operation the chance to finish,
 * before checking that it did not.  Longer pauses only find more bugs; none
 * can make a correct library fail.
 */
void pmlt_settle(void);

/* print, then leave at once: used when threads are stuck for good */
void pmlt_die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
		noreturn));

/* called by pmlt_die() before leaving, to print what led there */
extern void (*pmlt_die_hook)(void);

/* SIGALRM-based last resort against hangs; 0 disarms */
void pmlt_watchdog(unsigned seconds, const char *what);

/* a global, monotonically increasing counter to check orderings */
uint64_t pmlt_seq_next(void);

/* ----------------------------------------------------- checked calls */

#define PMLT_RC(expected, call) do { \
	int rc_ = (call); \
	int exp_ = (expected); \
	if (rc_ != exp_) \
		fail_msg("%s:%d: %s returned %d (%s), expected %d (%s); " \
			"pml_errormsg: \"%s\"", __FILE__, __LINE__, #call, \
			rc_, pmlt_errname(rc_), exp_, pmlt_errname(exp_), \
			pml_errormsg()); \
} while (0)

#define PMLT_OK(call) PMLT_RC(0, call)

/*
 * A call that must fail with one of the listed errnos (negative) and leave a
 * message behind.  Used where the header names no errno.
 */
#define PMLT_FAILS(call, ...) do { \
	int rc_ = (call); \
	const int ok_[] = { __VA_ARGS__ }; \
	pmlt_check_fails(rc_, ok_, sizeof(ok_) / sizeof(ok_[0]), #call, \
			__FILE__, __LINE__); \
} while (0)

void pmlt_check_fails(int rc, const int *ok, size_t nok, const char *what,
		const char *file, int line);

/* does the message mention the number (as decimal, hex, or KiB/MiB) */
bool pmlt_msg_mentions(const char *msg, uint64_t value);

/* --------------------------------------------- helper-thread failures */

void pmlt_thread_fail(const char *fmt, ...) __attribute__((format(printf, 1,
		2)));
/* the first message recorded since the last reset, or NULL */
const char *pmlt_thread_failure(void);
void pmlt_thread_fail_reset(void);

#define PMLT_CHECK_THREADS() do { \
	const char *m_ = pmlt_thread_failure(); \
	if (m_) \
		fail_msg("%s:%d: helper thread: %s", __FILE__, __LINE__, m_); \
} while (0)

/* -------------------------------------------------------------- events */

/*
 * One process-wide condition variable: anything that changes state another
 * thread may wait for (a callback, an async call finishing) broadcasts it.
 */
void pmlt_event(void);
/* wait until pred(arg); pmlt_die() naming what if the deadline passes */
void pmlt_wait_for(bool (*pred)(void *), void *arg, const char *what);
void pmlt_wait_atomic_ge(atomic_int *v, int value, const char *what);

/* --------------------------------------------------------- async calls */

struct pmlt_async {
	pthread_t thread;
	int (*fn)(void *arg);
	void *arg;
	int rc;
	atomic_int done;
	atomic_uint_fast64_t done_seq;	/* pmlt_seq_next() when fn returned */
	uint64_t done_ns;
	bool started;
};

void pmlt_async_start(struct pmlt_async *a, int (*fn)(void *), void *arg);
bool pmlt_async_is_done(struct pmlt_async *a);
/* wait (bounded) for fn to return, join, give its rc */
int pmlt_async_finish(struct pmlt_async *a, const char *what);

/* --------------------------------------------------------------- files */

/* the directory the test program works in (created on first use) */
const char *pmlt_dir(void);
/* pmlt_dir()/name, in a static buffer per call site's choice */
void pmlt_path(char *buf, size_t n, const char *name);
/* fail (cmocka) if the directory cannot punch holes or report FIEMAP */
void pmlt_require_fs(void);

/* the byte the pattern "seed" has at offset off */
static inline uint8_t
pmlt_pattern(unsigned seed, uint64_t off)
{
	uint64_t x = (off + 1) * 0x9E3779B97F4A7C15ULL + seed * 0xBF58476D1CE4E5B9ULL;
	x ^= x >> 29;
	uint8_t b = (uint8_t)(x ^ (x >> 17));
	return b ? b : 0x5a;	/* never 0, so "reads zero" can't pass by luck */
}
void pmlt_fill_pattern(void *buf, uint64_t off, size_t len, unsigned seed);
/* first offset in [0, len) where buf differs from the pattern, or -1 */
int64_t pmlt_check_pattern(const void *buf, uint64_t off, size_t len,
		unsigned seed);
/* first offset in [0, len) that is not zero, or -1 */
int64_t pmlt_find_nonzero(const void *buf, size_t len);

/* a file of size bytes of pattern seed, written and fsync'ed: allocated */
void pmlt_make_file(const char *path, uint64_t size, unsigned seed);
/* a sparse file of size bytes */
void pmlt_make_sparse(const char *path, uint64_t size);
uint64_t pmlt_file_size(const char *path);
/* st_blocks in bytes (st_blocks * 512) */
uint64_t pmlt_file_alloc_bytes(const char *path);
/* bytes of [off, off + len) that FIEMAP (after a sync) reports allocated */
uint64_t pmlt_fiemap_bytes(const char *path, uint64_t off, uint64_t len);
/* pread exactly len bytes (short files give zeroes past their end) */
void pmlt_read_file(const char *path, uint64_t off, void *buf, size_t len);
/*
 * the file holds, in [from, to), pattern seed as written shift bytes further
 * on (a collapse moves data back by shift) -- or zeroes; else the test fails
 */
void pmlt_file_pattern(const char *path, uint64_t from, uint64_t to,
		unsigned seed, uint64_t shift);
void pmlt_file_zeroes(const char *path, uint64_t from, uint64_t to);

/* a snapshot of a file: size, st_blocks, FIEMAP bytes, content */
struct pmlt_snap {
	uint64_t size;
	uint64_t alloc;
	uint64_t fiemap;
	uint8_t *data;
};
void pmlt_snap_take(struct pmlt_snap *s, const char *path);
/* fail unless the file is as in the snapshot */
void pmlt_snap_same(const struct pmlt_snap *s, const char *path,
		const char *when);
void pmlt_snap_free(struct pmlt_snap *s);

/* ------------------------------------------------------------ regions */

struct pml_region *pmlt_open(const char *path, uint64_t max_size,
		unsigned flags);
void pmlt_close(struct pml_region **r);
uint64_t pmlt_alignment(const struct pml_region *r);
/* the alignment of a region on a plain file in pmlt_dir() */
uint64_t pmlt_probe_alignment(void);

/* ------------------------------------------------ lease with callbacks */

/*
 * A lease with an on_break that counts what it is told, remembers on which
 * thread, and optionally puts the lease from inside the callback.
 */
struct pmlt_holder {
	struct pml_lease *lease;
	atomic_int n_layout;
	atomic_int n_revoked;
	atomic_int n_other;
	atomic_int n_cb_puts;		/* puts done from the callback */
	pthread_t cb_thread;		/* written before the counters */
	bool put_on_layout;
	bool put_on_revoke;
	/* optional extra work in the callback (runs before the put) */
	void (*extra)(struct pmlt_holder *h, enum pml_break_reason why);
	void *extra_arg;
	atomic_int extra_rc;
	int id;
};

extern const struct pml_lease_ops pmlt_holder_ops;

void pmlt_holder_init(struct pmlt_holder *h, int id);
/* pml_lease_acquire with the holder as callback argument */
int pmlt_hold(struct pmlt_holder *h, struct pml_region *r, uint64_t off,
		uint64_t len, unsigned flags);

/*
 * the leases process pid holds on the file at path, by a snapshot (the
 * inspection API); with flags PML_LEASE_REF only the REF leases
 */
unsigned pmlt_leases_of(const char *path, pid_t pid, unsigned flags);
/* wait (up to ms) until pid holds a lease on path; fails the test if not */
void pmlt_wait_leases(const char *path, pid_t pid, unsigned ms);

/* ------------------------------------------------------------ commands */

/* a program run by a test: its output (stdout and stderr) collected */
struct pmlt_cmd {
	pid_t pid;
	int fd;			/* its output, until reaped */
	char out[8192];
};

/* start argv (searched in PATH) with env (VAR=value..., NULL-ended) added */
void pmlt_cmd_start(struct pmlt_cmd *c, const char *const *argv,
		const char *const *env);
/* is it still running after ms?  (reaps it if not) */
bool pmlt_cmd_running_after(struct pmlt_cmd *c, unsigned ms);
/* wait for it (failing the test after max_ms), print what it said; its
 * exit status, or 128 + the signal */
int pmlt_cmd_finish(struct pmlt_cmd *c, const char *what, unsigned max_ms);

/* ------------------------------------------------------------------ rng */

struct pmlt_rng {
	uint64_t s;
};

static inline uint64_t
pmlt_rand(struct pmlt_rng *r)
{
	uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* uniform in [0, n) (n > 0) */
static inline uint64_t
pmlt_below(struct pmlt_rng *r, uint64_t n)
{
	return pmlt_rand(r) % n;
}

/* PML_TEST_SEED if set, else a fresh seed; printed either way */
uint64_t pmlt_seed(const char *prog);

/* run the group with the watchdog and the fs check around it */
int pmlt_run(const char *name, const struct CMUnitTest *tests, size_t n);
#define PMLT_RUN(name, tests) \
	pmlt_run(name, tests, sizeof(tests) / sizeof((tests)[0]))

#endif /* PMLT_COMMON_H */
