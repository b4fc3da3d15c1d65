/* SPDX-License-Identifier: ISC */
/*
 * tests/unit/persona - cmocka tests for src/persona: the exchange2000 replies byte-exact, dates,
 * attacker-value hygiene, length caps, queue ids, parse errors, base inheritance, the three
 * built-ins (and that they are the shipped bytes), and the install identity.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "persona/builtin.h"
#include "persona/identity.h"
#include "persona/persona.h"

/* 2026-11-27 10:53:36 UTC, a Friday */
#define T_FRI 1795776816
/* 2021-11-08 09:05:07 UTC, a Monday with a one-digit day */
#define T_MON 1636362307
/* 2009-01-11 19:32:00 UTC, the seed's banner time (a Sunday) */
#define T_SEED 1231702320

static char tmpdir[64];

/* nz - a printable stand-in for NULL in failure messages */
static const char *
nz(const char *s)
{
	return s != NULL ? s : "(null)";
}

/* set_tz - switch the local time zone for $date */
static void
set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

/* std_vars - the variables most cases use */
static struct persona_vars
std_vars(void)
{
	struct persona_vars v;

	memset(&v, 0, sizeof(v));
	v.hostname = "exch01.corp.example.com";
	v.netbios = "EXCH01";
	v.domain = "example.com";
	v.client_ip = "192.0.2.7";
	v.helo = "bot.example.net";
	v.addr = "a@b.example";
	v.arg = "example.org";
	v.msgid = "EXCH01p7lzvxrMVHFb00000001";
	v.octets = 1234;
	v.now = T_FRI;
	return v;
}

/* write_file - a file under the test's temporary directory; returns its path */
static const char *
write_file(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	return path;
}

/* expect_reply - expand r and compare byte for byte */
static void
expect_reply(const struct persona *p, enum persona_reply r, const struct persona_vars *v,
             const char *want)
{
	char out[8192];
	int n = persona_expand(p, r, v, out, sizeof(out));

	if (n < 0 || strcmp(out, want) != 0)
		print_error("%s: got \"%s\" (%d), want \"%s\"\n", nz(persona_reply_key(r)), nz(out),
		            n, nz(want));
	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(out, want);
}

/* test_exchange_rows - every row of the exchange2000 table in the brief, byte-exact */
static void
test_exchange_rows(void **state)
{
	static const struct {
		enum persona_reply r;
		const char *want;
	} rows[] = {
	    {PR_BANNER, "220 exch01.corp.example.com Microsoft ESMTP MAIL Service, Version: "
	                "5.0.2195.5329 ready at  Fri, 27 Nov 2026 10:53:36 +0000 \r\n"},
	    {PR_EHLO, "250-exch01.corp.example.com Hello [192.0.2.7]\r\n"
	              "250-TURN\r\n250-ATRN\r\n250-SIZE\r\n250-ETRN\r\n250-PIPELINING\r\n"
	              "250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-8bitmime\r\n250-BINARYMIME\r\n"
	              "250-CHUNKING\r\n250-VRFY\r\n250-X-EXPS GSSAPI NTLM LOGIN\r\n"
	              "250-X-EXPS=LOGIN\r\n250-AUTH GSSAPI NTLM LOGIN\r\n250-AUTH=LOGIN\r\n"
	              "250-X-LINK2STATE\r\n250-XEXCH50\r\n250 OK\r\n"},
	    {PR_HELO, "250 exch01.corp.example.com Hello [192.0.2.7]\r\n"},
	    {PR_MAIL_OK, "250 2.1.0 a@b.example....Sender OK\r\n"},
	    {PR_RCPT_OK, "250 2.1.5 a@b.example \r\n"},
	    {PR_DATA_START, "354 Start mail input; end with <CRLF>.<CRLF>\r\n"},
	    {PR_DATA_OK, "250 2.6.0 <EXCH01p7lzvxrMVHFb00000001@exch01.corp.example.com> Queued "
	                 "mail for delivery\r\n"},
	    {PR_RSET, "250 2.0.0 Resetting\r\n"},
	    {PR_QUIT, "221 2.0.0 exch01.corp.example.com Service closing transmission channel\r\n"},
	    {PR_VRFY, "252 2.1.5 Cannot VRFY user, but will take message for <a@b.example>\r\n"},
	    {PR_UNKNOWN, "500 5.3.3 Unrecognized command\r\n"},
	    {PR_RCPT_NOMAIL, "503 5.5.2 Need mail command\r\n"},
	    {PR_DATA_NOMAIL, "503 5.5.2 Need mail command\r\n"},
	    {PR_DATA_NORCPT, "503 5.5.2 Need Rcpt command.\r\n"},
	    {PR_AUTH_BADMECH, "504 5.7.4 Unrecognized authentication type\r\n"},
	    {PR_AUTH_NTLM_START, "334 NTLM supported\r\n"},
	    {PR_STARTTLS, "554 5.7.3 Unable to initialize security subsystem\r\n"},
	    {PR_AUTH_FAIL, "535 5.7.3 Authentication unsuccessful\r\n"},
	    {PR_HELP, "214-This server supports the following commands:\r\n"
	              "214 HELO EHLO STARTTLS RCPT DATA RSET MAIL QUIT HELP AUTH TURN ATRN ETRN "
	              "BDAT VRFY\r\n"},
	    {PR_TOO_MANY_ERRORS, "421 4.7.0 exch01.corp.example.com Too many errors on this "
	                         "connection, closing transmission channel\r\n"},
	    {PR_BDAT_OK, "250 2.0.0 1234 octets received\r\n"},
	    {PR_ETRN, "250 2.0.0 Queuing for node example.org started\r\n"},
	    {PR_MAIL_NOHELO, "503 5.5.2 Send hello first\r\n"},
	    {PR_AUTH_USER_PROMPT, "334 VXNlcm5hbWU6\r\n"},
	    {PR_AUTH_PASS_PROMPT, "334 UGFzc3dvcmQ6\r\n"},
	    {PR_DATA_TOOBIG, "552 5.3.4 Message size exceeds fixed maximum message size\r\n"},
	};
	struct persona *p = persona_load_builtin("exchange2000");
	struct persona_vars v = std_vars();

	(void)state;
	set_tz("UTC0");
	assert_non_null(p);
	for (size_t i = 0; i < ARRAY_LEN(rows); i++)
		expect_reply(p, rows[i].r, &v, rows[i].want);
	persona_free(p);
}

