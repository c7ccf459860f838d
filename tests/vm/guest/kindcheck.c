/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kindcheck.c -- libpmlvm_kindcheck.so, preloaded into every program that
 * runs as a guest test through pml_add_vm_program(): a host test or an
 * example that knows nothing of this tier and would pass just as well on
 * plain files in the guest's RAM.  It makes sure the program really ran on
 * the target's media:
 *
 *   - every region the program opens must be of the target's kind
 *     (PMLVM_TARGET): PML_REGION_FSDAX on ext4 and xfs, PML_REGION_DEVDAX
 *     on devdax.  Any other kind stops the program at once with exit status
 *     97 and a message naming the file;
 *   - a program that opened no region at all proved nothing about DAX: it
 *     leaves with exit status 97 too.
 *
 * It defines pml_region_open(): preloaded, this definition is the one the
 * program's calls bind to; it calls the library's own (RTLD_NEXT) and
 * checks what it opened.  The library's internal calls are not affected.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pmemlease.h"

#define KINDCHECK_EXIT 97

typedef int (*open_fn)(struct pml_region **, const char *,
		const struct pml_region_opts *);

static atomic_uint nopened;

__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pmlvm-kindcheck: FAIL: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fflush(NULL);
	_exit(KINDCHECK_EXIT);
}

/* the kind every region must have on this target */
static enum pml_region_kind wanted(void)
{
	const char *t = getenv("PMLVM_TARGET");

	if (t != NULL && strcmp(t, "devdax") == 0)
		return PML_REGION_DEVDAX;
	if (t != NULL && (strcmp(t, "ext4") == 0 || strcmp(t, "xfs") == 0))
		return PML_REGION_FSDAX;
	die("PMLVM_TARGET is '%s': not a guest test of tests/vm",
		t ? t : "");
}

int pml_region_open(struct pml_region **region, const char *path,
		const struct pml_region_opts *opts)
{
	open_fn real = (open_fn)dlsym(RTLD_NEXT, "pml_region_open");
	struct pml_region_info info;
	enum pml_region_kind want = wanted();
	int ret;

	if (real == NULL)
		die("no pml_region_open after the preloaded one: %s",
			dlerror());
	ret = real(region, path, opts);
	if (ret != 0)
		return ret;
	if (pml_region_info(&info, *region) != 0)
		die("pml_region_info(%s): %s", path, pml_errormsg());
	if (info.kind != want)
		die("%s opened as a %s region, not %s: this run is not on "
			"real DAX", path, pml_region_kind_name(info.kind),
			pml_region_kind_name(want));
	atomic_fetch_add(&nopened, 1);
	return 0;
}

__attribute__((destructor)) static void kindcheck_report(void)
{
	unsigned n = atomic_load(&nopened);

	if (n == 0)
		die("the program opened no region: it proved nothing on %s",
			pml_region_kind_name(wanted()));
	fprintf(stderr, "pmlvm-kindcheck: %u regions opened, every one %s\n",
		n, pml_region_kind_name(wanted()));
}
