#!/bin/bash
# DNS fails (SERVFAIL, or no answer at all) for the relay's policy look-up
# during a wrapped delivery (swaks under libmtasts.so) to good.test:
#   - with good.test's enforce policy cached: the cached policy governs
#     (RFC 8461 5.1): the listed MX gets the message over verified TLS, an
#     unlisted MX is refused; nothing is weakened by the outage.
#   - with nothing cached: a temporary failure is not "no policy" in the
#     logs (policy_failure=sts-policy-fetch-error), and MTASTS_FALLBACK decides (may: TLS
#     when offered; verify: the certificate must check out), as RFC 8461 5
#     says for a domain whose policy cannot be found.
# A resolver that never answers costs at most MTASTS_TIMEOUT (2 s here);
# with nothing cached it uses nearly the whole budget (the TXT wait is
# capped at min(MTASTS_TIMEOUT, 10 s)): the connect() times out (deferred)
# or the fallback delivery just fits in what is left.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/fault_lib.sh"
fault_env
shim_ready || skip "$BUILD/libmtasts.so is not built"
export MTASTS_TIMEOUT=2

send() {	# SERVER SUBJECT
	run via_shim swaks --server "$1" --to a@good.test --from s@sender.test \
		--helo client.world.test --header "Subject: $2" --timeout 10
}

for fault in servfail drop; do
	case $fault in
	servfail) dns=$WORLD_DNS_SERVFAIL ;;
	drop) dns=$WORLD_DNS_DROP ;;
	esac

	# Cached enforce policy: enforced from the cache.
	new_cache_dir
	warm good.test
	relay_mark
	MTASTS_DNS_SERVERS=$dns MTASTS_DOMAIN=good.test send mx1.good.test "dns-$fault-cached"
	assert_eq "$RC" 0 "swaks exit ($fault, cached)"
	assert_le "$ELAPSED_MS" 4500 "delivery time ($fault, cached)"
	assert_delivered mx1.good.test "dns-$fault-cached" true mx1.good.test
	assert_decision domain=good.test policy=enforce policy_source=cache tls=verified verdict=allow
	relay_mark
	MTASTS_DNS_SERVERS=$dns MTASTS_DOMAIN=good.test send rogue.good.test "dns-$fault-rogue"
	assert_ne "$RC" 0 "swaks exit ($fault, cached, rogue)"
	assert_contains "$OUT$ERR" "Connection refused"
	assert_decision policy=enforce policy_source=cache verdict=refuse detail=mx-not-listed
	assert_untouched rogue.good.test

	# Nothing cached: the fallback decides, and the log says why. A
	# resolver that never answers uses up (nearly) the whole budget when
	# MTASTS_TIMEOUT is at most the engine's 10 s TXT cap: the connect()
	# then times out (ETIMEDOUT: deferred, nothing delivered), unless the
	# few milliseconds left suffice for the fallback delivery; both are
	# safe, and which one happens is a race, so either is accepted here.
	new_cache_dir
	relay_mark
	MTASTS_DNS_SERVERS=$dns MTASTS_DOMAIN=good.test send mx1.good.test "dns-$fault-nocache"
	assert_le "$ELAPSED_MS" 4500 "delivery time ($fault, nothing cached)"
	if [ "$fault" = drop ]; then
		assert_le 1800 "$ELAPSED_MS" "the DNS deadline was waited for"
		if [ "$RC" = 0 ]; then
			assert_delivered mx1.good.test "dns-$fault-nocache" true
			assert_decision domain=good.test policy=no-policy verdict=allow \
				policy_failure=sts-policy-fetch-error
		else
			assert_contains "$ERR" "Connection timed out"
			assert_decision domain=good.test verdict=refuse detail=timeout
			assert_eq "$(smtp_count mx1.good.test message)" 0 "messages at mx1.good.test"
		fi
		continue
	fi
	assert_eq "$RC" 0 "swaks exit ($fault, nothing cached)"
	assert_delivered mx1.good.test "dns-$fault-nocache" true
	assert_decision domain=good.test policy=no-policy verdict=allow \
		policy_failure=sts-policy-fetch-error
	relay_mark
	MTASTS_FALLBACK=verify MTASTS_DNS_SERVERS=$dns MTASTS_DOMAIN=good.test \
		send mx.smtp-selfsigned.test "dns-$fault-verify"
	assert_ne "$RC" 0 "swaks exit ($fault, fallback verify, bad certificate)"
	assert_decision policy=no-policy verdict=refuse reason=certificate-not-trusted
	assert_eq "$(smtp_count mx.smtp-selfsigned.test message)" 0 "messages at the self-signed MX"
done
