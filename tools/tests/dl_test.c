/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dl_test.c -- tests of the daxctl-lease command, run as a user runs it.
 *
 *   dl_test DAXCTL-LEASE PMEMLEASE TEST
 *
 * Lease holders are real processes (`pmemlease _hold`); what daxctl-lease
 * prints is parsed back with json-c.  These run on any machine, with or
 * without dax devices: what needs a real device (disabling one under a
 * holder) is the real-DAX tier's, in the QEMU guest.
 *
 * notify-removed acts on every holder of a device number in reach: for
 * root that is also /run/pmemlease and every /run/user/UID/pmemlease, not
 * only this test's private runtime directory.  So as root the tests that
 * run it first move into a private mount namespace with a fresh tmpfs,
 * whose device number no process outside the test can hold; where that is
 * not possible they are skipped rather than run against other people's
 * processes.
 */

#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cli_harness.h"

#define SKIP 77

static bool skipped;

static const char *const subcommands[] = {
	"list", "disable-device", "reconfigure-device", "destroy-device",
	"disable-namespace", "disable-region", "disable-memdev", "notify-removed",
};

static void
dl_help(const char *cmd)
{
	const char *usage = h_fmt("Usage: daxctl-lease %s", cmd);
	struct run *a = h_run(cmd, "--help", NULL);
	struct run *b = h_run(cmd, "-h", NULL);
	struct run *c = h_run("help", cmd, NULL);

	CHECK(a->status == 0, "--help exits %d", a->status);
	CHECK(strncmp(a->out, usage, strlen(usage)) == 0, "starts: %.40s", a->out);
	CHECK(*a->err == '\0', "nothing on stderr: %s", a->err);
	CHECK(h_has(a->out, "Exit status"), "documents the exit codes");
	CHECK(h_has(a->out, "  6  holders did not let go"), "exit 6 documented");
	CHECK(h_has(a->out, "--help"), "lists --help");
	CHECK(b->status == 0 && strcmp(a->out, b->out) == 0, "-h is --help");
	CHECK(c->status == 0 && strcmp(a->out, c->out) == 0,
	      "`daxctl-lease help %s` is the same", cmd);
	h_run_free(a);
	h_run_free(b);
	h_run_free(c);

	struct run *d = h_run(cmd, "--no-such-option", NULL);
	CHECK(d->status == 2, "bad option exits %d", d->status);
	CHECK(h_has(d->err, "--help"), "points at --help: %s", d->err);
	h_run_free(d);
}

static void
dl_help_main(void)
{
	struct run *r = h_run("--help", NULL);
	CHECK(r->status == 0, "exit %d", r->status);
	for (size_t i = 0; i + 1 < sizeof(subcommands) / sizeof(*subcommands); i++)
		CHECK(h_has(r->out, h_fmt("  %s ", subcommands[i])),
		      "the command list names %s", subcommands[i]);
	CHECK(!h_has(r->out, "notify-removed"), "the udev helper is not listed");
	h_run_free(r);

	r = h_run(NULL, NULL);
	CHECK(r->status == 2 && h_has(r->err, "Usage:"), "no command: exit %d",
	      r->status);
	h_run_free(r);
	r = h_run("no-such-command", NULL);
	CHECK(r->status == 2, "unknown command exits %d", r->status);
	h_run_free(r);
	r = h_run("help", "no-such-command", NULL);
	CHECK(r->status == 2, "help for an unknown command exits %d", r->status);
	h_run_free(r);
	r = h_run("--version", NULL);
	CHECK(r->status == 0 && strncmp(r->out, "daxctl-lease ", 13) == 0,
	      "--version: %s", r->out);
	h_run_free(r);
}

/* the file object for path in a "files" array, or NULL */
static struct json_object *
find_file(struct json_object *files, const char *path)
{
	for (size_t i = 0; i < h_jlen(files); i++)
		if (strcmp(h_jstr(h_jidx(files, i), "path"), path) == 0)
			return h_jidx(files, i);
	return NULL;
}

