/* SPDX-License-Identifier: ISC */
/*
 * proxy - HAProxy PROXY protocol header parser, versions 1 and 2 (see proxy.h).
 *
 * Owns: nothing.
 * Public: proxy_parse.
 * Limits: at most PROXY_V1_MAX bytes are looked at for v1 and 16 + length (capped at
 *         PROXY_V2_MAX) for v2; nothing past len is ever read. The parser is incremental only in
 *         its verdict: it rescans from the start on every call, which costs at most a few
 *         hundred bytes, and says PROXY_BAD the moment the bytes so far cannot begin a valid
 *         header, so a client that is not a proxy is not kept waiting for more data.
 *
 * Format: the HAProxy "PROXY protocol" specification, versions 1 and 2. v1 is
 * "PROXY TCP4|TCP6 src dst sport dport\r\n" or "PROXY UNKNOWN[ anything]\r\n"; v2 is a 12-byte
 * signature, version/command, family/transport, a big-endian length and the addresses,
 * followed by TLVs that we check for framing and skip.
 */
#include "net/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static const unsigned char v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

#define V2_HDR 16
#define V2_CMD_LOCAL 0x0
#define V2_CMD_PROXY 0x1
#define V2_FAM_UNSPEC 0x0
#define V2_FAM_INET 0x1
#define V2_FAM_INET6 0x2
#define V2_PROTO_STREAM 0x1
#define V2_INET_LEN 12  /* 4 + 4 + 2 + 2 */
#define V2_INET6_LEN 36 /* 16 + 16 + 2 + 2 */

#define V1_ADDR_MAX 45  /* INET6_ADDRSTRLEN - 1 */
#define V1_ADDR4_MAX 15 /* "255.255.255.255" */

/* cursor over the v1 bytes received so far, never beyond PROXY_V1_MAX */
struct v1cur {
	const unsigned char *b;
	size_t n;
	size_t pos;
};

/* prefix_of - r: the n bytes are a prefix of lit (NEED_MORE), all of it (OK), or not (BAD) */
static enum proxy_result
prefix_of(const unsigned char *b, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	if (memcmp(b, lit, n < l ? n : l) != 0)
		return PROXY_BAD;
	return n < l ? PROXY_NEED_MORE : PROXY_OK;
}

/* v1_lit - consume a literal; NEED_MORE when the bytes end inside it */
static enum proxy_result
v1_lit(struct v1cur *c, const char *lit)
{
	enum proxy_result r = prefix_of(c->b + c->pos, c->n - c->pos, lit);

	if (r == PROXY_OK)
		c->pos += strlen(lit);
	return r;
}

/* v1_addr_char - bytes that may appear in a textual IPv4 or IPv6 address */
static bool
v1_addr_char(unsigned char ch, bool v6)
{
	if (ch >= '0' && ch <= '9')
		return true;
	if (ch == '.')
		return true;
	return v6 && (ch == ':' || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F'));
}

/* v1_token - read up to the terminator term into tok; NEED_MORE when the bytes end first,
 * BAD on a byte outside the class or a token longer than max */
static enum proxy_result
v1_token(struct v1cur *c, bool port, bool v6, char term, char *tok, size_t max)
{
	size_t k = 0;
	unsigned char ch;

	while (c->pos < c->n) {
		ch = c->b[c->pos];
		if (ch == (unsigned char)term) {
			if (k == 0)
				return PROXY_BAD;
			tok[k] = '\0';
			c->pos++;
			return PROXY_OK;
		}
		if (port ? !(ch >= '0' && ch <= '9') : !v1_addr_char(ch, v6))
			return PROXY_BAD;
		if (k >= max)
			return PROXY_BAD;
		tok[k++] = (char)ch;
		c->pos++;
	}
	return PROXY_NEED_MORE;
}

/* v1_port - decimal 0..65535 in network byte order */
static int
v1_port(const char *s, in_port_t *out)
{
	unsigned long v = 0;

	for (; *s != '\0'; s++)
		v = v * 10 + (unsigned long)(*s - '0');
	if (v > 65535)
		return -1;
	*out = htons((uint16_t)v);
	return 0;
}

/* v1_fill - textual addresses and ports into sockaddrs; -1 when inet_pton disagrees */
static int
v1_fill(bool v6, const char *sa, const char *da, const char *sp, const char *dp,
        struct proxy_info *out)
{
	in_port_t sport, dport;

	if (v1_port(sp, &sport) == -1 || v1_port(dp, &dport) == -1)
		return -1;
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->src;
		struct sockaddr_in6 *d6 = (struct sockaddr_in6 *)&out->dst;

		if (inet_pton(AF_INET6, sa, &s6->sin6_addr) != 1 ||
		    inet_pton(AF_INET6, da, &d6->sin6_addr) != 1)
			return -1;
		s6->sin6_family = d6->sin6_family = AF_INET6;
		s6->sin6_port = sport;
		d6->sin6_port = dport;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&out->src;
		struct sockaddr_in *d4 = (struct sockaddr_in *)&out->dst;

		if (inet_pton(AF_INET, sa, &s4->sin_addr) != 1 ||
		    inet_pton(AF_INET, da, &d4->sin_addr) != 1)
			return -1;
		s4->sin_family = d4->sin_family = AF_INET;
		s4->sin_port = sport;
		d4->sin_port = dport;
	}
	return 0;
}

