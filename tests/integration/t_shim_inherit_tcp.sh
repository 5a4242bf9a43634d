#!/bin/bash
# A relayed connection handed to a process WITHOUT the shim is an honest
# TCP socket. A wrapped Python process connects (through the real relay)
# to mx1.good.test, then execs a fresh Python with LD_PRELOAD removed and
# the connection on fd 3, as Exim does with "exim -MC" (where the loader
# drops the preload of a set-user-ID program). That process, with no hook
# to dress the fd up, must find a TCP socket of the application's own
# family (AF_INET, or AF_INET6 for an IPv6 socket) connected over
# loopback, and finishes the SMTP session (EHLO, MAIL, RCPT, DATA, QUIT):
# the message arrives over verified TLS. With the old AF_UNIX socketpair
# the inheritor saw AF_UNIX (and Exim crashed on it).
#
# The fallback: with IPv6 disabled on lo (sysctl, in the test's network
# namespace, restored on exit) an IPv6 socket cannot have a loopback TCP
# channel; the shim falls back to the AF_UNIX socketpair, says so once in
# its log, and the delivery still works (the inheritor sees AF_UNIX).
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
relay_env
shim_ready || skip "$BUILD/libmtasts.so is not built"
command -v python3 >/dev/null || skip "python3 is missing"
export MTASTS_DOMAIN=good.test

# The wrapped parent: look the MX up, connect (an IPv6 socket to the
# v4-mapped address: the world's MX listen on IPv4), check what the hooks
# present, exec the inheritor without the shim.
# argv: FAMILY HOST SUBJECT EXPECT
cat > "$TEST_TMP/parent.py" <<'EOF'
import os, socket, sys
family = socket.AF_INET6 if sys.argv[1] == "inet6" else socket.AF_INET
host, subject, expect = sys.argv[2], sys.argv[3], sys.argv[4]
# The look-up teaches the shim the MX name (SNI, policy match).
v4 = socket.getaddrinfo(host, 25, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
addr = v4 if family == socket.AF_INET else "::ffff:" + v4
s = socket.socket(family, socket.SOCK_STREAM)
s.connect((addr, 25))
# Inside the wrapped process the hooks show the original peer.
peer = s.getpeername()
if peer[0] != addr or peer[1] != 25:
    sys.exit("parent: getpeername %r, not %s:25" % (peer, addr))
fd = s.detach()
if fd != 3:
    os.dup2(fd, 3)        # inheritable: FD_CLOEXEC cleared on the copy
    os.close(fd)
os.set_inheritable(3, True)
env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
child = os.path.join(os.path.dirname(os.path.abspath(__file__)), "child.py")
os.execve(sys.executable, [sys.executable, child, subject, expect], env)
EOF

# The inheritor, without the shim: the kernel's view of fd 3, then the
# rest of the SMTP session on it. argv: SUBJECT EXPECT (inet|inet6|unix)
cat > "$TEST_TMP/child.py" <<'EOF'
import os, smtplib, socket, sys
subject, expect = sys.argv[1], sys.argv[2]
if "libmtasts" in os.environ.get("LD_PRELOAD", ""):
    sys.exit("child: the shim is still preloaded")
s = socket.socket(fileno=3)   # family, type, proto from the kernel
want = {"inet": socket.AF_INET, "inet6": socket.AF_INET6,
        "unix": socket.AF_UNIX}[expect]
if s.family != want:
    sys.exit("child: fd 3 is %s, not %s" % (s.family.name, want.name))
if s.getsockopt(socket.SOL_SOCKET, socket.SO_DOMAIN) != want:
    sys.exit("child: SO_DOMAIN disagrees")
if s.type != socket.SOCK_STREAM:
    sys.exit("child: fd 3 is not a stream socket")
if expect != "unix":
    if s.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL) != socket.IPPROTO_TCP:
        sys.exit("child: fd 3 is not TCP")
    peer, local = s.getpeername(), s.getsockname()
    loop = "127.0.0.1" if expect == "inet" else "::1"
    if peer[0] != loop or local[0] != loop or peer[1] == 0:
        sys.exit("child: peer %r local %r, not loopback" % (peer, local))
    nodelay = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    print("family=%s peer=%s nodelay=%d" % (s.family.name, peer[0], nodelay != 0))
