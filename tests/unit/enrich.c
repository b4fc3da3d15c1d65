/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for enrich/dns, enrich/dnsbl and enrich/enrich against a real DNS server: an
 * in-process evdns_server on a UDP socket on 127.0.0.1 that the test starts, with test zones
 * (listed, not listed, several lists, an address that never gets an answer, SERVFAIL),
 * counting the queries that reach it. Covers the cache, deduplication, the rate limit, a dead
 * resolver, the deadline, cancellation, the per-session events as written to capture, events
 * after a session ended, shutdown with lookups pending, and os_mismatch.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/dns_struct.h>
#include <event2/event.h>
#include <event2/util.h>
#include <jansson.h>

#include "capture/emit.h"
#include "core/config.h"
#include "core/str.h"
#include "core/util.h"
#include "enrich/dns.h"
#include "enrich/dnsbl.h"
#include "enrich/enrich.h"
#include "enrich/p0f.h"

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			print_error(__VA_ARGS__);                                                  \
			print_error("\n");                                                         \
			fail();                                                                    \
		}                                                                                  \
	} while (0)

#define MAX_EVENTS 64
#define MAX_NAMES 64

/* ------------------------------------------------------------------ the test DNS server */

struct hit {
	char name[256];
	int type;
	unsigned n;
};

struct fx {
	struct event_base *base;
	struct evdns_server_port *port;
	int fd;
	int srv_port;
	int dead_fd; /* a bound UDP socket nobody reads: a resolver that never answers */
	int dead_port;
	struct hit hits[MAX_NAMES];
	size_t nhits;
	json_t *events[MAX_EVENTS];
	size_t nevents;
	struct capture *cap;
	struct config cfg;
};

static void
count_hit(struct fx *f, const char *name, int type)
{
	for (size_t i = 0; i < f->nhits; i++)
		if (f->hits[i].type == type && strcasecmp(f->hits[i].name, name) == 0) {
			f->hits[i].n++;
			return;
		}
	if (f->nhits < MAX_NAMES) {
		strlcpy(f->hits[f->nhits].name, name, sizeof(f->hits[0].name));
		f->hits[f->nhits].type = type;
		f->hits[f->nhits++].n = 1;
	}
}

/* hits - how many queries for (type, name) reached the server */
static unsigned
hits(const struct fx *f, int type, const char *name)
{
	for (size_t i = 0; i < f->nhits; i++)
		if (f->hits[i].type == type && strcasecmp(f->hits[i].name, name) == 0)
			return f->hits[i].n;
	return 0;
}

static void
add_a(struct evdns_server_request *req, const char *name, const char *a1, const char *a2)
{
	uint32_t a[2];
	int n = 0;

	inet_pton(AF_INET, a1, &a[n++]);
	if (a2)
		inet_pton(AF_INET, a2, &a[n++]);
	evdns_server_request_add_a_reply(req, name, n, a, 60);
}

/* ends - name ends with suffix, case-insensitively (evdns randomises the case) */
static bool
is(const char *name, const char *want)
{
	return strcasecmp(name, want) == 0;
}

static bool
ends(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);
	return n >= s && strcasecmp(name + n - s, suffix) == 0;
}

/*
 * The test zones:
 *   192.0.2.1   PTR host1.example.net (A 192.0.2.1: FCrDNS holds); ZEN 127.0.0.4 + 127.0.0.10,
 *               SpamCop 127.0.0.2
 *   192.0.2.2   PTR host2.example.net (A 198.51.100.9: FCrDNS fails); listed nowhere
 *   192.0.2.3   no PTR; ZEN answers the Spamhaus "public resolver" error 127.255.255.254
 *   *.slow.example and slow.example.org: never answered; *.fail.example: SERVFAIL
 *   mail.example.org A 192.0.2.1, no AAAA; host1.example.net A 192.0.2.1
 *   2001:db8::1 PTR v6.example.net; ZEN lists it (nibbles) as 127.0.0.3
 */
static void
server_cb(struct evdns_server_request *req, void *arg)
{
	struct fx *f = arg;
	const char *name;
	int type, err = DNS_ERR_NOTEXIST;

	if (req->nquestions != 1) {
		evdns_server_request_respond(req, DNS_ERR_FORMAT);
		return;
	}
	name = req->questions[0]->name;
	type = req->questions[0]->type;
	count_hit(f, name, type);
	if (ends(name, "slow.example") || is(name, "slow.example.org")) {
		evdns_server_request_drop(req);
		return;
	}
	if (ends(name, "fail.example")) {
		evdns_server_request_respond(req, DNS_ERR_SERVERFAILED);
		return;
	}
	if (type == EVDNS_TYPE_PTR) {
		const char *host = NULL;
		if (is(name, "1.2.0.192.in-addr.arpa"))
			host = "host1.example.net";
		else if (is(name, "2.2.0.192.in-addr.arpa"))
			host = "host2.example.net";
		else if (is(name, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
		                  "ip6.arpa"))
			host = "v6.example.net";
		if (host) {
			evdns_server_request_add_ptr_reply(req, NULL, name, host, 60);
			err = 0;
		}
	} else if (type == EVDNS_TYPE_A) {
		err = 0;
		if (is(name, "1.2.0.192.zen.spamhaus.org"))
			add_a(req, name, "127.0.0.4", "127.0.0.10");
		else if (is(name, "1.2.0.192.bl.spamcop.net"))
			add_a(req, name, "127.0.0.2", NULL);
		else if (is(name, "3.2.0.192.zen.spamhaus.org"))
			add_a(req, name, "127.255.255.254", NULL);
		else if (ends(name, "8.b.d.0.1.0.0.2.zen.spamhaus.org"))
			add_a(req, name, "127.0.0.3", NULL);
		else if (is(name, "host1.example.net") || is(name, "mail.example.org"))
			add_a(req, name, "192.0.2.1", NULL);
		else if (is(name, "host2.example.net"))
			add_a(req, name, "198.51.100.9", NULL);
		else
			err = DNS_ERR_NOTEXIST;
	} else if (type == EVDNS_TYPE_AAAA) {
		/* the names exist, without IPv6 addresses: NOERROR, no answer */
		if (is(name, "mail.example.org") || is(name, "host1.example.net"))
			err = 0;
	}
	evdns_server_request_respond(req, err);
}

