/* SPDX-License-Identifier: ISC */
/*
 * config tests - every key good and bad, sizes and durations, listener specs, CIDR parsing and
 * matching (IPv4-mapped peers too), config files with errors at known lines, a good file with
 * two listener sections, cross checks, and check-config's exit codes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "core/config.h"

#define MIB (1024ull * 1024)
#define GIB (1024ull * MIB)

static char tmpdir[256];

/* CHECK - fail with a got/want style message when cond holds */
#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fail_msg(__VA_ARGS__);                                                     \
	} while (0)

enum kind { K_STR, K_UNS, K_SIZE, K_U64, K_INT, K_BOOL };

struct good_case {
	const char *key;
	const char *value;
	enum kind kind;
	size_t off;
	unsigned long long want; /* for numbers and bools */
	const char *want_str;    /* for strings */
};

#define C(f) offsetof(struct config, f)
#define L(f) offsetof(struct config, limits.f)

static const struct good_case good[] = {
    {"sensor", "hp-01.eu", K_STR, C(sensor), 0, "hp-01.eu"},
    {"persona", "postfix", K_STR, C(persona), 0, "postfix"},
    {"persona", "/etc/relaytrap/my.persona", K_STR, C(persona), 0, "/etc/relaytrap/my.persona"},
    {"persona_dir", "/opt/rt personas", K_STR, C(persona_dir), 0, "/opt/rt personas"},
    {"hostname", "mail.example.com", K_STR, C(hostname), 0, "mail.example.com"},
    {"hostname", "", K_STR, C(hostname), 0, ""},
    {"hostname", "EXCH-01.corp.example.org", K_STR, C(hostname), 0, "EXCH-01.corp.example.org"},
    {"netbios", "EXCH01", K_STR, C(netbios), 0, "EXCH01"},
    {"netbios", "ABCDEFGHIJKLMNO", K_STR, C(netbios), 0, "ABCDEFGHIJKLMNO"},
    {"domain", "corp.example.com", K_STR, C(domain), 0, "corp.example.com"},
    {"data_dir", "/srv/relaytrap", K_STR, C(data_dir), 0, "/srv/relaytrap"},
    {"user", "_relaytrap", K_STR, C(user), 0, "_relaytrap"},
    {"group", "mail", K_STR, C(group), 0, "mail"},
    {"chroot", "/var/empty/rt jail", K_STR, C(chroot), 0, "/var/empty/rt jail"},
    {"geoip_city_db", "", K_STR, C(geoip_city_db), 0, ""},
    {"geoip_city_db", "/a/x.mmdb, /b/y.mmdb", K_STR, C(geoip_city_db), 0, "/a/x.mmdb, /b/y.mmdb"},
    {"geoip_asn_db", "none", K_STR, C(geoip_asn_db), 0, "none"},
    {"p0f_fp", "/opt/p0f/my p0f.fp", K_STR, C(p0f_fp), 0, "/opt/p0f/my p0f.fp"},
    {"line_max", "512", K_SIZE, L(line_max), 512, NULL},
    {"line_max", "1048576", K_SIZE, L(line_max), 1048576, NULL},
    {"max_commands", "1", K_UNS, L(max_commands), 1, NULL},
    {"max_bad_commands", "25", K_UNS, L(max_bad_commands), 25, NULL},
    {"max_rcpts", "1", K_UNS, L(max_rcpts), 1, NULL},
    {"max_messages", "7", K_UNS, L(max_messages), 7, NULL},
    {"max_message_size", "20M", K_U64, L(max_message_size), 20 * MIB, NULL},
    {"max_message_size", "1k", K_U64, L(max_message_size), 1024, NULL},
    {"max_message_size", "10485760", K_U64, L(max_message_size), 10 * MIB, NULL},
    {"store_body_max", "0", K_U64, L(store_body_max), 0, NULL},
    {"store_body_max", "64MiB", K_U64, L(store_body_max), 64 * MIB, NULL},
    {"body_disk_budget", "10G", K_U64, L(body_disk_budget), 10 * GIB, NULL},
    {"body_disk_budget", "0", K_U64, L(body_disk_budget), 0, NULL},
    {"cmd_timeout", "30s", K_U64, L(cmd_timeout_ms), 30000, NULL},
    {"cmd_timeout", "250ms", K_U64, L(cmd_timeout_ms), 250, NULL},
    {"idle_timeout", "2", K_U64, L(idle_timeout_ms), 2000, NULL},
    {"session_max", "1h", K_U64, L(session_max_ms), 3600000, NULL},
    {"session_max", "7d", K_U64, L(session_max_ms), 7ull * 86400000, NULL},
    {"max_sessions", "100", K_UNS, L(max_sessions), 100, NULL},
    {"max_per_ip", "4", K_UNS, L(max_per_ip), 4, NULL},
    {"auth_max_attempts", "3", K_UNS, L(auth_max_attempts), 3, NULL},
    {"stress_sessions", "0", K_UNS, L(stress_sessions), 0, NULL},
    {"stress_sessions", "2000", K_UNS, L(stress_sessions), 2000, NULL},
    {"stress_timeout", "5s", K_U64, L(stress_timeout_ms), 5000, NULL},
    {"bare_lf", "strict", K_INT, C(bare_lf), BARE_LF_STRICT, NULL},
    {"bare_lf", "ACCEPT", K_INT, C(bare_lf), BARE_LF_ACCEPT, NULL},
    {"delay_banner", "2s", K_INT, C(delay_banner_ms), 2000, NULL},
    {"delay_banner", "persona", K_INT, C(delay_banner_ms), (unsigned long long)-1, NULL},
    {"delay_reply", "0", K_INT, C(delay_reply_ms), 0, NULL},
    {"delay_reply", "150ms", K_INT, C(delay_reply_ms), 150, NULL},
    {"delay_jitter", "persona", K_INT, C(delay_jitter_ms), (unsigned long long)-1, NULL},
    {"delay_jitter", "40ms", K_INT, C(delay_jitter_ms), 40, NULL},
    {"greet_pause", "3s", K_INT, C(greet_pause_ms), 3000, NULL},
    {"greet_pause", "0", K_INT, C(greet_pause_ms), 0, NULL},
    {"jsonl_rotate", "0", K_U64, C(jsonl_rotate_bytes), 0, NULL},
    {"jsonl_rotate", "1G", K_U64, C(jsonl_rotate_bytes), GIB, NULL},
    {"store_bodies", "no", K_BOOL, C(store_bodies), 0, NULL},
    {"store_bodies", "On", K_BOOL, C(store_bodies), 1, NULL},
    {"store_bodies", "0", K_BOOL, C(store_bodies), 0, NULL},
    {"store_bodies", "true", K_BOOL, C(store_bodies), 1, NULL},
    {"fsync", "no", K_BOOL, C(fsync), 0, NULL},
    {"disk_min_free", "1G", K_U64, C(disk_min_free), GIB, NULL},
    {"disk_min_free", "0", K_U64, C(disk_min_free), 0, NULL},
    {"log_level", "debug", K_INT, C(log_level), 3, NULL},
    {"log_level", "error", K_INT, C(log_level), 0, NULL},
    {"enrich_geo", "no", K_BOOL, C(enrich_geo), 0, NULL},
    {"enrich_os", "off", K_BOOL, C(enrich_os), 0, NULL},
    {"enrich_dns", "yes", K_BOOL, C(enrich_dns), 1, NULL},
    {"enrich_rdns", "no", K_BOOL, C(enrich_rdns), 0, NULL},
    {"enrich_helo", "0", K_BOOL, C(enrich_helo), 0, NULL},
    {"dnsbl_zones", "none", K_STR, C(dnsbl_zones), 0, "none"},
    {"dnsbl_zones", "zen.spamhaus.org, bl.spamcop.net", K_STR, C(dnsbl_zones), 0,
     "zen.spamhaus.org, bl.spamcop.net"},
    {"resolver", "system", K_STR, C(resolver), 0, "system"},
    {"resolver", "127.0.0.1:5353, [::1]:53", K_STR, C(resolver), 0, "127.0.0.1:5353, [::1]:53"},
    {"dns_timeout", "1500ms", K_U64, C(dns_timeout_ms), 1500, NULL},
    {"dns_cache_ttl", "0", K_U64, C(dns_cache_ttl_ms), 0, NULL},
    {"dns_cache_ttl", "2h", K_U64, C(dns_cache_ttl_ms), 7200000, NULL},
    {"dns_cache_max", "0", K_UNS, C(dns_cache_max), 0, NULL},
    {"dns_rate", "50", K_UNS, C(dns_rate), 50, NULL},
    {"dns_max_inflight", "64", K_UNS, C(dns_max_inflight), 64, NULL},
    {"enrich_max_pending", "100", K_UNS, C(enrich_max_pending), 100, NULL},
};

