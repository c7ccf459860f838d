/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * common.c -- shared helpers of the pmemlease tests.
 */
#include "common.h"

#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PMLT_BUILD_DIR
#define PMLT_BUILD_DIR "."
#endif

/* ------------------------------------------------------------ basics */

const char *
pmlt_errname(int rc)
{
	if (rc == 0)
		return "0";
	if (rc > 0)
		return "positive!";
	const char *n = strerrorname_np(-rc);
	return n ? n : "unknown errno";
}

uint64_t
pmlt_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void
pmlt_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static double
env_double(const char *name, double def)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	char *end;
	double d = strtod(v, &end);
	return (*end || d <= 0) ? def : d;
}

uint64_t
pmlt_scaled(uint64_t n)
{
	double v = (double)n * env_double("PML_TEST_SCALE", 1.0);
	return v < 1 ? 1 : (uint64_t)v;
}

unsigned
pmlt_deadline_ms(void)
{
	/* sanitizers slow everything down; a deadlock is still a deadlock */
	double s = env_double("PML_TEST_WAIT_S", PMLT_TSAN ? 180 : 60);
	return (unsigned)(s * 1000);
}

void
pmlt_settle(void)
{
	pmlt_sleep_ms(PMLT_TSAN ? 60 : 30);
}

void (*pmlt_die_hook)(void);

void
pmlt_die(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	if (pmlt_die_hook)
		pmlt_die_hook();
	fprintf(stderr, "\nFATAL: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(test files left in %s)\n", pmlt_dir());
	fflush(stderr);
	_exit(2);
}

static const char *watchdog_what = "";

static void
watchdog_fired(int sig)
{
	(void)sig;
	static const char m1[] = "\nFATAL: watchdog: ";
	static const char m2[] = " did not finish in time (deadlock?)\n";
	ssize_t w = write(2, m1, sizeof(m1) - 1);
	w = write(2, watchdog_what, strlen(watchdog_what));
	w = write(2, m2, sizeof(m2) - 1);
	(void)w;
	_exit(3);
}

void
pmlt_watchdog(unsigned seconds, const char *what)
{
	if (seconds == 0) {
		alarm(0);
		return;
	}
	watchdog_what = what;
	signal(SIGALRM, watchdog_fired);
	double s = env_double("PML_TEST_WATCHDOG_SCALE", PMLT_TSAN ? 4 : 1);
	alarm((unsigned)(seconds * s));
}

static atomic_uint_fast64_t seq;

uint64_t
pmlt_seq_next(void)
{
	return atomic_fetch_add(&seq, 1) + 1;
}

/* ----------------------------------------------------- checked calls */

void
pmlt_check_fails(int rc, const int *ok, size_t nok, const char *what,
		const char *file, int line)
{
	if (rc >= 0)
		fail_msg("%s:%d: %s returned %d, expected a negative errno",
				file, line, what, rc);
	bool found = false;
	for (size_t i = 0; i < nok; i++)
		found |= (rc == ok[i]);
	if (!found) {
		char want[256] = "";
		for (size_t i = 0; i < nok; i++) {
			strncat(want, pmlt_errname(ok[i]),
					sizeof(want) - strlen(want) - 2);
			strncat(want, " ", sizeof(want) - strlen(want) - 1);
		}
		fail_msg("%s:%d: %s returned %d (%s), expected one of: %s"
				"(\"%s\")", file, line, what, rc,
				pmlt_errname(rc), want, pml_errormsg());
	}
	const char *m = pml_errormsg();
	if (!m || !*m)
		fail_msg("%s:%d: %s failed with %s but left no message",
				file, line, what, pmlt_errname(rc));
}

bool
pmlt_msg_mentions(const char *msg, uint64_t v)
{
	if (!msg)
		return false;
	char forms[6][64];
	int n = 0;
	snprintf(forms[n++], 64, "%" PRIu64, v);
	snprintf(forms[n++], 64, "0x%" PRIx64, v);
	snprintf(forms[n++], 64, "0X%" PRIX64, v);
	if (v % 1024 == 0) {
		snprintf(forms[n++], 64, "%" PRIu64 " KiB", v / 1024);
		snprintf(forms[n++], 64, "%" PRIu64 "KiB", v / 1024);
		snprintf(forms[n++], 64, "%" PRIu64 "K", v / 1024);
	}
	for (int i = 0; i < n; i++) {
		const char *p = msg;
		size_t len = strlen(forms[i]);
		/* "4096" must not match inside "40960" or "14096" */
		while ((p = strstr(p, forms[i])) != NULL) {
			bool left = p == msg || !(p[-1] >= '0' && p[-1] <= '9');
			char r = p[len];
			bool right = !(r >= '0' && r <= '9');
			if (left && right)
				return true;
			p++;
		}
	}
	return false;
}

