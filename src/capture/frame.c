/* SPDX-License-Identifier: ISC */
/*
 * frame - encode and strictly decode the engine-to-store frames (see frame.h).
 *
 * Owns: nothing; pure functions over caller buffers.
 * Public: frame_header, frame_decode_header, frame_decode_body, frame_body_prefix,
 *         frame_put_u64, frame_get_u64.
 * Limits: FRAME_MAX payload bytes, FRAME_SID_MAX session id characters.
 */
#include "capture/frame.h"

#include <string.h>

/* put_u32 - store v big-endian */
static void
put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* get_u32 - load a big-endian u32 */
static uint32_t
get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* sid_valid - a session id is 1..FRAME_SID_MAX lower-case hex characters */
static int
sid_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > FRAME_SID_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}

/* frame_header - write the 5-byte header for a payload of len bytes */
void
frame_header(unsigned char hdr[FRAME_HDR], enum frame_type type, size_t len)
{
	put_u32(hdr, (uint32_t)len);
	hdr[4] = (unsigned char)type;
}

/* frame_decode_header - validate length and type before any payload is read */
int
frame_decode_header(const unsigned char hdr[FRAME_HDR], enum frame_type *type, size_t *len)
{
	uint32_t n = get_u32(hdr);

	if (n > FRAME_MAX)
		return -1;
	switch (hdr[4]) {
	case FRAME_EVENT:
		if (n == 0)
			return -1;
		break;
	case FRAME_BODY:
		/* The shortest body payload is a one-character id and the tx number. */
		if (n < 1 + 1 + 4)
			return -1;
		break;
	case FRAME_FLUSH:
		if (n != 0)
			return -1;
		break;
	case FRAME_START:
		if (n != FRAME_START_LEN)
			return -1;
		break;
	case FRAME_ACK:
		if (n != FRAME_ACK_LEN)
			return -1;
		break;
	default:
		return -1;
	}
	*type = (enum frame_type)hdr[4];
	*len = n;
	return 0;
}

/* frame_decode_body - split a BODY payload into session id, tx and the body bytes */
int
frame_decode_body(const unsigned char *p, size_t len, char sid[33], uint32_t *tx,
                  const unsigned char **data, size_t *datalen)
{
	size_t n;

	if (len < 1)
		return -1;
	n = p[0];
	if (n == 0 || n > FRAME_SID_MAX || len < 1 + n + 4)
		return -1;
	if (!sid_valid((const char *)p + 1, n))
		return -1;
	memcpy(sid, p + 1, n);
	sid[n] = '\0';
	*tx = get_u32(p + 1 + n);
	*data = p + 1 + n + 4;
	*datalen = len - (1 + n + 4);
	return 0;
}

/* frame_body_prefix - write id length, id and tx: the start of every BODY payload */
int
frame_body_prefix(unsigned char *out, size_t outlen, const char *sid, uint32_t tx)
{
	size_t n = strnlen(sid, FRAME_SID_MAX + 1);

	if (!sid_valid(sid, n) || outlen < 1 + n + 4)
		return -1;
	out[0] = (unsigned char)n;
	memcpy(out + 1, sid, n);
	put_u32(out + 1 + n, tx);
	return (int)(1 + n + 4);
}

/* frame_put_u64 - store v big-endian */
void
frame_put_u64(unsigned char *p, uint64_t v)
{
	put_u32(p, (uint32_t)(v >> 32));
	put_u32(p + 4, (uint32_t)v);
}

/* frame_get_u64 - load a big-endian u64 */
uint64_t
frame_get_u64(const unsigned char *p)
{
	return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}
