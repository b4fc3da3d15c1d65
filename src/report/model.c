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

/* load_self - the honeypot's names (identity file) and the addresses it was reached on */
static void
load_self(struct rb *r)
{
	sqlite3_stmt *st;
	char err[256];
	size_t n = 0;
	FILE *f;

	if (r->o->identity_path != NULL && (f = fopen(r->o->identity_path, "r")) != NULL) {
		fclose(f);
		/* identity_load_or_create only creates when the file is missing; it exists here. */
		if (identity_load_or_create(r->o->identity_path, &r->id, err, sizeof(err)) == 0) {
			r->have_id = true;
			r->self.hostname = r->id.fqdn;
			r->self.netbios = r->id.netbios;
			r->self.domain = r->id.domain;
		}
	}
	st = rb_prepare(r,
	                "SELECT DISTINCT dst_ip FROM sessions WHERE dst_ip IS NOT NULL "
	                "LIMIT %d",
	                RB_SELF_ADDRS);
	while (st != NULL && sqlite3_step(st) == SQLITE_ROW && n < RB_SELF_ADDRS) {
		const char *ip = (const char *)sqlite3_column_text(st, 0);
		if (ip != NULL && (r->addrs[n] = strdup(ip)) != NULL)
			n++;
	}
	sqlite3_finalize(st);
	r->addrs[n] = NULL;
	r->self.addrs = (const char *const *)r->addrs;
}

/* ---- sections ---- */

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
	jset(o, "honeypot", r->have_id ? json_string(r->id.fqdn) : json_null());
	json_object_set_new(r->m, "report", o);
}

/* sec_overview - totals and the per-listener split */
static int
sec_overview(struct rb *r)
{
	json_t *o = json_object(), *ls = json_array(), *row;
	sqlite3_stmt *st;

	rb_progress(r, "overview", 0, 0);
	json_object_set_new(r->m, "overview", o);
	st = rb_prepare(r,
	                "SELECT count(*), min(start_us), max(start_us),"
	                " total(end_us IS NOT NULL AND coalesce(bytes_in, 0) = 0),"
	                " total(end_us IS NOT NULL AND coalesce(bytes_in, 0) = 0 AND"
	                "  coalesce(bytes_out, 0) = 0),"
	                " total(end_us IS NULL), total(bytes_in), total(bytes_out), total(rcpts),"
	                " total(auth_attempts), total(commands)"
	                " FROM sessions WHERE %s",
	                r->sc);
	if (st == NULL || rb_step(r, st) != SQLITE_ROW)
		goto fail;
	r->sessions = sqlite3_column_int64(st, 0);
	jset(o, "first", jtime(sqlite3_column_int64(st, 1)));
	jset(o, "last", jtime(sqlite3_column_int64(st, 2)));
	jset(o, "sessions", json_integer(r->sessions));
	jset(o, "sources", json_integer(0)); /* filled by the sources section */
	jset(o, "silent_sessions", json_integer((json_int_t)sqlite3_column_double(st, 3)));
	jset(o, "port_scans", json_integer((json_int_t)sqlite3_column_double(st, 4)));
	jset(o, "banner_grabs",
	     json_integer(
	         (json_int_t)(sqlite3_column_double(st, 3) - sqlite3_column_double(st, 4))));
	jset(o, "open_sessions", json_integer((json_int_t)sqlite3_column_double(st, 5)));
	jset(o, "bytes_in", json_integer((json_int_t)sqlite3_column_double(st, 6)));
	jset(o, "bytes_out", json_integer((json_int_t)sqlite3_column_double(st, 7)));
	jset(o, "recipients", json_integer((json_int_t)sqlite3_column_double(st, 8)));
	jset(o, "auth_attempts", json_integer((json_int_t)sqlite3_column_double(st, 9)));
	jset(o, "commands", json_integer((json_int_t)sqlite3_column_double(st, 10)));
	json_object_set_new(o, "first_us", json_integer(sqlite3_column_int64(st, 1)));
	json_object_set_new(o, "last_us", json_integer(sqlite3_column_int64(st, 2)));
	sqlite3_finalize(st);

	st = rb_prepare(r,
	                "SELECT count(*), total(accepted), total(size), total(rcpt_count)"
	                " FROM messages WHERE %s",
	                r->sc);
	if (st == NULL || rb_step(r, st) != SQLITE_ROW)
		goto fail;
	jset(o, "messages", json_integer(sqlite3_column_int64(st, 0)));
	jset(o, "messages_accepted", json_integer((json_int_t)sqlite3_column_double(st, 1)));
	jset(o, "message_bytes", json_integer((json_int_t)sqlite3_column_double(st, 2)));
	sqlite3_finalize(st);

	st = rb_prepare(r,
	                "SELECT coalesce(listener, ''), coalesce(persona, ''), count(*),"
	                " count(DISTINCT src_ip), total(messages), total(auth_attempts)"
	                " FROM sessions WHERE %s GROUP BY 1, 2 ORDER BY 3 DESC",
	                r->sc);
	if (st == NULL)
		goto fail;
	while (rb_step(r, st) == SQLITE_ROW) {
		row = json_object();
		jset(row, "listener", col_str(st, 0));
		jset(row, "persona", col_str(st, 1));
		jset(row, "sessions", json_integer(sqlite3_column_int64(st, 2)));
		jset(row, "sources", json_integer(sqlite3_column_int64(st, 3)));
		jset(row, "messages", json_integer((json_int_t)sqlite3_column_double(st, 4)));
		jset(row, "auth_attempts", json_integer((json_int_t)sqlite3_column_double(st, 5)));
		json_array_append_new(ls, row);
	}
	sqlite3_finalize(st);
	json_object_set_new(o, "listeners", ls);
	return 0;
fail:
	sqlite3_finalize(st);
	json_decref(ls);
	return -1;
}