/* test_every_reply_renders - every key of every built-in renders to code + CRLF lines */
static void
test_every_reply_renders(void **state)
{
	const char *const *names = persona_builtin_names();
	struct persona_vars v = std_vars();
	char out[8192];

	(void)state;
	for (size_t i = 0; names[i] != NULL; i++) {
		struct persona *p = persona_load_builtin(names[i]);
		assert_non_null(p);
		for (int r = 0; r < PR__COUNT; r++) {
			int n = persona_expand(p, (enum persona_reply)r, &v, out, sizeof(out));
			if (n < 5)
				print_error("%s/%s: got %d bytes, want a reply\n", names[i],
				            persona_reply_key((enum persona_reply)r), n);
			assert_true(n >= 5);
			assert_true(isdigit((unsigned char)out[0]) &&
			            isdigit((unsigned char)out[1]) &&
			            isdigit((unsigned char)out[2]));
			assert_memory_equal(out + n - 2, "\r\n", 2);
			/* No bare LF and no bare CR anywhere in the wire bytes. */
			for (int k = 0; k < n; k++) {
				if (out[k] == '\n')
					assert_true(k > 0 && out[k - 1] == '\r');
				if (out[k] == '\r')
					assert_true(k + 1 < n && out[k + 1] == '\n');
			}
		}
		persona_free(p);
	}
}

/* test_dates - $date per persona, local time, C locale, custom day and month names */
static void
test_dates(void **state)
{
	static const struct {
		const char *persona;
		const char *tz;
		int64_t now;
		const char *want;
	} rows[] = {
	    {"exchange2000", "UTC0", T_FRI, "Fri, 27 Nov 2026 10:53:36 +0000"},
	    {"exchange2000", "CET-1", T_MON, "Mon, 8 Nov 2021 10:05:07 +0100"},
	    {"exchange2000", "EST5", T_MON, "Mon, 8 Nov 2021 04:05:07 -0500"},
	    {"honeyd-2009", "WET0", T_SEED, "Dom Jan 11 19:32:00 WET 2009"},
	    {"postfix", "UTC0", T_MON, "Mon, 8 Nov 2021 09:05:07 +0000"},
	};
	char out[512];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		struct persona *p = persona_load_builtin(rows[i].persona);
		struct persona_vars v = std_vars();
		assert_non_null(p);
		set_tz(rows[i].tz);
		v.now = rows[i].now;
		int n = persona_expand_str(p, "250 $date", &v, out, sizeof(out));
		char want[256];
		snprintf(want, sizeof(want), "250 %s\r\n", rows[i].want);
		if (strcmp(out, want) != 0)
			print_error("%s %s: got \"%s\", want \"%s\"\n", rows[i].persona, rows[i].tz,
			            out, want);
		assert_int_equal(n, (int)strlen(want));
		assert_string_equal(out, want);
		persona_free(p);
	}
	set_tz("UTC0");
}

