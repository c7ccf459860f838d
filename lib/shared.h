/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shared.h -- lease state shared by every process that opens one file.
 *
 * A database is rarely one process.  A punch in process A must wait for the
 * leases of process B on the same file, as the kernel's per-inode locks
 * make every process wait.  So each file (by device and inode, not path)
 * has a small state file in the runtime directory, mapped by every process
 * that has the file open through the library:
 *
 *   - a slot per process: pid, uid, command, and the sequence numbers its
 *     agent thread acknowledges barriers with;
 *   - the region's size, so growth and truncation are seen everywhere;
 *   - the one barrier that may be up (layout changes are serialised across
 *     processes, as within one);
 *   - the quarantine table: blocks kept for revoked leases of any process.
 *
 * Leases themselves stay in the memory of the process that took them: the
 * acquire fast path is exactly the single-process one, and never touches
 * the state file.  Each process runs an agent thread (agent.c) that applies
 * what others publish -- a barrier, a size, a quarantine -- to its own
 * regions, runs its own on_break callbacks, and acknowledges.
 *
 * Liveness (LMDB's reader table, made robust against pid reuse): each
 * process holds an OFD lock on one byte of the state file named by its
 * slot.  The kernel drops it when the process dies, however it dies, so
 * "is slot N alive?" is one F_OFD_GETLK, never a guess from a pid.  Every
 * wait on another process is bounded by a short timeout after which its
 * liveness is checked: a dead process never blocks anyone for long.
 *
 * Nothing read from the state file is trusted: indices are bounds-checked
 * where they are used, and a file that fails a check is reported (EUCLEAN,
 * "state file ... is corrupt") instead of followed.
 *
 * Lock order: shared layout ownership, then the region's layout_busy, then
 * region->mutex, then a context's spinlock.  The state file's own lock
 * (shm_lock) is a leaf: nothing is waited for while it is held.
 */
#ifndef PML_SHARED_H
#define PML_SHARED_H 1

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SHM_MAGIC "PMLSTAT1"
#define SHM_VERSION 2
#define SHM_SLOTS 128
#define SHM_QUAR_MAX 1024
#define SHM_LIVENESS_BASE (UINT64_C(1) << 40)	/* OFD lock bytes */
#define QUAR_LIFTING 2		/* shm_quar.released: being deallocated */

enum shm_phase {
	SHM_PHASE_NONE = 0,
	SHM_PHASE_DRAIN = 1,	/* others: block, break, report drained */
	SHM_PHASE_REVOKE = 2,	/* others: revoke what is still held */
};

struct shm_slot {
	_Atomic uint32_t used;
	int32_t pid;
	uint32_t uid;
	_Atomic uint32_t wake;		/* the agent's futex */
	uint64_t started_ns;		/* CLOCK_REALTIME of the claim */
	char comm[16];
	_Atomic uint64_t ack_seq;	/* barrier seen, acquires blocked */
	_Atomic uint64_t drained_seq;	/* no lease of ours in the range */
	_Atomic uint64_t revoked_seq;	/* what was left is revoked */
	_Atomic uint32_t dump_req;	/* a lister asks for our leases */
	_Atomic uint32_t dump_ack;
	_Atomic uint64_t removal_ack;	/* removal.c: our regions revoked */
	uint64_t reserved[2];
};

struct shm_quar {
	uint64_t start;
	uint64_t end;
	uint64_t key;		/* the revoked lease, as its process knows it */
	uint32_t slot;		/* the process that holds it */
	uint32_t released;	/* 1: put (or its process died); 2: lifting */
};

struct shm_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	uint64_t dev;
	uint64_t ino;
	uint64_t birth;		/* the file's birth time, ns: a new file with
				 * a reused inode number is another file */
	uint32_t nslots;
	uint32_t quar_max;

	_Atomic uint32_t lock;		/* 0, or the holder's slot + 1 */
	_Atomic uint32_t layout_owner;	/* 0, or the owner's slot + 1 */
	_Atomic uint32_t layout_wake;	/* futex: layout ownership freed */
	_Atomic uint32_t owner_wake;	/* futex: a barrier owner waits */

	/* under lock */
	uint64_t size;
	uint64_t barrier_seq;
	uint64_t barrier_start;
	uint64_t barrier_end;
	uint32_t barrier_owner;		/* slot + 1 */
	_Atomic uint32_t barrier_phase;	/* enum shm_phase */
	uint32_t barrier_break;		/* 1: pml_region_break, no layout
					 * change, so revokes quarantine
					 * nothing */
	/*
	 * A device going away (removal.c): every holder revokes its regions
	 * on the file, with this grace, and acknowledges in its slot.  The
	 * requester need not be attached: it writes these two, then bumps
	 * the sequence, without the lock.
	 */
	_Atomic uint32_t removal_grace_ms;
	_Atomic uint32_t removal_flags;	/* PML_REMOVAL_* */
	_Atomic uint64_t removal_seq;
	_Atomic uint32_t layout_lifting;	/* the layout owner only lifts */
	_Atomic uint64_t state_seq;	/* bumped by every change above */
	/* these three are glanced at without the lock, hence atomic */
	_Atomic uint32_t nquar;
	_Atomic uint32_t lift_pending;
	struct shm_quar quar[SHM_QUAR_MAX];
	struct shm_slot slots[SHM_SLOTS];
};

