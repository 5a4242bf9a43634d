#!/bin/bash
# A recipient's policy look-up that stalls (stall.test: its policy host
# reads the request and never answers) holds that RCPT's reply at most
# MTASTS_TIMEOUT; then the domain counts as having no policy (RFC 8461
# section 5: a failed fetch with nothing cached), logged as such, and the
# session goes on: the message is delivered.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/rcpt_lib.sh"
rcpt_env
export MTASTS_TIMEOUT=2

rcpt_smtp --mode pipeline --server mx1.good.test --to a@good.test \
	--to s@stall.test --subject rcpt-stall
assert_eq "$RC" 0 "client exit"
assert_eq "$(client_reply rcpt 0)" 250 "good.test"
assert_eq "$(client_reply rcpt 1)" 250 "stall.test (no policy after the timeout)"
assert_eq "$(client_reply eod)" 250 "message"
assert_le "$ELAPSED_MS" 4500
assert_rcpt stall.test verdict=allow policy=no-policy policy_failure=sts-policy-fetch-error
assert_contains "$(relay_log_since)" "rcpt_domain=stall.test"
assert_contains "$(relay_log_since)" "treated as no policy"
msg=$(smtp_message mx1.good.test)
assert_eq "$(json_get 'd["rcpt"]' "$msg")" '["a@good.test", "s@stall.test"]' "recipients"
