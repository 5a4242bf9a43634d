#!/bin/bash
# A new TXT id makes the engine fetch again; the new policy replaces the old.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts
world_switch_reset

assert_exit 0 mtasts policy switch.test --json
assert_eq "$(json_get 'd["source"]')" network
assert_eq "$(json_get 'd["mx"]')" '["mx1.good.test"]'
assert_eq "$(nginx_count mta-sts.switch.test)" 1 "first fetch"

printf 'version: STSv1\nmode: enforce\nmx: mx2.good.test\nmax_age: 3600\n' |
	world_policy_set switch.test
world_dns_set_txt _mta-sts.switch.test "v=STSv1; id=2"
assert_exit 0 mtasts policy switch.test --json
assert_eq "$(json_get 'd["source"]')" network
assert_eq "$(json_get 'd["id"]')" 2
assert_eq "$(json_get 'd["mx"]')" '["mx2.good.test"]'
assert_eq "$(json_get 'd["max_age"]')" 3600
assert_eq "$(nginx_count mta-sts.switch.test)" 2 "refetch on new id"

assert_exit 0 mtasts policy switch.test --json
assert_eq "$(json_get 'd["source"]')" cache
assert_eq "$(json_get 'd["id"]')" 2
assert_eq "$(nginx_count mta-sts.switch.test)" 2 "no fetch for the same id"
world_switch_reset
