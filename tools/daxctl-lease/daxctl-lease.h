/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * daxctl-lease.h -- what the pieces of the daxctl-lease command share.
 *
 * daxctl-lease is daxctl's companion for devices that pmemlease holders
 * have mapped: the same view of regions and devices, joined with the
 * leases on them, and daxctl's disable/reconfigure/destroy preceded by the
 * library's pre-removal protocol.  It reuses the pmemlease command's JSON
 * view of a snapshot (../snapview.c) and formatting (../util.c), so both
 * commands describe lease state alike.
 */
#ifndef DAXCTL_LEASE_H
#define DAXCTL_LEASE_H 1

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "../cli.h"

/*
 * Exit codes, part of the interface: a script that disables a device must
 * tell "a holder would not let go" from "no such device" from "not root"
 * without parsing messages.  0-3 mean what they mean for pmemlease.
 */
enum dl_exit {
	DL_EXIT_OK = 0,
	DL_EXIT_FAIL = 1,	/* libdaxctl/libndctl refused the operation */
	DL_EXIT_USAGE = 2,
	DL_EXIT_SYSTEM = 3,	/* no libdaxctl/libndctl context, no memory */
	DL_EXIT_NODEV = 4,	/* no such device, namespace, region, memdev */
	DL_EXIT_PERM = 5,	/* not allowed (needs root) */
	DL_EXIT_BUSY = 6,	/* holders did not let go in time (no --force) */
};

#define DL_DEFAULT_TIMEOUT_MS 10000	/* the library's own default */
#define DL_ANSWER_MS 500		/* how long holders get to answer a snapshot */

void dl_print_exit_codes(FILE *out);

/* subcommands: argv[0] is "daxctl-lease NAME"; return an enum dl_exit */
int dl_cmd_list(int argc, char **argv);
void dl_usage_list(FILE *out);
int dl_cmd_disable_device(int argc, char **argv);
void dl_usage_disable_device(FILE *out);
int dl_cmd_reconfigure_device(int argc, char **argv);
void dl_usage_reconfigure_device(FILE *out);
int dl_cmd_destroy_device(int argc, char **argv);
void dl_usage_destroy_device(FILE *out);
int dl_cmd_disable_namespace(int argc, char **argv);
void dl_usage_disable_namespace(FILE *out);
int dl_cmd_notify_removed(int argc, char **argv);
int dl_cmd_disable_region(int argc, char **argv);
void dl_usage_disable_region(FILE *out);
int dl_cmd_disable_memdev(int argc, char **argv);
void dl_usage_disable_memdev(FILE *out);
void dl_usage_notify_removed(FILE *out);

/* ------------------------------------------------------------ removal.c */

/* the options every removing subcommand takes */
struct dl_removal {
	uint32_t timeout_ms;
	bool force;
};

/*
 * Parse --timeout / --force (and the caller's extra options through
 * extra(), which returns an exit code, or -1 to go on).  On return,
 * argv[*optind_out] is the first operand.  Returns an exit code, or -1.
 */
int dl_parse_removal(int argc, char **argv, const char *cmd,
		void (*usage)(FILE *), struct dl_removal *rm,
		const struct option *extra_opts, const char *extra_short,
		int (*extra)(int opt, const char *arg, void *ctx), void *ctx);

/*
 * Run the pre-removal protocol for the devices devs[0..n) (a dax device's
 * st_rdev, or a block device and its partitions): every holder is told,
 * drains, flushes and revokes.  what names the device in messages.
 * Returns -1 when the removal may go on (every holder let go, or --force
 * said to go on anyway), or the exit code to stop with.
 */
int dl_prepare_removal(const char *cmd, const char *what, const dev_t *devs,
		unsigned n, const struct dl_removal *rm, unsigned flags);

/* "MAJOR:MINOR" to a dev_t; -1 if it is not one */
int dl_parse_devt(const char *s, dev_t *out);

/*
 * Check, before any holder is disturbed, that the sysfs file the
 * operation will write can be written: telling holders to revoke and then
 * failing with EACCES would take their memory away for nothing.
 * Returns -1 to go on, or DL_EXIT_PERM (message printed).
 */
int dl_check_writable(const char *cmd, const char *sysfs_file);

/* the exit code for a negative errno from libdaxctl or libndctl */
int dl_exit_for_errno(int negerr);

/* --------------------------------------------------------------- list.c */

struct daxctl_dev;
struct json_object;

/*
 * A dax device as `daxctl list` shows it ("chardev", "size", "target_node",
 * "align", "mode", "state" when disabled), plus "major", "minor" and
 * "enabled".  human: sizes as strings, as daxctl's --human does.
 */
struct json_object *dl_dev_json(struct daxctl_dev *dev, bool human);

/* ---------------------------------------------------------- namespace.c */

struct ndctl_namespace;
/*
 * Every device a holder may have keyed its state by on a namespace: the
 * block device and its partitions, or, in devdax mode, its enabled dax
 * devices.  Returns how many it stored (at most max).
 */
unsigned dl_ns_devts(struct ndctl_namespace *ndns, dev_t *devs, unsigned max);

/*
 * The block devices of an fsdax (or sector, or raw) namespace: the disk
 * and its partitions, as dev_t, from sysfs.  Returns how many (at most
 * max), 0 when the namespace has no block device now.
 */
unsigned dl_blockdev_devts(const char *bdev, dev_t *devs, unsigned max);

#define DL_MAX_DEVS 16

/* a namespace as list shows it */
struct dl_ns {
	char name[64];		/* "namespace0.0" */
	const char *mode;	/* "fsdax", "sector", "raw", "devdax", "unknown" */
	char bdev[64];		/* "pmem0", or "" when it has none */
	unsigned region;	/* the nd region's id */
	uint64_t size;		/* usable bytes */
	uint64_t align;		/* 0 when it has none */
	int numa_node;		/* -1: none */
	bool enabled;
	dev_t devs[DL_MAX_DEVS];	/* the disk and its partitions */
	unsigned ndevs;
};

/*
 * The nd namespaces in fsdax mode, from libndctl: *out is malloc'ed (free
 * it).  Returns how many, or a negative errno (no libndctl context).
 */
int dl_fsdax_namespaces(struct dl_ns **out);

#endif /* DAXCTL_LEASE_H */
