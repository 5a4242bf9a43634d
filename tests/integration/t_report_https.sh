#!/bin/bash
# t_report_https.sh - sessions of several kinds become RFC 8460 reports,
# POSTed once to the domain's https: endpoint; JSON checked field by field.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/report_lib.sh"
report_env

collector_start main 127.0.4.1 tlsrpt.report.test 200
tlsrpt_txt good.test "v=TLSRPTv1; rua=https://tlsrpt.report.test/v1/good"
tlsrpt_txt testing.test "v=TLSRPTv1;rua=https://tlsrpt.report.test/v1/testing;"
# notxt.test publishes no _smtp._tls record: its report is never sent.

enforce=$(policy_file good enforce mx1.good.test mx2.good.test)
testing=$(policy_file testing testing mx1.good.test)

# good.test, enforce: 4 successes, 2 expired, 1 host mismatch, 1 fetch
# error without any known policy text.
record --domain good.test --policy-file "$enforce" --mx mx1.good.test \
	--sip 127.0.0.1 --rip 127.0.2.1 --helo mx1.good.test --count 4
record --domain good.test --policy-file "$enforce" --mx mx2.good.test \
	--sip 127.0.0.1 --rip 127.0.2.2 --helo mx2.good.test \
	--result certificate-expired --reason X509_V_ERR_CERT_HAS_EXPIRED --count 2
record --domain good.test --policy-file "$enforce" --mx mx1.good.test \
	--sip 127.0.0.1 --rip 127.0.2.1 --result certificate-host-mismatch \
	--reason "no DNS SAN matches mx1.good.test"
record --domain good.test --result sts-policy-fetch-error --reason "HTTP status 404"
# testing.test, testing: 3 successes, 2 without STARTTLS, 1 untrusted,
# 1 validation failure.
record --domain testing.test --policy-file "$testing" --mx mx1.good.test --count 3
record --domain testing.test --policy-file "$testing" --mx mx1.good.test \
	--rip 127.0.2.1 --result starttls-not-supported --count 2
record --domain testing.test --policy-file "$testing" --mx mx1.good.test \
	--rip 127.0.2.1 --result certificate-not-trusted \
	--reason X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
record --domain testing.test --policy-file "$testing" --mx mx1.good.test \
	--rip 127.0.2.1 --result validation-failure --reason "TLS 1.0 offered only"
# A domain without MTA-STS (and without TLSRPT).
record --domain notxt.test --type none --mx mx.smtp-notls.test --count 2

# The dry run shows it all and changes nothing.
assert_exit 0 mtasts report --date "$REPORT_DAY" --dry-run
assert_match "$OUT" "^$REPORT_DAY +good\\.test +sts,sts +4 +4 +new +https://tlsrpt\\.report\\.test/v1/good\$"
assert_match "$OUT" "^$REPORT_DAY +testing\\.test +sts +3 +4 +new +https://tlsrpt\\.report\\.test/v1/testing\$"
assert_match "$OUT" "^$REPORT_DAY +notxt\\.test +none +2 +0 +new +\\(nobody: no TXT record at _smtp\\._tls\\.notxt\\.test\\)"
assert_match "$OUT" "^ +2 x certificate-expired mx=mx2\\.good\\.test ip=127\\.0\\.2\\.2 reason=X509_V_ERR_CERT_HAS_EXPIRED\$"
[ ! -e "$MTASTS_REPORT_DIR/state" ] || fail "--dry-run wrote state"
assert_eq "$(collector_count main)" 0 "posts after --dry-run"

# Send.
assert_exit 0 mtasts report --date "$REPORT_DAY" --send
assert_contains "$OUT" "$REPORT_DAY good.test: sent to https://tlsrpt.report.test/v1/good"
assert_contains "$OUT" "$REPORT_DAY testing.test: sent to https://tlsrpt.report.test/v1/testing"
assert_contains "$OUT" "$REPORT_DAY notxt.test: not sent, the domain asks for no reports"
assert_eq "$(collector_count main)" 2 "posts"
assert_eq "$(state_field good.test status)" "done"
assert_eq "$(state_field testing.test status)" "done"
assert_eq "$(state_field notxt.test status)" no-rua
# Every report of the day is final: later runs skip the day's spool.
[ -e "$MTASTS_REPORT_DIR/state/$REPORT_DAY.final" ] || fail "day not marked final"

# What the collector got: the media type and exactly the kept file.
for n in 1 2; do
	assert_eq "$(collector_post main $n content_type)" application/tlsrpt+gzip
	assert_eq "$(collector_post main $n status)" 200
done
good_post=$(grep -n '"/v1/good"' "$TEST_TMP/collector-main/posts.jsonl" | cut -d: -f1)
testing_post=$(grep -n '"/v1/testing"' "$TEST_TMP/collector-main/posts.jsonl" | cut -d: -f1)
good_file=$(out_file good.test)
testing_file=$(out_file testing.test)
assert_eq "$(collector_post main "$good_post" sha256)" "$(sha256sum < "$good_file" | cut -c1-64)"
assert_eq "$(collector_post main "$testing_post" sha256)" "$(sha256sum < "$testing_file" | cut -c1-64)"
gzip -t "$good_file" || fail "not gzip"

# The JSON, field by field, against what was recorded.
python3 - "$TEST_TMP/collector-main/$good_post.body" "$TEST_TMP/collector-main/$testing_post.body" \
	"$REPORT_DAY" "$(basename "$good_file")" <<'PY' || fail "report JSON"
