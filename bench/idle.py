#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
#
# bench/idle.py - memory cost of idle sessions in the relaytrap engine.
#
# Starts relaytrap on a loopback port with full capture, opens N connections
# (default 10,000), reads each banner, sends EHLO and reads the whole reply,
# holds them all, and compares the engine's VmRSS before and after to print
# KiB per idle session.  Then it closes every connection, stops the daemon
# and checks that relaytrap recorded N sessions (rows in `sessions`,
# `relaytrap.session.connect` lines in events.jsonl).
#
# Usage: bench/idle.py [-n N] [--port PORT] [PATH-TO-RELAYTRAP]
# Limits: 127.0.0.1 only; N is capped at 20,000 (the daemon's max_sessions
# here); every socket has a 10 s timeout and the whole run a 300 s deadline.

import argparse
import os
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

MAX_CONNS = 20000
SOCK_TIMEOUT = 10.0
DEADLINE = 300.0
REPLY_MAX = 65536


def status_kib(pid, key):
    """status_kib - one VmXXX field of /proc/PID/status in KiB"""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {key} for pid {pid}")


def child_pid(pid):
    """child_pid - the first child process of pid, or None"""
    kids = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            kids += f.read().split()
    return int(kids[0]) if kids else None


def store_pid(pid):
    """store_pid - the store: the engine forks the store keeper, the keeper forks the store
    (docs/security.md); None while it is not there yet"""
    keeper = child_pid(pid)
    return child_pid(keeper) if keeper is not None else None


def wait_listen(port, proc):
    """wait_listen - wait (10 s at most) until the port is listening, without connecting"""
    needle = f"127.0.0.1:{port}"
    for _ in range(100):
        if proc.poll() is not None:
            raise RuntimeError("relaytrap exited early")
        out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout
        if needle in out:
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {needle}")


def read_reply(sock):
    """read_reply - read one complete (possibly multi-line) SMTP reply"""
    buf = b""
    while len(buf) < REPLY_MAX:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("connection closed before a full reply")
        buf += chunk
        # A reply is complete when its last line has a space after the code.
        if buf.endswith(b"\r\n"):
            last = buf[:-2].rsplit(b"\r\n", 1)[-1]
            if len(last) >= 4 and last[3:4] == b" ":
                return buf
    raise RuntimeError("reply too long")


def main():
    """main - run the idle-session measurement and print the result"""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("relaytrap", nargs="?", default="build/relaytrap")
    ap.add_argument("-n", type=int, default=10000, help="connections to hold (default 10000)")
    ap.add_argument("--port", type=int, default=25310)
    args = ap.parse_args()
    n = min(max(args.n, 1), MAX_CONNS)

    # The client and the daemon it starts both need one descriptor per session.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 256
    if hard != resource.RLIM_INFINITY and hard < want:
        sys.exit(f"idle.py: hard RLIMIT_NOFILE {hard} < {want}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))

    data = tempfile.mkdtemp(prefix="relaytrap-idle.")
    cmd = [args.relaytrap, "serve", "--listen", f"127.0.0.1:{args.port}", "--data-dir", data,
           "--set", "delay_banner=0", "--set", "delay_reply=0", "--set", "delay_jitter=0",
           "--set", "max_sessions=20000", "--set", "max_per_ip=20000", "-q"]
    proc = subprocess.Popen(cmd)
    socks = []
    ok = False
    try:
        wait_listen(args.port, proc)
        spid = None
        for _ in range(50):
            spid = store_pid(proc.pid)
            if spid:
                break
            time.sleep(0.1)
        time.sleep(0.5)
        rss0 = status_kib(proc.pid, "VmRSS")
        srss0 = status_kib(spid, "VmRSS") if spid else 0

        t0 = time.monotonic()
        for i in range(n):
            if time.monotonic() - t0 > DEADLINE:
                raise RuntimeError(f"deadline hit after {i} connections")
            s = socket.create_connection(("127.0.0.1", args.port), timeout=SOCK_TIMEOUT)
            socks.append(s)
            banner = read_reply(s)
            if not banner.startswith(b"220"):
                raise RuntimeError(f"connection {i}: got banner {banner[:60]!r}, want 220")
            s.sendall(b"EHLO idle.example.com\r\n")
            ehlo = read_reply(s)
            if not ehlo.startswith(b"250"):
                raise RuntimeError(f"connection {i}: got EHLO reply {ehlo[:60]!r}, want 250")
        t_open = time.monotonic() - t0
        time.sleep(1.0)
        rss1 = status_kib(proc.pid, "VmRSS")
        hwm1 = status_kib(proc.pid, "VmHWM")
        srss1 = status_kib(spid, "VmRSS") if spid else 0

        for s in socks:
            s.close()
        socks = []
        # Give the engine time to see every close and hand the events over.
        time.sleep(2.0)
        rss2 = status_kib(proc.pid, "VmRSS")
    finally:
        for s in socks:
            s.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    try:
        # The store exits after the engine; wait for it before reading.
        for _ in range(100):
            if spid is None or not os.path.exists(f"/proc/{spid}"):
                break
            time.sleep(0.1)
        db = sqlite3.connect(os.path.join(data, "relaytrap.db"))
        sessions = db.execute("SELECT count(*) FROM sessions").fetchone()[0]
        db.close()
        connects = 0
        with open(os.path.join(data, "events.jsonl"), "rb") as f:
            for line in f:
                if b'"eventid":"relaytrap.session.connect"' in line:
                    connects += 1
    finally:
        shutil.rmtree(data, ignore_errors=True)

    per = (rss1 - rss0) / n
    print(f"connections held:        {n} (opened in {t_open:.1f} s)")
    print(f"engine VmRSS before:     {rss0} KiB")
    print(f"engine VmRSS holding:    {rss1} KiB (VmHWM {hwm1} KiB)")
    print(f"engine VmRSS after close:{rss2:>7} KiB")
    print(f"store  VmRSS before/holding: {srss0} / {srss1} KiB")
    print(f"KiB per idle session:    {per:.2f} (target <= 8)")
    print(f"recorded sessions:       db {sessions}, jsonl connect {connects}, want {n}")
    ok = sessions == n and connects == n
    print("RESULT:", "OK" if ok and per <= 8 else ("RECORDING MISSING" if not ok else "OVER TARGET"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
