/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pmemlease.h -- DMA leases on persistent memory.
 *
 * A process maps persistent memory -- a devdax device (/dev/daxN.M), a file
 * on a filesystem mounted with -o dax, or, on machines with no pmem, a plain
 * file -- and hands ranges of the mapping to devices for DMA.  With DAX the
 * DMA target *is* the filesystem block: if a truncate or a hole punch hands
 * that block back to the filesystem while a device still writes into it, the
 * device writes into another file's data or the filesystem's metadata.
 *
 * pmemlease closes that hole in user space:
 *
 *   region   a mapping of the whole file or device, through libpmem2, in a
 *            reserved range of virtual addresses so growth never moves it.
 *   lease    a refcounted pin on [offset, offset + length) of a region.
 *            PML_LEASE_PIN is a long-term DMA pin: a layout change asks its
 *            holder to let go through the on_break callback.
 *            PML_LEASE_REF is a short CPU reference: waited for, never broken.
 *   barrier  every punch and truncate goes through it: block new leases on
 *            the range, break and drain the old ones, flush, invalidate,
 *            change the layout, map again, let leases in again.
 *
 * The invariant the library keeps above everything else:
 *
 *   NO BLOCK UNDER A LEASE, LIVE OR REVOKED, IS EVER HANDED BACK TO THE
 *   FILESYSTEM, NOR TO ANYONE ELSE.
 *
 * When a barrier gives up waiting with PML_ON_TIMEOUT_REVOKE, the leases
 * still held are revoked, but the blocks under them are *quarantined*: they
 * stay allocated to the file, no new lease may cover them, and only when the
 * last revoked lease over them is put are they deallocated (the real
 * fallocate or ftruncate) and read back as zeroes.  A device that keeps
 * writing after a revoke can only scribble on blocks nobody reads and no
 * other file owns.
 *
 * Conventions (those of libpmem2 and libndctl):
 *   - functions return 0 or a negative errno; pml_errormsg() then holds a
 *     human-readable message for the calling thread;
 *   - the out-parameter comes first;
 *   - objects are opaque; option structs may be NULL, and a zeroed field
 *     means its default, so fields can be added at the end without breaking
 *     callers that zero the struct (designated initialisers do).
 *
 * Threads: every function may be called from any thread.  A lease may be
 * put from another thread than the one that acquired it (completions run
 * elsewhere).  pml_region_close() must not race with other calls on the same
 * region: like close(2) against read(2), that is the caller's bug.
 *
 * Processes: every process that opens the same file or device through the
 * library shares its lease state (by device and inode, not by path): a
 * punch in one waits for the leases of all, a size change is seen by all,
 * and a process that dies, however it dies, never blocks the others for
 * more than about a second.  The state lives in a small file per data file
 * in the runtime directory: $PMEMLEASE_RUNTIME_DIR, else /run/pmemlease for
 * root, else $XDG_RUNTIME_DIR/pmemlease; processes of different users share
 * state only through a directory they name alike.  Each process runs one
 * agent thread per file, which applies what the others publish.  Regions
 * are not inherited across fork(): the child gets -ECHILD for its parent's
 * regions and opens its own.
 */
#ifndef PMEMLEASE_H
#define PMEMLEASE_H 1

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PMEMLEASE_MAJOR_VERSION 0
#define PMEMLEASE_MINOR_VERSION 2

struct pml_region;
struct pml_lease;

/* ---------------------------------------------------------------- errors */

/*
 * pml_errormsg -- the message of the last error of the calling thread.
 *
 * Every function that returns a negative errno leaves a message here that
 * names what was wrong (the range, the required alignment, the state).  The
 * string is thread-local and valid until the thread's next failing call.
 */
const char *pml_errormsg(void);

/* --------------------------------------------------------------- regions */

enum pml_region_kind {
	PML_REGION_PLAIN = 1,	/* regular file, page-cache persistence */
	PML_REGION_FSDAX = 2,	/* file on a DAX filesystem (ext4/xfs -o dax) */
	PML_REGION_DEVDAX = 3,	/* device-dax character device /dev/daxN.M */
};

/* the smallest store that is durable once flushed (libpmem2's granularity) */
enum pml_granularity {
	PML_GRANULARITY_BYTE = 1,	/* eADR: visible is durable */
	PML_GRANULARITY_CACHE_LINE = 2,	/* flush cache lines from user space */
	PML_GRANULARITY_PAGE = 3,	/* msync: page-cache backed */
};

