/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * harness.c -- the guest checks what the tier promises, without pmemlease.
 *
 * If this fails, every other guest test's result is suspect:
 *   - devdax: PMLVM_DEVDAX is a device-dax character device with 2 MiB
 *     alignment, as `ndctl create-namespace -m devdax -a 2M` made it;
 *   - ext4/xfs: PMLVM_DIR is on that filesystem type, a new file in it is
 *     a DAX inode (statx STATX_ATTR_DAX), and MAP_SYNC mappings work (they
 *     only do on real DAX);
 *   - the scratch virtio disk reads with O_DIRECT;
 *   - phase 1 writes a run-specific pattern through libpmem2 and phase 2,
 *     after the power-off and a new boot on the same NVDIMM files, finds it
 *     (and, on fsdax, finds the same inode: the filesystem was not remade).
 */
#include "pmlvm.h"

#include <errno.h>
#include <fcntl.h>
#include <libpmem2.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif

#define FILE_SIZE (8 * PMLVM_MiB)
#define DATA_LEN (2 * PMLVM_MiB)	/* one devdax alignment unit */
#define SEED 0x4841524eULL		/* "HARN" */

static void test_media(void **state)
{
	(void)state;
	if (pmlvm.target == PMLVM_DEVDAX) {
		struct stat st;
		char path[128], *link, *align;
		ssize_t n;

		assert_int_equal(stat(pmlvm.devdax, &st), 0);
		assert_true(S_ISCHR(st.st_mode));
		/* the char device's subsystem must be the dax class */
		snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/subsystem",
			major(st.st_rdev), minor(st.st_rdev));
		link = calloc(1, 4096);
		assert_non_null(link);
		n = readlink(path, link, 4095);
		assert_true(n > 0);
		print_message("%s -> %s\n", path, link);
		assert_non_null(strstr(link, "dax"));
		free(link);
		snprintf(path, sizeof(path), "/sys/bus/dax/devices/%s/align",
			strrchr(pmlvm.devdax, '/') + 1);
		align = pmlvm_read_line(path);
		assert_non_null(align);
		assert_string_equal(align, "2097152");
		free(align);
		return;
	}

	struct statfs sfs;
	struct statx stx;
	char *path = pmlvm_path("harness-media.dat");
	int fd;
	void *p;

	assert_int_equal(statfs(pmlvm.dir, &sfs), 0);
	if (pmlvm.target == PMLVM_EXT4)
		assert_int_equal(sfs.f_type, EXT4_SUPER_MAGIC);
	else
		assert_int_equal(sfs.f_type, XFS_SUPER_MAGIC);

	pmlvm_make_file(path, FILE_SIZE);
	assert_int_equal(statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, &stx), 0);
	print_message("statx attributes 0x%llx mask 0x%llx\n",
		(unsigned long long)stx.stx_attributes,
		(unsigned long long)stx.stx_attributes_mask);
	assert_true(stx.stx_attributes_mask & STATX_ATTR_DAX);
	assert_true(stx.stx_attributes & STATX_ATTR_DAX);

	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	p = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE,
		MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
	if (p == MAP_FAILED)
		fail_msg("MAP_SYNC mmap on %s: %s (not DAX?)", path,
			strerror(errno));
	memset(p, 0x5a, 4096);
	assert_int_equal(munmap(p, FILE_SIZE), 0);
	close(fd);
	assert_int_equal(unlink(path), 0);
	free(path);
}

static void test_scratch_disk(void **state)
{
	void *buf = NULL;
	int fd;
	struct stat st;

	(void)state;
	if (pmlvm.blockdev == NULL) {
		fail_msg("PMLVM_BLOCKDEV is not set (no scratch disk)");
		return;
	}
	assert_int_equal(stat(pmlvm.blockdev, &st), 0);
	assert_true(S_ISBLK(st.st_mode));
	fd = open(pmlvm.blockdev, O_RDONLY | O_DIRECT);
	assert_true(fd >= 0);
	assert_int_equal(posix_memalign(&buf, 4096, 4096), 0);
	assert_int_equal(pread(fd, buf, 4096, 0), 4096);
	free(buf);
	close(fd);
}

