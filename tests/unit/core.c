/* SPDX-License-Identifier: ISC */
/*
 * core tests - number/size/duration parsing, base64, UTF-8 validation, the log escaper and
 * the JSON writer's lossless handling of attacker bytes. Table-driven.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/pool.h"
#include "core/str.h"
#include "core/util.h"

static void
test_parse_size(void **state)
{
	static const struct {
		const char *in;
		int rc;
		uint64_t want;
	} rows[] = {
	    {"4096", 0, 4096},
	    {"10k", 0, 10240},
	    {"20M", 0, 20971520},
	    {"1G", 0, 1073741824},
	    {"7b", 0, 7},
	    {"", -1, 0},
	    {"k", -1, 0},
	    {"12q", -1, 0},
	    {"-1", -1, 0},
	    {" 5", -1, 0},
	    {"99999999999999999999", -1, 0},
	    {"1125899906842624G", -1, 0},
	};
	const char *err;
	uint64_t v;

	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		v = 0;
		int rc = parse_size(rows[i].in, &v, &err);
		if (rc != rows[i].rc || (rc == 0 && v != rows[i].want)) {
			print_error("parse_size(%s): got rc %d v %llu, want rc %d v %llu\n",
			            rows[i].in, rc, (unsigned long long)v, rows[i].rc,
			            (unsigned long long)rows[i].want);
			fail();
		}
	}
}

static void
test_parse_duration(void **state)
{
	static const struct {
		const char *in;
		int rc;
		uint64_t want;
	} rows[] = {
	    {"250ms", 0, 250}, {"10s", 0, 10000}, {"5m", 0, 300000}, {"1h", 0, 3600000},
	    {"3", 0, 3000},    {"2x", -1, 0},     {"ms", -1, 0},
	};
	const char *err;
	uint64_t v;

	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		v = 0;
		int rc = parse_duration_ms(rows[i].in, &v, &err);
		assert_int_equal(rc, rows[i].rc);
		if (rc == 0)
			assert_int_equal(v, rows[i].want);
	}
}

static void
test_base64(void **state)
{
	static const struct {
		const char *plain;
		const char *b64;
	} rows[] = {
	    {"", ""},        {"f", "Zg=="},         {"fo", "Zm8="},
	    {"foo", "Zm9v"}, {"admin", "YWRtaW4="}, {"Username:", "VXNlcm5hbWU6"},
	};
	unsigned char out[64];
	char enc[64];

	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		long n = b64_encode((const unsigned char *)rows[i].plain, strlen(rows[i].plain),
		                    enc, sizeof(enc));
		assert_int_equal(n, strlen(rows[i].b64));
		assert_string_equal(enc, rows[i].b64);
		n = b64_decode(rows[i].b64, strlen(rows[i].b64), out, sizeof(out));
		assert_int_equal(n, strlen(rows[i].plain));
		assert_memory_equal(out, rows[i].plain, (size_t)n);
	}
	/* unpadded input is accepted; junk, bad padding and overflow are not */
	assert_int_equal(b64_decode("Zm8", 3, out, sizeof(out)), 2);
	assert_int_equal(b64_decode("Zm9v!", 5, out, sizeof(out)), -1);
	assert_int_equal(b64_decode("Z", 1, out, sizeof(out)), -1);
	assert_int_equal(b64_decode("Zg=", 3, out, sizeof(out)), -1);
	assert_int_equal(b64_decode("Zm9vYmFy", 8, out, 3), -1);
	assert_int_equal(b64_encode((const unsigned char *)"foo", 3, enc, 4), -1);
}

static void
test_utf8(void **state)
{
	static const struct {
		const char *s;
		size_t len;
		bool valid;
	} rows[] = {
	    {"plain", 5, true},
	    {"caf\xc3\xa9", 5, true},
	    {"\xe2\x82\xac", 3, true},
	    {"\xf0\x9f\x98\x80", 4, true},
	    {"\xc3", 1, false},
	    {"\xc0\xaf", 2, false},         /* overlong */
	    {"\xed\xa0\x80", 3, false},     /* surrogate */
	    {"\xf4\x90\x80\x80", 4, false}, /* > U+10FFFF */
	    {"\xff", 1, false},
	    {"a\0b", 3, true},
	};

	for (size_t i = 0; i < ARRAY_LEN(rows); i++)
		if (utf8_valid(rows[i].s, rows[i].len) != rows[i].valid) {
			print_error("row %zu: got %d want %d\n", i, !rows[i].valid, rows[i].valid);
			fail();
		}
}

