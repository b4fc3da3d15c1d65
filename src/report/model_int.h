/* SPDX-License-Identifier: ISC */
/*
 * model_int - what the report's model builders share (model.c: SQL aggregate sections;
 * model_stream.c: the streaming passes over commands and messages). Not a public interface.
 */
#ifndef RT_MODEL_INT_H
#define RT_MODEL_INT_H

#include <stdbool.h>
#include <pthread.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "report/classify.h"
#include "report/report.h"

#define RB_SELF_ADDRS 16

/* The honeypot as the classifiers see it, found by one thread (load_self) while the others
 * start; rb_self waits until it is ready */
struct hp {
	char fqdn[256], netbios[16], domain[256]; /* from the capture's 220 banner */
	bool have_id;
	struct helo_self self;
	char *addrs[RB_SELF_ADDRS + 1];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool ready;
};

/* What the messages pass counts for the overview and the activity series (every message of
 * the selection, with or without its session row) */
struct msg_totals {
	int64_t messages;
	double accepted, bytes; /* sums, as SQL total() gives them */
	struct tally *hours;    /* messages per hour: key int64 hour since the epoch, in n */
};

struct sess_pass;

struct rb {
	sqlite3 *db;
	const struct report_opts *o;
	json_t *m;
	int top;
	const char *sc; /* condition on sessions rows: "1" or "session IN temp.sel" */
	/* what this database has (schema 1 lacks the enrichment columns) */
	bool sess_enrich;          /* sessions.country … helo_fcrdns */
	bool intel_geo;            /* ip_intel.latitude, longitude, country_name */
	bool msg_body;             /* messages.body_text, parts */
	bool has_enrichments;      /* the enrichments table */
	struct hp *hp;             /* shared by the threads */
	int64_t sessions;          /* in the selection */
	int64_t stages[7];         /* sessions that ended at each stage; [6] open or unknown */
	int64_t accepted_sessions; /* sessions with an accepted message */
	struct sess_pass *sp;      /* the sessions pass, between model_sessions and its finish */
	struct msg_totals mt;      /* from the messages pass */
	int rc;                    /* a thread's result */
	const char *name;          /* the thread's part, for timing */
	uint64_t prog_last_us;
	char *err;
	size_t errlen;
};

/* rb_self - the honeypot's names and addresses (waits until load_self has them) */
const struct helo_self *rb_self(struct rb *r);
/* rb_cond - the selection condition for a table aliased alias ('a', 'g', 'm', 's') */
const char *rb_cond(const struct rb *r, char alias);
/* rb_prepare - prepare SQL made from fmt (printf-style, trusted text only); NULL with err */
sqlite3_stmt *rb_prepare(struct rb *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* rb_has_index - the database has an index of that name */
bool rb_has_index(struct rb *r, const char *name);
/* rb_step - sqlite3_step that records an error; SQLITE_ROW, SQLITE_DONE or -1 */
int rb_step(struct rb *r, sqlite3_stmt *st);
/* rb_progress - a progress line on stderr (rate-limited; done = final line) */
void rb_progress(struct rb *r, const char *what, int64_t n, int64_t total);
/* col_str - attacker text column i as a bounded model string (null when NULL) */
json_t *col_str(sqlite3_stmt *st, int i);
/* col_int - integer column i, null when NULL */
json_t *col_int(sqlite3_stmt *st, int i);
/* jtime - RFC 3339 seconds "2026-11-27T10:53:36Z" from epoch microseconds (null for 0) */
json_t *jtime(int64_t us);
/* jset - json_object_set_new that tolerates a NULL value (stores null) */
void jset(json_t *o, const char *k, json_t *v);
/* jshare - count/total rounded to 4 decimals (0 when total is 0) */
json_t *jshare(int64_t count, int64_t total);

/* A bounded best-N list of JSON rows ranked by an integer key */
struct topn {
	size_t cap, n;
	int64_t *key;
	json_t **row;
};
int topn_init(struct topn *t, size_t cap);
/* topn_wants - a row with this key would enter the list */
bool topn_wants(const struct topn *t, int64_t key);
/* topn_add - takes the row's reference (dropped when it does not enter) */
void topn_add(struct topn *t, int64_t key, json_t *row);
/* topn_array - the rows best first as a new array; the list is emptied */
json_t *topn_array(struct topn *t);
void topn_free(struct topn *t);

struct tally;
/* rb_intel_for - the ip_intel columns of one address into row (null = not known) */
void rb_intel_for(struct rb *r, sqlite3_stmt *st, const char *ip, json_t *row);
/* rb_ranked2 - the top rows of a tally as {kname: key, nname: n} */
json_t *rb_ranked2(struct tally *t, int top, const char *kname, const char *nname);

struct tally_ent;

/* The window of recent sessions the sessions pass hands to the side tables (model_side.c) */
struct sesswin;
struct sesswin *sesswin_new(void);
void sesswin_free(struct sesswin *w);
/* sesswin_put - a session read by the sessions pass, with its entry in the sources tally
 * (whose key is the address) */
void sesswin_put(struct sesswin *w, const char *sid, size_t len, const struct tally_ent *ipe);

/* A table keyed by session read alongside the sessions pass (credentials, signals) */
struct side;
struct side *side_credentials(struct rb *r);
struct side *side_dialect(struct rb *r);
/* side_pump - take the side's rows whose session is in the window (or, when it is not, after
 * SIDE_WAIT more sessions or when final, by a lookup); nread = sessions read; 0 or -1 */
int side_pump(struct rb *r, struct side *s, const struct sesswin *w, uint64_t nread, bool final);
/* side_end - ok: write the side's model section (0 or -1); else only free it */
int side_end(struct rb *r, struct side *s, bool ok);

/* model_sessions - the sessions pass with the side tables, and every section that needs only
 * it; overview and activity wait for the messages totals: model_sessions_finish (which also
 * frees the pass, as does model_sessions_free on an error) */
int model_sessions(struct rb *r);
int model_sessions_finish(struct rb *r, const struct msg_totals *mt);
void model_sessions_free(struct rb *r);
int model_commands(struct rb *r);
int model_messages(struct rb *r);

#endif
