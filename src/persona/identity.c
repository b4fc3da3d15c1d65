/* SPDX-License-Identifier: ISC */
/*
 * identity - per-install random host and domain names for the personas (see identity.h).
 *
 * Owns: the word lists names are built from.
 * Public: identity_generate, identity_load_or_create, identity_save.
 * Limits: identity files up to IDENTITY_FILE_MAX bytes; names as in identity.h.
 */
#include "persona/identity.h"
#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IDENTITY_FILE_MAX 4096

/* Host labels that mail servers of the era really carried. */
static const char *const host_words[] = {"mail",   "exch",     "exchange", "smtp",  "mx",
                                         "mailgw", "srv-mail", "mailhost", "exsrv", "msx"};
/* Two word lists make a company name; thousands of combinations keep installs apart. */
static const char *const org_first[] = {
    "meridian",   "atlas",       "northgate",  "bluewater", "pinecrest", "harbor",  "summit",
    "keystone",   "redwood",     "silverline", "granite",   "lakeside",  "cobalt",  "westfield",
    "ironbridge", "oakmont",     "brightway",  "crescent",  "evergreen", "falcon",  "highland",
    "landmark",   "midland",     "pioneer",    "riverside", "sterling",  "trident", "vantage",
    "allied",     "continental", "coastal",    "premier",   "union",     "capitol", "delta",
    "eastern",    "frontier",    "heritage",   "liberty",   "national",  "pacific", "regal"};
static const char *const org_second[] = {
    "freight",    "logistics", "systems", "partners", "holdings", "industries", "medical",
    "finance",    "insurance", "foods",   "plastics", "steel",    "legal",      "realty",
    "printing",   "supply",    "tools",   "marine",   "energy",   "pharma",     "textiles",
    "consulting", "builders",  "motors",  "labs",     "group",    "electric",   "dental"};
static const char *const tlds[] = {"com", "com", "com", "com", "net", "org", "biz", "us"};

/* pick - one entry of a word list */
static const char *
pick(const char *const *list, size_t n)
{
	return list[rand_uniform((uint32_t)n)];
}

/* netbios_from_label - upper-cased first label, cut to 15 characters as Windows does */
static void
netbios_from_label(const char *name, char *out, size_t outlen)
{
	size_t n = 0;

	while (name[n] != '\0' && name[n] != '.' && n < 15 && n + 1 < outlen) {
		out[n] = (char)toupper((unsigned char)name[n]);
		n++;
	}
	out[n] = '\0';
}

/* derive - fill whatever is empty from the fqdn, so a file may give only "fqdn = ..." */
static void
derive(struct identity *id)
{
	const char *dot = strchr(id->fqdn, '.');

	if (id->netbios[0] == '\0')
		netbios_from_label(id->fqdn, id->netbios, sizeof(id->netbios));
	if (id->dns_domain[0] == '\0')
		strlcpy(id->dns_domain, dot != NULL ? dot + 1 : id->fqdn, sizeof(id->dns_domain));
	if (id->domain[0] == '\0')
		strlcpy(id->domain, id->dns_domain, sizeof(id->domain));
	if (id->nb_domain[0] == '\0')
		netbios_from_label(id->dns_domain, id->nb_domain, sizeof(id->nb_domain));
}

/* identity_generate - host label + optional AD sub-domain + company domain */
void
identity_generate(struct identity *id)
{
	char org[64], host[32], ad[200];
	uint32_t shape, digits;

	do {
		memset(id, 0, sizeof(*id));
		if (rand_uniform(2) == 0)
			snprintf(
			    org, sizeof(org), "%s-%s.%s", pick(org_first, ARRAY_LEN(org_first)),
			    pick(org_second, ARRAY_LEN(org_second)), pick(tlds, ARRAY_LEN(tlds)));
		else
			snprintf(org, sizeof(org), "%s%s.%s", pick(org_first, ARRAY_LEN(org_first)),
			         pick(org_second, ARRAY_LEN(org_second)),
			         pick(tlds, ARRAY_LEN(tlds)));
		/* Numbered hosts ("exch01", "mail2") are common, bare ones too. */
		digits = rand_uniform(4);
		if (digits == 0)
			snprintf(host, sizeof(host), "%s", pick(host_words, ARRAY_LEN(host_words)));
		else if (digits == 1)
			snprintf(host, sizeof(host), "%s%u",
			         pick(host_words, ARRAY_LEN(host_words)), 1 + rand_uniform(4));
		else
			snprintf(host, sizeof(host), "%s%02u",
			         pick(host_words, ARRAY_LEN(host_words)), 1 + rand_uniform(12));
		/* Windows 2000 AD domains were often a sub-domain of the public one, or ".local".
		 */
		shape = rand_uniform(3);
		if (shape == 0)
			snprintf(ad, sizeof(ad), "corp.%s", org);
		else if (shape == 1)
			snprintf(ad, sizeof(ad), "%.*s.local", (int)(strchr(org, '.') - org), org);
		else
			snprintf(ad, sizeof(ad), "%s", org);
		snprintf(id->fqdn, sizeof(id->fqdn), "%s.%s", host, ad);
		strlcpy(id->dns_domain, ad, sizeof(id->dns_domain));
		strlcpy(id->domain, org, sizeof(id->domain));
		derive(id);
	} while (strcmp(id->netbios, id->nb_domain) == 0);
}

