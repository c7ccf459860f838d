/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * removal.c -- pml_device_prepare_removal: the user-space MF_MEM_PRE_REMOVE.
 *
 * Seed 001: before a pmem device goes, the kernel learns to tell the
 * filesystem first, so that it can shut down in order.  Applications get
 * no such notice.  Here an administrator's tool (daxctl-lease) asks first:
 * every state file in the runtime directories whose file lies on the
 * device gets a removal request, every process attached to it revokes its
 * regions there (its agent thread runs pml_region_revoke: holders told,
 * data flushed, mapping torn down) and acknowledges in its slot.  Only
 * then is the device disabled.
 *
 * The requester does not attach to the files: it opens them as the
 * snapshot does, writes the request with atomics, and polls the
 * acknowledgements of the processes still alive (OFD-lock liveness, as
 * everywhere: a dead process is not waited for).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "region.h"
#include "shared.h"

#define REMOVAL_DEFAULT_MS 10000
#define REMOVAL_SLACK_MS 1000	/* for the last holder's flush and unmap */

struct asked {
	struct shm_header *h;
	int fd;
	uint64_t seq;
	char path[512];
};

struct removal {
	dev_t dev;
	uint32_t grace_ms;
	uint32_t flags;
	struct asked *v;
	unsigned n;
	int denied;		/* a matching-looking file we could not open */
};

static bool
slot_alive(int fd, uint32_t slot)
{
	struct flock fl = {
		.l_type = F_WRLCK, .l_whence = SEEK_SET,
		.l_start = (off_t)(SHM_LIVENESS_BASE + slot), .l_len = 1,
	};

	return fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

/* one state file: if it is on the device, ask its holders */
static int
ask_file(struct removal *rm, int dfd, const char *dir, const char *name)
{
	int fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	struct shm_header *h;
	struct stat st;

	if (fd < 0) {
		if (errno == EACCES || errno == EPERM)
			rm->denied++;
		return 0;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != sizeof(*h)) {
		close(fd);
		return 0;	/* a dump file, or not a state file at all */
	}
	h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED) {
		close(fd);
		return 0;
	}
	if (memcmp(h->magic, SHM_MAGIC, sizeof(h->magic)) ||
	    h->version != SHM_VERSION || h->header_size != sizeof(*h) ||
	    h->dev != (uint64_t)rm->dev) {
		munmap(h, sizeof(*h));
		close(fd);
		return 0;
	}

	struct asked *v = realloc(rm->v, (rm->n + 1) * sizeof(*v));

	if (!v) {
		munmap(h, sizeof(*h));
		close(fd);
		return err_set(ENOMEM, "cannot allocate the removal");
	}
	rm->v = v;
	atomic_store(&h->removal_grace_ms, rm->grace_ms);
	atomic_store(&h->removal_flags, rm->flags);

	struct asked *a = &v[rm->n++];

	a->h = h;
	a->fd = fd;
	a->seq = atomic_fetch_add(&h->removal_seq, 1) + 1;
	snprintf(a->path, sizeof(a->path), "%.300s/%.200s", dir, name);
	for (uint32_t i = 0; i < SHM_SLOTS; i++) {
		if (!atomic_load(&h->slots[i].used))
			continue;
		atomic_fetch_add(&h->slots[i].wake, 1);
		shm_futex_wake(&h->slots[i].wake);
	}
	return 0;
}

static int
ask_dir(struct removal *rm, const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (dfd < 0)
		return 0;	/* nobody uses this one */

	DIR *d = fdopendir(dfd);
	struct dirent *e;
	int ret = 0;

	if (!d) {
		close(dfd);
		return 0;
	}
	while (!ret && (e = readdir(d)))
		if (e->d_name[0] != '.')
			ret = ask_file(rm, dirfd(d), dir, e->d_name);
	closedir(d);
	return ret;
}

/*
 * Root acts for everybody: its own directory, and every user's, where
 * processes not run as root keep their state.
 */
static int
ask_all(struct removal *rm)
{
	char own[4096];
	int ret = 0;

	if (runtime_dir(own, sizeof(own)) == 0)
		ret = ask_dir(rm, own);
	if (ret || geteuid() != 0)
		return ret;
	if (strcmp(own, "/run/pmemlease"))
		ret = ask_dir(rm, "/run/pmemlease");

	DIR *d = opendir("/run/user");
	struct dirent *e;

	while (!ret && d && (e = readdir(d))) {
		char dir[512];

		if (e->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), "/run/user/%.200s/pmemlease",
				e->d_name);
		if (strcmp(dir, own))
			ret = ask_dir(rm, dir);
	}
	if (d)
		closedir(d);
	return ret;
}

/* holders still to acknowledge; with report, name them */
static unsigned
outstanding(const struct removal *rm, unsigned *holders, bool report)
{
	unsigned left = 0;

	*holders = 0;
	for (unsigned f = 0; f < rm->n; f++) {
		const struct asked *a = &rm->v[f];

		for (uint32_t i = 0; i < SHM_SLOTS; i++) {
			const struct shm_slot *s = &a->h->slots[i];

			if (!atomic_load(&s->used) || !slot_alive(a->fd, i))
				continue;
			(*holders)++;
			if (atomic_load(&s->removal_ack) >= a->seq)
				continue;
			left++;
			if (report)
				err_set(ETIMEDOUT, "pid %d (%.16s) did not revoke "
						"its regions on %s in time",
						s->pid, s->comm, a->path);
		}
	}
	return left;
}

int
pml_device_prepare_removal(unsigned *nholders, dev_t dev,
		const struct pml_removal_opts *opts)
{
	static const struct pml_removal_opts defaults;
	const struct pml_removal_opts *o = opts ? opts : &defaults;

	if (!nholders)
		return err_set(EINVAL, "nholders is NULL");
	*nholders = 0;
	if (o->flags & ~PML_REMOVAL_GONE)
		return err_set(EINVAL, "unknown removal flags 0x%x", o->flags);

	struct removal rm = {
		.dev = dev,
		.grace_ms = o->timeout_ms ? o->timeout_ms : REMOVAL_DEFAULT_MS,
		.flags = o->flags,
	};
	int ret = ask_all(&rm);
	uint64_t wait_ms = (uint64_t)rm.grace_ms + REMOVAL_SLACK_MS;
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!ret) {
		unsigned holders;

		if (outstanding(&rm, &holders, false) == 0) {
			*nholders = holders;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((uint64_t)((now.tv_sec - t0.tv_sec) * 1000 +
				(now.tv_nsec - t0.tv_nsec) / 1000000) >=
				wait_ms) {
			outstanding(&rm, &holders, true);
			*nholders = holders;
			ret = -ETIMEDOUT;
			break;
		}
		struct timespec nap = { 0, 5000000L };

		nanosleep(&nap, NULL);
	}
	if (!ret && rm.denied && rm.n == 0)
		ret = err_set(EACCES, "%d state file(s) could not be opened: "
				"another user's (run as root to reach them)",
				rm.denied);
	for (unsigned f = 0; f < rm.n; f++) {
		munmap(rm.v[f].h, sizeof(*rm.v[f].h));
		close(rm.v[f].fd);
	}
	free(rm.v);
	return ret;
}
