/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * model.h -- what the files of test_model share: the reference model of
 * the file and of the leases on it (model.c), what the layout change and
 * the acquires under way may and must do (model_pending.c), and the worker
 * threads the driver hands its calls to (test_model.c).
 */
#ifndef PMLT_MODEL_H
#define PMLT_MODEL_H 1

#include "common.h"

#include <inttypes.h>

#define NPMAX 32		/* pages the region may grow to */
#define NW 5			/* worker threads */
#define MAXL 64			/* lease slots */
#define MAXLIVE 40		/* leases held at once, at most */
#define MAXWAIT 2		/* acquires left waiting at once, at most */

extern uint64_t A;

/* ---------------------------------------------------------------- leases */

/* RESERVED: a waiting acquire will fill it */
enum slot_state { S_FREE, S_HELD, S_RETIRED, S_RESERVED };

struct mlease {
	enum slot_state st;
	int id;
	struct pml_lease *l;
	uint64_t off, len;
	bool ref;
	bool auto_layout;	/* PIN that puts itself on LAYOUT */
	bool auto_revoke;	/* puts itself on REVOKED */
	int refs;		/* references the driver holds */
	bool revoked;		/* as far as the model knows */
	uint64_t qmask;		/* pages it keeps quarantined */
	atomic_int gone;	/* put from inside on_break */
	atomic_int n_layout, n_revoked, n_other;
	int layout0, revoked0;	/* counters when the current op started */
	bool revoked0_flag;
};

extern struct mlease slots[MAXL];

/* the layout change under way, for the callbacks to check against */
extern atomic_uint_fast64_t cb_lo, cb_hi;
extern atomic_int cb_active;

/* every lease is acquired with these: on_break checks and counts */
extern const struct pml_lease_ops model_ops;

bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen);

/* ------------------------------------------------ workers (test_model.c) */

enum jtype { J_ACQUIRE, J_PUT, J_GET, J_WRITE, J_PUNCH, J_TRUNCATE };

struct job {
	enum jtype t;
	struct mlease *m;	/* J_ACQUIRE (callback arg), J_PUT, J_GET */
	struct pml_lease *l;
	uint64_t off, len;	/* J_ACQUIRE, J_PUNCH; J_TRUNCATE: off */
	unsigned flags;
	void *addr;		/* J_WRITE */
	uint8_t byte;
	struct pml_barrier_opts opts;
	int rc;
	struct pml_lease *out;
	char msg[256];		/* pml_errormsg() is per thread: the worker's */
};

struct worker {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool posted, quit;
	atomic_int done;	/* the job's call has returned */
	bool busy;		/* driver side: job not yet collected */
	struct job job;
	uint64_t done_seq;
};

extern struct worker workers[NW];

bool worker_done(int i);
/* waits for worker i's call to return; its job is then the driver's */
struct job *collect(int i, const char *what);

/* ----------------------------------------------------------------- model */

extern struct pml_region *R;
extern char path[4200];
/* A is known at run time: test_model() skips if NPMAX pages do not fit */
extern uint8_t model[NPMAX * 4096 * 16];
extern uint8_t *base;
extern uint64_t S;		/* region size, pages * A */
extern uint64_t lifting;	/* pages whose lift waits for the op's end */
extern uint64_t step, nsteps;
extern uint8_t *filebuf;

enum mode { M_NOTIMEOUT, M_LONG, M_FAIL, M_REVOKE };
extern const char *const mode_name[4];

struct op {
	bool pending;
	bool shrink;
	uint64_t lo, hi;	/* the barrier's range */
	enum mode mode;
	int worker;
	struct mlease *block[MAXL];	/* leases it must wait for */
	int nblock;
	struct mlease *autos[MAXL];	/* PINs that put themselves */
	int nautos;
	uint64_t started;	/* step */
	uint64_t wait_after;	/* steps before the driver waits for it */
};
extern struct op op;

struct waiter {
	bool active;
	int worker;
	uint64_t off, len;
	unsigned flags;
	struct mlease *m;	/* the slot it will fill */
	bool on_barrier;	/* waits for the op, else for quarantine */
};
extern struct waiter waiters[MAXWAIT];

struct stats {
	uint64_t acquire, acquire_eagain, waiters, put, get, get_estale,
		 write, scribble, punch[4], shrink[4], grow, revoked,
		 timedout, lifted_pages;
};
extern struct stats st;

uint64_t pages_of(uint64_t off, uint64_t len);
/* pages some revoked lease not yet put keeps */
uint64_t quarantine_mask(void);
int nheld(void);
bool in_block(const struct mlease *m);
int nblock_held(void);
/* the driver must not touch it: the op may break or revoke it any time */
bool frozen(const struct mlease *m);
/* is the barrier certainly up, and certainly staying up for now */
bool barrier_surely_up(void);
void retire(struct mlease *m);
/* slots are reused only between layout changes: late callbacks are safe */
void free_retired(void);
struct mlease *new_slot(void);
/* a page no revoked lease keeps any more: handed back, reads zero */
void pages_released(uint64_t mask);

/* the last steps, printed when the model and the library disagree */
void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void dump_trace(void);

#define MFAIL(...) do { \
	dump_trace(); \
	fprintf(stderr, "step %" PRIu64 " of %" PRIu64 ": ", step, nsteps); \
	fail_msg(__VA_ARGS__); \
} while (0)

/* the mapping and the file against the model, after every step */
void compare(void);
void check_leases(void);

/* ----------------------------- the calls under way (model_pending.c) */

/* is the op done while it must not be, or must it be done by now */
void op_progress(bool force);
void waiters_progress(void);
int nwaiters(void);
/* layout changes keep off the ranges acquires are waiting for */
bool hits_waiter(uint64_t lo, uint64_t hi);

#endif
