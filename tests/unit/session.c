/* SPDX-License-Identifier: ISC */
/*
 * session tests - drive the SMTP engine without sockets: bytes in through an evbuffer,
 * replies out through a recording hook, events through a capture sink. Table-driven: each
 * row is a client script and the exact replies the persona must give (after the banner).
 * In expected replies, '*' matches any run of bytes other than CR and LF.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "capture/emit.h"
#include "core/config.h"
#include "core/util.h"
#include "persona/persona.h"
#include "smtp/auth.h"
#include "smtp/session.h"

struct rec {
	char out[1 << 20];
	size_t outlen;
	int nreplies;
	bool closed;
	char events[1 << 20];
	size_t evlen;
	size_t body_bytes;
	unsigned char body[1 << 16];
};

static void
rec_reply(void *ctx, const char *buf, size_t len, int delay_ms)
{
	struct rec *r = ctx;

	assert_true(len >= 4);
	assert_memory_equal(buf + len - 2, "\r\n", 2);
	if (r->outlen + len < sizeof(r->out)) {
		memcpy(r->out + r->outlen, buf, len);
		r->outlen += len;
		r->out[r->outlen] = '\0';
	}
	r->nreplies++;
}

static void
rec_close(void *ctx)
{
	((struct rec *)ctx)->closed = true;
}

/* what the enrichment hooks were given (the last call of each) */
static struct {
	char helo[300], x_mailer[1000];
	int nhelo, nmessage;
} hooked;

static void
rec_helo(void *ctx, const char *name, size_t len)
{
	snprintf(hooked.helo, sizeof(hooked.helo), "%.*s", (int)len, name);
	hooked.nhelo++;
}

static void
rec_message(void *ctx, const char *x_mailer, size_t len)
{
	snprintf(hooked.x_mailer, sizeof(hooked.x_mailer), "%.*s", (int)len, x_mailer);
	hooked.nmessage++;
}

static void
rec_sink(void *arg, enum frame_type type, const void *payload, size_t len)
{
	struct rec *r = arg;

	if (type == FRAME_EVENT && r->evlen + len + 1 < sizeof(r->events)) {
		memcpy(r->events + r->evlen, payload, len);
		r->evlen += len;
		r->events[r->evlen++] = '\n';
		r->events[r->evlen] = '\0';
	} else if (type == FRAME_BODY) {
		char sid[33];
		uint32_t tx;
		const unsigned char *d;
		size_t dl;
		assert_int_equal(frame_decode_body(payload, len, sid, &tx, &d, &dl), 0);
		if (r->body_bytes + dl <= sizeof(r->body))
			memcpy(r->body + r->body_bytes, d, dl);
		r->body_bytes += dl;
	}
}

struct fixture {
	struct config cfg;
	struct persona *p;
	struct smtp_env env;
	struct capture *cap;
	struct rec *rec;
	struct smtp_session *s;
	uint64_t counter;
};

static struct fixture *
fx_new(const char *persona, void (*tweak)(struct config *))
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct smtp_hooks hooks;
	struct smtp_conn conn;

	assert_non_null(f);
	f->rec = calloc(1, sizeof(*f->rec));
	config_defaults(&f->cfg);
	if (tweak)
		tweak(&f->cfg);
	f->p = persona_load_builtin(persona);
	assert_non_null(f->p);
	f->cap = capture_new("test", rec_sink, f->rec);
	f->env.persona = f->p;
	f->env.limits = &f->cfg.limits;
	f->env.bare_lf = f->cfg.bare_lf;
	f->env.hostname = "mail.example.com";
	f->env.netbios = "MAIL";
	f->env.domain = "example.com";
	f->env.nb_domain = "EXAMPLE";
	f->env.dns_domain = "example.com";
	f->env.cap = f->cap;
	f->env.msg_counter = &f->counter;
	memset(&conn, 0, sizeof(conn));
	strcpy(conn.src_ip, "192.0.2.7");
	conn.src_port = 40000;
	strcpy(conn.dst_ip, "198.51.100.1");
	conn.dst_port = 25;
	strcpy(conn.listener, "smtp");
	memset(&hooks, 0, sizeof(hooks));
	hooks.ctx = f->rec;
	hooks.reply = rec_reply;
	hooks.close = rec_close;
	hooks.helo = rec_helo;
	hooks.message = rec_message;
	f->s = smtp_session_new(&f->env, &conn, &hooks);
	assert_non_null(f->s);
	smtp_session_start(f->s);
	/* the banner is checked by its own test; rows compare what follows it */
	f->rec->outlen = 0;
	f->rec->nreplies = 0;
	return f;
}

