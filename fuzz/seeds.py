#!/usr/bin/env python3
"""fuzz/seeds.py - (re)writes the seed corpora fuzz/corpus/<target>/

The seeds are the inputs of the unit tests (tests/unit/test_*.c): string
tables are read from the test sources where they are plain literals, the
rest (DNS messages, spool lines, scripted SMTP sessions) is built here the
way the tests build them. Run it from the repository root after changing
a grammar; the files are small and committed.
"""
import ast
import os
import re
import struct
import sys
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")


def c_literals(path, pattern):
    """Plain C string literals (one per match of pattern's group 1)."""
    text = open(os.path.join(ROOT, path), encoding="latin-1").read()
    out = []
    for m in re.finditer(pattern, text):
        lit = m.group(1)
        try:
            out.append(ast.literal_eval("b" + lit.replace("\\x", "\\x")))
        except (SyntaxError, ValueError):
            pass
    return out


def write(target, seeds):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    for old in os.listdir(d):
        if not old.startswith("regress-"):   # inputs that found bugs stay
            os.unlink(os.path.join(d, old))
    seen = set()
    for i, s in enumerate(seeds):
        if s in seen:
            continue
        seen.add(s)
        with open(os.path.join(d, "seed-%03d" % i), "wb") as f:
            f.write(s)


def txt():
    recs = c_literals("tests/unit/test_txt.c", r'\{\s*("v=[^"\n]*")')
    recs += [b"v=STSv1; id=abc\nv=spf1 -all", b"v=STSv1; id=a\nv=STSv1; id=b",
             b"v=STSv1 ; id=20160831085700Z ; ext=1"]
    write("txt", recs)


RFC_POLICY = (b"version: STSv1\nmode: enforce\nmx: mail.example.com\n"
              b"mx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800\n")


def policy():
    write("policy", [
        RFC_POLICY,
        RFC_POLICY.replace(b"\n", b"\r\n"),
        b"version: STSv1\nmode: testing\nmx: mx1.good.test\nmax_age: 86400",
        b"version: STSv1\nmode: none\nmax_age: 1\n",
        b"version: STSv1\r\nmode: enforce\r\nmx: mx.example.com.\r\n"
        b"max_age: 31557600\r\nextension: caf\xc3\xa9\r\n",
        b"mode: enforce\nmx: backupmx.example.com\nversion: STSv1\n"
        b"max_age:   600  \n\nmode: testing\n",
    ])


def match():
    pairs = re.findall(r'\{ ("[^"\n]*"), ("[^"\n]*"), [01] \}',
                       open(os.path.join(ROOT, "tests/unit/test_match.c"),
                            encoding="latin-1").read())
    seeds = []
    for p, h in pairs:
        try:
            seeds.append(ast.literal_eval("b" + p) + b"\n" +
                         ast.literal_eval("b" + h))
        except (SyntaxError, ValueError):
            pass
    write("match", seeds)


def certname():
    write("certname", [
        b"mx1.example.com\nmx1.example.com\nPmx1.example.com",
        b"mx1.example.com\n*.example.com\nP*.example.com",
        b"mx1.example.com\nCmx1.example.com\nPmx1.example.com",
        b"a.b.example.com\n*.example.com\nP*.example.com",
        b"mx1.example.com\nmx\x00.example.com\nmx1.example.com.\nP*.example.com",
        b"MX1.Example.COM\nmx*.example.com\nPmx1.example.com",
    ])


def smtp():
    greet = b"220 mx1.good.test ESMTP\r\n"
    ehlo = (b"250-mx1.good.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
            b"250-STARTTLS\r\n250 8BITMIME\r\n")
    write("smtp", [
        greet + b"\f" + ehlo + b"\f" + b"220 2.0.0 Ready to start TLS\r\n",
        greet + b"\f" + ehlo.replace(b"STARTTLS", b"AUTH PLAIN") + b"\f",
        b"220-first\r\n220-second\r\n220 last\r\n\f500 no EHLO\r\n\f"
        b"250 hello\r\n",
        greet + b"\f" + ehlo + b"\f" + b"454 4.7.0 TLS not available\r\n",
        b"421 4.3.2 busy\r\n",
        greet + b"220 extra\r\n",
        b"220 bare lf\n\f250-x\n250 starttls\n\f220 go\n",
    ])


def step(side, data, answer=False, bytewise=False):
    out = b""
    op = side | (2 if answer else 0) | (4 if bytewise else 0)
    while True:
        out += bytes([op, min(len(data), 255)]) + data[:255]
        data = data[255:]
        if not data:
            return out


