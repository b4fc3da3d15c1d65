/* SPDX-License-Identifier: ISC */
/*
 * config - the daemon's settings: built-in defaults, the config file, then command-line overrides.
 *
 * Owns: struct config and everything it points to (config_free releases it).
 * Public: config_defaults, config_load_file, config_add_listener, config_add_proxy_from,
 *         config_set, config_check, config_free, config_keys, cidr_parse, cidr_match.
 * File format (docs/configuration.md): "key = value" lines, '#' comments, sections
 * "[listener NAME]" with keys address, port, persona, proxy_protocol. Every error names
 * "FILE:LINE: message (fix)" in the caller's err buffer.
 *
 * Limits (RFC 5321 §4.5.3.1 gives the minimums a server must accept; ours are far above them):
 *   line_max       4096   §4.5.3.1.4/.5 command line 512, text line 1000 octets
 *   max_rcpts       100   §4.5.3.1.8 recipients buffer at least 100
 *   max_message    32 MiB advertised as the persona's SIZE
 *   timeouts       §4.5.3.2: 5 min per command, 10 min for DATA blocks; IIS defaults to 10 min
 */
#ifndef RT_CONFIG_H
#define RT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CONFIG_MAX_LISTENERS 32
#define CONFIG_MAX_PROXY_FROM 64
#define CONFIG_LINE_MAX 4096 /* bytes in one config file line, newline included */

struct cidr {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int prefix;
};

struct listener_conf {
	char name[64];
	char address[64]; /* numeric IPv4 or IPv6, "" = all (IPv6 any, dual-stack) */
	int port;
	char persona[64]; /* "" = the global persona */
	bool proxy_protocol;
};

enum bare_lf_policy { BARE_LF_ACCEPT, BARE_LF_STRICT };

struct limits {
	size_t line_max;            /* bytes in one command line, CRLF excluded */
	unsigned max_commands;      /* per session */
	unsigned max_bad_commands;  /* then 421 and close */
	unsigned max_rcpts;         /* per transaction; 452 after */
	unsigned max_messages;      /* per session */
	uint64_t max_message_size;  /* bytes; 552 after the end of DATA */
	uint64_t store_body_max;    /* bytes of a body kept; the rest is counted, not stored */
	uint64_t body_disk_budget;  /* total bytes under bodies/; 0 = unlimited */
	uint64_t cmd_timeout_ms;    /* whole-command deadline */
	uint64_t idle_timeout_ms;   /* no bytes at all */
	uint64_t session_max_ms;    /* session lifetime */
	unsigned max_sessions;      /* concurrent, all listeners */
	unsigned max_per_ip;        /* concurrent from one source address */
	unsigned auth_max_attempts; /* per session */
	unsigned stress_sessions; /* from this many sessions on: stress timeouts; 0 = 3/4 of max */
	uint64_t stress_timeout_ms; /* idle and whole-command timeout under stress */
};

struct config {
	char *file; /* path of the config file read, or NULL */
	char sensor[64];
	char persona[64];      /* default persona name or path */
	char persona_dir[512]; /* where named personas are looked up */
	char hostname[256];    /* "" = generated once per install and kept in data_dir */
	char netbios[16];      /* "" = derived from hostname */
	char domain[256];      /* default domain; "" = hostname minus first label */
	char data_dir[512];
	char user[64];    /* unprivileged user when started as root (nobody if it is missing) */
	char group[64];   /* its group; "" = the user's primary group */
	char chroot[512]; /* the network engine's empty jail when started as root */
	char p0f_fp[512]; /* p0f v3 signatures; "" = /etc/p0f/p0f.fp, then the shipped copy */
	struct listener_conf listeners[CONFIG_MAX_LISTENERS];
	size_t nlisteners;
	struct cidr proxy_from[CONFIG_MAX_PROXY_FROM];
	size_t nproxy_from;
	struct limits limits;
	enum bare_lf_policy bare_lf;
	int delay_banner_ms; /* -1 = the persona's */
	int delay_reply_ms;  /* -1 = the persona's */
	int delay_jitter_ms; /* -1 = the persona's */
	int greet_pause_ms;  /* wait before the banner to catch pre-greeting talk; 0 = off */
	uint64_t jsonl_rotate_bytes;
	bool store_bodies;
	bool fsync;             /* fdatasync events.jsonl and packs before each SQLite commit */
	uint64_t disk_min_free; /* bytes free in data_dir under which bodies are not stored */
	int log_level;          /* enum log_level */
	/* enrichment (docs/enrichment.md) */
	bool enrich_geo, enrich_os;
	bool enrich_dns;               /* master switch for every DNS lookup */
	bool enrich_rdns, enrich_helo; /* with enrich_dns */
	char dnsbl_zones[1024];        /* "zone, zone" or "none" */
	char resolver[256];            /* "system" or "IP[:PORT], ..." */
	uint64_t dns_timeout_ms;
	uint64_t dns_cache_ttl_ms;
	unsigned dns_cache_max;
	unsigned dns_rate;           /* lookups started per second */
	unsigned dns_max_inflight;   /* lookups outstanding */
	unsigned enrich_max_pending; /* enrichment jobs outstanding */
	char geoip_city_db[1024];    /* "" = automatic, "none", or comma-separated .mmdb paths */
	char geoip_asn_db[1024]; /* "" = automatic, "none", or comma-separated .mmdb/.rtasn paths */
};

/* config_defaults - fill every field with the built-in default */
void config_defaults(struct config *c);
/* config_load_file - read FILE over the current values; 0, or -1 with "FILE:LINE: ..." in err.
 * On error the lines before the bad one have been applied; callers stop rather than go on. */
int config_load_file(struct config *c, const char *path, char *err, size_t errlen);
/* config_set - apply one key=value (used by the file parser and by tests); 0 or -1 with err */
int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen);
/* config_add_listener - parse "[ADDR:]PORT[/PERSONA]" ("[::1]:25" for IPv6); 0 or -1 with err */
int config_add_listener(struct config *c, const char *spec, char *err, size_t errlen);
/* config_add_proxy_from - add a trusted PROXY protocol source "CIDR"; 0 or -1 with err */
int config_add_proxy_from(struct config *c, const char *cidr, char *err, size_t errlen);
/* config_check - cross-field checks after loading; 0 or -1 with err */
int config_check(const struct config *c, char *err, size_t errlen);
/* config_free - release what the config owns (the file name); NULL is a no-op. The struct
 * itself belongs to the caller; call config_defaults again to reuse it. */
void config_free(struct config *c);
/* config_keys - name of global key i (0, 1, ...), NULL past the last; for docs and tests */
const char *config_keys(size_t i);

/* cidr_parse - "10.0.0.0/8", "::1", "192.0.2.7" (host route); 0 or -1 */
int cidr_parse(const char *s, struct cidr *out);
/* cidr_match - does sa fall inside the prefix (IPv4-mapped IPv6 matches IPv4 prefixes) */
bool cidr_match(const struct cidr *c, const struct sockaddr *sa);

#endif
