#!/usr/bin/env python3
"""evil_policy.py - a hostile MTA-STS policy host (HTTPS) for fault tests

  evil_policy.py --addr 127.0.6.N --mode MODE --cert C --key K
                 --log FILE --pid-file FILE [--port 443] [--body FILE]

Completes TLS with the certificate given, reads one request and answers
it in MODE; one JSON line per event goes to FILE (connect, request with
host and path, sent with the byte count when the connection ends).

Modes:
  stall-body  "200 OK", text/plain, Content-Length 4096, the first 100
              bytes of a valid policy, then nothing more (connection open)
  endless     "200 OK", text/plain, no length, then body bytes as fast as
              the client reads them, forever (a valid policy followed by
              an endless padding field)
  serve       "200 OK", text/plain, the --body file (a well-behaved host,
              used to count requests)
  not-found   "404 Not Found" to every request (a host that fails)

Why: the world's nginx cannot be made to misbehave mid-body; these are
the two ways a policy host can hold a sender's resources (time and
memory) hostage after it has started to answer.
"""
import argparse
import os
import socket
import ssl
import threading
import time

from jsonlog import log

POLICY = (b"version: STSv1\nmode: enforce\nmx: mx1.good.test\n"
          b"max_age: 86400\n")


def read_request(conn):
    buf = b""
    while b"\r\n\r\n" not in buf and len(buf) < 16384:
        chunk = conn.recv(4096)
        if not chunk:
            return None, None
        buf += chunk
    head = buf.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    parts = head[0].split(" ")
    path = parts[1] if len(parts) > 1 else ""
    host = ""
    for h in head[1:]:
        if h.lower().startswith("host:"):
            host = h[5:].strip()
    return host, path


def serve(args, ctx, raw):
    sent = 0
    log(args.log, event="connect")
    try:
        conn = ctx.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError) as e:
        log(args.log, event="tls-failed", error=str(e))
        raw.close()
        return
    try:
        host, path = read_request(conn)
        log(args.log, event="request", host=host, path=path)
        if args.mode == "stall-body":
            body = POLICY + b"x-pad: " + b"a" * 200
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                         b"Content-Length: 4096\r\n\r\n" + body[:100])
            sent = 100
            time.sleep(3600)
        elif args.mode == "endless":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                         b"Connection: close\r\n\r\n" + POLICY + b"x-pad: ")
            chunk = b"a" * 16384
            while True:
                conn.sendall(chunk)
                sent += len(chunk)
        elif args.mode == "not-found":
            conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")
        else:
            with open(args.body, "rb") as f:
                body = f.read()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                         % len(body) + body)
            sent = len(body)
    except OSError:
        pass
    finally:
        log(args.log, event="sent", bytes=sent)
        try:
            conn.close()
        except OSError:
            pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, default=443)
    p.add_argument("--mode", required=True,
                   choices=["stall-body", "endless", "serve", "not-found"])
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--pid-file", required=True)
    p.add_argument("--body")
    args = p.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((args.addr, args.port))
    ls.listen(16)
    with open(args.pid_file + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(args.pid_file + ".tmp", args.pid_file)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(args, ctx, conn),
                         daemon=True).start()


if __name__ == "__main__":
    main()
