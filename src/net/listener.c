/* SPDX-License-Identifier: ISC */
/*
 * listener - sockets, connections and admission control (see listener.h).
 */
#include "net/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "capture/emit.h"
#include "core/log.h"
#include "core/util.h"
#include "enrich/enrich.h"
#include "enrich/p0f.h"
#include "enrich/syn.h"
#include "net/proxy.h"
#include "net/srcload.h"
#include "persona/persona.h"

/* The store's backlog (capture_pending), a ladder (docs/durability.md):
 * - above BEHIND the store is behind until the backlog is below BEHIND_END. The connections
 *   of a source whose /24 or /64 has lately cost the store more than a share of what the store
 *   writes per second are not read (backpressure: conn_throttle), new ones from it are greeted
 *   and then wait likewise, until the store has caught up with that source; quiet sources are
 *   served as usual. Nothing is cut and nobody is refused: a flood slows to what the store
 *   can record, as a busy server slows its clients, while everyone else goes on.
 * - above SHED every new session gets the 421 (limit store_backlog) until below SHED_END: the
 *   backstop when many sources each under their share still outrun the store.
 * - above PAUSE accepting stops until below PAUSE_END.
 * Further up the capture itself drops body chunks, then events: see emit.h. */
#define CAPTURE_BEHIND (16u * 1024u * 1024u)
#define CAPTURE_BEHIND_END (4u * 1024u * 1024u)
#define CAPTURE_SHED (96u * 1024u * 1024u)
#define CAPTURE_SHED_END (48u * 1024u * 1024u)
#define CAPTURE_PAUSE (192u * 1024u * 1024u)
#define CAPTURE_PAUSE_END (64u * 1024u * 1024u)
#define BEHIND_LOG_MS 10000 /* while behind, the backlog is logged this often */
/* the housekeeping tick: backpressure decisions, the drain rate, stress mode. Paused sources
 * are resumed on it, so a long tick leaves the store idle after it has caught up. */
#define HOUSEKEEP_MS 25
/* shedding by source: a prefix may cost a share of the store's drain rate, at least
 * SOURCE_FLOOR bytes/s; its cost halves every SOURCE_HALFLIFE_MS; SOURCE_SLOTS prefixes are
 * tracked (40 bytes each). The share starts at SOURCE_SHARE each time the store falls behind;
 * every SHARE_STEP_MS in which the backlog did not shrink by SHARE_DRAIN it shrinks by
 * SHARE_DOWN (to SHARE_MIN at the least), else it grows back by SHARE_UP: when many sources
 * each under their share outrun the store, the share comes down until the store catches up.
 * A max_per_ip refusal while behind is answered after TARPIT_MS: a client
 * that reconnects at once comes back a few times a second instead of a thousand, and each
 * refusal costs the store four events. */
#define SOURCE_SHARE 0.25
#define SHARE_MIN (1.0 / 64.0)
#define SHARE_DOWN 0.75
#define SHARE_UP 1.1
#define SHARE_STEP_MS 1000
#define SHARE_DRAIN (256u * 1024u)
#define TARPIT_MS 3000
#define SOURCE_FLOOR (64.0 * 1024.0)
#define SOURCE_HALFLIFE_MS 5000
#define SOURCE_SLOTS 16384
/* the drain rate: measured while the backlog is over DRAIN_BUSY (the store is then writing as
 * fast as it can), averaged over DRAIN_TAU_MS; DRAIN_INITIAL until first measured */
#define DRAIN_BUSY (1u * 1024u * 1024u)
#define DRAIN_TAU_MS 2000.0
#define DRAIN_INITIAL (1024.0 * 1024.0)
/* the last max_sessions / RESERVE_DIV sessions are only for source prefixes that hold fewer
 * than RESERVE_HOLDING: a burst from a few networks cannot take every slot */
#define RESERVE_DIV 8
#define RESERVE_HOLDING 4
#define OVERLOAD_SLACK 1024 /* connections beyond max_sessions still answered 421 */
#define LISTEN_BACKLOG 4096
#define TRIM_AFTER 256   /* give freed memory back once idle after this many sessions */
#define IPTAB_SIZE 65536 /* per-IP counters: open addressing, power of two */
#define PROXY_TIMEOUT_MS 5000
#define LINGER_MS                                                                                  \
	2000 /* after our last reply: read and discard, so a closing reply reaches a               \
	      * client still sending (a close with unread data would reset it) */

struct srv_listener {
	struct server *srv;
	struct evconnlistener *lev;
	struct listener_conf conf;
	struct smtp_env env; /* the caller's, with limits pointing at the server's live ones */
	int port;
};

struct outq {
	struct outq *next;
	int delay_ms;
	size_t len;
	char data[];
};

struct conn {
	struct server *srv;
	struct srv_listener *l;
	struct conn *prev, *next;
	struct bufferevent *bev;
	struct smtp_session *sess;
	struct enrich_sess *es; /* NULL: not enriched */
	struct event *timer;    /* reply delays */
	struct event *deadline; /* whole-command and lifetime deadlines */
	struct outq *q_head, *q_tail;
	struct conn *flush_next; /* on srv->flush: replies due, written at the end of the pass */
	bool on_flush;
	struct smtp_conn info;
	unsigned char *syn; /* the peer's SYN, IP + TCP headers (TCP_SAVED_SYN); NULL if none */
	size_t syn_len;
	unsigned char ipkey[16];
	unsigned char pfx[16]; /* the source's prefix, the key of its load (srcload) */
	uint64_t t_start_ms;
	uint64_t cmd_start_ms; /* 0 = no command in progress */
	int tarpit_ms;         /* added to the delay of the next reply (a refusal) */
	bool banner_written;
	bool proxy_wait;
	bool trusted; /* from a proxy_from address: its SYN is the proxy's, never fingerprinted */
	bool closing;
	bool lingering; /* our side is shut down; reading and discarding until EOF */
	bool counted;
	bool throttled; /* not read while its source costs the store too much (backpressure) */
};

