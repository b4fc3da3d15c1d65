#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""seed.py - write the starting corpus of every fuzz target into tests/fuzz/corpus/<target>/.

The inputs are the SMTP dialogues of the end-to-end tests (tests/e2e/run.py: smtplib, swaks,
nmap probes, raw sockets), the 2009 seed study's dialogue, the shipped persona files and example
configuration, PROXY v1/v2 headers, NTLM messages, and, for the store, the frame streams those
dialogues produce (written by replaying the session corpus with RT_FUZZ_FRAMES set).

usage: tests/fuzz/seed.py [--replay BUILD/tests/fuzz/fuzz_session]
Run from the repository root. Existing files of the same name are overwritten; files the fuzzer
added (sha1 names) are left alone.
"""
import argparse
import base64
import os
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")

# --- SMTP dialogues (what the client sends) ---------------------------------------------------

def ntlm_type1(domain=b"", workstation=b"", flags=0xA2088207):
    """NEGOTIATE as Windows clients send it; names supplied (OEM) when given"""
    if domain:
        flags |= 0x1000
    if workstation:
        flags |= 0x2000
    off = 32
    hdr = b"NTLMSSP\0" + struct.pack("<II", 1, flags)
    hdr += struct.pack("<HHI", len(domain), len(domain), off)
    hdr += struct.pack("<HHI", len(workstation), len(workstation), off + len(domain))
    return hdr + domain + workstation


def ntlm_type3(user, domain, ws, lm, nt, unicode=True, flags=0xA2888205):
    """AUTHENTICATE with the 64-byte header (flags, no version)"""
    enc = (lambda s: s.encode("utf-16le")) if unicode else (lambda s: s.encode("latin-1"))
    if not unicode:
        flags = (flags & ~1) | 2
    blobs = [lm, nt, enc(domain), enc(user), enc(ws), b""]
    off, payload, fields = 64, b"", b""
    for b in blobs:
        fields += struct.pack("<HHI", len(b), len(b), off + len(payload))
        payload += b
    return b"NTLMSSP\0" + struct.pack("<I", 3) + fields + struct.pack("<I", flags) + payload


NT_V1 = bytes(range(24))
LM_V1 = bytes(range(100, 124))
# NTLMv2: 16-byte proof, then the blob (signature, reserved, time, client challenge, AV pairs)
NT_V2 = (bytes(range(16)) + b"\x01\x01\0\0\0\0\0\0" + b"\x00\x80\x3e\xd5\xde\xb1\xd8\x01"
         + bytes(8) + b"\0\0\0\0" + b"\x02\x00\x0e\x00" + "EXAMPLE".encode("utf-16le")
         + b"\0\0\0\0" + b"\0\0\0\0")

b64 = lambda b: base64.b64encode(b)

T1 = b64(ntlm_type1())
T1_NAMES = b64(ntlm_type1(b"WORKGROUP", b"BOTBOX"))
T3_V1 = b64(ntlm_type3("jdoe", "WORKGROUP", "BOTBOX", LM_V1, NT_V1))
T3_V2 = b64(ntlm_type3("Administrator", "CONTOSO", "WS01", bytes(24), NT_V2))
T3_OEM = b64(ntlm_type3("guest", "DOM", "PC", LM_V1, NT_V1, unicode=False))

MSG = b"Subject: one\r\n\r\nhello\r\n"

DIALOGUES = {
    # smtplib (lower-case verbs, as Python sends them)
    "e2e-smtplib-send": b"ehlo [127.0.0.1]\r\nmail FROM:<alice@sender.example> size=24\r\n"
                        b"rcpt TO:<bob@rcpt.example>\r\ndata\r\n" + MSG + b".\r\nquit\r\n",
    "e2e-smtplib-several": b"ehlo [127.0.0.1]\r\n" + b"".join(
        b"mail FROM:<s%d@a.example>\r\nrcpt TO:<r%d@b.example>\r\nrcpt TO:<x%d@c.example>\r\n"
        b"data\r\nSubject: m\r\n\r\nbody %d\r\n.\r\nrset\r\n" % (i, i, i, i) for i in range(3))
        + b"quit\r\n",
    "e2e-smtplib-auth": b"ehlo [127.0.0.1]\r\nAUTH LOGIN " + b64(b"admin") + b"\r\n"
                        + b64(b"sekrit-pw") + b"\r\nAUTH PLAIN " + b64(b"\0root\0toor")
                        + b"\r\nquit\r\n",
    "e2e-smtplib-helo-only": b"helo [127.0.0.1]\r\nmail FROM:<>\r\nrcpt TO:<postmaster>\r\n"
                             b"data\r\n.\r\nquit\r\n",
    # raw sockets
    "e2e-banner-ehlo": b"EHLO client.e2e.example\r\nQUIT\r\n",
    "e2e-pipelined": b"EHLO pipe.example\r\nMAIL FROM:<p@pipe.example>\r\nRCPT TO:<a@x.example>\r\n"
                     b"RCPT TO:<b@x.example>\r\nDATA\r\nSubject: p\r\n\r\npipelined\r\n.\r\nQUIT\r\n",
    "e2e-scripted-relay": b"EHLO scripted.example\r\nMAIL FROM:<envelope@sender.example>\r\n"
                          b"RCPT TO:<user%other.example@relay.example>\r\n"
                          b"RCPT TO:<host1!host2!user>\r\n"
                          b"RCPT TO:<@hop1.example,@hop2.example:user@final.example>\r\n"
                          b"RCPT TO:<\"quoted local\"@q.example>\r\nDATA\r\n"
                          b"From: Header Person <header@other.example>\r\nTo: x@y.example\r\n"
                          b"Subject: scripted\r\n\r\n..leading dot line\r\n.\tdot tab\r\nlast\r\n"
                          b".\r\nQUIT\r\n",
    "e2e-long-line": b"MAIL FROM:<" + b"A" * 5000 + b"\r\nNOOP\r\nQUIT\r\n",
    "e2e-binary-garbage": bytes(range(256)) * 2 + b"\r\n\x00\xff\xfe\r\nQUIT\r\n",
    "e2e-tls-client-hello": bytes.fromhex("16030100a5010000a10303") + bytes(32)
                            + bytes.fromhex("000004c02fc030010000740000001300110000")
                            + b"mail.e2e.example" + bytes(40),
    "e2e-http-request": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: e2e\r\n\r\n",
    "e2e-close-mid-data": b"HELO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n"
                          b"Subject: cut\r\n\r\npartial body\r\n",
    "e2e-bad-commands": b"".join(b"XYZZY%d\r\n" % i for i in range(25)),
    "e2e-bare-lf": b"HELO lf.example\nMAIL FROM:<a@b>\nRCPT TO:<c@d>\nDATA\nbody\n.\nQUIT\n",
    "e2e-pipelining-unadvertised": b"HELO bot.example\r\nMAIL FROM:<a@b.example>\r\n"
                                   b"RCPT TO:<c@d.example>\r\nQUIT\r\n",
    "e2e-noops": b"EHLO noop.example\r\n" + b"NOOP\r\n" * 40 + b"QUIT\r\n",
    "e2e-untrusted-proxy-line": b"PROXY TCP4 118.165.91.55 127.0.0.1 50123 25\r\nEHLO x\r\nQUIT\r\n",
    # swaks
    "e2e-swaks-send": b"EHLO relaytrap-e2e\r\nMAIL FROM:<swaks@sender.example>\r\n"
                      b"RCPT TO:<victim@example.com>\r\nDATA\r\nDate: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
                      b"To: victim@example.com\r\nFrom: swaks@sender.example\r\n"
                      b"Subject: test Mon, 01 Jan 2024 00:00:00 +0000\r\nMessage-Id: <1@x>\r\n"
                      b"X-Mailer: swaks v20201014.0 jetmore.org/john/code/swaks/\r\n\r\n"
                      b"This is a test mailing\r\n\r\n.\r\nQUIT\r\n",
    "e2e-swaks-auth-login": b"EHLO x\r\nAUTH LOGIN\r\n" + b64(b"jdoe") + b"\r\n" + b64(b"Winter2009")
                            + b"\r\nQUIT\r\n",
    "e2e-swaks-auth-ntlm": b"EHLO x\r\nAUTH NTLM\r\n" + T1 + b"\r\n" + T3_V1 + b"\r\nQUIT\r\n",
    "ntlm-v2-named": b"EHLO x\r\nAUTH NTLM " + T1_NAMES + b"\r\n" + T3_V2 + b"\r\nQUIT\r\n",
    "ntlm-oem": b"EHLO x\r\nAUTH NTLM\r\n" + T1 + b"\r\n" + T3_OEM + b"\r\n*\r\nQUIT\r\n",
    "auth-cram": b"EHLO x\r\nAUTH CRAM-MD5\r\n" + b64(b"user 0123456789abcdef0123456789abcdef")
                 + b"\r\nAUTH LOGIN\r\n*\r\nAUTH FOO\r\nAUTH\r\nQUIT\r\n",
    "e2e-swaks-quit-after-rcpt": b"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nQUIT\r\n",
    # nmap -sV: the SMTP probe, then generic probes sent to an unknown banner
    "e2e-nmap-smtp": b"EHLO nmap.scanme.org\r\nHELP\r\n",
    "e2e-nmap-generic": b"\r\n\r\n",
    "e2e-nmap-options": b"OPTIONS / HTTP/1.0\r\n\r\nOPTIONS / RTSP/1.0\r\n\r\n",
    # BDAT and the rest of the command table
    "bdat": b"EHLO x\r\nMAIL FROM:<a@b> BODY=BINARYMIME\r\nRCPT TO:<c@d>\r\nBDAT 5\r\nhello"
            b"BDAT 3 LAST\r\nabcBDAT 0 LAST\r\nBDAT x\r\nQUIT\r\n",
    "commands": b"HELO\r\nEHLO\r\nVRFY admin\r\nVRFY a@b.c\r\nEXPN staff\r\nETRN example.org\r\n"
                b"TURN\r\nATRN\r\nSTARTTLS\r\nHELP DATA\r\nRSET\r\nNOOP x\r\nXEXCH50 1 2\r\n"
                b"X-LINK2STATE\r\nMAIL FROM:\r\nMAIL FROM:<a@b>\r\nMAIL FROM:<c@d>\r\n"
                b"RCPT TO:\r\nDATA\r\nQUIT\r\n",
    # the 2009 seed study: its client dialogue and the open-relay scanner it logged
    "seed-2009-dialogue": b"EHLO localhost\r\nMAIL FROM: from@domain.com\r\nRCPT TO: to@domain.com\r\n"
                          b"DATA\r\nFrom: from@domain.com\r\nTo: realTO@domain.com\r\n"
                          b"Subject: BC_82.155.126.2\r\nDate: Sun, 07 Dec 08 19:24:09 GMT\r\n"
                          b"Hello, I'm a spammer!\r\n.\r\nQUIT\r\n",
    "seed-2009-relay-scanner": b"".join(
        b"HELO 82.155.248.223\r\nMAIL FROM:%s\r\nRCPT TO:\r\nDATA\r\n"
        b"Subject: Super webscan open relay check succeded, hostname = 82.155.248.223\r\n"
        % sp for sp in (b"", b" ", b"")),
    "seed-2009-helos": b"EHLO user-3i39rqqo1r\r\nEHLO premier-ksxhhv6\r\nEHLO mta101\r\n"
                       b"EHLO msg-g09pmirpcam\r\n",
}

# (name suffix, mode byte, 4 read sizes): persona/limits/ending variants (fuzz_session.c)
VARIANTS = [
    ("", 0x00, bytes([255, 255, 255, 255])),
    ("-bytewise", 0x20, bytes([0, 1, 2, 6])),
]
EXTRA_VARIANTS = {
    "e2e-smtplib-send": [("-honeyd", 0x01, bytes([40, 3, 17, 255])),
                         ("-postfix-strict", 0x46, bytes([255, 0, 255, 9])),
                         ("-small-limits", 0x88, b"\0\0\0\0")],
    "e2e-bare-lf": [("-strict", 0x04, bytes([255] * 4)), ("-honeyd", 0x81, b"\0\0\0\0")],
    "e2e-noops": [("-small-limits", 0x88, b"\0\0\0\0")],
    "e2e-pipelined": [("-pregreet-shutdown", 0xf0, bytes([7, 255, 3, 255]))],
    "e2e-close-mid-data": [("-lifetime", 0x40, bytes([255] * 4))],
    "seed-2009-dialogue": [("-honeyd", 0x01, bytes([255] * 4))],
    "bdat": [("-small-limits", 0x08, bytes([3, 3, 3, 3]))],
}

# --- the other targets --------------------------------------------------------------------------

ADDR = {
    "brackets": b"\0<a@b.com>",
    "space-no-brackets": b"\0 a@b.com",
    "params": b"\0<a@b> SIZE=440 BODY=8BITMIME AUTH=<> RET=HDRS ENVID=x123",
    "null": b"\0<>",
    "source-route": b"\0<@hop1.example,@hop2.example:user@final.example>",
    "quoted": b"\0<\"quoted local\"@q.example>",
    "quoted-at": b"\0<\"a@b\"@c>",
    "bang": b"\0<host1!host2!user>",
    "percent": b"\0<user%other.example@relay.example>",
    "ip-literal": b"\0<postmaster@[192.0.2.1]>",
    "no-domain": b"\0<spamtest>",
    "unbalanced": b"\0<a@b",
    "crlf": b"\0 <a@b>\r\n",
    "seed-2009": b"\0 from@domain.com",
    "8bit": b"\0<j\xc3\xb6rg@b\xfccher.example>",
    "params-only": b"\1SIZE=100 BODY=8BITMIME SMTPUTF8 X-FOO=bar",
}

AUTH = {
    "b64-text": b"\0YWRtaW4=",
    "b64-empty": b"\0=",
    "plain": b"\1" + b64(b"\0root\0toor"),
    "plain-authzid": b"\1" + b64(b"admin\0jdoe\0Winter2009"),
    "cram": b"\2" + b64(b"user 0123456789abcdef0123456789abcdef"),
    "ntlm1": b"\3" + ntlm_type1(),
    "ntlm1-names": b"\3" + ntlm_type1(b"WORKGROUP", b"BOTBOX"),
    "ntlm3-v1": b"\4" + ntlm_type3("jdoe", "WORKGROUP", "BOTBOX", LM_V1, NT_V1),
    "ntlm3-v2": b"\4" + ntlm_type3("Administrator", "CONTOSO", "WS01", bytes(24), NT_V2),
    "ntlm3-oem": b"\4" + ntlm_type3("guest", "DOM", "PC", LM_V1, NT_V1, unicode=False),
    "b64": b"\5" + T3_V2,
}


def proxy_v2(cmd, fam, addrs, tlvs=b""):
    body = addrs + tlvs
    return (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x20 | cmd, fam])
            + struct.pack("!H", len(body)) + body)


PROXY = {
    "v1-tcp4": b"PROXY TCP4 118.165.91.55 127.0.0.1 50123 25\r\nEHLO x\r\n",
    "v1-tcp6": b"PROXY TCP6 2001:db8::1 ::1 50123 25\r\n",
    "v1-unknown": b"PROXY UNKNOWN\r\n",
    "v1-unknown-junk": b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n",
    "v2-inet": proxy_v2(1, 0x11, bytes([118, 165, 91, 55, 127, 0, 0, 1]) + struct.pack("!HH", 50123, 25)),
    "v2-inet6": proxy_v2(1, 0x21, bytes(15) + b"\1" + bytes(15) + b"\1" + struct.pack("!HH", 1, 25)),
    "v2-local": proxy_v2(0, 0x00, b""),
    "v2-tlv": proxy_v2(1, 0x11, bytes([192, 0, 2, 1, 192, 0, 2, 2]) + struct.pack("!HH", 1, 2),
                       b"\x01\x00\x02h2" + b"\x04\x00\x00"),
    "v2-unspec": proxy_v2(1, 0x00, b""),
}

CONFIG_SMALL = b"""# a small config with sections
sensor = "sensor-01"
persona = exchange2000
listen = 127.0.0.1:2525
proxy_from = 10.0.0.0/8
proxy_from = 2001:db8::/32
line_max = 4k
max_message_size = 32M
cmd_timeout = 5m
idle_timeout = 10m # comment
session_max = 1h
delay_banner = 250ms
bare_lf = accept
store_bodies = yes
log_level = info

