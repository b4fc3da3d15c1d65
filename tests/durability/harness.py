# SPDX-License-Identifier: ISC
"""
harness - what the durability and soak tests share: start a real `relaytrap serve` on a free
loopback port with a fresh data directory, find its store process, read /proc figures, stop it,
and compare what events.jsonl says with what relaytrap.db holds.

Only 127.0.0.0/8 is ever contacted.
"""
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import time

FAST = ["--set", "delay_banner=0", "--set", "delay_reply=0", "--set", "delay_jitter=0",
        "--set", "greet_pause=0"]

# eventid -> (table, extra WHERE) for the events the database mirrors one row each
TABLE_OF = {
    "relaytrap.command": ("commands", "direction = 'C'"),
    "relaytrap.reply": ("commands", "direction = 'S'"),
    "relaytrap.mail": ("transactions", "1"),
    "relaytrap.rcpt": ("recipients", "1"),
    "relaytrap.message": ("messages", "1"),
    "relaytrap.auth": ("auth_attempts", "1"),
    "relaytrap.limit": ("limits", "1"),
}


def free_port(host="127.0.0.1"):
    """free_port - a TCP port on host nobody listens on right now"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Daemon:
    """A relaytrap serve process on 127.0.0.1 with its log in data/../serve.log."""

    def __init__(self, binary, data, extra=(), port=None, host="127.0.0.1", config=None):
        self.binary, self.data, self.host, self.config = binary, data, host, config
        self.port = port or free_port(host)
        self.probes = []  # (address, port) of connections the start-up probe established
        self.log_path = data.rstrip("/") + ".log"
        self.extra = list(extra)
        self.proc = None

    def start(self, timeout=20.0):
        os.makedirs(self.data, exist_ok=True)
        self.logf = open(self.log_path, "ab")
        where = (["-c", self.config] if self.config else
                 ["--listen", f"{self.host}:{self.port}"])
        args = [self.binary, "serve"] + where + ["--data-dir", self.data, "--sensor",
                                                 "durability"] + FAST + self.extra
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=self.logf,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"relaytrap exited at start: {self.log()[-2000:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as s:
                    self.probes.append(s.getsockname())
                    s.settimeout(5)
                    if s.recv(512).startswith(b"220"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("relaytrap did not answer in time")

    @property
    def pid(self):
        return self.proc.pid

    @staticmethod
    def children(pid):
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                return [int(k) for k in f.read().split()]
        except OSError:
            return []

    def store_pid(self):
        """store_pid - the current store: the child of the engine's child, the store keeper
        (None while the keeper starts a new one)"""
        for keeper in self.children(self.pid):
            kids = self.children(keeper)
            if kids:
                return kids[0]
        return None

    def wait_store(self, old=None, timeout=15.0):
        """wait_store - a store pid other than old, once the engine has started one"""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            p = self.store_pid()
            if p is not None and p != old:
                return p
            time.sleep(0.02)
        raise RuntimeError("no new store process appeared")

    def stop(self, timeout=90.0):
        """stop - SIGTERM, wait; returns the exit code"""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise RuntimeError("relaytrap did not stop in time")
        self.logf.close()
        return rc

    def kill_all(self):
        """kill_all - SIGKILL engine and store at once (the process group)"""
        os.killpg(self.pid, signal.SIGKILL)
        self.proc.wait()
        self.logf.close()

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def summary(self):
        """summary - the engine's last 'capture:' line as a dict of ints"""
        m = None
        for m in re.finditer(r"capture: (connections=.*)", self.log()):
            pass
        if m is None:
            return None
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}


def proc_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def proc_mem(pid):
    """proc_mem - (VmRSS, VmHWM) in KiB"""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1])
    except OSError:
        return (-1, -1)
    return (out.get("VmRSS", -1), out.get("VmHWM", -1))


def read_jsonl(path):
    """read_jsonl - (events, torn): parsed events of every file events*.jsonl in the directory
    of path, and the lines that did not parse (a line cut by a crash)"""
    d = os.path.dirname(path)
    files = sorted(f for f in os.listdir(d) if f.startswith("events-") and f.endswith(".jsonl"))
    files.append("events.jsonl")
    events, torn, lines = [], 0, []
    for name in files:
        p = os.path.join(d, name)
        if not os.path.exists(p):
            continue
        with open(p, "rb") as f:
            for line in f:
                line = line.rstrip(b"\n")
                if not line:
                    continue
                lines.append(line)
                try:
                    events.append(json.loads(line))
                except ValueError:
                    torn += 1
    return events, torn, lines


def db_query(db, sql, args=()):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def integrity(db):
    return db_query(db, "PRAGMA integrity_check")[0][0]


def incomplete_sessions(db, events, only_closed=True):
    """incomplete_sessions - sessions whose `closed` row is in the database but some of whose
    events in the JSONL have no row: the list of (session, eventid, in_jsonl, in_db)"""
    per = {}
    for e in events:
        t = TABLE_OF.get(e.get("eventid"))
        if t is not None:
            k = (e["session"], e["eventid"])
            per[k] = per.get(k, 0) + 1
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        closed = {r[0] for r in con.execute(
            "SELECT session FROM sessions WHERE reason IS NOT NULL")}
        counts = {}
        for eid, (table, where) in TABLE_OF.items():
            for sid, n in con.execute(
                    f"SELECT session, count(*) FROM {table} WHERE {where} GROUP BY session"):
                counts[(sid, eid)] = n
    finally:
        con.close()
    bad = []
    for (sid, eid), n in per.items():
        if only_closed and sid not in closed:
            continue
        got = counts.get((sid, eid), 0)
        if got != n:
            bad.append((sid, eid, n, got))
    return bad, closed
