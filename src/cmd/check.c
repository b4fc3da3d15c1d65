/* SPDX-License-Identifier: ISC */
/*
 * check - "relaytrap check-config": load the defaults and a config file, run the cross checks,
 * and say either "FILE: OK" with a short summary or the one-line error.
 *
 * Owns: nothing beyond the call.
 * Public: cmd_check_config (declared in cmd/cmd.h).
 * Limits: personas are not loaded here (serve does that), so a persona name that does not
 *         exist is only reported when serve starts.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "core/config.h"

#define CHECK_DEFAULT_FILE "/etc/relaytrap/relaytrap.conf"

/* check_usage - the check-config help text */
static void
check_usage(FILE *f)
{
	fprintf(f, "usage: relaytrap check-config [-c FILE] [--help]\n\n"
	           "Read the configuration file over the built-in defaults, check every value and\n"
	           "the settings against each other, and print 'FILE: OK' with a summary (exit 0)\n"
	           "or the first error as 'FILE:LINE: message (fix)' (exit 2).\n\n"
	           "options:\n"
	           "  -c, --config FILE  the file to check (default " CHECK_DEFAULT_FILE ")\n"
	           "  -h, --help         print this help\n\n"
	           "Personas are not loaded here; 'relaytrap serve' reports a missing one.\n"
	           "See relaytrap(8) and docs/configuration.md.\n");
}

/* print_listener - one summary line: name, address and port, persona, PROXY protocol */
static void
print_listener(const struct config *c, const struct listener_conf *l)
{
	const char *persona = l->persona[0] != '\0' ? l->persona : c->persona;

	if (l->address[0] == '\0')
		printf("  %-12s *:%d", l->name, l->port);
	else if (strchr(l->address, ':') != NULL)
		printf("  %-12s [%s]:%d", l->name, l->address, l->port);
	else
		printf("  %-12s %s:%d", l->name, l->address, l->port);
	printf(" persona %s%s\n", persona, l->proxy_protocol ? " proxy_protocol" : "");
}

/* print_summary - what serve would do with this configuration, in a few lines */
static void
print_summary(const struct config *c, const char *path)
{
	size_t i;

	printf("%s: OK\n", path);
	printf("sensor: %s\n", c->sensor);
	printf("persona: %s (looked up in %s)\n", c->persona, c->persona_dir);
	printf("hostname: %s\n",
	       c->hostname[0] != '\0' ? c->hostname : "(generated once, kept in data_dir)");
	printf("data dir: %s\n", c->data_dir);
	if (c->nlisteners == 0) {
		printf("listeners: none configured; serve listens on port 25 as root, "
		       "127.0.0.1:2525 otherwise\n");
		return;
	}
	printf("listeners:\n");
	for (i = 0; i < c->nlisteners; i++)
		print_listener(c, &c->listeners[i]);
}

/* cmd_check_config - the check-config subcommand: exit 0 when the file is good, 2 otherwise */
int
cmd_check_config(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct config cfg;
	const char *path = CHECK_DEFAULT_FILE;
	char err[1024];
	int ch, rc = 2;

	/* Tests call this more than once in one process, so getopt starts over every time. */
	optind = 0;
	opterr = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			check_usage(stdout);
			return 0;
		default:
			check_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr,
		        "relaytrap check-config: unexpected argument '%.64s' (use -c FILE)\n",
		        argv[optind]);
		return 2;
	}
	config_defaults(&cfg);
	if (config_load_file(&cfg, path, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	if (config_check(&cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", path, err);
		goto out;
	}
	print_summary(&cfg, path);
	fflush(stdout);
	rc = 0;
out:
	config_free(&cfg);
	return rc;
}
