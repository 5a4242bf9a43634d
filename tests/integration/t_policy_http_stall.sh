#!/bin/bash
# A policy host that completes TLS and never answers, and one that answers
# one byte every 0.5 s: with MTASTS_TIMEOUT=2 each look-up gives up with a
# temporary failure (exit 3) after about 2 s, not later.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts
export MTASTS_TIMEOUT=2

assert_exit 3 mtasts policy stall.test
assert_le "$ELAPSED_MS" 5000 "stall.test time (ms)"
assert_le 1500 "$ELAPSED_MS" "stall.test time (ms): gave up before the timeout"
assert_eq "$(stall_count stall.test)" 1 "connections to stall.test"

assert_exit 3 mtasts policy drip.test
assert_le "$ELAPSED_MS" 5000 "drip.test time (ms)"
assert_le 1500 "$ELAPSED_MS" "drip.test time (ms): gave up before the timeout"
assert_eq "$(stall_count drip.test)" 1 "connections to drip.test"
