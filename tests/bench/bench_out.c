/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_out.c -- statistics, the markdown table, the CSV and plot data.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

struct bench_out bo;

uint64_t
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

uint64_t
thread_cpu_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static int
dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* p in [0, 1]; sorts v */
double
pct(double *v, unsigned n, double p)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), dcmp);

	unsigned i = (unsigned)(p * (n - 1) + 0.5);

	return v[i < n ? i : n - 1];
}

struct stat3
stat_of(double *v, unsigned n)
{
	struct stat3 s = { 0, 0, 0 };

	if (!n)
		return s;
	s.med = pct(v, n, 0.5);
	s.lo = v[0];
	s.hi = v[n - 1];
	return s;
}

void
note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

struct row *
row_add(const char *section, const char *what, const char *param,
		const char *unit, struct stat3 v, const char *base_name,
		struct stat3 b)
{
	if (bo.nrows == BENCH_MAX_ROWS)
		return &bo.rows[BENCH_MAX_ROWS - 1];

	struct row *r = &bo.rows[bo.nrows++];

	memset(r, 0, sizeof(*r));
	snprintf(r->section, sizeof(r->section), "%s", section);
	snprintf(r->what, sizeof(r->what), "%s", what);
	snprintf(r->param, sizeof(r->param), "%s", param ? param : "");
	snprintf(r->unit, sizeof(r->unit), "%s", unit);
	snprintf(r->base_name, sizeof(r->base_name), "%s",
			base_name ? base_name : "");
	r->v = v;
	r->b = b;
	r->met = -1;
	return r;
}

void
row_target(struct row *r, const char *target, int met)
{
	snprintf(r->target, sizeof(r->target), "%s", target);
	r->met = met;
}

void
row_paired(struct row *r, double ratio)
{
	r->paired = ratio;
}

static void
both(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (bo.md) {
		va_start(ap, fmt);
		vfprintf(bo.md, fmt, ap);
		va_end(ap);
	}
}

void
section_title(const char *title)
{
	both("\n### %s\n\n", title);
}

static void
fmt_num(char *buf, size_t len, double x)
{
	if (x == 0)
		snprintf(buf, len, "0");
	else if (fabs(x) >= 100)
		snprintf(buf, len, "%.0f", x);
	else if (fabs(x) >= 10)
		snprintf(buf, len, "%.1f", x);
	else
		snprintf(buf, len, "%.2f", x);
}

/* the rows of one section, as a markdown table */
static void
print_section(const char *section)
{
	int any = 0;

	for (unsigned i = 0; i < bo.nrows; i++) {
		struct row *r = &bo.rows[i];
		char m[16], lo[16], hi[16], bm[16], ratio[24] = "";

		if (strcmp(r->section, section))
			continue;
		if (!any) {
			both("| what | param | median | spread (min-max) | unit "
				"| baseline | baseline median | ratio | target "
				"| met |\n|---|---|---|---|---|---|---|---|---|---|\n");
			any = 1;
		}
		if (!r->unit[0]) {	/* a verdict on growth */
			both("| *growth, %s* | %s | | | | | | | | |\n",
				r->param, r->what);
			continue;
		}
		fmt_num(m, sizeof(m), r->v.med);
		fmt_num(lo, sizeof(lo), r->v.lo);
		fmt_num(hi, sizeof(hi), r->v.hi);
		fmt_num(bm, sizeof(bm), r->b.med);
		if (r->paired > 0)
			snprintf(ratio, sizeof(ratio), "%.2fx paired",
					r->paired);
		else if (r->b.med > 0)
			snprintf(ratio, sizeof(ratio), r->v.med < 0.1 *
					r->b.med ? "%.4fx" : "%.2fx",
					r->v.med / r->b.med);
		both("| %s | %s | %s | %s-%s | %s | %s | %s | %s | %s | %s |\n",
			r->what, r->param, m, lo, hi, r->unit,
			r->b.med > 0 ? r->base_name : "", r->b.med > 0 ? bm : "",
			ratio, r->target,
			r->met < 0 ? "" : r->met ? "met" : "**not met**");
	}
}

void
rows_print(void)
{
	char seen[BENCH_MAX_ROWS][24];
	unsigned ns = 0;

	for (unsigned i = 0; i < bo.nrows; i++) {
		unsigned j;

		for (j = 0; j < ns; j++)
			if (!strcmp(seen[j], bo.rows[i].section))
				break;
		if (j < ns)
			continue;
		memcpy(seen[ns++], bo.rows[i].section, 24);
		section_title(bo.rows[i].section);
		print_section(bo.rows[i].section);
	}
	fflush(stdout);
}

FILE *
dat_open(const char *name, const char *header)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", bo.dir, name);
	f = fopen(path, "w");
	if (f && header)
		fprintf(f, "%s\n", header);
	return f;
}

int
rows_csv(void)
{
	FILE *f = dat_open("results.csv", "section,what,param,unit,median,"
			"min,max,baseline,baseline_median,baseline_min,"
			"baseline_max,ratio,target,met");

	if (!f)
		return -1;
	for (unsigned i = 0; i < bo.nrows; i++) {
		struct row *r = &bo.rows[i];

		fprintf(f, "%s,\"%s\",%s,%s,%.3f,%.3f,%.3f,\"%s\",%.3f,%.3f,"
			"%.3f,%.4f,\"%s\",%s\n", r->section, r->what, r->param,
			r->unit, r->v.med, r->v.lo, r->v.hi, r->base_name,
			r->b.med, r->b.lo, r->b.hi,
			r->paired > 0 ? r->paired : r->b.med > 0 ?
				r->v.med / r->b.med : 0, r->target,
			r->met < 0 ? "" : r->met ? "met" : "not met");
	}
	fclose(f);
	return 0;
}

/*
 * Growth from the first to the last point.  Under +30% (medians of a noisy
 * machine) is O(1).  More is O(n) when the increments keep pace with n,
 * printed with what one more costs; otherwise it is said to be sublinear,
 * with the exponent the last two points give.
 */
const char *
growth_of(const double *x, const double *y, unsigned n, const char *nname,
		char *buf, size_t len)
{
	double base = y[0] > 0 ? y[0] : 1e-9;
	double f = y[n - 1] / base;
	double per = (y[n - 1] - y[0]) / (x[n - 1] - x[0]);

	if (f < 1.3) {
		snprintf(buf, len, "O(1): x%.2f from %g to %g %s", f, x[0],
				x[n - 1], nname);
		return buf;
	}
	/*
	 * Linear growth keeps the increment over the first point in step
	 * with n: compare the last two increments with their n's.  Cache
	 * and TLB misses grow too, but flatten as n grows: k well under 1.
	 */
	double d1 = y[n - 2] - y[0], d2 = y[n - 1] - y[0];
	double x1 = x[n - 2] - x[0], x2 = x[n - 1] - x[0];
	double k = d1 > 0 && x1 > 0 ? log(d2 / d1) / log(x2 / x1) : 1;

	if (k >= 0.7)
		snprintf(buf, len, "O(%s): x%.2f from %g to %g, %.3g per one",
				nname, f, x[0], x[n - 1], per);
	else
		snprintf(buf, len, "sublinear, not O(%s): x%.2f from %g to "
				"%g; the last %gx more %s add only %.2gx more "
				"(n^%.2f)", nname, f, x[0], x[n - 1], x2 / x1,
				nname, d2 / d1, k);
	return buf;
}
