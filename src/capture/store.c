/* SPDX-License-Identifier: ISC */
/*
 * store - the storage process: events.jsonl, relaytrap.db (via store_db) and the
 * content-addressed body store (see store.h and docs/database.md).
 *
 * Owns: struct store: the JSONL stream and its buffer, the store_db handle, the table of open
 *       per-transaction temp bodies with their running SHA-256, the disk usage counter.
 * Public: store_open, store_event, store_parse, store_apply, store_parsed_clear, store_body,
 *         store_commit, store_bulk_fresh, store_bulk_end, store_reopen, store_close, store_run.
 * Limits: an event is at most FRAME_MAX bytes; at most STORE_BODIES_MAX bodies are open at once
 *         (chunks for more are dropped and logged); a body keeps at most store_body_max bytes
 *         (0 = no cap); bodies/ holds at most body_disk_budget bytes (0 = no cap).
 */
#include "capture/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "capture/bodyscan.h"
#include "capture/evparse.h"
#include "capture/frame.h"
#include "capture/jarena.h"
#include "capture/store_db.h"
#include "core/log.h"
#include "core/privsep.h"
#include "core/sandbox.h"
#include "core/str.h"
#include "core/util.h"

#define STORE_BODIES_MAX 1024
/* A body is kept in memory up to this size and written once, complete, when its message event
 * arrives; a larger one spills to a temp file. Most spam is far smaller. */
#define BODY_MEM_MAX (64u * 1024u)
/* In-memory bodies are appended to pack files (one write per batch instead of a file per body);
 * a pack is closed at this size and a new one started. */
#define PACK_MAX (256ull * 1024u * 1024u)
#define PACK_STDIO_BUF (256u * 1024u)
#define JSONL_STDIO_BUF (1u << 20)
#define JSON_OUT_INIT 4096
#define READ_SLACK (64u * 1024u)
#define ROTATE_TRIES 1000
#define WALK_DEPTH_MAX 4

struct body {
	char sid[33];
	uint32_t tx;
	unsigned char *mem; /* the bytes while in memory (NULL once spilled or dropped) */
	size_t memlen;
	int fd;               /* the temp file once spilled, else -1 */
	EVP_MD_CTX *md;       /* running SHA-256 of what was written */
	uint64_t written;     /* bytes in the temp file */
	uint64_t seen;        /* bytes received, kept or not */
	const char *dropped;  /* NULL, or why the body is not stored */
	struct bodyscan scan; /* body_text and parts, over every byte received */
	char tmp[PATH_MAX];
};

struct store {
	struct store_config cfg;
	struct evparse *evp; /* the sessions' repeated fields, parsed once (evparse.h) */
	struct jarena *ar;   /* store_run: each event's JSON values, dropped after it (else NULL) */
	struct jarena arena;
	int ack_fd;          /* store_run: the engine channel acknowledgements go to, else -1 */
	uint64_t stream_off; /* the engine's stream offset just past the last frame applied */
	uint64_t ack_off;    /* stream_off when it was last acknowledged */
	uint64_t jsonl_ino;  /* inode of the open events.jsonl */
	bool resumed;        /* started mid-stream: bodies begun before may arrive incomplete */
	bool failed;         /* a write or commit failed: this batch is not durable */
	bool low_disk;       /* free space under disk_min_free: bodies are not stored */
	char dir[PATH_MAX];
	/* bodies/ab/cd made since open: one bit per bucket saves two mkdir(2) per message */
	uint8_t buckets_made[65536 / 8];
	FILE *jsonl;
	char *jsonl_buf; /* stdio buffer of the JSONL stream */
	FILE *pack;      /* the pack file small bodies are appended to, opened on first use */
	char *pack_buf;
	char pack_rel[64]; /* its path under the data directory */
	uint64_t pack_off;
	uint64_t jsonl_bytes;
	char *out; /* serialised event, reused */
	size_t outcap;
	struct store_db *db;
	struct body *bodies[STORE_BODIES_MAX];
	size_t nbodies;
	uint64_t disk_used;
	uint64_t tmp_seq;
	unsigned pending;
	uint64_t batch_start_us;
};

static void store_ack(struct store *s);

static volatile sig_atomic_t got_hup;
static volatile sig_atomic_t got_term;

/* path_join - "dir/rel" into out; 0 or -1 when it does not fit */
static int
path_join(char *out, size_t outlen, const char *dir, const char *rel)
{
	int n = snprintf(out, outlen, "%s/%s", dir, rel);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* clean_tmp - remove temp bodies a previous run left behind; their message events are lost,
 * so nothing could ever finalize them */
static void
clean_tmp(const char *tmpdir)
{
	char p[PATH_MAX];
	struct dirent *de;
	unsigned removed = 0;
	DIR *d = opendir(tmpdir);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (path_join(p, sizeof(p), tmpdir, de->d_name) == 0 && unlink(p) == 0)
			removed++;
	}
	closedir(d);
	if (removed > 0)
		log_info("store: removed %u unfinished temp bodies", removed);
}

/* disk_usage - bytes in regular files under dir, bounded depth (bodies/ab/cd/x.eml) */
static uint64_t
disk_usage(const char *dir, int depth)
{
	char p[PATH_MAX];
	struct dirent *de;
	struct stat st;
	uint64_t sum = 0;
	DIR *d;

	if (depth > WALK_DEPTH_MAX || (d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || path_join(p, sizeof(p), dir, de->d_name) < 0)
			continue;
		if (lstat(p, &st) < 0)
			continue;
		if (S_ISREG(st.st_mode))
			sum += (uint64_t)st.st_size;
		else if (S_ISDIR(st.st_mode))
			sum += disk_usage(p, depth + 1);
	}
	closedir(d);
	return sum;
}

/* jsonl_end_line - a crash can leave events.jsonl ending inside a line; end that line, so the
 * next event starts a line of its own (the fragment stays, as a line import rejects) */
static void
jsonl_end_line(struct store *s, int fd)
{
	char last;

	if (s->jsonl_bytes == 0 || pread(fd, &last, 1, (off_t)s->jsonl_bytes - 1) != 1 ||
	    last == '\n')
		return;
	if (write(fd, "\n", 1) == 1) {
		s->jsonl_bytes++;
		log_warn(
		    "store: events.jsonl ended inside a line (a crash while writing); that line "
		    "is ended and kept as it is");
	}
}

