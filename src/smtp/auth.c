/* SPDX-License-Identifier: ISC */
/*
 * auth - decoders for AUTH LOGIN / PLAIN / CRAM-MD5 / NTLM and the Windows 2000 NTLM type 2
 * builder (see auth.h for the contract).
 *
 * Owns: nothing on the heap; scratch buffers live on the stack and are bounded by
 *       AUTH_BLOB_MAX.
 * Public: auth_decode_b64_text, auth_decode_plain, auth_cram_md5_challenge,
 *         auth_decode_cram_md5, ntlm_parse_type1, ntlm_build_type2, ntlm_parse_type3,
 *         ntlm_crack_line.
 * Limits: base64 input of any length is validated completely but at most AUTH_BLOB_MAX
 *         decoded bytes are kept; every NTLM security buffer is checked against the message
 *         length with 64-bit arithmetic before it is read; decoded names are UTF-8 cut at a
 *         character boundary to AUTH_FIELD_MAX-1 bytes. NUL characters inside names become
 *         U+FFFD so a name is never silently shortened by its terminator.
 *
 * NTLM layouts follow [MS-NLMP] §2.2.1 (NEGOTIATE, CHALLENGE, AUTHENTICATE) and §2.2.2.1
 * (AV_PAIR). Integers on the wire are little-endian.
 */
#include "smtp/auth.h"

#include <stdio.h>
#include <string.h>

#include "core/util.h"

#define NTLM_SIG "NTLMSSP" /* 8 bytes with its NUL */
#define NTLM_NEGOTIATE_UNICODE 0x00000001u
#define NTLM_NEGOTIATE_OEM 0x00000002u
#define NTLM_OEM_DOMAIN_SUPPLIED 0x00001000u
#define NTLM_OEM_WORKSTATION_SUPPLIED 0x00002000u
#define NTLM_NEGOTIATE_VERSION 0x02000000u
#define NTLM_W2K_TYPE2_FLAGS                                                                       \
	0xA0898205u       /* unicode, req target, NTLM, always sign, domain,                       \
	                     NTLM2, target info, 128, 56 */
#define NTLM_TYPE2_HDR 48 /* Windows 2000: no VERSION, payload right here */
#define NTLM_TYPE3_HDR 52 /* oldest AUTHENTICATE: up to WorkstationFields */

#define UCS_REPLACEMENT 0xFFFDu

/* rd16 - little-endian 16-bit read; the caller has checked the bounds */
static uint32_t
rd16(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

/* rd32 - little-endian 32-bit read; the caller has checked the bounds */
static uint32_t
rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* wr16 - little-endian 16-bit write */
static void
wr16(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v & 0xff);
	p[1] = (unsigned char)((v >> 8) & 0xff);
}

/* wr32 - little-endian 32-bit write */
static void
wr32(unsigned char *p, uint32_t v)
{
	wr16(p, v & 0xffff);
	wr16(p + 2, v >> 16);
}

/* is_b64_blank - trailing bytes a sloppy client leaves after its base64 */
static bool
is_b64_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* b64_decode_capped - validate all of in as base64 but keep at most cap bytes in out;
 * returns the number of bytes kept or -1. "=" alone is RFC 4954's empty response. */
static long
b64_decode_capped(const char *in, size_t len, unsigned char *out, size_t cap, bool *truncated)
{
	/* 1024 input characters decode to 768 bytes; chunks are multiples of 4 so only the
	 * last one may be short or padded. */
	unsigned char chunk[768];
	size_t pos = 0, kept = 0, n, i;
	long got;

	*truncated = false;
	while (len > 0 && is_b64_blank(in[len - 1]))
		len--;
	if (len == 1 && in[0] == '=')
		return 0;
	while (pos < len) {
		n = len - pos > 1024 ? 1024 : len - pos;
		if (pos + n < len)
			for (i = 0; i < n; i++)
				if (in[pos + i] == '=')
					return -1;
		got = b64_decode(in + pos, n, chunk, sizeof(chunk));
		if (got < 0)
			return -1;
		for (i = 0; i < (size_t)got; i++) {
			if (kept < cap)
				out[kept++] = chunk[i];
			else
				*truncated = true;
		}
		pos += n;
	}
	return (long)kept;
}

