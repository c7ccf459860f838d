/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pmlvm.h -- what a guest test of the real-DAX tier (tests/vm) gets.
 *
 * A guest test is a cmocka program run inside the QEMU guest by
 * guest-init.sh, once per target it declares (devdax, ext4, xfs) and per
 * phase (boot):
 *
 *	TEST --target=TARGET --phase=N
 *
 * in a directory it owns (PMLVM_DIR), with the environment below.  Exit
 * status 0 passes, 77 skips, anything else (or a signal, or the guest's
 * per-test timeout) fails.  pmlvm_run() maps cmocka's outcome to that.
 *
 *	int main(int argc, char **argv)
 *	{
 *		const struct CMUnitTest tests[] = {
 *			cmocka_unit_test(test_something),
 *		};
 *		pmlvm_init(argc, argv);
 *		return pmlvm_run("something", tests, PMLVM_N(tests));
 *	}
 *
 * Multi-phase tests (PHASES 2 in CMake): phase 1 runs on boot 1, phase 2 on
 * boot 2 on the same NVDIMM media; the guest powers off between them
 * without unmounting or syncing anything.  Phase 2 runs only if phase 1
 * passed.  Derive data from pmlvm_pattern(), which depends on the run id,
 * so media left over from an earlier run can never pass a phase-2 check.
 *
 * devdax is one device shared by every test: write only inside
 * [pmlvm.slot_offset, pmlvm.slot_offset + pmlvm.slot_size), the test's own
 * 16 MiB (2 MiB-aligned) slot.
 */
#ifndef PMLVM_H
#define PMLVM_H 1

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "pmemlease.h"

enum pmlvm_target {
	PMLVM_DEVDAX = 1,	/* /dev/daxN.M, namespace -m devdax -a 2M */
	PMLVM_EXT4 = 2,		/* file on ext4 -o dax=always (mkfs -b 4096) */
	PMLVM_XFS = 3,		/* file on xfs -o dax=always (reflink=0) */
};

struct pmlvm_env {
	const char *test;		/* PMLVM_TEST: the name it runs under */
	enum pmlvm_target target;
	const char *target_name;	/* "devdax", "ext4", "xfs" */
	int phase;			/* 1, 2, ... (= the boot number) */
	uint64_t run_id;		/* random per run, same in every boot */
	const char *dir;		/* PMLVM_DIR: the test's own directory;
					 * on the DAX fs for ext4/xfs (kept
					 * across boots), RAM for devdax */
	const char *devdax;		/* PMLVM_DEVDAX: "/dev/dax0.0" (always) */
	const char *pmemdev;		/* PMLVM_PMEMDEV: "/dev/pmem1" (fsdax) */
	const char *mount;		/* PMLVM_MOUNT: "/pmlvm/ext4" (fsdax) */
	const char *blockdev;		/* PMLVM_BLOCKDEV: scratch virtio disk */
	uint64_t slot_offset;		/* the test's slot on devdax */
	uint64_t slot_size;
};

extern struct pmlvm_env pmlvm;

#define PMLVM_N(a) (sizeof(a) / sizeof((a)[0]))
#define PMLVM_MiB (1024ULL * 1024ULL)
#define PMLVM_KiB 1024ULL

/* pmlvm_init -- read the arguments and environment; exit 2 when wrong */
void pmlvm_init(int argc, char **argv);

/*
 * pmlvm_run -- run a cmocka group; return 0 (all passed), 77 (nothing
 * failed and every test skipped through PMLVM_SKIP) or 1 (a failure).
 */
int pmlvm_run(const char *group, const struct CMUnitTest *tests, size_t n);

extern unsigned pmlvm_skipped;
/* skip the current cmocka test, saying why (counted for pmlvm_run) */
#define PMLVM_SKIP(...) do {					\
		print_message("SKIP: " __VA_ARGS__);		\
		print_message("\n");				\
		pmlvm_skipped++;				\
		skip();						\
	} while (0)

/*
 * PML_OK(call)        the pmemlease call must return 0
 * PML_ERR(call, E)    the pmemlease call must return -E (e.g. EINVAL)
 * Both fail the cmocka test with the call, its return and pml_errormsg().
 */
#define PML_OK(call) do {						\
		int rc_ = (call);					\
		if (rc_ != 0)						\
			fail_msg("%s = %d (%s): %s", #call, rc_,	\
				strerror(-rc_), pml_errormsg());	\
	} while (0)
#define PML_ERR(call, e) do {						\
		int rc_ = (call);					\
		if (rc_ != -(e))					\
			fail_msg("%s = %d (%s), expected -%s; "		\
				"pml_errormsg: %s", #call, rc_,		\
				rc_ ? strerror(-rc_) : "success", #e,	\
				rc_ ? pml_errormsg() : "-");		\
		print_message("as expected: %s = -%s (%s)\n", #call, #e,	\
			pml_errormsg());				\
	} while (0)

/* pmlvm_path -- NAME inside the test's directory (malloc'd; never freed) */
char *pmlvm_path(const char *name);

/* pmlvm_is_fsdax -- the target is a file on a DAX filesystem */
int pmlvm_is_fsdax(void);

/* pmlvm_make_file -- create (or truncate) PATH to SIZE bytes, sparse */
void pmlvm_make_file(const char *path, uint64_t size);

/*
 * pmlvm_pattern -- fill BUF with bytes that depend on the run id, SEED and
 * the position (so a shifted or swapped range does not match);
 * pmlvm_pattern_check returns the index of the first byte that differs, or
 * (size_t)-1 when all match.  POS is the position of BUF[0] in the stream.
 */
void pmlvm_pattern(void *buf, size_t len, uint64_t seed, uint64_t pos);
size_t pmlvm_pattern_check(const void *buf, size_t len, uint64_t seed,
		uint64_t pos);

/*
 * pmlvm_touch -- read one byte every STEP bytes of [ADDR, ADDR + LEN) and
 * its last byte, catching SIGBUS and SIGSEGV.  Returns 0, or the signal
 * number with *FAULT set to the faulting address.  Tells "mapped and backed"
 * from "mapped into a later SIGBUS" without killing the test.
 */
int pmlvm_touch(const void *addr, size_t len, size_t step, uintptr_t *fault);

/* pmlvm_read_line -- the first line of a file (sysfs), malloc'd, or NULL */
char *pmlvm_read_line(const char *path);

/*
 * pmlvm_capture -- run argv (echoed as "+ argv..."), its standard output
 * into buf (NUL-terminated, cut at len - 1), or, with buf NULL, into the
 * test's log; returns its exit status, or 128 + the signal that killed it
 */
int pmlvm_capture(char *const argv[], char *buf, size_t len);

#endif /* PMLVM_H */
