#!/bin/bash
# The relay is killed (SIGKILL) while the application is in the middle of
# DATA. The application, an unmodified Python client under libmtasts.so,
# must see a closed connection promptly (EOF or a reset, well under a
# second; a hang would take its 20 s socket timeout), never a success: it
# keeps the message. The receiver got no message (the relay never sent
# the final dot), and no relay process is left behind.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/fault_lib.sh"
fault_env
shim_ready || skip "$BUILD/libmtasts.so is not built"
warm good.test

cat > "$TEST_TMP/client.py" <<'PY'
import os, socket, sys, time
ready, go = sys.argv[1], sys.argv[2]
s = socket.create_connection(("mx1.good.test", 25), timeout=20)
f = s.makefile("rb")
def reply():
    while True:
        line = f.readline()
        if not line:
            raise EOFError("connection closed")
        if line[3:4] != b"-":
            return line
assert reply().startswith(b"220")
for cmd, want in ((b"EHLO client.world.test", b"250"), (b"MAIL FROM:<s@sender.test>", b"250"),
                  (b"RCPT TO:<a@good.test>", b"250"), (b"DATA", b"354")):
    s.sendall(cmd + b"\r\n")
    r = reply()
    assert r.startswith(want), r
s.sendall(b"Subject: killed-relay\r\n\r\nfirst half\r\n")
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.01)
t0 = time.monotonic()
try:
    for i in range(50):
        s.sendall(b"more body line %d\r\n" % i)
        time.sleep(0.002)
    s.sendall(b".\r\n")
    r = reply()
    print("UNEXPECTED reply %r" % r)
    sys.exit(1)
except (EOFError, ConnectionError, BrokenPipeError) as e:
    print("closed after %d ms: %s" % ((time.monotonic() - t0) * 1000, type(e).__name__))
    sys.exit(0)
except socket.timeout:
    print("HUNG: socket timeout after %d ms" % ((time.monotonic() - t0) * 1000))
    sys.exit(2)
PY

ready=$TEST_TMP/ready go=$TEST_TMP/go
MTASTS_DOMAIN=good.test via_shim python3 "$TEST_TMP/client.py" "$ready" "$go" \
	> "$TEST_TMP/client.out" 2>&1 &
client=$!
wait_for '[ -e "$ready" ] && echo yes' yes || fail "the client never reached DATA"
pids=$(relay_pids)
assert_eq "$(printf '%s\n' "$pids" | grep -c .)" 1 "relays running during DATA"
kill -KILL "$pids"
t0=$(now_ms)
touch "$go"
set +e
wait "$client"
rc=$?
set -e
t1=$(now_ms)
cat "$TEST_TMP/client.out" >&2
assert_eq "$rc" 0 "client exit (0: it saw the connection close)"
assert_contains "$(cat "$TEST_TMP/client.out")" "closed after"
assert_le "$((t1 - t0))" 2000 "time until the client was done"
ms=$(sed -n 's/^closed after \([0-9]*\) ms.*/\1/p' "$TEST_TMP/client.out")
assert_le "$ms" 1000 "time until the client saw the close"
assert_eq "$(smtp_count mx1.good.test message)" 0 "messages at the receiver"
assert_eq "$(smtp_count mx1.good.test connect)" 1 "connections to the receiver"
# The receiver sees its TLS peer vanish and closes too.
wait_for 'smtp_count mx1.good.test disconnect' 1 || fail "the receiver never saw the session end"
assert_eq "$(relay_pids | grep -c . || true)" 0 "relays left"
