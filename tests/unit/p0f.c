/* SPDX-License-Identifier: ISC */
/*
 * tests/unit/p0f - SYN decoding and p0f v3 matching. SYNs are assembled here byte by byte
 * (IPv4/IPv6 header, TCP header, options in the order a stack sends them) from the fields of
 * known systems' p0f signatures, so the parser and the matcher are checked against an
 * independent layout: Windows XP, 7, 10, Linux old and new, macOS, FreeBSD, IPv6, nmap; every
 * [tcp:request] signature of the shipped p0f.fp classifies as itself (or an earlier one that
 * also fits); truncated, mutated and random bytes are refused or parsed without harm; the
 * loader names file and line for every kind of bad input; the enrich fields are valid JSON.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "core/util.h"
#include "enrich/p0f.h"
#include "enrich/syn.h"

#define N_(a) (sizeof(a) / sizeof((a)[0]))
#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fail_msg(__VA_ARGS__);                                                     \
	} while (0)

/* ------------------------------------------------------------------ SYN builder */

/* What goes on the wire; the option layout is written in p0f notation and emitted in order. */
struct spec {
	int ver; /* 4 or 6 */
	unsigned ttl;
	bool df;
	unsigned ip_id;
	unsigned tos; /* IPv4 TOS / IPv6 traffic class */
	unsigned flow;
	unsigned ipopt; /* IPv4 option bytes (NOPs) or one IPv6 hop-by-hop header of this size */
	unsigned win;
	const char *layout;
	unsigned mss, ws;
	unsigned ts1, ts2;
	unsigned flags; /* TCP flags; 0 = SYN */
	unsigned seq;   /* 0 = 0x12345678 (see seq_zero) */
	unsigned ack;
	unsigned urg;
	unsigned payload; /* bytes of data the IP length announces (not in the buffer) */
	bool eol_junk;    /* non-zero bytes after EOL */
	bool seq_zero;    /* sequence number 0 */
};

static void
put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void
put32(unsigned char *p, unsigned v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* build_opts - TCP options from a p0f layout; returns their length */
static size_t
build_opts(const struct spec *sp, unsigned char *o)
{
	char layout[256], *tok, *save = NULL;
	size_t n = 0;
	unsigned pad;

	strlcpy(layout, sp->layout, sizeof(layout));
	for (tok = strtok_r(layout, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "nop") == 0) {
			o[n++] = 1;
		} else if (strcmp(tok, "mss") == 0) {
			o[n++] = 2, o[n++] = 4;
			put16(o + n, sp->mss), n += 2;
		} else if (strcmp(tok, "ws") == 0) {
			o[n++] = 3, o[n++] = 3, o[n++] = (unsigned char)sp->ws;
		} else if (strcmp(tok, "sok") == 0) {
			o[n++] = 4, o[n++] = 2;
		} else if (strcmp(tok, "sack") == 0) {
			o[n++] = 5, o[n++] = 10;
			memset(o + n, 0x11, 8), n += 8;
		} else if (strcmp(tok, "ts") == 0) {
			o[n++] = 8, o[n++] = 10;
			put32(o + n, sp->ts1), n += 4;
			put32(o + n, sp->ts2), n += 4;
		} else if (sscanf(tok, "eol+%u", &pad) == 1) {
			o[n++] = 0;
			memset(o + n, 0, pad);
			if (sp->eol_junk && pad > 0)
				o[n + pad - 1] = 0x5a;
			n += pad;
		} else if (tok[0] == '?') {
			o[n++] = (unsigned char)atoi(tok + 1), o[n++] = 2;
		} else {
			fail_msg("builder: unknown option %s", tok);
		}
	}
	return n;
}

/* build - the SYN's IP and TCP headers as TCP_SAVED_SYN returns them */
static size_t
build(const struct spec *sp, unsigned char *b, size_t cap)
{
	unsigned char opts[64];
	size_t olen = build_opts(sp, opts), l3, doff, i;
	unsigned char *t;

	CHECK(olen % 4 == 0 && olen <= 40, "layout %s: %zu option bytes", sp->layout, olen);
	doff = 20 + olen;
	memset(b, 0, cap);
	if (sp->ver == 4) {
		l3 = 20 + sp->ipopt;
		b[0] = (unsigned char)(0x40 | (l3 / 4));
		b[1] = (unsigned char)sp->tos;
		put16(b + 2, (unsigned)(l3 + doff + sp->payload));
		put16(b + 4, sp->ip_id);
		put16(b + 6, sp->df ? 0x4000 : 0);
		b[8] = (unsigned char)sp->ttl;
		b[9] = 6;
		put32(b + 12, 0xc0000201);
		put32(b + 16, 0xc6336407);
		for (i = 20; i < l3; i++)
			b[i] = 1; /* IP NOP options */
	} else {
		l3 = 40 + sp->ipopt;
		put32(b, 0x60000000u | ((sp->tos & 0xff) << 20) | (sp->flow & 0xfffff));
		put16(b + 4, (unsigned)(l3 - 40 + doff + sp->payload));
		b[6] = sp->ipopt ? 0 : 6;
		b[7] = (unsigned char)sp->ttl;
		b[8] = 0x20, b[9] = 0x01, b[10] = 0x0d, b[11] = 0xb8, b[23] = 1;
		b[24] = 0x20, b[25] = 0x01, b[26] = 0x0d, b[27] = 0xb8, b[39] = 2;
		if (sp->ipopt) {
			b[40] = 6;                                         /* next: TCP */
			b[41] = (unsigned char)(sp->ipopt / 8 - 1);        /* hop-by-hop length */
			b[42] = 1, b[43] = (unsigned char)(sp->ipopt - 4); /* PadN */
		}
	}
	t = b + l3;
	put16(t, 40000);
	put16(t + 2, 25);
	put32(t + 4, sp->seq_zero ? 0 : sp->seq ? sp->seq : 0x12345678);
	put32(t + 8, sp->ack);
	t[12] = (unsigned char)((doff / 4) << 4);
	t[13] = (unsigned char)(sp->flags ? sp->flags : 0x02);
	put16(t + 14, sp->win);
	put16(t + 18, sp->urg);
	memcpy(t + 20, opts, olen);
	CHECK(l3 + doff <= cap, "builder overflow");
	return l3 + doff;
}

