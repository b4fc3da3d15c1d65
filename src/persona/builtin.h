/* SPDX-License-Identifier: ISC */
/*
 * builtin - private to the persona module: the compiled-in copies of the files in personas/.
 *
 * Owns: persona_builtins[], generated at build time by embed.py from the shipped files, so the
 * built-ins are always the same bytes as the files that get installed.
 * Public (inside src/persona only): struct persona_builtin, persona_builtins,
 * persona_builtins_count. Limits: the table is read-only; text is NUL-terminated and len excludes
 * the NUL.
 */
#ifndef RT_PERSONA_BUILTIN_H
#define RT_PERSONA_BUILTIN_H

#include <stddef.h>

struct persona_builtin {
	const char *name;     /* file name without ".persona" */
	const char *src_path; /* where the build read it from (used by tests to compare bytes) */
	const unsigned char *text;
	size_t len;
};

extern const struct persona_builtin persona_builtins[];
extern const size_t persona_builtins_count;

#endif
