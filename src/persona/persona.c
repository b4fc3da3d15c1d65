/* SPDX-License-Identifier: ISC */
/*
 * persona - load persona files (docs/personas.md), keep every reply template and setting, and
 * render replies into wire bytes.
 *
 * Owns: struct persona and its reply strings (persona_free releases them).
 * Public: persona_load_file, persona_load_mem, persona_load_builtin, persona_load,
 *         persona_builtin_names, persona_free, the accessors, persona_advertises,
 *         persona_auth_mech, persona_expand, persona_expand_str, persona_msgid.
 * Limits: files up to PERSONA_FILE_MAX bytes, lines up to PERSONA_LINE_MAX bytes, values up to
 *         PERSONA_REPLY_MAX bytes, base chains up to PERSONA_BASE_DEPTH files. Expansion never
 *         writes more than the caller's buffer; variables are cut to PERSONA_VAR_MAX bytes.
 */
#include "persona/persona.h"
#include "persona/builtin.h"
#include "core/str.h"
#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* A real persona is a few KiB; anything far larger is a mistake or an attack on the parser. */
#define PERSONA_FILE_MAX (256 * 1024)
#define PERSONA_LINE_MAX 16384
#define PERSONA_BASE_DEPTH 4
#define PERSONA_NAME_MAX 64
#define PERSONA_PRODUCT_MAX 128
#define PERSONA_DATEFMT_MAX 128
#define PERSONA_WORD_MAX 16
#define PERSONA_MECHS_MAX 256
#define PERSONA_DATE_OUT_MAX 256

/* One bit per setting, so a file's explicit settings can be told apart from inherited ones. */
enum setting_bit {
	S_TTL = 1u << 0,
	S_DELAY_BANNER = 1u << 1,
	S_DELAY_REPLY = 1u << 2,
	S_DELAY_JITTER = 1u << 3,
	S_REQUIRE_HELO = 1u << 4,
	S_MSGID_STYLE = 1u << 5,
	S_DATE_FORMAT = 1u << 6,
	S_DAY_NAMES = 1u << 7,
	S_MONTH_NAMES = 1u << 8,
	S_AUTH_MECHS = 1u << 9,
	S_APPEND_DOMAIN = 1u << 10,
	S_STRICT_CRLF = 1u << 11,
	S_PRODUCT = 1u << 12,
};

struct persona {
	char name[PERSONA_NAME_MAX];
	char product[PERSONA_PRODUCT_MAX];
	char *reply[PR__COUNT];
	unsigned set;
	int ttl;
	int delay_banner_ms;
	int delay_reply_ms;
	int delay_jitter_ms;
	bool require_helo;
	bool append_domain;
	bool strict_crlf;
	enum persona_msgid_style msgid_style;
	char date_format[PERSONA_DATEFMT_MAX];
	char day_names[7][PERSONA_WORD_MAX];
	char month_names[12][PERSONA_WORD_MAX];
	char auth_mechs[PERSONA_MECHS_MAX];
};

static const char *const reply_keys[PR__COUNT] = {
#define X(e, k) k,
    PERSONA_REPLIES(X)
#undef X
};

static const char *const en_days[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const en_months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Parser state for one file; the line number goes into every error. */
struct parse {
	const char *label;
	const char *dir; /* where "base = NAME" looks first; NULL = built-ins only */
	int depth;
	unsigned long line;
	int section; /* 0 none, 1 persona, 2 settings, 3 replies */
	char base[PERSONA_NAME_MAX];
	unsigned long base_line; /* where "base =" was, for the not-found error */
	bool has_name;
	unsigned long reply_line[PR__COUNT];
	char *err;
	size_t errlen;
};

static struct persona *parse_buf(const char *buf, size_t len, const char *label, const char *dir,
                                 int depth, char *err, size_t errlen);

static int perr(struct parse *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* perr - write "LABEL:LINE: message" into the caller's error buffer; always returns -1 */
static int
perr(struct parse *ps, const char *fmt, ...)
{
	char msg[512], safe[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* the values a message quotes are the file's after its escapes are decoded: a "\n" in
	 * one must not split the error over two lines, nor a control byte reach the terminal */
	str_escape_log(msg, strlen(msg), safe, sizeof(safe));
	if (ps->err != NULL && ps->errlen > 0)
		snprintf(ps->err, ps->errlen, "%s:%lu: %s", ps->label, ps->line, safe);
	return -1;
}

/* valid_name - persona names double as file names, so keep them to a safe alphabet */
static bool
valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= PERSONA_NAME_MAX || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}

/* parse_bool - the usual spellings of yes and no */
static int
parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < ARRAY_LEN(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* parse_int - a bounded whole number for a setting */
static int
parse_int(struct parse *ps, const char *key, const char *s, int min, int max, int *out)
{
	long long v;
	const char *errstr = NULL;

	if (parse_num(s, min, max, &v, &errstr) == -1)
		return perr(ps, "%s: \"%.40s\" is not a number from %d to %d (fix the value)", key,
		            s, min, max);
	*out = (int)v;
	return 0;
}

/* parse_words - exactly n space-separated words, each short, printable and without '%' */
static int
parse_words(struct parse *ps, const char *key, const char *s, size_t n,
            char words[][PERSONA_WORD_MAX])
{
	size_t count = 0;
	const char *p = s;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		const char *start = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		size_t wlen = (size_t)(p - start);
		if (count == n)
			return perr(ps, "%s: more than %zu words (give exactly %zu)", key, n, n);
		if (wlen >= PERSONA_WORD_MAX)
			return perr(ps, "%s: word longer than %d bytes (shorten it)", key,
			            PERSONA_WORD_MAX - 1);
		for (size_t i = 0; i < wlen; i++) {
			unsigned char c = (unsigned char)start[i];
			if (c < 0x20 || c == 0x7f || c == '%')
				return perr(ps, "%s: words may not contain '%%' or control bytes",
				            key);
		}
		memcpy(words[count], start, wlen);
		words[count][wlen] = '\0';
		count++;
	}
	if (count != n)
		return perr(ps, "%s: %zu words (give exactly %zu)", key, count, n);
	return 0;
}

/* datefmt_ok - only conversions that mean the same everywhere, so a typo fails at load time */
static bool
datefmt_ok(const char *f)
{
	static const char conv[] = "aAbBcCdDeFgGhHIjmMnprRStTuUVwWxXyYzZ%";
	static const char unpadded[] = "deHIjmMSy";

	for (const char *p = f; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c == 0x7f)
			return false;
		if (c != '%')
			continue;
		p++;
		if (*p == '-') {
			p++;
			if (*p == '\0' || strchr(unpadded, *p) == NULL)
				return false;
			continue;
		}
		if (*p == '\0' || strchr(conv, *p) == NULL)
			return false;
	}
	return true;
}

/* mechs_ok - SASL mechanism names are upper-case letters, digits, '-' and '_' */
static bool
mechs_ok(const char *s)
{
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (!isalnum(c) && c != '-' && c != '_' && c != ' ')
			return false;
	}
	return true;
}

