/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * heap.c -- built against the installed libpmemlease_heap
 * (pkg-config pmemlease-heap, or find_package(pmemlease COMPONENTS heap)):
 * allocations come from the region, a leased one survives its free until
 * the lease is put.
 *
 *   heap FILE
 */
#include <pmemlease_heap.h>

#include <stdio.h>
#include <string.h>
#define CONSUMER_ERRMSG pml_heap_errormsg()
#include "consumer.h"

int main(int argc, char **argv)
{
	struct pml_region_opts ro = { .max_size = 64U << 20,
				      .flags = PML_REGION_CREATE };
	struct pml_region *region = NULL;
	struct pml_heap *heap = NULL;
	struct pml_lease *lease = NULL;
	char *base, *p[256];
	int ret, i;

	if (argc != 2) {
		fprintf(stderr, "usage: heap FILE\n");
		return 2;
	}
	ret = pml_region_open(&region, argv[1], &ro);
	CHECK(ret == 0, "pml_region_open(%s) = %d", argv[1], ret);
	ret = pml_heap_create(&heap, region, NULL);
	CHECK(ret == 0, "pml_heap_create = %d", ret);
	for (i = 0; i < 256; i++) {
		p[i] = pml_heap_alloc(heap, 4096 + (size_t)i);
		CHECK(p[i] != NULL, "pml_heap_alloc #%d", i);
		memset(p[i], i, 4096);
	}
	base = pml_region_base(region);
	for (i = 0; i < 256; i++)
		CHECK(p[i] >= base && p[i] + 4096 <= base + pml_region_size(region),
		      "allocation #%d outside the region", i);

	ret = pml_heap_lease(&lease, heap, p[7], PML_LEASE_PIN, NULL, NULL);
	CHECK(ret == 0, "pml_heap_lease = %d", ret);
	for (i = 0; i < 256; i++)
		pml_heap_free(heap, p[i]);
	ret = pml_heap_destroy(&heap);
	CHECK(ret == -EBUSY, "destroy under a lease = %d", ret);
	CHECK(p[7][100] == 7, "the leased allocation changed after its free");
	ret = pml_heap_lease_put(heap, lease);
	CHECK(ret == 0, "pml_heap_lease_put = %d", ret);
	ret = pml_heap_destroy(&heap);
	CHECK(ret == 0, "pml_heap_destroy = %d", ret);
	ret = pml_region_close(&region);
	CHECK(ret == 0, "pml_region_close = %d", ret);
	printf("heap: ok (256 allocations in the region, one leased past its free)\n");
	return 0;
}
