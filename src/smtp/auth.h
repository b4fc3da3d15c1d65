/* SPDX-License-Identifier: ISC */
/*
 * auth - decode what credential guessers send in AUTH exchanges, and build the NTLM type 2
 * challenge a Windows 2000 domain member would send. Pure functions: no I/O, no state machine
 * (the session drives the rounds).
 *
 * Owns: nothing on the heap.
 * Public: auth_decode_plain, auth_decode_b64_text, auth_cram_md5_challenge, auth_decode_cram_md5,
 *         ntlm_parse_type1, ntlm_build_type2, ntlm_parse_type3, ntlm_crack_line.
 * Limits: every input is length-checked; security buffers pointing outside the message are
 *         rejected; decoded strings are bounded by AUTH_FIELD_MAX and NUL-terminated.
 */
#ifndef RT_AUTH_H
#define RT_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_FIELD_MAX 256
#define AUTH_BLOB_MAX 4096 /* decoded bytes of one AUTH line */
/* room for the longest ntlm_crack_line: two names, a 1024-byte NT response in hex, separators */
#define NTLM_CRACK_LINE_MAX (2 * AUTH_FIELD_MAX + 2 * 1024 + 64)

/* auth_decode_b64_text - base64 to bytes (LOGIN username/password); NUL-terminates out (which
 * must hold AUTH_FIELD_MAX bytes), returns decoded length or -1 if not base64. Bytes past
 * AUTH_FIELD_MAX-1 are cut and *truncated set. The length returned is what was stored in out
 * (bytes, may include NULs), never more than outlen-1. Trailing blanks/CR/LF are ignored and
 * "=" alone decodes to the empty string (RFC 4954). truncated may be NULL. */
long auth_decode_b64_text(const char *b64, size_t len, char *out, size_t outlen, bool *truncated);

struct auth_plain {
	char authzid[AUTH_FIELD_MAX];
	char authcid[AUTH_FIELD_MAX];
	char password[AUTH_FIELD_MAX];
};
/* auth_decode_plain - base64 "authzid\0authcid\0password"; 0 or -1 (not base64, or fewer than
 * two NUL separators: then authcid holds the whole decoded text) */
int auth_decode_plain(const char *b64, size_t len, struct auth_plain *out);

/* auth_cram_md5_challenge - "<random.timestamp@hostname>" into out (NUL-terminated) */
void auth_cram_md5_challenge(const char *hostname, char *out, size_t outlen);
struct auth_cram {
	char user[AUTH_FIELD_MAX];
	char digest[64]; /* 32 hex digits as sent */
};
/* auth_decode_cram_md5 - base64 "user SP hexdigest"; 0 or -1 */
int auth_decode_cram_md5(const char *b64, size_t len, struct auth_cram *out);

struct ntlm_type1 {
	uint32_t flags;
	char domain[AUTH_FIELD_MAX];      /* supplied domain, OEM, "" if absent */
	char workstation[AUTH_FIELD_MAX]; /* supplied workstation, OEM, "" if absent */
	bool has_version;
	uint8_t version[8];
};
/* ntlm_parse_type1 - decoded bytes of a NEGOTIATE message; 0 or -1. Accepts the 16-byte form
 * that ends after the flags; supplied names are read only when their flag is set and are stored
 * as UTF-8, each OEM byte taken as Latin-1. */
int ntlm_parse_type1(const unsigned char *msg, size_t len, struct ntlm_type1 *out);

struct ntlm_names {
	const char *netbios_domain;   /* e.g. "CONTOSO" */
	const char *netbios_computer; /* e.g. "MAIL01" */
	const char *dns_domain;       /* e.g. "contoso.local" */
	const char *dns_computer;     /* e.g. "mail01.contoso.local" (= banner host) */
	const char *dns_tree;         /* NULL = no AV pair 5 */
};
/* ntlm_build_type2 - a CHALLENGE message as Windows 2000 sends it: no VERSION field, payload
 * at offset 48, TargetName = NetBIOS domain (UTF-16LE), AV pairs 2,1,4,3[,5],0, flags
 * 0xA0898205 (unicode if the client asked for it, else OEM target name). challenge is the
 * 8 server bytes. Returns the message length or -1 if out is too small. Precisely: the target
 * name is OEM and NEGOTIATE_OEM replaces NEGOTIATE_UNICODE only when the client set OEM without
 * UNICODE; a client that set neither gets unicode. AV pair values are always UTF-16LE. NULL
 * names are sent empty. */
long ntlm_build_type2(const struct ntlm_names *names, const uint8_t challenge[8],
                      uint32_t client_flags, unsigned char *out, size_t outlen);

struct ntlm_type3 {
	uint32_t flags;
	char domain[AUTH_FIELD_MAX]; /* UTF-8 (from UTF-16LE or OEM per flags) */
	char user[AUTH_FIELD_MAX];
	char workstation[AUTH_FIELD_MAX];
	unsigned char lm[64];
	size_t lm_len;
	unsigned char nt[1024]; /* NTLMv2 responses are longer than 24 bytes */
	size_t nt_len;
	bool nt_truncated;
};
/* ntlm_parse_type3 - decoded bytes of an AUTHENTICATE message; 0 or -1 (bad signature or
 * type, a security buffer outside the message, an odd-length UTF-16 name). Accepts the old
 * 52-byte header without flags (then flags is 0 and names are read as UTF-16LE). An LM
 * response longer than 64 bytes is cut; an NT response longer than 1024 sets nt_truncated. */
int ntlm_parse_type3(const unsigned char *msg, size_t len, struct ntlm_type3 *out);
/* ntlm_crack_line - hashcat form of a type 3 for the given server challenge: NetNTLMv1
 * ("user::domain:lm:nt:challenge", mode 5500) when nt_len == 24, NetNTLMv2
 * ("user::domain:challenge:ntproofstr:blob", mode 5600) otherwise; returns out. out is ""
 * when the response cannot be cracked (nt_len < 24, nt_truncated) or the line does not fit
 * (NTLM_CRACK_LINE_MAX always fits). */
char *ntlm_crack_line(const struct ntlm_type3 *t3, const uint8_t challenge[8], char *out,
                      size_t outlen);

#endif
