/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fileops.c -- ftruncate(2) and fallocate(2), at any byte offset and in
 * every mode, through the barrier: what libpmemlease-intercept.so turns
 * other code's calls into, for programs that cannot call the aligned
 * pml_region_punch and pml_region_truncate themselves.
 *
 * A call is judged by what it does to the blocks under the mapping:
 *
 *   grow     blocks are added, none taken away or moved (allocating
 *            fallocate, ftruncate up): no lease is in the way, the region
 *            follows the new size;
 *   punch    the range's blocks are handed back and its partial units
 *            zeroed in place: the barrier over the range's bytes --
 *            pml_region_punch itself when the range is aligned;
 *   rewrite  the range's blocks may be exchanged for others (ZERO_RANGE on
 *            xfs, UNSHARE_RANGE): the barrier over the whole units the
 *            range touches;
 *   shift    every block from the offset on moves or goes (COLLAPSE_RANGE,
 *            INSERT_RANGE, ftruncate down to a size inside a unit): the
 *            barrier from the offset's unit to the end.
 *
 * Only an aligned punch or truncate can keep a revoked lease's blocks aside
 * (the quarantine: whole units, at their place in the file).  A change that
 * rewrites or moves blocks, or cuts inside a unit, cannot leave any in
 * place, so there PML_ON_TIMEOUT_REVOKE gives up as PML_ON_TIMEOUT_FAIL
 * does, and a quarantine in its way refuses the call (-EBUSY) before
 * anything changes.  Either way the call is made whole or not at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <sys/stat.h>

#include "err.h"
#include "region.h"
#include "shared.h"

#define MODE_TRUNCATE	(-1)	/* file_call.mode of an ftruncate */

/* what the caller asked the kernel for: made under the barrier */
struct file_call {
	int mode;		/* fallocate's, or MODE_TRUNCATE */
	uint64_t offset;	/* the size, for a truncate */
	uint64_t length;
};

static int
call_kernel(const struct pml_region *r, const struct file_call *c)
{
	int ret = c->mode == MODE_TRUNCATE ?
		sys_ftruncate(r->fd, c->offset) :
		sys_fallocate(r->fd, c->mode, c->offset, c->length);

	if (ret == 0)
		return 0;
	if (c->mode == MODE_TRUNCATE)
		return err_set(errno, "ftruncate %s to %" PRIu64 ": %m",
				r->path, c->offset);
	return err_set(errno, "fallocate %s mode 0x%x [%" PRIu64 ", +%"
			PRIu64 "): %m", r->path, c->mode, c->offset, c->length);
}

static uint64_t
down(const struct pml_region *r, uint64_t v)
{
	return v / r->alignment * r->alignment;
}

static uint64_t
up(const struct pml_region *r, uint64_t v)
{
	return v > UINT64_MAX - r->alignment + 1 ? UINT64_MAX :
		down(r, v + r->alignment - 1);
}

/*
 * follow_file -- after the call: the region becomes the file's whole units
 * (at most the reservation), mapped where it grew, cut from the view where
 * it shrank (the cut part was invalidated with the range).
 */
static int
follow_file(struct pml_region *r)
{
	struct stat st;

	if (fstat(r->fd, &st))
		return err_set(errno, "fstat %s: %m", r->path);
	r->file_size = (uint64_t)st.st_size;

	uint64_t size = atomic_load(&r->size);
	uint64_t now = down(r, r->file_size);
	int ret = 0;

	if (now > r->max_size)
		now = r->max_size;
	if (now > size)
		ret = mapping_grow(r, now, false);
	if (!ret && now != size && !(ret = shared_set_size(r->shared, now)))
		region_set_size(r, now);
	return ret;
}

/*
 * barrier_call -- the grow, rewrite and shift kinds: drain [start, end) of
 * the region with PML_ON_TIMEOUT_FAIL, invalidate it, make the call, map
 * what is still the region's again, follow the file's new size.
 */
static int
barrier_call(struct pml_region *r, const struct file_call *c, uint64_t start,
		uint64_t end, const struct pml_barrier_opts *o)
{
	struct pml_barrier_opts fail = *o;
	struct timespec deadline = deadline_after(o->timeout_ms);
	uint64_t seq = 0;
	int ret;

	fail.on_timeout = PML_ON_TIMEOUT_FAIL;
	if ((ret = layout_enter(r, o, &deadline)))
		return ret;

	uint64_t size = atomic_load(&r->size);

	if (end > size)
		end = size;
	region_lock(r);

	bool kept = start < end && quarantine_overlaps(r, start,
			end == size ? UINT64_MAX : end);

	region_unlock(r);
	if (kept) {
		ret = err_set(EBUSY, "quarantined blocks lie in [%" PRIu64 ", %"
				PRIu64 "), which this call would move or hand "
				"back; nothing changed (they are released by "
				"the last put of their revoked leases)", start,
				end);
		goto leave;
	}
	bool up_ = start < end;

	if (up_ && (ret = barrier_drain(r, start, end, &fail, &deadline,
			&seq)))
		goto leave;
	/* past the size it is cut already; the open end is the mapping's */
	uint64_t inv_end = end == size ? r->open_end : end;

	if (up_)
		ret = mapping_invalidate(r, start, inv_end);
	if (!ret)
		ret = call_kernel(r, c);

	int ret2 = follow_file(r);
	uint64_t now = atomic_load(&r->size);

	if (!ret)
		ret = ret2;
	/* what is the region's again -- all of it if the call failed */
	if (up_)
		(void) mapping_protect(r, start, inv_end < now ? inv_end : now,
				true);
	if (up_ || now != size)
		barrier_lower(r, &seq);
leave:
	layout_leave(r);
	return ret;
}

