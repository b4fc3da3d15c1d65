#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""
report_e2e.py - the 2009 study's scenes through a live daemon, then import and report.

Owns: tests/e2e/report_e2e.py. Starts `relaytrap serve` (tests/e2e/run.py's Daemon) with a
listener that accepts PROXY headers from 127.0.0.1, so the scenes can come from the study's
addresses, and replays with real clients (smtplib, swaks):
  - the spammer whose envelope (from@domain.com -> to@domain.com) differs from its headers
    (To: realTO@domain.com, Subject: BC_82.155.126.2),
  - machine-generated EHLO identities (user-3i39rqqo1r, premier-ksxhhv6, msg-g09pmirpcam) and
    the single label mta101, and EHLO localhost,
  - three "Super webscan open relay check succeded, hostname = 82.155.248.223" relay checks
    from the Taiwanese addresses 118.165.91.55, 124.11.193.219 and 114.44.42.34, sent to the
    honeypot at 82.155.248.223 (the PROXY destination).
Then checks that `relaytrap import` of the daemon's events.jsonl into a fresh database gives
the same tables (twice: idempotent; also gzip on stdin), and, when the binary has `report`,
that text, JSON and HTML reports find each scene in the right section, that the HTML parses and
renders in headless Chromium without console errors with every chart of non-zero size (the
screenshot is kept in build/test-artefacts/report.png), and that the JSON report of the imported
database equals the live one.

Usage: tests/e2e/report_e2e.py --binary PATH [-v] [-k PATTERN] [--artefacts DIR]
Prints `E2E-REPORT: N passed, M failed, K skipped` last; exits 1 on any failure.
Only 127.0.0.1 is contacted.
"""
import argparse
import gzip
import html.parser
import json
import os
import re
import shutil
import smtplib
import socket
import sqlite3
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as e2e  # noqa: E402  (the Daemon harness)

HONEYPOT = "82.155.248.223"
WEBSCAN_IPS = ["118.165.91.55", "124.11.193.219", "114.44.42.34"]
WEBSCAN_SUBJECT = f"Super webscan open relay check succeded, hostname = {HONEYPOT}"
WEBSCAN_BOX = "chkrelay88@yahoo.com.tw"
SPAMMER_IP = "201.8.44.19"
EHLO_NAMES = {"user-3i39rqqo1r": "189.32.17.201", "premier-ksxhhv6": "59.120.8.66",
              "msg-g09pmirpcam": "222.77.14.9", "mta101": "83.149.22.40"}
LOCALHOST_IP = "61.219.5.130"
SPAM_MSG = (b"From: from@domain.com\r\nTo: realTO@domain.com\r\nSubject: BC_82.155.126.2\r\n"
            b"Date: Sun, 07 Dec 08 19:24:09 GMT\r\n\r\nHello, I'm a spammer!\r\n")
CONF = """
proxy_from = 127.0.0.1/32
[listener smtp]
address = 127.0.0.1
port = @PORT@
proxy_protocol = yes
"""
ARTEFACTS = None
STATE = {}


def proxied_smtp(port, src, sport):
    """proxied_smtp - an smtplib client whose connection starts with a PROXY v1 header"""
    sock = socket.create_connection((e2e.HOST, port), timeout=10)
    sock.sendall(f"PROXY TCP4 {src} {HONEYPOT} {sport} 25\r\n".encode())
    s = smtplib.SMTP(local_hostname="unused.example", timeout=10)
    s.sock = sock
    s.file = None
    code, msg = s.getreply()
    assert code == 220, (code, msg)
    return s


def swaks(port, src, sport, ehlo, extra=()):
    """swaks - one swaks run through a PROXY header; returns its output"""
    args = ["swaks", "--server", f"{e2e.HOST}:{port}", "--proxy-version", "1",
            "--proxy-family", "TCP4", "--proxy-source", src, "--proxy-source-port", str(sport),
            "--proxy-dest", HONEYPOT, "--proxy-dest-port", "25", "--ehlo", ehlo,
            "--timeout", "10"] + list(extra)
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def play_scenes(port):
    """play_scenes - the study's sessions, each from its own source address"""
    # The spammer: envelope and header addresses differ.
    s = proxied_smtp(port, SPAMMER_IP, 3311)
    s.ehlo("mail.domain.com")
    s.mail("from@domain.com")
    s.rcpt("to@domain.com")
    code, _ = s.data(SPAM_MSG)
    assert code == 250, code
    s.quit()
    # Machine-generated and single-label EHLO identities, with swaks.
    for i, (name, ip) in enumerate(EHLO_NAMES.items()):
        rc, out = swaks(port, ip, 40000 + i, name, ["--quit-after", "HELO"])
        assert rc == 0, out
    # EHLO localhost then QUIT, as in the study's first transcript.
    s = proxied_smtp(port, LOCALHOST_IP, 2999)
    s.ehlo("localhost")
    s.quit()
    # Three Super webscan relay checks: HELO with the honeypot's own address.
    for i, ip in enumerate(WEBSCAN_IPS):
        s = proxied_smtp(port, ip, 1100 + i)
        s.helo(HONEYPOT)
        s.mail(WEBSCAN_BOX)
        s.rcpt(WEBSCAN_BOX)
        code, _ = s.data(f"Subject: {WEBSCAN_SUBJECT}\r\n\r\n".encode())
        assert code == 250, code
        s.quit()


def table_dump(path):
    """table_dump - every table's rows without surrogate ids, sorted: {table: [rows]}"""
    db = sqlite3.connect(path)
    out = {}
    try:
        for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                               " AND name NOT LIKE 'sqlite_%' ORDER BY name"):
            cols = [r[1] for r in db.execute(f'PRAGMA table_info("{t}")') if r[1] != "id"]
            q = "SELECT " + ", ".join(f'"{c}"' for c in cols) + f' FROM "{t}"'
            out[t] = sorted(db.execute(q).fetchall(), key=repr)
    finally:
        db.close()
    return out


