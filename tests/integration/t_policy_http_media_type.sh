#!/bin/bash
# The policy must come as text/plain (RFC 8461 3.2): text/html is refused
# (exit 3); text/plain with parameters ("; charset=utf-8") is accepted.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

assert_exit 3 mtasts policy html.test
assert_eq "$(nginx_count mta-sts.html.test)" 1 "requests"

assert_exit 0 mtasts policy charset.test --json
assert_eq "$(json_get 'd["mode"]')" enforce
