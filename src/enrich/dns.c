/* SPDX-License-Identifier: ISC */
/*
 * dns - cached, deduplicated, rate-limited lookups over evdns (see dns.h).
 *
 * A lookup is a struct dns_entry keyed by (type, lower-cased name) in a chained hash table.
 * While in flight it has a struct dns_req (the evdns request) and a deadline timer; callers
 * hang struct dns_wait on it. When it finishes (answer or deadline) its waits move to the
 * ready list, which one event drains from the loop, so no callback ever runs inside
 * dns_query. A finished entry stays in the table, on an LRU list, until its TTL passes or
 * the cache is full. evdns calls back exactly once per request, even after
 * evdns_cancel_request, so a dns_req whose entry timed out is detached and freed when that
 * callback comes.
 */
#include "enrich/dns.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "core/log.h"
#include "core/pool.h"
#include "core/str.h"
#include "core/util.h"

#define NEG_TTL_MS 60000u /* failures (timeout, servfail, error) are reused at most this long */
#define NAME_MAX_LEN 253
#define FREE_DRAIN_ROUNDS 64 /* loop passes dns_free allows evdns to hand requests back */

struct dns_entry;

struct dns_wait {
	struct dns_wait *next, *prev;
	struct dns *d;
	struct dns_entry *e; /* the entry answering (holds a ref once ready) */
	enum dns_status own; /* status when there is no entry (refused, bad name) */
	dns_cb cb;
	void *arg;
	bool ready; /* on d->ready, else on e->waiters */
	bool cached;
};

struct dns_req {
	struct dns_req *next, *prev; /* d->reqs */
	struct dns *d;
	struct dns_entry *e; /* NULL once the deadline detached it */
	struct evdns_request *r;
	uint64_t sent_us;
};

struct dns_entry {
	struct dns_entry *hnext;
	struct dns_entry *lprev, *lnext; /* LRU of finished entries, most recent first */
	struct dns_wait *waiters;        /* callers waiting while in flight */
	struct dns_req *req;             /* in flight */
	struct event *deadline;          /* while in flight */
	uint64_t lru_seq;                /* d->lru_seq when last put at the LRU's head */
	unsigned refs;                   /* ready waits not yet delivered */
	bool done, in_table, on_lru;
	enum dns_type type;
	enum dns_status status;
	uint32_t hash;
	uint64_t expire_us; /* monotonic */
	uint64_t real_us;   /* wall clock when finished */
	unsigned n;
	char *data[DNS_MAX_ANSWERS];
	char name[];
};

struct dns {
	struct event_base *base;
	struct evdns_base *edb;
	struct dns_conf conf;
	/* the shared deadline duration (a libevent common timeout) */
	const struct timeval *common_to;
	uint64_t try_us; /* evdns's timeout for one try */
	struct dns_entry **tab;
	size_t tabsize, entries, done_entries;
	struct dns_entry *lru_head, *lru_tail;
	uint64_t lru_seq; /* entries put at the LRU's head so far */
	struct dns_wait *ready_head, *ready_tail;
	struct event *ev_ready;
	struct dns_req *reqs;
	size_t inflight;
	double tokens;
	uint64_t tokens_us;
	struct dns_stats st;
	/* kept for reuse (core/pool.h): every query takes a wait (seven a session), every
	 * lookup sent a request and a deadline timer; from malloc, between the cache's
	 * long-lived entries, they met its bins' slow path (_int_malloc) */
	struct spares spare_waits, spare_reqs, spare_timers;
	bool closing;
};

static const char *const status_names[] = {
#define X(e, n) n,
    DNS_STATUSES(X)
#undef X
};

const char *
dns_status_name(enum dns_status s)
{
	return (size_t)s < ARRAY_LEN(status_names) ? status_names[s] : "error";
}

/* ------------------------------------------------------------------ evdns's random bytes */

/* evdns draws each query's transaction id and its 0x20 case bits (two draws per query) from
 * evutil_secure_rng_get_bytes, which Debian's libevent serves with glibc's arc4random_buf:
 * before glibc 2.41 one getrandom system call per draw, on a VM ~2 us each with the kernel's
 * entry and exit, half the system calls enrichment adds. This definition in the executable
 * takes its place (ELF interposition: libevent calls the function through its PLT), with the
 * same contract: bytes of a block that one arc4random_buf call fills, none handed out twice,
 * a forked child dropping what it inherited. A libevent that binds the call inside itself
 * keeps its own: nothing breaks, only the system calls stay. dns_rng_stats counts the draws
 * and the fills. */