/* fx_feed - bytes in, split into pieces of at most step bytes (0 = all at once) */
static void
fx_feed(struct fixture *f, const char *data, size_t len, size_t step)
{
	struct evbuffer *in = evbuffer_new();
	size_t off = 0;

	while (off < len) {
		size_t n = step == 0 || len - off < step ? len - off : step;
		evbuffer_add(in, data + off, n);
		smtp_session_input(f->s, in);
		off += n;
	}
	evbuffer_free(in);
}

static void
fx_free(struct fixture *f)
{
	smtp_session_free(f->s);
	capture_free(f->cap);
	persona_free(f->p);
	config_free(&f->cfg);
	free(f->rec);
	free(f);
}

/* glob_match - '*' matches any run of bytes except CR and LF */
static bool
glob_match(const char *pat, const char *s)
{
	if (*pat == '\0')
		return *s == '\0';
	if (*pat == '*') {
		for (;;) {
			if (glob_match(pat + 1, s))
				return true;
			if (*s == '\0' || *s == '\r' || *s == '\n')
				return false;
			s++;
		}
	}
	return *pat == *s && glob_match(pat + 1, s + 1);
}

struct row {
	const char *name;
	const char *persona;
	const char *in;
	const char *want;
	bool closed;
};

#define EXCH "exchange2000"
#define EHLO_EXCH                                                                                  \
	"250-mail.example.com Hello "                                                              \
	"[192.0.2.7]\r\n250-TURN\r\n250-ATRN\r\n250-SIZE\r\n250-ETRN\r\n"                          \
	"250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-8bitmime\r\n"                 \
	"250-BINARYMIME\r\n250-CHUNKING\r\n250-VRFY\r\n250-X-EXPS GSSAPI NTLM LOGIN\r\n"           \
	"250-X-EXPS=LOGIN\r\n250-AUTH GSSAPI NTLM LOGIN\r\n250-AUTH=LOGIN\r\n250-X-LINK2STATE\r\n" \
	"250-XEXCH50\r\n250 OK\r\n"

