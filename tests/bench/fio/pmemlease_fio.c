// SPDX-License-Identifier: BSD-3-Clause
/*
 * pmemlease_fio.c -- a fio external ioengine that does its I/O through
 * pmemlease leases on a region.
 *
 *   ioengine=external:/path/to/pmemlease_fio.so
 *
 * The job's file (a plain file, a file on an fsdax filesystem, or a devdax
 * device /dev/daxN.M) is opened as a pmemlease region, once per process
 * and path, shared by every job (thread) of that process that names it.
 * Each io_u then
 *
 *   1. acquires a lease over [offset, offset + length) of the region
 *      (a PIN by default: what a DMA would hold; pml_lease=ref|none),
 *   2. copies: writes through the region's own libpmem2 memcpy
 *      (pml_region_memcpy_fn) with the flags fio's libpmem engine uses --
 *      sync=1: persist each write, else PML_F_MEM_NODRAIN; direct=1:
 *      PML_F_MEM_NONTEMPORAL, else PML_F_MEM_TEMPORAL --, reads with
 *      memcpy from the leased address,
 *   3. puts the lease.
 * fsync/fdatasync/sync_file_range are pml_region_drain(); trims are
 * pml_region_punch() (through the barrier; offset and length must be
 * multiples of the region's alignment).
 *
 * A file shorter than the job's offset + size is created or grown through
 * pml_region_truncate(); a devdax device has its own size.
 *
 * Built against the headers of the fio source of the installed version
 * (build-engine.sh).  Written from fio's engine API (ioengines.h), not
 * from any engine's code.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fio.h"
#include "optgroup.h"

#include <pmemlease.h>

enum pmlfio_lease_mode {
	PMLFIO_LEASE_PIN = 0,
	PMLFIO_LEASE_REF = 1,
	PMLFIO_LEASE_NONE = 2,	/* the region's mapping without leases */
};

struct pmlfio_options {
	void *pad;		/* fio keeps the thread_data pointer here */
	unsigned int lease;
};

static struct fio_option pmlfio_options[] = {
	{
		.name	= "pml_lease",
		.lname	= "pmemlease lease kind",
		.type	= FIO_OPT_STR,
		.off1	= offsetof(struct pmlfio_options, lease),
		.help	= "Lease taken over each I/O's range",
		.def	= "pin",
		.posval	= {
			{ .ival = "pin", .oval = PMLFIO_LEASE_PIN,
			  .help = "PML_LEASE_PIN (a DMA's pin)" },
			{ .ival = "ref", .oval = PMLFIO_LEASE_REF,
			  .help = "PML_LEASE_REF (a CPU reference)" },
			{ .ival = "none", .oval = PMLFIO_LEASE_NONE,
			  .help = "no lease: the region's mapping alone" },
		},
		.category = FIO_OPT_C_ENGINE,
		.group	= FIO_OPT_G_INVALID,
	},
	{
		.name	= NULL,
	},
};

/*
 * One region per (process, path): fio runs jobs as threads of one process
 * (thread=1) or as forked processes; a region is not inherited across
 * fork(), so an entry is only reused by the process that opened it.
 */
struct pmlfio_region {
	struct pmlfio_region *next;
	char *path;
	pid_t pid;
	unsigned refs;
	struct pml_region *region;
	pml_memcpy_fn memcpy_fn;
	char *base;
};

static pthread_mutex_t pmlfio_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pmlfio_region *pmlfio_regions;

static int pmlfio_fail(struct thread_data *td, int err, const char *what)
{
	log_err("pmemlease: %s: %s\n", what, pml_errormsg());
	td_vmsg(td, err, pml_errormsg(), what);
	return err;
}

static void pmlfio_put(struct pmlfio_region *e)
{
	struct pmlfio_region **pp;

	pthread_mutex_lock(&pmlfio_lock);
	if (--e->refs == 0) {
		for (pp = &pmlfio_regions; *pp; pp = &(*pp)->next)
			if (*pp == e) {
				*pp = e->next;
				break;
			}
		int ret = pml_region_close(&e->region);

		if (ret)
			log_err("pmemlease: pml_region_close %s: %s\n",
				e->path, pml_errormsg());
		free(e->path);
		free(e);
	}
	pthread_mutex_unlock(&pmlfio_lock);
}

