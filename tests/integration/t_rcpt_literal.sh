#!/bin/bash
# A connection to an address literal: no MX name, no domain. A recipient's
# enforce policy is satisfied when the chain is valid and one of the
# certificate's DNS SANs matches one of the policy's mx patterns (the
# server proved it is an authorised MX), and not otherwise.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/rcpt_lib.sh"
rcpt_env

# mx1.good.test's certificate vs good.test's policy (mx1 + mx2): accepted.
rcpt_smtp --server 127.0.2.1 --to a@good.test --subject literal-ok
assert_eq "$RC" 0 "client exit"
assert_eq "$(client_reply rcpt)" 250 "RCPT"
assert_eq "$(client_reply data)" 250 "DATA"
# At connect time there is nothing to check the name against: unverified
# (the chain was checked, the names kept); the recipient's policy decides.
assert_decision domain=- mx=- ip=127.0.2.1 tls=unverified verdict=allow \
	detail=mx-unknown cert_names=mx1.good.test
assert_rcpt good.test verdict=allow policy=enforce mx=- reason=-
msg=$(smtp_message mx1.good.test)
assert_eq "$(json_get 'd["rcpt"]' "$msg")" '["a@good.test"]' "recipients"

# rogue.good.test's certificate vs rogue.test's policy (mx1 only): no SAN
# matches, deferred; the receiver gets no RCPT and no message.
relay_mark
rcpt_smtp --server 127.0.2.3 --to a@rogue.test --subject literal-rogue
assert_eq "$(client_reply rcpt)" 450 "RCPT"
assert_contains "$(client_field rcpt text)" "4.7.5 MTA-STS: policy of rogue.test not satisfied: certificate-host-mismatch (mx-unknown)"
assert_rcpt rogue.test verdict=defer policy=enforce mx=- \
	reason=certificate-host-mismatch detail=mx-unknown
assert_eq "$(smtp_count rogue.good.test message)" 0 "messages"

# The wildcard case: mx.wild.test's certificate is *.wild.test and
# wild.test's policy lists *.wild.test: accepted.
relay_mark
rcpt_smtp --server 127.0.2.8 --to a@wild.test --subject literal-wild
assert_eq "$(client_reply rcpt)" 250 "RCPT (wildcard)"
assert_rcpt wild.test verdict=allow policy=enforce

# A valid name but an untrusted chain (mx.smtp-untrusted.test, right name,
# untrusted CA): deferred for its own domain's policy.
relay_mark
rcpt_smtp --server 127.0.2.10 --to a@smtp-untrusted.test --subject literal-untrusted
assert_eq "$(client_reply rcpt)" 450 "RCPT (untrusted chain)"
assert_rcpt smtp-untrusted.test verdict=defer reason=certificate-not-trusted

# No STARTTLS at all (mx.smtp-notls.test, plaintext under fallback may):
# an enforce recipient is deferred with 4.7.4.
relay_mark
rcpt_smtp --server 127.0.2.9 --to a@smtp-notls.test --to b@notxt.test --subject literal-notls
assert_eq "$(client_reply rcpt 0)" 450 "RCPT (no TLS)"
assert_rcpt smtp-notls.test verdict=defer reason=starttls-not-supported detail=starttls-not-offered
assert_contains "$OUT" '"text": "4.7.4 MTA-STS: policy of smtp-notls.test not satisfied: starttls-not-supported (starttls-not-offered)"'
assert_eq "$(client_reply rcpt 1)" 250 "RCPT without a policy"
assert_rcpt notxt.test verdict=allow policy=no-policy
msg=$(smtp_message mx.smtp-notls.test)
assert_eq "$(json_get 'd["rcpt"]' "$msg")" '["b@notxt.test"]' "recipients (plaintext)"
