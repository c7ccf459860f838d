/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * removal.c -- a device taken away under a process that holds a PIN on it.
 *
 * One source, three guest tests (the name it runs under, PMLVM_TEST, picks
 * which):
 *
 *   removal_tool    devdax: `daxctl-lease disable-device dax0.0` -- the
 *                   user-space MF_MEM_PRE_REMOVE.  The holder's on_break
 *                   (PML_BREAK_REMOVE) must run while the device is still
 *                   bound, the tool must then disable it, and what was
 *                   persisted before is intact once `daxctl enable-device`
 *                   brings it back.
 *   removal_daxctl  devdax: plain `daxctl disable-device dax0.0`, nobody
 *                   told.  The kernel revokes the mapping; the holder keeps
 *                   touching it and must survive (the monitor's uevent or
 *                   its SIGBUS handler), told by on_break(PML_BREAK_REMOVE).
 *   removal_fsdax   xfs: the pmem device under the mounted filesystem is
 *                   unbound from nd_pmem.  The mapping outlives the device
 *                   without a fault (real-dax-in-qemu.md), so only the
 *                   monitor's uevent can tell: the region must be revoked.
 *
 * In each, the holder is a process of its own (this program with --holder)
 * that called pml_monitor_start(), holds a PIN whose on_break records the
 * reason and puts it, and touches the leased range in a loop.  Afterwards
 * it must find pml_lease_acquire() -ENODEV, pml_region_revoked() 1, and
 * close its region.
 *
 * They take devices away: they run in a boot of their own, the last
 * (PMLVM_REMOVAL_BOOT, set by CMake), after every other test has had its
 * last phase; their earlier phases do nothing.
 */
#include "pmlvm.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PMLVM_REMOVAL_BOOT
#error "PMLVM_REMOVAL_BOOT: the boot the removal tests run in (CMake sets it)"
#endif
#ifndef PMLVM_DAXCTL_LEASE
/* CMake names the built tool (copied into the guest at that path) */
#define PMLVM_DAXCTL_LEASE "daxctl-lease"
#endif

#define SEED 0x52454d4fULL	/* "REMO" */
#define DEADLINE_MS 15000	/* what must happen, happens by then */
#define LEASE_LEN 4096ULL
#define DATA_LEN (2 * PMLVM_MiB)	/* one devdax alignment unit */
#define FILE_SIZE (4 * PMLVM_MiB)

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* ---------------------------------------------------------- the holder */

/*
 * `removal --holder PATH OFFSET BOUND`: it says on stdout
 *   'A'       the PIN on [OFFSET, OFFSET + 4096) is held;
 *   reason    in on_break: 'R' REMOVE, 'P' POISON, 'V' REVOKED, 'L' LAYOUT,
 *             then '+' if BOUND (a sysfs "driver" link) still existed when
 *             on_break ran -- the device was still there -- else '-';
 *   'D'/'F'   on 'Q' from stdin: all its checks passed / one failed (why,
 *             on stderr, which is the test's log).
 * Between, it reads and writes the leased range in a loop, as a program
 * that does not know its device went away would.
 */
static const char *h_bound;
static atomic_int h_breaks;
static atomic_ulong h_touches;
static atomic_ulong h_touches_at_break;

static void say(char c)
{
	if (write(STDOUT_FILENO, &c, 1) != 1)
		_exit(3);
}

static void holder_on_break(struct pml_lease *lease,
		enum pml_break_reason why, void *arg)
{
	int rc;

	(void)arg;
	atomic_store(&h_touches_at_break, atomic_load(&h_touches));
	switch (why) {
	case PML_BREAK_REMOVE:	say('R'); break;
	case PML_BREAK_POISON:	say('P'); break;
	case PML_BREAK_REVOKED:	say('V'); break;
	case PML_BREAK_LAYOUT:	say('L'); break;
	default:		say('?'); break;
	}
	say(exists(h_bound) ? '+' : '-');
	/*
	 * The put is how the holder lets go; while the region is being
	 * revoked it may already say -ENODEV (it still lets go).
	 */
	rc = pml_lease_put(lease);
	if (rc != 0 && rc != -ENODEV)
		fprintf(stderr, "holder: put in on_break = %d: %s\n", rc,
			pml_errormsg());
	atomic_fetch_add(&h_breaks, 1);
}