/* ------------------------------------------------------------------ the shipped database */

static struct p0f_db *db;
static char fp_path[1024];

static int
setup(void **state)
{
	const char *root = getenv("RT_SOURCE_ROOT");
	char err[512];

	(void)state;
	snprintf(fp_path, sizeof(fp_path), "%s/contrib/p0f.fp", root ? root : "..");
	db = p0f_db_load(fp_path, err, sizeof(err));
	if (db == NULL)
		fprintf(stderr, "cannot load the shipped signatures: %s\n", err);
	return db == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	p0f_db_free(db);
	return 0;
}

/* ------------------------------------------------------------------ known systems */

struct os_case {
	const char *what;
	struct spec sp;
	const char *os_class, *os_name, *os_flavor; /* NULL class: no match */
	enum p0f_match_kind kind;
	int distance;
	const char *sig; /* the raw signature, NULL: not checked */
};

/* a base of ordinary values, overridden per case (the later initialiser wins; fields left
 * out are zero) */
#pragma GCC diagnostic ignored "-Woverride-init"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#define V4(...)                                                                                    \
	{                                                                                          \
		.ver = 4, .df = true, .ip_id = 0x1a2b, __VA_ARGS__                                 \
	}
#define V6(...)                                                                                    \
	{                                                                                          \
		.ver = 6, __VA_ARGS__                                                              \
	}
#define LINUX "mss,sok,ts,nop,ws"
#define WIN7 "mss,nop,ws,nop,nop,sok"
#define XP "mss,nop,nop,sok"
#define MAC "mss,nop,ws,nop,nop,ts,sok,eol+1"

