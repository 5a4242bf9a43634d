#!/bin/bash
# A valid enforce policy: every field of the text and --json output, the
# request (one GET with SNI), then the same answer from the cache.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

RFC3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'
t0=$(date -u +%s)
assert_exit 0 mtasts policy good.test
assert_eq "$(field domain)" good.test domain
assert_eq "$(field mode)" enforce mode
assert_eq "$(fields mx)" $'mx1.good.test\nmx2.good.test' mx
assert_eq "$(field max_age)" 86400 max_age
assert_eq "$(field id)" 20240101 id
assert_eq "$(field source)" network source
assert_match "$(field fetched_at)" "$RFC3339" fetched_at
assert_match "$(field expires_at)" "$RFC3339" expires_at
fetched=$(date -u -d "$(field fetched_at)" +%s)
expires=$(date -u -d "$(field expires_at)" +%s)
assert_le "$((t0 - 1))" "$fetched" "fetched_at vs start"
assert_le "$fetched" "$(( $(date -u +%s) + 1 ))" "fetched_at vs now"
assert_eq "$((expires - fetched))" 86400 "expires_at - fetched_at"
assert_eq "$(nginx_count mta-sts.good.test /.well-known/mta-sts.txt)" 1 "policy fetches"
assert_eq "$(nginx_count mta-sts.good.test)" 1 "all requests"
assert_eq "$(nginx_sni mta-sts.good.test)" mta-sts.good.test "SNI"

assert_exit 0 mtasts policy good.test --json
assert_eq "$(json_get 'sorted(d.keys())')" \
	'["domain", "expires_at", "fetched_at", "id", "max_age", "mode", "mx", "source"]' "JSON keys"
assert_eq "$(json_get 'd["domain"]')" good.test
assert_eq "$(json_get 'd["mode"]')" enforce
assert_eq "$(json_get 'd["mx"]')" '["mx1.good.test", "mx2.good.test"]'
assert_eq "$(json_get 'd["max_age"]')" 86400
assert_eq "$(json_get 'd["id"]')" 20240101
assert_eq "$(json_get 'd["source"]')" cache
assert_eq "$(date -u -d "$(json_get 'd["fetched_at"]')" +%s)" "$fetched" "cached fetched_at"
assert_eq "$(date -u -d "$(json_get 'd["expires_at"]')" +%s)" "$expires" "cached expires_at"
assert_eq "$(nginx_count mta-sts.good.test)" 1 "no second fetch"

# The cache file is private.
assert_eq "$(stat -c %a "$MTASTS_CACHE_DIR/good.test")" 600 "cache file mode"
