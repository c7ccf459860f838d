/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * devdax_barrier.c -- the lease-drain barrier on a real device-dax device,
 * which cannot deallocate: a punch zeroes and persists the range instead,
 * after waiting for every lease over it, exactly as on a file.
 *
 * The host suite (tests/test_barrier.c and friends) runs on files only --
 * its devdax case would write at offset 0 of a shared device -- so the
 * devdax semantics are checked here, inside this test's 16 MiB slot of
 * /dev/dax0.0 (8 units of the device's 2 MiB alignment):
 *
 *   - a punch zeroes the range on the media (read back through a second,
 *     independent libpmem2 mapping of the device), and nothing else;
 *   - it waits for the PIN and REF leases over the range: on_break
 *     (PML_BREAK_LAYOUT) reaches the PIN, and what the "device" writes
 *     before its last put is zeroed too; leases elsewhere (up to the
 *     range's edge) go on meanwhile, untouched; acquires over it wait;
 *   - PML_ON_TIMEOUT_FAIL gives -ETIMEDOUT and changes nothing;
 *     PML_ON_TIMEOUT_REVOKE revokes, zeroes what no revoked lease covers,
 *     quarantines the rest until the last put, then zeroes it;
 *   - a lease held by another process (sharing the lease state through
 *     the runtime directory /run/pmemlease, the default for root) is waited
 *     for just the same, and its on_break runs in that process;
 *   - truncate is refused with -EOPNOTSUPP; a punch not aligned to 2 MiB
 *     with -EINVAL, zeroing nothing;
 *   - phase 2 (after the power cut): the zeroes and the data around them
 *     are on the media.
 */
#include "pmlvm.h"

#include <dirent.h>
#include <fcntl.h>
#include <libpmem2.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define A (2 * PMLVM_MiB)	/* the namespace's alignment (-a 2M) */
#define NUNITS 8		/* the slot: 16 MiB */
#define SEED 0x44415842ULL	/* "DAXB" */
#define SETTLE_MS 300		/* time for a wrong punch to go ahead */
#define DEADLINE_MS 10000	/* what must happen, happens by then */
#define RUNTIME_DIR "/run/pmemlease"

static struct {
	struct pml_region *r;
	uint8_t *base;		/* the library's mapping of the slot */
	/* the same media through libpmem2, not through pmemlease */
	int fd;
	struct pmem2_source *src;
	struct pmem2_config *cfg;
	struct pmem2_map *map;
	uint8_t *media;
	uint8_t *buf;		/* one unit of pattern */
} g;

/*
 * Every punch is bounded (FAIL policy): a punch that waits for what it
 * should not fails its test with -ETIMEDOUT instead of hanging the rest.
 */
static const struct pml_barrier_opts bounded = { .timeout_ms = DEADLINE_MS };

static uint64_t unit(unsigned i)
{
	return pmlvm.slot_offset + (uint64_t)i * A;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* unit i holds pattern i, persisted through the library */
static void fill(unsigned i)
{
	pmlvm_pattern(g.buf, A, SEED + i, 0);
	PML_OK(pml_region_memcpy(g.r, g.base + (uint64_t)i * A, g.buf, A, 0));
}

/* fail unless unit i holds pattern i, through both mappings */
static void has_pattern(unsigned i, const char *when)
{
	size_t bad = pmlvm_pattern_check(g.base + (uint64_t)i * A, A,
		SEED + i, 0);

	if (bad != (size_t)-1)
		fail_msg("%s: unit %u lost its data at byte %zu", when, i, bad);
	if (g.media != NULL && memcmp(g.media + (uint64_t)i * A,
			g.base + (uint64_t)i * A, A) != 0)
		fail_msg("%s: unit %u differs between the region and the "
			"device", when, i);
}

static size_t nonzero(const uint8_t *p, size_t len)
{
	for (size_t k = 0; k < len; k++)
		if (p[k] != 0)
			return k;
	return (size_t)-1;
}

/* fail unless unit i reads zeroes, through both mappings */
static void is_zero(unsigned i, const char *when)
{
	size_t bad = nonzero(g.base + (uint64_t)i * A, A);

	if (bad != (size_t)-1)
		fail_msg("%s: unit %u byte %zu is %#x in the region, not 0",
			when, i, bad, g.base[(uint64_t)i * A + bad]);
	if (g.media == NULL)
		return;
	bad = nonzero(g.media + (uint64_t)i * A, A);
	if (bad != (size_t)-1)
		fail_msg("%s: unit %u byte %zu is %#x on the device (second "
			"mapping), not 0", when, i, bad,
			g.media[(uint64_t)i * A + bad]);
}

/* ------------------------------------------------------------- set-up */

static int setup(void **state)
{
	struct pml_region_info info;

	(void)state;
	memset(&g, 0, sizeof(g));
	g.fd = -1;
	if (pml_region_open(&g.r, pmlvm.devdax, NULL) != 0) {
		print_error("pml_region_open(%s): %s\n", pmlvm.devdax,
			pml_errormsg());
		return -1;
	}
	if (pml_region_info(&info, g.r) != 0 ||
	    info.kind != PML_REGION_DEVDAX || info.alignment != A ||
	    pmlvm.slot_size < NUNITS * A || pmlvm.slot_offset % A != 0 ||
	    info.size < pmlvm.slot_offset + NUNITS * A) {
		print_error("%s is not the devdax device with 2 MiB alignment "
			"and our slot this test expects (kind %d, alignment "
			"%llu, size %llu; slot at %llu)\n", pmlvm.devdax,
			info.kind, (unsigned long long)info.alignment,
			(unsigned long long)info.size,
			(unsigned long long)pmlvm.slot_offset);
		return -1;
	}
	g.base = (uint8_t *)info.base + pmlvm.slot_offset;
	g.buf = malloc(A);

	/* the slot again, mapped by libpmem2 alone */
	g.fd = open(pmlvm.devdax, O_RDWR);
	if (g.fd < 0 || pmem2_source_from_fd(&g.src, g.fd) != 0 ||
	    pmem2_config_new(&g.cfg) != 0 ||
	    pmem2_config_set_required_store_granularity(g.cfg,
		PMEM2_GRANULARITY_PAGE) != 0 ||
	    pmem2_config_set_offset(g.cfg, pmlvm.slot_offset) != 0 ||
	    pmem2_config_set_length(g.cfg, NUNITS * A) != 0 ||
	    pmem2_map_new(&g.map, g.cfg, g.src) != 0) {
		print_error("a second mapping of %s: %s\n", pmlvm.devdax,
			pmem2_errormsg());
		return -1;
	}
	g.media = pmem2_map_get_address(g.map);
	return g.buf == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	if (g.map != NULL)
		pmem2_map_delete(&g.map);
	pmem2_config_delete(&g.cfg);
	pmem2_source_delete(&g.src);
	if (g.fd >= 0)
		close(g.fd);
	free(g.buf);
	if (g.r != NULL && pml_region_close(&g.r) != 0) {
		print_error("pml_region_close: %s\n", pml_errormsg());
		return -1;
	}
	return 0;
}

/* ------------------------------------------------- leases and threads */

/*
 * The tests keep their holders and punches in static storage: a test that
 * fails half-way leaves leases and a punch thread behind, whose callbacks
 * must not write into its dead stack frame.
 */
struct holder {
	struct pml_lease *lease;
	atomic_int layout;
	atomic_int revoked;
};

static void on_break(struct pml_lease *lease, enum pml_break_reason why,
		void *arg)
{
	struct holder *h = arg;

	(void)lease;
	if (why == PML_BREAK_LAYOUT)
		atomic_fetch_add(&h->layout, 1);
	else if (why == PML_BREAK_REVOKED)
		atomic_fetch_add(&h->revoked, 1);
}

static const struct pml_lease_ops holder_ops = { .on_break = on_break };

static void hold(struct holder *h, uint64_t off, uint64_t len, unsigned fl)
{
	memset(h, 0, sizeof(*h));
	PML_OK(pml_lease_acquire(&h->lease, g.r, off, len, fl, &holder_ops,
		h));
}

/* wait until *v >= want, at most DEADLINE_MS */
static void wait_for(atomic_int *v, int want, const char *what)
{
	uint64_t end = now_ms() + DEADLINE_MS;

	while (atomic_load(v) < want) {
		if (now_ms() > end)
			fail_msg("waited %d ms for %s", DEADLINE_MS, what);
		sleep_ms(5);
	}
}

/* a punch in another thread */
struct async_punch {
	pthread_t thread;
	uint64_t off, len;
	struct pml_barrier_opts opts;
	int rc;
	atomic_int done;
};

static void *punch_main(void *arg)
{
	struct async_punch *p = arg;

	p->rc = pml_region_punch(g.r, p->off, p->len, &p->opts);
	if (p->rc != 0)
		fprintf(stderr, "async punch: %s\n", pml_errormsg());
	atomic_store(&p->done, 1);
	return NULL;
}

static void punch_start(struct async_punch *p, uint64_t off, uint64_t len)
{
	memset(p, 0, sizeof(*p));
	p->off = off;
	p->len = len;
	p->opts = bounded;
	assert_int_equal(pthread_create(&p->thread, NULL, punch_main, p), 0);
}

/* the punch has not returned, even given time */
static void punch_still_waits(struct async_punch *p, const char *why)
{
	sleep_ms(SETTLE_MS);
	if (atomic_load(&p->done))
		fail_msg("the punch returned %d while %s", p->rc, why);
}

static int punch_finish(struct async_punch *p)
{
	/* (it gives up by itself after DEADLINE_MS) */
	while (!atomic_load(&p->done))
		sleep_ms(5);
	pthread_join(p->thread, NULL);
	return p->rc;
}

/* -------------------------------------------------------------- tests */

static void test_punch_zeroes(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 4; i++)
		fill(i);
	PML_OK(pml_region_punch(g.r, unit(1), 2 * A, &bounded));
	is_zero(1, "after the punch");
	is_zero(2, "after the punch");
	has_pattern(0, "before the punched range");
	has_pattern(3, "after the punched range");
}

static void test_punch_waits_for_leases(void **state)
{
	static struct holder pin, ref;
	static struct async_punch p;

	(void)state;
	fill(0);
	fill(1);
	/* a PIN inside the unit, unaligned, and a REF on its last byte */
	hold(&pin, unit(0) + 4096, 8192, PML_LEASE_PIN);
	hold(&ref, unit(0) + A - 1, 1, PML_LEASE_REF);
	punch_start(&p, unit(0), A);
	wait_for(&pin.layout, 1, "on_break(PML_BREAK_LAYOUT) of the PIN");
	punch_still_waits(&p, "a PIN and a REF were held over its range");
	has_pattern(0, "while the punch waits");

	/* the device's last DMA, then its completion */
	memset(pml_lease_addr(pin.lease), 0xab, 8192);
	PML_OK(pml_lease_put(pin.lease));
	punch_still_waits(&p, "a REF was held over its range");
	assert_int_equal(atomic_load(&ref.layout), 0);	/* never broken */
	*(volatile uint8_t *)pml_lease_addr(ref.lease) = 0xcd;
	PML_OK(pml_lease_put(ref.lease));

	PML_OK(punch_finish(&p));
	assert_int_equal(atomic_load(&pin.layout), 1);
	assert_int_equal(atomic_load(&pin.revoked), 0);
	is_zero(0, "after the punch that waited (the last writes too)");
	has_pattern(1, "next to the punched unit");
}

static void test_disjoint_proceeds(void **state)
{
	static struct holder pin, far, next, ref;
	static struct async_punch p;
	struct pml_lease *l = NULL;

	(void)state;
	for (unsigned i = 0; i < 4; i++)
		fill(i);
	hold(&far, unit(3), A, PML_LEASE_PIN);
	hold(&pin, unit(1), 1, PML_LEASE_PIN);
	punch_start(&p, unit(1), A);
	wait_for(&pin.layout, 1, "on_break of the PIN over the punch");

	/* while the punch waits, leases right next to its range go on */
	hold(&next, unit(2), A, PML_LEASE_PIN | PML_LEASE_NOWAIT);
	hold(&ref, unit(1) - 1, 1, PML_LEASE_REF | PML_LEASE_NOWAIT);
	memset(pml_lease_addr(next.lease), 0x11, 4096);
	*(uint8_t *)pml_lease_addr(ref.lease) = 0x22;
	PML_OK(pml_lease_put(ref.lease));
	/* ... leases over it do not */
	PML_ERR(pml_lease_acquire(&l, g.r, unit(1) + A - 1, 1,
		PML_LEASE_NOWAIT, NULL, NULL), EAGAIN);
	punch_still_waits(&p, "its PIN was held");

	PML_OK(pml_lease_put(pin.lease));
	PML_OK(punch_finish(&p));
	is_zero(1, "after the punch");
	/* none of the leases beside it was broken, nor their data touched */
	assert_int_equal(atomic_load(&far.layout), 0);
	assert_int_equal(atomic_load(&next.layout), 0);
	assert_int_equal(pml_lease_revoked(far.lease), 0);
	assert_int_equal(g.media[2 * A], 0x11);
	assert_int_equal(g.media[A - 1], 0x22);
	fill(0);
	fill(2);
	has_pattern(3, "under a lease the punch did not overlap");
	PML_OK(pml_lease_put(next.lease));
	PML_OK(pml_lease_put(far.lease));
}

static void test_timeout_fail(void **state)
{
	static struct holder pin, ref;
	struct pml_barrier_opts o = { .timeout_ms = 200,
		.on_timeout = PML_ON_TIMEOUT_FAIL };
	uint64_t q = 1;

	(void)state;
	fill(5);
	hold(&pin, unit(5) + A - 4096, 4096, PML_LEASE_PIN);
	PML_ERR(pml_region_punch(g.r, unit(5), A, &o), ETIMEDOUT);
	assert_int_equal(atomic_load(&pin.layout), 1);
	assert_int_equal(pml_lease_revoked(pin.lease), 0);
	PML_OK(pml_region_quarantined(&q, g.r));
	assert_int_equal(q, 0);
	has_pattern(5, "after a punch that timed out (FAIL)");
	/* the lease is still live, and the range open to new ones */
	PML_OK(pml_lease_get(pin.lease));
	PML_OK(pml_lease_put(pin.lease));
	hold(&ref, unit(5), 1, PML_LEASE_REF | PML_LEASE_NOWAIT);
	PML_OK(pml_lease_put(ref.lease));
	/* once it is put, the same punch goes through */
	PML_OK(pml_lease_put(pin.lease));
	PML_OK(pml_region_punch(g.r, unit(5), A, &o));
	is_zero(5, "after the punch, the lease put");
}

static void test_timeout_revoke(void **state)
{
	static struct holder pin;
	struct pml_barrier_opts o = { .timeout_ms = 200,
		.on_timeout = PML_ON_TIMEOUT_REVOKE };
	struct pml_lease *l = NULL;
	uint64_t q = 0;

	(void)state;
	fill(6);
	fill(7);
	hold(&pin, unit(6) + 100, 10, PML_LEASE_PIN);
	PML_OK(pml_region_punch(g.r, unit(6), 2 * A, &o));
	assert_int_equal(atomic_load(&pin.layout), 1);
	assert_int_equal(atomic_load(&pin.revoked), 1);
	assert_int_equal(pml_lease_revoked(pin.lease), 1);
	PML_ERR(pml_lease_get(pin.lease), ESTALE);
	/* what no revoked lease covers is zeroed now */
	is_zero(7, "beside the revoked lease");
	/* its unit is quarantined: kept, closed to new leases */
	PML_OK(pml_region_quarantined(&q, g.r));
	if (q < 10 || q > A)
		fail_msg("%llu bytes quarantined under a revoked 10-byte "
			"lease; expected its 2 MiB unit at most",
			(unsigned long long)q);
	PML_ERR(pml_lease_acquire(&l, g.r, unit(6) + A - 1, 1,
		PML_LEASE_NOWAIT, NULL, NULL), EAGAIN);
	/* the device goes on writing through the revoked lease */
	memset(pml_lease_addr(pin.lease), 0xee, 10);
	PML_OK(pml_lease_put(pin.lease));
	PML_OK(pml_region_quarantined(&q, g.r));
	assert_int_equal(q, 0);
	is_zero(6, "after the last put of the revoked lease");
	PML_OK(pml_lease_acquire(&l, g.r, unit(6), A, PML_LEASE_NOWAIT, NULL,
		NULL));
	PML_OK(pml_lease_put(l));
}

static void test_truncate_refused(void **state)
{
	uint64_t size = pml_region_size(g.r);

	(void)state;
	fill(0);
	PML_ERR(pml_region_truncate(g.r, size - A, NULL), EOPNOTSUPP);
	PML_ERR(pml_region_truncate(g.r, size, NULL), EOPNOTSUPP);
	PML_ERR(pml_region_truncate(g.r, size + A, NULL), EOPNOTSUPP);
	PML_ERR(pml_region_truncate(g.r, 0, NULL), EOPNOTSUPP);
	assert_int_equal(pml_region_size(g.r), size);
	has_pattern(0, "after the refused truncates");
}

static void test_misaligned_punch(void **state)
{
	static const struct { uint64_t off, len; } bad[] = {
		{ 4096, A },		/* offset: a page, not 2 MiB */
		{ 0, 4096 },		/* length: a page */
		{ 0, A / 2 },
		{ A / 2, A / 2 },
		{ 0, A + 4096 },
	};

	(void)state;
	fill(0);
	fill(1);
	for (size_t k = 0; k < PMLVM_N(bad); k++)
		PML_ERR(pml_region_punch(g.r, unit(0) + bad[k].off,
			bad[k].len, &bounded), EINVAL);
	has_pattern(0, "after the refused punches");
	has_pattern(1, "after the refused punches");
}

/* ------------------------------------- a lease held by another process */

/*
 * The holder: `devdax_barrier --holder OFFSET`, a process of its own (the
 * DMA engine of another program, say).  It opens the device, takes a PIN
 * on [OFFSET, OFFSET + 4096) and says 'A' on stdout; its on_break (run in
 * its own agent thread) says 'B'.  When it reads 'P' on stdin it writes
 * 0xcd over the range (the last DMA), puts the lease, says 'C', closes the
 * region and exits 0.
 */
static void say(char c)
{
	if (write(STDOUT_FILENO, &c, 1) != 1)
		_exit(3);
}

static void holder_on_break(struct pml_lease *lease,
		enum pml_break_reason why, void *arg)
{
	(void)lease;
	(void)arg;
	say(why == PML_BREAK_LAYOUT ? 'B' : 'R');
}

static int holder_main(const char *arg)
{
	static const struct pml_lease_ops ops = { .on_break = holder_on_break };
	struct pml_region *r = NULL;
	struct pml_lease *l = NULL;
	uint64_t off = strtoull(arg, NULL, 0);
	char c = 0;

	if (pml_region_open(&r, getenv("PMLVM_DEVDAX"), NULL) != 0 ||
	    pml_lease_acquire(&l, r, off, 4096, PML_LEASE_PIN, &ops,
		NULL) != 0) {
		fprintf(stderr, "holder: %s\n", pml_errormsg());
		return 1;
	}
	say('A');
	if (read(STDIN_FILENO, &c, 1) != 1 || c != 'P')
		fprintf(stderr, "holder: no 'P' from the test\n");
	memset(pml_lease_addr(l), 0xcd, 4096);
	if (pml_region_persist(r, pml_lease_addr(l), 4096) != 0 ||
	    pml_lease_put(l) != 0) {
		fprintf(stderr, "holder: %s\n", pml_errormsg());
		return 1;
	}
	say('C');
	if (pml_region_close(&r) != 0) {
		fprintf(stderr, "holder: close: %s\n", pml_errormsg());
		return 1;
	}
	return c == 'P' ? 0 : 1;
}

/* read one byte from the holder within DEADLINE_MS; it must be want */
static void expect(int fd, char want, const char *what)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&pfd, 1, DEADLINE_MS) != 1)
		fail_msg("waited %d ms for %s", DEADLINE_MS, what);
	if (read(fd, &c, 1) != 1)
		fail_msg("the holder process went away before %s", what);
	if (c != want)
		fail_msg("the holder said '%c', expected '%c' (%s)", c, want,
			what);
}

