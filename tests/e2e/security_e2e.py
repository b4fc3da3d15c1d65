#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""
security_e2e.py - privilege separation, the chroot, the seccomp filter and "never relays" of a
built relaytrap, checked from outside through /proc, gdb, strace and a network namespace.

Owns: tests/e2e/security_e2e.py. Most tests need root (to start relaytrap as root, create a
user, attach gdb, make a network namespace); without root they are skipped with the reason,
and only the non-root split and the systemd unit are checked. Needs strace, gdb, iproute2,
systemd-analyze (the Makefile installs them).

Usage: tests/e2e/security_e2e.py --binary PATH [-v] [-k PATTERN]
Prints `SECURITY: N passed, M failed[, K skipped]` as its last line; exits 1 on any failure.
Traffic stays on 127.0.0.1 or inside a network namespace whose only interface is loopback.
"""
import argparse
import datetime
import os
import pwd
import re
import select
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import sigterm_wait  # noqa: E402  (SIGTERM, wait, SIGKILL: run.py's)

BINARY = None
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT_DIR = os.path.dirname(os.path.dirname(HERE))
HOST = "127.0.0.1"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0
IS_ROOT = os.geteuid() == 0
FAST = ["--set", "delay_banner=0", "--set", "delay_reply=0", "--set", "delay_jitter=0",
        "--set", "greet_pause=0"]
EPERM, ENOENT, EBADF = 1, 2, 9
OPEN_PASSWD = ["print ((int(*)(char*,int))open)(\"/etc/passwd\", 0)",
               "print *((int*(*)(void))__errno_location)()"]
NEED_ROOT = "needs root (relaytrap's drop from root is what is tested); CI runs as root"


def free_port():
    """free_port - a TCP port on 127.0.0.1 nobody listens on right now"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def proc_status(pid):
    """proc_status - /proc/PID/status as a dict of the first word after each key"""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