/* set_setting - one key of [settings] */
static int
set_setting(struct parse *ps, struct persona *p, const char *key, const char *val)
{
	bool b;

	if (strcmp(key, "ttl") == 0) {
		p->set |= S_TTL;
		return parse_int(ps, key, val, 0, 255, &p->ttl);
	}
	if (strcmp(key, "delay_banner_ms") == 0) {
		p->set |= S_DELAY_BANNER;
		return parse_int(ps, key, val, 0, 600000, &p->delay_banner_ms);
	}
	if (strcmp(key, "delay_reply_ms") == 0) {
		p->set |= S_DELAY_REPLY;
		return parse_int(ps, key, val, 0, 600000, &p->delay_reply_ms);
	}
	if (strcmp(key, "delay_jitter_ms") == 0) {
		p->set |= S_DELAY_JITTER;
		return parse_int(ps, key, val, 0, 60000, &p->delay_jitter_ms);
	}
	if (strcmp(key, "require_helo") == 0 || strcmp(key, "append_domain") == 0 ||
	    strcmp(key, "strict_crlf") == 0) {
		if (parse_bool(val, &b) == -1)
			return perr(ps, "%s: \"%.40s\" is not a boolean (use yes or no)", key, val);
		if (key[0] == 'r') {
			p->require_helo = b;
			p->set |= S_REQUIRE_HELO;
		} else if (key[0] == 'a') {
			p->append_domain = b;
			p->set |= S_APPEND_DOMAIN;
		} else {
			p->strict_crlf = b;
			p->set |= S_STRICT_CRLF;
		}
		return 0;
	}
	if (strcmp(key, "msgid_style") == 0) {
		if (strcmp(val, "exchange") == 0)
			p->msgid_style = MSGID_EXCHANGE;
		else if (strcmp(val, "postfix") == 0)
			p->msgid_style = MSGID_POSTFIX;
		else if (strcmp(val, "sendmail") == 0)
			p->msgid_style = MSGID_SENDMAIL;
		else
			return perr(ps,
			            "msgid_style: \"%.40s\" is unknown (use exchange, postfix "
			            "or sendmail)",
			            val);
		p->set |= S_MSGID_STYLE;
		return 0;
	}
	if (strcmp(key, "date_format") == 0) {
		if (strlen(val) >= sizeof(p->date_format))
			return perr(ps, "date_format: longer than %zu bytes (shorten it)",
			            sizeof(p->date_format) - 1);
		if (!datefmt_ok(val))
			return perr(
			    ps, "date_format: unsupported conversion (use strftime "
			        "conversions such as %%a %%d %%-d %%b %%Y %%H %%M %%S %%z %%Z)");
		strlcpy(p->date_format, val, sizeof(p->date_format));
		p->set |= S_DATE_FORMAT;
		return 0;
	}
	if (strcmp(key, "day_names") == 0) {
		p->set |= S_DAY_NAMES;
		return parse_words(ps, key, val, 7, p->day_names);
	}
	if (strcmp(key, "month_names") == 0) {
		p->set |= S_MONTH_NAMES;
		return parse_words(ps, key, val, 12, p->month_names);
	}
	if (strcmp(key, "auth_mechanisms") == 0) {
		if (strlen(val) >= sizeof(p->auth_mechs) || !mechs_ok(val))
			return perr(ps, "auth_mechanisms: give space-separated mechanism names "
			                "such as \"GSSAPI NTLM LOGIN\"");
		strlcpy(p->auth_mechs, val, sizeof(p->auth_mechs));
		p->set |= S_AUTH_MECHS;
		return 0;
	}
	return perr(ps, "unknown key \"%.40s\" in [settings] (see docs/personas.md)", key);
}

/* set_persona_key - one key of [persona] */
static int
set_persona_key(struct parse *ps, struct persona *p, const char *key, const char *val)
{
	if (strcmp(key, "name") == 0) {
		if (!valid_name(val))
			return perr(ps,
			            "name: \"%.40s\" is not a valid name (use letters, digits, "
			            "'.', '-', '_')",
			            val);
		strlcpy(p->name, val, sizeof(p->name));
		ps->has_name = true;
		return 0;
	}
	if (strcmp(key, "product") == 0) {
		if (strlen(val) >= sizeof(p->product))
			return perr(ps, "product: longer than %zu bytes (shorten it)",
			            sizeof(p->product) - 1);
		strlcpy(p->product, val, sizeof(p->product));
		p->set |= S_PRODUCT;
		return 0;
	}
	if (strcmp(key, "base") == 0) {
		if (!valid_name(val))
			return perr(ps, "base: \"%.40s\" is not a persona name", val);
		strlcpy(ps->base, val, sizeof(ps->base));
		ps->base_line = ps->line;
		return 0;
	}
	return perr(ps, "unknown key \"%.40s\" in [persona] (use name, product or base)", key);
}

