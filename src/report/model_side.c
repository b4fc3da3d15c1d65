/* SPDX-License-Identifier: ISC */
/*
 * model_side - the tables read alongside the sessions pass: AUTH attempts (credentials) and
 * signals (bot dialect). Both need each row's source address, which lives in sessions; instead
 * of a join (a search of the session key and a seek into the sessions table per row), the
 * sessions pass hands over every session it reads, and the rows of these tables, which were
 * written in about the same order, are matched against a window of the most recent sessions.
 *
 * Owns: the window (struct sesswin) and each side's statements and tallies, freed by side_end.
 * Public: sesswin_new, sesswin_free, sesswin_put, side_credentials, side_dialect, side_pump,
 *         side_end (model_int.h).
 * Limits: the window holds between SESSWIN and 2 * SESSWIN sessions (two generations of
 *         SESSWIN); a row whose session is not there after SIDE_WAIT more sessions have been
 *         read (or at the end) is matched by a lookup on the session key instead, so rows that
 *         arrive out of order cost a lookup each, never a wrong source. Session ids longer than
 *         SID_MAX bytes always take the lookup.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "report/esc.h"
#include "report/model_int.h"
#include "report/tally.h"

#define SESSWIN 16384
#define SIDE_WAIT (SESSWIN / 2)
#define SID_MAX 40

/* ---- the window of recent sessions ---- */

struct wslot {
	uint64_t h; /* 0 = empty */
	const struct tally_ent *ipe;
	unsigned char len;
	char sid[SID_MAX];
};

/* two generations: puts go to cur; when it holds SESSWIN sessions it becomes old */
struct sesswin {
	struct wslot *cur, *old;
	size_t ncur;
};

#define WSLOTS (SESSWIN * 2) /* slots per generation: at most half full */

struct sesswin *
sesswin_new(void)
{
	struct sesswin *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->cur = calloc(WSLOTS, sizeof(*w->cur));
	w->old = calloc(WSLOTS, sizeof(*w->old));
	if (w->cur == NULL || w->old == NULL) {
		sesswin_free(w);
		return NULL;
	}
	return w;
}

void
sesswin_free(struct sesswin *w)
{
	if (w == NULL)
		return;
	free(w->cur);
	free(w->old);
	free(w);
}

/* sid_hash - never 0 (0 marks an empty slot) */
static uint64_t
sid_hash(const char *sid, size_t len)
{
	uint64_t h = hash_mix('w', 0, sid, len);

	return h != 0 ? h : 1;
}

/* win_find - the slot of sid in one generation, or NULL */
static const struct wslot *
win_find(const struct wslot *t, uint64_t h, const char *sid, size_t len)
{
	size_t j = (size_t)h & (WSLOTS - 1);

	for (; t[j].h != 0; j = (j + 1) & (WSLOTS - 1))
		if (t[j].h == h && t[j].len == len && memcmp(t[j].sid, sid, len) == 0)
			return &t[j];
	return NULL;
}

void
sesswin_put(struct sesswin *w, const char *sid, size_t len, const struct tally_ent *ipe)
{
	struct wslot *t;
	uint64_t h;
	size_t j;

	if (sid == NULL || len > SID_MAX || ipe == NULL)
		return; /* its rows take the lookup */
	if (w->ncur == SESSWIN) {
		t = w->old;
		w->old = w->cur;
		w->cur = t;
		memset(w->cur, 0, WSLOTS * sizeof(*w->cur));
		w->ncur = 0;
	}
	h = sid_hash(sid, len);
	t = w->cur;
	for (j = (size_t)h & (WSLOTS - 1); t[j].h != 0; j = (j + 1) & (WSLOTS - 1))
		if (t[j].h == h && t[j].len == len && memcmp(t[j].sid, sid, len) == 0)
			return; /* the same session twice: keep the first */
	t[j].h = h;
	t[j].ipe = ipe;
	t[j].len = (unsigned char)len;
	memcpy(t[j].sid, sid, len);
	w->ncur++;
}

/* win_get - the source entry of sid, or NULL when it is not in the window */
static const struct tally_ent *
win_get(const struct sesswin *w, const char *sid, size_t len)
{
	const struct wslot *s;
	uint64_t h;

	if (sid == NULL || len > SID_MAX)
		return NULL;
	h = sid_hash(sid, len);
	if ((s = win_find(w->cur, h, sid, len)) == NULL)
		s = win_find(w->old, h, sid, len);
	return s != NULL ? s->ipe : NULL;
}

