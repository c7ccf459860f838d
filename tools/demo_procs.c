/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * demo_procs.c -- the demo's two-process scene.
 *
 * A database is rarely one process.  The demo starts a second one -- this
 * very program, `pmemlease _hold` (hold.c) -- that opens the same file
 * through the library and holds PIN leases with simulated DMA in flight.
 * This process punches over them: the holder's on_break runs in the
 * holder's process, the punch waits for its puts, and while it waits
 * `pmemlease list`, a third process, shows both from the outside.
 *
 * The holder reports what happened on a pipe, with CLOCK_MONOTONIC times,
 * so its events are ordered with ours and checked like the rest.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "demo.h"

extern char **environ;

#define HOLDER_LEASES	2
#define CHILD_LIMIT_MS	20000	/* for `pmemlease list` and the holder's exit */

static struct {
	pid_t pid;			/* the holder; 0 when not running */
	int to;				/* its stdin */
	int from;			/* its stdout */
	pthread_t relay;
	bool relay_started;

	/* under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool ready, bye, eof;
	pid_t tid;
	unsigned breaks[HOLDER_LEASES][5];
	unsigned puts[HOLDER_LEASES];
	unsigned put_errors;
	double t_last_put;		/* called, on the demo's scale */
} ho = {
	.to = -1, .from = -1,
	.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
};

static volatile sig_atomic_t holder_pid_sig;	/* for procs_kill */
static volatile sig_atomic_t list_pid_sig;

void
procs_kill(void)
{
	if (holder_pid_sig > 0)
		kill((pid_t)holder_pid_sig, SIGKILL);
	if (list_pid_sig > 0)
		kill((pid_t)list_pid_sig, SIGKILL);
}

static const char *
self_exe(void)
{
	static char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	return exe;
}

/*
 * Start this program again with argv; its stdin and stdout are pipes whose
 * other ends come back in *to and *from (either may be NULL: /dev/null for
 * stdin, our stderr is shared).
 */
