/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * intercept.c -- linked with the installed libpmemlease-intercept
 * (pkg-config pmemlease-intercept, or find_package(pmemlease COMPONENTS
 * intercept)): a plain ftruncate(2) of a file this process holds a pin on
 * goes through the barrier, which breaks the pin before the file shrinks.
 *
 *   intercept FILE
 */
#include <pmemlease.h>
#include <pmemlease_intercept.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include "consumer.h"

int main(int argc, char **argv)
{
	struct pml_region_opts ro = { .max_size = 4U << 20,
				      .flags = PML_REGION_CREATE };
	struct pml_lease_ops ops = { .on_break = put_on_break };
	struct pml_region *region = NULL;
	struct pml_lease *lease = NULL;
	unsigned long seen = 0, barrier = 0;
	struct stat st;
	int fd, ret;

	if (argc != 2) {
		fprintf(stderr, "usage: intercept FILE\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0, "creating %s", argv[1]);
	ret = pml_region_open(&region, argv[1], &ro);
	CHECK(ret == 0, "pml_region_open = %d", ret);
	ret = pml_lease_acquire(&lease, region, 512 << 10, 4096, PML_LEASE_PIN,
				&ops, NULL);
	CHECK(ret == 0, "pml_lease_acquire = %d", ret);

	/* the program knows nothing of leases; the intercept does */
	CHECK(ftruncate(fd, 256 << 10) == 0, "ftruncate");
	CHECK(fstat(fd, &st) == 0 && st.st_size == 256 << 10, "the size");
	pml_intercept_calls(&seen, &barrier);
	CHECK(breaks == 1 && barrier >= 1, "%d breaks, %lu of %lu calls through the barrier",
	      breaks, barrier, seen);
	close(fd);
	ret = pml_region_close(&region);
	CHECK(ret == 0, "pml_region_close = %d", ret);
	printf("intercept: ok (ftruncate broke the pin; %lu of %lu calls through the barrier)\n",
	       barrier, seen);
	return 0;
}