[listener smtp2]
address = ::1
port = 25
persona = honeyd-2009
proxy_protocol = yes

[listener submission]
address = *
port = 587
"""

CONFIG = {
    "small": b"\0" + CONFIG_SMALL,
    "crlf": b"\0" + CONFIG_SMALL.replace(b"\n", b"\r\n"),
    "listen": b"\1" + b"\n".join([b"2525", b"127.0.0.1:2525", b"[::1]:2525",
                                   b"0.0.0.0:25/exchange2000", b"*:0/postfix"]),
    "cidr": b"\2" + b"\n".join([b"10.0.0.0/8", b"192.0.2.7", b"2001:db8::/32", b"::1",
                                 b"::ffff:10.0.0.0/104", b"10.1.2.3/8"]),
    "set": b"\3" + b"\n".join([b"line_max=512", b"max_rcpts=100", b"hostname=mail.example.com",
                                b"netbios=MAIL", b"delay_reply=-1", b"jsonl_rotate=100M",
                                b"bare_lf=strict", b"greet_pause=3s", b"max_per_ip=10"]),
}


MIME = (b"From: a@b.example\r\nTo: c@d.example\r\nSubject: invoice\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed;\r\n\tboundary=\"XXB\"\r\n\r\n"
        b"This is a multi-part message in MIME format.\r\n--XXB\r\n"
        b"Content-Type: text/plain; charset=\"us-ascii\"\r\n\r\nplease see the attachment\r\n"
        b"--XXB\r\nContent-Type: application/octet-stream; name=\"invoice.exe\"\r\n"
        b"Content-Disposition: attachment;\r\n filename=\"invoice.exe\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAA\r\n"
        b"--XXB\r\nContent-Type: APPLICATION/ZIP\r\n"
        b"Content-Disposition: attachment; filename*=UTF-8\'\'r%C3%A9sum%C3%A9.zip\r\n\r\nUEsDBA==\r\n"
        b"--XXB--\r\n")

# (chunk sizes, body) as the store receives bodies: dot-unstuffed message bytes
BODYSCAN = {
    "mime-attachments": bytes([255, 255, 255, 255]) + MIME,
    "mime-bytewise": bytes([0, 1, 2, 3]) + MIME,
    "mime-lf": bytes([9, 70, 3, 255]) + MIME.replace(b"\r\n", b"\n"),
    "seed-2009": bytes([255] * 4) + b"From: from@domain.com\r\nTo: realTO@domain.com\r\n"
                 b"Subject: BC_82.155.126.2\r\nDate: Sun, 07 Dec 08 19:24:09 GMT\r\n"
                 b"Hello, I\'m a spammer!\r\n",
    "relay-check": bytes([255] * 4) + b"Subject: Super webscan open relay check succeded, "
                   b"hostname = 82.155.248.223\r\n\r\n",
    "swaks": bytes([40, 1, 200, 7]) + b"Date: Mon, 01 Jan 2024 00:00:00 +0000\r\nTo: v@example.com\r\n"
             b"From: swaks@sender.example\r\nSubject: test\r\nMessage-Id: <1@x>\r\n"
             b"X-Mailer: swaks v20201014.0 jetmore.org/john/code/swaks/\r\n\r\n"
             b"This is a test mailing\r\n\r\n",
    "no-headers": bytes([255] * 4) + b"\r\nbody only\r\n",
}


def tcp_syn(opts, win=64240, flags=0x02, seq=0x12345678, ack=0, urg=0):
    opts += b"\0" * (-len(opts) % 4)
    return struct.pack("!HHIIBBHHH", 40000, 25, seq, ack, (5 + len(opts) // 4) << 4, flags,
                       win, 0, urg) + opts


def ipv4(tcp, ttl=64, df=True, ip_id=0x1c46, tos=0, ipopts=b""):
    ihl = 5 + len(ipopts) // 4
    return struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, ihl * 4 + len(tcp), ip_id,
                       0x4000 if df else 0, ttl, 6, 0, bytes([192, 0, 2, 7]),
                       bytes([198, 51, 100, 1])) + ipopts + tcp


def ipv6(tcp, hops=64, flow=0x12345):
    return (struct.pack("!IHBB", (6 << 28) | flow, len(tcp), 6, hops)
            + bytes(15) + b"\1" + bytes(15) + b"\2" + tcp)


LINUX_OPTS = b"\x02\x04\x05\xb4\x04\x02\x08\x0a\x00\x01\x02\x03\x00\x00\x00\x00\x01\x03\x03\x07"
WIN_OPTS = b"\x02\x04\x05\xb4\x01\x03\x03\x08\x01\x01\x04\x02"

# byte 0: 0 = a saved SYN, 1 = a p0f.fp file (fuzz_syn.c)
SYN = {
    "linux-ipv4": b"\0" + ipv4(tcp_syn(LINUX_OPTS), ip_id=0),
    "windows-xp": b"\0" + ipv4(tcp_syn(WIN_OPTS, win=65535), ttl=128),
    "linux-ipv6": b"\0" + ipv6(tcp_syn(b"\x02\x04\x05\xa0" + LINUX_OPTS[4:])),
    "ipv4-options": b"\0" + ipv4(tcp_syn(b"\x02\x04\x02\x18"), ipopts=b"\x01\x01\x01\x00", df=False),
    "nmap-like": b"\0" + ipv4(tcp_syn(b"\x03\x03\x0a\x01\x02\x04\x05\xb4\x08\x0a\xff\xff\xff\xff"
                                       b"\x00\x00\x00\x00\x04\x02", win=1024, flags=0xc2, urg=5),
                              ttl=41, df=False, tos=3),
    "bad-option": b"\0" + ipv4(tcp_syn(b"\x02\x04\x05\xb4\x08\x30")),
    "eol-padding": b"\0" + ipv4(tcp_syn(b"\x02\x04\x05\xb4\x00\x00\x01\x00")),
}


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replay", help="a fuzz_session binary to write the store corpus with")
    args = ap.parse_args()

    for name, dialogue in DIALOGUES.items():
        for suffix, mode, splits in VARIANTS + EXTRA_VARIANTS.get(name, []):
            write("session", name + suffix, bytes([mode]) + splits + dialogue)
    for name, data in ADDR.items():
        write("addr", name, data)
    for name, data in SYN.items():
        write("syn", name, data)
    with open(os.path.join(ROOT, "contrib", "p0f.fp"), "rb") as f:
        write("syn", "p0f-shipped", b"\1" + f.read())
    for name, data in BODYSCAN.items():
        write("bodyscan", name, data)
    for name, data in AUTH.items():
        write("auth", name, data)
    for name, data in PROXY.items():
        write("proxy", name, data)
    for name in ("exchange2000", "honeyd-2009", "postfix"):
        with open(os.path.join(ROOT, "personas", name + ".persona"), "rb") as f:
            write("persona", name, f.read())
    write("persona", "variant", b"[persona]\nname = v\nbase = postfix\n[settings]\nttl = 64\n"
          b"date_format = \"%-d %b %Y\"\nmsgid_style = postfix\n[replies]\n"
          b"helo = \"250 $hostname says $helo to $client_ip\"\nehlo = \"250-${hostname}\"\n"
          b"ehlo += \"250-AUTH LOGIN\"\nehlo += \"250 8BITMIME\"\n"
          b"data_ok = \"250 2.0.0 Ok: queued as $msgid ($octets)\"\n"
          b"\0$hostname\r\n250 injected $$ ${helo}")
    with open(os.path.join(ROOT, "contrib", "relaytrap.conf"), "rb") as f:
        write("config", "contrib", b"\0" + f.read())
    for name, data in CONFIG.items():
        write("config", name, data)

    if args.replay:
        sdir = os.path.join(CORPUS, "session")
        for name in sorted(DIALOGUES):
            env = dict(os.environ, RT_FUZZ_FRAMES=os.path.join(CORPUS, "store", "frames-" + name))
            os.makedirs(os.path.join(CORPUS, "store"), exist_ok=True)
            subprocess.run([args.replay, os.path.join(sdir, name)], env=env, check=True,
                           stdout=subprocess.DEVNULL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
