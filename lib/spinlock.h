/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * spinlock.h -- the per-thread lease lock.
 *
 * Each thread's lease context has one of these, taken by everybody but
 * its owner, and by the owner too while its bias is revoked (context.c).
 * Uncontended it costs one atomic exchange to lock and one plain release
 * store to unlock -- cheaper than a pthread mutex, whose unlock is a second
 * locked instruction.  Contention is rare and brief: a put from another
 * thread, or a barrier scanning the context, and nobody holds it across a
 * callback, an allocation that can block for long, or a system call --
 * but for the membarrier of a bias revocation.
 */
#ifndef PML_SPINLOCK_H
#define PML_SPINLOCK_H 1

#include <sched.h>
#include <stdatomic.h>

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

struct spinlock {
	atomic_int locked;
};

static inline void
spin_init(struct spinlock *l)
{
	atomic_init(&l->locked, 0);
}

static inline void
spin_lock(struct spinlock *l)
{
	for (;;) {
		if (!atomic_exchange_explicit(&l->locked, 1,
				memory_order_acquire))
			return;
		/* wait on a plain load so the line stays shared while held */
		for (unsigned spins = 0; atomic_load_explicit(&l->locked,
				memory_order_relaxed); spins++) {
			if (spins < 128)
				cpu_relax();
			else
				sched_yield();	/* holder may be preempted */
		}
	}
}

static inline void
spin_unlock(struct spinlock *l)
{
	atomic_store_explicit(&l->locked, 0, memory_order_release);
}

#endif