static const struct os_case os_cases[] = {
    {"Windows XP, 11 hops", V4(.ttl = 117, .win = 65535, .layout = XP, .mss = 1460), "win",
     "Windows", "XP", P0F_EXACT, 11, "4:117+11:0:1460:65535,0:mss,nop,nop,sok:df,id+:0"},
    {"Windows XP, 16384 window", V4(.ttl = 128, .win = 16384, .layout = XP, .mss = 1460), "win",
     "Windows", "XP", P0F_EXACT, 0, "4:128+0:0:1460:16384,0:mss,nop,nop,sok:df,id+:0"},
    {"Windows XP behind PPPoE (MSS 1452)", V4(.ttl = 125, .win = 65535, .layout = XP, .mss = 1452),
     "win", "Windows", "XP", P0F_EXACT, 3, NULL},
    {"Windows 7", V4(.ttl = 121, .win = 8192, .layout = WIN7, .mss = 1460, .ws = 8), "win",
     "Windows", "7 or 8", P0F_EXACT, 7, "4:121+7:0:1460:8192,8:mss,nop,ws,nop,nop,sok:df,id+:0"},
    {"Windows 10 (64240 window: NT kernel, generic)",
     V4(.ttl = 113, .win = 64240, .layout = WIN7, .mss = 1460, .ws = 8), "win", "Windows",
     "NT kernel", P0F_GENERIC, 15, "4:113+15:0:1460:mss*44,8:mss,nop,ws,nop,nop,sok:df,id+:0"},
    {"Linux 3.11+",
     V4(.ttl = 52, .win = 29200, .layout = LINUX, .mss = 1460, .ws = 7, .ts1 = 123456), "unix",
     "Linux", "3.11 and newer", P0F_EXACT, 12,
     "4:52+12:0:1460:mss*20,7:mss,sok,ts,nop,ws:df,id+:0"},
    {"Linux 2.6", V4(.ttl = 60, .win = 5840, .layout = LINUX, .mss = 1460, .ws = 6, .ts1 = 99),
     "unix", "Linux", "2.6.x", P0F_EXACT, 4, NULL},
    {"Linux 5.x/6.x (64240 window: generic)",
     V4(.ttl = 64, .win = 64240, .layout = LINUX, .mss = 1460, .ws = 7, .ts1 = 42), "unix", "Linux",
     "2.2.x-3.x", P0F_GENERIC, 0, "4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+:0"},
    {"Linux 3.11+ over IPv6 with a flow label",
     V6(.ttl = 57, .flow = 0xbeef1, .win = 28800, .layout = LINUX, .mss = 1440, .ws = 7, .ts1 = 1),
     "unix", "Linux", "3.11 and newer", P0F_EXACT, 7,
     "6:57+7:0:1440:mss*20,7:mss,sok,ts,nop,ws:flow:0"},
    {"Mac OS X 10.x", V4(.ttl = 63, .win = 65535, .layout = MAC, .mss = 1460, .ws = 3, .ts1 = 5),
     "unix", "Mac OS X", "10.x", P0F_EXACT, 1,
     "4:63+1:0:1460:65535,3:mss,nop,ws,nop,nop,ts,sok,eol+1:df,id+:0"},
    {"macOS with scale 6 (generic)",
     V4(.ttl = 64, .win = 65535, .layout = MAC, .mss = 1460, .ws = 6, .ts1 = 5), "unix", "Mac OS X",
     "", P0F_GENERIC, 0, NULL},
    {"FreeBSD 9+",
     V4(.ttl = 50, .win = 65535, .layout = "mss,nop,ws,sok,ts", .mss = 1460, .ws = 6, .ts1 = 77),
     "unix", "FreeBSD", "9.x or newer", P0F_EXACT, 14,
     "4:50+14:0:1460:65535,6:mss,nop,ws,sok,ts:df,id+:0"},
    {"OpenBSD 4.x-5.x",
     V4(.ttl = 64, .win = 16384, .layout = "mss,nop,nop,sok,nop,ws,nop,nop,ts", .mss = 1460,
        .ws = 3, .ts1 = 77),
     "unix", "OpenBSD", "4.x-5.x", P0F_EXACT, 0, NULL},
    {"nmap SYN scan (random TTL, no DF)",
     V4(.ttl = 41, .df = false, .win = 1024, .layout = "mss", .mss = 1460), "!", "NMap", "SYN scan",
     P0F_EXACT, 23, "4:41+23:0:1460:1024,0:mss::0"},
    {"nmap OS detection probe (ECN, urgent pointer)",
     V4(.ttl = 60, .df = false, .win = 3, .layout = "ws,nop,mss,sok,nop,nop", .mss = 1460, .ws = 10,
        .flags = 0xc2, .urg = 0xf7f5),
     "!", "NMap", "OS detection", P0F_EXACT, 4,
     "4:60+4:0:1460:3,10:ws,nop,mss,sok,nop,nop:ecn,uptr+:0"},
    {"Windows XP without DF (fuzzy)",
     V4(.ttl = 110, .df = false, .win = 65535, .layout = XP, .mss = 1460), "win", "Windows", "XP",
     P0F_FUZZY, 18, "4:110+18:0:1460:65535,0:mss,nop,nop,sok::0"},
    {"Linux 3.11 layout with a Windows TTL (fuzzy)",
     V4(.ttl = 100, .win = 29200, .layout = LINUX, .mss = 1460, .ws = 7, .ts1 = 1), "unix", "Linux",
     "3.11 and newer", P0F_FUZZY, 28, NULL},
    {"Linux 3.11 with ECN (fuzzy: ecn may appear)",
     V4(.ttl = 64, .win = 29200, .layout = LINUX, .mss = 1460, .ws = 7, .ts1 = 1, .flags = 0xc2),
     "unix", "Linux", "3.11 and newer", P0F_FUZZY, 0,
     "4:64+0:0:1460:mss*20,7:mss,sok,ts,nop,ws:df,id+,ecn:0"},
    {"TCP Fast Open SYN with data (payload class differs: none)",
     V4(.ttl = 64, .win = 64240, .layout = LINUX, .mss = 1460, .ws = 7, .ts1 = 9, .payload = 100),
     NULL, NULL, NULL, P0F_NONE, 0, "4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+:+"},
    {"unknown layout",
     V4(.ttl = 239, .win = 4000, .layout = "mss,?77,ts,nop,nop,nop,nop", .mss = 1200, .ts2 = 5),
     NULL, NULL, NULL, P0F_NONE, 16,
     "4:239+16:0:1200:4000,0:mss,?77,ts,nop,nop,nop,nop:df,id+,ts1-,ts2+:0"},
    {"IPv4 options",
     V4(.ttl = 64, .ipopt = 8, .win = 29200, .layout = LINUX, .mss = 1460, .ws = 7, .ts1 = 1), NULL,
     NULL, NULL, P0F_NONE, 0, "4:64+0:8:1460:mss*20,7:mss,sok,ts,nop,ws:df,id+:0"},
    {"every odd flag",
     V4(.ttl = 30, .df = false, .ip_id = 0, .tos = 0x03, .win = 1000, .layout = "mss,ws,nop,eol+3",
        .mss = 1000, .ws = 15, .flags = 0xfa, .urg = 77),
     NULL, NULL, NULL, P0F_NONE, 2,
     "4:30+2:0:1000:mss*1,15:mss,ws,nop,eol+3:id-,ecn,ack-,urgf+,pushf+,exws:0"},
    {"seq zero, ack without flag, junk after eol",
     V4(.ttl = 255, .ip_id = 0, .win = 1500, .layout = "mss,nop,nop,eol+5", .mss = 1460,
        .seq_zero = true, .ack = 9, .eol_junk = true),
     NULL, NULL, NULL, P0F_NONE, 0, "4:255+0:0:1460:mtu*1,0:mss,nop,nop,eol+5:df,seq-,ack+,opt+:0"},
    {"mtu multiple window over IPv6 with a hop-by-hop header",
     V6(.ttl = 64, .ipopt = 8, .win = 3000, .layout = "mss,nop,ws", .mss = 1440), NULL, NULL, NULL,
     P0F_NONE, 0, "6:64+0:8:1440:mtu*2,0:mss,nop,ws::0"},
};

/* test_known_systems - each system's SYN gives its class, name, flavor, match and distance */
static void
test_known_systems(void **state)
{
	unsigned char buf[256];
	struct syn_info s;
	struct p0f_match m;
	char sig[P0F_SIG_STR_MAX];
	const char *why = NULL;
	size_t i, len;

	(void)state;
	for (i = 0; i < N_(os_cases); i++) {
		const struct os_case *c = &os_cases[i];

		len = build(&c->sp, buf, sizeof(buf));
		CHECK(syn_parse(buf, len, &s, &why) == 0, "%s: refused (%s)", c->what, why);
		p0f_match(db, &s, &m);
		p0f_sig_string(&s, sig, sizeof(sig));
		CHECK(m.kind == c->kind, "%s: got match %s, want %s (sig %s, line %u)", c->what,
		      p0f_match_name(m.kind), p0f_match_name(c->kind), sig, m.line);
		if (c->os_class != NULL) {
			CHECK(strcmp(m.os_class, c->os_class) == 0 &&
			          strcmp(m.os_name, c->os_name) == 0 &&
			          strcmp(m.os_flavor, c->os_flavor) == 0,
			      "%s: got %s:%s:%s, want %s:%s:%s", c->what, m.os_class, m.os_name,
			      m.os_flavor, c->os_class, c->os_name, c->os_flavor);
		} else {
			CHECK(m.os_class == NULL && m.os_name == NULL && m.line == 0,
			      "%s: got %s:%s, want no match", c->what, m.os_class, m.os_name);
		}
		CHECK(m.distance == c->distance, "%s: got distance %d, want %d", c->what,
		      m.distance, c->distance);
		if (c->sig != NULL)
			CHECK(strcmp(sig, c->sig) == 0, "%s: got sig %s, want %s", c->what, sig,
			      c->sig);
	}
}

