/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * poison.c -- bad media: what a machine check told us, what the kernel's
 * badblocks list says, and copies that survive both.
 *
 * A load from poisoned pmem raises a machine check, which Linux turns into
 * SIGBUS BUS_MCEERR_AR for the process that touched it.  The monitor's
 * handler (monitor.c) puts anonymous memory over the poisoned page, so the
 * access completes, and records the page here with atomics only; the
 * monitor thread then revokes the leases over it (poison_handle).  From
 * then on the page reads zero through the mapping, so the safe copies look
 * here first and say -EIO rather than hand out zeroes as data.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "lease.h"
#include "region.h"

/* from the SIGBUS handler: async-signal-safe */
void
poison_record(struct pml_region *r, uint64_t offset, uint64_t length)
{
	uint32_t i = atomic_fetch_add(&r->npoison, 1);

	if (i >= POISON_MAX)
		return;		/* still revoked by the fault; not listed */
	atomic_store(&r->poison[i].offset, offset);
	atomic_store(&r->poison[i].length, length);
	atomic_store(&r->poison[i].state, POISON_NEW);
}

static uint32_t
poison_count(const struct pml_region *r)
{
	uint32_t n = atomic_load(&r->npoison);

	return n < POISON_MAX ? n : POISON_MAX;
}

/* does [start, end) touch recorded poison? */
static bool
poison_overlaps(const struct pml_region *r, uint64_t start, uint64_t end)
{
	for (uint32_t i = 0; i < poison_count(r); i++) {
		const struct poison *p = &r->poison[i];
		int st = atomic_load(&p->state);

		if ((st == POISON_NEW || st == POISON_SEEN) &&
				range_overlaps(atomic_load(&p->offset),
					atomic_load(&p->offset) +
					atomic_load(&p->length), start, end))
			return true;
	}
	return false;
}

struct poison_visit {
	struct lease_list list;
};

static void
revoke_poisoned(struct pml_lease *l, void *arg)
{
	struct poison_visit *v = arg;

	if (lease_state(l) != LEASE_LIVE)
		return;
	lease_set_state(l, LEASE_REVOKED);
	if (!l->on_break)
		return;
	lease_list_push(&v->list, l);
	if (!v->list.oom)
		l->w.holds++;
}

/*
 * poison_handle -- the monitor thread's part: revoke the leases over
 * newly poisoned pages and tell their holders (PML_BREAK_POISON).  A
 * revoked lease still covers its blocks for any barrier until put.
 */
void
poison_handle(struct pml_region *r)
{
	for (uint32_t i = 0; i < poison_count(r); i++) {
		struct poison *p = &r->poison[i];
		int st = POISON_NEW;

		if (!atomic_compare_exchange_strong(&p->state, &st,
				POISON_SEEN))
			continue;

		uint64_t start = atomic_load(&p->offset);
		uint64_t end = start + atomic_load(&p->length);
		struct poison_visit v = { 0 };

		region_lock(r);
		ctxs_unbias(r);
		for (struct lease_ctx *c = r->ctxs; c; c = c->next) {
			ctx_lock(c);
			ctx_for_each_overlap(c, start, end, revoke_poisoned, &v);
			ctx_unlock(c);
		}
		region_unlock(r);
		lease_list_call(&v.list, PML_BREAK_POISON);
		free(v.list.v);
	}
}

static int
check_range(const struct pml_region *r, uint64_t offset, size_t len,
		const void *buf)
{
	if (!buf)
		return err_set(EINVAL, "buffer is NULL");
	if (len == 0)
		return err_set(EINVAL, "length is 0");
	if (offset + len < offset)
		return err_set(EINVAL, "offset %" PRIu64 " + length %zu "
				"overflows", offset, len);
	if (offset + len > atomic_load(&r->size))
		return err_set(EINVAL, "[%" PRIu64 ", %" PRIu64 ") lies past "
				"the region's end (size %" PRIu64 ")", offset,
				offset + len, atomic_load(&r->size));
	if (poison_overlaps(r, offset, offset + len))
		return err_set(EIO, "[%" PRIu64 ", %" PRIu64 ") holds poisoned "
				"media (pml_region_badblocks lists it)", offset,
				offset + len);
	return 0;
}

static int
mcsafe_error(int ret, const char *what, uint64_t offset, size_t len)
{
	if (ret == PMEM2_E_IO_FAIL || ret == -EIO)
		return err_set(EIO, "%s [%" PRIu64 ", %" PRIu64 "): poisoned "
				"media", what, offset, offset + len);
	return err_pmem2(ret, what);
}

int
pml_region_read(struct pml_region *region, void *buf, uint64_t offset,
		size_t len)
{
	int ret = region_validate(region);

	if (ret || (ret = check_range(region, offset, len, buf)))
		return ret;
	ret = pmem2_source_pread_mcsafe(region->src, buf, len, offset);
	return ret ? mcsafe_error(ret, "read", offset, len) : 0;
}

