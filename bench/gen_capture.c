/* SPDX-License-Identifier: ISC */
/*
 * bench/gen_capture - write a realistic relaytrap capture (events.jsonl, docs/events.md) of N
 * sessions, fast enough for a million (the C twin of bench/gen_capture.py: same event mix,
 * fields and field order, same populations and campaigns; not the same bytes).
 *
 *   build/gen_capture [-n SESSIONS] [-o FILE] [--days 30] [--ips 50000] [--seed 1]
 *                     [--start 2026-10-01] [--sensors 3] [--no-enrich]
 *
 * Deterministic for a given --seed. Sessions are written one after another in start-time order,
 * each as the exchange2000 persona and the store would log it: connect, banner, the client's
 * commands and the replies, helo/mail/rcpt/message/auth/signal/limit events, session.closed, and
 * the enrichment results (one event per session with geo, os, rdns, dnsbl, helo) where they land
 * live. Kinds (shares as in the Python generator): scan 40%, helo 18%, spam 18%, probe 4%, auth
 * 10%, recon 6%, harvest 4%. Prints one summary line to stderr. Limits: --sessions up to
 * 100,000,000; memory is 16 bytes per planned session plus the hosts.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <zlib.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define BAD_MAX 10
#define PACK_BODY_MAX (64 * 1024)
#define PENDING_MAX 32
#define SESSIONS_MAX 100000000L

/* --- random numbers (xoshiro256**, seeded by splitmix64) ----------------------------------- */

static uint64_t rs[4];

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
rnext(void)
{
	uint64_t r = rotl(rs[1] * 5, 7) * 9, t = rs[1] << 17;

	rs[2] ^= rs[0];
	rs[3] ^= rs[1];
	rs[1] ^= rs[2];
	rs[0] ^= rs[3];
	rs[2] ^= t;
	rs[3] = rotl(rs[3], 45);
	return r;
}

static void
reseed(uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++) {
		uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		rs[i] = z ^ (z >> 31);
	}
}

/* rnd - uniform in [0, 1) */
static double
rnd(void)
{
	return (double)(rnext() >> 11) * 0x1.0p-53;
}

/* ri - uniform integer in [a, b] */
static long
ri(long a, long b)
{
	return a + (long)(rnd() * (double)(b - a + 1));
}

#define PICK(arr) ((arr)[ri(0, (long)ARRAY_LEN(arr) - 1)])

/* --- data: the same tables as gen_capture.py ------------------------------------------------ */

struct sensor {
	const char *name, *host, *netbios, *ip;
};
static const struct sensor SENSORS[] = {
    {"pt-lis-1", "bps-pc9.local.mynet", "BPS-PC9", "82.155.248.223"},
    {"de-fra-1", "mail01.corp.ironbridge-logistics.com", "MAIL01", "195.201.44.17"},
    {"us-nyc-1", "exch1.midland-printing.com", "EXCH1", "159.203.77.210"},
    {"sg-sin-1", "mx03.corp.brightwayfreight.org", "MX03", "128.199.160.41"},
};

struct city {
	const char *name, *region;
	double lat, lon;
};
struct asn {
	int asn;
	const char *org;
};
struct country {
	const char *cc;
	int weight;
	const char *name;
	struct city cities[4];
	struct asn asns[3];
	int octets[8];
	double windows;
};
static const struct country GEO[] = {
    {"CN",
     22,
     "China",
     {{"Beijing", "Beijing", 39.9042, 116.4074},
      {"Shanghai", "Shanghai", 31.2304, 121.4737},
      {"Guangzhou", "Guangdong", 23.1291, 113.2644},
      {"Shenzhen", "Guangdong", 22.5431, 114.0579}},
     {{4134, "CHINANET-BACKBONE"}, {4837, "CHINA UNICOM China169 Backbone"}},
     {58, 61, 113, 117, 183, 218, 222},
     0.85},
    {"US",
     14,
     "United States",
     {{"Ashburn", "Virginia", 39.0438, -77.4874},
      {"Los Angeles", "California", 34.0522, -118.2437},
      {"New York", "New York", 40.7128, -74.006},
      {"Dallas", "Texas", 32.7767, -96.797}},
     {{16509, "AMAZON-02"}, {14061, "DIGITALOCEAN-ASN"}, {7922, "COMCAST-7922"}},
     {3, 23, 34, 45, 67, 104, 162, 198},
     0.35},
    {"BR",
     8,
     "Brazil",
     {{"Sao Paulo", "Sao Paulo", -23.5505, -46.6333},
      {"Rio de Janeiro", "Rio de Janeiro", -22.9068, -43.1729}},
     {{28573, "Claro NXT Telecomunicacoes Ltda"}, {18881, "TELEFONICA BRASIL S.A"}},
     {177, 179, 186, 187, 189, 201},
     0.9},
    {"RU",
     7,
     "Russia",
     {{"Moscow", "Moscow", 55.7558, 37.6173},
      {"Saint Petersburg", "Saint Petersburg", 59.9311, 30.3609}},
     {{12389, "PJSC Rostelecom"}, {8359, "MTS PJSC"}},
     {5, 31, 46, 77, 95, 178},
     0.8},
    {"IN",
     7,
     "India",
     {{"Mumbai", "Maharashtra", 19.076, 72.8777},
      {"New Delhi", "Delhi", 28.6139, 77.209},
      {"Bengaluru", "Karnataka", 12.9716, 77.5946}},
     {{9829, "National Internet Backbone"}, {45609, "Bharti Airtel Ltd."}},
     {14, 27, 49, 59, 117, 182},
     0.9},
    {"VN",
     6,
     "Vietnam",
     {{"Hanoi", "Hanoi", 21.0278, 105.8342},
      {"Ho Chi Minh City", "Ho Chi Minh", 10.8231, 106.6297}},
     {{45899, "VNPT Corp"}, {7552, "Viettel Group"}},
     {14, 27, 113, 115, 171},
     0.95},
    {"TW",
     5,
     "Taiwan",
     {{"Taipei", "Taipei City", 25.033, 121.5654},
      {"Hualien", "Hualien County", 23.9872, 121.6015},
      {"Taichung", "Taichung City", 24.1477, 120.6736},
      {"Kaohsiung", "Kaohsiung City", 22.6273, 120.3014}},
     {{3462, "Data Communication Business Group"}},
     {1, 36, 59, 61, 114, 118, 124, 219},
     0.95},
    {"KR",
     4,
     "South Korea",
     {{"Seoul", "Seoul", 37.5665, 126.978}},
     {{4766, "Korea Telecom"}, {9318, "SK Broadband Co Ltd"}},
     {1, 59, 112, 121, 175},
     0.9},
    {"DE",
     4,
     "Germany",
     {{"Frankfurt am Main", "Hesse", 50.1109, 8.6821}, {"Berlin", "Land Berlin", 52.52, 13.405}},
     {{24940, "Hetzner Online GmbH"}, {3320, "Deutsche Telekom AG"}},
     {46, 78, 88, 91, 136, 176},
     0.3},
    {"NL",
     3,
     "Netherlands",
     {{"Amsterdam", "North Holland", 52.3676, 4.9041}},
     {{202425, "IP Volume inc"}, {49981, "WorldStream B.V."}},
     {37, 80, 89, 185, 193},
     0.2},
    {"ID",
     3,
     "Indonesia",
     {{"Jakarta", "Jakarta", -6.2088, 106.8456}},
     {{7713, "PT Telekomunikasi Indonesia"}},
     {36, 110, 114, 180, 202},
     0.95},
    {"TR",
     2,
     "Turkey",
     {{"Istanbul", "Istanbul", 41.0082, 28.9784}},
     {{9121, "Turk Telekom"}},
     {78, 85, 88, 176},
     0.9},
    {"UA",
     2,
     "Ukraine",
     {{"Kyiv", "Kyiv City", 50.4501, 30.5234}},
     {{15895, "Kyivstar PJSC"}},
     {46, 91, 93, 176},
     0.8},
    {"PT",
     1,
     "Portugal",
     {{"Lisbon", "Lisbon", 38.7223, -9.1393}, {"Porto", "Porto", 41.1579, -8.6291}},
     {{3243, "MEO - SERVICOS DE COMUNICACOES E MULTIMEDIA S.A."}},
     {2, 82, 85, 89},
     0.9},
    {"PL",
     2,
     "Poland",
     {{"Warsaw", "Mazovia", 52.2297, 21.0122}},
     {{5617, "Orange Polska Spolka Akcyjna"}},
     {31, 83, 89, 178},
     0.9},
    {"AR",
     2,
     "Argentina",
     {{"Buenos Aires", "Buenos Aires F.D.", -34.6037, -58.3816}},
     {{7303, "Telecom Argentina S.A."}},
     {181, 186, 190, 200},
     0.9},
};

static const char *const SEED_RELAY_IPS[] = {"118.165.91.55",  "219.86.32.1",  "124.11.193.219",
                                             "124.11.192.173", "114.44.42.34", "114.44.43.87"};

struct zone {
	const char *zone, *code, *meaning;
};
static const struct zone DNSBL_ZONES[] = {
    {"zen.spamhaus.org", "127.0.0.4", "XBL: exploited host"},
    {"bl.spamcop.net", "127.0.0.2", "listed"},
    {"b.barracudacentral.org", "127.0.0.2", "listed"},
    {"dnsbl.sorbs.net", "127.0.0.10", "dynamic IP space"},
};

struct osfam {
	const char *name, *flavor, *sig;
	double w;
};
static const struct osfam WINDOWS[] = {
    {"Windows", "XP", "4:128+0:0:1460:65535,0:mss,nop,nop,sok:df,id+:0", 0.35},
    {"Windows", "7 or 8", "4:128+0:0:1460:8192,8:mss,nop,ws,nop,nop,sok:df,id+:0", 0.45},
    {"Windows", "NT kernel", "4:128+0:0:1460:64240,8:mss,nop,ws,nop,nop,sok:df,id+:0", 0.2},
};
static const struct osfam UNIXES[] = {
    {"Linux", "3.11 and newer", "4:64+0:0:1460:mss*20,7:mss,sok,ts,nop,ws:df,id+:0", 0.7},
    {"Linux", "2.2.x-3.x", "4:64+0:0:1460:mss*4,6:mss,sok,ts,nop,ws:df,id+:0", 0.2},
    {"FreeBSD", "9.x or newer", "4:64+0:0:1460:65535,6:mss,nop,ws,sok,ts:df,id+:0", 0.1},
};

