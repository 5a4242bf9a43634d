#!/usr/bin/env python3
"""tlsrpt_collector.py - an HTTPS endpoint for TLSRPT reports (RFC 8460 5.4)

A test server for tests/integration/t_report_*.sh, standard library only.
It listens with TLS (a world certificate) and answers every POST with the
next status of --status (the last one repeats; default 200). Each POST is
kept: the body as DIR/<n>.body, and one JSON line in DIR/posts.jsonl,
written with one write() per line:

  {"n": 1, "path": "/v1", "host": "tlsrpt.report.test",
   "content_type": "application/tlsrpt+gzip", "length": 812,
   "status": 200, "sha256": "...", "user_agent": "..."}

Anything but POST gets 405. --pid-file is written once the socket listens.

  tlsrpt_collector.py --addr 127.0.4.1 --port 443 --cert C --key K \
      --dir D [--status 500,200] [--pid-file F]
"""
import argparse
import hashlib
import http.server
import json
import os
import ssl
import sys
import threading

MAX_BODY = 16 * 1024 * 1024


class Collector:
    def __init__(self, directory, statuses):
        self.dir = directory
        self.statuses = statuses
        self.count = 0
        self.lock = threading.Lock()

    def take(self, handler, body):
        with self.lock:
            self.count += 1
            n = self.count
            status = self.statuses[min(n - 1, len(self.statuses) - 1)]
            with open(os.path.join(self.dir, "%d.body" % n), "wb") as f:
                f.write(body)
            line = json.dumps({
                "n": n,
                "path": handler.path,
                "host": handler.headers.get("Host", ""),
                "content_type": handler.headers.get("Content-Type", ""),
                "length": len(body),
                "status": status,
                "sha256": hashlib.sha256(body).hexdigest(),
                "user_agent": handler.headers.get("User-Agent", ""),
            }, sort_keys=True) + "\n"
            fd = os.open(os.path.join(self.dir, "posts.jsonl"),
                         os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
            return status


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tlsrpt-collector/1"

    def log_message(self, fmt, *args):
        sys.stderr.write("collector: " + (fmt % args) + "\n")

    def _reply(self, status, text):
        data = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._reply(411, "length required")
            return
        if length < 0 or length > MAX_BODY:
            self._reply(413, "too large")
            return
        body = self.rfile.read(length)
        status = self.server.collector.take(self, body)
        self._reply(status, "stored" if 200 <= status < 300 else "refused")

    def do_GET(self):
        self._reply(405, "POST only")

    do_PUT = do_DELETE = do_HEAD = do_GET


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--status", default="200")
    ap.add_argument("--pid-file")
    a = ap.parse_args()

    os.makedirs(a.dir, exist_ok=True)
    statuses = [int(s) for s in a.status.split(",")]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(a.cert, a.key)
    srv = http.server.ThreadingHTTPServer((a.addr, a.port), Handler)
    srv.daemon_threads = True
    srv.collector = Collector(a.dir, statuses)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    if a.pid_file:
        with open(a.pid_file + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(a.pid_file + ".tmp", a.pid_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
