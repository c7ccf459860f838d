/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pmemlease_intercept.h -- libpmemlease-intercept.so: other code's layout
 * changes through the lease-drain barrier.
 *
 * A program that links libpmemlease still runs code that changes its files'
 * layout without asking: its own older code, the libraries under it, an
 * administrator's truncate(1) or fallocate(1).  Each such call is the
 * truncate-versus-DMA race the library exists to close.  This library
 * defines the C library's
 *
 *   truncate, truncate64, ftruncate, ftruncate64,
 *   fallocate, fallocate64, posix_fallocate, posix_fallocate64
 *
 * and, for a file that has lease state in any process
 * (pml_file_has_state()), makes the call through the barrier of a region it
 * opens on the file: pml_region_ftruncate() for the truncates,
 * pml_region_fallocate() for fallocate (punch and zero-range over their
 * range, collapse and insert-range from the offset to the end, allocation
 * as the region's growth).  A file with no lease state costs one fstat(2)
 * (or stat(2)) and one stat(2) of its state file, and the call is passed
 * to the C library's own function.
 *
 * Use it either way:
 *   LD_PRELOAD=libpmemlease-intercept.so truncate -s 0 /mnt/pmem/file
 *   cc prog.c -lpmemlease-intercept -lpmemlease   (before -lc, as usual)
 *
 * The call's result is the real call's: 0, or -1 with errno (for
 * posix_fallocate: the error number).  A call the barrier refuses returns
 * -1 with errno ETIMEDOUT (leases not put in time) or EBUSY (a quarantine
 * in the way), and has changed nothing; a line on stderr says why.  A file
 * with lease state that cannot be opened as a region fails with that
 * error (EACCES, ...) rather than change the layout unguarded.
 *
 * Environment, read at the first call that meets lease state:
 *   PMEMLEASE_INTERCEPT_POLICY   wait (default: as the kernel waits for
 *                                its own pins), fail (give up after the
 *                                timeout: ETIMEDOUT) or revoke (revoke the
 *                                leases still held after the timeout and
 *                                quarantine their blocks, where the change
 *                                allows; see pml_region_fallocate())
 *   PMEMLEASE_INTERCEPT_TIMEOUT_MS  the timeout of fail and revoke
 *                                (default 10000)
 *   PMEMLEASE_INTERCEPT_VERBOSE=1   a line on stderr for each call it
 *                                sends through the barrier
 * A value it cannot read makes every call on a file with lease state fail
 * with EINVAL, and says so on stderr.
 *
 * What it cannot catch (and what to do instead):
 *   - statically linked programs and raw system calls (syscall(2), Go's
 *     runtime): they never reach these symbols -- call pml_region_truncate
 *     or pml_region_punch, or run them only on files without leases;
 *   - io_uring's IORING_OP_FALLOCATE and IORING_OP_FTRUNCATE, and
 *     fallocate issued by the kernel on a program's behalf (copy_file_range,
 *     reflinks): submit layout changes through the library instead;
 *   - calls made before the dynamic linker binds this library (constructors
 *     of libraries loaded earlier) and programs that strip LD_PRELOAD
 *     (setuid programs).
 *
 * The region it opens on a file stays open until the process exits:
 * closing it would close a descriptor of the file, and close(2) drops
 * every POSIX record lock (fcntl(2)) the process holds on the file, which
 * databases such as SQLite rely on.  In a child after fork(), a file's
 * first call opens a region of the child's own.
 */
#ifndef PMEMLEASE_INTERCEPT_H
#define PMEMLEASE_INTERCEPT_H 1

#ifdef __cplusplus
extern "C" {
#endif

/*
 * pml_intercept_calls -- how many calls this process's intercept has seen
 * (*seen), and how many of them went through the barrier (*barrier).
 * Either pointer may be NULL.  Returns 0.
 */
int pml_intercept_calls(unsigned long *seen, unsigned long *barrier);

#ifdef __cplusplus
}
#endif

#endif /* PMEMLEASE_INTERCEPT_H */
