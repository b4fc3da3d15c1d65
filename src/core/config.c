/* SPDX-License-Identifier: ISC */
/*
 * config - built-in defaults, the config file parser, command-line overrides and cross checks.
 *
 * Owns: the key table (every setting, its parser, its range) and struct config's heap part
 *       (config->file; config_free releases it).
 * Public: config_defaults, config_load_file, config_set, config_add_listener,
 *         config_add_proxy_from, config_check, config_free, config_keys, cidr_parse, cidr_match.
 * Limits: config file lines at most CONFIG_LINE_MAX bytes, listeners CONFIG_MAX_LISTENERS,
 *         proxy_from entries CONFIG_MAX_PROXY_FROM; values echoed in error messages are escaped
 *         and truncated so a hostile file cannot write control bytes to a terminal.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/util.h>

#include "enrich/dnsbl.h"
#include "log.h"
#include "str.h"
#include "util.h"

/* The build may pass the install location of the shipped personas (meson's datadir). */
#ifndef RELAYTRAP_PERSONA_DIR
#define RELAYTRAP_PERSONA_DIR "/usr/share/relaytrap/personas"
#endif

#define KIB ((uint64_t)1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)
#define TIB (GIB * 1024)
#define SEC_MS ((uint64_t)1000)
#define MIN_MS (60 * SEC_MS)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)

/* Room for an escaped, truncated copy of an operator value inside an error message. */
#define ESC_MAX 72

enum store_kind { ST_STR, ST_UNSIGNED, ST_SIZE_T, ST_U64, ST_INT, ST_BOOL, ST_NONE };

struct key_def;
typedef int (*key_setter)(struct config *c, const struct key_def *k, const char *v, char *err,
                          size_t errlen);

struct key_def {
	const char *name;
	key_setter set;
	enum store_kind store;
	size_t off;  /* offset of the field inside struct config */
	size_t size; /* for ST_STR: the buffer size */
	uint64_t min, max;
	const char *example; /* a valid value, shown in error messages */
};

/* esc - a short, terminal-safe copy of an operator value for error messages */
static const char *
esc(const char *s, char *buf, size_t buflen)
{
	return str_escape_log(s, strnlen(s, 256), buf, buflen);
}

/* fmt_size - print a byte count with the largest binary unit that divides it exactly */
static void
fmt_size(uint64_t v, char *out, size_t outlen)
{
	if (v != 0 && v % TIB == 0)
		snprintf(out, outlen, "%lluT", (unsigned long long)(v / TIB));
	else if (v != 0 && v % GIB == 0)
		snprintf(out, outlen, "%lluG", (unsigned long long)(v / GIB));
	else if (v != 0 && v % MIB == 0)
		snprintf(out, outlen, "%lluM", (unsigned long long)(v / MIB));
	else if (v != 0 && v % KIB == 0)
		snprintf(out, outlen, "%lluk", (unsigned long long)(v / KIB));
	else
		snprintf(out, outlen, "%llu", (unsigned long long)v);
}

/* fmt_duration - print milliseconds with the largest unit that divides them exactly */
static void
fmt_duration(uint64_t ms, char *out, size_t outlen)
{
	if (ms != 0 && ms % DAY_MS == 0)
		snprintf(out, outlen, "%llud", (unsigned long long)(ms / DAY_MS));
	else if (ms != 0 && ms % HOUR_MS == 0)
		snprintf(out, outlen, "%lluh", (unsigned long long)(ms / HOUR_MS));
	else if (ms != 0 && ms % MIN_MS == 0)
		snprintf(out, outlen, "%llum", (unsigned long long)(ms / MIN_MS));
	else if (ms != 0 && ms % SEC_MS == 0)
		snprintf(out, outlen, "%llus", (unsigned long long)(ms / SEC_MS));
	else
		snprintf(out, outlen, "%llums", (unsigned long long)ms);
}

/*
 * parse_unit_checked - a number with a unit suffix, refusing results that overflow 64 bits.
 * The unit's multiplier is learned by asking the parser about "1<suffix>", so the accepted
 * suffixes stay exactly those of parse_size / parse_duration_ms.
 */
static int
parse_unit_checked(const char *s, int (*parse)(const char *, uint64_t *, const char **),
                   uint64_t *out)
{
	char one[16];
	const char *errstr;
	uint64_t mult, n = 0, whole;
	size_t i;

	if (parse(s, &whole, &errstr) == -1)
		return -1;
	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		if (n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(s[i] - '0');
	}
	if (snprintf(one, sizeof(one), "1%s", s + i) >= (int)sizeof(one))
		return -1;
	if (parse(one, &mult, &errstr) == -1 || mult == 0)
		return -1;
	if (n > UINT64_MAX / mult)
		return -1;
	*out = n * mult;
	return 0;
}

/* field - the address of a key's field inside the config */
static void *
field(struct config *c, const struct key_def *k)
{
	return (char *)c + k->off;
}

/* store_u64 - write a parsed number into a field of the key's storage kind */
static void
store_u64(struct config *c, const struct key_def *k, uint64_t v)
{
	switch (k->store) {
	case ST_UNSIGNED:
		*(unsigned *)field(c, k) = (unsigned)v;
		break;
	case ST_SIZE_T:
		*(size_t *)field(c, k) = (size_t)v;
		break;
	case ST_U64:
		*(uint64_t *)field(c, k) = v;
		break;
	case ST_INT:
		*(int *)field(c, k) = (int)v;
		break;
	case ST_BOOL:
		*(bool *)field(c, k) = v != 0;
		break;
	case ST_STR:
	case ST_NONE:
		break;
	}
}

/* set_num - a whole number within the key's range */
static int
set_num(struct config *c, const struct key_def *k, const char *v, char *err, size_t errlen)
{
	char e[ESC_MAX];
	const char *errstr;
	long long n;

	if (parse_num(v, (long long)k->min, (long long)k->max, &n, &errstr) == -1) {
		snprintf(err, errlen, "%s must be a whole number between %llu and %llu (got '%s')",
		         k->name, (unsigned long long)k->min, (unsigned long long)k->max,
		         esc(v, e, sizeof(e)));
		return -1;
	}
	store_u64(c, k, (uint64_t)n);
	return 0;
}

/* set_size - a byte count with an optional k/M/G suffix; min 0 with max means "0 or a range" */
static int
set_size(struct config *c, const struct key_def *k, const char *v, char *err, size_t errlen)
{
	char e[ESC_MAX], lo[24], hi[24];
	uint64_t n;

	if (parse_unit_checked(v, parse_size, &n) == 0 && n >= k->min && n <= k->max) {
		store_u64(c, k, n);
		return 0;
	}
	fmt_size(k->min, lo, sizeof(lo));
	fmt_size(k->max, hi, sizeof(hi));
	snprintf(err, errlen, "%s must be a size between %s and %s such as %s (got '%s')", k->name,
	         lo, hi, k->example, esc(v, e, sizeof(e)));
	return -1;
}

