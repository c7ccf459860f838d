/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cli.h -- what the pmemlease command's pieces share.
 *
 * Each subcommand lives in its own file and is reached only through the
 * table in pmemlease.c, so adding one means one new file, one line in that
 * table and one line in CMakeLists.txt.
 */
#ifndef PMEMLEASE_CLI_H
#define PMEMLEASE_CLI_H 1

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <pmemlease.h>

struct json_object;

/*
 * Exit codes are part of the interface: scripts and CI tell "the library
 * broke a promise" or "the operation failed" (1) from "you called me wrong"
 * (2) from "this machine would not let me set up" (3).
 */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAIL = 1,
	CLI_EXIT_USAGE = 2,
	CLI_EXIT_SYSTEM = 3,
};

struct cli_cmd {
	const char *name;
	const char *summary;	/* one line for the command list; NULL: hidden */
	/* argv[0] is the subcommand's name; returns an enum cli_exit */
	int (*run)(int argc, char **argv);
	void (*usage)(FILE *out);
};

/* a program's commands, and what its -h and -V print */
struct cli_cmds {
	const struct cli_cmd *cmds;
	size_t n;
	void (*usage)(FILE *out);
	void (*version)(void);
};

/*
 * cli_main -- the top level both programs share: -h/--help, -V/--version,
 * `help [COMMAND]`, then COMMAND with getopt reset for its own options.
 * Returns the exit status (CLI_EXIT_USAGE for what it does not know).
 */
int cli_main(const struct cli_cmds *t, int argc, char **argv);

extern const char *cli_prog;	/* "pmemlease", for messages */
/* the tools open any file: one that ends inside a unit maps its whole units */
extern const struct pml_region_opts cli_open_opts;

/* subcommands */
int cmd_copy(int argc, char **argv);
void usage_copy(FILE *out);
int cmd_list(int argc, char **argv);
void usage_list(FILE *out);
int cmd_watch(int argc, char **argv);
void usage_watch(FILE *out);
int cmd_punch(int argc, char **argv);
void usage_punch(FILE *out);
int cmd_truncate(int argc, char **argv);
void usage_truncate(FILE *out);
int cmd_revoke(int argc, char **argv);
void usage_revoke(FILE *out);
int cmd_badblocks(int argc, char **argv);
void usage_badblocks(FILE *out);
int cmd_demo(int argc, char **argv);
void usage_demo(FILE *out);
/* hidden: a process that holds leases until told to stop (demo, tests) */
int cmd_hold(int argc, char **argv);
void usage_hold(FILE *out);

/* the exit-status paragraph every usage ends with */
void cli_print_exit_codes(FILE *out);

/* ---------------------------------------------------------- util.c */

/* "4 KiB", "16 GiB", "1.5 MiB", "100 B": exact units when they divide */
const char *cli_size(char *buf, size_t bufsz, uint64_t bytes);
/* an offset or length, never rounded: "16 KiB" when exact, else "28772" */
const char *cli_offset(char *buf, size_t bufsz, uint64_t bytes);
/* "350 ms", "1.2 s", "3.0 min", "2.0 h" */
const char *cli_age(char *buf, size_t bufsz, uint64_t ms);

/* "-ETIMEDOUT" for -110: the way the header documents return values */
const char *cli_errname(int negerr);
/* "PML_BREAK_LAYOUT" */
const char *cli_reason_name(enum pml_break_reason r);
/* the library's message for the calling thread's last error */
const char *cli_libmsg(void);
/*
 * The exit code for a layout change the library refused or failed: the
 * caller's bad argument (misaligned, past the end, too big, not supported
 * on this kind) is a usage error; anything else a failure.
 */
int cli_exit_for(int negerr);

/*
 * A size or offset: decimal, or hexadecimal with 0x, with an optional
 * binary suffix k/K, m/M, g/G, t/T (optionally followed by "iB" or "B").
 * Returns 0, or -1 with *why set to a short reason.
 */
int cli_parse_size(const char *s, uint64_t *out, const char **why);
/* milliseconds: a decimal number up to UINT32_MAX */
int cli_parse_ms(const char *s, uint32_t *out, const char **why);

/*
 * The runtime directory the library uses, by the header's rule:
 * $PMEMLEASE_RUNTIME_DIR, else /run/pmemlease for root, else
 * $XDG_RUNTIME_DIR/pmemlease.  NULL when there is none.
 */