#define RNG_BLOCK 256

static _Thread_local unsigned char rng_block[RNG_BLOCK];
static _Thread_local size_t rng_left; /* unused bytes at the end of rng_block */
static _Thread_local uint64_t rng_draws, rng_fills;
static pthread_once_t rng_once = PTHREAD_ONCE_INIT;

static void
rng_forget(void)
{
	explicit_bzero(rng_block, sizeof(rng_block));
	rng_left = 0;
}

static void
rng_atfork(void)
{
	pthread_atfork(NULL, NULL, rng_forget);
}

void
evutil_secure_rng_get_bytes(void *buf, size_t n)
{
	unsigned char *out = buf;
	size_t k;

	pthread_once(&rng_once, rng_atfork);
	rng_draws++;
	if (n > RNG_BLOCK / 4) { /* large draws straight from the source */
		arc4random_buf(buf, n);
		return;
	}
	while (n > 0) {
		if (rng_left == 0) {
			arc4random_buf(rng_block, sizeof(rng_block));
			rng_left = sizeof(rng_block);
			rng_fills++;
		}
		k = n < rng_left ? n : rng_left;
		memcpy(out, rng_block + RNG_BLOCK - rng_left, k);
		explicit_bzero(rng_block + RNG_BLOCK - rng_left, k);
		rng_left -= k;
		out += k;
		n -= k;
	}
}

void
dns_rng_stats(uint64_t *draws, uint64_t *fills)
{
	*draws = rng_draws;
	*fills = rng_fills;
}

/* ------------------------------------------------------------------ spare blocks */

static void on_deadline(evutil_socket_t fd, short what, void *arg);

/* timer_take - entry e's deadline timer: a kept one set up again, or a new one */
static struct event *
timer_take(struct dns *d, struct dns_entry *e)
{
	struct event *ev = spare_pop(&d->spare_timers, event_get_struct_event_size());

	if (ev == NULL)
		return evtimer_new(d->base, on_deadline, e);
	if (evtimer_assign(ev, d->base, on_deadline, e) != 0) {
		event_free(ev);
		return NULL;
	}
	return ev;
}

/* timer_give - a deadline timer no longer needed: stopped, and kept or freed */
static void
timer_give(struct dns *d, struct event *ev)
{
	if (spare_full(&d->spare_timers)) {
		event_free(ev);
		return;
	}
	event_del(ev);
	spare_give(&d->spare_timers, ev, event_get_struct_event_size());
}

/* ------------------------------------------------------------------ table and LRU */

static uint32_t
key_hash(enum dns_type t, const char *name)
{
	uint32_t h = 2166136261u ^ (uint32_t)t;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h;
}

