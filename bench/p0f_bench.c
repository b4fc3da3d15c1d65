/* SPDX-License-Identifier: ISC */
/*
 * p0f_bench - how fast the OS fingerprint is: loading p0f.fp once, decoding a saved SYN,
 * matching it, and writing its signature string. Prints figures; asserts nothing.
 *
 * Usage: p0f-bench [P0F_FP [ROUNDS]]   (defaults: contrib/p0f.fp, 200000 rounds)
 * Each round goes once through a mix of SYNs as the kernel saves them: Windows XP, 7 and 10,
 * Linux old and new (IPv4 and IPv6), macOS, FreeBSD, nmap, and two that nothing matches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "enrich/p0f.h"
#include "enrich/syn.h"

struct mix {
	const char *what;
	int ver;
	unsigned ttl, win, mss, ws;
	int df;
	const char *opts; /* TCP option bytes, written as a layout: m n w s t e */
};

static const struct mix mixes[] = {
    {"Windows XP", 4, 117, 65535, 1460, 0, 1, "mnns"},
    {"Windows 7", 4, 121, 8192, 1460, 8, 1, "mnwnns"},
    {"Windows 10", 4, 113, 64240, 1460, 8, 1, "mnwnns"},
    {"Linux 3.11+", 4, 52, 29200, 1460, 7, 1, "mstnw"},
    {"Linux 6.x", 4, 64, 64240, 1460, 7, 1, "mstnw"},
    {"Linux IPv6", 6, 57, 28800, 1440, 7, 1, "mstnw"},
    {"macOS", 4, 63, 65535, 1460, 3, 1, "mnwnntse"},
    {"FreeBSD", 4, 50, 65535, 1460, 6, 1, "mnwst"},
    {"nmap", 4, 41, 1024, 1460, 0, 0, "m"},
    {"unknown, TTL 200", 4, 200, 4000, 1000, 0, 1, "mst"},
    {"Windows-like, TTL 60", 4, 60, 12345, 1400, 2, 1, "mnwnns"},
};

/* build - IP + TCP headers of one SYN; returns the length */
static size_t
build(const struct mix *m, unsigned char *b)
{
	unsigned char *t, *o;
	size_t l3 = m->ver == 4 ? 20 : 40, n = 0;
	const char *c;

	memset(b, 0, 128);
	t = b + l3;
	o = t + 20;
	for (c = m->opts; *c; c++) {
		switch (*c) {
		case 'm':
			o[n++] = 2, o[n++] = 4, o[n++] = (unsigned char)(m->mss >> 8);
			o[n++] = (unsigned char)m->mss;
			break;
		case 'n':
			o[n++] = 1;
			break;
		case 'w':
			o[n++] = 3, o[n++] = 3, o[n++] = (unsigned char)m->ws;
			break;
		case 's':
			o[n++] = 4, o[n++] = 2;
			break;
		case 't':
			o[n++] = 8, o[n++] = 10, o[n + 3] = 7, n += 8;
			break;
		case 'e':
			o[n++] = 0;
			break;
		}
	}
	while (n % 4)
		o[n++] = 0;
	if (m->ver == 4) {
		b[0] = 0x45, b[2] = 0, b[3] = (unsigned char)(20 + 20 + n);
		b[4] = 0x12, b[5] = 0x34, b[6] = m->df ? 0x40 : 0, b[8] = (unsigned char)m->ttl,
		b[9] = 6;
	} else {
		b[0] = 0x60, b[1] = 0x0b, b[2] = 0xee, b[3] = 0xf1, b[5] = (unsigned char)(20 + n);
		b[6] = 6, b[7] = (unsigned char)m->ttl;
	}
	t[4] = 0x12, t[5] = 0x34, t[7] = 0x56;
	t[12] = (unsigned char)(((20 + n) / 4) << 4);
	t[13] = 0x02;
	t[14] = (unsigned char)(m->win >> 8), t[15] = (unsigned char)m->win;
	return l3 + 20 + n;
}

static double
secs(uint64_t us)
{
	return (double)us / 1e6;
}

int
main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "contrib/p0f.fp";
	long rounds = argc > 2 ? atol(argv[2]) : 200000;
	const size_t nm = sizeof(mixes) / sizeof(mixes[0]);
	unsigned char syn[sizeof(mixes) / sizeof(mixes[0])][128];
	size_t len[sizeof(mixes) / sizeof(mixes[0])], i, matched = 0;
	struct syn_info si[sizeof(mixes) / sizeof(mixes[0])], s;
	struct p0f_match m;
	struct p0f_db *db;
	char err[512], sig[P0F_SIG_STR_MAX];
	uint64_t t0, t1;
	volatile size_t sink = 0;
	long r;
	int k;

	if (rounds <= 0)
		rounds = 1;
	t0 = now_mono_us();
	for (k = 0; k < 10; k++) {
		db = p0f_db_load(path, err, sizeof(err));
		if (db == NULL) {
			fprintf(stderr, "p0f-bench: %s\n", err);
			return 1;
		}
		if (k < 9)
			p0f_db_free(db);
	}
	t1 = now_mono_us();
	printf("load %s: %zu signatures in %.2f ms (mean of 10)\n", path, p0f_db_count(db),
	       secs(t1 - t0) * 100.0);
	for (i = 0; i < nm; i++) {
		len[i] = build(&mixes[i], syn[i]);
		if (syn_parse(syn[i], len[i], &si[i], NULL) == -1) {
			fprintf(stderr, "p0f-bench: %s: not a SYN\n", mixes[i].what);
			return 1;
		}
		p0f_match(db, &si[i], &m);
		p0f_sig_string(&si[i], sig, sizeof(sig));
		printf("  %-20s %-8s %s:%s:%s  %s\n", mixes[i].what, p0f_match_name(m.kind),
		       m.os_class ? m.os_class : "", m.os_name ? m.os_name : "",
		       m.os_flavor ? m.os_flavor : "", sig);
	}

	t0 = now_mono_us();
	for (r = 0; r < rounds; r++)
		for (i = 0; i < nm; i++) {
			syn_parse(syn[i], len[i], &s, NULL);
			sink += s.nopt;
		}
	t1 = now_mono_us();
	printf("syn_parse:              %10.0f SYNs/s\n", (double)rounds * nm / secs(t1 - t0));

	t0 = now_mono_us();
	for (r = 0; r < rounds; r++)
		for (i = 0; i < nm; i++) {
			p0f_match(db, &si[i], &m);
			matched += m.kind != P0F_NONE;
		}
	t1 = now_mono_us();
	printf("p0f_match:              %10.0f lookups/s (%.0f ns each)\n",
	       (double)rounds * nm / secs(t1 - t0),
	       (double)(t1 - t0) * 1000.0 / ((double)rounds * nm));

	t0 = now_mono_us();
	for (r = 0; r < rounds; r++)
		for (i = 0; i < nm; i++) {
			syn_parse(syn[i], len[i], &s, NULL);
			p0f_match(db, &s, &m);
			sink += (size_t)p0f_sig_string(&s, sig, sizeof(sig));
		}
	t1 = now_mono_us();
	printf("parse + match + sig:    %10.0f SYNs/s (%.0f ns each)\n",
	       (double)rounds * nm / secs(t1 - t0),
	       (double)(t1 - t0) * 1000.0 / ((double)rounds * nm));
	printf("(%zu of %zu lookups matched; %ld rounds of %zu SYNs)\n", matched,
	       (size_t)rounds * nm, rounds, nm);
	p0f_db_free(db);
	return sink == 0;
}
