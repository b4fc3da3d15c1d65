/* SPDX-License-Identifier: ISC */
/*
 * smtpload - SMTP load generator for benchmarks: many concurrent connections on one libevent
 * loop, each optionally starting with a PROXY protocol v1 header whose source comes from a
 * pool of distinct addresses, then a whole session with one small message:
 *   banner, EHLO h-A-B-C-D.DOMAIN, MAIL, RCPT, DATA, message, QUIT.
 * When a session ends the next one starts, until the number of messages is reached.
 *
 * usage: smtpload [-c CONCURRENCY] [-n MESSAGES] [-p POOL] [-b BYTES] [-P] [-d DOMAIN]
 *                 [-s NET] [-t SECONDS] HOST:PORT
 *   -c  connections at once (default 50)        -n  messages in all (default 10000)
 *   -p  distinct source addresses (default 10000, from NET upward)
 *   -s  NET, the first source address (default 10.77.0.0)
 *   -b  message body bytes (default 512)        -P  send a PROXY v1 header first
 *   -d  HELO domain (default bench.example)     -t  give up after SECONDS (default 300)
 * Prints one line: "messages=N errors=E seconds=S msgs_per_s=R" (and exits 1 on errors).
 * Only the given address is contacted (the benchmarks use 127.0.0.1).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

enum step { ST_BANNER, ST_EHLO, ST_MAIL, ST_RCPT, ST_DATA, ST_BODY, ST_QUIT, ST_DONE };

struct load {
	struct event_base *base;
	struct sockaddr_storage ss;
	int sslen;
	unsigned concurrency, pool, body_bytes;
	uint32_t net; /* the first source address, host order */
	unsigned long total, started, done, errors;
	int proxy;
	const char *domain;
	char *body;
	size_t body_len;
	unsigned long next_src;
};

struct client {
	struct load *ld;
	struct bufferevent *bev;
	enum step step;
	unsigned src;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void client_start(struct load *ld);

static void
src_addr(const struct load *ld, unsigned i, char *out, size_t outlen)
{
	uint32_t a = ld->net + i;

	snprintf(out, outlen, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

/* client_end - this session is over (ok or not): start another while messages remain */
static void
client_end(struct client *c, int ok)
{
	struct load *ld = c->ld;

	if (ok)
		ld->done++;
	else
		ld->errors++;
	bufferevent_free(c->bev);
	free(c);
	if (ld->started < ld->total)
		client_start(ld);
	else if (ld->done + ld->errors >= ld->total)
		event_base_loopexit(ld->base, NULL);
}

static void
client_send(struct client *c, const char *s)
{
	bufferevent_write(c->bev, s, strlen(s));
}

/* client_read - complete replies: check the code, send the next command */
static void
client_read(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct load *ld = c->ld;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line, buf[300], ip[32];
	size_t n;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		int code = n >= 3 ? atoi(line) : 0;
		int more = n > 3 && line[3] == '-';
		free(line);
		if (more)
			continue;
		switch (c->step) {
		case ST_BANNER:
			if (code != 220)
				goto fail;
			src_addr(c->ld, c->src, ip, sizeof(ip));
			for (char *p = ip; *p; p++)
				if (*p == '.')
					*p = '-';
			snprintf(buf, sizeof(buf), "EHLO h-%s.%s\r\n", ip, ld->domain);
			client_send(c, buf);
			break;
		case ST_EHLO:
			if (code != 250)
				goto fail;
			client_send(c, "MAIL FROM:<load@bench.example>\r\n");
			break;
		case ST_MAIL:
			if (code != 250)
				goto fail;
			client_send(c, "RCPT TO:<victim@example.com>\r\n");
			break;
		case ST_RCPT:
			if (code != 250)
				goto fail;
			client_send(c, "DATA\r\n");
			break;
		case ST_DATA:
			if (code != 354)
				goto fail;
			bufferevent_write(bev, ld->body, ld->body_len);
			break;
		case ST_BODY:
			if (code != 250)
				goto fail;
			client_send(c, "QUIT\r\n");
			break;
		case ST_QUIT:
			client_end(c, code == 221);
			return;
		case ST_DONE:
			break;
		}
		c->step++;
	}
	return;
fail:
	client_end(c, 0);
}

static void
client_event(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		if (c->ld->proxy) {
			char ip[32], hdr[128];
			src_addr(c->ld, c->src, ip, sizeof(ip));
			snprintf(hdr, sizeof(hdr), "PROXY TCP4 %s 127.0.0.1 %u 25\r\n", ip,
			         40000 + c->src % 20000);
			client_send(c, hdr);
		}
		return;
	}
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF))
		client_end(c, 0);
}

