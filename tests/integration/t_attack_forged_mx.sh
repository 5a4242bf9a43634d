#!/bin/bash
# Forged MX answers: the attacker makes the sender's own MX look-up for
# switch.test (enforce, mx: mx1.good.test) return its host
# h6-rogue.switch.test, which even has a valid certificate for its own
# name. The application believes it and connects there; the shim passes
# the looked-up MX name on, and the relay refuses (mx-not-listed) before
# any TCP connection to the rogue host: it never sees a byte. Whether the
# policy was cached before the forgery or is fetched during the delivery
# makes no difference.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/fault_lib.sh"
fault_env
shim_ready || skip "$BUILD/libmtasts.so is not built"
CLIENT=$BUILD/tests/helpers/shim_client
[ -x "$CLIENT" ] || skip "$CLIENT is not built"
trap 'world_switch_reset; fault_stop' EXIT
world_switch_reset

h6_cert h6-rogue.switch.test
WORLD_DNS_DEFER=1 world_dns_set_host h6-rogue.switch.test 127.0.6.13
world_dns_set_mx switch.test 10:h6-rogue.switch.test
evil_mx 127.0.6.13 normal --cert "$WORLD/ca/h6-rogue.switch.test.pem" \
	--key "$WORLD/ca/h6-rogue.switch.test.key" --hostname h6-rogue.switch.test
run dig +short switch.test MX
assert_eq "$OUT" "10 h6-rogue.switch.test." "the forged MX answer"

for cache in cold warm; do
	new_cache_dir
	[ "$cache" = warm ] && warm switch.test
	relay_mark
	run via_shim "$CLIENT" -i "forged-$cache" -r query -d switch.test \
		-m h6-rogue.switch.test -a gai lookup - 25
	assert_ne "$RC" 0 "client exit ($cache cache)"
	assert_decision domain=switch.test mx=h6-rogue.switch.test policy=enforce \
		verdict=refuse detail=mx-not-listed
	assert_eq "$(evil_count connect)" 0 "connections to the rogue host ($cache cache)"
done

# Control: the same client and look-up path, with the real MX answer,
# delivers to mx1.good.test over verified TLS.
world_dns_set_mx switch.test 10:mx1.good.test
relay_mark
run via_shim "$CLIENT" -i forged-control -r query -d switch.test -m mx1.good.test -a gai lookup - 25
assert_eq "$RC" 0 "control client exit"
assert_decision domain=switch.test mx=mx1.good.test policy=enforce tls=verified verdict=allow
assert_eq "$(smtp_count mx1.good.test message)" 1 "control message"