/* test_seed_banner - the honeyd-2009 banner and EHLO as printed in the seed */
static void
test_seed_banner(void **state)
{
	struct persona *p = persona_load_builtin("honeyd-2009");
	struct persona_vars v = std_vars();
	char out[4096];

	(void)state;
	assert_non_null(p);
	set_tz("WET0");
	v.hostname = "bps-pc9.local.mynet";
	v.now = T_SEED;
	expect_reply(p, PR_BANNER, &v,
	             "220 bps-pc9.local.mynet Microsoft ESMTP MAIL Service, Version: 5.0.2195.5329 "
	             "ready at  Dom Jan 11 19:32:00 WET 2009\r\n");
	assert_true(persona_expand(p, PR_EHLO, &v, out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "250-bps-pc9.local.mynet Hello [1]\r\n250-TURN\r\n"));
	assert_non_null(strstr(out, "250-X-LINK2STATE\r\n250-XEXCH50}\r\n250 OK\r\n"));
	v.addr = "from@domain.com";
	expect_reply(p, PR_MAIL_OK, &v, "250 from@domain.com... Sender ok \r\n");
	v.addr = "to@domain.com";
	expect_reply(p, PR_RCPT_OK, &v, "250 to@domain.com... Recipient ok (will queue)\r\n");
	/* Inherited from exchange2000 through "base". */
	expect_reply(p, PR_RSET, &v, "250 2.0.0 Resetting\r\n");
	persona_free(p);
	set_tz("UTC0");
}

/* test_attacker_values - CR, LF and controls stripped, "$hostname" inside them left literal */
static void
test_attacker_values(void **state)
{
	static const struct {
		const char *tmpl;
		const char *helo, *addr, *arg;
		const char *want;
	} rows[] = {
	    {"250 $helo", "evil\r\n250 $hostname\x01x", NULL, NULL, "250 evil250 $hostnamex\r\n"},
	    {"250 2.1.0 $addr....Sender OK", NULL, "a\rb\nc\x7f\x1b[0m@d", NULL,
	     "250 2.1.0 abc[0m@d....Sender OK\r\n"},
	    {"250 $arg", NULL, NULL, "$$ $date ${hostname}", "250 $$ $date ${hostname}\r\n"},
	    {"250 [$helo]", "", NULL, NULL, "250 []\r\n"},
	    {"250 [$helo]", NULL, NULL, NULL, "250 []\r\n"},
	    {"250 $$hostname $hostname", NULL, NULL, NULL, "250 $hostname h.example\r\n"},
	    {"250 ${addr}x $nosuchvar", NULL, "q@r", NULL, "250 q@rx $nosuchvar\r\n"},
	    {"250 \xc3\xa9t\xc3\xa9 $helo", "caf\xc3\xa9", NULL, NULL,
	     "250 \xc3\xa9t\xc3\xa9 caf\xc3\xa9\r\n"},
	};
	struct persona *p = persona_load_builtin("exchange2000");
	char out[2048];

	(void)state;
	assert_non_null(p);
	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		struct persona_vars v;
		memset(&v, 0, sizeof(v));
		v.hostname = "h.example";
		v.helo = rows[i].helo;
		v.addr = rows[i].addr;
		v.arg = rows[i].arg;
		v.now = T_FRI;
		int n = persona_expand_str(p, rows[i].tmpl, &v, out, sizeof(out));
		if (strcmp(out, rows[i].want) != 0)
			print_error("row %zu: got \"%s\", want \"%s\"\n", i, nz(out),
			            nz(rows[i].want));
		assert_int_equal(n, (int)strlen(rows[i].want));
		assert_string_equal(out, rows[i].want);
	}
	persona_free(p);
}

/* test_length_caps - variables cut to PERSONA_VAR_MAX; a reply that does not fit is -1 with
 * the persona's local error in the buffer */
static void
test_length_caps(void **state)
{
	struct persona *p = persona_load_builtin("exchange2000");
	struct persona_vars v = std_vars();
	char *big = malloc(5000);
	char out[2048], med[300], small[40], tiny[8];

	(void)state;
	assert_non_null(p);
	assert_non_null(big);
	memset(big, 'A', 4999);
	big[4999] = '\0';
	v.helo = big;
	assert_int_equal(persona_expand_str(p, "250 $helo", &v, out, sizeof(out)),
	                 4 + PERSONA_VAR_MAX + 2);
	assert_int_equal(strspn(out + 4, "A"), PERSONA_VAR_MAX);

	/* 11 bytes of control characters do not count against the cap. */
	memcpy(big, "\r\n\r\n\r\n\x01\x02\x03\x04\x05", 11);
	assert_int_equal(persona_expand_str(p, "$helo", &v, out, sizeof(out)), PERSONA_VAR_MAX + 2);

	/* Too small for the reply: the persona's own local error, a generic one, or nothing. */
	v.addr = big;
	assert_int_equal(persona_expand(p, PR_MAIL_OK, &v, med, sizeof(med)), -1);
	assert_string_equal(med, "451 4.3.0 Other or undefined mail system status\r\n");
	assert_int_equal(persona_expand(p, PR_MAIL_OK, &v, small, sizeof(small)), -1);
	assert_string_equal(small, "451 4.3.0 Local error\r\n");
	memset(tiny, 'Z', sizeof(tiny));
	assert_int_equal(persona_expand(p, PR_MAIL_OK, &v, tiny, sizeof(tiny)), -1);
	assert_string_equal(tiny, "");
	assert_int_equal(persona_expand(p, (enum persona_reply)PR__COUNT, &v, med, sizeof(med)),
	                 -1);
	persona_free(p);
	free(big);
}

