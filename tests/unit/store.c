/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for capture/frame and capture/store: frame codec, RFC 3339 parsing, a full session
 * applied through store_event/store_body and checked table by table, JSONL contents, the
 * content-addressed body store (dedupe, caps, disk budget), idempotent re-import, hostile input,
 * the store_run loop in a forked child over a socketpair, rotation, reopen and schema versioning.
 * Set RT_STORE_BENCH_EVENTS to change the size of the throughput run (default 20000).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <jansson.h>
#include <sqlite3.h>

#include "capture/bodyscan.h"
#include "capture/frame.h"
#include "capture/store.h"
#include "capture/store_db.h"
#include "core/log.h"
#include "core/util.h"

#define SID "0123456789abcdef"
#define SID2 "fedcba9876543210"
#define SID3 "0011223344556677"

struct fx {
	char dir[64];
	char db[128];
	struct store_config cfg;
	struct store *s;
};

static const char body1[] = "From: a@b.example\r\nSubject: hi\r\n\r\nbuy now\r\n";

/* rm_cb - nftw callback removing one entry of the temp tree */
static int
rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* make_tmpdir - mkdtemp with prefix plus the six template characters */
static void
make_tmpdir(char *out, size_t outlen, const char *prefix)
{
	size_t n = strlen(prefix);

	assert_true(n + 7 <= outlen);
	memcpy(out, prefix, n);
	memset(out + n, 'X', 6);
	out[n + 6] = '\0';
	assert_non_null(mkdtemp(out));
}

/* fx_setup - a fresh data directory and an open store with default caps */
static int
fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	make_tmpdir(f->dir, sizeof(f->dir), "/tmp/rt_store_");
	snprintf(f->db, sizeof(f->db), "%s/relaytrap.db", f->dir);
	f->cfg.data_dir = f->dir;
	f->cfg.write_jsonl = true;
	f->cfg.store_bodies = true;
	f->cfg.store_body_max = 1 << 20;
	f->s = store_open(&f->cfg, err, sizeof(err));
	if (f->s == NULL)
		fail_msg("store_open: %s", err);
	*state = f;
	return 0;
}

/* fx_teardown - close the store and remove the data directory */
static int
fx_teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* fx_reopen - close and reopen the store with f->cfg (after changing caps) */
static void
fx_reopen(struct fx *f)
{
	char err[256];

	store_close(f->s);
	f->s = store_open(&f->cfg, err, sizeof(err));
	if (f->s == NULL)
		fail_msg("store_open: %s", err);
}

/* mkev - one event with the common fields; extra is "" or starts with a comma */
static char *
mkev(char *buf, size_t len, const char *sid, int usec, const char *eventid, const char *extra)
{
	snprintf(
	    buf, len,
	    "{\"timestamp\":\"2026-11-27T10:53:36.%06dZ\",\"eventid\":\"%s\",\"session\":\"%s\","
	    "\"sensor\":\"s1\",\"src_ip\":\"192.0.2.7\",\"src_port\":40000,"
	    "\"dst_ip\":\"198.51.100.1\",\"dst_port\":25,\"persona\":\"exchange2000\","
	    "\"listener\":\"smtp\"%s}",
	    usec, eventid, sid, extra);
	return buf;
}

/* put - apply one event and require the expected result */
static void
put(struct store *s, const char *sid, int usec, const char *eventid, const char *extra, int want)
{
	char buf[4096];
	int got;

	mkev(buf, sizeof(buf), sid, usec, eventid, extra);
	got = store_event(s, buf, strlen(buf));
	if (got != want)
		fail_msg("store_event(%s %s): got %d, want %d", eventid, extra, got, want);
}

/* Events of one realistic session, before and after the message body. */
static const struct {
	const char *eventid;
	const char *extra;
} session_events[] = {
    {"relaytrap.session.connect", ",\"proxied\":false"},
    {"relaytrap.reply", ",\"seq\":0,\"t_us\":5,\"code\":220,\"text\":\"220 mx Microsoft ESMTP MAIL "
                        "Service, Version: 5.0.2195.5329 ready\",\"delay_ms\":0"},
    {"relaytrap.command", ",\"seq\":1,\"t_us\":900,\"line\":\"EHLO bot\",\"verb\":\"EHLO\","
                          "\"len\":8,\"truncated\":false,\"bare_lf\":true,\"auth\":false"},
    {"relaytrap.helo", ",\"verb\":\"EHLO\",\"name\":\"bot\""},
    {"relaytrap.reply",
     ",\"seq\":2,\"t_us\":950,\"code\":250,\"text\":\"250-mx Hello\\r\\n250 OK\""},
    {"relaytrap.signal", ",\"signal\":\"bare_lf\",\"detail\":\"EHLO\""},
    {"relaytrap.command", ",\"seq\":3,\"t_us\":1000,\"line\":\"AUTH LOGIN\",\"verb\":\"AUTH\","
                          "\"len\":10"},
    {"relaytrap.auth", ",\"mechanism\":\"LOGIN\",\"supported\":true,\"username\":\"admin\","
                       "\"password\":\"123456\",\"outcome\":\"failed\""},
    {"relaytrap.command", ",\"seq\":4,\"t_us\":2000,\"line\":\"MAIL FROM:<a@b.example>\","
                          "\"verb\":\"MAIL\",\"len\":23"},
    {"relaytrap.mail", ",\"tx\":1,\"address\":\"a@b.example\",\"raw\":\"<a@b.example>\","
                       "\"flags\":[\"brackets\"],\"params\":{\"SIZE\":\"100\"},\"accepted\":true"},
    {"relaytrap.rcpt", ",\"tx\":1,\"address\":\"v@victim.example\",\"raw\":\"<v@victim.example>\","
                       "\"flags\":[],\"params\":{},\"accepted\":true"},
    {"relaytrap.rcpt", ",\"tx\":1,\"address\":\"w@victim.example\",\"raw\":\"<w@victim.example>\","
                       "\"flags\":[],\"params\":{},\"accepted\":true"},
    {"relaytrap.limit", ",\"limit\":\"max_rcpts\",\"value\":100"},
};
static const struct {
	const char *eventid;
	const char *extra;
} session_tail[] = {
    {"relaytrap.message",
     ",\"tx\":1,\"via\":\"DATA\",\"size\":43,\"stored\":43,\"truncated\":false,"
     "\"complete\":true,\"accepted\":true,\"msgid\":\"Q1\",\"mail_from\":\"a@b.example\","
     "\"rcpts\":[\"v@victim.example\",\"w@victim.example\"],\"hdr_from\":\"a@b.example\","
     "\"hdr_subject\":\"hi\""},
    {"relaytrap.session.closed",
     ",\"reason\":\"quit\",\"duration_us\":50000,\"first_cmd_us\":900,\"greeting\":\"EHLO\","
     "\"helo\":\"bot\",\"commands\":5,\"bad_commands\":0,\"messages\":1,\"rcpts\":2,"
     "\"auth_attempts\":1,\"bytes_in\":300,\"bytes_out\":400,\"stage\":\"message\""},
};

/* apply_session - the whole session, body sent in three odd-sized chunks before the message */
static void
apply_session(struct store *s, const char *sid, const char *body, size_t bodylen)
{
	size_t i, a = bodylen / 3, b = bodylen / 2;

	for (i = 0; i < ARRAY_LEN(session_events); i++)
		put(s, sid, (int)i, session_events[i].eventid, session_events[i].extra, 0);
	assert_int_equal(store_body(s, sid, 1, body, a), 0);
	assert_int_equal(store_body(s, sid, 1, body + a, b - a), 0);
	assert_int_equal(store_body(s, sid, 1, body + b, bodylen - b), 0);
	for (i = 0; i < ARRAY_LEN(session_tail); i++)
		put(s, sid, 100 + (int)i, session_tail[i].eventid, session_tail[i].extra, 0);
}

/* q_int - first column of the first row of a query, as an integer (-1 when no row) */
static long long
q_int(const char *db, const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -1;

	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	/* a store process may hold the file locked for a moment (a fresh file's schema): wait */
	sqlite3_busy_timeout(h, 5000);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("prepare %s: %s", sql, sqlite3_errmsg(h));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

/* q_text - first column of the first row as text into out ("" when no row or NULL) */
static char *
q_text(const char *db, const char *sql, char *out, size_t outlen)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	const unsigned char *t;

	out[0] = '\0';
	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	/* a store process may hold the file locked for a moment (a fresh file's schema): wait */
	sqlite3_busy_timeout(h, 5000);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("prepare %s: %s", sql, sqlite3_errmsg(h));
	if (sqlite3_step(st) == SQLITE_ROW && (t = sqlite3_column_text(st, 0)) != NULL)
		snprintf(out, outlen, "%s", (const char *)t);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return out;
}

/* expect_int - a query result with a got/want message */
static void
expect_int(const char *db, const char *sql, long long want)
{
	long long got = q_int(db, sql);

	if (got != want)
		fail_msg("%s: got %lld, want %lld", sql, got, want);
}

/* expect_text - a text query result with a got/want message */
static void
expect_text(const char *db, const char *sql, const char *want)
{
	char got[512];

	q_text(db, sql, got, sizeof(got));
	if (strcmp(got, want) != 0)
		fail_msg("%s: got '%s', want '%s'", sql, got, want);
}

/* sha256_hex - reference digest computed independently of the store */
static void
sha256_hex(const void *p, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned mdlen = 0;

	assert_int_equal(EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL), 1);
	assert_int_equal(hex_encode(md, mdlen, out, 65), 0);
}

