#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""
gen_capture.py - write a realistic relaytrap capture (events.jsonl, docs/events.md) of N sessions.

Owns: bench/gen_capture.py. Deterministic for a given --seed. Writes exactly the events the
exchange2000 persona and the store produce, in the same field order, one session after another in
start-time order (enrichment events land before or after `session.closed` as they would live).

The mix follows what honeypots on port 25 see (and the 2009 study this project grew out of):
  scan      port scans and banner grabs that send nothing, nmap-style EHLO/HELP, HTTP and TLS
            on port 25
  helo      identity checks: HELO/EHLO then QUIT, with the study's kinds of names (FQDNs, single
            labels, machine-generated labels like user-3i39rqqo1r, address literals, localhost,
            the honeypot's own name or address)
  spam      spam runs: campaigns with varying subjects, envelope and header addresses that differ,
            several transactions and recipients, bot X-Mailers, MIME parts
  probe     open-relay probes: "Super webscan open relay check succeded, hostname = <ip>" from
            Taiwanese addresses, BC_<ip> ratware checks, proxy-checker relay tests, routing-trick
            suites; drop-box recipients
  auth      AUTH LOGIN guessing up to the bad-command limit, some PLAIN/NTLM
  recon     VRFY/EXPN/HELP/NOOP/RSET, unknown verbs, MAIL before HELO
  harvest   directory harvest: one MAIL, many RCPT TO
spread over --days days and about --ips source addresses with a diurnal cycle.

Usage: bench/gen_capture.py [-n SESSIONS] [-o FILE] [--days 30] [--ips 50000] [--seed 1]
                            [--start 2026-10-01] [--sensors 3] [--no-enrich]
