/* SPDX-License-Identifier: ISC */
/*
 * sandbox - what a dropped process may still ask of the kernel: a seccomp allow-list per role
 * (libseccomp) and Landlock file-system rules (see docs/security.md for both lists).
 *
 * Public: sandbox_seccomp, sandbox_landlock, sandbox_status.
 * Refusals: connect, socket, bind, listen and open/openat in the engine, socket/connect/bind/
 *   listen in the store, fail with EPERM and are logged one line each (a SIGSYS handler);
 *   execve, ptrace, executable memory and everything not on the list kill the process.
 */
#ifndef RT_SANDBOX_H
#define RT_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

enum sandbox_role { SANDBOX_ENGINE, SANDBOX_STORE };

/* sandbox_seccomp - install the role's filter on this process (no_new_privs must be set);
 * peer is the one process the engine may signal (the store); 0 or -1 with err */
int sandbox_seccomp(enum sandbox_role role, pid_t peer, char *err, size_t errlen);

/* sandbox_landlock - allow file access only beneath dir (NULL: none at all); 1 when applied,
 * 0 when the kernel has no Landlock (nothing changed), -1 with err */
int sandbox_landlock(const char *dir, char *err, size_t errlen);

/* sandbox_status - "seccomp=on landlock=abi7" style summary for the start-up log */
const char *sandbox_status(void);

#endif