struct hour_row {
	int64_t hour; /* hours since the epoch */
	int64_t sessions, messages;
};

/* hourly - counts per hour since the epoch from one GROUP BY, appended to *v (sorted) */
static int
hourly(struct rb *r, const char *table, const char *col, struct hour_row **v, size_t *n,
       size_t *cap, bool msgs)
{
	sqlite3_stmt *st = rb_prepare(r, "SELECT %s / %lld, count(*) FROM %s WHERE %s GROUP BY 1",
	                              col, HOUR_US, table, r->sc);
	size_t i = 0, k;
	int64_t h;

	if (st == NULL)
		return -1;
	/* Both series come sorted by hour: merge the second into the first. */
	while (rb_step(r, st) == SQLITE_ROW) {
		h = sqlite3_column_int64(st, 0);
		while (i < *n && (*v)[i].hour < h)
			i++;
		if (i < *n && (*v)[i].hour == h) {
			if (msgs)
				(*v)[i].messages = sqlite3_column_int64(st, 1);
			else
				(*v)[i].sessions = sqlite3_column_int64(st, 1);
			continue;
		}
		if (*n == *cap) {
			struct hour_row *nv;
			*cap = *cap ? *cap * 2 : 256;
			nv = realloc(*v, *cap * sizeof(**v));
			if (nv == NULL) {
				sqlite3_finalize(st);
				return -1;
			}
			*v = nv;
		}
		for (k = *n; k > i; k--)
			(*v)[k] = (*v)[k - 1];
		(*v)[i].hour = h;
		(*v)[i].sessions = msgs ? 0 : sqlite3_column_int64(st, 1);
		(*v)[i].messages = msgs ? sqlite3_column_int64(st, 1) : 0;
		(*n)++;
	}
	sqlite3_finalize(st);
	return 0;
}

/* sec_activity - sessions and messages per bucket (hour, day or week, from the period) and
 * the hour-of-day x weekday heat map (UTC) */
