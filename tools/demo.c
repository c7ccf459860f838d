/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * demo.c -- `pmemlease demo`: the library's promises, acted out and checked.
 *
 * The demo is meant for a newcomer *and* as a smoke test, so every line it
 * prints about an outcome is something it measured (a return code, a time,
 * st_blocks, the file's extent map, the bytes under a lease), and every
 * promise of the header it acts out is checked; one broken promise makes it
 * exit non-zero.
 *
 * This file is the command and its narration: set-up, the printed steps and
 * checks, the watchdog and the teardown.  demo.h says where the rest is.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "demo.h"

/* ------------------------------------------------------------ time, output */

struct timespec t_origin;
pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

double
now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t_origin.tv_sec) * 1e3 +
	       (double)(t.tv_nsec - t_origin.tv_nsec) / 1e6;
}

double
mono_to_demo_ms(double mono_ms)
{
	return mono_ms - ((double)t_origin.tv_sec * 1e3 +
			  (double)t_origin.tv_nsec / 1e6);
}

/* a narrated line: no time, indented under the current step */
__attribute__((format(printf, 1, 2)))
void
say(const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&out_mu);
	fputs("    ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	pthread_mutex_unlock(&out_mu);
}

void
blank(void)
{
	pthread_mutex_lock(&out_mu);
	fputc('\n', stdout);
	pthread_mutex_unlock(&out_mu);
}

/*
 * Something that happened, in whichever thread.  Stamped under the output
 * lock, so the printed times only ever go up and the lines read in order.
 */
__attribute__((format(printf, 2, 3)))
void
event(const char *who, const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&out_mu);
	printf("    +%8.1f ms  %-10s ", now_ms(), who);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	pthread_mutex_unlock(&out_mu);
}

static unsigned n_checks, n_failed;
bool sys_failed;

/* pthread_create, with the failure told and remembered for the exit code */
int
start_thread(pthread_t *t, void *(*fn)(void *), void *arg, const char *what)
{
	int e = pthread_create(t, NULL, fn, arg);
	if (e != 0) {
		fprintf(stderr, "%s demo: cannot start the %s thread: %s\n",
			cli_prog, what, strerror(e));
		sys_failed = true;
		return -1;
	}
	return 0;
}

/*
 * expect -- a promise of the library against what was observed.  The
 * promise is the header's; the observation is formatted from measurements.
 */
__attribute__((format(printf, 3, 4)))
bool
expect(bool ok, const char *promise, const char *observed_fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&out_mu);
	n_checks++;
	if (!ok)
		n_failed++;
	printf("    %s %s: ", ok ? "[ok]  " : "[FAIL]", promise);
	va_start(ap, observed_fmt);
	vprintf(observed_fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	pthread_mutex_unlock(&out_mu);
	return ok;
}

/* the library's own words for the last error of this thread */
const char *
libmsg(void)
{
	const char *m = pml_errormsg();
	return m && *m ? m : "(no message)";
}

/* ------------------------------------------------------- the demo's state */

struct demo_state dm = { .fd = -1 };

/* what a signal handler may touch: path to unlink, set once */
static volatile sig_atomic_t path_armed;

static volatile sig_atomic_t step_no;
static pthread_mutex_t step_mu = PTHREAD_MUTEX_INITIALIZER;
static double step_started;
static bool demo_done;

void
step(int n, const char *title)
{
	pthread_mutex_lock(&step_mu);
	step_no = n;
	step_started = now_ms();
	pthread_mutex_unlock(&step_mu);
	pthread_mutex_lock(&out_mu);
	printf("\n[%d] %s\n", n, title);
	pthread_mutex_unlock(&out_mu);
}

