/* SPDX-License-Identifier: ISC */
/*
 * evparse - parse an event without re-parsing the fields its session repeats (evparse.h).
 */
#include "capture/evparse.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"

#define EVPARSE_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)
#define TS_MAX 40
#define EVENTID_MAX 64
#define SID_MAX 32
#define JP_DEPTH 32   /* deeper: jansson's parser */
#define JP_NUM_MAX 64 /* longer numbers: jansson's parser */

/* The session's fixed fields in the order capture_prefix writes them; the ports are integers. */
enum { F_SESSION, F_SENSOR, F_SRC_IP, F_SRC_PORT, F_DST_IP, F_DST_PORT, F_PERSONA, F_LISTENER, NF };
static const char *const fnames[NF] = {"session", "sensor",   "src_ip",  "src_port",
                                       "dst_ip",  "dst_port", "persona", "listener"};

struct slot {
	uint16_t plen; /* 0: empty */
	uint8_t sidlen;
	char sid[SID_MAX];
	char
	    prefix[EVPARSE_PREFIX_MAX]; /* the text from "session" to the end of listener's value */
	char vals[EVPARSE_PREFIX_MAX];  /* the decoded strings, back to back */
	uint16_t voff[NF], vlen[NF];
	json_int_t port[NF];
};

struct evparse {
	struct slot *slots;
	char *buf; /* "{" + REST */
	size_t bufcap;
	char *sbuf; /* a string with escapes, decoded */
	size_t sbufcap;
	struct jw w;
	uint64_t hits;
	uint64_t own; /* parsed by jparse */
};

/* struct head - where the parts of {"timestamp":T,"eventid":E,"session":"SID"... are */
struct head {
	const char *ts, *eventid, *sid;
	size_t tslen, eventidlen, sidlen;
	size_t prefix_at; /* offset of "session" */
};

struct evparse *
evparse_new(void)
{
	struct evparse *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->slots = calloc(EVPARSE_SLOTS, sizeof(*c->slots))) == NULL) {
		free(c);
		return NULL;
	}
	jw_init(&c->w);
	return c;
}

void
evparse_free(struct evparse *c)
{
	if (c == NULL)
		return;
	free(c->slots);
	free(c->buf);
	free(c->sbuf);
	jw_free(&c->w);
	free(c);
}

uint64_t
evparse_hits(const struct evparse *c)
{
	return c != NULL ? c->hits : 0;
}

uint64_t
evparse_own(const struct evparse *c)
{
	return c != NULL ? c->own : 0;
}

/*
 * The parser. jansson's own reads a byte at a time through a stream, checking and copying
 * each, and was most of the store's parsing time; this one scans the text in place and builds
 * the same jansson values (objects keep the text's member order, as jansson's do). It gives up
 * (NULL) on anything it is not sure jansson takes exactly so: any syntax error, a duplicate
 * key, a NUL in a key, invalid UTF-8, an integer out of range, a real that overflows, nesting
 * over JP_DEPTH, a number over JP_NUM_MAX bytes. The caller then runs json_loadb, which either
 * accepts the text (the same value) or gives the error to report, so a NULL here costs time
 * only, never a different answer. Checked against json_loadb by tests/unit/evparse.c and on
 * every input of the store fuzz target.
 */
struct jp {
	const char *p, *end;
	struct evparse *c;
	int depth;
};

static json_t *jp_value(struct jp *j);

static void
jp_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

/* jp_utf8 - length of the valid UTF-8 sequence of a non-ASCII lead byte at p (RFC 3629: no
 * overlong forms, no surrogates, nothing over U+10FFFF), 0 when invalid */
