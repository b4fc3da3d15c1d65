#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""
hostile - the hostile half of the soak test: one asyncio process that does the worst things a
bot or a careless scanner does to an SMTP server, from many loopback source addresses
(127.X.Y.Z), until --duration seconds have passed, then closes everything and prints one JSON
object with what it did.

Classes (each a group of tasks; --scale multiplies the counts):
  slowloris   hold a connection, send a command one byte per second
  silent      connect and never send (held until the server times it out), or half-close at once
  drop        connect and close at once (half with a reset): --drops of them in total
  pipeline    one write of hundreds of pipelined commands, then read until closed
  hugeline    a line of a megabyte without CRLF, then more
  data        DATA that never ends: 16 KiB chunks until the server closes
  auth        AUTH LOGIN attempts until the server closes, 100 at once from one address
  proxy       PROXY v1/v2 headers sent from sources that are not trusted, on a proxy listener
  burst       open connections past max_sessions + 1024 at once, hold them three seconds

Counted per class: connections established (connect() succeeded: the kernel completed the
handshake, so the daemon accepted it), connect failures, and the connections that got a 421.
Only 127.0.0.0/8 is contacted.
"""
import argparse
import asyncio
import base64
import json
import random
import resource
import socket
import struct
import sys
import time

STATS = {}
CONNS = []  # (source address, source port) of every established connection
HELD = {"now": 0, "peak": 0}
ALIVE = set()


def st(cls):
    return STATS.setdefault(cls, {"established": 0, "connect_failed": 0, "got_421": 0,
                                  "bytes_sent": 0})


class Addr:
    """Source addresses 127.A.B.C for one class, round robin over n addresses."""

    def __init__(self, a, n):
        self.a, self.n, self.i = a, n, 0

    def next(self):
        self.i = (self.i + 1) % self.n
        return f"127.{self.a}.{self.i // 250}.{self.i % 250 + 1}"


async def connect(cls, port, src, linger0=False):
    """connect - a non-blocking socket bound to src and connected to 127.0.0.1:port, or None"""
    loop = asyncio.get_running_loop()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.bind((src, 0))
        if linger0:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await asyncio.wait_for(loop.sock_connect(s, ("127.0.0.1", port)), 30)
    except (OSError, asyncio.TimeoutError):
        s.close()
        st(cls)["connect_failed"] += 1
        return None
    st(cls)["established"] += 1
    CONNS.append(s.getsockname())
    return s


class Held:
    """Counts a connection as held while inside the with-block."""

    def __enter__(self):
        HELD["now"] += 1
        HELD["peak"] = max(HELD["peak"], HELD["now"])

    def __exit__(self, *a):
        HELD["now"] -= 1


async def recv(s, n=65536, timeout=None):
    """recv - bytes, b"" when the server closed (or reset), None when timeout passed first"""
    loop = asyncio.get_running_loop()
    try:
        if timeout is None:
            return await loop.sock_recv(s, n)
        return await asyncio.wait_for(loop.sock_recv(s, n), timeout)
    except asyncio.TimeoutError:
        return None
    except OSError:
        return b""


async def send(cls, s, data):
    loop = asyncio.get_running_loop()
    try:
        await loop.sock_sendall(s, data)
        st(cls)["bytes_sent"] += len(data)
        return True
    except OSError:
        return False


def note_421(cls, data):
    if data.startswith(b"421") or b"\r\n421" in data:
        st(cls)["got_421"] += 1


async def drain_until_closed(cls, s, deadline):
    """read and discard until the server closes or the run ends; notes a 421"""
    seen = b""
    while time.monotonic() < deadline:
        d = await recv(s, timeout=max(0.1, deadline - time.monotonic()))
        if not d:
            break
        if len(seen) < 4096:
            seen += d
    note_421(cls, seen)


async def slowloris(port, addr, deadline):
    while time.monotonic() < deadline:
        s = await connect("slowloris", port, addr.next())
        if s is None:
            await asyncio.sleep(0.5)
            continue
        with Held():
            banner = await recv(s, timeout=10) or b""
            note_421("slowloris", banner)
            line = b"EHLO slow.example.com\r\n" * 50
            i = 0
            while banner and time.monotonic() < deadline:
                if not await send("slowloris", s, line[i:i + 1]):
                    break
                i += 1
                d = await recv(s, timeout=1.0)
                if d == b"":
                    break
                if d:
                    note_421("slowloris", d)
                    if b"421" in d:
                        break
        s.close()


async def silent(port, addr, deadline, half):
    while time.monotonic() < deadline:
        s = await connect("silent", port, addr.next())
        if s is None:
            await asyncio.sleep(0.5)
            continue
        with Held():
            if half:
                s.shutdown(socket.SHUT_WR)
            await drain_until_closed("silent", s, deadline)
        s.close()


async def drops(port, addr, total, conc):
    sem = asyncio.Semaphore(conc)
    done = 0

    async def one(k):
        async with sem:
            s = await connect("drop", port, addr.next(), linger0=(k % 2 == 0))
            if s is not None:
                s.close()

    while done < total:
        n = min(conc * 4, total - done)
        await asyncio.gather(*(one(done + k) for k in range(n)))
        done += n


PIPE = (b"EHLO pipe.example\r\n" + b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"
        b"RSET\r\nNOOP\r\nVRFY root\r\n" * 300 + b"QUIT\r\n")


async def pipeline(port, addr, deadline):
    while time.monotonic() < deadline:
        s = await connect("pipeline", port, addr.next())
        if s is None:
            await asyncio.sleep(0.5)
            continue
        await send("pipeline", s, PIPE)
        await drain_until_closed("pipeline", s, deadline)
        s.close()


async def hugeline(port, addr, deadline):
    big = b"A" * (1 << 20)
    while time.monotonic() < deadline:
        s = await connect("hugeline", port, addr.next())
        if s is None:
            await asyncio.sleep(0.5)
            continue
        await recv(s, timeout=10)
        if await send("hugeline", s, b"EHLO " + big) and await send("hugeline", s, big):
            await send("hugeline", s, b"\r\nMAIL FROM:<" + big[:200000] + b">\r\n")
        await drain_until_closed("hugeline", s, min(deadline, time.monotonic() + 15))
        s.close()


async def data(port, addr, deadline):
    chunk = (b"Subject: never ends\r\n" + b"z" * 75 + b"\r\n") * 200
    while time.monotonic() < deadline:
        s = await connect("data", port, addr.next())
        if s is None:
            await asyncio.sleep(0.5)
            continue
        with Held():
            await recv(s, timeout=10)
            ok = await send("data", s, b"EHLO data.example\r\nMAIL FROM:<x@y.example>\r\n"
                            b"RCPT TO:<v@w.example>\r\nDATA\r\n")
            while ok and time.monotonic() < deadline:
                ok = await send("data", s, chunk)
                d = await recv(s, timeout=0.25)
                if d == b"":
                    break
                if d:
                    note_421("data", d)
                    if b"421" in d or b"552" in d:
                        break
            s.close()


async def auth(port, src, deadline):
    creds = [base64.b64encode(f"user{i}".encode()) for i in range(50)]
    while time.monotonic() < deadline:
        s = await connect("auth", port, src)
        if s is None:
            await asyncio.sleep(0.5)
            continue
        await recv(s, timeout=10)
        blob = b"EHLO auth.example\r\n"
        for i in range(30):
            blob += b"AUTH LOGIN\r\n" + creds[i % 50] + b"\r\n" + creds[(i * 7) % 50] + b"\r\n"
        await send("auth", s, blob)
        await drain_until_closed("auth", s, deadline)
        s.close()


def proxy_v2():
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    body = socket.inet_aton("203.0.113.7") + socket.inet_aton("198.51.100.1") + \
        struct.pack("!HH", 4444, 25)
    return sig + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


async def proxy(port, addr, deadline):
    k = 0
    while time.monotonic() < deadline:
        s = await connect("proxy", port, addr.next())
        if s is None:
            await asyncio.sleep(0.5)
            continue
        k += 1
        hdr = (b"PROXY TCP4 203.0.113.9 198.51.100.1 5555 25\r\n" if k % 2 else proxy_v2())
        await send("proxy", s, hdr + b"EHLO proxied.example\r\nQUIT\r\n")
        await drain_until_closed("proxy", s, min(deadline, time.monotonic() + 10))
        s.close()


async def burst(port, addr, n, hold, conc):
    """open n connections, at most conc waiting for the server's first byte at once"""
    sem = asyncio.Semaphore(conc)
    socks = []

    async def one():
        async with sem:
            s = await connect("burst", port, addr.next())
            if s is None:
                return
            first = await recv(s, 512, timeout=30) or b""
            note_421("burst", first)
            if first and not first.startswith(b"421"):
                socks.append(s)
                HELD["now"] += 1
                HELD["peak"] = max(HELD["peak"], HELD["now"])
            else:
                s.close()

    await asyncio.gather(*(one() for _ in range(n)))
    await asyncio.sleep(hold)
    for s in socks:
        s.close()
    HELD["now"] -= len(socks)


