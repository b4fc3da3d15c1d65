/* SPDX-License-Identifier: ISC */
/*
 * fuzz_config - the configuration parser (src/core/config.c) on any bytes.
 *
 * Input: byte 0 (mod 4) chooses what the rest is: 0 a config file (read by config_load_file
 * from a memfd, then config_check); 1 lines given to config_add_listener ("--listen"); 2 lines
 * given to config_add_proxy_from and cidr_parse; 3 lines "KEY=VALUE" given to config_set
 * ("--set").
 * Checks: every refusal is a one-line message without control bytes, and a file's names the
 * file ("PATH:LINE: ..."); an accepted config keeps its counts inside their arrays and its
 * strings NUL-terminated; a parsed CIDR has a prefix in range, no host bits, and contains its
 * own network address.
 */
#include "fuzz.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/config.h"

static int memfd = -1;
static char path[64];

/* msg_ok - one line, no control bytes but tab, starts with prefix (NULL: anything) */
static bool
msg_ok(const char *msg, const char *prefix)
{
	const char *c;

	if (msg[0] == '\0')
		return false;
	if (prefix != NULL && strncmp(msg, prefix, strlen(prefix)) != 0)
		return false;
	for (c = msg; *c != '\0'; c++)
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
			return false;
	return true;
}

/* check_msg - abort with the message shown when it is not a proper one-line error */
static void
check_msg(const char *msg, const char *prefix)
{
	if (!msg_ok(msg, prefix)) {
		fprintf(stderr, "error message: '%s'\n", msg);
		fz_fail(__FILE__, __LINE__, "bad error message");
	}
}

/* nul_inside - NUL-terminated inside size bytes */
static bool
nul_inside(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static void
config_ok(const struct config *c)
{
	size_t i;

	FZ_CHECK(c->nlisteners <= CONFIG_MAX_LISTENERS && c->nproxy_from <= CONFIG_MAX_PROXY_FROM);
	FZ_CHECK(nul_inside(c->sensor, sizeof(c->sensor)) &&
	         nul_inside(c->persona, sizeof(c->persona)) &&
	         nul_inside(c->persona_dir, sizeof(c->persona_dir)) &&
	         nul_inside(c->hostname, sizeof(c->hostname)) &&
	         nul_inside(c->netbios, sizeof(c->netbios)) &&
	         nul_inside(c->domain, sizeof(c->domain)) &&
	         nul_inside(c->data_dir, sizeof(c->data_dir)) &&
	         nul_inside(c->user, sizeof(c->user)));
	for (i = 0; i < c->nlisteners; i++) {
		const struct listener_conf *l = &c->listeners[i];

		FZ_CHECK(nul_inside(l->name, sizeof(l->name)) && l->name[0] != '\0' &&
		         nul_inside(l->address, sizeof(l->address)) &&
		         nul_inside(l->persona, sizeof(l->persona)));
		FZ_CHECK(l->port >= 0 && l->port <= 65535);
	}
}

static void
cidr_ok(const struct cidr *cd)
{
	struct sockaddr_storage ss;
	int bits = cd->family == AF_INET ? 32 : 128;
	size_t i;

	FZ_CHECK(cd->family == AF_INET || cd->family == AF_INET6);
	FZ_CHECK(cd->prefix >= 0 && cd->prefix <= bits);
	for (i = 0; i < 16; i++) {
		int keep = cd->prefix - (int)i * 8;

		if (keep < 8)
			FZ_CHECK((cd->addr[i] & (keep <= 0 ? 0xff : 0xff >> keep)) == 0);
	}
	memset(&ss, 0, sizeof(ss));
	if (cd->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, cd->addr, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, cd->addr, 16);
	}
	FZ_CHECK(cidr_match(cd, (const struct sockaddr *)&ss));
}

/* each_line - call fn on every NUL-terminated line of buf (modified in place) */
static void
each_line(char *buf, size_t len, void (*fn)(struct config *, char *), struct config *c)
{
	char *s = buf, *end = buf + len, *nl;

	while (s <= end) {
		nl = memchr(s, '\n', (size_t)(end - s));
		if (nl == NULL)
			nl = end;
		*nl = '\0';
		fn(c, s);
		s = nl + 1;
	}
}

static void
do_listen(struct config *c, char *line)
{
	char err[512] = "";

	if (config_add_listener(c, line, err, sizeof(err)) == -1)
		check_msg(err, NULL);
}

static void
do_proxy(struct config *c, char *line)
{
	char err[512] = "";
	struct cidr cd;

	if (config_add_proxy_from(c, line, err, sizeof(err)) == -1)
		check_msg(err, NULL);
	if (cidr_parse(line, &cd) == 0)
		cidr_ok(&cd);
}

static void
do_set(struct config *c, char *line)
{
	char err[512] = "", *eq = strchr(line, '=');

	if (eq == NULL)
		return;
	*eq = '\0';
	if (config_set(c, line, eq + 1, err, sizeof(err)) == -1)
		check_msg(err, NULL);
}

static void
do_file(struct config *c, const uint8_t *data, size_t len)
{
	char err[1024] = "";

	FZ_CHECK(ftruncate(memfd, 0) == 0);
	FZ_CHECK(len == 0 || pwrite(memfd, data, len, 0) == (ssize_t)len);
	if (config_load_file(c, path, err, sizeof(err)) == -1) {
		char want[80];

		snprintf(want, sizeof(want), "%s:", path);
		check_msg(err, want);
		return;
	}
	if (config_check(c, err, sizeof(err)) == -1)
		check_msg(err, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char *buf;

	if (size < 1)
		return 0;
	if (memfd == -1) {
		fz_quiet();
		memfd = memfd_create("fuzz.conf", 0);
		FZ_CHECK(memfd != -1);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	config_defaults(&c);
	switch (data[0] % 4) {
	case 0:
		do_file(&c, data + 1, size - 1);
		break;
	default:
		buf = malloc(size);
		FZ_CHECK(buf != NULL);
		memcpy(buf, data + 1, size - 1);
		buf[size - 1] = '\0';
		each_line(buf, size - 1,
		          data[0] % 4 == 1   ? do_listen
		          : data[0] % 4 == 2 ? do_proxy
		                             : do_set,
		          &c);
		free(buf);
		break;
	}
	config_ok(&c);
	config_free(&c);
	return 0;
}
