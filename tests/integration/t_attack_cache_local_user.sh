#!/bin/bash
# A local user who can write the cache directory plants a forged entry for
# good.test (mode none: MTA-STS switched off; or a policy listing the
# user's own MX). The engine refuses a cache directory that others (or the
# group) can write, and any cache file that is writable by others, owned
# by another user or a symbolic link: the forged entry is never used. The
# refusal is loud (the reason names the mode, owner or link).
# (What the relay does then: t_attack_cache_local_user_relay; the CLI's
# messages for unsafe directories: t_policy_cache_perms.)
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/fault_lib.sh"
fault_env
need_mtasts
cli() { MTASTS_LOG=stderr MTASTS_LOG_LEVEL=info mtasts "$@"; }

# forge DIR: a well-formed cache entry for good.test, mode none, valid for
# a day, as the local attacker would write it.
forge() {
	local now body
	now=$(date +%s)
	body=$'version: STSv1\nmode: none\nmax_age: 86400\n'
	printf 'mtasts-cache 1\ndomain good.test\nid 20240101\nfetched %s\nexpires %s\nfailed 0\nfailed_id -\nfailed_reason -\nlength %s\n\n%s' \
		"$now" "$((now + 86400))" "${#body}" "$body" > "$1/good.test"
}

# The forgery format is right: in a safe directory, owned by us, it is
# believed (this is what makes the refusals below meaningful).
new_cache_dir
forge "$MTASTS_CACHE_DIR"
chmod 0600 "$MTASTS_CACHE_DIR/good.test"
assert_exit 0 cli policy good.test
assert_eq "$(field mode)" none "control: our own entry is used"

# 1. A directory others can write: refused as a whole.
for mode in 0777 0770 1777; do
	new_cache_dir
	chmod "$mode" "$MTASTS_CACHE_DIR"
	forge "$MTASTS_CACHE_DIR"
	chmod 0600 "$MTASTS_CACHE_DIR/good.test"
	run cli policy good.test
	assert_ne "$RC" 0 "mtasts policy with a $mode cache directory"
	assert_not_contains "$OUT" "mode: none" "the forged policy ($mode)"
	assert_match "$ERR" "writable by (others|group|the group)" "the reason ($mode)"
done

# 2. A safe directory with an unsafe file in it (how it got there does
# not matter: a past misconfiguration, a restored backup).
new_cache_dir
forge "$MTASTS_CACHE_DIR"
chmod 0666 "$MTASTS_CACHE_DIR/good.test"
run cli policy good.test
assert_not_contains "$OUT" "mode: none" "a file writable by others"
assert_match "$ERR" "writable by"
new_cache_dir
forge "$MTASTS_CACHE_DIR"
chmod 0600 "$MTASTS_CACHE_DIR/good.test"
chown nobody "$MTASTS_CACHE_DIR/good.test"
run cli policy good.test
assert_not_contains "$OUT" "mode: none" "a file owned by nobody"
assert_match "$ERR" "owned by|owner"
new_cache_dir
forge "$TEST_TMP"
chmod 0600 "$TEST_TMP/good.test"
ln -s "$TEST_TMP/good.test" "$MTASTS_CACHE_DIR/good.test"
run cli policy good.test
assert_not_contains "$OUT" "mode: none" "a symbolic link"
assert_match "$ERR" "symbolic link|symlink|Too many levels"