/* test_msgid - the three queue-id styles */
static void
test_msgid(void **state)
{
	struct persona *ex = persona_load_builtin("exchange2000");
	struct persona *pf = persona_load_builtin("postfix");
	struct persona *hd = persona_load_builtin("honeyd-2009");
	char id[64], id2[64];

	(void)state;
	assert_non_null(ex);
	assert_non_null(pf);
	assert_non_null(hd);
	assert_int_equal(persona_msgid_style(ex), MSGID_EXCHANGE);
	assert_int_equal(persona_msgid_style(pf), MSGID_POSTFIX);
	assert_int_equal(persona_msgid_style(hd), MSGID_SENDMAIL);

	persona_msgid(ex, "NAPIER", 1, id, sizeof(id));
	assert_int_equal(strlen(id), 27);
	assert_memory_equal(id, "NAPIER", 6);
	for (int i = 6; i < 19; i++)
		assert_true(isalnum((unsigned char)id[i]));
	assert_string_equal(id + 19, "00000001");
	persona_msgid(ex, "NAPIER", 0x5dabcULL, id2, sizeof(id2));
	assert_string_equal(id2 + 19, "0005dabc");
	/* The padding is random, so two ids differ before the counter. */
	persona_msgid(ex, "NAPIER", 1, id2, sizeof(id2));
	assert_int_equal(strlen(id2), 27);
	assert_memory_not_equal(id, id2, 19);
	persona_msgid(ex, NULL, 0xffffffffULL, id, sizeof(id));
	assert_int_equal(strlen(id), 27);
	assert_string_equal(id + 19, "ffffffff");
	/* A short buffer is cut, never overrun. */
	persona_msgid(ex, "NAPIER", 1, id, 10);
	assert_int_equal(strlen(id), 9);

	persona_msgid(pf, "NAPIER", 7, id, sizeof(id));
	assert_int_equal(strlen(id), 10);
	assert_int_equal(strspn(id, "0123456789ABCDEF"), 10);

	persona_msgid(hd, "NAPIER", 61, id, sizeof(id));
	assert_int_equal(strlen(id), 14);
	assert_int_equal(strspn(id + 8, "0123456789"), 6);
	assert_memory_equal(id + 6, "11", 2);
	persona_free(ex);
	persona_free(pf);
	persona_free(hd);
}

/* test_settings - the three built-ins' settings and what they advertise */
static void
test_settings(void **state)
{
	struct persona *ex = persona_load_builtin("exchange2000");
	struct persona *pf = persona_load_builtin("postfix");
	struct persona *hd = persona_load_builtin("honeyd-2009");

	(void)state;
	assert_non_null(ex);
	assert_non_null(pf);
	assert_non_null(hd);
	assert_string_equal(persona_name(ex), "exchange2000");
	assert_string_equal(persona_name(hd), "honeyd-2009");
	assert_string_equal(persona_name(pf), "postfix");
	assert_non_null(strstr(persona_product(ex), "5.0.2195.5329"));
	assert_int_equal(persona_ttl(ex), 128);
	assert_int_equal(persona_ttl(hd), 128);
	assert_int_equal(persona_ttl(pf), 64);
	assert_true(persona_delay_banner_ms(ex) >= 10 && persona_delay_banner_ms(ex) < 100);
	assert_true(persona_delay_reply_ms(ex) > 0 && persona_delay_reply_ms(ex) < 10);
	assert_true(persona_delay_jitter_ms(ex) > 0);
	assert_true(persona_require_helo(ex));
	assert_false(persona_require_helo(pf));
	assert_true(persona_append_domain(ex));
	assert_false(persona_append_domain(hd));
	assert_true(persona_strict_crlf(ex));
	assert_false(persona_strict_crlf(pf));
	assert_string_equal(persona_date_format(ex), "%a, %-d %b %Y %H:%M:%S %z");

	assert_true(persona_advertises(ex, "PIPELINING"));
	assert_true(persona_advertises(ex, "8BITMIME"));
	assert_true(persona_advertises(ex, "auth"));
	assert_true(persona_advertises(ex, "AUTH=LOGIN"));
	assert_true(persona_advertises(ex, "XEXCH50"));
	assert_false(persona_advertises(ex, "STARTTLS"));
	assert_false(persona_advertises(ex, "SMTPUTF8"));
	assert_false(persona_advertises(ex, "Hello"));
	assert_false(persona_advertises(ex, ""));
	assert_false(persona_advertises(hd, "XEXCH50"));
	assert_true(persona_advertises(hd, "XEXCH50}"));
	assert_true(persona_advertises(pf, "SMTPUTF8"));
	assert_true(persona_advertises(pf, "CHUNKING"));
	assert_true(persona_advertises(pf, "SIZE"));
	assert_false(persona_advertises(pf, "STARTTLS"));
	assert_false(persona_advertises(pf, "AUTH"));

	assert_true(persona_auth_mech(ex, "NTLM"));
	assert_true(persona_auth_mech(ex, "login"));
	assert_true(persona_auth_mech(ex, "GSSAPI"));
	assert_false(persona_auth_mech(ex, "PLAIN"));
	assert_false(persona_auth_mech(ex, "NTL"));
	assert_false(persona_auth_mech(pf, "LOGIN"));
	assert_true(persona_auth_mech(hd, "NTLM"));

	assert_string_equal(persona_reply_key(PR_MAIL_OK), "mail_ok");
	assert_string_equal(persona_reply_key(PR_LOCAL_ERROR), "local_error");
	assert_string_equal(persona_reply(ex, PR_RSET), "250 2.0.0 Resetting");
	persona_free(ex);
	persona_free(pf);
	persona_free(hd);
}

