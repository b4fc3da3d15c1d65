/* SPDX-License-Identifier: ISC */
/*
 * store_db - SQLite schema, strict event validation and idempotent apply (see store_db.h and
 * docs/database.md).
 *
 * Owns: struct store_db: the sqlite3 handle, one prepared statement per table operation, the
 *       batch flag and a scratch buffer for base64-decoded attacker bytes.
 * Public: store_db_init, store_db_open, store_db_bulk, store_db_bulk_fresh, store_db_bulk_end,
 * store_db_close, store_db_check, store_db_apply, store_db_commit, store_db_time_parse. Limits:
 * STORE_FIELD_MAX bytes per string field, STORE_ARRAY_MAX items per array, STORE_OBJECT_MAX keys
 * per object; anything larger makes the event invalid for the DB.
 *
 * Every event is described by a table entry: its fields (name, JSON type, required) and up to two
 * statements with the list of values bound to them. Validation and binding are driven by those
 * tables, so adding an event is data, not code. Attacker bytes that were valid UTF-8 are stored
 * as TEXT; when the event carries "<field>_b64" the column holds the exact bytes as a BLOB.
 */
#include "capture/store_db.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/log.h"
#include "core/pool.h"
#include "core/str.h"
#include "core/util.h"

#define STORE_ARRAY_MAX 4096
#define STORE_OBJECT_MAX 256
#define STORE_KEY_MAX 256
/* B64_MAX - base64 length of STORE_FIELD_MAX bytes, padded */
#define B64_MAX (((STORE_FIELD_MAX + 2) / 3) * 4)
#define BUSY_TIMEOUT_MS 5000

/* FT_NUM: integer or real; FT_ARR / FT_OBJ: bounded containers whose members the apply code
 * type-checks as it reads them (enrichment results, MIME parts) */
enum ftype { FT_STR, FT_BYTES, FT_INT, FT_BOOL, FT_STRARR, FT_STROBJ, FT_NUM, FT_ARR, FT_OBJ };

struct field {
	const char *key;
	enum ftype type;
	bool required;
};

enum bkind { B_END, B_SESSION, B_TIME, B_TIMEUS, B_FIELD, B_CMDFLAGS, B_ARRLEN };

struct bind {
	enum bkind kind;
	const char *key;
};

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SESS_CONNECT,
	ST_SESS_CLOSED,
	ST_IP_INTEL,
	ST_COMMAND,
	ST_REPLY,
	ST_HELO,
	ST_HELO_SESS,
	ST_MAIL,
	ST_RCPT,
	ST_MESSAGE,
	ST_AUTH,
	ST_SIGNAL,
	ST_LIMIT,
	ST_ENRICH,
	ST_ENRICH_HISTORY,
	ST_HISTORY_INSERT,
	ST_HISTORY_LATEST,
	ST_DATA_VERSION,
	ST_ENRICH_SESS,
	ST_ENRICH_IP,
	ST_BODY_FIND,
	ST__COUNT
};

struct evstmt {
	enum stmt_id id;
	const struct bind *binds;
};

struct evdef {
	const char *eventid;
	const struct field *fields;
	struct evstmt stmts[2];
};

/* The enrichment kinds with columns in sessions or ip_intel (sess_cols, ip_cols), then the
 * kinds whose results are parts: "session", the one event per session the engine writes
 * ({"kind":"session","geo":{...},"os":{...},"rdns":{...},"dnsbl":{...},"helo":{...}}), and
 * "dns", its DNS parts alone, what older engines wrote (older still: an event per kind); their
 * columns are their parts'. The first STORE_DB_PARTS kinds are the parts. */
static const char *const enrich_kinds[] = {"geo", "os", "dnsbl", "rdns", "helo", "dns", "session"};
#define ENRICH_KINDS 7
#define K_GEO 0
#define K_OS 1
#define K_DNSBL 2
#define K_DNS 5
#define K_SESSION 6
#define DNS_PARTS ((1u << 2) | (1u << 3) | (1u << 4)) /* dnsbl, rdns, helo */
#define ALL_PARTS ((1u << STORE_DB_PARTS) - 1)
_Static_assert(STORE_DB_PARTS == K_DNS, "the part kinds come first in enrich_kinds");

/* kind_parts - the part kinds an event of kind k carries (bit per enrich_kinds index), 0 for
 * a kind that is a result itself */
static unsigned
kind_parts(size_t k)
{
	return k == K_DNS ? DNS_PARTS : k == K_SESSION ? ALL_PARTS : 0;
}

/* kind_cols - the kinds whose columns an event of kind k fills (bit per enrich_kinds index) */
static unsigned
kind_cols(size_t k)
{
	return k >= STORE_DB_PARTS ? kind_parts(k) : 1u << k;
}
#define SESS_COLS 10 /* entries of sess_cols */
#define IP_COLS 15   /* and of ip_cols */

struct store_db {
	sqlite3 *db;
	sqlite3_stmt *st[ST__COUNT];
	/* per kind: UPDATEs of just its columns (kind_cols) of an existing row (NULL: none) */
	sqlite3_stmt *enr_sess[ENRICH_KINDS], *enr_ip[ENRICH_KINDS];
	unsigned ip_kinds; /* bit k: an event of enrich_kinds[k] fills columns of ip_intel */
	/* the enrich_kinds index of each column's kind (sess_cols, ip_cols) */
	unsigned char sess_kind[SESS_COLS], ip_kind[IP_COLS];
	/* the latest ip_intel_history data per (ip, kind) this connection knows of (hist_*) */
	struct hist_slot *hist;
	uint64_t hist_gen;      /* slots of an older generation are void */
	struct pool *hist_pool; /* the slots' blocks */
	int64_t data_version;
	bool b64; /* the event being applied has "_b64" members (store_db_ev.b64) */
	bool in_tx;
	bool fresh;      /* store_db_open created the schema in an empty file */
	bool bulk_fresh; /* store_db_bulk took the fresh-load shortcuts; store_db_bulk_end undoes */
	bool failed; /* an I/O-class error (disk full, I/O, busy, ...): the batch is not durable */
	unsigned char *scratch; /* STORE_FIELD_MAX bytes for decoded _b64 fields */
};

static bool sqlite_configured;

/* The history cache: for (ip, kind), "the latest history row at or before t has data D". An
 * enrich result equal to D at a time >= t then adds no row, and needs no statement: a source
 * that comes back gets the same answers, and the history lookup was the dearest of an enrich
 * event's statements. Every write of the history goes through this connection and updates
 * the slot; a rollback, or another connection's commit (PRAGMA data_version, read at BEGIN),
 * voids them all. Direct-mapped; a slot holds its key and data in one block of their size
 * rounded up to 64 bytes (data over HIST_DATA_MAX bytes is not cached), from a pool of the
 * cache's own (core/pool.h: tens of thousands of long-lived blocks from malloc made it search
 * its bins for every event's short-lived ones) of at most HIST_BYTES_MAX; beyond it a slot
 * that needs a larger block is left empty. Memory is bounded by HIST_SLOTS * sizeof(struct
 * hist_slot) + HIST_BYTES_MAX. Three kinds per address: 65,536 slots hold the sources of a
 * busy day (4,096 held 1,365, so a honeypot's 10,000 sources missed nearly every time, one
 * SELECT per DNS part of every session). */
#define HIST_SLOTS 65536
#define HIST_KEY_MAX 64
#define HIST_DATA_MAX 1024
#define HIST_BYTES_MAX (24u << 20)

struct hist_slot {
	uint64_t gen; /* 0: empty */
	int64_t t;
	uint16_t klen, dlen, cap;
	char *buf; /* cap bytes: the key (ip NUL kind), then the data */
};

/* The schema. Key columns are NOT NULL so that UNIQUE constraints make re-imports no-ops
 * (SQLite treats NULLs as distinct in UNIQUE indexes). */
static const char *const schema_sql[] = {
    "CREATE TABLE IF NOT EXISTS sessions ("
    " session TEXT PRIMARY KEY, sensor TEXT, listener TEXT, persona TEXT,"
    " src_ip TEXT, src_port INTEGER, dst_ip TEXT, dst_port INTEGER,"
    " proxied INTEGER, proxy_version INTEGER, peer_ip TEXT, peer_port INTEGER,"
    " start_time TEXT, start_us INTEGER, end_time TEXT, end_us INTEGER, duration_us INTEGER,"
    " reason TEXT, greeting TEXT, helo TEXT, commands INTEGER, bad_commands INTEGER,"
    " messages INTEGER, rcpts INTEGER, auth_attempts INTEGER, bytes_in INTEGER,"
    " bytes_out INTEGER, stage TEXT, first_cmd_us INTEGER, country TEXT, city TEXT, asn INTEGER,"
    " os TEXT, dnsbl_listed INTEGER, rdns TEXT, fcrdns INTEGER, helo_resolves INTEGER,"
    " helo_matches INTEGER, helo_fcrdns INTEGER);",
    "CREATE TABLE IF NOT EXISTS commands ("
    " id INTEGER PRIMARY KEY, session TEXT NOT NULL, seq INTEGER NOT NULL,"
    " time TEXT NOT NULL, time_us INTEGER NOT NULL, t_us INTEGER,"
    " direction TEXT NOT NULL CHECK (direction IN ('C', 'S')), verb TEXT, code INTEGER,"
    " text TEXT, len INTEGER, flags TEXT, delay_ms INTEGER,"
    " UNIQUE (session, seq, direction));",
    "CREATE TABLE IF NOT EXISTS helos ("
    " id INTEGER PRIMARY KEY, session TEXT NOT NULL, time TEXT NOT NULL,"
    " time_us INTEGER NOT NULL, verb TEXT NOT NULL, name TEXT NOT NULL,"
    " UNIQUE (session, time_us, verb, name));",
    "CREATE TABLE IF NOT EXISTS transactions ("
    " id INTEGER PRIMARY KEY, session TEXT NOT NULL, tx INTEGER NOT NULL,"
    " time TEXT NOT NULL, time_us INTEGER NOT NULL, address TEXT, raw TEXT, flags TEXT,"
    " params TEXT, accepted INTEGER, UNIQUE (session, tx));",
    "CREATE TABLE IF NOT EXISTS recipients ("
    " id INTEGER PRIMARY KEY, session TEXT NOT NULL, tx INTEGER NOT NULL,"
    " time TEXT NOT NULL, time_us INTEGER NOT NULL, address TEXT, raw TEXT NOT NULL,"
    " flags TEXT, params TEXT, accepted INTEGER, UNIQUE (session, tx, time_us, raw));",
    "CREATE TABLE IF NOT EXISTS messages ("
    " id INTEGER PRIMARY KEY, session TEXT NOT NULL, tx INTEGER NOT NULL,"
    " time TEXT NOT NULL, time_us INTEGER NOT NULL, via TEXT, size INTEGER, stored INTEGER,"
    " truncated INTEGER, complete INTEGER, accepted INTEGER, msgid TEXT, mail_from TEXT,"
    " rcpts TEXT, rcpt_count INTEGER, hdr_from TEXT, hdr_to TEXT, hdr_subject TEXT,"
    " hdr_date TEXT, hdr_message_id TEXT, hdr_x_mailer TEXT, sha256 TEXT, body_path TEXT,"
    " body_dropped TEXT, body_text TEXT, parts TEXT, body_offset INTEGER, body_len INTEGER,"
    " UNIQUE (session, tx));",
    "CREATE TABLE IF NOT EXISTS auth_attempts ("
    " id INTEGER PRIMARY KEY, session TEXT NOT NULL, time TEXT NOT NULL,"
    " time_us INTEGER NOT NULL, mechanism TEXT NOT NULL, supported INTEGER, username TEXT,"
    " password TEXT, authzid TEXT, digest TEXT, ntlm_domain TEXT, ntlm_user TEXT,"
    " ntlm_workstation TEXT, ntlm_lm TEXT, ntlm_nt TEXT, ntlm_challenge TEXT, crack TEXT,"
    " outcome TEXT, UNIQUE (session, time_us, mechanism));",
    "CREATE TABLE IF NOT EXISTS signals ("
    " id INTEGER PRIMARY KEY, session TEXT NOT NULL, time TEXT NOT NULL,"
    " time_us INTEGER NOT NULL, signal TEXT NOT NULL, detail TEXT,"
    " UNIQUE (session, signal));",
    "CREATE TABLE IF NOT EXISTS limits ("
    " id INTEGER PRIMARY KEY, session TEXT NOT NULL, time TEXT NOT NULL,"
    " time_us INTEGER NOT NULL, limit_name TEXT NOT NULL, value INTEGER,"
    " UNIQUE (session, limit_name, time_us));",
    "CREATE TABLE IF NOT EXISTS ip_intel ("
    " ip TEXT PRIMARY KEY NOT NULL, first_seen TEXT NOT NULL, first_seen_us INTEGER NOT NULL,"
    " last_seen TEXT NOT NULL, last_seen_us INTEGER NOT NULL, country TEXT, city TEXT,"
    " asn INTEGER, as_org TEXT, dnsbl TEXT, os TEXT, rdns TEXT, enriched_at TEXT,"
    " country_name TEXT, region TEXT, latitude REAL, longitude REAL, dnsbl_listed INTEGER,"
    " os_class TEXT, os_distance INTEGER, fcrdns INTEGER, enriched_us INTEGER);",
    "CREATE TABLE IF NOT EXISTS enrichments ("
    " id INTEGER PRIMARY KEY, session TEXT NOT NULL, ip TEXT, time TEXT NOT NULL,"
    " time_us INTEGER NOT NULL, kind TEXT NOT NULL, data TEXT, UNIQUE (session, kind));",
    "CREATE TABLE IF NOT EXISTS ip_intel_history ("
    " id INTEGER PRIMARY KEY, ip TEXT NOT NULL, kind TEXT NOT NULL, time TEXT NOT NULL,"
    " time_us INTEGER NOT NULL, data TEXT, UNIQUE (ip, kind, time_us));",
    "CREATE INDEX IF NOT EXISTS sessions_start ON sessions (start_us);",
    "CREATE INDEX IF NOT EXISTS sessions_src_ip ON sessions (src_ip, start_us);",
    "CREATE INDEX IF NOT EXISTS sessions_helo ON sessions (helo);",
    /* The report reads every client line in session order; this partial index holds just
     * those columns, so it never touches the table (7x less CPU on 1M sessions). */
    ("CREATE INDEX IF NOT EXISTS commands_client ON commands (session, seq, verb, flags, text)"
     " WHERE direction = 'C';"),
    "CREATE INDEX IF NOT EXISTS helos_name ON helos (name);",
    "CREATE INDEX IF NOT EXISTS helos_time ON helos (time_us);",
    "CREATE INDEX IF NOT EXISTS transactions_time ON transactions (time_us);",
    "CREATE INDEX IF NOT EXISTS transactions_address ON transactions (address);",
    "CREATE INDEX IF NOT EXISTS recipients_address ON recipients (address);",
    "CREATE INDEX IF NOT EXISTS messages_time ON messages (time_us);",
    "CREATE INDEX IF NOT EXISTS messages_subject ON messages (hdr_subject);",
    "CREATE INDEX IF NOT EXISTS messages_sha256 ON messages (sha256);",
    "CREATE INDEX IF NOT EXISTS auth_time ON auth_attempts (time_us);",
    "CREATE INDEX IF NOT EXISTS auth_username ON auth_attempts (username);",
    "CREATE INDEX IF NOT EXISTS signals_signal ON signals (signal);",
    "CREATE INDEX IF NOT EXISTS limits_name ON limits (limit_name);",
    "CREATE INDEX IF NOT EXISTS ip_intel_last ON ip_intel (last_seen_us);",
};