/* read_all - a whole file into a malloc'd buffer (NULL if missing) */
static char *
read_all(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

/* count_lines - lines in a file that contain needle (all lines when needle is "") */
static int
count_lines(const char *path, const char *needle)
{
	size_t len;
	char *buf = read_all(path, &len), *line, *save = NULL;
	int n = 0;

	if (buf == NULL)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		n += strstr(line, needle) != NULL;
	free(buf);
	return n;
}

/* count_files - regular files under dir (recursively) whose name ends with suffix */
static int
count_files(const char *dir, const char *suffix)
{
	char p[512];
	struct dirent *de;
	struct stat st;
	int n = 0;
	size_t ls = strlen(suffix), ln;
	DIR *d = opendir(dir);

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (lstat(p, &st) < 0)
			continue;
		ln = strlen(de->d_name);
		if (S_ISDIR(st.st_mode))
			n += count_files(p, suffix);
		else if (ln >= ls && strcmp(de->d_name + ln - ls, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* count_bodies - bodies stored: .eml files plus records in pack files */
static int
count_bodies(const char *dir)
{
	char p[512];
	struct dirent *de;
	int n = count_files(dir, ".eml");
	DIR *d;

	snprintf(p, sizeof(p), "%s/pack", dir);
	d = opendir(p);
	if (d == NULL)
		return n;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/pack/%s", dir, de->d_name);
		n += count_lines(p, "RTB1 ");
	}
	closedir(d);
	return n;
}

/* read_stored - the stored bytes of message tx of session sid, through the database's
 * body_path / body_offset / body_len (NULL when there is none) */
static char *
read_stored(const char *dir, const char *db, const char *sid, int tx, size_t *len)
{
	char sql[256], path[256], full[512];
	long long off, n;
	char *buf, *out;
	size_t flen;

	snprintf(sql, sizeof(sql),
	         "SELECT body_path FROM messages WHERE session = '%s' AND tx = %d", sid, tx);
	q_text(db, sql, path, sizeof(path));
	snprintf(full, sizeof(full), "%s/%s", dir, path);
	buf = read_all(full, &flen);
	if (buf == NULL)
		return NULL;
	snprintf(sql, sizeof(sql),
	         "SELECT coalesce(body_offset, -1) FROM messages WHERE session = '%s' AND tx = %d",
	         sid, tx);
	off = q_int(db, sql);
	if (off < 0) {
		*len = flen;
		return buf;
	}
	snprintf(sql, sizeof(sql), "SELECT body_len FROM messages WHERE session = '%s' AND tx = %d",
	         sid, tx);
	n = q_int(db, sql);
	assert_true(off + n + 1 <= (long long)flen);
	assert_int_equal(buf[off + n], '\n');
	out = malloc((size_t)n + 1);
	assert_non_null(out);
	memcpy(out, buf + off, (size_t)n);
	free(buf);
	*len = (size_t)n;
	return out;
}

/* test_frame_header - length and type checks on the 5-byte header, table-driven */
static void
test_frame_header(void **state)
{
	static const struct {
		int type;
		size_t len;
		int want;
	} cases[] = {
	    {FRAME_EVENT, 10, 0},
	    {FRAME_EVENT, FRAME_MAX, 0},
	    {FRAME_EVENT, FRAME_MAX + 1, -1},
	    {FRAME_EVENT, 0, -1},
	    {FRAME_FLUSH, 0, 0},
	    {FRAME_FLUSH, 1, -1},
	    {FRAME_BODY, 6, 0},
	    {FRAME_BODY, 5, -1},
	    {'X', 1, -1},
	    {0, 0, -1},
	    {FRAME_EVENT, 0xffffffffu, -1},
	};
	unsigned char hdr[FRAME_HDR];
	enum frame_type type;
	size_t i, len;
	int got;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		frame_header(hdr, (enum frame_type)cases[i].type, cases[i].len);
		got = frame_decode_header(hdr, &type, &len);
		if (got != cases[i].want)
			fail_msg("case %zu type %c len %zu: got %d, want %d", i, cases[i].type,
			         cases[i].len, got, cases[i].want);
		if (got == 0) {
			assert_int_equal(type, cases[i].type);
			assert_int_equal(len, cases[i].len);
		}
	}
	frame_header(hdr, FRAME_EVENT, 0x01020304u & (FRAME_MAX - 1));
	assert_int_equal(hdr[0], 0);
	assert_int_equal(hdr[4], 'E');
}

/* test_frame_body - BODY payload prefix round trip and every malformed shape refused */
static void
test_frame_body(void **state)
{
	unsigned char p[FRAME_BODY_PREFIX_MAX + 8];
	const unsigned char *data;
	char sid[33];
	uint32_t tx;
	size_t datalen;
	int n;

	(void)state;
	n = frame_body_prefix(p, sizeof(p), SID, 0x01020304u);
	assert_int_equal(n, 1 + 16 + 4);
	memcpy(p + n, "abc", 3);
	assert_int_equal(frame_decode_body(p, (size_t)n + 3, sid, &tx, &data, &datalen), 0);
	assert_string_equal(sid, SID);
	assert_int_equal(tx, 0x01020304u);
	assert_int_equal(datalen, 3);
	assert_memory_equal(data, "abc", 3);
	/* An empty chunk is legal. */
	assert_int_equal(frame_decode_body(p, (size_t)n, sid, &tx, &data, &datalen), 0);
	assert_int_equal(datalen, 0);
	/* Truncated tx, zero and oversized id lengths, non-hex and upper-case ids. */
	assert_int_equal(frame_decode_body(p, (size_t)n - 1, sid, &tx, &data, &datalen), -1);
	assert_int_equal(frame_decode_body(p, 0, sid, &tx, &data, &datalen), -1);
	p[0] = 0;
	assert_int_equal(frame_decode_body(p, (size_t)n, sid, &tx, &data, &datalen), -1);
	p[0] = 33;
	assert_int_equal(frame_decode_body(p, sizeof(p), sid, &tx, &data, &datalen), -1);
	p[0] = 16;
	p[1] = 'G';
	assert_int_equal(frame_decode_body(p, (size_t)n, sid, &tx, &data, &datalen), -1);
	p[1] = 'A';
	assert_int_equal(frame_decode_body(p, (size_t)n, sid, &tx, &data, &datalen), -1);
	assert_int_equal(frame_body_prefix(p, sizeof(p), "", 1), -1);
	assert_int_equal(frame_body_prefix(p, sizeof(p), "ABC", 1), -1);
	assert_int_equal(frame_body_prefix(p, sizeof(p), "0123456789abcdef0123456789abcdef0", 1),
	                 -1);
	assert_int_equal(frame_body_prefix(p, 5, SID, 1), -1);
}

/* test_time_parse - strict RFC 3339 accepted and refused forms, table-driven */
static void
test_time_parse(void **state)
{
	static const struct {
		const char *in;
		int want;
		int64_t us;
	} cases[] = {
	    {"1970-01-01T00:00:00Z", 0, 0},
	    {"2026-11-27T10:53:36.123456Z", 0, 1795776816123456LL},
	    {"2026-11-27T10:53:36.1Z", 0, 1795776816100000LL},
	    {"2026-11-27T10:53:36.123456789Z", 0, 1795776816123456LL},
	    {"2026-11-27T11:53:36.123456+01:00", 0, 1795776816123456LL},
	    {"2024-02-29T00:00:00Z", 0, 1709164800000000LL},
	    {"2023-02-29T00:00:00Z", -1, 0},
	    {"2026-13-01T00:00:00Z", -1, 0},
	    {"2026-11-27 10:53:36Z", -1, 0},
	    {"2026-11-27T10:53:36", -1, 0},
	    {"2026-11-27T10:53:36.Z", -1, 0},
	    {"2026-11-27T10:53:36.1234567890Z", -1, 0},
	    {"2026-11-27T24:00:00Z", -1, 0},
	    {"1969-12-31T23:59:59Z", -1, 0},
	    {"2026-11-27T10:53:36ZZ", -1, 0},
	    {"", -1, 0},
	};
	int64_t us;
	size_t i;
	int got;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		us = 0;
		got = store_db_time_parse(cases[i].in, strlen(cases[i].in), &us);
		if (got != cases[i].want)
			fail_msg("%s: got %d, want %d", cases[i].in, got, cases[i].want);
		if (got == 0 && us != cases[i].us)
			fail_msg("%s: got %lld us, want %lld", cases[i].in, (long long)us,
			         (long long)cases[i].us);
	}
}

/* check_session_rows - the rows one full session must leave in every table */
static void
check_session_rows(const char *db)
{
	expect_int(db, "SELECT count(*) FROM sessions", 1);
	expect_text(db,
	            "SELECT reason || '|' || greeting || '|' || helo || '|' || stage FROM sessions",
	            "quit|EHLO|bot|message");
	expect_int(db, "SELECT duration_us FROM sessions", 50000);
	expect_int(db, "SELECT start_us FROM sessions", 1795776816000000LL);
	expect_text(db, "SELECT start_time FROM sessions", "2026-11-27T10:53:36.000000Z");
	expect_int(db, "SELECT end_us - start_us FROM sessions", 101);
	expect_int(db, "SELECT bytes_in + bytes_out FROM sessions", 700);
	expect_int(db, "SELECT src_port FROM sessions WHERE src_ip = '192.0.2.7'", 40000);
	expect_int(db, "SELECT count(*) FROM commands", 5);
	expect_int(db, "SELECT count(*) FROM commands WHERE direction = 'C'", 3);
	expect_int(db, "SELECT code FROM commands WHERE seq = 0 AND direction = 'S'", 220);
	expect_text(db, "SELECT flags FROM commands WHERE seq = 1", "bare_lf");
	expect_text(db, "SELECT verb FROM commands WHERE seq = 4", "MAIL");
	expect_int(db, "SELECT count(*) FROM helos WHERE name = 'bot' AND verb = 'EHLO'", 1);
	expect_text(db, "SELECT params FROM transactions WHERE tx = 1", "{\"SIZE\":\"100\"}");
	expect_text(db, "SELECT flags FROM transactions", "[\"brackets\"]");
	expect_int(db, "SELECT count(*) FROM recipients WHERE tx = 1 AND accepted = 1", 2);
	expect_int(db, "SELECT rcpt_count FROM messages", 2);
	expect_text(db, "SELECT hdr_subject FROM messages", "hi");
	expect_text(db, "SELECT username || ':' || password FROM auth_attempts", "admin:123456");
	expect_text(db, "SELECT signal FROM signals", "bare_lf");
	expect_int(db, "SELECT value FROM limits WHERE limit_name = 'max_rcpts'", 100);
	expect_int(db, "SELECT count(*) FROM ip_intel WHERE ip = '192.0.2.7'", 1);
	expect_int(db, "SELECT last_seen_us - first_seen_us FROM ip_intel", 101);
	expect_int(db, "SELECT count(*) FROM ip_intel WHERE country IS NULL AND asn IS NULL", 1);
}

/* test_full_session - every table, the JSONL and the body file after one realistic session */
static void
test_full_session(void **state)
{
	struct fx *f = *state;
	char want[65], got[128], jpath[128], sql[256];
	size_t len;
	char *buf;

	apply_session(f->s, SID, body1, strlen(body1));
	assert_int_equal(store_commit(f->s), 0);
	check_session_rows(f->db);

	sha256_hex(body1, strlen(body1), want);
	expect_text(f->db, "SELECT sha256 FROM messages", want);
	/* A small body goes to a pack, after a header line naming its digest and length. */
	expect_int(f->db, "SELECT body_path GLOB 'bodies/pack/*.pack' FROM messages", 1);
	buf = read_stored(f->dir, f->db, SID, 1, &len);
	if (buf == NULL)
		fail_msg("body of %s missing", SID);
	assert_int_equal(len, strlen(body1));
	assert_memory_equal(buf, body1, len);
	free(buf);
	snprintf(sql, sizeof(sql), "%s/bodies/tmp", f->dir);
	assert_int_equal(count_files(sql, ""), 0);

	snprintf(jpath, sizeof(jpath), "%s/events.jsonl", f->dir);
	assert_int_equal(count_lines(jpath, ""),
	                 (int)(ARRAY_LEN(session_events) + ARRAY_LEN(session_tail)));
	snprintf(got, sizeof(got), "\"sha256\":\"%s\"", want);
	assert_int_equal(count_lines(jpath, got), 1);
	assert_int_equal(count_lines(jpath, "\"eventid\":\"relaytrap.message\""), 1);
	/* the message line is the engine's text with the store's members added after it:
	 * strict JSON without duplicates, the engine's members first, then the added ones */
	{
		size_t jl;
		char *all = read_all(jpath, &jl),
		     *line = strstr(all, "\"eventid\":\"relaytrap.message\"");
		char *start, *end;
		json_error_t err;
		json_t *ev;
		const char *key;
		json_t *v;
		int k = 0, at_sha = -1, at_tx = -1;

		assert_non_null(line);
		for (start = line; start > all && start[-1] != '\n'; start--)
			;
		end = strchr(start, '\n');
		ev = json_loadb(start, (size_t)(end - start), JSON_REJECT_DUPLICATES, &err);
		if (ev == NULL)
			fail_msg("message line: %s", err.text);
		json_object_foreach(ev, key, v)
		{
			if (strcmp(key, "sha256") == 0)
				at_sha = k;
			if (strcmp(key, "tx") == 0)
				at_tx = k;
			k++;
		}
		assert_true(at_tx >= 0 && at_sha > at_tx);
		assert_string_equal(json_string_value(json_object_get(ev, "sha256")), want);
		assert_non_null(json_object_get(ev, "body_path"));
		assert_true(json_is_integer(json_object_get(ev, "body_len")));
		assert_true(json_is_array(json_object_get(ev, "parts")));
		assert_memory_equal(end - 1, "}", 1);
		json_decref(ev);
		free(all);
	}
}

/* table_counts - row counts of every table, for idempotency comparisons */
static void
table_counts(const char *db, long long out[10])
{
	static const char *const tables[] = {
	    "sessions", "commands",      "helos",   "transactions", "recipients",
	    "messages", "auth_attempts", "signals", "limits",       "ip_intel"};
	char sql[128];
	size_t i;

	for (i = 0; i < ARRAY_LEN(tables); i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", tables[i]);
		out[i] = q_int(db, sql);
		assert_true(out[i] > 0);
	}
}

/* test_idempotent_and_dedupe - the same session twice adds no rows and no second body file */
static void
test_idempotent_and_dedupe(void **state)
{
	struct fx *f = *state;
	long long a[10], b[10];
	char bodies[128];
	size_t i;

	apply_session(f->s, SID, body1, strlen(body1));
	store_commit(f->s);
	table_counts(f->db, a);
	apply_session(f->s, SID, body1, strlen(body1));
	store_commit(f->s);
	table_counts(f->db, b);
	for (i = 0; i < 10; i++) {
		if (a[i] != b[i])
			fail_msg("table %zu: got %lld rows after re-apply, want %lld", i, b[i],
			         a[i]);
	}
	/* A second session with the identical body shares the content-addressed file. */
	apply_session(f->s, SID2, body1, strlen(body1));
	store_commit(f->s);
	snprintf(bodies, sizeof(bodies), "%s/bodies", f->dir);
	assert_int_equal(count_bodies(bodies), 1);
	expect_int(f->db, "SELECT count(DISTINCT body_path || body_offset) FROM messages", 1);
	expect_int(f->db, "SELECT count(DISTINCT sha256) FROM messages", 1);

	expect_int(f->db, "SELECT count(*) FROM messages", 2);
	expect_int(f->db, "SELECT count(*) FROM ip_intel", 1);

	/* A body over 64 KiB is spilled to a temp file and gets its own content-addressed file. */
	char *big = malloc(100000);
	assert_non_null(big);
	for (i = 0; i < 100000; i++)
		big[i] = (char)('a' + i % 26);
	assert_int_equal(store_body(f->s, SID2, 9, big, 60000), 0);
	assert_int_equal(store_body(f->s, SID2, 9, big + 60000, 40000), 0);
	put(f->s, SID2, 99, "relaytrap.message", ",\"tx\":9", 0);
	store_commit(f->s);
	size_t blen;
	char *got = read_stored(f->dir, f->db, SID2, 9, &blen);
	assert_non_null(got);
	assert_int_equal(blen, 100000);
	assert_memory_equal(got, big, blen);
	expect_int(f->db,
	           "SELECT body_path GLOB 'bodies/[0-9a-f][0-9a-f]/[0-9a-f][0-9a-f]/*.eml' FROM "
	           "messages WHERE tx = 9",
	           1);
	assert_int_equal(count_files(bodies, ".eml"), 1);
	free(got);
	free(big);
}

/* test_import_rebuild - a second store fed events.jsonl line by line rebuilds the same rows */
static void
test_import_rebuild(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = f->cfg;
	char jpath[128], dir2[64], db2[128], err[256], *buf, *line, *save = NULL;
	long long a[10], b[10];
	struct store *s2;
	size_t len, i;

	apply_session(f->s, SID, body1, strlen(body1));
	store_commit(f->s);
	table_counts(f->db, a);
	snprintf(jpath, sizeof(jpath), "%s/events.jsonl", f->dir);
	buf = read_all(jpath, &len);
	assert_non_null(buf);

	make_tmpdir(dir2, sizeof(dir2), "/tmp/rt_store_imp_");
	cfg.data_dir = dir2;
	cfg.write_jsonl = false;
	s2 = store_open(&cfg, err, sizeof(err));
	assert_non_null(s2);
	for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		assert_int_equal(store_event(s2, line, strlen(line)), 0);
	store_close(s2);
	free(buf);
	snprintf(db2, sizeof(db2), "%s/relaytrap.db", dir2);
	table_counts(db2, b);
	for (i = 0; i < 10; i++) {
		if (a[i] != b[i])
			fail_msg("table %zu: got %lld rows after import, want %lld", i, b[i], a[i]);
	}
	/* The imported message keeps the digest the live store computed. */
	expect_int(db2, "SELECT length(sha256) FROM messages", 64);
	snprintf(jpath, sizeof(jpath), "%s/events.jsonl", dir2);
	assert_int_equal(access(jpath, F_OK), -1);
	nftw(dir2, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* test_bulk_fresh - a bulk load into a new database runs without journal and indexes, ends in
 * WAL with every index, with the rows of a normal load; an existing database is loaded as it is,
 * and store_parse + store_apply on another thread's parse give the same rows */
static void
test_bulk_fresh(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = f->cfg;
	char jpath[128], dir2[64], db2[128], err[256], *buf, *line, *save = NULL;
	long long a[10], b[10];
	struct store_parsed p;
	struct store *s2;
	size_t len, i;
	int pass;

	apply_session(f->s, SID, body1, strlen(body1));
	apply_session(f->s, SID2, body1, strlen(body1));
	store_commit(f->s);
	table_counts(f->db, a);
	snprintf(jpath, sizeof(jpath), "%s/events.jsonl", f->dir);

	make_tmpdir(dir2, sizeof(dir2), "/tmp/rt_store_bulk_");
	snprintf(db2, sizeof(db2), "%s/relaytrap.db", dir2);
	cfg.data_dir = dir2;
	cfg.write_jsonl = false;
	cfg.store_bodies = false;
	cfg.bulk = true;
	for (pass = 0; pass < 2; pass++) {
		s2 = store_open(&cfg, err, sizeof(err));
		if (s2 == NULL)
			fail_msg("store_open: %s", err);
		/* Only the first open sees an empty file. */
		assert_int_equal(store_bulk_fresh(s2), pass == 0);
		if (pass == 0) {
			/* Nobody else may read it meanwhile: the exclusive lock is held. */
			sqlite3 *h = NULL;
			sqlite3_stmt *st = NULL;

			assert_int_equal(sqlite3_open_v2(db2, &h, SQLITE_OPEN_READONLY, NULL),
			                 SQLITE_OK);
			if (sqlite3_prepare_v2(h, "SELECT count(*) FROM sessions", -1, &st, NULL) ==
			    SQLITE_OK)
				assert_int_equal(sqlite3_step(st), SQLITE_BUSY);
			else
				assert_int_equal(sqlite3_errcode(h), SQLITE_BUSY);
			sqlite3_finalize(st);
			sqlite3_close(h);
		}
		buf = read_all(jpath, &len);
		assert_non_null(buf);
		for (line = strtok_r(buf, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			assert_int_equal(store_parse(&p, line, strlen(line)), 0);
			assert_true(p.valid);
			assert_int_equal(store_apply(s2, &p, NULL, 0), 0);
			store_parsed_clear(&p);
			store_parsed_clear(&p);
		}
		free(buf);
		assert_int_equal(store_bulk_end(s2), 0);
		store_close(s2);
		table_counts(db2, b);
		for (i = 0; i < 10; i++) {
			if (a[i] != b[i])
				fail_msg("pass %d table %zu: got %lld rows, want %lld", pass, i,
				         b[i], a[i]);
		}
		expect_text(db2, "PRAGMA journal_mode", "wal");
		expect_int(db2, "SELECT count(*) FROM sqlite_master WHERE type = 'index'",
		           q_int(f->db, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"));
		expect_text(db2, "PRAGMA integrity_check", "ok");
	}
	/* A refused line: nothing to apply, clearing is a no-op. */
	assert_int_equal(store_parse(&p, "{not json", 9), -1);
	assert_null(p.ev);
	store_parsed_clear(&p);
	nftw(dir2, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* test_hostile_events - malformed, mistyped, oversized and lying events never crash */
static void
test_hostile_events(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *name;
		const char *extra; /* appended to a valid command event; NULL = use raw */
		const char *raw;
		bool jsonl; /* an object, so it is kept in the JSONL */
	} cases[] = {
	    {"empty", NULL, "", false},
	    {"truncated", NULL, "{\"eventid\":", false},
	    {"array", NULL, "[1,2,3]", false},
	    {"string", NULL, "\"relaytrap.command\"", false},
	    {"number", NULL, "42", false},
	    {"trailing garbage", NULL, "{\"a\":1} x", false},
	    {"duplicate keys", NULL, "{\"a\":1,\"a\":2}", false},
	    {"bad utf-8", NULL, "{\"a\":\"\xff\"}", false},
	    {"empty object", NULL, "{}", true},
	    {"seq as string", ",\"seq\":\"1\",\"line\":\"x\"", NULL, true},
	    {"seq missing", ",\"line\":\"x\"", NULL, true},
	    {"line as number", ",\"seq\":1,\"line\":5", NULL, true},
	    {"flag as string", ",\"seq\":1,\"bare_lf\":\"yes\"", NULL, true},
	    {"bad base64", ",\"seq\":1,\"line\":\"x\",\"line_b64\":\"!!!\"", NULL, true},
	};
	char buf[4096], jpath[128], *big;
	size_t i, n;
	int lines = 0;

	for (i = 0; i < ARRAY_LEN(cases); i++) {
		if (cases[i].raw != NULL)
			snprintf(buf, sizeof(buf), "%s", cases[i].raw);
		else
			mkev(buf, sizeof(buf), SID, 1, "relaytrap.command", cases[i].extra);
		if (store_event(f->s, buf, strlen(buf)) != -1)
			fail_msg("%s: got 0, want -1", cases[i].name);
		lines += cases[i].jsonl;
	}
	/* Bad common fields: upper-case session id, a timestamp that is not RFC 3339. */
	put(f->s, "0123456789ABCDEF", 1, "relaytrap.signal", ",\"signal\":\"x\"", -1);
	snprintf(buf, sizeof(buf),
	         "{\"timestamp\":\"yesterday\",\"eventid\":\"relaytrap.limit\","
	         "\"session\":\"" SID "\",\"limit\":\"x\"}");
	assert_int_equal(store_event(f->s, buf, strlen(buf)), -1);
	lines += 2;

	/* A field over STORE_FIELD_MAX: JSONL only. An event over FRAME_MAX: refused outright. */
	n = STORE_FIELD_MAX + 100;
	big = malloc(FRAME_MAX + 200);
	assert_non_null(big);
	n = (size_t)snprintf(big, 200,
	                     "{\"timestamp\":\"2026-11-27T10:53:36Z\",\"eventid\":"
	                     "\"relaytrap.command\",\"session\":\"" SID "\",\"seq\":9,"
	                     "\"line\":\"");
	memset(big + n, 'A', STORE_FIELD_MAX + 1);
	strcpy(big + n + STORE_FIELD_MAX + 1, "\"}");
	assert_int_equal(store_event(f->s, big, strlen(big)), -1);
	lines++;
	memset(big + n, 'A', FRAME_MAX);
	strcpy(big + n + FRAME_MAX, "\"}");
	assert_int_equal(store_event(f->s, big, strlen(big)), -1);
	free(big);

	/* Nesting deeper than the parser allows is refused, not recursed into. */
	n = 100000;
	big = malloc(n + 1);
	assert_non_null(big);
	memset(big, '[', n);
	big[n] = '\0';
	assert_int_equal(store_event(f->s, big, n), -1);
	free(big);
	/* A body chunk whose session id would escape bodies/tmp is refused. */
	assert_int_equal(store_body(f->s, "../../x", 1, "a", 1), -1);
	assert_int_equal(store_body(f->s, "", 1, "a", 1), -1);

	/* A message that claims a body it does not have loses the claim. */
	put(f->s, SID, 2, "relaytrap.message",
	    ",\"tx\":7,\"sha256\":\"../../etc/passwd\",\"body_path\":\"/etc/passwd\"", 0);
	lines++;
	store_commit(f->s);
	expect_int(f->db, "SELECT count(*) FROM commands", 0);
	expect_int(f->db,
	           "SELECT count(*) FROM messages WHERE sha256 IS NULL AND body_path IS NULL", 1);
	snprintf(jpath, sizeof(jpath), "%s/events.jsonl", f->dir);
	assert_int_equal(count_lines(jpath, ""), lines);
	assert_int_equal(count_lines(jpath, "passwd"), 0);

	/* NUL bytes and exact non-UTF-8 bytes survive: the _b64 companion becomes a BLOB. */
	put(f->s, SID, 3, "relaytrap.command", ",\"seq\":1,\"line\":\"a\\u0000b\"", 0);
	put(f->s, SID, 4, "relaytrap.command",
	    ",\"seq\":2,\"line\":\"caf\xef\xbf\xbd\",\"line_b64\":\"Y2Fm6Q==\"", 0);
	store_commit(f->s);
	expect_int(f->db, "SELECT length(CAST(text AS BLOB)) FROM commands WHERE seq = 1", 3);
	expect_text(f->db, "SELECT typeof(text) FROM commands WHERE seq = 2", "blob");
	expect_text(f->db, "SELECT hex(text) FROM commands WHERE seq = 2", "636166E9");
}

/* frame_event - append one EVENT frame to a growing stream */
static size_t
frame_event(unsigned char *out, const char *json)
{
	size_t n = strlen(json);

	frame_header(out, FRAME_EVENT, n);
	memcpy(out + FRAME_HDR, json, n);
	return FRAME_HDR + n;
}

/* frame_body_chunk - append one BODY frame */
static size_t
frame_body_chunk(unsigned char *out, const char *sid, uint32_t tx, const void *p, size_t n)
{
	int k = frame_body_prefix(out + FRAME_HDR, FRAME_BODY_PREFIX_MAX, sid, tx);

	assert_true(k > 0);
	memcpy(out + FRAME_HDR + k, p, n);
	frame_header(out, FRAME_BODY, (size_t)k + n);
	return FRAME_HDR + (size_t)k + n;
}

/* run_child - store_run in a forked child over a socketpair; stream written in odd pieces */
static int
run_child(struct fx *f, const unsigned char *stream, size_t len)
{
	static const size_t steps[] = {1, 3, 7, 13, 64, 2, 501, 5};
	size_t off = 0, k = 0, n;
	int sv[2], status = 0;
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		_exit(store_run(sv[1], &f->cfg));
	}
	close(sv[1]);
	while (off < len) {
		n = steps[k++ % ARRAY_LEN(steps)];
		if (n > len - off)
			n = len - off;
		assert_int_equal(write(sv[0], stream + off, n), (ssize_t)n);
		off += n;
	}
	close(sv[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* test_run_loop - frames split at odd boundaries, then EOF: everything is committed */
static void
test_run_loop(void **state)
{
	struct fx *f = *state;
	unsigned char *stream = malloc(1 << 16);
	char ev[4096], want[65];
	size_t len = 0, i;

	assert_non_null(stream);
	store_close(f->s); /* the child opens its own store */
	f->s = NULL;
	for (i = 0; i < ARRAY_LEN(session_events); i++)
		len += frame_event(stream + len,
		                   mkev(ev, sizeof(ev), SID, (int)i, session_events[i].eventid,
		                        session_events[i].extra));
	len += frame_body_chunk(stream + len, SID, 1, body1, 10);
	frame_header(stream + len, FRAME_FLUSH, 0);
	len += FRAME_HDR;
	len += frame_body_chunk(stream + len, SID, 1, body1 + 10, strlen(body1) - 10);
	for (i = 0; i < ARRAY_LEN(session_tail); i++)
		len +=
		    frame_event(stream + len, mkev(ev, sizeof(ev), SID, 100 + (int)i,
		                                   session_tail[i].eventid, session_tail[i].extra));
	assert_int_equal(run_child(f, stream, len), 0);
	check_session_rows(f->db);
	sha256_hex(body1, strlen(body1), want);
	expect_text(f->db, "SELECT sha256 FROM messages", want);

	/* An unknown frame type ends the channel with an error; what came before is kept. */
	len = frame_event(stream, mkev(ev, sizeof(ev), SID2, 0, "relaytrap.session.connect", ""));
	memcpy(stream + len, "\0\0\0\0X", 5);
	len += 5;
	len += frame_event(stream + len,
	                   mkev(ev, sizeof(ev), SID2, 1, "relaytrap.signal", ",\"signal\":\"x\""));
	assert_int_equal(run_child(f, stream, len), 1);
	expect_int(f->db, "SELECT count(*) FROM sessions WHERE session = '" SID2 "'", 1);
	expect_int(f->db, "SELECT count(*) FROM signals WHERE session = '" SID2 "'", 0);

	/* An oversized length is refused before anything is read. */
	frame_header(stream, FRAME_EVENT, FRAME_MAX + 1);
	assert_int_equal(run_child(f, stream, FRAME_HDR), 1);
	free(stream);
}

/* wait_rows - poll the database until a query returns want (bounded to about 5 s) */
static bool
wait_rows(const char *db, const char *sql, long long want)
{
	int i;

	for (i = 0; i < 500; i++) {
		if (access(db, F_OK) == 0 && q_int(db, sql) == want)
			return true;
		usleep(10000);
	}
	return false;
}

/* send_stream - write a whole buffer to the socket */
static void
send_stream(int fd, const unsigned char *p, size_t len)
{
	assert_int_equal(write(fd, p, len), (ssize_t)len);
}

/* test_run_signals - SIGHUP reopens events.jsonl, SIGTERM keeps draining until EOF */
static void
test_run_signals(void **state)
{
	struct fx *f = *state;
	unsigned char stream[8192];
	char ev[4096], jpath[128], moved[128];
	int sv[2], status = 0;
	size_t len;
	pid_t pid;

	store_close(f->s);
	f->s = NULL;
	snprintf(jpath, sizeof(jpath), "%s/events.jsonl", f->dir);
	snprintf(moved, sizeof(moved), "%s/moved.jsonl", f->dir);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		_exit(store_run(sv[1], &f->cfg));
	}
	close(sv[1]);
	/* The first committed row proves the child's handlers are installed. */
	len = frame_event(stream, mkev(ev, sizeof(ev), SID, 0, "relaytrap.session.connect", ""));
	frame_header(stream + len, FRAME_FLUSH, 0);
	send_stream(sv[0], stream, len + FRAME_HDR);
	assert_true(wait_rows(f->db, "SELECT count(*) FROM sessions", 1));

	assert_int_equal(rename(jpath, moved), 0);
	assert_int_equal(kill(pid, SIGHUP), 0);
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(kill(pid, SIGINT), 0);
	usleep(50000);
	len = frame_event(
	    stream, mkev(ev, sizeof(ev), SID, 1, "relaytrap.signal", ",\"signal\":\"after_term\""));
	send_stream(sv[0], stream, len);
	close(sv[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	expect_int(f->db, "SELECT count(*) FROM signals WHERE signal = 'after_term'", 1);
	assert_int_equal(count_lines(moved, ""), 1);
	assert_int_equal(count_lines(jpath, "after_term"), 1);
}

/* test_rotation_and_reopen - rotated files keep every line; reopen follows a moved file */
static void
test_rotation_and_reopen(void **state)
{
	struct fx *f = *state;
	char jpath[512], moved[128];
	struct dirent *de;
	int i, total = 0, rotated = 0;
	DIR *d;

	f->cfg.jsonl_rotate_bytes = 2000;
	fx_reopen(f);
	for (i = 0; i < 50; i++) {
		char extra[64];

		snprintf(extra, sizeof(extra), ",\"seq\":%d,\"line\":\"NOOP\",\"verb\":\"NOOP\"",
		         i);
		put(f->s, SID, i, "relaytrap.command", extra, 0);
	}
	store_commit(f->s);
	d = opendir(f->dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "events", 6) != 0)
			continue;
		snprintf(jpath, sizeof(jpath), "%s/%s", f->dir, de->d_name);
		total += count_lines(jpath, "relaytrap.command");
		rotated += strncmp(de->d_name, "events-", 7) == 0;
	}
	closedir(d);
	if (total != 50)
		fail_msg("lines across rotated files: got %d, want 50", total);
	if (rotated < 2)
		fail_msg("rotated files: got %d, want >= 2", rotated);
	expect_int(f->db, "SELECT count(*) FROM commands", 50);

	snprintf(jpath, sizeof(jpath), "%s/events.jsonl", f->dir);
	snprintf(moved, sizeof(moved), "%s/moved.jsonl", f->dir);
	assert_int_equal(rename(jpath, moved), 0);
	assert_int_equal(store_reopen(f->s), 0);
	put(f->s, SID, 99, "relaytrap.signal", ",\"signal\":\"after_reopen\"", 0);
	store_commit(f->s);
	assert_int_equal(count_lines(jpath, ""), 1);
}

/* test_body_caps - store_body_max truncates, the disk budget drops, close discards temps */
static void
test_body_caps(void **state)
{
	struct fx *f = *state;
	char want[65], tmpdir[128], bodies[128], jpath[128];
	char big[80];

	f->cfg.store_body_max = 10;
	f->cfg.body_disk_budget = 25;
	fx_reopen(f);
	snprintf(tmpdir, sizeof(tmpdir), "%s/bodies/tmp", f->dir);
	snprintf(bodies, sizeof(bodies), "%s/bodies", f->dir);

	/* 43 bytes sent, 10 kept and hashed. */
	assert_int_equal(store_body(f->s, SID, 1, body1, strlen(body1)), 0);
	put(f->s, SID, 1, "relaytrap.message", ",\"tx\":1,\"size\":43,\"stored\":10", 0);
	store_commit(f->s);
	sha256_hex(body1, 10, want);
	expect_text(f->db, "SELECT sha256 FROM messages WHERE tx = 1", want);

	/* 10 more fit (20 of 25); the third body would pass the budget and is dropped whole. */
	memset(big, 'x', sizeof(big));
	assert_int_equal(store_body(f->s, SID, 2, big, 10), 0);
	put(f->s, SID, 2, "relaytrap.message", ",\"tx\":2", 0);
	assert_int_equal(store_body(f->s, SID, 3, "yyyyyyyyyy", 10), 0);
	put(f->s, SID, 3, "relaytrap.message", ",\"tx\":3", 0);
	store_commit(f->s);
	expect_int(f->db, "SELECT count(*) FROM messages WHERE sha256 IS NOT NULL", 2);
	expect_text(f->db, "SELECT body_dropped FROM messages WHERE tx = 3", "disk_budget");
	snprintf(jpath, sizeof(jpath), "%s/events.jsonl", f->dir);
	assert_int_equal(count_lines(jpath, "\"body_dropped\":\"disk_budget\""), 1);
	assert_int_equal(count_bodies(bodies), 2);
	assert_int_equal(count_files(tmpdir, ""), 0);

	/* Reopening counts what is on disk: still over budget for anything new. */
	fx_reopen(f);
	assert_int_equal(store_body(f->s, SID2, 1, "zzzzzzzzzz", 10), 0);
	put(f->s, SID2, 1, "relaytrap.message", ",\"tx\":1", 0);
	store_commit(f->s);
	expect_text(f->db, "SELECT body_dropped FROM messages WHERE session = '" SID2 "'",
	            "disk_budget");

	/* A session that closes mid-DATA leaves no temp file behind: a small body is only in
	 * memory, a large one (over 64 KiB) spills to a temp file that the close removes. */
	f->cfg.body_disk_budget = 0;
	f->cfg.store_body_max = 0;
	fx_reopen(f);
	assert_int_equal(store_body(f->s, SID2, 4, "partial", 7), 0);
	assert_int_equal(count_files(tmpdir, ""), 0);
	char *huge = malloc(70000);
	assert_non_null(huge);
	memset(huge, 'h', 70000);
	assert_int_equal(store_body(f->s, SID2, 5, huge, 70000), 0);
	free(huge);
	assert_int_equal(count_files(tmpdir, ""), 1);
	put(f->s, SID2, 9, "relaytrap.session.closed", ",\"reason\":\"client_closed\"", 0);
	assert_int_equal(count_files(tmpdir, ""), 0);
	assert_int_equal(count_bodies(bodies), 2);
}

/* A MIME message with a folded header, a quoted file name and an RFC 2231 one */
static const char mime_msg[] =
    "From: a@b.example\r\nSubject: hi\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed;\r\n\tboundary=\"XX\"\r\n\r\n"
    "--XX\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nHello relay test\r\n"
    "--XX\r\nContent-Type: application/zip;\r\n name=\"inv.zip\"\r\n"
    "Content-Disposition: attachment; filename=\"invoice 2026.zip\"\r\n\r\nUEsDBA==\r\n"
    "--XX\r\nContent-Type: Application/Octet-Stream\r\n"
    "Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.exe\r\n\r\nTVqQ\r\n"
    "--XX--\r\n";

/* test_bodyscan - body_text and parts do not depend on how the body is split into chunks */
static void
test_bodyscan(void **state)
{
	struct bodyscan *bs = malloc(sizeof(*bs));
	size_t len = strlen(mime_msg), cut, cut2;
	const char *text = strstr(mime_msg, "\r\n\r\n") + 4;

	(void)state;
	assert_non_null(bs);
	for (cut = 0; cut <= len; cut += 7) {
		for (cut2 = cut; cut2 <= len; cut2 += 23) {
			bodyscan_init(bs);
			bodyscan_feed(bs, mime_msg, cut);
			bodyscan_feed(bs, mime_msg + cut, cut2 - cut);
			bodyscan_feed(bs, mime_msg + cut2, len - cut2);
			bodyscan_finish(bs);
			assert_int_equal(bs->text_len, strlen(text));
			assert_memory_equal(bs->text, text, bs->text_len);
			assert_int_equal(bs->nparts, 4);
			assert_string_equal(bs->parts[0].type, "multipart/mixed");
			assert_string_equal(bs->parts[0].filename, "");
			assert_string_equal(bs->parts[1].type, "text/plain");
			assert_string_equal(bs->parts[2].type, "application/zip");
			/* Content-Disposition's filename wins over Content-Type's name. */
			assert_string_equal(bs->parts[2].filename, "invoice 2026.zip");
			assert_string_equal(bs->parts[3].type, "application/octet-stream");
			assert_string_equal(bs->parts[3].filename, "utf-8''r%C3%A9sum%C3%A9.exe");
		}
	}

	/* No header block end: no body text; hostile bytes; long lines; many parts capped. */
	bodyscan_init(bs);
	static const char hostile[] = "Subject: x\r\nContent-Type: \x01\xff/\x00zz\r\n";
	bodyscan_feed(bs, hostile, sizeof(hostile) - 1);
	bodyscan_finish(bs);
	assert_int_equal(bs->text_len, 0);
	assert_int_equal(bs->nparts, 1);
	assert_string_equal(bs->parts[0].type, "");
	bodyscan_init(bs);
	bodyscan_feed(bs, "\n", 1);
	for (int i = 0; i < 100; i++)
		bodyscan_feed(bs, "Content-Type: text/html\n\n", 25);
	char line[3000];
	memset(line, 'A', sizeof(line));
	bodyscan_feed(bs, line, sizeof(line));
	bodyscan_finish(bs);
	assert_int_equal(bs->nparts, BODYSCAN_PARTS_MAX);
	assert_int_equal(bs->text_len, BODYSCAN_TEXT_MAX);
	free(bs);
}

/* test_message_scan - the store adds body_text and parts to the message event and row */
static void
test_message_scan(void **state)
{
	struct fx *f = *state;
	char jpath[128];

	assert_int_equal(store_body(f->s, SID, 1, mime_msg, 100), 0);
	assert_int_equal(store_body(f->s, SID, 1, mime_msg + 100, strlen(mime_msg) - 100), 0);
	put(f->s, SID, 1, "relaytrap.message", ",\"tx\":1,\"body_text\":\"forged\"", 0);
	/* invalid UTF-8 in the body text: U+FFFD in the string, exact bytes in the BLOB */
	assert_int_equal(store_body(f->s, SID, 2, "S: x\r\n\r\nab\xff", 11), 0);
	put(f->s, SID, 2, "relaytrap.message", ",\"tx\":2", 0);
	store_commit(f->s);
	expect_int(f->db,
	           "SELECT body_text LIKE '--XX%Hello relay test%' FROM messages WHERE tx = 1", 1);
	expect_text(f->db, "SELECT json_extract(parts, '$[2].filename') FROM messages WHERE tx = 1",
	            "invoice 2026.zip");
	expect_int(f->db, "SELECT json_array_length(parts) FROM messages WHERE tx = 1", 4);
	expect_text(f->db, "SELECT typeof(body_text) FROM messages WHERE tx = 2", "blob");
	expect_text(f->db, "SELECT hex(body_text) FROM messages WHERE tx = 2", "6162FF");
	snprintf(jpath, sizeof(jpath), "%s/events.jsonl", f->dir);
	assert_int_equal(count_lines(jpath, "\"body_text_b64\":\"YWL/\""), 1);
	assert_int_equal(count_lines(jpath, "forged"), 0);
}

/* test_enrich - enrich events fill enrichments, history, sessions and ip_intel columns */
static void
test_enrich(void **state)
{
	struct fx *f = *state;

	put(f->s, SID, 1, "relaytrap.session.connect", ",\"proxied\":false", 0);
	put(f->s, SID, 2, "relaytrap.enrich",
	    ",\"kind\":\"geo\",\"country_code\":\"TW\",\"country\":\"Taiwan\",\"city\":\"Taipei\","
	    "\"latitude\":25.05,\"longitude\":121.53,\"asn\":3462,\"as_org\":\"HINET\"",
	    0);
	put(f->s, SID, 3, "relaytrap.enrich",
	    ",\"kind\":\"os\",\"os_class\":\"win\",\"os_name\":\"Windows\",\"os_flavor\":\"XP\","
	    "\"os_distance\":11,\"os_match\":\"exact\",\"syn\":{\"ttl\":117}",
	    0);
	put(f->s, SID, 4, "relaytrap.enrich",
	    ",\"kind\":\"dnsbl\",\"listed\":2,\"lookup_us\":1200,\"lists\":["
	    "{\"zone\":\"zen.spamhaus.org\",\"status\":\"listed\",\"codes\":[\"127.0.0.4\"]},"
	    "{\"zone\":\"bl.spamcop.net\",\"status\":\"not_listed\"},"
	    "{\"zone\":\"b.barracudacentral.org\",\"status\":\"listed\"}]",
	    0);
	put(f->s, SID, 5, "relaytrap.enrich",
	    ",\"kind\":\"rdns\",\"status\":\"ok\",\"ptr\":\"118-165-91-55.dynamic.hinet.net\","
	    "\"fcrdns\":true",
	    0);
	put(f->s, SID, 6, "relaytrap.enrich",
	    ",\"kind\":\"helo\",\"name\":\"user-3i39rqqo1r\",\"status\":\"nxdomain\","
	    "\"resolves\":false,\"matches_src\":false,\"fcrdns\":false",
	    0);
	/* wrong types are kept in the JSONL only */
	put(f->s, SID, 7, "relaytrap.enrich", ",\"kind\":\"geo\",\"latitude\":\"north\"", -1);
	put(f->s, SID, 8, "relaytrap.enrich", ",\"asn\":1", -1);
	store_commit(f->s);
	expect_int(f->db, "SELECT count(*) FROM enrichments", 5);
	expect_text(f->db,
	            "SELECT country || city || asn || os || dnsbl_listed || rdns || fcrdns ||"
	            " helo_resolves || helo_matches || helo_fcrdns FROM sessions",
	            "TWTaipei3462Windows XP2118-165-91-55.dynamic.hinet.net1000");
	expect_text(f->db,
	            "SELECT country || country_name || city || latitude || as_org || dnsbl ||"
	            " os_class || os_distance || rdns FROM ip_intel",
	            "TWTaiwanTaipei25.05HINET[\"zen.spamhaus.org\",\"b.barracudacentral.org\"]"
	            "win11118-165-91-55.dynamic.hinet.net");
	expect_int(f->db, "SELECT count(*) FROM ip_intel_history", 5);

	/* The same result again (only lookup_us differs) adds no history; a change does. */
	put(f->s, SID2, 10, "relaytrap.enrich",
	    ",\"kind\":\"dnsbl\",\"listed\":2,\"lookup_us\":99,\"cached\":true,\"lists\":["
	    "{\"zone\":\"zen.spamhaus.org\",\"status\":\"listed\",\"codes\":[\"127.0.0.4\"]},"
	    "{\"zone\":\"bl.spamcop.net\",\"status\":\"not_listed\"},"
	    "{\"zone\":\"b.barracudacentral.org\",\"status\":\"listed\"}]",
	    0);
	store_commit(f->s);
	expect_int(f->db, "SELECT count(*) FROM ip_intel_history WHERE kind = 'dnsbl'", 1);
	put(f->s, SID2, 11, "relaytrap.enrich",
	    ",\"kind\":\"dnsbl\",\"listed\":0,\"lists\":[{\"zone\":\"zen.spamhaus.org\","
	    "\"status\":\"not_listed\"}]",
	    0);
	store_commit(f->s);
	expect_int(f->db, "SELECT count(*) FROM ip_intel_history WHERE kind = 'dnsbl'", 2);
	expect_text(f->db, "SELECT dnsbl || dnsbl_listed FROM ip_intel", "[]0");
	/* An older result imported later does not overwrite the latest. */
	put(f->s, SID2, 9, "relaytrap.enrich", ",\"kind\":\"geo\",\"city\":\"Hualien\"", 0);
	store_commit(f->s);
	expect_text(f->db, "SELECT city FROM ip_intel", "Taipei");
	/* Applying everything again changes nothing. */
	put(f->s, SID, 2, "relaytrap.enrich",
	    ",\"kind\":\"geo\",\"country_code\":\"TW\",\"country\":\"Taiwan\",\"city\":\"Taipei\","
	    "\"latitude\":25.05,\"longitude\":121.53,\"asn\":3462,\"as_org\":\"HINET\"",
	    0);
	store_commit(f->s);
	expect_int(f->db, "SELECT count(*) FROM enrichments", 7);
	expect_int(f->db, "SELECT count(*) FROM ip_intel_history", 7);
}

/* test_enrich_history - the history's change test, with the store's cache of the latest rows:
 * repeats add nothing, changes and changes back add a row, an older result is compared with
 * the row before it, and a row another connection committed is seen */
static void
test_enrich_history(void **state)
{
	static const char *const a = ",\"kind\":\"dnsbl\",\"listed\":1,\"lists\":[{\"zone\":"
	                             "\"zen.spamhaus.org\",\"status\":\"listed\"}]";
	static const char *const b = ",\"kind\":\"dnsbl\",\"listed\":0,\"lists\":[{\"zone\":"
	                             "\"zen.spamhaus.org\",\"status\":\"not_listed\"}]";
	static const char *const q =
	    "SELECT group_concat((time_us % 1000000) || json_extract(data, '$.listed'), ' ')"
	    " FROM (SELECT * FROM ip_intel_history ORDER BY time_us)";
	struct fx *f = *state;
	sqlite3 *h = NULL;

	put(f->s, SID, 10, "relaytrap.enrich", a, 0);
	store_commit(f->s);
	put(f->s, SID, 11, "relaytrap.enrich", a, 0); /* a repeat, in a new batch */
	put(f->s, SID, 12, "relaytrap.enrich", a, 0); /* and in the same one */
	put(f->s, SID, 13, "relaytrap.enrich", b, 0); /* a change */
	put(f->s, SID, 14, "relaytrap.enrich", b, 0);
	put(f->s, SID, 15, "relaytrap.enrich", a, 0); /* back */
	store_commit(f->s);
	expect_text(f->db, q, "101 130 151");
	/* older than the latest: compared with the row before it (10: a), so b is a change
	 * there, a at 12 is not */
	put(f->s, SID, 12, "relaytrap.enrich", b, 0);
	put(f->s, SID, 11, "relaytrap.enrich", a, 0);
	put(f->s, SID, 16, "relaytrap.enrich", a, 0); /* still the same as the latest */
	store_commit(f->s);
	expect_text(f->db, q, "101 120 130 151");
	/* another connection (an import) writes a newer row: the next batch sees it */
	assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	assert_int_equal(sqlite3_exec(h,
	                              "INSERT INTO ip_intel_history (ip, kind, time, time_us, data)"
	                              " SELECT ip, kind, time, time_us + 7, '{\"listed\":0}'"
	                              " FROM ip_intel_history ORDER BY time_us DESC LIMIT 1",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(h);
	put(f->s, SID, 30, "relaytrap.enrich", a, 0);
	store_commit(f->s);
	expect_text(f->db, q, "101 120 130 151 220 301");
	/* results of other sizes: a longer one takes a larger block in its cache slot, one over
	 * the cache's data limit is compared in SQL; repeats of either add nothing */
	char c[1024], d[2048];
	snprintf(c, sizeof(c),
	         ",\"kind\":\"dnsbl\",\"listed\":2,\"lists\":[{\"zone\":\"%0600d\","
	         "\"status\":\"listed\"}]",
	         0);
	snprintf(d, sizeof(d),
	         ",\"kind\":\"dnsbl\",\"listed\":3,\"lists\":[{\"zone\":\"%01200d\","
	         "\"status\":\"listed\"}]",
	         0);
	put(f->s, SID, 40, "relaytrap.enrich", c, 0);
	put(f->s, SID, 41, "relaytrap.enrich", c, 0);
	put(f->s, SID, 42, "relaytrap.enrich", d, 0);
	put(f->s, SID, 43, "relaytrap.enrich", d, 0);
	put(f->s, SID, 44, "relaytrap.enrich", a, 0);
	store_commit(f->s);
	put(f->s, SID, 45, "relaytrap.enrich", a, 0);
	put(f->s, SID, 46, "relaytrap.enrich", c, 0);
	put(f->s, SID, 47, "relaytrap.enrich", c, 0);
	store_commit(f->s);
	expect_text(f->db, q, "101 120 130 151 220 301 402 423 441 462");
}

/* test_enrich_history_full - more sources than the history cache has memory for (35,000
 * results of ~1 KB against 24 MiB): the cache runs out of blocks, and the change test is still
 * right for sources it holds and for those it had no room for */
static void
test_enrich_history_full(void **state)
{
	enum { N = 35000 };
	struct fx *f = *state;
	static char pad[960];
	char ev[2048];
	int i, round;

	memset(pad, 'z', sizeof(pad) - 1);
	for (round = 0; round < 2; round++) {
		for (i = 0; i < N; i++) {
			/* round 2: the first and last 100 again, every tenth of them changed */
			if (round == 1 && i >= 100 && i < N - 100)
				continue;
			snprintf(
			    ev, sizeof(ev),
			    "{\"timestamp\":\"2026-11-27T1%d:%02d:%02d.000000Z\","
			    "\"eventid\":\"relaytrap.enrich\",\"session\":\"%024x\","
			    "\"sensor\":\"s1\",\"src_ip\":\"10.%d.%d.%d\",\"src_port\":1,"
			    "\"dst_ip\":\"198.51.100.1\",\"dst_port\":25,\"kind\":\"dnsbl\","
			    "\"listed\":%d,\"lists\":[{\"zone\":\"%s\",\"status\":\"listed\"}]}",
			    round, i / 60 % 60, i % 60, (unsigned)(round * N + i), i >> 16,
			    (i >> 8) & 255, i & 255, round == 1 && i % 10 == 0 ? 2 : 1, pad);
			assert_int_equal(store_event(f->s, ev, strlen(ev)), 0);
		}
		store_commit(f->s);
	}
	expect_int(f->db, "SELECT count(*) FROM ip_intel_history", N + 20);
	expect_int(f->db, "SELECT count(*) FROM ip_intel_history WHERE data LIKE '%\"listed\":2%'",
	           20);
}

/* put_geo_os - a geo event (Taipei) at t and an os event (Windows XP) at t + 1 whose raw SYN
 * has the IP ID ip_id */
static void
put_geo_os(struct store *s, const char *sid, int t, int ip_id)
{
	char os[256];

	put(s, sid, t, "relaytrap.enrich", ",\"kind\":\"geo\",\"city\":\"Taipei\"", 0);
	snprintf(os, sizeof(os),
	         ",\"kind\":\"os\",\"os_class\":\"win\",\"os_name\":\"Windows\",\"os_flavor\":"
	         "\"XP\",\"os_sig\":\"4:117+11\",\"syn\":{\"ip_id\":%d}",
	         ip_id);
	put(s, sid, t + 1, "relaytrap.enrich", os, 0);
}

/* test_enrich_repeat - what an enrich event does to ip_intel: an answer from the engine's DNS
 * cache that repeats the address's latest result leaves the row as it is (enriched_at stays
 * the time of the lookup), one with news or a fresh lookup updates it, a HELO check (a
 * session's name) never touches it; the session gets its columns every time */
static void
test_enrich_repeat(void **state)
{
	static const char *const q = "SELECT rdns || ' ' || (enriched_us % 1000000) FROM ip_intel";
	struct fx *f = *state;

	put(f->s, SID, 5, "relaytrap.session.connect", "", 0);
	put(f->s, SID, 10, "relaytrap.enrich",
	    ",\"kind\":\"rdns\",\"status\":\"ok\",\"ptr\":\"a.example\",\"cached\":false", 0);
	store_commit(f->s);
	expect_text(f->db, q, "a.example 10");
	put(f->s, SID2, 15, "relaytrap.session.connect", "", 0);
	put(f->s, SID2, 20, "relaytrap.enrich",
	    ",\"kind\":\"rdns\",\"status\":\"ok\",\"ptr\":\"a.example\",\"cached\":true,"
	    "\"lookup_us\":3,\"lookup_time\":\"2026-11-27T10:53:36.000010Z\"",
	    0);
	put(f->s, SID2, 25, "relaytrap.enrich",
	    ",\"kind\":\"helo\",\"name\":\"a.example\",\"status\":\"ok\",\"resolves\":true,"
	    "\"matches_src\":true,\"fcrdns\":true,\"cached\":true",
	    0);
	store_commit(f->s);
	expect_text(f->db, q, "a.example 10");
	expect_text(f->db,
	            "SELECT rdns || helo_resolves || helo_matches || helo_fcrdns FROM sessions"
	            " WHERE session = '" SID2 "'",
	            "a.example111");
	expect_int(f->db, "SELECT count(*) FROM enrichments", 3);
	/* cached, but not what the address had: news */
	put(f->s, SID2, 30, "relaytrap.enrich",
	    ",\"kind\":\"rdns\",\"status\":\"ok\",\"ptr\":\"b.example\",\"cached\":true", 0);
	store_commit(f->s);
	expect_text(f->db, q, "b.example 30");
	/* the same result from a fresh lookup: a new lookup time */
	put(f->s, SID2, 40, "relaytrap.enrich",
	    ",\"kind\":\"rdns\",\"status\":\"ok\",\"ptr\":\"b.example\",\"cached\":false", 0);
	store_commit(f->s);
	expect_text(f->db, q, "b.example 40");
	expect_text(f->db, "SELECT rdns FROM sessions WHERE session = '" SID2 "'", "b.example");
	expect_int(f->db, "SELECT count(*) FROM ip_intel_history", 3);

	/* geo and os: a repeat of the address's latest result (from the GeoIP files, from a new
	 * SYN that differs only in its raw fields) leaves ip_intel and the history alone, news
	 * updates both; the session gets its columns every time */
	put_geo_os(f->s, SID2, 50, 1);
	store_commit(f->s);
	expect_text(f->db, q, "b.example 51");
	expect_int(f->db, "SELECT count(*) FROM ip_intel_history", 5);
	put(f->s, SID3, 55, "relaytrap.session.connect", "", 0);
	put_geo_os(f->s, SID3, 60, 2);
	store_commit(f->s);
	expect_text(f->db, q, "b.example 51");
	expect_int(f->db, "SELECT count(*) FROM ip_intel_history", 5);
	expect_text(f->db, "SELECT city || os FROM sessions WHERE session = '" SID3 "'",
	            "TaipeiWindows XP");
	expect_text(f->db, "SELECT data FROM enrichments WHERE time_us % 1000000 = 61",
	            "{\"os_class\":\"win\",\"os_flavor\":\"XP\",\"os_name\":\"Windows\",\"os_sig\":"
	            "\"4:117+11\",\"syn\":{\"ip_id\":2}}");
	put(f->s, SID3, 70, "relaytrap.enrich", ",\"kind\":\"geo\",\"city\":\"Hualien\"", 0);
	store_commit(f->s);
	expect_text(f->db, q, "b.example 70");
	expect_text(f->db, "SELECT city FROM ip_intel", "Hualien");
	expect_int(f->db, "SELECT count(*) FROM ip_intel_history", 6);
}

/* q_text_int - the first column of the first row of sql with ?1 bound to an integer, as a heap
 * string ("" when NULL or no row) */
static char *
q_text_int(const char *db, const char *sql, long long arg)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	const unsigned char *t;
	char *out;

	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	/* a store process may hold the file locked for a moment (a fresh file's schema): wait */
	sqlite3_busy_timeout(h, 5000);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, arg);
	t = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
	out = strdup(t != NULL ? (const char *)t : "");
	assert_non_null(out);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return out;
}

/* The members every event has (and kind), which an enrichment result is stored without. */
static const char *const enrich_common[] = {"timestamp", "eventid",  "session", "sensor",
                                            "src_ip",    "src_port", "dst_ip",  "dst_port",
                                            "persona",   "listener", "kind"};

/* without_common - event text buf parsed, without its common members (the caller's reference) */
static json_t *
without_common(const char *buf)
{
	json_error_t jerr;
	json_t *ev = json_loads(buf, JSON_ALLOW_NUL, &jerr);

	assert_non_null(ev);
	for (size_t k = 0; k < sizeof(enrich_common) / sizeof(enrich_common[0]); k++)
		json_object_del(ev, enrich_common[k]);
	return ev;
}

/* expect_stored - the enrichments data that sql (?1 = arg) finds is event text buf without its
 * common members, byte for byte as json_dumps writes it sorted and compact */
static void
expect_stored(const char *db, const char *buf, const char *sql, long long arg)
{
	json_t *ev = without_common(buf);
	char *want = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
	char *got = q_text_int(db, sql, arg);

	assert_string_equal(got, want);
	free(got);
	free(want);
	json_decref(ev);
}

/* test_enrich_dns - the engine's one DNS event per session ({"kind":"dns"} with a part per
 * DNS kind) fills what the three per-kind events fill: the session's and the address's
 * columns, history per part; one enrichments row; a cached repeat leaves ip_intel alone,
 * a part that is not there keeps its columns, a bad part refuses the event */
static void
test_enrich_dns(void **state)
{
	static const char *const dnsbl =
	    "\"dnsbl\":{\"listed\":1,\"cached\":%s,\"lookup_us\":7,\"lists\":["
	    "{\"zone\":\"zen.spamhaus.org\",\"status\":\"listed\",\"codes\":[\"127.0.0.4\"]},"
	    "{\"zone\":\"bl.spamcop.net\",\"status\":\"not_listed\"}]}";
	static const char *const q = "SELECT rdns || fcrdns || dnsbl || dnsbl_listed || "
	                             "(enriched_us % 1000000) FROM ip_intel";
	struct fx *f = *state;
	char fields[2048], part[512], buf[4096];

	put(f->s, SID, 1, "relaytrap.session.connect", "", 0);
	snprintf(part, sizeof(part), dnsbl, "false");
	snprintf(fields, sizeof(fields),
	         ",\"kind\":\"dns\",\"rdns\":{\"status\":\"ok\",\"ptr\":\"a.example\","
	         "\"fcrdns\":true,\"cached\":false,\"lookup_us\":5},%s,"
	         "\"helo\":{\"name\":\"a.example\",\"status\":\"ok\",\"resolves\":true,"
	         "\"addrs\":[\"192.0.2.1\"],\"matches_src\":true,\"fcrdns\":true,"
	         "\"cached\":false,\"lookup_us\":9}",
	         part);
	put(f->s, SID, 4, "relaytrap.enrich", fields, 0);
	store_commit(f->s);
	expect_text(f->db,
	            "SELECT rdns || fcrdns || dnsbl_listed || helo_resolves || helo_matches ||"
	            " helo_fcrdns FROM sessions WHERE session = '" SID "'",
	            "a.example11111");
	expect_text(f->db, q, "a.example1[\"zen.spamhaus.org\"]14");
	expect_text(f->db,
	            "SELECT group_concat(kind, ' ') FROM (SELECT kind FROM ip_intel_history"
	            " ORDER BY kind)",
	            "dnsbl helo rdns");
	expect_text(f->db, "SELECT data FROM ip_intel_history WHERE kind = 'rdns'",
	            "{\"fcrdns\":true,\"ptr\":\"a.example\",\"status\":\"ok\"}");
	/* one enrichments row, the event without its common fields as json_dumps writes it */
	expect_text(f->db, "SELECT group_concat(kind) FROM enrichments", "dns");
	mkev(buf, sizeof(buf), SID, 4, "relaytrap.enrich", fields);
	expect_stored(f->db, buf, "SELECT data FROM enrichments WHERE ?1", 1);

	/* a returning source answered from the cache: its session gets the columns, the
	 * address's row and history stay */
	put(f->s, SID2, 5, "relaytrap.session.connect", "", 0);
	snprintf(part, sizeof(part), dnsbl, "true");
	snprintf(fields, sizeof(fields),
	         ",\"kind\":\"dns\",\"rdns\":{\"status\":\"ok\",\"ptr\":\"a.example\","
	         "\"fcrdns\":true,\"cached\":true,\"lookup_us\":1,"
	         "\"lookup_time\":\"2026-11-27T10:53:36.000004Z\"},%s",
	         part);
	put(f->s, SID2, 8, "relaytrap.enrich", fields, 0);
	store_commit(f->s);
	expect_text(f->db, q, "a.example1[\"zen.spamhaus.org\"]14");
	expect_int(f->db, "SELECT count(*) FROM ip_intel_history", 3);
	expect_text(f->db,
	            "SELECT rdns || fcrdns || dnsbl_listed || coalesce(helo_resolves, 'none')"
	            " FROM sessions WHERE session = '" SID2 "'",
	            "a.example11none");

	/* news in one part: that part's columns and a new lookup time; a part that is not
	 * there (no dnsbl) keeps its columns */
	put(f->s, SID2, 12, "relaytrap.enrich",
	    ",\"kind\":\"dns\",\"rdns\":{\"status\":\"ok\",\"ptr\":\"b.example\",\"fcrdns\":false,"
	    "\"cached\":true}",
	    0);
	store_commit(f->s);
	expect_text(f->db, q, "b.example0[\"zen.spamhaus.org\"]112");
	expect_int(f->db, "SELECT count(*) FROM ip_intel_history WHERE kind = 'rdns'", 2);

	/* parts are checked like events of their kind */
	put(f->s, SID2, 13, "relaytrap.enrich", ",\"kind\":\"dns\",\"rdns\":\"a.example\"", -1);
	put(f->s, SID2, 14, "relaytrap.enrich", ",\"kind\":\"dns\",\"dnsbl\":{\"listed\":\"two\"}",
	    -1);
	put(f->s, SID2, 15, "relaytrap.enrich",
	    ",\"kind\":\"dns\",\"helo\":{\"name\":\"x\",\"addrs\":[1]}", -1);
	store_commit(f->s);
	/* one row per session and kind: SID2's second dns event replaced its first */
	expect_int(f->db, "SELECT count(*) FROM enrichments", 2);
	expect_text(f->db, "SELECT time_us % 1000000 FROM enrichments WHERE session = '" SID2 "'",
	            "12");

	/* the stored form is the whole event's also when the store composes it from the parts'
	 * (no other member) and when it cannot (an unknown member); a part keeps every member */
	static const char *const shapes[] = {
	    ",\"kind\":\"dns\",\"rdns\":{\"status\":\"ok\",\"kind\":\"x\",\"src_ip\":\"y\","
	    "\"z\":[{\"b\":1,\"a\":2}]},\"helo\":{\"name\":\"\\u00e9\",\"cached\":true}",
	    ",\"kind\":\"dns\",\"zz\":{\"b\":1,\"a\":0},\"dnsbl\":{\"listed\":0},\"aa\":1",
	};
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		char sid[17];

		snprintf(sid, sizeof(sid), "%016zx", i + 0xd00);
		mkev(buf, sizeof(buf), sid, 20 + (int)i, "relaytrap.enrich", shapes[i]);
		assert_int_equal(store_event(f->s, buf, strlen(buf)), 0);
		store_commit(f->s);
		expect_stored(f->db, buf,
		              "SELECT data FROM enrichments WHERE time_us % 1000000 = ?1",
		              20 + (long long)i);
	}
	expect_text(
	    f->db,
	    "SELECT data FROM ip_intel_history WHERE kind = 'helo' AND time_us % 1000000 = 20",
	    "{\"name\":\"\u00e9\"}");
}

/* test_enrich_session_kind - the engine's one enrich event per session ({"kind":"session"}
 * with geo, os and DNS parts) fills the session's and the address's columns of every part,
 * history per part, one enrichments row stored as the whole event; a returning source with the
 * same geo and os and cached DNS leaves ip_intel alone; a bad geo or os part refuses the event;
 * a geo member of a dns event is no part of it */
static void
test_enrich_session_kind(void **state)
{
	static const char *const geo =
	    "\"geo\":{\"country_code\":\"TW\",\"country\":\"Taiwan\",\"city\":\"Taipei\","
	    "\"latitude\":25.0478,\"longitude\":121.5319,\"asn\":3462,"
	    "\"as_org\":\"Chunghwa Telecom\",\"geo_db\":\"ip-location-db\"}";
	static const char *const os =
	    "\"os\":{\"os_class\":\"win\",\"os_name\":\"Windows\",\"os_flavor\":\"XP\","
	    "\"os_distance\":3,\"os_match\":\"exact\",\"os_sig\":\"4:125+3:0:1460:65535,0:"
	    "mss,nop,nop,sok:df,id+:0\",\"syn\":{\"ttl\":125,\"ip_id\":%d}}";
	static const char *const q = "SELECT country || city || asn || latitude || os_class || rdns"
	                             " || (enriched_us % 1000000) FROM ip_intel";
	struct fx *f = *state;
	char fields[2048], part[512], buf[4096];

	put(f->s, SID, 1, "relaytrap.session.connect", "", 0);
	snprintf(part, sizeof(part), os, 1234);
	/* every part kind, in an order other than sorted, so the stored form's composition from the
	 * parts is checked in full */
	snprintf(fields, sizeof(fields),
	         ",\"kind\":\"session\",\"rdns\":{\"status\":\"ok\",\"ptr\":\"a.example\","
	         "\"fcrdns\":true,\"cached\":false,\"lookup_us\":5},%s,\"helo\":{\"name\":"
	         "\"a.example\",\"status\":\"ok\",\"resolves\":true,\"cached\":false},%s,"
	         "\"dnsbl\":{\"listed\":0,\"lists\":[],\"cached\":false}",
	         part, geo);
	put(f->s, SID, 4, "relaytrap.enrich", fields, 0);
	store_commit(f->s);
	expect_text(f->db,
	            "SELECT country || city || asn || os || rdns || fcrdns FROM sessions"
	            " WHERE session = '" SID "'",
	            "TWTaipei3462Windows XPa.example1");
	expect_text(f->db, q, "TWTaipei346225.0478wina.example4");
	expect_text(f->db,
	            "SELECT group_concat(kind, ' ') FROM (SELECT kind FROM ip_intel_history"
	            " ORDER BY kind)",
	            "dnsbl geo helo os rdns");
	/* the os part's change test leaves out the raw SYN (its IP ID changes every time) */
	expect_int(f->db,
	           "SELECT count(*) FROM ip_intel_history WHERE kind = 'os' AND data LIKE '%syn%'",
	           0);
	expect_text(f->db, "SELECT group_concat(kind) FROM enrichments", "session");
	mkev(buf, sizeof(buf), SID, 4, "relaytrap.enrich", fields);
	expect_stored(f->db, buf, "SELECT data FROM enrichments WHERE ?1", 1);

	/* the same source again, the same geo and stack (another IP ID), DNS from the cache: the
	 * session gets the columns, the address's row and history stay as they were */
	put(f->s, SID2, 5, "relaytrap.session.connect", "", 0);
	snprintf(part, sizeof(part), os, 999);
	snprintf(fields, sizeof(fields),
	         ",\"kind\":\"session\",%s,%s,\"rdns\":{\"status\":\"ok\","
	         "\"ptr\":\"a.example\",\"fcrdns\":true,\"cached\":true,\"lookup_us\":1}",
	         geo, part);
	put(f->s, SID2, 9, "relaytrap.enrich", fields, 0);
	store_commit(f->s);
	expect_text(f->db, q, "TWTaipei346225.0478wina.example4");
	expect_int(f->db, "SELECT count(*) FROM ip_intel_history", 5);
	expect_text(f->db, "SELECT country || os || rdns FROM sessions WHERE session = '" SID2 "'",
	            "TWWindows XPa.example");

	/* parts are checked like events of their kind */
	put(f->s, SID2, 10, "relaytrap.enrich",
	    ",\"kind\":\"session\",\"geo\":{\"latitude\":\"north\"}", -1);
	put(f->s, SID2, 11, "relaytrap.enrich", ",\"kind\":\"session\",\"os\":{\"syn\":[1]}", -1);
	put(f->s, SID2, 12, "relaytrap.enrich", ",\"kind\":\"session\",\"geo\":\"TW\"", -1);
	/* a dns event carries DNS parts only: its geo member is stored, not applied */
	put(f->s, SID3, 13, "relaytrap.session.connect", "", 0);
	put(f->s, SID3, 14, "relaytrap.enrich",
	    ",\"kind\":\"dns\",\"geo\":{\"country_code\":\"FR\"},\"rdns\":{\"status\":"
	    "\"nxdomain\"}",
	    0);
	store_commit(f->s);
	expect_text(f->db,
	            "SELECT coalesce(country, 'none') FROM sessions WHERE session = '" SID3 "'",
	            "none");
	expect_int(f->db, "SELECT count(*) FROM enrichments WHERE data LIKE '%FR%'", 1);
}

/* test_json_columns - the JSON text the store writes into enrichments.data,
 * ip_intel_history.data and the array/object columns is byte for byte what jansson's
 * json_dumps writes (sorted keys, compact), for hostile keys, strings and numbers too */
static void
test_json_columns(void **state)
{
	static const char *const cases[] = {
	    ",\"kind\":\"geo\",\"city\":\"Taipei\",\"latitude\":25.05,\"longitude\":-0.0,"
	    "\"asn\":3462",
	    ",\"kind\":\"dnsbl\",\"zz\":\"\\u0001\\u001f\\u007f\\\"\\\\/\\b\\f\\n\\r\\t\","
	    "\"lookup_us\":5,\"cached\":true,\"lists\":[{\"zone\":\"z\",\"status\":\"listed\"}]",
	    ",\"kind\":\"os\",\"syn\":{\"b\":1,\"a\":{\"d\":[2,{\"y\":1,\"x\":0}],\"c\":3}},"
	    "\"os_name\":\"\\u00e9\\u043a\\ud83d\\ude00\",\"nul\":\"a\\u0000b\"",
	    ",\"kind\":\"geo\",\"x\":[1.5,1e300,1e-7,123456789012345678,0.1,1E+22,2.5e-300,"
	    "-1.0,100.0,true,false,null,{},[],\"\",0,-7,-9223372036854775808,"
	    "9223372036854775807],\"lookup_time\":\"x\"",
	    /* more members than jkeys_sort sorts by insertion, and a nested object too */
	    ",\"kind\":\"rdns\",\"t\":1,\"s\":2,\"r\":3,\"q\":4,\"p\":5,\"o\":6,\"n\":7,"
	    "\"m\":8,\"l\":9,\"k\":10,\"j\":11,\"i\":12,\"h\":13,\"g\":14,\"f\":15,\"e\":16,"
	    "\"d\":17,\"c\":18,\"b\":{\"z\":1,\"y\":2,\"a\":{\"c\":0,\"b\":0}},\"a\":20",
	    ",\"kind\":\"rdns\",\"\\u043a\\u043b\\u044e\\u0447\":1,\"A\":2,\"a\":3,\"_\":4,"
	    "\"a\\u0001\":5,\"\":6,\"a b\":7,\"\\\"q\\\"\":8",
	    ",\"kind\":\"helo\"",
	};
	struct fx *f = *state;
	char buf[16384], reals[12288], sid[17], *got, *want, *wstable;
	json_t *ev, *v;
	json_error_t jerr;
	size_t i, n = sizeof(cases) / sizeof(cases[0]), at;

	/* and many reals, each twice and more than the store's cache of their texts holds: a
	 * text written again from it, or a slot another real has taken */
	at = (size_t)snprintf(reals, sizeof(reals), ",\"kind\":\"geo\",\"r\":[");
	for (i = 0; i < 400; i++)
		at += (size_t)snprintf(reals + at, sizeof(reals) - at, "%s%.4f,%.17g", i ? "," : "",
		                       (double)(i % 200) * 0.3721 - 37.5, (double)(i % 200) / 7.0);
	snprintf(reals + at, sizeof(reals) - at, "]");
	for (i = 0; i <= n; i++) {
		snprintf(sid, sizeof(sid), "%016zx", i + 0x100);
		mkev(buf, sizeof(buf), sid, (int)i + 1, "relaytrap.enrich",
		     i < n ? cases[i] : reals);
		if (store_event(f->s, buf, strlen(buf)) != 0)
			fail_msg("case %zu refused: %s", i, buf);
		store_commit(f->s);
		ev = without_common(buf);
		want = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
		json_object_del(ev, "lookup_us");
		json_object_del(ev, "lookup_time");
		json_object_del(ev, "cached");
		json_object_del(ev, "syn");
		wstable = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
		got = q_text_int(f->db, "SELECT data FROM enrichments WHERE time_us % 1000000 = ?1",
		                 (long long)i + 1);
		if (strcmp(got, want) != 0)
			fail_msg("case %zu data: got '%s', want '%s'", i, got, want);
		free(got);
		got = q_text_int(f->db,
		                 "SELECT data FROM ip_intel_history WHERE time_us % 1000000 = ?1",
		                 (long long)i + 1);
		if (strcmp(got, wstable) != 0)
			fail_msg("case %zu history: got '%s', want '%s'", i, got, wstable);
		free(got);
		free(want);
		free(wstable);
		json_decref(ev);
	}

	/* Arrays and objects in columns keep the event's member order. */
	mkev(buf, sizeof(buf), SID2, 50, "relaytrap.mail",
	     ",\"tx\":7,\"address\":\"a@b\",\"raw\":\"a@b\",\"flags\":[\"brackets\",\"x\\u0002\"],"
	     "\"params\":{\"SIZE\":\"1\",\"BODY\":\"8BITMIME\\u00e9\",\"AUTH\":\"<>\"}");
	assert_int_equal(store_event(f->s, buf, strlen(buf)), 0);
	store_commit(f->s);
	ev = json_loads(buf, JSON_ALLOW_NUL, &jerr);
	assert_non_null(ev);
	v = json_object_get(ev, "params");
	want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	got = q_text_int(f->db, "SELECT params FROM transactions WHERE tx = ?1", 7);
	assert_string_equal(got, want);
	free(got);
	free(want);
	want = json_dumps(json_object_get(ev, "flags"), JSON_COMPACT | JSON_ENCODE_ANY);
	got = q_text_int(f->db, "SELECT flags FROM transactions WHERE tx = ?1", 7);
	assert_string_equal(got, want);
	free(got);
	free(want);
	json_decref(ev);
}

/* test_migrate_v1 - a schema-1 database is migrated in place, its rows kept */
static void
test_migrate_v1(void **state)
{
	struct fx *f = *state;
	char *msg = NULL;
	sqlite3 *db;

	store_close(f->s);
	f->s = NULL;
	unlink(f->db);
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(
	        db,
	        "CREATE TABLE sessions (session TEXT PRIMARY KEY, sensor TEXT, listener TEXT,"
	        " persona TEXT, src_ip TEXT, src_port INTEGER, dst_ip TEXT, dst_port INTEGER,"
	        " proxied INTEGER, proxy_version INTEGER, peer_ip TEXT, peer_port INTEGER,"
	        " start_time TEXT, start_us INTEGER, end_time TEXT, end_us INTEGER,"
	        " duration_us INTEGER, reason TEXT, greeting TEXT, helo TEXT, commands INTEGER,"
	        " bad_commands INTEGER, messages INTEGER, rcpts INTEGER, auth_attempts INTEGER,"
	        " bytes_in INTEGER, bytes_out INTEGER, stage TEXT, first_cmd_us INTEGER);"
	        "CREATE TABLE messages (id INTEGER PRIMARY KEY, session TEXT NOT NULL,"
	        " tx INTEGER NOT NULL, time TEXT NOT NULL, time_us INTEGER NOT NULL, via TEXT,"
	        " size INTEGER, stored INTEGER, truncated INTEGER, complete INTEGER,"
	        " accepted INTEGER, msgid TEXT, mail_from TEXT, rcpts TEXT, rcpt_count INTEGER,"
	        " hdr_from TEXT, hdr_to TEXT, hdr_subject TEXT, hdr_date TEXT,"
	        " hdr_message_id TEXT, hdr_x_mailer TEXT, sha256 TEXT, body_path TEXT,"
	        " body_dropped TEXT, UNIQUE (session, tx));"
	        "CREATE TABLE ip_intel (ip TEXT PRIMARY KEY NOT NULL, first_seen TEXT NOT NULL,"
	        " first_seen_us INTEGER NOT NULL, last_seen TEXT NOT NULL,"
	        " last_seen_us INTEGER NOT NULL, country TEXT, city TEXT, asn INTEGER,"
	        " as_org TEXT, dnsbl TEXT, os TEXT, rdns TEXT, enriched_at TEXT);"
	        "INSERT INTO sessions (session, src_ip) VALUES ('" SID "', '192.0.2.7');"
	        "PRAGMA user_version = 1;",
	        NULL, NULL, &msg),
	    SQLITE_OK);
	sqlite3_close(db);
	fx_reopen(f);
	expect_int(f->db, "PRAGMA user_version", STORE_DB_SCHEMA_VERSION);
	expect_int(f->db, "SELECT count(*) FROM sessions WHERE src_ip = '192.0.2.7'", 1);
	put(f->s, SID, 2, "relaytrap.enrich", ",\"kind\":\"geo\",\"city\":\"Taipei\"", 0);
	put(f->s, SID, 3, "relaytrap.message", ",\"tx\":1,\"parts\":[]", 0);
	store_commit(f->s);
	expect_text(f->db, "SELECT city FROM sessions", "Taipei");
	expect_int(f->db, "SELECT count(*) FROM messages", 1);
}

/* test_migrate_v2 - a schema-2 database loses the two command-line indexes no reader uses
 * (docs/database.md), keeps its rows and takes new events */
static void
test_migrate_v2(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;

	put(f->s, SID, 1, "relaytrap.session.connect", "", 0);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                              "CREATE INDEX commands_time ON commands (time_us);"
	                              "CREATE INDEX commands_verb ON commands (direction, verb);"
	                              "CREATE INDEX enrichments_kind ON enrichments (kind);"
	                              "PRAGMA user_version = 2;",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	fx_reopen(f);
	expect_int(f->db, "PRAGMA user_version", STORE_DB_SCHEMA_VERSION);
	expect_int(f->db,
	           "SELECT count(*) FROM sqlite_master WHERE name IN ('commands_time', "
	           "'commands_verb', 'enrichments_kind')",
	           0);
	expect_int(f->db, "SELECT count(*) FROM sqlite_master WHERE name = 'commands_client'", 1);
	expect_int(f->db, "SELECT count(*) FROM sessions", 1);
	put(f->s, SID, 2, "relaytrap.command",
	    ",\"seq\":1,\"t_us\":900,\"line\":\"EHLO x\",\"verb\":\"EHLO\",\"len\":6", 0);
	store_commit(f->s);
	expect_int(f->db, "SELECT count(*) FROM commands WHERE verb = 'EHLO'", 1);
}

/* test_schema_newer - a database from a newer relaytrap is refused with a clear error */
/* test_migrate_v3 - version 3 loses enrichments_kind, keeps its rows and indexes */
static void
test_migrate_v3(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;

	put(f->s, SID, 1, "relaytrap.session.connect", "", 0);
	put(f->s, SID, 2, "relaytrap.enrich",
	    ",\"kind\":\"rdns\",\"status\":\"ok\",\"ptr\":\"a.example\"", 0);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                              "CREATE INDEX enrichments_kind ON enrichments (kind);"
	                              "PRAGMA user_version = 3;",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	fx_reopen(f);
	expect_int(f->db, "PRAGMA user_version", 4);
	expect_int(f->db, "SELECT count(*) FROM sqlite_master WHERE name = 'enrichments_kind'", 0);
	expect_int(f->db, "SELECT count(*) FROM sqlite_master WHERE name = 'ip_intel_last'", 1);
	expect_text(f->db, "SELECT rdns FROM sessions", "a.example");
	expect_int(f->db, "SELECT count(*) FROM enrichments", 1);
}

static void
test_schema_newer(void **state)
{
	struct fx *f = *state;
	char err[256];
	sqlite3 *h;

	store_close(f->s);
	f->s = NULL;
	assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	err[0] = '\0';
	assert_null(store_open(&f->cfg, err, sizeof(err)));
	if (strstr(err, "newer") == NULL)
		fail_msg("error: got '%s', want a 'newer' schema message", err);
	expect_text(f->db, "PRAGMA journal_mode", "wal");
}

/* test_bench - throughput of store_event with batching (printed, not asserted) */
static void
test_bench(void **state)
{
	struct fx *f = *state;
	const char *env = getenv("RT_STORE_BENCH_EVENTS");
	long n = env ? atol(env) : 20000, i;
	char buf[1024], extra[256], sid[17];
	struct timespec c0, c1;
	uint64_t t0, t1;
	double cpu;

	if (n < 1)
		n = 20000;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	t0 = now_mono_us();
	for (i = 0; i < n; i++) {
		/* Ten events per session, like a short bot conversation. */
		snprintf(sid, sizeof(sid), "%016lx", (unsigned long)(i / 10));
		snprintf(extra, sizeof(extra),
		         ",\"seq\":%ld,\"t_us\":%ld,\"line\":\"RCPT TO:<user%ld@victim.example>\","
		         "\"verb\":\"RCPT\",\"len\":32",
		         i % 10, i, i);
		mkev(buf, sizeof(buf), sid, (int)(i % 1000000), "relaytrap.command", extra);
		if (store_event(f->s, buf, strlen(buf)) != 0)
			fail_msg("event %ld refused", i);
	}
	store_commit(f->s);
	t1 = now_mono_us();
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	/* CPU time as well as wall time: the wall clock depends on whatever else the host runs. */
	cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
	printf(
	    "store bench: %ld events in %.3f s wall = %.0f events/s; %.3f s CPU = %.0f events/s\n",
	    n, (double)(t1 - t0) / 1e6, (double)n * 1e6 / (double)(t1 - t0 + 1), cpu,
	    (double)n / (cpu > 0 ? cpu : 1e-9));
	expect_int(f->db, "SELECT count(*) FROM commands", n);
}

/* main - run every store and frame test */
int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_frame_header),
	    cmocka_unit_test(test_frame_body),
	    cmocka_unit_test(test_time_parse),
	    cmocka_unit_test_setup_teardown(test_full_session, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_idempotent_and_dedupe, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_import_rebuild, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_events, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_run_loop, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_run_signals, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_rotation_and_reopen, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_body_caps, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_v2, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_v3, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_schema_newer, fx_setup, fx_teardown),
	    cmocka_unit_test(test_bodyscan),
	    cmocka_unit_test_setup_teardown(test_message_scan, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_enrich, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_enrich_history, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_enrich_history_full, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_enrich_repeat, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_enrich_dns, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_enrich_session_kind, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_json_columns, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_bulk_fresh, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_v1, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_bench, fx_setup, fx_teardown),
	};

	log_init("test_store", LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
