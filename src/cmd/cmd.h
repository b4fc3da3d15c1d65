/* SPDX-License-Identifier: ISC */
/*
 * cmd - one entry point per subcommand; main.c dispatches argv to these.
 *
 * Each cmd_* takes the subcommand's own argc/argv (argv[0] is the subcommand name), parses its
 * options with getopt_long, prints its usage for --help, and returns the process exit code
 * (0 ok, 1 runtime failure, 2 usage or config error).
 */
#ifndef RT_CMD_H
#define RT_CMD_H

int cmd_serve(int argc, char **argv);
int cmd_check_config(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_geo(int argc, char **argv);

#endif
