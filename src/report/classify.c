/* SPDX-License-Identifier: ISC */
/*
 * classify - the report's judgements over recorded sessions (see classify.h and
 * docs/classification.md for how every class and reason is decided).
 *
 * Owns: nothing; only const tables. Every function works on caller memory and allocates nothing.
 * Public: helo_classify, helo_class_name, helo_class_label, name_looks_random, probe_detect,
 *         probe_reason_name, probe_reason_label, template_normalise, addr_domain.
 * Limits: a HELO argument over HELO_SCAN_MAX bytes is invalid without being read further; probe
 *         texts are read up to PROBE_TEXT_MAX bytes each, at most PROBE_RCPT_MAX recipients;
 *         template_normalise reads at most TEMPLATE_IN_MAX bytes. All work is linear in those caps.
 */
#include "report/classify.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* RFC 5321 §4.5.3.1.4: a command line is at most 512 octets, so a longer HELO argument cannot be
 * valid; looking at it further would only cost time */
#define HELO_SCAN_MAX 1024
#define DOMAIN_MAX 255 /* RFC 5321 §4.5.3.1.2 */
#define LABEL_MAX 63   /* RFC 1035 §2.3.4 */
#define RANDOM_SCAN_MAX 255
#define PROBE_TEXT_MAX 4096
#define PROBE_RCPT_MAX 256
#define PROBE_ADDR_MAX 512
#define SELF_ADDRS_MAX 32
#define TEMPLATE_IN_MAX 4096

/* ---- bytes ------------------------------------------------------------------------------- */

