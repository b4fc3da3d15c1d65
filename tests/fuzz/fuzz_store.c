/* SPDX-License-Identifier: ISC */
/*
 * fuzz_store - the store side (src/capture/store.c, store_db.c, frame.c) fed any bytes as the
 * frame stream from the engine, applied as store_run applies it: frame_decode_header on each
 * header, then EVENT frames to store_event (JSON parse, validation, SQLite, JSONL), BODY
 * frames through frame_decode_body to store_body (the content-addressed body store) and FLUSH
 * frames to store_commit; a partial frame at the end is dropped, a bad header ends the input.
 *
 * Input: the byte stream on the engine's socketpair (frame.h: u32 length, u8 type, payload).
 * Speed: opening a store (schema, 2 MiB of buffers) costs far more than applying a few events,
 * so one store in a data directory under /dev/shm (or TMPDIR) serves STORE_RESET_EVERY inputs;
 * then it is closed, its SQLite file must pass PRAGMA quick_check, and the directory is
 * removed and made again, so the database never grows large. Each input ends with a commit.
 * Bodies are capped small (store_body_max 4 KiB, body_disk_budget 64 KiB) and events.jsonl
 * rotates at 16 KiB, so those paths are reachable.
 * Checks: every EVENT frame is also parsed by evparse (src/capture/evparse.c, the store's
 * parser that skips a session's repeated fields) with a cache of its own that learns as the
 * store does, and must give what json_loadb gives for the whole text (both refuse, or equal
 * objects); besides the sanitizers and quick_check, idempotence as docs/database.md promises it
 * ("importing the same file twice adds no rows"): every input is applied twice, and the second
 * time must not change the row count of any table.
 */
#include "fuzz.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "capture/evparse.h"
#include "capture/frame.h"
#include "capture/store.h"

#define STORE_RESET_EVERY 1000

#define TABLES_MAX 32

static char base[256], dir[512];
static struct store *st;
static struct evparse *evp;
static unsigned long inputs, generation;
static sqlite3 *reader; /* a second connection counting rows */
static sqlite3_stmt *counts[TABLES_MAX];
static char table_names[TABLES_MAX][64];
static size_t ntables;

static int
rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* db_ok - the closed store's database is not corrupt */
static bool
db_ok(void)
{
	char path[600];
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	bool ok = false;

	if (snprintf(path, sizeof(path), "%s/relaytrap.db", dir) >= (int)sizeof(path))
		return false;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &q, NULL) != SQLITE_OK)
		goto out;
	ok = sqlite3_step(q) == SQLITE_ROW &&
	     strcmp((const char *)sqlite3_column_text(q, 0), "ok") == 0;
out:
	sqlite3_finalize(q);
	sqlite3_close(db);
	return ok;
}

/* reader_open - a read-only connection to the current store's database and one count(*)
 * statement per table */
static void
reader_open(void)
{
	char path[600], sql[128];
	sqlite3_stmt *q;

	snprintf(path, sizeof(path), "%s/relaytrap.db", dir);
	FZ_CHECK(sqlite3_open_v2(path, &reader, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	FZ_CHECK(sqlite3_prepare_v2(reader,
	                            "SELECT name FROM sqlite_master WHERE type = 'table' AND "
	                            "name NOT LIKE 'sqlite_%' ORDER BY name",
	                            -1, &q, NULL) == SQLITE_OK);
	ntables = 0;
	while (sqlite3_step(q) == SQLITE_ROW && ntables < TABLES_MAX) {
		snprintf(table_names[ntables], sizeof(table_names[0]), "%s",
		         (const char *)sqlite3_column_text(q, 0));
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\"", table_names[ntables]);
		FZ_CHECK(sqlite3_prepare_v2(reader, sql, -1, &counts[ntables], NULL) == SQLITE_OK);
		ntables++;
	}
	sqlite3_finalize(q);
	FZ_CHECK(ntables > 0);
}

static void
reader_close(void)
{
	size_t i;

	for (i = 0; i < ntables; i++)
		sqlite3_finalize(counts[i]);
	ntables = 0;
	sqlite3_close(reader);
	reader = NULL;
}

/* row_counts - committed rows of every table */
static void
row_counts(long long *out)
{
	size_t i;

	for (i = 0; i < ntables; i++) {
		FZ_CHECK(sqlite3_step(counts[i]) == SQLITE_ROW);
		out[i] = sqlite3_column_int64(counts[i], 0);
		sqlite3_reset(counts[i]);
	}
}

/* store_end - close the current store, check its database, remove its directory */
static void
store_end(void)
{
	if (st == NULL)
		return;
	reader_close();
	store_close(st);
	st = NULL;
	FZ_CHECK(db_ok());
	FZ_CHECK(nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0);
}

/* store_begin - a fresh store in a new directory */
static void
store_begin(void)
{
	struct store_config cfg;
	char err[512];

	snprintf(dir, sizeof(dir), "%s/%lu", base, generation++);
	memset(&cfg, 0, sizeof(cfg));
	cfg.data_dir = dir;
	cfg.write_jsonl = true;
	cfg.store_bodies = true;
	cfg.jsonl_rotate_bytes = 16 * 1024;
	cfg.store_body_max = 4096;
	cfg.body_disk_budget = 64 * 1024;
	st = store_open(&cfg, err, sizeof(err));
	if (st == NULL) {
		fprintf(stderr, "store_open: %s\n", err);
		fz_fail(__FILE__, __LINE__, "store_open failed");
	}
	reader_open();
}

/* at_exit - the last store is checked and removed too, then the base directory */
static void
at_exit(void)
{
	store_end();
	rmdir(base);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	struct stat sb;

	(void)argc;
	(void)argv;
	fz_quiet();
	if (stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) && access("/dev/shm", W_OK) == 0)
		tmp = "/dev/shm";
	else if (tmp == NULL)
		tmp = "/tmp";
	snprintf(base, sizeof(base), "%s/relaytrap-fuzz-store-XXXXXX", tmp);
	FZ_CHECK(mkdtemp(base) != NULL);
	atexit(at_exit);
	return 0;
}

