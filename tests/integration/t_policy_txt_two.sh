#!/bin/bash
# Two v=STSv1 TXT records: not exactly one, so no policy (RFC 8461 3.1).
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

assert_exit 1 mtasts policy twotxt.test
assert_eq "$(nginx_count mta-sts.twotxt.test)" 0 "fetches"