/* a region of at least want bytes (0: as it is) for path, refcounted */
static struct pmlfio_region *pmlfio_get(struct thread_data *td,
		const char *path, uint64_t want)
{
	struct pmlfio_region *e;
	pid_t pid = getpid();
	int ret = 0;

	pthread_mutex_lock(&pmlfio_lock);
	for (e = pmlfio_regions; e; e = e->next)
		if (e->pid == pid && strcmp(e->path, path) == 0)
			break;
	if (!e) {
		struct pml_region_opts opts = { .flags = PML_REGION_CREATE };

		e = calloc(1, sizeof(*e));
		if (!e || !(e->path = strdup(path))) {
			free(e);
			e = NULL;
			log_err("pmemlease: out of memory\n");
			td_verror(td, ENOMEM, "calloc");
			goto out;
		}
		ret = pml_region_open(&e->region, path, &opts);
		if (ret) {
			pmlfio_fail(td, -ret, "pml_region_open");
			free(e->path);
			free(e);
			e = NULL;
			goto out;
		}
		e->pid = pid;
		e->memcpy_fn = pml_region_memcpy_fn(e->region);
		e->base = pml_region_base(e->region);
		e->next = pmlfio_regions;
		pmlfio_regions = e;
	}
	e->refs++;

	uint64_t size = pml_region_size(e->region);

	if (want > size) {
		struct pml_region_info info;

		ret = pml_region_info(&info, e->region);
		if (!ret) {
			uint64_t a = info.alignment ? info.alignment : 1;

			want = (want + a - 1) / a * a;
			ret = pml_region_truncate(e->region, want, NULL);
		}
		if (ret) {
			pmlfio_fail(td, -ret, "pml_region_truncate");
			pthread_mutex_unlock(&pmlfio_lock);
			pmlfio_put(e);	/* the reference taken above */
			return NULL;
		}
	}
out:
	pthread_mutex_unlock(&pmlfio_lock);
	return e;
}

static int pmlfio_init(struct thread_data *td)
{
	struct thread_options *o = &td->o;

	if ((o->rw_min_bs & page_mask) &&
	    (o->fsync_blocks || o->fdatasync_blocks)) {
		log_err("pmemlease: fsync_blocks/fdatasync_blocks need a block "
			"size that is a multiple of %llu\n",
			(unsigned long long)page_size);
		return 1;
	}
	return 0;
}

/* a regular file: stat it; a device: its region's size */
static int pmlfio_get_file_size(struct thread_data *td, struct fio_file *f)
{
	struct stat st;

	if (fio_file_size_known(f))
		return 0;
	if (stat(f->file_name, &st) == 0 && S_ISCHR(st.st_mode)) {
		struct pml_region *r = NULL;
		int ret = pml_region_open(&r, f->file_name, NULL);

		if (ret)
			return pmlfio_fail(td, -ret, "pml_region_open");
		f->real_file_size = pml_region_size(r);
		pml_region_close(&r);
		fio_file_set_size_known(f);
		if (f->file_offset > f->real_file_size) {
			log_err("pmemlease: offset %llu past the end of %s "
				"(%llu bytes)\n",
				(unsigned long long)f->file_offset,
				f->file_name,
				(unsigned long long)f->real_file_size);
			return EINVAL;
		}
		return 0;
	}
	return generic_get_file_size(td, f);
}

static int pmlfio_open_file(struct thread_data *td, struct fio_file *f)
{
	struct pmlfio_region *e;

	if (fio_file_open(f))
		td_io_close_file(td, f);
	e = pmlfio_get(td, f->file_name, f->file_offset + f->io_size);
	if (!e)
		return td->error ? td->error : EIO;
	FILE_SET_ENG_DATA(f, e);
	f->real_file_size = pml_region_size(e->region);
	return 0;
}

/* fio's own only knows regular files: a device holds what it holds */
static int pmlfio_prepopulate_file(struct thread_data *td, struct fio_file *f)
{
	if (f->filetype != FIO_TYPE_FILE)
		return 0;
	return generic_prepopulate_file(td, f);
}

