/* SPDX-License-Identifier: ISC */
/*
 * fuzz_common - the shared checks of the fuzz targets (see fuzz.h).
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>

#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "capture/emit.h"
#include "capture/frame.h"
#include "capture/store_db.h"
#include "core/config.h"
#include "core/log.h"
#include "persona/persona.h"
#include "smtp/session.h"

void
fz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: invariant violated: %s\n", file, line, what);
	abort();
}

bool
fz_reply_ok(const char *buf, size_t len)
{
	size_t i = 0, start;

	if (len < 5 || buf[len - 2] != '\r' || buf[len - 1] != '\n')
		return false;
	while (i < len) {
		start = i;
		while (i < len && buf[i] != '\r' && buf[i] != '\n')
			i++;
		/* every line ends in CRLF, and a CR or LF never stands alone */
		if (i + 1 >= len || buf[i] != '\r' || buf[i + 1] != '\n')
			return false;
		if (i - start < 3 || buf[start] < '2' || buf[start] > '5' || buf[start + 1] < '0' ||
		    buf[start + 1] > '9' || buf[start + 2] < '0' || buf[start + 2] > '9')
			return false;
		i += 2;
		if (i - start > 5) {
			char sep = buf[start + 3];

			if (i < len ? sep != '-' : sep != ' ')
				return false;
		} else if (i < len) {
			/* a bare "NNN" line can only be the last one */
			return false;
		}
	}
	return true;
}