static int
udp_socket(int *port)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(fd, (struct sockaddr *)&sin, &sl);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void
sink(void *arg, enum frame_type type, const void *payload, size_t len)
{
	struct fx *f = arg;
	json_error_t je;

	if (type != FRAME_EVENT || f->nevents >= MAX_EVENTS)
		return;
	f->events[f->nevents] = json_loadb(payload, len, 0, &je);
	CHECK(f->events[f->nevents] != NULL, "bad event JSON (%s): %.*s", je.text, (int)len,
	      (const char *)payload);
	f->nevents++;
}

static int
fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char v[64], err[256];

	f->base = event_base_new();
	f->fd = udp_socket(&f->srv_port);
	evutil_make_socket_nonblocking(f->fd);
	f->port = evdns_add_server_port_with_base(f->base, f->fd, 0, server_cb, f);
	f->dead_fd = udp_socket(&f->dead_port);
	f->cap = capture_new("test", sink, f);
	config_defaults(&f->cfg);
	snprintf(v, sizeof(v), "127.0.0.1:%d", f->srv_port);
	assert_int_equal(config_set(&f->cfg, "resolver", v, err, sizeof(err)), 0);
	assert_int_equal(config_set(&f->cfg, "enrich_dns", "yes", err, sizeof(err)), 0);
	assert_int_equal(config_set(&f->cfg, "dns_timeout", "400ms", err, sizeof(err)), 0);
	assert_int_equal(config_set(&f->cfg, "dnsbl_zones",
	                            "zen.spamhaus.org, bl.spamcop.net, slow.example, fail.example",
	                            err, sizeof(err)),
	                 0);
	*state = f;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *f = *state;

	for (size_t i = 0; i < f->nevents; i++)
		json_decref(f->events[i]);
	capture_free(f->cap);
	evdns_close_server_port(f->port);
	close(f->fd);
	close(f->dead_fd);
	event_base_free(f->base);
	config_free(&f->cfg);
	free(f);
	return 0;
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
}

/* run_until - run the loop until *flag reaches want or ms pass */
static void
run_until(struct fx *f, const size_t *counter, size_t want, int ms)
{
	struct timeval tv = {0, 5000};
	struct event *t = event_new(f->base, -1, EV_PERSIST, tick, NULL);
	uint64_t end = now_mono_us() + (uint64_t)ms * 1000u;

	event_add(t, &tv);
	while (*counter < want && now_mono_us() < end)
		event_base_loop(f->base, EVLOOP_ONCE);
	event_free(t);
}

/* run_for - run the loop for ms */
static void
run_for(struct fx *f, int ms)
{
	size_t never = 0;
	run_until(f, &never, 1, ms);
}

/* ------------------------------------------------------------------ dns layer */

struct got {
	size_t n;
	enum dns_status st[8];
	unsigned cnt[8];
	char first[8][64];
	bool cached[8];
	uint64_t real_us[8];
};

static void
got_cb(void *arg, const struct dns_answer *a)
{
	struct got *g = arg;
	size_t i = g->n < 8 ? g->n : 7;

	g->st[i] = a->status;
	g->cnt[i] = a->n;
	g->cached[i] = a->cached;
	g->real_us[i] = a->lookup_real_us;
	strlcpy(g->first[i], a->n > 0 ? a->data[0] : "", sizeof(g->first[i]));
	g->n++;
}

static struct dns *
mkdns(struct fx *f, const char *resolver, unsigned rate, uint64_t ttl_ms)
{
	struct dns_conf dc = {resolver, 400, ttl_ms, 1000, rate, 64};
	char err[256] = "";
	struct dns *d = dns_new(f->base, &dc, err, sizeof(err));

	CHECK(d != NULL, "dns_new: %s", err);
	return d;
}

/* test_dns_answers - each kind of answer is mapped, nothing is delivered synchronously */
static void
test_dns_answers(void **state)
{
	struct fx *f = *state;
	char res[64];
	struct got g[6];
	struct dns *d;

	memset(g, 0, sizeof(g));
	snprintf(res, sizeof(res), "127.0.0.1:%d", f->srv_port);
	d = mkdns(f, res, 1000, 60000);
	dns_query(d, DNS_T_A, "1.2.0.192.zen.spamhaus.org", got_cb, &g[0]);
	dns_query(d, DNS_T_A, "nothing.example.org", got_cb, &g[1]);
	dns_query(d, DNS_T_A, "x.fail.example", got_cb, &g[2]);
	dns_query(d, DNS_T_A, "x.slow.example", got_cb, &g[3]);
	dns_query(d, DNS_T_PTR, "192.0.2.1", got_cb, &g[4]);
	dns_query(d, DNS_T_AAAA, "mail.example.org", got_cb, &g[5]);
	for (int i = 0; i < 6; i++)
		CHECK(g[i].n == 0, "query %d answered inside dns_query", i);
	size_t done = 0;
	uint64_t t0 = now_mono_us();
	while (done < 6 && now_mono_us() - t0 < 3000000) {
		run_for(f, 20);
		done = 0;
		for (int i = 0; i < 6; i++)
			done += g[i].n;
	}
	assert_int_equal(done, 6);
	CHECK(g[0].st[0] == DNS_OK && g[0].cnt[0] == 2, "listed: got %s/%u, want ok/2",
	      dns_status_name(g[0].st[0]), g[0].cnt[0]);
	CHECK(g[1].st[0] == DNS_NXDOMAIN, "unknown: got %s, want nxdomain",
	      dns_status_name(g[1].st[0]));
	CHECK(g[2].st[0] == DNS_SERVFAIL, "fail: got %s", dns_status_name(g[2].st[0]));
	CHECK(g[3].st[0] == DNS_TIMEOUT, "slow: got %s", dns_status_name(g[3].st[0]));
	CHECK(g[4].st[0] == DNS_OK && strcmp(g[4].first[0], "host1.example.net") == 0,
	      "ptr: got %s '%s'", dns_status_name(g[4].st[0]), g[4].first[0]);
	CHECK(g[5].st[0] == DNS_NODATA, "aaaa: got %s, want nodata", dns_status_name(g[5].st[0]));
	dns_free(d);
}

/* test_dns_rng - evdns draws its transaction ids and 0x20 bits through relaytrap's
 * evutil_secure_rng_get_bytes (served from a block, not a getrandom per draw), and a forked
 * child does not hand out the bytes its parent will */