static const char *const WORDS[] = {
    "alpha",  "amber",   "apex",    "arrow",   "atlas",  "aurora", "beacon",  "birch",   "blaze",
    "bloom",  "bolt",    "breeze",  "bright",  "brook",  "canyon", "cedar",   "cloud",   "coral",
    "crest",  "crystal", "dawn",    "delta",   "drift",  "eagle",  "echo",    "ember",   "falcon",
    "fern",   "flint",   "forest",  "frost",   "galaxy", "garnet", "glacier", "granite", "harbor",
    "hawk",   "haven",   "horizon", "iris",    "island", "ivory",  "jade",    "jasper",  "lagoon",
    "lark",   "laurel",  "lotus",   "lunar",   "maple",  "marble", "meadow",  "mesa",    "mist",
    "nebula", "nova",    "oak",     "ocean",   "onyx",   "orbit",  "pearl",   "pine",    "pixel",
    "planet", "prairie", "quartz",  "raven",   "reef",   "ridge",  "river",   "sage",    "sierra",
    "silver", "sky",     "solar",   "sparrow", "spruce", "star",   "stone",   "summit",  "sun",
    "swift",  "terra",   "thunder", "tide",    "timber", "topaz",  "trail",   "valley",  "vertex",
    "vista",  "willow",  "wind",    "zenith",
};
static const char *const FIRST[] = {
    "james",  "mary",  "john",  "linda",  "robert", "susan",  "michael", "karen",  "david", "lisa",
    "daniel", "nancy", "paul",  "sandra", "mark",   "ashley", "steven",  "kelly",  "kevin", "amy",
    "brian",  "anna",  "jason", "emma",   "ryan",   "olivia", "eric",    "sophia",
};
static const char *const LAST[] = {
    "smith",    "johnson", "brown",    "jones",  "miller",  "davis", "garcia", "wilson",
    "moore",    "taylor",  "anderson", "thomas", "jackson", "white", "harris", "martin",
    "thompson", "lee",     "walker",   "hall",   "allen",   "young", "king",   "wright",
};
static const char *const FREEMAIL[] = {
    "yahoo.com", "hotmail.com", "gmail.com",    "aol.com",   "msn.com",  "163.com",        "qq.com",
    "mail.ru",   "yandex.ru",   "yahoo.com.tw", "hinet.net", "sina.com", "rediffmail.com",
};
static const char *const TLDS[] = {"com", "net",    "org", "info", "biz", "ru",
                                   "cn",  "com.br", "in",  "tw",   "ws",  "cc"};
static const char *const XMAILERS[] = {
    "Microsoft Outlook Express 6.00.2900.2180",
    "Microsoft Outlook Express 6.00.2800.1158",
    "Microsoft Office Outlook 12.0",
    "The Bat! (v3.5.25) Professional",
    "Microsoft Windows Live Mail 14.0.8117.416",
    "Foxmail 6, 13, 102, 15 [cn]",
    "PHPMailer 5.2.1 (http://code.google.com/a/apache-extras.org/p/phpmailer/)",
    "Mozilla Thunderbird 1.5.0.9 (Windows/20061207)",
    "",
};
/* Templates: {n} {pct} {id} {d} {First} {first} {Last} {Word} {word} {TICK} {date} {city} {dom}
 * {tld}, filled by fill() */
static const char *const SPAM_SUBJECTS[] = {
    "Re: Your order #{n} has shipped",
    "{First}, your account will be suspended",
    "Viagra {pct}% off today only",
    "Replica Rolex from ${n}",
    "Invoice {id} from {Word} Ltd",
    "You have received a new fax ({d} pages)",
    "Make her happy tonight, {first}",
    "Payment confirmation {id}",
    "Urgent business proposal from {First} {Last}",
    "Lottery winner notification #{n}",
    "Your parcel {id} could not be delivered",
    "Cheap Microsoft Office 2007 - only ${n}",
    "Stock alert: {TICK} set to explode",
    "Dear friend",
    "RE: meeting on {date}",
    "Hot singles in {city} want to meet you",
    "Your PayPal account has been limited",
    "Important: verify your {Word} Bank account",
    "Fw: {Word} {Word} photos",
    "Work from home and earn ${n} a week",
    "{pct}% discount on Canadian pharmacy",
    "Re: {first}",
    "Get a degree in {d} weeks",
    "Your mailbox is almost full ({pct}%)",
    "Christmas sale: {Word} watches {pct}% off",
    "Loan approved: ${n},000",
    "Security alert for {first}@{dom}",
    "New voicemail from +{n}{n}",
};
static const char *const SPAM_BODIES[] = {
    "Hello,\r\n\r\nBest prices on the net! Visit http://{word}{d}.{tld}/?id={id} now.\r\n\r\n"
    "Unsubscribe: http://{word}{d}.{tld}/u/{id}\r\n",
    "Dear {First},\r\n\r\nWe are pleased to inform you that you have won {n} USD. Please reply "
    "with your full name and address to claim your prize.\r\n\r\nRegards,\r\n{First} {Last}\r\n",
    "Your account needs verification. Login here: http://{word}-secure.{tld}/login.php?u={id}"
    "\r\nFailure to do so will result in suspension.\r\n",
    "Hi,\r\n\r\nplease find the attached invoice {id}. Payment is due in {d} days.\r\n\r\n"
    "{First} {Last}\r\nAccounts department\r\n",
    "I am {First} {Last}, a bank manager. I have a business proposal of {n} million USD for "
    "you. Reply for details.\r\n",
    "<html><body><a href=\"http://{word}{d}.{tld}/\">Click here</a> for {pct}% off "
    "{Word} products.</body></html>\r\n",
};
static const char *const BOX_WEBSCAN[] = {"chkrelay88@yahoo.com.tw", "swscan.tw@hotmail.com",
                                          "relay.ok.2009@gmail.com"};
static const char *const BOX_BC[] = {"bc.check@163.com", "bcresult@qq.com",
                                     "mailcheck77@yahoo.com"};
static const char *const BOX_PROXY[] = {"proxycheck@mail.ru", "relaycheck.report@yandex.ru"};
static const char *const BOX_TEST[] = {"test4relay@hotmail.com", "spamtest.results@aol.com",
                                       "omar.test99@yahoo.com"};
static const char *const AUTH_USERS[] = {
    "admin",         "test",    "info",   "webmaster", "postmaster", "sales", "user",   "root",
    "administrator", "support", "office", "contact",   "mail",       "guest", "backup",
};
static const char *const AUTH_PASSWORDS[] = {
    "123456",  "password", "12345678",  "admin",      "qwerty",    "123456789",
    "1234",    "test",     "abc123",    "111111",     "password1", "admin123",
    "letmein", "welcome",  "changeme",  "P@ssw0rd",   "1q2w3e4r",  "000000",
    "mail",    "{user}",   "{user}123", "{user}2026",
};

#define EHLO_TAIL                                                                                  \
	"\r\n250-TURN\r\n250-ATRN\r\n250-SIZE\r\n250-ETRN\r\n250-PIPELINING\r\n250-DSN"            \
	"\r\n250-ENHANCEDSTATUSCODES\r\n250-8bitmime\r\n250-BINARYMIME\r\n250-CHUNKING"            \
	"\r\n250-VRFY\r\n250-X-EXPS GSSAPI NTLM LOGIN\r\n250-X-EXPS=LOGIN\r\n250-AUTH GSSAPI "     \
	"NTLM LOGIN\r\n250-AUTH=LOGIN\r\n250-X-LINK2STATE\r\n250-XEXCH50\r\n250 OK"
#define R_UNKNOWN "500 5.3.3 Unrecognized command"
#define R_AUTH_FAIL "535 5.7.3 Authentication unsuccessful"
#define R_DATA "354 Start mail input; end with <CRLF>.<CRLF>"
#define R_NOHELO "503 5.5.2 Send hello first"
#define R_RSET "250 2.0.0 Resetting"
#define R_NOOP "250 2.0.0 OK"
#define R_HELP                                                                                     \
	"214-This server supports the following commands:\r\n214 HELO EHLO STARTTLS RCPT DATA "    \
	"RSET MAIL QUIT HELP AUTH TURN ATRN ETRN BDAT VRFY"

/* --- output text ---------------------------------------------------------------------------- */

/* struct sb - a growing string */
struct sb {
	char *p;
	size_t len, cap;
};

static void
sb_grow(struct sb *b, size_t n)
{
	if (b->len + n + 1 <= b->cap)
		return;
	while (b->len + n + 1 > b->cap)
		b->cap = b->cap ? b->cap * 2 : 1024;
	b->p = realloc(b->p, b->cap);
	if (b->p == NULL) {
		fprintf(stderr, "gen_capture: out of memory\n");
		exit(1);
	}
}

