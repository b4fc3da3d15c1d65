/* SPDX-License-Identifier: ISC */
/*
 * tests/unit/addr - table-driven cases for the MAIL FROM / RCPT TO argument parser: every
 * address form bots send, the Exchange echo with the default domain, ESMTP parameters, and
 * garbage (NUL bytes, over-long paths, lone brackets, unclosed quotes).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "smtp/addr.h"

#define DOM "contoso.com"

struct path_case {
	const char *in;
	size_t len; /* 0 = strlen(in) */
	int rc;
	const char *raw, *local, *domain, *route;
	unsigned flags;
	const char *echo; /* addr_format with DOM appended */
};

#define B ADDR_F_BRACKETS
#define SP ADDR_F_SPACE_BEFORE

static const struct path_case path_cases[] = {
    {"<a@b>", 0, 0, "a@b", "a", "b", "", B, "a@b"},
    {" <a@b>", 0, 0, "a@b", "a", "b", "", B | SP, "a@b"},
    {"  \t<a@b>", 0, 0, "a@b", "a", "b", "", B | SP, "a@b"},
    {"a@b", 0, 0, "a@b", "a", "b", "", 0, "a@b"},
    {" danesh@example.com", 0, 0, "danesh@example.com", "danesh", "example.com", "", SP,
     "danesh@example.com"},
    {"<>", 0, 0, "", "", "", "", B | ADDR_F_NULL, ""},
    {" <>", 0, 0, "", "", "", "", B | SP | ADDR_F_NULL, ""},
    {"", 0, -1, "", "", "", "", ADDR_F_EMPTY, ""},
    {"   ", 0, -1, "", "", "", "", SP | ADDR_F_EMPTY, ""},
    {"<spamtest>", 0, 0, "spamtest", "spamtest", "", "", B | ADDR_F_NO_DOMAIN, "spamtest@" DOM},
    {"<user>", 0, 0, "user", "user", "", "", B | ADDR_F_NO_DOMAIN, "user@" DOM},
    {"<\"a@b\"@c>", 0, 0, "\"a@b\"@c", "\"a@b\"", "c", "", B | ADDR_F_QUOTED, "\"a@b\"@c"},
    {"<\"a@b\">", 0, 0, "\"a@b\"", "\"a@b\"", "", "", B | ADDR_F_QUOTED | ADDR_F_NO_DOMAIN,
     "\"a@b\"@" DOM},
    {"<\"john doe\"@c>", 0, 0, "\"john doe\"@c", "\"john doe\"", "c", "", B | ADDR_F_QUOTED,
     "\"john doe\"@c"},
    {"\"john doe\"@c", 0, 0, "\"john doe\"@c", "\"john doe\"", "c", "", ADDR_F_QUOTED,
     "\"john doe\"@c"},
    {"<\"a\\\"b\"@c>", 0, 0, "\"a\\\"b\"@c", "\"a\\\"b\"", "c", "", B | ADDR_F_QUOTED,
     "\"a\\\"b\"@c"},
    {"<\"a%b\"@c>", 0, 0, "\"a%b\"@c", "\"a%b\"", "c", "", B | ADDR_F_QUOTED, "\"a%b\"@c"},
    {"<a%b@c>", 0, 0, "a%b@c", "a%b", "c", "", B | ADDR_F_PERCENT, "a%b@c"},
    {"<x%y>", 0, 0, "x%y", "x%y", "", "", B | ADDR_F_PERCENT | ADDR_F_NO_DOMAIN, "x%y@" DOM},
    {"<b!a>", 0, 0, "b!a", "b!a", "", "", B | ADDR_F_BANG | ADDR_F_NO_DOMAIN, "b!a@" DOM},
    {"<c!b!a@d>", 0, 0, "c!b!a@d", "c!b!a", "d", "", B | ADDR_F_BANG, "c!b!a@d"},
    {"<@r1,@r2:a@b>", 0, 0, "@r1,@r2:a@b", "a", "b", "@r1,@r2", B | ADDR_F_SOURCE_ROUTE, "a@b"},
    {"<@r1:a%b@c>", 0, 0, "@r1:a%b@c", "a%b", "c", "@r1", B | ADDR_F_SOURCE_ROUTE | ADDR_F_PERCENT,
     "a%b@c"},
    {"<a@[1.2.3.4]>", 0, 0, "a@[1.2.3.4]", "a", "[1.2.3.4]", "", B | ADDR_F_IP_LITERAL,
     "a@[1.2.3.4]"},
    {"<a@b@c>", 0, 0, "a@b@c", "a@b", "c", "", B, "a@b@c"},
    {"<a@b", 0, -1, "a@b", "a", "b", "", B | ADDR_F_UNBALANCED, "a@b"},
    {"a@b>", 0, -1, "a@b", "a", "b", "", ADDR_F_UNBALANCED, "a@b"},
    {"<", 0, -1, "", "", "", "", B | ADDR_F_UNBALANCED, ""},
    {">", 0, -1, "", "", "", "", ADDR_F_UNBALANCED, ""},
    {"<<a@b>>", 0, -1, "<a@b", "<a", "b", "", B | ADDR_F_UNBALANCED | ADDR_F_TRAILING, "<a@b"},
    {"<\"a@b>", 0, -1, "\"a@b>", "\"a@b>", "", "",
     B | ADDR_F_UNBALANCED | ADDR_F_QUOTED | ADDR_F_NO_DOMAIN, "\"a@b>@" DOM},
    {"\"unclosed@x", 0, -1, "\"unclosed@x", "\"unclosed@x", "", "",
     ADDR_F_UNBALANCED | ADDR_F_QUOTED | ADDR_F_NO_DOMAIN, "\"unclosed@x@" DOM},
    {"<a b@c>", 0, -1, "a b@c", "a b", "c", "", B, "a b@c"},
    {"john doe@x", 0, -1, "john", "john", "", "", ADDR_F_NO_DOMAIN | ADDR_F_TRAILING, "john@" DOM},
    {"<a@>", 0, -1, "a@", "a", "", "", B, "a@" DOM},
    {"<@x>", 0, -1, "@x", "", "x", "", B, "@x"},
    {"<a@b> junk@x", 0, -1, "a@b", "a", "b", "", B | ADDR_F_TRAILING, "a@b"},
    {"<a\0b@c>", 7, -1, "a", "a", "c", "", B, "a@c"},
    {"<a\r\n@c>", 0, -1, "a\r\n@c", "a\r\n", "c", "", B, "a@c"},
    {"<j\xc3\xa9@b>", 0, 0, "j\xc3\xa9@b", "j\xc3\xa9", "b", "", B | ADDR_F_8BIT, "j\xc3\xa9@b"},
    {"<a@b>  ", 0, 0, "a@b", "a", "b", "", B, "a@b"},
    {"<a@b> SIZE=1\r\n", 0, 0, "a@b", "a", "b", "", B, "a@b"},
    {"<a@b>\n", 0, 0, "a@b", "a", "b", "", B, "a@b"},
    {"<a@b>\r\r\n", 0, -1, "a@b", "a", "b", "", B | ADDR_F_TRAILING, "a@b"},
};