int
pml_region_write(struct pml_region *region, uint64_t offset, const void *buf,
		size_t len)
{
	int ret = region_validate(region);

	if (ret || (ret = check_range(region, offset, len, buf)))
		return ret;
	ret = pmem2_source_pwrite_mcsafe(region->src, (void *)buf, len,
			offset);
	if (ret)
		return mcsafe_error(ret, "write", offset, len);
	/* through the mapping's own persistence: msync, or cache flushes */
	region->persist(region->base + offset, len);
	return 0;
}

/* the kernel's list, through libpmem2; none where the source has none */
static int
device_badblocks(struct pml_badblock *bbs, size_t cap, size_t *n,
		struct pml_region *r)
{
	struct pmem2_badblock_context *ctx;
	struct pmem2_badblock bb;
	int ret = pmem2_badblock_context_new(&ctx, r->src);

	if (ret)
		return 0;	/* not pmem, or no namespace to ask */
	while ((ret = pmem2_badblock_next(ctx, &bb)) == 0) {
		if (*n < cap)
			bbs[*n] = (struct pml_badblock){ .offset = bb.offset,
				.length = bb.length,
				.flags = PML_BADBLOCK_DEVICE };
		(*n)++;
	}
	pmem2_badblock_context_delete(&ctx);
	if (ret != PMEM2_E_NO_BAD_BLOCK_FOUND)
		return err_pmem2(ret, "pmem2_badblock_next");
	return 0;
}

int
pml_region_badblocks(struct pml_badblock *bbs, size_t *n,
		struct pml_region *region)
{
	if (!n)
		return err_set(EINVAL, "n is NULL");
	if (!bbs && *n)
		return err_set(EINVAL, "bbs is NULL with room for %zu", *n);

	int ret = region_validate(region);

	if (ret)
		return ret;

	size_t cap = *n;

	*n = 0;
	ret = device_badblocks(bbs, cap, n, region);
	if (ret)
		return ret;
	for (uint32_t i = 0; i < poison_count(region); i++) {
		const struct poison *p = &region->poison[i];
		int st = atomic_load(&p->state);

		if (st != POISON_NEW && st != POISON_SEEN)
			continue;
		if (*n < cap)
			bbs[*n] = (struct pml_badblock){
				.offset = atomic_load(&p->offset),
				.length = atomic_load(&p->length),
				.flags = PML_BADBLOCK_SEEN };
		(*n)++;
	}
	if (*n > cap)
		return err_set(ENOSPC, "%zu bad blocks, room for %zu", *n, cap);
	return 0;
}

/* the kernel's entries over [start, end), cleared through libpmem2 */
static int
device_clear(struct pml_region *r, uint64_t start, uint64_t end)
{
	struct pmem2_badblock_context *ctx;
	struct pmem2_badblock bb;
	int ret = pmem2_badblock_context_new(&ctx, r->src);

	if (ret)
		return 0;	/* no list to clear */
	while ((ret = pmem2_badblock_next(ctx, &bb)) == 0) {
		if (!range_overlaps(bb.offset, bb.offset + bb.length, start,
				end))
			continue;
		ret = pmem2_badblock_clear(ctx, &bb);
		if (ret)
			break;
	}
	pmem2_badblock_context_delete(&ctx);
	if (ret != PMEM2_E_NO_BAD_BLOCK_FOUND)
		return err_pmem2(ret, "clearing a bad block");
	return 0;
}

int
pml_region_badblock_clear(struct pml_region *region, uint64_t offset,
		uint64_t length)
{
	int ret = region_validate(region);

	if (ret)
		return ret;
	if (length == 0)
		return err_set(EINVAL, "length is 0");
	if (offset + length < offset ||
			offset + length > atomic_load(&region->size))
		return err_set(EINVAL, "[%" PRIu64 ", +%" PRIu64 ") lies past "
				"the region's end", offset, length);

	uint64_t a = region->alignment;
	uint64_t start = offset / a * a;
	uint64_t end = (offset + length + a - 1) / a * a;

	ret = device_clear(region, start, end);
	if (ret)
		return ret;

	bool seen = false;

	for (uint32_t i = 0; i < poison_count(region); i++) {
		struct poison *p = &region->poison[i];
		int st = atomic_load(&p->state);

		if ((st == POISON_NEW || st == POISON_SEEN) && range_overlaps(
				atomic_load(&p->offset), atomic_load(&p->offset)
				+ atomic_load(&p->length), start, end))
			seen = true;
	}
	if (!seen)
		return 0;
	/*
	 * Poison we took: fresh blocks through the barrier (its leases are
	 * drained first, like any punch), and the file mapped there again.
	 */
	ret = region_renew(region, start, end - start);
	if (ret)
		return ret;
	for (uint32_t i = 0; i < poison_count(region); i++) {
		struct poison *p = &region->poison[i];

		if (range_overlaps(atomic_load(&p->offset),
				atomic_load(&p->offset) +
				atomic_load(&p->length), start, end))
			atomic_store(&p->state, POISON_FREE);
	}
	return 0;
}