/* --------------------------------------------- helper-thread failures */

static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static char fail_buf[1024];
static bool failed;

void
pmlt_thread_fail(const char *fmt, ...)
{
	pthread_mutex_lock(&fail_lock);
	if (!failed) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(fail_buf, sizeof(fail_buf), fmt, ap);
		va_end(ap);
		failed = true;
		fprintf(stderr, "helper thread failure: %s\n", fail_buf);
	}
	pthread_mutex_unlock(&fail_lock);
	pmlt_event();
}

const char *
pmlt_thread_failure(void)
{
	pthread_mutex_lock(&fail_lock);
	const char *r = failed ? fail_buf : NULL;
	pthread_mutex_unlock(&fail_lock);
	return r;
}

void
pmlt_thread_fail_reset(void)
{
	pthread_mutex_lock(&fail_lock);
	failed = false;
	fail_buf[0] = '\0';
	pthread_mutex_unlock(&fail_lock);
}

/* -------------------------------------------------------------- events */

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_cond;
static pthread_once_t ev_once = PTHREAD_ONCE_INIT;

static void
ev_init(void)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&ev_cond, &a);
	pthread_condattr_destroy(&a);
}

void
pmlt_event(void)
{
	pthread_once(&ev_once, ev_init);
	pthread_mutex_lock(&ev_lock);
	pthread_cond_broadcast(&ev_cond);
	pthread_mutex_unlock(&ev_lock);
}

void
pmlt_wait_for(bool (*pred)(void *), void *arg, const char *what)
{
	pthread_once(&ev_once, ev_init);
	uint64_t deadline = pmlt_now_ns() + pmlt_deadline_ms() * 1000000ULL;
	pthread_mutex_lock(&ev_lock);
	while (!pred(arg)) {
		uint64_t now = pmlt_now_ns();
		if (now >= deadline) {
			pthread_mutex_unlock(&ev_lock);
			pmlt_die("waited %u ms for: %s", pmlt_deadline_ms(),
					what);
		}
		/*
		 * Wake up now and then anyway: some predicates change
		 * without a broadcast (a library call returning elsewhere).
		 */
		uint64_t until = now + 10000000ULL;
		if (until > deadline)
			until = deadline;
		struct timespec ts = { (time_t)(until / 1000000000ULL),
			(long)(until % 1000000000ULL) };
		pthread_cond_timedwait(&ev_cond, &ev_lock, &ts);
	}
	pthread_mutex_unlock(&ev_lock);
}

struct ge_arg {
	atomic_int *v;
	int value;
};

static bool
ge_pred(void *p)
{
	struct ge_arg *a = p;
	return atomic_load(a->v) >= a->value;
}

void
pmlt_wait_atomic_ge(atomic_int *v, int value, const char *what)
{
	struct ge_arg a = { v, value };
	pmlt_wait_for(ge_pred, &a, what);
}

/* --------------------------------------------------------- async calls */

static void *
async_main(void *p)
{
	struct pmlt_async *a = p;
	a->rc = a->fn(a->arg);
	a->done_ns = pmlt_now_ns();
	atomic_store(&a->done_seq, pmlt_seq_next());
	atomic_store(&a->done, 1);
	pmlt_event();
	return NULL;
}

void
pmlt_async_start(struct pmlt_async *a, int (*fn)(void *), void *arg)
{
	memset(a, 0, sizeof(*a));
	a->fn = fn;
	a->arg = arg;
	atomic_init(&a->done, 0);
	atomic_init(&a->done_seq, 0);
	int e = pthread_create(&a->thread, NULL, async_main, a);
	if (e)
		fail_msg("pthread_create: %s", strerror(e));
	a->started = true;
}