/* pml_region_opts.flags */
#define PML_REGION_CREATE	(1U << 0)	/* create a missing file (0600) */
#define PML_REGION_PARTIAL_TAIL	(1U << 1)	/* map a file that ends inside
						 * a unit: its whole units */

struct pml_region_opts {
	/*
	 * Virtual address space to reserve for the region, in bytes.  The
	 * region can grow up to this size without its base address moving,
	 * so a leased pointer stays valid across growth.  0 means the larger
	 * of the current size and 16 GiB for files, and the device size for
	 * devdax.  Rounded up to the region's alignment.
	 */
	uint64_t max_size;
	unsigned flags;		/* PML_REGION_* */
};

/*
 * pml_region_open -- map a devdax device, an fsdax file or a plain file.
 *
 * The kind is detected: a character device is devdax; a regular file whose
 * inode is DAX (statx STATX_ATTR_DAX) or that libpmem2 maps with MAP_SYNC is
 * fsdax; any other regular file is a plain file.  Size, alignment and store
 * granularity come from libpmem2 (and libdaxctl for the device), never from
 * a guess.  A size that breaks the device's alignment is refused with
 * -EINVAL rather than mapped into a later SIGBUS -- but with
 * PML_REGION_PARTIAL_TAIL a file that ends inside a unit of the alignment
 * is mapped: its whole units are the region, and the partial unit at its
 * end is not part of it (not leasable; see pml_region_ftruncate()).
 *
 * On success *region is the new region; on failure it is left NULL.
 */
int pml_region_open(struct pml_region **region, const char *path,
		const struct pml_region_opts *opts);

/*
 * pml_region_close -- unmap and free a region.
 *
 * Returns -EBUSY and leaves the region untouched while any lease on it is
 * live (revoked leases count until they are put).  On success *region is
 * set to NULL.
 */
int pml_region_close(struct pml_region **region);

struct pml_region_info {
	enum pml_region_kind kind;
	enum pml_granularity granularity;
	uint64_t size;		/* current size in bytes */
	uint64_t max_size;	/* reserved virtual address space in bytes */
	uint64_t alignment;	/* offsets and sizes of layout changes */
	void *base;		/* first byte; never moves while open */
	dev_t dev;		/* st_dev of the file, st_rdev of a device */
	ino_t ino;		/* st_ino */
	char device[32];	/* "dax0.0", "pmem1", or "" when not pmem */
	char path[4096];	/* the path the region was opened with */
	char cxl_region[16];	/* the CXL region under it, "region0", or ""
				 * when not on CXL (pml_region_cxl_info) */
	uint64_t reserved[14];	/* room for later fields; zero */
};

/* pml_region_info -- fill *info with what the region is and how it maps */
int pml_region_info(struct pml_region_info *info,
		const struct pml_region *region);

/* pml_region_base -- the mapping's first byte (NULL on a bad region) */
void *pml_region_base(const struct pml_region *region);

/* pml_region_size -- the region's current size (0 on a bad region) */
uint64_t pml_region_size(const struct pml_region *region);

/* pml_region_kind_name -- "devdax", "fsdax", "plain" (or "unknown") */
const char *pml_region_kind_name(enum pml_region_kind kind);

/* ---------------------------------------------------------------- leases */

enum pml_break_reason {
	PML_BREAK_LAYOUT = 1,	/* a punch or truncate waits for this lease */
	PML_BREAK_REVOKED = 2,	/* the lease was revoked: its blocks are
				 * quarantined until it is put */
	PML_BREAK_REMOVE = 3,	/* the device is going away */
	PML_BREAK_POISON = 4,	/* the range holds poisoned memory */
};

struct pml_lease_ops {
	/*
	 * on_break -- the holder is asked to let go of the lease.
	 *
	 * Called for PIN leases when a barrier needs their range
	 * (PML_BREAK_LAYOUT), and for any lease a barrier revoked
	 * (PML_BREAK_REVOKED) -- always in the process that holds the
	 * lease: in the thread that raised the barrier when that is in
	 * the same process, else in the library's agent thread
	 * ("pml-agent", all signals blocked) -- or, when another region
	 * on the same file is being opened or a quarantine lifted in this
	 * process just then, in that thread.  No library lock is held:
	 * it may put the lease itself, or arrange for the I/O to be
	 * cancelled and put on completion.  It must not wait for the
	 * barrier that called it, nor open or close regions.  Only a
	 * process of the holder's user, or root, can have it called.
	 * May be NULL.
	 */
	void (*on_break)(struct pml_lease *lease, enum pml_break_reason reason,
			void *arg);
};