static void
test_dns_rng(void **state)
{
	struct fx *f = *state;
	unsigned char a[16], b[16], c[16];
	uint64_t d0, f0, d1, f1;
	char res[64], name[64];
	struct got g[100];
	struct dns *d;
	size_t done = 0, i;
	int fds[2];
	pid_t pid;

	memset(g, 0, sizeof(g));
	snprintf(res, sizeof(res), "127.0.0.1:%d", f->srv_port);
	d = mkdns(f, res, 100000, 60000);
	dns_rng_stats(&d0, &f0);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "rng%zu.nothing.example.org", i);
		dns_query(d, DNS_T_A, name, got_cb, &g[i]);
	}
	for (uint64_t t0 = now_mono_us(); done < 100 && now_mono_us() - t0 < 3000000;) {
		run_for(f, 20);
		for (done = 0, i = 0; i < 100; i++)
			done += g[i].n;
	}
	assert_int_equal(done, 100);
	dns_rng_stats(&d1, &f1);
	CHECK(d1 - d0 >= 100, "evdns drew %llu times for 100 queries: not through relaytrap's",
	      (unsigned long long)(d1 - d0));
	CHECK(f1 - f0 <= (d1 - d0) / 10, "%llu fills for %llu draws", (unsigned long long)(f1 - f0),
	      (unsigned long long)(d1 - d0));
	dns_free(d);

	evutil_secure_rng_get_bytes(a, sizeof(a));
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		evutil_secure_rng_get_bytes(b, sizeof(b));
		_exit(write(fds[1], b, sizeof(b)) == (ssize_t)sizeof(b) ? 0 : 1);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], b, sizeof(b)), sizeof(b));
	close(fds[0]);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	evutil_secure_rng_get_bytes(c, sizeof(c));
	CHECK(memcmp(b, c, sizeof(b)) != 0, "the child drew the bytes its parent drew next");
	CHECK(memcmp(a, c, sizeof(a)) != 0, "the same bytes twice");
}

/* test_dns_cache_dedupe - concurrent asks share one query; a later ask is a cache hit with
 * the original lookup time; with a TTL of 0 nothing is kept */
static void
test_dns_cache_dedupe(void **state)
{
	struct fx *f = *state;
	char res[64];
	struct got g;
	struct dns *d;
	struct dns_stats st;

	memset(&g, 0, sizeof(g));
	snprintf(res, sizeof(res), "127.0.0.1:%d", f->srv_port);
	d = mkdns(f, res, 1000, 60000);
	dns_query(d, DNS_T_PTR, "192.0.2.2", got_cb, &g);
	dns_query(d, DNS_T_PTR, "::ffff:192.0.2.2", got_cb, &g); /* the same address */
	dns_query(d, DNS_T_PTR, "192.0.2.2", got_cb, &g);
	run_until(f, &g.n, 3, 2000);
	assert_int_equal(g.n, 3);
	CHECK(hits(f, EVDNS_TYPE_PTR, "2.2.0.192.in-addr.arpa") == 1,
	      "concurrent: got %u queries at the server, want 1",
	      hits(f, EVDNS_TYPE_PTR, "2.2.0.192.in-addr.arpa"));
	assert_false(g.cached[0] || g.cached[1] || g.cached[2]);
	dns_query(d, DNS_T_PTR, "192.0.2.2", got_cb, &g);
	run_until(f, &g.n, 4, 2000);
	CHECK(g.cached[3], "second ask: want a cache hit");
	assert_true(g.real_us[3] == g.real_us[0]);
	assert_int_equal(hits(f, EVDNS_TYPE_PTR, "2.2.0.192.in-addr.arpa"), 1);
	dns_stats(d, &st);
	CHECK(st.sent == 1 && st.joined == 2 && st.hits == 1,
	      "stats: sent %llu joined %llu hits %llu", (unsigned long long)st.sent,
	      (unsigned long long)st.joined, (unsigned long long)st.hits);
	dns_free(d);

	/* no cache: every ask after the first lookup ended goes out again */
	d = mkdns(f, res, 1000, 0);
	memset(&g, 0, sizeof(g));
	dns_query(d, DNS_T_PTR, "192.0.2.2", got_cb, &g);
	run_until(f, &g.n, 1, 2000);
	dns_query(d, DNS_T_PTR, "192.0.2.2", got_cb, &g);
	run_until(f, &g.n, 2, 2000);
	assert_int_equal(hits(f, EVDNS_TYPE_PTR, "2.2.0.192.in-addr.arpa"), 3);
	assert_false(g.cached[1]);
	dns_free(d);
}

/* ask - one lookup of an A name, run to its answer; whether it came from the cache */
static bool
ask(struct fx *f, struct dns *d, const char *name)
{
	struct got g;

	memset(&g, 0, sizeof(g));
	dns_query(d, DNS_T_A, name, got_cb, &g);
	run_until(f, &g.n, 1, 2000);
	CHECK(g.n == 1, "%s: no answer", name);
	return g.cached[0];
}

/* test_dns_lru - the cache holds cache_max answers; a full cache drops the one used least
 * recently, and a hit on an old entry keeps it */
static void
test_dns_lru(void **state)
{
	struct fx *f = *state;
	char res[64], nm[12][32];
	struct dns_conf dc = {res, 400, 60000, 8, 1000, 64};
	char err[256] = "";
	struct dns *d;
	int i;

	snprintf(res, sizeof(res), "127.0.0.1:%d", f->srv_port);
	d = dns_new(f->base, &dc, err, sizeof(err));
	CHECK(d != NULL, "dns_new: %s", err);
	for (i = 0; i < 12; i++)
		snprintf(nm[i], sizeof(nm[i]), "n%d.example.org", i);
	for (i = 0; i < 8; i++)
		assert_false(ask(f, d, nm[i]));
	CHECK(ask(f, d, nm[0]), "n0: want a hit while the cache is not over its size");
	assert_false(ask(f, d, nm[8])); /* the 9th: n1, least recently used, goes */
	CHECK(!ask(f, d, nm[1]), "n1: want it dropped when the 9th answer came"); /* n2 goes */
	CHECK(!ask(f, d, nm[2]), "n2: want it dropped when n1 came back");
	CHECK(ask(f, d, nm[0]), "n0 was used after n1 and n2 were asked: want it kept");
	CHECK(ask(f, d, nm[4]) && ask(f, d, nm[7]), "n4, n7: want them kept");
	CHECK(hits(f, EVDNS_TYPE_A, nm[1]) == 2 && hits(f, EVDNS_TYPE_A, nm[0]) == 1,
	      "server saw n1 %u times (want 2), n0 %u (want 1)", hits(f, EVDNS_TYPE_A, nm[1]),
	      hits(f, EVDNS_TYPE_A, nm[0]));
	dns_free(d);
}

/* test_dns_rate_cancel - beyond the rate: rate_limited, delivered from the loop; a
 * cancelled wait is never called; a bad name is an error, not a query */
