#!/bin/bash
# A cached enforce policy keeps being enforced while the policy host is
# down (RFC 8461 5.1, 3.3): the domain announces a new id, the refetch
# fails, and the relay still refuses the unlisted MX and requires verified
# TLS from the listed one, from the cache.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
relay_env
world_switch_reset
trap world_switch_reset EXIT

# Cache switch.test's enforce policy (mx1.good.test only).
warm switch.test
assert_contains "$("$BUILD/mtasts" policy switch.test)" "source: cache"

# The domain announces a new policy id, but its policy host fails.
world_dns_set_txt _mta-sts.switch.test "v=STSv1; id=2"
world_policy_remove switch.test

relay_mark
drive -- --dest 127.0.2.3 --mx rogue.good.test --domain switch.test
assert_verdict refuse ECONNREFUSED
assert_untouched rogue.good.test
assert_decision domain=switch.test policy=enforce policy_source=cache \
	verdict=refuse detail=mx-not-listed

relay_mark
drive --mail s@sender.test a@switch.test --subject cached-down -- \
	--dest 127.0.2.1 --mx mx1.good.test --domain switch.test
assert_verdict relay
assert_delivered mx1.good.test cached-down true mx1.good.test
assert_decision domain=switch.test policy=enforce policy_source=cache \
	tls=verified verdict=allow

# A listed MX with a certificate for another name is still refused.
relay_mark
drive -- --dest 127.0.2.4 --mx mx1.good.test --domain switch.test
assert_verdict refuse ECONNREFUSED
assert_decision domain=switch.test policy=enforce policy_source=cache verdict=refuse
echo "ok: cached enforce policy enforced with the policy host failing"
