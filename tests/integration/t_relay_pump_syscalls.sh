#!/bin/bash
# The pump's cost per message on a long connection, in system calls: an
# smtplib client sends 5 and then 25 messages on one connection through
# the shim and the relay (TLS to mx1.good.test), the relay under
# `strace -c -f`. The difference of the two runs is the cost of 20
# messages, without the relay's start-up. The pump reads a side only
# when poll() said so (or OpenSSL holds bytes), so a message costs no
# EAGAIN: the old "try every side in every round" loop made ~6 of them
# per message under strace (~20 without), and ~30 system calls.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
relay_env
shim_ready || skip "$BUILD/libmtasts.so is not built"
command -v strace >/dev/null || skip "strace is not installed"
export MTASTS_TIMEOUT=5 MTASTS_DOMAIN=good.test MTASTS_LOG_LEVEL=info
warm good.test

REAL_RELAY=$RELAY
RELAY=$TEST_TMP/relay-strace
cat > "$RELAY" <<EOF
#!/bin/sh
unset LD_PRELOAD
exec strace -f -c -o "\$STRACE_OUT" "$REAL_RELAY" "\$@"
EOF
chmod +x "$RELAY"

cat > "$TEST_TMP/client.py" <<'PY'
import smtplib, sys
count = int(sys.argv[1])
body = b"Subject: pump-syscalls\r\n\r\n" + (b"x" * 76 + b"\r\n") * 25
with smtplib.SMTP("mx1.good.test", 25, local_hostname="client.world.test",
                  timeout=20) as s:
    for _ in range(count):
        s.sendmail("s@sender.test", ["a@good.test"], body)
print("sent", count)
PY

# strace -c's lines: "% secs usecs/call calls [errors] syscall" (errors
# empty when there were none). All calls; the failed reads and writes.
strace_total() {	# FILE -> "calls errors"
	awk '$NF == "total" { calls = $4 }
	     NF == 6 && $NF ~ /^(read|recvfrom|write|sendto)$/ { errors += $5 }
	     END { print calls, errors + 0 }' "$1"
}

# session COUNT: sets CALLS and ERRORS of the relay's whole life.
session() {
	local out=$TEST_TMP/strace-$1 i
	relay_mark
	export STRACE_OUT=$out
	run via_shim python3 "$TEST_TMP/client.py" "$1"
	assert_eq "$RC" 0 "client exit ($1 messages)"
	assert_contains "$OUT" "sent $1"
	# The relay (and strace's summary) may end a moment after the client.
	for ((i = 0; i < 100; i++)); do
		grep -q ' total$' "$out" 2>/dev/null && break
		sleep 0.05
	done
	sed 's/^/  strace| /' "$out" >&2
	read -r CALLS ERRORS < <(strace_total "$out")
	[ -n "$CALLS" ] || fail "no strace summary for $1 messages"
	assert_eq "$(smtp_count mx1.good.test message)" "$1" "messages delivered"
	assert_contains "$(relay_log_since)" "session end " "relay log"
}

session 5
calls_5=$CALLS errors_5=$ERRORS
session 25
calls_25=$CALLS errors_25=$ERRORS

per_msg_x10=$(( (calls_25 - calls_5) * 10 / 20 ))
errors_20=$(( errors_25 - errors_5 ))
echo "  per message: $((per_msg_x10 / 10)).$((per_msg_x10 % 10)) system calls;" \
	"failed reads and writes in 20 messages: $errors_20" >&2
# MAIL, RCPT, DATA, content: 4 turns, each poll + read + write both ways
# (24), plus the RCPT's log line: ~27. The old loop: ~30 under strace.
assert_le "$per_msg_x10" 285 "system calls per message x10"
# A stray EAGAIN now and then (a reply split across segments) is fine;
# one per message is the old loop.
assert_le "$errors_20" 10 "failed reads and writes in 20 messages"
