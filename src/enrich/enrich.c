/* SPDX-License-Identifier: ISC */
/*
 * enrich - per-session orchestration of enrichment (see enrich.h).
 *
 * Geo and OS are known at the connect and written at once as parts of the session's pending
 * event. Each asynchronous kind (rdns, dnsbl, helo) is a struct job holding a reference on its
 * struct enrich_sess and one slot per DNS query; when the last slot has answered the job
 * writes its part into that event and goes away. The session records the event (kind
 * "session", one part per kind) once it is complete (parts_flush): one event per session
 * instead of one per kind, a fifth of the framing, parsing and SQL. Jobs run from dns
 * callbacks, i.e. from the top of the event loop, never inside the session engine, so an
 * event is never built while another is half-written (capture_begin is not reentrant).
 */
#include "enrich/enrich.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "capture/emit.h"
#include "core/config.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/str.h"
#include "core/util.h"
#include "enrich/dns.h"
#include "enrich/dnsbl.h"
#include "enrich/geo.h"
#include "enrich/p0f.h"
#include "enrich/syn.h"

#define HELO_NAME_MAX 255
#define ANSWER_BYTES 256   /* a job's room for its answers' text (more: malloc) */
#define SPARES_SESS 256    /* sessions and jobs of each kind kept for reuse */
#define SESS_BUF_KEEP 4096 /* a kept session keeps JSON buffers up to this size */
#define ADDRS_MAX (2 * DNS_MAX_ANSWERS)

enum job_kind { JOB_RDNS, JOB_DNSBL, JOB_HELO };

struct job;

struct slot {
	struct job *j;
	struct dns_wait *w; /* outstanding query, NULL once answered */
	enum dns_status st;
	unsigned n;
	char *data[DNS_MAX_ANSWERS];
};

struct job {
	struct job *next, *prev; /* e->jobs */
	struct enrich_sess *s;
	enum job_kind kind;
	uint64_t t0_us;
	unsigned pending;
	unsigned nslots;
	unsigned nanswered, ncached;
	uint64_t cached_real_us; /* earliest lookup time of an answer taken from the cache */
	char *helo;              /* helo: the name as sent (in the job's block) */
	size_t helo_len;
	char *ask;           /* helo: as asked, without a root dot (in the job's block) */
	unsigned helo_first; /* slot asked first: 0 = A (IPv4 source), 1 = AAAA */
	bool kept;           /* a block of e->job_size[kind] bytes, given back to e->spare_jobs */
	char *abase, *aend;  /* room for answers' text at the block's end: copied in, not strdup */
	char *anext;
	/* a slot per query of the kind (rdns 2, dnsbl one per zone, helo 3), then for helo the
	 * two names, then ANSWER_BYTES for the answers: one block, kept for the next job of the
	 * kind (struct enrich's spare_jobs) */
	struct slot slots[];
};

struct enrich_sess {
	struct enrich *e;
	struct enrich_sess *next, *prev; /* e->sessions */
	unsigned refs;
	bool helo_done, mismatch_done;
	bool ended;        /* enrich_session_end was called */
	bool starting;     /* inside enrich_session_new: hold the event */
	unsigned dns_jobs; /* DNS jobs started and not done */
	struct jw parts;   /* the done kinds' parts ("geo":{...},...), not yet recorded */
	char src_ip[64];
	unsigned char src16[16]; /* src_ip as IPv6 (IPv4-mapped for IPv4), when src_ok */
	bool src_ok, src_v4;
	char os_class[16], os_name[32];
	struct jw prefix;
};

struct enrich {
	struct event_base *base;
	struct capture *cap;
	const struct config *cfg;
	struct dns *dns;
	const struct p0f_db *p0f;
	const struct geo *geo;
	struct dnsbl_list dnsbl;
	struct job *jobs;
	size_t njobs;
	struct enrich_sess *sessions;
	/* kept for reuse (core/pool.h): sessions with their JSON buffers, and jobs by kind, each
	 * block of job_size[kind] bytes (a helo job of the longest name) */
	struct spares spare_sess, spare_jobs[3];
	size_t job_size[3];
	bool closing;
};

/* ------------------------------------------------------------------ sessions */

