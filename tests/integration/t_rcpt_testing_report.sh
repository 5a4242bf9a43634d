#!/bin/bash
# A recipient whose policy is in testing mode is forwarded whatever failed,
# and every recipient domain judged gets one TLSRPT spool record per
# session with the result of its check (RFC 8460), the connection's own
# domain its usual one.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/rcpt_lib.sh"
rcpt_env

spool() { cat "$MTASTS_REPORT_DIR"/spool/* 2>/dev/null || true; }
# record_for DOMAIN N: field N (3 domain, 6 mx, 10 result, 11 reason)
record_for() { spool | awk -F'\t' -v d="$1" -v n="$2" '$3 == d { print $n }'; }

# testing-bad.test: testing, lists mx.smtp-selfsigned.test only.
MTASTS_DOMAIN=good.test rcpt_smtp --mode pipeline --server mx1.good.test \
	--to a@good.test --to t@testing-bad.test --to u@testing-bad.test \
	--to w@smtp-wrongname.test --subject rcpt-testing
assert_eq "$RC" 0 "client exit"
assert_eq "$(client_reply rcpt 0)" 250 "good.test"
assert_eq "$(client_reply rcpt 1)" 250 "testing-bad.test (testing: forwarded)"
assert_eq "$(client_reply rcpt 2)" 250 "testing-bad.test again"
assert_eq "$(client_reply rcpt 3)" 450 "smtp-wrongname.test"
msg=$(smtp_message mx1.good.test)
assert_eq "$(json_get 'd["rcpt"]' "$msg")" '["a@good.test", "t@testing-bad.test", "u@testing-bad.test"]' "recipients"
assert_decision domain=good.test policy=enforce verdict=allow
assert_rcpt good.test domain=good.test verdict=allow policy=enforce
assert_rcpt testing-bad.test verdict=allow policy=testing \
	reason=validation-failure detail=mx-not-listed
assert_rcpt smtp-wrongname.test verdict=defer policy=enforce
# One look-up per domain and session: two recipients, one policy line.
assert_eq "$(relay_log_since | grep -c 'policy domain=testing-bad.test status=')" 1 "look-ups of testing-bad.test"

assert_eq "$(record_for good.test 10)" success "good.test's record (the connection's)"
assert_eq "$(record_for testing-bad.test 10)" validation-failure "testing-bad.test's record"
assert_eq "$(record_for testing-bad.test 11)" mx-not-listed
assert_eq "$(record_for testing-bad.test 6)" mx1.good.test
assert_eq "$(record_for smtp-wrongname.test 10)" validation-failure "smtp-wrongname.test's record"
assert_eq "$(spool | grep -c .)" 3 "records: one per domain"