/*
 * punch_bytes -- a punch not aligned to the region's units: the barrier
 * over its bytes; what no quarantine keeps of the whole units inside is
 * deallocated as pml_region_punch does it, and the kernel zeroes the
 * partial units at the edges (a partial unit keeps its block).
 */
static int
punch_bytes(struct pml_region *r, const struct file_call *c,
		const struct pml_barrier_opts *o)
{
	struct pml_barrier_opts fail = *o;
	struct timespec deadline = deadline_after(o->timeout_ms);
	uint64_t start = c->offset, end = c->offset + c->length, seq = 0;
	int ret;

	fail.on_timeout = PML_ON_TIMEOUT_FAIL;
	if ((ret = layout_enter(r, o, &deadline)))
		return ret;

	uint64_t size = atomic_load(&r->size);
	uint64_t s = up(r, start), e = down(r, end);	/* whole units */
	bool up_ = start < size;

	region_lock(r);

	bool kept = end > size && quarantine_overlaps(r, size, end);

	region_unlock(r);
	if (kept) {
		ret = err_set(EBUSY, "quarantined blocks past the region's end "
				"lie in [%" PRIu64 ", %" PRIu64 "); nothing "
				"changed", start, end);
		goto leave;
	}
	if (up_ && (ret = barrier_drain(r, start, end < size ? end : size,
			&fail, &deadline, &seq)))
		goto leave;
	if (s < e)
		ret = quarantine_dealloc_free_parts(r, s, e, false);
	/* the edges: partial units; past the size, a call of its own */
	if (!ret && start < s)
		ret = call_kernel(r, &(struct file_call){ c->mode, start,
				(s < end ? s : end) - start });
	if (!ret && e < end && e >= s)
		ret = call_kernel(r, &(struct file_call){ c->mode, e,
				end - e });
	if (up_)
		barrier_lower(r, &seq);
leave:
	layout_leave(r);
	return ret;
}

static int
check_call(struct pml_region *r, const struct pml_barrier_opts *o)
{
	int ret = region_validate(r);

	if (ret || (ret = barrier_check_opts(o)))
		return ret;
	if (r->kind == PML_REGION_DEVDAX)
		return err_set(EOPNOTSUPP, "%s is a device-dax device: it has no "
				"blocks to allocate or deallocate", r->path);
	return 0;
}

int
pml_region_ftruncate(struct pml_region *r, uint64_t size,
		const struct pml_barrier_opts *opts)
{
	static const struct pml_barrier_opts defaults;
	const struct pml_barrier_opts *o = opts ? opts : &defaults;
	int ret = check_call(r, o);

	if (ret)
		return ret;
	if (size > (uint64_t)INT64_MAX)
		return err_set(EFBIG, "size %" PRIu64 " is past what a file "
				"can hold", size);
	/* an aligned shrink: the truncate that can quarantine */
	if (size % r->alignment == 0 && size < pml_region_size(r))
		return pml_region_truncate(r, size, opts);

	struct file_call c = { MODE_TRUNCATE, size, 0 };

	/*
	 * Growth drains nothing; a shrink to inside a unit cuts that unit
	 * from the region too, for its tail is zeroed and past the end.
	 */
	return barrier_call(r, &c, down(r, size), UINT64_MAX, o);
}

int
pml_region_fallocate(struct pml_region *r, int mode, uint64_t offset,
		uint64_t length, const struct pml_barrier_opts *opts)
{
	static const struct pml_barrier_opts defaults;
	const struct pml_barrier_opts *o = opts ? opts : &defaults;
	int ret = check_call(r, o);

	if (ret)
		return ret;
	if (length == 0)
		return err_set(EINVAL, "fallocate length is 0");
	if (offset > (uint64_t)INT64_MAX || length > (uint64_t)INT64_MAX -
			offset)
		return err_set(EFBIG, "fallocate offset %" PRIu64 " + length %"
				PRIu64 " is past what a file can hold", offset,
				length);

	struct file_call c = { mode, offset, length };
	uint64_t end = offset + length;

	switch (mode & ~FALLOC_FL_KEEP_SIZE) {
	case 0:
		/* allocation adds blocks and moves none */
		return barrier_call(r, &c, 0, 0, o);
	case FALLOC_FL_PUNCH_HOLE:
		if (!(mode & FALLOC_FL_KEEP_SIZE))
			return err_set(EOPNOTSUPP, "FALLOC_FL_PUNCH_HOLE needs "
					"FALLOC_FL_KEEP_SIZE");
		if (offset % r->alignment == 0 && length % r->alignment == 0 &&
				end <= pml_region_size(r))
			return pml_region_punch(r, offset, length, opts);
		return punch_bytes(r, &c, o);
	case FALLOC_FL_COLLAPSE_RANGE:
	case FALLOC_FL_INSERT_RANGE:
		return barrier_call(r, &c, down(r, offset), UINT64_MAX, o);
	default:
		/* ZERO_RANGE, UNSHARE_RANGE and whatever comes later */
		return barrier_call(r, &c, down(r, offset), up(r, end), o);
	}
}