/* test_paths - every row parses to the expected parts, flags, verdict and echo */
static void
test_paths(void **state)
{
	char echo[ADDR_MAX + 64];
	struct smtp_path p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *c = &path_cases[i];
		size_t len = c->len ? c->len : strlen(c->in);
		int rc = addr_parse_path(c->in, len, &p);

		if (rc != c->rc || p.flags != c->flags || strcmp(p.raw, c->raw) != 0 ||
		    strcmp(p.local, c->local) != 0 || strcmp(p.domain, c->domain) != 0 ||
		    strcmp(p.route, c->route) != 0)
			print_error("row %zu: got rc=%d flags=%#x raw='%s' local='%s' domain='%s' "
			            "route='%s', want rc=%d flags=%#x raw='%s' local='%s' "
			            "domain='%s' route='%s'\n",
			            i, rc, p.flags, p.raw, p.local, p.domain, p.route, c->rc,
			            c->flags, c->raw, c->local, c->domain, c->route);
		assert_int_equal(rc, c->rc);
		assert_int_equal(p.flags, c->flags);
		assert_string_equal(p.raw, c->raw);
		assert_string_equal(p.local, c->local);
		assert_string_equal(p.domain, c->domain);
		assert_string_equal(p.route, c->route);
		addr_format(&p, DOM, true, echo, sizeof(echo));
		if (strcmp(echo, c->echo) != 0)
			print_error("row %zu: echo got '%s', want '%s'\n", i, echo, c->echo);
		assert_string_equal(echo, c->echo);
	}
}

