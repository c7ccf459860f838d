/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * demo_scenes.c -- the single-process scenes of `pmemlease demo`: open,
 * write, a punch that waits for leases, a punch that times out (FAIL, then
 * REVOKE and the quarantine), growth and shrinking, close.
 *
 * The main thread plays the database that punches and truncates; the cast
 * (demo_dma.c) plays the devices.
 */

#include <errno.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "demo.h"

int
scene_open(void)
{
	struct pml_region_info info;
	char s1[32], s2[32];
	long page = sysconf(_SC_PAGESIZE);

	step(1, "Open a region");
	say("A region maps a whole file or device once, in address space reserved");
	say("up front, so that growing it never moves a pointer a device holds.");

	/* the file starts at NBLOCKS pages; the alignment is known after open */
	if (ftruncate(dm.fd, (off_t)NBLOCKS * page) != 0) {
		say("ftruncate %s: %s", dm.path, strerror(errno));
		sys_failed = true;
		return -1;
	}
	double t0 = now_ms();
	int rc = pml_region_open(&dm.region, dm.path, NULL);
	double t1 = now_ms();
	if (!expect(rc == 0 && dm.region != NULL, "pml_region_open", "%s in %.1f ms%s%s",
		    cli_errname(rc), t1 - t0, rc ? ": " : "", rc ? libmsg() : ""))
		return -1;

	rc = pml_region_info(&info, dm.region);
	if (!expect(rc == 0, "pml_region_info", "%s", cli_errname(rc)))
		return -1;
	say("path         %s", info.path);
	say("kind         %s", pml_region_kind_name(info.kind));
	say("size         %s (%" PRIu64 " bytes)", cli_size(s1, sizeof(s1), info.size),
	    info.size);
	say("reserved     %s of address space at %p", cli_size(s2, sizeof(s2),
	    info.max_size), info.base);
	say("alignment    %s  (offsets and sizes of punch and truncate)",
	    cli_size(s1, sizeof(s1), info.alignment));
	say("granularity  %s", info.granularity == PML_GRANULARITY_BYTE ?
	    "byte (eADR: a visible store is durable)" :
	    info.granularity == PML_GRANULARITY_CACHE_LINE ?
	    "cache line (persist flushes CPU cache lines)" :
	    info.granularity == PML_GRANULARITY_PAGE ?
	    "page (persist is msync through the page cache)" : "unknown");
	say("device       %s", info.device[0] ? info.device : "none (not pmem)");

	expect(info.kind != PML_REGION_PLAIN || info.device[0] == '\0',
	       "a plain file names no pmem device", "device \"%s\"", info.device);
	bool pow2 = info.alignment != 0 && (info.alignment & (info.alignment - 1)) == 0;
	expect(pow2, "the alignment is a power of two", "%" PRIu64, info.alignment);
	expect(info.size == (uint64_t)NBLOCKS * (uint64_t)page,
	       "the size is the file's", "%" PRIu64 " bytes", info.size);
	expect(info.base == pml_region_base(dm.region) && info.base != NULL,
	       "pml_region_base = info.base", "%p", pml_region_base(dm.region));
	if (!pow2)
		return -1;
	dm.blk = info.alignment;

	char sb[32];
	say("From here on a \"block\" is %s, the alignment: the unit in which",
	    cli_size(sb, sizeof(sb), dm.blk));
	say("punch and truncate work.");

	struct statfs sfs;
	if (fstatfs(dm.fd, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC) {
		dm.reads_allocate = true;
		say("note: the file is on tmpfs, which gives a page to a hole read");
		say("through a shared mapping: blocks read after a punch may show as");
		say("allocated again, and the checks allow for that.");
	}

	if (info.size != blk(NBLOCKS)) {
		/* alignment above a page (fsdax on huge pages): make 16 blocks */
		say("alignment is above the page size: growing to %u blocks", NBLOCKS);
		rc = pml_region_truncate(dm.region, blk(NBLOCKS), NULL);
		if (!expect(rc == 0, "pml_region_truncate (grow)", "%s", cli_errname(rc)))
			return -1;
	}
	return 0;
}

int
scene_write(void)
{
	struct file_view v;
	char s[32];

	step(2, "Write data and persist it");
	say("Each block is filled with its own letter through pml_region_memset,");
	say("which copies with the mapping's libpmem2 function and persists.");

	void *base = pml_region_base(dm.region);
	double t0 = now_ms();
	int bad = 0;
	for (unsigned i = 0; i < NBLOCKS; i++) {
		dm.model[i] = (char)('a' + i);
		int rc = pml_region_memset(dm.region, (char *)base + blk(i),
					   'a' + (int)i, dm.blk, 0);
		if (rc != 0 && bad++ == 0)
			say("pml_region_memset block %u: %s: %s", i,
			    cli_errname(rc), libmsg());
	}
	double t1 = now_ms();
	expect(bad == 0, "pml_region_memset persists each block",
	       "%u blocks of %s in %.1f ms, %d error(s)", NBLOCKS,
	       cli_size(s, sizeof(s), dm.blk), t1 - t0, bad);

	/* a write outside the region must be refused, not done */
	int rc = pml_region_persist(dm.region, (char *)base + blk(NBLOCKS), 1);
	expect(rc < 0, "persisting past the end is refused",
	       "%s: %s", cli_errname(rc), rc ? libmsg() : "accepted");

	observe(&v, NBLOCKS);
	show(&v, NBLOCKS);
	expect(data_matches_model(&v, NBLOCKS), "every block reads what was written",
	       "%s", v.data);
	expect(count_alloc(&v, 0, NBLOCKS) == NBLOCKS, "every block is allocated",
	       "%u of %u", count_alloc(&v, 0, NBLOCKS), NBLOCKS);
	return 0;
}

/* the database's other work while the punch waits */
#define NOT_TRIED 1	/* never a return of the library: 0 or -errno */

static const char *
rcname(int rc)
{
	return rc == NOT_TRIED ? "not tried" : cli_errname(rc);
}

static struct {
	pthread_t thread;
	double t_nowait, t_disjoint_start, t_disjoint_done, t_overlap_start,
	       t_overlap_done;
	int rc_nowait, rc_disjoint, rc_overlap;
	char overlap_reads;
} db;

static void *
db_main(void *arg)
{
	struct pml_lease *l = NULL;

	pthread_mutex_lock(&barrier_up_mu);
	while (!barrier_up && !punch_returned)
		pthread_cond_wait(&barrier_up_cv, &barrier_up_mu);
	bool up = barrier_up;
	pthread_mutex_unlock(&barrier_up_mu);
	if (!up) {
		event("db", "the punch returned without calling any on_break: "
		      "nothing to try");
		return NULL;
	}

	/* overlapping, NOWAIT: refused while the barrier is up */
	db.rc_nowait = pml_lease_acquire(&l, dm.region, blk(3), dm.blk,
					 PML_LEASE_PIN | PML_LEASE_NOWAIT, NULL, NULL);
	db.t_nowait = now_ms();
	event("db", "acquire block 3 (under the barrier), NOWAIT -> %s",
	      cli_errname(db.rc_nowait));
	if (db.rc_nowait == 0)
		pml_lease_put(l);

	/* disjoint: proceeds at once */
	db.t_disjoint_start = now_ms();
	db.rc_disjoint = pml_lease_acquire(&l, dm.region, blk(13), dm.blk,
					   PML_LEASE_PIN, NULL, NULL);
	db.t_disjoint_done = now_ms();
	event("db", "acquire block 13 (elsewhere) -> %s after "
	      "%.2f ms; writing 'W' into it", cli_errname(db.rc_disjoint),
	      db.t_disjoint_done - db.t_disjoint_start);
	if (db.rc_disjoint == 0) {
		pml_region_memset(dm.region, pml_lease_addr(l), 'W', dm.blk, 0);
		pml_lease_put(l);
	}

	/* overlapping, waiting: returns once the barrier drops */
	db.t_overlap_start = now_ms();
	event("db", "acquire block 2 (under the barrier), "
	      "waiting...");
	db.rc_overlap = pml_lease_acquire(&l, dm.region, blk(2), dm.blk,
					  PML_LEASE_REF, NULL, NULL);
	db.t_overlap_done = now_ms();
	if (db.rc_overlap == 0) {
		const unsigned char *p = pml_lease_addr(l);
		bool zero = true;
		for (uint64_t k = 0; k < dm.blk && zero; k++)
			zero = p[k] == 0;
		db.overlap_reads = zero ? '0' : '*';
		dm.touched[2] = true;	/* main reads it only after joining us */
		pml_lease_put(l);
	}
	event("db", "acquire block 2 -> %s after waiting %.1f ms; "
	      "it reads %s", cli_errname(db.rc_overlap),
	      db.t_overlap_done - db.t_overlap_start,
	      db.overlap_reads == '0' ? "zeroes" : "data");
	return NULL;
}

int
scene_punch_wait(void)
{
	struct file_view before, after;

	step(3, "Leases held, and a punch that waits for them");
	say("dma-A holds a PIN on blocks 2-3 for two DMA requests (one reference");
	say("each), dma-B a PIN on block 5, cpu-R a short REF on block 4, dma-C a");
	say("PIN on blocks 10-11.  The database then punches blocks 2-5: the");
	say("barrier asks the PIN holders to let go (on_break), waits for every");
	say("put, REFs included, and only then deallocates.  Meanwhile thread `db`");
	say("tries the punched range and another one.");

	dev_a.off = blk(2); dev_a.len = blk(2);
	dev_b.off = blk(5); dev_b.len = blk(1);
	cpu_r.off = blk(4); cpu_r.len = blk(1);
	dev_c.off = blk(10); dev_c.len = blk(2);

	if (cq_start() != 0)
		return -1;

	if (device_start(&dev_c) || device_start(&dev_a) ||
	    device_start(&dev_b) || device_start(&cpu_r))
		return -1;
	memset(dm.model + 10, 'C', 2);

	/* only the allocation: dma-A and dma-B are writing into their blocks */
	observe_some(&before, NBLOCKS, false);
	say("st_blocks before the punch: %" PRIu64, before.st_blocks);

	db.rc_nowait = db.rc_disjoint = db.rc_overlap = NOT_TRIED;
	if (start_thread(&db.thread, db_main, NULL, "db") != 0)
		return -1;

	/*
	 * cpu-R's scan is timed from here, so that it is still holding its REF
	 * when the punch starts however slow the set-up was (sanitizers).
	 */
	double t0 = now_ms();
	pthread_mutex_lock(&cpu_r.mu);
	cpu_r.t_go = t0;
	pthread_cond_broadcast(&cpu_r.cv);
	pthread_mutex_unlock(&cpu_r.mu);
	untouch(2, 6);
	event("main", "pml_region_punch(blocks 2-5), no timeout");
	int rc = pml_region_punch(dm.region, blk(2), blk(4), NULL);
	double t1 = now_ms();
	event("main", "pml_region_punch -> %s after %.1f ms%s%s",
	      cli_errname(rc), t1 - t0, rc ? ": " : "", rc ? libmsg() : "");
	pthread_mutex_lock(&barrier_up_mu);
	punch_returned = true;
	pthread_cond_broadcast(&barrier_up_cv);
	pthread_mutex_unlock(&barrier_up_mu);
	pthread_join(db.thread, NULL);

	/* every put over the range is done by now, or the library is wrong */
	double last_put = 0;
	struct device *last = NULL;
	struct device *mine[] = { &dev_a, &dev_b, &cpu_r };
	for (unsigned i = 0; i < 3; i++) {
		pthread_mutex_lock(&mine[i]->mu);
		if (mine[i]->puts_called == mine[i]->ios &&
		    mine[i]->t_put_call > last_put) {
			last_put = mine[i]->t_put_call;
			last = mine[i];
		}
		pthread_mutex_unlock(&mine[i]->mu);
	}
	unsigned puts_done = 0, puts_due = 0;
	for (unsigned i = 0; i < 3; i++) {
		pthread_mutex_lock(&mine[i]->mu);
		puts_done += mine[i]->puts_called;
		puts_due += mine[i]->ios;
		pthread_mutex_unlock(&mine[i]->mu);
	}

	blank();
	say("What happened, in order:");
	expect(rc == 0, "the punch succeeds", "%s", cli_errname(rc));
	expect(breaks_of(&dev_a, PML_BREAK_LAYOUT) == 1 &&
	       breaks_of(&dev_b, PML_BREAK_LAYOUT) == 1,
	       "on_break(LAYOUT) once for each PIN in the range",
	       "dma-A %u, dma-B %u", breaks_of(&dev_a, PML_BREAK_LAYOUT),
	       breaks_of(&dev_b, PML_BREAK_LAYOUT));
	expect(breaks_of(&cpu_r, PML_BREAK_LAYOUT) == 0,
	       "a REF is waited for, never broken", "on_break calls on cpu-R: %u",
	       breaks_of(&cpu_r, PML_BREAK_LAYOUT));
	expect(breaks_of(&dev_c, PML_BREAK_LAYOUT) == 0,
	       "a PIN outside the range is left alone", "on_break calls on dma-C: %u",
	       breaks_of(&dev_c, PML_BREAK_LAYOUT));
	expect(puts_done == puts_due, "the punch returns after every put in its range",
	       "%u of %u puts done when it returned", puts_done, puts_due);
	if (last != NULL)
		expect(t1 >= last_put && t1 - last_put < PROCEED_BOUND_MS,
		       "the punch proceeds right after the last put",
		       "last put (%s) at +%.1f ms, punch returned at +%.1f ms: "
		       "%.2f ms later", last->name, last_put, t1, t1 - last_put);
	expect(db.rc_nowait == -EAGAIN,
	       "NOWAIT acquire under a barrier returns -EAGAIN", "%s",
	       rcname(db.rc_nowait));
	expect(db.rc_disjoint == 0 && db.t_disjoint_done < t1 &&
	       db.t_disjoint_done - db.t_disjoint_start < PROCEED_BOUND_MS,
	       "an acquire elsewhere proceeds during the wait",
	       "%s at +%.1f ms (took %.2f ms), %.1f ms before the punch returned",
	       rcname(db.rc_disjoint), db.t_disjoint_done,
	       db.t_disjoint_done - db.t_disjoint_start, t1 - db.t_disjoint_done);
	expect(db.rc_overlap == 0 && last != NULL && db.t_overlap_done >= last_put,
	       "an acquire in the range waits for the barrier to drop",
	       "%s at +%.1f ms, %.2f ms after the last put",
	       rcname(db.rc_overlap), db.t_overlap_done,
	       db.t_overlap_done - last_put);
	expect(db.overlap_reads == '0', "it then reads the punched range as zeroes",
	       "%s", db.overlap_reads == '0' ? "zeroes" : "not zeroes");

	memset(dm.model + 2, '0', 4);
	dm.model[13] = 'W';
	device_join(&dev_a);
	device_join(&dev_b);
	device_join(&cpu_r);
	expect(dev_a.put_errors + dev_b.put_errors + cpu_r.put_errors == 0,
	       "every put returns 0", "%u error(s)",
	       dev_a.put_errors + dev_b.put_errors + cpu_r.put_errors);

	blank();
	observe(&after, NBLOCKS);
	show(&after, NBLOCKS);
	expect(data_matches_model(&after, NBLOCKS),
	       "blocks 2-5 read zero, the rest as before", "%s", after.data);
	expect(holes(&after, 2, 6) &&
	       (dm.reads_allocate || count_alloc(&after, 0, NBLOCKS) ==
				     count_alloc(&before, 0, NBLOCKS) - 4),
	       "blocks 2-5 are handed back to the filesystem",
	       "allocation of 2-5: %.4s%s; st_blocks %" PRIu64 " -> %" PRIu64,
	       after.alloc + 2, dm.reads_allocate ? " (tmpfs: block 2 was read)" : "",
	       before.st_blocks, after.st_blocks);
	return 0;
}

int
scene_punch_fail(void)
{
	struct file_view before, after;
	struct pml_lease *l = NULL;

	step(4, "A punch that times out with PML_ON_TIMEOUT_FAIL");
	say("dma-D holds a PIN on 1000 bytes inside block 7 (a lease needs no");
	say("alignment) and is stuck: it ignores on_break.  A punch of blocks 6-8");
	say("with a %u ms timeout and PML_ON_TIMEOUT_FAIL must give up and change",
	    FAIL_TIMEOUT_MS);
	say("nothing at all.");

	dev_d.off = blk(7) + 100;
	dev_d.len = 1000;
	if (device_start(&dev_d))
		return -1;
	dm.model[7] = '*';

	observe(&before, NBLOCKS);
	show(&before, NBLOCKS);

	struct pml_barrier_opts o = { .timeout_ms = FAIL_TIMEOUT_MS,
				      .on_timeout = PML_ON_TIMEOUT_FAIL };
	double t0 = now_ms();
	event("main", "pml_region_punch(blocks 6-8, timeout %u ms, FAIL)",
	      FAIL_TIMEOUT_MS);
	int rc = pml_region_punch(dm.region, blk(6), blk(3), &o);
	double t1 = now_ms();
	event("main", "pml_region_punch -> %s after %.1f ms: %s", cli_errname(rc),
	      t1 - t0, rc ? libmsg() : "");

	expect(rc == -ETIMEDOUT, "the punch returns -ETIMEDOUT", "%s", cli_errname(rc));
	expect(t1 - t0 >= FAIL_TIMEOUT_MS * 0.95 &&
	       t1 - t0 < FAIL_TIMEOUT_MS + PROCEED_BOUND_MS,
	       "after the timeout", "%.1f ms", t1 - t0);
	expect(breaks_of(&dev_d, PML_BREAK_LAYOUT) == 1,
	       "the holder was asked first (on_break LAYOUT)", "%u call(s)",
	       breaks_of(&dev_d, PML_BREAK_LAYOUT));
	expect(breaks_of(&dev_d, PML_BREAK_REVOKED) == 0 &&
	       pml_lease_revoked(dev_d.lease) == 0, "the lease is still live",
	       "pml_lease_revoked = %d", pml_lease_revoked(dev_d.lease));
	rc = pml_lease_get(dev_d.lease);
	expect(rc == 0, "pml_lease_get still works", "%s", cli_errname(rc));
	if (rc == 0) {
		rc = pml_lease_put(dev_d.lease);
		expect(rc == 0, "and its put", "%s", cli_errname(rc));
	}

	observe(&after, NBLOCKS);
	show(&after, NBLOCKS);
	expect(strcmp(before.data, after.data) == 0, "the data is exactly as before",
	       "%s", after.data);
	expect(strcmp(before.alloc, after.alloc) == 0 &&
	       before.st_blocks == after.st_blocks,
	       "the file's blocks are exactly as before",
	       "st_blocks %" PRIu64 " -> %" PRIu64, before.st_blocks, after.st_blocks);
	rc = pml_lease_acquire(&l, dm.region, blk(6), blk(3), PML_LEASE_PIN |
			       PML_LEASE_NOWAIT, NULL, NULL);
	expect(rc == 0, "new leases on the range are allowed again",
	       "acquire blocks 6-8 NOWAIT -> %s", cli_errname(rc));
	if (rc == 0)
		pml_lease_put(l);
	return 0;
}

int
scene_punch_revoke(void)
{
	struct file_view before, during, after;
	struct pml_lease *l = NULL;
	uint64_t q = UINT64_MAX;
	char s1[32], s2[32];

	step(5, "A punch that times out with PML_ON_TIMEOUT_REVOKE");
	say("The same punch with PML_ON_TIMEOUT_REVOKE goes ahead without dma-D:");
	say("its lease is revoked, blocks 6 and 8 are punched, and block 7, which");
	say("the stuck device may still write into, is quarantined: it stays the");
	say("file's, no new lease can cover it, and it is deallocated only when");
	say("dma-D's request finally completes and puts the lease.");

	observe(&before, NBLOCKS);
	untouch(6, 9);
	struct pml_barrier_opts o = { .timeout_ms = REVOKE_TIMEOUT_MS,
				      .on_timeout = PML_ON_TIMEOUT_REVOKE };
	double t0 = now_ms();
	event("main", "pml_region_punch(blocks 6-8, timeout %u ms, REVOKE)",
	      REVOKE_TIMEOUT_MS);
	int rc = pml_region_punch(dm.region, blk(6), blk(3), &o);
	double t1 = now_ms();
	event("main", "pml_region_punch -> %s after %.1f ms%s%s", cli_errname(rc),
	      t1 - t0, rc ? ": " : "", rc ? libmsg() : "");

	expect(rc == 0, "the punch returns 0", "%s", cli_errname(rc));
	expect(breaks_of(&dev_d, PML_BREAK_REVOKED) == 1,
	       "the holder is told: on_break(REVOKED)", "%u call(s)",
	       breaks_of(&dev_d, PML_BREAK_REVOKED));
	expect(pml_lease_revoked(dev_d.lease) == 1, "the lease is revoked",
	       "pml_lease_revoked = %d", pml_lease_revoked(dev_d.lease));
	rc = pml_lease_get(dev_d.lease);
	expect(rc == -ESTALE, "pml_lease_get on it returns -ESTALE", "%s",
	       cli_errname(rc));
	if (rc == 0)
		pml_lease_put(dev_d.lease);
	rc = pml_region_quarantined(&q, dm.region);
	expect(rc == 0 && q == dm.blk, "the block under it is quarantined",
	       "pml_region_quarantined = %s (%s)",
	       q == UINT64_MAX ? "?" : cli_size(s1, sizeof(s1), q), cli_errname(rc));

	rc = pml_lease_acquire(&l, dm.region, blk(7), 1, PML_LEASE_REF |
			       PML_LEASE_NOWAIT, NULL, NULL);
	expect(rc == -EAGAIN, "no new lease may cover a quarantined block",
	       "acquire 1 byte of block 7 NOWAIT -> %s", cli_errname(rc));
	if (rc == 0)
		pml_lease_put(l);
	rc = pml_lease_acquire(&l, dm.region, blk(6), dm.blk, PML_LEASE_PIN |
			       PML_LEASE_NOWAIT, NULL, NULL);
	expect(rc == 0, "its neighbours take leases again",
	       "acquire block 6 NOWAIT -> %s", cli_errname(rc));
	if (rc == 0)
		pml_lease_put(l);

	dm.model[6] = '0';
	dm.model[7] = '-';
	dm.model[8] = '0';
	observe(&during, NBLOCKS);
	show(&during, NBLOCKS);
	expect(data_matches_model(&during, NBLOCKS),
	       "blocks 6 and 8 read zero; 7 cannot be leased", "%s", during.data);
	expect(during.alloc[6] == '.' && during.alloc[7] == '#' &&
	       during.alloc[8] == '.',
	       "6 and 8 are deallocated, 7 stays allocated to the file",
	       "allocation of 6-8: %.3s; st_blocks %" PRIu64 " -> %" PRIu64,
	       during.alloc + 6, before.st_blocks, during.st_blocks);

	blank();
	say("Now dma-D's request completes, late:");
	pthread_mutex_lock(&dev_d.mu);
	dev_d.released = true;
	pthread_cond_broadcast(&dev_d.cv);
	while (dev_d.puts < dev_d.ios)
		pthread_cond_wait(&dev_d.cv, &dev_d.mu);
	double t_put = dev_d.t_put_ret;
	int put_rc = dev_d.put_errors ? dev_d.put_rc : 0;
	pthread_mutex_unlock(&dev_d.mu);
	pthread_join(dev_d.thread, NULL);
	dev_d.started = false;

	q = UINT64_MAX;
	rc = pml_region_quarantined(&q, dm.region);
	event("main", "after the put returned at +%.1f ms: "
	      "pml_region_quarantined = %s", t_put,
	      q == UINT64_MAX ? "?" : cli_size(s1, sizeof(s1), q));
	expect(put_rc == 0, "the late put of a revoked lease returns 0", "%s",
	       cli_errname(put_rc));
	expect(rc == 0 && q == 0, "the quarantine lifts with the last put",
	       "%s in quarantine", q == UINT64_MAX ? "?" : cli_size(s2, sizeof(s2), q));

	dm.model[7] = '0';
	observe(&after, NBLOCKS);
	show(&after, NBLOCKS);
	expect(data_matches_model(&after, NBLOCKS), "block 7 reads zero now",
	       "%s", after.data);
	expect(holes(&after, 6, 9),
	       "block 7 is handed back to the filesystem",
	       "allocation of 6-8: %.3s; st_blocks %" PRIu64 " -> %" PRIu64,
	       after.alloc + 6, during.st_blocks, after.st_blocks);
	return 0;
}

/* the database's own long-lived PIN, held across growth and at close */
static struct pml_lease *superblock;

int
scene_truncate(void)
{
	struct file_view v;
	struct pml_lease *e = NULL;
	char s1[32], s2[32];

	step(6, "Grow and shrink with pml_region_truncate");
	say("The database keeps a PIN on block 0 (its superblock, say).  Growing");
	say("maps the new part in place: the base and every leased pointer stay");
	say("valid.  Shrinking is a punch of the cut part: dma-C's PIN on blocks");
	say("10-11 is broken and waited for.");

	int rc = pml_lease_acquire(&e, dm.region, 0, dm.blk, PML_LEASE_PIN, NULL, NULL);
	if (!expect(rc == 0, "acquire a PIN on block 0", "%s", cli_errname(rc)))
		return -1;
	superblock = e;
	void *base0 = pml_region_base(dm.region);
	unsigned char *p0 = pml_lease_addr(e);

	double t0 = now_ms();
	rc = pml_region_truncate(dm.region, blk(GROWN_BLOCKS), NULL);
	double t1 = now_ms();
	event("main", "pml_region_truncate(%u blocks = %s) -> %s after %.1f ms",
	      GROWN_BLOCKS, cli_size(s1, sizeof(s1), blk(GROWN_BLOCKS)),
	      cli_errname(rc), t1 - t0);
	expect(rc == 0 && pml_region_size(dm.region) == blk(GROWN_BLOCKS),
	       "the region grows", "%s, size %s", cli_errname(rc),
	       cli_size(s2, sizeof(s2), pml_region_size(dm.region)));
	expect(pml_region_base(dm.region) == base0 && pml_lease_addr(e) == p0,
	       "the base and leased pointers do not move", "base %p, lease %p",
	       pml_region_base(dm.region), pml_lease_addr(e));
	expect(p0[0] == 'a' && p0[dm.blk - 1] == 'a',
	       "the leased block still reads its data", "'%c'", p0[0]);
	memset(dm.model + NBLOCKS, '0', GROWN_BLOCKS - NBLOCKS);
	observe(&v, GROWN_BLOCKS);
	show(&v, GROWN_BLOCKS);
	expect(v.st_size == blk(GROWN_BLOCKS), "the file grows with it",
	       "st_size %s", cli_size(s1, sizeof(s1), v.st_size));
	expect(data_matches_model(&v, GROWN_BLOCKS), "the new part reads zero",
	       "%s", v.data);

	blank();
	t0 = now_ms();
	event("main", "pml_region_truncate(%u blocks = %s)", SHRUNK_BLOCKS,
	      cli_size(s1, sizeof(s1), blk(SHRUNK_BLOCKS)));
	rc = pml_region_truncate(dm.region, blk(SHRUNK_BLOCKS), NULL);
	t1 = now_ms();
	event("main", "pml_region_truncate -> %s after %.1f ms%s%s",
	      cli_errname(rc), t1 - t0, rc ? ": " : "", rc ? libmsg() : "");
	expect(rc == 0 && pml_region_size(dm.region) == blk(SHRUNK_BLOCKS),
	       "the region shrinks", "%s, size %s", cli_errname(rc),
	       cli_size(s2, sizeof(s2), pml_region_size(dm.region)));
	pthread_mutex_lock(&dev_c.mu);
	unsigned c_puts = dev_c.puts_called;
	double c_put = dev_c.t_put_call;
	pthread_mutex_unlock(&dev_c.mu);
	expect(breaks_of(&dev_c, PML_BREAK_LAYOUT) == 1 && c_puts == dev_c.ios &&
	       t1 >= c_put, "the shrink broke dma-C's PIN and waited for its put",
	       "%u on_break call(s); put at +%.1f ms, truncate returned %.2f ms later",
	       breaks_of(&dev_c, PML_BREAK_LAYOUT), c_put, t1 - c_put);
	device_join(&dev_c);

	struct pml_lease *l = NULL;
	rc = pml_lease_acquire(&l, dm.region, blk(SHRUNK_BLOCKS), dm.blk,
			       PML_LEASE_PIN | PML_LEASE_NOWAIT, NULL, NULL);
	expect(rc < 0, "leases past the new end are refused", "%s: %s",
	       cli_errname(rc), rc ? libmsg() : "granted");
	if (rc == 0)
		pml_lease_put(l);

	observe(&v, SHRUNK_BLOCKS);
	show(&v, SHRUNK_BLOCKS);
	expect(v.st_size == blk(SHRUNK_BLOCKS), "the file shrinks with it",
	       "st_size %s", cli_size(s1, sizeof(s1), v.st_size));
	expect(data_matches_model(&v, SHRUNK_BLOCKS), "what is left is intact",
	       "%s", v.data);

	return 0;
}

int
scene_close(void)
{
	struct pml_lease *e = superblock;

	step(8, "Close");
	int rc = pml_region_close(&dm.region);
	expect(rc == -EBUSY && dm.region != NULL,
	       "close is refused while a lease is live", "%s: %s", cli_errname(rc),
	       rc ? libmsg() : "closed");
	if (dm.region == NULL)
		return -1;
	rc = pml_lease_put(e);
	superblock = NULL;
	expect(rc == 0, "put the PIN on block 0", "%s", cli_errname(rc));
	rc = pml_region_close(&dm.region);
	expect(rc == 0 && dm.region == NULL, "then close succeeds and clears the pointer",
	       "%s", cli_errname(rc));
	return 0;
}

void
scenes_teardown(void)
{
	if (superblock != NULL) {
		pml_lease_put(superblock);
		superblock = NULL;
	}
}
