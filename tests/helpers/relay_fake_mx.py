#!/usr/bin/env python3
"""relay_fake_mx.py - a misbehaving SMTP server for the relay's tests

  relay_fake_mx.py --addr 127.0.3.1 --mode MODE --log FILE [--cert C --key K]

Serves one behaviour per instance on ADDR:25 (each connection handled in a
thread) and appends one JSON line per event to FILE:
  {"event": "connect"}, {"event": "recv", "line": "EHLO ..."},
  {"event": "starttls"}, {"event": "message", "tls": bool, "size": n},
  {"event": "disconnect"}

Modes:
  drip          every reply sent one byte at a time, 2 ms apart, with a
                multi-line greeting; STARTTLS offered in lower case
                ("starttls") when --cert is given; then a normal session
  long-line     a greeting line of 3000 octets
  mixed-codes   a greeting "220-..." followed by "250 ..."
  bad-code      a greeting "22x ready"
  greet-554     a "554 no service" greeting
  close         closes right after the greeting
  silent        accepts and never says anything
  early-data    greeting immediately followed by an unsolicited "250 ok"
  inject        STARTTLS is answered with "220 go ahead" + "250 injected"
                in the same packet (the relay must not start TLS)
  starttls-454  STARTTLS offered, answered with "454 TLS not available";
                the session then goes on in plaintext
  helo-only     EHLO answered with 502; HELO works; no STARTTLS
  multiline     a 3-line greeting, CRLF exactly as sent, and STARTTLS as a
                keyword with a parameter-like suffix "STARTTLS " (space)
The --pid-file is written once listening.
"""
import argparse
import os
import socket
import ssl
import threading
import time

from jsonlog import log


class Conn:
    def __init__(self, args, sock):
        self.a = args
        self.s = sock
        self.buf = b""
        self.tls = False

    def send(self, data):
        if self.a.mode == "drip":
            for i in range(len(data)):
                self.s.sendall(data[i:i + 1])
                time.sleep(0.002)
        else:
            self.s.sendall(data)

    def readline(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def greeting(self):
        m = self.a.mode
        if m == "silent":
            time.sleep(3600)
        if m == "long-line":
            return b"220 " + b"x" * 3000 + b"\r\n"
        if m == "mixed-codes":
            return b"220-fake.test hello\r\n250 fake.test ready\r\n"
        if m == "bad-code":
            return b"22x fake.test ready\r\n"
        if m == "greet-554":
            return b"554 fake.test no service for you\r\n"
        if m == "early-data":
            return b"220 fake.test ready\r\n250 unsolicited\r\n"
        if m in ("drip", "multiline"):
            return (b"220-fake.test first line\r\n"
                    b"220-second line\r\n"
                    b"220 fake.test last line\r\n")
        return b"220 fake.test ESMTP ready\r\n"

    def ehlo_reply(self):
        ext = ["fake.test", "PIPELINING"]
        if self.a.cert and not self.tls:
            if self.a.mode == "drip":
                ext.append("starttls")
            elif self.a.mode == "multiline":
                ext.append("STARTTLS ")
            elif self.a.mode != "helo-only":
                ext.append("STARTTLS")
        if self.a.mode == "starttls-454" and not self.tls:
            ext.append("STARTTLS")
        out = ""
        for i, e in enumerate(ext):
            out += "250%s%s\r\n" % (" " if i == len(ext) - 1 else "-", e)
        return out.encode()

    def run(self):
        log(self.a.log, event="connect")
        try:
            self.send(self.greeting())
            if self.a.mode in ("close", "long-line", "mixed-codes",
                               "bad-code"):
                return
            while True:
                line = self.readline()
                if line is None:
                    return
                verb = line.split(" ")[0].upper()
                log(self.a.log, event="recv", line=line[:100])
                if verb == "EHLO":
                    if self.a.mode == "helo-only":
                        self.send(b"502 5.5.1 EHLO not implemented\r\n")
                    else:
                        self.send(self.ehlo_reply())
                elif verb == "HELO":
                    self.send(b"250 fake.test\r\n")
                elif verb == "STARTTLS":
                    if self.a.mode == "inject":
                        self.send(b"220 go ahead\r\n250 injected\r\n")
                        continue
                    if self.a.mode == "starttls-454" or not self.a.cert:
                        self.send(b"454 4.7.0 TLS not available\r\n")
                        continue
                    self.send(b"220 2.0.0 go ahead\r\n")
                    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                    ctx.load_cert_chain(self.a.cert, self.a.key)
                    self.s = ctx.wrap_socket(self.s, server_side=True)
                    self.buf = b""
                    self.tls = True
                    log(self.a.log, event="starttls")
                elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                    self.send(b"250 ok\r\n")
                elif verb == "DATA":
                    self.send(b"354 go\r\n")
                    size = 0
                    while True:
                        l = self.readline()
                        if l is None:
                            return
                        if l == ".":
                            break
                        size += len(l) + 2
                    log(self.a.log, event="message", tls=self.tls, size=size)
                    self.send(b"250 accepted\r\n")
                elif verb == "QUIT":
                    self.send(b"221 bye\r\n")
                    return
                else:
                    self.send(b"500 unknown\r\n")
        except (OSError, ssl.SSLError) as e:
            log(self.a.log, event="error", error=str(e))
        finally:
            log(self.a.log, event="disconnect")
            try:
                self.s.close()
            except OSError:
                pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--port", type=int, default=25)
    ap.add_argument("--mode", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--pid-file")
    a = ap.parse_args()
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.addr, a.port))
    ls.listen(16)
    if a.pid_file:
        with open(a.pid_file + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(a.pid_file + ".tmp", a.pid_file)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=Conn(a, c).run, daemon=True).start()


if __name__ == "__main__":
    main()
