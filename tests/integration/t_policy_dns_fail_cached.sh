#!/bin/bash
# A temporary DNS failure with a valid cached policy: the cache is served
# (exit 0, source cache), for SERVFAIL, REFUSED, no answer and a dead
# resolver; no fetch is attempted.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts
world_switch_reset

assert_exit 0 mtasts policy switch.test
assert_eq "$(field source)" network

for mode in servfail refused drop; do
	world_dns_fail _mta-sts.switch.test "$mode"
	MTASTS_TIMEOUT=2 assert_exit 0 mtasts policy switch.test --json
	assert_eq "$(json_get 'd["source"]')" cache "source ($mode)"
	assert_eq "$(json_get 'd["mode"]')" enforce "mode ($mode)"
	assert_eq "$(json_get 'd["id"]')" 1 "id ($mode)"
done
world_switch_reset

for server in "$WORLD_DNS_SERVFAIL" "$WORLD_DNS_REFUSED" "$WORLD_DNS_DEAD"; do
	MTASTS_DNS_SERVERS=$server assert_exit 0 mtasts policy switch.test --json
	assert_eq "$(json_get 'd["source"]')" cache "source (resolver $server)"
done
assert_eq "$(nginx_count mta-sts.switch.test)" 1 "fetches"
