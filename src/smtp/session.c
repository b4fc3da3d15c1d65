/* SPDX-License-Identifier: ISC */
/*
 * session - the SMTP state machine (see session.h).
 *
 * Owns: struct smtp_session, its transaction, its head/body buffers.
 * Input modes are an enum changed only in smtp_enter_state(). The envelope (MAIL, RCPT) lives
 * in struct smtp_tx, created by MAIL and freed by RSET, HELO/EHLO, the end of a message or
 * the end of the session. Every reply passes through smtp_send(), which records it and hands
 * it to the caller's writer with the persona delay. Every limit is recorded when hit.
 */
#include "smtp/session.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "capture/emit.h"
#include "core/log.h"
#include "core/str.h"
#include "core/util.h"
#include "smtp/addr.h"
#include "smtp/auth.h"

#define HEAD_MAX (64u * 1024u) /* bytes of a message kept for header extraction */
#define HEAD_MIN (4u * 1024u)  /* what the head starts with: most messages' headers fit */
#define HDR_VALUE_MAX 998      /* RFC 5322 line limit: header values recorded up to this */
#define REPLY_BUF (PERSONA_REPLY_MAX + 256)

#define SMTP_STATES(X)                                                                             \
	X(CMD, "cmd")                                                                              \
	X(DATA, "data")                                                                            \
	X(BDAT, "bdat")                                                                            \
	X(AUTH, "auth")                                                                            \
	X(CLOSED, "closed")

enum smtp_state {
#define X(e, n) ST_##e,
	SMTP_STATES(X)
#undef X
};

static const char *const smtp_state_names[] = {
#define X(e, n) n,
    SMTP_STATES(X)
#undef X
};

/* how far a session got, for the report's funnel */
enum smtp_stage { STAGE_CONNECT, STAGE_HELO, STAGE_MAIL, STAGE_RCPT, STAGE_DATA, STAGE_MESSAGE };
static const char *const stage_names[] = {"connect", "helo", "mail", "rcpt", "data", "message"};

enum auth_step {
	AUTH_LOGIN_USER,
	AUTH_LOGIN_PASS,
	AUTH_PLAIN,
	AUTH_CRAM,
	AUTH_NTLM_T1,
	AUTH_NTLM_T3,
	AUTH_GSSAPI
};

/* the bot-dialect signals, each recorded once per session */
enum smtp_signal {
	SIG_PRE_GREETING,
	SIG_PIPELINING_UNADV,
	SIG_PIPELINING,
	SIG_BARE_LF,
	SIG_HTTP,
	SIG_TLS,
	SIG_BINARY,
	SIG_LOWER,
	SIG_MIXED,
	SIG_MAIL_SPACE,
	SIG_NO_BRACKETS,
	SIG_HELO_AFTER_EHLO,
	SIG_NO_GREETING,
	SIG__COUNT
};
static const char *const signal_names[] = {
    "pre_greeting",    "pipelining_unadvertised",
    "pipelining",      "bare_lf",
    "non_smtp_http",   "non_smtp_tls",
    "non_smtp_binary", "verb_lowercase",
    "verb_mixedcase",  "mail_from_space",
    "no_brackets",     "helo_after_ehlo",
    "no_greeting",
};

struct smtp_tx {
	uint32_t id;
	char mail_from[ADDR_MAX + 8];
	char **rcpts;
	unsigned nrcpts;
	bool rcpt_limit_hit;
	/* message reception */
	const char *via; /* "DATA" or "BDAT" */
	uint64_t size;
	uint64_t stored;
	bool toobig;
	bool at_line_start;
	bool prev_cr;
	unsigned char *head; /* the message's first bytes, up to HEAD_MAX (head_cap allocated) */
	size_t head_len, head_cap;
	struct evbuffer *body; /* bytes not yet handed to capture */
};

struct smtp_session {
	const struct smtp_env *env;
	struct smtp_conn conn;
	struct smtp_hooks hooks;
	char id[SMTP_SESSION_ID_LEN + 1];
	struct jw prefix; /* common event fields */
	enum smtp_state state;
	enum smtp_stage stage;
	uint64_t t0;
	uint64_t first_cmd_us;
	bool banner_sent;
	bool greeted;
	bool ehlo;
	bool closing;
	bool skip_line;  /* discarding the rest of a too-long line */
	bool mid_line;   /* part of a command line is buffered */
	bool want_close; /* a 421 was sent: the channel closes after this command */
	const char *reason;
	char helo[256];
	struct smtp_tx *tx;
	uint32_t ntx;
	unsigned seq;
	unsigned commands, bad_commands, messages, rcpts_total, auth_attempts;
	uint64_t bytes_in, bytes_out;
	uint64_t bdat_remaining;
	bool bdat_last;
	bool bdat_ok; /* the chunk is accepted into the transaction */
	enum auth_step auth_step;
	char auth_mech[32];
	char auth_user[AUTH_FIELD_MAX];
	uint8_t ntlm_challenge[8];
	char cram_challenge[256];
	bool signals[SIG__COUNT];
	bool limits_hit[16];
};

/* limit names index limits_hit[] */
enum smtp_limit {
	LIM_LINE_MAX,
	LIM_COMMANDS,
	LIM_BAD_COMMANDS,
	LIM_RCPTS,
	LIM_MESSAGES,
	LIM_MESSAGE_SIZE,
	LIM_STORE_BODY,
	LIM_AUTH,
	LIM__COUNT
};
static const char *const limit_names[] = {
    "line_max",     "max_commands",     "max_bad_commands", "max_rcpts",
    "max_messages", "max_message_size", "store_body_max",   "auth_max_attempts",
};

static void smtp_enter_state(struct smtp_session *s, enum smtp_state st);

/* ev_begin - start an event of this session, or NULL when nothing is recorded */
static struct jw *
ev_begin(struct smtp_session *s, const char *eventid)
{
	if (s->env->cap == NULL)
		return NULL;
	return capture_begin(s->env->cap, eventid, &s->prefix);
}

/* ev_commit - queue the event started by ev_begin */
static void
ev_commit(struct smtp_session *s)
{
	capture_commit(s->env->cap);
}

static uint64_t
smtp_t_us(const struct smtp_session *s)
{
	return now_mono_us() - s->t0;
}

/* smtp_signal - record a bot-dialect observation once per session */
static void
smtp_signal(struct smtp_session *s, enum smtp_signal sig, const void *detail, size_t dlen)
{
	struct jw *w;

	if (s->signals[sig])
		return;
	s->signals[sig] = true;
	if ((w = ev_begin(s, "relaytrap.signal")) == NULL)
		return;
	jw_key_str(w, "signal", signal_names[sig]);
	jw_key_bytes(w, "detail", detail ? detail : "", detail ? (dlen > 200 ? 200 : dlen) : 0);
	ev_commit(s);
}

/* smtp_limit - record that a limit was hit (once per session and limit) */
static void
smtp_limit(struct smtp_session *s, enum smtp_limit lim, uint64_t value)
{
	struct jw *w;

	if (s->limits_hit[lim])
		return;
	s->limits_hit[lim] = true;
	log_debug("session=%s limit=%s value=%llu", s->id, limit_names[lim],
	          (unsigned long long)value);
	if ((w = ev_begin(s, "relaytrap.limit")) == NULL)
		return;
	jw_key_str(w, "limit", limit_names[lim]);
	jw_key_uint(w, "value", value);
	ev_commit(s);
}

/* smtp_delay - the persona delay with jitter for the next reply */
static int
smtp_delay(const struct smtp_session *s, int base)
{
	int j = s->env->delay_jitter_ms, d = base;

	if (j > 0)
		d += (int)rand_uniform((uint32_t)(2 * j + 1)) - j;
	return d < 0 ? 0 : d;
}

