/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shared.c -- the state file every process opening a file shares: where it
 * lives, how it is created and checked, its lock, process slots, liveness,
 * and ownership of layout changes across processes.  See shared.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "region.h"
#include "shared.h"

#define LOCK_PATIENCE_MS 5000

static pthread_mutex_t shared_files_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shared_file *shared_files;

/* ------------------------------------------------------------ futex */

int
shm_futex_wait(_Atomic uint32_t *word, uint32_t val, int timeout_ms)
{
	struct timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (long)(timeout_ms % 1000) * 1000000L,
	};

	/* not FUTEX_PRIVATE: the word is in a mapping other processes share */
	return (int)syscall(SYS_futex, word, FUTEX_WAIT, val,
			timeout_ms >= 0 ? &ts : NULL, NULL, 0);
}

void
shm_futex_wake(_Atomic uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* bump the word, so a waiter that read it before cannot miss the wake */
static void
futex_wake_all(_Atomic uint32_t *word)
{
	atomic_fetch_add(word, 1);
	shm_futex_wake(word);
}

/* ---------------------------------------------------------- liveness */

/*
 * shm_slot_alive -- does a live process hold slot's liveness byte?  Our
 * own slot reads as alive: an OFD lock never conflicts with itself.
 */
bool
shm_slot_alive(struct shared_file *sf, uint32_t slot)
{
	if (slot >= SHM_SLOTS)
		return false;
	if (slot == sf->slot)
		return true;
	return liveness_lock(sf->fd, slot, F_OFD_GETLK, F_WRLCK) == 1;
}

/* ------------------------------------------------------------- lock */

/*
 * shm_lock -- the state file's lock: a word holding the holder's slot.  A
 * holder that died with it is found by its liveness byte and the lock is
 * taken over; whatever it was half-way through is the kind of partial
 * update every critical section here is written to leave harmless
 * (counts are written after the entries they count).
 */
int
shm_lock(struct shared_file *sf)
{
	struct shm_header *h = sf->h;
	uint32_t me = sf->slot + 1;
	unsigned silent = 0;	/* 50 ms waits without a wake, same holder */
	uint32_t last = 0;

	for (;;) {
		uint32_t cur = 0;

		if (atomic_compare_exchange_strong(&h->lock, &cur, me))
			return 0;
		/* cur == me: another thread of ours; it is never recursive */
		if (shm_futex_wait(&h->lock, cur, 50) == 0)
			continue;	/* woken: try again */
		/* 50 ms without a wake: is the holder still there? */
		if ((cur > SHM_SLOTS || !shm_slot_alive(sf, cur - 1)) &&
		    atomic_compare_exchange_strong(&h->lock, &cur, me))
			return 0;
		silent = cur == last ? silent + 1 : 0;
		last = cur;
		/*
		 * Held for microseconds by design: a live holder sitting on it
		 * for seconds is a hung process or a forged lock word.  Say so
		 * rather than hang with it.
		 */
		if (silent >= LOCK_PATIENCE_MS / 50)
			return err_set(EDEADLK, "state file %s: its lock has "
					"been held by slot %u for over %d s: a "
					"hung process or a corrupt file", sf->path,
					cur - 1, LOCK_PATIENCE_MS / 1000);
	}
}

void
shm_unlock(struct shared_file *sf)
{
	atomic_store(&sf->h->lock, 0);
	syscall(SYS_futex, &sf->h->lock, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* shm_bump -- under lock: something others must apply has changed */
void
shm_bump(struct shared_file *sf)
{
	atomic_fetch_add(&sf->h->state_seq, 1);
}

/*
 * shm_wake_agents -- wake the agents of every other process with the file
 * open.  Not ours: whoever changed the state runs our pass itself.
 */
void
shm_wake_agents(struct shared_file *sf)
{
	for (uint32_t i = 0; i < SHM_SLOTS; i++)
		if (i != sf->slot && atomic_load(&sf->h->slots[i].used))
			futex_wake_all(&sf->h->slots[i].wake);
}

void
shm_wake_owner(struct shared_file *sf)
{
	futex_wake_all(&sf->h->owner_wake);
}

/*
 * shm_check -- under lock: the fields later code indexes with are in
 * range.  A state file that fails is reported, never followed.
 */
int
shm_check(struct shared_file *sf)
{
	const struct shm_header *h = sf->h;

	if (h->nquar > SHM_QUAR_MAX || h->barrier_owner > SHM_SLOTS ||
	    atomic_load(&h->layout_owner) > SHM_SLOTS ||
	    h->barrier_phase > SHM_PHASE_REVOKE ||
	    (h->barrier_phase && h->barrier_start >= h->barrier_end))
		return err_set(EUCLEAN, "state file %s is corrupt (a table "
				"index or barrier is out of range)", sf->path);
	for (uint32_t i = 0; i < h->nquar; i++)
		if (h->quar[i].slot >= SHM_SLOTS ||
		    h->quar[i].start >= h->quar[i].end)
			return err_set(EUCLEAN, "state file %s is corrupt "
					"(quarantine entry %u)", sf->path, i);
	return 0;
}

/*
 * slot_forget -- under lock: whatever slot i left behind goes.  Its
 * quarantines count as put (lifted by the next layout owner), its layout
 * ownership and its barrier are dropped.  Returns whether anything named
 * the slot.
 */
static bool
slot_forget(struct shared_file *sf, uint32_t i)
{
	struct shm_header *h = sf->h;
	bool changed = false;

	for (uint32_t q = 0; q < h->nquar; q++) {
		if (h->quar[q].slot == i && !h->quar[q].released) {
			h->quar[q].released = 1;
			h->lift_pending = 1;
			changed = true;
		}
	}
	if (atomic_load(&h->layout_owner) == i + 1) {
		/* it died lifting: the next owner lifts again */
		for (uint32_t q = 0; q < h->nquar; q++) {
			if (h->quar[q].released == QUAR_LIFTING) {
				h->quar[q].released = 1;
				h->lift_pending = 1;
			}
		}
		atomic_store(&h->layout_lifting, 0);
		atomic_store(&h->layout_owner, 0);
		futex_wake_all(&h->layout_wake);
		changed = true;
	}
	if (h->barrier_owner == i + 1) {
		h->barrier_owner = 0;
		h->barrier_phase = SHM_PHASE_NONE;
		changed = true;
	}
	return changed;
}

/*
 * shm_reap_dead -- under lock: forget processes that died.  Their live
 * leases died with them (a process's DMA ends before its exit does); the
 * quarantines kept for their revoked leases count as put.
 */
void
shm_reap_dead(struct shared_file *sf)
{
	struct shm_header *h = sf->h;
	bool changed = false;

	for (uint32_t i = 0; i < SHM_SLOTS; i++) {
		if (!atomic_load(&h->slots[i].used) || shm_slot_alive(sf, i))
			continue;
		slot_forget(sf, i);
		atomic_store(&h->slots[i].used, 0);
		changed = true;
	}
	if (changed) {
		shm_bump(sf);
		shm_wake_agents(sf);
	}
}

/* ------------------------------------------------- layout ownership */

/*
 * shared_layout_begin -- become the one process changing the file's layout.
 * Waits, checking every 100 ms that the owner is alive, until the deadline
 * (NULL: forever), or not at all with trylock.
 */
int
shared_layout_begin(struct shared_file *sf, const struct timespec *deadline,
		bool trylock)
{
	struct shm_header *h = sf->h;
	uint32_t me = sf->slot + 1;

	for (;;) {
		uint32_t cur = 0;

		if (atomic_compare_exchange_strong(&h->layout_owner, &cur, me))
			return 0;
		/* cur == me: another thread of ours owns it; wait as for any */
		if (trylock)
			return -EBUSY;

		uint32_t w = atomic_load(&h->layout_wake);

		if (atomic_load(&h->layout_owner) == 0)
			continue;

		int ms = 100;

		if (deadline) {
			struct timespec now;

			clock_gettime(CLOCK_MONOTONIC, &now);
			long left = (deadline->tv_sec - now.tv_sec) * 1000 +
				(deadline->tv_nsec - now.tv_nsec) / 1000000;

			/*
			 * A lift waits for nobody and ends soon: waiting it
			 * out is not what the caller's timeout is about.
			 */
			if (left <= 0 && !atomic_load(&h->layout_lifting))
				return err_set(ETIMEDOUT, "another punch or "
					"truncate of the file (in this or another "
					"process) did not finish in time");
			if (left > 0 && left < ms)
				ms = (int)left;
		}
		if (shm_futex_wait(&h->layout_wake, w, ms) && errno == ETIMEDOUT) {
			int ret = shm_lock(sf);

			if (ret)
				return ret;
			shm_reap_dead(sf);
			shm_unlock(sf);
		}
	}
}

void
shared_layout_end(struct shared_file *sf)
{
	atomic_store(&sf->h->layout_owner, 0);
	futex_wake_all(&sf->h->layout_wake);
}

static void
shared_free(struct shared_file *sf)
{
	if (sf->h)
		munmap(sf->h, sizeof(*sf->h));
	if (sf->fd >= 0)
		close(sf->fd);	/* drops the liveness lock */
	pthread_mutex_destroy(&sf->apply_lock);
	pthread_cond_destroy(&sf->unpinned);
	free(sf->snap);
	free(sf->apply);
	free(sf->regions);
	free(sf);
}

static int
attach_new(struct shared_file **out, const struct pml_region *r,
		mode_t data_mode)
{
	struct shared_file *sf = calloc(1, sizeof(*sf));

	if (!sf)
		return err_set(ENOMEM, "cannot allocate shared state");
	sf->fd = -1;
	sf->dev = r->dev;
	sf->ino = shared_ino(r);
	sf->birth = r->kind == PML_REGION_DEVDAX ? 0 : birth_time(r->fd);
	pthread_mutex_init(&sf->apply_lock, NULL);
	pthread_cond_init(&sf->unpinned, NULL);
	sf->snap = malloc(sizeof(*sf->snap));
	if (!sf->snap) {
		shared_free(sf);
		return err_set(ENOMEM, "cannot allocate shared state");
	}

	int ret = state_open(sf, data_mode);

	if (!ret)
		ret = shm_lock(sf);
	if (!ret) {
		ret = shm_check(sf);
		if (!ret) {
			shm_reap_dead(sf);
			/*
			 * The slot we claimed may be a dead process's that
			 * nobody reaped: its leftovers are not ours.
			 */
			if (slot_forget(sf, sf->slot))
				shm_bump(sf);
			slot_init(sf);
		}
		shm_unlock(sf);
	}
	if (!ret)
		ret = agent_start(sf);
	if (ret) {
		if (sf->h && sf->slot < SHM_SLOTS &&
		    sf->h->slots[sf->slot].pid == getpid())
			atomic_store(&sf->h->slots[sf->slot].used, 0);
		shared_free(sf);
		return ret;
	}
	*out = sf;
	return 0;
}

/*
 * shared_attach -- find or create this process's state for the region's
 * file and hold it; the region joins the agent's passes only with
 * shared_publish_region, once it is whole.
 */
int
shared_attach(struct pml_region *r, mode_t data_mode)
{
	struct shared_file *sf;
	int ret = 0;

	pthread_mutex_lock(&shared_files_lock);
	for (sf = shared_files; sf; sf = sf->next)
		if (sf->dev == r->dev && sf->ino == shared_ino(r) &&
		    sf->birth == (r->kind == PML_REGION_DEVDAX ? 0 :
				    birth_time(r->fd)))
			break;
	if (!sf) {
		ret = attach_new(&sf, r, data_mode);
		if (!ret) {
			sf->next = shared_files;
			shared_files = sf;
		}
	}
	if (!ret) {
		sf->refs++;
		r->shared = sf;
	}
	pthread_mutex_unlock(&shared_files_lock);
	return ret;
}

int
shared_publish_region(struct pml_region *r)
{
	struct shared_file *sf = r->shared;
	int ret = 0;

	pthread_mutex_lock(&shared_files_lock);

	struct pml_region **v = realloc(sf->regions,
			(sf->nregions + 1) * sizeof(*v));

	if (!v) {
		ret = err_set(ENOMEM, "cannot attach the region");
	} else {
		sf->regions = v;
		sf->regions[sf->nregions++] = r;
	}
	pthread_mutex_unlock(&shared_files_lock);
	return ret;
}

void
shared_detach(struct pml_region *r)
{
	struct shared_file *sf = r->shared;

	if (!sf)
		return;

	pthread_mutex_lock(&shared_files_lock);
	/* a pass may be using the region: it is freed only after */
	while (sf->pins)
		pthread_cond_wait(&sf->unpinned, &shared_files_lock);
	for (unsigned i = 0; i < sf->nregions; i++) {
		if (sf->regions[i] == r) {
			sf->regions[i] = sf->regions[--sf->nregions];
			break;
		}
	}
	r->shared = NULL;

	bool last = --sf->refs == 0;

	if (last) {
		struct shared_file **pp = &shared_files;

		while (*pp != sf)
			pp = &(*pp)->next;
		*pp = sf->next;
	}
	pthread_mutex_unlock(&shared_files_lock);

	if (last) {
		agent_stop(sf);
		state_leave(sf);
		shared_free(sf);
	}
}

/*
 * shared_regions_pin -- copy the regions on sf for a pass, and keep them
 * from being detached (and freed) until shared_regions_unpin.  Caller
 * holds sf->apply_lock.
 */
void
shared_regions_pin(struct shared_file *sf)
{
	pthread_mutex_lock(&shared_files_lock);
	sf->pins++;

	struct pml_region **v = realloc(sf->apply,
			(sf->nregions ? sf->nregions : 1) * sizeof(*v));

	if (v) {
		sf->apply = v;
		if (sf->nregions)
			memcpy(v, sf->regions, sf->nregions * sizeof(*v));
		sf->napply = sf->nregions;
	} else {
		sf->napply = 0;	/* this pass skips; the next one retries */
		atomic_store(&sf->retry, true);
	}
	pthread_mutex_unlock(&shared_files_lock);
}

void
shared_regions_unpin(struct shared_file *sf)
{
	pthread_mutex_lock(&shared_files_lock);
	sf->napply = 0;
	if (--sf->pins == 0)
		pthread_cond_broadcast(&sf->unpinned);
	pthread_mutex_unlock(&shared_files_lock);
}

/*
 * shm_snapshot -- copy what a pass applies, under the lock, checked.
 */
int
shm_snapshot(struct shared_file *sf, struct shm_snapshot *s)
{
	struct shm_header *h = sf->h;
	int ret = shm_lock(sf);

	if (ret)
		return ret;
	ret = shm_check(sf);
	if (!ret) {
		s->state_seq = atomic_load(&h->state_seq);
		s->size = h->size;
		s->seq = h->barrier_seq;
		s->start = h->barrier_start;
		s->end = h->barrier_end;
		s->owner = h->barrier_owner;
		s->phase = h->barrier_phase;
		s->brk = h->barrier_break;
		s->owner_uid = s->owner && s->owner <= SHM_SLOTS ?
			h->slots[s->owner - 1].uid : UINT32_MAX;
		s->nquar = h->nquar;
		memcpy(s->quar, h->quar, h->nquar * sizeof(h->quar[0]));
	}
	shm_unlock(sf);
	return ret;
}

/*
 * shared_lift -- if quarantines were released and nobody owns the file's
 * layout, take it and lift them through r.  Returns whether anything was
 * lifted (this process's views then need a pass).  The owner of a layout
 * change lifts too, after giving the layout up: a release that came while
 * it worked is not lost, whoever looks last does it.
 */
bool
shared_lift(struct shared_file *sf, struct pml_region *r)
{
	bool lifted = false;

	while (atomic_load(&sf->h->lift_pending) &&
	       shared_layout_begin(sf, NULL, true) == 0) {
		atomic_store(&sf->h->layout_lifting, 1);
		region_layout_begin(r);
		region_unlock(r);
		/* what it cuts past the size must be past ours too */
		if (region_follow_size(r, true) == 0)
			lifted |= quarantine_lift(r);
		region_layout_end(r);
		atomic_store(&sf->h->layout_lifting, 0);
		shared_layout_end(sf);
	}
	return lifted;
}

/*
 * shared_housekeeping -- the agent's periodic duty: forget dead processes
 * (a barrier or a quarantine may be waiting on one), and lift what their
 * death released.
 */
void
shared_housekeeping(struct shared_file *sf)
{
	struct shm_header *h = sf->h;

	/* a glance without the lock: the next period looks again anyway */
	if (!atomic_load(&h->nquar) &&
	    !atomic_load(&h->barrier_phase) &&
	    !atomic_load(&h->layout_owner))
		return;
	if (shm_lock(sf))
		return;
	shm_reap_dead(sf);

	bool lift = h->lift_pending;

	shm_unlock(sf);
	if (!lift)
		return;

	pthread_mutex_lock(&sf->apply_lock);
	shared_regions_pin(sf);
	for (unsigned i = 0; i < sf->napply; i++) {
		struct pml_region *r = sf->apply[i];

		if (r->state == REGION_OPEN) {
			if (shared_lift(sf, r))
				agent_apply(sf, NULL);
			break;
		}
	}
	shared_regions_unpin(sf);
	pthread_mutex_unlock(&sf->apply_lock);
}

/*
 * shared_size -- the region's size: the file's shared size if another
 * process set one, else the file's own, which becomes the shared one.
 * A shared size beyond the file means someone truncated the file behind
 * the library's back: the file wins.
 */
int
shared_size(struct pml_region *r, uint64_t *size)
{
	struct shared_file *sf = r->shared;
	uint64_t file_size = *size;
	int ret = shm_lock(sf);

	if (ret)
		return ret;
	if (r->kind == PML_REGION_DEVDAX || sf->h->size == UINT64_MAX ||
			sf->h->size > *size) {
		sf->h->size = *size;
	} else if (sf->h->size % r->alignment) {
		ret = err_set(EUCLEAN, "state file %s is corrupt: size %" PRIu64
				" breaks the file's alignment %" PRIu64, sf->path,
				sf->h->size, r->alignment);
	} else {
		*size = sf->h->size;
	}
	/* quarantined blocks stay in the file: none can lie past its end */
	for (uint32_t i = 0; !ret && i < sf->h->nquar && i < SHM_QUAR_MAX; i++)
		if (sf->h->quar[i].end > file_size ||
		    sf->h->quar[i].start % r->alignment)
			ret = err_set(EUCLEAN, "state file %s is corrupt: "
					"quarantine entry %u [%" PRIu64 ", %"
					PRIu64 ") is not inside the file", sf->path,
					i, sf->h->quar[i].start, sf->h->quar[i].end);
	shm_unlock(sf);
	return ret;
}

void
shared_fork_prepare(void)
{
	pthread_mutex_lock(&shared_files_lock);
}

void
shared_fork_parent(void)
{
	pthread_mutex_unlock(&shared_files_lock);
}

/*
 * shared_fork_child -- forget the parent's shared files: their agents are
 * not here, their slots are the parent's.  Our copies of their descriptors
 * are closed -- the parent's, open on the same descriptions, keep its
 * liveness locks.  The memory is left as it is: a lock copied mid-update
 * must not be touched.
 */
void
shared_fork_child(void)
{
	for (struct shared_file *sf = shared_files; sf; sf = sf->next)
		if (sf->fd >= 0)
			close(sf->fd);
	shared_files = NULL;
	pthread_mutex_init(&shared_files_lock, NULL);
}

/* shared_get_size -- the file's size as the state file has it now */
uint64_t
shared_get_size(struct shared_file *sf)
{
	uint64_t size = UINT64_MAX;

	if (shm_lock(sf) == 0) {
		size = sf->h->size;
		shm_unlock(sf);
	}
	return size;
}

/* shared_set_size -- the layout owner's: the file's size is now size */
int
shared_set_size(struct shared_file *sf, uint64_t size)
{
	int ret = shm_lock(sf);

	if (ret)
		return ret;
	sf->h->size = size;
	shm_bump(sf);
	shm_unlock(sf);
	return 0;
}

/*
 * shm_report -- a slot's acknowledgement only moves forward: a put that
 * read an older barrier's number must not undo a newer report.
 */
void
shm_report(_Atomic uint64_t *word, uint64_t seq)
{
	uint64_t cur = atomic_load(word);

	while (cur < seq && !atomic_compare_exchange_weak(word, &cur, seq))
		;
}

/*
 * shared_blocks -- does the state file block [start, end) right now: a
 * barrier up, a quarantine, or the end of the file?  For an acquire whose
 * agent is behind.
 */
int
shared_blocks(struct shared_file *sf, uint64_t start, uint64_t end)
{
	struct shm_header *h = sf->h;
	int blocked = SHM_CLEAR;

	if (shm_lock(sf))
		return SHM_CLEAR;	/* the view decides, as before */
	if (shm_check(sf) == 0) {
		if (end > h->size)	/* a shrink not applied here yet */
			blocked = SHM_PAST_END;
		else if (h->barrier_phase != SHM_PHASE_NONE &&
			 range_overlaps(h->barrier_start, h->barrier_end,
					start, end))
			blocked = SHM_BLOCKED;
		for (uint32_t i = 0; i < h->nquar && !blocked; i++)
			if (range_overlaps(h->quar[i].start, h->quar[i].end,
					start, end))
				blocked = SHM_BLOCKED;
	}
	shm_unlock(sf);
	return blocked;
}

