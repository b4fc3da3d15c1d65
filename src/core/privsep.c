/* SPDX-License-Identifier: ISC */
/*
 * privsep - resolve the unprivileged user, check the jail, hand the data directory over and
 * perform the one-way drops of the engine and the store (see privsep.h, docs/security.md).
 *
 * The order of a drop is the one OpenBSD daemons use: chroot and chdir while still root, then
 * setgroups, setresgid, setresuid; then prove it by trying to get root back. Only after that
 * come no_new_privs, Landlock and the seccomp filter (core/sandbox.c), which an unprivileged
 * process may install on itself.
 */
#include "core/privsep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/sandbox.h"
#include "core/util.h"

#define HANDOVER_DEPTH_MAX 4 /* data_dir/bodies/ab/cd/x.eml */

/* AddressSanitizer's leak check runs at exit and needs /proc and ptrace, which the jail and
 * the filter take away, and SQLite opens by absolute path, which an unjailed user may not
 * walk; sanitizer builds (tests only) therefore keep their privileges and say so. */
#if defined(__SANITIZE_ADDRESS__)
#define RT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RT_SANITIZED 1
#endif
#endif
#ifndef RT_SANITIZED
#define RT_SANITIZED 0
#endif

/* resolve_user - the account to run as; the default relaytrap falls back to nobody when no
 * such account was created (said once in the log), any other name must exist */
static int
resolve_user(struct privsep *ps, const char *user, const char *group, char *err, size_t errlen)
{
	const struct passwd *pw;
	const struct group *gr;

	if (user[0] == '\0')
		user = PRIVSEP_DEFAULT_USER;
	pw = getpwnam(user);
	if (pw == NULL && strcmp(user, PRIVSEP_DEFAULT_USER) == 0) {
		pw = getpwnam(PRIVSEP_FALLBACK_USER);
		ps->user_fallback = pw != NULL;
	}
	if (pw == NULL) {
		seterr(err, errlen,
		       "user '%s' does not exist (create it: useradd --system --shell "
		       "/usr/sbin/nologin %s, or set user = nobody)",
		       user, user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		seterr(err, errlen, "user '%s' is root (set user to an unprivileged account)",
		       pw->pw_name);
		return -1;
	}
	ps->uid = pw->pw_uid;
	ps->gid = pw->pw_gid;
	strlcpy(ps->user, pw->pw_name, sizeof(ps->user));
	if (group[0] != '\0') {
		gr = getgrnam(group);
		if (gr == NULL) {
			seterr(err, errlen,
			       "group '%s' does not exist (create it with groupadd, or leave group "
			       "unset to use %s's own)",
			       group, ps->user);
			return -1;
		}
	} else {
		gr = getgrgid(ps->gid);
	}
	if (gr != NULL) {
		ps->gid = gr->gr_gid;
		strlcpy(ps->group, gr->gr_name, sizeof(ps->group));
	} else {
		snprintf(ps->group, sizeof(ps->group), "%lu", (unsigned long)ps->gid);
	}
	if (ps->gid == 0) {
		seterr(err, errlen, "group '%s' is root's (set group to an unprivileged group)",
		       ps->group);
		return -1;
	}
	return 0;
}

/* safe_parent - a directory root can trust: root-owned, and nobody else may rename its
 * entries (not writable by group or others, unless sticky like /tmp) */
static int
safe_parent(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(path, &st) == -1) {
		seterr(err, errlen, "chroot: %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0)) {
		seterr(err, errlen,
		       "chroot: %s must be a directory owned by root and writable only by root "
		       "(set chroot to a path such as %s)",
		       path, PRIVSEP_DEFAULT_CHROOT);
		return -1;
	}
	return 0;
}

/* prepare_jail - create the empty chroot directory if missing and check that it can be trusted:
 * root-owned, mode 0755 or stricter, nothing inside, every parent root-owned */
static int
prepare_jail(const char *jail, char *err, size_t errlen)
{
	char p[PATH_MAX];
	struct dirent *de;
	struct stat st;
	size_t i, n = strlen(jail);
	DIR *d;

	if (jail[0] != '/' || n >= sizeof(p) || strstr(jail, "/../") != NULL) {
		seterr(err, errlen, "chroot must be an absolute path such as %s (got '%.200s')",
		       PRIVSEP_DEFAULT_CHROOT, jail);
		return -1;
	}
	memcpy(p, jail, n + 1);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	/* parents first: each is created root-owned 0755 when missing, then checked */
	for (i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdir(p, 0755) == -1 && errno != EEXIST) {
			seterr(err, errlen,
			       "chroot: cannot create %s: %s (create it: install -d -m 0755 %s)", p,
			       strerror(errno), jail);
			return -1;
		}
		if (safe_parent(p, err, errlen) == -1)
			return -1;
		p[i] = i < n ? '/' : '\0';
	}
	if (stat(p, &st) == -1 || (st.st_mode & 07022) != 0) {
		seterr(err, errlen, "chroot: %s must have mode 0755 or stricter (chmod 0755 %s)", p,
		       p);
		return -1;
	}
	if ((d = opendir(p)) == NULL) {
		seterr(err, errlen, "chroot: %s: %s", p, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			closedir(d);
			seterr(
			    err, errlen,
			    "chroot: %s must be empty, it holds '%.100s' (use an empty directory "
			    "such as %s)",
			    p, de->d_name, PRIVSEP_DEFAULT_CHROOT);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

/* preload - what libc would otherwise open lazily, after the jail no longer has it: the time
 * zone for $date in banners, and the random generator's first seed */
static void
preload(void)
{
	time_t t = time(NULL);
	struct tm tm;
	unsigned char b[16];

	tzset();
	localtime_r(&t, &tm);
	rand_buf(b, sizeof(b));
}

/* can_chroot - whether this process may chroot without being root (CAP_SYS_CHROOT, e.g. as
 * an ambient capability given by systemd) */
static bool
can_chroot(void)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) == -1)
		return false;
	return (data[CAP_TO_INDEX(CAP_SYS_CHROOT)].effective & CAP_TO_MASK(CAP_SYS_CHROOT)) != 0;
}

