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
 * Public: frame_header, frame_decode_header, frame_decode_body, frame_body_prefix.
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

enum frame_type { FRAME_EVENT = 'E', FRAME_BODY = 'B', FRAME_FLUSH = 'F' };

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

#endif