/* reply_index - the enum for a reply key, or -1 */
static int
reply_index(const char *key)
{
	for (int i = 0; i < PR__COUNT; i++)
		if (strcmp(reply_keys[i], key) == 0)
			return i;
	return -1;
}

/* set_reply - "key = value" or "key += value" in [replies] */
static int
set_reply(struct parse *ps, struct persona *p, const char *key, bool append, const char *val,
          size_t vlen)
{
	int r = reply_index(key);
	char *s;

	if (r < 0)
		return perr(ps, "unknown reply key \"%.40s\" (see the list in docs/personas.md)",
		            key);
	if (!append) {
		if (p->reply[r] != NULL)
			return perr(ps, "%s: set twice (use += to add a line)", key);
		if ((s = malloc(vlen + 1)) == NULL)
			return perr(ps, "out of memory");
		memcpy(s, val, vlen);
		s[vlen] = '\0';
	} else {
		if (p->reply[r] == NULL)
			return perr(ps, "%s: += before = (set the first line with =)", key);
		size_t old = strlen(p->reply[r]);
		if (old + 1 + vlen > PERSONA_REPLY_MAX)
			return perr(ps, "%s: reply longer than %d bytes (shorten it)", key,
			            PERSONA_REPLY_MAX);
		if ((s = realloc(p->reply[r], old + 1 + vlen + 1)) == NULL)
			return perr(ps, "out of memory");
		s[old] = '\n';
		memcpy(s + old + 1, val, vlen);
		s[old + 1 + vlen] = '\0';
	}
	p->reply[r] = s;
	ps->reply_line[r] = ps->line;
	return 0;
}

/* var_match - bytes used by a known variable at s (just after '$', "name" or "{name}"), 0 if
 * none; name and namelen get the bare name */
static size_t
var_match(const char *s, size_t n, const char **name, size_t *namelen)
{
	static const char *const vars[] = {"hostname", "netbios", "domain", "date",  "client_ip",
	                                   "helo",     "addr",    "arg",    "msgid", "octets"};
	size_t len = 0;
	bool brace = n > 0 && s[0] == '{';
	const char *start = s + (brace ? 1 : 0);
	size_t avail = n - (brace ? 1 : 0);

	while (len < avail && (islower((unsigned char)start[len]) || start[len] == '_'))
		len++;
	if (brace && (len >= avail || start[len] != '}'))
		return 0;
	/* The longest known name that is a prefix wins, so "$addr...." works. */
	size_t best = 0;
	for (size_t i = 0; i < ARRAY_LEN(vars); i++) {
		size_t vl = strlen(vars[i]);
		if (vl <= len && memcmp(start, vars[i], vl) == 0 && vl > best &&
		    (!brace || vl == len))
			best = vl;
	}
	if (best == 0)
		return 0;
	*name = start;
	*namelen = best;
	return best + (brace ? 2 : 0);
}

/* check_reply - every line starts with a 3-digit code; only the last line uses "NNN " */
static int
check_reply(struct parse *ps, const char *key, const char *s)
{
	const char *line = s;

	for (;;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
		bool last = nl == NULL;

		if (len < 3 || line[0] < '2' || line[0] > '5' || !isdigit((unsigned char)line[1]) ||
		    !isdigit((unsigned char)line[2]))
			return perr(ps,
			            "%s: every line must start with a 3-digit reply code "
			            "(e.g. \"250 OK\")",
			            key);
		if (len > 3 && line[3] != ' ' && line[3] != '-')
			return perr(ps, "%s: the reply code must be followed by ' ' or '-'", key);
		if (!last && (len < 4 || line[3] != '-'))
			return perr(ps, "%s: lines before the last must be \"NNN-text\"", key);
		if (last && len > 3 && line[3] == '-')
			return perr(ps, "%s: the last line must be \"NNN text\", not \"NNN-\"",
			            key);
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)line[i];
			if (c == '\r' || (c < 0x20 && c != '\t') || c == 0x7f)
				return perr(ps,
				            "%s: control byte in a reply (lines are joined "
				            "with CRLF automatically)",
				            key);
			if (c == '$') {
				const char *nm;
				size_t nl2;
				if (i + 1 < len && line[i + 1] == '$') {
					i++;
					continue;
				}
				size_t used = var_match(line + i + 1, len - i - 1, &nm, &nl2);
				if (used == 0)
					return perr(ps,
					            "%s: unknown variable after '$' (use "
					            "$hostname $netbios $domain $date "
					            "$client_ip $helo $addr $arg $msgid "
					            "$octets or $$)",
					            key);
				i += used;
			}
		}
		if (last)
			break;
		line = nl + 1;
	}
	return 0;
}

