#!/bin/bash
# The host process is out of file descriptors (RLIMIT_NOFILE 64, every
# free number taken but the one its socket() got): the shim cannot make
# the socket pair it needs to hand the connection to the relay. connect()
# must fail cleanly with a sane errno (EMFILE/ENFILE/ECONNREFUSED, never
# success with nothing behind it), the process must not crash, the socket
# must stay a valid fd, and no fd may leak (the /proc/self/fd set is the
# same before socket() and after close()). With a few fds freed the very
# same process then delivers normally, over verified TLS: exactly one
# message arrives.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/fault_lib.sh"
fault_env
shim_ready || skip "$BUILD/libmtasts.so is not built"
warm good.test

cat > "$TEST_TMP/client.py" <<'PY'
import errno, os, resource, smtplib, socket, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
addr = socket.getaddrinfo("mx1.good.test", 25, socket.AF_INET)[0][4]
def fds():
    return sorted(os.listdir("/proc/self/fd"))
hogs = []
while True:
    try:
        hogs.append(os.open("/dev/null", os.O_RDONLY))
    except OSError as e:
        assert e.errno == errno.EMFILE, e
        break
os.close(hogs.pop())                 # one free number: for the socket
before = fds()
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    s.connect(addr)
    print("UNEXPECTED: connected with no fd to spare")
    sys.exit(1)
except OSError as e:
    name = errno.errorcode.get(e.errno, str(e.errno))
    print("connect failed: %s" % name)
    if name not in ("EMFILE", "ENFILE", "ECONNREFUSED"):
        print("UNEXPECTED errno")
        sys.exit(1)
os.fstat(s.fileno())                 # still a valid fd
s.close()
after = fds()
if before != after:
    print("LEAK: fds before %s after %s" % (before, after))
    sys.exit(1)
print("no fd leaked")
for _ in range(8):
    os.close(hogs.pop())
with smtplib.SMTP("mx1.good.test", 25, local_hostname="client.world.test", timeout=10) as c:
    c.sendmail("s@sender.test", ["a@good.test"], "Subject: fd-recovered\r\n\r\nhi\r\n")
print("delivered after freeing fds")
PY

MTASTS_DOMAIN=good.test run via_shim python3 "$TEST_TMP/client.py"
assert_eq "$RC" 0 "client exit"
assert_match "$OUT" "^connect failed: (EMFILE|ENFILE|ECONNREFUSED)$"
assert_contains "$OUT" "no fd leaked"
assert_contains "$OUT" "delivered after freeing fds"
assert_delivered mx1.good.test fd-recovered true mx1.good.test
assert_decision policy=enforce tls=verified verdict=allow
