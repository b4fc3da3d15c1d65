/* SPDX-License-Identifier: ISC */
/*
 * emit - the engine side of capture: builds event JSON and body frames and queues them for the
 * store process (or hands them to a sink function in tests and benchmarks).
 *
 * Owns: struct capture, its two queues (frames not yet written; frames written but not yet
 *       acknowledged by the store), the store channel's descriptor once attached and its events
 *       (capture_free releases them all).
 * Public: capture_new, capture_attach, capture_detach, capture_attached, capture_free,
 *         capture_begin, capture_commit, capture_body, capture_flush_frame, capture_pending,
 *         capture_unacked, capture_finish, capture_events, capture_queued, capture_dropped,
 *         capture_prefix.
 * Durability: every frame stays in memory until the store acknowledges the commit that made it
 *         durable (FRAME_ACK). When the store dies the channel is detached, the unacknowledged
 *         frames go back to the front of the queue, and capture_attach to a new store starts
 *         with a FRAME_START that resumes the stream where the last commit ended: no event is
 *         lost while the store restarts (docs/durability.md).
 * Limits: events are built in one reusable buffer; frames over FRAME_MAX are dropped and counted
 *         (no single event can reach it: every attacker field is bounded upstream). Above
 *         CAPTURE_BODY_LIMIT bytes waiting, body chunks are dropped (the store then records the
 *         message with body_dropped = incomplete); above CAPTURE_LIMIT, events too (counted and
 *         logged). The listener stops accepting long before: see capture_pending.
 * Backpressure: capture_pending() tells the listener how many bytes wait for the store; the
 *         listener stops accepting above a high-water mark, so memory stays bounded.
 */
#ifndef RT_EMIT_H
#define RT_EMIT_H

#include <stddef.h>
#include <stdint.h>

#include "capture/frame.h"
#include "core/str.h"

#define CAPTURE_BODY_LIMIT (128u * 1024u * 1024u) /* over this backlog body chunks are dropped */
#define CAPTURE_LIMIT (512u * 1024u * 1024u)      /* over this events are dropped too */

struct event_base;
struct capture;

typedef void (*capture_sink_fn)(void *arg, enum frame_type type, const void *payload, size_t len);

/* capture_new - a capture for sensor; frames go to sink (if given) until capture_attach */
struct capture *capture_new(const char *sensor, capture_sink_fn sink, void *sink_arg);
/* capture_attach - send frames to the store over fd (made non-blocking; the capture owns and
 * closes it from now on) on base, starting with FRAME_START; 0 or -1 */
int capture_attach(struct capture *c, struct event_base *base, int fd);
/* capture_detach - the store is gone: close the channel, keep every unacknowledged frame for the
 * next capture_attach; a no-op when not attached */
void capture_detach(struct capture *c);
/* capture_attached - a store channel is open */
int capture_attached(const struct capture *c);
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
/* capture_pending - bytes held for the store: not yet written, or written and not yet
 * acknowledged as committed */
size_t capture_pending(const struct capture *c);
/* capture_unacked - bytes of the stream not yet acknowledged as committed */
uint64_t capture_unacked(const struct capture *c);
/* capture_finish - at shutdown, blocking: write everything, half-close the channel and wait up to
 * timeout_ms for the store to acknowledge it all; 0 when everything is committed, -1 otherwise
 * (the channel is detached on failure, so a new store may be attached and this called again) */
int capture_finish(struct capture *c, int timeout_ms);
/* capture_wait_ack - at start-up, blocking: wait up to timeout_ms for the store's first
 * acknowledgement (it has opened its files); 0 or -1 */
int capture_wait_ack(struct capture *c, int timeout_ms);
/* capture_events - events queued since capture_new */
uint64_t capture_events(const struct capture *c);
/* capture_queued - bytes of frames queued since capture_new (what the store has been given to
 * write, acknowledged or not); capture_queued - capture_pending is what it has committed */
uint64_t capture_queued(const struct capture *c);
/* capture_dropped - frames dropped (oversized, or over the backlog limits) */
uint64_t capture_dropped(const struct capture *c);

#endif
