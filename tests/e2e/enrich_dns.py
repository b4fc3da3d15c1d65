# SPDX-License-Identifier: ISC
"""
enrich_dns.py - end-to-end tests of DNS enrichment: the real daemon, a real DNS server
(dnsmasq on 127.0.0.1 with test zones the test writes), sources set with PROXY headers.

Loaded by run.py (which must be the main module: the helpers come from it). Checks each
session's one relaytrap.enrich event of kind session (parts geo, os, rdns, dnsbl, helo) in events.jsonl
and the schema 2 columns in relaytrap.db, and measures how long replies take with a resolver that never answers
compared with enrichment off (printed; asserted only against a very generous bound).
Only 127.0.0.1 is contacted. Skipped when dnsmasq is not installed (Debian: dnsmasq-base).
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time

from __main__ import E2ECase, HOST, Reader

DNSMASQ = shutil.which("dnsmasq") or ("/usr/sbin/dnsmasq" if os.access("/usr/sbin/dnsmasq", os.X_OK)
                                      else None)

# The test zones. 118.165.91.55 is listed on both lists and has FCrDNS; 203.0.113.9 has a PTR
# whose name does not resolve back and is listed nowhere; 198.51.100.20 has no PTR.
ZONES = """
no-resolv
no-hosts
no-poll
bind-interfaces
listen-address=127.0.0.1
local=/spamhaus.org/
local=/spamcop.net/
local=/arpa/
local=/example/
host-record=55.91.165.118.zen.spamhaus.org,127.0.0.4
host-record=55.91.165.118.bl.spamcop.net,127.0.0.2
ptr-record=55.91.165.118.in-addr.arpa,dynamic-118-165-91-55.hinet.example
host-record=dynamic-118-165-91-55.hinet.example,118.165.91.55
host-record=mail.spammer.example,118.165.91.55
ptr-record=9.113.0.203.in-addr.arpa,mx.forged.example
host-record=mx.forged.example,192.0.2.200
"""


def free_udp_port():
    """free_udp_port - a UDP port on 127.0.0.1 free right now"""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Dnsmasq:
    """Dnsmasq - a dnsmasq in the foreground on 127.0.0.1 answering only the test zones"""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="rt-dns-")
        self.log = open(os.path.join(self.dir, "dnsmasq.log"), "wb")
        # dnsmasq binds TCP and UDP on its port: a port taken in between is retried
        for _ in range(5):
            if self._start():
                return
        self.log.close()
        with open(os.path.join(self.dir, "dnsmasq.log"), "rb") as f:
            raise RuntimeError("dnsmasq did not start: " + f.read().decode("utf-8", "replace"))

    def _start(self):
        self.port = free_udp_port()
        conf = os.path.join(self.dir, "dnsmasq.conf")
        with open(conf, "w") as f:
            f.write(f"port={self.port}\n" + ZONES)
        self.proc = subprocess.Popen([DNSMASQ, "--keep-in-foreground", f"--conf-file={conf}",
                                      "--pid-file=", "--user=", "--log-facility=-"],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self._answers():
                return True
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        return False

    def _answers(self):
        q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x00\x00\x01\x00\x01"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            try:
                s.sendto(q, (HOST, self.port))
                return s.recv(512)[:2] == b"\x12\x34"
            except OSError:
                return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def enrich_conf(resolver, timeout="2s", zones="zen.spamhaus.org, bl.spamcop.net"):
    """enrich_conf - a config with DNS enrichment and a PROXY listener trusting 127.0.0.1"""
    return f"""
