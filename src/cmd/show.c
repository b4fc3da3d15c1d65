/* SPDX-License-Identifier: ISC */
/*
 * show - "relaytrap show SESSION": one session as the database has it: who and when, the
 * transcript with timings, the envelope, messages (headers, body start, MIME parts),
 * credentials, bot-dialect signals, limits hit and enrichment. Text for a terminal (every
 * database string through term_esc: no control byte reaches the terminal) or JSON.
 *
 * Owns: nothing beyond the call.
 * Public: cmd_show (declared in cmd/cmd.h).
 * Limits: a session id prefix must be unique; shown strings are cut at SHOW_WIDTH columns.
 */
#include <getopt.h>
#include <langinfo.h>
#include <libgen.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "cmd/cmd.h"
#include "core/config.h"
#include "core/util.h"
#include "report/esc.h"

#define SHOW_WIDTH 4000
#define SHOW_BODY_LINES 12

struct show {
	sqlite3 *db;
	const char *sid;
	bool utf8, json;
	FILE *f;
	json_t *out; /* JSON mode: the session object */
};

/* show_usage - the show help text */
static void
show_usage(FILE *f)
{
	fprintf(f, "usage: relaytrap show [--data-dir DIR | --db FILE] [--format text|json] "
	           "SESSION\n\n"
	           "Print one session: source and timing, the transcript with the time of every\n"
	           "line, the envelope, messages (headers, the start of the body, MIME parts),\n"
	           "credentials, bot-dialect signals, limits hit and enrichment. SESSION is the\n"
	           "16-hex-digit id or a unique prefix of it (at least 4 digits).\n\n"
	           "options:\n"
	           "  --data-dir DIR     data directory (default as serve)\n"
	           "  --db FILE          the database file itself\n"
	           "  -f, --format FMT   text (default) or json\n"
	           "  -h, --help         print this help\n\n"
	           "Text from the client is escaped: control bytes show as \\xNN.\n");
}

/* esc - database text as terminal text (static buffer: one use per printf argument list) */
static const char *
esc(const struct show *s, const void *b, size_t n, char *out, size_t outlen)
{
	term_esc(b != NULL ? b : "", b != NULL ? n : 0, s->utf8, SHOW_WIDTH, out, outlen);
	return out;
}

/* col - column i of st as escaped text ("-" for NULL) */
static const char *
col(const struct show *s, sqlite3_stmt *st, int i, char *out, size_t outlen)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return "-";
	return esc(s, sqlite3_column_blob(st, i), (size_t)sqlite3_column_bytes(st, i), out, outlen);
}

/* row_json - every column of the current row as a JSON object (strings made valid UTF-8) */
static json_t *
row_json(sqlite3_stmt *st)
{
	json_t *o = json_object();
	int i;

	for (i = 0; i < sqlite3_column_count(st); i++) {
		const char *name = sqlite3_column_name(st, i);
		switch (sqlite3_column_type(st, i)) {
		case SQLITE_INTEGER:
			json_object_set_new(o, name, json_integer(sqlite3_column_int64(st, i)));
			break;
		case SQLITE_FLOAT:
			json_object_set_new(o, name, json_real(sqlite3_column_double(st, i)));
			break;
		case SQLITE_NULL:
			json_object_set_new(o, name, json_null());
			break;
		default:
			json_object_set_new(o, name,
			                    esc_model_str(sqlite3_column_blob(st, i),
			                                  (size_t)sqlite3_column_bytes(st, i),
			                                  1u << 20));
		}
	}
	return o;
}

/* query - prepare a statement with the session id bound as ?1; NULL when the table is missing
 * (an older schema) */
static sqlite3_stmt *
query(struct show *s, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return NULL;
	}
	sqlite3_bind_text(st, 1, s->sid, -1, SQLITE_STATIC);
	return st;
}

