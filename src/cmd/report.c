/* SPDX-License-Identifier: ISC */
/*
 * report - "relaytrap report": findings over the capture database as terminal tables, one HTML
 * page, JSON or CSV (see docs/report.md).
 *
 * Owns: nothing beyond the call.
 * Public: cmd_report (declared in cmd/cmd.h).
 * Limits: the model is bounded (--top rows per ranking; see report.h).
 */
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "core/config.h"
#include "core/util.h"
#include "report/report.h"

enum fmt { FMT_TEXT, FMT_HTML, FMT_JSON, FMT_CSV };

/* report_usage - the report help text */
static void
report_usage(FILE *f)
{
	fprintf(f,
	        "usage: relaytrap report [--data-dir DIR | --db FILE] [--since T] [--until T]\n"
	        "                        [--sensor NAME] [--listener NAME] [--src CIDR]\n"
	        "                        [--format text|html|json|csv] [-o FILE|DIR] [--top N]\n"
	        "                        [--color|--no-color] [-q] [--help]\n\n"
	        "Summarise a capture: overview, activity over time, HELO/EHLO identities,\n"
	        "commands, open-relay probes, messages and campaigns, credentials, sources and\n"
	        "bot dialect.\n\n"
	        "options:\n"
	        "  --data-dir DIR     data directory (its relaytrap.db); default as serve\n"
	        "  --db FILE          the database file itself\n"
	        "  --since, --until TIME\n"
	        "                     sessions that started in [since, until): 2026-11-27,\n"
	        "                     2026-11-27T10:00:00Z, or an age such as 90m, 12h, 7d, 2w\n"
	        "  --sensor NAME      only this sensor\n"
	        "  --listener NAME    only this listener\n"
	        "  --src CIDR         only sources in this network (192.0.2.0/24, 2001:db8::/32)\n"
	        "  -f, --format FMT   text (default), html, json or csv; -o FILE.html/.json/.csv\n"
	        "                     picks it from the name\n"
	        "  -o, --output PATH  write to PATH (a directory for csv) instead of stdout\n"
	        "  --top N            rows per ranking table (default %d)\n"
	        "  --color, --no-color  colour in text output (default: only on a terminal)\n"
	        "  -q, --quiet        no progress on stderr\n"
	        "  -h, --help         print this help\n\n"
	        "See relaytrap(8) and docs/report.md (the JSON schema).\n",
	        REPORT_TOP_DEFAULT);
}