/* set_rotate - jsonl_rotate: 0 means never, otherwise a size in the key's range */
static int
set_rotate(struct config *c, const struct key_def *k, const char *v, char *err, size_t errlen)
{
	char e[ESC_MAX], lo[24], hi[24];
	uint64_t n;

	if (parse_unit_checked(v, parse_size, &n) == 0 &&
	    (n == 0 || (n >= k->min && n <= k->max))) {
		store_u64(c, k, n);
		return 0;
	}
	fmt_size(k->min, lo, sizeof(lo));
	fmt_size(k->max, hi, sizeof(hi));
	snprintf(err, errlen,
	         "%s must be 0 (never rotate) or a size between %s and %s such as %s "
	         "(got '%s')",
	         k->name, lo, hi, k->example, esc(v, e, sizeof(e)));
	return -1;
}

/* set_duration - a duration ("250ms", "10s", "5m", "1h"; a bare number is seconds) */
static int
set_duration(struct config *c, const struct key_def *k, const char *v, char *err, size_t errlen)
{
	char e[ESC_MAX], lo[24], hi[24];
	uint64_t n;

	if (parse_unit_checked(v, parse_duration_ms, &n) == 0 && n >= k->min && n <= k->max) {
		store_u64(c, k, n);
		return 0;
	}
	fmt_duration(k->min, lo, sizeof(lo));
	fmt_duration(k->max, hi, sizeof(hi));
	snprintf(err, errlen, "%s must be a duration between %s and %s such as %s (got '%s')",
	         k->name, lo, hi, k->example, esc(v, e, sizeof(e)));
	return -1;
}

/* set_delay - a persona delay: the word "persona" (-1, use the persona's) or a duration */
static int
set_delay(struct config *c, const struct key_def *k, const char *v, char *err, size_t errlen)
{
	char e[ESC_MAX], hi[24];
	uint64_t n;

	if (strcasecmp(v, "persona") == 0) {
		*(int *)field(c, k) = -1;
		return 0;
	}
	if (parse_unit_checked(v, parse_duration_ms, &n) == 0 && n <= k->max) {
		store_u64(c, k, n);
		return 0;
	}
	fmt_duration(k->max, hi, sizeof(hi));
	snprintf(err, errlen,
	         "%s must be 'persona' or a duration between 0ms and %s such as %s "
	         "(got '%s')",
	         k->name, hi, k->example, esc(v, e, sizeof(e)));
	return -1;
}

/* parse_bool - yes/no, true/false, on/off, 1/0 in any case; 0 or -1 */
static int
parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	size_t i;

	for (i = 0; i < ARRAY_LEN(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* set_bool - a yes/no switch */
static int
set_bool(struct config *c, const struct key_def *k, const char *v, char *err, size_t errlen)
{
	char e[ESC_MAX];
	bool b;

	if (parse_bool(v, &b) == -1) {
		snprintf(err, errlen,
		         "%s must be yes or no (also true/false, on/off, 1/0; got '%s')", k->name,
		         esc(v, e, sizeof(e)));
		return -1;
	}
	*(bool *)field(c, k) = b;
	return 0;
}

/* set_bare_lf - what a line ending in LF without CR means: accept it, or refuse it */
static int
set_bare_lf(struct config *c, const struct key_def *k, const char *v, char *err, size_t errlen)
{
	char e[ESC_MAX];

	if (strcasecmp(v, "accept") == 0) {
		c->bare_lf = BARE_LF_ACCEPT;
		return 0;
	}
	if (strcasecmp(v, "strict") == 0) {
		c->bare_lf = BARE_LF_STRICT;
		return 0;
	}
	snprintf(err, errlen, "%s must be accept or strict (got '%s')", k->name,
	         esc(v, e, sizeof(e)));
	return -1;
}

/* set_log_level - error, warn, info or debug (the enum log_level order) */
static int
set_log_level(struct config *c, const struct key_def *k, const char *v, char *err, size_t errlen)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	char e[ESC_MAX];
	size_t i;

	for (i = 0; i < ARRAY_LEN(names); i++) {
		if (strcasecmp(v, names[i]) == 0) {
			c->log_level = (int)i;
			return 0;
		}
	}
	snprintf(err, errlen, "%s must be one of error, warn, info, debug (got '%s')", k->name,
	         esc(v, e, sizeof(e)));
	return -1;
}

/* has_controls - true if the string holds a control byte, a space or DEL */
static bool
has_controls(const char *s, bool space_ok)
{
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch == 0x7f || (ch == ' ' && !space_ok))
			return true;
	}
	return false;
}

/* only_chars - true if every byte is alphanumeric or one of extra */
static bool
only_chars(const char *s, const char *extra)
{
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr(extra, *s) == NULL)
			return false;
	return true;
}

/* copy_str - store a validated string into its fixed buffer, refusing what does not fit */
static int
copy_str(struct config *c, const struct key_def *k, const char *v, char *err, size_t errlen)
{
	char e[ESC_MAX];

	if (strlen(v) >= k->size) {
		snprintf(err, errlen, "%s is too long: at most %zu characters (got '%s')", k->name,
		         k->size - 1, esc(v, e, sizeof(e)));
		return -1;
	}
	memcpy(field(c, k), v, strlen(v) + 1);
	return 0;
}

/* fqdn_problem - why s is not a plausible fully qualified host name, or NULL if it is */
static const char *
fqdn_problem(const char *s)
{
	size_t len = strlen(s), label = 0, labels = 0, i;
	bool numeric_tld = true;

	if (len > 253)
		return "longer than 253 characters";
	if (len > 0 && s[len - 1] == '.')
		return "ends with a dot (drop the trailing dot)";
	for (i = 0; i <= len; i++) {
		char ch = s[i];

		if (ch == '.' || ch == '\0') {
			if (label == 0)
				return "has an empty label";
			if (s[i - 1] == '-')
				return "has a label ending in '-'";
			labels++;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)ch) && ch != '-')
			return "may hold only letters, digits, '-' and '.'";
		if (label == 0) {
			if (ch == '-')
				return "has a label starting with '-'";
			numeric_tld = true;
		}
		if (!isdigit((unsigned char)ch))
			numeric_tld = false;
		if (++label > 63)
			return "has a label longer than 63 characters";
	}
	if (labels < 2)
		return "is not fully qualified";
	if (numeric_tld)
		return "looks like an IP address";
	return NULL;
}

/* set_host - hostname or domain: empty (derive it) or a plausible FQDN */
static int
set_host(struct config *c, const struct key_def *k, const char *v, char *err, size_t errlen)
{
	char e[ESC_MAX];
	const char *why;

	if (*v != '\0' && (why = fqdn_problem(v)) != NULL) {
		snprintf(err, errlen, "%s '%s' %s (use a name such as %s)", k->name,
		         esc(v, e, sizeof(e)), why, k->example);
		return -1;
	}
	return copy_str(c, k, v, err, errlen);
}