static void
sb_put(struct sb *b, const char *s, size_t n)
{
	sb_grow(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_s(struct sb *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void sb_f(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
sb_f(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->p != NULL ? b->p + b->len : NULL, b->p != NULL ? b->cap - b->len : 0, fmt,
	              ap);
	va_end(ap);
	if (b->p == NULL || (size_t)n >= b->cap - b->len) {
		sb_grow(b, (size_t)n);
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/* sb_esc - a JSON string as Python's json encoder writes it: '"', '\', controls escaped */
static void
sb_esc(struct sb *b, const char *s)
{
	char u[8];

	sb_put(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			sb_put(b, e, 2);
		} else if (c == '\n') {
			sb_put(b, "\\n", 2);
		} else if (c == '\r') {
			sb_put(b, "\\r", 2);
		} else if (c == '\t') {
			sb_put(b, "\\t", 2);
		} else if (c < 0x20) {
			snprintf(u, sizeof(u), "\\u%04x", c);
			sb_put(b, u, 6);
		} else {
			sb_put(b, s, 1);
		}
	}
	sb_put(b, "\"", 1);
}

/* --- time ----------------------------------------------------------------------------------- */

static const char *const DAYS[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const MONTHS[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* ts - RFC 3339 UTC with microseconds; the minute's prefix is cached */
static const char *
ts(int64_t us, char *out)
{
	static int64_t cached_min = -1;
	static char prefix[24];
	int64_t sec = us / 1000000, min = sec / 60;
	struct tm tm;
	time_t t;

	if (min != cached_min) {
		t = (time_t)(min * 60);
		gmtime_r(&t, &tm);
		strftime(prefix, sizeof(prefix), "%Y-%m-%dT%H:%M:", &tm);
		cached_min = min;
	}
	snprintf(out, 40, "%s%02d.%06dZ", prefix, (int)(sec % 60), (int)(us % 1000000));
	return out;
}

/* banner_date - "Thu, 1 Oct 2026 00:14:24 +0000" */
static const char *
banner_date(int64_t us, char *out, size_t outlen)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, outlen, "%s, %d %s %d %02d:%02d:%02d +0000", DAYS[tm.tm_wday], tm.tm_mday,
	         MONTHS[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return out;
}

/* --- population ----------------------------------------------------------------------------- */

struct host {
	char ip[48];
	const struct country *c;
	char *geo, *os;  /* event bodies */
	unsigned listed; /* bit per DNSBL zone */
	char *ptr;       /* NULL: no PTR */
	bool windows;
};

struct pool {
	struct host **h;
	double *cum;
	size_t n;
};

struct campaign {
	const char *subject, *body, *mailer;
	double start, len;
	char dom[64];
	bool attach, html;
	int rcpts, txs;
};

struct gen {
	int64_t start_us, span_us;
	int days;
	bool enrich;
	const struct sensor *sensors;
	size_t nsensors;
	char msg_pad[4][20];
	uint32_t msg_counter[4];
	uint32_t msg_base;
	char pack[64];
	uint64_t pack_off;
	struct pool pools[6]; /* spam scan helo auth recon harvest */
	struct pool probers, other;
	struct campaign camp[150];
	double camp_cum[150];
	/* hosts' addresses already used: open addressing over the 32-bit value */
	uint32_t *seen;
	size_t seen_cap;
};

enum { P_SPAM, P_SCAN, P_HELO, P_AUTH, P_RECON, P_HARVEST };

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL) {
		fprintf(stderr, "gen_capture: out of memory\n");
		exit(1);
	}
	return p;
}

static void *
xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n, sz);

	if (p == NULL) {
		fprintf(stderr, "gen_capture: out of memory\n");
		exit(1);
	}
	return p;
}

/* seen_add - false when the address was used already */
static bool
seen_add(struct gen *g, uint32_t a)
{
	size_t i = (a * 2654435761u) & (g->seen_cap - 1);

	while (g->seen[i] != 0) {
		if (g->seen[i] == a)
			return false;
		i = (i + 1) & (g->seen_cap - 1);
	}
	g->seen[i] = a;
	return true;
}

static uint32_t
ip_parse(const char *s)
{
	unsigned a, b, c, d;

	sscanf(s, "%u.%u.%u.%u", &a, &b, &c, &d);
	return a << 24 | b << 16 | c << 8 | d;
}

static const struct osfam *
choose_os(const struct osfam *f, size_t n)
{
	double x = rnd(), acc = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		acc += f[i].w;
		if (x < acc)
			return &f[i];
	}
	return &f[n - 1];
}

static size_t
ncities(const struct country *c)
{
	size_t n = 0;

	while (n < 4 && c->cities[n].name != NULL)
		n++;
	return n;
}

static size_t
nasns(const struct country *c)
{
	size_t n = 0;

	while (n < 3 && c->asns[n].org != NULL)
		n++;
	return n;
}

static size_t
noctets(const struct country *c)
{
	size_t n = 0;

	while (n < 8 && c->octets[n] != 0)
		n++;
	return n;
}

/* host_new - a source address with what enrichment knows about it */
static struct host *
host_new(const char *ip, const struct country *c, double windows_share, double listed_p,
         const char *city)
{
	struct host *h = xcalloc(1, sizeof(*h));
	const struct city *ct = &c->cities[ri(0, (long)ncities(c) - 1)];
	const struct asn *as = &c->asns[ri(0, (long)nasns(c) - 1)];
	const struct osfam *os;
	struct sb b = {0};
	unsigned o[4];
	size_t i;
	double r;

	snprintf(h->ip, sizeof(h->ip), "%s", ip);
	h->c = c;
	/* lengths, then bytes: gcc -O3 misreads a strcmp of the inlined constants here
	 * (-Wstring-compare) */
	for (i = 0; city != NULL && i < ncities(c); i++) {
		size_t cl = strlen(city);
		if (strlen(c->cities[i].name) == cl && memcmp(c->cities[i].name, city, cl) == 0)
			ct = &c->cities[i];
	}
	sb_f(&b, ",\"geo\":{\"country_code\":\"%s\",\"country\":", c->cc);
	sb_esc(&b, c->name);
	sb_s(&b, ",\"region\":");
	sb_esc(&b, ct->region);
	sb_s(&b, ",\"city\":");
	sb_esc(&b, ct->name);
	sb_f(&b, ",\"latitude\":%.4f,\"longitude\":%.4f,\"asn\":%d,\"as_org\":",
	     ct->lat + (rnd() - 0.5) * 0.1, ct->lon + (rnd() - 0.5) * 0.1, as->asn);
	sb_esc(&b, as->org);
	sb_s(&b, ",\"geo_db\":\"GeoLite2-City\"}");
	h->geo = b.p;
	h->windows = rnd() < windows_share;
	os = h->windows ? choose_os(WINDOWS, ARRAY_LEN(WINDOWS))
	                : choose_os(UNIXES, ARRAY_LEN(UNIXES));
	memset(&b, 0, sizeof(b));
	sb_f(&b,
	     ",\"os\":{\"os_class\":\"%s\",\"os_name\":\"%s\",\"os_flavor\":\"%s\","
	     "\"os_distance\":%ld,\"os_match\":\"%s\",\"os_sig\":\"%s\"}",
	     h->windows ? "win" : "unix", os->name, os->flavor, ri(8, 24),
	     rnd() < 2.0 / 3.0 ? "exact" : "fuzzy", os->sig);
	h->os = b.p;
	for (i = 0; i < ARRAY_LEN(DNSBL_ZONES); i++) {
		if (rnd() < listed_p)
			h->listed |= 1u << i;
	}
	sscanf(ip, "%u.%u.%u.%u", &o[0], &o[1], &o[2], &o[3]);
	r = rnd();
	if (r >= 0.35) {
		char ptr[128], cc[3] = {(char)tolower(c->cc[0]), (char)tolower(c->cc[1]), 0};
		if (r < 0.8)
			snprintf(ptr, sizeof(ptr), "%u-%u-%u-%u.dynamic.%s-isp.%s", o[0], o[1],
			         o[2], o[3], PICK(WORDS), cc);
		else
			snprintf(ptr, sizeof(ptr), "host-%u-%u.%s.%s", o[3], o[2], PICK(WORDS),
			         PICK(TLDS));
		h->ptr = xstrdup(ptr);
	}
	return h;
}

/* pick_country - weighted by GEO weight among the listed codes (NULL: all) */
static const struct country *
pick_country(const char *const *ccs, size_t n)
{
	double tot = 0, x;
	size_t i, k;

	for (k = 0; k < ARRAY_LEN(GEO); k++) {
		for (i = 0; ccs != NULL && i < n && strcmp(ccs[i], GEO[k].cc) != 0; i++)
			;
		if (ccs == NULL || i < n)
			tot += GEO[k].weight;
	}
	x = rnd() * tot;
	for (k = 0; k < ARRAY_LEN(GEO); k++) {
		for (i = 0; ccs != NULL && i < n && strcmp(ccs[i], GEO[k].cc) != 0; i++)
			;
		if (ccs != NULL && i == n)
			continue;
		if (x < GEO[k].weight)
			return &GEO[k];
		x -= GEO[k].weight;
	}
	return &GEO[0];
}

/* make_pool - n hosts from the countries (weights from GEO), Zipf-weighted use */
static void
make_pool(struct gen *g, struct pool *p, size_t n, const char *const *ccs, size_t nccs,
          double listed_p, double windows)
{
	char ip[48];
	size_t i;
	double acc = 0;

	p->n = n;
	p->h = xcalloc(n, sizeof(*p->h));
	p->cum = xcalloc(n, sizeof(*p->cum));
	for (i = 0; i < n; i++) {
		const struct country *c = pick_country(ccs, nccs);
		do {
			snprintf(ip, sizeof(ip), "%d.%ld.%ld.%ld",
			         c->octets[ri(0, (long)noctets(c) - 1)], ri(0, 255), ri(0, 255),
			         ri(1, 254));
		} while (!seen_add(g, ip_parse(ip)));
		p->h[i] = host_new(ip, c, windows >= 0 ? windows : c->windows, listed_p, NULL);
		acc += 1.0 / pow((double)i + 1, 0.8);
		p->cum[i] = acc;
	}
}

/* pick - a host of the pool, Zipf-weighted */
static struct host *
pick(const struct pool *p)
{
	double x = rnd() * p->cum[p->n - 1];
	size_t lo = 0, hi = p->n - 1;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p->cum[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return p->h[lo];
}

static const struct country *
country(const char *cc)
{
	size_t k;

	for (k = 0; k < ARRAY_LEN(GEO); k++) {
		if (strcmp(GEO[k].cc, cc) == 0)
			return &GEO[k];
	}
	return &GEO[0];
}

static void
make_hosts(struct gen *g, size_t total)
{
	static const char *const scan_cc[] = {"US", "NL", "DE", "CN", "RU"};
	static const char *const auth_cc[] = {"CN", "RU", "BR", "VN", "IN", "UA", "TR", "US", "NL"};
	static const char *const tw_cc[] = {"TW"};
	static const char *const other_cc[] = {"CN", "US", "RU", "BR"};
	struct pool tw;
	size_t i, ntw, nother;
	char *p;

	g->seen_cap = 1;
	while (g->seen_cap < total * 4)
		g->seen_cap *= 2;
	g->seen = xcalloc(g->seen_cap, sizeof(*g->seen));
	make_pool(g, &g->pools[P_SPAM], total * 62 / 100, NULL, 0, 0.6, -1);
	make_pool(g, &g->pools[P_SCAN], total * 6 / 100, scan_cc, ARRAY_LEN(scan_cc), 0.25, 0.05);
	make_pool(g, &g->pools[P_HELO], total * 12 / 100, NULL, 0, 0.4, -1);
	make_pool(g, &g->pools[P_AUTH], total * 10 / 100, auth_cc, ARRAY_LEN(auth_cc), 0.5, -1);
	make_pool(g, &g->pools[P_RECON], total * 5 / 100, NULL, 0, 0.3, -1);
	make_pool(g, &g->pools[P_HARVEST], total * 4 / 100, NULL, 0, 0.7, -1);
	ntw = total * 6 / 1000 > 10 ? total * 6 / 1000 : 10;
	nother = total * 4 / 1000 > 10 ? total * 4 / 1000 : 10;
	make_pool(g, &tw, ntw, tw_cc, 1, 0.9, 0.95);
	make_pool(g, &g->other, nother, other_cc, ARRAY_LEN(other_cc), 0.6, -1);
	/* The study's relay checkers first: Taiwan, all Windows XP, all listed. */
	g->probers.n = ARRAY_LEN(SEED_RELAY_IPS) + tw.n;
	g->probers.h = xcalloc(g->probers.n, sizeof(*g->probers.h));
	for (i = 0; i < ARRAY_LEN(SEED_RELAY_IPS); i++) {
		seen_add(g, ip_parse(SEED_RELAY_IPS[i]));
		g->probers.h[i] =
		    host_new(SEED_RELAY_IPS[i], country("TW"), 1.0, 1.0,
		             strcmp(SEED_RELAY_IPS[i], "219.86.32.1") == 0 ? "Hualien" : "Taipei");
		p = strstr(g->probers.h[i]->os, "\"os_flavor\":\"");
		if (p != NULL) {
			free(g->probers.h[i]->os);
			g->probers.h[i]->os = xstrdup(
			    ",\"os\":{\"os_class\":\"win\",\"os_name\":\"Windows\","
			    "\"os_flavor\":\"XP\",\"os_distance\":17,\"os_match\":\"exact\","
			    "\"os_sig\":\"4:128+0:0:1460:65535,0:mss,nop,nop,sok:df,id+:0\"}");
		}
	}
	for (i = 0; i < tw.n; i++)
		g->probers.h[ARRAY_LEN(SEED_RELAY_IPS) + i] = tw.h[i];
	free(tw.h);
	free(tw.cum);
}

static void
make_campaigns(struct gen *g)
{
	static const int rcpts[] = {1, 1, 1, 1, 2, 3, 5, 10};
	static const int txs[] = {1, 1, 1, 2, 3};
	double acc = 0, top;
	size_t i;

	for (i = 0; i < ARRAY_LEN(g->camp); i++) {
		struct campaign *c = &g->camp[i];
		top = g->days - 1 > 0.5 ? g->days - 1 : 0.5;
		c->start = rnd() * top;
		c->len = 0.5 + rnd() * 7.5;
		if (c->len > g->days - c->start)
			c->len = g->days - c->start;
		c->subject = PICK(SPAM_SUBJECTS);
		c->body = PICK(SPAM_BODIES);
		c->mailer = PICK(XMAILERS);
		snprintf(c->dom, sizeof(c->dom), "%s%s.%s", PICK(WORDS), PICK(WORDS), PICK(TLDS));
		c->attach = rnd() < 0.15;
		c->html = rnd() < 0.4;
		c->rcpts = PICK(rcpts);
		c->txs = PICK(txs);
		acc += 1.0 / pow((double)i + 1, 0.9);
		g->camp_cum[i] = acc;
	}
}

/* new_pack - a pack file as a store started at us would name it */
static void
new_pack(struct gen *g, int64_t us)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(g->pack, sizeof(g->pack), "bodies/pack/%Y%m%dT%H%M%SZ.pack", &tm);
	g->pack_off = 0;
}

/* --- names and texts ------------------------------------------------------------------------ */

static void
rand_label(char *out, int n, const char *alphabet)
{
	size_t na = strlen(alphabet);
	int i;

	for (i = 0; i < n; i++)
		out[i] = alphabet[ri(0, (long)na - 1)];
	out[n] = '\0';
}

#define LOWER_ALNUM "abcdefghijklmnopqrstuvwxyz0123456789"

static void
upcase(char *s)
{
	for (; *s; s++)
		*s = (char)toupper((unsigned char)*s);
}

static void
title(const char *in, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s", in);
	out[0] = (char)toupper((unsigned char)out[0]);
}

/* helo_name - the kinds of HELO/EHLO arguments the study saw, in realistic shares */
static void
helo_name(const struct host *h, const struct sensor *sn, char *out, size_t outlen)
{
	static const char *const pre1[] = {"mail", "smtp", "mx", "mx1", "relay", "web"};
	static const char *const pre2[] = {"user", "premier", "msg", "host", "pc", "win"};
	static const char *const pre3[] = {"mta", "mail", "smtp", "srv", "mx"};
	static const char *const local[] = {"localhost", "localhost.localdomain", "LOCALHOST"};
	double x = rnd();
	char lab[32];

	if (x < 0.22) {
		snprintf(out, outlen, "%s.%s%s.%s", PICK(pre1), PICK(WORDS), PICK(WORDS),
		         PICK(TLDS));
	} else if (x < 0.40) {
		rand_label(lab, (int)ri(6, 11), LOWER_ALNUM);
		snprintf(out, outlen, "%s-%s", PICK(pre2), lab);
	} else if (x < 0.52) {
		snprintf(out, outlen, "%s%ld", PICK(pre3), ri(1, 250));
	} else if (x < 0.62) {
		snprintf(out, outlen, "[%s]", h->ip);
	} else if (x < 0.66) {
		snprintf(out, outlen, "[%ld.%ld.%ld.%ld]", ri(10, 192), ri(0, 255), ri(0, 255),
		         ri(1, 254));
	} else if (x < 0.72) {
		snprintf(out, outlen, "%s", h->ip);
	} else if (x < 0.78) {
		snprintf(out, outlen, "%s", PICK(local));
	} else if (x < 0.82) {
		switch (ri(0, 3)) {
		case 0:
			snprintf(out, outlen, "%s", sn->host);
			break;
		case 1:
			snprintf(out, outlen, "%s", sn->ip);
			break;
		case 2:
			snprintf(out, outlen, "[%s]", sn->ip);
			break;
		default:
			snprintf(out, outlen, "%s", sn->netbios);
		}
	} else if (x < 0.88 && h->ptr != NULL) {
		snprintf(out, outlen, "%s", h->ptr);
	} else if (x < 0.92) {
		rand_label(lab, (int)ri(8, 14), LOWER_ALNUM);
		upcase(lab);
		snprintf(out, outlen, "%s", lab);
	} else if (x < 0.95) {
		if (rnd() < 0.5) {
			rand_label(lab, 11, LOWER_ALNUM);
			upcase(lab);
			snprintf(out, outlen, "WIN-%s", lab);
		} else {
			rand_label(lab, 7, LOWER_ALNUM);
			upcase(lab);
			snprintf(out, outlen, "DESKTOP-%s", lab);
		}
	} else {
		snprintf(out, outlen, "%s-pc", PICK(FIRST));
	}
}

/* fill - a campaign template with random words and numbers */
static void
fill(const char *tpl, char *out, size_t outlen)
{
	static const int pcts[] = {40, 50, 60, 70, 75, 80, 85, 90};
	static const char *const cities[] = {"Paris", "Berlin", "London", "Tokyo", "Austin"};
	const char *w = PICK(WORDS);
	char tmp[64];
	size_t o = 0;
	const char *e;

	while (*tpl && o + 64 < outlen) {
		if (*tpl != '{' || (e = strchr(tpl, '}')) == NULL) {
			out[o++] = *tpl++;
			continue;
		}
		size_t k = (size_t)(e - tpl - 1);
		const char *key = tpl + 1;
		tmp[0] = '\0';
#define IS(s) (k == strlen(s) && strncmp(key, s, k) == 0)
		if (IS("n"))
			snprintf(tmp, sizeof(tmp), "%ld", ri(100, 99999));
		else if (IS("pct"))
			snprintf(tmp, sizeof(tmp), "%d", PICK(pcts));
		else if (IS("id")) {
			rand_label(tmp, 8, LOWER_ALNUM);
			upcase(tmp);
		} else if (IS("d"))
			snprintf(tmp, sizeof(tmp), "%ld", ri(2, 30));
		else if (IS("First"))
			title(PICK(FIRST), tmp, sizeof(tmp));
		else if (IS("first"))
			snprintf(tmp, sizeof(tmp), "%s", PICK(FIRST));
		else if (IS("Last"))
			title(PICK(LAST), tmp, sizeof(tmp));
		else if (IS("Word"))
			title(w, tmp, sizeof(tmp));
		else if (IS("word"))
			snprintf(tmp, sizeof(tmp), "%s", w);
		else if (IS("TICK"))
			rand_label(tmp, 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
		else if (IS("date"))
			snprintf(tmp, sizeof(tmp), "%ld/%ld", ri(1, 28), ri(1, 12));
		else if (IS("city"))
			snprintf(tmp, sizeof(tmp), "%s", PICK(cities));
		else if (IS("dom"))
			snprintf(tmp, sizeof(tmp), "%s", PICK(FREEMAIL));
		else if (IS("tld"))
			snprintf(tmp, sizeof(tmp), "%s", PICK(TLDS));
#undef IS
		o += (size_t)snprintf(out + o, outlen - o, "%s", tmp);
		tpl = e + 1;
	}
	out[o] = '\0';
}

/* person_addr - first.last99@domain */
static void
person_addr(const char *dom, char *out, size_t outlen)
{
	static const char *const sep[] = {".", "_", ""};
	const char *f = PICK(FIRST), *s = PICK(sep), *l = PICK(LAST);
	char num[24] = "";

	if (rnd() < 0.4)
		snprintf(num, sizeof(num), "%ld", ri(1, 99));
	snprintf(out, outlen, "%s%s%s%s@%s", f, s, l, num, dom != NULL ? dom : PICK(FREEMAIL));
}

/* helo_enrich - the helo part of a dns enrichment event for a name from ip */
static void
helo_enrich(struct sb *b, const char *name, const char *ip)
{
	size_t n = strlen(name);
	bool digits = n > 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (name[i] != '.' && !isdigit((unsigned char)name[i]))
			digits = false;
	}
	sb_s(b, ",\"helo\":{\"name\":");
	sb_esc(b, name);
	if (name[0] == '[' || digits) {
		sb_s(b, ",\"status\":\"skipped\",\"lookup_us\":0}");
	} else if (strchr(name, '.') == NULL || (n > 6 && strcmp(name + n - 6, ".local") == 0) ||
	           (n > 12 && strcmp(name + n - 12, ".localdomain") == 0) ||
	           (n > 4 && strcmp(name + n - 4, ".lan") == 0)) {
		sb_s(
		    b,
		    ",\"status\":\"nxdomain\",\"resolves\":false,\"addrs\":[],"
		    "\"matches_src\":false,\"fcrdns\":false,\"cached\":false,\"lookup_us\":24000}");
	} else {
		uint32_t h = (uint32_t)crc32(0, (const unsigned char *)name, (uInt)n);
		bool match = (h >> 4) % 10 == 0;
		char addr[16];

		snprintf(addr, sizeof(addr), "%u.%u.%u.%u", h % 223 + 1, (h >> 8) & 255,
		         (h >> 16) & 255, (h >> 24) % 254 + 1);
		sb_f(b,
		     ",\"status\":\"ok\",\"resolves\":true,\"addrs\":[\"%s\"],\"matches_src\":%s,"
		     "\"fcrdns\":false,\"cached\":false,\"lookup_us\":41000}",
		     match ? ip : addr, match ? "true" : "false");
	}
}

/* --- one session ---------------------------------------------------------------------------- */

struct pend {
	int64_t t;
	char *body;
};

struct sess {
	struct gen *g;
	struct sb *out;
	char sid[25];
	int64_t start, t;
	const struct host *host;
	const struct sensor *sn;
	int sensor_idx;
	char common[256];
	int seq, commands, bad, messages, rcpts, auths, tx;
	int64_t bytes_in, bytes_out, first_cmd;
	const char *greeting;
	char helo[256];
	const char *stage;
	unsigned signals; /* bit per signal name already sent */
	bool closed;
	char mail_from[300];
	char rcpt_list[16][128];
	int nrcpt;
	struct pend pending[PENDING_MAX];
	int npending;
	struct sb dns; /* the dns event's parts so far (rdns, dnsbl, then helo) */
	int64_t dns_t; /* when its last part is in */
	bool dns_out;  /* scheduled (pending) already */
};

static void
emit(struct sess *s, const char *eventid, const char *body, int64_t t)
{
	char tbuf[40];

	sb_f(s->out, "{\"timestamp\":\"%s\",\"eventid\":\"%s\",\"session\":\"%s\",%s%s}\n",
	     ts(s->start + t, tbuf), eventid, s->sid, s->common, body);
}

static int
pend_cmp(const void *a, const void *b)
{
	const struct pend *x = a, *y = b;

	return x->t < y->t ? -1 : x->t > y->t;
}

static void
pend_add(struct sess *s, int64_t t, char *body)
{
	if (s->npending == PENDING_MAX) {
		free(body);
		return;
	}
	s->pending[s->npending].t = t;
	s->pending[s->npending].body = body;
	s->npending++;
	qsort(s->pending, (size_t)s->npending, sizeof(s->pending[0]), pend_cmp);
}

/* ev - an event at the session's clock, after any enrichment result due before it */
static void
ev(struct sess *s, const char *eventid, const char *body)
{
	while (s->npending > 0 && s->pending[0].t <= s->t) {
		emit(s, "relaytrap.enrich", s->pending[0].body, s->pending[0].t);
		free(s->pending[0].body);
		memmove(s->pending, s->pending + 1,
		        (size_t)(s->npending - 1) * sizeof(s->pending[0]));
		s->npending--;
	}
	emit(s, eventid, body, s->t);
}

static void close_session(struct sess *s, const char *reason, int64_t linger);

static void
cmd(struct sess *s, const char *line, const char *verb, bool auth, int64_t gap)
{
	struct sb b = {0};
	size_t n = strlen(line);

	s->t += gap >= 0 ? gap : ri(80000, 400000);
	s->seq++;
	s->commands++;
	if (s->first_cmd < 0)
		s->first_cmd = s->t - 6;
	s->bytes_in += (int64_t)n + 2;
	sb_f(&b, ",\"seq\":%d,\"t_us\":%lld,\"line\":", s->seq, (long long)s->t);
	sb_esc(&b, line);
	sb_f(&b, ",\"verb\":\"%s\",\"len\":%zu,\"truncated\":false,\"bare_lf\":false,\"auth\":%s",
	     verb, n, auth ? "true" : "false");
	ev(s, "relaytrap.command", b.p);
	free(b.p);
}

static void
limit(struct sess *s, const char *name, int value)
{
	char body[128];

	snprintf(body, sizeof(body), ",\"limit\":\"%s\",\"value\":%d", name, value);
	ev(s, "relaytrap.limit", body);
}

/* reply - false when it was the error that ended the session */
static bool
reply(struct sess *s, int code, const char *text, int delay)
{
	struct sb b = {0};
	char t421[256];

	s->t += 15;
	s->seq++;
	if (delay < 0)
		delay = (int)ri(4, 19);
	s->bytes_out += (int64_t)strlen(text) + 2;
	sb_f(&b, ",\"seq\":%d,\"t_us\":%lld,\"code\":%d,\"text\":", s->seq, (long long)s->t, code);
	sb_esc(&b, text);
	sb_f(&b, ",\"delay_ms\":%d", delay);
	ev(s, "relaytrap.reply", b.p);
	free(b.p);
	s->t += delay * 1000;
	if (code >= 500 && ++s->bad >= BAD_MAX) {
		limit(s, "max_bad_commands", BAD_MAX);
		snprintf(t421, sizeof(t421),
		         "421 4.7.0 %s Too many errors on this connection, closing transmission "
		         "channel",
		         s->sn->host);
		reply(s, 421, t421, -1);
		close_session(s, "too_many_errors", -1);
		return false;
	}
	return true;
}

static const char *const SIGNALS[] = {
    "verb_lowercase", "helo_after_ehlo",         "no_greeting",   "mail_from_space",
    "no_brackets",    "pipelining_unadvertised", "non_smtp_http", "pre_greeting"};

static void
signal_once(struct sess *s, const char *sig, const char *detail)
{
	struct sb b = {0};
	size_t i;

	for (i = 0; i < ARRAY_LEN(SIGNALS) && strcmp(SIGNALS[i], sig) != 0; i++)
		;
	if (s->signals & (1u << i))
		return;
	s->signals |= 1u << i;
	sb_f(&b, ",\"signal\":\"%s\",\"detail\":", sig);
	sb_esc(&b, detail);
	ev(s, "relaytrap.signal", b.p);
	free(b.p);
}

static void
close_session(struct sess *s, const char *reason, int64_t linger)
{
	struct sb b = {0};
	int i;

	if (s->closed)
		return;
	s->closed = true;
	s->t += linger >= 0 ? linger : ri(50, 3000);
	sb_f(&b,
	     ",\"reason\":\"%s\",\"duration_us\":%lld,\"first_cmd_us\":%lld,\"greeting\":\"%s\","
	     "\"helo\":",
	     reason, (long long)s->t, (long long)s->first_cmd, s->greeting);
	sb_esc(&b, s->helo);
	sb_f(&b,
	     ",\"commands\":%d,\"bad_commands\":%d,\"messages\":%d,\"rcpts\":%d,"
	     "\"auth_attempts\":%d,\"bytes_in\":%lld,\"bytes_out\":%lld,\"stage\":\"%s\"",
	     s->commands, s->bad, s->messages, s->rcpts, s->auths, (long long)s->bytes_in,
	     (long long)s->bytes_out, s->stage);
	ev(s, "relaytrap.session.closed", b.p);
	free(b.p);
	if (s->dns.p != NULL && !s->dns_out) {
		/* no HELO name came: the dns event is written when the session ends */
		pend_add(s, s->dns_t > s->t ? s->dns_t : s->t, s->dns.p);
		memset(&s->dns, 0, sizeof(s->dns));
		s->dns_out = true;
	}
	for (i = 0; i < s->npending; i++) {
		emit(s, "relaytrap.enrich", s->pending[i].body, s->pending[i].t);
		free(s->pending[i].body);
	}
	s->npending = 0;
}

static void
dnsbl_body(struct sb *b, const struct host *h, long lookup)
{
	size_t i;
	int n = 0;

	sb_s(b, ",\"dnsbl\":{\"lists\":[");
	for (i = 0; i < ARRAY_LEN(DNSBL_ZONES); i++) {
		if (i > 0)
			sb_s(b, ",");
		if (h->listed & (1u << i)) {
			n++;
			sb_f(b,
			     "{\"zone\":\"%s\",\"status\":\"listed\",\"codes\":[\"%s\"],"
			     "\"meanings\":[\"%s\"]}",
			     DNSBL_ZONES[i].zone, DNSBL_ZONES[i].code, DNSBL_ZONES[i].meaning);
		} else {
			sb_f(b, "{\"zone\":\"%s\",\"status\":\"not_listed\"}", DNSBL_ZONES[i].zone);
		}
	}
	sb_f(b, "],\"listed\":%d,\"cached\":false,\"lookup_us\":%ld}", n, lookup);
}

static void
connect_session(struct sess *s)
{
	char banner[256], date[64];
	long lk;

	ev(s, "relaytrap.session.connect", ",\"proxied\":false");
	if (s->g->enrich) {
		/* the engine's one enrich event per session (geo and os known at the connect):
		 * written when the HELO part is in (helo) or at the end of a session without one
		 * (close_session) */
		lk = ri(15000, 250000);
		sb_s(&s->dns, ",\"kind\":\"session\"");
		sb_s(&s->dns, s->host->geo);
		sb_s(&s->dns, s->host->os);
		if (s->host->ptr == NULL)
			sb_s(&s->dns, ",\"rdns\":{\"status\":\"nxdomain\",\"cached\":false,"
			              "\"lookup_us\":20000}");
		else
			sb_f(&s->dns,
			     ",\"rdns\":{\"status\":\"ok\",\"ptr\":\"%s\",\"fcrdns\":true,"
			     "\"cached\":false,\"lookup_us\":31000}",
			     s->host->ptr);
		dnsbl_body(&s->dns, s->host, lk);
		s->dns_t = lk + ri(0, 9000);
	}
	s->t = ri(25000, 60000);
	snprintf(banner, sizeof(banner),
	         "220 %s Microsoft ESMTP MAIL Service, Version: 5.0.2195.5329 ready at  %s ",
	         s->sn->host, banner_date(s->start, date, sizeof(date)));
	reply(s, 220, banner, (int)ri(25, 55));
}

static bool
helo(struct sess *s, const char *verb, const char *name, bool lower)
{
	char line[300], lv[8], text[300];
	struct sb b = {0};
	size_t i;

	for (i = 0; verb[i] && i < sizeof(lv) - 1; i++)
		lv[i] = (char)tolower((unsigned char)verb[i]);
	lv[i] = '\0';
	if (name[0] != '\0')
		snprintf(line, sizeof(line), "%s %s", lower ? lv : verb, name);
	else
		snprintf(line, sizeof(line), "%s", verb);
	cmd(s, line, verb, false, -1);
	if (lower)
		signal_once(s, "verb_lowercase", verb);
	if (name[0] == '\0')
		return reply(s, 501, "501 5.5.4 Invalid Address", -1);
	if (strcmp(s->greeting, "EHLO") == 0 && strcmp(verb, "HELO") == 0)
		signal_once(s, "helo_after_ehlo", name);
	sb_f(&b, ",\"verb\":\"%s\",\"name\":", verb);
	sb_esc(&b, name);
	ev(s, "relaytrap.helo", b.p);
	free(b.p);
	s->greeting = strcmp(verb, "EHLO") == 0 ? "EHLO" : "HELO";
	snprintf(s->helo, sizeof(s->helo), "%s", name);
	if (strcmp(s->stage, "connect") == 0)
		s->stage = "helo";
	if (s->g->enrich && !s->dns_out && s->dns.p != NULL) {
		/* only the first name is checked; its part completes the dns event */
		int64_t t = s->t + ri(20000, 200000);

		helo_enrich(&s->dns, name, s->host->ip);
		pend_add(s, t > s->dns_t ? t : s->dns_t, s->dns.p);
		memset(&s->dns, 0, sizeof(s->dns));
		s->dns_out = true;
	}
	if (strcmp(verb, "EHLO") == 0) {
		struct sb r = {0};
		bool ok;

		sb_f(&r, "250-%s Hello [%s]%s", s->sn->host, s->host->ip, EHLO_TAIL);
		ok = reply(s, 250, r.p, -1);
		free(r.p);
		return ok;
	}
	snprintf(text, sizeof(text), "250 %s Hello [%s]", s->sn->host, s->host->ip);
	return reply(s, 250, text, -1);
}

static bool
mail(struct sess *s, const char *addr, bool space, int64_t gap)
{
	char line[400], echoed[300], text[400];
	struct sb b = {0};

	snprintf(line, sizeof(line), "MAIL FROM:%s<%s>", space ? " " : "", addr);
	cmd(s, line, "MAIL", false, gap);
	if (s->greeting[0] == '\0') {
		signal_once(s, "no_greeting", line + 5);
		return reply(s, 503, R_NOHELO, -1);
	}
	if (space)
		signal_once(s, "mail_from_space", line + 5);
	s->tx++;
	if (addr[0] == '\0')
		snprintf(echoed, sizeof(echoed), "<>");
	else if (strchr(addr, '@') == NULL)
		snprintf(echoed, sizeof(echoed), "%s@%s", addr, s->sn->host);
	else
		snprintf(echoed, sizeof(echoed), "%s", addr);
	sb_f(&b, ",\"tx\":%d,\"address\":", s->tx);
	sb_esc(&b, echoed);
	sb_s(&b, ",\"raw\":");
	sb_esc(&b, addr);
	sb_f(&b, ",\"flags\":[\"brackets\"%s%s%s],\"params\":{},\"accepted\":true",
	     space ? ",\"space_before\"" : "", addr[0] == '\0' ? ",\"null\"" : "",
	     addr[0] != '\0' && strchr(addr, '@') == NULL ? ",\"no_domain\"" : "");
	ev(s, "relaytrap.mail", b.p);
	free(b.p);
	s->stage = "mail";
	snprintf(s->mail_from, sizeof(s->mail_from), "%s", echoed);
	s->nrcpt = 0;
	snprintf(text, sizeof(text), "250 2.1.0 %s....Sender OK", echoed);
	return reply(s, 250, text, -1);
}

static bool
rcpt(struct sess *s, const char *addr, bool space, const char *flags, int64_t gap)
{
	char line[400], text[400];
	struct sb b = {0};

	snprintf(line, sizeof(line), "RCPT TO:%s<%s>", space ? " " : "", addr);
	cmd(s, line, "RCPT", false, gap);
	sb_f(&b, ",\"tx\":%d,\"address\":", s->tx);
	sb_esc(&b, addr);
	sb_s(&b, ",\"raw\":");
	sb_esc(&b, addr);
	sb_f(&b, ",\"flags\":[\"brackets\"%s%s],\"params\":{},\"accepted\":true",
	     space ? ",\"space_before\"" : "", flags);
	ev(s, "relaytrap.rcpt", b.p);
	free(b.p);
	s->rcpts++;
	if (s->nrcpt < 16)
		snprintf(s->rcpt_list[s->nrcpt++], sizeof(s->rcpt_list[0]), "%s", addr);
	s->stage = "rcpt";
	snprintf(text, sizeof(text), "250 2.1.5 %s ", addr);
	return reply(s, 250, text, -1);
}

/* struct hdr - the header fields of a message event (NULL: absent) */
struct hdr {
	const char *from, *to, *subject, *date, *message_id, *x_mailer;
};

static void
data(struct sess *s, const struct hdr *h, const char *body_text, const char *parts, long size)
{
	static const char *const keys[] = {"hdr_from", "hdr_to",         "hdr_subject",
	                                   "hdr_date", "hdr_message_id", "hdr_x_mailer"};
	const char *vals[] = {h->from, h->to, h->subject, h->date, h->message_id, h->x_mailer};
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char msgid[40], text[300], digest[65];
	struct sb b = {0}, dg = {0};
	int idx = s->sensor_idx, i;

	cmd(s, "DATA", "DATA", false, -1);
	s->stage = "data";
	reply(s, 354, R_DATA, -1);
	s->t += ri(20000, 900000) + size / 50;
	s->bytes_in += size + 3;
	s->g->msg_counter[idx]++;
	snprintf(msgid, sizeof(msgid), "%s%s%08X", s->sn->netbios, s->g->msg_pad[idx],
	         s->g->msg_base + s->g->msg_counter[idx]);
	snprintf(text, sizeof(text), "250 2.6.0 <%s@%s> Queued mail for delivery", msgid,
	         s->sn->host);
	reply(s, 250, text, -1);
	s->messages++;
	s->stage = "message";
	for (i = 0; i < 6; i++) {
		if (vals[i] != NULL)
			sb_f(&dg, "%s%s:%s", dg.len ? "\n" : "", keys[i], vals[i]);
	}
	sb_s(&dg, body_text);
	EVP_Digest(dg.p, dg.len, md, &mdlen, EVP_sha256(), NULL);
	free(dg.p);
	for (i = 0; i < 32; i++)
		snprintf(digest + 2 * i, 3, "%02x", md[i]);
	sb_f(&b,
	     ",\"tx\":%d,\"via\":\"DATA\",\"size\":%ld,\"stored\":%ld,\"truncated\":false,"
	     "\"complete\":true,\"accepted\":true,\"msgid\":\"%s\",\"mail_from\":",
	     s->tx, size, size, msgid);
	sb_esc(&b, s->mail_from);
	sb_s(&b, ",\"rcpts\":[");
	for (i = 0; i < s->nrcpt; i++) {
		if (i > 0)
			sb_s(&b, ",");
		sb_esc(&b, s->rcpt_list[i]);
	}
	sb_s(&b, "]");
	for (i = 0; i < 6; i++) {
		if (vals[i] == NULL)
			continue;
		sb_f(&b, ",\"%s\":", keys[i]);
		sb_esc(&b, vals[i]);
	}
	sb_f(&b, ",\"sha256\":\"%s\",", digest);
	if (size > PACK_BODY_MAX) {
		sb_f(&b, "\"body_path\":\"bodies/%.2s/%.2s/%s.eml\"", digest, digest + 2, digest);
	} else {
		/* "RTB1 <sha256> <len>\n", the bytes, "\n" (repeats are packed again here) */
		char num[24];
		uint64_t off = s->g->pack_off + 5 + 64 + 1 +
		               (uint64_t)snprintf(num, sizeof(num), "%ld", size) + 1;
		s->g->pack_off = off + (uint64_t)size + 1;
		sb_f(&b, "\"body_path\":\"%s\",\"body_offset\":%llu,\"body_len\":%ld", s->g->pack,
		     (unsigned long long)off, size);
	}
	sb_s(&b, ",\"body_text\":");
	sb_esc(&b, body_text);
	sb_f(&b, ",\"parts\":[%s]", parts);
	ev(s, "relaytrap.message", b.p);
	free(b.p);
}

static bool
simple(struct sess *s, const char *line, const char *verb, int code, const char *text, int64_t gap)
{
	cmd(s, line, verb, false, gap);
	return reply(s, code, text, -1);
}

static void
quit(struct sess *s)
{
	char text[300];

	cmd(s, "QUIT", "QUIT", false, -1);
	snprintf(text, sizeof(text), "221 2.0.0 %s Service closing transmission channel",
	         s->sn->host);
	reply(s, 221, text, -1);
	close_session(s, "quit", -1);
}

static void
b64(const char *in, size_t n, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)in;
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		out[o++] = tab[p[i] >> 2];
		out[o++] = tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		out[o++] = tab[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		out[o++] = tab[p[i + 2] & 63];
	}
	if (i < n) {
		out[o++] = tab[p[i] >> 2];
		if (i + 1 < n) {
			out[o++] = tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
			out[o++] = tab[(p[i + 1] & 15) << 2];
		} else {
			out[o++] = tab[(p[i] & 3) << 4];
			out[o++] = '=';
		}
		out[o++] = '=';
	}
	out[o] = '\0';
}

