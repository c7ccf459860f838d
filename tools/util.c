/* SPDX-License-Identifier: BSD-3-Clause */
/* util.c -- formatting shared by the pmemlease subcommands */

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

const char *
cli_size(char *buf, size_t bufsz, uint64_t bytes)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB",
					    "PiB", "EiB" };
	unsigned u = 0;
	uint64_t v = bytes;

	/* exact while it divides, so a 4096-byte alignment reads "4 KiB" */
	while (v >= 1024 && v % 1024 == 0 && u + 1 < sizeof(unit) / sizeof(*unit)) {
		v /= 1024;
		u++;
	}
	if (v < 10240 || u + 1 == sizeof(unit) / sizeof(*unit)) {
		snprintf(buf, bufsz, "%" PRIu64 " %s", v, unit[u]);
		return buf;
	}
	/* not a round number: one decimal in the largest unit that fits */
	double d = (double)bytes;
	u = 0;
	while (d >= 1024.0 && u + 1 < sizeof(unit) / sizeof(*unit)) {
		d /= 1024.0;
		u++;
	}
	snprintf(buf, bufsz, "%.1f %s", d, unit[u]);
	return buf;
}

const char *
cli_errname(int negerr)
{
	/*
	 * Only the codes the library documents; anything else is shown as a
	 * number, which is still unambiguous.
	 */
	switch (-negerr) {
	case 0: return "0";
	case EINVAL: return "-EINVAL";
	case EAGAIN: return "-EAGAIN";
	case EBUSY: return "-EBUSY";
	case ETIMEDOUT: return "-ETIMEDOUT";
	case ESTALE: return "-ESTALE";
	case ENOMEM: return "-ENOMEM";
	case ENOENT: return "-ENOENT";
	case EFBIG: return "-EFBIG";
	case ERANGE: return "-ERANGE";
	case EOPNOTSUPP: return "-EOPNOTSUPP";
	case ENODEV: return "-ENODEV";
	case EIO: return "-EIO";
	case EPERM: return "-EPERM";
	case EACCES: return "-EACCES";
	case ENOSPC: return "-ENOSPC";
	case EOVERFLOW: return "-EOVERFLOW";
	case EUCLEAN: return "-EUCLEAN";
	case ENAMETOOLONG: return "-ENAMETOOLONG";
	case ENOTDIR: return "-ENOTDIR";
	case ELOOP: return "-ELOOP";
	default: {
		static _Thread_local char buf[24];
		snprintf(buf, sizeof(buf), "%d", negerr);
		return buf;
	}
	}
}

const char *
cli_offset(char *buf, size_t bufsz, uint64_t bytes)
{
	if (bytes != 0 && bytes % 1024 == 0)
		return cli_size(buf, bufsz, bytes);
	snprintf(buf, bufsz, "%" PRIu64, bytes);
	return buf;
}

const char *
cli_age(char *buf, size_t bufsz, uint64_t ms)
{
	if (ms < 1000)
		snprintf(buf, bufsz, "%" PRIu64 " ms", ms);
	else if (ms < 60 * 1000)
		snprintf(buf, bufsz, "%.1f s", (double)ms / 1e3);
	else if (ms < 3600 * 1000)
		snprintf(buf, bufsz, "%.1f min", (double)ms / 60e3);
	else
		snprintf(buf, bufsz, "%.1f h", (double)ms / 3600e3);
	return buf;
}

const char *
cli_reason_name(enum pml_break_reason r)
{
	switch (r) {
	case PML_BREAK_LAYOUT: return "PML_BREAK_LAYOUT";
	case PML_BREAK_REVOKED: return "PML_BREAK_REVOKED";
	case PML_BREAK_REMOVE: return "PML_BREAK_REMOVE";
	case PML_BREAK_POISON: return "PML_BREAK_POISON";
	}
	return "unknown reason";
}

const char *
cli_libmsg(void)
{
	const char *m = pml_errormsg();
	return m && *m ? m : "(no message)";
}

int
cli_exit_for(int negerr)
{
	switch (-negerr) {
	case 0:
		return CLI_EXIT_OK;
	case EINVAL:
	case ERANGE:
	case EFBIG:
	case EOVERFLOW:
	case EOPNOTSUPP:
		return CLI_EXIT_USAGE;
	default:
		return CLI_EXIT_FAIL;
	}
}

