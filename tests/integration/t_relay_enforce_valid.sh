#!/bin/bash
# enforce, MX listed, STARTTLS offered, certificate valid: allowed over TLS,
# with SNI = the MX name; the greeting the application sees is the server's.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
relay_env

drive --mail s@sender.test a@good.test --subject enforce-valid -- \
	--dest 127.0.2.1 --mx mx1.good.test --domain good.test
assert_eq "$RC" 0 "relay_drive exit"
assert_verdict relay
assert_contains "$OUT" "<<< 220 mx1.good.test ESMTP smtp_receiver ready" "greeting replayed"
assert_not_contains "$OUT" "STARTTLS" "EHLO reply seen by the application (after TLS)"
assert_contains "$OUT" "result=sent"
assert_contains "$OUT" "relay_exit=0"
assert_match "$OUT" '^local=127\.0\.0\.1:[0-9]+$'
assert_delivered mx1.good.test enforce-valid true mx1.good.test
assert_decision domain=good.test mx=mx1.good.test ip=127.0.2.1 port=25 \
	policy=enforce policy_source=network tls=verified verdict=allow \
	reason=- detail=- cert_names=mx1.good.test
assert_match "$(last_decision)" 'tls_version=TLSv1\.[23] '
assert_eq "$(decision_count)" 1 "decision lines"
# The server's session was closed cleanly: QUIT reached it.
assert_eq "$(smtp_count mx1.good.test disconnect)" 1

# Second connection: the policy now comes from the cache, no DNS at all.
relay_mark
drive --mail s@sender.test a@good.test --subject enforce-valid-2 -- \
	--dest 127.0.2.1 --mx mx1.good.test --domain good.test
assert_verdict relay
assert_delivered mx1.good.test enforce-valid-2 true mx1.good.test
assert_decision policy_source=cache verdict=allow tls=verified
assert_eq "$(dns_count _mta-sts.good.test TXT)" 0 "TXT queries on a warm cache"