/* --- session kinds -------------------------------------------------------------------------- */

static void
s_scan(struct sess *s)
{
	static const char *const names[] = {"nmap.scanme.org", "example.com", "scanner",
	                                    "censys.io", "localhost"};
	static const char *const http[] = {"GET / HTTP/1.0", "GET / HTTP/1.1", "HEAD / HTTP/1.0",
	                                   "GET /favicon.ico HTTP/1.1"};
	double x = rnd();
	const char *line;

	if (x < 0.62) {
		close_session(s, "client_closed", ri(1000, 2000000));
	} else if (x < 0.80) {
		if (!helo(s, "EHLO", PICK(names), false))
			return;
		if (rnd() < 0.5)
			simple(s, "HELP", "HELP", 214, R_HELP, ri(300, 5000));
		close_session(s, "client_closed", -1);
	} else if (x < 0.90) {
		line = PICK(http);
		s->t += ri(1000, 30000);
		signal_once(s, "non_smtp_http", line);
		cmd(s, line, "", false, 0);
		if (reply(s, 500, R_UNKNOWN, -1)) {
			cmd(s, "", "", false, 40);
			reply(s, 500, R_UNKNOWN, -1);
		}
		close_session(s, "client_closed", -1);
	} else if (x < 0.95) {
		quit(s);
	} else {
		close_session(s, "idle_timeout", (rnd() < 0.5 ? 300 : 600) * 1000000L);
	}
}

