#!/bin/bash
# Failures before the verdict become the errno a real connect() would have
# given: the real connect errno, ETIMEDOUT at the deadline, ECONNREFUSED
# for SMTP failures and refusals; bad arguments and a bad configuration
# fail closed. The relay never hangs.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
relay_env

# Nothing listens on 127.0.2.200:25: the kernel refuses.
drive -- --dest 127.0.2.200 --mx mx1.good.test --domain good.test
assert_verdict refuse ECONNREFUSED
assert_decision verdict=refuse detail=connect-failed "error=\"connect: Connection refused\""

# A server that accepts and never greets: ETIMEDOUT at the deadline
# (MTASTS_TIMEOUT=2 here), and the relay exits.
export MTASTS_TIMEOUT=2
fake_mx 127.0.3.9 silent
relay_mark
drive -- --dest 127.0.3.9 --domain notxt.test
assert_verdict refuse ETIMEDOUT
assert_decision verdict=refuse detail=timeout
verdict_ms=$(printf '%s\n' "$OUT" | sed -n 's/^verdict_ms=//p')
assert_le 1900 "$verdict_ms" "verdict time"
assert_le "$verdict_ms" 3500 "verdict time"
assert_contains "$OUT" "relay_exit=0"

# No route at all (inside the world's namespace only lo exists).
relay_mark
drive --family 6 -- --dest 2001:db8::25 --domain notxt.test
assert_verdict refuse ENETUNREACH
assert_decision detail=connect-failed

# An IPv6 destination on an IPv4 socket cannot be connected.
relay_mark
drive -- --dest ::1 --domain notxt.test
assert_verdict refuse ECONNREFUSED
assert_decision detail=connect-failed

# Usage errors: exit 2, and still a REFUSE verdict so connect() fails closed.
run "$DRIVE" --relay "$RELAY" -- --port 25
assert_contains "$OUT" "verdict=refuse error=ECONNREFUSED"
assert_contains "$OUT" "relay_exit=2"
run "$DRIVE" --relay "$RELAY" -- --dest 127.0.2.1 --port 0
assert_contains "$OUT" "verdict=refuse error=ECONNREFUSED"
assert_contains "$OUT" "relay_exit=2"
run "$DRIVE" --relay "$RELAY" -- --dest 127.0.2.1 --port 25 --bogus
assert_contains "$OUT" "relay_exit=2"

# A configuration error: refused (exit 1), nothing connected.
relay_mark
MTASTS_FALLBACK=sometimes drive -- --dest 127.0.2.1 --mx mx1.good.test --domain good.test
assert_verdict refuse ECONNREFUSED
assert_contains "$OUT" "relay_exit=1"
assert_untouched mx1.good.test

# A CA file that is missing is a configuration error; one that exists
# but holds no certificate fails the TLS set-up: refused either way.
relay_mark
MTASTS_CA_FILE=$TEST_TMP/nothing.pem drive -- --dest 127.0.2.1 --mx mx1.good.test
assert_verdict refuse ECONNREFUSED
assert_contains "$OUT" "relay_exit=1"
echo "not a certificate" > "$TEST_TMP/garbage.pem"
relay_mark
MTASTS_CA_FILE=$TEST_TMP/garbage.pem drive -- --dest 127.0.2.1 --mx mx1.good.test --domain good.test
assert_verdict refuse ECONNREFUSED
assert_contains "$OUT" "relay_exit=0"
assert_decision verdict=refuse detail=tls-setup-failed
assert_match "$(relay_log_since)" 'error: TLS set-up: .*garbage\.pem'
assert_eq "$(smtp_count mx1.good.test message)" 0 "messages"

# --help explains that the relay is not run by hand; fds 3 and 4 missing.
run "$RELAY" --help
assert_eq "$RC" 0
assert_contains "$OUT" "not meant to be run by hand"
run "$RELAY" --dest 127.0.2.1 --port 25
assert_eq "$RC" 2 "without fds 3 and 4"
assert_contains "$ERR" "file descriptors 3 and 4"
