/* SPDX-License-Identifier: ISC */
/*
 * evparse: parsing an event without its session's repeated fields gives what parsing the whole
 * text gives (json_loadb with the store's flags), on events the engine's own writer makes and
 * on texts made to trip the shortcut.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "capture/emit.h"
#include "capture/evparse.h"
#include "core/str.h"

#define FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

/* the last frame the capture wrote */
static char frame[8192];
static size_t frame_len;

static void
sink(void *arg, enum frame_type type, const void *payload, size_t len)
{
	assert_true(len < sizeof(frame));
	memcpy(frame, payload, len);
	frame[len] = '\0';
	frame_len = len;
}

/* engine_event - one event as the engine writes it: capture_begin with the session's prefix,
 * then fields ("" for none) */
static void
engine_event(struct capture *cap, const char *sensor_sid, const char *src_ip, int src_port,
             const char *eventid, const char *fields)
{
	struct jw prefix;
	struct jw *w;

	jw_init(&prefix);
	capture_prefix(cap, &prefix, sensor_sid, src_ip, src_port, "198.51.100.1", 25,
	               "exchange2000", "smtp");
	w = capture_begin(cap, eventid, &prefix);
	assert_non_null(w);
	if (fields[0] != '\0')
		jw_fields(w, fields, strlen(fields));
	capture_commit(cap);
	jw_free(&prefix);
}

/* same - evparse_load and json_loadb agree on text (both refuse, or equal objects); learns
 * from it like the store; returns whether the shortcut was taken */
static bool
same(struct evparse *c, const char *text, size_t len)
{
	json_error_t err;
	uint64_t hits = evparse_hits(c);
	json_t *whole = json_loadb(text, len, FLAGS, &err);
	json_t *got = evparse_load(c, text, len, &err);

	if ((whole == NULL) != (got == NULL))
		fail_msg("whole %s, cached %s: %.*s", whole ? "parsed" : "refused",
		         got ? "parsed" : "refused", (int)len, text);
	if (whole != NULL) {
		if (!json_equal(whole, got))
			fail_msg("different objects for %.*s", (int)len, text);
		evparse_learn(c, text, len, whole);
	}
	json_decref(whole);
	json_decref(got);
	return evparse_hits(c) > hits;
}

static void
test_engine_events(void **state)
{
	static const char *const sids[] = {"0190a1b2c3d4aabbccddeeff", "0190a1b2c3d4aabbccddee00",
	                                   "1"};
	struct capture *cap = capture_new("sensor \"\xc3\xa9\\ 1", sink, NULL);
	struct evparse *c = evparse_new();
	size_t i;

	assert_non_null(cap);
	assert_non_null(c);
	for (i = 0; i < 3; i++) {
		engine_event(cap, sids[i], "203.0.113.9", 40000 + (int)i,
		             "relaytrap.session.connect", "\"proxied\":false");
		assert_false(same(c, frame, frame_len)); /* first of its session: learnt */
		engine_event(cap, sids[i], "203.0.113.9", 40000 + (int)i, "relaytrap.reply",
		             "\"seq\":1,\"code\":250,\"text\":\"250 OK\\r\\n\\u0000\"");
		assert_true(same(c, frame, frame_len));
		engine_event(cap, sids[i], "203.0.113.9", 40000 + (int)i,
		             "relaytrap.session.closed", "");
		assert_true(same(c, frame, frame_len)); /* no field after the prefix */
		/* message events keep their text order for the store: never the shortcut */
		engine_event(cap, sids[i], "203.0.113.9", 40000 + (int)i, "relaytrap.message",
		             "\"tx\":1");
		assert_false(same(c, frame, frame_len));
	}
	/* the same session id with other fixed fields (a second sensor, an import): the prefix
	 * does not match, the whole text is parsed */
	engine_event(cap, sids[0], "203.0.113.10", 40000, "relaytrap.reply", "\"seq\":2");
	assert_false(same(c, frame, frame_len));
	capture_free(cap);
	evparse_free(c);
}

