/* SPDX-License-Identifier: ISC */
/*
 * dns - asynchronous DNS lookups for enrichment over libevent's evdns: one cache entry per
 * (type, name), shared by every caller that asks while it is in flight or fresh.
 *
 * Owns: struct dns, its evdns_base (and so the resolver's UDP sockets), the cache entries and
 *       every struct dns_wait until its callback has run or it was cancelled.
 * Public: dns_new, dns_free, dns_query, dns_cancel, dns_stats, dns_status_name, dns_rng_stats;
 *         and evutil_secure_rng_get_bytes, which takes the place of libevent's (dns.c).
 *
 * Start-up: dns_new adds the nameservers, which creates and connect()s their UDP sockets at
 *   once; nothing later creates a socket, so dns_new must run before privileges are dropped
 *   or a sandbox forbids socket()/connect(). The only packets sent are queries to those
 *   nameservers (evdns also probes a nameserver it marked down with a query of its own).
 * Delivery: a callback never runs inside dns_query (a cache hit or a refusal is delivered
 *   from the event loop), and runs exactly once unless dns_cancel or dns_free came first.
 * Limits: every lookup ends by its deadline (timeout_ms) whatever the resolver does; at most
 *   max_inflight lookups are outstanding and at most rate per second are started (a token
 *   bucket with one second of burst) — beyond either, callers get DNS_RATE_LIMITED; the cache
 *   holds at most cache_max finished entries (least recently used first out) and keeps each
 *   for cache_ttl_ms (failures for at most NEG_TTL, refusals never). Answers keep at most
 *   DNS_MAX_ANSWERS records.
 */
#ifndef RT_DNS_H
#define RT_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_MAX_ANSWERS 8
#define DNS_MAX_RESOLVERS 4

struct event_base;
struct dns;
struct dns_wait;

enum dns_type { DNS_T_A, DNS_T_AAAA, DNS_T_PTR };

#define DNS_STATUSES(X)                                                                            \
	X(OK, "ok")             /* at least one record */                                          \
	X(NODATA, "nodata")     /* the name exists, no record of that type */                      \
	X(NXDOMAIN, "nxdomain") /* no such name */                                                 \
	X(TIMEOUT, "timeout")   /* no answer by the deadline */                                    \
	X(SERVFAIL, "servfail") /* the resolver said SERVFAIL */                                   \
	X(ERROR, "error")       /* refused, malformed, truncated, bad name, out of memory */       \
	X(RATE_LIMITED, "rate_limited")

enum dns_status {
#define X(e, n) DNS_##e,
	DNS_STATUSES(X)
#undef X
};

struct dns_conf {
	const char *resolvers; /* "system" (/etc/resolv.conf) or "IP[:PORT], [IPv6]:PORT, ..." */
	uint64_t timeout_ms;   /* deadline of one lookup */
	uint64_t cache_ttl_ms; /* how long an answer is reused; 0 = no cache */
	unsigned cache_max;    /* finished entries kept */
	unsigned rate;         /* lookups started per second */
	unsigned max_inflight; /* lookups outstanding */
};

/* one answer, valid only during the callback */
struct dns_answer {
	enum dns_status status;
	unsigned n;              /* records in data (status OK) */
	const char *const *data; /* A/AAAA: addresses as text; PTR: names without the dot */
	uint64_t lookup_real_us; /* wall-clock time the answer was obtained */
	bool cached;             /* from an entry that was complete before this query */
};

typedef void (*dns_cb)(void *arg, const struct dns_answer *a);

struct dns_stats {
	uint64_t queries;      /* dns_query calls */
	uint64_t sent;         /* lookups handed to the resolver */
	uint64_t hits;         /* answered from a complete entry */
	uint64_t joined;       /* joined a lookup in flight */
	uint64_t rate_limited; /* refused by the rate or the in-flight cap */
	uint64_t timeouts;     /* lookups that hit the deadline */
	size_t entries;        /* cache entries (complete and in flight) */
	size_t inflight;       /* lookups outstanding */
};

/* dns_new - the resolver set up on base: nameserver sockets are created here; NULL and err
 * when the configuration is unusable (no nameserver, bad address) */
struct dns *dns_new(struct event_base *base, const struct dns_conf *conf, char *err, size_t errlen);
/* dns_free - cancel every lookup (no callback runs afterwards) and close the sockets; runs
 * the loop briefly so that evdns can hand back what it still holds. NULL is a no-op. */
void dns_free(struct dns *d);
/* dns_query - look up name (PTR: an IPv4/IPv6 address as text) and call cb(arg, answer)
 * later (a name that cannot be asked is answered DNS_ERROR); returns a handle for
 * dns_cancel, or NULL when out of memory (then cb will not be called) */
struct dns_wait *dns_query(struct dns *d, enum dns_type type, const char *name, dns_cb cb,
                           void *arg);
/* dns_cancel - the callback of w will not run; w is freed. The lookup itself goes on for
 * the cache and for other callers. */
void dns_cancel(struct dns_wait *w);
void dns_stats(const struct dns *d, struct dns_stats *st);
const char *dns_status_name(enum dns_status s);
/* dns_rng_stats - this thread's draws of random bytes by evdns (transaction ids, 0x20 bits)
 * and the arc4random_buf calls that served them */
void dns_rng_stats(uint64_t *draws, uint64_t *fills);

#endif
