/* SPDX-License-Identifier: ISC */
/*
 * dnsbl - DNS blocklist zones as data: which zones to ask, how to name the query for an
 * address (RFC 5782 §2.1 reversed octets, §2.4 reversed nibbles for IPv6), and what each
 * return code means.
 *
 * Owns: struct dnsbl_list (the configured zones, each pointing at its row of the built-in
 *       table of known zones or at the generic meaning).
 * Public: dnsbl_parse, dnsbl_query_name, dnsbl_decode, dnsbl_known_zone, DNSBL_DEFAULT_ZONES.
 * Limits: at most DNSBL_MAX_ZONES zones, each a host name of at most DNSBL_ZONE_MAX bytes, so
 *         that a query name (72 bytes of nibbles and dots for IPv6) stays within 253.
 */
#ifndef RT_DNSBL_H
#define RT_DNSBL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNSBL_MAX_ZONES 16
#define DNSBL_ZONE_MAX 180
#define DNSBL_NAME_MAX 256 /* buffer for a query name */

/* the default set (config dnsbl_zones): widely used, free for low-volume non-commercial use */
#define DNSBL_DEFAULT_ZONES "zen.spamhaus.org, bl.spamcop.net, b.barracudacentral.org"

/* what one answer means */
enum dnsbl_verdict {
	DNSBL_LISTED,     /* a listing code */
	DNSBL_REFUSED,    /* the list refused to answer (e.g. Spamhaus 127.255.255.254: asked
	                   * through a public resolver) — an error, not a listing */
	DNSBL_NOT_A_CODE, /* outside 127.0.0.0/8: a broken or NXDOMAIN-rewriting resolver */
};

struct dnsbl_code {
	uint32_t first, last; /* host-order range of answers, e.g. 127.0.0.4-127.0.0.7 */
	enum dnsbl_verdict verdict;
	const char *meaning;
};

struct dnsbl_zone_info {
	const char *zone; /* the public zone name; also matched as a suffix (keyed mirrors) */
	bool ipv6;        /* the zone lists IPv6 addresses */
	const struct dnsbl_code *codes;
	size_t ncodes;
};

struct dnsbl_zone {
	char name[DNSBL_ZONE_MAX + 1];
	const struct dnsbl_zone_info *info; /* NULL: a zone we know nothing about */
};

struct dnsbl_list {
	struct dnsbl_zone zones[DNSBL_MAX_ZONES];
	size_t n;
};

/* dnsbl_parse - "zone, zone, ..." or "none" (no zone) into list; 0, or -1 with the reason
 * (naming the bad zone) in err */
int dnsbl_parse(const char *spec, struct dnsbl_list *list, char *err, size_t errlen);
/* dnsbl_query_name - the name to ask zone about the address ip (text; IPv4-mapped IPv6 counts
 * as IPv4); false when the zone does not list that family or ip is not an address */
bool dnsbl_query_name(const struct dnsbl_zone *z, const char *ip, char *out, size_t outlen);
/* dnsbl_decode - the meaning of answer (an IPv4 address as text) from zone z; *verdict says
 * whether it is a listing; the string is static */
const char *dnsbl_decode(const struct dnsbl_zone *z, const char *answer,
                         enum dnsbl_verdict *verdict);
/* dnsbl_known_zone - the table row for a zone name (exact or a suffix after a '.'), or NULL */
const struct dnsbl_zone_info *dnsbl_known_zone(const char *zone);

#endif
