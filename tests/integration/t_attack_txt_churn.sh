#!/bin/bash
# A TXT id that changes on every query (an attacker who controls or spoofs
# the domain's DNS; tests/helpers/evil_dns.py answers "id=churnN", N+1
# each time). The RFC 8461 3.3 backoff is per id, so a churning id would
# make every look-up fetch again; the engine's per-domain limit keeps the
# fetches bounded:
#   - the policy host fails (404): after MTS_FETCH_BURST failed fetches
#     of the domain within MTS_FETCH_BACKOFF, no more fetches, whatever
#     the id, until the window passes; each look-up is a quick
#     temporary failure;
#   - with an enforce policy cached, it stays in force through all of it
#     (the relay still refuses an unlisted MX).
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/fault_lib.sh"
fault_env
need_mtasts
cli() { MTASTS_LOG=stderr MTASTS_LOG_LEVEL=info mtasts "$@"; }
LOOKUPS=12

h6_cert mta-sts.h6-churn.test
h6_cert mta-sts.h6-churnok.test
printf 'version: STSv1\nmode: enforce\nmx: mx1.good.test\nmax_age: 86400\n' > "$TEST_TMP/policy"
_evil_start dns evil_dns.py --addr 127.0.6.53 \
	--a mta-sts.h6-churn.test=127.0.6.40 --a mta-sts.h6-churnok.test=127.0.6.41
DNS_LOG=$EVIL_LOG
_evil_start bad evil_policy.py --addr 127.0.6.40 --mode not-found \
	--cert "$WORLD/ca/mta-sts.h6-churn.test.pem" --key "$WORLD/ca/mta-sts.h6-churn.test.key"
BAD_LOG=$EVIL_LOG
_evil_start ok evil_policy.py --addr 127.0.6.41 --mode serve --body "$TEST_TMP/policy" \
	--cert "$WORLD/ca/mta-sts.h6-churnok.test.pem" --key "$WORLD/ca/mta-sts.h6-churnok.test.key"
export MTASTS_DNS_SERVERS=127.0.6.53

# A failing policy host, nothing cached.
for ((i = 1; i <= LOOKUPS; i++)); do
	assert_exit 3 cli policy h6-churn.test
	assert_le "$ELAPSED_MS" 1500 "look-up $i"
done
ids=$(grep -c '"name": "_mta-sts.h6-churn.test"' "$DNS_LOG")
assert_eq "$ids" "$LOOKUPS" "TXT queries (a new id each)"
fetches=$(evil_count request "$BAD_LOG")
echo "fetches with a churning id and a failing host: $fetches of $LOOKUPS look-ups" >&2
assert_le "$fetches" 3 "fetches of the failing host"
assert_le 1 "$fetches" "fetches of the failing host"

# A cached enforce policy (fetched once from the good host) stays in force
# while the id churns and its host starts failing.
assert_exit 0 cli policy h6-churnok.test
assert_eq "$(field mode)" enforce
kill "${_EVIL_PIDS[-1]}"
_evil_start ok2 evil_policy.py --addr 127.0.6.41 --mode not-found \
	--cert "$WORLD/ca/mta-sts.h6-churnok.test.pem" --key "$WORLD/ca/mta-sts.h6-churnok.test.key"
for ((i = 1; i <= LOOKUPS; i++)); do
	relay_mark
	drive -- --dest 127.0.2.3 --mx rogue.good.test --domain h6-churnok.test
	assert_verdict refuse ECONNREFUSED
	assert_decision domain=h6-churnok.test policy=enforce policy_source=cache \
		verdict=refuse detail=mx-not-listed
done
fetches=$(evil_count request)
echo "fetches with a churning id, a cached policy and a failing host: $fetches" >&2
assert_le "$fetches" 3 "refetches of the failing host"
assert_untouched rogue.good.test