/* every device and namespace carries daxctl's keys and the lease counts */
static void
check_shape(struct json_object *o)
{
	struct json_object *regions = h_jget(o, "regions");
	struct json_object *nss = h_jget(o, "namespaces");

	CHECK(json_object_is_type(regions, json_type_array), "\"regions\" array");
	CHECK(json_object_is_type(nss, json_type_array), "\"namespaces\" array");
	CHECK(json_object_is_type(h_jget(o, "other_files"), json_type_array),
	      "\"other_files\" array");
	for (size_t i = 0; i < h_jlen(regions); i++) {
		struct json_object *devs = h_jget(h_jidx(regions, i), "devices");
		CHECK(h_jget(h_jidx(regions, i), "id") != NULL, "region id");
		for (size_t k = 0; k < h_jlen(devs); k++) {
			struct json_object *d = h_jidx(devs, k);
			static const char *const keys[] = { "chardev", "size", "mode",
				"enabled", "holders", "leases", "files" };
			for (size_t j = 0; j < sizeof(keys) / sizeof(*keys); j++)
				CHECK(h_jget(d, keys[j]) != NULL, "device %zu has \"%s\"",
				      k, keys[j]);
		}
	}
	for (size_t i = 0; i < h_jlen(nss); i++)
		CHECK(h_jget(h_jidx(nss, i), "files") != NULL &&
		      strcmp(h_jstr(h_jidx(nss, i), "mode"), "fsdax") == 0,
		      "namespace %zu: fsdax, with files", i);
}

static void
dl_list_json(void)
{
	const char *path = h_file("data", FILE_SIZE, 'x');
	struct holder *h = h_holder(path, "0:4k", "8k:4k", NULL);
	if (h == NULL)
		return;

	struct run *r = h_run("list", "--json", NULL);
	CHECK(r->status == 0, "exit %d", r->status);
	struct json_object *o = h_json(r);
	if (o != NULL) {
		check_shape(o);
		/* a plain file in the build tree is on no dax device */
		struct json_object *f = find_file(h_jget(o, "other_files"), path);
		CHECK(f != NULL, "the holder's file is among other_files");
		struct json_object *p = f ? h_jproc(f, h->pid) : NULL;
		CHECK(p != NULL, "with the holder, pid %d", (int)h->pid);
		CHECK(p && h_jlen(h_jget(p, "leases")) == 2, "and its two leases");
		CHECK(p && h_jlease(p, 8192) != NULL, "one at 8 KiB");
	}
	json_object_put(o);
	h_run_free(r);

	r = h_run("list", "--json", "--human", NULL);
	CHECK(r->status == 0, "--human: exit %d", r->status);
	o = h_json(r);
	CHECK(o != NULL && find_file(h_jget(o, "other_files"), path) != NULL,
	      "--human lists the file too");
	json_object_put(o);
	h_run_free(r);

	r = h_run("list", NULL);
	CHECK(r->status == 0, "table: exit %d", r->status);
	CHECK(h_has(r->out, path) && h_has(r->out, h_fmt("%d", (int)h->pid)),
	      "the table shows the file and the holder");
	CHECK(h_has(r->out, "leases on no device above"), "as on no device");
	h_run_free(r);

	r = h_run("list", "extra", NULL);
	CHECK(r->status == 2, "an operand exits %d", r->status);
	h_run_free(r);
	r = h_run("list", "--wait", "soon", NULL);
	CHECK(r->status == 2, "a bad --wait exits %d", r->status);
	h_run_free(r);
	CHECK(h_holder_stop(h) == 0, "the holder exits cleanly");
}

static void
test_list_empty(void)
{
	/* no runtime directory at all: nobody ever opened anything */
	struct run *r = h_run("list", "--json", NULL);
	CHECK(r->status == 0, "exit %d", r->status);
	struct json_object *o = h_json(r);
	if (o != NULL) {
		check_shape(o);
		CHECK(h_jlen(h_jget(o, "other_files")) == 0, "no lease files");
	}
	json_object_put(o);
	h_run_free(r);
}

