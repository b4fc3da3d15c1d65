/* SPDX-License-Identifier: ISC */
/*
 * esc - the report's escaping paths for attacker text, one per medium: the model (valid UTF-8,
 * bounded), HTML (html_esc, the only function that writes text into the page), terminals
 * (term_esc: no control byte ever reaches the terminal) and CSV (csv_esc).
 *
 * Owns: nothing.
 * Public: esc_model_str, utf8_next, html_esc, term_esc, csv_esc.
 * Limits: esc_model_str keeps at most max bytes; term_esc at most maxw columns.
 */
#ifndef RT_ESC_H
#define RT_ESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* esc_model_str - a JSON string of the bytes: invalid UTF-8 → U+FFFD, cut at max bytes on a
 * character boundary with "…" appended when cut; NULL bytes pointer gives JSON null */
json_t *esc_model_str(const void *b, size_t n, size_t max);

/* utf8_next - length of the well-formed UTF-8 sequence at p (1-4) with its code point in *cp,
 * or 0 when it is not one */
size_t utf8_next(const unsigned char *p, size_t n, uint32_t *cp);

/* html_esc - write s (n bytes) as HTML text or attribute value: & < > " ' as entities, control
 * and bidi-override characters as visible \xNN / \u{NNNN}, invalid UTF-8 as U+FFFD */
void html_esc(FILE *f, const char *s, size_t n);

/* term_esc - s (n bytes) as terminal text into out (NUL-terminated): printable ASCII kept,
 * printable single-width characters kept when utf8 is set, everything else as \xNN or \u{N};
 * cut to maxw columns with "..." when longer; returns the columns used */
size_t term_esc(const char *s, size_t n, bool utf8, size_t maxw, char *out, size_t outlen);

/* csv_esc - one RFC 4180 field: quoted when needed, control bytes as \xNN, and a leading
 * = + - @ prefixed with ' so that spreadsheets do not run attacker formulas */
void csv_esc(FILE *f, const char *s, size_t n);

#endif
