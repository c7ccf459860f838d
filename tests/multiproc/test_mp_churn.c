/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_mp_churn -- two processes grow, shrink and punch the same file at
 * once, for many rounds, while two threads in each lease ranges, write the
 * pattern MP_CHURN_SEED into them and check it is still there before the
 * put (holder.c, "churn").  What must hold:
 *   - no byte under a live lease ever changes (checked in the helpers);
 *   - every call succeeds, or fails only as allowed (a punch racing with a
 *     shrink: -EINVAL; a punch with a 1 ms timeout: -ETIMEDOUT);
 *   - at the end both processes, the file and a third process opening it
 *     afresh agree on the size;
 *   - every byte of the file is 0 or the pattern (nothing else is ever
 *     written: a stale mapping or a misplaced block would show);
 *   - once everybody has left, no state file is left behind.
 * PML_TEST_SCALE scales the duration (3 s at 1).
 */
#include "mp.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#define MAXPAGES 32

static unsigned
files_in(const char *dir)
{
	DIR *d = opendir(dir);
	unsigned n = 0;
	struct dirent *e;

	if (!d)
		fail_msg("opendir %s: %s", dir, strerror(errno));
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
check_content(struct mp_fix *f, uint64_t size)
{
	uint8_t *buf = malloc(size);
	uint64_t zero = 0, pat = 0;

	pmlt_read_file(f->path, 0, buf, size);
	for (uint64_t i = 0; i < size; i++) {
		if (buf[i] == 0) {
			zero++;
		} else if (buf[i] == mp_pattern(MP_CHURN_SEED, i)) {
			pat++;
		} else {
			uint8_t b = buf[i];

			free(buf);
			fail_msg("file byte %" PRIu64 " is %#x: neither 0 nor "
					"the pattern %#x", i, b,
					mp_pattern(MP_CHURN_SEED, i));
		}
	}
	free(buf);
	printf("  final content: %" PRIu64 " bytes, %" PRIu64 " zero, %" PRIu64
			" pattern\n", size, zero, pat);
}

static void
run_churn(struct mp_fix *f, unsigned nproc)
{
	uint64_t A = f->A;
	struct mp_proc *p[3] = { &f->b, &f->c, &f->d };
	unsigned secs = (unsigned)pmlt_scaled(3);
	uint64_t seed = pmlt_seed("test_mp_churn");

	pmlt_make_file(f->path, 8 * A, MP_CHURN_SEED);
	for (unsigned i = 0; i < nproc; i++) {
		char name[8];

		snprintf(name, sizeof(name), "%c", 'B' + i);
		mp_spawn_open(f, p[i], name);
	}
	for (unsigned i = 0; i < nproc; i++)
		mp_ok(p[i], "churn c %u %" PRIu64 " %" PRIu64, secs,
				seed + i, MAXPAGES * A);

	uint64_t t0 = pmlt_now_ns();

	for (unsigned i = 0; i < nproc; i++) {
		const char *e = mp_event(p[i], "done c ",
				(secs + 60) * 1000 * mp_slow());

		printf("  %s: %s\n", p[i]->name, e);
		if (mp_field(e, 2) != 0)
			fail_msg("churn in %s failed: %s", p[i]->name, e);
		if (!strstr(e, "ops=") || mp_field(strstr(e, "ops=") + 4, 0) < 10)
			fail_msg("churn in %s did almost nothing: %s",
					p[i]->name, e);
	}
	printf("  %u processes churned for %.1f s\n", nproc,
			(double)(pmlt_now_ns() - t0) / 1e9);

	uint64_t size = pmlt_file_size(f->path);

	for (unsigned i = 0; i < nproc; i++) {
		uint64_t s = (uint64_t)mp_cmd(p[i], "size");

		if (s != size)
			fail_msg("%s says the size is %" PRIu64 ", the file has "
					"%" PRIu64, p[i]->name, s, size);
	}
	mp_open_here(f);
	assert_int_equal(pml_region_size(f->r), size);
	assert_true(size >= 2 * A && size <= MAXPAGES * A && size % A == 0);
	assert_int_equal(mp_quarantined(f), 0);
	check_content(f, size);

	for (unsigned i = 0; i < nproc; i++)
		mp_exit(p[i]);
	pmlt_close(&f->r);
	if (files_in(f->rt) != 0)
		fail_msg("a state file is left in %s after every process left",
				f->rt);
}

static void
test_two_processes_churn(void **state)
{
	run_churn(*state, 2);
}

static void
test_three_processes_churn(void **state)
{
	run_churn(*state, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_two_processes_churn,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(test_three_processes_churn,
			mp_setup, mp_teardown),
	};

	return MP_RUN("test_mp_churn", tests);
}
