#!/bin/bash
# swaks delivering by its own MX look-up (no --server; Perl's Net::DNS,
# which the shim never sees) to u@rogue.test: its MX 10 is rogue.good.test,
# which rogue.test's enforce policy does not list. The connection's domain
# is unknown (fallback: TLS, verified and recorded), so the connection is
# made; the RCPT is judged on its own: deferred with 450 4.7.5, and the
# receiver never gets it (nor a message, nor the envelope sender: MAIL is
# held by the relay until a recipient is allowed, docs/RCPT.md).
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/rcpt_lib.sh"
rcpt_env
perl -MNet::DNS -e 1 2>/dev/null || skip "swaks needs Net::DNS (libnet-dns-perl) for MX look-ups"

run via_shim swaks --to u@rogue.test --from s@sender.test \
	--helo client.world.test --header "Subject: rcpt-mx-lookup" --timeout 10
echo "  relay log:" >&2
relay_log_since | sed 's/^/  log| /' >&2
assert_ne "$RC" 0 "swaks exit (its only recipient was deferred)"
assert_contains "$OUT" "450 4.7.5 MTA-STS: policy of rogue.test not satisfied: validation-failure (mx-not-listed)"
# swaks connected where its own MX look-up led: the rogue MX.
assert_decision domain=- mx=rogue.good.test ip=127.0.2.3 policy=no-policy \
	tls=verified verdict=allow
assert_rcpt rogue.test verdict=defer policy=enforce mx=rogue.good.test \
	reason=validation-failure detail=mx-not-listed
assert_eq "$(smtp_count rogue.good.test message)" 0 "messages at the rogue MX"
assert_eq "$(smtp_count rogue.good.test connect)" 1 "connections to the rogue MX"
end=$(relay_log_since | grep 'session end' | tail -n 1)
assert_contains "$end" "mail_held=1 mail_sent=0" "MAIL never sent to the rogue MX"
assert_contains "$(relay_log_since)" "MAIL held until a recipient is allowed"
assert_not_contains "$(relay_log_since)" "held MAIL sent" "relay log"

# A recipient of a domain whose policy lists the rogue MX's certificate
# name would pass; here a second recipient in good.test (which lists only
# mx1/mx2) is deferred as well, and a literal-domain one goes through.
relay_mark
run via_shim swaks --server rogue.good.test --to "u@rogue.test,v@good.test,w@[127.0.2.3]" \
	--from s@sender.test --helo client.world.test \
	--header "Subject: rcpt-mixed" --timeout 10
echo "  relay log:" >&2
relay_log_since | sed 's/^/  log| /' >&2
assert_rcpt rogue.test verdict=defer
assert_rcpt good.test verdict=defer detail=mx-not-listed
assert_rcpt '\[127.0.2.3\]' verdict=allow policy=no-policy detail=domain-literal
msg=$(smtp_message rogue.good.test)
assert_eq "$(json_get 'd["rcpt"]' "$msg")" '["w@[127.0.2.3]"]' "recipients at the rogue MX"
assert_eq "$(json_get 'd["mail_from"]' "$msg")" s@sender.test "the held MAIL, sent for w@"
assert_contains "$(relay_log_since | grep 'session end')" "mail_held=1 mail_sent=1"
