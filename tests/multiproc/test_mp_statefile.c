/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_mp_statefile -- a state file (or runtime directory) corrupted,
 * truncated or replaced in many ways.  Opening a region on the data file
 * must then give a clear negative errno and a message naming the file or
 * directory -- never crash, hang or read out of bounds -- and a process
 * attached at the time must survive.  The opener is a helper process, so a
 * crash is a signal we see and a hang a reply that does not come (10 s).
 *
 * A leftover nobody is attached to -- of another library layout, or of a
 * file whose inode number was reused -- is made anew silently: intended,
 * and tested too.
 */
#include "mp.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared.h"

enum outcome {
	ERR,		/* a negative errno among expect[], and a message */
	REPLACED,	/* opens; the state file is valid and ours again */
	SANE,		/* opens, or fails cleanly: no crash, no hang */
};

enum prep {
	LEFTOVER,	/* a state file whose only process was killed */
	ATTACHED,	/* a state file a live process (X) is attached to */
	NONE,		/* no state file made */
};

struct sfcase {
	const char *name;
	enum prep prep;
	void (*corrupt)(struct mp_fix *f, const char *st);
	enum outcome outcome;
	int expect[3];
	bool root;	/* needs root (chown) */
};

static void
poke(const char *st, size_t off, const void *v, size_t n)
{
	int fd = open(st, O_RDWR);

	if (fd < 0)
		fail_msg("open %s: %s", st, strerror(errno));
	if (pwrite(fd, v, n, (off_t)off) != (ssize_t)n)
		fail_msg("pwrite %s: %s", st, strerror(errno));
	close(fd);
}

#define POKE(st, field, type, val) do { \
	type v_ = (type)(val); \
	poke((st), offsetof(struct shm_header, field), &v_, sizeof(v_)); \
} while (0)

#define QOFF(i, field) (offsetof(struct shm_header, quar) + \
	(i) * sizeof(struct shm_quar) + offsetof(struct shm_quar, field))
#define SOFF(i, field) (offsetof(struct shm_header, slots) + \
	(i) * sizeof(struct shm_slot) + offsetof(struct shm_slot, field))

static void
poke_at(const char *st, size_t off, uint64_t v, size_t n)
{
	poke(st, off, &v, n);	/* little-endian: the low n bytes */
}

static void
truncate_to(const char *st, off_t size)
{
	if (truncate(st, size))
		fail_msg("truncate %s: %s", st, strerror(errno));
}

/* ------------------------------------------------------ the corruptions */

static void c_magic(struct mp_fix *f, const char *st)
{ (void)f; poke(st, 0, "XXXXXXXX", 8); }
static void c_trunc4(struct mp_fix *f, const char *st)
{ (void)f; truncate_to(st, 4); }
static void c_trunc100(struct mp_fix *f, const char *st)
{ (void)f; truncate_to(st, 100); }
static void c_grow(struct mp_fix *f, const char *st)
{ (void)f; truncate_to(st, sizeof(struct shm_header) + 4096); }
static void c_version(struct mp_fix *f, const char *st)
{ (void)f; POKE(st, version, uint32_t, SHM_VERSION + 41); }
static void c_hsize(struct mp_fix *f, const char *st)
{ (void)f; POKE(st, header_size, uint32_t, 0xffffffffu); }
static void c_nslots(struct mp_fix *f, const char *st)
{ (void)f; POKE(st, nslots, uint32_t, 1u << 30); }
static void c_nquar(struct mp_fix *f, const char *st)
{ (void)f; POKE(st, nquar, uint32_t, SHM_QUAR_MAX + 1); }
static void c_nquar_neg(struct mp_fix *f, const char *st)
{ (void)f; POKE(st, nquar, uint32_t, 0xffffffffu); }

static void
c_quar_order(struct mp_fix *f, const char *st)
{
	poke_at(st, QOFF(0, start), 8 * f->A, 8);
	poke_at(st, QOFF(0, end), 4 * f->A, 8);
	POKE(st, nquar, uint32_t, 1);
}

