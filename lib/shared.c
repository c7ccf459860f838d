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

#define ENV_RUNTIME_DIR "PMEMLEASE_RUNTIME_DIR"

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

static int
liveness_lock(int fd, uint32_t slot, int cmd, short type)
{
	struct flock fl = {
		.l_type = type,
		.l_whence = SEEK_SET,
		.l_start = (off_t)(SHM_LIVENESS_BASE + slot),
		.l_len = 1,
	};

	if (fcntl(fd, cmd, &fl))
		return -errno;
	return cmd == F_OFD_GETLK ? fl.l_type != F_UNLCK : 0;
}

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
		for (uint32_t q = 0; q < h->nquar; q++) {
			if (h->quar[q].slot == i && !h->quar[q].released) {
				h->quar[q].released = 1;
				h->lift_pending = 1;
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
			atomic_store(&h->layout_owner, 0);
			futex_wake_all(&h->layout_wake);
		}
		if (h->barrier_owner == i + 1) {
			h->barrier_owner = 0;
			h->barrier_phase = SHM_PHASE_NONE;
		}
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

			if (left <= 0)
				return err_set(ETIMEDOUT, "another process's "
					"punch or truncate of the file did not "
					"finish in time");
			if (left < ms)
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

/* --------------------------------------------------- runtime dir */

/*
 * runtime_dir -- where state files live: $PMEMLEASE_RUNTIME_DIR, else
 * /run/pmemlease for root, else $XDG_RUNTIME_DIR/pmemlease.  Processes of
 * several users share state only through a directory named for all of
 * them with the environment variable.
 */
int
runtime_dir(char *buf, size_t n)
{
	const char *env = getenv(ENV_RUNTIME_DIR);
	int len;

	if (env && *env)
		len = snprintf(buf, n, "%s", env);
	else if (geteuid() == 0)
		len = snprintf(buf, n, "/run/pmemlease");
	else if ((env = getenv("XDG_RUNTIME_DIR")) && *env)
		len = snprintf(buf, n, "%s/pmemlease", env);
	else
		return err_set(ENOENT, "no runtime directory for lease state: "
				"set %s or XDG_RUNTIME_DIR", ENV_RUNTIME_DIR);
	if (len < 0 || (size_t)len >= n)
		return err_set(ENAMETOOLONG, "runtime directory path too long");
	return 0;
}

/*
 * open_dir -- the runtime directory, created 0700 if missing, and refused
 * unless it is ours (or root's) and nobody else can write into it -- or it
 * is sticky, like a directory shared between users on purpose.
 */
static int
open_dir(const char *dir)
{
	if (mkdir(dir, 0700) && errno != EEXIST)
		return err_set(errno, "mkdir %s: %m", dir);

	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (dfd < 0)
		return err_set(errno, "open %s: %m (a symlink is refused)", dir);
	if (fstat(dfd, &st)) {
		int e = errno;

		close(dfd);
		return err_set(e, "fstat %s: %m", dir);
	}
	if ((st.st_uid != geteuid() && st.st_uid != 0) ||
	    ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))) {
		close(dfd);
		return err_set(EPERM, "runtime directory %s is owned by uid %u "
				"with mode %o: refusing it (it must be ours or "
				"root's, and not writable by others unless "
				"sticky)", dir, st.st_uid, st.st_mode & 07777);
	}
	return dfd;
}

static void
header_init(struct shm_header *h, const struct shared_file *sf)
{
	memset(h, 0, sizeof(*h));
	h->version = SHM_VERSION;
	h->header_size = sizeof(*h);
	h->dev = sf->dev;
	h->ino = sf->ino;
	h->birth = sf->birth;
	h->nslots = SHM_SLOTS;
	h->quar_max = SHM_QUAR_MAX;
	h->size = UINT64_MAX;	/* set by the first region from its file */
	/* the magic last: a half-made file is never taken for a valid one */
	memcpy(h->magic, SHM_MAGIC, sizeof(h->magic));
}

static int
header_valid(const struct shm_header *h, const char *path,
		const struct shared_file *sf)
{
	if (memcmp(h->magic, SHM_MAGIC, sizeof(h->magic)))
		return err_set(EUCLEAN, "state file %s has no valid magic: it "
				"is not a pmemlease state file or it is corrupt",
				path);
	if (h->version != SHM_VERSION || h->header_size != sizeof(*h) ||
	    h->nslots != SHM_SLOTS || h->quar_max != SHM_QUAR_MAX)
		return err_set(ESTALE, "state file %s has version %u, layout "
				"%u bytes; this library writes version %u, %zu "
				"bytes", path, h->version, h->header_size,
				SHM_VERSION, sizeof(*h));
	if (h->dev != (uint64_t)sf->dev || h->ino != (uint64_t)sf->ino ||
	    h->birth != sf->birth)
		return err_set(ESTALE, "state file %s describes another file "
				"(dev %" PRIu64 " ino %" PRIu64 " born %" PRIu64
				")", path, h->dev, h->ino, h->birth);
	return 0;
}