/* texts that follow the layout of a learnt session up to the prefix, then differ */
static void
test_hostile(void **state)
{
	static const char pre[] =
	    "{\"timestamp\":\"2026-11-27T10:00:00.000001Z\",\"eventid\":"
	    "\"relaytrap.reply\",\"session\":\"abc\",\"sensor\":\"s\","
	    "\"src_ip\":\"192.0.2.1\",\"src_port\":1,\"dst_ip\":\"192.0.2.2\","
	    "\"dst_port\":25,\"persona\":\"p\",\"listener\":\"l\"";
	static const char *const tails[] = {
	    "}",
	    ",\"seq\":1}",
	    ",\"src_ip\":\"10.0.0.1\"}", /* a repeated fixed field: a duplicate */
	    ",\"timestamp\":\"x\"}",     /* likewise */
	    ",\"session\":\"abc\"}",     /* likewise */
	    ",\"seq\":1,\"seq\":2}",     /* a duplicate in the rest */
	    ",}",                        /* a trailing comma the shortcut alone would hide */
	    ", \"seq\":1}",              /* whitespace: valid, not the engine's layout */
	    ",\"seq\":1} x",             /* trailing garbage */
	    ",\"seq\":1}   ",            /* trailing whitespace */
	    ",\"seq\":1",                /* cut */
	    ",\"seq\":[1,{\"a\":\"\\u0000\"}]}", /* nested, a NUL */
	    ",\"x\":\"\xff\"}",                  /* not UTF-8 */
	    "}{}",
	};
	struct evparse *c = evparse_new();
	char text[512];
	size_t i;
	int n;

	assert_non_null(c);
	n = snprintf(text, sizeof(text), "%s}", pre);
	assert_false(same(c, text, (size_t)n)); /* learns session abc */
	for (i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		n = snprintf(text, sizeof(text), "%s%s", pre, tails[i]);
		same(c, text, (size_t)n);
	}
	/* the shortcut was taken for the well-formed ones */
	n = snprintf(text, sizeof(text), "%s,\"seq\":1}", pre);
	assert_true(same(c, text, (size_t)n));
	/* a timestamp with an escape, an eventid with a capital: the whole way */
	n = snprintf(text, sizeof(text), "{\"timestamp\":\"2026\\u002d11\"%s}", strchr(pre, ','));
	assert_false(same(c, text, (size_t)n));
	n = snprintf(text, sizeof(text),
	             "{\"timestamp\":\"2026\",\"eventid\":\"Relaytrap.reply\"%s}",
	             strstr(pre, ",\"session\""));
	assert_false(same(c, text, (size_t)n));
	/* a prefix longer than EVPARSE_PREFIX_MAX is never learnt */
	{
		char big[1024], sensor[600];

		memset(sensor, 'a', sizeof(sensor) - 1);
		sensor[sizeof(sensor) - 1] = '\0';
		n = snprintf(
		    big, sizeof(big),
		    "{\"timestamp\":\"2026-11-27T10:00:00.000001Z\",\"eventid\":\"e\","
		    "\"session\":\"def\",\"sensor\":\"%s\",\"src_ip\":\"a\",\"src_port\":1,"
		    "\"dst_ip\":\"b\",\"dst_port\":2,\"persona\":\"p\",\"listener\":\"l\"}",
		    sensor);
		assert_true(n > 0 && (size_t)n < sizeof(big));
		assert_false(same(c, big, (size_t)n));
		assert_false(same(c, big, (size_t)n));
	}
	evparse_free(c);
}

/* texts for the parser itself (whole, no session layout): each gives what json_loadb gives,
 * member order included (the store writes message events out again), or both refuse */