int
privsep_init(struct privsep *ps, const char *user, const char *group, const char *jail, char *err,
             size_t errlen)
{
	memset(ps, 0, sizeof(*ps));
	ps->handed_over = -1;
	ps->root = geteuid() == 0;
	ps->jailed = ps->root || can_chroot();
	preload();
	strlcpy(ps->jail, jail[0] != '\0' ? jail : PRIVSEP_DEFAULT_CHROOT, sizeof(ps->jail));
	if (!ps->root) {
		const struct passwd *pw = getpwuid(getuid());
		const struct group *gr = getgrgid(getgid());

		ps->uid = getuid();
		ps->gid = getgid();
		snprintf(ps->user, sizeof(ps->user), "%s", pw != NULL ? pw->pw_name : "?");
		if (gr != NULL)
			snprintf(ps->group, sizeof(ps->group), "%s", gr->gr_name);
		else
			snprintf(ps->group, sizeof(ps->group), "%lu", (unsigned long)ps->gid);
	} else if (resolve_user(ps, user, group, err, errlen) == -1) {
		return -1;
	}
	return ps->jailed ? prepare_jail(ps->jail, err, errlen) : 0;
}

/* hand_over - give a root-owned tree to the user: directories and regular files only, never
 * following a symbolic link, bounded depth; returns how many entries changed owner */
static unsigned long
hand_over(int dfd, const struct privsep *ps, int depth)
{
	struct dirent *de;
	struct stat st;
	unsigned long n = 0;
	int fd;
	DIR *d;

	if (depth > HANDOVER_DEPTH_MAX || (fd = dup(dfd)) == -1)
		return 0;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 || st.st_uid != 0)
			continue;
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
			continue;
		if (fchownat(dfd, de->d_name, ps->uid, ps->gid, AT_SYMLINK_NOFOLLOW) == 0)
			n++;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dfd, de->d_name,
			                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub != -1) {
				n += hand_over(sub, ps, depth + 1);
				close(sub);
			}
		}
	}
	closedir(d);
	return n;
}

int
privsep_data_dir(struct privsep *ps, const char *dir, char *err, size_t errlen)
{
	struct stat st;
	int dfd;

	if (mkdir_p(dir) == -1) {
		seterr(err, errlen, "data_dir %s: cannot create: %s", dir, strerror(errno));
		return -1;
	}
	if (!ps->root)
		return 0;
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		seterr(err, errlen, "data_dir %s: not a directory", dir);
		return -1;
	}
	if (st.st_uid == ps->uid)
		return 0;
	if (st.st_uid != 0) {
		seterr(err, errlen,
		       "data_dir %s belongs to uid %lu, but relaytrap writes it as %s (chown -R "
		       "%s:%s %s, or set user)",
		       dir, (unsigned long)st.st_uid, ps->user, ps->user, ps->group, dir);
		return -1;
	}
	/* A root-owned directory was made by root (by us before, or by mkdir): the store, which
	 * runs as the user, must own it and what relaytrap already wrote there. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1 || fchown(dfd, ps->uid, ps->gid) == -1) {
		seterr(err, errlen,
		       "data_dir %s: cannot give it to %s: %s (chown -R %s:%s %s as root)", dir,
		       ps->user, strerror(errno), ps->user, ps->group, dir);
		if (dfd != -1)
			close(dfd);
		return -1;
	}
	/* said by privsep_log, so that a later configuration error stays the only line */
	ps->handed_over = (long)hand_over(dfd, ps, 1);
	strlcpy(ps->data_dir, dir, sizeof(ps->data_dir));
	close(dfd);
	return 0;
}

void
privsep_fs_user(const struct privsep *ps)
{
	if (!ps->root)
		return;
	setfsgid(ps->gid);
	setfsuid(ps->uid);
}

void
privsep_fs_root(const struct privsep *ps)
{
	if (!ps->root)
		return;
	setfsuid(0);
	setfsgid(0);
}

