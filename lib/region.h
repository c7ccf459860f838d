/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * region.h -- the region object and the internal interfaces between the
 * files that implement it.
 *
 * The concurrency story, in one place (each rule is enforced where noted):
 *
 *  - region->mutex guards the slow-path state: the list of lease contexts,
 *    the quarantine list, layout_busy, and the building of views.  Lock
 *    order: region->mutex, then a context's spinlock; never the reverse,
 *    and no callback ever runs with either held (barrier.c).
 *
 *  - A lease context (lease.h) belongs to one thread, and is biased to it
 *    (context.c): the owner works on its leases -- refcounts, states, index
 *    links -- in fast sections, without the context's spinlock; anybody
 *    else (a put from another thread, a barrier, a tool) takes the spinlock
 *    through ctx_lock(), which first revokes the bias with membarrier(2)
 *    and waits for the owner's section to end.  "The context's lock" below
 *    means either: the owner's fast section, or ctx_lock().
 *
 *  - region->view is an immutable snapshot of what acquires must respect:
 *    the size, the ranges blocked by a barrier or a quarantine, the state.
 *    An acquire reads it *while holding its context's lock*, and links
 *    its lease under that same lock.  A barrier publishes a new view, then
 *    takes every context's lock in turn (view.c: view_publish's grace
 *    pass, then the scan in barrier.c).  So for each context either the
 *    acquire came first and the scan sees its lease, or the scan came first
 *    and the acquire sees the barrier: no lease can slip past a barrier.
 *    The same grace pass proves no reader still holds the previous view.
 *    Every pass over all contexts starts with ctxs_unbias(), which revokes
 *    every bias with one membarrier.
 *
 *  - Layout changes (punch, truncate, lifting a quarantine) are serialised
 *    by region->layout_busy, a flag under region->mutex rather than a lock,
 *    so that a put which must lift a quarantine while another layout change
 *    runs can hand the work to it instead of waiting (quarantine.c).
 */
#ifndef PML_REGION_H
#define PML_REGION_H 1

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <libpmem2.h>

#include "pmemlease.h"

#define CACHELINE 64

/*
 * Thread-local state of the fast paths.  initial-exec: one %fs-relative
 * load, where the default model of a shared library calls __tls_get_addr.
 */
#define PML_TLS __thread __attribute__((tls_model("initial-exec")))

struct lease_ctx;

struct range {
	uint64_t start;
	uint64_t end;		/* exclusive */
};

static inline bool
range_overlaps(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1)
{
	return a0 < b1 && b0 < a1;
}

enum region_state {
	REGION_OPEN = 0,
	REGION_CLOSING,		/* close is checking for live leases */
	REGION_REVOKED,		/* revoke.c: no lease, ever again */
};

/* pml_region.revoke: only ever moves forward (revoke.c) */
enum region_revoke {
	REVOKE_LIVE = 0,
	REVOKE_DYING,		/* a fault found the device gone */
	REVOKE_REVOKING,
	REVOKE_REVOKED,
};

/* what an acquire must respect; immutable once published (view.c) */
struct region_view {
	uint64_t gen;		/* bumped by every publish */
	uint64_t size;
	enum region_state state;
	bool clear;		/* open, nothing blocked: the fast path's */
	uint32_t nblocked;
	uint32_t cap;
	struct range blocked[];	/* barrier range and quarantines */
};

/* a poisoned range a machine check told us of (poison.c) */
#define POISON_MAX 64
enum poison_state {
	POISON_FREE = 0,
	POISON_NEW,		/* recorded by the SIGBUS handler */
	POISON_SEEN,		/* its leases revoked by the monitor */
};

struct poison {
	_Atomic uint64_t offset;
	_Atomic uint64_t length;
	_Atomic int state;	/* enum poison_state, written last */
};