static inline unsigned char
lc(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static inline bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool
is_alnum(unsigned char c)
{
	return is_digit(c) || is_alpha(c);
}

static inline bool
is_xdigit(unsigned char c)
{
	c = lc(c);
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

static inline bool
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* utf8_seq - length of the well-formed UTF-8 sequence at p (n bytes left), 0 if none */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	unsigned c = p[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (n >= 2 && (p[1] & 0xc0) == 0x80) ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0))
			return 0; /* overlong, surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

/* eq_ci - ASCII case-insensitive equality of two byte ranges */
static bool
eq_ci(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return false;
	for (size_t i = 0; i < an; i++)
		if (lc((unsigned char)a[i]) != lc((unsigned char)b[i]))
			return false;
	return true;
}

/* prefix_ci - s starts with the lower-case literal p */
static bool
prefix_ci(const char *s, size_t n, const char *p)
{
	size_t pn = strlen(p);

	return n >= pn && eq_ci(s, pn, p, pn);
}

/* is_suffix_domain - name equals dom or ends with "." dom (both without a trailing dot) */
static bool
is_suffix_domain(const char *name, size_t n, const char *dom, size_t dn)
{
	if (dn == 0 || n < dn)
		return false;
	if (!eq_ci(name + n - dn, dn, dom, dn))
		return false;
	return n == dn || name[n - dn - 1] == '.';
}

/* trim - strip white space at both ends */
static void
trim(const char **s, size_t *n)
{
	while (*n > 0 && is_space((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_space((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/* cstr_len - length of a caller's C string, never reading past cap */
static size_t
cstr_len(const char *s, size_t cap)
{
	return s ? strnlen(s, cap) : 0;
}

/* a word of a table with its length, so matching never calls strlen */
struct word {
	const char *s;
	size_t n;
};
#define W(x)                                                                                       \
	{                                                                                          \
		x, sizeof(x) - 1                                                                   \
	}
#define NWORDS(t) (sizeof(t) / sizeof((t)[0]))

/* word_in - the range equals one of the words (ASCII case-insensitive) */
static bool
word_in(const char *s, size_t n, const struct word *list, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (list[i].n == n && eq_ci(s, n, list[i].s, n))
			return true;
	return false;
}

/* suffix_in - the domain equals one of the domains or ends in "." one of them */
static bool
suffix_in(const char *d, size_t dn, const struct word *list, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (is_suffix_domain(d, dn, list[i].s, list[i].n))
			return true;
	return false;
}

/* ---- addresses --------------------------------------------------------------------------- */

struct ipbin {
	int family; /* 4 or 6 */
	unsigned char a[16];
};

/* ip4_scan - dotted quad at s (RFC 5321 IPv4-address-literal: 4 Snum of 1-3 digits, 0-255);
 * returns the bytes used or 0. Does not look at what follows. */
static size_t
ip4_scan(const char *s, size_t n, unsigned char out[4])
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		unsigned v = 0, digits = 0;

		if (part > 0) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
		while (i < n && is_digit((unsigned char)s[i]) && digits < 3) {
			v = v * 10 + (unsigned)(s[i] - '0');
			digits++;
			i++;
		}
		if (digits == 0 || v > 255)
			return 0;
		out[part] = (unsigned char)v;
	}
	return i;
}

/* ip_parse - the whole range is one IPv4 or IPv6 address (an IPv4-mapped IPv6 address counts
 * as IPv4, so a peer recorded as ::ffff:1.2.3.4 matches [1.2.3.4]) */
static bool
ip_parse(const char *s, size_t n, struct ipbin *ip)
{
	char buf[64];

	memset(ip, 0, sizeof(*ip));
	if (n == 0)
		return false;
	if (ip4_scan(s, n, ip->a) == n) {
		ip->family = 4;
		return true;
	}
	if (n >= sizeof(buf) || memchr(s, ':', n) == NULL || memchr(s, '\0', n) != NULL)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET6, buf, ip->a) != 1)
		return false;
	ip->family = 6;
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (memcmp(ip->a, mapped, sizeof(mapped)) == 0) {
		memmove(ip->a, ip->a + 12, 4);
		memset(ip->a + 4, 0, 12);
		ip->family = 4;
	}
	return true;
}

static bool
ip_equal(const struct ipbin *a, const struct ipbin *b)
{
	return a->family == b->family && memcmp(a->a, b->a, a->family == 4 ? 4 : 16) == 0;
}

/* self_has_addr - ip is one of the addresses the honeypot was reached on */
static bool
self_has_addr(const struct helo_self *self, const struct ipbin *ip)
{
	struct ipbin o;

	if (self == NULL || self->addrs == NULL)
		return false;
	for (size_t i = 0; i < SELF_ADDRS_MAX && self->addrs[i] != NULL; i++) {
		const char *a = self->addrs[i];
		size_t n = cstr_len(a, 64);

		if (n >= 2 && a[0] == '[' && a[n - 1] == ']') {
			a++;
			n -= 2;
		}
		if (ip_parse(a, n, &o) && ip_equal(&o, ip))
			return true;
	}
	return false;
}

const char *
addr_domain(const char *addr, size_t *dlen)
{
	size_t n = cstr_len(addr, PROBE_ADDR_MAX);
	const char *at;

	while (n > 0 && (is_space((unsigned char)addr[n - 1]) || addr[n - 1] == '>'))
		n--;
	at = NULL;
	for (size_t i = 0; i < n; i++)
		if (addr[i] == '@')
			at = addr + i;
	if (at == NULL || (size_t)(at - addr) + 1 >= n)
		return NULL;
	if (dlen != NULL)
		*dlen = n - (size_t)(at - addr) - 1;
	return at + 1;
}

/* ---- HELO identity ----------------------------------------------------------------------- */

static const char *const helo_names[HELO__COUNT] = {
    [HELO_MISSING] = "missing",
    [HELO_SELF] = "self",
    [HELO_RESERVED] = "reserved",
    [HELO_LITERAL_MATCH] = "literal_match",
    [HELO_LITERAL_OTHER] = "literal_other",
    [HELO_BARE_IP] = "bare_ip",
    [HELO_INVALID] = "invalid",
    [HELO_SINGLE_LABEL] = "single_label",
    [HELO_RANDOM] = "random",
    [HELO_FQDN] = "fqdn",
};

static const char *const helo_labels[HELO__COUNT] = {
#define X(n, l) [HELO_##n] = l,
    HELO_CLASSES(X)
#undef X
};

const char *
helo_class_name(enum helo_class c)
{
	return ((unsigned)c < HELO__COUNT) ? helo_names[c] : "unknown";
}

const char *
helo_class_label(enum helo_class c)
{
	return ((unsigned)c < HELO__COUNT) ? helo_labels[c] : "unknown";
}

/* Special-use and private-use names (RFC 2606, RFC 6761, RFC 6762 §3 and appendix G, RFC 7686,
 * RFC 8375, RFC 9476) and the "localdomain" that many installers write; a name equal to one of
 * these or ending in "." one of these is reserved. */
static const struct word reserved_suffixes[] = {
    W("localhost"), W("localdomain"), W("local"),        W("invalid"),     W("test"),
    W("example"),   W("example.com"), W("example.net"),  W("example.org"), W("onion"),
    W("alt"),       W("home.arpa"),   W("in-addr.arpa"), W("ip6.arpa"),    W("internal"),
    W("intranet"),  W("private"),     W("corp"),         W("home"),        W("lan"),
};

/* Single-label names that are reserved on their own (a bare "test" is just a single label) */
static const struct word reserved_single[] = {W("localhost"), W("localdomain")};

static bool
is_reserved(const char *s, size_t n)
{
	bool dotted = memchr(s, '.', n) != NULL;

	if (word_in(s, n, reserved_single, NWORDS(reserved_single)))
		return true;
	if (!dotted)
		return false;
	for (size_t i = 0; i < NWORDS(reserved_suffixes); i++) {
		const char *r = reserved_suffixes[i].s;
		size_t rn = reserved_suffixes[i].n;

		/* "example.com" itself is reserved; "com" with suffix "example.com" is not */
		if (is_suffix_domain(s, n, r, rn) && (n > rn || memchr(r, '.', rn) != NULL))
			return true;
	}
	return false;
}

/* self_name - s (without trailing dot) is the honeypot's host name, NetBIOS name, domain, or a
 * name inside its domain */
static bool
self_name(const struct helo_self *self, const char *s, size_t n)
{
	const char *f[3];

	if (self == NULL)
		return false;
	f[0] = self->hostname;
	f[1] = self->netbios;
	f[2] = self->domain;
	for (int i = 0; i < 3; i++) {
		size_t fn = cstr_len(f[i], DOMAIN_MAX + 1);

		if (fn > 0 && f[i][fn - 1] == '.')
			fn--;
		if (fn == 0)
			continue;
		if (eq_ci(s, n, f[i], fn))
			return true;
		/* a host "inside" our domain claims to be one of ours; only for a real domain
		 * (with a dot), never for a bare top-level name */
		if (i == 2 && memchr(f[i], '.', fn) != NULL && is_suffix_domain(s, n, f[i], fn))
			return true;
	}
	return false;
}

/* domain_syntax - RFC 5321 §4.1.2 Domain: sub-domain *("." sub-domain), sub-domain = Let-dig
 * [Ldh-str]; labels 1-63, whole name at most 255; the top-level label not all digits (RFC 3696
 * §2). Sets *labels and the range of the registered label (the one under the public suffix). */
static bool
domain_syntax(const char *s, size_t n, int *labels, size_t *reg_off, size_t *reg_len)
{
	size_t starts[128], lens[128];
	int nl = 0;
	size_t i = 0;

	if (n == 0 || n > DOMAIN_MAX)
		return false;
	while (i <= n) {
		size_t b = i;

		while (i < n && s[i] != '.')
			i++;
		size_t ln = i - b;
		if (ln == 0 || ln > LABEL_MAX || nl >= 128)
			return false;
		for (size_t k = b; k < i; k++) {
			unsigned char c = (unsigned char)s[k];

			if (!is_alnum(c) && c != '-')
				return false;
		}
		if (s[b] == '-' || s[i - 1] == '-')
			return false;
		starts[nl] = b;
		lens[nl] = ln;
		nl++;
		i++; /* skip the dot (or step past the end) */
	}
	bool numeric = true;
	for (size_t k = 0; k < lens[nl - 1]; k++)
		if (!is_digit((unsigned char)s[starts[nl - 1] + k]))
			numeric = false;
	if (numeric)
		return false;
	*labels = nl;
	/* registered label: under a two-level suffix such as co.uk or com.tw when the top level is
	 * a two-letter country code and the second a short generic word; otherwise under the TLD */
	int r = nl >= 2 ? nl - 2 : 0;
	if (nl >= 3 && lens[nl - 1] == 2) {
		static const struct word sld[] = {
		    W("co"),  W("com"), W("net"), W("org"), W("gov"), W("edu"), W("ac"),
		    W("or"),  W("ne"),  W("go"),  W("gob"), W("mil"), W("nom"), W("ltd"),
		    W("plc"), W("sch"), W("idv"), W("gen"), W("biz"), W("info")};
		if (word_in(s + starts[nl - 2], lens[nl - 2], sld, NWORDS(sld)))
			r = nl - 3;
	}
	*reg_off = starts[r];
	*reg_len = lens[r];
	return true;
}

bool
helo_peer_known(const char *peer_ip)
{
	struct ipbin peer;

	return peer_ip != NULL && ip_parse(peer_ip, cstr_len(peer_ip, 64), &peer);
}

enum helo_class
helo_classify(const char *name, size_t len, const char *peer_ip, const struct helo_self *self)
{
	struct ipbin ip, peer;
	bool have_peer;
	const char *s = name;
	size_t n = len;

	if (s == NULL || n == 0)
		return HELO_MISSING;
	if (n > HELO_SCAN_MAX)
		return HELO_INVALID;
	trim(&s, &n);
	if (n == 0)
		return HELO_MISSING;
	/* control bytes, NUL, DEL and inner white space: garbage whatever else it resembles */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c == 0x7f)
			return HELO_INVALID;
	}
	have_peer = peer_ip != NULL && ip_parse(peer_ip, cstr_len(peer_ip, 64), &peer);

	if (s[0] == '[') {
		const char *in = s + 1;
		size_t inn = n >= 2 ? n - 2 : 0;

		if (n < 3 || s[n - 1] != ']')
			return HELO_INVALID;
		if (ip4_scan(in, inn, ip.a) == inn) {
			ip.family = 4;
		} else if (prefix_ci(in, inn, "ipv6:") && memchr(in + 5, ':', inn - 5) != NULL &&
		           ip_parse(in + 5, inn - 5, &ip)) {
			/* an IPv4-mapped IPv6 literal parses as IPv4 and compares as such */
		} else {
			/* a General-address-literal needs a tag registered with IANA (RFC 5321
			 * §4.1.3); IPv6 is the only one, so anything else here is invalid */
			return HELO_INVALID;
		}
		if (have_peer && ip_equal(&ip, &peer))
			return HELO_LITERAL_MATCH;
		if (self_has_addr(self, &ip))
			return HELO_SELF;
		/* without the peer's address there is nothing to contradict the literal */
		return have_peer ? HELO_LITERAL_OTHER : HELO_LITERAL_MATCH;
	}

	if (ip4_scan(s, n, ip.a) == n) {
		ip.family = 4;
	} else if (prefix_ci(s, n, "ipv6:") && memchr(s + 5, ':', n - 5) != NULL &&
	           ip_parse(s + 5, n - 5, &ip)) {
		/* the literal's tag without its brackets */
	} else if (memchr(s, ':', n) != NULL && ip_parse(s, n, &ip)) {
		/* a bare IPv6 address */
	} else {
		ip.family = 0;
	}
	if (ip.family != 0) {
		if (!(have_peer && ip_equal(&ip, &peer)) && self_has_addr(self, &ip))
			return HELO_SELF;
		return HELO_BARE_IP;
	}

	/* a name; compare without one trailing dot, but the dot itself breaks RFC 5321 syntax */
	size_t cn = (n > 1 && s[n - 1] == '.') ? n - 1 : n;
	if (self_name(self, s, cn))
		return HELO_SELF;
	if (is_reserved(s, cn))
		return HELO_RESERVED;

	int labels = 0;
	size_t roff = 0, rlen = 0;
	if (!domain_syntax(s, n, &labels, &roff, &rlen))
		return HELO_INVALID;
	if (labels == 1)
		return name_looks_random(s, n, NULL) ? HELO_RANDOM : HELO_SINGLE_LABEL;
	/* in a dotted name only the registered label is judged: host labels under a real domain
	 * (a12-34.smtp-out.amazonses.com, bxvmta.mailgun.net) are an operator's naming scheme,
	 * while a random registered label means a throw-away domain. A-labels are never judged,
	 * nor registered labels under 6 bytes: short ones are mostly acronyms (rsgsv.net and
	 * mcdlv.net send Mailchimp's mail). */
	if (rlen >= 6 && !prefix_ci(s + roff, rlen, "xn--") &&
	    name_looks_random(s + roff, rlen, NULL))
		return HELO_RANDOM;
	return HELO_FQDN;
}

/* ---- machine-generated names ------------------------------------------------------------- */

/* Letter pairs that occur fewer than 20 times among the 74,585 lower-case words of Debian's
 * wamerican word list (2020.12.07): one bit per second letter, one row per first letter.
 * bench/classify_bigrams.py regenerates this table and measures the false positives. */
static const uint32_t rare_bigrams[26] = {
    0x0000000, /* a:  */
    0x2e184e0, /* b: fghkpqvwxz */
    0x2e0b26a, /* c: bdfgjmnpvwxz */
    0x2810400, /* d: kqxz */
    0x0000000, /* e:  */
    0x2e1b6ce, /* f: bcdghjkmnpqvwxz */
    0x2a1060c, /* g: cdjkqvxz */
    0x2a10640, /* h: gjkqvxz */
    0x1000000, /* i: y */
    0x3efbeee, /* j: bcdfghjklmnpqrstvwxyz */
    0x2a10244, /* k: cgjqvxz */
    0x2810200, /* l: jqxz */
    0x2e906c8, /* m: dghjkqtvwxz */
    0x0000000, /* n:  */
    0x0000000, /* o:  */
    0x2a10640, /* p: gjkqvxz */
    0x3efffff, /* q: abcdefghijklmnopqrstvwxyz */
    0x2800000, /* r: xz */
    0x2800200, /* s: jxz */
    0x0a10600, /* t: jkqvx */
    0x0510000, /* u: quw */
    0x2efbeee, /* v: bcdfghjklmnpqrstvwxz */
    0x2f10244, /* w: cgjquvwxz */
    0x2673e6a, /* x: bdfgjklmnqrsvwz */
    0x1a10600, /* y: jkqvxy */
    0x0efb66e, /* z: bcdfgjkmnpqrstvwx */
};

static bool
rare_pair(unsigned char a, unsigned char b)
{
	if (a < 'a' || a > 'z' || b < 'a' || b > 'z')
		return false;
	/* rare in English, common in Pinyin (zhang, zhou, qing, qian): Chinese place and person
	 * names are frequent in host names */
	if ((a == 'z' && b == 'h') || (a == 'q' && b == 'i'))
		return false;
	return (rare_bigrams[a - 'a'] >> (b - 'a')) & 1u;
}

/* Words that name hosts and their roles; removed from the ends of a letter run before it is
 * judged, because they are chosen by people (smtprelay, mxbackup, mailgw) and several contain
 * pairs that are rare in English prose (mx, mt, fw). Two-letter words are listed only when they
 * are such a pair: stripping "in" or "pc" from a random string would only hide it. */
static const struct word host_words[] = {
    W("smtps"),    W("smtp"),    W("esmtp"),  W("relay"),    W("mailer"),    W("mail"),
    W("mta"),      W("mx"),      W("msa"),    W("mbox"),     W("mbx"),       W("exch"),
    W("exchange"), W("server"),  W("srv"),    W("svr"),      W("host"),      W("user"),
    W("admin"),    W("desktop"), W("laptop"), W("win"),      W("web"),       W("www"),
    W("dns"),      W("gateway"), W("router"), W("out"),      W("outbound"),  W("inbound"),
    W("send"),     W("sender"),  W("msg"),    W("post"),     W("postfix"),   W("qmail"),
    W("exim"),     W("pop"),     W("imap"),   W("static"),   W("dynamic"),   W("dyn"),
    W("dsl"),      W("adsl"),    W("vdsl"),   W("cable"),    W("pool"),      W("ppp"),
    W("dial"),     W("client"),  W("cust"),   W("customer"), W("broadband"), W("vps"),
    W("cloud"),    W("node"),    W("proxy"),  W("fw"),       W("vpn"),       W("edge"),
    W("front"),    W("back"),    W("backup"), W("prod"),     W("dev"),       W("test"),
    W("stage"),    W("cdn"),     W("api"),    W("app"),      W("sql"),       W("ftp"),
    W("vm"),       W("net"),     W("lan"),    W("wan"),      W("nat"),       W("isp"),
    W("local"),    W("office"),  W("home"),   W("box"),      W("bulk"),      W("news"),
    W("info"),     W("noreply"), W("bounce"), W("bounces"),  W("list"),      W("lists"),
    W("cpe"),      W("fbx"),     W("dhcp"),   W("wlan"),     W("wifi"),      W("tpnet"),
    W("hsd"),
};

/* Which host words start and end with each letter, as bit sets of their indexes (the table
 * has fewer than 128 words, all lower-case letters), so that matching a run tries only the few
 * words that can match instead of every word; built once. */
#define HW_SETS 2
struct hw_set {
	uint64_t b[HW_SETS];
};
static struct hw_set hw_first[26], hw_last[26];
_Static_assert(NWORDS(host_words) <= 64 * HW_SETS, "host_words: more words than bits");
static pthread_once_t hw_once = PTHREAD_ONCE_INIT;

static void
hw_init(void)
{
	for (size_t i = 0; i < NWORDS(host_words) && i < 64 * HW_SETS; i++) {
		const char *w = host_words[i].s;
		size_t n = host_words[i].n;

		hw_first[w[0] - 'a'].b[i / 64] |= 1ull << (i % 64);
		hw_last[w[n - 1] - 'a'].b[i / 64] |= 1ull << (i % 64);
	}
}

/* hw_of - the words starting (or ending) with c: none when c is not a letter */
static struct hw_set
hw_of(const struct hw_set *t, unsigned char c)
{
	static const struct hw_set none;

	c = lc(c);
	return c >= 'a' && c <= 'z' ? t[c - 'a'] : none;
}

/* host_word - the run [s, s + n) is one of the host words */
static bool
host_word(const char *s, size_t n)
{
	struct hw_set f, l;

	if (n == 0)
		return false;
	pthread_once(&hw_once, hw_init);
	f = hw_of(hw_first, (unsigned char)s[0]);
	l = hw_of(hw_last, (unsigned char)s[n - 1]);
	for (int k = 0; k < HW_SETS; k++)
		for (uint64_t m = f.b[k] & l.b[k]; m != 0; m &= m - 1) {
			size_t i = (size_t)k * 64 + (size_t)__builtin_ctzll(m);
			if (host_words[i].n == n && eq_ci(s, n, host_words[i].s, n))
				return true;
		}
	return false;
}

/* strip_host_words - remove known words from both ends of the letter run [*b, *e): in each
 * round the first word of the table (in table order) that begins or ends the run, its start
 * tried before its end */
static void
strip_host_words(const char *s, size_t *b, size_t *e)
{
	pthread_once(&hw_once, hw_init);
	for (int round = 0; round < 8 && *e > *b; round++) {
		struct hw_set f = hw_of(hw_first, (unsigned char)s[*b]);
		struct hw_set l = hw_of(hw_last, (unsigned char)s[*e - 1]);
		size_t n = *e - *b;
		bool changed = false;

		for (int k = 0; k < HW_SETS && !changed; k++)
			for (uint64_t m = f.b[k] | l.b[k]; m != 0 && !changed; m &= m - 1) {
				uint64_t bit = m & -m;
				size_t i = (size_t)k * 64 + (size_t)__builtin_ctzll(m);
				const char *w = host_words[i].s;
				size_t wn = host_words[i].n;

				if (wn > n)
					continue;
				if ((f.b[k] & bit) && eq_ci(s + *b, wn, w, wn)) {
					*b += wn;
					changed = true;
				} else if ((l.b[k] & bit) && eq_ci(s + *e - wn, wn, w, wn)) {
					*e -= wn;
					changed = true;
				}
			}
		if (!changed)
			break;
	}
}

static bool
is_vowel(unsigned char c)
{
	c = lc(c);
	return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y';
}

/* letters_score - how unlike a word the letter run [b, e) is: rare letter pairs, few vowels,
 * long consonant runs. Runs under 5 letters (after known words are removed) say nothing. */
static double
letters_score(const char *s, size_t b, size_t e)
{
	size_t n, vowels = 0, run = 0, maxrun = 0, rare = 0;
	double sc = 0;

	strip_host_words(s, &b, &e);
	n = e - b;
	if (n < 5)
		return 0;
	for (size_t i = b; i < e; i++) {
		unsigned char c = lc((unsigned char)s[i]);

		if (is_vowel(c)) {
			vowels++;
			run = 0;
		} else if (++run > maxrun) {
			maxrun = run;
		}
		if (i + 1 < e && rare_pair(c, lc((unsigned char)s[i + 1])))
			rare++;
	}
	sc += 0.25 * (double)(rare > 3 ? 3 : rare);
	if (vowels == 0)
		sc += 0.5;
	else if ((double)vowels / (double)n < 0.2)
		sc += 0.3;
	if (maxrun >= 5)
		sc += 0.4;
	else if (maxrun == 4)
		sc += 0.15;
	return sc;
}

/* token_score - one alphanumeric run [b, e) */
static double
token_score(const char *s, size_t b, size_t e)
{
	size_t n = e - b, digits = 0, switches = 0, letter_runs = 0, xdigits = 0;
	bool word_run = false;
	double best = 0, sc;

	for (size_t i = b; i < e; i++) {
		unsigned char c = (unsigned char)s[i];

		digits += is_digit(c);
		xdigits += is_xdigit(c);
		if (i > b && is_digit(c) != is_digit((unsigned char)s[i - 1]))
			switches++;
	}
	if (n < 4 || digits == n)
		return 0;
	/* a hex string with digits and letters: ids, MAC or hashed addresses, container names */
	if (n >= 8 && xdigits == n && digits > 0)
		return 0.95;
	/* digits in the middle of letters, or letters in the middle of digits, several times */
	if (switches >= 3 && n >= 6)
		return 0.9;
	for (size_t i = b; i < e;) {
		size_t j = i;

		if (is_digit((unsigned char)s[i])) {
			i++;
			continue;
		}
		while (j < e && !is_digit((unsigned char)s[j]))
			j++;
		letter_runs++;
		if (j - i >= 3 && host_word(s + i, j - i))
			word_run = true;
		sc = letters_score(s, i, j);
		if (sc > best)
			best = sc;
		i = j;
	}
	/* letters-digits-letters (g09pmirpcam): no word in it and long enough to be chosen by a
	 * program rather than a person */
	if (switches == 2 && n >= 8 && letter_runs >= 1 && !word_run && best < 0.6)
		best = 0.6 + best / 2;
	return best > 1 ? 1 : best;
}

bool
name_looks_random(const char *label, size_t len, double *score)
{
	double best = 0;

	if (label == NULL || prefix_ci(label, len, "xn--"))
		len = 0; /* no label, or an IDNA A-label: its Punycode always looks random */
	if (len > RANDOM_SCAN_MAX)
		len = RANDOM_SCAN_MAX;
	for (size_t i = 0; i < len;) {
		size_t j = i;

		if (!is_alnum((unsigned char)label[i])) {
			/* not a host name: nothing to judge by these rules */
			if ((unsigned char)label[i] >= 0x80) {
				best = 0;
				break;
			}
			i++;
			continue;
		}
		while (j < len && is_alnum((unsigned char)label[j]))
			j++;
		double t = token_score(label, i, j);
		if (t > best)
			best = t;
		i = j;
	}
	if (score != NULL)
		*score = best;
	return best >= 0.5;
}

/* ---- relay probes ------------------------------------------------------------------------ */

static const char *const probe_names[PROBE_REASON_COUNT] = {
    "self_in_text",  "scanner_text", "sender_is_rcpt",
    "routing_trick", "probe_rcpts",  "relay_subject",
};

static const char *const probe_labels[PROBE_REASON_COUNT] = {
#define X(n, b, l) [b] = l,
    PROBE_REASONS(X)
#undef X
};

const char *
probe_reason_name(unsigned bit)
{
	return bit < PROBE_REASON_COUNT ? probe_names[bit] : "unknown";
}

const char *
probe_reason_label(unsigned bit)
{
	return bit < PROBE_REASON_COUNT ? probe_labels[bit] : "unknown";
}

/* Phrases of open-relay and proxy checkers, lower case, grouped by first letter so a word start
 * is compared only with the phrases that can begin there. A space matches any run of
 * non-alphanumeric bytes or none ("open relay" = "open-relay" = "openrelay"); a phrase starts
 * at a word start and may end inside a word ("relay test" matches "relay testing"). */
static const char *const ph_a[] = {"abuse net relay", "anti relay", NULL};
static const char *const ph_c[] = {"check relay", "checking proxy", "check succeded",
                                   "check succeeded", NULL};
static const char *const ph_d[] = {"dsbl listme", "dsbl org", NULL};
static const char *const ph_m[] = {"mail relay", "mail abuse org", NULL};
static const char *const ph_n[] = {"nmap scanme", NULL};
static const char *const ph_o[] = {"open relay", "ordb org", NULL};
static const char *const ph_p[] = {"proxy check", "proxy test", "proxy judge", "proxyscan", NULL};
static const char *const ph_r[] = {"relay test",
                                   "relay check",
                                   "relay probe",
                                   "relaying test",
                                   "relay ok",
                                   "relay succe",
                                   "relay is open",
                                   "relay allowed",
                                   "relay verification",
                                   "relays ordb",
                                   "relays osirusoft",
                                   "relayscan",
                                   NULL};
static const char *const ph_s[] = {"super webscan",    "smtp test",  "smtp check", "smtp relay",
                                   "smtp server test", "scan succe", NULL};
static const char *const ph_t[] = {"test relay", "testing relay", "test message", "this is a test",
                                   NULL};
static const char *const ph_w[] = {"webscan", NULL};
static const char *const *const scanner_phrases[26] = {
    ['a' - 'a'] = ph_a, ['c' - 'a'] = ph_c, ['d' - 'a'] = ph_d, ['m' - 'a'] = ph_m,
    ['n' - 'a'] = ph_n, ['o' - 'a'] = ph_o, ['p' - 'a'] = ph_p, ['r' - 'a'] = ph_r,
    ['s' - 'a'] = ph_s, ['t' - 'a'] = ph_t, ['w' - 'a'] = ph_w,
};

/* phrase_at - the phrase matches text at i (text[i] is a word start); see scanner_phrases */
static bool
phrase_at(const char *t, size_t n, size_t i, const char *p)
{
	for (; *p != '\0'; p++) {
		if (*p == ' ') {
			while (i < n && !is_alnum((unsigned char)t[i]))
				i++;
			continue;
		}
		if (i >= n || lc((unsigned char)t[i]) != (unsigned char)*p)
			return false;
		i++;
	}
	return true;
}

/* token_boundary_before / after - a host name or address token ends here: not part of a longer
 * dotted name, number or word ("82.155.248.2231" does not contain 82.155.248.223, "BC_82.…"
 * does) */
static bool
boundary_before(const char *t, size_t i)
{
	if (i == 0)
		return true;
	unsigned char c = (unsigned char)t[i - 1];
	return !is_alnum(c) && c != '.' && c != '-';
}

static bool
boundary_after(const char *t, size_t n, size_t j)
{
	if (j >= n)
		return true;
	unsigned char c = (unsigned char)t[j];
	if (is_alnum(c))
		return false;
	if ((c == '.' || c == '-') && j + 1 < n && is_alnum((unsigned char)t[j + 1]))
		return false;
	return true;
}

struct self_tokens {
	const char *tok[SELF_ADDRS_MAX + 1];
	size_t len[SELF_ADDRS_MAX + 1];
	size_t count;
};

/* self_tokens_init - the honeypot's host name and addresses, as texts to look for */
static void
self_tokens_init(struct self_tokens *st, const struct helo_self *self)
{
	st->count = 0;
	if (self == NULL)
		return;
	if (self->hostname != NULL) {
		size_t n = cstr_len(self->hostname, DOMAIN_MAX + 1);

		if (n > 0 && self->hostname[n - 1] == '.')
			n--;
		/* a one-label host name ("mail") would match ordinary words */
		if (n >= 4 && memchr(self->hostname, '.', n) != NULL) {
			st->tok[st->count] = self->hostname;
			st->len[st->count++] = n;
		}
	}
	for (size_t i = 0; self->addrs != NULL && i < SELF_ADDRS_MAX && self->addrs[i] != NULL;
	     i++) {
		const char *a = self->addrs[i];
		size_t n = cstr_len(a, 64);

		if (n >= 2 && a[0] == '[' && a[n - 1] == ']') {
			a++;
			n -= 2;
		}
		if (n >= 3 && st->count < SELF_ADDRS_MAX + 1) {
			st->tok[st->count] = a;
			st->len[st->count++] = n;
		}
	}
}

/* text_scan - one pass over a text: known scanner phrases (PROBE_SCANNER_TEXT) and the
 * honeypot's name or address as a token (PROBE_SELF_IN_TEXT) */
static unsigned
text_scan(const char *t, size_t n, const struct self_tokens *st)
{
	unsigned r = 0;

	if (t == NULL)
		return 0;
	if (n > PROBE_TEXT_MAX)
		n = PROBE_TEXT_MAX;
	for (size_t i = 0; i < n && r != (PROBE_SCANNER_TEXT | PROBE_SELF_IN_TEXT); i++) {
		unsigned char c = lc((unsigned char)t[i]);

		if (!(r & PROBE_SCANNER_TEXT) && is_alpha(c) &&
		    (i == 0 || !is_alnum((unsigned char)t[i - 1]))) {
			const char *const *g = scanner_phrases[c - 'a'];

			for (size_t k = 0; g != NULL && g[k] != NULL; k++) {
				/* the second letter decides most misses without a call */
				if (i + 1 < n && g[k][1] != ' ' &&
				    lc((unsigned char)t[i + 1]) != (unsigned char)g[k][1])
					continue;
				if (phrase_at(t, n, i, g[k])) {
					r |= PROBE_SCANNER_TEXT;
					break;
				}
			}
		}
		if (!(r & PROBE_SELF_IN_TEXT) && boundary_before(t, i)) {
			for (size_t k = 0; k < st->count; k++) {
				size_t m = st->len[k];

				if (m <= n - i && lc((unsigned char)st->tok[k][0]) == c &&
				    eq_ci(t + i, m, st->tok[k], m) && boundary_after(t, n, i + m)) {
					r |= PROBE_SELF_IN_TEXT;
					break;
				}
			}
		}
	}
	return r;
}

/* ip_token_shaped - the text is an IPv4 address or the honeypot's name with little around it:
 * "82.155.126.2", "BC_82.155.126.2", "[1.2.3.4]", "test 1.2.3.4:25" (at most 16 other printable
 * bytes); what relay testers put in a subject or body to learn which relay delivered */
static bool
ip_token_shaped(const char *t, size_t n, const struct self_tokens *st)
{
	unsigned char a[4];

	if (t == NULL)
		return false;
	trim(&t, &n);
	if (n == 0 || n > 96)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c < 0x20 || c >= 0x7f)
			return false;
	}
	for (size_t i = 0; i < n; i++) {
		size_t m = 0;

		if (!boundary_before(t, i))
			continue;
		if (is_digit((unsigned char)t[i]))
			m = ip4_scan(t + i, n - i, a);
		for (size_t k = 0; m == 0 && st != NULL && k < st->count; k++)
			if (st->len[k] <= n - i && eq_ci(t + i, st->len[k], st->tok[k], st->len[k]))
				m = st->len[k];
		if (m == 0 || !boundary_after(t, n, i + m))
			continue;
		return n - m <= 16;
	}
	return false;
}

