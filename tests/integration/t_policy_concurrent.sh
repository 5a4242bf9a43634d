#!/bin/bash
# Eight look-ups of the same domain at once into an empty cache: all succeed,
# and the cache file is whole afterwards (atomic replacement).
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

pids=()
for i in 1 2 3 4 5 6 7 8; do
	mtasts policy good.test --json > "$TEST_TMP/out.$i" 2> "$TEST_TMP/err.$i" &
	pids+=($!)
done
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || fail "look-up $((i + 1)) failed: $(cat "$TEST_TMP/err.$((i + 1))")"
done
for i in 1 2 3 4 5 6 7 8; do
	assert_eq "$(json_get 'd["mx"]' "$(cat "$TEST_TMP/out.$i")")" '["mx1.good.test", "mx2.good.test"]' "look-up $i"
done
assert_le "$(nginx_count mta-sts.good.test)" 8 "fetches"
assert_eq "$(ls -A "$MTASTS_CACHE_DIR")" good.test "cache directory (no temporary files left)"
assert_exit 0 mtasts policy good.test --json
assert_eq "$(json_get 'd["source"]')" cache