struct pml_region {
	/* read on every acquire: its own line, written only by publishes */
	_Alignas(CACHELINE) struct region_view *_Atomic view;
	_Atomic int revoke;	/* enum region_revoke: beside the view, as
				 * a fault handler cannot publish one */
	/*
	 * The state file's change count, and the one this process has
	 * applied: an acquire that sees them differ applies first, so a
	 * barrier raised anywhere is respected here as soon as it is raised.
	 */
	_Atomic uint64_t *state_seq;
	_Atomic uint64_t *applied_state_seq;

	_Alignas(CACHELINE) pthread_mutex_t mutex;
	pthread_cond_t cond;	/* CLOCK_MONOTONIC; view changes, drains */

	uint64_t id;		/* unique per open, never reused */
	char *path;		/* as the caller gave it */
	char *abspath;		/* resolved at open, for other processes */
	int fd;
	enum pml_region_kind kind;
	enum pml_granularity granularity;
	uint64_t alignment;
	dev_t dev;
	ino_t ino;
	char device[32];

	/* mapping (mapping.c); changed only by the layout owner */
	struct pmem2_source *src;
	struct pmem2_vm_reservation *rsv;
	char *base;
	uint64_t max_size;
	struct pmem2_map *map;	/* the first mapping, NULL before it */
	uint64_t mapped_end;	/* end of what is mapped */
	uint64_t open_end;	/* accessible up to here: >= size, while a
				 * cut part is not yet made inaccessible */
	uint64_t cut_to;	/* the last cut protected: [cut_to, cut_end) */
	uint64_t cut_end;
	uint64_t file_size;	/* >= size while a quarantine holds a tail */
	_Atomic uint64_t size;	/* the region's size, as in the view */

	pml_persist_fn persist;
	pml_flush_fn flush;
	pml_drain_fn drain;
	pml_memcpy_fn memcpy_fn;
	pml_memset_fn memset_fn;

	struct shared_file *shared;	/* the file's state, see shared.h */

	/* under mutex */
	struct lease_ctx *ctxs;
	enum region_state state;
	bool layout_busy;
	bool barrier_up;
	struct range barrier;
	uint64_t applied_seq;	/* the barrier in the view (agent.c) */
	bool revoke_applied;
	struct range *quar;	/* mirror of the shared quarantine table */
	unsigned nquar;
	struct region_view *views[2];	/* double buffer, see view.c */
	unsigned active_view;
	uint64_t view_gen;

	struct pml_region *next_open;	/* registry of open regions */
	unsigned pins;			/* under the registry lock: the
					 * monitor or an exiting thread acts
					 * on it, close waits */
	char *devpath;			/* its device in sysfs (monitor.c) */
	char **cxl_paths;		/* its CXL region and memdevs in sysfs,
					 * NULL-terminated; NULL: not on CXL */
	char cxl_region[16];		/* "region0", "" (cxl.c) */
	struct poison poison[POISON_MAX];
	_Atomic uint32_t npoison;
};

/* region.c */
extern _Atomic uint64_t close_epoch;	/* bumped by every close */

static inline uint64_t
region_close_epoch(void)
{
	return atomic_load_explicit(&close_epoch, memory_order_acquire);
}

int region_find(const struct pml_region *region);
int region_validate(const struct pml_region *region);
int region_validate_slow(const struct pml_region *region);

/*
 * region_validate_fast -- region_validate for the data path: a thread
 * remembers the last region it validated, trusted until any close.
 */
extern PML_TLS const struct pml_region *validated_region;
extern PML_TLS uint64_t validated_epoch;

static inline int
region_validate_fast(const struct pml_region *region)
{
	if (__builtin_expect(region && region == validated_region &&
			validated_epoch == region_close_epoch() &&
			atomic_load_explicit(&region->revoke,
				memory_order_relaxed) == REVOKE_LIVE, 1))
		return 0;
	return region_validate_slow(region);
}
void region_lock(struct pml_region *r);
void region_unlock(struct pml_region *r);
void region_layout_begin(struct pml_region *r);
void region_layout_end(struct pml_region *r);
bool region_sync(struct pml_region *r);
bool region_has_leases(struct pml_region *r);

/* agent.c */
int region_follow_size(struct pml_region *r, bool extend_file);

