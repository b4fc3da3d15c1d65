/* SPDX-License-Identifier: ISC */
/*
 * listener - sockets, connections and admission control around the SMTP engine.
 *
 * Owns: struct server (listeners, live connections, the per-IP table) and every struct conn.
 * Public: server_new, server_listen, server_bound_port, server_set_p0f, server_shutdown,
 *         server_free, server_sessions.
 * Each connection: optional PROXY protocol header from a trusted proxy, then an smtp_session;
 * replies are written through a per-connection queue that applies the persona delay with a
 * timer (never blocking the loop), one reply per write; timeouts: idle (no bytes), whole
 * command, session lifetime. Admission: max_sessions and max_per_ip are answered with the
 * persona's 421 and recorded (beyond max_sessions + 1024 closed without a reply, still
 * recorded); the last eighth of max_sessions is kept for source prefixes (/24, /64) holding
 * fewer than four sessions; EMFILE pauses accepting for a moment. When the store falls behind
 * (capture backlog over 16 MiB) the connections of the prefixes that lately cost it most are
 * not read until it has caught up with them (backpressure); over 96 MiB every new session gets
 * the 421 (limit store_backlog), over 192 MiB accepting pauses until it catches up. Stress mode:
 * from stress_sessions open sessions on, idle and command timeouts drop to stress_timeout. With
 * OS enrichment (or the debug log) a listening socket has TCP_SAVE_SYN and each connection
 * reads its peer's SYN headers; not a trusted proxy's, which are never fingerprinted.
 */
#ifndef RT_LISTENER_H
#define RT_LISTENER_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "smtp/session.h"

struct event_base;
struct capture;
struct enrich;
struct server;
struct p0f_db;

/* server_new - a server on base; cfg and cap must outlive it */
struct server *server_new(struct event_base *base, const struct config *cfg, struct capture *cap);
/* server_set_enrich - enrich every new session with e (may be NULL; must outlive srv) */
void server_set_enrich(struct server *srv, struct enrich *e);
/* server_listen - bind and listen for one listener with its session environment (which must
 * outlive the server); 0, or -1 with err */
int server_listen(struct server *srv, const struct listener_conf *lc, const struct smtp_env *env,
                  char *err, size_t errlen);
/* server_set_p0f - OS signatures for the debug log line of each client's SYN (may be NULL;
 * db must outlive the server). Each connection keeps its SYN's IP and TCP headers. */
void server_set_p0f(struct server *srv, const struct p0f_db *db);
/* server_bound_port - the port actually bound by listener i (for port 0) */
int server_bound_port(const struct server *srv, size_t i);
/* server_shutdown - stop accepting, answer every session with the shutdown reply, close
 * them all (recording each), then call done */
void server_shutdown(struct server *srv);
/* server_sessions - live connections */
size_t server_sessions(const struct server *srv);
/* server_accepted - connections accepted since start (each one is a recorded session); with
 * unanswered, how many of them were closed without a reply beyond max_sessions */
uint64_t server_accepted(const struct server *srv, uint64_t *unanswered);
void server_free(struct server *srv);

#endif
