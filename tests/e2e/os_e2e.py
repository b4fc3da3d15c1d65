#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""
os_e2e.py - end-to-end checks of the passive OS fingerprint: the daemon keeps the kernel's
saved SYN of each connection and classifies it with the p0f signatures.

A loopback connection must classify as Linux. When run as root with `ip` and network
namespaces available, a namespace joined to the host by a veth pair on a private
10.213.N.0/24 subnet gets its own IP TTL, TCP timestamps and window scaling switched off,
and a route with its own advertised MSS and window clamp; the daemon, listening on the host
end, must then see the Windows 7 and the Windows XP SYN those settings produce (with the
distance the TTL implies). The namespace is always removed. Traffic goes only to loopback
and to that namespace.

With enrich_os=no the listening socket must not have TCP_SAVE_SYN set (read off the daemon's
socket through pidfd_getfd; skipped where that is not allowed).

What is checked is the debug log line the listener writes for each SYN (`-v` /
log_level=debug; the os part of the session's relaytrap.enrich event is checked in
enrich_dns.py):
  listener=... peer=IP peer_port=N syn_len=N syn_sig=4:64+0:... os="unix:Linux:..."
  os_match=generic os_distance=0

Usage: tests/e2e/os_e2e.py --binary PATH [-v] [-k PATTERN]
Prints `E2E-OS: N passed, M failed[, K skipped]` as its last line; exits 1 on any failure.
"""
import argparse
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the Daemon helper and its settings)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
P0F_FP = os.path.join(ROOT, "contrib", "p0f.fp")
SYN_RE = re.compile(
    r"peer=(?P<peer>\S+) peer_port=(?P<port>\d+) syn_len=(?P<len>\d+) syn_sig=(?P<sig>\S+) "
    r'os="(?P<cls>[^":]*):(?P<name>[^":]*):(?P<flavor>[^"]*)" os_match=(?P<match>\w+) '
    r"os_distance=(?P<dist>-?\d+)")
NS_PREFIX = "rtos-"


def syn_line(d, peer, port, timeout=5.0):
    """syn_line - the debug line of the SYN from peer:port, waiting for it to be logged"""
    deadline = time.monotonic() + timeout
    while True:
        for m in SYN_RE.finditer(d.stderr()):
            if m["peer"] == peer and int(m["port"]) == port:
                return m
        if time.monotonic() > deadline:
            raise AssertionError(f"no SYN line for {peer}:{port} in:\n{d.stderr()[-3000:]}")
        time.sleep(0.05)


def talk(family, host, port):
    """talk - connect, read the banner, QUIT; returns the client's own port"""
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect((host, port))
        mine = s.getsockname()[1]
        banner = s.recv(512)
        assert banner.startswith(b"220 "), banner
        s.sendall(b"QUIT\r\n")
        s.recv(512)
    return mine


class Loopback(unittest.TestCase):
    """the kernel's own SYN over loopback is a Linux SYN"""

    def setUp(self):
        self.d = run.Daemon(sets=[f"p0f_fp={P0F_FP}", "log_level=debug"])
        self.addCleanup(self.d.cleanup)

    def test_ipv4_is_linux(self):
        mine = talk(socket.AF_INET, run.HOST, self.d.port)
        m = syn_line(self.d, run.HOST, mine)
        self.assertEqual((m["cls"], m["name"]), ("unix", "Linux"), m.group(0))
        self.assertIn(m["match"], ("exact", "generic"), m.group(0))
        self.assertTrue(m["sig"].startswith("4:64+0:0:"), m["sig"])
        self.assertEqual(int(m["dist"]), 0)
        # IPv4 header 20 bytes + TCP header with options (at most 40 more)
        self.assertTrue(40 <= int(m["len"]) <= 80, m["len"])
        self.assertIn("os signatures: ", self.d.stderr())
        self.assertEqual(self.d.stop(), 0)

    def test_ipv6_is_linux(self):
        try:
            probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            probe.bind(("::1", 0))
            probe.close()
        except OSError:
            self.skipTest("no IPv6 loopback")
        d6 = run.Daemon(config="p0f_fp = %s\nlog_level = debug\nlisten = [::1]:@PORT@\n" % P0F_FP)
        self.addCleanup(d6.cleanup)
        mine = talk(socket.AF_INET6, "::1", d6.port)
        m = syn_line(d6, "::1", mine)
        self.assertEqual((m["cls"], m["name"]), ("unix", "Linux"), m.group(0))
        self.assertTrue(m["sig"].startswith("6:64+0:0:"), m["sig"])
        self.assertEqual(d6.stop(), 0)