static pid_t
spawn_self(char *const argv[], int *to, int *from)
{
	const char *exe = self_exe();
	int in[2] = { -1, -1 }, out[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	pid_t pid = -1;

	if (exe == NULL)
		return -1;
	if ((to != NULL && pipe2(in, O_CLOEXEC) != 0) ||
	    (from != NULL && pipe2(out, O_CLOEXEC) != 0))
		goto out;
	posix_spawn_file_actions_init(&fa);
	if (to != NULL)
		posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
	else
		posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null",
						 O_RDONLY, 0);
	if (from != NULL)
		posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	int e = posix_spawn(&pid, exe, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (e != 0) {
		pid = -1;
		errno = e;
	}
out:
	if (in[0] >= 0)
		close(in[0]);
	if (out[1] >= 0)
		close(out[1]);
	if (pid > 0) {
		if (to != NULL)
			*to = in[1];
		if (from != NULL)
			*from = out[0];
	} else {
		if (in[1] >= 0)
			close(in[1]);
		if (out[0] >= 0)
			close(out[0]);
	}
	return pid;
}

/* wait for a child up to limit_ms; SIGKILL after.  Its exit status or -1 */
static int
reap(pid_t pid, unsigned limit_ms)
{
	double end = now_ms() + limit_ms;
	int st;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		if (r < 0 && errno != EINTR)
			return -1;
		if (now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		struct timespec ts = { 0, 5 * 1000000L };
		nanosleep(&ts, NULL);
	}
}

/* run `pmemlease ARGS...`, collect its stdout; returns its exit status */
static int
run_self(char *const argv[], char **output)
{
	int from = -1;
	pid_t pid = spawn_self(argv, NULL, &from);
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	*output = NULL;
	if (pid < 0 || buf == NULL) {
		free(buf);
		if (from >= 0)
			close(from);
		return -1;
	}
	list_pid_sig = pid;
	double end = now_ms() + CHILD_LIMIT_MS;
	for (;;) {
		struct pollfd pfd = { .fd = from, .events = POLLIN };
		if (poll(&pfd, 1, 100) == 0) {
			if (now_ms() > end)
				break;
			continue;
		}
		if (len + 1 == cap) {
			char *n = realloc(buf, cap * 2);
			if (n == NULL)
				break;
			buf = n;
			cap *= 2;
		}
		ssize_t k = read(from, buf + len, cap - len - 1);
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	buf[len] = '\0';
	close(from);
	int rc = reap(pid, CHILD_LIMIT_MS);
	list_pid_sig = 0;
	*output = buf;
	return rc;
}

/* the holder's reports, relayed as events on the demo's scale */
static void
relay_line(char *line)
{
	unsigned idx;
	char reason[64];
	double t, t_ret;
	int rc, pid;
	long tid;

	if (sscanf(line, "ready %d %ld", &pid, &tid) == 2) {
		pthread_mutex_lock(&ho.mu);
		ho.ready = true;
		ho.tid = (pid_t)tid;
		pthread_cond_broadcast(&ho.cv);
		pthread_mutex_unlock(&ho.mu);
	} else if (sscanf(line, "break %u %63s %lf", &idx, reason, &t) == 3 &&
		   idx < HOLDER_LEASES) {
		enum pml_break_reason r = strcmp(reason, "PML_BREAK_LAYOUT") == 0 ?
			PML_BREAK_LAYOUT : strcmp(reason, "PML_BREAK_REVOKED") == 0 ?
			PML_BREAK_REVOKED : PML_BREAK_REMOVE;
		pthread_mutex_lock(&ho.mu);
		ho.breaks[idx][r]++;
		pthread_cond_broadcast(&ho.cv);
		pthread_mutex_unlock(&ho.mu);
		event("holder", "(pid %d) on_break(%s) for its lease %u, in its own "
		      "process, at +%.1f ms", (int)ho.pid, reason, idx,
		      mono_to_demo_ms(t));
	} else if (sscanf(line, "put %u %d %lf %lf", &idx, &rc, &t, &t_ret) == 4 &&
		   idx < HOLDER_LEASES) {
		pthread_mutex_lock(&ho.mu);
		ho.puts[idx]++;
		if (rc != 0)
			ho.put_errors++;
		if (mono_to_demo_ms(t) > ho.t_last_put)
			ho.t_last_put = mono_to_demo_ms(t);
		pthread_cond_broadcast(&ho.cv);
		pthread_mutex_unlock(&ho.mu);
		event("holder", "(pid %d) request on lease %u complete: "
		      "pml_lease_put() at +%.1f ms = %s", (int)ho.pid, idx,
		      mono_to_demo_ms(t), cli_errname(rc));
	} else if (strcmp(line, "bye") == 0) {
		pthread_mutex_lock(&ho.mu);
		ho.bye = true;
		pthread_cond_broadcast(&ho.cv);
		pthread_mutex_unlock(&ho.mu);
	}
}

static void *
relay_main(void *arg)
{
	char buf[1024];
	size_t used = 0;
	(void)arg;
	for (;;) {
		ssize_t k = read(ho.from, buf + used, sizeof(buf) - 1 - used);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		used += (size_t)k;
		buf[used] = '\0';
		char *nl;
		while ((nl = strchr(buf, '\n')) != NULL) {
			*nl = '\0';
			relay_line(buf);
			size_t rest = used - (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, rest + 1);
			used = rest;
		}
		if (used == sizeof(buf) - 1)
			used = 0;
	}
	pthread_mutex_lock(&ho.mu);
	ho.eof = true;
	pthread_cond_broadcast(&ho.cv);
	pthread_mutex_unlock(&ho.mu);
	return NULL;
}

static void
holder_say(const char *cmd)
{
	if (ho.to >= 0 && write(ho.to, cmd, strlen(cmd)) < 0)
		event("main", "cannot write to the holder: %s", strerror(errno));
}

/* tell the holder to quit and wait for it; its exit status or -1 */
static int
holder_stop(void)
{
	if (ho.pid <= 0)
		return -1;
	holder_say("quit\n");
	if (ho.to >= 0) {
		close(ho.to);
		ho.to = -1;
	}
	int rc = reap(ho.pid, CHILD_LIMIT_MS);
	ho.pid = 0;
	holder_pid_sig = 0;
	if (ho.relay_started) {
		pthread_join(ho.relay, NULL);
		ho.relay_started = false;
	}
	if (ho.from >= 0) {
		close(ho.from);
		ho.from = -1;
	}
	return rc;
}

void
procs_teardown(void)
{
	if (ho.pid > 0)
		holder_stop();
}

/* ------------------------------------------------ the view from outside */

static struct {
	pthread_t thread;
	bool started;
	bool punch_done;		/* under ho.mu */
	/* what `pmemlease list --json` said while the barrier waited */
	bool seen;
	int list_rc, json_rc;
	bool barrier_up, barrier_ours, barrier_range;
	bool holder_listed, holder_comm, holder_leases, self_listed;
	unsigned nprocs;
} view;

static void
check_json(const char *text)
{
	struct json_object *files = json_tokener_parse(text);
	if (files == NULL || !json_object_is_type(files, json_type_array) ||
	    json_object_array_length(files) != 1) {
		if (files != NULL)
			json_object_put(files);
		return;
	}
	struct json_object *f = json_object_array_get_idx(files, 0);
	struct json_object *b = NULL;
	view.seen = true;
	if (json_object_object_get_ex(f, "barrier", &b)) {
		view.barrier_up = true;
		view.barrier_ours = cli_ji64(b, "pid") == getpid();
		view.barrier_range = cli_ju64(b, "offset") == blk(4) &&
				     cli_ju64(b, "length") == blk(4);
	}
	struct json_object *procs = cli_jarr(f, "processes");
	view.nprocs = procs ? (unsigned)json_object_array_length(procs) : 0;
	for (unsigned i = 0; i < view.nprocs; i++) {
		struct json_object *p = json_object_array_get_idx(procs, i);
		struct json_object *ls = cli_jarr(p, "leases");
		size_t nl = ls ? json_object_array_length(ls) : 0;
		if (cli_ji64(p, "pid") == getpid()) {
			view.self_listed = true;
			continue;
		}
		if (cli_ji64(p, "pid") != ho.pid)
			continue;
		view.holder_listed = true;
		view.holder_comm = strcmp(cli_jstr(p, "command"), "pmemlease") == 0;
		unsigned good = 0;
		for (size_t l = 0; l < nl; l++) {
			struct json_object *le = json_object_array_get_idx(ls, l);
			bool pin = strcmp(cli_jstr(le, "type"), "pin") == 0 &&
				   !cli_jbool(le, "revoked") &&
				   cli_ji64(le, "tid") == ho.tid;
			if (pin && cli_ju64(le, "offset") == blk(4) &&
			    cli_ju64(le, "length") == blk(2) && cli_ji64(le, "refs") == 2)
				good++;
			if (pin && cli_ju64(le, "offset") == blk(6) &&
			    cli_ju64(le, "length") == blk(1) && cli_ji64(le, "refs") == 1)
				good++;
		}
		view.holder_leases = good == 2 && nl == 2;
	}
	json_object_put(files);
}

/*
 * Once the holder has been asked to let go (both on_break lines are in),
 * look from outside: `pmemlease list` for the reader, `--json` for the
 * checks.  Then let the holder's requests complete.
 */
static void *
view_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&ho.mu);
	while (!view.punch_done && !ho.eof &&
	       (ho.breaks[0][PML_BREAK_LAYOUT] == 0 ||
		ho.breaks[1][PML_BREAK_LAYOUT] == 0))
		pthread_cond_wait(&ho.cv, &ho.mu);
	bool go = !view.punch_done && !ho.eof;
	pthread_mutex_unlock(&ho.mu);

	if (go) {
		char *out = NULL;
		char *list_argv[] = { "pmemlease", "list", dm.path, NULL };
		char *json_argv[] = { "pmemlease", "list", "--json", dm.path, NULL };
		view.list_rc = run_self(list_argv, &out);
		pthread_mutex_lock(&out_mu);
		printf("\n    `pmemlease list %s` while the punch waits (exit %d):\n\n",
		       dm.path, view.list_rc);
		for (char *l = out, *nl; l != NULL && *l; l = nl ? nl + 1 : NULL) {
			nl = strchr(l, '\n');
			printf("      | %.*s\n", nl ? (int)(nl - l) : (int)strlen(l), l);
		}
		putchar('\n');
		pthread_mutex_unlock(&out_mu);
		free(out);
		view.json_rc = run_self(json_argv, &out);
		if (out != NULL)
			check_json(out);
		free(out);
	}
	event("main", "telling the holder's device to finish its requests");
	holder_say("release all\n");
	return NULL;
}

