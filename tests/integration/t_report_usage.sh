#!/bin/bash
# t_report_usage.sh - `mtasts report`: options, configuration errors with
# clear messages, the unsafe and the damaged cases.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/report_lib.sh"
report_env

assert_exit 0 mtasts report --help
assert_contains "$OUT" "usage: mtasts report"
assert_exit 0 mtasts help report
assert_contains "$OUT" "--dry-run"
assert_exit 2 mtasts report --dry-run --send
assert_contains "$ERR" "--dry-run changes nothing"
assert_exit 2 mtasts report --date 2025-02-30
assert_contains "$ERR" "is not a date YYYY-MM-DD"
assert_exit 2 mtasts report extra
assert_exit 2 mtasts report --outdir /nonexistent/dir
assert_contains "$ERR" "not a directory"

# Nothing recorded yet.
assert_exit 0 mtasts report --dry-run
assert_contains "$OUT" "does not exist"
assert_exit 0 mtasts report --send
assert_contains "$OUT" "no finished day with recorded sessions to report"

# Today is not over: preview only.
today=$(date -u +%F)
"$RECORD" --dir "$MTASTS_REPORT_DIR" --domain good.test --type none
assert_exit 2 mtasts report --date "$today" --send
assert_contains "$ERR" "is not over yet (UTC)"
assert_exit 0 mtasts report --date "$today" --dry-run
assert_match "$OUT" "^$today +good\\.test +none +1 +0 +new "
# ... and the default scope leaves it alone.
assert_exit 0 mtasts report
assert_not_contains "$OUT" "good.test"

# The reporter's identity is checked.
MTASTS_REPORT_SUBMITTER="not a host" assert_exit 2 mtasts report
assert_contains "$ERR" "MTASTS_REPORT_SUBMITTER"
MTASTS_REPORT_ORG=$'two\nlines' assert_exit 2 mtasts report
assert_contains "$ERR" "MTASTS_REPORT_ORG"
MTASTS_REPORT_RETRY=0 assert_exit 2 mtasts report
assert_contains "$ERR" "MTASTS_REPORT_RETRY"
# Sending needs a sane mail set-up, all of DKIM or none of it.
MTASTS_REPORT_DKIM_SELECTOR=s1 assert_exit 2 mtasts report --send
assert_contains "$ERR" "MTASTS_REPORT_DKIM_KEY is not set"
MTASTS_REPORT_SMTP="host:99999" assert_exit 2 mtasts report --send
assert_contains "$ERR" "MTASTS_REPORT_SMTP"
MTASTS_REPORT_FROM="no address" assert_exit 2 mtasts report --send
assert_contains "$ERR" "MTASTS_REPORT_FROM"
# Without a submitter of its own, the EHLO name is used.
record --domain good.test --type none
unset MTASTS_REPORT_SUBMITTER
assert_exit 0 mtasts report --date "$REPORT_DAY"
assert_contains "$OUT" "built sender.world.test!good.test!$REPORT_START!$REPORT_END!"
export MTASTS_REPORT_SUBMITTER=reporter.test

# A damaged state file stops that report (never reset: no double send).
echo garbage > "$MTASTS_REPORT_DIR/state/$REPORT_DAY!good.test"
assert_exit 2 mtasts report --date "$REPORT_DAY" --send
assert_contains "$ERR" "is damaged: fix or remove it"

# An unsafe spool directory is refused.
chmod 0777 "$MTASTS_REPORT_DIR"
assert_exit 2 mtasts report --date "$REPORT_DAY"
assert_contains "$ERR" "writable"
chmod 0700 "$MTASTS_REPORT_DIR"

# The shipped systemd units load without a single complaint (unknown keys
# are only warnings to systemd, so any output fails). The binary path is
# the one under test; man pages are not installed here.
if command -v systemd-analyze >/dev/null; then
	mkdir "$TEST_TMP/units"
	sed "s#^ExecStart=/usr/local/bin/mtasts #ExecStart=$MTASTS_BIN #" \
		"$ROOT_DIR/scripts/mtasts-report.service" > "$TEST_TMP/units/mtasts-report.service"
	grep -q "^ExecStart=$MTASTS_BIN report --send\$" "$TEST_TMP/units/mtasts-report.service" ||
		fail "ExecStart of mtasts-report.service changed"
	cp "$ROOT_DIR/scripts/mtasts-report.timer" "$TEST_TMP/units/"
	units_out=$(systemd-analyze verify --man=no "$TEST_TMP/units/mtasts-report.service" \
		"$TEST_TMP/units/mtasts-report.timer" 2>&1) || fail "systemd-analyze: $units_out"
	assert_eq "$units_out" "" "systemd-analyze verify output"
fi
