/* SPDX-License-Identifier: ISC */
/*
 * enrich_bench - what DNS enrichment costs the network engine per session, without the
 * sessions: src/enrich/ in-process on its own event loop, asking a real resolver (the
 * caller's, on loopback: bench/enrich.sh starts dnsmasq with test zones), its events going
 * to a sink that counts them.
 *
 * Two phases over POOL source addresses 10.77.x.y: "fresh" (one session per source: every
 * lookup goes to the resolver) and "cached" (N sessions over the same sources: every lookup
 * is answered from the engine's DNS cache, no packet). Each session is what a client's
 * connection does: enrich_session_new (rDNS, DNSBL), enrich_helo with the source's name
 * (h-10-77-x-y.bench.example), enrich_session_end. Prints CPU microseconds per session of
 * each phase (user and system) and the events and bytes recorded. Under callgrind,
 * `--toggle-collect=cached_phase` (or fresh_phase) counts the instructions of that phase alone.
 *
 * Usage: enrich_bench RESOLVER [-n SESSIONS] [-p POOL] [-z "ZONES"]
 *        (RESOLVER as the resolver setting, e.g. 127.0.0.1:25701)
 * Traffic: DNS queries to RESOLVER only.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "capture/emit.h"
#include "capture/frame.h"
#include "core/config.h"
#include "core/log.h"
#include "core/str.h"
#include "core/util.h"
#include "enrich/enrich.h"

struct counts {
	unsigned long events, sess_events, bytes;
};

static void
sink(void *arg, enum frame_type type, const void *payload, size_t len)
{
	struct counts *c = arg;

	if (type != FRAME_EVENT)
		return;
	c->events++;
	c->bytes += len;
	if (memmem(payload, len, "\"kind\":\"session\"", 16) != NULL)
		c->sess_events++;
}

static double
cpu_s(void)
{
	return (double)cpu_self_us() / 1e6;
}

__attribute__((noreturn)) static void
die(const char *what)
{
	fprintf(stderr, "enrich_bench: %s\n", what);
	exit(1);
}

/* one source of the pool: its address, HELO name and event prefix, made before the phases
 * so that they measure enrichment alone */
struct src {
	char ip[16], helo[48];
	struct jw prefix;
};

static struct src *
make_pool(struct capture *cap, unsigned long pool)
{
	struct src *p = calloc(pool, sizeof(*p));
	char sid[17];

	if (p == NULL)
		die("out of memory");
	for (unsigned long k = 0; k < pool; k++) {
		snprintf(p[k].ip, sizeof(p[k].ip), "10.77.%lu.%lu", k / 256, k % 256);
		snprintf(p[k].helo, sizeof(p[k].helo), "h-10-77-%lu-%lu.bench.example", k / 256,
		         k % 256);
		snprintf(sid, sizeof(sid), "%016lx", k + 1);
		jw_init(&p[k].prefix);
		capture_prefix(cap, &p[k].prefix, sid, p[k].ip, 40000, "127.0.0.1", 25,
		               "exchange2000", "bench");
	}
	return p;
}

/* sessions - n sessions from the pool, starting at source k0; then the loop runs until every
 * session's enrich event is recorded (or 30 s) */
static void
sessions(struct event_base *base, struct enrich *e, struct counts *c, const struct src *p,
         unsigned long n, unsigned long pool, unsigned long k0)
{
	unsigned long want = c->sess_events + n, i;
	struct timeval tick = {0, 10000};

	for (i = 0; i < n; i++) {
		const struct src *src = &p[(k0 + i) % pool];
		struct enrich_sess *s = enrich_session_new(e, &src->prefix, src->ip, NULL, 0);

		if (s == NULL)
			die("enrich_session_new");
		enrich_helo(s, src->helo, strlen(src->helo));
		enrich_session_end(s);
		/* as the engine: the loop runs between sessions (answers, deliveries) */
		if (i % 64 == 63)
			event_base_loop(base, EVLOOP_NONBLOCK);
	}
	for (int t = 0; t < 3000 && c->sess_events < want; t++) {
		event_base_loopexit(base, &tick);
		event_base_dispatch(base);
	}
	if (c->sess_events < want)
		die("not every session's enrich event came within 30 s");
}