def run_import(*args, stdin=None):
    """run_import - relaytrap import ARGS; (returncode, stdout, stderr)"""
    p = subprocess.run([e2e.BINARY, "import"] + list(args), input=stdin, capture_output=True,
                       timeout=120)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def has_report():
    """has_report - the binary has the report subcommand"""
    p = subprocess.run([e2e.BINARY, "report", "--help"], capture_output=True, timeout=30)
    return p.returncode == 0


def report(db, fmt, out=None):
    """report - relaytrap report --db DB --format FMT [-o OUT]; stdout text"""
    args = [e2e.BINARY, "report", "--db", db, "--format", fmt]
    if out is not None:
        args += ["-o", out]
    p = subprocess.run(args, capture_output=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError(f"report --format {fmt} exited {p.returncode}: "
                             f"{p.stderr.decode('utf-8', 'replace')[-2000:]}")
    return p.stdout.decode("utf-8")


def json_paths(node, want, path=()):
    """json_paths - the key paths under which a string containing want occurs"""
    found = []
    if isinstance(node, dict):
        for k, v in node.items():
            found += json_paths(v, want, path + (str(k),))
    elif isinstance(node, list):
        for v in node:
            found += json_paths(v, want, path)
    elif isinstance(node, str) and want in node:
        found.append("/".join(path))
    return found


def strip_volatile(node):
    """strip_volatile - a JSON report without what differs between two runs (times, paths)"""
    if isinstance(node, dict):
        return {k: strip_volatile(v) for k, v in node.items()
                if k not in ("generated", "generated_at", "database", "db", "db_path",
                             "elapsed_ms", "elapsed_us", "query_ms")}
    if isinstance(node, list):
        return [strip_volatile(v) for v in node]
    return node


class StrictHTML(html.parser.HTMLParser):
    """StrictHTML - checks that every non-void element is closed in order"""
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
            "source", "track", "wbr"}
    # SVG children that are written self-closing (<rect/>) arrive as startendtag.

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []
        self.errors = []
        self.svgs = 0

    def handle_starttag(self, tag, attrs):
        if tag == "svg":
            self.svgs += 1
        if tag not in self.VOID:
            self.stack.append((tag, self.getpos()))

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"</{tag}> at {self.getpos()} closes "
                               f"{self.stack[-1] if self.stack else 'nothing'}")
            return
        self.stack.pop()


