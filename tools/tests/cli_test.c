/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cli_test.c -- tests of the pmemlease command, run as a user would run it.
 *
 *   cli_test PMEMLEASE TEST
 *
 * Each TEST is its own ctest test.  Lease holders are real processes
 * (`pmemlease _hold`, hold.c) that hold known leases until told to stop;
 * `list --json` output is parsed back with json-c and checked field by field
 * against what they hold.  Every test has a fresh directory and its own
 * PMEMLEASE_RUNTIME_DIR under $TMPDIR.
 */

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_harness.h"

static const char *const subcommands[] = {
	"list", "watch", "punch", "truncate", "revoke", "demo",
};

/* ------------------------------------------------------------------ help */

static void
test_help(const char *cmd)
{
	const char *usage = h_fmt("Usage: pmemlease %s", cmd);
	struct run *a = h_run(cmd, "--help", NULL);
	struct run *b = h_run(cmd, "-h", NULL);
	struct run *c = h_run("help", cmd, NULL);

	CHECK(a->status == 0, "--help exits %d", a->status);
	CHECK(strncmp(a->out, usage, strlen(usage)) == 0, "starts: %.40s", a->out);
	CHECK(*a->err == '\0', "nothing on stderr: %s", a->err);
	CHECK(h_has(a->out, "Exit status"), "documents the exit codes");
	CHECK(h_has(a->out, "--help"), "lists --help");
	CHECK(b->status == 0 && strcmp(a->out, b->out) == 0, "-h is --help");
	CHECK(c->status == 0 && strcmp(a->out, c->out) == 0,
	      "`pmemlease help %s` is the same", cmd);
	h_run_free(a);
	h_run_free(b);
	h_run_free(c);

	/* a bad option is a usage error, told on stderr */
	struct run *d = h_run(cmd, "--no-such-option", NULL);
	CHECK(d->status == 2, "bad option exits %d", d->status);
	CHECK(h_has(d->err, "--help"), "points at --help: %s", d->err);
	h_run_free(d);
}

static void
test_help_main(void)
{
	struct run *r = h_run("--help", NULL);
	CHECK(r->status == 0, "exit %d", r->status);
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(*subcommands); i++)
		CHECK(h_has(r->out, h_fmt("  %s ", subcommands[i])),
		      "the command list names %s", subcommands[i]);
	CHECK(!h_has(r->out, "_hold"), "internal commands are not listed");
	h_run_free(r);
	r = h_run("help", "no-such-command", NULL);
	CHECK(r->status == 2, "help for an unknown command exits %d", r->status);
	h_run_free(r);
}

/* ---------------------------------------------------------------- watch */

static void
test_watch(void)
{
	const char *path = h_file("data", FILE_SIZE, 'x');
	struct holder *h = h_holder(path, "0:4k", NULL);
	if (h == NULL)
		return;
	/* stdout is a pipe: successive snapshots after separators */
	struct run *r = h_run("watch", "--count", "3", "--interval", "100", path,
			      NULL);
	CHECK(r->status == 0, "exit %d", r->status);
	unsigned seps = 0;
	for (const char *s = r->out; (s = strstr(s, "--- ")) != NULL; s += 4)
		seps++;
	CHECK(seps == 3, "three refreshes: %u", seps);
	CHECK(strncmp(r->out, "--- ", 4) == 0, "starting with a separator");
	CHECK(!h_has(r->out, "\033["), "no terminal escapes on a pipe");
	CHECK(r->ms >= 200, "two intervals between three: %.0f ms", r->ms);
	unsigned pids = 0;
	for (const char *s = r->out; (s = strstr(s, h_fmt("%d", (int)h->pid))) != NULL;
	     s++)
		pids++;
	CHECK(pids >= 3, "the holder in each");
	h_run_free(r);

	r = h_run("watch", "--json", "-n", "2", "-i", "50", path, NULL);
	CHECK(r->status == 0, "json: exit %d", r->status);
	unsigned lines = 0;
	for (char *l = r->out, *nl; (nl = strchr(l, '\n')) != NULL; l = nl + 1) {
		*nl = '\0';
		struct json_object *o = json_tokener_parse(l);
		CHECK(o != NULL && h_jlen(o) == 1 &&
		      h_jproc(h_jidx(o, 0), h->pid) != NULL, "line %u parses", lines);
		json_object_put(o);
		lines++;
	}
	CHECK(lines == 2, "two lines: %u", lines);
	h_run_free(r);

	r = h_run("watch", "--interval", "0", NULL);
	CHECK(r->status == 2, "interval 0 exits %d", r->status);
	h_run_free(r);
	r = h_run("watch", "--count", "x", NULL);
	CHECK(r->status == 2, "a bad count exits %d", r->status);
	h_run_free(r);
	CHECK(h_holder_stop(h) == 0, "the holder exits cleanly");
}

/* ----------------------------------------------------------------- main */

static void
rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char p[4400];
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			rm_rf(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{ "help", test_help_main },
	{ "list-json", test_list_json },
	{ "list-age", test_list_age },
	{ "list-pid", test_list_pid },
	{ "list-table", test_list_table },
	{ "list-stopped", test_list_stopped },
	{ "punch-wait", test_punch_wait },
	{ "punch-timeout-fail", test_punch_timeout_fail },
	{ "punch-timeout-revoke", test_punch_timeout_revoke },
	{ "punch-args", test_punch_args },
	{ "truncate", test_truncate },
	{ "revoke", test_revoke },
	{ "watch", test_watch },
};

int
main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s PMEMLEASE TEST\n", argv[0]);
		return 2;
	}
	h_bin = argv[1];
	const char *name = argv[2];
	void (*fn)(void) = NULL;
	const char *help_cmd = NULL;

	if (strncmp(name, "help-", 5) == 0)
		help_cmd = name + 5;
	for (size_t i = 0; i < sizeof(tests) / sizeof(*tests); i++)
		if (strcmp(tests[i].name, name) == 0)
			fn = tests[i].fn;
	if (fn == NULL && help_cmd == NULL) {
		fprintf(stderr, "%s: no test '%s'\n", argv[0], name);
		return 2;
	}

	const char *tmp = getenv("TMPDIR");
	snprintf(h_dir, sizeof(h_dir), "%s/cli-%s.XXXXXX", tmp && *tmp ? tmp : "/tmp",
		 name);
	if (mkdtemp(h_dir) == NULL) {
		perror(h_dir);
		return 3;
	}
	/* a private runtime directory: never anyone else's lease state */
	setenv("PMEMLEASE_RUNTIME_DIR", h_fmt("%s/run", h_dir), 1);

	if (help_cmd != NULL)
		test_help(help_cmd);
	else
		fn();

	if (h_failed == 0 || getenv("PML_TEST_KEEP") == NULL)
		rm_rf(h_dir);
	else
		fprintf(stderr, "kept %s\n", h_dir);
	printf("%s: %s (%u failed check%s)\n", name, h_failed ? "FAILED" : "passed",
	       h_failed, h_failed == 1 ? "" : "s");
	return h_failed ? 1 : 0;
}