/* dump_json - every row of a query into s->out[key] */
static void
dump_json(struct show *s, const char *key, const char *sql)
{
	sqlite3_stmt *st = query(s, sql);
	json_t *a = json_array();

	while (st != NULL && sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(a, row_json(st));
	sqlite3_finalize(st);
	json_object_set_new(s->out, key, a);
}

/* title - a text section heading */
static void
title(const struct show *s, const char *t)
{
	fprintf(s->f, "\n%s\n", t);
}

/* text_session - the header block */
static int
text_session(struct show *s)
{
	sqlite3_stmt *st = query(s, "SELECT sensor, listener, persona, src_ip, src_port, dst_ip,"
	                            " dst_port, proxied, peer_ip, start_time, end_time,"
	                            " duration_us, reason, greeting, helo, commands, bad_commands,"
	                            " messages, rcpts, auth_attempts, bytes_in, bytes_out, stage,"
	                            " first_cmd_us FROM sessions WHERE session = ?1");
	char a[8192], b[8192], c[8192];

	if (st == NULL || sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return -1;
	}
	fprintf(s->f, "session %s\n", s->sid);
	fprintf(s->f, "  source     %s port %lld%s%s\n", col(s, st, 3, a, sizeof(a)),
	        sqlite3_column_int64(st, 4), sqlite3_column_int(st, 7) ? " via PROXY from " : "",
	        sqlite3_column_int(st, 7) ? col(s, st, 8, b, sizeof(b)) : "");
	fprintf(s->f, "  reached    %s port %lld, listener %s", col(s, st, 5, a, sizeof(a)),
	        sqlite3_column_int64(st, 6), col(s, st, 1, b, sizeof(b)));
	fprintf(s->f, ", persona %s, sensor %s\n", col(s, st, 2, a, sizeof(a)),
	        col(s, st, 0, b, sizeof(b)));
	fprintf(s->f, "  started    %s\n", col(s, st, 9, a, sizeof(a)));
	if (sqlite3_column_type(st, 10) == SQLITE_NULL)
		fprintf(s->f, "  ended      - (still open, or its close was not recorded)\n");
	else
		fprintf(s->f, "  ended      %s after %.3f s (%s)\n", col(s, st, 10, a, sizeof(a)),
		        (double)sqlite3_column_int64(st, 11) / 1e6, col(s, st, 12, b, sizeof(b)));
	fprintf(s->f, "  greeting   %s %s\n", col(s, st, 13, a, sizeof(a)),
	        col(s, st, 14, b, sizeof(b)));
	fprintf(s->f,
	        "  stage      %s; %lld commands (%lld bad), %lld messages, %lld recipients, "
	        "%lld auth\n",
	        col(s, st, 22, c, sizeof(c)), sqlite3_column_int64(st, 15),
	        sqlite3_column_int64(st, 16), sqlite3_column_int64(st, 17),
	        sqlite3_column_int64(st, 18), sqlite3_column_int64(st, 19));
	fprintf(s->f, "  bytes      %lld in, %lld out; first command after %s\n",
	        sqlite3_column_int64(st, 20), sqlite3_column_int64(st, 21),
	        sqlite3_column_int64(st, 23) < 0
	            ? "- (none)"
	            : (snprintf(a, sizeof(a), "%.3f s", (double)sqlite3_column_int64(st, 23) / 1e6),
	               a));
	sqlite3_finalize(st);
	return 0;
}

/* text_transcript - every line in and out with its time since connect; multi-line replies
 * one line each */
static void
text_transcript(struct show *s)
{
	sqlite3_stmt *st = query(s, "SELECT t_us, direction, text, flags, delay_ms FROM commands"
	                            " WHERE session = ?1 ORDER BY seq, direction DESC");
	char a[8192], fl[256];
	const char *p, *e, *end;

	title(s, "transcript (time since connect, C client, S server)");
	while (st != NULL && sqlite3_step(st) == SQLITE_ROW) {
		const char *dir = (const char *)sqlite3_column_text(st, 1);
		const char *flags = (const char *)sqlite3_column_text(st, 3);
		bool server = dir != NULL && dir[0] == 'S';

		p = sqlite3_column_blob(st, 2);
		if (p == NULL)
			p = "";
		end = p + sqlite3_column_bytes(st, 2);
		fl[0] = '\0';
		if (flags != NULL && flags[0] != '\0')
			snprintf(fl, sizeof(fl), "  [%.200s]",
			         esc(s, flags, strlen(flags), a, sizeof(a)));
		for (;;) {
			/* Replies join their lines with CRLF: one output line each. */
			e = server ? memmem(p, (size_t)(end - p), "\r\n", 2) : NULL;
			fprintf(s->f, "  %+9.3fs %s  %s%s\n",
			        (double)sqlite3_column_int64(st, 0) / 1e6, server ? "S" : "C",
			        esc(s, p, (size_t)((e != NULL ? e : end) - p), a, sizeof(a)), fl);
			if (e == NULL)
				break;
			p = e + 2;
		}
	}
	sqlite3_finalize(st);
}

/* text_envelope - MAIL FROM and RCPT TO per transaction */
static void
text_envelope(struct show *s)
{
	sqlite3_stmt *st = query(s, "SELECT tx, 'MAIL FROM', raw, address, flags, params, accepted"
	                            " FROM transactions WHERE session = ?1 UNION ALL"
	                            " SELECT tx, 'RCPT TO', raw, address, flags, params, accepted"
	                            " FROM recipients WHERE session = ?1 ORDER BY 1, 2");
	char a[8192], b[8192], c[8192], d[8192];
	int any = 0;

	title(s, "envelope");
	while (st != NULL && sqlite3_step(st) == SQLITE_ROW) {
		any = 1;
		fprintf(s->f, "  tx %lld %-9s %s", sqlite3_column_int64(st, 0),
		        (const char *)sqlite3_column_text(st, 1), col(s, st, 2, a, sizeof(a)));
		fprintf(s->f, " -> %s flags %s params %s %s\n", col(s, st, 3, b, sizeof(b)),
		        col(s, st, 4, c, sizeof(c)), col(s, st, 5, d, sizeof(d)),
		        sqlite3_column_int(st, 6) ? "accepted" : "refused");
	}
	if (!any)
		fprintf(s->f, "  none\n");
	sqlite3_finalize(st);
}

/* text_messages - per message: size, fate, headers, the start of the body, parts */
static void
text_messages(struct show *s, bool body_cols)
{
	static const char *const hdr[] = {"From", "To",         "Subject",
	                                  "Date", "Message-ID", "X-Mailer"};
	char sql[512], a[8192], b[8192];
	sqlite3_stmt *st;
	int any = 0, i, lines;
	const char *p, *e, *t;
	size_t n;

	snprintf(sql, sizeof(sql),
	         "SELECT tx, via, size, stored, truncated, complete, accepted, msgid, sha256,"
	         " body_path, body_dropped, hdr_from, hdr_to, hdr_subject, hdr_date,"
	         " hdr_message_id, hdr_x_mailer, %s FROM messages WHERE session = ?1 ORDER BY tx",
	         body_cols ? "body_text, parts" : "NULL, NULL");
	st = query(s, sql);
	title(s, "messages");
	while (st != NULL && sqlite3_step(st) == SQLITE_ROW) {
		any = 1;
		fprintf(s->f, "  tx %lld via %s: %lld bytes (%lld stored%s), %s%s, queue id %s\n",
		        sqlite3_column_int64(st, 0), col(s, st, 1, a, sizeof(a)),
		        sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
		        sqlite3_column_int(st, 4) ? ", truncated" : "",
		        sqlite3_column_int(st, 6) ? "accepted" : "not accepted",
		        sqlite3_column_int(st, 5) ? "" : ", incomplete",
		        col(s, st, 7, b, sizeof(b)));
		if (sqlite3_column_type(st, 8) != SQLITE_NULL)
			fprintf(s->f, "    body     %s (sha256 %s)\n", col(s, st, 9, a, sizeof(a)),
			        col(s, st, 8, b, sizeof(b)));
		else
			fprintf(s->f, "    body     not stored (%s)\n",
			        col(s, st, 10, a, sizeof(a)));
		for (i = 0; i < 6; i++)
			if (sqlite3_column_type(st, 11 + i) != SQLITE_NULL)
				fprintf(s->f, "    %-10s %s\n", hdr[i],
				        col(s, st, 11 + i, a, sizeof(a)));
		if (sqlite3_column_type(st, 17) != SQLITE_NULL) {
			t = sqlite3_column_blob(st, 17);
			n = (size_t)sqlite3_column_bytes(st, 17);
			fprintf(s->f, "    body starts:\n");
			for (p = t, lines = 0; p != NULL && p < t + n && lines < SHOW_BODY_LINES;
			     lines++) {
				e = memchr(p, '\n', (size_t)(t + n - p));
				fprintf(
				    s->f, "      | %s\n",
				    esc(s, p, (size_t)((e != NULL ? e : t + n) - p), a, sizeof(a)));
				p = e != NULL ? e + 1 : NULL;
			}
		}
		if (sqlite3_column_type(st, 18) != SQLITE_NULL)
			fprintf(s->f, "    parts    %s\n", col(s, st, 18, a, sizeof(a)));
	}
	if (!any)
		fprintf(s->f, "  none\n");
	sqlite3_finalize(st);
}

/* text_rows - a simple section: each row's columns joined with two spaces */
static void
text_rows(struct show *s, const char *name, const char *none, const char *sql)
{
	sqlite3_stmt *st = query(s, sql);
	char a[8192];
	int any = 0, i;

	title(s, name);
	while (st != NULL && sqlite3_step(st) == SQLITE_ROW) {
		any = 1;
		fputs(" ", s->f);
		for (i = 0; i < sqlite3_column_count(st); i++) {
			if (sqlite3_column_type(st, i) == SQLITE_NULL)
				continue;
			fprintf(s->f, " %s=%s", sqlite3_column_name(st, i),
			        col(s, st, i, a, sizeof(a)));
		}
		fputc('\n', s->f);
	}
	if (!any)
		fprintf(s->f, "  %s\n", none);
	sqlite3_finalize(st);
}

/* has_col - the table has the column */
static bool
has_col(sqlite3 *db, const char *table, const char *c)
{
	char sql[256];
	sqlite3_stmt *st = NULL;
	bool yes;

	snprintf(sql, sizeof(sql), "SELECT 1 FROM pragma_table_info('%s') WHERE name = '%s'", table,
	         c);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return false;
	}
	yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}