/* Free-mail providers relay testers use as drop boxes (a message arriving there proves the
 * relay); a domain equal to one or ending in "." one matches */
static const struct word freemail[] = {
    W("gmail.com"),   W("googlemail.com"), W("yahoo.com"),      W("yahoo.com.tw"),
    W("yahoo.co.jp"), W("yahoo.co.uk"),    W("ymail.com"),      W("rocketmail.com"),
    W("hotmail.com"), W("hotmail.co.uk"),  W("live.com"),       W("msn.com"),
    W("outlook.com"), W("aol.com"),        W("mail.ru"),        W("inbox.ru"),
    W("bk.ru"),       W("list.ru"),        W("yandex.ru"),      W("yandex.com"),
    W("rambler.ru"),  W("qq.com"),         W("163.com"),        W("126.com"),
    W("yeah.net"),    W("sina.com"),       W("sina.com.cn"),    W("sohu.com"),
    W("gmx.com"),     W("gmx.de"),         W("gmx.net"),        W("web.de"),
    W("hinet.net"),   W("pchome.com.tw"),  W("seed.net.tw"),    W("yam.com"),
    W("kimo.com"),    W("protonmail.com"), W("proton.me"),      W("mail.com"),
    W("zoho.com"),    W("icloud.com"),     W("me.com"),         W("naver.com"),
    W("hanmail.net"), W("daum.net"),       W("rediffmail.com"), W("libero.it"),
    W("free.fr"),     W("laposte.net"),    W("t-online.de"),    W("wp.pl"),
    W("o2.pl"),       W("interia.pl"),     W("seznam.cz"),
};