/* drop_caps - a non-root start may still hold capabilities (setcap, systemd's ambient set):
 * give them all up once the sockets are bound */
static void
drop_caps(void)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	syscall(SYS_capset, &hdr, data);
}

/* become_user - setgroups, setresgid, setresuid, then check that root cannot come back */
static int
become_user(const struct privsep *ps, char *err, size_t errlen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg, groups[2];

	if (setgroups(1, &ps->gid) == -1 || setresgid(ps->gid, ps->gid, ps->gid) == -1 ||
	    setresuid(ps->uid, ps->uid, ps->uid) == -1) {
		seterr(err, errlen, "cannot become %s:%s: %s", ps->user, ps->group,
		       strerror(errno));
		return -1;
	}
	/* Trust nothing: every id must be the user's and root must be out of reach. */
	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1 || ru != ps->uid ||
	    eu != ps->uid || su != ps->uid || rg != ps->gid || eg != ps->gid || sg != ps->gid ||
	    getgroups(2, groups) != 1 || groups[0] != ps->gid) {
		seterr(err, errlen, "dropping to %s:%s left other ids behind", ps->user, ps->group);
		return -1;
	}
	if (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1 || setegid(0) != -1) {
		seterr(err, errlen, "root could be regained after dropping to %s", ps->user);
		return -1;
	}
	return 0;
}

/* enter - make dir the working directory, then the root directory */
static int
enter(const char *dir)
{
	return chdir(dir) == 0 && chroot(".") == 0 ? 0 : -1;
}

/* jail_at - chroot into dir; as root first, then as the user's file-system identity when root
 * may not look inside (no CAP_DAC_OVERRIDE under systemd). Entering first means the same
 * identity passes both permission checks, so a retry starts from the same place. */
static int
jail_at(const struct privsep *ps, const char *dir, char *err, size_t errlen)
{
	int r = enter(dir);

	if (r == -1 && errno == EACCES) {
		privsep_fs_user(ps);
		r = enter(dir);
		privsep_fs_root(ps);
	}
	if (r == -1) {
		seterr(err, errlen, "chroot %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

int
privsep_engine(const struct privsep *ps, char *err, size_t errlen)
{
	if (RT_SANITIZED)
		return 0;
	if (ps->jailed && jail_at(ps, ps->jail, err, errlen) == -1)
		return -1;
	if (ps->root) {
		if (become_user(ps, err, errlen) == -1)
			return -1;
	} else {
		drop_caps();
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		seterr(err, errlen, "no_new_privs: %s", strerror(errno));
		return -1;
	}
	if (sandbox_landlock(NULL, err, errlen) == -1)
		return -1;
	return sandbox_seccomp(SANDBOX_ENGINE, ps->store_pid, err, errlen);
}

int
privsep_store(const struct privsep *ps, const char *data_dir, const char **dir_after, char *err,
              size_t errlen)
{
	*dir_after = data_dir;
	if (RT_SANITIZED)
		return 0;
	if (ps->jailed) {
		if (jail_at(ps, data_dir, err, errlen) == -1)
			return -1;
		*dir_after = ".";
	}
	if (ps->root) {
		if (become_user(ps, err, errlen) == -1)
			return -1;
	} else {
		drop_caps();
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		seterr(err, errlen, "no_new_privs: %s", strerror(errno));
		return -1;
	}
	if (sandbox_landlock(*dir_after, err, errlen) == -1)
		return -1;
	return sandbox_seccomp(SANDBOX_STORE, 0, err, errlen);
}

void
privsep_log(const struct privsep *ps)
{
	if (ps->handed_over >= 0)
		log_info("data_dir %s now belongs to %s:%s (%ld entries inside handed over)",
		         ps->data_dir, ps->user, ps->group, ps->handed_over);
	if (ps->user_fallback)
		log_warn("user %s does not exist, running as %s (useradd --system --shell "
		         "/usr/sbin/nologin %s gives relaytrap a uid of its own)",
		         PRIVSEP_DEFAULT_USER, PRIVSEP_FALLBACK_USER, PRIVSEP_DEFAULT_USER);
	if (RT_SANITIZED)
		log_warn(
		    "privileges: sanitizer build: no privilege drop, chroot, Landlock or seccomp "
		    "(the leak check needs /proc and ptrace); never deploy it");
	else if (ps->root)
		log_info("privileges: started as root; engine chrooted to %s, engine and store run "
		         "as %s:%s; %s",
		         ps->jail, ps->user, ps->group, sandbox_status());
	else if (ps->jailed)
		log_info("privileges: not started as root, with CAP_SYS_CHROOT: engine chrooted to "
		         "%s, both run as %s:%s, every capability dropped; %s",
		         ps->jail, ps->user, ps->group, sandbox_status());
	else
		log_info(
		    "privileges: not started as root: no chroot and no user change (running as "
		    "%s); no_new_privs, Landlock and seccomp still apply; %s",
		    ps->user, sandbox_status());
}
