#!/usr/bin/env python3
"""dns_fail.py - a DNS server that answers every query with a failure

The test world points some zones (through dnsmasq --server=/zone/addr) and
some tests (through MTASTS_DNS_SERVERS) at it, to produce the temporary DNS
failures of RFC 8461 section 5 on demand:

    --servfail ADDR   answer SERVFAIL (rcode 2) on ADDR:53
    --refused ADDR    answer REFUSED (rcode 5) on ADDR:53
    --drop ADDR       read queries and never answer (the client times out)

Each option may be given several times. Every query is logged as one line
"<addr> <rcode|drop> <qname> <qtype>" to --log. --pid-file is written once
every socket is bound, so the caller knows when the server is ready.
Standard library only; UDP and TCP.
"""
import argparse
import os
import selectors
import socket
import struct
import sys
import threading

RCODES = {"servfail": 2, "refused": 5, "drop": None}


def parse_question(msg):
    """Returns (qname, qtype, end offset of the question) or None."""
    if len(msg) < 12:
        return None
    qdcount = struct.unpack("!H", msg[4:6])[0]
    if qdcount != 1:
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
    qtype = struct.unpack("!H", msg[pos:pos + 2])[0]
    return ".".join(labels), qtype, pos + 4


def answer(msg, rcode):
    q = parse_question(msg)
    if q is None:
        return None, "?", 0
    qname, qtype, end = q
    flags = struct.unpack("!H", msg[2:4])[0]
    # QR=1, keep opcode and RD, RA=1, the rcode.
    rflags = 0x8000 | (flags & 0x7900) | 0x0080 | rcode
    header = msg[0:2] + struct.pack("!HHHHH", rflags, 1, 0, 0, 0)
    return header + msg[12:end], qname, qtype


class Logger:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def line(self, text):
        if not self.path:
            return
        with self.lock:
            with open(self.path, "a") as f:
                f.write(text + "\n")


def serve_tcp_conn(conn, addr, kind, log):
    try:
        conn.settimeout(10)
        while True:
            head = conn.recv(2)
            if len(head) < 2:
                return
            n = struct.unpack("!H", head)[0]
            msg = b""
            while len(msg) < n:
                chunk = conn.recv(n - len(msg))
                if not chunk:
                    return
                msg += chunk
            if kind == "drop":
                q = parse_question(msg)
                log.line("%s drop %s %s" % (addr, q[0] if q else "?",
                                           q[1] if q else 0))
                continue
            resp, qname, qtype = answer(msg, RCODES[kind])
            log.line("%s %s %s %s" % (addr, kind, qname, qtype))
            if resp:
                conn.sendall(struct.pack("!H", len(resp)) + resp)
    except OSError:
        pass
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for kind in RCODES:
        ap.add_argument("--" + kind, action="append", default=[],
                        metavar="ADDR")
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--log")
    ap.add_argument("--pid-file")
    args = ap.parse_args()

    log = Logger(args.log)
    sel = selectors.DefaultSelector()
    for kind in RCODES:
        for addr in getattr(args, kind):
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind((addr, args.port))
            sel.register(u, selectors.EVENT_READ, ("udp", kind, addr))
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            t.bind((addr, args.port))
            t.listen(16)
            sel.register(t, selectors.EVENT_READ, ("tcp", kind, addr))
    if args.pid_file:
        with open(args.pid_file + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(args.pid_file + ".tmp", args.pid_file)
    while True:
        for key, _ in sel.select():
            proto, kind, addr = key.data
            sock = key.fileobj
            if proto == "tcp":
                conn, _peer = sock.accept()
                threading.Thread(target=serve_tcp_conn,
                                 args=(conn, addr, kind, log),
                                 daemon=True).start()
                continue
            try:
                msg, peer = sock.recvfrom(4096)
            except OSError:
                continue
            if kind == "drop":
                q = parse_question(msg)
                log.line("%s drop %s %s" % (addr, q[0] if q else "?",
                                           q[1] if q else 0))
                continue
            resp, qname, qtype = answer(msg, RCODES[kind])
            log.line("%s %s %s %s" % (addr, kind, qname, qtype))
            if resp:
                sock.sendto(resp, peer)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
