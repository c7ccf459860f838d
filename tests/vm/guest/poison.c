/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * poison.c -- a machine check on a leased fsdax page, for real: the guest
 * kernel's memory-failure path, injected with MADV_HWPOISON (root), which
 * on 6.12 delivers SIGBUS BUS_MCEERR_AR at the poisoned page during the
 * madvise call itself (real-dax-in-qemu.md).
 *
 * The process holds a PIN over part of the page (two references: the
 * "DMA", which on_break puts, and the test's own, to look at the lease
 * afterwards) and another PIN further on.  After the injection:
 *   - the process is alive and the madvise returned;
 *   - the lease over the page is revoked, told PML_BREAK_POISON; the
 *     other is untouched and the region is not revoked;
 *   - the poisoned page reads zero through the mapping (replaced), and
 *     pml_region_read over it says -EIO, while the pages around it read
 *     what was written;
 *   - pml_region_badblocks lists the page with PML_BADBLOCK_SEEN.
 *
 * It leaves a poisoned page behind: it runs in the removal boot
 * (PMLVM_REMOVAL_BOOT, the last), its earlier phases do nothing.
 */
#include "pmlvm.h"

#include <inttypes.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifndef PMLVM_REMOVAL_BOOT
#error "PMLVM_REMOVAL_BOOT: the boot the removal tests run in (CMake sets it)"
#endif
#ifndef MADV_HWPOISON
#define MADV_HWPOISON 100
#endif

#define PG 4096ULL
#define NPAGES 16ULL
#define BAD 3ULL		/* the page poisoned */
#define FAR 9ULL		/* a leased page nowhere near it */
#define SEED 0x504f4953ULL	/* "POIS" */
#define DEADLINE_MS 10000

struct holder {
	struct pml_lease *lease;
	atomic_int n_break;
	atomic_int reason;
	atomic_int put_rc;
};

static void on_break(struct pml_lease *lease, enum pml_break_reason why,
		void *arg)
{
	struct holder *h = arg;

	atomic_store(&h->reason, (int)why);
	/* the "DMA" lets go; the test keeps its own reference */
	atomic_store(&h->put_rc, pml_lease_put(lease));
	atomic_fetch_add(&h->n_break, 1);
}

static const struct pml_lease_ops ops = { .on_break = on_break };

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static void read_has_pattern(struct pml_region *r, uint64_t off,
		uint64_t len, const char *what)
{
	uint8_t *buf = malloc(len);
	size_t bad;

	assert_non_null(buf);
	PML_OK(pml_region_read(r, buf, off, len));
	bad = pmlvm_pattern_check(buf, len, SEED, off);
	free(buf);
	if (bad != (size_t)-1)
		fail_msg("%s: byte %" PRIu64 " differs from what was written",
			what, off + bad);
}

