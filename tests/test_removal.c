/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_removal -- pml_region_revoke, the monitor's SIGBUS path and uevent
 * fd, and the safe copies, on plain files (the guest tier does the real
 * devices: tests/vm/guest/removal.c and poison.c).
 *
 * What is checked is the header's contract, from outside:
 *   - revoke tells every lease, PIN and REF, with the reason given, in the
 *     calling thread; waits up to the grace period for puts, and returns as
 *     soon as the last one comes; revokes what is still held after it;
 *     every call on the region and its leases then says -ENODEV, a put still
 *     lets go, close is -EBUSY until then; the old addresses are anonymous
 *     memory that no longer reaches the file;
 *   - a file truncated behind the library's back (by another process, with
 *     a raw ftruncate) faults with BUS_ADRERR: the monitor's handler lets
 *     the access complete, the region is revoked, on_break(PML_BREAK_REMOVE)
 *     runs, and a SIGBUS outside every region still reaches the handler that
 *     was there before pml_monitor_start();
 *   - pml_monitor_fd() is a non-blocking pollable socket;
 *   - pml_region_read/write round-trip and refuse ranges outside the region.
 */
#include "common.h"

#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NPAGES 16
#define SEED 0x52454d56U	/* "REMV" */

static uint64_t A;

struct fix {
	char path[4200];
	struct pml_region *r;
	uint64_t size;
};

/* ------------------------------------------------------------ holders */

/*
 * A lease whose on_break records every reason it is told and on which
 * thread, and puts the lease there unless told to keep it (a holder that
 * does not answer, so the grace period runs out).
 */
struct holder {
	struct pml_lease *lease;
	atomic_int n_break;
	atomic_int reason;		/* the last reason told */
	atomic_int n_bad;		/* calls with another lease pointer */
	atomic_int cb_put_rc;		/* rc of the put inside on_break */
	pthread_t cb_thread;
	bool keep;			/* do not put from on_break */
};

static void holder_break(struct pml_lease *lease, enum pml_break_reason why,
		void *arg)
{
	struct holder *h = arg;

	if (lease != h->lease)
		atomic_fetch_add(&h->n_bad, 1);
	h->cb_thread = pthread_self();
	atomic_store(&h->reason, (int)why);
	if (!h->keep)
		atomic_store(&h->cb_put_rc, pml_lease_put(lease));
	/* counted last: whoever sees the count sees the rest */
	atomic_fetch_add(&h->n_break, 1);
	pmlt_event();
}

static const struct pml_lease_ops holder_ops = { .on_break = holder_break };

static void hold(struct holder *h, struct pml_region *r, uint64_t off,
		uint64_t len, unsigned flags, bool keep)
{
	memset(h, 0, sizeof(*h));
	h->keep = keep;
	PMLT_OK(pml_lease_acquire(&h->lease, r, off, len, flags, &holder_ops,
		h));
}

/* ------------------------------------------------------------- set-up */