static void
expect(int status, const char *why, const char *a, const char *b,
       const char *c, const char *d)
{
	struct run *r = h_run(a, b, c, d, NULL);
	CHECK(r->status == status, "%s: exit %d, want %d", why, r->status, status);
	CHECK(*r->err != '\0', "%s: says why on stderr", why);
	h_run_free(r);
}

static void
test_device_args(void)
{
	const char *path = h_file("data", FILE_SIZE, 'x');
	struct holder *h = h_holder(path, "0:4k", NULL);
	if (h == NULL)
		return;

	expect(2, "no device", "disable-device", NULL, NULL, NULL);
	expect(2, "two devices", "disable-device", "dax0.0", "dax0.1", NULL);
	expect(2, "bad timeout", "disable-device", "--timeout", "x", "dax0.0");
	expect(2, "zero timeout", "destroy-device", "--timeout", "0", "dax0.0");
	expect(2, "no mode", "reconfigure-device", "dax0.0", NULL, NULL);
	expect(2, "bad mode", "reconfigure-device", "--mode=fsdax", "dax0.0", NULL);
	expect(2, "bad number", "notify-removed", "253", NULL, NULL);
	expect(2, "not a number", "notify-removed", "1:2:3", NULL, NULL);
	expect(2, "no namespace", "disable-namespace", NULL, NULL, NULL);
	expect(2, "no region", "disable-region", NULL, NULL, NULL);
	expect(2, "two regions", "disable-region", "region0", "region1", NULL);
	expect(2, "bad timeout", "disable-memdev", "--timeout", "x", "mem0");
	expect(2, "no memdev", "disable-memdev", NULL, NULL, NULL);

	/* no such device: exit 4, and no holder was told anything */
	expect(4, "no such device", "disable-device", "dax99.99", NULL, NULL);
	expect(4, "no such path", "disable-device", "/dev/dax99.99", NULL, NULL);
	expect(4, "no such number", "disable-device", "4095:1048575", NULL, NULL);
	expect(4, "no such device", "destroy-device", "--force", "dax99.99", NULL);
	expect(4, "no such device", "reconfigure-device", "--mode=devdax",
	       "dax99.99", NULL);
	expect(4, "no such namespace", "disable-namespace", "namespace99.99",
	       NULL, NULL);
	expect(4, "no such CXL region", "disable-region", "region99", NULL, NULL);
	expect(4, "no such CXL memdev", "disable-memdev", "--force", "mem99",
	       NULL);
	struct run *r = h_run("disable-device", "dax99.99", NULL);
	CHECK(h_has(r->err, "no dax device 'dax99.99'"), "names it: %s", r->err);
	h_run_free(r);

	CHECK(!h_holder_wait(h, "break ", 300, NULL, 0),
	      "the holder was not asked to let go: %s", h->buf);
	CHECK(h_holder_stop(h) == 0, "the holder exits cleanly");
}

/*
 * As root, a tmpfs of our own in a mount namespace of our own: its device
 * number is ours alone.  Returns the directory, or NULL to skip.
 */
static const char *
private_device_dir(void)
{
	if (geteuid() != 0)
		return h_dir;	/* only our own runtime directory is in reach */
	const char *mnt = h_fmt("%s/mnt", h_dir);
	if (unshare(CLONE_NEWNS) != 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mkdir(mnt, 0700) != 0 ||
	    mount("dl_test", mnt, "tmpfs", 0, "size=4m,mode=0700") != 0) {
		perror("a private tmpfs for notify-removed");
		return NULL;
	}
	return mnt;
}

static void
cleanup_mnt(const char *dir)
{
	if (dir != h_dir) {
		char p[4400];
		snprintf(p, sizeof(p), "%s/data", dir);
		unlink(p);
		umount(dir);
	}
}