static void
test_parser(void **state)
{
	static const char *const texts[] = {
	    "{}",
	    " {\"a\":1} ",
	    "{\"a\" : [ 1 , 2.5 , -0 , -0.0 , 1e3 , 1E-3 , 2.5e+2 , true , false , null ] }",
	    "{\"b\":1,\"a\":2,\"c\":{\"z\":[],\"y\":{}}}", /* order kept */
	    "{\"i\":9223372036854775807,\"j\":-9223372036854775808}",
	    "{\"i\":9223372036854775808}",  /* too big: both refuse */
	    "{\"i\":-9223372036854775809}", /* likewise */
	    "{\"r\":1e400}",                /* overflow: both refuse */
	    "{\"r\":1e-400}",               /* underflow: 0 */
	    "{\"r\":0.1,\"s\":123456789.123456789e-5}",
	    "{\"n\":01}",
	    "{\"n\":1.}",
	    "{\"n\":.5}",
	    "{\"n\":-}",
	    "{\"n\":+1}",
	    "{\"n\":1e}",
	    "{\"n\":0x10}",
	    "{\"n\":NaN}",
	    "{\"n\":tru}",
	    "{\"n\":nulll}",
	    "{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}",
	    "{\"s\":\"\\u00e9\\u20ac\\ud83d\\ude00\\u0000x\"}",
	    "{\"s\":\"\\ud83d\"}",        /* a lone high surrogate */
	    "{\"s\":\"\\ude00\"}",        /* a lone low one */
	    "{\"s\":\"\\ud83d\\u0041\"}", /* high then not low */
	    "{\"s\":\"\\u12\"}",
	    "{\"s\":\"\\x41\"}",
	    "{\"s\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}",
	    "{\"s\":\"\xc0\xaf\"}",         /* overlong */
	    "{\"s\":\"\xed\xa0\x80\"}",     /* an encoded surrogate */
	    "{\"s\":\"\xf4\x90\x80\x80\"}", /* over U+10FFFF */
	    "{\"s\":\"\xe2\x82\"}",         /* cut */
	    "{\"s\":\"\x01\"}",             /* a control character */
	    "{\"s\":\"tab\there\"}",
	    "{\"\\u0000\":1}",                           /* NUL in a key */
	    "{\"k\\n\":\"v\\n\",\"k\\t\":\"w\\u0041\"}", /* decoded keys and values */
	    "{\"a\":1,\"a\":2}",
	    "{\"a\\u0062\":1,\"ab\":2}", /* a duplicate only once decoded */
	    "{\"a\":1,}",
	    "{\"a\":1 \"b\":2}",
	    "{\"a\" 1}",
	    "{\"a\":[1,]}",
	    "{\"a\":[,1]}",
	    "{\"a\":[1 2]}",
	    "{a:1}",
	    "{\"a\":1}}",
	    "{\"a\":1",
	    "[1,2]", /* not an object: json_loadb's answer */
	    "\"s\"",
	    "",
	    /* nested 34 deep: over the parser's limit, json_loadb's */
	    "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
	};
	struct evparse *c = evparse_new();
	json_error_t err;
	size_t i;

	assert_non_null(c);
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		size_t len = strlen(texts[i]);
		json_t *whole = json_loadb(texts[i], len, FLAGS, &err);
		uint64_t own = evparse_own(c);
		json_t *got = evparse_load(c, texts[i], len, &err);

		/* every object it takes, but for nesting deeper than its limit, is its own work */
		if (whole != NULL && json_is_object(whole) && strstr(texts[i], "[[[[") == NULL)
			assert_int_equal(evparse_own(c), own + 1);
		if ((whole == NULL) != (got == NULL))
			fail_msg("whole %s, evparse %s: %s", whole ? "parsed" : "refused",
			         got ? "parsed" : "refused", texts[i]);
		if (whole != NULL) {
			char *a = json_dumps(whole, JSON_COMPACT | JSON_ENCODE_ANY);
			char *b = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);

			if (!json_equal(whole, got) || strcmp(a, b) != 0)
				fail_msg("different: %s gives %s and %s", texts[i], a, b);
			free(a);
			free(b);
		}
		json_decref(whole);
		json_decref(got);
	}
	/* a string with an embedded NUL keeps its length */
	{
		static const char t[] = "{\"s\":\"a\\u0000b\"}";
		json_t *got = evparse_load(c, t, sizeof(t) - 1, &err);

		assert_non_null(got);
		assert_int_equal(json_string_length(json_object_get(got, "s")), 3);
		json_decref(got);
	}
	evparse_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_engine_events),
	    cmocka_unit_test(test_hostile),
	    cmocka_unit_test(test_parser),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