def run(*args, **kw):
    """run - a command that must succeed; its output as text"""
    p = subprocess.run(args, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {p.returncode}: {p.stderr.strip()}")
    return p.stdout


class Daemon:
    """Daemon - `relaytrap serve` on a free loopback port with its own data directory"""

    def __init__(self, args=(), user=None, env=None, data=None, port=None, caps=None,
                 bounding=None):
        self.dir = tempfile.mkdtemp(prefix="rt-sec-")
        self.data = data or os.path.join(self.dir, "data")
        self.port = port or free_port()
        cmd = [BINARY, "serve", "--data-dir", self.data, "--listen", f"{HOST}:{self.port}",
               "--hostname", "mail.sec.example"] + FAST + list(args)
        if user is not None:
            # started as an ordinary user, the way a non-root operator (or systemd's User=)
            # would start it, optionally with ambient capabilities like the unit's
            pw = pwd.getpwnam(user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            pre = ["setpriv", f"--reuid={user}", f"--regid={pw.pw_gid}", "--clear-groups"]
            if caps:
                c = ",".join("+" + x for x in caps)
                pre += [f"--inh-caps={c}", f"--ambient-caps={c}", "--no-new-privs"]
            cmd = pre + ["--"] + cmd
        elif bounding is not None:
            # root with only these capabilities, like a unit's CapabilityBoundingSet=
            c = ",".join(["-all"] + ["+" + x for x in bounding])
            cmd = ["setpriv", f"--bounding-set={c}", "--inh-caps=-all", "--no-new-privs",
                   "--"] + cmd
        self.errpath = os.path.join(self.dir, "stderr.log")
        self.err = open(self.errpath, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.err,
                                     stderr=self.err, env=env)
        self.pid = self.proc.pid
        self.store_pid = None
        try:
            self._wait_ready()
        except BaseException:
            self.cleanup()  # the caller never gets an object to clean up
            raise

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            text = self.stderr()
            m = re.search(r"serving: .* store_pid=(\d+)", text)
            if m and f"port={self.port}" in text and "store: privileges dropped" in text:
                self.store_pid = int(m.group(1))
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}: {text}")
            time.sleep(0.02)
        raise AssertionError("daemon did not log ready in time:\n" + self.stderr())

    def stderr(self):
        with open(self.errpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def smtp_mail(self):
        """smtp_mail - one open-relay attempt: a message for a foreign domain"""
        with smtplib.SMTP(HOST, self.port, local_hostname="client.sec.example", timeout=10) as s:
            s.sendmail("spammer@example.net", ["victim@example.org"],
                       "Subject: relay test\r\n\r\nhello\r\n")

    def banner(self):
        with socket.create_connection((HOST, self.port), timeout=10) as c:
            data = b""
            while not data.endswith(b"\r\n"):
                chunk = c.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data.decode("latin-1")

    def stop(self, allow_refusals=False):
        """stop - SIGTERM, exit status 0, and no sandbox refusal nobody asked for"""
        if not sigterm_wait(self.proc, STOP_TIMEOUT):
            raise AssertionError("daemon did not exit after SIGTERM")
        self.err.close()
        log = self.stderr()
        if not allow_refusals and "sandbox: refused" in log:
            raise AssertionError("the sandbox refused a call in normal operation:\n" + log)
        if self.proc.returncode != 0:
            raise AssertionError(f"daemon exited {self.proc.returncode}:\n{log}")
        return log

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.err.closed:
            self.err.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def gdb_probe(pid, port, extra=()):
    """gdb_probe - inside process pid, call socket(), then connect() to 127.0.0.1:port, then
    any extra expressions; returns the printed values in order (ret, errno, ret, errno, ...)"""
    errno = "*((int*(*)(void))__errno_location)()"
    script = [
        "set pagination off",
        "set confirm off",
        # a refused call raises SIGSYS, which relaytrap's handler turns into EPERM
        "handle SIGSYS nostop noprint pass",
        "set $fd = ((int(*)(int,int,int))socket)(2, 1, 0)",
        "print $fd",
        f"print {errno}",
        "set $sa = (unsigned char *)((void*(*)(unsigned long))malloc)(16)",
        "set $z = ((void*(*)(void*,int,unsigned long))memset)($sa, 0, 16)",
        "set $sa[0] = 2",
        f"set $sa[2] = {port >> 8}",
        f"set $sa[3] = {port & 255}",
        "set $sa[4] = 127",
        "set $sa[7] = 1",
        "print ((int(*)(int,void*,unsigned int))connect)($fd, $sa, 16)",
        f"print {errno}",
    ] + list(extra)
    args = ["gdb", "-p", str(pid), "-batch", "-nx"]
    for line in script:
        args += ["-ex", line]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    vals = [int(v) for v in re.findall(r"^\$\d+ = (-?\d+)", p.stdout, re.M)]
    if len(vals) < 4:
        raise AssertionError(f"gdb printed {vals}:\n{p.stdout}\n{p.stderr}")
    return vals


class Listener:
    """Listener - a TCP server on 127.0.0.1 that only counts who reached it"""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((HOST, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]

    def accepted(self, wait=0.5):
        n = 0
        while select.select([self.sock], [], [], wait)[0]:
            c, _ = self.sock.accept()
            c.close()
            n += 1
            wait = 0.05
        return n

    def close(self):
        self.sock.close()


@unittest.skipUnless(IS_ROOT, NEED_ROOT)
class RootSplitTests(unittest.TestCase):
    """Started as root: both processes end up unprivileged, jailed and filtered."""

    @classmethod
    def setUpClass(cls):
        cls.user = f"rtsec{os.getpid() % 100000}"
        run("useradd", "--system", "--user-group", "--no-create-home", "--shell",
            "/usr/sbin/nologin", cls.user)
        cls.pw = pwd.getpwnam(cls.user)
        # /var/tmp is root-owned and sticky, so the jail below it cannot be swapped
        cls.jail = tempfile.mkdtemp(prefix="rt-jail-", dir="/var/tmp")
        os.chmod(cls.jail, 0o755)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["userdel", cls.user], capture_output=True)
        subprocess.run(["groupdel", cls.user], capture_output=True)
        shutil.rmtree(cls.jail, ignore_errors=True)

    def start(self, *extra, **kw):
        d = Daemon(["--set", f"user={self.user}", "--set", f"chroot={self.jail}"] +
                   list(extra), **kw)
        self.addCleanup(d.cleanup)
        return d

    def assert_dropped(self, pid, root_dir, groups=None):
        st = proc_status(pid)
        uid, gid = str(self.pw.pw_uid), str(self.pw.pw_gid)
        self.assertEqual(st["Uid"], [uid] * 4, f"pid {pid} Uid")
        self.assertEqual(st["Gid"], [gid] * 4, f"pid {pid} Gid")
        self.assertEqual(st.get("Groups", []), [gid] if groups is None else groups,
                         f"pid {pid} Groups")
        self.assertEqual(st["NoNewPrivs"], ["1"], f"pid {pid} NoNewPrivs")
        self.assertEqual(st["Seccomp"], ["2"], f"pid {pid} Seccomp (2 = filter)")
        self.assertEqual(st["CapEff"], ["0000000000000000"], f"pid {pid} CapEff")
        self.assertEqual(st["CapPrm"], ["0000000000000000"], f"pid {pid} CapPrm")
        self.assertEqual(os.readlink(f"/proc/{pid}/root"), root_dir, f"pid {pid} chroot")
        self.assertEqual(os.readlink(f"/proc/{pid}/cwd"), root_dir, f"pid {pid} cwd")

    def test_engine_and_store_are_dropped(self):
        d = self.start()
        d.smtp_mail()
        self.assert_dropped(d.pid, self.jail)
        self.assert_dropped(d.store_pid, os.path.realpath(d.data))
        for name in ("", "events.jsonl", "relaytrap.db", "bodies"):
            st = os.stat(os.path.join(d.data, name))
            self.assertEqual((st.st_uid, st.st_gid), (self.pw.pw_uid, self.pw.pw_gid), name)
        log = d.stop()
        self.assertIn(f"engine chrooted to {self.jail}, engine and store run as {self.user}",
                      log)
        self.assertIn(f"store: privileges dropped; data_dir={d.data} (its chroot)", log)
        self.assertIn("seccomp=on", log)

    def test_default_user_and_jail(self):
        want = "relaytrap"
        try:
            pw = pwd.getpwnam(want)
        except KeyError:
            want, pw = "nobody", pwd.getpwnam("nobody")
        d = Daemon()
        self.addCleanup(d.cleanup)
        st = proc_status(d.pid)
        self.assertEqual(st["Uid"], [str(pw.pw_uid)] * 4)
        self.assertEqual(st["Seccomp"], ["2"])
        self.assertEqual(os.readlink(f"/proc/{d.pid}/root"), "/var/empty/relaytrap")
        jail = os.stat("/var/empty/relaytrap")
        self.assertEqual(jail.st_uid, 0)
        self.assertEqual(jail.st_mode & 0o7777, 0o755)
        self.assertEqual(os.listdir("/var/empty/relaytrap"), [])
        log = d.stop()
        if want == "nobody":
            self.assertEqual(log.count("user relaytrap does not exist, running as nobody"), 1)

    def test_connect_and_socket_refused_by_the_filter(self):
        target = Listener()
        self.addCleanup(target.close)
        d = self.start()
        # control: the same calls in an unfiltered process reach the target
        ctl = subprocess.Popen(["sleep", "120"])
        self.addCleanup(ctl.kill)
        fd, fd_errno, ret, ret_errno = gdb_probe(ctl.pid, target.port)
        self.assertGreaterEqual(fd, 0, "control: socket() works outside the sandbox")
        self.assertEqual(ret, 0, f"control: connect() works outside the sandbox "
                                 f"(errno {ret_errno})")
        self.assertEqual(target.accepted(), 1, "control connection arrived")
        # the engine: socket() and connect() fail with EPERM; a kernel without the filter
        # would have said EBADF for connect(-1, ...)
        vals = gdb_probe(d.pid, target.port,
                         OPEN_PASSWD)
        self.assertEqual(vals, [-1, EPERM, -1, EPERM, -1, EPERM],
                         "engine: socket, connect, open refused with EPERM")
        self.assertEqual(target.accepted(), 0, "nothing reached the target from the engine")
        # the store may open files (only in its jail) but no sockets
        vals = gdb_probe(d.store_pid, target.port,
                         OPEN_PASSWD)
        self.assertEqual(vals, [-1, EPERM, -1, EPERM, -1, ENOENT],
                         "store: socket and connect refused, /etc/passwd not in its jail")
        self.assertEqual(target.accepted(), 0, "nothing reached the target from the store")
        # the engine still serves after the refusals, and the refusals were logged
        d.smtp_mail()
        log = d.stop(allow_refusals=True)
        for call in ("connect", "socket"):
            self.assertRegex(log, rf"relaytrap\[{d.pid}\] warn: sandbox: refused {call}\(2\)")
            self.assertRegex(log,
                             rf"relaytrap-store\[{d.store_pid}\] warn: sandbox: refused "
                             rf"{call}\(2\)")
        self.assertRegex(log, rf"relaytrap\[{d.pid}\] warn: sandbox: refused open(at)?\(2\)")

    def test_banner_date_in_local_time_after_chroot(self):
        for zone, offset in (("Asia/Kolkata", "+0530"), ("America/St_Johns", None)):
            env = dict(os.environ, TZ=f":/usr/share/zoneinfo/{zone}")
            d = self.start(env=env)
            before = int(time.time())
            banner = d.banner()
            after = int(time.time())
            d.stop()
            m = re.search(r"ready at  (\w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d) ([+-]\d{4})",
                          banner)
            self.assertIsNotNone(m, banner)
            # the zone's real offset at that moment, from the same tz database
            p = subprocess.run(["date", "+%z", "-d", f"@{before}"], env=env,
                               capture_output=True, text=True)
            want = offset or p.stdout.strip()
            self.assertEqual(m.group(2), want, f"{zone}: {banner!r}")
            got = datetime.datetime.strptime(m.group(1) + " " + m.group(2),
                                             "%a, %d %b %Y %H:%M:%S %z").timestamp()
            self.assertTrue(before - 1 <= got <= after + 1, f"{zone}: {banner!r}")

    def test_root_owned_data_dir_is_handed_over(self):
        data = tempfile.mkdtemp(prefix="rt-sec-data-")
        self.addCleanup(shutil.rmtree, data, True)
        os.makedirs(os.path.join(data, "bodies", "ab", "cd"))
        with open(os.path.join(data, "events.jsonl"), "w") as f:
            f.write('{"eventid":"old"}\n')
        os.symlink("/etc/passwd", os.path.join(data, "link"))
        d = self.start(data=data)
        d.smtp_mail()
        d.stop()
        for rel in ("", "events.jsonl", "bodies", "bodies/ab/cd"):
            self.assertEqual(os.stat(os.path.join(data, rel)).st_uid, self.pw.pw_uid, rel)
        self.assertEqual(os.stat("/etc/passwd").st_uid, 0, "a symlink is never followed")
        with open(os.path.join(data, "events.jsonl")) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], '{"eventid":"old"}')
        self.assertGreater(len(lines), 5, "new events appended by the dropped store")

    def test_store_rotates_and_reopens_inside_its_jail(self):
        d = self.start("--set", "jsonl_rotate=4k")
        for _ in range(4):
            d.smtp_mail()
        time.sleep(0.5)
        os.rename(os.path.join(d.data, "events.jsonl"), os.path.join(d.data, "moved.jsonl"))
        os.kill(d.pid, signal.SIGHUP)  # the engine passes it on to the store
        time.sleep(0.5)
        d.smtp_mail()
        d.stop()
        names = os.listdir(d.data)
        self.assertIn("events.jsonl", names, "reopened after SIGHUP")
        self.assertTrue(any(re.match(r"events-\d{8}T\d{6}Z.*\.jsonl", n) for n in names),
                        f"rotated by size: {names}")
        self.assertGreater(os.path.getsize(os.path.join(d.data, "events.jsonl")), 0)

    def test_root_without_dac_override(self):
        """root with only the capabilities a root-start unit leaves it (no CAP_DAC_OVERRIDE,
        no CAP_CHOWN) still reaches the user's 0750 data directory, as the user"""
        base = tempfile.mkdtemp(prefix="rt-sec-unit-", dir="/var/tmp")
        self.addCleanup(shutil.rmtree, base, True)
        os.chmod(base, 0o755)
        data = os.path.join(base, "data")
        os.mkdir(data, 0o750)
        os.chown(data, self.pw.pw_uid, self.pw.pw_gid)
        bounding = ["net_bind_service", "setuid", "setgid", "sys_chroot"]
        d = self.start(data=data, bounding=bounding)
        d.smtp_mail()
        self.assert_dropped(d.pid, self.jail)
        self.assert_dropped(d.store_pid, data)
        self.assertEqual(os.stat(os.path.join(data, "identity")).st_uid, self.pw.pw_uid,
                         "identity written as the user, root could not")
        d.stop()
        # a root-owned data directory cannot be handed over without CAP_CHOWN: one line
        os.chown(data, 0, 0)
        p = subprocess.run(["setpriv", "--bounding-set=-all," +
                            ",".join("+" + b for b in bounding), "--inh-caps=-all", "--",
                            BINARY, "serve", "--data-dir", data, "--listen",
                            f"{HOST}:{free_port()}", "--set", f"user={self.user}", "--set",
                            f"chroot={self.jail}"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertEqual(p.stderr.count("\n"), 1, p.stderr)
        self.assertIn(f"chown -R {self.user}:{self.user} {data}", p.stderr)

    def test_unit_mode_unprivileged_with_chroot_capability(self):
        """as the shipped unit starts it: the user, CAP_NET_BIND_SERVICE and CAP_SYS_CHROOT as
        ambient capabilities, no_new_privs; a port below 1024; both processes jailed"""
        port = None
        for cand in range(700, 1000):
            with socket.socket() as s:
                try:
                    s.bind((HOST, cand))
                    port = cand
                    break
                except OSError:
                    continue
        self.assertIsNotNone(port, "a free port below 1024")
        d = Daemon(user=self.user, port=port, caps=["net_bind_service", "sys_chroot"],
                   args=["--set", f"chroot={self.jail}"])
        self.addCleanup(d.cleanup)
        d.smtp_mail()
        # started unprivileged, it keeps the groups it was given (setpriv gave none)
        self.assert_dropped(d.pid, self.jail, groups=[])
        self.assert_dropped(d.store_pid, os.path.realpath(d.data), groups=[])
        for pid in (d.pid, d.store_pid):
            self.assertEqual(proc_status(pid)["CapAmb"], ["0000000000000000"])
        log = d.stop()
        self.assertIn(f"not started as root, with CAP_SYS_CHROOT: engine chrooted to "
                      f"{self.jail}", log)

    def test_bad_jail_and_user_are_one_line_errors(self):
        full = tempfile.mkdtemp(prefix="rt-jail-full-", dir="/var/tmp")
        self.addCleanup(shutil.rmtree, full, True)
        open(os.path.join(full, "x"), "w").close()
        open_jail = tempfile.mkdtemp(prefix="rt-jail-open-", dir="/var/tmp")
        self.addCleanup(shutil.rmtree, open_jail, True)
        os.chmod(open_jail, 0o777)
        cases = [
            (["--set", f"chroot={full}"], "must be empty"),
            (["--set", f"chroot={open_jail}"], "writable only by root"),
            (["--set", "chroot=relative/dir"], "absolute path"),
            (["--set", "user=no-such-user-rt"], "user 'no-such-user-rt' does not exist"),
            (["--set", "user=root"], "is root"),
            (["--set", "group=no-such-group-rt"], "group 'no-such-group-rt' does not exist"),
        ]
        for args, want in cases:
            with tempfile.TemporaryDirectory() as t:
                p = subprocess.run([BINARY, "serve", "--data-dir", t, "--listen",
                                    f"{HOST}:{free_port()}"] + args,
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, 2, f"{args}: {p.stderr}")
                self.assertIn(want, p.stderr, args)
                self.assertEqual(p.stderr.count("\n"), 1, f"{args}: {p.stderr!r}")


class NonRootSplitTests(unittest.TestCase):
    """Started without root: no chroot and no user change, said once; the filter still holds."""

    def test_split_without_root(self):
        user = "nobody" if IS_ROOT else None
        d = Daemon(user=user)
        self.addCleanup(d.cleanup)
        d.smtp_mail()
        for pid in (d.pid, d.store_pid):
            st = proc_status(pid)
            self.assertEqual(st["NoNewPrivs"], ["1"], f"pid {pid}")
            self.assertEqual(st["Seccomp"], ["2"], f"pid {pid}")
            self.assertEqual(st["CapEff"], ["0000000000000000"], f"pid {pid}")
            self.assertNotEqual(st["Uid"][0], "0")
        if IS_ROOT:
            self.assertEqual(os.readlink(f"/proc/{d.pid}/root"), "/")
            target = Listener()
            self.addCleanup(target.close)
            vals = gdb_probe(d.pid, target.port)
            self.assertEqual(vals, [-1, EPERM, -1, EPERM])
            self.assertEqual(target.accepted(), 0)
        log = d.stop(allow_refusals=IS_ROOT)
        self.assertEqual(log.count("not started as root: no chroot and no user change"), 1)


@unittest.skipUnless(IS_ROOT, "network namespaces need root; " + NEED_ROOT)
class NeverRelaysTests(unittest.TestCase):
    """Every scenario of the end-to-end suite, in a namespace with only loopback, under strace:
    no relaytrap process ever attempts an outbound connection."""

    TRACED = "connect,accept,accept4,sendto,sendmsg,sendmmsg,socket,open,openat,seccomp,prctl"

    def setUp(self):
        self.ns = f"rtsec{os.getpid() % 100000}"
        run("ip", "netns", "add", self.ns)
        self.addCleanup(subprocess.run, ["ip", "netns", "del", self.ns], capture_output=True)
        run("ip", "-n", self.ns, "link", "set", "lo", "up")
        self.tmp = tempfile.mkdtemp(prefix="rt-sec-ns-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.addCleanup(self.sweep)

    def tracers(self):
        """tracers - pids of this test's strace processes still running"""
        mark = f"{self.tmp}/trace.".encode()
        pids = []
        for d in os.listdir("/proc"):
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    if mark in f.read():
                        pids.append(int(d))
            except (OSError, ValueError):
                pass
        return pids

    def sweep(self):
        """sweep - end what a strace of this test still traces (its daemon first: killing
        strace alone would leave the daemon running), then the strace"""
        for pid in self.tracers():
            for c in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                    text=True).stdout.split():
                try:
                    os.kill(int(c), signal.SIGTERM)
                except OSError:
                    pass
        deadline = time.monotonic() + STOP_TIMEOUT
        while self.tracers() and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in self.tracers():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def wrapper(self):
        """wrapper - a stand-in binary for run.py: relaytrap under strace -f, signals passed on
        to relaytrap itself (strace would otherwise take SIGTERM for itself)"""
        path = os.path.join(self.tmp, "relaytrap-strace")
        with open(path, "w") as f:
            f.write(f"""#!/bin/bash
# keep the daemon's config: its `resolver` is the one address DNS may go to
prev=""
for a in "$@"; do
    [ "$prev" = "-c" ] && [ -f "$a" ] && cp "$a" "{self.tmp}/conf.$$"
    prev=$a
done
strace -f -qq -s 64 -e trace={self.TRACED} -e signal=none \\
    -o "{self.tmp}/trace.$$" "{os.path.abspath(BINARY)}" "$@" &
spid=$!
fwd() {{ for c in $(pgrep -P $spid); do kill -$1 $c; done; }}
trap 'fwd TERM' TERM; trap 'fwd INT' INT; trap 'fwd HUP' HUP
# a trapped signal interrupts wait (status > 128) without reaping: wait again for the real one
while :; do
    wait $spid; rc=$?
    [ $rc -lt 128 ] && break
    kill -0 $spid 2>/dev/null || {{ wait $spid; rc=$?; break; }}
done
exit $rc
""")
        os.chmod(path, 0o755)
        return path

    def test_no_outbound_connection_in_any_scenario(self):
        links = run("ip", "-n", self.ns, "-o", "link").splitlines()
        self.assertEqual([l.split(":")[1].strip() for l in links], ["lo"],
                         "the namespace has loopback and nothing else")
        p = subprocess.run(["ip", "netns", "exec", self.ns, sys.executable,
                            os.path.join(HERE, "run.py"), "--binary", self.wrapper()],
                           capture_output=True, text=True, timeout=1800)
        summary = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
        self.assertRegex(summary, r"^E2E: \d+ passed, 0 failed", p.stderr[-3000:])
        # the suite stops every daemon it starts, through the wrapper too
        deadline = time.monotonic() + 5
        while self.tracers() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.tracers(), [], "daemons left running after the suite")
        traces = [os.path.join(self.tmp, n) for n in os.listdir(self.tmp)
                  if n.startswith("trace.")]
        self.assertGreater(len(traces), 20, "one trace per daemon the suite started")
        accepts = outbound = 0
        problems = []
        dns = 0
        for path in traces:
            with open(path, errors="replace") as f:
                lines = f.read().splitlines()
            # the resolvers this daemon was configured with (enrichment's DNS, the one
            # outbound traffic relaytrap may send): ip:port pairs from `resolver =`
            resolvers = set()
            conf = path.replace("trace.", "conf.")
            if os.path.exists(conf):
                with open(conf, errors="replace") as f:
                    for cl in f:
                        k, _, v = cl.partition("=")
                        if k.strip() == "resolver":
                            for r in v.split(","):
                                host, _, port = r.strip().rpartition(":")
                                resolvers.add((host or r.strip(), port or "53"))
            first = {}
            sandboxed = set()
            for line in lines:
                m = re.match(r"(\d+)\s+(\w+)\((.*)", line)
                if not m:
                    continue
                pid, call, rest = int(m.group(1)), m.group(2), m.group(3)
                first.setdefault("engine", pid)
                role = "engine" if pid == first["engine"] else "store"
                # libseccomp probes with NULL filters first; the real load has filter= and
                # succeeds
                if call in ("seccomp", "prctl") and "filter=" in rest and \
                        rest.rstrip().endswith("= 0"):
                    sandboxed.add(pid)
                if call.startswith("accept") and "= -1" not in rest:
                    accepts += 1
                # any attempt to reach an Internet address, at any time, by any process
                if call in ("connect", "sendto", "sendmsg", "sendmmsg") and \
                        re.search(r"AF_INET6?\b", rest):
                    dst = re.search(r'sin6?_port=htons\((\d+)\).*?inet_(?:addr|pton)\('
                                    r'(?:AF_INET6?, )?"([^"]+)"', rest)
                    if dst and (dst.group(2), dst.group(1)) in resolvers:
                        dns += 1
                        continue
                    outbound += 1
                    problems.append(f"{os.path.basename(path)}: {line}")
                # after its filter, the engine opens nothing and makes no socket at all
                if pid in sandboxed and role == "engine" and \
                        call in ("connect", "socket", "open", "openat"):
                    problems.append(f"{os.path.basename(path)} engine after sandbox: {line}")
                if pid in sandboxed and role == "store" and call in ("connect", "socket"):
                    problems.append(f"{os.path.basename(path)} store after sandbox: {line}")
        print(f"\n  never-relays: {len(traces)} daemons traced, {accepts} connections "
              f"accepted, {dns} DNS queries to the configured resolver, {outbound} other "
              f"outbound attempts", file=sys.stderr)
        self.assertGreater(accepts, 100, "the suite's clients really talked to the daemons")
        self.assertEqual(problems, [])


class SystemdUnitTests(unittest.TestCase):
    """The shipped unit's sandbox, as systemd rates it."""

    def test_security_score(self):
        if shutil.which("systemd-analyze") is None:
            self.fail("systemd-analyze is missing (apt-get install systemd)")
        unit = os.path.join(ROOT_DIR, "contrib", "relaytrap.service")
        p = subprocess.run(["systemd-analyze", "security", "--offline=yes", unit],
                           capture_output=True, text=True, timeout=120)
        m = re.search(r"Overall exposure level for relaytrap\.service: (\d+\.\d+)", p.stdout)
        self.assertIsNotNone(m, p.stdout[-2000:] + p.stderr)
        score = float(m.group(1))
        print(f"\n  systemd-analyze security: {score} (lower is better)", file=sys.stderr)
        self.assertLessEqual(score, 2.0, p.stdout)


def main():
    global BINARY
    ap = argparse.ArgumentParser(description="relaytrap security end-to-end tests")
    ap.add_argument("--binary", required=True)
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("-k", action="append", default=[], help="only tests matching this substring")
    a = ap.parse_args()
    BINARY = os.path.abspath(a.binary)
    if not os.access(BINARY, os.X_OK):
        print(f"security_e2e.py: {BINARY}: not executable", file=sys.stderr)
        print("SECURITY: 0 passed, 1 failed")
        return 1
    # A sanitizer build keeps its privileges on purpose (the leak check needs /proc and
    # ptrace at exit), so only a normal build can be checked here.
    p = subprocess.run(["ldd", BINARY], capture_output=True, text=True)
    if "libasan" in p.stdout:
        print(f"security_e2e.py: {BINARY} is an AddressSanitizer build, which runs without "
              "the sandbox by design; run this against a normal build", file=sys.stderr)
        print("SECURITY: 0 passed, 0 failed, 1 skipped")
        return 0
    if not IS_ROOT:
        print(f"security_e2e.py: not root: {NEED_ROOT}; running the non-root checks only",
              file=sys.stderr)
    loader = unittest.TestLoader()
    if a.k:
        loader.testNamePatterns = [f"*{k}*" for k in a.k]
    suite = loader.loadTestsFromModule(sys.modules[__name__])
    t0 = time.monotonic()
    res = unittest.TextTestRunner(verbosity=2 if a.verbose else 1, stream=sys.stderr).run(suite)
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    skipped = len(res.skipped)
    passed = res.testsRun - failed - skipped
    print(f"run time {time.monotonic() - t0:.1f}s", file=sys.stderr)
    line = f"SECURITY: {passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