/* fresh_phase, cached_phase - functions of their own for callgrind's --toggle-collect */
__attribute__((noinline)) static void
fresh_phase(struct event_base *base, struct enrich *e, struct counts *c, const struct src *p,
            unsigned long pool)
{
	sessions(base, e, c, p, pool, pool, 0);
}

__attribute__((noinline)) static void
cached_phase(struct event_base *base, struct enrich *e, struct counts *c, const struct src *p,
             unsigned long n, unsigned long pool)
{
	sessions(base, e, c, p, n, pool, 0);
}

int
main(int argc, char **argv)
{
	unsigned long n = 30000, pool = 10000;
	const char *zones = "zen.spamhaus.org, bl.spamcop.net, b.barracudacentral.org";
	struct counts c = {0, 0, 0};
	struct config cfg;
	char err[256];
	struct event_base *base;
	struct capture *cap;
	struct enrich *e;
	struct src *src;
	double t0, t1, t2;
	unsigned long ev0, by0;
	int opt;

	while ((opt = getopt(argc, argv, "n:p:z:h")) != -1) {
		switch (opt) {
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 'p':
			pool = strtoul(optarg, NULL, 10);
			break;
		case 'z':
			zones = optarg;
			break;
		default:
			fprintf(stderr,
			        "usage: enrich_bench RESOLVER [-n SESSIONS] [-p POOL] [-z ZONES]\n"
			        "  RESOLVER: 127.0.0.1:PORT of a resolver with the bench's zones "
			        "(bench/enrich.sh)\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (optind != argc - 1 || n == 0 || pool == 0 || pool > 65536) {
		fprintf(stderr, "usage: enrich_bench RESOLVER [-n SESSIONS] [-p POOL (1-65536)] "
		                "[-z ZONES]\n");
		return 2;
	}
	/* as the daemon does (src/main.c): libevent's calloc as malloc + memset */
	event_set_mem_functions(malloc, realloc, free);
	log_init("enrich_bench", LOG_LVL_WARN);
	config_defaults(&cfg);
	if (config_set(&cfg, "enrich_dns", "yes", err, sizeof(err)) < 0 ||
	    config_set(&cfg, "resolver", argv[optind], err, sizeof(err)) < 0 ||
	    config_set(&cfg, "dnsbl_zones", zones, err, sizeof(err)) < 0 ||
	    config_set(&cfg, "dns_rate", "1000000", err, sizeof(err)) < 0 ||
	    config_set(&cfg, "dns_max_inflight", "4096", err, sizeof(err)) < 0 ||
	    config_set(&cfg, "enrich_max_pending", "1000000", err, sizeof(err)) < 0)
		die(err);
	if ((base = event_base_new()) == NULL || (cap = capture_new("bench", sink, &c)) == NULL)
		die("setup");
	if ((e = enrich_new(base, cap, &cfg, NULL, NULL, err, sizeof(err))) == NULL)
		die(err);

	src = make_pool(cap, pool);
	t0 = cpu_s();
	fresh_phase(base, e, &c, src, pool);
	t1 = cpu_s();
	ev0 = c.events;
	by0 = c.bytes;
	cached_phase(base, e, &c, src, n, pool);
	t2 = cpu_s();
	printf("fresh:  %lu sessions, %.1f us CPU per session (every lookup sent)\n", pool,
	       (t1 - t0) * 1e6 / (double)pool);
	printf("cached: %lu sessions, %.1f us CPU per session (every lookup from the cache), "
	       "%.2f events and %.0f bytes per session\n",
	       n, (t2 - t1) * 1e6 / (double)n, (double)(c.events - ev0) / (double)n,
	       (double)(c.bytes - by0) / (double)n);
	enrich_free(e);
	for (unsigned long k = 0; k < pool; k++)
		jw_free(&src[k].prefix);
	free(src);
	capture_free(cap);
	event_base_free(base);
	return 0;
}
