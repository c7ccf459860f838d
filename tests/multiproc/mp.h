/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mp.h -- the harness of the multi-process tests: helper processes (the
 * exec'd program holder.c, driven through pipes), a private runtime
 * directory per test, bounded waits everywhere and a watchdog that kills
 * every helper before it fails the test.
 *
 * Every wait here is bounded: a library bug makes a test fail with a
 * message naming what it waited for, never hang.  Bounds are multiplied
 * by mp_slow() under the sanitizers; timings are printed, and asserted
 * only where the issue names a bound ("within about a second"), then
 * with a generous margin.
 */
#ifndef MP_H
#define MP_H 1

#include "common.h"
#include "mpproto.h"

#include <signal.h>
#include <sys/types.h>

#define MP_MAX_EVENTS 256

struct mp_proc {
	char name[32];
	pid_t pid;
	int to_fd;		/* its stdin */
	int from_fd;		/* its stdout */
	char buf[16384];
	size_t blen;
	char *events[MP_MAX_EVENTS];
	unsigned nev;
	char reply[MP_LINE_MAX];	/* the last reply, after its RC */
	bool running;
	int status;		/* waitpid status once reaped */
};

struct mp_spawn_opts {
	bool setuid;		/* drop to uid/gid before exec (as root) */
	uid_t uid;
	gid_t gid;
	/* a program to run the helper under, NULL-terminated (perf, strace) */
	const char *const *wrapper;
};

/* the factor bounds grow by under the sanitizers (1, 3 or 6) */
unsigned mp_slow(void);

/* how long mp_cmd waits for a reply (times mp_slow()); default 20 s */
extern unsigned mp_cmd_timeout_ms;

/* start the helper program; fails the test if it cannot */
void mp_spawn(struct mp_proc *p, const char *name,
		const struct mp_spawn_opts *o);
/* send a command, wait (bounded) for its reply: its RC; rest in p->reply */
int mp_cmd(struct mp_proc *p, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));
/* mp_cmd that must return 0 */
void mp_ok(struct mp_proc *p, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));
/*
 * the next event starting with prefix (taken off the queue), waiting up to
 * ms; mp_event fails the test on timeout, mp_event_try returns NULL.  The
 * string stays valid until the next call on p.
 */
const char *mp_event(struct mp_proc *p, const char *prefix, unsigned ms);
const char *mp_event_try(struct mp_proc *p, const char *prefix, unsigned ms);
/* kill -9 and reap */
void mp_kill9(struct mp_proc *p);
/* "exit", then it must exit with status 0 (sanitizer reports fail it) */
void mp_exit(struct mp_proc *p);
/* has it died on its own?  (reaps it if so) */
bool mp_dead(struct mp_proc *p);
/* SIGKILL and reap every helper still running (teardown, watchdog) */
void mp_kill_all(void);

/*
 * A fresh private runtime directory (mkdtemp), exported in
 * PMEMLEASE_RUNTIME_DIR for this process and the helpers it starts.
 */
void mp_runtime_fresh(char *buf, size_t n);
/* rm -rf */
void mp_rmtree(const char *path);
/* the state file the library keeps for the data file at path */
void mp_state_path(char *buf, size_t n, const char *runtime_dir,
		const char *data_path);

/* the watchdog: kills every helper and leaves with status 3 */
void mp_watchdog(unsigned seconds, const char *what);

/*
 * The usual fixture: a fresh runtime directory, a data file of MP_PAGES
 * blocks of the region's alignment filled with pattern MP_FILE_SEED
 * (written and fsync'ed: every block allocated), helpers b, c, d, and
 * this process's region r when a test opens one (mp_open_here).
 */
#define MP_PAGES 16
#define MP_FILE_SEED 3

struct mp_fix {
	char rt[4096];
	char path[4200];
	uint64_t A;			/* the region's alignment */
	struct pml_region *r;
	struct mp_proc b, c, d;
	struct pml_lease *mine[8];	/* leases of ours put in teardown */
	struct pmlt_async async;	/* one call of ours in a thread */
	const void *arg;		/* a test's initial state */
};

/* *state may hold a test's initial state on entry: it goes to f->arg */
int mp_setup(void **state);
int mp_teardown(void **state);
/* open the data file here too (max_size 64 blocks) */
void mp_open_here(struct mp_fix *f);
/* a helper with the data file open (max_size 64 blocks) */
void mp_spawn_open(struct mp_fix *f, struct mp_proc *p, const char *name);
/* FIEMAP-allocated bytes of [off, off + len) of the data file */
uint64_t mp_alloc(struct mp_fix *f, uint64_t off, uint64_t len);
/* bytes quarantined, as this process's region says */
uint64_t mp_quarantined(struct mp_fix *f);

/* run a group: a watchdog around it, output line-buffered */
int mp_run(const char *name, const struct CMUnitTest *tests, size_t n);
#define MP_RUN(name, tests) \
	mp_run(name, tests, sizeof(tests) / sizeof((tests)[0]))

/* poll pred every 5 ms for up to ms; the time it took, or -1 */
long mp_poll_ms(bool (*pred)(void *), void *arg, unsigned ms);

/*
 * "Wait as long as it takes", bounded: PML_ON_TIMEOUT_FAIL after MP_LONG
 * ms, so that a barrier that never ends fails the test with -ETIMEDOUT
 * instead of hanging it: mp_long() as options, MP_LONG_OPTS as a pointer
 * to them, MP_LONG as the number for the helpers' "... %u fail".
 */
#define MP_LONG_MS 20000
#define MP_LONG (MP_LONG_MS * mp_slow())
struct pml_barrier_opts mp_long(void);
#define MP_LONG_OPTS \
	(&(struct pml_barrier_opts){ MP_LONG, PML_ON_TIMEOUT_FAIL })

/* the first field of an event or reply after skipping n fields */
long long mp_field(const char *s, unsigned n);

#endif
