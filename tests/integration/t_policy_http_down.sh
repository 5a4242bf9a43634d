#!/bin/bash
# TXT record fine, nothing listens on the policy host: exit 3, quickly.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

assert_exit 3 mtasts policy down.test
assert_failure_class fetch
assert_le "$ELAPSED_MS" 5000 "time (ms)"
# Control: good.test, same set-up.
assert_exit 0 mtasts policy good.test
