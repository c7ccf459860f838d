/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mapping.c -- the region's mapping: a libpmem2 virtual-address reservation
 * of max_size bytes, filled from its start: by a pmem2 mapping (the one
 * that tells the store granularity and the persistence functions), then by
 * the file mapped over the reservation for each growth past what is
 * mapped.
 *
 * Nothing is ever mapped elsewhere, so the base never moves and a leased
 * pointer stays valid across growth.  Shrinking does not unmap: the cut part
 * is made inaccessible with mprotect (a stray access faults at once instead
 * of touching a block the filesystem may have given away), and a later
 * growth makes it accessible again.  Punching a hole works the same way on
 * the punched range, for the time of the fallocate -- seed 002's "invalidate
 * the mapping, change the layout, map again" without moving a single byte
 * of the rest of the mapping, which disjoint leases keep using meanwhile.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "region.h"

/* the file at [start, end) over the reservation, as the first mapping maps
 * it: shared, and synchronous where the file is DAX */
static int
map_file(struct pml_region *r, uint64_t start, uint64_t end)
{
	int flags = MAP_FIXED | (r->granularity == PML_GRANULARITY_PAGE ?
			MAP_SHARED : MAP_SHARED_VALIDATE | MAP_SYNC);

	if (mmap(r->base + start, end - start, PROT_READ | PROT_WRITE, flags,
			r->fd, (off_t)start) == MAP_FAILED)
		return err_set(errno, "mapping [%" PRIu64 ", %" PRIu64 ") of "
				"%s: %m", start, end, r->path);
	return 0;
}

/*
 * The first mapping goes through libpmem2: it tells the store granularity
 * (and so whether a plain-looking file is DAX) and picks the persistence
 * functions.  Growth past it maps the file over the reservation itself
 * (map_file): libpmem2 keeps every mapping of a reservation in a tree, and
 * with about a thousand of them -- a database growing a page at a time --
 * pmem2_vm_reservation_delete() aborts the process.  Deleting the
 * reservation unmaps those with it.
 */
static int
map_grow(struct pml_region *r, uint64_t end)
{
	uint64_t start = r->mapped_end;
	int ret;

	if (r->map) {
		ret = map_file(r, start, end);
		if (ret == 0)
			r->mapped_end = end;
		return ret;
	}

	struct pmem2_config *cfg;
	struct pmem2_map *map = NULL;

	ret = pmem2_config_new(&cfg);
	if (ret)
		return err_pmem2(ret, "pmem2_config_new");
	/*
	 * Ask for page granularity: it is what every kind of file offers, and
	 * libpmem2 still picks MAP_SYNC -- cache-line granularity -- where the
	 * file is DAX.  What we got is read back below, never assumed.
	 */
	if ((ret = pmem2_config_set_required_store_granularity(cfg,
			PMEM2_GRANULARITY_PAGE)) ||
	    (ret = pmem2_config_set_offset(cfg, start)) ||
	    (ret = pmem2_config_set_length(cfg, end - start)) ||
	    (ret = pmem2_config_set_sharing(cfg, PMEM2_SHARED)) ||
	    (ret = pmem2_config_set_vm_reservation(cfg, r->rsv, start))) {
		pmem2_config_delete(&cfg);
		return err_pmem2(ret, "pmem2 configuration");
	}
	ret = pmem2_map_new(&map, cfg, r->src);
	pmem2_config_delete(&cfg);
	if (ret)
		return err_pmem2(ret, "pmem2_map_new");

	switch (pmem2_map_get_store_granularity(map)) {
	case PMEM2_GRANULARITY_BYTE:
		r->granularity = PML_GRANULARITY_BYTE;
		break;
	case PMEM2_GRANULARITY_CACHE_LINE:
		r->granularity = PML_GRANULARITY_CACHE_LINE;
		break;
	default:
		r->granularity = PML_GRANULARITY_PAGE;
	}
	/* MAP_SYNC working means fsdax */
	if (r->kind == PML_REGION_PLAIN && r->granularity != PML_GRANULARITY_PAGE)
		r->kind = PML_REGION_FSDAX;
	r->persist = pmem2_get_persist_fn(map);
	r->flush = pmem2_get_flush_fn(map);
	r->drain = pmem2_get_drain_fn(map);
	r->memcpy_fn = pmem2_get_memcpy_fn(map);
	r->memset_fn = pmem2_get_memset_fn(map);
	r->map = map;
	r->mapped_end = end;
	return 0;
}

int
mapping_init(struct pml_region *r, uint64_t size)
{
	int ret = pmem2_vm_reservation_new(&r->rsv, NULL, r->max_size);

	if (ret)
		return err_pmem2(ret, "cannot reserve the region's address "
				"space");
	r->base = pmem2_vm_reservation_get_address(r->rsv);
	if ((uintptr_t)r->base % r->alignment)
		return err_set(EINVAL, "reservation at %p breaks the %" PRIu64
				"-byte alignment", (void *)r->base,
				r->alignment);
	r->open_end = size;
	return size ? map_grow(r, size) : 0;
}

