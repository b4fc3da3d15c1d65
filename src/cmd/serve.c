/* SPDX-License-Identifier: ISC */
/*
 * serve - `relaytrap serve`: configuration, identity, personas, the store process, the
 * listeners and the event loop; graceful shutdown on SIGTERM/SIGINT, SIGHUP reopens the log.
 *
 * Owns: the process layout. The store runs in a child process fed over a socketpair
 * (src/capture/store.c); this process runs the network engine in one libevent loop.
 * Supervision: when the store process dies (SIGCHLD), the capture keeps every frame the store
 * had not acknowledged as committed; a new store is started on a new socketpair (at once, or
 * after a back-off when it keeps dying) and the capture resumes the stream with it. At shutdown
 * the engine waits until the store has acknowledged everything, starting it again if it has to.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "capture/emit.h"
#include "capture/store.h"
#include "cmd/cmd.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "enrich/geo.h"
#include "enrich/p0f.h"
#include "net/listener.h"
#include "persona/identity.h"
#include "persona/persona.h"
#include "smtp/session.h"

#define SHUTDOWN_GRACE_MS 1500
#define STORE_FINISH_MS 30000    /* at shutdown: how long the store may take to commit the rest */
#define STORE_FINISH_TRIES 3     /* stores started at shutdown to get everything committed */
#define STORE_BACKOFF_MIN_MS 100 /* a store that died within STORE_STABLE_MS of its start */
#define STORE_BACKOFF_MAX_MS 5000
#define STORE_STABLE_MS 10000

struct serve_ctx {
	struct event_base *base;
	struct server *srv;
	struct capture *cap;
	const struct config *cfg;
	pid_t store_pid;
	int stopping;
	uint64_t stop_deadline_us;
	struct event *grace;
	struct event *restart;   /* starts a new store after a back-off */
	uint64_t store_start_us; /* when the current store was started */
	unsigned backoff_ms;     /* next back-off when the store dies young */
	unsigned store_restarts;
};

static void
serve_usage(FILE *f)
{
	fprintf(f,
	        "usage: relaytrap serve [-c FILE] [--listen [ADDR:]PORT[/PERSONA]]... [--persona "
	        "NAME]\n"
	        "                       [--hostname FQDN] [--data-dir DIR] [--proxy-from CIDR]...\n"
	        "                       [--sensor NAME] [--set KEY=VALUE]... [-v|-q]\n\n"
	        "Run the honeypot in the foreground, logging to stderr.\n\n"
	        "  -c, --config FILE      read FILE (see relaytrap(8) and docs/configuration.md)\n"
	        "  -l, --listen SPEC      listen on [ADDR:]PORT[/PERSONA]; repeatable; IPv6 as "
	        "[::1]:25\n"
	        "  -p, --persona NAME     default persona (built-in name or file path)\n"
	        "  -H, --hostname FQDN    host name in the banner (default: generated once, kept)\n"
	        "  -d, --data-dir DIR     where events.jsonl, relaytrap.db and bodies/ go\n"
	        "  -P, --proxy-from CIDR  accept PROXY protocol headers from CIDR; repeatable\n"
	        "  -s, --sensor NAME      sensor name recorded in every event\n"
	        "  -S, --set KEY=VALUE    set any configuration key; repeatable\n"
	        "  -v, --verbose          debug logging\n"
	        "  -q, --quiet            warnings and errors only\n"
	        "  -h, --help             this text\n\n"
	        "Without a config file and --listen it listens on port 25 when run as root and on\n"
	        "127.0.0.1:2525 otherwise.\n");
}

/* fail_cfg - print a one-line configuration error and return the usage exit code */
static int
fail_cfg(const char *what, const char *err)
{
	fprintf(stderr, "relaytrap serve: %s%s%s\n", what ? what : "", what ? ": " : "", err);
	return 2;
}

/* on_grace - during shutdown: stop once every session is closed or the grace time is over */
static void
on_grace(evutil_socket_t fd, short what, void *arg)
{
	struct serve_ctx *sc = arg;

	if (server_sessions(sc->srv) == 0 || now_mono_us() >= sc->stop_deadline_us)
		event_base_loopexit(sc->base, NULL);
}

static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct serve_ctx *sc = arg;
	struct timeval tv = {0, 20000};

	if (sc->stopping++) {
		log_info("second signal: stopping now");
		event_base_loopexit(sc->base, NULL);
		return;
	}
	log_info("signal %d: shutting down (answering open sessions, recording them)", (int)sig);
	sc->stop_deadline_us = now_mono_us() + SHUTDOWN_GRACE_MS * 1000u;
	server_shutdown(sc->srv);
	event_add(sc->grace, &tv);
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct serve_ctx *sc = arg;

	log_info("SIGHUP: asking the store to reopen events.jsonl");
	if (sc->store_pid > 0)
		kill(sc->store_pid, SIGHUP);
}

