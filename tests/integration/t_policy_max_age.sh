#!/bin/bash
# A cached policy is used until max_age only: with max_age 1, two seconds
# later a DNS failure leaves nothing usable (exit 3), and a working DNS with
# the same id fetches again.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts
world_switch_reset

printf 'version: STSv1\nmode: enforce\nmx: mx1.good.test\nmax_age: 1\n' | world_policy_set switch.test
assert_exit 0 mtasts policy switch.test --json
assert_eq "$(json_get 'd["max_age"]')" 1
sleep 2.2
MTASTS_DNS_SERVERS=$WORLD_DNS_SERVFAIL assert_exit 3 mtasts policy switch.test
assert_exit 0 mtasts cache show switch.test
assert_eq "$(field state)" expired "cache state"
assert_exit 0 mtasts policy switch.test --json
assert_eq "$(json_get 'd["source"]')" network "same id, expired cache"
assert_eq "$(nginx_count mta-sts.switch.test)" 2 "fetches"
world_switch_reset