struct ipslot {
	unsigned char key[16];
	unsigned count; /* 0 = free */
};

struct server {
	struct event_base *base;
	const struct config *cfg;
	struct capture *cap;
	struct enrich *enrich;
	struct srv_listener *ls[CONFIG_MAX_LISTENERS];
	size_t nls;
	struct conn *conns;
	size_t nconns;         /* connections, answered or being refused */
	size_t nadmitted;      /* of those, sessions admitted (max_sessions counts these) */
	struct ipslot *iptab;  /* sessions held per address (max_per_ip) */
	struct ipslot *pfxtab; /* sessions held per /24 or /64 (the reserve of max_sessions) */
	struct srcload *load;  /* what each source prefix lately cost the store */
	struct limits live;    /* the sessions' budgets (the configured ones) */
	struct event *resume;  /* EMFILE backoff */
	struct event *housekeep;
	struct event *ev_flush;   /* writes what this loop pass replied (flush_cb) */
	struct conn *flush;       /* connections with replies due */
	const struct p0f_db *p0f; /* for the debug log of each SYN; may be NULL */
	bool save_syn; /* the kernel keeps each client's SYN: OS enrichment or the debug log */
	bool paused_backlog;
	bool behind;   /* the store is behind: the costly sources are not read */
	bool shedding; /* the store is far behind: every new session gets 421 */
	bool paused_emfile;
	bool stopping;
	bool stress;          /* stress mode: short idle and command timeouts */
	unsigned stress_at;   /* sessions from which stress mode starts */
	size_t peak;          /* most connections since memory was last trimmed */
	uint64_t accepted;    /* connections accepted since start */
	uint64_t unanswered;  /* of those, closed at once beyond max_sessions + OVERLOAD_SLACK */
	double drain_bps;     /* bytes/s the store commits while busy (moving average) */
	uint64_t drain_acked; /* capture_queued - capture_pending at drain_t_ms */
	uint64_t drain_t_ms;
	size_t nthrottled;  /* connections not read at the moment (backpressure) */
	uint64_t throttles; /* times a connection was paused for its source's load */
	double share;       /* of drain_bps a source may cost while behind */
	size_t share_pend;  /* the backlog at share_t_ms */
	uint64_t share_t_ms;
	uint64_t behind_log_ms; /* when the backlog was last logged */
};

static void conn_free(struct conn *c);
static uint64_t now_ms(void);
static void conn_try_write(struct conn *c);

/* ------------------------------------------------------------------ per-IP table */

static uint32_t
ip_hash(const unsigned char k[16])
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < 16; i++)
		h = (h ^ k[i]) * 16777619u;
	return h;
}

/* ip_slot - the slot of key in tab (per address or per prefix), or the free slot where it
 * goes; NULL if the table is full */
static struct ipslot *
ip_slot(struct ipslot *tab, const unsigned char k[16])
{
	uint32_t i = ip_hash(k) & (IPTAB_SIZE - 1), n;
	struct ipslot *free_slot = NULL;

	for (n = 0; n < IPTAB_SIZE; n++, i = (i + 1) & (IPTAB_SIZE - 1)) {
		struct ipslot *s = &tab[i];
		if (s->count == 0) {
			/* linear probing without tombstones: a free slot ends the chain */
			return free_slot ? free_slot : s;
		}
		if (memcmp(s->key, k, 16) == 0)
			return s;
	}
	return free_slot;
}

/* ip_release - one connection from key ended; re-insert the rest of its chain so that
 * linear probing finds every key without tombstones */
static void
ip_release(struct ipslot *tab, const unsigned char k[16])
{
	struct ipslot *s = ip_slot(tab, k);
	uint32_t i, j;

	if (s == NULL || s->count == 0)
		return;
	if (--s->count > 0)
		return;
	i = (uint32_t)(s - tab);
	for (j = (i + 1) & (IPTAB_SIZE - 1); tab[j].count != 0; j = (j + 1) & (IPTAB_SIZE - 1)) {
		struct ipslot tmp = tab[j];
		tab[j].count = 0;
		struct ipslot *d = ip_slot(tab, tmp.key);
		*d = tmp;
	}
}

/* sa_key - a 16-byte key for an address (IPv4 as v4-mapped IPv6) and its printable form */
static void
sa_key(const struct sockaddr *sa, unsigned char key[16], char *str, size_t strl, int *port)
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &s4->sin_addr, 4);
		if (!fmt_ipv4(key + 12, str, strl))
			inet_ntop(AF_INET, &s4->sin_addr, str, (socklen_t)strl);
		*port = ntohs(s4->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		memcpy(key, &s6->sin6_addr, 16);
		if (!IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET6, &s6->sin6_addr, str, (socklen_t)strl);
		else if (!fmt_ipv4(key + 12, str, strl))
			inet_ntop(AF_INET, key + 12, str, (socklen_t)strl);
		*port = ntohs(s6->sin6_port);
	} else {
		strlcpy(str, "unknown", strl);
		*port = 0;
	}
}

/* ------------------------------------------------------------------ cost by source */

/* cap_mark - the capture's byte count now: what a callback adds to it is that callback's cost */
static uint64_t
cap_mark(const struct server *srv)
{
	return srv->cap ? capture_queued(srv->cap) : 0;
}

/* charge - what the store was given since mark goes on the account of the prefix pfx */
static void
charge(struct server *srv, const unsigned char pfx[16], uint64_t mark)
{
	uint64_t n = cap_mark(srv);

	if (n > mark)
		srcload_charge(srv->load, pfx, now_mono_us() / 1000u, n - mark);
}

/* source_limit - the recent cost (bytes/s) above which a source is refused while the store is
 * behind: a share of what the store writes per second, never under SOURCE_FLOOR */
