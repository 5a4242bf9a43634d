#!/bin/bash
# t_report_retry.sh - a report is marked sent only when an endpoint took
# it (2xx); failures are retried with backoff, for 24 hours at most; an
# endpoint that took it is never sent to again; two runs at once never
# send twice.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/report_lib.sh"
report_env
export MTASTS_REPORT_RETRY=2	# seconds before the first retry (then 4, 8...)

# 1. One endpoint: 500, then 503, then 200.
collector_start flaky 127.0.4.1 tlsrpt.report.test 500,503,200
tlsrpt_txt good.test "v=TLSRPTv1; rua=https://tlsrpt.report.test/r"
record --domain good.test --type none --count 3

assert_exit 3 mtasts report --date "$REPORT_DAY" --send
assert_contains "$OUT" "good.test: failed to send to https://tlsrpt.report.test/r"
assert_contains "$OUT" "HTTP status 500"
assert_contains "$OUT" "good.test: will retry at"
assert_eq "$(state_field good.test status)" pending
assert_eq "$(state_field good.test attempts)" 1
assert_eq "$(collector_count flaky)" 1
[ ! -e "$MTASTS_REPORT_DIR/state/$REPORT_DAY.final" ] || fail "a pending day marked final"

# Not due yet: nothing is sent.
assert_exit 0 mtasts report --date "$REPORT_DAY" --send
assert_contains "$OUT" "good.test: next attempt at"
assert_eq "$(collector_count flaky)" 1 "posts before the retry is due"

# Due: the second attempt fails too, and waits twice as long.
first=$(state_field good.test first-attempt)
next=$(state_field good.test next-attempt)
assert_eq "$next" "$((first + 2))" "first retry time"
sleep 2.2
assert_exit 3 mtasts report --date "$REPORT_DAY" --send
assert_contains "$OUT" "HTTP status 503"
assert_eq "$(state_field good.test attempts)" 2
next=$(state_field good.test next-attempt)
now=$(date +%s)
assert_le "$((now + 3))" "$next" "second retry time"
assert_le "$next" "$((now + 4))" "second retry time"
sleep $((next - now)).2
assert_exit 0 mtasts report --date "$REPORT_DAY" --send
assert_contains "$OUT" "good.test: sent to https://tlsrpt.report.test/r"
assert_eq "$(state_field good.test status)" "done"
assert_match "$(state_field good.test endpoint)" "^sent 3 https://tlsrpt.report.test/r\$"
assert_eq "$(collector_count flaky)" 3
# Every attempt carried the same report.
assert_eq "$(sed 's/.*"sha256": "\([0-9a-f]*\)".*/\1/' "$TEST_TMP/collector-flaky/posts.jsonl" | sort -u | wc -l)" 1 \
	"distinct bodies"
assert_exit 0 mtasts report --date "$REPORT_DAY" --send
assert_eq "$(collector_count flaky)" 3 "posts after delivery"

# 2. Two endpoints, one broken: only the broken one is retried.
collector_start ok 127.0.4.3 ok.report.test 200
collector_start broken 127.0.4.4 broken.report.test 500
tlsrpt_txt testing.test "v=TLSRPTv1; rua=https://ok.report.test/a,https://broken.report.test/b"
record --domain testing.test --type none --count 1
assert_exit 3 mtasts report --date "$REPORT_DAY" --send
assert_contains "$OUT" "testing.test: sent to https://ok.report.test/a"
assert_contains "$OUT" "testing.test: failed to send to https://broken.report.test/b"
sleep 2.2
assert_exit 3 mtasts report --date "$REPORT_DAY" --send
assert_eq "$(collector_count ok)" 1 "posts to the endpoint that took it"
assert_eq "$(collector_count broken)" 2 "posts to the broken endpoint"

