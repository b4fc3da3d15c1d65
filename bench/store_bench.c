/* SPDX-License-Identifier: ISC */
/*
 * store_bench - what the store process costs per message, without sockets or clients.
 *
 * Drives the real session engine in memory through smtp-source's dialogue (EHLO, MAIL, RCPT,
 * DATA with a body of BYTES, QUIT: one message per connection, as `smtp-source -s 50 -l 1024`
 * sends it), collects the frames the engine would send to the store, then starts the real
 * store (store_run) in a child process on a socketpair, in a fresh data directory, and pumps
 * the frames into it as fast as it takes them (each session also carries the one
 * relaytrap.enrich event the daemon writes, kind "session": the SYN fingerprint's os part;
 * --no-os leaves it out; --geo adds the geo part of a source GeoIP knows; --dns adds the DNS
 * parts, the event then written after the message, once DNS would be done), reading its
 * acknowledgements. Prints the store's CPU (user+sys, from wait4) per message and per event, and
 * its rate with a core of its own. The same frames every run, so two builds compare on the same
 * input.
 *
 * Usage: store_bench [-n MESSAGES] [-l BYTES] [-s SOURCES] [-d DATA-DIR] [--no-fsync] [--no-os]
 *                    [--geo] [--dns] [--keep]
 *   -s: the sessions come from SOURCES addresses in turn (default: each from its own), as
 *   bench/enrich.sh's POOL; a source that comes back gets the same enrichment results.
 *   defaults: 10000 messages, 1024 bytes, a mktemp directory under /tmp (removed unless
 *   --keep), fsync on (the daemon's default `fsync = yes`: docs/durability.md).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "capture/emit.h"
#include "capture/frame.h"
#include "capture/store.h"
#include "core/config.h"
#include "core/log.h"
#include "core/str.h"
#include "persona/persona.h"
#include "smtp/session.h"

struct frames {
	unsigned char *buf;
	size_t len, cap;
	unsigned long events;
};

static void
die(const char *what)
{
	fprintf(stderr, "store_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* frames_add - append n bytes, growing the buffer */
static void
frames_add(struct frames *f, const void *p, size_t n)
{
	if (f->len + n > f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 1u << 20;
		while (cap < f->len + n)
			cap *= 2;
		f->buf = realloc(f->buf, cap);
		if (f->buf == NULL)
			die("realloc");
		f->cap = cap;
	}
	memcpy(f->buf + f->len, p, n);
	f->len += n;
}

/* sink - each frame as it would cross the socketpair */
static void
sink(void *arg, enum frame_type type, const void *payload, size_t len)
{
	struct frames *f = arg;
	unsigned char hdr[FRAME_HDR];

	frame_header(hdr, type, len);
	frames_add(f, hdr, sizeof(hdr));
	frames_add(f, payload, len);
	if (type == FRAME_EVENT)
		f->events++;
}

static void
on_reply(void *ctx, const char *buf, size_t len, int delay_ms)
{
}

static void
on_close(void *ctx)
{
}

/* enrich_event - the session's one relaytrap.enrich event (kind "session"), as
 * src/enrich/enrich.c writes it: the geo part of a source the GeoIP databases know (the free
 * databases' answer for bench/enrich.sh's default SRC_NET), the os part of the SYN fingerprint
 * (as src/enrich/p0f.c writes it for a Linux client on loopback), and the DNS parts (rdns,
 * dnsbl over three zones, helo); a source's later sessions get those from the DNS cache
 * (cached, lookup_time) */
