/* SPDX-License-Identifier: ISC */
/*
 * render_csv - the model as CSV: per section one "SECTION.csv" of its numbers (key,value) and
 * one "SECTION_TABLE.csv" per table, written into a directory or, without one, one after the
 * other to a stream with a "# name" line before each. JSON output is here too (the model as is).
 *
 * Public: report_write_csv, report_write_json.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/util.h"
#include "report/esc.h"
#include "report/report.h"

/* csv_value - one value: strings escaped, numbers as is, arrays joined with "; " */
static void
csv_value(FILE *f, json_t *v)
{
	char buf[64];
	size_t i;

	switch (json_typeof(v)) {
	case JSON_STRING:
		csv_esc(f, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		fprintf(f, "%lld", (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		fprintf(f, "%.6g", json_real_value(v));
		break;
	case JSON_TRUE:
		fputs("true", f);
		break;
	case JSON_FALSE:
		fputs("false", f);
		break;
	case JSON_ARRAY: {
		/* Small lists (top sources of a signal) flatten to "a (n); b (m)". */
		char *s = NULL;
		size_t len = 0;
		FILE *mf = open_memstream(&s, &len);
		if (mf == NULL)
			break;
		for (i = 0; i < json_array_size(v); i++) {
			json_t *e = json_array_get(v, i), *x;
			const char *k;
			int n = 0;
			if (i > 0)
				fputs("; ", mf);
			if (json_is_object(e)) {
				json_object_foreach(e, k, x)
				{
					if (json_is_string(x))
						fprintf(mf, n++ ? " (%s)" : "%s",
						        json_string_value(x));
					else if (json_is_integer(x)) {
						snprintf(buf, sizeof(buf), "%lld",
						         (long long)json_integer_value(x));
						fprintf(mf, n++ ? " (%s)" : "%s", buf);
					}
				}
			} else if (json_is_string(e))
				fputs(json_string_value(e), mf);
		}
		fclose(mf);
		csv_esc(f, s, len);
		free(s);
		break;
	}
	default:
		break;
	}
}

/* open_out - the stream for one CSV: a new file in dir, or f with a "# name" line */
static FILE *
open_out(const char *dir, FILE *f, const char *name, char *err, size_t errlen)
{
	char path[1024];
	FILE *o;

	if (dir == NULL) {
		fprintf(f, "# %s\n", name);
		return f;
	}
	snprintf(path, sizeof(path), "%s/%s.csv", dir, name);
	o = fopen(path, "w");
	if (o == NULL)
		seterr(err, errlen, "%s: %s", path, strerror(errno));
	return o;
}

/* close_out - finish one CSV */
static int
close_out(const char *dir, FILE *o)
{
	if (dir == NULL) {
		fputc('\n', o);
		return ferror(o) ? -1 : 0;
	}
	return fclose(o) == 0 ? 0 : -1;
}

/* scalars_of - the key,value rows of an object's scalars (nested objects as "a.b") */
static void
scalars_of(FILE *o, json_t *obj, const char *prefix)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v)
	{
		if (json_is_array(v))
			continue;
		if (json_is_object(v)) {
			char p[128];
			snprintf(p, sizeof(p), "%s%s.", prefix, k);
			scalars_of(o, v, p);
			continue;
		}
		fprintf(o, "%s", prefix);
		csv_esc(o, k, strlen(k));
		fputc(',', o);
		csv_value(o, v);
		fputs("\r\n", o);
	}
}

/* table_of - an array of objects, the first object's keys as the header */
static void
table_of(FILE *o, json_t *arr)
{
	json_t *first = json_array_get(arr, 0), *row;
	const char *k;
	json_t *v;
	size_t i;
	int c;

	c = 0;
	json_object_foreach(first, k, v)
	{
		if (c++ > 0)
			fputc(',', o);
		csv_esc(o, k, strlen(k));
	}
	fputs("\r\n", o);
	for (i = 0; i < json_array_size(arr); i++) {
		row = json_array_get(arr, i);
		c = 0;
		json_object_foreach(first, k, v)
		{
			if (c++ > 0)
				fputc(',', o);
			csv_value(o, json_object_get(row, k));
		}
		fputs("\r\n", o);
	}
}

int
report_write_csv(json_t *m, const char *dir, FILE *f, char *err, size_t errlen)
{
	const char *sk, *k;
	json_t *sec, *v;
	char name[128];
	FILE *o;

	if (dir != NULL && mkdir_p(dir) < 0) {
		seterr(err, errlen, "%s: cannot create the directory: %s", dir, strerror(errno));
		return -1;
	}
	json_object_foreach(m, sk, sec)
	{
		if (!json_is_object(sec))
			continue;
		if ((o = open_out(dir, f, sk, err, errlen)) == NULL)
			return -1;
		fputs("key,value\r\n", o);
		scalars_of(o, sec, "");
		if (close_out(dir, o) < 0)
			goto werr;
		json_object_foreach(sec, k, v)
		{
			if (!json_is_array(v) || !json_is_object(json_array_get(v, 0)))
				continue;
			snprintf(name, sizeof(name), "%s_%s", sk, k);
			if ((o = open_out(dir, f, name, err, errlen)) == NULL)
				return -1;
			table_of(o, v);
			if (close_out(dir, o) < 0)
				goto werr;
		}
	}
	return 0;
werr:
	seterr(err, errlen, "%s: write error: %s", dir != NULL ? dir : "output", strerror(errno));
	return -1;
}

int
report_write_json(json_t *m, FILE *f)
{
	if (json_dumpf(m, f, JSON_INDENT(1) | JSON_ENSURE_ASCII) < 0)
		return -1;
	fputc('\n', f);
	return ferror(f) ? -1 : 0;
}
