/* SPDX-License-Identifier: ISC */
/*
 * serve - `relaytrap serve`: configuration, identity, personas, the store process, the
 * listeners and the event loop; graceful shutdown on SIGTERM/SIGINT, SIGHUP reopens the log.
 *
 * Owns: the process layout and the start-up order. The store runs in a child process fed over
 * a socketpair (src/capture/store.c); this process runs the network engine in one libevent
 * loop. Started as root, everything is opened first, then both processes drop for good
 * (core/privsep.c): the engine into an empty chroot, the store into the data directory, both
 * as the unprivileged user under a seccomp filter. See docs/security.md.
 * Supervision: the store is started by a small keeper process forked before the engine
 * drops its privileges (a sandboxed engine can neither fork nor make a socketpair). The keeper
 * starts a store on a new socketpair and hands the engine its end over a control socket
 * (SCM_RIGHTS); when the store dies it starts another (at once, or after a growing back-off
 * when it keeps dying young). The capture keeps every frame the store had not acknowledged as
 * committed and resumes the stream with each new store. At shutdown the engine waits until a
 * store has acknowledged everything; when it closes the control socket the keeper waits for
 * the store and exits. SIGHUP is passed on as an 'H' on the control socket.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <stdbool.h>
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
#include "core/privsep.h"
#include "core/util.h"
#include "enrich/dns.h"
#include "enrich/enrich.h"
#include "enrich/geo.h"
#include "enrich/p0f.h"
#include "net/listener.h"
#include "persona/identity.h"
#include "persona/persona.h"
#include "smtp/session.h"

#define SHUTDOWN_GRACE_MS 1500
#define STORE_FINISH_MS 30000    /* at shutdown: how long the store may take to commit the rest */
#define STORE_FINISH_TRIES 3     /* stores used at shutdown to get everything committed */
#define STORE_WAIT_MS 15000      /* how long the engine waits for the keeper's next store */
#define STORE_BACKOFF_MIN_MS 100 /* a store that died within STORE_STABLE_MS of its start */
#define STORE_BACKOFF_MAX_MS 5000
#define STORE_STABLE_MS 10000

struct serve_ctx {
	struct event_base *base;
	struct server *srv;
	struct capture *cap;
	const struct config *cfg;
	const struct privsep *ps;
	pid_t keeper_pid;
	int ctl; /* to the keeper: new store channels arrive here */
	struct event *ev_ctl;
	pid_t store_pid; /* the current store, as the keeper reported it */
	int stopping;
	uint64_t stop_deadline_us;
	struct event *grace;
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

/* fail_cfg_geo - fail_cfg once the GeoIP databases are open: they are released first */
static int
fail_cfg_geo(struct geo *geo, const char *what, const char *err)
{
	geo_free(geo);
	return fail_cfg(what, err);
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
	if (write(sc->ctl, "H", 1) != 1)
		log_warn("SIGHUP: the store keeper is gone");
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

/* start_store - fork a store process on a new socketpair; the child drops its privileges
 * first thing (see store_run). Its pid and the engine's end in *fd, or -1 (logged) */
static pid_t
start_store(const struct config *cfg, const struct privsep *ps, int *fd)
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
		scfg.privsep = ps;
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

/* send_fd - hand a store's channel (fd) and pid to the engine over ctl; 0 or -1 */
static int
send_fd(int ctl, int fd, pid_t pid)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	int32_t p = (int32_t)pid;
	struct iovec iov = {&p, sizeof(p)};
	struct msghdr mh;
	struct cmsghdr *c;

	memset(&mh, 0, sizeof(mh));
	memset(&u, 0, sizeof(u));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(ctl, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(p) ? 0 : -1;
}

/* recv_fd - a store channel from the keeper: its fd (*pid set), -1 on error, -2 when the
 * keeper is gone */
static int
recv_fd(int ctl, pid_t *pid)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	int32_t p = 0;
	struct iovec iov = {&p, sizeof(p)};
	struct msghdr mh;
	struct cmsghdr *c;
	ssize_t n;
	int fd = -1;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);
	if (n == 0)
		return -2;
	if (n != (ssize_t)sizeof(p))
		return -1;
	c = CMSG_FIRSTHDR(&mh);
	if (c == NULL || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	*pid = (pid_t)p;
	return fd;
}

/* keeper_run - the keeper's loop: start a store, hand its channel to the engine, and replace
 * it whenever it dies abnormally; a store that exits 0 saw the engine close its channel (the
 * engine is finishing) and is not replaced. Ends when the engine closes ctl and the store has
 * exited. */
static int
keeper_run(int ctl, const struct config *cfg, const struct privsep *ps)
{
	uint64_t started = 0, age_ms;
	unsigned backoff_ms = 0;
	bool engine_gone = false, finished = false;
	struct pollfd pfd;
	char buf[64], why[64];
	pid_t store = -1;
	int status, fd, i;
	ssize_t n;

	/* the engine decides when to stop; a signal to the whole group must not end us first */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	log_init("relaytrap-keeper", (enum log_level)cfg->log_level);
	for (;;) {
		if (store <= 0 && !engine_gone && !finished) {
			store = start_store(cfg, ps, &fd);
			if (store > 0) {
				started = now_mono_us();
				if (send_fd(ctl, fd, store) < 0)
					engine_gone = true;
				close(fd);
			}
		}
		if (engine_gone && store <= 0)
			return 0;
		pfd.fd = ctl;
		pfd.events = engine_gone ? 0 : POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, store > 0 ? 100 : 1000) > 0 &&
		    (pfd.revents & (POLLIN | POLLHUP))) {
			n = read(ctl, buf, sizeof(buf));
			if (n <= 0)
				engine_gone = true;
			for (i = 0; i < n; i++)
				if (buf[i] == 'H' && store > 0)
					kill(store, SIGHUP);
		}
		if (store <= 0 || waitpid(store, &status, WNOHANG) != store)
			continue;
		store = -1;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			finished = true;
			continue;
		}
		age_ms = (now_mono_us() - started) / 1000u;
		if (age_ms >= STORE_STABLE_MS)
			backoff_ms = 0;
		else
			backoff_ms = backoff_ms == 0 ? STORE_BACKOFF_MIN_MS : backoff_ms * 2;
		if (backoff_ms > STORE_BACKOFF_MAX_MS)
			backoff_ms = STORE_BACKOFF_MAX_MS;
		describe_status(status, why, sizeof(why));
		log_err("store process %s after %llu ms; starting a new one in %u ms", why,
		        (unsigned long long)age_ms, backoff_ms);
		if (backoff_ms > 0)
			poll(NULL, 0, (int)backoff_ms);
	}
}

