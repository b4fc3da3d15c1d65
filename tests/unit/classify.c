/* SPDX-License-Identifier: ISC */
/*
 * tests/unit/classify - table-driven cases for the report's judgements: every HELO name and
 * probe of the 2009 study, real host names that look random, hostile bytes (NUL, control
 * characters, invalid UTF-8, raw UTF-8 U-labels, 64 KiB names, 1 MiB bodies), relay-probe
 * reasons, and the template normalisation that groups scanner families and campaigns.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/classify.h"

/* the seed honeypot: "220 bps-pc9.local.mynet Microsoft ESMTP MAIL Service", reached on the
 * address the Super webscan probes name */
static const char *const self_addrs[] = {"82.155.248.223", "2001:db8::25", NULL};
static const struct helo_self seed_self = {"bps-pc9.local.mynet", "BPS-PC9", "local.mynet",
                                           self_addrs};

#define PEER "118.165.91.55" /* one of the seed's Taiwanese relay scanners */

struct helo_case {
	const char *name;
	size_t len; /* 0 = strlen(name) */
	const char *peer;
	bool self; /* classify against seed_self (else NULL) */
	enum helo_class want;
};

#define S true
#define N false

static const struct helo_case helo_cases[] = {
    /* the seed's HELO/EHLO names */
    {"localhost", 0, PEER, S, HELO_RESERVED},
    {"user-3i39rqqo1r", 0, PEER, S, HELO_RANDOM},
    {"premier-ksxhhv6", 0, PEER, S, HELO_RANDOM},
    {"mta101", 0, PEER, S, HELO_SINGLE_LABEL},
    {"msg-g09pmirpcam", 0, PEER, S, HELO_RANDOM},
    {"82.155.248.223", 0, PEER, S, HELO_SELF}, /* the Super webscan probe's HELO */
    {"82.155.248.223", 0, PEER, N, HELO_BARE_IP},
    /* missing */
    {NULL, 0, PEER, S, HELO_MISSING},
    {"", 0, PEER, S, HELO_MISSING},
    {"   \t", 0, PEER, S, HELO_MISSING},
    /* impersonation of the honeypot */
    {"bps-pc9.local.mynet", 0, PEER, S, HELO_SELF},
    {"BPS-PC9.LOCAL.MYNET.", 0, PEER, S, HELO_SELF},
    {"bps-pc9", 0, PEER, S, HELO_SELF},
    {"local.mynet", 0, PEER, S, HELO_SELF},
    {"exchange.local.mynet", 0, PEER, S, HELO_SELF},
    {"[82.155.248.223]", 0, PEER, S, HELO_SELF},
    {"[IPv6:2001:db8::25]", 0, PEER, S, HELO_SELF},
    {"[IPv6:2001:DB8:0:0:0:0:0:25]", 0, PEER, S, HELO_SELF},
    {"2001:db8::25", 0, PEER, S, HELO_SELF},
    {"mynet", 0, PEER, S, HELO_SINGLE_LABEL},
    {"pc9.mynet", 0, PEER, S, HELO_FQDN},
    /* a client that really is on the honeypot's address is not impersonating it */
    {"[82.155.248.223]", 0, "82.155.248.223", S, HELO_LITERAL_MATCH},
    {"82.155.248.223", 0, "82.155.248.223", S, HELO_BARE_IP},
    /* reserved names (RFC 2606, 6761, 6762, 8375) */
    {"LOCALHOST", 0, PEER, S, HELO_RESERVED},
    {"localhost.", 0, PEER, S, HELO_RESERVED},
    {"localhost.localdomain", 0, PEER, S, HELO_RESERVED},
    {"localdomain", 0, PEER, S, HELO_RESERVED},
    {"host.localdomain", 0, PEER, S, HELO_RESERVED},
    {"printer.local", 0, PEER, S, HELO_RESERVED},
    {"my_pc.local", 0, PEER, S, HELO_RESERVED},
    {"pc.lan", 0, PEER, S, HELO_RESERVED},
    {"router.home", 0, PEER, S, HELO_RESERVED},
    {"nas.home.arpa", 0, PEER, S, HELO_RESERVED},
    {"mail.invalid", 0, PEER, S, HELO_RESERVED},
    {"a.test", 0, PEER, S, HELO_RESERVED},
    {"example.com", 0, PEER, S, HELO_RESERVED},
    {"www.example.org", 0, PEER, S, HELO_RESERVED},
    {"srv.corp", 0, PEER, S, HELO_RESERVED},
    {"dc1.internal", 0, PEER, S, HELO_RESERVED},
    {"abc.onion", 0, PEER, S, HELO_RESERVED},
    {"test", 0, PEER, S, HELO_SINGLE_LABEL},
    {"example", 0, PEER, S, HELO_SINGLE_LABEL},
    {"notexample.com", 0, PEER, S, HELO_FQDN},
    {"localhost.com", 0, PEER, S, HELO_FQDN},
    /* address literals */
    {"[118.165.91.55]", 0, PEER, S, HELO_LITERAL_MATCH},
    {"[118.165.91.55]", 0, "::ffff:118.165.91.55", S, HELO_LITERAL_MATCH},
    {"[IPv6:::ffff:118.165.91.55]", 0, PEER, S, HELO_LITERAL_MATCH},
    {"[ipv6:2001:db8::1]", 0, "2001:db8::1", S, HELO_LITERAL_MATCH},
    {"[IPv6:2001:db8:0:0:0:0:0:1]", 0, "2001:db8::1", S, HELO_LITERAL_MATCH},
    {"[1.2.3.4]", 0, PEER, S, HELO_LITERAL_OTHER},
    {"[127.0.0.1]", 0, PEER, S, HELO_LITERAL_OTHER},
    {"[IPv6:2001:db8::1]", 0, PEER, S, HELO_LITERAL_OTHER},
    {"[1.2.3.4]", 0, NULL, S, HELO_LITERAL_MATCH}, /* nothing to contradict it */
    {"[1.2.3.4]", 0, "not an address", S, HELO_LITERAL_MATCH},
    {"[x-tag:some.thing]", 0, PEER, S, HELO_INVALID}, /* tag not registered with IANA */
    {"[1.2.3.256]", 0, PEER, S, HELO_INVALID},
    {"[1.2.3]", 0, PEER, S, HELO_INVALID},
    {"[1.2.3.4", 0, PEER, S, HELO_INVALID},
    {"[1.2.3.4]x", 0, PEER, S, HELO_INVALID},
    {"[]", 0, PEER, S, HELO_INVALID},
    {"[", 0, PEER, S, HELO_INVALID},
    {"[IPv6:zz::1]", 0, PEER, S, HELO_INVALID},
    {"[IPv6:1.2.3.4]", 0, PEER, S, HELO_INVALID},
    {"[2001:db8::1]", 0, "2001:db8::1", S, HELO_INVALID}, /* IPv6 needs its tag */
    /* bare addresses */
    {"1.2.3.4", 0, PEER, S, HELO_BARE_IP},
    {"118.165.91.55", 0, PEER, S, HELO_BARE_IP},
    {"001.002.003.004", 0, PEER, S, HELO_BARE_IP},
    {"2001:db8::1", 0, PEER, S, HELO_BARE_IP},
    {"IPv6:2001:db8::1", 0, PEER, S, HELO_BARE_IP},
    {"::1", 0, PEER, S, HELO_BARE_IP},
    /* invalid syntax */
    {"my_pc", 0, PEER, S, HELO_INVALID},
    {"a..b", 0, PEER, S, HELO_INVALID},
    {".a.com", 0, PEER, S, HELO_INVALID},
    {"-a.com", 0, PEER, S, HELO_INVALID},
    {"a-.com", 0, PEER, S, HELO_INVALID},
    {"mail.contoso.com.", 0, PEER, S, HELO_INVALID}, /* RFC 5321 Domain has no root dot */
    {"1.2.3", 0, PEER, S, HELO_INVALID},
    {"1.2.3.4.", 0, PEER, S, HELO_INVALID},
    {"300.1.1.1", 0, PEER, S, HELO_INVALID},
    {"host.123", 0, PEER, S, HELO_INVALID},
    {"foo bar", 0, PEER, S, HELO_INVALID},
    {"mail.contoso.com extra", 0, PEER, S, HELO_INVALID},
    {"foo\tbar", 0, PEER, S, HELO_INVALID},
    {"local\0host", 10, PEER, S, HELO_INVALID},
    {"localhost\0", 10, PEER, S, HELO_INVALID},
    {"\x01host.com", 0, PEER, S, HELO_INVALID},
    {"host.com\x7f", 0, PEER, S, HELO_INVALID},
    {"\x1b[31mred", 0, PEER, S, HELO_INVALID},
    {"\xff\xfe\xfd", 0, PEER, S, HELO_INVALID},
    {"mail.\xc3\x28.com", 0, PEER, S, HELO_INVALID},
    /* raw UTF-8 U-labels: EHLO comes before SMTPUTF8 could be negotiated (RFC 6531), so only
     * A-labels are valid there */
    {"b\xc3\xbc"
     "cher.de",
     0, PEER, S, HELO_INVALID},
    {"mail.\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.com", 0, PEER, S, HELO_INVALID},
    {"xn--bcher-kva.de", 0, PEER, S, HELO_FQDN},
    {"mail.xn--80ak6aa92e.com", 0, PEER, S, HELO_FQDN},
    {"xn--80ak6aa92e", 0, PEER, S, HELO_SINGLE_LABEL},
    {"[IPv6:\xff::1]", 0, PEER, S, HELO_INVALID},
    /* single labels */
    {"mailserver", 0, PEER, S, HELO_SINGLE_LABEL},
    {"exchange", 0, PEER, S, HELO_SINGLE_LABEL},
    {"USER-PC", 0, PEER, S, HELO_SINGLE_LABEL},
    {"ylmf-pc", 0, PEER, S, HELO_SINGLE_LABEL},
    {"ubuntu-s-1vcpu-1gb-nyc1-01", 0, PEER, S, HELO_SINGLE_LABEL},
    {"ip-172-31-1-2", 0, PEER, S, HELO_SINGLE_LABEL},
    {"smtprelay", 0, PEER, S, HELO_SINGLE_LABEL},
    {"mxbackup", 0, PEER, S, HELO_SINGLE_LABEL},
    {"ESMTP", 0, PEER, S, HELO_SINGLE_LABEL},
    /* machine-generated */
    {"WIN-5P3K7GGN6FQ", 0, PEER, S, HELO_RANDOM},
    {"DESKTOP-7G2K1QF", 0, PEER, S, HELO_RANDOM},
    {"kjhasd", 0, PEER, S, HELO_RANDOM},
    {"3f4e5a6b7c8d", 0, PEER, S, HELO_RANDOM},
    {"web-7d4b9c8f6d-x2k9p", 0, PEER, S, HELO_RANDOM},
    {"mail.ksxhhvqz.com", 0, PEER, S, HELO_RANDOM},
    {"qwzrtpxk.net", 0, PEER, S, HELO_RANDOM},
    /* real names that look random: judged by their registered label only */
    {"mx1.qq.com", 0, PEER, S, HELO_FQDN},
    {"smtp.163.com", 0, PEER, S, HELO_FQDN},
    {"bxvmta.mailgun.net", 0, PEER, S, HELO_FQDN},
    {"a12-34.smtp-out.amazonses.com", 0, PEER, S, HELO_FQDN},
    {"mail-wm1-f54.google.com", 0, PEER, S, HELO_FQDN},
    {"o1.ptr1234.sendgrid.net", 0, PEER, S, HELO_FQDN},
    {"mail82.us4.mcsv.net", 0, PEER, S, HELO_FQDN},
    {"mail137-5.atl71.rsgsv.net", 0, PEER, S, HELO_FQDN},
    {"mail.suw91.mcdlv.net", 0, PEER, S, HELO_FQDN},
    {"ool-4357abcd.dyn.optonline.net", 0, PEER, S, HELO_FQDN},
    {"118-165-91-55.dynamic-ip.hinet.net", 0, PEER, S, HELO_FQDN},
    {"mail.bbc.co.uk", 0, PEER, S, HELO_FQDN},
    {"smtp.guangzhou-mail.com.cn", 0, PEER, S, HELO_FQDN},
    {"mx.zhengzhou.gov.cn", 0, PEER, S, HELO_FQDN},
    {"mail.contoso.com", 0, PEER, S, HELO_FQDN},
    {"  mail.contoso.com\r\n", 0, PEER, S, HELO_FQDN},
    {"MAIL.CONTOSO.COM", 0, PEER, N, HELO_FQDN},
};

