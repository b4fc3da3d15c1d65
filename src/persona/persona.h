/* SPDX-License-Identifier: ISC */
/*
 * persona - a mail server's personality as data: banner, EHLO list, every reply text, timings,
 * queue-id style, auth mechanisms. The code never branches on a persona's name.
 *
 * Owns: struct persona (persona_free releases it) and the compiled-in copies of the files in
 * personas/ (generated from them at build time by src/persona/embed.py).
 * Public: persona_load_file, persona_load_mem, persona_load_builtin, persona_load,
 *         persona_builtin_names,
 *         persona_reply, persona_setting accessors, persona_expand, persona_msgid.
 * File format: docs/personas.md. Templates may contain these variables, expanded by
 * persona_expand() only: $hostname $netbios $domain $date $client_ip $helo $addr $arg $msgid
 * $octets $$ (a literal $). Attacker-derived values ($helo $addr $arg) are stripped of CR, LF
 * and other control bytes, cut to PERSONA_VAR_MAX bytes and never re-expanded.
 * A multi-line reply is written in the file as one value with "\n" between lines, each line
 * carrying its own code ("214-...\n214 ..."); persona_expand() joins them with CRLF and ends
 * the reply with CRLF.
 */
#ifndef RT_PERSONA_H
#define RT_PERSONA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PERSONA_VAR_MAX 512
#define PERSONA_REPLY_MAX 4096

/* X(ENUM, "key in the persona file") — one entry per situation the engine answers */
#define PERSONA_REPLIES(X)                                                                         \
	X(BANNER, "banner")                                                                        \
	X(HELO, "helo")                                                                            \
	X(EHLO, "ehlo")                                                                            \
	X(HELO_NOARG, "helo_noarg")                                                                \
	X(MAIL_OK, "mail_ok")                                                                      \
	X(MAIL_BAD, "mail_bad")                                                                    \
	X(MAIL_NESTED, "mail_nested")                                                              \
	X(MAIL_NOHELO, "mail_nohelo")                                                              \
	X(MAIL_BADPARAM, "mail_badparam")                                                          \
	X(RCPT_OK, "rcpt_ok")                                                                      \
	X(RCPT_BAD, "rcpt_bad")                                                                    \
	X(RCPT_NOMAIL, "rcpt_nomail")                                                              \
	X(RCPT_TOOMANY, "rcpt_toomany")                                                            \
	X(DATA_START, "data_start")                                                                \
	X(DATA_NOMAIL, "data_nomail")                                                              \
	X(DATA_NORCPT, "data_norcpt")                                                              \
	X(DATA_OK, "data_ok")                                                                      \
	X(DATA_TOOBIG, "data_toobig")                                                              \
	X(MSG_TOOMANY, "msg_toomany")                                                              \
	X(BDAT_OK, "bdat_ok")                                                                      \
	X(BDAT_BAD, "bdat_bad")                                                                    \
	X(BDAT_NOMAIL, "bdat_nomail")                                                              \
	X(BDAT_NORCPT, "bdat_norcpt")                                                              \
	X(RSET, "rset")                                                                            \
	X(NOOP, "noop")                                                                            \
	X(QUIT, "quit")                                                                            \
	X(HELP, "help")                                                                            \
	X(VRFY, "vrfy")                                                                            \
	X(VRFY_NOARG, "vrfy_noarg")                                                                \
	X(EXPN, "expn")                                                                            \
	X(TURN, "turn")                                                                            \
	X(ATRN, "atrn")                                                                            \
	X(ETRN, "etrn")                                                                            \
	X(ETRN_NOARG, "etrn_noarg")                                                                \
	X(STARTTLS, "starttls")                                                                    \
	X(AUTH_BADMECH, "auth_badmech")                                                            \
	X(AUTH_NOARG, "auth_noarg")                                                                \
	X(AUTH_ALREADY, "auth_already")                                                            \
	X(AUTH_NOHELO, "auth_nohelo")                                                              \
	X(AUTH_USER_PROMPT, "auth_user_prompt")                                                    \
	X(AUTH_PASS_PROMPT, "auth_pass_prompt")                                                    \
	X(AUTH_PLAIN_PROMPT, "auth_plain_prompt")                                                  \
	X(AUTH_NTLM_START, "auth_ntlm_start")                                                      \
	X(AUTH_GSSAPI_PROMPT, "auth_gssapi_prompt")                                                \
	X(AUTH_FAIL, "auth_fail")                                                                  \
	X(AUTH_ABORTED, "auth_aborted")                                                            \
	X(AUTH_BADB64, "auth_badb64")                                                              \
	X(AUTH_TOOMANY, "auth_toomany")                                                            \
	X(UNKNOWN, "unknown")                                                                      \
	X(SYNTAX, "syntax")                                                                        \
	X(LINE_TOO_LONG, "line_too_long")                                                          \
	X(TOO_MANY_ERRORS, "too_many_errors")                                                      \
	X(TOO_MANY_COMMANDS, "too_many_commands")                                                  \
	X(TIMEOUT, "timeout")                                                                      \
	X(LIFETIME, "lifetime")                                                                    \
	X(OVERLOAD, "overload")                                                                    \
	X(SHUTDOWN, "shutdown")                                                                    \
	X(LOCAL_ERROR, "local_error")

