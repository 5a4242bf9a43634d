#!/usr/bin/env python3
"""bench.py - the measurements of `make bench`, run inside the test world

SYNOPSIS
    python3 bench/bench.py --build DIR --world DIR --logs DIR [SECTION...]
    (started by bench/run, which makes the namespaces and the world)

DESCRIPTION
    Each section measures a pair (with the shim / without it, or ours /
    the alternative) alternately in the same run, so that the drift of a
    busy machine hits both sides alike, and adds rows to one table of
    medians and ratios with the targets of issue 7. A section that fails
    adds a row saying so and the run goes on: a missed target or a broken
    measurement is a line of the table, never a crash.

    Sections: connect exec relay delivery policy bulk concurrency memory
    callgrind (default: all, in that order).

    Delayed ACKs. The world's receiver (Python) leaves Nagle on and, being
    a TLS 1.3 server, writes two session tickets after the handshake: the
    second is held until the client ACKs the first, and the reply to the
    client's first command after STARTTLS then waits for the ACK of the
    second, which the client's kernel delays by ~40 ms. Every TLS client
    in this world pays that once per connection (swaks as much as the
    relay), which would hide the cost of the shim behind a test-server
    artifact. So the loopback route gets `quickack 1` (ACK at once) for all
    measurements except the relay section's row that shows the stall.

    BENCH_QUICK=1 divides the repetitions (a smoke run of about a minute).

    Writes LOGS/results.json (every row with its raw samples) and
    LOGS/table.txt (the printed table).
"""
import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DOMAIN = "good.test"
MX = "mx1.good.test"
BENCH_ADDR = "127.0.8.1"          # our address block: 127.0.8.0/24
SOCKETMAP_PORT = 8461


LOCAL_ROUTE = ["table", "local", "local", "127.0.0.0/8", "dev", "lo", "proto", "kernel",
               "scope", "host", "src", "127.0.0.1"]


