/* SPDX-License-Identifier: ISC */
/*
 * tally - bounded counting hash table (see tally.h). Open addressing with linear probing over
 * a power-of-two array of entry pointers, grown at 50% load; FNV-1a on the key bytes.
 */
#include "report/tally.h"

#include <stdlib.h>
#include <string.h>

struct tally {
	struct tally_ent **slot;
	size_t cap;  /* slots, a power of two */
	size_t used; /* entries */
	size_t max;
	uint64_t overflow;
	bool free_p;
};

/* mix - a 64-bit finaliser (splitmix64's): FNV-1a's low bits depend only on the low bits of
 * the input bytes, and tables index by the low bits, so without this they cluster */
static uint64_t
mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* hash - FNV-1a 64, finalised */
static uint64_t
hash(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return mix(h);
}

struct tally *
tally_new(size_t max, bool free_p)
{
	struct tally *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->cap = 64;
	t->slot = calloc(t->cap, sizeof(*t->slot));
	if (t->slot == NULL) {
		free(t);
		return NULL;
	}
	t->max = max;
	t->free_p = free_p;
	return t;
}

void
tally_free(struct tally *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->cap; i++) {
		if (t->slot[i] == NULL)
			continue;
		if (t->free_p)
			free(t->slot[i]->p);
		free(t->slot[i]->key);
		free(t->slot[i]);
	}
	free(t->slot);
	free(t);
}

/* grow - double the slot array and re-insert every entry; 0 or -1 */
static int
grow(struct tally *t)
{
	size_t ncap = t->cap * 2, i, j;
	struct tally_ent **ns = calloc(ncap, sizeof(*ns));

	if (ns == NULL)
		return -1;
	for (i = 0; i < t->cap; i++) {
		if (t->slot[i] == NULL)
			continue;
		j = hash(t->slot[i]->key, t->slot[i]->klen) & (ncap - 1);
		while (ns[j] != NULL)
			j = (j + 1) & (ncap - 1);
		ns[j] = t->slot[i];
	}
	free(t->slot);
	t->slot = ns;
	t->cap = ncap;
	return 0;
}

/* lookup - the slot index holding key, or the empty slot where it would go */
static size_t
lookup(const struct tally *t, const void *key, size_t len)
{
	size_t j = hash(key, len) & (t->cap - 1);

	while (t->slot[j] != NULL &&
	       (t->slot[j]->klen != len || memcmp(t->slot[j]->key, key, len) != 0))
		j = (j + 1) & (t->cap - 1);
	return j;
}

struct tally_ent *
tally_find(struct tally *t, const void *key, size_t len)
{
	if (len > TALLY_KEY_MAX)
		len = TALLY_KEY_MAX;
	return t->slot[lookup(t, key, len)];
}

struct tally_ent *
tally_get(struct tally *t, const void *key, size_t len, bool *created)
{
	struct tally_ent *e;
	size_t j;

	if (created != NULL)
		*created = false;
	if (len > TALLY_KEY_MAX)
		len = TALLY_KEY_MAX;
	j = lookup(t, key, len);
	if (t->slot[j] != NULL)
		return t->slot[j];
	if (t->used >= t->max) {
		t->overflow++;
		return NULL;
	}
	if ((t->used + 1) * 2 > t->cap) {
		if (grow(t) < 0)
			return NULL;
		j = lookup(t, key, len);
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	e->key = malloc(len + 1);
	if (e->key == NULL) {
		free(e);
		return NULL;
	}
	memcpy(e->key, key, len);
	e->key[len] = '\0';
	e->klen = len;
	t->slot[j] = e;
	t->used++;
	if (created != NULL)
		*created = true;
	return e;
}

size_t
tally_count(const struct tally *t, uint64_t *overflow)
{
	if (overflow != NULL)
		*overflow = t->overflow;
	return t->used;
}

/* cmp_ent - n descending, then key bytes ascending, so ties print in a stable order */
static int
cmp_ent(const void *a, const void *b)
{
	const struct tally_ent *x = *(struct tally_ent *const *)a;
	const struct tally_ent *y = *(struct tally_ent *const *)b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	c = memcmp(x->key, y->key, n);
	if (c != 0)
		return c;
	return x->klen < y->klen ? -1 : x->klen > y->klen;
}

struct tally_ent **
tally_sorted(struct tally *t, size_t *n)
{
	struct tally_ent **v = malloc((t->used + 1) * sizeof(*v));
	size_t i, k = 0;

	*n = 0;
	if (v == NULL)
		return NULL;
	for (i = 0; i < t->cap; i++)
		if (t->slot[i] != NULL)
			v[k++] = t->slot[i];
	qsort(v, k, sizeof(*v), cmp_ent);
	*n = k;
	return v;
}

struct hset {
	uint64_t *v; /* 0 = empty; a member equal to 0 is stored as 1 */
	size_t cap, used;
};

struct hset *
hset_new(void)
{
	struct hset *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->cap = 1024;
	s->v = calloc(s->cap, sizeof(*s->v));
	if (s->v == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

void
hset_free(struct hset *s)
{
	if (s == NULL)
		return;
	free(s->v);
	free(s);
}

/* hset_put - insert into v (cap slots); true when new */
static bool
hset_put(uint64_t *v, size_t cap, uint64_t h)
{
	size_t j = (size_t)h & (cap - 1); /* members come from hash_mix: already mixed */

	while (v[j] != 0) {
		if (v[j] == h)
			return false;
		j = (j + 1) & (cap - 1);
	}
	v[j] = h;
	return true;
}

bool
hset_add(struct hset *s, uint64_t h)
{
	uint64_t *nv;
	size_t i;

	if (h == 0)
		h = 1;
	if ((s->used + 1) * 2 > s->cap) {
		nv = calloc(s->cap * 2, sizeof(*nv));
		if (nv == NULL)
			return false;
		for (i = 0; i < s->cap; i++)
			if (s->v[i] != 0)
				hset_put(nv, s->cap * 2, s->v[i]);
		free(s->v);
		s->v = nv;
		s->cap *= 2;
	}
	if (!hset_put(s->v, s->cap, h))
		return false;
	s->used++;
	return true;
}

uint64_t
hash_mix(char tag, uint64_t id, const void *b, size_t n)
{
	const unsigned char *p = b;
	uint64_t h = 1469598103934665603ull;
	size_t i;

	h = (h ^ (unsigned char)tag) * 1099511628211ull;
	for (i = 0; i < 8; i++)
		h = (h ^ ((id >> (8 * i)) & 0xff)) * 1099511628211ull;
	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return mix(h);
}
