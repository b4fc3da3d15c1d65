/* SPDX-License-Identifier: ISC */
/*
 * import - "relaytrap import": build or extend a database from the events.jsonl logs of one or
 * many sensors by feeding every line to the store (without writing a JSONL, without body
 * files), in bulk mode.
 *
 * Two threads: a reader splits the input into lines and parses and checks each one
 * (store_parse), the main thread applies them to SQLite in input order (store_apply). They hand
 * over batches of parsed events through two bounded queues: full batches to the applier, applied
 * ones back to the reader, which frees their events, so every allocation is freed by the thread
 * that made it. The reader's JSON values live in their batch's arena (below).
 *
 * Owns: the input streams (zlib reads plain and gzip-compressed files alike), the line buffer,
 *       the batches with their arenas, the reader thread; cmd_import routes jansson's
 *       allocations for the process through capture/jarena.
 * Public: cmd_import (declared in cmd/cmd.h).
 * Inputs: files, '-' for stdin, or a data directory (its rotated events-*.jsonl[.gz] in name
 *         order, then events.jsonl[.gz]). Applying an event is idempotent (docs/database.md), so
 *         importing a file twice adds nothing.
 * Limits: a line longer than FRAME_MAX bytes is rejected without being buffered; at most
 *         IMPORT_REJECTS_SHOWN rejected lines are named in the summary; at most IMPORT_BATCHES
 *         batches of IMPORT_BATCH events or IMPORT_BATCH_BYTES of input (plus one line) are
 *         parsed ahead of the applier.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zlib.h>

#include "capture/evparse.h"
#include "capture/frame.h"
#include "capture/jarena.h"
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
/* A batch is handed over when it holds IMPORT_BATCH events or IMPORT_BATCH_BYTES of their text:
 * large enough that the lock is taken once per hundreds of events, small enough that the parsed
 * events in flight stay a few MiB even when every line is near FRAME_MAX. */
#define IMPORT_BATCH 256
#define IMPORT_BATCH_BYTES (1u << 20)
#define IMPORT_BATCHES 8

struct reject {
	char file[256]; /* copied: directory inputs free their names */
	uint64_t line;
};

/* struct item - one non-blank input line: its parsed event (p.ev NULL: refused) and number */
struct item {
	struct store_parsed p;
	uint64_t line;
};

/* The reader's events live in their batch's arena (capture/jarena.h): it parses into the arena
 * of its batch and drops them all at once when the batch comes back; what the applier adds to
 * message events comes from the heap. */

/* struct batch - consecutive lines of one input file */
struct batch {
	struct batch *next;
	struct jarena arena; /* the events' JSON */
	size_t n;
	uint64_t text;       /* bytes of the lines in it */
	char file[256];      /* copied: directory inputs free their names */
	uint64_t file_lines; /* lines read from the file so far, for progress */
	uint64_t bytes;      /* input bytes consumed so far */
	uint64_t size;       /* the file's size on disk, 0 when unknown (stdin, pipes) */
	struct item it[IMPORT_BATCH];
};

struct queue {
	struct batch *head, *tail;
};

struct import {
	/* shared between the threads, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv_full; /* a batch was queued on full, or the reader is done */
	pthread_cond_t cv_free; /* a batch was returned on free */
	struct queue full;      /* parsed, to apply */
	struct queue free;      /* applied, their events still to be cleared by the reader */
	bool done;

	/* the reader's */
	char **inputs;
	int ninputs;
	int rc; /* 1 when an input could not be read */
	char *buf;
	struct evparse *evp; /* NULL: every line parsed whole */
	struct batch *cur_batch;
	const char *cur;     /* file being read */
	uint64_t cur_size;   /* its size on disk, 0 when unknown */
	uint64_t bytes;      /* of it consumed */
	uint64_t file_lines; /* lines of it read */
	uint64_t lines;      /* lines of every input */
	double read_cpu;     /* the reader thread's CPU seconds */