static int holder_main(const char *path, const char *offarg,
		const char *bound)
{
	static const struct pml_lease_ops ops = { .on_break = holder_on_break };
	struct pml_region *r = NULL;
	struct pml_lease *l = NULL, *l2 = NULL;
	uint64_t off = strtoull(offarg, NULL, 0);
	volatile uint8_t *p;
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	unsigned long after;
	int bad = 0, rc;
	char c = 0;

	h_bound = bound;
	/* before the open: regions opened later are watched too */
	rc = pml_monitor_start();
	if (rc == 0)
		rc = pml_region_open(&r, path, NULL);
	if (rc == 0)
		rc = pml_lease_acquire(&l, r, off, LEASE_LEN, PML_LEASE_PIN,
			&ops, NULL);
	if (rc != 0) {
		fprintf(stderr, "holder: %s: %d: %s\n", path, rc,
			pml_errormsg());
		return 1;
	}
	p = pml_lease_addr(l);
	say('A');

	for (;;) {
		/*
		 * The "DMA": read and write the range it was given -- each
		 * byte written back as read, so the data the test checks
		 * after enable-device stays what was persisted.
		 */
		for (uint64_t k = 0; k < LEASE_LEN; k += 512) {
			uint8_t v = p[k];

			p[k] = v;
		}
		atomic_fetch_add(&h_touches, 1);
		if (poll(&pfd, 1, 1) == 1)
			break;
	}
	if (read(STDIN_FILENO, &c, 1) != 1 || c != 'Q') {
		fprintf(stderr, "holder: no 'Q' from the test\n");
		return 1;
	}

	if (atomic_load(&h_breaks) != 1) {
		fprintf(stderr, "holder: on_break ran %d times, not once\n",
			atomic_load(&h_breaks));
		bad = 1;
	}
	after = atomic_load(&h_touches) - atomic_load(&h_touches_at_break);
	fprintf(stderr, "holder: %lu touches of the range after on_break\n",
		after);
	if (after == 0) {
		fprintf(stderr, "holder: it never touched the range after "
			"the device went: survival not shown\n");
		bad = 1;
	}
	rc = pml_lease_acquire(&l2, r, off, LEASE_LEN, PML_LEASE_PIN, NULL,
		NULL);
	if (rc != -ENODEV) {
		fprintf(stderr, "holder: acquire after the removal = %d, not "
			"-ENODEV: %s\n", rc, rc ? pml_errormsg() : "-");
		bad = 1;
		if (rc == 0)
			pml_lease_put(l2);
	}
	rc = pml_lease_acquire(&l2, r, 0, 1, PML_LEASE_REF, NULL, NULL);
	if (rc != -ENODEV) {
		fprintf(stderr, "holder: REF acquire after the removal = %d, "
			"not -ENODEV\n", rc);
		bad = 1;
		if (rc == 0)
			pml_lease_put(l2);
	}
	rc = pml_region_revoked(r);
	if (rc != 1) {
		fprintf(stderr, "holder: pml_region_revoked = %d, not 1\n", rc);
		bad = 1;
	}
	if (pml_region_base(r) != NULL) {
		fprintf(stderr, "holder: pml_region_base of a revoked region "
			"is not NULL\n");
		bad = 1;
	}
	rc = pml_region_close(&r);
	if (rc != 0) {
		fprintf(stderr, "holder: close = %d: %s\n", rc, pml_errormsg());
		bad = 1;
	}
	pml_monitor_stop();
	say(bad ? 'F' : 'D');
	return bad;
}

/* -------------------------------------------------------- the test side */

struct child {
	pid_t pid;
	int to, from;
};

