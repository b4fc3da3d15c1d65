/* SPDX-License-Identifier: ISC */
/*
 * str - the one escaping path for attacker bytes, and a small JSON writer (see str.h).
 */
#include "str.h"
#include "util.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* utf8_seq - length of the well-formed UTF-8 sequence at p, or 0 if it is not one */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	unsigned c = p[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (n >= 2 && (p[1] & 0xc0) == 0x80) ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && p[1] < 0xa0)
			return 0; /* overlong */
		if (c == 0xed && p[1] >= 0xa0)
			return 0; /* surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && p[1] < 0x90)
			return 0;
		if (c == 0xf4 && p[1] >= 0x90)
			return 0;
		return 4;
	}
	return 0;
}

size_t
utf8_repair(const void *buf, size_t len, char *out)
{
	const unsigned char *p = buf;
	size_t i = 0, o = 0, k;

	while (i < len) {
		k = utf8_seq(p + i, len - i);
		if (k == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(out + o, p + i, k);
			o += k;
			i += k;
		}
	}
	return o;
}

bool
utf8_valid(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i = 0, k;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		k = utf8_seq(p + i, len - i);
		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

char *
str_escape_log(const void *buf, size_t len, char *out, size_t outlen)
{
	static const char hx[] = "0123456789abcdef";
	const unsigned char *p = buf;
	size_t i, o = 0;
	char tmp[4];
	size_t tl;

	if (outlen == 0)
		return out;
	for (i = 0; i < len; i++) {
		unsigned c = p[i];
		tl = 0;
		if (c == '\\') {
			tmp[tl++] = '\\';
			tmp[tl++] = '\\';
		} else if (c == '\r' || c == '\n' || c == '\t') {
			tmp[tl++] = '\\';
			tmp[tl++] = c == '\r' ? 'r' : c == '\n' ? 'n' : 't';
		} else if (c >= 0x20 && c < 0x7f) {
			tmp[tl++] = (char)c;
		} else {
			tmp[tl++] = '\\';
			tmp[tl++] = 'x';
			tmp[tl++] = hx[c >> 4];
			tmp[tl++] = hx[c & 15];
		}
		if (o + tl + 4 > outlen) {
			if (outlen >= 4) {
				o = o > outlen - 4 ? outlen - 4 : o;
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(out + o, tmp, tl);
		o += tl;
	}
	out[o < outlen ? o : outlen - 1] = '\0';
	return out;
}

/* jw_reserve - make room for n more bytes; sets oom and returns false on failure */
static bool
jw_reserve(struct jw *w, size_t n)
{
	size_t ncap;
	char *nb;

	if (w->oom)
		return false;
	if (w->len + n + 1 <= w->cap)
		return true;
	ncap = w->cap ? w->cap : 512;
	while (ncap < w->len + n + 1)
		ncap *= 2;
	nb = realloc(w->buf, ncap);
	if (nb == NULL) {
		w->oom = true;
		return false;
	}
	w->buf = nb;
	w->cap = ncap;
	return true;
}