else:
    print("family=AF_UNIX")
smtp = smtplib.SMTP()
smtp.sock = s
code, _ = smtp.getreply()
if code != 220:
    sys.exit("child: greeting %d" % code)
smtp.ehlo("client.world.test")
msg = "From: s@sender.test\r\nTo: a@good.test\r\nSubject: %s\r\n\r\nInherited.\r\n" % subject
refused = smtp.sendmail("s@sender.test", ["a@good.test"], msg)
if refused:
    sys.exit("child: refused %r" % refused)
code, _ = smtp.docmd("QUIT")
print("data=250 quit=%d" % code)
EOF

inherit() {	# FAMILY HOST SUBJECT EXPECT
	run via_shim python3 "$TEST_TMP/parent.py" "$@"
	echo "  out: $OUT" >&2
	[ -z "$ERR" ] || echo "  err: $ERR" >&2
}

# IPv4: the inheritor sees AF_INET, peer 127.0.0.1, TCP_NODELAY on.
inherit inet mx1.good.test inherit-v4 inet
assert_eq "$RC" 0 "inheritor exit (IPv4)"
assert_contains "$OUT" "family=AF_INET peer=127.0.0.1 nodelay=1" "inheritor's view (IPv4)"
assert_contains "$OUT" "data=250 quit=221" "inheritor's session (IPv4)"
assert_delivered mx1.good.test inherit-v4 true mx1.good.test
assert_decision domain=good.test mx=mx1.good.test tls=verified verdict=allow

# IPv6 socket: the channel is AF_INET6 over ::1.
relay_mark
inherit inet6 mx1.good.test inherit-v6 inet6
assert_eq "$RC" 0 "inheritor exit (IPv6)"
assert_contains "$OUT" "family=AF_INET6 peer=::1 nodelay=1" "inheritor's view (IPv6)"
assert_contains "$OUT" "data=250 quit=221" "inheritor's session (IPv6)"
assert_delivered mx1.good.test inherit-v6 true mx1.good.test
assert_decision tls=verified verdict=allow
assert_not_contains "$(relay_log_since)" "loopback TCP for family" "shim log (no fallback)"

# Fallback: ::1 gone. The IPv6 socket gets the AF_UNIX socketpair, the
# message still arrives; the shim says why, once.
old=$(sysctl -n net.ipv6.conf.lo.disable_ipv6)
restore_v6() {
	sysctl -q -w net.ipv6.conf.lo.disable_ipv6="$old" || true
}
trap 'restore_v6; fake_stop 2>/dev/null || true' EXIT
sysctl -q -w net.ipv6.conf.lo.disable_ipv6=1 || skip "cannot disable IPv6 on lo"
relay_mark
inherit inet6 mx1.good.test inherit-fallback unix
assert_eq "$RC" 0 "inheritor exit (fallback)"
assert_contains "$OUT" "family=AF_UNIX" "inheritor's view (fallback)"
assert_contains "$OUT" "data=250 quit=221" "inheritor's session (fallback)"
assert_delivered mx1.good.test inherit-fallback true mx1.good.test
assert_decision tls=verified verdict=allow
assert_eq "$(relay_log_since | grep -c 'loopback TCP for family 10 unusable')" 1 "fallback log lines"
# IPv4 sockets keep their TCP channel meanwhile.
relay_mark
inherit inet mx1.good.test inherit-v4-again inet
assert_eq "$RC" 0 "inheritor exit (IPv4, ::1 off)"
assert_contains "$OUT" "family=AF_INET peer=127.0.0.1" "inheritor's view (IPv4, ::1 off)"
assert_delivered mx1.good.test inherit-v4-again true mx1.good.test

restore_v6
trap 'fake_stop 2>/dev/null || true' EXIT
for ((i = 0; i < 50; i++)); do
	ip -6 addr show dev lo | grep -q '::1/128' && break
	sleep 0.1
done
ip -6 addr show dev lo | grep -q '::1/128' || fail "::1 did not come back on lo"
