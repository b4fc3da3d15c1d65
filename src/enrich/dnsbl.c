/* SPDX-License-Identifier: ISC */
/*
 * dnsbl - DNS blocklist zones and their return codes (see dnsbl.h).
 *
 * The meanings come from each list's published documentation: Spamhaus "DNSBL return codes"
 * (ZEN combines SBL, CSS, XBL, DROP and PBL; 127.255.255.x are errors, not listings),
 * SpamCop, Barracuda Reputation Block List, SORBS (closed in 2024; kept for old
 * configurations and mirrors), PSBL, Mailspike, UCEPROTECT and s5h. A zone not in the table
 * still works: every 127.0.0.0/8 answer is a listing named "listed".
 */
#include "enrich/dnsbl.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/str.h"
#include "core/util.h"

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((c) << 8) | (d))
#define LOOP(x) IP4(127, 0, 0, x)

/* Spamhaus errors shared by every Spamhaus zone */
#define SPAMHAUS_ERRORS                                                                            \
	{IP4(127, 255, 255, 252), IP4(127, 255, 255, 252), DNSBL_REFUSED,                          \
	 "error: typing error in the DNSBL name"},                                                 \
	    {IP4(127, 255, 255, 254), IP4(127, 255, 255, 254), DNSBL_REFUSED,                      \
	     "error: query through a public or open resolver (use your own resolver or DQS)"},     \
	{                                                                                          \
		IP4(127, 255, 255, 255), IP4(127, 255, 255, 255), DNSBL_REFUSED,                   \
		    "error: excessive number of queries"                                           \
	}

static const struct dnsbl_code zen_codes[] = {
    {LOOP(2), LOOP(2), DNSBL_LISTED, "SBL: Spamhaus SBL, spam source or spam operation"},
    {LOOP(3), LOOP(3), DNSBL_LISTED, "SBL CSS: snowshoe spam source"},
    {LOOP(4), LOOP(7), DNSBL_LISTED, "XBL: exploited host (bot, open proxy, malware)"},
    {LOOP(9), LOOP(9), DNSBL_LISTED, "SBL DROP/EDROP: hijacked or criminal network"},
    {LOOP(10), LOOP(10), DNSBL_LISTED, "PBL: end-user range, listed by its ISP"},
    {LOOP(11), LOOP(11), DNSBL_LISTED, "PBL: end-user range, listed by Spamhaus"},
    SPAMHAUS_ERRORS,
};
static const struct dnsbl_code sbl_codes[] = {
    {LOOP(2), LOOP(2), DNSBL_LISTED, "SBL: Spamhaus SBL, spam source or spam operation"},
    {LOOP(3), LOOP(3), DNSBL_LISTED, "SBL CSS: snowshoe spam source"},
    {LOOP(9), LOOP(9), DNSBL_LISTED, "SBL DROP/EDROP: hijacked or criminal network"},
    SPAMHAUS_ERRORS,
};
static const struct dnsbl_code xbl_codes[] = {
    {LOOP(4), LOOP(7), DNSBL_LISTED, "XBL: exploited host (bot, open proxy, malware)"},
    SPAMHAUS_ERRORS,
};
static const struct dnsbl_code pbl_codes[] = {
    {LOOP(10), LOOP(10), DNSBL_LISTED, "PBL: end-user range, listed by its ISP"},
    {LOOP(11), LOOP(11), DNSBL_LISTED, "PBL: end-user range, listed by Spamhaus"},
    SPAMHAUS_ERRORS,
};
static const struct dnsbl_code spamcop_codes[] = {
    {LOOP(2), LOOP(2), DNSBL_LISTED, "SpamCop: reported as a spam source"},
};
static const struct dnsbl_code barracuda_codes[] = {
    {LOOP(2), LOOP(2), DNSBL_LISTED, "Barracuda BRBL: poor sending reputation"},
};
static const struct dnsbl_code sorbs_codes[] = {
    {LOOP(2), LOOP(2), DNSBL_LISTED, "SORBS HTTP: open HTTP proxy"},
    {LOOP(3), LOOP(3), DNSBL_LISTED, "SORBS SOCKS: open SOCKS proxy"},
    {LOOP(4), LOOP(4), DNSBL_LISTED, "SORBS MISC: other open proxy"},
    {LOOP(5), LOOP(5), DNSBL_LISTED, "SORBS SMTP: open SMTP relay"},
    {LOOP(6), LOOP(6), DNSBL_LISTED, "SORBS SPAM: spam source"},
    {LOOP(7), LOOP(7), DNSBL_LISTED, "SORBS WEB: vulnerable web server (formmail, scripts)"},
    {LOOP(8), LOOP(8), DNSBL_LISTED, "SORBS BLOCK: asked not to be tested"},
    {LOOP(9), LOOP(9), DNSBL_LISTED, "SORBS ZOMBIE: hijacked network"},
    {LOOP(10), LOOP(10), DNSBL_LISTED, "SORBS DUL: dynamic IP range"},
    {LOOP(11), LOOP(11), DNSBL_LISTED, "SORBS BADCONF: bad DNS or mail configuration"},
    {LOOP(12), LOOP(12), DNSBL_LISTED, "SORBS NOMAIL: domain or range sends no mail"},
    {LOOP(14), LOOP(14), DNSBL_LISTED, "SORBS NOSERVER: range should not run servers"},
};
static const struct dnsbl_code psbl_codes[] = {
    {LOOP(2), LOOP(2), DNSBL_LISTED, "PSBL: hit spam traps"},
};
static const struct dnsbl_code mailspike_codes[] = {
    {LOOP(2), LOOP(2), DNSBL_LISTED, "Mailspike: blocklisted"},
    {LOOP(10), LOOP(10), DNSBL_LISTED, "Mailspike L5: worst reputation"},
    {LOOP(11), LOOP(11), DNSBL_LISTED, "Mailspike L4: very bad reputation"},
    {LOOP(12), LOOP(12), DNSBL_LISTED, "Mailspike L3: bad reputation"},
    {LOOP(13), LOOP(13), DNSBL_LISTED, "Mailspike L2: suspicious reputation"},
    {LOOP(14), LOOP(14), DNSBL_LISTED, "Mailspike L1: neutral, probably spam"},
};
static const struct dnsbl_code uceprotect_codes[] = {
    {LOOP(2), LOOP(2), DNSBL_LISTED, "UCEPROTECT level 1: the address sent spam"},
};
static const struct dnsbl_code s5h_codes[] = {
    {LOOP(2), LOOP(2), DNSBL_LISTED, "s5h: spam trap hit"},
};