/* read_value - the value after '=': quoted with escapes, or bare and trimmed */
static int
read_value(struct parse *ps, const char *s, const char *end, char *out, size_t *outlen)
{
	size_t n = 0;

	if (s < end && *s == '"') {
		s++;
		for (;;) {
			if (s >= end)
				return perr(ps, "unterminated quoted value (add the closing '\"')");
			unsigned char c = (unsigned char)*s++;
			if (c == '"')
				break;
			if (c == '\\') {
				if (s >= end)
					return perr(ps, "'\\' at end of line (write \\\\ for a "
					                "backslash)");
				switch (*s++) {
				case 'n':
					c = '\n';
					break;
				case 't':
					c = '\t';
					break;
				case 'r':
					c = '\r';
					break;
				case '"':
					c = '"';
					break;
				case '\\':
					c = '\\';
					break;
				default:
					return perr(ps,
					            "bad escape \"\\%c\" (use \\n \\t \\r \\\" "
					            "or \\\\)",
					            isprint((unsigned char)s[-1]) ? s[-1] : '?');
				}
			} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
				return perr(ps, "control byte in value (use an escape)");
			}
			if (n >= PERSONA_REPLY_MAX)
				return perr(ps, "value longer than %d bytes (shorten it)",
				            PERSONA_REPLY_MAX);
			out[n++] = (char)c;
		}
		while (s < end && (*s == ' ' || *s == '\t'))
			s++;
		if (s < end && *s != '#')
			return perr(ps, "text after the closing quote (put comments after '#')");
	} else {
		while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		for (; s < end; s++) {
			unsigned char c = (unsigned char)*s;
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return perr(ps, "control byte in value (use an escape)");
			if (n >= PERSONA_REPLY_MAX)
				return perr(ps, "value longer than %d bytes (shorten it)",
				            PERSONA_REPLY_MAX);
			out[n++] = (char)c;
		}
	}
	out[n] = '\0';
	*outlen = n;
	return 0;
}

/* parse_line - one line of a persona file (without its line ending) */
static int
parse_line(struct parse *ps, struct persona *p, const char *s, const char *end, char *val)
{
	char key[48];
	size_t klen = 0, vlen = 0;
	bool append = false;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (s == end || *s == '#')
		return 0;
	if (*s == '[') {
		const char *e = end;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		size_t n = (size_t)(e - s);
		if (n == 9 && memcmp(s, "[persona]", 9) == 0)
			ps->section = 1;
		else if (n == 10 && memcmp(s, "[settings]", 10) == 0)
			ps->section = 2;
		else if (n == 9 && memcmp(s, "[replies]", 9) == 0)
			ps->section = 3;
		else
			return perr(ps, "unknown section (use [persona], [settings] or [replies])");
		return 0;
	}
	while (s < end && (islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_')) {
		if (klen + 1 >= sizeof(key))
			return perr(ps, "key too long (see docs/personas.md for the keys)");
		key[klen++] = *s++;
	}
	key[klen] = '\0';
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (s < end && *s == '+') {
		append = true;
		s++;
	}
	if (klen == 0 || s >= end || *s != '=')
		return perr(ps, "expected \"key = value\" (keys are lower-case, e.g. mail_ok)");
	s++;
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (read_value(ps, s, end, val, &vlen) == -1)
		return -1;
	if (ps->section == 0)
		return perr(ps, "key before any section (start with [persona], [settings] or "
		                "[replies])");
	if (append && ps->section != 3)
		return perr(ps, "+= works only in [replies]");
	if (ps->section == 1)
		return set_persona_key(ps, p, key, val);
	if (ps->section == 2)
		return set_setting(ps, p, key, val);
	return set_reply(ps, p, key, append, val, vlen);
}

/* base_name_from_label - the default persona name: the file name without ".persona" */
static void
base_name_from_label(const char *label, char *out, size_t outlen)
{
	const char *b = strrchr(label, '/');
	b = b != NULL ? b + 1 : label;
	strlcpy(out, b, outlen);
	size_t n = strlen(out);
	if (n > 8 && strcmp(out + n - 8, ".persona") == 0)
		out[n - 8] = '\0';
}

/* apply_defaults - values for every setting the file chain did not give */
static void
apply_defaults(struct persona *p)
{
	if (!(p->set & S_DATE_FORMAT))
		strlcpy(p->date_format, "%a, %-d %b %Y %H:%M:%S %z", sizeof(p->date_format));
	if (!(p->set & S_DAY_NAMES))
		for (int i = 0; i < 7; i++)
			strlcpy(p->day_names[i], en_days[i], sizeof(p->day_names[i]));
	if (!(p->set & S_MONTH_NAMES))
		for (int i = 0; i < 12; i++)
			strlcpy(p->month_names[i], en_months[i], sizeof(p->month_names[i]));
	if (!(p->set & S_APPEND_DOMAIN))
		p->append_domain = true;
	if (!(p->set & S_STRICT_CRLF))
		p->strict_crlf = false;
	if (!(p->set & S_MSGID_STYLE))
		p->msgid_style = MSGID_EXCHANGE;
}

/* inherit - copy from base everything this file did not set itself */
static int
inherit(struct persona *p, const struct persona *b)
{
	for (int i = 0; i < PR__COUNT; i++) {
		if (p->reply[i] != NULL || b->reply[i] == NULL)
			continue;
		if ((p->reply[i] = strdup(b->reply[i])) == NULL)
			return -1;
	}
	if (!(p->set & S_PRODUCT))
		memcpy(p->product, b->product, sizeof(p->product));
	if (!(p->set & S_TTL))
		p->ttl = b->ttl;
	if (!(p->set & S_DELAY_BANNER))
		p->delay_banner_ms = b->delay_banner_ms;
	if (!(p->set & S_DELAY_REPLY))
		p->delay_reply_ms = b->delay_reply_ms;
	if (!(p->set & S_DELAY_JITTER))
		p->delay_jitter_ms = b->delay_jitter_ms;
	if (!(p->set & S_REQUIRE_HELO))
		p->require_helo = b->require_helo;
	if (!(p->set & S_APPEND_DOMAIN))
		p->append_domain = b->append_domain;
	if (!(p->set & S_STRICT_CRLF))
		p->strict_crlf = b->strict_crlf;
	if (!(p->set & S_MSGID_STYLE))
		p->msgid_style = b->msgid_style;
	if (!(p->set & S_DATE_FORMAT))
		memcpy(p->date_format, b->date_format, sizeof(p->date_format));
	if (!(p->set & S_DAY_NAMES))
		memcpy(p->day_names, b->day_names, sizeof(p->day_names));
	if (!(p->set & S_MONTH_NAMES))
		memcpy(p->month_names, b->month_names, sizeof(p->month_names));
	if (!(p->set & S_AUTH_MECHS))
		memcpy(p->auth_mechs, b->auth_mechs, sizeof(p->auth_mechs));
	/* The base's choices count as set, so a chain of three keeps the middle one's values. */
	p->set |= b->set;
	return 0;
}

/* load_base - a base persona: DIR/NAME.persona when it exists, else the built-in; from/line
 * name the "base =" line that asked for it (NULL when none did), so an unknown base is
 * reported where it was written */
static struct persona *
load_base(const char *name, const char *dir, int depth, const char *from, unsigned long line,
          char *err, size_t errlen)
{
	char path[1024];
	struct stat st;

	if (dir != NULL && dir[0] != '\0') {
		int n = snprintf(path, sizeof(path), "%s/%s.persona", dir, name);
		if (n > 0 && (size_t)n < sizeof(path) && stat(path, &st) == 0) {
			FILE *f = NULL;
			char *buf = NULL;
			struct persona *p = NULL;
			size_t len;

			if (!S_ISREG(st.st_mode) || st.st_size > PERSONA_FILE_MAX) {
				seterr(err, errlen, "%s: not a regular file of at most %d bytes",
				       path, PERSONA_FILE_MAX);
				goto done;
			}
			if ((f = fopen(path, "rb")) == NULL) {
				seterr(err, errlen, "%s: %s", path, strerror(errno));
				goto done;
			}
			if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
				seterr(err, errlen, "%s: out of memory", path);
				goto done;
			}
			len = fread(buf, 1, (size_t)st.st_size + 1, f);
			if (ferror(f) || len > (size_t)st.st_size) {
				seterr(err, errlen, "%s: read error or file changed", path);
				goto done;
			}
			p = parse_buf(buf, len, path, dir, depth, err, errlen);
		done:
			if (f != NULL)
				fclose(f);
			free(buf);
			return p;
		}
	}
	for (size_t i = 0; i < persona_builtins_count; i++) {
		const struct persona_builtin *b = &persona_builtins[i];
		if (strcmp(b->name, name) == 0) {
			char label[PERSONA_NAME_MAX + 32];
			snprintf(label, sizeof(label), "personas/%s.persona", b->name);
			return parse_buf((const char *)b->text, b->len, label, NULL, depth, err,
			                 errlen);
		}
	}
	if (from != NULL && dir != NULL && dir[0] != '\0')
		seterr(err, errlen,
		       "%s:%lu: base persona \"%s\" not found (no file %s/%s.persona and no "
		       "built-in of that name)",
		       from, line, name, dir, name);
	else if (from != NULL)
		seterr(err, errlen,
		       "%s:%lu: base persona \"%s\" not found (no built-in of that name)", from,
		       line, name);
	else
		seterr(err, errlen, "base persona \"%s\" not found", name);
	return NULL;
}

