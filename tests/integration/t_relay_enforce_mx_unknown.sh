#!/bin/bash
# enforce with the MX name unknown (the application connected to an address
# literal, or the shim could not learn the name): allowed only when the
# chain is valid and a DNS SAN of the certificate matches a policy mx
# pattern; otherwise refused (certificate-host-mismatch, detail mx-unknown).
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
relay_env

# mx1.good.test's certificate names a host good.test's policy lists.
drive --mail s@sender.test a@good.test --subject unknown-ok -- \
	--dest 127.0.2.1 --domain good.test
assert_verdict relay
assert_decision domain=good.test mx=- policy=enforce tls=verified verdict=allow \
	reason=- detail=- cert_names=mx1.good.test
assert_delivered mx1.good.test unknown-ok true
# No name to send as SNI.
assert_eq "$(json_get 'd["sni"]' "$(smtp_message mx1.good.test)")" null "SNI without a name"

# rogue.good.test's certificate is valid but names no listed host: the
# connection is made (the address alone cannot be judged) but refused.
relay_mark
drive --mail s@sender.test a@good.test -- --dest 127.0.2.3 --domain good.test
assert_verdict refuse ECONNREFUSED
assert_decision mx=- policy=enforce tls=unverified verdict=refuse \
	reason=certificate-host-mismatch detail=mx-unknown cert_names=rogue.good.test
assert_eq "$(smtp_count rogue.good.test message)" 0 "messages at rogue"

# A wildcard certificate against a wildcard pattern (wild.test: *.wild.test).
relay_mark
drive --mail s@sender.test a@wild.test --subject unknown-wild -- \
	--dest 127.0.2.8 --domain wild.test
assert_verdict relay
assert_decision mx=- tls=verified verdict=allow
assert_delivered mx.wild.test unknown-wild true

# The chain still counts first: self-signed with the right name is refused
# for its chain.
relay_mark
drive -- --dest 127.0.2.5 --domain smtp-selfsigned.test
assert_verdict refuse ECONNREFUSED
assert_decision mx=- reason=certificate-not-trusted detail=cert-untrusted

# An --mx that is not a host name counts as unknown.
relay_mark
drive -- --dest 127.0.2.3 --mx 127.0.2.3 --domain good.test
assert_verdict refuse ECONNREFUSED
assert_decision mx=- detail=mx-unknown
