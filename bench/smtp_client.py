#!/usr/bin/env python3
"""smtp_client.py - a plain Python SMTP sender for the benchmarks

SYNOPSIS
    smtp_client.py --host H [--mode plain|starttls] [--ca FILE]
                   [--count N] [--size BYTES] [--threads T] [--rcpt ADDR]

DESCRIPTION
    T threads (default 1) each open one SMTP connection to H:25 and send N
    messages of about BYTES bytes on it (smtplib, RSET between messages
    as smtplib does), then QUIT. With --mode starttls the client does its
    own STARTTLS and verifies the certificate (chain against --ca, a file
    or a hashed directory, and the host name H), as a careful sender would; with --mode plain it speaks
    plaintext, which is what an application under libmtasts.so does (the
    relay adds TLS). Connection errors are counted, not raised.

    Prints one JSON object: {"elapsed_s", "messages", "errors", "first_error"}.
    The clock starts after the message is built and stops when every
    thread is done, so Python's own start-up is not in it.
"""
import argparse
import json
import os
import smtplib
import ssl
import sys
import threading
import time


def build_message(size, subject):
    head = "From: s@sender.test\r\nTo: a@good.test\r\nSubject: %s\r\n\r\n" % subject
    line = ("x" * 76) + "\r\n"
    body = line * max(1, size // len(line))
    return (head + body).encode("ascii")


def one_connection(opts, msg, ctx, result, lock):
    sent = 0
    err = None
    try:
        with smtplib.SMTP(opts.host, 25, local_hostname="client.world.test",
                          timeout=60) as s:
            if opts.mode == "starttls":
                s.starttls(context=ctx)
                s.ehlo("client.world.test")
            for _ in range(opts.count):
                s.sendmail("s@sender.test", [opts.rcpt], msg)
                sent += 1
    except (OSError, smtplib.SMTPException) as e:
        err = "%s: %s" % (type(e).__name__, e)
    with lock:
        result["messages"] += sent
        if err is not None:
            result["errors"] += 1
            result["first_error"] = result["first_error"] or err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--mode", choices=("plain", "starttls"), default="plain")
    ap.add_argument("--ca")
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rcpt", default="a@good.test")
    ap.add_argument("--subject", default="bench")
    opts = ap.parse_args()

    ctx = None
    if opts.mode == "starttls":
        if opts.ca is not None and os.path.isdir(opts.ca):
            ctx = ssl.create_default_context(capath=opts.ca)
        else:
            ctx = ssl.create_default_context(cafile=opts.ca)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    msg = build_message(opts.size, opts.subject)
    result = {"messages": 0, "errors": 0, "first_error": None}
    lock = threading.Lock()
    t0 = time.perf_counter()
    if opts.threads == 1:
        one_connection(opts, msg, ctx, result, lock)
    else:
        threads = [threading.Thread(target=one_connection,
                                    args=(opts, msg, ctx, result, lock))
                   for _ in range(opts.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    result["elapsed_s"] = time.perf_counter() - t0
    json.dump(result, sys.stdout)
    print()
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
