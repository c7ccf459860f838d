/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * inspect.c -- a snapshot of every file's shared lease state, for tools.
 *
 * Reads each state file in the runtime directory, then asks every live
 * holder's agent for its regions and leases (agent.c writes them to a dump
 * file) and waits a bounded time for the answers.  A holder that does not
 * answer -- stopped, or stuck in an on_break -- is listed as such, with
 * what the state file says of it.
 *
 * Everything read is checked before use: a state file or dump that fails
 * a check is skipped with the reason in pml_errormsg(), never followed.
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

struct holder {
	struct pml_holder_info info;
	struct pml_holder_region_info *regions;
	struct pml_lease_info *leases;
};

struct file {
	struct pml_file_info info;
	struct holder *holders;
};

struct pml_snapshot {
	struct file *files;
	unsigned nfiles;
	struct shm_header **maps;	/* while taking: one per file */
};

struct pending {
	unsigned file;
	unsigned holder;
	uint32_t slot;
	uint32_t req;
	bool answered;
};

static void
holder_free(struct holder *h)
{
	free(h->regions);
	free(h->leases);
}

void
pml_snapshot_free(struct pml_snapshot **snap)
{
	if (!snap || !*snap)
		return;

	struct pml_snapshot *s = *snap;

	for (unsigned f = 0; f < s->nfiles; f++) {
		for (unsigned h = 0; h < s->files[f].info.nholders; h++)
			holder_free(&s->files[f].holders[h]);
		free(s->files[f].holders);
	}
	free(s->files);
	free(s);
	*snap = NULL;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* the union of the quarantined ranges' lengths, from an unlocked copy */
static uint64_t
quarantined(const struct shm_header *h, uint32_t nquar)
{
	struct range *v = malloc((nquar ? nquar : 1) * sizeof(*v));
	uint64_t total = 0, end = 0;

	if (!v)
		return 0;
	for (uint32_t i = 0; i < nquar; i++)
		v[i] = (struct range){ h->quar[i].start, h->quar[i].end };
	qsort(v, nquar, sizeof(*v), range_cmp);
	for (uint32_t i = 0; i < nquar; i++) {
		uint64_t s = v[i].start > end ? v[i].start : end;

		if (v[i].end > s)
			total += v[i].end - s;
		if (v[i].end > end)
			end = v[i].end;
	}
	free(v);
	return total;
}

static int
read_dump(struct holder *ho, const char *state_path, uint32_t slot)
{
	char path[4200];
	struct dump_header hdr;
	int ret = dump_path(path, sizeof(path), state_path, slot);

	if (ret)
		return ret;

	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return err_set(errno, "open %s: %m", path);
	ret = -EUCLEAN;
	if (fstat(fd, &st) || read(fd, &hdr, sizeof(hdr)) != sizeof(hdr) ||
	    memcmp(hdr.magic, DUMP_MAGIC, sizeof(hdr.magic)) ||
	    hdr.version != 1 || hdr.nregions > 4096 || hdr.nleases > (1u << 26) ||
	    (uint64_t)st.st_size != sizeof(hdr) +
		(uint64_t)hdr.nregions * sizeof(*ho->regions) +
		(uint64_t)hdr.nleases * sizeof(*ho->leases))
		goto out;

	ho->regions = calloc(hdr.nregions ? hdr.nregions : 1,
			sizeof(*ho->regions));
	ho->leases = calloc(hdr.nleases ? hdr.nleases : 1, sizeof(*ho->leases));
	if (!ho->regions || !ho->leases) {
		ret = -ENOMEM;
		goto out;
	}

	ssize_t rn = (ssize_t)(hdr.nregions * sizeof(*ho->regions));
	ssize_t ln = (ssize_t)(hdr.nleases * sizeof(*ho->leases));

	if (read(fd, ho->regions, (size_t)rn) != rn ||
	    read(fd, ho->leases, (size_t)ln) != ln)
		goto out;
	for (uint32_t i = 0; i < hdr.nregions; i++)
		ho->regions[i].path[sizeof(ho->regions[i].path) - 1] = '\0';
	for (uint32_t i = 0; i < hdr.nleases; i++)
		if (ho->leases[i].region >= hdr.nregions)
			goto out;
	ho->info.nregions = hdr.nregions;
	ho->info.nleases = hdr.nleases;
	ho->info.answered = 1;
	ret = 0;
out:
	close(fd);
	if (ret)
		err_set(-ret, "dump %s is unreadable or malformed", path);
	return ret;
}

/*
 * take_file -- one state file: its header, and a dump request to each
 * live holder (answers collected later).  Returns 1 to skip the file.
 */
static int
take_file(struct pml_snapshot *s, int dfd, const char *dir, const char *name,
		const struct stat *want, pid_t pid, struct pending **pend,
		unsigned *npend)
{
	int fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	struct shm_header *h = MAP_FAILED;
	unsigned npend0 = *npend;
	struct file *f = NULL;
	int ret = 1;

	if (fd < 0)
		return 1;	/* not ours to read: skip */
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != sizeof(*h))
		goto out;
	h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED || memcmp(h->magic, SHM_MAGIC, sizeof(h->magic)) ||
	    h->version != SHM_VERSION || h->header_size != sizeof(*h))
		goto out;
	if (want && (h->dev != (uint64_t)want->st_dev ||
			h->ino != (uint64_t)want->st_ino))
		goto out;

	struct file *nf;

	f = &s->files[s->nfiles];

	memset(f, 0, sizeof(*f));
	f->info.dev = (dev_t)h->dev;
	f->info.ino = (ino_t)h->ino;
	f->info.size = h->size == UINT64_MAX ? 0 : h->size;

	uint32_t nquar = atomic_load(&h->nquar);

	f->info.quarantined = quarantined(h, nquar > SHM_QUAR_MAX ?
			SHM_QUAR_MAX : nquar);
	if (h->barrier_phase != SHM_PHASE_NONE && h->barrier_owner &&
	    h->barrier_owner <= SHM_SLOTS && h->barrier_start < h->barrier_end) {
		f->info.barrier = 1;
		f->info.barrier_offset = h->barrier_start;
		f->info.barrier_length = h->barrier_end - h->barrier_start;
		f->info.barrier_pid = h->slots[h->barrier_owner - 1].pid;
	}
	snprintf(f->info.state_path, sizeof(f->info.state_path), "%.4000s/%s",
			dir, name);

	f->holders = calloc(SHM_SLOTS, sizeof(*f->holders));
	if (!f->holders) {
		ret = err_set(ENOMEM, "cannot allocate the snapshot");
		goto out;
	}
	for (uint32_t i = 0; i < SHM_SLOTS; i++) {
		struct shm_slot *sl = &h->slots[i];
		struct flock fl = {
			.l_type = F_WRLCK, .l_whence = SEEK_SET,
			.l_start = (off_t)(SHM_LIVENESS_BASE + i), .l_len = 1,
		};

		if (!atomic_load(&sl->used) || fcntl(fd, F_OFD_GETLK, &fl) ||
				fl.l_type == F_UNLCK)
			continue;	/* free, or its process is gone */
		if (pid && sl->pid != pid)
			continue;

		struct holder *ho = &f->holders[f->info.nholders];

		ho->info.pid = sl->pid;
		ho->info.uid = sl->uid;
		memcpy(ho->info.comm, sl->comm, sizeof(ho->info.comm));
		ho->info.comm[sizeof(ho->info.comm) - 1] = '\0';
		ho->info.started_ns = sl->started_ns;

		struct pending *p = realloc(*pend, (*npend + 1) * sizeof(**pend));

		if (!p) {
			ret = err_set(ENOMEM, "cannot allocate the snapshot");
			goto out;
		}
		*pend = p;
		p[*npend] = (struct pending){
			.file = s->nfiles, .holder = f->info.nholders,
			.slot = i, .req = atomic_fetch_add(&sl->dump_req, 1) + 1,
		};
		(*npend)++;
		atomic_fetch_add(&sl->wake, 1);
		shm_futex_wake(&sl->wake);
		f->info.nholders++;
	}
	if (pid && !f->info.nholders)
		goto out;	/* not a file of that process */

	nf = realloc(s->files, (s->nfiles + 2) * sizeof(*nf));

	struct shm_header **nm = nf ? realloc(s->maps,
			(s->nfiles + 2) * sizeof(*nm)) : NULL;

	if (nf) {
		s->files = nf;
		f = &s->files[s->nfiles];	/* it may have moved */
	}
	if (!nm) {
		ret = err_set(ENOMEM, "cannot allocate the snapshot");
		goto out;
	}
	s->maps = nm;
	s->nfiles++;
	s->maps[s->nfiles - 1] = h;	/* mapped until the answers are in */
	close(fd);
	return 0;
