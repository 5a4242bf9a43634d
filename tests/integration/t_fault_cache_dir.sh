#!/bin/bash
# The cache directory becomes read-only (a remount), or full (a tiny tmpfs
# filled up), in this test's own mount namespace. Enforcement continues
# from what is known and nothing is weakened silently:
#   - policies cached before keep being enforced by the relay (the listed
#     MX over verified TLS, an unlisted one refused);
#   - a policy fetched now (a new id) is used for this decision although
#     it cannot be stored, and the log says "not cached" with the reason
#     (a warning); the cached policy stays the one on disk;
#   - a failed write never leaves a torn file: every entry still parses.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/fault_lib.sh"
fault_env
need_mtasts
MNT=$TEST_TMP/cachefs
mkdir -p "$MNT"
cleanup() {
	umount "$MNT" 2>/dev/null || true
	world_switch_reset
	fault_stop
}
trap cleanup EXIT
world_switch_reset

# A cache directory of its own filesystem, mode 0700, owned by us.
mount_cache() {
	umount "$MNT" 2>/dev/null || true
	mount -t tmpfs -o size=64k,mode=0700 h6-cache "$MNT" || skip "cannot mount a tmpfs here"
	export MTASTS_CACHE_DIR=$MNT
}

# enforced CASE: good.test's cached policy is enforced by the relay.
enforced() {
	relay_mark
	drive --mail s@sender.test a@good.test --subject "cache-$1" -- \
		--dest 127.0.2.1 --mx mx1.good.test --domain good.test
	assert_verdict relay
	assert_decision policy=enforce policy_source=cache tls=verified verdict=allow
	assert_delivered mx1.good.test "cache-$1" true
	relay_mark
	drive -- --dest 127.0.2.3 --mx rogue.good.test --domain good.test
	assert_verdict refuse ECONNREFUSED
	assert_decision policy=enforce policy_source=cache verdict=refuse detail=mx-not-listed
	assert_untouched rogue.good.test
}

# new_policy_unstored CASE ERRTEXT: switch.test announces id CASE with a
# policy listing only mx2.good.test. The relay, asked for mx2 (refused by
# the cached id-1 policy, so it rechecks DNS first, RFC 8461 5.1), fetches
# and applies the new policy although it cannot store it, and says so;
# the CLI does the same (the live policy, a warning, nothing stored).
new_policy_unstored() {
	printf 'version: STSv1\nmode: enforce\nmx: mx2.good.test\nmax_age: 86400\n' |
		world_policy_set switch.test
	world_dns_set_txt _mta-sts.switch.test "v=STSv1; id=$1"
	relay_mark
	drive --mail s@sender.test a@switch.test --subject "cache-$1-mx2" -- \
		--dest 127.0.2.2 --mx mx2.good.test --domain switch.test
	assert_verdict relay
	assert_decision policy=enforce tls=verified verdict=allow
	assert_delivered mx2.good.test "cache-$1-mx2" true
	assert_match "$(relay_log_since)" "warn: policy domain=switch.test not cached: .*$2"
	MTASTS_LOG=stderr run mtasts policy switch.test
	assert_eq "$RC" 0 "mtasts policy exit"
	assert_eq "$(field mx)" mx2.good.test "the live policy is used"
	assert_match "$ERR" "not cached: .*$2"
	# Nothing was stored: the cache still holds id 1.
	assert_exit 0 mtasts cache show switch.test
	assert_eq "$(field id)" 1 "stored id"
}

# cache_whole: every entry of the cache parses.
cache_whole() {
	local f
	assert_exit 0 mtasts cache list
	assert_not_contains "$OUT$ERR" corrupt "cache list"
	for f in "$MNT"/.[!.]* "$MNT"/*; do
		[ -e "$f" ] || continue
		case ${f##*/} in
		.*|*.tmp*) fail "a temporary file was left: $f" ;;
		esac
	done
	assert_exit 0 mtasts cache show good.test
	assert_eq "$(field mode)" enforce "good.test entry"
}

# --- read-only ---------------------------------------------------------
mount_cache
warm good.test
warm switch.test
mount -o remount,ro "$MNT"
run touch "$MNT/probe"
assert_ne "$RC" 0 "the cache directory is read-only"
assert_exit 0 mtasts policy good.test
assert_eq "$(field mode)" enforce
enforced ro
new_policy_unstored 2 "[Rr]ead-only file system"
cache_whole

# --- full ----------------------------------------------------------------
world_switch_reset
mount_cache
warm good.test
warm switch.test
dd if=/dev/zero of="$MNT/filler" bs=4k count=64 2>/dev/null || true
run sh -c "echo x > '$MNT/probe2'"
assert_ne "$RC" 0 "the cache filesystem is full"
rm -f "$MNT/probe2"
enforced full
new_policy_unstored 3 "[Nn]o space left on device"
rm -f "$MNT/filler"
cache_whole