/* start_keeper - fork the keeper on a control socketpair; its pid and the engine's end in
 * *ctl, or -1 */
static pid_t
start_keeper(const struct config *cfg, const struct privsep *ps, int *ctl)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	pid = fork();
	if (pid == -1) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		/* only the control socket and stderr: what the engine opened is not ours */
		if (dup2(sv[1], 3) == -1)
			_exit(1);
		closefrom(4);
		_exit(keeper_run(3, cfg, ps));
	}
	close(sv[1]);
	*ctl = sv[0];
	return pid;
}

/* on_ctl - the keeper sent a new store's channel: resume the stream with it */
static void
on_ctl(evutil_socket_t fd, short what, void *arg)
{
	struct serve_ctx *sc = arg;
	pid_t pid = 0;
	int sfd = recv_fd(sc->ctl, &pid);

	if (sfd == -2) {
		log_err("the store keeper is gone: a store that dies now is not replaced");
		event_del(sc->ev_ctl);
		return;
	}
	if (sfd < 0)
		return;
	if (capture_attach(sc->cap, sc->base, sfd) == -1) {
		log_err("store: cannot attach the capture to the new store");
		close(sfd);
		return;
	}
	sc->store_pid = pid;
	sc->store_restarts++;
	log_warn("store restarted: pid=%ld; %zu bytes of events it had not committed are sent "
	         "again",
	         (long)pid, capture_pending(sc->cap));
}

/* on_chld - the keeper is our only child: if it dies, stores are no longer replaced */
static void
on_chld(evutil_socket_t sig, short what, void *arg)
{
	struct serve_ctx *sc = arg;
	char why[64];
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid != sc->keeper_pid)
			continue;
		sc->keeper_pid = -1;
		describe_status(status, why, sizeof(why));
		log_err("the store keeper %s: a store that dies now is not replaced", why);
	}
}

/* wait_store - at shutdown: block until the keeper hands over a new store; 0 or -1 */
static int
wait_store(struct serve_ctx *sc)
{
	struct pollfd pfd = {sc->ctl, POLLIN, 0};
	pid_t pid = 0;
	int fd;

	if (poll(&pfd, 1, STORE_WAIT_MS) <= 0 || (fd = recv_fd(sc->ctl, &pid)) < 0)
		return -1;
	if (capture_attach(sc->cap, sc->base, fd) == -1) {
		close(fd);
		return -1;
	}
	sc->store_pid = pid;
	log_info("store %ld started again to commit %zu bytes before exiting", (long)pid,
	         capture_pending(sc->cap));
	return 0;
}

/* stop_keeper - close the control socket (the keeper waits for its store, then exits) and
 * reap it */