/* set_netbios - the Windows computer name: at most 15 letters, digits, '-' or '_' */
static int
set_netbios(struct config *c, const struct key_def *k, const char *v, char *err, size_t errlen)
{
	char e[ESC_MAX];

	if (strlen(v) > 15) {
		snprintf(err, errlen, "netbios must be at most 15 characters (got %zu: '%s')",
		         strlen(v), esc(v, e, sizeof(e)));
		return -1;
	}
	if (!only_chars(v, "-_")) {
		snprintf(err, errlen,
		         "netbios may hold only letters, digits, '-' and '_' (got '%s')",
		         esc(v, e, sizeof(e)));
		return -1;
	}
	return copy_str(c, k, v, err, errlen);
}

/* set_ident - sensor, user or group: a non-empty name of letters, digits, '.', '_' and '-' */
static int
set_ident(struct config *c, const struct key_def *k, const char *v, char *err, size_t errlen)
{
	char e[ESC_MAX];

	if (*v == '\0' || *v == '-' || !only_chars(v, "._-")) {
		snprintf(err, errlen,
		         "%s must be a name of letters, digits, '.', '_' and '-' such "
		         "as %s (got '%s')",
		         k->name, k->example, esc(v, e, sizeof(e)));
		return -1;
	}
	return copy_str(c, k, v, err, errlen);
}

/* set_path - persona, persona_dir, data_dir, p0f_fp: non-empty, no control bytes */
static int
set_path(struct config *c, const struct key_def *k, const char *v, char *err, size_t errlen)
{
	char e[ESC_MAX];
	/* Directories may contain spaces; a persona name is also a word on the command line. */
	bool space_ok = k->size > sizeof(c->persona);

	if (*v == '\0' || has_controls(v, space_ok)) {
		snprintf(err, errlen,
		         "%s must be a non-empty name or path without control "
		         "characters such as %s (got '%s')",
		         k->name, k->example, esc(v, e, sizeof(e)));
		return -1;
	}
	return copy_str(c, k, v, err, errlen);
}

/* set_abs_path - chroot: an absolute path without control bytes (the jail is checked at start) */
static int
set_abs_path(struct config *c, const struct key_def *k, const char *v, char *err, size_t errlen)
{
	char e[ESC_MAX];

	if (*v != '/' || has_controls(v, true)) {
		snprintf(err, errlen,
		         "%s must be an absolute path without control characters such as %s (got "
		         "'%s')",
		         k->name, k->example, esc(v, e, sizeof(e)));
		return -1;
	}
	return copy_str(c, k, v, err, errlen);
}

/* set_geo_db - geoip_*_db: empty (automatic), "none", or a comma-separated list of paths */
static int
set_geo_db(struct config *c, const struct key_def *k, const char *v, char *err, size_t errlen)
{
	char e[ESC_MAX];
	const char *p;

	for (p = v; *p != '\0'; p++)
		if (*p == ',' && (p == v || p[1] == '\0' || p[1] == ','))
			break;
	if (has_controls(v, true) || *p != '\0') {
		snprintf(err, errlen,
		         "%s must be empty (automatic), none, or comma-separated file paths "
		         "such as %s (got '%s')",
		         k->name, k->example, esc(v, e, sizeof(e)));
		return -1;
	}
	return copy_str(c, k, v, err, errlen);
}

/* set_listen - the repeatable "listen" key */
static int
set_listen(struct config *c, const struct key_def *k, const char *v, char *err, size_t errlen)
{
	return config_add_listener(c, v, err, errlen);
}

/* set_proxy_from - one CIDR or a comma-separated list of them */
static int
set_proxy_from(struct config *c, const struct key_def *k, const char *v, char *err, size_t errlen)
{
	char item[128];
	const char *p = v, *comma;
	size_t n, b, e;

	if (*v == '\0') {
		snprintf(err, errlen, "proxy_from needs an address or CIDR such as 10.0.0.0/8");
		return -1;
	}
	while (p != NULL) {
		comma = strchr(p, ',');
		n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		for (b = 0; b < n && isspace((unsigned char)p[b]); b++)
			;
		for (e = n; e > b && isspace((unsigned char)p[e - 1]); e--)
			;
		if (e - b >= sizeof(item))
			e = b + sizeof(item) - 1;
		memcpy(item, p + b, e - b);
		item[e - b] = '\0';
		if (config_add_proxy_from(c, item, err, errlen) == -1)
			return -1;
		p = comma != NULL ? comma + 1 : NULL;
	}
	return 0;
}

/* set_dnsbl_zones - "zone, zone, ..." (at most 16) or "none" */
static int
set_dnsbl_zones(struct config *c, const struct key_def *k, const char *v, char *err, size_t errlen)
{
	struct dnsbl_list list;

	if (dnsbl_parse(v, &list, err, errlen) == -1)
		return -1;
	return copy_str(c, k, v, err, errlen);
}