static int pmlfio_close_file(struct thread_data *td, struct fio_file *f)
{
	struct pmlfio_region *e = FILE_ENG_DATA(f);

	if (e)
		pmlfio_put(e);
	FILE_SET_ENG_DATA(f, NULL);
	return 0;
}

static int pmlfio_prep(struct thread_data *td, struct io_u *io_u)
{
	struct pmlfio_region *e = FILE_ENG_DATA(io_u->file);

	if (!e)
		return EBADF;
	/* the size open_file saw: a lease is checked again at acquire */
	if (io_u->offset + io_u->buflen > io_u->file->real_file_size) {
		log_err("pmemlease: I/O at %llu+%llu past the region's end "
			"(%llu bytes)\n", io_u->offset, io_u->buflen,
			(unsigned long long)io_u->file->real_file_size);
		return EIO;
	}
	return 0;
}

static enum fio_q_status pmlfio_queue(struct thread_data *td,
		struct io_u *io_u)
{
	struct pmlfio_options *o = td->eo;
	struct pmlfio_region *e = FILE_ENG_DATA(io_u->file);
	uint64_t off = io_u->offset +
		((char *)io_u->xfer_buf - (char *)io_u->buf);
	uint64_t len = io_u->xfer_buflen;
	struct pml_lease *lease = NULL;
	unsigned flags;
	char *addr;
	int ret;

	fio_ro_check(td, io_u);
	io_u->error = 0;

	switch (io_u->ddir) {
	case DDIR_READ:
	case DDIR_WRITE:
		break;
	case DDIR_SYNC:
	case DDIR_DATASYNC:
	case DDIR_SYNC_FILE_RANGE:
		ret = pml_region_drain(e->region);
		if (ret)
			io_u->error = -ret;
		return FIO_Q_COMPLETED;
	case DDIR_TRIM:
		ret = pml_region_punch(e->region, off, len, NULL);
		if (ret) {
			log_err("pmemlease: pml_region_punch: %s\n",
				pml_errormsg());
			io_u->error = -ret;
		}
		return FIO_Q_COMPLETED;
	default:
		io_u->error = EINVAL;
		return FIO_Q_COMPLETED;
	}

	if (o->lease == PMLFIO_LEASE_NONE) {
		addr = e->base + off;
	} else {
		ret = pml_lease_acquire(&lease, e->region, off, len,
			o->lease == PMLFIO_LEASE_REF ? PML_LEASE_REF :
			PML_LEASE_PIN, NULL, NULL);
		if (ret) {
			log_err("pmemlease: pml_lease_acquire %llu+%llu: %s\n",
				(unsigned long long)off,
				(unsigned long long)len, pml_errormsg());
			io_u->error = -ret;
			return FIO_Q_COMPLETED;
		}
		addr = pml_lease_addr(lease);
	}

	if (io_u->ddir == DDIR_READ) {
		memcpy(io_u->xfer_buf, addr, len);
	} else {
		/* fio's libpmem engine's mapping of sync= and direct= */
		flags = td->o.sync_io ? 0 : PML_F_MEM_NODRAIN;
		flags |= td->o.odirect ? PML_F_MEM_NONTEMPORAL :
			PML_F_MEM_TEMPORAL;
		e->memcpy_fn(addr, io_u->xfer_buf, len, flags);
	}

	if (lease) {
		ret = pml_lease_put(lease);
		if (ret)
			io_u->error = -ret;
	}
	return FIO_Q_COMPLETED;
}

/* fio looks this symbol up by name in the shared object */
struct ioengine_ops ioengine = {
	.name		= "pmemlease",
	.version	= FIO_IOOPS_VERSION,
	.init		= pmlfio_init,
	.prep		= pmlfio_prep,
	.queue		= pmlfio_queue,
	.open_file	= pmlfio_open_file,
	.close_file	= pmlfio_close_file,
	.get_file_size	= pmlfio_get_file_size,
	.prepopulate_file = pmlfio_prepopulate_file,
	.flags		= FIO_SYNCIO | FIO_RAWIO | FIO_DISKLESSIO |
			  FIO_NOEXTEND | FIO_NODISKUTIL | FIO_BARRIER |
			  FIO_MEMALIGN,
	.options	= pmlfio_options,
	.option_struct_size = sizeof(struct pmlfio_options),
};
