#!/bin/bash
# The policy host is down when a new id asks for a refetch: the cached
# policy stays in force (exit 0, source cache, the old policy).
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts
world_switch_reset

assert_exit 0 mtasts policy switch.test
WORLD_DNS_DEFER=1 world_dns_set_host mta-sts.switch.test "$WORLD_ADDR_DOWN"
world_dns_set_txt _mta-sts.switch.test "v=STSv1; id=2"

assert_exit 0 mtasts policy switch.test --json
assert_eq "$(json_get 'd["source"]')" cache
assert_eq "$(json_get 'd["id"]')" 1 "the cached policy's id"
assert_eq "$(json_get 'd["mx"]')" '["mx1.good.test"]'

# The policy host's name does not resolve at all: same.
world_dns_set_host mta-sts.switch.test
assert_exit 0 mtasts policy switch.test --fresh --json
assert_eq "$(json_get 'd["source"]')" cache "after --fresh with no policy host"
assert_eq "$(nginx_count mta-sts.switch.test)" 1 "fetches"
world_switch_reset