/* smtp_send - the one reply choke point: checks, records, hands to the writer */
static void
smtp_send(struct smtp_session *s, const char *buf, size_t len, int delay_ms)
{
	struct jw *w;
	size_t tl = len;
	const char *last;
	int code;

	if (len < 4 || buf[len - 2] != '\r' || buf[len - 1] != '\n') {
		log_err("session=%s refusing malformed reply", s->id);
		return;
	}
	/* the code of the last line decides; multi-line replies end "NNN text\r\n" */
	last = buf;
	for (size_t i = 0; i + 2 < len; i++)
		if (buf[i] == '\n')
			last = buf + i + 1;
	code = (isdigit((unsigned char)last[0]) && isdigit((unsigned char)last[1]) &&
	        isdigit((unsigned char)last[2]))
	           ? (last[0] - '0') * 100 + (last[1] - '0') * 10 + (last[2] - '0')
	           : 0;
	if (code >= 500)
		s->bad_commands++;
	if (code == 421)
		s->want_close = true;
	s->seq++;
	if ((w = ev_begin(s, "relaytrap.reply")) != NULL) {
		jw_key_uint(w, "seq", s->seq);
		jw_key_uint(w, "t_us", smtp_t_us(s));
		jw_key_int(w, "code", code);
		jw_key_strn(w, "text", buf, tl - 2);
		jw_key_int(w, "delay_ms", delay_ms);
		ev_commit(s);
	}
	s->hooks.reply(s->hooks.ctx, buf, len, delay_ms);
}

/* smtp_vars - the template variables every reply of this session shares */
static void
smtp_vars(const struct smtp_session *s, struct persona_vars *v)
{
	memset(v, 0, sizeof(*v));
	v->hostname = s->env->hostname;
	v->netbios = s->env->netbios;
	v->domain = s->env->domain;
	v->client_ip = s->conn.src_ip;
	v->helo = s->helo;
}

/* smtp_reply_v - render a persona reply with extra variables and send it */
static void
smtp_reply_v(struct smtp_session *s, enum persona_reply r, const char *addr, const char *arg,
             const char *msgid, uint64_t octets)
{
	struct persona_vars v;
	char out[REPLY_BUF];
	int n;

	smtp_vars(s, &v);
	v.addr = addr;
	v.arg = arg;
	v.msgid = msgid;
	v.octets = octets;
	n = persona_expand(s->env->persona, r, &v, out, sizeof(out));
	if (n < 0) {
		n = persona_expand(s->env->persona, PR_LOCAL_ERROR, &v, out, sizeof(out));
		if (n < 0)
			return;
	}
	smtp_send(s, out, (size_t)n,
	          smtp_delay(s, r == PR_BANNER ? s->env->delay_banner_ms : s->env->delay_reply_ms));
}

static void
smtp_reply(struct smtp_session *s, enum persona_reply r)
{
	smtp_reply_v(s, r, NULL, NULL, NULL, 0);
}

/* smtp_reply_334 - an AUTH challenge line "334 <base64>" (not a persona template: it
 * carries protocol data) */
static void
smtp_reply_334(struct smtp_session *s, const unsigned char *data, size_t len)
{
	char out[REPLY_BUF];
	long n;

	memcpy(out, "334 ", 4);
	n = b64_encode(data, len, out + 4, sizeof(out) - 6);
	if (n < 0) {
		smtp_reply(s, PR_LOCAL_ERROR);
		return;
	}
	memcpy(out + 4 + n, "\r\n", 2);
	smtp_send(s, out, (size_t)n + 6, smtp_delay(s, s->env->delay_reply_ms));
}

/* smtp_close - stop reading, let the caller close after the queued replies */
static void
smtp_close(struct smtp_session *s, const char *reason)
{
	if (s->closing)
		return;
	s->closing = true;
	if (s->reason == NULL)
		s->reason = reason;
	smtp_enter_state(s, ST_CLOSED);
	s->hooks.close(s->hooks.ctx);
}

static void
smtp_enter_state(struct smtp_session *s, enum smtp_state st)
{
	if (s->state == st)
		return;
	log_debug("session=%s state %s -> %s", s->id, smtp_state_names[s->state],
	          smtp_state_names[st]);
	s->state = st;
}

static void
smtp_stage(struct smtp_session *s, enum smtp_stage st)
{
	if (st > s->stage)
		s->stage = st;
}

/* tx_free - release a transaction; NULL is a no-op */
static void
tx_free(struct smtp_tx *tx)
{
	if (tx == NULL)
		return;
	for (unsigned i = 0; i < tx->nrcpts; i++)
		free(tx->rcpts[i]);
	free(tx->rcpts);
	free(tx->head);
	if (tx->body)
		evbuffer_free(tx->body);
	free(tx);
}

static void
smtp_tx_reset(struct smtp_session *s)
{
	tx_free(s->tx);
	s->tx = NULL;
}

/* ------------------------------------------------------------------ message bodies */

/* body_flush - hand buffered body bytes to capture */
static void
body_flush(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	size_t n;

	if (tx == NULL || tx->body == NULL)
		return;
	while ((n = evbuffer_get_length(tx->body)) > 0) {
		size_t k = n > FRAME_BODY_CHUNK ? FRAME_BODY_CHUNK : n;
		unsigned char *p = evbuffer_pullup(tx->body, (ev_ssize_t)k);
		if (p == NULL)
			break;
		if (s->env->cap)
			capture_body(s->env->cap, s->id, tx->id, p, k);
		evbuffer_drain(tx->body, k);
	}
}

/* head_grow - room for need bytes of head (need <= HEAD_MAX), doubling from HEAD_MIN: a
 * typical spam's headers need no more than the first block, so a session does not take
 * HEAD_MAX from malloc (a large request, slow on a heap fragmented by the DNS cache) for each
 * message. Out of memory leaves the head as it is. */
static void
head_grow(struct smtp_tx *tx, size_t need)
{
	size_t cap = tx->head_cap ? tx->head_cap : HEAD_MIN;
	unsigned char *h;

	while (cap < need)
		cap *= 2;
	if (cap > HEAD_MAX)
		cap = HEAD_MAX;
	h = realloc(tx->head, cap);
	if (h == NULL)
		return;
	tx->head = h;
	tx->head_cap = cap;
}

/* body_take - move n bytes of message content from in to the transaction */
static void
body_take(struct smtp_session *s, struct evbuffer *in, size_t n)
{
	struct smtp_tx *tx = s->tx;
	const struct limits *lim = s->env->limits;
	uint64_t keep = 0;
	size_t h;

	if (tx == NULL) {
		evbuffer_drain(in, n);
		return;
	}
	if (tx->head_len < HEAD_MAX) {
		h = HEAD_MAX - tx->head_len < n ? HEAD_MAX - tx->head_len : n;
		if (tx->head_len + h > tx->head_cap)
			head_grow(tx, tx->head_len + h);
		if (h > tx->head_cap - tx->head_len)
			h = tx->head_cap -
			    tx->head_len; /* out of memory: the head is what it has */
		evbuffer_copyout(in, tx->head + tx->head_len, h);
		tx->head_len += h;
	}
	if (tx->stored < lim->store_body_max)
		keep = lim->store_body_max - tx->stored;
	if (keep > n)
		keep = n;
	if (keep > 0) {
		evbuffer_remove_buffer(in, tx->body, (size_t)keep);
		tx->stored += keep;
		if (evbuffer_get_length(tx->body) >= FRAME_BODY_CHUNK)
			body_flush(s);
	}
	if (keep < n) {
		smtp_limit(s, LIM_STORE_BODY, lim->store_body_max);
		evbuffer_drain(in, n - (size_t)keep);
	}
	tx->size += n;
	if (tx->size > lim->max_message_size && !tx->toobig) {
		tx->toobig = true;
		smtp_limit(s, LIM_MESSAGE_SIZE, lim->max_message_size);
	}
}

