/* SPDX-License-Identifier: ISC */
/*
 * fuzz_persona - the persona file parser (src/persona/persona.c), then every reply of a persona
 * it accepts, rendered and spoken in a session.
 *
 * Input: the persona file; after a NUL byte (which a file may not contain), the value used for
 * the attacker-controlled variables $helo, $addr and $arg.
 * Checks: a refused file gets a one-line error "fuzz.persona:LINE: ..." or "fuzz.persona: ..."
 * with no control bytes; an accepted one has settings in their documented ranges, renders every
 * reply as a well-formed SMTP reply (or, when too long for the buffer, its local_error reply),
 * and carries a whole SMTP dialogue through fz_session with well-formed replies and events.
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "persona/persona.h"

#define LABEL "fuzz.persona"

static struct config cfg;

/* a dialogue touching every command the engine knows */
static const char dialogue[] =
    "EHLO client.example\r\nHELO client.example\r\nHELP\r\nNOOP\r\nVRFY postmaster\r\n"
    "EXPN staff\r\nETRN example.org\r\nTURN\r\nSTARTTLS\r\nAUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\n"
    "AUTH PLAIN AHVzZXIAcGFzcw==\r\nAUTH CRAM-MD5\r\ndXNlciAwMTIzNDU2Nzg5YWJjZGVm\r\n"
    "AUTH NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAA=\r\n*\r\n"
    "MAIL FROM:<a@example.org> SIZE=100\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<c>\r\n"
    "DATA\r\nSubject: hi\r\n\r\nbody\r\n..dot\r\n.\r\n"
    "MAIL FROM:<>\r\nRCPT TO:<d@example.net>\r\nBDAT 4\r\nabcdBDAT 2 LAST\r\nef"
    "RSET\r\nFOO bar\r\nMAIL FROM:\r\nQUIT\r\n";

/* err_ok - one line, names the label, no control bytes (a tab echoed from the file is fine) */
static bool
err_ok(const char *err)
{
	const char *c;

	if (strncmp(err, LABEL ":", strlen(LABEL ":")) != 0)
		return false;
	for (c = err; *c != '\0'; c++)
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
			return false;
	return true;
}

static void
render_all(const struct persona *p, const char *attacker)
{
	static char out[64 * 1024];
	struct persona_vars v;
	char small[48], id[128];
	int r, n;

	memset(&v, 0, sizeof(v));
	v.hostname = "mail.example.com";
	v.netbios = "MAIL";
	v.domain = "example.com";
	v.client_ip = "192.0.2.7";
	v.helo = attacker;
	v.addr = attacker;
	v.arg = attacker;
	v.msgid = "MSGID";
	v.octets = 12345;
	v.now = 1231702320; /* the seed's "Dom Jan 11 19:32:00 WET 2009" */
	for (r = 0; r < PR__COUNT; r++) {
		n = persona_expand(p, (enum persona_reply)r, &v, out, sizeof(out));
		FZ_CHECK(n < (int)sizeof(out));
		if (n >= 0) {
			FZ_CHECK((size_t)n == strlen(out));
			if (!fz_reply_ok(out, (size_t)n)) {
				fprintf(stderr, "reply %s: %s\n", persona_reply_key(r), out);
				fz_fail(__FILE__, __LINE__, "malformed rendered reply");
			}
		} else {
			FZ_CHECK(out[0] == '\0' || fz_reply_ok(out, strlen(out)));
		}
		n = persona_expand(p, (enum persona_reply)r, &v, small, sizeof(small));
		FZ_CHECK(n < (int)sizeof(small) && strlen(small) < sizeof(small));
		FZ_CHECK(small[0] == '\0' || fz_reply_ok(small, strlen(small)));
	}
	persona_msgid(p, "MAIL", 42, id, sizeof(id));
	FZ_CHECK(strlen(id) < sizeof(id));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t splits[4] = {0, 6, 1, 40};
	const uint8_t *nul = memchr(data, '\0', size);
	size_t flen = nul != NULL ? (size_t)(nul - data) : size;
	char err[512], *text, *attacker;
	struct persona *p;
	struct fz_run run;

	if (cfg.limits.line_max == 0) {
		fz_quiet();
		config_defaults(&cfg);
	}
	/* exact-size heap copies, so ASan catches any read past the end */
	text = malloc(flen + 1);
	attacker = malloc(size - flen + 1);
	FZ_CHECK(text != NULL && attacker != NULL);
	memcpy(text, data, flen);
	attacker[0] = '\0';
	if (nul != NULL) {
		memcpy(attacker, nul + 1, size - flen - 1);
		attacker[size - flen - 1] = '\0';
	}
	err[0] = '\0';
	p = persona_load_mem(text, flen, LABEL, err, sizeof(err));
	if (p == NULL) {
		if (!err_ok(err)) {
			fprintf(stderr, "error message: %s\n", err);
			fz_fail(__FILE__, __LINE__, "bad error message");
		}
		goto out;
	}
	FZ_CHECK(persona_name(p) != NULL && persona_product(p) != NULL);
	FZ_CHECK(persona_ttl(p) >= 0 && persona_ttl(p) <= 255);
	FZ_CHECK(persona_delay_banner_ms(p) >= 0 && persona_delay_banner_ms(p) <= 600000);
	FZ_CHECK(persona_delay_reply_ms(p) >= 0 && persona_delay_reply_ms(p) <= 600000);
	FZ_CHECK(persona_delay_jitter_ms(p) >= 0 && persona_delay_jitter_ms(p) <= 60000);
	FZ_CHECK(persona_date_format(p) != NULL);
	(void)persona_advertises(p, "PIPELINING");
	(void)persona_auth_mech(p, "NTLM");
	render_all(p, attacker);
	memset(&run, 0, sizeof(run));
	run.persona = p;
	run.limits = &cfg.limits;
	run.bare_lf = persona_strict_crlf(p) ? BARE_LF_STRICT : BARE_LF_ACCEPT;
	run.splits = splits;
	fz_session(&run, (const uint8_t *)dialogue, sizeof(dialogue) - 1);
	persona_free(p);
out:
	free(text);
	free(attacker);
	return 0;
}