static int
sec_activity(struct rb *r)
{
	static const char *const wd[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
	struct hour_row *v = NULL;
	size_t n = 0, cap = 0, i;
	int64_t heat[7][24], bucket_h, b0, b, last, bs, bm;
	json_t *o = json_object(), *series = json_array(), *hm = json_array(), *row;
	const char *bname;
	int d, h;

	rb_progress(r, "activity", 0, 0);
	json_object_set_new(r->m, "activity", o);
	if (hourly(r, "sessions", "start_us", &v, &n, &cap, false) < 0 ||
	    hourly(r, "messages", "time_us", &v, &n, &cap, true) < 0) {
		free(v);
		json_decref(series);
		json_decref(hm);
		return -1;
	}
	memset(heat, 0, sizeof(heat));
	for (i = 0; i < n; i++) {
		/* 1970-01-01 was a Thursday: day 0 is weekday 3 when Monday is 0. */
		d = (int)(((v[i].hour / 24) + 3) % 7);
		heat[d][v[i].hour % 24] += v[i].sessions;
	}
	if (n == 0 || v[n - 1].hour - v[0].hour <= 72) {
		bucket_h = 1;
		bname = "hour";
	} else if (v[n - 1].hour - v[0].hour <= 24 * 180) {
		bucket_h = 24;
		bname = "day";
	} else {
		bucket_h = 24 * 7;
		bname = "week";
	}
	if (n > 0) {
		/* Weeks start on Monday: hour 0 is a Thursday, so shift by three days. */
		int64_t shift = bucket_h == 24 * 7 ? 72 : 0;
		b0 = ((v[0].hour + shift) / bucket_h) * bucket_h - shift;
		last = v[n - 1].hour;
		for (b = b0, i = 0; b <= last; b += bucket_h) {
			bs = bm = 0;
			while (i < n && v[i].hour < b + bucket_h) {
				bs += v[i].sessions;
				bm += v[i].messages;
				i++;
			}
			row = json_object();
			jset(row, "start", jtime(b * HOUR_US));
			jset(row, "sessions", json_integer(bs));
			jset(row, "messages", json_integer(bm));
			json_array_append_new(series, row);
		}
	}
	for (d = 0; d < 7; d++)
		for (h = 0; h < 24; h++) {
			row = json_object();
			jset(row, "weekday", json_string(wd[d]));
			jset(row, "hour", json_integer(h));
			jset(row, "sessions", json_integer(heat[d][h]));
			json_array_append_new(hm, row);
		}
	jset(o, "bucket", json_string(bname));
	jset(o, "bucket_seconds", json_integer(bucket_h * 3600));
	jset(o, "series", series);
	jset(o, "heatmap", hm);
	free(v);
	return 0;
}

struct helo_cls {
	int64_t names, sessions, resolves, matches, fcrdns, enriched;
};

/* helo_row - one finished name (its peer-split rows merged) into classes and the top list */
static void
helo_row(struct rb *r, struct topn *top, struct helo_cls *cls, const void *name, size_t len,
         int64_t sessions, int64_t sources, enum helo_class c, const int64_t dns[4])
{
	json_t *row;

	cls[c].names++;
	if (!topn_wants(top, sessions))
		return;
	row = json_object();
	jset(row, "name", esc_model_str(name, len, REPORT_STR_MAX));
	jset(row, "class", json_string(helo_class_name(c)));
	jset(row, "sessions", json_integer(sessions));
	jset(row, "sources", json_integer(sources));
	if (r->sess_enrich && dns[3] > 0) {
		jset(row, "resolves", jshare(dns[0], dns[3]));
		jset(row, "matches_src", jshare(dns[1], dns[3]));
	} else {
		jset(row, "resolves", json_null());
		jset(row, "matches_src", json_null());
	}
	topn_add(top, sessions, row);
}

/* sec_helo - every distinct HELO/EHLO name classified once (address literals once per peer,
 * because whether the literal is the peer depends on it) */
static int
sec_helo(struct rb *r)
{
	struct helo_cls cls[HELO__COUNT];
	struct topn top;
	sqlite3_stmt *st;
	json_t *o = json_object(), *ca = json_array(), *row;
	char *prev = NULL;
	size_t prevlen = 0;
	int64_t ps = 0, psrc = 0, pdns[4] = {0, 0, 0, 0}, with_helo = 0, active = 0, nrows = 0;
	enum helo_class pc = HELO_MISSING, c;
	const char *peer;
	int i, rc;

	rb_progress(r, "HELO names", 0, 0);
	memset(cls, 0, sizeof(cls));
	json_object_set_new(r->m, "helo", o);
	if (topn_init(&top, (size_t)r->top) < 0)
		return -1;
	st = rb_prepare(r,
	                "SELECT CASE WHEN coalesce(greeting, '') = '' THEN NULL ELSE helo END,"
	                " CASE WHEN substr(helo, 1, 1) = '[' THEN src_ip END,"
	                " count(*), count(DISTINCT src_ip), %s"
	                " FROM sessions WHERE %s AND coalesce(bytes_in, 0) > 0"
	                " GROUP BY 1, 2 ORDER BY 1, 2",
	                r->sess_enrich ? "total(helo_resolves), total(helo_matches),"
	                                 " total(helo_fcrdns), count(helo_resolves)"
	                               : "0, 0, 0, 0",
	                r->sc);
	if (st == NULL) {
		topn_free(&top);
		return -1;
	}
	while ((rc = rb_step(r, st)) == SQLITE_ROW) {
		const void *name = sqlite3_column_blob(st, 0);
		size_t len = (size_t)sqlite3_column_bytes(st, 0);
		int64_t s = sqlite3_column_int64(st, 2);
		int64_t dns[4];

		if ((++nrows & 0xfff) == 0)
			rb_progress(r, "HELO names", nrows, 0);
		for (i = 0; i < 4; i++)
			dns[i] = (int64_t)sqlite3_column_double(st, 4 + i);
		active += s;
		if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
			/* Sent something, but never HELO/EHLO. */
			cls[HELO_MISSING].sessions += s;
			continue;
		}
		with_helo += s;
		peer = (const char *)sqlite3_column_text(st, 1);
		c = helo_classify(name != NULL ? name : "", len, peer, &r->self);
		cls[c].sessions += s;
		cls[c].resolves += dns[0];
		cls[c].matches += dns[1];
		cls[c].fcrdns += dns[2];
		cls[c].enriched += dns[3];
		/* Rows of one name are adjacent (ORDER BY 1); merge its per-peer rows. */
		if (prev != NULL && prevlen == len && memcmp(prev, name, len) == 0) {
			ps += s;
			psrc += sqlite3_column_int64(st, 3);
			for (i = 0; i < 4; i++)
				pdns[i] += dns[i];
			if (c == HELO_LITERAL_MATCH)
				pc = c;
			continue;
		}
		if (prev != NULL)
			helo_row(r, &top, cls, prev, prevlen, ps, psrc, pc, pdns);
		free(prev);
		prev = malloc(len + 1);
		if (prev == NULL)
			break;
		memcpy(prev, name != NULL ? name : "", len);
		prevlen = len;
		ps = s;
		psrc = sqlite3_column_int64(st, 3);
		memcpy(pdns, dns, sizeof(pdns));
		pc = c;
	}
	if (prev != NULL)
		helo_row(r, &top, cls, prev, prevlen, ps, psrc, pc, pdns);
	free(prev);
	sqlite3_finalize(st);
	if (rc < 0) {
		topn_free(&top);
		return -1;
	}
	for (i = 0; i < HELO__COUNT; i++) {
		row = json_object();
		jset(row, "class", json_string(helo_class_name((enum helo_class)i)));
		jset(row, "label", json_string(helo_class_label((enum helo_class)i)));
		jset(row, "names", json_integer(cls[i].names));
		jset(row, "sessions", json_integer(cls[i].sessions));
		jset(row, "share", jshare(cls[i].sessions, active));
		if (r->sess_enrich && cls[i].enriched > 0) {
			jset(row, "dns_checked", json_integer(cls[i].enriched));
			jset(row, "resolves", json_integer(cls[i].resolves));
			jset(row, "matches_src", json_integer(cls[i].matches));
			jset(row, "fcrdns", json_integer(cls[i].fcrdns));
		} else {
			jset(row, "dns_checked", json_integer(0));
			jset(row, "resolves", json_null());
			jset(row, "matches_src", json_null());
			jset(row, "fcrdns", json_null());
		}
		json_array_append_new(ca, row);
	}
	jset(o, "active_sessions", json_integer(active));
	jset(o, "sessions_with_helo", json_integer(with_helo));
	{
		int64_t names = 0;
		for (i = 0; i < HELO__COUNT; i++)
			names += cls[i].names;
		jset(o, "names_distinct", json_integer(names));
	}
	jset(o, "enriched", json_boolean(r->sess_enrich));
	jset(o, "classes", ca);
	jset(o, "top", topn_array(&top));
	topn_free(&top);
	return 0;
}

