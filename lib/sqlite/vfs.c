/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vfs.c -- the SQLite VFS "pmemlease": main database files in a region,
 * everything else SQLite's unix VFS.  What it promises:
 * pmemlease_sqlite.h.
 *
 * Concurrency: SQLite serialises the calls on one sqlite3_file (its
 * connection's mutex); what connections of a process share is the region
 * of a file (struct db_region), found and counted under regions_lock.  The
 * region itself is thread-safe.  Across processes SQLite's own locks, which
 * the unix VFS takes, order the writers; the leases order everyone against
 * layout changes.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "pmemlease.h"
#include "pmemlease_sqlite.h"

#define PML_SQLITE_PUBLIC __attribute__((visibility("default")))

/*
 * An open file.  For a main database, the unix VFS's file follows this
 * struct (real): it takes the locks and serves the WAL-index.  For any
 * other file, only the unix VFS's methods are used, through pass_methods.
 */
struct db_file {
	sqlite3_file base;
	sqlite3_file *real;
	struct db_region *d;		/* main database only */
	sqlite3_int64 mmap_size;	/* xFetch serves [0, mmap_size) */
	uint64_t chunk;			/* SQLITE_FCNTL_CHUNK_SIZE */
	uint64_t dirty_lo, dirty_hi;	/* written since xSync (msync) */
	bool truncate_pending;		/* postponed to the xUnfetch */
	uint64_t truncate_to;
	bool tail_dirty;		/* written past the region: fdatasync */
	/*
	 * The mapping's libpmem2 functions, known once something is mapped:
	 * taken after a size above 0 was seen, which orders them after the
	 * mapping that set them, in whichever thread grew the region.
	 */
	enum pml_granularity granularity;
	pml_memcpy_fn memcpy_fn;
	pml_persist_fn persist_fn;
	pml_drain_fn drain_fn;
	/*
	 * xFetch's pages: one REF lease over [0, window) holds them all while
	 * any is out -- one counter per fetch instead of a lease each.
	 */
	struct pml_lease *window;
	uint64_t window_end;
	unsigned nfetch;
};

/* a database file's region, shared by the process's connections to it */
struct db_region {
	pid_t pid;		/* a child after fork() has none of these */
	dev_t dev;
	ino_t ino;
	struct pml_region *region;
	char *base;
	uint64_t align;
	unsigned refs;
	struct db_region *next;
};

static pthread_mutex_t regions_lock = PTHREAD_MUTEX_INITIALIZER;
static struct db_region *regions;

static sqlite3_vfs *unix_vfs;	/* what we wrap */

/* timeout of xTruncate's barrier: PMEMLEASE_SQLITE_TIMEOUT_MS, 0 = wait */
static uint32_t
truncate_timeout_ms(void)
{
	const char *t = getenv("PMEMLEASE_SQLITE_TIMEOUT_MS");

	return t && *t ? (uint32_t)strtoul(t, NULL, 10) : 0;
}

static int
region_get(struct db_region **out, const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return SQLITE_CANTOPEN;
	if (S_ISDIR(st.st_mode))
		return SQLITE_NOTFOUND;	/* the unix VFS's to report on */
	pthread_mutex_lock(&regions_lock);

	struct db_region *d = regions;

	while (d && (d->dev != st.st_dev || d->ino != st.st_ino ||
			d->pid != getpid()))
		d = d->next;
	if (d) {
		d->refs++;
		pthread_mutex_unlock(&regions_lock);
		*out = d;
		return SQLITE_OK;
	}

	const struct pml_region_opts o = { .flags = PML_REGION_PARTIAL_TAIL };
	struct pml_region_info info;
	struct pml_region *r = NULL;
	int rc = pml_region_open(&r, path, &o);

	if (!rc)
		rc = pml_region_info(&info, r);
	if (!rc && info.kind == PML_REGION_DEVDAX) {
		sqlite3_log(SQLITE_CANTOPEN, "pmemlease: %s is a device-dax "
				"device: a database needs a file", path);
		pml_region_close(&r);
		pthread_mutex_unlock(&regions_lock);
		return SQLITE_CANTOPEN;
	}
	if (rc || !(d = calloc(1, sizeof(*d)))) {
		/*
		 * What the unix VFS could open but the library cannot map for
		 * writing -- a directory, a file this process may only read
		 * -- is the unix VFS's alone, and SQLite reports on it as it
		 * would; anything else (no runtime directory, a damaged state
		 * file) refuses the database.
		 */
		bool unix_only = rc == -EINVAL || rc == -EACCES ||
			rc == -EPERM || rc == -EROFS || rc == -EISDIR;

		sqlite3_log(unix_only ? SQLITE_WARNING : SQLITE_CANTOPEN,
				"pmemlease: cannot map %s: %s%s", path,
				rc ? pml_errormsg() : "out of memory", unix_only ?
				"; the unix VFS serves it" : "");
		if (r)
			pml_region_close(&r);
		pthread_mutex_unlock(&regions_lock);
		return unix_only ? SQLITE_NOTFOUND : SQLITE_CANTOPEN;
	}
	*d = (struct db_region){
		.pid = getpid(), .dev = st.st_dev, .ino = st.st_ino, .region = r,
		.base = pml_region_base(r), .align = info.alignment,
		.refs = 1, .next = regions,
	};
	regions = d;
	pthread_mutex_unlock(&regions_lock);
	*out = d;
	return SQLITE_OK;
}

static void
region_put(struct db_region *d)
{
	pthread_mutex_lock(&regions_lock);
	if (--d->refs == 0) {
		struct db_region **pp = &regions;

		while (*pp != d)
			pp = &(*pp)->next;
		*pp = d->next;
		if (pml_region_close(&d->region))
			sqlite3_log(SQLITE_IOERR, "pmemlease: close: %s",
					pml_errormsg());
		free(d);
	}
	pthread_mutex_unlock(&regions_lock);
}

/* ------------------------------------------------------- a database file */

static struct db_file *
db_of(sqlite3_file *f)
{
	return (struct db_file *)f;
}

/*
 * with_lease -- a REF lease over [off, off + n) for the time of a copy.
 * Fails only with -EINVAL past the size (a truncate in another process
 * came first) or a bad region.
 */
static int
with_lease(struct pml_lease **l, struct db_file *p, uint64_t off, uint64_t n)
{
	return pml_lease_acquire(l, p->d->region, off, n, PML_LEASE_REF, NULL,
			NULL);
}

/*
 * The file keeps SQLite's own size, byte for byte, as under the unix VFS:
 * SQLite reads page counts and limits off it.  The region is the file's
 * whole units of the alignment (PML_REGION_PARTIAL_TAIL); what a database
 * appends past it goes through the unix VFS (pwrite) until the region
 * takes it in -- once the tail is PMEMLEASE_SQLITE_GROW bytes (default
 * 1 MiB), and at xSync -- with a growth through the barrier (a layout
 * change: some microseconds, owned across processes).
 */
#define ADOPT_STEP (1024 * 1024)

static uint64_t
adopt_step(void)
{
	static _Atomic uint64_t step;
	uint64_t s = atomic_load(&step);

	if (s == 0) {
		const char *e = getenv("PMEMLEASE_SQLITE_GROW");

		s = e && *e ? strtoull(e, NULL, 0) : ADOPT_STEP;
		atomic_store(&step, s ? s : 1);
	}
	return s;
}

static void
file_fns(struct db_file *p)
{
	struct pml_region_info info;

	if (pml_region_info(&info, p->d->region) || info.size == 0)
		return;
	p->granularity = info.granularity;
	p->persist_fn = pml_region_persist_fn(p->d->region);
	p->drain_fn = pml_region_drain_fn(p->d->region);
	p->memcpy_fn = pml_region_memcpy_fn(p->d->region);
}

/* the region takes in the file's whole units past it */
static int
adopt(struct db_file *p)
{
	sqlite3_int64 size;
	int rc = p->real->pMethods->xFileSize(p->real, &size);

	if (rc != SQLITE_OK)
		return rc;
	if ((uint64_t)size < pml_region_size(p->d->region) + p->d->align)
		return SQLITE_OK;
	if (pml_region_ftruncate(p->d->region, (uint64_t)size, NULL)) {
		sqlite3_log(SQLITE_IOERR_WRITE, "pmemlease: mapping the file's "
				"growth to %lld: %s", size, pml_errormsg());
		return SQLITE_IOERR_WRITE;
	}
	if (!p->memcpy_fn)
		file_fns(p);
	return SQLITE_OK;
}

/* [off, off + *n) inside the region, under a REF lease: the part it holds */
static uint64_t
mapped_part(struct pml_lease **l, struct db_file *p, uint64_t off,
		uint64_t n)
{
	uint64_t size = pml_region_size(p->d->region);

	if (off >= size)
		return 0;
	if (!p->memcpy_fn)
		file_fns(p);	/* the region grew in another connection */
	if (n > size - off)
		n = size - off;
	/* refused only past the size: cut by a truncate meanwhile */
	return with_lease(l, p, off, n) == 0 ? n : 0;
}

static int
db_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 ofst)
{
	struct db_file *p = db_of(f);
	uint64_t off = (uint64_t)ofst, n = (uint64_t)amt;
	struct pml_lease *l;
	uint64_t m = mapped_part(&l, p, off, n);

	if (m) {
		memcpy(buf, p->d->base + off, m);
		pml_lease_put(l);
	}
	if (m == n)
		return SQLITE_OK;
	return p->real->pMethods->xRead(p->real, (char *)buf + m,
			(int)(n - m), (sqlite3_int64)(off + m));
}

