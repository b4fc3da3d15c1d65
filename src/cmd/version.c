/* SPDX-License-Identifier: ISC */
/*
 * version - `relaytrap version`: the version, the libraries it was built with, the personas
 * compiled in.
 */
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/opensslv.h>
#include <sqlite3.h>

#include "cmd/cmd.h"
#include "persona/persona.h"

int
cmd_version(int argc, char **argv)
{
	const char *const *names = persona_builtin_names();

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("usage: relaytrap version\n\nPrint the version, the libraries relaytrap was "
		       "built with and the built-in personas.\n");
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "relaytrap version: unexpected argument '%.64s' (see --help)\n",
		        argv[1]);
		return 2;
	}
	printf("relaytrap %s\n", RELAYTRAP_VERSION);
	printf("libevent %s, sqlite %s, jansson %s, %s\n", event_get_version(),
	       sqlite3_libversion(), JANSSON_VERSION, OPENSSL_VERSION_TEXT);
	printf("personas:");
	for (; *names != NULL; names++)
		printf(" %s", *names);
	printf("\n");
	return 0;
}