/* fmt_from - a format name or a file name's extension; -1 when neither */
static int
fmt_from(const char *s, bool ext)
{
	static const char *const names[] = {"text", "html", "json", "csv"};
	const char *dot = ext ? strrchr(s, '.') : NULL;
	size_t i;

	if (ext) {
		if (dot == NULL)
			return -1;
		s = dot + 1;
		if (strcmp(s, "htm") == 0 || strcmp(s, "txt") == 0)
			return strcmp(s, "htm") == 0 ? FMT_HTML : FMT_TEXT;
	}
	for (i = 0; i < ARRAY_LEN(names); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

/* resolve_path - the database path from --data-dir / --db / the default data directory */
static void
resolve_path(const char *data_dir, const char *db, char *dbp, size_t dblen)
{
	struct config cfg;
	char tmp[1024];

	if (db != NULL) {
		snprintf(dbp, dblen, "%s", db);
		return;
	}
	if (data_dir == NULL) {
		config_defaults(&cfg);
		snprintf(tmp, sizeof(tmp), "%s", cfg.data_dir);
		config_free(&cfg);
		data_dir = tmp;
	}
	/* A path that does not fit is cut; opening it then fails with the path in the message. */
	if (snprintf(dbp, dblen, "%.900s/relaytrap.db", data_dir) < 0)
		dbp[0] = '\0';
}

/* cmd_report - the report subcommand: 0 written, 1 runtime failure, 2 usage error */
int
cmd_report(int argc, char **argv)
{
	enum {
		O_DATA = 256,
		O_DB,
		O_SINCE,
		O_UNTIL,
		O_SENSOR,
		O_LISTENER,
		O_SRC,
		O_TOP,
		O_COLOR,
		O_NOCOLOR
	};
	static const struct option opts[] = {
	    {"data-dir", required_argument, NULL, O_DATA},
	    {"db", required_argument, NULL, O_DB},
	    {"since", required_argument, NULL, O_SINCE},
	    {"until", required_argument, NULL, O_UNTIL},
	    {"sensor", required_argument, NULL, O_SENSOR},
	    {"listener", required_argument, NULL, O_LISTENER},
	    {"src", required_argument, NULL, O_SRC},
	    {"format", required_argument, NULL, 'f'},
	    {"output", required_argument, NULL, 'o'},
	    {"top", required_argument, NULL, O_TOP},
	    {"color", no_argument, NULL, O_COLOR},
	    {"colour", no_argument, NULL, O_COLOR},
	    {"no-color", no_argument, NULL, O_NOCOLOR},
	    {"no-colour", no_argument, NULL, O_NOCOLOR},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct report_opts o;
	const char *data_dir = NULL, *db = NULL, *out = NULL, *why;
	char dbp[1024], err[2048];
	int ch, fmt = -1, colour = -1, rc = 1;
	bool quiet = false, timing;
	uint64_t t0;
	long long top;
	json_t *m;
	FILE *f = stdout;
	int64_t now = (int64_t)now_real_us();

	memset(&o, 0, sizeof(o));
	o.top = REPORT_TOP_DEFAULT;
	optind = 0;
	opterr = 1;
	while ((ch = getopt_long(argc, argv, "f:o:qh", opts, NULL)) != -1) {
		switch (ch) {
		case O_DATA:
			data_dir = optarg;
			break;
		case O_DB:
			db = optarg;
			break;
		case O_SINCE:
		case O_UNTIL:
			if (report_parse_time(optarg, now,
			                      ch == O_SINCE ? &o.filter.since_us
			                                    : &o.filter.until_us,
			                      &why) < 0) {
				fprintf(stderr, "relaytrap report: %s '%.64s': %s\n",
				        ch == O_SINCE ? "--since" : "--until", optarg, why);
				return 2;
			}
			break;
		case O_SENSOR:
			o.filter.sensor = optarg;
			break;
		case O_LISTENER:
			o.filter.listener = optarg;
			break;
		case O_SRC:
			if (report_parse_cidr(optarg, &o.filter.cidr) < 0) {
				fprintf(
				    stderr,
				    "relaytrap report: --src '%.64s': not an address or network "
				    "(192.0.2.0/24, 2001:db8::/32)\n",
				    optarg);
				return 2;
			}
			o.filter.src = optarg;
			break;
		case 'f':
			if ((fmt = fmt_from(optarg, false)) < 0) {
				fprintf(stderr,
				        "relaytrap report: --format '%.32s': use text, html, json "
				        "or csv\n",
				        optarg);
				return 2;
			}
			break;
		case 'o':
			out = optarg;
			break;
		case O_TOP:
			if (parse_num(optarg, 1, 10000, &top, &why) < 0) {
				fprintf(stderr,
				        "relaytrap report: --top '%.32s': %s (1 to 10000)\n",
				        optarg, why);
				return 2;
			}
			o.top = (int)top;
			break;
		case O_COLOR:
			colour = 1;
			break;
		case O_NOCOLOR:
			colour = 0;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			report_usage(stdout);
			return 0;
		default:
			report_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "relaytrap report: unexpected argument '%.64s' (see --help)\n",
		        argv[optind]);
		return 2;
	}
	if (data_dir != NULL && db != NULL) {
		fprintf(stderr, "relaytrap report: give --data-dir or --db, not both\n");
		return 2;
	}
	if (o.filter.since_us != 0 && o.filter.until_us != 0 &&
	    o.filter.until_us <= o.filter.since_us) {
		fprintf(stderr, "relaytrap report: --until must be after --since\n");
		return 2;
	}
	if (fmt < 0 && out != NULL)
		fmt = fmt_from(out, true);
	if (fmt < 0)
		fmt = FMT_TEXT;
	setlocale(LC_CTYPE, "");
	resolve_path(data_dir, db, dbp, sizeof(dbp));
	o.progress = !quiet && isatty(STDERR_FILENO);
	timing = getenv("RELAYTRAP_REPORT_TIMING") != NULL;

	t0 = now_mono_us();
	m = report_build(dbp, &o, err, sizeof(err));
	if (timing)
		fprintf(stderr, "report: %-12s %8.3f s wall\n", "build",
		        (double)(now_mono_us() - t0) / 1e6);
	t0 = now_mono_us();
	if (m == NULL) {
		fprintf(stderr, "relaytrap report: %s\n", err);
		return 1;
	}
	if (fmt == FMT_CSV) {
		if (report_write_csv(m, out, stdout, err, sizeof(err)) < 0) {
			fprintf(stderr, "relaytrap report: %s\n", err);
			goto done;
		}
		rc = 0;
		goto done;
	}
	if (out != NULL && strcmp(out, "-") != 0 && (f = fopen(out, "w")) == NULL) {
		fprintf(stderr, "relaytrap report: %s: cannot write: %s\n", out, strerror(errno));
		goto done;
	}
	if (fmt == FMT_HTML)
		rc = report_write_html(m, f);
	else if (fmt == FMT_JSON)
		rc = report_write_json(m, f);
	else {
		struct winsize ws;
		int width = 80;
		bool tty = isatty(fileno(f));
		const char *term = getenv("TERM");
		if (tty && ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40 &&
		    ws.ws_col < 80)
			width = ws.ws_col;
		if (colour < 0)
			colour = tty && getenv("NO_COLOR") == NULL && term != NULL &&
			         strcmp(term, "dumb") != 0;
		rc = report_write_text(m, f, width, colour == 1);
	}
	if (f != stdout && fclose(f) != 0)
		rc = -1;
	else if (f == stdout && fflush(f) != 0)
		rc = -1;
	if (rc < 0)
		fprintf(stderr, "relaytrap report: %s: write error: %s\n",
		        out != NULL ? out : "stdout", strerror(errno));
	rc = rc < 0 ? 1 : 0;
done:
	if (timing)
		fprintf(stderr, "report: %-12s %8.3f s wall\n", "write",
		        (double)(now_mono_us() - t0) / 1e6);
	t0 = now_mono_us();
	json_decref(m);
	if (timing)
		fprintf(stderr, "report: %-12s %8.3f s wall\n", "free",
		        (double)(now_mono_us() - t0) / 1e6);
	return rc;
}
