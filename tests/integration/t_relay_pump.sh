#!/bin/bash
# The byte relay after the verdict: large messages both over TLS and in
# plaintext, and no byte the application wrote is ever lost, even when it
# closes at once without reading the replies (pipelined transaction + QUIT,
# then close): the relay flushes, sends close_notify, and exits by itself.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
relay_env

# 3 MiB over TLS: many records, partial writes, both buffers full.
drive --mail s@sender.test a@good.test --subject big-tls --body-kib 3072 -- \
	--dest 127.0.2.1 --mx mx1.good.test --domain good.test
assert_verdict relay
assert_contains "$OUT" "result=sent"
assert_delivered mx1.good.test big-tls true
size=$(json_get 'd["size"]' "$(smtp_message mx1.good.test)")
assert_le $((3072 * 1024)) "$size" "message size"
assert_match "$(relay_log_since)" 'session end .* to_server=[0-9]{7,} '

# 1 MiB in plaintext (notxt.test, no STARTTLS).
relay_mark
drive --mail s@sender.test a@notxt.test --subject big-plain --body-kib 1024 -- \
	--dest 127.0.2.9 --mx mx.smtp-notls.test --domain notxt.test
assert_verdict relay
assert_delivered mx.smtp-notls.test big-plain false

# QUIT, then close at once: the QUIT still reaches the server (it closes
# cleanly, no error event) and the relay exits promptly.
relay_mark
drive --close-early --mail s@sender.test a@good.test --subject close-early -- \
	--dest 127.0.2.1 --mx mx1.good.test --domain good.test
assert_verdict relay
assert_delivered mx1.good.test close-early true
assert_eq "$(smtp_count mx1.good.test error)" 0 "receiver errors"
assert_eq "$(smtp_count mx1.good.test disconnect)" 1 "disconnects"

# The whole transaction in one write, then close, over TLS and in
# plaintext: the message arrives whole.
for target in "127.0.2.1 mx1.good.test good.test true" \
	      "127.0.2.9 mx.smtp-notls.test notxt.test false"; do
	set -- $target
	relay_mark
	drive --blast --body-kib 256 --mail s@sender.test "a@$3" --subject "blast-$3" -- \
		--dest "$1" --mx "$2" --domain "$3"
	assert_verdict relay
	assert_contains "$OUT" "relay_exit=0"
	relay_ms=$(printf '%s\n' "$OUT" | sed -n 's/.*relay_ms=//p')
	assert_le "$relay_ms" 4000 "relay lifetime after the application closed"
	# The receiver may log the message a moment after the relay is gone.
	for i in $(seq 50); do
		[ "$(smtp_count "$2" message)" = 1 ] && break
		sleep 0.05
	done
	assert_delivered "$2" "blast-$3" "$4"
	size=$(json_get 'd["size"]' "$(smtp_message "$2")")
	assert_le $((256 * 1024)) "$size" "blast message size"
done
