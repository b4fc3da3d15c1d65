/* SPDX-License-Identifier: ISC */
/*
 * fuzz_session - the line reader and the SMTP state machine (src/smtp/session.c), driven as
 * tests/unit/session.c drives it: bytes in through an evbuffer, replies out through a hook,
 * events through a capture sink (fz_session in fuzz_common.c, which also holds the checks).
 *
 * Input: 5 header bytes, then what the client sends.
 *   byte 0: bits 0-1 persona (exchange2000, honeyd-2009, postfix, exchange2000), bit 2 strict
 *           CRLF, bit 3 small limits (every budget reachable in a few hundred bytes), bit 4
 *           talk before the banner, bits 5-6 how the session ends (client EOF, idle timeout,
 *           lifetime, shutdown), bit 7 deliver everything in one read.
 *   bytes 1-4: read sizes (each + 1), used in turn to split the rest into reads, so the
 *           fuzzer chooses where lines, DATA terminators and BDAT chunks are cut.
 */
#include "fuzz.h"

#include "core/config.h"
#include "persona/persona.h"

#define HDR 5

static struct persona *personas[3];
static struct config cfg_default, cfg_small;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const names[] = {"exchange2000", "honeyd-2009", "postfix"};
	size_t i;

	(void)argc;
	(void)argv;
	fz_quiet();
	for (i = 0; i < 3; i++) {
		personas[i] = persona_load_builtin(names[i]);
		FZ_CHECK(personas[i] != NULL);
	}
	config_defaults(&cfg_default);
	config_defaults(&cfg_small);
	cfg_small.limits.line_max = 512;
	cfg_small.limits.max_commands = 24;
	cfg_small.limits.max_bad_commands = 6;
	cfg_small.limits.max_rcpts = 3;
	cfg_small.limits.max_messages = 2;
	cfg_small.limits.max_message_size = 600;
	cfg_small.limits.store_body_max = 200;
	cfg_small.limits.auth_max_attempts = 2;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_run run;
	uint8_t mode;

	if (size < HDR)
		return 0;
	mode = data[0];
	run.persona = personas[(mode & 3) % 3];
	run.limits = (mode & 8) ? &cfg_small.limits : &cfg_default.limits;
	run.bare_lf = (mode & 4) ? BARE_LF_STRICT : BARE_LF_ACCEPT;
	run.pregreet = (mode & 0x10) != 0;
	run.ending = (mode >> 5) & 3;
	run.splits = (mode & 0x80) ? NULL : data + 1;
	fz_session(&run, data + HDR, size - HDR);
	return 0;
}