struct bad_case {
	const char *key;
	const char *value;
	const char *want; /* substring of the error */
};

static const struct bad_case bad[] = {
    {"sensor", "", "sensor must be a name"},
    {"sensor", "has space", "sensor must be a name"},
    {"persona", "", "persona must be a non-empty name"},
    {"persona", "two words", "persona must be a non-empty name"},
    {"persona_dir", "a\nb", "persona_dir must be a non-empty"},
    {"hostname", "localhost", "is not fully qualified"},
    {"hostname", "mail.example.com.", "drop the trailing dot"},
    {"hostname", "mail..example.com", "empty label"},
    {"hostname", "-mail.example.com", "starting with '-'"},
    {"hostname", "mail_1.example.com", "only letters, digits"},
    {"hostname", "192.0.2.1", "looks like an IP address"},
    {"hostname", "a1234567890123456789012345678901234567890123456789012345678901234.example.com",
     "label longer than 63"},
    {"netbios", "ABCDEFGHIJKLMNOP", "netbios must be at most 15 characters"},
    {"netbios", "EXCH 01", "netbios may hold only"},
    {"domain", "com", "is not fully qualified"},
    {"data_dir", "", "data_dir must be a non-empty"},
    {"user", "-root", "user must be a name"},
    {"user", "", "user must be a name"},
    {"group", "-wheel", "group must be a name"},
    {"chroot", "var/empty", "chroot must be an absolute path"},
    {"chroot", "", "chroot must be an absolute path"},
    {"geoip_city_db", "a.mmdb,", "geoip_city_db must be empty (automatic), none, or"},
    {"geoip_asn_db", ",a.mmdb", "geoip_asn_db must be empty (automatic), none, or"},
    {"geoip_asn_db", "a\tb", "geoip_asn_db must be empty"},
    {"p0f_fp", "", "p0f_fp must be a non-empty"},
    {"p0f_fp", "/etc/p0f\tx", "p0f_fp must be a non-empty"},
    {"listen", "99999", "port must be a number between 0 and 65535"},
    {"proxy_from", "10.0.0.0/33", "proxy_from '10.0.0.0/33' is not an address or CIDR"},
    {"proxy_from", "", "proxy_from needs an address"},
    {"line_max", "511", "line_max must be a whole number between 512 and 1048576"},
    {"line_max", "1048577", "between 512 and 1048576"},
    {"line_max", "4k", "line_max must be a whole number"},
    {"line_max", "", "line_max must be a whole number"},
    {"max_commands", "0", "max_commands must be a whole number between 1 and"},
    {"max_bad_commands", "-1", "max_bad_commands must be a whole number"},
    {"max_rcpts", "0", "max_rcpts must be a whole number between 1 and 100000"},
    {"max_messages", "x", "max_messages must be a whole number"},
    {"max_message_size", "12q", "max_message_size must be a size between 1k and 16G"},
    {"max_message_size", "100", "max_message_size must be a size between 1k and 16G"},
    {"max_message_size", "17G", "between 1k and 16G"},
    {"max_message_size", "18446744073709551615G", "max_message_size must be a size"},
    {"max_message_size", "1125899906842624G", "max_message_size must be a size"},
    {"store_body_max", "-5", "store_body_max must be a size"},
    {"body_disk_budget", "4 G", "body_disk_budget must be a size"},
    {"cmd_timeout", "5x", "cmd_timeout must be a duration between 100ms and 1d"},
    {"cmd_timeout", "50ms", "between 100ms and 1d"},
    {"idle_timeout", "2d", "idle_timeout must be a duration"},
    {"session_max", "8d", "session_max must be a duration between 100ms and 7d"},
    {"session_max", "1125899906842624d", "session_max must be a duration"},
    {"max_sessions", "0", "max_sessions must be a whole number"},
    {"max_per_ip", "lots", "max_per_ip must be a whole number"},
    {"auth_max_attempts", "0", "auth_max_attempts must be a whole number"},
    {"stress_sessions", "-1", "stress_sessions must be a whole number between 0 and 1000000"},
    {"stress_timeout", "10ms", "stress_timeout must be a duration between 100ms and 1d"},
    {"bare_lf", "reject", "bare_lf must be accept or strict"},
    {"delay_banner", "soon", "delay_banner must be 'persona' or a duration"},
    {"delay_reply", "11m", "between 0ms and 10m"},
    {"delay_jitter", "-1", "delay_jitter must be 'persona'"},
    {"greet_pause", "persona", "greet_pause must be a duration between 0ms and 5m"},
    {"jsonl_rotate", "100", "jsonl_rotate must be 0 (never rotate) or a size between 4k"},
    {"store_bodies", "maybe", "store_bodies must be yes or no"},
    {"fsync", "always", "fsync must be yes or no"},
    {"disk_min_free", "lots", "disk_min_free must be a size"},
    {"log_level", "loud", "log_level must be one of error, warn, info, debug"},
    {"enrich_geo", "maybe", "enrich_geo must be yes or no"},
    {"enrich_os", "2", "enrich_os must be yes or no"},
    {"enrich_dns", "", "enrich_dns must be yes or no"},
    {"enrich_rdns", "y", "enrich_rdns must be yes or no"},
    {"enrich_helo", "never", "enrich_helo must be yes or no"},
    {"dnsbl_zones", "zen..spamhaus.org", "dnsbl_zones: 'zen..spamhaus.org' has an empty label"},
    {"dnsbl_zones", "localhost", "is not a zone with at least two labels"},
    {"dnsbl_zones", "bad/zone.org", "may hold only letters"},
    {"resolver", "dns.example.com", "resolver must be 'system' or numeric nameserver"},
    {"resolver", "1.1.1.1,,2.2.2.2", "resolver must be 'system'"},
    {"resolver", "1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4,5.5.5.5", "at most 4 nameservers"},
    {"dns_timeout", "50ms", "dns_timeout must be a duration between 100ms and 1m"},
    {"dns_cache_ttl", "8d", "dns_cache_ttl must be a duration between 0ms and 7d"},
    {"dns_cache_max", "-1", "dns_cache_max must be a whole number"},
    {"dns_rate", "0", "dns_rate must be a whole number between 1"},
    {"dns_max_inflight", "70000", "dns_max_inflight must be a whole number between 1 and 65535"},
    {"enrich_max_pending", "0", "enrich_max_pending must be a whole number"},
    {"max_rcpt", "5", "unknown key 'max_rcpt' (did you mean 'max_rcpts'?)"},
    {"Line_Max", "5", "did you mean 'line_max'?"},
    {"hostnmae", "x", "did you mean 'hostname'?"},
    {"frobnicate", "1", "unknown key 'frobnicate' (relaytrap(8)"},
    {"colour\x1b[31m", "1", "unknown key 'colour\\x1b[31m'"},
};