/* parse_buf - the whole parser: lines, then base inheritance, then completeness checks */
static struct persona *
parse_buf(const char *buf, size_t len, const char *label, const char *dir, int depth, char *err,
          size_t errlen)
{
	struct parse ps;
	struct persona *p = NULL, *base = NULL;
	char *val = NULL;
	size_t off = 0;

	memset(&ps, 0, sizeof(ps));
	ps.label = label;
	ps.dir = dir;
	ps.depth = depth;
	ps.err = err;
	ps.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (len > PERSONA_FILE_MAX) {
		perr(&ps, "file larger than %d bytes", PERSONA_FILE_MAX);
		goto fail;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL || (val = malloc(PERSONA_REPLY_MAX + 1)) == NULL) {
		perr(&ps, "out of memory");
		goto fail;
	}
	while (off < len) {
		const char *s = buf + off;
		const char *nl = memchr(s, '\n', len - off);
		const char *end = nl != NULL ? nl : buf + len;

		ps.line++;
		off = (size_t)(end - buf) + (nl != NULL ? 1 : 0);
		if ((size_t)(end - s) > PERSONA_LINE_MAX) {
			perr(&ps, "line longer than %d bytes (split it with +=)", PERSONA_LINE_MAX);
			goto fail;
		}
		if (memchr(s, '\0', (size_t)(end - s)) != NULL) {
			perr(&ps, "NUL byte in file (is it a text file?)");
			goto fail;
		}
		if (end > s && end[-1] == '\r')
			end--;
		if (parse_line(&ps, p, s, end, val) == -1)
			goto fail;
	}
	for (int i = 0; i < PR__COUNT; i++) {
		if (p->reply[i] == NULL)
			continue;
		ps.line = ps.reply_line[i];
		if (check_reply(&ps, reply_keys[i], p->reply[i]) == -1)
			goto fail;
	}
	if (!ps.has_name)
		base_name_from_label(label, p->name, sizeof(p->name));
	if (ps.base[0] != '\0') {
		if (depth + 1 >= PERSONA_BASE_DEPTH) {
			seterr(err, errlen, "%s: base chain deeper than %d (is there a loop?)",
			       label, PERSONA_BASE_DEPTH);
			goto fail;
		}
		if ((base = load_base(ps.base, dir, depth + 1, label, ps.base_line, err, errlen)) ==
		    NULL)
			goto fail;
		if (inherit(p, base) == -1) {
			seterr(err, errlen, "%s: out of memory", label);
			goto fail;
		}
	}
	for (int i = 0; i < PR__COUNT; i++) {
		if (p->reply[i] == NULL) {
			seterr(err, errlen,
			       "%s: missing reply \"%s\" (add it to [replies], or inherit it with "
			       "base = NAME in [persona])",
			       label, reply_keys[i]);
			goto fail;
		}
	}
	apply_defaults(p);
	persona_free(base);
	free(val);
	return p;
fail:
	persona_free(base);
	persona_free(p);
	free(val);
	return NULL;
}

