/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mpproto.h -- what the multi-process tests and their helper program
 * (holder.c) agree on.
 *
 * The helper reads one command per line on stdin and writes on stdout:
 *   "= RC REST"   the reply to the command just read (RC: 0 or -errno, or
 *                 a value for queries), exactly one per command;
 *   "! EVENT ..." something that happened on its own: an on_break in any
 *                 thread, an asynchronous call finishing.
 * Every line is written with one write(2) of less than PIPE_BUF bytes, so
 * lines of different threads never interleave.
 *
 * Commands (offsets and lengths in bytes, decimal):
 *   open PATH MAXSIZE             pml_region_open
 *   close                         pml_region_close
 *   acq ID OFF LEN FLAGS MODE     pml_lease_acquire into lease slot ID;
 *                                 FLAGS: PML_LEASE_* as a number; MODE of
 *                                 its on_break: keep (report only), put
 *                                 (report, then put from the callback),
 *                                 block (report, then never return),
 *                                 none (no ops at all)
 *   aacq TAG ID OFF LEN FLAGS MODE  the same in a new thread; event
 *                                 "done TAG RC NS FIRST_NONZERO"
 *   put ID | get ID | revoked ID  pml_lease_put / _get / _revoked
 *   write ID SEED | check ID SEED | zero ID   the pattern / zeroes through
 *                                 the lease's address (first bad offset or
 *                                 -1 after the RC)
 *   punch OFF LEN TMO POL         pml_region_punch (POL: fail | revoke)
 *   trunc SIZE TMO POL            pml_region_truncate
 *   apunch TAG OFF LEN TMO POL | atrunc TAG SIZE TMO POL
 *                                 the same in a new thread; event
 *                                 "done TAG RC NS"
 *   size | quar                   pml_region_size / pml_region_quarantined
 *   pid                           getpid()
 *   churn TAG SECONDS SEED MAXSZ  grow, shrink and punch the region while
 *                                 two threads lease, write and check the
 *                                 pattern MP_CHURN_SEED; event "done TAG RC
 *                                 stats | message"
 *   fastloop N OFF LEN FLAGS      N acquire+put pairs after a warm-up; RC,
 *                                 then the syscalls the looping thread made
 *                                 in them (perf_event_open on the
 *                                 raw_syscalls:sys_enter tracepoint, -1 if
 *                                 unavailable), then ns per pair, then
 *                                 what the counter says of 10 getppid()
 *   exit                          close the region and exit: 0 if clean
 *
 * Events:
 *   break ID REASON PID TID NS THREADNAME   an on_break ran
 */
#ifndef MPPROTO_H
#define MPPROTO_H 1

#include <stdint.h>

/* the pattern every process writes: byte off is mp_pattern(seed, off) */
static inline uint8_t
mp_pattern(unsigned seed, uint64_t off)
{
	uint64_t x = (off + 1) * 0x9E3779B97F4A7C15ULL +
		seed * 0xBF58476D1CE4E5B9ULL;

	x ^= x >> 29;

	uint8_t b = (uint8_t)(x ^ (x >> 17));

	return b ? b : 0x5a;	/* never 0: "reads zero" cannot pass by luck */
}

#define MP_CHURN_SEED 77
#define MP_LINE_MAX 1024	/* < PIPE_BUF: one write per line is atomic */

#endif