static void
s_helo(struct sess *s)
{
	const char *verb = rnd() < 0.6 ? "EHLO" : "HELO";
	char name[256], again[256];

	helo_name(s->host, s->sn, name, sizeof(name));
	if (!helo(s, verb, name, rnd() < 0.08))
		return;
	if (rnd() < 0.15 && strcmp(verb, "EHLO") == 0) {
		snprintf(again, sizeof(again), "%s", s->helo);
		if (!helo(s, "HELO", again, false))
			return;
	}
	if (rnd() < 0.2 && !simple(s, "NOOP", "NOOP", 250, R_NOOP, -1))
		return;
	if (rnd() < 0.7)
		quit(s);
	else
		close_session(s, "client_closed", -1);
}

static void
s_spam(struct sess *s, const struct campaign *c)
{
	static const char *const att[] = {"invoice", "document", "photo", "scan"};
	bool pipelining = rnd() < 0.35, space;
	const char *verb = rnd() < 0.55 ? "EHLO" : "HELO";
	char name[256], from[128], to[128], hfrom[256], subj[256], body[1024], date[64], mid[96],
	    lab[16], parts[256], f1[32], l1[32];
	struct hdr h;
	int txn, n, k;
	long size;

	helo_name(s->host, s->sn, name, sizeof(name));
	if (!helo(s, verb, name, rnd() < 0.1))
		return;
	space = rnd() < 0.3;
	for (txn = 0; txn < c->txs; txn++) {
		person_addr(rnd() < 0.5 ? c->dom : NULL, from, sizeof(from));
		if (!mail(s, from, space, pipelining ? ri(200, 3000) : -1))
			return;
		if (pipelining && strcmp(verb, "HELO") == 0)
			signal_once(s, "pipelining_unadvertised", "MAIL");
		n = (int)(c->rcpts * (0.5 + rnd()));
		if (n < 1)
			n = 1;
		for (k = 0; k < n; k++) {
			person_addr(NULL, to, sizeof(to));
			if (!rcpt(s, to, space, "", pipelining ? ri(200, 3000) : -1))
				return;
		}
		if (rnd() < 0.06) {
			close_session(s, "client_closed", -1);
			return;
		}
		title(PICK(FIRST), f1, sizeof(f1));
		title(PICK(LAST), l1, sizeof(l1));
		person_addr(c->dom, from, sizeof(from));
		snprintf(hfrom, sizeof(hfrom), "\"%s %s\" <%s>", f1, l1, from);
		if (rnd() < 0.5)
			snprintf(to, sizeof(to), "%s", s->rcpt_list[0]);
		else
			person_addr(NULL, to, sizeof(to));
		fill(c->subject, subj, sizeof(subj));
		fill(c->body, body, sizeof(body));
		banner_date(s->start + s->t, date, sizeof(date));
		memcpy(date + strlen(date) - 6, " -0800", 7);
		rand_label(lab, 12, LOWER_ALNUM);
		snprintf(mid, sizeof(mid), "<%s@%s>", lab, c->dom);
		h = (struct hdr){hfrom, to, subj, date, mid, c->mailer[0] ? c->mailer : NULL};
		if (c->attach)
			snprintf(parts, sizeof(parts),
			         "{\"type\":\"multipart/mixed\"},{\"type\":\"text/plain\"},"
			         "{\"type\":\"application/zip\",\"filename\":\"%s_%ld.zip\"}",
			         PICK(att), ri(1000, 9999));
		else if (c->html)
			snprintf(parts, sizeof(parts),
			         "{\"type\":\"multipart/alternative\"},{\"type\":\"text/plain\"},"
			         "{\"type\":\"text/html\"}");
		else
			parts[0] = '\0';
		size = (long)strlen(body) + 400 + (c->attach ? ri(20000, 200000) : ri(0, 3000));
		data(s, &h, body, parts, size);
		if (txn + 1 < c->txs && !simple(s, "RSET", "RSET", 250, R_RSET, -1))
			return;
	}
	if (rnd() < 0.8)
		quit(s);
	else
		close_session(s, "client_closed", -1);
}