/* sess_take - a zeroed session, kept with its JSON buffers (emptied) or new */
static struct enrich_sess *
sess_take(struct enrich *e)
{
	struct enrich_sess *s = spare_pop(&e->spare_sess, sizeof(*s));
	struct jw prefix, parts;

	if (s == NULL)
		return zalloc(sizeof(*s));
	prefix = s->prefix;
	parts = s->parts;
	memset(s, 0, sizeof(*s));
	s->prefix = prefix;
	s->parts = parts;
	jw_reset(&s->prefix);
	jw_reset(&s->parts);
	return s;
}

/* sess_give - s is done: kept with its buffers (unless they grew large), or freed */
static void
sess_give(struct enrich *e, struct enrich_sess *s)
{
	if (spare_full(&e->spare_sess) || s->prefix.cap > SESS_BUF_KEEP ||
	    s->parts.cap > SESS_BUF_KEEP) {
		jw_free(&s->prefix);
		jw_free(&s->parts);
		free(s);
		return;
	}
	spare_give(&e->spare_sess, s, sizeof(*s));
}

static void
sess_unref(struct enrich_sess *s)
{
	struct enrich *e = s->e;

	if (--s->refs > 0)
		return;
	if (s->prev)
		s->prev->next = s->next;
	else
		e->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	sess_give(e, s);
}

/* ev_begin - an event for session s, or NULL when nothing is recorded */
static struct jw *
ev_begin(struct enrich_sess *s, const char *eventid)
{
	if (s->e->cap == NULL || s->e->closing)
		return NULL;
	return capture_begin(s->e->cap, eventid, &s->prefix);
}

/* ------------------------------------------------------------------ jobs */

static struct job *
job_new(struct enrich_sess *s, enum job_kind kind, unsigned nslots, size_t helo_len)
{
	struct enrich *e = s->e;
	size_t names = kind == JOB_HELO ? 2 * (helo_len + 1) : 0;
	size_t need = sizeof(struct job) + nslots * sizeof(struct slot) + names + ANSWER_BYTES;
	bool kept = need <= e->job_size[kind];
	struct job *j = kept ? spare_pop(&e->spare_jobs[kind], e->job_size[kind]) : NULL;

	if (j != NULL)
		memset(j, 0, need);
	else
		j = zalloc(kept ? e->job_size[kind] : need);
	if (j == NULL)
		return NULL;
	j->kept = kept;
	j->abase = j->anext = (char *)j + need - ANSWER_BYTES;
	j->aend = j->abase + ANSWER_BYTES;
	j->nslots = nslots;
	if (kind == JOB_HELO) {
		j->helo = (char *)&j->slots[nslots];
		j->ask = j->helo + helo_len + 1;
	}
	j->s = s;
	j->kind = kind;
	j->t0_us = now_mono_us();
	s->refs++;
	s->dns_jobs++;
	j->next = e->jobs;
	if (e->jobs)
		e->jobs->prev = j;
	e->jobs = j;
	e->njobs++;
	return j;
}

static void
job_free(struct job *j)
{
	struct enrich *e = j->s->e;

	for (unsigned i = 0; i < j->nslots; i++) {
		dns_cancel(j->slots[i].w);
		for (unsigned k = 0; k < j->slots[i].n; k++) {
			char *d = j->slots[i].data[k];
			if (d < j->abase || d >= j->aend) /* not in the job's room: strdup'd */
				free(d);
		}
	}
	if (j->prev)
		j->prev->next = j->next;
	else
		e->jobs = j->next;
	if (j->next)
		j->next->prev = j->prev;
	e->njobs--;
	sess_unref(j->s);
	if (j->kept)
		spare_give(&e->spare_jobs[j->kind], j, e->job_size[j->kind]);
	else
		free(j);
}

static void job_done(struct job *j);
static void on_answer(void *arg, const struct dns_answer *a);

/* job_ask - start query slot i of j; false when out of memory (the slot then stays an
 * error and is not pending) */
static bool
job_ask(struct job *j, unsigned i, enum dns_type t, const char *name)
{
	struct slot *sl = &j->slots[i];

	sl->j = j;
	sl->st = DNS_ERROR;
	sl->w = dns_query(j->s->e->dns, t, name, on_answer, sl);
	if (sl->w == NULL)
		return false;
	j->pending++;
	return true;
}

