/* SPDX-License-Identifier: ISC */
/*
 * sandbox - seccomp allow-lists and Landlock rules for the engine and the store (see
 * sandbox.h and docs/security.md).
 *
 * The lists are what the two processes were seen to call once running (strace over the whole
 * end-to-end suite), nothing more. A call that is not listed kills the process, except the few
 * where a clean error is more useful: those fail with EPERM through a SIGSYS handler that
 * writes one log line, so a refused connect() is visible and testable.
 */
#include "core/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <seccomp.h>

#include "core/util.h"

#define REFUSED_MAX 16
#define MSG_MAX 160

/* What may run once the process is set up. Names a kernel or architecture lacks are skipped. */
/* clang-format off */
static const char *const common_allow[] = {
	"read", "readv", "write", "writev", "close", "lseek", "fstat", "newfstatat", "fcntl",
	"poll", "ppoll", "brk", "munmap", "mremap", "madvise", "futex", "sched_yield",
	"getrandom", "clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep",
	"clock_nanosleep", "getpid", "gettid", "getuid", "geteuid", "getgid", "getegid",
	"getresuid", "getresgid", "rt_sigreturn", "rt_sigprocmask", "rt_sigaction",
	"sigaltstack", "restart_syscall", "exit", "exit_group",
};

/* The engine: sockets it already has, the event loop, its one child. */
static const char *const engine_allow[] = {
	"accept", "accept4", "recvfrom", "recvmsg", "recvmmsg", "sendto", "sendmsg", "sendmmsg",
	"shutdown", "getsockname", "getpeername", "setsockopt", "getsockopt", "epoll_wait",
	"epoll_pwait", "epoll_pwait2", "epoll_ctl", "select", "pselect6", "wait4", "waitid",
};

/* The store: files beneath its data directory (chroot or Landlock say which). */
static const char *const store_allow[] = {
	"pread64", "pwrite64", "preadv", "pwritev", "openat", "open", "stat", "lstat", "statx",
	"fstatfs", "mkdir", "mkdirat", "unlink", "unlinkat", "rmdir", "rename", "renameat",
	"renameat2", "link", "linkat", "getdents64", "getdents", "access", "faccessat",
	"faccessat2", "readlink", "readlinkat", "getcwd", "fsync", "fdatasync", "ftruncate",
	"fallocate", "flock", "fchmod", "fchown", "umask",
};

/* Refused with EPERM and logged: a clean error where the caller can carry on. */
static const char *const engine_refuse[] = {
	"connect", "socket", "socketpair", "bind", "listen", "open", "openat", "openat2", "creat",
};
static const char *const store_refuse[] = {
	"connect", "socket", "socketpair", "bind", "listen",
};
/* clang-format on */

/* For the SIGSYS handler, filled before the filter is loaded: no lookups in a handler. */
static struct {
	int nr;
	char msg[MSG_MAX];
	size_t len;
} refused[REFUSED_MAX];
static size_t nrefused;
static const char *tag = "relaytrap";
static char status[96] = "seccomp=off landlock=off";
static char ll_status[32] = "landlock=off";

/* put_num - decimal digits of v, zero-padded to width, at *p (async-signal-safe) */
static char *
put_num(char *p, unsigned long v, int width)
{
	char d[24];
	int n = 0;

	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 && n < (int)sizeof(d));
	while (n < width)
		d[n++] = '0';
	while (n > 0)
		*p++ = d[--n];
	return p;
}

/* stamp - "2026-11-27T10:53:36.123Z tag[pid] " like log.c, without calling into stdio */
static size_t
stamp(char *out)
{
	struct timespec ts;
	long z, era, doe, yoe, y, doy, mp, d, m, secs;
	char *p = out;
	const char *t;

	clock_gettime(CLOCK_REALTIME, &ts);
	z = ts.tv_sec / 86400 + 719468;
	secs = ts.tv_sec % 86400;
	era = z / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y = yoe + era * 400 + (m <= 2);
	p = put_num(p, (unsigned long)y, 4);
	*p++ = '-';
	p = put_num(p, (unsigned long)m, 2);
	*p++ = '-';
	p = put_num(p, (unsigned long)d, 2);
	*p++ = 'T';
	p = put_num(p, (unsigned long)(secs / 3600), 2);
	*p++ = ':';
	p = put_num(p, (unsigned long)(secs / 60 % 60), 2);
	*p++ = ':';
	p = put_num(p, (unsigned long)(secs % 60), 2);
	*p++ = '.';
	p = put_num(p, (unsigned long)(ts.tv_nsec / 1000000), 3);
	*p++ = 'Z';
	*p++ = ' ';
	for (t = tag; *t != '\0'; t++)
		*p++ = *t;
	*p++ = '[';
	p = put_num(p, (unsigned long)syscall(SYS_getpid), 0);
	*p++ = ']';
	*p++ = ' ';
	return (size_t)(p - out);
}

