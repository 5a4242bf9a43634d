#!/bin/bash
# The world's SMTP receivers work with real clients (swaks, Python's smtplib,
# curl) with and without STARTTLS, and log what they saw.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
CA=$WORLD/ca/ca.pem

# swaks with verified STARTTLS to mx1.good.test.
assert_exit 0 swaks --server mx1.good.test --to a@good.test --from s@sender.test \
	--tls --tls-verify --tls-ca-path "$CA" --tls-sni mx1.good.test \
	--header "Subject: world-smtp-1" --pipeline
assert_eq "$(smtp_count mx1.good.test connect)" 1 "mx1 connections"
assert_eq "$(smtp_count mx1.good.test message)" 1 "mx1 messages"
msg=$(smtp_log mx1.good.test | grep '"event": "message"')
assert_eq "$(json_get 'd["tls"]' "$msg")" true
assert_match "$(json_get 'd["tls_version"]' "$msg")" '^TLSv1\.[23]$'
assert_eq "$(json_get 'd["sni"]' "$msg")" mx1.good.test
assert_eq "$(json_get 'd["rcpt"]' "$msg")" '["a@good.test"]'
assert_eq "$(json_get 'd["mail_from"]' "$msg")" s@sender.test
assert_eq "$(json_get 'd["subject"]' "$msg")" world-smtp-1
f=$(json_get 'd["data_file"]' "$msg")
assert_eq "$(sha256sum < "$f" | cut -d' ' -f1)" "$(json_get 'd["sha256"]' "$msg")" "stored message"

# Plain text to the receiver without STARTTLS; swaks --tls must fail there.
world_mark
assert_exit 0 swaks --server 127.0.2.9 --to a@notxt.test --from s@sender.test
assert_eq "$(json_get 'd["tls"]' "$(smtp_log mx.smtp-notls.test | grep '"message"')")" false
run swaks --server 127.0.2.9 --to a@notxt.test --from s@sender.test --tls
assert_ne "$RC" 0 "--tls against a receiver without STARTTLS"

# Certificates, checked by Python's ssl module (chain, dates, DNS-ID; the
# subject CN is not used as a name, as RFC 8461 4.2 wants): only the valid
# ones pass. swaks --tls-verify checks the chain but not the name.
cat > "$TEST_TMP/tlscheck.py" <<'PY'
import smtplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
ctx.hostname_checks_common_name = False
with smtplib.SMTP(sys.argv[2], 25, timeout=5) as s:
    s.starttls(context=ctx)
    s.noop()
PY
for mx in mx1.good.test mx2.good.test rogue.good.test mx.wild.test; do
	assert_exit 0 python3 "$TEST_TMP/tlscheck.py" "$CA" "$mx"
done
for mx in mx.smtp-wrongname.test mx.smtp-selfsigned.test mx.smtp-expired.test \
	mx.smtp-untrusted.test mx.smtp-cnonly.test; do
	run python3 "$TEST_TMP/tlscheck.py" "$CA" "$mx"
	assert_ne "$RC" 0 "verified STARTTLS to $mx"
	assert_contains "$ERR" "CERTIFICATE_VERIFY_FAILED" "$mx"
	# ... and the receiver itself works without verification.
	assert_exit 0 swaks --server "$mx" --to a@x.test --from s@sender.test --tls --quit-after TLS
done
run python3 "$TEST_TMP/tlscheck.py" "$WORLD/ca/untrusted-ca.pem" mx.smtp-untrusted.test
assert_eq "$RC" 0 "mx.smtp-untrusted.test with its own CA"
assert_eq "$(openssl x509 -in "$WORLD/ca/mx.smtp-cnonly.test.pem" -noout -ext subjectAltName)" "" "cnonly has no SAN"
assert_eq "$(smtp_count mx.smtp-cnonly.test tls-failed)" 1 "failed handshake logged"

# Python smtplib: STARTTLS, dot-stuffing, two recipients, RSET.
world_mark
cat > "$TEST_TMP/send.py" <<'PY'
import smtplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
body = "Subject: dots\r\n\r\n.leading dot\r\n..two\r\nend\r\n"
with smtplib.SMTP("mx2.good.test", 25, local_hostname="client.test") as s:
    s.starttls(context=ctx)
    s.ehlo("client.test")
    s.rset()
    s.noop()
    s.sendmail("s@sender.test", ["a@good.test", "b@good.test"], body)
PY
assert_exit 0 python3 "$TEST_TMP/send.py" "$CA"
msg=$(smtp_log mx2.good.test | grep '"event": "message"')
assert_eq "$(json_get 'd["rcpt"]' "$msg")" '["a@good.test", "b@good.test"]'
assert_eq "$(json_get 'd["helo"]' "$msg")" client.test
assert_eq "$(cat "$(json_get 'd["data_file"]' "$msg")")" $'Subject: dots\r\n\r\n.leading dot\r\n..two\r\nend\r'

# curl as an SMTP client (smtp:// with --ssl-reqd = STARTTLS).
world_mark
printf 'Subject: curl\r\n\r\nhello\r\n' > "$TEST_TMP/mail"
assert_exit 0 curl -sS --ssl-reqd --cacert "$CA" --mail-from s@sender.test \
	--mail-rcpt a@good.test -T "$TEST_TMP/mail" smtp://mx1.good.test
assert_eq "$(smtp_count mx1.good.test message)" 1 "curl message"
assert_eq "$(smtp_count mx1.good.test starttls)" 1 "curl STARTTLS"

# A receiver nobody connected to has no event since the mark.
assert_eq "$(smtp_count rogue.good.test connect)" 0 "rogue.good.test untouched"