/* apply - the frames of one input, as store_run applies them, then a commit */
/* evparse_same - the cached parse equals the whole parse; learn as the store learns */
static void
evparse_same(const char *json, size_t len)
{
	json_error_t err;
	json_t *whole = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
	json_t *cached;

	if (evp == NULL)
		FZ_CHECK((evp = evparse_new()) != NULL);
	cached = evparse_load(evp, json, len, &err);
	FZ_CHECK((whole == NULL) == (cached == NULL));
	if (whole != NULL) {
		FZ_CHECK(json_equal(whole, cached));
		if (json_is_object(whole))
			evparse_learn(evp, json, len, whole);
	}
	json_decref(whole);
	json_decref(cached);
}

static void
apply(const uint8_t *data, size_t size)
{
	const unsigned char *body;
	enum frame_type type;
	size_t off, len, blen;
	uint32_t tx;
	char sid[33];

	for (off = 0; size - off >= FRAME_HDR; off += FRAME_HDR + len) {
		if (frame_decode_header(data + off, &type, &len) < 0)
			break;
		FZ_CHECK(len <= FRAME_MAX);
		if (size - off - FRAME_HDR < len)
			break;
		switch (type) {
		case FRAME_EVENT:
			evparse_same((const char *)data + off + FRAME_HDR, len);
			store_event(st, (const char *)data + off + FRAME_HDR, len);
			break;
		case FRAME_BODY:
			if (frame_decode_body(data + off + FRAME_HDR, len, sid, &tx, &body,
			                      &blen) == 0) {
				FZ_CHECK(strlen(sid) >= 1 && strlen(sid) <= FRAME_SID_MAX);
				FZ_CHECK(body + blen == data + off + FRAME_HDR + len);
				store_body(st, sid, tx, body, blen);
			}
			break;
		case FRAME_FLUSH:
			FZ_CHECK(len == 0);
			store_commit(st);
			break;
		case FRAME_START:
		case FRAME_ACK:
			/* the stream-resume frames carry fixed-size numbers only: the header
			 * check is their whole decoding, and they touch no store state here */
			FZ_CHECK(len == (type == FRAME_START ? FRAME_START_LEN : FRAME_ACK_LEN));
			break;
		}
	}
	store_commit(st);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	long long once[TABLES_MAX], twice[TABLES_MAX];
	size_t i;

	if (base[0] == '\0')
		LLVMFuzzerInitialize(NULL, NULL);
	if (st == NULL)
		store_begin();
	apply(data, size);
	row_counts(once);
	apply(data, size);
	row_counts(twice);
	for (i = 0; i < ntables; i++) {
		if (once[i] != twice[i]) {
			fprintf(stderr, "table %s: %lld rows after one import, %lld after two\n",
			        table_names[i], once[i], twice[i]);
			fz_fail(__FILE__, __LINE__, "applying the same events twice added rows");
		}
	}
	if (++inputs % STORE_RESET_EVERY == 0)
		store_end();
	return 0;
}
