/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cli_test_list.c -- `pmemlease list`: its JSON parsed back and checked
 * field by field against holders whose leases the test chose.
 */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cli_harness.h"

/* ------------------------------------------------------------------ list */

/* the holder every list test uses: three leases of each kind and shape */
static struct holder *
standard_holder(const char *path)
{
	return h_holder("--on-break", "ignore", path,
			"0:8k:pin:3", "16k:4k:ref", "65636:100:pin", NULL);
}

void
test_list_json(void)
{
	const char *path = h_file("data", FILE_SIZE, 'x');
	struct holder *h = standard_holder(path);
	if (h == NULL)
		return;
	struct stat st;
	stat(path, &st);

	struct run *r = h_run("list", "--json", path, NULL);
	CHECK(r->status == 0, "exit %d", r->status);
	struct json_object *files = h_json(r);
	CHECK(json_object_is_type(files, json_type_array), "an array");
	CHECK(h_jlen(files) == 1, "one file: %zu", h_jlen(files));
	struct json_object *f = h_jidx(files, 0);
	CHECK(strcmp(h_jstr(f, "path"), path) == 0, "path %s", h_jstr(f, "path"));
	CHECK(h_jint(f, "ino") == (int64_t)st.st_ino, "ino %" PRId64, h_jint(f, "ino"));
	CHECK(h_jint(f, "major") == (int64_t)major(st.st_dev) &&
	      h_jint(f, "minor") == (int64_t)minor(st.st_dev), "dev %" PRId64 ":%" PRId64,
	      h_jint(f, "major"), h_jint(f, "minor"));
	CHECK(h_jint(f, "size") == (int64_t)FILE_SIZE, "size %" PRId64 " (a number)",
	      h_jint(f, "size"));
	CHECK(json_object_is_type(h_jget(f, "size"), json_type_int), "size is a number");
	CHECK(h_jint(f, "quarantined") == 0, "nothing quarantined");
	CHECK(h_jget(f, "barrier") == NULL, "no barrier while none is up");
	CHECK(h_jlen(h_jget(f, "processes")) == 1, "one process: %zu",
	      h_jlen(h_jget(f, "processes")));

	struct json_object *p = h_jproc(f, h->pid);
	CHECK(p != NULL, "the holder, pid %d, is listed", (int)h->pid);
	CHECK(strcmp(h_jstr(p, "command"), "pmemlease") == 0, "command %s",
	      h_jstr(p, "command"));
	CHECK(h_jint(p, "uid") == (int64_t)getuid(), "uid %" PRId64, h_jint(p, "uid"));
	CHECK(json_object_get_boolean(h_jget(p, "answered")), "it answered");

	struct json_object *regs = h_jget(p, "regions");
	CHECK(h_jlen(regs) == 1, "one region: %zu", h_jlen(regs));
	struct json_object *rg = h_jidx(regs, 0);
	CHECK(strcmp(h_jstr(rg, "path"), path) == 0, "region path %s",
	      h_jstr(rg, "path"));
	CHECK(strcmp(h_jstr(rg, "kind"), "plain") == 0, "kind %s", h_jstr(rg, "kind"));
	CHECK(h_jint(rg, "size") == (int64_t)FILE_SIZE, "region size %" PRId64,
	      h_jint(rg, "size"));
	CHECK(h_jget(rg, "device") == NULL, "a plain file has no device");

	struct json_object *ls = h_jget(p, "leases");
	CHECK(h_jlen(ls) == 3, "three leases: %zu", h_jlen(ls));
	static const struct {
		uint64_t off, len;
		const char *type;
		int refs;
	} want[] = {
		{ 0, 8 * KiB, "pin", 3 },
		{ 16 * KiB, 4 * KiB, "ref", 1 },
		{ 65636, 100, "pin", 1 },
	};
	for (size_t i = 0; i < 3; i++) {
		struct json_object *l = h_jlease(p, want[i].off);
		if (!CHECK(l != NULL, "a lease at %" PRIu64, want[i].off))
			continue;
		CHECK(h_jint(l, "length") == (int64_t)want[i].len, "length %" PRId64,
		      h_jint(l, "length"));
		CHECK(strcmp(h_jstr(l, "type"), want[i].type) == 0, "type %s",
		      h_jstr(l, "type"));
		CHECK(h_jint(l, "refs") == want[i].refs, "refs %" PRId64, h_jint(l, "refs"));
		CHECK(h_jget(l, "revoked") != NULL &&
		      !json_object_get_boolean(h_jget(l, "revoked")), "not revoked");
		CHECK(h_jint(l, "tid") == h->tid, "tid %" PRId64 ", acquired by %d",
		      h_jint(l, "tid"), (int)h->tid);
		CHECK(h_jint(l, "region") == 0, "region index %" PRId64,
		      h_jint(l, "region"));
		CHECK(h_jint(l, "age_ms") >= 0, "an age");
	}
	json_object_put(files);
	h_run_free(r);

	/* the same through --pid, and with no filter */
	r = h_run("list", "--json", "--pid", h_fmt("%d", (int)h->pid), NULL);
	files = h_json(r);
	CHECK(r->status == 0 && h_jlen(files) == 1 &&
	      h_jproc(h_jidx(files, 0), h->pid) != NULL, "--pid finds it");
	json_object_put(files);
	h_run_free(r);
	r = h_run("list", "--json", NULL);
	files = h_json(r);
	CHECK(r->status == 0 && h_jlen(files) == 1, "unfiltered: %zu file(s)",
	      h_jlen(files));
	json_object_put(files);
	h_run_free(r);

	CHECK(h_holder_stop(h) == 0, "the holder exits cleanly");

	/* gone: the file has no lease state left, or no process on it */
	r = h_run("list", "--json", path, NULL);
	files = h_json(r);
	CHECK(r->status == 0 && (h_jlen(files) == 0 ||
	      h_jlen(h_jget(h_jidx(files, 0), "processes")) == 0),
	      "after the holder exits nobody is listed");
	json_object_put(files);
	h_run_free(r);
}