bool
fz_event_ok(const void *payload, size_t len)
{
	struct store_db_ev info;
	json_error_t jerr;
	char why[160];
	json_t *ev;
	bool ok;

	ev = json_loadb(payload, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (ev == NULL) {
		fprintf(stderr, "event is not JSON: %s\n", jerr.text);
		return false;
	}
	memset(&info, 0, sizeof(info));
	ok = json_is_object(ev) && store_db_check(ev, &info, why, sizeof(why)) == 0;
	store_db_ev_clear(&info);
	if (!ok)
		fprintf(stderr, "event refused by the store: %s\n%.*s\n", why, (int)len,
		        (const char *)payload);
	json_decref(ev);
	return ok;
}

void
fz_quiet(void)
{
	log_init("fuzz", LOG_LVL_ERR);
}

/* ------------------------------------------------------------------ session driver */

struct fz_rec {
	bool closed;
	size_t replies_after_close;
};

static void
fz_rec_reply(void *ctx, const char *buf, size_t len, int delay_ms)
{
	struct fz_rec *r = ctx;

	if (!fz_reply_ok(buf, len)) {
		fprintf(stderr, "reply: %.*s\n", (int)len, buf);
		fz_fail(__FILE__, __LINE__, "malformed reply");
	}
	FZ_CHECK(delay_ms >= 0);
	if (r->closed)
		r->replies_after_close++;
}

/* fz_touch - read every byte, so ASan sees a hook given more than there is */
static void
fz_touch(const char *buf, size_t len)
{
	volatile unsigned char sum = 0;
	size_t i;

	for (i = 0; i < len; i++)
		sum ^= (unsigned char)buf[i];
	(void)sum;
}

/* the enrichment hooks get attacker bytes: bounded by the line limit, readable throughout */
static void
fz_rec_helo(void *ctx, const char *name, size_t len)
{
	(void)ctx;
	FZ_CHECK(name != NULL || len == 0);
	FZ_CHECK(len <= 1048576);
	fz_touch(name, len);
}

static void
fz_rec_message(void *ctx, const char *x_mailer, size_t len)
{
	(void)ctx;
	FZ_CHECK(x_mailer != NULL || len == 0);
	FZ_CHECK(len <= 1048576);
	fz_touch(x_mailer, len);
}

static void
fz_rec_close(void *ctx)
{
	((struct fz_rec *)ctx)->closed = true;
}

/* fz_rec_sink - check each frame; with RT_FUZZ_FRAMES set, also write it to that file as it
 * would cross the socketpair (how tests/fuzz/seed.sh makes the store corpus from sessions) */
static void
fz_rec_sink(void *arg, enum frame_type type, const void *payload, size_t len)
{
	FILE *dump = arg;
	const unsigned char *data;
	unsigned char hdr[FRAME_HDR];
	uint32_t tx;
	size_t dl;
	char sid[33];

	FZ_CHECK(len <= FRAME_MAX);
	if (dump != NULL) {
		frame_header(hdr, type, len);
		FZ_CHECK(fwrite(hdr, 1, sizeof(hdr), dump) == sizeof(hdr));
		FZ_CHECK(len == 0 || fwrite(payload, 1, len, dump) == len);
	}
	if (type == FRAME_EVENT)
		FZ_CHECK(fz_event_ok(payload, len));
	else if (type == FRAME_BODY)
		FZ_CHECK(frame_decode_body(payload, len, sid, &tx, &data, &dl) == 0);
}

void
fz_session(const struct fz_run *run, const uint8_t *data, size_t size)
{
	static const enum smtp_timeout timeouts[] = {SMTP_TO_IDLE, SMTP_TO_LIFETIME};
	static uint64_t msg_counter;
	struct smtp_hooks hooks;
	struct smtp_conn conn;
	struct smtp_env env;
	struct smtp_session *s;
	struct capture *cap;
	struct evbuffer *in;
	struct fz_rec rec;
	size_t off, n, step = 0;
	const char *dump_path = getenv("RT_FUZZ_FRAMES");
	FILE *dump = NULL;

	if (dump_path != NULL && dump_path[0] != '\0') {
		dump = fopen(dump_path, "wb");
		FZ_CHECK(dump != NULL);
	}
	memset(&rec, 0, sizeof(rec));
	cap = capture_new("fuzz", fz_rec_sink, dump);
	FZ_CHECK(cap != NULL);
	memset(&env, 0, sizeof(env));
	env.persona = run->persona;
	env.limits = run->limits;
	env.bare_lf = run->bare_lf;
	env.hostname = "mail.example.com";
	env.netbios = "MAIL";
	env.domain = "example.com";
	env.nb_domain = "EXAMPLE";
	env.dns_domain = "example.com";
	env.cap = cap;
	env.msg_counter = &msg_counter;
	memset(&conn, 0, sizeof(conn));
	strcpy(conn.src_ip, "192.0.2.7");
	conn.src_port = 40000;
	strcpy(conn.dst_ip, "198.51.100.1");
	conn.dst_port = 25;
	strcpy(conn.listener, "smtp");
	memset(&hooks, 0, sizeof(hooks));
	hooks.ctx = &rec;
	hooks.reply = fz_rec_reply;
	hooks.close = fz_rec_close;
	hooks.helo = fz_rec_helo;
	hooks.message = fz_rec_message;

	s = smtp_session_new(&env, &conn, &hooks);
	FZ_CHECK(s != NULL);
	in = evbuffer_new();
	FZ_CHECK(in != NULL);
	if (run->pregreet)
		smtp_session_pregreet(s, size);
	smtp_session_start(s);
	for (off = 0; off < size && !smtp_session_closing(s); off += n) {
		n = run->splits == NULL ? size - off : (size_t)run->splits[step++ % 4] + 1;
		if (n > size - off)
			n = size - off;
		FZ_CHECK(evbuffer_add(in, data + off, n) == 0);
		smtp_session_input(s, in);
		/* what is left is an incomplete line, bounded by line_max (plus its CR) */
		FZ_CHECK(evbuffer_get_length(in) <= env.limits->line_max + 1);
	}
	if (run->ending == 0)
		smtp_session_eof(s);
	else if (run->ending == 3)
		smtp_session_shutdown(s);
	else
		smtp_session_timeout(s, timeouts[(run->ending - 1) & 1]);
	FZ_CHECK(rec.replies_after_close == 0);
	smtp_session_free(s);
	evbuffer_free(in);
	if (dump != NULL) {
		capture_flush_frame(cap);
		FZ_CHECK(fclose(dump) == 0);
	}
	capture_free(cap);
}