/* jsonl_open - open events.jsonl for append with a big stdio buffer */
static int
jsonl_open(struct store *s)
{
	char p[PATH_MAX];
	struct stat st;
	int fd;

	if (path_join(p, sizeof(p), s->dir, "events.jsonl") < 0)
		return -1;
	/* O_RDWR only so that jsonl_end_line can look at the last byte */
	fd = open(p, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || (s->jsonl = fdopen(fd, "a")) == NULL) {
		close(fd);
		return -1;
	}
	/* One write(2) per megabyte instead of per event: this is what keeps 60k events/s cheap. */
	setvbuf(s->jsonl, s->jsonl_buf, _IOFBF, JSONL_STDIO_BUF);
	s->jsonl_bytes = (uint64_t)st.st_size;
	s->jsonl_ino = (uint64_t)st.st_ino;
	jsonl_end_line(s, fd);
	return 0;
}

/* jsonl_close - flush and close the JSONL stream; -1 if buffered lines could not be written */
static int
jsonl_close(struct store *s)
{
	int rc = 0;

	if (s->jsonl == NULL)
		return 0;
	if (fclose(s->jsonl) != 0) {
		log_err("store: closing events.jsonl: %s", strerror(errno));
		rc = -1;
	}
	s->jsonl = NULL;
	return rc;
}