/*
 * The library changes a file's layout with the system calls themselves, not
 * through libc's ftruncate/fallocate symbols: libpmemlease-intercept.so
 * interposes those, to send other code's layout changes through the
 * barrier, and the barrier's own change must not come back into it.
 */
static inline int
sys_ftruncate(int fd, uint64_t size)
{
	return (int)syscall(SYS_ftruncate, fd, (off_t)size);
}

static inline int
sys_fallocate(int fd, int mode, uint64_t offset, uint64_t length)
{
	return (int)syscall(SYS_fallocate, fd, mode, (off_t)offset,
			(off_t)length);
}

/* mapping.c */
int mapping_init(struct pml_region *r, uint64_t size);
void mapping_fini(struct pml_region *r);
int mapping_grow(struct pml_region *r, uint64_t new_size, bool extend_file);
int mapping_protect(struct pml_region *r, uint64_t start, uint64_t end,
		bool accessible);
int mapping_invalidate(struct pml_region *r, uint64_t start, uint64_t end);
int mapping_dealloc(struct pml_region *r, uint64_t start, uint64_t end,
		bool remap);
int mapping_set_file_size(struct pml_region *r, uint64_t size);
int mapping_map_file(struct pml_region *r, uint64_t start, uint64_t end);

/* barrier.c: the steps a layout change is made of (fileops.c uses them) */
struct timespec deadline_after(uint32_t ms);	/* CLOCK_MONOTONIC */
int region_renew(struct pml_region *r, uint64_t offset, uint64_t length);
int barrier_check_opts(const struct pml_barrier_opts *o);
int layout_enter(struct pml_region *r, const struct pml_barrier_opts *o,
		const struct timespec *deadline);
void layout_leave(struct pml_region *r);
int barrier_drain(struct pml_region *r, uint64_t start, uint64_t end,
		const struct pml_barrier_opts *o, const struct timespec *deadline,
		uint64_t *seqp);
void barrier_lower(struct pml_region *r, uint64_t *seq);
void region_set_size(struct pml_region *r, uint64_t size);

/* view.c */
int view_init(struct pml_region *r);
void view_fini(struct pml_region *r);
void view_publish(struct pml_region *r);
bool view_blocks(const struct region_view *v, uint64_t start, uint64_t end);
void view_wait_change(struct pml_region *r, uint64_t gen);

/* quarantine.c */
void quarantine_release(struct pml_region *r, const struct pml_lease *lease);
int quarantine_dealloc_free_parts(struct pml_region *r, uint64_t start,
		uint64_t end, bool cut);
bool quarantine_overlaps(const struct pml_region *r, uint64_t start,
		uint64_t end);
int quarantine_protect_cut(struct pml_region *r, uint64_t start,
		uint64_t end);
bool quarantine_covers(const struct pml_region *r, uint64_t start,
		uint64_t end);

typedef bool (*region_match_fn)(const struct pml_region *r,
		const char *devpath, unsigned maj, unsigned min, bool devnum);
unsigned region_pin_matching(struct pml_region **v, unsigned cap,
		region_match_fn match, const char *devpath, unsigned maj,
		unsigned min, bool devnum);
int region_pin(struct pml_region *region);
void region_unpin(struct pml_region *r);

/* monitor.c */
void monitor_track(struct pml_region *r);

/* cxl.c */
struct pml_cxl_info;
int cxl_topology(struct pml_cxl_info *info, const char *devpath);
char **cxl_watch_paths(const char *devpath, char *region, size_t regionlen);
void monitor_untrack(struct pml_region *r);

/* poison.c */
void poison_record(struct pml_region *r, uint64_t offset, uint64_t length);
void poison_handle(struct pml_region *r);

/* revoke.c */
int region_revoke(struct pml_region *r, enum pml_break_reason reason,
		uint32_t grace_ms, bool gone);
int revoke_replace_mapping(char *base, uint64_t len);

/* lease.c */
void lease_ctxs_free(struct pml_region *r);
void lease_slow_put(struct pml_region *r, struct pml_lease *l,
		bool drained, bool revoked);

#endif
