#!/bin/bash
# The world's policy hosts answer as tests/world/README.md says, seen by curl
# (a real client nobody here wrote): proves the world before it judges mtasts.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env

# curl_policy DOMAIN [CURL OPTIONS]: GET the policy of DOMAIN through the
# world's DNS (the namespace's /etc/resolv.conf) with the test CA.
curl_policy() {
	local d=$1
	shift
	curl -sS --cacert "$WORLD/ca/ca.pem" -m 5 -o "$TEST_TMP/body" \
		-w '%{http_code} %{content_type} %{size_download}' "$@" \
		"https://mta-sts.$d/.well-known/mta-sts.txt"
}

# served_size DOMAIN: bytes of the policy file the world serves.
served_size() { stat -c %s "$WORLD/www/mta-sts.$1/.well-known/mta-sts.txt"; }

assert_exit 0 curl_policy good.test
assert_eq "$OUT" "200 text/plain $(served_size good.test)" "good.test"
assert_eq "$(cat "$TEST_TMP/body")" $'version: STSv1\nmode: enforce\nmx: mx1.good.test\nmx: mx2.good.test\nmax_age: 86400'
assert_eq "$(nginx_count mta-sts.good.test /.well-known/mta-sts.txt)" 1 "access log count"
assert_eq "$(nginx_sni mta-sts.good.test)" mta-sts.good.test "SNI logged"

assert_exit 0 curl_policy testing.test
assert_contains "$(cat "$TEST_TMP/body")" "mode: testing"
assert_exit 0 curl_policy none.test
assert_contains "$(cat "$TEST_TMP/body")" "mode: none"
assert_exit 0 curl_policy redirect.test
assert_match "$OUT" '^301 ' "redirect.test"
run curl -sS --cacert "$WORLD/ca/ca.pem" -o /dev/null -w '%{redirect_url}' \
	https://mta-sts.redirect.test/.well-known/mta-sts.txt
assert_eq "$OUT" https://mta-sts.good.test/.well-known/mta-sts.txt
assert_exit 0 curl_policy notfound.test
assert_match "$OUT" '^404 '
assert_exit 0 curl_policy html.test
assert_match "$OUT" '^200 text/html '
assert_exit 0 curl_policy charset.test
assert_eq "$OUT" "200 text/plain; charset=utf-8 $(served_size charset.test)"
assert_exit 0 curl_policy big.test
assert_eq "$OUT" "200 text/plain 65537"
assert_exit 0 curl_policy big-ok.test
assert_eq "$OUT" "200 text/plain 65536"
assert_exit 0 curl_policy crlf.test
assert_contains "$(cat "$TEST_TMP/body")" $'mode: enforce\r\n'
assert_exit 0 curl_policy wildpolicy.test
assert_exit 0 curl_policy cname.test
assert_exit 0 curl_policy switch.test

# Certificates that must fail (curl: 60 = peer certificate cannot be
# authenticated; older versions say 51 for a name mismatch).
for d in wrongname.test expired.test untrusted.test selfsigned.test notyet.test; do
	run curl_policy "$d"
	case $RC in 60|51) ;; *) fail "curl accepted the certificate of mta-sts.$d (exit $RC)" ;; esac
done
# curl (like most web clients) falls back to the subject CN when there is
# no DNS subjectAltName; RFC 8461 needs a DNS-ID, so mtasts must not.
assert_exit 0 curl_policy cnonly.test
assert_eq "$(openssl x509 -in "$WORLD/ca/mta-sts.cnonly.test.pem" -noout -ext subjectAltName)" "" "cnonly has no SAN"
run curl_policy untrusted.test --cacert "$WORLD/ca/untrusted-ca.pem"
assert_eq "$RC" 0 "untrusted.test with its own CA"
run curl_policy expired.test -k
assert_eq "$RC" 0 "expired.test without verification"
assert_contains "$ERR$OUT" "200" "expired.test is served"

# Nothing listens on down.test: connection refused (7).
assert_exit 7 curl_policy down.test
# stall.test completes TLS and never answers; drip.test answers one byte
# every 0.5 s: both hit curl's 2 s limit (28).
assert_exit 28 curl_policy stall.test -m 2
assert_eq "$(stall_count stall.test)" 1 "stall.test connections"
assert_exit 28 curl_policy drip.test -m 2
assert_contains "$(world_log_since "$WORLD/stall/drip.test.jsonl")" '"line": "GET /.well-known/mta-sts.txt HTTP/1.1"'

# The hashed CA directory works as a CA path.
run curl -sS --capath "$WORLD/ca/hashed" -o /dev/null -w '%{http_code}' \
	https://mta-sts.good.test/.well-known/mta-sts.txt
assert_eq "$OUT" 200 "--capath"