enrich_dns = yes
resolver = {resolver}
dnsbl_zones = {zones}
dns_timeout = {timeout}
proxy_from = 127.0.0.1/32
[listener proxied]
address = 127.0.0.1
port = @PORT@
proxy_protocol = yes
"""


def smtp_session(d, src, helo, message=True):
    """smtp_session - one whole session from src (PROXY v1); returns per-step reply times (s)"""
    times = {}
    with d.connect() as s:
        t0 = time.monotonic()
        s.sendall(f"PROXY TCP4 {src} 127.0.0.1 50000 25\r\n".encode())
        r = Reader(s)
        code, _ = r.reply()
        assert code == 220, code
        times["banner"] = time.monotonic() - t0
        steps = [("ehlo", f"EHLO {helo}\r\n".encode(), 250)]
        if message:
            steps += [("mail", b"MAIL FROM:<a@spammer.example>\r\n", 250),
                      ("rcpt", b"RCPT TO:<victim@example.com>\r\n", 250),
                      ("data", b"DATA\r\n", 354),
                      ("dot", b"Subject: hi\r\n\r\nbuy now\r\n.\r\n", 250)]
        steps.append(("quit", b"QUIT\r\n", 221))
        for name, line, want in steps:
            t = time.monotonic()
            s.sendall(line)
            code, raw = r.reply()
            assert code == want, (name, raw)
            times[name] = time.monotonic() - t
        times["session"] = time.monotonic() - t0
    return times


def test_geo_dbs():
    """test_geo_dbs - (city, asn) paths of the test GeoIP databases the build makes
    (tests/unit/geo_mkdb.pl), or None when they were not built"""
    import __main__
    mmdb = os.path.join(os.path.dirname(__main__.BINARY), "tests", "unit")
    city, asn = os.path.join(mmdb, "geo-city.mmdb"), os.path.join(mmdb, "geo-asn.mmdb")
    return (city, asn) if os.path.exists(city) and os.path.exists(asn) else None


def session_parts(case, d, sid):
    """session_parts - {kind: result} of session sid: the parts of its one relaytrap.enrich
    event (kind session), each kind once, the event carrying the session's common fields"""
    ev = d.ev(sid, "enrich")
    case.assertEqual([e["kind"] for e in ev], ["session"], f"enrich events of session {sid}")
    kinds = {"geo", "os", "rdns", "dnsbl", "helo"}
    case.assertEqual(set(ev[0]) & kinds,
                     set(ev[0]) - set(d.ev(sid, "session.connect")[0]) - {"kind"})
    return {k: ev[0][k] for k in kinds if k in ev[0]}


def wait_events(d, n, timeout=10.0):
    """wait_events - until events.jsonl has n relaytrap.enrich lines (the store flushes often)"""
    path = os.path.join(d.data, "events.jsonl")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path, "rb") as f:
                k = sum(1 for line in f if b'"relaytrap.enrich"' in line)
            if k >= n:
                return k
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    return -1


