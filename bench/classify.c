/* SPDX-License-Identifier: ISC */
/*
 * bench/classify - speed of the report's classifiers and quality of the machine-generated
 * name heuristic. Prints figures; asserts nothing.
 *
 *   build/bench_classify [WORDLIST]
 *
 * Speed: calls per CPU second for helo_classify, probe_detect and template_normalise on typical
 * inputs and on worst cases (64 KiB names, 1 MiB bodies of one repeated byte, hostile bytes).
 * Quality: share of random strings name_looks_random flags (detection), and share of the words
 * of WORDLIST (default /usr/share/dict/words, Debian's wamerican) it flags (false positives).
 * Random strings come from a fixed-seed xorshift generator, so figures repeat run to run.
 */
#include "report/classify.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng = 88172645463325252ull;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: the machine may be shared */
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const self_addrs[] = {"82.155.248.223", NULL};
static const struct helo_self self = {"bps-pc9.local.mynet", "BPS-PC9", "local.mynet", self_addrs};

static volatile unsigned sink;

static void
report(const char *what, long calls, double secs)
{
	printf("  %-44s %10.0f calls/s  %8.2f us/call\n", what, (double)calls / secs,
	       secs * 1e6 / (double)calls);
}

static void
bench_helo(void)
{
	static const char *const names[] = {
	    "localhost",          "user-3i39rqqo1r",  "premier-ksxhhv6",         "mta101",
	    "msg-g09pmirpcam",    "82.155.248.223",   "[118.165.91.55]",         "mx1.qq.com",
	    "bxvmta.mailgun.net", "mail.contoso.com", "DESKTOP-7G2K1QF",         "my_pc",
	    "[IPv6:2001:db8::1]", "printer.local",    "mail.xn--80ak6aa92e.com",
	};
	size_t nn = sizeof(names) / sizeof(names[0]), lens[sizeof(names) / sizeof(names[0])];
	long calls = 2000000;
	double t;

	for (size_t i = 0; i < nn; i++)
		lens[i] = strlen(names[i]);
	t = now();
	for (long i = 0; i < calls; i++)
		sink +=
		    helo_classify(names[i % (long)nn], lens[i % (long)nn], "118.165.91.55", &self);
	report("helo_classify, seed-like names", calls, now() - t);

	char big[1024];
	memset(big, 'a', sizeof(big));
	for (size_t i = 63; i < 255; i += 64)
		big[i] = '.';
	calls = 500000;
	t = now();
	for (long i = 0; i < calls; i++)
		sink += helo_classify(big, 255, "118.165.91.55", &self);
	report("helo_classify, 255-byte name", calls, now() - t);

	size_t hn = 64 * 1024;
	char *huge = malloc(hn);
	memset(huge, 'a', hn);
	t = now();
	for (long i = 0; i < calls; i++)
		sink += helo_classify(huge, hn, "118.165.91.55", &self);
	report("helo_classify, 64 KiB name", calls, now() - t);
	free(huge);
}

static void
bench_probe(void)
{
	const char *rcpt1[] = {"check3r@yahoo.com.tw"};
	const char *rcpts[] = {"a@x.example", "b@y.example", "c@z.example"};
	struct probe_input seed = {0}, spam = {0}, worst = {0};
	long calls = 1000000;
	double t;

	seed.subject = "Super webscan open relay check succeded, hostname = 82.155.248.223";
	seed.subject_len = strlen(seed.subject);
	seed.body = "";
	seed.mail_from = "";
	seed.rcpts = rcpt1;
	seed.nrcpts = 1;
	t = now();
	for (long i = 0; i < calls; i++)
		sink += probe_detect(&seed, &self);
	report("probe_detect, seed Super webscan", calls, now() - t);

	static char body[2048];
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = "Dear friend, buy cheap watches and pills today at our store. "[i % 61];
	spam.subject = "Cheap Rolex watches 80% off, only today";
	spam.subject_len = strlen(spam.subject);
	spam.body = body;
	spam.body_len = sizeof(body);
	spam.mail_from = "news@shop.example";
	spam.rcpts = rcpts;
	spam.nrcpts = 3;
	calls = 100000;
	t = now();
	for (long i = 0; i < calls; i++)
		sink += probe_detect(&spam, &self);
	report("probe_detect, spam with a 2 KiB body", calls, now() - t);

	size_t bn = 1024 * 1024;
	char *big = malloc(bn);
	memset(big, 'r', bn); /* every byte a word start candidate for "relay ..." phrases */
	for (size_t i = 0; i < bn; i += 2)
		big[i] = ' ';
	worst.subject = big;
	worst.subject_len = bn;
	worst.body = big;
	worst.body_len = bn;
	worst.mail_from = "a@b.example";
	worst.rcpts = rcpts;
	worst.nrcpts = 3;
	calls = 20000;
	t = now();
	for (long i = 0; i < calls; i++)
		sink += probe_detect(&worst, &self);
	report("probe_detect, 1 MiB \"r r r ...\" subject+body", calls, now() - t);
	free(big);
}