static void
jw_raw(struct jw *w, const char *s, size_t n)
{
	if (!jw_reserve(w, n))
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static void
jw_sep(struct jw *w)
{
	if (w->need_comma)
		jw_raw(w, ",", 1);
	w->need_comma = true;
}

/* plain[b]: byte b is written as it is inside a JSON string (printable ASCII but " and \) */
/* clang-format off */
static const unsigned char plain[256] = {
#define P16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x
	P16(0), P16(0),                                  /* 0x00-0x1f: controls */
	1, 1, 0 /* " */, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,        /* 0x20 */
	P16(1), P16(1),                                  /* 0x30, 0x40 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 /* \ */, 1, 1, 1,       /* 0x50 */
	P16(1), P16(1),                                  /* 0x60, 0x70 */
	P16(0), P16(0), P16(0), P16(0), P16(0), P16(0), P16(0), P16(0), /* 0x80-0xff */
#undef P16
};
/* clang-format on */

/* any8 - whether any of the 8 bytes at p is not plain: a control, '"', '\\' or a byte >= 0x80
 * (for each test, (v - 0x01..) & ~v has a byte's high bit set exactly when some byte of v is
 * zero, or below the subtracted value; borrows only add flags above a byte that has one) */
static inline bool
any8(const unsigned char *p)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t x, q, b;

	memcpy(&x, p, 8);
	q = x ^ (ones * '"');
	b = x ^ (ones * '\\');
	return ((((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b) | x) & high) != 0;
}

/* json_plain_span - jw_escaped's test for a plain run, for a writer of its own (the store's
 * jansson-exact dump); jw_escaped keeps its loops inline, which measured cheaper */
size_t
json_plain_span(const void *buf, size_t n)
{
	const unsigned char *p = buf;
	size_t i = 0;

	while (n - i >= 8 && !any8(p + i))
		i += 8;
	while (i < n && plain[p[i]])
		i++;
	return i;
}

/* jw_escaped - write a quoted JSON string; invalid UTF-8 bytes become U+FFFD */
static void
jw_escaped(struct jw *w, const unsigned char *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	size_t i = 0, k, start;

	if (!jw_reserve(w, n + 2))
		return;
	/* the plain start (most strings: all of it) straight into the room just made */
	while (n - i >= 8 && !any8(p + i))
		i += 8;
	while (i < n && plain[p[i]])
		i++;
	w->buf[w->len++] = '"';
	memcpy(w->buf + w->len, p, i);
	w->len += i;
	if (i == n) {
		w->buf[w->len++] = '"';
		w->buf[w->len] = '\0';
		return;
	}
	while (i < n) {
		start = i;
		while (n - i >= 8 && !any8(p + i)) /* plain runs a word at a time */
			i += 8;
		while (i < n && plain[p[i]])
			i++;
		if (i > start)
			jw_raw(w, (const char *)p + start, i - start);
		if (i >= n)
			break;
		if (p[i] < 0x20 || p[i] == '"' || p[i] == '\\') {
			char e[7] = {'\\', 'u', '0', '0', hx[p[i] >> 4], hx[p[i] & 15], 0};
			if (p[i] == '"' || p[i] == '\\') {
				e[1] = (char)p[i];
				jw_raw(w, e, 2);
			} else if (p[i] == '\n') {
				jw_raw(w, "\\n", 2);
			} else if (p[i] == '\r') {
				jw_raw(w, "\\r", 2);
			} else if (p[i] == '\t') {
				jw_raw(w, "\\t", 2);
			} else {
				jw_raw(w, e, 6);
			}
			i++;
			continue;
		}
		k = utf8_seq(p + i, n - i);
		if (k == 0) {
			jw_raw(w, "\xef\xbf\xbd", 3);
			i++;
		} else {
			jw_raw(w, (const char *)p + i, k);
			i += k;
		}
	}
	jw_raw(w, "\"", 1);
}

static void
jw_key(struct jw *w, const char *key)
{
	size_t n = strlen(key), i = 0;

	/* keys are nearly always plain ASCII (the code's own names): the separator, the quoted
	 * key and the colon in one reservation; escaped like any string otherwise */
	while (i < n && plain[(unsigned char)key[i]])
		i++;
	if (i < n || !jw_reserve(w, n + 4)) {
		jw_sep(w);
		jw_escaped(w, (const unsigned char *)key, n);
		jw_raw(w, ":", 1);
		return;
	}
	if (w->need_comma)
		w->buf[w->len++] = ',';
	w->need_comma = true;
	w->buf[w->len++] = '"';
	memcpy(w->buf + w->len, key, n);
	w->len += n;
	w->buf[w->len++] = '"';
	w->buf[w->len++] = ':';
	w->buf[w->len] = '\0';
}

void
jw_init(struct jw *w)
{
	memset(w, 0, sizeof(*w));
}

void
jw_reset(struct jw *w)
{
	w->len = 0;
	w->depth = 0;
	w->need_comma = false;
	w->oom = false;
	if (w->buf)
		w->buf[0] = '\0';
}

void
jw_free(struct jw *w)
{
	free(w->buf);
	jw_init(w);
}

void
jw_obj_open(struct jw *w)
{
	jw_raw(w, "{", 1);
	w->depth++;
	w->need_comma = false;
}

void
jw_obj_close(struct jw *w)
{
	jw_raw(w, "}", 1);
	w->depth--;
	w->need_comma = true;
}

void
jw_key_obj_open(struct jw *w, const char *key)
{
	jw_key(w, key);
	jw_obj_open(w);
}

void
jw_key_arr_open(struct jw *w, const char *key)
{
	jw_key(w, key);
	jw_raw(w, "[", 1);
	w->depth++;
	w->need_comma = false;
}

void
jw_arr_close(struct jw *w)
{
	jw_raw(w, "]", 1);
	w->depth--;
	w->need_comma = true;
}

void
jw_key_str(struct jw *w, const char *key, const char *s)
{
	jw_key_strn(w, key, s, s ? strlen(s) : 0);
}

void
jw_key_strn(struct jw *w, const char *key, const char *s, size_t n)
{
	jw_key(w, key);
	jw_escaped(w, (const unsigned char *)(s ? s : ""), n);
}

/* jw_b64 - write base64 of the bytes as a JSON string */
static void
jw_b64(struct jw *w, const void *b, size_t n)
{
	size_t need = ((n + 2) / 3) * 4 + 1;

	if (!jw_reserve(w, need + 2))
		return;
	w->buf[w->len++] = '"';
	w->len += (size_t)b64_encode(b, n, w->buf + w->len, need);
	w->buf[w->len++] = '"';
	w->buf[w->len] = '\0';
}

void
jw_key_bytes(struct jw *w, const char *key, const void *b, size_t n)
{
	char k2[64];

	jw_key_strn(w, key, b, n);
	if (!utf8_valid(b, n)) {
		snprintf(k2, sizeof(k2), "%s_b64", key);
		jw_key(w, k2);
		jw_b64(w, b, n);
	}
}

void
jw_fields(struct jw *w, const char *frag, size_t n)
{
	jw_sep(w);
	jw_raw(w, frag, n);
}

void
jw_key_int(struct jw *w, const char *key, long long v)
{
	char num[FMT_INT_MAX], *at = fmt_int_r(num, v);

	jw_key(w, key);
	jw_raw(w, at, (size_t)(num + sizeof(num) - at));
}

void
jw_key_uint(struct jw *w, const char *key, unsigned long long v)
{
	char num[FMT_INT_MAX], *at = fmt_uint_r(num, v, false);

	jw_key(w, key);
	jw_raw(w, at, (size_t)(num + sizeof(num) - at));
}

void
jw_key_bool(struct jw *w, const char *key, bool v)
{
	jw_key(w, key);
	jw_raw(w, v ? "true" : "false", v ? 4 : 5);
}

void
jw_key_null(struct jw *w, const char *key)
{
	jw_key(w, key);
	jw_raw(w, "null", 4);
}

void
jw_arr_str(struct jw *w, const char *s)
{
	jw_sep(w);
	jw_escaped(w, (const unsigned char *)s, strlen(s));
}

void
jw_arr_bytes(struct jw *w, const void *b, size_t n)
{
	/* arrays of attacker bytes carry no side field: invalid bytes become U+FFFD; callers
	 * that need exactness use jw_key_bytes */
	jw_sep(w);
	jw_escaped(w, b, n);
}

void
jw_arr_obj_open(struct jw *w)
{
	jw_sep(w);
	jw_obj_open(w);
}