async def main_async(a):
    deadline = time.monotonic() + a.duration
    sc = a.scale
    tasks = []
    tasks += [slowloris(a.port, Addr(10, 200), deadline) for _ in range(int(200 * sc))]
    tasks += [silent(a.port, Addr(11, 200), deadline, half=False) for _ in range(int(200 * sc))]
    tasks += [silent(a.port, Addr(12, 50), deadline, half=True) for _ in range(int(20 * sc))]
    tasks += [pipeline(a.port, Addr(13, 50), deadline) for _ in range(int(8 * sc))]
    tasks += [hugeline(a.port, Addr(14, 20), deadline) for _ in range(int(4 * sc))]
    tasks += [data(a.port, Addr(15, 50), deadline) for _ in range(int(20 * sc))]
    tasks += [auth(a.port, "127.16.0.1", deadline) for _ in range(100)]
    tasks += [proxy(a.proxy_port, Addr(17, 50), deadline) for _ in range(int(10 * sc))]
    tasks.append(drops(a.port, Addr(18, 5000), a.drops, 200))

    async def later_burst():
        await asyncio.sleep(a.duration / 3)
        await burst(a.port, Addr(19, 5000), a.burst, 3.0, 500)

    if a.burst > 0:
        tasks.append(later_burst())
    t0 = time.monotonic()
    await asyncio.gather(*tasks)
    return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--proxy-port", type=int, required=True)
    ap.add_argument("--duration", type=float, default=20)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--drops", type=int, default=5000)
    ap.add_argument("--burst", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    random.seed(a.seed)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(hard, 65536), max(hard, 65536)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    wall = asyncio.run(main_async(a))
    total = {k: sum(v[k] for v in STATS.values())
             for k in ("established", "connect_failed", "got_421", "bytes_sent")}
    print(json.dumps({"classes": STATS, "total": total, "held_peak": HELD["peak"],
                      "wall_s": round(wall, 1), "conns": CONNS}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