class ReportE2E(unittest.TestCase):
    """The scenes, recorded once by setUpModule, checked from several sides"""

    @classmethod
    def setUpClass(cls):
        cls.d = STATE["daemon"]
        cls.live_db = os.path.join(cls.d.data, "relaytrap.db")
        cls.events = os.path.join(cls.d.data, "events.jsonl")
        cls.tmp = tempfile.mkdtemp(prefix="rt-report-e2e-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def imported(self, name):
        """imported - a fresh database built by relaytrap import from the daemon's log"""
        path = os.path.join(self.tmp, name)
        if not os.path.exists(path):
            rc, out, err = run_import("--db", path, self.events)
            self.assertEqual(rc, 0, err)
        return path

    # --- what the daemon recorded ---------------------------------------------------------

    def test_scenes_recorded(self):
        """the daemon saw every scene from the PROXY source address"""
        d = self.d
        rows = d.rows("SELECT src_ip, dst_ip, helo FROM sessions WHERE src_ip = ?", WEBSCAN_IPS[0])
        self.assertEqual([tuple(r) for r in rows], [(WEBSCAN_IPS[0], HONEYPOT, HONEYPOT)])
        subj = d.rows("SELECT s.src_ip FROM messages m JOIN sessions s USING (session)"
                      " WHERE m.hdr_subject = ? ORDER BY s.src_ip", WEBSCAN_SUBJECT)
        self.assertEqual(sorted(r[0] for r in subj), sorted(WEBSCAN_IPS))
        m = d.rows("SELECT m.mail_from, m.rcpts, m.hdr_from, m.hdr_to, m.hdr_subject, m.body_text"
                   " FROM messages m JOIN sessions s USING (session) WHERE s.src_ip = ?",
                   SPAMMER_IP)
        self.assertEqual(len(m), 1)
        self.assertEqual((m[0]["mail_from"], json.loads(m[0]["rcpts"]), m[0]["hdr_to"],
                          m[0]["hdr_subject"]),
                         ("from@domain.com", ["to@domain.com"], "realTO@domain.com",
                          "BC_82.155.126.2"))
        self.assertIn("Hello, I'm a spammer!", m[0]["body_text"])
        for name, ip in EHLO_NAMES.items():
            r = d.rows("SELECT greeting, helo FROM sessions WHERE src_ip = ?", ip)
            self.assertEqual([tuple(x) for x in r], [("EHLO", name)], name)

    # --- import ---------------------------------------------------------------------------

    def test_import_equals_live(self):
        """import of events.jsonl into a fresh database gives the live database's rows"""
        live, imp = table_dump(self.live_db), table_dump(self.imported("fresh.db"))
        self.assertEqual(sorted(live), sorted(imp))
        for t in live:
            self.assertEqual(live[t], imp[t], f"table {t} differs")
        self.assertGreater(len(live["sessions"]), 8)

    def test_import_idempotent(self):
        """importing the same log again, into the import or into the live db, adds nothing"""
        path = self.imported("twice.db")
        before = table_dump(path)
        rc, out, err = run_import("--db", path, self.events)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"events applied, 0 rejected")
        self.assertEqual(table_dump(path), before)
        live_before = table_dump(self.live_db)
        rc, out, err = run_import("--data-dir", self.d.data, self.events)
        self.assertEqual(rc, 0, err)
        self.assertEqual(table_dump(self.live_db), live_before)

    def test_import_gzip_stdin(self):
        """a gzip-compressed log on stdin imports like the plain file"""
        with open(self.events, "rb") as f:
            gz = gzip.compress(f.read())
        path = os.path.join(self.tmp, "stdin.db")
        rc, out, err = run_import("--db", path, "-", stdin=gz)
        self.assertEqual(rc, 0, err)
        nlines = sum(1 for _ in open(self.events, "rb"))
        self.assertIn(f"{nlines} lines, {nlines} events applied, 0 rejected", out)
        self.assertEqual(table_dump(path), table_dump(self.imported("fresh.db")))

    def test_import_rejects_named(self):
        """hostile lines are rejected by line number; the valid ones around them still apply"""
        with open(self.events, "rb") as f:
            good = f.read().splitlines()
        lines = [good[0], b"{not json", b'{"eventid":"relaytrap.command"}', b"",
                 b'{"a":"' + b"x" * (2 << 20) + b'"}', b"\xff\xfe binary"] + good[1:]
        src = os.path.join(self.tmp, "hostile.jsonl")
        with open(src, "wb") as f:
            f.write(b"\n".join(lines))  # and no final newline
        path = os.path.join(self.tmp, "hostile.db")
        rc, out, err = run_import("--db", path, src)
        self.assertEqual(rc, 0, err)
        self.assertIn(f"{len(good)} events applied, 4 rejected ({src}:2, {src}:3, {src}:5, "
                      f"{src}:6)", out)
        self.assertEqual(table_dump(path), table_dump(self.imported("fresh.db")))

    def test_import_usage_errors(self):
        """bad command lines say what to do and exit 2; a missing file exits 1"""
        rc, out, err = run_import()
        self.assertEqual(rc, 2)
        self.assertIn("no input", err)
        rc, out, err = run_import("--db", "x.db", "--data-dir", "y", "f")
        self.assertEqual(rc, 2)
        rc, out, err = run_import("--db", os.path.join(self.tmp, "m.db"),
                                  os.path.join(self.tmp, "missing.jsonl"))
        self.assertEqual(rc, 1)
        self.assertIn("missing.jsonl: No such file or directory", err)

    # --- report ---------------------------------------------------------------------------

    def need_report(self):
        if not STATE["report"]:
            self.skipTest("this relaytrap has no report subcommand")

    def test_report_text(self):
        """the text report names the identities, the spammer's subject and the relay checkers"""
        self.need_report()
        text = report(self.live_db, "text")
        for name in list(EHLO_NAMES) + WEBSCAN_IPS:
            self.assertIn(name, text)
        self.assertIn("Super webscan", text)
        self.assertFalse(re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text.replace("\x1b", "")),
                         "control bytes in the text report")

    def test_report_json_sections(self):
        """each scene appears under the right section of the JSON report"""
        self.need_report()
        doc = json.loads(report(self.live_db, "json"))
        for name in EHLO_NAMES:
            paths = json_paths(doc, name)
            self.assertTrue([p for p in paths if "helo" in p.lower()], (name, paths))
        for ip in WEBSCAN_IPS:
            paths = json_paths(doc, ip)
            self.assertTrue([p for p in paths if re.search("probe|relay", p, re.I)], (ip, paths))
        paths = json_paths(doc, "Super webscan")
        self.assertTrue([p for p in paths if re.search("probe|relay|scanner", p, re.I)], paths)
        paths = json_paths(doc, "BC_82.155.126.2")
        self.assertTrue(paths, "the spammer's subject is not in the report")

    def test_report_json_import_equals_live(self):
        """the JSON report of the imported database is the live database's"""
        self.need_report()
        live = strip_volatile(json.loads(report(self.live_db, "json")))
        imp = strip_volatile(json.loads(report(self.imported("fresh.db"), "json")))
        self.assertEqual(live, imp)

    def test_report_html(self):
        """the HTML report parses, its charts are well-formed SVG, and Chromium renders it"""
        self.need_report()
        out = os.path.join(self.tmp, "report.html")
        report(self.live_db, "html", out)
        with open(out, encoding="utf-8") as f:
            page = f.read()
        p = StrictHTML()
        p.feed(page)
        p.close()
        self.assertEqual(p.errors, [])
        self.assertEqual([t for t, _ in p.stack if t not in ("html", "body", "head")], [])
        svgs = re.findall(r"<svg\b.*?</svg>", page, re.S)
        self.assertGreater(len(svgs), 0, "no charts in the HTML report")
        for svg in svgs:
            ET.fromstring(svg)  # each chart is well-formed XML
        for name in list(EHLO_NAMES) + WEBSCAN_IPS:
            self.assertIn(name, page)
        self.assertNotIn("<script>alert", page)
        chromium_check(self, out, len(svgs))