/* find_session - the full id for an id or unique prefix; 0, or -1 with a message printed */
static int
find_session(sqlite3 *db, const char *arg, char *out, size_t outlen)
{
	sqlite3_stmt *st = NULL;
	size_t n = strlen(arg), i;
	int found = 0;

	for (i = 0; i < n; i++)
		if (!((arg[i] >= '0' && arg[i] <= '9') || (arg[i] >= 'a' && arg[i] <= 'f')))
			break;
	if (n < 4 || n > 32 || i != n) {
		fprintf(stderr,
		        "relaytrap show: '%.40s' is not a session id (4 to 32 lower-case hex "
		        "digits, e.g. from 'relaytrap report')\n",
		        arg);
		return -1;
	}
	if (sqlite3_prepare_v2(db,
	                       "SELECT session FROM sessions WHERE session >= ?1 AND session < ?1"
	                       " || 'g' LIMIT 2",
	                       -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "relaytrap show: %s\n", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (found++ == 0)
			snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	if (found == 0)
		fprintf(stderr, "relaytrap show: no session %s in this database\n", arg);
	else if (found > 1)
		fprintf(stderr,
		        "relaytrap show: %s is the start of several sessions; give more "
		        "digits\n",
		        arg);
	return found == 1 ? 0 : -1;
}

/* cmd_show - the show subcommand: 0 shown, 1 not found or unreadable, 2 usage error */
int
cmd_show(int argc, char **argv)
{
	enum { O_DATA = 256, O_DB };
	static const struct option opts[] = {
	    {"data-dir", required_argument, NULL, O_DATA},
	    {"db", required_argument, NULL, O_DB},
	    {"format", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *data_dir = NULL, *dbfile = NULL, *cs;
	char dbp[1024], sid[64];
	struct show s;
	struct config cfg;
	bool body_cols;
	int ch, rc = 1;

	memset(&s, 0, sizeof(s));
	s.f = stdout;
	optind = 0;
	opterr = 1;
	while ((ch = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (ch) {
		case O_DATA:
			data_dir = optarg;
			break;
		case O_DB:
			dbfile = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "json") == 0)
				s.json = true;
			else if (strcmp(optarg, "text") != 0) {
				fprintf(stderr,
				        "relaytrap show: --format '%.32s': use text or json\n",
				        optarg);
				return 2;
			}
			break;
		case 'h':
			show_usage(stdout);
			return 0;
		default:
			show_usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "relaytrap show: give exactly one session id (see --help)\n");
		return 2;
	}
	if (data_dir != NULL && dbfile != NULL) {
		fprintf(stderr, "relaytrap show: give --data-dir or --db, not both\n");
		return 2;
	}
	if (dbfile != NULL)
		snprintf(dbp, sizeof(dbp), "%s", dbfile);
	else if (data_dir != NULL)
		snprintf(dbp, sizeof(dbp), "%s/relaytrap.db", data_dir);
	else {
		config_defaults(&cfg);
		snprintf(dbp, sizeof(dbp), "%s/relaytrap.db", cfg.data_dir);
		config_free(&cfg);
	}
	setlocale(LC_CTYPE, "");
	cs = nl_langinfo(CODESET);
	s.utf8 = cs != NULL && strcmp(cs, "UTF-8") == 0;
	if (access(dbp, R_OK) != 0 ||
	    sqlite3_open_v2(dbp, &s.db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr,
		        "relaytrap show: %s: cannot read the database (give --data-dir DIR "
		        "or --db FILE)\n",
		        dbp);
		goto out;
	}
	sqlite3_busy_timeout(s.db, 5000);
	if (find_session(s.db, argv[optind], sid, sizeof(sid)) < 0)
		goto out;
	s.sid = sid;
	body_cols = has_col(s.db, "messages", "body_text");
	if (s.json) {
		sqlite3_stmt *st = query(&s, "SELECT * FROM sessions WHERE session = ?1");
		s.out = st != NULL && sqlite3_step(st) == SQLITE_ROW ? row_json(st) : json_object();
		sqlite3_finalize(st);
		dump_json(&s, "commands",
		          "SELECT * FROM commands WHERE session = ?1 ORDER BY seq,"
		          " direction DESC");
		dump_json(&s, "transactions", "SELECT * FROM transactions WHERE session = ?1");
		dump_json(&s, "recipients", "SELECT * FROM recipients WHERE session = ?1");
		dump_json(&s, "messages", "SELECT * FROM messages WHERE session = ?1");
		dump_json(&s, "auth_attempts", "SELECT * FROM auth_attempts WHERE session = ?1");
		dump_json(&s, "signals", "SELECT * FROM signals WHERE session = ?1");
		dump_json(&s, "limits", "SELECT * FROM limits WHERE session = ?1");
		dump_json(&s, "enrichments", "SELECT * FROM enrichments WHERE session = ?1");
		dump_json(&s, "ip_intel",
		          "SELECT i.* FROM ip_intel i JOIN sessions s ON"
		          " s.src_ip = i.ip WHERE s.session = ?1");
		rc = json_dumpf(s.out, stdout, JSON_INDENT(1) | JSON_ENSURE_ASCII) < 0 ? 1 : 0;
		fputc('\n', stdout);
		json_decref(s.out);
		goto out;
	}
	if (text_session(&s) < 0)
		goto out;
	text_transcript(&s);
	text_envelope(&s);
	text_messages(&s, body_cols);
	text_rows(&s, "credentials", "none",
	          "SELECT mechanism, supported, username, password, authzid, digest, ntlm_domain,"
	          " ntlm_user, ntlm_workstation, crack, outcome FROM auth_attempts"
	          " WHERE session = ?1 ORDER BY time_us");
	text_rows(&s, "signals", "none",
	          "SELECT signal, detail FROM signals WHERE session = ?1"
	          " ORDER BY time_us");
	text_rows(&s, "limits", "none",
	          "SELECT limit_name, value FROM limits WHERE session = ?1"
	          " ORDER BY time_us");
	text_rows(&s, "enrichment", "not enriched",
	          "SELECT kind, data FROM enrichments WHERE session = ?1"
	          " ORDER BY kind");
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	sqlite3_close(s.db);
	return rc;
}