static double
source_limit(const struct server *srv)
{
	double lim = srv->drain_bps * srv->share;

	return lim > SOURCE_FLOOR ? lim : SOURCE_FLOOR;
}

/* srv_tarpit_ms - how long a max_per_ip refusal waits while behind: TARPIT_MS, but nothing once the
 * connections (admitted or being refused) reach max_sessions, so that held refusals never
 * bring the engine near max_sessions + OVERLOAD_SLACK, where connections go unanswered */
static int
srv_tarpit_ms(const struct server *srv)
{
	return srv->nconns < srv->cfg->limits.max_sessions ? TARPIT_MS : 0;
}

/* source_over - the store is behind and c's source has lately cost it more than its share */
static bool
source_over(struct server *srv, const struct conn *c)
{
	return srv->behind && srcload_rate(srv->load, c->pfx, now_ms()) > source_limit(srv);
}

/* conn_throttle - stop or resume reading c: backpressure on the sources that outrun the
 * store. A paused client waits, as it would for a busy server; its command deadline does not
 * run meanwhile (conn_deadline_cb), its lifetime does. */
static void
conn_throttle(struct conn *c, bool on)
{
	struct server *srv = c->srv;

	if (c->throttled == on || (on && (c->closing || c->lingering)))
		return;
	c->throttled = on;
	if (on) {
		srv->nthrottled++;
		srv->throttles++;
		bufferevent_disable(c->bev, EV_READ);
		return;
	}
	srv->nthrottled--;
	if (c->cmd_start_ms != 0)
		c->cmd_start_ms = now_ms();
	if (!c->closing || c->lingering)
		bufferevent_enable(c->bev, EV_READ);
}

/* throttle_review - resume the paused connections whose source is no longer over its share
 * (or all of them once the store has caught up) */
static void
throttle_review(struct server *srv)
{
	struct conn *c, *next;

	for (c = srv->conns; c != NULL && srv->nthrottled > 0; c = next) {
		next = c->next;
		if (c->throttled && !source_over(srv, c))
			conn_throttle(c, false);
	}
}

/* srv_set_behind - enter or leave the backlog state; leaving it resumes every paused
 * connection */
static void
srv_set_behind(struct server *srv, bool on)
{
	srv->behind = on;
	if (!on)
		throttle_review(srv);
}

/* drain_update - every housekeeping tick: while the store is busy, what it committed per second
 * is what it can do; averaged over DRAIN_TAU_MS */
static void
drain_update(struct server *srv, size_t pend)
{
	uint64_t now = now_mono_us() / 1000u, acked, dt;
	double a;

	if (srv->cap == NULL)
		return;
	acked = capture_queued(srv->cap) - pend;
	dt = now - srv->drain_t_ms;
	if (srv->drain_t_ms != 0 && dt > 0 && pend >= DRAIN_BUSY && acked >= srv->drain_acked) {
		a = (double)dt / DRAIN_TAU_MS;
		if (a > 1.0)
			a = 1.0;
		srv->drain_bps +=
		    a * ((double)(acked - srv->drain_acked) * 1000.0 / (double)dt - srv->drain_bps);
	}
	srv->drain_acked = acked;
	srv->drain_t_ms = now;
}

/* srv_idle_ms / srv_cmd_ms - the idle and whole-command timeouts now: under stress the short
 * one, as postscreen does, so that slow and silent clients give their slots back */
static uint64_t
srv_idle_ms(const struct server *srv)
{
	const struct limits *lim = &srv->cfg->limits;

	if (srv->stress && lim->stress_timeout_ms < lim->idle_timeout_ms)
		return lim->stress_timeout_ms;
	return lim->idle_timeout_ms;
}

static uint64_t
srv_cmd_ms(const struct server *srv)
{
	const struct limits *lim = &srv->cfg->limits;

	if (srv->stress && lim->stress_timeout_ms < lim->cmd_timeout_ms)
		return lim->stress_timeout_ms;
	return lim->cmd_timeout_ms;
}

/* ------------------------------------------------------------------ output queue */

static uint64_t
now_ms(void)
{
	return now_mono_us() / 1000u;
}

/* conn_hook_reply - the engine's reply hook: queue, write when its delay has passed */
static void
conn_hook_reply(void *ctx, const char *buf, size_t len, int delay_ms)
{
	struct conn *c = ctx;
	struct outq *q = malloc(sizeof(*q) + len);

	if (q == NULL) {
		log_err("session=%s out of memory queueing a reply", smtp_session_id(c->sess));
		return;
	}
	q->next = NULL;
	q->delay_ms = delay_ms + c->tarpit_ms;
	c->tarpit_ms = 0;
	q->len = len;
	memcpy(q->data, buf, len);
	if (c->q_tail)
		c->q_tail->next = q;
	else
		c->q_head = q;
	c->q_tail = q;
	conn_try_write(c);
}

/* conn_hook_helo, conn_hook_message - the engine's enrichment hooks */
static void
conn_hook_helo(void *ctx, const char *name, size_t len)
{
	enrich_helo(((struct conn *)ctx)->es, name, len);
}

static void
conn_hook_message(void *ctx, const char *x_mailer, size_t len)
{
	enrich_message(((struct conn *)ctx)->es, x_mailer, len);
}

static void
conn_hook_close(void *ctx)
{
	struct conn *c = ctx;

	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	conn_try_write(c);
}

/* conn_linger - all replies are written: half-close and discard input until EOF or timeout */
static void
conn_linger(struct conn *c)
{
	struct timeval tv = {LINGER_MS / 1000, (LINGER_MS % 1000) * 1000};

	c->lingering = true;
	shutdown(bufferevent_getfd(c->bev), SHUT_WR);
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	bufferevent_enable(c->bev, EV_READ);
	evtimer_del(c->deadline);
	evtimer_add(c->timer, &tv);
}