bool
pmlt_async_is_done(struct pmlt_async *a)
{
	return atomic_load(&a->done) != 0;
}

static bool
async_done_pred(void *p)
{
	return pmlt_async_is_done(p);
}

int
pmlt_async_finish(struct pmlt_async *a, const char *what)
{
	if (!a->started)
		fail_msg("pmlt_async_finish(%s) of a call never started",
				what);
	pmlt_wait_for(async_done_pred, a, what);
	pthread_join(a->thread, NULL);
	a->started = false;
	return a->rc;
}

/* --------------------------------------------------------------- files */

static char test_dir[4096];

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void
cleanup_dir(void)
{
	const char *keep = getenv("PML_TEST_KEEP");
	if (!test_dir[0] || (keep && *keep && strcmp(keep, "0")))
		return;
	nftw(test_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *
pmlt_dir(void)
{
	if (test_dir[0])
		return test_dir;
	const char *base = getenv("PML_TEST_DIR");
	if (!base || !*base)
		base = PMLT_BUILD_DIR;
	if (mkdir(base, 0700) && errno != EEXIST) {
		fprintf(stderr, "cannot create %s: %s\n", base,
				strerror(errno));
		exit(2);
	}
	snprintf(test_dir, sizeof(test_dir), "%s/pmltest.XXXXXX", base);
	if (!mkdtemp(test_dir)) {
		fprintf(stderr, "mkdtemp(%s): %s\n", test_dir,
				strerror(errno));
		exit(2);
	}
	atexit(cleanup_dir);
	return test_dir;
}

void
pmlt_path(char *buf, size_t n, const char *name)
{
	static atomic_int uniq;
	/* unique per call: tests never see each other's leftovers */
	snprintf(buf, n, "%s/%s.%d", pmlt_dir(), name,
			atomic_fetch_add(&uniq, 1));
}

void
pmlt_require_fs(void)
{
	char p[4200];
	pmlt_path(p, sizeof(p), "probe");
	pmlt_make_file(p, 4 * 4096, 1);
	int fd = open(p, O_RDWR);
	if (fd < 0)
		fail_msg("open %s: %s", p, strerror(errno));
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096,
			4096))
		fail_msg("the test directory %s cannot punch holes (%s): set "
				"PML_TEST_DIR to a directory on ext4 or xfs",
				pmlt_dir(), strerror(errno));
	close(fd);
	uint64_t a = pmlt_fiemap_bytes(p, 0, 4 * 4096);
	if (a != 3 * 4096)
		fail_msg("FIEMAP in %s says %" PRIu64 " bytes allocated after "
				"punching 1 page of 4: set PML_TEST_DIR to a "
				"directory on ext4 or xfs (not tmpfs)",
				pmlt_dir(), a);
	unlink(p);
}

void
pmlt_fill_pattern(void *buf, uint64_t off, size_t len, unsigned seed)
{
	uint8_t *b = buf;
	for (size_t i = 0; i < len; i++)
		b[i] = pmlt_pattern(seed, off + i);
}

int64_t
pmlt_check_pattern(const void *buf, uint64_t off, size_t len, unsigned seed)
{
	const uint8_t *b = buf;
	for (size_t i = 0; i < len; i++)
		if (b[i] != pmlt_pattern(seed, off + i))
			return (int64_t)i;
	return -1;
}

int64_t
pmlt_find_nonzero(const void *buf, size_t len)
{
	const uint8_t *b = buf;
	for (size_t i = 0; i < len; i++)
		if (b[i])
			return (int64_t)i;
	return -1;
}

void
pmlt_make_file(const char *path, uint64_t size, unsigned seed)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		fail_msg("create %s: %s", path, strerror(errno));
	uint8_t buf[65536];
	for (uint64_t off = 0; off < size; off += sizeof(buf)) {
		size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);
		pmlt_fill_pattern(buf, off, n, seed);
		if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n)
			fail_msg("pwrite %s: %s", path, strerror(errno));
	}
	if (fsync(fd))
		fail_msg("fsync %s: %s", path, strerror(errno));
	close(fd);
}

void
pmlt_make_sparse(const char *path, uint64_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		fail_msg("create %s: %s", path, strerror(errno));
	if (ftruncate(fd, (off_t)size))
		fail_msg("ftruncate %s: %s", path, strerror(errno));
	close(fd);
}

