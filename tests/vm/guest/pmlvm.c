/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pmlvm.c -- the guest side of the real-DAX tier: arguments, environment,
 * data patterns, a SIGBUS-safe probe, and cmocka's outcome as an exit code.
 */
#include "pmlvm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct pmlvm_env pmlvm;
unsigned pmlvm_skipped;

static void usage(const char *why)
{
	fprintf(stderr,
		"pmlvm: %s\n"
		"usage: TEST --target=devdax|ext4|xfs [--phase=N]\n"
		"(run by the guest init of tests/vm, which also sets the\n"
		"PMLVM_* environment; see tests/vm/README.md)\n", why);
	exit(2);
}

static uint64_t env_u64(const char *name, int base)
{
	const char *v = getenv(name);
	char *end;
	unsigned long long x;

	if (v == NULL || *v == '\0')
		return 0;
	errno = 0;
	x = strtoull(v, &end, base);
	if (errno != 0 || *end != '\0') {
		fprintf(stderr, "pmlvm: bad %s=%s\n", name, v);
		exit(2);
	}
	return x;
}

static const char *env_str(const char *name)
{
	const char *v = getenv(name);

	return (v != NULL && *v != '\0') ? v : NULL;
}

void pmlvm_init(int argc, char **argv)
{
	const char *target = NULL;

	/* the log is a file: keep stdout and stderr in order, and keep what
	 * was printed before a fatal signal */
	setvbuf(stdout, NULL, _IOLBF, 0);

	pmlvm.phase = 1;
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--target=", 9) == 0) {
			target = argv[i] + 9;
		} else if (strncmp(argv[i], "--phase=", 8) == 0) {
			char *end;
			long p = strtol(argv[i] + 8, &end, 10);

			if (*end != '\0' || p < 1 || p > 9)
				usage("bad --phase");
			pmlvm.phase = (int)p;
		} else {
			usage("unknown argument");
		}
	}
	if (target == NULL)
		target = env_str("PMLVM_TARGET");
	if (target == NULL)
		usage("no --target");
	if (strcmp(target, "devdax") == 0)
		pmlvm.target = PMLVM_DEVDAX;
	else if (strcmp(target, "ext4") == 0)
		pmlvm.target = PMLVM_EXT4;
	else if (strcmp(target, "xfs") == 0)
		pmlvm.target = PMLVM_XFS;
	else
		usage("unknown target");
	pmlvm.target_name = target;

	pmlvm.test = env_str("PMLVM_TEST");
	pmlvm.run_id = env_u64("PMLVM_RUN_ID", 16);
	pmlvm.dir = env_str("PMLVM_DIR");
	pmlvm.devdax = env_str("PMLVM_DEVDAX");
	pmlvm.pmemdev = env_str("PMLVM_PMEMDEV");
	pmlvm.mount = env_str("PMLVM_MOUNT");
	pmlvm.blockdev = env_str("PMLVM_BLOCKDEV");
	pmlvm.slot_offset = env_u64("PMLVM_SLOT_OFFSET", 10);
	pmlvm.slot_size = env_u64("PMLVM_SLOT_SIZE", 10);

	if (pmlvm.dir == NULL || pmlvm.test == NULL)
		usage("PMLVM_DIR or PMLVM_TEST is not set");
	if (pmlvm.target == PMLVM_DEVDAX &&
	    (pmlvm.devdax == NULL || pmlvm.slot_size == 0))
		usage("devdax target without PMLVM_DEVDAX or PMLVM_SLOT_SIZE");
	if (pmlvm_is_fsdax() && (pmlvm.mount == NULL || pmlvm.pmemdev == NULL))
		usage("fsdax target without PMLVM_MOUNT or PMLVM_PMEMDEV");

	printf("pmlvm: %s, target %s, phase %d, run %016llx, dir %s\n",
		pmlvm.test, pmlvm.target_name, pmlvm.phase,
		(unsigned long long)pmlvm.run_id, pmlvm.dir);
}

int pmlvm_run(const char *group, const struct CMUnitTest *tests, size_t n)
{
	int failed;

	pmlvm_skipped = 0;
	failed = _cmocka_run_group_tests(group, tests, n, NULL, NULL);
	if (failed != 0)
		return 1;
	if (n > 0 && pmlvm_skipped == n)
		return 77;
	return 0;
}

