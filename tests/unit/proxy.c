/* SPDX-License-Identifier: ISC */
/*
 * tests/unit/proxy - PROXY protocol v1 and v2: complete headers for IPv4 and IPv6, every
 * proper prefix of a valid header answering NEED_MORE, bytes after the header left alone,
 * LOCAL / UNKNOWN, and malformed input refused as early as it can be.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "net/proxy.h"

#define N_(a) (sizeof(a) / sizeof((a)[0]))

static const unsigned char sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                      0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

struct hdr_case {
	const char *name;
	unsigned char bytes[200];
	size_t len;
	enum proxy_result want;
	size_t consumed; /* for OK / LOCAL */
	int family;      /* for OK */
	const char *src, *dst;
	unsigned sport, dport;
};

/* v1 - a text header case */
#define V1(s, w, fam, sa, da, sp, dp)                                                              \
	{                                                                                          \
		s, s, sizeof(s) - 1, w, sizeof(s) - 1, fam, sa, da, sp, dp                         \
	}

static const struct hdr_case v1_cases[] = {
    V1("PROXY TCP4 1.2.3.4 5.6.7.8 1234 25\r\n", PROXY_OK, AF_INET, "1.2.3.4", "5.6.7.8", 1234, 25),
    V1("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n", PROXY_OK, AF_INET,
       "255.255.255.255", "255.255.255.255", 65535, 65535),
    V1("PROXY TCP6 2001:db8::1 2001:db8::2 40000 587\r\n", PROXY_OK, AF_INET6, "2001:db8::1",
       "2001:db8::2", 40000, 587),
    V1("PROXY TCP6 ::ffff:10.0.0.1 ::1 0 25\r\n", PROXY_OK, AF_INET6, "::ffff:10.0.0.1", "::1", 0,
       25),
    V1("PROXY UNKNOWN\r\n", PROXY_LOCAL, 0, NULL, NULL, 0, 0),
    V1("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n", PROXY_LOCAL, 0, NULL, NULL,
       0, 0),
};

