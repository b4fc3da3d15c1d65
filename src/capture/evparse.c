/* SPDX-License-Identifier: ISC */
/*
 * evparse - parse an event without re-parsing the fields its session repeats (evparse.h).
 */
#include "capture/evparse.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"

#define EVPARSE_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)
#define TS_MAX 40
#define EVENTID_MAX 64
#define SID_MAX 32

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
	struct jw w;
	uint64_t hits;
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
	jw_free(&c->w);
	free(c);
}

uint64_t
evparse_hits(const struct evparse *c)
{
	return c != NULL ? c->hits : 0;
}

/* lit - the literal s at *off; advances past it */
static bool
lit(const char *json, size_t len, size_t *off, const char *s)
{
	size_t n = strlen(s);

	if (len - *off < n || memcmp(json + *off, s, n) != 0)
		return false;
	*off += n;
	return true;
}

/* token - a run of at most max bytes from set, ended by a quote at *off; advances past it */
static bool
token(const char *json, size_t len, size_t *off, const char *set, size_t max, const char **p,
      size_t *n)
{
	size_t i = *off;

	while (i < len && i - *off <= max && json[i] != '"' && json[i] != '\0' &&
	       strchr(set, json[i]) != NULL)
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
	static const char ts_set[] = "0123456789TZ:.+-";
	static const char id_set[] = "abcdefghijklmnopqrstuvwxyz0123456789._";
	static const char hex_set[] = "0123456789abcdef";
	size_t off = 0;

	if (!lit(json, len, &off, "{\"timestamp\":\"") ||
	    !token(json, len, &off, ts_set, TS_MAX, &h->ts, &h->tslen) ||
	    !lit(json, len, &off, ",\"eventid\":\"") ||
	    !token(json, len, &off, id_set, EVENTID_MAX, &h->eventid, &h->eventidlen) ||
	    !lit(json, len, &off, ","))
		return false;
	h->prefix_at = off;
	if (!lit(json, len, &off, "\"session\":\"") ||
	    !token(json, len, &off, hex_set, SID_MAX, &h->sid, &h->sidlen))
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
	json_error_t err;
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
	ev = json_loadb(c->buf, rlen + 1, EVPARSE_FLAGS, &err);
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

	if (c != NULL && (ev = fast(c, json, len)) != NULL)
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
