/* SPDX-License-Identifier: ISC */
/*
 * srcload - what each source has lately cost the store, for shedding load by source while the
 * store is behind (listener.c): a fixed-size table of byte counts that decay with a half-life.
 *
 * Owns: struct srcload and its slots (one allocation; srcload_free).
 * Public: srcload_new, srcload_free, srcload_prefix, srcload_charge, srcload_rate.
 * Keys: a source's /24 (IPv4, as v4-mapped IPv6) or /64 (IPv6), so that one address and a
 *       neighbourhood of bots cost alike. A slot's bytes halve every half-life; its rate is
 *       bytes * ln 2 / half-life, the source's recent bytes per second.
 * Limits: memory is fixed at srcload_new. A bucket has SRCLOAD_WAYS slots; a prefix new to a
 *       full bucket takes the slot of the one that costs least now, so the heavy ones stay
 *       known however many light ones pass. Buckets are chosen by a hash keyed with random
 *       bytes, so a client cannot aim its prefixes at another's bucket.
 */
#ifndef RT_SRCLOAD_H
#define RT_SRCLOAD_H

#include <stddef.h>
#include <stdint.h>

#define SRCLOAD_WAYS 4

struct srcload;

/* srcload_new - a table of at least nslots slots (rounded up to a power of two, at least
 * SRCLOAD_WAYS) whose counts halve every halflife_ms (> 0); NULL when out of memory */
struct srcload *srcload_new(size_t nslots, uint64_t halflife_ms);
/* srcload_free - NULL is a no-op */
void srcload_free(struct srcload *t);
/* srcload_prefix - the key of an address given as 16 bytes (IPv4 v4-mapped): its /24 or /64 */
void srcload_prefix(const unsigned char addr[16], unsigned char key[16]);
/* srcload_charge - add bytes to key's count at now_ms (a monotonic clock) */
void srcload_charge(struct srcload *t, const unsigned char key[16], uint64_t now_ms,
                    uint64_t bytes);
/* srcload_rate - key's recent cost in bytes per second at now_ms; 0 for a key not in the table */
double srcload_rate(const struct srcload *t, const unsigned char key[16], uint64_t now_ms);

#endif