/* Addresses of relay checkers themselves (nmap's smtp-open-relay script, abuse.net and the
 * old relay-test services): local parts and domains */
static const struct word probe_locals[] = {W("relaytest"),  W("relay-test"),  W("relay_test"),
                                           W("relaycheck"), W("relay-check"), W("testrelay"),
                                           W("opentest"),   W("relaytester")};
static const struct word probe_domains[] = {W("nmap.scanme.org"), W("scanme.org"),
                                            W("scanme.nmap.org"), W("relay-test.mail-abuse.org")};

static bool
domain_in(const char *d, size_t dn, const struct word *list, size_t count)
{
	if (dn > 0 && d[dn - 1] == '.')
		dn--;
	return suffix_in(d, dn, list, count);
}

/* bare_addr - the address without angle brackets and white space */
static void
bare_addr(const char **a, size_t *n)
{
	trim(a, n);
	if (*n > 0 && **a == '<') {
		(*a)++;
		(*n)--;
	}
	if (*n > 0 && (*a)[*n - 1] == '>')
		(*n)--;
	trim(a, n);
}

/* is_own_domain - the domain is the honeypot's (its domain, host name, a name inside its
 * domain, or an address literal of its own) */
static bool
is_own_domain(const char *d, size_t dn, const struct helo_self *self)
{
	struct ipbin ip;

	if (self == NULL)
		return false;
	if (dn > 2 && d[0] == '[' && d[dn - 1] == ']') {
		const char *in = d + 1;
		size_t inn = dn - 2;

		if (prefix_ci(in, inn, "ipv6:")) {
			in += 5;
			inn -= 5;
		}
		return ip_parse(in, inn, &ip) && self_has_addr(self, &ip);
	}
	if (dn > 0 && d[dn - 1] == '.')
		dn--;
	return self_name(self, d, dn);
}

