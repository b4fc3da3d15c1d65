/* SPDX-License-Identifier: ISC */
/*
 * fuzz_addr - the MAIL/RCPT/VRFY argument parser (src/smtp/addr.c) on any bytes.
 *
 * Input: byte 0 chooses the entry point (bit 0: addr_parse_params alone instead of
 * addr_parse_path); the rest is the argument as it follows "MAIL FROM:".
 * Checks: every string field of struct smtp_path stays NUL-terminated inside its array; at
 * most ADDR_PARAMS_MAX parameters are kept, with upper-case keys that addr_param finds; a path
 * accepted (0) has none of the flags the header documents as rejections and no control bytes;
 * addr_format and addr_routing_flags_str stay inside their buffers.
 */
#include "fuzz.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/addr.h"

/* field_ok - NUL-terminated inside size bytes */
static bool
field_ok(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

/* has_ctl - any byte below 0x20 or DEL */
static bool
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned rejected = ADDR_F_EMPTY | ADDR_F_UNBALANCED | ADDR_F_TRAILING;
	struct smtp_path *p;
	char out[2 * ADDR_MAX + 64], flags[96];
	char *arg;
	size_t i, len;
	int rc;

	if (size < 1)
		return 0;
	/* a heap copy of exactly the argument, so ASan sees any read past its end */
	len = size - 1;
	arg = malloc(len + 1);
	p = calloc(1, sizeof(*p));
	FZ_CHECK(arg != NULL && p != NULL);
	memcpy(arg, data + 1, len);
	if (data[0] & 1)
		rc = addr_parse_params(arg, len, p);
	else
		rc = addr_parse_path(arg, len, p);
	FZ_CHECK(rc == 0 || rc == -1);
	FZ_CHECK(field_ok(p->raw, sizeof(p->raw)) && field_ok(p->local, sizeof(p->local)) &&
	         field_ok(p->domain, sizeof(p->domain)) && field_ok(p->route, sizeof(p->route)));
	FZ_CHECK(p->nparams <= ADDR_PARAMS_MAX);
	for (i = 0; i < p->nparams; i++) {
		const struct smtp_param *sp = &p->params[i];
		const char *k;

		FZ_CHECK(field_ok(sp->key, sizeof(sp->key)) &&
		         field_ok(sp->value, sizeof(sp->value)));
		FZ_CHECK(sp->has_value || sp->value[0] == '\0');
		for (k = sp->key; *k != '\0'; k++)
			FZ_CHECK(!islower((unsigned char)*k));
		FZ_CHECK(addr_param(p, sp->key) != NULL);
	}
	if (rc == 0 && !(data[0] & 1)) {
		FZ_CHECK((p->flags & rejected) == 0);
		FZ_CHECK(!has_ctl(p->raw) && !has_ctl(p->local) && !has_ctl(p->domain));
	}
	FZ_CHECK(strlen(addr_format(p, "example.com", true, out, sizeof(out))) < sizeof(out));
	FZ_CHECK(strlen(addr_format(p, "example.com", false, out, 16)) < 16);
	FZ_CHECK(strlen(addr_routing_flags_str(p->flags, flags, sizeof(flags))) < sizeof(flags));
	free(arg);
	free(p);
	return 0;
}
