/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for report/: a real capture database built by feeding events through the store's
 * store_event(), the JSON model checked section by section (counts, HELO classes, commands,
 * sequences, stages, probes, families, drop-boxes, probe → bulk, mismatch, credentials,
 * sources, dialect, filters), the escaping paths (HTML with a hostile HELO, terminal, CSV),
 * the text output's 80-column limit, the CSV files, and the tally table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "capture/store.h"
#include "capture/store_db.h"
#include "core/str.h"
#include "core/util.h"
#include "report/classify.h"
#include "report/esc.h"
#include "report/report.h"
#include "report/tally.h"

#define HOSTILE_HELO "<script>alert(\"x\")</script>'\x1b[31m\x01\xff\xfe"
#define HP_IP "198.51.100.1"
#define IP_A "192.0.2.7"   /* probes, then comes back with bulk mail */
#define IP_C "203.0.113.9" /* hostile HELO, credentials */
#define IP_D "198.18.0.5"  /* port scan and banner grab */

struct fx {
	char dir[64];
	char db[128];
	json_t *m;
};

/* rm_cb - nftw callback removing one entry of the temp tree */
static int
rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void ev(struct store *s, const char *sid, const char *ip, int sec, const char *eventid,
               const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* ev - apply one event with the common fields; extra is "" or starts with a comma */
static void
ev(struct store *s, const char *sid, const char *ip, int sec, const char *eventid, const char *fmt,
   ...)
{
	char extra[4096], buf[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(extra, sizeof(extra), fmt, ap);
	va_end(ap);
	n = snprintf(buf, sizeof(buf),
	             "{\"timestamp\":\"2026-11-%02dT%02d:%02d:%02d.000000Z\",\"eventid\":\"%s\","
	             "\"session\":\"%s\",\"sensor\":\"s1\",\"src_ip\":\"%s\",\"src_port\":40000,"
	             "\"dst_ip\":\"" HP_IP "\",\"dst_port\":25,\"persona\":\"exchange2000\","
	             "\"listener\":\"smtp\"%s}",
	             1 + sec / 86400, (sec / 3600) % 24, (sec / 60) % 60, sec % 60, eventid, sid,
	             ip, extra);
	if (store_event(s, buf, (size_t)n) != 0)
		fail_msg("store_event refused: %s", buf);
}

/* cmd - a client line and the server's reply */
static void
cmd(struct store *s, const char *sid, const char *ip, int sec, int *seq, const char *line,
    const char *verb, int code)
{
	ev(s, sid, ip, sec, "relaytrap.command",
	   ",\"seq\":%d,\"t_us\":%d,\"line\":\"%s\",\"verb\":\"%s\",\"len\":%zu", *seq, *seq * 1000,
	   line, verb, strlen(line));
	(*seq)++;
	ev(s, sid, ip, sec, "relaytrap.reply",
	   ",\"seq\":%d,\"t_us\":%d,\"code\":%d,\"text\":\"%d ok\"", *seq, *seq * 1000 + 10, code,
	   code);
	(*seq)++;
}

/* closed - the session's close event */
static void
closed(struct store *s, const char *sid, const char *ip, int sec, const char *greeting,
       const char *helo, int cmds, int msgs, int bytes_in, int bytes_out, const char *stage)
{
	ev(s, sid, ip, sec, "relaytrap.session.closed",
	   ",\"reason\":\"quit\",\"duration_us\":5000,\"first_cmd_us\":%d,\"greeting\":\"%s\","
	   "\"helo\":\"%s\",\"commands\":%d,\"bad_commands\":0,\"messages\":%d,\"rcpts\":%d,"
	   "\"auth_attempts\":0,\"bytes_in\":%d,\"bytes_out\":%d,\"stage\":\"%s\"",
	   cmds > 0 ? 100 : -1, greeting, helo, cmds, msgs, msgs, bytes_in, bytes_out, stage);
}

/* mail_session - EHLO, MAIL, RCPT, DATA, QUIT with one message */
static void
mail_session(struct store *s, const char *sid, const char *ip, int sec, const char *ehlo,
             const char *from, const char *rcpt, const char *hfrom, const char *subject,
             const char *body)
{
	int seq = 1;
	char line[512];

	ev(s, sid, ip, sec, "relaytrap.session.connect", ",\"proxied\":false");
	snprintf(line, sizeof(line), "ehlo %s", ehlo);
	cmd(s, sid, ip, sec, &seq, line, "EHLO", 250);
	ev(s, sid, ip, sec, "relaytrap.helo", ",\"verb\":\"EHLO\",\"name\":\"%s\"", ehlo);
	ev(s, sid, ip, sec, "relaytrap.signal",
	   ",\"signal\":\"verb_lowercase\",\"detail\":\"ehlo\"");
	snprintf(line, sizeof(line), "MAIL FROM:<%s>", from);
	cmd(s, sid, ip, sec, &seq, line, "MAIL", 250);
	ev(s, sid, ip, sec, "relaytrap.mail",
	   ",\"tx\":1,\"address\":\"%s\",\"raw\":\"<%s>\",\"flags\":[\"brackets\"],\"params\":{},"
	   "\"accepted\":true",
	   from, from);
	snprintf(line, sizeof(line), "RCPT TO:<%s>", rcpt);
	cmd(s, sid, ip, sec, &seq, line, "RCPT", 250);
	ev(s, sid, ip, sec, "relaytrap.rcpt",
	   ",\"tx\":1,\"address\":\"%s\",\"raw\":\"<%s>\",\"flags\":[\"brackets\"],\"params\":{},"
	   "\"accepted\":true",
	   rcpt, rcpt);
	cmd(s, sid, ip, sec, &seq, "DATA", "DATA", 354);
	ev(s, sid, ip, sec, "relaytrap.message",
	   ",\"tx\":1,\"via\":\"DATA\",\"size\":300,\"stored\":0,\"truncated\":false,"
	   "\"complete\":true,\"accepted\":true,\"msgid\":\"Q1\",\"mail_from\":\"%s\","
	   "\"rcpts\":[\"%s\"],\"hdr_from\":\"%s\",\"hdr_to\":\"<%s>\",\"hdr_subject\":\"%s\","
	   "\"body_text\":\"%s\",\"parts\":[{\"type\":\"text/plain\"},"
	   "{\"type\":\"application/zip\",\"filename\":\"invoice.ZIP\"}]",
	   from, rcpt, hfrom, rcpt, subject, body);
	cmd(s, sid, ip, sec, &seq, "QUIT", "QUIT", 221);
	closed(s, sid, ip, sec, "EHLO", ehlo, 5, 1, 300, 600, "message");
}

/* build - the capture: a probe and later bulk mail from A, a hostile HELO with AUTH and an
 * unknown verb from C, a port scan and a banner grab from D */
static void
build(struct fx *f)
{
	struct store_config cfg;
	struct store *s;
	char err[256];
	int seq = 1;

	memset(&cfg, 0, sizeof(cfg));
	cfg.data_dir = f->dir;
	cfg.write_jsonl = false;
	cfg.store_bodies = false;
	s = store_open(&cfg, err, sizeof(err));
	if (s == NULL)
		fail_msg("store_open: %s", err);
	/* A: a relay test with the honeypot's address, to a drop-box */
	mail_session(s, "aaaa000000000001", IP_A, 3600, "user-3i39rqqo1r", "scan@probe.example",
	             "dropbox@collect.example", "<scan@probe.example>",
	             "Super webscan open relay check succeded, hostname = " HP_IP,
	             "open relay check " HP_IP);
	/* A again, two hours later: bulk mail whose From: differs from MAIL FROM */
	mail_session(s, "aaaa000000000002", IP_A, 3600 + 7200, "user-3i39rqqo1r",
	             "bounce@shop.example", "victim@mail.example",
	             "Cheap Watches <sales@watches.example>", "Cheap watches 12345",
	             "Buy cheap watches now at http://watches.example/12345");
	/* C: hostile HELO (invalid UTF-8 kept as bytes), AUTH LOGIN twice, an unknown verb */
	ev(s, "cccc000000000001", IP_C, 4000, "relaytrap.session.connect", ",\"proxied\":false");
	cmd(s, "cccc000000000001", IP_C, 4000, &seq, "HELO x", "HELO", 250);
	ev(s, "cccc000000000001", IP_C, 4000, "relaytrap.helo",
	   ",\"verb\":\"HELO\",\"name\":\"<script>alert(\\\"x\\\")</script>'\\u001b[31m\\u0001"
	   "\\ufffd\\ufffd\",\"name_b64\":\"PHNjcmlwdD5hbGVydCgieCIpPC9zY3JpcHQ+JxtbMzFtAf/+\"");
	cmd(s, "cccc000000000001", IP_C, 4000, &seq, "AUTH LOGIN", "AUTH", 334);
	ev(s, "cccc000000000001", IP_C, 4000, "relaytrap.auth",
	   ",\"mechanism\":\"LOGIN\",\"supported\":true,\"username\":\"admin\","
	   "\"password\":\"123456\",\"outcome\":\"failed\"");
	cmd(s, "cccc000000000001", IP_C, 4001, &seq, "AUTH LOGIN", "AUTH", 334);
	ev(s, "cccc000000000001", IP_C, 4001, "relaytrap.auth",
	   ",\"mechanism\":\"LOGIN\",\"supported\":true,\"username\":\"admin\","
	   "\"password\":\"=cmd|' /C calc'!A0\",\"outcome\":\"failed\"");
	cmd(s, "cccc000000000001", IP_C, 4002, &seq, "GET / HTTP/1.0", "", 500);
	ev(s, "cccc000000000001", IP_C, 4002, "relaytrap.signal",
	   ",\"signal\":\"non_smtp_http\",\"detail\":\"GET\"");
	ev(s, "cccc000000000001", IP_C, 4003, "relaytrap.session.closed",
	   ",\"reason\":\"quit\",\"duration_us\":5000,\"first_cmd_us\":100,\"greeting\":\"HELO\","
	   "\"helo\":\"<script>alert(\\\"x\\\")</script>'\\u001b[31m\\u0001\\ufffd\\ufffd\","
	   "\"helo_b64\":\"PHNjcmlwdD5hbGVydCgieCIpPC9zY3JpcHQ+JxtbMzFtAf/+\",\"commands\":4,"
	   "\"bad_commands\":1,\"messages\":0,\"rcpts\":0,\"auth_attempts\":2,\"bytes_in\":80,"
	   "\"bytes_out\":200,\"stage\":\"helo\"");
	/* D: a port scan (closed before the banner) and a banner grab */
	ev(s, "dddd000000000001", IP_D, 5000, "relaytrap.session.connect", ",\"proxied\":false");
	closed(s, "dddd000000000001", IP_D, 5000, "", "", 0, 0, 0, 0, "connect");
	ev(s, "dddd000000000002", IP_D, 5001, "relaytrap.session.connect", ",\"proxied\":false");
	/* the banner, as the session engine numbers it: the transcript's first entry, seq 1 */
	ev(s, "dddd000000000002", IP_D, 5001, "relaytrap.reply",
	   ",\"seq\":1,\"t_us\":1000,\"code\":220,\"text\":\"220 exch01.corp.example.com"
	   " Microsoft ESMTP MAIL Service, Version: 5.0.2195.6713 ready\"");
	closed(s, "dddd000000000002", IP_D, 5001, "", "", 0, 0, 0, 120, "connect");
	assert_int_equal(store_commit(s), 0);
	store_close(s);
}

/* setup - a data directory with the capture and its default model */
static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct report_opts o;
	char err[512];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/rt_report_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/relaytrap.db", f->dir);
	build(f);
	memset(&o, 0, sizeof(o));
	o.top = 20;
	f->m = report_build(f->db, &o, err, sizeof(err));
	if (f->m == NULL)
		fail_msg("report_build: %s", err);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	json_decref(f->m);
	nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* jint - an integer at a path like "overview.sessions" */
static long long
jint(json_t *m, const char *a, const char *b)
{
	json_t *v = json_object_get(json_object_get(m, a), b);

	if (!json_is_integer(v))
		fail_msg("%s.%s is not an integer", a, b);
	return (long long)json_integer_value(v);
}

/* row_where - the first row of m[a][b] whose key k equals the string v (NULL when none) */
static json_t *
row_where(json_t *m, const char *a, const char *b, const char *k, const char *v)
{
	json_t *arr = json_object_get(json_object_get(m, a), b), *r;
	size_t i;

	json_array_foreach(arr, i, r)
	{
		const char *s = json_string_value(json_object_get(r, k));
		if (s != NULL && strcmp(s, v) == 0)
			return r;
	}
	return NULL;
}

#define EXPECT(a, b, want)                                                                         \
	do {                                                                                       \
		long long got_ = jint(f->m, a, b);                                                 \
		if (got_ != (want))                                                                \
			fail_msg("%s.%s: got %lld, want %lld", a, b, got_, (long long)(want));     \
	} while (0)

static void
test_overview(void **state)
{
	struct fx *f = *state;

	EXPECT("overview", "sessions", 5);
	EXPECT("overview", "sources", 3);
	EXPECT("overview", "silent_sessions", 2);
	EXPECT("overview", "port_scans", 1);
	EXPECT("overview", "banner_grabs", 1);
	EXPECT("overview", "messages", 2);
	EXPECT("overview", "messages_accepted", 2);
	EXPECT("overview", "auth_attempts", 2);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(f->m, "overview"), "first")),
	    "2026-11-01T01:00:00Z");
	assert_int_equal(
	    json_array_size(json_object_get(json_object_get(f->m, "overview"), "listeners")), 1);
	/* the honeypot's name comes from the first 220 banner (seq 1, in the banner grab) */
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(f->m, "report"), "honeypot")),
	    "exch01.corp.example.com");
}

