/* SPDX-License-Identifier: ISC */
/*
 * pool - blocks for long-lived caches, apart from malloc's heap.
 *
 * A cache of tens of thousands of small entries that live for minutes or hours, taken from
 * malloc, sits between the short-lived blocks every event or session allocates and frees; malloc
 * then walks its bins for those (measured in the store: _int_malloc went from 3% to 8% of its
 * CPU). A pool hands out blocks in size classes of `grain` bytes, carved from chunks of its own
 * and kept on per-class free lists when returned: nothing of it is in malloc's bins.
 *
 * Limits: blocks up to `max_block` bytes; at most `max_bytes` in chunks (0: no limit), after
 * which pool_get fails unless a returned block of the class is free. A returned block serves
 * its own class only, so when the mix of sizes shifts, blocks of the old sizes stay idle: use a
 * pool where failing is harmless (a cache that then keeps less) and max_bytes bounds it. Memory
 * goes back to the system only at pool_free.
 */
#ifndef RELAYTRAP_POOL_H
#define RELAYTRAP_POOL_H

#include <stdbool.h>
#include <stddef.h>

struct pool;

/* pool_new - a pool of blocks up to max_block bytes in multiples of grain (a power of two of
 * at least 16), carved from chunk-byte chunks (at least the largest block), at most max_bytes
 * of them (0: no limit); NULL for parameters that do not fit or out of memory */
struct pool *pool_new(size_t grain, size_t max_block, size_t chunk, size_t max_bytes);
/* pool_get - a block of at least n bytes (1..max_block), aligned to 16; *cap gets its size;
 * NULL when the pool is at max_bytes or out of memory */
void *pool_get(struct pool *p, size_t n, size_t *cap);
/* pool_cap - the size of the block pool_get gives for n bytes (what pool_put wants back) */
size_t pool_cap(const struct pool *p, size_t n);
/* pool_put - return a block pool_get handed out, with the cap it gave */
void pool_put(struct pool *p, void *b, size_t cap);
/* pool_bytes - bytes in chunks */
size_t pool_bytes(const struct pool *p);
void pool_free(struct pool *p);

/*
 * spares - blocks of one size kept for reuse, for objects made and dropped by the thousand
 * (a DNS query's wait, a lookup's request, a session's enrichment state). Taken from and given
 * back to a bounded stack instead of malloc, whose bins' slow path they otherwise meet between
 * a cache's long-lived blocks. At most `max` (at most SPARES_MAX) are kept, beyond which
 * spare_give frees; what is kept is poisoned for AddressSanitizer until taken again. Every
 * block of a stack must have the same size and come from malloc.
 */
#define SPARES_MAX 1024

struct spares {
	void *p[SPARES_MAX];
	unsigned n;
	unsigned max; /* at most this many kept (0: SPARES_MAX) */
};

/* spare_take - size zeroed bytes: a kept block, or a new one from malloc; NULL if out of memory */
void *spare_take(struct spares *sp, size_t size);
/* spare_pop - a kept block as it was given back (not zeroed), or NULL when none is kept */
void *spare_pop(struct spares *sp, size_t size);
/* spare_give - keep p (size bytes) for the next take, or free it when as many as the stack
 * holds are kept; NULL is a no-op */
void spare_give(struct spares *sp, void *p, size_t size);
/* spare_full - whether the stack keeps no more (spare_give would free) */
bool spare_full(const struct spares *sp);
/* spares_free - free every kept block */
void spares_free(struct spares *sp, size_t size);

#endif
