#!/bin/bash
# Usage and configuration errors: exit 2, with a message naming the problem.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

assert_exit 2 mtasts
assert_exit 2 mtasts frobnicate
assert_exit 2 mtasts policy
assert_exit 2 mtasts policy good.test other.test
assert_exit 2 mtasts policy --bogus good.test
assert_exit 2 mtasts policy 'bad domain!'
assert_exit 2 mtasts policy 127.0.0.1
assert_exit 2 mtasts check good.test
assert_exit 0 mtasts --help
assert_exit 0 mtasts help policy
assert_contains "$OUT" "mtasts policy DOMAIN"

MTASTS_TIMEOUT=abc assert_exit 2 mtasts policy good.test
assert_contains "$ERR" MTASTS_TIMEOUT
MTASTS_TIMEOUT=0 assert_exit 2 mtasts policy good.test
MTASTS_DNS_SERVERS=not-an-address assert_exit 2 mtasts policy good.test
assert_contains "$ERR" MTASTS_DNS_SERVERS
MTASTS_LOG=relative/path assert_exit 2 mtasts policy good.test
assert_contains "$ERR" MTASTS_LOG
assert_eq "$(nginx_count mta-sts.good.test)" 0 "fetches"