static void test_poison(void **state)
{
	char *path = pmlvm_path("poison.dat");
	struct pml_region *r = NULL;
	struct holder near = { 0 }, far = { 0 };
	struct pml_badblock bbs[16];
	uint8_t *buf = malloc(NPAGES * PG), one[3 * PG];
	volatile uint8_t *base;
	size_t n;
	int rc, seen = 0;

	(void)state;
	assert_non_null(buf);
	pmlvm_make_file(path, NPAGES * PG);
	PML_OK(pml_monitor_start());
	PML_OK(pml_region_open(&r, path, NULL));
	pmlvm_pattern(buf, NPAGES * PG, SEED, 0);
	PML_OK(pml_region_write(r, 0, buf, NPAGES * PG));
	base = pml_region_base(r);
	assert_non_null(base);

	/* part of the page, unaligned: the lease needs no alignment */
	PML_OK(pml_lease_acquire(&near.lease, r, BAD * PG + 100, 200,
		PML_LEASE_PIN, &ops, &near));
	PML_OK(pml_lease_get(near.lease));
	PML_OK(pml_lease_acquire(&far.lease, r, FAR * PG, PG, PML_LEASE_PIN,
		&ops, &far));
	/* the page is mapped and read before: the poison hits a live PTE */
	assert_int_equal(base[BAD * PG + 150], buf[BAD * PG + 150]);

	print_message("madvise(MADV_HWPOISON) on page %llu of %s\n",
		(unsigned long long)BAD, path);
	rc = madvise((void *)(base + BAD * PG), PG, MADV_HWPOISON);
	if (rc != 0)
		fail_msg("madvise(MADV_HWPOISON): %s (root? "
			"CONFIG_MEMORY_FAILURE?)", strerror(errno));
	/* here: the process survived the machine check */

	for (int i = 0; i < DEADLINE_MS / 20 &&
			atomic_load(&near.n_break) == 0; i++)
		sleep_ms(20);
	if (atomic_load(&near.n_break) != 1)
		fail_msg("on_break of the lease over the poisoned page ran %d "
			"times, not once, within %d ms",
			atomic_load(&near.n_break), DEADLINE_MS);
	if (atomic_load(&near.reason) != PML_BREAK_POISON)
		fail_msg("on_break was told %d, not PML_BREAK_POISON (%d)",
			atomic_load(&near.reason), PML_BREAK_POISON);
	PML_OK(atomic_load(&near.put_rc));
	assert_int_equal(pml_lease_revoked(near.lease), 1);
	PML_ERR(pml_lease_get(near.lease), ESTALE);
	PML_OK(pml_lease_put(near.lease));

	/* the rest of the region stays in use */
	assert_int_equal(pml_region_revoked(r), 0);
	assert_int_equal(atomic_load(&far.n_break), 0);
	assert_int_equal(pml_lease_revoked(far.lease), 0);
	PML_OK(pml_lease_get(far.lease));
	PML_OK(pml_lease_put(far.lease));

	/* the poisoned page was replaced: a load completes, and reads 0 */
	assert_int_equal(base[BAD * PG + 150], 0);

	/* the safe copies: -EIO over the page, the data elsewhere */
	PML_ERR(pml_region_read(r, one, BAD * PG, PG), EIO);
	PML_ERR(pml_region_read(r, one, BAD * PG + 4000, 1), EIO);
	PML_ERR(pml_region_read(r, one, (BAD - 1) * PG, 3 * PG), EIO);
	read_has_pattern(r, 0, BAD * PG, "the pages before the poisoned one");
	read_has_pattern(r, (BAD + 1) * PG, (NPAGES - BAD - 1) * PG,
		"the pages after the poisoned one");
	pmlvm_pattern(one, PG, SEED + 1, 0);
	PML_OK(pml_region_write(r, 12 * PG, one, PG));
	PML_OK(pml_region_read(r, buf, 12 * PG, PG));
	assert_memory_equal(buf, one, PG);

	/* the badblock: counted with no room, then listed */
	n = 0;
	PML_ERR(pml_region_badblocks(NULL, &n, r), ENOSPC);
	assert_true(n >= 1);
	n = PMLVM_N(bbs);
	PML_OK(pml_region_badblocks(bbs, &n, r));
	for (size_t i = 0; i < n && i < PMLVM_N(bbs); i++) {
		print_message("badblock [%" PRIu64 ", +%" PRIu64 ") flags %#x\n",
			bbs[i].offset, bbs[i].length, bbs[i].flags);
		if (!(bbs[i].flags & PML_BADBLOCK_SEEN))
			continue;
		if (bbs[i].offset <= BAD * PG &&
		    bbs[i].offset + bbs[i].length >= (BAD + 1) * PG)
			seen = 1;
		else if (bbs[i].offset + bbs[i].length <= BAD * PG ||
			 bbs[i].offset >= (BAD + 1) * PG)
			fail_msg("a SEEN badblock [%" PRIu64 ", +%" PRIu64
				") outside the poisoned page", bbs[i].offset,
				bbs[i].length);
	}
	if (!seen)
		fail_msg("pml_region_badblocks does not list page %llu with "
			"PML_BADBLOCK_SEEN", (unsigned long long)BAD);

	/* a new lease elsewhere is fine */
	PML_OK(pml_lease_acquire(&near.lease, r, 5 * PG, PG, PML_LEASE_REF,
		NULL, NULL));
	PML_OK(pml_lease_put(near.lease));

	/*
	 * Clearing: fresh blocks through the barrier, the file mapped there
	 * again.  The page reads zero (safely, and through a new lease), it
	 * is no longer listed, and what is written there stays in the file.
	 */
	PML_OK(pml_region_badblock_clear(r, BAD * PG + 100, 1));
	n = PMLVM_N(bbs);
	PML_OK(pml_region_badblocks(bbs, &n, r));
	for (size_t i = 0; i < n; i++)
		if ((bbs[i].flags & PML_BADBLOCK_SEEN) &&
		    bbs[i].offset < (BAD + 1) * PG &&
		    bbs[i].offset + bbs[i].length > BAD * PG)
			fail_msg("page %llu still listed after the clear",
				(unsigned long long)BAD);
	PML_OK(pml_region_read(r, one, BAD * PG, PG));
	for (size_t i = 0; i < PG; i++)
		if (one[i] != 0)
			fail_msg("byte %zu of the cleared page reads %#x, not 0",
				i, one[i]);
	PML_OK(pml_lease_acquire(&near.lease, r, BAD * PG, PG, PML_LEASE_PIN,
		NULL, NULL));
	memset(pml_lease_addr(near.lease), 0x5a, PG);
	PML_OK(pml_region_persist(r, pml_lease_addr(near.lease), PG));
	PML_OK(pml_lease_put(near.lease));
	PML_OK(pml_region_read(r, one, BAD * PG, PG));
	for (size_t i = 0; i < PG; i++)
		if (one[i] != 0x5a)
			fail_msg("byte %zu written through the mapping after the "
				"clear reads %#x from the file, not 0x5a: the "
				"page is not the file's", i, one[i]);
	/* up to page 12, which has another pattern now */
	read_has_pattern(r, (BAD + 1) * PG, (12 - BAD - 1) * PG,
		"the pages after the cleared one");
	PML_OK(pml_lease_put(far.lease));
	PML_OK(pml_region_close(&r));
	PML_OK(pml_monitor_stop());
	free(buf);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_poison),
	};

	pmlvm_init(argc, argv);
	if (pmlvm.phase != PMLVM_REMOVAL_BOOT) {
		print_message("poison: nothing in boot %d; it runs in boot %d, "
			"after every other test\n", pmlvm.phase,
			PMLVM_REMOVAL_BOOT);
		return 0;
	}
	if (!pmlvm_is_fsdax()) {
		fprintf(stderr, "poison: fsdax targets only\n");
		return 2;
	}
	return pmlvm_run("poison", tests, PMLVM_N(tests));
}
