/* SPDX-License-Identifier: ISC */
/*
 * srcload - decaying per-prefix costs (see srcload.h).
 */
#include "net/srcload.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

struct slot {
	unsigned char key[16];
	double bytes;  /* at t_ms */
	uint64_t t_ms; /* when bytes was last brought up to date */
	bool used;
};

struct srcload {
	size_t nbuckets; /* power of two */
	uint64_t halflife_ms;
	unsigned char seed[16];
	struct slot slots[]; /* nbuckets * SRCLOAD_WAYS */
};

struct srcload *
srcload_new(size_t nslots, uint64_t halflife_ms)
{
	size_t nb = 1;
	struct srcload *t;

	if (halflife_ms == 0)
		return NULL;
	while (nb * SRCLOAD_WAYS < nslots && nb < ((size_t)1 << 24))
		nb <<= 1;
	t = calloc(1, sizeof(*t) + nb * SRCLOAD_WAYS * sizeof(struct slot));
	if (t == NULL)
		return NULL;
	t->nbuckets = nb;
	t->halflife_ms = halflife_ms;
	rand_buf(t->seed, sizeof(t->seed));
	return t;
}

void
srcload_free(struct srcload *t)
{
	free(t);
}

void
srcload_prefix(const unsigned char addr[16], unsigned char key[16])
{
	static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	memset(key, 0, 16);
	if (memcmp(addr, v4mapped, sizeof(v4mapped)) == 0) {
		memcpy(key, addr, 15); /* ::ffff:a.b.c.0/120, the IPv4 /24 */
		return;
	}
	memcpy(key, addr, 8); /* the /64 */
}

/* bucket - the first slot of key's bucket: FNV-1a over the random seed and the key, then a
 * final mix so that the low bits depend on every byte */
static const struct slot *
bucket(const struct srcload *t, const unsigned char key[16])
{
	uint64_t h = 14695981039346656037u;
	int i;

	for (i = 0; i < 16; i++)
		h = (h ^ t->seed[i]) * 1099511628211u;
	for (i = 0; i < 16; i++)
		h = (h ^ key[i]) * 1099511628211u;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdu;
	h ^= h >> 33;
	return &t->slots[(h & (t->nbuckets - 1)) * SRCLOAD_WAYS];
}

/* decayed - a slot's bytes at now_ms */
static double
decayed(const struct srcload *t, const struct slot *s, uint64_t now_ms)
{
	if (!s->used)
		return 0.0;
	if (now_ms <= s->t_ms)
		return s->bytes;
	return s->bytes * exp2(-(double)(now_ms - s->t_ms) / (double)t->halflife_ms);
}

void
srcload_charge(struct srcload *t, const unsigned char key[16], uint64_t now_ms, uint64_t bytes)
{
	struct slot *b = (struct slot *)bucket(t, key), *s = NULL, *least = NULL;
	double least_v = 0.0, v;
	int i;

	for (i = 0; i < SRCLOAD_WAYS; i++) {
		if (b[i].used && memcmp(b[i].key, key, 16) == 0) {
			s = &b[i];
			break;
		}
		v = decayed(t, &b[i], now_ms);
		if (least == NULL || v < least_v) {
			least = &b[i];
			least_v = v;
		}
	}
	if (s == NULL) {
		s = least;
		memcpy(s->key, key, 16);
		s->bytes = 0.0;
		s->t_ms = now_ms;
		s->used = true;
	}
	s->bytes = decayed(t, s, now_ms) + (double)bytes;
	if (now_ms > s->t_ms)
		s->t_ms = now_ms;
}

double
srcload_rate(const struct srcload *t, const unsigned char key[16], uint64_t now_ms)
{
	const struct slot *b = bucket(t, key);
	int i;

	for (i = 0; i < SRCLOAD_WAYS; i++)
		if (b[i].used && memcmp(b[i].key, key, 16) == 0)
			return decayed(t, &b[i], now_ms) * M_LN2 * 1000.0 / (double)t->halflife_ms;
	return 0.0;
}
