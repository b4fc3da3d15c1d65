/* SPDX-License-Identifier: ISC */
/*
 * render_html - the report as one self-contained HTML page: inline CSS, inline SVG charts, no
 * script, nothing fetched (a Content-Security-Policy says so to the browser too), readable when
 * printed. Every piece of text that is not a literal in this file goes through ht()/html_esc.
 *
 * Public: report_write_html.
 * Limits: bar charts show at most BAR_MAX rows; tables show the model's rows.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/esc.h"
#include "report/report.h"
#include "report/views.h"
#include "report/worldmap.h"

#define BAR_MAX 15
#define LABEL_CHARS 34
#define HTML_ROWS_MAX 1000

static const char css[] =
    "body{font:14px/1.4 system-ui,sans-serif;color:#1b1f24;margin:2em auto;max-width:1100px;"
    "padding:0 1em}"
    "h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #2b6cb0;padding-bottom:"
    ".2em;margin-top:2em}h3{font-size:1.05em;margin:1.4em 0 .4em}"
    "table{border-collapse:collapse;margin:.3em 0 1em;font-size:13px}"
    "th,td{padding:2px 8px;border-bottom:1px solid #d8dee4;text-align:left;vertical-align:top}"
    "th{background:#f0f3f6}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}"
    "td.s{overflow-wrap:anywhere;max-width:32em}td.t,td.k{white-space:nowrap}table.kv "
    "td:first-child{color:#57606a}"
    ".note{color:#57606a;font-style:italic}nav a{margin-right:1em}"
    "figure{margin:.5em 0}svg text{font:11px system-ui,sans-serif;fill:#1b1f24}"
    ".meta{color:#57606a}"
    "@media print{body{margin:0;max-width:none;font-size:11px}nav{display:none}"
    "section{break-inside:avoid-page}h2{break-after:avoid}figure{break-inside:avoid}}";

/* ht - text into the page: the only way dynamic text gets there (html_esc) */
static void
ht(FILE *f, const char *s)
{
	html_esc(f, s, strlen(s));
}

/* hv - a model string into the page, cut to at most chars characters when chars > 0 */
static void
hv(FILE *f, json_t *v, size_t chars)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v), i = 0, k = 0;
	uint32_t cp;

	if (s == NULL)
		return;
	if (chars > 0) {
		while (i < n && k < chars) {
			size_t l = utf8_next((const unsigned char *)s + i, n - i, &cp);
			i += l > 0 ? l : 1;
			k++;
		}
		html_esc(f, s, i);
		if (i < n)
			fputs("\xe2\x80\xa6", f);
		return;
	}
	html_esc(f, s, n);
}

/* cell - one table cell's content */
static void
cell(FILE *f, json_t *v, char kind)
{
	char buf[512];

	if ((kind == 's' || kind == 'K') && json_is_string(v)) {
		hv(f, v, 0);
		return;
	}
	fmt_cell(v, kind == 's' || kind == 'K' ? 'x' : kind, buf, sizeof(buf));
	ht(f, buf);
}

/* chart_bar - horizontal bars of value against label for the first BAR_MAX rows */
static void
chart_bar(FILE *f, const struct view *v, json_t *rows)
{
	size_t n = json_array_size(rows), i;
	double max = 0, val;
	const int lw = 230, bw = 400, rh = 18;
	char num[64];

	if (n > BAR_MAX)
		n = BAR_MAX;
	for (i = 0; i < n; i++) {
		val = json_number_value(json_object_get(json_array_get(rows, i), v->value));
		if (val > max)
			max = val;
	}
	if (n == 0 || max <= 0)
		return;
	fprintf(f,
	        "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%zu\" "
	        "viewBox=\"0 0 %d %zu\" role=\"img\">",
	        lw + bw + 90, n * rh + 4, lw + bw + 90, n * rh + 4);
	for (i = 0; i < n; i++) {
		json_t *r = json_array_get(rows, i), *lab = json_object_get(r, v->label);
		val = json_number_value(json_object_get(r, v->value));
		fprintf(f, "<text x=\"%d\" y=\"%zu\" text-anchor=\"end\">", lw - 6, i * rh + 14);
		if (json_is_string(lab))
			hv(f, lab, LABEL_CHARS);
		else {
			fmt_cell(lab, 'n', num, sizeof(num));
			ht(f, num);
		}
		fprintf(f,
		        "</text><rect x=\"%d\" y=\"%zu\" width=\"%.1f\" height=\"%d\" "
		        "fill=\"#2b6cb0\"/>",
		        lw, i * rh + 3, val / max * bw, rh - 5);
		fmt_cell(json_object_get(r, v->value),
		         json_is_real(json_object_get(r, v->value)) ? 'r' : 'n', num, sizeof(num));
		fprintf(f, "<text x=\"%.1f\" y=\"%zu\">", lw + val / max * bw + 4, i * rh + 14);
		ht(f, num);
		fputs("</text>", f);
	}
	fputs("</svg></figure>\n", f);
}