def smtpstream():
    c, s = 0, 1
    write("smtpstream", [
        step(c, b"EHLO client\r\n") + step(s, b"250-x\r\n250 PIPELINING\r\n") +
        step(c, b"MAIL FROM:<a@b>\r\nRCPT TO:<x@good.test>\r\nDATA\r\n") +
        step(s, b"250 ok\r\n250 ok\r\n354 go\r\n") +
        step(c, b"Subject: hi\r\n\r\n..dot\r\n.\r\nQUIT\r\n") +
        step(s, b"250 queued\r\n221 bye\r\n"),
        step(c, b"EHLO c\r\nMAIL FROM:<a@b>\r\n") + step(s, b"250 x\r\n250 ok\r\n") +
        step(c, b"RCPT TO:<x@bad.test>\r\n", answer=True) +
        step(c, b"DATA\r\n") + step(c, b"QUIT\r\n") + step(s, b"221 bye\r\n"),
        step(c, b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\n"
             b"BDAT 5\r\nhelloBDAT 0 LAST\r\n") +
        step(s, b"250 a\r\n250 b\r\n250 c\r\n250 d\r\n250 e\r\n"),
        step(c, b"AUTH PLAIN\r\n") + step(s, b"334 \r\n") +
        step(c, b"AGZvbwBiYXI=\r\n") + step(s, b"235 ok\r\n") +
        step(c, b"STARTTLS\r\n", bytewise=True),
        step(c, b"x" * 600 + b"\r\n") + step(s, b"421 4.3.2 closing\r\n"),
    ])


def name(n):
    return b"".join(bytes([len(l)]) + l for l in n.split(b".")) + b"\x00"


def dns_msg(qname, qtype, answers, flags=0x8180, counts=None):
    q = name(qname) + struct.pack(">HH", qtype, 1)
    body = b"".join(answers)
    an = len(answers) if counts is None else counts
    return struct.pack(">HHHHHH", 0x1234, flags, 1, an, 0, 0) + q + body


def rr(owner, rtype, rdata, ttl=300):
    return owner + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


def dnsmsg():
    ptr = b"\xc0\x0c"
    write("dnsmsg", [
        dns_msg(b"good.test", 15, [rr(ptr, 15, b"\x00\x0a" + name(b"mx1.good.test")),
                                   rr(ptr, 15, b"\x00\x14" + b"\x03mx2" + ptr)]),
        dns_msg(b"mx1.good.test", 1, [rr(ptr, 1, bytes([127, 0, 2, 10]))]),
        dns_msg(b"mx1.good.test", 28, [rr(ptr, 28, b"\x00" * 15 + b"\x01")]),
        dns_msg(b"nullmx.test", 15, [rr(ptr, 15, b"\x00\x00\x00")]),
        dns_msg(b"alias.test", 1, [rr(ptr, 5, name(b"real.test")),
                                   rr(name(b"real.test"), 1, b"\x7f\x00\x00\x01")]),
        dns_msg(b"_mta-sts.good.test", 16, [rr(ptr, 16, b"\x0ev=STSv1; id=1")]),
        dns_msg(b"loop.test", 1, [rr(b"\xc0\x1c", 1, b"\x7f\x00\x00\x01")]),
        dns_msg(b"nx.test", 1, [], flags=0x8183),
        dns_msg(b"trunc.test", 1, [], counts=3),
    ])


def tlsrpt_line(fields):
    body = b"\t".join([b"T1"] + fields)
    return body, body + b"\t%08x\n" % zlib.crc32(body)


def tlsrpt():
    h = b"ab" * 32
    lines = [
        [b"1735732800", b"example.com", b"sts", h, b"mx1.example.com",
         b"192.0.2.10", b"198.51.100.25", b"mx1.example.com", b"success", b"", b""],
        [b"1735732800", b"example.com", b"no-policy-found", b"", b"", b"", b"",
         b"", b"starttls-not-supported", b"", b""],
        [b"0", b"good.test", b"sts", h, b"mx1.good.test", b"::1", b"127.0.2.10",
         b"evil\\tname\\nT1\\t0\\tforged\\\\\\x01\\xff", b"certificate-expired",
         b"X509_V_ERR_CERT_HAS_EXPIRED", b"https://example.com/info"],
    ]
    seeds = []
    for f in lines:
        body, full = tlsrpt_line(f)
        seeds += [body, full]
    seeds += [b"v=TLSRPTv1; rua=mailto:tlsrpt@example.com",
              b"v=TLSRPTv1;rua=https://r.example.com/v1 , mailto:a@b; x=1;",
              b"v=TLSRPTv1; rua=ftp://x"]
    write("tlsrpt", seeds)


def cache():
    def entry(text, id_=b"20240101", reason=b"-"):
        return (b"mtasts-cache 1\ndomain fuzz.example\nid " + id_ +
                b"\nfetched 1700000000\nexpires 1700604800\nfailed 0\n"
                b"failed_id -\nfailed_reason " + reason + b"\nlength %d\n\n"
                % len(text) + text)
    write("cache", [
        entry(RFC_POLICY),
        entry(b"", id_=b"-", reason=b"HTTP status 404"),
        entry(RFC_POLICY.replace(b"\n", b"\r\n")),
        entry(b"version: STSv1\nmode: none\nmax_age: 86400\n", id_=b"x"),
    ])


if __name__ == "__main__":
    for fn in (txt, policy, match, certname, smtp, smtpstream, dnsmsg,
               tlsrpt, cache):
        fn()
    for t in sorted(os.listdir(OUT)):
        print(t, len(os.listdir(os.path.join(OUT, t))), file=sys.stderr)