/* raise_nofile - as many descriptors as we may have: every session is one */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* start_store - fork a store process on a new socketpair; its pid and the engine's end in *fd,
 * or -1 (logged) */
static pid_t
start_store(const struct config *cfg, int *fd)
{
	struct store_config scfg;
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_err("store: socketpair: %s", strerror(errno));
		return -1;
	}
	/* the socket buffers smooth bursts; the engine buffers the rest (bounded) */
	int sz = 4 * 1024 * 1024;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	pid = fork();
	if (pid == -1) {
		log_err("store: fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		/* A store started again inherits the engine's listeners and connections: drop
		 * them, so that a client's connection never outlives the engine's end of it. */
		signal(SIGCHLD, SIG_DFL);
		if (sv[1] != 3) {
			if (dup2(sv[1], 3) == -1)
				_exit(1);
			sv[1] = 3;
		}
		closefrom(4);
		log_init("relaytrap-store", (enum log_level)cfg->log_level);
		memset(&scfg, 0, sizeof(scfg));
		scfg.data_dir = cfg->data_dir;
		scfg.write_jsonl = true;
		scfg.store_bodies = cfg->store_bodies;
		scfg.jsonl_rotate_bytes = cfg->jsonl_rotate_bytes;
		scfg.store_body_max = cfg->limits.store_body_max;
		scfg.body_disk_budget = cfg->limits.body_disk_budget;
		scfg.disk_min_free = cfg->disk_min_free;
		scfg.fsync = cfg->fsync;
		_exit(store_run(sv[1], &scfg));
	}
	close(sv[1]);
	*fd = sv[0];
	return pid;
}

/* describe_status - "killed by signal 9", "exited with status 75" */
static void
describe_status(int status, char *out, size_t outlen)
{
	if (WIFSIGNALED(status))
		snprintf(out, outlen, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(out, outlen, "exited with status %d", WEXITSTATUS(status));
}

/* on_restart - start a new store and hand the capture to it; try again later on failure */
static void
on_restart(evutil_socket_t unused, short what, void *arg)
{
	struct serve_ctx *sc = arg;
	struct timeval tv = {1, 0};
	int fd;

	if (sc->stopping || sc->store_pid > 0)
		return;
	sc->store_pid = start_store(sc->cfg, &fd);
	if (sc->store_pid > 0 && capture_attach(sc->cap, sc->base, fd) == -1) {
		log_err("store: cannot attach the capture to the new store");
		close(fd);
		kill(sc->store_pid, SIGKILL);
	}
	if (sc->store_pid <= 0) {
		sc->store_pid = -1;
		evtimer_add(sc->restart, &tv);
		return;
	}
	sc->store_start_us = now_mono_us();
	sc->store_restarts++;
	log_warn("store restarted: pid=%ld; %zu bytes of events it had not committed are sent "
	         "again",
	         (long)sc->store_pid, capture_pending(sc->cap));
}

/* on_chld - reap children; a dead store is replaced (at once, or after a growing back-off
 * when it keeps dying young) while the capture keeps its events */
static void
on_chld(evutil_socket_t sig, short what, void *arg)
{
	struct serve_ctx *sc = arg;
	char why[64];
	struct timeval tv;
	uint64_t age_ms;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid != sc->store_pid)
			continue;
		sc->store_pid = -1;
		describe_status(status, why, sizeof(why));
		capture_detach(sc->cap);
		if (sc->stopping)
			continue;
		age_ms = (now_mono_us() - sc->store_start_us) / 1000u;
		if (age_ms >= STORE_STABLE_MS) {
			sc->backoff_ms = 0;
		} else {
			sc->backoff_ms =
			    sc->backoff_ms == 0 ? STORE_BACKOFF_MIN_MS : sc->backoff_ms * 2;
			if (sc->backoff_ms > STORE_BACKOFF_MAX_MS)
				sc->backoff_ms = STORE_BACKOFF_MAX_MS;
		}
		log_err("store process %ld %s after %llu ms; starting a new one in %u ms "
		        "(%zu bytes wait for it)",
		        (long)pid, why, (unsigned long long)age_ms, sc->backoff_ms,
		        capture_pending(sc->cap));
		tv.tv_sec = sc->backoff_ms / 1000;
		tv.tv_usec = (suseconds_t)(sc->backoff_ms % 1000) * 1000;
		evtimer_add(sc->restart, &tv);
	}
}