static int setup(void **state)
{
	static unsigned n;
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	if (A == 0)
		A = pmlt_probe_alignment();
	snprintf(f->path, sizeof(f->path), "%s/removal-%u.dat", pmlt_dir(),
		n++);
	f->size = NPAGES * A;
	pmlt_make_file(f->path, f->size, SEED);
	f->r = pmlt_open(f->path, 0, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	/* a test that failed half-way may leave the region busy: leak it */
	if (f->r != NULL && pml_region_close(&f->r) != 0)
		print_message("teardown: %s left open: %s\n", f->path,
			pml_errormsg());
	if (getenv("PML_TEST_KEEP") == NULL)
		unlink(f->path);
	free(f);
	return 0;
}

static void file_has_pattern(struct fix *f, const char *when)
{
	uint8_t *buf = malloc(f->size);
	int64_t bad;

	assert_non_null(buf);
	pmlt_read_file(f->path, 0, buf, f->size);
	bad = pmlt_check_pattern(buf, 0, f->size, SEED);
	free(buf);
	if (bad >= 0)
		fail_msg("%s: the file differs from its pattern at byte %"
			PRId64, when, bad);
}

/* ------------------------------------------------- revoke: the basics */

static void test_revoke_tells_pin_and_ref(void **state)
{
	static const enum pml_break_reason reasons[] = {
		PML_BREAK_REMOVE, PML_BREAK_POISON, PML_BREAK_REVOKED,
	};
	struct fix *f = *state;

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		struct holder pin, ref;

		if (f->r == NULL)
			f->r = pmlt_open(f->path, 0, 0);
		hold(&pin, f->r, 0, A + 17, PML_LEASE_PIN, false);
		hold(&ref, f->r, 3 * A + 5, 100, PML_LEASE_REF, false);
		PMLT_RC(0, pml_region_revoked(f->r));

		PMLT_OK(pml_region_revoke(f->r, reasons[i], 5000));

		/* both told once, with the reason, in this very thread */
		assert_int_equal(atomic_load(&pin.n_break), 1);
		assert_int_equal(atomic_load(&ref.n_break), 1);
		assert_int_equal(atomic_load(&pin.reason), (int)reasons[i]);
		assert_int_equal(atomic_load(&ref.reason), (int)reasons[i]);
		assert_int_equal(atomic_load(&pin.n_bad), 0);
		assert_int_equal(atomic_load(&ref.n_bad), 0);
		assert_true(pthread_equal(pin.cb_thread, pthread_self()));
		assert_true(pthread_equal(ref.cb_thread, pthread_self()));
		/* no library lock held in on_break: the puts there worked */
		PMLT_RC(0, atomic_load(&pin.cb_put_rc));
		PMLT_RC(0, atomic_load(&ref.cb_put_rc));

		PMLT_RC(1, pml_region_revoked(f->r));
		/* every lease was put: close frees it at once */
		PMLT_OK(pml_region_close(&f->r));
		assert_null(f->r);
		file_has_pattern(f, "after a revoke");
	}
}

/* a region nobody leases is revoked at once, grace or not */
static void test_revoke_no_leases(void **state)
{
	struct fix *f = *state;
	uint64_t t0 = pmlt_now_ns();

	PMLT_OK(pml_region_revoke(f->r, PML_BREAK_REMOVE, 10000));
	/* nothing to wait for: the grace period is not slept through */
	if (pmlt_now_ns() - t0 > 5000000000ULL)
		fail_msg("revoke with no leases took %" PRIu64 " ms",
			(pmlt_now_ns() - t0) / 1000000);
	PMLT_RC(1, pml_region_revoked(f->r));
	PMLT_OK(pml_region_close(&f->r));
}

struct late_put {
	struct pml_lease *lease;
	unsigned delay_ms;
	uint64_t put_ns;
	int rc;
};

static int late_put_main(void *arg)
{
	struct late_put *p = arg;

	pmlt_sleep_ms(p->delay_ms);
	p->put_ns = pmlt_now_ns();
	p->rc = pml_lease_put(p->lease);
	return 0;
}

/* the grace period ends as soon as the last lease is put, not later */
static void test_revoke_grace_waits_for_put(void **state)
{
	struct fix *f = *state;
	struct holder h;
	struct late_put p;
	struct pmlt_async a;
	uint64_t t0, t1;

	hold(&h, f->r, A, A, PML_LEASE_PIN, true);
	p = (struct late_put){ .lease = h.lease, .delay_ms = 300 };
	t0 = pmlt_now_ns();
	pmlt_async_start(&a, late_put_main, &p);
	PMLT_OK(pml_region_revoke(f->r, PML_BREAK_REMOVE, 20000));
	t1 = pmlt_now_ns();
	PMLT_OK(pmlt_async_finish(&a, "the late put"));

	assert_int_equal(atomic_load(&h.n_break), 1);
	assert_int_equal(atomic_load(&h.reason), PML_BREAK_REMOVE);
	if (t1 < p.put_ns)
		fail_msg("revoke returned %" PRIu64 " ms before the put it "
			"had to wait for", (p.put_ns - t1) / 1000000);
	if (t1 - t0 > 15000000000ULL)
		fail_msg("revoke slept through its grace period (%" PRIu64
			" ms) although the lease was put after 300 ms",
			(t1 - t0) / 1000000);
	/* put inside the grace period: an ordinary put, not a revoked one */
	PMLT_OK(p.rc);
	PMLT_RC(1, pml_region_revoked(f->r));
	PMLT_OK(pml_region_close(&f->r));
}