/* v1_unknown - "UNKNOWN" then anything up to CRLF, which the receiver must ignore */
static enum proxy_result
v1_unknown(struct v1cur *c, struct proxy_info *out)
{
	for (; c->pos < c->n; c->pos++) {
		if (c->b[c->pos] == '\n')
			return PROXY_BAD; /* a bare LF: the CR check below did not consume it */
		if (c->b[c->pos] != '\r')
			continue;
		if (c->pos + 1 == c->n)
			break;
		if (c->b[c->pos + 1] != '\n')
			return PROXY_BAD;
		out->consumed = c->pos + 2;
		return PROXY_LOCAL;
	}
	return PROXY_NEED_MORE;
}

/* parse_v1 - the text form; every step may stop at NEED_MORE or BAD */
static enum proxy_result
parse_v1(const unsigned char *buf, size_t len, struct proxy_info *out)
{
	struct v1cur c = {buf, len < PROXY_V1_MAX ? len : PROXY_V1_MAX, 0};
	char sa[V1_ADDR_MAX + 1], da[V1_ADDR_MAX + 1], sp[6], dp[6];
	enum proxy_result r;
	size_t amax;
	bool v6;

	out->version = 1;
	if ((r = v1_lit(&c, "PROXY ")) != PROXY_OK)
		goto done;
	/* "UNKNOWN" and "TCP" differ in their first byte, so a partial match of one decides. */
	r = v1_lit(&c, "UNKNOWN");
	if (r == PROXY_NEED_MORE)
		goto done;
	if (r == PROXY_OK) {
		/* "UNKNOWN" must be followed by CRLF or a space and then anything. */
		if (c.pos < c.n && c.b[c.pos] != ' ' && c.b[c.pos] != '\r') {
			r = PROXY_BAD;
			goto done;
		}
		r = v1_unknown(&c, out);
		goto done;
	}
	if ((r = v1_lit(&c, "TCP")) != PROXY_OK)
		goto done;
	if (c.pos == c.n) {
		r = PROXY_NEED_MORE;
		goto done;
	}
	if (c.b[c.pos] != '4' && c.b[c.pos] != '6') {
		r = PROXY_BAD;
		goto done;
	}
	v6 = c.b[c.pos++] == '6';
	amax = v6 ? V1_ADDR_MAX : V1_ADDR4_MAX;
	if ((r = v1_lit(&c, " ")) != PROXY_OK ||
	    (r = v1_token(&c, false, v6, ' ', sa, amax)) != PROXY_OK ||
	    (r = v1_token(&c, false, v6, ' ', da, amax)) != PROXY_OK ||
	    (r = v1_token(&c, true, v6, ' ', sp, 5)) != PROXY_OK ||
	    (r = v1_token(&c, true, v6, '\r', dp, 5)) != PROXY_OK ||
	    (r = v1_lit(&c, "\n")) != PROXY_OK)
		goto done;
	if (v1_fill(v6, sa, da, sp, dp, out) == -1) {
		r = PROXY_BAD;
		goto done;
	}
	out->consumed = c.pos;
done:
	/* Out of bytes at the v1 maximum means the line is too long to ever be valid. */
	if (r == PROXY_NEED_MORE && c.n == PROXY_V1_MAX)
		r = PROXY_BAD;
	return r;
}

