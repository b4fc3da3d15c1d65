/* SPDX-License-Identifier: ISC */
/*
 * jarena - jansson's allocations from an arena (jarena.h). Allocating and freeing jansson's
 * many small blocks one by one was two fifths of import's reader and a seventh of the store
 * process's instructions.
 */
#include "capture/jarena.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "core/util.h"

#define CHUNK (1u << 20)
#define HDR 16 /* the tag, keeping 16-byte alignment */
#define TAG_ARENA 0x61726e61u
#define TAG_HEAP 0x68656170u

struct jarena_chunk {
	struct jarena_chunk *next;
	size_t size, used;
	_Alignas(16) unsigned char data[];
};

static _Thread_local struct jarena *cur; /* this thread's, while it makes events */

static void *
ja_malloc(size_t n)
{
	struct jarena *a = cur;
	struct jarena_chunk *c;
	unsigned char *p;
	size_t need;

	/* no arena, and blocks over a quarter chunk: the heap */
	if (a == NULL || n > CHUNK / 4) {
		if (n > SIZE_MAX - HDR)
			return NULL;
		if ((p = malloc(n + HDR)) == NULL)
			return NULL;
		*(uint32_t *)p = TAG_HEAP;
		return p + HDR;
	}
	need = (n + HDR + 15) & ~(size_t)15;
	c = a->head;
	if (c == NULL || c->size - c->used < need) {
		if ((c = malloc(sizeof(*c) + CHUNK)) == NULL)
			return NULL;
		c->size = CHUNK;
		c->used = 0;
		c->next = a->head;
		a->head = c;
		POISON(c->data, c->size);
	}
	p = c->data + c->used;
	c->used += need;
	UNPOISON(p, need);
	*(uint32_t *)p = TAG_ARENA;
	return p + HDR;
}

static void
ja_free(void *ptr)
{
	unsigned char *p = ptr;

	if (p == NULL)
		return;
	p -= HDR;
	if (*(uint32_t *)p == TAG_HEAP)
		free(p);
	/* TAG_ARENA: freed with the arena */
}

void
jarena_install(void)
{
	json_set_alloc_funcs(ja_malloc, ja_free);
}

struct jarena *
jarena_use(struct jarena *a)
{
	struct jarena *old = cur;

	cur = a;
	return old;
}

void
jarena_reset(struct jarena *a, bool all)
{
	struct jarena_chunk *c = a->head, *next;

	if (c == NULL)
		return;
	for (next = all ? c : c->next; next != NULL; next = c) {
		c = next->next;
		free(next);
	}
	if (all) {
		a->head = NULL;
		return;
	}
	a->head->next = NULL;
	POISON(a->head->data, a->head->used); /* the rest has been since it was made */
	a->head->used = 0;
}