/*
 * The header: age_ms is the time since acquire, +- 250 ms.  Several holders:
 * a lease taken at once after open is where a clock not yet started shows.
 */
void
test_list_age(void)
{
	enum { N = 4 };
	const char *path = h_file("data", FILE_SIZE, 'x');
	struct holder *h[N] = { 0 };
	for (int i = 0; i < N; i++)
		h[i] = h_holder(path, h_fmt("%dk:4k", 4 * i), NULL);
	usleep(300 * 1000);
	double before = h_mono_ms();
	struct run *r = h_run("list", "--json", path, NULL);
	double after = h_mono_ms();
	struct json_object *files = h_json(r);
	for (int i = 0; i < N; i++) {
		if (h[i] == NULL)
			continue;
		struct json_object *l = h_jlease(h_jproc(h_jidx(files, 0), h[i]->pid),
						 (uint64_t)(4 * i) * KiB);
		/* held since before "ready", and at most until the listing */
		double most = after - h[i]->t_ready + 250 + 250;
		int64_t age = h_jint(l, "age_ms");
		CHECK(l != NULL && age >= 0 && (double)age <= most &&
		      (double)age + 250 >= before - h[i]->t_ready,
		      "holder %d: age_ms %" PRId64 ", held %.0f-%.0f ms", i, age,
		      before - h[i]->t_ready, most);
	}
	json_object_put(files);
	h_run_free(r);
	for (int i = 0; i < N; i++)
		h_holder_stop(h[i]);
}

void
test_list_pid(void)
{
	const char *p1 = h_file("one", FILE_SIZE, 'x');
	const char *p2 = h_file("two", FILE_SIZE, 'y');
	struct holder *a = h_holder(p1, "0:4k", NULL);
	struct holder *b = h_holder(p2, "4k:4k:ref", "8k:4k", NULL);
	if (a == NULL || b == NULL) {
		h_holder_stop(a);
		h_holder_stop(b);
		return;
	}

	struct run *r = h_run("list", "--json", NULL);
	struct json_object *files = h_json(r);
	CHECK(h_jlen(files) == 2, "two files: %zu", h_jlen(files));
	json_object_put(files);
	h_run_free(r);

	r = h_run("list", "--json", "--pid", h_fmt("%d", (int)b->pid), NULL);
	files = h_json(r);
	CHECK(r->status == 0 && h_jlen(files) == 1, "--pid: one file: %zu",
	      h_jlen(files));
	struct json_object *f = h_jidx(files, 0);
	CHECK(strcmp(h_jstr(f, "path"), p2) == 0, "its file: %s", h_jstr(f, "path"));
	CHECK(h_jlen(h_jget(f, "processes")) == 1 && h_jproc(f, b->pid) != NULL,
	      "only that process");
	CHECK(h_jlen(h_jget(h_jproc(f, b->pid), "leases")) == 2, "its two leases");
	json_object_put(files);
	h_run_free(r);

	r = h_run("list", "--json", p1, NULL);
	files = h_json(r);
	CHECK(h_jlen(files) == 1 && h_jproc(h_jidx(files, 0), a->pid) != NULL &&
	      h_jproc(h_jidx(files, 0), b->pid) == NULL, "PATH: only that file");
	json_object_put(files);
	h_run_free(r);

	/* a link to the file is the same file: by device and inode */
	const char *link = h_fmt("%s/link-to-one", h_dir);
	CHECK(symlink(p1, link) == 0, "symlink: %s", strerror(errno));
	r = h_run("list", "--json", link, NULL);
	files = h_json(r);
	CHECK(h_jlen(files) == 1 && h_jproc(h_jidx(files, 0), a->pid) != NULL,
	      "a symlink names the same file");
	json_object_put(files);
	h_run_free(r);

	r = h_run("list", "--json", "--pid", "999999999", NULL);
	files = h_json(r);
	CHECK(r->status == 0 && h_jlen(files) == 0, "an unknown pid: no files");
	json_object_put(files);
	h_run_free(r);

	CHECK(h_holder_stop(a) == 0 && h_holder_stop(b) == 0, "holders exit cleanly");
}