uint64_t
pmlt_file_size(const char *path)
{
	struct stat st;
	if (stat(path, &st))
		fail_msg("stat %s: %s", path, strerror(errno));
	return (uint64_t)st.st_size;
}

uint64_t
pmlt_file_alloc_bytes(const char *path)
{
	struct stat st;
	if (stat(path, &st))
		fail_msg("stat %s: %s", path, strerror(errno));
	return (uint64_t)st.st_blocks * 512;
}

uint64_t
pmlt_fiemap_bytes(const char *path, uint64_t off, uint64_t len)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	enum { N = 256 };
	size_t sz = sizeof(struct fiemap) + N * sizeof(struct fiemap_extent);
	struct fiemap *fm = calloc(1, sz);
	uint64_t total = 0, pos = off, end = off + len;
	while (pos < end) {
		memset(fm, 0, sz);
		fm->fm_start = pos;
		fm->fm_length = end - pos;
		/* SYNC: delayed allocations become real extents first */
		fm->fm_flags = FIEMAP_FLAG_SYNC;
		fm->fm_extent_count = N;
		if (ioctl(fd, FS_IOC_FIEMAP, fm))
			fail_msg("FIEMAP %s: %s", path, strerror(errno));
		if (fm->fm_mapped_extents == 0)
			break;
		bool last = false;
		for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
			struct fiemap_extent *e = &fm->fm_extents[i];
			uint64_t s = e->fe_logical, t = s + e->fe_length;
			if (s < pos)
				s = pos;
			if (t > end)
				t = end;
			if (t > s)
				total += t - s;
			pos = e->fe_logical + e->fe_length;
			last |= (e->fe_flags & FIEMAP_EXTENT_LAST) != 0;
		}
		if (last)
			break;
	}
	free(fm);
	close(fd);
	return total;
}

void
pmlt_read_file(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	memset(buf, 0, len);
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(fd, (char *)buf + got, len - got,
				(off_t)(off + got));
		if (r < 0)
			fail_msg("pread %s: %s", path, strerror(errno));
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
}

void
pmlt_file_pattern(const char *path, uint64_t from, uint64_t to,
		unsigned seed, uint64_t shift)
{
	uint8_t *buf = malloc(to - from);

	pmlt_read_file(path, from, buf, to - from);
	for (uint64_t i = 0; i < to - from; i++)
		if (buf[i] != pmlt_pattern(seed, from + shift + i))
			fail_msg("%s: byte %" PRIu64 " is 0x%02x, not the "
					"pattern's", path, from + i, buf[i]);
	free(buf);
}

void
pmlt_file_zeroes(const char *path, uint64_t from, uint64_t to)
{
	uint8_t *buf = malloc(to - from);

	pmlt_read_file(path, from, buf, to - from);

	int64_t nz = pmlt_find_nonzero(buf, to - from);

	free(buf);
	if (nz >= 0)
		fail_msg("%s: byte %" PRIu64 " is not zero", path,
				from + (uint64_t)nz);
}

void
pmlt_snap_take(struct pmlt_snap *s, const char *path)
{
	s->size = pmlt_file_size(path);
	s->fiemap = pmlt_fiemap_bytes(path, 0, s->size ? s->size : 1);
	s->alloc = pmlt_file_alloc_bytes(path);
	s->data = malloc(s->size ? s->size : 1);
	pmlt_read_file(path, 0, s->data, s->size);
}

void
pmlt_snap_same(const struct pmlt_snap *s, const char *path, const char *when)
{
	uint64_t size = pmlt_file_size(path);
	if (size != s->size)
		fail_msg("%s: file size changed from %" PRIu64 " to %" PRIu64,
				when, s->size, size);
	uint64_t fm = pmlt_fiemap_bytes(path, 0, size ? size : 1);
	if (fm != s->fiemap)
		fail_msg("%s: FIEMAP-allocated bytes changed from %" PRIu64
				" to %" PRIu64, when, s->fiemap, fm);
	uint64_t alloc = pmlt_file_alloc_bytes(path);
	if (alloc != s->alloc)
		fail_msg("%s: st_blocks changed from %" PRIu64 " to %" PRIu64
				" (x512)", when, s->alloc / 512, alloc / 512);
	uint8_t *d = malloc(size ? size : 1);
	pmlt_read_file(path, 0, d, size);
	for (uint64_t i = 0; i < size; i++)
		if (d[i] != s->data[i]) {
			uint8_t was = s->data[i], is = d[i];
			free(d);
			fail_msg("%s: file byte %" PRIu64 " changed from %#x to "
					"%#x", when, i, was, is);
		}
	free(d);
}

