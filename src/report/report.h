/* SPDX-License-Identifier: ISC */
/*
 * report - findings over a capture database: a JSON model built with SQL aggregates and a few
 * streaming passes (report_build), and renderers for it (text, HTML, JSON, CSV).
 *
 * Owns: the model (a jansson object; the caller json_decref()s it).
 * Public: report_build, report_write_text, report_write_html, report_write_json,
 *         report_write_csv, report_parse_time, report_parse_cidr, report_cidr_match.
 * Limits: every list in the model is bounded (opts.top rows, REPORT_PROBE_MAX probe sessions);
 *         attacker strings are at most REPORT_STR_MAX bytes, invalid UTF-8 replaced by U+FFFD.
 *         The schema of the model is docs/report.md.
 */
#ifndef RT_REPORT_H
#define RT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define REPORT_SCHEMA_VERSION 1
#define REPORT_STR_MAX 200
#define REPORT_PROBE_MAX 10000
#define REPORT_TOP_DEFAULT 20

/* A parsed --src CIDR; family 0 = no filter */
struct report_cidr {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned bits;
};

struct report_filter {
	int64_t since_us;     /* sessions that started at or after; 0 = open */
	int64_t until_us;     /* ... and before; 0 = open */
	const char *sensor;   /* NULL = any */
	const char *listener; /* NULL = any */
	const char *src;      /* CIDR as given (for the model), NULL = any */
	struct report_cidr cidr;
};

struct report_opts {
	struct report_filter filter;
	int top;       /* rows per ranking table */
	bool progress; /* progress lines on stderr (a TTY) */
};

/* report_build - open db_path read-only and build the model; NULL with err */
json_t *report_build(const char *db_path, const struct report_opts *o, char *err, size_t errlen);

/* report_write_text - terminal tables at most width columns (80); colour = ANSI colours */
int report_write_text(json_t *m, FILE *f, int width, bool colour);
/* report_write_html - one self-contained HTML page with inline SVG charts */
int report_write_html(json_t *m, FILE *f);
/* report_write_json - the model itself, indented */
int report_write_json(json_t *m, FILE *f);
/* report_write_csv - one CSV per table into dir (created), or all tables to f when dir is NULL
 * (each preceded by a "# name" line); 0 or -1 with err */
int report_write_csv(json_t *m, const char *dir, FILE *f, char *err, size_t errlen);

/* report_parse_time - "2026-11-27", RFC 3339, or a duration back from now ("7d", "12h",
 * "30m"); 0 or -1 with a reason in why */
int report_parse_time(const char *s, int64_t now_us, int64_t *out, const char **why);
/* report_parse_cidr - "192.0.2.0/24", "2001:db8::/32" or one address; 0 or -1 */
int report_parse_cidr(const char *s, struct report_cidr *out);
/* report_cidr_match - the textual address ip lies inside c (c->family 0 matches everything) */
bool report_cidr_match(const struct report_cidr *c, const char *ip);

#endif
