/* SPDX-License-Identifier: ISC */
/*
 * syn - decode a saved SYN (see syn.h). Every offset is checked against the buffer length
 * before the bytes behind it are read; nothing here trusts a length field.
 */
#include "enrich/syn.h"

#include <stdio.h>
#include <string.h>

#define IPV4_HDR_MIN 20
#define IPV6_HDR_LEN 40
#define TCP_HDR_MIN 20
#define IPV6_EXT_MAX 16 /* extension headers walked before giving up */
#define PROTO_TCP 6

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_PUSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20
#define TH_ECE 0x40
#define TH_CWR 0x80

static const char *const quirk_names[] = {
#define X(n, s) s,
    SYN_QUIRKS(X)
#undef X
};

static uint16_t
be16(const unsigned char *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t
be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* fail - set the reason and return -1 */
static int
fail(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	return -1;
}

/* parse_ipv4 - the IPv4 header; *l4 = offset of TCP, *l4_len = what the IP length leaves */
static int
parse_ipv4(const unsigned char *b, size_t len, struct syn_info *s, size_t *l4, size_t *l4_len,
           const char **why)
{
	size_t ihl, tot;
	uint16_t frag;

	if (len < IPV4_HDR_MIN)
		return fail(why, "shorter than an IPv4 header");
	ihl = (size_t)(b[0] & 0x0f) * 4;
	if (ihl < IPV4_HDR_MIN)
		return fail(why, "IPv4 header length below 20");
	if (ihl > len)
		return fail(why, "IPv4 header longer than the buffer");
	tot = be16(b + 2);
	if (tot < ihl)
		return fail(why, "IPv4 total length shorter than its header");
	frag = be16(b + 6);
	if ((frag & 0x1fff) != 0 || (frag & 0x2000) != 0)
		return fail(why, "IPv4 fragment");
	if (b[9] != PROTO_TCP)
		return fail(why, "not TCP");
	s->ip_version = 4;
	s->tos = b[1];
	s->ip_id = be16(b + 4);
	s->df = (frag & 0x4000) != 0;
	s->ttl = b[8];
	s->ip_opt_len = (unsigned)(ihl - IPV4_HDR_MIN);
	if (frag & 0x8000)
		s->quirks |= SYN_Q(NZ_MBZ);
	if (s->df) {
		s->quirks |= SYN_Q(DF);
		if (s->ip_id != 0)
			s->quirks |= SYN_Q(NZ_ID);
	} else if (s->ip_id == 0) {
		s->quirks |= SYN_Q(ZERO_ID);
	}
	if (s->tos & 0x03)
		s->quirks |= SYN_Q(ECN);
	*l4 = ihl;
	*l4_len = tot - ihl;
	return 0;
}

/* parse_ipv6 - the IPv6 header and its extension headers up to TCP */
static int
parse_ipv6(const unsigned char *b, size_t len, struct syn_info *s, size_t *l4, size_t *l4_len,
           const char **why)
{
	size_t off = IPV6_HDR_LEN, plen, ext;
	unsigned nh, n;

	if (len < IPV6_HDR_LEN)
		return fail(why, "shorter than an IPv6 header");
	s->ip_version = 6;
	s->tos = (uint8_t)(((b[0] & 0x0f) << 4) | (b[1] >> 4));
	s->flow = ((uint32_t)(b[1] & 0x0f) << 16) | ((uint32_t)b[2] << 8) | b[3];
	s->ttl = b[7];
	plen = be16(b + 4);
	nh = b[6];
	for (n = 0; nh != PROTO_TCP; n++) {
		if (n == IPV6_EXT_MAX)
			return fail(why, "too many IPv6 extension headers");
		if (off + 8 > len)
			return fail(why, "IPv6 extension header past the buffer");
		switch (nh) {
		case 0:  /* hop-by-hop options */
		case 43: /* routing */
		case 60: /* destination options */
			ext = ((size_t)b[off + 1] + 1) * 8;
			break;
		case 44: /* fragment: only a first fragment carries the TCP header */
			if ((be16(b + off + 2) & 0xfff8) != 0)
				return fail(why, "IPv6 non-first fragment");
			ext = 8;
			break;
		case 51: /* authentication header */
			ext = ((size_t)b[off + 1] + 2) * 4;
			break;
		default:
			return fail(why, "not TCP");
		}
		if (off + ext > len)
			return fail(why, "IPv6 extension header past the buffer");
		nh = b[off];
		off += ext;
	}
	if (plen < off - IPV6_HDR_LEN)
		return fail(why, "IPv6 payload length shorter than its extension headers");
	s->ip_opt_len = (unsigned)(off - IPV6_HDR_LEN);
	if (s->flow != 0)
		s->quirks |= SYN_Q(FLOW);
	if (s->tos & 0x03)
		s->quirks |= SYN_Q(ECN);
	*l4 = off;
	*l4_len = plen - (off - IPV6_HDR_LEN);
	return 0;
}

/* parse_options - the TCP options in b[0..len); malformed ones end the walk with "bad" */
static void
parse_options(const unsigned char *b, size_t len, struct syn_info *s)
{
	size_t p = 0, l;

	while (p < len && s->nopt < SYN_OPT_MAX) {
		unsigned kind = b[p];

		s->olayout[s->nopt++] = (uint8_t)kind;
		if (kind == SYN_OPT_EOL) {
			s->opt_eol_pad = (unsigned)(len - p - 1);
			for (p++; p < len; p++)
				if (b[p] != 0)
					s->quirks |= SYN_Q(OPT_NZ);
			return;
		}
		if (kind == SYN_OPT_NOP) {
			p++;
			continue;
		}
		if (p + 1 >= len || b[p + 1] < 2 || p + b[p + 1] > len) {
			s->quirks |= SYN_Q(OPT_BAD);
			return;
		}
		l = b[p + 1];
		switch (kind) {
		case SYN_OPT_MSS:
			if (l != 4)
				goto bad;
			s->mss = be16(b + p + 2);
			break;
		case SYN_OPT_WS:
			if (l != 3)
				goto bad;
			s->wscale = b[p + 2];
			if (s->wscale > 14)
				s->quirks |= SYN_Q(EXWS);
			break;
		case SYN_OPT_SOK:
			if (l != 2)
				goto bad;
			break;
		case SYN_OPT_SACK:
			if (l < 10 || (l - 2) % 8 != 0)
				goto bad;
			break;
		case SYN_OPT_TS:
			if (l != 10)
				goto bad;
			s->ts1 = be32(b + p + 2);
			s->ts2 = be32(b + p + 6);
			if (s->ts1 == 0)
				s->quirks |= SYN_Q(TS1_ZERO);
			if (s->ts2 != 0 && !(s->tcp_flags & TH_ACK))
				s->quirks |= SYN_Q(TS2_NZ);
			break;
		default:
			break;
		}
		p += l;
	}
	return;
bad:
	s->quirks |= SYN_Q(OPT_BAD);
}

int
syn_parse(const void *buf, size_t len, struct syn_info *out, const char **why)
{
	const unsigned char *b = buf;
	struct syn_info s;
	size_t l4 = 0, l4_len = 0, doff;
	const unsigned char *t;
	uint16_t urg;

	memset(&s, 0, sizeof(s));
	if (b == NULL || len == 0)
		return fail(why, "empty");
	if (len > SYN_BYTES_MAX)
		len = SYN_BYTES_MAX;
	switch (b[0] >> 4) {
	case 4:
		if (parse_ipv4(b, len, &s, &l4, &l4_len, why) == -1)
			return -1;
		break;
	case 6:
		if (parse_ipv6(b, len, &s, &l4, &l4_len, why) == -1)
			return -1;
		break;
	default:
		return fail(why, "not IPv4 or IPv6");
	}
	if (l4 + TCP_HDR_MIN > len)
		return fail(why, "shorter than a TCP header");
	t = b + l4;
	doff = (size_t)(t[12] >> 4) * 4;
	if (doff < TCP_HDR_MIN)
		return fail(why, "TCP header length below 20");
	if (l4 + doff > len)
		return fail(why, "TCP header longer than the buffer");
	if (l4_len < doff)
		return fail(why, "IP length shorter than the TCP header");
	s.tcp_flags = t[13];
	if (!(s.tcp_flags & TH_SYN))
		return fail(why, "SYN flag not set");
	s.seq = be32(t + 4);
	s.ack = be32(t + 8);
	s.win = be16(t + 14);
	urg = be16(t + 18);
	if (s.seq == 0)
		s.quirks |= SYN_Q(ZERO_SEQ);
	if (s.tcp_flags & TH_ACK) {
		if (s.ack == 0)
			s.quirks |= SYN_Q(ZERO_ACK);
	} else if (s.ack != 0) {
		s.quirks |= SYN_Q(NZ_ACK);
	}
	if (s.tcp_flags & TH_URG)
		s.quirks |= SYN_Q(URG);
	else if (urg != 0)
		s.quirks |= SYN_Q(NZ_URG);
	if (s.tcp_flags & TH_PUSH)
		s.quirks |= SYN_Q(PUSH);
	if ((s.tcp_flags & (TH_ECE | TH_CWR)) || (t[12] & 0x01))
		s.quirks |= SYN_Q(ECN);
	parse_options(t + TCP_HDR_MIN, doff - TCP_HDR_MIN, &s);
	s.payload = l4_len > doff;
	*out = s;
	return 0;
}

const char *
syn_quirk_name(unsigned b)
{
	return b < SYN_QB__COUNT ? quirk_names[b] : NULL;
}

/* append - snprintf-style append at *pos; keeps counting what would be needed */
static void
append(char *out, size_t outlen, size_t *pos, const char *s)
{
	size_t n = strlen(s);

	if (*pos < outlen) {
		size_t room = outlen - *pos - 1;
		memcpy(out + *pos, s, n < room ? n : room);
		out[*pos + (n < room ? n : room)] = '\0';
	}
	*pos += n;
}

size_t
syn_olayout_str(const struct syn_info *s, char *out, size_t outlen)
{
	size_t pos = 0;
	unsigned i;
	char tmp[16];

	if (outlen > 0)
		out[0] = '\0';
	for (i = 0; i < s->nopt && i < SYN_OPT_MAX; i++) {
		const char *name = tmp;

		switch (s->olayout[i]) {
		case SYN_OPT_EOL:
			snprintf(tmp, sizeof(tmp), "eol+%u", s->opt_eol_pad);
			break;
		case SYN_OPT_NOP:
			name = "nop";
			break;
		case SYN_OPT_MSS:
			name = "mss";
			break;
		case SYN_OPT_WS:
			name = "ws";
			break;
		case SYN_OPT_SOK:
			name = "sok";
			break;
		case SYN_OPT_SACK:
			name = "sack";
			break;
		case SYN_OPT_TS:
			name = "ts";
			break;
		default:
			snprintf(tmp, sizeof(tmp), "?%u", s->olayout[i]);
			break;
		}
		if (i > 0)
			append(out, outlen, &pos, ",");
		append(out, outlen, &pos, name);
	}
	return pos;
}

size_t
syn_quirks_str(uint32_t quirks, char *out, size_t outlen)
{
	size_t pos = 0;
	unsigned b;
	bool first = true;

	if (outlen > 0)
		out[0] = '\0';
	for (b = 0; b < SYN_QB__COUNT; b++) {
		if (!(quirks & (1u << b)))
			continue;
		if (!first)
			append(out, outlen, &pos, ",");
		append(out, outlen, &pos, quirk_names[b]);
		first = false;
	}
	return pos;
}