/* jsonl_rotate - rename events.jsonl to events-<UTC time>.jsonl and start a new one */
static int
jsonl_rotate(struct store *s)
{
	char cur[PATH_MAX], name[64], dst[PATH_MAX];
	time_t now = (time_t)(now_real_us() / 1000000u);
	struct stat st;
	struct tm tm;
	int i, n;

	jsonl_close(s);
	gmtime_r(&now, &tm);
	if (path_join(cur, sizeof(cur), s->dir, "events.jsonl") < 0)
		return -1;
	/* Never overwrite an older rotation: two in the same second get a counter. */
	for (i = 0; i < ROTATE_TRIES; i++) {
		n = (int)strftime(name, sizeof(name), "events-%Y%m%dT%H%M%SZ", &tm);
		if (i > 0)
			snprintf(name + n, sizeof(name) - (size_t)n, "-%d", i);
		strlcat(name, ".jsonl", sizeof(name));
		if (path_join(dst, sizeof(dst), s->dir, name) < 0)
			return -1;
		if (stat(dst, &st) < 0 && errno == ENOENT)
			break;
	}
	if (i == ROTATE_TRIES || rename(cur, dst) < 0)
		log_err("store: rotating events.jsonl failed, appending on: %s", strerror(errno));
	else
		log_info("store: rotated events.jsonl to %s", name);
	if (jsonl_open(s) < 0) {
		log_err("store: reopening events.jsonl: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* jsonl_serialise - compact JSON of ev into s->out (grown as needed); 0 with *len, or -1 */
static int
jsonl_serialise(struct store *s, json_t *ev, size_t *len)
{
	size_t n = json_dumpb(ev, s->out, s->outcap, JSON_COMPACT);
	char *p;

	if (n == 0)
		return -1;
	if (n > s->outcap) {
		p = realloc(s->out, n);
		if (p == NULL)
			return -1;
		s->out = p;
		s->outcap = n;
		if (json_dumpb(ev, s->out, s->outcap, JSON_COMPACT) != n)
			return -1;
	}
	*len = n;
	return 0;
}

/* jsonl_write - write the event as one line. The input text was parsed strictly, so when the
 * store did not change the event and the text holds no line break it is written as received;
 * otherwise it is serialised again, compactly. Skipping the re-serialisation is most of the
 * JSONL cost at full load. */
static int
jsonl_write(struct store *s, json_t *ev, const char *raw, size_t rawlen)
{
	const char *line = raw;
	size_t n = rawlen;

	if (s->jsonl == NULL)
		return 0;
	if (raw == NULL || memchr(raw, '\n', rawlen) != NULL || memchr(raw, '\r', rawlen) != NULL) {
		if (jsonl_serialise(s, ev, &n) < 0)
			return -1;
		line = s->out;
	}
	if (fwrite(line, 1, n, s->jsonl) != n || putc('\n', s->jsonl) == EOF) {
		log_err("store: writing events.jsonl: %s", strerror(errno));
		s->failed = true;
		return -1;
	}
	s->jsonl_bytes += n + 1;
	return 0;
}

/* The members message_body may add, remove or replace in a relaytrap.message event. */
static const char *const store_owned[] = {"sha256",       "body_path", "body_offset",   "body_len",
                                          "body_dropped", "body_text", "body_text_b64", "parts"};

/* owns_none - ev has none of the members the store sets on a message */
static bool
owns_none(json_t *ev)
{
	for (size_t i = 0; i < ARRAY_LEN(store_owned); i++)
		if (json_object_get(ev, store_owned[i]) != NULL)
			return false;
	return true;
}

/* jsonl_write_added - a message event whose text had n0 members, to which the store only
 * added members (owns_none held before): the text as received up to its closing brace, then
 * the added members, serialised; the same object as serialising it all, at a fraction of
 * the cost (json_dumpb of every message event was 7% of the store) */
static int
jsonl_write_added(struct store *s, json_t *ev, size_t n0, const char *raw, size_t rawlen)
{
	size_t i = 0, n, end = rawlen;
	const char *key;
	json_t *v;

	while (end > 0 && strchr(" \t\r\n", raw[end - 1]) != NULL)
		end--;
	if (s->jsonl == NULL)
		return 0;
	if (n0 == 0 || end == 0 || raw[end - 1] != '}' || memchr(raw, '\n', rawlen) != NULL ||
	    memchr(raw, '\r', rawlen) != NULL)
		return jsonl_write(s, ev, NULL, 0);
	if (fwrite(raw, 1, end - 1, s->jsonl) != end - 1)
		goto fail;
	s->jsonl_bytes += end - 1;
	json_object_foreach(ev, key, v)
	{
		if (i++ < n0)
			continue;
		/* a key needs no escaping: the store's own names */
		if (fprintf(s->jsonl, ",\"%s\":", key) < 0)
			goto fail;
		n = json_dumpb(v, s->out, s->outcap, JSON_COMPACT | JSON_ENCODE_ANY);
		if (n > s->outcap) {
			char *p = realloc(s->out, n);
			if (p == NULL)
				goto fail;
			s->out = p;
			s->outcap = n;
			n = json_dumpb(v, s->out, s->outcap, JSON_COMPACT | JSON_ENCODE_ANY);
		}
		if (n == 0 || fwrite(s->out, 1, n, s->jsonl) != n)
			goto fail;
		s->jsonl_bytes += strlen(key) + 4 + n;
	}
	if (fputs("}\n", s->jsonl) == EOF)
		goto fail;
	s->jsonl_bytes += 2;
	return 0;
fail:
	log_err("store: writing events.jsonl: %s", strerror(errno));
	s->failed = true;
	return -1;
}

/* sid_valid - 1..32 lower-case hex characters, like the ids in BODY frames */
static bool
sid_valid(const char *sid)
{
	size_t i, n = strnlen(sid, 33);

	if (n == 0 || n > 32)
		return false;
	for (i = 0; i < n; i++) {
		if (!((sid[i] >= '0' && sid[i] <= '9') || (sid[i] >= 'a' && sid[i] <= 'f')))
			return false;
	}
	return true;
}

/* body_find - index of the open body of (sid, tx), or -1 */
static long
body_find(const struct store *s, const char *sid, uint32_t tx)
{
	size_t i;

	for (i = 0; i < s->nbodies; i++) {
		if (s->bodies[i]->tx == tx && strcmp(s->bodies[i]->sid, sid) == 0)
			return (long)i;
	}
	return -1;
}

/* body_drop_file - close and remove the temp file; its bytes no longer count */
static void
body_drop_file(struct store *s, struct body *b)
{
	free(b->mem);
	b->mem = NULL;
	b->memlen = 0;
	if (b->fd >= 0) {
		close(b->fd);
		b->fd = -1;
		if (unlink(b->tmp) < 0)
			log_warn("store: removing %s: %s", b->tmp, strerror(errno));
	}
	s->disk_used -= b->written < s->disk_used ? b->written : s->disk_used;
	b->written = 0;
}

/* body_take - remove entry i from the table (order does not matter) and return it */
static struct body *
body_take(struct store *s, size_t i)
{
	struct body *b = s->bodies[i];

	s->bodies[i] = s->bodies[--s->nbodies];
	return b;
}

/* body_free - drop the temp file if any and free; NULL is a no-op */
static void
body_free(struct store *s, struct body *b)
{
	if (b == NULL)
		return;
	body_drop_file(s, b);
	EVP_MD_CTX_free(b->md);
	free(b);
}

/* body_new - a body for (sid, tx), in memory at first, or a dropped placeholder when over the
 * budget */
static struct body *
body_new(struct store *s, const char *sid, uint32_t tx)
{
	struct body *b;

	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	strlcpy(b->sid, sid, sizeof(b->sid));
	b->tx = tx;
	b->fd = -1;
	bodyscan_init(&b->scan);
	if (s->cfg.body_disk_budget > 0 && s->disk_used >= s->cfg.body_disk_budget) {
		b->dropped = "disk_budget";
		return b;
	}
	if (s->low_disk) {
		b->dropped = "disk_full";
		return b;
	}
	b->mem = malloc(BODY_MEM_MAX);
	b->md = EVP_MD_CTX_new();
	if (b->mem == NULL || b->md == NULL || EVP_DigestInit_ex(b->md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(b->md);
		free(b->mem);
		free(b);
		return NULL;
	}
	return b;
}

/* write_all - write len bytes, retrying short writes and EINTR */
static int
write_all(int fd, const unsigned char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* body_spill - move an in-memory body that outgrew BODY_MEM_MAX to a temp file; 0 or -1 */
static int
body_spill(struct store *s, struct body *b)
{
	char rel[96];

	snprintf(rel, sizeof(rel), "bodies/tmp/%s.%u.%llu.tmp", b->sid, b->tx,
	         (unsigned long long)s->tmp_seq++);
	if (path_join(b->tmp, sizeof(b->tmp), s->dir, rel) < 0)
		return -1;
	b->fd = open(b->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (b->fd < 0) {
		log_err("store: creating %s: %s", b->tmp, strerror(errno));
		return -1;
	}
	if (write_all(b->fd, b->mem, b->memlen) < 0) {
		log_err("store: writing %s: %s", b->tmp, strerror(errno));
		return -1;
	}
	free(b->mem);
	b->mem = NULL;
	b->memlen = 0;
	return 0;
}

/* body_append - add kept bytes to memory or the temp file; 0 or -1 */
static int
body_append(struct store *s, struct body *b, const void *data, size_t len)
{
	if (b->mem != NULL && b->memlen + len > BODY_MEM_MAX && body_spill(s, b) < 0)
		return -1;
	if (b->mem != NULL) {
		memcpy(b->mem + b->memlen, data, len);
		b->memlen += len;
		return 0;
	}
	if (write_all(b->fd, data, len) < 0) {
		log_err("store: writing %s: %s", b->tmp, strerror(errno));
		return -1;
	}
	return 0;
}

/* store_body - append a chunk to the (session, tx) temp body, within the caps */
int
store_body(struct store *s, const char *session, uint32_t tx, const void *data, size_t len)
{
	struct body *b;
	uint64_t keep;
	long i;

	if (!s->cfg.store_bodies)
		return 0;
	/* The id becomes part of a temp file name: only the hex ids the engine generates. */
	if (!sid_valid(session)) {
		log_warn("store: body chunk for an invalid session id dropped");
		return -1;
	}
	i = body_find(s, session, tx);
	if (i >= 0) {
		b = s->bodies[i];
	} else {
		if (s->nbodies == STORE_BODIES_MAX) {
			log_warn("store: too many open bodies (%d), dropping session=%s tx=%u",
			         STORE_BODIES_MAX, session, tx);
			return -1;
		}
		b = body_new(s, session, tx);
		if (b == NULL)
			return -1;
		s->bodies[s->nbodies++] = b;
	}
	b->seen += len;
	bodyscan_feed(&b->scan, data, len);
	if (b->dropped != NULL)
		return 0;
	keep = len;
	if (s->cfg.store_body_max > 0 && b->written + keep > s->cfg.store_body_max)
		keep = s->cfg.store_body_max - b->written;
	if (keep == 0)
		return 0;
	if (s->low_disk) {
		body_drop_file(s, b);
		b->dropped = "disk_full";
		return 0;
	}
	if (s->cfg.body_disk_budget > 0 && s->disk_used + keep > s->cfg.body_disk_budget) {
		/* A body cut by the budget is not what the attacker sent: keep none of it. */
		body_drop_file(s, b);
		b->dropped = "disk_budget";
		log_warn("store: body_disk_budget reached, not storing session=%s tx=%u", b->sid,
		         tx);
		return 0;
	}
	if (body_append(s, b, data, (size_t)keep) < 0 ||
	    EVP_DigestUpdate(b->md, data, (size_t)keep) != 1) {
		body_drop_file(s, b);
		b->dropped = "write_error";
		return -1;
	}
	b->written += keep;
	s->disk_used += keep;
	return 0;
}

/* body_path_for - "bodies/ab/cd/<hex>.eml" for a digest */
static void
body_path_for(const char *hex, char *out, size_t outlen)
{
	snprintf(out, outlen, "bodies/%.2s/%.2s/%s.eml", hex, hex + 2, hex);
}

/* body_move_tmp - give a spilled body's temp file its content address dst. link(2) never
 * replaces an existing file, so an identical body already stored wins and the temp is dropped;
 * rename is the fallback where hard links are not supported. 0 or -1. */
static int
body_move_tmp(struct store *s, struct body *b, const char *dst)
{
	/* A message event must never name a body that a power loss could leave empty. */
	if (s->cfg.fsync && fdatasync(b->fd) < 0)
		log_warn("store: fdatasync %s: %s", b->tmp, strerror(errno));
	close(b->fd);
	b->fd = -1;
	if (link(b->tmp, dst) == 0) {
		unlink(b->tmp);
	} else if (errno == EEXIST || access(dst, F_OK) == 0) {
		s->disk_used -= b->written;
		unlink(b->tmp);
	} else if (rename(b->tmp, dst) < 0) {
		/* body_free subtracts the bytes still counted in b->written. */
		log_err("store: moving %s: %s", b->tmp, strerror(errno));
		unlink(b->tmp);
		return -1;
	}
	return 0;
}

/* pack_close - flush and close the current pack; -1 if buffered bytes could not be written */
static int
pack_close(struct store *s)
{
	int rc = 0;

	if (s->pack == NULL)
		return 0;
	if (fclose(s->pack) != 0) {
		log_err("store: closing %s: %s", s->pack_rel, strerror(errno));
		rc = -1;
	}
	s->pack = NULL;
	return rc;
}

/* pack_open - start a new pack, bodies/pack/<UTC time>[-n].pack; never reuses a file, so a
 * record cut short by a crash stays at the end of an old pack */
static int
pack_open(struct store *s)
{
	char dir[PATH_MAX], p[PATH_MAX], stamp[32];
	time_t now = (time_t)(now_real_us() / 1000000u);
	struct tm tm;
	int fd = -1, i;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	if (path_join(dir, sizeof(dir), s->dir, "bodies/pack") < 0 ||
	    (mkdir(dir, 0750) < 0 && errno != EEXIST))
		return -1;
	for (i = 0; i < ROTATE_TRIES && fd < 0; i++) {
		if (i == 0)
			snprintf(s->pack_rel, sizeof(s->pack_rel), "bodies/pack/%s.pack", stamp);
		else
			snprintf(s->pack_rel, sizeof(s->pack_rel), "bodies/pack/%s-%d.pack", stamp,
			         i);
		if (path_join(p, sizeof(p), s->dir, s->pack_rel) < 0)
			return -1;
		fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0 || (s->pack = fdopen(fd, "a")) == NULL) {
		log_err("store: creating a pack file: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setvbuf(s->pack, s->pack_buf, _IOFBF, PACK_STDIO_BUF);
	s->pack_off = 0;
	return 0;
}

/* body_pack - store an in-memory body in a pack: a record "RTB1 <sha256> <len>\n<bytes>\n" that
 * anyone can walk without the database, or nothing when the same body is packed already. Sets
 * sha256, body_path, body_offset (of the bytes) and body_len in the event. 0 or -1. */
static int
body_pack(struct store *s, struct body *b, const char *hex, json_t *ev)
{
	char path[128], hdr[96];
	int64_t off = 0;
	int hlen, found;

	found = store_db_body_find(s->db, hex, path, sizeof(path), &off);
	if (found == 1) {
		s->disk_used -= b->written;
	} else {
		if (s->pack != NULL && s->pack_off >= PACK_MAX)
			pack_close(s);
		if (s->pack == NULL && pack_open(s) < 0)
			return -1;
		hlen = snprintf(hdr, sizeof(hdr), "RTB1 %s %zu\n", hex, b->memlen);
		if (fwrite(hdr, 1, (size_t)hlen, s->pack) != (size_t)hlen ||
		    fwrite(b->mem, 1, b->memlen, s->pack) != b->memlen ||
		    putc('\n', s->pack) == EOF) {
			log_err("store: writing %s: %s", s->pack_rel, strerror(errno));
			return -1;
		}
		off = (int64_t)s->pack_off + hlen;
		/* disk_used counts body bytes only (the ~80 bytes of each record header are
		 * counted when a restart walks bodies/, so the budget only errs on the safe side).
		 */
		s->pack_off += (uint64_t)hlen + b->memlen + 1;
		strlcpy(path, s->pack_rel, sizeof(path));
	}
	b->written = 0;
	json_object_set_new(ev, "sha256", json_string(hex));
	json_object_set_new(ev, "body_path", json_string(path));
	json_object_set_new(ev, "body_offset", json_integer(off));
	json_object_set_new(ev, "body_len", json_integer((json_int_t)b->memlen));
	json_object_del(ev, "body_dropped");
	return 0;
}

/* body_finalize - hash, move the temp to its content address (or drop it as a duplicate) and
 * record sha256 and body_path in the event */
static int
body_finalize(struct store *s, struct body *b, json_t *ev)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1], rel[PATH_MAX], dst[PATH_MAX], dir[PATH_MAX];
	unsigned mdlen = 0;
	int lrc;

	if (EVP_DigestFinal_ex(b->md, md, &mdlen) != 1 || mdlen != 32)
		return -1;
	hex_encode(md, mdlen, hex, sizeof(hex));
	if (b->mem != NULL)
		return body_pack(s, b, hex, ev);
	unsigned bucket = (unsigned)md[0] << 8 | md[1];
	if (!(s->buckets_made[bucket >> 3] & (1u << (bucket & 7)))) {
		snprintf(rel, sizeof(rel), "bodies/%.2s", hex);
		if (path_join(dir, sizeof(dir), s->dir, rel) < 0 ||
		    (mkdir(dir, 0750) < 0 && errno != EEXIST))
			return -1;
		snprintf(rel, sizeof(rel), "bodies/%.2s/%.2s", hex, hex + 2);
		if (path_join(dir, sizeof(dir), s->dir, rel) < 0 ||
		    (mkdir(dir, 0750) < 0 && errno != EEXIST))
			return -1;
		s->buckets_made[bucket >> 3] |= (uint8_t)(1u << (bucket & 7));
	}
	body_path_for(hex, rel, sizeof(rel));
	if (path_join(dst, sizeof(dst), s->dir, rel) < 0)
		return -1;
	lrc = body_move_tmp(s, b, dst);
	if (lrc < 0)
		return -1;
	b->written = 0;
	json_object_set_new(ev, "sha256", json_string(hex));
	json_object_set_new(ev, "body_path", json_string(rel));
	json_object_del(ev, "body_dropped");
	return 0;
}

/* hex64 - a lower-case SHA-256 hex digest */
static int
hex64(const char *h)
{
	size_t i;

	for (i = 0; i < 64; i++) {
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return 0;
	}
	return h[64] == '\0';
}

/* json_set_bytes - key = bytes as docs/events.md describes attacker bytes: a string, plus
 * key_b64 with the exact bytes when they are not valid UTF-8 (each invalid byte → U+FFFD) */
static void
json_set_bytes(json_t *ev, const char *key, const char *buf, size_t len)
{
	char k2[64], *b64, *fixed;
	size_t o;

	if (utf8_valid(buf, len)) {
		json_object_set_new(ev, key, json_stringn(buf, len));
		return;
	}
	fixed = malloc(len * 3 + 1);
	b64 = malloc((len + 2) / 3 * 4 + 1);
	if (fixed == NULL || b64 == NULL)
		goto out;
	o = utf8_repair(buf, len, fixed);
	if (b64_encode((const unsigned char *)buf, len, b64, (len + 2) / 3 * 4 + 1) < 0)
		goto out;
	snprintf(k2, sizeof(k2), "%s_b64", key);
	json_object_set_new(ev, key, json_stringn(fixed, o));
	json_object_set_new(ev, k2, json_string(b64));
out:
	free(fixed);
	free(b64);
}

/* message_scan - body_text and parts of the message, from what the store received */
static void
message_scan(json_t *ev, struct bodyscan *bs)
{
	json_t *parts, *p;
	size_t i;

	bodyscan_finish(bs);
	json_set_bytes(ev, "body_text", bs->text, bs->text_len);
	parts = json_array();
	for (i = 0; i < bs->nparts; i++) {
		p = json_object();
		json_object_set_new(p, "type", json_string(bs->parts[i].type));
		if (bs->parts[i].filename[0] != '\0')
			json_set_bytes(p, "filename", bs->parts[i].filename,
			               strlen(bs->parts[i].filename));
		json_array_append_new(parts, p);
	}
	json_object_set_new(ev, "parts", parts);
}

/* pack_path_valid - "bodies/pack/" + [0-9A-Z-]+ + ".pack", as pack_open names them */
static bool
pack_path_valid(const char *p)
{
	size_t n, i;

	if (strncmp(p, "bodies/pack/", 12) != 0)
		return false;
	p += 12;
	n = strlen(p);
	if (n < 6 || n > 40 || strcmp(p + n - 5, ".pack") != 0)
		return false;
	for (i = 0; i < n - 5; i++) {
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'A' && p[i] <= 'Z') || p[i] == '-'))
			return false;
	}
	return true;
}

/* body_fields_del - remove every field through which a message names its stored body */
static void
body_fields_del(json_t *ev)
{
	json_object_del(ev, "sha256");
	json_object_del(ev, "body_path");
	json_object_del(ev, "body_offset");
	json_object_del(ev, "body_len");
}

/* message_body - attach the stored body to a relaytrap.message event. Without an open body the
 * event is a re-import or carries its own claims: sha256/body_path are kept only when they
 * describe a well-formed content address, so an engine cannot point readers at other files. */
static void
message_body(struct store *s, json_t *ev, const char *sid, uint32_t tx)
{
	const char *h = json_string_value(json_object_get(ev, "sha256"));
	const char *bp = json_string_value(json_object_get(ev, "body_path"));
	char want[128];
	struct body *b;
	long i;

	i = body_find(s, sid, tx);
	if (i < 0) {
		if (h == NULL && bp == NULL) {
			/* The engine sent body bytes this process never saw: they went to a store
			 * that died, or the engine dropped them under backlog. */
			if (s->ack_fd >= 0 && s->cfg.store_bodies &&
			    json_integer_value(json_object_get(ev, "stored")) > 0)
				json_object_set_new(ev, "body_dropped", json_string("incomplete"));
			return;
		}
		if (h != NULL && bp != NULL && hex64(h)) {
			body_path_for(h, want, sizeof(want));
			if (strcmp(want, bp) == 0 && json_object_get(ev, "body_offset") == NULL)
				return;
			if (pack_path_valid(bp) &&
			    json_integer_value(json_object_get(ev, "body_offset")) > 0 &&
			    json_is_integer(json_object_get(ev, "body_len")) &&
			    json_integer_value(json_object_get(ev, "body_len")) >= 0)
				return;
		}
		log_warn("store: session=%s tx=%u message names a body it does not have", sid, tx);
		body_fields_del(ev);
		return;
	}
	b = body_take(s, (size_t)i);
	body_fields_del(ev);
	json_object_del(ev, "body_text");
	json_object_del(ev, "body_text_b64");
	json_object_del(ev, "parts");
	message_scan(ev, &b->scan);
	/* A body that began before this store process started (or lost chunks the engine
	 * dropped) is not what the attacker sent: keep none of it. */
	if (b->dropped == NULL && json_is_integer(json_object_get(ev, "stored")) &&
	    (uint64_t)json_integer_value(json_object_get(ev, "stored")) > b->seen)
		b->dropped = "incomplete";
	if (b->dropped == NULL && s->low_disk)
		b->dropped = "disk_full";
	if (b->dropped != NULL) {
		json_object_set_new(ev, "body_dropped", json_string(b->dropped));
	} else if (b->written > 0 && body_finalize(s, b, ev) < 0) {
		log_err("store: storing body session=%s tx=%u failed", sid, tx);
		body_fields_del(ev);
		json_object_set_new(ev, "body_dropped", json_string("write_error"));
	}
	body_free(s, b);
}

/* session_bodies_discard - a closed session's unfinished bodies can never complete */
static void
session_bodies_discard(struct store *s, const char *sid)
{
	size_t i = 0;

	while (i < s->nbodies) {
		if (strcmp(s->bodies[i]->sid, sid) == 0)
			body_free(s, body_take(s, i));
		else
			i++;
	}
}

/* store_parse - parse and check one event; touches nothing but p, so it may run on another
 * thread than the store's */
int
store_parse(struct store_parsed *p, const char *json, size_t len)
{
	return store_parse_cached(NULL, p, json, len);
}

int
store_parse_cached(struct evparse *c, struct store_parsed *p, const char *json, size_t len)
{
	char why[160], esc[256];
	json_error_t jerr;

	p->ev = NULL;
	p->valid = false;
	p->info.enr_full = p->info.enr_stable = NULL;
	memset(p->info.enr_parts, 0, sizeof(p->info.enr_parts));
	if (len > FRAME_MAX) {
		log_warn("store: event of %zu bytes refused (max %u)", len, FRAME_MAX);
		return -1;
	}
	/* Events carry \u0000 for NUL bytes the attacker sent, so NUL must be allowed. */
	p->ev = evparse_load(c, json, len, &jerr);
	if (p->ev == NULL) {
		log_warn("store: malformed event refused: %s",
		         str_escape_log(jerr.text, strlen(jerr.text), esc, sizeof(esc)));
		return -1;
	}
	if (!json_is_object(p->ev)) {
		log_warn("store: event is not a JSON object, refused");
		store_parsed_clear(p);
		return -1;
	}
	if (store_db_check(p->ev, &p->info, why, sizeof(why)) < 0) {
		/* Kept in the log of record so nothing the engine saw is lost, but not in SQLite.
		 */
		log_warn("store: invalid event kept in JSONL only: %s",
		         str_escape_log(why, strlen(why), esc, sizeof(esc)));
		return 0;
	}
	p->valid = true;
	evparse_learn(c, json, len, p->ev);
	return 0;
}

/* store_parsed_clear - release the parsed event; a cleared or never-filled one is a no-op */
void
store_parsed_clear(struct store_parsed *p)
{
	json_decref(p->ev);
	p->ev = NULL;
	p->valid = false;
	store_db_ev_clear(&p->info);
}

/* store_apply - attach bodies, write to the JSONL and apply to SQLite within the batch */
int
store_apply(struct store *s, struct store_parsed *p, const char *json, size_t len)
{
	json_t *ev = p->ev, *tx;
	bool modified = false, added_only = false;
	size_t n0 = 0;
	int rc = -1;

	if (ev == NULL)
		return -1;
	if (!p->valid) {
		jsonl_write(s, ev, json, len);
		goto counted;
	}
	if (strcmp(p->info.eventid, "relaytrap.message") == 0) {
		/* The store adds or removes sha256, body_path and body_dropped here. */
		modified = true;
		added_only = owns_none(ev);
		n0 = json_object_size(ev);
		tx = json_object_get(ev, "tx");
		message_body(s, ev, p->info.session, (uint32_t)json_integer_value(tx));
	} else if (strcmp(p->info.eventid, "relaytrap.session.closed") == 0) {
		session_bodies_discard(s, p->info.session);
	}
	rc = 0;
	if (added_only ? jsonl_write_added(s, ev, n0, json, len) < 0
	               : jsonl_write(s, ev, modified ? NULL : json, len) < 0)
		rc = -1;
	/* The message's info points into ev, which the caller keeps until it clears p. */
	if (store_db_apply(s->db, ev, &p->info) < 0) {
		rc = -1;
		if (store_db_failed(s->db))
			s->failed = true;
	}
counted:
	/* store_run starts the batch clock at the frame (stream_off moved); import here */
	if (s->pending++ == 0 && s->stream_off == s->ack_off)
		s->batch_start_us = now_mono_us();
	/* Rotation happens between two commits, so an acknowledgement always names one file. */
	if (s->cfg.jsonl_rotate_bytes > 0 && s->jsonl != NULL &&
	    s->jsonl_bytes >= s->cfg.jsonl_rotate_bytes) {
		if (store_commit(s) == 0 && jsonl_rotate(s) == 0)
			store_ack(s);
	} else if (s->pending >= (s->cfg.bulk ? STORE_BULK_EVENTS : STORE_BATCH_EVENTS)) {
		store_commit(s);
	}
	return rc;
}

/* store_event - parse, validate, write to the JSONL and apply to SQLite within the batch */
int
store_event(struct store *s, const char *json, size_t len)
{
	struct store_parsed p;
	struct jarena *old = s->ar != NULL ? jarena_use(s->ar) : NULL;
	int rc = -1;

	if (store_parse_cached(s->evp, &p, json, len) == 0) {
		rc = store_apply(s, &p, json, len);
		store_parsed_clear(&p);
	}
	if (s->ar != NULL) {
		jarena_use(old);
		jarena_reset(s->ar, false);
	}
	return rc;
}

/* store_ack - tell the engine everything up to stream_off is committed (and where
 * events.jsonl ends at that point). A blocking write of 29 bytes: the engine always reads, and
 * a dead engine makes it fail at once (EPIPE), which changes nothing here. */
static void
store_ack(struct store *s)
{
	unsigned char f[FRAME_HDR + FRAME_ACK_LEN];

	if (s->ack_fd < 0)
		return;
	frame_header(f, FRAME_ACK, FRAME_ACK_LEN);
	frame_put_u64(f + FRAME_HDR, s->stream_off);
	frame_put_u64(f + FRAME_HDR + 8, s->jsonl_ino);
	frame_put_u64(f + FRAME_HDR + 16, s->jsonl_bytes);
	if (write_all(s->ack_fd, f, sizeof(f)) < 0 && errno != EPIPE)
		log_warn("store: acknowledging to the engine: %s", strerror(errno));
	s->ack_off = s->stream_off;
}

/* uncommitted - events, or frames of any kind (body chunks), not yet acknowledged */
static bool
uncommitted(const struct store *s)
{
	return s->pending > 0 || s->stream_off != s->ack_off;
}

/* disk_check - free space against disk_min_free: below it bodies are no longer stored (events
 * still are); they are again once a quarter more than the minimum is free. Logged both ways. */
static void
disk_check(struct store *s)
{
	struct statvfs vf;
	uint64_t avail;

	/* fstatvfs on the open log: the store's seccomp filter allows fstatfs, not statfs */
	if (s->cfg.disk_min_free == 0 || s->jsonl == NULL || fstatvfs(fileno(s->jsonl), &vf) < 0)
		return;
	avail = (uint64_t)vf.f_bavail * (uint64_t)vf.f_frsize;
	if (!s->low_disk && avail < s->cfg.disk_min_free) {
		s->low_disk = true;
		log_warn("store: %llu bytes free under %s, less than disk_min_free (%llu): message "
		         "bodies are not stored (body_dropped=disk_full) until space returns",
		         (unsigned long long)avail, s->dir,
		         (unsigned long long)s->cfg.disk_min_free);
	} else if (s->low_disk && avail >= s->cfg.disk_min_free + s->cfg.disk_min_free / 4) {
		s->low_disk = false;
		log_info("store: %llu bytes free again under %s: storing message bodies again",
		         (unsigned long long)avail, s->dir);
	}
}

/* sync_file - with fsync = yes, make a flushed stream durable; 0 or -1 */
static int
sync_file(struct store *s, FILE *f, const char *what)
{
	if (!s->cfg.fsync || fdatasync(fileno(f)) == 0)
		return 0;
	log_err("store: fdatasync %s: %s", what, strerror(errno));
	return -1;
}

/* store_commit - make the batch durable in order: body packs, then events.jsonl (the log of
 * record), each flushed and (fsync = yes) fdatasync'ed, then COMMIT SQLite; only then tell the
 * engine it may forget the batch. -1 when any step failed: nothing is acknowledged, and the
 * process should exit so that a new store receives the batch again (store_run does). */
int
store_commit(struct store *s)
{
	int rc = 0;

	if (s->pack != NULL && (fflush(s->pack) != 0 || sync_file(s, s->pack, s->pack_rel) < 0)) {
		log_err("store: flushing %s: %s", s->pack_rel, strerror(errno));
		rc = -1;
	}
	if (s->jsonl != NULL &&
	    (fflush(s->jsonl) != 0 || sync_file(s, s->jsonl, "events.jsonl") < 0)) {
		log_err("store: flushing events.jsonl: %s", strerror(errno));
		rc = -1;
	}
	if (store_db_commit(s->db) < 0)
		rc = -1;
	s->pending = 0;
	if (rc < 0 || s->failed) {
		s->failed = true;
		return -1;
	}
	disk_check(s);
	store_ack(s);
	return 0;
}

/* store_bulk_fresh - whether a bulk store loads a new database with the fresh-load shortcuts */
bool
store_bulk_fresh(const struct store *s)
{
	return store_db_bulk_fresh(s->db);
}

/* store_bulk_end - commit, and end a fresh load (indexes built, WAL back on) */
int
store_bulk_end(struct store *s)
{
	int rc = store_commit(s);

	if (store_db_bulk_end(s->db) < 0)
		rc = -1;
	return rc;
}

/* store_reopen - reopen events.jsonl, e.g. after an outside tool moved it */
int
store_reopen(struct store *s)
{
	if (!s->cfg.write_jsonl)
		return 0;
	/* commit first, so that the acknowledged JSONL size belongs to the file being left */
	if (store_commit(s) < 0)
		return -1;
	jsonl_close(s);
	if (jsonl_open(s) < 0) {
		log_err("store: reopening events.jsonl: %s", strerror(errno));
		s->failed = true;
		return -1;
	}
	store_ack(s);
	return 0;
}

/* store_open - create the data directory layout and open JSONL, database and body store */
struct store *
store_open(const struct store_config *cfg, char *err, size_t errlen)
{
	char p[PATH_MAX];
	struct store *s;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->cfg = *cfg;
	s->ack_fd = -1;
	if (cfg->data_dir == NULL ||
	    strlcpy(s->dir, cfg->data_dir, sizeof(s->dir)) >= sizeof(s->dir)) {
		snprintf(err, errlen, "data_dir missing or too long");
		goto fail;
	}
	s->cfg.data_dir = s->dir;
	s->cfg.db_path = NULL;
	if (mkdir_p(s->dir) < 0) {
		snprintf(err, errlen, "%s: cannot create: %s", s->dir, strerror(errno));
		goto fail;
	}
	/* Without bodies (import) the body store is left alone: its temp files may belong to a
	 * running store process. */
	if (cfg->store_bodies) {
		if (path_join(p, sizeof(p), s->dir, "bodies/tmp") < 0 || mkdir_p(p) < 0) {
			snprintf(err, errlen, "%s: cannot create: %s", s->dir, strerror(errno));
			goto fail;
		}
		clean_tmp(p);
		if (path_join(p, sizeof(p), s->dir, "bodies") < 0)
			goto fail;
		s->disk_used = disk_usage(p, 0);
	}
	s->outcap = JSON_OUT_INIT;
	s->out = malloc(s->outcap);
	s->jsonl_buf = malloc(JSONL_STDIO_BUF);
	s->pack_buf = malloc(PACK_STDIO_BUF);
	s->evp = evparse_new();
	if (s->out == NULL || s->jsonl_buf == NULL || s->pack_buf == NULL || s->evp == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (cfg->write_jsonl && jsonl_open(s) < 0) {
		snprintf(err, errlen, "%s/events.jsonl: %s", s->dir, strerror(errno));
		goto fail;
	}
	if (cfg->db_path != NULL) {
		if (strlcpy(p, cfg->db_path, sizeof(p)) >= sizeof(p)) {
			snprintf(err, errlen, "database path too long");
			goto fail;
		}
	} else if (path_join(p, sizeof(p), s->dir, "relaytrap.db") < 0) {
		snprintf(err, errlen, "data_dir too long");
		goto fail;
	}
	s->db = store_db_open(p, err, errlen);
	if (s->db == NULL)
		goto fail;
	disk_check(s);
	if (cfg->bulk && store_db_bulk(s->db) < 0) {
		snprintf(err, errlen, "%s: cannot apply the bulk settings", p);
		goto fail;
	}
	return s;
fail:
	store_close(s);
	return NULL;
}

/* store_close - commit, drop unfinished bodies, close everything; NULL is a no-op */
void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->db != NULL && !s->failed)
		store_commit(s);
	while (s->nbodies > 0)
		body_free(s, body_take(s, 0));
	pack_close(s);
	jsonl_close(s);
	store_db_close(s->db);
	free(s->pack_buf);
	free(s->jsonl_buf);
	free(s->out);
	evparse_free(s->evp);
	jarena_reset(&s->arena, true);
	free(s);
}

/* on_signal - only set flags; the loop acts on them */
static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGTERM)
		got_term = 1;
}

