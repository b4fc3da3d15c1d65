/* SPDX-License-Identifier: ISC */
/*
 * tally - bounded counting hash table (see tally.h). Open addressing with linear probing over
 * a power-of-two array of (hash, entry) slots, grown at 50% load: a probe compares the stored
 * hash before it touches an entry, and growing never rehashes a key. Entries and their keys
 * are carved from large chunks (one allocation per chunk, not two per key) and released
 * together by tally_free.
 */
#include "report/tally.h"

#include <stdlib.h>
#include <string.h>

/* CHUNK_MIN, CHUNK_MAX - the first and the largest chunk of entries, in bytes */
#define CHUNK_MIN 4096
#define CHUNK_MAX (1u << 20)

struct slot {
	uint64_t h;
	struct tally_ent *e; /* NULL = empty */
};

struct chunk {
	struct chunk *next;
	size_t size, used;
	/* entries follow, 8-byte aligned */
};

struct tally {
	struct slot *slot;
	size_t cap;  /* slots, a power of two */
	size_t used; /* entries */
	size_t max;
	uint64_t overflow;
	bool free_p;
	struct chunk *chunks; /* the newest first */
};

/* mix - a 64-bit finaliser (splitmix64's), so that the low bits the table indexes by depend
 * on every input bit */
static uint64_t
mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* hash - eight bytes at a time (the keys are short: addresses, names, verbs), finalised */
static uint64_t
hash(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ len, v;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&v, p, 8);
		h = (h ^ v) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	v = 0;
	memcpy(&v, p, len);
	return mix(h ^ v);
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
	struct chunk *c, *next;
	size_t i;

	if (t == NULL)
		return;
	if (t->free_p)
		for (i = 0; i < t->cap; i++)
			if (t->slot[i].e != NULL)
				free(t->slot[i].e->p);
	for (c = t->chunks; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(t->slot);
	free(t);
}

/* grow - double the slot array and re-insert every entry by its stored hash; 0 or -1 */
static int
grow(struct tally *t)
{
	size_t ncap = t->cap * 2, i, j;
	struct slot *ns = calloc(ncap, sizeof(*ns));

	if (ns == NULL)
		return -1;
	for (i = 0; i < t->cap; i++) {
		if (t->slot[i].e == NULL)
			continue;
		j = t->slot[i].h & (ncap - 1);
		while (ns[j].e != NULL)
			j = (j + 1) & (ncap - 1);
		ns[j] = t->slot[i];
	}
	free(t->slot);
	t->slot = ns;
	t->cap = ncap;
	return 0;
}

/* lookup - the slot index holding key (hash h), or the empty slot where it would go */
static size_t
lookup(const struct tally *t, uint64_t h, const void *key, size_t len)
{
	size_t j = h & (t->cap - 1);
	const struct slot *s;

	for (;; j = (j + 1) & (t->cap - 1)) {
		s = &t->slot[j];
		if (s->e == NULL ||
		    (s->h == h && s->e->klen == len && memcmp(s->e->key, key, len) == 0))
			return j;
	}
}

/* ent_alloc - a zeroed entry with room for a key of len bytes and its NUL */
static struct tally_ent *
ent_alloc(struct tally *t, size_t len)
{
	size_t need = (sizeof(struct tally_ent) + len + 1 + 7) & ~(size_t)7, size;
	struct chunk *c = t->chunks;
	struct tally_ent *e;

	if (c == NULL || c->size - c->used < need) {
		size = c == NULL ? CHUNK_MIN : c->size * 2;
		if (size > CHUNK_MAX)
			size = CHUNK_MAX;
		while (size < need + sizeof(struct chunk))
			size *= 2;
		if ((c = malloc(size)) == NULL)
			return NULL;
		c->next = t->chunks;
		c->size = size;
		c->used = (sizeof(struct chunk) + 7) & ~(size_t)7;
		t->chunks = c;
	}
	e = (struct tally_ent *)((char *)c + c->used);
	c->used += need;
	memset(e, 0, sizeof(*e));
	e->key = (char *)(e + 1);
	return e;
}

struct tally_ent *
tally_find(struct tally *t, const void *key, size_t len)
{
	if (len > TALLY_KEY_MAX)
		len = TALLY_KEY_MAX;
	return t->slot[lookup(t, hash(key, len), key, len)].e;
}

struct tally_ent *
tally_get(struct tally *t, const void *key, size_t len, bool *created)
{
	struct tally_ent *e;
	uint64_t h;
	size_t j;

	if (created != NULL)
		*created = false;
	if (len > TALLY_KEY_MAX)
		len = TALLY_KEY_MAX;
	h = hash(key, len);
	j = lookup(t, h, key, len);
	if (t->slot[j].e != NULL)
		return t->slot[j].e;
	if (t->used >= t->max) {
		t->overflow++;
		return NULL;
	}
	if ((t->used + 1) * 2 > t->cap) {
		if (grow(t) < 0)
			return NULL;
		j = lookup(t, h, key, len);
	}
	if ((e = ent_alloc(t, len)) == NULL)
		return NULL;
	memcpy(e->key, key, len);
	e->key[len] = '\0';
	e->klen = len;
	t->slot[j].h = h;
	t->slot[j].e = e;
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

int
tally_cmp(const struct tally_ent *a, const struct tally_ent *b)
{
	return cmp_ent(&a, &b);
}

struct tally_ent **
tally_entries(struct tally *t, size_t *n)
{
	struct tally_ent **v = malloc((t->used + 1) * sizeof(*v));
	size_t i, k = 0;

	*n = 0;
	if (v == NULL)
		return NULL;
	for (i = 0; i < t->cap; i++)
		if (t->slot[i].e != NULL)
			v[k++] = t->slot[i].e;
	*n = k;
	return v;
}

/* sift - restore the heap below i: v[0..n) with the worst entry (by cmp_ent) on top */
static void
sift(struct tally_ent **v, size_t n, size_t i)
{
	struct tally_ent *x = v[i];
	size_t c;

	while ((c = 2 * i + 1) < n) {
		if (c + 1 < n && cmp_ent(&v[c + 1], &v[c]) > 0)
			c++;
		if (cmp_ent(&v[c], &x) <= 0)
			break;
		v[i] = v[c];
		i = c;
	}
	v[i] = x;
}

struct tally_ent **
tally_top(struct tally *t, size_t k, size_t *n)
{
	struct tally_ent **v = tally_entries(t, n), *x;
	size_t i, m = *n;

	if (v == NULL)
		return NULL;
	if (k < m) {
		/* the k best in v[0..k): a heap with the worst of them on top, replaced by any
		 * better entry; then only those k are sorted */
		for (i = k / 2; i-- > 0;)
			sift(v, k, i);
		for (i = k; i < m && k > 0; i++) {
			x = v[i];
			if (cmp_ent(&x, &v[0]) < 0) {
				v[0] = x;
				sift(v, k, 0);
			}
		}
		m = k;
	}
	qsort(v, m, sizeof(*v), cmp_ent);
	*n = m;
	return v;
}

struct tally_ent **
tally_sorted(struct tally *t, size_t *n)
{
	return tally_top(t, SIZE_MAX, n);
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