/* conn_timer_cb - a reply's delay has passed */
static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (c->lingering) {
		conn_free(c);
		return;
	}
	if (c->closing && c->q_head == NULL &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_linger(c);
		return;
	}
	if (c->q_head)
		c->q_head->delay_ms = 0;
	conn_try_write(c);
}

/* conn_try_write - have the replies that are due written once this loop pass has made all
 * of its replies (flush_cb): one write per connection and pass, pipelined replies together
 * as a bufferevent would send them, without a write event armed and disarmed (two
 * epoll_ctl and a loop pass) for each reply */
static void
conn_try_write(struct conn *c)
{
	struct server *srv = c->srv;

	/* a reply due now counts as sent for what the client does next in this pass (input
	 * read with the PROXY header that started the session is not a pre-greeting) */
	if (c->q_head != NULL && c->q_head->delay_ms == 0)
		c->banner_written = true;
	if (c->on_flush)
		return;
	c->on_flush = true;
	c->flush_next = srv->flush;
	srv->flush = c;
	event_active(srv->ev_flush, EV_TIMEOUT, 1);
}

/* conn_write_due - write the replies whose delay is over, in order; each reply whole in one
 * write. They go straight to the socket when nothing waits before them, which is nearly
 * always: what does not fit, and an error, goes through the bufferevent (which then
 * reports the error). A reply still in its delay arms the timer. */
static void
conn_write_due(struct conn *c)
{
	struct iovec iov[16];
	struct msghdr mh = {.msg_iov = iov};
	struct outq *q;
	size_t sent = 0;
	ssize_t r;

	for (q = c->q_head; q != NULL && q->delay_ms == 0 && mh.msg_iovlen < ARRAY_LEN(iov);
	     q = q->next) {
		iov[mh.msg_iovlen].iov_base = q->data;
		iov[mh.msg_iovlen++].iov_len = q->len;
	}
	if (mh.msg_iovlen > 0 && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		r = sendmsg(bufferevent_getfd(c->bev), &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r > 0)
			sent = (size_t)r;
	}
	while ((q = c->q_head) != NULL) {
		if (q->delay_ms > 0) {
			struct timeval tv = {q->delay_ms / 1000, (q->delay_ms % 1000) * 1000};
			if (!evtimer_pending(c->timer, NULL))
				evtimer_add(c->timer, &tv);
			return;
		}
		if (sent >= q->len) {
			sent -= q->len;
		} else {
			bufferevent_write(c->bev, q->data + sent, q->len - sent);
			sent = 0;
		}
		smtp_session_note_bytes_out(c->sess, q->len);
		c->q_head = q->next;
		if (c->q_head == NULL)
			c->q_tail = NULL;
		free(q);
	}
	/* never free from here (the loop pass may still hold c) */
	if (c->closing && !c->lingering && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		event_active(c->timer, EV_TIMEOUT, 1);
}

/* flush_cb - the end of a loop pass's callbacks: write each connection's due replies */
static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct conn *c;

	while ((c = srv->flush) != NULL) {
		srv->flush = c->flush_next;
		c->on_flush = false;
		conn_write_due(c);
	}
}

/* ------------------------------------------------------------------ connection */

static void
conn_arm_deadline(struct conn *c)
{
	const struct limits *lim = &c->srv->cfg->limits;
	uint64_t now = now_ms(), due = c->t_start_ms + lim->session_max_ms, left;
	uint64_t cmd_ms = srv_cmd_ms(c->srv);
	struct timeval tv;

	if (c->cmd_start_ms != 0 && c->cmd_start_ms + cmd_ms < due)
		due = c->cmd_start_ms + cmd_ms;
	left = due > now ? due - now : 0;
	tv.tv_sec = (time_t)(left / 1000);
	tv.tv_usec = (suseconds_t)((left % 1000) * 1000);
	evtimer_add(c->deadline, &tv);
}

static void
conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	const struct limits *lim = &c->srv->cfg->limits;
	uint64_t now = now_ms();

	if (c->sess == NULL) {
		/* a trusted proxy that never sent its header */
		conn_free(c);
		return;
	}
	uint64_t mark = cap_mark(c->srv);

	if (now >= c->t_start_ms + lim->session_max_ms)
		smtp_session_timeout(c->sess, SMTP_TO_LIFETIME);
	else if (c->cmd_start_ms != 0 && !c->throttled &&
	         now >= c->cmd_start_ms + srv_cmd_ms(c->srv))
		smtp_session_timeout(c->sess, SMTP_TO_CMD);
	else
		conn_arm_deadline(c);
	charge(c->srv, c->pfx, mark);
}

/* conn_start_session - the addresses are final: make the session and greet; false when c
 * is gone (no memory for the session) */