static const struct hdr_case v1_bad[] = {
    V1("GET / HTTP/1.0\r\n", PROXY_BAD, 0, NULL, NULL, 0, 0),
    V1("PROXY\r\n", PROXY_BAD, 0, NULL, NULL, 0, 0),
    V1("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_BAD, 0, NULL, NULL, 0, 0),
    V1("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_BAD, 0, NULL, NULL, 0, 0),
    V1("PROXY TCP4 1.2.3.4 5.6.7.8 1234 25\n", PROXY_BAD, 0, NULL, NULL, 0, 0),
    V1("PROXY TCP4 1.2.3.4 5.6.7.8 1234 25\rX", PROXY_BAD, 0, NULL, NULL, 0, 0),
    V1("PROXY TCP4 1.2.3.4  5.6.7.8 1234 25\r\n", PROXY_BAD, 0, NULL, NULL, 0, 0),
    V1("PROXY TCP4 1.2.3.999 5.6.7.8 1234 25\r\n", PROXY_BAD, 0, NULL, NULL, 0, 0),
    V1("PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n", PROXY_BAD, 0, NULL, NULL, 0, 0),
    V1("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_BAD, 0, NULL, NULL, 0, 0),
    V1("PROXY TCP4 1.2.3.4 5.6.7.8 65536 25\r\n", PROXY_BAD, 0, NULL, NULL, 0, 0),
    V1("PROXY TCP4 1.2.3.4 5.6.7.8 123456 25\r\n", PROXY_BAD, 0, NULL, NULL, 0, 0),
    V1("PROXY TCP4 1.2.3.4 5.6.7.8 -1 25\r\n", PROXY_BAD, 0, NULL, NULL, 0, 0),
    V1("PROXY TCP4 1.2.3.4 5.6.7.8 1234\r\n", PROXY_BAD, 0, NULL, NULL, 0, 0),
    V1("PROXY TCP4 1.2.3.4 5.6.7.8 1234 25 \r\n", PROXY_BAD, 0, NULL, NULL, 0, 0),
    V1("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n", PROXY_BAD, 0, NULL, NULL, 0, 0),
    V1("PROXY TCP4 1111111111111111 5.6.7.8 1 2\r\n", PROXY_BAD, 0, NULL, NULL, 0, 0),
    V1("PROXY UNKNOWNX\r\n", PROXY_BAD, 0, NULL, NULL, 0, 0),
    V1("PROXY UNKNOWN \n", PROXY_BAD, 0, NULL, NULL, 0, 0),
    V1("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_BAD, 0, NULL, NULL, 0, 0),
    V1("EHLO x\r\n", PROXY_BAD, 0, NULL, NULL, 0, 0),
};

/* check_addr - a filled sockaddr against text and port */
static void
check_addr(const struct sockaddr_storage *ss, int family, const char *ip, unsigned port)
{
	char got[INET6_ADDRSTRLEN];
	const void *a;
	unsigned p;

	assert_int_equal(ss->ss_family, family);
	if (family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		a = &s4->sin_addr;
		p = ntohs(s4->sin_port);
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		a = &s6->sin6_addr;
		p = ntohs(s6->sin6_port);
	}
	assert_non_null(inet_ntop(family, a, got, sizeof(got)));
	if (strcmp(got, ip) != 0 || p != port)
		print_error("got %s port %u, want %s port %u\n", got, p, ip, port);
	assert_string_equal(got, ip);
	assert_int_equal(p, port);
}

/* check_case - whole header, every proper prefix, and the header with SMTP bytes after it */
static void
check_case(const struct hdr_case *c, int version)
{
	unsigned char buf[256];
	struct proxy_info pi;
	enum proxy_result r;
	size_t k;

	r = proxy_parse(c->bytes, c->len, &pi);
	if (r != c->want)
		print_error("%s: got %d, want %d\n", c->name, r, c->want);
	assert_int_equal(r, c->want);
	if (r == PROXY_BAD)
		return;
	assert_int_equal(pi.version, version);
	assert_int_equal(pi.consumed, c->consumed);
	if (r == PROXY_OK) {
		check_addr(&pi.src, c->family, c->src, c->sport);
		check_addr(&pi.dst, c->family, c->dst, c->dport);
	}
	for (k = 0; k < c->len; k++) {
		r = proxy_parse(c->bytes, k, &pi);
		if (r != PROXY_NEED_MORE)
			print_error("%s: prefix %zu got %d, want NEED_MORE\n", c->name, k, r);
		assert_int_equal(r, PROXY_NEED_MORE);
	}
	memcpy(buf, c->bytes, c->len);
	memcpy(buf + c->len, "EHLO x\r\n", 8);
	assert_int_equal(proxy_parse(buf, c->len + 8, &pi), c->want);
	assert_int_equal(pi.consumed, c->consumed);
}

/* test_v1 - valid text headers */
static void
test_v1(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < N_(v1_cases); i++)
		check_case(&v1_cases[i], 1);
}

/* test_v1_bad - refused, and refused as soon as the first wrong byte arrives */
static void
test_v1_bad(void **state)
{
	struct proxy_info pi;
	size_t i;

	(void)state;
	for (i = 0; i < N_(v1_bad); i++)
		check_case(&v1_bad[i], 1);
	/* Early refusal: the wrong protocol word is enough. */
	assert_int_equal(proxy_parse((const unsigned char *)"PROXY X", 7, &pi), PROXY_BAD);
	assert_int_equal(proxy_parse((const unsigned char *)"PROXY TCP4 1.2.x", 16, &pi),
	                 PROXY_BAD);
	assert_int_equal(proxy_parse((const unsigned char *)"PRO", 3, &pi), PROXY_NEED_MORE);
	assert_int_equal(proxy_parse((const unsigned char *)"E", 1, &pi), PROXY_BAD);
	assert_int_equal(proxy_parse((const unsigned char *)"", 0, &pi), PROXY_NEED_MORE);
	assert_int_equal(proxy_parse(NULL, 5, &pi), PROXY_BAD);
	assert_int_equal(
	    proxy_parse((const unsigned char *)"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 32, NULL),
	    PROXY_OK);
}

/* test_v1_too_long - no CRLF within PROXY_V1_MAX bytes is never valid */
static void
test_v1_too_long(void **state)
{
	unsigned char buf[300];
	struct proxy_info pi;

	(void)state;
	memcpy(buf, "PROXY UNKNOWN ", 14);
	memset(buf + 14, 'a', sizeof(buf) - 14);
	assert_int_equal(proxy_parse(buf, PROXY_V1_MAX - 1, &pi), PROXY_NEED_MORE);
	assert_int_equal(proxy_parse(buf, PROXY_V1_MAX, &pi), PROXY_BAD);
	assert_int_equal(proxy_parse(buf, sizeof(buf), &pi), PROXY_BAD);
	/* Exactly PROXY_V1_MAX bytes including CRLF is still fine. */
	buf[PROXY_V1_MAX - 2] = '\r';
	buf[PROXY_V1_MAX - 1] = '\n';
	assert_int_equal(proxy_parse(buf, sizeof(buf), &pi), PROXY_LOCAL);
	assert_int_equal(pi.consumed, PROXY_V1_MAX);
}

/* v2 - build a binary header: signature, ver/cmd, fam/proto, length, body */
static size_t
v2(unsigned char *out, unsigned vercmd, unsigned famproto, const unsigned char *body, size_t blen)
{
	memcpy(out, sig, 12);
	out[12] = (unsigned char)vercmd;
	out[13] = (unsigned char)famproto;
	out[14] = (unsigned char)(blen >> 8);
	out[15] = (unsigned char)blen;
	if (blen > 0)
		memcpy(out + 16, body, blen);
	return 16 + blen;
}

/* test_v2 - IPv4, IPv6, with TLVs, LOCAL; every prefix waits for more */
static void
test_v2(void **state)
{
	static const unsigned char in4[] = {192, 0, 2, 1, 198, 51, 100, 7, 0x9C, 0x40, 0, 25};
	static const unsigned char in4_tlv[] = {10, 0,    0,    1,    10,   0,    0,
	                                        2,  0x04, 0xD2, 0x02, 0x4B, 0x04, 0,
	                                        3,  'a',  'b',  'c',  0x01, 0,    0};
	unsigned char in6[36];
	struct hdr_case c;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.name = "v2 tcp4";
	c.len = v2(c.bytes, 0x21, 0x11, in4, sizeof(in4));
	c.want = PROXY_OK;
	c.consumed = c.len;
	c.family = AF_INET;
	c.src = "192.0.2.1";
	c.dst = "198.51.100.7";
	c.sport = 40000;
	c.dport = 25;
	check_case(&c, 2);

	c.name = "v2 tcp4 tlv";
	c.len = v2(c.bytes, 0x21, 0x11, in4_tlv, sizeof(in4_tlv));
	c.consumed = c.len;
	c.src = "10.0.0.1";
	c.dst = "10.0.0.2";
	c.sport = 1234;
	c.dport = 587;
	check_case(&c, 2);

	memset(in6, 0, sizeof(in6));
	in6[0] = 0x20;
	in6[1] = 0x01;
	in6[2] = 0x0d;
	in6[3] = 0xb8;
	in6[15] = 0x01;
	in6[31] = 0x01;
	in6[32] = 0xC3;
	in6[33] = 0x50;
	in6[35] = 25;
	c.name = "v2 tcp6";
	c.len = v2(c.bytes, 0x21, 0x21, in6, sizeof(in6));
	c.consumed = c.len;
	c.family = AF_INET6;
	c.src = "2001:db8::1";
	c.dst = "::1";
	c.sport = 50000;
	c.dport = 25;
	check_case(&c, 2);

	c.name = "v2 local";
	c.len = v2(c.bytes, 0x20, 0x00, NULL, 0);
	c.want = PROXY_LOCAL;
	c.consumed = 16;
	check_case(&c, 2);

	c.name = "v2 local with addresses";
	c.len = v2(c.bytes, 0x20, 0x11, in4, sizeof(in4));
	c.consumed = c.len;
	check_case(&c, 2);

	c.name = "v2 proxy unspec";
	c.len = v2(c.bytes, 0x21, 0x00, NULL, 0);
	c.consumed = 16;
	check_case(&c, 2);
}

/* test_v2_bad - malformed binary headers, refused as early as the bytes allow */
static void
test_v2_bad(void **state)
{
	static const unsigned char in4[12] = {1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2};
	static const unsigned char bad_tlv[] = {1, 2, 3, 4, 5,    6, 7, 8,
	                                        0, 1, 0, 2, 0x04, 0, 9, 'a'};
	static const unsigned char short_tlv[] = {1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2, 0x04, 0};
	static unsigned char big[PROXY_V2_MAX + 64];
	struct proxy_info pi;
	unsigned char b[128];
	size_t n;

	(void)state;
	n = v2(b, 0x11, 0x11, in4, sizeof(in4)); /* version 1 in the binary form */
	assert_int_equal(proxy_parse(b, n, &pi), PROXY_BAD);
	assert_int_equal(proxy_parse(b, 13, &pi), PROXY_BAD);
	n = v2(b, 0x22, 0x11, in4, sizeof(in4)); /* command 2 */
	assert_int_equal(proxy_parse(b, 13, &pi), PROXY_BAD);
	n = v2(b, 0x21, 0x31, in4, sizeof(in4)); /* AF_UNIX */
	assert_int_equal(proxy_parse(b, 14, &pi), PROXY_BAD);
	n = v2(b, 0x21, 0x12, in4, sizeof(in4)); /* UDP */
	assert_int_equal(proxy_parse(b, n, &pi), PROXY_BAD);
	n = v2(b, 0x21, 0x41, in4, sizeof(in4)); /* unknown family */
	assert_int_equal(proxy_parse(b, n, &pi), PROXY_BAD);
	n = v2(b, 0x21, 0x11, in4, 8); /* too short for two IPv4 addresses and ports */
	assert_int_equal(proxy_parse(b, 16, &pi), PROXY_BAD);
	n = v2(b, 0x21, 0x21, in4, sizeof(in4)); /* too short for IPv6 */
	assert_int_equal(proxy_parse(b, n, &pi), PROXY_BAD);
	n = v2(b, 0x21, 0x11, bad_tlv, sizeof(bad_tlv)); /* TLV longer than the header */
	assert_int_equal(proxy_parse(b, n, &pi), PROXY_BAD);
	n = v2(b, 0x21, 0x11, short_tlv, sizeof(short_tlv)); /* TLV cut inside its header */
	assert_int_equal(proxy_parse(b, n, &pi), PROXY_BAD);
	assert_int_equal(pi.consumed, 0);

	/* Length over PROXY_V2_MAX is refused at byte 16, before the body arrives. */
	v2(b, 0x21, 0x11, NULL, 0);
	b[14] = (unsigned char)((PROXY_V2_MAX - 16 + 1) >> 8);
	b[15] = (unsigned char)(PROXY_V2_MAX - 16 + 1);
	assert_int_equal(proxy_parse(b, 16, &pi), PROXY_BAD);
	b[14] = 0xFF;
	b[15] = 0xFF;
	assert_int_equal(proxy_parse(b, 16, &pi), PROXY_BAD);
	/* Exactly PROXY_V2_MAX is accepted: addresses then one padding TLV. */
	memset(big, 0, sizeof(big));
	v2(big, 0x21, 0x11, in4, sizeof(in4));
	big[14] = (unsigned char)((PROXY_V2_MAX - 16) >> 8);
	big[15] = (unsigned char)(PROXY_V2_MAX - 16);
	big[28] = 0x05; /* PP2_TYPE_NOOP */
	big[29] = (unsigned char)((PROXY_V2_MAX - 16 - 12 - 3) >> 8);
	big[30] = (unsigned char)(PROXY_V2_MAX - 16 - 12 - 3);
	assert_int_equal(proxy_parse(big, PROXY_V2_MAX - 1, &pi), PROXY_NEED_MORE);
	assert_int_equal(proxy_parse(big, sizeof(big), &pi), PROXY_OK);
	assert_int_equal(pi.consumed, PROXY_V2_MAX);

	/* A wrong signature byte anywhere in the first 12. */
	for (n = 0; n < 12; n++) {
		v2(b, 0x21, 0x11, in4, sizeof(in4));
		b[n] ^= 0x20;
		assert_int_equal(proxy_parse(b, n + 1, &pi), PROXY_BAD);
	}
}

/* test_random - mutated headers: a BAD prefix stays BAD and an accepted header keeps its
 * verdict and size however many bytes follow; nothing is consumed beyond the input */
static void
test_random(void **state)
{
	static const unsigned char in4[] = {1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2, 0x04, 0, 1, 'x'};
	static const char hdr4[] = "PROXY TCP4 1.2.3.4 5.6.7.8 1234 25\r\nQUIT\r\n";
	static const char hdr6[] = "PROXY TCP6 2001:db8::1 ::1 1 2\r\n";
	unsigned char seeds[3][128], b[128];
	size_t seedlen[3], iter, i, k, n;
	enum proxy_result r, prev;
	struct proxy_info pi;

	(void)state;
	seedlen[0] = strlen(hdr4);
	memcpy(seeds[0], hdr4, seedlen[0]);
	seedlen[1] = strlen(hdr6);
	memcpy(seeds[1], hdr6, seedlen[1]);
	seedlen[2] = v2(seeds[2], 0x21, 0x11, in4, sizeof(in4));
	for (iter = 0; iter < 5000; iter++) {
		k = rand_uniform(3);
		n = seedlen[k];
		memcpy(b, seeds[k], n);
		for (i = rand_uniform(4); i > 0; i--)
			rand_buf(b + rand_uniform((uint32_t)n), 1);
		prev = PROXY_NEED_MORE;
		for (i = 0; i <= n; i++) {
			r = proxy_parse(b, i, &pi);
			assert_true(r == PROXY_NEED_MORE || r == PROXY_OK || r == PROXY_LOCAL ||
			            r == PROXY_BAD);
			if (prev == PROXY_BAD)
				assert_int_equal(r, PROXY_BAD);
			if (prev == PROXY_OK || prev == PROXY_LOCAL)
				assert_int_equal(r, prev);
			if (r == PROXY_OK || r == PROXY_LOCAL)
				assert_true(pi.consumed > 0 && pi.consumed <= i);
			prev = r;
		}
	}
}

/* main - run every case of this suite */
int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_v1),          cmocka_unit_test(test_v1_bad),
	    cmocka_unit_test(test_v1_too_long), cmocka_unit_test(test_v2),
	    cmocka_unit_test(test_v2_bad),      cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
