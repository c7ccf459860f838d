/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * snapview.c -- the inspection API's snapshot as JSON, and as tables.
 *
 * The JSON is built first and the tables are printed from it, so `list`,
 * `list --json`, `watch` and the demo can never disagree about what they
 * saw.  The layout follows `daxctl list`: arrays of objects, lower-case
 * keys, sizes as numbers; human units only in the tables.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"

/* ------------------------------------------------------------- to JSON */

static void
add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

static void
add_i64(struct json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

static void
add_str(struct json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v));
}

struct json_object *
cli_cxl_json(const char *path)
{
	struct pml_cxl_info ci;

	if (path == NULL || path[0] == '\0' || pml_device_cxl_info(&ci, path))
		return NULL;

	struct json_object *o = json_object_new_object();
	struct json_object *mds = json_object_new_array();
	add_str(o, "region", ci.region);
	add_str(o, "root_decoder", ci.root_decoder);
	add_str(o, "nd_region", ci.nd_region);
	add_u64(o, "resource", ci.resource);
	add_u64(o, "size", ci.size);
	add_i64(o, "interleave_ways", ci.interleave_ways);
	add_i64(o, "interleave_granularity", ci.interleave_granularity);
	for (uint32_t i = 0; i < ci.nmemdevs; i++) {
		const struct pml_cxl_memdev_info *m = &ci.memdevs[i];
		struct json_object *mo = json_object_new_object();
		add_str(mo, "memdev", m->memdev);
		add_i64(mo, "position", m->position);
		add_str(mo, "decoder", m->decoder);
		add_str(mo, "host", m->host);
		add_str(mo, "host_bridge", m->host_bridge);
		add_u64(mo, "serial", m->serial);
		json_object_array_add(mds, mo);
	}
	json_object_object_add(o, "memdevs", mds);
	return o;
}

char *
cli_cxl_summary(char *buf, size_t len, struct json_object *cxl)
{
	struct json_object *mds = cli_jarr(cxl, "memdevs");
	size_t n = mds != NULL ? json_object_array_length(mds) : 0;
	int at = snprintf(buf, len, "CXL %s x%" PRId64 " (", cli_jstr(cxl, "region"),
			cli_ji64(cxl, "interleave_ways"));

	for (size_t i = 0; i < n && at > 0 && (size_t)at < len; i++)
		at += snprintf(buf + at, len - (size_t)at, "%s%s@%s", i ? " " : "",
			cli_jstr(json_object_array_get_idx(mds, i), "memdev"),
			cli_jstr(json_object_array_get_idx(mds, i), "host_bridge"));
	if (at > 0 && (size_t)at < len)
		snprintf(buf + at, len - (size_t)at, ")");
	return buf;
}

static struct json_object *
region_json(const struct pml_holder_region_info *ri, unsigned index)
{
	struct json_object *o = json_object_new_object();
	add_i64(o, "index", index);
	if (ri->path[0] != '\0')
		add_str(o, "path", ri->path);
	add_str(o, "kind", pml_region_kind_name(ri->kind));
	add_u64(o, "size", ri->size);
	if (ri->device[0] != '\0')
		add_str(o, "device", ri->device);
	struct json_object *cxl = cli_cxl_json(ri->path);
	if (cxl != NULL)
		json_object_object_add(o, "cxl", cxl);
	return o;
}

static struct json_object *
lease_json(const struct pml_lease_info *li)
{
	struct json_object *o = json_object_new_object();
	add_i64(o, "region", li->region);
	add_u64(o, "offset", li->offset);
	add_u64(o, "length", li->length);
	add_str(o, "type", (li->flags & PML_LEASE_REF) ? "ref" : "pin");
	add_i64(o, "refs", li->refs);
	json_object_object_add(o, "revoked", json_object_new_boolean(li->revoked != 0));
	add_u64(o, "age_ms", li->age_ms);
	add_i64(o, "tid", li->tid);
	return o;
}

/*
 * The file's path for the listing: the first absolute path a holder gave,
 * else a relative one made absolute through the holder's /proc/PID/cwd
 * (readable for our own processes), else the relative path as given.
 */
static void
pick_path(char *path, size_t n, pid_t pid, const char *given)
{
	if (given[0] == '\0' || path[0] == '/')
		return;
	if (given[0] == '/') {
		snprintf(path, n, "%s", given);
		return;
	}
	char link[64], cwd[4096];
	snprintf(link, sizeof(link), "/proc/%d/cwd", (int)pid);
	ssize_t k = readlink(link, cwd, sizeof(cwd) - 1);
	if (k > 0) {
		cwd[k] = '\0';
		/* too long for the buffer: the relative path is still true */
		if ((size_t)k + 1 + strlen(given) < n)
			snprintf(path, n, "%.*s/%s", (int)(strcmp(cwd, "/") == 0 ? 0 : k),
				 cwd, given);
		else if (path[0] == '\0')
			snprintf(path, n, "%s", given);
	} else if (path[0] == '\0') {
		snprintf(path, n, "%s", given);
	}
}

