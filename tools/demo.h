/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * demo.h -- what the pieces of `pmemlease demo` share.
 *
 *   demo.c          the command: set-up, narration, checks, the watchdog
 *   demo_file.c     the file as the demo observes it (FIEMAP, st_blocks,
 *                   what each block reads through a REF lease)
 *   demo_dma.c      the cast: simulated DMA devices and CPU readers in this
 *                   process, and the completion thread that puts their leases
 *   demo_scenes.c   the single-process scenes, 1 to 6
 *   demo_procs.c    the two-process scene: a holder in another process, the
 *                   punch here, and the CLI's view of both while it waits
 *
 * Everything the demo prints about an outcome is measured, and every promise
 * it acts out is checked with expect(); one broken promise makes it exit 1.
 */
#ifndef PMEMLEASE_DEMO_H
#define PMEMLEASE_DEMO_H 1

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <pmemlease.h>

#include "cli.h"

#define NBLOCKS		16	/* the region is shown as this many blocks */
#define GROWN_BLOCKS	32
#define SHRUNK_BLOCKS	8
#define STEP_LIMIT_S	60	/* the watchdog's patience for one step */

/* the punch-and-wait scene; times in ms, chosen so the order is readable */
#define A_CANCEL_MS	60	/* dma-A: two requests, done 60 ms after on_break */
#define R_HOLD_MS	90	/* cpu-R: a REF held 90 ms for a checksum */
#define B_CANCEL_MS	120	/* dma-B: the last to let go */
#define C_CANCEL_MS	40
#define NATURAL_MS	5000	/* an unbroken request completes by itself */
#define FAIL_TIMEOUT_MS	200
#define REVOKE_TIMEOUT_MS 200
/*
 * A punch must proceed right after the last put.  The bound is loose so that
 * sanitizer builds on a busy 2-core machine pass; the measured figure is
 * printed either way.
 */
#define PROCEED_BOUND_MS 500.0

/* ------------------------------------------------- narration (demo.c) */

extern struct timespec t_origin;
extern pthread_mutex_t out_mu;	/* one line at a time, from any thread */
extern bool sys_failed;		/* the machine, not the library, stopped us */

/* milliseconds since the demo started (CLOCK_MONOTONIC) */
double now_ms(void);
/* the same scale for a CLOCK_MONOTONIC time read in another process */
double mono_to_demo_ms(double mono_ms);

/* a narrated line: no time, indented under the current step */
__attribute__((format(printf, 1, 2)))
void say(const char *fmt, ...);
void blank(void);
/* something that happened, in whichever thread, stamped under out_mu */
__attribute__((format(printf, 2, 3)))
void event(const char *who, const char *fmt, ...);
/* a promise of the library against what was observed */
__attribute__((format(printf, 3, 4)))
bool expect(bool ok, const char *promise, const char *observed_fmt, ...);
/* pthread_create, with a failure told and remembered for the exit code */
int start_thread(pthread_t *t, void *(*fn)(void *), void *arg,
		const char *what);
/* the library's own words for the last error of this thread */
const char *libmsg(void);
void step(int n, const char *title);

/* ------------------------------------------------- the demo's state */

extern struct demo_state {
	struct pml_region *region;
	uint64_t blk;			/* one block = the region's alignment */
	int fd;				/* our own: fstat and FIEMAP */
	char path[PATH_MAX];
	bool remove_at_exit;
	char rundir[PATH_MAX];		/* our private PMEMLEASE_RUNTIME_DIR */
	char model[GROWN_BLOCKS + 1];	/* what each block should read */
	/*
	 * tmpfs gives a page to a hole that is read through a shared mapping,
	 * so there a block read since its punch is allocated again; the
	 * demo's reads mark the blocks they touch so the checks can tell.
	 */
	bool reads_allocate;
	bool touched[GROWN_BLOCKS];
} dm;

/* ------------------------------------------------- the file (demo_file.c) */

struct file_view {
	char alloc[GROWN_BLOCKS + 1];	/* '#' allocated, '.' hole */
	char data[GROWN_BLOCKS + 1];	/* what each block reads */
	uint64_t st_blocks;		/* 512-byte units */
	uint64_t st_size;
	const char *source;		/* how allocation was learned */
};

uint64_t blk(uint64_t n);
char read_block(unsigned i);
void observe_some(struct file_view *v, unsigned nblocks, bool with_data);
void observe(struct file_view *v, unsigned nblocks);
void show(const struct file_view *v, unsigned nblocks);
bool data_matches_model(const struct file_view *v, unsigned nblocks);
bool holes(const struct file_view *v, unsigned a, unsigned b);
void untouch(unsigned a, unsigned b);
unsigned count_alloc(const struct file_view *v, unsigned a, unsigned b);

/* ------------------------------------------------- the cast (demo_dma.c) */

struct device {
	const char *name;
	uint64_t off, len;
	unsigned ios;		/* requests in flight, each holding one reference */
	unsigned cancel_ms;	/* from on_break until the requests complete */
	unsigned hold_ms;	/* a REF reader lets go after this long */
	bool ref;		/* a CPU reader holding a REF, not a device */
	bool ignores_break;	/* a stuck device: completes only when released */
	bool streaming;		/* keeps writing until its requests complete */
	unsigned char fill;
	struct pml_lease *lease;
	pthread_t thread;
	bool started;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool landed;		/* first transfer is in memory */
	bool released;		/* told to complete now (stuck device, teardown) */
	double t_go;		/* a REF reader's scan starts (0: not yet) */
	unsigned breaks[5];	/* on_break calls by reason */
	double t_break;		/* first on_break(PML_BREAK_LAYOUT) */
	unsigned writes;
	unsigned puts_called;	/* counted before the call: the put that lets a
				 * punch proceed may return after the punch */
	unsigned puts;
	unsigned put_errors;
	int put_rc;		/* the first bad return of pml_lease_put */
	double t_put_call;	/* when the last put was called */
	double t_put_ret;
	unsigned long checksum;
};

extern struct device dev_a, dev_b, cpu_r, dev_c, dev_d;

/* set by the first on_break: the barrier is up */
extern pthread_mutex_t barrier_up_mu;
extern pthread_cond_t barrier_up_cv;
extern bool barrier_up;
extern bool punch_returned;	/* so `db` never waits for a barrier that
				 * a broken library did not raise */

int cq_start(void);		/* the completion thread */
int device_start(struct device *d);
void device_join(struct device *d);
unsigned breaks_of(struct device *d, enum pml_break_reason r);
/* every device joined, the completion thread stopped */
void dma_teardown(void);

/* ------------------------------------------------- scenes */

/* demo_scenes.c: each returns 0, or -1 when the demo cannot go on */
int scene_open(void);
int scene_write(void);
int scene_punch_wait(void);
int scene_punch_fail(void);
int scene_punch_revoke(void);
int scene_truncate(void);
int scene_close(void);
void scenes_teardown(void);

/* demo_procs.c */
int scene_two_processes(void);
void procs_teardown(void);
/* SIGKILL to the processes the demo started; async-signal-safe */
void procs_kill(void);

#endif
