#!/bin/bash
# `mtasts lint`: a valid file is printed normalised (exit 0); an invalid one
# gives its problems with line numbers on stderr (exit 1).
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

printf 'version: STSv1\r\nmode:   enforce\r\nmx: MX1.good.test\r\nfoo: bar\r\nmax_age: 604800  \r\n' \
	> "$TEST_TMP/ok.txt"
assert_exit 0 mtasts lint "$TEST_TMP/ok.txt"
assert_eq "$OUT" $'version: STSv1\nmode: enforce\nmx: mx1.good.test\nmax_age: 604800' "normalised"
assert_exit 0 mtasts lint - < "$TEST_TMP/ok.txt"
assert_exit 0 mtasts lint < "$TEST_TMP/ok.txt"
# The files the world serves.
assert_exit 0 mtasts lint "$WORLD/www/mta-sts.good.test/.well-known/mta-sts.txt"
assert_exit 0 mtasts lint "$WORLD/www/mta-sts.big-ok.test/.well-known/mta-sts.txt"
assert_exit 1 mtasts lint "$WORLD/www/mta-sts.big.test/.well-known/mta-sts.txt"

printf 'version: STSv1\nmode: bogus\nmx: mx1.good.test\nmax_age: 99999999999\nnocolon\n' \
	> "$TEST_TMP/bad.txt"
assert_exit 1 mtasts lint "$TEST_TMP/bad.txt"
assert_eq "$OUT" "" stdout
assert_match "$ERR" "bad\\.txt:2: error: " "mode on line 2"
assert_match "$ERR" "bad\\.txt:4: error: " "max_age on line 4"
assert_match "$ERR" "bad\\.txt:5: error: " "line 5 without a colon"

printf 'version: STSv1\nmode: enforce\nmax_age: 86400\n' > "$TEST_TMP/nomx.txt"
assert_exit 1 mtasts lint "$TEST_TMP/nomx.txt"
assert_match "$ERR" "nomx\\.txt:0: error: " "a missing mx concerns the whole file"

assert_exit 2 mtasts lint "$TEST_TMP/does-not-exist"

assert_exit 1 mtasts lint --json "$TEST_TMP/bad.txt"
assert_eq "$(json_get 'd["valid"]')" false
assert_eq "$(json_get '[n for n in (2, 4, 5) if n not in [p["line"] for p in d["problems"] if p["error"]]]')" \
	"[]" "lines without their error"
