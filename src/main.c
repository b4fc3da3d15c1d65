/* SPDX-License-Identifier: ISC */
/*
 * main - argv dispatch to the subcommands in src/cmd/; nothing else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cmd/cmd.h"

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} cmds[] = {
    {"serve", cmd_serve, "run the honeypot in the foreground"},
    {"report", cmd_report, "summarise a capture (text, HTML, JSON, CSV)"},
    {"show", cmd_show, "print one captured session"},
    {"check-config", cmd_check_config, "validate a configuration file"},
    {"import", cmd_import, "build a database from events.jsonl logs"},
    {"version", cmd_version, "print the version and build features"},
    {"geo", cmd_geo, "look addresses up in the GeoIP city and ASN databases"},
};

/* usage - the top-level help; subcommands print their own with --help */
static void
usage(FILE *f)
{
	size_t i;

	fprintf(
	    f, "usage: relaytrap COMMAND [OPTIONS]\n\n"
	       "relaytrap is an SMTP honeypot: it answers like a real, carelessly configured mail\n"
	       "server, accepts everything, delivers nothing and records it all.\n\ncommands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-14s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\n'relaytrap COMMAND --help' describes each command; see also relaytrap(8).\n");
}

int
main(int argc, char **argv)
{
	size_t i;

	/* before any libevent call: its calloc (a bufferevent, an evbuffer, an event per
	 * connection) becomes malloc + memset, which glibc serves from the thread cache; its
	 * calloc never does (see zalloc in core/util.h) */
	event_set_mem_functions(malloc, realloc, free);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
		return cmd_version(argc - 1, argv + 1);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "relaytrap: unknown command '%.64s' (try 'relaytrap --help')\n", argv[1]);
	return 2;
}