static struct json_object *
holder_json(const struct pml_snapshot *snap, unsigned f, unsigned h,
	    const struct pml_holder_info *hi, char *path, size_t pathsz)
{
	struct json_object *o = json_object_new_object();
	struct json_object *regions = json_object_new_array();
	struct json_object *leases = json_object_new_array();
	char comm[sizeof(hi->comm) + 1];

	memcpy(comm, hi->comm, sizeof(hi->comm));
	comm[sizeof(hi->comm)] = '\0';
	add_i64(o, "pid", hi->pid);
	add_str(o, "command", comm);
	add_i64(o, "uid", hi->uid);
	add_u64(o, "started", hi->started_ns / 1000000000u);
	json_object_object_add(o, "answered", json_object_new_boolean(hi->answered));
	/* a holder that did not answer has no regions or leases to show */
	for (unsigned r = 0; hi->answered && r < hi->nregions; r++) {
		const struct pml_holder_region_info *ri =
			pml_snapshot_region(snap, f, h, r);
		if (ri == NULL)
			break;
		pick_path(path, pathsz, hi->pid, ri->path);
		json_object_array_add(regions, region_json(ri, r));
	}
	for (unsigned l = 0; hi->answered && l < hi->nleases; l++) {
		const struct pml_lease_info *li = pml_snapshot_lease(snap, f, h, l);
		if (li == NULL)
			break;
		json_object_array_add(leases, lease_json(li));
	}
	json_object_object_add(o, "regions", regions);
	json_object_object_add(o, "leases", leases);
	return o;
}

struct json_object *
cli_snapshot_to_json(const struct pml_snapshot *snap)
{
	struct json_object *files = json_object_new_array();
	unsigned nfiles = pml_snapshot_nfiles(snap);

	for (unsigned f = 0; f < nfiles; f++) {
		const struct pml_file_info *fi = pml_snapshot_file(snap, f);
		if (fi == NULL)
			break;
		struct json_object *o = json_object_new_object();
		struct json_object *procs = json_object_new_array();
		char path[4096] = "";

		for (unsigned h = 0; h < fi->nholders; h++) {
			const struct pml_holder_info *hi = pml_snapshot_holder(snap, f, h);
			if (hi == NULL)
				break;
			json_object_array_add(procs, holder_json(snap, f, h, hi, path,
								 sizeof(path)));
		}
		/* the path first, as daxctl puts the device's name first */
		if (path[0] != '\0')
			add_str(o, "path", path);
		add_i64(o, "major", major(fi->dev));
		add_i64(o, "minor", minor(fi->dev));
		add_u64(o, "ino", fi->ino);
		add_u64(o, "size", fi->size);
		add_u64(o, "quarantined", fi->quarantined);
		if (fi->barrier) {
			struct json_object *b = json_object_new_object();
			add_u64(b, "offset", fi->barrier_offset);
			add_u64(b, "length", fi->barrier_length);
			add_i64(b, "pid", fi->barrier_pid);
			json_object_object_add(o, "barrier", b);
		}
		add_str(o, "state", fi->state_path);
		json_object_object_add(o, "processes", procs);
		json_object_array_add(files, o);
	}
	return files;
}

int
cli_snapshot_json(struct json_object **out, const char *path, pid_t pid,
		  uint32_t timeout_ms)
{
	struct pml_snapshot *snap = NULL;
	int rc = pml_snapshot_take(&snap, path, pid, timeout_ms);

	*out = NULL;
	if (rc < 0)
		return rc;
	if (snap == NULL)
		return -EIO;
	*out = cli_snapshot_to_json(snap);
	pml_snapshot_free(&snap);
	return *out != NULL ? 0 : -ENOMEM;
}

void
cli_print_json(FILE *out, struct json_object *obj, bool pretty)
{
	int flags = JSON_C_TO_STRING_NOSLASHESCAPE |
		    (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED :
			      JSON_C_TO_STRING_PLAIN);
	fprintf(out, "%s\n", json_object_to_json_string_ext(obj, flags));
}

/* ----------------------------------------------------------- reading JSON */

static struct json_object *
member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

uint64_t
cli_ju64(struct json_object *o, const char *key)
{
	struct json_object *v = member(o, key);
	return v != NULL ? json_object_get_uint64(v) : 0;
}