/* sec_stages - sessions by how far they got, as a funnel */
static int
sec_stages(struct rb *r)
{
	json_t *cmds = json_object_get(r->m, "commands"), *a = json_array(), *row;
	int64_t n[8] = {0}, reached = 0, accepted = 0;
	sqlite3_stmt *st;
	const char *s;
	int i;

	st = rb_prepare(r, "SELECT stage, count(*) FROM sessions WHERE %s GROUP BY 1", r->sc);
	if (st == NULL)
		return -1;
	while (rb_step(r, st) == SQLITE_ROW) {
		s = (const char *)sqlite3_column_text(st, 0);
		for (i = 0; i < 6; i++)
			if (s != NULL && strcmp(s, stage_names[i]) == 0)
				break;
		n[i] += sqlite3_column_int64(st, 1); /* 6: still open or unknown */
	}
	sqlite3_finalize(st);
	st = rb_prepare(r, "SELECT count(DISTINCT session) FROM messages WHERE accepted = 1 AND %s",
	                r->sc);
	if (st == NULL)
		return -1;
	if (rb_step(r, st) == SQLITE_ROW)
		accepted = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	for (i = 5; i >= 0; i--)
		reached += n[i];
	for (i = 0; i < 6; i++) {
		row = json_object();
		jset(row, "stage", json_string(stage_names[i]));
		jset(row, "sessions", json_integer(n[i]));
		jset(row, "reached", json_integer(reached));
		jset(row, "share", jshare(reached, r->sessions));
		json_array_append_new(a, row);
		reached -= n[i];
	}
	row = json_object();
	jset(row, "stage", json_string("accepted"));
	jset(row, "sessions", json_integer(accepted));
	jset(row, "reached", json_integer(accepted));
	jset(row, "share", jshare(accepted, r->sessions));
	json_array_append_new(a, row);
	jset(cmds, "stages", a);
	jset(cmds, "open_sessions", json_integer(n[6]));
	return 0;
}

/* rows_into - run a query and turn every row into an object with the given keys; kinds: 's'
 * attacker string, 'i' integer, 't' time (epoch us), 'r' real */
