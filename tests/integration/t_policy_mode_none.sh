#!/bin/bash
# A fetched mode none replaces a cached enforce policy (how a domain
# withdraws its policy, RFC 8461 8.3), and is cached itself.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts
world_switch_reset

assert_exit 0 mtasts policy switch.test
assert_eq "$(field mode)" enforce
assert_exit 1 mtasts check switch.test rogue.good.test

printf 'version: STSv1\nmode: none\nmax_age: 86400\n' | world_policy_set switch.test
world_dns_set_txt _mta-sts.switch.test "v=STSv1; id=withdrawn"
assert_exit 0 mtasts policy switch.test --json
assert_eq "$(json_get 'd["mode"]')" none
assert_eq "$(json_get 'd["mx"]')" '[]'
assert_eq "$(json_get 'd["source"]')" network
assert_eq "$(json_get 'd["id"]')" withdrawn
assert_exit 0 mtasts check switch.test rogue.good.test
assert_exit 0 mtasts policy switch.test --json
assert_eq "$(json_get 'd["mode"]')" none
assert_eq "$(json_get 'd["source"]')" cache
world_switch_reset
