/* SPDX-License-Identifier: ISC */
/*
 * syn - the client's SYN as the kernel saved it (TCP_SAVED_SYN): the IPv4 or IPv6 header
 * (with IPv4 options or IPv6 extension headers) followed by the TCP header with its options,
 * decoded into the fields a passive OS fingerprint looks at.
 *
 * Owns: nothing; syn_parse fills a caller's struct and allocates nothing.
 * Public: syn_parse, syn_quirk_name, syn_olayout_str, syn_quirks_str.
 * Input: the bytes come from the kernel but are treated as untrusted: every length field is
 * checked against the buffer before it is used; anything that is not a complete IPv4/IPv6 +
 * TCP SYN header is refused (-1, with a reason). At most SYN_BYTES_MAX bytes are looked at.
 * Malformed TCP options are not an error: they are recorded as the quirk "bad", as p0f does.
 */
#ifndef RT_SYN_H
#define RT_SYN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYN_BYTES_MAX 1024 /* IPv6 extension headers are the only unbounded part */
#define SYN_OPT_MAX 40     /* TCP options fit in 40 bytes: at most 40 one-byte options */

/* TCP option kinds with a p0f name; any other kind is written "?N" */
enum syn_opt_kind {
	SYN_OPT_EOL = 0,
	SYN_OPT_NOP = 1,
	SYN_OPT_MSS = 2,
	SYN_OPT_WS = 3,
	SYN_OPT_SOK = 4,
	SYN_OPT_SACK = 5,
	SYN_OPT_TS = 8,
};

/* p0f v3 quirks in p0f's order; X(ENUM, "p0f name") */
#define SYN_QUIRKS(X)                                                                              \
	X(DF, "df")         /* IPv4 don't-fragment set */                                          \
	X(NZ_ID, "id+")     /* DF set but IP id non-zero */                                        \
	X(ZERO_ID, "id-")   /* DF clear but IP id zero */                                          \
	X(ECN, "ecn")       /* ECT/CE in TOS/traffic class, or ECE/CWR/NS in the TCP flags */      \
	X(NZ_MBZ, "0+")     /* IPv4 reserved ("must be zero") flag set */                          \
	X(FLOW, "flow")     /* IPv6 flow label non-zero */                                         \
	X(ZERO_SEQ, "seq-") /* sequence number zero */                                             \
	X(NZ_ACK, "ack+")   /* ACK number non-zero, ACK flag clear */                              \
	X(ZERO_ACK, "ack-") /* ACK number zero, ACK flag set */                                    \
	X(NZ_URG, "uptr+")  /* urgent pointer non-zero, URG flag clear */                          \
	X(URG, "urgf+")     /* URG flag set */                                                     \
	X(PUSH, "pushf+")   /* PSH flag set */                                                     \
	X(TS1_ZERO, "ts1-") /* own timestamp zero */                                               \
	X(TS2_NZ, "ts2+")   /* peer timestamp non-zero in a SYN */                                 \
	X(OPT_NZ, "opt+")   /* non-zero bytes after EOL */                                         \
	X(EXWS, "exws")     /* window scale above 14 */                                            \
	X(OPT_BAD, "bad")   /* malformed TCP options */

enum syn_quirk_bit {
#define X(n, s) SYN_QB_##n,
	SYN_QUIRKS(X)
#undef X
	    SYN_QB__COUNT
};

#define SYN_Q(n) (1u << SYN_QB_##n)
/* quirks that only exist for one IP version (README of p0f: "ignored for IPv6/IPv4") */
#define SYN_Q_IPV4_ONLY (SYN_Q(DF) | SYN_Q(NZ_ID) | SYN_Q(ZERO_ID) | SYN_Q(NZ_MBZ))
#define SYN_Q_IPV6_ONLY (SYN_Q(FLOW))

struct syn_info {
	int ip_version;      /* 4 or 6 */
	uint8_t ttl;         /* IPv4 TTL or IPv6 hop limit as received */
	uint8_t tos;         /* IPv4 TOS byte or IPv6 traffic class (DSCP and ECN bits) */
	bool df;             /* IPv4 only */
	uint16_t ip_id;      /* IPv4 only */
	uint32_t flow;       /* IPv6 only: 20-bit flow label */
	unsigned ip_opt_len; /* IPv4 option bytes or IPv6 extension header bytes */
	uint8_t tcp_flags;   /* FIN SYN RST PSH ACK URG ECE CWR (low to high) */
	uint32_t seq, ack;
	uint16_t win;                 /* the window field, never scaled in a SYN */
	uint16_t mss;                 /* 0 = no MSS option */
	uint8_t wscale;               /* 0 = no window scale option (as p0f) */
	uint32_t ts1, ts2;            /* timestamp option values, 0 without the option */
	uint8_t olayout[SYN_OPT_MAX]; /* option kinds in the order sent (EOL ends the list) */
	unsigned nopt;
	unsigned opt_eol_pad; /* bytes after an EOL option (p0f "eol+N") */
	uint32_t quirks;      /* SYN_Q(...) bits */
	bool payload;         /* the IP length says data follows the TCP header (TCP Fast Open) */
};

/* syn_parse - decode len bytes of a saved SYN into out; 0, or -1 with a static reason in
 * *why (may be NULL). Refuses anything but a version 4/6 packet carrying TCP with SYN set,
 * or headers whose lengths do not fit the buffer. */
int syn_parse(const void *buf, size_t len, struct syn_info *out, const char **why);

/* syn_quirk_name - the p0f name of quirk bit b ("df", "id+", ...), NULL past the end */
const char *syn_quirk_name(unsigned b);

/* syn_olayout_str - the option layout in p0f notation ("mss,nop,ws,sok,ts" or "" without
 * options); always NUL-terminates; returns the length it needed (as snprintf) */
size_t syn_olayout_str(const struct syn_info *s, char *out, size_t outlen);
/* syn_quirks_str - the quirks in p0f notation ("df,id+" or ""); as syn_olayout_str */
size_t syn_quirks_str(uint32_t quirks, char *out, size_t outlen);

#endif
