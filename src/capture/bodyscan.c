/* SPDX-License-Identifier: ISC */
/*
 * bodyscan - body_text and MIME parts of a streamed message (see bodyscan.h).
 *
 * The scan is line based. A line is looked at only through its first BODYSCAN_HDR_MAX bytes:
 * enough for "Content-Type: …; name=…" and cheap for megabytes of base64. Headers are
 * recognised wherever they appear (top level and part headers alike); a header folded over
 * several lines is unfolded before it is parsed.
 */
#include "capture/bodyscan.h"

#include <string.h>
#include <strings.h>

void
bodyscan_init(struct bodyscan *bs)
{
	memset(bs, 0, sizeof(*bs));
}

/* lower - ASCII lower case */
static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* has_prefix_ci - line starts with prefix, ignoring ASCII case */
static bool
has_prefix_ci(const char *line, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && strncasecmp(line, prefix, n) == 0;
}

/* param_value - the value of parameter name (e.g. "filename") in a header's parameter list,
 * quoted or not, into out; false when absent. RFC 2231 "name*=" forms count too. */
static bool
param_value(const char *h, size_t len, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name), i, o = 0;
	bool quoted;

	for (i = 0; i + n < len; i++) {
		if ((h[i] != ';' && h[i] != ' ' && h[i] != '\t') || i + 1 + n >= len)
			continue;
		size_t j = i + 1;
		while (j < len && (h[j] == ' ' || h[j] == '\t'))
			j++;
		if (j + n >= len || strncasecmp(h + j, name, n) != 0)
			continue;
		j += n;
		if (j < len && h[j] == '*') { /* RFC 2231: name*=charset''value or name*0= */
			while (j < len && h[j] != '=')
				j++;
		}
		if (j >= len || h[j] != '=')
			continue;
		j++;
		quoted = j < len && h[j] == '"';
		if (quoted)
			j++;
		for (; j < len && o + 1 < outlen; j++) {
			if (quoted ? h[j] == '"' : (h[j] == ';' || h[j] == ' ' || h[j] == '\t'))
				break;
			out[o++] = h[j];
		}
		out[o] = '\0';
		return o > 0;
	}
	return false;
}

/* part_for - the part a Content-* header of the current block describes (a new one unless
 * the block already announced one) or NULL when the table is full */
static struct bodyscan_part *
part_for(struct bodyscan *bs)
{
	struct bodyscan_part *p;

	if (bs->nparts > 0 && bs->parts[bs->nparts - 1].block == bs->block)
		return &bs->parts[bs->nparts - 1];
	if (bs->nparts == BODYSCAN_PARTS_MAX)
		return NULL;
	p = &bs->parts[bs->nparts++];
	memset(p, 0, sizeof(*p));
	p->block = bs->block;
	return p;
}

/* hdr_flush - parse the unfolded Content-* header, if one is pending */
static void
hdr_flush(struct bodyscan *bs)
{
	struct bodyscan_part *p;
	const char *h = bs->hdr;
	size_t len = bs->hdr_len, i, o = 0;
	char name[BODYSCAN_NAME_MAX];

	if (bs->hdr_kind == 0)
		return;
	p = part_for(bs);
	if (p == NULL)
		goto done;
	if (bs->hdr_kind == 1) {
		i = strlen("content-type:");
		while (i < len && (h[i] == ' ' || h[i] == '\t'))
			i++;
		for (; i < len && o + 1 < sizeof(p->type); i++) {
			char c = lower(h[i]);
			/* A media type is a token/token: anything else ends it. */
			if (c == ';' || c == ' ' || c == '\t' || (unsigned char)c < 0x21 ||
			    (unsigned char)c > 0x7e)
				break;
			p->type[o++] = c;
		}
		p->type[o] = '\0';
		if (p->filename[0] == '\0' && param_value(h, len, "name", name, sizeof(name)))
			memcpy(p->filename, name, sizeof(name));
	} else if (param_value(h, len, "filename", name, sizeof(name))) {
		memcpy(p->filename, name, sizeof(name));
	}
done:
	bs->hdr_kind = 0;
	bs->hdr_len = 0;
}

/* hdr_append - add a (continuation) line to the pending header, bounded */
static void
hdr_append(struct bodyscan *bs, const char *s, size_t n)
{
	size_t room = sizeof(bs->hdr) - bs->hdr_len;

	if (n > room)
		n = room;
	memcpy(bs->hdr + bs->hdr_len, s, n);
	bs->hdr_len += n;
}

/* line_done - one whole line (without its line ending, at most BODYSCAN_HDR_MAX bytes seen) */
static void
line_done(struct bodyscan *bs)
{
	const char *l = bs->line;
	size_t n = bs->line_len;

	if (n > 0 && l[n - 1] == '\r' && !bs->line_long)
		n--;
	if (n == 0 && !bs->line_long) {
		hdr_flush(bs);
		bs->block++;
		if (!bs->in_body) {
			bs->in_body = true;
			return;
		}
		return;
	}
	if ((l[0] == ' ' || l[0] == '\t') && bs->hdr_kind != 0) {
		hdr_append(bs, l, n);
		return;
	}
	hdr_flush(bs);
	if (has_prefix_ci(l, n, "content-type:"))
		bs->hdr_kind = 1;
	else if (has_prefix_ci(l, n, "content-disposition:"))
		bs->hdr_kind = 2;
	if (bs->hdr_kind != 0)
		hdr_append(bs, l, n);
}

void
bodyscan_feed(struct bodyscan *bs, const void *buf, size_t len)
{
	const char *p = buf, *end = p + len, *nl;
	size_t n, take;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)((nl != NULL ? nl + 1 : end) - p);
		if (bs->in_body && bs->text_len < sizeof(bs->text)) {
			take = n < sizeof(bs->text) - bs->text_len
			           ? n
			           : sizeof(bs->text) - bs->text_len;
			memcpy(bs->text + bs->text_len, p, take);
			bs->text_len += take;
		}
		if (nl != NULL)
			n--; /* the line without its LF */
		take = n;
		if (take > sizeof(bs->line) - bs->line_len) {
			take = sizeof(bs->line) - bs->line_len;
			bs->line_long = true;
		}
		memcpy(bs->line + bs->line_len, p, take);
		bs->line_len += take;
		if (nl == NULL)
			return;
		line_done(bs);
		bs->line_len = 0;
		bs->line_long = false;
		p = nl + 1;
	}
}

void
bodyscan_finish(struct bodyscan *bs)
{
	if (bs->line_len > 0) {
		line_done(bs);
		bs->line_len = 0;
	}
	hdr_flush(bs);
}
