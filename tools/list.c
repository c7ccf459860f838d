/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * list.c -- `pmemlease list` and `pmemlease watch`: who holds leases on
 * what, from the library's inspection API (pml_snapshot_take).
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"

#define DEFAULT_ANSWER_MS 500	/* how long holders' agents get to answer */

/* what list and watch share: the filter and the snapshot */
struct filter {
	const char *path;
	pid_t pid;
	uint32_t answer_ms;
};

static int
parse_pid(const char *s, pid_t *pid)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v <= 0 || v > INT32_MAX)
		return -1;
	*pid = (pid_t)v;
	return 0;
}

/* checks that can be made before asking the library: an exit code or -1 */
static int
filter_check(const char *cmd, const struct filter *f)
{
	char dir[4096];
	struct stat st;

	if (f->path != NULL && stat(f->path, &st) != 0) {
		fprintf(stderr, "%s %s: %s: %s\n", cli_prog, cmd, f->path,
			strerror(errno));
		return CLI_EXIT_SYSTEM;
	}
	if (cli_runtime_dir(dir, sizeof(dir)) == NULL) {
		fprintf(stderr, "%s %s: no runtime directory for lease state: set "
			"PMEMLEASE_RUNTIME_DIR or XDG_RUNTIME_DIR\n", cli_prog, cmd);
		return CLI_EXIT_SYSTEM;
	}
	return -1;
}

/*
 * One snapshot as JSON.  A runtime directory that does not exist yet means
 * no process has opened anything: an empty list, not an error.
 */
static int
take(const char *cmd, const struct filter *f, struct json_object **files)
{
	char dir[4096];
	struct stat st;

	if (cli_runtime_dir(dir, sizeof(dir)) != NULL && stat(dir, &st) != 0 &&
	    errno == ENOENT) {
		*files = json_object_new_array();
		return CLI_EXIT_OK;
	}
	int rc = cli_snapshot_json(files, f->path, f->pid, f->answer_ms);
	if (rc < 0) {
		fprintf(stderr, "%s %s: cannot read the lease state: %s: %s\n",
			cli_prog, cmd, cli_errname(rc), cli_libmsg());
		return rc == -ENOMEM ? CLI_EXIT_SYSTEM : CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ list */

void
usage_list(FILE *out)
{
	fprintf(out,
		"Usage: %s list [--json] [--pid PID] [--wait MS] [PATH]\n"
		"\n"
		"Show the files that have lease state in the runtime directory, the\n"
		"processes that have them open through the library, their regions and\n"
		"their leases.  PATH limits the list to one file or device (by device\n"
		"and inode, whatever path it was opened by); --pid to one process.\n"
		"\n"
		"Per file: its path (as a holder opened it), device and inode, size,\n"
		"bytes in quarantine, and the barrier while a punch, truncate or revoke\n"
		"waits.  Per process: pid, command, uid, and each region (kind, size,\n"
		"pmem device, path).  Per lease: holder thread, pin or ref, offset,\n"
		"length, references, age, and whether it was revoked.\n"
		"\n"
		"Options:\n"
		"  -j, --json      print JSON (as daxctl list does: an array of objects,\n"
		"                  sizes and offsets in bytes, ages in ms)\n"
		"  -p, --pid PID   only that process\n"
		"  -w, --wait MS   how long holders get to answer (default %d)\n"
		"  -h, --help      show this help\n"
		"\n"
		"The runtime directory is $PMEMLEASE_RUNTIME_DIR, else /run/pmemlease for\n"
		"root, else $XDG_RUNTIME_DIR/pmemlease.\n"
		"\n", cli_prog, DEFAULT_ANSWER_MS);
	cli_print_exit_codes(out);
}

/* the options list and watch share; returns an exit code, or -1 to go on */
static int
parse_common(int opt, const char *cmd, struct filter *f, bool *json)
{
	const char *why;

	switch (opt) {
	case 'j':
		*json = true;
		return -1;
	case 'p':
		if (parse_pid(optarg, &f->pid) != 0) {
			fprintf(stderr, "%s %s: --pid '%s': not a process id\n",
				cli_prog, cmd, optarg);
			return CLI_EXIT_USAGE;
		}
		return -1;
	case 'w':
		if (cli_parse_ms(optarg, &f->answer_ms, &why) != 0) {
			fprintf(stderr, "%s %s: --wait '%s': %s\n", cli_prog, cmd,
				optarg, why);
			return CLI_EXIT_USAGE;
		}
		return -1;
	default:
		fprintf(stderr, "Try '%s %s --help'.\n", cli_prog, cmd);
		return CLI_EXIT_USAGE;
	}
}

int
cmd_list(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pid", required_argument, NULL, 'p' },
		{ "wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct filter f = { .answer_ms = DEFAULT_ANSWER_MS };
	bool json = false;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "jp:w:h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			usage_list(stdout);
			return CLI_EXIT_OK;
		}
		if ((rc = parse_common(opt, "list", &f, &json)) >= 0)
			return rc;
	}
	if (optind < argc)
		f.path = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "%s list: unexpected argument '%s'\n", cli_prog,
			argv[optind]);
		return CLI_EXIT_USAGE;
	}
	if ((rc = filter_check("list", &f)) >= 0)
		return rc;

	struct json_object *files = NULL;
	if ((rc = take("list", &f, &files)) != CLI_EXIT_OK)
		return rc;
	if (json)
		cli_print_json(stdout, files, true);
	else
		cli_print_files(stdout, files);
	json_object_put(files);
	return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* ----------------------------------------------------------------- watch */

