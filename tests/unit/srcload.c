/* SPDX-License-Identifier: ISC */
/*
 * tests/unit/srcload - the per-prefix cost table behind shedding by source: prefixes (/24 for
 * IPv4, /64 for IPv6), rates from charges, decay by half-lives, a full bucket keeping its
 * heaviest prefixes, and a table far smaller than the number of sources staying bounded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "net/srcload.h"

#define HL 5000 /* half-life, ms */

/* addr - the 16-byte form the listener uses: IPv4 as v4-mapped IPv6 */
static void
addr(const char *s, unsigned char a[16])
{
	memset(a, 0, 16);
	if (inet_pton(AF_INET, s, a + 12) == 1) {
		a[10] = a[11] = 0xff;
		return;
	}
	assert_int_equal(inet_pton(AF_INET6, s, a), 1);
}

static void
pfx(const char *s, unsigned char k[16])
{
	unsigned char a[16];

	addr(s, a);
	srcload_prefix(a, k);
}

static void
test_prefix(void **state)
{
	static const struct {
		const char *a, *b;
		int same;
	} cases[] = {
	    {"192.0.2.1", "192.0.2.254", 1},
	    {"192.0.2.1", "192.0.3.1", 0},
	    {"10.1.2.3", "11.1.2.3", 0},
	    {"2001:db8:1:2::1", "2001:db8:1:2:ffff::9", 1},
	    {"2001:db8:1:2::1", "2001:db8:1:3::1", 0},
	    {"::ffff:192.0.2.7", "192.0.2.8", 1},
	    {"127.0.0.1", "127.10.0.1", 0},
	};
	unsigned char ka[16], kb[16];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pfx(cases[i].a, ka);
		pfx(cases[i].b, kb);
		if ((memcmp(ka, kb, 16) == 0) != cases[i].same)
			fail_msg("%s vs %s: got same=%d, want %d", cases[i].a, cases[i].b,
			         !cases[i].same, cases[i].same);
	}
}

static void
test_rate_and_decay(void **state)
{
	struct srcload *t = srcload_new(1024, HL);
	unsigned char k[16], other[16];
	double r0, r1, r2;

	assert_non_null(t);
	pfx("198.51.100.9", k);
	pfx("203.0.113.9", other);
	assert_true(srcload_rate(t, k, 1000) == 0.0);
	/* a steady 100 KB/s for ten half-lives: the rate converges on 100 KB/s */
	for (uint64_t ms = 1000; ms <= 1000 + 10 * HL; ms += 100)
		srcload_charge(t, k, ms, 10000);
	r0 = srcload_rate(t, k, 1000 + 10 * HL);
	if (fabs(r0 - 100000.0) > 100000.0 * 0.05)
		fail_msg("steady 100 KB/s: got %.0f B/s", r0);
	/* one half-life later the rate has halved; two later, quartered */
	r1 = srcload_rate(t, k, 1000 + 11 * HL);
	r2 = srcload_rate(t, k, 1000 + 12 * HL);
	assert_true(fabs(r1 - r0 / 2) < 1.0);
	assert_true(fabs(r2 - r0 / 4) < 1.0);
	/* another prefix is untouched; asking is not charging */
	assert_true(srcload_rate(t, other, 1000 + 12 * HL) == 0.0);
	assert_true(fabs(srcload_rate(t, k, 1000 + 12 * HL) - r2) < 1e-9);
	/* a clock that goes back does not make the count grow */
	srcload_charge(t, k, 500, 0);
	assert_true(srcload_rate(t, k, 1000 + 12 * HL) <= r2 + 1e-9);
	srcload_free(t);
	srcload_free(NULL);
}

/* heavy prefixes survive a flood of light ones through a table far too small for them all */
static void
test_heavy_stay(void **state)
{
	struct srcload *t = srcload_new(64, HL);
	unsigned char heavy[3][16], k[16], a[16];
	char ip[64];
	uint64_t now = 10000;
	int i, n;

	assert_non_null(t);
	pfx("192.0.2.1", heavy[0]);
	pfx("198.51.100.1", heavy[1]);
	pfx("2001:db8:77::1", heavy[2]);
	for (i = 0; i < 3; i++)
		srcload_charge(t, heavy[i], now, 10u * 1024u * 1024u);
	/* 100,000 distinct /24s, 1 KB each */
	for (n = 0; n < 100000; n++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.1", (n >> 8) & 255, n & 255);
		if (n >= 65536)
			snprintf(ip, sizeof(ip), "11.%d.%d.1", (n >> 8) & 255, n & 255);
		addr(ip, a);
		srcload_prefix(a, k);
		srcload_charge(t, k, now, 1000);
	}
	for (i = 0; i < 3; i++) {
		double r = srcload_rate(t, heavy[i], now);
		double want = 10.0 * 1024 * 1024 * M_LN2 * 1000.0 / HL;
		if (fabs(r - want) > 1.0)
			fail_msg("heavy prefix %d: got %.0f B/s, want %.0f", i, r, want);
	}
	srcload_free(t);
}

static void
test_new_bounds(void **state)
{
	assert_null(srcload_new(16, 0));
	struct srcload *t = srcload_new(0, 1);
	unsigned char k[16];

	assert_non_null(t);
	pfx("192.0.2.1", k);
	srcload_charge(t, k, 1, 5);
	assert_true(srcload_rate(t, k, 1) > 0.0);
	srcload_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_prefix),
	    cmocka_unit_test(test_rate_and_decay),
	    cmocka_unit_test(test_heavy_stay),
	    cmocka_unit_test(test_new_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