static void
test_dns_rate_cancel(void **state)
{
	struct fx *f = *state;
	char res[64], name[64];
	struct got g, never;
	struct dns *d;
	struct dns_wait *w;
	int limited = 0, errors = 0, answered = 0;

	memset(&g, 0, sizeof(g));
	memset(&never, 0, sizeof(never));
	snprintf(res, sizeof(res), "127.0.0.1:%d", f->srv_port);
	d = mkdns(f, res, 3, 60000);
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "r%d.example.org", i);
		dns_query(d, DNS_T_A, name, got_cb, &g);
	}
	w = dns_query(d, DNS_T_A, "host1.example.net", got_cb, &never);
	dns_cancel(w);
	dns_query(d, DNS_T_A, "bad name!.example", got_cb, &g);
	run_until(f, &g.n, 6, 2000);
	assert_int_equal(g.n, 6);
	/* refusals are delivered first (from the loop), answers when they come */
	for (int i = 0; i < 6; i++) {
		limited += g.st[i] == DNS_RATE_LIMITED;
		errors += g.st[i] == DNS_ERROR;
		answered += g.st[i] == DNS_NXDOMAIN;
	}
	CHECK(limited == 2 && errors == 1 && answered == 3,
	      "rate 3/s, 5 asks and a bad name: got %d rate_limited, %d errors, %d nxdomain; "
	      "want 2, 1, 3",
	      limited, errors, answered);
	run_for(f, 50);
	assert_int_equal(never.n, 0);
	dns_free(d);
}

/* test_dns_dead_resolver - a resolver that never answers: every lookup ends by the deadline */
static void
test_dns_dead_resolver(void **state)
{
	struct fx *f = *state;
	char res[64];
	struct got g;
	struct dns *d;
	uint64_t t0;

	memset(&g, 0, sizeof(g));
	snprintf(res, sizeof(res), "127.0.0.1:%d", f->dead_port);
	d = mkdns(f, res, 1000, 60000);
	t0 = now_mono_us();
	dns_query(d, DNS_T_PTR, "192.0.2.1", got_cb, &g);
	dns_query(d, DNS_T_A, "host1.example.net", got_cb, &g);
	run_until(f, &g.n, 2, 3000);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.st[0], DNS_TIMEOUT);
	assert_int_equal(g.st[1], DNS_TIMEOUT);
	print_message("dead resolver: both lookups ended after %llu ms (deadline 400 ms)\n",
	              (unsigned long long)((now_mono_us() - t0) / 1000));
	/* the failure is reused for a while instead of asking again */
	dns_query(d, DNS_T_PTR, "192.0.2.1", got_cb, &g);
	run_until(f, &g.n, 3, 1000);
	assert_true(g.cached[2] && g.st[2] == DNS_TIMEOUT);
	/* new names: their requests and deadline timers are the spare ones the first two gave
	 * back; each timer is armed again for its own entry, so both end by the deadline once
	 * more, and not at once */
	t0 = now_mono_us();
	dns_query(d, DNS_T_A, "host2.example.net", got_cb, &g);
	dns_query(d, DNS_T_PTR, "192.0.2.2", got_cb, &g);
	run_until(f, &g.n, 5, 3000);
	assert_int_equal(g.n, 5);
	/* a timer never fires early: a spare one armed for less, or left pending, would */
	CHECK(now_mono_us() - t0 >= 300000, "second round ended after %llu ms (deadline 400 ms)",
	      (unsigned long long)((now_mono_us() - t0) / 1000));
	assert_true(!g.cached[3] && g.st[3] == DNS_TIMEOUT);
	assert_true(!g.cached[4] && g.st[4] == DNS_TIMEOUT);
	dns_free(d);

	/* a closed port: the kernel answers ICMP port unreachable; still ends in time */
	close(f->dead_fd);
	f->dead_fd = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&g, 0, sizeof(g));
	d = mkdns(f, res, 1000, 60000);
	dns_query(d, DNS_T_A, "host1.example.net", got_cb, &g);
	run_until(f, &g.n, 1, 3000);
	assert_int_equal(g.n, 1);
	CHECK(g.st[0] == DNS_TIMEOUT || g.st[0] == DNS_ERROR, "closed port: got %s",
	      dns_status_name(g.st[0]));
	dns_free(d);
}

/* test_dns_free_pending - freeing with lookups in flight calls nobody and leaks nothing */
static void
test_dns_free_pending(void **state)
{
	struct fx *f = *state;
	char res[64];
	struct got g;
	struct dns *d;

	memset(&g, 0, sizeof(g));
	snprintf(res, sizeof(res), "127.0.0.1:%d", f->srv_port);
	d = mkdns(f, res, 1000, 60000);
	dns_query(d, DNS_T_A, "a.slow.example", got_cb, &g);
	dns_query(d, DNS_T_A, "host1.example.net", got_cb, &g);
	dns_free(d);
	run_for(f, 50);
	assert_int_equal(g.n, 0);
}

/* ------------------------------------------------------------------ dnsbl */