/* common fields of every DNS kind: cached (every answer came from the cache), lookup_us,
 * and lookup_time when from the cache */
static void
ev_dns_times(struct jw *w, const struct job *j)
{
	char ts[40];

	jw_key_bool(w, "cached", j->nanswered > 0 && j->ncached == j->nanswered);
	jw_key_uint(w, "lookup_us", now_mono_us() - j->t0_us);
	if (j->ncached > 0) {
		fmt_rfc3339(j->cached_real_us, ts, sizeof(ts));
		jw_key_str(w, "lookup_time", ts);
	}
}

/* status_word - the event's status for a query that found nothing or failed */
static const char *
status_word(enum dns_status st)
{
	switch (st) {
	case DNS_OK:
		return "ok";
	case DNS_NODATA:
	case DNS_NXDOMAIN:
		return "nxdomain";
	default:
		return dns_status_name(st);
	}
}

/* addr16 - a textual address as 16 bytes (IPv4 as IPv4-mapped IPv6); false if it is none */
static bool
addr16(const char *a, unsigned char out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, a, out + 12) == 1) {
		out[10] = out[11] = 0xff;
		return true;
	}
	return inet_pton(AF_INET6, a, out) == 1;
}

/* slot_has - one of the slot's answers is the session's source address */
static bool
slot_has(const struct slot *sl, const struct enrich_sess *s)
{
	unsigned char x[16];

	for (unsigned k = 0; k < sl->n; k++)
		if (s->src_ok && addr16(sl->data[k], x) && memcmp(x, s->src16, 16) == 0)
			return true;
	return false;
}

/* part_open - the part of kind in s's pending event ("kind":{ opened), or NULL when nothing
 * is recorded; close it with jw_obj_close */
static struct jw *
part_open(struct enrich_sess *s, const char *kind)
{
	if (s->e->cap == NULL || s->e->closing)
		return NULL;
	jw_key_obj_open(&s->parts, kind);
	return &s->parts;
}

/* parts_write - record the parts s has as its enrich event (kind "session"), now */
static void
parts_write(struct enrich_sess *s)
{
	struct jw *w;

	if (s->parts.len > 0 && !s->parts.oom && (w = ev_begin(s, "relaytrap.enrich")) != NULL) {
		jw_key_str(w, "kind", "session");
		jw_fields(w, s->parts.buf, s->parts.len);
		capture_commit(s->e->cap);
	}
	jw_reset(&s->parts);
}

/* parts_flush - record the session's one enrich event once every part it will have is there:
 * no DNS job pending, not inside enrich_session_new's starts, and the HELO check done or never
 * coming (DNS or the checks off, or the session ended without a name) */
static void
parts_flush(struct enrich_sess *s)
{
	if (s->dns_jobs > 0 || s->starting || s->parts.len == 0)
		return;
	if (!s->ended && !s->helo_done && s->e->dns != NULL && s->e->cfg->enrich_helo)
		return;
	parts_write(s);
}

static void
part_rdns(struct job *j)
{
	struct enrich_sess *s = j->s;
	struct slot *ptr = &j->slots[0], *fwd = &j->slots[1];
	struct jw *w = part_open(s, "rdns");

	if (w == NULL)
		return;
	jw_key_str(w, "status", status_word(ptr->st));
	if (ptr->st == DNS_OK && ptr->n > 0) {
		jw_key_bytes(w, "ptr", ptr->data[0], strlen(ptr->data[0]));
		/* unknown when the forward lookup failed: leave it out */
		if (fwd->st == DNS_OK || fwd->st == DNS_NODATA || fwd->st == DNS_NXDOMAIN)
			jw_key_bool(w, "fcrdns", slot_has(fwd, s));
	}
	ev_dns_times(w, j);
	jw_obj_close(w);
}