Prints one summary line (sessions, events, bytes, seconds) to stderr.
"""
import argparse
import base64
import bisect
import calendar
import hashlib
import itertools
import json.encoder
import math
import multiprocessing
import random
import sys
import time
import zlib

ESC = json.encoder.encode_basestring  # the C escaper: "text" with only ", \ and controls escaped

EHLO_KEYWORDS = ("TURN", "ATRN", "SIZE", "ETRN", "PIPELINING", "DSN", "ENHANCEDSTATUSCODES",
                 "8bitmime", "BINARYMIME", "CHUNKING", "VRFY", "X-EXPS GSSAPI NTLM LOGIN",
                 "X-EXPS=LOGIN", "AUTH GSSAPI NTLM LOGIN", "AUTH=LOGIN", "X-LINK2STATE", "XEXCH50")
EHLO_TAIL = "".join("\r\n250-" + k for k in EHLO_KEYWORDS) + "\r\n250 OK"
R_UNKNOWN = "500 5.3.3 Unrecognized command"
R_SYNTAX = "501 5.5.4 Invalid arguments"
R_AUTH_FAIL = "535 5.7.3 Authentication unsuccessful"
R_DATA = "354 Start mail input; end with <CRLF>.<CRLF>"
R_NOHELO = "503 5.5.2 Send hello first"
R_RSET = "250 2.0.0 Resetting"
R_NOOP = "250 2.0.0 OK"
R_HELP = ("214-This server supports the following commands:\r\n"
          "214 HELO EHLO STARTTLS RCPT DATA RSET MAIL QUIT HELP AUTH TURN ATRN ETRN BDAT VRFY")
BAD_MAX = 10  # max_bad_commands default
PACK_BODY_MAX = 64 * 1024  # bodies up to this size go to pack files
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# The honeypots: name, host name, NetBIOS name, address.
SENSORS = [
    ("pt-lis-1", "bps-pc9.local.mynet", "BPS-PC9", "82.155.248.223"),
    ("de-fra-1", "mail01.corp.ironbridge-logistics.com", "MAIL01", "195.201.44.17"),
    ("us-nyc-1", "exch1.midland-printing.com", "EXCH1", "159.203.77.210"),
    ("sg-sin-1", "mx03.corp.brightwayfreight.org", "MX03", "128.199.160.41"),
]

# country: (weight, name, [(city, region, lat, lon)], [(asn, org)], [first octets], windows share)
GEO = {
    "CN": (22, "China", [("Beijing", "Beijing", 39.9042, 116.4074),
                         ("Shanghai", "Shanghai", 31.2304, 121.4737),
                         ("Guangzhou", "Guangdong", 23.1291, 113.2644),
                         ("Shenzhen", "Guangdong", 22.5431, 114.0579)],
           [(4134, "CHINANET-BACKBONE"), (4837, "CHINA UNICOM China169 Backbone")],
           [58, 61, 113, 117, 183, 218, 222], 0.85),
    "US": (14, "United States", [("Ashburn", "Virginia", 39.0438, -77.4874),
                                 ("Los Angeles", "California", 34.0522, -118.2437),
                                 ("New York", "New York", 40.7128, -74.006),
                                 ("Dallas", "Texas", 32.7767, -96.797)],
           [(16509, "AMAZON-02"), (14061, "DIGITALOCEAN-ASN"), (7922, "COMCAST-7922")],
           [3, 23, 34, 45, 67, 104, 162, 198], 0.35),
    "BR": (8, "Brazil", [("Sao Paulo", "Sao Paulo", -23.5505, -46.6333),
                         ("Rio de Janeiro", "Rio de Janeiro", -22.9068, -43.1729)],
           [(28573, "Claro NXT Telecomunicacoes Ltda"), (18881, "TELEFONICA BRASIL S.A")],
           [177, 179, 186, 187, 189, 201], 0.9),
    "RU": (7, "Russia", [("Moscow", "Moscow", 55.7558, 37.6173),
                         ("Saint Petersburg", "Saint Petersburg", 59.9311, 30.3609)],
           [(12389, "PJSC Rostelecom"), (8359, "MTS PJSC")], [5, 31, 46, 77, 95, 178], 0.8),
    "IN": (7, "India", [("Mumbai", "Maharashtra", 19.076, 72.8777),
                        ("New Delhi", "Delhi", 28.6139, 77.209),
                        ("Bengaluru", "Karnataka", 12.9716, 77.5946)],
           [(9829, "National Internet Backbone"), (45609, "Bharti Airtel Ltd.")],
           [14, 27, 49, 59, 117, 182], 0.9),
    "VN": (6, "Vietnam", [("Hanoi", "Hanoi", 21.0278, 105.8342),
                          ("Ho Chi Minh City", "Ho Chi Minh", 10.8231, 106.6297)],
           [(45899, "VNPT Corp"), (7552, "Viettel Group")], [14, 27, 113, 115, 171], 0.95),
    "TW": (5, "Taiwan", [("Taipei", "Taipei City", 25.033, 121.5654),
                         ("Hualien", "Hualien County", 23.9872, 121.6015),
                         ("Taichung", "Taichung City", 24.1477, 120.6736),
                         ("Kaohsiung", "Kaohsiung City", 22.6273, 120.3014)],
           [(3462, "Data Communication Business Group")], [1, 36, 59, 61, 114, 118, 124, 219],
           0.95),
    "KR": (4, "South Korea", [("Seoul", "Seoul", 37.5665, 126.978)],
           [(4766, "Korea Telecom"), (9318, "SK Broadband Co Ltd")], [1, 59, 112, 121, 175], 0.9),
    "DE": (4, "Germany", [("Frankfurt am Main", "Hesse", 50.1109, 8.6821),
                          ("Berlin", "Land Berlin", 52.52, 13.405)],
           [(24940, "Hetzner Online GmbH"), (3320, "Deutsche Telekom AG")],
           [46, 78, 88, 91, 136, 176], 0.3),
    "NL": (3, "Netherlands", [("Amsterdam", "North Holland", 52.3676, 4.9041)],
           [(202425, "IP Volume inc"), (49981, "WorldStream B.V.")], [37, 80, 89, 185, 193], 0.2),
    "ID": (3, "Indonesia", [("Jakarta", "Jakarta", -6.2088, 106.8456)],
           [(7713, "PT Telekomunikasi Indonesia")], [36, 110, 114, 180, 202], 0.95),
    "TR": (2, "Turkey", [("Istanbul", "Istanbul", 41.0082, 28.9784)],
           [(9121, "Turk Telekom")], [78, 85, 88, 176], 0.9),
    "UA": (2, "Ukraine", [("Kyiv", "Kyiv City", 50.4501, 30.5234)],
           [(15895, "Kyivstar PJSC")], [46, 91, 93, 176], 0.8),
    "PT": (1, "Portugal", [("Lisbon", "Lisbon", 38.7223, -9.1393), ("Porto", "Porto", 41.1579, -8.6291)],
           [(3243, "MEO - SERVICOS DE COMUNICACOES E MULTIMEDIA S.A.")], [2, 82, 85, 89], 0.9),
    "PL": (2, "Poland", [("Warsaw", "Mazovia", 52.2297, 21.0122)],
           [(5617, "Orange Polska Spolka Akcyjna")], [31, 83, 89, 178], 0.9),
    "AR": (2, "Argentina", [("Buenos Aires", "Buenos Aires F.D.", -34.6037, -58.3816)],
           [(7303, "Telecom Argentina S.A.")], [181, 186, 190, 200], 0.9),
}
# The study's relay checkers, all from Taiwan (HiNet), Windows XP SP1, all DNSBL-listed.
SEED_RELAY_IPS = ["118.165.91.55", "219.86.32.1", "124.11.193.219", "124.11.192.173",
                  "114.44.42.34", "114.44.43.87"]
SEED_RELAY_CITY = {"219.86.32.1": "Hualien"}

DNSBL_ZONES = [("zen.spamhaus.org", ["127.0.0.4"], ["XBL: exploited host"]),
               ("bl.spamcop.net", ["127.0.0.2"], ["listed"]),
               ("b.barracudacentral.org", ["127.0.0.2"], ["listed"]),
               ("dnsbl.sorbs.net", ["127.0.0.10"], ["dynamic IP space"])]

WINDOWS = [("Windows", "XP", "4:128+0:0:1460:65535,0:mss,nop,nop,sok:df,id+:0", 0.35),
           ("Windows", "7 or 8", "4:128+0:0:1460:8192,8:mss,nop,ws,nop,nop,sok:df,id+:0", 0.45),
           ("Windows", "NT kernel", "4:128+0:0:1460:64240,8:mss,nop,ws,nop,nop,sok:df,id+:0", 0.2)]
UNIXES = [("Linux", "3.11 and newer", "4:64+0:0:1460:mss*20,7:mss,sok,ts,nop,ws:df,id+:0", 0.7),
          ("Linux", "2.2.x-3.x", "4:64+0:0:1460:mss*4,6:mss,sok,ts,nop,ws:df,id+:0", 0.2),
          ("FreeBSD", "9.x or newer", "4:64+0:0:1460:65535,6:mss,nop,ws,sok,ts:df,id+:0", 0.1)]

WORDS = ("alpha amber apex arrow atlas aurora beacon birch blaze bloom bolt breeze bright brook "
         "canyon cedar cloud coral crest crystal dawn delta drift eagle echo ember falcon fern "
         "flint forest frost galaxy garnet glacier granite harbor hawk haven horizon iris island "
         "ivory jade jasper lagoon lark laurel lotus lunar maple marble meadow mesa mist nebula "
         "nova oak ocean onyx orbit pearl pine pixel planet prairie quartz raven reef ridge river "
         "sage sierra silver sky solar sparrow spruce star stone summit sun swift terra thunder "
         "tide timber topaz trail valley vertex vista willow wind zenith").split()
FIRST = ("james mary john linda robert susan michael karen david lisa daniel nancy paul sandra "
         "mark ashley steven kelly kevin amy brian anna jason emma ryan olivia eric sophia").split()
LAST = ("smith johnson brown jones miller davis garcia wilson moore taylor anderson thomas "
        "jackson white harris martin thompson lee walker hall allen young king wright").split()
FREEMAIL = ("yahoo.com", "hotmail.com", "gmail.com", "aol.com", "msn.com", "163.com", "qq.com",
            "mail.ru", "yandex.ru", "yahoo.com.tw", "hinet.net", "sina.com", "rediffmail.com")
TLDS = ("com", "net", "org", "info", "biz", "ru", "cn", "com.br", "in", "tw", "ws", "cc")
XMAILERS = ("Microsoft Outlook Express 6.00.2900.2180", "Microsoft Outlook Express 6.00.2800.1158",
            "Microsoft Office Outlook 12.0", "The Bat! (v3.5.25) Professional",
            "Microsoft Windows Live Mail 14.0.8117.416", "Foxmail 6, 13, 102, 15 [cn]",
            "PHPMailer 5.2.1 (http://code.google.com/a/apache-extras.org/p/phpmailer/)",
            "Mozilla Thunderbird 1.5.0.9 (Windows/20061207)", "")

SPAM_SUBJECTS = [
    "Re: Your order #{n} has shipped", "{First}, your account will be suspended",
    "Viagra {pct}% off today only", "Replica Rolex from ${n}", "Invoice {id} from {Word} Ltd",
    "You have received a new fax ({d} pages)", "Make her happy tonight, {first}",
    "Payment confirmation {id}", "Urgent business proposal from {First} {Last}",
    "Lottery winner notification #{n}", "Your parcel {id} could not be delivered",
    "Cheap Microsoft Office 2007 - only ${n}", "Stock alert: {TICK} set to explode",
    "Dear friend", "RE: meeting on {date}", "Hot singles in {city} want to meet you",
    "Your PayPal account has been limited", "Important: verify your {Word} Bank account",
    "Fw: {Word} {Word} photos", "Work from home and earn ${n} a week",
    "{pct}% discount on Canadian pharmacy", "Re: {first}", "Get a degree in {d} weeks",
    "Your mailbox is almost full ({pct}%)", "Christmas sale: {Word} watches {pct}% off",
    "Loan approved: ${n},000", "Security alert for {first}@{dom}", "New voicemail from +{n}{n}",
]
SPAM_BODIES = [
    "Hello,\r\n\r\nBest prices on the net! Visit http://{word}{d}.{tld}/?id={id} now.\r\n\r\n"
    "Unsubscribe: http://{word}{d}.{tld}/u/{id}\r\n",
    "Dear {First},\r\n\r\nWe are pleased to inform you that you have won {n} USD. Please reply "
    "with your full name and address to claim your prize.\r\n\r\nRegards,\r\n{First} {Last}\r\n",
    "Your account needs verification. Login here: http://{word}-secure.{tld}/login.php?u={id}"
    "\r\nFailure to do so will result in suspension.\r\n",
    "Hi,\r\n\r\nplease find the attached invoice {id}. Payment is due in {d} days.\r\n\r\n"
    "{First} {Last}\r\nAccounts department\r\n",
    "I am {First} {Last}, a bank manager. I have a business proposal of {n} million USD for "
    "you. Reply for details.\r\n",
    "<html><body><a href=\"http://{word}{d}.{tld}/\">Click here</a> for {pct}% off "
    "{Word} products.</body></html>\r\n",
]
PROBE_DROPBOXES = {
    "webscan": ["chkrelay88@yahoo.com.tw", "swscan.tw@hotmail.com", "relay.ok.2009@gmail.com"],
    "bc": ["bc.check@163.com", "bcresult@qq.com", "mailcheck77@yahoo.com"],
    "proxy": ["proxycheck@mail.ru", "relaycheck.report@yandex.ru"],
    "test": ["test4relay@hotmail.com", "spamtest.results@aol.com", "omar.test99@yahoo.com"],
}
AUTH_USERS = ("admin", "test", "info", "webmaster", "postmaster", "sales", "user", "root",
              "administrator", "support", "office", "contact", "mail", "guest", "backup")
AUTH_PASSWORDS = ("123456", "password", "12345678", "admin", "qwerty", "123456789", "1234",
                  "test", "abc123", "111111", "password1", "admin123", "letmein", "welcome",
                  "changeme", "P@ssw0rd", "1q2w3e4r", "000000", "mail", "{user}", "{user}123",
                  "{user}2026")


_rng = random.Random(1)


def ri(a, b):
    """ri - uniform integer in [a, b]; random.randint costs three times as much"""
    return a + int(_rng.random() * (b - a + 1))


def reseed(seed):
    """reseed - one generator for the whole process (chunks reseed it deterministically)"""
    global _rng
    _rng = random.Random(seed)
    return _rng


def b64(s):
    """b64 - base64 of a text's UTF-8 bytes"""
    return base64.b64encode(s.encode()).decode()


