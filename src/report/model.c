/* SPDX-License-Identifier: ISC */
/*
 * model - build the report's JSON model from a capture database (see report.h and
 * docs/report.md for the schema).
 *
 * Owns: struct rb for the duration of report_build (the read-only SQLite handle, the temp
 *       selection table, the honeypot's identity as the classifiers see it).
 * Public: report_build, report_parse_time, report_parse_cidr, report_cidr_match.
 * Limits: rankings have opts.top rows; every attacker string is at most REPORT_STR_MAX bytes.
 *
 * Cost: everything that scales with sessions is an SQL aggregate over an index or a single
 * streaming pass; HELO names are classified once per distinct name, and probe detection runs
 * on messages only (model_stream.c). With a filter, the matching session ids are collected once
 * into temp.sel and every query joins on it.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture/store_db.h"
#include "core/util.h"
#include "report/esc.h"
#include "report/model_int.h"
#include "report/tally.h"

#define US 1000000LL
#define HOUR_US (3600LL * US)
#define DAY_US (24LL * HOUR_US)

/* ---- small helpers shared with model_stream.c ---- */

const char *
rb_cond(const struct rb *r, char alias)
{
	if (strcmp(r->sc, "1") == 0)
		return "1";
	switch (alias) {
	case 'a':
		return "a.session IN temp.sel";
	case 'g':
		return "g.session IN temp.sel";
	case 'm':
		return "m.session IN temp.sel";
	default:
		return "s.session IN temp.sel";
	}
}

sqlite3_stmt *
rb_prepare(struct rb *r, const char *fmt, ...)
{
	char sql[4096];
	sqlite3_stmt *st = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
		seterr(r->err, r->errlen, "query failed: %s (%.120s)", sqlite3_errmsg(r->db), sql);
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

bool
rb_has_index(struct rb *r, const char *name)
{
	sqlite3_stmt *st = rb_prepare(r, "SELECT 1 FROM sqlite_master WHERE type = 'index' AND"
	                                 " name = ?1");
	bool yes;

	if (st == NULL)
		return false;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}

int
rb_step(struct rb *r, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc;
	seterr(r->err, r->errlen, "query failed: %s", sqlite3_errmsg(r->db));
	return -1;
}

void
rb_progress(struct rb *r, const char *what, int64_t n, int64_t total)
{
	uint64_t now;

	if (!r->o->progress)
		return;
	now = now_mono_us();
	if (n != 0 && now - r->prog_last_us < 200000)
		return;
	r->prog_last_us = now;
	if (total > 0)
		fprintf(stderr, "\r\033[Krelaytrap report: %s %lld%%", what,
		        (long long)(n * 100 / (total > 0 ? total : 1)));
	else
		fprintf(stderr, "\r\033[Krelaytrap report: %s", what);
	fflush(stderr);
}

json_t *
col_str(sqlite3_stmt *st, int i)
{
	const void *b;

	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return json_null();
	b = sqlite3_column_blob(st, i);
	return esc_model_str(b != NULL ? b : "", (size_t)sqlite3_column_bytes(st, i),
	                     REPORT_STR_MAX);
}

json_t *
col_int(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return json_null();
	return json_integer(sqlite3_column_int64(st, i));
}

json_t *
jtime(int64_t us)
{
	char buf[32];
	struct tm tm;
	time_t t;

	if (us <= 0)
		return json_null();
	t = (time_t)(us / US);
	if (gmtime_r(&t, &tm) == NULL)
		return json_null();
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

void
jset(json_t *o, const char *k, json_t *v)
{
	json_object_set_new(o, k, v != NULL ? v : json_null());
}

json_t *
jshare(int64_t count, int64_t total)
{
	if (total <= 0)
		return json_real(0);
	return json_real((double)((count * 10000 + total / 2) / total) / 10000.0);
}

int
topn_init(struct topn *t, size_t cap)
{
	t->cap = cap;
	t->n = 0;
	t->key = calloc(cap + 1, sizeof(*t->key));
	t->row = calloc(cap + 1, sizeof(*t->row));
	return (t->key == NULL || t->row == NULL) ? -1 : 0;
}

bool
topn_wants(const struct topn *t, int64_t key)
{
	return t->n < t->cap || key > t->key[t->n - 1];
}

void
topn_add(struct topn *t, int64_t key, json_t *row)
{
	size_t i;

	if (!topn_wants(t, key) || t->cap == 0) {
		json_decref(row);
		return;
	}
	if (t->n == t->cap) {
		json_decref(t->row[t->n - 1]);
		t->n--;
	}
	/* Kept sorted, best first; equal keys keep arrival order. */
	i = t->n;
	while (i > 0 && t->key[i - 1] < key) {
		t->key[i] = t->key[i - 1];
		t->row[i] = t->row[i - 1];
		i--;
	}
	t->key[i] = key;
	t->row[i] = row;
	t->n++;
}

json_t *
topn_array(struct topn *t)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < t->n; i++)
		json_array_append_new(a, t->row[i]);
	t->n = 0;
	return a;
}

