/* SPDX-License-Identifier: ISC */
/*
 * import - "relaytrap import": build or extend a database from the events.jsonl logs of one or
 * many sensors by feeding every line to store_event() (without writing a JSONL, without body
 * files), in bulk mode.
 *
 * Owns: the input streams (zlib reads plain and gzip-compressed files alike) and the line buffer.
 * Public: cmd_import (declared in cmd/cmd.h).
 * Inputs: files, '-' for stdin, or a data directory (its rotated events-*.jsonl[.gz] in name
 *         order, then events.jsonl[.gz]). Applying an event is idempotent (docs/database.md), so
 *         importing a file twice adds nothing.
 * Limits: a line longer than FRAME_MAX bytes is rejected without being buffered; at most
 *         IMPORT_REJECTS_SHOWN rejected lines are named in the summary.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "capture/frame.h"
#include "capture/store.h"
#include "cmd/cmd.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"

#define IMPORT_READ (1u << 20)
#define IMPORT_BUF (FRAME_MAX + IMPORT_READ)
#define IMPORT_REJECTS_SHOWN 5
#define IMPORT_PROGRESS_US 250000u
#define IMPORT_DEFAULT_CONFIG "/etc/relaytrap/relaytrap.conf"

struct reject {
	char file[256]; /* copied: directory inputs free their names */
	uint64_t line;
};

struct import {
	struct store *store;
	bool progress; /* stderr is a terminal and not -q */
	char *buf;
	uint64_t lines, applied, rejected, bytes;
	struct reject shown[IMPORT_REJECTS_SHOWN];
	size_t nshown;
	uint64_t t0, last_progress;
	const char *cur;      /* file being read, for progress and rejects */
	uint64_t cur_size;    /* its size on disk, 0 when unknown (stdin, pipes) */
	uint64_t start_lines; /* s->lines when it was opened */
};

/* import_usage - the import help text */
static void
import_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: relaytrap import [-c FILE] [--data-dir DIR | --db FILE] [-q] [-v] INPUT...\n\n"
	    "Build or extend a relaytrap database from event logs (JSON lines, docs/events.md)\n"
	    "of one or many sensors. Importing the same events twice adds nothing.\n\n"
	    "INPUT is an events.jsonl file (plain or gzip-compressed), '-' for standard input,\n"
	    "or a data directory: its rotated events-*.jsonl[.gz] in name order, then\n"
	    "events.jsonl[.gz].\n\n"
	    "options:\n"
	    "  -c, --config FILE  take data_dir from this configuration file\n"
	    "  -d, --data-dir DIR write DIR/relaytrap.db (default: the configured data_dir)\n"
	    "      --db FILE      write this database file instead\n"
	    "  -q, --quiet        no progress line, errors only\n"
	    "  -v, --verbose      log why each rejected line was refused\n"
	    "  -h, --help         print this help\n\n"
	    "Prints a summary: lines read, events applied, lines rejected (the first few by file\n"
	    "and line number), and events per second. Exit 0 when every input was read, 1 on an\n"
	    "input or database error, 2 on a usage error. Message bodies are not imported: the\n"
	    "database keeps the sha256 and body_path the events name.\n"
	    "Import into a database a running relaytrap writes only when it is idle: a bulk\n"
	    "transaction holds the write lock for up to %u events.\n"
	    "See relaytrap(8) and docs/database.md.\n",
	    STORE_BULK_EVENTS);
}

/* progress - one overwritten status line on the terminal, at most every IMPORT_PROGRESS_US */
static void
progress(struct import *im, bool force)
{
	uint64_t now = now_mono_us(), dt;
	double rate;

	if (!im->progress || (!force && now - im->last_progress < IMPORT_PROGRESS_US))
		return;
	im->last_progress = now;
	dt = now - im->t0;
	rate = dt > 0 ? (double)im->applied * 1e6 / (double)dt : 0.0;
	fprintf(stderr, "\r\033[Kimport: %.60s: %llu lines, %llu applied, %llu rejected, %.0f/s",
	        im->cur, (unsigned long long)(im->lines - im->start_lines),
	        (unsigned long long)im->applied, (unsigned long long)im->rejected, rate);
	if (im->cur_size > 0)
		fprintf(stderr, " (%.0f%%)", 100.0 * (double)im->bytes / (double)im->cur_size);
}

/* reject_note - count a rejected line and remember where the first few were */
static void
reject_note(struct import *im)
{
	im->rejected++;
	if (im->nshown < IMPORT_REJECTS_SHOWN) {
		strlcpy(im->shown[im->nshown].file, im->cur, sizeof(im->shown[0].file));
		im->shown[im->nshown].line = im->lines;
		im->nshown++;
	}
}