static void
part_dnsbl(struct job *j)
{
	struct enrich_sess *s = j->s;
	struct enrich *e = s->e;
	struct jw *w = part_open(s, "dnsbl");
	unsigned listed = 0;

	if (w == NULL)
		return;
	jw_key_arr_open(w, "lists");
	for (unsigned i = 0; i < j->nslots && i < e->dnsbl.n; i++) {
		const struct slot *sl = &j->slots[i];
		const struct dnsbl_zone *z = &e->dnsbl.zones[i];
		const char *status, *meanings[DNS_MAX_ANSWERS];
		bool any_listed = false;

		if (sl->j == NULL)
			continue; /* this zone does not list the source's family */
		for (unsigned k = 0; k < sl->n; k++) {
			enum dnsbl_verdict v;
			meanings[k] = dnsbl_decode(z, sl->data[k], &v);
			any_listed |= v == DNSBL_LISTED;
		}
		if (sl->st == DNS_OK)
			status = any_listed ? "listed" : "error";
		else if (sl->st == DNS_NXDOMAIN || sl->st == DNS_NODATA)
			status = "not_listed";
		else
			status = dns_status_name(sl->st);
		listed += any_listed;
		jw_arr_obj_open(w);
		jw_key_str(w, "zone", z->name);
		jw_key_str(w, "status", status);
		if (sl->n > 0) {
			jw_key_arr_open(w, "codes");
			for (unsigned k = 0; k < sl->n; k++)
				jw_arr_str(w, sl->data[k]);
			jw_arr_close(w);
			jw_key_arr_open(w, "meanings");
			for (unsigned k = 0; k < sl->n; k++)
				jw_arr_str(w, meanings[k]);
			jw_arr_close(w);
		}
		jw_obj_close(w);
	}
	jw_arr_close(w);
	jw_key_uint(w, "listed", listed);
	ev_dns_times(w, j);
	jw_obj_close(w);
}

static void
part_helo(struct job *j)
{
	struct enrich_sess *s = j->s;
	const struct slot *a = &j->slots[0], *aaaa = &j->slots[1], *ptr = &j->slots[2];
	struct jw *w = part_open(s, "helo");
	enum dns_status st[2] = {a->st, aaaa->st};
	const char *status = NULL;
	bool resolves = a->st == DNS_OK || aaaa->st == DNS_OK;
	bool matches = slot_has(a, s) || slot_has(aaaa, s);

	if (w == NULL)
		return;
	if (resolves) {
		status = "ok";
	} else {
		/* an error beats "no such name": the name may exist */
		for (int i = 0; i < 2 && status == NULL; i++)
			if (st[i] != DNS_NXDOMAIN && st[i] != DNS_NODATA)
				status = dns_status_name(st[i]);
		if (status == NULL)
			status = "nxdomain";
	}
	jw_key_bytes(w, "name", j->helo, j->helo_len);
	jw_key_str(w, "status", status);
	jw_key_bool(w, "resolves", resolves);
	jw_key_arr_open(w, "addrs");
	for (unsigned k = 0; k < a->n; k++)
		jw_arr_str(w, a->data[k]);
	for (unsigned k = 0; k < aaaa->n; k++)
		jw_arr_str(w, aaaa->data[k]);
	jw_arr_close(w);
	jw_key_bool(w, "matches_src", matches);
	if (ptr->st == DNS_OK && ptr->n > 0)
		jw_key_bool(w, "fcrdns", matches && strcasecmp(ptr->data[0], j->ask) == 0);
	else if (ptr->st == DNS_NXDOMAIN || ptr->st == DNS_NODATA)
		jw_key_bool(w, "fcrdns", false);
	ev_dns_times(w, j);
	jw_obj_close(w);
}

/* part_helo_skipped - a name not worth asking DNS about (literal, bare IP, bad syntax) */
static void
part_helo_skipped(struct enrich_sess *s, const char *name, size_t len)
{
	struct jw *w = part_open(s, "helo");

	if (w == NULL)
		return;
	jw_key_bytes(w, "name", name, len);
	jw_key_str(w, "status", "skipped");
	jw_key_uint(w, "lookup_us", 0);
	jw_obj_close(w);
}

/* job_done - the job's part is complete: add it to the session's event and end the job */
static void
job_done(struct job *j)
{
	struct enrich_sess *s = j->s;

	switch (j->kind) {
	case JOB_RDNS:
		part_rdns(j);
		break;
	case JOB_DNSBL:
		part_dnsbl(j);
		break;
	case JOB_HELO:
		part_helo(j);
		break;
	}
	s->dns_jobs--;
	parts_flush(s);
	job_free(j);
}

