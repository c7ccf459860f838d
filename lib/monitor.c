/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * monitor.c -- noticing that a device went away, or went bad, under a
 * region: the kernel's uevents, and SIGBUS.
 *
 * What the kernel does today (../shared/notes): disabling a dax device
 * revokes devdax mappings, and the next access gets SIGBUS out of nowhere;
 * unbinding an fsdax namespace leaves the mapping pointing at nothing, with
 * no fault at all; poison arrives as SIGBUS BUS_MCEERR_AR.  So the monitor
 * listens to uevents for the removal of any device a region sits on, and
 * catches SIGBUS inside regions.
 *
 * The signal handler does only what is async-signal-safe and cannot wait:
 * it finds the region from a lock-free table, replaces the dead range with
 * anonymous memory (mmap is a system call) so the faulting access
 * completes when the handler returns, records what happened in the region
 * with atomics, and wakes the monitor thread through an eventfd.  The
 * thread does the rest -- on_break callbacks, revoking, quarantining --
 * where locks may be taken.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "err.h"
#include "region.h"

/* ------------------------------------------- regions, for the handler */

#define TRACK_MAX 256

struct track {
	_Atomic uintptr_t base;
	_Atomic uintptr_t len;
	struct pml_region *_Atomic r;
};

static struct track tracks[TRACK_MAX];
static int wake_fd = -1;	/* the monitor thread's eventfd */

/* region.c, at open: the handler may find the region from now on */
void
monitor_track(struct pml_region *r)
{
	char link[64], path[PATH_MAX];

	snprintf(link, sizeof(link), "/sys/dev/%s/%u:%u",
			r->kind == PML_REGION_DEVDAX ? "char" : "block",
			major(r->dev), minor(r->dev));
	/* "/sys/devices/..." -> "/devices/...", as uevents name devices */
	if (realpath(link, path) && strncmp(path, "/sys/", 5) == 0)
		r->devpath = strdup(path + 4);
	r->cxl_paths = cxl_watch_paths(r->devpath, r->cxl_region,
			sizeof(r->cxl_region));

	for (unsigned i = 0; i < TRACK_MAX; i++) {
		struct pml_region *none = NULL;

		if (atomic_compare_exchange_strong(&tracks[i].r, &none, r)) {
			atomic_store(&tracks[i].len, (uintptr_t)r->max_size);
			atomic_store(&tracks[i].base, (uintptr_t)r->base);
			return;
		}
	}
	/* more regions than entries: those are not rescued, only watched */
}

/* region.c, at close, before the mapping goes */
void
monitor_untrack(struct pml_region *r)
{
	for (unsigned i = 0; i < TRACK_MAX; i++) {
		if (atomic_load(&tracks[i].r) == r) {
			atomic_store(&tracks[i].base, 0);
			atomic_store(&tracks[i].len, 0);
			atomic_store(&tracks[i].r, NULL);
		}
	}
	free(r->devpath);
	r->devpath = NULL;
	for (char **p = r->cxl_paths; p && *p; p++)
		free(*p);
	free(r->cxl_paths);
	r->cxl_paths = NULL;
}

/* ---------------------------------------------------------- SIGBUS */

static struct sigaction prev_sigbus;
static atomic_bool handler_installed;

static void
chain(int sig, siginfo_t *si, void *uc)
{
	if (prev_sigbus.sa_flags & SA_SIGINFO) {
		prev_sigbus.sa_sigaction(sig, si, uc);
	} else if (prev_sigbus.sa_handler != SIG_DFL &&
			prev_sigbus.sa_handler != SIG_IGN) {
		prev_sigbus.sa_handler(sig);
	} else {
		/*
		 * Nobody else wants it: die of it as if we were not here.  A
		 * fault repeats when we return; a signal sent is sent again.
		 */
		signal(sig, SIG_DFL);
		if (si->si_code <= 0 || si->si_code == BUS_MCEERR_AO)
			raise(sig);
	}
}