struct param_case {
	const char *in;
	int rc;
	size_t nparams, dropped;
	const char *key[4];
	const char *value[4];
	bool has_value[4];
	unsigned extra_flags; /* besides BRACKETS */
};

static const struct param_case param_cases[] = {
    {"<a@b> SIZE=123", 0, 1, 0, {"SIZE"}, {"123"}, {true}, 0},
    {"<a@b> size=440 body=8BITMIME",
     0,
     2,
     0,
     {"SIZE", "BODY"},
     {"440", "8BITMIME"},
     {true, true},
     0},
    {"<a@b> RET=HDRS ENVID=x SMTPUTF8",
     0,
     3,
     0,
     {"RET", "ENVID", "SMTPUTF8"},
     {"HDRS", "x", ""},
     {true, true, false},
     0},
    {"<a@b> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@b",
     0,
     2,
     0,
     {"NOTIFY", "ORCPT"},
     {"SUCCESS,FAILURE", "rfc822;a@b"},
     {true, true},
     0},
    {"<a@b>SIZE=1", 0, 1, 0, {"SIZE"}, {"1"}, {true}, 0},
    {"<a@b>   AUTH=<>  X-Foo=  ", 0, 2, 0, {"AUTH", "X-FOO"}, {"<>", ""}, {true, true}, 0},
    {"<a@b> SIZE=1 =x", -1, 1, 0, {"SIZE"}, {"1"}, {true}, ADDR_F_TRAILING},
    {"<a@b> -X=1 Y=2", -1, 1, 0, {"Y"}, {"2"}, {true}, ADDR_F_TRAILING},
    {"<a@b> \xc3\xa9=1", -1, 0, 0, {NULL}, {NULL}, {false}, ADDR_F_TRAILING | ADDR_F_8BIT},
    {"<a@b> ENVID=\xc3\xa9", 0, 1, 0, {"ENVID"}, {"\xc3\xa9"}, {true}, ADDR_F_8BIT},
    {"<a@b> A B C D E F G H I J K L M N O P Q R",
     0,
     ADDR_PARAMS_MAX,
     2,
     {"A", "B", "C", "D"},
     {"", "", "", ""},
     {false, false, false, false},
     0},
};

/* test_params - keys upper-cased, values as sent, overflow counted, junk flagged */
static void
test_params(void **state)
{
	struct smtp_path p;
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(param_cases) / sizeof(param_cases[0]); i++) {
		const struct param_case *c = &param_cases[i];
		int rc = addr_parse_path(c->in, strlen(c->in), &p);

		if (rc != c->rc || p.nparams != c->nparams || p.nparams_dropped != c->dropped)
			print_error("row %zu: got rc=%d nparams=%zu dropped=%zu, want %d %zu %zu\n",
			            i, rc, p.nparams, p.nparams_dropped, c->rc, c->nparams,
			            c->dropped);
		assert_int_equal(rc, c->rc);
		assert_int_equal(p.nparams, c->nparams);
		assert_int_equal(p.nparams_dropped, c->dropped);
		assert_int_equal(p.flags, ADDR_F_BRACKETS | c->extra_flags);
		assert_string_equal(p.raw, "a@b");
		for (k = 0; k < 4 && c->key[k] != NULL; k++) {
			assert_string_equal(p.params[k].key, c->key[k]);
			assert_string_equal(p.params[k].value, c->value[k]);
			assert_int_equal(p.params[k].has_value, c->has_value[k]);
		}
	}
}