static size_t
jp_utf8(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* jp_hex4 - the four hex digits at p, or -1 */
static long
jp_hex4(const char *p, const char *end)
{
	long v = 0;

	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char ch = p[i];
		int d = ch >= '0' && ch <= '9'   ? ch - '0'
		        : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
		        : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
		                                 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* jp_put_cp - code point cp as UTF-8 at out; the bytes written */
static size_t
jp_put_cp(char *out, long cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* jp_string - the string whose opening quote is at j->p: *s and *n: its bytes (in the text, or
 * decoded into c->sbuf when it has escapes); false when invalid */
static bool
jp_string(struct jp *j, const char **s, size_t *n)
{
	const char *p = j->p + 1, *start = p;
	size_t k, cap;
	char *o;
	long cp, lo;

	for (;;) {
		/* printable ASCII but '"' and '\\' needs no look: eight bytes at a time */
		p += json_plain_span(p, (size_t)(j->end - p));
		if (p >= j->end)
			return false;
		unsigned char ch = (unsigned char)*p;
		if (ch == '"') {
			*s = start;
			*n = (size_t)(p - start);
			j->p = p + 1;
			return true;
		}
		if (ch == '\\')
			break;
		if (ch < 0x20)
			return false;
		if (ch < 0x80) {
			p++;
		} else if ((k = jp_utf8((const unsigned char *)p, (const unsigned char *)j->end)) >
		           0) {
			p += k;
		} else {
			return false;
		}
	}
	/* escapes: decode the whole string; it never grows */
	cap = (size_t)(j->end - start);
	if (cap > j->c->sbufcap) {
		char *nb = realloc(j->c->sbuf, cap);
		if (nb == NULL)
			return false;
		j->c->sbuf = nb;
		j->c->sbufcap = cap;
	}
	o = j->c->sbuf;
	memcpy(o, start, (size_t)(p - start));
	o += p - start;
	for (;;) {
		if (p >= j->end)
			return false;
		unsigned char ch = (unsigned char)*p;
		if (ch == '"')
			break;
		if (ch < 0x20)
			return false;
		if (ch >= 0x80) {
			if ((k = jp_utf8((const unsigned char *)p,
			                 (const unsigned char *)j->end)) == 0)
				return false;
			memcpy(o, p, k);
			o += k;
			p += k;
			continue;
		}
		if (ch != '\\') {
			*o++ = (char)ch;
			p++;
			continue;
		}
		if (++p >= j->end)
			return false;
		switch (*p++) {
		case '"':
			*o++ = '"';
			break;
		case '\\':
			*o++ = '\\';
			break;
		case '/':
			*o++ = '/';
			break;
		case 'b':
			*o++ = '\b';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'u':
			if ((cp = jp_hex4(p, j->end)) < 0)
				return false;
			p += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return false; /* a low surrogate first */
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (j->end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
				    (lo = jp_hex4(p + 2, j->end)) < 0xdc00 || lo > 0xdfff)
					return false;
				p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			o += jp_put_cp(o, cp); /* six text bytes give at most four */
			break;
		default:
			return false;
		}
	}
	*s = j->c->sbuf;
	*n = (size_t)(o - j->c->sbuf);
	j->p = p + 1;
	return true;
}

/* jp_number - -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? as jansson makes it: an integer
 * when it has neither fraction nor exponent (refused out of range), else a real (refused when
 * it overflows) */
static json_t *
jp_number(struct jp *j)
{
	const char *p = j->p, *start = p;
	bool real = false, neg = false;
	char buf[JP_NUM_MAX + 1];
	size_t n;

	if (p < j->end && *p == '-') {
		neg = true;
		p++;
	}
	if (p >= j->end || *p < '0' || *p > '9')
		return NULL;
	if (*p == '0') {
		p++;
	} else {
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < j->end && *p == '.') {
		real = true;
		if (++p >= j->end || *p < '0' || *p > '9')
			return NULL;
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		real = true;
		if (++p < j->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= j->end || *p < '0' || *p > '9')
			return NULL;
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
	}
	/* a digit right after the number (01) or a letter is jansson's error */
	if (p < j->end && ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
	                   (*p >= 'A' && *p <= 'Z') || *p == '.' || *p == '-' || *p == '+'))
		return NULL;
	j->p = p;
	if (!real) {
		uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;

		for (const char *q = start + neg; q < p; q++) {
			uint64_t d = (uint64_t)(*q - '0');
			if (v > (lim - d) / 10)
				return NULL;
			v = v * 10 + d;
		}
		if (neg)
			return json_integer(v == (uint64_t)INT64_MAX + 1 ? INT64_MIN
			                                                 : -(json_int_t)v);
		return json_integer((json_int_t)v);
	}
	n = (size_t)(p - start);
	if (n > JP_NUM_MAX)
		return NULL;
	memcpy(buf, start, n);
	buf[n] = '\0';
	errno = 0;
	double d = strtod(buf, NULL);
	if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
		return NULL;
	return json_real(d);
}

/* jp_open - past the opening bracket and blanks; true when close follows (empty, skipped) */
static bool
jp_open(struct jp *j, char close)
{
	j->p++;
	jp_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return true;
	}
	return false;
}

/* jp_sep - after a member or element: 1 past a comma and the blanks after it, 0 past close,
 * -1 at anything else */
static int
jp_sep(struct jp *j, char close)
{
	jp_ws(j);
	if (j->p < j->end && *j->p == ',') {
		j->p++;
		jp_ws(j);
		return 1;
	}
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return 0;
	}
	return -1;
}

