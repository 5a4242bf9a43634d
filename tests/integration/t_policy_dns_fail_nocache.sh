#!/bin/bash
# Temporary DNS failures with nothing cached: exit 3 (never "no policy").
# SERVFAIL and REFUSED come from dns_fail.py through dnsmasq; "timeout" is
# a zone whose queries are never answered; 127.0.0.99 is a resolver address
# where nothing listens.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

assert_exit 3 mtasts policy servfail.test
assert_exit 3 mtasts policy refused.test
MTASTS_TIMEOUT=2 assert_exit 3 mtasts policy timeout.test
assert_le "$ELAPSED_MS" 15000 "time for an unanswered query (ms)"
# The queries did reach the failing server (through dnsmasq).
fails=$(world_log_since "$WORLD/dns-fail.log")
assert_contains "$fails" "servfail _mta-sts.servfail.test 16" "dns-fail.log"
assert_contains "$fails" "refused _mta-sts.refused.test 16" "dns-fail.log"
assert_contains "$fails" "drop _mta-sts.timeout.test 16" "dns-fail.log"
for d in servfail.test refused.test timeout.test; do
	assert_eq "$(nginx_count "mta-sts.$d")" 0 "fetches for $d"
done

# A resolver that does not exist, one that fails everything; then the
# control: the same domain through the world's resolver.
MTASTS_DNS_SERVERS=$WORLD_DNS_DEAD assert_exit 3 mtasts policy good.test
MTASTS_DNS_SERVERS=$WORLD_DNS_SERVFAIL assert_exit 3 mtasts policy good.test
assert_exit 0 mtasts policy good.test