/* Schema 1 → 2: what a version-1 database lacks (new tables and indexes come from schema_sql,
 * which only creates what does not exist). */
static const char *const migrate_1_2[] = {
    "ALTER TABLE sessions ADD COLUMN country TEXT",
    "ALTER TABLE sessions ADD COLUMN city TEXT",
    "ALTER TABLE sessions ADD COLUMN asn INTEGER",
    "ALTER TABLE sessions ADD COLUMN os TEXT",
    "ALTER TABLE sessions ADD COLUMN dnsbl_listed INTEGER",
    "ALTER TABLE sessions ADD COLUMN rdns TEXT",
    "ALTER TABLE sessions ADD COLUMN fcrdns INTEGER",
    "ALTER TABLE sessions ADD COLUMN helo_resolves INTEGER",
    "ALTER TABLE sessions ADD COLUMN helo_matches INTEGER",
    "ALTER TABLE sessions ADD COLUMN helo_fcrdns INTEGER",
    "ALTER TABLE messages ADD COLUMN body_text TEXT",
    "ALTER TABLE messages ADD COLUMN parts TEXT",
    "ALTER TABLE messages ADD COLUMN body_offset INTEGER",
    "ALTER TABLE messages ADD COLUMN body_len INTEGER",
    "ALTER TABLE ip_intel ADD COLUMN country_name TEXT",
    "ALTER TABLE ip_intel ADD COLUMN region TEXT",
    "ALTER TABLE ip_intel ADD COLUMN latitude REAL",
    "ALTER TABLE ip_intel ADD COLUMN longitude REAL",
    "ALTER TABLE ip_intel ADD COLUMN dnsbl_listed INTEGER",
    "ALTER TABLE ip_intel ADD COLUMN os_class TEXT",
    "ALTER TABLE ip_intel ADD COLUMN os_distance INTEGER",
    "ALTER TABLE ip_intel ADD COLUMN fcrdns INTEGER",
    "ALTER TABLE ip_intel ADD COLUMN enriched_us INTEGER",
};

/* Schema 2 → 3: two indexes that cost more than they gave. Every command and reply line
 * paid a B-tree insert in each (12 lines per message in a plain spam session, and
 * commands_verb at random places), and neither the report nor show reads them: the
 * store's CPU per message fell by about 15% without them. An analyst who wants them
 * creates them (docs/database.md). */
static const char *const migrate_2_3[] = {
    "DROP INDEX IF EXISTS commands_time",
    "DROP INDEX IF EXISTS commands_verb",
};

/* Schema 3 → 4: enrichments_kind, an index on five values that no reader used, paid by every
 * enrich event (three to five per session with enrichment on). */
static const char *const migrate_3_4[] = {
    "DROP INDEX IF EXISTS enrichments_kind",
};

/* Enrichment columns: which enrich kind and field fills which column of sessions and ip_intel.
 * A NULL field is computed in enrich_value. Order = bind order of ST_ENRICH_SESS/IP. */
struct ecol {
	const char *col;
	const char *kind;
	const char *field;
};
static const struct ecol sess_cols[] = {
    {"country", "geo", "country_code"},
    {"city", "geo", "city"},
    {"asn", "geo", "asn"},
    {"os", "os", NULL},
    {"dnsbl_listed", "dnsbl", "listed"},
    {"rdns", "rdns", "ptr"},
    {"fcrdns", "rdns", "fcrdns"},
    {"helo_resolves", "helo", "resolves"},
    {"helo_matches", "helo", "matches_src"},
    {"helo_fcrdns", "helo", "fcrdns"},
};
static const struct ecol ip_cols[] = {
    {"country", "geo", "country_code"},
    {"country_name", "geo", "country"},
    {"region", "geo", "region"},
    {"city", "geo", "city"},
    {"latitude", "geo", "latitude"},
    {"longitude", "geo", "longitude"},
    {"asn", "geo", "asn"},
    {"as_org", "geo", "as_org"},
    {"dnsbl", "dnsbl", NULL},
    {"dnsbl_listed", "dnsbl", "listed"},
    {"os", "os", NULL},
    {"os_class", "os", "os_class"},
    {"os_distance", "os", "os_distance"},
    {"rdns", "rdns", "ptr"},
    {"fcrdns", "rdns", "fcrdns"},
};
_Static_assert(ARRAY_LEN(sess_cols) == SESS_COLS, "SESS_COLS is the size of sess_cols");
_Static_assert(ARRAY_LEN(ip_cols) == IP_COLS, "IP_COLS is the size of ip_cols");

