#!/bin/bash
# RFC 8461 5.1: a refusal under a cached enforce policy is made only after
# checking DNS for an updated policy. switch.test starts as enforce with
# mx1.good.test; it then adds rogue.good.test under a new id, then withdraws
# the policy with mode none: the relay follows at the first refusal, without
# waiting for the cache to expire.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
relay_env
world_switch_reset

drive -- --dest 127.0.2.3 --mx rogue.good.test --domain switch.test
assert_verdict refuse ECONNREFUSED
assert_decision policy=enforce policy_source=network detail=mx-not-listed
assert_untouched rogue.good.test

# New policy, new id: the cached refusal is re-checked and lifted.
printf 'version: STSv1\nmode: enforce\nmx: mx1.good.test\nmx: rogue.good.test\nmax_age: 86400\n' |
	world_policy_set switch.test
world_dns_set_txt _mta-sts.switch.test "v=STSv1; id=2"
relay_mark
drive --mail s@sender.test a@switch.test --subject recheck -- \
	--dest 127.0.2.3 --mx rogue.good.test --domain switch.test
assert_verdict relay
assert_decision policy=enforce policy_source=network tls=verified verdict=allow
assert_eq "$(nginx_count mta-sts.switch.test)" 1 "policy fetched again"
assert_delivered rogue.good.test recheck true rogue.good.test
# From now on the new policy is served from the cache with no DNS at all.
relay_mark
drive -- --dest 127.0.2.1 --mx mx1.good.test --domain switch.test
assert_verdict relay
assert_decision policy_source=cache verdict=allow
assert_eq "$(dns_count _mta-sts.switch.test TXT)" 0 "TXT queries"

# The domain withdraws its policy (mode none, id 3): a refusal made on the
# cached enforce policy turns into the fallback after the re-check.
printf 'version: STSv1\nmode: none\nmax_age: 86400\n' | world_policy_set switch.test
world_dns_set_txt _mta-sts.switch.test "v=STSv1; id=3"
relay_mark
drive --mail s@sender.test a@switch.test --subject withdrawn -- \
	--dest 127.0.2.9 --mx mx.smtp-notls.test --domain switch.test
assert_verdict relay
assert_decision policy=none tls=none verdict=allow
assert_delivered mx.smtp-notls.test withdrawn false

# The same id, unchanged policy: the re-check costs one TXT query, no fetch,
# and the refusal stands. (A fresh cache: the cached mode none would
# otherwise apply until it expires, as it should.)
world_switch_reset
rm -rf "$MTASTS_CACHE_DIR"
mkdir -m 0700 "$MTASTS_CACHE_DIR"
relay_mark
drive -- --dest 127.0.2.3 --mx rogue.good.test --domain switch.test
relay_mark
drive -- --dest 127.0.2.3 --mx rogue.good.test --domain switch.test
assert_verdict refuse ECONNREFUSED
assert_decision policy=enforce policy_source=cache detail=mx-not-listed
assert_eq "$(dns_count _mta-sts.switch.test TXT)" 1 "TXT re-check"
assert_eq "$(nginx_count mta-sts.switch.test)" 0 "no fetch"
