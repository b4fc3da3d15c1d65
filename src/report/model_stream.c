/* SPDX-License-Identifier: ISC */
/*
 * model_stream - the report sections that need a look at every row rather than an SQL
 * aggregate: commands (verbs, unknown verbs, case variants, sequences: one pass over client
 * lines in session order) and messages (probe detection, scanner families, drop-boxes, probe →
 * bulk follow-ups, header/envelope mismatch, subjects, recipient domains, sizes, attachments,
 * campaigns: one pass over messages in time order).
 *
 * Owns: the tallies and hash sets of one pass, freed before it returns.
 * Public: model_commands, model_messages (model_int.h).
 * Limits: tallies are bounded (STREAM_KEYS distinct keys each, the rest counted as overflow);
 *         campaign clustering compares a new template with at most CAMPAIGN_REPS clusters.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "report/esc.h"
#include "report/model_int.h"
#include "report/tally.h"

#define STREAM_KEYS 200000
#define SEQ_TOKENS 10
#define WORD_MAX 24
#define TPL_MAX 512
#define RCPT_MAX 64
#define CAMPAIGN_REPS 2048
#define CAMPAIGN_BITS 4 /* simhash distance that still counts as the same campaign */

/* ---- commands ---- */

struct cmd_pass {
	struct tally *verbs, *unknown, *variants, *seqs;
	uint64_t ord; /* session ordinal, for "sessions using it" */
	char seq[SEQ_TOKENS * 12 + 8];
	char last[WORD_MAX + 1];
	int tokens;
	bool repeat;
	int64_t sessions, lines;
};

/* count_in - one line for entry e of the current session */
static void
count_in(struct tally_ent *e, uint64_t ord)
{
	if (e == NULL)
		return;
	e->n++;
	if (e->aux != ord) {
		e->aux = ord;
		e->n2++;
	}
}

/* seq_push - append a verb to the session's sequence; repeats collapse into "VERB+" */
static void
seq_push(struct cmd_pass *c, const char *tok)
{
	size_t n = strlen(c->seq);

	if (c->tokens > 0 && strcmp(tok, c->last) == 0) {
		if (!c->repeat && c->tokens <= SEQ_TOKENS && n + 1 < sizeof(c->seq)) {
			c->seq[n] = '+';
			c->seq[n + 1] = '\0';
		}
		c->repeat = true;
		return;
	}
	c->repeat = false;
	snprintf(c->last, sizeof(c->last), "%s", tok);
	c->tokens++;
	if (c->tokens > SEQ_TOKENS) {
		if (c->tokens == SEQ_TOKENS + 1 && n + 4 < sizeof(c->seq))
			memcpy(c->seq + n, " ...", 5);
		return;
	}
	snprintf(c->seq + n, sizeof(c->seq) - n, "%s%s", n > 0 ? " " : "", tok);
}

/* seq_end - the finished session's sequence into the tally */
static void
seq_end(struct cmd_pass *c)
{
	if (c->ord > 0)
		count_in(tally_get(c->seqs, c->seq, strlen(c->seq), NULL), c->ord);
	c->seq[0] = '\0';
	c->last[0] = '\0';
	c->tokens = 0;
	c->repeat = false;
}

/* ranked - the top rows of a tally as objects: key under kname, n and n2 under the others */
static json_t *
ranked(struct tally *t, int top, const char *kname, const char *n1, const char *n2,
       int64_t share_of)
{
	size_t n, i;
	struct tally_ent **v = tally_top(t, (size_t)top, &n);
	json_t *a = json_array(), *row;

	for (i = 0; v != NULL && i < n; i++) {
		row = json_object();
		jset(row, kname, esc_model_str(v[i]->key, v[i]->klen, REPORT_STR_MAX));
		jset(row, n1, json_integer((json_int_t)v[i]->n));
		if (n2 != NULL)
			jset(row, n2, json_integer((json_int_t)v[i]->n2));
		if (share_of > 0)
			jset(row, "share",
			     jshare((int64_t)(n2 != NULL ? v[i]->n2 : v[i]->n), share_of));
		json_array_append_new(a, row);
	}
	free(v);
	return a;
}