/* test_defaults - the built-in values the task and docs promise */
static void
test_defaults(void **state)
{
	struct config c;
	char host[256] = "";

	(void)state;
	config_defaults(&c);
	gethostname(host, sizeof(host));
	host[sizeof(c.sensor) - 1] = '\0';
	CHECK(strcmp(c.sensor, host[0] ? host : "relaytrap") == 0, "sensor: got %s, want %s",
	      c.sensor, host);
	assert_string_equal(c.persona, "exchange2000");
	assert_string_equal(c.persona_dir, "/usr/share/relaytrap/personas");
	assert_string_equal(c.user, "relaytrap");
	assert_string_equal(c.hostname, "");
	if (geteuid() == 0)
		assert_string_equal(c.data_dir, "/var/lib/relaytrap");
	else
		assert_non_null(strstr(c.data_dir, "relaytrap"));
	assert_int_equal(c.nlisteners, 0);
	assert_int_equal(c.nproxy_from, 0);
	assert_int_equal(c.limits.line_max, 4096);
	assert_int_equal(c.limits.max_commands, 1000);
	assert_int_equal(c.limits.max_bad_commands, 10);
	assert_int_equal(c.limits.max_rcpts, 100);
	assert_int_equal(c.limits.max_messages, 100);
	assert_true(c.limits.max_message_size == 32 * MIB);
	assert_true(c.limits.store_body_max == 32 * MIB);
	assert_true(c.limits.body_disk_budget == 4 * GIB);
	assert_true(c.limits.cmd_timeout_ms == 300000);
	assert_true(c.limits.idle_timeout_ms == 600000);
	assert_true(c.limits.session_max_ms == 1800000);
	assert_int_equal(c.limits.max_sessions, 4096);
	assert_int_equal(c.limits.max_per_ip, 32);
	assert_int_equal(c.limits.auth_max_attempts, 20);
	assert_int_equal(c.bare_lf, BARE_LF_ACCEPT);
	assert_int_equal(c.delay_banner_ms, -1);
	assert_int_equal(c.delay_reply_ms, -1);
	assert_int_equal(c.delay_jitter_ms, -1);
	assert_int_equal(c.greet_pause_ms, 0);
	assert_true(c.jsonl_rotate_bytes == 256 * MIB);
	assert_true(c.store_bodies);
	assert_int_equal(c.log_level, 2);
	/* DNS lookups leave the host, so they are off until the operator turns them on */
	assert_false(c.enrich_dns);
	assert_true(c.enrich_geo && c.enrich_os && c.enrich_rdns && c.enrich_helo);
	assert_string_equal(c.resolver, "system");
	assert_non_null(strstr(c.dnsbl_zones, "zen.spamhaus.org"));
	assert_true(c.dns_timeout_ms == 5000);
	assert_null(c.file);
	assert_int_equal(config_check(&c, host, sizeof(host)), 0);
	config_free(&c);
}

/* test_data_dir_xdg - a normal user's data goes under XDG_DATA_HOME, else ~/.local/share */
static void
test_data_dir_xdg(void **state)
{
	struct config c;
	char *old_xdg = getenv("XDG_DATA_HOME") ? strdup(getenv("XDG_DATA_HOME")) : NULL;
	char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;

	(void)state;
	if (geteuid() == 0) {
		config_defaults(&c);
		assert_string_equal(c.data_dir, "/var/lib/relaytrap");
	} else {
		setenv("XDG_DATA_HOME", "/x/data", 1);
		config_defaults(&c);
		assert_string_equal(c.data_dir, "/x/data/relaytrap");
		unsetenv("XDG_DATA_HOME");
		setenv("HOME", "/home/op", 1);
		config_defaults(&c);
		assert_string_equal(c.data_dir, "/home/op/.local/share/relaytrap");
	}
	if (old_xdg != NULL)
		setenv("XDG_DATA_HOME", old_xdg, 1);
	if (old_home != NULL)
		setenv("HOME", old_home, 1);
	free(old_xdg);
	free(old_home);
}

