/* SPDX-License-Identifier: ISC */
/*
 * geo - "relaytrap geo": what the GeoIP databases say about addresses, which databases are
 * open, and building an ASN range file from CSV.
 *
 * Owns: nothing beyond the call.
 * Public: cmd_geo (declared in cmd/cmd.h).
 * Limits: addresses are numeric only (no DNS); output strings come cleaned from geo_lookup.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cmd/cmd.h"
#include "core/config.h"
#include "core/str.h"
#include "enrich/geo.h"

/* geo_usage - the geo help text */
static void
geo_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: relaytrap geo [-c FILE] [--data-dir DIR] [--city-db F[,F]] [--asn-db F[,F]]\n"
	    "                     [--json] IP...\n"
	    "       relaytrap geo [-c FILE] [--data-dir DIR] [--city-db ...] [--asn-db ...] "
	    "--list\n"
	    "       relaytrap geo --build-asn OUT.rtasn [--source NAME] CSV...\n\n"
	    "Look addresses up in the GeoIP databases relaytrap serve would use and print\n"
	    "country, region, city, coordinates, AS number and organisation, one line per\n"
	    "address (or one JSON object per line with --json, fields as in the\n"
	    "relaytrap.enrich event's geo part).\n\n"
	    "options:\n"
	    "  -c, --config FILE   read geoip_city_db, geoip_asn_db and data_dir from FILE\n"
	    "  -d, --data-dir DIR  look for automatic databases under DIR/geoip\n"
	    "      --city-db F     city databases (.mmdb, comma-separated; 'none' for none)\n"
	    "      --asn-db F      ASN databases (.mmdb or .rtasn; 'none' for none)\n"
	    "  -j, --json          JSON lines instead of text\n"
	    "  -l, --list          list the databases that would answer, then exit\n"
	    "      --build-asn OUT build OUT.rtasn from ip-location-db ASN CSV files\n"
	    "                      (asn-ipv4.csv, asn-ipv6.csv) and print what it holds\n"
	    "      --source NAME   the data's name stored in OUT (default ip-location-db)\n"
	    "  -h, --help          print this help\n\n"
	    "Without a database setting, the files under DATA_DIR/geoip/ and /var/lib/GeoIP/\n"
	    "that exist are used ('make geoip' fetches free ones). Exit status: 0 every\n"
	    "address was looked up (found or not), 1 a database could not be used,\n"
	    "2 a usage error or an argument that is not an IP address.\n"
	    "See relaytrap(8) and docs/enrichment.md.\n");
}

/* print_text - one line: "IP: City, Region, CC (Country); lat,lon; ASn org; [db]" */
static void
print_text(const char *ip, const struct geo_result *r)
{
	const char *parts[3] = {r->city, r->region, r->country_code};
	bool any = false;
	size_t i;

	printf("%s:", ip);
	if (!r->found_location && !r->found_asn) {
		printf(" not found\n");
		return;
	}
	if (r->found_location) {
		printf(" ");
		for (i = 0; i < 3; i++) {
			if (parts[i][0] == '\0')
				continue;
			printf("%s%s", any ? ", " : "", parts[i]);
			any = true;
		}
		if (r->country[0] != '\0')
			printf("%s(%s)", any ? " " : "", r->country);
		if (r->has_location)
			printf("; %.4f,%.4f", r->latitude, r->longitude);
		printf(";");
	}
	if (r->found_asn)
		printf(" AS%u%s%s;", r->asn, r->as_org[0] != '\0' ? " " : "", r->as_org);
	printf(" [%s]\n", r->geo_db);
}

/* print_json - one JSON object with the relaytrap.enrich geo field names */
static int
print_json(const char *ip, const struct geo_result *r)
{
	struct jw w;
	char num[32];
	int rc = 0;

	jw_init(&w);
	jw_obj_open(&w);
	jw_key_str(&w, "ip", ip);
	jw_key_bool(&w, "found", r->found_location || r->found_asn);
	if (r->country_code[0] != '\0')
		jw_key_str(&w, "country_code", r->country_code);
	if (r->country[0] != '\0')
		jw_key_str(&w, "country", r->country);
	if (r->region[0] != '\0')
		jw_key_str(&w, "region", r->region);
	if (r->city[0] != '\0')
		jw_key_str(&w, "city", r->city);
	if (r->has_location) {
		/* numbers, not strings; six decimals is about 10 cm, more than any database knows
		 */
		snprintf(num, sizeof(num), "\"latitude\":%.6f", r->latitude);
		jw_fields(&w, num, strlen(num));
		snprintf(num, sizeof(num), "\"longitude\":%.6f", r->longitude);
		jw_fields(&w, num, strlen(num));
	}
	if (r->found_asn) {
		jw_key_uint(&w, "asn", r->asn);
		if (r->as_org[0] != '\0')
			jw_key_str(&w, "as_org", r->as_org);
	}
	if (r->geo_db[0] != '\0')
		jw_key_str(&w, "geo_db", r->geo_db);
	jw_obj_close(&w);
	if (w.oom)
		rc = -1;
	else
		printf("%.*s\n", (int)w.len, w.buf);
	jw_free(&w);
	return rc;
}