# 3. 24 hours after the first attempt it is given up.
state=$MTASTS_REPORT_DIR/state/$REPORT_DAY!testing.test
long_ago=$(($(date +%s) - 86401))
sed -i -e "s/^first-attempt .*/first-attempt $long_ago/" -e "s/^next-attempt .*/next-attempt 0/" "$state"
assert_exit 1 mtasts report --date "$REPORT_DAY" --send
assert_contains "$OUT" "testing.test: given up after 3 attempts in 24 hours (delivered elsewhere)"
# Final, and "done": one endpoint has the report (the broken one "failed").
assert_eq "$(state_field testing.test status)" "done"
assert_match "$(sed -n 's/^endpoint //p' "$state")" "^failed 3 https://broken.report.test/b\$"
assert_match "$(sed -n 's/^endpoint //p' "$state")" "^sent 1 https://ok.report.test/a\$"
assert_exit 0 mtasts report --date "$REPORT_DAY" --send
assert_eq "$(collector_count broken)" 3 "posts after giving up"
# Nobody ever took it: "failed".
tlsrpt_txt report-gone.test "v=TLSRPTv1; rua=https://broken.report.test/gone"
record --domain report-gone.test --type none --count 1
assert_exit 3 mtasts report --date "$REPORT_DAY" --send
assert_contains "$OUT" "report-gone.test: failed to send to https://broken.report.test/gone"
state=$MTASTS_REPORT_DIR/state/$REPORT_DAY!report-gone.test
sed -i -e "s/^first-attempt .*/first-attempt $long_ago/" -e "s/^next-attempt .*/next-attempt 0/" "$state"
assert_exit 1 mtasts report --date "$REPORT_DAY" --send
assert_contains "$OUT" "report-gone.test: given up after 2 attempts in 24 hours"
assert_not_contains "$OUT" "delivered elsewhere"
assert_eq "$(state_field report-gone.test status)" failed
assert_match "$(state_field report-gone.test endpoint)" "^failed 2 https://broken.report.test/gone\$"
assert_eq "$(collector_count broken)" 5 "posts to the broken endpoint in all"

# 4. Two runs at the same time: the report goes out once.
collector_start once 127.0.4.5 once.report.test 200
tlsrpt_txt none.test "v=TLSRPTv1; rua=https://once.report.test/"
record --domain none.test --type none --count 1
pids=()
for i in 1 2 3 4; do
	"$MTASTS_BIN" report --date "$REPORT_DAY" --send > "$TEST_TMP/par.$i" 2>&1 &
	pids+=("$!")
done
for p in "${pids[@]}"; do wait "$p" || true; done
cat "$TEST_TMP"/par.* >&2
assert_eq "$(collector_count once)" 1 "posts from concurrent runs"
assert_eq "$(state_field none.test status)" "done"

# 5. Any 2xx is success, a 3xx is not (redirects are never followed).
collector_start redir 127.0.4.6 redir.report.test 302,202
tlsrpt_txt report-redir.test "v=TLSRPTv1; rua=https://redir.report.test/r"
record --domain report-redir.test --type none --count 1
assert_exit 3 mtasts report --date "$REPORT_DAY" --send
assert_contains "$OUT" "report-redir.test: failed to send to https://redir.report.test/r: POST redir.report.test: HTTP status 302"
assert_eq "$(state_field report-redir.test status)" pending
sleep 2.2
assert_exit 0 mtasts report --date "$REPORT_DAY" --send
assert_contains "$OUT" "report-redir.test: sent to https://redir.report.test/r"
assert_eq "$(state_field report-redir.test status)" "done"
assert_eq "$(collector_count redir)" 2 "posts to the redirecting collector"
assert_eq "$(collector_post redir 2 status)" 202

# 6. The one window left (docs/TLSRPT.md): a crash after the endpoint took
# the report but before the state's rename. The next run sends it again -
# the very same file and report id, never a different report - and then
# never again.
collector_start crash 127.0.4.7 crash.report.test 200
tlsrpt_txt report-crash.test "v=TLSRPTv1; rua=https://crash.report.test/c"
record --domain report-crash.test --type none --count 2
assert_exit 0 mtasts report --date "$REPORT_DAY"
state=$MTASTS_REPORT_DIR/state/$REPORT_DAY!report-crash.test
cp -p "$state" "$TEST_TMP/state.before-send"
assert_exit 0 mtasts report --date "$REPORT_DAY" --send
assert_eq "$(collector_count crash)" 1 "posts before the simulated crash"
cp -p "$TEST_TMP/state.before-send" "$state"	# the rename never happened
assert_exit 0 mtasts report --date "$REPORT_DAY" --send
assert_eq "$(collector_count crash)" 2 "posts after the simulated crash"
assert_eq "$(sed 's/.*"sha256": "\([0-9a-f]*\)".*/\1/' "$TEST_TMP/collector-crash/posts.jsonl" | sort -u | wc -l)" 1 \
	"distinct bodies sent across the crash"
assert_exit 0 mtasts report --date "$REPORT_DAY" --send
assert_eq "$(collector_count crash)" 2 "posts after the state was saved"