out:
	*npend = npend0;	/* requests to a file we drop: forget them */
	if (f && f->holders) {
		free(f->holders);
		f->holders = NULL;
	}
	if (h != MAP_FAILED)
		munmap(h, sizeof(*h));
	close(fd);
	return ret;
}

int
pml_snapshot_take(struct pml_snapshot **snap, const char *path, pid_t pid,
		uint32_t timeout_ms)
{
	if (!snap)
		return err_set(EINVAL, "snapshot out-pointer is NULL");
	*snap = NULL;

	struct stat want;

	if (path) {
		if (stat(path, &want))
			return err_set(errno, "stat %s: %m", path);
		if (S_ISCHR(want.st_mode)) {	/* devdax: the device is the key */
			want.st_dev = want.st_rdev;
			want.st_ino = 0;
		}
	}

	char dir[3900];
	int ret = runtime_dir(dir, sizeof(dir));

	if (ret)
		return ret;

	struct pml_snapshot *s = calloc(1, sizeof(*s));
	struct pending *pend = NULL;
	unsigned npend = 0;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;

	if (!s || !d) {
		ret = s ? err_set(errno, "open %s: %m", dir) :
			err_set(ENOMEM, "cannot allocate the snapshot");
		if (dfd >= 0 && !d)
			close(dfd);
		free(s);
		return ret;
	}
	s->files = calloc(1, sizeof(*s->files));
	s->maps = calloc(1, sizeof(*s->maps));

	struct dirent *de;

	while (s->files && s->maps && (de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n < 6 || strcmp(de->d_name + n - 6, ".state"))
			continue;
		ret = take_file(s, dirfd(d), dir, de->d_name,
				path ? &want : NULL, pid, &pend, &npend);
		if (ret < 0)
			break;
		ret = 0;
	}
	closedir(d);

	/* collect the answers, up to timeout_ms */
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned left = npend; left && ret == 0;) {
		left = 0;
		for (unsigned i = 0; i < npend; i++) {
			struct pending *p = &pend[i];
			struct shm_header *h = s->maps[p->file];

			if (p->answered)
				continue;
			/* wrapping compare: ack has reached our request */
			if ((int32_t)(atomic_load(&h->slots[p->slot].dump_ack) -
					p->req) < 0) {
				left++;
				continue;
			}
			(void) read_dump(&s->files[p->file].holders[p->holder],
					s->files[p->file].info.state_path,
					p->slot);
			p->answered = true;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000 +
		    (now.tv_nsec - t0.tv_nsec) / 1000000 >= (long)timeout_ms)
			break;
		if (left)
			usleep(2000);
	}
	for (unsigned f = 0; f < s->nfiles; f++)
		munmap(s->maps[f], sizeof(struct shm_header));
	free(s->maps);
	s->maps = NULL;
	free(pend);
	if (ret || !s->files) {
		free(s->maps);
		s->maps = NULL;
		if (!ret)
			ret = err_set(ENOMEM, "cannot allocate the snapshot");
		pml_snapshot_free(&s);
		return ret;
	}
	*snap = s;
	return 0;
}