/* dns_name_ok - letters, digits, '-' and '.', no empty label, at most 253 bytes */
static bool
dns_name_ok(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-')
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

/* netbios_ok - 1 to 15 printable bytes without spaces or the characters Windows forbids */
static bool
netbios_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 15)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || strchr("\\/:*?\"<>|.", c) != NULL)
			return false;
	}
	return true;
}

/* set_field - one "key = value" of the file */
static int
set_field(struct identity *id, const char *key, const char *val)
{
	struct {
		const char *key;
		char *dst;
		size_t size;
	} fields[] = {
	    {"fqdn", id->fqdn, sizeof(id->fqdn)},
	    {"netbios", id->netbios, sizeof(id->netbios)},
	    {"domain", id->domain, sizeof(id->domain)},
	    {"nb_domain", id->nb_domain, sizeof(id->nb_domain)},
	    {"dns_domain", id->dns_domain, sizeof(id->dns_domain)},
	};

	for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
		if (strcmp(fields[i].key, key) != 0)
			continue;
		if (strlcpy(fields[i].dst, val, fields[i].size) >= fields[i].size)
			return -1;
		return 0;
	}
	return -1;
}

/* parse - the identity file text into id; 0 or -1 with "PATH:LINE: message" */
static int
parse(const char *path, char *buf, struct identity *id, char *err, size_t errlen)
{
	unsigned long lineno = 0;
	char *line = buf, *next;

	memset(id, 0, sizeof(*id));
	for (; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		lineno++;
		char *end = line + strlen(line);
		while (end > line && isspace((unsigned char)end[-1]))
			*--end = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == '\0' || *line == '#')
			continue;
		char *eq = strchr(line, '=');
		if (eq == NULL) {
			seterr(err, errlen, "%s:%lu: expected \"key = value\"", path, lineno);
			return -1;
		}
		char *kend = eq;
		while (kend > line && (kend[-1] == ' ' || kend[-1] == '\t'))
			kend--;
		*kend = '\0';
		char *val = eq + 1;
		while (*val == ' ' || *val == '\t')
			val++;
		if (set_field(id, line, val) == -1) {
			seterr(err, errlen,
			       "%s:%lu: unknown key or value too long (keys: fqdn netbios domain "
			       "nb_domain dns_domain)",
			       path, lineno);
			return -1;
		}
	}
	if (id->fqdn[0] == '\0') {
		seterr(err, errlen, "%s: no fqdn (add \"fqdn = host.example.com\")", path);
		return -1;
	}
	derive(id);
	if (!dns_name_ok(id->fqdn) || !dns_name_ok(id->domain) || !dns_name_ok(id->dns_domain)) {
		seterr(err, errlen, "%s: fqdn, domain and dns_domain must be DNS names", path);
		return -1;
	}
	if (!netbios_ok(id->netbios) || !netbios_ok(id->nb_domain)) {
		seterr(err, errlen, "%s: netbios and nb_domain must be 1-15 characters", path);
		return -1;
	}
	return 0;
}

/* identity_save - write to a temporary file next to path, then rename over it */
int
identity_save(const char *path, const struct identity *id, char *err, size_t errlen)
{
	char tmp[1024];
	FILE *f = NULL;
	int fd = -1, rc = -1;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		seterr(err, errlen, "%s: path too long", path);
		goto done;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) == -1) {
		seterr(err, errlen, "%s: %s", tmp, strerror(errno));
		goto done;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		seterr(err, errlen, "%s: %s", tmp, strerror(errno));
		goto done;
	}
	fd = -1;
	fprintf(f,
	        "# relaytrap identity: the names this install answers with. Generated once at\n"
	        "# random so installs differ; edit to taste (only fqdn is required).\n"
	        "fqdn = %s\nnetbios = %s\ndomain = %s\nnb_domain = %s\ndns_domain = %s\n",
	        id->fqdn, id->netbios, id->domain, id->nb_domain, id->dns_domain);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		seterr(err, errlen, "%s: %s", tmp, strerror(errno));
		goto done;
	}
	if (fclose(f) != 0) {
		f = NULL;
		seterr(err, errlen, "%s: %s", tmp, strerror(errno));
		goto done;
	}
	f = NULL;
	if (rename(tmp, path) == -1) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	rc = 0;
done:
	if (f != NULL)
		fclose(f);
	if (fd != -1)
		close(fd);
	if (rc == -1)
		unlink(tmp);
	return rc;
}

/* identity_load_or_create - keep one identity per install */
int
identity_load_or_create(const char *path, struct identity *id, char *err, size_t errlen)
{
	char buf[IDENTITY_FILE_MAX + 1];
	FILE *f;
	size_t n;

	if ((f = fopen(path, "rb")) == NULL) {
		if (errno != ENOENT) {
			seterr(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		identity_generate(id);
		return identity_save(path, id, err, errlen);
	}
	n = fread(buf, 1, sizeof(buf), f);
	if (ferror(f)) {
		fclose(f);
		seterr(err, errlen, "%s: read error", path);
		return -1;
	}
	fclose(f);
	if (n > IDENTITY_FILE_MAX || memchr(buf, '\0', n) != NULL) {
		seterr(err, errlen, "%s: not a small text file (at most %d bytes)", path,
		       IDENTITY_FILE_MAX);
		return -1;
	}
	buf[n] = '\0';
	return parse(path, buf, id, err, errlen);
}
