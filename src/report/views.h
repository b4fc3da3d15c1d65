/* SPDX-License-Identifier: ISC */
/*
 * views - how the model is shown: the sections in order, their headline numbers and their
 * tables (columns, widths, which chart), shared by the text and HTML renderers so the two
 * cannot drift. CSV and JSON walk the model itself.
 *
 * Public: report_sections, report_nsections, view_get, fmt_cell.
 */
#ifndef RT_VIEWS_H
#define RT_VIEWS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define VIEW_COLS 12

enum chart { CH_NONE, CH_BAR, CH_SERIES, CH_HEAT, CH_MAP };

/* Cell kinds: 's' text (attacker or not: always escaped), 'K' text never shortened in the
 * text output (session ids, addresses), 'n' count, 'p' share (0..1), 't' time, 'd' delay in
 * seconds, 'r' real, 'l' list of {a, b} objects shown "a (b)" */
struct col {
	const char *key;
	const char *head;
	int width; /* most columns the text renderer gives it; 0 = as wide as the content;
	            * -1 = HTML only (the text table would not fit 80 columns) */
	char kind;
};

struct scalar {
	const char *key; /* may be "a.b" for a nested object */
	const char *label;
	char kind;
};

struct view {
	const char *key; /* array under the section object */
	const char *title;
	struct col cols[VIEW_COLS];
	enum chart chart;
	const char *label, *value; /* chart keys */
	const char *needs;         /* a boolean key of the section that must be true */
	const char *empty;         /* what to say when there are no rows */
	bool text_tail;            /* the text renderer shows the last rows rather than the first */
};

struct section {
	const char *key;
	const char *title;
	struct scalar scalars[18];
	struct view views[9];
};

extern const struct section report_sections[];
extern const size_t report_nsections;

/* view_get - the model's value at "a.b" under obj (NULL when absent) */
json_t *view_get(json_t *obj, const char *path);
/* fmt_cell - a non-text cell (count, share, time, delay, real, list) as display text */
void fmt_cell(json_t *v, char kind, char *out, size_t outlen);

#endif
