#!/bin/bash
# A TXT record that does not start with v=STSv1 is discarded: no policy.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

assert_exit 1 mtasts policy badtxt.test
assert_eq "$(nginx_count mta-sts.badtxt.test)" 0 "fetches"

# A non-STS record next to one STS record is ignored (discard, then count).
world_switch_reset
world_dns_set_txt _mta-sts.switch.test "v=spf1 -all" "v=STSv1; id=mixed1"
assert_exit 0 mtasts policy switch.test --json
assert_eq "$(json_get 'd["id"]')" mixed1
# "v=STSv1x; ..." does not begin with the version field: discarded, no
# policy (in a cache of its own: a missing record keeps a cached policy).
new_cache_dir
world_dns_set_txt _mta-sts.switch.test "v=STSv1x; id=2"
assert_exit 1 mtasts policy switch.test
world_switch_reset
