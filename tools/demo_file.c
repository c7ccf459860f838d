/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * demo_file.c -- the demo's file, observed: which blocks are allocated
 * (FIEMAP, or SEEK_DATA where it is missing), st_blocks and st_size, and
 * what each block reads through a short REF lease.
 */

#include <errno.h>
#include <inttypes.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "demo.h"

uint64_t
blk(uint64_t n)
{
	return n * dm.blk;
}

/*
 * Which blocks the file has allocated.  FIEMAP counts unwritten extents as
 * allocated (they are: a quarantine could leave some), SEEK_DATA would call
 * them holes; so FIEMAP first, SEEK_DATA only where FIEMAP is missing.
 */
static int
read_alloc(char *out, unsigned nblocks, const char **source)
{
	const unsigned max_ext = 64;
	size_t sz = sizeof(struct fiemap) + max_ext * sizeof(struct fiemap_extent);
	struct fiemap *fm = calloc(1, sz);
	uint64_t end = blk(nblocks);
	uint64_t start = 0;

	memset(out, '.', nblocks);
	out[nblocks] = '\0';
	if (fm == NULL)
		return -ENOMEM;

	*source = "FIEMAP";
	while (start < end) {
		memset(fm, 0, sz);
		fm->fm_start = start;
		fm->fm_length = end - start;
		fm->fm_flags = FIEMAP_FLAG_SYNC;
		fm->fm_extent_count = max_ext;
		if (ioctl(dm.fd, FS_IOC_FIEMAP, fm) < 0)
			goto seek;
		if (fm->fm_mapped_extents == 0)
			break;
		bool last = false;
		for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
			struct fiemap_extent *e = &fm->fm_extents[i];
			uint64_t a = e->fe_logical / dm.blk;
			uint64_t b = (e->fe_logical + e->fe_length + dm.blk - 1) / dm.blk;
			for (uint64_t k = a; k < b && k < nblocks; k++)
				out[k] = '#';
			start = e->fe_logical + e->fe_length;
			if (e->fe_flags & FIEMAP_EXTENT_LAST)
				last = true;
		}
		if (last)
			break;
	}
	free(fm);
	return 0;

seek:
	free(fm);
	*source = "SEEK_DATA";
	memset(out, '.', nblocks);
	for (off_t off = 0; (uint64_t)off < end;) {
		off_t d = lseek(dm.fd, off, SEEK_DATA);
		if (d < 0)
			break;	/* ENXIO: no data past off */
		off_t h = lseek(dm.fd, d, SEEK_HOLE);
		if (h < 0)
			return -errno;
		for (uint64_t k = (uint64_t)d / dm.blk;
		     k < ((uint64_t)h + dm.blk - 1) / dm.blk && k < nblocks; k++)
			out[k] = '#';
		off = h;
	}
	return 0;
}

/*
 * What block i reads, through a short REF lease as any CPU reader should:
 * '0' zeroes, a letter when the block is filled with it, '*' mixed,
 * '-' when no lease can be had right now (barrier or quarantine),
 * ' ' past the region's end.
 */
char
read_block(unsigned i)
{
	struct pml_lease *l = NULL;
	if (blk(i + 1) > pml_region_size(dm.region))
		return ' ';
	int rc = pml_lease_acquire(&l, dm.region, blk(i), dm.blk,
				   PML_LEASE_REF | PML_LEASE_NOWAIT, NULL, NULL);
	if (rc == -EAGAIN)
		return '-';
	if (rc < 0)
		return '!';
	const unsigned char *p = pml_lease_addr(l);
	char c;
	bool same = true;
	dm.touched[i] = true;
	for (uint64_t k = 1; k < dm.blk && same; k++)
		same = p[k] == p[0];
	if (!same)
		c = '*';
	else if (p[0] == 0)
		c = '0';
	else if (p[0] >= 0x21 && p[0] < 0x7f)
		c = (char)p[0];
	else
		c = '*';
	pml_lease_put(l);
	return c;
}

/*
 * with_data: read every block too.  Never while a streaming device may be
 * writing into one: that read would race with the "DMA", as it would with
 * a real device.
 */
void
observe_some(struct file_view *v, unsigned nblocks, bool with_data)
{
	struct stat st;

	memset(v, 0, sizeof(*v));
	if (read_alloc(v->alloc, nblocks, &v->source) < 0)
		memset(v->alloc, '?', nblocks);
	/* allocation before the reads: on tmpfs a read can change it */
	if (fstat(dm.fd, &st) == 0) {
		v->st_blocks = (uint64_t)st.st_blocks;
		v->st_size = (uint64_t)st.st_size;
	}
	for (unsigned i = 0; i < nblocks && with_data; i++)
		v->data[i] = read_block(i);
	v->data[nblocks] = '\0';
}

void
observe(struct file_view *v, unsigned nblocks)
{
	observe_some(v, nblocks, true);
}

void
show(const struct file_view *v, unsigned nblocks)
{
	char idx[GROWN_BLOCKS + 1], s1[32], s2[32];
	for (unsigned i = 0; i < nblocks; i++)
		idx[i] = "0123456789abcdef"[i % 16];
	idx[nblocks] = '\0';
	say("block      %s", idx);
	say("allocated  %s   (%s; st_blocks %" PRIu64 " = %s on disk, st_size %s)",
	    v->alloc, v->source, v->st_blocks,
	    cli_size(s1, sizeof(s1), v->st_blocks * 512),
	    cli_size(s2, sizeof(s2), v->st_size));
	say("reads      %s", v->data);
}

/* the blocks the model predicts, for the regions [0, nblocks) */
bool
data_matches_model(const struct file_view *v, unsigned nblocks)
{
	return memcmp(v->data, dm.model, nblocks) == 0;
}

/* the blocks in [a, b) are holes, bar those tmpfs refilled on a read */
bool
holes(const struct file_view *v, unsigned a, unsigned b)
{
	for (unsigned i = a; i < b; i++)
		if (v->alloc[i] != '.' && !(dm.reads_allocate && dm.touched[i]))
			return false;
	return true;
}

/* before a punch: reads from now on may refill a hole on tmpfs */
void
untouch(unsigned a, unsigned b)
{
	for (unsigned i = a; i < b; i++)
		dm.touched[i] = false;
}

unsigned
count_alloc(const struct file_view *v, unsigned a, unsigned b)
{
	unsigned n = 0;
	for (unsigned i = a; i < b; i++)
		n += v->alloc[i] == '#';
	return n;
}