void
pmlt_snap_free(struct pmlt_snap *s)
{
	free(s->data);
	s->data = NULL;
}

/* ------------------------------------------------------------ regions */

struct pml_region *
pmlt_open(const char *path, uint64_t max_size, unsigned flags)
{
	struct pml_region *r = NULL;
	struct pml_region_opts o = { .max_size = max_size, .flags = flags };
	int rc = pml_region_open(&r, path, &o);
	if (rc)
		fail_msg("pml_region_open(%s): %d (%s): %s", path, rc,
				pmlt_errname(rc), pml_errormsg());
	if (!r)
		fail_msg("pml_region_open(%s) returned 0 but no region", path);
	return r;
}

void
pmlt_close(struct pml_region **r)
{
	int rc = pml_region_close(r);
	if (rc)
		fail_msg("pml_region_close: %d (%s): %s", rc,
				pmlt_errname(rc), pml_errormsg());
	if (*r)
		fail_msg("pml_region_close returned 0 but left *region set");
}

uint64_t
pmlt_alignment(const struct pml_region *r)
{
	struct pml_region_info info;
	int rc = pml_region_info(&info, r);
	if (rc)
		fail_msg("pml_region_info: %d (%s): %s", rc, pmlt_errname(rc),
				pml_errormsg());
	if (info.alignment == 0 || (info.alignment & (info.alignment - 1)))
		fail_msg("region alignment %" PRIu64 " is not a power of two",
				info.alignment);
	return info.alignment;
}

uint64_t
pmlt_probe_alignment(void)
{
	static uint64_t a;
	if (a)
		return a;
	char p[4200];
	pmlt_path(p, sizeof(p), "align-probe");
	struct pml_region *r = pmlt_open(p, 0, PML_REGION_CREATE);
	a = pmlt_alignment(r);
	pmlt_close(&r);
	unlink(p);
	return a;
}

/* ------------------------------------------------ lease with callbacks */

static void
holder_on_break(struct pml_lease *lease, enum pml_break_reason why,
		void *arg)
{
	struct pmlt_holder *h = arg;
	if (lease != h->lease)
		pmlt_thread_fail("holder %d: on_break got lease %p, its lease "
				"is %p", h->id, (void *)lease,
				(void *)h->lease);
	h->cb_thread = pthread_self();
	if (h->extra)
		h->extra(h, why);
	bool put = (why == PML_BREAK_LAYOUT && h->put_on_layout) ||
		(why == PML_BREAK_REVOKED && h->put_on_revoke);
	if (put) {
		int rc = pml_lease_put(lease);
		if (rc)
			pmlt_thread_fail("holder %d: put inside on_break(%d) "
					"returned %d (%s): %s", h->id, why, rc,
					pmlt_errname(rc), pml_errormsg());
		atomic_fetch_add(&h->n_cb_puts, 1);
	}
	/* counted last: a waiter that sees the count sees all of the above */
	if (why == PML_BREAK_LAYOUT)
		atomic_fetch_add(&h->n_layout, 1);
	else if (why == PML_BREAK_REVOKED)
		atomic_fetch_add(&h->n_revoked, 1);
	else
		atomic_fetch_add(&h->n_other, 1);
	pmlt_event();
}

const struct pml_lease_ops pmlt_holder_ops = {
	.on_break = holder_on_break,
};

void
pmlt_holder_init(struct pmlt_holder *h, int id)
{
	memset(h, 0, sizeof(*h));
	atomic_init(&h->n_layout, 0);
	atomic_init(&h->n_revoked, 0);
	atomic_init(&h->n_other, 0);
	atomic_init(&h->n_cb_puts, 0);
	atomic_init(&h->extra_rc, 0);
	h->id = id;
}