static void
s_probe(struct sess *s, int fam)
{
	const char *ip = s->sn->ip, *box;
	char name[256], a[128], b2[128], subj[256], body[256], date[64];
	struct hdr h;

	memset(&h, 0, sizeof(h));
	switch (fam) {
	case 0: /* Super webscan */
		if (!helo(s, "HELO", ip, false))
			return;
		box = PICK(BOX_WEBSCAN);
		mail(s, box, true, -1);
		rcpt(s, box, true, "", -1);
		snprintf(subj, sizeof(subj),
		         "Super webscan open relay check succeded, hostname = %s", ip);
		h.subject = subj;
		data(s, &h, "", "", (long)strlen(subj) + 11);
		quit(s);
		return;
	case 1: /* BC_<ip> */
		helo_name(s->host, s->sn, name, sizeof(name));
		if (!helo(s, "HELO", rnd() < 0.5 ? ip : name, false))
			return;
		person_addr(NULL, a, sizeof(a));
		mail(s, a, false, -1);
		rcpt(s, PICK(BOX_BC), false, "", -1);
		person_addr(NULL, a, sizeof(a));
		person_addr(NULL, b2, sizeof(b2));
		snprintf(subj, sizeof(subj), "BC_%s", ip);
		banner_date(s->start, date, sizeof(date));
		memcpy(date + strlen(date) - 6, " GMT", 5);
		h = (struct hdr){a, b2, subj, date, NULL, NULL};
		data(s, &h, "", "", ri(180, 260));
		quit(s);
		return;
	case 2: /* proxy checker */
		helo_name(s->host, s->sn, name, sizeof(name));
		if (!helo(s, "EHLO", name, false))
			return;
		box = PICK(BOX_PROXY);
		mail(s, box, false, -1);
		rcpt(s, box, false, "", -1);
		snprintf(body, sizeof(body), "relay test ok %s:25 %s %ld\r\n", ip, s->host->ip,
		         ri(100000000, 1000000000));
		snprintf(subj, sizeof(subj), "Relay test %s", ip);
		h = (struct hdr){box, box, subj, NULL, NULL, NULL};
		data(s, &h, body, "", (long)strlen(body) + 120);
		quit(s);
		return;
	case 3: { /* routing tricks */
		static const char *const names[] = {"relaytest", "rlytest.example.net"};
		const char *vdom = PICK(FREEMAIL);
		char addrs[5][160], victim[160];
		const char *flags[5] = {",\"percent\",\"ip_literal\"", ",\"quoted\"",
		                        ",\"source_route\"", ",\"bang\",\"no_domain\"", ""};
		int order[5] = {0, 1, 2, 3, 4}, i, j, n, tmp;

		if (rnd() < 2.0 / 3.0) {
			snprintf(name, sizeof(name), "%s", PICK(names));
		} else {
			snprintf(name, sizeof(name), "[%s]", s->host->ip);
		}
		if (!helo(s, "HELO", name, false))
			return;
		snprintf(victim, sizeof(victim), "relaytest@%s", vdom);
		snprintf(addrs[0], sizeof(addrs[0]), "relaytest%%%s@[%s]", vdom, ip);
		snprintf(addrs[1], sizeof(addrs[1]), "\"relaytest@%s\"", vdom);
		snprintf(addrs[2], sizeof(addrs[2]), "@%s:relaytest@%s", s->sn->host, vdom);
		snprintf(addrs[3], sizeof(addrs[3]), "%s!relaytest", vdom);
		snprintf(addrs[4], sizeof(addrs[4]), "relaytest@%s", vdom);
		for (i = 4; i > 0; i--) {
			j = (int)ri(0, i);
			tmp = order[i];
			order[i] = order[j];
			order[j] = tmp;
		}
		n = (int)ri(2, 5);
		for (i = 0; i < n; i++) {
			if (!mail(s, victim, false, -1))
				return;
			if (!rcpt(s, addrs[order[i]], false, flags[order[i]], -1))
				return;
			if (i == 0) {
				snprintf(body, sizeof(body), "Relay test from %s to %s\r\n",
				         s->host->ip, ip);
				h = (struct hdr){NULL, victim, "Relay test", NULL, NULL, NULL};
				data(s, &h, body, "", (long)strlen(body) + 90);
			}
			if (!simple(s, "RSET", "RSET", 250, R_RSET, -1))
				return;
		}
		quit(s);
		return;
	}
	default: { /* a plain test mail naming the host */
		static const char *const subjects[] = {"test", "Test", "smtp test", "check"};
		helo_name(s->host, s->sn, name, sizeof(name));
		if (!helo(s, "EHLO", name, false))
			return;
		box = PICK(BOX_TEST);
		person_addr(NULL, a, sizeof(a));
		mail(s, a, false, -1);
		rcpt(s, box, false, "", -1);
		snprintf(body, sizeof(body), "hostname=%s port=25 time=%ld\r\n", ip,
		         ri(1000000000L, 2000000000L));
		h = (struct hdr){NULL, box, PICK(subjects), NULL, NULL, NULL};
		data(s, &h, body, "", (long)strlen(body) + 150);
		quit(s);
	}
	}
}