/* routing_flags - PROBE_RCPT_* seen in one recipient as sent */
static unsigned
routing_flags(const char *a)
{
	size_t n = cstr_len(a, PROBE_ADDR_MAX), at = 0, ats = 0;
	unsigned f = 0;
	bool quoted = false;

	bare_addr(&a, &n);
	if (n == 0)
		return 0;
	if (a[0] == '@')
		f |= PROBE_RCPT_SOURCE_ROUTE;
	if (a[0] == '"')
		f |= PROBE_RCPT_QUOTED;
	for (size_t i = 0; i < n; i++) {
		if (a[i] == '"')
			quoted = !quoted;
		else if (a[i] == '@' && !quoted) {
			at = i;
			ats++;
		}
	}
	/* several @ outside quotes: user@foreign@ours is routing through us as well */
	if (ats > 1 && !(f & PROBE_RCPT_SOURCE_ROUTE))
		f |= PROBE_RCPT_PERCENT;
	size_t local = ats ? at : n;
	for (size_t i = 0; i < local; i++) {
		if (a[i] == '%')
			f |= PROBE_RCPT_PERCENT;
		else if (a[i] == '!')
			f |= PROBE_RCPT_BANG;
	}
	return f;
}

unsigned
probe_detect(const struct probe_input *in, const struct helo_self *self)
{
	struct self_tokens st;
	unsigned r = 0;
	size_t nr;

	if (in == NULL)
		return 0;
	self_tokens_init(&st, self);
	r |= text_scan(in->subject, in->subject ? in->subject_len : 0, &st);
	r |= text_scan(in->body, in->body ? in->body_len : 0, &st);

	const char *subj = in->subject;
	size_t sn = subj ? in->subject_len : 0;
	if (sn > PROBE_TEXT_MAX)
		sn = PROBE_TEXT_MAX;
	if (subj != NULL) {
		static const struct word test_subjects[] = {W("test"),         W("testing"),
		                                            W("test message"), W("relay"),
		                                            W("relay test"),   W("test relay")};
		const char *t = subj;
		size_t tn = sn;

		trim(&t, &tn);
		if (ip_token_shaped(subj, sn, &st))
			r |= PROBE_RELAY_SUBJECT;
		if (word_in(t, tn, test_subjects, NWORDS(test_subjects)))
			r |= PROBE_RELAY_SUBJECT;
	}

	nr = in->rcpts != NULL || in->rcpt_raw != NULL ? in->nrcpts : 0;
	if (nr > PROBE_RCPT_MAX)
		nr = PROBE_RCPT_MAX;

	/* routing tricks: as the session flagged them, or as seen in the recipients as sent */
	unsigned rf = in->rcpt_flags;
	for (size_t i = 0; i < nr; i++) {
		if (in->rcpt_raw != NULL && in->rcpt_raw[i] != NULL)
			rf |= routing_flags(in->rcpt_raw[i]);
		else if (in->rcpts != NULL && in->rcpts[i] != NULL)
			rf |= routing_flags(in->rcpts[i]);
	}
	if (rf &
	    (PROBE_RCPT_PERCENT | PROBE_RCPT_BANG | PROBE_RCPT_SOURCE_ROUTE | PROBE_RCPT_QUOTED))
		r |= PROBE_ROUTING_TRICK;

	/* sender equals a recipient on a domain that is not ours */
	if (in->mail_from != NULL && in->rcpts != NULL) {
		const char *f = in->mail_from;
		size_t fn = cstr_len(f, PROBE_ADDR_MAX), dn = 0;

		bare_addr(&f, &fn);
		const char *d = fn > 0 ? addr_domain(in->mail_from, &dn) : NULL;
		if (d != NULL && !is_own_domain(d, dn, self)) {
			for (size_t i = 0; i < nr; i++) {
				const char *a = in->rcpts[i];
				size_t an = cstr_len(a, PROBE_ADDR_MAX);

				if (a == NULL)
					continue;
				bare_addr(&a, &an);
				if (eq_ci(a, an, f, fn)) {
					r |= PROBE_SENDER_IS_RCPT;
					break;
				}
			}
		}
	}

	/* probe-like recipients: a relay checker's own address, or one or two drop boxes at a
	 * free-mail provider for a message that only carries an address token (or nothing) */
	bool rcpt_probe = false, drop = false;
	for (size_t i = 0; in->rcpts != NULL && i < nr; i++) {
		const char *a = in->rcpts[i];
		size_t an = cstr_len(a, PROBE_ADDR_MAX), dn = 0;
		const char *d;

		if (a == NULL)
			continue;
		bare_addr(&a, &an);
		d = addr_domain(in->rcpts[i], &dn);
		if (d == NULL || d - 1 < a)
			continue;
		size_t ln = (size_t)(d - 1 - a);
		if (word_in(a, ln, probe_locals, NWORDS(probe_locals)))
			rcpt_probe = true;
		if (domain_in(d, dn, probe_domains, NWORDS(probe_domains)))
			rcpt_probe = true;
		if (domain_in(d, dn, freemail, NWORDS(freemail)))
			drop = true;
	}
	if (drop && nr <= 2) {
		const char *b = in->body;
		size_t bn = b ? in->body_len : 0;
		const char *t = subj;
		size_t tn = sn;

		if (bn > PROBE_TEXT_MAX)
			bn = PROBE_TEXT_MAX;
		if (t != NULL)
			trim(&t, &tn);
		if (b != NULL)
			trim(&b, &bn);
		bool sent = in->subject != NULL || in->body != NULL;
		if (ip_token_shaped(subj, sn, &st) || ip_token_shaped(b, bn, &st) ||
		    (r & PROBE_SELF_IN_TEXT) || (sent && tn == 0 && bn == 0))
			rcpt_probe = true;
	}
	if (rcpt_probe)
		r |= PROBE_PROBE_RCPTS;
	return r;
}