/* v2_tlvs_ok - TLVs must tile the rest of the header exactly; their content is skipped */
static bool
v2_tlvs_ok(const unsigned char *p, size_t n)
{
	size_t i = 0, l;

	while (i < n) {
		if (n - i < 3)
			return false;
		l = (size_t)p[i + 1] << 8 | p[i + 2];
		if (l > n - i - 3)
			return false;
		i += 3 + l;
	}
	return true;
}

/* parse_v2 - the binary form */
static enum proxy_result
parse_v2(const unsigned char *buf, size_t len, struct proxy_info *out)
{
	size_t hlen, total, alen;
	unsigned cmd, fam, proto;

	out->version = 2;
	if (len > 12 && (buf[12] >> 4) != 2)
		return PROXY_BAD;
	cmd = len > 12 ? buf[12] & 0x0F : 0;
	if (len > 12 && cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY)
		return PROXY_BAD;
	fam = len > 13 ? buf[13] >> 4 : 0;
	proto = len > 13 ? buf[13] & 0x0F : 0;
	if (len > 13 && cmd == V2_CMD_PROXY) {
		/* UNIX sockets and datagrams mean nothing to an SMTP listener. */
		if (fam != V2_FAM_UNSPEC && fam != V2_FAM_INET && fam != V2_FAM_INET6)
			return PROXY_BAD;
		if (fam != V2_FAM_UNSPEC && proto != V2_PROTO_STREAM)
			return PROXY_BAD;
	}
	if (len < V2_HDR)
		return PROXY_NEED_MORE;
	hlen = (size_t)buf[14] << 8 | buf[15];
	total = V2_HDR + hlen;
	if (total > PROXY_V2_MAX)
		return PROXY_BAD;
	alen = fam == V2_FAM_INET ? V2_INET_LEN : fam == V2_FAM_INET6 ? V2_INET6_LEN : 0;
	if (cmd == V2_CMD_PROXY && hlen < alen)
		return PROXY_BAD;
	if (len < total)
		return PROXY_NEED_MORE;
	out->consumed = total;
	/* LOCAL is a health check from the proxy itself: the socket's addresses are the truth.
	 * Its address block, if any, is ignored, as the specification asks. */
	if (cmd == V2_CMD_LOCAL || fam == V2_FAM_UNSPEC)
		return PROXY_LOCAL;
	if (!v2_tlvs_ok(buf + V2_HDR + alen, hlen - alen))
		return PROXY_BAD;
	if (fam == V2_FAM_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&out->src;
		struct sockaddr_in *d4 = (struct sockaddr_in *)&out->dst;

		s4->sin_family = d4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, buf + 16, 4);
		memcpy(&d4->sin_addr, buf + 20, 4);
		memcpy(&s4->sin_port, buf + 24, 2);
		memcpy(&d4->sin_port, buf + 26, 2);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->src;
		struct sockaddr_in6 *d6 = (struct sockaddr_in6 *)&out->dst;

		s6->sin6_family = d6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, buf + 16, 16);
		memcpy(&d6->sin6_addr, buf + 32, 16);
		memcpy(&s6->sin6_port, buf + 48, 2);
		memcpy(&d6->sin6_port, buf + 50, 2);
	}
	return PROXY_OK;
}

/* proxy_parse - dispatch on the first byte: 'P' is v1, CR starts the v2 signature */
enum proxy_result
proxy_parse(const unsigned char *buf, size_t len, struct proxy_info *out)
{
	struct proxy_info scratch;
	enum proxy_result r;

	if (out == NULL)
		out = &scratch;
	memset(out, 0, sizeof(*out));
	if (buf == NULL || len == 0)
		return buf == NULL && len > 0 ? PROXY_BAD : PROXY_NEED_MORE;
	if (buf[0] == 'P')
		r = parse_v1(buf, len, out);
	else if (memcmp(buf, v2_sig, len < sizeof(v2_sig) ? len : sizeof(v2_sig)) != 0)
		r = PROXY_BAD;
	else if (len < sizeof(v2_sig))
		r = PROXY_NEED_MORE;
	else
		r = parse_v2(buf, len, out);
	/* Half-parsed addresses must not leak to a caller that ignores the result. */
	if (r != PROXY_OK && r != PROXY_LOCAL)
		memset(out, 0, sizeof(*out));
	return r;
}
