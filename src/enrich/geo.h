/* SPDX-License-Identifier: ISC */
/*
 * geo - where a source address is (country, region, city, coordinates) and who routes it (ASN).
 *
 * Owns: struct geo, the set of open databases: libmaxminddb handles (.mmdb, memory-mapped) and
 *       relaytrap ASN range files (.rtasn, memory-mapped, see docs/enrichment.md).
 * Public: geo_new, geo_add, geo_open_config, geo_free, geo_count, geo_info, geo_log_summary,
 *         geo_lookup, geo_lookup_str, geo_asn_build, geo_country_name.
 *
 * Open the databases once, before privileges are dropped (the maps stay valid after chroot);
 * then geo_lookup answers from memory: no allocation, no I/O, no threads, no locks.
 *
 * Schemas understood (detected per file by probing the keys of a stored record):
 *   MaxMind City/Country (GeoLite2, GeoIP2, DB-IP lite): country.iso_code, country.names.en,
 *     subdivisions[0].names.en, city.names.en, location.latitude/longitude
 *     (registered_country when country is absent);
 *   ip-location-db city (flat): country_code, state1, city, latitude, longitude;
 *   ASN (MaxMind GeoLite2-ASN and ip-location-db): autonomous_system_number,
 *     autonomous_system_organization;
 *   .rtasn files built by geo_asn_build from ip-location-db's ASN CSV ranges.
 *
 * Limits: at most GEO_MAX_DBS files; result strings are cut to their buffers at a UTF-8
 * character boundary and cleaned (control bytes and invalid UTF-8 become '?'), so a result is
 * safe for a terminal, a log line and the JSON writer as it is.
 */
#ifndef RT_GEO_H
#define RT_GEO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define GEO_MAX_DBS 16

/* What a configured file is expected to answer (the config key it came from). */
enum geo_kind { GEO_KIND_CITY, GEO_KIND_ASN };

/* What one lookup learned; every field empty/0/false when unknown. */
struct geo_result {
	char country_code[3]; /* ISO 3166-1 alpha-2, "TW" */
	char country[64];     /* English name, "Taiwan" */
	char region[128];     /* first subdivision, "Taipei City" */
	char city[128];       /* "Taipei" */
	double latitude, longitude;
	bool has_location; /* latitude/longitude are set */
	uint32_t asn;      /* 0 = unknown */
	char as_org[192];  /* "Chunghwa Telecom Co., Ltd." */
	char geo_db[64]; /* the databases that answered, '+'-joined: "GeoLite2-City+GeoLite2-ASN" */
	bool found_location; /* a city/country database had an entry */
	bool found_asn;      /* an ASN database had an entry */
};

/* One open database, for `relaytrap geo --list` and the start-up log. */
struct geo_info {
	const char *path;
	const char *name;   /* database_type from the metadata, or the .rtasn source name */
	const char *schema; /* "maxmind-city", "flat-city", "asn", "rtasn" */
	enum geo_kind kind; /* the key it was configured under */
	int ip_version;     /* 4 = IPv4 only, 6 = IPv6 (and IPv4) */
	uint64_t build_epoch;
	uint64_t entries; /* search tree nodes (.mmdb) or ranges (.rtasn) */
};

struct geo;

/* geo_new - an empty set (lookups find nothing); NULL when out of memory */
struct geo *geo_new(void);
/* geo_add - open one .mmdb or .rtasn file (detected from its content) and add it after those
 * already added (earlier files answer first). 0, or -1 with "PATH: why (fix)" in err. */
int geo_add(struct geo *g, enum geo_kind kind, const char *path, char *err, size_t errlen);
/*
 * geo_open_config - the databases a configuration names. Each spec is
 *   ""      automatic: the known file names under DATA_DIR/geoip/ and /var/lib/GeoIP/ that
 *           exist (none existing is fine);
 *   "none"  no database of this kind;
 *   "A,B"   these files, in this order; each must open.
 * On success *out is a set (possibly without any database) the caller frees with geo_free.
 * On error: -1 with "geoip_city_db: PATH: why (fix)" in err and *out NULL.
 */
int geo_open_config(struct geo **out, const char *city_spec, const char *asn_spec,
                    const char *data_dir, char *err, size_t errlen);
/* geo_free - close every database and free the set; NULL is a no-op */
void geo_free(struct geo *g);
/* geo_count - how many databases are open */
size_t geo_count(const struct geo *g);
/* geo_info - describe database i (0 .. geo_count-1); 0 or -1 past the end. The strings
 * belong to the set and live until geo_free. */
int geo_info(const struct geo *g, size_t i, struct geo_info *info);
/* geo_log_summary - one log line naming the open databases, or saying there are none */
void geo_log_summary(const struct geo *g);

/* geo_lookup - look the address up (IPv4, IPv6, IPv4-mapped IPv6 is treated as IPv4) in every
 * database until the location and the ASN are known. Returns 1 when something was found,
 * 0 when nothing was, -1 when sa is not AF_INET/AF_INET6. res is always reset first. */
int geo_lookup(const struct geo *g, const struct sockaddr *sa, struct geo_result *res);
/* geo_lookup_str - as geo_lookup for a numeric address ("118.165.91.55", "2001:db8::1");
 * -1 when ip is not one */
int geo_lookup_str(const struct geo *g, const char *ip, struct geo_result *res);

/* Counts from building an ASN range file. */
struct geo_asn_stats {
	uint64_t lines;    /* data lines read */
	uint64_t v4, v6;   /* ranges written */
	uint64_t merged;   /* adjacent ranges of the same AS joined */
	uint64_t overlaps; /* ranges dropped because an earlier one covered their start */
	uint64_t orgs;     /* distinct organisation names */
	uint64_t bytes;    /* size of the file written */
};

/*
 * geo_asn_build - turn CSV files of "start,end,asn,organisation" ranges (ip-location-db's
 * asn-ipv4.csv / asn-ipv6.csv: textual addresses, inclusive ends, the organisation possibly
 * "quoted") into one .rtasn file at out (written to out.tmp, then renamed). source names the
 * data in the file ("ip-location-db"). 0, or -1 with "FILE:LINE: why" in err.
 */
int geo_asn_build(const char *out, const char *const *csv, size_t ncsv, const char *source,
                  struct geo_asn_stats *st, char *err, size_t errlen);

/* geo_country_name - English short name of an ISO 3166-1 alpha-2 code ("TW" -> "Taiwan"),
 * NULL when unknown */
const char *geo_country_name(const char *cc);

#endif
