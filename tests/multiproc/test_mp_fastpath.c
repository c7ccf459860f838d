/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_mp_fastpath -- with no barrier raised, acquire + put makes no
 * system call, even with the file's lease state shared with another
 * process that holds leases on it.
 *
 * Counted two ways, both by the kernel, never timed:
 *   - inside the helper, the looping thread's own raw_syscalls:sys_enter
 *     events (perf_event_open on the tracepoint, enabled around the loop):
 *     must be exactly 0 after subtracting what enabling and disabling the
 *     counter cost;
 *   - from outside, the helper run under `perf stat -e
 *     raw_syscalls:sys_enter` (or `strace -f -c` where perf cannot), once
 *     with N pairs and once with none: (calls(N) - calls(0)) / N, all
 *     threads, agent included, is printed and must stay below 0.001.
 * MP_SYSCALL_TOOL=perf|strace|none picks the outside tool.
 */
#include "mp.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define BIG (UINT64_C(2) << 20)		/* a 2 MiB lease: the long-lease path */

static uint64_t
pairs(void)
{
	return pmlt_scaled(PMLT_TSAN ? 100000 : 1000000);
}

/* the file: big enough for a 2 MiB lease next to the others */
static void
big_file(struct mp_fix *f)
{
	pmlt_make_sparse(f->path, 2 * BIG + 64 * f->A);
}

/* a helper with the big file open (the default reservation) */
static void
spawn_big(struct mp_fix *f, struct mp_proc *p, const char *name,
		const struct mp_spawn_opts *o)
{
	mp_spawn(p, name, o);
	mp_ok(p, "open %s 0", f->path);
}

static void
test_no_syscall_in_the_loop(void **state)
{
	struct mp_fix *f = *state;
	uint64_t A = f->A, n = pairs();
	static const struct {
		const char *what;
		uint64_t off, len;
		unsigned flags;
	} runs[] = {
		{ "PIN 4 KiB", 0, 4096, 0 },
		{ "REF 4 KiB", 0, 4096, PML_LEASE_REF },
		{ "PIN 2 MiB", 0, BIG, 0 },
		{ "REF 2 MiB", 0, BIG, PML_LEASE_REF },
	};

	big_file(f);
	/* C shares the file's state and holds leases on it meanwhile */
	spawn_big(f, &f->c, "C", NULL);
	mp_ok(&f->c, "acq 1 0 %" PRIu64 " 0 keep", A);
	mp_ok(&f->c, "acq 2 %" PRIu64 " %" PRIu64 " 1 none", BIG, BIG);
	spawn_big(f, &f->b, "B", NULL);

	bool counted = false;

	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		uint64_t off = 8 * A + runs[i].off;

		mp_ok(&f->b, "fastloop %" PRIu64 " %" PRIu64 " %" PRIu64 " %u",
				n, off, runs[i].len, runs[i].flags);

		long long calls = mp_field(f->b.reply, 0);
		char *sp = strchr(f->b.reply, ' ');
		double ns = sp ? strtod(sp, NULL) : 0;

		if (calls < 0) {
			printf("  %s: %.1f ns per acquire+put; the thread's "
					"syscalls cannot be counted here (no "
					"perf_event_open on raw_syscalls)\n",
					runs[i].what, ns);
			continue;
		}
		if (mp_field(f->b.reply, 2) != 10)
			fail_msg("the syscall counter is broken: it counts %lld "
					"for 10 getppid() calls",
					mp_field(f->b.reply, 2));
		counted = true;
		printf("  %s: %lld system calls in %" PRIu64 " acquire+put "
				"pairs of the looping thread = %.6f per pair "
				"(%.1f ns per pair)\n", runs[i].what, calls, n,
				(double)calls / (double)n, ns);
		if (calls != 0)
			fail_msg("%s: the fast path made %lld system calls in %"
					PRIu64 " pairs", runs[i].what, calls, n);
	}
	if (!counted)
		printf("  (in-thread count unavailable; see the outside count)\n");
	mp_exit(&f->b);
	mp_ok(&f->c, "put 1");
	mp_ok(&f->c, "put 2");
	mp_exit(&f->c);
}

/* ------------------------------------------------------- outside tools */

