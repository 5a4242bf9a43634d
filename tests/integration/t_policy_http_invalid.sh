#!/bin/bash
# A served policy that does not parse (mode: bogus) is a failure (exit 3);
# one with CRLF line ends is valid (RFC 8461 erratum 6253).
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

assert_exit 3 mtasts policy invalid.test
assert_failure_class invalid
assert_eq "$(nginx_count mta-sts.invalid.test)" 1 "requests"
assert_exit 0 mtasts policy crlf.test --json
assert_eq "$(json_get 'd["mx"]')" '["mx1.good.test"]'
assert_eq "$(json_get 'd["max_age"]')" 86400