const char *cli_runtime_dir(char *buf, size_t bufsz);

/* CLOCK_MONOTONIC in milliseconds: comparable between processes */
double cli_mono_ms(void);
/* sleep ms milliseconds; returns early (nonzero) if *stop becomes true */
int cli_sleep_ms(unsigned ms, volatile const int *stop);

/* ---------------------------------------------------------- snapview.c */

/*
 * The inspection API, as JSON in the style of daxctl/ndctl list: an array of
 * file objects; lower-case keys; sizes, offsets and times as numbers.
 *
 *   [ { "path", "major", "minor", "ino", "size", "quarantined",
 *       "barrier": { "offset", "length", "pid" }       (only while up)
 *       "state",
 *       "processes": [ { "pid", "command", "uid", "started", "answered",
 *           "regions": [ { "index", "path", "kind", "size", "device",
 *                          "cxl" (on CXL memory: cli_cxl_json) } ],
 *           "leases": [ { "region", "offset", "length", "type", "refs",
 *                         "revoked", "age_ms", "tid" } ] } ] } ]
 */
struct json_object *cli_snapshot_to_json(const struct pml_snapshot *snap);
/* take, convert, free; a negative errno on failure (message in libmsg) */
int cli_snapshot_json(struct json_object **out, const char *path, pid_t pid,
		uint32_t timeout_ms);
/* the human tables of `pmemlease list`, sizes in KiB/MiB/GiB */
void cli_print_files(FILE *out, struct json_object *files);
/* daxctl's JSON layout: pretty, no escaped slashes */
void cli_print_json(FILE *out, struct json_object *obj, bool pretty);

/*
 * The CXL memory under a path (pml_device_cxl_info), or NULL when it is on
 * none: { "region", "root_decoder", "nd_region", "resource", "size",
 * "interleave_ways", "interleave_granularity", "memdevs": [ { "memdev",
 * "position", "decoder", "host", "host_bridge", "serial" } ] }.
 */
struct json_object *cli_cxl_json(const char *path);
/* that object in one line: "CXL region0 x1 (mem0@pci0000:0c)" */
char *cli_cxl_summary(char *buf, size_t len, struct json_object *cxl);

/* read a member; 0, "" or false when missing */
uint64_t cli_ju64(struct json_object *o, const char *key);
int64_t cli_ji64(struct json_object *o, const char *key);
const char *cli_jstr(struct json_object *o, const char *key);
bool cli_jbool(struct json_object *o, const char *key);
struct json_object *cli_jarr(struct json_object *o, const char *key);

/* ---------------------------------------------------------- waiters.c */

/*
 * While a punch, truncate or break waits: a thread that takes a snapshot of
 * the file every interval and prints the holders whose leases overlap
 * [offset, offset + length), whenever that set changes.  Remembers, per
 * process, the leases it saw and when they were last seen, for a report.
 */
struct cli_waiters;

struct cli_waiters *cli_waiters_start(const char *path, uint64_t offset,
		uint64_t length, unsigned interval_ms, FILE *out);
/* stop the thread; the record stays until cli_waiters_free */
void cli_waiters_stop(struct cli_waiters *w);
void cli_waiters_free(struct cli_waiters *w);

struct cli_waiter_proc {
	pid_t pid;
	char comm[16];
	unsigned leases;	/* most overlapping leases seen at once */
	/* "holding": live leases, or revoked ones not yet put */
	double first_ms;	/* first seen holding some (cli_mono_ms) */
	unsigned first_revoked;	/* of those, revoked already then */
	double last_ms;		/* last seen holding some */
	double gone_ms;		/* first seen holding none again (0: never) */
	/* at the last poll */
	bool present;		/* it still has the file open */
	unsigned now_live;	/* leases over the range, live */
	unsigned now_revoked;	/* and revoked, not yet put */
};
unsigned cli_waiters_nprocs(const struct cli_waiters *w);
const struct cli_waiter_proc *cli_waiters_proc(const struct cli_waiters *w,
		unsigned i);
/* poll now, in the calling thread (printing changes, as the thread does) */
void cli_waiters_poll(struct cli_waiters *w);
/* print nothing from now on */
void cli_waiters_mute(struct cli_waiters *w);
/* when it started (cli_mono_ms) */
double cli_waiters_t0(const struct cli_waiters *w);

#endif /* PMEMLEASE_CLI_H */