/* on_sigsys - a refused call: log it, make it return -1/EPERM to its caller */
static void
on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	char line[64 + MSG_MAX];
	size_t i, n;
	int saved = errno;

	n = stamp(line);
	for (i = 0; i < nrefused; i++)
		if (refused[i].nr == si->si_syscall)
			break;
	if (i < nrefused) {
		memcpy(line + n, refused[i].msg, refused[i].len);
		n += refused[i].len;
	} else {
		static const char other[] = "warn: sandbox: refused system call ";
		memcpy(line + n, other, sizeof(other) - 1);
		n += sizeof(other) - 1;
		n = (size_t)(put_num(line + n, (unsigned long)si->si_syscall, 0) - line);
		line[n++] = '\n';
	}
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nothing else can be done from a signal handler */
	}
#if defined(__x86_64__)
	uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
#elif defined(__aarch64__)
	uc->uc_mcontext.regs[0] = (unsigned long long)-EPERM;
#endif
	errno = saved;
}

/* trap_action - refusals are trapped (logged) where we know how to set the return value */
static uint32_t
trap_action(void)
{
#if defined(__x86_64__) || defined(__aarch64__)
	return SCMP_ACT_TRAP;
#else
	return SCMP_ACT_ERRNO(EPERM);
#endif
}

/* add_list - allow (or refuse) every name of a list that this architecture has */
static int
add_list(scmp_filter_ctx ctx, uint32_t action, const char *const *names, size_t n, bool remember,
         char *err, size_t errlen)
{
	size_t i;
	int nr, r;

	for (i = 0; i < n; i++) {
		nr = seccomp_syscall_resolve_name(names[i]);
		if (nr == __NR_SCMP_ERROR || nr < 0)
			continue;
		r = seccomp_rule_add(ctx, action, nr, 0);
		if (r < 0) {
			seterr(err, errlen, "seccomp: cannot add %s: %s", names[i], strerror(-r));
			return -1;
		}
		if (remember && nrefused < REFUSED_MAX) {
			refused[nrefused].nr = nr;
			snprintf(refused[nrefused].msg, MSG_MAX,
			         "warn: sandbox: refused %s(2) with EPERM\n", names[i]);
			refused[nrefused].len = strlen(refused[nrefused].msg);
			nrefused++;
		}
	}
	return 0;
}

/* add_guarded - the calls allowed only with safe arguments */
static int
add_guarded(scmp_filter_ctx ctx, enum sandbox_role role, pid_t peer)
{
	int r = 0;

	/* memory, never executable: no new code can appear in a sandboxed process */
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
	                      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
	                      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	/* The second datum of an SCMP_CMP_EQ is unused; it is written out so that clang's
	 * -Wmissing-field-initializers accepts the libseccomp macros. */
	/* getrlimit only, never setting a limit */
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1,
	                      SCMP_A2(SCMP_CMP_EQ, 0, 0));
	/* abort() and raise() signal this process and nobody else */
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
	                      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0));
	if (role == SANDBOX_ENGINE) {
		/* libevent asks how many bytes are waiting; nothing else goes through ioctl */
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
		                      SCMP_A1(SCMP_CMP_EQ, FIONREAD, 0));
		/* SIGHUP/SIGTERM are passed to the store, the only process it may signal */
		if (peer > 0)
			r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
			                      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)peer, 0));
	}
	return r;
}