static void
bench_template(void)
{
	static const char *const subjects[] = {
	    "Super webscan open relay check succeded, hostname = 82.155.248.223",
	    "BC_82.155.126.2",
	    "Your order #12345 has shipped on 2009-01-11",
	    "Re: Cheap meds 80% off, only $1,299.99 at www.pills.example",
	    "Sun, 07 Dec 08 19:24:09 GMT news from bob@example.com",
	};
	char out[512];
	long calls = 1000000;
	size_t ns = sizeof(subjects) / sizeof(subjects[0]), lens[5];
	double t;

	for (size_t i = 0; i < ns; i++)
		lens[i] = strlen(subjects[i]);
	t = now();
	for (long i = 0; i < calls; i++)
		sink += (unsigned)template_normalise(subjects[i % (long)ns], lens[i % (long)ns],
		                                     out, sizeof(out));
	report("template_normalise, subjects", calls, now() - t);

	size_t bn = 1024 * 1024;
	char *big = malloc(bn), *o = malloc(8192);
	for (size_t i = 0; i < bn; i++)
		big[i] = (char)(i * 7919 % 251);
	calls = 20000;
	t = now();
	for (long i = 0; i < calls; i++)
		sink += (unsigned)template_normalise(big, bn, o, 8192);
	report("template_normalise, 1 MiB hostile bytes", calls, now() - t);
	free(big);
	free(o);
}

static void
quality(const char *words)
{
	char b[64];
	int n = 100000;

	printf("name_looks_random detection (share of %d random strings flagged):\n", n);
	for (int len = 5; len <= 12; len++) {
		int hl = 0, ha = 0;

		for (int i = 0; i < n; i++) {
			for (int k = 0; k < len; k++)
				b[k] = (char)('a' + rnd(26));
			hl += name_looks_random(b, (size_t)len, NULL);
			for (int k = 0; k < len; k++) {
				uint32_t r = rnd(36);
				b[k] = (char)(r < 26 ? 'a' + (int)r : '0' + (int)r - 26);
			}
			ha += name_looks_random(b, (size_t)len, NULL);
		}
		printf("  length %2d: letters %5.1f%%   letters+digits %5.1f%%\n", len,
		       100.0 * hl / n, 100.0 * ha / n);
	}

	FILE *f = fopen(words, "r");
	if (f == NULL) {
		printf("false positives: %s not readable (apt-get install wamerican)\n", words);
		return;
	}
	long total = 0, flagged = 0;
	char line[256];
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t l = strcspn(line, "\r\n");

		line[l] = '\0';
		if (l < 5 || strchr(line, '\'') != NULL)
			continue;
		total++;
		flagged += name_looks_random(line, l, NULL);
	}
	fclose(f);
	printf("false positives: %ld of %ld words of 5+ bytes in %s (%.3f%%)\n", flagged, total,
	       words, total ? 100.0 * (double)flagged / (double)total : 0.0);
}

int
main(int argc, char **argv)
{
	printf("speed (one core):\n");
	bench_helo();
	bench_probe();
	bench_template();
	quality(argc > 1 ? argv[1] : "/usr/share/dict/words");
	return 0;
}
