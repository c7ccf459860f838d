/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lease.c -- a program built against an installed libpmemlease, the way a
 * user builds one: `cc lease.c $(pkg-config --cflags --libs pmemlease)` or
 * find_package(pmemlease).  It acts out the library's promise once: a
 * punch waits for the pin over its range, asks the holder to let go, and
 * proceeds once it has.
 *
 *   lease FILE
 */
#include <pmemlease.h>

#include <stdio.h>
#include <string.h>
#include "consumer.h"

#define SIZE (8U << 20)

int main(int argc, char **argv)
{
	struct pml_region_opts ro = { .max_size = SIZE, .flags = PML_REGION_CREATE };
	struct pml_lease_ops ops = { .on_break = put_on_break };
	struct pml_barrier_opts bo = { .timeout_ms = 10000,
				       .on_timeout = PML_ON_TIMEOUT_FAIL };
	struct pml_region_info info;
	struct pml_region *region = NULL;
	struct pml_lease *lease = NULL;
	char buf[16];
	int ret;

	if (argc != 2) {
		fprintf(stderr, "usage: lease FILE\n");
		return 2;
	}
	ret = pml_region_open(&region, argv[1], &ro);
	CHECK(ret == 0, "pml_region_open(%s) = %d", argv[1], ret);
	ret = pml_region_truncate(region, SIZE, &bo);
	CHECK(ret == 0, "pml_region_truncate = %d", ret);
	ret = pml_region_info(&info, region);
	CHECK(ret == 0, "pml_region_info = %d", ret);

	ret = pml_lease_acquire(&lease, region, 0, info.alignment, PML_LEASE_PIN,
				&ops, NULL);
	CHECK(ret == 0, "pml_lease_acquire = %d", ret);
	ret = pml_region_memcpy(region, pml_lease_addr(lease), "installed", 10, 0);
	CHECK(ret == 0, "pml_region_memcpy = %d", ret);
	ret = pml_region_read(region, buf, 0, 10);
	CHECK(ret == 0 && strcmp(buf, "installed") == 0, "read back = %d", ret);

	/* the pin is in the way: the barrier breaks it, then punches */
	ret = pml_region_punch(region, 0, info.alignment, &bo);
	CHECK(ret == 0 && breaks == 1, "pml_region_punch = %d, %d breaks",
	      ret, breaks);
	ret = pml_region_read(region, buf, 0, 10);
	CHECK(ret == 0 && buf[0] == 0, "after the punch = %d", ret);
	ret = pml_region_close(&region);
	CHECK(ret == 0, "pml_region_close = %d", ret);

	/* bad input: a clear error, not a crash */
	ret = pml_region_close(&region);
	CHECK(ret == -EINVAL, "a second close = %d", ret);
	printf("lease: ok (%s region, unit %llu, the pin was broken once)\n",
	       pml_region_kind_name(info.kind),
	       (unsigned long long)info.alignment);
	return 0;
}
