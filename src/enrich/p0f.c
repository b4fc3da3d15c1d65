/* SPDX-License-Identifier: ISC */
/*
 * p0f - the p0f v3 signature file and SYN matching (see p0f.h).
 *
 * The database is an array of signatures in file order plus an index by option layout:
 * every kind of match p0f knows (exact, generic, fuzzy) needs the same options in the same
 * order, so a lookup only walks the signatures of its layout's bucket, still in file order,
 * which keeps p0f's rule "the first signature that fits wins" intact.
 */
#include "enrich/p0f.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/str.h"
#include "core/util.h"

#define NBUCKETS 64 /* power of two */
#define MAX_CLASSES 32
#define CLASS_LEN 32
#define LABEL_FIELD_MAX 255 /* bytes of a label's name, flavor or sys list */
#define ESC_MAX 72          /* an escaped, cut copy of file text inside a message */

enum win_type { WIN_ANY, WIN_NUM, WIN_MSS, WIN_MTU, WIN_MOD };

struct p0f_label {
	bool generic;
	char *os_class; /* one of db->classes or "!" */
	char *name;
	char *flavor;
	char *sys; /* NULL unless a sys line followed */
};

struct p0f_sig {
	int ver;       /* -1 any, 4, 6 */
	uint8_t ittl;  /* initial TTL */
	bool bad_ttl;  /* "64-": any TTL up to ittl, from a tool that randomises it */
	unsigned olen; /* IPv4 options / IPv6 extension header bytes */
	int mss;       /* -1 any */
	enum win_type wtype;
	uint32_t wval;
	int wscale; /* -1 any */
	uint8_t olayout[SYN_OPT_MAX];
	unsigned nopt;
	unsigned eol_pad;
	uint32_t quirks;
	int pclass; /* -1 any, 0 no payload, 1 payload */
	uint32_t ohash;
	uint32_t label; /* index into labels */
	unsigned line;
};

struct bucket {
	uint32_t *idx;
	size_t n, cap;
};

struct p0f_db {
	struct p0f_sig *sigs;
	size_t nsigs, capsigs;
	struct p0f_label *labels;
	size_t nlabels, caplabels;
	char classes[MAX_CLASSES][CLASS_LEN];
	size_t nclasses;
	struct bucket buckets[NBUCKETS];
};

/* parse state for one file */
struct pctx {
	struct p0f_db *db;
	const char *name;
	unsigned line;
	char *err;
	size_t errlen;
	bool in_tcp_req;
	bool have_label;
};

static const char *const match_names[] = {"none", "exact", "generic", "fuzzy"};

