#!/bin/bash
# The TXT record disappears: that alone does not remove the cached policy
# (RFC 8461 3.1); it stays in force until it expires.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts
world_switch_reset

assert_exit 0 mtasts policy switch.test
world_dns_set_txt _mta-sts.switch.test
assert_exit 0 mtasts policy switch.test --json
assert_eq "$(json_get 'd["source"]')" cache
assert_eq "$(json_get 'd["mode"]')" enforce
assert_exit 1 mtasts check switch.test rogue.good.test
# Without the cache: no policy.
new_cache_dir
assert_exit 1 mtasts policy switch.test
world_switch_reset