static struct dns_entry *
tab_find(struct dns *d, enum dns_type t, const char *name, uint32_t h)
{
	struct dns_entry *e;

	for (e = d->tab[h & (d->tabsize - 1)]; e != NULL; e = e->hnext)
		if (e->hash == h && e->type == t && strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

static void
lru_unlink(struct dns *d, struct dns_entry *e)
{
	if (!e->on_lru)
		return;
	if (e->lprev)
		e->lprev->lnext = e->lnext;
	else
		d->lru_head = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	else
		d->lru_tail = e->lprev;
	e->lprev = e->lnext = NULL;
	e->on_lru = false;
	d->done_entries--;
}

static void
lru_push(struct dns *d, struct dns_entry *e)
{
	e->lprev = NULL;
	e->lnext = d->lru_head;
	if (d->lru_head)
		d->lru_head->lprev = e;
	else
		d->lru_tail = e;
	d->lru_head = e;
	e->on_lru = true;
	e->lru_seq = ++d->lru_seq;
	d->done_entries++;
}

/* lru_touch - e was used: to the LRU's head, unless it is among the last quarter of the cache
 * put there (then it is far from the tail already). Moving it touches two other entries, each
 * likely a cache miss, on every hit; this way a hit on a recent entry touches none, and an entry
 * is evicted after at least three quarters of cache_max newer ones instead of all of them. */
static void
lru_touch(struct dns *d, struct dns_entry *e)
{
	if (d->lru_seq - e->lru_seq < d->conf.cache_max / 4)
		return;
	lru_unlink(d, e);
	lru_push(d, e);
}

static void
entry_free(struct dns_entry *e)
{
	for (unsigned i = 0; i < e->n; i++)
		free(e->data[i]);
	if (e->deadline)
		event_free(e->deadline);
	free(e);
}

/* entry_unlink - take e out of the table and the LRU; freed now if nobody holds it */
static void
entry_unlink(struct dns *d, struct dns_entry *e)
{
	struct dns_entry **pp;

	lru_unlink(d, e);
	if (e->in_table) {
		for (pp = &d->tab[e->hash & (d->tabsize - 1)]; *pp != e; pp = &(*pp)->hnext)
			;
		*pp = e->hnext;
		e->in_table = false;
		d->entries--;
	}
	if (e->done && e->refs == 0)
		entry_free(e);
}

/* cache_trim - evict least recently used finished entries beyond cache_max */
static void
cache_trim(struct dns *d)
{
	while (d->done_entries > d->conf.cache_max && d->lru_tail != NULL)
		entry_unlink(d, d->lru_tail);
}

/* ------------------------------------------------------------------ delivery */

static void
ready_push(struct dns *d, struct dns_wait *w)
{
	w->ready = true;
	w->next = NULL;
	w->prev = d->ready_tail;
	if (d->ready_tail)
		d->ready_tail->next = w;
	else
		d->ready_head = w;
	d->ready_tail = w;
	if (w->e)
		w->e->refs++;
	event_active(d->ev_ready, EV_TIMEOUT, 1);
}

static void
ready_unlink(struct dns *d, struct dns_wait *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		d->ready_head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		d->ready_tail = w->prev;
	w->next = w->prev = NULL;
}

/* wait_release - drop what w holds of its entry and free w */
static void
wait_release(struct dns *d, struct dns_wait *w)
{
	struct dns_entry *e = w->e;

	if (e != NULL && w->ready && --e->refs == 0 && !e->in_table)
		entry_free(e);
	spare_give(&d->spare_waits, w, sizeof(*w));
}

/* on_ready - deliver finished lookups from the loop, one at a time (a callback may add or
 * cancel waits) */
static void
on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct dns *d = arg;
	struct dns_wait *w;

	while ((w = d->ready_head) != NULL) {
		struct dns_answer a;
		ready_unlink(d, w);
		memset(&a, 0, sizeof(a));
		if (w->e != NULL) {
			a.status = w->e->status;
			a.n = w->e->n;
			a.data = (const char *const *)w->e->data;
			a.lookup_real_us = w->e->real_us;
		} else {
			a.status = w->own;
			a.lookup_real_us = now_real_us();
		}
		a.cached = w->cached;
		w->cb(w->arg, &a);
		wait_release(d, w);
	}
}

/* entry_finish - the lookup is over: keep it for the cache and hand its waiters the answer */
static void
entry_finish(struct dns *d, struct dns_entry *e, enum dns_status st)
{
	struct dns_wait *w, *next;
	uint64_t ttl = d->conf.cache_ttl_ms;

	e->done = true;
	e->status = st;
	e->real_us = now_real_us();
	if (e->deadline) { /* not kept with the cache: it is needed only in flight */
		timer_give(d, e->deadline);
		e->deadline = NULL;
	}
	for (w = e->waiters; w != NULL; w = next) {
		next = w->next;
		ready_push(d, w);
	}
	e->waiters = NULL;
	if (st != DNS_OK && st != DNS_NODATA && st != DNS_NXDOMAIN && ttl > NEG_TTL_MS)
		ttl = NEG_TTL_MS;
	if (ttl == 0 || d->closing) {
		entry_unlink(d, e);
		return;
	}
	e->expire_us = now_mono_us() + ttl * 1000u;
	lru_push(d, e);
	cache_trim(d);
}

/* ------------------------------------------------------------------ evdns side */

static enum dns_status
map_err(int result, int count)
{
	switch (result) {
	case DNS_ERR_NONE:
		return count > 0 ? DNS_OK : DNS_NODATA;
	case DNS_ERR_NODATA:
		return DNS_NODATA;
	case DNS_ERR_NOTEXIST:
		return DNS_NXDOMAIN;
	case DNS_ERR_SERVERFAILED:
		return DNS_SERVFAIL;
	case DNS_ERR_TIMEOUT:
		return DNS_TIMEOUT;
	default:
		return DNS_ERROR;
	}
}

static void
req_unlink(struct dns *d, struct dns_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		d->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	d->inflight--;
}

/* on_evdns - evdns's answer (also after a cancel: then the entry is long gone) */
static void
on_evdns(int result, char type, int count, int ttl, void *addrs, void *arg)
{
	struct dns_req *r = arg;
	struct dns *d = r->d;
	struct dns_entry *e = r->e;
	enum dns_status st;
	char buf[INET6_ADDRSTRLEN];
	int i;

	req_unlink(d, r);
	/*
	 * evdns (2.1 and later) never reports SERVFAIL: it handles that answer like a timeout,
	 * retries at once and finally reports DNS_ERR_TIMEOUT. A real timeout takes at least
	 * one try's timeout, so a "timeout" well before that was the resolver saying SERVFAIL
	 * to every try.
	 */
	st = map_err(result, count);
	if (st == DNS_TIMEOUT && now_mono_us() - r->sent_us < d->try_us * 9 / 10)
		st = DNS_SERVFAIL;
	spare_give(&d->spare_reqs, r, sizeof(*r));
	if (e == NULL)
		return;
	e->req = NULL;
	if (st == DNS_OK) {
		for (i = 0; i < count && e->n < DNS_MAX_ANSWERS; i++) {
			const char *s = NULL;
			if (type == DNS_IPv4_A && e->type == DNS_T_A)
				s = fmt_ipv4((const unsigned char *)addrs + 4 * i, buf, sizeof(buf))
				        ? buf
				        : NULL;
			else if (type == DNS_IPv6_AAAA && e->type == DNS_T_AAAA)
				s = inet_ntop(AF_INET6, (const struct in6_addr *)addrs + i, buf,
				              sizeof(buf));
			else if (type == DNS_PTR && e->type == DNS_T_PTR)
				s = ((char *const *)addrs)[i];
			if (s == NULL)
				continue;
			if ((e->data[e->n] = strndup(s, NAME_MAX_LEN + 2)) != NULL) {
				size_t l = strlen(e->data[e->n]);
				if (l > 1 && e->data[e->n][l - 1] == '.')
					e->data[e->n][l - 1] = '\0';
				e->n++;
			}
		}
		if (e->n == 0)
			st = DNS_ERROR; /* records of a type we did not ask for */
	}
	entry_finish(d, e, st);
}

/* on_deadline - no answer in time: answer the waiters now, let evdns drop the request */
static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct dns_entry *e = arg;
	struct dns_req *r = e->req;
	struct dns *d;

	if (r == NULL)
		return;
	d = r->d;
	r->e = NULL;
	e->req = NULL;
	d->st.timeouts++;
	evdns_cancel_request(d->edb, r->r);
	entry_finish(d, e, DNS_TIMEOUT);
}