static void
on_sigbus(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	uintptr_t a = (uintptr_t)si->si_addr;
	struct pml_region *r = NULL;
	uintptr_t base = 0, len = 0;

	for (unsigned i = 0; i < TRACK_MAX && !r; i++) {
		base = atomic_load(&tracks[i].base);
		len = atomic_load(&tracks[i].len);
		if (base && a >= base && a - base < len)
			r = atomic_load(&tracks[i].r);
	}
	if (!r || si->si_code <= 0) {	/* not ours, or sent by someone */
		chain(sig, si, uc);
		errno = saved;
		return;
	}
	if (si->si_code == BUS_MCEERR_AR || si->si_code == BUS_MCEERR_AO) {
		unsigned lsb = si->si_addr_lsb;
		uintptr_t plen, page;

		if (lsb < 12 || lsb > 30)
			lsb = 12;
		plen = (uintptr_t)1 << lsb;
		page = a & ~(plen - 1);
		if (page < base)
			page = base;
		if (revoke_replace_mapping((char *)page, plen)) {
			chain(sig, si, uc);
			errno = saved;
			return;
		}
		poison_record(r, page - base, plen);
	} else {
		int live = REVOKE_LIVE;

		/* the device is gone: the whole mapping, now */
		if (revoke_replace_mapping((char *)base, len)) {
			chain(sig, si, uc);
			errno = saved;
			return;
		}
		atomic_compare_exchange_strong(&r->revoke, &live,
				REVOKE_DYING);
	}
	if (wake_fd >= 0) {
		uint64_t one = 1;
		ssize_t w = write(wake_fd, &one, sizeof(one));

		(void)w;
	}
	errno = saved;
}

static int
sigbus_install(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus,
		.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART };

	if (atomic_load(&handler_installed))
		return 0;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &prev_sigbus))
		return err_set(errno, "cannot install the SIGBUS handler: %m");
	atomic_store(&handler_installed, true);
	return 0;
}

static void
sigbus_uninstall(void)
{
	if (atomic_exchange(&handler_installed, false))
		sigaction(SIGBUS, &prev_sigbus, NULL);
}

/* --------------------------------------------------------- uevents */

int
pml_monitor_fd(void)
{
	struct sockaddr_nl nl = {
		.nl_family = AF_NETLINK,
		.nl_groups = 1,		/* the kernel's own events */
	};
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			NETLINK_KOBJECT_UEVENT);

	if (fd < 0)
		return err_set(errno, "cannot open a uevent socket: %m");
	if (bind(fd, (struct sockaddr *)&nl, sizeof(nl))) {
		int e = errno;

		close(fd);
		return err_set(e, "cannot listen to kernel uevents: %s",
				strerror(e));
	}
	return fd;
}

/* is devpath the device at path, or one above it (a namespace, a region)? */
static bool
is_under(const char *path, const char *devpath, size_t n)
{
	return path && strncmp(path, devpath, n) == 0 &&
		(path[n] == '\0' || path[n] == '/');
}

/*
 * does the removal of devpath take r's device with it?  The device itself,
 * one it sits on, or -- on CXL memory -- its CXL region, one of its memdevs,
 * or the PCI device of one (a surprise removal)
 */
static bool
takes_away(const struct pml_region *r, const char *devpath, unsigned maj,
		unsigned min, bool have_devnum)
{
	if (have_devnum && maj == major(r->dev) && min == minor(r->dev))
		return true;
	if (!devpath[0])
		return false;

	size_t n = strlen(devpath);

	if (is_under(r->devpath, devpath, n))
		return true;
	for (char **p = r->cxl_paths; p && *p; p++)
		if (is_under(*p, devpath, n))
			return true;
	return false;
}

static int
dispatch_one(const char *msg, size_t len)
{
	const char *action = NULL, *devpath = "";
	unsigned maj = 0, min = 0;
	bool have_maj = false, have_min = false;

	/* "ACTION@DEVPATH\0KEY=VALUE\0..." */
	for (size_t i = 0; i < len; i += strlen(msg + i) + 1) {
		const char *kv = msg + i;

		if (strncmp(kv, "ACTION=", 7) == 0)
			action = kv + 7;
		else if (strncmp(kv, "DEVPATH=", 8) == 0)
			devpath = kv + 8;
		else if (strncmp(kv, "MAJOR=", 6) == 0)
			have_maj = sscanf(kv + 6, "%u", &maj) == 1;
		else if (strncmp(kv, "MINOR=", 6) == 0)
			have_min = sscanf(kv + 6, "%u", &min) == 1;
	}
	if (!action || (strcmp(action, "remove") && strcmp(action, "unbind")))
		return 0;

	struct pml_region *v[TRACK_MAX];
	unsigned n = region_pin_matching(v, TRACK_MAX, takes_away, devpath,
			maj, min, have_maj && have_min);
	int revoked = 0;

	for (unsigned i = 0; i < n; i++) {
		if (region_revoke(v[i], PML_BREAK_REMOVE, 0, true) == 0)
			revoked++;
		region_unpin(v[i]);
	}
	return revoked;
}

