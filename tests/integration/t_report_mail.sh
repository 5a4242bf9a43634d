#!/bin/bash
# t_report_mail.sh - mailto: reports: multipart/report through an SMTP
# relay (libcurl) and through sendmail -t, DKIM-signed; checked with
# Python's email package, python3-dkim's dkimverify and OpenDKIM's
# opendkim-testmsg against the key published in the world's DNS.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/report_lib.sh"
report_env
command -v dkimverify >/dev/null || skip "dkimverify (python3-dkim) is not installed"

# The DKIM key of reporter.test, published as sel1._domainkey.reporter.test.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	-out "$TEST_TMP/dkim.pem" 2>/dev/null
pub=$(openssl pkey -in "$TEST_TMP/dkim.pem" -pubout -outform DER | base64 -w0)
# One record, in strings of at most 255 bytes.
world_dns_set_txt_strings sel1._domainkey.reporter.test \
	"v=DKIM1; k=rsa; p=${pub:0:200}" "${pub:200:200}" "${pub:400}"
_REPORT_NAMES+=("txt:sel1._domainkey.reporter.test")
export MTASTS_REPORT_DKIM_KEY=$TEST_TMP/dkim.pem
export MTASTS_REPORT_DKIM_SELECTOR=sel1
export MTASTS_REPORT_DKIM_DOMAIN=reporter.test
export MTASTS_REPORT_FROM=tlsrpt@reporter.test

testing=$(policy_file testing testing mx1.good.test)
record --domain testing.test --policy-file "$testing" --mx mx1.good.test --count 3
record --domain testing.test --policy-file "$testing" --mx mx1.good.test \
	--rip 127.0.2.1 --result certificate-not-trusted --reason X509_V_ERR_CERT_UNTRUSTED
tlsrpt_txt testing.test "v=TLSRPTv1; rua=mailto:tls-reports@testing.test"

# check_mail FILE DOMAIN SUCCESSES FAILURES: the message, as a mail reader
# and a DKIM verifier see it.
check_mail() {
	python3 - "$1" "$2" "$3" "$4" "$REPORT_DAY" <<'PY' || fail "mail structure ($1)"
import email, email.policy, gzip, json, re, sys
path, domain, ok, bad, day = sys.argv[1:6]
raw = open(path, 'rb').read()
m = email.message_from_bytes(raw, policy=email.policy.default)
assert m['From'] == 'tlsrpt@reporter.test', m['From']
assert m['To'] == 'tls-reports@' + domain, m['To']
assert m['TLS-Report-Domain'] == domain
assert m['TLS-Report-Submitter'] == 'reporter.test'
subj = m['Subject']
g = re.fullmatch(r'Report Domain: (\S+) Submitter: (\S+) Report-ID: <([^>]+)>', subj)
assert g and g.group(1) == domain and g.group(2) == 'reporter.test', subj
assert m.get_content_type() == 'multipart/report'
assert m.get_param('report-type') == 'tlsrpt'
tags = dict(t.strip().split('=', 1) for t in str(m['DKIM-Signature']).split(';') if '=' in t)
assert 'l' not in tags and tags['a'] == 'rsa-sha256' and tags['c'] == 'relaxed/relaxed'
assert tags['d'] == 'reporter.test' and tags['s'] == 'sel1'
parts = list(m.iter_parts())
assert [p.get_content_type() for p in parts] == ['text/plain', 'application/tlsrpt+gzip']
fn = parts[1].get_filename()
assert re.fullmatch(r'reporter\.test!%s!\d+!\d+!\w+\.json\.gz' % re.escape(domain), fn), fn
r = json.loads(gzip.decompress(parts[1].get_payload(decode=True)))
assert r['report-id'] == g.group(3), (r['report-id'], g.group(3))
assert r['date-range']['start-datetime'] == day + 'T00:00:00Z'
pol = r['policies'][0]
assert pol['policy']['policy-domain'] == domain
assert pol['summary'] == {'total-successful-session-count': int(ok),
                          'total-failure-session-count': int(bad)}, pol['summary']
PY
	dkimverify < "$1" || fail "dkimverify rejects $1"
	opendkim_verify "$1" || fail "opendkim-testmsg rejects $1"
}

# opendkim_verify FILE: OpenDKIM's verifier (libopendkim, opendkim-tools),
# a second implementation beside python3-dkim; it looks the key up in the
# world's DNS. Silent and 0 when the signature verifies.
opendkim_verify() {
	local out rc=0
	out=$(opendkim-testmsg -t "$TEST_TMP" < "$1" 2>&1) || rc=$?
	[ "$rc" -eq 0 ] && [ -z "$out" ] && return 0
	echo "opendkim-testmsg: exit $rc: $out" >&2
	return 1
}

# relaxed_mangle IN OUT: what relaxed/relaxed canonicalisation must
# survive on the way (RFC 6376 3.4.2, 3.4.4): header fields refolded and
# padded with whitespace, the folded Subject unfolded, whitespace runs
# and trailing whitespace added to body lines, empty lines appended.
relaxed_mangle() {
	python3 - "$1" "$2" <<'PY' || fail "relaxed_mangle"
import re, sys
raw = open(sys.argv[1], 'rb').read()
head, body = raw.split(b'\r\n\r\n', 1)
head = head.replace(b'\r\n Report-ID:', b' Report-ID:')       # unfold
head = re.sub(rb'(\r\nTLS-Report-Domain:) (\S+)', rb'\1\t  \2 \t', head)
head = head.replace(b'\r\nTo: ', b'\r\nTo:\r\n\t ')              # refold
assert head.count(b'Report-ID:') == 1 and b'To:\r\n\t ' in head
assert b'TLS-Report-Domain:\t  ' in head
lines = body.split(b'\r\n')
out = []
for l in lines:
    if l.startswith(b'This is an aggregate'):
        l = l.replace(b' ', b' \t  ') + b'  \t'
    elif l and not l.startswith(b'--'):
        l = l + b' '
    out.append(l)
body = b'\r\n'.join(out) + b'\r\n\r\n  \r\n'
open(sys.argv[2], 'wb').write(head + b'\r\n\r\n' + body)
PY
}

