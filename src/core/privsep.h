/* SPDX-License-Identifier: ISC */
/*
 * privsep - privilege separation: who relaytrap runs as after start-up, where the network
 * engine is jailed, and the one-way drop from root (see docs/security.md).
 *
 * Owns: struct privsep (the resolved user, group, chroot directory and whether we started as
 *       root). Public: privsep_init, privsep_data_dir, privsep_fs_user, privsep_fs_root,
 *       privsep_engine, privsep_store, privsep_log.
 * Order (started as root): privsep_init (names resolved, jail checked, time zone and
 *       randomness loaded) -> privsep_data_dir -> everything is opened -> fork the store ->
 *       privsep_store in the child, privsep_engine in the parent. After either drop nothing
 *       can regain root: both are verified by trying.
 * Without root the same calls apply what an unprivileged process can: no user change, no
 *       chroot unless it holds CAP_SYS_CHROOT (the systemd unit grants it), every capability
 *       given up, no_new_privs, Landlock (when the kernel has it) and the seccomp filters.
 */
#ifndef RT_PRIVSEP_H
#define RT_PRIVSEP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PRIVSEP_DEFAULT_USER "relaytrap"
#define PRIVSEP_FALLBACK_USER "nobody"
#define PRIVSEP_DEFAULT_CHROOT "/var/empty/relaytrap"

struct privsep {
	bool root;     /* started with euid 0: chroot and user change happen */
	bool jailed;   /* root, or CAP_SYS_CHROOT without root: the chroots happen */
	uid_t uid;     /* the unprivileged user (root: resolved; otherwise our own) */
	gid_t gid;     /* its group */
	char user[64]; /* names, for the log */
	char group[64];
	char jail[512];     /* the engine's empty chroot directory */
	pid_t store_pid;    /* the store process; the engine may signal it and nobody else */
	bool user_fallback; /* relaytrap does not exist, nobody stands in */
	long handed_over;   /* entries of a root-owned data_dir given to the user; -1 = none */
	char data_dir[512]; /* for that log line */
};

/* privsep_init - resolve user (relaytrap falls back to nobody when that account is missing;
 * other names must exist), group ("" = the user's) and the chroot directory ("" =
 * PRIVSEP_DEFAULT_CHROOT, created root-owned 0755 if missing, refused if not root-owned,
 * writable by others or not empty); load what must not be opened later (time zone,
 * randomness). 0, or -1 with err naming the key and the fix. */
int privsep_init(struct privsep *ps, const char *user, const char *group, const char *jail,
                 char *err, size_t errlen);

/* privsep_data_dir - create the data directory if missing and make sure the unprivileged user
 * owns it (a root-owned one is handed over, contents included); 0 or -1 with err */
int privsep_data_dir(struct privsep *ps, const char *dir, char *err, size_t errlen);

/* privsep_fs_user / privsep_fs_root - as root, touch files with the user's file-system identity
 * (files it creates belong to the user; no DAC override is needed) and back; no-ops otherwise */
void privsep_fs_user(const struct privsep *ps);
void privsep_fs_root(const struct privsep *ps);

/* privsep_engine - the network engine's drop: chroot into the jail, give up root for good,
 * no_new_privs, Landlock without any file access, the engine's seccomp filter. Call when every
 * listener, file and DNS socket is open. 0 or -1 with err (the caller must then exit). */
int privsep_engine(const struct privsep *ps, char *err, size_t errlen);

/* privsep_store - the store's drop: chroot into the data directory (root) or Landlock it (not
 * root), give up root, no_new_privs, the store's seccomp filter. *dir_after is the data
 * directory as the store must name it from now on. 0 or -1 with err. */
int privsep_store(const struct privsep *ps, const char *data_dir, const char **dir_after, char *err,
                  size_t errlen);

/* privsep_log - after the engine's drop: log once what it did and did not do */
void privsep_log(const struct privsep *ps);

#endif
