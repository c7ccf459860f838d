/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cli_test_layout.c -- `pmemlease punch`, `truncate` and `revoke`: what
 * they wait for, what they show while waiting, and their exit codes.
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

/* ---------------------------------------------------------------- punch */

void
test_punch_wait(void)
{
	const char *path = h_file("data", FILE_SIZE, 'x');
	/* cancelled 600 ms after on_break: the punch waits that long */
	struct holder *h = h_holder("--on-break", "cancel", "--cancel-ms", "600",
				    path, "64k:8k:pin:2", "192k:4k", NULL);
	if (h == NULL)
		return;
	struct run *r = h_run("punch", path, "64k", "64K", NULL);
	CHECK(r->status == 0, "exit %d", r->status);
	CHECK(r->ms >= 600, "it waited for the holder: %.0f ms", r->ms);
	CHECK(h_has(r->out, h_fmt("pid %d (pmemlease", (int)h->pid)),
	      "it showed the holder it waited for");
	CHECK(h_has(r->out, "pin [64 KiB, +8 KiB)  2 refs"),
	      "with the lease over the range");
	CHECK(!h_has(r->out, "192 KiB"), "not the lease elsewhere");
	CHECK(h_has(r->out, "punched [64 KiB, +64 KiB) in "), "the result and time");
	char line[128];
	CHECK(h_holder_wait(h, "break 0 PML_BREAK_LAYOUT", 1000, line, sizeof(line)),
	      "the holder's on_break ran in the holder");
	CHECK(!h_holder_wait(h, "break 1", 0, NULL, 0), "not for the other lease");
	CHECK(h_bytes_are(path, 64 * KiB, 64 * KiB, 0), "the range reads zero");
	CHECK(h_bytes_are(path, 0, 64 * KiB, 'x') &&
	      h_bytes_are(path, 128 * KiB, 128 * KiB, 'x'), "the rest is intact");
	h_run_free(r);

	/* nothing over the range: at once */
	r = h_run("punch", "--timeout", "5000", path, "0", "4k", NULL);
	CHECK(r->status == 0, "a free range: exit %d", r->status);
	CHECK(h_bytes_are(path, 0, 4 * KiB, 0), "punched");
	h_run_free(r);
	r = h_run("punch", path, "0x2000", "0x1000", NULL);
	CHECK(r->status == 0 && h_bytes_are(path, 8 * KiB, 4 * KiB, 0),
	      "hexadecimal: exit %d", r->status);
	h_run_free(r);
	CHECK(h_holder_stop(h) == 0, "the holder exits cleanly");
}

void
test_punch_timeout_fail(void)
{
	const char *path = h_file("data", FILE_SIZE, 'x');
	struct holder *h = h_holder("--on-break", "ignore", path, "64k:8k:pin:2",
				    NULL);
	if (h == NULL)
		return;
	struct run *r = h_run("punch", "--timeout", "300", "--on-timeout=fail",
			      path, "64k", "64k", NULL);
	CHECK(r->status == 1, "a timeout with fail exits %d", r->status);
	CHECK(r->ms >= 300, "after the timeout: %.0f ms", r->ms);
	CHECK(h_has(r->out, "gave up") && h_has(r->out, "-ETIMEDOUT"),
	      "says it gave up");
	CHECK(h_has(r->out, h_fmt("pid %d", (int)h->pid)), "and whom it waited for");
	CHECK(h_bytes_are(path, 0, FILE_SIZE, 'x'), "nothing changed");
	CHECK(h_holder_wait(h, "break 0 PML_BREAK_LAYOUT", 1000, NULL, 0),
	      "the holder was asked");
	CHECK(!h_holder_wait(h, "break 0 PML_BREAK_REVOKED", 0, NULL, 0),
	      "and not revoked");
	h_run_free(r);

	r = h_run("list", "--json", path, NULL);
	struct json_object *files = h_json(r);
	struct json_object *l = h_jlease(h_jproc(h_jidx(files, 0), h->pid), 64 * KiB);
	CHECK(l != NULL && !json_object_get_boolean(h_jget(l, "revoked")) &&
	      h_jint(l, "refs") == 2, "the lease is still live, with its refs");
	CHECK(h_jget(h_jidx(files, 0), "barrier") == NULL, "no barrier left up");
	json_object_put(files);
	h_run_free(r);

	/* the default policy is fail */
	r = h_run("punch", "-t", "200", path, "64k", "4k", NULL);
	CHECK(r->status == 1, "default policy: exit %d", r->status);
	h_run_free(r);
	CHECK(h_holder_stop(h) == 0, "the holder exits cleanly");
}

