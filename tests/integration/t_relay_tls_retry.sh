#!/bin/bash
# A TLS handshake that fails (the server resets it) is not a certificate
# failure: under a testing policy or fallback "may" the relay connects
# again to the same address, in plaintext, and the message is delivered
# (RFC 8461 section 5: testing delivers anyway; opportunistic TLS, as
# Postfix's "may"); the failure is logged tls=failed-retried-plain with
# reason=validation-failure. Under enforce the connection is still refused
# and nothing is sent. Servers on 127.0.9.0/24 (this area's block).
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/fault_lib.sh"
fault_env
export MTASTS_TIMEOUT=3
warm good.test
warm testing.test
spool() { cat "$MTASTS_REPORT_DIR"/spool/* 2>/dev/null || true; }
# record_for DOMAIN N: field N (3 domain, 10 result, 11 reason)
record_for() { spool | awk -F'\t' -v d="$1" -v n="$2" '$3 == d { print $n }'; }
MX1=(--cert "$WORLD/ca/mx1.good.test.pem" --key "$WORLD/ca/mx1.good.test.key"
	--hostname mx1.good.test)

# testing.test (mode testing, mx1 listed): reset, retry, delivered.
evil_mx 127.0.9.1 reset-handshake "${MX1[@]}"
relay_mark
drive --mail s@sender.test a@testing.test --subject retry-testing -- \
	--dest 127.0.9.1 --mx mx1.good.test --domain testing.test
assert_verdict relay
assert_decision domain=testing.test policy=testing verdict=allow \
	tls=failed-retried-plain reason=validation-failure detail=handshake-failed
assert_contains "$(relay_log_since)" "retrying in plaintext on a new connection"
assert_eq "$(evil_count reset)" 1 "the handshake was reset once"
assert_eq "$(evil_count connect)" 2 "two connections"
assert_eq "$(evil_count message)" 1 "delivered after the retry"
assert_contains "$(cat "$EVIL_LOG")" '"subject": "retry-testing"'
assert_contains "$(cat "$EVIL_LOG")" '"tls": false'
assert_eq "$(grep -c '"line": "STARTTLS"' "$EVIL_LOG")" 1 \
	"STARTTLS on the first leg only"
assert_eq "$(record_for testing.test 10)" validation-failure "TLSRPT result"
assert_contains "$(record_for testing.test 11)" "reset by peer" "TLSRPT reason"

# No domain known, fallback may: the same.
evil_mx 127.0.9.2 reset-handshake "${MX1[@]}"
relay_mark
MTASTS_FALLBACK=may drive --mail s@sender.test a@unknown.test \
	--subject retry-may -- --dest 127.0.9.2 --mx mx1.good.test
assert_verdict relay
assert_decision verdict=allow tls=failed-retried-plain detail=handshake-failed
assert_eq "$(evil_count connect)" 2 "two connections (may)"
assert_eq "$(evil_count message)" 1 "delivered after the retry (may)"

# Fallback encrypt: refused, one connection, nothing sent.
evil_mx 127.0.9.3 reset-handshake "${MX1[@]}"
relay_mark
MTASTS_FALLBACK=encrypt drive --mail s@sender.test a@unknown.test \
	--subject retry-encrypt -- --dest 127.0.9.3 --mx mx1.good.test
assert_verdict refuse ECONNREFUSED
assert_eq "$(evil_count connect)" 1 "no retry under encrypt"
assert_eq "$(evil_count message)" 0 "nothing delivered (encrypt)"

# good.test (enforce): refused, no retry, nothing sent.
evil_mx 127.0.9.4 reset-handshake "${MX1[@]}"
relay_mark
drive --mail s@sender.test a@good.test --subject retry-enforce -- \
	--dest 127.0.9.4 --mx mx1.good.test --domain good.test
assert_verdict refuse ECONNREFUSED
assert_decision domain=good.test policy=enforce verdict=refuse tls=none \
	reason=validation-failure detail=handshake-failed
assert_eq "$(evil_count connect)" 1 "no retry under enforce"
assert_eq "$(evil_count message)" 0 "nothing delivered (enforce)"
assert_not_contains "$(cat "$EVIL_LOG")" '"line": "MAIL FROM' "no plaintext MAIL"