/* persona_load_mem - parse a persona held in memory; base names resolve to built-ins */
struct persona *
persona_load_mem(const char *buf, size_t len, const char *label, char *err, size_t errlen)
{
	return parse_buf(buf, len, label != NULL ? label : "(memory)", NULL, 0, err, errlen);
}

/* persona_load_file - read and parse a file; its directory is searched first for base */
struct persona *
persona_load_file(const char *path, char *err, size_t errlen)
{
	char dir[1024];
	FILE *f = NULL;
	char *buf = NULL;
	struct persona *p = NULL;
	size_t len;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (strlcpy(dir, path, sizeof(dir)) >= sizeof(dir)) {
		seterr(err, errlen, "%.200s...: path too long", path);
		goto done;
	}
	char *slash = strrchr(dir, '/');
	if (slash == NULL)
		strlcpy(dir, ".", sizeof(dir));
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if ((f = fopen(path, "rb")) == NULL) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	if ((buf = malloc(PERSONA_FILE_MAX + 1)) == NULL) {
		seterr(err, errlen, "%s: out of memory", path);
		goto done;
	}
	len = fread(buf, 1, PERSONA_FILE_MAX + 1, f);
	if (ferror(f)) {
		seterr(err, errlen, "%s: read error", path);
		goto done;
	}
	if (len > PERSONA_FILE_MAX) {
		seterr(err, errlen, "%s: larger than %d bytes", path, PERSONA_FILE_MAX);
		goto done;
	}
	p = parse_buf(buf, len, path, dir, 0, err, errlen);
done:
	if (f != NULL)
		fclose(f);
	free(buf);
	return p;
}

/* persona_load_builtin - parse one of the compiled-in files */
struct persona *
persona_load_builtin(const char *name)
{
	char err[256];

	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < persona_builtins_count; i++)
		if (strcmp(persona_builtins[i].name, name) == 0)
			return load_base(name, NULL, 0, NULL, 0, err, sizeof(err));
	return NULL;
}

/* persona_load - a path, a file in dir, or a built-in, in that order */
struct persona *
persona_load(const char *name_or_path, const char *dir, char *err, size_t errlen)
{
	char path[1024];
	struct stat st;

	if (name_or_path == NULL || name_or_path[0] == '\0') {
		seterr(err, errlen, "empty persona name");
		return NULL;
	}
	if (strchr(name_or_path, '/') != NULL)
		return persona_load_file(name_or_path, err, errlen);
	if (!valid_name(name_or_path)) {
		seterr(err, errlen, "\"%.64s\" is not a persona name or path", name_or_path);
		return NULL;
	}
	if (dir != NULL && dir[0] != '\0') {
		int n = snprintf(path, sizeof(path), "%s/%s.persona", dir, name_or_path);
		if (n > 0 && (size_t)n < sizeof(path) && stat(path, &st) == 0)
			return persona_load_file(path, err, errlen);
	}
	for (size_t i = 0; i < persona_builtins_count; i++)
		if (strcmp(persona_builtins[i].name, name_or_path) == 0)
			return load_base(name_or_path, NULL, 0, NULL, 0, err, errlen);
	seterr(err, errlen, "persona \"%s\" not found (no file %s/%s.persona and no built-in)",
	       name_or_path, dir != NULL ? dir : ".", name_or_path);
	return NULL;
}

/* persona_builtin_names - the generated table's names, in build order */
const char *const *
persona_builtin_names(void)
{
	static const char *names[16];
	size_t n = persona_builtins_count < ARRAY_LEN(names) - 1 ? persona_builtins_count
	                                                         : ARRAY_LEN(names) - 1;

	for (size_t i = 0; i < n; i++)
		names[i] = persona_builtins[i].name;
	names[n] = NULL;
	return names;
}

/* persona_free - release a persona and its reply strings; NULL is a no-op */
void
persona_free(struct persona *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < PR__COUNT; i++)
		free(p->reply[i]);
	free(p);
}

/* persona_name - the [persona] name, or the file name without ".persona" */
const char *
persona_name(const struct persona *p)
{
	return p->name;
}

/* persona_product - free text describing what is imitated */
const char *
persona_product(const struct persona *p)
{
	return p->product;
}

/* persona_reply - the raw template; out-of-range values get LOCAL_ERROR */
const char *
persona_reply(const struct persona *p, enum persona_reply r)
{
	if ((int)r < 0 || r >= PR__COUNT)
		r = PR_LOCAL_ERROR;
	return p->reply[r];
}

/* persona_reply_key - the persona file key of a reply */
const char *
persona_reply_key(enum persona_reply r)
{
	if ((int)r < 0 || r >= PR__COUNT)
		return "";
	return reply_keys[r];
}

/* persona_ttl - IP TTL the listener should set */
int
persona_ttl(const struct persona *p)
{
	return p->ttl;
}

/* persona_delay_banner_ms - pause before the banner */
int
persona_delay_banner_ms(const struct persona *p)
{
	return p->delay_banner_ms;
}

/* persona_delay_reply_ms - pause before each reply */
int
persona_delay_reply_ms(const struct persona *p)
{
	return p->delay_reply_ms;
}

/* persona_delay_jitter_ms - random spread on both delays */
int
persona_delay_jitter_ms(const struct persona *p)
{
	return p->delay_jitter_ms;
}

/* persona_require_helo - whether MAIL before HELO/EHLO is refused */
bool
persona_require_helo(const struct persona *p)
{
	return p->require_helo;
}