static void
s_auth(struct sess *s)
{
	static const int tries_tab[] = {1, 1, 2, 3, 5, 10, 10, 10};
	char name[256], user[128], pw[160], enc[512], line[600], plain[300];
	struct sb b = {0};
	const char *dom = strchr(s->sn->host, '.') + 1, *tpl;
	int tries = PICK(tries_tab), i;
	bool fast = rnd() < 0.5, ok = true;
	long lo = fast ? 2000 : 200000, hi = fast ? 40000 : 2000000;
	double mech;
	size_t n;

	helo_name(s->host, s->sn, name, sizeof(name));
	if (!helo(s, "EHLO", name, rnd() < 0.2))
		return;
	for (i = 0; i < tries && ok; i++) {
		mech = rnd();
		snprintf(user, sizeof(user), "%s", PICK(AUTH_USERS));
		if (rnd() < 0.3)
			snprintf(user + strlen(user), sizeof(user) - strlen(user), "@%s", dom);
		tpl = PICK(AUTH_PASSWORDS);
		n = strcspn(user, "@");
		if (strncmp(tpl, "{user}", 6) == 0)
			snprintf(pw, sizeof(pw), "%.*s%s", (int)n, user, tpl + 6);
		else
			snprintf(pw, sizeof(pw), "%s", tpl);
		if (mech < 0.85) {
			b64(user, strlen(user), enc);
			if (rnd() < 0.5) {
				cmd(s, "AUTH LOGIN", "AUTH", false, ri(lo, hi));
				reply(s, 334, "334 VXNlcm5hbWU6", -1);
				cmd(s, enc, "", true, ri(lo, hi));
			} else {
				snprintf(line, sizeof(line), "AUTH LOGIN %s", enc);
				cmd(s, line, "AUTH", false, ri(lo, hi));
			}
			reply(s, 334, "334 UGFzc3dvcmQ6", -1);
			b64(pw, strlen(pw), enc);
			cmd(s, enc, "", true, ri(lo, hi));
			s->auths++;
			memset(&b, 0, sizeof(b));
			sb_s(&b,
			     ",\"mechanism\":\"LOGIN\",\"supported\":true,\"outcome\":\"failed\","
			     "\"username\":");
			sb_esc(&b, user);
			sb_s(&b, ",\"password\":");
			sb_esc(&b, pw);
			ev(s, "relaytrap.auth", b.p);
			free(b.p);
			ok = reply(s, 535, R_AUTH_FAIL, -1);
		} else if (mech < 0.95) {
			n = (size_t)snprintf(plain, sizeof(plain), "%c%s%c%s", 0, user, 0, pw);
			b64(plain, n, enc);
			snprintf(line, sizeof(line), "AUTH PLAIN %s", enc);
			cmd(s, line, "AUTH", false, ri(lo, hi));
			s->auths++;
			ev(s, "relaytrap.auth",
			   ",\"mechanism\":\"PLAIN\",\"supported\":false,\"outcome\":"
			   "\"unsupported\"");
			ok = reply(s, 504, "504 5.7.4 Unrecognized authentication type", -1);
		} else {
			cmd(s, "AUTH NTLM", "AUTH", false, ri(lo, hi));
			reply(s, 334, "334 NTLM supported", -1);
			cmd(s, "*", "", true, ri(lo, hi));
			s->auths++;
			ev(s, "relaytrap.auth",
			   ",\"mechanism\":\"NTLM\",\"supported\":true,\"outcome\":\"aborted\"");
			ok = reply(s, 501, "501 5.7.0 Authentication aborted", -1);
		}
	}
	if (!ok)
		return;
	if (rnd() < 0.5)
		quit(s);
	else
		close_session(s, "client_closed", -1);
}

static void
s_recon(struct sess *s)
{
	struct rc {
		const char *line, *verb;
		int code;
		const char *text;
	};
	char v1[200], v2[200], name[256], addr[128];
	struct rc cmds[] = {
	    {"VRFY root", "VRFY", 252, v1},
	    {"VRFY admin", "VRFY", 252, v2},
	    {"EXPN root", "EXPN", 500, R_UNKNOWN},
	    {"HELP", "HELP", 214, R_HELP},
	    {"NOOP", "NOOP", 250, R_NOOP},
	    {"RSET", "RSET", 250, R_RSET},
	    {"STARTTLS", "STARTTLS", 554, "554 5.7.3 Unable to initialize security subsystem"},
	    {"TURN", "TURN", 530, "530 5.7.0 Authentication required"},
	    {"XEXCH50 1 2", "", 500, R_UNKNOWN},
	    {"X-LINK2STATE", "", 500, R_UNKNOWN},
	    {"SITE EXEC", "", 500, R_UNKNOWN},
	    {"USER anonymous", "", 500, R_UNKNOWN},
	    {"ETRN example.com", "ETRN", 250, "250 2.0.0 Queuing for node example.com started"},
	};
	int n, i, j;
	struct rc tmp;

	snprintf(v1, sizeof(v1), "252 2.1.5 Cannot VRFY user, but will take message for <root@%s>",
	         s->sn->host);
	snprintf(v2, sizeof(v2), "252 2.1.5 Cannot VRFY user, but will take message for <admin@%s>",
	         s->sn->host);
	if (rnd() < 0.3) {
		person_addr(NULL, addr, sizeof(addr));
		if (!mail(s, addr, false, -1))
			return;
	}
	if (rnd() < 0.15)
		signal_once(s, "pre_greeting", "EHLO");
	helo_name(s->host, s->sn, name, sizeof(name));
	if (!helo(s, rnd() < 0.5 ? "EHLO" : "HELO", name, rnd() < 0.3))
		return;
	n = (int)ri(1, 6);
	for (i = 0; i < n; i++) { /* a sample without repeats: partial Fisher-Yates */
		j = (int)ri(i, (long)ARRAY_LEN(cmds) - 1);
		tmp = cmds[i];
		cmds[i] = cmds[j];
		cmds[j] = tmp;
		if (!simple(s, cmds[i].line, cmds[i].verb, cmds[i].code, cmds[i].text, -1))
			return;
	}
	if (rnd() < 0.6)
		quit(s);
	else
		close_session(s, "client_closed", -1);
}