/* import_line - one line without its terminator: skip blank lines, apply the rest */
static void
import_line(struct import *im, const char *p, size_t n)
{
	size_t i;

	im->lines++;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	for (i = 0; i < n && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	if (i == n)
		return;
	if (store_event(im->store, p, n) == 0)
		im->applied++;
	else
		reject_note(im);
	if ((im->lines & 0x3fff) == 0)
		progress(im, false);
}

/* import_stream - read one (possibly compressed) stream line by line; 0, or -1 on a read error.
 * A line over FRAME_MAX is rejected and skipped up to its end without being kept. */
static int
import_stream(struct import *im, gzFile gz)
{
	size_t have = 0, off, n;
	bool skipping = false;
	char *nl;
	int r, errnum;

	for (;;) {
		r = gzread(gz, im->buf + have, IMPORT_READ);
		if (r < 0) {
			const char *msg = gzerror(gz, &errnum);
			fprintf(stderr, "relaytrap import: %s: %s\n", im->cur,
			        errnum == Z_ERRNO ? strerror(errno) : msg);
			return -1;
		}
		if (r == 0)
			break;
		im->bytes = (uint64_t)gzoffset(gz);
		have += (size_t)r;
		off = 0;
		while ((nl = memchr(im->buf + off, '\n', have - off)) != NULL) {
			n = (size_t)(nl - (im->buf + off));
			if (skipping) {
				skipping = false;
				im->lines++;
				reject_note(im);
			} else {
				import_line(im, im->buf + off, n);
			}
			off += n + 1;
		}
		/* What is left is a partial line: keep it unless it is already too long. */
		if (have - off > FRAME_MAX) {
			skipping = true;
			have = 0;
		} else {
			memmove(im->buf, im->buf + off, have - off);
			have -= off;
		}
	}
	if (skipping) {
		im->lines++;
		reject_note(im);
	} else if (have > 0) {
		import_line(im, im->buf, have); /* the last line had no newline */
	}
	return 0;
}

/* import_path - open one file ('-' = stdin) and import it; 0 or -1 */
static int
import_path(struct import *im, const char *path)
{
	struct stat st;
	gzFile gz;
	int fd, rc;

	if (strcmp(path, "-") == 0) {
		fd = dup(STDIN_FILENO);
		im->cur = "(stdin)";
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		im->cur = path;
	}
	if (fd < 0) {
		fprintf(stderr, "relaytrap import: %s: %s\n", path, strerror(errno));
		return -1;
	}
	im->cur_size = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		fprintf(stderr, "relaytrap import: %s: is a directory\n", path);
		return -1;
	}
	/* zlib reads uncompressed input transparently, so one path serves .jsonl and .jsonl.gz. */
	gz = gzdopen(fd, "rb");
	if (gz == NULL) {
		close(fd);
		fprintf(stderr, "relaytrap import: %s: out of memory\n", path);
		return -1;
	}
	gzbuffer(gz, 256u * 1024u);
	im->bytes = 0;
	im->start_lines = im->lines;
	rc = import_stream(im, gz);
	gzclose(gz);
	progress(im, true);
	return rc;
}

