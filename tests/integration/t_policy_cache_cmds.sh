#!/bin/bash
# `mtasts cache list | show | flush | refresh`.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

assert_exit 0 mtasts cache list
assert_eq "$(printf '%s\n' "$OUT" | sed 1d)" "" "empty cache list"

assert_exit 0 mtasts policy good.test
assert_exit 0 mtasts policy testing.test
assert_exit 3 mtasts policy notfound.test

assert_exit 0 mtasts cache list
assert_match "$OUT" '^good\.test +enforce +20240101 +[0-9T:-]+Z +valid$' "good.test line"
assert_match "$OUT" '^testing\.test +testing +20240102 +[0-9T:-]+Z +valid$' "testing.test line"
assert_match "$OUT" '^notfound\.test .*no-policy' "notfound.test line"

assert_exit 0 mtasts cache show good.test
assert_eq "$(field domain)" good.test
assert_eq "$(field id)" 20240101
assert_eq "$(field state)" valid
assert_contains "$OUT" $'policy:\nversion: STSv1\nmode: enforce\nmx: mx1.good.test\nmx: mx2.good.test\nmax_age: 86400'
assert_exit 1 mtasts cache show none.test

# refresh fetches every cached domain again.
world_mark
run mtasts cache refresh
assert_contains "$OUT" "good.test: refreshed (mode enforce, id 20240101)"
assert_contains "$OUT" "testing.test: refreshed (mode testing, id 20240102)"
assert_eq "$(nginx_count mta-sts.good.test)" 1 "refresh fetched good.test"
assert_eq "$(nginx_count mta-sts.testing.test)" 1 "refresh fetched testing.test"
assert_eq "$(nginx_count mta-sts.notfound.test)" 1 "refresh retried notfound.test"
assert_eq "$RC" 3 "refresh exit status (notfound.test has no valid policy)"

assert_exit 0 mtasts cache flush good.test
assert_exit 1 mtasts cache show good.test
assert_exit 1 mtasts cache flush good.test
assert_exit 0 mtasts cache show testing.test
assert_exit 0 mtasts cache flush
assert_contains "$OUT" "flushed 2 domains"
assert_exit 0 mtasts cache list
assert_eq "$(printf '%s\n' "$OUT" | sed 1d)" "" "cache list after flush"
assert_eq "$(ls -A "$MTASTS_CACHE_DIR")" "" "cache directory after flush"

assert_exit 2 mtasts cache show
assert_exit 2 mtasts cache show ../etc
assert_exit 2 mtasts cache frobnicate