/* read_field - a config field as an unsigned number, by kind */
static unsigned long long
read_field(const struct config *c, enum kind k, size_t off)
{
	const char *p = (const char *)c + off;

	switch (k) {
	case K_UNS:
		return *(const unsigned *)(const void *)p;
	case K_SIZE:
		return *(const size_t *)(const void *)p;
	case K_U64:
		return *(const uint64_t *)(const void *)p;
	case K_INT:
		return (unsigned long long)(long long)*(const int *)(const void *)p;
	case K_BOOL:
		return *(const bool *)(const void *)p;
	case K_STR:
		break;
	}
	return 0;
}

/* test_set_good - each accepted value lands in its field */
static void
test_set_good(void **state)
{
	struct config c;
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const struct good_case *t = &good[i];

		config_defaults(&c);
		err[0] = '\0';
		CHECK(config_set(&c, t->key, t->value, err, sizeof(err)) == 0,
		      "%s = '%s': got error '%s', want success", t->key, t->value, err);
		if (t->kind == K_STR) {
			const char *got = (const char *)&c + t->off;

			CHECK(strcmp(got, t->want_str) == 0, "%s = '%s': got '%s', want '%s'",
			      t->key, t->value, got, t->want_str);
		} else {
			unsigned long long got = read_field(&c, t->kind, t->off);

			if (t->kind == K_INT)
				got = (unsigned long long)(long long)(int)got;
			CHECK(got == t->want, "%s = '%s': got %llu, want %llu", t->key, t->value,
			      got, t->want);
		}
		config_free(&c);
	}
}

/* test_set_bad - each refused value gives a message that names the key and the fix */
static void
test_set_bad(void **state)
{
	struct config c, before;
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct bad_case *t = &bad[i];

		config_defaults(&c);
		before = c;
		err[0] = '\0';
		CHECK(config_set(&c, t->key, t->value, err, sizeof(err)) == -1,
		      "%s = '%s': got success, want an error containing '%s'", t->key, t->value,
		      t->want);
		CHECK(strstr(err, t->want) != NULL, "%s = '%s': got '%s', want it to contain '%s'",
		      t->key, t->value, err, t->want);
		CHECK(memcmp(&c.limits, &before.limits, sizeof(c.limits)) == 0,
		      "%s = '%s': a refused value changed the limits", t->key, t->value);
		config_free(&c);
	}
}

/* test_every_key_covered - each key in the table has at least one good and one bad case */
static void
test_every_key_covered(void **state)
{
	const char *k;
	size_t i, j, ngood, nbad;

	(void)state;
	for (i = 0; (k = config_keys(i)) != NULL; i++) {
		ngood = nbad = 0;
		for (j = 0; j < sizeof(good) / sizeof(good[0]); j++)
			ngood += strcmp(good[j].key, k) == 0;
		for (j = 0; j < sizeof(bad) / sizeof(bad[0]); j++)
			nbad += strcmp(bad[j].key, k) == 0;
		/* listen and proxy_from have their own tables below. */
		if (strcmp(k, "listen") == 0 || strcmp(k, "proxy_from") == 0)
			ngood = 1;
		CHECK(ngood > 0 && nbad > 0, "key %s: got %zu good and %zu bad cases, want both", k,
		      ngood, nbad);
	}
	assert_int_equal(i, 54);
}

struct listen_case {
	const char *spec;
	const char *address;
	int port;
	const char *persona;
};

/* test_listen_good - accepted listener specs and what they parse to */
static void
test_listen_good(void **state)
{
	static const struct listen_case cases[] = {
	    {"2525", "", 2525, ""},
	    {"127.0.0.1:2525", "127.0.0.1", 2525, ""},
	    {"[::1]:2525", "::1", 2525, ""},
	    {"[::]:25/postfix", "::", 25, "postfix"},
	    {"0.0.0.0:25/exchange2000", "0.0.0.0", 25, "exchange2000"},
	    {"*:587", "", 587, ""},
	    {"[2001:db8::25]:465/honeyd-2009", "2001:db8::25", 465, "honeyd-2009"},
	    {"25//etc/relaytrap/custom.persona", "", 25, "/etc/relaytrap/custom.persona"},
	    {"65535", "", 65535, ""},
	    {"1", "", 1, ""},
	};
	struct config c;
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		config_defaults(&c);
		err[0] = '\0';
		CHECK(config_add_listener(&c, cases[i].spec, err, sizeof(err)) == 0,
		      "%s: got error '%s', want success", cases[i].spec, err);
		assert_int_equal(c.nlisteners, 1);
		CHECK(strcmp(c.listeners[0].address, cases[i].address) == 0,
		      "%s: address got '%s', want '%s'", cases[i].spec, c.listeners[0].address,
		      cases[i].address);
		CHECK(c.listeners[0].port == cases[i].port, "%s: port got %d, want %d",
		      cases[i].spec, c.listeners[0].port, cases[i].port);
		CHECK(strcmp(c.listeners[0].persona, cases[i].persona) == 0,
		      "%s: persona got '%s', want '%s'", cases[i].spec, c.listeners[0].persona,
		      cases[i].persona);
		assert_string_equal(c.listeners[0].name, "smtp");
		assert_false(c.listeners[0].proxy_protocol);
		config_free(&c);
	}
}

/* test_listen_bad - refused listener specs */
static void
test_listen_bad(void **state)
{
	static const struct bad_case cases[] = {
	    {NULL, "", "is not [ADDR:]PORT[/PERSONA]"},
	    {NULL, "::1:25", "put an IPv6 address in brackets"},
	    {NULL, "[::1]25", "is not [ADDR:]PORT[/PERSONA]"},
	    {NULL, "[::1", "is not [ADDR:]PORT[/PERSONA]"},
	    {NULL,
	     "[::1]:", "port must be a number between 0 and 65535, 0 = any free port (got '')"},
	    {NULL, "65536", "port must be a number between 0 and 65535"},
	    {NULL, "smtp", "port must be a number"},
	    {NULL, "localhost:25", "not a numeric IPv4 or IPv6 address"},
	    {NULL, "256.0.0.1:25", "not a numeric IPv4 or IPv6 address"},
	    {NULL, "[fe80::zz]:25", "not a numeric IPv4 or IPv6 address"},
	    {NULL, "2525/", "listener persona must be a name"},
	    {NULL, "2525/two words", "listener persona must be a name"},
	    {NULL, "127.0.0.1:2525:1", "put an IPv6 address in brackets"},
	};
	struct config c;
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		config_defaults(&c);
		err[0] = '\0';
		CHECK(config_add_listener(&c, cases[i].value, err, sizeof(err)) == -1,
		      "'%s': got success, want error", cases[i].value);
		CHECK(strstr(err, cases[i].want) != NULL, "'%s': got '%s', want '%s'",
		      cases[i].value, err, cases[i].want);
		assert_int_equal(c.nlisteners, 0);
		config_free(&c);
	}
}

