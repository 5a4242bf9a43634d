#!/bin/bash
# A wildcard certificate *.wildpolicy.test is valid for mta-sts.wildpolicy.test.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

assert_exit 0 mtasts policy wildpolicy.test --json
assert_eq "$(json_get 'd["source"]')" network
assert_eq "$(json_get 'd["mx"]')" '["mx1.good.test"]'
assert_eq "$(nginx_sni mta-sts.wildpolicy.test)" mta-sts.wildpolicy.test "SNI"