/* test_builtins - names, default first, all load, and the same bytes as personas/ */
static void
test_builtins(void **state)
{
	const char *const *names = persona_builtin_names();
	static char buf[300000];
	size_t count = 0;

	(void)state;
	assert_non_null(names);
	assert_string_equal(names[0], "exchange2000");
	for (size_t i = 0; names[i] != NULL; i++) {
		struct persona *p = persona_load_builtin(names[i]);
		assert_non_null(p);
		assert_string_equal(persona_name(p), names[i]);
		persona_free(p);
		count++;
	}
	assert_int_equal(count, 3);
	assert_int_equal(persona_builtins_count, 3);
	assert_null(persona_load_builtin("nosuch"));
	assert_null(persona_load_builtin(NULL));
	for (size_t i = 0; i < persona_builtins_count; i++) {
		const struct persona_builtin *b = &persona_builtins[i];
		FILE *f = fopen(b->src_path, "rb");
		if (f == NULL)
			print_error("cannot open %s\n", b->src_path);
		assert_non_null(f);
		size_t n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		if (n != b->len)
			print_error("%s: got %zu embedded bytes, want %zu\n", b->name, b->len, n);
		assert_int_equal(n, b->len);
		assert_memory_equal(buf, b->text, n);
		/* Loading the shipped file gives the same replies as the built-in. */
		char err[512];
		struct persona *pf = persona_load_file(b->src_path, err, sizeof(err));
		struct persona *pb = persona_load_builtin(b->name);
		if (pf == NULL)
			print_error("%s\n", err);
		assert_non_null(pf);
		assert_non_null(pb);
		for (int r = 0; r < PR__COUNT; r++)
			assert_string_equal(persona_reply(pf, (enum persona_reply)r),
			                    persona_reply(pb, (enum persona_reply)r));
		persona_free(pf);
		persona_free(pb);
	}
}

/* test_parse_errors - bad files are refused with "FILE:LINE: message" */
static void
test_parse_errors(void **state)
{
	static const struct {
		const char *text;
		unsigned line;
		const char *msg;
	} rows[] = {
	    {"[replies]\nbanner = \"220 x\"\nbogus = \"250 x\"\n", 3, "unknown reply key"},
	    {"[settings]\nfrobnicate = 1\n", 2, "unknown key"},
	    {"[persona]\nname = a\n\n[replies]\nbanner = \"220 \\q\"\n", 5, "bad escape"},
	    {"[replies]\nbanner = \"220 x\n", 2, "unterminated"},
	    {"[replies]\nbanner = \"220 x\" trailing\n", 2, "after the closing quote"},
	    {"[replies]\nbanner = \"hello\"\n", 2, "3-digit"},
	    {"[replies]\nbanner = 22\n", 2, "3-digit"},
	    {"[replies]\nbanner = \"220x\"\n", 2, "followed by"},
	    {"[replies]\nehlo = \"250 a\"\nehlo += \"250 b\"\n", 3, "before the last"},
	    {"[replies]\nhelp = \"214-a\"\n", 2, "last line"},
	    {"[replies]\nbanner = \"220 $hostnme\"\n", 2, "unknown variable"},
	    {"[replies]\nbanner = \"220 a\\r\"\n", 2, "control byte"},
	    {"banner = \"220 x\"\n", 1, "before any section"},
	    {"[answers]\n", 1, "unknown section"},
	    {"# c\n[replies]\nthis is not a key\n", 3, "expected"},
	    {"[replies]\nbanner = \"220 a\"\nbanner = \"220 b\"\n", 3, "set twice"},
	    {"[replies]\nrset += \"250 b\"\n", 2, "before ="},
	    {"[settings]\nttl = 300\n", 2, "0 to 255"},
	    {"[settings]\nrequire_helo = maybe\n", 2, "boolean"},
	    {"[settings]\nmsgid_style = qmail\n", 2, "msgid_style"},
	    {"[settings]\ndate_format = \"%Q\"\n", 2, "date_format"},
	    {"[settings]\nday_names = \"a b c\"\n", 2, "exactly 7"},
	    {"[settings]\nmonth_names = \"1 2 3 4 5 6 7 8 9 10 11 12 13\"\n", 2, "more than 12"},
	    {"[settings]\nauth_mechanisms = \"LOGIN;rm\"\n", 2, "auth_mechanisms"},
	    {"[persona]\nname = ../etc\n", 2, "not a valid name"},
	    {"[persona]\nbase = a/b\n", 2, "not a persona name"},
	    {"[settings]\nsettings += 1\n", 2, "only in [replies]"},
	};
	char err[512], want[512];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		char name[32];
		snprintf(name, sizeof(name), "bad%zu.persona", i);
		const char *path = write_file(name, rows[i].text);
		struct persona *p = persona_load_file(path, err, sizeof(err));
		snprintf(want, sizeof(want), "%s:%u: ", path, rows[i].line);
		if (p != NULL || strncmp(err, want, strlen(want)) != 0 ||
		    strstr(err, rows[i].msg) == NULL)
			print_error("row %zu: got \"%s\", want \"%s...%s...\"\n", i, err, want,
			            rows[i].msg);
		assert_null(p);
		assert_memory_equal(err, want, strlen(want));
		assert_non_null(strstr(err, rows[i].msg));
	}
}