static json_t *
jp_object(struct jp *j)
{
	json_t *o = json_object(), *v;
	char kbuf[128], *kcopy = NULL;
	const char *k;
	size_t kn;
	int sep;

	if (o == NULL)
		return NULL;
	if (jp_open(j, '}'))
		return o;
	do {
		if (j->p >= j->end || *j->p != '"' || !jp_string(j, &k, &kn))
			goto fail;
		/* jansson refuses NUL in keys and (JSON_REJECT_DUPLICATES) a key twice */
		if (memchr(k, '\0', kn) != NULL || json_object_getn(o, k, kn) != NULL)
			goto fail;
		/* a decoded key is in sbuf, which the value may reuse */
		if (k == j->c->sbuf) {
			if (kn <= sizeof(kbuf)) {
				k = memcpy(kbuf, k, kn);
			} else {
				if ((kcopy = malloc(kn)) == NULL)
					goto fail;
				k = memcpy(kcopy, k, kn);
			}
		}
		jp_ws(j);
		if (j->p >= j->end || *j->p != ':')
			goto fail;
		j->p++;
		jp_ws(j);
		if ((v = jp_value(j)) == NULL || json_object_setn_new_nocheck(o, k, kn, v) != 0)
			goto fail;
		free(kcopy);
		kcopy = NULL;
	} while ((sep = jp_sep(j, '}')) > 0);
	if (sep == 0)
		return o;
fail:
	free(kcopy);
	json_decref(o);
	return NULL;
}

static json_t *
jp_array(struct jp *j)
{
	json_t *a = json_array(), *v;
	int sep;

	if (a == NULL)
		return NULL;
	if (jp_open(j, ']'))
		return a;
	do {
		if ((v = jp_value(j)) == NULL || json_array_append_new(a, v) != 0)
			goto fail;
	} while ((sep = jp_sep(j, ']')) > 0);
	if (sep == 0)
		return a;
fail:
	json_decref(a);
	return NULL;
}

/* jp_lit - the literal word at j->p */
static bool
jp_lit(struct jp *j, const char *word, size_t n)
{
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return false;
	j->p += n;
	return true;
}

static json_t *
jp_value(struct jp *j)
{
	const char *s;
	size_t n;
	json_t *v = NULL;

	if (j->p >= j->end)
		return NULL;
	switch (*j->p) {
	case '{':
	case '[':
		if (++j->depth > JP_DEPTH)
			return NULL;
		v = *j->p == '{' ? jp_object(j) : jp_array(j);
		j->depth--;
		return v;
	case '"':
		return jp_string(j, &s, &n) ? json_stringn_nocheck(s, n) : NULL;
	case 't':
		return jp_lit(j, "true", 4) ? json_true() : NULL;
	case 'f':
		return jp_lit(j, "false", 5) ? json_false() : NULL;
	case 'n':
		return jp_lit(j, "null", 4) ? json_null() : NULL;
	default:
		return jp_number(j);
	}
}