void
topn_free(struct topn *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		json_decref(t->row[i]);
	free(t->key);
	free(t->row);
	t->key = NULL;
	t->row = NULL;
	t->n = 0;
}

/* ---- filters ---- */

int
report_parse_time(const char *s, int64_t now_us, int64_t *out, const char **why)
{
	char buf[64];
	size_t n = strlen(s);
	long long v;
	char unit;
	int64_t mult;

	if (n > 0 && n < 12 && strchr("smhdw", s[n - 1]) != NULL && s[0] >= '0' && s[0] <= '9') {
		memcpy(buf, s, n - 1);
		buf[n - 1] = '\0';
		unit = s[n - 1];
		if (parse_num(buf, 1, 100000000, &v, why) < 0)
			return -1;
		mult = unit == 's'   ? US
		       : unit == 'm' ? 60 * US
		       : unit == 'h' ? HOUR_US
		       : unit == 'd' ? DAY_US
		                     : 7 * DAY_US;
		*out = now_us - v * mult;
		return 0;
	}
	if (n == 10) { /* a date: midnight UTC */
		snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
		s = buf;
		n = strlen(buf);
	}
	if (store_db_time_parse(s, n, out) < 0) {
		*why = "not a date (2026-11-27), an RFC 3339 time (2026-11-27T10:00:00Z) or an "
		       "age (90m, 12h, 7d, 2w)";
		return -1;
	}
	return 0;
}

int
report_parse_cidr(const char *s, struct report_cidr *out)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	long long bits;
	const char *why;

	memset(out, 0, sizeof(*out));
	if (alen == 0 || alen >= sizeof(buf))
		return -1;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET, buf, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, out->addr) == 1)
		out->family = AF_INET6;
	else
		return -1;
	out->bits = out->family == AF_INET ? 32 : 128;
	if (slash != NULL) {
		if (parse_num(slash + 1, 0, out->bits, &bits, &why) < 0) {
			out->family = 0;
			return -1;
		}
		out->bits = (unsigned)bits;
	}
	return 0;
}

bool
report_cidr_match(const struct report_cidr *c, const char *ip)
{
	unsigned char a[16];
	unsigned full, rest;

	if (c->family == 0)
		return true;
	if (ip == NULL || inet_pton(c->family, ip, a) != 1)
		return false;
	full = c->bits / 8;
	rest = c->bits % 8;
	if (memcmp(a, c->addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ c->addr[full]) & (0xffu << (8 - rest)) & 0xffu) == 0;
}

/* sql_cidr - SQL function rt_in_cidr(ip): 1 when ip is inside the --src network */
static void
sql_cidr(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const struct report_cidr *c = sqlite3_user_data(ctx);
	const unsigned char *ip = sqlite3_value_text(argv[0]);

	(void)argc;
	sqlite3_result_int(ctx, report_cidr_match(c, (const char *)ip));
}

