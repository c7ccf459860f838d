/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * err.c -- the thread-local error message.
 *
 * libpmem2's convention: a failing call leaves a human-readable message in
 * thread-local storage, so the errno a function returns can stay a plain
 * negative number while the caller can still say *what* was wrong.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libpmem2.h>

#include "pmemlease.h"
#include "err.h"

#define ERRMSG_MAX 512

static __thread char errmsg[ERRMSG_MAX];

const char *
pml_errormsg(void)
{
	return errmsg;
}

int
err_set(int errnum, const char *fmt, ...)
{
	int saved = errno;	/* a message must not clobber the caller's errno */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	errno = saved;
	return -errnum;
}

/*
 * libpmem2 returns -errno for system errors and its own PMEM2_E_* codes
 * otherwise; its pmem2_err_to_errno() is declared but not exported by the
 * 1.12 library, so the few codes we can meet are mapped here.
 */
static int
pmem2_errno(int ret)
{
	if (ret > -4096)
		return -ret;
	switch (ret) {
	case PMEM2_E_NOSUPP:
	case PMEM2_E_GRANULARITY_NOT_SUPPORTED:
	case PMEM2_E_SOURCE_TYPE_NOT_SUPPORTED:
		return EOPNOTSUPP;
	case PMEM2_E_MAPPING_EXISTS:
	case PMEM2_E_MAP_EXISTS:
		return EEXIST;
	case PMEM2_E_NO_ACCESS:
		return EACCES;
	case PMEM2_E_IO_FAIL:
	case PMEM2_E_UNKNOWN:
		return EIO;
	default:	/* ranges, alignments, file types: the caller's input */
		return EINVAL;
	}
}

int
err_pmem2(int pmem2_ret, const char *what)
{
	return err_set(pmem2_errno(pmem2_ret), "%s: %s", what,
			pmem2_errormsg());
}
