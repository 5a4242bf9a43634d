#!/bin/bash
# Without a governing policy (no TXT record, mode none, no domain, a
# temporary failure with nothing cached) MTASTS_FALLBACK decides:
#   may      TLS when offered (unverified allowed), plaintext otherwise
#   encrypt  TLS required, not verified
#   verify   TLS required, chain and MX name verified
#   none     hand-off: the relay does not even connect
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
relay_env

# may (default): notxt.test's MX has no STARTTLS: plaintext.
drive --mail s@sender.test a@notxt.test --subject may-plain -- \
	--dest 127.0.2.9 --mx mx.smtp-notls.test --domain notxt.test
assert_verdict relay
assert_decision domain=notxt.test policy=no-policy policy_source=- tls=none verdict=allow
assert_delivered mx.smtp-notls.test may-plain false

# may, self-signed certificate: TLS, unverified.
relay_mark
drive --mail s@sender.test a@notxt.test --subject may-selfsigned -- \
	--dest 127.0.2.5 --mx mx.smtp-selfsigned.test --domain notxt.test
assert_verdict relay
assert_decision policy=no-policy tls=unverified verdict=allow reason=certificate-not-trusted
assert_delivered mx.smtp-selfsigned.test may-selfsigned true mx.smtp-selfsigned.test

# mode none is no policy (none.test lists no MX at all).
relay_mark
drive --mail s@sender.test a@none.test --subject mode-none -- \
	--dest 127.0.2.3 --mx rogue.good.test --domain none.test
assert_verdict relay
assert_decision domain=none.test policy=none tls=verified verdict=allow
assert_delivered rogue.good.test mode-none true rogue.good.test

# No domain at all: no policy, logged with domain=-.
relay_mark
drive --mail s@sender.test a@x.test --subject no-domain -- --dest 127.0.2.1 --mx mx1.good.test
assert_verdict relay
assert_decision domain=- policy=no-policy policy_source=- tls=verified verdict=allow
assert_delivered mx1.good.test no-domain true mx1.good.test

# A temporary failure with nothing cached counts as no policy, and says so.
relay_mark
drive --mail s@sender.test a@servfail.test --subject tempfail -- \
	--dest 127.0.2.1 --mx mx1.good.test --domain servfail.test
assert_verdict relay
assert_decision domain=servfail.test policy=no-policy verdict=allow
assert_match "$(relay_log_since)" 'warn: policy domain=servfail.test: temporary failure and nothing cached .*treated as no policy'
assert_delivered mx1.good.test tempfail true

# encrypt: no STARTTLS refused; a self-signed certificate accepted.
export MTASTS_FALLBACK=encrypt
relay_mark
drive --mail s@sender.test a@notxt.test -- --dest 127.0.2.9 --mx mx.smtp-notls.test --domain notxt.test
assert_verdict refuse ECONNREFUSED
assert_decision policy=no-policy tls=none verdict=refuse reason=starttls-not-supported
assert_eq "$(smtp_count mx.smtp-notls.test message)" 0 "plaintext message under encrypt"
relay_mark
drive --mail s@sender.test a@notxt.test --subject encrypt-selfsigned -- \
	--dest 127.0.2.5 --mx mx.smtp-selfsigned.test --domain notxt.test
assert_verdict relay
assert_decision tls=unverified verdict=allow
assert_delivered mx.smtp-selfsigned.test encrypt-selfsigned true

# verify: self-signed and wrong names refused, an unknown name too; valid ok.
export MTASTS_FALLBACK=verify
relay_mark
drive -- --dest 127.0.2.5 --mx mx.smtp-selfsigned.test --domain notxt.test
assert_verdict refuse ECONNREFUSED
assert_decision tls=unverified verdict=refuse reason=certificate-not-trusted
relay_mark
drive -- --dest 127.0.2.4 --mx mx.smtp-wrongname.test --domain notxt.test
assert_verdict refuse ECONNREFUSED
assert_decision verdict=refuse reason=certificate-host-mismatch detail=name-mismatch
relay_mark
drive -- --dest 127.0.2.1 --domain notxt.test
assert_verdict refuse ECONNREFUSED
assert_decision verdict=refuse reason=certificate-host-mismatch detail=mx-unknown
relay_mark
drive --mail s@sender.test a@notxt.test --subject verify-ok -- \
	--dest 127.0.2.1 --mx mx1.good.test --domain notxt.test
assert_verdict relay
assert_decision tls=verified verdict=allow
assert_delivered mx1.good.test verify-ok true mx1.good.test

# none: hand-off, decided before connecting: the MX sees nothing from us.
export MTASTS_FALLBACK=none
relay_mark
drive -- --dest 127.0.2.1 --mx mx1.good.test --domain notxt.test
assert_verdict handoff
assert_decision policy=no-policy verdict=handoff tls=none
assert_untouched mx1.good.test
# ... but a domain with an enforce policy is still enforced.
relay_mark
drive -- --dest 127.0.2.3 --mx rogue.good.test --domain good.test
assert_verdict refuse ECONNREFUSED
assert_decision policy=enforce detail=mx-not-listed
relay_mark
drive --mail s@sender.test a@good.test --subject none-enforce -- \
	--dest 127.0.2.1 --mx mx1.good.test --domain good.test
assert_verdict relay
assert_delivered mx1.good.test none-enforce true mx1.good.test