void
test_punch_timeout_revoke(void)
{
	const char *path = h_file("data", FILE_SIZE, 'x');
	struct holder *h = h_holder("--on-break", "ignore", path, "64k:8k:pin", NULL);
	if (h == NULL)
		return;
	struct run *r = h_run("punch", "--timeout", "300", "--on-timeout", "revoke",
			      path, "64k", "64k", NULL);
	CHECK(r->status == 0, "exit %d", r->status);
	CHECK(h_has(r->out, h_fmt("revoked 1 lease of pid %d", (int)h->pid)),
	      "says whose lease was revoked");
	CHECK(h_has(r->out, "8 KiB quarantined"), "and what is quarantined");
	CHECK(h_holder_wait(h, "break 0 PML_BREAK_REVOKED", 1000, NULL, 0),
	      "the holder was told");
	CHECK(h_bytes_are(path, 72 * KiB, 56 * KiB, 0), "the rest of the range "
	      "is punched");
	h_run_free(r);

	r = h_run("list", "--json", path, NULL);
	struct json_object *files = h_json(r);
	struct json_object *f = h_jidx(files, 0);
	struct json_object *l = h_jlease(h_jproc(f, h->pid), 64 * KiB);
	CHECK(l != NULL && json_object_get_boolean(h_jget(l, "revoked")),
	      "list shows the lease revoked");
	CHECK(h_jint(f, "quarantined") == (int64_t)(8 * KiB), "quarantined %" PRId64,
	      h_jint(f, "quarantined"));
	json_object_put(files);
	h_run_free(r);

	r = h_run("list", path, NULL);
	CHECK(h_has(r->out, "revoked") && h_has(r->out, "quarantined 8 KiB"),
	      "and the table too");
	h_run_free(r);

	CHECK(h_holder_stop(h) == 0, "the holder puts it and exits");
	r = h_run("list", "--json", path, NULL);
	files = h_json(r);
	CHECK(h_jlen(files) == 0 || h_jint(h_jidx(files, 0), "quarantined") == 0,
	      "the quarantine lifted with the put");
	json_object_put(files);
	h_run_free(r);
	CHECK(h_bytes_are(path, 64 * KiB, 8 * KiB, 0), "and the blocks read zero");
}