/* test_missing_and_limits - missing keys name the key; over-long values and NULs are refused */
static void
test_missing_and_limits(void **state)
{
	char err[512];
	struct persona *p;
	char *text = malloc(20000);
	size_t n;

	(void)state;
	assert_non_null(text);
	const char *path = write_file("partial.persona", "[replies]\nbanner = \"220 x\"\n");
	p = persona_load_file(path, err, sizeof(err));
	assert_null(p);
	assert_non_null(strstr(err, "partial.persona: missing reply \"helo\""));

	n = (size_t)snprintf(text, 20000, "[replies]\nbanner = \"220 ");
	memset(text + n, 'x', PERSONA_REPLY_MAX);
	n += PERSONA_REPLY_MAX;
	memcpy(text + n, "\"\n", 3);
	p = persona_load_mem(text, strlen(text), "long", err, sizeof(err));
	assert_null(p);
	assert_non_null(strstr(err, "long:2: value longer than 4096"));

	/* Many += lines may not grow a reply past the cap either. */
	n = (size_t)snprintf(text, 20000, "[replies]\nehlo = \"250-a\"\n");
	for (int i = 0; i < 400; i++)
		n += (size_t)snprintf(text + n, 20000 - n, "ehlo += \"250-xxxxxxxxxxxx\"\n");
	p = persona_load_mem(text, n, "grow", err, sizeof(err));
	assert_null(p);
	assert_non_null(strstr(err, "reply longer than 4096"));

	p = persona_load_mem("[replies]\nbanner = \"220\0x\"\n", 25, "nul", err, sizeof(err));
	assert_null(p);
	assert_non_null(strstr(err, "nul:2: NUL byte"));

	/* a value the message quotes, decoded from its escapes: shown escaped, on one line */
	text = strcpy(text, "[settings]\nttl = \"1\\n2\"\n");
	p = persona_load_mem(text, strlen(text), "esc", err, sizeof(err));
	assert_null(p);
	assert_non_null(strstr(err, "esc:2: ttl: \"1\\n2"));
	assert_null(strchr(err, '\n'));

	memset(text, '#', 19999);
	text[19999] = '\0';
	p = persona_load_mem(text, strlen(text), "wide", err, sizeof(err));
	assert_null(p);
	assert_non_null(strstr(err, "wide:1: line longer"));

	p = persona_load_file("/nonexistent/x.persona", err, sizeof(err));
	assert_null(p);
	assert_non_null(strstr(err, "/nonexistent/x.persona: "));
	free(text);
}

