#!/bin/bash
# Same TXT id as the cached policy: no fetch (counted in nginx's log), even
# when the policy file changed behind the same id; but the TXT record is
# checked on every look-up.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts
world_switch_reset

for i in 1 2 3; do
	assert_exit 0 mtasts policy switch.test
done
assert_eq "$(field source)" cache
assert_eq "$(nginx_count mta-sts.switch.test)" 1 "fetches for three look-ups"
assert_eq "$(dns_count _mta-sts.switch.test TXT)" 3 "TXT queries"

printf 'version: STSv1\nmode: testing\nmx: other.test\nmax_age: 86400\n' |
	world_policy_set switch.test
assert_exit 0 mtasts policy switch.test
assert_eq "$(field mode)" enforce "policy behind an unchanged id"
assert_eq "$(fields mx)" mx1.good.test
assert_eq "$(nginx_count mta-sts.switch.test)" 1 "fetches"

# --fresh fetches anyway.
assert_exit 0 mtasts policy switch.test --fresh
assert_eq "$(field mode)" testing "after --fresh"
assert_eq "$(field source)" network
assert_eq "$(nginx_count mta-sts.switch.test)" 2 "fetches after --fresh"
world_switch_reset