/* pml_lease_acquire flags */
#define PML_LEASE_PIN		0U		/* long-term DMA pin (default) */
#define PML_LEASE_REF		(1U << 0)	/* short CPU reference */
#define PML_LEASE_NOWAIT	(1U << 1)	/* -EAGAIN instead of waiting */

/*
 * pml_lease_acquire -- pin [offset, offset + length) of a region.
 *
 * The range must lie inside the region's current size; it needs no
 * alignment.  If a barrier or a quarantine covers part of the range, the
 * call waits until it lifts, or returns -EAGAIN with PML_LEASE_NOWAIT.
 * ops->on_break is read here (the struct need not outlive the call) and
 * called with arg; ops may be NULL (a REF never gets PML_BREAK_LAYOUT).
 *
 * With no barrier raised on the region this makes no system call and no
 * allocation, and leases on disjoint ranges taken by different threads write
 * no shared cache line.  Nor does it execute an atomic read-modify-write or
 * a fence, and neither does the same thread's put: the thread's lease state
 * is biased to it, and the rare other party -- a put from another thread, a
 * barrier -- pays for the ordering with membarrier(2) instead.  A process
 * whose kernel lacks MEMBARRIER_CMD_PRIVATE_EXPEDITED (Linux < 4.14), or
 * that sets PMEMLEASE_NO_BIAS in its environment, takes a per-thread
 * spinlock here instead (two locked instructions per acquire and put).
 *
 * On success *lease holds one reference; drop it with pml_lease_put().
 */
int pml_lease_acquire(struct pml_lease **lease, struct pml_region *region,
		uint64_t offset, uint64_t length, unsigned flags,
		const struct pml_lease_ops *ops, void *arg);

/* pml_lease_addr -- the address of the lease's first byte (NULL if bad) */
void *pml_lease_addr(const struct pml_lease *lease);

/* pml_lease_offset / pml_lease_length -- the leased range */
uint64_t pml_lease_offset(const struct pml_lease *lease);
uint64_t pml_lease_length(const struct pml_lease *lease);

/* pml_lease_revoked -- 1 if the lease was revoked, 0 if live, <0 if bad */
int pml_lease_revoked(const struct pml_lease *lease);

/*
 * pml_lease_get -- one more holder (an I/O sharing the lease).
 *
 * Returns -ESTALE on a revoked lease: a revoked range takes no new users.
 */
int pml_lease_get(struct pml_lease *lease);

/*
 * pml_lease_put -- drop one reference; the last put releases the lease.
 *
 * Any thread may put.  The acquiring thread's put is the cheap one; another
 * thread's revokes the acquiring thread's bias (a membarrier(2), some
 * microseconds), after which that thread's leases go through a spinlock for
 * at least a millisecond: a completion thread that puts every lease another
 * thread acquired costs one membarrier per millisecond, not one per put.
 *
 * A put beyond the last reference returns -EINVAL (until the lease's memory
 * is reused by a later acquire, which the library delays as long as it can).
 * The last put of a revoked lease may lift a quarantine, which deallocates
 * the quarantined blocks (a system call) before pml_lease_put() returns,
 * or when the layout change in progress on the region ends.
 */
int pml_lease_put(struct pml_lease *lease);

/* -------------------------------------------------------------- barrier */

enum pml_on_timeout {
	PML_ON_TIMEOUT_FAIL = 0,	/* -ETIMEDOUT; nothing changed (default) */
	PML_ON_TIMEOUT_REVOKE = 1,	/* revoke, quarantine, proceed */
};

struct pml_barrier_opts {
	uint32_t timeout_ms;		/* 0 = wait as long as it takes */
	enum pml_on_timeout on_timeout;
};