class Clock:
    """Clock - RFC 3339 UTC text with microseconds for epoch microseconds, cached per minute"""

    def __init__(self):
        self.cache = {}

    def ts(self, us):
        sec, frac = divmod(us, 1000000)
        minute, s = divmod(sec, 60)
        p = self.cache.get(minute)
        if p is None:
            p = time.strftime("%Y-%m-%dT%H:%M:", time.gmtime(minute * 60))
            self.cache[minute] = p
        return f"{p}{s:02d}.{frac:06d}Z"

    @staticmethod
    def banner_date(us):
        t = time.gmtime(us // 1000000)
        return (f"{DAYS[t.tm_wday]}, {t.tm_mday} {MONTHS[t.tm_mon - 1]} {t.tm_year} "
                f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000")


class Host:
    """Host - one source address and what enrichment knows about it"""
    __slots__ = ("ip", "cc", "geo", "os", "listed", "ptr", "windows")

    def __init__(self, rnd, ip, cc, windows_share, listed_p, city=None):
        self.ip = ip
        self.cc = cc
        w, cname, cities, asns, _, _ = GEO[cc]
        c = rnd.choice(cities)
        if city is not None:
            c = next((x for x in cities if x[0] == city), c)
        asn, org = rnd.choice(asns)
        lat = round(c[2] + rnd.uniform(-0.05, 0.05), 4)
        lon = round(c[3] + rnd.uniform(-0.05, 0.05), 4)
        self.geo = (f',"geo":{{"country_code":"{cc}","country":{ESC(cname)},'
                    f'"region":{ESC(c[1])},"city":{ESC(c[0])},"latitude":{lat},'
                    f'"longitude":{lon},"asn":{asn},"as_org":{ESC(org)},'
                    f'"geo_db":"GeoLite2-City"}}')
        self.windows = rnd.random() < windows_share
        fams = WINDOWS if self.windows else UNIXES
        name, flavor, sig, _ = rnd.choices(fams, weights=[f[3] for f in fams])[0]
        ttl = 128 if self.windows else 64
        hops = ri(8, 24)
        match = rnd.choice(("exact", "exact", "fuzzy"))
        self.os = (f',"os":{{"os_class":"{"win" if self.windows else "unix"}",'
                   f'"os_name":"{name}","os_flavor":"{flavor}","os_distance":{hops},'
                   f'"os_match":"{match}","os_sig":"{sig}"}}')
        self.listed = [z for z in DNSBL_ZONES if rnd.random() < listed_p]
        octs = ip.split(".")
        r = rnd.random()
        if r < 0.35:
            self.ptr = None
        elif r < 0.8:
            self.ptr = f"{'-'.join(octs)}.dynamic.{rnd.choice(WORDS)}-isp.{cc.lower()}"
        else:
            self.ptr = f"host-{octs[3]}-{octs[2]}.{rnd.choice(WORDS)}.{rnd.choice(TLDS)}"

    def rdns(self):
        if self.ptr is None:
            return ',"rdns":{"status":"nxdomain","cached":false,"lookup_us":20000}'
        return (f',"rdns":{{"status":"ok","ptr":"{self.ptr}","fcrdns":true,"cached":false,'
                f'"lookup_us":31000}}')

    def dnsbl(self, lookup_us):
        parts = []
        for zone, codes, meanings in DNSBL_ZONES:
            if any(z[0] == zone for z in self.listed):
                parts.append(f'{{"zone":"{zone}","status":"listed","codes":{json_list(codes)},'
                             f'"meanings":{json_list(meanings)}}}')
            else:
                parts.append(f'{{"zone":"{zone}","status":"not_listed"}}')
        return (f',"dnsbl":{{"lists":[{",".join(parts)}],"listed":{len(self.listed)},'
                f'"cached":false,"lookup_us":{lookup_us}}}')


def json_list(items):
    """json_list - a JSON array of strings"""
    return "[" + ",".join(ESC(x) for x in items) + "]"


class Session:
    """Session - builds one session's events in order, counting what session.closed reports"""

    def __init__(self, g, start_us, host, sensor, dst_port=25):
        self.g = g
        # like the daemon's ids (docs/events.md): 12 hex digits of the start in ms, 12 random
        self.sid = "%012x%012x" % (start_us // 1000, g.rnd.getrandbits(64) >> 16)
        self.start = start_us
        self.host = host
        self.sensor = sensor
        self.common = (f'"sensor":"{sensor[0]}","src_ip":"{host.ip}",'
                       f'"src_port":{ri(1025, 65535)},"dst_ip":"{sensor[3]}",'
                       f'"dst_port":{dst_port},"persona":"exchange2000","listener":"smtp"')
        self.out = []
        self.t = 0
        self.seq = 0
        self.commands = self.bad = self.messages = self.rcpts = self.auths = 0
        self.bytes_in = self.bytes_out = 0
        self.first_cmd = -1
        self.greeting = ""
        self.helo_name = ""
        self.stage = "connect"
        self.signals = set()
        self.tx = 0
        self.closed = False
        self.pending = []  # (t, body) enrichment results still in flight
        self.dns = None  # (t, body) of the dns event while its HELO part may still come

    def ev(self, eventid, body, t=None):
        if t is None:
            t = self.t
        while self.pending and self.pending[0][0] <= t:
            pt, pbody = self.pending.pop(0)
            self._emit("relaytrap.enrich", pbody, pt)
        self._emit(eventid, body, t)

    def _emit(self, eventid, body, t):
        self.out.append(f'{{"timestamp":"{self.g.clock.ts(self.start + t)}","eventid":"{eventid}",'
                        f'"session":"{self.sid}",{self.common}{body}}}\n')

    def connect(self):
        self.ev("relaytrap.session.connect", ',"proxied":false')
        if self.g.enrich:
            h = self.host
            # the engine's one enrich event per session (geo and os known at the connect):
            # written when the HELO part is in (helo) or at the end of a session without one
            # (close)
            lk = ri(15000, 250000)
            self.dns = (lk + ri(0, 9000),
                        ',"kind":"session"' + h.geo + h.os + h.rdns() + h.dnsbl(lk))
        self.t = ri(25000, 60000)
        self.reply(220, f"220 {self.sensor[1]} Microsoft ESMTP MAIL Service, Version: "
                        f"5.0.2195.5329 ready at  {Clock.banner_date(self.start)} ",
                   delay=ri(25, 55))

    def wait(self, lo=80000, hi=400000):
        """wait - client think time plus round trip before the next line"""
        self.t += ri(lo, hi)

    def cmd(self, line, verb, auth=False, gap=None):
        if gap is None:
            self.wait()
        else:
            self.t += gap
        self.seq += 1
        self.commands += 1
        if self.first_cmd < 0:
            self.first_cmd = self.t - 6
        n = len(line.encode())
        self.bytes_in += n + 2
        self.ev("relaytrap.command",
                f',"seq":{self.seq},"t_us":{self.t},"line":{ESC(line)},"verb":"{verb}",'
                f'"len":{n},"truncated":false,"bare_lf":false,"auth":{"true" if auth else "false"}')

    def reply(self, code, text, delay=None):
        self.t += 15
        self.seq += 1
        if delay is None:
            delay = ri(4, 19)
        self.bytes_out += len(text) + 2
        self.ev("relaytrap.reply", f',"seq":{self.seq},"t_us":{self.t},"code":{code},'
                                   f'"text":{ESC(text)},"delay_ms":{delay}')
        self.t += delay * 1000
        if code >= 500:
            self.bad += 1
            if self.bad >= BAD_MAX:
                self.limit("max_bad_commands", BAD_MAX)
                self.reply(421, f"421 4.7.0 {self.sensor[1]} Too many errors on this "
                                f"connection, closing transmission channel")
                self.close("too_many_errors")
                return False
        return True

    def signal(self, sig, detail):
        if sig in self.signals:
            return
        self.signals.add(sig)
        self.ev("relaytrap.signal", f',"signal":"{sig}","detail":{ESC(detail)}')

    def limit(self, name, value):
        self.ev("relaytrap.limit", f',"limit":"{name}","value":{value}')

    def helo(self, verb, name, lower=False):
        line = f"{verb.lower() if lower else verb} {name}" if name else verb
        self.cmd(line, verb)
        if lower:
            self.signal("verb_lowercase", verb)
        if not name:
            return self.reply(501, "501 5.5.4 Invalid Address")
        if self.greeting == "EHLO" and verb == "HELO":
            self.signal("helo_after_ehlo", name)
        self.ev("relaytrap.helo", f',"verb":"{verb}","name":{ESC(name)}')
        self.greeting = verb
        self.helo_name = name
        if self.stage == "connect":
            self.stage = "helo"
        if self.g.enrich and self.dns is not None:
            # only the first name is checked; its part completes the dns event
            t = max(self.t + ri(20000, 200000), self.dns[0])
            self.pending.append((t, self.dns[1] + self.g.helo_enrich(name, self.host.ip)))
            self.pending.sort()
            self.dns = None
        if verb == "EHLO":
            return self.reply(250, f"250-{self.sensor[1]} Hello [{self.host.ip}]{EHLO_TAIL}")
        return self.reply(250, f"250 {self.sensor[1]} Hello [{self.host.ip}]")

    def mail(self, addr, space=False, brackets=True, params=None, gap=None):
        arg = (f"<{addr}>" if brackets else addr)
        line = f"MAIL FROM:{' ' if space else ''}{arg}"
        if params:
            line += " " + " ".join(f"{k}={v}" for k, v in params.items())
        self.cmd(line, "MAIL", gap=gap)
        if not self.greeting:
            self.signal("no_greeting", line[5:])
            return self.reply(503, R_NOHELO)
        if space:
            self.signal("mail_from_space", line[5:])
        if not brackets:
            self.signal("no_brackets", line[5:])
        self.tx += 1
        flags = ['"brackets"'] if brackets else []
        if space:
            flags.append('"space_before"')
        if addr == "":
            flags.append('"null"')
            echoed = "<>"
        elif "@" not in addr:
            flags.append('"no_domain"')
            echoed = f"{addr}@{self.sensor[1]}"
        else:
            echoed = addr
        ps = ",".join(f"{ESC(k)}:{ESC(v)}" for k, v in (params or {}).items())
        self.ev("relaytrap.mail", f',"tx":{self.tx},"address":{ESC(echoed)},"raw":{ESC(addr)},'
                                  f'"flags":[{",".join(flags)}],"params":{{{ps}}},'
                                  f'"accepted":true')
        self.stage = "mail"
        self.mail_from = echoed
        self.rcpt_list = []
        return self.reply(250, f"250 2.1.0 {echoed}....Sender OK")

    def rcpt(self, addr, space=False, flags=(), gap=None):
        self.cmd(f"RCPT TO:{' ' if space else ''}<{addr}>", "RCPT", gap=gap)
        fl = ['"brackets"'] + (['"space_before"'] if space else []) + [f'"{f}"' for f in flags]
        self.ev("relaytrap.rcpt", f',"tx":{self.tx},"address":{ESC(addr)},"raw":{ESC(addr)},'
                                  f'"flags":[{",".join(fl)}],"params":{{}},"accepted":true')
        self.rcpts += 1
        self.rcpt_list.append(addr)
        self.stage = "rcpt"
        return self.reply(250, f"250 2.1.5 {addr} ")

    def data(self, hdr, body_text, parts, size, gap=None):
        """data - DATA, 354, the message (hdr: dict of hdr_* fields), 250 queued, message event"""
        self.cmd("DATA", "DATA", gap=gap)
        self.stage = "data"
        self.reply(354, R_DATA)
        self.t += ri(20000, 900000) + size // 50
        self.bytes_in += size + 3
        msgid = self.g.msgid(self.sensor)
        self.reply(250, f"250 2.6.0 <{msgid}@{self.sensor[1]}> Queued mail for delivery")
        self.messages += 1
        self.stage = "message"
        h = "".join(f',"{k}":{ESC(v)}' for k, v in hdr.items() if v is not None)
        digest = hashlib.sha256(
            ("\n".join(f"{k}:{v}" for k, v in hdr.items()) + body_text).encode()).hexdigest()
        ps = ",".join(
            "{" + f'"type":{ESC(p[0])}' + (f',"filename":{ESC(p[1])}' if len(p) > 1 else "") + "}"
            for p in parts)
        self.ev("relaytrap.message",
                f',"tx":{self.tx},"via":"DATA","size":{size},"stored":{size},'
                f'"truncated":false,"complete":true,"accepted":true,"msgid":"{msgid}",'
                f'"mail_from":{ESC(self.mail_from)},"rcpts":{json_list(self.rcpt_list)}{h},'
                f'"sha256":"{digest}",{self.g.body_where(digest, size)},'
                f'"body_text":{ESC(body_text[:2048])},"parts":[{ps}]')

    def simple(self, line, verb, code, text, gap=None):
        self.cmd(line, verb, gap=gap)
        return self.reply(code, text)

    def rset(self):
        self.tx_open = False
        return self.simple("RSET", "RSET", 250, R_RSET)

    def quit(self):
        self.cmd("QUIT", "QUIT")
        self.reply(221, f"221 2.0.0 {self.sensor[1]} Service closing transmission channel")
        self.close("quit")

    def close(self, reason, linger=None):
        if self.closed:
            return
        self.closed = True
        self.t += linger if linger is not None else ri(50, 3000)
        self.ev("relaytrap.session.closed",
                f',"reason":"{reason}","duration_us":{self.t},"first_cmd_us":{self.first_cmd},'
                f'"greeting":"{self.greeting}","helo":{ESC(self.helo_name)},'
                f'"commands":{self.commands},"bad_commands":{self.bad},'
                f'"messages":{self.messages},"rcpts":{self.rcpts},"auth_attempts":{self.auths},'
                f'"bytes_in":{self.bytes_in},"bytes_out":{self.bytes_out},"stage":"{self.stage}"')
        if self.dns is not None:  # no HELO name came: written when the session ends
            self.pending.append((max(self.dns[0], self.t), self.dns[1]))
            self.dns = None
        for pt, pbody in self.pending:
            self._emit("relaytrap.enrich", pbody, pt)
        self.pending = []


class Gen:
    """Gen - the population (hosts, campaigns, probers) and one generator per session kind"""

    KINDS = (("scan", 0.40), ("helo", 0.18), ("spam", 0.18), ("probe", 0.04), ("auth", 0.10),
             ("recon", 0.06), ("harvest", 0.04))

    def __init__(self, args):
        self.rnd = reseed(args.seed)
        self.seed = args.seed
        self.clock = Clock()
        self.enrich = not args.no_enrich
        self.start_us = calendar.timegm(time.strptime(args.start, "%Y-%m-%d")) * 1000000
        self.span_us = args.days * 86400 * 1000000
        self.days = args.days
        self.sensors = SENSORS[:max(1, min(args.sensors, len(SENSORS)))]
        self.msg_counter = {}
        self.msg_base = 0
        self.new_pack(self.start_us)
        alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        self.msg_pad = {x[0]: "".join(self.rnd.choice(alnum) for _ in range(19 - len(x[2])))
                        for x in self.sensors}
        self.helo_cache = {}
        self._make_hosts(args.ips)
        self._make_campaigns()

    # --- population -------------------------------------------------------------------------

    def _ip(self, first):
        r = self.rnd
        return f"{first}.{ri(0, 255)}.{ri(0, 255)}.{ri(1, 254)}"

    def _pool(self, n, countries, listed_p, windows=None):
        """_pool - n hosts from the given countries (weights from GEO), Zipf-weighted use"""
        ccs = list(countries)
        w = [GEO[c][0] for c in ccs]
        hosts = []
        for cc in self.rnd.choices(ccs, weights=w, k=n):
            ip = self._ip(self.rnd.choice(GEO[cc][4]))
            while ip in self.seen_ips:
                ip = self._ip(self.rnd.choice(GEO[cc][4]))
            self.seen_ips.add(ip)
            share = GEO[cc][5] if windows is None else windows
            hosts.append(Host(self.rnd, ip, cc, share, listed_p))
        cum = list(itertools.accumulate(1.0 / (i + 1) ** 0.8 for i in range(n)))
        return hosts, cum

    def _make_hosts(self, total):
        self.seen_ips = set()
        allc = list(GEO)
        self.pools = {
            "spam": self._pool(int(total * 0.62), allc, 0.6),
            "scan": self._pool(int(total * 0.06), ["US", "NL", "DE", "CN", "RU"], 0.25, 0.05),
            "helo": self._pool(int(total * 0.12), allc, 0.4),
            "auth": self._pool(int(total * 0.10), ["CN", "RU", "BR", "VN", "IN", "UA", "TR",
                                                   "US", "NL"], 0.5),
            "recon": self._pool(int(total * 0.05), allc, 0.3),
            "harvest": self._pool(int(total * 0.04), allc, 0.7),
        }
        probers = []
        for ip in SEED_RELAY_IPS:
            self.seen_ips.add(ip)
            probers.append(Host(self.rnd, ip, "TW", 1.0, 1.0, SEED_RELAY_CITY.get(ip, "Taipei")))
        for h in probers:  # the study: all Windows XP SP1
            h.os = h.os.replace('"os_flavor":"7 or 8"', '"os_flavor":"XP"').replace(
                '"os_flavor":"NT kernel"', '"os_flavor":"XP"')
        tw, _ = self._pool(max(10, int(total * 0.006)), ["TW"], 0.9, 0.95)
        other, _ = self._pool(max(10, int(total * 0.004)), ["CN", "US", "RU", "BR"], 0.6)
        self.probers = probers + tw
        self.other_probers = other

    def _make_campaigns(self):
        r = self.rnd
        self.campaigns = []
        for i in range(150):
            start = r.uniform(0, max(0.5, self.days - 1))
            length = min(self.days - start, r.uniform(0.5, 8))
            self.campaigns.append({
                "subject": r.choice(SPAM_SUBJECTS), "body": r.choice(SPAM_BODIES),
                "start": start, "len": length, "mailer": r.choice(XMAILERS),
                "dom": f"{r.choice(WORDS)}{r.choice(WORDS)}.{r.choice(TLDS)}",
                "attach": r.random() < 0.15, "html": r.random() < 0.4,
                "rcpts": r.choice((1, 1, 1, 1, 2, 3, 5, 10)), "txs": r.choice((1, 1, 1, 2, 3)),
            })
        self.camp_cum = list(itertools.accumulate(1.0 / (i + 1) ** 0.9 for i in range(150)))

    def new_pack(self, us):
        """new_pack - a pack file as a store started at us would name it"""
        self.pack = "bodies/pack/" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(us // 1000000)) \
            + ".pack"
        self.pack_off = 0
        self.packed = {}

    def pick(self, pool):
        hosts, cum = self.pools[pool] if isinstance(pool, str) else pool
        return hosts[bisect.bisect(cum, self.rnd.random() * cum[-1])]

    def msgid(self, sensor):
        """msgid - Exchange style: NetBIOS name, random padding to 19, 8-hex counter"""
        n = self.msg_counter.get(sensor[0], self.msg_base) + 1
        self.msg_counter[sensor[0]] = n
        return f"{sensor[2]}{self.msg_pad[sensor[0]]}{n:08X}"

    def body_where(self, digest, size):
        """body_where - the store's body fields: a pack record up to 64 KiB, else a file"""
        if size > PACK_BODY_MAX:
            return f'"body_path":"bodies/{digest[:2]}/{digest[2:4]}/{digest}.eml"'
        got = self.packed.get(digest)
        if got is None:
            # "RTB1 <sha256> <len>\n", the bytes, "\n"; a body already packed is not repeated
            off = self.pack_off + 5 + 64 + 1 + len(str(size)) + 1
            self.pack_off = off + size + 1
            got = f'"body_path":"{self.pack}","body_offset":{off},"body_len":{size}'
            self.packed[digest] = got
        return got

    def helo_enrich(self, name, ip):
        """helo_enrich - the helo part of a dns enrichment event for a name from ip"""
        key = (name, ip)
        b = self.helo_cache.get(key)
        if b is not None:
            return b
        if name.startswith("[") or name.replace(".", "").isdigit():
            b = f',"helo":{{"name":{ESC(name)},"status":"skipped","lookup_us":0}}'
        elif "." not in name or name.endswith((".local", ".localdomain", ".lan")):
            b = f',"helo":{{"name":{ESC(name)},"status":"nxdomain","resolves":false,' \
                f'"addrs":[],"matches_src":false,"fcrdns":false,"cached":false,"lookup_us":24000}}'
        else:
            # From the name, not the generator: the cache must not make chunks differ.
            h = zlib.crc32(name.encode())
            addr = f"{h % 223 + 1}.{(h >> 8) & 255}.{(h >> 16) & 255}.{(h >> 24) % 254 + 1}"
            match = (h >> 4) % 10 == 0
            b = (f',"helo":{{"name":{ESC(name)},"status":"ok","resolves":true,'
                 f'"addrs":["{ip if match else addr}"],"matches_src":{"true" if match else "false"},'
                 f'"fcrdns":false,"cached":false,"lookup_us":41000}}')
        if len(self.helo_cache) < 200000:
            self.helo_cache[key] = b
        return b

    # --- names ------------------------------------------------------------------------------

    def rand_label(self, n):
        return "".join(self.rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))

    def helo_name(self, host, sensor):
        """helo_name - the kinds of HELO/EHLO arguments the study saw, in realistic shares"""
        r = self.rnd
        x = r.random()
        if x < 0.22:
            return f"{r.choice(('mail', 'smtp', 'mx', 'mx1', 'relay', 'web'))}." \
                   f"{r.choice(WORDS)}{r.choice(WORDS)}.{r.choice(TLDS)}"
        if x < 0.40:
            return f"{r.choice(('user', 'premier', 'msg', 'host', 'pc', 'win'))}-" \
                   f"{self.rand_label(ri(6, 11))}"
        if x < 0.52:
            return f"{r.choice(('mta', 'mail', 'smtp', 'srv', 'mx'))}{ri(1, 250)}"
        if x < 0.62:
            return f"[{host.ip}]"
        if x < 0.66:
            return f"[{ri(10, 192)}.{ri(0, 255)}.{ri(0, 255)}.{ri(1, 254)}]"
        if x < 0.72:
            return host.ip
        if x < 0.78:
            return r.choice(("localhost", "localhost.localdomain", "LOCALHOST"))
        if x < 0.82:
            return r.choice((sensor[1], sensor[3], f"[{sensor[3]}]", sensor[2]))
        if x < 0.88 and host.ptr:
            return host.ptr
        if x < 0.92:
            return self.rand_label(ri(8, 14)).upper()
        if x < 0.95:
            return r.choice(("WIN-" + self.rand_label(11).upper(), "DESKTOP-" + self.rand_label(7).upper()))
        return f"{r.choice(FIRST)}-pc"

    def fill(self, tpl, dst_ip=""):
        r = self.rnd
        w = r.choice(WORDS)
        return tpl.format(
            n=ri(100, 99999), pct=r.choice((40, 50, 60, 70, 75, 80, 85, 90)),
            id=self.rand_label(8).upper(), d=ri(2, 30), First=r.choice(FIRST).title(),
            first=r.choice(FIRST), Last=r.choice(LAST).title(), Word=w.title(), word=w,
            TICK="".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4)),
            date=f"{ri(1, 28)}/{ri(1, 12)}", city=r.choice(("Paris", "Berlin", "London", "Tokyo", "Austin")),
            dom=r.choice(FREEMAIL), tld=r.choice(TLDS), ip=dst_ip)

    def person_addr(self, dom=None):
        r = self.rnd
        return f"{r.choice(FIRST)}{r.choice(('.', '_', ''))}{r.choice(LAST)}" \
               f"{ri(1, 99) if r.random() < 0.4 else ''}@{dom or r.choice(FREEMAIL)}"

    # --- session kinds ----------------------------------------------------------------------

    def s_scan(self, s, arg):
        r = self.rnd
        x = r.random()
        if x < 0.62:  # banner grab: connect, read the banner, leave
            s.close("client_closed", linger=ri(1000, 2000000))
            return
        if x < 0.80:  # nmap -sV / smtp-commands style
            if not s.helo("EHLO", r.choice(("nmap.scanme.org", "example.com", "scanner",
                                           "censys.io", "localhost"))):
                return
            if r.random() < 0.5:
                s.simple("HELP", "HELP", 214, R_HELP, gap=ri(300, 5000))
            s.close("client_closed")
            return
        if x < 0.90:  # HTTP on port 25
            line = r.choice(("GET / HTTP/1.0", "GET / HTTP/1.1", "HEAD / HTTP/1.0",
                             "GET /favicon.ico HTTP/1.1"))
            s.wait(1000, 30000)
            s.signal("non_smtp_http", line)
            s.cmd(line, "", gap=0)
            if s.reply(500, R_UNKNOWN):
                s.cmd("", "", gap=40)
                s.reply(500, R_UNKNOWN)
            s.close("client_closed")
            return
        if x < 0.95:  # QUIT straight away
            s.quit()
            return
        s.close("idle_timeout", linger=r.choice((300, 600)) * 1000000)  # waits for nothing

    def s_helo(self, s, arg):
        r = self.rnd
        verb = "EHLO" if r.random() < 0.6 else "HELO"
        if not s.helo(verb, self.helo_name(s.host, s.sensor), lower=r.random() < 0.08):
            return
        if r.random() < 0.15 and verb == "EHLO":
            s.helo("HELO", s.helo_name)
        if r.random() < 0.2:
            s.simple("NOOP", "NOOP", 250, R_NOOP)
        if r.random() < 0.7:
            s.quit()
        else:
            s.close("client_closed")

    def s_spam(self, s, c):
        r = self.rnd
        pipelining = r.random() < 0.35
        verb = "EHLO" if r.random() < 0.55 else "HELO"
        if not s.helo(verb, self.helo_name(s.host, s.sensor), lower=r.random() < 0.1):
            return
        space = r.random() < 0.3
        for txn in range(c["txs"]):
            env_from = self.person_addr(c["dom"] if r.random() < 0.5 else None)
            if not s.mail(env_from, space=space, gap=ri(200, 3000) if pipelining else None):
                return
            if pipelining and verb == "HELO":
                s.signal("pipelining_unadvertised", "MAIL")
            n = max(1, int(c["rcpts"] * r.uniform(0.5, 1.5)))
            for _ in range(n):
                if not s.rcpt(self.person_addr(), space=space,
                              gap=ri(200, 3000) if pipelining else None):
                    return
            if r.random() < 0.06:  # left before DATA
                s.close("client_closed")
                return
            hdr_from = f"\"{r.choice(FIRST).title()} {r.choice(LAST).title()}\" " \
                       f"<{self.person_addr(c['dom'])}>"
            to_addr = s.rcpt_list[0] if r.random() < 0.5 else self.person_addr()
            subj = self.fill(c["subject"])
            body = self.fill(c["body"])
            hdr = {"hdr_from": hdr_from, "hdr_to": to_addr, "hdr_subject": subj,
                   "hdr_date": Clock.banner_date(s.start + s.t)[:-6] + " -0800",
                   "hdr_message_id": f"<{self.rand_label(12)}@{c['dom']}>",
                   "hdr_x_mailer": c["mailer"] or None}
            if c["attach"]:
                parts = [("multipart/mixed",), ("text/plain",),
                         ("application/zip", f"{r.choice(('invoice', 'document', 'photo', 'scan'))}"
                                             f"_{ri(1000, 9999)}.zip")]
            elif c["html"]:
                parts = [("multipart/alternative",), ("text/plain",), ("text/html",)]
            else:
                parts = []
            size = len(body) + 400 + (ri(20000, 200000) if c["attach"] else ri(0, 3000))
            s.data(hdr, body, parts, size)
            if txn + 1 < c["txs"]:
                s.rset()
        if r.random() < 0.8:
            s.quit()
        else:
            s.close("client_closed")

    def s_probe(self, s, fam):
        r = self.rnd
        ip = s.sensor[3]
        if fam == "webscan":
            if not s.helo("HELO", ip):
                return
            box = r.choice(PROBE_DROPBOXES["webscan"])
            s.mail(box, space=True)
            s.rcpt(box, space=True)
            subj = f"Super webscan open relay check succeded, hostname = {ip}"
            s.data({"hdr_subject": subj}, "", [], len(subj) + 11)
            s.quit()
            return
        if fam == "bc":
            if not s.helo("HELO", r.choice((ip, self.helo_name(s.host, s.sensor)))):
                return
            s.mail(self.person_addr())
            s.rcpt(r.choice(PROBE_DROPBOXES["bc"]))
            hdr = {"hdr_from": self.person_addr(), "hdr_to": self.person_addr(),
                   "hdr_subject": f"BC_{ip}", "hdr_date": Clock.banner_date(s.start)[:-6] + " GMT"}
            s.data(hdr, "", [], ri(180, 260))
            s.quit()
            return
        if fam == "proxy":
            if not s.helo("EHLO", self.helo_name(s.host, s.sensor)):
                return
            box = r.choice(PROBE_DROPBOXES["proxy"])
            s.mail(box)
            s.rcpt(box)
            body = f"relay test ok {ip}:25 {s.host.ip} {ri(10 ** 8, 10 ** 9)}\r\n"
            s.data({"hdr_from": box, "hdr_to": box, "hdr_subject": f"Relay test {ip}"}, body, [],
                   len(body) + 120)
            s.quit()
            return
        if fam == "routing":
            if not s.helo("HELO", r.choice(("relaytest", "rlytest.example.net", f"[{s.host.ip}]"))):
                return
            victim, vdom = "relaytest", r.choice(FREEMAIL)
            tricks = [(f"{victim}%{vdom}@[{ip}]", ("percent", "ip_literal")),
                      (f"\"{victim}@{vdom}\"", ("quoted",)),
                      (f"@{s.sensor[1]}:{victim}@{vdom}", ("source_route",)),
                      (f"{vdom}!{victim}", ("bang", "no_domain")),
                      (f"{victim}@{vdom}", ())]
            r.shuffle(tricks)
            for i, (addr, flags) in enumerate(tricks[:ri(2, 5)]):
                if not s.mail(f"{victim}@{vdom}"):
                    return
                if not s.rcpt(addr, flags=flags):
                    return
                if i == 0:
                    body = f"Relay test from {s.host.ip} to {ip}\r\n"
                    s.data({"hdr_subject": "Relay test", "hdr_to": f"{victim}@{vdom}"}, body, [],
                           len(body) + 90)
                if not s.rset():
                    return
            s.quit()
            return
        # "test": a plain test mail naming the host in the body
        if not s.helo("EHLO", self.helo_name(s.host, s.sensor)):
            return
        box = r.choice(PROBE_DROPBOXES["test"])
        s.mail(self.person_addr())
        s.rcpt(box)
        body = f"hostname={ip} port=25 time={ri(10 ** 9, 2 * 10 ** 9)}\r\n"
        s.data({"hdr_subject": r.choice(("test", "Test", "smtp test", "check")), "hdr_to": box},
               body, [], len(body) + 150)
        s.quit()

    def s_auth(self, s, arg):
        r = self.rnd
        if not s.helo("EHLO", self.helo_name(s.host, s.sensor), lower=r.random() < 0.2):
            return
        dom = s.sensor[1].split(".", 1)[1]
        tries = r.choice((1, 1, 2, 3, 5, 10, 10, 10))
        fast = r.random() < 0.5
        gap = (2000, 40000) if fast else (200000, 2000000)
        for _ in range(tries):
            mech = r.random()
            user = r.choice(AUTH_USERS)
            if r.random() < 0.3:
                user = f"{user}@{dom}"
            pw = r.choice(AUTH_PASSWORDS).format(user=user.split("@")[0])
            if mech < 0.85:
                if r.random() < 0.5:
                    s.cmd("AUTH LOGIN", "AUTH", gap=ri(*gap))
                    s.reply(334, "334 VXNlcm5hbWU6")
                    s.cmd(b64(user), "", auth=True, gap=ri(*gap))
                else:
                    s.cmd("AUTH LOGIN " + b64(user), "AUTH", gap=ri(*gap))
                s.reply(334, "334 UGFzc3dvcmQ6")
                s.cmd(b64(pw), "", auth=True, gap=ri(*gap))
                s.auths += 1
                s.ev("relaytrap.auth", f',"mechanism":"LOGIN","supported":true,"outcome":"failed",'
                                       f'"username":{ESC(user)},"password":{ESC(pw)}')
                ok = s.reply(535, R_AUTH_FAIL)
            elif mech < 0.95:
                s.cmd("AUTH PLAIN " + b64(f"\0{user}\0{pw}"), "AUTH", gap=ri(*gap))
                s.auths += 1
                s.ev("relaytrap.auth", ',"mechanism":"PLAIN","supported":false,'
                                       '"outcome":"unsupported"')
                ok = s.reply(504, "504 5.7.4 Unrecognized authentication type")
            else:
                s.cmd("AUTH NTLM", "AUTH", gap=ri(*gap))
                s.reply(334, "334 NTLM supported")
                s.cmd("*", "", auth=True, gap=ri(*gap))
                s.auths += 1
                s.ev("relaytrap.auth", ',"mechanism":"NTLM","supported":true,"outcome":"aborted"')
                ok = s.reply(501, "501 5.7.0 Authentication aborted")
            if not ok:
                return
        if r.random() < 0.5:
            s.quit()
        else:
            s.close("client_closed")

    def s_recon(self, s, arg):
        r = self.rnd
        if r.random() < 0.3:  # MAIL before HELO
            if not s.mail(self.person_addr()):
                return
        if r.random() < 0.15:
            s.signal("pre_greeting", "EHLO")
        if not s.helo(r.choice(("EHLO", "HELO")), self.helo_name(s.host, s.sensor),
                      lower=r.random() < 0.3):
            return
        cmds = [("VRFY root", "VRFY", 252, f"252 2.1.5 Cannot VRFY user, but will take message for "
                                           f"<root@{s.sensor[1]}>"),
                ("VRFY admin", "VRFY", 252, f"252 2.1.5 Cannot VRFY user, but will take message for "
                                            f"<admin@{s.sensor[1]}>"),
                ("EXPN root", "EXPN", 500, R_UNKNOWN), ("HELP", "HELP", 214, R_HELP),
                ("NOOP", "NOOP", 250, R_NOOP), ("RSET", "RSET", 250, R_RSET),
                ("STARTTLS", "STARTTLS", 554, "554 5.7.3 Unable to initialize security subsystem"),
                ("TURN", "TURN", 530, "530 5.7.0 Authentication required"),
                ("XEXCH50 1 2", "", 500, R_UNKNOWN), ("X-LINK2STATE", "", 500, R_UNKNOWN),
                ("SITE EXEC", "", 500, R_UNKNOWN), ("USER anonymous", "", 500, R_UNKNOWN),
                ("ETRN example.com", "ETRN", 250, "250 2.0.0 Queuing for node example.com started")]
        for line, verb, code, text in r.sample(cmds, ri(1, 6)):
            if not s.simple(line, verb, code, text):
                return
        s.quit() if r.random() < 0.6 else s.close("client_closed")

    def s_harvest(self, s, arg):
        r = self.rnd
        if not s.helo("HELO", self.helo_name(s.host, s.sensor)):
            return
        dom = r.choice(FREEMAIL)
        if not s.mail(self.person_addr()):
            return
        for _ in range(ri(3, 25)):
            user = r.choice((r.choice(FIRST), f"{r.choice(FIRST)}.{r.choice(LAST)}",
                             f"{r.choice(FIRST)[0]}{r.choice(LAST)}"))
            if not s.rcpt(f"{user}@{dom}", gap=ri(500, 30000)):
                return
        s.rset()
        s.quit()

    def plan(self, kind):
        """plan - (start_us, kind, arg) of one session: campaigns and probers fix their own"""
        r = self.rnd
        if kind == "spam":
            ci = bisect.bisect(self.camp_cum, r.random() * self.camp_cum[-1])
            c = self.campaigns[ci]
            start = self.start_us + int((c["start"] + r.random() * c["len"]) * 86400e6)
            return min(start, self.start_us + self.span_us - 1), kind, ci
        start = diurnal(r, self.start_us, self.span_us)
        if kind == "probe":
            return start, kind, r.choices(("webscan", "bc", "proxy", "routing", "test"),
                                          weights=(45, 20, 15, 10, 10))[0]
        return start, kind, None

    def session(self, start_us, kind, arg):
        """session - the events of one session as JSON lines"""
        r = self.rnd
        sensor = r.choice(self.sensors)
        if kind == "probe" and arg in ("webscan", "bc"):
            host = self.probers[min(int(r.expovariate(0.15)), len(self.probers) - 1)]
        elif kind == "probe":
            host = r.choice(self.other_probers)
        else:
            host = self.pick(kind)
        s = Session(self, start_us, host, sensor)
        s.connect()
        getattr(self, "s_" + kind)(s, self.campaigns[arg] if kind == "spam" else arg)
        if not s.closed:
            s.close("client_closed")
        return s.out


def diurnal(rnd, start_us, span_us):
    """diurnal - a time in the span, busier in the (UTC) afternoon and evening"""
    while True:
        t = rnd.random() * span_us
        hour = (t / 3600e6) % 24
        if rnd.random() < 0.55 + 0.45 * math.sin((hour - 9) / 24 * 2 * math.pi):
            return start_us + int(t)


CHUNK = 5000
GEN = None


def gen_chunk(job):
    """gen_chunk - the JSON lines of one chunk of the plan and how many events they are"""
    i, plan = job
    GEN.rnd = reseed(GEN.seed * 1000003 + i)
    GEN.msg_base = i << 20  # queue id counters stay unique across chunks
    GEN.msg_counter = {}
    GEN.new_pack(plan[0][0])  # each chunk as one store run: a pack of its own
    lines = []
    for start, kind, arg in plan:
        lines.extend(GEN.session(start, kind, arg))
    return "".join(lines), len(lines)


class _Serial:
    """_Serial - the Pool interface without processes, for -j 1"""

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    @staticmethod
    def imap(fn, it):
        return map(fn, it)


def main():
    ap = argparse.ArgumentParser(description="write a realistic relaytrap events.jsonl")
    ap.add_argument("-n", "--sessions", type=int, default=1000000)
    ap.add_argument("-o", "--output", default="-", help="file to write, - for stdout")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--ips", type=int, default=50000, help="about this many source addresses")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", default="2026-10-01", help="first day (UTC), YYYY-MM-DD")
    ap.add_argument("--sensors", type=int, default=3, help=f"1-{len(SENSORS)} honeypots")
    ap.add_argument("-j", "--jobs", type=int, default=1,
                    help="worker processes (default 1: more cost twice the CPU in passing "
                         "text back, worth it only on idle cores)")
    ap.add_argument("--no-enrich", action="store_true", help="no relaytrap.enrich events")
    args = ap.parse_args()
    if args.sessions < 1 or args.days < 1 or args.ips < 100:
        ap.error("need --sessions >= 1, --days >= 1, --ips >= 100")
    t0 = time.monotonic()
    global GEN
    GEN = Gen(args)
    kinds = [k for k, _ in Gen.KINDS]
    weights = [w for _, w in Gen.KINDS]
    # Decide every session's start first (a few bytes each), then build and write in order.
    plan = [GEN.plan(k) for k in GEN.rnd.choices(kinds, weights=weights, k=args.sessions)]
    plan.sort(key=lambda p: p[0])
    chunks = [(i, plan[o:o + CHUNK]) for i, o in enumerate(range(0, len(plan), CHUNK))]
    del plan
    out = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")
    nev = nbytes = 0
    jobs = max(1, args.jobs)
    # Workers are forked after the population is built, so every chunk sees the same hosts
    # and campaigns; each chunk reseeds from (seed, chunk) so the output does not depend on -j.
    with multiprocessing.get_context("fork").Pool(jobs) if jobs > 1 else _Serial() as pool:
        for text, n in pool.imap(gen_chunk, chunks):
            nev += n
            nbytes += len(text.encode())
            out.write(text)
    out.flush()
    if out is not sys.stdout:
        out.close()
    print(f"gen_capture: {args.sessions} sessions, {nev} events, {nbytes} bytes, "
          f"{time.monotonic() - t0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
