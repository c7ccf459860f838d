/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * consumer.h -- what the programs built against the installed packages
 * share: CHECK (in main), which says what failed and why and makes main() return 1,
 * and a holder's on_break that lets go when a barrier asks.
 * Define CONSUMER_ERRMSG before including it to name where the reason is.
 */
#ifndef CONSUMER_H
#define CONSUMER_H

#include <errno.h>
#include <stdio.h>
#include <pmemlease.h>

#ifndef CONSUMER_ERRMSG
#define CONSUMER_ERRMSG pml_errormsg()
#endif

#define CHECK(cond, ...) do { if (!(cond)) { \
	fprintf(stderr, "%s: ", argv[0]); \
	fprintf(stderr, __VA_ARGS__); \
	fprintf(stderr, ": %s\n", CONSUMER_ERRMSG); return 1; } } while (0)

/* how many times a barrier asked for a lease back */
static int breaks;

static inline void put_on_break(struct pml_lease *lease,
		enum pml_break_reason reason, void *arg)
{
	(void)arg;
	if (reason == PML_BREAK_LAYOUT) {
		breaks++;
		pml_lease_put(lease);
	}
}

#endif
