/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * persist.c -- persistence helpers over the region's libpmem2 functions.
 *
 * libpmem2 picks the functions once per mapping, for its store granularity
 * and the CPU's best flush instruction; the region keeps those of its
 * first mapping, and maps every growth the same way (MAP_SYNC where that
 * one is DAX: mapping.c), so they hold for the whole region.  The wrappers
 * add only a range check against the region; code that cannot afford even
 * that takes the function itself.
 */
#include <errno.h>
#include <inttypes.h>

#include "err.h"
#include "region.h"

#define PML_F_MEM_VALID (PML_F_MEM_NODRAIN | PML_F_MEM_NONTEMPORAL | \
	PML_F_MEM_TEMPORAL | PML_F_MEM_WC | PML_F_MEM_WB | PML_F_MEM_NOFLUSH)

_Static_assert(PML_F_MEM_NODRAIN == PMEM2_F_MEM_NODRAIN &&
	PML_F_MEM_NONTEMPORAL == PMEM2_F_MEM_NONTEMPORAL &&
	PML_F_MEM_TEMPORAL == PMEM2_F_MEM_TEMPORAL &&
	PML_F_MEM_WC == PMEM2_F_MEM_WC && PML_F_MEM_WB == PMEM2_F_MEM_WB &&
	PML_F_MEM_NOFLUSH == PMEM2_F_MEM_NOFLUSH,
	"PML_F_MEM_* are passed to libpmem2 as they are");

static int __attribute__((cold, noinline))
in_region_error(const struct pml_region *r, const void *addr, size_t len,
		int ret)
{
	if (ret)
		return ret;
	if (!addr)
		return err_set(EINVAL, "address is NULL");
	if (len == 0)
		return err_set(EINVAL, "length is 0");
	return err_set(EINVAL, "[%p, +%zu) is not inside the region [%p, +%"
			PRIu64 ")", addr, len, (void *)r->base,
			atomic_load(&r->size));
}

/*
 * in_region -- [addr, addr + len) lies inside the region's current size.
 * Inline, its errors out of line: it is all the wrappers add to libpmem2.
 */
static inline int
in_region(const struct pml_region *r, const void *addr, size_t len)
{
	int ret = region_validate_fast(r);

	if (__builtin_expect(ret != 0 || !addr || len == 0, 0))
		return in_region_error(r, addr, len, ret);

	uintptr_t a = (uintptr_t)addr, base = (uintptr_t)r->base;
	uint64_t size = atomic_load_explicit(&r->size, memory_order_relaxed);

	if (__builtin_expect(a < base || a - base > size ||
			len > size - (a - base), 0))
		return in_region_error(r, addr, len, 0);
	return 0;
}

int
pml_region_persist(struct pml_region *region, const void *addr, size_t len)
{
	int ret = in_region(region, addr, len);

	if (!ret)
		region->persist(addr, len);
	return ret;
}

int
pml_region_flush(struct pml_region *region, const void *addr, size_t len)
{
	int ret = in_region(region, addr, len);

	if (!ret)
		region->flush(addr, len);
	return ret;
}

int
pml_region_drain(struct pml_region *region)
{
	int ret = region_validate_fast(region);

	if (ret)
		return ret;
	if (!region->drain)
		return err_set(EINVAL, "region has no mapping yet (size 0)");
	region->drain();
	return 0;
}

int
pml_region_memcpy(struct pml_region *region, void *dest, const void *src,
		size_t len, unsigned flags)
{
	int ret = in_region(region, dest, len);

	if (ret)
		return ret;
	if (!src)
		return err_set(EINVAL, "source is NULL");
	if (flags & ~PML_F_MEM_VALID)
		return err_set(EINVAL, "unknown flags 0x%x", flags);
	region->memcpy_fn(dest, src, len, flags);
	return 0;
}

int
pml_region_memset(struct pml_region *region, void *dest, int c, size_t len,
		unsigned flags)
{
	int ret = in_region(region, dest, len);

	if (ret)
		return ret;
	if (flags & ~PML_F_MEM_VALID)
		return err_set(EINVAL, "unknown flags 0x%x", flags);
	region->memset_fn(dest, c, len, flags);
	return 0;
}

/* the getters hand out NULL, with a message, until something is mapped */
static const struct pml_region *
mapped(const struct pml_region *r)
{
	if (region_validate(r))
		return NULL;
	if (!r->persist) {
		err_set(EINVAL, "region has no mapping yet (size 0)");
		return NULL;
	}
	return r;
}

pml_persist_fn
pml_region_persist_fn(const struct pml_region *region)
{
	return mapped(region) ? region->persist : NULL;
}

pml_flush_fn
pml_region_flush_fn(const struct pml_region *region)
{
	return mapped(region) ? region->flush : NULL;
}

pml_drain_fn
pml_region_drain_fn(const struct pml_region *region)
{
	return mapped(region) ? region->drain : NULL;
}

pml_memcpy_fn
pml_region_memcpy_fn(const struct pml_region *region)
{
	return mapped(region) ? region->memcpy_fn : NULL;
}

pml_memset_fn
pml_region_memset_fn(const struct pml_region *region)
{
	return mapped(region) ? region->memset_fn : NULL;
}