/* test_syn_fields - what the parser reads from each field */
static void
test_syn_fields(void **state)
{
	struct spec sp =
	    V4(.ttl = 117, .tos = 0x20, .win = 65535, .layout = "mss,nop,ws,sok,ts,eol+3",
	       .mss = 1380, .ws = 5, .ts1 = 7, .ts2 = 8);
	unsigned char buf[256];
	struct syn_info s;
	char lay[128];
	size_t len = build(&sp, buf, sizeof(buf));

	(void)state;
	assert_int_equal(syn_parse(buf, len, &s, NULL), 0);
	assert_int_equal(s.ip_version, 4);
	assert_int_equal(s.ttl, 117);
	assert_int_equal(s.tos, 0x20);
	assert_true(s.df);
	assert_int_equal(s.ip_id, 0x1a2b);
	assert_int_equal(s.ip_opt_len, 0);
	assert_int_equal(s.win, 65535);
	assert_int_equal(s.mss, 1380);
	assert_int_equal(s.wscale, 5);
	assert_int_equal(s.ts1, 7);
	assert_int_equal(s.ts2, 8);
	assert_int_equal(s.nopt, 6);
	assert_int_equal(s.opt_eol_pad, 3);
	assert_false(s.payload);
	assert_int_equal(s.quirks, SYN_Q(DF) | SYN_Q(NZ_ID) | SYN_Q(TS2_NZ));
	syn_olayout_str(&s, lay, sizeof(lay));
	assert_string_equal(lay, "mss,nop,ws,sok,ts,eol+3");
	/* a small buffer is cut, terminated, and the needed length is still reported */
	assert_int_equal(syn_olayout_str(&s, lay, 8), strlen("mss,nop,ws,sok,ts,eol+3"));
	assert_string_equal(lay, "mss,nop");
	assert_int_equal(syn_quirks_str(s.quirks, lay, 3), strlen("df,id+,ts2+"));
	assert_string_equal(lay, "df");
	assert_null(syn_quirk_name(SYN_QB__COUNT));
	assert_string_equal(syn_quirk_name(SYN_QB_OPT_BAD), "bad");
}

/* ------------------------------------------------------------------ every shipped signature */

/* spec_from_sig - a SYN that fits a p0f.fp sig line (wildcards get ordinary values) */
static void
spec_from_sig(const char *sigtext, struct spec *sp, char *layout, size_t laylen)
{
	char buf[512], *f[8], *p, *tok, *save = NULL, *ws;
	unsigned ittl, n;
	size_t i = 0;

	strlcpy(buf, sigtext, sizeof(buf));
	for (p = buf, f[i++] = p; *p && i < 8; p++)
		if (*p == ':')
			*p = '\0', f[i++] = p + 1;
	CHECK(i == 8, "sig %s: fields", sigtext);
	memset(sp, 0, sizeof(*sp));
	sp->ver = strcmp(f[0], "6") == 0 ? 6 : 4;
	ittl = (unsigned)atoi(f[1]);
	sp->ttl = ittl - 3;
	sp->mss = strcmp(f[3], "*") == 0 ? 1460 : (unsigned)atoi(f[3]);
	ws = strchr(f[4], ',');
	*ws++ = '\0';
	if (strcmp(f[4], "*") == 0)
		sp->win = 1000;
	else if (sscanf(f[4], "mss*%u", &n) == 1)
		sp->win = sp->mss * n;
	else if (sscanf(f[4], "mtu*%u", &n) == 1)
		sp->win = (sp->mss + (sp->ver == 6 ? 60 : 40)) * n;
	else if (sscanf(f[4], "%%%u", &n) == 1)
		sp->win = n * 3;
	else
		sp->win = (unsigned)atoi(f[4]);
	sp->ws = strcmp(ws, "*") == 0 ? 5 : (unsigned)atoi(ws);
	strlcpy(layout, f[5], laylen);
	sp->layout = layout;
	sp->ts1 = 1000;
	sp->ip_id = 0x4321;
	for (tok = strtok_r(f[6], ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "df") == 0)
			sp->df = true;
		else if (strcmp(tok, "id-") == 0)
			sp->ip_id = 0;
		else if (strcmp(tok, "ecn") == 0)
			sp->tos = 0x02;
		else if (strcmp(tok, "flow") == 0)
			sp->flow = 5;
		else if (strcmp(tok, "seq-") == 0)
			sp->seq_zero = true;
		else if (strcmp(tok, "ack+") == 0)
			sp->ack = 99;
		else if (strcmp(tok, "uptr+") == 0)
			sp->urg = 1;
		else if (strcmp(tok, "urgf+") == 0)
			sp->flags |= 0x22;
		else if (strcmp(tok, "pushf+") == 0)
			sp->flags |= 0x0a;
		else if (strcmp(tok, "ts1-") == 0)
			sp->ts1 = 0;
		else if (strcmp(tok, "ts2+") == 0)
			sp->ts2 = 7;
		else if (strcmp(tok, "opt+") == 0)
			sp->eol_junk = true;
		else if (strcmp(tok, "id+") != 0)
			fail_msg("sig %s: quirk %s not handled by the test", sigtext, tok);
	}
	if (sp->df && strstr(sigtext, "id+") == NULL)
		sp->ip_id = 0;
	if (strcmp(f[7], "+") == 0)
		sp->payload = 10;
}

/* test_every_signature - a SYN built from each [tcp:request] sig of the shipped file is an
 * exact (or generic) match for that sig, or for an earlier one that also fits it */
