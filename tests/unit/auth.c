/* SPDX-License-Identifier: ISC */
/*
 * tests/unit/auth - AUTH decoders: LOGIN and PLAIN fields, CRAM-MD5 challenge and response,
 * NTLM NEGOTIATE / CHALLENGE / AUTHENTICATE byte layouts ([MS-NLMP] §2.2.1) and the hashcat
 * lines. Base64 vectors are written out literally; NTLM messages are assembled field by field
 * here so the parser is checked against an independent layout.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "smtp/auth.h"

#define N_(a) (sizeof(a) / sizeof((a)[0]))

struct text_case {
	const char *b64;
	long rc;
	const char *want;
	bool truncated;
};

static const struct text_case text_cases[] = {
    {"dXNlckBleGFtcGxlLmNvbQ==", 16, "user@example.com", false},
    {"UGFzc3cwcmQh", 9, "Passw0rd!", false},
    {"dXNlckBleGFtcGxlLmNvbQ", 16, "user@example.com", false}, /* padding left off */
    {"UGFzc3cwcmQh\r\n", 9, "Passw0rd!", false},               /* CRLF left on */
    {"asOpcsO0bWU=", 8, "j\xc3\xa9r\xc3\xb4me", false},
    {"", 0, "", false},
    {"=", 0, "", false},
    {"!!!!", -1, "", false},
    {"dXNlcg=", -1, "", false},
    {"dXN", 2, "us", false},
    {"d", -1, "", false},
    {"dX==dXNl", -1, "", false},
    {"dXNl cg==", -1, "", false},
};

/* test_b64_text - LOGIN fields decode, refuse non-base64 and terminate */
static void
test_b64_text(void **state)
{
	char out[AUTH_FIELD_MAX];
	bool trunc;
	size_t i;
	long rc;

	(void)state;
	for (i = 0; i < N_(text_cases); i++) {
		const struct text_case *c = &text_cases[i];

		rc = auth_decode_b64_text(c->b64, strlen(c->b64), out, sizeof(out), &trunc);
		if (rc != c->rc || strcmp(out, c->want) != 0)
			print_error("row %zu: got %ld '%s', want %ld '%s'\n", i, rc, out, c->rc,
			            c->want);
		assert_int_equal(rc, c->rc);
		assert_string_equal(out, c->want);
		assert_int_equal(trunc, c->truncated);
	}
}

/* test_b64_text_long - long input is validated whole but cut to the field */
static void
test_b64_text_long(void **state)
{
	static char b64[8000];
	char out[AUTH_FIELD_MAX];
	bool trunc = false;
	size_t i;
	long rc;

	(void)state;
	/* "eHh4" decodes to three 'x' bytes: 1900 groups = 5700 bytes, more than AUTH_BLOB_MAX. */
	for (i = 0; i < 1900; i++)
		memcpy(b64 + 4 * i, "eHh4", 4);
	rc = auth_decode_b64_text(b64, 4 * 1900, out, sizeof(out), &trunc);
	assert_int_equal(rc, AUTH_FIELD_MAX - 1);
	assert_int_equal(strlen(out), AUTH_FIELD_MAX - 1);
	assert_true(trunc);
	assert_int_equal(out[0], 'x');
	/* One bad byte at the very end still makes the whole thing invalid. */
	b64[4 * 1900 - 1] = '*';
	assert_int_equal(auth_decode_b64_text(b64, 4 * 1900, out, sizeof(out), NULL), -1);
	/* Padding in the middle of a long input is refused. */
	b64[4 * 1900 - 1] = '4';
	b64[100] = '=';
	assert_int_equal(auth_decode_b64_text(b64, 4 * 1900, out, sizeof(out), NULL), -1);
	/* A small output buffer is honoured. */
	rc = auth_decode_b64_text("UGFzc3cwcmQh", 12, out, 4, &trunc);
	assert_int_equal(rc, 3);
	assert_string_equal(out, "Pas");
	assert_true(trunc);
	assert_int_equal(auth_decode_b64_text("UGFz", 4, out, 0, NULL), -1);
	assert_int_equal(auth_decode_b64_text(NULL, 4, out, sizeof(out), NULL), -1);
}

struct plain_case {
	const char *b64;
	int rc;
	const char *authzid, *authcid, *password;
};