/* body_begin - prepare the transaction for message content */
static int
body_begin(struct smtp_session *s, const char *via)
{
	struct smtp_tx *tx = s->tx;

	if (tx->body == NULL) {
		tx->body = evbuffer_new();
		if (tx->body == NULL)
			return -1;
		tx->via = via;
		tx->at_line_start = true;
		smtp_stage(s, STAGE_DATA);
	}
	return 0;
}

/* hdr_find - the first header named name in the head (unfolded, cut), or "" */
static size_t
hdr_find(const unsigned char *h, size_t len, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name), i = 0, o = 0;

	out[0] = '\0';
	while (i < len) {
		size_t ls = i, le;
		while (i < len && h[i] != '\n')
			i++;
		le = i;
		if (i < len)
			i++;
		if (le > ls && h[le - 1] == '\r')
			le--;
		if (le == ls)
			break; /* end of the header section */
		if (le - ls > nl && h[ls + nl] == ':' &&
		    strncasecmp((const char *)h + ls, name, nl) == 0) {
			size_t p = ls + nl + 1;
			for (;;) {
				while (p < le && (h[p] == ' ' || h[p] == '\t') && o == 0)
					p++;
				while (p < le && o + 1 < outlen)
					out[o++] = (char)h[p++];
				/* folded continuation lines start with white space */
				if (i < len && (h[i] == ' ' || h[i] == '\t')) {
					ls = i;
					while (i < len && h[i] != '\n')
						i++;
					le = i;
					if (i < len)
						i++;
					if (le > ls && h[le - 1] == '\r')
						le--;
					p = ls;
					continue;
				}
				break;
			}
			out[o] = '\0';
			return o;
		}
	}
	return 0;
}

/* message_end - the end of DATA or of the LAST chunk: answer, record, end the transaction */
static void
message_end(struct smtp_session *s, bool complete)
{
	static const char *const hdrs[][2] = {
	    {"From", "hdr_from"},
	    {"To", "hdr_to"},
	    {"Subject", "hdr_subject"},
	    {"Date", "hdr_date"},
	    {"Message-ID", "hdr_message_id"},
	    {"X-Mailer", "hdr_x_mailer"},
	};
	struct smtp_tx *tx = s->tx;
	char msgid[128] = "";
	char val[HDR_VALUE_MAX + 1];
	bool accepted = false;
	struct jw *w;
	size_t i, n;

	if (tx == NULL)
		return;
	body_flush(s);
	if (complete) {
		if (tx->toobig) {
			smtp_reply(s, PR_DATA_TOOBIG);
		} else {
			(*s->env->msg_counter)++;
			persona_msgid(s->env->persona, s->env->netbios, *s->env->msg_counter, msgid,
			              sizeof(msgid));
			smtp_reply_v(s, PR_DATA_OK, NULL, NULL, msgid, tx->size);
			accepted = true;
			s->messages++;
			smtp_stage(s, STAGE_MESSAGE);
		}
	}
	if ((w = ev_begin(s, "relaytrap.message")) != NULL) {
		jw_key_uint(w, "tx", tx->id);
		jw_key_str(w, "via", tx->via ? tx->via : "DATA");
		jw_key_uint(w, "size", tx->size);
		jw_key_uint(w, "stored", tx->stored);
		jw_key_bool(w, "truncated", tx->stored < tx->size);
		jw_key_bool(w, "complete", complete);
		jw_key_bool(w, "accepted", accepted);
		jw_key_str(w, "msgid", msgid);
		jw_key_bytes(w, "mail_from", tx->mail_from, strlen(tx->mail_from));
		jw_key_arr_open(w, "rcpts");
		for (i = 0; i < tx->nrcpts; i++)
			jw_arr_bytes(w, tx->rcpts[i], strlen(tx->rcpts[i]));
		jw_arr_close(w);
		for (i = 0; i < ARRAY_LEN(hdrs); i++) {
			n = hdr_find(tx->head, tx->head_len, hdrs[i][0], val, sizeof(val));
			if (n > 0)
				jw_key_bytes(w, hdrs[i][1], val, n);
		}
		ev_commit(s);
	}
	if (s->hooks.message != NULL) {
		n = hdr_find(tx->head, tx->head_len, "X-Mailer", val, sizeof(val));
		s->hooks.message(s->hooks.ctx, val, n);
	}
	smtp_tx_reset(s);
	smtp_enter_state(s, ST_CMD);
}

/* data_input - consume message content in DATA mode; true when more input may follow */
static bool
data_input(struct smtp_session *s, struct evbuffer *in)
{
	struct smtp_tx *tx = s->tx;
	bool strict = s->env->bare_lf == BARE_LF_STRICT;
	size_t len;

	while ((len = evbuffer_get_length(in)) > 0) {
		unsigned char pk[3];
		if (tx->at_line_start) {
			size_t k = len < 3 ? len : 3;
			evbuffer_copyout(in, pk, k);
			if (pk[0] == '.') {
				if (k == 1 || (k == 2 && pk[1] == '\r'))
					return false; /* need more to decide */
				if ((pk[1] == '\r' && pk[2] == '\n') ||
				    (pk[1] == '\n' && !strict)) {
					if (pk[1] == '\n')
						smtp_signal(s, SIG_BARE_LF, ".\\n", 3);
					evbuffer_drain(in, pk[1] == '\n' ? 2 : 3);
					s->bytes_in += pk[1] == '\n' ? 2 : 3;
					message_end(s, true);
					return true;
				}
				/* RFC 5321 §4.5.2: the first of a leading dot is removed */
				evbuffer_drain(in, 1);
				s->bytes_in++;
				len--;
				if (len == 0) {
					tx->at_line_start = false;
					return false;
				}
			}
			tx->at_line_start = false;
		}
		struct evbuffer_ptr p = evbuffer_search(in, "\n", 1, NULL);
		size_t n;
		if (p.pos >= 0) {
			n = (size_t)p.pos + 1;
			bool cr;
			if (p.pos > 0) {
				unsigned char c;
				struct evbuffer_ptr q;
				evbuffer_ptr_set(in, &q, (size_t)p.pos - 1, EVBUFFER_PTR_SET);
				evbuffer_copyout_from(in, &q, &c, 1);
				cr = c == '\r';
			} else {
				cr = tx->prev_cr;
			}
			if (!cr)
				smtp_signal(s, SIG_BARE_LF, "DATA", 4);
			tx->at_line_start = cr || !strict;
			tx->prev_cr = false;
		} else {
			unsigned char c;
			struct evbuffer_ptr q;
			n = len;
			evbuffer_ptr_set(in, &q, len - 1, EVBUFFER_PTR_SET);
			evbuffer_copyout_from(in, &q, &c, 1);
			tx->prev_cr = c == '\r';
		}
		s->bytes_in += n;
		body_take(s, in, n);
	}
	return false;
}

/* bdat_input - consume chunk bytes in BDAT mode; true when the chunk is complete */
static bool
bdat_input(struct smtp_session *s, struct evbuffer *in)
{
	size_t len = evbuffer_get_length(in);
	size_t n = len < s->bdat_remaining ? len : (size_t)s->bdat_remaining;

	if (n > 0) {
		s->bytes_in += n;
		if (s->bdat_ok)
			body_take(s, in, n);
		else
			evbuffer_drain(in, n);
		s->bdat_remaining -= n;
	}
	if (s->bdat_remaining > 0)
		return false;
	smtp_enter_state(s, ST_CMD);
	if (!s->bdat_ok)
		return true;
	if (s->bdat_last) {
		message_end(s, true);
	} else {
		body_flush(s);
		smtp_reply_v(s, PR_BDAT_OK, NULL, NULL, NULL, s->tx->size);
	}
	return true;
}

