#!/usr/bin/env python3
"""smtp_receiver.py - a small ESMTP receiver that records what it is sent

The test world runs one instance per MX host (tests/world/README.md). It
speaks enough ESMTP (RFC 5321) for swaks, curl, msmtp, Python's smtplib and
Postfix: EHLO/HELO, STARTTLS (RFC 3207) when --cert/--key are given, MAIL,
RCPT, DATA with dot-unstuffing, BDAT (RFC 3030) with --chunking, RSET, NOOP,
VRFY, HELP, QUIT; it advertises PIPELINING, 8BITMIME, SIZE and
ENHANCEDSTATUSCODES.

Every event is one JSON line appended to --log (written with one write, so
lines of concurrent connections never interleave):

  {"event":"connect","peer":"127.0.0.1:40000","local":"127.0.2.1:25","time":..}
  {"event":"starttls","peer":..,"tls_version":"TLSv1.3","sni":"mx1.good.test",
   "cipher":..}
  {"event":"tls-failed","peer":..,"error":".."}
  {"event":"message","peer":..,"tls":true,"tls_version":"TLSv1.3",
   "sni":"mx1.good.test","helo":"client.test","mail_from":"a@b.test",
   "rcpt":["x@good.test"],"size":1234,"sha256":"..","data_file":"..",
   "subject":".."}
  {"event":"disconnect","peer":..,"messages":1}

--reply CMD=CODE (e.g. RCPT=550, DATA=451, MAIL=421) makes that command
fail with CODE, to test how senders handle refusals; CODE 421 also closes
the connection. --pid-file is written once the socket listens, so the
world knows the receiver is ready without connecting to it (a connection
would be an event in the log). Standard library only.
"""
import argparse
import datetime
import hashlib
import json
import os
import socket
import ssl
import sys
import threading

MAX_LINE = 4096             # RFC 5321 4.5.3.1.6 says 1000 for text lines
MAX_MESSAGE = 32 * 1024 * 1024


