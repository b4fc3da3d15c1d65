/* SPDX-License-Identifier: ISC */
/*
 * sandbox - the seccomp filters and Landlock rules, each applied for real in a forked child:
 * what is refused with EPERM, what kills the process, what still works. Needs no root
 * (no_new_privs lets anyone install a filter on itself).
 */
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/sandbox.h"

/* child_fn - runs sandboxed in the child; returns the exit code (0 = all as expected) */
typedef int (*child_fn)(void);

/* in_child - fork, silence stderr (refusals are logged there), apply role's filter, run fn;
 * returns the wait status */
static int
in_child(enum sandbox_role role, child_fn fn)
{
	char err[256];
	int status = 0, devnull;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0)
			dup2(devnull, STDERR_FILENO);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
		    sandbox_seccomp(role, getppid(), err, sizeof(err)) == -1)
			_exit(100);
		_exit(fn());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

/* exited - the child ran to the end with code */
static void
assert_exited(int status, int code)
{
	if (!WIFEXITED(status))
		fail_msg("child was killed by signal %d, want exit %d", WTERMSIG(status), code);
	if (WEXITSTATUS(status) != code)
		fail_msg("child exited %d, want %d", WEXITSTATUS(status), code);
}

/* killed - the filter killed the child (SIGSYS) */
static void
assert_killed(int status)
{
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
		fail_msg("child %s %d, want killed by SIGSYS",
		         WIFSIGNALED(status) ? "killed by signal" : "exited",
		         WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

static int
engine_refusals(void)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(25);
	sa.sin_addr.s_addr = htonl(0x7f000001);
	errno = 0;
	if (socket(AF_INET, SOCK_STREAM, 0) != -1 || errno != EPERM)
		return 1;
	/* without the filter this would be EBADF: the kernel never sees the call */
	errno = 0;
	if (connect(-1, (struct sockaddr *)&sa, sizeof(sa)) != -1 || errno != EPERM)
		return 2;
	errno = 0;
	if (open("/etc/passwd", O_RDONLY) != -1 || errno != EPERM)
		return 3;
	/* what the engine lives on still works */
	if (write(STDERR_FILENO, "", 0) != 0 || getpid() <= 0)
		return 4;
	return 0;
}

static int
store_work(void)
{
	char path[] = "/tmp/rt-sandbox-XXXXXX";
	int fd;

	errno = 0;
	if (socket(AF_UNIX, SOCK_STREAM, 0) != -1 || errno != EPERM)
		return 1;
	fd = mkstemp(path);
	if (fd < 0 || write(fd, "x", 1) != 1 || fsync(fd) != 0 || close(fd) != 0 ||
	    unlink(path) != 0)
		return 2;
	return 0;
}

static int
do_execve(void)
{
	char *argv[] = {"true", NULL};

	execve("/bin/true", argv, NULL);
	return 1;
}

static int
do_exec_mmap(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? 2 : 1;
}

static int
do_fork(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	return 1;
}

static int
do_kill_other(void)
{
	/* the engine may signal its peer (here: the test) and nobody else */
	if (kill(getppid(), 0) != 0)
		return 2;
	kill(1, 0);
	return 1;
}

static int
landlock_nothing(void)
{
	char err[256];
	int r = sandbox_landlock(NULL, err, sizeof(err));

	if (r == 0)
		return 0; /* no Landlock in this kernel: nothing to check */
	if (r != 1)
		return 1;
	errno = 0;
	if (open("/etc/passwd", O_RDONLY) != -1 || errno != EACCES)
		return 2;
	return 0;
}

/* made by the parent, which also removes it: the child may not touch its parent directory */
static char ll_dir[] = "/tmp/rt-landlock-XXXXXX";

static int
landlock_dir(void)
{
	char path[64], err[256];
	int fd, r;

	r = sandbox_landlock(ll_dir, err, sizeof(err));
	if (r == 0)
		return 0;
	if (r != 1)
		return 2;
	snprintf(path, sizeof(path), "%s/f", ll_dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	if (fd < 0 || close(fd) != 0 || unlink(path) != 0)
		return 3;
	errno = 0;
	if (open("/etc/passwd", O_RDONLY) != -1 || errno != EACCES)
		return 4;
	errno = 0;
	if (rmdir(ll_dir) != -1 || errno != EACCES)
		return 5;
	return 0;
}

static void
test_engine_refuses_with_eperm(void **state)
{
	(void)state;
	assert_exited(in_child(SANDBOX_ENGINE, engine_refusals), 0);
}

static void
test_store_keeps_files_not_sockets(void **state)
{
	(void)state;
	assert_exited(in_child(SANDBOX_STORE, store_work), 0);
}

static void
test_dangerous_calls_kill(void **state)
{
	(void)state;
	assert_killed(in_child(SANDBOX_ENGINE, do_execve));
	assert_killed(in_child(SANDBOX_STORE, do_execve));
	assert_killed(in_child(SANDBOX_ENGINE, do_exec_mmap));
	assert_killed(in_child(SANDBOX_STORE, do_exec_mmap));
	assert_killed(in_child(SANDBOX_ENGINE, do_fork));
	assert_killed(in_child(SANDBOX_ENGINE, do_kill_other));
}

static void
test_landlock(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	assert_non_null(mkdtemp(ll_dir));
	for (int i = 0; i < 2; i++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
				_exit(100);
			_exit(i == 0 ? landlock_nothing() : landlock_dir());
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_exited(status, 0);
	}
	assert_int_equal(rmdir(ll_dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_engine_refuses_with_eperm),
	    cmocka_unit_test(test_store_keeps_files_not_sockets),
	    cmocka_unit_test(test_dangerous_calls_kill),
	    cmocka_unit_test(test_landlock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
