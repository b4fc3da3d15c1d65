/* SPDX-License-Identifier: ISC */
/*
 * proxy - HAProxy PROXY protocol v1 (text) and v2 (binary) header parser. Pure: the caller
 * reads bytes and asks whether a complete header is there.
 *
 * Owns: nothing.
 * Public: proxy_parse.
 * Limits: v1 headers are at most 107 bytes; v2 headers at most 16 + 65535 bytes but we accept
 *         at most PROXY_V2_MAX; TLVs are skipped.
 */
#ifndef RT_PROXY_H
#define RT_PROXY_H

#include <stddef.h>
#include <sys/socket.h>

#define PROXY_V1_MAX 107
#define PROXY_V2_MAX 4096

enum proxy_result {
	PROXY_NEED_MORE = 0, /* not enough bytes yet to decide */
	PROXY_OK = 1,        /* header parsed; *consumed bytes belong to it */
	PROXY_LOCAL = 2,     /* v2 LOCAL command or v1 "UNKNOWN": keep the socket's own addresses */
	PROXY_BAD = -1,      /* not a valid PROXY header */
};

struct proxy_info {
	int version; /* 1 or 2 */
	struct sockaddr_storage src;
	struct sockaddr_storage dst;
	size_t consumed;
};

/* proxy_parse - look at the first len bytes received on a connection */
enum proxy_result proxy_parse(const unsigned char *buf, size_t len, struct proxy_info *out);

#endif
