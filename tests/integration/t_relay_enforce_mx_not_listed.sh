#!/bin/bash
# enforce, MX not listed: refused with ECONNREFUSED before any byte reaches
# the host: the rogue MX never even sees a TCP connection.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
relay_env

# rogue.test: policy enforce, mx1.good.test only; its first MX is rogue.
drive --mail s@sender.test a@rogue.test -- \
	--dest 127.0.2.3 --mx rogue.good.test --domain rogue.test
assert_eq "$RC" 0 "relay_drive exit"
assert_verdict refuse ECONNREFUSED
assert_contains "$OUT" "relay_exit=0"
assert_untouched rogue.good.test
assert_decision domain=rogue.test mx=rogue.good.test ip=127.0.2.3 \
	policy=enforce policy_source=network tls=none verdict=refuse \
	reason=validation-failure detail=mx-not-listed
assert_eq "$(decision_count)" 1 "decision lines"

# The same refusal from the cache: the relay checks the TXT record for an
# updated policy first (RFC 8461 5.1), then refuses; still no connection.
relay_mark
drive -- --dest 127.0.2.3 --mx rogue.good.test --domain rogue.test
assert_verdict refuse ECONNREFUSED
assert_untouched rogue.good.test
assert_decision policy=enforce policy_source=cache verdict=refuse detail=mx-not-listed
assert_eq "$(dns_count _mta-sts.rogue.test TXT)" 1 "TXT re-check before refusing"
assert_eq "$(nginx_count mta-sts.rogue.test)" 0 "no fetch: the id did not change"

# An MX name of good.test's that its policy does not list, case and a
# trailing dot notwithstanding, and a name two labels deep.
relay_mark
drive -- --dest 127.0.2.3 --mx ROGUE.Good.Test. --domain GOOD.test.
assert_verdict refuse ECONNREFUSED
assert_decision domain=good.test mx=rogue.good.test detail=mx-not-listed
assert_untouched rogue.good.test

# A listed name in other case is allowed.
relay_mark
drive --mail s@sender.test a@good.test --subject case -- \
	--dest 127.0.2.1 --mx MX1.GOOD.TEST. --domain good.test
assert_verdict relay
assert_delivered mx1.good.test case true mx1.good.test