# 1. Through an SMTP relay (MTASTS_REPORT_SMTP), STARTTLS offered.
submit_start 127.0.4.2 submit.report.test
export MTASTS_REPORT_SMTP=submit.report.test:25
assert_exit 0 mtasts report --date "$REPORT_DAY" --send
assert_contains "$OUT" "$REPORT_DAY testing.test: sent to mailto:tls-reports@testing.test"
msg=$(grep '"event": "message"' "$TEST_TMP/submit.jsonl") || fail "no message at the relay"
assert_eq "$(printf '%s\n' "$msg" | wc -l)" 1 "messages"
assert_eq "$(json_get 'd["mail_from"]' "$msg")" tlsrpt@reporter.test
assert_eq "$(json_get 'd["rcpt"]' "$msg")" '["tls-reports@testing.test"]'
assert_eq "$(json_get 'd["tls"]' "$msg")" true "STARTTLS used"
assert_eq "$(json_get 'd["helo"]' "$msg")" sender.world.test
check_mail "$(json_get 'd["data_file"]' "$msg")" testing.test 3 1
# The verifier is not a rubber stamp: a changed byte breaks the signature.
sed 's/aggregate TLS report/aggregate TLS rep0rt/' "$(json_get 'd["data_file"]' "$msg")" \
	> "$TEST_TMP/tampered.eml"
if dkimverify < "$TEST_TMP/tampered.eml" >/dev/null; then
	fail "dkimverify accepted a tampered message"
fi
if opendkim_verify "$TEST_TMP/tampered.eml" 2>/dev/null; then
	fail "opendkim-testmsg accepted a tampered message"
fi
# Whitespace changes in transit do not break relaxed/relaxed.
relaxed_mangle "$(json_get 'd["data_file"]' "$msg")" "$TEST_TMP/mangled.eml"
cmp -s "$(json_get 'd["data_file"]' "$msg")" "$TEST_TMP/mangled.eml" &&
	fail "relaxed_mangle changed nothing"
dkimverify < "$TEST_TMP/mangled.eml" || fail "dkimverify rejects the re-spaced message"
opendkim_verify "$TEST_TMP/mangled.eml" || fail "opendkim-testmsg rejects the re-spaced message"
# Never twice.
assert_exit 0 mtasts report --date "$REPORT_DAY" --send
assert_eq "$(grep -c '"event": "message"' "$TEST_TMP/submit.jsonl")" 1 "messages after a second run"

# 2. Through sendmail -t (no MTASTS_REPORT_SMTP), run under the shim's
# LD_PRELOAD: neither mtasts nor sendmail may keep it.
unset MTASTS_REPORT_SMTP
cat > "$TEST_TMP/sendmail" <<EOF
#!/bin/sh
echo "\$@" > "$TEST_TMP/sendmail.argv"
env > "$TEST_TMP/sendmail.env"
cat > "$TEST_TMP/sendmail.msg"
EOF
chmod 0755 "$TEST_TMP/sendmail"
export MTASTS_REPORT_SENDMAIL=$TEST_TMP/sendmail
enforce=$(policy_file good enforce mx1.good.test mx2.good.test)
record --domain good.test --policy-file "$enforce" --mx mx1.good.test --count 5
record --domain good.test --policy-file "$enforce" --mx mx2.good.test \
	--result certificate-expired --count 2
tlsrpt_txt good.test "v=TLSRPTv1; rua=mailto:tls-reports@good.test"
preload=$BUILD/libmtasts.so
[ -e "$preload" ] || preload=/nonexistent/libmtasts.so
# (A sanitizer build of the library needs its runtimes preloaded first.)
rt=$(ldd "$preload" 2>/dev/null | awk '/lib(asan|ubsan)\.so/ { print $3 }' | tr '\n' ' ')
run env LD_PRELOAD="$rt$preload" ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0 \
	"$MTASTS_BIN" report --date "$REPORT_DAY" --send
assert_eq "$RC" 0 "exit status under LD_PRELOAD"
assert_contains "$OUT" "$REPORT_DAY good.test: sent to mailto:tls-reports@good.test"
assert_eq "$(cat "$TEST_TMP/sendmail.argv")" "-t -oi -f tlsrpt@reporter.test"
if grep -q '^LD_PRELOAD=' "$TEST_TMP/sendmail.env"; then
	fail "sendmail inherited LD_PRELOAD"
fi
grep -q '^MTASTS_REPORT_DIR=' "$TEST_TMP/sendmail.env" || fail "sendmail lost the environment"
check_mail "$TEST_TMP/sendmail.msg" good.test 5 2

# 3. A sendmail that fails: retried later, not marked sent.
tlsrpt_txt none.test "v=TLSRPTv1; rua=mailto:tls-reports@none.test"
record --domain none.test --type none --count 1
printf '#!/bin/sh\ncat >/dev/null\nexit 75\n' > "$TEST_TMP/sendmail"
assert_exit 3 mtasts report --date "$REPORT_DAY" --send
assert_contains "$OUT" "none.test: failed to send to mailto:tls-reports@none.test"
assert_contains "$OUT" "exit status 75"
assert_eq "$(state_field none.test status)" pending
assert_match "$(state_field none.test endpoint)" "^pending 1 mailto:tls-reports@none.test\$"