int64_t
cli_ji64(struct json_object *o, const char *key)
{
	struct json_object *v = member(o, key);
	return v != NULL ? json_object_get_int64(v) : 0;
}

const char *
cli_jstr(struct json_object *o, const char *key)
{
	struct json_object *v = member(o, key);
	const char *s = v != NULL ? json_object_get_string(v) : NULL;
	return s != NULL ? s : "";
}

bool
cli_jbool(struct json_object *o, const char *key)
{
	struct json_object *v = member(o, key);
	return v != NULL && json_object_get_boolean(v);
}

struct json_object *
cli_jarr(struct json_object *o, const char *key)
{
	struct json_object *v = member(o, key);
	return v != NULL && json_object_is_type(v, json_type_array) ? v : NULL;
}

static size_t
jlen(struct json_object *arr)
{
	return arr != NULL ? json_object_array_length(arr) : 0;
}

/* ---------------------------------------------------------------- tables */

#define TBL_COLS 10
#define TBL_CELL 80

struct table {
	unsigned ncols;
	unsigned nrows;		/* the header included */
	unsigned cap;
	char (*cells)[TBL_COLS][TBL_CELL];
	bool right[TBL_COLS];	/* numbers read better right-aligned */
};

static void
tbl_init(struct table *t, unsigned ncols, const char *const *head,
	 const char *right)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->cap = 8;
	t->cells = calloc(t->cap, sizeof(*t->cells));
	for (unsigned c = 0; c < ncols; c++)
		t->right[c] = right[c] == 'r';
	if (t->cells != NULL) {
		for (unsigned c = 0; c < ncols; c++)
			snprintf(t->cells[0][c], TBL_CELL, "%s", head[c]);
		t->nrows = 1;
	}
}

/* one row; the arguments are ncols strings */
static void
tbl_row(struct table *t, const char *const *cells)
{
	if (t->cells == NULL)
		return;
	if (t->nrows == t->cap) {
		void *n = realloc(t->cells, 2 * t->cap * sizeof(*t->cells));
		if (n == NULL)
			return;
		t->cells = n;
		t->cap *= 2;
	}
	for (unsigned c = 0; c < t->ncols; c++)
		snprintf(t->cells[t->nrows][c], TBL_CELL, "%s", cells[c]);
	t->nrows++;
}

static void
tbl_print(FILE *out, struct table *t, const char *indent)
{
	size_t w[TBL_COLS] = { 0 };
	for (unsigned r = 0; r < t->nrows; r++)
		for (unsigned c = 0; c < t->ncols; c++) {
			size_t n = strlen(t->cells[r][c]);
			if (n > w[c])
				w[c] = n;
		}
	for (unsigned r = 0; r < t->nrows; r++) {
		fputs(indent, out);
		for (unsigned c = 0; c < t->ncols; c++) {
			bool last = c + 1 == t->ncols;
			if (t->right[c] && r > 0)
				fprintf(out, "%*s", (int)w[c], t->cells[r][c]);
			else if (last)
				fputs(t->cells[r][c], out);
			else
				fprintf(out, "%-*s", (int)w[c], t->cells[r][c]);
			if (!last)
				fputs("  ", out);
		}
		fputc('\n', out);
	}
	free(t->cells);
	t->cells = NULL;
}