void
test_list_table(void)
{
	const char *path = h_file("data", FILE_SIZE, 'x');

	struct run *r = h_run("list", NULL);
	CHECK(r->status == 0, "no state yet: exit %d", r->status);
	CHECK(h_has(r->out, "no lease state"), "says there is none");
	h_run_free(r);
	r = h_run("list", "--json", NULL);
	struct json_object *files = h_json(r);
	CHECK(r->status == 0 && h_jlen(files) == 0 &&
	      json_object_is_type(files, json_type_array), "[] with no state");
	json_object_put(files);
	h_run_free(r);

	struct holder *h = standard_holder(path);
	if (h == NULL)
		return;
	r = h_run("list", path, NULL);
	CHECK(r->status == 0, "exit %d", r->status);
	CHECK(h_has(r->out, path), "names the file");
	CHECK(h_has(r->out, "size 256 KiB"), "the size in human units");
	CHECK(h_has(r->out, "PID") && h_has(r->out, "COMMAND") &&
	      h_has(r->out, "OFFSET") && h_has(r->out, "LENGTH") &&
	      h_has(r->out, "REFS") && h_has(r->out, "AGE"), "column headers");
	CHECK(h_has(r->out, h_fmt("%d", (int)h->pid)), "the holder's pid");
	CHECK(h_has(r->out, "8 KiB") && h_has(r->out, "16 KiB"),
	      "lengths and offsets in KiB");
	CHECK(h_has(r->out, "65636") && h_has(r->out, "100"),
	      "an offset that is not a whole KiB, exactly");
	CHECK(h_has(r->out, " pin ") && h_has(r->out, " ref "), "pin and ref");
	CHECK(h_has(r->out, "live"), "state");
	h_run_free(r);

	r = h_run("list", "no-such-file", NULL);
	CHECK(r->status == 3, "a missing file exits %d", r->status);
	h_run_free(r);
	r = h_run("list", "--pid", "abc", NULL);
	CHECK(r->status == 2, "a bad pid exits %d", r->status);
	h_run_free(r);
	r = h_run("list", path, path, NULL);
	CHECK(r->status == 2, "two paths exit %d", r->status);
	h_run_free(r);
	h_holder_stop(h);
}

/* a holder that cannot answer (stopped) is listed as such, not waited for */
void
test_list_stopped(void)
{
	const char *path = h_file("data", FILE_SIZE, 'x');
	struct holder *h = h_holder(path, "0:4k", NULL);
	if (h == NULL)
		return;
	kill(h->pid, SIGSTOP);
	struct run *r = h_run("list", "--json", "--wait", "200", path, NULL);
	struct json_object *files = h_json(r);
	struct json_object *p = h_jproc(h_jidx(files, 0), h->pid);
	CHECK(r->status == 0 && p != NULL, "listed: exit %d", r->status);
	CHECK(h_jget(p, "answered") != NULL &&
	      !json_object_get_boolean(h_jget(p, "answered")), "as not answering");
	CHECK(h_jlen(h_jget(p, "leases")) == 0, "with no leases shown");
	CHECK(r->ms < 5000, "without waiting for it: %.0f ms", r->ms);
	json_object_put(files);
	h_run_free(r);
	r = h_run("list", "--wait", "200", path, NULL);
	CHECK(h_has(r->out, "did not answer"), "the table says so");
	h_run_free(r);
	kill(h->pid, SIGCONT);
	CHECK(h_holder_stop(h) == 0, "the holder exits cleanly");
}
