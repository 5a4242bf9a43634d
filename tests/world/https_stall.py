#!/usr/bin/env python3
"""https_stall.py - policy hosts that never finish answering

Two misbehaving HTTPS servers for the timeout tests of the policy fetch
(RFC 8461 section 3.3 leaves the timeout to the sender; mtasts uses
MTASTS_TIMEOUT for connect + transfer):

  --mode silent  completes the TLS handshake, reads the request, and never
                 answers (a fetch must give up after its timeout);
  --mode drip    answers "200 OK", text/plain, Content-Length of a valid
                 policy, then sends the body one byte every --interval
                 seconds, so that no single read ever times out and only a
                 bound on the whole transfer stops it.

Each connection is logged as one JSON line to --log. --pid-file is written
once the socket listens. Standard library only.
"""
import argparse
import json
import os
import socket
import ssl
import sys
import threading
import time

POLICY = (b"version: STSv1\nmode: enforce\nmx: mx1.good.test\n"
          b"max_age: 86400\n")


def log_line(path, lock, **fields):
    fields["time"] = time.time()
    with lock:
        with open(path, "a") as f:
            f.write(json.dumps(fields, sort_keys=True) + "\n")


def serve(conn, peer, args, ctx, lock):
    peer = "%s:%d" % peer[:2]
    log_line(args.log, lock, event="connect", peer=peer)
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
        tls.settimeout(600)
        request = b""
        while b"\r\n\r\n" not in request and len(request) < 16384:
            chunk = tls.recv(4096)
            if not chunk:
                return
            request += chunk
        log_line(args.log, lock, event="request", peer=peer,
                 line=request.split(b"\r\n", 1)[0].decode("ascii", "replace"))
        if args.mode == "silent":
            while tls.recv(4096):
                pass
            return
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                    % len(POLICY))
        for i in range(len(POLICY)):
            tls.sendall(POLICY[i:i + 1])
            time.sleep(args.interval)
    except (OSError, ssl.SSLError) as e:
        log_line(args.log, lock, event="error", peer=peer, error=str(e))
    finally:
        log_line(args.log, lock, event="disconnect", peer=peer)
        try:
            conn.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--addr", required=True)
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--mode", choices=("silent", "drip"), required=True)
    ap.add_argument("--interval", type=float, default=0.5)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--pid-file")
    args = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    lock = threading.Lock()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((args.addr, args.port))
    lsock.listen(16)
    if args.pid_file:
        with open(args.pid_file + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(args.pid_file + ".tmp", args.pid_file)
    while True:
        conn, peer = lsock.accept()
        threading.Thread(target=serve, args=(conn, peer, args, ctx, lock),
                         daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
