#!/bin/bash
# swaks WITHOUT --server: it finds the MX itself, with Perl's Net::DNS
# (package libnet-dns-perl), which speaks UDP to the resolver on its own:
# the shim sees no MX look-up, only the MX host's address look-up
# (IO::Socket::INET). The recipient domain must then be given with
# mtasts-wrap --domain (MTASTS_DOMAIN): the supported way. swaks 20201014
# takes the best-preference MX only and never tries another one.
#
# 1. --domain rogue.test, --to u@rogue.test: swaks picks rogue.good.test
#    (pref 10), the relay refuses it (mx-not-listed), connect() fails with
#    ECONNREFUSED, swaks gives up (exit 2): the rogue receiver sees no TCP
#    connection, mx1 (pref 20) none either.
# 2. --domain good.test, --to u@good.test: delivered via mx1.good.test
#    over verified TLS, SNI mx1.good.test.
# 3. No --domain, --to u@rogue.test: the connection's domain is unknown,
#    so the relay decides by the fallback (no policy: may) and connects
#    to the rogue MX; its per-recipient check then looks up rogue.test's
#    policy at RCPT TO and answers 450 4.7.5 itself: no RCPT and no
#    message reach the rogue MX, but it does see a connection (and TLS).
#    Nor does the envelope sender: MAIL is held by the relay (answered
#    250 here) until a recipient is allowed, and none was.
#    swaks exits 24 (RCPT failed).
# 4. No --domain, --to u@good.test: fallback at connect, the recipient's
#    enforce policy allows mx1 at RCPT: delivered over TLS.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
relay_env
shim_ready || skip "$BUILD/libmtasts.so is not built"
command -v swaks >/dev/null || skip "swaks is not installed"
perl -MNet::DNS -e 1 2>/dev/null || skip "Perl's Net::DNS is missing (package libnet-dns-perl)"
WRAP=$(cd "$(dirname "$0")/../.." && pwd)/scripts/mtasts-wrap
export MTASTS_LOG_LEVEL=info

# wrap [WRAP-OPTIONS] -- swaks ARGS: swaks under scripts/mtasts-wrap (as an
# operator runs it), with the sanitizer runtimes first when the library
# is a sanitizer build (as via_shim does).
wrap() {
	local rt
	rt=$(ldd "$BUILD/libmtasts.so" 2>/dev/null | awk '/lib(asan|ubsan)\.so/ { print $3 }' | tr '\n' ' ')
	if [ -n "$rt" ]; then
		ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0 LD_PRELOAD="${rt% }" \
			timeout 30 "$WRAP" "$@"
	else
		timeout 30 "$WRAP" "$@"
	fi
}

# swaks_mx SUBJECT RCPT [WRAP-OPTIONS]: swaks without --server.
swaks_mx() {
	local subject=$1 rcpt=$2
	shift 2
	run wrap "$@" -- swaks --to "$rcpt" --from s@sender.test --helo client.world.test \
		--header "Subject: $subject" --timeout 10
}

rcpt_line() {
	relay_log_since | grep ' rcpt ' | tail -n 1
}

# --- 1. --domain rogue.test: the best MX is refused, swaks gives up ------
swaks_mx swmx-rogue u@rogue.test --domain rogue.test
assert_eq "$RC" 2 "swaks exit (2: error connecting)"
assert_contains "$OUT" "=== Trying rogue.good.test:25..." "swaks picked the pref-10 MX"
assert_contains "$OUT$ERR" "Connection refused" "swaks transcript"
assert_not_contains "$OUT" "mx1.good.test" "swaks transcript (no second MX tried)"
assert_untouched rogue.good.test
assert_untouched mx1.good.test
assert_eq "$(decision_count)" 1 "decision lines"
assert_decision domain=rogue.test mx=rogue.good.test ip=127.0.2.3 policy=enforce tls=none \
	verdict=refuse reason=validation-failure detail=mx-not-listed

# --- 2. --domain good.test: delivered via mx1 over verified TLS ----------
relay_mark
swaks_mx swmx-good u@good.test --domain good.test
assert_eq "$RC" 0 "swaks exit"
assert_contains "$OUT" "=== Trying mx1.good.test:25..." "swaks picked the pref-10 MX"
assert_delivered mx1.good.test swmx-good true mx1.good.test
assert_eq "$(decision_count)" 1 "decision lines"
assert_decision domain=good.test mx=mx1.good.test ip=127.0.2.1 policy=enforce tls=verified \
	verdict=allow
assert_untouched mx2.good.test

# --- 3. no --domain, rogue.test: fallback at connect, 450 at RCPT --------
relay_mark
swaks_mx swmx-nodomain-rogue u@rogue.test
assert_eq "$RC" 24 "swaks exit (24: RCPT TO failed)"
assert_contains "$OUT" "=== Trying rogue.good.test:25..." "swaks picked the pref-10 MX"
assert_match "$OUT" '^<\*\* +450 4\.7\.5 .*rogue\.test.*mx-not-listed' "swaks transcript (RCPT reply)"
assert_eq "$(decision_count)" 1 "decision lines"
assert_decision domain=- mx=rogue.good.test ip=127.0.2.3 policy=no-policy verdict=allow
line=$(rcpt_line)
[ -n "$line" ] || fail "no rcpt line in the relay log"
for want in rcpt_domain=rogue.test mx=rogue.good.test policy=enforce verdict=defer \
	reason=validation-failure detail=mx-not-listed; do
	assert_eq "$(kv "${want%%=*}" "$line")" "${want#*=}" "rcpt line ${want%%=*}"
done
# What the rogue MX saw: a connection and the relay's TLS, nothing more.
assert_eq "$(smtp_count rogue.good.test connect)" 1 "connections to the rogue MX"
assert_eq "$(smtp_count rogue.good.test message)" 0 "messages at the rogue MX"
assert_not_contains "$(smtp_log rogue.good.test)" "u@rogue.test" "rogue MX log (the RCPT)"
assert_contains "$OUT" "250 2.1.0 Sender OK (held by MTA-STS relay)" "MAIL answered by the relay"
end=$(relay_log_since | grep 'session end' | tail -n 1)
assert_eq "$(kv mail_held "$end")" 1 "MAIL held"
assert_eq "$(kv mail_sent "$end")" 0 "MAIL never sent to the rogue MX"
# Only "EHLO client.world.test" and "QUIT" (24 + 6 octets) reached the
# rogue MX: no MAIL FROM.
assert_eq "$(kv to_server "$end")" 30 "octets to the rogue MX"
assert_untouched mx1.good.test

# --- 4. no --domain, good.test: fallback at connect, allowed at RCPT -----
relay_mark
swaks_mx swmx-nodomain-good u@good.test
assert_eq "$RC" 0 "swaks exit"
assert_delivered mx1.good.test swmx-nodomain-good true mx1.good.test
assert_decision domain=- mx=mx1.good.test policy=no-policy verdict=allow
line=$(rcpt_line)
[ -n "$line" ] || fail "no rcpt line in the relay log"
assert_eq "$(kv rcpt_domain "$line")" good.test "rcpt line rcpt_domain"
assert_eq "$(kv policy "$line")" enforce "rcpt line policy"
assert_eq "$(kv verdict "$line")" allow "rcpt line verdict"
end=$(relay_log_since | grep 'session end' | tail -n 1)
assert_eq "$(kv mail_sent "$end")" 1 "held MAIL sent before the allowed RCPT"
