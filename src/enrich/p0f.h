/* SPDX-License-Identifier: ISC */
/*
 * p0f - passive OS fingerprints: the p0f v3 signature file (p0f.fp, its [tcp:request]
 * section) and matching a client's SYN (struct syn_info) against it the way p0f does.
 *
 * Owns: struct p0f_db (p0f_db_free releases it, with every string a match points into).
 * Public: p0f_db_load, p0f_db_parse, p0f_db_open, p0f_db_free, p0f_db_count, p0f_match,
 *         p0f_match_name, p0f_sig_string, p0f_guess_distance, p0f_jw_fields.
 *
 * File format (p0f v3 README, section 5): ';' comments, "classes = win,unix,other", sections
 * "[module:direction]"; only [tcp:request] is read, other sections are skipped. There:
 *   label = TYPE:CLASS:NAME:FLAVOR   TYPE s (specific) or g (generic), CLASS from classes or !
 *   sys   = @unix,Linux,...          platforms of an application label (class !)
 *   sig   = ver:ittl:olen:mss:wsize,scale:olayout:quirks:pclass
 * with '*' wildcards, "64-" (a tool choosing random TTLs up to 64), "54+10" (= 64),
 * window sizes N, mss*N, mtu*N, %N.
 * Matching: specific exact matches win, then generic exact ones, then the first fuzzy one
 * ("df" and "id+" may disappear, "id-" and "ecn" may appear, the TTL may be off). A
 * signature for both IP versions ignores the other version's quirks, and (unlike p0f) an
 * IPv6 flow label unless it asks for "flow": every current stack sets one (RFC 6437).
 * Limits: P0F_FILE_MAX bytes of file, P0F_LINE_MAX bytes per line, P0F_SIGS_MAX signatures;
 * every error is "FILE:LINE: message (fix)" in the caller's err buffer.
 */
#ifndef RT_P0F_H
#define RT_P0F_H

#include <stdbool.h>
#include <stddef.h>

#include "enrich/syn.h"

#define P0F_FILE_MAX (4u * 1024u * 1024u)
#define P0F_LINE_MAX 1024
#define P0F_SIGS_MAX 20000
#define P0F_MAX_DIST 35     /* hops a TTL may have lost and still be an exact match */
#define P0F_SIG_STR_MAX 512 /* room for any p0f_sig_string */

/* where a shipped copy is installed (meson's datadir); the last place p0f_db_open looks */
#ifndef RELAYTRAP_P0F_FP
#define RELAYTRAP_P0F_FP "/usr/share/relaytrap/p0f.fp"
#endif
#define P0F_SYSTEM_FP "/etc/p0f/p0f.fp" /* Debian's p0f package */

struct p0f_db;

enum p0f_match_kind { P0F_NONE, P0F_EXACT, P0F_GENERIC, P0F_FUZZY };

struct p0f_match {
	enum p0f_match_kind kind;
	const char *os_class;  /* "win", "unix", "other", "!"; NULL when kind is P0F_NONE */
	const char *os_name;   /* "Windows", "Linux", ... (points into the db) */
	const char *os_flavor; /* "XP", "3.11 and newer", "" ... (points into the db) */
	const char *sys;       /* the label's sys = list, or NULL */
	int distance;          /* hops: the signature's initial TTL (or a guess) minus the TTL */
	bool generic;          /* the label is g: (also for fuzzy matches) */
	unsigned line;         /* line of the matching sig in the file, 0 for none */
};

/* p0f_db_parse - read signatures from text (len bytes; need not be NUL-terminated); name is
 * the file name used in messages. NULL with "name:LINE: message (fix)" in err on error. */
struct p0f_db *p0f_db_parse(const char *text, size_t len, const char *name, char *err,
                            size_t errlen);
/* p0f_db_load - read and parse a file; NULL with err on error */
struct p0f_db *p0f_db_load(const char *path, char *err, size_t errlen);
/* p0f_db_open - the configured file if path is non-empty (its errors are errors), else the
 * first of P0F_SYSTEM_FP and RELAYTRAP_P0F_FP that exists. *used (may be NULL) is set to the
 * path read (path itself or a static string). NULL with err when nothing could be read. */
struct p0f_db *p0f_db_open(const char *path, const char **used, char *err, size_t errlen);
void p0f_db_free(struct p0f_db *db);
/* p0f_db_count - [tcp:request] signatures loaded */
size_t p0f_db_count(const struct p0f_db *db);

/* p0f_match - classify a parsed SYN; fills out (always; kind P0F_NONE when nothing fits) */
void p0f_match(const struct p0f_db *db, const struct syn_info *s, struct p0f_match *out);
/* p0f_match_name - "exact", "generic", "fuzzy", "none" */
const char *p0f_match_name(enum p0f_match_kind k);

/* p0f_guess_distance - hops from the TTL to the next of 32, 64, 128, 255 (as p0f guesses) */
int p0f_guess_distance(unsigned ttl);
/* p0f_sig_string - the SYN as a p0f v3 signature, "4:128+0:0:1460:65535,0:mss,nop,nop,sok:
 * df,id+:0", TTL written as observed+guessed distance; as snprintf */
int p0f_sig_string(const struct syn_info *s, char *out, size_t outlen);

struct jw;
/* p0f_jw_fields - write the os_* fields and the syn object of a relaytrap.enrich event of
 * kind "os" (docs/events.md) into the open JSON object w; m may be NULL (no database) */
void p0f_jw_fields(struct jw *w, const struct syn_info *s, const struct p0f_match *m);

#endif
