#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""
run.py - crash and disk-full tests of a built relaytrap (docs/durability.md).

Each iteration runs four scenes against a real `relaytrap serve` on 127.0.0.1 while smtplib
clients send mail (each message carries a unique Subject, so every client session can be found
in the database):

  store-kill   kill -9 the store process at random moments under load; serve starts a new one
               and the engine sends it what the dead one had not committed. Asserted: the
               events.jsonl lines are exactly the events the engine made (its exit summary),
               none twice; every client session is in the database and complete; the database
               passes PRAGMA integrity_check. Reported: sessions lost per crash (must be 0).
  engine-kill  kill -9 the engine under load. The store commits what it received and exits.
               Asserted: integrity_check ok; every session whose `closed` row is committed has
               all its rows; a restarted serve runs on the same data; `relaytrap import` (when
               built) finds nothing missing. Reported: client sessions lost with the engine.
  both-kill    kill -9 engine and store at once. Asserted: integrity_check ok; committed closed
               sessions complete; at most one torn JSONL line per crash; a restarted serve ends
               that line; `relaytrap import` recovers every session the JSONL holds.
  disk-full    (root only) data on a 20 MB tmpfs: under disk_min_free bodies are dropped
               (body_dropped=disk_full, log line) while sessions are answered and recorded; with
               the disk completely full the store cannot commit and is restarted until space
               returns, and no session is lost; then bodies are stored again.

