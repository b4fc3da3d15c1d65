/* SPDX-License-Identifier: ISC */
/*
 * esc - escaping paths for attacker text in the report (see esc.h).
 */
#include "report/esc.h"

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

size_t
utf8_next(const unsigned char *p, size_t n, uint32_t *cp)
{
	unsigned c = p[0];

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		if (n < 2 || (p[1] & 0xc0) != 0x80)
			return 0;
		*cp = ((c & 0x1fu) << 6) | (p[1] & 0x3fu);
		return 2;
	}
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0))
			return 0; /* overlong, surrogate */
		*cp = ((c & 0x0fu) << 12) | ((p[1] & 0x3fu) << 6) | (p[2] & 0x3fu);
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90))
			return 0;
		*cp = ((c & 0x07u) << 18) | ((p[1] & 0x3fu) << 12) | ((p[2] & 0x3fu) << 6) |
		      (p[3] & 0x3fu);
		return 4;
	}
	return 0;
}

json_t *
esc_model_str(const void *b, size_t n, size_t max)
{
	const unsigned char *p = b;
	char *out;
	size_t i = 0, o = 0, k;
	uint32_t cp;
	json_t *j;

	if (b == NULL)
		return json_null();
	/* Worst case every byte becomes the 3-byte U+FFFD, plus the ellipsis. */
	out = malloc(3 * (n < max ? n : max) + 8);
	if (out == NULL)
		return NULL;
	while (i < n) {
		size_t step;
		k = utf8_next(p + i, n - i, &cp);
		step = k == 0 ? 1 : k;
		/* Room for this character, and for "…" unless it is the last one. */
		if (o + (k == 0 ? 3 : k) + (i + step < n ? 3 : 0) > max) {
			if (max >= 3) {
				memcpy(out + o, "\xe2\x80\xa6", 3); /* … */
				o += 3;
			}
			break;
		}
		if (k == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
		} else
			memcpy(out + o, p + i, k);
		o += k == 0 ? 0 : k;
		i += step;
	}
	j = json_stringn(out, o);
	free(out);
	return j;
}

/* is_hidden - characters that must be shown rather than rendered: C0, DEL, C1, and the
 * invisible direction marks and overrides that can make text read differently than it is */
static bool
is_hidden(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
}

void
html_esc(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;
	uint32_t cp;

	while (i < n) {
		k = utf8_next(p + i, n - i, &cp);
		if (k == 0) {
			fputs("\xef\xbf\xbd", f);
			i++;
			continue;
		}
		switch (cp) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			if (cp < 0x80 && is_hidden(cp))
				fprintf(f, "\\x%02x", (unsigned)cp);
			else if (is_hidden(cp))
				fprintf(f, "\\u{%04x}", (unsigned)cp);
			else
				fwrite(p + i, 1, k, f);
		}
		i += k;
	}
}

size_t
term_esc(const char *s, size_t n, bool utf8, size_t maxw, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k, o = 0, w = 0, tl, tw;
	char tmp[16];
	uint32_t cp;
	int cw;
	bool cut = false;

	if (outlen == 0)
		return 0;
	if (maxw > outlen - 1)
		maxw = outlen - 1;
	while (i < n) {
		k = utf8_next(p + i, n - i, &cp);
		if (k == 0) {
			tl = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", p[i]);
			tw = tl;
			k = 1;
		} else if (cp == '\\') {
			memcpy(tmp, "\\\\", 2);
			tl = tw = 2;
		} else if (cp >= 0x20 && cp < 0x7f) {
			tmp[0] = (char)cp;
			tl = tw = 1;
		} else if (cp < 0x80) {
			tl = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", (unsigned)cp);
			tw = tl;
		} else if (utf8 && !is_hidden(cp) && (cw = wcwidth((wchar_t)cp)) == 1) {
			memcpy(tmp, p + i, k);
			tl = k;
			tw = 1;
		} else {
			tl = (size_t)snprintf(tmp, sizeof(tmp), "\\u{%x}", (unsigned)cp);
			tw = tl;
		}
		if (w + tw > maxw || o + tl >= outlen) {
			cut = true;
			break;
		}
		memcpy(out + o, tmp, tl);
		o += tl;
		w += tw;
		i += k;
	}
	if (cut) {
		/* Make room for "..." by dropping whole characters from the end. */
		while (o > 0 && (w + 3 > maxw || o + 3 >= outlen)) {
			do
				o--;
			while (o > 0 && ((unsigned char)out[o] & 0xc0) == 0x80);
			w--;
		}
		if (w + 3 <= maxw && o + 3 < outlen) {
			memcpy(out + o, "...", 3);
			o += 3;
			w += 3;
		}
	}
	out[o] = '\0';
	return w;
}

void
csv_esc(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	bool quote = false;
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] == ',' || p[i] == '"' || p[i] < 0x20 || p[i] == 0x7f)
			quote = true;
	if (n > 0 && (p[0] == ' ' || p[n - 1] == ' '))
		quote = true;
	if (quote)
		fputc('"', f);
	if (n > 0 && (p[0] == '=' || p[0] == '+' || p[0] == '-' || p[0] == '@'))
		fputc('\'', f);
	for (i = 0; i < n; i++) {
		if (p[i] == '"')
			fputs("\"\"", f);
		else if (p[i] < 0x20 || p[i] == 0x7f)
			fprintf(f, "\\x%02x", p[i]);
		else
			fputc(p[i], f);
	}
	if (quote)
		fputc('"', f);
}