/* ------------------------------------------------------------------ commands */

/* a command: proceed acts and replies; commands whose answer is always the same persona
 * reply have no proceed function, only that reply */
struct smtp_cmd {
	const char *verb;
	void (*proceed)(struct smtp_session *s, const char *arg, size_t len);
	enum persona_reply reply;
};

/* arg_copy - a NUL-terminated copy of an argument, cut to outlen-1 */
static void
arg_copy(const char *arg, size_t len, char *out, size_t outlen)
{
	if (len >= outlen)
		len = outlen - 1;
	memcpy(out, arg, len);
	out[len] = '\0';
}

static void
cmd_helo_common(struct smtp_session *s, const char *arg, size_t len, bool ehlo)
{
	struct jw *w;

	if (len == 0) {
		smtp_reply(s, PR_HELO_NOARG);
		return;
	}
	if (s->greeted && s->ehlo && !ehlo)
		smtp_signal(s, SIG_HELO_AFTER_EHLO, arg, len);
	arg_copy(arg, len, s->helo, sizeof(s->helo));
	s->greeted = true;
	s->ehlo = ehlo;
	smtp_tx_reset(s);
	smtp_stage(s, STAGE_HELO);
	if ((w = ev_begin(s, "relaytrap.helo")) != NULL) {
		jw_key_str(w, "verb", ehlo ? "EHLO" : "HELO");
		jw_key_bytes(w, "name", arg, len);
		ev_commit(s);
	}
	smtp_reply(s, ehlo ? PR_EHLO : PR_HELO);
	if (s->hooks.helo != NULL)
		s->hooks.helo(s->hooks.ctx, arg, len);
}

static void
cmd_helo(struct smtp_session *s, const char *arg, size_t len)
{
	cmd_helo_common(s, arg, len, false);
}

static void
cmd_ehlo(struct smtp_session *s, const char *arg, size_t len)
{
	cmd_helo_common(s, arg, len, true);
}

/* path_flags - the event's "flags" array from addr flags */
static void
path_event(struct jw *w, const struct smtp_path *p, const char *addr, bool accepted)
{
	static const char *const names[] = {
	    "brackets",   "space_before", "null",         "no_domain",  "quoted",
	    "percent",    "bang",         "source_route", "ip_literal", "empty",
	    "unbalanced", "truncated",    "8bit",         "trailing"};
	size_t i;

	jw_key_bytes(w, "address", addr, strlen(addr));
	jw_key_bytes(w, "raw", p->raw, strlen(p->raw));
	jw_key_arr_open(w, "flags");
	for (i = 0; i < ARRAY_LEN(names); i++)
		if (p->flags & (1u << i))
			jw_arr_str(w, names[i]);
	jw_arr_close(w);
	jw_key_obj_open(w, "params");
	for (i = 0; i < p->nparams; i++) {
		/* A key sent twice keeps its first value, as addr_param() answers: a JSON object
		 * with a duplicate key is refused by the store, event and all. The command event
		 * has the whole line. */
		size_t j;

		for (j = 0; j < i && strcmp(p->params[j].key, p->params[i].key) != 0; j++)
			;
		if (j == i)
			jw_key_bytes(w, p->params[i].key, p->params[i].value,
			             strlen(p->params[i].value));
	}
	jw_obj_close(w);
	jw_key_bool(w, "accepted", accepted);
}

/* path_arg - after "FROM:" / "TO:" (case-insensitive); NULL if the keyword is missing */
static const char *
path_arg(const char *arg, size_t len, const char *kw, size_t *rest)
{
	size_t kl = strlen(kw), i = 0;

	while (i < len && arg[i] == ' ')
		i++;
	if (len - i < kl || strncasecmp(arg + i, kw, kl) != 0)
		return NULL;
	*rest = len - i - kl;
	return arg + i + kl;
}

/* path_echo - the address as the persona echoes it */
static void
path_echo(struct smtp_session *s, const struct smtp_path *p, char *out, size_t outlen)
{
	if (p->flags & ADDR_F_NULL) {
		strlcpy(out, "<>", outlen);
		return;
	}
	addr_format(p, s->env->domain, persona_append_domain(s->env->persona), out, outlen);
}

static void
cmd_mail(struct smtp_session *s, const char *arg, size_t len)
{
	struct smtp_path p;
	char echo[ADDR_MAX + 8];
	const char *rest;
	size_t rlen;
	struct jw *w;
	enum persona_reply r = PR_MAIL_OK;
	bool ok;

	if (!s->greeted) {
		smtp_signal(s, SIG_NO_GREETING, arg, len);
		if (persona_require_helo(s->env->persona)) {
			smtp_reply(s, PR_MAIL_NOHELO);
			return;
		}
	}
	if (s->tx != NULL) {
		smtp_reply(s, PR_MAIL_NESTED);
		return;
	}
	if ((rest = path_arg(arg, len, "FROM:", &rlen)) == NULL) {
		smtp_reply(s, PR_MAIL_BAD);
		return;
	}
	ok = addr_parse_path(rest, rlen, &p) == 0;
	if (p.flags & ADDR_F_SPACE_BEFORE)
		smtp_signal(s, SIG_MAIL_SPACE, arg, len);
	if (ok && !(p.flags & ADDR_F_BRACKETS))
		smtp_signal(s, SIG_NO_BRACKETS, arg, len);
	path_echo(s, &p, echo, sizeof(echo));
	if (!ok) {
		r = PR_MAIL_BAD;
	} else if (s->messages >= s->env->limits->max_messages) {
		smtp_limit(s, LIM_MESSAGES, s->env->limits->max_messages);
		ok = false;
		r = PR_MSG_TOOMANY;
	} else {
		s->tx = zalloc(sizeof(*s->tx));
		if (s->tx == NULL) {
			smtp_reply(s, PR_LOCAL_ERROR);
			smtp_close(s, "error");
			return;
		}
		s->tx->id = ++s->ntx;
		strlcpy(s->tx->mail_from, echo, sizeof(s->tx->mail_from));
		smtp_stage(s, STAGE_MAIL);
	}
	if ((w = ev_begin(s, "relaytrap.mail")) != NULL) {
		jw_key_uint(w, "tx", ok ? s->tx->id : 0);
		path_event(w, &p, echo, ok);
		ev_commit(s);
	}
	if (ok)
		smtp_reply_v(s, PR_MAIL_OK, echo, NULL, NULL, 0);
	else
		smtp_reply(s, r);
}

static void
cmd_rcpt(struct smtp_session *s, const char *arg, size_t len)
{
	struct smtp_tx *tx = s->tx;
	struct smtp_path p;
	char echo[ADDR_MAX + 8];
	const char *rest;
	size_t rlen;
	struct jw *w;
	bool ok, over = false;
	char **nr;

	if (tx == NULL) {
		smtp_reply(s, PR_RCPT_NOMAIL);
		return;
	}
	if ((rest = path_arg(arg, len, "TO:", &rlen)) == NULL) {
		smtp_reply(s, PR_RCPT_BAD);
		return;
	}
	ok = addr_parse_path(rest, rlen, &p) == 0 && !(p.flags & ADDR_F_NULL);
	path_echo(s, &p, echo, sizeof(echo));
	if (ok && tx->nrcpts >= s->env->limits->max_rcpts) {
		smtp_limit(s, LIM_RCPTS, s->env->limits->max_rcpts);
		ok = false;
		over = true;
	}
	if (ok) {
		nr = realloc(tx->rcpts, (tx->nrcpts + 1) * sizeof(*nr));
		if (nr == NULL || (nr[tx->nrcpts] = strdup(echo)) == NULL) {
			if (nr)
				tx->rcpts = nr;
			smtp_reply(s, PR_LOCAL_ERROR);
			smtp_close(s, "error");
			return;
		}
		tx->rcpts = nr;
		tx->nrcpts++;
		s->rcpts_total++;
		smtp_stage(s, STAGE_RCPT);
	}
	if ((w = ev_begin(s, "relaytrap.rcpt")) != NULL) {
		jw_key_uint(w, "tx", tx->id);
		path_event(w, &p, echo, ok);
		ev_commit(s);
	}
	if (ok)
		smtp_reply_v(s, PR_RCPT_OK, echo, NULL, NULL, 0);
	else
		smtp_reply(s, over ? PR_RCPT_TOOMANY : PR_RCPT_BAD);
}