/* perr - "FILE:LINE: message" into the caller's buffer; returns -1 */
static int perr(struct pctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
perr(struct pctx *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	seterr(p->err, p->errlen, "%s:%u: %s", p->name, p->line, msg);
	return -1;
}

/* esc - a short terminal-safe copy of file text for a message */
static const char *
esc(const char *s, char *buf, size_t buflen)
{
	return str_escape_log(s, strnlen(s, 256), buf, buflen);
}

/* trim - strip blanks at both ends, in place */
static char *
trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* num - a whole decimal number in [0,max] filling all of s; 0 or -1 */
static int
num(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

static uint32_t
layout_hash(const uint8_t *o, unsigned n, unsigned pad)
{
	uint32_t h = 2166136261u;
	unsigned i;

	for (i = 0; i < n; i++)
		h = (h ^ o[i]) * 16777619u;
	h = (h ^ n) * 16777619u;
	return (h ^ pad) * 16777619u;
}

/* ------------------------------------------------------------------ signature fields */

static int
parse_ttl(struct pctx *p, char *f, struct p0f_sig *sig)
{
	char e[ESC_MAX], *plus = strchr(f, '+');
	size_t n = strlen(f);
	unsigned long ttl, dist = 0;

	if (n > 0 && f[n - 1] == '-') {
		sig->bad_ttl = true;
		f[n - 1] = '\0';
	} else if (plus != NULL) {
		*plus = '\0';
		if (strcmp(plus + 1, "?") == 0)
			return perr(
			    p,
			    "initial TTL '%s+?' has an unknown distance (replace ? with the "
			    "hop count, or write the initial TTL such as 64)",
			    esc(f, e, sizeof(e)));
		if (num(plus + 1, 255, &dist) == -1)
			return perr(p, "bad TTL distance '%s' (a number such as 54+10)",
			            esc(plus + 1, e, sizeof(e)));
	}
	if (num(f, 255, &ttl) == -1 || ttl + dist == 0 || ttl + dist > 255)
		return perr(p, "bad initial TTL '%s' (a number 1-255 such as 64, 64- or 54+10)",
		            esc(f, e, sizeof(e)));
	sig->ittl = (uint8_t)(ttl + dist);
	return 0;
}

static int
parse_window(struct pctx *p, const char *f, struct p0f_sig *sig)
{
	char e[ESC_MAX];
	unsigned long v;

	if (strcmp(f, "*") == 0) {
		sig->wtype = WIN_ANY;
		return 0;
	}
	if (strncmp(f, "mss*", 4) == 0 && num(f + 4, 65535, &v) == 0 && v > 0)
		sig->wtype = WIN_MSS;
	else if (strncmp(f, "mtu*", 4) == 0 && num(f + 4, 65535, &v) == 0 && v > 0)
		sig->wtype = WIN_MTU;
	else if (f[0] == '%' && num(f + 1, 65535, &v) == 0 && v > 0)
		sig->wtype = WIN_MOD;
	else if (num(f, 65535, &v) == 0)
		sig->wtype = WIN_NUM;
	else
		return perr(p, "bad window size '%s' (*, a number, mss*N, mtu*N or %%N)",
		            esc(f, e, sizeof(e)));
	sig->wval = (uint32_t)v;
	return 0;
}

static int
parse_olayout(struct pctx *p, char *f, struct p0f_sig *sig)
{
	static const struct {
		const char *name;
		uint8_t kind;
	} opts[] = {{"nop", SYN_OPT_NOP}, {"mss", SYN_OPT_MSS},   {"ws", SYN_OPT_WS},
	            {"sok", SYN_OPT_SOK}, {"sack", SYN_OPT_SACK}, {"ts", SYN_OPT_TS}};
	char e[ESC_MAX], *tok;
	unsigned long v;
	size_t i;

	if (*f == '\0')
		return 0;
	while ((tok = strsep(&f, ",")) != NULL) {
		tok = trim(tok);
		if (sig->nopt == SYN_OPT_MAX)
			return perr(p, "more than %d TCP options (a SYN has room for 40 bytes)",
			            SYN_OPT_MAX);
		if (sig->nopt > 0 && sig->olayout[sig->nopt - 1] == SYN_OPT_EOL)
			return perr(p, "option '%s' after eol (eol+N must be the last option)",
			            esc(tok, e, sizeof(e)));
		if (strncmp(tok, "eol+", 4) == 0 && num(tok + 4, SYN_OPT_MAX, &v) == 0) {
			sig->olayout[sig->nopt++] = SYN_OPT_EOL;
			sig->eol_pad = (unsigned)v;
			continue;
		}
		if (tok[0] == '?' && num(tok + 1, 255, &v) == 0) {
			sig->olayout[sig->nopt++] = (uint8_t)v;
			continue;
		}
		for (i = 0; i < ARRAY_LEN(opts); i++)
			if (strcmp(tok, opts[i].name) == 0)
				break;
		if (i == ARRAY_LEN(opts))
			return perr(
			    p,
			    "unknown TCP option '%s' (use eol+N, nop, mss, ws, sok, sack, ts "
			    "or ?N)",
			    esc(tok, e, sizeof(e)));
		sig->olayout[sig->nopt++] = opts[i].kind;
	}
	return 0;
}

static int
parse_quirks(struct pctx *p, char *f, struct p0f_sig *sig)
{
	char e[ESC_MAX], *tok;
	unsigned b;

	if (*f == '\0')
		return 0;
	while ((tok = strsep(&f, ",")) != NULL) {
		tok = trim(tok);
		for (b = 0; b < SYN_QB__COUNT; b++)
			if (strcmp(tok, syn_quirk_name(b)) == 0)
				break;
		if (b == SYN_QB__COUNT)
			return perr(
			    p,
			    "unknown quirk '%s' (use df, id+, id-, ecn, 0+, flow, seq-, ack+, "
			    "ack-, uptr+, urgf+, pushf+, ts1-, ts2+, opt+, exws, bad)",
			    esc(tok, e, sizeof(e)));
		sig->quirks |= 1u << b;
	}
	return 0;
}

/* split - cut s at each sep into at most max fields; returns the count */
static size_t
split(char *s, char sep, char **f, size_t max)
{
	size_t n = 0;

	f[n++] = s;
	for (; *s; s++) {
		if (*s != sep)
			continue;
		if (n == max)
			return max + 1;
		*s = '\0';
		f[n++] = s + 1;
	}
	return n;
}

static int
add_sig(struct pctx *p, struct p0f_sig *sig)
{
	struct p0f_db *db = p->db;
	struct bucket *b;

	if (db->nsigs == P0F_SIGS_MAX)
		return perr(p, "more than %d signatures (split the file or drop some)",
		            P0F_SIGS_MAX);
	if (db->nsigs == db->capsigs) {
		size_t cap = db->capsigs ? db->capsigs * 2 : 128;
		struct p0f_sig *n = reallocarray(db->sigs, cap, sizeof(*n));
		if (n == NULL)
			return perr(p, "out of memory");
		db->sigs = n;
		db->capsigs = cap;
	}
	b = &db->buckets[sig->ohash & (NBUCKETS - 1)];
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 8;
		uint32_t *n = reallocarray(b->idx, cap, sizeof(*n));
		if (n == NULL)
			return perr(p, "out of memory");
		b->idx = n;
		b->cap = cap;
	}
	b->idx[b->n++] = (uint32_t)db->nsigs;
	db->sigs[db->nsigs++] = *sig;
	return 0;
}

/* parse_sig - "ver:ittl:olen:mss:wsize,scale:olayout:quirks:pclass" */
static int
parse_sig(struct pctx *p, char *v)
{
	struct p0f_sig sig;
	char e[ESC_MAX], *f[8], *ws[2];
	unsigned long n;

	if (!p->have_label)
		return perr(p, "sig before any label (add 'label = s:unix:Name:flavor' above it)");
	if (split(v, ':', f, 8) != 8)
		return perr(p, "sig needs 8 fields ver:ittl:olen:mss:wsize,scale:olayout:quirks:"
		               "pclass (such as *:64:0:*:mss*20,7:mss,sok,ts,nop,ws:df,id+:0)");
	memset(&sig, 0, sizeof(sig));
	sig.label = (uint32_t)(p->db->nlabels - 1);
	sig.line = p->line;
	if (strcmp(f[0], "*") == 0)
		sig.ver = -1;
	else if (strcmp(f[0], "4") == 0 || strcmp(f[0], "6") == 0)
		sig.ver = f[0][0] - '0';
	else
		return perr(p, "bad IP version '%s' (4, 6 or *)", esc(f[0], e, sizeof(e)));
	if (parse_ttl(p, f[1], &sig) == -1)
		return -1;
	if (num(f[2], 255, &n) == -1)
		return perr(p, "bad IP option length '%s' (a number, usually 0)",
		            esc(f[2], e, sizeof(e)));
	sig.olen = (unsigned)n;
	if (strcmp(f[3], "*") == 0)
		sig.mss = -1;
	else if (num(f[3], 65535, &n) == 0)
		sig.mss = (int)n;
	else
		return perr(p, "bad MSS '%s' (* or a number 0-65535)", esc(f[3], e, sizeof(e)));
	if (split(f[4], ',', ws, 2) != 2)
		return perr(p, "bad window field '%s' (wsize,scale such as mss*20,7 or 8192,*)",
		            esc(f[4], e, sizeof(e)));
	if (parse_window(p, ws[0], &sig) == -1)
		return -1;
	if (strcmp(ws[1], "*") == 0)
		sig.wscale = -1;
	else if (num(ws[1], 255, &n) == 0)
		sig.wscale = (int)n;
	else
		return perr(p, "bad window scale '%s' (* or a number 0-255)",
		            esc(ws[1], e, sizeof(e)));
	if (parse_olayout(p, f[5], &sig) == -1 || parse_quirks(p, f[6], &sig) == -1)
		return -1;
	if (strcmp(f[7], "*") == 0)
		sig.pclass = -1;
	else if (strcmp(f[7], "0") == 0)
		sig.pclass = 0;
	else if (strcmp(f[7], "+") == 0)
		sig.pclass = 1;
	else
		return perr(p, "bad payload class '%s' (0, + or *)", esc(f[7], e, sizeof(e)));
	sig.ohash = layout_hash(sig.olayout, sig.nopt, sig.eol_pad);
	return add_sig(p, &sig);
}

/* label_str - a bounded copy of a label field */
static int
label_str(struct pctx *p, const char *what, const char *s, bool empty_ok, char **out)
{
	if (!empty_ok && *s == '\0')
		return perr(p, "label has an empty %s (label = s:unix:Linux:3.x)", what);
	if (strlen(s) > LABEL_FIELD_MAX)
		return perr(p, "label %s longer than %d bytes", what, LABEL_FIELD_MAX);
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return perr(p, "label %s holds a control character", what);
	*out = strdup(s);
	return *out == NULL ? perr(p, "out of memory") : 0;
}

/* parse_label - "type:class:name:flavor" (the flavor is the rest and may be empty) */
static int
parse_label(struct pctx *p, char *v)
{
	struct p0f_db *db = p->db;
	struct p0f_label l;
	char e[ESC_MAX], *f[4];
	size_t i;

	esc(v, e, sizeof(e)); /* before the fields are cut apart, for the message below */
	memset(&l, 0, sizeof(l));
	f[0] = v;
	for (i = 1; i < 4; i++) {
		char *c = strchr(f[i - 1], ':');
		if (c == NULL)
			return perr(p,
			            "label '%s' needs type:class:name:flavor (such as "
			            "s:unix:Linux:3.x)",
			            e);
		*c = '\0';
		f[i] = c + 1;
	}
	if (strcmp(f[0], "s") != 0 && strcmp(f[0], "g") != 0)
		return perr(p, "label type '%s' must be s (specific) or g (generic)",
		            esc(f[0], e, sizeof(e)));
	l.generic = f[0][0] == 'g';
	if (strcmp(f[1], "!") != 0) {
		for (i = 0; i < db->nclasses; i++)
			if (strcmp(db->classes[i], f[1]) == 0)
				break;
		if (i == db->nclasses)
			return perr(p,
			            "class '%s' is not declared (list it in 'classes = ...' at the "
			            "top, or use ! for applications)",
			            esc(f[1], e, sizeof(e)));
	}
	if (db->nlabels == db->caplabels) {
		size_t cap = db->caplabels ? db->caplabels * 2 : 64;
		struct p0f_label *n = reallocarray(db->labels, cap, sizeof(*n));
		if (n == NULL)
			return perr(p, "out of memory");
		db->labels = n;
		db->caplabels = cap;
	}
	if (label_str(p, "class", f[1], false, &l.os_class) == -1 ||
	    label_str(p, "name", f[2], false, &l.name) == -1 ||
	    label_str(p, "flavor", f[3], true, &l.flavor) == -1) {
		free(l.os_class);
		free(l.name);
		free(l.flavor);
		return -1;
	}
	db->labels[db->nlabels++] = l;
	p->have_label = true;
	return 0;
}

static int
parse_sys(struct pctx *p, const char *v)
{
	struct p0f_label *l;

	if (!p->have_label)
		return perr(p, "sys before any label (put it right after its label line)");
	l = &p->db->labels[p->db->nlabels - 1];
	if (l->sys != NULL)
		return perr(p, "second sys line for one label (join them with commas)");
	return label_str(p, "sys list", v, false, &l->sys);
}

static int
parse_classes(struct pctx *p, char *v)
{
	struct p0f_db *db = p->db;
	char e[ESC_MAX], *tok;

	db->nclasses = 0;
	while ((tok = strsep(&v, ",")) != NULL) {
		tok = trim(tok);
		if (*tok == '\0' || strlen(tok) >= CLASS_LEN || strcmp(tok, "!") == 0)
			return perr(p, "bad class '%s' (1-%d characters, not !)",
			            esc(tok, e, sizeof(e)), CLASS_LEN - 1);
		if (db->nclasses == MAX_CLASSES)
			return perr(p, "more than %d classes", MAX_CLASSES);
		strlcpy(db->classes[db->nclasses++], tok, CLASS_LEN);
	}
	if (db->nclasses == 0)
		return perr(p, "classes needs a list such as win,unix,other");
	return 0;
}

/* parse_line - one line (NUL-terminated, no newline) */
static int
parse_line(struct pctx *p, char *s)
{
	char e[ESC_MAX], *eq, *key, *val;

	s = trim(s);
	if (*s == '\0' || *s == ';')
		return 0;
	if (*s == '[') {
		size_t n = strlen(s);
		if (s[n - 1] != ']')
			return perr(p, "section line '%s' lacks ']'", esc(s, e, sizeof(e)));
		s[n - 1] = '\0';
		p->in_tcp_req = strcmp(s + 1, "tcp:request") == 0;
		p->have_label = false;
		return 0;
	}
	eq = strchr(s, '=');
	if (eq == NULL)
		return perr(p, "'%s' is not 'key = value' or a [section]", esc(s, e, sizeof(e)));
	*eq = '\0';
	key = trim(s);
	val = trim(eq + 1);
	if (strcmp(key, "classes") == 0)
		return parse_classes(p, val);
	if (!p->in_tcp_req)
		return 0; /* [mtu], [tcp:response], [http:*]: not ours */
	if (strcmp(key, "label") == 0)
		return parse_label(p, val);
	if (strcmp(key, "sys") == 0)
		return parse_sys(p, val);
	if (strcmp(key, "sig") == 0)
		return parse_sig(p, val);
	return perr(p, "unknown key '%s' in [tcp:request] (expected label, sys or sig)",
	            esc(key, e, sizeof(e)));
}

struct p0f_db *
p0f_db_parse(const char *text, size_t len, const char *name, char *err, size_t errlen)
{
	struct pctx p;
	char line[P0F_LINE_MAX + 1];
	size_t pos = 0;

	memset(&p, 0, sizeof(p));
	p.name = name;
	p.err = err;
	p.errlen = errlen;
	if (len > P0F_FILE_MAX) {
		seterr(err, errlen, "%s: larger than %u bytes (is this a p0f.fp file?)", name,
		       P0F_FILE_MAX);
		return NULL;
	}
	p.db = calloc(1, sizeof(*p.db));
	if (p.db == NULL) {
		seterr(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

		p.line++;
		if (n > P0F_LINE_MAX) {
			perr(&p, "line longer than %d bytes", P0F_LINE_MAX);
			goto fail;
		}
		if (memchr(text + pos, '\0', n) != NULL) {
			perr(&p, "NUL byte (is this a text file?)");
			goto fail;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		if (parse_line(&p, line) == -1)
			goto fail;
		pos += n + 1;
	}
	if (p.db->nsigs == 0) {
		seterr(err, errlen, "%s: no [tcp:request] signatures (is this a p0f v3 p0f.fp?)",
		       name);
		goto fail;
	}
	return p.db;
fail:
	p0f_db_free(p.db);
	return NULL;
}

struct p0f_db *
p0f_db_load(const char *path, char *err, size_t errlen)
{
	struct p0f_db *db = NULL;
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		seterr(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > P0F_FILE_MAX) {
		seterr(err, errlen, "%s: larger than %u bytes (is this a p0f.fp file?)", path,
		       P0F_FILE_MAX);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		seterr(err, errlen, "%s: out of memory", path);
		goto out;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			seterr(err, errlen, "%s: read: %s", path,
			       r == 0 ? "short" : strerror(errno));
			goto out;
		}
		got += (size_t)r;
	}
	db = p0f_db_parse(buf, got, path, err, errlen);
out:
	free(buf);
	close(fd);
	return db;
}

struct p0f_db *
p0f_db_open(const char *path, const char **used, char *err, size_t errlen)
{
	static const char *const fallback[] = {P0F_SYSTEM_FP, RELAYTRAP_P0F_FP};
	size_t i;

	if (path != NULL && *path != '\0') {
		if (used != NULL)
			*used = path;
		return p0f_db_load(path, err, errlen);
	}
	for (i = 0; i < ARRAY_LEN(fallback); i++) {
		if (access(fallback[i], F_OK) != 0)
			continue;
		if (used != NULL)
			*used = fallback[i];
		return p0f_db_load(fallback[i], err, errlen);
	}
	seterr(err, errlen,
	       "no p0f signature file in %s or %s (install p0f, or set p0f_fp = "
	       "/path/to/p0f.fp)",
	       P0F_SYSTEM_FP, RELAYTRAP_P0F_FP);
	return NULL;
}

void
p0f_db_free(struct p0f_db *db)
{
	size_t i;

	if (db == NULL)
		return;
	for (i = 0; i < db->nlabels; i++) {
		free(db->labels[i].os_class);
		free(db->labels[i].name);
		free(db->labels[i].flavor);
		free(db->labels[i].sys);
	}
	for (i = 0; i < NBUCKETS; i++)
		free(db->buckets[i].idx);
	free(db->labels);
	free(db->sigs);
	free(db);
}

size_t
p0f_db_count(const struct p0f_db *db)
{
	return db ? db->nsigs : 0;
}

/* ------------------------------------------------------------------ matching */

int
p0f_guess_distance(unsigned ttl)
{
	if (ttl <= 32)
		return (int)(32 - ttl);
	if (ttl <= 64)
		return (int)(64 - ttl);
	if (ttl <= 128)
		return (int)(128 - ttl);
	return (int)(255 - (ttl > 255 ? 255 : ttl));
}

/* mtu_of - the link MTU an MSS implies: MSS plus the IP and TCP headers */
static uint32_t
mtu_of(const struct syn_info *s)
{
	return (uint32_t)s->mss + (s->ip_version == 6 ? 60u : 40u);
}

static bool
window_fits(const struct p0f_sig *sig, const struct syn_info *s)
{
	switch (sig->wtype) {
	case WIN_ANY:
		return true;
	case WIN_NUM:
		return s->win == sig->wval;
	case WIN_MSS:
		return s->mss != 0 && s->win == (uint32_t)s->mss * sig->wval;
	case WIN_MTU:
		return s->mss != 0 && s->win == mtu_of(s) * sig->wval;
	case WIN_MOD:
		return s->win % sig->wval == 0;
	}
	return false;
}

/* sig_fits - 0 no, 1 exact, 2 fuzzy */
static int
sig_fits(const struct p0f_sig *sig, const struct syn_info *s)
{
	uint32_t want = sig->quirks, have, del, add;
	bool fuzzy = false;

	if (sig->ver != -1 && sig->ver != s->ip_version)
		return 0;
	if (sig->nopt != s->nopt || sig->eol_pad != s->opt_eol_pad ||
	    memcmp(sig->olayout, s->olayout, s->nopt) != 0)
		return 0;
	if (sig->olen != s->ip_opt_len)
		return 0;
	if (sig->mss != -1 && sig->mss != s->mss)
		return 0;
	if (sig->wscale != -1 && sig->wscale != s->wscale)
		return 0;
	if (sig->pclass != -1 && sig->pclass != (int)s->payload)
		return 0;
	if (!window_fits(sig, s))
		return 0;
	/* a signature for both versions says nothing about the other version's quirks */
	want &= s->ip_version == 6 ? ~(uint32_t)SYN_Q_IPV4_ONLY : ~(uint32_t)SYN_Q_IPV6_ONLY;
	have = s->quirks;
	/* RFC 6437 flow labels became every stack's default after p0f.fp was written: a
	 * signature for both versions that does not ask for one ignores it */
	if (sig->ver == -1 && !(want & SYN_Q(FLOW)))
		have &= ~(uint32_t)SYN_Q(FLOW);
	if (want != have) {
		del = want & ~have;
		add = have & ~want;
		if ((del & ~(SYN_Q(DF) | SYN_Q(NZ_ID))) || (add & ~(SYN_Q(ZERO_ID) | SYN_Q(ECN))))
			return 0;
		fuzzy = true;
	}
	if (sig->bad_ttl) {
		if (s->ttl > sig->ittl)
			return 0;
	} else if (s->ttl > sig->ittl || sig->ittl - s->ttl > P0F_MAX_DIST) {
		fuzzy = true;
	}
	return fuzzy ? 2 : 1;
}

void
p0f_match(const struct p0f_db *db, const struct syn_info *s, struct p0f_match *out)
{
	const struct p0f_sig *best = NULL, *generic = NULL, *fuzzy = NULL;
	const struct bucket *b;
	const struct p0f_label *l;
	size_t i;

	memset(out, 0, sizeof(*out));
	out->kind = P0F_NONE;
	out->distance = p0f_guess_distance(s->ttl);
	if (db == NULL)
		return;
	b = &db->buckets[layout_hash(s->olayout, s->nopt, s->opt_eol_pad) & (NBUCKETS - 1)];
	for (i = 0; i < b->n; i++) {
		const struct p0f_sig *sig = &db->sigs[b->idx[i]];
		int r = sig_fits(sig, s);

		if (r == 1) {
			if (!db->labels[sig->label].generic) {
				best = sig;
				break;
			}
			if (generic == NULL)
				generic = sig;
		} else if (r == 2 && fuzzy == NULL) {
			fuzzy = sig;
		}
	}
	if (best != NULL) {
		out->kind = P0F_EXACT;
	} else if (generic != NULL) {
		best = generic;
		out->kind = P0F_GENERIC;
	} else if (fuzzy != NULL) {
		best = fuzzy;
		out->kind = P0F_FUZZY;
	} else {
		return;
	}
	l = &db->labels[best->label];
	out->os_class = l->os_class;
	out->os_name = l->name;
	out->os_flavor = l->flavor;
	out->sys = l->sys;
	out->generic = l->generic;
	out->line = best->line;
	if (!best->bad_ttl && s->ttl <= best->ittl)
		out->distance = best->ittl - s->ttl;
}

const char *
p0f_match_name(enum p0f_match_kind k)
{
	return (unsigned)k < ARRAY_LEN(match_names) ? match_names[k] : "none";
}

/* win_str - the window as p0f writes it: mss*N or mtu*N when it is such a multiple */
static void
win_str(const struct syn_info *s, char *out, size_t outlen)
{
	if (s->win != 0 && s->mss != 0 && s->win % s->mss == 0)
		snprintf(out, outlen, "mss*%u", (unsigned)(s->win / s->mss));
	else if (s->win != 0 && s->mss != 0 && s->win % mtu_of(s) == 0)
		snprintf(out, outlen, "mtu*%u", (unsigned)(s->win / mtu_of(s)));
	else
		snprintf(out, outlen, "%u", (unsigned)s->win);
}

int
p0f_sig_string(const struct syn_info *s, char *out, size_t outlen)
{
	char olayout[SYN_OPT_MAX * 8], quirks[128], win[16];

	syn_olayout_str(s, olayout, sizeof(olayout));
	syn_quirks_str(s->quirks, quirks, sizeof(quirks));
	win_str(s, win, sizeof(win));
	return snprintf(out, outlen, "%d:%u+%d:%u:%u:%s,%u:%s:%s:%c", s->ip_version,
	                (unsigned)s->ttl, p0f_guess_distance(s->ttl), s->ip_opt_len,
	                (unsigned)s->mss, win, (unsigned)s->wscale, olayout, quirks,
	                s->payload ? '+' : '0');
}

void
p0f_jw_fields(struct jw *w, const struct syn_info *s, const struct p0f_match *m)
{
	char sig[P0F_SIG_STR_MAX], olayout[SYN_OPT_MAX * 8], quirks[128];

	if (m != NULL && m->kind != P0F_NONE) {
		jw_key_str(w, "os_class", m->os_class);
		jw_key_str(w, "os_name", m->os_name);
		jw_key_str(w, "os_flavor", m->os_flavor);
	}
	jw_key_int(w, "os_distance", m != NULL ? m->distance : p0f_guess_distance(s->ttl));
	jw_key_str(w, "os_match", p0f_match_name(m != NULL ? m->kind : P0F_NONE));
	p0f_sig_string(s, sig, sizeof(sig));
	jw_key_str(w, "os_sig", sig);
	syn_olayout_str(s, olayout, sizeof(olayout));
	syn_quirks_str(s->quirks, quirks, sizeof(quirks));
	jw_key_obj_open(w, "syn");
	jw_key_int(w, "ip_version", s->ip_version);
	jw_key_int(w, "ttl", s->ttl);
	jw_key_int(w, "tos", s->tos);
	if (s->ip_version == 4) {
		jw_key_bool(w, "df", s->df);
		jw_key_int(w, "ip_id", s->ip_id);
	} else {
		jw_key_int(w, "flow", s->flow);
	}
	jw_key_int(w, "win", s->win);
	jw_key_int(w, "wscale", s->wscale);
	jw_key_int(w, "mss", s->mss);
	jw_key_str(w, "olayout", olayout);
	jw_key_str(w, "quirks", quirks);
	jw_key_int(w, "opt_eol_pad", s->opt_eol_pad);
	jw_key_int(w, "ip_opt_len", s->ip_opt_len);
	jw_key_bool(w, "payload", s->payload);
	jw_obj_close(w);
}
