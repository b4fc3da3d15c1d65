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
 */
#include "fuzz.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "capture/frame.h"
#include "capture/store.h"

#define STORE_RESET_EVERY 1000

static char base[256], dir[512];
static struct store *st;
static unsigned long inputs, generation;

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

/* store_end - close the current store, check its database, remove its directory */
static void
store_end(void)
{
	if (st == NULL)
		return;
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *body;
	enum frame_type type;
	size_t off, len, blen;
	uint32_t tx;
	char sid[33];

	if (base[0] == '\0')
		LLVMFuzzerInitialize(NULL, NULL);
	if (st == NULL)
		store_begin();
	for (off = 0; size - off >= FRAME_HDR; off += FRAME_HDR + len) {
		if (frame_decode_header(data + off, &type, &len) < 0)
			break;
		FZ_CHECK(len <= FRAME_MAX);
		if (size - off - FRAME_HDR < len)
			break;
		switch (type) {
		case FRAME_EVENT:
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
		}
	}
	store_commit(st);
	if (++inputs % STORE_RESET_EVERY == 0)
		store_end();
	return 0;
}