/* test_listen_names_and_overlaps - automatic names and listeners that cannot both bind */
static void
test_listen_names_and_overlaps(void **state)
{
	static const struct {
		const char *first, *second;
		bool ok;
	} pairs[] = {
	    {"127.0.0.1:25", "127.0.0.2:25", true},  {"127.0.0.1:25", "127.0.0.1:26", true},
	    {"127.0.0.1:25", "127.0.0.1:25", false}, {"0.0.0.0:25", "127.0.0.1:25", false},
	    {"[::1]:25", "127.0.0.1:25", true},      {"[::1]:25", "[0:0::1]:25", false},
	    {"25", "127.0.0.1:25", false},           {"[::]:25", "0.0.0.0:25", false},
	    {"[::1]:25", "[::2]:25", true},
	};
	struct config c;
	char err[512];
	size_t i;

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_add_listener(&c, "2525", err, sizeof(err)), 0);
	assert_int_equal(config_add_listener(&c, "2526", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "listen", "2527", err, sizeof(err)), 0);
	assert_string_equal(c.listeners[0].name, "smtp");
	assert_string_equal(c.listeners[1].name, "smtp2");
	assert_string_equal(c.listeners[2].name, "smtp3");
	config_free(&c);

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		int rc;

		config_defaults(&c);
		assert_int_equal(config_add_listener(&c, pairs[i].first, err, sizeof(err)), 0);
		err[0] = '\0';
		rc = config_add_listener(&c, pairs[i].second, err, sizeof(err));
		CHECK((rc == 0) == pairs[i].ok, "%s then %s: got rc %d ('%s'), want %s",
		      pairs[i].first, pairs[i].second, rc, err, pairs[i].ok ? "ok" : "error");
		if (!pairs[i].ok)
			assert_non_null(strstr(err, "duplicate listener"));
		config_free(&c);
	}

	config_defaults(&c);
	for (i = 0; i < CONFIG_MAX_LISTENERS; i++) {
		char spec[16];

		snprintf(spec, sizeof(spec), "%zu", 3000 + i);
		assert_int_equal(config_add_listener(&c, spec, err, sizeof(err)), 0);
	}
	assert_int_equal(config_add_listener(&c, "4000", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too many listeners"));
	config_free(&c);
}

/* test_cidr_parse - accepted and refused prefixes, with host bits cleared */
static void
test_cidr_parse(void **state)
{
	static const struct {
		const char *s;
		int rc, family, prefix;
		const char *addr; /* normalised network address, or NULL */
	} cases[] = {
	    {"10.0.0.0/8", 0, AF_INET, 8, "10.0.0.0"},
	    {"10.1.2.3/8", 0, AF_INET, 8, "10.0.0.0"},
	    {"192.0.2.7", 0, AF_INET, 32, "192.0.2.7"},
	    {"192.0.2.128/25", 0, AF_INET, 25, "192.0.2.128"},
	    {"0.0.0.0/0", 0, AF_INET, 0, "0.0.0.0"},
	    {"::1", 0, AF_INET6, 128, "::1"},
	    {"2001:db8::/32", 0, AF_INET6, 32, "2001:db8::"},
	    {"2001:db8:ffff::1/33", 0, AF_INET6, 33, "2001:db8:8000::"},
	    {"::ffff:10.0.0.0/104", 0, AF_INET6, 104, "::ffff:10.0.0.0"},
	    {"10.0.0.0/33", -1, 0, 0, NULL},
	    {"10.0.0.0/", -1, 0, 0, NULL},
	    {"10.0.0.0/-1", -1, 0, 0, NULL},
	    {"10.0.0/8", -1, 0, 0, NULL},
	    {"::/129", -1, 0, 0, NULL},
	    {"example.com/24", -1, 0, 0, NULL},
	    {"", -1, 0, 0, NULL},
	    {"10.0.0.0/8 ", -1, 0, 0, NULL},
	    {"1111:2222:3333:4444:5555:6666:7777:8888:9999:0000:aaaa:bbbb/64", -1, 0, 0, NULL},
	};
	struct cidr cd;
	char buf[INET6_ADDRSTRLEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = cidr_parse(cases[i].s, &cd);

		CHECK(rc == cases[i].rc, "cidr_parse('%s'): got %d, want %d", cases[i].s, rc,
		      cases[i].rc);
		if (rc != 0)
			continue;
		assert_int_equal(cd.family, cases[i].family);
		assert_int_equal(cd.prefix, cases[i].prefix);
		inet_ntop(cd.family, cd.addr, buf, sizeof(buf));
		CHECK(strcmp(buf, cases[i].addr) == 0, "cidr_parse('%s'): network got %s, want %s",
		      cases[i].s, buf, cases[i].addr);
	}
}

/* make_sa - a sockaddr for a numeric address of either family */
static void
make_sa(const char *ip, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		return;
	}
	assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
	s6->sin6_family = AF_INET6;
}

