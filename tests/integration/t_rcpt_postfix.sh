#!/bin/bash
# Postfix (which pipelines: MAIL, every RCPT and DATA in one batch) sends
# one message with mixed recipients through one MX: relayhost
# [mx1.good.test], so every recipient goes into one transaction whatever
# its domain. Under the shim the relay judges each RCPT: good.test's
# recipients (its policy lists mx1) are delivered, smtp-wrongname.test's
# (enforce, lists only mx.smtp-wrongname.test) get 450 4.7.5 and stay
# deferred in Postfix's queue; the receiver's message lists only the first.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/rcpt_lib.sh"
lib=$(dirname "$0")/postfix_lib.sh
[ -f "$lib" ] || skip "tests/integration/postfix_lib.sh does not exist yet"
. "$lib"
rcpt_env

postfix_start "relayhost=[mx1.good.test]"
postfix_send s@sender.test a@good.test b@smtp-wrongname.test c@good.test d@smtp-wrongname.test
# Wait for the outcome of every recipient in Postfix's log (which queue
# the message sits in right then depends on Postfix's timing).
outcome() {
	local log
	log=$(postfix_log)
	for r in a@good.test c@good.test; do
		grep -q "to=<$r>.*status=sent" <<<"$log" || return 1
	done
	for r in b@smtp-wrongname.test d@smtp-wrongname.test; do
		grep -q "to=<$r>.*status=deferred" <<<"$log" || return 1
	done
}
done=1
for ((i = 0; i < 300; i++)); do
	outcome && { done=0; break; }
	sleep 0.1
done
relay_log_since | sed 's/^/  log| /' >&2
postfix_log | sed 's/^/  postfix| /' >&2
[ "$done" = 0 ] || fail "no outcome for every recipient in Postfix's log"

assert_eq "$(smtp_count mx1.good.test message)" 1 "messages at mx1"
msg=$(smtp_message mx1.good.test)
assert_eq "$(json_get 'd["rcpt"]' "$msg")" '["a@good.test", "c@good.test"]' "recipients at mx1"
assert_eq "$(json_get 'd["tls"]' "$msg")" true "over TLS"
assert_rcpt good.test verdict=allow policy=enforce mx=mx1.good.test
assert_rcpt smtp-wrongname.test verdict=defer policy=enforce detail=mx-not-listed
# Postfix may retry the deferred pair at once (the harness's short
# backoff): then its DATA after two deferred RCPTs is answered 554 5.5.1
# by the relay and Postfix defers again. Never an allowed wrongname line.
assert_eq "$(rcpt_lines | grep -c ' rcpt_domain=good.test ')" 2 "good.test rcpt lines"
assert_eq "$(rcpt_lines | grep ' rcpt_domain=smtp-wrongname.test ' | grep -c 'verdict=allow')" 0 "smtp-wrongname.test allowed"
[ "$(rcpt_lines | grep -c ' rcpt_domain=smtp-wrongname.test ')" -ge 2 ] || fail "smtp-wrongname.test rcpt lines"

log=$(postfix_log)
assert_match "$log" "to=<b@smtp-wrongname.test>.*status=deferred.*4\.7\.5 MTA-STS: policy of smtp-wrongname.test not satisfied"
assert_match "$log" "to=<d@smtp-wrongname.test>.*status=deferred"
assert_match "$log" "to=<a@good.test>.*status=sent"
assert_match "$log" "to=<c@good.test>.*status=sent"
# Postfix pipelined the batch (MAIL, four RCPTs, DATA in flight at once),
# and two of its RCPTs were answered by the relay in their places.
end=$(relay_log_since | grep ' session end ' | grep ' rcpt_allowed=2 ' | head -n 1)
assert_match "$end" 'rcpt_allowed=2 rcpt_deferred=2 '
max=$(kv max_pipelined "$end")
[ "${max:-0}" -ge 6 ] || fail "Postfix did not pipeline: max_pipelined=$max in: $end"