/* set_resolver - "system" (/etc/resolv.conf) or 1-4 numeric "IP[:PORT]" / "[IPv6]:PORT" */
static int
set_resolver(struct config *c, const struct key_def *k, const char *v, char *err, size_t errlen)
{
	char e[ESC_MAX], item[128];
	const char *p = v;
	int n = 0;

	if (strcmp(v, "system") == 0)
		return copy_str(c, k, v, err, errlen);
	while (*p != '\0') {
		struct sockaddr_storage ss;
		int sl = sizeof(ss);
		size_t len = strcspn(p, ","), b = 0, end = len;

		while (b < end && isspace((unsigned char)p[b]))
			b++;
		while (end > b && isspace((unsigned char)p[end - 1]))
			end--;
		if (end - b >= sizeof(item))
			end = b + sizeof(item) - 1;
		memcpy(item, p + b, end - b);
		item[end - b] = '\0';
		if (item[0] == '\0' ||
		    evutil_parse_sockaddr_port(item, (struct sockaddr *)&ss, &sl) != 0) {
			snprintf(
			    err, errlen,
			    "resolver must be 'system' or numeric nameserver addresses such as "
			    "127.0.0.1 or [::1]:5353, comma-separated (got '%s')",
			    esc(item, e, sizeof(e)));
			return -1;
		}
		if (++n > 4) {
			snprintf(err, errlen, "resolver: at most 4 nameservers");
			return -1;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	if (n == 0) {
		snprintf(err, errlen,
		         "resolver must be 'system' or nameserver addresses such as 127.0.0.1");
		return -1;
	}
	return copy_str(c, k, v, err, errlen);
}

#define OFF(f) offsetof(struct config, f)
#define LIM(f) offsetof(struct config, limits.f)
#define STR(f) OFF(f), sizeof(((struct config *)0)->f)

/* Every key the file and --set accept; docs/configuration.md lists them in this order. */
static const struct key_def keys[] = {
    {"sensor", set_ident, ST_STR, STR(sensor), 0, 0, "honeypot-01"},
    {"persona", set_path, ST_STR, STR(persona), 0, 0, "exchange2000"},
    {"persona_dir", set_path, ST_STR, STR(persona_dir), 0, 0, "/usr/share/relaytrap/personas"},
    {"hostname", set_host, ST_STR, STR(hostname), 0, 0, "mail.example.com"},
    {"netbios", set_netbios, ST_STR, STR(netbios), 0, 0, "MAIL"},
    {"domain", set_host, ST_STR, STR(domain), 0, 0, "example.com"},
    {"data_dir", set_path, ST_STR, STR(data_dir), 0, 0, "/var/lib/relaytrap"},
    {"user", set_ident, ST_STR, STR(user), 0, 0, "relaytrap"},
    {"group", set_ident, ST_STR, STR(group), 0, 0, "relaytrap"},
    {"chroot", set_abs_path, ST_STR, STR(chroot), 0, 0, "/var/empty/relaytrap"},
    {"p0f_fp", set_path, ST_STR, STR(p0f_fp), 0, 0, "/etc/p0f/p0f.fp"},
    {"listen", set_listen, ST_NONE, 0, 0, 0, 0, "0.0.0.0:25"},
    {"proxy_from", set_proxy_from, ST_NONE, 0, 0, 0, 0, "10.0.0.0/8"},
    {"line_max", set_num, ST_SIZE_T, LIM(line_max), 0, 512, 1048576, "4096"},
    {"max_commands", set_num, ST_UNSIGNED, LIM(max_commands), 0, 1, 10000000, "1000"},
    {"max_bad_commands", set_num, ST_UNSIGNED, LIM(max_bad_commands), 0, 1, 1000000, "10"},
    {"max_rcpts", set_num, ST_UNSIGNED, LIM(max_rcpts), 0, 1, 100000, "100"},
    {"max_messages", set_num, ST_UNSIGNED, LIM(max_messages), 0, 1, 100000, "100"},
    {"max_message_size", set_size, ST_U64, LIM(max_message_size), 0, KIB, 16 * GIB, "32M"},
    {"store_body_max", set_size, ST_U64, LIM(store_body_max), 0, 0, 16 * GIB, "32M"},
    {"body_disk_budget", set_size, ST_U64, LIM(body_disk_budget), 0, 0, 1024 * TIB, "4G"},
    {"cmd_timeout", set_duration, ST_U64, LIM(cmd_timeout_ms), 0, 100, DAY_MS, "5m"},
    {"idle_timeout", set_duration, ST_U64, LIM(idle_timeout_ms), 0, 100, DAY_MS, "10m"},
    {"session_max", set_duration, ST_U64, LIM(session_max_ms), 0, 100, 7 * DAY_MS, "30m"},
    {"max_sessions", set_num, ST_UNSIGNED, LIM(max_sessions), 0, 1, 1000000, "4096"},
    {"max_per_ip", set_num, ST_UNSIGNED, LIM(max_per_ip), 0, 1, 1000000, "32"},
    {"auth_max_attempts", set_num, ST_UNSIGNED, LIM(auth_max_attempts), 0, 1, 100000, "20"},
    {"stress_sessions", set_num, ST_UNSIGNED, LIM(stress_sessions), 0, 0, 1000000, "3000"},
    {"stress_timeout", set_duration, ST_U64, LIM(stress_timeout_ms), 0, 100, DAY_MS, "10s"},
    {"bare_lf", set_bare_lf, ST_NONE, 0, 0, 0, 0, "accept"},
    {"delay_banner", set_delay, ST_INT, OFF(delay_banner_ms), 0, 0, 10 * MIN_MS, "persona"},
    {"delay_reply", set_delay, ST_INT, OFF(delay_reply_ms), 0, 0, 10 * MIN_MS, "250ms"},
    {"delay_jitter", set_delay, ST_INT, OFF(delay_jitter_ms), 0, 0, 10 * MIN_MS, "100ms"},
    {"greet_pause", set_duration, ST_INT, OFF(greet_pause_ms), 0, 0, 5 * MIN_MS, "3s"},
    {"jsonl_rotate", set_rotate, ST_U64, OFF(jsonl_rotate_bytes), 0, 4 * KIB, TIB, "256M"},
    {"store_bodies", set_bool, ST_BOOL, OFF(store_bodies), 0, 0, 0, "yes"},
    {"fsync", set_bool, ST_BOOL, OFF(fsync), 0, 0, 0, "yes"},
    {"disk_min_free", set_size, ST_U64, OFF(disk_min_free), 0, 0, 1024 * TIB, "256M"},
    {"log_level", set_log_level, ST_NONE, 0, 0, 0, 0, "info"},
    {"enrich_geo", set_bool, ST_BOOL, OFF(enrich_geo), 0, 0, 0, "yes"},
    {"enrich_os", set_bool, ST_BOOL, OFF(enrich_os), 0, 0, 0, "yes"},
    {"enrich_dns", set_bool, ST_BOOL, OFF(enrich_dns), 0, 0, 0, "no"},
    {"enrich_rdns", set_bool, ST_BOOL, OFF(enrich_rdns), 0, 0, 0, "yes"},
    {"enrich_helo", set_bool, ST_BOOL, OFF(enrich_helo), 0, 0, 0, "yes"},
    {"dnsbl_zones", set_dnsbl_zones, ST_STR, STR(dnsbl_zones), 0, 0, "zen.spamhaus.org"},
    {"resolver", set_resolver, ST_STR, STR(resolver), 0, 0, "127.0.0.1"},
    {"dns_timeout", set_duration, ST_U64, OFF(dns_timeout_ms), 0, 100, 60 * SEC_MS, "5s"},
    {"dns_cache_ttl", set_duration, ST_U64, OFF(dns_cache_ttl_ms), 0, 0, 7 * DAY_MS, "1h"},
    {"dns_cache_max", set_num, ST_UNSIGNED, OFF(dns_cache_max), 0, 0, 10000000, "100000"},
    {"dns_rate", set_num, ST_UNSIGNED, OFF(dns_rate), 0, 1, 1000000, "200"},
    {"dns_max_inflight", set_num, ST_UNSIGNED, OFF(dns_max_inflight), 0, 1, 65535, "1024"},
    {"enrich_max_pending", set_num, ST_UNSIGNED, OFF(enrich_max_pending), 0, 1, 1000000, "8192"},
    {"geoip_city_db", set_geo_db, ST_STR, STR(geoip_city_db), 0, 0,
     "/var/lib/GeoIP/GeoLite2-City.mmdb"},
    {"geoip_asn_db", set_geo_db, ST_STR, STR(geoip_asn_db), 0, 0,
     "/var/lib/GeoIP/GeoLite2-ASN.mmdb"},
};

/* Keys of a [listener NAME] section; the parser handles them itself. */
static const char *const section_keys[] = {"address", "port", "persona", "proxy_protocol"};

/* config_keys - the name of key i, or NULL past the end (for docs, tests and completion) */
const char *
config_keys(size_t i)
{
	return i < ARRAY_LEN(keys) ? keys[i].name : NULL;
}

/* edit_distance - Levenshtein distance, case-insensitive, for names of at most 63 bytes */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t row[64], la = strlen(a), lb = strlen(b), i, j, prev, cur, best;

	if (la > 63 || lb > 63)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			cur = row[j];
			best = prev + (tolower((unsigned char)a[i - 1]) !=
			               tolower((unsigned char)b[j - 1]));
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

/* closest - the name in the list nearest to key if it is near enough to be a typo, else NULL */
static const char *
closest(const char *key, const char *const *names, size_t stride, size_t n)
{
	const char *best = NULL;
	size_t i, d, bestd = SIZE_MAX, limit = strlen(key) / 3;

	if (limit < 2)
		limit = 2;
	for (i = 0; i < n; i++) {
		const char *name = *(const char *const *)((const char *)names + i * stride);

		d = edit_distance(key, name);
		if (d < bestd) {
			bestd = d;
			best = name;
		}
	}
	return bestd <= limit ? best : NULL;
}

/* find_key - the table entry for a key, or NULL */
static const struct key_def *
find_key(const char *key)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(keys); i++)
		if (strcmp(keys[i].name, key) == 0)
			return &keys[i];
	return NULL;
}

