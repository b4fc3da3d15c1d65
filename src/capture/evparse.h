/* SPDX-License-Identifier: ISC */
/*
 * evparse - parse an event's JSON without re-parsing the fields every event of its session
 * repeats.
 *
 * The engine writes each event as {"timestamp":T,"eventid":E,PREFIX,REST}, where PREFIX is the
 * session's fixed fields (session, sensor, src_ip, src_port, dst_ip, dst_port, persona,
 * listener: capture_prefix) byte for byte the same in every event of the session. Parsing was
 * half of the store's instructions, and PREFIX half of the bytes. evparse_learn remembers a
 * session's PREFIX once an event of it has been parsed whole and checked; evparse_load then
 * parses only {REST} when the bytes at PREFIX's place are exactly the remembered ones, and
 * adds T, E and the remembered values. The result has the same members and values as
 * json_loadb of the whole text with JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL (REST naming a
 * common field again, or anything unusual, goes the whole way), only in another order, so it
 * must not be used where the text is serialised again (the store re-serialises only
 * relaytrap.message events, which always go the whole way).
 *
 * Both ways parse with evparse's own parser first, which scans the text in place and builds
 * the same jansson values (member order included) in about a third of json_loadb's
 * instructions; on anything it is not certain of (any error, duplicates, NUL in a key, deep
 * nesting, numbers out of range) it gives up and json_loadb decides, so errors and edge cases
 * are jansson's.
 *
 * Owns: the cache, EVPARSE_SLOTS sessions (direct-mapped by session id; a new session takes its
 *       slot), allocated once. Not shared between threads: one per parsing thread.
 * Public: evparse_new, evparse_free, evparse_load, evparse_learn, evparse_hits, evparse_own.
 */
#ifndef RT_EVPARSE_H
#define RT_EVPARSE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define EVPARSE_SLOTS 4096
#define EVPARSE_PREFIX_MAX 384

struct evparse;

/* evparse_new - an empty cache, or NULL out of memory */
struct evparse *evparse_new(void);
void evparse_free(struct evparse *c);
/* evparse_load - the event in json (len bytes) as json_loadb(json, len, JSON_REJECT_DUPLICATES |
 * JSON_ALLOW_NUL) gives it (members possibly in another order); NULL with err filled when the
 * text is not JSON. c may be NULL (always the whole way). */
json_t *evparse_load(struct evparse *c, const char *json, size_t len, json_error_t *err);
/* evparse_learn - ev, parsed from json and checked (store_db_check), may give its session's
 * prefix to the cache; a no-op when the text does not have the engine's layout */
void evparse_learn(struct evparse *c, const char *json, size_t len, json_t *ev);
/* evparse_hits - events parsed without their prefix since evparse_new */
uint64_t evparse_hits(const struct evparse *c);
/* evparse_own - events (or their rests) parsed by evparse's own parser, not json_loadb's */
uint64_t evparse_own(const struct evparse *c);

#endif