def set_quickack(on):
    """Delayed ACKs on (the kernel's default) or off for all of 127/8."""
    subprocess.run(["ip", "route", "change"] + LOCAL_ROUTE + ["quickack", "1" if on else "0"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def median(xs):
    return statistics.median(xs) if xs else float("nan")


class Bench:
    def __init__(self, opts):
        self.build = opts.build
        self.world = opts.world
        self.logs = opts.logs
        self.quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
        self.rows = []
        self.tmp = os.path.join(self.world, "bench")
        os.makedirs(self.tmp, exist_ok=True)
        self.relay = os.path.join(self.build, "mtasts-relay")
        self.shim = os.path.join(self.build, "libmtasts.so")
        self.mtasts = os.path.join(self.build, "mtasts")
        self.ca = os.path.join(self.world, "ca", "ca.pem")
        self.trust, self.bundle = self.make_trust_store()
        self.cache = self.new_cache_dir("warm")
        base = dict(os.environ)
        for k in list(base):
            if k.startswith("MTASTS_") or k == "LD_PRELOAD":
                del base[k]
        base.update({
            "MTASTS_DNS_SERVERS": "127.0.0.53",
            "MTASTS_CA_PATH": self.trust,
            "MTASTS_CACHE_DIR": self.cache,
            "MTASTS_LOG": os.path.join(self.logs, "mtasts.log"),
            "MTASTS_LOG_LEVEL": "info",
            "MTASTS_TIMEOUT": "10",
            "MTASTS_REPORT_DIR": os.path.join(self.tmp, "reports"),
            "MTASTS_EHLO_NAME": "sender.world.test",
        })
        self.env = base
        self.shim_env = dict(base, LD_PRELOAD=self.shim, MTASTS_RELAY=self.relay,
                             MTASTS_DOMAIN=DOMAIN)

    # --- helpers -----------------------------------------------------------

    def n(self, full, quick):
        return quick if self.quick else full

    def new_cache_dir(self, name):
        d = os.path.join(self.tmp, "cache-" + name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d, mode=0o700)
        os.chmod(d, 0o700)
        return d

    def make_trust_store(self):
        """The production trust store plus the world's CA, both ways: a
        hashed directory (what the engine uses by default, /etc/ssl/certs:
        certificates read on demand) and one bundle file (parsed whole by
        every process that names it). Every TLS client of the benchmarks,
        ours and the others, verifies against the same directory."""
        d = os.path.join(self.tmp, "trust")
        os.makedirs(d, exist_ok=True)
        for name in os.listdir("/etc/ssl/certs"):
            if name.endswith(".pem"):
                try:
                    shutil.copyfile(os.path.join("/etc/ssl/certs", name), os.path.join(d, name))
                except OSError:
                    pass
        shutil.copyfile(self.ca, os.path.join(d, "mtasts-world-test-ca.pem"))
        self.run(["openssl", "rehash", d], env=dict(os.environ))
        bundle = os.path.join(self.tmp, "bundle.pem")
        with open(bundle, "wb") as out:
            for src in ("/etc/ssl/certs/ca-certificates.crt", self.ca):
                if os.path.exists(src):
                    with open(src, "rb") as f:
                        out.write(f.read())
        return d, bundle

    def bin(self, name):
        return os.path.join(self.build, "bench", name)

    def run(self, argv, env=None, timeout=120, check=True):
        p = subprocess.run(argv, env=env or self.env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, text=True)
        if check and p.returncode != 0:
            raise RuntimeError("%s exited %d: %s" % (os.path.basename(argv[0]),
                               p.returncode, (p.stderr or p.stdout).strip()[-300:]))
        return p

    def timed(self, argv, env=None, timeout=120):
        t0 = time.perf_counter()
        self.run(argv, env=env, timeout=timeout)
        return time.perf_counter() - t0

    @staticmethod
    def kv(text, key):
        m = re.search(r"\b%s=([0-9.]+)" % re.escape(key), text)
        if not m:
            raise RuntimeError("no %s= in output: %r" % (key, text[-200:]))
        return float(m.group(1))

    def alternate(self, rounds, sides):
        """sides: list of (label, fn returning a number). Each round runs
        every side once, starting with a different one each round."""
        samples = {label: [] for label, _ in sides}
        for r in range(rounds):
            k = r % len(sides)
            for label, fn in sides[k:] + sides[:k]:
                samples[label].append(fn())
        return samples

    def row(self, section, what, a, b=None, unit="", ratio=None, target=None,
            higher_is_better=False, note="", samples=None):
        """a: our side (with the shim), b: the reference (without)."""
        met = None
        if ratio is not None and target is not None:
            met = ratio >= target if higher_is_better else ratio <= target
        self.rows.append({
            "section": section, "what": what, "a": a, "b": b, "unit": unit,
            "ratio": ratio, "target": target, "higher_is_better": higher_is_better,
            "met": met, "note": note, "samples": samples or {},
        })

    def error_row(self, section, exc):
        self.rows.append({"section": section, "what": "ERROR: %s" % exc,
                          "a": None, "b": None, "unit": "", "ratio": None,
                          "target": None, "met": False, "note": "",
                          "samples": {}, "higher_is_better": False})

    def clear_mail_store(self):
        d = os.path.join(self.world, "smtp", "data", MX)
        if os.path.isdir(d):
            for f in os.listdir(d):
                try:
                    os.unlink(os.path.join(d, f))
                except OSError:
                    pass

    def warm_cache(self):
        self.run([self.mtasts, "policy", DOMAIN])

    # --- 1. connect() to a port the shim does not intercept -------------------

    def sec_connect(self):
        rounds, per = self.n(40, 4), self.n(2500, 2500)
        loop = self.bin("connect_loop")

        def side(env):
            return lambda: self.kv(self.run([loop, str(per), BENCH_ADDR], env=env).stdout,
                                   "ns_per_connect")
        s = self.alternate(rounds, [("shim", side(self.shim_env)), ("plain", side(self.env))])
        a, b = median(s["shim"]), median(s["plain"])
        self.row("1 connect", "connect()+accept+close, non-SMTP port (%d x %d)" % (rounds, per),
                 a / 1000, b / 1000, "us", a / b, 1.05, samples=s)

    # --- 2. process start ------------------------------------------------------

    def sec_exec(self):
        count = self.n(1000, 200)
        out = self.run([self.bin("spawn_loop"), str(count), self.shim, "/bin/true"],
                       env=self.shim_env).stdout
        a, b = self.kv(out, "wrapped_us"), self.kv(out, "plain_us")
        self.row("2 exec", "posix_spawn+wait of /bin/true (%d each)" % count,
                 a / 1000, b / 1000, "ms", a / b, 1.10)

    # --- relay start-up (what every intercepted connection pays) ------------------

    def drive(self, *extra, env=None):  # noqa: D401 - one relay, its output
        argv = [os.path.join(self.build, "tests", "helpers", "relay_drive"),
                "--relay", self.relay] + list(extra) + [
                "--", "--port", "25", "--domain", DOMAIN, "--mx", MX,
                "--dest", "127.0.2.1"]
        return self.run(argv, env=env).stdout

    def sec_relay(self):
        self.warm_cache()
        count = self.n(40, 10)
        with_file = dict(self.env, MTASTS_CA_FILE=self.ca)
        with_bundle = dict(self.env, MTASTS_CA_FILE=self.bundle)
        del with_file["MTASTS_CA_PATH"], with_bundle["MTASTS_CA_PATH"]

        def side(env):
            return lambda: self.kv(self.drive(env=env), "verdict_us") / 1000
        s = self.alternate(count, [("dir", side(self.env)), ("file", side(with_file)),
                                   ("bundle", side(with_bundle))])
        out = self.run([self.bin("spawn_loop"), str(count), self.shim, "/bin/true"]).stdout
        true_ms = self.kv(out, "plain_us") / 1000
        a, f, b = median(s["dir"]), median(s["file"]), median(s["bundle"])
        self.relay_stall_rows(self.n(12, 4))
        self.row("3 relay", "relay exec -> verdict, warm cache (TCP+STARTTLS+verify) vs /bin/true",
                 a, true_ms, "ms", a / true_ms, None,
                 note="trust: hashed dir, the default", samples=s)
        self.row("3 relay", "relay exec -> verdict: CA bundle file (%s) vs hashed dir" %
                 "system + test CA", b, a, "ms", b / a, None)
        self.row("3 relay", "relay exec -> verdict: one-certificate CA file vs hashed dir",
                 f, a, "ms", f / a, None)

    def relay_stall_rows(self, rounds):
        """One message through a relay (exec to exit), with the kernel's
        delayed ACKs and with the quickack route: the stall described at
        the top of this file."""
        def one(on):
            def fn():
                set_quickack(on)
                out = self.drive("--mail", "s@sender.test", "a@" + DOMAIN)
                return self.kv(out, "relay_ms")
            return fn
        try:
            s = self.alternate(rounds, [("delayed", one(False)), ("quick", one(True))])
        finally:
            set_quickack(True)
        self.clear_mail_store()
        a, b = median(s["delayed"]), median(s["quick"])
        self.row("3 relay", "relay lifetime, 1 message: delayed ACKs vs quickack route",
                 a, b, "ms", a / b, None, note="test-server stall, see PERFORMANCE.md",
                 samples=s)

    # --- 3. per delivery -----------------------------------------------------------

    def swaks(self, tls):
        argv = ["swaks", "--server", MX, "--to", "a@" + DOMAIN, "--from", "s@sender.test",
                "--helo", "client.world.test", "--header", "Subject: bench",
                "--timeout", "30", "--silent", "2"]
        if tls:
            argv += ["--tls", "--tls-verify", "--tls-ca-path", self.trust]
        return argv

    def sec_delivery(self):
        self.warm_cache()
        rounds = self.n(30, 4)
        s = self.alternate(rounds, [
            ("shim", lambda: self.timed(self.swaks(False), env=self.shim_env)),
            ("own", lambda: self.timed(self.swaks(True))),
            ("plain", lambda: self.timed(self.swaks(False))),
        ])
        self.clear_mail_store()
        a, b, p = (median(s[k]) * 1000 for k in ("shim", "own", "plain"))
        self.row("4 delivery", "swaks, 1 msg/process: shim vs own verified STARTTLS (%d)" % rounds,
                 a, b, "ms", a / b, 1.10, samples=s)
        self.row("4 delivery", "swaks, 1 msg/process: shim vs plaintext, no TLS",
                 a, p, "ms", a / p, None)

        msgs, rounds = self.n(200, 40), self.n(9, 2)
        s = self.alternate(rounds, [
            ("shim", lambda: self.smtp_client("plain", msgs, 2000, env=self.shim_env)),
            ("own", lambda: self.smtp_client("starttls", msgs, 2000)),
            ("plain", lambda: self.smtp_client("plain", msgs, 2000)),
        ])
        self.clear_mail_store()
        a, b, p = (median(s[k]) / msgs * 1000 for k in ("shim", "own", "plain"))
        self.row("4 delivery", "smtplib, %d msgs/connection: shim vs own STARTTLS, per msg" % msgs,
                 a, b, "ms", a / b, 1.10, samples=s)
        self.row("4 delivery", "smtplib, %d msgs/connection: shim vs plaintext, per msg" % msgs,
                 a, p, "ms", a / p, None)
        # What one more process on the path costs per command/reply turn.
        rtt = self.kv(self.run([self.bin("pingpong"), str(self.n(20000, 2000))]).stdout,
                      "rtt_ns") / 1e6
        self.row("4 delivery", "extra per msg (shim - own) vs 4 turns of a process ping-pong",
                 a - b, 4 * rtt, "ms", (a - b) / (4 * rtt), None,
                 note="smtplib: MAIL, RCPT, DATA, body = 4 turns")

    def smtp_client(self, mode, count, size, threads=1, env=None):
        argv = [sys.executable, os.path.join(HERE, "smtp_client.py"), "--host", MX,
                "--mode", mode, "--ca", self.trust, "--count", str(count), "--size", str(size),
                "--threads", str(threads)]
        out = json.loads(self.run(argv, env=env, timeout=300).stdout)
        if out["errors"]:
            raise RuntimeError("smtp_client %s: %d errors, first: %s" %
                               (mode, out["errors"], out["first_error"]))
        return out["elapsed_s"]

    # --- 4. policy decisions ---------------------------------------------------------

    def sec_policy(self):
        self.warm_cache()
        count = self.n(20000, 2000)
        out = self.run([self.bin("policy_decide"), DOMAIN, MX, str(count)]).stdout
        ours_ns = self.kv(out, "ns_per_decision")
        self.row("5 policy", "warm decision in process (cache read+parse+match)",
                 ours_ns / 1000, None, "us", None, None,
                 note="%.0f decisions/s" % self.kv(out, "decisions_per_s"))

        # Debian's postfix-mta-sts-resolver: the daemon's socketmap, warm.
        daemon_us = None
        try:
            daemon_us = self.socketmap_warm_us(self.n(2000, 300))
            self.row("5 policy", "warm: postfix-mta-sts-resolver socketmap vs ours in process",
                     daemon_us, ours_ns / 1000, "us", daemon_us / (ours_ns / 1000), 10.0,
                     higher_is_better=True, note="ratio = how many times faster ours is")
        except Exception as e:  # noqa: BLE001 - a row, not a crash
            self.error_row("5 policy", "mta-sts-daemon: %s" % e)

        rounds = self.n(30, 6)
        check = [self.mtasts, "check", DOMAIN, MX]
        s = self.alternate(rounds, [("check", lambda: self.timed(check))])
        self.row("5 policy", "`mtasts check` per process, warm (exec+TXT query+cache)",
                 median(s["check"]) * 1000, None, "ms", None, None)
        if daemon_us is not None:
            pass

        rounds = self.n(10, 3)
        env_q = dict(self.env, SSL_CERT_FILE=self.bundle)

        def cold_ours():
            env = dict(self.env, MTASTS_CACHE_DIR=self.new_cache_dir("cold"))
            return self.timed([self.mtasts, "policy", DOMAIN], env=env)

        def cold_theirs():
            t = self.timed(["mta-sts-query", DOMAIN], env=env_q)
            return t
        try:
            out = self.run(["mta-sts-query", DOMAIN], env=env_q, timeout=30).stdout
            if "enforce" not in out:
                raise RuntimeError("mta-sts-query did not find the policy: %r" % out[-200:])
            s = self.alternate(rounds, [("ours", cold_ours), ("theirs", cold_theirs)])
            a, b = median(s["ours"]) * 1000, median(s["theirs"]) * 1000
            self.row("5 policy", "cold look-up per process (TXT+HTTPS): ours vs mta-sts-query",
                     a, b, "ms", a / b, None, samples=s)
        except Exception as e:  # noqa: BLE001
            s = self.alternate(rounds, [("ours", cold_ours)])
            self.row("5 policy", "cold look-up per process (TXT+HTTPS), ours",
                     median(s["ours"]) * 1000, None, "ms", None, None)
            self.error_row("5 policy", "mta-sts-query: %s" % e)

    def socketmap_warm_us(self, count):
        conf = os.path.join(self.tmp, "mta-sts-daemon.yml")
        with open(conf, "w") as f:
            f.write("host: %s\nport: %d\nreuse_port: true\ncache:\n  type: internal\n"
                    "  options:\n    cache_size: 10000\ndefault_zone:\n"
                    "  strict_testing: false\n  timeout: 4\n" % (BENCH_ADDR, SOCKETMAP_PORT))
        log = open(os.path.join(self.logs, "mta-sts-daemon.log"), "w")
        env = dict(self.env, SSL_CERT_FILE=self.bundle)
        daemon = subprocess.Popen(["mta-sts-daemon", "-c", conf, "-v", "warn"], env=env,
                                  stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        try:
            sock = None
            for _ in range(200):
                try:
                    sock = socket.create_connection((BENCH_ADDR, SOCKETMAP_PORT), timeout=10)
                    break
                except OSError:
                    if daemon.poll() is not None:
                        raise RuntimeError("mta-sts-daemon exited %d" % daemon.returncode)
                    time.sleep(0.05)
            if sock is None:
                raise RuntimeError("mta-sts-daemon did not listen")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            query = ("postfix %s" % DOMAIN).encode()
            query = b"%d:%s," % (len(query), query)
            first = self.socketmap_ask(sock, query)     # cold: DNS + HTTPS
            if not first.startswith(b"OK secure"):
                raise RuntimeError("unexpected answer %r" % first)
            lat = []
            for _ in range(count):
                t0 = time.perf_counter_ns()
                self.socketmap_ask(sock, query)
                lat.append(time.perf_counter_ns() - t0)
            sock.close()
            return median(lat) / 1000
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            try:
                daemon.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait()
            log.close()

    @staticmethod
    def socketmap_ask(sock, query):
        sock.sendall(query)
        buf = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                raise RuntimeError("socketmap closed")
            buf += chunk
            colon = buf.find(b":")
            if colon > 0 and len(buf) >= colon + 1 + int(buf[:colon]) + 1:
                n = int(buf[:colon])
                return buf[colon + 1:colon + 1 + n]

    # --- 5. bulk ------------------------------------------------------------------------

    def sec_bulk(self):
        self.warm_cache()
        size = self.n(20, 5) * 1000 * 1000
        rounds = self.n(5, 1)

        def side(mode, env):
            def fn():
                t = self.smtp_client(mode, 1, size, env=env)
                self.clear_mail_store()
                return size / t / 1e6
            return fn
        s = self.alternate(rounds, [("shim", side("plain", self.shim_env)),
                                    ("own", side("starttls", None)),
                                    ("plain", side("plain", None))])
        a, b, p = (median(s[k]) for k in ("shim", "own", "plain"))
        self.row("6 bulk", "one %d MB message: shim vs own STARTTLS (throughput)" % (size // 10**6),
                 a, b, "MB/s", a / b, 0.9, higher_is_better=True, samples=s)
        self.row("6 bulk", "one %d MB message: shim vs plaintext (throughput)" % (size // 10**6),
                 a, p, "MB/s", a / p, None, higher_is_better=True)

    # --- 6. concurrency ---------------------------------------------------------------

    def sec_concurrency(self):
        self.warm_cache()
        par, rounds = self.n(50, 10), self.n(5, 1)

        def side(mode, env):
            return lambda: par / self.smtp_client(mode, 1, 2000, threads=par, env=env)
        s = self.alternate(rounds, [("shim", side("plain", self.shim_env)),
                                    ("own", side("starttls", None)),
                                    ("plain", side("plain", None))])
        self.clear_mail_store()
        a, b, p = (median(s[k]) for k in ("shim", "own", "plain"))
        self.row("7 concurrency", "%d deliveries at once: shim vs own STARTTLS" % par,
                 a, b, "msg/s", a / b, None, higher_is_better=True, samples=s)
        self.row("7 concurrency", "%d deliveries at once: shim vs plaintext" % par,
                 a, p, "msg/s", a / p, None, higher_is_better=True)

    # --- 7. memory --------------------------------------------------------------------

    def idle_rss_kb(self, env):
        p = subprocess.Popen(["sleep", "30"], env=env)
        try:
            time.sleep(0.3)
            with open("/proc/%d/status" % p.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
            raise RuntimeError("no VmRSS")
        finally:
            p.kill()
            p.wait()

    def sec_memory(self):
        rounds = self.n(5, 2)
        s = self.alternate(rounds, [("shim", lambda: self.idle_rss_kb(self.shim_env)),
                                    ("plain", lambda: self.idle_rss_kb(self.env))])
        a, b = median(s["shim"]), median(s["plain"])
        self.row("8 memory", "RSS of an idle process (sleep): wrapped vs not",
                 a, b, "KiB", a / b, None, samples=s)
        self.warm_cache()
        # ru_maxrss of the waited-for descendants: relay_drive and the relay.
        code = ("import resource, subprocess, sys\n"
                "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)\n"
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
        argv = [sys.executable, "-c", code,
                os.path.join(self.build, "tests", "helpers", "relay_drive"),
                "--relay", self.relay, "--mail", "s@sender.test", "a@" + DOMAIN,
                "--body-kib", "1024", "--", "--port", "25", "--domain", DOMAIN,
                "--mx", MX, "--dest", "127.0.2.1"]
        peaks = [int(self.run(argv).stdout.strip()) for _ in range(self.n(3, 1))]
        self.clear_mail_store()
        self.row("8 memory", "peak RSS of a relay (1 MiB message, verified TLS)",
                 median(peaks), None, "KiB", None, None)

    # --- callgrind: instruction counts ----------------------------------------------------

    def instructions(self, argv, env=None):
        p = self.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + argv,
                     env=env, timeout=300)
        m = re.search(r"Collected : (\d+)", p.stderr)
        if not m:
            raise RuntimeError("no callgrind total: %s" % p.stderr[-200:])
        return int(m.group(1))

    def sec_callgrind(self):
        if shutil.which("valgrind") is None:
            raise RuntimeError("valgrind is not installed")
        self.warm_cache()
        dec = self.bin("policy_decide")
        i1 = self.instructions([dec, DOMAIN, MX, "1"])
        i2 = self.instructions([dec, DOMAIN, MX, "101"])
        self.row("9 callgrind", "instructions per warm decision (user space)",
                 (i2 - i1) / 100, None, "instr", None, None)
        loop = self.bin("connect_loop")
        per = {}
        for label, env in (("shim", self.shim_env), ("plain", self.env)):
            c1 = self.instructions([loop, "1", BENCH_ADDR], env=env)
            c2 = self.instructions([loop, "101", BENCH_ADDR], env=env)
            per[label] = (c2 - c1) / 100
        self.row("9 callgrind", "instructions per connect cycle, non-SMTP port (user space)",
                 per["shim"], per["plain"], "instr", per["shim"] / per["plain"], None,
                 note="hooks add %.0f" % (per["shim"] - per["plain"]))
        a = self.instructions(["/bin/true"], env=self.shim_env)
        b = self.instructions(["/bin/true"])
        self.row("9 callgrind", "instructions of a whole /bin/true run: wrapped vs not",
                 a, b, "instr", a / b, None, note="loading + constructor add %d" % (a - b))
        # One warm relay connection, exec to exit (verdict, no mail): the
        # relay is relay_drive's child; callgrind reports each process.
        drive = [os.path.join(self.build, "tests", "helpers", "relay_drive"),
                 "--relay", self.relay, "--", "--port", "25", "--domain", DOMAIN,
                 "--mx", MX, "--dest", "127.0.2.1"]
        p = self.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                      "--trace-children=yes"] + drive, timeout=300)
        pids, total = [], {}
        for pid, n in re.findall(r"==(\d+)== Collected : (\d+)", p.stderr):
            pids.append(pid)
            total[pid] = int(n)
        first_seen = [pid for pid in re.findall(r"==(\d+)==", p.stderr)]
        relay_pids = [x for x in dict.fromkeys(first_seen) if x in total][1:]
        if not relay_pids:
            raise RuntimeError("no callgrind total for the relay")
        self.row("9 callgrind", "instructions of one warm relay (exec to exit, verdict only)",
                 total[relay_pids[0]], None, "instr", None, None)

    # --- output -------------------------------------------------------------------------

    def table(self):
        def num(x):
            if x is None:
                return "-"
            if abs(x) >= 1000:
                return "%.0f" % x
            if abs(x) >= 10:
                return "%.1f" % x
            return "%.3g" % x
        lines = []
        head = ("section", "measure", "ours/with", "ref/without", "unit", "ratio", "target", "met")
        body = []
        for r in self.rows:
            tgt = "-"
            if r["target"] is not None:
                tgt = (">= " if r["higher_is_better"] else "<= ") + "%g" % r["target"]
            met = {True: "yes", False: "NO", None: "-"}[r["met"]]
            what = r["what"] + (" [%s]" % r["note"] if r["note"] else "")
            body.append((r["section"], what, num(r["a"]), num(r["b"]), r["unit"],
                         "-" if r["ratio"] is None else "%.3f" % r["ratio"], tgt, met))
        widths = [max(len(str(x[i])) for x in [head] + body) for i in range(len(head))]
        fmt = "| " + " | ".join("%%-%ds" % w for w in widths) + " |"
        lines.append(fmt % head)
        lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        lines += [fmt % b for b in body]
        return "\n".join(lines)


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%d cores, %s, Linux %s, load %.2f" % (os.cpu_count() or 0, cpu,
                                                  platform.release(), os.getloadavg()[0])


SECTIONS = ["connect", "exec", "relay", "delivery", "policy", "bulk", "concurrency",
            "memory", "callgrind"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--world", required=True)
    ap.add_argument("--logs", required=True)
    ap.add_argument("sections", nargs="*")
    opts = ap.parse_args()
    for s in opts.sections:
        if s not in SECTIONS:
            print("bench: unknown section %s (known: %s)" % (s, " ".join(SECTIONS)),
                  file=sys.stderr)
            return 2
    b = Bench(opts)
    for tool in (b.relay, b.shim, b.mtasts, b.bin("connect_loop")):
        if not os.path.exists(tool):
            print("bench: %s is missing (make bench builds it)" % tool, file=sys.stderr)
            return 1
    print("# machine: %s%s" % (machine(), " (BENCH_QUICK)" if b.quick else ""), flush=True)
    try:
        set_quickack(True)
    except (OSError, subprocess.CalledProcessError) as e:
        print("# warning: cannot set the quickack route (%s): TLS rows include "
              "~40 ms delayed-ACK stalls" % e, flush=True)
    t_all = time.perf_counter()
    for name in opts.sections or SECTIONS:
        t0 = time.perf_counter()
        try:
            getattr(b, "sec_" + name)()
        except Exception as e:  # noqa: BLE001 - the table must still be printed
            b.error_row(name, "%s: %s" % (type(e).__name__, e))
        print("# %s: %.1f s" % (name, time.perf_counter() - t0), flush=True)
    text = b.table()
    print(text)
    missed = [r for r in b.rows if r["met"] is False]
    summary = "# %d rows, %d targets missed or errors, %.0f s; raw samples in %s" % (
        len(b.rows), len(missed), time.perf_counter() - t_all,
        os.path.join(opts.logs, "results.json"))
    print(summary)
    with open(os.path.join(opts.logs, "table.txt"), "w") as f:
        f.write("# machine: %s\n%s\n%s\n" % (machine(), text, summary))
    with open(os.path.join(opts.logs, "results.json"), "w") as f:
        json.dump({"machine": machine(), "quick": b.quick, "rows": b.rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