def listener_save_syn(pid, port):
    """listener_save_syn - TCP_SAVE_SYN of the daemon's listening socket on port, read from a
    copy of its descriptor (pidfd_getfd, Linux 5.6+, needs ptrace rights: root); None when
    that is not possible here"""
    import ctypes
    inodes = set()
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        f = line.split()
        if f[3] == "0A" and int(f[1].split(":")[1], 16) == port:  # LISTEN
            inodes.add(f[9])
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None
    try:
        for name in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{name}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                fd = libc.syscall(438, pidfd, int(name), 0)  # pidfd_getfd
                if fd < 0:
                    return None
                with socket.socket(fileno=fd) as s:
                    return s.getsockopt(socket.IPPROTO_TCP, 27)  # TCP_SAVE_SYN
    finally:
        os.close(pidfd)
    return None


class SavedSyn(unittest.TestCase):
    """the kernel keeps each client's SYN only when OS enrichment wants it"""

    def check(self, sets, want):
        d = run.Daemon(sets=[f"p0f_fp={P0F_FP}"] + sets)
        self.addCleanup(d.cleanup)
        got = listener_save_syn(d.proc.pid, d.port)
        if got is None:
            self.skipTest("cannot read the daemon's socket options here (pidfd_getfd)")
        self.assertEqual(got, want, f"TCP_SAVE_SYN with {sets}")
        talk(socket.AF_INET, run.HOST, d.port)  # served either way
        self.assertEqual(d.stop(), 0)

    def test_os_on_keeps_syns(self):
        self.check([], 1)

    def test_os_off_keeps_none(self):
        self.check(["enrich_os=no"], 0)


class Config(unittest.TestCase):
    """p0f_fp errors are one line naming the file (and line)"""

    def serve(self, *sets):
        tmp = tempfile.mkdtemp(prefix="rt-os-")
        self.addCleanup(shutil.rmtree, tmp, True)
        args = [run.BINARY, "serve", "--data-dir", os.path.join(tmp, "d"), "--listen",
                f"{run.HOST}:0"]
        for s in sets:
            args += ["--set", s]
        p = subprocess.run(args, capture_output=True, text=True, timeout=30)
        return p, tmp

    def test_missing_file(self):
        p, _ = self.serve("p0f_fp=/nonexistent/p0f.fp")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertEqual(p.stderr.strip().count("\n"), 0, p.stderr)
        self.assertIn("p0f_fp: /nonexistent/p0f.fp: cannot open", p.stderr)

    def test_bad_line(self):
        tmp = tempfile.mkdtemp(prefix="rt-os-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "bad.fp")
        with open(path, "w") as f:
            f.write("classes = win,unix\n[tcp:request]\nlabel = s:unix:Linux:3.x\n"
                    "sig = *:64:0:*:mss*20,10:mss,sok,ts,nop,ws:df,id+\n")
        p, _ = self.serve(f"p0f_fp={path}")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(f"{path}:4: sig needs 8 fields", p.stderr)
        self.assertEqual(p.stderr.strip().count("\n"), 0, p.stderr)


def sh(*args, check=True):
    """sh - run a command (no shell), return its stdout"""
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=30)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {p.stderr.strip()}")
    return p.stdout


def netns_possible():
    """netns_possible - None if namespaces can be made here, else why not"""
    if os.geteuid() != 0:
        return "not root"
    if shutil.which("ip") is None:
        return "no ip(8) (iproute2)"
    return None


def remove_stale_namespaces():
    """remove_stale_namespaces - ours (rtos-PID) left by a run that was killed"""
    for line in sh("ip", "netns", "list", check=False).splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.fullmatch(NS_PREFIX + r"(\d+)", name)
        if m and not os.path.exists(f"/proc/{m[1]}"):
            sh("ip", "netns", "del", name, check=False)