void
mapping_fini(struct pml_region *r)
{
	if (r->map)
		pmem2_map_delete(&r->map);
	if (r->rsv)
		pmem2_vm_reservation_delete(&r->rsv);
}

int
mapping_protect(struct pml_region *r, uint64_t start, uint64_t end,
		bool accessible)
{
	if (end > r->mapped_end)
		end = r->mapped_end;
	if (start >= end)
		return 0;
	if (mprotect(r->base + start, end - start,
			accessible ? PROT_READ | PROT_WRITE : PROT_NONE))
		return err_set(errno, "mprotect [%" PRIu64 ", %" PRIu64 "): %m",
				start, end);
	/* open_end: where the accessible part of the mapping ends */
	if (accessible && start <= r->open_end && end > r->open_end)
		r->open_end = end;
	if (!accessible && start < r->open_end && end >= r->open_end)
		r->open_end = start;
	return 0;
}

int
mapping_set_file_size(struct pml_region *r, uint64_t size)
{
	if (sys_ftruncate(r->fd, size))
		return err_set(errno, "ftruncate %s to %" PRIu64 ": %m",
				r->path, size);
	r->file_size = size;
	return 0;
}

/*
 * mapping_grow -- extend the mapping, and with extend_file the file, to
 * new_size.  The part already mapped from an earlier, larger size only
 * needs its protection back.  Only the file's layout owner extends the
 * file; an agent following another process's growth finds the file grown
 * already, or -EAGAIN: a newer change came, and its own pass follows.
 */
int
mapping_grow(struct pml_region *r, uint64_t new_size, bool extend_file)
{
	uint64_t old_size = atomic_load(&r->size);
	struct stat st;
	int ret;

	/* another process may have cut the file since we last looked */
	if (fstat(r->fd, &st))
		return err_set(errno, "fstat %s: %m", r->path);
	r->file_size = (uint64_t)st.st_size;

	uint64_t old_file = r->file_size;

	if (new_size > r->file_size && !extend_file)
		return -EAGAIN;
	if (new_size > r->file_size) {
		ret = mapping_set_file_size(r, new_size);
		if (ret)
			return ret;
	}
	if (new_size > r->mapped_end) {
		ret = map_grow(r, new_size);
		if (ret)
			goto undo_file;
	}
	ret = mapping_protect(r, old_size, new_size, true);
	if (ret)
		goto undo_file;
	return 0;

undo_file:
	if (r->file_size != old_file)
		(void) mapping_set_file_size(r, old_file);
	return ret;
}

/*
 * mapping_map_file -- map the file at [start, end) again, over whatever is
 * there (the anonymous memory a poison fault left), as growth maps it.
 */
int
mapping_map_file(struct pml_region *r, uint64_t start, uint64_t end)
{
	if (end > r->mapped_end)
		end = r->mapped_end;
	return start < end ? map_file(r, start, end) : 0;
}

/*
 * mapping_invalidate -- make [start, end) inaccessible before its blocks
 * change hands.  On DAX a dirty cache line written back after the
 * filesystem reused the block would land in someone else's data, so the
 * range is flushed out of the CPU caches first.  On the page cache the
 * punch or truncate itself drops the pages with their dirty state, and
 * writing them back first would only be wasted I/O.
 */
int
mapping_invalidate(struct pml_region *r, uint64_t start, uint64_t end)
{
	if (end > r->mapped_end)
		end = r->mapped_end;
	if (start >= end)
		return 0;
	if (r->granularity != PML_GRANULARITY_PAGE) {
		r->flush(r->base + start, end - start);
		r->drain();
	}
	return mapping_protect(r, start, end, false);
}

/*
 * mapping_dealloc -- hand [start, end) back to the filesystem: invalidate,
 * punch, and -- with remap, for a range inside the region -- make it
 * accessible again (it reads zeroes).  On devdax, which cannot deallocate,
 * zero and persist it instead.
 */
int
mapping_dealloc(struct pml_region *r, uint64_t start, uint64_t end,
		bool remap)
{
	if (start >= end)
		return 0;
	if (r->kind == PML_REGION_DEVDAX) {
		r->memset_fn(r->base + start, 0, end - start, 0);
		return 0;
	}

	int ret = mapping_invalidate(r, start, end);

	if (ret)
		return ret;
	if (sys_fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			start, end - start))
		ret = err_set(errno, "fallocate(PUNCH_HOLE) [%" PRIu64 ", %"
				PRIu64 ") of %s: %m", start, end, r->path);
	if (remap) {
		int ret2 = mapping_protect(r, start, end, true);

		if (!ret)
			ret = ret2;
	}
	return ret;
}
