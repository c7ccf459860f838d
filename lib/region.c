/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * region.c -- open, close and describe a region; serialise layout changes.
 */
#include <daxctl/libdaxctl.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "err.h"
#include "lease.h"
#include "region.h"
#include "shared.h"

#define DEFAULT_FILE_RESERVATION (UINT64_C(16) << 30)

/*
 * The registry of open regions lets every slow-path call tell a live region
 * from a closed one without touching freed memory: pointers are compared,
 * never dereferenced, until found.
 */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t registry_cond = PTHREAD_COND_INITIALIZER;
static struct pml_region *registry;
static uint64_t next_region_id = 1;
_Atomic uint64_t close_epoch = 1;

/* regions the parent had open when this process was forked */
static struct pml_region *inherited;

int
region_find(const struct pml_region *region)
{
	if (!region)
		return err_set(EINVAL, "region is NULL");

	pthread_mutex_lock(&registry_lock);
	struct pml_region *r = registry, *f = inherited;

	while (r && r != region)
		r = r->next_open;
	while (!r && f && f != region)
		f = f->next_open;
	pthread_mutex_unlock(&registry_lock);
	if (!r && f)
		return err_set(ECHILD, "region %p was opened by the parent "
				"process: regions are not inherited across "
				"fork(); open the file again", (const void *)region);
	if (!r)
		return err_set(EBADF, "region %p is not open (closed already?)",
				(const void *)region);
	return 0;
}

/* region_validate -- an open region that was not revoked (revoke.c) */
int
region_validate(const struct pml_region *region)
{
	int ret = region_find(region);

	if (!ret && atomic_load(&region->revoke) != REVOKE_LIVE)
		ret = err_set(ENODEV, "%s was revoked: its device is gone or "
				"going", region->path);
	return ret;
}

/*
 * region_pin_matching -- the open regions match() accepts (all if NULL),
 * pinned: pml_region_close waits for region_unpin before freeing one.
 * For the monitor, which acts on regions the application may close.
 */
unsigned
region_pin_matching(struct pml_region **v, unsigned cap,
		region_match_fn match, const char *devpath, unsigned maj,
		unsigned min, bool devnum)
{
	unsigned n = 0;

	pthread_mutex_lock(&registry_lock);
	for (struct pml_region *r = registry; r && n < cap; r = r->next_open) {
		if (match && !match(r, devpath, maj, min, devnum))
			continue;
		r->pins++;
		v[n++] = r;
	}
	pthread_mutex_unlock(&registry_lock);
	return n;
}