/* One SQL text per statement id; parameters are bound in order from the event's bind list. */
static const char *const stmt_sql[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SESS_CONNECT] =
        "INSERT INTO sessions (session, sensor, listener, persona, src_ip, src_port, dst_ip,"
        " dst_port, proxied, proxy_version, peer_ip, peer_port, start_time, start_us)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, coalesce(?, 0), ?, ?, ?, ?, ?)"
        " ON CONFLICT (session) DO UPDATE SET sensor = excluded.sensor,"
        " listener = excluded.listener, persona = excluded.persona, src_ip = excluded.src_ip,"
        " src_port = excluded.src_port, dst_ip = excluded.dst_ip, dst_port = excluded.dst_port,"
        " proxied = excluded.proxied, proxy_version = excluded.proxy_version,"
        " peer_ip = excluded.peer_ip, peer_port = excluded.peer_port,"
        " start_time = excluded.start_time, start_us = excluded.start_us",
    [ST_SESS_CLOSED] =
        "INSERT INTO sessions (session, sensor, listener, persona, src_ip, src_port, dst_ip,"
        " dst_port, end_time, end_us, duration_us, reason, first_cmd_us, greeting, helo,"
        " commands, bad_commands, messages, rcpts, auth_attempts, bytes_in, bytes_out, stage)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (session) DO UPDATE SET sensor = coalesce(sensor, excluded.sensor),"
        " listener = coalesce(listener, excluded.listener),"
        " persona = coalesce(persona, excluded.persona),"
        " src_ip = coalesce(src_ip, excluded.src_ip),"
        " src_port = coalesce(src_port, excluded.src_port),"
        " dst_ip = coalesce(dst_ip, excluded.dst_ip),"
        " dst_port = coalesce(dst_port, excluded.dst_port), end_time = excluded.end_time,"
        " end_us = excluded.end_us, duration_us = excluded.duration_us,"
        " reason = excluded.reason, first_cmd_us = excluded.first_cmd_us,"
        " greeting = excluded.greeting, helo = excluded.helo, commands = excluded.commands,"
        " bad_commands = excluded.bad_commands, messages = excluded.messages,"
        " rcpts = excluded.rcpts, auth_attempts = excluded.auth_attempts,"
        " bytes_in = excluded.bytes_in, bytes_out = excluded.bytes_out, stage = excluded.stage",
    /* All SET expressions see the old row, so first_seen and first_seen_us move together. */
    [ST_IP_INTEL] = "INSERT INTO ip_intel (ip, first_seen, first_seen_us, last_seen, last_seen_us)"
                    " SELECT ?1, ?2, ?3, ?2, ?3 WHERE ?1 IS NOT NULL"
                    " ON CONFLICT (ip) DO UPDATE SET"
                    " first_seen = CASE WHEN excluded.first_seen_us < first_seen_us"
                    " THEN excluded.first_seen ELSE first_seen END,"
                    " first_seen_us = min(first_seen_us, excluded.first_seen_us),"
                    " last_seen = CASE WHEN excluded.last_seen_us > last_seen_us"
                    " THEN excluded.last_seen ELSE last_seen END,"
                    " last_seen_us = max(last_seen_us, excluded.last_seen_us)",
    [ST_COMMAND] = "INSERT OR IGNORE INTO commands (session, seq, time, time_us, t_us,"
                   " direction, verb, text, len, flags) VALUES (?, ?, ?, ?, ?, 'C', ?, ?, ?, ?)",
    [ST_REPLY] = "INSERT OR IGNORE INTO commands (session, seq, time, time_us, t_us,"
                 " direction, code, text, delay_ms) VALUES (?, ?, ?, ?, ?, 'S', ?, ?, ?)",
    [ST_HELO] = "INSERT OR IGNORE INTO helos (session, time, time_us, verb, name)"
                " VALUES (?, ?, ?, coalesce(?, ''), coalesce(?, ''))",
    /* A live session's row shows the latest greeting; the close event sets the final one. */
    [ST_HELO_SESS] = "UPDATE sessions SET greeting = ?, helo = ? WHERE session = ?"
                     " AND end_us IS NULL",
    [ST_MAIL] = "INSERT OR IGNORE INTO transactions (session, tx, time, time_us, address, raw,"
                " flags, params, accepted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_RCPT] = "INSERT OR IGNORE INTO recipients (session, tx, time, time_us, address, raw,"
                " flags, params, accepted) VALUES (?, ?, ?, ?, ?, coalesce(?, ''), ?, ?, ?)",
    [ST_MESSAGE] =
        "INSERT OR IGNORE INTO messages (session, tx, time, time_us, via, size, stored,"
        " truncated, complete, accepted, msgid, mail_from, rcpts, rcpt_count, hdr_from, hdr_to,"
        " hdr_subject, hdr_date, hdr_message_id, hdr_x_mailer, sha256, body_path, body_dropped,"
        " body_text, parts, body_offset, body_len) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
        " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_AUTH] = "INSERT OR IGNORE INTO auth_attempts (session, time, time_us, mechanism,"
                " supported, username, password, authzid, digest, ntlm_domain, ntlm_user,"
                " ntlm_workstation, ntlm_lm, ntlm_nt, ntlm_challenge, crack, outcome)"
                " VALUES (?, ?, ?, coalesce(?, ''), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_SIGNAL] = "INSERT OR IGNORE INTO signals (session, time, time_us, signal, detail)"
                  " VALUES (?, ?, ?, ?, ?)",
    [ST_LIMIT] = "INSERT OR IGNORE INTO limits (session, time, time_us, limit_name, value)"
                 " VALUES (?, ?, ?, ?, ?)",
    /* A later result of the same kind for a session (a second EHLO) replaces the earlier. */
    [ST_ENRICH] = "INSERT INTO enrichments (session, ip, time, time_us, kind, data)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (session, kind) DO UPDATE SET"
                  " ip = excluded.ip, time = excluded.time, time_us = excluded.time_us,"
                  " data = excluded.data WHERE excluded.time_us >= time_us",
    /* A history row only when the result differs from the latest one before it. history()
     * runs this for results older than the latest row; for the others it compares with
     * the latest row (from the cache, or ST_HISTORY_LATEST) and inserts when they differ. */
    [ST_ENRICH_HISTORY] =
        "INSERT OR IGNORE INTO ip_intel_history (ip, kind, time, time_us, data)"
        " SELECT ?1, ?2, ?3, ?4, ?5 WHERE ?1 IS NOT NULL AND (SELECT data FROM ip_intel_history"
        " WHERE ip = ?1 AND kind = ?2 AND time_us <= ?4 ORDER BY time_us DESC LIMIT 1)"
        " IS NOT ?5",
    [ST_HISTORY_INSERT] = "INSERT OR IGNORE INTO ip_intel_history (ip, kind, time, time_us, data)"
                          " VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_HISTORY_LATEST] = "SELECT time_us, data FROM ip_intel_history WHERE ip = ?1 AND kind = ?2"
                          " ORDER BY time_us DESC LIMIT 1",
    [ST_DATA_VERSION] = "PRAGMA data_version",
    /* Built at open from sess_cols / ip_cols (enrich_sql). */
    [ST_ENRICH_SESS] = NULL,
    [ST_ENRICH_IP] = NULL,
    /* The batch is on this connection, so bodies packed moments ago are found too. */
    [ST_BODY_FIND] = "SELECT body_path, body_offset FROM messages WHERE sha256 = ?"
                     " AND body_offset IS NOT NULL LIMIT 1",
};

/* The table macros stay one line each so that the tables below read as tables. */
/* clang-format off */
#define F(k, t) {k, t, false}
#define FR(k, t) {k, t, true}
#define FEND {NULL, FT_STR, false}
#define BF(k) {B_FIELD, k}
#define BS {B_SESSION, NULL}
#define BT {B_TIME, NULL}
#define BTU {B_TIMEUS, NULL}
#define BEND {B_END, NULL}
/* clang-format on */

static const struct field f_common[] = {
    FR("timestamp", FT_STR),
    FR("eventid", FT_STR),
    FR("session", FT_STR),
    F("sensor", FT_STR),
    F("src_ip", FT_STR),
    F("src_port", FT_INT),
    F("dst_ip", FT_STR),
    F("dst_port", FT_INT),
    F("persona", FT_STR),
    F("listener", FT_STR),
    FEND,
};
static const struct field f_connect[] = {
    FR("src_ip", FT_STR), F("proxied", FT_BOOL),  F("proxy_version", FT_INT),
    F("peer_ip", FT_STR), F("peer_port", FT_INT), FEND,
};
static const struct field f_command[] = {
    FR("seq", FT_INT),     F("t_us", FT_INT),  F("line", FT_BYTES),
    F("verb", FT_STR),     F("len", FT_INT),   F("truncated", FT_BOOL),
    F("bare_lf", FT_BOOL), F("auth", FT_BOOL), FEND,
};
static const struct field f_reply[] = {
    FR("seq", FT_INT), F("t_us", FT_INT),     F("code", FT_INT),
    F("text", FT_STR), F("delay_ms", FT_INT), FEND,
};
static const struct field f_helo[] = {F("verb", FT_STR), F("name", FT_BYTES), FEND};
static const struct field f_path[] = {
    FR("tx", FT_INT),
    F("address", FT_BYTES),
    F("raw", FT_BYTES),
    F("flags", FT_STRARR),
    F("params", FT_STROBJ),
    F("accepted", FT_BOOL),
    FEND,
};
static const struct field f_message[] = {
    FR("tx", FT_INT),
    F("via", FT_STR),
    F("size", FT_INT),
    F("stored", FT_INT),
    F("truncated", FT_BOOL),
    F("complete", FT_BOOL),
    F("accepted", FT_BOOL),
    F("msgid", FT_STR),
    F("mail_from", FT_BYTES),
    F("rcpts", FT_STRARR),
    F("hdr_from", FT_BYTES),
    F("hdr_to", FT_BYTES),
    F("hdr_subject", FT_BYTES),
    F("hdr_date", FT_BYTES),
    F("hdr_message_id", FT_BYTES),
    F("hdr_x_mailer", FT_BYTES),
    F("sha256", FT_STR),
    F("body_path", FT_STR),
    F("body_dropped", FT_STR),
    F("body_text", FT_BYTES),
    F("parts", FT_ARR),
    F("body_offset", FT_INT),
    F("body_len", FT_INT),
    FEND,
};
static const struct field f_enrich[] = {
    FR("kind", FT_STR),     F("country_code", FT_STR), F("country", FT_STR),
    F("region", FT_STR),    F("city", FT_STR),         F("latitude", FT_NUM),
    F("longitude", FT_NUM), F("asn", FT_INT),          F("as_org", FT_STR),
    F("geo_db", FT_STR),    F("os_class", FT_STR),     F("os_name", FT_STR),
    F("os_flavor", FT_STR), F("os_distance", FT_INT),  F("os_match", FT_STR),
    F("os_sig", FT_STR),    F("syn", FT_OBJ),          F("status", FT_STR),
    F("ptr", FT_STR),       F("fcrdns", FT_BOOL),      F("lists", FT_ARR),
    F("listed", FT_INT),    F("cached", FT_BOOL),      F("name", FT_BYTES),
    F("resolves", FT_BOOL), F("addrs", FT_STRARR),     F("matches_src", FT_BOOL),
    F("lookup_us", FT_INT), F("lookup_time", FT_STR),  FEND,
};
/* kinds "session" and "dns": their parts, each checked with the fields of its kinds (a lookup
 * per field: short tables instead of f_enrich's 29 fields five times) */
static const struct field f_enrich_session[] = {
    FR("kind", FT_STR),
    F("geo", FT_OBJ),
    F("os", FT_OBJ),
    F("dnsbl", FT_OBJ),
    F("rdns", FT_OBJ),
    F("helo", FT_OBJ),
    FEND,
};
static const struct field f_enrich_dns[] = {
    FR("kind", FT_STR), F("dnsbl", FT_OBJ), F("rdns", FT_OBJ), F("helo", FT_OBJ), FEND,
};
static const struct field f_part_geo[] = {
    F("country_code", FT_STR), F("country", FT_STR),
    F("region", FT_STR),       F("city", FT_STR),
    F("latitude", FT_NUM),     F("longitude", FT_NUM),
    F("asn", FT_INT),          F("as_org", FT_STR),
    F("geo_db", FT_STR),       FEND,
};
static const struct field f_part_os[] = {
    F("os_class", FT_STR), F("os_name", FT_STR), F("os_flavor", FT_STR), F("os_distance", FT_INT),
    F("os_match", FT_STR), F("os_sig", FT_STR),  F("syn", FT_OBJ),       FEND,
};
static const struct field f_enrich_part[] = {
    F("status", FT_STR),
    F("ptr", FT_STR),
    F("fcrdns", FT_BOOL),
    F("lists", FT_ARR),
    F("listed", FT_INT),
    F("cached", FT_BOOL),
    F("name", FT_BYTES),
    F("resolves", FT_BOOL),
    F("addrs", FT_STRARR),
    F("matches_src", FT_BOOL),
    F("lookup_us", FT_INT),
    F("lookup_time", FT_STR),
    FEND,
};
static const struct field f_auth[] = {
    F("mechanism", FT_STR),     F("supported", FT_BOOL),  F("username", FT_BYTES),
    F("password", FT_BYTES),    F("authzid", FT_BYTES),   F("digest", FT_STR),
    F("ntlm_domain", FT_BYTES), F("ntlm_user", FT_BYTES), F("ntlm_workstation", FT_BYTES),
    F("ntlm_lm", FT_STR),       F("ntlm_nt", FT_STR),     F("ntlm_challenge", FT_STR),
    F("crack", FT_STR),         F("outcome", FT_STR),     FEND,
};
static const struct field f_signal[] = {FR("signal", FT_STR), F("detail", FT_BYTES), FEND};
static const struct field f_limit[] = {FR("limit", FT_STR), F("value", FT_INT), FEND};
static const struct field f_closed[] = {
    F("reason", FT_STR),       F("duration_us", FT_INT),
    F("first_cmd_us", FT_INT), F("greeting", FT_STR),
    F("helo", FT_BYTES),       F("commands", FT_INT),
    F("bad_commands", FT_INT), F("messages", FT_INT),
    F("rcpts", FT_INT),        F("auth_attempts", FT_INT),
    F("bytes_in", FT_INT),     F("bytes_out", FT_INT),
    F("stage", FT_STR),        FEND,
};
static const struct field f_none[] = {FEND};

static const struct bind b_sess_connect[] = {
    BS,
    BF("sensor"),
    BF("listener"),
    BF("persona"),
    BF("src_ip"),
    BF("src_port"),
    BF("dst_ip"),
    BF("dst_port"),
    BF("proxied"),
    BF("proxy_version"),
    BF("peer_ip"),
    BF("peer_port"),
    BT,
    BTU,
    BEND,
};
static const struct bind b_sess_closed[] = {
    BS,
    BF("sensor"),
    BF("listener"),
    BF("persona"),
    BF("src_ip"),
    BF("src_port"),
    BF("dst_ip"),
    BF("dst_port"),
    BT,
    BTU,
    BF("duration_us"),
    BF("reason"),
    BF("first_cmd_us"),
    BF("greeting"),
    BF("helo"),
    BF("commands"),
    BF("bad_commands"),
    BF("messages"),
    BF("rcpts"),
    BF("auth_attempts"),
    BF("bytes_in"),
    BF("bytes_out"),
    BF("stage"),
    BEND,
};
static const struct bind b_ip_intel[] = {BF("src_ip"), BT, BTU, BEND};
static const struct bind b_command[] = {
    BS, BF("seq"), BT, BTU, BF("t_us"), BF("verb"), BF("line"), BF("len"), {B_CMDFLAGS, NULL}, BEND,
};
static const struct bind b_reply[] = {
    BS, BF("seq"), BT, BTU, BF("t_us"), BF("code"), BF("text"), BF("delay_ms"), BEND,
};
static const struct bind b_helo[] = {BS, BT, BTU, BF("verb"), BF("name"), BEND};
static const struct bind b_helo_sess[] = {BF("verb"), BF("name"), BS, BEND};
static const struct bind b_path[] = {
    BS,           BF("tx"),       BT,   BTU, BF("address"), BF("raw"), BF("flags"),
    BF("params"), BF("accepted"), BEND,
};
static const struct bind b_message[] = {
    BS,
    BF("tx"),
    BT,
    BTU,
    BF("via"),
    BF("size"),
    BF("stored"),
    BF("truncated"),
    BF("complete"),
    BF("accepted"),
    BF("msgid"),
    BF("mail_from"),
    BF("rcpts"),
    {B_ARRLEN, "rcpts"},
    BF("hdr_from"),
    BF("hdr_to"),
    BF("hdr_subject"),
    BF("hdr_date"),
    BF("hdr_message_id"),
    BF("hdr_x_mailer"),
    BF("sha256"),
    BF("body_path"),
    BF("body_dropped"),
    BF("body_text"),
    BF("parts"),
    BF("body_offset"),
    BF("body_len"),
    BEND,
};
static const struct bind b_auth[] = {
    BS,
    BT,
    BTU,
    BF("mechanism"),
    BF("supported"),
    BF("username"),
    BF("password"),
    BF("authzid"),
    BF("digest"),
    BF("ntlm_domain"),
    BF("ntlm_user"),
    BF("ntlm_workstation"),
    BF("ntlm_lm"),
    BF("ntlm_nt"),
    BF("ntlm_challenge"),
    BF("crack"),
    BF("outcome"),
    BEND,
};
static const struct bind b_signal[] = {BS, BT, BTU, BF("signal"), BF("detail"), BEND};
static const struct bind b_limit[] = {BS, BT, BTU, BF("limit"), BF("value"), BEND};

/* Events mirrored in SQLite. relaytrap.tls is kept in the JSONL only until its fields are fixed
 * in docs/events.md; relaytrap.enrich is applied by apply_enrich (its statements depend on the
 * kind). */
static const struct evdef evdefs[] = {
    {"relaytrap.session.connect",
     f_connect,
     {{ST_SESS_CONNECT, b_sess_connect}, {ST_IP_INTEL, b_ip_intel}}},
    {"relaytrap.command", f_command, {{ST_COMMAND, b_command}, {ST__COUNT, NULL}}},
    {"relaytrap.reply", f_reply, {{ST_REPLY, b_reply}, {ST__COUNT, NULL}}},
    {"relaytrap.helo", f_helo, {{ST_HELO, b_helo}, {ST_HELO_SESS, b_helo_sess}}},
    {"relaytrap.mail", f_path, {{ST_MAIL, b_path}, {ST__COUNT, NULL}}},
    {"relaytrap.rcpt", f_path, {{ST_RCPT, b_path}, {ST__COUNT, NULL}}},
    {"relaytrap.message", f_message, {{ST_MESSAGE, b_message}, {ST__COUNT, NULL}}},
    {"relaytrap.auth", f_auth, {{ST_AUTH, b_auth}, {ST__COUNT, NULL}}},
    {"relaytrap.signal", f_signal, {{ST_SIGNAL, b_signal}, {ST__COUNT, NULL}}},
    {"relaytrap.limit", f_limit, {{ST_LIMIT, b_limit}, {ST__COUNT, NULL}}},
    {"relaytrap.session.closed",
     f_closed,
     {{ST_SESS_CLOSED, b_sess_closed}, {ST_IP_INTEL, b_ip_intel}}},
    {"relaytrap.tls", f_none, {{ST__COUNT, NULL}, {ST__COUNT, NULL}}},
    {"relaytrap.enrich", f_enrich, {{ST_ENRICH, NULL}, {ST__COUNT, NULL}}},
};

/* digits - parse exactly n decimal digits at s; -1 if any is not a digit */
static int
digits(const char *s, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* days_from_civil - days since 1970-01-01 of a proleptic Gregorian date (year >= 1) */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = y / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* store_db_time_parse - strict RFC 3339 date-time to epoch microseconds */
int
store_db_time_parse(const char *s, size_t len, int64_t *us)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec, ndays, frac_us = 0, nfrac = 0, off = 0;
	size_t i = 19;
	int64_t t;

	if (len < 20 || len > 40)
		return -1;
	if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
	    s[16] != ':')
		return -1;
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
	    sec < 0 || sec > 60)
		return -1;
	ndays = mdays[mo - 1];
	if (mo == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		ndays = 29;
	if (d > ndays)
		return -1;
	if (s[i] == '.') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, nfrac++) {
			if (nfrac < 6)
				frac_us = frac_us * 10 + (s[i] - '0');
		}
		if (nfrac == 0 || nfrac > 9)
			return -1;
		for (; nfrac < 6; nfrac++)
			frac_us *= 10;
	}
	if (i == len - 1 && (s[i] == 'Z' || s[i] == 'z')) {
		off = 0;
	} else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
		int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);

		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return -1;
		off = (oh * 60 + om) * 60 * (s[i] == '-' ? -1 : 1);
	} else {
		return -1;
	}
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
	if (t < 0)
		return -1;
	*us = t * 1000000 + frac_us;
	return 0;
}