static void
test_escape_log(void **state)
{
	char out[64];

	assert_string_equal(str_escape_log("a\r\nb\t\\\x1b[31m", 11, out, sizeof(out)),
	                    "a\\r\\nb\\t\\\\\\x1b[31m");
	/* truncation is marked, never overflows */
	str_escape_log("0123456789abcdef", 16, out, 10);
	assert_true(strlen(out) < 10);
	assert_non_null(strstr(out, "..."));
}

/* test_json_lossless - whatever the bytes, the JSON parses, and the exact bytes come back */
static void
test_json_lossless(void **state)
{
	static const struct {
		const char *b;
		size_t len;
	} rows[] = {
	    {"hello", 5},   {"quote\" back\\slash", 17}, {"ctl\x01\x1f\x7f", 6},
	    {"nul\0in", 6}, {"bad\xff\xfeutf8", 9},      {"caf\xc3\xa9", 5},
	    {"\xc3", 1},
	};
	struct jw w;
	unsigned char back[64];

	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		json_error_t err;
		json_t *o, *s, *b;
		size_t n;

		jw_init(&w);
		jw_obj_open(&w);
		jw_key_bytes(&w, "line", rows[i].b, rows[i].len);
		jw_key_int(&w, "n", -5);
		jw_obj_close(&w);
		o = json_loadb(w.buf, w.len, JSON_ALLOW_NUL, &err);
		if (o == NULL) {
			print_error("row %zu: %s does not parse: %s\n", i, w.buf, err.text);
			fail();
		}
		s = json_object_get(o, "line");
		b = json_object_get(o, "line_b64");
		if (utf8_valid(rows[i].b, rows[i].len)) {
			assert_null(b);
			assert_int_equal(json_string_length(s), rows[i].len);
			assert_memory_equal(json_string_value(s), rows[i].b, rows[i].len);
		} else {
			assert_non_null(b);
			n = (size_t)b64_decode(json_string_value(b), json_string_length(b), back,
			                       sizeof(back));
			assert_int_equal(n, rows[i].len);
			assert_memory_equal(back, rows[i].b, n);
		}
		assert_int_equal(json_integer_value(json_object_get(o, "n")), -5);
		json_decref(o);
		jw_free(&w);
	}
	/* keys: plain ones written as they are, others escaped like any string */
	jw_init(&w);
	jw_obj_open(&w);
	jw_key_int(&w, "a", 1);
	jw_key_int(&w, "q\"k\\\x01", 2);
	jw_key_int(&w, "caf\xc3\xa9", 3);
	jw_key_int(&w, "", 4);
	jw_obj_close(&w);
	assert_string_equal(w.buf, "{\"a\":1,\"q\\\"k\\\\\\u0001\":2,\"caf\xc3\xa9\":3,\"\":4}");
	jw_free(&w);
}

/* test_json_long_strings - strings long enough to be scanned a word at a time: each byte value
 * at each position of a 40-byte run of plain text (and a two-byte UTF-8 letter at each
 * position) comes out escaped exactly as it does alone, the plain text around it as it is */