static int
db_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 ofst)
{
	struct db_file *p = db_of(f);
	uint64_t off = (uint64_t)ofst, n = (uint64_t)amt;
	struct pml_lease *l;
	uint64_t m = mapped_part(&l, p, off, n);

	if (m) {
		/*
		 * Durable at xSync: on DAX the lines are flushed now and
		 * drained then; on a plain file the range is msync'ed then.
		 */
		if (p->granularity == PML_GRANULARITY_PAGE) {
			p->memcpy_fn(p->d->base + off, buf, m,
					PML_F_MEM_NOFLUSH);
			if (p->dirty_lo > off)
				p->dirty_lo = off;
			if (p->dirty_hi < off + m)
				p->dirty_hi = off + m;
		} else {
			p->memcpy_fn(p->d->base + off, buf, m,
					PML_F_MEM_NODRAIN);
		}
		pml_lease_put(l);
	}
	if (m == n)
		return SQLITE_OK;

	int rc = p->real->pMethods->xWrite(p->real, (const char *)buf + m,
			(int)(n - m), (sqlite3_int64)(off + m));

	if (rc != SQLITE_OK)
		return rc;
	p->tail_dirty = true;
	return off + n >= pml_region_size(p->d->region) + adopt_step() ?
		adopt(p) : SQLITE_OK;
}

