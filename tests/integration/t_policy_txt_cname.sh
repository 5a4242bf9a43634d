#!/bin/bash
# _mta-sts.cname.test is a CNAME to the TXT record: followed (exit 0).
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

assert_exit 0 mtasts policy cname.test --json
assert_eq "$(json_get 'd["id"]')" cname1
assert_eq "$(json_get 'd["mode"]')" enforce
assert_eq "$(nginx_count mta-sts.cname.test)" 1 "fetches"