/* ---- templates --------------------------------------------------------------------------- */

struct tout {
	char *buf;
	size_t cap; /* usable bytes, without the NUL */
	size_t len;
	bool full;
	/* a run of date-like pieces that may become one <date> */
	size_t run_start, run_end;
	bool in_run, run_strong, run_month, run_num;
	bool space; /* white space is pending before the next piece */
};

enum piece { P_OTHER, P_STRONG, P_MONTH, P_WEAK, P_NUM };

/* tput - append bytes whole or not at all (a placeholder is never cut) */
static void
tput(struct tout *o, const char *s, size_t n)
{
	if (o->full)
		return;
	if (n > o->cap - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

/* run_close - end the current date run: collapse it into <date> when it held a time or date,
 * or a month name with a number */
static void
run_close(struct tout *o)
{
	/* the run holds "<date>" or a month and "<n>", so the collapse never grows the output */
	if (o->in_run && (o->run_strong || (o->run_month && o->run_num)) && o->run_end <= o->len &&
	    o->run_start + 6 <= o->run_end) {
		size_t tail = o->len - o->run_end;

		memcpy(o->buf + o->run_start, "<date>", 6);
		memmove(o->buf + o->run_start + 6, o->buf + o->run_end, tail);
		o->len = o->run_start + 6 + tail;
	}
	o->in_run = o->run_strong = o->run_month = o->run_num = false;
}

/* tput_sp - pending white space and the bytes, both or neither (no trailing blank when the
 * output is full) */
static void
tput_sp(struct tout *o, const char *s, size_t n)
{
	bool sp = o->space && o->len > 0;

	if (o->full)
		return;
	if (n + sp > o->cap - o->len) {
		o->full = true;
		return;
	}
	if (sp)
		o->buf[o->len++] = ' ';
	o->space = false;
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

/* tpiece - write one piece (after pending white space) and keep the date run */
static void
tpiece(struct tout *o, enum piece k, const char *s, size_t n)
{
	if (k == P_OTHER)
		run_close(o);
	if (k != P_OTHER && !o->in_run) {
		o->in_run = true;
		o->run_start = o->len + (o->space && o->len > 0);
	}
	tput_sp(o, s, n);
	if (o->full)
		return; /* not written: must not count in a run */
	if (k != P_OTHER) {
		o->run_end = o->len;
		o->run_strong |= k == P_STRONG;
		o->run_month |= k == P_MONTH;
		o->run_num |= k == P_NUM;
	}
}

/* tpunct - one punctuation byte: a few join date pieces ("Sun, 07 Dec", "19:24:09 +0000"),
 * any other ends the run */
static void
tpunct(struct tout *o, char c)
{
	if (strchr(",:+-/.()", c) == NULL || !o->in_run)
		tpiece(o, P_OTHER, &c, 1);
	else {
		tput_sp(o, &c, 1);
		if (c == ')')
			o->run_end = o->len; /* "(UTC)" belongs to the date */
	}
}

static const struct word months[] = {
    W("jan"),  W("feb"),     W("mar"),       W("apr"),     W("may"),      W("jun"),
    W("jul"),  W("aug"),     W("sep"),       W("sept"),    W("oct"),      W("nov"),
    W("dec"),  W("january"), W("february"),  W("march"),   W("april"),    W("june"),
    W("july"), W("august"),  W("september"), W("october"), W("november"), W("december")};
static const struct word weekdays[] = {W("mon"),      W("tue"),       W("wed"),      W("thu"),
                                       W("fri"),      W("sat"),       W("sun"),      W("monday"),
                                       W("tuesday"),  W("wednesday"), W("thursday"), W("friday"),
                                       W("saturday"), W("sunday")};
static const struct word zones[] = {W("gmt"),  W("utc"), W("ut"),   W("est"), W("edt"), W("cst"),
                                    W("cdt"),  W("mst"), W("mdt"),  W("pst"), W("pdt"), W("cet"),
                                    W("cest"), W("wet"), W("west"), W("bst"), W("jst"), W("z")};

/* num_at - digits with thousands/decimal groups ("1,000,000", "3.5") from i; returns the end */
static size_t
num_at(const char *s, size_t n, size_t i)
{
	while (i < n && is_digit((unsigned char)s[i]))
		i++;
	while (i + 1 < n && (s[i] == ',' || s[i] == '.') && is_digit((unsigned char)s[i + 1])) {
		i++;
		while (i < n && is_digit((unsigned char)s[i]))
			i++;
	}
	return i;
}

/* date_at - a date or time starting at i: yyyy-mm-dd, d/m/yy(yy), hh:mm(:ss); returns the end
 * or i when none */
static size_t
date_at(const char *s, size_t n, size_t i)
{
	size_t j = i, d1 = 0;

	while (j < n && is_digit((unsigned char)s[j]) && d1 < 5) {
		j++;
		d1++;
	}
	if (j >= n || d1 == 0)
		return i;
	char sep = s[j];
	if (sep != '-' && sep != '/' && sep != ':')
		return i;
	size_t parts = 1, k = j;
	while (k < n && s[k] == sep && parts < 3) {
		size_t b = k + 1, e = b;

		while (e < n && is_digit((unsigned char)s[e]) && e - b < 4)
			e++;
		if (e - b == 0)
			break;
		k = e;
		parts++;
	}
	if (k < n && is_digit((unsigned char)s[k]))
		return i;
	if (sep == ':' && d1 <= 2 && parts >= 2) {
		if (k < n && (s[k] == 'Z' || s[k] == 'z'))
			k++;
		return k; /* time, "Z" for UTC */
	}
	if (sep == '-' && d1 == 4 && parts == 3) {
		/* ISO 8601 date-time: the time after T is part of it */
		if (k + 1 < n && (s[k] == 'T' || s[k] == 't') &&
		    is_digit((unsigned char)s[k + 1])) {
			size_t t = date_at(s, n, k + 1);

			if (t > k + 1)
				return t;
		}
		return k; /* ISO date */
	}
	if (sep == '/' && d1 <= 4 && parts == 3)
		return k; /* d/m/y, m/d/y, y/m/d */
	return i;
}

/* ip6_at - an IPv6 address starting at i (hex digits, colons, an embedded dotted quad; at least
 * two colons); returns its end, or i when there is none */
static size_t
ip6_at(const char *s, size_t n, size_t i)
{
	struct ipbin ip;
	size_t j = i, colons = 0, hex = 0;

	while (j < n && j - i < 46 &&
	       (is_xdigit((unsigned char)s[j]) || s[j] == ':' || s[j] == '.')) {
		colons += s[j] == ':';
		hex += is_xdigit((unsigned char)s[j]);
		j++;
	}
	if (colons < 2 || hex == 0 || (j < n && is_alnum((unsigned char)s[j])))
		return i;
	/* punctuation that ends a sentence is not part of the address */
	while (j > i && (s[j - 1] == '.' || (s[j - 1] == ':' && (j - i < 2 || s[j - 2] != ':'))))
		j--;
	return ip_parse(s + i, j - i, &ip) ? j : i;
}

/* alnum_run - classify one alphanumeric run: a word, a number or an id */
static void
alnum_run(struct tout *o, const char *s, size_t b, size_t e)
{
	size_t n = e - b, digits = 0, switches = 0, xd = 0, upper = 0, lower = 0, caseflips = 0;
	char w[64];

	for (size_t i = b; i < e; i++) {
		unsigned char c = (unsigned char)s[i];

		digits += is_digit(c);
		xd += is_xdigit(c);
		upper += (c >= 'A' && c <= 'Z');
		lower += (c >= 'a' && c <= 'z');
		if (i > b && is_digit(c) != is_digit((unsigned char)s[i - 1]))
			switches++;
		if (i > b && is_alpha(c) && is_alpha((unsigned char)s[i - 1]) &&
		    ((c >= 'A' && c <= 'Z') != (s[i - 1] >= 'A' && s[i - 1] <= 'Z')))
			caseflips++;
	}
	if (digits > 0 && digits < n &&
	    (switches >= 3 || (n >= 8 && switches >= 2) || (n >= 8 && xd == n) ||
	     (n >= 6 && name_looks_random(s + b, n, NULL)))) {
		tpiece(o, P_OTHER, "<id>", 4);
		return;
	}
	/* letters only: base64-like case mixing, very long runs, and hash-buster words that look
	 * machine-generated (the same heuristic as for host names) */
	if (digits == 0 && (n >= 32 || (n >= 16 && upper > 0 && lower > 0 && caseflips >= 4) ||
	                    (n >= 6 && name_looks_random(s + b, n, NULL)))) {
		tpiece(o, P_OTHER, "<id>", 4);
		return;
	}
	if (digits == 0) {
		enum piece k = P_OTHER;

		if (word_in(s + b, n, months, NWORDS(months)))
			k = P_MONTH;
		else if (word_in(s + b, n, weekdays, NWORDS(weekdays)) ||
		         (o->in_run && word_in(s + b, n, zones, NWORDS(zones))))
			k = P_WEAK;
		if (n <= sizeof(w)) {
			for (size_t i = 0; i < n; i++)
				w[i] = (char)lc((unsigned char)s[b + i]);
			tpiece(o, k, w, n);
		} else {
			tpiece(o, k, "", 0);
			for (size_t i = b; i < e; i++) {
				char c = (char)lc((unsigned char)s[i]);
				tput(o, &c, 1);
			}
		}
		return;
	}
	/* letters with digit runs: "100mg", "mp3", "win32" keep their letters */
	bool first = true;
	for (size_t i = b; i < e;) {
		size_t j = i;

		if (is_digit((unsigned char)s[i])) {
			while (j < e && is_digit((unsigned char)s[j]))
				j++;
			if (first)
				tpiece(o, P_OTHER, "<n>", 3);
			else
				tput(o, "<n>", 3);
		} else {
			while (j < e && !is_digit((unsigned char)s[j]))
				j++;
			if (first)
				tpiece(o, P_OTHER, "", 0);
			for (size_t k = i; k < j; k++) {
				char c = (char)lc((unsigned char)s[k]);
				tput(o, &c, 1);
			}
		}
		first = false;
		i = j;
	}
}

/* generic - a chunk with no whole-chunk meaning: addresses, dates, numbers, ids and words inside
 * it, punctuation kept, control bytes and invalid UTF-8 as '?' */
static void
generic(struct tout *o, const char *s, size_t n)
{
	unsigned char a[4];

	for (size_t i = 0; i < n && !o->full;) {
		unsigned char c = (unsigned char)s[i];
		bool start = i == 0 || !is_alnum((unsigned char)s[i - 1]);
		size_t e;

		if ((is_xdigit(c) || c == ':') && start) {
			e = ip6_at(s, n, i);
			if (e > i) {
				tpiece(o, P_OTHER, "<ip>", 4);
				i = e;
				continue;
			}
		}
		if (is_digit(c) && start) {
			e = ip4_scan(s + i, n - i, a);
			if (e > 0 && boundary_after(s, n, i + e)) {
				tpiece(o, P_OTHER, "<ip>", 4);
				i += e;
				continue;
			}
			e = date_at(s, n, i);
			if (e > i && (e >= n || !is_alnum((unsigned char)s[e]))) {
				tpiece(o, P_STRONG, "<date>", 6);
				i = e;
				continue;
			}
			e = num_at(s, n, i);
			if (e >= n || !is_alpha((unsigned char)s[e])) {
				tpiece(o, P_NUM, "<n>", 3);
				i = e;
				continue;
			}
		}
		if (is_alnum(c)) {
			e = i;
			while (e < n && is_alnum((unsigned char)s[e]))
				e++;
			alnum_run(o, s, i, e);
			i = e;
			continue;
		}
		if (c >= 0x80) {
			size_t k = utf8_seq((const unsigned char *)s + i, n - i);

			if (k == 0) {
				tpiece(o, P_OTHER, "?", 1);
				i++;
			} else {
				tpiece(o, P_OTHER, s + i, k);
				i += k;
			}
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			tpiece(o, P_OTHER, "?", 1);
			i++;
			continue;
		}
		tpunct(o, (char)c);
		i++;
	}
}

/* is_email / is_host / is_url - whole-chunk shapes (the chunk without surrounding punctuation) */
static bool
is_email(const char *s, size_t n)
{
	const char *at = memchr(s, '@', n);
	size_t dn;

	if (at == NULL || at == s)
		return false;
	dn = n - (size_t)(at - s) - 1;
	if (dn < 3)
		return false;
	return memchr(at + 1, '.', dn) != NULL || at[1] == '[';
}

static bool
is_host(const char *s, size_t n)
{
	int labels = 0;
	size_t ro, rl;
	size_t last = n;

	if (n < 4 || memchr(s, '.', n) == NULL)
		return false;
	if (!domain_syntax(s, n, &labels, &ro, &rl) || labels < 2)
		return false;
	while (last > 0 && s[last - 1] != '.')
		last--;
	if (n - last < 2)
		return false;
	for (size_t i = last; i < n; i++)
		if (!is_alpha((unsigned char)s[i]))
			return false;
	return true;
}

static bool
is_url(const char *s, size_t n)
{
	for (size_t i = 1; i + 3 <= n; i++)
		if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/')
			return i + 3 < n;
	return prefix_ci(s, n, "www.") && n > 6;
}

/* chunk - one run of non-white bytes */
static void
chunk(struct tout *o, const char *s, size_t n)
{
	size_t b = 0, e = n;
	struct ipbin ip;
	const char *ph = NULL;

	while (b < e && strchr("([{<\"'", s[b]) != NULL && s[b] != '\0')
		b++;
	while (e > b && strchr(")]}>\"'.,;:!?", s[e - 1]) != NULL && s[e - 1] != '\0')
		e--;
	/* give back a ']' that closes an address literal inside: user@[1.2.3.4] */
	if (e < n && s[e] == ']' && e > b && memchr(s + b, '[', e - b) != NULL &&
	    memchr(s + b, ']', e - b) == NULL)
		e++;
	if (e > b) {
		const char *c = s + b;
		size_t cn = e - b;

		if (is_url(c, cn))
			ph = "<url>";
		else if (is_email(c, cn))
			ph = "<email>";
		else if (memchr(c, ':', cn) != NULL && ip_parse(c, cn, &ip))
			ph = "<ip>";
		else if (prefix_ci(c, cn, "ipv6:") && ip_parse(c + 5, cn - 5, &ip))
			ph = "<ip>";
		else if (is_host(c, cn))
			ph = "<host>";
	}
	if (ph == NULL) {
		generic(o, s, n);
		return;
	}
	for (size_t i = 0; i < b; i++)
		tpunct(o, s[i]);
	tpiece(o, P_OTHER, ph, strlen(ph));
	for (size_t i = e; i < n; i++)
		tpunct(o, s[i]);
}

size_t
template_normalise_prefix(const char *text, size_t len, char *out, size_t outlen, size_t want,
                          bool *cut)
{
	struct tout o;

	if (cut != NULL)
		*cut = false;
	if (out == NULL || outlen == 0)
		return 0;
	if (want >= outlen)
		want = 0;
	memset(&o, 0, sizeof(o));
	o.buf = out;
	o.cap = outlen - 1;
	if (text == NULL)
		len = 0;
	if (len > TEMPLATE_IN_MAX)
		len = TEMPLATE_IN_MAX;
	for (size_t i = 0; i < len && !o.full;) {
		size_t j = i;

		/* Only a date run can still rewrite what was written (from its start); once
		 * want bytes lie before any open run, they are what the whole text would give. */
		if (want > 0 && o.len >= want && (!o.in_run || o.run_start >= want)) {
			out[want] = '\0';
			if (cut != NULL)
				*cut = true;
			return want;
		}
		if (is_space((unsigned char)text[i])) {
			o.space = true;
			i++;
			continue;
		}
		while (j < len && !is_space((unsigned char)text[j]))
			j++;
		chunk(&o, text + i, j - i);
		i = j;
	}
	run_close(&o);
	/* a run that ends the text may have left trailing white space pending: never written */
	out[o.len] = '\0';
	return o.len;
}

size_t
template_normalise(const char *text, size_t len, char *out, size_t outlen)
{
	return template_normalise_prefix(text, len, out, outlen, 0, NULL);
}