static int
db_sync(sqlite3_file *f, int flags)
{
	struct db_file *p = db_of(f);
	int rc = SQLITE_OK;

	/* what went through the unix VFS, and the file's size: fdatasync */
	if (p->tail_dirty) {
		rc = p->real->pMethods->xSync(p->real, flags);
		if (rc == SQLITE_OK)
			p->tail_dirty = false;
		if (rc == SQLITE_OK && p->granularity == PML_GRANULARITY_PAGE)
			p->dirty_hi = 0;	/* the fdatasync took it */
		if (rc == SQLITE_OK)
			rc = adopt(p);
	}
	if (rc != SQLITE_OK || !p->memcpy_fn)
		return rc;
	if (p->granularity != PML_GRANULARITY_PAGE) {
		p->drain_fn();
		return SQLITE_OK;
	}
	if (p->dirty_hi <= p->dirty_lo)
		return SQLITE_OK;

	uint64_t size = pml_region_size(p->d->region);
	uint64_t lo = p->dirty_lo, hi = p->dirty_hi < size ? p->dirty_hi :
		size;
	struct pml_lease *l;

	/* the lease keeps a truncate from cutting what msync walks */
	if (lo < hi && with_lease(&l, p, lo, hi - lo) == 0) {
		p->persist_fn(p->d->base + lo, hi - lo);
		pml_lease_put(l);
	}
	p->dirty_lo = UINT64_MAX;
	p->dirty_hi = 0;
	return SQLITE_OK;
}

static int
db_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	struct db_file *p = db_of(f);

	return p->real->pMethods->xFileSize(p->real, size);
}

/* is any page this connection has fetched at or past off? */
static bool
fetched_past(const struct db_file *p, uint64_t off)
{
	return p->nfetch && p->window_end > off;
}

static int
db_truncate_now(struct db_file *p, uint64_t size)
{
	struct pml_barrier_opts o = { truncate_timeout_ms(),
		PML_ON_TIMEOUT_FAIL };
	int rc = pml_region_ftruncate(p->d->region, size, &o);

	if (rc == -ETIMEDOUT)
		return SQLITE_BUSY;
	if (rc) {
		sqlite3_log(SQLITE_IOERR_TRUNCATE, "pmemlease: truncate to %"
				PRIu64 ": %s", size, pml_errormsg());
		return SQLITE_IOERR_TRUNCATE;
	}
	return SQLITE_OK;
}