int
model_commands(struct rb *r)
{
	struct cmd_pass c;
	json_t *o = json_object(), *a, *row;
	sqlite3_stmt *st;
	char prev[40] = "", word[WORD_MAX + 1], key[64];
	size_t i, n, wl;
	struct tally_ent **v;
	bool client_idx;
	int rc = -1;

	memset(&c, 0, sizeof(c));
	json_object_set_new(r->m, "commands", o);
	c.verbs = tally_new(4096, false);
	c.unknown = tally_new(STREAM_KEYS, false);
	c.variants = tally_new(STREAM_KEYS, false);
	c.seqs = tally_new(STREAM_KEYS, false);
	if (c.verbs == NULL || c.unknown == NULL || c.variants == NULL || c.seqs == NULL)
		goto out;
	/* AUTH continuation lines are credentials, not commands: they are left out. Lines are
	 * read in (session, seq) order, one session's state at a time: from the partial index
	 * commands_client when the database has it (no table access at all), else by walking
	 * the (session, seq, direction) key; the unary plus keeps SQLite from choosing the
	 * (direction, verb) index, which would mean sorting every client line. */
	client_idx = rb_has_index(r, "commands_client");
	st = rb_prepare(r,
	                "SELECT session, verb, text FROM commands %s WHERE %sdirection = 'C' AND %s"
	                " AND instr(coalesce(flags, ''), 'auth') = 0 ORDER BY session, seq",
	                client_idx ? "INDEXED BY commands_client" : "", client_idx ? "" : "+",
	                r->sc);
	if (st == NULL)
		goto out;
	rb_progress(r, "commands", 0, 0);
	while ((rc = rb_step(r, st)) == SQLITE_ROW) {
		const char *sid = (const char *)sqlite3_column_text(st, 0);
		const char *verb = (const char *)sqlite3_column_text(st, 1);
		const unsigned char *text = sqlite3_column_blob(st, 2);
		size_t tlen = (size_t)sqlite3_column_bytes(st, 2);

		if (sid == NULL)
			continue;
		if (strcmp(sid, prev) != 0) {
			seq_end(&c);
			snprintf(prev, sizeof(prev), "%s", sid);
			c.ord++;
			c.sessions++;
			if ((c.sessions & 0x3fff) == 0)
				rb_progress(r, "commands", c.sessions, r->sessions);
		}
		c.lines++;
		for (wl = 0; text != NULL && wl < tlen && wl < WORD_MAX && text[wl] != ' ' &&
		             text[wl] != '\t';
		     wl++)
			word[wl] = (char)text[wl];
		word[wl] = '\0';
		if (verb != NULL && verb[0] != '\0') {
			count_in(tally_get(c.verbs, verb, strlen(verb), NULL), c.ord);
			if (strcmp(word, verb) != 0) {
				n = (size_t)snprintf(key, sizeof(key), "%s", verb);
				memcpy(key + n + 1, word, wl);
				key[n] = '\0';
				count_in(tally_get(c.variants, key, n + 1 + wl, NULL), c.ord);
			}
			seq_push(&c, verb);
		} else {
			for (i = 0; i < wl; i++)
				word[i] = (char)toupper((unsigned char)word[i]);
			/* A word never has a space, so this label cannot be attacker text. */
			if (wl == 0)
				count_in(tally_get(c.unknown, "(empty line)", 12, NULL), c.ord);
			else
				count_in(tally_get(c.unknown, word, wl, NULL), c.ord);
			seq_push(&c, "?");
		}
	}
	seq_end(&c);
	sqlite3_finalize(st);
	if (rc < 0)
		goto out;
	jset(o, "lines", json_integer(c.lines));
	jset(o, "sessions_with_commands", json_integer(c.sessions));
	jset(o, "verbs", ranked(c.verbs, 4096, "verb", "lines", "sessions", r->sessions));
	jset(o, "unknown", ranked(c.unknown, r->top, "word", "lines", "sessions", 0));
	/* Variants are keyed "VERB\0word"; split them back into two columns. */
	a = json_array();
	v = tally_top(c.variants, (size_t)r->top, &n);
	for (i = 0; v != NULL && i < n; i++) {
		size_t vl = strlen(v[i]->key);
		row = json_object();
		jset(row, "verb", json_string(v[i]->key));
		jset(row, "variant",
		     esc_model_str(v[i]->key + vl + 1, v[i]->klen - vl - 1, REPORT_STR_MAX));
		jset(row, "lines", json_integer((json_int_t)v[i]->n));
		jset(row, "sessions", json_integer((json_int_t)v[i]->n2));
		json_array_append_new(a, row);
	}
	free(v);
	jset(o, "case_variants", a);
	jset(o, "sequences", ranked(c.seqs, r->top, "sequence", "sessions", NULL, c.sessions));
	rc = 0;
out:
	tally_free(c.verbs);
	tally_free(c.unknown);
	tally_free(c.variants);
	tally_free(c.seqs);
	return rc;
}

/* ---- messages ---- */

struct fam_info {
	char helo[64];
	char dropbox[128];
	char subject[128];
	char body[128];
};

struct msg_pass {
	struct tally *psrc, *drop, *fam, *subj, *rdom, *ptype, *pext, *ckey, *camp;
	struct hset *pairs;
	uint64_t reps[CAMPAIGN_REPS];
	size_t nreps;
	uint32_t nclusters;
	int64_t messages, probes, probe_sessions, reasons[PROBE_REASON_COUNT], sizes[8];
	int64_t from_checked, from_mismatch, from_missing, to_checked, rcpt_not_in_to,
	    to_not_in_rcpt, to_missing, accepted, with_parts;
	json_t *list;
	int64_t list_total;
};

/* lower_into - ASCII lower-case copy, NUL-terminated, at most outlen-1 bytes */
static size_t
lower_into(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; i < n && i + 1 < outlen; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[i] = '\0';
	return i;
}

/* hdr_addr - the addr-spec in a header value: inside <…> when present, else the first token
 * with an '@'; lower-cased into out; false when there is none */