/* ---- a side table ---- */

struct side {
	const char *name;
	sqlite3_stmt *st;   /* the table's rows (selection applied), in rowid order */
	sqlite3_stmt *look; /* the source of one session, by its key */
	int sid_col;        /* the column of st holding the session id */
	int state;          /* 0: step next; 1: a row waits for its session; 2: done */
	uint64_t wait_from; /* sessions read when the waiting row arrived */
	int64_t rows, lookups;
	void *ctx;
	void (*row)(void *ctx, sqlite3_stmt *st, const char *ip, size_t il);
	int (*end)(struct rb *r, void *ctx); /* the model section; frees ctx */
	void (*drop)(void *ctx);             /* frees ctx without output */
};

/* side_new - the common part; NULL with err (ctx is dropped) */
static struct side *
side_new(struct rb *r, const char *name, sqlite3_stmt *st, int sid_col, void *ctx,
         void (*row)(void *, sqlite3_stmt *, const char *, size_t), int (*end)(struct rb *, void *),
         void (*drop)(void *))
{
	struct side *s = calloc(1, sizeof(*s));

	if (s == NULL || st == NULL || ctx == NULL)
		goto fail;
	s->look = rb_prepare(r, "SELECT coalesce(src_ip, '') FROM sessions WHERE session = ?1");
	if (s->look == NULL)
		goto fail;
	s->name = name;
	s->st = st;
	s->sid_col = sid_col;
	s->ctx = ctx;
	s->row = row;
	s->end = end;
	s->drop = drop;
	return s;
fail:
	if (r->err[0] == '\0')
		seterr(r->err, r->errlen, "out of memory");
	if (s != NULL)
		sqlite3_finalize(s->look);
	sqlite3_finalize(st);
	if (ctx != NULL)
		drop(ctx);
	free(s);
	return NULL;
}

/* lookup - the source of the waiting row's session by its key; false when the session does
 * not exist (the row is dropped, as a join would) */
static bool
lookup(struct side *s, const char **ip, size_t *il)
{
	sqlite3_reset(s->look);
	sqlite3_bind_value(s->look, 1, sqlite3_column_value(s->st, s->sid_col));
	if (sqlite3_step(s->look) != SQLITE_ROW)
		return false;
	*ip = (const char *)sqlite3_column_text(s->look, 0);
	*il = (size_t)sqlite3_column_bytes(s->look, 0);
	if (*ip == NULL)
		*ip = "";
	return true;
}

int
side_pump(struct rb *r, struct side *s, const struct sesswin *w, uint64_t nread, bool final)
{
	const struct tally_ent *ipe;
	const char *sid, *ip;
	size_t il;
	int rc;

	for (;;) {
		if (s->state == 2)
			return 0;
		if (s->state == 0) {
			if ((rc = rb_step(r, s->st)) < 0)
				return -1;
			if (rc == SQLITE_DONE) {
				s->state = 2;
				return 0;
			}
			s->state = 1;
			s->wait_from = nread;
		}
		sid = (const char *)sqlite3_column_text(s->st, s->sid_col);
		ipe = win_get(w, sid, (size_t)sqlite3_column_bytes(s->st, s->sid_col));
		if (ipe != NULL) {
			ip = ipe->key;
			il = ipe->klen;
		} else if (final || nread - s->wait_from >= SIDE_WAIT) {
			s->lookups++;
			if (!lookup(s, &ip, &il)) {
				s->state = 0;
				continue;
			}
		} else
			return 0; /* its session may come: read more sessions first */
		s->rows++;
		s->row(s->ctx, s->st, ip, il);
		s->state = 0;
	}
}

int
side_end(struct rb *r, struct side *s, bool ok)
{
	int rc = -1;

	if (s == NULL)
		return -1;
	if (getenv("RELAYTRAP_REPORT_TIMING") != NULL)
		fprintf(stderr, "report: %s: %lld rows, %lld looked up\n", s->name,
		        (long long)s->rows, (long long)s->lookups);
	sqlite3_finalize(s->st);
	sqlite3_finalize(s->look);
	if (ok)
		rc = s->end(r, s->ctx);
	else
		s->drop(s->ctx);
	free(s);
	return rc;
}

