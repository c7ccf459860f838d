/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * quarantine.c -- blocks kept from the filesystem for revoked leases.
 *
 * When a barrier revokes a lease instead of waiting for it, the device
 * behind the lease may still be writing.  The blocks under it therefore
 * stay allocated to the file (no fallocate, no ftruncate over them) and no
 * new lease may cover them, until the revoked lease is put.  Each entry
 * ties one aligned range to the lease it waits for; entries may overlap, and
 * a block is handed back only when no entry covers it any more.
 *
 * Entries are added by the layout owner (barrier.c), released by puts
 * (lease.c), and lifted -- deallocated and removed -- by the layout owner,
 * either the put itself or the layout change that was running when the put
 * came (region_layout_end).  All of it under region->mutex.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "err.h"
#include "lease.h"
#include "region.h"

/*
 * quarantine_reserve -- room for more entries, in the list and in the
 * views that will publish them next to the barrier's own range.
 */
int
quarantine_reserve(struct pml_region *r, unsigned more)
{
	if (r->nquar + more > r->quar_cap) {
		unsigned cap = r->quar_cap ? r->quar_cap : 4;

		while (cap < r->nquar + more)
			cap *= 2;

		struct quarantine *q = realloc(r->quar, cap * sizeof(*q));

		if (!q)
			return err_set(ENOMEM, "cannot grow the quarantine "
					"list");
		r->quar = q;
		r->quar_cap = cap;
	}
	return view_reserve(r, r->nquar + more + 1);
}

/* quarantine_add -- capacity was reserved; region->mutex held */
void
quarantine_add(struct pml_region *r, uint64_t start, uint64_t end,
		const struct pml_lease *lease)
{
	r->quar[r->nquar++] = (struct quarantine){
		.r = { start, end },
		.lease = lease,
		.released = false,
	};
}

/*
 * quarantine_release -- the revoked lease was put: every entry waiting for
 * it may go.  Drops the holds those entries had on the lease's memory.
 * Caller holds region->mutex, not the lease's context lock.
 */
void
quarantine_release(struct pml_region *r, const struct pml_lease *lease)
{
	struct lease_ctx *ctx = lease->ctx;
	unsigned n = 0;

	for (unsigned i = 0; i < r->nquar; i++) {
		if (r->quar[i].lease == lease && !r->quar[i].released) {
			r->quar[i].released = true;
			n++;
		}
	}
	if (!n)
		return;
	r->lift_pending = true;

	spin_lock(&ctx->lock);
	while (n--)
		ctx_release_hold(ctx, (struct pml_lease *)lease);
	spin_unlock(&ctx->lock);
}

/* is [start, end) inside the union of the quarantined ranges? */
bool
quarantine_covers(const struct pml_region *r, uint64_t start, uint64_t end)
{
	/* walk forward: each pass extends the covered prefix, or fails */
	for (bool progress = true; start < end && progress;) {
		progress = false;
		for (unsigned i = 0; i < r->nquar; i++) {
			const struct range *q = &r->quar[i].r;

			if (q->start <= start && start < q->end) {
				start = q->end;
				progress = true;
			}
		}
	}
	return start >= end;
}

/*
 * free_parts -- [start, end) minus every quarantined range, as at most
 * nquar + 1 disjoint ranges in out[].  Returns how many.
 */
static unsigned
free_parts(const struct pml_region *r, uint64_t start, uint64_t end,
		struct range *out)
{
	unsigned n = 0;

	while (start < end) {
		uint64_t next = end;	/* where the next quarantine starts */
		bool moved = false;

		for (unsigned i = 0; i < r->nquar; i++) {
			const struct range *q = &r->quar[i].r;

			if (q->start <= start && start < q->end) {
				start = q->end;	/* skip the covered part */
				moved = true;
				break;
			}
			if (q->start > start && q->start < next)
				next = q->start;
		}
		if (moved)
			continue;
		out[n++] = (struct range){ start, next };
		start = next;
	}
	return n;
}

static uint64_t
quarantine_max_end(const struct pml_region *r)
{
	uint64_t e = 0;

	for (unsigned i = 0; i < r->nquar; i++)
		if (r->quar[i].r.end > e)
			e = r->quar[i].r.end;
	return e;
}

/*
 * dealloc_parts -- hand back to the filesystem what of [start, end) no
 * quarantine covers.  Inside the region's size the range is mapped again
 * afterwards (it reads zeroes); past it, it stays inaccessible.  Then the
 * file is cut to the region's size, or to the end of the last quarantined
 * block past it.  Called by the layout owner with region->mutex held; the
 * mutex is dropped around the system calls.
 */
int
quarantine_dealloc_free_parts(struct pml_region *r, uint64_t start,
		uint64_t end)
{
	struct range *parts = NULL;
	unsigned n = 0;
	int ret = 0;

	if (start < end) {
		parts = malloc((r->nquar + 1) * sizeof(*parts));
		if (!parts)
			return err_set(ENOMEM, "cannot allocate the punch plan");
		n = free_parts(r, start, end, parts);
	}

	uint64_t size = atomic_load(&r->size);
	uint64_t target = quarantine_max_end(r);

	if (target < size)
		target = size;

	region_unlock(r);
	for (unsigned i = 0; i < n && !ret; i++) {
		uint64_t s = parts[i].start, e = parts[i].end;

		if (s < size)
			ret = mapping_dealloc(r, s, e < size ? e : size, true);
		if (!ret && e > size && e <= target)
			ret = mapping_dealloc(r, s > size ? s : size, e, false);
		else if (!ret && e > size)	/* cut by the ftruncate below */
			ret = mapping_invalidate(r, s > size ? s : size, e);
	}
	if (!ret && target < r->file_size && r->kind != PML_REGION_DEVDAX) {
		/* what is still accessible here was invalidated just above */
		ret = mapping_protect(r, target, r->file_size, false);
		if (!ret)
			ret = mapping_set_file_size(r, target);
	}
	region_lock(r);
	free(parts);
	return ret;
}

/*
 * quarantine_lift_released -- deallocate and forget every entry whose
 * lease was put.  Layout owner, region->mutex held (dropped meanwhile).
 */
void
quarantine_lift_released(struct pml_region *r)
{
	for (unsigned i = 0; i < r->nquar;) {
		if (!r->quar[i].released) {
			i++;
			continue;
		}

		struct range gone = r->quar[i].r;

		r->quar[i] = r->quar[--r->nquar];
		/*
		 * A failed deallocation leaves blocks allocated to the file:
		 * wasted space, never a broken invariant.  It is remembered
		 * in the thread's message; nobody is waiting to be told.
		 */
		(void) quarantine_dealloc_free_parts(r, gone.start, gone.end);
		view_publish(r);
		i = 0;	/* the array may have been reordered */
	}
}

int
pml_region_quarantined(uint64_t *bytes, const struct pml_region *region)
{
	if (!bytes)
		return err_set(EINVAL, "bytes is NULL");

	int ret = region_validate(region);

	if (ret)
		return ret;

	struct pml_region *r = (struct pml_region *)region;

	region_lock(r);

	uint64_t end = quarantine_max_end(r);
	uint64_t total = end;
	struct range *parts = malloc((r->nquar + 1) * sizeof(*parts));

	if (!parts) {
		region_unlock(r);
		return err_set(ENOMEM, "cannot allocate the quarantine map");
	}
	/* the union's length: everything up to the end, less the gaps */
	unsigned n = free_parts(r, 0, end, parts);

	for (unsigned i = 0; i < n; i++)
		total -= parts[i].end - parts[i].start;
	free(parts);
	region_unlock(r);
	*bytes = total;
	return 0;
}
