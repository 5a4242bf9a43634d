#!/bin/bash
# setsockopt(TCP_FASTOPEN_CONNECT) then connect(): the relay's TCP leg is a
# dup of the application's socket and would inherit the option (connect()
# returning at once, no SYN until the first write, while the relay waits
# for the greeting). The option must not change the outcome: each row of
# the decision table as with a plain connect(), and getsockopt() still
# reads 1 on the relayed fd. tcp_fastopen=7 makes the kernel defer every
# such connect, cookie or not (the netns is the test's own).
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/tfo_lib.sh"
tfo_setup
sysctl -qw net.ipv4.tcp_fastopen=7

# Without the shim: the deferred connect works, in plaintext, to the
# wrong-name MX (with data: the SYN leaves with the first write, so a
# client that waited for the greeting first would wait forever).
relay_mark
run timeout 20 "$TFO_CLIENT" -D -i tfo-connect-bare -r a@smtp-wrongname.test -m mx.smtp-wrongname.test \
	tfo-connect 0.0.0.0 25
assert_eq "$RC" 0 "client exit without the shim"
assert_delivered mx.smtp-wrongname.test tfo-connect-bare false

tfo_rows tfo-connect
# With data written after the deferred connect.
relay_mark
MTASTS_DOMAIN=good.test tfo_run -D -i tfo-connect-data -m mx1.good.test tfo-connect 0.0.0.0 25
assert_eq "$RC" 0 "client exit (data)"
assert_delivered mx1.good.test tfo-connect-data true mx1.good.test

# Fallback none, no policy: handed back, and the application's own
# connect() runs with its option restored (deferred: the data goes first).
relay_mark
MTASTS_FALLBACK=none MTASTS_DOMAIN=notxt.test tfo_run -D -i tfo-connect-handoff \
	-r a@notxt.test -m mx.smtp-notls.test tfo-connect 0.0.0.0 25
assert_eq "$RC" 0 "client exit (handoff)"
assert_delivered mx.smtp-notls.test tfo-connect-handoff false
assert_decision verdict=handoff