/* select_sessions - with any filter, collect the matching session ids into temp.sel */
static int
select_sessions(struct rb *r)
{
	const struct report_filter *f = &r->o->filter;
	sqlite3_stmt *st;
	int rc;

	if (f->since_us == 0 && f->until_us == 0 && f->sensor == NULL && f->listener == NULL &&
	    f->cidr.family == 0) {
		r->sc = "1";
		return 0;
	}
	if (sqlite3_create_function(r->db, "rt_in_cidr", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
	                            (void *)&f->cidr, sql_cidr, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(r->db, "CREATE TEMP TABLE sel (session TEXT PRIMARY KEY) WITHOUT ROWID",
	                 NULL, NULL, NULL) != SQLITE_OK) {
		seterr(r->err, r->errlen, "cannot prepare the selection: %s",
		       sqlite3_errmsg(r->db));
		return -1;
	}
	st = rb_prepare(r, "INSERT INTO temp.sel SELECT session FROM sessions"
	                   " WHERE start_us >= ?1 AND start_us < ?2"
	                   " AND (?3 IS NULL OR sensor = ?3) AND (?4 IS NULL OR listener = ?4)"
	                   " AND (?5 = 0 OR rt_in_cidr(src_ip))");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, f->since_us);
	sqlite3_bind_int64(st, 2, f->until_us != 0 ? f->until_us : INT64_MAX);
	if (f->sensor != NULL)
		sqlite3_bind_text(st, 3, f->sensor, -1, SQLITE_STATIC);
	if (f->listener != NULL)
		sqlite3_bind_text(st, 4, f->listener, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, f->cidr.family != 0);
	rc = rb_step(r, st);
	sqlite3_finalize(st);
	r->sc = "session IN temp.sel";
	return rc < 0 ? -1 : 0;
}

/* has_column - the table has the column (schema 1 databases lack the enrichment columns) */
static bool
has_column(struct rb *r, const char *table, const char *col)
{
	sqlite3_stmt *st =
	    rb_prepare(r, "SELECT 1 FROM pragma_table_info('%s') WHERE name = '%s'", table, col);
	bool yes;

	if (st == NULL)
		return false;
	yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}

/* BANNER_SESSIONS - sessions (that were sent anything) whose first reply load_self reads
 * looking for the 220 banner; past that the honeypot's name stays unknown */
#define BANNER_SESSIONS 10000

/* first_banner - the text of the first 220 banner in the capture: the first reply of the
 * earliest sessions that were sent anything (a busy honeypot's first reply may be a 421 or
 * 554 instead); NULL when none of the first BANNER_SESSIONS has one. Each session costs one
 * lookup on the (session, seq, direction) key. The returned text lives in *out until it is
 * finalised. */
static const char *
first_banner(struct rb *r, sqlite3_stmt **out)
{
	sqlite3_stmt *ss, *cs;
	const char *t = NULL;

	*out = NULL;
	ss = rb_prepare(r, "SELECT session FROM sessions WHERE bytes_out > 0 LIMIT %d",
	                BANNER_SESSIONS);
	cs = rb_prepare(r, "SELECT code, text FROM commands WHERE session = ?1 AND"
	                   " direction = 'S' ORDER BY seq LIMIT 1");
	while (ss != NULL && cs != NULL && sqlite3_step(ss) == SQLITE_ROW) {
		sqlite3_reset(cs);
		sqlite3_bind_value(cs, 1, sqlite3_column_value(ss, 0));
		if (sqlite3_step(cs) != SQLITE_ROW || sqlite3_column_int(cs, 0) != 220 ||
		    sqlite3_column_type(cs, 1) != SQLITE_TEXT)
			continue;
		t = (const char *)sqlite3_column_text(cs, 1);
		*out = cs;
		cs = NULL;
		break;
	}
	sqlite3_finalize(ss);
	sqlite3_finalize(cs);
	return t;
}

