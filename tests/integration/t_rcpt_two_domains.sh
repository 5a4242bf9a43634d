#!/bin/bash
# One MX serving two domains: mx1.good.test is listed by good.test's policy
# and not by smtp-wrongname.test's (enforce, mx.smtp-wrongname.test only).
# One message to a recipient in each: delivered to the first, the second
# gets 450 4.7.5 in its place and the receiver never sees its RCPT.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/rcpt_lib.sh"
rcpt_env

# smtplib, one RCPT at a time; the connection's own domain is unknown
# (a literal address and no MTASTS_DOMAIN), the MX name too.
rcpt_smtp --server mx1.good.test --to a@good.test --to b@smtp-wrongname.test \
	--subject two-domains
assert_eq "$RC" 0 "client exit"
assert_eq "$(client_reply rcpt 0)" 250 "reply to a@good.test"
assert_eq "$(client_reply rcpt 1)" 450 "reply to b@smtp-wrongname.test"
assert_contains "$(client_field rcpt text)" "4.7.5 MTA-STS: policy of smtp-wrongname.test not satisfied: validation-failure (mx-not-listed)"
assert_eq "$(client_reply data)" 250 "reply to DATA"
msg=$(smtp_message mx1.good.test)
assert_eq "$(json_get 'd["rcpt"]' "$msg")" '["a@good.test"]' "recipients at the receiver"
assert_eq "$(json_get 'd["tls"]' "$msg")" true "over TLS"
assert_decision mx=mx1.good.test verdict=allow tls=verified
assert_rcpt good.test verdict=allow policy=enforce mx=mx1.good.test reason=-
assert_rcpt smtp-wrongname.test verdict=defer policy=enforce \
	reason=validation-failure detail=mx-not-listed policy_source=network
assert_eq "$(rcpt_lines | wc -l)" 2 "rcpt lines"

# The same batch pipelined (RFC 2920): MAIL, both RCPTs and DATA in one
# write; the local 450 arrives in its place among the server's replies.
relay_mark
rcpt_smtp --mode pipeline --server mx1.good.test --to b@smtp-wrongname.test \
	--to a@good.test --to c@smtp-wrongname.test --subject two-pipelined
assert_eq "$RC" 0 "client exit"
assert_eq "$(client_reply mail)" 250 "MAIL"
assert_eq "$(client_reply rcpt 0)" 450 "first RCPT (deferred)"
assert_eq "$(client_reply rcpt 1)" 250 "second RCPT"
assert_eq "$(client_reply rcpt 2)" 450 "third RCPT (deferred)"
assert_eq "$(client_reply data)" 354 "DATA"
assert_eq "$(client_reply eod)" 250 "end of data"
assert_eq "$(client_reply quit)" 221 "QUIT"
msg=$(smtp_message mx1.good.test)
assert_eq "$(json_get 'd["rcpt"]' "$msg")" '["a@good.test"]' "recipients at the receiver"
# Cached now: the second look-up came from the cache, no new fetch; but
# before deferring on a cached policy the TXT record was asked whether it
# changed (RFC 8461 5.1), once for both deferred recipients.
assert_rcpt smtp-wrongname.test verdict=defer policy_source=cache
assert_eq "$(nginx_count mta-sts.smtp-wrongname.test)" 0 "fetches"
assert_eq "$(dns_count _mta-sts.smtp-wrongname.test TXT)" 1 "TXT re-checks"

# Every recipient deferred: the client's DATA is answered here (554 5.5.1
# no valid recipients, as RFC 2920 shows), the server gets no DATA.
relay_mark
rcpt_smtp --mode pipeline --server mx1.good.test --to b@smtp-wrongname.test \
	--subject none-valid
assert_eq "$(client_reply rcpt 0)" 450 "RCPT"
assert_eq "$(client_reply data)" 554 "DATA answered by the relay"
assert_contains "$(client_field data text)" "5.5.1"
assert_eq "$(client_reply quit)" 221 "QUIT reaches the server"
assert_eq "$(smtp_count mx1.good.test message)" 0 "messages"
