/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * heap_tcache.c -- a jemalloc cache per thread per heap.
 *
 * jemalloc's own per-thread cache is not per arena: allocating through it
 * with MALLOCX_ARENA can return memory cached from another arena, i.e.
 * outside the region.  So each thread gets an explicit tcache
 * ("tcache.create") per heap, as memkind does per kind.  The thread keeps
 * them in a few slots named by the heap's serial number (never reused, so
 * a destroyed heap's slot matches nothing); a thread with every slot taken
 * goes without a cache for further heaps.  The heap keeps the list of its
 * tcaches to destroy them with it; a thread that exits destroys those of
 * heaps still alive.
 */
#include <errno.h>
#include <stdlib.h>

#include "heap.h"

#define SLOTS 8

struct slot {
	uint64_t serial;	/* 0: free */
	struct pml_heap *heap;
	unsigned tcache;
};

static __thread struct slot slots[SLOTS];

/* the heaps alive (their serials) and their tcache lists */
static pthread_mutex_t tc_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t next_serial = 1;
static struct pml_heap *alive[64];
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static bool
is_alive(const struct slot *s)
{
	for (size_t i = 0; i < sizeof(alive) / sizeof(alive[0]); i++)
		if (alive[i] == s->heap && alive[i]->serial == s->serial)
			return true;
	return false;
}

static void
forget_tcache(struct pml_heap *heap, unsigned tc)
{
	for (size_t i = 0; i < heap->ntcaches; i++) {
		if (heap->tcaches[i] == tc) {
			heap->tcaches[i] = heap->tcaches[--heap->ntcaches];
			return;
		}
	}
}

static void
thread_exit(void *arg)
{
	pthread_mutex_lock(&tc_lock);
	for (int i = 0; i < SLOTS; i++) {
		struct slot *s = &slots[i];
		if (s->serial != 0 && is_alive(s)) {
			mallctl("tcache.destroy", NULL, NULL, &s->tcache,
					sizeof(s->tcache));
			forget_tcache(s->heap, s->tcache);
		}
		s->serial = 0;
	}
	pthread_mutex_unlock(&tc_lock);
}

static void
make_key(void)
{
	if (pthread_key_create(&exit_key, thread_exit) != 0)
		abort();
}

/* register a new heap (a serial and a place among the heaps alive) */
int
heap_tcache_register(struct pml_heap *heap)
{
	pthread_once(&exit_once, make_key);
	pthread_mutex_lock(&tc_lock);
	int ret = heap_err(EMFILE, "%zu heaps alive already",
			sizeof(alive) / sizeof(alive[0]));
	for (size_t i = 0; i < sizeof(alive) / sizeof(alive[0]); i++) {
		if (alive[i] == NULL) {
			alive[i] = heap;
			heap->serial = next_serial++;
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&tc_lock);
	return ret;
}

void
heap_tcache_destroy_all(struct pml_heap *heap)
{
	pthread_mutex_lock(&tc_lock);
	for (size_t i = 0; i < heap->ntcaches; i++)
		mallctl("tcache.destroy", NULL, NULL, &heap->tcaches[i],
				sizeof(heap->tcaches[i]));
	free(heap->tcaches);
	heap->tcaches = NULL;
	heap->ntcaches = heap->tcaches_cap = 0;
	for (size_t i = 0; i < sizeof(alive) / sizeof(alive[0]); i++)
		if (alive[i] == heap)
			alive[i] = NULL;
	pthread_mutex_unlock(&tc_lock);
}

/* a new tcache for this thread and heap in slot s; false if none */
static bool
slot_fill(struct slot *s, struct pml_heap *heap)
{
	unsigned tc;
	size_t sz = sizeof(tc);
	bool ok = false;

	pthread_mutex_lock(&tc_lock);
	if (heap->ntcaches == heap->tcaches_cap) {
		size_t cap = heap->tcaches_cap ? 2 * heap->tcaches_cap : 8;
		unsigned *n = realloc(heap->tcaches, cap * sizeof(*n));
		if (n == NULL)
			goto out;
		heap->tcaches = n;
		heap->tcaches_cap = cap;
	}
	if (mallctl("tcache.create", &tc, &sz, NULL, 0) != 0)
		goto out;
	heap->tcaches[heap->ntcaches++] = tc;
	*s = (struct slot){ .serial = heap->serial, .heap = heap,
			.tcache = tc };
	ok = true;
out:
	pthread_mutex_unlock(&tc_lock);
	/* any non-NULL value, so that thread_exit runs */
	pthread_setspecific(exit_key, slots);
	return ok;
}

int
heap_mallocx_flags(struct pml_heap *heap)
{
	int base = MALLOCX_ARENA(heap->arena);

	if (heap->flags & PML_HEAP_NO_TCACHE)
		return base | MALLOCX_TCACHE_NONE;
	for (int i = 0; i < SLOTS; i++)
		if (slots[i].serial == heap->serial)
			return base | MALLOCX_TCACHE(slots[i].tcache);

	/* a free slot, or one of a heap destroyed since */
	struct slot *s = NULL;
	for (int i = 0; i < SLOTS && s == NULL; i++)
		if (slots[i].serial == 0)
			s = &slots[i];
	if (s == NULL) {
		pthread_mutex_lock(&tc_lock);
		for (int i = 0; i < SLOTS && s == NULL; i++)
			if (!is_alive(&slots[i]))
				s = &slots[i];
		pthread_mutex_unlock(&tc_lock);
	}
	if (s != NULL && slot_fill(s, heap))
		return base | MALLOCX_TCACHE(s->tcache);
	return base | MALLOCX_TCACHE_NONE;
}
