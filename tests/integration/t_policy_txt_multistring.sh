#!/bin/bash
# A TXT record of several strings "v=STSv1; id=" "2024" "0101" is joined
# without spaces: id 20240101.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

assert_exit 0 mtasts policy multistr.test --json
assert_eq "$(json_get 'd["id"]')" 20240101
assert_exit 0 mtasts policy multistr.test
assert_eq "$(field id)" 20240101
