#!/bin/bash
# A listed MX of an enforce domain (good.test) that breaks the session in
# the ways RFC 8461 5 asks a sender to survive: a TCP reset during the TLS
# handshake, silence after "220 go ahead" (bounded by MTASTS_TIMEOUT),
# 4xx and 5xx answers to STARTTLS, binary garbage as greeting, as EHLO
# reply and instead of a ServerHello. Each is refused before any message
# byte leaves (the application's connect() fails, so it keeps the message
# and retries later), promptly, and the relay exits by itself.
# (454 and a plain no-STARTTLS server: t_relay_enforce_starttls.)
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/fault_lib.sh"
fault_env
export MTASTS_TIMEOUT=2
warm good.test
MX1=(--cert "$WORLD/ca/mx1.good.test.pem" --key "$WORLD/ca/mx1.good.test.key"
	--hostname mx1.good.test)

# mail_refused ADDR ERRNO MAX_MS: a delivery for good.test whose MX is
# mx1.good.test at ADDR is refused with ERRNO within MAX_MS, no message
# reached the server, and the relay exited (status 0).
mail_refused() {
	local addr=$1 errno=$2 max_ms=$3 ms
	relay_mark
	drive --mail s@sender.test a@good.test --subject "fault-$addr" -- \
		--dest "$addr" --mx mx1.good.test --domain good.test
	assert_verdict refuse "$errno"
	assert_decision domain=good.test mx=mx1.good.test policy=enforce verdict=refuse
	ms=$(printf '%s\n' "$OUT" | sed -n 's/^verdict_ms=//p')
	assert_le "$ms" "$max_ms" "verdict time ($addr)"
	assert_contains "$OUT" "relay_exit=0"
	assert_eq "$(evil_count message)" 0 "messages at $addr"
}

# A TCP reset in the middle of the TLS handshake.
evil_mx 127.0.6.1 reset-handshake "${MX1[@]}"
mail_refused 127.0.6.1 ECONNREFUSED 1500
assert_eq "$(evil_count reset)" 1 "the server reset the handshake"
assert_decision tls=none reason=validation-failure detail=handshake-failed

# "220 go ahead", then nothing: ETIMEDOUT at the deadline (2 s), not later.
evil_mx 127.0.6.2 stall-starttls "${MX1[@]}"
mail_refused 127.0.6.2 ETIMEDOUT 3500
assert_le 1800 "$(printf '%s\n' "$OUT" | sed -n 's/^verdict_ms=//p')" "stall not cut short"
assert_decision detail=timeout
assert_eq "$(evil_count starttls)" 1 "STARTTLS asked"

# STARTTLS answered 554 (permanent) and 421 (closing): refused, never
# plaintext under enforce; a 5xx to STARTTLS is still a deferral for the
# application (connect refused), not a bounce.
evil_mx 127.0.6.3 starttls-code "${MX1[@]}" --code 554
mail_refused 127.0.6.3 ECONNREFUSED 1500
assert_decision tls=none reason=starttls-not-supported detail=starttls-refused
assert_not_contains "$(cat "$EVIL_LOG")" '"line": "MAIL FROM' "plaintext MAIL after a 554"
evil_mx 127.0.6.4 starttls-code "${MX1[@]}" --code 421
mail_refused 127.0.6.4 ECONNREFUSED 1500
assert_decision tls=none detail=smtp-failed "error=\"smtp: STARTTLS answered with 421\""
assert_not_contains "$(cat "$EVIL_LOG")" '"line": "MAIL FROM' "plaintext MAIL after a 421"

# Garbage: as the greeting, as the EHLO reply, instead of a ServerHello.
evil_mx 127.0.6.5 garbage-greeting "${MX1[@]}"
mail_refused 127.0.6.5 ECONNREFUSED 1500
assert_decision tls=none detail=smtp-failed "error=\"smtp: greeting: malformed reply line\""
evil_mx 127.0.6.6 garbage-ehlo "${MX1[@]}"
mail_refused 127.0.6.6 ECONNREFUSED 1500
assert_decision tls=none detail=smtp-failed "error=\"smtp: reply to EHLO: malformed reply line\""
evil_mx 127.0.6.7 garbage-tls "${MX1[@]}"
mail_refused 127.0.6.7 ECONNREFUSED 1500
assert_decision tls=none reason=validation-failure detail=handshake-failed

# Control: the same helper as a well-behaved MX with mx1's certificate is
# accepted and gets the message (so the refusals above are the faults').
evil_mx 127.0.6.8 normal "${MX1[@]}"
relay_mark
drive --mail s@sender.test a@good.test --subject fault-control -- \
	--dest 127.0.6.8 --mx mx1.good.test --domain good.test
assert_verdict relay
assert_decision policy=enforce tls=verified verdict=allow
assert_eq "$(evil_count message)" 1 "control message"
assert_contains "$(cat "$EVIL_LOG")" '"subject": "fault-control"'
