#!/bin/bash
# t_report_concurrent.sh - 50 processes record sessions at the same moment,
# each record one write(2) on an O_APPEND file: none is lost or torn, and
# the report counts every one.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/report_lib.sh"
report_env

enforce=$(policy_file good enforce mx1.good.test mx2.good.test)
# Long records (about 2.5 KiB each) make torn appends likely if they were
# possible at all.
helo=$(head -c 600 /dev/zero | tr '\0' h)
reason=$(head -c 1000 /dev/zero | tr '\0' r)
# Make the directories first, as a running system has them.
record --domain other.test --count 1

record --domain good.test --policy-file "$enforce" --mx mx2.good.test \
	--rip 127.0.2.2 --helo "$helo" --result certificate-expired \
	--reason "$reason" --procs 50 --count 40 &
p1=$!
record --domain good.test --policy-file "$enforce" --mx mx1.good.test \
	--rip 127.0.2.1 --procs 25 --count 40 &
p2=$!
wait "$p1" || fail "a failure writer failed"
wait "$p2" || fail "a success writer failed"

spool=$MTASTS_REPORT_DIR/spool/$REPORT_DAY
assert_eq "$(wc -l < "$spool" | tr -d ' ')" $((1 + 50 * 40 + 25 * 40)) "spool lines"
# Every record is intact: 13 fields, each reason tag appears exactly once.
assert_eq "$(awk -F '\t' 'NF != 13' "$spool" | wc -l)" 0 "malformed lines"
assert_eq "$(grep -o 'r p[0-9]*/[0-9]*' "$spool" | sort -u | wc -l)" $((50 * 40)) "distinct failure records"

assert_exit 0 mtasts report --date "$REPORT_DAY" --dry-run
assert_not_contains "$ERR" "damaged"
assert_match "$OUT" "^$REPORT_DAY +good\\.test +sts +1000 +2000 +new "
# Each tagged failure is its own group of one: 2000 of them, 10 shown.
assert_contains "$OUT" "... and 1990 more failure groups"

# The report built from it agrees.
tlsrpt_txt good.test "v=TLSRPTv1; rua=mailto:nobody@good.test"
assert_exit 0 mtasts report --date "$REPORT_DAY"
python3 - "$(out_file good.test)" <<'PY' || fail "report counts"
import gzip, json, sys
r = json.loads(gzip.decompress(open(sys.argv[1], 'rb').read()))
p = r['policies']
assert len(p) == 1
assert p[0]['summary'] == {'total-successful-session-count': 1000,
                           'total-failure-session-count': 2000}, p[0]['summary']
fd = p[0]['failure-details']
assert len(fd) == 2000 and sum(f['failed-session-count'] for f in fd) == 2000
# Over-long fields are cut to their cap (512 for the HELO name).
assert all(len(f['receiving-mx-helo']) == 512 for f in fd)
PY

# Recording never waits for a report run: while .report.lock is held (as
# during a slow delivery), 100 records go in at once, and a second report
# run backs off instead of waiting.
python3 -c '
import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").write("locked\n")
time.sleep(60)
' "$MTASTS_REPORT_DIR/.report.lock" "$TEST_TMP/lock-held" &
_REPORT_PIDS+=("$!")
wait_pidfile "$TEST_TMP/lock-held"
t0=$(date +%s%N)
timeout 10 "$RECORD" --dir "$MTASTS_REPORT_DIR" --day "$REPORT_DAY" \
	--domain locked.test --type none --procs 10 --count 10 ||
	fail "recording while the report lock is held"
assert_le $(( ($(date +%s%N) - t0) / 1000000 )) 3000 "milliseconds to record 100 sessions"
assert_exit 3 mtasts report --date "$REPORT_DAY" --send
assert_contains "$ERR" "another \`mtasts report\` is running"
assert_exit 0 mtasts report --date "$REPORT_DAY" --dry-run
assert_match "$OUT" "^$REPORT_DAY +locked\\.test +none +100 +0 "