/* a holder that never answers: revoked after the grace period */
static void test_revoke_after_grace(void **state)
{
	struct fix *f = *state;
	struct holder pin, ref;
	uint8_t *base = pml_region_base(f->r);
	uint64_t t0, ms;
	uint8_t b;

	assert_non_null(base);
	hold(&pin, f->r, 2 * A, 2 * A, PML_LEASE_PIN, true);
	hold(&ref, f->r, 5 * A, 10, PML_LEASE_REF, true);
	t0 = pmlt_now_ns();
	PMLT_OK(pml_region_revoke(f->r, PML_BREAK_REMOVE, 400));
	ms = (pmlt_now_ns() - t0) / 1000000;
	if (ms < 350)
		fail_msg("revoke returned after %" PRIu64 " ms: it did not "
			"wait the grace period of 400 ms for the leases", ms);
	assert_int_equal(atomic_load(&pin.n_break), 1);
	assert_int_equal(atomic_load(&ref.n_break), 1);

	PMLT_RC(1, pml_lease_revoked(pin.lease));
	PMLT_RC(1, pml_lease_revoked(ref.lease));
	PMLT_RC(-ENODEV, pml_lease_get(pin.lease));
	PMLT_RC(-ENODEV, pml_lease_get(ref.lease));

	/*
	 * The old addresses are anonymous memory now: a straggling store
	 * faults nothing and no longer reaches the file.
	 */
	base[2 * A] = (uint8_t)~pmlt_pattern(SEED, 2 * A);
	b = base[2 * A];
	assert_int_equal(b, (uint8_t)~pmlt_pattern(SEED, 2 * A));
	file_has_pattern(f, "after a store to a revoked mapping");

	/* still held: the region cannot go */
	PMLT_RC(-EBUSY, pml_region_close(&f->r));
	assert_non_null(f->r);
	/* a put says -ENODEV but lets go; the second lease keeps it busy */
	PMLT_RC(-ENODEV, pml_lease_put(pin.lease));
	PMLT_RC(-EBUSY, pml_region_close(&f->r));
	PMLT_RC(-ENODEV, pml_lease_put(ref.lease));
	PMLT_OK(pml_region_close(&f->r));
	assert_null(f->r);
	file_has_pattern(f, "after the revoked leases were put");
}