class EnrichDnsTests(E2ECase):
    """8. DNS enrichment against dnsmasq; replies never wait for DNS."""

    def setUp(self):
        if DNSMASQ is None:
            self.skipTest("dnsmasq not installed (apt-get install dnsmasq-base)")

    def dnsmasq(self):
        m = Dnsmasq()
        self.addCleanup(m.stop)
        return m

    def parts_of(self, d, sid):
        """parts_of - {kind: result} of session sid: the parts (geo, os, rdns, dnsbl, helo) of
        its one enrich event, the event carrying the session's common fields"""
        return session_parts(self, d, sid)

    def enrich_of(self, d, src):
        """enrich_of - the session from src and {kind: result} of its DNS enrichment"""
        sids = {e["session"] for e in d.events
                if e["eventid"] == "relaytrap.session.connect" and e["src_ip"] == src}
        self.assertEqual(len(sids), 1, f"sessions from {src}")
        sid = sids.pop()
        for e in d.ev(sid, "enrich"):
            self.assertEqual(e["src_ip"], src)
        return sid, self.parts_of(d, sid)

    def test_listed_fcrdns_helo(self):
        m = self.dnsmasq()
        d = self.daemon(config=enrich_conf(f"127.0.0.1:{m.port}"))
        smtp_session(d, "118.165.91.55", "mail.spammer.example")
        smtp_session(d, "203.0.113.9", "mx.forged.example", message=False)
        smtp_session(d, "198.51.100.20", "[198.51.100.20]", message=False)
        self.assertGreaterEqual(wait_events(d, 3), 3, "enrich events in events.jsonl")
        d.stop()

        sid, ev = self.enrich_of(d, "118.165.91.55")
        self.assertEqual(set(ev), {"rdns", "dnsbl", "helo"})
        self.assertEqual(ev["rdns"]["status"], "ok")
        self.assertEqual(ev["rdns"]["ptr"], "dynamic-118-165-91-55.hinet.example")
        self.assertIs(ev["rdns"]["fcrdns"], True)
        bl = {z["zone"]: z for z in ev["dnsbl"]["lists"]}
        self.assertEqual(ev["dnsbl"]["listed"], 2)
        self.assertEqual(bl["zen.spamhaus.org"]["status"], "listed")
        self.assertEqual(bl["zen.spamhaus.org"]["codes"], ["127.0.0.4"])
        self.assertIn("XBL", bl["zen.spamhaus.org"]["meanings"][0])
        self.assertEqual(bl["bl.spamcop.net"]["codes"], ["127.0.0.2"])
        helo = ev["helo"]
        self.assertEqual((helo["name"], helo["status"], helo["resolves"], helo["matches_src"]),
                         ("mail.spammer.example", "ok", True, True))
        self.assertEqual(helo["addrs"], ["118.165.91.55"])
        self.assertIs(helo["fcrdns"], False)  # its PTR is the hinet name
        for e in ev.values():
            self.assertIsInstance(e["lookup_us"], int)

        _, ev = self.enrich_of(d, "203.0.113.9")
        self.assertEqual(ev["rdns"]["ptr"], "mx.forged.example")
        self.assertIs(ev["rdns"]["fcrdns"], False)
        self.assertEqual(ev["dnsbl"]["listed"], 0)
        self.assertEqual({z["status"] for z in ev["dnsbl"]["lists"]}, {"not_listed"})
        self.assertEqual((ev["helo"]["resolves"], ev["helo"]["matches_src"]), (True, False))

        _, ev = self.enrich_of(d, "198.51.100.20")
        self.assertEqual(ev["rdns"]["status"], "nxdomain")
        self.assertNotIn("ptr", ev["rdns"])
        self.assertEqual(ev["helo"]["status"], "skipped")

        # the store's schema 2 columns
        row = d.rows("SELECT dnsbl_listed, rdns, fcrdns, helo_resolves, helo_matches, helo_fcrdns "
                     "FROM sessions WHERE session = ?", sid)[0]
        self.assertEqual(tuple(row), (2, "dynamic-118-165-91-55.hinet.example", 1, 1, 1, 0))
        kinds = [r[0] for r in d.rows("SELECT kind FROM enrichments WHERE session = ? ORDER BY kind",
                                      sid)]
        self.assertEqual(kinds, ["session"])
        intel = d.rows("SELECT dnsbl, dnsbl_listed, rdns FROM ip_intel WHERE ip = '118.165.91.55'")[0]
        self.assertEqual(json.loads(intel[0]), ["zen.spamhaus.org", "bl.spamcop.net"])
        self.assertEqual(intel[1], 2)

    def test_one_event_with_geo_and_dns(self):
        """geo (known at the connect) waits for the DNS parts: one event, every part"""
        dbs = test_geo_dbs()
        if dbs is None:
            self.skipTest("test GeoIP databases not built (libmaxmind-db-writer-perl)")
        m = self.dnsmasq()
        d = self.daemon(config=f"geoip_city_db = {dbs[0]}\ngeoip_asn_db = {dbs[1]}\n" +
                        enrich_conf(f"127.0.0.1:{m.port}"))
        smtp_session(d, "81.2.69.170", "mail.spammer.example", message=False)
        self.assertGreaterEqual(wait_events(d, 1), 1)
        d.stop()
        sid = [e["session"] for e in d.events if e["eventid"] == "relaytrap.session.connect"][0]
        parts = session_parts(self, d, sid)
        self.assertEqual(set(parts), {"geo", "rdns", "dnsbl", "helo"})
        self.assertEqual((parts["geo"]["city"], parts["geo"]["asn"]), ("London", 20712))
        self.assertEqual(parts["rdns"]["status"], "nxdomain")
        row = d.rows("SELECT city, asn, helo_resolves FROM sessions WHERE session = ?", sid)[0]
        self.assertEqual(tuple(row), ("London", 20712, 1))
        kinds = [r[0] for r in d.rows("SELECT DISTINCT kind FROM ip_intel_history ORDER BY kind")]
        self.assertEqual(kinds, ["dnsbl", "geo", "helo", "rdns"])

    def test_cache_and_events_after_close(self):
        """a second session from one source is answered from the cache; a session that
        closed before its lookups ended still gets them recorded"""
        m = self.dnsmasq()
        d = self.daemon(config=enrich_conf(f"127.0.0.1:{m.port}"))
        smtp_session(d, "118.165.91.55", "mail.spammer.example", message=False)
        self.assertGreaterEqual(wait_events(d, 1), 1)
        smtp_session(d, "118.165.91.55", "mail.spammer.example", message=False)
        self.assertGreaterEqual(wait_events(d, 2), 2)
        d.stop()
        sessions = [e["session"] for e in d.events if e["eventid"] == "relaytrap.session.connect"]
        second = self.parts_of(d, sessions[1])
        self.assertIs(second["dnsbl"]["cached"], True)
        self.assertIn("lookup_time", second["dnsbl"])
        self.assertIn("lookup_time", second["rdns"])
        first = self.parts_of(d, sessions[0])
        self.assertIs(first["dnsbl"]["cached"], False)
        self.assertNotIn("lookup_time", first["dnsbl"])

    def test_dead_resolver_never_delays_replies(self):
        """replies with a resolver that never answers vs enrichment off: printed; asserted
        only far below the DNS deadline (3 s)"""
        dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        dead.bind((HOST, 0))
        self.addCleanup(dead.close)
        runs = {}
        for label, conf in (("enrichment off", enrich_conf("127.0.0.1").replace(
                                "enrich_dns = yes", "enrich_dns = no")),
                            ("dead resolver", enrich_conf(f"127.0.0.1:{dead.getsockname()[1]}",
                                                          timeout="3s"))):
            d = self.daemon(config=conf)
            samples = [smtp_session(d, f"192.0.2.{i + 1}", f"host{i}.example.org")
                       for i in range(20)]
            if label == "dead resolver":
                # the lookups end by their deadline and are recorded as timeouts
                self.assertGreaterEqual(wait_events(d, 20, timeout=15), 20)
            d.stop()
            runs[label] = samples
            if label == "dead resolver":
                ev = [e for e in d.events if e["eventid"] == "relaytrap.enrich"]
                self.assertEqual(len(ev), 20)
                parts = [self.parts_of(d, e["session"]) for e in ev]
                self.assertEqual({k for p in parts for k in p}, {"rdns", "dnsbl", "helo"})
                self.assertEqual({p[k]["status"] for p in parts for k in ("rdns", "helo")},
                                 {"timeout"})
                self.assertEqual({z["status"] for p in parts for z in p["dnsbl"]["lists"]},
                                 {"timeout"})
                for e in ev:
                    closed = [x for x in d.ev(e["session"], "session.closed")]
                    self.assertEqual(len(closed), 1)
        print("", file=__import__("sys").stderr)
        for label, samples in runs.items():
            for step in ("banner", "ehlo", "dot", "session"):
                v = sorted(s[step] * 1000 for s in samples)
                print(f"  reply latency, {label:14s} {step:7s}: median {statistics.median(v):7.2f} ms"
                      f"  max {v[-1]:7.2f} ms  (20 sessions)", file=__import__("sys").stderr)
        for s in runs["dead resolver"]:
            self.assertLess(s["session"], 2.0, "a session waited for DNS")

    def test_shutdown_with_lookups_pending(self):
        """SIGTERM while every lookup is still waiting: prompt exit, nothing recorded late;
        what a session learned without DNS (geo) is recorded at the exit, the pending DNS
        kinds left out"""
        dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        dead.bind((HOST, 0))
        self.addCleanup(dead.close)
        dbs = test_geo_dbs()
        geo = f"geoip_city_db = {dbs[0]}\ngeoip_asn_db = {dbs[1]}\n" if dbs else ""
        d = self.daemon(config=geo + enrich_conf(f"127.0.0.1:{dead.getsockname()[1]}",
                                                 timeout="30s"))
        for i in range(5):
            smtp_session(d, f"192.0.2.{i + 1}", "host.example.org", message=False)
        smtp_session(d, "81.2.69.170", "host.example.org", message=False)
        # every session is closed and in the file, its enrich event not: it waits for the
        # DNS parts (geo is known at the connect)
        deadline = time.monotonic() + 10
        while True:
            with open(os.path.join(d.data, "events.jsonl"), "rb") as f:
                text = f.read()
            if text.count(b'"relaytrap.session.closed"') >= 6 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(text.count(b'"relaytrap.session.closed"'), 6)
        self.assertNotIn(b'"relaytrap.enrich"', text)
        t = time.monotonic()
        self.assertEqual(d.stop(), 0)
        self.assertLess(time.monotonic() - t, 10)
        ev = [e for e in d.events if e["eventid"] == "relaytrap.enrich"]
        if dbs:
            self.assertEqual([(e["src_ip"], e["kind"]) for e in ev], [("81.2.69.170", "session")])
            self.assertEqual(set(session_parts(self, d, ev[0]["session"])), {"geo"})
            self.assertEqual(ev[0]["geo"]["city"], "London")
            row = d.rows("SELECT city FROM sessions WHERE src_ip = '81.2.69.170'")[0]
            self.assertEqual(row[0], "London")
        else:
            self.assertEqual(ev, [])
        self.assertEqual(len([e for e in d.events if e["eventid"] == "relaytrap.session.closed"]), 6)