static void
cmd_data(struct smtp_session *s, const char *arg, size_t len)
{
	if (s->tx == NULL) {
		smtp_reply(s, PR_DATA_NOMAIL);
		return;
	}
	if (s->tx->nrcpts == 0) {
		smtp_reply(s, PR_DATA_NORCPT);
		return;
	}
	if (body_begin(s, "DATA") == -1) {
		smtp_reply(s, PR_LOCAL_ERROR);
		smtp_close(s, "error");
		return;
	}
	smtp_reply(s, PR_DATA_START);
	smtp_enter_state(s, ST_DATA);
}

static void
cmd_bdat(struct smtp_session *s, const char *arg, size_t len)
{
	char buf[64], *sp, *last;
	long long n;
	const char *err;

	arg_copy(arg, len, buf, sizeof(buf));
	sp = strchr(buf, ' ');
	last = NULL;
	if (sp != NULL) {
		*sp = '\0';
		last = sp + 1;
		while (*last == ' ')
			last++;
	}
	if (parse_num(buf, 0, (long long)1 << 40, &n, &err) == -1 ||
	    (last != NULL && *last != '\0' && strcasecmp(last, "LAST") != 0)) {
		smtp_reply(s, PR_BDAT_BAD);
		return;
	}
	s->bdat_remaining = (uint64_t)n;
	s->bdat_last = last != NULL && *last != '\0';
	s->bdat_ok = false;
	/* RFC 3030: a refused chunk is still read off the wire before the error reply */
	if (s->tx == NULL) {
		smtp_reply(s, PR_BDAT_NOMAIL);
	} else if (s->tx->nrcpts == 0) {
		smtp_reply(s, PR_BDAT_NORCPT);
	} else if (s->tx->via != NULL && strcmp(s->tx->via, "BDAT") != 0) {
		smtp_reply(s, PR_BDAT_BAD);
	} else if (body_begin(s, "BDAT") == -1) {
		smtp_reply(s, PR_LOCAL_ERROR);
		smtp_close(s, "error");
		return;
	} else {
		s->bdat_ok = true;
	}
	smtp_enter_state(s, ST_BDAT);
}

static void
cmd_rset(struct smtp_session *s, const char *arg, size_t len)
{
	smtp_tx_reset(s);
	smtp_reply(s, PR_RSET);
}

static void
cmd_quit(struct smtp_session *s, const char *arg, size_t len)
{
	smtp_reply(s, PR_QUIT);
	smtp_close(s, "quit");
}

static void
cmd_vrfy(struct smtp_session *s, const char *arg, size_t len)
{
	char a[PERSONA_VAR_MAX];
	size_t i = 0;

	while (i < len && arg[i] == ' ')
		i++;
	if (i == len) {
		smtp_reply(s, PR_VRFY_NOARG);
		return;
	}
	arg_copy(arg + i, len - i, a, sizeof(a));
	/* IIS answers for user@<its own host name> when no domain is given */
	if (memchr(a, '@', strlen(a)) == NULL &&
	    strlen(a) + strlen(s->env->hostname) + 2 < sizeof(a)) {
		strlcat(a, "@", sizeof(a));
		strlcat(a, s->env->hostname, sizeof(a));
	}
	smtp_reply_v(s, PR_VRFY, a, a, NULL, 0);
}

static void
cmd_expn(struct smtp_session *s, const char *arg, size_t len)
{
	char a[PERSONA_VAR_MAX];

	arg_copy(arg, len, a, sizeof(a));
	smtp_reply_v(s, PR_EXPN, a, a, NULL, 0);
}

static void
cmd_etrn(struct smtp_session *s, const char *arg, size_t len)
{
	char a[PERSONA_VAR_MAX];

	if (len == 0) {
		smtp_reply(s, PR_ETRN_NOARG);
		return;
	}
	arg_copy(arg, len, a, sizeof(a));
	smtp_reply_v(s, PR_ETRN, NULL, a, NULL, 0);
}

/* ------------------------------------------------------------------ AUTH */

/* auth_event - record one credential attempt; fields beyond the mechanism are optional */
static struct jw *
auth_event_begin(struct smtp_session *s, const char *outcome)
{
	struct jw *w = ev_begin(s, "relaytrap.auth");

	if (w == NULL)
		return NULL;
	jw_key_str(w, "mechanism", s->auth_mech);
	jw_key_bool(w, "supported", persona_auth_mech(s->env->persona, s->auth_mech));
	jw_key_str(w, "outcome", outcome);
	return w;
}

static void
auth_simple_event(struct smtp_session *s, const char *outcome, const char *user, const char *pass)
{
	struct jw *w = auth_event_begin(s, outcome);

	if (w == NULL)
		return;
	if (user)
		jw_key_bytes(w, "username", user, strlen(user));
	if (pass)
		jw_key_bytes(w, "password", pass, strlen(pass));
	ev_commit(s);
}

/* auth_done - the exchange is over: back to commands, answered with reply r */
static void
auth_done(struct smtp_session *s, enum persona_reply r)
{
	smtp_enter_state(s, ST_CMD);
	s->auth_user[0] = '\0';
	smtp_reply(s, r);
}

/* auth_bad_b64 - the client's AUTH line was not base64: record and end the exchange */
static void
auth_bad_b64(struct smtp_session *s, const char *user)
{
	auth_simple_event(s, "bad_base64", user, NULL);
	auth_done(s, PR_AUTH_BADB64);
}

/* auth_ntlm_type2 - answer a type 1 message with a Windows 2000 style challenge */
static void
auth_ntlm_type2(struct smtp_session *s, const char *b64, size_t len)
{
	unsigned char msg[AUTH_BLOB_MAX], t2[1024];
	struct ntlm_type1 t1;
	struct ntlm_names names;
	long n, m;

	n = b64_decode(b64, len, msg, sizeof(msg));
	if (n < 0 || ntlm_parse_type1(msg, (size_t)n, &t1) == -1) {
		auth_simple_event(s, n < 0 ? "bad_base64" : "failed", NULL, NULL);
		auth_done(s, n < 0 ? PR_AUTH_BADB64 : PR_AUTH_FAIL);
		return;
	}
	names.netbios_domain = s->env->nb_domain;
	names.netbios_computer = s->env->netbios;
	names.dns_domain = s->env->dns_domain;
	names.dns_computer = s->env->hostname;
	names.dns_tree = s->env->dns_domain;
	rand_buf(s->ntlm_challenge, sizeof(s->ntlm_challenge));
	m = ntlm_build_type2(&names, s->ntlm_challenge, t1.flags, t2, sizeof(t2));
	if (m < 0) {
		auth_done(s, PR_AUTH_FAIL);
		return;
	}
	s->auth_step = AUTH_NTLM_T3;
	smtp_reply_334(s, t2, (size_t)m);
}