/*
 * pml_region_punch -- deallocate [offset, offset + length) of the region.
 *
 * The barrier (seed 002's recipe, in user space):
 *   1. raise a barrier on the range: new acquires overlapping it wait,
 *      acquires elsewhere proceed;
 *   2. call on_break(PML_BREAK_LAYOUT) of every PIN overlapping it, all at
 *      once, and wait for those and any REF leases to be put;
 *   3. flush the range out of the CPU caches, so no dirty line can be
 *      written back into a block after the filesystem reuses it;
 *   4. invalidate the range's mapping;
 *   5. fallocate(PUNCH_HOLE | KEEP_SIZE);
 *   6. map the range again at the same addresses (it reads zeroes);
 *   7. drop the barrier and wake the waiters.
 * The punch proceeds as soon as the last overlapping lease is put.
 *
 * offset and length must be multiples of the region's alignment.
 *
 * On timeout: PML_ON_TIMEOUT_FAIL returns -ETIMEDOUT with file, data,
 * leases and mapping exactly as before.  PML_ON_TIMEOUT_REVOKE revokes the
 * leases still held (on_break(PML_BREAK_REVOKED); pml_lease_get() then
 * returns -ESTALE), punches what no revoked lease covers, quarantines the
 * blocks under revoked leases and returns 0; see the invariant above.
 *
 * A revoked lease still covers its blocks: a later punch waits for it
 * like for any lease, except where its blocks are quarantined already.
 * Layout changes of a file run one at a time, across processes; the
 * timeout also bounds the wait for one in progress, and running out of it
 * there returns -ETIMEDOUT with nothing changed, whatever the policy --
 * except a quarantine being lifted, which waits for nobody and is waited
 * out.
 *
 * devdax cannot deallocate: the range is zeroed and persisted instead.
 */
int pml_region_punch(struct pml_region *region, uint64_t offset,
		uint64_t length, const struct pml_barrier_opts *opts);

/*
 * pml_region_truncate -- grow or shrink the region (and its file) to size.
 *
 * Growth maps the new part in place: the base does not move; the new part
 * reads zeroes.  Shrinking goes through the barrier over [size, old size)
 * exactly like a punch, and from then on leases past size are refused; the
 * blocks of revoked leases in the cut part stay quarantined (the file keeps
 * them, past the region's size) until their last put.
 *
 * size must be a multiple of the alignment and at most max_size (-EFBIG).
 * devdax has a fixed size: -EOPNOTSUPP.
 */
int pml_region_truncate(struct pml_region *region, uint64_t size,
		const struct pml_barrier_opts *opts);

/*
 * pml_region_ftruncate -- what ftruncate(2) does, through the barrier: the
 * file becomes size bytes, any size (a file need not end on a unit).
 *
 * The region is always the file's whole units of the alignment: a file
 * that ends inside a unit has that partial unit outside the region (not
 * leasable).  An aligned shrink is pml_region_truncate() itself, with both
 * timeout policies.  A shrink to inside a unit drains from that unit on,
 * and can leave no quarantine: with PML_ON_TIMEOUT_REVOKE it gives up as
 * with PML_ON_TIMEOUT_FAIL (-ETIMEDOUT, nothing changed), and a quarantine
 * past the new end refuses it (-EBUSY).  Growth drains nothing; past
 * max_size the file grows and the region stops at max_size.
 * devdax: -EOPNOTSUPP.
 */
int pml_region_ftruncate(struct pml_region *region, uint64_t size,
		const struct pml_barrier_opts *opts);

/*
 * pml_region_fallocate -- what fallocate(2) does with mode (FALLOC_FL_*
 * from <linux/falloc.h>), through the barrier, at any byte offset.
 *
 *   0, KEEP_SIZE          allocation: adds blocks, moves none; no drain;
 *                         the region follows a grown size.
 *   PUNCH_HOLE|KEEP_SIZE  the barrier over the range's bytes.  Aligned
 *                         and inside the region it is pml_region_punch(),
 *                         both policies; otherwise the whole units inside
 *                         are deallocated as a punch does it and the kernel
 *                         zeroes the partial units at the edges (they keep
 *                         their blocks), with PML_ON_TIMEOUT_FAIL.
 *   ZERO_RANGE, UNSHARE_RANGE (and modes unknown here)
 *                         may exchange the range's blocks: the barrier over
 *                         every unit the range touches.
 *   COLLAPSE_RANGE, INSERT_RANGE
 *                         move every block from offset on: the barrier
 *                         from offset's unit to the end; the region follows
 *                         the new size.
 *
 * Whatever moves or exchanges blocks cannot keep a revoked lease's blocks
 * in place, so there PML_ON_TIMEOUT_REVOKE gives up as PML_ON_TIMEOUT_FAIL
 * does (-ETIMEDOUT), and a quarantine in the way refuses the call (-EBUSY),
 * before anything changed.  An error of the kernel's (-EOPNOTSUPP on a
 * filesystem without the mode, -EINVAL for a collapse not on its block
 * size) is returned as it is, with the mapping as it was.
 * devdax: -EOPNOTSUPP.
 */