/* ------------------------------------------------------------ getters */

unsigned
pml_snapshot_nfiles(const struct pml_snapshot *snap)
{
	return snap ? snap->nfiles : 0;
}

const struct pml_file_info *
pml_snapshot_file(const struct pml_snapshot *snap, unsigned file)
{
	if (!snap || file >= snap->nfiles) {
		err_set(EINVAL, "no file %u in the snapshot", file);
		return NULL;
	}
	return &snap->files[file].info;
}

static const struct holder *
holder_at(const struct pml_snapshot *snap, unsigned file, unsigned holder)
{
	if (!snap || file >= snap->nfiles ||
	    holder >= snap->files[file].info.nholders) {
		err_set(EINVAL, "no holder %u of file %u in the snapshot",
				holder, file);
		return NULL;
	}
	return &snap->files[file].holders[holder];
}

const struct pml_holder_info *
pml_snapshot_holder(const struct pml_snapshot *snap, unsigned file,
		unsigned holder)
{
	const struct holder *h = holder_at(snap, file, holder);

	return h ? &h->info : NULL;
}

const struct pml_holder_region_info *
pml_snapshot_region(const struct pml_snapshot *snap, unsigned file,
		unsigned holder, unsigned region)
{
	const struct holder *h = holder_at(snap, file, holder);

	if (h && region < h->info.nregions)
		return &h->regions[region];
	if (h)
		err_set(EINVAL, "no region %u of that holder", region);
	return NULL;
}

const struct pml_lease_info *
pml_snapshot_lease(const struct pml_snapshot *snap, unsigned file,
		unsigned holder, unsigned lease)
{
	const struct holder *h = holder_at(snap, file, holder);

	if (h && lease < h->info.nleases)
		return &h->leases[lease];
	if (h)
		err_set(EINVAL, "no lease %u of that holder", lease);
	return NULL;
}

