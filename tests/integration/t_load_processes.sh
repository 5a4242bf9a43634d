#!/bin/bash
# 200 wrapped processes (shim_client under libmtasts.so with the real
# relay, each doing the MX and address look-ups a sender does) deliver to
# good.test, 16 at a time, while `mtasts cache refresh` rewrites the cache
# in a loop. Asserted:
#   - every client succeeds, and the receiver got every message exactly
#     once (200 messages, 200 distinct subjects, each id present);
#   - every relay decided under the enforce policy with verified TLS;
#   - no cache file was ever read as corrupt, and the cache parses after;
#   - no mtasts-relay process is left after a short grace period.
# Kept under ~60 s on 2 shared cores.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/fault_lib.sh"
fault_env
need_mtasts
shim_ready || skip "$BUILD/libmtasts.so is not built"
CLIENT=$BUILD/tests/helpers/shim_client
[ -x "$CLIENT" ] || skip "$CLIENT is not built"
export MTASTS_LOG_LEVEL=info      # debug lines of 200 relays are not needed
N=${H6_LOAD_N:-200}
PAR=16
warm good.test

# The refresh loop, until the deliveries are done.
done_flag=$TEST_TMP/done
refresh_count=$TEST_TMP/refreshes
: > "$refresh_count"
(
	while [ ! -e "$done_flag" ]; do
		MTASTS_LOG=$TEST_TMP/refresh.log "$BUILD/mtasts" cache refresh >/dev/null 2>&1 &&
			echo ok >> "$refresh_count"
		sleep 0.1
	done
) &
refresher=$!

one() {	# ID
	via_shim "$CLIENT" -i "$1" -r query -d good.test -m mx1.good.test \
		-a gai lookup - 25 > "$TEST_TMP/client-$1.out" 2>&1 ||
		echo "$1" >> "$TEST_TMP/failed"
}
export -f one via_shim
export CLIENT TEST_TMP BUILD RELAY

t0=$(now_ms)
seq -f "load-%g" 1 "$N" | xargs -P "$PAR" -I{} bash -c 'one {}'
t1=$(now_ms)
touch "$done_flag"
wait "$refresher" || true
echo "$N deliveries in $((t1 - t0)) ms, $(wc -l < "$refresh_count") cache refreshes" >&2

if [ -s "$TEST_TMP/failed" ]; then
	for id in $(head -n 3 "$TEST_TMP/failed"); do cat "$TEST_TMP/client-$id.out" >&2; done
	fail "$(wc -l < "$TEST_TMP/failed") clients failed"
fi
assert_le 3 "$(wc -l < "$refresh_count")" "cache refreshes during the load"
# Each refresh fetched (and so rewrote the cache file) while relays read it.
assert_le 3 "$(nginx_count mta-sts.good.test)" "policy fetches during the load"

# Exactly once each.
msgs=$(smtp_log mx1.good.test | grep '"event": "message"')
assert_eq "$(printf '%s\n' "$msgs" | grep -c .)" "$N" "messages at mx1.good.test"
subjects=$(printf '%s\n' "$msgs" | python3 -c '
import json, sys
for l in sys.stdin:
    print(json.loads(l)["subject"])' | sort)
assert_eq "$(printf '%s\n' "$subjects" | sort -u | grep -c .)" "$N" "distinct subjects"
for id in load-1 "load-$((N / 2))" "load-$N"; do
	assert_contains "$subjects" "shim test $id" "subjects"
done
assert_eq "$(printf '%s\n' "$msgs" | grep -c '"tls": true')" "$N" "messages over TLS"

# Every relay's decision: enforce, verified, allow.
decisions=$(grep -c ' decision ' "$RELAY_LOG" || true)
assert_eq "$decisions" "$N" "relay decisions"
assert_eq "$(grep ' decision ' "$RELAY_LOG" | grep -c 'policy=enforce .*tls=verified verdict=allow')" \
	"$N" "enforce/verified/allow decisions"

# The cache was never seen corrupt, and is whole now.
assert_not_contains "$(cat "$RELAY_LOG" "$TEST_TMP/refresh.log" 2>/dev/null)" "corrupt" "logs"
assert_exit 0 mtasts cache list
assert_not_contains "$OUT$ERR" corrupt
assert_exit 0 mtasts cache show good.test
assert_eq "$(field mode)" enforce

# No relay left behind.
wait_for 'relay_pids | grep -c . || true' 0 100 || fail "relays left: $(relay_pids | tr '\n' ' ')"