/* jparse - the object in text, as json_loadb(EVPARSE_FLAGS) gives it, or NULL (see above) */
static json_t *
jparse(struct evparse *c, const char *text, size_t len)
{
	struct jp j = {text, text + len, c, 1};
	json_t *v;

	jp_ws(&j);
	if (j.p >= j.end || *j.p != '{' || (v = jp_object(&j)) == NULL)
		return NULL;
	jp_ws(&j);
	if (j.p != j.end) {
		json_decref(v);
		return NULL;
	}
	c->own++;
	return v;
}

static bool
lit(const char *json, size_t len, size_t *off, const char *s)
{
	size_t n = strlen(s);

	if (len - *off < n || memcmp(json + *off, s, n) != 0)
		return false;
	*off += n;
	return true;
}

/* The byte classes of head_parse's tokens: a timestamp (0-9 T Z : . + -), an event id
 * (a-z 0-9 . _), a session id (lower-case hex). */
enum { C_TS, C_ID, C_HEX };

static inline bool
in_class(unsigned cl, char ch)
{
	bool digit = ch >= '0' && ch <= '9';

	switch (cl) {
	case C_TS:
		return digit || ch == 'T' || ch == 'Z' || ch == ':' || ch == '.' || ch == '+' ||
		       ch == '-';
	case C_ID:
		return digit || (ch >= 'a' && ch <= 'z') || ch == '.' || ch == '_';
	default:
		return digit || (ch >= 'a' && ch <= 'f');
	}
}

/* token - a run of at most max bytes of class cl, ended by a quote at *off; advances past it */
static bool
token(const char *json, size_t len, size_t *off, unsigned cl, size_t max, const char **p, size_t *n)
{
	size_t i = *off;

	while (i < len && i - *off <= max && in_class(cl, json[i]))
		i++;
	if (i >= len || json[i] != '"' || i == *off || i - *off > max)
		return false;
	*p = json + *off;
	*n = i - *off;
	*off = i + 1;
	return true;
}

/* head_parse - the engine's layout up to the session id: plain ASCII in the timestamp and the
 * event id (no escapes), lower-case hex in the id. false for anything else. */
static bool
head_parse(const char *json, size_t len, struct head *h)
{
	size_t off = 0;

	if (!lit(json, len, &off, "{\"timestamp\":\"") ||
	    !token(json, len, &off, C_TS, TS_MAX, &h->ts, &h->tslen) ||
	    !lit(json, len, &off, ",\"eventid\":\"") ||
	    !token(json, len, &off, C_ID, EVENTID_MAX, &h->eventid, &h->eventidlen) ||
	    !lit(json, len, &off, ","))
		return false;
	h->prefix_at = off;
	if (!lit(json, len, &off, "\"session\":\"") ||
	    !token(json, len, &off, C_HEX, SID_MAX, &h->sid, &h->sidlen))
		return false;
	return true;
}

/* slot_of - FNV-1a of the session id */
static struct slot *
slot_of(struct evparse *c, const char *sid, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)sid[i]) * 16777619u;
	return &c->slots[h % EVPARSE_SLOTS];
}

