#!/bin/bash
# A 301 redirect (to a valid policy elsewhere) is not followed: temporary
# failure (exit 3), and the redirect target is never asked.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

assert_exit 3 mtasts policy redirect.test
assert_eq "$OUT" "" stdout
assert_eq "$(nginx_count mta-sts.redirect.test)" 1 "requests to the redirecting host"
assert_eq "$(nginx_count mta-sts.good.test)" 0 "requests to the redirect target"