static void
enrich_event(struct capture *cap, struct smtp_session *s, bool geo, bool os, bool dns, bool repeat)
{
	static const char geo_part[] =
	    "\"geo\":{\"country_code\":\"TW\",\"country\":\"Taiwan\",\"region\":\"New "
	    "Taipei City\",\"city\":\"New Taipei "
	    "City\",\"latitude\":25.0693,\"longitude\":121.4626,"
	    "\"asn\":3462,\"as_org\":\"Chunghwa Telecom Co., Ltd.\",\"geo_db\":\"ip-location-db\"}";
	static const char os_part[] =
	    "\"os\":{\"os_class\":\"unix\",\"os_name\":\"Linux\",\"os_flavor\":\"2.2.x-3."
	    "x\","
	    "\"os_distance\":0,\"os_match\":\"generic\",\"os_sig\":\"4:64+0:0:65495:mss*1,10:mss,"
	    "sok,"
	    "ts,nop,ws:df,id+:0\",\"syn\":{\"ip_version\":4,\"ttl\":64,\"tos\":0,\"df\":true,"
	    "\"ip_id\":31917,\"win\":65495,\"wscale\":10,\"mss\":65495,\"olayout\":\"mss,sok,ts,"
	    "nop,ws\",\"quirks\":\"df,id+\",\"opt_eol_pad\":0,\"ip_opt_len\":0,\"payload\":false}}";
	static const char *const dns_parts[] = {
	    "\"rdns\":{\"status\":\"ok\",\"ptr\":\"h-10-77-0-0.bench.example\",\"fcrdns\":true,",
	    ("\"dnsbl\":{\"lists\":[{\"zone\":\"zen.spamhaus.org\",\"status\":\"not_listed\"},"
	     "{\"zone\":\"bl.spamcop.net\",\"status\":\"not_listed\"},{\"zone\":"
	     "\"b.barracudacentral.org\",\"status\":\"not_listed\"}],\"listed\":0,"),
	    ("\"helo\":{\"name\":\"bench.example.com\",\"status\":\"ok\",\"resolves\":true,"
	     "\"addrs\":[\"10.77.0.0\"],\"matches_src\":false,\"fcrdns\":false,")};
	static const char fresh[] = "\"cached\":false,\"lookup_us\":31910}";
	static const char cached[] =
	    "\"cached\":true,\"lookup_us\":12,\"lookup_time\":\"2026-11-27T19:41:12.873762Z\"}";
	struct jw *w;

	if (!geo && !os && !dns)
		return;
	if ((w = capture_begin(cap, "relaytrap.enrich", smtp_session_prefix(s))) == NULL)
		die("capture_begin");
	jw_key_str(w, "kind", "session");
	if (geo)
		jw_fields(w, geo_part, sizeof(geo_part) - 1);
	if (os)
		jw_fields(w, os_part, sizeof(os_part) - 1);
	for (size_t i = 0; dns && i < sizeof(dns_parts) / sizeof(dns_parts[0]); i++) {
		char part[512];
		int n = snprintf(part, sizeof(part), "%s%s", dns_parts[i], repeat ? cached : fresh);

		jw_fields(w, part, (size_t)n);
	}
	capture_commit(cap);
}

/* make_frames - n sessions of smtp-source's dialogue, each from its own source address */
static unsigned long sources; /* -s: 0, every session from an address of its own */