static void
c_quar_slot(struct mp_fix *f, const char *st)
{
	poke_at(st, QOFF(0, start), 0, 8);
	poke_at(st, QOFF(0, end), f->A, 8);
	poke_at(st, QOFF(0, slot), 4096, 4);
	POKE(st, nquar, uint32_t, 1);
}

/* an entry of a dead slot over [0, 2^62): past the end of any file */
static void
c_quar_huge(struct mp_fix *f, const char *st)
{
	(void)f;
	poke_at(st, QOFF(0, start), 0, 8);
	poke_at(st, QOFF(0, end), UINT64_C(1) << 62, 8);
	poke_at(st, QOFF(0, slot), 7, 4);
	poke_at(st, SOFF(7, used), 1, 4);
	POKE(st, nquar, uint32_t, 1);
}

static void
c_bar_owner(struct mp_fix *f, const char *st)
{
	POKE(st, barrier_start, uint64_t, 0);
	POKE(st, barrier_end, uint64_t, f->A);
	POKE(st, barrier_owner, uint32_t, 1000);
	POKE(st, barrier_phase, uint32_t, SHM_PHASE_DRAIN);
}

static void c_layout_owner(struct mp_fix *f, const char *st)
{ (void)f; POKE(st, layout_owner, uint32_t, 0x80000000u); }
static void c_phase(struct mp_fix *f, const char *st)
{ (void)f; POKE(st, barrier_phase, uint32_t, 77); }

static void
c_bar_empty(struct mp_fix *f, const char *st)
{
	POKE(st, barrier_start, uint64_t, 4 * f->A);
	POKE(st, barrier_end, uint64_t, 4 * f->A);
	POKE(st, barrier_owner, uint32_t, 6);
	POKE(st, barrier_phase, uint32_t, SHM_PHASE_DRAIN);
}

/* a barrier of a dead slot (not the one the opener takes) */
static void
c_bar_dead(struct mp_fix *f, const char *st)
{
	poke_at(st, SOFF(5, used), 1, 4);
	poke_at(st, SOFF(5, pid), 1, 4);	/* init: alive, of course */
	POKE(st, barrier_start, uint64_t, 0);
	POKE(st, barrier_end, uint64_t, 8 * f->A);
	POKE(st, barrier_owner, uint32_t, 6);
	POKE(st, layout_owner, uint32_t, 6);
	POKE(st, barrier_phase, uint32_t, SHM_PHASE_REVOKE);
}

static void c_birth(struct mp_fix *f, const char *st)
{ (void)f; POKE(st, birth, uint64_t, 12345); }
static void c_ino(struct mp_fix *f, const char *st)
{ (void)f; POKE(st, ino, uint64_t, 0xdeadbeefULL); }
static void c_size_huge(struct mp_fix *f, const char *st)
{ POKE(st, size, uint64_t, UINT64_MAX - f->A + 1); }
static void c_size_one(struct mp_fix *f, const char *st)
{ (void)f; POKE(st, size, uint64_t, 1); }

static void
c_slot_garbage(struct mp_fix *f, const char *st)
{
	(void)f;
	for (uint32_t i = 1; i < SHM_SLOTS; i += 9) {
		poke_at(st, SOFF(i, used), 0xffffffffu, 4);
		poke_at(st, SOFF(i, pid), (uint32_t)-1, 4);
		poke_at(st, SOFF(i, uid), 0xfffffffeu, 4);
		poke_at(st, SOFF(i, ack_seq), UINT64_MAX, 8);
		poke_at(st, SOFF(i, drained_seq), UINT64_MAX, 8);
	}
	POKE(st, state_seq, uint64_t, UINT64_MAX);
	POKE(st, barrier_seq, uint64_t, UINT64_MAX);
}

static void c_lock_bad(struct mp_fix *f, const char *st)
{ (void)f; POKE(st, lock, uint32_t, 999); }
/* the lock word names the live process X (slot 0) for ever */
static void c_lock_live(struct mp_fix *f, const char *st)
{ (void)f; POKE(st, lock, uint32_t, 1); }