/* auth_ntlm_type3 - decode and record the AUTHENTICATE message: the credential */
static void
auth_ntlm_type3(struct smtp_session *s, const char *b64, size_t len)
{
	unsigned char msg[AUTH_BLOB_MAX];
	struct ntlm_type3 t3;
	char hex[2 * sizeof(t3.nt) + 1], crack[4096];
	struct jw *w;
	long n;

	n = b64_decode(b64, len, msg, sizeof(msg));
	if (n < 0 || ntlm_parse_type3(msg, (size_t)n, &t3) == -1) {
		auth_simple_event(s, n < 0 ? "bad_base64" : "failed", NULL, NULL);
		auth_done(s, n < 0 ? PR_AUTH_BADB64 : PR_AUTH_FAIL);
		return;
	}
	if ((w = auth_event_begin(s, "failed")) != NULL) {
		jw_key_bytes(w, "username", t3.user, strlen(t3.user));
		jw_key_bytes(w, "ntlm_domain", t3.domain, strlen(t3.domain));
		jw_key_bytes(w, "ntlm_user", t3.user, strlen(t3.user));
		jw_key_bytes(w, "ntlm_workstation", t3.workstation, strlen(t3.workstation));
		hex_encode(t3.lm, t3.lm_len, hex, sizeof(hex));
		jw_key_str(w, "ntlm_lm", hex);
		hex_encode(t3.nt, t3.nt_len, hex, sizeof(hex));
		jw_key_str(w, "ntlm_nt", hex);
		hex_encode(s->ntlm_challenge, 8, hex, sizeof(hex));
		jw_key_str(w, "ntlm_challenge", hex);
		jw_key_str(w, "crack",
		           ntlm_crack_line(&t3, s->ntlm_challenge, crack, sizeof(crack)));
		ev_commit(s);
	}
	auth_done(s, PR_AUTH_FAIL);
}

/* auth_continue - one line of an AUTH exchange */
static void
auth_continue(struct smtp_session *s, const char *line, size_t len)
{
	char pass[AUTH_FIELD_MAX];
	struct auth_plain pl;
	struct auth_cram cr;
	bool trunc;
	struct jw *w;

	if (len == 1 && line[0] == '*') {
		auth_simple_event(s, "aborted", s->auth_user[0] ? s->auth_user : NULL, NULL);
		auth_done(s, PR_AUTH_ABORTED);
		return;
	}
	switch (s->auth_step) {
	case AUTH_LOGIN_USER:
		if (auth_decode_b64_text(line, len, s->auth_user, sizeof(s->auth_user), &trunc) <
		    0) {
			auth_bad_b64(s, NULL);
			return;
		}
		s->auth_step = AUTH_LOGIN_PASS;
		smtp_reply(s, PR_AUTH_PASS_PROMPT);
		return;
	case AUTH_LOGIN_PASS:
		if (auth_decode_b64_text(line, len, pass, sizeof(pass), &trunc) < 0) {
			auth_bad_b64(s, s->auth_user);
			return;
		}
		auth_simple_event(s, "failed", s->auth_user, pass);
		auth_done(s, PR_AUTH_FAIL);
		return;
	case AUTH_PLAIN:
		if (auth_decode_plain(line, len, &pl) == -1) {
			auth_bad_b64(s, NULL);
			return;
		}
		if ((w = auth_event_begin(s, "failed")) != NULL) {
			jw_key_bytes(w, "authzid", pl.authzid, strlen(pl.authzid));
			jw_key_bytes(w, "username", pl.authcid, strlen(pl.authcid));
			jw_key_bytes(w, "password", pl.password, strlen(pl.password));
			ev_commit(s);
		}
		auth_done(s, PR_AUTH_FAIL);
		return;
	case AUTH_CRAM:
		if (auth_decode_cram_md5(line, len, &cr) == -1) {
			auth_bad_b64(s, NULL);
			return;
		}
		if ((w = auth_event_begin(s, "failed")) != NULL) {
			jw_key_bytes(w, "username", cr.user, strlen(cr.user));
			jw_key_str(w, "digest", cr.digest);
			jw_key_str(w, "challenge", s->cram_challenge);
			ev_commit(s);
		}
		auth_done(s, PR_AUTH_FAIL);
		return;
	case AUTH_NTLM_T1:
		auth_ntlm_type2(s, line, len);
		return;
	case AUTH_NTLM_T3:
		auth_ntlm_type3(s, line, len);
		return;
	case AUTH_GSSAPI:
		if ((w = auth_event_begin(s, "failed")) != NULL) {
			jw_key_uint(w, "blob_len", len);
			ev_commit(s);
		}
		auth_done(s, PR_AUTH_FAIL);
		return;
	}
}

static void
cmd_auth(struct smtp_session *s, const char *arg, size_t len)
{
	char mech[32], *sp;
	const char *init = NULL;
	size_t ilen = 0, ml;

	if (len == 0) {
		smtp_reply(s, PR_AUTH_NOARG);
		return;
	}
	if (!s->greeted && persona_require_helo(s->env->persona)) {
		smtp_reply(s, PR_AUTH_NOHELO);
		return;
	}
	if (s->tx != NULL) {
		smtp_reply(s, PR_AUTH_ALREADY);
		return;
	}
	arg_copy(arg, len, mech, sizeof(mech));
	if ((sp = strchr(mech, ' ')) != NULL)
		*sp = '\0';
	ml = strlen(mech);
	for (size_t i = 0; i < ml; i++)
		mech[i] = (char)toupper((unsigned char)mech[i]);
	{
		const char *p = memchr(arg, ' ', len);
		if (p != NULL) {
			while (p < arg + len && *p == ' ')
				p++;
			init = p;
			ilen = (size_t)(arg + len - p);
		}
	}
	strlcpy(s->auth_mech, mech, sizeof(s->auth_mech));
	s->auth_attempts++;
	if (s->auth_attempts > s->env->limits->auth_max_attempts) {
		smtp_limit(s, LIM_AUTH, s->env->limits->auth_max_attempts);
		smtp_reply(s, PR_AUTH_TOOMANY);
		smtp_close(s, "too_many_errors");
		return;
	}
	if (!persona_auth_mech(s->env->persona, mech)) {
		auth_simple_event(s, "unsupported", NULL, NULL);
		smtp_reply(s, PR_AUTH_BADMECH);
		return;
	}
	s->auth_user[0] = '\0';
	smtp_enter_state(s, ST_AUTH);
	if (strcmp(mech, "LOGIN") == 0) {
		s->auth_step = AUTH_LOGIN_USER;
		if (ilen > 0 && !(ilen == 1 && init[0] == '='))
			auth_continue(s, init, ilen);
		else
			smtp_reply(s, PR_AUTH_USER_PROMPT);
	} else if (strcmp(mech, "PLAIN") == 0) {
		s->auth_step = AUTH_PLAIN;
		if (ilen > 0)
			auth_continue(s, init, ilen);
		else
			smtp_reply(s, PR_AUTH_PLAIN_PROMPT);
	} else if (strcmp(mech, "CRAM-MD5") == 0) {
		s->auth_step = AUTH_CRAM;
		auth_cram_md5_challenge(s->env->hostname, s->cram_challenge,
		                        sizeof(s->cram_challenge));
		smtp_reply_334(s, (const unsigned char *)s->cram_challenge,
		               strlen(s->cram_challenge));
	} else if (strcmp(mech, "NTLM") == 0) {
		s->auth_step = AUTH_NTLM_T1;
		if (ilen > 0)
			auth_continue(s, init, ilen);
		else
			smtp_reply(s, PR_AUTH_NTLM_START);
	} else {
		s->auth_step = AUTH_GSSAPI;
		smtp_reply(s, PR_AUTH_GSSAPI_PROMPT);
	}
}