static void
test_activity(void **state)
{
	struct fx *f = *state;
	json_t *a = json_object_get(f->m, "activity"), *r;
	long long sum = 0, msgs = 0;
	size_t i;

	assert_string_equal(json_string_value(json_object_get(a, "bucket")), "hour");
	json_array_foreach(json_object_get(a, "series"), i, r)
	{
		sum += json_integer_value(json_object_get(r, "sessions"));
		msgs += json_integer_value(json_object_get(r, "messages"));
	}
	assert_int_equal(sum, 5);
	assert_int_equal(msgs, 2);
	/* 2026-11-01 is a Sunday; four sessions started between 01:00 and 02:00 UTC, one at 03:00
	 */
	r = json_array_get(json_object_get(a, "heatmap"), 6 * 24 + 1);
	assert_string_equal(json_string_value(json_object_get(r, "weekday")), "Sun");
	assert_int_equal(json_integer_value(json_object_get(r, "hour")), 1);
	assert_int_equal(json_integer_value(json_object_get(r, "sessions")), 4);
	r = json_array_get(json_object_get(a, "heatmap"), 6 * 24 + 3);
	assert_int_equal(json_integer_value(json_object_get(r, "sessions")), 1);
}

static void
test_helo(void **state)
{
	struct fx *f = *state;
	enum helo_class want = helo_classify("user-3i39rqqo1r", 15, NULL, NULL);
	json_t *r = row_where(f->m, "helo", "top", "name", "user-3i39rqqo1r"), *c;

	assert_non_null(r);
	assert_int_equal(json_integer_value(json_object_get(r, "sessions")), 2);
	assert_int_equal(json_integer_value(json_object_get(r, "sources")), 1);
	assert_string_equal(json_string_value(json_object_get(r, "class")), helo_class_name(want));
	/* three sessions sent something; all had a HELO/EHLO */
	EXPECT("helo", "active_sessions", 3);
	EXPECT("helo", "sessions_with_helo", 3);
	EXPECT("helo", "names_distinct", 2);
	c = row_where(f->m, "helo", "classes", "class", helo_class_name(want));
	assert_non_null(c);
	assert_true(json_integer_value(json_object_get(c, "sessions")) >= 2);
	/* the hostile name is in the model as valid UTF-8 with U+FFFD for the bad bytes */
	r = json_array_get(json_object_get(json_object_get(f->m, "helo"), "top"), 1);
	assert_non_null(strstr(json_string_value(json_object_get(r, "name")), "<script>"));
	assert_true(utf8_valid(json_string_value(json_object_get(r, "name")),
	                       json_string_length(json_object_get(r, "name"))));
	assert_false(json_is_true(json_object_get(json_object_get(f->m, "helo"), "enriched")) &&
	             json_integer_value(json_object_get(c, "dns_checked")) > 0);
}