static const struct row rows[] = {
    {"helo", EXCH, "HELO bot\r\n", "250 mail.example.com Hello [192.0.2.7]\r\n", false},
    {"ehlo", EXCH, "EHLO bot\r\n", EHLO_EXCH, false},
    {"mail brackets", EXCH, "HELO x\r\nMAIL FROM:<a@b.com>\r\n",
     "250 *\r\n250 2.1.0 a@b.com....Sender OK\r\n", false},
    {"mail space no brackets", EXCH, "HELO x\r\nMAIL FROM: a@b.com\r\n",
     "250 *\r\n250 2.1.0 a@b.com....Sender OK\r\n", false},
    {"mail no domain", EXCH, "HELO x\r\nMAIL FROM:<spamtest>\r\n",
     "250 *\r\n250 2.1.0 spamtest@example.com....Sender OK\r\n", false},
    {"mail null", EXCH, "HELO x\r\nMAIL FROM:<>\r\n", "250 *\r\n250 2.1.0 <>....Sender OK\r\n",
     false},
    {"mail size param", EXCH, "HELO x\r\nMAIL FROM:<a@b> SIZE=440\r\n",
     "250 *\r\n250 2.1.0 a@b....Sender OK\r\n", false},
    {"mail empty", EXCH, "HELO x\r\nMAIL FROM:\r\n", "250 *\r\n501 5.5.4 Invalid Address\r\n",
     false},
    {"mail nested", EXCH, "HELO x\r\nMAIL FROM:<a@b>\r\nMAIL FROM:<c@d>\r\n",
     "250 *\r\n250 *\r\n503 5.5.2 Sender already specified\r\n", false},
    {"rcpt trailing space", EXCH, "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y.org>\r\n",
     "250 *\r\n250 *\r\n250 2.1.5 x@y.org \r\n", false},
    {"rcpt percent hack", EXCH, "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x%y>\r\n",
     "250 *\r\n250 *\r\n250 2.1.5 x%y@example.com \r\n", false},
    {"rcpt quoted", EXCH, "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<\"a@b\">\r\n",
     "250 *\r\n250 *\r\n250 2.1.5 \"a@b\"@example.com \r\n", false},
    {"rcpt before mail", EXCH, "HELO x\r\nRCPT TO:<x@y>\r\n",
     "250 *\r\n503 5.5.2 Need mail command\r\n", false},
    {"data before rcpt", EXCH, "HELO x\r\nMAIL FROM:<a@b>\r\nDATA\r\n",
     "250 *\r\n250 *\r\n503 5.5.2 Need Rcpt command.\r\n", false},
    {"data before mail", EXCH, "HELO x\r\nDATA\r\n", "250 *\r\n503 5.5.2 Need mail command\r\n",
     false},
    {"message", EXCH,
     "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: hi\r\n\r\nbody\r\n.\r\n",
     "250 *\r\n250 *\r\n250 *\r\n354 Start mail input; end with <CRLF>.<CRLF>\r\n"
     "250 2.6.0 <MAIL*00000001@mail.example.com> Queued mail for delivery\r\n",
     false},
    {"rset", EXCH, "RSET\r\n", "250 2.0.0 Resetting\r\n", false},
    {"quit", EXCH, "QUIT\r\n",
     "221 2.0.0 mail.example.com Service closing transmission channel\r\n", true},
    {"vrfy user", EXCH, "VRFY admin\r\n",
     "252 2.1.5 Cannot VRFY user, but will take message for <admin@mail.example.com>\r\n", false},
    {"vrfy address", EXCH, "VRFY a@b.c\r\n",
     "252 2.1.5 Cannot VRFY user, but will take message for <a@b.c>\r\n", false},
    {"unknown", EXCH, "FOO bar\r\n", "500 5.3.3 Unrecognized command\r\n", false},
    {"starttls", EXCH, "STARTTLS\r\n", "554 5.7.3 Unable to initialize security subsystem\r\n",
     false},
    {"help", EXCH, "HELP\r\n",
     "214-This server supports the following commands:\r\n"
     "214 HELO EHLO STARTTLS RCPT DATA RSET MAIL QUIT HELP AUTH TURN ATRN ETRN BDAT VRFY\r\n",
     false},
    {"auth plain unsupported", EXCH, "EHLO x\r\nAUTH PLAIN AGEAYg==\r\n",
     EHLO_EXCH "504 5.7.4 Unrecognized authentication type\r\n", false},
    {"auth login", EXCH, "EHLO x\r\nAUTH LOGIN\r\nYWRtaW4=\r\ncGFzcw==\r\n",
     EHLO_EXCH "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n535 5.7.3 Authentication unsuccessful\r\n",
     false},
    {"auth login initial", EXCH, "EHLO x\r\nAUTH LOGIN YWRtaW4=\r\ncGFzcw==\r\n",
     EHLO_EXCH "334 UGFzc3dvcmQ6\r\n535 5.7.3 Authentication unsuccessful\r\n", false},
    {"auth ntlm start", EXCH, "EHLO x\r\nAUTH NTLM\r\n", EHLO_EXCH "334 NTLM supported\r\n", false},
    {"bdat", EXCH,
     "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 5\r\nhelloBDAT 3 LAST\r\nabc",
     EHLO_EXCH "250 *\r\n250 *\r\n250 2.0.0 5 octets received\r\n"
               "250 2.6.0 <MAIL*00000001@mail.example.com> Queued mail for delivery\r\n",
     false},
    {"bdat without mail", EXCH, "EHLO x\r\nBDAT 4\r\nxxxxNOOP\r\n",
     EHLO_EXCH "503 5.5.2 Need mail command\r\n250 2.0.0 OK\r\n", false},
    {"honeyd helo", "honeyd-2009", "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n",
     "250 mail.example.com Hello [1]\r\n250 a@b... Sender ok \r\n"
     "250 c@d... Recipient ok (will queue)\r\n",
     false},
};