static void
c_symlink(struct mp_fix *f, const char *st)
{
	char precious[4300];

	snprintf(precious, sizeof(precious), "%s.precious", f->path);
	pmlt_make_file(precious, 4096, 99);
	if (symlink(precious, st))
		fail_msg("symlink: %s", strerror(errno));
}

static void
c_hardlink(struct mp_fix *f, const char *st)
{
	char other[8500];

	(void)f;
	snprintf(other, sizeof(other), "%s.link", st);
	if (link(st, other))
		fail_msg("link: %s", strerror(errno));
}

static void c_dir(struct mp_fix *f, const char *st)
{ (void)f; if (mkdir(st, 0700)) fail_msg("mkdir: %s", strerror(errno)); }
static void c_fifo(struct mp_fix *f, const char *st)
{ (void)f; if (mkfifo(st, 0600)) fail_msg("mkfifo: %s", strerror(errno)); }
static void c_mode(struct mp_fix *f, const char *st)
{ (void)f; if (chmod(st, 0666)) fail_msg("chmod: %s", strerror(errno)); }

static void
c_owner(struct mp_fix *f, const char *st)
{
	(void)f;
	if (chown(st, 65534, 65534))
		fail_msg("chown: %s", strerror(errno));
}

/* the runtime directory's cases point PMEMLEASE_RUNTIME_DIR elsewhere */
static void
c_rt_symlink(struct mp_fix *f, const char *st)
{
	char link[4300];

	(void)st;
	snprintf(link, sizeof(link), "%s.link", f->rt);
	if (symlink(f->rt, link))
		fail_msg("symlink: %s", strerror(errno));
	setenv("PMEMLEASE_RUNTIME_DIR", link, 1);
}

static void c_rt_world(struct mp_fix *f, const char *st)
{ (void)st; if (chmod(f->rt, 0777)) fail_msg("chmod: %s", strerror(errno)); }
static void c_rt_sticky(struct mp_fix *f, const char *st)
{ (void)st; if (chmod(f->rt, 01777)) fail_msg("chmod: %s", strerror(errno)); }

static void
c_rt_owner(struct mp_fix *f, const char *st)
{
	(void)st;
	if (chown(f->rt, 65534, 65534))
		fail_msg("chown: %s", strerror(errno));
}

static void
c_rt_file(struct mp_fix *f, const char *st)
{
	char file[4300];

	(void)st;
	snprintf(file, sizeof(file), "%s.file", f->rt);
	pmlt_make_file(file, 10, 1);
	setenv("PMEMLEASE_RUNTIME_DIR", file, 1);
}

static void c_empty(struct mp_fix *f, const char *st)
{ (void)f; truncate_to(st, 0); }

#define EU { -EUCLEAN }
#define ES { -ESTALE }
#define EP { -EPERM, -EACCES }