static void
test_commands(void **state)
{
	struct fx *f = *state;
	json_t *r;

	r = row_where(f->m, "commands", "verbs", "verb", "EHLO");
	assert_non_null(r);
	assert_int_equal(json_integer_value(json_object_get(r, "lines")), 2);
	assert_int_equal(json_integer_value(json_object_get(r, "sessions")), 2);
	r = row_where(f->m, "commands", "verbs", "verb", "AUTH");
	assert_int_equal(json_integer_value(json_object_get(r, "lines")), 2);
	assert_int_equal(json_integer_value(json_object_get(r, "sessions")), 1);
	r = row_where(f->m, "commands", "unknown", "word", "GET");
	assert_non_null(r);
	r = row_where(f->m, "commands", "case_variants", "variant", "ehlo");
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "verb")), "EHLO");
	r = row_where(f->m, "commands", "sequences", "sequence", "EHLO MAIL RCPT DATA QUIT");
	assert_non_null(r);
	assert_int_equal(json_integer_value(json_object_get(r, "sessions")), 2);
	assert_non_null(row_where(f->m, "commands", "sequences", "sequence", "HELO AUTH+ ?"));
	EXPECT("commands", "sessions_with_commands", 3);
	/* the funnel: everyone connected; two got a message accepted */
	r = row_where(f->m, "commands", "stages", "stage", "connect");
	assert_int_equal(json_integer_value(json_object_get(r, "reached")), 5);
	r = row_where(f->m, "commands", "stages", "stage", "helo");
	assert_int_equal(json_integer_value(json_object_get(r, "reached")), 3);
	r = row_where(f->m, "commands", "stages", "stage", "accepted");
	assert_int_equal(json_integer_value(json_object_get(r, "reached")), 2);
}

