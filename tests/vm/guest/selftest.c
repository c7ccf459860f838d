/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * selftest.c -- guest programs that misbehave on purpose, so selftest.sh
 * can check that the tier reports each way of failing as a failure.
 *
 * One binary; what it does depends on the name it runs under (PMLVM_TEST):
 *   st_pass      passes
 *   st_fail      a cmocka assertion fails
 *   st_sigbus    dies of SIGBUS: a DAX mapping of a file truncated under it
 *   st_hang      never returns (the guest's per-test timeout must kill it)
 *   st_skip      skips
 *   st_phase     phase 1 stores a run-specific token on the DAX filesystem,
 *                phase 2 must find it (passes when the tier keeps media)
 *   st_phase_bad phase 1 passes, phase 2 fails
 *   st_p1_fail   phase 1 fails (phase 2 must then not run)
 * and, run as programs (pml_add_vm_program: no --target, the kind check
 * preloaded, ST_REGION from the manifest's ENV, --phase=$PMLVM_PHASE from
 * its ARGS):
 *   st_prog       opens ST_REGION ($PMLVM_DIR/st.dat, so fsdax) and passes
 *   st_prog_plain opens ST_REGION, /tmp/st.dat in the guest's RAM, and passes:
 *                 the kind check must fail it
 *   st_prog_none  opens no region and passes: the kind check must fail it
 * Not a test of pmemlease; it is never in the tier's own manifest.
 */
#include "pmlvm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int is(const char *name)
{
	return strcmp(pmlvm.test, name) == 0;
}

static void test_misbehave(void **state)
{
	(void)state;
	if (is("st_pass") || (is("st_phase_bad") && pmlvm.phase == 1))
		return;
	if (is("st_fail") || is("st_phase_bad") || is("st_p1_fail"))
		fail_msg("failing on purpose (%s, phase %d)", pmlvm.test,
			pmlvm.phase);
	if (is("st_skip"))
		PMLVM_SKIP("skipping on purpose");
	if (is("st_prog") || is("st_prog_plain")) {
		const char *path = getenv("ST_REGION");
		struct pml_region_opts o = { .flags = PML_REGION_CREATE };
		struct pml_region *r = NULL;

		/* the manifest's words were expanded in the guest */
		assert_non_null(path);
		if (is("st_prog"))
			assert_int_equal(strncmp(path, pmlvm.dir,
				strlen(pmlvm.dir)), 0);
		PML_OK(pml_region_open(&r, path, &o));
		PML_OK(pml_region_truncate(r, 2 * PMLVM_MiB, NULL));
		PML_OK(pml_region_close(&r));
		return;
	}
	if (is("st_prog_none"))
		return;
	if (is("st_hang")) {
		print_message("hanging on purpose\n");
		for (;;)
			pause();
	}
	if (is("st_sigbus")) {
		char *path = pmlvm_path("sigbus.dat");
		int fd;
		volatile char *p;

		pmlvm_make_file(path, 8192);
		fd = open(path, O_RDWR);
		assert_true(fd >= 0);
		p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		assert_true(p != MAP_FAILED);
		assert_int_equal(ftruncate(fd, 0), 0);
		/* cmocka turns SIGSEGV into a failure; SIGBUS must kill */
		signal(SIGBUS, SIG_DFL);
		print_message("touching a truncated DAX page\n");
		p[4096] = 1;
		fail_msg("no SIGBUS");
	}
	if (is("st_phase")) {
		char *path = pmlvm_path("token");
		char want[32];

		snprintf(want, sizeof(want), "%016llx",
			(unsigned long long)pmlvm.run_id);
		if (pmlvm.phase == 1) {
			FILE *f = fopen(path, "w");

			assert_non_null(f);
			fputs(want, f);
			assert_int_equal(fflush(f), 0);
			assert_int_equal(fsync(fileno(f)), 0);
			fclose(f);
		} else {
			char *got = pmlvm_read_line(path);

			assert_non_null(got);
			assert_string_equal(got, want);
			free(got);
		}
		free(path);
		return;
	}
	fail_msg("selftest: unknown name %s", pmlvm.test);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_misbehave),
	};

	pmlvm_init(argc, argv);
	return pmlvm_run("selftest", tests, PMLVM_N(tests));
}
