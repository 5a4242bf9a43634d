#!/bin/bash
# enforce, MX listed, STARTTLS not offered (or refused): refused, no message;
# the relay says QUIT politely.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
relay_env

drive --mail s@sender.test a@smtp-notls.test -- \
	--dest 127.0.2.9 --mx mx.smtp-notls.test --domain smtp-notls.test
assert_verdict refuse ECONNREFUSED
assert_decision domain=smtp-notls.test mx=mx.smtp-notls.test policy=enforce \
	tls=none verdict=refuse reason=starttls-not-supported detail=starttls-not-offered
assert_eq "$(smtp_count mx.smtp-notls.test connect)" 1 "connections"
assert_eq "$(smtp_count mx.smtp-notls.test message)" 0 "messages"
assert_eq "$(smtp_count mx.smtp-notls.test disconnect)" 1 "disconnect (QUIT)"
assert_eq "$(smtp_count mx.smtp-notls.test error)" 0 "receiver errors"

# STARTTLS offered but answered 454: refused (starttls-refused); under
# enforce nothing goes out in plaintext.
fake_mx 127.0.3.1 starttls-454
relay_mark
drive --mail s@sender.test a@good.test -- --dest 127.0.3.1 --mx mx1.good.test --domain good.test
assert_verdict refuse ECONNREFUSED
assert_decision policy=enforce tls=none verdict=refuse \
	reason=starttls-not-supported detail=starttls-refused
assert_eq "$(fake_count message)" 0 "messages"
assert_contains "$(cat "$FAKE_LOG")" '"line": "QUIT"' "polite QUIT"
