#!/bin/bash
# The body limit is 64 KiB: exactly 65536 bytes is fine (a valid policy
# padded with an unknown key), 65537 bytes is a failure (exit 3).
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

assert_eq "$(stat -c %s "$WORLD/www/mta-sts.big.test/.well-known/mta-sts.txt")" 65537 "big.test body"
assert_eq "$(stat -c %s "$WORLD/www/mta-sts.big-ok.test/.well-known/mta-sts.txt")" 65536 "big-ok.test body"

assert_exit 3 mtasts policy big.test
assert_exit 0 mtasts policy big-ok.test --json
assert_eq "$(json_get 'd["mode"]')" enforce
assert_eq "$(json_get 'd["mx"]')" '["mx1.good.test"]'
assert_eq "$(json_get 'd["max_age"]')" 86400
