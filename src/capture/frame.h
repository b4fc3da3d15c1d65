/* SPDX-License-Identifier: ISC */
/*
 * frame - the wire format between the network engine and the store process.
 *
 * A frame is: u32 length (big-endian, of what follows), u8 type, payload.
 *   FRAME_EVENT 'E': payload is one JSON object (an event, docs/events.md), no newline.
 *   FRAME_BODY  'B': u8 session_id_len, session id (ASCII hex), u32 tx (big-endian), then body
 * bytes (dot-unstuffed message bytes, appended in order to that transaction's body). FRAME_FLUSH
 * 'F': empty; asks the store to commit its batch now (used at shutdown and by tests). The store
 * treats every frame as untrusted: length checked against FRAME_MAX before anything is read, type
 * checked, payload decoded strictly.
 *
 * The stream: E, B and F frames, header included, are counted from the start of the engine's
 * run; a frame's offset is where it starts in that count. Two control frames are not counted:
 *   FRAME_START 'S' (engine to store, first on every new channel): u64 the stream offset of the
 *     next frame, u8 flags (FRAME_START_TRUNCATE: cut events.jsonl back), u64 inode and u64 size
 *     of events.jsonl at that offset (from the last ACK).
 *   FRAME_ACK 'A' (store to engine, after every commit): u64 the stream offset up to which
 *     everything is committed (JSONL written, SQLite COMMITted), u64 inode and u64 size of
 *     events.jsonl at that point. The engine keeps every frame until it is acknowledged, and
 *     sends the unacknowledged ones again to a restarted store (docs/durability.md).
 *
 * Public: frame_header, frame_decode_header, frame_decode_body, frame_body_prefix,
 *         frame_put_u64, frame_get_u64.
 * Limits: a payload is at most FRAME_MAX bytes; a session id is 1..32 lower-case hex characters;
 *         a FLUSH frame has an empty payload.
 */
#ifndef RT_FRAME_H
#define RT_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HDR 5
#define FRAME_MAX (1u << 20) /* 1 MiB: events are small, body chunks are sent in pieces */
#define FRAME_BODY_CHUNK (64u * 1024u)
#define FRAME_SID_MAX 32
/* FRAME_BODY_PREFIX_MAX - the longest BODY payload prefix: length byte, id, u32 tx */
#define FRAME_BODY_PREFIX_MAX (1 + FRAME_SID_MAX + 4)

#define FRAME_START_LEN 25
#define FRAME_START_TRUNCATE 1
#define FRAME_ACK_LEN 24

enum frame_type {
	FRAME_EVENT = 'E',
	FRAME_BODY = 'B',
	FRAME_FLUSH = 'F',
	FRAME_START = 'S',
	FRAME_ACK = 'A'
};

/* frame_header - write the 5-byte header for a payload of len bytes */
void frame_header(unsigned char hdr[FRAME_HDR], enum frame_type type, size_t len);
/* frame_decode_header - 0 with *type and *len set (len <= FRAME_MAX), or -1 */
int frame_decode_header(const unsigned char hdr[FRAME_HDR], enum frame_type *type, size_t *len);
/* frame_decode_body - split a BODY payload; 0 or -1. session is NUL-terminated into sid
 * (at most 32 hex characters). */
int frame_decode_body(const unsigned char *p, size_t len, char sid[33], uint32_t *tx,
                      const unsigned char **data, size_t *datalen);
/* frame_body_prefix - write the BODY payload prefix (id length, id, tx) for session/tx into out
 * (outlen >= FRAME_BODY_PREFIX_MAX is always enough); returns its length or -1 for a bad id.
 * The body bytes follow it in the same frame. */
int frame_body_prefix(unsigned char *out, size_t outlen, const char *sid, uint32_t tx);
/* frame_put_u64 / frame_get_u64 - big-endian u64 in START and ACK payloads */
void frame_put_u64(unsigned char *p, uint64_t v);
uint64_t frame_get_u64(const unsigned char *p);

#endif