/* unknown_key - the error for a key nobody knows, with the nearest real key as the fix */
static void
unknown_key(const char *key, const char *const *names, size_t stride, size_t n, char *err,
            size_t errlen)
{
	char e[ESC_MAX];
	const char *near = closest(key, names, stride, n);

	if (near != NULL)
		snprintf(err, errlen, "unknown key '%s' (did you mean '%s'?)",
		         esc(key, e, sizeof(e)), near);
	else
		snprintf(err, errlen,
		         "unknown key '%s' (relaytrap(8) and docs/configuration.md "
		         "list the keys)",
		         esc(key, e, sizeof(e)));
}

/* config_defaults - fill every field with the built-in default (no file, no listener) */
void
config_defaults(struct config *c)
{
	const char *xdg, *home;
	struct passwd *pw;
	char host[256];

	memset(c, 0, sizeof(*c));
	/* Host names may be longer than a sensor name, so read the whole one and cut it. */
	memset(host, 0, sizeof(host));
	if (gethostname(host, sizeof(host) - 1) == -1 || host[0] == '\0')
		strlcpy(host, "relaytrap", sizeof(host));
	strlcpy(c->sensor, host, sizeof(c->sensor));
	strlcpy(c->persona, "exchange2000", sizeof(c->persona));
	strlcpy(c->persona_dir, RELAYTRAP_PERSONA_DIR, sizeof(c->persona_dir));
	strlcpy(c->user, "relaytrap", sizeof(c->user));
	strlcpy(c->chroot, "/var/empty/relaytrap", sizeof(c->chroot));

	/* Root runs it as a service; anyone else gets a per-user XDG location. */
	xdg = getenv("XDG_DATA_HOME");
	home = getenv("HOME");
	if (geteuid() == 0) {
		strlcpy(c->data_dir, "/var/lib/relaytrap", sizeof(c->data_dir));
	} else if (xdg != NULL && xdg[0] == '/') {
		snprintf(c->data_dir, sizeof(c->data_dir), "%s/relaytrap", xdg);
	} else if (home != NULL && home[0] == '/') {
		snprintf(c->data_dir, sizeof(c->data_dir), "%s/.local/share/relaytrap", home);
	} else if ((pw = getpwuid(geteuid())) != NULL && pw->pw_dir != NULL &&
	           pw->pw_dir[0] == '/') {
		snprintf(c->data_dir, sizeof(c->data_dir), "%s/.local/share/relaytrap", pw->pw_dir);
	} else {
		strlcpy(c->data_dir, "relaytrap-data", sizeof(c->data_dir));
	}

	c->limits.line_max = 4096;
	c->limits.max_commands = 1000;
	c->limits.max_bad_commands = 10;
	c->limits.max_rcpts = 100;
	c->limits.max_messages = 100;
	c->limits.max_message_size = 32 * MIB;
	c->limits.store_body_max = 32 * MIB;
	c->limits.body_disk_budget = 4 * GIB;
	c->limits.cmd_timeout_ms = 5 * MIN_MS;
	c->limits.idle_timeout_ms = 10 * MIN_MS;
	c->limits.session_max_ms = 30 * MIN_MS;
	c->limits.max_sessions = 4096;
	c->limits.max_per_ip = 32;
	c->limits.auth_max_attempts = 20;
	c->limits.stress_sessions = 0;
	c->limits.stress_timeout_ms = 10 * 1000;
	c->bare_lf = BARE_LF_ACCEPT;
	c->delay_banner_ms = -1;
	c->delay_reply_ms = -1;
	c->delay_jitter_ms = -1;
	c->greet_pause_ms = 0;
	c->jsonl_rotate_bytes = 256 * MIB;
	c->store_bodies = true;
	c->fsync = true;
	c->disk_min_free = 256 * MIB;
	c->log_level = LOG_LVL_INFO;
	c->enrich_geo = true;
	c->enrich_os = true;
	c->enrich_dns = false; /* DNS leaves the host: the operator turns it on */
	c->enrich_rdns = true;
	c->enrich_helo = true;
	strlcpy(c->dnsbl_zones, DNSBL_DEFAULT_ZONES, sizeof(c->dnsbl_zones));
	strlcpy(c->resolver, "system", sizeof(c->resolver));
	c->dns_timeout_ms = 5 * SEC_MS;
	c->dns_cache_ttl_ms = HOUR_MS;
	c->dns_cache_max = 100000;
	c->dns_rate = 500;
	c->dns_max_inflight = 1024;
	c->enrich_max_pending = 8192;
}

/* config_set - apply one key = value from the file or --set through the key table */
int
config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen)
{
	const struct key_def *k = find_key(key);

	if (k == NULL) {
		unknown_key(key, &keys[0].name, sizeof(keys[0]), ARRAY_LEN(keys), err, errlen);
		return -1;
	}
	return k->set(c, k, value, err, errlen);
}

/* addr_norm - parse a numeric listener address; "" (all, dual-stack) stays family 0 */
static int
addr_norm(const char *a, int *family, unsigned char bin[16])
{
	memset(bin, 0, 16);
	*family = 0;
	if (*a == '\0')
		return 0;
	if (inet_pton(AF_INET, a, bin) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, a, bin) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -1;
}

/* is_any - the IPv4 or IPv6 wildcard */
static bool
is_any(int family, const unsigned char bin[16])
{
	static const unsigned char zero[16];

	return family == 0 || memcmp(bin, zero, family == AF_INET ? 4 : 16) == 0;
}

/*
 * listeners_overlap - would binding both fail? The same port with equal addresses, or with a
 * wildcard covering the other: IPv4 0.0.0.0 covers every IPv4 address, and the IPv6 wildcard
 * (also "") is bound dual-stack, so it covers every address of both families.
 */
