/* SPDX-License-Identifier: ISC */
/*
 * tally - a bounded counting hash table keyed by bytes, for the report's streaming passes
 * (verbs, sequences, templates, drop-boxes, campaigns).
 *
 * Owns: its entries and their keys (tally_free releases all).
 * Public: tally_new, tally_free, tally_get, tally_find, tally_sorted, tally_top, tally_entries,
 *         tally_count; hset_new, hset_free, hset_add, hash_mix.
 * Limits: keys are cut at TALLY_KEY_MAX bytes; at most max entries (tally_get returns NULL
 *         for a new key past that, and counts it in overflow).
 */
#ifndef RT_TALLY_H
#define RT_TALLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TALLY_KEY_MAX 256

struct tally_ent {
	char *key; /* NUL-terminated copy (may also contain NUL bytes; see klen) */
	size_t klen;
	uint64_t n;          /* the caller's main count */
	uint64_t n2, n3;     /* more counts (sessions, sources, …) */
	int64_t first, last; /* times (epoch us), 0 = unset */
	uint64_t aux;        /* caller data: a mask, an id, a hash */
	uint64_t mask;       /* caller data: bits */
	void *p;             /* caller data it owns (freed by tally_free when free_p is set) */
};

struct tally;

/* tally_new - an empty table of at most max entries; free_p: free(ent->p) in tally_free */
struct tally *tally_new(size_t max, bool free_p);
/* tally_free - NULL is a no-op */
void tally_free(struct tally *t);
/* tally_get - the entry for key (created zeroed when absent, *created set); NULL when the table
 * is full or out of memory */
struct tally_ent *tally_get(struct tally *t, const void *key, size_t len, bool *created);
/* tally_find - the entry for key or NULL; never creates */
struct tally_ent *tally_find(struct tally *t, const void *key, size_t len);
/* tally_count - entries in the table; overflow = new keys refused */
size_t tally_count(const struct tally *t, uint64_t *overflow);
/* tally_sorted - a malloc'd array of the entries by n descending, then key; *n set; the
 * caller frees the array (not the entries) */
struct tally_ent **tally_sorted(struct tally *t, size_t *n);
/* tally_top - the first k entries of tally_sorted's order (fewer when there are fewer), without
 * sorting the rest; *n set; the caller frees the array */
struct tally_ent **tally_top(struct tally *t, size_t k, size_t *n);
/* tally_cmp - the order of tally_sorted: n descending, then key bytes ascending */
int tally_cmp(const struct tally_ent *a, const struct tally_ent *b);
/* tally_entries - every entry in no particular order; *n set; the caller frees the array */
struct tally_ent **tally_entries(struct tally *t, size_t *n);

/* hset - a set of 64-bit hashes, for counting distinct pairs (family, source) in 16 bytes per
 * member; a collision between two 64-bit FNV hashes is negligible at report sizes */
struct hset;
struct hset *hset_new(void);
void hset_free(struct hset *s);
/* hset_add - true when h was not in the set yet (false also when out of memory) */
bool hset_add(struct hset *s, uint64_t h);
/* hash_mix - FNV-1a of a tag, a number and bytes: the member for (tag, id, bytes) */
uint64_t hash_mix(char tag, uint64_t id, const void *b, size_t n);

#endif