int pml_region_fallocate(struct pml_region *region, int mode,
		uint64_t offset, uint64_t length,
		const struct pml_barrier_opts *opts);

/*
 * pml_region_quarantined -- bytes of the region held in quarantine now.
 *
 * *bytes is the total length of ranges whose deallocation waits for the
 * last put of a revoked lease.
 */
int pml_region_quarantined(uint64_t *bytes, const struct pml_region *region);

/* ------------------------------------------------ breaking without change */

/*
 * pml_region_break -- ask every holder of a lease over [offset,
 * offset + length), in every process, to let go, and wait as a punch would
 * -- but change nothing: no block is deallocated.  With a timeout and
 * PML_ON_TIMEOUT_REVOKE the leases still held are revoked (their holders
 * get on_break(PML_BREAK_REVOKED)); without a layout change there is
 * nothing to quarantine.  What an administrator runs before taking a
 * device away.  The range needs no alignment.
 */
int pml_region_break(struct pml_region *region, uint64_t offset,
		uint64_t length, const struct pml_barrier_opts *opts);

/* ------------------------------------------------------------ inspection */

/*
 * Every process that opens a file through the library shares its lease
 * state (see libpmemlease(7)): a state file per file (by device and inode)
 * in the runtime directory -- $PMEMLEASE_RUNTIME_DIR, else /run/pmemlease
 * for root, else $XDG_RUNTIME_DIR/pmemlease.  A snapshot reads every state
 * file there and asks each live holder's agent thread for its regions and
 * leases (waiting up to timeout_ms for the answers).  What a tool like
 * pmemlease(1) shows with `pmemlease list`.
 */
/*
 * pml_file_has_state -- 1 if some process may hold lease state on the file
 * (dev, ino): its state file exists in the runtime directory (a crashed
 * process's leftover counts until the next process joins and clears it);
 * 0 if not, or if there is no runtime directory for this user; a negative
 * errno if it cannot tell.  One stat(2), no lock: what a caller about to
 * change a file's layout behind the library's back asks first
 * (libpmemlease-intercept.so does, on every call).
 */
int pml_file_has_state(dev_t dev, ino_t ino);

struct pml_snapshot;

struct pml_file_info {
	dev_t dev;
	ino_t ino;
	uint64_t size;			/* the file's size as the library has it */
	uint64_t quarantined;		/* bytes kept for revoked leases */
	uint32_t nholders;		/* live processes with it open */
	int barrier;			/* 1 while a punch/truncate/break waits */
	uint64_t barrier_offset;
	uint64_t barrier_length;
	pid_t barrier_pid;
	char state_path[4096];		/* the state file */
	uint64_t reserved[8];
};

struct pml_holder_info {
	pid_t pid;
	uid_t uid;
	char comm[16];
	uint64_t started_ns;		/* CLOCK_REALTIME it opened the file */
	int answered;			/* 0: its agent did not answer in time */
	uint32_t nregions;
	uint32_t nleases;
	uint64_t reserved[8];
};

struct pml_holder_region_info {
	char path[4096];		/* the holder's, made absolute at open */
	enum pml_region_kind kind;
	uint64_t size;
	char device[32];
	uint64_t reserved[8];
};

struct pml_lease_info {
	uint32_t region;		/* index among the holder's regions */
	unsigned flags;			/* PML_LEASE_REF, or 0 for a PIN */
	uint64_t offset;
	uint64_t length;
	uint32_t refs;
	int revoked;
	uint64_t age_ms;		/* since acquire, +- 250 ms */
	pid_t tid;			/* the thread that acquired it */
	uint64_t reserved[4];
};

/*
 * pml_snapshot_take -- read the runtime directory now.  path, if not NULL,
 * limits it to the state of that one file; pid, if not 0, to that process.
 */
int pml_snapshot_take(struct pml_snapshot **snap, const char *path, pid_t pid,
		uint32_t timeout_ms);
void pml_snapshot_free(struct pml_snapshot **snap);

unsigned pml_snapshot_nfiles(const struct pml_snapshot *snap);
const struct pml_file_info *pml_snapshot_file(const struct pml_snapshot *snap,
		unsigned file);