/* ---- credentials ---- */

struct cred {
	struct tally *mech, *outc, *users, *pw, *pairs, *srcs;
	struct hset *seen;
	int64_t attempts, sessions;
};

static void
cred_drop(void *ctx)
{
	struct cred *c = ctx;

	if (c == NULL)
		return;
	tally_free(c->mech);
	tally_free(c->outc);
	tally_free(c->users);
	tally_free(c->pw);
	tally_free(c->pairs);
	tally_free(c->srcs);
	hset_free(c->seen);
	free(c);
}

/* cred_row - columns: 0 mechanism, 1 user name (or NTLM user), 2 password, 3 carried a
 * credential, 4 supported, 5 outcome, 6 time_us, 7 session */
static void
cred_row(void *ctx, sqlite3_stmt *st, const char *ip, size_t il)
{
	struct cred *c = ctx;
	const char *sid = (const char *)sqlite3_column_text(st, 7);
	const char *u = sqlite3_column_blob(st, 1), *p = sqlite3_column_blob(st, 2);
	size_t ul = (size_t)sqlite3_column_bytes(st, 1), pl = (size_t)sqlite3_column_bytes(st, 2);
	int64_t t = sqlite3_column_int64(st, 6);
	char key[TALLY_KEY_MAX];
	struct tally_ent *e;

	c->attempts++;
	if (sid != NULL && hset_add(c->seen, hash_mix('S', 0, sid, strlen(sid))))
		c->sessions++;
	if ((e = tally_get(c->mech, sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0),
	                   NULL)) != NULL) {
		e->n++;
		e->n2 += sqlite3_column_int(st, 3) != 0;
		if (sqlite3_column_int(st, 4) != 0)
			e->aux = 1;
	}
	if ((e = tally_get(c->outc, sqlite3_column_text(st, 5), (size_t)sqlite3_column_bytes(st, 5),
	                   NULL)) != NULL)
		e->n++;
	if (u != NULL && (e = tally_get(c->users, u, ul, NULL)) != NULL) {
		e->n++;
		if (hset_add(c->seen, hash_mix('u', (uintptr_t)e, ip, il)))
			e->n2++;
	}
	if (p != NULL && (e = tally_get(c->pw, p, pl, NULL)) != NULL) {
		e->n++;
		if (hset_add(c->seen, hash_mix('p', (uintptr_t)e, ip, il)))
			e->n2++;
	}
	if (u != NULL && p != NULL && sqlite3_column_type(st, 1) != SQLITE_NULL && ul < 120 &&
	    pl < 120) {
		/* user \0 password; lengths bounded so the pair is never cut */
		memcpy(key, u, ul);
		key[ul] = '\0';
		memcpy(key + ul + 1, p, pl);
		if ((e = tally_get(c->pairs, key, ul + 1 + pl, NULL)) != NULL)
			e->n++;
	}
	if ((e = tally_get(c->srcs, ip, il, NULL)) != NULL) {
		e->n++;
		if (sid != NULL && hset_add(c->seen, hash_mix('s', (uintptr_t)e, sid, strlen(sid))))
			e->n2++;
		if (e->first == 0 || t < e->first)
			e->first = t;
		if (t > e->last)
			e->last = t;
	}
}

