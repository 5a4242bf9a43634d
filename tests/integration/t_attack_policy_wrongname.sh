#!/bin/bash
# A malicious policy host: the attacker takes over mta-sts.switch.test's
# address and announces a new id, serving "mode: none" (which would switch
# MTA-STS off for the domain) over TLS with a certificate from the trusted
# CA, but for another name (mta-sts.h6-other.test). The fetch fails the
# name check (sts-webpki-invalid) before any HTTP request is sent, and:
#   - the cached enforce policy stays in force (CLI and relay: the unlisted
#     MX is still refused);
#   - with nothing cached there is no policy (exit 3), never the
#     attacker's.
# Control: the same host with a certificate for the right name is believed
# (mode none replaces the policy), so the refusal above is the name check.
# (The world's wrongname.test, from a clean start: t_policy_tls_wrongname.)
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/fault_lib.sh"
fault_env
need_mtasts
trap 'world_switch_reset; fault_stop' EXIT
world_switch_reset
cli() { MTASTS_LOG=stderr MTASTS_LOG_LEVEL=info mtasts "$@"; }

printf 'version: STSv1\nmode: none\nmax_age: 86400\n' > "$TEST_TMP/none.txt"
h6_cert mta-sts.h6-other.test
_evil_start wrongname evil_policy.py --addr 127.0.6.30 --mode serve \
	--cert "$WORLD/ca/mta-sts.h6-other.test.pem" \
	--key "$WORLD/ca/mta-sts.h6-other.test.key" --body "$TEST_TMP/none.txt"
WRONG_LOG=$EVIL_LOG

# The enforce policy is cached; then the attack begins.
assert_exit 0 cli policy switch.test
assert_eq "$(field mode)" enforce
WORLD_DNS_DEFER=1 world_dns_set_host mta-sts.switch.test 127.0.6.30
world_dns_set_txt _mta-sts.switch.test "v=STSv1; id=evil1"

assert_exit 0 cli policy switch.test
assert_eq "$(field mode)" enforce "mode after the attack"
assert_eq "$(field id)" 1 "id after the attack"
assert_failure_class webpki
assert_contains "$ERR" "cached policy kept"
assert_eq "$(evil_count connect "$WRONG_LOG")" 1 "TLS connections to the attacker"
assert_eq "$(evil_count request "$WRONG_LOG")" 0 "HTTP requests sent to the attacker"

# The relay still enforces (the refusal rechecks DNS, sees id evil1,
# which is in its 5-minute backoff: the cached policy decides).
relay_mark
drive -- --dest 127.0.2.3 --mx rogue.good.test --domain switch.test
assert_verdict refuse ECONNREFUSED
assert_decision domain=switch.test policy=enforce policy_source=cache verdict=refuse \
	detail=mx-not-listed
assert_untouched rogue.good.test

# Nothing cached: no policy at all (temporary failure), not mode none.
new_cache_dir
assert_exit 3 cli policy switch.test
assert_failure_class webpki
assert_eq "$(evil_count request "$WRONG_LOG")" 0 "HTTP requests sent to the attacker"
run cli cache show switch.test
assert_ne "$(field mode)" none "cached mode"

# Control: the right name is believed.
h6_cert mta-sts.switch.test
_evil_start rightname evil_policy.py --addr 127.0.6.31 --mode serve \
	--cert "$WORLD/ca/mta-sts.switch.test.pem" \
	--key "$WORLD/ca/mta-sts.switch.test.key" --body "$TEST_TMP/none.txt"
world_dns_set_host mta-sts.switch.test 127.0.6.31
assert_exit 0 cli policy switch.test --fresh
assert_eq "$(field mode)" none "control: mode from the host with the right name"
assert_eq "$(evil_count request)" 1 "control: requests"