/* copy_field - bytes into a NUL-terminated field, cut at size-1 */
static void
copy_field(char *dst, size_t size, const unsigned char *src, size_t n)
{
	if (size == 0)
		return;
	if (n >= size)
		n = size - 1;
	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* auth_decode_b64_text - one LOGIN field: decode, cut, terminate */
long
auth_decode_b64_text(const char *b64, size_t len, char *out, size_t outlen, bool *truncated)
{
	unsigned char blob[AUTH_BLOB_MAX];
	bool cut = false, dummy;
	long n;

	if (truncated == NULL)
		truncated = &dummy;
	*truncated = false;
	if (out == NULL || outlen == 0)
		return -1;
	out[0] = '\0';
	if (b64 == NULL)
		return -1;
	n = b64_decode_capped(b64, len, blob, sizeof(blob), &cut);
	if (n < 0)
		return -1;
	if ((size_t)n > outlen - 1) {
		n = (long)(outlen - 1);
		cut = true;
	}
	copy_field(out, outlen, blob, (size_t)n);
	*truncated = cut;
	return n;
}

/* auth_decode_plain - split "authzid NUL authcid NUL password" */
int
auth_decode_plain(const char *b64, size_t len, struct auth_plain *out)
{
	unsigned char blob[AUTH_BLOB_MAX];
	const unsigned char *z1, *z2;
	bool cut;
	long n;

	if (out == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	if (b64 == NULL)
		return -1;
	n = b64_decode_capped(b64, len, blob, sizeof(blob), &cut);
	if (n < 0)
		return -1;
	z1 = memchr(blob, '\0', (size_t)n);
	z2 = z1 != NULL ? memchr(z1 + 1, '\0', (size_t)(blob + n - (z1 + 1))) : NULL;
	if (z2 == NULL) {
		/* Bots often send "user:pass" or a bare password here; keep it whole. */
		copy_field(out->authcid, sizeof(out->authcid), blob, (size_t)n);
		return -1;
	}
	copy_field(out->authzid, sizeof(out->authzid), blob, (size_t)(z1 - blob));
	copy_field(out->authcid, sizeof(out->authcid), z1 + 1, (size_t)(z2 - z1 - 1));
	copy_field(out->password, sizeof(out->password), z2 + 1, (size_t)(blob + n - (z2 + 1)));
	return 0;
}

/* auth_cram_md5_challenge - RFC 2195 style msg-id: random digits, clock, host */
void
auth_cram_md5_challenge(const char *hostname, char *out, size_t outlen)
{
	uint32_t r;

	if (out == NULL || outlen == 0)
		return;
	rand_buf(&r, sizeof(r));
	snprintf(out, outlen, "<%u.%llu@%s>", r, (unsigned long long)(now_real_us() / 1000000u),
	         hostname != NULL && hostname[0] != '\0' ? hostname : "localhost");
}

/* is_hex - a hex digit in either case */
static bool
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* auth_decode_cram_md5 - "user SP digest"; the user is all before the last space */
int
auth_decode_cram_md5(const char *b64, size_t len, struct auth_cram *out)
{
	unsigned char blob[AUTH_BLOB_MAX];
	size_t sp, i, dlen;
	bool cut;
	long n;

	if (out == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	if (b64 == NULL)
		return -1;
	n = b64_decode_capped(b64, len, blob, sizeof(blob), &cut);
	if (n < 0)
		return -1;
	for (sp = (size_t)n; sp > 0 && blob[sp - 1] != ' '; sp--)
		;
	if (sp == 0) {
		copy_field(out->user, sizeof(out->user), blob, (size_t)n);
		return -1;
	}
	copy_field(out->user, sizeof(out->user), blob, sp - 1);
	dlen = (size_t)n - sp;
	copy_field(out->digest, sizeof(out->digest), blob + sp, dlen);
	if (dlen != 32 || sp == 1)
		return -1;
	for (i = 0; i < dlen; i++)
		if (!is_hex(blob[sp + i]))
			return -1;
	return 0;
}

/* utf8_put - append one code point as UTF-8 if it fits whole; false when it does not */
static bool
utf8_put(char *out, size_t outlen, size_t *o, uint32_t cp)
{
	unsigned char b[4];
	size_t n, i;

	if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		cp = UCS_REPLACEMENT;
	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xC0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xE0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xF0 | (cp >> 18));
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	if (*o + n >= outlen)
		return false;
	for (i = 0; i < n; i++)
		out[(*o)++] = (char)b[i];
	return true;
}

/* utf16le_to_utf8 - decode n bytes (n even) of UTF-16LE; unpaired surrogates become U+FFFD */
static void
utf16le_to_utf8(const unsigned char *in, size_t n, char *out, size_t outlen)
{
	size_t i = 0, o = 0;
	uint32_t u, lo;

	if (outlen == 0)
		return;
	while (i + 1 < n) {
		u = rd16(in + i);
		i += 2;
		if (u >= 0xD800 && u <= 0xDBFF && i + 1 < n) {
			lo = rd16(in + i);
			if (lo >= 0xDC00 && lo <= 0xDFFF) {
				u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
				i += 2;
			}
		}
		if (!utf8_put(out, outlen, &o, u))
			break;
	}
	out[o] = '\0';
}

/* oem_to_utf8 - OEM strings are taken as Latin-1: every byte maps to one code point, which
 * keeps the output valid UTF-8 whatever the client's code page was */
static void
oem_to_utf8(const unsigned char *in, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;

	if (outlen == 0)
		return;
	for (i = 0; i < n; i++)
		if (!utf8_put(out, outlen, &o, in[i]))
			break;
	out[o] = '\0';
}

/* secbuf - read the security buffer at hdr and check it lies inside the message */
static int
secbuf(const unsigned char *msg, size_t len, size_t hdr, size_t *off, size_t *n)
{
	uint64_t o, l;

	if (hdr + 8 > len)
		return -1;
	l = rd16(msg + hdr);
	o = rd32(msg + hdr + 4);
	if (l > 0 && o + l > (uint64_t)len)
		return -1;
	*off = (size_t)o;
	*n = (size_t)l;
	return 0;
}

/* ntlm_header_ok - signature and message type */
static bool
ntlm_header_ok(const unsigned char *msg, size_t len, uint32_t type)
{
	return msg != NULL && len >= 12 && memcmp(msg, NTLM_SIG, 8) == 0 && rd32(msg + 8) == type;
}

/* ntlm_parse_type1 - NEGOTIATE: flags, optional supplied names, optional version */
int
ntlm_parse_type1(const unsigned char *msg, size_t len, struct ntlm_type1 *out)
{
	size_t off, n;

	if (out == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	/* The shortest NEGOTIATE that clients send stops after the flags (16 bytes). */
	if (!ntlm_header_ok(msg, len, 1) || len < 16)
		return -1;
	out->flags = rd32(msg + 12);
	if ((out->flags & NTLM_OEM_DOMAIN_SUPPLIED) && len >= 24) {
		if (secbuf(msg, len, 16, &off, &n) == -1)
			return -1;
		oem_to_utf8(msg + off, n, out->domain, sizeof(out->domain));
	}
	if ((out->flags & NTLM_OEM_WORKSTATION_SUPPLIED) && len >= 32) {
		if (secbuf(msg, len, 24, &off, &n) == -1)
			return -1;
		oem_to_utf8(msg + off, n, out->workstation, sizeof(out->workstation));
	}
	if ((out->flags & NTLM_NEGOTIATE_VERSION) && len >= 40) {
		out->has_version = true;
		memcpy(out->version, msg + 32, 8);
	}
	return 0;
}

/* utf8_next - decode one code point from s[*i..n); malformed bytes give U+FFFD */
static uint32_t
utf8_next(const unsigned char *s, size_t n, size_t *i)
{
	unsigned char c = s[(*i)++];
	uint32_t cp, min;
	size_t more, k;

	if (c < 0x80)
		return c;
	if (c >= 0xC2 && c <= 0xDF) {
		cp = c & 0x1F;
		more = 1;
		min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		cp = c & 0x0F;
		more = 2;
		min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		cp = c & 0x07;
		more = 3;
		min = 0x10000;
	} else {
		return UCS_REPLACEMENT;
	}
	for (k = 0; k < more; k++) {
		if (*i >= n || (s[*i] & 0xC0) != 0x80)
			return UCS_REPLACEMENT;
		cp = (cp << 6) | (s[(*i)++] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return UCS_REPLACEMENT;
	return cp;
}

/* put_text - write a UTF-8 string as UTF-16LE (or its bytes as OEM) at out[*o]; -1 when
 * it does not fit in outlen or in a 16-bit length */
static int
put_text(const char *s, bool unicode, unsigned char *out, size_t outlen, size_t *o)
{
	const unsigned char *u = (const unsigned char *)(s != NULL ? s : "");
	size_t n = strlen((const char *)u), i = 0, start = *o;
	uint32_t cp;

	while (i < n) {
		if (!unicode) {
			if (*o + 1 > outlen)
				return -1;
			out[(*o)++] = u[i++];
			continue;
		}
		cp = utf8_next(u, n, &i);
		if (cp >= 0x10000) {
			if (*o + 4 > outlen)
				return -1;
			cp -= 0x10000;
			wr16(out + *o, 0xD800 + (cp >> 10));
			wr16(out + *o + 2, 0xDC00 + (cp & 0x3FF));
			*o += 4;
		} else {
			if (*o + 2 > outlen)
				return -1;
			wr16(out + *o, cp);
			*o += 2;
		}
	}
	return *o - start > 0xFFFF ? -1 : 0;
}

/* put_av - one AV_PAIR: id, length, UTF-16LE value */
static int
put_av(uint16_t id, const char *s, unsigned char *out, size_t outlen, size_t *o)
{
	size_t hdr = *o;

	if (*o + 4 > outlen)
		return -1;
	*o += 4;
	if (put_text(s, true, out, outlen, o) == -1)
		return -1;
	wr16(out + hdr, id);
	wr16(out + hdr + 2, (uint32_t)(*o - hdr - 4));
	return 0;
}

/* ntlm_build_type2 - CHALLENGE exactly as a Windows 2000 domain member lays it out */
long
ntlm_build_type2(const struct ntlm_names *names, const uint8_t challenge[8], uint32_t client_flags,
                 unsigned char *out, size_t outlen)
{
	static const struct ntlm_names none;
	uint32_t flags = NTLM_W2K_TYPE2_FLAGS;
	bool unicode = true;
	size_t o = NTLM_TYPE2_HDR, tn_len, ti_off;

	if (out == NULL || challenge == NULL || outlen < NTLM_TYPE2_HDR)
		return -1;
	if (names == NULL)
		names = &none;
	/* A client that offered only OEM gets an OEM target name, as NTLM requires. */
	if ((client_flags & NTLM_NEGOTIATE_OEM) && !(client_flags & NTLM_NEGOTIATE_UNICODE)) {
		unicode = false;
		flags = (flags & ~NTLM_NEGOTIATE_UNICODE) | NTLM_NEGOTIATE_OEM;
	}
	memset(out, 0, NTLM_TYPE2_HDR);
	if (put_text(names->netbios_domain, unicode, out, outlen, &o) == -1)
		return -1;
	tn_len = o - NTLM_TYPE2_HDR;
	ti_off = o;
	if (put_av(2, names->netbios_domain, out, outlen, &o) == -1 ||
	    put_av(1, names->netbios_computer, out, outlen, &o) == -1 ||
	    put_av(4, names->dns_domain, out, outlen, &o) == -1 ||
	    put_av(3, names->dns_computer, out, outlen, &o) == -1)
		return -1;
	if (names->dns_tree != NULL && put_av(5, names->dns_tree, out, outlen, &o) == -1)
		return -1;
	if (o + 4 > outlen)
		return -1;
	wr32(out + o, 0); /* MsvAvEOL, length 0 */
	o += 4;
	if (o - ti_off > 0xFFFF)
		return -1;
	memcpy(out, NTLM_SIG, 8);
	wr32(out + 8, 2);
	wr16(out + 12, (uint32_t)tn_len);
	wr16(out + 14, (uint32_t)tn_len);
	wr32(out + 16, NTLM_TYPE2_HDR);
	wr32(out + 20, flags);
	memcpy(out + 24, challenge, 8);
	/* Bytes 32..39 are the reserved context and stay zero. */
	wr16(out + 40, (uint32_t)(o - ti_off));
	wr16(out + 42, (uint32_t)(o - ti_off));
	wr32(out + 44, (uint32_t)ti_off);
	return (long)o;
}

/* ntlm_text - one name field of an AUTHENTICATE; -1 for an odd UTF-16 length */
static int
ntlm_text(const unsigned char *msg, size_t len, size_t hdr, bool unicode, char *out, size_t outlen)
{
	size_t off, n;

	if (secbuf(msg, len, hdr, &off, &n) == -1)
		return -1;
	if (unicode) {
		if (n % 2 != 0)
			return -1;
		utf16le_to_utf8(msg + off, n, out, outlen);
	} else {
		oem_to_utf8(msg + off, n, out, outlen);
	}
	return 0;
}

/* ntlm_parse_type3 - AUTHENTICATE: responses and names, every buffer bounds-checked */
int
ntlm_parse_type3(const unsigned char *msg, size_t len, struct ntlm_type3 *out)
{
	size_t lm_off, lm_n, nt_off, nt_n, off, n, hdr, payload = len;
	bool unicode = true;

	if (out == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	if (!ntlm_header_ok(msg, len, 3) || len < NTLM_TYPE3_HDR)
		return -1;
	/* The oldest clients end the header after WorkstationFields; the flags at 60 exist only
	 * when no payload starts before byte 64. */
	for (hdr = 12; hdr < NTLM_TYPE3_HDR; hdr += 8) {
		if (secbuf(msg, len, hdr, &off, &n) == -1)
			return -1;
		if (n > 0 && off < payload)
			payload = off;
	}
	if (len >= 64 && payload >= 64) {
		out->flags = rd32(msg + 60);
		unicode = (out->flags & NTLM_NEGOTIATE_UNICODE) != 0;
		if (secbuf(msg, len, 52, &off, &n) == -1)
			return -1;
	}
	if (secbuf(msg, len, 12, &lm_off, &lm_n) == -1 ||
	    secbuf(msg, len, 20, &nt_off, &nt_n) == -1)
		return -1;
	if (ntlm_text(msg, len, 28, unicode, out->domain, sizeof(out->domain)) == -1 ||
	    ntlm_text(msg, len, 36, unicode, out->user, sizeof(out->user)) == -1 ||
	    ntlm_text(msg, len, 44, unicode, out->workstation, sizeof(out->workstation)) == -1)
		return -1;
	out->lm_len = lm_n > sizeof(out->lm) ? sizeof(out->lm) : lm_n;
	memcpy(out->lm, msg + lm_off, out->lm_len);
	out->nt_len = nt_n;
	if (nt_n > sizeof(out->nt)) {
		out->nt_len = sizeof(out->nt);
		out->nt_truncated = true;
	}
	memcpy(out->nt, msg + nt_off, out->nt_len);
	return 0;
}

/* ntlm_crack_line - hashcat 5500 / 5600 line; "" when the response cannot be cracked */
char *
ntlm_crack_line(const struct ntlm_type3 *t3, const uint8_t challenge[8], char *out, size_t outlen)
{
	char chal[17], a[2 * sizeof(t3->nt) + 1], b[2 * sizeof(t3->nt) + 1];
	int w;

	if (out == NULL || outlen == 0)
		return out;
	out[0] = '\0';
	if (t3 == NULL || challenge == NULL || t3->nt_truncated || t3->nt_len < 24 ||
	    t3->lm_len > sizeof(t3->lm) || t3->nt_len > sizeof(t3->nt))
		return out;
	hex_encode(challenge, 8, chal, sizeof(chal));
	if (t3->nt_len == 24) {
		hex_encode(t3->lm, t3->lm_len, a, sizeof(a));
		hex_encode(t3->nt, 24, b, sizeof(b));
		w = snprintf(out, outlen, "%s::%s:%s:%s:%s", t3->user, t3->domain, a, b, chal);
	} else {
		hex_encode(t3->nt, 16, a, sizeof(a));
		hex_encode(t3->nt + 16, t3->nt_len - 16, b, sizeof(b));
		w = snprintf(out, outlen, "%s::%s:%s:%s:%s", t3->user, t3->domain, chal, a, b);
	}
	/* A cut line would not verify in hashcat; better none than a wrong one. */
	if (w < 0 || (size_t)w >= outlen)
		out[0] = '\0';
	return out;
}
