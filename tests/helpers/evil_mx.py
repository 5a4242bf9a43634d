#!/usr/bin/env python3
"""evil_mx.py - a scriptable hostile MX (and on-path proxy) for fault and attack tests

  evil_mx.py --addr 127.0.6.N --mode MODE --log FILE --pid-file FILE
             [--port 25] [--cert C --key K] [--hostname NAME]
             [--upstream ADDR:PORT] [--code 554]

Serves one behaviour per instance on ADDR:PORT (one thread per connection)
and appends one JSON line per event to FILE, sorted keys:
  connect, recv (line, before TLS only), starttls, tls-failed, message
  (tls, subject, size), reset, disconnect

Modes (the greeting and EHLO reply are ordinary unless said otherwise):
  normal            a working receiver; STARTTLS with --cert/--key (e.g. a
                    valid certificate for another name: the MITM that holds
                    a real certificate of its own)
  reset-handshake   STARTTLS answered 220, the ClientHello read, then the
                    connection reset (SO_LINGER 0: a TCP RST)
  stall-starttls    STARTTLS answered 220, then silence (no handshake)
  starttls-code     STARTTLS answered with --code (454, 554, 421 ...)
  garbage-greeting  binary garbage instead of a greeting, then silence
  garbage-ehlo      a good greeting, binary garbage as the EHLO reply
  garbage-tls       STARTTLS answered 220, then garbage instead of a
                    ServerHello
  strip-proxy       an on-path proxy to --upstream that removes STARTTLS
                    from the EHLO reply and passes everything else on
  proxy             the same proxy, but honest (the control case)

Why: the tests must show what the relay does when the network lies, and
each of these is one way it lies. Nothing here is clever; every mode is
a few lines so that a reader can check what the test really exercised.
"""
import argparse
import os
import socket
import ssl
import struct
import threading
import time

from jsonlog import log

GARBAGE = bytes(range(256)) * 4


