/* SPDX-License-Identifier: ISC */
/*
 * model_sessions - the report sections that come from the sessions table, in one streaming
 * pass: overview totals and the per-listener split, sessions per hour (activity), HELO/EHLO
 * identities (each distinct name classified once), the stage funnel, top sources, and the
 * enrichment distributions (countries, cities, ASNs, OS, HELO and reverse DNS).
 *
 * Owns: the tallies and hash set of the pass, freed before it returns.
 * Public: model_sessions (model_int.h).
 * Limits: STREAM_KEYS distinct keys per tally (addresses, names, …); past that a key is not
 *         counted on its own (its sessions still count in the totals).
 *
 * Why one pass: every GROUP BY over a million sessions is a sort or an index walk with a
 * table lookup per row; reading the table once and counting in hash tables costs a fraction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "report/esc.h"
#include "report/model_int.h"
#include "report/tally.h"

#define STREAM_KEYS 2000000
#define US 1000000LL
#define HOUR_US (3600LL * US)

static const char *const stage_names[] = {"connect", "helo", "mail", "rcpt", "data", "message"};

/* DNS results of one HELO name, summed over its sessions; for an address literal, also its
 * sessions whose class waits for the honeypot's addresses (later[0]: not the peer's address,
 * later[1]: the peer's address unknown), which may make them "self" */
struct helo_dns {
	int64_t resolves, matches, fcrdns, checked;
	struct {
		int64_t sessions, resolves, matches, fcrdns, checked;
	} later[2];
};

struct sess_pass {
	struct tally *hours, *listeners, *ips, *helos;
	struct tally *country, *city, *asn, *os, *hdns, *rdns;
	struct hset *pairs;
	int64_t sessions, silent, scans, open, bytes_in, bytes_out, rcpts, auth, commands;
	int64_t first, last, active, with_helo;
	struct {
		int64_t names, sessions, resolves, matches, fcrdns, checked;
	} cls[HELO__COUNT];
};

/* bump - count a session for entry e: n, first/last, and a distinct source in *field */
static void
bump(struct sess_pass *p, char tag, struct tally_ent *e, const char *ip, int64_t t, uint64_t *field)
{
	if (e == NULL)
		return;
	e->n++;
	if (e->first == 0 || t < e->first)
		e->first = t;
	if (t > e->last)
		e->last = t;
	if (field != NULL && hset_add(p->pairs, hash_mix(tag, (uintptr_t)e, ip, strlen(ip))))
		(*field)++;
}

/* col_txt - a column as bytes and length ("" for NULL) */
static const char *
col_txt(sqlite3_stmt *st, int i, size_t *len)
{
	const char *s = (const char *)sqlite3_column_text(st, i);

	*len = (size_t)sqlite3_column_bytes(st, i);
	return s != NULL ? s : "";
}

/* on_helo - the HELO part of one session that sent something */
static void
on_helo(struct rb *r, struct sess_pass *p, sqlite3_stmt *st, const char *ip, int64_t t)
{
	size_t len;
	const char *name;
	struct tally_ent *e;
	struct helo_dns *d;
	enum helo_class c;
	bool dns = r->sess_enrich && sqlite3_column_type(st, 17) != SQLITE_NULL;
	int64_t v[3];

	p->active++;
	if (sqlite3_column_type(st, 11) == SQLITE_NULL) {
		p->cls[HELO_MISSING].sessions++; /* sent something, never HELO/EHLO */
		return;
	}
	p->with_helo++;
	name = sqlite3_column_blob(st, 11);
	len = (size_t)sqlite3_column_bytes(st, 11);
	if (name == NULL)
		name = "";
	e = tally_get(p->helos, name, len, NULL);
	bump(p, 'H', e, ip, t, e != NULL ? &e->n2 : NULL);
	v[0] = sqlite3_column_int64(st, 17);
	v[1] = sqlite3_column_int64(st, 18);
	v[2] = sqlite3_column_int64(st, 19);
	if (e != NULL && dns) {
		if (e->p == NULL)
			e->p = calloc(1, sizeof(struct helo_dns));
		if ((d = e->p) != NULL) {
			d->resolves += v[0];
			d->matches += v[1];
			d->fcrdns += v[2];
			d->checked++;
		}
	}
	/* An address literal's class depends on the peer: classify it per session. Whether it
	 * is one of the honeypot's addresses depends only on the name: sessions whose class
	 * that could change wait in the name's entry until out_helo knows the addresses, so
	 * this pass need not wait for them. */
	if (len > 0 && name[0] == '[') {
		c = helo_classify(name, len, ip, NULL);
		if (e != NULL && (c == HELO_LITERAL_OTHER ||
		                  (c == HELO_LITERAL_MATCH && !helo_peer_known(ip)))) {
			if (e->p == NULL)
				e->p = calloc(1, sizeof(struct helo_dns));
			if ((d = e->p) != NULL) {
				int k = c == HELO_LITERAL_OTHER ? 0 : 1;
				d->later[k].sessions++;
				if (dns) {
					d->later[k].resolves += v[0];
					d->later[k].matches += v[1];
					d->later[k].fcrdns += v[2];
					d->later[k].checked++;
				}
				return;
			}
		}
		if (c == HELO_LITERAL_OTHER || c == HELO_LITERAL_MATCH)
			c = helo_classify(name, len, ip, rb_self(r)); /* no entry to wait in */
		p->cls[c].sessions++;
		if (dns) {
			p->cls[c].resolves += v[0];
			p->cls[c].matches += v[1];
			p->cls[c].fcrdns += v[2];
			p->cls[c].checked++;
		}
		if (e != NULL)
			e->aux |= 1u << c;
	}
}

