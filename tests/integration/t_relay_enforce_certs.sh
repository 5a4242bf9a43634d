#!/bin/bash
# enforce, MX listed, STARTTLS offered, certificate fails (chain, expiry, SAN
# name): refused with the specific RFC 8460 result type; TLS was started
# with SNI = the MX name; no message is sent.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
relay_env

check() {	# DOMAIN MX ADDR REASON DETAIL
	relay_mark
	drive --mail s@sender.test "a@$1" -- --dest "$3" --mx "$2" --domain "$1"
	assert_verdict refuse ECONNREFUSED
	assert_decision domain="$1" mx="$2" policy=enforce tls=unverified \
		verdict=refuse reason="$4" detail="$5"
	assert_eq "$(smtp_count "$2" starttls)" 1 "STARTTLS at $2"
	assert_eq "$(json_get 'd["sni"]' "$(smtp_log "$2" | grep '"starttls"')")" "$2" "SNI at $2"
	assert_eq "$(smtp_count "$2" message)" 0 "messages at $2"
}

check smtp-wrongname.test mx.smtp-wrongname.test 127.0.2.4 \
	certificate-host-mismatch name-mismatch
assert_decision cert_names=other.test
check smtp-selfsigned.test mx.smtp-selfsigned.test 127.0.2.5 \
	certificate-not-trusted cert-untrusted
check smtp-expired.test mx.smtp-expired.test 127.0.2.6 \
	certificate-expired cert-expired
check smtp-untrusted.test mx.smtp-untrusted.test 127.0.2.10 \
	certificate-not-trusted cert-untrusted
# A certificate with the right name in its CN only: the CN never counts.
check smtp-cnonly.test mx.smtp-cnonly.test 127.0.2.7 \
	certificate-host-mismatch name-mismatch
assert_decision cert_names=-

# The wildcard certificate of mx.wild.test (*.wild.test), policy *.wild.test.
relay_mark
drive --mail s@sender.test a@wild.test --subject wild -- \
	--dest 127.0.2.8 --mx mx.wild.test --domain wild.test
assert_verdict relay
assert_decision policy=enforce tls=verified verdict=allow "cert_names=*.wild.test"
assert_delivered mx.wild.test wild true mx.wild.test

# The same untrusted MX passes once its CA is a trust anchor (MTASTS_CA_PATH
# added to the world CA file): the classification really is the chain's.
mkdir -p "$TEST_TMP/cadir"
cp "$WORLD/ca/untrusted-ca.pem" "$TEST_TMP/cadir/"
openssl rehash "$TEST_TMP/cadir" >/dev/null 2>&1 || c_rehash "$TEST_TMP/cadir" >/dev/null
relay_mark
MTASTS_CA_PATH=$TEST_TMP/cadir drive --mail s@sender.test a@smtp-untrusted.test --subject ca-path -- \
	--dest 127.0.2.10 --mx mx.smtp-untrusted.test --domain smtp-untrusted.test
assert_verdict relay
assert_decision tls=verified verdict=allow
assert_delivered mx.smtp-untrusted.test ca-path true mx.smtp-untrusted.test
