#!/bin/bash
# Every verdict, and every way of not getting one, gives connect() the
# result and errno the contract says: REFUSE its error, HANDOFF a real
# connect, anything malformed or missing fails closed with ECONNREFUSED
# (ETIMEDOUT when nothing came in time), and the fd stays a valid,
# unconnected TCP socket with its flags.
set -euo pipefail
. "$(dirname "$0")/../helpers/shim_lib.sh"
shim_setup
MX=127.0.2.1

verdict() {	# verdict MODE ERRNO
	relay_reset
	FAKE_RELAY_MODE=$1 assert_exit 0 client -e "$2" expect-errno $MX 25
	assert_eq "$(relay_runs)" 1 "relay runs for $1"
	relay_env_ok
}
verdict refuse ECONNREFUSED
verdict refuse:ETIMEDOUT ETIMEDOUT
verdict refuse:ENETUNREACH ENETUNREACH
verdict refuse:EHOSTUNREACH EHOSTUNREACH
verdict refuse:EACCES EACCES
verdict refuse:0 ECONNREFUSED		# no error given: refused
verdict refuse:EINPROGRESS ECONNREFUSED	# never "in progress"
verdict garbage ECONNREFUSED
verdict badversion ECONNREFUSED
verdict short ECONNREFUSED
verdict eof ECONNREFUSED
assert_contains "$(cat "$SHIM_LOG")" "refused: Connection timed out"
assert_contains "$(cat "$SHIM_LOG")" "no valid verdict from relay, failing closed"

# The relay's refusal reached nobody: no connection to the receiver.
assert_eq "$(smtp_count mx1.good.test connect)" 0 "connections after refusals"

# HANDOFF: the shim connects by itself, the session is plain.
relay_reset
world_mark
FAKE_RELAY_MODE=handoff assert_exit 0 client -i verdicts-handoff sockopt $MX 25
FAKE_RELAY_MODE=handoff assert_exit 0 client -i verdicts-handoff blocking $MX 25
assert_contains "$(cat "$SHIM_LOG")" "handed back"
assert_eq "$(smtp_log mx1.good.test | grep -c '"subject": "shim test verdicts-handoff"')" 2

# A relay that never answers: ETIMEDOUT after MTASTS_TIMEOUT + 5 s.
relay_reset
MTASTS_TIMEOUT=1 FAKE_RELAY_MODE=sleep:20 assert_exit 0 client -e ETIMEDOUT expect-errno $MX 25
assert_le 5500 "$ELAPSED_MS" "wait before ETIMEDOUT (ms)"
assert_le "$ELAPSED_MS" 9000 "wait before ETIMEDOUT (ms)"
assert_contains "$(cat "$SHIM_LOG")" "no verdict in time"

# A slow verdict within the deadline is waited for.
relay_reset
FAKE_RELAY_DELAY_MS=1500 assert_exit 0 client -i verdicts-slow blocking $MX 25

# No relay to start: fail closed, nothing connects.
world_mark
MTASTS_RELAY=$TEST_TMP/no-such-relay assert_exit 0 client -e ECONNREFUSED expect-errno $MX 25
assert_contains "$(cat "$SHIM_LOG")" "cannot run $TEST_TMP/no-such-relay: No such file or directory"
printf '#!/bin/sh\nexit 0\n' > "$TEST_TMP/not-exec"
MTASTS_RELAY=$TEST_TMP/not-exec assert_exit 0 client -e ECONNREFUSED expect-errno $MX 25
assert_contains "$(cat "$SHIM_LOG")" "Permission denied"
assert_eq "$(smtp_count mx1.good.test connect)" 0 "connections without a relay"

# Non-blocking socket, refused: -1 ECONNREFUSED at once, not EINPROGRESS.
relay_reset
FAKE_RELAY_MODE=refuse assert_exit 1 client nonblock $MX 25
assert_contains "$ERR" "Connection refused"
