/* SPDX-License-Identifier: BSD-3-Clause */
/* err.h -- the thread-local message behind every negative errno */
#ifndef PML_ERR_H
#define PML_ERR_H 1

#include <errno.h>

/*
 * err_set -- record a message for the calling thread and return -errnum,
 * so a failure path reads: return err_set(EINVAL, "offset %lu ...", off);
 */
int err_set(int errnum, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), cold));

/* err_pmem2 -- translate a libpmem2 error and keep its message */
int err_pmem2(int pmem2_ret, const char *what);

#endif
