#!/bin/bash
# One host process with 64 threads, each connecting and delivering at
# once through libmtasts.so and 64 real relays (shim_client threads mode):
# every thread succeeds, the receiver gets 64 distinct messages over TLS,
# every decision is enforce/verified/allow, the process leaks no fd and
# keeps no child (shim_client checks both), no relay is left behind.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/fault_lib.sh"
fault_env
shim_ready || skip "$BUILD/libmtasts.so is not built"
CLIENT=$BUILD/tests/helpers/shim_client
[ -x "$CLIENT" ] || skip "$CLIENT is not built"
export MTASTS_LOG_LEVEL=info
warm good.test

MTASTS_DOMAIN=good.test run via_shim "$CLIENT" -i threads64 -n 64 threads 127.0.2.1 25
assert_eq "$RC" 0 "shim_client exit"
assert_le "$ELAPSED_MS" 30000 "time for 64 threads"
msgs=$(smtp_log mx1.good.test | grep '"event": "message"')
assert_eq "$(printf '%s\n' "$msgs" | grep -c .)" 64 "messages"
assert_eq "$(printf '%s\n' "$msgs" | grep -o '"subject": "shim test threads64-t[0-9]*"' | sort -u | grep -c .)" \
	64 "distinct subjects"
assert_eq "$(printf '%s\n' "$msgs" | grep -c '"tls": true')" 64 "messages over TLS"
assert_eq "$(grep ' decision ' "$RELAY_LOG" | grep -c 'policy=enforce .*tls=verified verdict=allow')" \
	64 "enforce/verified/allow decisions"
wait_for 'relay_pids | grep -c . || true' 0 100 || fail "relays left: $(relay_pids | tr '\n' ' ')"
