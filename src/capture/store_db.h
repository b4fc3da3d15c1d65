/* SPDX-License-Identifier: ISC */
/*
 * store_db - the SQLite side of the store: schema (versioned in PRAGMA user_version), strict
 * per-event validation, and applying a validated event to the tables with prepared statements
 * inside one transaction per batch. Used only by store.c.
 *
 * Owns: struct store_db (the sqlite3 handle, its prepared statements, a scratch buffer).
 * Public: store_db_init, store_db_open, store_db_bulk, store_db_bulk_fresh, store_db_bulk_end,
 * store_db_close, store_db_check, store_db_ev_clear, store_db_apply, store_db_commit,
 * store_db_body_find, store_db_time_parse. Limits: string fields the DB reads are at most
 * STORE_FIELD_MAX bytes (the event is refused otherwise); applying an event is idempotent (UNIQUE
 * keys, INSERT OR IGNORE, upserts).
 */
#ifndef RT_STORE_DB_H
#define RT_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define STORE_DB_SCHEMA_VERSION 4
#define STORE_FIELD_MAX (64u * 1024u)
#define STORE_DB_BINDS 28 /* the most parameters of an event's statement */

struct store_db;

/* the enrich kinds an event may carry as parts: geo, os, dnsbl, rdns, helo */
#define STORE_DB_PARTS 5

/* struct store_db_ev - what store_db_check learned about an event, for store_db_apply */
struct store_db_ev {
	const void *def; /* the event's table entry; NULL = valid but not mirrored in SQLite */
	int64_t time_us; /* timestamp as epoch microseconds */
	char time[32];   /* timestamp normalised to RFC 3339 UTC with microseconds */
	const char *eventid;
	const char *session;
	bool b64; /* some member is a "<key>_b64" companion */
	/* Work done at check time so that a second thread can do it (import's reader): the
	 * event's values in each statement's bind order (NULL: absent), unless the store adds
	 * members after the check (vals_ok false); for relaytrap.enrich, the result as stored
	 * (enr_full) and its change-test form (enr_stable, possibly == enr_full), owned:
	 * store_db_ev_clear frees them. */
	bool vals_ok;
	json_t *vals[2][STORE_DB_BINDS];
	char *enr_full, *enr_stable;
	/* kinds "session" and "dns": each part's change-test form, by kind (geo, os, dnsbl, rdns,
	 * helo; NULL: no such part) */
	char *enr_parts[STORE_DB_PARTS];
};

/* store_db_init - SQLite's process-wide settings and initialisation; store_db_open calls it, a
 * process that uses SQLite earlier calls it first */
void store_db_init(void);
/* store_db_open - open or create the database at path; NULL with err (e.g. newer schema) */
struct store_db *store_db_open(const char *path, char *err, size_t errlen);
/* store_db_bulk - settings for a bulk load (import): synchronous = OFF and a larger page
 * cache for this connection only; an OS crash may then corrupt the database, which import can
 * rebuild from the JSONL. 0 or -1 */
int store_db_bulk(struct store_db *db);
/* store_db_bulk_fresh - true when store_db_bulk found a new, empty database and loads it
 * without journal, WAL and secondary indexes, under an exclusive lock (docs/database.md) */
bool store_db_bulk_fresh(const struct store_db *db);
/* store_db_bulk_end - end a fresh load: commit, build the indexes, WAL on, lock released;
 * 0 or -1. A no-op otherwise; store_db_close calls it too. */
int store_db_bulk_end(struct store_db *db);
/* store_db_close - commit what is pending and close; NULL is a no-op */
void store_db_close(struct store_db *db);
/* store_db_check - validate common and per-event fields; 0, or -1 with why set */
int store_db_check(json_t *ev, struct store_db_ev *out, char *why, size_t whylen);
/* store_db_ev_clear - free what store_db_check allocated in ev (a no-op when nothing) */
void store_db_ev_clear(struct store_db_ev *ev);
/* store_db_apply - apply a checked event inside the current batch (BEGIN if none); 0 or -1 */
int store_db_apply(struct store_db *db, json_t *ev, const struct store_db_ev *info);
/* store_db_body_find - the pack path and offset of a body already packed (by its hex digest):
 * 1 found, 0 not found, -1 error */
int store_db_body_find(struct store_db *db, const char *sha256, char *path, size_t pathlen,
                       int64_t *offset);
/* store_db_commit - COMMIT the batch if one is open; 0, or -1 (also after any I/O-class error
 * since open: such a store must not claim anything is durable) */
int store_db_commit(struct store_db *db);
/* store_db_failed - an I/O-class error (disk full, I/O error, busy, read-only, corrupt) happened
 * since open; sticky */
bool store_db_failed(const struct store_db *db);
/* store_db_time_parse - strict RFC 3339 ("…T…Z" or "±HH:MM", 0-9 fraction digits) to epoch us;
 * 0 or -1 (also before 1970 or after 9999) */
int store_db_time_parse(const char *s, size_t len, int64_t *us);

#endif
