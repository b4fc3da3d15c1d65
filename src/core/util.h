/* SPDX-License-Identifier: ISC */
/*
 * util - small helpers shared by every module: number parsing, clocks, randomness, base64.
 *
 * Public: parse_num, parse_size, parse_duration_ms, now_mono_us, now_real_us, cpu_self_us,
 * rand_buf,
 * rand_uniform, b64_decode, b64_encode, hex_encode, fmt_rfc3339, fmt_ipv4. Limits: none of these
 * allocate; callers pass output buffers and their sizes.
 */
#ifndef RT_UTIL_H
#define RT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* POISON / UNPOISON - mark memory a free list or an arena keeps as not to be touched (and
 * back), so that AddressSanitizer builds still catch a use after it was given back */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* seterr - format an error message into the caller's buffer (NULL or size 0: nothing) */
void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* mkdir_p - create a directory and its parents (mode 0750); existing ones are fine; 0 or -1 */
int mkdir_p(const char *path);

/* parse_num - parse a whole decimal number in [min,max]; 0 or -1 (errstr says why) */
int parse_num(const char *s, long long min, long long max, long long *out, const char **errstr);
/* parse_size - "4096", "10k", "20M", "1G" (binary multiples) into bytes; 0 or -1 */
int parse_size(const char *s, uint64_t *out, const char **errstr);
/* parse_duration_ms - "250ms", "10s", "5m", "1h", plain number = seconds; 0 or -1 */
int parse_duration_ms(const char *s, uint64_t *out, const char **errstr);

/* zalloc - n zeroed bytes, or NULL. glibc's calloc (before 2.41) never takes a chunk from the
 * per-thread cache: every call goes to the arena's bins, which is slow once long-lived blocks
 * (the DNS cache) are spread through the heap. malloc + memset takes the cache for small
 * sizes (the memset is called so that compilers cannot fuse the two into calloc again): use it
 * for what is allocated per session and per lookup. */
void *zalloc(size_t n);

/* now_mono_us - monotonic clock in microseconds */
uint64_t now_mono_us(void);
/* now_real_us - wall clock in microseconds since the epoch */
uint64_t now_real_us(void);
/* cpu_self_us - CPU time (user and system) this process has used, in microseconds */
uint64_t cpu_self_us(void);
/* fmt_rfc3339 - "2026-11-27T10:53:36.123456Z" from epoch microseconds; out must hold 32 bytes */
void fmt_rfc3339(uint64_t real_us, char *out, size_t outlen);
/* fmt_ipv4 - the dotted quad of a (network order), as inet_ntop writes it, without its
 * sprintf; false (out untouched) when outlen is below 16 */
bool fmt_ipv4(const unsigned char a[4], char *out, size_t outlen);

/* rand_buf - fill with cryptographically strong random bytes (arc4random_buf) */
void rand_buf(void *buf, size_t len);
/* rand_uniform - uniform random number in [0, bound) */
uint32_t rand_uniform(uint32_t bound);
/* rand_chars - n characters drawn uniformly from set (setlen of them, 2 to 256) into out, with
 * one rand_buf call per 64 bytes drawn instead of one random call per character */
void rand_chars(char *out, size_t n, const char *set, size_t setlen);

/* b64_decode - standard base64 (padding optional, whitespace not allowed); returns decoded length
 * or -1 on invalid input or if out (outlen bytes) is too small */
long b64_decode(const char *in, size_t inlen, unsigned char *out, size_t outlen);
/* b64_encode - standard base64 with padding, NUL-terminated; returns length or -1 if too small */
long b64_encode(const unsigned char *in, size_t inlen, char *out, size_t outlen);
/* hex_encode - lower-case hex, NUL-terminated; out needs 2*inlen+1 bytes; returns 0 or -1 */
int hex_encode(const unsigned char *in, size_t inlen, char *out, size_t outlen);

#endif