/* Bits of an address's tally entry (mask): which distributions already counted it as a source
 * (an address is counted in the first country, city, AS and OS it was seen with), and below
 * them which listeners it used. This replaces a hash-set lookup per session and table. */
#define SEEN_COUNTRY (1ull << 63)
#define SEEN_CITY (1ull << 62)
#define SEEN_ASN (1ull << 61)
#define SEEN_OS (1ull << 60)
#define LISTENER_BITS 56

/* seen - count the address behind ipe once in *field for the distribution bit */
static void
seen(struct tally_ent *ipe, uint64_t bit, uint64_t *field)
{
	if (ipe != NULL && !(ipe->mask & bit)) {
		ipe->mask |= bit;
		(*field)++;
	}
}

/* i64_dec - v in decimal, as "%lld" prints it; its length */
static size_t
i64_dec(char *out, int64_t v)
{
	char tmp[24];
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	size_t n = 0, k = 0;

	do
		tmp[n++] = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		out[k++] = '-';
	while (n > 0)
		out[k++] = tmp[--n];
	out[k] = '\0';
	return k;
}

/* on_enrich - the enrichment columns of one session into their distributions */
static void
on_enrich(struct sess_pass *p, sqlite3_stmt *st, const char *ip, struct tally_ent *ipe, int64_t t)
{
	char key[TALLY_KEY_MAX];
	const char *a, *b;
	size_t al, bl, kl;
	struct tally_ent *e;
	const char *label;

	if (sqlite3_column_type(st, 13) != SQLITE_NULL) {
		a = col_txt(st, 13, &al);
		e = tally_get(p->country, a, al, NULL);
		bump(p, 'c', e, ip, t, NULL);
		if (e != NULL)
			seen(ipe, SEEN_COUNTRY, &e->n2);
		if (sqlite3_column_type(st, 14) != SQLITE_NULL) {
			b = col_txt(st, 14, &bl);
			kl = strnlen(a, al < 64 ? al : 64); /* as "%.*s" would print it */
			memcpy(key, a, kl);
			if (kl + 1 + bl < sizeof(key)) {
				key[kl] = '\0';
				memcpy(key + kl + 1, b, bl);
				e = tally_get(p->city, key, kl + 1 + bl, NULL);
				bump(p, 't', e, ip, t, NULL);
				if (e != NULL)
					seen(ipe, SEEN_CITY, &e->n2);
			}
		}
	}
	if (sqlite3_column_type(st, 15) != SQLITE_NULL) {
		kl = i64_dec(key, sqlite3_column_int64(st, 15));
		e = tally_get(p->asn, key, kl, NULL);
		bump(p, 'a', e, ip, t, NULL);
		if (e != NULL)
			seen(ipe, SEEN_ASN, &e->n2);
		if (e != NULL && e->p == NULL)
			e->p = strdup(ip); /* an address of this AS, to look up its name */
	}
	if (sqlite3_column_type(st, 16) != SQLITE_NULL) {
		a = col_txt(st, 16, &al);
		e = tally_get(p->os, a, al, NULL);
		bump(p, 'o', e, ip, t, NULL);
		if (e != NULL)
			seen(ipe, SEEN_OS, &e->n2);
	}
	if (sqlite3_column_type(st, 17) != SQLITE_NULL) {
		label = sqlite3_column_int(st, 19) == 1   ? "FCrDNS: PTR is the name"
		        : sqlite3_column_int(st, 18) == 1 ? "resolves to the source"
		        : sqlite3_column_int(st, 17) == 1 ? "resolves, not to the source"
		                                          : "does not resolve";
		bump(p, 'd', tally_get(p->hdns, label, strlen(label), NULL), ip, t, NULL);
	}
	if (sqlite3_column_type(st, 20) != SQLITE_NULL ||
	    sqlite3_column_type(st, 21) != SQLITE_NULL ||
	    sqlite3_column_type(st, 13) != SQLITE_NULL) {
		label = sqlite3_column_int(st, 21) == 1              ? "PTR confirmed (FCrDNS)"
		        : sqlite3_column_type(st, 20) != SQLITE_NULL ? "PTR, not confirmed"
		                                                     : "no PTR";
		bump(p, 'r', tally_get(p->rdns, label, strlen(label), NULL), ip, t, NULL);
	}
}

