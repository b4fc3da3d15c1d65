/* SPDX-License-Identifier: ISC */
/*
 * addr - MAIL FROM / RCPT TO / VRFY argument parser (see addr.h for the contract).
 *
 * Owns: nothing on the heap; every result is a bounded copy inside struct smtp_path.
 * Public: addr_parse_path, addr_parse_params, addr_param, addr_routing_flags_str, addr_format.
 * Limits: one pass over the input, no recursion, no allocation; paths are cut at ADDR_MAX-1
 *         bytes, keys at 31, values at ADDR_PARAM_MAX-1, at most ADDR_PARAMS_MAX parameters are
 *         kept. Embedded NUL bytes count as control bytes: they make the result -1, and the
 *         stored copies keep them, so a C-string view of a rejected path may end early.
 *
 * The parser is deliberately lenient in what it fills in and strict only in its verdict: the
 * session engine wants to record exactly what a bot sent even when a real server would answer
 * 501, so p is filled as far as the bytes allow in every case.
 */
#include "smtp/addr.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* is_ws - the separators bots put between path and parameters (RFC 5321 says SP only) */
static bool
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* is_ctl - control bytes a real server refuses inside a path or a parameter */
static bool
is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* copy_cut - copy n bytes into a fixed buffer, cutting at size-1; true when cut */
static bool
copy_cut(char *dst, size_t size, const char *src, size_t n)
{
	bool cut = false;

	if (size == 0)
		return n > 0;
	if (n >= size) {
		n = size - 1;
		cut = true;
	}
	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
	return cut;
}

/* scan_flags - set the flags that depend on single bytes (8-bit, controls); -1 on a control */
static int
scan_flags(const char *s, size_t n, struct smtp_path *p)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x80)
			p->flags |= ADDR_F_8BIT;
		else if (is_ctl(c))
			rc = -1;
	}
	return rc;
}

/* path_end - end of a path that started unbracketed or after '<': the first byte that is a
 * terminator outside a quoted string. Sets *quote_open when the input ends inside quotes. */
static size_t
path_end(const char *s, size_t n, bool bracketed, bool *quote_open)
{
	bool inq = false;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (inq) {
			if (c == '\\' && i + 1 < n)
				i++;
			else if (c == '"')
				inq = false;
			continue;
		}
		if (c == '"')
			inq = true;
		else if (bracketed && c == '>')
			break;
		else if (!bracketed && is_ws(c))
			break;
	}
	*quote_open = inq;
	return i;
}

/* parse_mailbox - split "route:local@domain" (no brackets) into p; -1 for what a server
 * would refuse: empty parts, spaces or brackets outside quotes, an unclosed quote */
static int
parse_mailbox(const char *s, size_t n, struct smtp_path *p)
{
	size_t i, start = 0, at = SIZE_MAX;
	bool inq = false;
	int rc = 0;

	/* A source route is "@a,@b:" in front of the mailbox (RFC 5321 §4.1.2, obsolete but still
	 * sent by relay testers); it is kept apart so the echo shows only the mailbox. */
	if (n > 0 && s[0] == '@') {
		for (i = 0; i < n && s[i] != ':'; i++)
			;
		if (i < n) {
			p->flags |= ADDR_F_SOURCE_ROUTE;
			if (copy_cut(p->route, sizeof(p->route), s, i))
				p->flags |= ADDR_F_TRUNCATED;
			start = i + 1;
		}
	}
	/* The last '@' outside quotes splits local part and domain: "a@b@c" is a relay trick whose
	 * final hop is c, and "\"a@b\"@c" keeps the quoted '@' in the local part. */
	for (i = start; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (inq) {
			if (c == '\\' && i + 1 < n)
				i++;
			else if (c == '"')
				inq = false;
			continue;
		}
		if (c == '"') {
			inq = true;
			p->flags |= ADDR_F_QUOTED;
		} else if (c == '@') {
			at = i;
		} else if (is_ws(c)) {
			rc = -1;
		} else if (c == '<' || c == '>') {
			p->flags |= ADDR_F_UNBALANCED;
			rc = -1;
		}
	}
	if (inq) {
		p->flags |= ADDR_F_UNBALANCED;
		rc = -1;
	}
	if (at == SIZE_MAX) {
		p->flags |= ADDR_F_NO_DOMAIN;
		at = n;
	} else {
		if (copy_cut(p->domain, sizeof(p->domain), s + at + 1, n - at - 1))
			p->flags |= ADDR_F_TRUNCATED;
		if (at + 1 == n)
			rc = -1;
		else if (s[at + 1] == '[' && s[n - 1] == ']')
			p->flags |= ADDR_F_IP_LITERAL;
	}
	if (copy_cut(p->local, sizeof(p->local), s + start, at - start))
		p->flags |= ADDR_F_TRUNCATED;
	if (at == start)
		rc = -1;
	/* Percent hack and bang paths only mean routing outside quotes. */
	inq = false;
	for (i = start; i < at; i++) {
		unsigned char c = (unsigned char)s[i];

		if (inq) {
			if (c == '\\' && i + 1 < at)
				i++;
			else if (c == '"')
				inq = false;
		} else if (c == '"') {
			inq = true;
		} else if (c == '%') {
			p->flags |= ADDR_F_PERCENT;
		} else if (c == '!') {
			p->flags |= ADDR_F_BANG;
		}
	}
	return rc;
}