/* on_answer - one query of a job answered */
static void
on_answer(void *arg, const struct dns_answer *a)
{
	struct slot *sl = arg;
	struct job *j = sl->j;

	sl->w = NULL;
	sl->st = a->status;
	for (unsigned k = 0; k < a->n && k < DNS_MAX_ANSWERS; k++) {
		size_t l = strlen(a->data[k]) + 1;
		char *c;
		if (l <= (size_t)(j->aend - j->anext)) {
			c = memcpy(j->anext, a->data[k], l);
			j->anext += l;
		} else {
			c = strdup(a->data[k]);
		}
		if (c != NULL)
			sl->data[sl->n++] = c;
	}
	j->nanswered++;
	if (a->cached) {
		if (j->ncached == 0 || a->lookup_real_us < j->cached_real_us)
			j->cached_real_us = a->lookup_real_us;
		j->ncached++;
	}
	/* rdns: a PTR name leads to its forward lookup (FCrDNS) */
	if (j->kind == JOB_RDNS && sl == &j->slots[0] && a->status == DNS_OK && sl->n > 0)
		job_ask(j, 1, j->s->src_v4 ? DNS_T_A : DNS_T_AAAA, sl->data[0]);
	/* helo: the source's family first; the other only when the name exists without it
	 * (NXDOMAIN or a failure answers for both: one query saved per session) */
	if (j->kind == JOB_HELO && sl == &j->slots[j->helo_first]) {
		unsigned other = 1 - j->helo_first;
		if (a->status == DNS_NODATA)
			job_ask(j, other, other == 0 ? DNS_T_A : DNS_T_AAAA, j->ask);
		else if (a->status != DNS_OK)
			j->slots[other].st = a->status;
	}
	if (--j->pending == 0)
		job_done(j);
}

/* job_overflow - too many jobs pending: the kind's part says rate limited, right away */
static void
job_overflow(struct enrich_sess *s, enum job_kind kind, const char *helo, size_t len)
{
	struct enrich *e = s->e;
	struct jw *w = part_open(s, kind == JOB_RDNS    ? "rdns"
	                            : kind == JOB_DNSBL ? "dnsbl"
	                                                : "helo");

	if (w == NULL)
		return;
	if (kind == JOB_DNSBL) {
		jw_key_arr_open(w, "lists");
		for (size_t i = 0; i < e->dnsbl.n; i++) {
			jw_arr_obj_open(w);
			jw_key_str(w, "zone", e->dnsbl.zones[i].name);
			jw_key_str(w, "status", "rate_limited");
			jw_obj_close(w);
		}
		jw_arr_close(w);
		jw_key_uint(w, "listed", 0);
	} else if (kind == JOB_HELO) {
		jw_key_bytes(w, "name", helo, len);
	}
	if (kind != JOB_DNSBL)
		jw_key_str(w, "status", "rate_limited");
	jw_key_bool(w, "cached", false);
	jw_key_uint(w, "lookup_us", 0);
	jw_obj_close(w);
	parts_flush(s);
}

/* job_start - a job of kind for s, or NULL after recording it as rate limited */
static struct job *
job_start(struct enrich_sess *s, enum job_kind kind, unsigned nslots, const char *helo, size_t len)
{
	struct job *j = NULL;

	if (s->e->njobs < s->e->cfg->enrich_max_pending)
		j = job_new(s, kind, nslots, len);
	if (j == NULL)
		job_overflow(s, kind, helo, len);
	return j;
}

/* job_check - a job whose queries could not even be started ends now */
static void
job_check(struct job *j)
{
	if (j->pending == 0)
		job_done(j);
}

static void
start_rdns(struct enrich_sess *s)
{
	struct job *j = job_start(s, JOB_RDNS, 2, NULL, 0);

	if (j == NULL)
		return;
	j->slots[1].st = DNS_ERROR;
	job_ask(j, 0, DNS_T_PTR, s->src_ip);
	job_check(j);
}