static void
test_dnsbl_names_codes(void **state)
{
	struct dnsbl_list l;
	char err[256], q[DNSBL_NAME_MAX];
	enum dnsbl_verdict v;
	const char *m;

	(void)state;
	assert_int_equal(dnsbl_parse(DNSBL_DEFAULT_ZONES, &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(dnsbl_parse("none", &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(
	    dnsbl_parse("ZEN.spamhaus.org,zen.spamhaus.org my.list.example", &l, err, sizeof(err)),
	    0);
	assert_int_equal(l.n, 2);
	assert_non_null(l.zones[0].info);
	assert_null(l.zones[1].info);
	assert_true(dnsbl_query_name(&l.zones[0], "192.0.2.99", q, sizeof(q)));
	assert_string_equal(q, "99.2.0.192.zen.spamhaus.org");
	assert_true(dnsbl_query_name(&l.zones[0], "::ffff:10.1.2.3", q, sizeof(q)));
	assert_string_equal(q, "3.2.1.10.zen.spamhaus.org");
	assert_true(dnsbl_query_name(&l.zones[0], "0.10.100.255", q, sizeof(q)));
	assert_string_equal(q, "255.100.10.0.zen.spamhaus.org");
	assert_false(dnsbl_query_name(&l.zones[0], "0.10.100.255", q, 20)); /* does not fit */
	assert_true(dnsbl_query_name(&l.zones[0], "2001:db8::1", q, sizeof(q)));
	assert_string_equal(q, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
	                       "zen.spamhaus.org");
	assert_false(dnsbl_query_name(&l.zones[0], "not-an-ip", q, sizeof(q)));

	/* ZEN's sub-lists, its error codes, and a zone nobody described */
	static const struct {
		const char *code, *want;
		enum dnsbl_verdict v;
	} zen[] = {
	    {"127.0.0.2", "SBL:", DNSBL_LISTED},
	    {"127.0.0.3", "SBL CSS", DNSBL_LISTED},
	    {"127.0.0.4", "XBL", DNSBL_LISTED},
	    {"127.0.0.7", "XBL", DNSBL_LISTED},
	    {"127.0.0.9", "DROP", DNSBL_LISTED},
	    {"127.0.0.10", "PBL: end-user range, listed by its ISP", DNSBL_LISTED},
	    {"127.0.0.11", "listed by Spamhaus", DNSBL_LISTED},
	    {"127.255.255.254", "public or open resolver", DNSBL_REFUSED},
	    {"127.255.255.255", "excessive", DNSBL_REFUSED},
	    {"10.0.0.1", "outside 127.0.0.0/8", DNSBL_NOT_A_CODE},
	};
	for (size_t i = 0; i < sizeof(zen) / sizeof(zen[0]); i++) {
		m = dnsbl_decode(&l.zones[0], zen[i].code, &v);
		CHECK(strstr(m, zen[i].want) != NULL && v == zen[i].v,
		      "zen %s: got '%s' (%d), want '%s' (%d)", zen[i].code, m, v, zen[i].want,
		      zen[i].v);
	}
	m = dnsbl_decode(&l.zones[1], "127.0.0.5", &v);
	assert_string_equal(m, "listed");
	assert_int_equal(v, DNSBL_LISTED);
	/* keyed mirrors share the public zone's meanings; IPv4-only lists skip IPv6 */
	assert_non_null(dnsbl_known_zone("abcdef123.zen.dq.spamhaus.net"));
	assert_int_equal(dnsbl_parse("bl.spamcop.net", &l, err, sizeof(err)), 0);
	assert_false(dnsbl_query_name(&l.zones[0], "2001:db8::1", q, sizeof(q)));
	assert_int_equal(dnsbl_parse("a.b, c..d", &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'c..d' has an empty label"));
}

/* ------------------------------------------------------------------ enrich */

/* find_ev - the enrich event of kind (or the signal) for session sid, or NULL */
static json_t *
find_ev(struct fx *f, const char *sid, const char *kind)
{
	for (size_t i = 0; i < f->nevents; i++) {
		json_t *e = f->events[i];
		const char *id = json_string_value(json_object_get(e, "eventid"));
		const char *s = json_string_value(json_object_get(e, "session"));
		const char *k = json_string_value(json_object_get(e, "kind"));
		if (s == NULL || strcmp(s, sid) != 0)
			continue;
		if (strcmp(id, "relaytrap.enrich") == 0 && k && strcmp(k, kind) == 0)
			return e;
		if (strcmp(id, "relaytrap.signal") == 0 && strcmp(kind, "signal") == 0)
			return e;
	}
	return NULL;
}

/* find - for session sid: a kind's part of its one enrich event (geo, os, rdns, dnsbl, helo),
 * else as find_ev */
static json_t *
find(struct fx *f, const char *sid, const char *kind)
{
	if (strcmp(kind, "rdns") == 0 || strcmp(kind, "dnsbl") == 0 || strcmp(kind, "helo") == 0 ||
	    strcmp(kind, "geo") == 0 || strcmp(kind, "os") == 0)
		return json_object_get(find_ev(f, sid, "session"), kind);
	return find_ev(f, sid, kind);
}

/* nevents_of - how many events session sid has */
static size_t
nevents_of(struct fx *f, const char *sid)
{
	size_t n = 0;

	for (size_t i = 0; i < f->nevents; i++) {
		const char *s = json_string_value(json_object_get(f->events[i], "session"));
		n += s != NULL && strcmp(s, sid) == 0;
	}
	return n;
}

static const char *
sget(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* mksess_syn - a session of sid from ip whose client sent syn (NULL: none) */
static struct enrich_sess *
mksess_syn(struct fx *f, struct enrich *e, const char *sid, const char *ip,
           const unsigned char *syn, size_t syn_len)
{
	struct jw p;
	struct enrich_sess *s;

	jw_init(&p);
	capture_prefix(f->cap, &p, sid, ip, 40000, "127.0.0.1", 25, "exchange2000", "smtp");
	s = enrich_session_new(e, &p, ip, syn, syn_len);
	jw_free(&p);
	return s;
}

static struct enrich_sess *
mksess(struct fx *f, struct enrich *e, const char *sid, const char *ip)
{
	return mksess_syn(f, e, sid, ip, NULL, 0);
}

/* zone - the lists[] entry for zone */
static json_t *
zone(json_t *ev, const char *z)
{
	json_t *lists = json_object_get(ev, "lists"), *it;
	size_t i;

	json_array_foreach(lists, i, it) if (strcmp(sget(it, "zone"), z) == 0) return it;
	return NULL;
}

/* test_enrich_session - listed on two lists, FCrDNS, HELO resolving to the source, a list
 * that times out and one that fails, all as relaytrap.enrich events of the session */
static void
test_enrich_session(void **state)
{
	struct fx *f = *state;
	char err[256] = "";
	struct enrich *e = enrich_new(f->base, f->cap, &f->cfg, NULL, NULL, err, sizeof(err));
	struct enrich_sess *s;
	json_t *ev, *z;

	CHECK(e != NULL, "enrich_new: %s", err);
	s = mksess(f, e, "00000000000000a1", "192.0.2.1");
	enrich_helo(s, "mail.example.org", 16);
	enrich_helo(s, "second.example.org", 18); /* only the first name is checked */
	CHECK(f->nevents == 0, "got %zu events before the loop ran, want 0", f->nevents);
	/* one event for the three kinds, once the last is done */
	run_until(f, &f->nevents, 1, 3000);
	run_for(f, 100);
	assert_int_equal(f->nevents, 1);
	ev = find_ev(f, "00000000000000a1", "session");
	assert_non_null(ev);
	assert_string_equal(sget(ev, "src_ip"), "192.0.2.1");
	assert_null(find_ev(f, "00000000000000a1", "rdns")); /* no event of its own */

	ev = find(f, "00000000000000a1", "rdns");
	assert_non_null(ev);
	assert_null(json_object_get(ev, "kind"));
	assert_string_equal(sget(ev, "status"), "ok");
	assert_string_equal(sget(ev, "ptr"), "host1.example.net");
	assert_true(json_is_true(json_object_get(ev, "fcrdns")));
	assert_true(json_is_integer(json_object_get(ev, "lookup_us")));
	assert_null(json_object_get(ev, "lookup_time"));

	ev = find(f, "00000000000000a1", "dnsbl");
	assert_non_null(ev);
	assert_int_equal(json_integer_value(json_object_get(ev, "listed")), 2);
	assert_true(json_is_false(json_object_get(ev, "cached")));
	z = zone(ev, "zen.spamhaus.org");
	assert_non_null(z);
	assert_string_equal(sget(z, "status"), "listed");
	assert_int_equal(json_array_size(json_object_get(z, "codes")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(z, "codes"), 0)),
	                    "127.0.0.4");
	assert_non_null(
	    strstr(json_string_value(json_array_get(json_object_get(z, "meanings"), 0)), "XBL"));
	assert_non_null(
	    strstr(json_string_value(json_array_get(json_object_get(z, "meanings"), 1)), "PBL"));
	assert_string_equal(sget(zone(ev, "bl.spamcop.net"), "status"), "listed");
	assert_string_equal(sget(zone(ev, "slow.example"), "status"), "timeout");
	assert_string_equal(sget(zone(ev, "fail.example"), "status"), "servfail");

	ev = find(f, "00000000000000a1", "helo");
	assert_non_null(ev);
	assert_string_equal(sget(ev, "name"), "mail.example.org");
	assert_string_equal(sget(ev, "status"), "ok");
	assert_true(json_is_true(json_object_get(ev, "resolves")));
	assert_true(json_is_true(json_object_get(ev, "matches_src")));
	/* the PTR is host1.example.net, not the HELO name */
	assert_true(json_is_false(json_object_get(ev, "fcrdns")));
	assert_string_equal(json_string_value(json_array_get(json_object_get(ev, "addrs"), 0)),
	                    "192.0.2.1");

	/* one PTR for the address although rdns and helo both needed it */
	assert_int_equal(hits(f, EVDNS_TYPE_PTR, "1.2.0.192.in-addr.arpa"), 1);
	enrich_session_end(s);
	enrich_free(e);
}

/* test_enrich_cached_closed - a second session from the same source is answered from the
 * cache (cached, lookup_time); lookups of a session that ended are still recorded */
static void
test_enrich_cached_closed(void **state)
{
	struct fx *f = *state;
	char err[256] = "";
	struct enrich *e = enrich_new(f->base, f->cap, &f->cfg, NULL, NULL, err, sizeof(err));
	struct enrich_sess *s1, *s2, *s3;
	json_t *ev;

	CHECK(e != NULL, "enrich_new: %s", err);
	s1 = mksess(f, e, "00000000000000b1", "192.0.2.2");
	enrich_session_end(s1); /* gone before any answer */
	run_until(f, &f->nevents, 1, 3000);
	run_for(f, 100);
	assert_int_equal(f->nevents, 1);
	ev = find(f, "00000000000000b1", "rdns");
	assert_non_null(ev);
	assert_string_equal(sget(ev, "ptr"), "host2.example.net");
	assert_true(json_is_false(json_object_get(ev, "fcrdns")));
	ev = find(f, "00000000000000b1", "dnsbl");
	assert_int_equal(json_integer_value(json_object_get(ev, "listed")), 0);
	assert_string_equal(sget(zone(ev, "zen.spamhaus.org"), "status"), "not_listed");
	assert_null(json_object_get(zone(ev, "zen.spamhaus.org"), "codes"));
	assert_null(find(f, "00000000000000b1", "helo")); /* it never sent a name */

	/* answered from the cache at once, but held for the HELO name that may come: the event
	 * is recorded when the session ends without one */
	s2 = mksess(f, e, "00000000000000b2", "192.0.2.2");
	run_for(f, 100);
	assert_int_equal(nevents_of(f, "00000000000000b2"), 0);
	enrich_session_end(s2);
	assert_int_equal(nevents_of(f, "00000000000000b2"), 1);
	ev = find(f, "00000000000000b2", "dnsbl");
	assert_non_null(ev);
	/* the zones that answered are cached; the one that timed out is a cached failure too */
	assert_true(json_is_true(json_object_get(ev, "cached")));
	assert_non_null(sget(ev, "lookup_time"));
	assert_non_null(sget(find(f, "00000000000000b2", "rdns"), "lookup_time"));
	assert_int_equal(hits(f, EVDNS_TYPE_A, "2.2.0.192.zen.spamhaus.org"), 1);

	/* an address with no PTR and a Spamhaus refusal code: error, not listed */
	s3 = mksess(f, e, "00000000000000b3", "192.0.2.3");
	enrich_helo(s3, "[192.0.2.3]", 11);
	enrich_helo(s3, "x", 1);
	run_until(f, &f->nevents, 3, 3000);
	run_for(f, 100);
	assert_int_equal(nevents_of(f, "00000000000000b3"), 1);
	assert_string_equal(sget(find(f, "00000000000000b3", "rdns"), "status"), "nxdomain");
	ev = find(f, "00000000000000b3", "dnsbl");
	assert_string_equal(sget(zone(ev, "zen.spamhaus.org"), "status"), "error");
	assert_int_equal(json_integer_value(json_object_get(ev, "listed")), 0);
	ev = find(f, "00000000000000b3", "helo");
	assert_string_equal(sget(ev, "status"), "skipped");
	assert_string_equal(sget(ev, "name"), "[192.0.2.3]");
	enrich_session_end(s3);
	assert_int_equal(f->nevents, 3); /* its event was recorded already */
	enrich_free(e);
}

/* test_enrich_v6_nxhelo - an IPv6 source: PTR via ip6.arpa, only IPv6-capable lists asked;
 * a HELO name that does not exist and one that never gets an answer */
static void
test_enrich_v6_nxhelo(void **state)
{
	struct fx *f = *state;
	char err[256] = "";
	struct enrich *e = enrich_new(f->base, f->cap, &f->cfg, NULL, NULL, err, sizeof(err));
	struct enrich_sess *s, *t, *u;
	json_t *ev;

	CHECK(e != NULL, "enrich_new: %s", err);
	s = mksess(f, e, "00000000000000c1", "2001:db8::1");
	enrich_helo(s, "nx.example.org", 14);
	t = mksess(f, e, "00000000000000c2", "192.0.2.2");
	enrich_helo(t, "slow.example.org.", 17);
	u = mksess(f, e, "00000000000000c3", "2001:db8::2");
	enrich_helo(u, "mail.example.org", 16);
	run_until(f, &f->nevents, 3, 3000);
	run_for(f, 100);
	assert_int_equal(f->nevents, 3);
	/* an IPv6 source asks AAAA first; the name has none (NODATA), so A is asked too */
	ev = find(f, "00000000000000c3", "helo");
	assert_string_equal(sget(ev, "status"), "ok");
	assert_true(json_is_true(json_object_get(ev, "resolves")));
	assert_true(json_is_false(json_object_get(ev, "matches_src")));
	assert_int_equal(hits(f, EVDNS_TYPE_AAAA, "mail.example.org"), 1);
	assert_int_equal(hits(f, EVDNS_TYPE_A, "mail.example.org"), 1);
	/* the IPv4 source's name did not exist: AAAA was never asked */
	assert_int_equal(hits(f, EVDNS_TYPE_AAAA, "slow.example.org"), 0);
	assert_int_equal(hits(f, EVDNS_TYPE_A, "nx.example.org"), 0);
	assert_int_equal(hits(f, EVDNS_TYPE_AAAA, "nx.example.org"), 1);
	ev = find(f, "00000000000000c1", "rdns");
	assert_string_equal(sget(ev, "ptr"), "v6.example.net");
	ev = find(f, "00000000000000c1", "dnsbl");
	assert_non_null(zone(ev, "zen.spamhaus.org"));
	assert_string_equal(sget(zone(ev, "zen.spamhaus.org"), "status"), "listed");
	assert_null(zone(ev, "bl.spamcop.net")); /* IPv4 only: not asked */
	ev = find(f, "00000000000000c1", "helo");
	assert_string_equal(sget(ev, "status"), "nxdomain");
	assert_true(json_is_false(json_object_get(ev, "resolves")));
	ev = find(f, "00000000000000c2", "helo");
	assert_string_equal(sget(ev, "status"), "timeout");
	assert_string_equal(sget(ev, "name"), "slow.example.org.");
	enrich_session_end(s);
	enrich_session_end(t);
	enrich_session_end(u);
	enrich_free(e);
}

/* test_enrich_limits - over enrich_max_pending: recorded at once as rate_limited; the DNS
 * rate limit shows per zone; shutdown drops pending jobs without an event */
static void
test_enrich_limits(void **state)
{
	struct fx *f = *state;
	char err[256] = "";
	struct enrich *e;
	struct enrich_sess *s1, *s2;
	json_t *ev;
	size_t n;

	assert_int_equal(config_set(&f->cfg, "enrich_max_pending", "2", err, sizeof(err)), 0);
	assert_int_equal(config_set(&f->cfg, "dns_rate", "3", err, sizeof(err)), 0);
	e = enrich_new(f->base, f->cap, &f->cfg, NULL, NULL, err, sizeof(err));
	CHECK(e != NULL, "enrich_new: %s", err);
	s1 = mksess(f, e, "00000000000000d1", "192.0.2.1"); /* rdns + dnsbl: 2 jobs */
	s2 = mksess(f, e, "00000000000000d2", "192.0.2.2"); /* over the cap */
	enrich_helo(s2, "[192.0.2.2]", 11); /* no lookup: its event is complete at once */
	assert_int_equal(f->nevents, 1);
	ev = find(f, "00000000000000d2", "rdns");
	assert_string_equal(sget(ev, "status"), "rate_limited");
	ev = find(f, "00000000000000d2", "dnsbl");
	assert_string_equal(sget(zone(ev, "zen.spamhaus.org"), "status"), "rate_limited");
	enrich_session_end(s1);
	run_until(f, &f->nevents, 2, 3000);
	assert_int_equal(f->nevents, 2);
	/* 1 PTR + 4 zones asked within the same second at 3/s: two zones were refused */
	ev = find(f, "00000000000000d1", "dnsbl");
	n = 0;
	for (size_t i = 0; i < json_array_size(json_object_get(ev, "lists")); i++)
		n += strcmp(sget(json_array_get(json_object_get(ev, "lists"), i), "status"),
		            "rate_limited") == 0;
	CHECK(n == 2, "got %zu zones rate limited, want 2", n);
	enrich_session_end(s2);
	enrich_free(e);

	/* shutdown with jobs pending: nothing more is recorded, nothing leaks */
	assert_int_equal(config_set(&f->cfg, "dns_rate", "1000", err, sizeof(err)), 0);
	e = enrich_new(f->base, f->cap, &f->cfg, NULL, NULL, err, sizeof(err));
	s1 = mksess(f, e, "00000000000000d3", "192.0.2.1");
	enrich_session_end(s1);
	n = f->nevents;
	enrich_free(e);
	run_for(f, 100);
	assert_int_equal(f->nevents, n);
}

/* test_enrich_off - with enrich_dns off no socket and no lookup; sessions still work */
static void
test_enrich_off(void **state)
{
	struct fx *f = *state;
	char err[256] = "";
	struct enrich *e;
	struct enrich_sess *s;
	struct dns_stats st;

	assert_int_equal(config_set(&f->cfg, "enrich_dns", "no", err, sizeof(err)), 0);
	e = enrich_new(f->base, f->cap, &f->cfg, NULL, NULL, err, sizeof(err));
	assert_non_null(e);
	assert_false(enrich_dns_stats(e, &st));
	s = mksess(f, e, "00000000000000e1", "192.0.2.1");
	enrich_helo(s, "mail.example.org", 16);
	run_for(f, 50);
	assert_int_equal(f->nevents, 0);
	assert_int_equal(f->nhits, 0);
	enrich_session_end(s);
	enrich_free(e);
	/* a resolver list that cannot be used is a start-up error */
	assert_int_equal(config_set(&f->cfg, "enrich_dns", "yes", err, sizeof(err)), 0);
	strlcpy(f->cfg.resolver, "nonsense", sizeof(f->cfg.resolver));
	assert_null(enrich_new(f->base, f->cap, &f->cfg, NULL, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "resolver"));
}

/* test_enrich_one_event - the os part (known at the connect) waits for the DNS parts and goes
 * into the session's one event with them; without DNS it is written at once; at shutdown a
 * waiting session's event is written with the parts it has (os, a DNS kind that is done), the
 * pending DNS kinds left out */
static void
test_enrich_one_event(void **state)
{
	/* a Windows XP SYN: IPv4, TTL 128, DF, IP ID 0x1234; TCP window 65535, options mss 1460,
	 * nop, nop, sok (p0f: 4:128+0:0:1460:65535,0:mss,nop,nop,sok:df,id+:0) */
	static const unsigned char syn[] = {
	    0x45, 0x00, 0x00, 0x30, 0x12, 0x34, 0x40, 0x00, 0x80, 0x06, 0x00, 0x00,
	    0xc0, 0x00, 0x02, 0x01, 0x7f, 0x00, 0x00, 0x01, 0x9c, 0x40, 0x00, 0x19,
	    0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x00, 0x00, 0x70, 0x02, 0xff, 0xff,
	    0x00, 0x00, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x04, 0x02};
	struct fx *f = *state;
	const char *root = getenv("RT_SOURCE_ROOT");
	char err[256] = "", fp[512];
	struct p0f_db *db;
	struct enrich *e;
	struct enrich_sess *s;
	json_t *ev, *os;

	snprintf(fp, sizeof(fp), "%s/contrib/p0f.fp", root ? root : "..");
	db = p0f_db_load(fp, err, sizeof(err));
	CHECK(db != NULL, "p0f_db_load %s: %s", fp, err);

	/* DNS on: nothing at the connect, one event with os and the DNS parts later */
	e = enrich_new(f->base, f->cap, &f->cfg, db, NULL, err, sizeof(err));
	CHECK(e != NULL, "enrich_new: %s", err);
	s = mksess_syn(f, e, "00000000000000e1", "192.0.2.1", syn, sizeof(syn));
	assert_non_null(s);
	assert_int_equal(f->nevents, 0);
	enrich_helo(s, "mail.example.org", 16);
	run_until(f, &f->nevents, 1, 3000);
	run_for(f, 100);
	assert_int_equal(f->nevents, 1);
	ev = find_ev(f, "00000000000000e1", "session");
	assert_non_null(ev);
	os = json_object_get(ev, "os");
	assert_string_equal(sget(os, "os_class"), "win");
	assert_string_equal(sget(os, "os_name"), "Windows");
	assert_string_equal(sget(os, "os_flavor"), "XP");
	assert_non_null(json_object_get(ev, "rdns"));
	assert_non_null(json_object_get(ev, "dnsbl"));
	assert_non_null(json_object_get(ev, "helo"));
	enrich_session_end(s);
	enrich_free(e);

	/* shutdown: rdns done, dnsbl waiting for a zone that never answers, no HELO yet */
	assert_int_equal(config_set(&f->cfg, "dnsbl_zones", "slow.example", err, sizeof(err)), 0);
	assert_int_equal(config_set(&f->cfg, "dns_timeout", "30s", err, sizeof(err)), 0);
	e = enrich_new(f->base, f->cap, &f->cfg, db, NULL, err, sizeof(err));
	CHECK(e != NULL, "enrich_new: %s", err);
	s = mksess_syn(f, e, "00000000000000e2", "192.0.2.1", syn, sizeof(syn));
	run_for(f, 300); /* the PTR and its forward lookup are answered, the DNSBL query not */
	enrich_session_end(s);
	assert_int_equal(f->nevents, 1);
	enrich_free(e);
	assert_int_equal(f->nevents, 2);
	ev = find_ev(f, "00000000000000e2", "session");
	assert_non_null(ev);
	assert_string_equal(sget(json_object_get(ev, "os"), "os_flavor"), "XP");
	assert_string_equal(sget(json_object_get(ev, "rdns"), "ptr"), "host1.example.net");
	assert_null(json_object_get(ev, "dnsbl"));
	run_for(f, 100);
	assert_int_equal(f->nevents, 2);

	/* DNS off: the event at once, the os part alone */
	assert_int_equal(config_set(&f->cfg, "enrich_dns", "no", err, sizeof(err)), 0);
	e = enrich_new(f->base, f->cap, &f->cfg, db, NULL, err, sizeof(err));
	CHECK(e != NULL, "enrich_new: %s", err);
	s = mksess_syn(f, e, "00000000000000e3", "192.0.2.1", syn, sizeof(syn));
	assert_int_equal(f->nevents, 3);
	ev = find_ev(f, "00000000000000e3", "session");
	assert_non_null(json_object_get(ev, "os"));
	assert_int_equal(json_object_size(ev),
	                 json_object_size(find_ev(f, "00000000000000e1", "session")) - 3);
	enrich_session_end(s);
	enrich_free(e);
	p0f_db_free(db);
}

/* test_os_mismatch - an Outlook X-Mailer from a Linux stack is a signal, once */
static void
test_os_mismatch(void **state)
{
	struct fx *f = *state;
	char err[256] = "";
	struct enrich *e;
	struct enrich_sess *s;
	json_t *ev;
	static const char xm[] = "Microsoft Outlook Express 6.00.2900.5512";

	assert_string_equal(enrich_os_claim(xm, strlen(xm)), "Windows");
	assert_string_equal(enrich_os_claim("Apple Mail (2.3445)", 19), "Mac OS");
	assert_null(enrich_os_claim("PHPMailer 6.1", 13));
	assert_int_equal(config_set(&f->cfg, "enrich_dns", "no", err, sizeof(err)), 0);
	e = enrich_new(f->base, f->cap, &f->cfg, NULL, NULL, err, sizeof(err));
	s = mksess(f, e, "00000000000000f1", "192.0.2.1");
	enrich_message(s, xm, strlen(xm)); /* OS not known yet: nothing */
	assert_int_equal(f->nevents, 0);
	enrich_session_set_os(s, "win", "Windows");
	enrich_message(s, xm, strlen(xm)); /* consistent */
	assert_int_equal(f->nevents, 0);
	enrich_session_set_os(s, "unix", "Linux");
	enrich_message(s, xm, strlen(xm));
	enrich_message(s, xm, strlen(xm));
	assert_int_equal(f->nevents, 1);
	ev = find(f, "00000000000000f1", "signal");
	assert_string_equal(sget(ev, "signal"), "os_mismatch");
	assert_non_null(strstr(sget(ev, "detail"), "Linux"));
	enrich_session_end(s);
	enrich_free(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_dns_answers, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_dns_rng, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_dns_cache_dedupe, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_dns_lru, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_dns_rate_cancel, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_dns_dead_resolver, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_dns_free_pending, fx_setup, fx_teardown),
	    cmocka_unit_test(test_dnsbl_names_codes),
	    cmocka_unit_test_setup_teardown(test_enrich_session, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_enrich_cached_closed, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_enrich_v6_nxhelo, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_enrich_limits, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_enrich_off, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_enrich_one_event, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_os_mismatch, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