/* test_cidr_match - peers of both families, including IPv4-mapped IPv6 peers */
static void
test_cidr_match(void **state)
{
	static const struct {
		const char *cidr, *peer;
		bool want;
	} cases[] = {
	    {"10.0.0.0/8", "10.200.3.4", true},
	    {"10.0.0.0/8", "11.0.0.1", false},
	    {"192.0.2.7", "192.0.2.7", true},
	    {"192.0.2.7", "192.0.2.8", false},
	    {"192.0.2.128/25", "192.0.2.129", true},
	    {"192.0.2.128/25", "192.0.2.127", false},
	    {"0.0.0.0/0", "203.0.113.9", true},
	    {"0.0.0.0/0", "2001:db8::1", false},
	    {"10.0.0.0/8", "::ffff:10.1.2.3", true},
	    {"10.0.0.0/8", "::ffff:11.1.2.3", false},
	    {"10.0.0.0/8", "::10.1.2.3", false},
	    {"10.0.0.0/8", "2001:db8::a01:203", false},
	    {"::ffff:10.0.0.0/104", "10.9.9.9", true},
	    {"::ffff:10.0.0.0/104", "12.9.9.9", false},
	    {"2001:db8::/32", "2001:db8:1234::1", true},
	    {"2001:db8::/32", "2001:db9::1", false},
	    {"2001:db8::/33", "2001:db8:7fff::1", true},
	    {"2001:db8::/33", "2001:db8:8000::1", false},
	    {"::1", "::1", true},
	    {"::1", "127.0.0.1", false},
	    {"::/0", "::ffff:1.2.3.4", true},
	};
	struct sockaddr_storage ss;
	struct cidr cd;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got;

		assert_int_equal(cidr_parse(cases[i].cidr, &cd), 0);
		make_sa(cases[i].peer, &ss);
		got = cidr_match(&cd, (struct sockaddr *)&ss);
		CHECK(got == cases[i].want, "%s matches %s: got %d, want %d", cases[i].cidr,
		      cases[i].peer, got, cases[i].want);
	}
	assert_false(cidr_match(NULL, (struct sockaddr *)&ss));
}

/* test_proxy_from_lists - repeatable and comma-separated trusted proxies */
static void
test_proxy_from_lists(void **state)
{
	struct config c;
	char err[512];
	size_t i;

	(void)state;
	config_defaults(&c);
	assert_int_equal(
	    config_set(&c, "proxy_from", "10.0.0.0/8, 192.0.2.7 ,::1", err, sizeof(err)), 0);
	assert_int_equal(c.nproxy_from, 3);
	assert_int_equal(c.proxy_from[1].family, AF_INET);
	assert_int_equal(c.proxy_from[1].prefix, 32);
	assert_int_equal(c.proxy_from[2].family, AF_INET6);
	assert_int_equal(config_set(&c, "proxy_from", "172.16.0.0/12", err, sizeof(err)), 0);
	assert_int_equal(c.nproxy_from, 4);
	assert_int_equal(config_set(&c, "proxy_from", "10.0.0.0/8,,", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "proxy_from '' is not an address"));
	config_free(&c);

	config_defaults(&c);
	for (i = 0; i < CONFIG_MAX_PROXY_FROM; i++)
		assert_int_equal(config_add_proxy_from(&c, "10.0.0.1", err, sizeof(err)), 0);
	assert_int_equal(config_add_proxy_from(&c, "10.0.0.1", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too many proxy_from entries"));
	config_free(&c);
}

/* write_file - a config file in the temp dir; returns its path in a static buffer */
static const char *
write_file(const char *name, const char *content)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, strlen(content), f), strlen(content));
	assert_int_equal(fclose(f), 0);
	return path;
}

/* test_bad_files - each broken file gives exactly one "FILE:LINE: message" */
static void
test_bad_files(void **state)
{
	static const struct {
		const char *content;
		unsigned line;
		const char *want;
	} cases[] = {
	    {"# comment\n\nmax_rcpt = 5\n", 3,
	     "unknown key 'max_rcpt' (did you mean 'max_rcpts'?)"},
	    {"hostname mail.example.com\n", 1, "expected 'key = value' (missing '=')"},
	    {"\n = 5\n", 2, "missing key before '='"},
	    {"line_max = 100\n", 1, "line_max must be a whole number between 512 and 1048576"},
	    {"store_bodies = maybe\n", 1, "store_bodies must be yes or no"},
	    {"[listener a]\nport = 25\n[listener a]\nport = 26\n", 3, "duplicate listener 'a'"},
	    {"[listener a]\naddress = 127.0.0.1\n\n", 1,
	     "listener 'a' has no port (add 'port = 25'"},
	    {"[listener a]\nport = 25\n[listener b]\nport = 25\n", 3,
	     "duplicate listener: 'b' on *:25 overlaps 'a' on *:25"},
	    {"[listner a]\nport = 25\n", 1, "unknown section '[listner a]'"},
	    {"[listener a\n", 1, "bad section header"},
	    {"[listener]\n", 1, "listener section without a name"},
	    {"[listener a/b]\n", 1, "bad listener name 'a/b'"},
	    {"[listener a]\nprot = 25\n", 2, "unknown listener key 'prot' (did you mean 'port'?)"},
	    {"[listener a]\nport = 25\nmax_rcpts = 5\n", 3, "'max_rcpts' is a global key"},
	    {"[listener a]\nport = 70000\n", 2, "port must be a number between 0 and 65535"},
	    {"[listener a]\nport = 25\naddress = mail.example.com\n", 3,
	     "not a numeric IPv4 or IPv6 address"},
	    {"[listener a]\nport = 25\nproxy_protocol = perhaps\n", 3,
	     "proxy_protocol must be yes or no"},
	    {"[listener a]\nport = 25\npersona =\n", 3, "listener persona must be a name"},
	    {"listen = 25\nlisten = 0.0.0.0:25\n", 2, "duplicate listener"},
	    {"proxy_from = 10.0.0.0/8, nonsense\n", 1, "proxy_from 'nonsense' is not an address"},
	    {"sensor = a\nsensor = b\nsensor = c\x01\n", 3, "sensor must be a name"},
	    {"a = b\0c\n", 1, "contains a NUL byte"},
	    {"hostname = localhost   # a comment\n", 1, "'localhost' is not fully qualified"},
	};
	struct config c;
	char err[1024], want[1024], name[32];
	const char *path;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(name, sizeof(name), "bad%02zu.conf", i);
		path = write_file(name, cases[i].content);
		if (strstr(cases[i].want, "NUL") != NULL) {
			FILE *f = fopen(path, "w");

			assert_non_null(f);
			assert_int_equal(fwrite("a = b\0c\n", 1, 8, f), 8);
			fclose(f);
		}
		config_defaults(&c);
		err[0] = '\0';
		CHECK(config_load_file(&c, path, err, sizeof(err)) == -1,
		      "case %zu: got success, want '%s'", i, cases[i].want);
		snprintf(want, sizeof(want), "%s:%u: ", path, cases[i].line);
		CHECK(strncmp(err, want, strlen(want)) == 0, "case %zu: got '%s', want prefix '%s'",
		      i, err, want);
		CHECK(strstr(err, cases[i].want) != NULL, "case %zu: got '%s', want '%s'", i, err,
		      cases[i].want);
		CHECK(strchr(err, '\n') == NULL, "case %zu: error is not one line: '%s'", i, err);
		assert_null(c.file);
		config_free(&c);
	}
}