/* is any process attached to the state?  Under flock. */
static bool
anyone_attached(struct shared_file *sf)
{
	for (uint32_t i = 0; i < SHM_SLOTS; i++)
		if (liveness_lock(sf->fd, i, F_OFD_GETLK, F_WRLCK) == 1)
			return true;
	return false;
}

/* the first free slot: one whose liveness byte no live process holds */
static int
slot_claim(struct shared_file *sf)
{
	for (uint32_t i = 0; i < SHM_SLOTS; i++) {
		if (liveness_lock(sf->fd, i, F_OFD_SETLK, F_WRLCK) == 0) {
			sf->slot = i;
			return 0;
		}
	}
	return err_set(EUSERS, "state file %s: all %d process slots are "
			"held by live processes", sf->path, SHM_SLOTS);
}

/*
 * state_open -- open or create the state file of the region's file, and
 * claim a slot in it.  Both run under flock, so that two processes starting
 * together agree on one header, and a last process leaving (state_leave)
 * never removes a file somebody has just opened.  Mode: the data file's
 * read/write bits, so whoever may write the data may take part.
 */
static int
state_open(struct shared_file *sf, mode_t data_mode)
{
	char dir[3900];
	int ret = runtime_dir(dir, sizeof(dir));

	if (ret)
		return ret;

	char name[96];

	snprintf(name, sizeof(name), "dev-%" PRIx64 "-ino-%" PRIx64 ".state",
			(uint64_t)sf->dev, (uint64_t)sf->ino);
	if ((size_t)snprintf(sf->path, sizeof(sf->path), "%.3900s/%s", dir,
			name) >= sizeof(sf->path))
		return err_set(ENAMETOOLONG, "state file path too long");

	mode_t mode = (data_mode & 0666) | 0600;
	struct stat st;
	int fd;

	for (;;) {
		int dfd = open_dir(dir);

		if (dfd < 0)
			return dfd;

		mode_t old = umask(0);

		fd = openat(dfd, name, O_RDWR | O_CREAT | O_NOFOLLOW |
				O_CLOEXEC, mode);
		umask(old);
		close(dfd);
		if (fd < 0)
			return err_set(errno, "open %s: %m (a symlink is "
					"refused)", sf->path);
		if (flock(fd, LOCK_EX)) {
			ret = err_set(errno, "flock %s: %m", sf->path);
			close(fd);
			return ret;
		}
		if (fstat(fd, &st)) {
			ret = err_set(errno, "fstat %s: %m", sf->path);
			close(fd);
			return ret;
		}
		if (st.st_nlink != 0)
			break;
		close(fd);	/* removed by a last leaver meanwhile: again */
	}
	sf->fd = fd;

	if (!S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    (st.st_uid != geteuid() && st.st_uid != 0) ||
	    (st.st_mode & ~mode & 0777)) {
		ret = err_set(EPERM, "state file %s (uid %u, mode %o, %lu "
				"links) is not one we can trust", sf->path,
				st.st_uid, st.st_mode & 07777,
				(unsigned long)st.st_nlink);
		goto unlock;
	}

	/*
	 * A file with our magic but another layout (another library version)
	 * or another file's identity (its inode number reused after the old
	 * file was removed), that nobody is attached to, is a leftover:
	 * nothing in it can matter any more, so it is made anew.  Anything
	 * else that fails the checks is reported, never followed.
	 */
	size_t want = sizeof(struct shm_header);
	bool fresh = st.st_size == 0;
	char magic[sizeof(SHM_MAGIC) - 1];

	if (!fresh && (pread(fd, magic, sizeof(magic), 0) != sizeof(magic) ||
			memcmp(magic, SHM_MAGIC, sizeof(magic)))) {
		ret = err_set(EUCLEAN, "state file %s is not a pmemlease state "
				"file or is corrupt (bad magic); remove it if no "
				"process uses the file", sf->path);
		goto unlock;
	}
	bool leftover = !fresh && (uint64_t)st.st_size != want &&
		!anyone_attached(sf);

	if ((fresh || leftover) && ftruncate(fd, (off_t)want)) {
		ret = err_set(errno, "ftruncate %s: %m", sf->path);
		goto unlock;
	}
	if (!fresh && !leftover && (uint64_t)st.st_size != want) {
		ret = err_set(EUCLEAN, "state file %s has %" PRIu64 " bytes, "
				"not %zu, and is in use: truncated, corrupt or "
				"of another library version", sf->path,
				(uint64_t)st.st_size, want);
		goto unlock;
	}
	sf->h = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (sf->h == MAP_FAILED) {
		sf->h = NULL;
		ret = err_set(errno, "mmap %s: %m", sf->path);
		goto unlock;
	}
	ret = fresh || leftover ? -ESTALE : header_valid(sf->h, sf->path, sf);
	if (ret == -ESTALE && (fresh || leftover || !anyone_attached(sf))) {
		header_init(sf->h, sf);
		(void) fchmod(fd, mode);
		ret = 0;
	}
	if (!ret)
		ret = slot_claim(sf);
unlock:
	flock(fd, LOCK_UN);
	return ret;
}