/* chart_series - sessions as columns and messages as a line over time */
static void
chart_series(FILE *f, json_t *rows)
{
	size_t n = json_array_size(rows), i;
	const double W = 900, H = 200, L = 60, B = 24;
	double max = 1, bw, x, y;
	json_t *r;
	char num[64];

	if (n == 0)
		return;
	for (i = 0; i < n; i++) {
		r = json_array_get(rows, i);
		max = fmax(max, (double)json_integer_value(json_object_get(r, "sessions")));
		max = fmax(max, (double)json_integer_value(json_object_get(r, "messages")));
	}
	bw = (W - L) / (double)n;
	fprintf(f,
	        "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
	        "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\">",
	        W, H + B, W, H + B);
	fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#8c959f\"/>", L,
	        H, W, H);
	snprintf(num, sizeof(num), "%.0f", max);
	fprintf(f, "<text x=\"%.0f\" y=\"12\" text-anchor=\"end\">", L - 4);
	ht(f, num);
	fprintf(f, "</text><text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">0</text>", L - 4, H);
	for (i = 0; i < n; i++) {
		r = json_array_get(rows, i);
		y = (double)json_integer_value(json_object_get(r, "sessions")) / max * (H - 16);
		fprintf(f,
		        "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
		        "fill=\"#2b6cb0\"/>",
		        L + i * bw, H - y, fmax(bw - 1, 0.5), y);
	}
	fputs("<polyline fill=\"none\" stroke=\"#d9480f\" stroke-width=\"1.5\" points=\"", f);
	for (i = 0; i < n; i++) {
		r = json_array_get(rows, i);
		y = (double)json_integer_value(json_object_get(r, "messages")) / max * (H - 16);
		x = L + i * bw + bw / 2;
		fprintf(f, "%.1f,%.1f ", x, H - y);
	}
	fputs("\"/>", f);
	for (i = 0; i < n; i += (n + 5) / 6) {
		fprintf(f, "<text x=\"%.1f\" y=\"%.0f\">", L + i * bw, H + 16);
		fmt_cell(json_object_get(json_array_get(rows, i), "start"), 't', num, sizeof(num));
		ht(f, num);
		fputs("</text>", f);
	}
	fprintf(f,
	        "<rect x=\"%.0f\" y=\"2\" width=\"10\" height=\"10\" fill=\"#2b6cb0\"/>"
	        "<text x=\"%.0f\" y=\"11\">sessions</text>"
	        "<rect x=\"%.0f\" y=\"2\" width=\"10\" height=\"10\" fill=\"#d9480f\"/>"
	        "<text x=\"%.0f\" y=\"11\">messages</text>",
	        W - 170, W - 156, W - 90, W - 76);
	fputs("</svg></figure>\n", f);
}

