/* SPDX-License-Identifier: ISC */
/*
 * classify - the report's judgements, as pure functions over what a session recorded:
 * HELO/EHLO identity classes (RFC 5321 §2.3.5, §4.1.1.1, §4.1.3), machine-generated names,
 * open-relay probe detection with reasons, and the normalisation that groups subjects and
 * bodies into templates (scanner families, campaigns).
 *
 * Owns: nothing; every function works on caller memory and allocates nothing (two static
 *       tables of the host words by first and last letter are built once, thread-safely).
 * Input: attacker bytes (any bytes, any length: bounded internally, never trusted).
 */
#ifndef RT_CLASSIFY_H
#define RT_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>

/* HELO identity classes, most specific first; X(name, label) */
#define HELO_CLASSES(X)                                                                            \
	X(MISSING, "missing")             /* no HELO/EHLO, or an empty argument */                 \
	X(SELF, "impersonates honeypot")  /* our host name, NetBIOS name, domain or address */     \
	X(RESERVED, "localhost/reserved") /* localhost, *.localdomain, *.local, *.invalid, … */  \
	X(LITERAL_MATCH, "address literal") /* [1.2.3.4] / [IPv6:…] equal to the peer */         \
	X(LITERAL_OTHER, "address literal, not the peer")                                          \
	X(BARE_IP, "bare IP, no brackets") /* 1.2.3.4 */                                           \
	X(INVALID, "invalid syntax")       /* bad characters, empty labels, over 255, … */       \
	X(SINGLE_LABEL, "single label, not an FQDN") /* mta101 */                                  \
	X(RANDOM, "machine-generated")               /* user-3i39rqqo1r, premier-ksxhhv6 */        \
	X(FQDN, "valid FQDN")

enum helo_class {
#define X(n, l) HELO_##n,
	HELO_CLASSES(X)
#undef X
	    HELO__COUNT
};

/* What the classifier knows about the honeypot itself (any field may be NULL) */
struct helo_self {
	const char *hostname; /* FQDN of the persona */
	const char *netbios;
	const char *domain;
	const char *const *addrs; /* NULL-terminated: the addresses the honeypot was reached on */
};

const char *helo_class_name(enum helo_class c);  /* "fqdn", "single_label", … (stable, JSON) */
const char *helo_class_label(enum helo_class c); /* human label */

/* helo_classify - class of name (len bytes, may contain NUL or invalid UTF-8) sent by a client
 * whose address is peer_ip (text; may be NULL) to a honeypot described by self (may be NULL) */
enum helo_class helo_classify(const char *name, size_t len, const char *peer_ip,
                              const struct helo_self *self);

/* helo_peer_known - peer_ip is an address helo_classify can compare an address literal with
 * (when it is not, a literal is judged without it) */
bool helo_peer_known(const char *peer_ip);

/* name_looks_random - a label that looks machine-generated (documented heuristic in
 * docs/classification.md); score in [0,1] when score != NULL */
bool name_looks_random(const char *label, size_t len, double *score);

/* Relay-probe reasons, bit flags; X(name, bit, label) */
#define PROBE_REASONS(X)                                                                           \
	X(SELF_IN_TEXT, 0, "honeypot address or name in subject/body")                             \
	X(SCANNER_TEXT, 1, "known relay-scanner text")                                             \
	X(SENDER_IS_RCPT, 2, "sender equals recipient on a foreign domain")                        \
	X(ROUTING_TRICK, 3, "routing trick in RCPT (%-hack, bang path, source route, quoted)")     \
	X(PROBE_RCPTS, 4, "probe-like recipient set")                                              \
	X(RELAY_SUBJECT, 5, "relay-test subject")

enum probe_reason {
#define X(n, b, l) PROBE_##n = 1u << (b),
	PROBE_REASONS(X)
#undef X
};

/* What the detector sees of one message (any pointer may be NULL; lengths in bytes) */
struct probe_input {
	const char *subject;
	size_t subject_len;
	const char *body; /* the start of the body (relaytrap.message body_text) */
	size_t body_len;
	const char *mail_from;
	const char *const *rcpts;    /* envelope recipients as echoed */
	const char *const *rcpt_raw; /* as sent (for routing tricks); may be NULL */
	size_t nrcpts;
	const char *hdr_from, *hdr_to;
	unsigned rcpt_flags; /* OR of routing flags seen: see PROBE_RCPT_* */
};

#define PROBE_RCPT_PERCENT 1u
#define PROBE_RCPT_BANG 2u
#define PROBE_RCPT_SOURCE_ROUTE 4u
#define PROBE_RCPT_QUOTED 8u

/* probe_detect - OR of enum probe_reason for one message; 0 = not a probe */
unsigned probe_detect(const struct probe_input *in, const struct helo_self *self);
/* probe_reason_name / label - for bit b (0-based) */
const char *probe_reason_name(unsigned bit);
const char *probe_reason_label(unsigned bit);
#define PROBE_REASON_COUNT 6

/* template_normalise - write a template of text into out (NUL-terminated, at most outlen-1
 * bytes): IPv4/IPv6 addresses → <ip>, e-mail addresses → <email>, host names → <host>,
 * digit runs → <n>, hex/base64-looking tokens → <id>, dates → <date>, whitespace collapsed,
 * lower-cased; invalid UTF-8 and control bytes → '?'. Returns the length written. */
size_t template_normalise(const char *text, size_t len, char *out, size_t outlen);
/* template_normalise_prefix - template_normalise, reading the text only as far as needed to
 * know the first want bytes of the template: either exactly those want bytes with *cut set (the
 * whole template is at least as long), or, when the text ended first, the whole template (*cut
 * false). want must be below outlen; cut may be NULL; want 0 = the whole template. */
size_t template_normalise_prefix(const char *text, size_t len, char *out, size_t outlen,
                                 size_t want, bool *cut);

/* addr_domain - the domain part of an address (after the last '@', without '>'), or NULL */
const char *addr_domain(const char *addr, size_t *dlen);

#endif