static const struct plain_case plain_cases[] = {
    {"AHVzZXIAcGFzcw==", 0, "", "user", "pass"},
    {"YWRtaW4AYm9iAHMzY3IzdA==", 0, "admin", "bob", "s3cr3t"},
    {"AAA=", 0, "", "", ""},
    {"bm91c2Vy", -1, "", "nouser", ""},
    {"YQBi", -1, "", "a", ""},
    {"%%%%", -1, "", "", ""},
    {"", -1, "", "", ""},
};

/* test_plain - three fields split on NUL; fewer separators keep the text in authcid */
static void
test_plain(void **state)
{
	struct auth_plain p;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < N_(plain_cases); i++) {
		const struct plain_case *c = &plain_cases[i];

		rc = auth_decode_plain(c->b64, strlen(c->b64), &p);
		if (rc != c->rc || strcmp(p.authcid, c->authcid) != 0)
			print_error("row %zu: got %d authcid '%s', want %d '%s'\n", i, rc,
			            p.authcid, c->rc, c->authcid);
		assert_int_equal(rc, c->rc);
		assert_string_equal(p.authzid, c->authzid);
		assert_string_equal(p.authcid, c->authcid);
		assert_string_equal(p.password, c->password);
	}
	assert_int_equal(auth_decode_plain("AAA=", 4, NULL), -1);
}

struct cram_case {
	const char *b64;
	int rc;
	const char *user, *digest;
};

static const struct cram_case cram_cases[] = {
    /* RFC 2195 section 2 example */
    {"dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw", 0, "tim",
     "b913a602c7eda7a495b4e6e7334d3890"},
    {"am9lIHNtaXRoIDAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5QUJDREVG", 0, "joe smith",
     "0123456789abcdef0123456789ABCDEF"},
    {"bm9zcGFjZQ==", -1, "nospace", ""},
    {"dGltIHh5eg==", -1, "tim", "xyz"},
    {"####", -1, "", ""},
};

/* test_cram - the user is everything before the last space, the digest 32 hex digits */
static void
test_cram(void **state)
{
	struct auth_cram cr;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < N_(cram_cases); i++) {
		const struct cram_case *c = &cram_cases[i];

		rc = auth_decode_cram_md5(c->b64, strlen(c->b64), &cr);
		if (rc != c->rc || strcmp(cr.user, c->user) != 0)
			print_error("row %zu: got %d user '%s', want %d '%s'\n", i, rc, cr.user,
			            c->rc, c->user);
		assert_int_equal(rc, c->rc);
		assert_string_equal(cr.user, c->user);
		assert_string_equal(cr.digest, c->digest);
	}
}