/* take_token - the global rate: a bucket of `rate` tokens refilled at `rate` per second */
static bool
take_token(struct dns *d)
{
	uint64_t now = now_mono_us();

	d->tokens += (double)(now - d->tokens_us) * d->conf.rate / 1e6;
	d->tokens_us = now;
	if (d->tokens > d->conf.rate)
		d->tokens = d->conf.rate;
	if (d->tokens < 1.0)
		return false;
	d->tokens -= 1.0;
	return true;
}

/* entry_start - send the query of a new entry; false when evdns refused it */
static bool
entry_start(struct dns *d, struct dns_entry *e)
{
	struct dns_req *r = spare_take(&d->spare_reqs, sizeof(*r));
	struct in_addr a4;
	struct in6_addr a6;
	int fl = DNS_QUERY_NO_SEARCH;

	if (r == NULL)
		return false;
	r->d = d;
	r->e = e;
	r->next = d->reqs;
	if (d->reqs)
		d->reqs->prev = r;
	d->reqs = r;
	d->inflight++;
	e->req = r;
	r->sent_us = now_mono_us();
	switch (e->type) {
	case DNS_T_A:
		r->r = evdns_base_resolve_ipv4(d->edb, e->name, fl, on_evdns, r);
		break;
	case DNS_T_AAAA:
		r->r = evdns_base_resolve_ipv6(d->edb, e->name, fl, on_evdns, r);
		break;
	case DNS_T_PTR:
		if (inet_pton(AF_INET, e->name, &a4) == 1)
			r->r = evdns_base_resolve_reverse(d->edb, &a4, fl, on_evdns, r);
		else if (inet_pton(AF_INET6, e->name, &a6) == 1)
			r->r = evdns_base_resolve_reverse_ipv6(d->edb, &a6, fl, on_evdns, r);
		break;
	}
	if (r->r == NULL) {
		req_unlink(d, r);
		spare_give(&d->spare_reqs, r, sizeof(*r));
		e->req = NULL;
		return false;
	}
	d->st.sent++;
	evtimer_add(e->deadline, d->common_to);
	return true;
}

