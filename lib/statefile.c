/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * statefile.c -- where the shared state lives and how its file is made,
 * checked, joined and left.  What the state means is shared.h's.
 *
 * The file is created, checked and joined under flock(2), so that two
 * processes starting together agree on one header and a last process
 * leaving never removes a file somebody has just opened.  Nothing in it is
 * trusted: a file that fails a check is reported (EUCLEAN) -- unless it is
 * a recognisable leftover nobody is attached to, which is made anew.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "region.h"
#include "shared.h"

#define ENV_RUNTIME_DIR "PMEMLEASE_RUNTIME_DIR"

int
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

/* the state file's name in the runtime directory: one per (dev, ino) */
static void
state_name(char *buf, size_t n, dev_t dev, ino_t ino)
{
	snprintf(buf, n, "dev-%" PRIx64 "-ino-%" PRIx64 ".state",
			(uint64_t)dev, (uint64_t)ino);
}

/*
 * pml_file_has_state -- one stat(2): the lookup every call the intercept
 * sees pays.  A leftover of a crashed process counts as state: joining it
 * costs a region open, and finds it empty.
 */
int
pml_file_has_state(dev_t dev, ino_t ino)
{
	char dir[3900], path[4096], name[96];
	struct stat st;
	int ret = runtime_dir(dir, sizeof(dir));

	if (ret)
		return ret == -ENOENT ? 0 : ret;
	/*
	 * The whole path, every time: a directory kept open would save a
	 * little of the walk, but go on answering "no state" from a runtime
	 * directory removed and made again.
	 */
	state_name(name, sizeof(name), dev, ino);
	snprintf(path, sizeof(path), "%.3900s/%s", dir, name);
	if (lstat(path, &st) == 0)
		return 1;
	if (errno == ENOENT || errno == ENOTDIR)
		return 0;
	return err_set(errno, "stat %s: %m", path);
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
int
state_open(struct shared_file *sf, mode_t data_mode)
{
	char dir[3900];
	int ret = runtime_dir(dir, sizeof(dir));

	if (ret)
		return ret;

	char name[96];

	state_name(name, sizeof(name), sf->dev, sf->ino);
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
void
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
	atomic_store(&s->removal_ack, 0);
	/* a removal asked before we came is not ours to act on */
	sf->removal_seen = atomic_load(&sf->h->removal_seq);
	atomic_store(&s->used, 1);
}

uint64_t
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
void
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

/* dump_path -- where slot's answer to a lister goes */
int
dump_path(char *buf, size_t n, const char *state_path, uint32_t slot)
{
	int len = snprintf(buf, n, "%s.%u.dump", state_path, slot);

	if (len < 0 || (size_t)len >= n)
		return err_set(ENAMETOOLONG, "dump path too long");
	return 0;
}