/* chart_heat - weekday x hour cells shaded by sessions */
static void
chart_heat(FILE *f, json_t *rows)
{
	size_t n = json_array_size(rows), i;
	double max = 1, v;
	int h;
	json_t *r;

	for (i = 0; i < n; i++)
		max = fmax(max, (double)json_integer_value(
		                    json_object_get(json_array_get(rows, i), "sessions")));
	fputs("<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"700\" height=\"190\" "
	      "viewBox=\"0 0 700 190\" role=\"img\">",
	      f);
	for (h = 0; h < 24; h += 2)
		fprintf(f, "<text x=\"%d\" y=\"12\">%d</text>", 40 + h * 26, h);
	for (i = 0; i < n; i++) {
		r = json_array_get(rows, i);
		v = (double)json_integer_value(json_object_get(r, "sessions"));
		if (i % 24 == 0) {
			fprintf(f, "<text x=\"0\" y=\"%zu\">", 30 + (i / 24) * 22);
			hv(f, json_object_get(r, "weekday"), 3);
			fputs("</text>", f);
		}
		fprintf(f,
		        "<rect x=\"%zu\" y=\"%zu\" width=\"24\" height=\"20\" fill=\"#2b6cb0\" "
		        "fill-opacity=\"%.3f\" stroke=\"#d8dee4\"><title>%.0f</title></rect>",
		        40 + (i % 24) * 26, 17 + (i / 24) * 22, v > 0 ? 0.08 + 0.92 * v / max : 0.0,
		        v);
	}
	fputs("</svg></figure>\n", f);
}

/* chart_map - cities as points on an equirectangular world (2 px per degree) over country
 * outlines (when built in) and a 30-degree graticule */
static void
chart_map(FILE *f, json_t *rows)
{
	size_t n = json_array_size(rows), i;
	double max = 1, lat, lon, v;
	int d;
	json_t *r;

	for (i = 0; i < n; i++)
		max = fmax(max, (double)json_integer_value(
		                    json_object_get(json_array_get(rows, i), "sessions")));
	fputs("<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"360\" "
	      "viewBox=\"0 0 720 360\" role=\"img\"><rect width=\"720\" height=\"360\" "
	      "fill=\"#f6f9fc\" stroke=\"#8c959f\"/>",
	      f);
	for (d = -150; d <= 150; d += 30)
		fprintf(f, "<line x1=\"%d\" y1=\"0\" x2=\"%d\" y2=\"360\" stroke=\"#d8dee4\"/>",
		        (d + 180) * 2, (d + 180) * 2);
	for (d = -60; d <= 60; d += 30)
		fprintf(f, "<line x1=\"0\" y1=\"%d\" x2=\"720\" y2=\"%d\" stroke=\"#d8dee4\"/>",
		        (90 - d) * 2, (90 - d) * 2);
	worldmap_svg(f);
	for (i = 0; i < n; i++) {
		r = json_array_get(rows, i);
		if (!json_is_number(json_object_get(r, "latitude")) ||
		    !json_is_number(json_object_get(r, "longitude")))
			continue;
		lat = json_number_value(json_object_get(r, "latitude"));
		lon = json_number_value(json_object_get(r, "longitude"));
		if (!(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180))
			continue;
		v = (double)json_integer_value(json_object_get(r, "sessions"));
		fprintf(f,
		        "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"#d9480f\" "
		        "fill-opacity=\"0.6\"><title>",
		        (lon + 180) * 2, (90 - lat) * 2, 2 + 10 * sqrt(v / max));
		hv(f, json_object_get(r, "city"), 40);
		fprintf(f, ": %.0f</title></circle>", v);
	}
	fputs("</svg></figure>\n", f);
}

/* html_table - one view's rows (at most HTML_ROWS_MAX: the page stays readable) */
static void
html_table(FILE *f, const struct view *v, json_t *rows)
{
	size_t i, c, n = json_array_size(rows);
	char buf[128];

	if (n > HTML_ROWS_MAX) {
		snprintf(buf, sizeof(buf), "The first %d of %zu rows; CSV and JSON have them all.",
		         HTML_ROWS_MAX, n);
		fputs("<p class=\"note\">", f);
		ht(f, buf);
		fputs("</p>\n", f);
		n = HTML_ROWS_MAX;
	}

	fputs("<table><thead><tr>", f);
	for (c = 0; c < VIEW_COLS && v->cols[c].key != NULL; c++) {
		fputs(v->cols[c].kind == 'n' || v->cols[c].kind == 'p' || v->cols[c].kind == 'r' ||
		              v->cols[c].kind == 'd'
		          ? "<th class=\"n\">"
		          : "<th>",
		      f);
		ht(f, v->cols[c].head);
		fputs("</th>", f);
	}
	fputs("</tr></thead><tbody>\n", f);
	for (i = 0; i < n; i++) {
		json_t *r = json_array_get(rows, i);
		fputs("<tr>", f);
		for (c = 0; c < VIEW_COLS && v->cols[c].key != NULL; c++) {
			char k = v->cols[c].kind;
			fputs(k == 'n' || k == 'p' || k == 'r' || k == 'd' ? "<td class=\"n\">"
			      : k == 's'                                   ? "<td class=\"s\">"
			      : k == 'K'                                   ? "<td class=\"k\">"
			      : k == 't'                                   ? "<td class=\"t\">"
			                                                   : "<td>",
			      f);
			cell(f, json_object_get(r, v->cols[c].key), k);
			fputs("</td>", f);
		}
		fputs("</tr>\n", f);
	}
	fputs("</tbody></table>\n", f);
}