/* map the test's data through libpmem2: the devdax slot or a file */
struct pm {
	int fd;
	struct pmem2_source *src;
	struct pmem2_config *cfg;
	struct pmem2_map *map;
	uint8_t *addr;
};

static void pm_map(struct pm *pm, int create)
{
	const char *path;
	int flags = O_RDWR;

	memset(pm, 0, sizeof(*pm));
	if (pmlvm.target == PMLVM_DEVDAX) {
		path = pmlvm.devdax;
	} else {
		path = pmlvm_path("harness-persist.dat");
		if (create)
			pmlvm_make_file(path, FILE_SIZE);
	}
	pm->fd = open(path, flags);
	if (pm->fd < 0)
		fail_msg("open(%s): %s", path, strerror(errno));
	assert_int_equal(pmem2_source_from_fd(&pm->src, pm->fd), 0);
	assert_int_equal(pmem2_config_new(&pm->cfg), 0);
	assert_int_equal(pmem2_config_set_required_store_granularity(pm->cfg,
		PMEM2_GRANULARITY_PAGE), 0);
	if (pmlvm.target == PMLVM_DEVDAX) {
		assert_int_equal(pmem2_config_set_offset(pm->cfg,
			pmlvm.slot_offset), 0);
		assert_int_equal(pmem2_config_set_length(pm->cfg, DATA_LEN), 0);
	}
	if (pmem2_map_new(&pm->map, pm->cfg, pm->src) != 0)
		fail_msg("pmem2_map_new(%s): %s", path, pmem2_errormsg());
	pm->addr = pmem2_map_get_address(pm->map);
}

static void pm_unmap(struct pm *pm)
{
	assert_int_equal(pmem2_map_delete(&pm->map), 0);
	pmem2_config_delete(&pm->cfg);
	pmem2_source_delete(&pm->src);
	close(pm->fd);
}

static void test_persist(void **state)
{
	struct pm pm;
	char *ino_path = pmlvm_path("harness-inode");

	(void)state;
	if (pmlvm.phase == 1) {
		pm_map(&pm, 1);
		pmlvm_pattern(pm.addr, DATA_LEN, SEED, 0);
		pmem2_get_persist_fn(pm.map)(pm.addr, DATA_LEN);
		if (pmlvm_is_fsdax()) {
			struct stat st;
			FILE *f;

			assert_int_equal(fstat(pm.fd, &st), 0);
			f = fopen(ino_path, "w");
			assert_non_null(f);
			fprintf(f, "%llu\n", (unsigned long long)st.st_ino);
			assert_int_equal(fflush(f), 0);
			assert_int_equal(fsync(fileno(f)), 0);
			fclose(f);
		}
		pm_unmap(&pm);
	} else {
		size_t bad;

		pm_map(&pm, 0);
		bad = pmlvm_pattern_check(pm.addr, DATA_LEN, SEED, 0);
		if (bad != (size_t)-1)
			fail_msg("phase-1 data lost: first difference at byte %zu",
				bad);
		if (pmlvm_is_fsdax()) {
			struct stat st;
			char *ino = pmlvm_read_line(ino_path);
			char now[32];

			assert_non_null(ino);
			assert_int_equal(fstat(pm.fd, &st), 0);
			snprintf(now, sizeof(now), "%llu",
				(unsigned long long)st.st_ino);
			/* a remade filesystem would not have the file at all;
			 * the same inode says it is the very same one */
			assert_string_equal(ino, now);
			free(ino);
		}
		pm_unmap(&pm);
	}
	free(ino_path);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest phase1[] = {
		cmocka_unit_test(test_media),
		cmocka_unit_test(test_scratch_disk),
		cmocka_unit_test(test_persist),
	};
	const struct CMUnitTest phase2[] = {
		cmocka_unit_test(test_media),
		cmocka_unit_test(test_persist),
	};

	pmlvm_init(argc, argv);
	if (pmlvm.phase == 1)
		return pmlvm_run("harness phase 1", phase1, PMLVM_N(phase1));
	return pmlvm_run("harness phase 2", phase2, PMLVM_N(phase2));
}