static bool
hdr_addr(const char *s, size_t n, char *out, size_t outlen)
{
	const char *lt = memchr(s, '<', n), *gt, *at, *b, *e;

	if (lt != NULL && (gt = memchr(lt, '>', n - (size_t)(lt - s))) != NULL) {
		lower_into(lt + 1, (size_t)(gt - lt - 1), out, outlen);
		return out[0] != '\0';
	}
	at = memchr(s, '@', n);
	if (at == NULL)
		return false;
	for (b = at; b > s && !strchr(" \t,;:\"", b[-1]); b--)
		;
	for (e = at; e < s + n && !strchr(" \t,;\"", *e); e++)
		;
	lower_into(b, (size_t)(e - b), out, outlen);
	return true;
}

/* strip_brackets - "<a@b>" → "a@b" (envelope addresses as echoed may carry them) */
static void
strip_brackets(char *a)
{
	size_t n = strlen(a);

	if (n >= 2 && a[0] == '<' && a[n - 1] == '>') {
		memmove(a, a + 1, n - 2);
		a[n - 2] = '\0';
	}
}

/* mismatch - envelope vs header: MAIL FROM vs From:, RCPT TO vs To: */
static void
mismatch(struct msg_pass *p, const char *mail_from, const char *hfrom, size_t hflen,
         const char *hto, size_t htlen, const char *const *rcpts, size_t nr)
{
	char a[256], b[256], toaddr[32][256];
	size_t nto = 0, i, j;
	const char *s, *e;
	bool found;

	if (hfrom == NULL)
		p->from_missing++;
	else if (mail_from != NULL && mail_from[0] != '\0') {
		lower_into(mail_from, strlen(mail_from), a, sizeof(a));
		strip_brackets(a);
		p->from_checked++;
		if (!hdr_addr(hfrom, hflen, b, sizeof(b)) || strcmp(a, b) != 0)
			p->from_mismatch++;
	}
	if (hto == NULL) {
		p->to_missing++;
		return;
	}
	for (s = hto; s < hto + htlen && nto < 32; s = e + 1) {
		e = memchr(s, ',', (size_t)(hto + htlen - s));
		if (e == NULL)
			e = hto + htlen;
		if (hdr_addr(s, (size_t)(e - s), toaddr[nto], sizeof(toaddr[0])))
			nto++;
	}
	if (nr == 0)
		return;
	p->to_checked++;
	for (i = 0, found = true; i < nr && found; i++) {
		lower_into(rcpts[i], strlen(rcpts[i]), a, sizeof(a));
		strip_brackets(a);
		for (j = 0, found = false; j < nto && !found; j++)
			found = strcmp(a, toaddr[j]) == 0;
	}
	if (!found)
		p->rcpt_not_in_to++;
	for (j = 0, found = true; j < nto && found; j++) {
		for (i = 0, found = false; i < nr && !found; i++) {
			lower_into(rcpts[i], strlen(rcpts[i]), a, sizeof(a));
			strip_brackets(a);
			found = strcmp(a, toaddr[j]) == 0;
		}
	}
	if (!found)
		p->to_not_in_rcpt++;
}

/* simhash - 64-bit simhash of the word 3-shingles of a template */
static uint64_t
simhash(const char *s)
{
	int acc[64] = {0};
	const char *w[3] = {NULL, NULL, NULL};
	size_t wl[3] = {0, 0, 0};
	const char *p = s;
	uint64_t h = 0, x;
	int i, nw = 0;

	while (*p != '\0') {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		w[0] = w[1];
		wl[0] = wl[1];
		w[1] = w[2];
		wl[1] = wl[2];
		w[2] = p;
		while (*p != '\0' && *p != ' ')
			p++;
		wl[2] = (size_t)(p - w[2]);
		if (++nw < 3)
			continue;
		x = hash_mix('s', wl[0], w[0], wl[0] + 1 + wl[1] + 1 + wl[2]);
		for (i = 0; i < 64; i++)
			acc[i] += (x >> i) & 1 ? 1 : -1;
	}
	if (nw < 3) /* short text: the hash of the whole is its fingerprint */
		return hash_mix('S', 0, s, strlen(s));
	for (i = 0; i < 64; i++)
		if (acc[i] > 0)
			h |= 1ull << i;
	return h;
}

/* cluster_of - the campaign cluster of a (subject, body) template key: the same key always
 * gives the same cluster; a new key joins the first cluster whose fingerprint is within
 * CAMPAIGN_BITS bits, else starts one */
static uint32_t
cluster_of(struct msg_pass *p, const char *key, size_t klen, const char *text)
{
	bool created;
	struct tally_ent *e = tally_get(p->ckey, key, klen, &created);
	uint64_t h;
	size_t i;

	if (e == NULL)
		return 0; /* past the key limit: one "other" cluster */
	if (!created)
		return (uint32_t)e->aux;
	h = simhash(text);
	for (i = 0; i < p->nreps; i++)
		if (__builtin_popcountll(p->reps[i] ^ h) <= CAMPAIGN_BITS) {
			e->aux = i + 1;
			return (uint32_t)e->aux;
		}
	if (p->nreps < CAMPAIGN_REPS) {
		p->reps[p->nreps++] = h;
		e->aux = p->nreps;
	} else {
		e->aux = CAMPAIGN_REPS + (++p->nclusters);
	}
	return (uint32_t)e->aux;
}