/* after a revoke every call says -ENODEV but revoked() and close() */
static void test_revoked_region_calls(void **state)
{
	struct fix *f = *state;
	struct pml_region_info info;
	struct pml_lease *l = NULL;
	struct pml_badblock bb[4];
	size_t n = 4;
	uint64_t q;
	uint8_t buf[64];
	uint8_t *base = pml_region_base(f->r);
	struct holder h;

	hold(&h, f->r, 0, 64, PML_LEASE_PIN, true);
	PMLT_OK(pml_region_revoke(f->r, PML_BREAK_REVOKED, 0));
	PMLT_RC(1, pml_lease_revoked(h.lease));

	PMLT_RC(-ENODEV, pml_lease_acquire(&l, f->r, 4 * A, 8, PML_LEASE_PIN,
		NULL, NULL));
	assert_null(l);
	PMLT_RC(-ENODEV, pml_lease_acquire(&l, f->r, 4 * A, 8, PML_LEASE_REF,
		NULL, NULL));
	PMLT_RC(-ENODEV, pml_lease_acquire(&l, f->r, 4 * A, 8,
		PML_LEASE_PIN | PML_LEASE_NOWAIT, NULL, NULL));
	assert_null(l);
	PMLT_RC(-ENODEV, pml_region_info(&info, f->r));
	assert_null(pml_region_base(f->r));
	assert_int_equal(pml_region_size(f->r), 0);
	PMLT_RC(-ENODEV, pml_region_punch(f->r, 0, A, NULL));
	PMLT_RC(-ENODEV, pml_region_truncate(f->r, 2 * f->size, NULL));
	PMLT_RC(-ENODEV, pml_region_break(f->r, 0, A, NULL));
	PMLT_RC(-ENODEV, pml_region_quarantined(&q, f->r));
	PMLT_RC(-ENODEV, pml_region_persist(f->r, base, 64));
	PMLT_RC(-ENODEV, pml_region_flush(f->r, base, 64));
	PMLT_RC(-ENODEV, pml_region_drain(f->r));
	PMLT_RC(-ENODEV, pml_region_memcpy(f->r, base, buf, 64, 0));
	PMLT_RC(-ENODEV, pml_region_memset(f->r, base, 0, 64, 0));
	PMLT_RC(-ENODEV, pml_region_read(f->r, buf, 0, sizeof(buf)));
	PMLT_RC(-ENODEV, pml_region_write(f->r, 0, buf, sizeof(buf)));
	PMLT_RC(-ENODEV, pml_region_badblocks(bb, &n, f->r));
	PMLT_RC(-ENODEV, pml_region_badblock_clear(f->r, 0, A));
	PMLT_RC(-ENODEV, pml_region_revoke(f->r, PML_BREAK_REMOVE, 0));
	PMLT_RC(1, pml_region_revoked(f->r));
	PMLT_RC(-ENODEV, pml_lease_get(h.lease));

	PMLT_RC(-EBUSY, pml_region_close(&f->r));
	PMLT_RC(-ENODEV, pml_lease_put(h.lease));
	PMLT_OK(pml_region_close(&f->r));
	/* none of the calls above reached the file */
	file_has_pattern(f, "after calls on a revoked region");
}

static void test_revoke_arguments(void **state)
{
	struct fix *f = *state;
	struct holder h;

	PMLT_FAILS(pml_region_revoke(NULL, PML_BREAK_REMOVE, 0), -EINVAL);
	assert_true(pml_region_revoked(NULL) < 0);

	hold(&h, f->r, 0, A, PML_LEASE_PIN, false);
	/* LAYOUT is a barrier's reason, not a revoke's; 0 and 99 are none */
	PMLT_FAILS(pml_region_revoke(f->r, 0, 0), -EINVAL);
	PMLT_FAILS(pml_region_revoke(f->r, PML_BREAK_LAYOUT, 0), -EINVAL);
	PMLT_FAILS(pml_region_revoke(f->r, (enum pml_break_reason)99, 0),
		-EINVAL);
	/* a refused revoke takes nothing away and tells nobody */
	PMLT_RC(0, pml_region_revoked(f->r));
	assert_int_equal(atomic_load(&h.n_break), 0);
	PMLT_RC(0, pml_lease_revoked(h.lease));
	PMLT_OK(pml_lease_get(h.lease));
	PMLT_OK(pml_lease_put(h.lease));

	PMLT_OK(pml_region_revoke(f->r, PML_BREAK_REMOVE, 1000));
	assert_int_equal(atomic_load(&h.n_break), 1);
	PMLT_RC(-ENODEV, pml_region_revoke(f->r, PML_BREAK_REMOVE, 0));
	PMLT_RC(-ENODEV, pml_region_revoke(f->r, PML_BREAK_POISON, 0));
	/* the second revoke told nobody again */
	assert_int_equal(atomic_load(&h.n_break), 1);
	PMLT_OK(pml_region_close(&f->r));
}

/* ------------------------------------------------------- safe copies */

