#!/usr/bin/env python3
"""evil_dns.py - a DNS server whose _mta-sts TXT id changes on every query

  evil_dns.py --addr 127.0.6.53 --log FILE --pid-file FILE
              [--a NAME=ADDR ...]

UDP only. A TXT query for any name starting with "_mta-sts." gets one
record "v=STSv1; id=churnN", N counting up from 1 with every query; an A
query for a NAME given with --a gets its address (other types of that
name: NODATA); everything else is NXDOMAIN. One JSON line per query goes to FILE (name, type, id given).

Why: an attacker who controls (or spoofs) a domain's DNS can announce a
new policy id on every look-up; a sender that fetches the policy anew
for each announced id can be made to hammer the policy host, or to wait
for it on every delivery. The test counts what the sender does.
"""
import argparse
import os
import socket
import struct

from jsonlog import log

T_A, T_TXT = 1, 16


def read_question(msg):
    """(id, flags, name, qtype, end of question) or None if malformed."""
    if len(msg) < 12:
        return None
    qid, flags, qd = struct.unpack("!HHH", msg[:6])
    if qd != 1:
        return None
    pos, labels = 12, []
    while True:
        if pos >= len(msg):
            return None
        n = msg[pos]
        pos += 1
        if n == 0:
            break
        if n > 63 or pos + n > len(msg):
            return None
        labels.append(msg[pos:pos + n].decode("ascii", "replace"))
        pos += n
    if pos + 4 > len(msg):
        return None
    qtype, _ = struct.unpack("!HH", msg[pos:pos + 4])
    return qid, flags, ".".join(labels).lower(), qtype, pos + 4


def answer(msg, q, rtype, rdata, rcode=0):
    qid, flags, _, _, qend = q
    rd = flags & 0x0100
    hdr = struct.pack("!HHHHHH", qid, 0x8400 | rd | rcode, 1,
                      1 if rdata is not None else 0, 0, 0)
    out = hdr + msg[12:qend]
    if rdata is not None:
        out += struct.pack("!HHHIH", 0xC00C, rtype, 1, 0, len(rdata)) + rdata
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--log", required=True)
    p.add_argument("--pid-file", required=True)
    p.add_argument("--a", action="append", default=[])
    args = p.parse_args()
    hosts = dict(x.lower().split("=", 1) for x in args.a)

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((args.addr, args.port))
    with open(args.pid_file + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(args.pid_file + ".tmp", args.pid_file)
    counter = 0
    while True:
        msg, peer = s.recvfrom(4096)
        q = read_question(msg)
        if q is None:
            continue
        name, qtype = q[2], q[3]
        if qtype == T_TXT and name.startswith("_mta-sts."):
            counter += 1
            txt = ("v=STSv1; id=churn%d" % counter).encode()
            reply = answer(msg, q, T_TXT, bytes([len(txt)]) + txt)
            log(args.log, name=name, type="TXT", id="churn%d" % counter)
        elif qtype == T_A and name in hosts:
            reply = answer(msg, q, T_A, socket.inet_aton(hosts[name]))
            log(args.log, name=name, type="A")
        elif name in hosts:
            reply = answer(msg, q, 0, None)     # NODATA: e.g. no AAAA
            log(args.log, name=name, type=str(qtype))
        else:
            reply = answer(msg, q, 0, None, rcode=3)
            log(args.log, name=name, type=str(qtype))
        s.sendto(reply, peer)


if __name__ == "__main__":
    main()