static bool
listeners_overlap(const struct listener_conf *a, const struct listener_conf *b)
{
	unsigned char ba[16], bb[16];
	int fa, fb;

	if (a->port != b->port || a->port == 0)
		return false;
	if (addr_norm(a->address, &fa, ba) == -1 || addr_norm(b->address, &fb, bb) == -1)
		return strcmp(a->address, b->address) == 0;
	if ((fa != AF_INET && is_any(fa, ba)) || (fb != AF_INET && is_any(fb, bb)))
		return true;
	if (fa != fb)
		return false;
	if (is_any(fa, ba) || is_any(fb, bb))
		return true;
	return memcmp(ba, bb, fa == AF_INET ? 4 : 16) == 0;
}

/* fmt_listener - "ADDR:PORT" for messages, brackets around IPv6, "*" for all addresses */
static void
fmt_listener(const struct listener_conf *l, char *out, size_t outlen)
{
	if (l->address[0] == '\0')
		snprintf(out, outlen, "*:%d", l->port);
	else if (strchr(l->address, ':') != NULL)
		snprintf(out, outlen, "[%s]:%d", l->address, l->port);
	else
		snprintf(out, outlen, "%s:%d", l->address, l->port);
}

/* listener_conflict - the message for two listeners that cannot both be bound; 0 if none */
static int
listener_conflict(const struct config *c, const struct listener_conf *l, size_t upto, char *err,
                  size_t errlen)
{
	char a[96], b[96];
	size_t i;

	for (i = 0; i < upto; i++) {
		if (strcmp(c->listeners[i].name, l->name) == 0) {
			snprintf(err, errlen,
			         "duplicate listener '%s' (give each listener its own "
			         "name)",
			         l->name);
			return -1;
		}
		if (listeners_overlap(&c->listeners[i], l)) {
			fmt_listener(l, a, sizeof(a));
			fmt_listener(&c->listeners[i], b, sizeof(b));
			snprintf(err, errlen,
			         "duplicate listener: '%s' on %s overlaps '%s' on %s "
			         "(use another port or address)",
			         l->name, a, c->listeners[i].name, b);
			return -1;
		}
	}
	return 0;
}

/* listener_append - add a complete listener after checking it against the others */
static int
listener_append(struct config *c, const struct listener_conf *l, char *err, size_t errlen)
{
	if (c->nlisteners >= CONFIG_MAX_LISTENERS) {
		snprintf(err, errlen, "too many listeners (at most %d)", CONFIG_MAX_LISTENERS);
		return -1;
	}
	if (listener_conflict(c, l, c->nlisteners, err, errlen) == -1)
		return -1;
	c->listeners[c->nlisteners++] = *l;
	return 0;
}

/* listener_name_free - no listener has this name yet */
static bool
listener_name_free(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nlisteners; i++)
		if (strcmp(c->listeners[i].name, name) == 0)
			return false;
	return true;
}

/* set_listener_address - a numeric address, "[v6]", "*" or "" (all) into l->address */
static int
set_listener_address(struct listener_conf *l, const char *a, size_t n, char *err, size_t errlen)
{
	char buf[64], e[ESC_MAX];
	unsigned char bin[16];
	int family;

	if (n >= 2 && a[0] == '[' && a[n - 1] == ']') {
		a++;
		n -= 2;
	}
	if (n >= sizeof(buf))
		goto bad;
	memcpy(buf, a, n);
	buf[n] = '\0';
	if (strcmp(buf, "*") == 0)
		buf[0] = '\0';
	if (addr_norm(buf, &family, bin) == -1)
		goto bad;
	strlcpy(l->address, buf, sizeof(l->address));
	return 0;
bad:
	memcpy(buf, a, n < sizeof(buf) ? n : sizeof(buf) - 1);
	buf[n < sizeof(buf) ? n : sizeof(buf) - 1] = '\0';
	snprintf(err, errlen,
	         "listener address '%s' is not a numeric IPv4 or IPv6 address (use e.g. "
	         "0.0.0.0, 127.0.0.1, :: or ::1; host names are not resolved)",
	         esc(buf, e, sizeof(e)));
	return -1;
}

/* set_listener_port - 0..65535; 0 lets the kernel pick a free port (logged at start, used by
 * tests and benchmarks) */
static int
set_listener_port(struct listener_conf *l, const char *p, char *err, size_t errlen)
{
	char e[ESC_MAX];
	const char *errstr;
	long long n;

	if (parse_num(p, 0, 65535, &n, &errstr) == -1) {
		snprintf(err, errlen,
		         "port must be a number between 0 and 65535, 0 = any free port (got '%s')",
		         esc(p, e, sizeof(e)));
		return -1;
	}
	l->port = (int)n;
	return 0;
}

/* set_listener_persona - a persona name or path for one listener */
static int
set_listener_persona(struct listener_conf *l, const char *p, char *err, size_t errlen)
{
	char e[ESC_MAX];

	if (*p == '\0' || strlen(p) >= sizeof(l->persona) || has_controls(p, false)) {
		snprintf(err, errlen,
		         "listener persona must be a name or path of 1 to %zu "
		         "characters such as exchange2000 (got '%s')",
		         sizeof(l->persona) - 1, esc(p, e, sizeof(e)));
		return -1;
	}
	strlcpy(l->persona, p, sizeof(l->persona));
	return 0;
}

/* config_add_listener - parse "[ADDR:]PORT[/PERSONA]" and append it as smtp, smtp2, ... */
int
config_add_listener(struct config *c, const char *spec, char *err, size_t errlen)
{
	struct listener_conf l;
	char e[ESC_MAX], port[16];
	const char *slash, *colon, *end, *p;
	size_t speclen = strnlen(spec, 1024), i;

	memset(&l, 0, sizeof(l));
	if (speclen == 0 || speclen >= 1024)
		goto bad;
	slash = strchr(spec, '/');
	end = slash != NULL ? slash : spec + speclen;

	/* IPv6 needs brackets, since its colons would otherwise swallow the port. */
	if (spec[0] == '[') {
		const char *rb = memchr(spec, ']', (size_t)(end - spec));

		if (rb == NULL || rb[1] != ':')
			goto bad;
		if (set_listener_address(&l, spec, (size_t)(rb - spec + 1), err, errlen) == -1)
			return -1;
		p = rb + 2;
	} else {
		colon = memchr(spec, ':', (size_t)(end - spec));
		if (colon != NULL && memchr(colon + 1, ':', (size_t)(end - colon - 1)) != NULL) {
			snprintf(err, errlen,
			         "listen '%s': put an IPv6 address in brackets, as in "
			         "[::1]:2525",
			         esc(spec, e, sizeof(e)));
			return -1;
		}
		p = spec;
		if (colon != NULL) {
			if (set_listener_address(&l, spec, (size_t)(colon - spec), err, errlen) ==
			    -1)
				return -1;
			p = colon + 1;
		}
	}
	if ((size_t)(end - p) >= sizeof(port))
		goto bad;
	memcpy(port, p, (size_t)(end - p));
	port[end - p] = '\0';
	if (set_listener_port(&l, port, err, errlen) == -1)
		return -1;
	if (slash != NULL && set_listener_persona(&l, slash + 1, err, errlen) == -1)
		return -1;

	/* Command-line and "listen =" listeners are named smtp, smtp2, smtp3, ... */
	for (i = 1; i <= CONFIG_MAX_LISTENERS + 1; i++) {
		if (i == 1)
			strlcpy(l.name, "smtp", sizeof(l.name));
		else
			snprintf(l.name, sizeof(l.name), "smtp%zu", i);
		if (listener_name_free(c, l.name))
			break;
	}
	return listener_append(c, &l, err, errlen);
bad:
	snprintf(err, errlen,
	         "listen '%s' is not [ADDR:]PORT[/PERSONA] (e.g. 2525, "
	         "127.0.0.1:2525, [::1]:2525, 0.0.0.0:25/exchange2000)",
	         esc(spec, e, sizeof(e)));
	return -1;
}