/* probe_of - what probe_detect says of the test's probe message, for comparison */
static unsigned
probe_of(void)
{
	const char *rcpts[] = {"dropbox@collect.example"};
	const char *addrs[] = {HP_IP, NULL};
	struct helo_self self = {NULL, NULL, NULL, addrs};
	struct probe_input in;
	const char *subj = "Super webscan open relay check succeded, hostname = " HP_IP;
	const char *body = "open relay check " HP_IP;

	memset(&in, 0, sizeof(in));
	in.subject = subj;
	in.subject_len = strlen(subj);
	in.body = body;
	in.body_len = strlen(body);
	in.mail_from = "scan@probe.example";
	in.rcpts = rcpts;
	in.nrcpts = 1;
	in.hdr_from = "<scan@probe.example>";
	in.hdr_to = "<dropbox@collect.example>";
	return probe_detect(&in, &self);
}

static void
test_probes(void **state)
{
	struct fx *f = *state;
	unsigned why = probe_of();
	json_t *r;
	unsigned b;

	if (why == 0)
		skip(); /* the classifier does not call this a probe: nothing to compare */
	EXPECT("probes", "messages_checked", 2);
	EXPECT("probes", "probe_messages", 1);
	EXPECT("probes", "probe_sessions", 1);
	EXPECT("probes", "families_total", 1);
	for (b = 0; b < PROBE_REASON_COUNT; b++) {
		r = row_where(f->m, "probes", "reasons", "reason", probe_reason_name(b));
		assert_non_null(r);
		assert_int_equal(json_integer_value(json_object_get(r, "messages")),
		                 (why >> b) & 1u);
	}
	r = json_array_get(json_object_get(json_object_get(f->m, "probes"), "families"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "dropbox")),
	                    "dropbox@collect.example");
	assert_int_equal(json_integer_value(json_object_get(r, "sources")), 1);
	r = row_where(f->m, "probes", "dropboxes", "address", "dropbox@collect.example");
	assert_non_null(r);
	assert_int_equal(json_integer_value(json_object_get(r, "probes")), 1);
	assert_int_equal(json_integer_value(json_object_get(r, "later_messages")), 0);
	/* A came back two hours after its probe with one bulk message */
	r = row_where(f->m, "probes", "returning_sources", "ip", IP_A);
	assert_non_null(r);
	assert_int_equal(json_integer_value(json_object_get(r, "delay_s")), 7200);
	assert_int_equal(json_integer_value(json_object_get(r, "bulk_messages")), 1);
	r = json_array_get(json_object_get(json_object_get(f->m, "probes"), "sessions"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "session")), "aaaa000000000001");
}