/* test_rows - every row, fed at once and one byte at a time: same replies */
static void
test_rows(void **state)
{
	size_t i, step;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		for (step = 0; step <= 1; step++) {
			struct fixture *f = fx_new(rows[i].persona, NULL);
			fx_feed(f, rows[i].in, strlen(rows[i].in), step);
			if (!glob_match(rows[i].want, f->rec->out)) {
				print_error("row '%s' (step %zu):\ngot  [%s]\nwant [%s]\n",
				            rows[i].name, step, f->rec->out, rows[i].want);
				fail();
			}
			assert_int_equal(f->rec->closed, rows[i].closed);
			fx_free(f);
		}
	}
}

static void
test_banner(void **state)
{
	struct rec *r;
	struct fixture *f = fx_new(EXCH, NULL);
	char *b;

	(void)r;
	/* restart a session to see its banner */
	smtp_session_start(f->s);
	b = f->rec->out;
	if (!glob_match("220 mail.example.com Microsoft ESMTP MAIL Service, Version: 5.0.2195.5329 "
	                "ready at  *, * * * *:*:* * \r\n",
	                b)) {
		print_error("banner [%s]\n", b);
		fail();
	}
	fx_free(f);
}

static void
test_dot_stuffing_and_body(void **state)
{
	struct fixture *f = fx_new(EXCH, NULL);
	const char *in =
	    "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"
	    "From: spammer@x.example\r\nTo: realTO@domain.com\r\nSubject: BC_82.155.126.2\r\n"
	    "\r\n..leading dot\r\n.\r\n";
	const char *want = "From: spammer@x.example\r\nTo: realTO@domain.com\r\nSubject: "
	                   "BC_82.155.126.2\r\n\r\n.leading dot\r\n";

	fx_feed(f, in, strlen(in), 3);
	assert_int_equal(f->rec->body_bytes, strlen(want));
	assert_memory_equal(f->rec->body, want, strlen(want));
	assert_non_null(strstr(f->rec->events, "\"hdr_subject\":\"BC_82.155.126.2\""));
	assert_non_null(strstr(f->rec->events, "\"hdr_to\":\"realTO@domain.com\""));
	assert_non_null(strstr(f->rec->events, "\"mail_from\":\"a@b\""));
	fx_free(f);
}

static void
test_pipelining_signals(void **state)
{
	struct fixture *f = fx_new(EXCH, NULL);
	const char *in = "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\n";

	fx_feed(f, "EHLO x\r\n", 8, 0);
	fx_feed(f, in + 8, strlen(in) - 8, 0);
	/* replies in order, one per command */
	assert_true(
	    glob_match("*\r\n*\r\n*\r\n*\r\n*\r\n*\r\n*\r\n*\r\n*\r\n*\r\n*\r\n*\r\n*\r\n*\r\n"
	               "*\r\n*\r\n*\r\n*\r\n*\r\n250 2.1.0 a@b....Sender OK\r\n"
	               "250 2.1.5 c@d \r\n250 2.1.5 e@f \r\n354 *\r\n",
	               f->rec->out));
	assert_non_null(strstr(f->rec->events, "\"signal\":\"pipelining\""));
	assert_null(strstr(f->rec->events, "pipelining_unadvertised"));
	fx_free(f);

	f = fx_new(EXCH, NULL);
	fx_feed(f, "HELO x\r\nNOOP\r\nNOOP\r\n", 20, 0);
	assert_non_null(strstr(f->rec->events, "\"signal\":\"pipelining_unadvertised\""));
	fx_free(f);
}