/* config_add_proxy_from - trust one more PROXY protocol source */
int
config_add_proxy_from(struct config *c, const char *cidr, char *err, size_t errlen)
{
	char e[ESC_MAX];
	struct cidr cd;

	if (cidr_parse(cidr, &cd) == -1) {
		snprintf(err, errlen,
		         "proxy_from '%s' is not an address or CIDR (use e.g. "
		         "10.0.0.0/8, 192.0.2.7 or 2001:db8::/32)",
		         esc(cidr, e, sizeof(e)));
		return -1;
	}
	if (c->nproxy_from >= CONFIG_MAX_PROXY_FROM) {
		snprintf(err, errlen,
		         "too many proxy_from entries (at most %d; use wider prefixes)",
		         CONFIG_MAX_PROXY_FROM);
		return -1;
	}
	c->proxy_from[c->nproxy_from++] = cd;
	return 0;
}

/* config_check - cross-field checks once every source has been applied */
int
config_check(const struct config *c, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < c->nlisteners; i++) {
		if (listener_conflict(c, &c->listeners[i], i, err, errlen) == -1)
			return -1;
		if (c->listeners[i].proxy_protocol && c->nproxy_from == 0) {
			snprintf(err, errlen,
			         "listener '%s' has proxy_protocol = yes but no proxy_from "
			         "is set (add proxy_from = <your proxy's address>)",
			         c->listeners[i].name);
			return -1;
		}
	}
	if (c->limits.line_max < 512 || c->limits.line_max > 1048576) {
		snprintf(err, errlen, "line_max must be between 512 and 1048576");
		return -1;
	}
	if (c->limits.max_rcpts < 1) {
		snprintf(err, errlen, "max_rcpts must be at least 1 (RFC 5321 asks for 100)");
		return -1;
	}
	/*
	 * store_body_max larger than max_message_size is allowed on purpose: it just means every
	 * accepted message is stored whole. The reverse keeps the first store_body_max bytes.
	 */
	return 0;
}

/* config_free - release the file name; the struct belongs to the caller */
void
config_free(struct config *c)
{
	if (c == NULL)
		return;
	free(c->file);
	c->file = NULL;
}

/* File parsing ---------------------------------------------------------------------------- */

struct parse_state {
	struct config *c;
	const char *path;
	unsigned lineno;
	bool in_section;
	bool have_port;
	unsigned section_line;
	struct listener_conf l;
	char *err;
	size_t errlen;
};

/* file_error - prefix the message in tmp with "FILE:LINE: " into the caller's buffer */
static int
file_error(struct parse_state *ps, unsigned line, const char *msg)
{
	snprintf(ps->err, ps->errlen, "%s:%u: %s", ps->path, line, msg);
	return -1;
}

/* trim - strip leading and trailing blanks in place; returns the new start */
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

/* section_end - finish the open [listener] section: it needs a port and must not clash */
static int
section_end(struct parse_state *ps)
{
	char msg[512];

	if (!ps->in_section)
		return 0;
	ps->in_section = false;
	if (!ps->have_port) {
		snprintf(msg, sizeof(msg),
		         "listener '%s' has no port (add 'port = 25' to the "
		         "section)",
		         ps->l.name);
		return file_error(ps, ps->section_line, msg);
	}
	if (listener_append(ps->c, &ps->l, msg, sizeof(msg)) == -1)
		return file_error(ps, ps->section_line, msg);
	return 0;
}

/* section_start - "[listener NAME]" opens a listener section */
static int
section_start(struct parse_state *ps, char *line)
{
	char msg[512], e[ESC_MAX], *name, *close = strchr(line, ']');

	if (close == NULL || close[1] != '\0') {
		snprintf(msg, sizeof(msg), "bad section header '%s' (write [listener NAME])",
		         esc(line, e, sizeof(e)));
		return file_error(ps, ps->lineno, msg);
	}
	*close = '\0';
	name = trim(line + 1);
	if (strcmp(name, "listener") == 0)
		return file_error(ps, ps->lineno,
		                  "listener section without a name (write "
		                  "[listener NAME])");
	if (strncmp(name, "listener", 8) != 0 || (name[8] != ' ' && name[8] != '\t')) {
		snprintf(msg, sizeof(msg),
		         "unknown section '[%s]' (the only section is "
		         "[listener NAME])",
		         esc(name, e, sizeof(e)));
		return file_error(ps, ps->lineno, msg);
	}
	name = trim(name + 8);
	if (*name == '\0' || strlen(name) >= sizeof(ps->l.name) || !only_chars(name, "._-")) {
		snprintf(msg, sizeof(msg),
		         "bad listener name '%s' (use 1 to 63 letters, digits, "
		         "'.', '_' or '-')",
		         esc(name, e, sizeof(e)));
		return file_error(ps, ps->lineno, msg);
	}
	if (section_end(ps) == -1)
		return -1;
	if (!listener_name_free(ps->c, name)) {
		snprintf(msg, sizeof(msg),
		         "duplicate listener '%s' (give each [listener] section "
		         "its own name)",
		         name);
		return file_error(ps, ps->lineno, msg);
	}
	memset(&ps->l, 0, sizeof(ps->l));
	strlcpy(ps->l.name, name, sizeof(ps->l.name));
	ps->in_section = true;
	ps->have_port = false;
	ps->section_line = ps->lineno;
	return 0;
}

