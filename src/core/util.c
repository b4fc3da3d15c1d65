/* SPDX-License-Identifier: ISC */
/*
 * util - small helpers shared by every module (see util.h).
 */
#include "util.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>

void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* mkdir_p - create a directory and its parents; existing ones are fine */
int
mkdir_p(const char *path)
{
	char tmp[PATH_MAX];
	size_t i, n = strlen(path);

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
			return -1;
		tmp[i] = i < n ? '/' : '\0';
	}
	return 0;
}

int
parse_num(const char *s, long long min, long long max, long long *out, const char **errstr)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s)) {
		*errstr = "not a number";
		return -1;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0') {
		*errstr = "not a number";
		return -1;
	}
	if (errno == ERANGE || v < min) {
		*errstr = "too small";
		if (errno == ERANGE && v > 0)
			*errstr = "too large";
		return -1;
	}
	if (v > max) {
		*errstr = "too large";
		return -1;
	}
	*out = v;
	return 0;
}

/* parse_suffixed - number with an optional unit suffix from a table; shared by size and duration */
static int
parse_suffixed(const char *s, const char *const *units, const uint64_t *mult, size_t nunits,
               uint64_t defmult, uint64_t *out, const char **errstr)
{
	char num[32];
	size_t i, n = 0;
	long long v;

	while (s[n] >= '0' && s[n] <= '9')
		n++;
	if (n == 0 || n >= sizeof(num)) {
		*errstr = "not a number";
		return -1;
	}
	memcpy(num, s, n);
	num[n] = '\0';
	if (parse_num(num, 0, (long long)1 << 50, &v, errstr) == -1)
		return -1;
	if (s[n] == '\0') {
		*out = (uint64_t)v * defmult;
		return 0;
	}
	for (i = 0; i < nunits; i++) {
		if (strcasecmp(s + n, units[i]) == 0) {
			if ((uint64_t)v > UINT64_MAX / mult[i]) {
				*errstr = "too large";
				return -1;
			}
			*out = (uint64_t)v * mult[i];
			return 0;
		}
	}
	*errstr = "unknown unit";
	return -1;
}

int
parse_size(const char *s, uint64_t *out, const char **errstr)
{
	static const char *const units[] = {"k",   "kb", "kib", "m",   "mb",
	                                    "mib", "g",  "gb",  "gib", "b"};
	static const uint64_t mult[] = {1024,    1024,    1024,    1048576, 1048576,
	                                1048576, 1 << 30, 1 << 30, 1 << 30, 1};

	return parse_suffixed(s, units, mult, ARRAY_LEN(units), 1, out, errstr);
}

int
parse_duration_ms(const char *s, uint64_t *out, const char **errstr)
{
	static const char *const units[] = {"ms", "s", "m", "h", "d"};
	static const uint64_t mult[] = {1, 1000, 60000, 3600000, 86400000};

	return parse_suffixed(s, units, mult, ARRAY_LEN(units), 1000, out, errstr);
}

/* called through a volatile pointer: gcc and clang turn malloc + memset back into calloc */
static void *(*const volatile zero_fill)(void *, int, size_t) = memset;

void *
zalloc(size_t n)
{
	void *p = malloc(n);

	if (p != NULL)
		zero_fill(p, 0, n);
	return p;
}

uint64_t
now_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t
now_real_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t
cpu_self_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* put_digits - n decimal digits of v, zero-padded, at p */
static void
put_digits(char *p, unsigned v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10u);
		v /= 10u;
	}
}

bool
fmt_ipv4(const unsigned char a[4], char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen < 16)
		return false;
	for (int i = 0; i < 4; i++) {
		unsigned x = a[i];
		if (x >= 100)
			out[o++] = (char)('0' + x / 100);
		if (x >= 10)
			out[o++] = (char)('0' + x / 10 % 10);
		out[o++] = (char)('0' + x % 10);
		out[o++] = i < 3 ? '.' : '\0';
	}
	return true;
}

/* fmt_rfc3339 - every event of the engine and every event the store checks passes here, so
 * the calendar part is computed once per second (per thread) and the digits are written by
 * hand: gmtime_r and snprintf per call were 5% of the store's instructions. */