void
test_punch_args(void)
{
	const char *path = h_file("data", FILE_SIZE, 'x');
	static const char *const bad[][8] = {
		{ "punch", NULL },
		{ "punch", "P", NULL },
		{ "punch", "P", "0", NULL },
		{ "punch", "P", "0", "4k", "4k", NULL },
		{ "punch", "P", "12x", "4k", NULL },
		{ "punch", "P", "-4096", "4k", NULL },
		{ "punch", "P", "4k", "", NULL },
		{ "punch", "P", "99999999999999999999", "4k", NULL },
		{ "punch", "P", "17179869184G", "4k", NULL },
		{ "punch", "P", "100", "4k", NULL },		/* misaligned */
		{ "punch", "P", "0", "100", NULL },
		{ "punch", "P", "0", "0", NULL },		/* empty */
		{ "punch", "P", "1m", "4k", NULL },		/* past the end */
		{ "punch", "--on-timeout=bogus", "P", "0", "4k", NULL },
		{ "punch", "--timeout", "abc", "P", "0", "4k", NULL },
		{ "punch", "--timeout", "-1", "P", "0", "4k", NULL },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		const char *a[8] = { 0 };
		for (int k = 0; k < 8 && bad[i][k]; k++)
			a[k] = strcmp(bad[i][k], "P") == 0 ? path : bad[i][k];
		struct run *r = h_run(a[0], a[1], a[2], a[3], a[4], a[5], a[6],
				      a[7], NULL);
		CHECK(r->status == 2, "case %zu: exit %d", i, r->status);
		CHECK(*r->err != '\0', "case %zu: a message on stderr", i);
		h_run_free(r);
	}
	CHECK(h_bytes_are(path, 0, FILE_SIZE, 'x'), "nothing was punched");

	struct run *r = h_run("punch", h_fmt("%s/missing", h_dir), "0", "4k", NULL);
	CHECK(r->status == 3, "a missing file exits %d", r->status);
	h_run_free(r);
	r = h_run("punch", h_dir, "0", "4k", NULL);
	CHECK(r->status == 2 || r->status == 3, "a directory exits %d", r->status);
	h_run_free(r);

	/* the suffixes */
	r = h_run("punch", path, "4k", "8K", NULL);
	CHECK(r->status == 0, "k and K: exit %d", r->status);
	CHECK(h_bytes_are(path, 4 * KiB, 8 * KiB, 0) &&
	      h_bytes_are(path, 12 * KiB, 4 * KiB, 'x'), "4k + 8K punched");
	h_run_free(r);
	r = h_run("punch", path, "0m", "0.25m", NULL);
	CHECK(r->status == 2, "no fractions: exit %d", r->status);
	h_run_free(r);
	r = h_run("punch", path, "0M", "256KiB", NULL);
	CHECK(r->status == 0 && h_bytes_are(path, 0, FILE_SIZE, 0),
	      "M and KiB: exit %d", r->status);
	h_run_free(r);
}

/* ------------------------------------------------------------- truncate */

void
test_truncate(void)
{
	const char *path = h_file("data", FILE_SIZE, 'x');
	struct run *r = h_run("truncate", path, "1m", NULL);
	CHECK(r->status == 0, "grow: exit %d", r->status);
	CHECK(h_file_size(path) == 1024 * KiB, "size %" PRIu64, h_file_size(path));
	CHECK(h_has(r->out, "grown to 1 MiB"), "says so");
	h_run_free(r);

	/* a shrink over a stuck holder's lease times out and changes nothing */
	struct holder *h = h_holder("--on-break", "ignore", path, "512k:4k", NULL);
	if (h == NULL)
		return;
	r = h_run("truncate", "--timeout", "300", path, "256k", NULL);
	CHECK(r->status == 1, "timeout: exit %d", r->status);
	CHECK(h_has(r->out, h_fmt("pid %d", (int)h->pid)), "shows the holder");
	CHECK(h_file_size(path) == 1024 * KiB, "size unchanged");
	h_run_free(r);
	/* a shrink above it does not wait */
	r = h_run("truncate", "--timeout", "300", path, "768k", NULL);
	CHECK(r->status == 0 && h_file_size(path) == 768 * KiB,
	      "shrink above the lease: exit %d", r->status);
	h_run_free(r);
	CHECK(h_holder_stop(h) == 0, "the holder exits cleanly");

	/* a cooperative holder: the shrink waits for its put */
	h = h_holder("--on-break", "cancel", "--cancel-ms", "300", path,
		     "640k:8k", NULL);
	if (h == NULL)
		return;
	r = h_run("truncate", path, "256k", NULL);
	CHECK(r->status == 0, "exit %d", r->status);
	CHECK(r->ms >= 300, "waited %.0f ms", r->ms);
	CHECK(h_file_size(path) == 256 * KiB, "size %" PRIu64, h_file_size(path));
	CHECK(h_has(r->out, "shrunk to 256 KiB"), "says so");
	CHECK(h_holder_wait(h, "break 0 PML_BREAK_LAYOUT", 1000, NULL, 0),
	      "the holder was asked");
	h_run_free(r);
	CHECK(h_holder_stop(h) == 0, "the holder exits cleanly");

	static const char *const bad[][6] = {
		{ "truncate", NULL },
		{ "truncate", "P", NULL },
		{ "truncate", "P", "1q", NULL },
		{ "truncate", "P", "1000", NULL },	/* misaligned */
		{ "truncate", "P", "256k", "x", NULL },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		const char *a[6] = { 0 };
		for (int k = 0; k < 6 && bad[i][k]; k++)
			a[k] = strcmp(bad[i][k], "P") == 0 ? path : bad[i][k];
		r = h_run(a[0], a[1], a[2], a[3], a[4], a[5], NULL);
		CHECK(r->status == 2, "case %zu: exit %d", i, r->status);
		h_run_free(r);
	}
	CHECK(h_file_size(path) == 256 * KiB, "size untouched by bad calls");
	r = h_run("truncate", h_fmt("%s/missing", h_dir), "4k", NULL);
	CHECK(r->status == 3, "a missing file exits %d", r->status);
	h_run_free(r);
}