/* keyword_ok - RFC 5321 esmtp-keyword: (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
static bool
keyword_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !isalnum((unsigned char)s[0]))
		return false;
	for (i = 1; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x80 || (!isalnum(c) && c != '-'))
			return false;
	}
	return true;
}

/* add_param - store one "KEY[=VALUE]" token; -1 when it is not a parameter at all */
static int
add_param(const char *tok, size_t n, struct smtp_path *p)
{
	struct smtp_param *sp;
	const char *eq = memchr(tok, '=', n);
	size_t klen = eq != NULL ? (size_t)(eq - tok) : n;
	size_t i;
	int rc = 0;

	if (!keyword_ok(tok, klen)) {
		p->flags |= ADDR_F_TRAILING;
		return -1;
	}
	for (i = 0; i < n; i++)
		if (is_ctl((unsigned char)tok[i]))
			rc = -1;
	if (p->nparams >= ADDR_PARAMS_MAX) {
		p->nparams_dropped++;
		return rc;
	}
	sp = &p->params[p->nparams++];
	memset(sp, 0, sizeof(*sp));
	if (copy_cut(sp->key, sizeof(sp->key), tok, klen))
		p->flags |= ADDR_F_TRUNCATED;
	for (i = 0; sp->key[i] != '\0'; i++)
		sp->key[i] = (char)toupper((unsigned char)sp->key[i]);
	if (eq != NULL) {
		sp->has_value = true;
		if (copy_cut(sp->value, sizeof(sp->value), eq + 1, n - klen - 1))
			p->flags |= ADDR_F_TRUNCATED;
	}
	return rc;
}

/* addr_parse_params - split on spaces and store each token */
int
addr_parse_params(const char *s, size_t len, struct smtp_path *p)
{
	size_t i = 0, start;
	int rc = 0;

	if (s == NULL || p == NULL)
		return -1;
	while (i < len) {
		while (i < len && is_ws((unsigned char)s[i]))
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && !is_ws((unsigned char)s[i]))
			i++;
		if (add_param(s + start, i - start, p) == -1)
			rc = -1;
	}
	return rc;
}