/* signals_setup - HUP reopens, TERM drains until EOF, INT is the parent's business */
static void
signals_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: poll() must return so the flags are seen promptly. */
	sa.sa_handler = on_signal;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
}

/* store_resume - FRAME_START: the engine's stream continues at the offset of the last commit
 * it saw acknowledged. What a previous store wrote to events.jsonl after that commit is sent
 * again, so it is cut off here (only from the same file: after a rotation nothing is cut, and a
 * few lines may appear twice, which import ignores). Acknowledges at once, so the engine learns
 * where the JSONL stands even before the first batch. */
static void
store_resume(struct store *s, const unsigned char *p)
{
	uint64_t off = frame_get_u64(p), ino = frame_get_u64(p + 9), size = frame_get_u64(p + 17);
	struct stat st;
	int fd;

	s->stream_off = off;
	s->resumed = off > 0;
	if ((p[8] & FRAME_START_TRUNCATE) && s->jsonl != NULL) {
		fd = fileno(s->jsonl);
		if (fflush(s->jsonl) != 0 || fstat(fd, &st) < 0) {
			s->failed = true;
		} else if ((uint64_t)st.st_ino != ino) {
			log_warn(
			    "store: events.jsonl was replaced since the last commit; events after "
			    "it may appear twice in the log");
		} else if ((uint64_t)st.st_size > size) {
			if (ftruncate(fd, (off_t)size) < 0) {
				log_err("store: truncating events.jsonl: %s", strerror(errno));
				s->failed = true;
			} else {
				log_info("store: resuming the engine's stream at offset %llu: %llu "
				         "bytes "
				         "of events.jsonl after the last commit are written again",
				         (unsigned long long)off,
				         (unsigned long long)((uint64_t)st.st_size - size));
				s->jsonl_bytes = size;
			}
		} else {
			s->jsonl_bytes = (uint64_t)st.st_size;
		}
	}
	if (s->resumed)
		log_info("store: resumed at stream offset %llu", (unsigned long long)off);
	store_ack(s);
}