def chromium_binary():
    """chromium_binary - the headless browser, or None"""
    for b in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(b)
        if path:
            return path
    return None


# Injected into a copy of the page: collects errors from the start and writes every chart's
# rendered size into the DOM that --dump-dom prints.
PROBE_HEAD = ("<script>window.__rtErr=[];addEventListener('error',function(e){"
              "__rtErr.push(String(e.message))});(function(){var o=console.error;"
              "console.error=function(){__rtErr.push([].join.call(arguments,' '));"
              "o.apply(console,arguments)}})();</script>")
PROBE_TAIL = ("<script>addEventListener('load',function(){var s=[].map.call("
              "document.querySelectorAll('svg'),function(e){var r=e.getBoundingClientRect();"
              "return [r.width,r.height]});document.documentElement.setAttribute('data-rt-svg',"
              "JSON.stringify(s));document.documentElement.setAttribute('data-rt-err',"
              "JSON.stringify(__rtErr))});</script>")


def chromium_run(browser, args, timeout=120):
    """chromium_run - one headless run with a throwaway profile; (stdout, stderr)"""
    prof = tempfile.mkdtemp(prefix="rt-chromium-")
    try:
        p = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                            "--disable-dev-shm-usage", "--no-first-run",
                            "--disable-background-networking", "--disable-sync",
                            "--disable-extensions", "--disable-component-update",
                            f"--user-data-dir={prof}", "--window-size=1280,2400"] + args,
                           capture_output=True, timeout=timeout)
        return p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    finally:
        shutil.rmtree(prof, ignore_errors=True)


