/* SPDX-License-Identifier: ISC */
/*
 * render_text - the report as terminal tables no wider than the given width (80), every cell
 * through term_esc, ANSI colour only when asked (the caller checks for a TTY).
 *
 * Public: report_write_text.
 * Limits: a table shows opts.top rows (already bounded in the model); time series show their
 *         last TEXT_SERIES_MAX buckets.
 */
#include <langinfo.h>
#include <stdlib.h>
#include <string.h>

#include "report/esc.h"
#include "report/report.h"
#include "report/views.h"

#define TEXT_SERIES_MAX 48
#define CELL_MAX 512
#define COL_GAP 2

struct tx {
	FILE *f;
	int width;
	bool colour, utf8;
	size_t top; /* rows per table (report.top) */
};

/* cell_text - one cell as escaped terminal text (at most maxw columns); returns its width */
static size_t
cell_text(const struct tx *t, json_t *v, char kind, size_t maxw, char *out, size_t outlen)
{
	char tmp[CELL_MAX];

	if ((kind == 's' || kind == 'K') && json_is_string(v))
		return term_esc(json_string_value(v), json_string_length(v), t->utf8, maxw, out,
		                outlen);
	fmt_cell(v, kind == 's' || kind == 'K' ? 'x' : kind, tmp, sizeof(tmp));
	return term_esc(tmp, strlen(tmp), t->utf8, maxw, out, outlen);
}

/* heading - a section title, bold on a colour terminal */
static void
heading(const struct tx *t, const char *s, bool major)
{
	int n = (int)strlen(s), i;

	fputc('\n', t->f);
	if (t->colour)
		fputs(major ? "\033[1;36m" : "\033[1m", t->f);
	fputs(s, t->f);
	if (major) {
		fputc(' ', t->f);
		for (i = n + 1; i < t->width; i++)
			fputc('=', t->f);
	}
	if (t->colour)
		fputs("\033[0m", t->f);
	fputc('\n', t->f);
}

/* note - an indented remark ("not enriched", "none") */
static void
note(const struct tx *t, const char *s)
{
	char buf[CELL_MAX];

	term_esc(s, strlen(s), t->utf8, (size_t)t->width - 2, buf, sizeof(buf));
	fprintf(t->f, "  %s%s%s\n", t->colour ? "\033[2m" : "", buf, t->colour ? "\033[0m" : "");
}

/* scalars - the section's headline numbers as "label ..... value" lines */
static void
scalars(const struct tx *t, const struct section *s, json_t *sec)
{
	char val[CELL_MAX], lab[CELL_MAX];
	size_t lw, vw;
	int i, k;

	for (i = 0; i < 18 && s->scalars[i].key != NULL; i++) {
		json_t *v = view_get(sec, s->scalars[i].key);
		if (v == NULL)
			continue;
		vw = cell_text(t, v, s->scalars[i].kind, 30, val, sizeof(val));
		lw = term_esc(s->scalars[i].label, strlen(s->scalars[i].label), false,
		              (size_t)t->width - vw - 4, lab, sizeof(lab));
		fprintf(t->f, "  %s ", lab);
		for (k = (int)(lw + vw + 4); k < t->width && k < 60; k++)
			fputc('.', t->f);
		fprintf(t->f, " %s\n", val);
	}
}

/* heat - the weekday x hour map as shade characters */
static void
heat(const struct tx *t, json_t *rows)
{
	static const char shade[] = " .:-=+*#%@";
	json_t *r;
	int64_t max = 1, v;
	size_t i;
	int h;

	for (i = 0; i < json_array_size(rows); i++) {
		v = json_integer_value(json_object_get(json_array_get(rows, i), "sessions"));
		if (v > max)
			max = v;
	}
	fprintf(t->f, "       ");
	for (h = 0; h < 24; h += 3)
		fprintf(t->f, "%-6d", h);
	fputc('\n', t->f);
	for (i = 0; i < json_array_size(rows); i++) {
		r = json_array_get(rows, i);
		if (i % 24 == 0)
			fprintf(t->f, "  %.3s  ", json_string_value(json_object_get(r, "weekday")));
		v = json_integer_value(json_object_get(r, "sessions"));
		fputc(v == 0 ? ' ' : shade[1 + (v * 8) / max], t->f);
		fputc(' ', t->f);
		if (i % 24 == 23)
			fputc('\n', t->f);
	}
	fprintf(t->f,
	        "  scale: ' ' none, '.' few ... '@' most (%lld sessions in the busiest hour)\n",
	        (long long)max);
}

/* table - one view as a table fitting t->width: widths from the content, capped per column,
 * then the widest text columns shrink until the row fits; HTML-only columns are left out */
