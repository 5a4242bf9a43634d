#!/bin/bash
# No TXT record _mta-sts.<domain>: no policy (exit 1), and the policy host
# (which does serve a policy) is never asked.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

assert_exit 1 mtasts policy notxt.test
assert_eq "$OUT" "" "stdout"
assert_eq "$(nginx_count mta-sts.notxt.test)" 0 "fetches"
assert_exit 1 mtasts policy notxt.test --json