/* list_dbs - one line per open database */
static void
list_dbs(const struct geo *g)
{
	struct geo_info in;
	char built[32];
	size_t i;
	time_t t;
	struct tm tm;

	if (geo_count(g) == 0) {
		printf("no GeoIP database (set geoip_city_db/geoip_asn_db, or run 'make geoip')\n");
		return;
	}
	for (i = 0; geo_info(g, i, &in) == 0; i++) {
		t = (time_t)in.build_epoch;
		if (gmtime_r(&t, &tm) == NULL ||
		    strftime(built, sizeof(built), "%Y-%m-%d", &tm) == 0)
			snprintf(built, sizeof(built), "?");
		printf("%-4s %-14s %-12s IPv%d built %s, %llu %s  %s\n",
		       in.kind == GEO_KIND_CITY ? "city" : "asn", in.name, in.schema, in.ip_version,
		       built, (unsigned long long)in.entries,
		       strcmp(in.schema, "rtasn") == 0 ? "ranges" : "nodes", in.path);
	}
}

/* build_asn - the --build-asn mode */
static int
build_asn(const char *out, const char *source, int n, char **csv)
{
	struct geo_asn_stats st;
	char err[1024];

	if (n == 0) {
		fprintf(stderr, "relaytrap geo: --build-asn needs CSV files (asn-ipv4.csv "
		                "asn-ipv6.csv)\n");
		return 2;
	}
	if (geo_asn_build(out, (const char *const *)csv, (size_t)n, source, &st, err,
	                  sizeof(err)) == -1) {
		fprintf(stderr, "relaytrap geo: %s\n", err);
		return 1;
	}
	printf("%s: %llu IPv4 and %llu IPv6 ranges, %llu organisations, %llu bytes "
	       "(%llu lines read, %llu adjacent ranges joined, %llu overlapping dropped)\n",
	       out, (unsigned long long)st.v4, (unsigned long long)st.v6,
	       (unsigned long long)st.orgs, (unsigned long long)st.bytes,
	       (unsigned long long)st.lines, (unsigned long long)st.merged,
	       (unsigned long long)st.overlaps);
	return 0;
}

/* cmd_geo - the geo subcommand */
int
cmd_geo(int argc, char **argv)
{
	enum { OPT_CITY = 256, OPT_ASN, OPT_BUILD, OPT_SOURCE };
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"data-dir", required_argument, NULL, 'd'},
	    {"city-db", required_argument, NULL, OPT_CITY},
	    {"asn-db", required_argument, NULL, OPT_ASN},
	    {"json", no_argument, NULL, 'j'},
	    {"list", no_argument, NULL, 'l'},
	    {"build-asn", required_argument, NULL, OPT_BUILD},
	    {"source", required_argument, NULL, OPT_SOURCE},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct config cfg;
	struct geo_result r;
	struct geo *g = NULL;
	const char *cfile = NULL, *build = NULL, *source = NULL;
	char err[1024];
	bool json = false, list = false;
	int ch, i, rc = 2;

	config_defaults(&cfg);
	/* Tests call this more than once in one process, so getopt starts over every time. */
	optind = 0;
	opterr = 1;
	while ((ch = getopt_long(argc, argv, "c:d:jlh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cfile = optarg;
			if (config_load_file(&cfg, cfile, err, sizeof(err)) == -1) {
				fprintf(stderr, "%s\n", err);
				goto out;
			}
			break;
		case 'd':
			if (config_set(&cfg, "data_dir", optarg, err, sizeof(err)) == -1)
				goto bad_option;
			break;
		case OPT_CITY:
			if (config_set(&cfg, "geoip_city_db", optarg, err, sizeof(err)) == -1)
				goto bad_option;
			break;
		case OPT_ASN:
			if (config_set(&cfg, "geoip_asn_db", optarg, err, sizeof(err)) == -1)
				goto bad_option;
			break;
		case 'j':
			json = true;
			break;
		case 'l':
			list = true;
			break;
		case OPT_BUILD:
			build = optarg;
			break;
		case OPT_SOURCE:
			source = optarg;
			break;
		case 'h':
			geo_usage(stdout);
			rc = 0;
			goto out;
		default:
			geo_usage(stderr);
			goto out;
		}
	}
	if (build != NULL) {
		rc = build_asn(build, source, argc - optind, argv + optind);
		goto out;
	}
	if (!list && optind == argc) {
		fprintf(stderr, "relaytrap geo: give one or more IP addresses, or --list "
		                "(see --help)\n");
		goto out;
	}
	if (geo_open_config(&g, cfg.geoip_city_db, cfg.geoip_asn_db, cfg.data_dir, err,
	                    sizeof(err)) == -1) {
		fprintf(stderr, "relaytrap geo: %s%s%s\n", cfile != NULL ? cfile : "",
		        cfile != NULL ? ": " : "", err);
		rc = 1;
		goto out;
	}
	if (list) {
		list_dbs(g);
		rc = 0;
		goto out;
	}
	if (geo_count(g) == 0) {
		fprintf(stderr,
		        "relaytrap geo: no GeoIP database under %.200s/geoip or /var/lib/GeoIP "
		        "(run 'make geoip', or pass --city-db/--asn-db)\n",
		        cfg.data_dir);
		rc = 1;
		goto out;
	}
	rc = 0;
	for (i = optind; i < argc; i++) {
		if (geo_lookup_str(g, argv[i], &r) == -1) {
			char e[80];

			fprintf(stderr, "relaytrap geo: '%s' is not an IP address\n",
			        str_escape_log(argv[i], strlen(argv[i]), e, sizeof(e)));
			rc = 2;
			continue;
		}
		if (json) {
			if (print_json(argv[i], &r) == -1) {
				fprintf(stderr, "relaytrap geo: out of memory\n");
				rc = 1;
			}
		} else {
			print_text(argv[i], &r);
		}
	}
	fflush(stdout);
	goto out;
bad_option:
	fprintf(stderr, "relaytrap geo: %s\n", err);
out:
	geo_free(g);
	config_free(&cfg);
	return rc;
}