static void
test_json_long_strings(void **state)
{
	static const char plain[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	unsigned char in[sizeof(plain) - 1];
	char want[128], one[32];
	struct jw w;

	for (unsigned b = 0; b < 257; b++) {
		/* b == 256: the letter e-acute, c3 a9 */
		size_t blen = b == 256 ? 2 : 1;
		unsigned char c[2] = {b == 256 ? 0xc3 : (unsigned char)b, 0xa9};

		/* the byte alone (short: written a byte at a time), without the quotes */
		jw_init(&w);
		jw_key_strn(&w, "k", (const char *)c, blen);
		assert_true(w.len >= 6 && w.len - 6 < sizeof(one)); /* "k":"...." */
		memcpy(one, w.buf + 5, w.len - 6);
		one[w.len - 6] = '\0';
		jw_free(&w);
		for (size_t at = 0; at + blen <= sizeof(in); at++) {
			memset(in, 'a', sizeof(in));
			memcpy(in + at, c, blen);
			snprintf(want, sizeof(want), "\"k\":\"%.*s%s%.*s\"", (int)at, plain, one,
			         (int)(sizeof(in) - at - blen), plain);
			jw_init(&w);
			jw_key_strn(&w, "k", (const char *)in, sizeof(in));
			if (strcmp(w.buf, want) != 0) {
				print_error("byte 0x%02x at %zu: got %s, want %s\n", b, at, w.buf,
				            want);
				fail();
			}
			jw_free(&w);
		}
	}
}

/* test_json_bytes_numbers - every single byte value: printable ASCII as it is but " and \\
 * (escaped), \\n \\r \\t, other controls as \\u00XX, a byte that is not UTF-8 on its own as
 * U+FFFD with a _b64 companion; and jansson reads the byte back. Integers at their limits. */
static void
test_json_bytes_numbers(void **state)
{
	static const long long ints[] = {0, 7, -5, 10, -10, LLONG_MAX, LLONG_MIN};
	char want[64], b64[8];
	json_error_t err;
	struct jw w;

	for (unsigned b = 0; b < 256; b++) {
		unsigned char c = (unsigned char)b;
		json_t *o;

		jw_init(&w);
		jw_obj_open(&w);
		jw_key_bytes(&w, "k", &c, 1);
		jw_obj_close(&w);
		if (b == '"' || b == '\\')
			snprintf(want, sizeof(want), "{\"k\":\"\\%c\"}", c);
		else if (b == '\n' || b == '\r' || b == '\t')
			snprintf(want, sizeof(want), "{\"k\":\"\\%c\"}",
			         b == '\n'   ? 'n'
			         : b == '\r' ? 'r'
			                     : 't');
		else if (b < 0x20)
			snprintf(want, sizeof(want), "{\"k\":\"\\u%04x\"}", b);
		else if (b < 0x80)
			snprintf(want, sizeof(want), "{\"k\":\"%c\"}", c);
		else if (b64_encode(&c, 1, b64, sizeof(b64)) > 0)
			snprintf(want, sizeof(want), "{\"k\":\"\xef\xbf\xbd\",\"k_b64\":\"%s\"}",
			         b64);
		if (strcmp(w.buf, want) != 0) {
			print_error("byte 0x%02x: got %s, want %s\n", b, w.buf, want);
			fail();
		}
		o = json_loadb(w.buf, w.len, JSON_ALLOW_NUL, &err);
		assert_non_null(o);
		if (b < 0x80) {
			assert_int_equal(json_string_length(json_object_get(o, "k")), 1);
			assert_int_equal(
			    (unsigned char)json_string_value(json_object_get(o, "k"))[0], b);
		}
		json_decref(o);
		jw_free(&w);
	}
	for (size_t i = 0; i < ARRAY_LEN(ints); i++) {
		jw_init(&w);
		jw_key_int(&w, "n", ints[i]);
		snprintf(want, sizeof(want), "\"n\":%lld", ints[i]);
		assert_string_equal(w.buf, want);
		jw_free(&w);
	}
	jw_init(&w);
	jw_key_uint(&w, "u", ULLONG_MAX);
	assert_string_equal(w.buf, "\"u\":18446744073709551615");
	jw_free(&w);
}

static void
test_rfc3339(void **state)
{
	char ts[40];

	/* the per-second cache against gmtime_r + snprintf: same second, next second, back in
	 * time, leap day, epoch, the last second of 9999, year 10000, a short buffer */
	static const uint64_t cases[] = {1231702320123456ull,
	                                 1231702320999999ull,
	                                 1231702321000000ull,
	                                 1231702320000001ull,
	                                 951782400000000ull,
	                                 0ull,
	                                 1ull,
	                                 253402300799999999ull,
	                                 253402300800000000ull,
	                                 1798000000123456ull,
	                                 1798000000123457ull};
	char want[64];
	struct tm tm;
	size_t i;

	fmt_rfc3339(1231702320123456ull, ts, sizeof(ts));
	assert_string_equal(ts, "2009-01-11T19:32:00.123456Z");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		time_t t = (time_t)(cases[i] / 1000000u);

		gmtime_r(&t, &tm);
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ",
		         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		         tm.tm_sec, (unsigned)(cases[i] % 1000000u));
		fmt_rfc3339(cases[i], ts, sizeof(ts));
		assert_string_equal(ts, want);
		fmt_rfc3339(cases[i], ts, 12); /* cut, but terminated */
		assert_int_equal(strlen(ts), 11);
		assert_memory_equal(ts, want, 11);
	}
}