int
report_write_html(json_t *m, FILE *f)
{
	json_t *rep = json_object_get(m, "report"), *sec, *rows, *fl, *v;
	char buf[512];
	const char *k;
	size_t s, i;
	int j;

	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'; img-src data:\">"
	      "<meta name=\"viewport\" content=\"width=device-width\">"
	      "<title>relaytrap report</title><style>",
	      f);
	fputs(css, f);
	fputs("</style></head><body>\n<header><h1>relaytrap report</h1><p class=\"meta\">database ",
	      f);
	hv(f, json_object_get(rep, "database"), 0);
	fputs(" &middot; generated ", f);
	hv(f, json_object_get(rep, "generated"), 0);
	if (json_is_string(json_object_get(rep, "honeypot"))) {
		fputs(" &middot; honeypot ", f);
		hv(f, json_object_get(rep, "honeypot"), 0);
	}
	fputs(" &middot; filters:", f);
	fl = json_object_get(rep, "filters");
	j = 0;
	json_object_foreach(fl, k, v)
	{
		if (!json_is_string(v))
			continue;
		fputc(' ', f);
		ht(f, k);
		fputc('=', f);
		hv(f, v, 0);
		j++;
	}
	if (j == 0)
		fputs(" none", f);
	fputs("</p></header>\n<nav>", f);
	for (s = 0; s < report_nsections; s++) {
		fputs("<a href=\"#", f);
		ht(f, report_sections[s].key);
		fputs("\">", f);
		ht(f, report_sections[s].title);
		fputs("</a>", f);
	}
	fputs("</nav>\n", f);
	for (s = 0; s < report_nsections; s++) {
		const struct section *sp = &report_sections[s];
		sec = json_object_get(m, sp->key);
		if (sec == NULL)
			continue;
		fputs("<section id=\"", f);
		ht(f, sp->key);
		fputs("\"><h2>", f);
		ht(f, sp->title);
		fputs("</h2>\n<table class=\"kv\">", f);
		for (i = 0; i < 18 && sp->scalars[i].key != NULL; i++) {
			v = view_get(sec, sp->scalars[i].key);
			if (v == NULL)
				continue;
			fputs("<tr><td>", f);
			ht(f, sp->scalars[i].label);
			fputs("</td><td class=\"n\">", f);
			if (sp->scalars[i].kind == 's')
				hv(f, v, 0);
			else {
				fmt_cell(v, sp->scalars[i].kind, buf, sizeof(buf));
				ht(f, buf);
			}
			fputs("</td></tr>", f);
		}
		fputs("</table>\n", f);
		for (i = 0; i < 9 && sp->views[i].key != NULL; i++) {
			const struct view *vw = &sp->views[i];
			rows = json_object_get(sec, vw->key);
			fputs("<h3>", f);
			ht(f, vw->title);
			fputs("</h3>\n", f);
			if ((vw->needs != NULL && !json_is_true(json_object_get(sec, vw->needs))) ||
			    json_array_size(rows) == 0) {
				fputs("<p class=\"note\">", f);
				ht(f, vw->empty != NULL ? vw->empty : "none");
				fputs("</p>\n", f);
				continue;
			}
			switch (vw->chart) {
			case CH_BAR:
				chart_bar(f, vw, rows);
				break;
			case CH_SERIES:
				chart_series(f, rows);
				break;
			case CH_HEAT:
				chart_heat(f, rows);
				continue; /* the map is the table */
			case CH_MAP:
				chart_map(f, rows);
				break;
			default:
				break;
			}
			html_table(f, vw, rows);
		}
		fputs("</section>\n", f);
	}
	fputs("</body></html>\n", f);
	return ferror(f) ? -1 : 0;
}