static void
test_every_signature(void **state)
{
	FILE *f = fopen(fp_path, "r");
	char line[1024], layout[256], sig[P0F_SIG_STR_MAX], label[256] = "";
	unsigned lineno = 0, nsigs = 0, self = 0;
	bool in = false;
	unsigned char buf[256];
	struct syn_info s;
	struct p0f_match m;
	struct spec sp;
	size_t len;

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		char *v;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '[')
			in = strcmp(line, "[tcp:request]") == 0;
		if (!in || (v = strchr(line, '=')) == NULL)
			continue;
		for (v++; *v == ' '; v++)
			;
		if (strncmp(line, "label", 5) == 0)
			strlcpy(label, v, sizeof(label));
		if (strncmp(line, "sig", 3) != 0)
			continue;
		nsigs++;
		spec_from_sig(v, &sp, layout, sizeof(layout));
		len = build(&sp, buf, sizeof(buf));
		CHECK(syn_parse(buf, len, &s, NULL) == 0, "line %u: %s refused", lineno, v);
		p0f_match(db, &s, &m);
		p0f_sig_string(&s, sig, sizeof(sig));
		CHECK(m.kind == P0F_EXACT || (label[0] == 'g' && m.kind == P0F_GENERIC),
		      "line %u (%s, %s): got %s match (line %u), built %s", lineno, label, v,
		      p0f_match_name(m.kind), m.line, sig);
		CHECK(m.line <= lineno, "line %u (%s): matched a later sig on line %u", lineno, v,
		      m.line);
		self += m.line == lineno;
	}
	fclose(f);
	assert_int_equal(nsigs, p0f_db_count(db));
	print_message("%u signatures, %u matched by their own line, the rest by an earlier one\n",
	              nsigs, self);
	CHECK(self * 10 >= nsigs * 8, "only %u of %u sigs matched themselves", self, nsigs);
}

/* ------------------------------------------------------------------ hostile bytes */

/* test_truncated - every proper prefix of a real SYN is refused with a reason */
static void
test_truncated(void **state)
{
	unsigned char buf[256];
	struct syn_info s;
	const char *why;
	size_t i, k, len;

	(void)state;
	for (i = 0; i < N_(os_cases); i++) {
		len = build(&os_cases[i].sp, buf, sizeof(buf));
		for (k = 0; k < len; k++) {
			why = NULL;
			CHECK(syn_parse(buf, k, &s, &why) == -1 && why != NULL,
			      "%s: a %zu-byte prefix of %zu was accepted", os_cases[i].what, k,
			      len);
		}
		CHECK(syn_parse(buf, len, &s, &why) == 0, "%s: whole SYN refused",
		      os_cases[i].what);
	}
	assert_int_equal(syn_parse(NULL, 0, &s, &why), -1);
}

struct bad_case {
	const char *what;
	size_t at;         /* byte to change, counted from the start */
	unsigned char val; /* its new value */
	size_t cut;        /* then keep only this many bytes (0 = all) */
	const char *why;   /* expected reason (substring), NULL = parsed, with want_quirk */
	uint32_t want_quirk;
};

/* base SYN: IPv4 20 bytes + TCP 20 + mss,sok,ts,nop,ws (20) = 60 bytes */
static const struct bad_case bad_cases[] = {
    {"version 5", 0, 0x55, 0, "not IPv4 or IPv6", 0},
    {"IHL 4", 0, 0x44, 0, "IPv4 header length below 20", 0},
    {"IHL 15 (60 bytes) in a 40-byte buffer", 0, 0x4f, 40, "IPv4 header longer", 0},
    {"total length 10", 3, 10, 0, "total length shorter", 0},
    {"total length shorter than TCP", 3, 30, 0, "IP length shorter than the TCP header", 0},
    {"fragment offset", 7, 0x08, 0, "fragment", 0},
    {"more fragments", 6, 0x60, 0, "fragment", 0},
    {"UDP", 9, 17, 0, "not TCP", 0},
    {"TCP data offset 4", 32, 0x40, 0, "TCP header length below 20", 0},
    {"TCP data offset 15 past the buffer", 32, 0xf0, 0, "TCP header longer", 0},
    {"ACK only, no SYN", 33, 0x10, 0, "SYN flag not set", 0},
    {"option length 0", 41, 0, 0, NULL, SYN_Q(OPT_BAD)},
    {"option length 1", 41, 1, 0, NULL, SYN_Q(OPT_BAD)},
    {"option length past the header", 41, 60, 0, NULL, SYN_Q(OPT_BAD)},
    {"MSS length 3", 41, 3, 0, NULL, SYN_Q(OPT_BAD)},
    {"SACK-permitted length 4", 45, 4, 0, NULL, SYN_Q(OPT_BAD)},
    {"timestamp length 8", 47, 8, 0, NULL, SYN_Q(OPT_BAD)},
    {"window scale 15", 59, 15, 0, NULL, SYN_Q(EXWS)},
    {"reserved IP flag", 6, 0xc0, 0, NULL, SYN_Q(NZ_MBZ)},
    {"ECN bits in TOS", 1, 0x01, 0, NULL, SYN_Q(ECN)},
    {"TCP NS bit", 32, 0xa1, 0, NULL, SYN_Q(ECN)},
};