static void
start_dnsbl(struct enrich_sess *s)
{
	struct enrich *e = s->e;
	char qname[DNSBL_MAX_ZONES][DNSBL_NAME_MAX];
	bool ask[DNSBL_MAX_ZONES], any = false;
	struct job *j;

	for (size_t i = 0; i < e->dnsbl.n; i++)
		any |= ask[i] =
		    dnsbl_query_name(&e->dnsbl.zones[i], s->src_ip, qname[i], sizeof(qname[i]));
	if (!any)
		return; /* no configured zone lists this address family */
	if ((j = job_start(s, JOB_DNSBL, (unsigned)e->dnsbl.n, NULL, 0)) == NULL)
		return;
	for (unsigned i = 0; i < e->dnsbl.n; i++)
		if (ask[i])
			job_ask(j, i, DNS_T_A, qname[i]);
	job_check(j);
}

/* helo_askable - a name worth a DNS lookup: a syntactically valid host name of at least two
 * labels that is not an address (literals and bare IPs are recorded as skipped) */
static bool
helo_askable(const char *name, size_t len)
{
	size_t label = 0, labels = 0, i;
	bool alpha_tld = false;

	if (len == 0 || len > 253 || name[0] == '[')
		return false;
	if (name[len - 1] == '.')
		len--;
	for (i = 0; i <= len; i++) {
		unsigned char ch = i < len ? (unsigned char)name[i] : '.';
		if (ch == '.') {
			if (label == 0)
				return false;
			labels++;
			label = 0;
			alpha_tld = false;
		} else if (isalnum(ch) || ch == '-' || ch == '_') {
			if (++label > 63)
				return false;
			if (isalpha(ch))
				alpha_tld = true;
		} else {
			return false;
		}
	}
	/* the last label decided alpha_tld before the final '.' reset it */
	for (i = len; i > 0 && name[i - 1] != '.'; i--)
		if (isalpha((unsigned char)name[i - 1]))
			alpha_tld = true;
	return labels >= 2 && alpha_tld;
}

/* ------------------------------------------------------------------ public */

struct enrich *
enrich_new(struct event_base *base, struct capture *cap, const struct config *cfg,
           const struct p0f_db *p0f, const struct geo *geo, char *err, size_t errlen)
{
	struct enrich *e = calloc(1, sizeof(*e));

	if (e == NULL) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	e->base = base;
	e->cap = cap;
	e->cfg = cfg;
	e->p0f = cfg->enrich_os ? p0f : NULL;
	e->geo = cfg->enrich_geo && geo != NULL && geo_count(geo) > 0 ? geo : NULL;
	if (dnsbl_parse(cfg->dnsbl_zones, &e->dnsbl, err, errlen) == -1) {
		free(e);
		return NULL;
	}
	/* a few hundred of each: sessions keep up to 2 x SESS_BUF_KEEP of buffers */
	e->spare_sess.max = SPARES_SESS;
	for (size_t k = 0; k < ARRAY_LEN(e->spare_jobs); k++)
		e->spare_jobs[k].max = SPARES_SESS;
	e->job_size[JOB_RDNS] = sizeof(struct job) + 2 * sizeof(struct slot) + ANSWER_BYTES;
	e->job_size[JOB_DNSBL] =
	    sizeof(struct job) + e->dnsbl.n * sizeof(struct slot) + ANSWER_BYTES;
	e->job_size[JOB_HELO] =
	    sizeof(struct job) + 3 * sizeof(struct slot) + 2 * (HELO_NAME_MAX + 1) + ANSWER_BYTES;
	if (cfg->enrich_dns) {
		struct dns_conf dc = {
		    .resolvers = cfg->resolver,
		    .timeout_ms = cfg->dns_timeout_ms,
		    .cache_ttl_ms = cfg->dns_cache_ttl_ms,
		    .cache_max = cfg->dns_cache_max,
		    .rate = cfg->dns_rate,
		    .max_inflight = cfg->dns_max_inflight,
		};
		e->dns = dns_new(base, &dc, err, errlen);
		if (e->dns == NULL) {
			free(e);
			return NULL;
		}
	}
	return e;
}