/* info_new - a fam_info for a new family or campaign */
static struct fam_info *
info_new(const char *helo, const char *dropbox, const char *subject, const char *body)
{
	struct fam_info *fi = calloc(1, sizeof(*fi));

	if (fi == NULL)
		return NULL;
	/* a template longer than the field is kept cut: these are labels */
	strlcpy(fi->helo, helo, sizeof(fi->helo));
	strlcpy(fi->dropbox, dropbox, sizeof(fi->dropbox));
	strlcpy(fi->subject, subject, sizeof(fi->subject));
	strlcpy(fi->body, body, sizeof(fi->body));
	return fi;
}

/* distinct - count (e, value) once in e->n2 or e->n3 */
static void
distinct(struct msg_pass *p, char tag, struct tally_ent *e, const char *v, uint64_t *field)
{
	if (e != NULL && v != NULL && hset_add(p->pairs, hash_mix(tag, (uintptr_t)e, v, strlen(v))))
		(*field)++;
}

/* span - first/last time of an entry */
static void
span(struct tally_ent *e, int64_t t)
{
	if (e->first == 0 || t < e->first)
		e->first = t;
	if (t > e->last)
		e->last = t;
}

struct msg {
	const char *session, *src_ip, *helo, *mail_from;
	const char *subject, *body, *hfrom, *hto;
	size_t subject_len, body_len, hfrom_len, hto_len;
	const char *rcpts[RCPT_MAX];
	size_t nr;
	int64_t t, size;
	unsigned rflags;
	bool accepted;
	json_t *parts;
};

/* on_probe - a message judged a relay test: reasons, source, drop-boxes, family, the list */
static void
on_probe(struct rb *r, struct msg_pass *p, const struct msg *m, unsigned why, const char *stpl,
         const char *btpl)
{
	char key[TALLY_KEY_MAX], addr[256], htpl[64], reasons[256] = "";
	struct tally_ent *e;
	bool created;
	size_t i, kl;
	json_t *row;

	p->probes++;
	for (i = 0; i < PROBE_REASON_COUNT; i++)
		if (why & (1u << i)) {
			p->reasons[i]++;
			snprintf(reasons + strlen(reasons), sizeof(reasons) - strlen(reasons),
			         "%s%s", reasons[0] != '\0' ? "," : "",
			         probe_reason_name((unsigned)i));
		}
	if (hset_add(p->pairs, hash_mix('P', 0, m->session, strlen(m->session))))
		p->probe_sessions++;
	if ((e = tally_get(p->psrc, m->src_ip, strlen(m->src_ip), NULL)) != NULL) {
		e->n++;
		span(e, m->t);
	}
	for (i = 0; i < m->nr && i < 8; i++) {
		lower_into(m->rcpts[i], strlen(m->rcpts[i]), addr, sizeof(addr));
		strip_brackets(addr);
		if ((e = tally_get(p->drop, addr, strlen(addr), NULL)) == NULL)
			continue;
		e->n++;
		span(e, m->t);
		distinct(p, 'd', e, m->src_ip, &e->n3);
	}
	/* A family is a subject and body template; its HELO pattern and drop-box are shown. */
	template_normalise(m->helo, strlen(m->helo), htpl, sizeof(htpl));
	kl = (size_t)snprintf(key, sizeof(key), "%.100s\x1f%.150s", stpl, btpl);
	if (kl >= sizeof(key))
		kl = sizeof(key) - 1;
	e = tally_get(p->fam, key, kl, &created);
	if (e != NULL) {
		if (created) {
			lower_into(m->nr > 0 ? m->rcpts[0] : "",
			           m->nr > 0 ? strlen(m->rcpts[0]) : 0, addr, sizeof(addr));
			strip_brackets(addr);
			e->p = info_new(htpl, addr, stpl, btpl);
		}
		e->n++;
		span(e, m->t);
		distinct(p, 's', e, m->session, &e->n2);
		distinct(p, 'i', e, m->src_ip, &e->n3);
		for (i = 0; i < m->nr && i < 8; i++) {
			uint64_t dummy = 0;
			lower_into(m->rcpts[i], strlen(m->rcpts[i]), addr, sizeof(addr));
			strip_brackets(addr);
			distinct(p, 'D', e, addr, &dummy);
			e->aux += dummy;
		}
	}
	p->list_total++;
	if (json_array_size(p->list) >= REPORT_PROBE_MAX)
		return;
	row = json_object();
	jset(row, "session", json_string(m->session));
	jset(row, "time", jtime(m->t));
	jset(row, "src_ip", json_string(m->src_ip));
	jset(row, "helo", esc_model_str(m->helo, strlen(m->helo), REPORT_STR_MAX));
	jset(row, "subject", esc_model_str(m->subject, m->subject_len, REPORT_STR_MAX));
	jset(row, "rcpt",
	     m->nr > 0 ? esc_model_str(m->rcpts[0], strlen(m->rcpts[0]), REPORT_STR_MAX)
	               : json_null());
	jset(row, "reasons", json_string(reasons));
	json_array_append_new(p->list, row);
}