/* test_cram_challenge - "<digits.digits@host>", different every time, bounded */
static void
test_cram_challenge(void **state)
{
	char a[128], b[128], small[8];
	unsigned long long r, t;
	char host[64];

	(void)state;
	auth_cram_md5_challenge("mail01.contoso.local", a, sizeof(a));
	auth_cram_md5_challenge("mail01.contoso.local", b, sizeof(b));
	assert_int_equal(sscanf(a, "<%llu.%llu@%63[^>]>", &r, &t, host), 3);
	assert_string_equal(host, "mail01.contoso.local");
	assert_true(t > 1500000000ull);
	assert_int_equal(a[strlen(a) - 1], '>');
	assert_string_not_equal(a, b);
	auth_cram_md5_challenge("h", small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(small[0], '<');
}

/* le16 - test-side little-endian 16-bit writer, independent of the module */
static void
le16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

/* le32 - test-side little-endian 32-bit writer */
static void
le32(unsigned char *p, uint32_t v)
{
	le16(p, v & 0xffff);
	le16(p + 2, v >> 16);
}

/* get16 - test-side little-endian 16-bit reader */
static unsigned
get16(const unsigned char *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

/* get32 - test-side little-endian 32-bit reader */
static uint32_t
get32(const unsigned char *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

/* ascii16 - ASCII as UTF-16LE; returns the byte count */
static size_t
ascii16(const char *s, unsigned char *out)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		out[2 * i] = (unsigned char)s[i];
		out[2 * i + 1] = 0;
	}
	return 2 * i;
}

/* test_type1 - NEGOTIATE with and without supplied names and version */
static void
test_type1(void **state)
{
	unsigned char m[64];
	struct ntlm_type1 t1;

	(void)state;
	/* Minimal 16-byte NEGOTIATE as old clients send it. */
	memset(m, 0, sizeof(m));
	memcpy(m, "NTLMSSP", 8);
	le32(m + 8, 1);
	le32(m + 12, 0x00008207);
	assert_int_equal(ntlm_parse_type1(m, 16, &t1), 0);
	assert_int_equal(t1.flags, 0x00008207);
	assert_string_equal(t1.domain, "");
	assert_false(t1.has_version);

	/* With domain "CORP" and workstation "WS1" supplied and a VERSION (5.1 build 2600). */
	le32(m + 12, 0x02003207);
	le16(m + 16, 4);
	le16(m + 18, 4);
	le32(m + 20, 40);
	le16(m + 24, 3);
	le16(m + 26, 3);
	le32(m + 28, 44);
	m[32] = 5;
	m[33] = 1;
	le16(m + 34, 2600);
	m[39] = 15;
	memcpy(m + 40, "CORPWS1", 7);
	assert_int_equal(ntlm_parse_type1(m, 47, &t1), 0);
	assert_int_equal(t1.flags, 0x02003207);
	assert_string_equal(t1.domain, "CORP");
	assert_string_equal(t1.workstation, "WS1");
	assert_true(t1.has_version);
	assert_int_equal(t1.version[0], 5);
	assert_int_equal(get16(t1.version + 2), 2600);
	assert_int_equal(t1.version[7], 15);

	/* Workstation buffer one byte past the end. */
	assert_int_equal(ntlm_parse_type1(m, 46, &t1), -1);
	/* Offset near 2^32 must not wrap around. */
	le32(m + 28, 0xFFFFFFFE);
	assert_int_equal(ntlm_parse_type1(m, 47, &t1), -1);
	le32(m + 28, 44);
	/* Wrong type, wrong signature, too short. */
	le32(m + 8, 3);
	assert_int_equal(ntlm_parse_type1(m, 47, &t1), -1);
	le32(m + 8, 1);
	m[0] = 'X';
	assert_int_equal(ntlm_parse_type1(m, 47, &t1), -1);
	m[0] = 'N';
	assert_int_equal(ntlm_parse_type1(m, 15, &t1), -1);
	assert_int_equal(ntlm_parse_type1(NULL, 0, &t1), -1);
}

static const struct ntlm_names names = {
    "CONTOSO", "MAIL01", "contoso.local", "mail01.contoso.local", "contoso.local",
};

static const uint8_t chal[8] = {1, 2, 3, 4, 5, 6, 7, 8};

struct av_want {
	unsigned id;
	const char *value;
};

/* check_type2 - every byte field of a CHALLENGE against the Windows 2000 layout */
static void
check_type2(const unsigned char *m, long len, bool unicode, uint32_t want_flags,
            const struct av_want *av, size_t nav)
{
	unsigned char u16[128];
	size_t tn_len, ti_len, ti_off, o, i, n;

	assert_true(len > 48);
	assert_memory_equal(m, "NTLMSSP\0", 8);
	assert_int_equal(get32(m + 8), 2);
	tn_len = unicode ? 2 * strlen(names.netbios_domain) : strlen(names.netbios_domain);
	assert_int_equal(get16(m + 12), tn_len);
	assert_int_equal(get16(m + 14), tn_len);
	assert_int_equal(get32(m + 16), 48); /* no VERSION field */
	if (get32(m + 20) != want_flags)
		print_error("flags: got %#x, want %#x\n", get32(m + 20), want_flags);
	assert_int_equal(get32(m + 20), want_flags);
	assert_memory_equal(m + 24, chal, 8);
	for (i = 32; i < 40; i++)
		assert_int_equal(m[i], 0);
	ti_len = get16(m + 40);
	ti_off = get32(m + 44);
	assert_int_equal(get16(m + 42), ti_len);
	assert_int_equal(ti_off, 48 + tn_len);
	assert_int_equal(ti_off + ti_len, (size_t)len);
	if (unicode) {
		n = ascii16(names.netbios_domain, u16);
		assert_memory_equal(m + 48, u16, n);
	} else {
		assert_memory_equal(m + 48, names.netbios_domain, tn_len);
	}
	o = ti_off;
	for (i = 0; i < nav; i++) {
		assert_int_equal(get16(m + o), av[i].id);
		n = ascii16(av[i].value, u16);
		assert_int_equal(get16(m + o + 2), n);
		assert_memory_equal(m + o + 4, u16, n);
		o += 4 + n;
	}
	assert_int_equal(get16(m + o), 0); /* MsvAvEOL */
	assert_int_equal(get16(m + o + 2), 0);
	assert_int_equal(o + 4, (size_t)len);
}

/* test_type2 - unicode, OEM, no tree, and every too-small buffer */
static void
test_type2(void **state)
{
	static const struct av_want av_tree[] = {
	    {2, "CONTOSO"},       {1, "MAIL01"}, {4, "contoso.local"}, {3, "mail01.contoso.local"},
	    {5, "contoso.local"},
	};
	struct ntlm_names no_tree = names;
	unsigned char m[512], small[512];
	long len, n;

	(void)state;
	len = ntlm_build_type2(&names, chal, 0xE2088297, m, sizeof(m));
	check_type2(m, len, true, 0xA0898205, av_tree, 5);
	/* 48 + 14 + (4+14) + (4+12) + (4+26) + (4+40) + (4+26) + 4 = 204 */
	assert_int_equal(len, 204);

	len = ntlm_build_type2(&names, chal, 0x00000202, m, sizeof(m));
	check_type2(m, len, false, 0xA0898206, av_tree, 5);

	/* Neither UNICODE nor OEM: unicode. */
	len = ntlm_build_type2(&names, chal, 0x00000200, m, sizeof(m));
	check_type2(m, len, true, 0xA0898205, av_tree, 5);

	no_tree.dns_tree = NULL;
	len = ntlm_build_type2(&no_tree, chal, 0x00000001, m, sizeof(m));
	check_type2(m, len, true, 0xA0898205, av_tree, 4);
	assert_int_equal(len, 204 - 30);

	for (n = 0; n < len; n++)
		assert_int_equal(ntlm_build_type2(&no_tree, chal, 1, small, (size_t)n), -1);
	assert_int_equal(ntlm_build_type2(&no_tree, chal, 1, small, (size_t)len), len);
	assert_memory_equal(small, m, (size_t)len);
	assert_int_equal(ntlm_build_type2(&names, NULL, 1, m, sizeof(m)), -1);
}

/* test_type2_utf16 - non-ASCII names are real UTF-16LE, astral ones as surrogate pairs */
static void
test_type2_utf16(void **state)
{
	static const unsigned char want_tn[] = {'M', 0, 0xFC, 0, 'N', 0, 0x3D, 0xD8, 0x00, 0xDE};
	const struct ntlm_names n2 = {"M\xc3\xbcN\xf0\x9f\x98\x80", "X", "", "", NULL};
	unsigned char m[256];
	long len;

	(void)state;
	len = ntlm_build_type2(&n2, chal, 1, m, sizeof(m));
	assert_true(len > 0);
	assert_int_equal(get16(m + 12), sizeof(want_tn));
	assert_memory_equal(m + 48, want_tn, sizeof(want_tn));
	/* The first AV pair repeats the same UTF-16LE domain. */
	assert_int_equal(get16(m + 48 + sizeof(want_tn)), 2);
	assert_int_equal(get16(m + 48 + sizeof(want_tn) + 2), sizeof(want_tn));
	assert_memory_equal(m + 48 + sizeof(want_tn) + 4, want_tn, sizeof(want_tn));
}

struct t3_spec {
	uint32_t flags;
	size_t hdr; /* 52 (oldest), 64, or 72 (with VERSION) */
	const unsigned char *domain, *user, *ws;
	size_t domain_len, user_len, ws_len;
	const unsigned char *lm, *nt;
	size_t lm_len, nt_len;
};

/* put_buf - append a payload and write its security buffer */
static void
put_buf(unsigned char *m, size_t field, size_t *o, const unsigned char *b, size_t n)
{
	le16(m + field, (unsigned)n);
	le16(m + field + 2, (unsigned)n);
	le32(m + field + 4, (uint32_t)*o);
	if (n > 0)
		memcpy(m + *o, b, n);
	*o += n;
}

/* build_t3 - an AUTHENTICATE laid out like a Windows client: names first, then responses */
static size_t
build_t3(const struct t3_spec *s, unsigned char *m, size_t cap)
{
	size_t o = s->hdr;

	assert_true(s->hdr + s->domain_len + s->user_len + s->ws_len + s->lm_len + s->nt_len <=
	            cap);
	memset(m, 0, s->hdr);
	memcpy(m, "NTLMSSP", 8);
	le32(m + 8, 3);
	put_buf(m, 28, &o, s->domain, s->domain_len);
	put_buf(m, 36, &o, s->user, s->user_len);
	put_buf(m, 44, &o, s->ws, s->ws_len);
	put_buf(m, 12, &o, s->lm, s->lm_len);
	put_buf(m, 20, &o, s->nt, s->nt_len);
	if (s->hdr >= 64) {
		le32(m + 56, (uint32_t)o); /* empty session key */
		le32(m + 60, s->flags);
	}
	return o;
}

/* test_type3 - unicode, OEM and oldest-header AUTHENTICATE messages parse to their fields */
static void
test_type3(void **state)
{
	static const unsigned char user_u[] = {'J', 0, 0xFC, 0, 'r', 0, 'g', 0, 'e', 0, 'n', 0};
	static const unsigned char astral[] = {'a', 0, 0x3D, 0xD8, 0x00, 0xDE, 0x00, 0xD8, 'b', 0};
	static const unsigned char oem_user[] = {'J', 0xFC, 'r', 'g', 'e', 'n'};
	unsigned char dom[32], ws[32], lm[24], nt[300], m[1024];
	struct ntlm_type3 t3;
	struct t3_spec s;
	size_t len;

	(void)state;
	memset(lm, 0x11, sizeof(lm));
	memset(nt, 0x22, sizeof(nt));

	memset(&s, 0, sizeof(s));
	s.flags = 0xA2888205;
	s.hdr = 72;
	s.domain = dom;
	s.domain_len = ascii16("CONTOSO", dom);
	s.user = user_u;
	s.user_len = sizeof(user_u);
	s.ws = ws;
	s.ws_len = ascii16("WS-07", ws);
	s.lm = lm;
	s.lm_len = 24;
	s.nt = nt;
	s.nt_len = 24;
	len = build_t3(&s, m, sizeof(m));
	assert_int_equal(ntlm_parse_type3(m, len, &t3), 0);
	assert_int_equal(t3.flags, 0xA2888205);
	assert_string_equal(t3.domain, "CONTOSO");
	assert_string_equal(t3.user, "J\xc3\xbcrgen");
	assert_string_equal(t3.workstation, "WS-07");
	assert_int_equal(t3.lm_len, 24);
	assert_memory_equal(t3.lm, lm, 24);
	assert_int_equal(t3.nt_len, 24);
	assert_memory_equal(t3.nt, nt, 24);
	assert_false(t3.nt_truncated);

	/* OEM: flags without UNICODE, names are bytes (taken as Latin-1). */
	s.flags = 0x00008202;
	s.hdr = 64;
	s.domain = (const unsigned char *)"CORP";
	s.domain_len = 4;
	s.user = oem_user;
	s.user_len = sizeof(oem_user);
	s.ws = (const unsigned char *)"PC1";
	s.ws_len = 3;
	s.nt_len = 300;
	len = build_t3(&s, m, sizeof(m));
	assert_int_equal(ntlm_parse_type3(m, len, &t3), 0);
	assert_int_equal(t3.flags, 0x00008202);
	assert_string_equal(t3.domain, "CORP");
	assert_string_equal(t3.user, "J\xc3\xbcrgen");
	assert_string_equal(t3.workstation, "PC1");
	assert_int_equal(t3.nt_len, 300);

	/* Oldest 52-byte header: no flags, names in UTF-16LE; surrogates paired or replaced. */
	s.flags = 0;
	s.hdr = 52;
	s.domain = astral;
	s.domain_len = sizeof(astral);
	s.user = user_u;
	s.user_len = sizeof(user_u);
	s.ws_len = 0;
	s.lm_len = 0;
	s.nt_len = 24;
	len = build_t3(&s, m, sizeof(m));
	assert_int_equal(ntlm_parse_type3(m, len, &t3), 0);
	assert_int_equal(t3.flags, 0);
	assert_string_equal(t3.domain, "a\xf0\x9f\x98\x80\xef\xbf\xbd"
	                               "b");
	assert_string_equal(t3.user, "J\xc3\xbcrgen");
	assert_string_equal(t3.workstation, "");
	assert_int_equal(t3.lm_len, 0);
}

/* test_type3_bad - malformed AUTHENTICATE messages are refused, never read past the end */
static void
test_type3_bad(void **state)
{
	static unsigned char big[64 + 2000], ntbig[1100];
	unsigned char dom[32], lm[24], nt[24], m[512];
	char line[NTLM_CRACK_LINE_MAX];
	struct ntlm_type3 t3;
	struct t3_spec s;
	size_t len;

	(void)state;
	memset(lm, 0x11, sizeof(lm));
	memset(nt, 0x22, sizeof(nt));
	memset(&s, 0, sizeof(s));
	s.flags = 0x00000001;
	s.hdr = 64;
	s.domain = dom;
	s.domain_len = ascii16("D", dom);
	s.user = (const unsigned char *)"u\0s\0";
	s.user_len = 4;
	s.lm = lm;
	s.lm_len = 24;
	s.nt = nt;
	s.nt_len = 24;
	len = build_t3(&s, m, sizeof(m));
	assert_int_equal(ntlm_parse_type3(m, len, &t3), 0);

	/* Response offset beyond the message. */
	le32(m + 20 + 4, (uint32_t)len);
	assert_int_equal(ntlm_parse_type3(m, len, &t3), -1);
	le32(m + 20 + 4, (uint32_t)len - 24);
	/* Truncated message: the NT response now ends past len. */
	assert_int_equal(ntlm_parse_type3(m, len - 1, &t3), -1);
	/* Huge length and an offset that would wrap a 32-bit sum. */
	le16(m + 20, 0xFFFF);
	assert_int_equal(ntlm_parse_type3(m, len, &t3), -1);
	le16(m + 20, 24);
	le32(m + 36 + 4, 0xFFFFFFFF);
	assert_int_equal(ntlm_parse_type3(m, len, &t3), -1);
	le32(m + 36 + 4, 66);
	assert_int_equal(ntlm_parse_type3(m, len, &t3), 0);
	/* Odd UTF-16 length. */
	le16(m + 36, 3);
	assert_int_equal(ntlm_parse_type3(m, len, &t3), -1);
	le16(m + 36, 4);
	/* Wrong type, too short, NULL. */
	le32(m + 8, 2);
	assert_int_equal(ntlm_parse_type3(m, len, &t3), -1);
	le32(m + 8, 3);
	assert_int_equal(ntlm_parse_type3(m, 51, &t3), -1);
	assert_int_equal(ntlm_parse_type3(NULL, 0, &t3), -1);
	assert_int_equal(ntlm_parse_type3(m, len, NULL), -1);

	/* An NT response longer than the field is cut and flagged; the crack line is empty. */
	s.nt = ntbig;
	s.nt_len = 1100;
	len = build_t3(&s, big, sizeof(big));
	assert_int_equal(ntlm_parse_type3(big, len, &t3), 0);
	assert_int_equal(t3.nt_len, 1024);
	assert_true(t3.nt_truncated);
	assert_string_equal(ntlm_crack_line(&t3, chal, line, sizeof(line)), "");
}

/* test_crack - hashcat 5500 and 5600 lines, written out by hand */
static void
test_crack(void **state)
{
	static const uint8_t c2[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
	char line[NTLM_CRACK_LINE_MAX];
	struct ntlm_type3 t3;
	size_t i;

	(void)state;
	memset(&t3, 0, sizeof(t3));
	strcpy(t3.user, "bob");
	strcpy(t3.domain, "CORP");
	t3.lm_len = 24;
	t3.nt_len = 24;
	for (i = 0; i < 24; i++) {
		t3.lm[i] = (unsigned char)i;
		t3.nt[i] = (unsigned char)(0xA0 + i);
	}
	ntlm_crack_line(&t3, c2, line, sizeof(line));
	assert_string_equal(line, "bob::CORP:"
	                          "000102030405060708090a0b0c0d0e0f1011121314151617:"
	                          "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7:"
	                          "1122334455667788");

	/* NTLMv2: 16-byte NTProofStr then the blob (here 12 bytes). */
	t3.nt_len = 28;
	for (i = 0; i < 28; i++)
		t3.nt[i] = (unsigned char)(0xC0 + i);
	ntlm_crack_line(&t3, c2, line, sizeof(line));
	assert_string_equal(line, "bob::CORP:1122334455667788:"
	                          "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf:"
	                          "d0d1d2d3d4d5d6d7d8d9dadb");

	/* Too small an output gives "", not a cut line; nothing crackable gives "". */
	assert_string_equal(ntlm_crack_line(&t3, c2, line, 20), "");
	t3.nt_len = 0;
	assert_string_equal(ntlm_crack_line(&t3, c2, line, sizeof(line)), "");
	assert_string_equal(ntlm_crack_line(NULL, c2, line, sizeof(line)), "");

	/* The longest possible line fits NTLM_CRACK_LINE_MAX. */
	memset(t3.user, 'u', AUTH_FIELD_MAX - 1);
	t3.user[AUTH_FIELD_MAX - 1] = '\0';
	memset(t3.domain, 'd', AUTH_FIELD_MAX - 1);
	t3.domain[AUTH_FIELD_MAX - 1] = '\0';
	t3.nt_len = sizeof(t3.nt);
	ntlm_crack_line(&t3, c2, line, sizeof(line));
	assert_int_equal(strlen(line), 2 * (AUTH_FIELD_MAX - 1) + 2 + 3 + 16 + 2 * 1024);
}

/* test_random - mutated AUTHENTICATE messages and random base64 never break the limits */
static void
test_random(void **state)
{
	static const char b64alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \r";
	unsigned char dom[32], lm[24], nt[64], m[512], mm[512];
	char line[NTLM_CRACK_LINE_MAX], text[AUTH_FIELD_MAX], b64[600];
	struct ntlm_type3 t3;
	struct ntlm_type1 t1;
	struct auth_plain pl;
	struct auth_cram cr;
	struct t3_spec s;
	size_t len, n, iter, i, flips;
	long rc;

	(void)state;
	memset(lm, 0x11, sizeof(lm));
	memset(nt, 0x22, sizeof(nt));
	memset(&s, 0, sizeof(s));
	s.flags = 0xA2888205;
	s.hdr = 64;
	s.domain = dom;
	s.domain_len = ascii16("CONTOSO", dom);
	s.user = dom;
	s.user_len = s.domain_len;
	s.lm = lm;
	s.lm_len = 24;
	s.nt = nt;
	s.nt_len = sizeof(nt);
	len = build_t3(&s, m, sizeof(m));
	for (iter = 0; iter < 20000; iter++) {
		memcpy(mm, m, len);
		flips = 1 + rand_uniform(8);
		for (i = 0; i < flips; i++)
			rand_buf(mm + rand_uniform((uint32_t)len), 1);
		n = rand_uniform((uint32_t)len + 1);
		if (ntlm_parse_type3(mm, n, &t3) == 0) {
			assert_true(t3.lm_len <= sizeof(t3.lm));
			assert_true(t3.nt_len <= sizeof(t3.nt));
			assert_true(strlen(t3.user) < AUTH_FIELD_MAX);
			assert_true(strlen(t3.domain) < AUTH_FIELD_MAX);
			ntlm_crack_line(&t3, chal, line, sizeof(line));
			assert_true(strlen(line) < sizeof(line));
		}
		if (ntlm_parse_type1(mm, n, &t1) == 0)
			assert_true(strlen(t1.domain) < AUTH_FIELD_MAX);

		n = rand_uniform(sizeof(b64) + 1);
		for (i = 0; i < n; i++)
			b64[i] = b64alpha[rand_uniform(sizeof(b64alpha) - 1)];
		rc = auth_decode_b64_text(b64, n, text, sizeof(text), NULL);
		assert_true(rc >= -1 && rc < AUTH_FIELD_MAX);
		assert_true(memchr(text, '\0', sizeof(text)) != NULL);
		(void)auth_decode_plain(b64, n, &pl);
		assert_true(memchr(pl.password, '\0', sizeof(pl.password)) != NULL);
		(void)auth_decode_cram_md5(b64, n, &cr);
		assert_true(memchr(cr.digest, '\0', sizeof(cr.digest)) != NULL);
	}
}

/* main - run every case of this suite */
int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_b64_text),       cmocka_unit_test(test_b64_text_long),
	    cmocka_unit_test(test_plain),          cmocka_unit_test(test_cram),
	    cmocka_unit_test(test_cram_challenge), cmocka_unit_test(test_type1),
	    cmocka_unit_test(test_type2),          cmocka_unit_test(test_type2_utf16),
	    cmocka_unit_test(test_type3),          cmocka_unit_test(test_type3_bad),
	    cmocka_unit_test(test_crack),          cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