static int
test_notify(bool stopped)
{
	const char *dir = private_device_dir();
	if (dir == NULL)
		return SKIP;
	const char *path = h_fmt("%s/data", dir);
	char data[4096];
	memset(data, 'x', sizeof(data));
	FILE *f = fopen(path, "w");
	for (int i = 0; f && i < (int)(FILE_SIZE / sizeof(data)); i++)
		fwrite(data, 1, sizeof(data), f);
	if (f == NULL || fclose(f) != 0) {
		perror(path);
		cleanup_mnt(dir);
		return 3;
	}
	struct stat st;
	stat(path, &st);
	const char *devt = h_fmt("%u:%u", major(st.st_dev), minor(st.st_dev));

	struct holder *h = h_holder(path, "0:4k", NULL);
	if (h == NULL) {
		cleanup_mnt(dir);
		return 1;
	}
	if (!stopped) {
		struct run *r = h_run("notify-removed", devt, NULL);
		CHECK(r->status == 0, "exit %d", r->status);
		CHECK(h_has(r->err, "1 process let go"), "one holder: %s", r->err);
		CHECK(h_holder_wait(h, "break 0 PML_BREAK_REMOVE", 5000, NULL, 0),
		      "the holder's on_break ran with PML_BREAK_REMOVE: %s", h->buf);
		h_run_free(r);
	} else {
		/* a holder that cannot answer: exit 6, and it is named */
		kill(h->pid, SIGSTOP);
		struct run *r = h_run("notify-removed", "--timeout", "200", devt,
				      NULL);
		CHECK(r->status == 6, "exit %d", r->status);
		CHECK(h_has(r->err, h_fmt("pid %d", (int)h->pid)),
		      "names the holder: %s", r->err);
		kill(h->pid, SIGCONT);
		h_run_free(r);
		/*
		 * Woken, it may revoke for the request it missed before it
		 * reads "quit": its puts then say -ENODEV and it exits 1.
		 */
		int hst = h_holder_stop(h);
		CHECK(hst == 0 || hst == 1, "the holder exits: %d", hst);
		cleanup_mnt(dir);
		return 0;
	}
	CHECK(h_holder_stop(h) == 0, "the holder exits cleanly");
	cleanup_mnt(dir);
	return 0;
}

static void
test_notify_removed(void)
{
	skipped = test_notify(false) == SKIP;
}

static void
test_notify_timeout(void)
{
	skipped = test_notify(true) == SKIP;
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
	{ "help", dl_help_main },
	{ "list-json", dl_list_json },
	{ "list-empty", test_list_empty },
	{ "device-args", test_device_args },
	{ "notify-removed", test_notify_removed },
	{ "notify-timeout", test_notify_timeout },
};

int
main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s DAXCTL-LEASE PMEMLEASE TEST\n", argv[0]);
		return 2;
	}
	h_bin = argv[1];
	h_holder_bin = argv[2];
	h_argv0 = "daxctl-lease";
	const char *name = argv[3];
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
	snprintf(h_dir, sizeof(h_dir), "%s/dl-%s.XXXXXX", tmp && *tmp ? tmp : "/tmp",
		 name);
	if (mkdtemp(h_dir) == NULL) {
		perror(h_dir);
		return 3;
	}
	setenv("PMEMLEASE_RUNTIME_DIR", h_fmt("%s/run", h_dir), 1);

	if (help_cmd != NULL)
		dl_help(help_cmd);
	else
		fn();

	if (h_failed == 0 || getenv("PML_TEST_KEEP") == NULL)
		rm_rf(h_dir);
	else
		fprintf(stderr, "kept %s\n", h_dir);
	if (skipped && h_failed == 0) {
		printf("%s: skipped\n", name);
		return SKIP;
	}
	printf("%s: %s (%u failed check%s)\n", name, h_failed ? "FAILED" : "passed",
	       h_failed, h_failed == 1 ? "" : "s");
	return h_failed ? 1 : 0;
}
