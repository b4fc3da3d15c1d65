/* SPDX-License-Identifier: ISC */
/*
 * fuzz - what every fuzz target shares: the libFuzzer entry points, a check that aborts (so
 * libFuzzer and the replay driver both see a crash), and the oracles several targets apply.
 *
 * Public: LLVMFuzzerTestOneInput (each target defines it), LLVMFuzzerInitialize (optional),
 *         FZ_CHECK, fz_fail, fz_reply_ok, fz_event_ok, fz_session, fz_quiet.
 * Built two ways (tests/fuzz/meson.build): with clang and -fsanitize=fuzzer when -Dfuzz=true,
 * otherwise with replay.c as main, which runs the stored corpus once as a regression test.
 */
#ifndef RT_FUZZ_H
#define RT_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* FZ_CHECK - an invariant of relaytrap itself; a violation is a finding, so crash loudly */
#define FZ_CHECK(cond)                                                                             \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fz_fail(__FILE__, __LINE__, #cond);                                        \
	} while (0)

void fz_fail(const char *file, int line, const char *what) __attribute__((noreturn));

/* fz_reply_ok - wire bytes of one SMTP reply: at least "NNN\r\n", every line "NNN-text" but the
 * last "NNN text" or "NNN", first digit 2-5, CR only before LF, LF only after CR */
bool fz_reply_ok(const char *buf, size_t len);
/* fz_event_ok - one EVENT frame payload: a JSON object the store accepts whole (parses as the
 * store parses it and passes store_db_check, so it would reach SQLite, not only the JSONL) */
bool fz_event_ok(const void *payload, size_t len);
struct persona;
struct limits;

/* one session run by fz_session */
struct fz_run {
	const struct persona *persona;
	const struct limits *limits;
	int bare_lf;           /* enum bare_lf_policy */
	bool pregreet;         /* the client talks before the banner */
	int ending;            /* 0 client EOF, 1 idle timeout, 2 lifetime, 3 shutdown */
	const uint8_t *splits; /* 4 read sizes (each + 1) used in turn; NULL = one read */
};
/* fz_session - one SMTP session over data (the client's bytes), as tests/unit/session.c drives
 * it, checking every reply (fz_reply_ok), every event (fz_event_ok), every body frame, that the
 * unread rest stays under line_max, and that nothing is replied after the close request */
void fz_session(const struct fz_run *run, const uint8_t *data, size_t size);

/* fz_quiet - only errors from relaytrap's own log while fuzzing (warnings are expected) */
void fz_quiet(void);

#endif