/* --------------------------------------------------------------- revoke */

void
test_revoke(void)
{
	const char *path = h_file("data", FILE_SIZE, 'x');
	struct holder *good = h_holder("--on-break", "cancel", "--cancel-ms", "100",
				       path, "0:4k:pin:2", NULL);
	struct holder *stuck = h_holder("--on-break", "ignore", path, "128k:8k",
					NULL);
	if (good == NULL || stuck == NULL) {
		h_holder_stop(good);
		h_holder_stop(stuck);
		return;
	}
	struct run *r = h_run("revoke", "--grace", "800", path, NULL);
	CHECK(r->status == 0, "exit %d", r->status);
	CHECK(r->ms >= 800, "gave the grace period: %.0f ms", r->ms);
	CHECK(h_has(r->out, h_fmt("let go:       pid %d", (int)good->pid)),
	      "the cooperative holder let go");
	CHECK(h_has(r->out, h_fmt("revoked:      pid %d", (int)stuck->pid)),
	      "the stuck one was revoked");
	CHECK(h_has(r->out, "1 process let go in time, 1 had leases revoked"),
	      "the summary");
	CHECK(h_holder_wait(good, "break 0 PML_BREAK_LAYOUT", 1000, NULL, 0) &&
	      h_holder_wait(good, "put 0 0", 1000, NULL, 0), "good: asked, put");
	CHECK(!h_holder_wait(good, "break 0 PML_BREAK_REVOKED", 0, NULL, 0),
	      "good: not revoked");
	CHECK(h_holder_wait(stuck, "break 0 PML_BREAK_REVOKED", 1000, NULL, 0),
	      "stuck: told it is revoked");
	CHECK(h_bytes_are(path, 0, FILE_SIZE, 'x'), "nothing deallocated");
	h_run_free(r);

	r = h_run("list", "--json", path, NULL);
	struct json_object *files = h_json(r);
	struct json_object *f = h_jidx(files, 0);
	struct json_object *l = h_jlease(h_jproc(f, stuck->pid), 128 * KiB);
	CHECK(l != NULL && json_object_get_boolean(h_jget(l, "revoked")),
	      "list shows the stuck lease revoked");
	CHECK(h_jlen(h_jget(h_jproc(f, good->pid), "leases")) == 0,
	      "and the good holder with none");
	CHECK(h_jint(f, "quarantined") == 0, "a revoke without a change "
	      "quarantines nothing");
	json_object_put(files);
	h_run_free(r);
	CHECK(h_holder_stop(good) == 0 && h_holder_stop(stuck) == 0,
	      "holders exit cleanly");

	/* nobody holds anything: at once */
	r = h_run("revoke", "-g", "0", path, NULL);
	CHECK(r->status == 0 && h_has(r->out, "no process held a lease"),
	      "nothing to revoke: exit %d", r->status);
	h_run_free(r);

	r = h_run("revoke", h_fmt("%s/missing", h_dir), NULL);
	CHECK(r->status == 3, "a missing file exits %d", r->status);
	h_run_free(r);
	r = h_run("revoke", NULL);
	CHECK(r->status == 2, "no argument exits %d", r->status);
	h_run_free(r);
	r = h_run("revoke", "--grace", "soon", path, NULL);
	CHECK(r->status == 2, "a bad grace exits %d", r->status);
	h_run_free(r);
	r = h_run("revoke", "/dev/null", NULL);
	CHECK(r->status != 0, "a device that is not dax: exit %d", r->status);
	h_run_free(r);
}