/* region_pin -- pin region if it is open (0), else -EBADF; no message */
int
region_pin(struct pml_region *region)
{
	int ret = -EBADF;

	pthread_mutex_lock(&registry_lock);
	for (struct pml_region *r = registry; r; r = r->next_open) {
		if (r == region) {
			r->pins++;
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	return ret;
}

void
region_unpin(struct pml_region *r)
{
	pthread_mutex_lock(&registry_lock);
	if (--r->pins == 0)
		pthread_cond_broadcast(&registry_cond);
	pthread_mutex_unlock(&registry_lock);
}

/*
 * fork: the child has none of the parent's threads (no agent), shares its
 * state-file descriptions (and with them its liveness locks), and may have
 * copied a lock mid-update.  So the child starts from nothing: the
 * parent's regions are refused with ECHILD, and a region the child opens
 * gets its own slot and agent.  The parent's mappings stay in the child's
 * address space, untouched and unused.
 */
static void
fork_prepare(void)
{
	pthread_mutex_lock(&registry_lock);
	shared_fork_prepare();
}

static void
fork_parent(void)
{
	shared_fork_parent();
	pthread_mutex_unlock(&registry_lock);
}

static void
fork_child(void)
{
	shared_fork_child();
	if (registry) {
		struct pml_region *last = registry;

		while (last->next_open)
			last = last->next_open;
		last->next_open = inherited;
		inherited = registry;
		registry = NULL;
	}
	atomic_fetch_add(&close_epoch, 1);	/* no cached context is ours */
	pthread_mutex_init(&registry_lock, NULL);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void
atfork_register(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

PML_TLS const struct pml_region *validated_region;
PML_TLS uint64_t validated_epoch;

/* region_validate_fast's miss: validate, and remember it (region.h) */
int
region_validate_slow(const struct pml_region *region)
{
	uint64_t epoch = region_close_epoch();
	int ret = region_validate(region);

	if (!ret) {
		validated_region = region;
		validated_epoch = epoch;
	}
	return ret;
}

void
region_lock(struct pml_region *r)
{
	pthread_mutex_lock(&r->mutex);
}

void
region_unlock(struct pml_region *r)
{
	pthread_mutex_unlock(&r->mutex);
}

/*
 * region_layout_begin -- become the one layout changer of the region
 * within this process (the file's layout across processes is shared.c's).
 * Returns with region->mutex held.
 */
void
region_layout_begin(struct pml_region *r)
{
	region_lock(r);
	while (r->layout_busy)
		pthread_cond_wait(&r->cond, &r->mutex);
	r->layout_busy = true;
}

/* region_layout_end -- called without region->mutex */
void
region_layout_end(struct pml_region *r)
{
	region_lock(r);
	r->layout_busy = false;
	pthread_cond_broadcast(&r->cond);
	region_unlock(r);
}

/*
 * region_sync -- follow now a size another process set, rather than when
 * the agent gets to it.  Maps or unmaps only: it never runs a pass, whose
 * on_break callbacks might need a lock the caller holds.  Returns whether
 * the size changed.
 */
bool
region_sync(struct pml_region *r)
{
	if (atomic_load(r->state_seq) == atomic_load(r->applied_state_seq))
		return false;

	uint64_t before = atomic_load(&r->size);

	if (shared_get_size(r->shared) == before)
		return false;	/* no size to follow: never wait */

	region_lock(r);
	/*
	 * Wait for a layout change here to end (the agent following a size,
	 * our own punch) -- unless we are inside one, in its on_break.
	 */
	while (r->layout_busy && !agent_in_pass())
		pthread_cond_wait(&r->cond, &r->mutex);
	agent_apply_size(r);	/* unlocks */
	return atomic_load(&r->size) != before;
}

/* ----------------------------------------------------------- open */

/* the dax device's name for a devdax character device, through libdaxctl */
static void
devdax_name(struct pml_region *r)
{
	struct daxctl_ctx *ctx;
	struct daxctl_region *region;
	struct daxctl_dev *dev;

	if (daxctl_new(&ctx))
		return;
	daxctl_region_foreach(ctx, region) {
		daxctl_dev_foreach(region, dev) {
			if (daxctl_dev_get_major(dev) == (int)major(r->dev) &&
			    daxctl_dev_get_minor(dev) == (int)minor(r->dev))
				snprintf(r->device, sizeof(r->device), "%s",
						daxctl_dev_get_devname(dev));
		}
	}
	daxctl_unref(ctx);
}

/* the block device a DAX filesystem sits on, "pmem0", from sysfs */
static void
fsdax_name(struct pml_region *r)
{
	char link[64], target[512];

	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(r->dev),
			minor(r->dev));
	ssize_t n = readlink(link, target, sizeof(target) - 1);

	if (n <= 0)
		return;
	target[n] = '\0';

	const char *name = strrchr(target, '/');

	snprintf(r->device, sizeof(r->device), "%.*s",
			(int)sizeof(r->device) - 1, name ? name + 1 : target);
}

static int
region_detect(struct pml_region *r, uint64_t *size, bool partial_tail)
{
	struct stat st;

	if (fstat(r->fd, &st))
		return err_set(errno, "fstat %s: %m", r->path);
	r->ino = st.st_ino;

	if (S_ISCHR(st.st_mode)) {
		r->kind = PML_REGION_DEVDAX;
		r->dev = st.st_rdev;
	} else if (S_ISREG(st.st_mode)) {
		struct statx stx;

		r->dev = st.st_dev;
		r->kind = PML_REGION_PLAIN;
		if (statx(r->fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) == 0
				&& (stx.stx_attributes_mask & STATX_ATTR_DAX)
				&& (stx.stx_attributes & STATX_ATTR_DAX))
			r->kind = PML_REGION_FSDAX;
	} else {
		return err_set(EINVAL, "%s is neither a regular file nor a "
				"device-dax character device", r->path);
	}

	int ret = pmem2_source_from_fd(&r->src, r->fd);

	if (ret)
		return err_pmem2(ret, r->path);

	size_t s, align;

	ret = pmem2_source_size(r->src, &s);
	if (ret)
		return err_pmem2(ret, "pmem2_source_size");
	ret = pmem2_source_alignment(r->src, &align);
	if (ret)
		return err_pmem2(ret, "pmem2_source_alignment");
	r->alignment = align;
	r->file_size = s;
	/*
	 * A file may end inside an alignment unit (ftruncate(2) takes any
	 * size).  Asked to, the region is its whole units, and the partial
	 * tail, which the mapping could not cover without SIGBUS past the end
	 * of the file, is not leasable.  A device's size is what it is.
	 */
	if (s % align && (!partial_tail || r->kind == PML_REGION_DEVDAX))
		return err_set(EINVAL, "%s: size %" PRIu64 " is not a multiple of "
				"the required alignment %" PRIu64 " (mapping it "
				"would end in SIGBUS%s)", r->path, (uint64_t)s,
				(uint64_t)align, r->kind == PML_REGION_DEVDAX ? "" :
				"; PML_REGION_PARTIAL_TAIL maps its whole units");
	*size = s / align * align;

	/* until something is mapped; map_grow reads the real one back */
	r->granularity = r->kind == PML_REGION_PLAIN ?
		PML_GRANULARITY_PAGE : PML_GRANULARITY_CACHE_LINE;
	return 0;
}

static void
region_free(struct pml_region *r)
{
	shared_detach(r);
	mapping_fini(r);
	lease_ctxs_free(r);
	view_fini(r);
	free(r->quar);
	if (r->src)
		pmem2_source_delete(&r->src);
	if (r->fd >= 0)
		close(r->fd);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->mutex);
	free(r->path);
	free(r->abspath);
	free(r);
}

int
pml_region_open(struct pml_region **region, const char *path,
		const struct pml_region_opts *opts)
{
	static const struct pml_region_opts defaults;

	if (!region)
		return err_set(EINVAL, "region out-pointer is NULL");
	*region = NULL;
	if (!path)
		return err_set(EINVAL, "path is NULL");
	if (!opts)
		opts = &defaults;
	pthread_once(&atfork_once, atfork_register);
	lease_clock_tick();	/* leases taken before the agent's first tick */
	if (opts->flags & ~(PML_REGION_CREATE | PML_REGION_PARTIAL_TAIL))
		return err_set(EINVAL, "unknown region flags 0x%x", opts->flags);

	struct pml_region *r = aligned_alloc(CACHELINE, sizeof(*r));

	if (!r)
		return err_set(ENOMEM, "cannot allocate a region");
	memset(r, 0, sizeof(*r));
	r->fd = -1;

	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&r->mutex, NULL);

	int ret;
	uint64_t size = 0;

	r->path = strdup(path);
	r->abspath = realpath(path, NULL);	/* NULL until created, below */
	if (!r->path) {
		ret = err_set(ENOMEM, "cannot copy the path");
		goto err;
	}

	int oflags = O_RDWR | O_CLOEXEC;

	if (opts->flags & PML_REGION_CREATE)
		oflags |= O_CREAT;
	r->fd = open(path, oflags, 0600);
	if (r->fd < 0) {
		ret = err_set(errno, "open %s: %m", path);
		goto err;
	}

	ret = region_detect(r, &size,
			opts->flags & PML_REGION_PARTIAL_TAIL);
	if (ret)
		goto err;
	if (!r->abspath && !(r->abspath = realpath(path, NULL)))
		r->abspath = strdup(path);

	struct stat st;

	if (fstat(r->fd, &st)) {
		ret = err_set(errno, "fstat %s: %m", path);
		goto err;
	}
	ret = shared_attach(r, st.st_mode);
	if (ret)
		goto err;
	ret = shared_size(r, &size);
	if (ret)
		goto err;

	/* devdax cannot grow: reserve exactly the device */
	uint64_t max = r->kind == PML_REGION_DEVDAX ? size : opts->max_size;

	if (max == 0)
		max = size > DEFAULT_FILE_RESERVATION ?
			size : DEFAULT_FILE_RESERVATION;
	if (max > UINT64_MAX - r->alignment) {
		ret = err_set(EINVAL, "max_size %" PRIu64 " is too large", max);
		goto err;
	}
	max = (max + r->alignment - 1) / r->alignment * r->alignment;
	if (max < size) {
		ret = err_set(EINVAL, "max_size %" PRIu64 " is smaller than the "
				"file's size %" PRIu64, max, size);
		goto err;
	}
	r->max_size = max;
	atomic_store(&r->size, size);

	ret = mapping_init(r, size);
	if (ret)
		goto err;
	/* the first mapping may have found a DAX file statx did not report */
	if (r->kind == PML_REGION_DEVDAX)
		devdax_name(r);
	else if (r->kind == PML_REGION_FSDAX)
		fsdax_name(r);
	ret = view_init(r);
	if (ret)
		goto err;
	r->quar = malloc(SHM_QUAR_MAX * sizeof(*r->quar));
	if (!r->quar) {
		ret = err_set(ENOMEM, "cannot allocate the quarantine mirror");
		goto err;
	}
	r->state_seq = &r->shared->h->state_seq;
	r->applied_state_seq = &r->shared->seen_state_seq;
	ret = shared_publish_region(r);
	if (ret)
		goto err;
	/* a barrier or quarantine may be up in another process right now */
	agent_pass(r->shared, NULL);

	monitor_track(r);
	pthread_mutex_lock(&registry_lock);
	r->id = next_region_id++;
	r->next_open = registry;
	registry = r;
	pthread_mutex_unlock(&registry_lock);

	*region = r;
	return 0;
err:
	region_free(r);
	return ret;
}

/* does any lease of r remain, live or revoked?  r->mutex held */
bool
region_has_leases(struct pml_region *r)
{
	bool busy = false;

	ctxs_unbias(r);
	for (struct lease_ctx *c = r->ctxs; c && !busy; c = c->next) {
		ctx_lock(c);
		busy = c->nindexed != 0 || c->long_head != NULL;
		ctx_unlock(c);
	}
	return busy;
}

int
pml_region_close(struct pml_region **region)
{
	if (!region)
		return err_set(EINVAL, "region pointer is NULL");

	struct pml_region *r = *region;
	int ret = region_find(r);	/* a revoked region is closed too */

	if (ret)
		return ret;

	region_layout_begin(r);
	/*
	 * Block acquires first, then look: an acquire racing with the check
	 * either linked its lease before our scan or sees REGION_CLOSING.
	 */
	enum region_state was = r->state;

	r->state = REGION_CLOSING;
	view_publish(r);

	bool busy = region_has_leases(r);

	if (busy) {
		r->state = was;
		view_publish(r);
	}
	region_unlock(r);
	region_layout_end(r);	/* a pass waiting for it sees CLOSING */
	if (busy)
		return err_set(EBUSY, "%s still has live leases (revoked ones "
				"count until put)", r->path);

	pthread_mutex_lock(&registry_lock);
	struct pml_region **pp = &registry;

	while (*pp != r)
		pp = &(*pp)->next_open;
	*pp = r->next_open;
	atomic_fetch_add_explicit(&close_epoch, 1, memory_order_release);
	/* the monitor may be revoking it: the memory stays until it is done */
	while (r->pins)
		pthread_cond_wait(&registry_cond, &registry_lock);
	pthread_mutex_unlock(&registry_lock);
	monitor_untrack(r);

	region_free(r);
	*region = NULL;
	return 0;
}

/* ----------------------------------------------------------- info */

/* fields are carved out of reserved[]: the struct's size is ABI */
_Static_assert(sizeof(struct pml_region_info) == 4312,
		"struct pml_region_info changed size");

int
pml_region_info(struct pml_region_info *info, const struct pml_region *region)
{
	if (!info)
		return err_set(EINVAL, "info is NULL");

	int ret = region_validate(region);

	if (ret)
		return ret;
	region_sync((struct pml_region *)region);

	memset(info, 0, sizeof(*info));
	info->kind = region->kind;
	info->granularity = region->granularity;
	info->size = atomic_load(&region->size);
	info->max_size = region->max_size;
	info->alignment = region->alignment;
	info->base = region->base;
	info->dev = region->dev;
	info->ino = region->ino;
	memcpy(info->device, region->device, sizeof(info->device));
	snprintf(info->path, sizeof(info->path), "%.*s",
			(int)sizeof(info->path) - 1, region->path);
	memcpy(info->cxl_region, region->cxl_region, sizeof(info->cxl_region));
	return 0;
}

void *
pml_region_base(const struct pml_region *region)
{
	return region_validate(region) ? NULL : region->base;
}

uint64_t
pml_region_size(const struct pml_region *region)
{
	if (region_validate_fast(region))
		return 0;
	region_sync((struct pml_region *)region);
	return atomic_load(&region->size);
}

const char *
pml_region_kind_name(enum pml_region_kind kind)
{
	switch (kind) {
	case PML_REGION_PLAIN:
		return "plain";
	case PML_REGION_FSDAX:
		return "fsdax";
	case PML_REGION_DEVDAX:
		return "devdax";
	}
	return "unknown";
}