static int
rows_into(struct rb *r, json_t *arr, const char *keys[], const char *kinds, sqlite3_stmt *st)
{
	json_t *row;
	int i, rc;

	if (st == NULL)
		return -1;
	while ((rc = rb_step(r, st)) == SQLITE_ROW) {
		row = json_object();
		for (i = 0; keys[i] != NULL; i++) {
			json_t *v;
			switch (kinds[i]) {
			case 's':
				v = col_str(st, i);
				break;
			case 't':
				v = jtime(sqlite3_column_int64(st, i));
				break;
			case 'r':
				v = sqlite3_column_type(st, i) == SQLITE_NULL
				        ? json_null()
				        : json_real(sqlite3_column_double(st, i));
				break;
			default:
				v = col_int(st, i);
			}
			jset(row, keys[i], v);
		}
		json_array_append_new(arr, row);
	}
	sqlite3_finalize(st);
	return rc < 0 ? -1 : 0;
}

/* sec_credentials - mechanisms, user names, passwords, pairs, and sources by attempt rate */
static int
sec_credentials(struct rb *r)
{
	json_t *o = json_object(), *a;
	sqlite3_stmt *st;
	int64_t attempts = 0;

	rb_progress(r, "credentials", 0, 0);
	json_object_set_new(r->m, "credentials", o);
	st = rb_prepare(r,
	                "SELECT count(*), count(DISTINCT a.session), count(DISTINCT s.src_ip)"
	                " FROM auth_attempts a JOIN sessions s ON s.session = a.session"
	                " WHERE %s",
	                rb_cond(r, 'a'));
	if (st == NULL || rb_step(r, st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return -1;
	}
	attempts = sqlite3_column_int64(st, 0);
	jset(o, "attempts", json_integer(attempts));
	jset(o, "sessions", json_integer(sqlite3_column_int64(st, 1)));
	jset(o, "sources", json_integer(sqlite3_column_int64(st, 2)));
	sqlite3_finalize(st);

	a = json_array();
	json_object_set_new(o, "mechanisms", a);
	if (rows_into(
	        r, a,
	        (const char *[]){"mechanism", "attempts", "with_credentials", "supported", NULL},
	        "siii",
	        rb_prepare(r,
	                   "SELECT mechanism, count(*), total(username IS NOT NULL OR"
	                   " ntlm_user IS NOT NULL OR digest IS NOT NULL),"
	                   " max(coalesce(supported, 0)) FROM auth_attempts WHERE %s"
	                   " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %d",
	                   r->sc, r->top)) < 0)
		return -1;
	a = json_array();
	json_object_set_new(o, "outcomes", a);
	if (rows_into(r, a, (const char *[]){"outcome", "attempts", NULL}, "si",
	              rb_prepare(r,
	                         "SELECT coalesce(outcome, ''), count(*) FROM auth_attempts"
	                         " WHERE %s GROUP BY 1 ORDER BY 2 DESC, 1",
	                         r->sc)) < 0)
		return -1;
	a = json_array();
	json_object_set_new(o, "usernames", a);
	if (rows_into(r, a, (const char *[]){"username", "attempts", "sources", NULL}, "sii",
	              rb_prepare(r,
	                         "SELECT coalesce(a.username, a.ntlm_user) AS u, count(*),"
	                         " count(DISTINCT s.src_ip) FROM auth_attempts a"
	                         " JOIN sessions s ON s.session = a.session"
	                         " WHERE %s AND u IS NOT NULL GROUP BY u"
	                         " ORDER BY 2 DESC, 1 LIMIT %d",
	                         rb_cond(r, 'a'), r->top)) < 0)
		return -1;
	a = json_array();
	json_object_set_new(o, "passwords", a);
	if (rows_into(r, a, (const char *[]){"password", "attempts", "sources", NULL}, "sii",
	              rb_prepare(r,
	                         "SELECT a.password, count(*), count(DISTINCT s.src_ip)"
	                         " FROM auth_attempts a JOIN sessions s ON s.session = a.session"
	                         " WHERE %s AND a.password IS NOT NULL GROUP BY 1"
	                         " ORDER BY 2 DESC, 1 LIMIT %d",
	                         rb_cond(r, 'a'), r->top)) < 0)
		return -1;
	a = json_array();
	json_object_set_new(o, "pairs", a);
	if (rows_into(r, a, (const char *[]){"username", "password", "attempts", NULL}, "ssi",
	              rb_prepare(r,
	                         "SELECT username, password, count(*) FROM auth_attempts"
	                         " WHERE %s AND username IS NOT NULL AND password IS NOT NULL"
	                         " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT %d",
	                         r->sc, r->top)) < 0)
		return -1;
	a = json_array();
	json_object_set_new(o, "sources_by_rate", a);
	/* Attempts per hour over the span the source was active (at least one minute), so a
	 * burst of 100 in a minute ranks above 100 spread over a week. */
	if (rows_into(
	        r, a,
	        (const char *[]){"ip", "attempts", "sessions", "first", "last", "per_hour", NULL},
	        "siittr",
	        rb_prepare(r,
	                   "SELECT s.src_ip, count(*), count(DISTINCT a.session),"
	                   " min(a.time_us), max(a.time_us),"
	                   " round(count(*) * 3600e6 /"
	                   "  max(max(a.time_us) - min(a.time_us), 60e6), 1) AS rate"
	                   " FROM auth_attempts a JOIN sessions s ON s.session = a.session"
	                   " WHERE %s GROUP BY 1 ORDER BY 2 DESC, rate DESC LIMIT %d",
	                   rb_cond(r, 'a'), r->top)) < 0)
		return -1;
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

/* intel_for - the enrichment columns of one address into row (null = not known) */
static void
intel_for(struct rb *r, sqlite3_stmt *st, const char *ip, json_t *row)
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

/* sec_sources - top addresses (with enrichment) and the distribution tables enrichment fills */
static int
sec_sources(struct rb *r)
{
	json_t *o = json_object(), *a, *row;
	struct topn top;
	sqlite3_stmt *st, *intel;
	int64_t distinct = 0, enriched = 0;
	size_t i;
	int rc;

	rb_progress(r, "sources", 0, 0);
	json_object_set_new(r->m, "sources", o);
	if (topn_init(&top, (size_t)r->top) < 0)
		return -1;
	st = rb_prepare(r,
	                "SELECT src_ip, count(*), min(start_us), max(start_us), total(commands),"
	                " total(messages), total(auth_attempts) FROM sessions WHERE %s"
	                " GROUP BY src_ip",
	                r->sc);
	if (st == NULL) {
		topn_free(&top);
		return -1;
	}
	while ((rc = rb_step(r, st)) == SQLITE_ROW) {
		int64_t n = sqlite3_column_int64(st, 1);
		distinct++;
		if ((distinct & 0xfff) == 0)
			rb_progress(r, "sources", distinct, 0);
		if (!topn_wants(&top, n))
			continue;
		row = json_object();
		jset(row, "ip", col_str(st, 0));
		jset(row, "sessions", json_integer(n));
		jset(row, "first", jtime(sqlite3_column_int64(st, 2)));
		jset(row, "last", jtime(sqlite3_column_int64(st, 3)));
		jset(row, "commands", json_integer((json_int_t)sqlite3_column_double(st, 4)));
		jset(row, "messages", json_integer((json_int_t)sqlite3_column_double(st, 5)));
		jset(row, "auth_attempts", json_integer((json_int_t)sqlite3_column_double(st, 6)));
		topn_add(&top, n, row);
	}
	sqlite3_finalize(st);
	if (rc < 0) {
		topn_free(&top);
		return -1;
	}
	jset(json_object_get(r->m, "overview"), "sources", json_integer(distinct));
	a = topn_array(&top);
	topn_free(&top);
	intel = rb_prepare(r, "SELECT country, city, asn, as_org, dnsbl, os, rdns, enriched_at"
	                      " FROM ip_intel WHERE ip = ?1");
	for (i = 0; i < json_array_size(a); i++) {
		row = json_array_get(a, i);
		intel_for(r, intel, json_string_value(json_object_get(row, "ip")), row);
	}
	sqlite3_finalize(intel);
	jset(o, "distinct", json_integer(distinct));
	jset(o, "top", a);

	/* Enrichment: per source, from ip_intel (joined to the selection when filtered). */
	st = rb_prepare(r,
	                "SELECT count(*) FROM ip_intel WHERE enriched_at IS NOT NULL AND (%d OR ip"
	                " IN (SELECT src_ip FROM sessions WHERE %s))",
	                strcmp(r->sc, "1") == 0, r->sc);
	if (st != NULL && rb_step(r, st) == SQLITE_ROW)
		enriched = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	jset(o, "enriched_sources", json_integer(enriched));
	jset(o, "enriched", json_boolean(enriched > 0 && r->sess_enrich));
	if (!(enriched > 0 && r->sess_enrich)) {
		const char *names[] = {"countries", "cities",   "asns", "dnsbl",
		                       "os",        "helo_dns", "rdns"};
		for (i = 0; i < ARRAY_LEN(names); i++)
			jset(o, names[i], json_array());
		return 0;
	}
	rb_progress(r, "enrichment", 0, 0);
	a = json_array();
	json_object_set_new(o, "countries", a);
	if (rows_into(r, a, (const char *[]){"country", "sources", "sessions", NULL}, "sii",
	              rb_prepare(r,
	                         "SELECT country, count(DISTINCT src_ip), count(*) FROM sessions"
	                         " WHERE %s AND country IS NOT NULL GROUP BY 1"
	                         " ORDER BY 3 DESC, 1 LIMIT %d",
	                         r->sc, r->top)) < 0)
		return -1;
	a = json_array();
	json_object_set_new(o, "cities", a);
	/* Cities carry a position for the map: the mean of their sources' coordinates, from one
	 * GROUP BY over ip_intel rather than a lookup per session. */
	if (rows_into(r, a,
	              (const char *[]){"country", "city", "sources", "sessions", "latitude",
	                               "longitude", NULL},
	              "ssiirr",
	              rb_prepare(r,
	                         "WITH c AS (SELECT country, city, count(DISTINCT src_ip) AS src,"
	                         " count(*) AS n FROM sessions WHERE %s AND city IS NOT NULL"
	                         " GROUP BY 1, 2 ORDER BY n DESC, 1, 2 LIMIT %d),"
	                         " g AS (SELECT country, city, %s FROM ip_intel"
	                         " WHERE city IS NOT NULL GROUP BY 1, 2)"
	                         " SELECT c.country, c.city, c.src, c.n, g.lat, g.lon FROM c"
	                         " LEFT JOIN g ON g.country IS c.country AND g.city = c.city"
	                         " ORDER BY c.n DESC, 1, 2",
	                         r->sc, r->top < 200 ? 200 : r->top,
	                         r->intel_geo ? "avg(latitude) AS lat, avg(longitude) AS lon"
	                                      : "NULL AS lat, NULL AS lon")) < 0)
		return -1;
	a = json_array();
	json_object_set_new(o, "asns", a);
	if (rows_into(r, a, (const char *[]){"asn", "as_org", "sources", "sessions", NULL}, "isii",
	              rb_prepare(r,
	                         "WITH a AS (SELECT asn, min(src_ip) AS ip,"
	                         " count(DISTINCT src_ip) AS src, count(*) AS n FROM sessions"
	                         " WHERE %s AND asn IS NOT NULL GROUP BY 1"
	                         " ORDER BY n DESC, 1 LIMIT %d)"
	                         " SELECT a.asn, i.as_org, a.src, a.n FROM a"
	                         " LEFT JOIN ip_intel i ON i.ip = a.ip ORDER BY a.n DESC, a.asn",
	                         r->sc, r->top)) < 0)
		return -1;
	a = json_array();
	json_object_set_new(o, "os", a);
	if (rows_into(r, a, (const char *[]){"os", "sources", "sessions", NULL}, "sii",
	              rb_prepare(r,
	                         "SELECT os, count(DISTINCT src_ip), count(*) FROM sessions"
	                         " WHERE %s AND os IS NOT NULL GROUP BY 1 ORDER BY 3 DESC, 1"
	                         " LIMIT %d",
	                         r->sc, r->top)) < 0)
		return -1;
	a = json_array();
	json_object_set_new(o, "helo_dns", a);
	if (rows_into(r, a, (const char *[]){"result", "sessions", NULL}, "si",
	              rb_prepare(r,
	                         "SELECT CASE WHEN helo_fcrdns = 1 THEN 'FCrDNS: PTR is the name'"
	                         " WHEN helo_matches = 1 THEN 'resolves to the source'"
	                         " WHEN helo_resolves = 1 THEN 'resolves, not to the source'"
	                         " ELSE 'does not resolve' END, count(*) FROM sessions"
	                         " WHERE %s AND helo_resolves IS NOT NULL GROUP BY 1"
	                         " ORDER BY 2 DESC",
	                         r->sc)) < 0)
		return -1;
	a = json_array();
	json_object_set_new(o, "rdns", a);
	if (rows_into(r, a, (const char *[]){"result", "sessions", NULL}, "si",
	              rb_prepare(r,
	                         "SELECT CASE WHEN fcrdns = 1 THEN 'PTR confirmed (FCrDNS)'"
	                         " WHEN rdns IS NOT NULL THEN 'PTR, not confirmed'"
	                         " ELSE 'no PTR' END, count(*) FROM sessions"
	                         " WHERE %s AND (rdns IS NOT NULL OR fcrdns IS NOT NULL"
	                         " OR country IS NOT NULL) GROUP BY 1 ORDER BY 2 DESC",
	                         r->sc)) < 0)
		return -1;
	/* DNSBL hit rate per zone over the sources that were checked. */
	a = json_array();
	json_object_set_new(o, "dnsbl", a);
	if (rows_into(r, a, (const char *[]){"zone", "listed", "checked", "rate", NULL}, "siir",
	              rb_prepare(r,
	                         "WITH ips AS (SELECT dnsbl FROM ip_intel WHERE dnsbl IS NOT NULL"
	                         " AND json_valid(dnsbl) AND (%d OR ip IN (SELECT src_ip FROM"
	                         " sessions WHERE %s))),"
	                         " n AS (SELECT count(*) AS c FROM ips)"
	                         " SELECT j.value, count(*), n.c, round(count(*) * 1.0 / n.c, 4)"
	                         " FROM ips, json_each(ips.dnsbl) j, n GROUP BY 1"
	                         " ORDER BY 2 DESC, 1 LIMIT %d",
	                         strcmp(r->sc, "1") == 0, r->sc, r->top)) < 0)
		return -1;
	return 0;
}

/* sec_dialect - share of sessions with each bot-dialect signal, and who sends it */
static int
sec_dialect(struct rb *r)
{
	json_t *o = json_object(), *a = json_array(), *row, *srcs;
	sqlite3_stmt *st, *top;
	int rc;

	rb_progress(r, "bot dialect", 0, 0);
	json_object_set_new(r->m, "dialect", o);
	json_object_set_new(o, "signals", a);
	st = rb_prepare(r,
	                "SELECT signal, count(*), count(DISTINCT s.src_ip) FROM signals g"
	                " JOIN sessions s ON s.session = g.session WHERE %s"
	                " GROUP BY 1 ORDER BY 2 DESC, 1",
	                rb_cond(r, 'g'));
	top = rb_prepare(r,
	                 "SELECT s.src_ip, count(*) FROM signals g JOIN sessions s"
	                 " ON s.session = g.session WHERE g.signal = ?1 AND %s GROUP BY 1"
	                 " ORDER BY 2 DESC, 1 LIMIT 3",
	                 rb_cond(r, 'g'));
	if (st == NULL || top == NULL) {
		sqlite3_finalize(st);
		sqlite3_finalize(top);
		return -1;
	}
	while ((rc = rb_step(r, st)) == SQLITE_ROW) {
		row = json_object();
		jset(row, "signal", col_str(st, 0));
		jset(row, "sessions", json_integer(sqlite3_column_int64(st, 1)));
		jset(row, "share", jshare(sqlite3_column_int64(st, 1), r->sessions));
		jset(row, "sources", json_integer(sqlite3_column_int64(st, 2)));
		srcs = json_array();
		sqlite3_reset(top);
		sqlite3_bind_value(top, 1, sqlite3_column_value(st, 0));
		while (sqlite3_step(top) == SQLITE_ROW) {
			json_t *t = json_object();
			jset(t, "ip", col_str(top, 0));
			jset(t, "sessions", json_integer(sqlite3_column_int64(top, 1)));
			json_array_append_new(srcs, t);
		}
		jset(row, "top_sources", srcs);
		json_array_append_new(a, row);
	}
	sqlite3_finalize(st);
	sqlite3_finalize(top);
	jset(o, "sessions", json_integer(r->sessions));
	return rc < 0 ? -1 : 0;
}

json_t *
report_build(const char *db_path, const struct report_opts *o, char *err, size_t errlen)
{
	struct rb r;
	json_t *m = NULL;
	size_t i;
	int ok = -1;

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.err = err;
	r.errlen = errlen;
	r.top = o->top > 0 ? o->top : REPORT_TOP_DEFAULT;
	if (access(db_path, R_OK) != 0) {
		seterr(err, errlen,
		       "%s: cannot read the database (give --data-dir DIR or --db FILE)", db_path);
		return NULL;
	}
	if (sqlite3_open_v2(db_path, &r.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		seterr(err, errlen, "%s: %s", db_path, sqlite3_errmsg(r.db));
		goto out;
	}
	sqlite3_busy_timeout(r.db, 5000);
	/* Sorts and GROUP BYs that do not fit spill to temp files rather than growing memory. */
	sqlite3_exec(r.db, "PRAGMA cache_size = -65536", NULL, NULL, NULL);
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
	load_self(&r);
	sec_report(&r, db_path);
	{
		/* Each section in turn; RELAYTRAP_REPORT_TIMING=1 prints what each one cost. */
		static const struct {
			const char *name;
			int (*fn)(struct rb *);
		} secs[] = {{"overview", sec_overview},
		            {"activity", sec_activity},
		            {"helo", sec_helo},
		            {"commands", model_commands},
		            {"stages", sec_stages},
		            {"messages", model_messages},
		            {"credentials", sec_credentials},
		            {"sources", sec_sources},
		            {"dialect", sec_dialect}};
		bool timing = getenv("RELAYTRAP_REPORT_TIMING") != NULL;
		uint64_t t0;

		for (i = 0; i < ARRAY_LEN(secs); i++) {
			t0 = now_mono_us();
			if (secs[i].fn(&r) < 0)
				goto out;
			if (timing)
				fprintf(stderr, "report: %-12s %8.3f s\n", secs[i].name,
				        (double)(now_mono_us() - t0) / 1e6);
		}
	}
	ok = 0;
out:
	if (o->progress) {
		fprintf(stderr, "\r\033[K");
		fflush(stderr);
	}
	for (i = 0; r.addrs[i] != NULL; i++)
		free(r.addrs[i]);
	sqlite3_close(r.db);
	if (ok < 0) {
		json_decref(m);
		return NULL;
	}
	return m;
}