/* test_json_plain_span - the plain start of a string, word at a time and byte at a time: each
 * byte that needs escaping or checking (a control, '"', '\\', a byte >= 0x80, a NUL) ends it
 * at every position, and an all-plain string is plain to its end */
static void
test_json_plain_span(void **state)
{
	static const unsigned char stops[] = {0x00, 0x01, 0x1f, '"', '\\', 0x80, 0xff};
	unsigned char buf[40];
	size_t n, at, k;

	(void)state;
	for (n = 0; n <= sizeof(buf); n++) {
		memset(buf, 'a', sizeof(buf));
		buf[0] = ' ';
		if (n > 1)
			buf[n - 1] = '~';
		assert_int_equal(json_plain_span(buf, n), n);
		for (at = 0; at < n; at++)
			for (k = 0; k < sizeof(stops); k++) {
				memset(buf, 'x', sizeof(buf));
				buf[at] = stops[k];
				assert_int_equal(json_plain_span(buf, n), at);
			}
	}
}

/* fmt_ipv4: what inet_ntop writes, for every value of each octet; a short buffer refused */
static void
test_fmt_ipv4(void **state)
{
	unsigned char a[4];
	char got[16], want[16];

	(void)state;
	for (unsigned v = 0; v < 256; v++) {
		a[0] = (unsigned char)v;
		a[1] = (unsigned char)(255 - v);
		a[2] = (unsigned char)(v * 7);
		a[3] = (unsigned char)(v / 3);
		assert_true(fmt_ipv4(a, got, sizeof(got)));
		assert_non_null(inet_ntop(AF_INET, a, want, sizeof(want)));
		assert_string_equal(got, want);
	}
	memset(a, 255, 4);
	assert_true(fmt_ipv4(a, got, sizeof(got)));
	assert_string_equal(got, "255.255.255.255");
	assert_false(fmt_ipv4(a, got, 15));
}

/* rand_chars: only characters of the set, every one of them, none far from its share (the
 * bounds are over 15 standard deviations wide: a failure is a bias, not bad luck) */
static void
test_rand_chars(void **state)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	static char out[62000];
	size_t count[256] = {0}, i;
	char three[3000];

	rand_chars(out, sizeof(out), set, sizeof(set) - 1);
	for (i = 0; i < sizeof(out); i++) {
		assert_non_null(memchr(set, out[i], sizeof(set) - 1));
		count[(unsigned char)out[i]]++;
	}
	for (i = 0; i < sizeof(set) - 1; i++) {
		assert_in_range(count[(unsigned char)set[i]], 500, 1500);
	}
	memset(count, 0, sizeof(count));
	rand_chars(three, sizeof(three), "abc", 3);
	for (i = 0; i < sizeof(three); i++)
		count[(unsigned char)three[i]]++;
	for (i = 0; i < 3; i++)
		assert_in_range(count['a' + i], 700, 1300);
	rand_chars(three, 0, "abc", 3); /* nothing drawn, nothing written */
}

/* test_spares - a given block comes back (last in, first out), zeroed by spare_take and as it
 * was by spare_pop; no more are kept than the stack's max; spares_free empties it */
