#!/bin/bash
# The held MAIL (docs/RCPT.md), seen from a receiver that logs every
# command: swaks connects to an address literal under the shim (no domain
# known), so the relay holds MAIL FROM until a recipient is allowed.
#  1. a domain-literal recipient (no policy: allowed): the receiver gets
#     MAIL, then RCPT, then the message;
#  2. u@rogue.test only (enforce, this plaintext server cannot satisfy it):
#     deferred 450, and the receiver never sees MAIL FROM;
#  3. the receiver refuses the sender (550): the held MAIL goes out with
#     the allowed RCPT, and swaks gets the 550 on that recipient.
# The receiver listens on 127.0.9.20 (this area's block), no STARTTLS.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
relay_env
shim_ready || skip "$BUILD/libmtasts.so is not built"
command -v swaks >/dev/null || skip "swaks is not installed"
export MTASTS_LOG_LEVEL=info
unset MTASTS_DOMAIN

ADDR=127.0.9.20
CMDLOG=$TEST_TMP/hold-commands.log
: > "$CMDLOG"
python3 - "$ADDR" "$CMDLOG" > "$TEST_TMP/hold-server.err" 2>&1 <<'PY' &
import socket, sys, threading
addr, logf = sys.argv[1], sys.argv[2]
def log(line):
    with open(logf, "a") as f:
        f.write(line + "\n")
def serve(c):
    try:
        talk(c)
    finally:
        c.close()
def talk(c):
    f = c.makefile("rwb")
    def say(t):
        f.write(t.encode() + b"\r\n"); f.flush()
    say("220 hold.test ESMTP")
    have_mail = False
    while True:
        line = f.readline()
        if not line:
            return
        line = line.decode("utf-8", "replace").rstrip("\r\n")
        log(line)
        verb = line.split(" ", 1)[0].split(":", 1)[0].upper()
        if verb in ("EHLO", "HELO"):
            say("250-hold.test"); say("250 PIPELINING")
        elif verb == "MAIL":
            if "bad@" in line:
                say("550 5.7.1 sender refused here")
            else:
                have_mail = True; say("250 2.1.0 ok")
        elif verb == "RCPT":
            say("250 2.1.5 ok" if have_mail else "503 5.5.1 need MAIL")
        elif verb == "DATA":
            say("354 go")
            while True:
                l = f.readline()
                if not l or l.rstrip(b"\r\n") == b".":
                    break
            log("<message>"); have_mail = False; say("250 2.0.0 queued")
        elif verb == "RSET":
            have_mail = False; say("250 ok")
        elif verb == "QUIT":
            say("221 bye"); f.close(); return
        else:
            say("502 no")
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, 25)); s.listen(8)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true' EXIT
for ((i = 0; i < 100; i++)); do
	grep -q ready "$TEST_TMP/hold-server.err" 2>/dev/null && break
	sleep 0.05
done
grep -q ready "$TEST_TMP/hold-server.err" || fail "receiver did not start"

# session_end: the relay's last line for this session (it may come just
# after swaks has exited), waited for up to 5 s.
session_end() {
	local i
	for ((i = 0; i < 100; i++)); do
		relay_log_since | grep -q 'session end' && break
		sleep 0.05
	done
	relay_log_since | grep 'session end' | tail -n 1
}

hold_swaks() {
	run via_shim swaks --server "$ADDR" --helo client.world.test \
		--timeout 10 "$@"
	echo "  relay log:" >&2
	relay_log_since | sed 's/^/  log| /' >&2
}

# 1. allowed recipient: MAIL goes out, in front of the RCPT.
relay_mark
: > "$CMDLOG"
hold_swaks --from s@sender.test --to "u@[$ADDR]" --header "Subject: hold-1"
assert_eq "$RC" 0 "swaks exit (allowed)"
assert_contains "$OUT" "250 2.1.0 Sender OK (held by MTA-STS relay)"
assert_eq "$(grep -E '^(MAIL|RCPT|<message>)' "$CMDLOG" | tr '\n' '|')" \
	"MAIL FROM:<s@sender.test>|RCPT TO:<u@[$ADDR]>|<message>|" "receiver's commands"
assert_contains "$(session_end)" "mail_held=1 mail_sent=1"

# 2. every recipient deferred: the receiver never sees MAIL FROM.
relay_mark
: > "$CMDLOG"
hold_swaks --from s@sender.test --to u@rogue.test --header "Subject: hold-2"
assert_ne "$RC" 0 "swaks exit (deferred)"
assert_contains "$OUT" "450 4.7.4 MTA-STS: policy of rogue.test"
assert_not_contains "$(cat "$CMDLOG")" "MAIL FROM" "receiver's commands"
assert_not_contains "$(cat "$CMDLOG")" "RCPT TO" "receiver's commands"
assert_contains "$(session_end)" "mail_held=1 mail_sent=0"

# 3. the receiver refuses the sender: swaks sees that on the recipient.
relay_mark
: > "$CMDLOG"
hold_swaks --from bad@sender.test --to "u@[$ADDR]" --header "Subject: hold-3"
assert_ne "$RC" 0 "swaks exit (sender refused)"
assert_match "$OUT" '^<\*\* +550 5\.7\.1 sender refused here' "the 550 on RCPT"
assert_not_contains "$OUT" "503 5.5.1" "the server's 503 is replaced"
assert_contains "$(cat "$CMDLOG")" "MAIL FROM:<bad@sender.test>"
assert_not_contains "$(cat "$CMDLOG")" "<message>" "no message"