static bool
conn_start_session(struct conn *c)
{
	struct server *srv = c->srv;
	const struct config *cfg = srv->cfg;
	struct smtp_hooks hooks = {c, conn_hook_reply, conn_hook_close, conn_hook_helo,
	                           conn_hook_message};
	struct ipslot *slot, *pslot;
	uint64_t mark = cap_mark(srv);
	unsigned reserve = cfg->limits.max_sessions / RESERVE_DIV;

	srcload_prefix(c->ipkey, c->pfx);
	c->sess = smtp_session_new(&c->l->env, &c->info, &hooks);
	if (c->sess == NULL) {
		conn_free(c);
		return false;
	}
	if (srv->nadmitted >= cfg->limits.max_sessions) {
		smtp_session_overload(c->sess, "max_sessions", cfg->limits.max_sessions);
		goto out;
	}
	pslot = ip_slot(srv->pfxtab, c->pfx);
	if (srv->nadmitted >= cfg->limits.max_sessions - reserve &&
	    (pslot == NULL || pslot->count >= RESERVE_HOLDING)) {
		/* the last slots are for sources that hold few: the value recorded is the bound
		 * that applied */
		smtp_session_overload(c->sess, "max_sessions", cfg->limits.max_sessions - reserve);
		goto out;
	}
	if (srv->shedding) {
		smtp_session_overload(c->sess, "store_backlog", CAPTURE_SHED / (1024u * 1024u));
		goto out;
	}
	slot = ip_slot(srv->iptab, c->ipkey);
	if (slot == NULL || (slot->count >= cfg->limits.max_per_ip) || pslot == NULL) {
		if (srv->behind)
			c->tarpit_ms = srv_tarpit_ms(srv);
		smtp_session_overload(c->sess, "max_per_ip", cfg->limits.max_per_ip);
		goto out;
	}
	if (slot->count == 0)
		memcpy(slot->key, c->ipkey, 16);
	slot->count++;
	if (pslot->count == 0)
		memcpy(pslot->key, c->pfx, 16);
	pslot->count++;
	c->counted = true;
	srv->nadmitted++;
	/* the source is final here (after any PROXY header); refused sessions are not enriched */
	/* (from a trusted proxy the SYN is the proxy's: no OS fingerprint then, also after a
	 * LOCAL header, and whatever the log level) */
	c->es = enrich_session_new(srv->enrich, smtp_session_prefix(c->sess), c->info.src_ip,
	                           c->trusted ? NULL : c->syn, c->syn_len);
	smtp_session_start(c->sess);
	conn_arm_deadline(c);
	/* a source over its share is served as a busy server serves: greeted, then read once
	 * the store has caught up with it */
	if (source_over(srv, c))
		conn_throttle(c, true);
out:
	charge(srv, c->pfx, mark);
	return true;
}

/* conn_proxy - wait for and apply the PROXY header of a trusted proxy; false while more is
 * needed and when c is gone (a bad header, or no memory for the session) */
static bool
conn_proxy(struct conn *c, struct evbuffer *in)
{
	size_t len = evbuffer_get_length(in);
	size_t k = len < PROXY_V2_MAX ? len : PROXY_V2_MAX;
	unsigned char *p = evbuffer_pullup(in, (ev_ssize_t)k);
	struct proxy_info pi;
	enum proxy_result r = proxy_parse(p, k, &pi);
	char ip[64];

	if (r == PROXY_NEED_MORE && len < PROXY_V2_MAX)
		return false;
	if (r == PROXY_NEED_MORE || r == PROXY_BAD) {
		str_escape_log(p, k > 40 ? 40 : k, ip, sizeof(ip));
		log_warn("listener=%s proxy=%s bad PROXY header \"%s\"; closing", c->l->conf.name,
		         c->info.peer_ip, ip);
		conn_free(c);
		return false;
	}
	evbuffer_drain(in, pi.consumed);
	c->proxy_wait = false;
	if (r == PROXY_OK) {
		c->info.proxied = true;
		c->info.proxy_version = pi.version;
		sa_key((struct sockaddr *)&pi.src, c->ipkey, c->info.src_ip, sizeof(c->info.src_ip),
		       &c->info.src_port);
		unsigned char dk[16];
		sa_key((struct sockaddr *)&pi.dst, dk, c->info.dst_ip, sizeof(c->info.dst_ip),
		       &c->info.dst_port);
	}
	return conn_start_session(c);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint64_t mark;

	if (c->lingering) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	if (c->proxy_wait) {
		if (!conn_proxy(c, in))
			return;
	}
	if (c->closing || c->sess == NULL) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	mark = cap_mark(c->srv);
	if (!c->banner_written && evbuffer_get_length(in) > 0)
		smtp_session_pregreet(c->sess, evbuffer_get_length(in));
	smtp_session_input(c->sess, in);
	charge(c->srv, c->pfx, mark);
	if (c->closing)
		return;
	if (source_over(c->srv, c))
		conn_throttle(c, true);
	if (smtp_session_mid_command(c->sess)) {
		if (c->cmd_start_ms == 0) {
			c->cmd_start_ms = now_ms();
			conn_arm_deadline(c);
		}
	} else if (c->cmd_start_ms != 0) {
		c->cmd_start_ms = 0;
		conn_arm_deadline(c);
	}
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->closing && !c->lingering && c->q_head == NULL)
		conn_linger(c);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & BEV_EVENT_TIMEOUT) {
		if (c->sess == NULL) {
			conn_free(c);
			return;
		}
		/* idle: the read timeout fired; answer and close */
		uint64_t mark = cap_mark(c->srv);
		bufferevent_enable(bev, EV_WRITE);
		smtp_session_timeout(c->sess, SMTP_TO_IDLE);
		charge(c->srv, c->pfx, mark);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (c->sess && !c->lingering) {
			uint64_t mark = cap_mark(c->srv);
			smtp_session_eof(c->sess);
			charge(c->srv, c->pfx, mark);
		}
		conn_free(c);
	}
}

static void
conn_free(struct conn *c)
{
	struct server *srv = c->srv;
	uint64_t mark = cap_mark(srv);

	if (c->throttled)
		srv->nthrottled--;
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	if (c->counted) {
		srv->nadmitted--;
		ip_release(srv->iptab, c->ipkey);
		ip_release(srv->pfxtab, c->pfx);
	}
	smtp_session_free(c->sess); /* the closed event */
	if (c->sess != NULL)
		charge(srv, c->pfx, mark);
	if (c->on_flush) {
		struct conn **pp = &srv->flush;
		while (*pp != c)
			pp = &(*pp)->flush_next;
		*pp = c->flush_next;
	}
	free(c->syn);
	enrich_session_end(c->es);
	while (c->q_head) {
		struct outq *q = c->q_head;
		c->q_head = q->next;
		free(q);
	}
	event_free(c->timer);
	event_free(c->deadline);
	bufferevent_free(c->bev);
	free(c);
}

/* conn_save_syn - take the peer's SYN the kernel kept for this connection (TCP_SAVE_SYN on
 * the listener); the kernel hands it out once and frees it. It is the TCP peer's: a proxy's
 * when a PROXY header follows. */