enum persona_reply {
#define X(e, k) PR_##e,
	PERSONA_REPLIES(X)
#undef X
	    PR__COUNT
};

/* how queue ids in DATA_OK ($msgid) are made */
enum persona_msgid_style {
	MSGID_EXCHANGE, /* NETBIOS + random [A-Za-z0-9] to 19 chars + 8 lower hex counter, "@fqdn"
	                 */
	MSGID_POSTFIX,  /* 10 upper-case hex digits (Postfix short queue id) */
	MSGID_SENDMAIL, /* "n0BJW0Fx012345"-like: sendmail qf id */
};

struct persona;

/* template variables for persona_expand; NULL members expand to "" */
struct persona_vars {
	const char *hostname;
	const char *netbios;
	const char *domain;
	const char *client_ip;
	const char *helo; /* attacker-derived */
	const char *addr; /* attacker-derived */
	const char *arg;  /* attacker-derived */
	const char *msgid;
	uint64_t octets;
	int64_t now; /* epoch seconds for $date; 0 = time(NULL) */
};

/* persona_load_file - parse a persona file; NULL with "FILE:LINE: message" in err */
struct persona *persona_load_file(const char *path, char *err, size_t errlen);
/* persona_load_mem - parse a persona held in memory (fuzzing, tests); label names it in errors
 * ("LABEL:LINE: message"); "base = NAME" resolves to built-ins only */
struct persona *persona_load_mem(const char *buf, size_t len, const char *label, char *err,
                                 size_t errlen);
/* persona_load_builtin - one of the compiled-in personas by name, or NULL */
struct persona *persona_load_builtin(const char *name);
/* persona_load - NAME (a path if it contains '/', else DIR/NAME.persona when that file exists,
 * else the built-in of that name); NULL with err */
struct persona *persona_load(const char *name_or_path, const char *dir, char *err, size_t errlen);
/* persona_builtin_names - NULL-terminated list of compiled-in names; first is the default */
const char *const *persona_builtin_names(void);
void persona_free(struct persona *p);

const char *persona_name(const struct persona *p);
const char *persona_product(const struct persona *p); /* free text, for docs/logs */
/* the raw template of a reply (never NULL: every key has a value after loading) */
const char *persona_reply(const struct persona *p, enum persona_reply r);
/* persona_reply_key - the file key of a reply enum ("mail_ok") */
const char *persona_reply_key(enum persona_reply r);

/* settings, all with defaults when the file omits them */
int persona_ttl(const struct persona *p);             /* IP TTL of replies, 0 = system default */
int persona_delay_banner_ms(const struct persona *p); /* before the banner */
int persona_delay_reply_ms(const struct persona *p);  /* before each reply */
int persona_delay_jitter_ms(const struct persona *p); /* +/- uniform jitter on both */
bool persona_require_helo(const struct persona *p);   /* MAIL before HELO gets MAIL_NOHELO */
bool persona_advertises(const struct persona *p, const char *keyword); /* in the EHLO reply */
bool persona_auth_mech(const struct persona *p, const char *mech);     /* LOGIN/PLAIN/... offered */
enum persona_msgid_style persona_msgid_style(const struct persona *p);
const char *persona_date_format(const struct persona *p); /* strftime, C locale, local time */
bool persona_append_domain(const struct persona *p);      /* "user" -> "user@domain" in MAIL/RCPT */
bool persona_strict_crlf(const struct persona *p);        /* default for the bare-LF policy */

/* persona_expand - render reply r into out as wire bytes ending in CRLF; returns the length,
 * or -1 if it did not fit (out is then a LOCAL_ERROR-style reply never longer than outlen) */
int persona_expand(const struct persona *p, enum persona_reply r, const struct persona_vars *v,
                   char *out, size_t outlen);
/* persona_expand_str - the same for an arbitrary template string (tests, EHLO extras) */
int persona_expand_str(const struct persona *p, const char *tmpl, const struct persona_vars *v,
                       char *out, size_t outlen);
/* persona_msgid - make the next queue id into out for this persona's style; counter is the
 * per-process message counter (starting at 1) */
void persona_msgid(const struct persona *p, const char *netbios, uint64_t counter, char *out,
                   size_t outlen);

#endif
