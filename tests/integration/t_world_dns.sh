#!/bin/bash
# The world's DNS answers as tests/world/README.md says (dig is the client).
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env

q() { dig +time=2 +tries=1 @"$WORLD_DNS" "$@"; }
short() { dig +short +time=2 +tries=1 @"$WORLD_DNS" "$@"; }

assert_eq "$(short _mta-sts.good.test TXT)" '"v=STSv1; id=20240101"' "good.test TXT"
assert_eq "$(short mta-sts.good.test A)" 127.0.1.1 "policy host A"
assert_eq "$(short good.test MX | sort)" $'10 mx1.good.test.\n20 mx2.good.test.' "good.test MX"
assert_eq "$(short mx1.good.test A)" 127.0.2.1 "mx1 A"
assert_eq "$(short _mta-sts.multistr.test TXT)" '"v=STSv1; id=" "2024" "0101"' "multi-string TXT"
assert_eq "$(short _mta-sts.twotxt.test TXT | wc -l)" 2 "two TXT records"
run q _mta-sts.cname.test TXT
assert_match "$OUT" 'CNAME[[:space:]]+sts-record\.elsewhere\.test\.'
assert_match "$OUT" 'TXT[[:space:]]+"v=STSv1; id=cname1"'
run q _mta-sts.notxt.test TXT
assert_contains "$OUT" "status: NXDOMAIN"
run q mta-sts.good.test TXT
assert_contains "$OUT" "status: NOERROR"
assert_contains "$OUT" "ANSWER: 0"
run q _mta-sts.servfail.test TXT
assert_contains "$OUT" "status: SERVFAIL"
run q _mta-sts.refused.test TXT
assert_contains "$OUT" "status: REFUSED"
run dig +time=1 +tries=1 @"$WORLD_DNS" _mta-sts.timeout.test TXT
assert_contains "$OUT" "timed out"
run q example.com A
assert_contains "$OUT" "status: REFUSED"
# The real resolver of the namespace is the world's.
assert_eq "$(getent hosts mta-sts.good.test | awk '{print $1}')" 127.0.1.1 "getent through /etc/resolv.conf"
assert_eq "$(dns_count _mta-sts.good.test TXT)" 1 "queries logged"

# Changing data at run time.
world_switch_reset
assert_eq "$(short _mta-sts.switch.test TXT)" '"v=STSv1; id=1"'
world_dns_set_txt _mta-sts.switch.test "v=STSv1; id=2"
assert_eq "$(short _mta-sts.switch.test TXT)" '"v=STSv1; id=2"'
world_dns_set_txt_strings _mta-sts.switch.test "v=STSv1; " "id=3"
assert_eq "$(short _mta-sts.switch.test TXT)" '"v=STSv1; " "id=3"'
world_dns_fail _mta-sts.switch.test servfail
run q _mta-sts.switch.test TXT
assert_contains "$OUT" "status: SERVFAIL"
world_dns_set_txt _mta-sts.switch.test
run q _mta-sts.switch.test TXT
assert_contains "$OUT" "status: NXDOMAIN"
world_dns_set_host mta-sts.switch.test "$WORLD_ADDR_DOWN"
assert_eq "$(short mta-sts.switch.test A)" "$WORLD_ADDR_DOWN"
world_switch_reset
assert_eq "$(short mta-sts.switch.test A)" 127.0.1.27