/* persona_msgid_style - how $msgid is made */
enum persona_msgid_style
persona_msgid_style(const struct persona *p)
{
	return p->msgid_style;
}

/* persona_date_format - the strftime format of $date */
const char *
persona_date_format(const struct persona *p)
{
	return p->date_format;
}

/* persona_append_domain - whether bare local parts get "@domain" */
bool
persona_append_domain(const struct persona *p)
{
	return p->append_domain;
}

/* persona_strict_crlf - whether only CRLF ends a command by default */
bool
persona_strict_crlf(const struct persona *p)
{
	return p->strict_crlf;
}

/* word_eq - case-insensitive compare of a length-delimited word with a C string */
static bool
word_eq(const char *w, size_t wlen, const char *s)
{
	return strlen(s) == wlen && strncasecmp(w, s, wlen) == 0;
}

/* persona_auth_mech - whether mech is in auth_mechanisms */
bool
persona_auth_mech(const struct persona *p, const char *mech)
{
	const char *s = p->auth_mechs;

	if (mech == NULL || mech[0] == '\0')
		return false;
	while (*s != '\0') {
		while (*s == ' ')
			s++;
		const char *w = s;
		while (*s != '\0' && *s != ' ')
			s++;
		if (s > w && word_eq(w, (size_t)(s - w), mech))
			return true;
	}
	return false;
}

/* persona_advertises - whether an EHLO line after the greeting starts with keyword */
bool
persona_advertises(const struct persona *p, const char *keyword)
{
	char buf[PERSONA_REPLY_MAX + 256];
	struct persona_vars v;
	const char *line;

	if (keyword == NULL || keyword[0] == '\0')
		return false;
	memset(&v, 0, sizeof(v));
	v.now = 1;
	if (persona_expand(p, PR_EHLO, &v, buf, sizeof(buf)) < 0)
		return false;
	/* The first line is the greeting ("250-host Hello"), not an extension. */
	line = strstr(buf, "\r\n");
	while (line != NULL && line[2] != '\0') {
		line += 2;
		if (strnlen(line, 5) < 5)
			break;
		const char *w = line + 4;
		const char *e = w;
		while (*e != '\0' && *e != ' ' && *e != '\r')
			e++;
		if (word_eq(w, (size_t)(e - w), keyword))
			return true;
		line = strstr(line, "\r\n");
	}
	return false;
}

/* out_put - append bytes if they fit; returns -1 once the buffer is full */
static int
out_put(char *out, size_t outlen, size_t *pos, const char *s, size_t n)
{
	if (*pos + n + 1 > outlen)
		return -1;
	memcpy(out + *pos, s, n);
	*pos += n;
	out[*pos] = '\0';
	return 0;
}

/* out_clean - append a variable: control bytes dropped, cut to PERSONA_VAR_MAX bytes */
static int
out_clean(char *out, size_t outlen, size_t *pos, const char *s)
{
	size_t kept = 0;

	if (s == NULL)
		return 0;
	for (; *s != '\0' && kept < PERSONA_VAR_MAX; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f)
			continue;
		if (out_put(out, outlen, pos, s, 1) == -1)
			return -1;
		kept++;
	}
	return 0;
}

/* c_locale - a cached "C" locale so $date never follows the process locale */
static locale_t
c_locale(void)
{
	static locale_t loc = (locale_t)0;

	if (loc == (locale_t)0)
		loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	return loc;
}

/* format_date - strftime with the persona's day/month names and %-X for unpadded numbers */
static void
format_date(const struct persona *p, int64_t now, char *out, size_t outlen)
{
	time_t t = now != 0 ? (time_t)now : time(NULL);
	struct tm tm;
	size_t pos = 0;
	char tmp[64], fmt[4];
	locale_t loc = c_locale();

	out[0] = '\0';
	if (localtime_r(&t, &tm) == NULL)
		return;
	for (const char *f = p->date_format; *f != '\0'; f++) {
		const char *piece = tmp;
		size_t n;
		bool unpad = false;

		if (*f != '%') {
			if (out_put(out, outlen, &pos, f, 1) == -1)
				return;
			continue;
		}
		f++;
		if (*f == '-') {
			unpad = true;
			f++;
		}
		if (*f == '\0')
			return;
		if (*f == 'a' && tm.tm_wday >= 0 && tm.tm_wday < 7) {
			piece = p->day_names[tm.tm_wday];
			n = strlen(piece);
		} else if (*f == 'b' && tm.tm_mon >= 0 && tm.tm_mon < 12) {
			piece = p->month_names[tm.tm_mon];
			n = strlen(piece);
		} else {
			fmt[0] = '%';
			fmt[1] = *f;
			fmt[2] = '\0';
			/* fmt is one conversion that datefmt_ok() allowed at load time. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
			n = loc != (locale_t)0 ? strftime_l(tmp, sizeof(tmp), fmt, &tm, loc)
			                       : strftime(tmp, sizeof(tmp), fmt, &tm);
#pragma GCC diagnostic pop
			/* Unpadded numbers drop leading zeros or spaces but keep one digit. */
			while (unpad && n > 1 && (piece[0] == '0' || piece[0] == ' ')) {
				piece++;
				n--;
			}
		}
		if (out_put(out, outlen, &pos, piece, n) == -1)
			return;
	}
}

