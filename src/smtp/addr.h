/* SPDX-License-Identifier: ISC */
/*
 * addr - parse the argument of MAIL FROM / RCPT TO / VRFY as a bot sends it, record every
 * irregularity, and never reject what a careless server would take.
 *
 * Owns: nothing on the heap; struct smtp_path holds bounded copies.
 * Public: addr_parse_path, addr_parse_params, addr_param, addr_routing_flags_str, addr_format.
 * Input: the text after "MAIL FROM:" / "RCPT TO:" (the colon already consumed, leading spaces
 * still present, so spacing variants are recorded). Accepts "<a@b>", "a@b", "<>", "<@r1,@r2:a@b>"
 * (source route), "<a%b@c>" (percent hack), "<b!a>" / "<c!b!a@d>" (bang path),
 * "<\"a@b\"@c>" (quoted local part, honoured: the @ inside quotes does not split), "<user>" (no
 * domain), then ESMTP parameters "KEY[=VALUE]" separated by spaces. A trailing CRLF (or LF)
 * and trailing blanks are ignored.
 */
#ifndef RT_ADDR_H
#define RT_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#define ADDR_MAX 512       /* bytes kept of one path (RFC 5321 §4.5.3.1.3: 256) */
#define ADDR_PARAMS_MAX 16 /* parameters kept per command */
#define ADDR_PARAM_MAX 256 /* bytes kept of one parameter value */

enum addr_flags {
	ADDR_F_BRACKETS = 1 << 0,     /* was inside <> */
	ADDR_F_SPACE_BEFORE = 1 << 1, /* "FROM: <x>" — space after the colon */
	ADDR_F_NULL = 1 << 2,         /* "<>" */
	ADDR_F_NO_DOMAIN = 1 << 3,    /* "user" with no @ (outside quotes) */
	ADDR_F_QUOTED = 1 << 4,       /* quoted local part */
	ADDR_F_PERCENT = 1 << 5,      /* % in the local part: percent hack */
	ADDR_F_BANG = 1 << 6,         /* ! in the local part: UUCP bang path */
	ADDR_F_SOURCE_ROUTE = 1 << 7, /* "@a,@b:" prefix */
	ADDR_F_IP_LITERAL = 1 << 8,   /* domain is "[1.2.3.4]" */
	ADDR_F_EMPTY = 1 << 9,        /* nothing at all after the colon */
	ADDR_F_UNBALANCED = 1 << 10,  /* "<" without ">" or the reverse */
	ADDR_F_TRUNCATED = 1 << 11,   /* longer than ADDR_MAX, cut */
	ADDR_F_8BIT = 1 << 12,        /* bytes >= 0x80 */
	ADDR_F_TRAILING = 1 << 13,    /* junk after the path that is not a KEY=VALUE parameter */
};

struct smtp_param {
	char key[32];               /* upper-cased */
	char value[ADDR_PARAM_MAX]; /* as sent ("" when no '=') */
	bool has_value;
};

struct smtp_path {
	char raw[ADDR_MAX];    /* the path as sent, without brackets and parameters */
	char local[ADDR_MAX];  /* local part as sent (quotes kept) */
	char domain[ADDR_MAX]; /* domain ("" when none) */
	char route[ADDR_MAX];  /* source route "@a,@b" without the colon, "" when none */
	unsigned flags;        /* enum addr_flags */
	struct smtp_param params[ADDR_PARAMS_MAX];
	size_t nparams;
	size_t nparams_dropped; /* parameters beyond ADDR_PARAMS_MAX */
};

/* addr_parse_path - parse arg (len bytes, may contain any byte); fills p. Returns 0 when the
 * result is something a lenient server would accept (a path or "<>"), -1 for syntax it would
 * reject (empty, unbalanced brackets, spaces inside the path, control bytes); p is filled
 * as far as possible either way. Also -1: an unclosed quote, an empty local part or domain
 * ("<@x>", "<a@>"), a path of ADDR_MAX bytes or more (cut, ADDR_F_TRUNCATED), and junk after
 * the path that is not an ESMTP parameter (ADDR_F_TRAILING). The local part and domain are
 * split at the last '@' outside quotes. */
int addr_parse_path(const char *arg, size_t len, struct smtp_path *p);
/* addr_parse_params - parse ESMTP parameters "KEY[=VALUE] ..." (len bytes, any byte) and append
 * them to p->params (beyond ADDR_PARAMS_MAX only nparams_dropped counts). Keys are upper-cased,
 * values kept as sent. Returns 0, or -1 when a token is not an esmtp-keyword (ADDR_F_TRAILING
 * is set) or holds control bytes; the valid tokens are stored either way. */
int addr_parse_params(const char *s, size_t len, struct smtp_path *p);
/* addr_param - find a parameter by upper-case key, or NULL */
const struct smtp_param *addr_param(const struct smtp_path *p, const char *key);
/* addr_routing_flags_str - comma-separated names of the set routing flags ("percent,bang"),
 * "" when none; out must hold 96 bytes */
const char *addr_routing_flags_str(unsigned flags, char *out, size_t outlen);
/* addr_format - the address as the server echoes it: local@domain, with default_domain
 * appended when the path had no domain and append_domain is true; "<>" stays ""; returns out */
char *addr_format(const struct smtp_path *p, const char *default_domain, bool append_domain,
                  char *out, size_t outlen);

#endif