Usage: tests/durability/run.py --binary PATH [--long] [--iterations N] [--seed N] [-v]
Short mode (make test): 3 iterations of the kill scenes, one disk-full scene. --long: 20.
Prints one line per scene and a summary; exits 1 on any failure.
"""
import argparse
import os
import random
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

FAILURES = []
VERBOSE = False


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print(f"  FAIL: {what}", flush=True)
    elif VERBOSE:
        print(f"  ok: {what}", flush=True)
    return cond


class Load:
    """Client threads sending one message per session until stopped. Each session's Subject is
    unique; `done` holds the subjects whose QUIT was answered."""

    def __init__(self, port, tag, workers=4, big_every=7, stop_on_error=False):
        self.port, self.tag, self.workers, self.big_every = port, tag, workers, big_every
        self.stop = threading.Event()
        self.done, self.failed, self.lock = [], [], threading.Lock()
        self.threads = []
        self.stop_on_error = stop_on_error

    def session(self, w, n):
        subj = f"{self.tag}-{w}-{n}"
        size = 100 * 1024 if n % self.big_every == self.big_every - 1 else 800 + (n * 37) % 3000
        body = (f"Subject: {subj}\r\nFrom: a@b.example\r\n\r\n" +
                ("x" * 76 + "\r\n") * (size // 78)).encode()
        s = smtplib.SMTP(timeout=60)
        s.connect("127.0.0.1", self.port)
        s.ehlo(f"client{w}.example")
        s.sendmail("a@b.example", [f"r{n}@victim.example"], body)
        s.quit()
        return subj

    def run(self, w):
        n = 0
        while not self.stop.is_set():
            try:
                subj = self.session(w, n)
                with self.lock:
                    self.done.append(subj)
            except (OSError, smtplib.SMTPException) as e:
                with self.lock:
                    self.failed.append(f"{self.tag}-{w}-{n}: {e!r}")
                if self.stop_on_error:
                    return
                time.sleep(0.05)
            n += 1

    def start(self):
        for w in range(self.workers):
            t = threading.Thread(target=self.run, args=(w,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(120)


def subjects_in_db(db):
    return {r[0] for r in harness.db_query(db, "SELECT hdr_subject FROM messages")}


def import_available(binary):
    r = subprocess.run([binary, "import", "--help"], capture_output=True)
    return r.returncode == 0


def scene_store_kill(a, it, rnd, stats):
    d = tempfile.mkdtemp(prefix="rt-dur-sk-", dir=a.tmp)
    dm = harness.Daemon(a.binary, os.path.join(d, "data")).start()
    load = Load(dm.port, f"sk{it}").start()
    kills = 0
    t_end = time.monotonic() + a.duration
    time.sleep(rnd.uniform(0.3, 1.0))
    while time.monotonic() < t_end:
        sp = dm.store_pid()
        if sp is not None:
            os.kill(sp, 9)
            kills += 1
            dm.wait_store(old=sp)
        time.sleep(rnd.uniform(0.2, a.duration / 3))
    load.finish()
    rc = dm.stop()
    db = os.path.join(dm.data, "relaytrap.db")
    events, torn, lines = harness.read_jsonl(os.path.join(dm.data, "events.jsonl"))
    sm = dm.summary() or {}
    check(rc == 0, f"store-kill {it}: serve exit code {rc}")
    check(harness.integrity(db) == "ok", f"store-kill {it}: integrity_check")
    check(sm.get("store_restarts") == kills and kills > 0,
          f"store-kill {it}: {kills} kills, engine counted {sm.get('store_restarts')} restarts")
    check(sm.get("unconfirmed_bytes") == 0 and sm.get("dropped") == 0,
          f"store-kill {it}: engine summary {sm}")
    dups = len(lines) - len(set(lines))
    check(len(events) == sm.get("events") and dups == 0 and torn == 0,
          f"store-kill {it}: jsonl has {len(events)} events ({dups} twice, {torn} torn), "
          f"engine made {sm.get('events')}")
    nsess = harness.db_query(db, "SELECT count(*) FROM sessions")[0][0]
    check(nsess == sm.get("connections"),
          f"store-kill {it}: {nsess} sessions recorded, {sm.get('connections')} accepted")
    bad, _ = harness.incomplete_sessions(db, events, only_closed=False)
    check(not bad, f"store-kill {it}: sessions missing rows: {bad[:5]}")
    got = subjects_in_db(db)
    lost = [s for s in load.done if s not in got]
    check(not lost, f"store-kill {it}: client sessions missing from the database: {lost[:5]}")
    check(not load.failed, f"store-kill {it}: client errors: {load.failed[:3]}")
    nb = harness.db_query(db, "SELECT count(*) FROM messages WHERE body_dropped = 'incomplete'")
    stats["store_kills"] += kills
    stats["store_lost"] += len(lost)
    stats["sessions"] += len(load.done)
    stats["bodies_incomplete"] += nb[0][0]
    print(f"store-kill {it}: {len(load.done)} sessions, {kills} kills, {len(events)} events, "
          f"lost {len(lost)}, duplicated {dups}, bodies cut by a kill {nb[0][0]}", flush=True)
    if not FAILURES:
        shutil.rmtree(d, ignore_errors=True)


def recover_and_check(a, it, name, dm, load, stats):
    """After a crash: restart serve on the same data, stop it, import the JSONL, compare."""
    db = os.path.join(dm.data, "relaytrap.db")
    events, torn, lines = harness.read_jsonl(os.path.join(dm.data, "events.jsonl"))
    check(harness.integrity(db) == "ok", f"{name} {it}: integrity_check after the crash")
    bad, closed = harness.incomplete_sessions(db, events)
    check(not bad, f"{name} {it}: committed closed sessions missing rows: {bad[:5]}")
    check(torn <= 1, f"{name} {it}: {torn} torn lines in events.jsonl")
    got = subjects_in_db(db)
    lost_db = [s for s in load.done if s not in got]
    jsonl_subj = {e.get("hdr_subject") for e in events if e.get("eventid") == "relaytrap.message"}
    lost_jsonl = [s for s in load.done if s not in jsonl_subj]
    # serve starts on the crashed data (the store ends a torn line) and records a new session
    dm2 = harness.Daemon(a.binary, dm.data).start()
    probe = Load(dm2.port, f"{name}{it}-after", workers=1, stop_on_error=True)
    probe.session(0, 0)
    check(dm2.stop() == 0, f"{name} {it}: serve after the crash")
    check(f"{name}{it}-after-0-0" in subjects_in_db(db), f"{name} {it}: session after restart")
    recovered = None
    if import_available(a.binary):
        r = subprocess.run([a.binary, "import", "-q", "--data-dir", dm.data, dm.data],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"{name} {it}: import: {r.stderr[-500:]}")
        events2, _, _ = harness.read_jsonl(os.path.join(dm.data, "events.jsonl"))
        jsess = {e["session"] for e in events2 if "session" in e}
        dsess = {r[0] for r in harness.db_query(db, "SELECT session FROM sessions")}
        check(jsess <= dsess, f"{name} {it}: after import {len(jsess - dsess)} JSONL sessions "
              "are still not in the database")
        got = subjects_in_db(db)
        recovered = len([s for s in lost_db if s in got])
    check(harness.integrity(db) == "ok", f"{name} {it}: integrity_check at the end")
    stats[name + "_crashes"] += 1
    stats[name + "_lost"] += len(lost_jsonl)
    stats["sessions"] += len(load.done)
    print(f"{name} {it}: {len(load.done)} client sessions; {len(closed)} closed sessions "
          f"committed, all complete; not in the db after the crash {len(lost_db)}, of which "
          f"in the jsonl {len(lost_db) - len(lost_jsonl)}"
          + (f", recovered by import {recovered}" if recovered is not None else
             ", import not built") + f"; torn lines {torn}", flush=True)


def scene_engine_kill(a, it, rnd, stats):
    d = tempfile.mkdtemp(prefix="rt-dur-ek-", dir=a.tmp)
    dm = harness.Daemon(a.binary, os.path.join(d, "data")).start()
    load = Load(dm.port, f"ek{it}").start()
    time.sleep(rnd.uniform(0.5, a.duration))
    sp = dm.store_pid()
    os.kill(dm.pid, 9)
    dm.proc.wait()
    load.finish()
    # the store sees the channel close, commits what it has and exits
    deadline = time.monotonic() + 30
    while sp is not None and os.path.exists(f"/proc/{sp}") and time.monotonic() < deadline:
        try:
            with open(f"/proc/{sp}/stat") as f:
                if f.read().split(")")[1].split()[0] == "Z":
                    break
        except OSError:
            break
        time.sleep(0.05)
    check(sp is None or not os.path.exists(f"/proc/{sp}/exe"),
          f"engine-kill {it}: the store exits once the engine is gone")
    dm.logf.close()
    recover_and_check(a, it, "engine-kill", dm, load, stats)
    if not FAILURES:
        shutil.rmtree(d, ignore_errors=True)


def scene_both_kill(a, it, rnd, stats):
    d = tempfile.mkdtemp(prefix="rt-dur-bk-", dir=a.tmp)
    dm = harness.Daemon(a.binary, os.path.join(d, "data")).start()
    load = Load(dm.port, f"bk{it}").start()
    time.sleep(rnd.uniform(0.5, a.duration))
    dm.kill_all()
    load.finish()
    recover_and_check(a, it, "both-kill", dm, load, stats)
    if not FAILURES:
        shutil.rmtree(d, ignore_errors=True)


def tmpfs_free(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path, leave):
    """fill - grow path/filler until about `leave` bytes are free (0: until ENOSPC)"""
    with open(os.path.join(path, "filler"), "ab", buffering=0) as f:
        chunk = b"\0" * (256 * 1024)
        try:
            while tmpfs_free(path) > leave + len(chunk):
                f.write(chunk)
            if leave == 0:
                while True:
                    f.write(b"\0" * 4096)
        except OSError:
            pass


def scene_disk_full(a, stats):
    if os.geteuid() != 0:
        print("disk-full: skipped (needs root to mount a tmpfs)", flush=True)
        return
    mnt = tempfile.mkdtemp(prefix="rt-dur-df-", dir=a.tmp)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", mnt], check=True)
    try:
        disk_full_on(a, mnt, stats)
    finally:
        subprocess.run(["umount", "-l", mnt])
        os.rmdir(mnt)


def disk_full_on(a, mnt, stats):
    data = os.path.join(mnt, "data")
    dm = harness.Daemon(a.binary, data, extra=["--set", "disk_min_free=6M"])
    dm.log_path = os.path.join(a.tmp, "disk-full.log")
    dm.start()
    db = os.path.join(data, "relaytrap.db")
    cl = Load(dm.port, "df", workers=1, big_every=1, stop_on_error=True)
    sent = []

    def send(n, tag):
        for _ in range(n):
            sent.append(cl.session(0, len(sent)))

    def body_state(subj):
        r = harness.db_query(db, "SELECT body_path, body_dropped FROM messages WHERE "
                             "hdr_subject = ?", (subj,))
        return r[0] if r else None

    def wait_state(subj, want, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = body_state(subj)
            if st is not None and want(st):
                return st
            time.sleep(0.2)
        return body_state(subj)

    send(3, "a")
    st = wait_state(sent[-1], lambda s: s[0] is not None)
    check(st is not None and st[0] is not None, f"disk-full: body stored with space: {st}")
    fill(mnt, 3 * 1024 * 1024)
    # the store looks at free space at every commit: the next bodies are dropped
    st = None
    for _ in range(40):
        send(1, "b")
        st = wait_state(sent[-1], lambda s: True, timeout=5)
        if st is not None and st[1] == "disk_full":
            break
        time.sleep(0.3)
    check(st is not None and st[1] == "disk_full", f"disk-full: body dropped when low: {st}")
    check("bodies are not stored" in dm.log(), "disk-full: log line when bodies stop")
    low = len(sent)
    send(5, "c")
    st = wait_state(sent[-1], lambda s: True)
    check(st is not None and st[1] == "disk_full", f"disk-full: sessions go on, recorded: {st}")
    # now nothing at all fits: the engine answers, the store cannot commit and restarts
    fill(mnt, 0)
    full_from = len(sent)
    t0 = time.monotonic()
    send(10, "d")
    answered = time.monotonic() - t0
    time.sleep(2)
    check(dm.proc.poll() is None, "disk-full: serve still running with the disk full")
    os.unlink(os.path.join(mnt, "filler"))
    # space is back: the restarted store commits what the engine kept, bodies are stored again
    st = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        send(1, "e")
        st = wait_state(sent[-1], lambda s: True, timeout=10)
        if st is not None and st[0] is not None:
            break
        time.sleep(0.5)
    check(st is not None and st[0] is not None, f"disk-full: bodies stored again: {st}")
    rc = dm.stop()
    check(rc == 0, f"disk-full: serve exit code {rc}")
    got = subjects_in_db(db)
    lost = [s for s in sent if s not in got]
    check(not lost, f"disk-full: sessions missing from the database: {lost[:5]}")
    check(harness.integrity(db) == "ok", "disk-full: integrity_check")
    restarts = (dm.summary() or {}).get("store_restarts", 0)
    check(restarts > 0, "disk-full: the store could not commit on a full disk and was restarted")
    nd = harness.db_query(db, "SELECT count(*) FROM messages WHERE body_dropped = 'disk_full'")
    stats["sessions"] += len(sent)
    print(f"disk-full: {len(sent)} sessions ({low - 3} while low, {full_from}..{full_from + 9} "
          f"with the disk full, answered in {answered:.1f} s), store restarted {restarts} times, "
          f"bodies dropped {nd[0][0]}, sessions lost {len(lost)}", flush=True)


def main():
    global VERBOSE
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--long", action="store_true", help="20 iterations, longer load")
    ap.add_argument("--iterations", type=int)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--tmp", default=None, help="where data directories go")
    ap.add_argument("--only", help="run only this scene (store-kill, engine-kill, both-kill, "
                    "disk-full)")
    ap.add_argument("--keep", action="store_true", help="keep data and logs")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    VERBOSE = a.verbose
    a.binary = os.path.abspath(a.binary)
    a.iterations = a.iterations or (20 if a.long else 3)
    a.duration = 4.0 if a.long else 2.0
    a.tmp = a.tmp or tempfile.mkdtemp(prefix="rt-durability-")
    os.makedirs(a.tmp, exist_ok=True)
    rnd = random.Random(a.seed)
    print(f"durability: {a.iterations} iterations, seed {a.seed}, data under {a.tmp}",
          flush=True)
    stats = {k: 0 for k in ("store_kills", "store_lost", "sessions", "bodies_incomplete",
                            "engine-kill_crashes", "engine-kill_lost", "both-kill_crashes",
                            "both-kill_lost")}
    t0 = time.monotonic()
    for it in range(a.iterations):
        for scene in (scene_store_kill, scene_engine_kill, scene_both_kill):
            if a.only and a.only != scene.__name__[6:].replace("_", "-"):
                continue
            try:
                scene(a, it, rnd, stats)
            except Exception as e:  # a scene that breaks is a failure, not the end of the run
                check(False, f"{scene.__name__} {it}: {e!r}")
    try:
        if not a.only or a.only == "disk-full":
            scene_disk_full(a, stats)
    except Exception as e:
        check(False, f"disk-full: {e!r}")
    sk = stats["store_kills"]
    print(f"DURABILITY: {a.iterations} iterations in {time.monotonic() - t0:.0f} s, "
          f"{stats['sessions']} client sessions; store kills {sk}, sessions lost per store "
          f"kill {stats['store_lost'] / max(sk, 1):.2f}; engine kills "
          f"{stats['engine-kill_crashes']}, client sessions not even in the JSONL "
          f"{stats['engine-kill_lost']}; both killed {stats['both-kill_crashes']}, not in "
          f"the JSONL {stats['both-kill_lost']}; bodies cut by a store kill "
          f"{stats['bodies_incomplete']}; failures {len(FAILURES)}", flush=True)
    if not FAILURES and not a.keep:
        shutil.rmtree(a.tmp, ignore_errors=True)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
