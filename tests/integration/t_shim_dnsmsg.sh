#!/bin/bash
# The shim's DNS reader (shim/dnsmsg.c) reads MX, A and AAAA answers with
# compression, and refuses hostile messages cleanly: pointer loops, forward
# pointers, names over 255 bytes, records cut short, MX rdata that does not
# hold its exchange. Thousands of random and mutated messages never crash
# it (under SAN=1 ASan also checks every read stays inside the message).
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
P=$BUILD/tests/helpers/shim_dnsparse
[ -x "$P" ] || skip "$P is not built"

cat > "$TEST_TMP/gen.py" <<'PY'
import random, struct, sys

def name(n):
    out = b""
    for label in n.split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"

def header(an=0, ns=0, ar=0, qd=1, flags=0x8180):
    return struct.pack(">HHHHHH", 0x1234, flags, qd, an, ns, ar)

def rr(owner, rtype, rdata, cls=1):
    return owner + struct.pack(">HHIH", rtype, cls, 300, len(rdata)) + rdata

q = name("good.test") + struct.pack(">HH", 15, 1)   # at offset 12
PTR_QNAME = b"\xc0\x0c"                              # -> good.test

cases = {}
# MX answer, exchanges compressed against the question, glue in additional.
mx1 = struct.pack(">H", 10) + b"\x03mx1" + PTR_QNAME
mx2 = struct.pack(">H", 20) + b"\x03mx2" + PTR_QNAME
msg = header(an=2, ar=2) + q + rr(PTR_QNAME, 15, mx1) + rr(PTR_QNAME, 15, mx2)
off_mx1 = len(header()) + len(q) + 2 + 10 + 2   # "mx1.good.test" in the 1st rdata
msg += rr(struct.pack(">H", 0xc000 | off_mx1), 1, bytes([127, 0, 2, 1]))
msg += rr(name("mx2.good.test"), 28, bytes(15) + b"\x01")
cases["mx"] = msg
# Null MX (RFC 7505).
cases["nullmx"] = header(an=1) + q + rr(PTR_QNAME, 15, b"\0\0\0")
# A pointer to itself, and a pointer forwards.
cases["loop"] = header(an=1) + q + rr(b"\xc0" + bytes([len(header()) + len(q)]), 1, b"\1\2\3\4")
cases["forward"] = header(an=1) + q + rr(b"\xc0\xff", 1, b"\1\2\3\4")
# Two pointers chasing each other: A -> B -> A.
a_off = len(header()) + len(q)
cases["pingpong"] = header(an=1) + q + b"\x01x\xc0" + bytes([a_off + 4]) + b"\xc0" + bytes([a_off])
# A name of 256 wire bytes.
long_name = b"".join(bytes([63]) + b"a" * 63 for _ in range(4)) + b"\0"
cases["longname"] = header(an=1) + q + rr(long_name, 1, b"\1\2\3\4")
# A name of exactly 255 wire bytes is fine.
ok_name = b"".join(bytes([63]) + b"a" * 63 for _ in range(3)) + bytes([61]) + b"b" * 61 + b"\0"
cases["name255"] = header(an=1) + q + rr(ok_name, 1, b"\1\2\3\4")
# The second record cut short.
cases["truncated"] = (header(an=2) + q + rr(PTR_QNAME, 15, mx1) + rr(PTR_QNAME, 15, mx2))[:-3]
# MX rdata longer than its exchange.
cases["mxpad"] = header(an=1) + q + rr(PTR_QNAME, 15, mx1 + b"\0")
# An owner that is no host name (a space in a label).
cases["badchar"] = header(an=1) + q + rr(name("a b.test"), 1, b"\1\2\3\4")
# A query, not a response; a header cut short; label type 0x40.
cases["query"] = header(an=0, flags=0x0100) + q
cases["short"] = header()[:11]
cases["labeltype"] = header(an=1) + q + rr(b"\x41abc\0", 1, b"\1\2\3\4")

if sys.argv[1] == "case":
    sys.stdout.buffer.write(cases[sys.argv[2]])
else:   # fuzz corpus: random bytes and mutations of the cases
    rnd = random.Random(8461)
    out = bytearray()
    seeds = list(cases.values())
    for i in range(20000):
        if i % 4 == 0:
            m = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 300)))
        else:
            m = bytearray(rnd.choice(seeds))
            for _ in range(rnd.randrange(1, 8)):
                if m and rnd.random() < 0.7:
                    m[rnd.randrange(len(m))] = rnd.getrandbits(8)
                else:
                    m = m[:rnd.randrange(len(m) + 1)]
            m = bytes(m)
        out += struct.pack(">H", len(m)) + m
    sys.stdout.buffer.write(out)
PY
parse() { python3 "$TEST_TMP/gen.py" case "$1" | "$P"; }

assert_eq "$(parse mx)" "question good.test 15
rr 0 good.test 15 mx 10 mx1.good.test
rr 0 good.test 15 mx 20 mx2.good.test
rr 2 mx1.good.test 1 a 127.0.2.1
rr 2 mx2.good.test 28 a ::1
end" "MX answer"
assert_eq "$(parse nullmx)" "question good.test 15
rr 0 good.test 15 mx 0 -
end" "null MX"
assert_eq "$(parse loop)" "question good.test 15
error: compression pointer not backwards" "pointer to itself"
assert_eq "$(parse forward)" "question good.test 15
error: compression pointer not backwards" "forward pointer"
assert_eq "$(parse pingpong | tail -n 1)" "error: compression pointer not backwards" "pointer ping-pong"
assert_eq "$(parse longname | tail -n 1)" "error: name longer than 255 bytes" "256-byte name"
assert_eq "$(parse name255 | tail -n 2 | head -n 1 | cut -c1-12)" "rr 0 aaaaaaa" "255-byte name"
assert_eq "$(parse truncated)" "question good.test 15
rr 0 good.test 15 mx 10 mx1.good.test
error: rdata runs past the end" "cut short"
assert_eq "$(parse mxpad)" "question good.test 15
rr 0 good.test 15 mx error: MX exchange does not fill the rdata
end" "MX rdata padding"
assert_eq "$(parse badchar)" "question good.test 15
rr 0 - 1 a 1.2.3.4
end" "not a host name"
assert_eq "$(parse query)" "error: not a response" "query"
assert_eq "$(parse short)" "error: shorter than a header" "short header"
assert_eq "$(parse labeltype | tail -n 1)" "error: unknown label type" "label type 0x40"

python3 "$TEST_TMP/gen.py" fuzz > "$TEST_TMP/corpus"
assert_exit 0 "$P" -f "$TEST_TMP/corpus"
assert_eq "$(printf '%s\n' "$OUT" | wc -l)" 20000 "fuzz messages read"
