#!/bin/bash
# TCP Fast Open under the shim: sendto(), sendmsg() and sendmmsg() with
# MSG_FASTOPEN and a destination open the connection without connect();
# each takes the connect() path (policy, relay, verdict) for every row of
# the decision table. First, without the shim, the same client reaches
# the wrong-name MX in plaintext: the test path is real.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/tfo_lib.sh"
tfo_setup

# Without the shim: delivered in plaintext to the MX with the wrong name,
# and the kernel really used Fast Open (a cookie request in the SYN).
before=$(nstat -az TcpExtTCPFastOpenCookieReqd TcpExtTCPFastOpenActive | awk 'NR>1 {s+=$2} END {print s+0}')
relay_mark
run "$TFO_CLIENT" -i tfo-bare -r a@smtp-wrongname.test -m mx.smtp-wrongname.test sendto 0.0.0.0 25
assert_eq "$RC" 0 "client exit without the shim"
assert_delivered mx.smtp-wrongname.test tfo-bare false
after=$(nstat -az TcpExtTCPFastOpenCookieReqd TcpExtTCPFastOpenActive | awk 'NR>1 {s+=$2} END {print s+0}')
[ "$after" -gt "$before" ] || fail "the kernel did not use TCP Fast Open (counters $before -> $after)"

# sendmmsg of two messages: the kernel connects with the first and fails
# the second (MSG_FASTOPEN on a connected socket): it returns 1.
relay_mark
run "$TFO_CLIENT" -i tfo-bare-mmsg2 -r a@smtp-wrongname.test -m mx.smtp-wrongname.test sendmmsg2 0.0.0.0 25
assert_eq "$RC" 0 "client exit without the shim (sendmmsg2)"
assert_delivered mx.smtp-wrongname.test tfo-bare-mmsg2 false

for mode in sendto sendmsg sendmmsg sendmmsg2; do
	tfo_rows "$mode"
done

# Data in the opening call (the SYN's payload): it reaches the server
# through the relay, after the greeting, and the call reports it sent.
relay_mark
MTASTS_DOMAIN=good.test tfo_run -D -i tfo-data -m mx1.good.test sendto 0.0.0.0 25
assert_eq "$RC" 0 "client exit (data in sendto)"
assert_contains "$OUT" "open=ok sent=22" "bytes accepted"
assert_delivered mx1.good.test tfo-data true mx1.good.test
relay_mark
MTASTS_DOMAIN=good.test tfo_run -D -i tfo-data-msg -m mx1.good.test sendmsg 0.0.0.0 25
assert_eq "$RC" 0 "client exit (data in sendmsg)"
assert_contains "$OUT" "open=ok sent=22" "bytes accepted"
assert_delivered mx1.good.test tfo-data-msg true mx1.good.test

# An open connection, relayed or handed back, is not opened twice:
# connect() and sendto(MSG_FASTOPEN) again say EISCONN, no second relay.
relay_mark
MTASTS_DOMAIN=good.test tfo_run -A -i tfo-again -m mx1.good.test sendto 0.0.0.0 25
assert_eq "$RC" 0 "client exit (again, relayed)"
assert_contains "$OUT" "again=ok"
assert_delivered mx1.good.test tfo-again true mx1.good.test
assert_eq "$(decision_count)" 1 "relay decisions (again, relayed)"
relay_mark
MTASTS_FALLBACK=none MTASTS_DOMAIN=notxt.test tfo_run -A -i tfo-again-handoff \
	-r a@notxt.test -m mx.smtp-notls.test sendto 0.0.0.0 25
assert_eq "$RC" 0 "client exit (again, handed back)"
assert_contains "$OUT" "again=ok"
assert_delivered mx.smtp-notls.test tfo-again-handoff false
assert_eq "$(decision_count)" 1 "relay decisions (again, handed back)"