static void
table(const struct tx *t, const struct view *v, json_t *rows)
{
	size_t ncol = 0, nrow = json_array_size(rows), first = 0, i, c, k, total;
	size_t w[VIEW_COLS], cap[VIEW_COLS], hw[VIEW_COLS];
	const struct col *cols[VIEW_COLS];
	char buf[CELL_MAX];

	for (k = 0; k < VIEW_COLS && v->cols[k].key != NULL; k++)
		if (v->cols[k].width >= 0)
			cols[ncol++] = &v->cols[k];
	if (v->text_tail && nrow > TEXT_SERIES_MAX) {
		first = nrow - TEXT_SERIES_MAX;
		fprintf(t->f, "  (the last %d of %zu rows; HTML, CSV and JSON have them all)\n",
		        TEXT_SERIES_MAX, nrow);
	} else if (!v->text_tail && t->top > 0 && nrow > t->top) {
		/* long lists (relay-test sessions) stop at --top rows here */
		fprintf(t->f, "  (the first %zu of %zu rows; CSV and JSON have them all)\n", t->top,
		        nrow);
		nrow = t->top;
	}
	for (c = 0; c < ncol; c++) {
		cap[c] = cols[c]->width > 0 ? (size_t)cols[c]->width : (size_t)t->width;
		hw[c] = w[c] = strlen(cols[c]->head);
	}
	for (i = first; i < nrow; i++)
		for (c = 0; c < ncol; c++) {
			size_t cw =
			    cell_text(t, json_object_get(json_array_get(rows, i), cols[c]->key),
			              cols[c]->kind, cap[c], buf, sizeof(buf));
			if (cw > w[c])
				w[c] = cw;
		}
	for (;;) {
		size_t widest = ncol;
		total = 2 + (ncol - 1) * COL_GAP;
		for (c = 0; c < ncol; c++)
			total += w[c];
		if (total <= (size_t)t->width)
			break;
		for (c = 0; c < ncol; c++)
			if (cols[c]->kind == 's' && w[c] > 6 &&
			    (widest == ncol || w[c] > w[widest]))
				widest = c;
		if (widest == ncol)
			break; /* only numbers and identifiers left: cannot shrink further */
		w[widest]--;
	}
	for (i = first; i <= nrow; i++) {
		bool head = i == first;
		fputs("  ", t->f);
		if (head && t->colour)
			fputs("\033[4m", t->f);
		for (c = 0; c < ncol; c++) {
			size_t cw;
			char kd = cols[c]->kind;
			bool right = kd != 's' && kd != 'K' && kd != 'l' && kd != 't';
			if (head) {
				cw = term_esc(cols[c]->head, hw[c], false, w[c], buf, sizeof(buf));
				right = right && hw[c] <= w[c];
			} else
				cw = cell_text(
				    t, json_object_get(json_array_get(rows, i - 1), cols[c]->key),
				    kd, w[c], buf, sizeof(buf));
			if (right)
				fprintf(t->f, "%*s%s", (int)(w[c] - cw), "", buf);
			else if (c + 1 < ncol)
				fprintf(t->f, "%s%*s", buf, (int)(w[c] - cw), "");
			else
				fputs(buf, t->f);
			if (c + 1 < ncol)
				fprintf(t->f, "%*s", COL_GAP, "");
		}
		if (head && t->colour)
			fputs("\033[0m", t->f);
		fputc('\n', t->f);
	}
}

int
report_write_text(json_t *m, FILE *f, int width, bool colour)
{
	struct tx t = {f, width >= 40 ? width : 80, colour, false, 0};
	json_t *rep = json_object_get(m, "report"), *fl, *sec, *rows, *need;
	const char *cs = nl_langinfo(CODESET);
	char line[CELL_MAX], esc[CELL_MAX];
	size_t s, i;

	t.utf8 = cs != NULL && strcmp(cs, "UTF-8") == 0;
	t.top = (size_t)json_integer_value(json_object_get(rep, "top"));
	heading(&t, "relaytrap report", true);
	snprintf(line, sizeof(line), "database %s",
	         json_string_value(json_object_get(rep, "database")));
	term_esc(line, strlen(line), t.utf8, (size_t)t.width - 2, esc, sizeof(esc));
	fprintf(f, "  %s\n", esc);
	fl = json_object_get(rep, "filters");
	{
		const char *k;
		json_t *v;
		size_t n = 0;
		line[0] = '\0';
		json_object_foreach(fl, k, v)
		{
			if (json_is_string(v))
				n += (size_t)snprintf(
				    line + n, sizeof(line) - n < 2 ? 0 : sizeof(line) - n,
				    "%s%s=%s", n > 0 ? " " : "", k, json_string_value(v));
			if (n >= sizeof(line))
				n = sizeof(line) - 1;
		}
		term_esc(line, strlen(line), t.utf8, (size_t)t.width - 12, esc, sizeof(esc));
		fprintf(f, "  filters: %s\n", line[0] != '\0' ? esc : "none");
	}
	for (s = 0; s < report_nsections; s++) {
		const struct section *sp = &report_sections[s];
		sec = json_object_get(m, sp->key);
		if (sec == NULL)
			continue;
		heading(&t, sp->title, true);
		scalars(&t, sp, sec);
		for (i = 0; i < 9 && sp->views[i].key != NULL; i++) {
			const struct view *v = &sp->views[i];
			rows = json_object_get(sec, v->key);
			heading(&t, v->title, false);
			need = v->needs != NULL ? json_object_get(sec, v->needs) : NULL;
			if (v->needs != NULL && !json_is_true(need)) {
				note(&t, v->empty != NULL ? v->empty : "none");
				continue;
			}
			if (json_array_size(rows) == 0) {
				note(&t, v->empty != NULL ? v->empty : "none");
				continue;
			}
			if (v->chart == CH_HEAT)
				heat(&t, rows);
			else
				table(&t, v, rows);
		}
	}
	fputc('\n', f);
	return ferror(f) ? -1 : 0;
}