/* load_self - the honeypot's names and the addresses it was reached on, from the capture
 * itself (its 220 banner and the sessions' destination addresses), so that the same events
 * give the same report wherever the database was built (live, or by relaytrap import) */
static void
load_self(struct rb *r)
{
	struct hp *h = r->hp;
	sqlite3_stmt *st;
	const char *t, *e;
	size_t n = 0, i;

	if ((t = first_banner(r, &st)) != NULL && strncmp(t, "220 ", 4) == 0) {
		/* "220 exch01.corp.example.com Microsoft ESMTP MAIL Service, …" */
		t += 4;
		for (e = t; *e != '\0' && *e != ' ' && (size_t)(e - t) < sizeof(h->fqdn) - 1 &&
		            (strchr(".-", *e) != NULL || (*e >= 'a' && *e <= 'z') ||
		             (*e >= 'A' && *e <= 'Z') || (*e >= '0' && *e <= '9'));
		     e++)
			;
		if (e > t && (*e == ' ' || *e == '\0') && memchr(t, '.', (size_t)(e - t)) != NULL) {
			memcpy(h->fqdn, t, (size_t)(e - t));
			h->fqdn[e - t] = '\0';
			/* NetBIOS name: the first label, upper case, at most 15; domain: the rest
			 */
			for (i = 0; h->fqdn[i] != '.' && i < 15; i++)
				h->netbios[i] = (char)toupper((unsigned char)h->fqdn[i]);
			h->netbios[i] = '\0';
			snprintf(h->domain, sizeof(h->domain), "%s", strchr(h->fqdn, '.') + 1);
			h->have_id = true;
			h->self.hostname = h->fqdn;
			h->self.netbios = h->netbios;
			h->self.domain = h->domain;
		}
	}
	sqlite3_finalize(st);
	st = rb_prepare(r,
	                "SELECT DISTINCT dst_ip FROM sessions WHERE dst_ip IS NOT NULL "
	                "LIMIT %d",
	                RB_SELF_ADDRS);
	while (st != NULL && sqlite3_step(st) == SQLITE_ROW && n < RB_SELF_ADDRS) {
		const char *ip = (const char *)sqlite3_column_text(st, 0);
		if (ip != NULL && (h->addrs[n] = strdup(ip)) != NULL)
			n++;
	}
	sqlite3_finalize(st);
	h->addrs[n] = NULL;
	h->self.addrs = (const char *const *)h->addrs;
}

/* load_self_now - load_self, then let the waiting threads go (also when it found nothing) */
static void
load_self_now(struct rb *r)
{
	load_self(r);
	pthread_mutex_lock(&r->hp->mu);
	r->hp->ready = true;
	pthread_cond_broadcast(&r->hp->cv);
	pthread_mutex_unlock(&r->hp->mu);
}

const struct helo_self *
rb_self(struct rb *r)
{
	pthread_mutex_lock(&r->hp->mu);
	while (!r->hp->ready)
		pthread_cond_wait(&r->hp->cv, &r->hp->mu);
	pthread_mutex_unlock(&r->hp->mu);
	return &r->hp->self;
}

/* ---- sections ---- */

struct sec {
	const char *name;
	int (*fn)(struct rb *);
};

static const char *const stage_names[] = {"connect", "helo", "mail", "rcpt", "data", "message"};