/* test_param_lookup - addr_param finds by key regardless of case, first one wins */
static void
test_param_lookup(void **state)
{
	const char *in = "<a@b> body=7BIT SIZE=10 SIZE=20";
	const struct smtp_param *sp;
	struct smtp_path p;

	(void)state;
	assert_int_equal(addr_parse_path(in, strlen(in), &p), 0);
	sp = addr_param(&p, "SIZE");
	assert_non_null(sp);
	assert_string_equal(sp->value, "10");
	sp = addr_param(&p, "body");
	assert_non_null(sp);
	assert_string_equal(sp->value, "7BIT");
	assert_null(addr_param(&p, "RET"));
	assert_null(addr_param(NULL, "SIZE"));
}

/* test_bounds - over-long paths, keys and values are cut, flagged, and never overrun */
static void
test_bounds(void **state)
{
	static char buf[4 * ADDR_MAX];
	struct smtp_path p;
	size_t n;

	(void)state;
	/* A path of exactly ADDR_MAX-1 bytes fits. */
	buf[0] = '<';
	memset(buf + 1, 'a', ADDR_MAX - 3);
	memcpy(buf + ADDR_MAX - 2, "@b>", 3);
	n = ADDR_MAX + 1;
	assert_int_equal(addr_parse_path(buf, n, &p), 0);
	assert_int_equal(strlen(p.raw), ADDR_MAX - 1);
	assert_int_equal(p.flags & ADDR_F_TRUNCATED, 0);
	assert_string_equal(p.domain, "b");

	/* One more byte is cut and refused. */
	memset(buf + 1, 'a', ADDR_MAX - 2);
	memcpy(buf + ADDR_MAX - 1, "@b>", 3);
	n = ADDR_MAX + 2;
	assert_int_equal(addr_parse_path(buf, n, &p), -1);
	assert_int_equal(strlen(p.raw), ADDR_MAX - 1);
	assert_true(p.flags & ADDR_F_TRUNCATED);

	/* Far too long, unbracketed, no terminator at all. */
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(addr_parse_path(buf, sizeof(buf), &p), -1);
	assert_true(p.flags & ADDR_F_TRUNCATED);
	assert_true(p.flags & ADDR_F_NO_DOMAIN);
	assert_int_equal(strlen(p.local), ADDR_MAX - 1);

	/* A long value and a long key are cut at their fields' sizes. */
	n = (size_t)snprintf(buf, sizeof(buf), "<a@b> ENVID=%0*d %0*d=1", 600, 0, 40, 0);
	assert_int_equal(addr_parse_path(buf, n, &p), 0);
	assert_int_equal(strlen(p.params[0].value), ADDR_PARAM_MAX - 1);
	assert_int_equal(strlen(p.params[1].key), sizeof(p.params[1].key) - 1);
	assert_true(p.flags & ADDR_F_TRUNCATED);

	/* Only NUL bytes: no crash, refused. */
	memset(buf, 0, 64);
	assert_int_equal(addr_parse_path(buf, 64, &p), -1);
	assert_int_equal(addr_parse_path(NULL, 0, &p), -1);
	assert_true(p.flags & ADDR_F_EMPTY);
	assert_int_equal(addr_parse_path("<a@b>", 5, NULL), -1);
}