static void test_read_write(void **state)
{
	struct fix *f = *state;
	const uint8_t *base = pml_region_base(f->r);
	size_t len = 3 * A + 123;
	uint64_t off = A - 77;	/* crosses page boundaries, unaligned */
	uint8_t *in = malloc(len), *out = malloc(len);
	uint8_t byte = 0;

	assert_non_null(in);
	assert_non_null(out);
	pmlt_fill_pattern(in, off, len, SEED + 1);
	PMLT_OK(pml_region_write(f->r, off, in, len));
	/* through the mapping and through the file alike */
	assert_memory_equal(base + off, in, len);
	pmlt_read_file(f->path, off, out, len);
	assert_memory_equal(out, in, len);
	memset(out, 0, len);
	PMLT_OK(pml_region_read(f->r, out, off, len));
	assert_memory_equal(out, in, len);

	/* the last byte, and a zero-length copy at the very end */
	PMLT_OK(pml_region_read(f->r, &byte, f->size - 1, 1));
	assert_int_equal(byte, pmlt_pattern(SEED, f->size - 1));

	/* outside the region: refused, nothing written, buffer untouched */
	memset(out, 0xa5, len);
	PMLT_FAILS(pml_region_read(f->r, out, f->size - 10, 11), -EINVAL,
		-ERANGE);
	PMLT_FAILS(pml_region_read(f->r, out, f->size, 1), -EINVAL, -ERANGE);
	PMLT_FAILS(pml_region_read(f->r, out, UINT64_MAX, 2), -EINVAL,
		-ERANGE, -EOVERFLOW);
	for (size_t k = 0; k < 11; k++)
		assert_int_equal(out[k], 0xa5);
	PMLT_FAILS(pml_region_write(f->r, f->size - 10, in, 11), -EINVAL,
		-ERANGE);
	PMLT_FAILS(pml_region_write(f->r, UINT64_MAX - 1, in, 4), -EINVAL,
		-ERANGE, -EOVERFLOW);
	PMLT_FAILS(pml_region_read(NULL, out, 0, 1), -EINVAL);
	PMLT_FAILS(pml_region_write(NULL, 0, in, 1), -EINVAL);
	PMLT_FAILS(pml_region_read(f->r, NULL, 0, 1), -EINVAL, -EFAULT);
	PMLT_FAILS(pml_region_write(f->r, 0, NULL, 1), -EINVAL, -EFAULT);
	pmlt_read_file(f->path, f->size - 10, out, 10);
	assert_int_equal(pmlt_check_pattern(out, f->size - 10, 10, SEED), -1);

	/* no poison taken on a plain file: nothing SEEN */
	{
		struct pml_badblock bb[8];
		size_t n = 8;

		PMLT_OK(pml_region_badblocks(bb, &n, f->r));
		for (size_t k = 0; k < n && k < 8; k++)
			if (bb[k].flags & PML_BADBLOCK_SEEN)
				fail_msg("badblock %zu at %" PRIu64 " marked "
					"SEEN without any machine check", k,
					bb[k].offset);
		n = 0;
		PMLT_RC(0, pml_region_badblocks(NULL, &n, f->r));
		assert_int_equal(n, 0);
	}
	free(in);
	free(out);
}

/* --------------------------------------------------- the SIGBUS path */

/* the handler a program had before pml_monitor_start() */
static volatile sig_atomic_t prev_hits;
static void *volatile prev_addr;
static volatile int prev_code;