/* section_key - one key inside a [listener NAME] section */
static int
section_key(struct parse_state *ps, const char *key, const char *value)
{
	char msg[512], e[ESC_MAX];
	bool b;
	int rc = 0;

	if (strcmp(key, "address") == 0) {
		rc = set_listener_address(&ps->l, value, strlen(value), msg, sizeof(msg));
	} else if (strcmp(key, "port") == 0) {
		rc = set_listener_port(&ps->l, value, msg, sizeof(msg));
		ps->have_port = rc == 0;
	} else if (strcmp(key, "persona") == 0) {
		rc = set_listener_persona(&ps->l, value, msg, sizeof(msg));
	} else if (strcmp(key, "proxy_protocol") == 0) {
		rc = parse_bool(value, &b);
		if (rc == 0)
			ps->l.proxy_protocol = b;
		else
			snprintf(msg, sizeof(msg), "proxy_protocol must be yes or no (got '%s')",
			         esc(value, e, sizeof(e)));
	} else if (find_key(key) != NULL) {
		snprintf(msg, sizeof(msg),
		         "'%s' is a global key, not a listener key (move it "
		         "above the first [listener] section)",
		         key);
		rc = -1;
	} else {
		const char *near =
		    closest(key, section_keys, sizeof(section_keys[0]), ARRAY_LEN(section_keys));

		if (near != NULL)
			snprintf(msg, sizeof(msg), "unknown listener key '%s' (did you mean '%s'?)",
			         esc(key, e, sizeof(e)), near);
		else
			snprintf(msg, sizeof(msg),
			         "unknown listener key '%s' (a [listener] section "
			         "takes address, port, persona, proxy_protocol)",
			         esc(key, e, sizeof(e)));
		rc = -1;
	}
	return rc == -1 ? file_error(ps, ps->lineno, msg) : 0;
}

/* parse_line - one line of the file, already without its newline */
static int
parse_line(struct parse_state *ps, char *raw)
{
	char msg[512], *line, *eq, *key, *value, *hash;
	size_t n;

	line = trim(raw);
	if (*line == '\0' || *line == '#' || *line == ';')
		return 0;
	if (*line == '[')
		return section_start(ps, line);

	/* A '#' after a blank starts a comment, so values may still contain '#' themselves. */
	for (hash = line; (hash = strchr(hash, '#')) != NULL; hash++) {
		if (hash[-1] == ' ' || hash[-1] == '\t') {
			*hash = '\0';
			line = trim(line);
			break;
		}
	}
	eq = strchr(line, '=');
	if (eq == NULL)
		return file_error(ps, ps->lineno, "expected 'key = value' (missing '=')");
	*eq = '\0';
	key = trim(line);
	value = trim(eq + 1);
	if (*key == '\0')
		return file_error(ps, ps->lineno, "missing key before '=' (write 'key = value')");
	n = strlen(value);
	if (n >= 2 && value[0] == '"' && value[n - 1] == '"') {
		value[n - 1] = '\0';
		value++;
	}
	if (ps->in_section)
		return section_key(ps, key, value);
	if (config_set(ps->c, key, value, msg, sizeof(msg)) == -1)
		return file_error(ps, ps->lineno, msg);
	return 0;
}

/* read_line - one bounded line from f; 1 read, 0 end of file, -1 too long or NUL byte */
static int
read_line(FILE *f, char *buf, size_t buflen, const char **why)
{
	size_t n = 0;
	int ch;

	while ((ch = getc(f)) != EOF) {
		if (ch == '\n')
			break;
		if (ch == '\0') {
			*why = "contains a NUL byte (is this a text file?)";
			return -1;
		}
		if (n + 1 >= buflen) {
			*why = "line too long (keep lines under 4096 bytes)";
			return -1;
		}
		buf[n++] = (char)ch;
	}
	buf[n] = '\0';
	if (ch == EOF && n == 0)
		return ferror(f) ? -1 : 0;
	return 1;
}

/* config_load_file - read a config file over the current values, stopping at the first error */
int
config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
	struct parse_state ps;
	char line[CONFIG_LINE_MAX], *copy = NULL;
	const char *why = "read error";
	struct stat st;
	FILE *f;
	int rc = -1, r;

	memset(&ps, 0, sizeof(ps));
	ps.c = c;
	ps.path = path;
	ps.err = err;
	ps.errlen = errlen;
	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) == -1) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: cannot open: %s", path,
		         S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
		goto out;
	}
	while ((r = read_line(f, line, sizeof(line), &why)) == 1) {
		ps.lineno++;
		if (parse_line(&ps, line) == -1)
			goto out;
	}
	if (r == -1) {
		file_error(&ps, ps.lineno + 1, why);
		goto out;
	}
	if (section_end(&ps) == -1)
		goto out;
	copy = strdup(path);
	if (copy == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	free(c->file);
	c->file = copy;
	rc = 0;
out:
	fclose(f);
	return rc;
}

/* CIDR ------------------------------------------------------------------------------------ */

/* cidr_parse - an address or address/prefix, host bits cleared */
int
cidr_parse(const char *s, struct cidr *out)
{
	char buf[64];
	const char *slash, *errstr;
	long long prefix;
	size_t n = strnlen(s, sizeof(buf)), i;
	int maxbits;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n + 1);
	memset(out, 0, sizeof(*out));
	slash = strchr(s, '/');
	if (slash != NULL)
		buf[slash - s] = '\0';
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = AF_INET;
		maxbits = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = AF_INET6;
		maxbits = 128;
	} else {
		return -1;
	}
	prefix = maxbits;
	if (slash != NULL && parse_num(slash + 1, 0, maxbits, &prefix, &errstr) == -1)
		return -1;
	out->prefix = (int)prefix;

	/* Host bits are cleared so "10.1.2.3/8" means 10.0.0.0/8, as routers read it. */
	for (i = 0; i < 16; i++) {
		int bits = out->prefix - (int)i * 8;

		if (bits >= 8)
			continue;
		out->addr[i] &= bits <= 0 ? 0 : (unsigned char)(0xff << (8 - bits));
	}
	return 0;
}

/* prefix_eq - do the first bits of a and b agree */
static bool
prefix_eq(const unsigned char *a, const unsigned char *b, int bits)
{
	int full = bits / 8, rest = bits % 8;
	unsigned char mask;

	if (memcmp(a, b, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

/* cidr_match - is the peer inside the prefix, looking through IPv4-mapped IPv6 both ways */
bool
cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	const unsigned char *ip;
	unsigned char v6[16];

	if (c == NULL || sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		ip = (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)
		         ->sin_addr;
		if (c->family == AF_INET)
			return prefix_eq(ip, c->addr, c->prefix);
		if (c->family != AF_INET6)
			return false;
		/* An IPv4 peer also matches an IPv4-mapped IPv6 prefix (::ffff:10.0.0.0/104). */
		memcpy(v6, mapped, 12);
		memcpy(v6 + 12, ip, 4);
		return prefix_eq(v6, c->addr, c->prefix);
	}
	if (sa->sa_family != AF_INET6)
		return false;
	ip = (const unsigned char *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (c->family == AF_INET6)
		return prefix_eq(ip, c->addr, c->prefix);
	/* A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; they match IPv4 prefixes. */
	if (c->family == AF_INET && memcmp(ip, mapped, 12) == 0)
		return prefix_eq(ip + 12, c->addr, c->prefix);
	return false;
}