/* test_format - the echo variants and small output buffers */
static void
test_format(void **state)
{
	struct smtp_path p;
	char out[16];

	(void)state;
	assert_int_equal(addr_parse_path("<spamtest>", 10, &p), 0);
	assert_string_equal(addr_format(&p, DOM, false, out, sizeof(out)), "spamtest");
	assert_string_equal(addr_format(&p, NULL, true, out, sizeof(out)), "spamtest");
	assert_string_equal(addr_format(&p, DOM, true, out, sizeof(out)), "spamtest@contos");
	assert_string_equal(addr_format(&p, DOM, true, out, 1), "");
	assert_ptr_equal(addr_format(&p, DOM, true, out, 0), out);
	assert_string_equal(addr_format(NULL, DOM, true, out, sizeof(out)), "");
}

struct route_case {
	unsigned flags;
	const char *want;
};

static const struct route_case route_cases[] = {
    {0, ""},
    {ADDR_F_BRACKETS | ADDR_F_NULL, ""},
    {ADDR_F_PERCENT, "percent"},
    {ADDR_F_PERCENT | ADDR_F_BANG, "percent,bang"},
    {ADDR_F_SOURCE_ROUTE | ADDR_F_QUOTED | ADDR_F_IP_LITERAL, "source_route,quoted,ip_literal"},
    {~0u, "percent,bang,source_route,quoted,ip_literal"},
};

/* test_routing_flags - names in a fixed order, non-routing flags ignored */
static void
test_routing_flags(void **state)
{
	char out[96];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(route_cases) / sizeof(route_cases[0]); i++) {
		addr_routing_flags_str(route_cases[i].flags, out, sizeof(out));
		if (strcmp(out, route_cases[i].want) != 0)
			print_error("row %zu: got '%s', want '%s'\n", i, out, route_cases[i].want);
		assert_string_equal(out, route_cases[i].want);
	}
	assert_string_equal(addr_routing_flags_str(ADDR_F_PERCENT | ADDR_F_BANG, out, 8),
	                    "percent");
}

/* test_random - random bytes rich in the parser's special characters never break the limits
 * and an accepted path always echoes without control bytes */
static void
test_random(void **state)
{
	static const char alphabet[] = "<>\"@%!:,[]. \t=\\\0\r\nab\x80\xff";
	static char in[3 * ADDR_MAX];
	char echo[2 * ADDR_MAX];
	struct smtp_path p;
	size_t iter, i, n, k;
	int rc;

	(void)state;
	for (iter = 0; iter < 20000; iter++) {
		n = rand_uniform(sizeof(in) + 1);
		for (i = 0; i < n; i++)
			in[i] = alphabet[rand_uniform(sizeof(alphabet) - 1)];
		rc = addr_parse_path(in, n, &p);
		assert_true(rc == 0 || rc == -1);
		assert_true(memchr(p.raw, '\0', sizeof(p.raw)) != NULL);
		assert_true(memchr(p.local, '\0', sizeof(p.local)) != NULL);
		assert_true(memchr(p.domain, '\0', sizeof(p.domain)) != NULL);
		assert_true(memchr(p.route, '\0', sizeof(p.route)) != NULL);
		assert_true(p.nparams <= ADDR_PARAMS_MAX);
		for (k = 0; k < p.nparams; k++)
			assert_true(memchr(p.params[k].value, '\0', ADDR_PARAM_MAX) != NULL);
		addr_format(&p, DOM, true, echo, sizeof(echo));
		for (k = 0; echo[k] != '\0'; k++)
			assert_false((unsigned char)echo[k] < 0x20 || echo[k] == 0x7f);
		if (rc == 0 && !(p.flags & ADDR_F_NULL))
			assert_true(p.local[0] != '\0');
	}
}

/* main - run every case of this suite */
int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_paths),        cmocka_unit_test(test_params),
	    cmocka_unit_test(test_param_lookup), cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_format),       cmocka_unit_test(test_routing_flags),
	    cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