static void prev_handler(int sig, siginfo_t *si, void *uc)
{
	long pg = sysconf(_SC_PAGESIZE);
	void *page = (void *)((uintptr_t)si->si_addr & ~(uintptr_t)(pg - 1));

	(void)sig;
	(void)uc;
	prev_hits++;
	prev_addr = si->si_addr;
	prev_code = si->si_code;
	/*
	 * Make the faulting access complete on returning, rather than jump
	 * out through whatever frames the library's handler has.
	 */
	if (mmap(page, (size_t)pg, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
			MAP_FAILED)
		_exit(99);
}

/* truncate PATH to 0 from another process, as an outsider would */
static void truncate_elsewhere(const char *path)
{
	int st;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(path, O_RDWR);

		_exit(fd < 0 || ftruncate(fd, 0) != 0 ? 1 : 0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static bool region_revoked(void *arg)
{
	return pml_region_revoked(arg) == 1;
}

static void test_sigbus_truncated_behind(void **state)
{
	struct fix *f = *state;
	struct sigaction sa = { 0 }, old, now;
	struct holder h;
	volatile uint8_t *p = pml_region_base(f->r);
	uint8_t v;
	char other[4300];
	int fd;
	volatile uint8_t *q;
	long pg = sysconf(_SC_PAGESIZE);

	assert_non_null(p);
	sa.sa_sigaction = prev_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGBUS, &sa, &old), 0);
	prev_hits = 0;

	PMLT_OK(pml_monitor_start());
	PMLT_OK(pml_monitor_start());	/* idempotent */
	hold(&h, f->r, 4 * A, A, PML_LEASE_PIN, false);

	truncate_elsewhere(f->path);
	/* the page was never touched: its fault finds no block now */
	v = p[6 * A + 1];
	p[6 * A + 2] = 0x11;
	/* the access completed, on the anonymous memory put in its place */
	assert_int_equal(v, 0);
	assert_int_equal(p[6 * A + 2], 0x11);
	/* the library's handler took it: not chained to ours */
	assert_int_equal(prev_hits, 0);

	pmlt_wait_for(region_revoked, f->r, "the region revoked after a "
		"BUS_ADRERR in it");
	pmlt_wait_atomic_ge(&h.n_break, 1, "on_break after the BUS_ADRERR");
	assert_int_equal(atomic_load(&h.reason), PML_BREAK_REMOVE);
	PMLT_RC(0, atomic_load(&h.cb_put_rc));
	PMLT_RC(-ENODEV, pml_lease_acquire(&h.lease, f->r, 0, 1,
		PML_LEASE_PIN, NULL, NULL));
	PMLT_OK(pml_region_close(&f->r));

	/* a SIGBUS outside every region reaches the handler from before */
	snprintf(other, sizeof(other), "%s.other", f->path);
	pmlt_make_file(other, (uint64_t)pg, SEED);
	fd = open(other, O_RDWR);
	assert_true(fd >= 0);
	q = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(q != MAP_FAILED);
	assert_int_equal(ftruncate(fd, 0), 0);
	v = q[10];
	assert_int_equal(prev_hits, 1);
	assert_ptr_equal(prev_addr, (void *)&q[10]);
	assert_int_equal(prev_code, BUS_ADRERR);
	munmap((void *)q, (size_t)pg);
	close(fd);
	unlink(other);

	/* stop puts back the handler it found */
	PMLT_OK(pml_monitor_stop());
	assert_int_equal(sigaction(SIGBUS, NULL, &now), 0);
	assert_true((now.sa_flags & SA_SIGINFO) != 0);
	assert_ptr_equal((void *)now.sa_sigaction, (void *)prev_handler);
	assert_int_equal(sigaction(SIGBUS, &old, NULL), 0);
}

/* ------------------------------------------------- the uevent socket */

static void test_monitor_fd(void **state)
{
	struct fix *f = *state;
	struct pollfd pfd;
	struct stat st;
	int fd = pml_monitor_fd();

	if (fd < 0)
		fail_msg("pml_monitor_fd() = %d (%s): %s", fd,
			pmlt_errname(fd), pml_errormsg());
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_true((fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	assert_true(poll(&pfd, 1, 0) >= 0);
	assert_int_equal(pfd.revents & (POLLERR | POLLNVAL), 0);
	/* nothing this region's device did: nothing revoked, no blocking */
	PMLT_RC(0, pml_monitor_dispatch(fd));
	PMLT_RC(0, pml_monitor_dispatch(fd));
	PMLT_RC(0, pml_region_revoked(f->r));
	assert_int_equal(close(fd), 0);
	assert_true(pml_monitor_dispatch(fd) < 0);
	assert_true(pml_monitor_dispatch(-1) < 0);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_revoke_tells_pin_and_ref),
		T(test_revoke_no_leases),
		T(test_revoke_grace_waits_for_put),
		T(test_revoke_after_grace),
		T(test_revoked_region_calls),
		T(test_revoke_arguments),
		T(test_read_write),
		T(test_monitor_fd),
		/* last: it leaves the monitor started and stopped again */
		T(test_sigbus_truncated_behind),
	};
	return PMLT_RUN("test_removal", tests);
}