/* sec_report - what was read, with which filters */
static void
sec_report(struct rb *r, const char *db_path)
{
	const struct report_filter *f = &r->o->filter;
	json_t *o = json_object(), *fl = json_object();
	int version = 0;
	sqlite3_stmt *st = rb_prepare(r, "PRAGMA user_version");

	if (st != NULL && sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	jset(o, "schema_version", json_integer(REPORT_SCHEMA_VERSION));
	jset(o, "generated", jtime((int64_t)now_real_us()));
	jset(o, "database", json_string(db_path));
	jset(o, "database_schema", json_integer(version));
	jset(fl, "since", jtime(f->since_us));
	jset(fl, "until", jtime(f->until_us));
	jset(fl, "sensor", f->sensor != NULL ? json_string(f->sensor) : json_null());
	jset(fl, "listener", f->listener != NULL ? json_string(f->listener) : json_null());
	jset(fl, "src", f->src != NULL ? json_string(f->src) : json_null());
	jset(o, "filters", fl);
	jset(o, "top", json_integer(r->top));
	jset(o, "honeypot", r->hp->have_id ? json_string(r->hp->fqdn) : json_null());
	json_object_set_new(r->m, "report", o);
}

/* sec_stages - sessions by how far they got, as a funnel (counts from the sessions pass,
 * sessions with an accepted message from the messages pass) */
static int
sec_stages(struct rb *r)
{
	json_t *cmds = json_object_get(r->m, "commands"), *a = json_array(), *row;
	int64_t reached = 0;
	int i;

	for (i = 5; i >= 0; i--)
		reached += r->stages[i];
	for (i = 0; i < 6; i++) {
		row = json_object();
		jset(row, "stage", json_string(stage_names[i]));
		jset(row, "sessions", json_integer(r->stages[i]));
		jset(row, "reached", json_integer(reached));
		jset(row, "share", jshare(reached, r->sessions));
		json_array_append_new(a, row);
		reached -= r->stages[i];
	}
	row = json_object();
	jset(row, "stage", json_string("accepted"));
	jset(row, "sessions", json_integer(r->accepted_sessions));
	jset(row, "reached", json_integer(r->accepted_sessions));
	jset(row, "share", jshare(r->accepted_sessions, r->sessions));
	json_array_append_new(a, row);
	jset(cmds, "stages", a);
	jset(cmds, "open_sessions", json_integer(r->stages[6]));
	return 0;
}

/* zones - ip_intel.dnsbl (a JSON array of zones) as "zone1,zone2" ("" when none, null when
 * never checked) */
static json_t *
zones(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	json_t *a, *out;
	char buf[512] = "";
	size_t k, n = 0;

	if (t == NULL)
		return json_null();
	a = json_loads(t, 0, NULL);
	for (k = 0; k < json_array_size(a) && n < sizeof(buf) - 1; k++) {
		const char *z = json_string_value(json_array_get(a, k));
		if (z != NULL)
			n +=
			    (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", n > 0 ? "," : "", z);
	}
	json_decref(a);
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	out = esc_model_str(buf, n, REPORT_STR_MAX);
	return out;
}

/* rb_intel_for - the enrichment columns of one address into row (null = not known) */
void
rb_intel_for(struct rb *r, sqlite3_stmt *st, const char *ip, json_t *row)
{
	static const char *const keys[] = {"country", "city", "asn", "as_org",
	                                   "dnsbl",   "os",   "rdns"};
	static const char kinds[] = "ssiszss";
	bool found = false;
	size_t i;

	if (st != NULL) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, ip, -1, SQLITE_TRANSIENT);
		found = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 7) != SQLITE_NULL;
	}
	jset(row, "enriched", json_boolean(found));
	for (i = 0; i < ARRAY_LEN(keys); i++) {
		if (!found)
			jset(row, keys[i], json_null());
		else if (kinds[i] == 'i')
			jset(row, keys[i], col_int(st, (int)i));
		else if (kinds[i] == 'z')
			jset(row, keys[i], zones(st, (int)i));
		else
			jset(row, keys[i], col_str(st, (int)i));
	}
}

json_t *
rb_ranked2(struct tally *t, int top, const char *kname, const char *nname)
{
	json_t *a = json_array(), *row;
	size_t n, i;
	struct tally_ent **v = tally_top(t, (size_t)top, &n);

	for (i = 0; v != NULL && i < n; i++) {
		row = json_object();
		jset(row, kname, esc_model_str(v[i]->key, v[i]->klen, REPORT_STR_MAX));
		jset(row, nname, json_integer((json_int_t)v[i]->n));
		json_array_append_new(a, row);
	}
	free(v);
	return a;
}