/* addr_parse_path - find the path, split it, then hand the rest to addr_parse_params */
int
addr_parse_path(const char *arg, size_t len, struct smtp_path *p)
{
	size_t i = 0, plen, rest;
	const char *path;
	bool quote_open = false;
	int rc = 0;

	if (p == NULL)
		return -1;
	memset(p, 0, sizeof(*p));
	if (arg == NULL)
		len = 0;
	while (i < len && is_ws((unsigned char)arg[i]))
		i++;
	if (i > 0)
		p->flags |= ADDR_F_SPACE_BEFORE;
	/* A line terminator a caller left on is not part of the argument. */
	if (len > i && arg[len - 1] == '\n')
		len--;
	if (len > i && arg[len - 1] == '\r')
		len--;
	/* Trailing blanks are what sloppy clients leave before CRLF; they carry no meaning. */
	while (len > i && is_ws((unsigned char)arg[len - 1]))
		len--;
	if (i == len) {
		p->flags |= ADDR_F_EMPTY;
		return -1;
	}
	if (scan_flags(arg + i, len - i, p) == -1)
		rc = -1;
	if (arg[i] == '<') {
		p->flags |= ADDR_F_BRACKETS;
		path = arg + i + 1;
		plen = path_end(path, len - i - 1, true, &quote_open);
		if (plen == len - i - 1) {
			p->flags |= ADDR_F_UNBALANCED;
			rc = -1;
		}
		rest = i + 1 + plen + (plen < len - i - 1 ? 1 : 0);
	} else {
		path = arg + i;
		plen = path_end(path, len - i, false, &quote_open);
		rest = i + plen;
		/* "a@b>" has a closing bracket that was never opened. */
		if (plen > 0 && path[plen - 1] == '>') {
			p->flags |= ADDR_F_UNBALANCED;
			plen--;
			rc = -1;
		}
	}
	if (plen >= ADDR_MAX) {
		p->flags |= ADDR_F_TRUNCATED;
		rc = -1;
	}
	copy_cut(p->raw, sizeof(p->raw), path, plen);
	if (plen == 0 && (p->flags & ADDR_F_BRACKETS) && !(p->flags & ADDR_F_UNBALANCED)) {
		p->flags |= ADDR_F_NULL;
	} else if (plen == 0) {
		rc = -1;
	} else if (parse_mailbox(path, plen, p) == -1) {
		rc = -1;
	}
	if (addr_parse_params(arg + rest, len - rest, p) == -1)
		rc = -1;
	return rc;
}

/* addr_param - first parameter with this key */
const struct smtp_param *
addr_param(const struct smtp_path *p, const char *key)
{
	size_t i;

	if (p == NULL || key == NULL)
		return NULL;
	for (i = 0; i < p->nparams && i < ADDR_PARAMS_MAX; i++)
		if (strcasecmp(p->params[i].key, key) == 0)
			return &p->params[i];
	return NULL;
}

/* addr_routing_flags_str - names of the relay tricks in flags, in a fixed order */
const char *
addr_routing_flags_str(unsigned flags, char *out, size_t outlen)
{
	static const struct {
		unsigned flag;
		const char *name;
	} names[] = {
	    {ADDR_F_PERCENT, "percent"},           {ADDR_F_BANG, "bang"},
	    {ADDR_F_SOURCE_ROUTE, "source_route"}, {ADDR_F_QUOTED, "quoted"},
	    {ADDR_F_IP_LITERAL, "ip_literal"},
	};
	size_t i;

	if (out == NULL || outlen == 0)
		return "";
	out[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(flags & names[i].flag))
			continue;
		if (out[0] != '\0')
			strlcat(out, ",", outlen);
		strlcat(out, names[i].name, outlen);
	}
	return out;
}

/* append_clean - append s to out[*o..], dropping control bytes so an echo can never carry a
 * CR or LF even when a caller formats a path that addr_parse_path refused */
static void
append_clean(char *out, size_t outlen, size_t *o, const char *s)
{
	for (; *s != '\0' && *o + 1 < outlen; s++)
		if (!is_ctl((unsigned char)*s))
			out[(*o)++] = *s;
	out[*o] = '\0';
}

/* addr_format - local@domain, or local@default_domain the way Exchange completes it */
char *
addr_format(const struct smtp_path *p, const char *default_domain, bool append_domain, char *out,
            size_t outlen)
{
	size_t o = 0;

	if (out == NULL || outlen == 0)
		return out;
	out[0] = '\0';
	if (p == NULL || (p->flags & ADDR_F_NULL))
		return out;
	append_clean(out, outlen, &o, p->local);
	if (p->domain[0] != '\0') {
		append_clean(out, outlen, &o, "@");
		append_clean(out, outlen, &o, p->domain);
	} else if (append_domain && default_domain != NULL && default_domain[0] != '\0' &&
	           p->local[0] != '\0') {
		append_clean(out, outlen, &o, "@");
		append_clean(out, outlen, &o, default_domain);
	}
	return out;
}