static void
test_messages(void **state)
{
	struct fx *f = *state;
	json_t *mm = json_object_get(json_object_get(f->m, "messages"), "mismatch"), *r;
	char tpl[256];
	const char *subj = "Cheap watches 12345";

	assert_int_equal(json_integer_value(json_object_get(mm, "from_checked")), 2);
	assert_int_equal(json_integer_value(json_object_get(mm, "mail_from_vs_from")), 1);
	assert_int_equal(json_integer_value(json_object_get(mm, "rcpt_not_in_to")), 0);
	template_normalise(subj, strlen(subj), tpl, sizeof(tpl));
	r = row_where(f->m, "messages", "subjects", "template", tpl);
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "example")), subj);
	assert_non_null(row_where(f->m, "messages", "recipient_domains", "domain", "mail.example"));
	r = row_where(f->m, "messages", "attachment_types", "type", "application/zip");
	assert_non_null(r);
	assert_int_equal(json_integer_value(json_object_get(r, "messages")), 2);
	assert_non_null(row_where(f->m, "messages", "extensions", "extension", "zip"));
	r = row_where(f->m, "messages", "sizes", "range", "< 1 KiB");
	assert_int_equal(json_integer_value(json_object_get(r, "messages")), 2);
	if (probe_of() != 0) {
		r = json_array_get(json_object_get(json_object_get(f->m, "messages"), "campaigns"),
		                   0);
		assert_string_equal(json_string_value(json_object_get(r, "subject")), tpl);
		assert_int_equal(json_integer_value(json_object_get(r, "messages")), 1);
	}
}

static void
test_credentials_sources_dialect(void **state)
{
	struct fx *f = *state;
	json_t *r;

	EXPECT("credentials", "attempts", 2);
	EXPECT("credentials", "sources", 1);
	r = row_where(f->m, "credentials", "usernames", "username", "admin");
	assert_int_equal(json_integer_value(json_object_get(r, "attempts")), 2);
	r = row_where(f->m, "credentials", "mechanisms", "mechanism", "LOGIN");
	assert_int_equal(json_integer_value(json_object_get(r, "with_credentials")), 2);
	r = row_where(f->m, "sources", "top", "ip", IP_A);
	assert_int_equal(json_integer_value(json_object_get(r, "sessions")), 2);
	assert_int_equal(json_integer_value(json_object_get(r, "messages")), 2);
	assert_false(json_is_true(json_object_get(r, "enriched")));
	assert_false(json_is_true(json_object_get(json_object_get(f->m, "sources"), "enriched")));
	r = row_where(f->m, "dialect", "signals", "signal", "verb_lowercase");
	assert_int_equal(json_integer_value(json_object_get(r, "sessions")), 2);
	assert_int_equal(json_integer_value(json_object_get(r, "sources")), 1);
	assert_true(json_real_value(json_object_get(r, "share")) > 0.39);
}

