#!/bin/bash
# testing: always allowed (TLS whenever offered, even with a bad
# certificate, plaintext otherwise); each failure is logged with its RFC 8460
# result type, exactly as enforce would have refused it.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
relay_env

# Valid: verified TLS.
drive --mail s@sender.test a@testing.test --subject testing-ok -- \
	--dest 127.0.2.1 --mx mx1.good.test --domain testing.test
assert_verdict relay
assert_decision domain=testing.test policy=testing tls=verified verdict=allow reason=- detail=-
assert_delivered mx1.good.test testing-ok true mx1.good.test

# Self-signed MX (testing-bad.test lists mx.smtp-selfsigned.test): TLS anyway.
relay_mark
drive --mail s@sender.test a@testing-bad.test --subject testing-selfsigned -- \
	--dest 127.0.2.5 --mx mx.smtp-selfsigned.test --domain testing-bad.test
assert_verdict relay
assert_decision policy=testing tls=unverified verdict=allow \
	reason=certificate-not-trusted detail=cert-untrusted
assert_delivered mx.smtp-selfsigned.test testing-selfsigned true mx.smtp-selfsigned.test

# An MX the policy does not list (rogue.good.test): allowed, over TLS.
relay_mark
drive --mail s@sender.test a@testing.test --subject testing-rogue -- \
	--dest 127.0.2.3 --mx rogue.good.test --domain testing.test
assert_verdict relay
assert_decision policy=testing verdict=allow tls=verified \
	reason=validation-failure detail=mx-not-listed
assert_delivered rogue.good.test testing-rogue true rogue.good.test

# No STARTTLS at all: plaintext, and the failure is logged.
relay_mark
drive --mail s@sender.test a@testing.test --subject testing-plain -- \
	--dest 127.0.2.9 --mx mx.smtp-notls.test --domain testing.test
assert_verdict relay
assert_decision policy=testing tls=none verdict=allow reason=validation-failure detail=mx-not-listed
assert_delivered mx.smtp-notls.test testing-plain false

# Expired and wrong-name certificates, the name unknown: TLS anyway.
relay_mark
drive --mail s@sender.test a@testing.test --subject testing-expired -- \
	--dest 127.0.2.6 --domain testing.test
assert_verdict relay
assert_decision policy=testing tls=unverified verdict=allow reason=certificate-expired
assert_delivered mx.smtp-expired.test testing-expired true
relay_mark
drive --mail s@sender.test a@testing.test --subject testing-wrongname -- \
	--dest 127.0.2.4 --mx mx1.good.test --domain testing.test
assert_verdict relay
assert_decision policy=testing tls=unverified verdict=allow \
	reason=certificate-host-mismatch detail=name-mismatch
assert_delivered mx.smtp-wrongname.test testing-wrongname true mx1.good.test