/* on_bulk - a message that is not a probe: did a probing source or a drop-box come back? and
 * which campaign is it */
static void
on_bulk(struct msg_pass *p, const struct msg *m, uint64_t mord, const char *stpl, const char *btpl)
{
	char addr[256], key[TALLY_KEY_MAX], text[TPL_MAX + 140];
	struct tally_ent *e;
	uint32_t cid;
	size_t i, kl;
	bool created;

	e = tally_find(p->psrc, m->src_ip, strlen(m->src_ip));
	if (e != NULL && e->first <= m->t) {
		if (e->aux == 0) {
			e->aux = (uint64_t)m->t;
			free(e->p);
			e->p = strdup(stpl);
		}
		e->n2++;
	}
	for (i = 0; i <= m->nr && i < 9; i++) {
		const char *a = i == 0 ? m->mail_from : m->rcpts[i - 1];
		if (a == NULL)
			continue;
		lower_into(a, strlen(a), addr, sizeof(addr));
		strip_brackets(addr);
		e = tally_find(p->drop, addr, strlen(addr));
		if (e == NULL || e->first > m->t)
			continue;
		if (e->aux == 0)
			e->aux = (uint64_t)m->t;
		if (hset_add(p->pairs, hash_mix('m', (uintptr_t)e, &mord, sizeof(mord))))
			e->n2++;
	}
	kl = (size_t)snprintf(key, sizeof(key), "%.100s\x1f%.150s", stpl, btpl);
	if (kl >= sizeof(key))
		kl = sizeof(key) - 1;
	snprintf(text, sizeof(text), "%s %s", stpl, btpl);
	cid = cluster_of(p, key, kl, text);
	e = tally_get(p->camp, &cid, sizeof(cid), &created);
	if (e == NULL)
		return;
	if (created)
		e->p = info_new("", m->src_ip, stpl, btpl);
	e->n++;
	span(e, m->t);
	distinct(p, 'c', e, m->session, &e->n2);
	distinct(p, 'C', e, m->src_ip, &e->n3);
}

/* on_message - the per-message statistics every message feeds */
static void
on_message(struct msg_pass *p, const struct msg *m, uint64_t mord, const char *stpl)
{
	static const int64_t edges[] = {1024, 4096, 16384, 65536, 262144, 1048576, 10485760};
	char dom[256];
	struct tally_ent *e;
	const char *d;
	size_t i, dl, np;

	p->messages++;
	if (m->accepted)
		p->accepted++;
	for (i = 0; i < ARRAY_LEN(edges) && m->size >= edges[i]; i++)
		;
	p->sizes[i]++;
	mismatch(p, m->mail_from, m->hfrom, m->hfrom_len, m->hto, m->hto_len, m->rcpts, m->nr);
	e = tally_get(p->subj, stpl, strlen(stpl), NULL);
	if (e != NULL) {
		e->n++;
		distinct(p, 'u', e, m->src_ip, &e->n3);
		if (e->p == NULL)
			e->p = strndup(m->subject != NULL ? m->subject : "",
			               m->subject_len < 200 ? m->subject_len : 200);
	}
	for (i = 0; i < m->nr; i++) {
		d = addr_domain(m->rcpts[i], &dl);
		if (d == NULL)
			continue;
		dl = lower_into(d, dl, dom, sizeof(dom));
		count_in(tally_get(p->rdom, dom, dl, NULL), mord);
	}
	np = json_array_size(m->parts);
	if (np > 0)
		p->with_parts++;
	for (i = 0; i < np; i++) {
		json_t *part = json_array_get(m->parts, i);
		const char *type = json_string_value(json_object_get(part, "type"));
		const char *fn = json_string_value(json_object_get(part, "filename"));
		const char *dot;

		if (type == NULL)
			continue;
		count_in(tally_get(p->ptype, type[0] != '\0' ? type : "(none)",
		                   type[0] != '\0' ? strlen(type) : 6, NULL),
		         mord);
		if (fn != NULL && (dot = strrchr(fn, '.')) != NULL && dot[1] != '\0') {
			dl = lower_into(dot + 1, strlen(dot + 1), dom, 16);
			count_in(tally_get(p->pext, dom, dl, NULL), mord);
		}
	}
}

/* msg_pass_free - release every tally of the pass */
static void
msg_pass_free(struct msg_pass *p)
{
	tally_free(p->psrc);
	tally_free(p->drop);
	tally_free(p->fam);
	tally_free(p->subj);
	tally_free(p->rdom);
	tally_free(p->ptype);
	tally_free(p->pext);
	tally_free(p->ckey);
	tally_free(p->camp);
	hset_free(p->pairs);
	json_decref(p->list);
}

