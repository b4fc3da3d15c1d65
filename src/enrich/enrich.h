/* SPDX-License-Identifier: ISC */
/*
 * enrich - what relaytrap learns about a session's source while the session runs: geo and
 * OS at once (cheap, local), reverse DNS and DNSBL listings from the connect on, the
 * HELO/EHLO name's DNS from the greeting on (asynchronous, src/enrich/dns.h). Every kind is a
 * part of the session's one `relaytrap.enrich` event of kind "session", recorded at once
 * without DNS, else when the last DNS kind is done and the HELO name has been checked or the
 * session ended without one (docs/events.md). A client whose X-Mailer contradicts its TCP/IP
 * stack gets an `os_mismatch` signal.
 *
 * Owns: struct enrich (the resolver, the DNSBL zone list, every pending job) and each
 *       struct enrich_sess (refcounted: the session holds one reference, each pending
 *       lookup job another).
 * Public: enrich_new, enrich_free, enrich_session_new, enrich_session_set_os,
 *         enrich_session_end, enrich_helo, enrich_message, enrich_dns_stats, enrich_os_claim.
 * Lifetime: a job outlives its session — a lookup that finishes after the session closed
 *   is still recorded (its event comes after `relaytrap.session.closed`); enrich_free
 *   (shutdown) records each waiting session's event with the parts it has and drops the
 *   lookups still pending.
 * Limits: at most enrich_max_pending jobs at once (beyond: recorded at once as
 *   rate_limited); one part per DNS kind per session (the first HELO/EHLO name is checked);
 *   everything else is bounded in dns.h. No reply to a client ever waits for a lookup.
 */
#ifndef RT_ENRICH_H
#define RT_ENRICH_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct capture;
struct config;
struct jw;
struct dns_stats;
struct p0f_db;
struct geo;
struct enrich;
struct enrich_sess;

/* enrich_new - set up enrichment from cfg (which must outlive it): with enrich_dns on,
 * the resolver's sockets are created here, so call it before dropping privileges. p0f (may
 * be NULL: no os parts) is the caller's signature database and must outlive it. Returns
 * NULL with err when a configured part cannot start. cap may be NULL (nothing recorded).
 * geo (may be NULL: no geo parts) is the caller's open GeoIP set, likewise. */
struct enrich *enrich_new(struct event_base *base, struct capture *cap, const struct config *cfg,
                          const struct p0f_db *p0f, const struct geo *geo, char *err,
                          size_t errlen);
/* enrich_free - shutdown: pending lookups are dropped unrecorded; NULL is a no-op. Must be
 * called outside the event loop's dispatch, after every enrich_session_end, and with no
 * other event left on the base that touches freed state: it runs the loop briefly so that
 * evdns hands back the requests it holds (see dns_free). */
void enrich_free(struct enrich *e);

/* enrich_session_new - a session's source is final (after any PROXY header): record geo
 * and os (from syn, the client's saved SYN of syn_len bytes; NULL when there is none or it
 * is a proxy's), start rDNS and DNSBL. prefix is the session's common event fields (copied).
 * Returns the session's handle (NULL when e is NULL or out of memory; every call below
 * accepts NULL). */
struct enrich_sess *enrich_session_new(struct enrich *e, const struct jw *prefix,
                                       const char *src_ip, const unsigned char *syn,
                                       size_t syn_len);
/* enrich_session_set_os - what the SYN fingerprint says (for os_mismatch; set by
 * enrich_session_new from the SYN, callable for tests); strings copied */
void enrich_session_set_os(struct enrich_sess *s, const char *os_class, const char *os_name);
/* enrich_helo - the client's first HELO/EHLO name (bytes): start the HELO DNS check */
void enrich_helo(struct enrich_sess *s, const char *name, size_t len);
/* enrich_message - a message's X-Mailer (bytes, may be empty): check it against the OS */
void enrich_message(struct enrich_sess *s, const char *x_mailer, size_t len);
/* enrich_session_end - the session is gone; its pending lookups still complete */
void enrich_session_end(struct enrich_sess *s);

/* enrich_dns_stats - the resolver's counters; false when DNS enrichment is off */
bool enrich_dns_stats(const struct enrich *e, struct dns_stats *st);

/* enrich_os_claim - the OS family a mail client name implies ("Windows", "Mac OS"), or NULL
 * when it implies none (bytes, any length) */
const char *enrich_os_claim(const char *x_mailer, size_t len);

#endif