/* test_base_inheritance - a variant file inherits from a built-in and from a sibling file */
static void
test_base_inheritance(void **state)
{
	char err[512];
	struct persona_vars v = std_vars();
	struct persona *p;

	(void)state;
	set_tz("UTC0");
	write_file("variant.persona",
	           "# an Exchange variant with a different banner and TTL\r\n"
	           "[persona]\r\nbase = exchange2000\r\n\r\n[settings]\r\nttl = 120\r\n"
	           "[replies]\r\nbanner = \"220 $hostname ESMTP ready \" # trailing space\r\n");
	p = persona_load("variant", tmpdir, err, sizeof(err));
	if (p == NULL)
		print_error("%s\n", err);
	assert_non_null(p);
	assert_string_equal(persona_name(p), "variant");
	assert_int_equal(persona_ttl(p), 120);
	assert_true(persona_require_helo(p));
	assert_int_equal(persona_msgid_style(p), MSGID_EXCHANGE);
	expect_reply(p, PR_BANNER, &v, "220 exch01.corp.example.com ESMTP ready \r\n");
	expect_reply(p, PR_RCPT_OK, &v, "250 2.1.5 a@b.example \r\n");
	assert_true(persona_advertises(p, "XEXCH50"));
	persona_free(p);

	/* A file in the same directory wins over a built-in as base, two levels deep. */
	const char *path = write_file("variant2.persona", "[persona]\nname = v2\nbase = variant\n"
	                                                  "[replies]\nquit = \"221 bye\"\n");
	p = persona_load_file(path, err, sizeof(err));
	assert_non_null(p);
	assert_string_equal(persona_name(p), "v2");
	assert_int_equal(persona_ttl(p), 120);
	expect_reply(p, PR_BANNER, &v, "220 exch01.corp.example.com ESMTP ready \r\n");
	expect_reply(p, PR_QUIT, &v, "221 bye\r\n");
	persona_free(p);

	/* Loops and unknown bases fail cleanly. */
	write_file("loopa.persona", "[persona]\nbase = loopb\n");
	path = write_file("loopb.persona", "[persona]\nbase = loopa\n");
	p = persona_load_file(path, err, sizeof(err));
	assert_null(p);
	assert_non_null(strstr(err, "base chain deeper"));
	path = write_file("orphan.persona", "[persona]\nbase = nowhere\n");
	p = persona_load_file(path, err, sizeof(err));
	assert_null(p);
	assert_non_null(strstr(err, "\"nowhere\" not found"));
	/* the error names the file and the line of "base =", like every other one */
	assert_non_null(strstr(err, "orphan.persona:2: base persona"));

	/* persona_load: built-in fallback, a path, and an unknown name. */
	p = persona_load("postfix", tmpdir, err, sizeof(err));
	assert_non_null(p);
	assert_string_equal(persona_name(p), "postfix");
	persona_free(p);
	p = persona_load("nosuch", tmpdir, err, sizeof(err));
	assert_null(p);
	assert_non_null(strstr(err, "not found"));
	p = persona_load("../x", NULL, err, sizeof(err));
	assert_null(p);
	p = persona_load("bad name", NULL, err, sizeof(err));
	assert_null(p);
	assert_non_null(strstr(err, "not a persona name"));
}

/* test_garbage_never_crashes - random bytes and mutated real files: NULL with a message, or a
 * complete persona */
static void
test_garbage_never_crashes(void **state)
{
	const struct persona_builtin *b = &persona_builtins[0];
	unsigned char *buf = malloc(b->len + 1);
	char err[512];
	int loaded = 0;

	(void)state;
	assert_non_null(buf);
	for (int round = 0; round < 3000; round++) {
		size_t n;
		if (round < 1000) {
			n = rand_uniform(200);
			rand_buf(buf, n);
		} else {
			n = b->len;
			memcpy(buf, b->text, n);
			for (int k = 0; k < 4; k++)
				buf[rand_uniform((uint32_t)n)] = (unsigned char)rand_uniform(256);
		}
		err[0] = '\0';
		struct persona *p =
		    persona_load_mem((const char *)buf, n, "fuzz", err, sizeof(err));
		if (p == NULL) {
			assert_true(strlen(err) > 0);
			continue;
		}
		loaded++;
		for (int r = 0; r < PR__COUNT; r++)
			assert_non_null(persona_reply(p, (enum persona_reply)r));
		persona_free(p);
	}
	/* Mutations inside comments leave some files valid, so both paths were exercised. */
	assert_true(loaded > 0);
	persona_free(NULL);
	free(buf);
}

/* upper_label - the upper-cased first label of a name, cut to 15 characters */
static void
upper_label(const char *s, char *out)
{
	size_t n = 0;

	while (s[n] != '\0' && s[n] != '.' && n < 15) {
		out[n] = (char)toupper((unsigned char)s[n]);
		n++;
	}
	out[n] = '\0';
}