static void
conn_save_syn(struct conn *c, int fd)
{
	unsigned char buf[SYN_BYTES_MAX];
	socklen_t len = sizeof(buf);
	struct syn_info si;
	struct p0f_match m;
	const char *why = NULL;
	char sig[P0F_SIG_STR_MAX];

	if (getsockopt(fd, IPPROTO_TCP, TCP_SAVED_SYN, buf, &len) == -1 || len == 0)
		return;
	c->syn = malloc(len);
	if (c->syn == NULL)
		return;
	memcpy(c->syn, buf, len);
	c->syn_len = len;
	if (log_get_level() < LOG_LVL_DEBUG)
		return;
	if (syn_parse(c->syn, c->syn_len, &si, &why) == -1) {
		log_debug("listener=%s peer=%s peer_port=%d syn_len=%zu syn_bad=\"%s\"",
		          c->l->conf.name, c->info.peer_ip, c->info.peer_port, c->syn_len, why);
		return;
	}
	p0f_match(c->srv->p0f, &si, &m);
	p0f_sig_string(&si, sig, sizeof(sig));
	log_debug("listener=%s peer=%s peer_port=%d syn_len=%zu syn_sig=%s os=\"%s:%s:%s\" "
	          "os_match=%s os_distance=%d",
	          c->l->conf.name, c->info.peer_ip, c->info.peer_port, c->syn_len, sig,
	          m.os_class ? m.os_class : "", m.os_name ? m.os_name : "",
	          m.os_flavor ? m.os_flavor : "", p0f_match_name(m.kind), m.distance);
}

static void
null_reply(void *ctx, const char *buf, size_t len, int delay_ms)
{
}

static void
null_close(void *ctx)
{
}

/* refuse_unanswered - far beyond max_sessions (or while stopping): close at once without a
 * word, but record the session and the limit like every other, so that the recorded sessions
 * are exactly the accepted connections */
static void
refuse_unanswered(struct srv_listener *l, evutil_socket_t fd, struct sockaddr *sa)
{
	struct server *srv = l->srv;
	struct smtp_hooks hooks = {NULL, null_reply, null_close, NULL, NULL};
	struct sockaddr_storage local;
	socklen_t ll = sizeof(local);
	unsigned char key[16];
	struct smtp_conn info;
	struct smtp_session *s;
	unsigned char pfx[16];
	uint64_t mark = cap_mark(srv);

	memset(&info, 0, sizeof(info));
	strlcpy(info.listener, l->conf.name, sizeof(info.listener));
	sa_key(sa, key, info.src_ip, sizeof(info.src_ip), &info.src_port);
	srcload_prefix(key, pfx);
	strlcpy(info.peer_ip, info.src_ip, sizeof(info.peer_ip));
	info.peer_port = info.src_port;
	if (getsockname(fd, (struct sockaddr *)&local, &ll) == 0)
		sa_key((struct sockaddr *)&local, key, info.dst_ip, sizeof(info.dst_ip),
		       &info.dst_port);
	evutil_closesocket(fd);
	srv->unanswered++;
	s = smtp_session_new(&l->env, &info, &hooks);
	if (s == NULL)
		return;
	if (srv->stopping)
		smtp_session_shutdown(s);
	else
		smtp_session_overload(s, "max_sessions", srv->cfg->limits.max_sessions);
	smtp_session_free(s);
	charge(srv, pfx, mark);
}

static void
accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct srv_listener *l = arg;
	struct server *srv = l->srv;
	const struct config *cfg = srv->cfg;
	struct sockaddr_storage local;
	socklen_t ll = sizeof(local);
	struct conn *c;
	struct timeval idle;
	size_t i;
	bool trusted = false;

	srv->accepted++;
	if (srv->stopping || srv->nconns >= (size_t)cfg->limits.max_sessions + OVERLOAD_SLACK) {
		/* far beyond the budget: do not even answer, protect the daemon */
		refuse_unanswered(l, fd, sa);
		return;
	}
	c = zalloc(sizeof(*c));
	if (c == NULL) {
		evutil_closesocket(fd);
		return;
	}
	c->srv = srv;
	c->l = l;
	c->t_start_ms = now_ms();
	strlcpy(c->info.listener, l->conf.name, sizeof(c->info.listener));
	sa_key(sa, c->ipkey, c->info.src_ip, sizeof(c->info.src_ip), &c->info.src_port);
	srcload_prefix(c->ipkey, c->pfx);
	strlcpy(c->info.peer_ip, c->info.src_ip, sizeof(c->info.peer_ip));
	c->info.peer_port = c->info.src_port;
	if (getsockname(fd, (struct sockaddr *)&local, &ll) == 0) {
		unsigned char dk[16];
		sa_key((struct sockaddr *)&local, dk, c->info.dst_ip, sizeof(c->info.dst_ip),
		       &c->info.dst_port);
	}
	c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->timer = evtimer_new(srv->base, conn_timer_cb, c);
	c->deadline = evtimer_new(srv->base, conn_deadline_cb, c);
	if (c->bev == NULL || c->timer == NULL || c->deadline == NULL) {
		if (c->bev)
			bufferevent_free(c->bev);
		else
			evutil_closesocket(fd);
		if (c->timer)
			event_free(c->timer);
		if (c->deadline)
			event_free(c->deadline);
		free(c);
		return;
	}
	if (l->conf.proxy_protocol)
		for (i = 0; i < cfg->nproxy_from && !trusted; i++)
			trusted = cidr_match(&cfg->proxy_from[i], sa);
	/* behind a PROXY header the SYN is the proxy's: of no use but to the debug log */
	c->trusted = trusted;
	if (srv->save_syn && (!trusted || log_get_level() >= LOG_LVL_DEBUG))
		conn_save_syn(c, fd);
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	if (srv->nconns > srv->peak)
		srv->peak = srv->nconns;
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	idle.tv_sec = (time_t)(srv_idle_ms(srv) / 1000);
	idle.tv_usec = (suseconds_t)((srv_idle_ms(srv) % 1000) * 1000);
	bufferevent_set_timeouts(c->bev, &idle, NULL);
	/* bound what one read may pull in: the engine consumes it before the next */
	bufferevent_setwatermark(c->bev, EV_READ, 0, 256 * 1024);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);

	if (trusted) {
		struct timeval tv = {PROXY_TIMEOUT_MS / 1000, 0};
		c->proxy_wait = true;
		evtimer_add(c->deadline, &tv);
		return;
	}
	conn_start_session(c);
}