static int
db_truncate(sqlite3_file *f, sqlite3_int64 nbytes)
{
	struct db_file *p = db_of(f);
	uint64_t size = (uint64_t)nbytes;

	/* as the unix VFS: a chunk size rounds the size up */
	if (p->chunk)
		size = (size + p->chunk - 1) / p->chunk * p->chunk;
	/*
	 * Our own fetched pages past size would make the barrier wait for
	 * us: the truncate waits for their xUnfetch instead.  A longer file
	 * is still the same database.
	 */
	if (fetched_past(p, size / p->d->align * p->d->align)) {
		p->truncate_pending = true;
		p->truncate_to = size;
		return SQLITE_OK;
	}
	p->truncate_pending = false;
	return db_truncate_now(p, size);
}

static int
db_file_control(sqlite3_file *f, int op, void *arg)
{
	struct db_file *p = db_of(f);

	switch (op) {
	case SQLITE_FCNTL_MMAP_SIZE: {
		/* ours to serve: the unix VFS keeps no mapping of its own */
		sqlite3_int64 *v = arg;
		sqlite3_int64 old = p->mmap_size;

		/* as the unix VFS: not while pages are fetched */
		if (*v >= 0 && p->nfetch == 0)
			p->mmap_size = *v;
		*v = old;
		return SQLITE_OK;
	}
	case SQLITE_FCNTL_CHUNK_SIZE:
		/* the unix VFS extends the file by chunks; we truncate so */
		p->chunk = (uint64_t)*(int *)arg;
		return p->real->pMethods->xFileControl(p->real, op, arg);
	case SQLITE_FCNTL_VFSNAME:
		*(char **)arg = sqlite3_mprintf("%s", PML_SQLITE_VFS_NAME);
		return SQLITE_OK;
	default:
		return p->real->pMethods->xFileControl(p->real, op, arg);
	}
}

static int
db_fetch(sqlite3_file *f, sqlite3_int64 ofst, int amt, void **pp)
{
	struct db_file *p = db_of(f);
	uint64_t off = (uint64_t)ofst, n = (uint64_t)amt;

	*pp = NULL;
	if (off + n > (uint64_t)p->mmap_size)
		return SQLITE_OK;
	if (!p->window) {
		uint64_t end = pml_region_size(p->d->region);

		if (end > (uint64_t)p->mmap_size)
			end = (uint64_t)p->mmap_size;
		/* a barrier or the end in the way: SQLite reads instead */
		if (end == 0 || pml_lease_acquire(&p->window, p->d->region, 0,
				end, PML_LEASE_REF | PML_LEASE_NOWAIT, NULL,
				NULL)) {
			p->window = NULL;
			return SQLITE_OK;
		}
		p->window_end = end;
	}
	if (off + n > p->window_end) {
		/* grown since the window was taken: read it this time */
		if (p->nfetch == 0) {
			pml_lease_put(p->window);
			p->window = NULL;
		}
		return SQLITE_OK;
	}
	p->nfetch++;
	*pp = p->d->base + off;
	return SQLITE_OK;
}

static int
db_unfetch(sqlite3_file *f, sqlite3_int64 ofst, void *page)
{
	struct db_file *p = db_of(f);

	if (page && p->nfetch && --p->nfetch == 0) {
		pml_lease_put(p->window);
		p->window = NULL;
	}
	if (p->truncate_pending && !fetched_past(p, p->truncate_to /
			p->d->align * p->d->align))
		return db_truncate(f, (sqlite3_int64)p->truncate_to);
	return SQLITE_OK;
}

static int
db_close(sqlite3_file *f)
{
	struct db_file *p = db_of(f);

	if (p->window)
		pml_lease_put(p->window);
	if (p->truncate_pending)
		(void) db_truncate_now(p, p->truncate_to);

	int rc = p->real->pMethods->xClose(p->real);

	/* after the unix file: it may still hold this process's locks */
	region_put(p->d);
	return rc;
}

/* what the unix VFS does for the main database, forwarded */
#define FWD(name, args, call) \
static int db_##name args { return db_of(f)->real->pMethods->x##call; }

FWD(lock, (sqlite3_file *f, int l), Lock(db_of(f)->real, l))
FWD(unlock, (sqlite3_file *f, int l), Unlock(db_of(f)->real, l))
FWD(check_reserved, (sqlite3_file *f, int *out),
		CheckReservedLock(db_of(f)->real, out))