P0F_FP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "contrib", "p0f.fp")


class EnrichOsTests(E2ECase):
    """9. The os enrichment event and the os_mismatch signal (no DNS needed)."""

    def test_os_event_and_mismatch(self):
        d = self.daemon(sets=[f"p0f_fp={P0F_FP}"])
        s = d.smtp()
        port = s.sock.getsockname()[1]
        s.ehlo()
        s.sendmail("a@spammer.example", ["v@example.com"],
                   b"X-Mailer: Microsoft Outlook Express 6.00.2900.5512\r\nSubject: x\r\n\r\nhi\r\n")
        s.quit()
        d.stop()
        sid = d.session_of(port)
        e = session_parts(self, d, sid)["os"]
        # the kernel's own loopback SYN is a Linux one
        self.assertEqual((e["os_class"], e["os_name"]), ("unix", "Linux"))
        self.assertIn(e["os_match"], ("exact", "generic"))
        self.assertEqual(e["syn"]["ip_version"], 4)
        order = [x["eventid"] for x in d.ev(sid)]
        self.assertLess(order.index("relaytrap.enrich"), order.index("relaytrap.reply"),
                        "without DNS the enrich event comes before the banner")
        self.assertIn("os_mismatch", d.signals(sid))
        sig = [x for x in d.ev(sid, "signal") if x["signal"] == "os_mismatch"][0]
        self.assertIn("Linux", sig["detail"])
        self.assertIn("Windows", sig["detail"])

    def test_no_os_event_behind_proxy(self):
        """from a trusted proxy the SYN is the proxy's: no fingerprint is recorded, after a
        PROXY header naming a source or one that names none (UNKNOWN), whatever the log level
        (the debug log reads the proxy's SYN to show it)"""
        for level in ("info", "debug"):
            conf = (f"p0f_fp = {P0F_FP}\ngeoip_city_db = none\ngeoip_asn_db = none\n"
                    f"log_level = {level}\n" +
                    enrich_conf("127.0.0.1").replace("enrich_dns = yes", "enrich_dns = no"))
            d = self.daemon(config=conf)
            smtp_session(d, "118.165.91.55", "x.example.org", message=False)
            with d.connect() as s:
                s.sendall(b"PROXY UNKNOWN\r\n")
                r = Reader(s)
                self.assertEqual(r.reply()[0], 220)
                s.sendall(b"QUIT\r\n")
                self.assertEqual(r.reply()[0], 221)
            d.stop()
            self.assertEqual(
                len([e for e in d.events if e["eventid"] == "relaytrap.session.connect"]), 2)
            self.assertEqual([e for e in d.events if e["eventid"] == "relaytrap.enrich"], [],
                             f"log_level {level}")

    def test_geo_event(self):
        """with the test databases the build makes (tests/unit/geo_mkdb.pl): London, AS20712"""
        dbs = test_geo_dbs()
        if dbs is None:
            self.skipTest("test GeoIP databases not built (libmaxmind-db-writer-perl)")
        city, asn = dbs
        conf = (f"geoip_city_db = {city}\ngeoip_asn_db = {asn}\n" +
                enrich_conf("127.0.0.1").replace("enrich_dns = yes", "enrich_dns = no"))
        d = self.daemon(config=conf)
        smtp_session(d, "81.2.69.170", "x.example.org", message=False)
        smtp_session(d, "192.0.2.99", "x.example.org", message=False)  # in no database
        d.stop()
        ev = [e for e in d.events if e["eventid"] == "relaytrap.enrich"]
        self.assertEqual(len(ev), 1, ev)
        self.assertEqual((ev[0]["kind"], ev[0]["src_ip"]), ("session", "81.2.69.170"))
        g = session_parts(self, d, ev[0]["session"])["geo"]
        self.assertEqual((g["country_code"], g["country"], g["city"]),
                         ("GB", "United Kingdom", "London"))
        self.assertAlmostEqual(g["latitude"], 51.5142, places=3)
        self.assertEqual((g["asn"], g["as_org"]), (20712, "Andrews & Arnold Ltd"))
        self.assertEqual(g["geo_db"], "GeoLite2-City+GeoLite2-ASN")
        row = d.rows("SELECT country, city, asn FROM sessions WHERE src_ip = '81.2.69.170'")[0]
        self.assertEqual(tuple(row), ("GB", "London", 20712))
