/* SPDX-License-Identifier: ISC */
/*
 * str - the one escaping path for attacker bytes on their way out, and a small JSON writer.
 *
 * Owns: nothing global. struct jw owns its heap buffer (jw_free releases it).
 * Public: utf8_valid, str_escape_log, jw_* (JSON object writer).
 * Limits: str_escape_log truncates to the output size and marks it with "..."; the JSON writer
 *         grows without a cap, so callers bound what they put in (lines and fields are limited
 *         upstream by the session limits).
 *
 * Lossless JSON for attacker bytes: jw_key_bytes() writes valid UTF-8 as a JSON string; when the
 * bytes are not valid UTF-8 it writes the string with U+FFFD for each bad byte and adds
 * "<key>_b64" carrying the exact bytes in base64.
 */
#ifndef RT_STR_H
#define RT_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* utf8_valid - true if the bytes are well-formed UTF-8 (no overlongs, no surrogates) */
bool utf8_valid(const void *buf, size_t len);
/* utf8_repair - copy buf to out with every byte that is not part of well-formed UTF-8 replaced by
 * U+FFFD; out needs 3 * len bytes; returns the bytes written (no NUL added) */
size_t utf8_repair(const void *buf, size_t len, char *out);
/* fmt_uint_r, fmt_int_r - v in decimal (fmt_uint_r: after a '-' when neg) at the end of out
 * (no NUL), returning where it starts: the length is out + FMT_INT_MAX - the result. Inline,
 * without snprintf's cost: the event writer and the store write numbers in every event. */
#define FMT_INT_MAX 24
static inline char *
fmt_uint_r(char out[FMT_INT_MAX], unsigned long long v, bool neg)
{
	char *p = out + FMT_INT_MAX;

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	if (neg)
		*--p = '-';
	return p;
}

static inline char *
fmt_int_r(char out[FMT_INT_MAX], long long v)
{
	/* the magnitude of LLONG_MIN does not fit a long long: negate as unsigned */
	return fmt_uint_r(out, v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v, v < 0);
}

/* json_plain_span - how many of buf's first n bytes go into a JSON string as they are:
 * printable ASCII but '"' and '\\' (eight bytes at a time) */
size_t json_plain_span(const void *buf, size_t n);

/* str_escape_log - printable ASCII kept, \r \n \t \\ and \xNN for anything else; always
 * NUL-terminates; returns out. Use for logs and terminals. */
char *str_escape_log(const void *buf, size_t len, char *out, size_t outlen);

struct jw {
	char *buf;
	size_t len;
	size_t cap;
	int depth;
	bool need_comma;
	bool oom;
};

void jw_init(struct jw *w);
void jw_reset(struct jw *w);
void jw_free(struct jw *w);
void jw_obj_open(struct jw *w);
void jw_obj_close(struct jw *w);
void jw_key_obj_open(struct jw *w, const char *key);
void jw_key_arr_open(struct jw *w, const char *key);
void jw_arr_close(struct jw *w);
/* string values: trusted text is still escaped per RFC 8259 */
void jw_key_str(struct jw *w, const char *key, const char *s);
void jw_key_strn(struct jw *w, const char *key, const char *s, size_t n);
/* attacker bytes, lossless (see above) */
void jw_key_bytes(struct jw *w, const char *key, const void *b, size_t n);
/* jw_fields - splice a pre-built run of fields ("a":1,"b":2) into the open object */
void jw_fields(struct jw *w, const char *frag, size_t n);
void jw_key_int(struct jw *w, const char *key, long long v);
void jw_key_uint(struct jw *w, const char *key, unsigned long long v);
void jw_key_bool(struct jw *w, const char *key, bool v);
void jw_key_null(struct jw *w, const char *key);
/* array elements */
void jw_arr_str(struct jw *w, const char *s);
void jw_arr_bytes(struct jw *w, const void *b, size_t n);
void jw_arr_obj_open(struct jw *w);

#endif
