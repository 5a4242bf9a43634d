#!/bin/bash
# The cache directory must not be writable by others (or the group): such a
# directory is refused with a clear message, never used silently. A missing
# one is created with mode 0700; cache files are 0600.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

for mode in 0777 0770 0702; do
	new_cache_dir
	chmod "$mode" "$MTASTS_CACHE_DIR"
	run mtasts policy good.test
	assert_ne "$RC" 0 "exit status with a cache directory of mode $mode"
	assert_match "$ERR" "writable by (others|group|other|its group)" "stderr (mode $mode)"
	assert_eq "$(ls -A "$MTASTS_CACHE_DIR")" "" "files written into a refused directory (mode $mode)"
	run mtasts cache list
	assert_eq "$RC" 2 "cache list with a directory of mode $mode"
	assert_match "$ERR" "writable by" "cache list stderr (mode $mode)"
done
assert_eq "$(nginx_count mta-sts.good.test)" 0 "fetches into refused caches"

# A missing directory is created, private.
export MTASTS_CACHE_DIR=$TEST_TMP/new/cache
mkdir -m 0700 "$TEST_TMP/new"
assert_exit 0 mtasts policy good.test
assert_eq "$(stat -c %a "$MTASTS_CACHE_DIR")" 700 "created directory"
assert_eq "$(stat -c %a "$MTASTS_CACHE_DIR/good.test")" 600 "cache file"

# A cache file writable by others is not trusted either.
chmod 0666 "$MTASTS_CACHE_DIR/good.test"
run mtasts policy good.test --json
if [ "$RC" = 0 ]; then
	assert_eq "$(json_get 'd["source"]')" network "a world-writable cache file was used"
fi
