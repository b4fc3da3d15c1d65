/* SPDX-License-Identifier: ISC */
/*
 * store - the storage side: applies events to events.jsonl, relaytrap.db (SQLite, WAL) and the
 * content-addressed body store. Runs in its own process (store_run) fed by frames over a
 * socketpair; the same store_event() serves `relaytrap import` later.
 *
 * Owns: struct store, its open files, its SQLite handle, the per-transaction temp bodies.
 * Public: store_open, store_event, store_parse, store_apply, store_parsed_clear, store_body,
 *         store_commit, store_bulk_fresh, store_bulk_end, store_reopen, store_close, store_run.
 * Limits: events over FRAME_MAX bytes are refused; string fields over STORE_FIELD_MAX make an
 *   event JSONL-only; at most 1024 bodies open at once; store_body_max and body_disk_budget
 *   of 0 mean no cap.
 * Layout under data_dir:
 *   events.jsonl (over jsonl_rotate_bytes renamed to events-YYYYMMDDTHHMMSSZ.jsonl, never
 *   deleted; reopened by store_reopen on SIGHUP)
 *   relaytrap.db (+ -wal, -shm)
 *   bodies/ab/cd/<sha256>.eml (ab, cd = first two bytes of the hex digest), bodies/tmp/
 * Batching: events are written to the JSONL and inserted into SQLite inside one transaction
 * per batch; a batch is committed when STORE_BATCH_EVENTS (bulk: STORE_BULK_EVENTS) events
 * are pending, when STORE_BATCH_MS have passed, on a FLUSH frame, and on close.
 */
#ifndef RT_STORE_H
#define RT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/store_db.h"

#define STORE_BATCH_EVENTS 2000
#define STORE_BATCH_MS 200
/* store_run's exit status when a write or commit failed (EX_TEMPFAIL): start it again */
#define STORE_EXIT_RETRY 75
/* bulk (import): one transaction per this many events */
#define STORE_BULK_EVENTS 100000

struct privsep;

struct store_config {
	const char *data_dir;
	const struct privsep *privsep; /* store_run drops with it before opening; NULL = stay */
	const char *db_path;           /* NULL = data_dir/relaytrap.db */
	bool write_jsonl;              /* false for import */
	bool store_bodies; /* false: bodies/ is neither created nor scanned nor cleaned */
	bool bulk; /* import: STORE_BULK_EVENTS per transaction, synchronous = OFF, big cache */
	uint64_t jsonl_rotate_bytes; /* 0 = never */
	uint64_t store_body_max;     /* bytes kept of one body */
	uint64_t body_disk_budget; /* 0 = unlimited; over it new bodies are not stored (recorded) */
	uint64_t disk_min_free;    /* 0 = no check; under it new bodies are not stored (recorded) */
	bool fsync;                /* fdatasync packs and events.jsonl before each SQLite COMMIT */
};

struct store;

/* struct store_parsed - one event parsed and checked by store_parse, applied by store_apply.
 * Parsing touches no store state, so import parses on one thread while another applies. */
struct store_parsed {
	json_t *ev; /* owned; NULL after store_parsed_clear */
	bool valid; /* passed store_db_check: goes to SQLite, else only to the JSONL */
	struct store_db_ev info;
};

/* store_open - create data_dir layout and open everything; NULL with err */
struct store *store_open(const struct store_config *cfg, char *err, size_t errlen);
/* store_event - apply one event (JSON text, len bytes, untrusted); 0 or -1 (malformed, logged) */
int store_event(struct store *s, const char *json, size_t len);
/* store_parse - parse and check one event (JSON text, untrusted) into p without touching any
 * store; 0 (p->valid says whether SQLite takes it), or -1 when it is refused outright (too
 * long, not JSON, not an object; logged). The caller clears p with store_parsed_clear. */
int store_parse(struct store_parsed *p, const char *json, size_t len);
/* store_parse_cached - store_parse with a cache of the sessions' repeated fields (evparse.h,
 * one per parsing thread; NULL = none): the same p, at about half the parsing cost */
struct evparse;
int store_parse_cached(struct evparse *c, struct store_parsed *p, const char *json, size_t len);
/* store_apply - apply a parsed event: bodies, JSONL (json, len is its text, or NULL to
 * serialise it), SQLite within the batch; 0, or -1 when it was refused or not mirrored in
 * SQLite. Does not clear p. */
int store_apply(struct store *s, struct store_parsed *p, const char *json, size_t len);
/* store_parsed_clear - free what store_parse made; a cleared p is a no-op */
void store_parsed_clear(struct store_parsed *p);
/* store_body - append body bytes for (session, tx); 0 or -1 */
int store_body(struct store *s, const char *session, uint32_t tx, const void *data, size_t len);
/* store_commit - commit the pending batch (packs and JSONL flushed and, with fsync, synced;
 * SQLite COMMIT), then acknowledge it to the engine (store_run); 0, or -1 when the batch may not
 * be durable */
int store_commit(struct store *s);
/* store_bulk_fresh - true when a bulk store found a new, empty database and loads it without
 * journal and secondary indexes under an exclusive lock (store_db_bulk_fresh) */
bool store_bulk_fresh(const struct store *s);
/* store_bulk_end - commit the last batch and end a fresh load: build the indexes, turn WAL
 * back on; 0 or -1. store_close does the same, without telling. */
int store_bulk_end(struct store *s);
/* store_reopen - reopen events.jsonl (SIGHUP, log rotation by an outside tool) */
int store_reopen(struct store *s);
/* store_close - commit, drop unfinished temp bodies, close everything; NULL is a no-op */
void store_close(struct store *s);
/* store_run - the store process's main loop over frames read from fd until EOF, acknowledging
 * each commit back over fd (FRAME_ACK); with cfg->privsep it first loads what it cannot open
 * later, then drops (chroot into data_dir when root, Landlock, seccomp). Returns the process
 * exit code: 0, 1 when it could not start, STORE_EXIT_RETRY when a write or commit failed
 * (nothing unacknowledged is lost: the engine sends it again to the next store) */
int store_run(int fd, const struct store_config *cfg);

#endif