static void
test_filters(void **state)
{
	struct fx *f = *state;
	struct report_opts o;
	char err[512];
	json_t *m;

	memset(&o, 0, sizeof(o));
	o.top = 5;
	assert_int_equal(report_parse_cidr(IP_C "/32", &o.filter.cidr), 0);
	m = report_build(f->db, &o, err, sizeof(err));
	assert_non_null(m);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(m, "overview"), "sessions")), 1);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(m, "credentials"), "attempts")), 2);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(m, "overview"), "messages")), 0);
	json_decref(m);
	/* --since after the probe: only the bulk session (03:00) is left */
	memset(&o, 0, sizeof(o));
	assert_int_equal(store_db_time_parse("2026-11-01T02:00:00Z", 20, &o.filter.since_us), 0);
	m = report_build(f->db, &o, err, sizeof(err));
	assert_non_null(m);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(m, "overview"), "sessions")), 1);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(m, "probes"), "probe_messages")), 0);
	json_decref(m);
	/* bad inputs */
	assert_int_equal(report_parse_cidr("192.0.2.0/33", &o.filter.cidr), -1);
	assert_int_equal(report_parse_cidr("nonsense", &o.filter.cidr), -1);
	assert_int_equal(report_parse_cidr("2001:db8::/32", &o.filter.cidr), 0);
	assert_true(report_cidr_match(&o.filter.cidr, "2001:db8:1::5"));
	assert_false(report_cidr_match(&o.filter.cidr, "2001:db9::5"));
	assert_false(report_cidr_match(&o.filter.cidr, "192.0.2.1"));
	assert_null(report_build("/nonexistent/relaytrap.db", &o, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/relaytrap.db"));
}

/* render - a renderer's output in memory */
static char *
render(json_t *m, int which, size_t *len)
{
	char *buf = NULL;
	FILE *mf = open_memstream(&buf, len);

	assert_non_null(mf);
	if (which == 0)
		assert_int_equal(report_write_html(m, mf), 0);
	else if (which == 1)
		assert_int_equal(report_write_text(m, mf, 80, false), 0);
	else
		assert_int_equal(report_write_json(m, mf), 0);
	fclose(mf);
	return buf;
}

/* model_with - the fixture's database copied to name, sql run on the copy, and its model */
static json_t *
model_with(struct fx *f, const char *name, const char *sql)
{
	struct report_opts o;
	char path[512], err[512], *msg = NULL, buf[65536];
	sqlite3 *db;
	json_t *m;
	FILE *in, *out;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	in = fopen(f->db, "rb");
	out = fopen(path, "wb");
	assert_non_null(in);
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("sqlite3_exec: %s", msg);
	sqlite3_close(db);
	memset(&o, 0, sizeof(o));
	o.top = 20;
	m = report_build(path, &o, err, sizeof(err));
	if (m == NULL)
		fail_msg("report_build: %s", err);
	return m;
}

/* test_side_out_of_order - AUTH attempts and signals are matched to their session's source
 * through a window of recent sessions. Rows written long after their session (here: after
 * 40,000 newer sessions, behind rows that wait for sessions far ahead) take the lookup path
 * and count with the right source; rows of a session that does not exist are left out, as a
 * join would */
static void
test_side_out_of_order(void **state)
{
	struct fx *f = *state;
	json_t *m, *r;

	m = model_with(
	    f, "late.db",
	    "WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < 40000)"
	    " INSERT INTO sessions (session, src_ip, start_us, end_us, bytes_in, bytes_out)"
	    " SELECT printf('eeee%012x', n), '198.51.100.77', 1793581200000000 + n,"
	    " 1793581200000000 + n, 0, 0 FROM k;"
	    "INSERT INTO auth_attempts (session, time, time_us, mechanism, username, password,"
	    " outcome) SELECT printf('eeee%012x', n), '2026-11-01T01:07:00Z',"
	    " 1793581620000000 + n, 'LOGIN', 'guest', 'guest', 'failed' FROM (SELECT 9000 AS n"
	    " UNION ALL SELECT 18000 UNION ALL SELECT 27000 UNION ALL SELECT 36000) ORDER BY n;"
	    "INSERT INTO auth_attempts (session, time, time_us, mechanism, username, password,"
	    " outcome) VALUES ('cccc000000000001', '2026-11-01T01:07:00Z', 1793581620000000,"
	    " 'LOGIN', 'root', 'toor', 'failed');"
	    "INSERT INTO signals (session, time, time_us, signal) VALUES ('cccc000000000001',"
	    " '2026-11-01T01:07:00Z', 1793581620000000, 'late_signal'), ('ffff000000000009',"
	    " '2026-11-01T01:07:00Z', 1793581620000000, 'orphan_signal');");
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(m, "credentials"), "attempts")), 7);
	r = row_where(m, "credentials", "sources_by_rate", "ip", "198.51.100.77");
	assert_non_null(r);
	assert_int_equal(json_integer_value(json_object_get(r, "attempts")), 4);
	r = row_where(m, "credentials", "usernames", "username", "root");
	assert_non_null(r);
	assert_int_equal(json_integer_value(json_object_get(r, "sources")), 1);
	r = row_where(m, "credentials", "sources_by_rate", "ip", IP_C);
	assert_non_null(r);
	assert_int_equal(json_integer_value(json_object_get(r, "attempts")), 3);
	r = row_where(m, "dialect", "signals", "signal", "late_signal");
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(json_object_get(r, "top_sources"), 0), "ip")),
	                    IP_C);
	assert_null(row_where(m, "dialect", "signals", "signal", "orphan_signal"));
	json_decref(m);
}