/* finish_store - at shutdown: have a store commit everything the engine holds, starting a new
 * one when the store is gone or fails; then wait for it to exit */
static void
finish_store(struct serve_ctx *sc)
{
	char why[64];
	int status, fd, tries;

	for (tries = 0; tries < STORE_FINISH_TRIES; tries++) {
		if (!capture_attached(sc->cap)) {
			if (sc->store_pid > 0) {
				kill(sc->store_pid, SIGKILL);
				waitpid(sc->store_pid, &status, 0);
			}
			sc->store_pid = start_store(sc->cfg, &fd);
			if (sc->store_pid <= 0)
				continue;
			if (capture_attach(sc->cap, sc->base, fd) == -1) {
				close(fd);
				continue;
			}
			log_info("store started again to commit %zu bytes before exiting",
			         capture_pending(sc->cap));
		}
		if (capture_finish(sc->cap, STORE_FINISH_MS) == 0)
			break;
	}
	if (sc->store_pid > 0 && waitpid(sc->store_pid, &status, 0) > 0 &&
	    !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		describe_status(status, why, sizeof(why));
		log_err("store process %s at shutdown", why);
	}
	sc->store_pid = -1;
}

/* persona_for - load (once) the persona a listener uses */
static struct persona *
persona_for(const char *name, const struct config *cfg, struct persona **cache, char **names,
            size_t *n, char *err, size_t errlen)
{
	size_t i;
	struct persona *p;

	for (i = 0; i < *n; i++)
		if (strcmp(names[i], name) == 0)
			return cache[i];
	p = persona_load(name, cfg->persona_dir, err, errlen);
	if (p == NULL)
		return NULL;
	cache[*n] = p;
	names[*n] = strdup(name);
	(*n)++;
	return p;
}