int
pmlt_hold(struct pmlt_holder *h, struct pml_region *r, uint64_t off,
		uint64_t len, unsigned flags)
{
	return pml_lease_acquire(&h->lease, r, off, len, flags,
			&pmlt_holder_ops, h);
}

/* ------------------------------------------------------------------ rng */

uint64_t
pmlt_seed(const char *prog)
{
	const char *v = getenv("PML_TEST_SEED");
	uint64_t s;
	if (v && *v)
		s = strtoull(v, NULL, 0);
	else
		s = pmlt_now_ns() ^ ((uint64_t)getpid() << 32);
	printf("%s: seed %" PRIu64 " (rerun with PML_TEST_SEED=%" PRIu64
			")\n", prog, s, s);
	fflush(stdout);
	return s;
}

/* every program first checks that its directory can do what it needs */
static int
group_setup(void **state)
{
	(void)state;
	pmlt_require_fs();
	pmlt_probe_alignment();
	return 0;
}

int
pmlt_run(const char *name, const struct CMUnitTest *tests, size_t n)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("%s: test files in %s\n", name, pmlt_dir());
	pmlt_watchdog(900, name);
	int failed_tests = _cmocka_run_group_tests(name, tests, n,
			group_setup, NULL);
	pmlt_watchdog(0, NULL);
	return failed_tests;
}

/* ------------------------------------------------------------ commands */

void
pmlt_cmd_start(struct pmlt_cmd *c, const char *const *argv,
		const char *const *env)
{
	int p[2];

	if (pipe(p))
		fail_msg("pipe: %s", strerror(errno));
	memset(c, 0, sizeof(*c));
	fflush(stdout);
	c->pid = fork();
	if (c->pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (c->pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		close(p[1]);
		for (unsigned i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	c->fd = p[0];
}

bool
pmlt_cmd_running_after(struct pmlt_cmd *c, unsigned ms)
{
	pmlt_sleep_ms(ms);
	return waitpid(c->pid, &(int){ 0 }, WNOHANG) == 0;
}

int
pmlt_cmd_finish(struct pmlt_cmd *c, const char *what, unsigned max_ms)
{
	int st = 0;
	size_t n = 0;
	uint64_t t0 = pmlt_now_ns();
	ssize_t k;

	for (;;) {
		k = read(c->fd, c->out + n, sizeof(c->out) - 1 - n);
		if (k > 0)
			n += (size_t)k;

		pid_t w = waitpid(c->pid, &st, WNOHANG);

		if (w == c->pid || (w < 0 && errno == ECHILD))
			break;
		if (pmlt_now_ns() - t0 > (uint64_t)max_ms * 1000000)
			fail_msg("%s: still running after %u ms", what, max_ms);
		pmlt_sleep_ms(5);
	}
	while ((k = read(c->fd, c->out + n, sizeof(c->out) - 1 - n)) > 0)
		n += (size_t)k;
	c->out[n] = 0;
	close(c->fd);
	printf("# %s: status %d, said: %s", what, WEXITSTATUS(st),
			n ? c->out : "(nothing)\n");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

unsigned
pmlt_leases_of(const char *path, pid_t pid, unsigned flags)
{
	struct pml_snapshot *s = NULL;
	unsigned n = 0;

	PMLT_OK(pml_snapshot_take(&s, path, pid, 2000));
	for (unsigned f = 0; f < pml_snapshot_nfiles(s); f++) {
		const struct pml_file_info *fi = pml_snapshot_file(s, f);

		for (unsigned h = 0; h < fi->nholders; h++) {
			const struct pml_holder_info *hi =
				pml_snapshot_holder(s, f, h);

			for (unsigned i = 0; i < hi->nleases; i++)
				n += (pml_snapshot_lease(s, f, h, i)->flags &
						flags) == flags;
		}
	}
	pml_snapshot_free(&s);
	return n;
}

void
pmlt_wait_leases(const char *path, pid_t pid, unsigned ms)
{
	for (unsigned t = 0; t < ms; t += 10) {
		if (pmlt_leases_of(path, pid, 0))
			return;
		pmlt_sleep_ms(10);
	}
	fail_msg("pid %d took no lease on %s within %u ms", (int)pid, path,
			ms);
}