#define ZONE(z, v6, c)                                                                             \
	{                                                                                          \
		z, v6, c, ARRAY_LEN(c)                                                             \
	}
static const struct dnsbl_zone_info known[] = {
    ZONE("zen.spamhaus.org", true, zen_codes),
    ZONE("zen.dq.spamhaus.net", true, zen_codes),
    ZONE("sbl.spamhaus.org", true, sbl_codes),
    ZONE("sbl-xbl.spamhaus.org", true, zen_codes),
    ZONE("xbl.spamhaus.org", true, xbl_codes),
    ZONE("pbl.spamhaus.org", true, pbl_codes),
    ZONE("bl.spamcop.net", false, spamcop_codes),
    ZONE("b.barracudacentral.org", false, barracuda_codes),
    ZONE("dnsbl.sorbs.net", true, sorbs_codes),
    ZONE("psbl.surriel.com", false, psbl_codes),
    ZONE("bl.mailspike.net", false, mailspike_codes),
    ZONE("dnsbl-1.uceprotect.net", false, uceprotect_codes),
    ZONE("all.s5h.net", false, s5h_codes),
};

const struct dnsbl_zone_info *
dnsbl_known_zone(const char *zone)
{
	size_t zl = strlen(zone);

	for (size_t i = 0; i < ARRAY_LEN(known); i++) {
		size_t kl = strlen(known[i].zone);
		if (zl == kl && strcasecmp(zone, known[i].zone) == 0)
			return &known[i];
		/* a keyed mirror: "<key>.zen.dq.spamhaus.net" */
		if (zl > kl && zone[zl - kl - 1] == '.' &&
		    strcasecmp(zone + zl - kl, known[i].zone) == 0)
			return &known[i];
	}
	return NULL;
}

/* zone_problem - why z cannot be a zone name, or NULL */
static const char *
zone_problem(const char *z)
{
	size_t len = strlen(z), label = 0, labels = 0;

	if (len == 0)
		return "is empty";
	if (len > DNSBL_ZONE_MAX)
		return "is longer than 180 characters";
	for (size_t i = 0; i <= len; i++) {
		unsigned char ch = (unsigned char)z[i];
		if (ch == '.' || ch == '\0') {
			if (label == 0)
				return "has an empty label (no leading, trailing or double dots)";
			labels++;
			label = 0;
		} else if (isalnum(ch) || ch == '-' || ch == '_') {
			if (++label > 63)
				return "has a label longer than 63 characters";
		} else {
			return "may hold only letters, digits, '-', '_' and '.'";
		}
	}
	if (labels < 2)
		return "is not a zone with at least two labels";
	return NULL;
}

