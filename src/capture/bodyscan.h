/* SPDX-License-Identifier: ISC */
/*
 * bodyscan - what the report needs from a message body, computed while the store streams it:
 * the start of the text after the header block (body_text) and the MIME parts announced by
 * Content-Type / Content-Disposition headers anywhere in the message (parts).
 *
 * Owns: nothing beyond struct bodyscan (fixed size, no allocation).
 * Public: bodyscan_init, bodyscan_feed, bodyscan_finish.
 * Limits: BODYSCAN_TEXT_MAX bytes of text, BODYSCAN_PARTS_MAX parts, header lines looked at up
 *         to BODYSCAN_HDR_MAX bytes (the rest of a longer header is ignored). Linear in the
 *         input, any bytes, any split into chunks.
 */
#ifndef RT_BODYSCAN_H
#define RT_BODYSCAN_H

#include <stdbool.h>
#include <stddef.h>

#define BODYSCAN_TEXT_MAX 2048
#define BODYSCAN_PARTS_MAX 16
#define BODYSCAN_HDR_MAX 512
#define BODYSCAN_TYPE_MAX 80
#define BODYSCAN_NAME_MAX 160

struct bodyscan_part {
	char type[BODYSCAN_TYPE_MAX];     /* lower-cased media type, "" when none */
	char filename[BODYSCAN_NAME_MAX]; /* "" when none; bytes as sent (may be invalid UTF-8) */
	unsigned block;                   /* header block it was announced in */
};

struct bodyscan {
	bool in_body; /* past the top-level header block */
	char text[BODYSCAN_TEXT_MAX];
	size_t text_len;
	char line[BODYSCAN_HDR_MAX]; /* the current line (start of it) */
	size_t line_len;
	bool line_long;
	char hdr[BODYSCAN_HDR_MAX]; /* a Content-* header being unfolded */
	size_t hdr_len;
	int hdr_kind;   /* 0 none, 1 Content-Type, 2 Content-Disposition */
	unsigned block; /* blank lines seen: header blocks are told apart by it */
	struct bodyscan_part parts[BODYSCAN_PARTS_MAX];
	size_t nparts;
};

void bodyscan_init(struct bodyscan *bs);
void bodyscan_feed(struct bodyscan *bs, const void *buf, size_t len);
/* bodyscan_finish - account for a last line without a line ending */
void bodyscan_finish(struct bodyscan *bs);

#endif