def chromium_check(tc, page_path, nsvg):
    """chromium_check - no console errors, every svg rendered with a size, a screenshot kept"""
    browser = chromium_binary()
    if browser is None:
        tc.skipTest("chromium is not installed (apt-get install chromium)")
    url = "file://" + os.path.abspath(page_path)
    # 1. The page as shipped: console messages at error level, and the screenshot.
    os.makedirs(ARTEFACTS, exist_ok=True)
    shot = os.path.join(ARTEFACTS, "report.png")
    if os.path.exists(shot):
        os.unlink(shot)
    _, err = chromium_run(browser, ["--enable-logging=stderr", "--v=0",
                                    f"--screenshot={shot}", url])
    console = [l for l in err.splitlines() if "CONSOLE" in l or "Uncaught" in l
               or "Content Security Policy" in l or "Refused to" in l]
    tc.assertEqual(console, [], "console messages while rendering the report")
    tc.assertTrue(os.path.exists(shot) and os.path.getsize(shot) > 1000, "no screenshot")
    shutil.copy(page_path, os.path.join(ARTEFACTS, "report.html"))
    # 2. A probed copy (its own CSP removed so the probe may run) for the chart sizes.
    with open(page_path, encoding="utf-8") as f:
        page = f.read()
    page = re.sub(r"<meta[^>]+Content-Security-Policy[^>]*>", "", page, flags=re.I)
    page = re.sub(r"(<head[^>]*>)", lambda m: m.group(1) + PROBE_HEAD, page, count=1)
    page = page.replace("</body>", PROBE_TAIL + "</body>", 1)
    probed = page_path + ".probe.html"
    with open(probed, "w", encoding="utf-8") as f:
        f.write(page)
    dom, _ = chromium_run(browser, ["--dump-dom", "--virtual-time-budget=5000",
                                    "file://" + os.path.abspath(probed)])
    m = re.search(r'data-rt-svg="([^"]*)"', dom)
    tc.assertIsNotNone(m, "the size probe did not run")
    sizes = json.loads(html.unescape(m.group(1)))
    errs = json.loads(html.unescape(re.search(r'data-rt-err="([^"]*)"', dom).group(1)))
    tc.assertEqual(errs, [], "script errors in the page")
    tc.assertEqual(len(sizes), nsvg)
    tc.assertEqual([s for s in sizes if s[0] <= 0 or s[1] <= 0], [], "charts of zero size")


def setUpModule():
    d = e2e.Daemon(config=CONF)
    STATE["daemon"] = d
    try:
        play_scenes(d.port)
    finally:
        rc = d.stop()
    assert rc == 0, f"daemon exited {rc}"
    STATE["report"] = has_report()


def tearDownModule():
    if "daemon" in STATE:
        STATE["daemon"].cleanup()


def main():
    global ARTEFACTS
    ap = argparse.ArgumentParser(description="relaytrap report/import end-to-end tests")
    ap.add_argument("--binary", required=True)
    ap.add_argument("--artefacts", default=None,
                    help="where report.png is kept (default: build/test-artefacts next to the "
                         "binary)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("-k", dest="pattern", action="append", default=[])
    args = ap.parse_args()
    e2e.BINARY = os.path.abspath(args.binary)
    ARTEFACTS = args.artefacts or os.path.join(os.path.dirname(e2e.BINARY), "test-artefacts")
    loader = unittest.TestLoader()
    if args.pattern:
        loader.testNamePatterns = [f"*{p}*" for p in args.pattern]
    suite = loader.loadTestsFromModule(sys.modules[__name__])
    res = unittest.TextTestRunner(verbosity=2 if args.verbose else 1).run(suite)
    failed = len(res.failures) + len(res.errors)
    print(f"E2E-REPORT: {res.testsRun - failed - len(res.skipped)} passed, {failed} failed, "
          f"{len(res.skipped)} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