static bool
tool_works(const char *const *argv)
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}

	int st = 0;

	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return false;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

enum tool { TOOL_NONE, TOOL_PERF, TOOL_STRACE };

static enum tool
pick_tool(void)
{
	const char *want = getenv("MP_SYSCALL_TOOL");
	static const char *const perf[] = { "perf", "stat", "-e",
		"raw_syscalls:sys_enter", "--", "true", NULL };
	static const char *const strace[] = { "strace", "-f", "-c", "-o",
		"/dev/null", "--", "true", NULL };

	if (want && !strcmp(want, "none"))
		return TOOL_NONE;
	if ((!want || !strcmp(want, "perf")) && tool_works(perf))
		return TOOL_PERF;
	if ((!want || !strcmp(want, "strace")) && tool_works(strace))
		return TOOL_STRACE;
	return TOOL_NONE;
}

/* the calls the tool counted in its output file, all threads */
static long long
tool_count(enum tool t, const char *out)
{
	FILE *fp = fopen(out, "r");
	char line[512];
	long long calls = -1;

	if (!fp)
		fail_msg("no output from the tool in %s", out);
	while (fgets(line, sizeof(line), fp)) {
		if (t == TOOL_PERF && strstr(line, "raw_syscalls:sys_enter")) {
			/* -x,: "COUNT,,raw_syscalls:sys_enter,..." */
			calls = strtoll(line, NULL, 10);
		} else if (t == TOOL_STRACE && strstr(line, " total")) {
			double pct, secs;
			long long usecs, n;

			if (sscanf(line, "%lf %lf %lld %lld", &pct, &secs,
					&usecs, &n) == 4)
				calls = n;
		}
	}
	fclose(fp);
	if (calls < 0)
		fail_msg("could not read the count in %s", out);
	return calls;
}

static long long
run_under(struct mp_fix *f, enum tool t, uint64_t n, const char *out)
{
	const char *perf[] = { "perf", "stat", "-x,", "-e",
		"raw_syscalls:sys_enter", "-o", out, "--", NULL };
	const char *strace[] = { "strace", "-f", "-qq", "-c", "-o", out,
		"--", NULL };
	struct mp_spawn_opts o = { .wrapper = t == TOOL_PERF ? perf : strace };

	spawn_big(f, &f->b, "B", &o);
	mp_ok(&f->b, "fastloop %" PRIu64 " %" PRIu64 " 4096 0", n, 8 * f->A);
	mp_exit(&f->b);
	return tool_count(t, out);
}

static void
test_outside_count(void **state)
{
	struct mp_fix *f = *state;
	enum tool t = pick_tool();
	char out[4300];

	if (t == TOOL_NONE) {
		printf("  neither `perf stat -e raw_syscalls:sys_enter` nor "
				"`strace -f -c` works here: skipped\n");
		skip();
	}
	big_file(f);
	spawn_big(f, &f->c, "C", NULL);
	mp_ok(&f->c, "acq 1 0 %" PRIu64 " 0 keep", f->A);
	snprintf(out, sizeof(out), "%s.count", f->path);

	uint64_t n = pairs() * 2;
	long long c0 = run_under(f, t, 0, out);
	long long cn = run_under(f, t, n, out);
	double per = (double)(cn - c0) / (double)n;

	printf("  %s: helper with 0 pairs: %lld system calls, with %" PRIu64
			" pairs: %lld; %.6f per acquire+put (all threads, the "
			"agent's timer included)\n", t == TOOL_PERF ?
			"perf stat -e raw_syscalls:sys_enter" : "strace -f -c",
			c0, n, cn, per);
	unlink(out);
	if (c0 < 20)
		fail_msg("the tool counted only %lld system calls for a whole "
				"helper run: it does not count", c0);
	if (per >= 0.001)
		fail_msg("%.6f system calls per acquire+put with no barrier "
				"raised", per);
	mp_ok(&f->c, "put 1");
	mp_exit(&f->c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_syscall_in_the_loop,
			mp_setup, mp_teardown),
		cmocka_unit_test_setup_teardown(test_outside_count,
			mp_setup, mp_teardown),
	};

	return MP_RUN("test_mp_fastpath", tests);
}
