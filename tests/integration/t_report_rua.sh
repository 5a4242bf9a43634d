#!/bin/bash
# t_report_rua.sh - the _smtp._tls record (RFC 8460 3): discard records
# that are not v=TLSRPTv1, exactly one must remain and be valid; else the
# domain gets no report. A DNS failure is temporary: retried.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/report_lib.sh"
report_env
export MTASTS_REPORT_RETRY=1

collector_start main 127.0.4.1 tlsrpt.report.test 200
for d in good.test testing.test none.test wild.test rogue.test switch.test; do
	record --domain "$d" --type none --count 1
done
# good.test: an unrelated record beside the real one is discarded.
tlsrpt_txt good.test "v=spf1 -all" "v=TLSRPTv1; rua=https://tlsrpt.report.test/good"
# testing.test: two TLSRPT records: none applies.
tlsrpt_txt testing.test "v=TLSRPTv1; rua=https://tlsrpt.report.test/t1" \
	"v=TLSRPTv1; rua=https://tlsrpt.report.test/t2"
# none.test: syntactically invalid.
tlsrpt_txt none.test "v=TLSRPTv1; rua"
# wild.test: only schemes we cannot use.
tlsrpt_txt wild.test "v=TLSRPTv1; rua=ftp://tlsrpt.report.test/x"
# rogue.test: the DNS fails (SERVFAIL): retry later.
world_dns_fail _smtp._tls.rogue.test servfail
_REPORT_NAMES+=("fail:_smtp._tls.rogue.test")
# switch.test: no record at all.

assert_exit 3 mtasts report --date "$REPORT_DAY" --send
assert_contains "$OUT" "good.test: sent to https://tlsrpt.report.test/good"
assert_contains "$OUT" "testing.test: not sent, the domain asks for no reports (_smtp._tls.testing.test: more than one v=TLSRPTv1 record)"
assert_contains "$OUT" "none.test: not sent, the domain asks for no reports (_smtp._tls.none.test: field without '=')"
assert_contains "$OUT" "wild.test: not sent, the domain asks for no reports (_smtp._tls.wild.test: no mailto: or https: URI in rua)"
assert_contains "$OUT" "switch.test: not sent, the domain asks for no reports (no TXT record at _smtp._tls.switch.test)"
assert_contains "$OUT" "rogue.test: rua look-up failed"
assert_eq "$(collector_count main)" 1 "posts"
assert_eq "$(state_field rogue.test status)" pending
assert_eq "$(state_field testing.test status)" no-rua

# The DNS comes back: the pending report goes out.
world_dns_fail _smtp._tls.rogue.test off
tlsrpt_txt rogue.test "v=TLSRPTv1; rua=https://tlsrpt.report.test/rogue"
sleep 1.2
assert_exit 0 mtasts report --date "$REPORT_DAY" --send
assert_contains "$OUT" "rogue.test: sent to https://tlsrpt.report.test/rogue"
assert_eq "$(collector_count main)" 2 "posts"
assert_eq "$(state_field rogue.test status)" "done"