static const struct sfcase cases[] = {
	{ "bad magic", LEFTOVER, c_magic, ERR, EU, false },
	{ "bad magic, attached", ATTACHED, c_magic, ERR, EU, false },
	{ "truncated to 4 bytes", LEFTOVER, c_trunc4, ERR, EU, false },
	/*
	 * The process attached may die of it (SIGBUS: its mapping was cut
	 * under it, see the NOTE it prints) before or after the open: then
	 * the file is a leftover and made anew.  Either is fine; a crash or
	 * hang of the opener is not.
	 */
	{ "truncated to 100 bytes, attached", ATTACHED, c_trunc100, SANE,
		{ 0 }, false },
	{ "one page too long, attached", ATTACHED, c_grow, ERR, EU, false },
	{ "wrong version, attached", ATTACHED, c_version, ERR, ES, false },
	{ "wrong header size, attached", ATTACHED, c_hsize, ERR, ES, false },
	{ "huge slot count, attached", ATTACHED, c_nslots, ERR, ES, false },
	{ "nquar past the table", LEFTOVER, c_nquar, ERR, EU, false },
	{ "nquar 0xffffffff, attached", ATTACHED, c_nquar_neg, ERR, EU, false },
	{ "quarantine entry start >= end", LEFTOVER, c_quar_order, ERR, EU,
		false },
	{ "quarantine entry slot 4096, attached", ATTACHED, c_quar_slot, ERR,
		EU, false },
	{ "barrier owner 1000", LEFTOVER, c_bar_owner, ERR, EU, false },
	{ "layout owner 0x80000000, attached", ATTACHED, c_layout_owner, ERR,
		EU, false },
	{ "barrier phase 77", LEFTOVER, c_phase, ERR, EU, false },
	{ "empty barrier range", LEFTOVER, c_bar_empty, ERR, EU, false },
	{ "describes another file (ino), attached", ATTACHED, c_ino, ERR, ES,
		false },
	{ "describes another file (birth), attached", ATTACHED, c_birth, ERR,
		ES, false },
	{ "state file is a symlink", NONE, c_symlink, ERR, { -ELOOP }, false },
	{ "state file has two links", LEFTOVER, c_hardlink, ERR, EP, false },
	{ "state file is a directory", NONE, c_dir, ERR,
		{ -EISDIR, -EPERM }, false },
	{ "state file is a FIFO", NONE, c_fifo, ERR, EP, false },
	{ "state file mode 0666 for a 0600 file", LEFTOVER, c_mode, ERR, EP,
		false },
	{ "state file owned by uid 65534", LEFTOVER, c_owner, ERR, EP, true },
	{ "runtime dir is a symlink", NONE, c_rt_symlink, ERR,
		{ -ELOOP, -ENOTDIR }, false },
	{ "runtime dir is a file", NONE, c_rt_file, ERR,
		{ -ENOTDIR, -EEXIST }, false },
	{ "runtime dir writable by others", NONE, c_rt_world, ERR, EP, false },
	{ "runtime dir owned by uid 65534", NONE, c_rt_owner, ERR, EP, true },
	{ "lock word held for ever by a live process", ATTACHED, c_lock_live,
		ERR, { -EDEADLK, -ETIMEDOUT, -EBUSY }, false },
	/* leftovers nobody is attached to: made anew */
	{ "leftover of another version", LEFTOVER, c_version, REPLACED, { 0 },
		false },
	{ "leftover of another header size", LEFTOVER, c_hsize, REPLACED,
		{ 0 }, false },
	{ "leftover of another length", LEFTOVER, c_grow, REPLACED, { 0 },
		false },
	{ "leftover cut to 100 bytes", LEFTOVER, c_trunc100, REPLACED, { 0 },
		false },
	{ "leftover of another file (birth)", LEFTOVER, c_birth, REPLACED,
		{ 0 }, false },
	{ "leftover of another file (ino)", LEFTOVER, c_ino, REPLACED, { 0 },
		false },
	{ "empty state file", LEFTOVER, c_empty, REPLACED, { 0 }, false },
	/* odd but well-formed: must work or fail cleanly */
	{ "runtime dir sticky, mode 1777", NONE, c_rt_sticky, SANE, { 0 },
		false },
	{ "size field huge", LEFTOVER, c_size_huge, SANE, { 0 }, false },
	{ "size field 1, attached", ATTACHED, c_size_one, SANE, { 0 }, false },
	{ "garbage in dead slots and sequence numbers", LEFTOVER,
		c_slot_garbage, SANE, { 0 }, false },
	{ "lock word of no slot", LEFTOVER, c_lock_bad, SANE, { 0 }, false },
	{ "barrier and layout of a dead process", LEFTOVER, c_bar_dead, SANE,
		{ 0 }, false },
	/*
	 * Blocks kept for a lease lie inside the file (past the region's
	 * size at most, never past the file's end): an entry reaching past
	 * the file is forged, and lifting it must not deallocate the file.
	 */
	{ "quarantine [0, 2^62) of a dead process", LEFTOVER, c_quar_huge,
		ERR, EU, false },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* ------------------------------------------------------------- checks */

static void
header_is_ours(struct mp_fix *f, const char *st)
{
	struct shm_header *h = malloc(sizeof(*h));
	int fd = open(st, O_RDONLY | O_NOFOLLOW);
	struct stat sd, ss;
	struct statx sx;

	if (fd < 0 || fstat(fd, &ss) || stat(f->path, &sd) ||
			statx(AT_FDCWD, f->path, 0, STATX_BTIME, &sx))
		fail_msg("%s: %s", st, strerror(errno));
	if ((size_t)ss.st_size != sizeof(*h) ||
			pread(fd, h, sizeof(*h), 0) != (ssize_t)sizeof(*h))
		fail_msg("state file %s is %lld bytes, not %zu", st,
				(long long)ss.st_size, sizeof(*h));
	close(fd);

	uint64_t birth = (uint64_t)sx.stx_btime.tv_sec * 1000000000u +
		sx.stx_btime.tv_nsec;
	bool ok = !memcmp(h->magic, SHM_MAGIC, 8) &&
		h->version == SHM_VERSION && h->header_size == sizeof(*h) &&
		h->nslots == SHM_SLOTS && h->quar_max == SHM_QUAR_MAX &&
		h->dev == (uint64_t)sd.st_dev && h->ino == (uint64_t)sd.st_ino &&
		h->birth == birth;

	free(h);
	if (!ok)
		fail_msg("the state file %s was not made anew for the data file",
				st);
}

static void
run_case(void **state)
{
	struct mp_fix *f = *state;
	const struct sfcase *c = f->arg;
	char st[8400];

	if (c->root && geteuid() != 0) {
		printf("  (needs root to chown: skipped)\n");
		skip();
	}
	mp_state_path(st, sizeof(st), f->rt, f->path);
	if (c->prep != NONE) {
		mp_spawn_open(f, &f->c, "X");
		if (c->prep == LEFTOVER)
			mp_kill9(&f->c);
		if (access(st, F_OK))
			fail_msg("no state file %s to corrupt", st);
	}
	c->corrupt(f, st);

	/* the opener: a helper, so a crash or a hang is seen, not suffered */
	mp_spawn(&f->d, "Y", NULL);

	uint64_t t0 = pmlt_now_ns();
	int rc = mp_cmd(&f->d, "open %s %" PRIu64, f->path, 64 * f->A);
	double ms = (double)(pmlt_now_ns() - t0) / 1e6;

	printf("  open: %d (%s) in %.1f ms: %s\n", rc, pmlt_errname(rc), ms,
			rc ? f->d.reply : "");
	switch (c->outcome) {
	case ERR: {
		bool found = false;

		for (unsigned i = 0; i < 3; i++)
			found |= c->expect[i] && rc == c->expect[i];
		if (!found)
			fail_msg("%s: open returned %d (%s), expected %s%s%s",
					c->name, rc, pmlt_errname(rc),
					pmlt_errname(c->expect[0]),
					c->expect[1] ? " or " : "",
					c->expect[1] ?
					pmlt_errname(c->expect[1]) : "");
		/* a clear message: it names the directory or the file */
		if (!strstr(f->d.reply, getenv("PMEMLEASE_RUNTIME_DIR")))
			fail_msg("%s: the message \"%s\" does not name %s",
					c->name, f->d.reply,
					getenv("PMEMLEASE_RUNTIME_DIR"));
		break;
	}
	case REPLACED:
		if (rc)
			fail_msg("%s: a leftover was not made anew: %d (%s): "
					"%s", c->name, rc, pmlt_errname(rc),
					f->d.reply);
		header_is_ours(f, st);
		break;
	case SANE:
		/* failing is fine, if it says clearly what is wrong and where */
		if (rc < 0 && !strstr(f->d.reply,
				getenv("PMEMLEASE_RUNTIME_DIR")))
			fail_msg("%s: open failed (%d, %s) with a message that "
					"does not name the state file: \"%s\"",
					c->name, rc, pmlt_errname(rc), f->d.reply);
		if (rc >= 0 && mp_cmd(&f->d, "size") !=
				(int)pmlt_file_size(f->path))
			fail_msg("%s: the region's size %s is not the file's",
					c->name, f->d.reply);
		if (rc >= 0) {
			/* and the file works: a lease over all of it */
			uint64_t s = (uint64_t)mp_cmd(&f->d, "size");

			mp_ok(&f->d, "acq 1 0 %" PRIu64 " 0 none", s);
			mp_ok(&f->d, "put 1");
		}
		printf("  data file: %" PRIu64 " of %" PRIu64 " bytes "
				"allocated\n", mp_alloc(f, 0, MP_PAGES * f->A),
				MP_PAGES * f->A);
		break;
	}
	mp_exit(&f->d);

	if (c->corrupt == c_symlink) {
		/* what the symlink pointed to is untouched */
		char precious[4300];
		uint8_t buf[4096];

		snprintf(precious, sizeof(precious), "%s.precious", f->path);
		pmlt_read_file(precious, 0, buf, sizeof(buf));
		if (pmlt_file_size(precious) != sizeof(buf) ||
				pmlt_check_pattern(buf, 0, sizeof(buf), 99) != -1)
			fail_msg("the file the state file's symlink pointed to "
					"was changed");
		unlink(precious);
	}

	/* a process attached all along is still there, after its agent ran */
	if (c->prep == ATTACHED) {
		pmlt_sleep_ms(600);
		if (mp_dead(&f->c)) {
			char what[64];

			snprintf(what, sizeof(what), "%s %d",
					WIFSIGNALED(f->c.status) ?
					"killed by signal" : "exited with",
					WIFSIGNALED(f->c.status) ?
					WTERMSIG(f->c.status) :
					WEXITSTATUS(f->c.status));
			if (c->corrupt == c_trunc100)
				printf("  NOTE: the attached process was %s "
						"(its mapping of the state file "
						"was cut under it)\n", what);
			else
				fail_msg("%s: the process attached to the "
						"state file was %s", c->name,
						what);
		} else {
			PMLT_RC(f->c.pid, mp_cmd(&f->c, "pid"));
		}
	}
}

/* the inode number of a removed file, reused by a new one */
static void
test_leftover_of_reused_inode(void **state)
{
	struct mp_fix *f = *state;
	char st[8400], path2[4300];
	struct stat s1, s2;

	mp_spawn_open(f, &f->c, "X");
	mp_kill9(&f->c);
	mp_state_path(st, sizeof(st), f->rt, f->path);
	if (stat(f->path, &s1) || access(st, F_OK))
		fail_msg("no leftover state file %s", st);
	unlink(f->path);

	/* ext4 and xfs hand a freed inode number out again soon */
	bool reused = false;

	for (int i = 0; i < 200 && !reused; i++) {
		snprintf(path2, sizeof(path2), "%s.new%d", f->path, i);
		pmlt_make_file(path2, MP_PAGES * f->A, MP_FILE_SEED);
		if (stat(path2, &s2))
			fail_msg("stat: %s", strerror(errno));
		reused = s2.st_ino == s1.st_ino && s2.st_dev == s1.st_dev;
	}
	if (!reused) {
		printf("  (inode %lu not reused: the leftover's birth time is "
				"changed instead)\n", (unsigned long)s1.st_ino);
		POKE(st, birth, uint64_t, 1);
		snprintf(path2, sizeof(path2), "%s", f->path);
		pmlt_make_file(path2, MP_PAGES * f->A, MP_FILE_SEED);
		mp_state_path(st, sizeof(st), f->rt, path2);
		rename(st, st);
	} else {
		printf("  inode %lu reused by a new file\n",
				(unsigned long)s2.st_ino);
		if (rename(path2, f->path))
			fail_msg("rename: %s", strerror(errno));
	}
	mp_spawn(&f->d, "Y", NULL);
	mp_ok(&f->d, "open %s %" PRIu64, f->path, 64 * f->A);
	header_is_ours(f, st);
	mp_exit(&f->d);
}

int
main(void)
{
	struct CMUnitTest tests[NCASES + 1];

	mp_cmd_timeout_ms = 10000;	/* a hang fails in 10 s */
	for (size_t i = 0; i < NCASES; i++)
		tests[i] = (struct CMUnitTest){
			.name = cases[i].name,
			.test_func = run_case,
			.setup_func = mp_setup,
			.teardown_func = mp_teardown,
			.initial_state = (void *)&cases[i],
		};
	tests[NCASES] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(
			test_leftover_of_reused_inode, mp_setup, mp_teardown);
	return mp_run("test_mp_statefile", tests, NCASES + 1);
}