/* expand - render a template; lines end in CRLF; -1 if out is too small */
static int
expand(const struct persona *p, const char *tmpl, const struct persona_vars *v, char *out,
       size_t outlen)
{
	size_t pos = 0;
	char num[32], date[PERSONA_DATE_OUT_MAX];
	struct persona_vars empty;

	if (v == NULL) {
		memset(&empty, 0, sizeof(empty));
		v = &empty;
	}
	if (outlen == 0)
		return -1;
	out[0] = '\0';
	for (const char *s = tmpl; *s != '\0'; s++) {
		const char *name;
		size_t namelen, used;
		int rc = 0;

		if (*s == '\n') {
			rc = out_put(out, outlen, &pos, "\r\n", 2);
		} else if (*s != '$') {
			rc = out_put(out, outlen, &pos, s, 1);
		} else if (s[1] == '$') {
			rc = out_put(out, outlen, &pos, "$", 1);
			s++;
		} else if ((used = var_match(s + 1, strnlen(s + 1, 16), &name, &namelen)) == 0) {
			rc = out_put(out, outlen, &pos, "$", 1);
		} else {
			/* Values are copied, never scanned again, so "$hostname" inside an
			 * attacker's HELO stays literal text. */
			if (word_eq(name, namelen, "hostname"))
				rc = out_clean(out, outlen, &pos, v->hostname);
			else if (word_eq(name, namelen, "netbios"))
				rc = out_clean(out, outlen, &pos, v->netbios);
			else if (word_eq(name, namelen, "domain"))
				rc = out_clean(out, outlen, &pos, v->domain);
			else if (word_eq(name, namelen, "client_ip"))
				rc = out_clean(out, outlen, &pos, v->client_ip);
			else if (word_eq(name, namelen, "helo"))
				rc = out_clean(out, outlen, &pos, v->helo);
			else if (word_eq(name, namelen, "addr"))
				rc = out_clean(out, outlen, &pos, v->addr);
			else if (word_eq(name, namelen, "arg"))
				rc = out_clean(out, outlen, &pos, v->arg);
			else if (word_eq(name, namelen, "msgid"))
				rc = out_clean(out, outlen, &pos, v->msgid);
			else if (word_eq(name, namelen, "octets")) {
				snprintf(num, sizeof(num), "%llu", (unsigned long long)v->octets);
				rc = out_put(out, outlen, &pos, num, strlen(num));
			} else {
				format_date(p, v->now, date, sizeof(date));
				rc = out_clean(out, outlen, &pos, date);
			}
			s += used;
		}
		if (rc == -1)
			return -1;
	}
	if (out_put(out, outlen, &pos, "\r\n", 2) == -1)
		return -1;
	return (int)pos;
}

/* overflow_reply - what goes out when a reply does not fit: the persona's local error, or a
 * generic one, or nothing when even that does not fit */
static void
overflow_reply(const struct persona *p, char *out, size_t outlen)
{
	static const char generic[] = "451 4.3.0 Local error\r\n";

	if (outlen == 0)
		return;
	if (p != NULL && p->reply[PR_LOCAL_ERROR] != NULL &&
	    expand(p, p->reply[PR_LOCAL_ERROR], NULL, out, outlen) >= 0)
		return;
	if (outlen > strlen(generic))
		memcpy(out, generic, sizeof(generic));
	else
		out[0] = '\0';
}

/* persona_expand - render one of the persona's replies */
int
persona_expand(const struct persona *p, enum persona_reply r, const struct persona_vars *v,
               char *out, size_t outlen)
{
	int n;

	if ((int)r < 0 || r >= PR__COUNT) {
		overflow_reply(p, out, outlen);
		return -1;
	}
	if ((n = expand(p, p->reply[r], v, out, outlen)) < 0)
		overflow_reply(p, out, outlen);
	return n;
}

/* persona_expand_str - render an arbitrary template with this persona's date settings */
int
persona_expand_str(const struct persona *p, const char *tmpl, const struct persona_vars *v,
                   char *out, size_t outlen)
{
	int n;

	if (tmpl == NULL) {
		overflow_reply(p, out, outlen);
		return -1;
	}
	if ((n = expand(p, tmpl, v, out, outlen)) < 0)
		overflow_reply(p, out, outlen);
	return n;
}

static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* persona_msgid - the next queue id in the persona's style (see persona.h) */
void
persona_msgid(const struct persona *p, const char *netbios, uint64_t counter, char *out,
              size_t outlen)
{
	/* Sendmail's base-60 digits for the date fields and sequence of its queue ids. */
	static const char b60[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwx";
	char id[64];
	size_t n = 0;

	if (out == NULL || outlen == 0)
		return;
	switch (p->msgid_style) {
	case MSGID_POSTFIX: {
		static const char hex[] = "0123456789ABCDEF";
		rand_chars(id, 10, hex, 16);
		id[10] = '\0';
		break;
	}
	case MSGID_SENDMAIL: {
		time_t t = time(NULL);
		struct tm tm;
		if (localtime_r(&t, &tm) == NULL)
			memset(&tm, 0, sizeof(tm));
		/* Sendmail forks per message, so a fresh plausible pid each time is realistic. */
		snprintf(id, sizeof(id), "%c%c%c%c%c%c%c%c%06u", b60[(tm.tm_year % 60 + 60) % 60],
		         b60[tm.tm_mon % 60], b60[tm.tm_mday % 60], b60[tm.tm_hour % 60],
		         b60[tm.tm_min % 60], b60[tm.tm_sec % 60], b60[(counter / 60) % 60],
		         b60[counter % 60], (unsigned)(1000 + rand_uniform(31000)));
		break;
	}
	case MSGID_EXCHANGE:
	default:
		if (netbios != NULL) {
			for (; netbios[n] != '\0' && n < 15; n++) {
				unsigned char c = (unsigned char)netbios[n];
				id[n] = isalnum(c) || c == '-' ? (char)c : 'X';
			}
		}
		if (n < 19) {
			rand_chars(id + n, 19 - n, alnum, sizeof(alnum) - 1);
			n = 19;
		}
		snprintf(id + n, sizeof(id) - n, "%08llx",
		         (unsigned long long)(counter & 0xffffffffULL));
		break;
	}
	strlcpy(out, id, outlen);
}