/* ------------------------------------------------------------------ public */

/* norm_name - the lookup key: lower-cased, no trailing dot; PTR keys are canonical
 * addresses (IPv4-mapped IPv6 as IPv4); false if the name cannot be asked */
static bool
norm_name(enum dns_type t, const char *in, char *out, size_t outlen)
{
	size_t len = strlen(in), i, label = 0;

	if (t == DNS_T_PTR) {
		unsigned char b[16];
		if (inet_pton(AF_INET, in, b) == 1)
			return fmt_ipv4(b, out, outlen);
		if (inet_pton(AF_INET6, in, b) != 1)
			return false;
		if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)b))
			return fmt_ipv4(b + 12, out, outlen);
		return inet_ntop(AF_INET6, b, out, (socklen_t)outlen) != NULL;
	}
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > NAME_MAX_LEN || len >= outlen)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];
		if (ch == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (isalnum(ch) || ch == '-' || ch == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
		out[i] = (char)tolower(ch);
	}
	out[len] = '\0';
	return true;
}

struct dns_wait *
dns_query(struct dns *d, enum dns_type type, const char *name, dns_cb cb, void *arg)
{
	char key[NAME_MAX_LEN + 2];
	struct dns_wait *w = spare_take(&d->spare_waits, sizeof(*w));
	struct dns_entry *e;
	uint32_t h;
	size_t kl;

	if (w == NULL)
		return NULL;
	w->d = d;
	w->cb = cb;
	w->arg = arg;
	d->st.queries++;
	if (d->closing || !norm_name(type, name, key, sizeof(key))) {
		w->own = DNS_ERROR;
		ready_push(d, w);
		return w;
	}
	h = key_hash(type, key);
	e = tab_find(d, type, key, h);
	if (e != NULL && e->done && now_mono_us() >= e->expire_us) {
		entry_unlink(d, e);
		e = NULL;
	}
	if (e != NULL && e->done) {
		lru_touch(d, e);
		d->st.hits++;
		w->e = e;
		w->cached = true;
		ready_push(d, w);
		return w;
	}
	if (e != NULL) {
		d->st.joined++;
		w->e = e;
		w->next = e->waiters;
		if (e->waiters)
			e->waiters->prev = w;
		e->waiters = w;
		return w;
	}
	if (d->inflight >= d->conf.max_inflight || !take_token(d)) {
		d->st.rate_limited++;
		w->own = DNS_RATE_LIMITED;
		ready_push(d, w);
		return w;
	}
	kl = strlen(key);
	e = zalloc(sizeof(*e) + kl + 1);
	if (e == NULL) {
		spare_give(&d->spare_waits, w, sizeof(*w));
		return NULL;
	}
	memcpy(e->name, key, kl + 1);
	e->type = type;
	e->hash = h;
	e->deadline = timer_take(d, e);
	e->hnext = d->tab[h & (d->tabsize - 1)];
	d->tab[h & (d->tabsize - 1)] = e;
	e->in_table = true;
	d->entries++;
	w->e = e;
	e->waiters = w;
	if (e->deadline == NULL || !entry_start(d, e))
		entry_finish(d, e, DNS_ERROR);
	return w;
}

