#!/bin/bash
# `mtasts check DOMAIN MXHOST`: only an enforce policy refuses an MX host
# that no mx pattern matches (RFC 8461 4.1).
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

assert_exit 0 mtasts check good.test mx1.good.test
assert_match "$OUT" '^allowed'
assert_exit 0 mtasts check good.test MX2.Good.Test.
assert_exit 1 mtasts check good.test rogue.good.test
assert_match "$OUT" '^refused'
assert_contains "$OUT" rogue.good.test
assert_exit 1 mtasts check good.test good.test
assert_exit 1 mtasts check good.test mx1.good.test.evil.test

# Wildcards match exactly one label.
assert_exit 0 mtasts check wild.test mx.wild.test
assert_exit 1 mtasts check wild.test wild.test
assert_exit 1 mtasts check wild.test a.mx.wild.test

# testing, none, no policy: allowed.
assert_exit 0 mtasts check testing.test rogue.good.test
assert_exit 0 mtasts check none.test rogue.good.test
assert_exit 0 mtasts check notxt.test rogue.good.test
# No policy and a temporary failure: 3.
assert_exit 3 mtasts check servfail.test mx1.good.test

assert_exit 1 mtasts check rogue.test rogue.good.test --json
assert_eq "$(json_get 'd["allowed"]')" false
assert_eq "$(json_get 'd["mode"]')" enforce
assert_exit 0 mtasts check rogue.test mx1.good.test --json
assert_eq "$(json_get 'd["allowed"]')" true

# An address literal is not a host name.
assert_exit 2 mtasts check good.test 127.0.2.1
