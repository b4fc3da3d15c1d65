/* SPDX-License-Identifier: ISC */
/*
 * jarena - jansson's allocations from an arena: a parsed event's many small blocks are taken
 * by bumping a pointer and dropped all at once, instead of one malloc and one free each.
 *
 * jansson's allocator is process-wide (json_set_alloc_funcs): jarena_install must run before
 * any JSON value exists in the process, and only in processes that own all their JSON (the
 * store process, `relaytrap import`). Each block carries a tag saying where it came from:
 * blocks made while the calling thread has no arena (jarena_use(NULL)), or larger than a
 * quarter chunk, come from malloc and are freed by jansson; arena blocks are freed with their
 * arena. A value made in an arena must not outlive its jarena_reset. Under AddressSanitizer
 * the arena poisons what it has not handed out, and what a reset takes back.
 */
#ifndef RELAYTRAP_CAPTURE_JARENA_H
#define RELAYTRAP_CAPTURE_JARENA_H

#include <stdbool.h>

struct jarena_chunk;

struct jarena {
	struct jarena_chunk *head; /* where blocks are taken from; older chunks follow */
};

/* jarena_install - route jansson's allocations through here; before any JSON value exists */
void jarena_install(void);

/* jarena_use - the calling thread's arena for jansson's allocations from now on (NULL: the
 * heap); returns the one it had */
struct jarena *jarena_use(struct jarena *a);

/* jarena_reset - every block of a is free again: the newest chunk is kept for reuse (all =
 * false) or freed too (all = true, the arena is then empty) */
void jarena_reset(struct jarena *a, bool all);

#endif
