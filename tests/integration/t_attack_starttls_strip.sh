#!/bin/bash
# An on-path attacker between the sender and good.test's listed MX
# (mx1.good.test) removes STARTTLS from the EHLO reply (a "STRIPTLS"
# downgrade). Under enforce the relay refuses (starttls-not-supported,
# starttls-not-offered) before MAIL FROM: no message reaches the real MX,
# and the application's connect() fails, so it keeps the message and
# retries (deferred, not lost). The same proxy, honest, lets the message
# through over verified TLS (the control that proves the proxy path works);
# under testing the downgrade is logged and the message goes in plaintext
# (testing protects nothing, RFC 8461 5).
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/fault_lib.sh"
fault_env
warm good.test
warm testing.test

# Control: an honest on-path proxy in front of mx1.good.test.
evil_mx 127.0.6.10 proxy --upstream 127.0.2.1:25
PROXY_OK_LOG=$EVIL_LOG
drive --mail s@sender.test a@good.test --subject strip-control -- \
	--dest 127.0.6.10 --mx mx1.good.test --domain good.test
assert_verdict relay
assert_decision policy=enforce tls=verified verdict=allow
assert_delivered mx1.good.test strip-control true mx1.good.test
assert_eq "$(evil_count starttls "$PROXY_OK_LOG")" 1 "STARTTLS passed through the proxy"

# The attack, seen by the relay as the shim would start it.
evil_mx 127.0.6.11 strip-proxy --upstream 127.0.2.1:25
relay_mark
drive --mail s@sender.test a@good.test --subject strip-attack -- \
	--dest 127.0.6.11 --mx mx1.good.test --domain good.test
assert_verdict refuse ECONNREFUSED
assert_decision policy=enforce tls=none verdict=refuse \
	reason=starttls-not-supported detail=starttls-not-offered
assert_eq "$(evil_count stripped)" 1 "the proxy stripped STARTTLS"
assert_eq "$(smtp_count mx1.good.test message)" 0 "messages at mx1.good.test"
assert_not_contains "$(cat "$EVIL_LOG")" '"line": "MAIL FROM' "MAIL FROM through the attacker"
assert_not_contains "$(cat "$EVIL_LOG")" '"event": "data"' "DATA through the attacker"

# The same attack on a real, unmodified client under libmtasts.so (swaks,
# connecting to the attacker's address for good.test): connect() fails
# with "Connection refused", swaks keeps the message (exit non-zero).
if shim_ready; then
	relay_mark
	MTASTS_DOMAIN=good.test run via_shim swaks --server 127.0.6.11 --to a@good.test \
		--from s@sender.test --helo client.world.test \
		--header "Subject: strip-swaks" --timeout 10
	assert_ne "$RC" 0 "swaks exit"
	assert_contains "$OUT$ERR" "Connection refused"
	assert_decision policy=enforce verdict=refuse reason=starttls-not-supported
	assert_eq "$(smtp_count mx1.good.test message)" 0 "messages at mx1.good.test"
	assert_not_contains "$(cat "$EVIL_LOG")" 'strip-swaks' "the message at the attacker"
else
	echo "note: $BUILD/libmtasts.so not built: the swaks step is skipped" >&2
fi

# testing: delivered in plaintext, the downgrade logged with its result type.
relay_mark
drive --mail s@sender.test a@testing.test --subject strip-testing -- \
	--dest 127.0.6.11 --mx mx1.good.test --domain testing.test
assert_verdict relay
assert_decision policy=testing tls=none verdict=allow reason=starttls-not-supported
assert_delivered mx1.good.test strip-testing false
