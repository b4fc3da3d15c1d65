/* SPDX-License-Identifier: ISC */
/*
 * emit - the engine side of capture: builds event JSON and body frames and queues them for the
 * store process (or hands them to a sink function in tests and benchmarks).
 *
 * Owns: struct capture, its output evbuffer and bufferevent (capture_free releases them).
 * Public: capture_new, capture_attach, capture_free, capture_begin, capture_commit,
 *         capture_body, capture_flush_frame, capture_pending, capture_drain_blocking,
 *         capture_prefix.
 * Limits: events are built in one reusable buffer; frames over FRAME_MAX are dropped and counted
 *         (no single event can reach it: every attacker field is bounded upstream).
 * Backpressure: capture_pending() tells the listener how many bytes wait for the store; the
 *         listener stops accepting above a high-water mark, so memory stays bounded.
 */
#ifndef RT_EMIT_H
#define RT_EMIT_H

#include <stddef.h>
#include <stdint.h>

#include "capture/frame.h"
#include "core/str.h"

struct event_base;
struct capture;

typedef void (*capture_sink_fn)(void *arg, enum frame_type type, const void *payload, size_t len);

/* capture_new - a capture for sensor; frames go to sink (if given) until capture_attach */
struct capture *capture_new(const char *sensor, capture_sink_fn sink, void *sink_arg);
/* capture_attach - send frames to the store over fd (non-blocking) on base */
int capture_attach(struct capture *c, struct event_base *base, int fd);
void capture_free(struct capture *c);
const char *capture_sensor(const struct capture *c);

/* capture_prefix - build the common-fields fragment of a session's events into out (owned by
 * the caller, jw_free'd): "session":…,"sensor":…,"src_ip":…,…; built once per session */
void capture_prefix(struct capture *c, struct jw *out, const char *session, const char *src_ip,
                    int src_port, const char *dst_ip, int dst_port, const char *persona,
                    const char *listener);
/* capture_begin - start an event: returns the writer with timestamp, eventid and the prefix
 * already written; add fields, then capture_commit. Not reentrant. */
struct jw *capture_begin(struct capture *c, const char *eventid, const struct jw *prefix);
/* capture_commit - close the object and queue it as one EVENT frame */
void capture_commit(struct capture *c);
/* capture_body - queue body bytes of (session, tx) in frames of at most FRAME_BODY_CHUNK */
void capture_body(struct capture *c, const char *session, uint32_t tx, const void *data,
                  size_t len);
/* capture_flush_frame - ask the store to commit its batch */
void capture_flush_frame(struct capture *c);
/* capture_pending - bytes queued and not yet written to the store */
size_t capture_pending(const struct capture *c);
/* capture_drain_blocking - at shutdown: write everything queued, blocking; 0 or -1 */
int capture_drain_blocking(struct capture *c);
/* capture_dropped - frames dropped (oversized or store gone) */
uint64_t capture_dropped(const struct capture *c);

#endif