static void
on_signal(int sig)
{
	if (path_armed)
		unlink(dm.path);
	procs_kill();
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * A library that never returns from a punch would hang the demo, and ctest
 * would only say "timeout".  The watchdog says which step got stuck.
 */
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;

static void *
watchdog_main(void *arg)
{
	pthread_mutex_lock(&step_mu);
	while (!demo_done) {
		double age = now_ms() - step_started;
		if (age > STEP_LIMIT_S * 1000.0) {
			/* no out_mu: whoever holds it may be the one stuck */
			fprintf(stderr, "\n%s demo: step %d made no progress in %d s: "
				"giving up\n", cli_prog, (int)step_no, STEP_LIMIT_S);
			if (path_armed)
				unlink(dm.path);
			procs_kill();
			_exit(CLI_EXIT_FAIL);
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&done_cv, &step_mu, &ts);
	}
	pthread_mutex_unlock(&step_mu);
	return NULL;
}

/* ------------------------------------------------------------ the command */

void
usage_demo(FILE *out)
{
	fprintf(out,
		"Usage: %s demo [--path FILE] [--keep]\n"
		"\n"
		"Act out what pmemlease does, step by step, on a temporary plain file:\n"
		"leases held by simulated DMA, a punch that waits for them, a punch that\n"
		"times out (FAIL, then REVOKE and the quarantine), growth and shrinking,\n"
		"then a second process holding PIN leases while this one punches, with\n"
		"`pmemlease list` showing both while the barrier waits.\n"
		"Every outcome shown is measured, and checked against the library's\n"
		"promises: the demo exits 1 if any is broken, so it doubles as a test.\n"
		"Lease state goes to a private runtime directory (PMEMLEASE_RUNTIME_DIR\n"
		"set to a new directory in $TMPDIR or /tmp), removed at exit.\n"
		"\n"
		"Options:\n"
		"  -p, --path FILE  use FILE (it must not exist; it is created) instead of\n"
		"                   a temporary file in $TMPDIR or /tmp; a file on a DAX\n"
		"                   filesystem shows the fsdax kind\n"
		"  -k, --keep       leave the file in place at exit\n"
		"  -h, --help       show this help\n"
		"\n"
		"Exit status: 0 every promise kept, 1 a promise broken, 2 usage error,\n"
		"3 the file or threads could not be set up.\n", cli_prog);
}

static void
teardown(void)
{
	procs_teardown();
	scenes_teardown();
	dma_teardown();
	if (dm.region != NULL) {
		int rc = pml_region_close(&dm.region);
		if (rc != 0)
			say("pml_region_close: %s: %s", cli_errname(rc), libmsg());
	}
}

/*
 * The demo's lease state lives in a runtime directory of its own, so that
 * it runs as any user, on any machine, and never meets another program's
 * state: PMEMLEASE_RUNTIME_DIR, inherited by the processes it starts.
 */
static int
rundir_create(void)
{
	const char *dir = getenv("TMPDIR");
	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	int n = snprintf(dm.rundir, sizeof(dm.rundir), "%s/pmemlease-demo-run.XXXXXX",
			 dir);
	if (n < 0 || (size_t)n >= sizeof(dm.rundir)) {
		fprintf(stderr, "%s demo: TMPDIR too long\n", cli_prog);
		dm.rundir[0] = '\0';
		return -1;
	}
	if (mkdtemp(dm.rundir) == NULL) {
		fprintf(stderr, "%s demo: cannot create a runtime directory in %s: %s\n",
			cli_prog, dir, strerror(errno));
		dm.rundir[0] = '\0';
		return -1;
	}
	if (setenv("PMEMLEASE_RUNTIME_DIR", dm.rundir, 1) != 0) {
		fprintf(stderr, "%s demo: setenv: %s\n", cli_prog, strerror(errno));
		rmdir(dm.rundir);
		dm.rundir[0] = '\0';
		return -1;
	}
	return 0;
}

/* the state files the library left (it may keep them): ours, one level */
static void
rundir_remove(void)
{
	if (dm.rundir[0] == '\0')
		return;
	DIR *d = opendir(dm.rundir);
	if (d != NULL) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			(void)unlinkat(dirfd(d), de->d_name, 0);
		}
		closedir(d);
	}
	if (rmdir(dm.rundir) != 0)
		fprintf(stderr, "%s demo: cannot remove %s: %s\n", cli_prog,
			dm.rundir, strerror(errno));
	dm.rundir[0] = '\0';
}