/* ------------------------------------------------------------ the scene */

/* wait on ho.cv (ho.mu held) for at most ms */
static void
timed_wait(unsigned ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(&ho.cv, &ho.mu, &ts);
}

int
scene_two_processes(void)
{
	struct file_view before, after;
	char s1[32], s2[32];

	step(7, "Two processes: a holder elsewhere, the punch here");
	say("A database is rarely one process.  The demo starts a second one,");
	say("`pmemlease _hold`, that opens the same file through the library and");
	say("holds two PIN leases for a device with DMA in flight: blocks 4-5 (two");
	say("requests) and block 6 (one), into which it keeps writing 'H'.  This");
	say("process punches blocks 4-7.  The barrier is shared through the state");
	say("file in %s: the holder's on_break runs in the", dm.rundir);
	say("holder, and the punch waits for its puts.  Its device is slow to");
	say("cancel: it finishes only once `pmemlease list`, a third process, has");
	say("shown both from the outside.");

	char a1[64], a2[64];
	snprintf(a1, sizeof(a1), "%" PRIu64 ":%" PRIu64 ":pin:2", blk(4), blk(2));
	snprintf(a2, sizeof(a2), "%" PRIu64 ":%" PRIu64 ":pin:1", blk(6), blk(1));
	char *argv[] = { "pmemlease", "_hold", "--dma", "--fill", "H",
			 "--on-break", "ignore", "--max-ms", "120000",
			 dm.path, a1, a2, NULL };
	ho.pid = spawn_self(argv, &ho.to, &ho.from);
	if (ho.pid < 0) {
		say("cannot start the holder: %s", strerror(errno));
		sys_failed = true;
		return -1;
	}
	holder_pid_sig = ho.pid;
	if (start_thread(&ho.relay, relay_main, NULL, "relay") != 0)
		return -1;
	ho.relay_started = true;

	pthread_mutex_lock(&ho.mu);
	double limit = now_ms() + CHILD_LIMIT_MS;
	while (!ho.ready && !ho.eof && now_ms() < limit)
		timed_wait(50);
	bool ready = ho.ready;
	pthread_mutex_unlock(&ho.mu);
	if (!expect(ready, "the holder process opens the file and takes its leases",
		    "pid %d %s", (int)ho.pid, ready ? "ready" : "never said ready"))
		return -1;
	memset(dm.model + 4, 'H', 3);

	observe_some(&before, SHRUNK_BLOCKS, false);
	untouch(4, 8);
	if (start_thread(&view.thread, view_main, NULL, "view") != 0)
		return -1;
	view.started = true;

	double t0 = now_ms();
	event("main", "pml_region_punch(blocks 4-7), no timeout");
	int rc = pml_region_punch(dm.region, blk(4), blk(4), NULL);
	double t1 = now_ms();
	event("main", "pml_region_punch -> %s after %.1f ms%s%s",
	      cli_errname(rc), t1 - t0, rc ? ": " : "", rc ? libmsg() : "");
	pthread_mutex_lock(&ho.mu);
	view.punch_done = true;
	pthread_cond_broadcast(&ho.cv);
	pthread_mutex_unlock(&ho.mu);
	pthread_join(view.thread, NULL);
	view.started = false;

	/* the holder reports a put after it returns: wait for the reports */
	pthread_mutex_lock(&ho.mu);
	limit = now_ms() + CHILD_LIMIT_MS;
	while (ho.puts[0] + ho.puts[1] < 3 && !ho.eof && now_ms() < limit)
		timed_wait(50);
	unsigned b0 = ho.breaks[0][PML_BREAK_LAYOUT], b1 = ho.breaks[1][PML_BREAK_LAYOUT];
	unsigned puts = ho.puts[0] + ho.puts[1];
	double last_put = ho.t_last_put;
	pthread_mutex_unlock(&ho.mu);

	blank();
	say("What happened, in order:");
	expect(b0 == 1 && b1 == 1, "the holder's on_break(LAYOUT) ran in its own "
	       "process, once per PIN", "lease 0: %u, lease 1: %u", b0, b1);
	expect(view.list_rc == 0 && view.json_rc == 0,
	       "`pmemlease list` ran while the barrier waited",
	       "exit %d, --json exit %d", view.list_rc, view.json_rc);
	expect(view.barrier_up && view.barrier_ours && view.barrier_range,
	       "it shows the barrier, raised by this process, over blocks 4-7",
	       "%s", !view.seen ? "no listing" : !view.barrier_up ? "no barrier" :
	       !view.barrier_ours ? "another pid" :
	       !view.barrier_range ? "another range" : "yes");
	expect(view.holder_listed && view.holder_comm && view.holder_leases,
	       "and the holder's two PINs, with their references and thread",
	       "%s", !view.holder_listed ? "holder not listed" :
	       !view.holder_comm ? "wrong command" :
	       !view.holder_leases ? "leases differ" : "pid, command, leases as held");
	expect(view.self_listed && view.nprocs == 2,
	       "both processes are listed", "%u process(es)", view.nprocs);
	expect(rc == 0, "the punch succeeds", "%s", cli_errname(rc));
	expect(puts == 3 && t1 >= last_put && t1 - last_put < PROCEED_BOUND_MS,
	       "it proceeds right after the other process's last put",
	       "%u of 3 puts; the last called at +%.1f ms, the punch returned "
	       "%.2f ms later", puts, last_put, t1 - last_put);

	memset(dm.model + 4, '0', 4);
	observe(&after, SHRUNK_BLOCKS);
	show(&after, SHRUNK_BLOCKS);
	expect(data_matches_model(&after, SHRUNK_BLOCKS),
	       "blocks 4-7 read zero here, the rest as before", "%s", after.data);
	expect(holes(&after, 4, 8), "and are handed back to the filesystem",
	       "allocation of 4-7: %.4s; st_blocks %" PRIu64 " -> %" PRIu64,
	       after.alloc + 4, before.st_blocks, after.st_blocks);

	int hrc = holder_stop();
	pthread_mutex_lock(&ho.mu);
	bool bye = ho.bye;
	unsigned put_errors = ho.put_errors;
	pthread_mutex_unlock(&ho.mu);
	expect(hrc == 0 && bye && put_errors == 0,
	       "the holder closes its region and exits cleanly",
	       "exit %d, %u put error(s)", hrc, put_errors);

	struct pml_snapshot *snap = NULL;
	rc = pml_snapshot_take(&snap, dm.path, 0, 1000);
	const struct pml_file_info *fi = rc == 0 ? pml_snapshot_file(snap, 0) : NULL;
	expect(fi != NULL && fi->nholders == 1 && !fi->barrier,
	       "then only this process has the file open, with no barrier",
	       "%s: %u holder(s), size %s, quarantined %s", cli_errname(rc),
	       fi ? fi->nholders : 0, cli_size(s1, sizeof(s1), fi ? fi->size : 0),
	       cli_size(s2, sizeof(s2), fi ? fi->quarantined : 0));
	pml_snapshot_free(&snap);
	return 0;
}