/* preload - what the libraries would open lazily, loaded before the data directory becomes
 * the store's whole world: OpenSSL's configuration and SHA-256, jansson's hash seed (from
 * /dev/urandom), SQLite's global state and the seed of its generator (WAL salts) */
static void
preload(void)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;

	OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL);
	EVP_Digest("", 0, md, &mdlen, EVP_sha256(), NULL);
	json_object_seed(0);
	store_db_init();
	sqlite3_randomness((int)sizeof(md), md);
}

/* handle_frame - dispatch one complete, header-checked frame */
static void
handle_frame(struct store *s, enum frame_type type, const unsigned char *p, size_t len)
{
	const unsigned char *data;
	size_t datalen;
	char sid[33];
	uint32_t tx;

	switch (type) {
	case FRAME_EVENT:
		store_event(s, (const char *)p, len);
		break;
	case FRAME_BODY:
		if (frame_decode_body(p, len, sid, &tx, &data, &datalen) < 0) {
			log_warn("store: malformed body frame of %zu bytes dropped", len);
			break;
		}
		store_body(s, sid, tx, data, datalen);
		break;
	case FRAME_FLUSH:
		store_commit(s);
		break;
	case FRAME_START:
		store_resume(s, p);
		break;
	case FRAME_ACK:
		log_warn("store: unexpected ACK frame from the engine ignored");
		break;
	}
}