int
cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"listen", required_argument, NULL, 'l'},
	    {"persona", required_argument, NULL, 'p'},
	    {"hostname", required_argument, NULL, 'H'},
	    {"data-dir", required_argument, NULL, 'd'},
	    {"proxy-from", required_argument, NULL, 'P'},
	    {"sensor", required_argument, NULL, 's'},
	    {"set", required_argument, NULL, 'S'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static struct config cfg;
	struct persona *pcache[CONFIG_MAX_LISTENERS + 1];
	char *pnames[CONFIG_MAX_LISTENERS + 1];
	size_t np = 0, i;
	static struct smtp_env envs[CONFIG_MAX_LISTENERS];
	struct identity id;
	struct serve_ctx sc;
	struct capture *cap;
	struct p0f_db *p0f;
	const char *p0f_path = NULL;
	struct event *ev_term, *ev_int, *ev_hup, *ev_chld;
	uint64_t accepted, unanswered;
	static uint64_t msg_counter;
	char err[1024], idpath[600], hostname[256], domain[256], netbios[16];
	struct geo *geo = NULL;
	const char *cfile = NULL;
	int ch, fd, status, verbose = 0;
	char **cli_args;
	int ncli = 0;

	cli_args = calloc((size_t)argc + 1, sizeof(*cli_args));
	if (cli_args == NULL)
		return 1;
	/* first pass: the config file; overrides from the command line are applied after it */
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:l:p:H:d:P:s:S:vqh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cfile = optarg;
			break;
		case 'h':
			serve_usage(stdout);
			free(cli_args);
			return 0;
		case 'v':
			verbose = 1;
			break;
		case 'q':
			verbose = -1;
			break;
		case '?':
			serve_usage(stderr);
			free(cli_args);
			return 2;
		default:
			cli_args[ncli++] = argv[optind - 1];
			break;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "relaytrap serve: unexpected argument '%.64s' (see --help)\n",
		        argv[optind]);
		free(cli_args);
		return 2;
	}
	config_defaults(&cfg);
	if (cfile && config_load_file(&cfg, cfile, err, sizeof(err)) == -1) {
		free(cli_args);
		return fail_cfg(NULL, err);
	}
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:l:p:H:d:P:s:S:vqh", opts, NULL)) != -1) {
		const char *key = NULL;
		int r = 0;
		switch (ch) {
		case 'l':
			r = config_add_listener(&cfg, optarg, err, sizeof(err));
			key = "--listen";
			break;
		case 'P':
			r = config_add_proxy_from(&cfg, optarg, err, sizeof(err));
			key = "--proxy-from";
			break;
		case 'p':
			r = config_set(&cfg, "persona", optarg, err, sizeof(err));
			key = "--persona";
			break;
		case 'H':
			r = config_set(&cfg, "hostname", optarg, err, sizeof(err));
			key = "--hostname";
			break;
		case 'd':
			r = config_set(&cfg, "data_dir", optarg, err, sizeof(err));
			key = "--data-dir";
			break;
		case 's':
			r = config_set(&cfg, "sensor", optarg, err, sizeof(err));
			key = "--sensor";
			break;
		case 'S': {
			char kv[1024], *eq;
			strlcpy(kv, optarg, sizeof(kv));
			eq = strchr(kv, '=');
			key = "--set";
			if (eq == NULL) {
				snprintf(err, sizeof(err), "'%.100s' is not KEY=VALUE", optarg);
				r = -1;
				break;
			}
			*eq = '\0';
			r = config_set(&cfg, kv, eq + 1, err, sizeof(err));
			break;
		}
		default:
			break;
		}
		if (r == -1) {
			free(cli_args);
			return fail_cfg(key, err);
		}
	}
	free(cli_args);
	if (verbose)
		cfg.log_level = verbose > 0 ? LOG_LVL_DEBUG : LOG_LVL_WARN;
	log_init("relaytrap", (enum log_level)cfg.log_level);

	if (cfg.nlisteners == 0) {
		const char *spec = geteuid() == 0 ? "25" : "127.0.0.1:2525";
		if (config_add_listener(&cfg, spec, err, sizeof(err)) == -1)
			return fail_cfg(NULL, err);
		log_info("no listener configured: listening on %s (%s)",
		         geteuid() == 0 ? "port 25, all addresses" : "127.0.0.1:2525",
		         geteuid() == 0 ? "running as root"
		                        : "not root; port 25 needs root or CAP_NET_BIND_SERVICE");
	}
	if (config_check(&cfg, err, sizeof(err)) == -1)
		return fail_cfg(cfile, err);
	if (mkdir_p(cfg.data_dir) == -1)
		return fail_cfg("--data-dir", strerror(errno));
	/* GeoIP databases are mapped now, while the files can still be opened; none is fine */
	if (geo_open_config(&geo, cfg.geoip_city_db, cfg.geoip_asn_db, cfg.data_dir, err,
	                    sizeof(err)) == -1)
		return fail_cfg(cfile, err);

	/* the install's own names, generated once and kept: identical banners give honeypots away
	 */
	snprintf(idpath, sizeof(idpath), "%s/identity", cfg.data_dir);
	if (identity_load_or_create(idpath, &id, err, sizeof(err)) == -1)
		return fail_cfg(idpath, err);
	strlcpy(hostname, cfg.hostname[0] ? cfg.hostname : id.fqdn, sizeof(hostname));
	strlcpy(netbios, cfg.netbios[0] ? cfg.netbios : id.netbios, sizeof(netbios));
	if (cfg.hostname[0] && !cfg.netbios[0]) {
		size_t k;
		for (k = 0; hostname[k] && hostname[k] != '.' && k < 15; k++)
			netbios[k] = (char)toupper((unsigned char)hostname[k]);
		netbios[k] = '\0';
	}
	if (cfg.domain[0])
		strlcpy(domain, cfg.domain, sizeof(domain));
	else if (cfg.hostname[0] && strchr(cfg.hostname, '.'))
		strlcpy(domain, strchr(cfg.hostname, '.') + 1, sizeof(domain));
	else
		strlcpy(domain, id.domain, sizeof(domain));

	/* OS signatures, read once: a configured file must load; without one, fingerprints are
	 * optional and a missing file only costs the os fields */
	p0f = p0f_db_open(cfg.p0f_fp, &p0f_path, err, sizeof(err));
	if (p0f == NULL && cfg.p0f_fp[0] != '\0')
		return fail_cfg("p0f_fp", err);
	if (p0f == NULL)
		log_warn("%s; OS fingerprints off", err);
	else
		log_info("os signatures: %zu from %s", p0f_db_count(p0f), p0f_path);

	for (i = 0; i < cfg.nlisteners; i++) {
		const char *pn =
		    cfg.listeners[i].persona[0] ? cfg.listeners[i].persona : cfg.persona;
		struct smtp_env *e = &envs[i];
		struct persona *p = persona_for(pn, &cfg, pcache, pnames, &np, err, sizeof(err));
		if (p == NULL) {
			p0f_db_free(p0f);
			return fail_cfg(NULL, err);
		}
		e->persona = p;
		e->limits = &cfg.limits;
		e->bare_lf = cfg.bare_lf;
		e->hostname = hostname;
		e->netbios = netbios;
		e->domain = domain;
		e->nb_domain = id.nb_domain;
		e->dns_domain = id.dns_domain;
		e->delay_banner_ms =
		    (cfg.delay_banner_ms >= 0 ? cfg.delay_banner_ms : persona_delay_banner_ms(p)) +
		    cfg.greet_pause_ms;
		e->delay_reply_ms =
		    cfg.delay_reply_ms >= 0 ? cfg.delay_reply_ms : persona_delay_reply_ms(p);
		e->delay_jitter_ms =
		    cfg.delay_jitter_ms >= 0 ? cfg.delay_jitter_ms : persona_delay_jitter_ms(p);
		e->msg_counter = &msg_counter;
	}

	/* said once every setting has been accepted, so a config error stays one line */
	geo_log_summary(geo);
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	memset(&sc, 0, sizeof(sc));
	sc.cfg = &cfg;
	sc.store_pid = start_store(&cfg, &fd);
	if (sc.store_pid <= 0)
		fatalx("cannot start the store process");
	sc.store_start_us = now_mono_us();

	sc.base = event_base_new();
	if (sc.base == NULL)
		fatalx("event_base_new failed");
	cap = capture_new(cfg.sensor, NULL, NULL);
	if (cap == NULL || capture_attach(cap, sc.base, fd) == -1)
		fatalx("cannot set up the capture channel");
	sc.cap = cap;
	for (i = 0; i < cfg.nlisteners; i++)
		envs[i].cap = cap;
	sc.srv = server_new(sc.base, &cfg, cap);
	if (sc.srv == NULL)
		fatalx("out of memory");
	server_set_p0f(sc.srv, p0f);
	for (i = 0; i < cfg.nlisteners; i++) {
		const struct listener_conf *lc = &cfg.listeners[i];
		if (server_listen(sc.srv, lc, &envs[i], err, sizeof(err)) == -1) {
			log_err("%s", err);
			kill(sc.store_pid, SIGTERM);
			capture_free(cap);
			waitpid(sc.store_pid, &status, 0);
			p0f_db_free(p0f);
			return 1;
		}
		log_info("ready listener=%s address=%s port=%d persona=%s proxy_protocol=%s",
		         lc->name,
		         lc->address[0] ? lc->address : "::", server_bound_port(sc.srv, i),
		         persona_name(envs[i].persona), lc->proxy_protocol ? "yes" : "no");
	}
	log_info("relaytrap %s serving: hostname=%s data_dir=%s sensor=%s store_pid=%ld",
	         RELAYTRAP_VERSION, hostname, cfg.data_dir, cfg.sensor, (long)sc.store_pid);

	ev_term = evsignal_new(sc.base, SIGTERM, on_stop, &sc);
	ev_int = evsignal_new(sc.base, SIGINT, on_stop, &sc);
	ev_hup = evsignal_new(sc.base, SIGHUP, on_hup, &sc);
	ev_chld = evsignal_new(sc.base, SIGCHLD, on_chld, &sc);
	sc.grace = event_new(sc.base, -1, EV_PERSIST, on_grace, &sc);
	sc.restart = evtimer_new(sc.base, on_restart, &sc);
	event_add(ev_term, NULL);
	event_add(ev_int, NULL);
	event_add(ev_hup, NULL);
	event_add(ev_chld, NULL);

	event_base_dispatch(sc.base);

	/* every session left is recorded as closed, then the store commits everything */
	sc.stopping = 1;
	accepted = server_accepted(sc.srv, &unanswered);
	server_free(sc.srv);
	p0f_db_free(p0f);
	capture_flush_frame(cap);
	finish_store(&sc);
	log_info("capture: connections=%llu unanswered=%llu events=%llu dropped=%llu "
	         "unconfirmed_bytes=%llu store_restarts=%u",
	         (unsigned long long)accepted, (unsigned long long)unanswered,
	         (unsigned long long)capture_events(cap), (unsigned long long)capture_dropped(cap),
	         (unsigned long long)capture_unacked(cap), sc.store_restarts);
	if (capture_unacked(cap) > 0)
		log_err("%llu bytes of events could not be committed by the store",
		        (unsigned long long)capture_unacked(cap));
	capture_free(cap);
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	event_free(ev_chld);
	event_free(sc.restart);
	event_free(sc.grace);
	event_base_free(sc.base);
	for (i = 0; i < np; i++) {
		persona_free(pcache[i]);
		free(pnames[i]);
	}
	geo_free(geo);
	config_free(&cfg);
	log_info("stopped");
	return 0;
}