/* fast - the event from {REST} and the slot, or NULL to go the whole way */
static json_t *
fast(struct evparse *c, const char *json, size_t len)
{
	static const char *const other[] = {"timestamp", "eventid"};
	struct head h;
	struct slot *sl;
	const char *rest;
	size_t q, rlen, i;
	json_t *ev, *v;

	if (!head_parse(json, len, &h))
		return NULL;
	/* the store serialises message events again: they keep the text's member order */
	if (h.eventidlen == 17 && memcmp(h.eventid, "relaytrap.message", 17) == 0)
		return NULL;
	sl = slot_of(c, h.sid, h.sidlen);
	if (sl->plen == 0 || sl->sidlen != h.sidlen || memcmp(sl->sid, h.sid, h.sidlen) != 0 ||
	    len - h.prefix_at <= sl->plen || memcmp(json + h.prefix_at, sl->prefix, sl->plen) != 0)
		return NULL;
	q = h.prefix_at + sl->plen;
	/* ",\"key\"..." or "}": "{" + the rest is then JSON exactly when the whole is */
	if (json[q] == ',' && q + 1 < len && json[q + 1] == '"')
		rest = json + q + 1;
	else if (json[q] == '}')
		rest = json + q;
	else
		return NULL;
	rlen = len - (size_t)(rest - json);
	if (rlen + 1 > c->bufcap) {
		char *nb = realloc(c->buf, rlen + 1);
		if (nb == NULL)
			return NULL;
		c->buf = nb;
		c->bufcap = rlen + 1;
	}
	c->buf[0] = '{';
	memcpy(c->buf + 1, rest, rlen);
	ev = jparse(c, c->buf, rlen + 1);
	if (ev == NULL)
		return NULL;
	/* a member of the rest repeating a skipped one is a duplicate the whole parse refuses */
	for (i = 0; i < NF; i++)
		if (json_object_get(ev, fnames[i]) != NULL)
			goto whole;
	for (i = 0; i < 2; i++)
		if (json_object_get(ev, other[i]) != NULL)
			goto whole;
	if (json_object_set_new_nocheck(ev, "timestamp", json_stringn_nocheck(h.ts, h.tslen)) ||
	    json_object_set_new_nocheck(ev, "eventid",
	                                json_stringn_nocheck(h.eventid, h.eventidlen)))
		goto whole;
	for (i = 0; i < NF; i++) {
		if (i == F_SRC_PORT || i == F_DST_PORT)
			v = json_integer(sl->port[i]);
		else
			v = json_stringn_nocheck(sl->vals + sl->voff[i], sl->vlen[i]);
		if (json_object_set_new_nocheck(ev, fnames[i], v) != 0)
			goto whole;
	}
	c->hits++;
	return ev;
whole:
	json_decref(ev);
	return NULL;
}

json_t *
evparse_load(struct evparse *c, const char *json, size_t len, json_error_t *err)
{
	json_t *ev;

	if (c != NULL && ((ev = fast(c, json, len)) != NULL || (ev = jparse(c, json, len)) != NULL))
		return ev;
	return json_loadb(json, len, EVPARSE_FLAGS, err);
}

void
evparse_learn(struct evparse *c, const char *json, size_t len, json_t *ev)
{
	struct head h;
	struct slot *sl;
	size_t i, q, vo = 0;
	json_t *v;

	if (c == NULL || !head_parse(json, len, &h))
		return;
	sl = slot_of(c, h.sid, h.sidlen);
	if (sl->plen != 0 && sl->sidlen == h.sidlen && memcmp(sl->sid, h.sid, h.sidlen) == 0)
		return; /* known (the prefix of a session never changes) */
	/* what capture_prefix would have written for these values must be the text's bytes */
	jw_reset(&c->w);
	for (i = 0; i < NF; i++) {
		v = json_object_get(ev, fnames[i]);
		if (i == F_SRC_PORT || i == F_DST_PORT) {
			if (!json_is_integer(v))
				return;
			jw_key_int(&c->w, fnames[i], json_integer_value(v));
		} else {
			if (!json_is_string(v))
				return;
			jw_key_strn(&c->w, fnames[i], json_string_value(v), json_string_length(v));
		}
	}
	if (c->w.oom || c->w.len > EVPARSE_PREFIX_MAX || len - h.prefix_at <= c->w.len ||
	    memcmp(json + h.prefix_at, c->w.buf, c->w.len) != 0)
		return;
	q = h.prefix_at + c->w.len;
	if (json[q] != ',' && json[q] != '}')
		return;
	for (i = 0; i < NF; i++) {
		v = json_object_get(ev, fnames[i]);
		if (i == F_SRC_PORT || i == F_DST_PORT) {
			sl->port[i] = json_integer_value(v);
			continue;
		}
		/* a decoded string is never longer than its text, so the values fit */
		sl->voff[i] = (uint16_t)vo;
		sl->vlen[i] = (uint16_t)json_string_length(v);
		memcpy(sl->vals + vo, json_string_value(v), sl->vlen[i]);
		vo += sl->vlen[i];
	}
	memcpy(sl->sid, h.sid, h.sidlen);
	sl->sidlen = (uint8_t)h.sidlen;
	memcpy(sl->prefix, c->w.buf, c->w.len);
	sl->plen = (uint16_t)c->w.len;
}