import gzip, json, sys
good = json.loads(gzip.decompress(open(sys.argv[1], 'rb').read()))
testing = json.loads(gzip.decompress(open(sys.argv[2], 'rb').read()))
day, fname = sys.argv[3], sys.argv[4]
uid = fname.split('!')[4].split('.')[0]

def keys(o, want):
    assert set(o) == set(want), (sorted(o), sorted(want))

for r in (good, testing):
    keys(r, ['organization-name', 'date-range', 'contact-info', 'report-id', 'policies'])
    assert r['organization-name'] == 'Reporter Test Org'
    assert r['contact-info'] == 'tlsrpt-contact@reporter.test'
    assert r['date-range'] == {'start-datetime': day + 'T00:00:00Z',
                               'end-datetime': day + 'T23:59:59Z'}
    assert r['report-id'].endswith('@reporter.test')
assert good['report-id'] == '%s.%s@reporter.test' % (day, uid), good['report-id']
assert good['report-id'] != testing['report-id']

p = good['policies']
assert len(p) == 2, p
keys(p[0], ['policy', 'summary', 'failure-details'])
assert p[0]['policy'] == {
    'policy-type': 'sts',
    'policy-string': ['version: STSv1', 'mode: enforce', 'mx: mx1.good.test',
                      'mx: mx2.good.test', 'max_age: 86400'],
    'policy-domain': 'good.test',
    'mx-host': ['mx1.good.test', 'mx2.good.test']}, p[0]['policy']
assert p[0]['summary'] == {'total-successful-session-count': 4,
                           'total-failure-session-count': 3}
assert p[0]['failure-details'] == [
    {'result-type': 'certificate-expired', 'sending-mta-ip': '127.0.0.1',
     'receiving-mx-hostname': 'mx2.good.test', 'receiving-mx-helo': 'mx2.good.test',
     'receiving-ip': '127.0.2.2', 'failed-session-count': 2,
     'failure-reason-code': 'X509_V_ERR_CERT_HAS_EXPIRED'},
    {'result-type': 'certificate-host-mismatch', 'sending-mta-ip': '127.0.0.1',
     'receiving-mx-hostname': 'mx1.good.test', 'receiving-ip': '127.0.2.1',
     'failed-session-count': 1,
     'failure-reason-code': 'no DNS SAN matches mx1.good.test'}], p[0]['failure-details']
# The fetch error, with no policy text known.
assert p[1] == {'policy': {'policy-type': 'sts', 'policy-domain': 'good.test'},
                'summary': {'total-successful-session-count': 0,
                            'total-failure-session-count': 1},
                'failure-details': [{'result-type': 'sts-policy-fetch-error',
                                     'failed-session-count': 1,
                                     'failure-reason-code': 'HTTP status 404'}]}, p[1]

p = testing['policies']
assert len(p) == 1
assert p[0]['policy']['policy-string'][1] == 'mode: testing'
assert p[0]['policy']['mx-host'] == ['mx1.good.test']
assert p[0]['summary'] == {'total-successful-session-count': 3,
                           'total-failure-session-count': 4}
fd = p[0]['failure-details']
assert [(f['result-type'], f['failed-session-count']) for f in fd] == [
    ('starttls-not-supported', 2), ('certificate-not-trusted', 1),
    ('validation-failure', 1)], fd
assert fd[1]['failure-reason-code'] == 'X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT'
for f in fd:
    assert set(f) <= {'result-type', 'sending-mta-ip', 'receiving-mx-hostname',
                      'receiving-mx-helo', 'receiving-ip', 'failed-session-count',
                      'additional-information', 'failure-reason-code'}
PY

# A second run sends nothing again, and says so by saying nothing.
assert_exit 0 mtasts report --date "$REPORT_DAY" --send
assert_not_contains "$OUT" "sent to"
assert_eq "$(collector_count main)" 2 "posts after the second run"
# Nor does the default scope (every finished day of the last week).
assert_exit 0 mtasts report --send
assert_eq "$(collector_count main)" 2 "posts after the third run"

# --outdir copies the same files.
mkdir "$TEST_TMP/copies"
assert_exit 0 mtasts report --date "$REPORT_DAY" --outdir "$TEST_TMP/copies"
cmp "$good_file" "$TEST_TMP/copies/$(basename "$good_file")" || fail "copy differs"
assert_eq "$(find "$TEST_TMP/copies" -type f | wc -l)" 3 "copied reports"

# Policy texts that no session has named for 34 days go with a --send run;
# those in use stay (each record refreshes its text's time stamp daily).
pdir=$MTASTS_REPORT_DIR/policies
in_use=$(find "$pdir" -type f | wc -l)
assert_eq "$in_use" 2 "policy texts recorded"
unused=$pdir/$(printf '%064d' 0)
printf 'version: STSv1\n' > "$unused"
chmod 0600 "$unused"
touch -d '35 days ago' "$unused"
recent=$pdir/$(printf '%064d' 1)
cp -p "$unused" "$recent"
touch -d '33 days ago' "$recent"
assert_exit 0 mtasts report --send
[ ! -e "$unused" ] || fail "an unused policy text was kept"
[ -e "$recent" ] || fail "a policy text of a kept day was removed"
assert_eq "$(find "$pdir" -type f | wc -l)" 3 "policy texts after pruning"
