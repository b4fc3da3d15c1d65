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
#define BODY_KEY 150 /* bytes of the body template in a family or campaign key */
#define RCPT_MAX 64
#define CAMPAIGN_REPS 2048
#define CAMPAIGN_BITS 4 /* simhash distance that still counts as the same campaign */
#define HOUR_US 3600000000LL

/* ---- commands ---- */

struct cmd_pass {
	struct tally *verbs, *unknown, *variants, *seqs;
	uint64_t ord; /* session ordinal, for "sessions using it" */
	char seq[SEQ_TOKENS * 12 + 8];
	size_t seqlen; /* strlen(seq) */
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

/* put_cut - append n bytes of s at out[*len] as snprintf would: what fits before the last
 * byte of the size-byte buffer, always NUL-terminated */
static void
put_cut(char *out, size_t size, size_t *len, const char *s, size_t n)
{
	if (*len + 1 >= size)
		return;
	if (n > size - 1 - *len)
		n = size - 1 - *len;
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = '\0';
}

/* seq_push - append a verb (tl bytes) to the session's sequence; repeats collapse into
 * "VERB+" */
static void
seq_push(struct cmd_pass *c, const char *tok, size_t tl)
{
	size_t n = c->seqlen, ll = 0;

	if (c->tokens > 0 && strcmp(tok, c->last) == 0) {
		if (!c->repeat && c->tokens <= SEQ_TOKENS && n + 1 < sizeof(c->seq)) {
			c->seq[n] = '+';
			c->seq[n + 1] = '\0';
			c->seqlen++;
		}
		c->repeat = true;
		return;
	}
	c->repeat = false;
	put_cut(c->last, sizeof(c->last), &ll, tok, tl);
	c->tokens++;
	if (c->tokens > SEQ_TOKENS) {
		if (c->tokens == SEQ_TOKENS + 1 && n + 4 < sizeof(c->seq)) {
			memcpy(c->seq + n, " ...", 5);
			c->seqlen += 4;
		}
		return;
	}
	if (n > 0)
		put_cut(c->seq, sizeof(c->seq), &c->seqlen, " ", 1);
	put_cut(c->seq, sizeof(c->seq), &c->seqlen, tok, tl);
}

/* seq_end - the finished session's sequence into the tally */
static void
seq_end(struct cmd_pass *c)
{
	if (c->ord > 0)
		count_in(tally_get(c->seqs, c->seq, c->seqlen, NULL), c->ord);
	c->seq[0] = '\0';
	c->seqlen = 0;
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
			size_t vl = strlen(verb);
			count_in(tally_get(c.verbs, verb, vl, NULL), c.ord);
			if (strcmp(word, verb) != 0) {
				/* "VERB\0word" (a verb is short; one that is not is cut) */
				n = vl < sizeof(key) - 2 - WORD_MAX ? vl
				                                    : sizeof(key) - 2 - WORD_MAX;
				memcpy(key, verb, n);
				key[n] = '\0';
				memcpy(key + n + 1, word, wl);
				count_in(tally_get(c.variants, key, n + 1 + wl, NULL), c.ord);
			}
			seq_push(&c, verb, vl);
		} else {
			for (i = 0; i < wl; i++)
				word[i] = (char)toupper((unsigned char)word[i]);
			/* A word never has a space, so this label cannot be attacker text. */
			if (wl == 0)
				count_in(tally_get(c.unknown, "(empty line)", 12, NULL), c.ord);
			else
				count_in(tally_get(c.unknown, word, wl, NULL), c.ord);
			seq_push(&c, "?", 1);
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

/* popcount64 - bits set in x; inline (without -mpopcnt the builtin is a libgcc call, and a new
 * campaign key is compared with up to CAMPAIGN_REPS fingerprints) */
static inline int
popcount64(uint64_t x)
{
	x = x - ((x >> 1) & 0x5555555555555555ull);
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (int)((x * 0x0101010101010101ull) >> 56);
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

struct msg;
static void body_template(const struct msg *m, char *out, size_t outlen);

/* cluster_of - the campaign cluster of a (subject, body) template key: the same key always
 * gives the same cluster; a new key joins the first cluster whose fingerprint (of the subject
 * and the whole body template) is within CAMPAIGN_BITS bits, else starts one */
static uint32_t
cluster_of(struct msg_pass *p, const char *key, size_t klen, const char *stpl, const struct msg *m)
{
	bool created;
	struct tally_ent *e = tally_get(p->ckey, key, klen, &created);
	char btpl[TPL_MAX], text[TPL_MAX + 140];
	uint64_t h;
	size_t i;

	if (e == NULL)
		return 0; /* past the key limit: one "other" cluster */
	if (!created)
		return (uint32_t)e->aux;
	body_template(m, btpl, sizeof(btpl));
	snprintf(text, sizeof(text), "%s %s", stpl, btpl);
	h = simhash(text);
	for (i = 0; i < p->nreps; i++)
		if (popcount64(p->reps[i] ^ h) <= CAMPAIGN_BITS) {
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

/* one MIME part of a message as messages.parts lists it */
struct mpart {
	const char *type, *filename;
};

struct msg {
	const char *session, *src_ip, *helo, *mail_from;
	const char *subject, *body, *hfrom, *hto;
	size_t subject_len, body_len, hfrom_len, hto_len;
	const char *rcpts[RCPT_MAX];
	size_t nr;
	const char *btpl; /* the body's template: its first BODY_KEY bytes when bcut */
	bool bcut;
	int64_t t, size;
	unsigned rflags;
	bool accepted;
	const struct mpart *parts; /* np entries; a part's type is NULL when it has none */
	size_t np;
};

/* tpl_key - a family or campaign key: the subject template's first 100 bytes, 0x1f, the body
 * template's first BODY_KEY bytes (as "%.100s\x1f%.150s" would print them); its length */
static size_t
tpl_key(char key[TALLY_KEY_MAX], const char *stpl, const char *btpl)
{
	size_t sl = strnlen(stpl, 100), bl = strnlen(btpl, BODY_KEY);

	memcpy(key, stpl, sl);
	key[sl] = '\x1f';
	memcpy(key + sl + 1, btpl, bl);
	key[sl + 1 + bl] = '\0';
	return sl + 1 + bl;
}

/* body_template - the whole template of the message's body (TPL_MAX bytes at most) */
static void
body_template(const struct msg *m, char *out, size_t outlen)
{
	if (m->bcut)
		template_normalise(m->body != NULL ? m->body : "", m->body_len, out, outlen);
	else
		snprintf(out, outlen, "%s", m->btpl);
}

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
	kl = tpl_key(key, stpl, btpl);
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
	char addr[256], key[TALLY_KEY_MAX];
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
	kl = tpl_key(key, stpl, btpl);
	cid = cluster_of(p, key, kl, stpl, m);
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
	np = m->np;
	if (np > 0)
		p->with_parts++;
	for (i = 0; i < np; i++) {
		const char *type = m->parts[i].type;
		const char *fn = m->parts[i].filename;
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

/* ---- the JSON columns of messages (rcpts, parts) ----
 *
 * The store writes them compact: an array of strings, and an array of flat objects of strings.
 * Those are read in place (a copy whose closing quotes become NULs); anything else (an escape,
 * a byte outside printable ASCII, a number, a nested value) goes through jansson, so the
 * result is always what jansson would give. */

/* jbuf - scratch copies of the columns, and the parts list, reused from message to message */
struct jbuf {
	char *rc, *pt; /* copies of rcpts and parts */
	size_t rccap, ptcap;
	struct mpart *pv;
	size_t pvcap;
	json_t *rj, *pj; /* the jansson trees when the fast reading did not apply */
};

static void
jbuf_free(struct jbuf *b)
{
	free(b->rc);
	free(b->pt);
	free(b->pv);
	json_decref(b->rj);
	json_decref(b->pj);
}

/* jcopy - a NUL-terminated copy of n bytes in *buf (grown as needed); NULL when out of memory */
static char *
jcopy(char **buf, size_t *cap, const char *s, size_t n)
{
	char *nb;

	if (n + 1 > *cap) {
		if ((nb = realloc(*buf, n + 1)) == NULL)
			return NULL;
		*buf = nb;
		*cap = n + 1;
	}
	memcpy(*buf, s, n);
	(*buf)[n] = '\0';
	return *buf;
}

static char *
jws(char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* jstr - a string without escapes at p (printable ASCII only): its start, its closing quote
 * replaced by NUL, *p past it; NULL when it is anything else */
static char *
jstr(char **p)
{
	char *s = *p, *q;

	if (*s != '"')
		return NULL;
	for (q = s + 1; *q != '"'; q++)
		if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f || *q == '\\')
			return NULL;
	*q = '\0';
	*p = q + 1;
	return s + 1;
}

/* fast_strs - s is an array of plain strings: up to max of them into out; false when s is
 * not of that form (the caller then asks jansson) */
static bool
fast_strs(char *s, const char **out, size_t max, size_t *n)
{
	char *p = jws(s), *v;

	*n = 0;
	if (*p++ != '[')
		return false;
	p = jws(p);
	if (*p == ']')
		return *jws(p + 1) == '\0';
	for (;;) {
		if ((v = jstr(&p)) == NULL)
			return false;
		if (*n < max)
			out[(*n)++] = v;
		p = jws(p);
		if (*p == ']')
			return *jws(p + 1) == '\0';
		if (*p++ != ',')
			return false;
		p = jws(p);
	}
}

/* fast_parts - s is an array of flat objects of plain strings: each object's "type" and
 * "filename" (the last one when a key repeats, as jansson keeps it) into b->pv */
static bool
fast_parts(struct jbuf *b, char *s, size_t *n)
{
	char *p = jws(s), *k, *v;
	struct mpart *nv;

	*n = 0;
	if (*p++ != '[')
		return false;
	p = jws(p);
	if (*p == ']')
		return *jws(p + 1) == '\0';
	for (;;) {
		if (*p++ != '{')
			return false;
		if (*n == b->pvcap) {
			if ((nv = realloc(b->pv, (b->pvcap * 2 + 8) * sizeof(*nv))) == NULL)
				return false;
			b->pv = nv;
			b->pvcap = b->pvcap * 2 + 8;
		}
		b->pv[*n].type = b->pv[*n].filename = NULL;
		p = jws(p);
		if (*p != '}') {
			for (;;) {
				if ((k = jstr(&p)) == NULL)
					return false;
				p = jws(p);
				if (*p++ != ':')
					return false;
				p = jws(p);
				if ((v = jstr(&p)) == NULL)
					return false;
				if (strcmp(k, "type") == 0)
					b->pv[*n].type = v;
				else if (strcmp(k, "filename") == 0)
					b->pv[*n].filename = v;
				p = jws(p);
				if (*p == '}')
					break;
				if (*p++ != ',')
					return false;
				p = jws(p);
			}
		}
		(*n)++;
		p = jws(p + 1);
		if (*p == ']')
			return *jws(p + 1) == '\0';
		if (*p++ != ',')
			return false;
		p = jws(p);
	}
}

/* read_rcpts - messages.rcpts (column i) into m->rcpts */
static void
read_rcpts(struct jbuf *b, sqlite3_stmt *st, int i, struct msg *m)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	char *c;
	size_t k;

	json_decref(b->rj);
	b->rj = NULL;
	m->nr = 0;
	if (t == NULL)
		return;
	c = jcopy(&b->rc, &b->rccap, t, (size_t)sqlite3_column_bytes(st, i));
	if (c != NULL && fast_strs(c, m->rcpts, RCPT_MAX, &m->nr))
		return;
	m->nr = 0;
	b->rj = json_loads(t, JSON_DECODE_ANY, NULL);
	for (k = 0; k < json_array_size(b->rj) && m->nr < RCPT_MAX; k++) {
		const char *a = json_string_value(json_array_get(b->rj, k));
		if (a != NULL)
			m->rcpts[m->nr++] = a;
	}
}

/* read_parts - messages.parts (column i) into m->parts */
static void
read_parts(struct jbuf *b, sqlite3_stmt *st, int i, struct msg *m)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	struct mpart *nv;
	char *c;
	size_t k, n;

	json_decref(b->pj);
	b->pj = NULL;
	m->parts = NULL;
	m->np = 0;
	if (t == NULL)
		return;
	c = jcopy(&b->pt, &b->ptcap, t, (size_t)sqlite3_column_bytes(st, i));
	if (c != NULL && fast_parts(b, c, &m->np)) {
		m->parts = b->pv;
		return;
	}
	m->np = 0;
	b->pj = json_loads(t, JSON_DECODE_ANY, NULL);
	n = json_array_size(b->pj);
	if (n > b->pvcap) {
		if ((nv = realloc(b->pv, n * sizeof(*nv))) == NULL)
			return;
		b->pv = nv;
		b->pvcap = n;
	}
	for (k = 0; k < n; k++) {
		json_t *part = json_array_get(b->pj, k);
		b->pv[k].type = json_string_value(json_object_get(part, "type"));
		b->pv[k].filename = json_string_value(json_object_get(part, "filename"));
	}
	m->parts = b->pv;
	m->np = n;
}

int
model_messages(struct rb *r)
{
	struct msg_pass p;
	struct msg m;
	struct probe_input in;
	sqlite3_stmt *st;
	struct jbuf jb;
	const struct helo_self *self;
	struct tally_ent *hour = NULL;
	int64_t hour_key = 0;
	char stpl[TPL_MAX], btpl[TPL_MAX];
	uint64_t mord = 0;
	unsigned why;
	size_t i, len;
	int rc = -1;

	memset(&p, 0, sizeof(p));
	memset(&jb, 0, sizeof(jb));
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
	/* Every message of the selection counts in the totals and the hours; one whose session
	 * row is missing is left out of the rest (column 13), as a join would. */
	st = rb_prepare(r,
	                "SELECT m.session, m.time_us, m.hdr_subject, %s, m.mail_from, m.rcpts,"
	                " m.hdr_from, m.hdr_to, s.src_ip, s.helo, m.size, m.accepted, %s,"
	                " s.session IS NOT NULL"
	                " FROM messages m LEFT JOIN sessions s ON s.session = m.session"
	                " WHERE %s ORDER BY m.time_us",
	                r->msg_body ? "m.body_text" : "NULL", r->msg_body ? "m.parts" : "NULL",
	                rb_cond(r, 'm'));
	if (st == NULL)
		goto out;
	if ((r->mt.hours = tally_new(STREAM_KEYS * 10, false)) == NULL) {
		seterr(r->err, r->errlen, "out of memory");
		goto out;
	}
	self = rb_self(r);
	rb_progress(r, "messages", 0, 0);
	while ((rc = rb_step(r, st)) == SQLITE_ROW) {
		int64_t h = sqlite3_column_int64(st, 1) / HOUR_US;

		r->mt.messages++;
		r->mt.accepted += sqlite3_column_double(st, 11);
		r->mt.bytes += sqlite3_column_double(st, 10);
		if (hour == NULL || h != hour_key)
			hour = tally_get(r->mt.hours, &h, sizeof(h), NULL);
		hour_key = h;
		if (hour != NULL)
			hour->n++;
		if (sqlite3_column_int(st, 13) == 0)
			continue;
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
		read_rcpts(&jb, st, 5, &m);
		read_parts(&jb, st, 12, &m);
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
		why = probe_detect(&in, self);
		template_normalise(m.subject != NULL ? m.subject : "", m.subject_len, stpl,
		                   sizeof(stpl));
		/* Families and campaigns are keyed by the first BODY_KEY bytes of the body's
		 * template; the whole of it is made only for a new campaign key (body_template). */
		template_normalise_prefix(m.body != NULL ? m.body : "", m.body_len, btpl,
		                          sizeof(btpl), BODY_KEY, &m.bcut);
		m.btpl = btpl;
		on_message(&p, &m, mord, stpl);
		if (why != 0)
			on_probe(r, &p, &m, why, stpl, btpl);
		else
			on_bulk(&p, &m, mord, stpl, btpl);
	}
	sqlite3_finalize(st);
	if (rc < 0)
		goto out;
	json_object_set_new(r->m, "probes", out_probes(r, &p));
	json_object_set_new(r->m, "messages", out_messages(r, &p));
	rc = 0;
out:
	jbuf_free(&jb);
	msg_pass_free(&p);
	return rc;
}
