/* SPDX-License-Identifier: ISC */
/*
 * fuzz_proxy - the PROXY protocol v1/v2 parser (src/net/proxy.c) on any bytes, whole and cut.
 *
 * Input: the first bytes a proxied connection delivers.
 * Checks: a header that is OK or LOCAL was consumed inside the input and inside the version's
 * limit, with AF_INET/AF_INET6 addresses when OK; and the verdict is incremental as the header
 * says: once a prefix of the input gives OK, LOCAL or BAD, the whole input gives the same
 * verdict (same length, same addresses), so a header read in several pieces is judged as when
 * read at once.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "net/proxy.h"

#define PREFIX_ALL 128

/* same_verdict - r/pi for a prefix agree with the whole input's R/whole */
static void
same_verdict(enum proxy_result r, const struct proxy_info *pi, enum proxy_result R,
             const struct proxy_info *whole)
{
	if (r == PROXY_NEED_MORE)
		return;
	FZ_CHECK(r == R);
	if (r == PROXY_BAD)
		return;
	FZ_CHECK(pi->consumed == whole->consumed && pi->version == whole->version);
	if (r == PROXY_OK)
		FZ_CHECK(memcmp(&pi->src, &whole->src, sizeof(pi->src)) == 0 &&
		         memcmp(&pi->dst, &whole->dst, sizeof(pi->dst)) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_info whole, pi;
	enum proxy_result R, r;
	unsigned char *buf;
	size_t k;

	/* an exact-size heap copy, so ASan catches any read past the end */
	buf = malloc(size + 1);
	FZ_CHECK(buf != NULL);
	memcpy(buf, data, size);
	R = proxy_parse(buf, size, &whole);
	FZ_CHECK(R == PROXY_NEED_MORE || R == PROXY_OK || R == PROXY_LOCAL || R == PROXY_BAD);
	if (R == PROXY_OK || R == PROXY_LOCAL) {
		FZ_CHECK(whole.consumed > 0 && whole.consumed <= size);
		FZ_CHECK(whole.version == 1 || whole.version == 2);
		FZ_CHECK(whole.version == 2 || whole.consumed <= PROXY_V1_MAX);
		FZ_CHECK(whole.version == 1 || whole.consumed <= PROXY_V2_MAX);
	}
	if (R == PROXY_OK)
		FZ_CHECK((whole.src.ss_family == AF_INET || whole.src.ss_family == AF_INET6) &&
		         whole.dst.ss_family == whole.src.ss_family);
	for (k = 0; k < size && k <= PREFIX_ALL; k++) {
		r = proxy_parse(buf, k, &pi);
		same_verdict(r, &pi, R, &whole);
	}
	if (R == PROXY_OK || R == PROXY_LOCAL) {
		for (k = whole.consumed - 1; k <= whole.consumed && k < size; k++) {
			r = proxy_parse(buf, k, &pi);
			same_verdict(r, &pi, R, &whole);
		}
		/* the consumed bytes alone are the same header */
		FZ_CHECK(proxy_parse(buf, whole.consumed, &pi) == R);
	}
	r = proxy_parse(buf, size / 2, &pi);
	same_verdict(r, &pi, R, &whole);
	FZ_CHECK(proxy_parse(NULL, 0, NULL) == PROXY_NEED_MORE);
	free(buf);
	return 0;
}