	/* the applier's */
	struct store *store;
	bool fresh;    /* a new database, loaded with the fresh-load shortcuts */
	bool progress; /* stderr is a terminal and not -q */
	uint64_t applied, rejected;
	struct reject shown[IMPORT_REJECTS_SHOWN];
	size_t nshown;
	uint64_t t0, last_progress;
	uint64_t end_t0, end_us; /* the final commit and index build */
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
	    "and line number), events per second, and the CPU seconds of the reading and parsing\n"
	    "thread and of the applying one. Exit 0 when every input was read, 1 on an\n"
	    "input or database error, 2 on a usage error. Message bodies are not imported: the\n"
	    "database keeps the sha256 and body_path the events name.\n"
	    "Import into a database a running relaytrap writes only when it is idle: a bulk\n"
	    "transaction holds the write lock for up to %u events. A new database file is\n"
	    "loaded faster, under an exclusive lock and without journal (indexes are built at\n"
	    "the end); if that import fails, delete the file and import again.\n"
	    "See relaytrap(8) and docs/database.md.\n",
	    STORE_BULK_EVENTS);
}

/* thread_cpu - CPU seconds the calling thread has used */
static double
thread_cpu(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return 0.0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* queue_push - append b (caller holds mu) */
static void
queue_push(struct queue *q, struct batch *b)
{
	b->next = NULL;
	if (q->tail != NULL)
		q->tail->next = b;
	else
		q->head = b;
	q->tail = b;
}

/* queue_pop - the oldest batch, or NULL (caller holds mu) */
static struct batch *
queue_pop(struct queue *q)
{
	struct batch *b = q->head;

	if (b != NULL) {
		q->head = b->next;
		if (q->head == NULL)
			q->tail = NULL;
	}
	return b;
}

/* batch_get - reader: an empty batch for the current file, waiting for the applier to return
 * one; the events it held are freed here, by the thread that parsed them */
static struct batch *
batch_get(struct import *im)
{
	struct batch *b;
	size_t i;

	pthread_mutex_lock(&im->mu);
	while ((b = queue_pop(&im->free)) == NULL)
		pthread_cond_wait(&im->cv_free, &im->mu);
	pthread_mutex_unlock(&im->mu);
	for (i = 0; i < b->n; i++)
		store_parsed_clear(&b->it[i].p);
	jarena_reset(&b->arena, false);
	b->n = 0;
	b->text = 0;
	strlcpy(b->file, im->cur, sizeof(b->file));
	b->size = im->cur_size;
	return b;
}

/* batch_send - reader: hand the current batch, if it holds anything, to the applier */
static void
batch_send(struct import *im)
{
	struct batch *b = im->cur_batch;

	if (b == NULL || b->n == 0)
		return;
	b->file_lines = im->file_lines;
	b->bytes = im->bytes;
	pthread_mutex_lock(&im->mu);
	queue_push(&im->full, b);
	pthread_cond_signal(&im->cv_full);
	pthread_mutex_unlock(&im->mu);
	im->cur_batch = NULL;
}

/* item_add - reader: parse one line (p NULL: refused unread, it was too long) into the batch */
static void
item_add(struct import *im, const char *p, size_t n)
{
	struct batch *b;
	struct item *it;

	if (im->cur_batch == NULL)
		im->cur_batch = batch_get(im);
	b = im->cur_batch;
	it = &b->it[b->n++];
	it->line = im->file_lines;
	if (p == NULL) {
		it->p.ev = NULL;
		it->p.valid = false;
	} else {
		jarena_use(&b->arena);
		store_parse_cached(im->evp, &it->p, p, n);
		jarena_use(NULL);
		b->text += n;
	}
	if (b->n == IMPORT_BATCH || b->text >= IMPORT_BATCH_BYTES)
		batch_send(im);
}

/* import_line - reader: one line without its terminator; blank lines are skipped */
static void
import_line(struct import *im, const char *p, size_t n)
{
	size_t i;

	im->lines++;
	im->file_lines++;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	for (i = 0; i < n && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	if (i == n)
		return;
	item_add(im, p, n);
}

/* import_too_long - reader: a line over FRAME_MAX, refused without being kept */
static void
import_too_long(struct import *im)
{
	im->lines++;
	im->file_lines++;
	item_add(im, NULL, 0);
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
				import_too_long(im);
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
	if (skipping)
		import_too_long(im);
	else if (have > 0)
		import_line(im, im->buf, have); /* the last line had no newline */
	return 0;
}

/* import_path - reader: open one file ('-' = stdin) and import it; 0 or -1 */
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
	if (fstat(fd, &st) < 0) {
		fprintf(stderr, "relaytrap import: %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		fprintf(stderr, "relaytrap import: %s: is a directory\n", path);
		return -1;
	}
	im->cur_size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	/* zlib reads uncompressed input transparently, so one path serves .jsonl and .jsonl.gz. */
	gz = gzdopen(fd, "rb");
	if (gz == NULL) {
		close(fd);
		fprintf(stderr, "relaytrap import: %s: out of memory\n", path);
		return -1;
	}
	gzbuffer(gz, 256u * 1024u);
	im->bytes = 0;
	im->file_lines = 0;
	rc = import_stream(im, gz);
	gzclose(gz);
	/* A batch names one file: what is left of this one goes now. */
	batch_send(im);
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

/* reader_main - the reader thread: every input in order, then the end mark */
static void *
reader_main(void *arg)
{
	struct import *im = arg;
	struct stat st;
	int i;

	im->evp = evparse_new();
	for (i = 0; i < im->ninputs; i++) {
		const char *in = im->inputs[i];

		if (strcmp(in, "-") != 0 && stat(in, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (import_dir(im, in) < 0)
				im->rc = 1;
		} else if (import_path(im, in) < 0) {
			im->rc = 1;
		}
	}
	evparse_free(im->evp);
	im->evp = NULL;
	im->read_cpu = thread_cpu();
	pthread_mutex_lock(&im->mu);
	im->done = true;
	pthread_cond_signal(&im->cv_full);
	pthread_mutex_unlock(&im->mu);
	return NULL;
}

/* progress - applier: one overwritten status line on the terminal, at most every
 * IMPORT_PROGRESS_US */
static void
progress(struct import *im, const struct batch *b)
{
	uint64_t now = now_mono_us(), dt;
	double rate;

	if (!im->progress || now - im->last_progress < IMPORT_PROGRESS_US)
		return;
	im->last_progress = now;
	dt = now - im->t0;
	rate = dt > 0 ? (double)im->applied * 1e6 / (double)dt : 0.0;
	fprintf(stderr, "\r\033[Kimport: %.60s: %llu lines, %llu applied, %llu rejected, %.0f/s",
	        b->file, (unsigned long long)b->file_lines, (unsigned long long)im->applied,
	        (unsigned long long)im->rejected, rate);
	if (b->size > 0)
		fprintf(stderr, " (%.0f%%)", 100.0 * (double)b->bytes / (double)b->size);
}

/* reject_note - applier: count a rejected line and remember where the first few were */
static void
reject_note(struct import *im, const struct batch *b, uint64_t line)
{
	im->rejected++;
	if (im->nshown < IMPORT_REJECTS_SHOWN) {
		strlcpy(im->shown[im->nshown].file, b->file, sizeof(im->shown[0].file));
		im->shown[im->nshown].line = line;
		im->nshown++;
	}
}

/* apply_all - applier: apply every batch in order until the reader is done */
static void
apply_all(struct import *im)
{
	struct batch *b;
	size_t i;

	for (;;) {
		pthread_mutex_lock(&im->mu);
		while ((b = queue_pop(&im->full)) == NULL && !im->done)
			pthread_cond_wait(&im->cv_full, &im->mu);
		pthread_mutex_unlock(&im->mu);
		if (b == NULL)
			return;
		for (i = 0; i < b->n; i++) {
			if (b->it[i].p.ev != NULL &&
			    store_apply(im->store, &b->it[i].p, NULL, 0) == 0)
				im->applied++;
			else
				reject_note(im, b, b->it[i].line);
		}
		progress(im, b);
		pthread_mutex_lock(&im->mu);
		queue_push(&im->free, b);
		pthread_cond_signal(&im->cv_free);
		pthread_mutex_unlock(&im->mu);
	}
}

/* run - start the reader, apply on this thread, and free the batches; 0, or -1 when the thread
 * could not start or memory ran out */
static int
run(struct import *im)
{
	struct batch *bs[IMPORT_BATCHES], *b;
	pthread_t reader;
	size_t i, k;
	int rc = -1;

	memset(bs, 0, sizeof(bs));
	for (k = 0; k < IMPORT_BATCHES; k++) {
		bs[k] = calloc(1, sizeof(*bs[k]));
		if (bs[k] == NULL) {
			fprintf(stderr, "relaytrap import: out of memory\n");
			goto out;
		}
		queue_push(&im->free, bs[k]);
	}
	if ((errno = pthread_create(&reader, NULL, reader_main, im)) != 0) {
		fprintf(stderr, "relaytrap import: starting the reader thread: %s\n",
		        strerror(errno));
		goto out;
	}
	apply_all(im);
	pthread_join(reader, NULL);
	rc = 0;
out:
	for (k = 0; k < IMPORT_BATCHES; k++) {
		b = bs[k];
		for (i = 0; b != NULL && i < b->n; i++)
			store_parsed_clear(&b->it[i].p);
		if (b != NULL)
			jarena_reset(&b->arena, true);
		free(b);
	}
	return rc;
}

/* summary - the closing report on stdout */
static void
summary(const struct import *im, int ninputs, double apply_cpu)
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
	/* Which side limits the rate: on an idle machine the larger of the two is the wall time. */
	printf("relaytrap import: CPU %.2f s reading and parsing, %.2f s applying\n", im->read_cpu,
	       apply_cpu);
	if (im->fresh)
		printf("relaytrap import: new database: loaded without journal under an exclusive "
		       "lock, indexes built at the end (%.1f s)\n",
		       (double)im->end_us / 1e6);
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
	char err[512], dbdir[PATH_MAX], *slash;
	double apply_cpu;
	int ch, rc = 0, verbose = 0;
	bool quiet = false;

	/* before any JSON value exists: jansson must free every block with the matching call */
	jarena_install();
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
	pthread_mutex_init(&im.mu, NULL);
	pthread_cond_init(&im.cv_full, NULL);
	pthread_cond_init(&im.cv_free, NULL);
	im.fresh = store_bulk_fresh(im.store);
	im.inputs = argv + optind;
	im.ninputs = argc - optind;
	im.t0 = now_mono_us();
	if (run(&im) < 0)
		rc = 1;
	if (im.rc != 0)
		rc = 1;
	im.end_t0 = now_mono_us();
	if (store_bulk_end(im.store) < 0) {
		fprintf(stderr, "relaytrap import: committing to the database failed%s\n",
		        im.fresh ? " (a new database loaded without journal: delete it and import "
		                   "again)"
		                 : "");
		rc = 1;
	}
	store_close(im.store);
	im.end_us = now_mono_us() - im.end_t0;
	apply_cpu = thread_cpu();
	summary(&im, argc - optind, apply_cpu);
	pthread_cond_destroy(&im.cv_free);
	pthread_cond_destroy(&im.cv_full);
	pthread_mutex_destroy(&im.mu);
	free(im.buf);
	config_free(&cfg);
	return rc;
}