const struct pml_holder_info *pml_snapshot_holder(
		const struct pml_snapshot *snap, unsigned file, unsigned holder);
const struct pml_holder_region_info *pml_snapshot_region(
		const struct pml_snapshot *snap, unsigned file, unsigned holder,
		unsigned region);
const struct pml_lease_info *pml_snapshot_lease(
		const struct pml_snapshot *snap, unsigned file, unsigned holder,
		unsigned lease);

/* ------------------------------------------- revoke, removal and poison */

/*
 * A device can go away under a mapping: an administrator disables a dax
 * device or unbinds a namespace, a CXL device is unplugged.  The kernel
 * then revokes a devdax mapping (the next access gets SIGBUS) and leaves an
 * fsdax mapping pointing at a device that no longer exists.  Poisoned
 * media arrives as SIGBUS with BUS_MCEERR_AR.  The calls below let the
 * library take a region away in order -- holders told first, data flushed,
 * the mapping torn down -- and survive what the kernel does unannounced.
 */

/*
 * pml_region_revoke -- take the region away from its users, for good.
 *
 *   1. acquires on the region fail with -ENODEV from now on;
 *   2. everything mapped is flushed to the media (skipped when the device
 *      is known to be gone: flushing into it would fault);
 *   3. on_break(reason) of every lease of the region that has one, PIN or
 *      REF, in the calling thread, no library lock held;
 *   4. wait up to grace_ms for those leases to be put;
 *   5. leases still held are revoked (pml_lease_revoked() says 1) and the
 *      blocks under them quarantined in the file's shared state until put,
 *      for a device may still be writing there;
 *   6. the mapping is replaced by anonymous memory at the same addresses:
 *      a straggling CPU access lands there and faults nothing.
 *
 * Afterwards every call on the region returns -ENODEV (pml_region_base()
 * NULL, pml_region_size() 0) but pml_region_revoked() and
 * pml_region_close(), and every call on its leases returns -ENODEV but
 * pml_lease_revoked(), which says 1 -- pml_lease_put() too returns
 * -ENODEV, though it still lets the lease go: it is how a holder says it
 * is done.  pml_region_close() frees the region once its
 * leases are put (-EBUSY before, like any region).
 *
 * reason: what on_break is told -- PML_BREAK_REMOVE, PML_BREAK_POISON or
 * PML_BREAK_REVOKED.  Returns 0, or -ENODEV if the region was revoked
 * already.  Must not be called from an on_break of the same region.
 */
int pml_region_revoke(struct pml_region *region,
		enum pml_break_reason reason, uint32_t grace_ms);

/*
 * pml_region_revoked -- 1 if the region was revoked (by pml_region_revoke,
 * the monitor, a fault on a removed device, or another process's
 * pml_device_prepare_removal), 0 if not, negative on a bad region.
 */
int pml_region_revoked(const struct pml_region *region);

/*
 * pml_monitor_start -- watch the devices under every open region, for the
 * whole process.  Idempotent; the regions opened later are watched too.
 *
 *   - A thread ("pml-monitor") listens to the kernel's uevents
 *     (NETLINK_KOBJECT_UEVENT) and, on the unbind or removal of the dax
 *     device, the nd device or the block device under a region (a devdax
 *     region's st_rdev, an fsdax file's st_dev, or any device above them
 *     in sysfs), revokes the region: pml_region_revoke(PML_BREAK_REMOVE,
 *     no flush, grace 0 -- the device is gone).
 *   - A SIGBUS handler (SA_SIGINFO | SA_ONSTACK) that chains to the
 *     handler installed before it for faults outside every region.  A
 *     fault inside a region on a device that went away unannounced
 *     (BUS_ADRERR; also a file cut behind the library's back, by a raw
 *     ftruncate) replaces the region's mapping with anonymous memory, so
 *     the faulting access completes, and has the monitor thread revoke the
 *     region.  Poison (BUS_MCEERR_AR, BUS_MCEERR_AO) replaces the poisoned
 *     page(s) only, records them (pml_region_badblocks()), and has the
 *     leases over them revoked with on_break(PML_BREAK_POISON); the rest
 *     of the region stays in use.  Data in a replaced range reads zero:
 *     pml_region_read() says -EIO for it.
 *
 * Returns 0, or a negative errno (nothing started).
 */
int pml_monitor_start(void);