def reset(sock):
    """Close with a TCP RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))
    sock.close()


class Session:
    """One SMTP server session in one of the receiver modes."""

    def __init__(self, args, sock):
        self.a = args
        self.s = sock
        self.buf = b""
        self.tls = False

    def ev(self, event, **kw):
        log(self.a.log, event=event, **kw)

    def readline(self):
        while b"\n" not in self.buf:
            if len(self.buf) > 65536:
                return None
            chunk = self.s.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def send(self, text):
        self.s.sendall(text.encode() if isinstance(text, str) else text)

    def ehlo_reply(self):
        lines = [self.a.hostname, "PIPELINING", "8BITMIME"]
        if self.a.cert and not self.tls:
            lines.append("STARTTLS")
        out = ""
        for i, l in enumerate(lines):
            out += "250%s%s\r\n" % (" " if i == len(lines) - 1 else "-", l)
        return out

    def starttls(self):
        """Returns False when the mode ends the session here."""
        m = self.a.mode
        self.ev("starttls")
        if m == "starttls-code":
            self.send("%s 4.7.0 TLS not available\r\n" % self.a.code)
            return True
        self.send("220 2.0.0 go ahead\r\n")
        if m == "reset-handshake":
            self.s.recv(65536)          # the ClientHello
            self.ev("reset")
            reset(self.s)
            return False
        if m == "stall-starttls":
            time.sleep(3600)
            return False
        if m == "garbage-tls":
            self.s.recv(65536)
            self.send(GARBAGE)
            time.sleep(3600)
            return False
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.a.cert, self.a.key)
        try:
            self.s = ctx.wrap_socket(self.s, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.ev("tls-failed", error=str(e))
            return False
        self.tls = True
        self.buf = b""
        return True

    def data(self):
        self.send("354 go on\r\n")
        body = []
        size = 0
        while True:
            line = self.readline()
            if line is None:
                return False
            if line == ".":
                break
            size += len(line) + 2
            body.append(line)
        subject = ""
        for l in body:
            if l.lower().startswith("subject:"):
                subject = l[8:].strip()
                break
        self.ev("message", tls=self.tls, subject=subject, size=size)
        self.send("250 2.0.0 queued\r\n")
        return True

    def run(self):
        m = self.a.mode
        if m == "garbage-greeting":
            self.send(GARBAGE)
            time.sleep(3600)
            return
        self.send("220 %s ESMTP evil\r\n" % self.a.hostname)
        while True:
            line = self.readline()
            if line is None:
                return
            if not self.tls:
                self.ev("recv", line=line)
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                if m == "garbage-ehlo":
                    self.send(GARBAGE)
                    time.sleep(3600)
                    return
                self.send(self.ehlo_reply())
            elif verb == "STARTTLS" and not self.tls and self.a.cert:
                if not self.starttls():
                    return
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                self.send("250 2.0.0 ok\r\n")
            elif verb == "DATA":
                if not self.data():
                    return
            elif verb == "QUIT":
                self.send("221 2.0.0 bye\r\n")
                return
            else:
                self.send("502 5.5.2 no\r\n")


class Proxy:
    """An on-path proxy: server replies are read as SMTP replies (so that
    STARTTLS can be removed from EHLO) until the client has asked for
    STARTTLS; from then on bytes pass untouched in both directions."""

    def __init__(self, args, client):
        self.a = args
        self.c = client
        host, port = args.upstream.rsplit(":", 1)
        self.u = socket.create_connection((host, int(port)), timeout=30)
        self.u.settimeout(None)
        self.client_asked_tls = threading.Event()
        self.raw = threading.Event()

    def ev(self, event, **kw):
        log(self.a.log, event=event, **kw)

    def client_to_server(self):
        buf = b""
        try:
            while True:
                chunk = self.c.recv(65536)
                if not chunk:
                    break
                if not self.raw.is_set():
                    buf += chunk
                    while b"\n" in buf:
                        line, _, buf = buf.partition(b"\n")
                        text = line.rstrip(b"\r").decode("utf-8", "replace")
                        self.ev("recv", line=text)
                        if text.upper() == "STARTTLS":
                            self.client_asked_tls.set()
                            self.ev("starttls")
                        if text.upper() == "DATA":
                            self.ev("data")
                self.u.sendall(chunk)
        except OSError:
            pass
        try:
            self.u.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def filter_reply(self, lines):
        if self.a.mode != "strip-proxy":
            return lines
        kept = [l for l in lines if l[4:].strip().upper() != "STARTTLS"]
        if len(kept) != len(lines):
            self.ev("stripped")
        # Re-mark continuation: every line "250-" but the last "250 ".
        return [l[:3] + ("-" if i < len(kept) - 1 else " ") + l[4:]
                for i, l in enumerate(kept)]

    def server_to_client(self):
        buf = b""
        reply = []
        try:
            while not self.raw.is_set():
                chunk = self.u.recv(65536)
                if not chunk:
                    return
                buf += chunk
                while b"\n" in buf and not self.raw.is_set():
                    line, _, buf = buf.partition(b"\n")
                    text = line.rstrip(b"\r").decode("utf-8", "replace")
                    reply.append(text)
                    if len(text) >= 4 and text[3] == "-":
                        continue
                    out = self.filter_reply(reply)
                    self.c.sendall("".join(l + "\r\n" for l in out).encode())
                    if self.client_asked_tls.is_set() and text.startswith("220"):
                        self.raw.set()
                    reply = []
                if self.raw.is_set() and buf:
                    self.c.sendall(buf)
            while True:
                chunk = self.u.recv(65536)
                if not chunk:
                    break
                self.c.sendall(chunk)
        except OSError:
            pass
        finally:
            try:
                self.c.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def run(self):
        t = threading.Thread(target=self.client_to_server, daemon=True)
        t.start()
        self.server_to_client()
        t.join(30)
        self.u.close()


def serve(args, conn):
    log(args.log, event="connect")
    try:
        if args.mode in ("proxy", "strip-proxy"):
            Proxy(args, conn).run()
        else:
            Session(args, conn).run()
    except OSError as e:
        log(args.log, event="error", error=str(e))
    finally:
        log(args.log, event="disconnect")
        try:
            conn.close()
        except OSError:
            pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, default=25)
    p.add_argument("--mode", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--pid-file", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--hostname", default="evil.world.test")
    p.add_argument("--upstream")
    p.add_argument("--code", default="454")
    args = p.parse_args()

    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((args.addr, args.port))
    ls.listen(64)
    with open(args.pid_file + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(args.pid_file + ".tmp", args.pid_file)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(args, conn), daemon=True).start()


if __name__ == "__main__":
    main()