/* poll_timeout - milliseconds until the pending batch is due, at most STORE_BATCH_MS */
static int
poll_timeout(const struct store *s)
{
	uint64_t age;

	if (!uncommitted(s))
		return STORE_BATCH_MS;
	age = (now_mono_us() - s->batch_start_us) / 1000u;
	return age >= STORE_BATCH_MS ? 0 : (int)(STORE_BATCH_MS - age);
}

/* store_run - read frames from fd until EOF, apply them, commit by count, time and FLUSH */
int
store_run(int fd, const struct store_config *cfg)
{
	const size_t cap = FRAME_HDR + FRAME_MAX + READ_SLACK;
	unsigned char *buf = NULL;
	struct store *s = NULL;
	struct store_config dropped;
	enum frame_type type;
	struct pollfd pfd;
	char err[512];
	size_t have = 0, off, len;
	bool term_seen = false;
	ssize_t n;
	int rc = 1;

	/* this process owns all its JSON: each event's from an arena (before any value exists) */
	jarena_install();
	signals_setup();
	if (cfg->privsep != NULL) {
		preload();
		dropped = *cfg;
		if (privsep_store(cfg->privsep, cfg->data_dir, &dropped.data_dir, err,
		                  sizeof(err)) == -1) {
			log_err("store: cannot drop privileges: %s", err);
			goto out;
		}
		log_info("store: privileges dropped; data_dir=%s%s; %s", cfg->data_dir,
		         strcmp(dropped.data_dir, ".") == 0 ? " (its chroot)" : "",
		         sandbox_status());
		cfg = &dropped;
	}
	s = store_open(cfg, err, sizeof(err));
	if (s == NULL) {
		log_err("store: %s", err);
		goto out;
	}
	buf = malloc(cap);
	if (buf == NULL) {
		log_err("store: out of memory");
		goto out;
	}
	s->ack_fd = fd;
	s->ar = &s->arena;
	for (;;) {
		if (s->failed) {
			/* Nothing after the last acknowledgement is durable; the engine still has
			 * it and gives it to the store that serve starts next. */
			log_err(
			    "store: a write or commit failed; exiting so that a new store process "
			    "receives the unconfirmed events again");
			rc = STORE_EXIT_RETRY;
			goto out;
		}
		if (got_hup) {
			got_hup = 0;
			store_reopen(s);
		}
		if (got_term && !term_seen) {
			term_seen = true;
			log_info("store: SIGTERM, draining until the engine closes the socket");
		}
		if (uncommitted(s) && poll_timeout(s) == 0)
			store_commit(s);
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, poll_timeout(s)) < 0) {
			if (errno == EINTR)
				continue;
			log_err("store: poll: %s", strerror(errno));
			goto out;
		}
		if (pfd.revents == 0)
			continue;
		n = read(fd, buf + have, cap - have);
		if (n < 0 && errno == ECONNRESET)
			n = 0; /* the engine is gone, leaving our acknowledgements unread */
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_err("store: read: %s", strerror(errno));
			goto out;
		}
		if (n == 0) {
			if (have > 0)
				log_warn("store: EOF inside a frame, %zu bytes dropped", have);
			rc = store_commit(s) == 0 ? 0 : STORE_EXIT_RETRY;
			goto out;
		}
		have += (size_t)n;
		for (off = 0; have - off >= FRAME_HDR; off += FRAME_HDR + len) {
			if (frame_decode_header(buf + off, &type, &len) < 0) {
				log_err(
				    "store: bad frame header (type 0x%02x), closing the channel",
				    buf[off + 4]);
				goto out;
			}
			if (have - off < FRAME_HDR + len)
				break;
			/* A frame counts as applied once handled: a commit inside it includes it.
			 */
			if (type != FRAME_START) {
				if (!uncommitted(s))
					s->batch_start_us = now_mono_us();
				s->stream_off += FRAME_HDR + len;
			}
			handle_frame(s, type, buf + off + FRAME_HDR, len);
		}
		/* What remains is less than one whole frame, so the buffer always has room. */
		memmove(buf, buf + off, have - off);
		have -= off;
	}
out:
	store_close(s);
	free(buf);
	return rc;
}