/* cmp_bulk - by bulk messages after the probe, most first, then address */
static int
cmp_bulk(const void *a, const void *b)
{
	const struct tally_ent *x = *(struct tally_ent *const *)a;
	const struct tally_ent *y = *(struct tally_ent *const *)b;

	if (x->n2 != y->n2)
		return x->n2 > y->n2 ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* out_probes - the probes section from the pass */
static json_t *
out_probes(struct rb *r, struct msg_pass *p)
{
	json_t *o = json_object(), *a, *row;
	struct tally_ent **v;
	struct fam_info *fi;
	size_t n, i, k;
	int64_t back = 0;

	jset(o, "messages_checked", json_integer(p->messages));
	jset(o, "probe_messages", json_integer(p->probes));
	jset(o, "probe_sessions", json_integer(p->probe_sessions));
	jset(o, "sources", json_integer((json_int_t)tally_count(p->psrc, NULL)));
	a = json_array();
	for (i = 0; i < PROBE_REASON_COUNT; i++) {
		row = json_object();
		jset(row, "reason", json_string(probe_reason_name((unsigned)i)));
		jset(row, "label", json_string(probe_reason_label((unsigned)i)));
		jset(row, "messages", json_integer(p->reasons[i]));
		jset(row, "share", jshare(p->reasons[i], p->probes));
		json_array_append_new(a, row);
	}
	jset(o, "reasons", a);

	a = json_array();
	v = tally_top(p->fam, (size_t)r->top, &n);
	for (i = 0; v != NULL && i < n; i++) {
		fi = v[i]->p;
		row = json_object();
		jset(row, "family", json_integer((json_int_t)i + 1));
		jset(row, "subject",
		     esc_model_str(fi ? fi->subject : "", fi ? strlen(fi->subject) : 0,
		                   REPORT_STR_MAX));
		jset(row, "body", esc_model_str(fi ? fi->body : "", fi ? strlen(fi->body) : 0, 80));
		jset(row, "helo", esc_model_str(fi ? fi->helo : "", fi ? strlen(fi->helo) : 0, 64));
		jset(row, "dropbox",
		     esc_model_str(fi ? fi->dropbox : "", fi ? strlen(fi->dropbox) : 0,
		                   REPORT_STR_MAX));
		jset(row, "dropboxes", json_integer((json_int_t)v[i]->aux));
		jset(row, "messages", json_integer((json_int_t)v[i]->n));
		jset(row, "sessions", json_integer((json_int_t)v[i]->n2));
		jset(row, "sources", json_integer((json_int_t)v[i]->n3));
		jset(row, "first", jtime(v[i]->first));
		jset(row, "last", jtime(v[i]->last));
		json_array_append_new(a, row);
	}
	jset(o, "families_total", json_integer((json_int_t)tally_count(p->fam, NULL)));
	free(v);
	jset(o, "families", a);

	a = json_array();
	v = tally_top(p->drop, (size_t)r->top, &n);
	for (i = 0; v != NULL && i < n; i++) {
		row = json_object();
		jset(row, "address", esc_model_str(v[i]->key, v[i]->klen, REPORT_STR_MAX));
		jset(row, "probes", json_integer((json_int_t)v[i]->n));
		jset(row, "sources", json_integer((json_int_t)v[i]->n3));
		jset(row, "first", jtime(v[i]->first));
		jset(row, "last", jtime(v[i]->last));
		jset(row, "later_messages", json_integer((json_int_t)v[i]->n2));
		jset(row, "delay_s",
		     v[i]->aux != 0 ? json_integer(((json_int_t)v[i]->aux - v[i]->first) / 1000000)
		                    : json_null());
		json_array_append_new(a, row);
	}
	jset(o, "dropboxes_total", json_integer((json_int_t)tally_count(p->drop, NULL)));
	free(v);
	jset(o, "dropboxes", a);

	/* Sources that probed and later sent bulk mail, most bulk first. */
	a = json_array();
	v = tally_entries(p->psrc, &n);
	if (v != NULL) {
		for (i = 0, k = 0; i < n; i++)
			if (v[i]->aux != 0)
				v[k++] = v[i];
		back = (int64_t)k;
		qsort(v, k, sizeof(*v), cmp_bulk);
		for (i = 0; i < k && i < (size_t)r->top; i++) {
			row = json_object();
			jset(row, "ip", esc_model_str(v[i]->key, v[i]->klen, REPORT_STR_MAX));
			jset(row, "probes", json_integer((json_int_t)v[i]->n));
			jset(row, "first_probe", jtime(v[i]->first));
			jset(row, "first_bulk", jtime((int64_t)v[i]->aux));
			jset(row, "delay_s",
			     json_integer(((json_int_t)v[i]->aux - v[i]->first) / 1000000));
			jset(row, "bulk_messages", json_integer((json_int_t)v[i]->n2));
			jset(row, "bulk_subject",
			     esc_model_str(v[i]->p, v[i]->p ? strlen(v[i]->p) : 0, REPORT_STR_MAX));
			json_array_append_new(a, row);
		}
	}
	free(v);
	jset(o, "returning_sources_total", json_integer(back));
	jset(o, "returning_sources", a);
	jset(o, "sessions", json_incref(p->list));
	jset(o, "sessions_total", json_integer(p->list_total));
	jset(o, "sessions_truncated",
	     json_boolean(p->list_total > (int64_t)json_array_size(p->list)));
	return o;
}

/* out_messages - the messages section from the pass */
static json_t *
out_messages(struct rb *r, struct msg_pass *p)
{
	static const char *const ranges[] = {"< 1 KiB",   "1-4 KiB",    "4-16 KiB",
	                                     "16-64 KiB", "64-256 KiB", "256 KiB-1 MiB",
	                                     "1-10 MiB",  ">= 10 MiB"};
	json_t *o = json_object(), *mm = json_object(), *a, *row;
	struct tally_ent **v;
	struct fam_info *fi;
	size_t n, i;

	jset(o, "messages", json_integer(p->messages));
	jset(o, "accepted", json_integer(p->accepted));
	jset(o, "body_text_known", json_boolean(r->msg_body));
	jset(mm, "from_checked", json_integer(p->from_checked));
	jset(mm, "mail_from_vs_from", json_integer(p->from_mismatch));
	jset(mm, "no_from_header", json_integer(p->from_missing));
	jset(mm, "to_checked", json_integer(p->to_checked));
	jset(mm, "rcpt_not_in_to", json_integer(p->rcpt_not_in_to));
	jset(mm, "to_not_in_rcpt", json_integer(p->to_not_in_rcpt));
	jset(mm, "no_to_header", json_integer(p->to_missing));
	jset(o, "mismatch", mm);

	a = json_array();
	v = tally_top(p->subj, (size_t)r->top, &n);
	for (i = 0; v != NULL && i < n; i++) {
		row = json_object();
		jset(row, "template", esc_model_str(v[i]->key, v[i]->klen, REPORT_STR_MAX));
		jset(row, "example",
		     esc_model_str(v[i]->p, v[i]->p ? strlen(v[i]->p) : 0, REPORT_STR_MAX));
		jset(row, "messages", json_integer((json_int_t)v[i]->n));
		jset(row, "sources", json_integer((json_int_t)v[i]->n3));
		json_array_append_new(a, row);
	}
	free(v);
	jset(o, "subjects", a);
	jset(o, "recipient_domains",
	     ranked(p->rdom, r->top, "domain", "recipients", "messages", 0));
	a = json_array();
	for (i = 0; i < ARRAY_LEN(ranges); i++) {
		row = json_object();
		jset(row, "range", json_string(ranges[i]));
		jset(row, "messages", json_integer(p->sizes[i]));
		json_array_append_new(a, row);
	}
	jset(o, "sizes", a);
	jset(o, "parts_known", json_boolean(r->msg_body));
	jset(o, "with_parts", json_integer(p->with_parts));
	jset(o, "attachment_types", ranked(p->ptype, r->top, "type", "parts", "messages", 0));
	jset(o, "extensions", ranked(p->pext, r->top, "extension", "parts", "messages", 0));

	a = json_array();
	v = tally_top(p->camp, (size_t)r->top, &n);
	for (i = 0; v != NULL && i < n; i++) {
		fi = v[i]->p;
		row = json_object();
		jset(row, "campaign", json_integer((json_int_t)i + 1));
		jset(row, "subject",
		     esc_model_str(fi ? fi->subject : "", fi ? strlen(fi->subject) : 0,
		                   REPORT_STR_MAX));
		jset(row, "body", esc_model_str(fi ? fi->body : "", fi ? strlen(fi->body) : 0, 80));
		jset(row, "messages", json_integer((json_int_t)v[i]->n));
		jset(row, "sessions", json_integer((json_int_t)v[i]->n2));
		jset(row, "sources", json_integer((json_int_t)v[i]->n3));
		jset(row, "first", jtime(v[i]->first));
		jset(row, "last", jtime(v[i]->last));
		jset(row, "example_source",
		     esc_model_str(fi ? fi->dropbox : "", fi ? strlen(fi->dropbox) : 0, 64));
		json_array_append_new(a, row);
	}
	jset(o, "campaigns_total", json_integer((json_int_t)tally_count(p->camp, NULL)));
	free(v);
	jset(o, "campaigns", a);
	return o;
}

/* rcpt_flags - the routing tricks in one recipient address: a %-hack or bang path in the
 * local part, a source route ("@a,@b:user@c"), a quoted local part */
static unsigned
rcpt_flags(const char *a)
{
	const char *at = strrchr(a, '@');
	unsigned f = 0;
	size_t i;

	if (a[0] == '<')
		a++;
	if (a[0] == '@')
		f |= PROBE_RCPT_SOURCE_ROUTE;
	if (a[0] == '"')
		f |= PROBE_RCPT_QUOTED;
	for (i = 0; a + i < (at != NULL ? at : a + strlen(a)); i++) {
		if (a[i] == '%')
			f |= PROBE_RCPT_PERCENT;
		else if (a[i] == '!')
			f |= PROBE_RCPT_BANG;
	}
	return f;
}

/* col_bytes - a column's bytes and length (NULL when SQL NULL) */
static const char *
col_bytes(sqlite3_stmt *st, int i, size_t *len)
{
	*len = (size_t)sqlite3_column_bytes(st, i);
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return NULL;
	/* sqlite3_column_text adds a terminating NUL, which the classifiers' C strings need */
	return (const char *)sqlite3_column_text(st, i);
}

int
model_messages(struct rb *r)
{
	struct msg_pass p;
	struct msg m;
	struct probe_input in;
	sqlite3_stmt *st;
	json_t *rcpts = NULL;
	char stpl[TPL_MAX], btpl[TPL_MAX];
	const char *rf;
	uint64_t mord = 0;
	unsigned why;
	size_t i, len;
	int rc = -1;

	memset(&p, 0, sizeof(p));
	p.psrc = tally_new(STREAM_KEYS, true);
	p.drop = tally_new(STREAM_KEYS, false);
	p.fam = tally_new(STREAM_KEYS, true);
	p.subj = tally_new(STREAM_KEYS, true);
	p.rdom = tally_new(STREAM_KEYS, false);
	p.ptype = tally_new(4096, false);
	p.pext = tally_new(4096, false);
	p.ckey = tally_new(STREAM_KEYS, false);
	p.camp = tally_new(STREAM_KEYS, true);
	p.pairs = hset_new();
	p.list = json_array();
	if (p.psrc == NULL || p.drop == NULL || p.fam == NULL || p.subj == NULL || p.rdom == NULL ||
	    p.ptype == NULL || p.pext == NULL || p.ckey == NULL || p.camp == NULL ||
	    p.pairs == NULL) {
		seterr(r->err, r->errlen, "out of memory");
		goto out;
	}
	st = rb_prepare(r,
	                "SELECT m.session, m.time_us, m.hdr_subject, %s, m.mail_from, m.rcpts,"
	                " m.hdr_from, m.hdr_to, s.src_ip, s.helo, m.size, m.accepted, %s"
	                " FROM messages m JOIN sessions s ON s.session = m.session"
	                " WHERE %s ORDER BY m.time_us",
	                r->msg_body ? "m.body_text" : "NULL", r->msg_body ? "m.parts" : "NULL",
	                rb_cond(r, 'm'));
	if (st == NULL)
		goto out;
	rb_progress(r, "messages", 0, 0);
	while ((rc = rb_step(r, st)) == SQLITE_ROW) {
		memset(&m, 0, sizeof(m));
		mord++;
		if ((mord & 0x3fff) == 0)
			rb_progress(r, "messages", (int64_t)mord, 0);
		m.session = (const char *)sqlite3_column_text(st, 0);
		m.t = sqlite3_column_int64(st, 1);
		m.subject = col_bytes(st, 2, &m.subject_len);
		m.body = col_bytes(st, 3, &m.body_len);
		m.mail_from = col_bytes(st, 4, &len);
		m.hfrom = col_bytes(st, 6, &m.hfrom_len);
		m.hto = col_bytes(st, 7, &m.hto_len);
		m.src_ip = (const char *)sqlite3_column_text(st, 8);
		m.helo = col_bytes(st, 9, &len);
		m.size = sqlite3_column_int64(st, 10);
		m.accepted = sqlite3_column_int(st, 11) != 0;
		if (m.session == NULL)
			continue;
		if (m.src_ip == NULL)
			m.src_ip = "";
		if (m.helo == NULL)
			m.helo = "";
		json_decref(rcpts);
		rcpts = NULL;
		if ((rf = (const char *)sqlite3_column_text(st, 5)) != NULL)
			rcpts = json_loads(rf, JSON_DECODE_ANY, NULL);
		for (i = 0; i < json_array_size(rcpts) && m.nr < RCPT_MAX; i++) {
			const char *a = json_string_value(json_array_get(rcpts, i));
			if (a != NULL)
				m.rcpts[m.nr++] = a;
		}
		m.parts = NULL;
		if ((rf = (const char *)sqlite3_column_text(st, 12)) != NULL)
			m.parts = json_loads(rf, JSON_DECODE_ANY, NULL);
		/* Routing tricks show in the recipients as the server echoed them; reading them
		 * here saves a lookup in recipients for every message. */
		for (i = 0; i < m.nr; i++)
			m.rflags |= rcpt_flags(m.rcpts[i]);
		if (m.accepted && hset_add(p.pairs, hash_mix('A', 0, m.session, strlen(m.session))))
			r->accepted_sessions++;
		memset(&in, 0, sizeof(in));
		in.subject = m.subject;
		in.subject_len = m.subject_len;
		in.body = m.body;
		in.body_len = m.body_len;
		in.mail_from = m.mail_from;
		in.rcpts = m.rcpts;
		in.nrcpts = m.nr;
		in.hdr_from = m.hfrom;
		in.hdr_to = m.hto;
		in.rcpt_flags = m.rflags;
		why = probe_detect(&in, &r->self);
		template_normalise(m.subject != NULL ? m.subject : "", m.subject_len, stpl,
		                   sizeof(stpl));
		template_normalise(m.body != NULL ? m.body : "", m.body_len, btpl, sizeof(btpl));
		on_message(&p, &m, mord, stpl);
		if (why != 0)
			on_probe(r, &p, &m, why, stpl, btpl);
		else
			on_bulk(&p, &m, mord, stpl, btpl);
		json_decref(m.parts);
	}
	json_decref(rcpts);
	sqlite3_finalize(st);
	if (rc < 0)
		goto out;
	json_object_set_new(r->m, "probes", out_probes(r, &p));
	json_object_set_new(r->m, "messages", out_messages(r, &p));
	rc = 0;
out:
	msg_pass_free(&p);
	return rc;
}