static void
test_helo_table(void **state)
{
	(void)state;
	int bad = 0;

	for (size_t i = 0; i < sizeof(helo_cases) / sizeof(helo_cases[0]); i++) {
		const struct helo_case *c = &helo_cases[i];
		size_t len = c->len ? c->len : (c->name ? strlen(c->name) : 0);
		enum helo_class got =
		    helo_classify(c->name, len, c->peer, c->self ? &seed_self : NULL);

		if (got != c->want) {
			printf("helo case %zu \"%s\" (peer %s): got %s, want %s\n", i,
			       c->name ? c->name : "(null)", c->peer ? c->peer : "(null)",
			       helo_class_name(got), helo_class_name(c->want));
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* names far over any limit are refused quickly and never read past len */
static void
test_helo_huge(void **state)
{
	(void)state;
	size_t n = 64 * 1024;
	char *big = malloc(n);

	assert_non_null(big);
	memset(big, 'a', n);
	assert_int_equal(helo_classify(big, n, PEER, &seed_self), HELO_INVALID);
	/* 255 bytes is the RFC 5321 limit for a domain: 4 labels of 63 and 3 dots */
	memset(big, 'a', 255);
	big[63] = big[127] = big[191] = '.';
	assert_int_equal(helo_classify(big, 255, PEER, &seed_self), HELO_FQDN);
	big[255] = 'a';
	assert_int_equal(helo_classify(big, 256, PEER, &seed_self), HELO_INVALID);
	/* a 64-byte label */
	memset(big, 'a', 64);
	/* byte by byte: gcc's -Warray-bounds misjudges a memcpy into the malloc'd buffer here */
	big[64] = '.';
	big[65] = 'c';
	big[66] = 'o';
	big[67] = 'm';
	assert_int_equal(helo_classify(big, 68, PEER, &seed_self), HELO_INVALID);
	assert_int_equal(helo_classify(big + 1, 67, PEER, &seed_self), HELO_FQDN);
	/* many empty labels, and 200 labels of one letter (over 255 bytes) */
	memset(big, '.', 1000);
	assert_int_equal(helo_classify(big, 1000, PEER, &seed_self), HELO_INVALID);
	for (size_t i = 0; i < 400; i += 2) {
		big[i] = 'a';
		big[i + 1] = '.';
	}
	assert_int_equal(helo_classify(big, 399, PEER, &seed_self), HELO_INVALID);
	/* a self structure with no fields, and addrs with an unparsable entry */
	static const char *const odd[] = {"", "[82.155.248.223]", "garbage", NULL};
	struct helo_self empty = {NULL, NULL, NULL, NULL}, brackets = {NULL, NULL, "", odd};
	assert_int_equal(helo_classify("82.155.248.223", 14, PEER, &empty), HELO_BARE_IP);
	assert_int_equal(helo_classify("82.155.248.223", 14, PEER, &brackets), HELO_SELF);
	assert_int_equal(helo_classify("x.com", 5, PEER, &brackets), HELO_FQDN);
	free(big);
}

static void
test_helo_names(void **state)
{
	(void)state;
	const char *seen[HELO__COUNT];

	for (int c = 0; c < HELO__COUNT; c++) {
		seen[c] = helo_class_name((enum helo_class)c);
		assert_non_null(seen[c]);
		assert_non_null(helo_class_label((enum helo_class)c));
		assert_string_not_equal(seen[c], "unknown");
		for (int k = 0; k < c; k++)
			assert_string_not_equal(seen[k], seen[c]);
	}
	assert_string_equal(helo_class_name(HELO_FQDN), "fqdn");
	assert_string_equal(helo_class_name(HELO_SINGLE_LABEL), "single_label");
	assert_string_equal(helo_class_label(HELO_RANDOM), "machine-generated");
	assert_string_equal(helo_class_name(HELO__COUNT), "unknown");
	assert_string_equal(helo_class_label((enum helo_class) - 1), "unknown");
}

struct random_case {
	const char *label;
	bool want;
};

static const struct random_case random_cases[] = {
    {"user-3i39rqqo1r", true},
    {"premier-ksxhhv6", true},
    {"msg-g09pmirpcam", true},
    {"ksxhhv", true},
    {"3i39rqqo1r", true},
    {"g09pmirpcam", true},
    {"WIN-5P3K7GGN6FQ", true},
    {"7g2k1qf", true},
    {"deadbeef1234", true},
    {"xkqzvbtw", true},
    {"hjdfkg", true},
    {"mta101", false},
    {"mx1", false},
    {"smtp", false},
    {"premier", false},
    {"exchange", false},
    {"mailserver", false},
    {"localhost", false},
    {"bps-pc9", false},
    {"amazonses", false},
    {"mailgun", false},
    {"sendgrid", false},
    {"google", false},
    {"ubuntu-s-1vcpu-1gb-nyc1-01", false},
    {"server01", false},
    {"smtprelay", false},
    {"mxbackup", false},
    {"guangzhou", false},
    {"zhengzhou", false},
    {"qingdao", false},
    {"mail2world", false},
    {"facade", false},
    {"abc", false},
    {"", false},
    {"b\xc3\xbc"
     "cher",
     false},
    {"\xff\xfe", false},
};

static void
test_random_table(void **state)
{
	(void)state;
	int bad = 0;

	for (size_t i = 0; i < sizeof(random_cases) / sizeof(random_cases[0]); i++) {
		const struct random_case *c = &random_cases[i];
		double sc = -1;
		bool got = name_looks_random(c->label, strlen(c->label), &sc);

		if (got != c->want || sc < 0 || sc > 1) {
			printf("random case \"%s\": got %d (score %.2f), want %d\n", c->label, got,
			       sc, c->want);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
	assert_false(name_looks_random(NULL, 10, NULL));
}

/* ---- probes ------------------------------------------------------------------------------ */

struct probe_case {
	const char *what;
	const char *subject, *body, *mail_from;
	const char *rcpts[4];
	const char *raw[4];
	unsigned rcpt_flags;
	bool self;
	unsigned want;
	size_t body_len; /* 0 = strlen(body) */
};

#define SELF PROBE_SELF_IN_TEXT
#define SCAN PROBE_SCANNER_TEXT
#define SIR PROBE_SENDER_IS_RCPT
#define ROUTE PROBE_ROUTING_TRICK
#define RCPTS PROBE_PROBE_RCPTS
#define SUBJ PROBE_RELAY_SUBJECT

static const struct probe_case probe_cases[] = {
    {"seed: Super webscan",
     "Super webscan open relay check succeded, hostname = 82.155.248.223",
     "",
     "",
     {""},
     {NULL},
     0,
     S,
     SELF | SCAN,
     0},
    {"seed: Super webscan, honeypot unknown",
     "Super webscan open relay check succeded, hostname = 82.155.248.223",
     "",
     "",
     {""},
     {NULL},
     0,
     N,
     SCAN,
     0},
    {"seed: BC_ subject spammer",
     "BC_82.155.126.2",
     "Hello, I'm a spammer!",
     "from@domain.com",
     {"to@domain.com"},
     {NULL},
     0,
     S,
     SUBJ,
     0},
    {"honeypot name in the body",
     "check",
     "relay works via bps-pc9.local.mynet, port 25",
     "a@b.example",
     {"c@d.example"},
     {NULL},
     0,
     S,
     SELF,
     0},
    {"honeypot name inside a longer name",
     "x",
     "see bps-pc9.local.mynet.evil.example",
     "a@b.example",
     {"c@d.example"},
     {NULL},
     0,
     S,
     0,
     0},
    {"honeypot address inside a longer number",
     "182.155.248.2231 report",
     "",
     "a@b.example",
     {"c@d.example"},
     {NULL},
     0,
     S,
     0,
     0},
    {"honeypot IPv6 in the body",
     "x",
     "target=[2001:db8::25]",
     "a@b.example",
     {"c@d.example"},
     {NULL},
     0,
     S,
     SELF,
     0},
    {"sender is recipient, foreign",
     "hi",
     "hello there",
     "<bob@yahoo.com>",
     {"<BOB@yahoo.com>"},
     {NULL},
     0,
     S,
     SIR,
     0},
    {"sender is recipient, our domain",
     "hi",
     "hello there",
     "bob@local.mynet",
     {"bob@local.mynet"},
     {NULL},
     0,
     S,
     0,
     0},
    {"sender is recipient, our literal",
     "hi",
     "hello there",
     "bob@[82.155.248.223]",
     {"bob@[82.155.248.223]"},
     {NULL},
     0,
     S,
     0,
     0},
    {"null sender", "hi", "hello there", "<>", {"<>"}, {NULL}, 0, S, 0, 0},
    {"percent hack",
     "hi",
     "hello",
     "a@b.example",
     {"user%example.org@bps-pc9.local.mynet"},
     {"<user%example.org@bps-pc9.local.mynet>"},
     0,
     S,
     ROUTE,
     0},
    {"bang path",
     "hi",
     "hello",
     "a@b.example",
     {"example.org!user@local.mynet"},
     {"<example.org!user>"},
     0,
     S,
     ROUTE,
     0},
    {"source route",
     "hi",
     "hello",
     "a@b.example",
     {"user@example.org"},
     {"<@bps-pc9.local.mynet:user@example.org>"},
     0,
     S,
     ROUTE,
     0},
    {"quoted local part",
     "hi",
     "hello",
     "a@b.example",
     {"\"user@example.org\"@local.mynet"},
     {"<\"user@example.org\">"},
     0,
     S,
     ROUTE,
     0},
    {"two @",
     "hi",
     "hello",
     "a@b.example",
     {"user@example.org@[82.155.248.223]"},
     {NULL},
     0,
     S,
     ROUTE,
     0},
    {"routing flags from the session",
     "hi",
     "hello",
     "a@b.example",
     {"c@d.example"},
     {NULL},
     PROBE_RCPT_BANG,
     S,
     ROUTE,
     0},
    {"quoted local part without routing",
     "hi",
     "hello",
     "a@b.example",
     {"\"john doe\"@example.org"},
     {"<\"john doe\"@example.org>"},
     0,
     S,
     ROUTE,
     0},
    {"nmap smtp-open-relay",
     NULL,
     NULL,
     "<>",
     {"relaytest@nmap.scanme.org"},
     {NULL},
     0,
     S,
     RCPTS,
     0},
    {"drop box with an address subject",
     "118.165.91.55",
     "",
     "x@y.example",
     {"check3r@yahoo.com.tw"},
     {NULL},
     0,
     S,
     RCPTS | SUBJ,
     0},
    {"drop box with an address body",
     "hello",
     "  82.155.248.223:25\r\n",
     "x@y.example",
     {"check3r@ms12.hinet.net"},
     {NULL},
     0,
     S,
     SELF | RCPTS,
     0},
    {"drop box, empty message",
     "",
     "",
     "x@y.example",
     {"<drop@gmail.com>"},
     {NULL},
     0,
     S,
     RCPTS,
     0},
    {"drop box, ordinary text",
     "Meeting",
     "See you at noon.",
     "x@y.example",
     {"someone@gmail.com"},
     {NULL},
     0,
     S,
     0,
     0},
    {"many drop boxes are a campaign",
     "1.2.3.4",
     "",
     "x@y.example",
     {"a@gmail.com", "b@gmail.com", "c@gmail.com"},
     {NULL},
     0,
     S,
     SUBJ,
     0},
    {"relay-test subject", " test ", "x", "a@b.example", {"c@d.example"}, {NULL}, 0, S, SUBJ, 0},
    {"ip:port subject",
     "[1.2.3.4]:25 ok",
     "x",
     "a@b.example",
     {"c@d.example"},
     {NULL},
     0,
     S,
     SUBJ,
     0},
    {"subject with our name",
     "bps-pc9.local.mynet",
     "x",
     "a@b.example",
     {"c@d.example"},
     {NULL},
     0,
     S,
     SELF | SUBJ,
     0},
    {"address in a long spam subject",
     "Your IP 1.2.3.4 has been listed, click to remove now",
     "x",
     "a@b.example",
     {"c@d.example"},
     {NULL},
     0,
     S,
     0,
     0},
    {"scanner phrases", "Relay-Test", "", "a@b.example", {"c@d.example"}, {NULL}, 0, S, SCAN, 0},
    {"openrelay",
     "x",
     "OPENRELAY check from host 1",
     "a@b.example",
     {"c@d.example"},
     {NULL},
     0,
     S,
     SCAN,
     0},
    {"DSBL",
     "x",
     "DSBL LISTME: smtp 1.2.3.4\r\n",
     "a@b.example",
     {"c@d.example"},
     {NULL},
     0,
     S,
     SCAN,
     0},
    {"proxy checker",
     "Message from proxy checker",
     "",
     "a@b.example",
     {"c@d.example"},
     {NULL},
     0,
     S,
     SCAN,
     0},
    {"smtp test", "SMTP test message", "", "a@b.example", {"c@d.example"}, {NULL}, 0, S, SCAN, 0},
    {"phrase not at a word start",
     "reopen relaying",
     "",
     "a@b.example",
     {"c@d.example"},
     {NULL},
     0,
     S,
     0,
     0},
    {"ordinary spam",
     "Cheap meds 80% off today only",
     "Buy now at http://pills.example/x",
     "news@pharma.example",
     {"a@x.example", "b@y.example", "c@z.example"},
     {NULL},
     0,
     S,
     0,
     0},
    {"nothing at all", NULL, NULL, NULL, {NULL}, {NULL}, 0, S, 0, 0},
    {"hostile bytes around a phrase",
     "\x01\xff",
     "\0\xc3\x28 open relay \x7f",
     "a@b.example",
     {"c@d.example"},
     {NULL},
     0,
     S,
     SCAN,
     16},
};

static unsigned
run_probe(const struct probe_case *c)
{
	struct probe_input in;
	size_t n = 0;

	while (n < 4 && c->rcpts[n] != NULL)
		n++;
	memset(&in, 0, sizeof(in));
	in.subject = c->subject;
	in.subject_len = c->subject ? strlen(c->subject) : 0;
	in.body = c->body;
	in.body_len = c->body_len ? c->body_len : (c->body ? strlen(c->body) : 0);
	in.mail_from = c->mail_from;
	in.rcpts = n ? c->rcpts : NULL;
	in.rcpt_raw = c->raw[0] ? c->raw : NULL;
	in.nrcpts = n;
	in.rcpt_flags = c->rcpt_flags;
	return probe_detect(&in, c->self ? &seed_self : NULL);
}

static void
reasons(unsigned r, char *out, size_t outlen)
{
	size_t o = 0;

	out[0] = '\0';
	for (unsigned b = 0; b < PROBE_REASON_COUNT; b++)
		if (r & (1u << b))
			o += (size_t)snprintf(out + o, outlen - o, "%s%s", o ? "," : "",
			                      probe_reason_name(b));
}

static void
test_probe_table(void **state)
{
	(void)state;
	int bad = 0;
	char g[128], w[128];

	for (size_t i = 0; i < sizeof(probe_cases) / sizeof(probe_cases[0]); i++) {
		const struct probe_case *c = &probe_cases[i];
		unsigned got = run_probe(c);

		if (got != c->want) {
			reasons(got, g, sizeof(g));
			reasons(c->want, w, sizeof(w));
			printf("probe case %zu (%s): got {%s}, want {%s}\n", i, c->what, g, w);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
	assert_int_equal(probe_detect(NULL, &seed_self), 0);
}

/* bodies are read up to a cap: a phrase at the start is found, one past 4 KiB is not, and a
 * 1 MiB body costs no more than 4 KiB */
static void
test_probe_huge(void **state)
{
	(void)state;
	size_t n = 1024 * 1024;
	char *body = malloc(n);
	struct probe_input in;
	const char *rcpt[] = {"c@d.example"};

	assert_non_null(body);
	memset(body, 'x', n);
	memset(&in, 0, sizeof(in));
	in.subject = "";
	in.body = body;
	in.body_len = n;
	in.mail_from = "a@b.example";
	in.rcpts = rcpt;
	in.nrcpts = 1;
	assert_int_equal(probe_detect(&in, &seed_self), 0);
	memcpy(body + n - 20, " open relay ", 12);
	assert_int_equal(probe_detect(&in, &seed_self), 0);
	memcpy(body, "open relay ", 11);
	assert_int_equal(probe_detect(&in, &seed_self), PROBE_SCANNER_TEXT);
	/* a subject made of one huge token and a huge sender */
	in.subject = body + 11;
	in.subject_len = n - 11;
	memset(body, 'y', n);
	body[n - 1] = '\0';
	in.mail_from = body;
	in.rcpts = (const char *const *)&in.mail_from;
	assert_int_equal(probe_detect(&in, &seed_self), 0);
	free(body);
}

static void
test_probe_names(void **state)
{
	(void)state;
	for (unsigned b = 0; b < PROBE_REASON_COUNT; b++) {
		assert_string_not_equal(probe_reason_name(b), "unknown");
		assert_string_not_equal(probe_reason_label(b), "unknown");
		for (unsigned k = 0; k < b; k++)
			assert_string_not_equal(probe_reason_name(k), probe_reason_name(b));
	}
	assert_string_equal(probe_reason_name(0), "self_in_text");
	assert_string_equal(probe_reason_name(5), "relay_subject");
	assert_string_equal(probe_reason_label(PROBE_REASON_COUNT), "unknown");
	assert_int_equal(PROBE_RELAY_SUBJECT, 1u << (PROBE_REASON_COUNT - 1));
}

/* ---- templates --------------------------------------------------------------------------- */

struct tpl_case {
	const char *in;
	size_t len; /* 0 = strlen */
	const char *want;
};

static const struct tpl_case tpl_cases[] = {
    {"Super webscan open relay check succeded, hostname = 82.155.248.223", 0,
     "super webscan open relay check succeded, hostname = <ip>"},
    {"BC_82.155.126.2", 0, "bc_<ip>"},
    {"Sun, 07 Dec 08 19:24:09 GMT", 0, "<date>"},
    {"Date: Mon, 12 Jan 2009 01:02:03 +0000 (UTC)", 0, "date: <date>"},
    {"sent 2009-01-11T19:32:00Z by cron", 0, "sent <date> by cron"},
    {"on 11/01/2009 at 19:32", 0, "on <date> at <date>"},
    {"Dec 7 offer", 0, "<date> offer"},
    {"You have 3 new messages (id 84721)", 0, "you have <n> new messages (id <n>)"},
    {"Only $1,299.99 today, 50% off", 0, "only $<n> today, <n>% off"},
    {"Viagra 100mg x 30 pills", 0, "viagra <n>mg x <n> pills"},
    {"write to John.Smith@Example.COM now", 0, "write to <email> now"},
    {"<user@[1.2.3.4]>", 0, "<<email>>"},
    {"visit http://pills.example/buy?id=42 or www.pills.example", 0, "visit <url> or <url>"},
    {"relay via mail.contoso.com.", 0, "relay via <host>."},
    {"v1.2.3 of file.tar", 0, "v<n>.<n> of <host>"},
    {"token 4f3a9c2b11d0 and DESKTOP-7G2K1QF", 0, "token <id> and desktop-<id>"},
    {"hash aGVsbG8gV29ybGQgSGVsbG8", 0, "hash <id>"},
    {"Re: qxzkvw offer for strength", 0, "re: <id> offer for strength"},
    {"from [IPv6:2001:db8::1] and 2001:db8::25", 0, "from [<ip>] and <ip>"},
    {"hostname=2001:db8::1, fe80::1.", 0, "hostname=<ip>, <ip>."},
    {"at 19:24:09 on ::ffff:1.2.3.4", 0, "at <date> on <ip>"},
    {"EHLO premier-ksxhhv6 and msg-g09pmirpcam", 0, "ehlo premier-<id> and msg-<id>"},
    {"  lots   of\t\twhite\r\nspace  ", 0, "lots of white space"},
    {"ctl\x01\x1b[0m and DEL\x7f", 0, "ctl??[<n>m and del?"},
    {"nul\0byte", 8, "nul?byte"},
    {"bad \xc3\x28 utf8 \xff", 0, "bad ?( utf<n> ?"},
    {"Gr\xc3\xb6\xc3\x9f"
     "e \xe4\xbd\xa0\xe5\xa5\xbd",
     0,
     "gr\xc3\xb6\xc3\x9f"
     "e \xe4\xbd\xa0\xe5\xa5\xbd"},
    {"", 0, ""},
    {"   ", 0, ""},
};

static void
test_template_table(void **state)
{
	(void)state;
	char out[512];
	int bad = 0;

	for (size_t i = 0; i < sizeof(tpl_cases) / sizeof(tpl_cases[0]); i++) {
		const struct tpl_case *c = &tpl_cases[i];
		size_t len = c->len ? c->len : strlen(c->in);
		size_t n = template_normalise(c->in, len, out, sizeof(out));

		if (strcmp(out, c->want) != 0 || n != strlen(out)) {
			printf("template case %zu: got \"%s\" (%zu), want \"%s\"\n", i, out, n,
			       c->want);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* check_prefix - template_normalise_prefix(want) is either the whole template (cut false) or
 * exactly its first want bytes with cut set (the whole being at least as long), for every
 * want */
static int
check_prefix(const char *in, size_t len)
{
	char full[512], part[512];
	size_t fn = template_normalise(in, len, full, sizeof(full)), n;
	int bad = 0;
	bool cut;

	for (size_t want = 1; want <= fn + 2 && want < sizeof(part); want++) {
		n = template_normalise_prefix(in, len, part, sizeof(part), want, &cut);
		if (cut ? (n != want || want > fn || memcmp(part, full, want) != 0)
		        : (n != fn || strcmp(part, full) != 0)) {
			printf(
			    "prefix of \"%.60s\" at %zu: got \"%s\" (%zu, cut %d), whole \"%s\"\n",
			    in, want, part, n, cut, full);
			bad++;
		}
		if (part[n] != '\0')
			bad++;
	}
	return bad;
}

static void
test_template_prefix(void **state)
{
	/* date runs that cross the point where the prefix stops: a run may still collapse into
	 * <date>, so the prefix must wait for it to close */
	static const char *const texts[] = {
	    "Sent on Sun, 07 Dec 2025 19:24:09 +0000 (UTC) from 192.0.2.1 to you@example.com",
	    "jan 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 then words",
	    ("Mon Tue Wed Thu Fri 12 Dec 2025 order 12345 ready at "
	     "http://shop.example/x?id=9f8e7d6c"),
	    "Dear friend, cheap watches 100mg win32 AbCdEfGhIjKlMnOpQr xk3j9q2z8w buy now!!!",
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		bad += check_prefix(texts[i], strlen(texts[i]));
	for (size_t i = 0; i < sizeof(tpl_cases) / sizeof(tpl_cases[0]); i++) {
		const struct tpl_case *c = &tpl_cases[i];
		bad += check_prefix(c->in, c->len ? c->len : strlen(c->in));
	}
	assert_int_equal(bad, 0);
}

/* texts that differ only in addresses, numbers, dates and ids give one template */
static void
test_template_groups(void **state)
{
	(void)state;
	static const char *const groups[][3] = {
	    {"Super webscan open relay check succeded, hostname = 82.155.248.223",
	     "Super webscan open relay check succeded, hostname = 10.1.2.3",
	     "SUPER WEBSCAN open relay check succeded,  hostname = 192.0.2.77"},
	    {"Super webscan open relay check succeded, hostname = mail.contoso.com",
	     "Super webscan open relay check succeded, hostname = mx2.fabrikam.example.net",
	     "Super webscan open relay check succeded, hostname = smtp.example.org"},
	    {"Your order #12345 has shipped on 2009-01-11",
	     "Your order #987 has shipped on 2008-12-07",
	     "Your order #5 has shipped on 2009-02-28"},
	    {"Hi bob@example.com, you won $1,000,000!", "Hi alice@example.org, you won $50!",
	     "hi carol@mail.example.net, you won $7,500!"},
	    {"Sun, 07 Dec 08 19:24:09 GMT spam", "Mon, 12 Jan 2009 01:02:03 +0000 spam",
	     "Tue, 3 Feb 2009 23:59:59 -0800 (PST) spam"},
	    {"ref a3f9c2d1e4 from host-1", "ref 7b2e9d0c4f11 from host-22",
	     "ref 00ab12cd34ef from host-333"},
	    {"Cheap watches kjhsdfq", "Cheap watches zxcvbnm", "Cheap watches qwrtpsdk"},
	};
	char a[256], b[256];

	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		template_normalise(groups[g][0], strlen(groups[g][0]), a, sizeof(a));
		for (int k = 1; k < 3; k++) {
			template_normalise(groups[g][k], strlen(groups[g][k]), b, sizeof(b));
			if (strcmp(a, b) != 0)
				printf("group %zu: \"%s\" != \"%s\"\n", g, a, b);
			assert_string_equal(a, b);
		}
	}
	/* different scanners stay apart */
	template_normalise("Super webscan open relay check", 30, a, sizeof(a));
	template_normalise("Relay test message from 1.2.3.4", 31, b, sizeof(b));
	assert_string_not_equal(a, b);
}

/* output bounds: never more than outlen-1 bytes, always NUL-terminated, no cut placeholder,
 * and a 1 MiB input costs what its first 4 KiB cost */
static void
test_template_bounds(void **state)
{
	(void)state;
	const char *t = "hostname = 82.155.248.223 and more words here";
	char out[64];
	size_t n;

	assert_int_equal(template_normalise(t, strlen(t), NULL, 10), 0);
	out[0] = 'x';
	assert_int_equal(template_normalise(t, strlen(t), out, 0), 0);
	assert_int_equal(out[0], 'x');
	assert_int_equal(template_normalise(t, strlen(t), out, 1), 0);
	assert_string_equal(out, "");
	for (size_t cap = 1; cap <= sizeof(out); cap++) {
		memset(out, 'Z', sizeof(out));
		n = template_normalise(t, strlen(t), out, cap);
		assert_true(n < cap);
		assert_int_equal(out[n], '\0');
		assert_int_equal(strlen(out), n);
		/* placeholders come whole or not at all */
		for (const char *p = strchr(out, '<'); p != NULL; p = strchr(p + 1, '<'))
			assert_true(strncmp(p, "<ip>", 4) == 0);
		if (cap > 1 && cap <= sizeof(out) - 1)
			assert_int_equal(out[cap], 'Z');
	}
	n = template_normalise(t, strlen(t), out, 17);
	assert_string_equal(out, "hostname = <ip>");
	assert_int_equal(n, 15);
	n = template_normalise(t, strlen(t), out, 15);
	assert_string_equal(out, "hostname =");
	assert_int_equal(template_normalise(NULL, 5, out, sizeof(out)), 0);
	assert_string_equal(out, "");

	size_t big = 1024 * 1024;
	char *in = malloc(big), *o = malloc(big);
	assert_non_null(in);
	assert_non_null(o);
	for (size_t i = 0; i < big; i++)
		in[i] = (char)(i * 7919 % 251); /* every byte value, most of them hostile */
	n = template_normalise(in, big, o, big);
	assert_true(n <= 4 * 4096);
	assert_int_equal(strlen(o), n);
	memset(in, 'a', big);
	n = template_normalise(in, big, o, big);
	assert_string_equal(o, "<id>");
	memset(in, '1', big);
	n = template_normalise(in, big, o, big);
	assert_string_equal(o, "<n>");
	free(in);
	free(o);
}

static void
test_addr_domain(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"a@b.com", "b.com"},
	    {"<a@b.com>", "b.com"},
	    {" <a@B.Com> ", "B.Com"},
	    {"a@b@c.example", "c.example"},
	    {"<a@[1.2.3.4]>", "[1.2.3.4]"},
	    {"\"x@y\"@z.example", "z.example"},
	    {"a", NULL},
	    {"a@", NULL},
	    {"<a@>", NULL},
	    {"", NULL},
	    {"@x", "x"},
	};
	size_t dn;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *d = addr_domain(cases[i].in, &dn);

		if (cases[i].want == NULL) {
			assert_null(d);
			continue;
		}
		assert_non_null(d);
		assert_int_equal(dn, strlen(cases[i].want));
		assert_memory_equal(d, cases[i].want, dn);
	}
	assert_null(addr_domain(NULL, &dn));
	assert_non_null(addr_domain("a@b", NULL));
}

/* random bytes from an alphabet that makes the parsers work (digits, dots, colons, brackets,
 * @, %, !, quotes, white space, high bytes), in exact-size heap buffers so the sanitizer build
 * sees any read past len; every result must stay in range */
static uint64_t fuzz_state = 0x9e3779b97f4a7c15ull;

static uint32_t
fuzz_rnd(uint32_t n)
{
	fuzz_state ^= fuzz_state << 13;
	fuzz_state ^= fuzz_state >> 7;
	fuzz_state ^= fuzz_state << 17;
	return (uint32_t)(fuzz_state % n);
}

static char *
fuzz_buf(size_t n, bool nul)
{
	static const char alpha[] =
	    "0123456789abcdefxyzqADFX.:.:[]@%!\"<> -_\t\r\n\x00\x80\xc3\xa9\xff"
	    "1.2.3.4 relay test open ::ffff: IPv6: xn-- localhost ";
	char *b = malloc(n + (nul ? 1 : 0) + (n == 0));

	assert_non_null(b);
	for (size_t i = 0; i < n; i++)
		b[i] = alpha[fuzz_rnd(sizeof(alpha) - 1)];
	if (nul)
		b[n] = '\0';
	return b;
}

static void
test_random_bytes(void **state)
{
	(void)state;
	char out[97];

	for (int it = 0; it < 20000; it++) {
		size_t n = fuzz_rnd(it % 10 == 0 ? 5000 : 80), sn = fuzz_rnd(200);
		size_t bn = fuzz_rnd(it % 10 == 0 ? 9000 : 300);
		char *name = fuzz_buf(n, false), *subj = fuzz_buf(sn, false);
		char *body = fuzz_buf(bn, false);
		char *from = fuzz_buf(fuzz_rnd(60), true), *r0 = fuzz_buf(fuzz_rnd(60), true);
		char *r1 = fuzz_buf(fuzz_rnd(600), true);
		const char *rcpts[2] = {r0, r1};
		struct probe_input in = {0};
		double sc = -1;

		enum helo_class c = helo_classify(name, n, fuzz_rnd(2) ? PEER : from, &seed_self);
		assert_true((unsigned)c < HELO__COUNT);
		name_looks_random(name, n, &sc);
		assert_true(sc >= 0 && sc <= 1);
		in.subject = subj;
		in.subject_len = sn;
		in.body = body;
		in.body_len = bn;
		in.mail_from = from;
		in.rcpts = rcpts;
		in.rcpt_raw = fuzz_rnd(2) ? rcpts : NULL;
		in.nrcpts = fuzz_rnd(3);
		in.rcpt_flags = fuzz_rnd(2) ? 0 : fuzz_rnd(16);
		assert_true(probe_detect(&in, fuzz_rnd(2) ? &seed_self : NULL) <
		            (1u << PROBE_REASON_COUNT));
		size_t cap = 1 + fuzz_rnd(sizeof(out) - 1), w;
		w = template_normalise(name, n, out, cap);
		assert_true(w < cap);
		assert_int_equal(out[w], '\0');
		assert_null(memchr(out, '\0', w)); /* a NUL in the input became '?' */
		addr_domain(r1, NULL);
		free(name);
		free(subj);
		free(body);
		free(from);
		free(r0);
		free(r1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_helo_table),      cmocka_unit_test(test_helo_huge),
	    cmocka_unit_test(test_helo_names),      cmocka_unit_test(test_random_table),
	    cmocka_unit_test(test_probe_table),     cmocka_unit_test(test_probe_huge),
	    cmocka_unit_test(test_probe_names),     cmocka_unit_test(test_template_table),
	    cmocka_unit_test(test_template_prefix), cmocka_unit_test(test_template_groups),
	    cmocka_unit_test(test_template_bounds), cmocka_unit_test(test_addr_domain),
	    cmocka_unit_test(test_random_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