class Recorder:
    """Appends JSON lines to the log and message bodies to the data dir."""

    def __init__(self, log_path, data_dir):
        self.log_path = log_path
        self.data_dir = data_dir
        self.lock = threading.Lock()
        self.count = 0

    def event(self, **fields):
        fields.setdefault("time", datetime.datetime.now(
            datetime.timezone.utc).isoformat(timespec="milliseconds"))
        line = (json.dumps(fields, sort_keys=True) + "\n").encode()
        with self.lock:
            fd = os.open(self.log_path,
                         os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    def store(self, data):
        if not self.data_dir:
            return None
        with self.lock:
            self.count += 1
            n = self.count
        path = os.path.join(self.data_dir, "%d-%06d.eml" % (os.getpid(), n))
        with open(path, "wb") as f:
            f.write(data)
        return path


class Session:
    """One SMTP connection."""

    def __init__(self, server, conn, peer):
        self.srv = server
        self.sock = conn
        self.peer = "%s:%d" % peer[:2]
        self.rfile = conn.makefile("rb")
        self.tls = False
        self.tls_version = None
        self.cipher = None
        self.sni = None
        self.helo = None
        self.messages = 0
        self.reset()

    def reset(self):
        self.mail_from = None
        self.rcpt = []
        self.chunks = []
        self.chunk_size = 0

    # -- I/O -------------------------------------------------------------
    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def reply(self, code, *lines):
        lines = lines or ("",)
        out = []
        for i, line in enumerate(lines):
            sep = " " if i == len(lines) - 1 else "-"
            out.append("%d%s%s" % (code, sep, line))
        self.send("\r\n".join(out))

    def readline(self):
        line = self.rfile.readline(MAX_LINE + 1)
        if not line:
            return None
        if len(line) > MAX_LINE:
            raise ValueError("line too long")
        return line

    # -- the conversation ------------------------------------------------
    def run(self):
        rec = self.srv.rec
        rec.event(event="connect", peer=self.peer, local=self.srv.local)
        try:
            self.reply(220, "%s ESMTP smtp_receiver ready" % self.srv.name)
            while True:
                line = self.readline()
                if line is None:
                    break
                text = line.decode("utf-8", "replace").rstrip("\r\n")
                verb, _, arg = text.partition(" ")
                verb = verb.upper()
                if self.forced_reply(verb):
                    if self.srv.replies[verb] == 421:
                        break
                    continue
                handler = getattr(self, "cmd_" + verb, None)
                if handler is None:
                    self.reply(500, "5.5.2 command not recognised")
                    continue
                if handler(arg) == "quit":
                    break
        except (OSError, ValueError, ssl.SSLError) as e:
            rec.event(event="error", peer=self.peer, error=str(e))
        finally:
            rec.event(event="disconnect", peer=self.peer,
                      messages=self.messages)
            try:
                self.sock.close()
            except OSError:
                pass

    def forced_reply(self, verb):
        code = self.srv.replies.get(verb)
        if code is None:
            return False
        text = {421: "4.3.2 service shutting down (forced by test)",
                451: "4.3.0 temporary failure (forced by test)",
                452: "4.5.3 too many recipients (forced by test)",
                550: "5.7.1 refused (forced by test)",
                554: "5.7.1 transaction failed (forced by test)"}
        self.reply(code, text.get(code, "forced by test"))
        return True

    def cmd_EHLO(self, arg):
        self.helo = arg.strip()
        self.reset()
        ext = ["%s greets %s" % (self.srv.name, self.helo or "you"),
               "PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES",
               "SIZE %d" % MAX_MESSAGE]
        if self.srv.tls_ctx and not self.tls:
            ext.append("STARTTLS")
        if self.srv.chunking:
            ext.append("CHUNKING")
        self.reply(250, *ext)

    def cmd_HELO(self, arg):
        self.helo = arg.strip()
        self.reset()
        self.reply(250, self.srv.name)

    def cmd_STARTTLS(self, arg):
        if not self.srv.tls_ctx or self.tls:
            self.reply(502, "5.5.1 STARTTLS not available")
            return None
        self.reply(220, "2.0.0 ready to start TLS")
        # Anything the client pipelined after STARTTLS is discarded (RFC
        # 3207 section 5: no command injection across the handshake).
        self.rfile.close()
        self.rfile = None
        try:
            tls = self.srv.tls_ctx.wrap_socket(self.sock, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.srv.rec.event(event="tls-failed", peer=self.peer,
                               error=str(e))
            return "quit"
        self.sock = tls
        self.rfile = tls.makefile("rb")
        self.tls = True
        self.tls_version = tls.version()
        self.cipher = tls.cipher()[0] if tls.cipher() else None
        self.sni = self.srv.take_sni(tls)
        self.helo = None
        self.reset()
        self.srv.rec.event(event="starttls", peer=self.peer,
                           tls_version=self.tls_version, sni=self.sni,
                           cipher=self.cipher)
        return None

    def cmd_MAIL(self, arg):
        if not arg.upper().startswith("FROM:"):
            self.reply(501, "5.5.4 syntax: MAIL FROM:<address>")
            return
        if self.mail_from is not None:
            self.reply(503, "5.5.1 nested MAIL command")
            return
        self.mail_from = address(arg[5:])
        self.reply(250, "2.1.0 sender ok")

    def cmd_RCPT(self, arg):
        if not arg.upper().startswith("TO:"):
            self.reply(501, "5.5.4 syntax: RCPT TO:<address>")
            return
        if self.mail_from is None:
            self.reply(503, "5.5.1 need MAIL first")
            return
        self.rcpt.append(address(arg[3:]))
        self.reply(250, "2.1.5 recipient ok")

    def cmd_DATA(self, arg):
        if not self.rcpt:
            self.reply(503, "5.5.1 need RCPT first")
            return
        self.reply(354, "end data with <CR><LF>.<CR><LF>")
        data, size = [], 0
        while True:
            line = self.rfile.readline(MAX_MESSAGE)
            if not line:
                raise ValueError("connection closed in DATA")
            if line in (b".\r\n", b".\n"):
                break
            if line.startswith(b"."):
                line = line[1:]
            size += len(line)
            if size > MAX_MESSAGE:
                raise ValueError("message too big")
            data.append(line)
        self.deliver(b"".join(data))

    def cmd_BDAT(self, arg):
        if not self.srv.chunking:
            self.reply(500, "5.5.2 command not recognised")
            return
        parts = arg.split()
        if not parts or not parts[0].isdigit():
            self.reply(501, "5.5.4 syntax: BDAT size [LAST]")
            return
        n = int(parts[0])
        last = len(parts) > 1 and parts[1].upper() == "LAST"
        if self.chunk_size + n > MAX_MESSAGE:
            raise ValueError("message too big")
        chunk = self.rfile.read(n)
        if len(chunk) != n:
            raise ValueError("connection closed in BDAT")
        if not self.rcpt:
            self.reply(503, "5.5.1 need RCPT first")
            return
        self.chunks.append(chunk)
        self.chunk_size += n
        if last:
            self.deliver(b"".join(self.chunks))
        else:
            self.reply(250, "2.0.0 %d octets received" % n)

    def deliver(self, data):
        path = self.srv.rec.store(data)
        self.messages += 1
        self.srv.rec.event(
            event="message", peer=self.peer, tls=self.tls,
            tls_version=self.tls_version, sni=self.sni, helo=self.helo,
            mail_from=self.mail_from, rcpt=self.rcpt, size=len(data),
            sha256=hashlib.sha256(data).hexdigest(), data_file=path,
            subject=subject_of(data))
        self.reply(250, "2.0.0 message accepted")
        self.reset()

    def cmd_RSET(self, arg):
        self.reset()
        self.reply(250, "2.0.0 reset")

    def cmd_NOOP(self, arg):
        self.reply(250, "2.0.0 ok")

    def cmd_VRFY(self, arg):
        self.reply(252, "2.1.5 cannot verify, will try")

    def cmd_HELP(self, arg):
        self.reply(214, "2.0.0 see RFC 5321")

    def cmd_QUIT(self, arg):
        self.reply(221, "2.0.0 bye")
        return "quit"


def address(arg):
    arg = arg.strip()
    if arg.startswith("<"):
        end = arg.find(">")
        return arg[1:end] if end > 0 else arg[1:]
    return arg.split()[0] if arg else ""


def subject_of(data):
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    for line in head.splitlines():
        if line.lower().startswith(b"subject:"):
            return line[8:].strip().decode("utf-8", "replace")
    return None


class Server:
    def __init__(self, args):
        self.name = args.hostname or args.addr
        self.local = "%s:%d" % (args.addr, args.port)
        self.rec = Recorder(args.log, args.data_dir)
        self.chunking = args.chunking
        self.replies = {}
        for r in args.reply:
            verb, _, code = r.partition("=")
            self.replies[verb.upper()] = int(code)
        self.sni_lock = threading.Lock()
        self.sni_seen = {}
        self.tls_ctx = None
        if args.cert and not args.no_starttls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(args.cert, args.key)
            if args.tls_max:
                ctx.maximum_version = getattr(ssl.TLSVersion,
                                              args.tls_max.replace(".", "_"))
            ctx.sni_callback = self.sni_callback
            self.tls_ctx = ctx

    def sni_callback(self, sslobj, name, ctx):
        with self.sni_lock:
            self.sni_seen[id(sslobj)] = name
        return None

    def take_sni(self, tls):
        with self.sni_lock:
            return self.sni_seen.pop(id(tls), None)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--addr", required=True)
    ap.add_argument("--port", type=int, default=25)
    ap.add_argument("--hostname", help="name in the banner and EHLO reply")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--no-starttls", action="store_true")
    ap.add_argument("--tls-max", help="e.g. TLSv1.2")
    ap.add_argument("--chunking", action="store_true")
    ap.add_argument("--reply", action="append", default=[],
                    metavar="CMD=CODE")
    ap.add_argument("--log", required=True)
    ap.add_argument("--data-dir")
    ap.add_argument("--pid-file")
    args = ap.parse_args()
    if args.cert and not args.key:
        ap.error("--cert needs --key")
    if args.data_dir:
        os.makedirs(args.data_dir, exist_ok=True)

    srv = Server(args)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((args.addr, args.port))
    lsock.listen(64)
    if args.pid_file:
        with open(args.pid_file + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(args.pid_file + ".tmp", args.pid_file)
    while True:
        conn, peer = lsock.accept()
        conn.settimeout(300)
        threading.Thread(target=Session(srv, conn, peer).run,
                         daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