/* ------------------------------------------------------------------ admission */

static void
server_pause(struct server *srv, bool pause)
{
	for (size_t i = 0; i < srv->nls; i++) {
		if (pause)
			evconnlistener_disable(srv->ls[i]->lev);
		else
			evconnlistener_enable(srv->ls[i]->lev);
	}
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	srv->paused_emfile = false;
	if (!srv->paused_backlog && !srv->stopping)
		server_pause(srv, false);
}

/* accept_error_cb - EMFILE/ENFILE and friends: stop accepting for a moment */
static void
accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct srv_listener *l = arg;
	struct server *srv = l->srv;
	struct timeval tv = {0, 100000};
	int e = EVUTIL_SOCKET_ERROR();

	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
		if (!srv->paused_emfile)
			log_warn("accept: %s; pausing accepts for 100 ms", strerror(e));
		srv->paused_emfile = true;
		server_pause(srv, true);
		evtimer_add(srv->resume, &tv);
	} else {
		log_warn("accept: %s", strerror(e));
	}
}

/* stress_check - enter stress mode at stress_at sessions, leave it below 7/8 of that. Entering
 * shortens the timeouts of the sessions already open too: they are the ones holding the slots.
 * Sessions keep the timeouts they were given when stress mode ends. */
static void
stress_check(struct server *srv)
{
	uint64_t ms;
	struct timeval tv;
	struct conn *c;

	if (!srv->stress && srv->nconns >= srv->stress_at) {
		srv->stress = true;
		ms = srv_idle_ms(srv);
		log_warn("stress: %zu sessions (stress_sessions %u): idle and command timeouts now "
		         "%llu ms",
		         srv->nconns, srv->stress_at, (unsigned long long)srv_cmd_ms(srv));
		tv.tv_sec = (time_t)(ms / 1000);
		tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
		for (c = srv->conns; c != NULL; c = c->next) {
			if (c->sess == NULL || c->lingering || c->closing)
				continue;
			bufferevent_set_timeouts(c->bev, &tv, NULL);
			conn_arm_deadline(c);
		}
	} else if (srv->stress && srv->nconns < srv->stress_at - srv->stress_at / 8) {
		srv->stress = false;
		log_info("stress over: %zu sessions", srv->nconns);
	}
}

/* housekeep_cb - store backpressure (the ladder above CAPTURE_BEHIND), the store's drain rate,
 * stress mode; once idle after a burst, hand the freed heap back to the system */
static void
housekeep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	size_t pend = srv->cap ? capture_pending(srv->cap) : 0;

	stress_check(srv);
	drain_update(srv, pend);
	if (srv->nconns == 0 && pend == 0 && srv->peak >= TRIM_AFTER) {
		srv->peak = 0;
#ifdef __GLIBC__
		malloc_trim(0);
#endif
	}

	if (srv->behind && now_ms() - srv->share_t_ms >= SHARE_STEP_MS) {
		if (pend + SHARE_DRAIN > srv->share_pend)
			srv->share = srv->share * SHARE_DOWN > SHARE_MIN ? srv->share * SHARE_DOWN
			                                                 : SHARE_MIN;
		else
			srv->share = srv->share * SHARE_UP < SOURCE_SHARE ? srv->share * SHARE_UP
			                                                  : SOURCE_SHARE;
		srv->share_pend = pend;
		srv->share_t_ms = now_ms();
	}
	if (!srv->behind && pend > CAPTURE_BEHIND) {
		srv_set_behind(srv, true);
		srv->behind_log_ms = srv->share_t_ms = now_ms();
		srv->share_pend = pend;
		srv->share = SOURCE_SHARE;
		log_warn("store is %zu bytes behind, committing %.1f MB/s: pausing the sessions of "
		         "sources costing over %.0f KiB/s",
		         pend, srv->drain_bps / 1e6, source_limit(srv) / 1024.0);
	} else if (srv->behind && pend < CAPTURE_BEHIND_END) {
		srv_set_behind(srv, false);
		log_info("store caught up; every source read again (%llu pauses so far)",
		         (unsigned long long)srv->throttles);
	} else if (srv->behind && now_ms() - srv->behind_log_ms >= BEHIND_LOG_MS) {
		srv->behind_log_ms = now_ms();
		log_info("store still %zu bytes behind, committing %.1f MB/s: sources over %.0f "
		         "KiB/s paused (%zu connections now, %llu pauses so far)",
		         pend, srv->drain_bps / 1e6, source_limit(srv) / 1024.0, srv->nthrottled,
		         (unsigned long long)srv->throttles);
	}
	/* the share moved, sources cooled down: resume who may go on */
	if (srv->nthrottled > 0)
		throttle_review(srv);
	if (!srv->shedding && pend > CAPTURE_SHED) {
		log_warn("store is %zu bytes behind; answering every new session with 421", pend);
		srv->shedding = true;
	} else if (srv->shedding && pend < CAPTURE_SHED_END) {
		log_info("store less behind; taking new sessions again");
		srv->shedding = false;
	}
	if (!srv->paused_backlog && pend > CAPTURE_PAUSE) {
		log_warn("store is %zu bytes behind; pausing accepts", pend);
		srv->paused_backlog = true;
		server_pause(srv, true);
	} else if (srv->paused_backlog && pend < CAPTURE_PAUSE_END) {
		log_info("store less behind; accepting again");
		srv->paused_backlog = false;
		if (!srv->paused_emfile && !srv->stopping)
			server_pause(srv, false);
	}
}

