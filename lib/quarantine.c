/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * quarantine.c -- blocks kept from the filesystem for revoked leases.
 *
 * When a barrier revokes a lease instead of waiting for it, the device
 * behind the lease may still be writing.  The blocks under it therefore
 * stay allocated to the file (no fallocate, no ftruncate over them) and no
 * new lease may cover them, in any process, until the revoked lease is put
 * -- or its process dies.  Each entry of the shared table ties one aligned
 * range to the lease it waits for (its process's slot and key); entries may
 * overlap, and a block is handed back only when no entry covers it.
 *
 * An entry's life: added by the holder's process when it revokes
 * (agent.c); released by the put (lease.c) or by the reaping of a dead
 * process (shared.c); lifted -- deallocated, then removed -- by whichever
 * process owns the file's layout next.  Removal comes last: until then
 * every process's view keeps the blocks from new leases.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "lease.h"
#include "region.h"
#include "shared.h"

int
quarantine_add(struct shared_file *sf, uint64_t start, uint64_t end,
		const struct pml_lease *lease)
{
	int ret = shm_lock(sf);

	if (ret)
		return ret;

	struct shm_header *h = sf->h;

	if (h->nquar >= SHM_QUAR_MAX) {
		shm_unlock(sf);
		return err_set(ENOSPC, "quarantine table of %s is full (%d "
				"entries)", sf->path, SHM_QUAR_MAX);
	}
	h->quar[h->nquar] = (struct shm_quar){
		.start = start,
		.end = end,
		.key = (uint64_t)(uintptr_t)lease,
		.slot = sf->slot,
	};
	h->nquar++;	/* after the entry: a half-made one is never counted */
	shm_bump(sf);
	shm_unlock(sf);
	return 0;
}

/*
 * quarantine_release -- the revoked lease was put: every entry waiting for
 * it may go, and the holds those entries had on the lease's memory are
 * dropped.  Caller holds no lock.
 */
void
quarantine_release(struct pml_region *r, const struct pml_lease *lease)
{
	struct shared_file *sf = r->shared;
	struct shm_header *h = sf->h;
	unsigned n = 0;

	if (shm_lock(sf) == 0) {
		for (uint32_t i = 0; i < h->nquar && i < SHM_QUAR_MAX; i++) {
			struct shm_quar *q = &h->quar[i];

			if (q->slot == sf->slot && !q->released &&
			    q->key == (uint64_t)(uintptr_t)lease) {
				q->released = 1;
				n++;
			}
		}
		if (n) {
			h->lift_pending = 1;
			shm_bump(sf);
		}
		shm_unlock(sf);
	}

	/* the lease's memory is held until here: nothing reused it */
	struct lease_ctx *ctx = lease_ctx(lease);

	ctx_lock(ctx);
	while (n--)
		ctx_release_hold(ctx, (struct pml_lease *)lease);
	ctx_unlock(ctx);
}

/* is [start, end) inside the union of the region's mirror of the table? */
bool
quarantine_covers(const struct pml_region *r, uint64_t start, uint64_t end)
{
	/* walk forward: each pass extends the covered prefix, or fails */
	for (bool progress = true; start < end && progress;) {
		progress = false;
		for (unsigned i = 0; i < r->nquar; i++) {
			const struct range *q = &r->quar[i];

			if (q->start <= start && start < q->end) {
				start = q->end;
				progress = true;
			}
		}
	}
	return start >= end;
}

/* does any quarantined range meet [start, end)?  Mutex held */
bool
quarantine_overlaps(const struct pml_region *r, uint64_t start, uint64_t end)
{
	for (unsigned i = 0; i < r->nquar; i++)
		if (range_overlaps(r->quar[i].start, r->quar[i].end, start,
				end))
			return true;
	return false;
}

/* the region's mirror of the table: what its view blocks; mutex held */
bool
quarantine_mirror(struct pml_region *r, const struct shm_snapshot *s)
{
	bool same = r->nquar == s->nquar;

	for (uint32_t i = 0; same && i < s->nquar; i++)
		same = r->quar[i].start == s->quar[i].start &&
			r->quar[i].end == s->quar[i].end;
	if (same)
		return false;
	for (uint32_t i = 0; i < s->nquar; i++)
		r->quar[i] = (struct range){ s->quar[i].start, s->quar[i].end };
	r->nquar = s->nquar;
	return true;
}

/*
 * free_parts -- [start, end) minus every range in q[0..nq) (those with
 * keep[i], or all when keep is NULL), as at most nq + 1 disjoint ranges.
 */
static unsigned
free_parts(const struct shm_quar *q, uint32_t nq, const bool *keep,
		uint64_t start, uint64_t end, struct range *out)
{
	unsigned n = 0;

	while (start < end) {
		uint64_t next = end;	/* where the next kept range starts */
		bool moved = false;

		for (uint32_t i = 0; i < nq; i++) {
			if (keep && !keep[i])
				continue;
			if (q[i].start <= start && start < q[i].end) {
				start = q[i].end;	/* skip the kept part */
				moved = true;
				break;
			}
			if (q[i].start > start && q[i].start < next)
				next = q[i].start;
		}
		if (moved)
			continue;
		out[n++] = (struct range){ start, next };
		start = next;
	}
	return n;
}

/*
 * dealloc -- hand the parts back: inside the file's size they are
 * punched and mapped again (they read zeroes); past it they are punched,
 * or, with cut, cut by truncating the file to target (the region's size,
 * or the end of the last block still kept past it), and stay unmapped.  A
 * punch never cuts: what lies past the region is not always the library's
 * (a write(2) may have grown the file).  Layout owner, no lock held.
 */
static int
dealloc(struct pml_region *r, const struct range *parts, unsigned n,
		uint64_t size, uint64_t target, bool cut)
{
	int ret = 0;

	for (unsigned i = 0; i < n && !ret; i++) {
		uint64_t s = parts[i].start, e = parts[i].end;

		if (s < size)
			ret = mapping_dealloc(r, s, e < size ? e : size, true);
		if (ret || e <= size)
			continue;
		if (s < size)
			s = size;
		if (s < target)
			ret = mapping_dealloc(r, s, e < target ? e : target,
					false);
		if (!ret && e > target)
			ret = mapping_invalidate(r, s > target ? s : target, e);
	}
	if (ret || !cut || r->kind == PML_REGION_DEVDAX)
		return ret;

	struct stat st;

	if (fstat(r->fd, &st))
		return err_set(errno, "fstat %s: %m", r->path);
	/*
	 * A file that ends inside the unit after the region's size (an
	 * ftruncate to a size that is not a multiple of the alignment) keeps
	 * that partial unit: it is the file's data, never a quarantine's.
	 */
	uint64_t file_end = (uint64_t)st.st_size;
	bool partial_tail = file_end / r->alignment * r->alignment <= size &&
		file_end % r->alignment;

	if (file_end > target && !partial_tail) {
		/* what is still accessible there was invalidated above */
		ret = mapping_protect(r, target, (uint64_t)st.st_size, false);
		if (!ret)
			ret = mapping_set_file_size(r, target);
	}
	return ret;
}

/*
 * quarantine_protect_cut -- make [start, end), cut from the region, fault
 * on access -- all but its quarantined blocks: a revoked lease's holder may
 * still write into those, and they stay the file's until lifted (the lift
 * makes them inaccessible itself).  Layout holder, no lock held.
 */
int
quarantine_protect_cut(struct pml_region *r, uint64_t start, uint64_t end)
{
	struct shm_snapshot *s = malloc(sizeof(*s));
	struct range *parts = malloc((SHM_QUAR_MAX + 1) * sizeof(*parts));
	int ret = 0;

	if (!s || !parts) {
		ret = err_set(ENOMEM, "cannot plan the protection");
		goto out;
	}
	ret = shm_snapshot(r->shared, s);
	if (ret)
		goto out;

	unsigned n = free_parts(s->quar, s->nquar, NULL, start, end, parts);

	for (unsigned i = 0; i < n && !ret; i++)
		ret = mapping_protect(r, parts[i].start, parts[i].end, false);
out:
	free(parts);
	free(s);
	return ret;
}

static uint64_t
kept_end(const struct shm_snapshot *s, const bool *keep, uint64_t size)
{
	uint64_t e = size;

	for (uint32_t i = 0; i < s->nquar; i++)
		if ((!keep || keep[i]) && s->quar[i].end > e)
			e = s->quar[i].end;
	return e;
}

/*
 * quarantine_dealloc_free_parts -- deallocate what of [start, end) no
 * entry of the table covers.  The layout owner's step 5 for a punch or a
 * shrink (which cuts the file).  Called without locks.
 */
int
quarantine_dealloc_free_parts(struct pml_region *r, uint64_t start,
		uint64_t end, bool cut)
{
	struct shm_snapshot *s = malloc(sizeof(*s));
	struct range *parts = malloc((SHM_QUAR_MAX + 1) * sizeof(*parts));
	int ret = 0;

	if (!s || !parts) {
		ret = err_set(ENOMEM, "cannot plan the deallocation");
		goto out;
	}
	ret = shm_snapshot(r->shared, s);
	if (ret)
		goto out;

	unsigned n = free_parts(s->quar, s->nquar, NULL, start, end, parts);

	ret = dealloc(r, parts, n, s->size, kept_end(s, NULL, s->size), cut);
out:
	free(parts);
	free(s);
	return ret;
}

/*
 * quarantine_lift -- deallocate the blocks of released entries that no
 * unreleased entry still covers, then remove the released entries.  The
 * caller owns the file's layout (shared and r's local).  Returns whether
 * anything was lifted.
 */
bool
quarantine_lift(struct pml_region *r)
{
	struct shared_file *sf = r->shared;
	struct shm_header *h = sf->h;
	struct shm_snapshot *s = malloc(sizeof(*s));
	struct range *parts = malloc((SHM_QUAR_MAX + 1) * sizeof(*parts));
	bool *keep = malloc(SHM_QUAR_MAX * sizeof(*keep));
	bool lifted = false;

	if (!s || !parts || !keep || shm_lock(sf))
		goto out;
	if (shm_check(sf)) {
		shm_unlock(sf);
		goto out;
	}
	/* claim the released entries; later releases wait for next time */
	for (uint32_t i = 0; i < h->nquar; i++)
		if (h->quar[i].released == 1)
			h->quar[i].released = QUAR_LIFTING;
	h->lift_pending = 0;
	s->size = h->size;	/* ours to trust: we own the layout */
	s->nquar = h->nquar;
	memcpy(s->quar, h->quar, h->nquar * sizeof(h->quar[0]));
	shm_unlock(sf);

	uint64_t size = s->size;
	struct stat st;

	/*
	 * Kept blocks always lie inside the file: an entry reaching past it
	 * is forged or corrupt, and is dropped without deallocating anything.
	 */
	uint64_t file_end = r->kind == PML_REGION_DEVDAX ? r->file_size :
		fstat(r->fd, &st) ? 0 :
		((uint64_t)st.st_size + r->alignment - 1) / r->alignment *
		r->alignment;	/* a device's st_size is 0: its size is known */

	for (uint32_t i = 0; i < s->nquar; i++)
		keep[i] = s->quar[i].released != QUAR_LIFTING;
	for (uint32_t i = 0; i < s->nquar; i++) {
		if (!keep[i] && s->quar[i].end > file_end) {
			err_set(EUCLEAN, "state file %s: quarantine entry [%"
				PRIu64 ", %" PRIu64 ") lies past the file: "
				"dropped, nothing deallocated", sf->path,
				s->quar[i].start, s->quar[i].end);
			s->quar[i].end = s->quar[i].start;	/* empty */
		}
	}
	for (uint32_t i = 0; i < s->nquar; i++) {
		if (keep[i])
			continue;
		lifted = true;

		unsigned n = free_parts(s->quar, s->nquar, keep,
				s->quar[i].start, s->quar[i].end, parts);

		/*
		 * A failed deallocation leaves blocks allocated to the file:
		 * wasted space, never a broken invariant.  The message stays
		 * with the thread; nobody waits to be told.
		 */
		(void) dealloc(r, parts, n, size, kept_end(s, keep, size), true);
	}
	if (!lifted)
		goto out;

	/* now, and only now, the blocks may be leased again */
	if (shm_lock(sf) == 0) {
		uint32_t k = 0;

		for (uint32_t i = 0; i < h->nquar && i < SHM_QUAR_MAX; i++)
			if (h->quar[i].released != QUAR_LIFTING)
				h->quar[k++] = h->quar[i];
		h->nquar = k;
		shm_bump(sf);
		shm_unlock(sf);
		shm_wake_agents(sf);
	}
out:
	free(keep);
	free(parts);
	free(s);
	return lifted;
}

int
pml_region_quarantined(uint64_t *bytes, const struct pml_region *region)
{
	if (!bytes)
		return err_set(EINVAL, "bytes is NULL");

	int ret = region_validate(region);

	if (ret)
		return ret;

	struct shm_snapshot *s = malloc(sizeof(*s));
	struct range *parts = malloc((SHM_QUAR_MAX + 1) * sizeof(*parts));

	if (!s || !parts) {
		ret = err_set(ENOMEM, "cannot allocate the quarantine map");
		goto out;
	}
	ret = shm_snapshot(region->shared, s);
	if (ret)
		goto out;

	/* the union's length: everything up to the end, less the gaps */
	uint64_t end = kept_end(s, NULL, 0);
	uint64_t total = end;
	unsigned n = free_parts(s->quar, s->nquar, NULL, 0, end, parts);

	for (unsigned i = 0; i < n; i++)
		total -= parts[i].end - parts[i].start;
	*bytes = total;
out:
	free(parts);
	free(s);
	return ret;
}