int pmlvm_is_fsdax(void)
{
	return pmlvm.target == PMLVM_EXT4 || pmlvm.target == PMLVM_XFS;
}

char *pmlvm_path(const char *name)
{
	size_t len = strlen(pmlvm.dir) + 1 + strlen(name) + 1;
	char *p = malloc(len);

	if (p == NULL) {
		perror("malloc");
		exit(1);
	}
	snprintf(p, len, "%s/%s", pmlvm.dir, name);
	return p;
}

void pmlvm_make_file(const char *path, uint64_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		fail_msg("open(%s): %s", path, strerror(errno));
	if (ftruncate(fd, (off_t)size) != 0) {
		int e = errno;

		close(fd);
		fail_msg("ftruncate(%s, %llu): %s", path,
			(unsigned long long)size, strerror(e));
	}
	if (fsync(fd) != 0) {
		int e = errno;

		close(fd);
		fail_msg("fsync(%s): %s", path, strerror(e));
	}
	close(fd);
}

/*
 * splitmix64 of (run id, seed, 8-byte word index): cheap, and every word
 * differs with each of the three.
 */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* the 8 bytes of the stream at word index w (bytes 8w .. 8w+7) */
static uint64_t pattern_word(uint64_t seed, uint64_t w)
{
	return mix(pmlvm.run_id ^ mix(seed ^ mix(w)));
}

void pmlvm_pattern(void *buf, size_t len, uint64_t seed, uint64_t pos)
{
	uint8_t *b = buf;
	uint64_t w = pattern_word(seed, pos / 8);

	for (size_t i = 0; i < len; i++) {
		uint64_t at = pos + i;

		if (i > 0 && at % 8 == 0)
			w = pattern_word(seed, at / 8);
		b[i] = (uint8_t)(w >> (8 * (at % 8)));
	}
}

size_t pmlvm_pattern_check(const void *buf, size_t len, uint64_t seed,
		uint64_t pos)
{
	const uint8_t *b = buf;
	uint64_t w = pattern_word(seed, pos / 8);

	for (size_t i = 0; i < len; i++) {
		uint64_t at = pos + i;

		if (i > 0 && at % 8 == 0)
			w = pattern_word(seed, at / 8);
		if (b[i] != (uint8_t)(w >> (8 * (at % 8))))
			return i;
	}
	return (size_t)-1;
}

static sigjmp_buf touch_jmp;
static volatile sig_atomic_t touch_sig;
static volatile uintptr_t touch_addr;

static void touch_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	touch_sig = sig;
	touch_addr = (uintptr_t)si->si_addr;
	siglongjmp(touch_jmp, 1);
}

int pmlvm_touch(const void *addr, size_t len, size_t step, uintptr_t *fault)
{
	struct sigaction sa, old_bus, old_segv;
	const volatile uint8_t *p = addr;
	int ret = 0;

	/* volatile: read after a siglongjmp back into this frame */
	volatile size_t stride = step != 0 ? step : 4096;

	if (len == 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = touch_handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old_bus);
	sigaction(SIGSEGV, &sa, &old_segv);

	touch_sig = 0;
	if (sigsetjmp(touch_jmp, 1) == 0) {
		for (size_t off = 0; off < len; off += stride)
			(void)p[off];
		(void)p[len - 1];
	} else {
		ret = touch_sig;
		if (fault != NULL)
			*fault = touch_addr;
	}

	sigaction(SIGBUS, &old_bus, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	return ret;
}

char *pmlvm_read_line(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (f == NULL)
		return NULL;
	n = getline(&line, &cap, f);
	fclose(f);
	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

int pmlvm_capture(char *const argv[], char *buf, size_t len)
{
	int fd[2] = { -1, -1 }, st;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	print_message("+");
	for (int i = 0; argv[i] != NULL; i++)
		print_message(" %s", argv[i]);
	print_message("\n");
	if (buf != NULL)
		assert_int_equal(pipe(fd), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (buf != NULL) {
			dup2(fd[1], STDOUT_FILENO);
			close(fd[0]);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (buf != NULL) {
		close(fd[1]);
		while (got + 1 < len &&
		       (n = read(fd[0], buf + got, len - got - 1)) > 0)
			got += (size_t)n;
		buf[got] = '\0';
		close(fd[0]);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