static void
print_file(FILE *out, struct json_object *f)
{
	char s1[32], s2[32], s3[32];
	struct json_object *procs = cli_jarr(f, "processes");
	const char *path = cli_jstr(f, "path");

	fprintf(out, "%s  (dev %" PRId64 ":%" PRId64 ", ino %" PRIu64 ")\n",
		*path ? path : "(no holder reported a path)",
		cli_ji64(f, "major"), cli_ji64(f, "minor"), cli_ju64(f, "ino"));
	fprintf(out, "  size %s, quarantined %s, %zu process%s\n",
		cli_size(s1, sizeof(s1), cli_ju64(f, "size")),
		cli_size(s2, sizeof(s2), cli_ju64(f, "quarantined")),
		jlen(procs), jlen(procs) == 1 ? "" : "es");
	struct json_object *b = NULL;
	if (json_object_object_get_ex(f, "barrier", &b))
		fprintf(out, "  barrier up on [%s, +%s), raised by pid %" PRId64 "\n",
			cli_offset(s1, sizeof(s1), cli_ju64(b, "offset")),
			cli_offset(s2, sizeof(s2), cli_ju64(b, "length")),
			cli_ji64(b, "pid"));
	if (jlen(procs) == 0) {
		fprintf(out, "  no live process has it open\n");
		return;
	}

	/* processes, one row per region they have open on the file */
	static const char *const phead[] = { "PID", "COMMAND", "UID", "KIND",
		"SIZE", "DEVICE", "LEASES", "PATH" };
	struct table t;
	bool multi = false;
	tbl_init(&t, 8, phead, "rlrlrlrl");
	for (size_t p = 0; p < jlen(procs); p++) {
		struct json_object *pr = json_object_array_get_idx(procs, p);
		struct json_object *regs = cli_jarr(pr, "regions");
		char pid[16], uid[16], nl[16];
		snprintf(pid, sizeof(pid), "%" PRId64, cli_ji64(pr, "pid"));
		snprintf(uid, sizeof(uid), "%" PRId64, cli_ji64(pr, "uid"));
		snprintf(nl, sizeof(nl), "%zu", jlen(cli_jarr(pr, "leases")));
		if (!cli_jbool(pr, "answered")) {
			const char *row[] = { pid, cli_jstr(pr, "command"), uid,
				"-", "-", "-", "?", "(did not answer in time)" };
			tbl_row(&t, row);
			continue;
		}
		if (jlen(regs) > 1)
			multi = true;
		for (size_t r = 0; r < jlen(regs); r++) {
			struct json_object *rg = json_object_array_get_idx(regs, r);
			const char *dev = cli_jstr(rg, "device");
			struct json_object *cxl = member(rg, "cxl");
			char devs[256];
			if (cxl != NULL) {
				char sum[192];
				snprintf(devs, sizeof(devs), "%s, %s", *dev ? dev : "-",
					cli_cxl_summary(sum, sizeof(sum), cxl));
				dev = devs;
			}
			const char *row[] = { pid, cli_jstr(pr, "command"), uid,
				cli_jstr(rg, "kind"),
				cli_size(s1, sizeof(s1), cli_ju64(rg, "size")),
				*dev ? dev : "-", r == 0 ? nl : "",
				*cli_jstr(rg, "path") ? cli_jstr(rg, "path") : "-" };
			tbl_row(&t, row);
		}
		if (jlen(regs) == 0) {
			const char *row[] = { pid, cli_jstr(pr, "command"), uid,
				"-", "-", "-", nl, "(no region open)" };
			tbl_row(&t, row);
		}
	}
	fputc('\n', out);
	tbl_print(out, &t, "  ");

	/* leases, all processes together */
	static const char *const lhead[] = { "PID", "TID", "REGION", "TYPE",
		"OFFSET", "LENGTH", "REFS", "AGE", "STATE" };
	tbl_init(&t, 9, lhead, "rrrlrrrrl");
	unsigned nleases = 0;
	for (size_t p = 0; p < jlen(procs); p++) {
		struct json_object *pr = json_object_array_get_idx(procs, p);
		struct json_object *ls = cli_jarr(pr, "leases");
		for (size_t l = 0; l < jlen(ls); l++) {
			struct json_object *le = json_object_array_get_idx(ls, l);
			char pid[16], tid[16], reg[16], refs[16];
			snprintf(pid, sizeof(pid), "%" PRId64, cli_ji64(pr, "pid"));
			snprintf(tid, sizeof(tid), "%" PRId64, cli_ji64(le, "tid"));
			snprintf(reg, sizeof(reg), "%" PRId64, cli_ji64(le, "region"));
			snprintf(refs, sizeof(refs), "%" PRId64, cli_ji64(le, "refs"));
			const char *row[] = { pid, tid, reg, cli_jstr(le, "type"),
				cli_offset(s1, sizeof(s1), cli_ju64(le, "offset")),
				cli_offset(s2, sizeof(s2), cli_ju64(le, "length")),
				refs, cli_age(s3, sizeof(s3), cli_ju64(le, "age_ms")),
				cli_jbool(le, "revoked") ? "revoked" : "live" };
			tbl_row(&t, row);
			nleases++;
		}
	}
	if (nleases == 0) {
		free(t.cells);
		fprintf(out, "\n  no leases\n");
		return;
	}
	/* the region column only says something when a process has several */
	if (!multi) {
		for (unsigned r = 0; r < t.nrows; r++)
			memmove(&t.cells[r][2], &t.cells[r][3],
				(size_t)(t.ncols - 3) * TBL_CELL);
		memmove(&t.right[2], &t.right[3], (size_t)(t.ncols - 3) * sizeof(bool));
		t.ncols--;
	}
	fputc('\n', out);
	tbl_print(out, &t, "  ");
}

void
cli_print_files(FILE *out, struct json_object *files)
{
	size_t n = jlen(files);
	if (n == 0) {
		char dir[4096];
		fprintf(out, "no lease state in %s\n",
			cli_runtime_dir(dir, sizeof(dir)) ? dir : "the runtime directory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			fputc('\n', out);
		print_file(out, json_object_array_get_idx(files, i));
	}
}