/* thread_cpu_us - CPU time of the calling thread */
static uint64_t
thread_cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* run_secs - run sections on one connection; RELAYTRAP_REPORT_TIMING=1 prints what each one
 * cost: wall time and the CPU time of the thread that ran it */
static int
run_secs(struct rb *r, const struct sec *secs, size_t n)
{
	bool timing = getenv("RELAYTRAP_REPORT_TIMING") != NULL;
	uint64_t t0, c0;
	size_t i;

	for (i = 0; i < n; i++) {
		t0 = now_mono_us();
		c0 = thread_cpu_us();
		if (secs[i].fn(r) < 0)
			return -1;
		if (timing)
			fprintf(stderr, "report: %-12s %8.3f s wall %8.3f s cpu\n", secs[i].name,
			        (double)(now_mono_us() - t0) / 1e6,
			        (double)(thread_cpu_us() - c0) / 1e6);
	}
	return 0;
}

/* open_db - a read-only connection with the report's settings; cache_kib: its page cache. The
 * passes read their tables once in order, so a page is rarely wanted twice, except by the
 * messages pass's lookups of each message's session; 0 or -1 */
static int
open_db(struct rb *r, const char *db_path, int cache_kib)
{
	char sql[64];

	if (sqlite3_open_v2(db_path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		seterr(r->err, r->errlen, "%s: %s", db_path, sqlite3_errmsg(r->db));
		return -1;
	}
	sqlite3_busy_timeout(r->db, 5000);
	/* Sorts and GROUP BYs that do not fit spill to temp files rather than growing memory. */
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d", cache_kib);
	sqlite3_exec(r->db, sql, NULL, NULL, NULL);
	return 0;
}

/* The threads: the sessions pass (with AUTH attempts and signals beside it) on the calling
 * thread; client lines on a second, which first finds the honeypot's names; messages on a
 * third, which needs those names. Each has its own read-only connection and its own part of
 * the model; they share the options and, once it is ready, the honeypot (struct hp). On a
 * two-core machine three threads keep both cores busy while the shortest part ends first. */
static const struct sec cmd_secs[] = {{"commands", model_commands}};
static const struct sec msg_secs[] = {{"messages", model_messages}};

static void *
cmd_thread(void *arg)
{
	struct rb *w = arg;

	load_self_now(w);
	w->rc = run_secs(w, cmd_secs, ARRAY_LEN(cmd_secs));
	return NULL;
}

static void *
msg_thread(void *arg)
{
	struct rb *w = arg;

	w->rc = run_secs(w, msg_secs, ARRAY_LEN(msg_secs));
	return NULL;
}

/* NTHREADS - the threads besides the calling one */
#define NTHREADS 2

json_t *
report_build(const char *db_path, const struct report_opts *o, char *err, size_t errlen)
{
	static const struct sec main_secs[] = {{"sessions", model_sessions}};
	static void *(*const entry[NTHREADS])(void *) = {cmd_thread, msg_thread};
	struct rb r, w[NTHREADS];
	struct report_opts wo;
	struct hp hp;
	char werr[NTHREADS][1024];
	json_t *m = NULL;
	pthread_t th[NTHREADS];
	bool started[NTHREADS] = {false};
	sqlite3_stmt *st;
	const char *k;
	json_t *v;
	size_t i, t;
	int ok = -1;
	uint64_t t0;

	t0 = now_mono_us();
	memset(&r, 0, sizeof(r));
	memset(w, 0, sizeof(w));
	memset(&hp, 0, sizeof(hp));
	pthread_mutex_init(&hp.mu, NULL);
	pthread_cond_init(&hp.cv, NULL);
	r.hp = &hp;
	r.o = o;
	r.err = err;
	r.errlen = errlen;
	r.top = o->top > 0 ? o->top : REPORT_TOP_DEFAULT;
	if (access(db_path, R_OK) != 0) {
		seterr(err, errlen,
		       "%s: cannot read the database (give --data-dir DIR or --db FILE)", db_path);
		goto out;
	}
	if (open_db(&r, db_path, 16384) < 0)
		goto out;
	if (!has_column(&r, "sessions", "session")) {
		seterr(err, errlen, "%s: not a relaytrap database (no sessions table)", db_path);
		goto out;
	}
	r.sess_enrich = has_column(&r, "sessions", "helo_resolves");
	r.intel_geo = has_column(&r, "ip_intel", "latitude");
	r.msg_body = has_column(&r, "messages", "body_text");
	r.has_enrichments = has_column(&r, "enrichments", "kind");
	m = r.m = json_object();
	if (select_sessions(&r) < 0)
		goto out;
	/* Shares need the number of sessions before the passes that count them. */
	st = rb_prepare(&r, "SELECT count(*) FROM sessions WHERE %s", r.sc);
	if (st == NULL || rb_step(&r, st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		goto out;
	}
	r.sessions = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);

	wo = *o;
	wo.progress = false; /* one progress line: this thread's */
	for (t = 0; t < NTHREADS; t++) {
		w[t] = r;
		w[t].db = NULL;
		w[t].m = json_object();
		werr[t][0] = '\0';
		w[t].err = werr[t];
		w[t].errlen = sizeof(werr[t]);
		w[t].o = &wo;
		if (open_db(&w[t], db_path, entry[t] == msg_thread ? 65536 : 16384) < 0 ||
		    select_sessions(&w[t]) < 0) {
			seterr(err, errlen, "%s", werr[t]);
			goto out;
		}
	}
	if (getenv("RELAYTRAP_REPORT_TIMING") != NULL)
		fprintf(stderr, "report: %-12s %8.3f s wall %8.3f s cpu\n", "setup",
		        (double)(now_mono_us() - t0) / 1e6, (double)thread_cpu_us() / 1e6);
	for (t = 0; t < NTHREADS; t++) {
		if (pthread_create(&th[t], NULL, entry[t], &w[t]) != 0) {
			seterr(err, errlen, "cannot start a thread");
			if (t == 0)
				load_self_now(&r); /* nobody else will: let the others go */
			goto out;
		}
		started[t] = true;
	}
	if (run_secs(&r, main_secs, ARRAY_LEN(main_secs)) < 0)
		goto out;
	for (t = 0; t < NTHREADS; t++) {
		pthread_join(th[t], NULL);
		started[t] = false;
		if (w[t].rc < 0) {
			seterr(err, errlen, "%s", werr[t]);
			goto out;
		}
		json_object_foreach(w[t].m, k, v) json_object_set(m, k, v);
	}
	r.accepted_sessions = w[1].accepted_sessions;
	if (model_sessions_finish(&r, &w[1].mt) < 0)
		goto out;
	sec_report(&r, db_path);
	if (sec_stages(&r) < 0)
		goto out;
	{
		/* The sections in the documented order, whatever order they were built in. */
		static const char *const order[] = {
		    "report", "overview", "activity",    "helo",    "commands",
		    "probes", "messages", "credentials", "sources", "dialect"};
		json_t *sorted = json_object();
		for (i = 0; i < ARRAY_LEN(order); i++)
			json_object_set(sorted, order[i], json_object_get(m, order[i]));
		json_decref(m);
		m = sorted;
	}
	ok = 0;
out:
	for (t = 0; t < NTHREADS; t++)
		if (started[t])
			pthread_join(th[t], NULL);
	if (o->progress) {
		fprintf(stderr, "\r\033[K");
		fflush(stderr);
	}
	model_sessions_free(&r);
	for (i = 0; hp.addrs[i] != NULL; i++)
		free(hp.addrs[i]);
	for (t = 0; t < NTHREADS; t++) {
		tally_free(w[t].mt.hours);
		json_decref(w[t].m);
		sqlite3_close(w[t].db);
	}
	sqlite3_close(r.db);
	pthread_mutex_destroy(&hp.mu);
	pthread_cond_destroy(&hp.cv);
	if (ok < 0) {
		json_decref(m);
		return NULL;
	}
	return m;
}
