#!/bin/bash
# A cache directory others may write makes the engine refuse it
# (failure=cache). For a recipient that is a local fault, never "no
# policy": the RCPT is deferred (451 4.3.0), not forwarded unchecked.
# Control: the same with a sound cache directory.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/rcpt_lib.sh"
rcpt_env

rcpt_smtp --server 127.0.2.1 --to a@good.test --subject cache-ok
assert_eq "$(client_reply rcpt)" 250 "RCPT with a sound cache"

relay_mark
new_cache_dir
chmod 0777 "$MTASTS_CACHE_DIR"
rcpt_smtp --server 127.0.2.1 --to a@good.test --to b@notxt.test --subject cache-bad
assert_eq "$(client_reply rcpt 0)" 451 "RCPT with an unusable cache"
assert_contains "$OUT" '"text": "4.3.0 MTA-STS relay: policy of good.test unknown: cache unusable"'
assert_eq "$(client_reply rcpt 1)" 451 "every domain: its policy is unknown too"
assert_rcpt good.test verdict=defer detail=cache-error policy_failure=cache-error
assert_match "$(relay_log_since)" "writable by"
assert_eq "$(smtp_count mx1.good.test message)" 0 "messages since the control"