void
fmt_rfc3339(uint64_t real_us, char *out, size_t outlen)
{
	static _Thread_local time_t cached_t = (time_t)-1;
	static _Thread_local char cached[20]; /* "YYYY-MM-DDTHH:MM:SS" */
	time_t t = (time_t)(real_us / 1000000u);
	struct tm tm;

	if (t != cached_t) {
		gmtime_r(&t, &tm);
		if (tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999 || outlen < 28) {
			snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ",
			         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			         tm.tm_min, tm.tm_sec, (unsigned)(real_us % 1000000u));
			return;
		}
		put_digits(cached, (unsigned)(tm.tm_year + 1900), 4);
		cached[4] = '-';
		put_digits(cached + 5, (unsigned)(tm.tm_mon + 1), 2);
		cached[7] = '-';
		put_digits(cached + 8, (unsigned)tm.tm_mday, 2);
		cached[10] = 'T';
		put_digits(cached + 11, (unsigned)tm.tm_hour, 2);
		cached[13] = ':';
		put_digits(cached + 14, (unsigned)tm.tm_min, 2);
		cached[16] = ':';
		put_digits(cached + 17, (unsigned)tm.tm_sec, 2);
		cached[19] = '\0';
		cached_t = t;
	}
	char full[28], *p = outlen >= sizeof(full) ? out : full;

	memcpy(p, cached, 19);
	p[19] = '.';
	put_digits(p + 20, (unsigned)(real_us % 1000000u), 6);
	p[26] = 'Z';
	p[27] = '\0';
	if (p == full && outlen > 0)
		strlcpy(out, full, outlen);
}

void
rand_buf(void *buf, size_t len)
{
	arc4random_buf(buf, len);
}

uint32_t
rand_uniform(uint32_t bound)
{
	return bound <= 1 ? 0 : arc4random_uniform(bound);
}

void
rand_chars(char *out, size_t n, const char *set, size_t setlen)
{
	unsigned char pool[64];
	size_t have = 0, used = 0;
	/* bytes at or over the largest multiple of setlen would favour the first characters */
	unsigned lim = 256u - 256u % (unsigned)setlen;

	while (n > 0) {
		if (used == have) {
			rand_buf(pool, sizeof(pool));
			have = sizeof(pool);
			used = 0;
		}
		if (pool[used] < lim) {
			*out++ = set[pool[used] % setlen];
			n--;
		}
		used++;
	}
}

static int
b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long
b64_decode(const char *in, size_t inlen, unsigned char *out, size_t outlen)
{
	uint32_t acc = 0;
	size_t i, o = 0, pad = 0;
	int bits = 0, v;

	while (inlen > 0 && in[inlen - 1] == '=' && pad < 2) {
		inlen--;
		pad++;
	}
	if (pad > 0 && (inlen + pad) % 4 != 0)
		return -1;
	if (inlen % 4 == 1)
		return -1;
	for (i = 0; i < inlen; i++) {
		v = b64_val((unsigned char)in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outlen)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return (long)o;
}

long
b64_encode(const unsigned char *in, size_t inlen, char *out, size_t outlen)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0, need = ((inlen + 2) / 3) * 4 + 1;
	uint32_t v;

	if (outlen < need)
		return -1;
	for (i = 0; i + 2 < inlen; i += 3) {
		v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
		out[o++] = tbl[(v >> 18) & 63];
		out[o++] = tbl[(v >> 12) & 63];
		out[o++] = tbl[(v >> 6) & 63];
		out[o++] = tbl[v & 63];
	}
	if (i < inlen) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < inlen)
			v |= (uint32_t)in[i + 1] << 8;
		out[o++] = tbl[(v >> 18) & 63];
		out[o++] = tbl[(v >> 12) & 63];
		out[o++] = i + 1 < inlen ? tbl[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return (long)o;
}

int
hex_encode(const unsigned char *in, size_t inlen, char *out, size_t outlen)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	if (outlen < inlen * 2 + 1)
		return -1;
	for (i = 0; i < inlen; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * inlen] = '\0';
	return 0;
}