static void
make_frames(struct frames *f, unsigned long n, size_t bytes, bool with_os, bool with_geo,
            bool with_dns)
{
	static uint64_t counter;
	struct config cfg;
	struct persona *p = persona_load_builtin("exchange2000");
	struct smtp_hooks hooks = {NULL, on_reply, on_close, NULL, NULL};
	struct smtp_env env;
	struct smtp_conn conn;
	struct capture *cap = capture_new("bench", sink, f);
	struct evbuffer *in = evbuffer_new();
	char *msg;
	size_t i, mlen = 0;

	if (p == NULL || cap == NULL || in == NULL)
		die("setup");
	config_defaults(&cfg);
	memset(&env, 0, sizeof(env));
	env.persona = p;
	env.limits = &cfg.limits;
	env.hostname = "mail.example.com";
	env.netbios = "MAIL";
	env.domain = "example.com";
	env.nb_domain = "EXAMPLE";
	env.dns_domain = "example.com";
	env.cap = cap;
	env.msg_counter = &counter;
	/* smtp-source's message: a few headers, then lines of 'La de da de da ...' to BYTES */
	msg = malloc(bytes + 512);
	if (msg == NULL)
		die("malloc");
	mlen =
	    (size_t)snprintf(msg, 512,
	                     "EHLO bench.example.com\r\nMAIL FROM:<bench@example.com>\r\n"
	                     "RCPT TO:<rcpt@example.net>\r\nDATA\r\n"
	                     "From: <bench@example.com>\r\nTo: <rcpt@example.net>\r\n"
	                     "Date: Fri, 27 Nov 2026 12:00:00 +0000\r\nMessage-Id: <b@x>\r\n\r\n");
	for (i = 0; i < bytes; i++)
		msg[mlen++] = (i % 80 == 78) ? '\r' : (i % 80 == 79) ? '\n' : "La de da "[i % 9];
	memcpy(msg + mlen, "\r\n.\r\nQUIT\r\n", 10);
	mlen += 10;

	for (unsigned long k = 0; k < n; k++) {
		struct smtp_session *s;

		memset(&conn, 0, sizeof(conn));
		unsigned long a = sources > 0 ? k % sources : k;

		snprintf(conn.src_ip, sizeof(conn.src_ip), "10.%lu.%lu.%lu", (a >> 16) & 255,
		         (a >> 8) & 255, a & 255);
		conn.src_port = 1024 + (int)(k % 60000);
		strcpy(conn.dst_ip, "127.0.0.1");
		conn.dst_port = 25;
		strcpy(conn.listener, "smtp");
		s = smtp_session_new(&env, &conn, &hooks);
		if (s == NULL)
			die("session");
		smtp_session_start(s);
		/* without DNS the event is written at the connect, with it once DNS is done */
		if (!with_dns)
			enrich_event(cap, s, with_geo, with_os, false, false);
		evbuffer_add(in, msg, mlen);
		smtp_session_input(s, in);
		if (with_dns)
			enrich_event(cap, s, with_geo, with_os, true, sources > 0 && k >= sources);
		smtp_session_eof(s);
		smtp_session_free(s);
		evbuffer_drain(in, evbuffer_get_length(in));
	}
	capture_flush_frame(cap);
	capture_free(cap);
	evbuffer_free(in);
	free(msg);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"no-fsync", no_argument, NULL, 'F'}, {"keep", no_argument, NULL, 'K'},
	    {"no-os", no_argument, NULL, 'O'},    {"dns", no_argument, NULL, 'D'},
	    {"geo", no_argument, NULL, 'G'},      {NULL, 0, NULL, 0}};
	unsigned long n = 10000;
	size_t bytes = 1024, off = 0;
	const char *dir = NULL;
	bool fsync_on = true, keep = false, with_os = true, with_dns = false, with_geo = false;
	char tmpl[] = "/tmp/store-bench.XXXXXX", cmd[600];
	struct frames f = {0};
	struct rusage ru;
	int c, sv[2], status;
	pid_t pid;
	double t0, t1, cpu;

	while ((c = getopt_long(argc, argv, "n:l:s:d:", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 'l':
			bytes = strtoul(optarg, NULL, 10);
			break;
		case 's':
			sources = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			dir = optarg;
			break;
		case 'F':
			fsync_on = false;
			break;
		case 'K':
			keep = true;
			break;
		case 'O':
			with_os = false;
			break;
		case 'D':
			with_dns = true;
			break;
		case 'G':
			with_geo = true;
			break;
		default:
			fprintf(stderr,
			        "usage: store_bench [-n MESSAGES] [-l BYTES] [-s SOURCES] "
			        "[-d DATA-DIR] [--no-fsync] [--no-os] [--geo] [--dns] [--keep]\n");
			return 2;
		}
	}
	log_init("store_bench", LOG_LVL_WARN);
	if (dir == NULL && (dir = mkdtemp(tmpl)) == NULL)
		die("mkdtemp");
	make_frames(&f, n, bytes, with_os, with_geo, with_dns);
	printf("frames: %lu messages of %zu bytes, %lu events, %.1f MiB on the channel\n", n, bytes,
	       f.events, (double)f.len / 1048576.0);
	fflush(stdout);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		die("socketpair");
	signal(SIGPIPE, SIG_IGN);
	t0 = now_s();
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		struct store_config sc = {0};

		close(sv[0]);
		sc.data_dir = dir;
		sc.write_jsonl = true;
		sc.store_bodies = true;
		sc.store_body_max = 10u * 1024 * 1024;
		sc.fsync = fsync_on;
		_exit(store_run(sv[1], &sc));
	}
	close(sv[1]);
	/* write everything, reading acknowledgements so the store never blocks on them */
	while (off < f.len) {
		struct pollfd pfd = {sv[0], POLLIN | POLLOUT, 0};
		unsigned char ack[4096];

		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			die("poll");
		if (pfd.revents & POLLIN)
			(void)!read(sv[0], ack, sizeof(ack));
		if (pfd.revents & POLLOUT) {
			size_t chunk = f.len - off < 65536 ? f.len - off : 65536;
			ssize_t w = write(sv[0], f.buf + off, chunk);
			if (w < 0 && errno != EINTR && errno != EAGAIN)
				die("write");
			if (w > 0)
				off += (size_t)w;
		}
	}
	shutdown(sv[0], SHUT_WR);
	for (;;) {
		unsigned char ack[4096];
		ssize_t r = read(sv[0], ack, sizeof(ack));
		if (r <= 0)
			break;
	}
	if (wait4(pid, &status, 0, &ru) < 0)
		die("wait4");
	t1 = now_s();
	cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	      (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	printf("store: exit %d, wall %.2f s, CPU %.2f s (user %.2f + sys %.2f), peak RSS %ld KiB\n",
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1, t1 - t0, cpu,
	       (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss);
	printf("store: %.1f us CPU per message, %.2f us per event; %.0f messages/s on one core\n",
	       cpu * 1e6 / (double)n, cpu * 1e6 / (double)f.events, (double)n / cpu);
	if (!keep) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		(void)!system(cmd);
	} else {
		printf("data: %s\n", dir);
	}
	free(f.buf);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