static void
stop_keeper(struct serve_ctx *sc)
{
	char why[64];
	int status;

	if (sc->ctl >= 0)
		close(sc->ctl);
	sc->ctl = -1;
	if (sc->keeper_pid > 0 && waitpid(sc->keeper_pid, &status, 0) > 0 &&
	    !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		describe_status(status, why, sizeof(why));
		log_err("store keeper %s at shutdown", why);
	}
	sc->keeper_pid = -1;
}

/* finish_store - at shutdown: have a store commit everything the engine holds (the keeper
 * replaces one that fails), then let the keeper and its store exit */
static void
finish_store(struct serve_ctx *sc)
{
	int tries;

	if (sc->ev_ctl != NULL)
		event_del(sc->ev_ctl);
	for (tries = 0; tries < STORE_FINISH_TRIES; tries++) {
		if (!capture_attached(sc->cap) && wait_store(sc) == -1)
			continue;
		if (capture_finish(sc->cap, STORE_FINISH_MS) == 0)
			break;
	}
	stop_keeper(sc);
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
	struct enrich *enrich;
	struct dns_stats dst;
	struct privsep ps;
	struct p0f_db *p0f;
	const char *p0f_path = NULL;
	struct event *ev_term, *ev_int, *ev_hup, *ev_chld;
	sigset_t stopset, oldset;
	uint64_t accepted, unanswered;
	static uint64_t msg_counter;
	char err[1024], idpath[600], hostname[256], domain[256], netbios[16];
	struct geo *geo = NULL;
	const char *cfile = NULL;
	int ch, fd = -1, verbose = 0;
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
	/* who we become, where the engine is jailed; the time zone is loaded here for good */
	if (privsep_init(&ps, cfg.user, cfg.group, cfg.chroot, err, sizeof(err)) == -1 ||
	    privsep_data_dir(&ps, cfg.data_dir, err, sizeof(err)) == -1)
		return fail_cfg(cfile, err);
	/* GeoIP databases are mapped now, while the files can still be opened; none is fine */
	if (geo_open_config(&geo, cfg.geoip_city_db, cfg.geoip_asn_db, cfg.data_dir, err,
	                    sizeof(err)) == -1)
		return fail_cfg(cfile, err);

	/* the install's own names, generated once and kept: identical banners give honeypots away.
	 * A root without CAP_DAC_OVERRIDE (the systemd unit) reaches the user's directory as the
	 * user. */
	snprintf(idpath, sizeof(idpath), "%s/identity", cfg.data_dir);
	if (identity_load_or_create(idpath, &id, err, sizeof(err)) == -1) {
		int r;
		if (!ps.root)
			return fail_cfg_geo(geo, idpath, err);
		privsep_fs_user(&ps);
		r = identity_load_or_create(idpath, &id, err, sizeof(err));
		privsep_fs_root(&ps);
		if (r == -1)
			return fail_cfg_geo(geo, idpath, err);
	}
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
		return fail_cfg_geo(geo, "p0f_fp", err);
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
			return fail_cfg_geo(geo, NULL, err);
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
	sc.ps = &ps;
	sc.ctl = -1;
	sc.keeper_pid = start_keeper(&cfg, &ps, &sc.ctl);
	if (sc.keeper_pid <= 0)
		fatal("cannot start the store keeper");
	fd = recv_fd(sc.ctl, &sc.store_pid);
	if (fd < 0)
		fatalx("the store keeper did not start a store");
	/* the engine's sandbox lets it signal this one process: the keeper */
	ps.store_pid = sc.keeper_pid;

	sc.base = event_base_new();
	if (sc.base == NULL)
		fatalx("event_base_new failed");
	cap = capture_new(cfg.sensor, NULL, NULL);
	if (cap == NULL || capture_attach(cap, sc.base, fd) == -1)
		fatalx("cannot set up the capture channel");
	/* ready means recording: the store has opened its files and answered */
	if (capture_wait_ack(cap, STORE_WAIT_MS) == -1)
		log_warn("the store has not answered yet; events wait for it");
	sc.cap = cap;
	for (i = 0; i < cfg.nlisteners; i++)
		envs[i].cap = cap;
	/* enrichment opens what it needs now: the resolver's sockets (connected UDP) and the
	 * local databases; nothing later creates a socket, so a sandbox may forbid it */
	enrich = enrich_new(sc.base, cap, &cfg, p0f, geo, err, sizeof(err));
	if (enrich == NULL) {
		log_err("%s", err);
		capture_free(cap);
		stop_keeper(&sc);
		p0f_db_free(p0f);
		geo_free(geo);
		return 1;
	}
	if (cfg.enrich_dns)
		log_info("enrichment: dns on (resolver %s, dnsbl_zones %s)", cfg.resolver,
		         cfg.dnsbl_zones);
	sc.srv = server_new(sc.base, &cfg, cap);
	if (sc.srv == NULL)
		fatalx("out of memory");
	server_set_p0f(sc.srv, p0f);
	server_set_enrich(sc.srv, enrich);
	for (i = 0; i < cfg.nlisteners; i++) {
		const struct listener_conf *lc = &cfg.listeners[i];
		if (server_listen(sc.srv, lc, &envs[i], err, sizeof(err)) == -1) {
			log_err("%s", err);
			enrich_free(enrich);
			capture_free(cap);
			stop_keeper(&sc);
			p0f_db_free(p0f);
			geo_free(geo);
			return 1;
		}
	}

	/*
	 * Everything opened before the split. After privsep_engine() this process can open no
	 * file, create or connect no socket and never become root again, so whatever the engine
	 * needs for its whole life is set up above this line: the listeners, the store channel,
	 * the p0f signatures and GeoIP databases (read with the personas), the signal events,
	 * and the DNS resolver's sockets once DNS enrichment exists.
	 */
	ev_term = evsignal_new(sc.base, SIGTERM, on_stop, &sc);
	ev_int = evsignal_new(sc.base, SIGINT, on_stop, &sc);
	ev_hup = evsignal_new(sc.base, SIGHUP, on_hup, &sc);
	ev_chld = evsignal_new(sc.base, SIGCHLD, on_chld, &sc);
	sc.grace = event_new(sc.base, -1, EV_PERSIST, on_grace, &sc);
	sc.ev_ctl = event_new(sc.base, sc.ctl, EV_READ | EV_PERSIST, on_ctl, &sc);
	event_add(ev_term, NULL);
	event_add(ev_int, NULL);
	event_add(ev_hup, NULL);
	event_add(ev_chld, NULL);
	event_add(sc.ev_ctl, NULL);

	if (privsep_engine(&ps, err, sizeof(err)) == -1) {
		log_err("cannot drop privileges: %s", err);
		capture_free(cap);
		stop_keeper(&sc);
		p0f_db_free(p0f);
		return 1;
	}
	privsep_log(&ps);
	for (i = 0; i < cfg.nlisteners; i++) {
		const struct listener_conf *lc = &cfg.listeners[i];
		log_info("ready listener=%s address=%s port=%d persona=%s proxy_protocol=%s",
		         lc->name,
		         lc->address[0] ? lc->address : "::", server_bound_port(sc.srv, i),
		         persona_name(envs[i].persona), lc->proxy_protocol ? "yes" : "no");
	}
	log_info("relaytrap %s serving: hostname=%s data_dir=%s sensor=%s store_pid=%ld",
	         RELAYTRAP_VERSION, hostname, cfg.data_dir, cfg.sensor, (long)sc.store_pid);

	event_base_dispatch(sc.base);

	/* every session left is recorded as closed, then the store commits everything */
	sc.stopping = 1;
	accepted = server_accepted(sc.srv, &unanswered);
	/* every session left is recorded as closed, then the store gets everything; lookups
	 * still pending are dropped */
	server_free(sc.srv);
	/* enrich_free runs the loop once more so that evdns hands back its requests: nothing
	 * that touches the freed server may fire then (signals are ignored from here on). A
	 * repeated SIGTERM/SIGINT while the last events drain to the store must not kill the
	 * process halfway (that would lose them); the drain is bounded on its own. event_del
	 * puts back the disposition from before the loop (the default: termination), so the
	 * three are blocked until they are ignored, and one that came in between is dropped. */
	sigemptyset(&stopset);
	sigaddset(&stopset, SIGTERM);
	sigaddset(&stopset, SIGINT);
	sigaddset(&stopset, SIGHUP);
	sigprocmask(SIG_BLOCK, &stopset, &oldset);
	event_del(ev_term);
	event_del(ev_int);
	event_del(ev_hup);
	event_del(sc.grace);
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigprocmask(SIG_SETMASK, &oldset, NULL);
	if (enrich_dns_stats(enrich, &dst))
		log_info(
		    "dns: queries=%llu sent=%llu cache_hits=%llu joined=%llu rate_limited=%llu "
		    "timeouts=%llu",
		    (unsigned long long)dst.queries, (unsigned long long)dst.sent,
		    (unsigned long long)dst.hits, (unsigned long long)dst.joined,
		    (unsigned long long)dst.rate_limited, (unsigned long long)dst.timeouts);
	enrich_free(enrich);
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
	event_free(sc.ev_ctl);
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
