#!/bin/bash
# A policy host that starts a good answer and then misbehaves in the body:
#   stall-body  Content-Length 4096, 100 bytes, then silence: the fetch
#               gives up at MTASTS_TIMEOUT (2 s here), not later;
#   endless     no length, body bytes forever as fast as they are read:
#               the 64 KiB cap ends the fetch at once (long before the
#               timeout), with bounded memory and bytes read.
# Both are temporary failures (exit 3, sts-policy-fetch-error), nothing is
# cached, and an enforce policy cached earlier stays in force (a refetch
# triggered by a new id that hits the bad host keeps the cached policy).
# (A host that never answers and one that drips: t_policy_http_stall.)
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/fault_lib.sh"
fault_env
need_mtasts
export MTASTS_LOG=stderr MTASTS_LOG_LEVEL=info

# Stalls mid-body.
export MTASTS_TIMEOUT=2
evil_policy 127.0.6.20 stall-body h6-stallbody.test
assert_exit 3 mtasts policy h6-stallbody.test
assert_failure_class fetch
assert_le 1800 "$ELAPSED_MS" "stall-body: gave up too early"
assert_le "$ELAPSED_MS" 3500 "stall-body: gave up too late"
assert_eq "$(evil_count request)" 1 "requests"
assert_eq "$(grep -c '"path": "/.well-known/mta-sts.txt"' "$EVIL_LOG")" 1 "request path"
run mtasts cache list
assert_match "$OUT" '^h6-stallbody\.test +- +- +- +no-policy' "cache list: only the failure remembered"

# Endless body: the cap stops it long before the 5 s timeout.
export MTASTS_TIMEOUT=5
evil_policy 127.0.6.21 endless h6-endless.test
assert_exit 3 mtasts policy h6-endless.test
assert_failure_class fetch
assert_le "$ELAPSED_MS" 1500 "endless body: not stopped by the size cap"
assert_match "$ERR" "65536|64 ?Ki?B|too large|size" "the reason names the size cap"
# The server notices the client is gone and logs what it managed to send:
# the cap plus what the socket buffers held (loopback autotuning lets the
# receive and send buffers grow to tcp_rmem and tcp_wmem's maximum: 3.9 MB
# was seen on a loaded machine), far from unbounded.
wait_for "evil_count sent" 1 || fail "the endless host never saw the client leave"
sent=$(sed -n 's/.*"bytes": \([0-9]*\).*/\1/p' "$EVIL_LOG" | tail -n 1)
buffers=$(( $(awk '{print $3}' /proc/sys/net/ipv4/tcp_rmem) + \
	$(awk '{print $3}' /proc/sys/net/ipv4/tcp_wmem) ))
assert_le "$sent" $((buffers + 1048576)) "bytes the endless host got to send"
run mtasts cache list
assert_match "$OUT" '^h6-endless\.test +- +- +- +no-policy' "cache list: only the failure remembered"

# A cached enforce policy survives a refetch that hits the endless host:
# a new id is announced, the fetch fails, the old policy is kept.
cat > "$TEST_TMP/policy" <<'P'
version: STSv1
mode: enforce
mx: mx1.good.test
max_age: 86400
P
evil_policy 127.0.6.22 serve h6-kept.test --body "$TEST_TMP/policy"
assert_exit 0 mtasts policy h6-kept.test
assert_eq "$(field mode)" enforce
kill "${_EVIL_PIDS[-1]}"
evil_policy 127.0.6.23 endless h6-kept.test
world_dns_set_txt _mta-sts.h6-kept.test "v=STSv1; id=2"
assert_exit 0 mtasts policy h6-kept.test
assert_eq "$(field mode)" enforce "the cached policy after a failed refetch"
assert_eq "$(field id)" 1 "cached id"
assert_contains "$ERR" "cached policy kept"
assert_eq "$(evil_count request)" 1 "the refetch reached the endless host"
