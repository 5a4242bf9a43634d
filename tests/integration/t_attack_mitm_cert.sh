#!/bin/bash
# An on-path attacker answers STARTTLS itself, with a certificate that a
# browser would accept: issued by the trusted CA, valid now, but for
# another name (rogue.good.test; or mx2.good.test, another MX of the same
# policy). The relay checks the certificate against the MX host name
# (RFC 8461 4.2), so both are refused (certificate-host-mismatch), and the
# message never reaches the attacker. (Wrong-name, self-signed, expired,
# CN-only certificates on the listed host itself: t_relay_enforce_certs.)
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/fault_lib.sh"
fault_env
warm good.test

# A valid certificate for a host named in no policy.
evil_mx 127.0.6.12 normal --cert "$WORLD/ca/rogue.good.test.pem" \
	--key "$WORLD/ca/rogue.good.test.key" --hostname mx1.good.test
drive --mail s@sender.test a@good.test --subject mitm-rogue -- \
	--dest 127.0.6.12 --mx mx1.good.test --domain good.test
assert_verdict refuse ECONNREFUSED
assert_decision policy=enforce verdict=refuse reason=certificate-host-mismatch
assert_eq "$(evil_count message)" 0 "messages at the attacker"
assert_eq "$(evil_count starttls)" 1 "TLS was attempted (the attacker was reached)"

# A valid certificate for the other MX of the same policy: still the
# wrong name for the MX the sender meant.
evil_mx 127.0.6.14 normal --cert "$WORLD/ca/mx2.good.test.pem" \
	--key "$WORLD/ca/mx2.good.test.key" --hostname mx1.good.test
relay_mark
drive --mail s@sender.test a@good.test --subject mitm-mx2 -- \
	--dest 127.0.6.14 --mx mx1.good.test --domain good.test
assert_verdict refuse ECONNREFUSED
assert_decision policy=enforce verdict=refuse reason=certificate-host-mismatch
assert_eq "$(evil_count message)" 0 "messages at the attacker"

# A real client under the shim (MX name learnt from its own look-up of
# mx1.good.test, then connecting to the attacker's address): refused.
if shim_ready; then
	relay_mark
	cat > "$TEST_TMP/send.py" <<'PY'
import smtplib, socket, sys
real_gai = socket.getaddrinfo
socket.getaddrinfo("mx1.good.test", 25)      # the shim learns the name
try:
    with smtplib.SMTP("127.0.6.12", 25, local_hostname="client.world.test", timeout=10) as s:
        s.sendmail("s@sender.test", ["a@good.test"], "Subject: mitm-python\r\n\r\nhi\r\n")
except ConnectionRefusedError:
    print("refused")
    sys.exit(3)
PY
	MTASTS_DOMAIN=good.test run via_shim python3 "$TEST_TMP/send.py"
	assert_eq "$RC" 3 "python exit (connect refused)"
	assert_decision policy=enforce verdict=refuse reason=certificate-host-mismatch
	assert_not_contains "$(cat "$TEST_TMP"/evil-127.0.6.12.jsonl)" mitm-python
fi