struct server *
server_new(struct event_base *base, const struct config *cfg, struct capture *cap)
{
	struct server *srv = calloc(1, sizeof(*srv));
	struct timeval tv = {0, HOUSEKEEP_MS * 1000};

	if (srv == NULL)
		return NULL;
	srv->base = base;
	srv->cfg = cfg;
	srv->save_syn = cfg->enrich_os || log_get_level() >= LOG_LVL_DEBUG;
	srv->cap = cap;
	srv->stress_at = cfg->limits.stress_sessions > 0 ? cfg->limits.stress_sessions
	                                                 : cfg->limits.max_sessions / 4 * 3;
	if (srv->stress_at == 0)
		srv->stress_at = 1;
	srv->live = cfg->limits;
	srv->drain_bps = DRAIN_INITIAL;
	srv->share = SOURCE_SHARE;
	srv->iptab = calloc(IPTAB_SIZE, sizeof(*srv->iptab));
	srv->pfxtab = calloc(IPTAB_SIZE, sizeof(*srv->pfxtab));
	srv->load = srcload_new(SOURCE_SLOTS, SOURCE_HALFLIFE_MS);
	srv->resume = evtimer_new(base, resume_cb, srv);
	srv->housekeep = event_new(base, -1, EV_PERSIST, housekeep_cb, srv);
	srv->ev_flush = event_new(base, -1, 0, flush_cb, srv);
	if (srv->iptab == NULL || srv->pfxtab == NULL || srv->load == NULL || srv->resume == NULL ||
	    srv->housekeep == NULL || srv->ev_flush == NULL) {
		server_free(srv);
		return NULL;
	}
	evtimer_add(srv->housekeep, &tv);
	return srv;
}

int
server_listen(struct server *srv, const struct listener_conf *lc, const struct smtp_env *env,
              char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct srv_listener *l;
	int fd, on = 1, off = 0, ttl = persona_ttl(env->persona);
	const char *addr = lc->address[0] ? lc->address : "::";

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)lc->port);
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)lc->port);
		sl = sizeof(struct sockaddr_in6);
	} else {
		snprintf(err, errlen, "listener %s: '%s' is not a numeric IPv4 or IPv6 address",
		         lc->name, addr);
		return -1;
	}
	if (srv->nls >= CONFIG_MAX_LISTENERS) {
		snprintf(err, errlen, "too many listeners");
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "listener %s: socket: %s", lc->name, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	/* keep each client's SYN headers for its OS fingerprint (Linux 4.2+; without it there
	 * is simply no fingerprint); with OS enrichment off the kernel keeps no copies and no
	 * connection pays a getsockopt for one, unless the debug log shows them */
	if (srv->save_syn)
		setsockopt(fd, IPPROTO_TCP, TCP_SAVE_SYN, &on, sizeof(on));
	if (ss.ss_family == AF_INET6 && lc->address[0] == '\0')
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	/* the persona's IP TTL: accepted sockets (and the SYN-ACK) inherit it */
	if (ttl > 0) {
		setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl));
		if (ss.ss_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof(ttl));
	}
	/* A deep accept queue: a flood of connections waits there for a moment of CPU instead
	 * of being dropped unrecorded by the kernel (the kernel caps it at somaxconn). */
	if (bind(fd, (struct sockaddr *)&ss, sl) == -1 || listen(fd, LISTEN_BACKLOG) == -1) {
		snprintf(err, errlen, "listener %s: cannot listen on %s port %d: %s%s", lc->name,
		         addr, lc->port, strerror(errno),
		         errno == EACCES ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
		                         : "");
		close(fd);
		return -1;
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	l->srv = srv;
	l->conf = *lc;
	l->env = *env;
	l->env.limits = &srv->live;
	l->lev = evconnlistener_new(srv->base, accept_cb, l, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (l->lev == NULL) {
		close(fd);
		free(l);
		snprintf(err, errlen, "listener %s: evconnlistener_new failed", lc->name);
		return -1;
	}
	evconnlistener_set_error_cb(l->lev, accept_error_cb);
	sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	l->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
	                                        : ((struct sockaddr_in6 *)&ss)->sin6_port);
	srv->ls[srv->nls++] = l;
	return 0;
}

void
server_set_p0f(struct server *srv, const struct p0f_db *db)
{
	srv->p0f = db;
}

void
server_set_enrich(struct server *srv, struct enrich *e)
{
	srv->enrich = e;
}

int
server_bound_port(const struct server *srv, size_t i)
{
	return i < srv->nls ? srv->ls[i]->port : -1;
}

size_t
server_sessions(const struct server *srv)
{
	return srv->nconns;
}

uint64_t
server_accepted(const struct server *srv, uint64_t *unanswered)
{
	if (unanswered != NULL)
		*unanswered = srv->unanswered;
	return srv->accepted;
}

void
server_shutdown(struct server *srv)
{
	struct conn *c, *next;

	srv->stopping = true;
	server_pause(srv, true);
	for (c = srv->conns; c != NULL; c = next) {
		next = c->next;
		if (c->sess == NULL) {
			conn_free(c);
			continue;
		}
		smtp_session_shutdown(c->sess);
	}
}

void
server_free(struct server *srv)
{
	size_t i;

	if (srv == NULL)
		return;
	while (srv->conns)
		conn_free(srv->conns);
	for (i = 0; i < srv->nls; i++) {
		evconnlistener_free(srv->ls[i]->lev);
		free(srv->ls[i]);
	}
	if (srv->resume)
		event_free(srv->resume);
	if (srv->housekeep)
		event_free(srv->housekeep);
	if (srv->ev_flush)
		event_free(srv->ev_flush);
	free(srv->iptab);
	free(srv->pfxtab);
	srcload_free(srv->load);
	free(srv);
}