static void holder_start(struct child *ch, const char *path, uint64_t off,
		const char *bound)
{
	int to[2], from[2];
	char offs[32];

	snprintf(offs, sizeof(offs), "%llu", (unsigned long long)off);
	assert_int_equal(pipe(to), 0);
	assert_int_equal(pipe(from), 0);
	fflush(NULL);
	ch->pid = fork();
	assert_true(ch->pid >= 0);
	if (ch->pid == 0) {
		dup2(to[0], STDIN_FILENO);
		dup2(from[1], STDOUT_FILENO);
		close(to[1]);
		close(from[0]);
		execl("/proc/self/exe", "removal", "--holder", path, offs,
			bound, (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	ch->to = to[1];
	ch->from = from[0];
}

/* the next byte from the holder, within DEADLINE_MS */
static char hear(struct child *ch, const char *what)
{
	struct pollfd pfd = { .fd = ch->from, .events = POLLIN };
	char c;

	if (poll(&pfd, 1, DEADLINE_MS) != 1)
		fail_msg("waited %d ms for %s", DEADLINE_MS, what);
	if (read(ch->from, &c, 1) != 1)
		fail_msg("the holder process went away (killed?) before %s",
			what);
	return c;
}

static void expect(struct child *ch, char want, const char *what)
{
	char c = hear(ch, what);

	if (c != want)
		fail_msg("the holder said '%c', expected '%c' (%s)", c, want,
			what);
}

/* 'Q', then 'D', then a clean exit: the holder survived and saw -ENODEV */
static void holder_finish(struct child *ch)
{
	int st;

	sleep_ms(300);	/* more touches of the dead range */
	assert_int_equal(write(ch->to, "Q", 1), 1);
	expect(ch, 'D', "the holder's checks after the removal (see its "
		"messages above)");
	assert_int_equal(waitpid(ch->pid, &st, 0), ch->pid);
	ch->pid = 0;
	if (WIFSIGNALED(st))
		fail_msg("the holder died of signal %d", WTERMSIG(st));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("the holder ended with status %#x", st);
	close(ch->to);
	close(ch->from);
}

/* run ARGV, its output in the log; its exit status (or 128 + signal) */
static int run(char *const argv[])
{
	return pmlvm_capture(argv, NULL, 0);
}

/* persist a pattern at [off, off + DATA_LEN) of path through a region */
static void write_data(const char *path, uint64_t off)
{
	struct pml_region *r = NULL;
	uint8_t *buf = malloc(DATA_LEN);

	assert_non_null(buf);
	pmlvm_pattern(buf, DATA_LEN, SEED, off);
	PML_OK(pml_region_open(&r, path, NULL));
	PML_OK(pml_region_write(r, off, buf, DATA_LEN));
	PML_OK(pml_region_close(&r));
	free(buf);
}

static void check_data(const char *path, uint64_t off, const char *when)
{
	struct pml_region *r = NULL;
	uint8_t *buf = malloc(DATA_LEN);
	size_t bad;

	assert_non_null(buf);
	PML_OK(pml_region_open(&r, path, NULL));
	PML_OK(pml_region_read(r, buf, off, DATA_LEN));
	bad = pmlvm_pattern_check(buf, DATA_LEN, SEED, off);
	PML_OK(pml_region_close(&r));
	free(buf);
	if (bad != (size_t)-1)
		fail_msg("%s: the data persisted before differs at byte %zu "
			"of [%llu, +2 MiB)", when, bad,
			(unsigned long long)off);
}

/* ------------------------------------------------------------- devdax */

static char daxname[64];		/* "dax0.0" */
static char daxbound[PATH_MAX];	/* its sysfs driver link */
static int dax_disabled;		/* teardown enables it again */

static void dax_names(void)
{
	const char *slash = strrchr(pmlvm.devdax, '/');

	snprintf(daxname, sizeof(daxname), "%.63s",
		slash ? slash + 1 : pmlvm.devdax);
	snprintf(daxbound, sizeof(daxbound), "/sys/bus/dax/devices/%s/driver",
		daxname);
}

static void dax_enable(void)
{
	char *argv[] = { "daxctl", "enable-device", daxname, NULL };
	struct stat st;
	int rc = run(argv);

	if (rc != 0)
		fail_msg("daxctl enable-device %s exited %d", daxname, rc);
	dax_disabled = 0;
	/* no udev: devtmpfs makes the node; give it a moment under TCG */
	for (int i = 0; i < DEADLINE_MS / 50; i++) {
		if (stat(pmlvm.devdax, &st) == 0 && S_ISCHR(st.st_mode))
			return;
		sleep_ms(50);
	}
	fail_msg("%s did not come back after enable-device", pmlvm.devdax);
}

/*
 * How a test takes the device away and brings it back: take[] is run,
 * bound is the sysfs link that exists while the device is there (on_break
 * finding it means the holder was told before the device went), told_first
 * says the taker promises that order, and restore() brings the device
 * back and returns its path (NULL: it cannot come back in this guest).
 */
struct taking {
	char *const *take;
	const char *bound;
	int told_first;
	const char *(*restore)(void);
};

static const char *dax_restore(void)
{
	dax_enable();
	return pmlvm.devdax;
}

static void devdax_removal(const struct taking *t)
{
	static struct child ch;
	uint64_t data_off = pmlvm.slot_offset;
	uint64_t lease_off = pmlvm.slot_offset + 4096;
	char reason, when;
	int rc;

	if (!exists(t->bound))
		fail_msg("%s is missing before the test: the device is not "
			"there", t->bound);
	write_data(pmlvm.devdax, data_off);

	holder_start(&ch, pmlvm.devdax, lease_off, t->bound);
	expect(&ch, 'A', "the holder's PIN on the device");

	rc = run(t->take);
	dax_disabled = !exists(t->bound);
	if (rc != 0)
		fail_msg("%s %s exited %d", t->take[0], t->take[1], rc);
	if (!dax_disabled)
		fail_msg("%s is still there after %s %s", t->bound, t->take[0],
			t->take[1]);

	reason = hear(&ch, "on_break in the holder");
	when = hear(&ch, "on_break's view of the device");
	if (reason != 'R')
		fail_msg("the holder's on_break was told '%c', not 'R' "
			"(PML_BREAK_REMOVE)", reason);
	/*
	 * The pre-removal protocol tells holders before the device goes;
	 * plain daxctl or cxl tells nobody, so either is right there.
	 */
	if (t->told_first && when != '+')
		fail_msg("on_break ran after the device was gone: %s did not "
			"wait for the holder", t->take[0]);
	print_message("on_break(PML_BREAK_REMOVE) ran with the device %s\n",
		when == '+' ? "still there" : "gone");
	holder_finish(&ch);

	if (t->restore != NULL)
		check_data(t->restore(), data_off, "after the device came back");
}

static void test_removal_tool(void **state)
{
	static char *take[] = { PMLVM_DAXCTL_LEASE, "disable-device", daxname,
		"--timeout", "5000", NULL };
	const struct taking t = { take, daxbound, 1, dax_restore };

	(void)state;
	dax_names();
	devdax_removal(&t);
}

static void test_removal_daxctl(void **state)
{
	static char *take[] = { "daxctl", "disable-device", daxname, NULL };
	const struct taking t = { take, daxbound, 0, dax_restore };

	(void)state;
	dax_names();
	devdax_removal(&t);
}

/* ---------------------------------------------------------------- CXL */

/*
 * The CXL machine's region0 on mem0: taken away by `daxctl-lease
 * disable-region` or `disable-memdev` (holders told first), or by plain
 * `cxl disable-region` (nobody told: the monitor's uevents).  Brought back
 * by the guest's own pmlvm_cxl_namespace (guest-init.sh), which enables
 * the region again and makes the namespace anew on the same place -- the
 * data written before must be there.
 */
#define CXL_BOUND "/sys/bus/cxl/devices/region0/driver"
static char cxl_dev[PATH_MAX];

static const char *cxl_restore(void)
{
	char *argv[] = { "sh", "-c", ". /pmlvm/env.sh && pmlvm_cxl_namespace",
		NULL };
	int rc = pmlvm_capture(argv, cxl_dev, sizeof(cxl_dev));

	cxl_dev[strcspn(cxl_dev, "\n")] = '\0';
	if (rc != 0 || cxl_dev[0] != '/')
		fail_msg("bringing the CXL region back failed (%d): %s", rc,
			cxl_dev);
	dax_disabled = 0;
	print_message("the CXL region is back: %s\n", cxl_dev);
	return cxl_dev;
}

static void test_cxl_removal_tool(void **state)
{
	static char *take[] = { PMLVM_DAXCTL_LEASE, "disable-region", "region0",
		"--timeout", "5000", NULL };
	const struct taking t = { take, CXL_BOUND, 1, cxl_restore };

	(void)state;
	devdax_removal(&t);
}

static void test_cxl_removal_cxl(void **state)
{
	static char *take[] = { "cxl", "disable-region", "region0", NULL };
	const struct taking t = { take, CXL_BOUND, 0, cxl_restore };

	(void)state;
	devdax_removal(&t);
}

/*
 * Last: QEMU 7.2's type-3 device cannot be enabled again once disabled
 * (its endpoint decoder probes as "committed with zero size"), so the
 * region does not come back and its data is not checked here -- the
 * region tests above check it after their own disable.
 */
static void test_cxl_removal_memdev(void **state)
{
	static char *take[] = { PMLVM_DAXCTL_LEASE, "disable-memdev", "mem0",
		"--timeout", "5000", NULL };
	const struct taking t = { take, CXL_BOUND, 1, NULL };

	(void)state;
	devdax_removal(&t);
	if (exists("/sys/bus/cxl/devices/mem0/driver"))
		fail_msg("mem0 is still enabled after disable-memdev");
	dax_disabled = 0;	/* nothing for the teardown to bring back */
}

/* -------------------------------------------------------------- fsdax */

static char ndname[64];		/* "pfn2.0" */
static int nd_unbound;

static void test_removal_fsdax(void **state)
{
	static struct child ch;
	char link[PATH_MAX], target[PATH_MAX], bound[PATH_MAX];
	const char *dev = strrchr(pmlvm.pmemdev, '/');
	char *path = pmlvm_path("removal.dat");
	ssize_t n;
	FILE *f;
	char reason;

	(void)state;
	assert_non_null(dev);
	/* /sys/block/pmemN/device: the nd device the block device is on */
	snprintf(link, sizeof(link), "/sys/block/%s/device", dev + 1);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		fail_msg("readlink %s: %s", link, strerror(errno));
	target[n] = '\0';
	snprintf(ndname, sizeof(ndname), "%.63s", strrchr(target, '/') ?
		strrchr(target, '/') + 1 : target);
	snprintf(bound, sizeof(bound), "/sys/bus/nd/drivers/nd_pmem/%s",
		ndname);
	print_message("%s is on %s\n", pmlvm.pmemdev, ndname);
	if (!exists(bound))
		fail_msg("%s is not bound to nd_pmem (%s missing)", ndname,
			bound);
	snprintf(bound, sizeof(bound), "/sys/bus/nd/devices/%s/driver",
		ndname);

	pmlvm_make_file(path, FILE_SIZE);
	write_data(path, 0);
	holder_start(&ch, path, 8192, bound);
	expect(&ch, 'A', "the holder's PIN on the file");

	f = fopen("/sys/bus/nd/drivers/nd_pmem/unbind", "w");
	assert_non_null(f);
	print_message("+ echo %s > /sys/bus/nd/drivers/nd_pmem/unbind\n",
		ndname);
	if (fputs(ndname, f) < 0 || fclose(f) != 0)
		fail_msg("unbind %s: %s", ndname, strerror(errno));
	nd_unbound = 1;
	if (exists(bound))
		fail_msg("%s is still bound after the unbind", ndname);

	/* no fault will come: only the monitor's uevent can tell */
	reason = hear(&ch, "on_break in the holder after the unbind (the "
		"monitor's uevent)");
	(void)hear(&ch, "on_break's view of the device");
	if (reason != 'R')
		fail_msg("the holder's on_break was told '%c', not 'R' "
			"(PML_BREAK_REMOVE)", reason);
	holder_finish(&ch);
}

/* ------------------------------------------------------------- set-up */

static int teardown(void **state)
{
	(void)state;
	/* leave the device as the boot made it, whatever failed */
	if (dax_disabled && daxname[0] != '\0') {
		char *argv[] = { "daxctl", "enable-device", daxname, NULL };

		run(argv);
		dax_disabled = 0;
	}
	if (nd_unbound) {
		/* the filesystem on it is shut down for good; the device is
		 * bound again for whoever looks at the guest afterwards */
		FILE *f = fopen("/sys/bus/nd/drivers/nd_pmem/bind", "w");

		if (f != NULL) {
			fputs(ndname, f);
			fclose(f);
		}
		nd_unbound = 0;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tool[] = {
		cmocka_unit_test_teardown(test_removal_tool, teardown),
	};
	const struct CMUnitTest plain[] = {
		cmocka_unit_test_teardown(test_removal_daxctl, teardown),
	};
	const struct CMUnitTest fsdax[] = {
		cmocka_unit_test_teardown(test_removal_fsdax, teardown),
	};
	const struct CMUnitTest cxl_tool[] = {
		cmocka_unit_test_teardown(test_cxl_removal_tool, teardown),
	};
	const struct CMUnitTest cxl_plain[] = {
		cmocka_unit_test_teardown(test_cxl_removal_cxl, teardown),
	};
	const struct CMUnitTest cxl_memdev[] = {
		cmocka_unit_test_teardown(test_cxl_removal_memdev, teardown),
	};

	if (argc == 5 && strcmp(argv[1], "--holder") == 0)
		return holder_main(argv[2], argv[3], argv[4]);
	pmlvm_init(argc, argv);
	if (pmlvm.phase != PMLVM_REMOVAL_BOOT) {
		print_message("%s: nothing in boot %d; the removal runs in "
			"boot %d, after every other test\n", pmlvm.test,
			pmlvm.phase, PMLVM_REMOVAL_BOOT);
		return 0;
	}
	if (strcmp(pmlvm.test, "removal_tool") == 0 &&
	    pmlvm.target == PMLVM_DEVDAX)
		return pmlvm_run("removal_tool", tool, PMLVM_N(tool));
	if (strcmp(pmlvm.test, "removal_daxctl") == 0 &&
	    pmlvm.target == PMLVM_DEVDAX)
		return pmlvm_run("removal_daxctl", plain, PMLVM_N(plain));
	if (strcmp(pmlvm.test, "removal_fsdax") == 0 &&
	    pmlvm.target == PMLVM_XFS)
		return pmlvm_run("removal_fsdax", fsdax, PMLVM_N(fsdax));
	if (strcmp(pmlvm.test, "cxl_removal_tool") == 0)
		return pmlvm_run("cxl_removal_tool", cxl_tool, PMLVM_N(cxl_tool));
	if (strcmp(pmlvm.test, "cxl_removal_cxl") == 0)
		return pmlvm_run("cxl_removal_cxl", cxl_plain, PMLVM_N(cxl_plain));
	if (strcmp(pmlvm.test, "cxl_removal_memdev") == 0)
		return pmlvm_run("cxl_removal_memdev", cxl_memdev,
			PMLVM_N(cxl_memdev));
	fprintf(stderr, "removal: no test %s on %s\n", pmlvm.test,
		pmlvm.target_name);
	return 2;
}