void
enrich_free(struct enrich *e)
{
	if (e == NULL)
		return;
	/* each session's parts so far (geo, os, the DNS kinds done) are recorded; a DNS kind
	 * still pending is left out */
	for (struct enrich_sess *s = e->sessions; s != NULL; s = s->next)
		parts_write(s);
	e->closing = true;
	while (e->jobs != NULL)
		job_free(e->jobs);
	dns_free(e->dns);
	/* sessions still referenced by the engine are released by enrich_session_end, which
	 * the engine calls before this; anything left is freed here */
	while (e->sessions != NULL) {
		struct enrich_sess *s = e->sessions;
		e->sessions = s->next;
		jw_free(&s->prefix);
		jw_free(&s->parts);
		free(s);
	}
	for (struct enrich_sess *s; (s = spare_pop(&e->spare_sess, sizeof(*s))) != NULL;) {
		jw_free(&s->prefix);
		jw_free(&s->parts);
		free(s);
	}
	for (size_t k = 0; k < ARRAY_LEN(e->spare_jobs); k++)
		spares_free(&e->spare_jobs[k], e->job_size[k]);
	free(e);
}

/* part_geo - the geo part: what the databases know of the source (nothing: no part) */
static void
part_geo(struct enrich_sess *s)
{
	struct geo_result g;
	struct jw *w;
	char num[64];

	if (geo_lookup_str(s->e->geo, s->src_ip, &g) != 1)
		return;
	if ((w = part_open(s, "geo")) == NULL)
		return;
	/* database strings are cleaned by geo (valid UTF-8, no controls) */
	if (g.country_code[0])
		jw_key_str(w, "country_code", g.country_code);
	if (g.country[0])
		jw_key_str(w, "country", g.country);
	if (g.region[0])
		jw_key_str(w, "region", g.region);
	if (g.city[0])
		jw_key_str(w, "city", g.city);
	if (g.has_location) {
		/* numbers: the writer has no double, so splice a "%.4f" (about 10 m) */
		snprintf(num, sizeof(num), "\"latitude\":%.4f,\"longitude\":%.4f", g.latitude,
		         g.longitude);
		jw_fields(w, num, strlen(num));
	}
	if (g.asn != 0)
		jw_key_uint(w, "asn", g.asn);
	if (g.as_org[0])
		jw_key_str(w, "as_org", g.as_org);
	if (g.geo_db[0])
		jw_key_str(w, "geo_db", g.geo_db);
	jw_obj_close(w);
}

/* part_os - the os part from the client's SYN (p0f v3 match) */
static void
part_os(struct enrich_sess *s, const unsigned char *syn, size_t syn_len)
{
	struct syn_info si;
	struct p0f_match m;
	const char *why;
	struct jw *w;

	if (syn_parse(syn, syn_len, &si, &why) == -1)
		return;
	p0f_match(s->e->p0f, &si, &m);
	if (m.kind != P0F_NONE)
		enrich_session_set_os(s, m.os_class, m.os_name);
	if ((w = part_open(s, "os")) == NULL)
		return;
	p0f_jw_fields(w, &si, &m);
	jw_obj_close(w);
}

struct enrich_sess *
enrich_session_new(struct enrich *e, const struct jw *prefix, const char *src_ip,
                   const unsigned char *syn, size_t syn_len)
{
	struct enrich_sess *s;

	if (e == NULL || e->closing)
		return NULL;
	s = sess_take(e);
	if (s == NULL)
		return NULL;
	s->e = e;
	s->refs = 1;
	strlcpy(s->src_ip, src_ip, sizeof(s->src_ip));
	s->src_ok = addr16(s->src_ip, s->src16);
	s->src_v4 = s->src_ok && IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)s->src16);
	if (prefix != NULL && prefix->len > 0)
		jw_fields(&s->prefix, prefix->buf, prefix->len);
	s->next = e->sessions;
	if (e->sessions)
		e->sessions->prev = s;
	e->sessions = s;
	s->starting = true;
	if (e->geo != NULL)
		part_geo(s);
	if (e->p0f != NULL && syn != NULL && syn_len > 0)
		part_os(s, syn, syn_len);
	if (e->dns != NULL) {
		if (e->cfg->enrich_rdns)
			start_rdns(s);
		if (e->dnsbl.n > 0)
			start_dnsbl(s);
	}
	s->starting = false;
	parts_flush(s);
	return s;
}

void
enrich_session_set_os(struct enrich_sess *s, const char *os_class, const char *os_name)
{
	if (s == NULL)
		return;
	strlcpy(s->os_class, os_class ? os_class : "", sizeof(s->os_class));
	strlcpy(s->os_name, os_name ? os_name : "", sizeof(s->os_name));
}