static void
test_spares(void **state)
{
	struct spares *sp = calloc(1, sizeof(*sp));
	unsigned char *a, *b, *c;

	(void)state;
	assert_non_null(sp);
	sp->max = 2;
	assert_null(spare_pop(sp, 32));
	a = spare_take(sp, 32);
	b = spare_take(sp, 32);
	c = spare_take(sp, 32);
	assert_true(a != NULL && b != NULL && c != NULL);
	memset(a, 0xa5, 32);
	memset(b, 0x5a, 32);
	spare_give(sp, a, 32);
	spare_give(sp, b, 32);
	assert_true(spare_full(sp));
	spare_give(sp, c, 32); /* beyond max: freed, not kept */
	assert_int_equal(sp->n, 2);
	spare_give(sp, NULL, 32);
	assert_int_equal(sp->n, 2);
	assert_ptr_equal(spare_pop(sp, 32), b); /* as given back */
	assert_int_equal(b[0], 0x5a);
	assert_int_equal(b[31], 0x5a);
	assert_ptr_equal(spare_take(sp, 32), a); /* zeroed */
	for (size_t i = 0; i < 32; i++)
		assert_int_equal(a[i], 0);
	assert_false(spare_full(sp));
	spare_give(sp, a, 32);
	spare_give(sp, b, 32);
	spares_free(sp, 32);
	assert_int_equal(sp->n, 0);
	assert_null(spare_pop(sp, 32));
	free(sp);
}

/* test_pool - blocks in size classes, aligned, never overlapping, reused when returned, and
 * no more than the pool's limit in chunks */
static void
test_pool(void **state)
{
	struct pool *p = pool_new(64, 1088, 4096, 8192);
	unsigned char *b[256];
	size_t cap, caps[256], n = 0, handed = 0, i, j;
	void *x, *y;

	(void)state;
	assert_null(pool_new(24, 1088, 4096, 0)); /* grain not a power of two */
	assert_null(pool_new(64, 8192, 4096, 0)); /* blocks larger than a chunk */
	assert_null(pool_new(64, 1090, 1100, 0)); /* its largest class (1152) too */
	assert_non_null(p);
	assert_null(pool_get(p, 0, &cap));
	assert_null(pool_get(p, 1089, &cap));
	x = pool_get(p, 65, &cap);
	assert_non_null(x);
	assert_int_equal(cap, 128);
	pool_put(p, x, cap);
	y = pool_get(p, 100, &cap); /* the same class: the block just returned */
	assert_ptr_equal(x, y);
	pool_put(p, y, cap);
	/* take blocks of mixed sizes until the limit; each gets its own pattern */
	for (i = 0; n < 256; i++) {
		size_t want = 1 + (i * 397) % 1088;
		if ((b[n] = pool_get(p, want, &caps[n])) == NULL)
			break;
		assert_true(caps[n] >= want && caps[n] % 64 == 0 && caps[n] - want < 64);
		assert_true(((uintptr_t)b[n] & 15) == 0);
		memset(b[n], (int)n, caps[n]);
		handed += caps[n];
		n++;
	}
	assert_true(n > 4 && n < 256);
	assert_int_equal(pool_bytes(p), 8192);
	assert_true(handed <= 8192);
	for (i = 0; i < n; i++)
		for (j = 0; j < caps[i]; j++)
			assert_int_equal(b[i][j], (unsigned char)i);
	/* full: a returned block is all there is for its class */
	pool_put(p, b[0], caps[0]);
	x = pool_get(p, caps[0], &cap);
	assert_ptr_equal(x, b[0]);
	pool_free(p);
	pool_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_size),
	    cmocka_unit_test(test_pool),
	    cmocka_unit_test(test_spares),
	    cmocka_unit_test(test_parse_duration),
	    cmocka_unit_test(test_base64),
	    cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_escape_log),
	    cmocka_unit_test(test_json_lossless),
	    cmocka_unit_test(test_json_bytes_numbers),
	    cmocka_unit_test(test_json_long_strings),
	    cmocka_unit_test(test_rfc3339),
	    cmocka_unit_test(test_fmt_ipv4),
	    cmocka_unit_test(test_json_plain_span),
	    cmocka_unit_test(test_rand_chars),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
