#!/bin/bash
# Policies in mode testing and mode none are policies too (exit 0).
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

assert_exit 0 mtasts policy testing.test --json
assert_eq "$(json_get 'd["mode"]')" testing
assert_eq "$(json_get 'd["mx"]')" '["mx1.good.test"]'
assert_eq "$(json_get 'd["id"]')" 20240102

assert_exit 0 mtasts policy none.test --json
assert_eq "$(json_get 'd["mode"]')" none
assert_eq "$(json_get 'd["mx"]')" '[]'
assert_eq "$(json_get 'd["id"]')" 20240103
assert_eq "$(json_get 'd["source"]')" network
