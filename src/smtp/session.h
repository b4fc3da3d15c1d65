/* SPDX-License-Identifier: ISC */
/*
 * session - the SMTP state machine: bytes in, persona replies and capture events out.
 *
 * Owns: struct smtp_session and its transaction (struct smtp_tx), its line and body buffers.
 * Public: smtp_session_new, smtp_session_start, smtp_session_input, smtp_session_pregreet,
 *         smtp_session_timeout, smtp_session_eof, smtp_session_overload, smtp_session_free,
 *         smtp_session_closing, smtp_session_id.
 * I/O: the engine never touches a socket. Replies leave through hooks->reply (one complete
 * reply, CRLF-terminated, with the persona delay to apply before writing it); hooks->close
 * asks the caller to close once the queued replies are written. Unit tests drive it with
 * evbuffers and a recording hook.
 * Limits: every budget in struct limits is checked here (line length before a full line
 * exists, commands, bad commands, recipients, messages, message size, auth attempts);
 * timeouts are measured by the caller, which calls smtp_session_timeout().
 */
#ifndef RT_SESSION_H
#define RT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "persona/persona.h"

struct evbuffer;
struct capture;
struct jw;
struct smtp_session;

struct smtp_hooks {
	void *ctx;
	/* one complete reply (wire bytes), to be written after delay_ms */
	void (*reply)(void *ctx, const char *buf, size_t len, int delay_ms);
	/* no more input will be read; close the connection after the queued replies */
	void (*close)(void *ctx);
	/* optional, for enrichment: a HELO/EHLO name (bytes, after its reply was queued) */
	void (*helo)(void *ctx, const char *name, size_t len);
	/* optional, for enrichment: a message's X-Mailer header (bytes; len 0 when absent) */
	void (*message)(void *ctx, const char *x_mailer, size_t len);
};

/* what every session of one listener shares; must outlive the sessions */
struct smtp_env {
	const struct persona *persona;
	const struct limits *limits;
	enum bare_lf_policy bare_lf;
	const char *hostname;   /* banner FQDN */
	const char *netbios;    /* NetBIOS computer name */
	const char *domain;     /* default mail domain (appended to bare local parts) */
	const char *nb_domain;  /* NetBIOS domain (NTLM) */
	const char *dns_domain; /* DNS domain (NTLM) */
	int delay_banner_ms, delay_reply_ms, delay_jitter_ms;
	struct capture *cap;   /* may be NULL: nothing recorded */
	uint64_t *msg_counter; /* per-process queue-id counter */
};

/* per-connection facts known at accept time */
struct smtp_conn {
	char src_ip[64];
	int src_port;
	char dst_ip[64];
	int dst_port;
	char listener[64];
	bool proxied;
	int proxy_version;
	char peer_ip[64]; /* the proxy, when proxied */
	int peer_port;
};

enum smtp_timeout { SMTP_TO_IDLE, SMTP_TO_CMD, SMTP_TO_LIFETIME };

/* smtp_session_new - a session for one connection; records the connect event */
struct smtp_session *smtp_session_new(const struct smtp_env *env, const struct smtp_conn *conn,
                                      const struct smtp_hooks *hooks);
/* smtp_session_start - send the banner */
void smtp_session_start(struct smtp_session *s);
/* smtp_session_pregreet - the client sent bytes before the banner was written */
void smtp_session_pregreet(struct smtp_session *s, size_t nbytes);
/* smtp_session_input - consume what can be consumed from in (lines, DATA, BDAT chunks);
 * leaves incomplete lines in the buffer (bounded by line_max) */
void smtp_session_input(struct smtp_session *s, struct evbuffer *in);
/* smtp_session_timeout - a deadline passed: persona reply, record, close */
void smtp_session_timeout(struct smtp_session *s, enum smtp_timeout which);
/* smtp_session_overload - refused at admission (max_sessions/max_per_ip): 421 and close */
void smtp_session_overload(struct smtp_session *s, const char *limit, unsigned value);
/* smtp_session_shutdown - the daemon is stopping: persona reply, close */
void smtp_session_shutdown(struct smtp_session *s);
/* smtp_session_eof - the client closed its side (or the connection failed) */
void smtp_session_eof(struct smtp_session *s);
/* smtp_session_closing - true once the session asked to be closed */
bool smtp_session_closing(const struct smtp_session *s);
/* smtp_session_in_command - true while a command line is partly received (whole-command
 * deadline applies) */
bool smtp_session_mid_command(const struct smtp_session *s);
/* smtp_session_note_bytes_out - the caller wrote n bytes (for the closed event) */
void smtp_session_note_bytes_out(struct smtp_session *s, size_t n);
/* smtp_session_id - SMTP_SESSION_ID_LEN lower-case hex digits: 12 of the start time in
 * milliseconds since the epoch, then 12 random ones (docs/events.md) */
#define SMTP_SESSION_ID_LEN 24
const char *smtp_session_id(const struct smtp_session *s);
/* smtp_session_prefix - the common fields of the session's events (owned by the session) */
const struct jw *smtp_session_prefix(const struct smtp_session *s);
/* smtp_session_free - records the closed event (reason as set, else client_closed) and
 * frees everything; NULL is a no-op */
void smtp_session_free(struct smtp_session *s);

#endif
