/* SPDX-License-Identifier: ISC */
/*
 * fuzz_bodyscan - the store's message body scanner (src/capture/bodyscan.c): body_text and the
 * MIME parts of attacker-sent messages, computed while the body streams in.
 *
 * Input: bytes 0-3 are chunk sizes (each + 1) used in turn; the rest is the message as the
 * store receives it (dot-unstuffed DATA or BDAT bytes).
 * Checks: the header promises "any split into chunks", so the message fed in the fuzzer's
 * chunks must give exactly what it gives fed whole: same text, same parts. And the results stay
 * inside their bounds: text_len <= BODYSCAN_TEXT_MAX, at most BODYSCAN_PARTS_MAX parts,
 * NUL-terminated lower-case media types.
 */
#include "fuzz.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/bodyscan.h"

#define HDR 4

/* same_result - what the report reads from the two scans agrees */
static bool
same_result(const struct bodyscan *a, const struct bodyscan *b)
{
	size_t i;

	if (a->text_len != b->text_len || memcmp(a->text, b->text, a->text_len) != 0 ||
	    a->nparts != b->nparts)
		return false;
	for (i = 0; i < a->nparts; i++)
		if (strcmp(a->parts[i].type, b->parts[i].type) != 0 ||
		    strcmp(a->parts[i].filename, b->parts[i].filename) != 0)
			return false;
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bodyscan *whole, *cut;
	unsigned char *msg;
	size_t len, off, n, step = 0, i;
	const char *c;

	if (size < HDR)
		return 0;
	len = size - HDR;
	/* exact-size heap copies and scanners, so ASan catches any access past them */
	msg = malloc(len + 1);
	whole = malloc(sizeof(*whole));
	cut = malloc(sizeof(*cut));
	FZ_CHECK(msg != NULL && whole != NULL && cut != NULL);
	memcpy(msg, data + HDR, len);
	bodyscan_init(whole);
	bodyscan_feed(whole, msg, len);
	bodyscan_finish(whole);
	bodyscan_init(cut);
	for (off = 0; off < len; off += n) {
		n = (size_t)data[step++ % HDR] + 1;
		if (n > len - off)
			n = len - off;
		bodyscan_feed(cut, msg + off, n);
	}
	bodyscan_finish(cut);
	if (!same_result(whole, cut)) {
		fprintf(stderr,
		        "whole: %zu text bytes, %zu parts; cut: %zu text bytes, %zu parts\n",
		        whole->text_len, whole->nparts, cut->text_len, cut->nparts);
		fz_fail(__FILE__, __LINE__, "result depends on how the body was split");
	}
	FZ_CHECK(whole->text_len <= BODYSCAN_TEXT_MAX && whole->nparts <= BODYSCAN_PARTS_MAX);
	for (i = 0; i < whole->nparts; i++) {
		const struct bodyscan_part *p = &whole->parts[i];

		FZ_CHECK(memchr(p->type, '\0', sizeof(p->type)) != NULL &&
		         memchr(p->filename, '\0', sizeof(p->filename)) != NULL);
		for (c = p->type; *c != '\0'; c++)
			FZ_CHECK(!isupper((unsigned char)*c));
	}
	free(msg);
	free(whole);
	free(cut);
	return 0;
}