int
sandbox_seccomp(enum sandbox_role role, pid_t peer, char *err, size_t errlen)
{
	struct sigaction sa;
	scmp_filter_ctx ctx;
	bool engine = role == SANDBOX_ENGINE;
	int r;

	tag = engine ? "relaytrap" : "relaytrap-store";
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1) {
		seterr(err, errlen, "seccomp: SIGSYS handler: %s", strerror(errno));
		return -1;
	}
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL) {
		seterr(err, errlen, "seccomp: cannot create a filter");
		return -1;
	}
	/* killed processes and refusals also reach the kernel's audit log */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
	nrefused = 0;
	if (add_list(ctx, SCMP_ACT_ALLOW, common_allow, ARRAY_LEN(common_allow), false, err,
	             errlen) == -1 ||
	    (engine ? add_list(ctx, SCMP_ACT_ALLOW, engine_allow, ARRAY_LEN(engine_allow), false,
	                       err, errlen)
	            : add_list(ctx, SCMP_ACT_ALLOW, store_allow, ARRAY_LEN(store_allow), false, err,
	                       errlen)) == -1 ||
	    (engine ? add_list(ctx, trap_action(), engine_refuse, ARRAY_LEN(engine_refuse), true,
	                       err, errlen)
	            : add_list(ctx, trap_action(), store_refuse, ARRAY_LEN(store_refuse), true, err,
	                       errlen)) == -1)
		goto fail;
	if (add_guarded(ctx, role, peer) != 0) {
		seterr(err, errlen, "seccomp: cannot add argument rules");
		goto fail;
	}
	r = seccomp_load(ctx);
	if (r < 0) {
		seterr(err, errlen, "seccomp: cannot load the filter: %s", strerror(-r));
		goto fail;
	}
	seccomp_release(ctx);
	snprintf(status, sizeof(status), "seccomp=on %s", ll_status);
	return 0;
fail:
	seccomp_release(ctx);
	return -1;
}

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#define LL_FS_IOCTL_DEV (1ULL << 15)
#define LL_NET_BIND_TCP (1ULL << 0)
#define LL_NET_CONNECT_TCP (1ULL << 1)

/* The kernel's ruleset attribute as of ABI 4; older kernels get only the first field. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
};

int
sandbox_landlock(const char *dir, char *err, size_t errlen)
{
	struct ll_ruleset_attr attr;
	struct landlock_path_beneath_attr pb;
	uint64_t fs, rw;
	long abi;
	int rfd, pfd = -1;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1)
		return 0;
	/* ABI 1 forbids linking across directories, which the body store does */
	if (dir != NULL && abi < 2) {
		snprintf(ll_status, sizeof(ll_status), "landlock=abi1-unused");
		return 0;
	}
	fs = (1ULL << 13) - 1; /* the 13 rights of ABI 1, execute to make_sym */
	if (abi >= 2)
		fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		fs |= LL_FS_IOCTL_DEV;
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = fs;
	if (abi >= 4)
		attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
	rfd = (int)syscall(SYS_landlock_create_ruleset, &attr,
	                   abi >= 4 ? sizeof(attr) : sizeof(attr.handled_access_fs), 0);
	if (rfd == -1) {
		seterr(err, errlen, "landlock: cannot create a ruleset: %s", strerror(errno));
		return -1;
	}
	if (dir != NULL) {
		rw = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
		     LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |
		     LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR |
		     LANDLOCK_ACCESS_FS_MAKE_REG | (fs & LANDLOCK_ACCESS_FS_REFER) |
		     (fs & LANDLOCK_ACCESS_FS_TRUNCATE);
		pfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		memset(&pb, 0, sizeof(pb));
		pb.allowed_access = rw;
		pb.parent_fd = pfd;
		if (pfd == -1 ||
		    syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) == -1) {
			seterr(err, errlen, "landlock: %s: %s", dir, strerror(errno));
			goto fail;
		}
		close(pfd);
		pfd = -1;
	}
	if (syscall(SYS_landlock_restrict_self, rfd, 0) == -1) {
		seterr(err, errlen, "landlock: cannot restrict: %s", strerror(errno));
		goto fail;
	}
	close(rfd);
	snprintf(ll_status, sizeof(ll_status), "landlock=abi%ld", abi);
	return 1;
fail:
	if (pfd != -1)
		close(pfd);
	close(rfd);
	return -1;
}

const char *
sandbox_status(void)
{
	return status;
}