int
dnsbl_parse(const char *spec, struct dnsbl_list *list, char *err, size_t errlen)
{
	const char *p = spec;

	memset(list, 0, sizeof(*list));
	while (*p && isspace((unsigned char)*p))
		p++;
	if (strcasecmp(p, "none") == 0 || *p == '\0')
		return 0;
	while (*p != '\0') {
		size_t k = strcspn(p, ", \t"), i;
		char z[DNSBL_ZONE_MAX + 2];
		const char *why;

		if (k > 0) {
			if (list->n >= DNSBL_MAX_ZONES) {
				seterr(err, errlen, "dnsbl_zones: at most %d zones",
				       DNSBL_MAX_ZONES);
				return -1;
			}
			if (k > DNSBL_ZONE_MAX) {
				seterr(err, errlen,
				       "dnsbl_zones: '%.40s...' is longer than 180 characters", p);
				return -1;
			}
			for (i = 0; i < k; i++)
				z[i] = (char)tolower((unsigned char)p[i]);
			z[k] = '\0';
			if ((why = zone_problem(z)) != NULL) {
				char e[72];
				seterr(err, errlen,
				       "dnsbl_zones: '%s' %s (use a zone such as zen.spamhaus.org, "
				       "or none)",
				       str_escape_log(z, k, e, sizeof(e)), why);
				return -1;
			}
			for (i = 0; i < list->n; i++)
				if (strcmp(list->zones[i].name, z) == 0)
					break;
			if (i == list->n) {
				memcpy(list->zones[list->n].name, z, k + 1);
				list->zones[list->n].info = dnsbl_known_zone(z);
				list->n++;
			}
		}
		p += k;
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
	}
	return 0;
}

/* v4_name - "d.c.b.a.zone" for the IPv4 address a.b.c.d at v (what snprintf's "%u.%u.%u.%u.%s"
 * writes, at a fraction of its cost: every session asks every zone); false when it does not
 * fit */
static bool
v4_name(const unsigned char v[4], const char *zone, char *out, size_t outlen)
{
	const unsigned char r[4] = {v[3], v[2], v[1], v[0]};
	size_t o, zl = strlen(zone);

	if (outlen < 4 * 4 + zl + 1 || !fmt_ipv4(r, out, outlen))
		return false;
	o = strlen(out);
	out[o++] = '.';
	memcpy(out + o, zone, zl + 1);
	return true;
}

bool
dnsbl_query_name(const struct dnsbl_zone *z, const char *ip, char *out, size_t outlen)
{
	unsigned char b[16];
	size_t o = 0;

	if (inet_pton(AF_INET, ip, b) == 1)
		return v4_name(b, z->name, out, outlen);
	if (inet_pton(AF_INET6, ip, b) != 1)
		return false;
	if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)b))
		return v4_name(b + 12, z->name, out, outlen);
	/* a zone we know only as IPv4 would answer NXDOMAIN or nonsense: do not ask it */
	if (z->info != NULL && !z->info->ipv6)
		return false;
	if (outlen < 64 + strlen(z->name) + 1)
		return false;
	for (int i = 15; i >= 0; i--) {
		static const char hex[] = "0123456789abcdef";
		out[o++] = hex[b[i] & 15];
		out[o++] = '.';
		out[o++] = hex[b[i] >> 4];
		out[o++] = '.';
	}
	memcpy(out + o, z->name, strlen(z->name) + 1);
	return true;
}

const char *
dnsbl_decode(const struct dnsbl_zone *z, const char *answer, enum dnsbl_verdict *verdict)
{
	struct in_addr a;
	uint32_t v;

	if (inet_pton(AF_INET, answer, &a) != 1) {
		*verdict = DNSBL_NOT_A_CODE;
		return "error: not an IPv4 answer";
	}
	v = ntohl(a.s_addr);
	if (z->info != NULL)
		for (size_t i = 0; i < z->info->ncodes; i++)
			if (v >= z->info->codes[i].first && v <= z->info->codes[i].last) {
				*verdict = z->info->codes[i].verdict;
				return z->info->codes[i].meaning;
			}
	if ((v >> 24) != 127) {
		*verdict = DNSBL_NOT_A_CODE;
		return "error: answer outside 127.0.0.0/8 (a resolver rewriting NXDOMAIN?)";
	}
	*verdict = DNSBL_LISTED;
	return "listed";
}
