/* SPDX-License-Identifier: BSD-3-Clause */
/* util.c -- formatting shared by the pmemlease subcommands */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

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
	default: {
		static _Thread_local char buf[24];
		snprintf(buf, sizeof(buf), "%d", negerr);
		return buf;
	}
	}
}