struct pml_region;

/*
 * The identity of the state: device and inode -- and for a device-dax
 * device its device number alone, since /dev nodes of one device (a
 * container's and the host's) have different inodes.
 */
#define shared_ino(r) ((r)->kind == PML_REGION_DEVDAX ? (ino_t)0 : (r)->ino)

/* what one agent pass reads of the state file, copied under its lock */
struct shm_snapshot {
	uint64_t state_seq;
	uint64_t size;
	uint64_t seq;
	uint64_t start;
	uint64_t end;
	uint32_t owner;
	uint32_t owner_uid;
	uint32_t phase;
	uint32_t brk;
	uint32_t nquar;
	struct shm_quar quar[SHM_QUAR_MAX];
};

/* one per file per process, shared by the regions open on it */
struct shared_file {
	struct shared_file *next;
	dev_t dev;
	ino_t ino;
	uint64_t birth;
	int fd;				/* the state file */
	char path[4096];
	struct shm_header *h;
	uint32_t slot;

	/* under shared_files_lock */
	unsigned refs;			/* regions holding this */
	struct pml_region **regions;	/* those the agent applies to */
	unsigned nregions;
	unsigned pins;			/* passes using the regions */
	pthread_cond_t unpinned;

	/* one pass at a time (agent.c) */
	pthread_mutex_t apply_lock;
	struct shm_snapshot *snap;
	struct pml_region **apply;	/* the regions, pinned for a pass */
	unsigned napply;
	_Atomic uint64_t seen_state_seq;
	_Atomic bool retry;		/* a pass could not apply everything */

	/*
	 * Leases of this process a barrier waits for, over all its regions
	 * on the file.  Changed only under the lease's context lock, so it
	 * is exact; the put that takes it to zero reports "drained".
	 */
	atomic_long pending;
	_Atomic uint64_t serving_seq;	/* the barrier being drained */

	uint64_t removal_seen;		/* the agent's: requests handled */

	pthread_t agent;
	bool agent_running;
	_Atomic bool stopping;
};

/* shared.c */
int shared_attach(struct pml_region *r, mode_t data_mode);
int shared_publish_region(struct pml_region *r);
int shared_size(struct pml_region *r, uint64_t *size);
uint64_t shared_get_size(struct shared_file *sf);
enum { SHM_CLEAR, SHM_BLOCKED, SHM_PAST_END };
int shared_blocks(struct shared_file *sf, uint64_t start, uint64_t end);
int shared_set_size(struct shared_file *sf, uint64_t size);
int shm_snapshot(struct shared_file *sf, struct shm_snapshot *s);
void shared_regions_pin(struct shared_file *sf);
void shared_regions_unpin(struct shared_file *sf);
void shared_housekeeping(struct shared_file *sf);
void shm_futex_wake(_Atomic uint32_t *word);
void shm_report(_Atomic uint64_t *word, uint64_t seq);
bool shared_lift(struct shared_file *sf, struct pml_region *r);
void shared_detach(struct pml_region *r);
int shm_lock(struct shared_file *sf);
void shm_unlock(struct shared_file *sf);
bool shm_slot_alive(struct shared_file *sf, uint32_t slot);
void shm_bump(struct shared_file *sf);
void shm_wake_agents(struct shared_file *sf);
void shm_wake_owner(struct shared_file *sf);
int shm_futex_wait(_Atomic uint32_t *word, uint32_t val, int timeout_ms);
int shared_layout_begin(struct shared_file *sf, const struct timespec *deadline,
		bool trylock);
void shared_layout_end(struct shared_file *sf);
int shm_check(struct shared_file *sf);
void shm_reap_dead(struct shared_file *sf);
int runtime_dir(char *buf, size_t n);

/* statefile.c */
int liveness_lock(int fd, uint32_t slot, int cmd, short type);
int state_open(struct shared_file *sf, mode_t data_mode);
void slot_init(struct shared_file *sf);
void state_leave(struct shared_file *sf);
uint64_t birth_time(int fd);
void shared_fork_prepare(void);
void shared_fork_parent(void);
void shared_fork_child(void);

/*
 * The answer to a dump request (inspect.c asks, agent.c answers): the
 * holder's regions and leases, in a file next to the state file, written
 * whole and renamed into place.
 */
#define DUMP_MAGIC "PMLDUMP1"

struct dump_header {
	char magic[8];
	uint32_t version;
	uint32_t nregions;
	uint32_t nleases;
	int32_t pid;
	uint64_t reserved[4];
	/* nregions pml_holder_region_info, then nleases pml_lease_info */
};

int dump_path(char *buf, size_t n, const char *state_path, uint32_t slot);

/* agent.c */
int agent_start(struct shared_file *sf);
void agent_stop(struct shared_file *sf);
void agent_apply(struct shared_file *sf, struct pml_region *skip);
void agent_pass(struct shared_file *sf, struct pml_region *skip);
bool agent_apply_size(struct pml_region *r);
bool agent_in_pass(void);
void agent_hold(struct shared_file *sf);
void agent_release(struct shared_file *sf);

/* quarantine.c, on the shared table */
int quarantine_add(struct shared_file *sf, uint64_t start, uint64_t end,
		const struct pml_lease *lease);
bool quarantine_mirror(struct pml_region *r, const struct shm_snapshot *s);
bool quarantine_lift(struct pml_region *r);

#endif