/* pml_monitor_stop -- stop the thread, restore the previous SIGBUS handler */
int pml_monitor_stop(void);

/*
 * For applications with their own event loop: pml_monitor_fd() opens a
 * non-blocking uevent socket (close it with close(2)); when it polls
 * readable, pml_monitor_dispatch() reads what is pending and revokes the
 * regions whose device went away, returning how many it revoked.  No
 * thread and no signal handler are involved.
 */
int pml_monitor_fd(void);
int pml_monitor_dispatch(int fd);

/*
 * pml_device_prepare_removal -- the user-space MF_MEM_PRE_REMOVE: before a
 * device is taken away, have every process that has a region on it --
 * devdax regions whose st_rdev is dev, fsdax regions on files whose st_dev
 * is dev -- drain, flush and revoke, through the shared state files of the
 * runtime directory (as root, also those of every user's
 * /run/user/UID/pmemlease).  Each holder revokes its regions there with
 * PML_BREAK_REMOVE and opts->timeout_ms of grace.
 *
 * Returns 0 when every holder has revoked (*nholders says how many
 * processes were asked), -ETIMEDOUT if some had not within timeout_ms
 * (plus a second) -- the caller decides whether to remove anyway -- or
 * -EACCES if a state file could not be opened (another user's, not root).
 * With PML_REMOVAL_GONE the device is gone already (a udev remove event):
 * holders skip the flush.
 */
#define PML_REMOVAL_GONE	(1U << 0)

struct pml_removal_opts {
	uint32_t timeout_ms;	/* 0: 10 s */
	uint32_t flags;		/* PML_REMOVAL_* */
};

int pml_device_prepare_removal(unsigned *nholders, dev_t dev,
		const struct pml_removal_opts *opts);

/* ------------------------------------------------------------------ CXL */

/*
 * Persistent memory now mostly arrives as CXL type-3 memory devices.  The
 * kernel assembles a CXL region -- a window of a root decoder, interleaved
 * over the endpoint decoders of one or more memdevs behind host bridges --
 * and presents its pmem as an nvdimm region, with devdax and fsdax
 * namespaces on it as on an NVDIMM: a region on /dev/daxN.M or on a file
 * there works as on any pmem.  CXL devices are hot-pluggable, so taking
 * one away is routine: `daxctl-lease disable-region` and `disable-memdev`
 * run pml_device_prepare_removal() for every dax and block device on the
 * CXL region first; the monitor (pml_monitor_start) treats the unbind or
 * removal of the CXL region, of one of its memdevs, or of a memdev's PCI
 * device, as the removal of the region's device.
 */
#define PML_CXL_MAX_MEMDEVS 16

struct pml_cxl_memdev_info {
	char memdev[32];		/* "mem0" */
	char decoder[32];		/* its endpoint decoder, "decoder2.0" */
	char host[64];			/* its PCI device, "0000:0d:00.0" */
	char host_bridge[64];		/* the host bridge above it, "pci0000:0c" */
	uint64_t serial;
	uint32_t position;		/* its place in the interleave */
	uint32_t reserved32;
	uint64_t reserved[4];
};

struct pml_cxl_info {
	char region[32];		/* the CXL region, "region0" */
	char root_decoder[32];		/* the window it is in, "decoder0.0" */
	char nd_region[32];		/* the nvdimm region on it, "region0" */
	uint64_t resource;		/* its host physical address */
	uint64_t size;			/* bytes */
	uint32_t interleave_ways;
	uint32_t interleave_granularity;	/* bytes */
	uint32_t nmemdevs;		/* memdevs[] filled, in position order */
	uint32_t reserved32;
	struct pml_cxl_memdev_info memdevs[PML_CXL_MAX_MEMDEVS];
	uint64_t reserved[8];
};

/*
 * pml_region_cxl_info -- the CXL topology under a region, read through
 * libcxl: its CXL region (matched to the region's nvdimm region by their
 * host physical address), interleave ways and granularity, and each
 * memdev with its endpoint decoder, PCI device and host bridge.  Returns
 * -ENODEV (with a message) when the region is not on CXL memory: a plain
 * file, an NVDIMM.
 */
int pml_region_cxl_info(struct pml_cxl_info *info,
		const struct pml_region *region);

/*
 * pml_device_cxl_info -- the same for a path that need not be open: a dax
 * device, or a file (the block device under its filesystem).  What
 * `pmemlease list` and `daxctl-lease list` show.  -ENODEV when it is not
 * on CXL memory; -ENOENT, -EACCES as stat(2).
 */