/* find_def - the table entry for an event id, or NULL */
static const struct evdef *
find_def(const char *eventid)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(evdefs); i++) {
		if (strcmp(evdefs[i].eventid, eventid) == 0)
			return &evdefs[i];
	}
	return NULL;
}

/* b64_key - "<key>_b64" into out (STORE_KEY_MAX + 8 bytes). Keys are this file's own field
 * names, far shorter; a longer one would be cut as snprintf cuts. Called for every string field
 * of every event, so no printf. */
static const char *
b64_key(const char *key, char *out)
{
	size_t n = strlen(key);

	if (n > STORE_KEY_MAX + 3)
		n = STORE_KEY_MAX + 3;
	memcpy(out, key, n);
	memcpy(out + n, "_b64", 5);
	return out;
}

/* has_b64 - whether any member's name ends in "_b64" (bytes that were not UTF-8) */
static bool
has_b64(json_t *ev)
{
	const char *k;
	json_t *v;
	size_t n;

	json_object_foreach(ev, k, v)
	{
		n = strlen(k);
		if (n > 4 && memcmp(k + n - 4, "_b64", 4) == 0)
			return true;
	}
	return false;
}

/* check_b64 - the companion "<key>_b64" of a bytes field must be valid, bounded base64 */
static int
check_b64(json_t *ev, const char *key, char *why, size_t whylen)
{
	char k2[STORE_KEY_MAX + 8];
	unsigned char *tmp = NULL;
	json_t *v;
	int rc = -1;

	v = json_object_get(ev, b64_key(key, k2));
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) > B64_MAX) {
		snprintf(why, whylen, "%s: not a bounded base64 string", k2);
		goto out;
	}
	tmp = malloc(STORE_FIELD_MAX);
	if (tmp == NULL) {
		snprintf(why, whylen, "%s: out of memory", k2);
		goto out;
	}
	if (b64_decode(json_string_value(v), json_string_length(v), tmp, STORE_FIELD_MAX) < 0) {
		snprintf(why, whylen, "%s: invalid base64", k2);
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	return rc;
}

/* check_fields - every listed field present when required and of the right type and size */
static int
check_fields(json_t *ev, const struct field *f, bool b64, char *why, size_t whylen)
{
	const char *k;
	json_t *v, *it;
	size_t i;

	for (; f->key != NULL; f++) {
		v = json_object_get(ev, f->key);
		if (v == NULL || json_is_null(v)) {
			if (f->required) {
				snprintf(why, whylen, "missing field %s", f->key);
				return -1;
			}
			continue;
		}
		switch (f->type) {
		case FT_STR:
		case FT_BYTES:
			if (!json_is_string(v))
				goto wrong_type;
			if (json_string_length(v) > STORE_FIELD_MAX)
				goto too_big;
			if (b64 && f->type == FT_BYTES && check_b64(ev, f->key, why, whylen) < 0)
				return -1;
			break;
		case FT_INT:
			if (!json_is_integer(v))
				goto wrong_type;
			break;
		case FT_NUM:
			if (!json_is_number(v))
				goto wrong_type;
			break;
		case FT_ARR:
			if (!json_is_array(v))
				goto wrong_type;
			if (json_array_size(v) > STORE_OBJECT_MAX)
				goto too_big;
			break;
		case FT_OBJ:
			if (!json_is_object(v))
				goto wrong_type;
			if (json_object_size(v) > STORE_OBJECT_MAX)
				goto too_big;
			break;
		case FT_BOOL:
			if (!json_is_boolean(v))
				goto wrong_type;
			break;
		case FT_STRARR:
			if (!json_is_array(v))
				goto wrong_type;
			if (json_array_size(v) > STORE_ARRAY_MAX)
				goto too_big;
			json_array_foreach(v, i, it)
			{
				if (!json_is_string(it))
					goto wrong_type;
				if (json_string_length(it) > STORE_FIELD_MAX)
					goto too_big;
			}
			break;
		case FT_STROBJ:
			if (!json_is_object(v))
				goto wrong_type;
			if (json_object_size(v) > STORE_OBJECT_MAX)
				goto too_big;
			json_object_foreach(v, k, it)
			{
				if (!json_is_string(it))
					goto wrong_type;
				if (strlen(k) > STORE_KEY_MAX ||
				    json_string_length(it) > STORE_FIELD_MAX)
					goto too_big;
			}
			break;
		}
	}
	return 0;
wrong_type:
	snprintf(why, whylen, "field %s has the wrong type", f->key);
	return -1;
too_big:
	snprintf(why, whylen, "field %s is too large", f->key);
	return -1;
}

/* session_valid - 1..32 lower-case hex characters, as in BODY frames */
static bool
session_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 32)
		return false;
	for (i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

static int enrich_data(json_t *ev, bool top, char **full, char **stable);

/* The members every event has (and kind), left out of an enrichment result as stored. */
static const char *const enrich_common[] = {"timestamp", "eventid",  "session", "sensor",
                                            "src_ip",    "src_port", "dst_ip",  "dst_port",
                                            "persona",   "listener", "kind"};

static bool
is_common(const char *key)
{
	for (size_t k = 0; k < ARRAY_LEN(enrich_common); k++)
		if (key[0] == enrich_common[k][0] && strcmp(key, enrich_common[k]) == 0)
			return true;
	return false;
}

/* ev_parts - the part kinds of enrich event ev (kind_parts): 0 unless its kind is "session" or
 * "dns" */
static unsigned
ev_parts(json_t *ev)
{
	const char *kind = json_string_value(json_object_get(ev, "kind"));

	if (kind == NULL)
		return 0;
	if (strcmp(kind, "session") == 0)
		return ALL_PARTS;
	return strcmp(kind, "dns") == 0 ? DNS_PARTS : 0;
}

/* ev_part - the part of kind k (an enrich_kinds index below STORE_DB_PARTS) of event ev, or
 * NULL */
static json_t *
ev_part(json_t *ev, size_t k)
{
	json_t *p = json_object_get(ev, enrich_kinds[k]);

	return json_is_object(p) ? p : NULL;
}

static int parts_data(json_t *ev, unsigned kinds, char **full, char *stable[STORE_DB_PARTS]);

/* check_parts - the parts (kinds) of an event, each checked like an enrich event of its kind */
static int
check_parts(json_t *ev, unsigned kinds, char *why, size_t whylen)
{
	char inner[200];
	json_t *p;

	for (size_t k = 0; k < STORE_DB_PARTS; k++) {
		if (!(kinds & (1u << k)) || (p = ev_part(ev, k)) == NULL)
			continue;
		if (check_fields(p,
		                 k == K_GEO  ? f_part_geo
		                 : k == K_OS ? f_part_os
		                             : f_enrich_part,
		                 has_b64(p), inner, sizeof(inner)) < 0) {
			snprintf(why, whylen, "%s part: %s", enrich_kinds[k], inner);
			return -1;
		}
	}
	return 0;
}

/* prepare - the apply's lookups and the enrich result's serialisation, done at check time
 * (store_db_ev); what cannot be prepared is left to store_db_apply */
static void
prepare(json_t *ev, struct store_db_ev *out)
{
	const struct evdef *def = out->def;
	const struct bind *b;
	size_t k, i;

	if (def->stmts[0].id == ST_ENRICH) {
		/* on failure (out of memory) apply computes it all again */
		unsigned kinds = ev_parts(ev);

		if (kinds != 0 ? parts_data(ev, kinds, &out->enr_full, out->enr_parts) < 0
		               : enrich_data(ev, true, &out->enr_full, &out->enr_stable) < 0)
			out->enr_full = out->enr_stable = NULL;
		return;
	}
	if (def->stmts[0].id == ST_MESSAGE)
		return; /* the store adds members to it after the check */
	for (k = 0; k < ARRAY_LEN(def->stmts) && def->stmts[k].id != ST__COUNT; k++) {
		for (b = def->stmts[k].binds, i = 0; b->kind != B_END; b++, i++) {
			if (i >= STORE_DB_BINDS)
				return;
			out->vals[k][i] = b->kind == B_FIELD || b->kind == B_ARRLEN
			                      ? json_object_get(ev, b->key)
			                      : NULL;
		}
	}
	out->vals_ok = true;
}

/* store_db_check - validate an event strictly before it may touch the database */
int
store_db_check(json_t *ev, struct store_db_ev *out, char *why, size_t whylen)
{
	const struct evdef *def;
	json_t *ts, *sid;
	unsigned kinds;

	out->vals_ok = false;
	out->enr_full = out->enr_stable = NULL;
	memset(out->enr_parts, 0, sizeof(out->enr_parts));
	/* what follows looks up "<key>_b64" for every bytes field only when the event has one */

	if (!json_is_object(ev)) {
		snprintf(why, whylen, "not a JSON object");
		return -1;
	}
	out->b64 = has_b64(ev);
	if (check_fields(ev, f_common, out->b64, why, whylen) < 0)
		return -1;
	sid = json_object_get(ev, "session");
	if (!session_valid(json_string_value(sid), json_string_length(sid))) {
		snprintf(why, whylen, "session is not 1-32 lower-case hex digits");
		return -1;
	}
	ts = json_object_get(ev, "timestamp");
	if (store_db_time_parse(json_string_value(ts), json_string_length(ts), &out->time_us) < 0) {
		snprintf(why, whylen, "timestamp is not RFC 3339");
		return -1;
	}
	fmt_rfc3339((uint64_t)out->time_us, out->time, sizeof(out->time));
	out->eventid = json_string_value(json_object_get(ev, "eventid"));
	out->session = json_string_value(sid);
	def = find_def(out->eventid);
	if (def != NULL && def->fields == f_enrich && (kinds = ev_parts(ev)) != 0) {
		if (check_fields(ev, kinds == DNS_PARTS ? f_enrich_dns : f_enrich_session, out->b64,
		                 why, whylen) < 0 ||
		    check_parts(ev, kinds, why, whylen) < 0)
			return -1;
	} else if (def != NULL && check_fields(ev, def->fields, out->b64, why, whylen) < 0) {
		return -1;
	}
	out->def = def;
	if (def != NULL)
		prepare(ev, out);
	return 0;
}

void
store_db_ev_clear(struct store_db_ev *ev)
{
	if (ev->enr_stable != ev->enr_full)
		free(ev->enr_stable);
	free(ev->enr_full);
	ev->enr_full = ev->enr_stable = NULL;
	for (size_t i = 0; i < STORE_DB_PARTS; i++) {
		free(ev->enr_parts[i]);
		ev->enr_parts[i] = NULL;
	}
	ev->vals_ok = false;
}

/* struct dbuf - a growing text buffer for jdump; on allocation failure it stays failed */
struct dbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

/* dbuf_room - room for n more bytes and a NUL; false (and failed) when there is none */
static bool
dbuf_room(struct dbuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->failed)
		return false;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap > 0 ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->failed = true;
			return false;
		}
		b->p = p;
		b->cap = cap;
	}
	return true;
}

