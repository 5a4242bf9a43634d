#!/bin/bash
# HTTP 404 for the policy: temporary failure (exit 3), nothing cached.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

assert_exit 3 mtasts policy notfound.test
assert_failure_class fetch
assert_eq "$(nginx_count mta-sts.notfound.test /.well-known/mta-sts.txt)" 1 "requests"
# Only the failure may be remembered: no policy.
run mtasts policy notfound.test --json
assert_eq "$RC" 3 "second look-up"
