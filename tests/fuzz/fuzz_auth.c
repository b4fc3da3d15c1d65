/* SPDX-License-Identifier: ISC */
/*
 * fuzz_auth - the AUTH decoders (src/smtp/auth.c) and base64 (src/core/util.c) on any bytes.
 *
 * Input: byte 0 (mod 6) chooses the decoder, the rest is its input:
 *   0 auth_decode_b64_text, 1 auth_decode_plain, 2 auth_decode_cram_md5 (base64 text as the
 *   client sends it); 3 ntlm_parse_type1 then ntlm_build_type2 for its flags, 4
 *   ntlm_parse_type3 then ntlm_crack_line (decoded NTLM bytes); 5 b64_decode/b64_encode.
 * Checks: decoded fields stay NUL-terminated inside AUTH_FIELD_MAX; lengths returned are what
 * was stored; a type 2 starts with the NTLMSSP signature and type 2; a crackable type 3 gives a
 * crack line that fits NTLM_CRACK_LINE_MAX, and a short buffer gets "" rather than an overflow;
 * base64 decodes what it encodes.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "smtp/auth.h"

/* nul_inside - NUL-terminated within size bytes */
static bool
nul_inside(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static void
fz_b64_text(const char *in, size_t len)
{
	char out[AUTH_FIELD_MAX];
	bool trunc = false;
	long n;

	n = auth_decode_b64_text(in, len, out, sizeof(out), &trunc);
	FZ_CHECK(n >= -1 && n < (long)sizeof(out));
	if (n >= 0)
		FZ_CHECK(out[n] == '\0');
	n = auth_decode_b64_text(in, len, out, 8, NULL);
	FZ_CHECK(n >= -1 && n < 8);
}

static void
fz_plain(const char *in, size_t len)
{
	struct auth_plain pl;

	memset(&pl, 0xA5, sizeof(pl));
	if (auth_decode_plain(in, len, &pl) == 0)
		FZ_CHECK(nul_inside(pl.authzid, sizeof(pl.authzid)) &&
		         nul_inside(pl.authcid, sizeof(pl.authcid)) &&
		         nul_inside(pl.password, sizeof(pl.password)));
	else if (pl.authcid[0] != (char)0xA5)
		FZ_CHECK(nul_inside(pl.authcid, sizeof(pl.authcid)));
}

static void
fz_cram(const char *in, size_t len)
{
	struct auth_cram cr;

	if (auth_decode_cram_md5(in, len, &cr) == 0)
		FZ_CHECK(nul_inside(cr.user, sizeof(cr.user)) &&
		         nul_inside(cr.digest, sizeof(cr.digest)));
}

static void
fz_ntlm1(const unsigned char *in, size_t len)
{
	static const struct ntlm_names names = {"EXAMPLE", "MAIL", "example.com",
	                                        "mail.example.com", "example.com"};
	static const uint8_t challenge[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	unsigned char t2[1024];
	struct ntlm_type1 t1;
	long m;

	if (ntlm_parse_type1(in, len, &t1) == -1)
		return;
	FZ_CHECK(nul_inside(t1.domain, sizeof(t1.domain)) &&
	         nul_inside(t1.workstation, sizeof(t1.workstation)));
	m = ntlm_build_type2(&names, challenge, t1.flags, t2, sizeof(t2));
	FZ_CHECK(m >= 48 && (size_t)m <= sizeof(t2));
	FZ_CHECK(memcmp(t2, "NTLMSSP\0\2\0\0\0", 12) == 0);
	FZ_CHECK(memcmp(t2 + 24, challenge, 8) == 0);
	FZ_CHECK(ntlm_build_type2(&names, challenge, t1.flags, t2, 40) == -1);
}

static void
fz_ntlm3(const unsigned char *in, size_t len)
{
	static const uint8_t challenge[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	char line[NTLM_CRACK_LINE_MAX], small[48];
	struct ntlm_type3 t3;

	if (ntlm_parse_type3(in, len, &t3) == -1)
		return;
	FZ_CHECK(nul_inside(t3.domain, sizeof(t3.domain)) && nul_inside(t3.user, sizeof(t3.user)) &&
	         nul_inside(t3.workstation, sizeof(t3.workstation)));
	FZ_CHECK(t3.lm_len <= sizeof(t3.lm) && t3.nt_len <= sizeof(t3.nt));
	ntlm_crack_line(&t3, challenge, line, sizeof(line));
	FZ_CHECK(strlen(line) < sizeof(line));
	if (t3.nt_len >= 24 && !t3.nt_truncated)
		FZ_CHECK(line[0] != '\0');
	else
		FZ_CHECK(line[0] == '\0');
	ntlm_crack_line(&t3, challenge, small, sizeof(small));
	FZ_CHECK(strlen(small) < sizeof(small));
}

static void
fz_b64(const char *in, size_t len)
{
	unsigned char a[AUTH_BLOB_MAX], b[AUTH_BLOB_MAX];
	char enc[AUTH_BLOB_MAX * 4 / 3 + 8];
	long n, e, m;

	n = b64_decode(in, len, a, sizeof(a));
	if (n >= 0) {
		e = b64_encode(a, (size_t)n, enc, sizeof(enc));
		FZ_CHECK(e >= 0 && (size_t)e == strlen(enc));
		m = b64_decode(enc, (size_t)e, b, sizeof(b));
		FZ_CHECK(m == n && memcmp(a, b, (size_t)n) == 0);
	}
	/* the other way round: any bytes survive encode, decode */
	if (len <= sizeof(a)) {
		e = b64_encode((const unsigned char *)in, len, enc, sizeof(enc));
		FZ_CHECK(e >= 0);
		m = b64_decode(enc, (size_t)e, b, sizeof(b));
		FZ_CHECK(m == (long)len && memcmp(in, b, len) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *in;
	size_t len;

	if (size < 1)
		return 0;
	/* an exact-size heap copy, so ASan catches any read past the end */
	len = size - 1;
	in = malloc(len + 1);
	FZ_CHECK(in != NULL);
	memcpy(in, data + 1, len);
	switch (data[0] % 6) {
	case 0:
		fz_b64_text((const char *)in, len);
		break;
	case 1:
		fz_plain((const char *)in, len);
		break;
	case 2:
		fz_cram((const char *)in, len);
		break;
	case 3:
		fz_ntlm1(in, len);
		break;
	case 4:
		fz_ntlm3(in, len);
		break;
	default:
		fz_b64((const char *)in, len);
		break;
	}
	free(in);
	return 0;
}