#define DEFAULT_INTERVAL_MS 1000

static volatile int watch_stop;

static void
on_stop(int sig)
{
	(void)sig;
	watch_stop = 1;
}

void
usage_watch(FILE *out)
{
	fprintf(out,
		"Usage: %s watch [--interval MS] [--count N] [--json] [--pid PID] [PATH]\n"
		"\n"
		"What `%s list` shows, refreshed every interval until interrupted\n"
		"(Ctrl-C).  On a terminal the view is redrawn in place; otherwise each\n"
		"refresh is printed after a separator line starting with \"---\", or,\n"
		"with --json, as one JSON array per line.\n"
		"\n"
		"Options:\n"
		"  -i, --interval MS  time between refreshes (default %d)\n"
		"  -n, --count N      stop after N refreshes (default: never)\n"
		"  -j, --json         one compact JSON array per refresh and line\n"
		"  -p, --pid PID      only that process\n"
		"  -w, --wait MS      how long holders get to answer (default %d)\n"
		"  -h, --help         show this help\n"
		"\n", cli_prog, cli_prog, DEFAULT_INTERVAL_MS, DEFAULT_ANSWER_MS);
	cli_print_exit_codes(out);
}

int
cmd_watch(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "pid", required_argument, NULL, 'p' },
		{ "wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct filter f = { .answer_ms = DEFAULT_ANSWER_MS };
	uint32_t interval = DEFAULT_INTERVAL_MS, count = 0;
	bool json = false;
	const char *why;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "i:n:jp:w:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage_watch(stdout);
			return CLI_EXIT_OK;
		case 'i':
			if (cli_parse_ms(optarg, &interval, &why) != 0 || interval == 0) {
				fprintf(stderr, "%s watch: --interval '%s': %s\n",
					cli_prog, optarg, interval == 0 ?
					"must be at least 1 ms" : why);
				return CLI_EXIT_USAGE;
			}
			break;
		case 'n':
			if (cli_parse_ms(optarg, &count, &why) != 0 || count == 0) {
				fprintf(stderr, "%s watch: --count '%s': not a positive "
					"number\n", cli_prog, optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		default:
			if ((rc = parse_common(opt, "watch", &f, &json)) >= 0)
				return rc;
		}
	}
	if (optind < argc)
		f.path = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "%s watch: unexpected argument '%s'\n", cli_prog,
			argv[optind]);
		return CLI_EXIT_USAGE;
	}
	if ((rc = filter_check("watch", &f)) >= 0)
		return rc;

	struct sigaction sa = { .sa_handler = on_stop };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	bool tty = isatty(STDOUT_FILENO) && !json;
	char title[256];
	snprintf(title, sizeof(title), "%s watch%s%s, every %.1f s", cli_prog,
		 f.path ? " " : "", f.path ? f.path : "", interval / 1000.0);

	rc = CLI_EXIT_OK;
	for (uint32_t n = 1; !watch_stop; n++) {
		struct json_object *files = NULL;
		int trc = take("watch", &f, &files);
		if (trc != CLI_EXIT_OK) {
			rc = trc;
			break;
		}
		char when[32];
		time_t now = time(NULL);
		struct tm tm;
		strftime(when, sizeof(when), "%H:%M:%S", localtime_r(&now, &tm));
		if (json) {
			cli_print_json(stdout, files, false);
		} else if (tty) {
			/* home, clear: redrawn in place */
			printf("\033[H\033[2J%s    %s    (Ctrl-C to stop)\n\n", title,
			       when);
			cli_print_files(stdout, files);
		} else {
			printf("--- %s: refresh %u at %s\n", title, n, when);
			cli_print_files(stdout, files);
		}
		json_object_put(files);
		if (fflush(stdout) != 0) {
			rc = CLI_EXIT_FAIL;	/* the reader went away */
			break;
		}
		if (count != 0 && n >= count)
			break;
		cli_sleep_ms(interval, &watch_stop);
	}
	return rc;
}