static void
client_start(struct load *ld)
{
	struct client *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		ld->errors++;
		return;
	}
	ld->started++;
	c->ld = ld;
	c->src = (unsigned)(ld->next_src++ % ld->pool);
	c->bev = bufferevent_socket_new(ld->base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, client_read, NULL, client_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&ld->ss, ld->sslen) == -1)
		client_end(c, 0);
}

static void
usage(void)
{
	fprintf(stderr, "usage: smtpload [-c CONCURRENCY] [-n MESSAGES] [-p POOL] [-b BYTES] [-P] "
	                "[-d DOMAIN] [-s NET] [-t SECONDS] HOST:PORT\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct load ld;
	struct timeval limit = {300, 0};
	double t0, t;
	int ch;

	memset(&ld, 0, sizeof(ld));
	ld.concurrency = 50;
	ld.total = 10000;
	ld.pool = 10000;
	ld.body_bytes = 512;
	ld.domain = "bench.example";
	ld.net = 10u << 24 | 77u << 16;
	while ((ch = getopt(argc, argv, "c:n:p:b:Pd:s:t:h")) != -1) {
		switch (ch) {
		case 'c':
			ld.concurrency = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			ld.total = strtoul(optarg, NULL, 10);
			break;
		case 'p':
			ld.pool = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'b':
			ld.body_bytes = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'P':
			ld.proxy = 1;
			break;
		case 'd':
			ld.domain = optarg;
			break;
		case 's': {
			struct in_addr a;
			if (inet_pton(AF_INET, optarg, &a) != 1) {
				fprintf(stderr, "smtpload: -s '%s' is not an IPv4 address\n",
				        optarg);
				return 2;
			}
			ld.net = ntohl(a.s_addr);
			break;
		}
		case 't':
			limit.tv_sec = (time_t)strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || ld.concurrency == 0 || ld.total == 0 || ld.pool == 0 ||
	    ld.pool > 65536 * 16 || ld.net + (uint64_t)ld.pool - 1 > UINT32_MAX)
		usage();
	ld.sslen = sizeof(ld.ss);
	if (evutil_parse_sockaddr_port(argv[optind], (struct sockaddr *)&ld.ss, &ld.sslen) != 0) {
		fprintf(stderr, "smtpload: '%s' is not HOST:PORT (numeric)\n", argv[optind]);
		return 2;
	}
	/* the message: a few headers, then lines of text up to body_bytes, then the dot */
	ld.body = malloc(ld.body_bytes + 256);
	if (ld.body == NULL)
		return 1;
	ld.body_len = (size_t)snprintf(ld.body, 256,
	                               "From: load@bench.example\r\nTo: victim@example.com\r\n"
	                               "Subject: load test\r\n\r\n");
	{
		static const char text[] =
		    "lorem ipsum dolor sit amet, consectetur adipiscing elit\r\n";
		while (ld.body_len + sizeof(text) - 1 <= ld.body_bytes) {
			memcpy(ld.body + ld.body_len, text, sizeof(text) - 1);
			ld.body_len += sizeof(text) - 1;
		}
	}
	memcpy(ld.body + ld.body_len, ".\r\n", 3);
	ld.body_len += 3;
	ld.base = event_base_new();
	if (ld.base == NULL)
		return 1;
	t0 = now_s();
	for (unsigned i = 0; i < ld.concurrency && ld.started < ld.total; i++)
		client_start(&ld);
	event_base_loopexit(ld.base, &limit);
	event_base_dispatch(ld.base);
	t = now_s() - t0;
	printf("messages=%lu errors=%lu seconds=%.3f msgs_per_s=%.1f\n", ld.done, ld.errors, t,
	       (double)ld.done / t);
	event_base_free(ld.base);
	free(ld.body);
	return ld.errors > 0 || ld.done < ld.total ? 1 : 0;
}