FWD(sector_size, (sqlite3_file *f), SectorSize(db_of(f)->real))
FWD(device_characteristics, (sqlite3_file *f),
		DeviceCharacteristics(db_of(f)->real))
FWD(shm_map, (sqlite3_file *f, int pg, int pgsz, int extend,
		void volatile **pp), ShmMap(db_of(f)->real, pg, pgsz, extend,
		pp))
FWD(shm_lock, (sqlite3_file *f, int off, int n, int flags),
		ShmLock(db_of(f)->real, off, n, flags))
FWD(shm_unmap, (sqlite3_file *f, int del), ShmUnmap(db_of(f)->real, del))

static void
db_shm_barrier(sqlite3_file *f)
{
	db_of(f)->real->pMethods->xShmBarrier(db_of(f)->real);
}

/* ------------------------------------------------- every other file */

#define PASS(name, args, call) \
static int pass_##name args { return db_of(f)->real->pMethods->x##call; }

PASS(read, (sqlite3_file *f, void *b, int n, sqlite3_int64 o),
		Read(db_of(f)->real, b, n, o))
PASS(write, (sqlite3_file *f, const void *b, int n, sqlite3_int64 o),
		Write(db_of(f)->real, b, n, o))
PASS(truncate, (sqlite3_file *f, sqlite3_int64 n),
		Truncate(db_of(f)->real, n))
PASS(sync, (sqlite3_file *f, int flags), Sync(db_of(f)->real, flags))
PASS(file_size, (sqlite3_file *f, sqlite3_int64 *n),
		FileSize(db_of(f)->real, n))
PASS(file_control, (sqlite3_file *f, int op, void *arg),
		FileControl(db_of(f)->real, op, arg))
PASS(fetch, (sqlite3_file *f, sqlite3_int64 o, int n, void **pp),
		Fetch(db_of(f)->real, o, n, pp))
PASS(unfetch, (sqlite3_file *f, sqlite3_int64 o, void *pg),
		Unfetch(db_of(f)->real, o, pg))
PASS(close, (sqlite3_file *f), Close(db_of(f)->real))

static const sqlite3_io_methods pass_methods = {
	.iVersion = 3,
	.xClose = pass_close,
	.xRead = pass_read,
	.xWrite = pass_write,
	.xTruncate = pass_truncate,
	.xSync = pass_sync,
	.xFileSize = pass_file_size,
	.xLock = db_lock,
	.xUnlock = db_unlock,
	.xCheckReservedLock = db_check_reserved,
	.xFileControl = pass_file_control,
	.xSectorSize = db_sector_size,
	.xDeviceCharacteristics = db_device_characteristics,
	.xShmMap = db_shm_map,
	.xShmLock = db_shm_lock,
	.xShmBarrier = db_shm_barrier,
	.xShmUnmap = db_shm_unmap,
	.xFetch = pass_fetch,
	.xUnfetch = pass_unfetch,
};

static const sqlite3_io_methods db_methods = {
	.iVersion = 3,
	.xClose = db_close,
	.xRead = db_read,
	.xWrite = db_write,
	.xTruncate = db_truncate,
	.xSync = db_sync,
	.xFileSize = db_file_size,
	.xLock = db_lock,
	.xUnlock = db_unlock,
	.xCheckReservedLock = db_check_reserved,
	.xFileControl = db_file_control,
	.xSectorSize = db_sector_size,
	.xDeviceCharacteristics = db_device_characteristics,
	.xShmMap = db_shm_map,
	.xShmLock = db_shm_lock,
	.xShmBarrier = db_shm_barrier,
	.xShmUnmap = db_shm_unmap,
	.xFetch = db_fetch,
	.xUnfetch = db_unfetch,
};

/* ------------------------------------------------------------ the VFS */