/* test_bad_bytes - each defect is refused with its reason or recorded as p0f's quirk */
static void
test_bad_bytes(void **state)
{
	struct spec sp =
	    V4(.ttl = 64, .win = 29200, .layout = LINUX, .mss = 1460, .ws = 7, .ts1 = 1);
	unsigned char base[256], buf[256];
	struct syn_info s;
	const char *why;
	size_t i, len = build(&sp, base, sizeof(base));

	(void)state;
	assert_int_equal(len, 60);
	for (i = 0; i < N_(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		size_t n = c->cut ? c->cut : len;
		int r;

		memcpy(buf, base, len);
		buf[c->at] = c->val;
		why = NULL;
		r = syn_parse(buf, n, &s, &why);
		if (c->why != NULL) {
			CHECK(r == -1 && why != NULL && strstr(why, c->why) != NULL,
			      "%s: got %d '%s', want refused '%s'", c->what, r, why ? why : "",
			      c->why);
		} else {
			CHECK(r == 0, "%s: refused (%s)", c->what, why);
			CHECK((s.quirks & c->want_quirk) == c->want_quirk,
			      "%s: quirks %#x lack %#x", c->what, s.quirks, c->want_quirk);
		}
	}
}

/* test_ipv6_ext - extension headers are walked with bounds, loops and garbage refused */
static void
test_ipv6_ext(void **state)
{
	struct spec sp = V6(.ttl = 64, .ipopt = 16, .win = 28800, .layout = LINUX, .mss = 1440,
	                    .ws = 7, .ts1 = 1);
	unsigned char buf[1200];
	struct syn_info s;
	const char *why = NULL;
	size_t len = build(&sp, buf, sizeof(buf)), i;

	(void)state;
	assert_int_equal(syn_parse(buf, len, &s, &why), 0);
	assert_int_equal(s.ip_opt_len, 16);
	assert_int_equal(s.mss, 1440);
	/* hop-by-hop length pointing past the buffer */
	buf[41] = 200;
	assert_int_equal(syn_parse(buf, len, &s, &why), -1);
	assert_non_null(strstr(why, "past the buffer"));
	/* seventeen chained hop-by-hop headers: more than the walk allows */
	memset(buf, 0, sizeof(buf));
	put32(buf, 0x60000000);
	put16(buf + 4, 17 * 8 + 20);
	buf[6] = 0;
	buf[7] = 64;
	for (i = 0; i < 17; i++)
		buf[40 + i * 8] = 0; /* next header: hop-by-hop again, length 8 */
	assert_int_equal(syn_parse(buf, 40 + 17 * 8 + 20, &s, &why), -1);
	assert_non_null(strstr(why, "too many"));
	/* a non-first fragment */
	buf[6] = 44;
	buf[40] = 6;
	put16(buf + 42, 0x0008);
	assert_int_equal(syn_parse(buf, 40 + 8 + 20, &s, &why), -1);
	assert_non_null(strstr(why, "fragment"));
	/* an unknown next header (UDP) */
	buf[6] = 17;
	assert_int_equal(syn_parse(buf, 200, &s, &why), -1);
	assert_non_null(strstr(why, "not TCP"));
}

/* check_sane - whatever was parsed stays inside its bounds and formats without overflow */
static void
check_sane(const struct syn_info *s)
{
	char sig[P0F_SIG_STR_MAX];
	struct p0f_match m;
	int n;

	CHECK(s->nopt <= SYN_OPT_MAX && s->opt_eol_pad <= 40, "nopt %u pad %u", s->nopt,
	      s->opt_eol_pad);
	CHECK(s->ip_version == 4 || s->ip_version == 6, "version %d", s->ip_version);
	p0f_match(db, s, &m);
	n = p0f_sig_string(s, sig, sizeof(sig));
	CHECK(n > 0 && (size_t)n < sizeof(sig), "sig string of %d bytes", n);
}

/* test_mutations - every byte of real SYNs set to a spread of values: parsed or refused,
 * never read out of bounds (ASan/UBSan builds watch the reads) */
static void
test_mutations(void **state)
{
	static const unsigned char vals[] = {0x00, 0x01, 0x02, 0x04, 0x08, 0x0a, 0x10, 0x28, 0x3c,
	                                     0x45, 0x4f, 0x60, 0x7f, 0x80, 0xa0, 0xf0, 0xfe, 0xff};
	unsigned char base[256], *buf;
	struct syn_info s;
	size_t i, k, v, len;
	unsigned ok = 0, refused = 0;

	(void)state;
	for (i = 0; i < N_(os_cases); i++) {
		len = build(&os_cases[i].sp, base, sizeof(base));
		for (k = 0; k < len; k++)
			for (v = 0; v < N_(vals); v++) {
				/* an exact-size heap copy, so any overread is caught */
				buf = malloc(len);
				assert_non_null(buf);
				memcpy(buf, base, len);
				buf[k] = vals[v];
				if (syn_parse(buf, len, &s, NULL) == 0) {
					check_sane(&s);
					ok++;
				} else {
					refused++;
				}
				free(buf);
			}
	}
	print_message("mutations: %u parsed, %u refused\n", ok, refused);
	assert_true(ok > 0 && refused > 0);
}

/* test_random - random bytes with a plausible first byte */
static void
test_random(void **state)
{
	unsigned char *buf;
	struct syn_info s;
	unsigned i, ok = 0;

	(void)state;
	for (i = 0; i < 200000; i++) {
		size_t len = rand_uniform(200);
		buf = malloc(len ? len : 1);
		assert_non_null(buf);
		rand_buf(buf, len);
		if (len > 0)
			buf[0] = (unsigned char)((i & 1 ? 0x40 : 0x60) | (buf[0] & 0x0f));
		if (len > 40 && (i & 2)) {
			buf[9] = 6; /* TCP for IPv4 */
			buf[6] = 6; /* TCP for IPv6 */
		}
		if (syn_parse(buf, len, &s, NULL) == 0) {
			check_sane(&s);
			ok++;
		}
		free(buf);
	}
	print_message("random: %u of 200000 parsed\n", ok);
}

/* ------------------------------------------------------------------ the loader */

struct load_case {
	const char *text;
	const char *want; /* substring of the error, NULL = loads */
	size_t len;       /* 0 = strlen(text) */
};

#define HEAD "classes = win,unix,other\n[tcp:request]\nlabel = s:unix:Linux:3.x\n"

static const struct load_case load_cases[] = {
    {HEAD "sig = *:64:0:*:mss*20,10:mss,sok,ts,nop,ws:df,id+:0\n", NULL},
    {HEAD "sig = 4:54+10:0:1460:%8192,*:mss,nop,eol+2::*\n", NULL},
    {HEAD "sig = 6:64-:0:*:mtu*2,0:?99,nop:flow,bad,exws,opt+:+\n", NULL},
    {"; only a comment\n\n[mtu]\nlabel = Ethernet\nsig = 1500\n" HEAD
     "sig = *:64:0:*:*,*:::0\r\n[http:request]\nua_os = Linux\nsig = *:Host:Accept:x\n",
     NULL},
    {"classes = win,unix,other\n[tcp:request]\nsig = *:64:0:*:*,*:mss::0\n",
     "t.fp:3: sig before any label"},
    {HEAD "sig = *:64:0:*:*,*:mss:df\n", "t.fp:4: sig needs 8 fields"},
    {HEAD "sig = *:64:0:*:*,*:mss:df:0:extra\n", "t.fp:4: sig needs 8 fields"},
    {HEAD "sig = 5:64:0:*:*,*:mss::0\n", "t.fp:4: bad IP version '5'"},
    {HEAD "sig = *:256:0:*:*,*:mss::0\n", "t.fp:4: bad initial TTL '256'"},
    {HEAD "sig = *:0:0:*:*,*:mss::0\n", "t.fp:4: bad initial TTL"},
    {HEAD "sig = *:54+?:0:*:*,*:mss::0\n", "t.fp:4: initial TTL '54+?' has an unknown"},
    {HEAD "sig = *:250+10:0:*:*,*:mss::0\n", "t.fp:4: bad initial TTL"},
    {HEAD "sig = *:64:x:*:*,*:mss::0\n", "t.fp:4: bad IP option length 'x'"},
    {HEAD "sig = *:64:0:70000:*,*:mss::0\n", "t.fp:4: bad MSS '70000'"},
    {HEAD "sig = *:64:0:*:8192:mss::0\n", "t.fp:4: bad window field '8192'"},
    {HEAD "sig = *:64:0:*:1,1:mss,,nop::0\n", "t.fp:4: unknown TCP option ''"},
    {HEAD "sig = *:64:0:*:1,1:mss:df,:0\n", "t.fp:4: unknown quirk ''"},
    {HEAD "sig = *:64:0:*:8192;2:mss::0\n", "t.fp:4: bad window field"},
    {HEAD "sig = *:64:0:*:mss*0,0:mss::0\n", "t.fp:4: bad window size 'mss*0'"},
    {HEAD "sig = *:64:0:*:%0,0:mss::0\n", "t.fp:4: bad window size '%0'"},
    {HEAD "sig = *:64:0:*:1,99999:mss::0\n", "t.fp:4: bad window scale '99999'"},
    {HEAD "sig = *:64:0:*:1,1:mss,foo::0\n", "t.fp:4: unknown TCP option 'foo'"},
    {HEAD "sig = *:64:0:*:1,1:eol+1,nop::0\n", "t.fp:4: option 'nop' after eol"},
    {HEAD "sig = *:64:0:*:1,1:mss:df,id++:0\n", "t.fp:4: unknown quirk 'id++'"},
    {HEAD "sig = *:64:0:*:1,1:mss::2\n", "t.fp:4: bad payload class '2'"},
    {HEAD "bogus = 1\n", "t.fp:4: unknown key 'bogus' in [tcp:request]"},
    {HEAD "just words\n", "t.fp:4: 'just words' is not 'key = value'"},
    {HEAD "[tcp:request\n", "t.fp:4: section line '[tcp:request' lacks ']'"},
    {"classes = win,unix,other\n[tcp:request]\nlabel = x:unix:Linux:3.x\n",
     "t.fp:3: label type 'x'"},
    {"classes = win,unix,other\n[tcp:request]\nlabel = s:bsd:Linux:3.x\n",
     "t.fp:3: class 'bsd' is not declared"},
    {"[tcp:request]\nlabel = s:unix:Linux:3.x\n", "t.fp:2: class 'unix' is not declared"},
    {"classes = win,unix,other\n[tcp:request]\nlabel = s:unix::3.x\n",
     "t.fp:3: label has an empty name"},
    {"classes = win,unix,other\n[tcp:request]\nlabel = s:unix\n", "t.fp:3: label 's:unix' needs"},
    {"classes = win,unix,other\n[tcp:request]\nlabel = s:unix:Li\033nux:3.x\n",
     "t.fp:3: label name holds a control character"},
    {"classes = win,,unix\n", "t.fp:1: bad class ''"},
    {"classes = win,!\n", "t.fp:1: bad class '!'"},
    {"classes = win,unix,other\n[tcp:request]\nsys = Linux\n", "t.fp:3: sys before any label"},
    {HEAD "sys = Linux\nsys = BSD\n", "t.fp:5: second sys line"},
    {HEAD "sig = *:64:0:*:*,*:mss::0\nx\0y = 1\n", "t.fp:5: NUL byte",
     sizeof(HEAD "sig = *:64:0:*:*,*:mss::0\nx\0y = 1\n") - 1},
    {"classes = win,unix,other\n[tcp:request]\n", "t.fp: no [tcp:request] signatures"},
    {"", "t.fp: no [tcp:request] signatures"},
};

/* test_loader_errors - every bad line is named with file, line and a fix; good ones load */
static void
test_loader_errors(void **state)
{
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < N_(load_cases); i++) {
		const struct load_case *c = &load_cases[i];
		size_t len = c->len ? c->len : strlen(c->text);
		struct p0f_db *d;

		err[0] = '\0';
		d = p0f_db_parse(c->text, len, "t.fp", err, sizeof(err));
		if (c->want == NULL) {
			CHECK(d != NULL, "case %zu: refused: %s", i, err);
			assert_int_equal(p0f_db_count(d), 1);
		} else {
			CHECK(d == NULL && strstr(err, c->want) != NULL,
			      "case %zu: got '%s', want '%s'", i, d ? "(loaded)" : err, c->want);
		}
		p0f_db_free(d);
	}
}