void
enrich_helo(struct enrich_sess *s, const char *name, size_t len)
{
	struct job *j;

	if (s == NULL || s->helo_done || len == 0 || s->e->dns == NULL || !s->e->cfg->enrich_helo)
		return;
	s->helo_done = true;
	if (len > HELO_NAME_MAX)
		len = HELO_NAME_MAX;
	if (!helo_askable(name, len)) {
		part_helo_skipped(s, name, len);
		parts_flush(s);
		return;
	}
	if ((j = job_start(s, JOB_HELO, 3, name, len)) == NULL)
		return;
	memcpy(j->helo, name, len);
	j->helo_len = len;
	memcpy(j->ask, name, len);
	if (j->ask[len - 1] == '.')
		len--;
	j->ask[len] = '\0';
	j->helo_first = s->src_v4 ? 0 : 1;
	j->slots[1 - j->helo_first].st = DNS_NODATA; /* unless asked (see on_answer) */
	job_ask(j, j->helo_first, j->helo_first == 0 ? DNS_T_A : DNS_T_AAAA, j->ask);
	job_ask(j, 2, DNS_T_PTR, s->src_ip);
	job_check(j);
}

const char *
enrich_os_claim(const char *x_mailer, size_t len)
{
	/* clients that exist only on one OS family; lower case, matched as substrings */
	static const struct {
		const char *needle, *os;
	} claims[] = {
	    {"outlook", "Windows"},
	    {"microsoft cdo", "Windows"},
	    {"windows live mail", "Windows"},
	    {"windows mail", "Windows"},
	    {"microsoft windows", "Windows"},
	    {"the bat!", "Windows"},
	    {"becky!", "Windows"},
	    {"foxmail", "Windows"},
	    {"incredimail", "Windows"},
	    {"apple mail", "Mac OS"},
	    {"iphone mail", "Mac OS"},
	    {"ipad mail", "Mac OS"},
	};
	char low[256];
	size_t n = len < sizeof(low) - 1 ? len : sizeof(low) - 1;

	for (size_t i = 0; i < n; i++)
		low[i] = x_mailer[i] == '\0' ? ' ' : (char)tolower((unsigned char)x_mailer[i]);
	low[n] = '\0';
	for (size_t i = 0; i < ARRAY_LEN(claims); i++)
		if (strstr(low, claims[i].needle) != NULL)
			return claims[i].os;
	return NULL;
}

void
enrich_message(struct enrich_sess *s, const char *x_mailer, size_t len)
{
	const char *claim;
	bool mismatch;
	struct jw *w;
	char detail[200], xm[96];

	if (s == NULL || s->mismatch_done || len == 0 || s->os_class[0] == '\0')
		return;
	if ((claim = enrich_os_claim(x_mailer, len)) == NULL)
		return;
	if (strcmp(claim, "Windows") == 0)
		mismatch = strcmp(s->os_class, "win") != 0 && strcmp(s->os_class, "!") != 0;
	else /* Mac OS: a unix stack whose name says so */
		mismatch =
		    strcmp(s->os_class, "win") == 0 ||
		    (strcmp(s->os_class, "unix") == 0 && strncasecmp(s->os_name, "Mac", 3) != 0 &&
		     strncasecmp(s->os_name, "iOS", 3) != 0);
	if (!mismatch)
		return;
	s->mismatch_done = true;
	str_escape_log(x_mailer, len > 80 ? 80 : len, xm, sizeof(xm));
	snprintf(detail, sizeof(detail), "X-Mailer \"%s\" implies %s; SYN says %s (%s)", xm, claim,
	         s->os_name[0] ? s->os_name : "?", s->os_class);
	if ((w = ev_begin(s, "relaytrap.signal")) == NULL)
		return;
	jw_key_str(w, "signal", "os_mismatch");
	jw_key_str(w, "detail", detail);
	capture_commit(s->e->cap);
}

void
enrich_session_end(struct enrich_sess *s)
{
	if (s == NULL)
		return;
	s->ended = true;
	parts_flush(s); /* a session that never sent a name */
	sess_unref(s);
}

bool
enrich_dns_stats(const struct enrich *e, struct dns_stats *st)
{
	if (e == NULL || e->dns == NULL)
		return false;
	dns_stats(e->dns, st);
	return true;
}