/* fill in our slot; under lock, the slot claimed */
static void
slot_init(struct shared_file *sf)
{
	struct shm_slot *s = &sf->h->slots[sf->slot];
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	s->pid = getpid();
	s->uid = geteuid();
	s->started_ns = (uint64_t)now.tv_sec * 1000000000u +
		(uint64_t)now.tv_nsec;
	memset(s->comm, 0, sizeof(s->comm));
	prctl(PR_GET_NAME, s->comm);
	/* what a dead predecessor acknowledged means nothing to us */
	atomic_store(&s->ack_seq, 0);
	atomic_store(&s->drained_seq, 0);
	atomic_store(&s->revoked_seq, 0);
	atomic_store(&s->used, 1);
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
	free(sf->snap_owner);
	free(sf->apply);
	free(sf->regions);
	free(sf);
}

static uint64_t
birth_time(int fd)
{
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &stx) ||
			!(stx.stx_mask & STATX_BTIME))
		return 0;
	return (uint64_t)stx.stx_btime.tv_sec * 1000000000u +
		stx.stx_btime.tv_nsec;
}

/*
 * state_leave -- give our slot up; the last process out removes the state
 * file unless a quarantine in it still waits (for a process that is gone,
 * its blocks are lifted by the next one in).  Under flock, which openers
 * hold while they check that the file they opened is still the one named.
 */
static void
state_leave(struct shared_file *sf)
{
	struct shm_header *h = sf->h;

	char dump[4200];

	if (flock(sf->fd, LOCK_EX) == 0) {
		atomic_store(&h->slots[sf->slot].used, 0);
		(void) liveness_lock(sf->fd, sf->slot, F_OFD_SETLK, F_UNLCK);
		if (dump_path(dump, sizeof(dump), sf->path, sf->slot) == 0)
			(void) unlink(dump);
		if (!h->nquar && !anyone_attached(sf)) {
			/* and the answers dead processes left behind */
			for (uint32_t i = 0; i < SHM_SLOTS; i++)
				if (dump_path(dump, sizeof(dump), sf->path, i)
						== 0)
					(void) unlink(dump);
			(void) unlink(sf->path);
		}
		flock(sf->fd, LOCK_UN);
	}
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
	sf->snap_owner = malloc(sizeof(*sf->snap_owner));
	if (!sf->snap || !sf->snap_owner) {
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
		memcpy(v, sf->regions, sf->nregions * sizeof(*v));
		sf->napply = sf->nregions;
	} else {
		sf->napply = 0;	/* this pass skips; the next one retries */
		atomic_store(&sf->seen_state_seq, 0);
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
		region_layout_begin(r);
		region_unlock(r);
		lifted |= quarantine_lift(r);
		region_layout_end(r);
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
	int ret = shm_lock(sf);

	if (ret)
		return ret;
	if (r->kind == PML_REGION_DEVDAX || sf->h->size == UINT64_MAX ||
			sf->h->size > *size) {
		sf->h->size = *size;
		atomic_fetch_add(&sf->h->size_seq, 1);
	} else {
		*size = sf->h->size;
	}
	shm_unlock(sf);
	return 0;
}

/* dump_path -- where slot's answer to a lister goes */
int
dump_path(char *buf, size_t n, const char *state_path, uint32_t slot)
{
	int len = snprintf(buf, n, "%s.%u.dump", state_path, slot);

	if (len < 0 || (size_t)len >= n)
		return err_set(ENAMETOOLONG, "dump path too long");
	return 0;
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