/* cred_end - the credentials section */
static int
cred_end(struct rb *r, void *ctx)
{
	struct cred *c = ctx;
	json_t *o = json_object(), *a, *row;
	struct tally_ent **v;
	size_t n, i, ul;

	json_object_set_new(r->m, "credentials", o);
	jset(o, "attempts", json_integer(c->attempts));
	jset(o, "sessions", json_integer(c->sessions));
	jset(o, "sources", json_integer((json_int_t)tally_count(c->srcs, NULL)));
	a = json_array();
	v = tally_top(c->mech, (size_t)r->top, &n);
	for (i = 0; v != NULL && i < n; i++) {
		row = json_object();
		jset(row, "mechanism", esc_model_str(v[i]->key, v[i]->klen, REPORT_STR_MAX));
		jset(row, "attempts", json_integer((json_int_t)v[i]->n));
		jset(row, "with_credentials", json_integer((json_int_t)v[i]->n2));
		jset(row, "supported", json_integer((json_int_t)v[i]->aux));
		json_array_append_new(a, row);
	}
	free(v);
	jset(o, "mechanisms", a);
	jset(o, "outcomes", rb_ranked2(c->outc, 64, "outcome", "attempts"));
	a = json_array();
	v = tally_top(c->users, (size_t)r->top, &n);
	for (i = 0; v != NULL && i < n; i++) {
		row = json_object();
		jset(row, "username", esc_model_str(v[i]->key, v[i]->klen, REPORT_STR_MAX));
		jset(row, "attempts", json_integer((json_int_t)v[i]->n));
		jset(row, "sources", json_integer((json_int_t)v[i]->n2));
		json_array_append_new(a, row);
	}
	free(v);
	jset(o, "usernames", a);
	a = json_array();
	v = tally_top(c->pw, (size_t)r->top, &n);
	for (i = 0; v != NULL && i < n; i++) {
		row = json_object();
		jset(row, "password", esc_model_str(v[i]->key, v[i]->klen, REPORT_STR_MAX));
		jset(row, "attempts", json_integer((json_int_t)v[i]->n));
		jset(row, "sources", json_integer((json_int_t)v[i]->n2));
		json_array_append_new(a, row);
	}
	free(v);
	jset(o, "passwords", a);
	a = json_array();
	v = tally_top(c->pairs, (size_t)r->top, &n);
	for (i = 0; v != NULL && i < n; i++) {
		ul = strlen(v[i]->key);
		row = json_object();
		jset(row, "username", esc_model_str(v[i]->key, ul, REPORT_STR_MAX));
		jset(row, "password",
		     esc_model_str(v[i]->key + ul + 1, v[i]->klen - ul - 1, REPORT_STR_MAX));
		jset(row, "attempts", json_integer((json_int_t)v[i]->n));
		json_array_append_new(a, row);
	}
	free(v);
	jset(o, "pairs", a);
	/* Attempts per hour over the span the source was active (at least one minute), so a
	 * burst of 100 in a minute reads differently from 100 spread over a week. */
	a = json_array();
	v = tally_top(c->srcs, (size_t)r->top, &n);
	for (i = 0; v != NULL && i < n; i++) {
		double span = (double)(v[i]->last - v[i]->first);
		if (span < 60e6)
			span = 60e6;
		row = json_object();
		jset(row, "ip", esc_model_str(v[i]->key, v[i]->klen, REPORT_STR_MAX));
		jset(row, "attempts", json_integer((json_int_t)v[i]->n));
		jset(row, "sessions", json_integer((json_int_t)v[i]->n2));
		jset(row, "first", jtime(v[i]->first));
		jset(row, "last", jtime(v[i]->last));
		jset(row, "per_hour",
		     json_real((double)(int64_t)((double)v[i]->n * 3600e6 / span * 10 + 0.5) / 10));
		json_array_append_new(a, row);
	}
	free(v);
	jset(o, "sources_by_rate", a);
	cred_drop(c);
	return 0;
}

struct side *
side_credentials(struct rb *r)
{
	struct cred *c = calloc(1, sizeof(*c));
	sqlite3_stmt *st;

	if (c != NULL) {
		c->mech = tally_new(4096, false);
		c->outc = tally_new(4096, false);
		c->users = tally_new(2000000, false);
		c->pw = tally_new(2000000, false);
		c->pairs = tally_new(2000000, false);
		c->srcs = tally_new(2000000, false);
		c->seen = hset_new();
		if (c->mech == NULL || c->outc == NULL || c->users == NULL || c->pw == NULL ||
		    c->pairs == NULL || c->srcs == NULL || c->seen == NULL) {
			cred_drop(c);
			c = NULL;
		}
	}
	st = rb_prepare(r,
	                "SELECT a.mechanism, coalesce(a.username, a.ntlm_user), a.password,"
	                " a.username IS NOT NULL OR a.ntlm_user IS NOT NULL OR a.digest IS NOT"
	                " NULL, coalesce(a.supported, 0), coalesce(a.outcome, ''), a.time_us,"
	                " a.session FROM auth_attempts a NOT INDEXED WHERE %s",
	                rb_cond(r, 'a'));
	return side_new(r, "credentials", st, 7, c, cred_row, cred_end, cred_drop);
}

/* ---- bot dialect ---- */

/* the three sources with most sessions of one signal, best first */
struct top3 {
	const struct tally_ent *e[3];
};

struct dial {
	struct tally *sig, *sigip;
};