/* test_long_line - a line past CONFIG_LINE_MAX is refused at its own line number */
static void
test_long_line(void **state)
{
	char *content = malloc(CONFIG_LINE_MAX + 64);
	char err[1024], want[600];
	struct config c;
	const char *path;

	(void)state;
	assert_non_null(content);
	memcpy(content, "sensor = a\nsensor = ", 20);
	memset(content + 20, 'x', CONFIG_LINE_MAX + 10);
	memcpy(content + 20 + CONFIG_LINE_MAX + 10, "\n", 2);
	path = write_file("long.conf", content);
	free(content);
	config_defaults(&c);
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:2: line too long", path);
	CHECK(strncmp(err, want, strlen(want)) == 0, "got '%s', want '%s'", err, want);
	config_free(&c);
}

/* test_unreadable - a missing file and a directory name the path and the reason */
static void
test_unreadable(void **state)
{
	struct config c;
	char err[1024], want[600];

	(void)state;
	config_defaults(&c);
	snprintf(want, sizeof(want), "%s/missing.conf", tmpdir);
	assert_int_equal(config_load_file(&c, want, err, sizeof(err)), -1);
	strlcat(want, ": cannot open: No such file or directory", sizeof(want));
	assert_string_equal(err, want);

	assert_int_equal(config_load_file(&c, tmpdir, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: cannot open: is a directory", tmpdir);
	assert_string_equal(err, want);
	config_free(&c);
	config_free(NULL);
}

/* test_good_file - globals, comments, quotes and two listener sections */
static void
test_good_file(void **state)
{
	static const char content[] = "# relaytrap test configuration\n"
	                              "sensor = sensor-7\n"
	                              "  hostname = \"mx1.example.net\"   # the banner name\n"
	                              "domain=example.net\n"
	                              "netbios = MX1\n"
	                              "max_rcpts = 50\n"
	                              "max_message_size = 10M\n"
	                              "idle_timeout = 90s\n"
	                              "delay_reply = 0\n"
	                              "proxy_from = 10.0.0.0/8, 2001:db8::/32\n"
	                              "listen = 127.0.0.1:2525/postfix\n"
	                              "persona_dir = /opt/personas#1\n"
	                              "\n"
	                              "[listener smtp-main]\n"
	                              "address = 0.0.0.0\n"
	                              "port = 25\n"
	                              "\n"
	                              "[listener submission]\n"
	                              "address = [::1]\n"
	                              "port = 587\r\n"
	                              "persona = postfix\n"
	                              "proxy_protocol = yes\n";
	struct config c;
	char err[1024];
	const char *path;

	(void)state;
	path = write_file("good.conf", content);
	config_defaults(&c);
	err[0] = '\0';
	CHECK(config_load_file(&c, path, err, sizeof(err)) == 0, "got '%s', want success", err);
	assert_string_equal(c.file, path);
	assert_string_equal(c.sensor, "sensor-7");
	assert_string_equal(c.hostname, "mx1.example.net");
	assert_string_equal(c.domain, "example.net");
	assert_string_equal(c.netbios, "MX1");
	assert_string_equal(c.persona_dir, "/opt/personas#1");
	assert_int_equal(c.limits.max_rcpts, 50);
	assert_true(c.limits.max_message_size == 10 * MIB);
	assert_true(c.limits.idle_timeout_ms == 90000);
	assert_int_equal(c.delay_reply_ms, 0);
	assert_int_equal(c.nproxy_from, 2);
	assert_int_equal(c.nlisteners, 3);
	assert_string_equal(c.listeners[0].name, "smtp");
	assert_string_equal(c.listeners[0].persona, "postfix");
	assert_string_equal(c.listeners[1].name, "smtp-main");
	assert_string_equal(c.listeners[1].address, "0.0.0.0");
	assert_int_equal(c.listeners[1].port, 25);
	assert_string_equal(c.listeners[1].persona, "");
	assert_false(c.listeners[1].proxy_protocol);
	assert_string_equal(c.listeners[2].name, "submission");
	assert_string_equal(c.listeners[2].address, "::1");
	assert_int_equal(c.listeners[2].port, 587);
	assert_string_equal(c.listeners[2].persona, "postfix");
	assert_true(c.listeners[2].proxy_protocol);
	CHECK(config_check(&c, err, sizeof(err)) == 0, "config_check: got '%s'", err);

	/* A second file read over the first keeps its values and replaces the file name. */
	path = write_file("over.conf", "max_rcpts = 7\n");
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.limits.max_rcpts, 7);
	assert_true(c.limits.max_message_size == 10 * MIB);
	assert_string_equal(c.file, path);
	config_free(&c);
	assert_null(c.file);
}

/* test_check - cross checks run after every source was applied */
static void
test_check(void **state)
{
	struct config c;
	char err[512];
	const char *path;

	(void)state;
	path = write_file("pp.conf", "[listener front]\nport = 25\nproxy_protocol = yes\n");
	config_defaults(&c);
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), 0);
	assert_int_equal(config_check(&c, err, sizeof(err)), -1);
	CHECK(strstr(err, "listener 'front' has proxy_protocol = yes but no proxy_from") != NULL &&
	          strstr(err, "add proxy_from =") != NULL,
	      "got '%s'", err);
	assert_int_equal(config_set(&c, "proxy_from", "10.0.0.5", err, sizeof(err)), 0);
	assert_int_equal(config_check(&c, err, sizeof(err)), 0);

	/* A listener struct edited by hand is still checked for clashes. */
	c.listeners[c.nlisteners] = c.listeners[0];
	strlcpy(c.listeners[c.nlisteners].name, "copy", sizeof(c.listeners[0].name));
	c.nlisteners++;
	assert_int_equal(config_check(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "duplicate listener: 'copy'"));
	c.nlisteners--;

	c.limits.line_max = 100;
	assert_int_equal(config_check(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "line_max must be between 512 and 1048576");
	config_free(&c);

	/* A body cap above the message cap is allowed: every message is simply stored whole. */
	config_defaults(&c);
	assert_int_equal(config_set(&c, "store_body_max", "64M", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "max_message_size", "1M", err, sizeof(err)), 0);
	assert_int_equal(config_check(&c, err, sizeof(err)), 0);
	config_free(&c);
}

