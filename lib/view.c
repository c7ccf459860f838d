/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * view.c -- the snapshot of a region that acquires read.
 *
 * An acquire must know the region's size and which ranges are blocked by a
 * barrier or a quarantine.  Those change only on the slow path, under
 * region->mutex; acquires read them under their own context's lock only
 * (a fast section, or the spinlock: region.h).  So they read an immutable
 * view through one pointer, and a writer publishes a new view and then
 * waits out a grace period -- it revokes every context's bias, then takes
 * and drops every context's spinlock -- after which nobody can still be
 * reading the old one.
 *
 * Two buffers alternate, each with room for the barrier and a full
 * quarantine table, so publishing never allocates and never fails -- it
 * runs on paths that must not, like dropping a barrier.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "lease.h"
#include "region.h"
#include "shared.h"

static struct region_view *
view_alloc(uint32_t cap)
{
	struct region_view *v = calloc(1, sizeof(*v) + cap * sizeof(v->blocked[0]));

	if (v)
		v->cap = cap;
	return v;
}

int
view_init(struct pml_region *r)
{
	/* room for the barrier and a full quarantine table: never realloc */
	r->views[0] = view_alloc(SHM_QUAR_MAX + 1);
	r->views[1] = view_alloc(SHM_QUAR_MAX + 1);
	if (!r->views[0] || !r->views[1]) {
		view_fini(r);
		return err_set(ENOMEM, "cannot allocate region views");
	}
	r->active_view = 0;
	r->views[0]->size = atomic_load(&r->size);
	r->views[0]->clear = r->state == REGION_OPEN;
	atomic_store(&r->view, r->views[0]);
	return 0;
}

void
view_fini(struct pml_region *r)
{
	free(r->views[0]);
	free(r->views[1]);
	r->views[0] = r->views[1] = NULL;
}

/* wait until no context can still hold a pointer to the previous view */
static void
view_grace(struct pml_region *r)
{
	ctxs_unbias(r);
	for (struct lease_ctx *c = r->ctxs; c; c = c->next) {
		ctx_lock(c);
		ctx_unlock(c);
	}
}

/*
 * view_publish -- make the region's current state what acquires see.
 * Never fails: each buffer has room for everything.  Caller holds
 * region->mutex.
 */
void
view_publish(struct pml_region *r)
{
	struct region_view *v = r->views[r->active_view ^ 1];
	uint32_t n = 0;

	if (r->barrier_up)
		v->blocked[n++] = r->barrier;
	for (unsigned i = 0; i < r->nquar; i++)
		v->blocked[n++] = r->quar[i];
	v->nblocked = n;
	v->size = atomic_load(&r->size);
	v->state = r->state;
	v->clear = n == 0 && r->state == REGION_OPEN;
	v->gen = ++r->view_gen;

	atomic_store_explicit(&r->view, v, memory_order_release);
	r->active_view ^= 1;
	view_grace(r);
	pthread_cond_broadcast(&r->cond);
}

bool
view_blocks(const struct region_view *v, uint64_t start, uint64_t end)
{
	for (uint32_t i = 0; i < v->nblocked; i++)
		if (range_overlaps(v->blocked[i].start, v->blocked[i].end,
				start, end))
			return true;
	return false;
}

/* view_wait_change -- sleep until a view newer than gen is published */
void
view_wait_change(struct pml_region *r, uint64_t gen)
{
	region_lock(r);
	while (atomic_load(&r->view)->gen == gen)
		pthread_cond_wait(&r->cond, &r->mutex);
	region_unlock(r);
}
