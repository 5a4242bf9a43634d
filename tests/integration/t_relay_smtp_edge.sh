#!/bin/bash
# The relay's SMTP client against servers that bend or break RFC 5321:
# byte-by-byte replies, multi-line greetings (replayed exactly), lower-case
# STARTTLS, EHLO refused (HELO), over-long lines, mixed or malformed codes,
# unsolicited data, STARTTLS response injection, early close.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
relay_env
export MTASTS_TIMEOUT=5

# Byte by byte, 3-line greeting, "starttls" in lower case: TLS, and the
# application sees the greeting exactly as the server sent it.
fake_mx 127.0.3.1 drip tls
drive --mail s@sender.test a@good.test -- --dest 127.0.3.1 --mx mx1.good.test --domain good.test
assert_verdict relay
assert_contains "$OUT" $'<<< 220-fake.test first line\n<<< 220-second line\n<<< 220 fake.test last line' "greeting replayed"
assert_decision policy=enforce tls=verified verdict=allow
assert_eq "$(fake_count starttls)" 1 "STARTTLS"
assert_eq "$(json_get 'd["tls"]' "$(grep '"message"' "$FAKE_LOG")")" true "message over TLS"

# "STARTTLS " with a trailing space is still the keyword.
fake_mx 127.0.3.2 multiline tls
relay_mark
drive --mail s@sender.test a@good.test -- --dest 127.0.3.2 --mx mx1.good.test --domain good.test
assert_verdict relay
assert_decision tls=verified verdict=allow

# EHLO refused, HELO accepted: no STARTTLS: plaintext under may, refused
# under enforce.
fake_mx 127.0.3.3 helo-only tls
relay_mark
drive --mail s@sender.test a@notxt.test -- --dest 127.0.3.3 --domain notxt.test
assert_verdict relay
assert_decision tls=none verdict=allow detail=starttls-not-offered
assert_contains "$(cat "$FAKE_LOG")" '"line": "HELO sender.world.test"'
relay_mark
drive -- --dest 127.0.3.3 --mx mx1.good.test --domain good.test
assert_verdict refuse ECONNREFUSED
assert_decision reason=starttls-not-supported

# STARTTLS refused (454): plaintext under may, on the same session.
fake_mx 127.0.3.4 starttls-454
relay_mark
drive --mail s@sender.test a@notxt.test -- --dest 127.0.3.4 --domain notxt.test
assert_verdict relay
assert_decision tls=none verdict=allow detail=starttls-refused
assert_eq "$(json_get 'd["tls"]' "$(grep '"message"' "$FAKE_LOG")")" false "plaintext message"

# Broken replies and behaviours: refused with ECONNREFUSED, even under may.
for mode in long-line mixed-codes bad-code greet-554 close early-data inject; do
	fake_mx 127.0.3.10 "$mode" tls
	relay_mark
	drive --mail s@sender.test a@notxt.test -- --dest 127.0.3.10 --domain notxt.test
	assert_verdict refuse ECONNREFUSED
	assert_decision verdict=refuse detail=smtp-failed
	assert_eq "$(fake_count message)" 0 "messages ($mode)"
	assert_eq "$(fake_count starttls)" 0 "TLS started ($mode)"
	fake_stop
done
