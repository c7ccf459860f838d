/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pmemlease_sqlite.h -- libpmemlease_sqlite.so: SQLite databases in a
 * pmemlease region.
 *
 * The VFS "pmemlease" keeps every main database file in a region (one per
 * file per process, shared by its connections) and reads and writes it
 * through the mapping: on fsdax and devdax the page cache is bypassed, and
 * durability comes from the library's persistence helpers (cache-line
 * flushes on DAX, msync on a plain file) at xSync.  Everything else --
 * locking (POSIX record locks, so processes using the pmemlease VFS and
 * processes using SQLite's own unix VFS share a database safely), the
 * WAL-index, journals, WAL files, temporary files -- is SQLite's own unix
 * VFS, which this VFS wraps.
 *
 * How the database meets the library:
 *   - every xRead and xWrite holds a REF lease over its bytes while it
 *     copies, so a truncate in another process waits for it instead of
 *     pulling the pages out from under the copy;
 *   - xFetch (SQLite's memory-mapped I/O, PRAGMA mmap_size) hands out
 *     pointers into the mapping held by a REF lease over the mapped part
 *     of the file, taken at the connection's first fetch and put at the
 *     xUnfetch of its last: a page SQLite reads in place is never
 *     truncated away under it (and a layout change of the file waits for
 *     the connection's read to end).  With a barrier up, nothing is
 *     fetched (SQLite falls back to xRead);
 *   - xTruncate goes through the lease-drain barrier (pml_region_truncate):
 *     it waits for the leases over the cut part -- SQLite's own fetches in
 *     other processes, and any DMA a program has pinned there (pmemlease
 *     copy) -- for PMEMLEASE_SQLITE_TIMEOUT_MS (default: as long as it
 *     takes; then SQLITE_BUSY).  A truncate over pages this connection
 *     still has fetched is postponed to their xUnfetch;
 *   - the file keeps SQLite's exact size, as under the unix VFS (SQLite
 *     reads page counts off it).  The region is the file's whole units of
 *     the alignment (4 KiB on files); what a database appends past them
 *     goes through the unix VFS until the region takes it in, every
 *     PMEMLEASE_SQLITE_GROW bytes (default 1 MiB) and at xSync.
 * devdax is refused (SQLITE_CANTOPEN): a database needs a file size, and a
 * device has none of its own.  A file the library cannot map for writing
 * (a directory, a file this process may only read) is served by the unix
 * VFS alone, with a SQLITE_WARNING in the error log.
 *
 * From the sqlite3 shell:
 *   .load libpmemlease_sqlite
 *   .open file:/mnt/pmem/db.sqlite?vfs=pmemlease
 * (or `.open --vfs pmemlease FILE` where the shell has it; Debian's 3.40
 * does not)
 * or with PMEMLEASE_SQLITE_DEFAULT=1 in the environment, every database
 * opened after the .load uses it.  From C: link -lpmemlease_sqlite
 * -lsqlite3 and call pml_sqlite_register(), then sqlite3_open_v2(...,
 * "pmemlease").
 *
 * The extension calls the SQLite it is linked to (the system's
 * libsqlite3.so.0), so it can only be loaded into programs that use that
 * one; sqlite3_pmemlease_init refuses any other.  Programs with SQLite
 * compiled in (SQLite's testfixture) compile lib/sqlite/vfs.c in instead.
 *
 * The region of a database stays open while any connection of the process
 * has the file open; closing it closes a descriptor of the file, which, as
 * any close(2), drops the process's POSIX locks on it -- harmless then,
 * since no connection of ours holds any, but other code of the same process
 * that opens and closes the same file through pmemlease, or through plain
 * open/close, drops SQLite's locks (as it would under the unix VFS).
 */
#ifndef PMEMLEASE_SQLITE_H
#define PMEMLEASE_SQLITE_H 1

#ifdef __cplusplus
extern "C" {
#endif

/* the VFS's name, for sqlite3_open_v2() and `.open --vfs` */
#define PML_SQLITE_VFS_NAME "pmemlease"

/*
 * pml_sqlite_register -- register the VFS "pmemlease" with the process's
 * SQLite; with make_default non-zero it becomes the default VFS.  May be
 * called again (to make it the default later).  Returns SQLITE_OK, or
 * SQLITE_ERROR if SQLite has no "unix" VFS to wrap.
 */
int pml_sqlite_register(int make_default);

#ifdef __cplusplus
}
#endif

#endif /* PMEMLEASE_SQLITE_H */
