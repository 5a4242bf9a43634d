#!/usr/bin/env python3
"""rcpt_client.py - an SMTP client for the per-recipient tests (t_rcpt_*.sh)

usage: rcpt_client.py --server HOST [--to ADDR]... [--mode smtplib|pipeline|bdat]
                      [--subject S] [--body-file F] [--chunk N] [--raw-line L]...

Sends one message to every --to over plaintext SMTP (the relay under the
shim does the TLS), and prints one JSON line per reply:
  {"kind": "rcpt", "rcpt": "a@good.test", "code": 250, "text": "..."}
  {"kind": "data"|"bdat"|"mail"|"ehlo"|"raw", "code": N, "text": "..."}
  {"kind": "sent", "sha256": "...", "size": N}   the message as meant

modes:
  smtplib   Python's smtplib: EHLO, MAIL, one RCPT at a time, DATA
            (only when a recipient was accepted), QUIT.
  pipeline  raw socket, RFC 2920: MAIL, every RCPT and DATA in one write,
            then the replies in order; content after 354.
  bdat      raw socket, RFC 3030: MAIL, every RCPT, then the body in
            BDAT chunks of --chunk octets (the last "BDAT n LAST"), all in
            one write, then the replies in order.
--raw-line L sends the line L (CRLF added) after MAIL and the RCPTs, before
DATA/BDAT, in the same write (pipeline and bdat modes).
The message: a Subject header, a blank line and --body-file (binary),
with CRLF line ends as given; in DATA mode it is dot-stuffed here.
"""
import argparse
import hashlib
import json
import smtplib
import socket
import sys


def out(**kw):
    print(json.dumps(kw, sort_keys=True), flush=True)


class Raw:
    def __init__(self, host, port, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("server closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        lines = []
        while True:
            ln = self.line()
            lines.append(ln)
            if len(ln) < 4 or ln[3] != "-":
                break
        return int(lines[-1][:3]), "\n".join(lines)


def message(subject, body):
    return b"Subject: " + subject.encode() + b"\r\n\r\n" + body


def stuff(msg):
    lines = msg.split(b"\n")
    return b"\n".join(b"." + ln if ln.startswith(b".") else ln
                      for ln in lines)


def run_smtplib(a, msg):
    s = smtplib.SMTP(a.server, 25, timeout=a.timeout)
    s.ehlo("client.world.test")
    code, text = s.mail(a.sender)
    out(kind="mail", code=code, text=text.decode())
    ok = []
    for r in a.to:
        code, text = s.rcpt(r)
        out(kind="rcpt", rcpt=r, code=code, text=text.decode())
        if code // 100 == 2:
            ok.append(r)
    if ok:
        code, text = s.data(msg)
        out(kind="data", code=code, text=text.decode())
    else:
        s.rset()
    s.quit()


def run_raw(a, msg):
    c = Raw(a.server, 25, a.timeout)
    code, text = c.reply()
    out(kind="greeting", code=code, text=text)
    c.send(b"EHLO client.world.test\r\n")
    code, text = c.reply()
    out(kind="ehlo", code=code, text=text)
    batch = b"MAIL FROM:<" + a.sender.encode() + b">\r\n"
    for r in a.to:
        batch += b"RCPT TO:<" + r.encode() + b">\r\n"
    for ln in a.raw_line:
        batch += ln.encode() + b"\r\n"
    kinds = ["mail"] + ["rcpt"] * len(a.to) + ["raw"] * len(a.raw_line)
    chunks = []
    if a.mode == "pipeline":
        batch += b"DATA\r\n"
        kinds.append("data")
    else:
        n = max(1, a.chunk)
        chunks = [msg[i:i + n] for i in range(0, len(msg), n)] or [b""]
        for i, ch in enumerate(chunks):
            last = b" LAST" if i == len(chunks) - 1 else b""
            batch += b"BDAT %d" % len(ch) + last + b"\r\n" + ch
            kinds.append("bdat")
    c.send(batch)
    rcpts = iter(a.to)
    for k in kinds:
        code, text = c.reply()
        if k == "rcpt":
            out(kind=k, rcpt=next(rcpts), code=code, text=text)
        else:
            out(kind=k, code=code, text=text)
        if k == "data" and code == 354:
            body = stuff(msg)
            if not body.endswith(b"\r\n"):
                body += b"\r\n"
            c.send(body + b".\r\n")
            code, text = c.reply()
            out(kind="eod", code=code, text=text)
    c.send(b"QUIT\r\n")
    code, text = c.reply()
    out(kind="quit", code=code, text=text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--to", action="append", default=[])
    ap.add_argument("--from", dest="sender", default="s@sender.test")
    ap.add_argument("--mode", default="smtplib",
                    choices=["smtplib", "pipeline", "bdat"])
    ap.add_argument("--subject", default="rcpt_client")
    ap.add_argument("--body-file")
    ap.add_argument("--chunk", type=int, default=1000)
    ap.add_argument("--raw-line", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=20)
    a = ap.parse_args()
    body = b"hello\r\n"
    if a.body_file:
        with open(a.body_file, "rb") as f:
            body = f.read()
    msg = message(a.subject, body)
    if a.mode != "bdat" and not msg.endswith(b"\r\n"):
        msg += b"\r\n"
    out(kind="sent", sha256=hashlib.sha256(msg).hexdigest(), size=len(msg))
    try:
        if a.mode == "smtplib":
            run_smtplib(a, msg)
        else:
            run_raw(a, msg)
    except (OSError, EOFError, smtplib.SMTPException) as e:
        out(kind="error", code=0, text=str(e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