static void
test_signals(void **state)
{
	static const struct {
		const char *in;
		size_t len; /* 0 = strlen */
		const char *sig;
	} cases[] = {
	    {"helo x\r\n", 0, "verb_lowercase"},
	    {"Helo x\r\n", 0, "verb_mixedcase"},
	    {"HELO x\n", 0, "bare_lf"},
	    {"GET / HTTP/1.1\r\n", 0, "non_smtp_http"},
	    {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n", 13, "non_smtp_tls"},
	    {"HELO x\r\nMAIL FROM: <a@b>\r\n", 0, "mail_from_space"},
	    {"HELO x\r\nMAIL FROM:a@b\r\n", 0, "no_brackets"},
	    {"MAIL FROM:<a@b>\r\n", 0, "no_greeting"},
	    {"\x01\x02\x03\x04\x05\x06\r\n", 0, "non_smtp_binary"},
	};
	char want[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture *f = fx_new(EXCH, NULL);
		fx_feed(f, cases[i].in, cases[i].len ? cases[i].len : strlen(cases[i].in), 0);
		snprintf(want, sizeof(want), "\"signal\":\"%s\"", cases[i].sig);
		if (strstr(f->rec->events, want) == NULL) {
			print_error("case %zu: no %s in\n%s\n", i, want, f->rec->events);
			fail();
		}
		fx_free(f);
	}
}

static void
lim_small(struct config *c)
{
	c->limits.line_max = 512;
	c->limits.max_commands = 50;
	c->limits.max_bad_commands = 3;
	c->limits.max_rcpts = 2;
	c->limits.max_messages = 1;
	c->limits.max_message_size = 100;
	c->limits.store_body_max = 10;
}

static void
test_limits(void **state)
{
	struct fixture *f;
	char *big;
	size_t i;

	/* a line longer than line_max, with no newline yet: answered at once, then resynced */
	f = fx_new(EXCH, lim_small);
	big = malloc(10000);
	memset(big, 'A', 10000);
	fx_feed(f, big, 10000, 4096);
	assert_true(glob_match("500 *\r\n", f->rec->out));
	f->rec->outlen = 0;
	fx_feed(f, "AAAA\r\nNOOP\r\n", 12, 0);
	assert_string_equal(f->rec->out, "250 2.0.0 OK\r\n");
	assert_non_null(strstr(f->rec->events, "\"limit\":\"line_max\""));
	assert_non_null(strstr(f->rec->events, "\"truncated\":true"));
	free(big);
	fx_free(f);

	/* bad commands: the third error closes with the persona's 421 */
	f = fx_new(EXCH, lim_small);
	fx_feed(f, "X\r\nY\r\nZ\r\nNOOP\r\n", 15, 0);
	assert_true(f->rec->closed);
	assert_true(glob_match("500 *\r\n500 *\r\n500 *\r\n421 *\r\n", f->rec->out));
	assert_non_null(strstr(f->rec->events, "\"limit\":\"max_bad_commands\""));
	fx_free(f);

	/* recipients: the third is refused with 452 */
	f = fx_new(EXCH, lim_small);
	{
		const char *s = "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<1@x>\r\nRCPT TO:<2@x>\r\n"
		                "RCPT TO:<3@x>\r\n";
		fx_feed(f, s, strlen(s), 0);
	}
	assert_true(glob_match("250 *\r\n250 *\r\n250 *\r\n250 *\r\n452 *\r\n", f->rec->out));
	assert_non_null(strstr(f->rec->events, "\"limit\":\"max_rcpts\""));
	fx_free(f);

	/* message size: read to the end, 552, store only store_body_max bytes */
	f = fx_new(EXCH, lim_small);
	{
		const char *h = "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<1@x>\r\nDATA\r\n";
		fx_feed(f, h, strlen(h), 0);
		for (i = 0; i < 20; i++)
			fx_feed(f, "0123456789\r\n", 12, 0);
		fx_feed(f, ".\r\nNOOP\r\n", 9, 0);
	}
	assert_true(glob_match(
	    "250 *\r\n250 *\r\n250 *\r\n354 *\r\n552 5.3.4 *\r\n250 2.0.0 OK\r\n", f->rec->out));
	assert_int_equal(f->rec->body_bytes, 10);
	assert_non_null(strstr(f->rec->events, "\"truncated\":true"));
	assert_non_null(strstr(f->rec->events, "\"limit\":\"max_message_size\""));
	fx_free(f);

	/* messages per session */
	f = fx_new(EXCH, lim_small);
	{
		const char *s = "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<1@x>\r\nDATA\r\nx\r\n.\r\n"
		                "MAIL FROM:<a@b>\r\n";
		fx_feed(f, s, strlen(s), 0);
	}
	if (!glob_match("*\r\n*\r\n*\r\n*\r\n250 2.6.0 *\r\n4* *\r\n", f->rec->out)) {
		print_error("got [%s]\n", f->rec->out);
		fail();
	}
	assert_non_null(strstr(f->rec->events, "\"limit\":\"max_messages\""));
	fx_free(f);

	/* command budget */
	f = fx_new(EXCH, lim_small);
	for (i = 0; i < 60 && !f->rec->closed; i++)
		fx_feed(f, "NOOP\r\n", 6, 0);
	assert_true(f->rec->closed);
	assert_int_equal(f->rec->nreplies, 51);
	assert_non_null(strstr(f->rec->events, "\"limit\":\"max_commands\""));
	fx_free(f);
}

/* ntlm_type1 - a minimal NEGOTIATE message asking for unicode */
static size_t
ntlm_type1(unsigned char *m)
{
	memset(m, 0, 32);
	memcpy(m, "NTLMSSP", 8);
	m[8] = 1;
	m[12] = 0x07; /* UNICODE | OEM | REQUEST_TARGET */
	m[13] = 0x82; /* NTLM | ALWAYS_SIGN */
	m[14] = 0x08;
	return 32;
}

static void
test_ntlm_flow(void **state)
{
	struct fixture *f = fx_new(EXCH, NULL);
	unsigned char t1[32], t2[1024];
	char b64[128], line[256];
	const char *p, *e;
	long n;

	fx_feed(f, "EHLO x\r\n", 8, 0);
	b64_encode(t1, ntlm_type1(t1), b64, sizeof(b64));
	snprintf(line, sizeof(line), "AUTH NTLM %s\r\n", b64);
	f->rec->outlen = 0;
	fx_feed(f, line, strlen(line), 0);
	assert_memory_equal(f->rec->out, "334 ", 4);
	p = f->rec->out + 4;
	e = strstr(p, "\r\n");
	assert_non_null(e);
	n = b64_decode(p, (size_t)(e - p), t2, sizeof(t2));
	assert_true(n > 48);
	assert_memory_equal(t2, "NTLMSSP\0", 8);
	assert_int_equal(t2[8], 2);
	/* TargetName offset 48: no VERSION field, as Windows 2000 */
	assert_int_equal(t2[16] | t2[17] << 8, 48);
	/* TargetName is the NetBIOS domain in UTF-16LE */
	assert_int_equal(t2[12] | t2[13] << 8, 14);
	assert_memory_equal(t2 + 48, "E\0X\0A\0M\0P\0L\0E\0", 14);
	/* the client aborts: recorded and answered */
	f->rec->outlen = 0;
	fx_feed(f, "*\r\n", 3, 0);
	assert_true(glob_match("501 *\r\n", f->rec->out));
	assert_non_null(strstr(f->rec->events, "\"outcome\":\"aborted\""));
	fx_free(f);
}

static void
test_auth_recorded(void **state)
{
	struct fixture *f = fx_new(EXCH, NULL);

	fx_feed(f, "EHLO x\r\nAUTH LOGIN\r\nYWRtaW4=\r\ncGFzcw==\r\n", 41, 0);
	assert_non_null(strstr(f->rec->events, "\"username\":\"admin\",\"password\":\"pass\""));
	assert_non_null(strstr(f->rec->events, "\"auth\":true"));
	fx_free(f);
}

static void
test_duplicate_params(void **state)
{
	struct fixture *f = fx_new(EXCH, NULL);
	const char *s = "HELO x\r\nMAIL FROM:<a@b> SIZE=1 BODY=7BIT SIZE=2 size=3\r\n";

	/* one key per JSON object, or the store refuses the whole event */
	fx_feed(f, s, strlen(s), 0);
	assert_non_null(strstr(f->rec->events, "\"params\":{\"SIZE\":\"1\",\"BODY\":\"7BIT\"}"));
	fx_free(f);
}

static void
test_mid_data_close(void **state)
{
	struct fixture *f = fx_new(EXCH, NULL);
	const char *s = "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\npartial line";

	fx_feed(f, s, strlen(s), 0);
	smtp_session_eof(f->s);
	assert_non_null(strstr(f->rec->events, "\"complete\":false"));
	assert_int_equal(f->rec->body_bytes, 12);
	smtp_session_free(f->s);
	f->s = NULL;
	assert_non_null(strstr(f->rec->events, "\"reason\":\"client_closed\""));
	assert_non_null(strstr(f->rec->events, "\"stage\":\"data\""));
	fx_free(f);
}

static void
strict_lf(struct config *c)
{
	c->bare_lf = BARE_LF_STRICT;
}

static void
test_bare_lf_policy(void **state)
{
	struct fixture *f = fx_new(EXCH, strict_lf);

	/* strict: a bare LF does not end a command; the CRLF later does */
	fx_feed(f, "NOOP\n", 5, 0);
	assert_int_equal(f->rec->nreplies, 0);
	fx_feed(f, "\r\n", 2, 0);
	assert_int_equal(f->rec->nreplies, 1);
	fx_free(f);

	f = fx_new(EXCH, NULL);
	fx_feed(f, "NOOP\n", 5, 0);
	assert_string_equal(f->rec->out, "250 2.0.0 OK\r\n");
	fx_free(f);
}

/* test_enrich_hooks - HELO/EHLO names and each message's X-Mailer reach the hooks after the
 * reply was queued; a message without X-Mailer gives an empty one */
static void
test_enrich_hooks(void **state)
{
	struct fixture *f = fx_new(EXCH, NULL);
	const char *in = "EHLO mail.example.org\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"
	                 "X-Mailer: Microsoft Outlook Express 6.00.2900.5512\r\nSubject: x\r\n\r\n"
	                 "hi\r\n.\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: y\r\n\r\n"
	                 ".\r\nHELO again\r\n";

	memset(&hooked, 0, sizeof(hooked));
	fx_feed(f, "EHLO mail.example.org\r\n", 23, 0);
	assert_int_equal(hooked.nhelo, 1);
	assert_string_equal(hooked.helo, "mail.example.org");
	assert_int_equal(f->rec->nreplies, 1); /* the reply was queued before the hook ran */
	fx_feed(f, in + 23, strlen(in) - 23, 7);
	assert_int_equal(hooked.nmessage, 2);
	assert_string_equal(hooked.x_mailer, "");
	assert_int_equal(hooked.nhelo, 2);
	assert_string_equal(hooked.helo, "again");
	fx_free(f);
	memset(&hooked, 0, sizeof(hooked));
	f = fx_new(EXCH, NULL);
	fx_feed(f, in, (size_t)(strstr(in, "hi\r\n.\r\n") + 7 - in), 0);
	assert_int_equal(hooked.nmessage, 1);
	assert_string_equal(hooked.x_mailer, "Microsoft Outlook Express 6.00.2900.5512");
	fx_free(f);
}

/* test_head_growth - header extraction reads the first 64 KiB of a message, its buffer grown
 * from a small start as the head arrives in pieces: a header after 40 KiB of others is found
 * (fed 1000 bytes at a time and in one piece), one after 64 KiB is not, and the body is whole */
static void
test_head_growth(void **state)
{
	static const char pre[] = "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n";
	const size_t pad_lines[] = {500, 900}; /* 80-byte lines: 40,000 and 72,000 bytes */
	const size_t steps[] = {1000, 0};
	char *msg = malloc(100000);

	assert_non_null(msg);
	for (size_t c = 0; c < 2; c++) {
		for (size_t k = 0; k < 2; k++) {
			struct fixture *f = fx_new(EXCH, NULL);
			size_t n = 0, body;

			n += (size_t)sprintf(msg + n, "%s", pre);
			for (size_t i = 0; i < pad_lines[c]; i++)
				n += (size_t)sprintf(msg + n, "X-Pad-%05zu: %066zu\r\n", i, i);
			n += (size_t)sprintf(msg + n, "Subject: found-%zu\r\n\r\nbody\r\n.\r\n", c);
			body = n - strlen(pre) - 3;
			fx_feed(f, msg, n, steps[k]);
			assert_int_equal(f->rec->body_bytes, body);
			if (c == 0)
				assert_non_null(
				    strstr(f->rec->events, "\"hdr_subject\":\"found-0\""));
			else
				assert_null(strstr(f->rec->events, "found-1"));
			fx_free(f);
		}
	}
	free(msg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rows),
	    cmocka_unit_test(test_banner),
	    cmocka_unit_test(test_dot_stuffing_and_body),
	    cmocka_unit_test(test_pipelining_signals),
	    cmocka_unit_test(test_signals),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_ntlm_flow),
	    cmocka_unit_test(test_auth_recorded),
	    cmocka_unit_test(test_duplicate_params),
	    cmocka_unit_test(test_mid_data_close),
	    cmocka_unit_test(test_bare_lf_policy),
	    cmocka_unit_test(test_enrich_hooks),
	    cmocka_unit_test(test_head_growth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