int pml_device_cxl_info(struct pml_cxl_info *info, const char *path);

/*
 * Safe copies: read or write [offset, offset + len) of the region through
 * libpmem2's machine-check-safe source I/O, not through the mapping, so
 * poisoned media returns -EIO instead of killing the process.  A range
 * recorded as poisoned (pml_region_badblocks) returns -EIO without being
 * touched.  pml_region_write persists what it wrote.
 */
int pml_region_read(struct pml_region *region, void *buf, uint64_t offset,
		size_t len);
int pml_region_write(struct pml_region *region, uint64_t offset,
		const void *buf, size_t len);

#define PML_BADBLOCK_DEVICE	(1U << 0)	/* in the kernel's badblocks */
#define PML_BADBLOCK_SEEN	(1U << 1)	/* a machine check we took */

struct pml_badblock {
	uint64_t offset;	/* in the region */
	uint64_t length;
	uint32_t flags;		/* PML_BADBLOCK_* */
	uint32_t reserved;
};

/*
 * pml_region_badblocks -- the region's bad blocks: those the kernel lists
 * for the namespace under it (libpmem2's badblock API, through libndctl)
 * and the poison this process took a machine check on.  *n: in, the room
 * in bbs; out, how many there are (more than the room: -ENOSPC, bbs
 * filled as far as it goes).  bbs may be NULL when *n is 0.
 */
int pml_region_badblocks(struct pml_badblock *bbs, size_t *n,
		struct pml_region *region);

/*
 * pml_region_badblock_clear -- clear the bad blocks in [offset, offset +
 * length): through libpmem2 for the kernel's list (needs root), and by
 * deallocating the range through the barrier (a punch: its leases are
 * drained first) and mapping it again for poison this process took, so the
 * file gets fresh blocks that read zero.  devdax: zeroed through the
 * machine-check-safe path instead.
 */
int pml_region_badblock_clear(struct pml_region *region, uint64_t offset,
		uint64_t length);

/* ---------------------------------------------------------- persistence */

/*
 * These are the libpmem2 functions of the region's mapping, chosen once at
 * open for its store granularity: flushing cache lines (with the best
 * instruction the CPU has) on DAX, msync on a plain file, nothing with eADR.
 * The pml_region_* wrappers check that the range lies inside the region;
 * the *_fn getters hand out the libpmem2 function itself for hot loops.
 */
#define PML_F_MEM_NODRAIN	(1U << 0)
#define PML_F_MEM_NONTEMPORAL	(1U << 1)
#define PML_F_MEM_TEMPORAL	(1U << 2)
#define PML_F_MEM_WC		(1U << 3)
#define PML_F_MEM_WB		(1U << 4)
#define PML_F_MEM_NOFLUSH	(1U << 5)

typedef void (*pml_persist_fn)(const void *ptr, size_t size);
typedef void (*pml_flush_fn)(const void *ptr, size_t size);
typedef void (*pml_drain_fn)(void);
typedef void *(*pml_memcpy_fn)(void *dest, const void *src, size_t len,
		unsigned flags);
typedef void *(*pml_memset_fn)(void *dest, int c, size_t len,
		unsigned flags);

/* flush and drain: [addr, addr + len) is durable when it returns */
int pml_region_persist(struct pml_region *region, const void *addr,
		size_t len);
/* flush only; pml_region_drain() makes every earlier flush durable */
int pml_region_flush(struct pml_region *region, const void *addr, size_t len);
int pml_region_drain(struct pml_region *region);
/* copy or fill, then persist unless flags say otherwise (PML_F_MEM_*) */
int pml_region_memcpy(struct pml_region *region, void *dest, const void *src,
		size_t len, unsigned flags);
int pml_region_memset(struct pml_region *region, void *dest, int c,
		size_t len, unsigned flags);

/* the functions themselves; NULL on a bad region */
pml_persist_fn pml_region_persist_fn(const struct pml_region *region);
pml_flush_fn pml_region_flush_fn(const struct pml_region *region);
pml_drain_fn pml_region_drain_fn(const struct pml_region *region);
pml_memcpy_fn pml_region_memcpy_fn(const struct pml_region *region);
pml_memset_fn pml_region_memset_fn(const struct pml_region *region);

#ifdef __cplusplus
}
#endif

#endif /* PMEMLEASE_H */