/* out_overview - totals and listeners */
static void
out_overview(struct rb *r, struct sess_pass *p, int64_t msgs, int64_t accepted, int64_t mbytes)
{
	json_t *o = json_object(), *ls = json_array(), *row;
	struct tally_ent **v;
	size_t n, i, kl;

	json_object_set_new(r->m, "overview", o);
	jset(o, "first", jtime(p->first));
	jset(o, "last", jtime(p->last));
	jset(o, "sessions", json_integer(p->sessions));
	jset(o, "sources", json_integer((json_int_t)tally_count(p->ips, NULL)));
	jset(o, "silent_sessions", json_integer(p->silent));
	jset(o, "port_scans", json_integer(p->scans));
	jset(o, "banner_grabs", json_integer(p->silent - p->scans));
	jset(o, "open_sessions", json_integer(p->open));
	jset(o, "bytes_in", json_integer(p->bytes_in));
	jset(o, "bytes_out", json_integer(p->bytes_out));
	jset(o, "recipients", json_integer(p->rcpts));
	jset(o, "auth_attempts", json_integer(p->auth));
	jset(o, "commands", json_integer(p->commands));
	jset(o, "first_us", json_integer(p->first));
	jset(o, "last_us", json_integer(p->last));
	jset(o, "messages", json_integer(msgs));
	jset(o, "messages_accepted", json_integer(accepted));
	jset(o, "message_bytes", json_integer(mbytes));
	v = tally_sorted(p->listeners, &n);
	for (i = 0; v != NULL && i < n; i++) {
		kl = strlen(v[i]->key);
		row = json_object();
		jset(row, "listener", esc_model_str(v[i]->key, kl, REPORT_STR_MAX));
		jset(row, "persona",
		     esc_model_str(v[i]->key + kl + 1, v[i]->klen - kl - 1, REPORT_STR_MAX));
		jset(row, "sessions", json_integer((json_int_t)v[i]->n));
		jset(row, "sources", json_integer((json_int_t)v[i]->aux));
		jset(row, "messages", json_integer((json_int_t)v[i]->n2));
		jset(row, "auth_attempts", json_integer((json_int_t)v[i]->n3));
		json_array_append_new(ls, row);
	}
	free(v);
	jset(o, "listeners", ls);
}

/* cmp_hour - hour keys ascending */
static int
cmp_hour(const void *a, const void *b)
{
	int64_t x, y;

	memcpy(&x, (*(struct tally_ent *const *)a)->key, sizeof(x));
	memcpy(&y, (*(struct tally_ent *const *)b)->key, sizeof(y));
	return x < y ? -1 : x > y;
}

/* out_activity - buckets from the hourly counts (hour, day or week from the span) and the
 * weekday x hour heat map */
