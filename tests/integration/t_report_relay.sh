#!/bin/bash
# t_report_relay.sh - the real relay records every session it decides
# (enforce and testing, successes and failures) in the TLSRPT spool, and
# the report counts them. Skipped while the relay does not record yet.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/report_lib.sh"
report_env
relay_env
export MTASTS_REPORT_DIR=$TEST_TMP/reports
today=$(date -u +%F)

# enforce, valid: a success.
drive --mail s@sender.test a@good.test --subject ok -- \
	--dest 127.0.2.1 --mx mx1.good.test --domain good.test
assert_verdict relay
if [ ! -s "$MTASTS_REPORT_DIR/spool/$today" ]; then
	skip "the relay does not record TLSRPT sessions (mts_tlsrpt_record) yet"
fi
# enforce, expired certificate: refused, certificate-expired.
drive -- --dest 127.0.2.6 --mx mx.smtp-expired.test --domain smtp-expired.test
assert_verdict refuse
# enforce, no STARTTLS: refused, starttls-not-supported.
drive -- --dest 127.0.2.9 --mx mx.smtp-notls.test --domain smtp-notls.test
assert_verdict refuse
# testing, self-signed: delivered, certificate-not-trusted.
drive --mail s@sender.test a@testing-bad.test --subject t -- \
	--dest 127.0.2.5 --mx mx.smtp-selfsigned.test --domain testing-bad.test
assert_verdict relay
# testing, valid: a success.
drive --mail s@sender.test a@testing.test --subject t2 -- \
	--dest 127.0.2.1 --mx mx1.good.test --domain testing.test
assert_verdict relay

assert_exit 0 mtasts report --date "$today" --dry-run
assert_not_contains "$ERR" "damaged"
assert_match "$OUT" "^$today +good\\.test +sts +1 +0 "
assert_match "$OUT" "^$today +smtp-expired\\.test +sts +0 +1 "
assert_match "$OUT" "^ +1 x certificate-expired mx=mx\\.smtp-expired\\.test ip=127\\.0\\.2\\.6"
assert_match "$OUT" "^$today +smtp-notls\\.test +sts +0 +1 "
assert_match "$OUT" "^ +1 x starttls-not-supported mx=mx\\.smtp-notls\\.test ip=127\\.0\\.2\\.9"
assert_match "$OUT" "^$today +testing-bad\\.test +sts +0 +1 "
assert_match "$OUT" "^ +1 x certificate-not-trusted mx=mx\\.smtp-selfsigned\\.test"
assert_match "$OUT" "^$today +testing\\.test +sts +1 +0 "

# The records carry what a report needs: the policy text and both IPs.
python3 - "$MTASTS_REPORT_DIR/spool/$today" <<'PY' || fail "spool records"
import sys
for line in open(sys.argv[1]):
    f = line.rstrip('\n').split('\t')
    assert len(f) == 13 and f[0] == 'T1', f
    if f[2] == 'smtp-expired.test':
        assert f[3] == 'sts' and len(f[4]) == 64, f      # policy stored
        assert f[5] == 'mx.smtp-expired.test' and f[7] == '127.0.2.6', f
        assert f[6] != '', f                              # sending IP
        assert f[9] == 'certificate-expired', f
PY