/* the runtime directory the library uses by default for root */
static void check_runtime_dir(void)
{
	struct stat st;
	struct dirent *e;
	DIR *d;
	int nstate = 0;

	if (getenv("PMEMLEASE_RUNTIME_DIR") != NULL || geteuid() != 0)
		fail_msg("the guest test runs with PMEMLEASE_RUNTIME_DIR set "
			"or not as root: the default %s is not what is tested",
			RUNTIME_DIR);
	if (stat(RUNTIME_DIR, &st) != 0)
		fail_msg("stat %s: %s", RUNTIME_DIR, strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		fail_msg("%s: mode %o, uid %u: not a directory of root's that "
			"only root writes", RUNTIME_DIR,
			(unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
	d = opendir(RUNTIME_DIR);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);

		if (n > 6 && strcmp(e->d_name + n - 6, ".state") == 0)
			nstate++;
	}
	closedir(d);
	if (nstate == 0)
		fail_msg("no state file in %s while two processes have the "
			"device open", RUNTIME_DIR);
	print_message("%s: %d state file(s)\n", RUNTIME_DIR, nstate);
}

static void test_other_process(void **state)
{
	int to[2], from[2], st;
	char off[32];
	static struct async_punch p;
	pid_t pid;

	(void)state;
	fill(4);
	assert_int_equal(pipe(to), 0);
	assert_int_equal(pipe(from), 0);
	snprintf(off, sizeof(off), "%llu",
		(unsigned long long)(unit(4) + 3 * 4096));
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(to[0], STDIN_FILENO);
		dup2(from[1], STDOUT_FILENO);
		close(to[1]);
		close(from[0]);
		execl("/proc/self/exe", "devdax_barrier", "--holder", off,
			(char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);

	expect(from[0], 'A', "the holder's lease");
	check_runtime_dir();
	punch_start(&p, unit(4), A);
	expect(from[0], 'B', "on_break(PML_BREAK_LAYOUT) in the holder");
	punch_still_waits(&p, "another process held a PIN over its range");
	has_pattern(4, "while the punch waits for the other process");
	assert_int_equal(write(to[1], "P", 1), 1);
	expect(from[0], 'C', "the holder's put");
	PML_OK(punch_finish(&p));
	is_zero(4, "after the punch that waited for another process (its "
		"last write too)");

	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("the holder process ended with status %#x", st);
	close(to[1]);
	close(from[0]);
}

/* ---------------------------------------- what phase 2 must find */

#define ZEROED(i) ((i) == 1 || (i) == 2 || (i) == 5)

static void test_leave_layout(void **state)
{
	(void)state;
	for (unsigned i = 0; i < NUNITS; i++)
		fill(i);
	PML_OK(pml_region_punch(g.r, unit(1), 2 * A, &bounded));
	PML_OK(pml_region_punch(g.r, unit(5), A, &bounded));
	for (unsigned i = 0; i < NUNITS; i++) {
		if (ZEROED(i))
			is_zero(i, "phase 1, after the punches");
		else
			has_pattern(i, "phase 1, after the punches");
	}
}

static void test_layout_survived(void **state)
{
	(void)state;
	for (unsigned i = 0; i < NUNITS; i++) {
		if (ZEROED(i))
			is_zero(i, "after the power cut");
		else
			has_pattern(i, "after the power cut");
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest phase1[] = {
		cmocka_unit_test(test_punch_zeroes),
		cmocka_unit_test(test_punch_waits_for_leases),
		cmocka_unit_test(test_disjoint_proceeds),
		cmocka_unit_test(test_timeout_fail),
		cmocka_unit_test(test_timeout_revoke),
		cmocka_unit_test(test_truncate_refused),
		cmocka_unit_test(test_misaligned_punch),
		cmocka_unit_test(test_other_process),
		cmocka_unit_test(test_leave_layout),
	};
	const struct CMUnitTest phase2[] = {
		cmocka_unit_test(test_layout_survived),
	};

	if (argc == 3 && strcmp(argv[1], "--holder") == 0)
		return holder_main(argv[2]);
	pmlvm_init(argc, argv);
	if (pmlvm.target != PMLVM_DEVDAX) {
		fprintf(stderr, "devdax_barrier: devdax only\n");
		return 2;
	}
	if (pmlvm.phase == 1)
		return _cmocka_run_group_tests("devdax_barrier phase 1",
			phase1, PMLVM_N(phase1), setup, teardown) ? 1 : 0;
	return _cmocka_run_group_tests("devdax_barrier phase 2", phase2,
		PMLVM_N(phase2), setup, teardown) ? 1 : 0;
}