static const struct smtp_cmd smtp_cmds[] = {
    {"HELO", cmd_helo, PR_HELO},
    {"EHLO", cmd_ehlo, PR_EHLO},
    {"MAIL", cmd_mail, PR_MAIL_OK},
    {"RCPT", cmd_rcpt, PR_RCPT_OK},
    {"DATA", cmd_data, PR_DATA_START},
    {"BDAT", cmd_bdat, PR_BDAT_OK},
    {"RSET", cmd_rset, PR_RSET},
    {"NOOP", NULL, PR_NOOP},
    {"QUIT", cmd_quit, PR_QUIT},
    {"HELP", NULL, PR_HELP},
    {"VRFY", cmd_vrfy, PR_VRFY},
    {"EXPN", cmd_expn, PR_EXPN},
    {"TURN", NULL, PR_TURN},
    {"ATRN", NULL, PR_ATRN},
    {"ETRN", cmd_etrn, PR_ETRN},
    {"STARTTLS", NULL, PR_STARTTLS},
    {"AUTH", cmd_auth, PR_AUTH_FAIL},
    {"XEXCH50", NULL, PR_UNKNOWN},
    {"X-LINK2STATE", NULL, PR_UNKNOWN},
};

/* first_line_signals - what the first line says about the client's kind */
static void
first_line_signals(struct smtp_session *s, const unsigned char *line, size_t len)
{
	static const char *const http[] = {"GET ", "POST ",    "HEAD ",
	                                   "PUT ", "OPTIONS ", "CONNECT "};
	size_t i, bad = 0;

	if (len >= 3 && line[0] == 0x16 && line[1] == 0x03) {
		smtp_signal(s, SIG_TLS, line, len > 16 ? 16 : len);
		return;
	}
	for (i = 0; i < ARRAY_LEN(http); i++)
		if (len >= strlen(http[i]) && memcmp(line, http[i], strlen(http[i])) == 0) {
			smtp_signal(s, SIG_HTTP, line, len);
			return;
		}
	for (i = 0; i < len; i++)
		if ((line[i] < 0x20 && line[i] != '\t' && line[i] != '\r') || line[i] == 0x7f)
			bad++;
	if (bad > 0 && bad * 10 >= len)
		smtp_signal(s, SIG_BINARY, line, len);
}

/* smtp_command - dispatch one complete command line */
static void
smtp_command(struct smtp_session *s, const unsigned char *line, size_t len, size_t wire_len,
             bool truncated, bool bare_lf, bool more)
{
	const struct smtp_cmd *cmd = NULL;
	char verb[16];
	size_t vl = 0, i, a;
	bool lower = false, upper = false;
	struct jw *w;

	if (s->commands == 0) {
		s->first_cmd_us = smtp_t_us(s);
		first_line_signals(s, line, len);
	}
	s->commands++;
	if (bare_lf)
		smtp_signal(s, SIG_BARE_LF, line, len);
	while (vl < len && line[vl] != ' ' && vl < sizeof(verb) - 1) {
		verb[vl] = (char)toupper(line[vl]);
		if (islower(line[vl]))
			lower = true;
		else if (isupper(line[vl]))
			upper = true;
		vl++;
	}
	verb[vl] = '\0';
	if (s->state == ST_CMD && !truncated && (vl == len || line[vl] == ' '))
		for (i = 0; i < ARRAY_LEN(smtp_cmds); i++)
			if (strcmp(verb, smtp_cmds[i].verb) == 0)
				cmd = &smtp_cmds[i];
	s->seq++;
	if ((w = ev_begin(s, "relaytrap.command")) != NULL) {
		jw_key_uint(w, "seq", s->seq);
		jw_key_uint(w, "t_us", smtp_t_us(s));
		jw_key_bytes(w, "line", line, len);
		jw_key_str(w, "verb", s->state == ST_AUTH ? "" : cmd ? cmd->verb : "");
		jw_key_uint(w, "len", wire_len);
		jw_key_bool(w, "truncated", truncated);
		jw_key_bool(w, "bare_lf", bare_lf);
		jw_key_bool(w, "auth", s->state == ST_AUTH);
		ev_commit(s);
	}
	if (truncated) {
		smtp_limit(s, LIM_LINE_MAX, s->env->limits->line_max);
		if (s->state == ST_AUTH)
			auth_done(s, PR_LINE_TOO_LONG);
		else
			smtp_reply(s, PR_LINE_TOO_LONG);
		return;
	}
	if (s->state == ST_AUTH) {
		auth_continue(s, (const char *)line, len);
		return;
	}
	if (cmd != NULL) {
		if (lower && upper)
			smtp_signal(s, SIG_MIXED, verb, vl);
		else if (lower)
			smtp_signal(s, SIG_LOWER, verb, vl);
	}
	if (more && cmd != NULL && cmd->proceed != cmd_bdat) {
		if (s->ehlo && persona_advertises(s->env->persona, "PIPELINING"))
			smtp_signal(s, SIG_PIPELINING, verb, vl);
		else
			smtp_signal(s, SIG_PIPELINING_UNADV, verb, vl);
	}
	a = vl;
	while (a < len && line[a] == ' ')
		a++;
	/* MAIL and RCPT keep their spacing: "FROM: <x>" is a dialect signal */
	if (cmd != NULL && (cmd->proceed == cmd_mail || cmd->proceed == cmd_rcpt))
		a = vl < len ? vl + 1 : vl;
	if (cmd == NULL)
		smtp_reply(s, PR_UNKNOWN);
	else if (cmd->proceed == NULL)
		smtp_reply(s, cmd->reply);
	else
		cmd->proceed(s, (const char *)line + a, len - a);
}

/* smtp_budgets - after each command: the per-session budgets */
static void
smtp_budgets(struct smtp_session *s)
{
	const struct limits *lim = s->env->limits;

	if (s->closing)
		return;
	if (s->bad_commands >= lim->max_bad_commands) {
		smtp_limit(s, LIM_BAD_COMMANDS, lim->max_bad_commands);
		smtp_reply(s, PR_TOO_MANY_ERRORS);
		smtp_close(s, "too_many_errors");
	} else if (s->commands >= lim->max_commands) {
		smtp_limit(s, LIM_COMMANDS, lim->max_commands);
		smtp_reply(s, PR_TOO_MANY_COMMANDS);
		smtp_close(s, "too_many_commands");
	}
}

/* line_input - take one command line if there is one; false when more bytes are needed */
static bool
line_input(struct smtp_session *s, struct evbuffer *in)
{
	size_t len = evbuffer_get_length(in), eol_len = 0, n;
	size_t max = s->env->limits->line_max;
	bool strict = s->env->bare_lf == BARE_LF_STRICT;
	struct evbuffer_ptr p;
	unsigned char *line;
	bool bare = false;

	p = evbuffer_search_eol(in, NULL, &eol_len,
	                        strict ? EVBUFFER_EOL_CRLF_STRICT : EVBUFFER_EOL_LF);
	if (s->skip_line) {
		/* the rest of a too-long line: discard up to its end */
		if (p.pos < 0) {
			s->bytes_in += len;
			evbuffer_drain(in, len);
			return false;
		}
		s->bytes_in += (size_t)p.pos + eol_len;
		evbuffer_drain(in, (size_t)p.pos + eol_len);
		s->skip_line = false;
		s->mid_line = false;
		return true;
	}
	if (p.pos < 0) {
		s->mid_line = len > 0;
		if (len <= max + 1)
			return false;
		/* too long before a line end exists: answer now, skip the rest */
		line = evbuffer_pullup(in, (ev_ssize_t)max);
		smtp_command(s, line, max, len, true, false, false);
		s->bytes_in += len;
		evbuffer_drain(in, len);
		s->skip_line = true;
		return false;
	}
	s->mid_line = false;
	n = (size_t)p.pos;
	if (!strict) {
		/* EVBUFFER_EOL_LF: a CR before the LF belongs to the line ending */
		if (n > 0) {
			unsigned char c;
			struct evbuffer_ptr q;
			evbuffer_ptr_set(in, &q, n - 1, EVBUFFER_PTR_SET);
			evbuffer_copyout_from(in, &q, &c, 1);
			if (c == '\r') {
				n--;
				eol_len++;
			} else {
				bare = true;
			}
		} else {
			bare = true;
		}
	}
	if (n > max) {
		line = evbuffer_pullup(in, (ev_ssize_t)max);
		smtp_command(s, line, max, n, true, false, false);
	} else {
		line = evbuffer_pullup(in, (ev_ssize_t)(n + eol_len));
		smtp_command(s, line, n, n, false, bare, len > n + eol_len);
	}
	s->bytes_in += n + eol_len;
	evbuffer_drain(in, n + eol_len);
	smtp_budgets(s);
	if (s->want_close)
		smtp_close(s, "server_closed");
	return true;
}