/* test_json_columns - messages.rcpts and messages.parts as the store writes them are read in
 * place; other JSON (escapes, non-ASCII, white space, a part that is not an object) must give
 * what jansson gives */
static void
test_json_columns(void **state)
{
	struct fx *f = *state;
	json_t *m, *r;

	m = model_with(
	    f, "json.db",
	    "INSERT INTO messages (session, tx, time, time_us, size, accepted, rcpts, parts)"
	    " VALUES ('aaaa000000000001', 7, '2026-11-01T01:00:00Z', 1793581200000000, 10, 1,"
	    " '[\"x@fast.example\" , \"y@fast.example\"]',"
	    " '[ {\"type\":\"image/png\", \"filename\":\"a.PNG\"}, {} ]'),"
	    " ('aaaa000000000001', 8, '2026-11-01T01:00:00Z', 1793581200000000, 10, 1,"
	    " '[\"c\\u0040slow.example\", 5]',"
	    " '[{\"type\":\"application/pdf\",\"filename\":\"r\u00e9sum\\u00e9.PdF\"},"
	    " 7, {\"type\":\"text/plain\",\"type\":\"text/x-last\"}]');");
	r = row_where(m, "messages", "recipient_domains", "domain", "fast.example");
	assert_non_null(r);
	assert_int_equal(json_integer_value(json_object_get(r, "recipients")), 2);
	assert_non_null(row_where(m, "messages", "recipient_domains", "domain", "slow.example"));
	assert_non_null(row_where(m, "messages", "attachment_types", "type", "image/png"));
	assert_non_null(row_where(m, "messages", "attachment_types", "type", "application/pdf"));
	/* a repeated key: the last one counts, as in jansson */
	assert_non_null(row_where(m, "messages", "attachment_types", "type", "text/x-last"));
	assert_non_null(row_where(m, "messages", "extensions", "extension", "png"));
	assert_non_null(row_where(m, "messages", "extensions", "extension", "pdf"));
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(m, "messages"), "with_parts")), 4);
	json_decref(m);
}

/* test_literal_self - an address literal's class that depends on the honeypot's addresses
 * (found by another thread while the sessions pass runs) is settled when they are known */
static void
test_literal_self(void **state)
{
	struct fx *f = *state;
	json_t *m, *r, *c;
	size_t i;
	long long self = -1, other = -1;

	m = model_with(
	    f, "literal.db",
	    "INSERT INTO sessions (session, src_ip, start_us, end_us, bytes_in, bytes_out, "
	    "greeting,"
	    " helo) VALUES ('bbbb000000000001', '192.0.2.50', 1793581300000000,"
	    " 1793581300000000, 40, 200, 'HELO', '[" HP_IP "]'),"
	    " ('bbbb000000000002', 'not an address', 1793581300000000, 1793581300000000, 40,"
	    " 200, 'HELO', '[" HP_IP "]'),"
	    " ('bbbb000000000003', '192.0.2.50', 1793581300000000, 1793581300000000, 40, 200,"
	    " 'HELO', '[192.0.2.99]');");
	r = row_where(m, "helo", "top", "name", "[" HP_IP "]");
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "class")), "self");
	r = row_where(m, "helo", "top", "name", "[192.0.2.99]");
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "class")), "literal_other");
	json_array_foreach(json_object_get(json_object_get(m, "helo"), "classes"), i, c)
	{
		const char *n = json_string_value(json_object_get(c, "class"));
		if (strcmp(n, "self") == 0)
			self = json_integer_value(json_object_get(c, "sessions"));
		else if (strcmp(n, "literal_other") == 0)
			other = json_integer_value(json_object_get(c, "sessions"));
	}
	assert_int_equal(self, 2); /* with and without a peer address to compare */
	assert_int_equal(other, 1);
	json_decref(m);
}

static void
test_html_escapes(void **state)
{
	struct fx *f = *state;
	size_t len, i;
	char *h = render(f->m, 0, &len);

	/* no markup from the attacker, and no script at all */
	assert_null(strstr(h, "<script"));
	assert_null(strstr(h, "alert(\"x\")"));
	assert_non_null(strstr(h, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;"));
	assert_non_null(strstr(h, "\\x1b[31m\\x01"));
	/* the page is valid UTF-8 with no control bytes but newlines */
	assert_true(utf8_valid(h, len));
	for (i = 0; i < len; i++)
		if ((unsigned char)h[i] < 0x20 && h[i] != '\n')
			fail_msg("control byte 0x%02x at %zu", (unsigned char)h[i], i);
	/* self-contained: nothing fetched */
	assert_null(strstr(h, "src=\"http"));
	assert_null(strstr(h, "href=\"http"));
	assert_null(strstr(h, "@import"));
	free(h);
}

static void
test_text_80_columns(void **state)
{
	struct fx *f = *state;
	size_t len, i, col = 0;
	char *t = render(f->m, 1, &len);

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c == '\n') {
			col = 0;
			continue;
		}
		if (c < 0x20 || c == 0x7f)
			fail_msg("control byte 0x%02x in text output at %zu", c, i);
		if ((c & 0xc0) != 0x80) /* count characters, not continuation bytes */
			col++;
		if (col > 80)
			fail_msg("line longer than 80 columns at byte %zu", i);
	}
	assert_non_null(strstr(t, "<script>alert(\"x\")</script>'"));
	assert_non_null(strstr(t, "not enriched"));
	free(t);
}