static int
out_activity(struct rb *r, struct sess_pass *p, const struct msg_totals *mt)
{
	static const char *const wd[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
	json_t *o = json_object(), *series = json_array(), *hm = json_array(), *row;
	struct tally_ent **v, *e;
	int64_t heat[7][24], bh, b0, b, lastb, bs, bm, h0, h1, h;
	size_t n, i;
	const char *bname;
	int d, k;

	json_object_set_new(r->m, "activity", o);
	/* Messages per hour (from the messages pass) join the same table of hours. */
	v = mt->hours != NULL ? tally_entries(mt->hours, &n) : NULL;
	for (i = 0; v != NULL && i < n; i++)
		if ((e = tally_get(p->hours, v[i]->key, v[i]->klen, NULL)) != NULL)
			e->n2 += v[i]->n;
	free(v);
	v = tally_sorted(p->hours, &n);
	if (v == NULL)
		return -1;
	qsort(v, n, sizeof(*v), cmp_hour);
	memset(heat, 0, sizeof(heat));
	for (i = 0; i < n; i++) {
		memcpy(&h, v[i]->key, sizeof(h));
		/* 1970-01-01 was a Thursday: day 0 is weekday 3 when Monday is 0. */
		heat[((h / 24) + 3) % 7][h % 24] += (int64_t)v[i]->n;
	}
	h0 = h1 = 0;
	if (n > 0) {
		memcpy(&h0, v[0]->key, sizeof(h0));
		memcpy(&h1, v[n - 1]->key, sizeof(h1));
	}
	if (h1 - h0 <= 72) {
		bh = 1;
		bname = "hour";
	} else if (h1 - h0 <= 24 * 180) {
		bh = 24;
		bname = "day";
	} else {
		bh = 24 * 7;
		bname = "week";
	}
	if (n > 0 && (h1 - h0) / bh < 100000) {
		/* Weeks start on Monday: hour 0 is a Thursday, so shift by three days. */
		int64_t shift = bh == 24 * 7 ? 72 : 0;
		b0 = ((h0 + shift) / bh) * bh - shift;
		lastb = h1;
		for (b = b0, i = 0; b <= lastb; b += bh) {
			bs = bm = 0;
			while (i < n) {
				memcpy(&h, v[i]->key, sizeof(h));
				if (h >= b + bh)
					break;
				bs += (int64_t)v[i]->n;
				bm += (int64_t)v[i]->n2;
				i++;
			}
			row = json_object();
			jset(row, "start", jtime(b * HOUR_US));
			jset(row, "sessions", json_integer(bs));
			jset(row, "messages", json_integer(bm));
			json_array_append_new(series, row);
		}
	}
	free(v);
	for (d = 0; d < 7; d++)
		for (k = 0; k < 24; k++) {
			row = json_object();
			jset(row, "weekday", json_string(wd[d]));
			jset(row, "hour", json_integer(k));
			jset(row, "sessions", json_integer(heat[d][k]));
			json_array_append_new(hm, row);
		}
	jset(o, "bucket", json_string(bname));
	jset(o, "bucket_seconds", json_integer(bh * 3600));
	jset(o, "series", series);
	jset(o, "heatmap", hm);
	return 0;
}

/* out_helo - classes (each distinct name classified once) and the top names */
static void
out_helo(struct rb *r, struct sess_pass *p)
{
	const struct helo_self *self = rb_self(r);
	json_t *o = json_object(), *ca = json_array(), *top = json_array(), *row;
	struct tally_ent **v;
	struct helo_dns *d;
	enum helo_class c;
	size_t n, i;
	int k;

	json_object_set_new(r->m, "helo", o);
	/* every distinct name is classified once, in no particular order; then the top rows */
	v = tally_entries(p->helos, &n);
	for (i = 0; v != NULL && i < n; i++) {
		d = v[i]->p;
		if (d != NULL && (d->later[0].sessions > 0 || d->later[1].sessions > 0)) {
			/* literal sessions that waited: "self" when the literal is the honeypot's
			 */
			bool is_self =
			    helo_classify(v[i]->key, v[i]->klen, NULL, self) == HELO_SELF;
			for (int l = 0; l < 2; l++) {
				if (d->later[l].sessions == 0)
					continue;
				c = is_self  ? HELO_SELF
				    : l == 0 ? HELO_LITERAL_OTHER
				             : HELO_LITERAL_MATCH;
				p->cls[c].sessions += d->later[l].sessions;
				p->cls[c].resolves += d->later[l].resolves;
				p->cls[c].matches += d->later[l].matches;
				p->cls[c].fcrdns += d->later[l].fcrdns;
				p->cls[c].checked += d->later[l].checked;
				v[i]->aux |= 1u << c;
			}
		}
		if (v[i]->aux != 0) {
			/* a literal: its sessions were classified one by one; name it by the
			 * peer-matching class when any session matched */
			c = (v[i]->aux & (1u << HELO_LITERAL_MATCH))
			        ? HELO_LITERAL_MATCH
			        : (enum helo_class)__builtin_ctz((unsigned)v[i]->aux);
		} else {
			c = helo_classify(v[i]->key, v[i]->klen, NULL, self);
			p->cls[c].sessions += (int64_t)v[i]->n;
			if (d != NULL) {
				p->cls[c].resolves += d->resolves;
				p->cls[c].matches += d->matches;
				p->cls[c].fcrdns += d->fcrdns;
				p->cls[c].checked += d->checked;
			}
		}
		p->cls[c].names++;
		v[i]->mask = (uint64_t)c;
	}
	free(v);
	v = tally_top(p->helos, (size_t)r->top, &n);
	for (i = 0; v != NULL && i < n; i++) {
		d = v[i]->p;
		row = json_object();
		jset(row, "name", esc_model_str(v[i]->key, v[i]->klen, REPORT_STR_MAX));
		jset(row, "class", json_string(helo_class_name((enum helo_class)v[i]->mask)));
		jset(row, "sessions", json_integer((json_int_t)v[i]->n));
		jset(row, "sources", json_integer((json_int_t)v[i]->n2));
		jset(row, "resolves",
		     d != NULL && d->checked > 0 ? jshare(d->resolves, d->checked) : json_null());
		jset(row, "matches_src",
		     d != NULL && d->checked > 0 ? jshare(d->matches, d->checked) : json_null());
		json_array_append_new(top, row);
	}
	free(v);
	for (k = 0; k < HELO__COUNT; k++) {
		row = json_object();
		jset(row, "class", json_string(helo_class_name((enum helo_class)k)));
		jset(row, "label", json_string(helo_class_label((enum helo_class)k)));
		jset(row, "names", json_integer(p->cls[k].names));
		jset(row, "sessions", json_integer(p->cls[k].sessions));
		jset(row, "share", jshare(p->cls[k].sessions, p->active));
		jset(row, "dns_checked", json_integer(p->cls[k].checked));
		jset(row, "resolves",
		     p->cls[k].checked > 0 ? json_integer(p->cls[k].resolves) : json_null());
		jset(row, "matches_src",
		     p->cls[k].checked > 0 ? json_integer(p->cls[k].matches) : json_null());
		jset(row, "fcrdns",
		     p->cls[k].checked > 0 ? json_integer(p->cls[k].fcrdns) : json_null());
		json_array_append_new(ca, row);
	}
	jset(o, "active_sessions", json_integer(p->active));
	jset(o, "sessions_with_helo", json_integer(p->with_helo));
	jset(o, "names_distinct", json_integer((json_int_t)tally_count(p->helos, NULL)));
	jset(o, "enriched", json_boolean(r->sess_enrich));
	jset(o, "classes", ca);
	jset(o, "top", top);
}

/* dist - a distribution table: key under kname, sources (n2) and sessions (n) */
static json_t *
dist(struct tally *t, int top, const char *kname)
{
	json_t *a = json_array(), *row;
	size_t n, i;
	struct tally_ent **v = tally_top(t, (size_t)top, &n);

	for (i = 0; v != NULL && i < n; i++) {
		row = json_object();
		jset(row, kname, esc_model_str(v[i]->key, v[i]->klen, REPORT_STR_MAX));
		jset(row, "sources", json_integer((json_int_t)v[i]->n2));
		jset(row, "sessions", json_integer((json_int_t)v[i]->n));
		json_array_append_new(a, row);
	}
	free(v);
	return a;
}

/* zone_scan - the zone names in a JSON array of strings (ip_intel.dnsbl) into the tally;
 * plain names are read directly, anything with an escape goes through jansson */
static void
zone_scan(struct tally *zones, const char *s)
{
	const char *q, *e;
	json_t *a;
	size_t i;

	if (strchr(s, '\\') != NULL) {
		a = json_loads(s, 0, NULL);
		for (i = 0; i < json_array_size(a); i++) {
			json_t *z = json_array_get(a, i);
			struct tally_ent *t;
			if (json_is_string(z) && (t = tally_get(zones, json_string_value(z),
			                                        json_string_length(z), NULL)))
				t->n++;
		}
		json_decref(a);
		return;
	}
	for (q = strchr(s, '"'); q != NULL; q = strchr(e + 1, '"')) {
		struct tally_ent *t;
		if ((e = strchr(q + 1, '"')) == NULL)
			break;
		if ((t = tally_get(zones, q + 1, (size_t)(e - q - 1), NULL)) != NULL)
			t->n++;
	}
}

/* intel_pass - one scan of ip_intel for the selected sources: how many were enriched, the
 * mean position of each listed city's addresses (for the map), and DNSBL hit rates per zone
 * (listed / checked) into o["dnsbl"] */
static int
intel_pass(struct rb *r, struct sess_pass *p, json_t *cities, json_t *o, int64_t *enriched)
{
	struct tally *want = tally_new(100000, true), *zones = tally_new(4096, false);
	char key[TALLY_KEY_MAX];
	json_t *a = json_array(), *row;
	struct tally_ent *e, **v;
	sqlite3_stmt *st = NULL;
	int64_t checked = 0;
	size_t i, al, bl, n;
	int rc = -1;

	*enriched = 0;
	json_object_set_new(o, "dnsbl", a);
	if (want == NULL || zones == NULL)
		goto out;
	for (i = 0; i < json_array_size(cities); i++) {
		row = json_array_get(cities, i);
		al = json_string_length(json_object_get(row, "country"));
		bl = json_string_length(json_object_get(row, "city"));
		if (al > 64 || al + 1 + bl > sizeof(key))
			continue;
		memcpy(key, json_string_value(json_object_get(row, "country")), al);
		key[al] = '\0';
		memcpy(key + al + 1, json_string_value(json_object_get(row, "city")), bl);
		if ((e = tally_get(want, key, al + 1 + bl, NULL)) != NULL && e->p == NULL) {
			e->p = calloc(2, sizeof(double));
			e->aux = i;
		}
	}
	st = rb_prepare(r,
	                "SELECT ip, country, city, %s, dnsbl, enriched_at IS NOT NULL"
	                " FROM ip_intel",
	                r->intel_geo ? "latitude, longitude" : "NULL, NULL");
	if (st == NULL)
		goto out;
	while ((rc = rb_step(r, st)) == SQLITE_ROW) {
		const char *ip = (const char *)sqlite3_column_text(st, 0);
		const char *c = (const char *)sqlite3_column_text(st, 1);
		const char *t = (const char *)sqlite3_column_text(st, 2);
		const char *z = (const char *)sqlite3_column_text(st, 5);

		if (ip == NULL || tally_find(p->ips, ip, strlen(ip)) == NULL)
			continue; /* not a source in this selection */
		if (sqlite3_column_int(st, 6))
			(*enriched)++;
		if (z != NULL) {
			checked++;
			zone_scan(zones, z);
		}
		if (c == NULL || t == NULL || sqlite3_column_type(st, 3) == SQLITE_NULL)
			continue;
		al = strlen(c);
		bl = strlen(t);
		if (al > 64 || al + 1 + bl > sizeof(key))
			continue;
		memcpy(key, c, al);
		key[al] = '\0';
		memcpy(key + al + 1, t, bl);
		if ((e = tally_find(want, key, al + 1 + bl)) != NULL && e->p != NULL) {
			((double *)e->p)[0] += sqlite3_column_double(st, 3);
			((double *)e->p)[1] += sqlite3_column_double(st, 4);
			e->n++;
		}
	}
	if (rc < 0)
		goto out;
	v = tally_entries(want, &n);
	for (i = 0; v != NULL && i < n; i++) {
		if (v[i]->n == 0 || v[i]->p == NULL)
			continue;
		row = json_array_get(cities, v[i]->aux);
		jset(row, "latitude", json_real(((double *)v[i]->p)[0] / (double)v[i]->n));
		jset(row, "longitude", json_real(((double *)v[i]->p)[1] / (double)v[i]->n));
	}
	free(v);
	v = tally_top(zones, (size_t)r->top, &n);
	for (i = 0; v != NULL && i < n; i++) {
		row = json_object();
		jset(row, "zone", esc_model_str(v[i]->key, v[i]->klen, REPORT_STR_MAX));
		jset(row, "listed", json_integer((json_int_t)v[i]->n));
		jset(row, "checked", json_integer(checked));
		jset(row, "rate",
		     json_real(
		         checked > 0
		             ? (double)(int64_t)((double)v[i]->n * 10000 / (double)checked + 0.5) /
		                   10000
		             : 0));
		json_array_append_new(a, row);
	}
	free(v);
	rc = 0;
out:
	sqlite3_finalize(st);
	tally_free(want);
	tally_free(zones);
	return rc;
}

/* out_sources - top sources with their ip_intel row, and the enrichment distributions */
static int
out_sources(struct rb *r, struct sess_pass *p)
{
	json_t *o = json_object(), *a, *row;
	struct tally_ent **v;
	sqlite3_stmt *st;
	size_t n, i, kl;
	int64_t enriched = 0;

	json_object_set_new(r->m, "sources", o);
	jset(o, "distinct", json_integer((json_int_t)tally_count(p->ips, NULL)));
	a = json_array();
	v = tally_top(p->ips, (size_t)r->top, &n);
	for (i = 0; v != NULL && i < n; i++) {
		row = json_object();
		jset(row, "ip", esc_model_str(v[i]->key, v[i]->klen, REPORT_STR_MAX));
		jset(row, "sessions", json_integer((json_int_t)v[i]->n));
		jset(row, "first", jtime(v[i]->first));
		jset(row, "last", jtime(v[i]->last));
		jset(row, "commands", json_integer((json_int_t)v[i]->n2));
		jset(row, "messages", json_integer((json_int_t)v[i]->n3));
		jset(row, "auth_attempts", json_integer((json_int_t)v[i]->aux));
		json_array_append_new(a, row);
	}
	free(v);
	st = rb_prepare(r, "SELECT country, city, asn, as_org, dnsbl, os, rdns, enriched_at"
	                   " FROM ip_intel WHERE ip = ?1");
	for (i = 0; i < json_array_size(a); i++) {
		row = json_array_get(a, i);
		rb_intel_for(r, st, json_string_value(json_object_get(row, "ip")), row);
	}
	sqlite3_finalize(st);
	jset(o, "top", a);

	/* The cities table comes first: the ip_intel pass fills in their positions. */
	a = json_array();
	v = tally_top(p->city, (size_t)(r->top < 200 ? 200 : r->top), &n);
	for (i = 0; v != NULL && i < n; i++) {
		kl = strlen(v[i]->key);
		row = json_object();
		jset(row, "country", esc_model_str(v[i]->key, kl, REPORT_STR_MAX));
		jset(row, "city",
		     esc_model_str(v[i]->key + kl + 1, v[i]->klen - kl - 1, REPORT_STR_MAX));
		jset(row, "sources", json_integer((json_int_t)v[i]->n2));
		jset(row, "sessions", json_integer((json_int_t)v[i]->n));
		jset(row, "latitude", json_null());
		jset(row, "longitude", json_null());
		json_array_append_new(a, row);
	}
	free(v);
	if (intel_pass(r, p, a, o, &enriched) < 0) {
		json_decref(a);
		return -1;
	}
	jset(o, "enriched_sources", json_integer(enriched));
	jset(o, "enriched", json_boolean(enriched > 0 && r->sess_enrich));
	if (!(enriched > 0 && r->sess_enrich))
		json_array_clear(a);
	jset(o, "cities", a);
	jset(o, "countries", dist(p->country, r->top, "country"));
	jset(o, "os", dist(p->os, r->top, "os"));

	a = json_array();
	v = tally_top(p->asn, (size_t)r->top, &n);
	st = n > 0 ? rb_prepare(r, "SELECT as_org FROM ip_intel WHERE ip = ?1") : NULL;
	for (i = 0; v != NULL && i < n; i++) {
		row = json_object();
		jset(row, "asn", json_integer(strtoll(v[i]->key, NULL, 10)));
		jset(row, "as_org", json_null());
		if (st != NULL && v[i]->p != NULL) {
			sqlite3_reset(st);
			sqlite3_bind_text(st, 1, v[i]->p, -1, SQLITE_TRANSIENT);
			if (sqlite3_step(st) == SQLITE_ROW)
				jset(row, "as_org", col_str(st, 0));
		}
		jset(row, "sources", json_integer((json_int_t)v[i]->n2));
		jset(row, "sessions", json_integer((json_int_t)v[i]->n));
		json_array_append_new(a, row);
	}
	free(v);
	sqlite3_finalize(st);
	jset(o, "asns", a);
	jset(o, "helo_dns", rb_ranked2(p->hdns, 16, "result", "sessions"));
	jset(o, "rdns", rb_ranked2(p->rdns, 16, "result", "sessions"));
	return 0;
}

/* pass_free - release the pass */
static void
pass_free(struct sess_pass *p)
{
	if (p == NULL)
		return;
	tally_free(p->hours);
	tally_free(p->listeners);
	tally_free(p->ips);
	tally_free(p->helos);
	tally_free(p->country);
	tally_free(p->city);
	tally_free(p->asn);
	tally_free(p->os);
	tally_free(p->hdns);
	tally_free(p->rdns);
	hset_free(p->pairs);
	free(p);
}

void
model_sessions_free(struct rb *r)
{
	pass_free(r->sp);
	r->sp = NULL;
}

int
model_sessions_finish(struct rb *r, const struct msg_totals *mt)
{
	int rc;

	if (r->sp == NULL)
		return -1;
	out_overview(r, r->sp, mt->messages, (int64_t)mt->accepted, (int64_t)mt->bytes);
	rc = out_activity(r, r->sp, mt);
	model_sessions_free(r);
	return rc;
}

int
model_sessions(struct rb *r)
{
	struct sess_pass *pp = calloc(1, sizeof(*pp));
	struct sesswin *win = sesswin_new();
	struct side *cred = NULL, *dial = NULL;
	sqlite3_stmt *st;
	char key[TALLY_KEY_MAX];
	int64_t t, bin;
	struct tally_ent *e, *ipe;
	const char *ip, *s;
	size_t al, bl;
	bool created;
	int rc = -1, i;

	if (pp == NULL || win == NULL) {
		free(pp);
		sesswin_free(win);
		seterr(r->err, r->errlen, "out of memory");
		return -1;
	}
	r->sp = pp;
	pp->hours = tally_new(STREAM_KEYS, false);
	pp->listeners = tally_new(4096, false);
	pp->ips = tally_new(STREAM_KEYS, false);
	pp->helos = tally_new(STREAM_KEYS, true);
	pp->country = tally_new(4096, false);
	pp->city = tally_new(STREAM_KEYS, false);
	pp->asn = tally_new(STREAM_KEYS, true);
	pp->os = tally_new(4096, false);
	pp->hdns = tally_new(16, false);
	pp->rdns = tally_new(16, false);
	pp->pairs = hset_new();
	if (pp->hours == NULL || pp->listeners == NULL || pp->ips == NULL || pp->helos == NULL ||
	    pp->country == NULL || pp->city == NULL || pp->asn == NULL || pp->os == NULL ||
	    pp->hdns == NULL || pp->rdns == NULL || pp->pairs == NULL || win == NULL) {
		seterr(r->err, r->errlen, "out of memory");
		goto out;
	}
	/* AUTH attempts and signals are read alongside, matched to the sessions just read */
	if ((cred = side_credentials(r)) == NULL || (dial = side_dialect(r)) == NULL)
		goto out;
	rb_progress(r, "sessions", 0, 0);
	st = rb_prepare(r,
	                "SELECT start_us, end_us, bytes_in, bytes_out, rcpts, auth_attempts,"
	                " commands, stage, coalesce(listener, ''), coalesce(persona, ''),"
	                " coalesce(src_ip, ''),"
	                " CASE WHEN coalesce(greeting, '') = '' THEN NULL ELSE helo END, messages,"
	                " %s, session FROM sessions WHERE %s",
	                r->sess_enrich ? "country, city, asn, os, helo_resolves, helo_matches,"
	                                 " helo_fcrdns, rdns, fcrdns"
	                               : "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL",
	                r->sc);
	if (st == NULL)
		goto out;
	while ((rc = rb_step(r, st)) == SQLITE_ROW) {
		/* columns: 13 country, 14 city, 15 asn, 16 os, 17 helo_resolves,
		 * 18 helo_matches, 19 helo_fcrdns, 20 rdns, 21 fcrdns, 22 session */
		t = sqlite3_column_int64(st, 0);
		ip = (const char *)sqlite3_column_text(st, 10);
		bin = sqlite3_column_int64(st, 2);
		pp->sessions++;
		if ((pp->sessions & 0xffff) == 0)
			rb_progress(r, "sessions", pp->sessions, r->sessions);
		if (pp->first == 0 || t < pp->first)
			pp->first = t;
		if (t > pp->last)
			pp->last = t;
		if (sqlite3_column_type(st, 1) == SQLITE_NULL)
			pp->open++;
		else if (bin == 0) {
			pp->silent++;
			if (sqlite3_column_int64(st, 3) == 0)
				pp->scans++;
		}
		pp->bytes_in += bin;
		pp->bytes_out += sqlite3_column_int64(st, 3);
		pp->rcpts += sqlite3_column_int64(st, 4);
		pp->auth += sqlite3_column_int64(st, 5);
		pp->commands += sqlite3_column_int64(st, 6);
		s = (const char *)sqlite3_column_text(st, 7);
		for (i = 0; i < 6; i++)
			if (s != NULL && strcmp(s, stage_names[i]) == 0)
				break;
		r->stages[i]++; /* 6: still open or unknown */
		{
			int64_t h = t / HOUR_US;
			bump(pp, 'h', tally_get(pp->hours, &h, sizeof(h), NULL), ip, t, NULL);
		}
		s = col_txt(st, 8, &al);
		memcpy(key, s, al < 100 ? al : 100);
		key[al < 100 ? al : 100] = '\0';
		al = al < 100 ? al : 100;
		s = col_txt(st, 9, &bl);
		bl = bl < 100 ? bl : 100;
		memcpy(key + al + 1, s, bl);
		ipe = tally_get(pp->ips, ip, strlen(ip), NULL);
		if (ipe != NULL) {
			bump(pp, 'i', ipe, ip, t, NULL);
			ipe->n2 += (uint64_t)sqlite3_column_int64(st, 6);
			ipe->n3 += (uint64_t)sqlite3_column_int64(st, 12);
			ipe->aux += (uint64_t)sqlite3_column_int64(st, 5);
		}
		if ((e = tally_get(pp->listeners, key, al + 1 + bl, &created)) != NULL) {
			if (created && tally_count(pp->listeners, NULL) <= LISTENER_BITS)
				e->mask = 1ull << (tally_count(pp->listeners, NULL) - 1);
			/* distinct sources: a bit in the address's entry, a hash set past 56 */
			if (e->mask != 0 && ipe != NULL) {
				bump(pp, 'L', e, ip, t, NULL);
				seen(ipe, e->mask, &e->aux);
			} else
				bump(pp, 'L', e, ip, t, &e->aux);
			e->n2 += (uint64_t)sqlite3_column_int64(st, 12);
			e->n3 += (uint64_t)sqlite3_column_int64(st, 5);
		}
		if (bin > 0)
			on_helo(r, pp, st, ip, t);
		if (r->sess_enrich)
			on_enrich(pp, st, ip, ipe, t);
		sesswin_put(win, (const char *)sqlite3_column_text(st, 22),
		            (size_t)sqlite3_column_bytes(st, 22), ipe);
		if ((pp->sessions & 63) == 0 &&
		    (side_pump(r, cred, win, (uint64_t)pp->sessions, false) < 0 ||
		     side_pump(r, dial, win, (uint64_t)pp->sessions, false) < 0)) {
			rc = -1;
			break;
		}
	}
	sqlite3_finalize(st);
	if (rc < 0 || side_pump(r, cred, win, (uint64_t)pp->sessions, true) < 0 ||
	    side_pump(r, dial, win, (uint64_t)pp->sessions, true) < 0) {
		rc = -1;
		goto out;
	}
	r->sessions = pp->sessions;
	rc = -1;
	if (out_sources(r, pp) < 0)
		goto out;
	out_helo(r, pp); /* waits for the honeypot's addresses */
	rc = side_end(r, cred, true);
	cred = NULL;
	if (side_end(r, dial, true) < 0)
		rc = -1;
	dial = NULL;
out:
	if (cred != NULL)
		side_end(r, cred, false);
	if (dial != NULL)
		side_end(r, dial, false);
	sesswin_free(win);
	return rc;
}
