/* SPDX-License-Identifier: ISC */
/*
 * identity - the names this install answers with: a plausible, per-install random Windows 2000
 * domain member (host name, NetBIOS names, AD and mail domains), kept in a small file so they
 * survive restarts. Identical banners across installs are how honeypots get found.
 *
 * Owns: nothing on the heap; struct identity is plain data.
 * Public: identity_generate, identity_load_or_create, identity_save.
 * File: "key = value" lines (fqdn, netbios, domain, nb_domain, dns_domain), '#' comments, at
 *       most 4096 bytes. Only fqdn is required; missing keys are derived from it.
 * Limits: DNS names up to 253 bytes of [A-Za-z0-9.-], NetBIOS names up to 15 bytes.
 */
#ifndef RT_IDENTITY_H
#define RT_IDENTITY_H

#include <stddef.h>

struct identity {
	char fqdn[256];       /* banner host, "exch01.corp.meridian-freight.com" */
	char netbios[16];     /* NetBIOS computer name, "EXCH01" */
	char domain[256];     /* mail domain appended to bare local parts, "meridian-freight.com" */
	char nb_domain[16];   /* NetBIOS (pre-Windows 2000) domain name, "CORP" */
	char dns_domain[256]; /* Active Directory DNS domain, "corp.meridian-freight.com" */
};

/* identity_generate - fill id with fresh random, self-consistent names */
void identity_generate(struct identity *id);
/* identity_load_or_create - read path, or when it does not exist generate an identity and
 * write it there (atomically, mode 0644); 0, or -1 with a message in err */
int identity_load_or_create(const char *path, struct identity *id, char *err, size_t errlen);
/* identity_save - write id to path atomically; 0 or -1 with err */
int identity_save(const char *path, const struct identity *id, char *err, size_t errlen);

#endif