static void
dial_drop(void *ctx)
{
	struct dial *d = ctx;

	if (d == NULL)
		return;
	tally_free(d->sig);
	tally_free(d->sigip);
	free(d);
}

/* dial_row - columns: 0 signal, 1 session */
static void
dial_row(void *ctx, sqlite3_stmt *st, const char *ip, size_t il)
{
	struct dial *d = ctx;
	const char *g = (const char *)sqlite3_column_text(st, 0);
	size_t sl = (size_t)sqlite3_column_bytes(st, 0);
	char key[TALLY_KEY_MAX];
	struct tally_ent *e, *ge;

	if (g == NULL || sl > 64 || il > 64 || (ge = tally_get(d->sig, g, sl, NULL)) == NULL)
		return;
	ge->n++;
	memcpy(key, g, sl);
	key[sl] = '\0';
	memcpy(key + sl + 1, ip, il);
	if ((e = tally_get(d->sigip, key, sl + 1 + il, NULL)) != NULL && e->n++ == 0)
		ge->n2++;
}

/* dial_end - the dialect section: every signal with its sessions, share, distinct sources
 * and the top three sources (by sessions, then address, as a sort of all pairs would give) */
static int
dial_end(struct rb *r, void *ctx)
{
	struct dial *d = ctx;
	json_t *o = json_object(), *a = json_array(), *row;
	struct tally_ent **v = NULL, **w = NULL, *ge;
	struct top3 *t;
	size_t n, nw, i, j, k, sl;
	int rc = -1;

	json_object_set_new(r->m, "dialect", o);
	json_object_set_new(o, "signals", a);
	jset(o, "sessions", json_integer(r->sessions));
	v = tally_sorted(d->sig, &n);
	w = tally_entries(d->sigip, &nw);
	if (v == NULL || w == NULL)
		goto out;
	for (i = 0; i < n; i++)
		if ((v[i]->p = calloc(1, sizeof(struct top3))) == NULL)
			goto out;
	for (j = 0; j < nw; j++) {
		sl = strlen(w[j]->key);
		if ((ge = tally_find(d->sig, w[j]->key, sl)) == NULL || (t = ge->p) == NULL)
			continue;
		for (k = 3; k > 0 && (t->e[k - 1] == NULL || tally_cmp(w[j], t->e[k - 1]) < 0); k--)
			if (k < 3)
				t->e[k] = t->e[k - 1];
		if (k < 3)
			t->e[k] = w[j];
	}
	for (i = 0; i < n; i++) {
		json_t *srcs = json_array();
		t = v[i]->p;
		row = json_object();
		jset(row, "signal", esc_model_str(v[i]->key, v[i]->klen, REPORT_STR_MAX));
		jset(row, "sessions", json_integer((json_int_t)v[i]->n));
		jset(row, "share", jshare((int64_t)v[i]->n, r->sessions));
		jset(row, "sources", json_integer((json_int_t)v[i]->n2));
		for (k = 0; k < 3 && t->e[k] != NULL; k++) {
			json_t *s = json_object();
			sl = strlen(t->e[k]->key);
			jset(s, "ip",
			     esc_model_str(t->e[k]->key + sl + 1, t->e[k]->klen - sl - 1,
			                   REPORT_STR_MAX));
			jset(s, "sessions", json_integer((json_int_t)t->e[k]->n));
			json_array_append_new(srcs, s);
		}
		jset(row, "top_sources", srcs);
		json_array_append_new(a, row);
	}
	rc = 0;
out:
	for (i = 0; v != NULL && i < n; i++) {
		free(v[i]->p);
		v[i]->p = NULL;
	}
	free(v);
	free(w);
	dial_drop(d);
	return rc;
}

struct side *
side_dialect(struct rb *r)
{
	struct dial *d = calloc(1, sizeof(*d));
	sqlite3_stmt *st;

	if (d != NULL) {
		d->sig = tally_new(4096, false);
		d->sigip = tally_new(4000000, false);
		if (d->sig == NULL || d->sigip == NULL) {
			dial_drop(d);
			d = NULL;
		}
	}
	st = rb_prepare(r, "SELECT g.signal, g.session FROM signals g NOT INDEXED WHERE %s",
	                rb_cond(r, 'g'));
	return side_new(r, "dialect", st, 1, d, dial_row, dial_end, dial_drop);
}