int
cmd_demo(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "path", required_argument, NULL, 'p' },
		{ "keep", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	bool keep = false;
	int opt;

	while ((opt = getopt_long(argc, argv, "p:kh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			path = optarg;
			break;
		case 'k':
			keep = true;
			break;
		case 'h':
			usage_demo(stdout);
			return CLI_EXIT_OK;
		default:
			fprintf(stderr, "Try '%s demo --help'.\n", cli_prog);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s demo: unexpected argument '%s'\n", cli_prog,
			argv[optind]);
		return CLI_EXIT_USAGE;
	}

	clock_gettime(CLOCK_MONOTONIC, &t_origin);
	/* interleaved lines from several threads must appear as they happen */
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (path != NULL) {
		if (strlen(path) >= sizeof(dm.path)) {
			fprintf(stderr, "%s demo: path too long\n", cli_prog);
			return CLI_EXIT_USAGE;
		}
		strcpy(dm.path, path);
		/* the demo punches and truncates: never someone's existing file */
		dm.fd = open(dm.path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (dm.fd < 0) {
			fprintf(stderr, "%s demo: cannot create %s: %s%s\n", cli_prog,
				dm.path, strerror(errno), errno == EEXIST ?
				" (give a path that does not exist)" : "");
			return CLI_EXIT_SYSTEM;
		}
	} else {
		const char *dir = getenv("TMPDIR");
		if (dir == NULL || *dir == '\0')
			dir = "/tmp";
		int n = snprintf(dm.path, sizeof(dm.path), "%s/pmemlease-demo.XXXXXX",
				 dir);
		if (n < 0 || (size_t)n >= sizeof(dm.path)) {
			fprintf(stderr, "%s demo: TMPDIR too long\n", cli_prog);
			return CLI_EXIT_SYSTEM;
		}
		dm.fd = mkostemp(dm.path, O_CLOEXEC);
		if (dm.fd < 0) {
			fprintf(stderr, "%s demo: cannot create a file in %s: %s\n",
				cli_prog, dir, strerror(errno));
			return CLI_EXIT_SYSTEM;
		}
	}
	dm.remove_at_exit = !keep;
	if (rundir_create() != 0) {
		close(dm.fd);
		if (dm.remove_at_exit)
			unlink(dm.path);
		return CLI_EXIT_SYSTEM;
	}
	if (dm.remove_at_exit) {
		path_armed = 1;
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		signal(SIGHUP, on_signal);
	}

	printf("%s demo: DMA leases, the punch barrier and revoke, on %s\n"
	       "Times are milliseconds since the demo started.\n",
	       cli_prog, dm.path);

	pthread_t wd;
	bool wd_started = pthread_create(&wd, NULL, watchdog_main, NULL) == 0;

	int setup_failed = 0;
	if (scene_open() != 0)
		setup_failed = 1;
	else if (scene_write() || scene_punch_wait() || scene_punch_fail() ||
		 scene_punch_revoke() || scene_truncate() ||
		 scene_two_processes() || scene_close())
		setup_failed = 1;

	teardown();

	pthread_mutex_lock(&step_mu);
	demo_done = true;
	pthread_cond_broadcast(&done_cv);
	pthread_mutex_unlock(&step_mu);
	if (wd_started)
		pthread_join(wd, NULL);

	close(dm.fd);
	rundir_remove();
	if (dm.remove_at_exit) {
		unlink(dm.path);
		path_armed = 0;
	} else {
		printf("\nThe file is kept: %s\n", dm.path);
	}

	printf("\n");
	if (setup_failed)
		printf("demo stopped at step %d: a step it depends on failed\n",
		       (int)step_no);
	printf("demo: %u passed, %u failed\n", n_checks - n_failed, n_failed);
	if (n_failed != 0)
		return CLI_EXIT_FAIL;
	if (sys_failed)
		return CLI_EXIT_SYSTEM;
	if (setup_failed)
		return CLI_EXIT_FAIL;
	return CLI_EXIT_OK;
}