/* test_identity_generate - plausible, self-consistent and different each time */
static void
test_identity_generate(void **state)
{
	static const char *const hosts[] = {"mail",   "exch",     "exchange", "smtp",  "mx",
	                                    "mailgw", "srv-mail", "mailhost", "exsrv", "msx"};
	char first[256], label[16];
	int distinct = 0;

	(void)state;
	for (int i = 0; i < 300; i++) {
		struct identity id;
		identity_generate(&id);
		size_t fl = strlen(id.fqdn), dl = strlen(id.dns_domain);
		assert_true(fl > dl + 1);
		assert_string_equal(id.fqdn + fl - dl, id.dns_domain);
		assert_int_equal(id.fqdn[fl - dl - 1], '.');
		upper_label(id.fqdn, label);
		assert_string_equal(id.netbios, label);
		assert_true(strlen(id.netbios) >= 1 && strlen(id.netbios) <= 15);
		upper_label(id.dns_domain, label);
		assert_string_equal(id.nb_domain, label);
		assert_true(strlen(id.nb_domain) >= 1 && strlen(id.nb_domain) <= 15);
		assert_string_not_equal(id.netbios, id.nb_domain);
		assert_non_null(strchr(id.domain, '.'));
		for (const char *c = id.fqdn; *c != '\0'; c++)
			assert_true(islower((unsigned char)*c) || isdigit((unsigned char)*c) ||
			            *c == '.' || *c == '-');
		bool known = false;
		for (size_t h = 0; h < ARRAY_LEN(hosts); h++) {
			size_t hl = strlen(hosts[h]);
			if (strncmp(id.fqdn, hosts[h], hl) == 0 &&
			    (id.fqdn[hl] == '.' || isdigit((unsigned char)id.fqdn[hl])))
				known = true;
		}
		assert_true(known);
		if (i == 0)
			strlcpy(first, id.fqdn, sizeof(first));
		else if (strcmp(first, id.fqdn) != 0)
			distinct++;
	}
	assert_true(distinct > 250);
}

/* test_identity_persist - created once, then read back unchanged; hand-written files work */
static void
test_identity_persist(void **state)
{
	struct identity a, b;
	char path[256], err[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/identity", tmpdir);
	unlink(path);
	assert_int_equal(identity_load_or_create(path, &a, err, sizeof(err)), 0);
	assert_int_equal(access(path, R_OK), 0);
	memset(&b, 0x55, sizeof(b));
	assert_int_equal(identity_load_or_create(path, &b, err, sizeof(err)), 0);
	assert_string_equal(a.fqdn, b.fqdn);
	assert_string_equal(a.netbios, b.netbios);
	assert_string_equal(a.domain, b.domain);
	assert_string_equal(a.nb_domain, b.nb_domain);
	assert_string_equal(a.dns_domain, b.dns_domain);

	/* Only fqdn given: the rest is derived. */
	const char *p = write_file("ident-min", "# mine\nfqdn = napier.corp.example.org\n");
	assert_int_equal(identity_load_or_create(p, &b, err, sizeof(err)), 0);
	assert_string_equal(b.netbios, "NAPIER");
	assert_string_equal(b.dns_domain, "corp.example.org");
	assert_string_equal(b.nb_domain, "CORP");
	assert_string_equal(b.domain, "corp.example.org");

	static const struct {
		const char *text;
		const char *msg;
	} bad[] = {
	    {"netbios = X\n", "no fqdn"},
	    {"fqdn = bad_host.example\n", "DNS names"},
	    {"fqdn = a..b\n", "DNS names"},
	    {"fqdn = a.b\nnetbios = MUCHTOOLONGNETBIOSNAME\n", "ident-bad:2:"},
	    {"fqdn = a.b\ncolour = blue\n", "unknown key"},
	    {"fqdn a.b\n", "expected"},
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		p = write_file("ident-bad", bad[i].text);
		err[0] = '\0';
		assert_int_equal(identity_load_or_create(p, &b, err, sizeof(err)), -1);
		if (strstr(err, bad[i].msg) == NULL)
			print_error("row %zu: got \"%s\", want \"%s\"\n", i, nz(err),
			            nz(bad[i].msg));
		assert_non_null(strstr(err, bad[i].msg));
	}
	assert_int_equal(identity_load_or_create("/nonexistent-dir/identity", &b, err, sizeof(err)),
	                 -1);
	assert_true(strlen(err) > 0);
}

/* setup - a private temporary directory for the files the tests write */
static int
setup(void **state)
{
	(void)state;
	/* mkdtemp wants six trailing 'X' characters as its template. */
	int n = snprintf(tmpdir, sizeof(tmpdir), "/tmp/rt-persona-");
	memset(tmpdir + n, 'X', 6);
	tmpdir[n + 6] = '\0';
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	set_tz("UTC0");
	return 0;
}

/* teardown - remove what the tests wrote */
static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exchange_rows),
	    cmocka_unit_test(test_every_reply_renders),
	    cmocka_unit_test(test_dates),
	    cmocka_unit_test(test_seed_banner),
	    cmocka_unit_test(test_attacker_values),
	    cmocka_unit_test(test_length_caps),
	    cmocka_unit_test(test_msgid),
	    cmocka_unit_test(test_settings),
	    cmocka_unit_test(test_builtins),
	    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_missing_and_limits),
	    cmocka_unit_test(test_base_inheritance),
	    cmocka_unit_test(test_garbage_never_crashes),
	    cmocka_unit_test(test_identity_generate),
	    cmocka_unit_test(test_identity_persist),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
