#!/bin/bash
# mta-sts.cnonly.test presents a certificate with the right CN but no subjectAltName (RFC 8461 needs a DNS-ID; curl would accept it):
# the fetch fails, exit 3, nothing cached.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

# Control: the same set-up fetches good.test.
assert_exit 0 mtasts policy good.test
assert_exit 3 mtasts policy cnonly.test
assert_failure_class webpki
assert_eq "$OUT" "" stdout
assert_eq "$(nginx_count mta-sts.cnonly.test)" 0 "requests after a failed handshake"
run mtasts cache show cnonly.test
assert_not_contains "$OUT" "policy:" "cache"