/* test_loader_limits - an over-long line and an over-large text are refused */
static void
test_loader_limits(void **state)
{
	char err[512], *big;
	size_t n = P0F_LINE_MAX + 100;

	(void)state;
	big = malloc(P0F_FILE_MAX + 2);
	assert_non_null(big);
	memset(big, ';', n);
	big[n] = '\n';
	assert_null(p0f_db_parse(big, n + 1, "t.fp", err, sizeof(err)));
	assert_non_null(strstr(err, "t.fp:1: line longer than"));
	memset(big, '\n', P0F_FILE_MAX + 1);
	assert_null(p0f_db_parse(big, P0F_FILE_MAX + 1, "t.fp", err, sizeof(err)));
	assert_non_null(strstr(err, "larger than"));
	free(big);
}

/* test_open - the configured file, then the fallbacks; missing files named */
static void
test_open(void **state)
{
	char err[512];
	const char *used = NULL;
	struct p0f_db *d;

	(void)state;
	d = p0f_db_open(fp_path, &used, err, sizeof(err));
	assert_non_null(d);
	assert_ptr_equal(used, fp_path);
	assert_int_equal(p0f_db_count(d), p0f_db_count(db));
	p0f_db_free(d);
	assert_null(p0f_db_open("/nonexistent/p0f.fp", &used, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/p0f.fp: cannot open"));
	assert_null(p0f_db_load("/", err, sizeof(err)));
	assert_non_null(strstr(err, "/: not a regular file"));
	/* unconfigured: whichever fallback exists is named, or the fix is given */
	d = p0f_db_open("", &used, err, sizeof(err));
	if (d != NULL) {
		assert_true(strcmp(used, P0F_SYSTEM_FP) == 0 ||
		            strcmp(used, RELAYTRAP_P0F_FP) == 0);
		p0f_db_free(d);
	} else {
		assert_non_null(strstr(err, "set p0f_fp"));
	}
}

/* ------------------------------------------------------------------ enrich fields */

/* test_json - the enrich fields parse as JSON with the documented names and values */
static void
test_json(void **state)
{
	unsigned char buf[256];
	struct syn_info s;
	struct p0f_match m;
	struct jw w;
	json_error_t e;
	json_t *o, *syn;
	size_t len = build(&os_cases[0].sp, buf, sizeof(buf));

	(void)state;
	assert_int_equal(syn_parse(buf, len, &s, NULL), 0);
	p0f_match(db, &s, &m);
	jw_init(&w);
	jw_obj_open(&w);
	jw_key_str(&w, "kind", "os");
	p0f_jw_fields(&w, &s, &m);
	jw_obj_close(&w);
	o = json_loadb(w.buf, w.len, 0, &e);
	CHECK(o != NULL, "not JSON: %s: %.*s", e.text, (int)w.len, w.buf);
	assert_string_equal(json_string_value(json_object_get(o, "os_class")), "win");
	assert_string_equal(json_string_value(json_object_get(o, "os_name")), "Windows");
	assert_string_equal(json_string_value(json_object_get(o, "os_flavor")), "XP");
	assert_int_equal(json_integer_value(json_object_get(o, "os_distance")), 11);
	assert_string_equal(json_string_value(json_object_get(o, "os_match")), "exact");
	assert_string_equal(json_string_value(json_object_get(o, "os_sig")), os_cases[0].sig);
	syn = json_object_get(o, "syn");
	assert_non_null(syn);
	assert_int_equal(json_integer_value(json_object_get(syn, "ip_version")), 4);
	assert_int_equal(json_integer_value(json_object_get(syn, "ttl")), 117);
	assert_true(json_is_true(json_object_get(syn, "df")));
	assert_int_equal(json_integer_value(json_object_get(syn, "ip_id")), 0x1a2b);
	assert_int_equal(json_integer_value(json_object_get(syn, "win")), 65535);
	assert_int_equal(json_integer_value(json_object_get(syn, "mss")), 1460);
	assert_int_equal(json_integer_value(json_object_get(syn, "wscale")), 0);
	assert_string_equal(json_string_value(json_object_get(syn, "olayout")), "mss,nop,nop,sok");
	assert_string_equal(json_string_value(json_object_get(syn, "quirks")), "df,id+");
	assert_int_equal(json_integer_value(json_object_get(syn, "opt_eol_pad")), 0);
	assert_int_equal(json_integer_value(json_object_get(syn, "ip_opt_len")), 0);
	json_decref(o);

	/* no database: no os names, match none, the signature still there */
	jw_reset(&w);
	jw_obj_open(&w);
	p0f_jw_fields(&w, &s, NULL);
	jw_obj_close(&w);
	o = json_loadb(w.buf, w.len, 0, &e);
	assert_non_null(o);
	assert_null(json_object_get(o, "os_name"));
	assert_string_equal(json_string_value(json_object_get(o, "os_match")), "none");
	assert_int_equal(json_integer_value(json_object_get(o, "os_distance")), 11);
	assert_string_equal(json_string_value(json_object_get(o, "os_sig")), os_cases[0].sig);
	json_decref(o);
	jw_free(&w);
}

/* test_guess_distance - the next common initial TTL */
static void
test_guess_distance(void **state)
{
	static const int cases[][2] = {{1, 31},  {32, 0},    {33, 31},  {64, 0}, {100, 28},
	                               {128, 0}, {129, 126}, {200, 55}, {255, 0}};
	size_t i;

	(void)state;
	for (i = 0; i < N_(cases); i++)
		CHECK(p0f_guess_distance((unsigned)cases[i][0]) == cases[i][1],
		      "ttl %d: got %d, want %d", cases[i][0],
		      p0f_guess_distance((unsigned)cases[i][0]), cases[i][1]);
	assert_string_equal(p0f_match_name(P0F_GENERIC), "generic");
	assert_string_equal(p0f_match_name((enum p0f_match_kind)42), "none");
}

/* main - run every case of this suite */
int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_systems),
	    cmocka_unit_test(test_syn_fields),
	    cmocka_unit_test(test_every_signature),
	    cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_bad_bytes),
	    cmocka_unit_test(test_ipv6_ext),
	    cmocka_unit_test(test_mutations),
	    cmocka_unit_test(test_random),
	    cmocka_unit_test(test_loader_errors),
	    cmocka_unit_test(test_loader_limits),
	    cmocka_unit_test(test_open),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_guess_distance),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
