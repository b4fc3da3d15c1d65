#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""
good - the well-behaved half of the soak test: smtplib sessions (EHLO, MAIL, RCPT, DATA of a
small message, QUIT) one after the other in --threads threads for --duration seconds, from
127.0.0.1. Prints one JSON object: the full-session latency of each completed session (connect
to the QUIT reply, seconds) and when it started (seconds from the start), how many were refused at admission with a 421 (and its text), and
anything else that went wrong. Only 127.0.0.1 is contacted.
"""
import argparse
import json
import smtplib
import socket
import sys
import threading
import time

# connections: TCP connections established (each one must be a recorded session)
RES = {"lat": [], "at": [], "refused": 0, "refused_text": "", "errors": [], "connections": 0,
       "conns": []}
T0 = time.monotonic()
LOCK = threading.Lock()


CUR = threading.local()  # the source address of the thread's current connection


def one(port, k):
    t0 = time.monotonic()
    CUR.name = None
    s = smtplib.SMTP(timeout=60)
    # smtplib.SMTP.connect by hand, so that an established connection is counted exactly
    s.sock = socket.create_connection(("127.0.0.1", port), 60)
    s.file = None
    CUR.name = s.sock.getsockname()
    with LOCK:
        RES["connections"] += 1
        RES["conns"].append(s.sock.getsockname())
    code, msg = s.getreply()
    if code != 220:
        s.close()
        with LOCK:
            if code == 421:
                RES["refused"] += 1
                RES["refused_text"] = msg.decode("utf-8", "replace")
            else:
                RES["errors"].append(f"banner {code}")
        return
    s.ehlo("good-client.example.org")
    s.sendmail("alice@example.org", ["bob@example.net"],
               f"Subject: good {k}\r\nFrom: alice@example.org\r\n\r\nhello {k}\r\n")
    s.quit()
    with LOCK:
        RES["lat"].append(time.monotonic() - t0)
        RES["at"].append(round(t0 - T0, 2))


def worker(port, deadline, w):
    k = 0
    while time.monotonic() < deadline:
        try:
            one(port, f"{w}-{k}")
        except (OSError, smtplib.SMTPException) as e:
            with LOCK:
                RES["errors"].append([repr(e)[:200], getattr(CUR, "name", None)])
        k += 1
        time.sleep(0.02)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--duration", type=float, default=20)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    deadline = time.monotonic() + a.duration
    ts = [threading.Thread(target=worker, args=(a.port, deadline, w)) for w in range(a.threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(json.dumps(RES), flush=True)


if __name__ == "__main__":
    sys.exit(main())