int
cli_parse_size(const char *s, uint64_t *out, const char **why)
{
	const char *p = s;
	uint64_t v = 0;
	int base = 10;
	unsigned digits = 0;

	*why = "not a size";
	if (s == NULL || *s == '\0')
		return -1;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	/* strtoull would take "-1" and " 1"; digits only */
	for (; *p; p++, digits++) {
		unsigned d;
		if (isdigit((unsigned char)*p))
			d = (unsigned)(*p - '0');
		else if (base == 16 && isxdigit((unsigned char)*p))
			d = (unsigned)(tolower((unsigned char)*p) - 'a' + 10);
		else
			break;
		if (v > (UINT64_MAX - d) / (unsigned)base) {
			*why = "too large";
			return -1;
		}
		v = v * (unsigned)base + d;
	}
	if (digits == 0)
		return -1;

	unsigned shift = 0;
	switch (*p) {
	case '\0': break;
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	default:
		*why = "unknown suffix (use k, m, g or t)";
		return -1;
	}
	if (*p != '\0') {
		p++;
		if (strcmp(p, "") != 0 && strcmp(p, "iB") != 0 &&
		    strcmp(p, "B") != 0) {
			*why = "unknown suffix (use k, m, g or t)";
			return -1;
		}
	}
	if (shift != 0 && v > (UINT64_MAX >> shift)) {
		*why = "too large";
		return -1;
	}
	*out = v << shift;
	return 0;
}

int
cli_parse_ms(const char *s, uint32_t *out, const char **why)
{
	uint64_t v = 0;

	*why = "not a number of milliseconds";
	if (s == NULL || *s == '\0')
		return -1;
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX) {
			*why = "too large (at most 4294967295 ms)";
			return -1;
		}
	}
	*out = (uint32_t)v;
	return 0;
}

double
cli_mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int
cli_sleep_ms(unsigned ms, volatile const int *stop)
{
	/* in slices, so a signal handler's flag is seen within 20 ms */
	double end = cli_mono_ms() + ms;
	for (;;) {
		if (stop != NULL && *stop)
			return 1;
		double left = end - cli_mono_ms();
		if (left <= 0)
			return 0;
		if (left > 20)
			left = 20;
		struct timespec ts = { 0, (long)(left * 1e6) };
		nanosleep(&ts, NULL);
	}
}

const char *
cli_runtime_dir(char *buf, size_t bufsz)
{
	const char *env = getenv("PMEMLEASE_RUNTIME_DIR");
	int n;

	if (env != NULL && *env != '\0')
		n = snprintf(buf, bufsz, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(buf, bufsz, "/run/pmemlease");
	else if ((env = getenv("XDG_RUNTIME_DIR")) != NULL && *env != '\0')
		n = snprintf(buf, bufsz, "%s/pmemlease", env);
	else
		return NULL;
	return n >= 0 && (size_t)n < bufsz ? buf : NULL;
}

static const struct cli_cmd *
find_command(const struct cli_cmds *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->cmds[i].name, name) == 0)
			return &t->cmds[i];
	return NULL;
}

static int
unknown_command(const char *name)
{
	fprintf(stderr, "%s: unknown command '%s'; see '%s --help'\n",
		cli_prog, name, cli_prog);
	return CLI_EXIT_USAGE;
}

int
cli_main(const struct cli_cmds *t, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	opterr = 0;	/* our own messages name the program consistently */
	while ((opt = getopt_long(argc, argv, "+hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			t->usage(stdout);
			return CLI_EXIT_OK;
		case 'V':
			t->version();
			return CLI_EXIT_OK;
		default:
			fprintf(stderr, "%s: unknown option '%s'; see '%s --help'\n",
				cli_prog, argv[optind - 1], cli_prog);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		t->usage(stderr);
		return CLI_EXIT_USAGE;
	}

	char **sub_argv = argv + optind;
	int sub_argc = argc - optind;
	const struct cli_cmd *c;

	if (strcmp(sub_argv[0], "help") == 0) {	/* help [COMMAND] */
		if (sub_argc < 2) {
			t->usage(stdout);
			return CLI_EXIT_OK;
		}
		c = find_command(t, sub_argv[1]);
		if (c == NULL)
			return unknown_command(sub_argv[1]);
		c->usage(stdout);
		return CLI_EXIT_OK;
	}
	c = find_command(t, sub_argv[0]);
	if (c == NULL)
		return unknown_command(sub_argv[0]);
	/* getopt names argv[0] in its messages: "pmemlease demo: ..." */
	char name[64];
	snprintf(name, sizeof(name), "%s %s", cli_prog, c->name);
	sub_argv[0] = name;
	/* glibc re-initialises getopt for the new argv only when optind is 0 */
	optind = 0;
	opterr = 1;
	return c->run(sub_argc, sub_argv);
}

const struct pml_region_opts cli_open_opts = {
	.flags = PML_REGION_PARTIAL_TAIL,
};
