#!/bin/bash
# mta-sts.selfsigned.test presents a self-signed certificate:
# the fetch fails, exit 3, nothing cached.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

# Control: the same set-up fetches good.test.
assert_exit 0 mtasts policy good.test
assert_exit 3 mtasts policy selfsigned.test
assert_failure_class webpki
assert_eq "$OUT" "" stdout
assert_eq "$(nginx_count mta-sts.selfsigned.test)" 0 "requests after a failed handshake"
run mtasts cache show selfsigned.test
assert_not_contains "$OUT" "policy:" "cache"