class Namespace:
    """Namespace - a network namespace joined to the host by a veth pair on 10.213.N.0/24"""

    def __init__(self):
        pid = os.getpid()
        self.name = f"{NS_PREFIX}{pid}"
        self.host_if = f"rtos{pid % 100000}h"
        self.ns_if = f"rtos{pid % 100000}n"
        used = sh("ip", "-4", "-o", "addr", "show")
        nets = [n for n in range(1, 255) if f" 10.213.{n}." not in used]
        n = random.choice(nets)
        self.host_ip, self.ns_ip = f"10.213.{n}.1", f"10.213.{n}.2"
        try:
            sh("ip", "netns", "add", self.name)
            sh("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            sh("ip", "link", "set", self.ns_if, "netns", self.name)
            sh("ip", "addr", "add", f"{self.host_ip}/24", "dev", self.host_if)
            sh("ip", "link", "set", self.host_if, "up")
            sh("ip", "-n", self.name, "addr", "add", f"{self.ns_ip}/24", "dev", self.ns_if)
            sh("ip", "-n", self.name, "link", "set", self.ns_if, "up")
            sh("ip", "-n", self.name, "link", "set", "lo", "up")
        except Exception:
            self.remove()
            raise

    def sysctl(self, **kv):
        """sysctl - set net.ipv4 sysctls inside the namespace"""
        args = [f"net.ipv4.{k}={v}" for k, v in kv.items()]
        sh("ip", "netns", "exec", self.name, "sysctl", "-q", "-w", *args)

    def route(self, *opts):
        """route - the namespace's route to the host end, with route options (advmss, window)"""
        sh("ip", "-n", self.name, "route", "replace", f"{self.host_ip}/32", "dev", self.ns_if,
           "src", self.ns_ip, *opts)

    def talk(self, port):
        """talk - connect from inside the namespace; returns the client's port"""
        code = ("import socket\n"
                f"s = socket.create_connection(({self.host_ip!r}, {port}), timeout=10)\n"
                "print(s.getsockname()[1], flush=True)\n"
                "assert s.recv(512).startswith(b'220 ')\n"
                "s.sendall(b'QUIT\\r\\n'); s.recv(512); s.close()\n")
        return int(sh("ip", "netns", "exec", self.name, sys.executable, "-c", code).split()[0])

    def remove(self):
        """remove - deleting the namespace takes its veth end, and so the pair, with it"""
        sh("ip", "netns", "del", self.name, check=False)
        sh("ip", "link", "del", self.host_if, check=False)


class OtherStacks(unittest.TestCase):
    """SYNs from a namespace with another TTL and other TCP options classify differently"""

    @classmethod
    def setUpClass(cls):
        why = netns_possible()
        if why:
            raise unittest.SkipTest(why)
        remove_stale_namespaces()
        try:
            cls.ns = Namespace()
        except RuntimeError as e:
            raise unittest.SkipTest(f"cannot make a network namespace: {e}")

    @classmethod
    def tearDownClass(cls):
        cls.ns.remove()

    def setUp(self):
        conf = (f"p0f_fp = {P0F_FP}\nlog_level = debug\n"
                f"[listener ns]\naddress = {self.ns.host_ip}\nport = @PORT@\n")
        self.d = run.Daemon(config=conf)
        self.addCleanup(self.d.cleanup)

    def classify(self):
        mine = self.ns.talk(self.d.port)
        return syn_line(self.d, self.ns.ns_ip, mine)

    def test_linux_defaults(self):
        """the namespace as it comes: the same Linux stack as the host"""
        self.ns.sysctl(ip_default_ttl=64, tcp_timestamps=1, tcp_window_scaling=1)
        self.ns.route()
        m = self.classify()
        self.assertEqual((m["cls"], m["name"]), ("unix", "Linux"), m.group(0))
        self.assertEqual(int(m["dist"]), 0)

    def test_windows_7(self):
        """TTL 121, no timestamps or window scaling, MSS 1024, window clamped to 8192"""
        self.ns.sysctl(ip_default_ttl=121, tcp_timestamps=0, tcp_window_scaling=0)
        self.ns.route("advmss", "1024", "window", "8192")
        m = self.classify()
        self.assertEqual(m["sig"], "4:121+7:0:1024:mss*8,0:mss,nop,nop,sok:df,id+:0", m.group(0))
        self.assertEqual((m["cls"], m["name"], m["flavor"], m["match"]),
                         ("win", "Windows", "7 or 8", "exact"), m.group(0))
        self.assertEqual(int(m["dist"]), 7)

    def test_windows_xp(self):
        """TTL 128, no timestamps or window scaling, MSS 1285, window 65535 (51 * 1285)"""
        self.ns.sysctl(ip_default_ttl=128, tcp_timestamps=0, tcp_window_scaling=0)
        self.ns.route("advmss", "1285", "window", "65535")
        m = self.classify()
        self.assertEqual(m["sig"], "4:128+0:0:1285:mss*51,0:mss,nop,nop,sok:df,id+:0", m.group(0))
        self.assertEqual((m["cls"], m["name"], m["flavor"], m["match"]),
                         ("win", "Windows", "XP", "exact"), m.group(0))
        self.assertEqual(int(m["dist"]), 0)

    def test_unknown_stack(self):
        """TTL 200, timestamps without window scaling: no signature fits, the raw sig and the
        distance from the guessed initial TTL (255) are still logged"""
        self.ns.sysctl(ip_default_ttl=200, tcp_timestamps=1, tcp_window_scaling=0)
        self.ns.route("advmss", "1000", "window", "4000")
        m = self.classify()
        self.assertEqual(m["match"], "none", m.group(0))
        self.assertEqual((m["cls"], m["name"], m["flavor"]), ("", "", ""), m.group(0))
        self.assertEqual(m["sig"], "4:200+55:0:1000:mss*4,0:mss,sok,ts:df,id+:0", m.group(0))
        self.assertEqual(int(m["dist"]), 55)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("-k", dest="pattern", action="append")
    args = ap.parse_args()
    run.BINARY = os.path.abspath(args.binary)
    loader = unittest.TestLoader()
    if args.pattern:
        loader.testNamePatterns = [p if "*" in p else f"*{p}*" for p in args.pattern]
    suite = loader.loadTestsFromModule(sys.modules[__name__])
    res = unittest.TextTestRunner(verbosity=2 if args.verbose else 1).run(suite)
    failed = len(res.failures) + len(res.errors)
    skipped = len(res.skipped)
    print(f"E2E-OS: {res.testsRun - failed - skipped} passed, {failed} failed"
          + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