/* run_check - cmd_check_config with stdout and stderr captured into files */
static int
run_check(char **argv, int argc, char *out, size_t outlen, char *errout, size_t errlen)
{
	char opath[512], epath[512];
	int saved_out, saved_err, fo, fe, rc;
	FILE *f;
	size_t n;

	snprintf(opath, sizeof(opath), "%s/stdout", tmpdir);
	snprintf(epath, sizeof(epath), "%s/stderr", tmpdir);
	fflush(stdout);
	fflush(stderr);
	saved_out = dup(1);
	saved_err = dup(2);
	fo = open(opath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	fe = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved_out >= 0 && saved_err >= 0 && fo >= 0 && fe >= 0);
	dup2(fo, 1);
	dup2(fe, 2);
	rc = cmd_check_config(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	close(fo);
	close(fe);
	f = fopen(opath, "r");
	assert_non_null(f);
	n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
	fclose(f);
	f = fopen(epath, "r");
	assert_non_null(f);
	n = fread(errout, 1, errlen - 1, f);
	errout[n] = '\0';
	fclose(f);
	return rc;
}

/* test_cmd_check_config - exit codes and output of the subcommand */
static void
test_cmd_check_config(void **state)
{
	char out[4096], err[4096], want[600], path[512];
	char *argv_ok[] = {"check-config", "-c", path, NULL};
	char *argv_long[] = {"check-config", "--config", path, NULL};
	char *argv_help[] = {"check-config", "--help", NULL};
	char *argv_extra[] = {"check-config", "-c", path, "extra", NULL};
	int rc;

	(void)state;
	strlcpy(path,
	        write_file("cli-good.conf", "[listener a]\naddress = 127.0.0.1\nport = 2525\n"
	                                    "[listener b]\naddress = ::1\nport = 2525\n"
	                                    "persona = postfix\n"),
	        sizeof(path));
	rc = run_check(argv_ok, 3, out, sizeof(out), err, sizeof(err));
	CHECK(rc == 0, "good file: got exit %d (stderr '%s'), want 0", rc, err);
	snprintf(want, sizeof(want), "%s: OK\n", path);
	CHECK(strncmp(out, want, strlen(want)) == 0, "got '%s', want it to start with '%s'", out,
	      want);
	assert_non_null(strstr(out, "127.0.0.1:2525 persona exchange2000"));
	assert_non_null(strstr(out, "[::1]:2525 persona postfix"));
	assert_non_null(strstr(out, "data dir: "));
	assert_string_equal(err, "");

	rc = run_check(argv_long, 3, out, sizeof(out), err, sizeof(err));
	assert_int_equal(rc, 0);

	strlcpy(path, write_file("cli-bad.conf", "max_rcpts = 5\nmax_rcpt = 5\n"), sizeof(path));
	rc = run_check(argv_ok, 3, out, sizeof(out), err, sizeof(err));
	assert_int_equal(rc, 2);
	snprintf(want, sizeof(want), "%s:2: unknown key 'max_rcpt' (did you mean 'max_rcpts'?)\n",
	         path);
	assert_string_equal(err, want);
	assert_string_equal(out, "");

	strlcpy(path, write_file("cli-pp.conf", "[listener a]\nport = 25\nproxy_protocol = on\n"),
	        sizeof(path));
	rc = run_check(argv_ok, 3, out, sizeof(out), err, sizeof(err));
	assert_int_equal(rc, 2);
	snprintf(want, sizeof(want), "%s: listener 'a' has proxy_protocol", path);
	CHECK(strncmp(err, want, strlen(want)) == 0, "got '%s', want '%s'", err, want);

	rc = run_check(argv_help, 2, out, sizeof(out), err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "usage: relaytrap check-config [-c FILE] [--help]"));

	rc = run_check(argv_extra, 4, out, sizeof(out), err, sizeof(err));
	assert_int_equal(rc, 2);
	assert_non_null(strstr(err, "unexpected argument 'extra'"));
}

/*
 * source_path - a file of the source tree. Meson compiles with __FILE__ relative to the build
 * directory, which is the parent of the directory holding this test binary.
 */
static void
source_path(const char *rel, char *out, size_t outlen)
{
	char dir[512], exe[512], *slash;
	ssize_t n;
	int w;

	strlcpy(dir, __FILE__, sizeof(dir));
	slash = strrchr(dir, '/');
	assert_non_null(slash);
	*slash = '\0';
	if (dir[0] == '/') {
		w = snprintf(out, outlen, "%s/../../%s", dir, rel);
		assert_true(w > 0 && (size_t)w < outlen);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	assert_non_null(slash);
	*slash = '\0';
	w = snprintf(out, outlen, "%s/../%s/../../%s", exe, dir, rel);
	assert_true(w > 0 && (size_t)w < outlen);
}

/* test_shipped_example - contrib/relaytrap.conf, the documented example, passes check-config */
static void
test_shipped_example(void **state)
{
	char path[1024], out[4096], err[4096];
	char *argv[] = {"check-config", "-c", path, NULL};
	int rc;

	(void)state;
	source_path("contrib/relaytrap.conf", path, sizeof(path));
	rc = run_check(argv, 3, out, sizeof(out), err, sizeof(err));
	CHECK(rc == 0, "%s: got exit %d with '%s', want 0", path, rc, err);
	assert_non_null(strstr(out, ": OK\n"));
	assert_non_null(strstr(out, "submission"));
}

/* setup - a private temp dir for the config files */
static int
setup(void **state)
{
	const char *dir = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
	int n;

	(void)state;
	n = snprintf(tmpdir, sizeof(tmpdir), "%s/rt-config-", dir);
	if (n < 0 || (size_t)n + 7 > sizeof(tmpdir))
		return -1;
	/* mkdtemp wants a template ending in six 'X' characters, which it replaces. */
	memset(tmpdir + n, 'X', 6);
	tmpdir[n + 6] = '\0';
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

/* teardown - remove the temp dir and what the tests wrote into it */
static int
teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* main - run every config test in one group with a private temp dir */
int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_data_dir_xdg),
	    cmocka_unit_test(test_set_good),
	    cmocka_unit_test(test_set_bad),
	    cmocka_unit_test(test_every_key_covered),
	    cmocka_unit_test(test_listen_good),
	    cmocka_unit_test(test_listen_bad),
	    cmocka_unit_test(test_listen_names_and_overlaps),
	    cmocka_unit_test(test_cidr_parse),
	    cmocka_unit_test(test_cidr_match),
	    cmocka_unit_test(test_proxy_from_lists),
	    cmocka_unit_test(test_bad_files),
	    cmocka_unit_test(test_long_line),
	    cmocka_unit_test(test_unreadable),
	    cmocka_unit_test(test_good_file),
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_cmd_check_config),
	    cmocka_unit_test(test_shipped_example),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