static void
test_json_and_csv(void **state)
{
	struct fx *f = *state;
	size_t len;
	char *j = render(f->m, 2, &len), path[256], line[512], err[256];
	json_t *back = json_loads(j, 0, NULL);
	FILE *cf;
	bool found = false;

	assert_non_null(back);
	assert_true(json_equal(back, f->m));
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(back, "report"), "schema_version")),
	    REPORT_SCHEMA_VERSION);
	json_decref(back);
	free(j);
	snprintf(path, sizeof(path), "%s/csv", f->dir);
	assert_int_equal(report_write_csv(f->m, path, NULL, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/csv/credentials_passwords.csv", f->dir);
	cf = fopen(path, "r");
	assert_non_null(cf);
	/* a formula from the attacker is defused with a leading quote */
	while (fgets(line, sizeof(line), cf) != NULL)
		if (strstr(line, "'=cmd|") != NULL)
			found = true;
	fclose(cf);
	assert_true(found);
	snprintf(path, sizeof(path), "%s/csv/overview.csv", f->dir);
	assert_int_equal(access(path, R_OK), 0);
}

static void
test_escapers(void **state)
{
	char out[64];
	size_t w;
	json_t *s;

	(void)state;
	w = term_esc("a\x1b[2Jb\xff", 7, true, 40, out, sizeof(out));
	assert_string_equal(out, "a\\x1b[2Jb\\xff");
	assert_int_equal(w, strlen(out));
	w = term_esc("0123456789abcdef", 16, false, 10, out, sizeof(out));
	assert_string_equal(out, "0123456...");
	assert_int_equal(w, 10);
	/* a right-to-left override is shown, never obeyed */
	w = term_esc("a\xe2\x80\xae"
	             "b",
	             5, true, 40, out, sizeof(out));
	assert_string_equal(out, "a\\u{202e}b");
	s = esc_model_str("ok\xff\xfe", 4, 200);
	assert_string_equal(json_string_value(s), "ok\xef\xbf\xbd\xef\xbf\xbd");
	json_decref(s);
	s = esc_model_str("abcdef", 6, 4);
	assert_string_equal(json_string_value(s), "a\xe2\x80\xa6");
	json_decref(s);
}

static void
test_tally(void **state)
{
	struct tally *t = tally_new(3, false);
	struct tally_ent *e, **v;
	struct hset *h = hset_new();
	bool created;
	uint64_t over;
	size_t n;

	(void)state;
	e = tally_get(t, "b", 1, &created);
	assert_true(created);
	e->n = 5;
	e = tally_get(t, "a", 1, NULL);
	e->n = 5;
	e = tally_get(t, "c", 1, NULL);
	e->n = 9;
	assert_null(tally_get(t, "d", 1, NULL)); /* full */
	assert_ptr_equal(tally_get(t, "b", 1, &created), tally_find(t, "b", 1));
	assert_false(created);
	assert_int_equal(tally_count(t, &over), 3);
	assert_int_equal(over, 1);
	v = tally_sorted(t, &n);
	assert_int_equal(n, 3);
	assert_string_equal(v[0]->key, "c");
	assert_string_equal(v[1]->key, "a"); /* ties by key */
	free(v);
	tally_free(t);
	assert_true(hset_add(h, 42));
	assert_false(hset_add(h, 42));
	for (n = 0; n < 5000; n++)
		assert_true(hset_add(h, hash_mix('x', n, "k", 1)));
	assert_false(hset_add(h, hash_mix('x', 17, "k", 1)));
	hset_free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_overview),
	    cmocka_unit_test(test_activity),
	    cmocka_unit_test(test_helo),
	    cmocka_unit_test(test_commands),
	    cmocka_unit_test(test_probes),
	    cmocka_unit_test(test_messages),
	    cmocka_unit_test(test_credentials_sources_dialect),
	    cmocka_unit_test(test_filters),
	    cmocka_unit_test(test_side_out_of_order),
	    cmocka_unit_test(test_json_columns),
	    cmocka_unit_test(test_literal_self),
	    cmocka_unit_test(test_html_escapes),
	    cmocka_unit_test(test_text_80_columns),
	    cmocka_unit_test(test_json_and_csv),
	};
	const struct CMUnitTest plain[] = {
	    cmocka_unit_test(test_escapers),
	    cmocka_unit_test(test_tally),
	};
	int rc;

	rc = cmocka_run_group_tests_name("report model and renderers", tests, setup, teardown);
	rc |= cmocka_run_group_tests_name("report helpers", plain, NULL, NULL);
	return rc;
}