/* cmp_path - strcmp for qsort over char * */
static int
cmp_path(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* import_dir - a data directory: rotated logs in name order (their names sort by time), then
 * the current events.jsonl; 0, or -1 when one failed or there was nothing to read */
static int
import_dir(struct import *im, const char *dir)
{
	static const char *const pats[] = {"events-*.jsonl", "events-*.jsonl.gz", "events.jsonl",
	                                   "events.jsonl.gz"};
	char pat[PATH_MAX];
	glob_t g;
	size_t i, nrotated = 0;
	int rc = 0;

	memset(&g, 0, sizeof(g));
	for (i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
		snprintf(pat, sizeof(pat), "%s/%s", dir, pats[i]);
		if (glob(pat, i > 0 ? GLOB_APPEND : 0, NULL, &g) == GLOB_NOSPACE) {
			fprintf(stderr, "relaytrap import: %s: out of memory\n", dir);
			globfree(&g);
			return -1;
		}
		if (i == 1)
			nrotated = g.gl_pathc;
	}
	/* Plain and compressed rotations interleave in time: one order over both lists. */
	qsort(g.gl_pathv, nrotated, sizeof(char *), cmp_path);
	for (i = 0; i < g.gl_pathc; i++) {
		if (import_path(im, g.gl_pathv[i]) < 0)
			rc = -1;
	}
	if (g.gl_pathc == 0) {
		fprintf(stderr, "relaytrap import: %s: no events.jsonl or events-*.jsonl in it\n",
		        dir);
		rc = -1;
	}
	globfree(&g);
	return rc;
}

/* summary - the closing report on stdout */
static void
summary(const struct import *im, int ninputs)
{
	uint64_t dt = now_mono_us() - im->t0;
	double secs = (double)dt / 1e6;
	size_t i;

	if (im->progress)
		fprintf(stderr, "\r\033[K");
	printf("relaytrap import: %d input%s, %llu lines, %llu events applied, %llu rejected",
	       ninputs, ninputs == 1 ? "" : "s", (unsigned long long)im->lines,
	       (unsigned long long)im->applied, (unsigned long long)im->rejected);
	for (i = 0; i < im->nshown; i++)
		printf("%s%s:%llu", i == 0 ? " (" : ", ", im->shown[i].file,
		       (unsigned long long)im->shown[i].line);
	if (im->nshown > 0)
		printf("%s)", im->rejected > im->nshown ? ", ..." : "");
	printf(", %.2f s, %.0f events/s\n", secs, secs > 0 ? (double)im->applied / secs : 0.0);
}

/* cmd_import - the import subcommand */
int
cmd_import(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"data-dir", required_argument, NULL, 'd'},
	    {"db", required_argument, NULL, 'D'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cfile = NULL, *data_dir = NULL, *db = NULL;
	struct store_config scfg;
	struct import im;
	struct config cfg;
	struct stat st;
	char err[512], dbdir[PATH_MAX], *slash;
	int ch, i, rc = 0, verbose = 0;
	bool quiet = false;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:d:qvh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cfile = optarg;
			break;
		case 'd':
			data_dir = optarg;
			break;
		case 'D':
			db = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			import_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "relaytrap import: see --help\n");
			return 2;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "relaytrap import: no input (give events.jsonl files, a data "
		                "directory, or - for stdin; see --help)\n");
		return 2;
	}
	if (data_dir != NULL && db != NULL) {
		fprintf(stderr,
		        "relaytrap import: --data-dir and --db exclude each other (give one)\n");
		return 2;
	}
	config_defaults(&cfg);
	if (cfile != NULL && config_load_file(&cfg, cfile, err, sizeof(err)) == -1) {
		fprintf(stderr, "relaytrap import: %s\n", err);
		config_free(&cfg);
		return 2;
	}
	/* Rejected lines are listed in the summary; the store's reason for each only with -v. */
	log_init("relaytrap", verbose > 0 ? LOG_LVL_WARN : LOG_LVL_ERR);

	memset(&scfg, 0, sizeof(scfg));
	if (db != NULL) {
		/* The store wants a directory; give it the database's own, where it creates nothing
		 * because bodies are not stored. */
		strlcpy(dbdir, db, sizeof(dbdir));
		slash = strrchr(dbdir, '/');
		if (slash == NULL)
			strlcpy(dbdir, ".", sizeof(dbdir));
		else if (slash == dbdir)
			dbdir[1] = '\0';
		else
			*slash = '\0';
		scfg.data_dir = dbdir;
		scfg.db_path = db;
	} else {
		scfg.data_dir = data_dir != NULL ? data_dir : cfg.data_dir;
	}
	scfg.write_jsonl = false;
	scfg.store_bodies = false;
	scfg.bulk = true;

	memset(&im, 0, sizeof(im));
	im.progress = !quiet && isatty(STDERR_FILENO);
	im.buf = malloc(IMPORT_BUF);
	if (im.buf == NULL) {
		fprintf(stderr, "relaytrap import: out of memory\n");
		config_free(&cfg);
		return 1;
	}
	im.store = store_open(&scfg, err, sizeof(err));
	if (im.store == NULL) {
		fprintf(stderr, "relaytrap import: %s\n", err);
		free(im.buf);
		config_free(&cfg);
		return 1;
	}
	im.t0 = now_mono_us();
	for (i = optind; i < argc; i++) {
		if (strcmp(argv[i], "-") != 0 && stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			if (import_dir(&im, argv[i]) < 0)
				rc = 1;
		} else if (import_path(&im, argv[i]) < 0) {
			rc = 1;
		}
	}
	if (store_commit(im.store) < 0) {
		fprintf(stderr, "relaytrap import: committing to the database failed\n");
		rc = 1;
	}
	store_close(im.store);
	summary(&im, argc - optind);
	free(im.buf);
	config_free(&cfg);
	return rc;
}