static void
s_harvest(struct sess *s)
{
	char name[256], addr[160], user[96];
	const char *dom;
	int n, i;

	helo_name(s->host, s->sn, name, sizeof(name));
	if (!helo(s, "HELO", name, false))
		return;
	dom = PICK(FREEMAIL);
	person_addr(NULL, addr, sizeof(addr));
	if (!mail(s, addr, false, -1))
		return;
	n = (int)ri(3, 25);
	for (i = 0; i < n; i++) {
		switch (ri(0, 2)) {
		case 0:
			snprintf(user, sizeof(user), "%s", PICK(FIRST));
			break;
		case 1:
			snprintf(user, sizeof(user), "%s.%s", PICK(FIRST), PICK(LAST));
			break;
		default:
			snprintf(user, sizeof(user), "%c%s", PICK(FIRST)[0], PICK(LAST));
		}
		snprintf(addr, sizeof(addr), "%s@%s", user, dom);
		if (!rcpt(s, addr, false, "", ri(500, 30000)))
			return;
	}
	if (!simple(s, "RSET", "RSET", 250, R_RSET, -1))
		return;
	quit(s);
}

/* --- plan and main -------------------------------------------------------------------------- */

enum kind { K_SCAN, K_HELO, K_SPAM, K_PROBE, K_AUTH, K_RECON, K_HARVEST };
static const double KIND_W[] = {0.40, 0.18, 0.18, 0.04, 0.10, 0.06, 0.04};

/* struct plan - one session: start time, kind, argument (campaign or probe family) */
struct plan {
	int64_t start;
	uint8_t kind;
	uint8_t arg;
};

static int
plan_cmp(const void *a, const void *b)
{
	const struct plan *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* diurnal - a time in the span, busier in the (UTC) afternoon and evening */
static int64_t
diurnal(const struct gen *g)
{
	for (;;) {
		double t = rnd() * (double)g->span_us, hour = fmod(t / 3600e6, 24);
		if (rnd() < 0.55 + 0.45 * sin((hour - 9) / 24 * 2 * M_PI))
			return g->start_us + (int64_t)t;
	}
}

static void
plan_one(struct gen *g, struct plan *p)
{
	static const double probe_w[] = {45, 20, 15, 10, 10};
	double x = rnd(), acc = 0;
	size_t k;

	for (k = 0; k < ARRAY_LEN(KIND_W) - 1 && x >= acc + KIND_W[k]; k++)
		acc += KIND_W[k];
	p->kind = (uint8_t)k;
	p->arg = 0;
	if (k == K_SPAM) {
		double y = rnd() * g->camp_cum[ARRAY_LEN(g->camp) - 1];
		size_t ci = 0;
		while (ci < ARRAY_LEN(g->camp) - 1 && g->camp_cum[ci] <= y)
			ci++;
		const struct campaign *c = &g->camp[ci];
		p->arg = (uint8_t)ci;
		p->start = g->start_us + (int64_t)((c->start + rnd() * c->len) * 86400e6);
		if (p->start > g->start_us + g->span_us - 1)
			p->start = g->start_us + g->span_us - 1;
		return;
	}
	p->start = diurnal(g);
	if (k == K_PROBE) {
		double y = rnd() * 100;
		for (k = 0, acc = 0; k < ARRAY_LEN(probe_w) - 1 && y >= acc + probe_w[k]; k++)
			acc += probe_w[k];
		p->arg = (uint8_t)k;
	}
}

static void
session(struct gen *g, const struct plan *p, struct sb *out)
{
	struct sess s;
	size_t i;

	memset(&s, 0, sizeof(s));
	s.g = g;
	s.out = out;
	s.start = p->start;
	/* like the daemon's ids (docs/events.md): 12 hex digits of the start in ms, 12 random */
	snprintf(s.sid, sizeof(s.sid), "%012llx%012llx",
	         (unsigned long long)(s.start / 1000) & 0xffffffffffffull,
	         (unsigned long long)(rnext() >> 16));
	s.sensor_idx = (int)ri(0, (long)g->nsensors - 1);
	s.sn = &g->sensors[s.sensor_idx];
	if (p->kind == K_PROBE && p->arg <= 1) {
		i = (size_t)(-log(1 - rnd()) / 0.15);
		s.host = g->probers.h[i < g->probers.n ? i : g->probers.n - 1];
	} else if (p->kind == K_PROBE) {
		s.host = g->other.h[ri(0, (long)g->other.n - 1)];
	} else {
		static const int pool_of[] = {P_SCAN, P_HELO,  P_SPAM,   0,
		                              P_AUTH, P_RECON, P_HARVEST};
		s.host = pick(&g->pools[pool_of[p->kind]]);
	}
	snprintf(s.common, sizeof(s.common),
	         "\"sensor\":\"%s\",\"src_ip\":\"%s\",\"src_port\":%ld,\"dst_ip\":\"%s\","
	         "\"dst_port\":25,\"persona\":\"exchange2000\",\"listener\":\"smtp\"",
	         s.sn->name, s.host->ip, ri(1025, 65535), s.sn->ip);
	s.first_cmd = -1;
	s.greeting = "";
	s.stage = "connect";
	connect_session(&s);
	switch (p->kind) {
	case K_SCAN:
		s_scan(&s);
		break;
	case K_HELO:
		s_helo(&s);
		break;
	case K_SPAM:
		s_spam(&s, &g->camp[p->arg]);
		break;
	case K_PROBE:
		s_probe(&s, p->arg);
		break;
	case K_AUTH:
		s_auth(&s);
		break;
	case K_RECON:
		s_recon(&s);
		break;
	default:
		s_harvest(&s);
	}
	if (!s.closed)
		close_session(&s, "client_closed", -1);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: gen_capture [-n SESSIONS] [-o FILE] [--days N] [--ips N] [--seed N]\n"
	           "                   [--start YYYY-MM-DD] [--sensors 1-4] [--no-enrich]\n"
	           "Writes a realistic relaytrap events.jsonl of SESSIONS sessions (default "
	           "1000000)\nto FILE (default standard output); see bench/gen_capture.c.\n");
}

/* num_arg - a whole number in [lo, hi] or exit 2 naming the option */
static long
num_arg(const char *opt, const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "gen_capture: %s wants a number from %ld to %ld, not '%s'\n", opt,
		        lo, hi, s);
		exit(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"sessions", required_argument, NULL, 'n'}, {"output", required_argument, NULL, 'o'},
	    {"days", required_argument, NULL, 'D'},     {"ips", required_argument, NULL, 'I'},
	    {"seed", required_argument, NULL, 'S'},     {"start", required_argument, NULL, 'T'},
	    {"sensors", required_argument, NULL, 'N'},  {"no-enrich", no_argument, NULL, 'E'},
	    {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
	};
	long sessions = 1000000, ips = 50000, seed = 1, nsens = 3, i;
	const char *outpath = "-", *start = "2026-10-01";
	struct gen g;
	struct plan *plan;
	struct sb out = {0};
	struct timespec t0, t1;
	struct tm tm;
	uint64_t nev = 0, nbytes = 0;
	FILE *f;
	int ch, k;

	memset(&g, 0, sizeof(g));
	g.days = 30;
	g.enrich = true;
	while ((ch = getopt_long(argc, argv, "n:o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			sessions = num_arg("--sessions", optarg, 1, SESSIONS_MAX);
			break;
		case 'o':
			outpath = optarg;
			break;
		case 'D':
			g.days = (int)num_arg("--days", optarg, 1, 3650);
			break;
		case 'I':
			ips = num_arg("--ips", optarg, 100, 10000000);
			break;
		case 'S':
			seed = num_arg("--seed", optarg, 0, 1L << 40);
			break;
		case 'T':
			start = optarg;
			break;
		case 'N':
			nsens = num_arg("--sensors", optarg, 1, (long)ARRAY_LEN(SENSORS));
			break;
		case 'E':
			g.enrich = false;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	memset(&tm, 0, sizeof(tm));
	if (strptime(start, "%Y-%m-%d", &tm) == NULL) {
		fprintf(stderr, "gen_capture: --start wants YYYY-MM-DD, not '%s'\n", start);
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	g.start_us = (int64_t)timegm(&tm) * 1000000;
	g.span_us = (int64_t)g.days * 86400 * 1000000;
	g.sensors = SENSORS;
	g.nsensors = (size_t)nsens;
	reseed((uint64_t)seed);
	for (k = 0; k < (int)g.nsensors; k++)
		rand_label(g.msg_pad[k], 19 - (int)strlen(SENSORS[k].netbios),
		           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
	make_hosts(&g, (size_t)ips);
	make_campaigns(&g);
	new_pack(&g, g.start_us);
	/* Every session's start first (16 bytes each), then build and write in time order. */
	plan = xcalloc((size_t)sessions, sizeof(*plan));
	for (i = 0; i < sessions; i++)
		plan_one(&g, &plan[i]);
	qsort(plan, (size_t)sessions, sizeof(*plan), plan_cmp);
	f = strcmp(outpath, "-") == 0 ? stdout : fopen(outpath, "w");
	if (f == NULL) {
		fprintf(stderr, "gen_capture: %s: %s\n", outpath, strerror(errno));
		return 1;
	}
	for (i = 0; i < sessions; i++) {
		/* A new pack every 5,000 sessions, as a store restarted now and then would. */
		if (i > 0 && i % 5000 == 0) {
			new_pack(&g, plan[i].start);
			g.msg_base = (uint32_t)(i / 5000) << 20;
			memset(g.msg_counter, 0, sizeof(g.msg_counter));
		}
		session(&g, &plan[i], &out);
		if (out.len >= (1u << 20) || i + 1 == sessions) {
			size_t j;
			for (j = 0; j < out.len; j++)
				nev += out.p[j] == '\n';
			if (fwrite(out.p, 1, out.len, f) != out.len) {
				fprintf(stderr, "gen_capture: %s: %s\n", outpath, strerror(errno));
				return 1;
			}
			nbytes += out.len;
			out.len = 0;
		}
	}
	if (fflush(f) != 0 || (f != stdout && fclose(f) != 0)) {
		fprintf(stderr, "gen_capture: %s: %s\n", outpath, strerror(errno));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "gen_capture: %ld sessions, %llu events, %llu bytes, %.1f s\n", sessions,
	        (unsigned long long)nev, (unsigned long long)nbytes,
	        (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	free(plan);
	free(out.p);
	return 0;
}
