/* SPDX-License-Identifier: ISC */
/*
 * log - structured key=value logging to stderr.
 *
 * Owns: the process-wide log level and the program tag ("relaytrap", "store").
 * Public: log_init, log_set_level, log_debug/info/warn/err, fatal, fatalx.
 * Limits: one line is at most LOG_LINE_MAX bytes; attacker text must be passed through
 *         str_escape_log() by the caller, never as a format.
 */
#ifndef RT_LOG_H
#define RT_LOG_H

#include <stdarg.h>

#define LOG_LINE_MAX 2048

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_init(const char *tag, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* fatal - log with strerror(errno) and exit(1); only at startup or for broken invariants */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* fatalx - log without errno and exit(1) */
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