void
dns_cancel(struct dns_wait *w)
{
	struct dns *d;
	struct dns_entry *e;

	if (w == NULL)
		return;
	d = w->d;
	e = w->e;
	if (w->ready) {
		ready_unlink(d, w);
	} else if (e != NULL) {
		if (w->prev)
			w->prev->next = w->next;
		else
			e->waiters = w->next;
		if (w->next)
			w->next->prev = w->prev;
	}
	wait_release(d, w);
}

void
dns_stats(const struct dns *d, struct dns_stats *st)
{
	*st = d->st;
	st->entries = d->entries;
	st->inflight = d->inflight;
}

/* add_resolvers - "IP[:PORT], [IPv6]:PORT, ..." as the evdns nameservers */
static int
add_resolvers(struct dns *d, const char *spec, char *err, size_t errlen)
{
	char item[128];
	const char *p = spec;
	int n = 0;

	while (*p != '\0') {
		struct sockaddr_storage ss;
		int sl = sizeof(ss);
		size_t k = strcspn(p, ","), b = 0, e = k;
		while (b < e && isspace((unsigned char)p[b]))
			b++;
		while (e > b && isspace((unsigned char)p[e - 1]))
			e--;
		if (e - b == 0 || e - b >= sizeof(item)) {
			seterr(err, errlen, "resolver: empty or overlong entry in '%.100s'", spec);
			return -1;
		}
		memcpy(item, p + b, e - b);
		item[e - b] = '\0';
		memset(&ss, 0, sizeof(ss));
		if (evutil_parse_sockaddr_port(item, (struct sockaddr *)&ss, &sl) != 0) {
			seterr(err, errlen, "resolver: '%.64s' is not IP[:PORT] or [IPv6]:PORT",
			       item);
			return -1;
		}
		if (ss.ss_family == AF_INET && ((struct sockaddr_in *)&ss)->sin_port == 0)
			((struct sockaddr_in *)&ss)->sin_port = htons(53);
		if (ss.ss_family == AF_INET6 && ((struct sockaddr_in6 *)&ss)->sin6_port == 0)
			((struct sockaddr_in6 *)&ss)->sin6_port = htons(53);
		if (++n > DNS_MAX_RESOLVERS) {
			seterr(err, errlen, "resolver: at most %d nameservers", DNS_MAX_RESOLVERS);
			return -1;
		}
		if (evdns_base_nameserver_sockaddr_add(d->edb, (struct sockaddr *)&ss,
		                                       (ev_socklen_t)sl, 0) != 0) {
			seterr(err, errlen, "resolver: cannot set up a socket for %.64s", item);
			return -1;
		}
		p += k;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* evdns_log - evdns's own messages ("nameserver has failed", ...) go to the debug log:
 * a dead resolver would otherwise fill the journal; dns_stats counts what matters */
static void
evdns_log(int is_warn, const char *msg)
{
	log_debug("dns: %s%s", is_warn ? "warning: " : "", msg);
}

/* libevent_log - the same for what reaches libevent's logging: errors to the error log */
static void
libevent_log(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_ERR)
		log_err("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

struct dns *
dns_new(struct event_base *base, const struct dns_conf *conf, char *err, size_t errlen)
{
	struct dns *d = calloc(1, sizeof(*d));
	struct timeval to;
	char v[32];
	size_t want;

	if (d == NULL) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	d->base = base;
	d->conf = *conf;
	if (d->conf.rate == 0)
		d->conf.rate = 1;
	if (d->conf.max_inflight == 0)
		d->conf.max_inflight = 1;
	want = 2 * ((size_t)d->conf.cache_max + d->conf.max_inflight);
	for (d->tabsize = 1024; d->tabsize < want && d->tabsize < ((size_t)1 << 24);)
		d->tabsize <<= 1;
	d->tab = calloc(d->tabsize, sizeof(*d->tab));
	d->ev_ready = event_new(base, -1, 0, on_ready, d);
	/* every lookup has the same deadline: a libevent common timeout keeps them O(1) */
	to.tv_sec = (time_t)(conf->timeout_ms / 1000);
	to.tv_usec = (suseconds_t)((conf->timeout_ms % 1000) * 1000);
	d->common_to = event_base_init_common_timeout(base, &to);
	/* With a message function set, evdns formats each of its debug messages for it before
	 * anyone looks at the level: 18 for a new source's five lookups, a sixth of their
	 * instructions. Without one, they go through libevent's logging, which drops debug
	 * messages unformatted and hands the rest to libevent_log (libevent's own warnings as
	 * well, a process-wide setting). So evdns_log is set only while debugging. */
	if (log_get_level() >= LOG_LVL_DEBUG) {
		evdns_set_log_fn(evdns_log);
	} else {
		evdns_set_log_fn(NULL);
		event_set_log_callback(libevent_log);
	}
	d->edb = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	d->tokens = d->conf.rate;
	d->tokens_us = now_mono_us();
	if (d->tab == NULL || d->ev_ready == NULL || d->common_to == NULL || d->edb == NULL) {
		seterr(err, errlen, "out of memory setting up DNS");
		goto fail;
	}
	if (conf->resolvers == NULL || strcmp(conf->resolvers, "system") == 0) {
		int r = evdns_base_resolv_conf_parse(d->edb, DNS_OPTION_NAMESERVERS,
		                                     "/etc/resolv.conf");
		if (r != 0) {
			seterr(err, errlen,
			       "resolver: /etc/resolv.conf gave no usable nameserver (evdns error "
			       "%d); "
			       "set resolver = IP[:PORT]",
			       r);
			goto fail;
		}
	} else if (add_resolvers(d, conf->resolvers, err, errlen) == -1) {
		goto fail;
	}
	if (evdns_base_count_nameservers(d->edb) == 0) {
		seterr(err, errlen, "resolver: no nameserver configured");
		goto fail;
	}
	/* evdns retries once on its own (half the deadline per try); the deadline timer ends
	 * whatever is left, including requests queued behind max-inflight */
	d->try_us = conf->timeout_ms * 1000u / 2;
	snprintf(v, sizeof(v), "%.3f", (double)conf->timeout_ms / 2000.0);
	evdns_base_set_option(d->edb, "timeout:", v);
	evdns_base_set_option(d->edb, "attempts:", "2");
	snprintf(v, sizeof(v), "%u", d->conf.max_inflight);
	evdns_base_set_option(d->edb, "max-inflight:", v);
	evdns_base_set_option(d->edb, "randomize-case:", "1");
	return d;
fail:
	if (d->edb)
		evdns_base_free(d->edb, 0);
	if (d->ev_ready)
		event_free(d->ev_ready);
	free(d->tab);
	free(d);
	return NULL;
}

void
dns_free(struct dns *d)
{
	struct dns_wait *w;
	struct dns_req *r;
	struct event *ev;
	size_t i;
	int round;

	if (d == NULL)
		return;
	d->closing = true;
	while ((w = d->ready_head) != NULL) {
		ready_unlink(d, w);
		wait_release(d, w);
	}
	/* detach every request from its entry and ask evdns to give it back */
	for (r = d->reqs; r != NULL; r = r->next) {
		if (r->e != NULL) {
			r->e->req = NULL;
			r->e = NULL;
			evdns_cancel_request(d->edb, r->r);
		}
	}
	for (i = 0; i < d->tabsize; i++) {
		struct dns_entry *e, *next;
		for (e = d->tab[i]; e != NULL; e = next) {
			next = e->hnext;
			while ((w = e->waiters) != NULL) {
				e->waiters = w->next;
				free(w);
			}
			entry_free(e);
		}
	}
	/* the cancelled requests' callbacks are deferred: let the loop deliver them */
	for (round = 0; d->reqs != NULL && round < FREE_DRAIN_ROUNDS; round++)
		event_base_loop(d->base, EVLOOP_NONBLOCK);
	evdns_base_free(d->edb, 0);
	while ((r = d->reqs) != NULL) {
		d->reqs = r->next;
		free(r);
	}
	spares_free(&d->spare_waits, sizeof(struct dns_wait));
	spares_free(&d->spare_reqs, sizeof(struct dns_req));
	while ((ev = spare_pop(&d->spare_timers, event_get_struct_event_size())) != NULL)
		event_free(ev);
	event_free(d->ev_ready);
	free(d->tab);
	free(d);
}
