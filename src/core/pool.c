/* SPDX-License-Identifier: ISC */
/* pool - blocks for long-lived caches, apart from malloc's heap (see pool.h) */
#include "pool.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

struct pool {
	size_t grain, nclass, chunk, max_bytes;
	void **free; /* per class (block size / grain): a free block's first bytes point on */
	char *cur;   /* the chunk being carved */
	size_t left; /* bytes of it not carved yet */
	char **chunks;
	size_t nchunks, chunks_cap;
};

struct pool *
pool_new(size_t grain, size_t max_block, size_t chunk, size_t max_bytes)
{
	struct pool *p;

	if (grain < 16 || (grain & (grain - 1)) != 0 || max_block == 0)
		return NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->grain = grain;
	p->nclass = (max_block + grain - 1) / grain + 1;
	p->chunk = chunk / grain * grain;
	p->max_bytes = max_bytes;
	if (p->chunk < (p->nclass - 1) * grain ||
	    (p->free = calloc(p->nclass, sizeof(*p->free))) == NULL) {
		free(p);
		return NULL;
	}
	return p;
}

/* push - put block b of class c on its free list */
static void
push(struct pool *p, void *b, size_t c)
{
	memcpy(b, &p->free[c], sizeof(void *));
	p->free[c] = b;
}

/* new_chunk - start carving a new chunk; what is left of the old one goes to its class */
static int
new_chunk(struct pool *p)
{
	char *c, **cs;

	if (p->left >= p->grain)
		push(p, p->cur, p->left / p->grain);
	p->left = 0;
	if (p->max_bytes != 0 && (p->nchunks + 1) * p->chunk > p->max_bytes)
		return -1;
	if (p->nchunks == p->chunks_cap) {
		size_t n = p->chunks_cap ? 2 * p->chunks_cap : 16;
		if ((cs = realloc(p->chunks, n * sizeof(*cs))) == NULL)
			return -1;
		p->chunks = cs;
		p->chunks_cap = n;
	}
	if ((c = malloc(p->chunk)) == NULL)
		return -1;
	p->chunks[p->nchunks++] = c;
	p->cur = c;
	p->left = p->chunk;
	return 0;
}

void *
pool_get(struct pool *p, size_t n, size_t *cap)
{
	size_t c = (n + p->grain - 1) / p->grain, size;
	char *b;

	if (n == 0 || c >= p->nclass)
		return NULL;
	size = c * p->grain;
	if ((b = p->free[c]) != NULL) {
		memcpy(&p->free[c], b, sizeof(void *));
	} else {
		if (p->left < size && new_chunk(p) == -1)
			return NULL;
		b = p->cur;
		p->cur += size;
		p->left -= size;
	}
	*cap = size;
	return b;
}

size_t
pool_cap(const struct pool *p, size_t n)
{
	return (n + p->grain - 1) / p->grain * p->grain;
}

void
pool_put(struct pool *p, void *b, size_t cap)
{
	if (b != NULL)
		push(p, b, cap / p->grain);
}

size_t
pool_bytes(const struct pool *p)
{
	return p->nchunks * p->chunk;
}

void
pool_free(struct pool *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nchunks; i++)
		free(p->chunks[i]);
	free(p->chunks);
	free(p->free);
	free(p);
}

/* ------------------------------------------------------------------ spares */

void *
spare_pop(struct spares *sp, size_t size)
{
	void *p;

	if (sp->n == 0)
		return NULL;
	p = sp->p[--sp->n];
	UNPOISON(p, size);
	return p;
}

void *
spare_take(struct spares *sp, size_t size)
{
	void *p = spare_pop(sp, size);

	if (p == NULL)
		return zalloc(size);
	memset(p, 0, size);
	return p;
}

bool
spare_full(const struct spares *sp)
{
	return sp->n >= (sp->max > 0 && sp->max < SPARES_MAX ? sp->max : SPARES_MAX);
}

void
spare_give(struct spares *sp, void *p, size_t size)
{
	if (p == NULL)
		return;
	if (spare_full(sp)) {
		free(p);
		return;
	}
	POISON(p, size);
	sp->p[sp->n++] = p;
}

void
spares_free(struct spares *sp, size_t size)
{
	void *p;

	while ((p = spare_pop(sp, size)) != NULL)
		free(p);
}
