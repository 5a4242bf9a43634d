#!/bin/bash
# Each session that reached a TLS decision leaves one TLSRPT spool record
# (policy/tlsrpt.h) with the RFC 8460 result type of the decision; network
# failures and hand-offs leave none.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
relay_env

spool() { cat "$MTASTS_REPORT_DIR"/spool/* 2>/dev/null || true; }
# field N of the last spool line: 3 domain, 4 type, 5 policy hash, 6 mx,
# 7 sending ip, 8 receiving ip, 9 helo, 10 result, 11 reason
last() { spool | tail -n 1 | awk -F'\t' -v n="$1" '{ print $n }'; }
records() { spool | grep -c . || true; }

drive --mail s@sender.test a@good.test -- --dest 127.0.2.1 --mx mx1.good.test --domain good.test
assert_verdict relay
assert_eq "$(records)" 1 "records"
assert_eq "$(last 3)" good.test
assert_eq "$(last 4)" sts
assert_eq "$(last 6)" mx1.good.test
assert_eq "$(last 7)" 127.0.0.1 "sending ip"
assert_eq "$(last 8)" 127.0.2.1 "receiving ip"
assert_eq "$(last 9)" mx1.good.test "helo"
assert_eq "$(last 10)" success
hash=$(last 5)
assert_match "$hash" '^[0-9a-f]{64}$'
assert_eq "$(sha256sum < "$MTASTS_REPORT_DIR/policies/$hash" | cut -d' ' -f1)" "$hash" "stored policy text"

drive -- --dest 127.0.2.6 --mx mx.smtp-expired.test --domain smtp-expired.test
assert_verdict refuse
assert_eq "$(records)" 2 "records"
assert_eq "$(last 10)" certificate-expired
assert_eq "$(last 11)" "certificate has expired"

drive -- --dest 127.0.2.3 --mx rogue.good.test --domain good.test
assert_verdict refuse
assert_eq "$(last 10)" validation-failure
assert_eq "$(last 11)" mx-not-listed
assert_eq "$(last 7)" "" "sending ip of a connection never made"

drive --mail s@sender.test a@notxt.test -- --dest 127.0.2.9 --mx mx.smtp-notls.test --domain notxt.test
assert_verdict relay
assert_eq "$(last 4)" no-policy-found
assert_eq "$(last 10)" starttls-not-supported
assert_eq "$(last 11)" starttls-not-offered

# Testing mode: allowed, and the failure recorded.
drive --mail s@sender.test a@testing-bad.test -- \
	--dest 127.0.2.5 --mx mx.smtp-selfsigned.test --domain testing-bad.test
assert_verdict relay
assert_eq "$(last 3)" testing-bad.test
assert_eq "$(last 10)" certificate-not-trusted

# The policy host is down and nothing is cached: the fetch error is what
# this session reports; delivery goes on as without a policy.
drive --mail s@sender.test a@down.test -- --dest 127.0.2.1 --mx mx1.good.test --domain down.test
assert_verdict relay
assert_eq "$(last 3)" down.test
assert_eq "$(last 4)" sts
assert_eq "$(last 10)" sts-policy-fetch-error
n=$(records)

# No record: a connection that failed, a hand-off, no domain.
drive -- --dest 127.0.2.200 --mx mx1.good.test --domain good.test
assert_verdict refuse
MTASTS_FALLBACK=none drive -- --dest 127.0.2.1 --mx mx1.good.test --domain notxt.test
assert_verdict handoff
drive -- --dest 127.0.2.1 --mx mx1.good.test
assert_verdict relay
assert_eq "$(records)" "$n" "records after sessions that report nothing"

# A report directory that cannot be used: warned, the session unaffected.
relay_mark
MTASTS_REPORT_DIR=/proc/nowhere drive --mail s@sender.test a@good.test -- \
	--dest 127.0.2.1 --mx mx1.good.test --domain good.test
assert_verdict relay
assert_contains "$OUT" "result=sent"
assert_match "$(relay_log_since)" 'warn: tlsrpt: '
