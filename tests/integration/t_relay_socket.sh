#!/bin/bash
# The TCP leg is the application's own socket: its family (IPv6 socket,
# IPv4 destination: v4-mapped), O_NONBLOCK and bind() are honoured, and the
# verdict carries the real local address.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
relay_env

drive --family 6 --mail s@sender.test a@good.test --subject v6-socket -- \
	--dest 127.0.2.1 --mx mx1.good.test --domain good.test
assert_verdict relay
assert_match "$OUT" '^local=::ffff:127\.0\.0\.1:[0-9]+$'
assert_delivered mx1.good.test v6-socket true mx1.good.test

relay_mark
drive --nonblock --mail s@sender.test a@good.test --subject nonblock -- \
	--dest 127.0.2.1 --mx mx1.good.test --domain good.test
assert_verdict relay
assert_delivered mx1.good.test nonblock true

relay_mark
drive --bind 127.0.0.7 --mail s@sender.test a@good.test --subject bound -- \
	--dest 127.0.2.1 --mx mx1.good.test --domain good.test
assert_verdict relay
assert_match "$OUT" '^local=127\.0\.0\.7:[0-9]+$'
assert_delivered mx1.good.test bound true
assert_match "$(json_get 'd["peer"]' "$(smtp_message mx1.good.test)")" '^127\.0\.0\.7:'