static int
vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
		int *out_flags)
{
	struct db_file *p = db_of(f);
	int rc;

	memset(p, 0, sizeof(*p));
	p->real = (sqlite3_file *)(p + 1);
	rc = unix_vfs->xOpen(unix_vfs, name, p->real, flags, out_flags);
	if (rc != SQLITE_OK || !p->real->pMethods) {
		p->real->pMethods = NULL;
		return rc;
	}
	if (!(flags & SQLITE_OPEN_MAIN_DB) || !name) {
		/* journals, WAL, temp files: the unix VFS's own */
		p->base.pMethods = &pass_methods;
		return SQLITE_OK;
	}
	rc = region_get(&p->d, name);
	if (rc == SQLITE_NOTFOUND) {
		p->base.pMethods = &pass_methods;	/* not mappable */
		return SQLITE_OK;
	}
	if (rc != SQLITE_OK) {
		p->real->pMethods->xClose(p->real);
		return rc;
	}
	p->dirty_lo = UINT64_MAX;
	file_fns(p);
	p->base.pMethods = &db_methods;
	return SQLITE_OK;
}

#define FWD_VFS(ret, name, args, call) \
static ret vfs_##name args { return unix_vfs->call; }

FWD_VFS(int, delete, (sqlite3_vfs *v, const char *n, int sync),
		xDelete(unix_vfs, n, sync))
FWD_VFS(int, access, (sqlite3_vfs *v, const char *n, int flags, int *out),
		xAccess(unix_vfs, n, flags, out))
FWD_VFS(int, full_pathname, (sqlite3_vfs *v, const char *n, int len,
		char *out), xFullPathname(unix_vfs, n, len, out))
FWD_VFS(void *, dl_open, (sqlite3_vfs *v, const char *n),
		xDlOpen(unix_vfs, n))
FWD_VFS(int, randomness, (sqlite3_vfs *v, int n, char *out),
		xRandomness(unix_vfs, n, out))
FWD_VFS(int, sleep, (sqlite3_vfs *v, int us), xSleep(unix_vfs, us))
FWD_VFS(int, current_time, (sqlite3_vfs *v, double *t),
		xCurrentTime(unix_vfs, t))
FWD_VFS(int, last_error, (sqlite3_vfs *v, int n, char *out),
		xGetLastError(unix_vfs, n, out))
FWD_VFS(int, current_time_i64, (sqlite3_vfs *v, sqlite3_int64 *t),
		xCurrentTimeInt64(unix_vfs, t))

static void
vfs_dl_error(sqlite3_vfs *v, int n, char *out)
{
	unix_vfs->xDlError(unix_vfs, n, out);
}

static void (*vfs_dl_sym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
	return unix_vfs->xDlSym(unix_vfs, h, sym);
}

static void
vfs_dl_close(sqlite3_vfs *v, void *h)
{
	unix_vfs->xDlClose(unix_vfs, h);
}

/* the unix VFS's system-call overrides (its test harness uses them) */
static int
vfs_set_syscall(sqlite3_vfs *v, const char *name, sqlite3_syscall_ptr fn)
{
	return unix_vfs->xSetSystemCall(unix_vfs, name, fn);
}

static sqlite3_syscall_ptr
vfs_get_syscall(sqlite3_vfs *v, const char *name)
{
	return unix_vfs->xGetSystemCall(unix_vfs, name);
}

static const char *
vfs_next_syscall(sqlite3_vfs *v, const char *name)
{
	return unix_vfs->xNextSystemCall(unix_vfs, name);
}

static sqlite3_vfs pml_vfs = {
	.iVersion = 3,
	.zName = PML_SQLITE_VFS_NAME,
	.xOpen = vfs_open,
	.xDelete = vfs_delete,
	.xAccess = vfs_access,
	.xFullPathname = vfs_full_pathname,
	.xDlOpen = vfs_dl_open,
	.xDlError = vfs_dl_error,
	.xDlSym = vfs_dl_sym,
	.xDlClose = vfs_dl_close,
	.xRandomness = vfs_randomness,
	.xSleep = vfs_sleep,
	.xCurrentTime = vfs_current_time,
	.xGetLastError = vfs_last_error,
	.xCurrentTimeInt64 = vfs_current_time_i64,
	.xSetSystemCall = vfs_set_syscall,
	.xGetSystemCall = vfs_get_syscall,
	.xNextSystemCall = vfs_next_syscall,
};

PML_SQLITE_PUBLIC int
pml_sqlite_register(int make_default)
{
	sqlite3_vfs *u = sqlite3_vfs_find("unix");

	if (!u)
		return SQLITE_ERROR;
	/* set once; a second call only changes the default */
	if (!unix_vfs) {
		unix_vfs = u;
		pml_vfs.szOsFile = (int)sizeof(struct db_file) + u->szOsFile;
		pml_vfs.mxPathname = u->mxPathname;
	}
	return sqlite3_vfs_register(&pml_vfs, make_default);
}