int
pml_monitor_dispatch(int fd)
{
	char buf[8192 + 1];
	int revoked = 0;

	for (;;) {
		struct sockaddr_nl from;
		struct iovec iov = { buf, sizeof(buf) - 1 };
		struct msghdr mh = { .msg_name = &from,
			.msg_namelen = sizeof(from), .msg_iov = &iov,
			.msg_iovlen = 1 };
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return revoked;
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS)	/* lost some: the next ones */
				continue;
			return err_set(errno, "reading uevents: %m");
		}
		/* only the kernel speaks for devices: not a forged message */
		if (mh.msg_namelen != sizeof(from) || from.nl_pid != 0)
			continue;
		buf[n] = '\0';
		revoked += dispatch_one(buf, (size_t)n);
	}
}

/* ------------------------------------------------------ the thread */

static pthread_mutex_t monitor_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t monitor_thread;
static bool monitor_running;
static int uevent_fd = -1;
static int stop_fd = -1;

/* what the handler left: dying regions to revoke, poison to act on */
static void
handle_faults(void)
{
	struct pml_region *v[TRACK_MAX];
	unsigned n = region_pin_matching(v, TRACK_MAX, NULL, NULL, 0, 0,
			false);

	for (unsigned i = 0; i < n; i++) {
		struct pml_region *r = v[i];

		if (atomic_load(&r->revoke) == REVOKE_DYING)
			region_revoke(r, PML_BREAK_REMOVE, 0, true);
		else
			poison_handle(r);
		region_unpin(r);
	}
}

static void *
monitor_main(void *unused)
{
	sigset_t all;

	(void)unused;
	/* the signals are the application's: never delivered here */
	sigfillset(&all);
	sigdelset(&all, SIGBUS);	/* ours may fault in a region too */
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_setname_np(pthread_self(), "pml-monitor");

	for (;;) {
		struct pollfd p[3] = {
			{ .fd = uevent_fd, .events = POLLIN },
			{ .fd = wake_fd, .events = POLLIN },
			{ .fd = stop_fd, .events = POLLIN },
		};

		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if (p[2].revents)
			break;
		if (p[1].revents) {
			uint64_t v;
			ssize_t r = read(wake_fd, &v, sizeof(v));

			(void)r;
			handle_faults();
		}
		if (p[0].revents)
			pml_monitor_dispatch(uevent_fd);
	}
	return NULL;
}

int
pml_monitor_start(void)
{
	int ret = 0;

	pthread_mutex_lock(&monitor_lock);
	if (monitor_running)
		goto out;

	uevent_fd = pml_monitor_fd();
	if (uevent_fd < 0) {
		ret = uevent_fd;
		goto out;
	}
	wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wake_fd < 0 || stop_fd < 0) {
		ret = err_set(errno, "cannot create the monitor's eventfds: %m");
		goto fail;
	}
	ret = pthread_create(&monitor_thread, NULL, monitor_main, NULL);
	if (ret) {
		ret = err_set(ret, "cannot start the monitor thread");
		goto fail;
	}
	ret = sigbus_install();
	if (ret) {
		uint64_t one = 1;
		ssize_t w = write(stop_fd, &one, sizeof(one));

		(void)w;
		pthread_join(monitor_thread, NULL);
		goto fail;
	}
	monitor_running = true;
	goto out;
fail:
	close(uevent_fd);
	if (wake_fd >= 0)
		close(wake_fd);
	if (stop_fd >= 0)
		close(stop_fd);
	uevent_fd = wake_fd = stop_fd = -1;
out:
	pthread_mutex_unlock(&monitor_lock);
	return ret;
}

int
pml_monitor_stop(void)
{
	pthread_mutex_lock(&monitor_lock);
	if (!monitor_running) {
		pthread_mutex_unlock(&monitor_lock);
		return err_set(EINVAL, "the monitor is not running");
	}
	sigbus_uninstall();

	uint64_t one = 1;
	ssize_t w = write(stop_fd, &one, sizeof(one));

	(void)w;
	pthread_join(monitor_thread, NULL);
	close(uevent_fd);
	close(stop_fd);
	/* the handler is gone: nobody writes to wake_fd any more */
	close(wake_fd);
	uevent_fd = wake_fd = stop_fd = -1;
	monitor_running = false;
	pthread_mutex_unlock(&monitor_lock);
	return 0;
}