/* dbuf_put - append n bytes */
static void
dbuf_put(struct dbuf *b, const char *s, size_t n)
{
	if (!dbuf_room(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* jdump_str - a JSON string exactly as jansson's dump_string writes it without
 * JSON_ENSURE_ASCII: '"', '\' and the C0 controls escaped (\u with upper-case hex), every other
 * byte as it is. jansson strings are valid UTF-8, so no other byte can need escaping. */
static void
jdump_str(struct dbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *run = s, *end = s + n;
	size_t plain = json_plain_span(s, n);
	char seq[8];
	unsigned char c;

	if (plain == n) { /* most strings: quoted as they are, with one check for room */
		if (!dbuf_room(b, n + 2))
			return;
		b->p[b->len] = '"';
		memcpy(b->p + b->len + 1, s, n);
		b->len += n + 2;
		b->p[b->len - 1] = '"';
		b->p[b->len] = '\0';
		return;
	}
	dbuf_put(b, "\"", 1);
	for (s += plain; s < end; s++) {
		c = (unsigned char)*s;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		dbuf_put(b, run, (size_t)(s - run));
		run = s + 1;
		switch (c) {
		case '"':
			dbuf_put(b, "\\\"", 2);
			break;
		case '\\':
			dbuf_put(b, "\\\\", 2);
			break;
		case '\b':
			dbuf_put(b, "\\b", 2);
			break;
		case '\f':
			dbuf_put(b, "\\f", 2);
			break;
		case '\n':
			dbuf_put(b, "\\n", 2);
			break;
		case '\r':
			dbuf_put(b, "\\r", 2);
			break;
		case '\t':
			dbuf_put(b, "\\t", 2);
			break;
		default:
			memcpy(seq, "\\u00", 4);
			seq[4] = hex[c >> 4];
			seq[5] = hex[c & 15];
			dbuf_put(b, seq, 6);
			break;
		}
	}
	dbuf_put(b, run, (size_t)(end - run));
	dbuf_put(b, "\"", 1);
}

/* The text of the reals written last, by their bits: the reals of enrichment results are
 * coordinates, and a honeypot's sources share a few cities', session after session; a real
 * costs snprintf ~1,700 instructions. Per thread (import checks events on several). */
#define REAL_CACHE 64
struct real_text {
	uint64_t bits;
	unsigned char len; /* 0: empty */
	char s[31];
};
static _Thread_local struct real_text real_cache[REAL_CACHE];
_Static_assert(REAL_CACHE == 64, "jdump_real indexes real_cache by 6 bits");

/* jdump_real - a real as jansson writes it: %.17g, ".0" added when it would read back as an
 * integer, a positive exponent without '+' and leading zeros */
static void
jdump_real(struct dbuf *b, double v)
{
	char buf[64], *e, *from;
	struct real_text *c;
	uint64_t bits;
	size_t len;
	int n;

	memcpy(&bits, &v, sizeof(bits));
	c = &real_cache[(bits * 0x9e3779b97f4a7c15u) >> 58]; /* the top 6 bits */
	if (c->len != 0 && c->bits == bits) {
		dbuf_put(b, c->s, c->len);
		return;
	}
	n = snprintf(buf, sizeof(buf) - 3, "%.17g", v);
	if (n < 0 || (size_t)n >= sizeof(buf) - 3) {
		b->failed = true;
		return;
	}
	len = (size_t)n;
	/* jansson turns a locale's decimal comma back into a point; relaytrap runs in "C". */
	if (strchr(buf, '.') == NULL && strchr(buf, 'e') == NULL) {
		memcpy(buf + len, ".0", 3);
		len += 2;
	}
	e = strchr(buf, 'e');
	if (e != NULL) {
		e++;
		from = e + 1;
		if (*e == '-')
			e++;
		while (*from == '0')
			from++;
		if (from != e) {
			memmove(e, from, len - (size_t)(from - buf) + 1);
			len -= (size_t)(from - e);
		}
	}
	if (len < sizeof(c->s)) {
		c->bits = bits;
		c->len = (unsigned char)len;
		memcpy(c->s, buf, len);
	}
	dbuf_put(b, buf, len);
}

/* struct jkey - one member of an object, for sorting */
struct jkey {
	const char *key;
	json_t *v;
};

/* jkey_cmp - keys in byte order, as JSON_SORT_KEYS sorts them (keys hold no NUL) */
static int
jkey_cmp(const void *a, const void *b)
{
	return strcmp(((const struct jkey *)a)->key, ((const struct jkey *)b)->key);
}

/* jkeys_sort - sort n members by key: by insertion when they are few (an enrichment part has
 * 3-12; qsort's merge sort and its calls through a pointer cost four times as much), else
 * qsort */
static void
jkeys_sort(struct jkey *ks, size_t n)
{
	struct jkey t;
	size_t i, j;

	if (n > 16) {
		qsort(ks, n, sizeof(*ks), jkey_cmp);
		return;
	}
	for (i = 1; i < n; i++) {
		t = ks[i];
		for (j = i; j > 0 && strcmp(ks[j - 1].key, t.key) > 0; j--)
			ks[j] = ks[j - 1];
		ks[j] = t;
	}
}

static void jdump(struct dbuf *b, json_t *v, bool sort, int depth);

/* jdump_obj - an object's members, sorted by key or in insertion order */
static void
jdump_obj(struct dbuf *b, json_t *v, bool sort, int depth)
{
	struct jkey small[32], *ks = small;
	size_t n = json_object_size(v), i = 0;
	const char *k;
	json_t *m;

	dbuf_put(b, "{", 1);
	if (sort && n > 1) {
		if (n > ARRAY_LEN(small) && (ks = malloc(n * sizeof(*ks))) == NULL) {
			b->failed = true;
			return;
		}
		json_object_foreach(v, k, m)
		{
			if (i < n) {
				ks[i].key = k;
				ks[i].v = m;
				i++;
			}
		}
		jkeys_sort(ks, i);
		for (n = i, i = 0; i < n; i++) {
			if (i > 0)
				dbuf_put(b, ",", 1);
			jdump_str(b, ks[i].key, strlen(ks[i].key));
			dbuf_put(b, ":", 1);
			jdump(b, ks[i].v, sort, depth + 1);
		}
		if (ks != small)
			free(ks);
	} else {
		json_object_foreach(v, k, m)
		{
			if (i++ > 0)
				dbuf_put(b, ",", 1);
			jdump_str(b, k, strlen(k));
			dbuf_put(b, ":", 1);
			jdump(b, m, sort, depth + 1);
		}
	}
	dbuf_put(b, "}", 1);
}

/* jdump - compact JSON of v, byte for byte what json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY
 * [| JSON_SORT_KEYS]) writes, without its callback per piece and copies. bind_field and the
 * enrich apply run it for every array, object and enrichment result. */
static void
jdump(struct dbuf *b, json_t *v, bool sort, int depth)
{
	char num[FMT_INT_MAX];
	size_t i;

	/* jansson refuses deeper input when parsing; this only guards the recursion. */
	if (depth > 2048) {
		b->failed = true;
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		jdump_obj(b, v, sort, depth);
		break;
	case JSON_ARRAY:
		dbuf_put(b, "[", 1);
		for (i = 0; i < json_array_size(v); i++) {
			if (i > 0)
				dbuf_put(b, ",", 1);
			jdump(b, json_array_get(v, i), sort, depth + 1);
		}
		dbuf_put(b, "]", 1);
		break;
	case JSON_STRING:
		jdump_str(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER: {
		char *at = fmt_int_r(num, json_integer_value(v));
		dbuf_put(b, at, (size_t)(num + sizeof(num) - at));
		break;
	}
	case JSON_REAL:
		jdump_real(b, json_real_value(v));
		break;
	case JSON_TRUE:
		dbuf_put(b, "true", 4);
		break;
	case JSON_FALSE:
		dbuf_put(b, "false", 5);
		break;
	case JSON_NULL:
		dbuf_put(b, "null", 4);
		break;
	}
}

/* jdump_alloc - jdump into a new heap string for sqlite3_bind_text(..., free); NULL when out of
 * memory */
static char *
jdump_alloc(json_t *v, bool sort)
{
	struct dbuf b = {NULL, 0, 0, false};

	jdump(&b, v, sort, 0);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* bind_value - bind v, the event's member key, by its JSON type; absent or null binds NULL */
static int
bind_value(struct store_db *db, sqlite3_stmt *st, int i, json_t *ev, const char *key, json_t *v)
{
	char k2[STORE_KEY_MAX + 8];
	json_t *b;
	char *txt;
	long n;

	if (v == NULL || json_is_null(v))
		return sqlite3_bind_null(st, i);
	if (json_is_string(v)) {
		/* Exact attacker bytes win over the U+FFFD rendering when they were not UTF-8. */
		b = db->b64 ? json_object_get(ev, b64_key(key, k2)) : NULL;
		if (json_is_string(b)) {
			n = b64_decode(json_string_value(b), json_string_length(b), db->scratch,
			               STORE_FIELD_MAX);
			if (n >= 0)
				return sqlite3_bind_blob(st, i, db->scratch, (int)n,
				                         SQLITE_TRANSIENT);
		}
		return sqlite3_bind_text(st, i, json_string_value(v), (int)json_string_length(v),
		                         SQLITE_STATIC);
	}
	if (json_is_integer(v))
		return sqlite3_bind_int64(st, i, (sqlite3_int64)json_integer_value(v));
	if (json_is_real(v))
		return sqlite3_bind_double(st, i, json_real_value(v));
	if (json_is_boolean(v))
		return sqlite3_bind_int(st, i, json_is_true(v));
	if (json_is_array(v) || json_is_object(v)) {
		txt = jdump_alloc(v, false);
		if (txt == NULL)
			return SQLITE_NOMEM;
		return sqlite3_bind_text(st, i, txt, -1, free);
	}
	return sqlite3_bind_null(st, i);
}

/* bind_field - bind_value of the member key */
static int
bind_field(struct store_db *db, sqlite3_stmt *st, int i, json_t *ev, const char *key)
{
	return bind_value(db, st, i, ev, key, json_object_get(ev, key));
}

/* bind_cmdflags - the boolean command attributes as one comma-separated text */
static int
bind_cmdflags(sqlite3_stmt *st, int i, json_t *ev)
{
	static const char *const names[] = {"truncated", "bare_lf", "auth"};
	char buf[64];
	size_t k, len = 0;

	buf[0] = '\0';
	for (k = 0; k < ARRAY_LEN(names); k++) {
		if (!json_is_true(json_object_get(ev, names[k])))
			continue;
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", len ? "," : "",
		                        names[k]);
	}
	return sqlite3_bind_text(st, i, buf, (int)len, SQLITE_TRANSIENT);
}

/* note_rc - remember an error that is about the disk or the database, not about the event: the
 * store must not acknowledge a batch after one */
static void
note_rc(struct store_db *db, int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL:
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_NOMEM:
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_READONLY:
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_PROTOCOL:
		db->failed = true;
		break;
	default:
		break;
	}
}

/* run_stmt - bind one statement from its list, step it, and reset it for the next event */
static int
run_stmt(struct store_db *db, const struct evstmt *es, json_t *const *vals, json_t *ev,
         const struct store_db_ev *info)
{
	sqlite3_stmt *st = db->st[es->id];
	const struct bind *b;
	json_t *arr;
	int i, rc = SQLITE_OK;

	for (b = es->binds, i = 1; b->kind != B_END && rc == SQLITE_OK; b++, i++) {
		switch (b->kind) {
		case B_SESSION:
			rc = sqlite3_bind_text(st, i, info->session, -1, SQLITE_STATIC);
			break;
		case B_TIME:
			rc = sqlite3_bind_text(st, i, info->time, -1, SQLITE_STATIC);
			break;
		case B_TIMEUS:
			rc = sqlite3_bind_int64(st, i, info->time_us);
			break;
		case B_FIELD:
			rc = vals != NULL ? bind_value(db, st, i, ev, b->key, vals[i - 1])
			                  : bind_field(db, st, i, ev, b->key);
			break;
		case B_CMDFLAGS:
			rc = bind_cmdflags(st, i, ev);
			break;
		case B_ARRLEN:
			arr = vals != NULL ? vals[i - 1] : json_object_get(ev, b->key);
			rc = json_is_array(arr)
			         ? sqlite3_bind_int64(st, i, (sqlite3_int64)json_array_size(arr))
			         : sqlite3_bind_null(st, i);
			break;
		case B_END:
			break;
		}
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		note_rc(db, rc);
		log_err("store: sqlite %s failed: %s", info->eventid, sqlite3_errmsg(db->db));
		return -1;
	}
	return 0;
}

/* step_simple - run a parameterless statement (BEGIN, COMMIT, ROLLBACK) */
static int
step_simple(struct store_db *db, enum stmt_id id)
{
	int rc = sqlite3_step(db->st[id]);

	sqlite3_reset(db->st[id]);
	if (rc != SQLITE_DONE) {
		note_rc(db, rc);
		log_err("store: sqlite %s failed: %s", stmt_sql[id], sqlite3_errmsg(db->db));
		return -1;
	}
	return 0;
}

/* enrich_value - bind column c of a kind's result: the named field, or the computed ones */
static int
enrich_value(struct store_db *db, sqlite3_stmt *st, int i, json_t *ev, const struct ecol *c)
{
	const char *name, *flavor, *zone, *status;
	char os[256];
	json_t *arr, *it, *zones;
	char *txt;
	size_t k;

	if (c->field != NULL)
		return bind_field(db, st, i, ev, c->field);
	if (strcmp(c->col, "os") == 0) {
		name = json_string_value(json_object_get(ev, "os_name"));
		flavor = json_string_value(json_object_get(ev, "os_flavor"));
		if (name == NULL)
			return sqlite3_bind_null(st, i);
		snprintf(os, sizeof(os), "%s%s%s", name, flavor && *flavor ? " " : "",
		         flavor ? flavor : "");
		return sqlite3_bind_text(st, i, os, -1, SQLITE_TRANSIENT);
	}
	/* dnsbl: the zones that listed the address, as a JSON array */
	arr = json_object_get(ev, "lists");
	if (!json_is_array(arr))
		return sqlite3_bind_null(st, i);
	zones = json_array();
	json_array_foreach(arr, k, it)
	{
		zone = json_string_value(json_object_get(it, "zone"));
		status = json_string_value(json_object_get(it, "status"));
		if (zone != NULL && status != NULL && strcmp(status, "listed") == 0)
			json_array_append_new(zones, json_string(zone));
	}
	txt = jdump_alloc(zones, false);
	json_decref(zones);
	if (txt == NULL)
		return SQLITE_NOMEM;
	return sqlite3_bind_text(st, i, txt, -1, free);
}

/* step_reset - step a bound statement, reset it; 0 or -1 (logged) */
static int
step_reset(struct store_db *db, sqlite3_stmt *st, int rc, const char *what)
{
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		note_rc(db, rc);
		log_err("store: sqlite %s failed: %s", what, sqlite3_errmsg(db->db));
		return -1;
	}
	return 0;
}

/* enrich_data - the enrichment result as stored: the event without its common fields, compact
 * with sorted keys (*full), and the same without the keys that differ between two identical
 * lookups (*stable, the history's change test; == *full when the event has none); either
 * pointer may be NULL when that form is not wanted. top: ev is an event (its common members are
 * left out), else a part of one (all of it). One pass over the members instead of a copy of
 * the event and two json_dumps. 0, or -1 out of memory. */
static int
enrich_data(json_t *ev, bool top, char **full, char **stable)
{
	/* what differs between two lookups with the same result: the DNS lookup's time and
	 * source, and the raw SYN beside an os result (its IP ID or flow label changes with every
	 * connection; os_sig holds the fingerprint's shape) */
	static const char *const volatile_keys[] = {"lookup_us", "lookup_time", "cached", "syn"};
	struct dbuf f = {NULL, 0, 0, false}, st = {NULL, 0, 0, false};
	struct jkey small[64], *ks = small;
	size_t n = json_object_size(ev), i = 0, k, nk, at = 0;
	bool skip, vol, any_vol = false;
	const char *key;
	json_t *v;

	if (n > ARRAY_LEN(small) && (ks = malloc(n * sizeof(*ks))) == NULL)
		return -1;
	json_object_foreach(ev, key, v)
	{
		skip = top && is_common(key);
		if (!skip && i < n) {
			ks[i].key = key;
			ks[i].v = v;
			i++;
		}
	}
	nk = i;
	jkeys_sort(ks, nk);
	dbuf_put(&f, "{", 1);
	dbuf_put(&st, "{", 1);
	for (i = 0; i < nk; i++) {
		for (k = 0, vol = false; k < ARRAY_LEN(volatile_keys) && !vol; k++)
			vol = ks[i].key[0] == volatile_keys[k][0] &&
			      strcmp(ks[i].key, volatile_keys[k]) == 0;
		any_vol |= vol;
		if (full != NULL) {
			if (f.len > 1)
				dbuf_put(&f, ",", 1);
			at = f.len;
			jdump_str(&f, ks[i].key, strlen(ks[i].key));
			dbuf_put(&f, ":", 1);
			jdump(&f, ks[i].v, true, 1);
		}
		if (vol || stable == NULL)
			continue;
		if (st.len > 1)
			dbuf_put(&st, ",", 1);
		if (full != NULL && !f.failed) {
			dbuf_put(&st, f.p + at, f.len - at); /* the member as just written */
			continue;
		}
		jdump_str(&st, ks[i].key, strlen(ks[i].key));
		dbuf_put(&st, ":", 1);
		jdump(&st, ks[i].v, true, 1);
	}
	dbuf_put(&f, "}", 1);
	dbuf_put(&st, "}", 1);
	if (ks != small)
		free(ks);
	if (f.failed || st.failed) {
		free(f.p);
		free(st.p);
		return -1;
	}
	if (full == NULL || stable == NULL) {
		if (full != NULL)
			*full = f.p;
		else
			free(f.p);
		if (stable != NULL)
			*stable = st.p;
		else
			free(st.p);
		return 0;
	}
	*full = f.p;
	if (any_vol) {
		*stable = st.p;
	} else {
		*stable = f.p;
		free(st.p);
	}
	return 0;
}

/* parts_data - the stored form (*full) of an event whose parts are of kinds, and each part's
 * change-test form by kind (NULL: no such part), each part serialised once: *full is composed
 * of the parts' full forms, byte for byte what enrich_data writes for the whole event. An event
 * with members other than the common ones and its parts is serialised whole. 0, or -1 out of
 * memory (then nothing is allocated). */
static int
parts_data(json_t *ev, unsigned kinds, char **full, char *stable[STORE_DB_PARTS])
{
	/* the part kinds by name, as sorted keys come */
	static const size_t sorted[] = {K_DNSBL, K_GEO, 4 /* helo */, K_OS, 3 /* rdns */};
	char *pf[STORE_DB_PARTS] = {NULL};
	struct dbuf f = {NULL, 0, 0, false};
	bool other = false;
	const char *key, *name;
	json_t *v, *p;
	size_t i, k;

	json_object_foreach(ev, key, v)
	{
		if (is_common(key))
			continue;
		for (i = 0; i < STORE_DB_PARTS && strcmp(key, enrich_kinds[i]) != 0; i++)
			;
		other |= i == STORE_DB_PARTS || !(kinds & (1u << i)) || !json_is_object(v);
	}
	for (i = 0; i < STORE_DB_PARTS; i++) {
		stable[i] = NULL;
		if ((kinds & (1u << i)) && (p = ev_part(ev, i)) != NULL &&
		    enrich_data(p, false, &pf[i], &stable[i]) < 0)
			goto fail;
	}
	if (other) {
		if (enrich_data(ev, true, full, NULL) < 0)
			goto fail;
	} else {
		dbuf_put(&f, "{", 1);
		for (k = 0; k < ARRAY_LEN(sorted); k++) {
			if (pf[i = sorted[k]] == NULL)
				continue;
			name = enrich_kinds[i];
			if (f.len > 1)
				dbuf_put(&f, ",", 1);
			dbuf_put(&f, "\"", 1);
			dbuf_put(&f, name, strlen(name));
			dbuf_put(&f, "\":", 2);
			dbuf_put(&f, pf[i], strlen(pf[i]));
		}
		dbuf_put(&f, "}", 1);
		if (f.failed)
			goto fail;
		*full = f.p;
	}
	for (i = 0; i < STORE_DB_PARTS; i++)
		if (pf[i] != stable[i])
			free(pf[i]);
	return 0;
fail:
	free(f.p);
	for (i = 0; i < STORE_DB_PARTS; i++) {
		if (pf[i] != stable[i])
			free(pf[i]);
		free(stable[i]);
		stable[i] = NULL;
	}
	return -1;
}

/* hist_slot_of - the cache slot for (ip, kind), or NULL when it cannot be cached */
static struct hist_slot *
hist_slot_of(struct store_db *db, const char *ip, const char *kind, char *key, size_t *klen)
{
	size_t il = strlen(ip), kl = strlen(kind), i;
	uint32_t h = 2166136261u;

	if (db->hist == NULL || il + 1 + kl > HIST_KEY_MAX)
		return NULL;
	memcpy(key, ip, il + 1);
	memcpy(key + il + 1, kind, kl);
	*klen = il + 1 + kl;
	for (i = 0; i < *klen; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	return &db->hist[h % HIST_SLOTS];
}

/* hist_fit - make sl's block hold need bytes (kept when large enough, else exchanged for a
 * new one); false (the slot emptied) when the pool has none */
static bool
hist_fit(struct store_db *db, struct hist_slot *sl, size_t need)
{
	size_t cap;
	char *nb;

	if (sl->buf != NULL && sl->cap >= need)
		return true;
	sl->gen = 0;
	pool_put(db->hist_pool, sl->buf, sl->cap);
	sl->buf = NULL;
	sl->cap = 0;
	if ((nb = pool_get(db->hist_pool, need, &cap)) == NULL)
		return false;
	sl->buf = nb;
	sl->cap = (uint16_t)cap;
	return true;
}

/* hist_bind - bind ip, kind, time, time_us, data (1-5) as the history inserts take them */
static int
hist_bind(sqlite3_stmt *st, const char *ip, const char *kind, const struct store_db_ev *info,
          const char *data)
{
	int brc = sqlite3_bind_text(st, 1, ip, -1, SQLITE_STATIC);

	if (brc == SQLITE_OK)
		brc = sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	if (brc == SQLITE_OK)
		brc = sqlite3_bind_text(st, 3, info->time, -1, SQLITE_STATIC);
	if (brc == SQLITE_OK)
		brc = sqlite3_bind_int64(st, 4, info->time_us);
	if (brc == SQLITE_OK)
		brc = sqlite3_bind_text(st, 5, data, -1, SQLITE_STATIC);
	return brc;
}

/* history - an ip_intel_history row for (ip, kind) when data differs from the latest row at
 * or before the result's time; 1 when it is the same as the latest row, 0 when it is not (a
 * row added, or an older result compared in SQL), -1 on error (logged). See struct hist_slot
 * for the cache. */
static int
history(struct store_db *db, const char *ip, const char *kind, const struct store_db_ev *info,
        const char *data)
{
	char key[HIST_KEY_MAX];
	size_t klen = 0, dlen = strlen(data);
	struct hist_slot *sl;
	sqlite3_stmt *st;
	const void *latest;
	bool known, same = false;
	int rc;

	if (ip == NULL || kind == NULL)
		return 0;
	sl = dlen <= HIST_DATA_MAX ? hist_slot_of(db, ip, kind, key, &klen) : NULL;
	known = sl != NULL && sl->gen == db->hist_gen && sl->klen == klen &&
	        memcmp(sl->buf, key, klen) == 0 && info->time_us >= sl->t;
	if (known && sl->dlen == dlen && memcmp(sl->buf + klen, data, dlen) == 0)
		return 1; /* the same as the latest row */
	if (!known) {
		st = db->st[ST_HISTORY_LATEST];
		rc = sqlite3_bind_text(st, 1, ip, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(st);
		if (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) > info->time_us) {
			/* older than the latest row: compare with the one before it, in SQL */
			sqlite3_reset(st);
			st = db->st[ST_ENRICH_HISTORY];
			return step_reset(db, st, hist_bind(st, ip, kind, info, data),
			                  "enrich history") < 0
			           ? -1
			           : 0;
		}
		if (rc == SQLITE_ROW) {
			latest = sqlite3_column_blob(st, 1);
			same = latest != NULL && (size_t)sqlite3_column_bytes(st, 1) == dlen &&
			       memcmp(latest, data, dlen) == 0;
		}
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			note_rc(db, rc);
			log_err("store: sqlite history lookup failed: %s", sqlite3_errmsg(db->db));
			sqlite3_reset(st);
			return -1;
		}
		sqlite3_reset(st);
	}
	if (!same) {
		st = db->st[ST_HISTORY_INSERT];
		if (step_reset(db, st, hist_bind(st, ip, kind, info, data), "enrich history") < 0)
			return -1;
		if (sqlite3_changes(db->db) == 0) {
			/* a row at this very time with other data: nothing to remember */
			if (sl != NULL)
				sl->gen = 0;
			return 0;
		}
	}
	/* no row after this time exists: the latest at or before any later time is data */
	if (sl == NULL || !hist_fit(db, sl, klen + dlen))
		return same ? 1 : 0;
	sl->gen = db->hist_gen;
	sl->t = info->time_us;
	sl->klen = (uint16_t)klen;
	memcpy(sl->buf, key, klen);
	sl->dlen = (uint16_t)dlen;
	memcpy(sl->buf + klen, data, dlen);
	return same ? 1 : 0;
}

/* apply_enrich - one relaytrap.enrich event: the enrichments row, history when the result
 * changed, and the columns of sessions and ip_intel it fills. A session (or dns) event is its
 * parts: one enrichments row for the whole, history per part, one UPDATE per table for all of
 * them. */
static int
apply_enrich(struct store_db *db, json_t *ev, const struct store_db_ev *info)
{
	const char *kind = json_string_value(json_object_get(ev, "kind"));
	const char *ip = json_string_value(json_object_get(ev, "src_ip"));
	char *full = NULL, *stable = NULL, *parts[STORE_DB_PARTS] = {NULL};
	const bool prepared = info->enr_full != NULL;
	json_t *src[ENRICH_KINDS] = {NULL}; /* each kind's result: the event, or a part */
	unsigned ip_upd = 0;                /* kinds whose ip_intel columns take their values */
	unsigned kinds;                     /* the part kinds of a session or dns event */
	sqlite3_stmt *st;
	size_t k, j, p;
	int rc = 0, brc, i, pass, hrc;

	for (k = 0; k < ENRICH_KINDS && strcmp(enrich_kinds[k], kind) != 0; k++)
		;
	kinds = k < ENRICH_KINDS ? kind_parts(k) : 0;
	if (prepared) {
		full = info->enr_full; /* prepared at check time, the caller's */
		stable = info->enr_stable;
		memcpy(parts, info->enr_parts, sizeof(parts));
	} else if (kinds != 0 ? parts_data(ev, kinds, &full, parts) < 0
	                      : enrich_data(ev, true, &full, &stable) < 0) {
		goto fail;
	}

	st = db->st[ST_ENRICH];
	brc = sqlite3_bind_text(st, 1, info->session, -1, SQLITE_STATIC);
	if (brc == SQLITE_OK)
		brc = bind_field(db, st, 2, ev, "src_ip");
	if (brc == SQLITE_OK)
		brc = sqlite3_bind_text(st, 3, info->time, -1, SQLITE_STATIC);
	if (brc == SQLITE_OK)
		brc = sqlite3_bind_int64(st, 4, info->time_us);
	if (brc == SQLITE_OK)
		brc = sqlite3_bind_text(st, 5, kind, -1, SQLITE_STATIC);
	if (brc == SQLITE_OK)
		brc = sqlite3_bind_text(st, 6, full, -1, SQLITE_STATIC);
	rc |= step_reset(db, st, brc, "enrich");

	/* history per result; ip_intel is left alone by a result without columns there (helo:
	 * a session's name, not the address's) and by one that repeats the address's latest
	 * result when it is an answer from the engine's DNS cache or from a local source (geo:
	 * the GeoIP files; os: the SYN): its columns hold it already, and enriched_at stays the
	 * time they last took news or a DNS lookup made on the network */
	if (kinds != 0) {
		for (p = 0; p < STORE_DB_PARTS; p++) {
			json_t *part = (kinds & (1u << p)) ? ev_part(ev, p) : NULL;
			if (part == NULL || parts[p] == NULL)
				continue;
			src[p] = part;
			hrc = history(db, ip, enrich_kinds[p], info, parts[p]);
			if (hrc < 0)
				rc = -1;
			if (!(hrc == 1 && (p == K_GEO || p == K_OS ||
			                   json_is_true(json_object_get(part, "cached")))))
				ip_upd |= 1u << p;
		}
	} else {
		if (k < ENRICH_KINDS)
			src[k] = ev;
		hrc = history(db, ip, kind, info, stable);
		if (hrc < 0)
			rc = -1;
		if (!(hrc == 1 &&
		      (k == K_GEO || k == K_OS || json_is_true(json_object_get(ev, "cached")))) &&
		    k < ENRICH_KINDS)
			ip_upd |= 1u << k;
	}

	/* sessions: ?1 session, ?2 src_ip, then one per column (NULL for other kinds); the
	 * kind's UPDATE first, the upsert when it found no row (or one without its src_ip) */
	for (pass = k < ENRICH_KINDS && db->enr_sess[k] != NULL ? 0 : 1; pass < 2; pass++) {
		st = pass == 0 ? db->enr_sess[k] : db->st[ST_ENRICH_SESS];
		brc = sqlite3_bind_text(st, 1, info->session, -1, SQLITE_STATIC);
		if (brc == SQLITE_OK)
			brc = bind_field(db, st, 2, ev, "src_ip");
		for (j = 0, i = 3; j < ARRAY_LEN(sess_cols) && brc == SQLITE_OK; j++, i++) {
			if (src[db->sess_kind[j]] != NULL)
				brc = enrich_value(db, st, i, src[db->sess_kind[j]], &sess_cols[j]);
		}
		if (step_reset(db, st, brc, "enrich sessions") < 0) {
			rc = -1;
			break;
		}
		if (pass == 0 && sqlite3_changes(db->db) > 0)
			break;
	}

	/* ip_intel: ?1 ip, ?2 time, ?3 time_us, then one per column (NULL: keep); likewise */
	if ((ip_upd & db->ip_kinds) == 0)
		goto out;
	for (pass = k < ENRICH_KINDS && db->enr_ip[k] != NULL ? 0 : 1; pass < 2; pass++) {
		st = pass == 0 ? db->enr_ip[k] : db->st[ST_ENRICH_IP];
		brc = bind_field(db, st, 1, ev, "src_ip");
		if (brc == SQLITE_OK)
			brc = sqlite3_bind_text(st, 2, info->time, -1, SQLITE_STATIC);
		if (brc == SQLITE_OK)
			brc = sqlite3_bind_int64(st, 3, info->time_us);
		for (j = 0, i = 4; j < ARRAY_LEN(ip_cols) && brc == SQLITE_OK; j++, i++) {
			if (ip_upd & (1u << db->ip_kind[j]))
				brc = enrich_value(db, st, i, src[db->ip_kind[j]], &ip_cols[j]);
		}
		if (step_reset(db, st, brc, "enrich ip_intel") < 0) {
			rc = -1;
			break;
		}
		if (pass == 0 && sqlite3_changes(db->db) > 0)
			break;
	}
	goto out;
fail:
	log_err("store: out of memory applying an enrich event");
	rc = -1;
out:
	if (!prepared) {
		if (stable != full)
			free(stable);
		free(full);
		for (p = 0; p < STORE_DB_PARTS; p++)
			free(parts[p]);
	}
	return rc;
}

/* hist_check - at BEGIN: another connection's commit (an import into this database) voids
 * the history cache */
static void
hist_check(struct store_db *db)
{
	sqlite3_stmt *st = db->st[ST_DATA_VERSION];
	int64_t v = -1;

	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (v != db->data_version || v < 0)
		db->hist_gen++;
	db->data_version = v;
}

/* store_db_apply - apply a checked event within the open batch */
int
store_db_apply(struct store_db *db, json_t *ev, const struct store_db_ev *info)
{
	const struct evdef *def = info->def;
	size_t k;
	int rc = 0;

	if (def == NULL || def->stmts[0].id == ST__COUNT)
		return 0;
	/* the store adds members to message events after the check, body_text_b64 among them */
	db->b64 = info->b64 || def->stmts[0].id == ST_MESSAGE;
	if (!db->in_tx) {
		if (step_simple(db, ST_BEGIN) < 0)
			return -1;
		db->in_tx = true;
		hist_check(db);
	}
	if (def->stmts[0].id == ST_ENRICH) {
		rc = apply_enrich(db, ev, info);
	} else {
		for (k = 0; k < ARRAY_LEN(def->stmts) && def->stmts[k].id != ST__COUNT; k++) {
			if (run_stmt(db, &def->stmts[k], info->vals_ok ? info->vals[k] : NULL, ev,
			             info) < 0)
				rc = -1;
		}
	}
	/* Some errors (disk full, I/O) make SQLite roll the whole batch back on its own. */
	if (sqlite3_get_autocommit(db->db)) {
		db->in_tx = false;
		db->hist_gen++;
	}
	return rc;
}

/* store_db_body_find - where a packed body with this digest is; 1 found, 0 not, -1 error */
int
store_db_body_find(struct store_db *db, const char *sha256, char *path, size_t pathlen,
                   int64_t *offset)
{
	sqlite3_stmt *st = db->st[ST_BODY_FIND];
	const unsigned char *p;
	int rc;

	sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && (p = sqlite3_column_text(st, 0)) != NULL &&
	    strlcpy(path, (const char *)p, pathlen) < pathlen) {
		*offset = sqlite3_column_int64(st, 1);
		rc = 1;
	} else {
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

/* store_db_failed - an I/O-class error happened since open (sticky) */
bool
store_db_failed(const struct store_db *db)
{
	return db->failed;
}

/* store_db_commit - end the batch; on failure roll back so the next batch starts clean */
int
store_db_commit(struct store_db *db)
{
	if (!db->in_tx)
		return db->failed ? -1 : 0;
	db->in_tx = false;
	if (step_simple(db, ST_COMMIT) == 0)
		return 0;
	if (!sqlite3_get_autocommit(db->db))
		step_simple(db, ST_ROLLBACK);
	db->hist_gen++; /* what the batch wrote is gone */
	return -1;
}

/* pragma_int - read one integer pragma value */
static int
pragma_int(sqlite3 *db, const char *sql, int *out)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_step(st) != SQLITE_ROW)
		goto out;
	*out = sqlite3_column_int(st, 0);
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

/* enrich_sql - the upserts of ST_ENRICH_SESS and ST_ENRICH_IP from the column tables: a column
 * takes the event's value when it has one; on ip_intel only when the event is not older than
 * what is there (imports can come in any order) */
static char *
enrich_sql(bool ip)
{
	const struct ecol *cols = ip ? ip_cols : sess_cols;
	size_t n = ip ? ARRAY_LEN(ip_cols) : ARRAY_LEN(sess_cols), k, cap = 16384;
	char buf[512];
	char *out = malloc(cap);

	if (out == NULL)
		return NULL;
	strlcpy(out,
	        ip ? "INSERT INTO ip_intel (ip, first_seen, first_seen_us, last_seen, last_seen_us,"
	             " enriched_at, enriched_us"
	           : "INSERT INTO sessions (session, src_ip",
	        cap);
	for (k = 0; k < n; k++) {
		snprintf(buf, sizeof(buf), ", %s", cols[k].col);
		strlcat(out, buf, cap);
	}
	strlcat(out, ip ? ") SELECT ?1, ?2, ?3, ?2, ?3, ?2, ?3" : ") SELECT ?1, ?2", cap);
	for (k = 0; k < n; k++) {
		snprintf(buf, sizeof(buf), ", ?%zu", k + (ip ? 4 : 3));
		strlcat(out, buf, cap);
	}
	strlcat(out,
	        ip ? " WHERE ?1 IS NOT NULL ON CONFLICT (ip) DO UPDATE SET"
	             " enriched_at = CASE WHEN excluded.enriched_us >= coalesce(enriched_us, 0)"
	             " THEN excluded.enriched_at ELSE enriched_at END,"
	             " enriched_us = max(coalesce(enriched_us, 0), excluded.enriched_us)"
	           : " WHERE true ON CONFLICT (session) DO UPDATE SET"
	             " src_ip = coalesce(src_ip, excluded.src_ip)",
	        cap);
	for (k = 0; k < n; k++) {
		if (ip)
			snprintf(
			    buf, sizeof(buf),
			    ", %s = CASE WHEN excluded.%s IS NULL THEN %s"
			    " WHEN %s IS NULL OR excluded.enriched_us >= coalesce(enriched_us, 0)"
			    " THEN excluded.%s ELSE %s END",
			    cols[k].col, cols[k].col, cols[k].col, cols[k].col, cols[k].col,
			    cols[k].col);
		else
			snprintf(buf, sizeof(buf), ", %s = coalesce(excluded.%s, %s)", cols[k].col,
			         cols[k].col, cols[k].col);
		if (strlcat(out, buf, cap) >= cap) {
			free(out);
			return NULL;
		}
	}
	return out;
}

/* enrich_update_sql - for one kind, an UPDATE of just its columns (those whose kind, by
 * col_kind, is in the set kinds: kind_cols) of the row that is there,
 * with the upsert's rules and the same parameter numbers (?1 the key, ?2/?3 the time,
 * ?N the columns); NULL when the kind has no column in this table (or out of memory). On
 * sessions the row must have its src_ip already, which the upsert would otherwise fill; when
 * the UPDATE changes no row the upsert runs. Setting only the kind's columns keeps SQLite from
 * rewriting every enrichment column and the src_ip index: an enrich event cost four times an
 * ordinary one. */
static char *
enrich_update_sql(bool ip, const unsigned char *col_kind, unsigned kinds)
{
	const struct ecol *cols = ip ? ip_cols : sess_cols;
	size_t n = ip ? ARRAY_LEN(ip_cols) : ARRAY_LEN(sess_cols), k, cap = 8192, any = 0;
	char buf[512];
	char *out = malloc(cap);

	if (out == NULL)
		return NULL;
	strlcpy(out,
	        ip ? "UPDATE ip_intel SET"
	             " enriched_at = CASE WHEN ?3 >= coalesce(enriched_us, 0) THEN ?2"
	             " ELSE enriched_at END,"
	             " enriched_us = max(coalesce(enriched_us, 0), ?3)"
	           : "UPDATE sessions SET",
	        cap);
	for (k = 0; k < n; k++) {
		size_t param = k + (ip ? 4 : 3);

		if (!(kinds & (1u << col_kind[k])))
			continue;
		if (ip)
			snprintf(buf, sizeof(buf),
			         ", %s = CASE WHEN ?%zu IS NULL THEN %s WHEN %s IS NULL OR"
			         " ?3 >= coalesce(enriched_us, 0) THEN ?%zu ELSE %s END",
			         cols[k].col, param, cols[k].col, cols[k].col, param, cols[k].col);
		else
			snprintf(buf, sizeof(buf), "%s %s = coalesce(?%zu, %s)", any ? "," : "",
			         cols[k].col, param, cols[k].col);
		if (strlcat(out, buf, cap) >= cap) {
			free(out);
			return NULL;
		}
		any++;
	}
	if (any == 0 ||
	    strlcat(out, ip ? " WHERE ip = ?1" : " WHERE session = ?1 AND src_ip IS NOT NULL",
	            cap) >= cap) {
		free(out);
		return NULL;
	}
	return out;
}

/* create_schema - create tables and indexes and stamp the version, atomically */
static int
create_schema(sqlite3 *db, int from, char *err, size_t errlen)
{
	char sql[64];
	char *msg = NULL;
	size_t i;

	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d;", STORE_DB_SCHEMA_VERSION);
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	for (i = 0; from == 1 && i < ARRAY_LEN(migrate_1_2); i++) {
		if (sqlite3_exec(db, migrate_1_2[i], NULL, NULL, &msg) != SQLITE_OK)
			goto fail;
	}
	for (i = 0; from >= 1 && from <= 2 && i < ARRAY_LEN(migrate_2_3); i++) {
		if (sqlite3_exec(db, migrate_2_3[i], NULL, NULL, &msg) != SQLITE_OK)
			goto fail;
	}
	for (i = 0; from >= 1 && from <= 3 && i < ARRAY_LEN(migrate_3_4); i++) {
		if (sqlite3_exec(db, migrate_3_4[i], NULL, NULL, &msg) != SQLITE_OK)
			goto fail;
	}
	for (i = 0; i < ARRAY_LEN(schema_sql); i++) {
		if (sqlite3_exec(db, schema_sql[i], NULL, NULL, &msg) != SQLITE_OK)
			goto fail;
	}
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "creating the schema: %s", msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* store_db_init - SQLite's global settings, then sqlite3_initialize. SQLite's memory statistics
 * take a global mutex on every allocation, and relaytrap reads none of them: ~10% of the
 * instructions of applying an event. They can only be turned off before SQLite initialises,
 * so this runs before anything else uses SQLite; once initialised, calling it is a no-op. */
void
store_db_init(void)
{
	if (sqlite_configured)
		return;
	sqlite_configured = true;
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	sqlite3_initialize();
}

/* store_db_open - open the database, check or create the schema, prepare every statement */
struct store_db *
store_db_open(const char *path, char *err, size_t errlen)
{
	struct store_db *db;
	char *msg = NULL;
	int version = 0, ntables = 1, i;

	db = calloc(1, sizeof(*db));
	if (db == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	db->scratch = malloc(STORE_FIELD_MAX);
	db->hist = calloc(HIST_SLOTS, sizeof(*db->hist));
	db->hist_pool = pool_new(64, HIST_KEY_MAX + HIST_DATA_MAX, 256u << 10, HIST_BYTES_MAX);
	db->hist_gen = 1;
	db->data_version = -1;
	if (db->scratch == NULL || db->hist == NULL || db->hist_pool == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	store_db_init();
	if (sqlite3_open_v2(path, &db->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
		         db->db ? sqlite3_errmsg(db->db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(db->db, BUSY_TIMEOUT_MS);
	/* WAL lets report readers run while the store writes; NORMAL syncs at checkpoints only,
	 * which in WAL mode can lose the last commits on power loss but never corrupts. */
	if (sqlite3_exec(db->db,
	                 "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
	                 " PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY;",
	                 NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, msg ? msg : sqlite3_errmsg(db->db));
		sqlite3_free(msg);
		goto fail;
	}
	if (pragma_int(db->db, "PRAGMA user_version", &version) < 0) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db->db));
		goto fail;
	}
	if (version > STORE_DB_SCHEMA_VERSION) {
		snprintf(err, errlen,
		         "%s: schema version %d is newer than this relaytrap supports (%d);"
		         " use a newer relaytrap or a new data directory",
		         path, version, STORE_DB_SCHEMA_VERSION);
		goto fail;
	}
	/* An empty file (no table at all) may be loaded without journal and indexes (bulk). */
	if (version == 0 && pragma_int(db->db, "SELECT count(*) FROM sqlite_master", &ntables) == 0)
		db->fresh = ntables == 0;
	if (version < STORE_DB_SCHEMA_VERSION && create_schema(db->db, version, err, errlen) < 0)
		goto fail;
	for (i = 0; i < ST__COUNT; i++) {
		char *built = NULL;
		const char *sql = stmt_sql[i];
		int prc;

		if (i == ST_ENRICH_SESS || i == ST_ENRICH_IP) {
			built = enrich_sql(i == ST_ENRICH_IP);
			if (built == NULL) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			sql = built;
		}
		prc = sqlite3_prepare_v3(db->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &db->st[i],
		                         NULL);
		free(built);
		if (prc != SQLITE_OK) {
			snprintf(err, errlen, "preparing statement %d: %s", i,
			         sqlite3_errmsg(db->db));
			goto fail;
		}
	}
	for (i = 0; i < ENRICH_KINDS; i++) {
		for (size_t c = 0; c < ARRAY_LEN(sess_cols); c++)
			if (strcmp(sess_cols[c].kind, enrich_kinds[i]) == 0)
				db->sess_kind[c] = (unsigned char)i;
		for (size_t c = 0; c < ARRAY_LEN(ip_cols); c++)
			if (strcmp(ip_cols[c].kind, enrich_kinds[i]) == 0) {
				db->ip_kind[c] = (unsigned char)i;
				db->ip_kinds |= 1u << i;
			}
	}
	for (i = 0; i < 2 * ENRICH_KINDS; i++) {
		bool ip = i >= ENRICH_KINDS;
		char *sql = enrich_update_sql(ip, ip ? db->ip_kind : db->sess_kind,
		                              kind_cols(i % ENRICH_KINDS));
		sqlite3_stmt **st = ip ? &db->enr_ip[i % ENRICH_KINDS] : &db->enr_sess[i];

		if (sql == NULL)
			continue; /* no column of this kind there */
		if (sqlite3_prepare_v3(db->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) !=
		    SQLITE_OK) {
			snprintf(err, errlen, "preparing the %s update: %s", sql,
			         sqlite3_errmsg(db->db));
			free(sql);
			goto fail;
		}
		free(sql);
	}
	return db;
fail:
	store_db_close(db);
	return NULL;
}

/* index_name - the name in a "CREATE INDEX IF NOT EXISTS name ON ..." of schema_sql into out;
 * false for the other statements */
static bool
index_name(const char *sql, char *out, size_t outlen)
{
	static const char pre[] = "CREATE INDEX IF NOT EXISTS ";
	const char *sp;

	if (strncmp(sql, pre, sizeof(pre) - 1) != 0)
		return false;
	sql += sizeof(pre) - 1;
	sp = strchr(sql, ' ');
	if (sp == NULL || (size_t)(sp - sql) >= outlen)
		return false;
	memcpy(out, sql, (size_t)(sp - sql));
	out[sp - sql] = '\0';
	return true;
}

/* bulk_fresh - a new, empty database nobody else has open: take an exclusive lock, write
 * without rollback journal or WAL (every page once instead of twice), and drop the secondary
 * indexes, which store_db_bulk_end builds at the end by sorting, far cheaper than keeping them
 * up to date row by row. The UNIQUE keys stay: they make re-applied events no-ops. A crash then
 * leaves a file to delete, which is all the load had made. 0, or -1 (settings left normal). */
static int
bulk_fresh(struct store_db *db)
{
	char sql[128], name[64];
	sqlite3_stmt *st = NULL;
	const unsigned char *mode;
	bool off = false;
	size_t i;

	if (sqlite3_exec(db->db, "PRAGMA locking_mode = EXCLUSIVE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	/* Switching away from WAL needs the only connection; the answer is the mode in force. */
	if (sqlite3_prepare_v2(db->db, "PRAGMA journal_mode = OFF", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && (mode = sqlite3_column_text(st, 0)) != NULL)
		off = strcmp((const char *)mode, "off") == 0;
	sqlite3_finalize(st);
	if (!off)
		goto undo;
	if (sqlite3_exec(db->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		goto undo;
	for (i = 0; i < ARRAY_LEN(schema_sql); i++) {
		if (!index_name(schema_sql[i], name, sizeof(name)))
			continue;
		snprintf(sql, sizeof(sql), "DROP INDEX IF EXISTS %s", name);
		if (sqlite3_exec(db->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
			sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
			goto undo;
		}
	}
	if (sqlite3_exec(db->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto undo;
	db->bulk_fresh = true;
	return 0;
undo:
	sqlite3_exec(db->db, "PRAGMA journal_mode = WAL; PRAGMA locking_mode = NORMAL", NULL, NULL,
	             NULL);
	return -1;
}

/* store_db_bulk - trade durability for speed on this connection while importing */
int
store_db_bulk(struct store_db *db)
{
	char *msg = NULL;

	/* 256 MiB of page cache keeps the indexes of a million sessions in memory; without
	 * fsync a batch commit costs only the WAL write. */
	if (sqlite3_exec(db->db, "PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;", NULL,
	                 NULL, &msg) != SQLITE_OK) {
		log_err("store: bulk settings: %s", msg ? msg : sqlite3_errmsg(db->db));
		sqlite3_free(msg);
		return -1;
	}
	if (db->fresh && bulk_fresh(db) < 0)
		log_warn("store: new database, but loading it without journal failed: %s",
		         sqlite3_errmsg(db->db));
	return 0;
}

/* store_db_bulk_fresh - whether the load runs with the fresh-database shortcuts */
bool
store_db_bulk_fresh(const struct store_db *db)
{
	return db->bulk_fresh;
}

/* store_db_bulk_end - after a fresh load: build the secondary indexes, turn WAL back on,
 * release the exclusive lock; 0 or -1 (logged) */
int
store_db_bulk_end(struct store_db *db)
{
	char *msg = NULL;
	char name[64];
	size_t i;
	int rc = 0;

	if (!db->bulk_fresh)
		return 0;
	db->bulk_fresh = false;
	if (store_db_commit(db) < 0)
		rc = -1;
	for (i = 0; i < ARRAY_LEN(schema_sql) && rc == 0; i++) {
		if (index_name(schema_sql[i], name, sizeof(name)) &&
		    sqlite3_exec(db->db, schema_sql[i], NULL, NULL, &msg) != SQLITE_OK) {
			log_err("store: building index %s: %s", name, msg ? msg : "?");
			sqlite3_free(msg);
			rc = -1;
		}
	}
	if (sqlite3_exec(db->db, "PRAGMA journal_mode = WAL; PRAGMA locking_mode = NORMAL", NULL,
	                 NULL, &msg) != SQLITE_OK) {
		log_err("store: turning WAL back on: %s", msg ? msg : "?");
		sqlite3_free(msg);
		rc = -1;
	}
	return rc;
}

/* store_db_close - commit, finalize statements, close; NULL is a no-op */
void
store_db_close(struct store_db *db)
{
	int i;

	if (db == NULL)
		return;
	if (db->db != NULL && db->st[ST_COMMIT] != NULL) {
		store_db_commit(db);
		store_db_bulk_end(db);
	}
	for (i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(db->st[i]);
	for (i = 0; i < ENRICH_KINDS; i++) {
		sqlite3_finalize(db->enr_sess[i]);
		sqlite3_finalize(db->enr_ip[i]);
	}
	if (db->db != NULL)
		sqlite3_close(db->db);
	pool_free(db->hist_pool);
	free(db->hist);
	free(db->scratch);
	free(db);
}