void
smtp_session_input(struct smtp_session *s, struct evbuffer *in)
{
	bool go = true;

	while (go && !s->closing && evbuffer_get_length(in) > 0) {
		switch (s->state) {
		case ST_CMD:
		case ST_AUTH:
			go = line_input(s, in);
			break;
		case ST_DATA:
			go = data_input(s, in);
			break;
		case ST_BDAT:
			go = bdat_input(s, in);
			break;
		case ST_CLOSED:
			go = false;
			break;
		}
	}
	if (s->closing) {
		/* whatever follows a closing reply is not read, but it was received */
		s->bytes_in += evbuffer_get_length(in);
		evbuffer_drain(in, evbuffer_get_length(in));
	}
}

/* ------------------------------------------------------------------ lifecycle */

struct smtp_session *
smtp_session_new(const struct smtp_env *env, const struct smtp_conn *conn,
                 const struct smtp_hooks *hooks)
{
	struct smtp_session *s = zalloc(sizeof(*s));
	unsigned char idb[SMTP_SESSION_ID_LEN / 2];
	uint64_t ms = now_real_us() / 1000u;
	struct jw *w;

	if (s == NULL)
		return NULL;
	s->env = env;
	s->conn = *conn;
	s->hooks = *hooks;
	s->t0 = now_mono_us();
	s->first_cmd_us = (uint64_t)-1;
	s->state = ST_CMD;
	/* The id starts with the time (48 bits of milliseconds), then 48 random bits: ids sort
	 * by time, so every table's session key grows at its end instead of at random places
	 * (a commit dirties a few B-tree pages, not one per row), and ids from a fleet of
	 * sensors stay unique. */
	for (int i = 0; i < 6; i++)
		idb[i] = (unsigned char)(ms >> (40 - 8 * i));
	rand_buf(idb + 6, sizeof(idb) - 6);
	hex_encode(idb, sizeof(idb), s->id, sizeof(s->id));
	jw_init(&s->prefix);
	if (env->cap != NULL) {
		capture_prefix(env->cap, &s->prefix, s->id, conn->src_ip, conn->src_port,
		               conn->dst_ip, conn->dst_port, persona_name(env->persona),
		               conn->listener);
		if ((w = ev_begin(s, "relaytrap.session.connect")) != NULL) {
			jw_key_bool(w, "proxied", conn->proxied);
			if (conn->proxied) {
				jw_key_int(w, "proxy_version", conn->proxy_version);
				jw_key_str(w, "peer_ip", conn->peer_ip);
				jw_key_int(w, "peer_port", conn->peer_port);
			}
			ev_commit(s);
		}
	}
	return s;
}

void
smtp_session_start(struct smtp_session *s)
{
	smtp_reply(s, PR_BANNER);
	s->banner_sent = true;
}

void
smtp_session_pregreet(struct smtp_session *s, size_t nbytes)
{
	char d[32];

	snprintf(d, sizeof(d), "%zu bytes", nbytes);
	smtp_signal(s, SIG_PRE_GREETING, d, strlen(d));
}

void
smtp_session_timeout(struct smtp_session *s, enum smtp_timeout which)
{
	static const char *const reasons[] = {"idle_timeout", "cmd_timeout", "session_max"};

	if (s->closing)
		return;
	if (which == SMTP_TO_LIFETIME) {
		smtp_reply(s, PR_LIFETIME);
	} else {
		smtp_reply(s, PR_TIMEOUT);
	}
	if (s->state == ST_DATA || s->state == ST_BDAT)
		message_end(s, false);
	smtp_close(s, reasons[which]);
}

void
smtp_session_overload(struct smtp_session *s, const char *limit, unsigned value)
{
	struct jw *w;

	if ((w = ev_begin(s, "relaytrap.limit")) != NULL) {
		jw_key_str(w, "limit", limit);
		jw_key_uint(w, "value", value);
		ev_commit(s);
	}
	smtp_reply(s, PR_OVERLOAD);
	smtp_close(s, "overload");
}

void
smtp_session_shutdown(struct smtp_session *s)
{
	if (s->closing)
		return;
	smtp_reply(s, PR_SHUTDOWN);
	if (s->state == ST_DATA || s->state == ST_BDAT)
		message_end(s, false);
	smtp_close(s, "shutdown");
}

void
smtp_session_eof(struct smtp_session *s)
{
	if (s->state == ST_DATA || s->state == ST_BDAT)
		message_end(s, false);
	if (s->reason == NULL)
		s->reason = "client_closed";
	smtp_enter_state(s, ST_CLOSED);
}

bool
smtp_session_closing(const struct smtp_session *s)
{
	return s->closing;
}

bool
smtp_session_mid_command(const struct smtp_session *s)
{
	return s->mid_line || s->state == ST_DATA || s->state == ST_BDAT;
}

void
smtp_session_note_bytes_out(struct smtp_session *s, size_t n)
{
	s->bytes_out += n;
}

const char *
smtp_session_id(const struct smtp_session *s)
{
	return s->id;
}

const struct jw *
smtp_session_prefix(const struct smtp_session *s)
{
	return &s->prefix;
}

void
smtp_session_free(struct smtp_session *s)
{
	struct jw *w;

	if (s == NULL)
		return;
	if (s->tx != NULL && (s->state == ST_DATA || s->state == ST_BDAT))
		message_end(s, false);
	if ((w = ev_begin(s, "relaytrap.session.closed")) != NULL) {
		jw_key_str(w, "reason", s->reason ? s->reason : "client_closed");
		jw_key_uint(w, "duration_us", smtp_t_us(s));
		jw_key_int(w, "first_cmd_us",
		           s->first_cmd_us == (uint64_t)-1 ? -1 : (long long)s->first_cmd_us);
		jw_key_str(w, "greeting", s->greeted ? (s->ehlo ? "EHLO" : "HELO") : "");
		jw_key_bytes(w, "helo", s->helo, strlen(s->helo));
		jw_key_uint(w, "commands", s->commands);
		jw_key_uint(w, "bad_commands", s->bad_commands);
		jw_key_uint(w, "messages", s->messages);
		jw_key_uint(w, "rcpts", s->rcpts_total);
		jw_key_uint(w, "auth_attempts", s->auth_attempts);
		jw_key_uint(w, "bytes_in", s->bytes_in);
		jw_key_uint(w, "bytes_out", s->bytes_out);
		jw_key_str(w, "stage", stage_names[s->stage]);
		ev_commit(s);
	}
	smtp_tx_reset(s);
	jw_free(&s->prefix);
	free(s);
}
