/* SPDX-License-Identifier: ISC */
/*
 * fuzz_syn - the client's SYN, which the attacker crafts (src/enrich/syn.c), matched against
 * p0f signatures (src/enrich/p0f.c); and the p0f signature file parser itself.
 *
 * Input: byte 0 bit 0 chooses:
 *   0: the rest is a saved SYN (IPv4/IPv6 header with options, TCP header with options) for
 *      syn_parse; a parsed SYN goes through syn_olayout_str, syn_quirks_str, p0f_sig_string,
 *      p0f_match against the shipped contrib/p0f.fp and p0f_jw_fields;
 *   1: the rest is a p0f.fp file for p0f_db_parse.
 * Checks: the string functions NUL-terminate, return the length they needed, and fit their
 * documented maximum (P0F_SIG_STR_MAX); a match has a class and a name; the os fields are valid
 * JSON; and the signature p0f_sig_string writes for a SYN, read back as a one-line p0f file,
 * matches that SYN exactly (when its option length fits the format's 255 and its TTL is at
 * most P0F_MAX_DIST hops from the guessed initial TTL, as an exact match requires). A refused p0f
 * file gets a one-line "fuzz.fp:LINE: ..." error.
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/str.h"
#include "enrich/p0f.h"
#include "enrich/syn.h"

#ifndef FUZZ_P0F_FP
#define FUZZ_P0F_FP "contrib/p0f.fp"
#endif

static struct p0f_db *shipped;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[512];

	(void)argc;
	(void)argv;
	fz_quiet();
	shipped = p0f_db_load(FUZZ_P0F_FP, err, sizeof(err));
	if (shipped == NULL) {
		fprintf(stderr, "%s\n", err);
		fz_fail(__FILE__, __LINE__, "cannot load the shipped p0f.fp");
	}
	return 0;
}

/* str_ok - an snprintf-like result: NUL-terminated, n the length it needed */
static void
str_ok(const char *out, size_t outlen, size_t n)
{
	FZ_CHECK(memchr(out, '\0', outlen) != NULL);
	FZ_CHECK(n >= outlen ? strlen(out) == outlen - 1 : strlen(out) == n);
}

/* roundtrip - the SYN's own signature, as a p0f file, must match it exactly */
static void
roundtrip(const struct syn_info *s, const char *sig)
{
	char text[P0F_SIG_STR_MAX + 128], err[512];
	struct p0f_match m;
	struct p0f_db *db;

	snprintf(text, sizeof(text),
	         "classes = win,unix,other\n[tcp:request]\nlabel = s:unix:Self:test\nsig = %s\n",
	         sig);
	db = p0f_db_parse(text, strlen(text), "roundtrip.fp", err, sizeof(err));
	if (db == NULL) {
		fprintf(stderr, "sig %s: %s\n", sig, err);
		fz_fail(__FILE__, __LINE__,
		        "p0f_sig_string wrote a signature p0f_db_parse refuses");
	}
	p0f_match(db, s, &m);
	if (m.kind != P0F_EXACT) {
		fprintf(stderr, "sig %s: %s match\n", sig, p0f_match_name(m.kind));
		fz_fail(__FILE__, __LINE__, "a SYN does not match its own signature exactly");
	}
	p0f_db_free(db);
}

static void
fz_syn(const unsigned char *pkt, size_t len)
{
	char small[8], big[P0F_SIG_STR_MAX], sig[P0F_SIG_STR_MAX];
	struct syn_info s;
	struct p0f_match m;
	const char *why = NULL;
	json_error_t jerr;
	struct jw w;
	json_t *j;
	int n;

	if (syn_parse(pkt, len, &s, &why) == -1) {
		FZ_CHECK(why != NULL);
		return;
	}
	FZ_CHECK(s.ip_version == 4 || s.ip_version == 6);
	FZ_CHECK(s.nopt <= SYN_OPT_MAX);
	str_ok(small, sizeof(small), syn_olayout_str(&s, small, sizeof(small)));
	str_ok(big, sizeof(big), syn_olayout_str(&s, big, sizeof(big)));
	str_ok(small, sizeof(small), syn_quirks_str(s.quirks, small, sizeof(small)));
	str_ok(big, sizeof(big), syn_quirks_str(s.quirks, big, sizeof(big)));
	n = p0f_sig_string(&s, sig, sizeof(sig));
	FZ_CHECK(n > 0 && (size_t)n < sizeof(sig));
	str_ok(sig, sizeof(sig), (size_t)n);
	n = p0f_sig_string(&s, small, sizeof(small));
	FZ_CHECK(n > 0);
	str_ok(small, sizeof(small), (size_t)n);
	p0f_match(shipped, &s, &m);
	if (m.kind != P0F_NONE)
		FZ_CHECK(m.os_class != NULL && m.os_name != NULL && m.os_flavor != NULL &&
		         m.line > 0);
	jw_init(&w);
	jw_obj_open(&w);
	p0f_jw_fields(&w, &s, &m);
	jw_obj_close(&w);
	FZ_CHECK(!w.oom);
	j = json_loadb(w.buf, w.len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		fprintf(stderr, "%s\n%.*s\n", jerr.text, (int)w.len, w.buf);
		fz_fail(__FILE__, __LINE__, "p0f_jw_fields wrote invalid JSON");
	}
	json_decref(j);
	jw_free(&w);
	/* p0f's format (like p0f) takes option lengths up to 255; IPv6 extension headers can
	 * be longer, and such a SYN's signature is a description, not a matchable line. A TTL
	 * more than P0F_MAX_DIST hops below the initial TTL is never an exact match, by design. */
	if (s.ip_opt_len <= 255 && p0f_guess_distance(s.ttl) <= P0F_MAX_DIST)
		roundtrip(&s, sig);
}

static void
fz_p0f_file(const char *text, size_t len)
{
	struct p0f_db *db;
	const char *c;
	char err[512] = "";

	db = p0f_db_parse(text, len, "fuzz.fp", err, sizeof(err));
	if (db != NULL) {
		FZ_CHECK(p0f_db_count(db) <= P0F_SIGS_MAX);
		p0f_db_free(db);
		return;
	}
	FZ_CHECK(strncmp(err, "fuzz.fp", 7) == 0);
	for (c = err; *c != '\0'; c++)
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f) {
			fprintf(stderr, "error message: %s\n", err);
			fz_fail(__FILE__, __LINE__, "p0f error is not one printable line");
		}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *buf;
	size_t len;

	if (size < 1)
		return 0;
	if (shipped == NULL)
		LLVMFuzzerInitialize(NULL, NULL);
	/* an exact-size heap copy, so ASan catches any read past the end */
	len = size - 1;
	buf = malloc(len + 1);
	FZ_CHECK(buf != NULL);
	memcpy(buf, data + 1, len);
	if (data[0] & 1)
		fz_p0f_file((const char *)buf, len);
	else
		fz_syn(buf, len);
	free(buf);
	return 0;
}
