# shellcheck shell=bash
# tfo_lib.sh - helpers of the t_shim_tfo*.sh and t_shim_syscall*.sh tests
#
# SYNOPSIS
#	. "$(dirname "$0")/../world/lib.sh"
#	. "$(dirname "$0")/relay_lib.sh"
#	. "$(dirname "$0")/tfo_lib.sh"
#	tfo_setup                       # relay_env + the client + TFO enabled
#	tfo_rows MODE                   # the three decision rows for MODE
#
# DESCRIPTION
#	Each row runs tests/helpers/shim_tfo_client under the shim with the
#	real relay (via_shim), against the world's receivers:
#	  good.test, mx1.good.test (127.0.2.1): delivered over verified TLS;
#	  smtp-wrongname.test, mx.smtp-wrongname.test (127.0.2.4): the
#	    opening call fails with ECONNREFUSED, no message arrives;
#	  rogue.test, rogue.good.test (127.0.2.3), an MX its policy does not
#	    list: ECONNREFUSED, and the receiver never sees a TCP connection.
#	The client looks the MX host up first (-m), so the shim learns its
#	name, as a real MTA's look-ups teach it.

tfo_setup() {
	relay_env
	shim_ready || skip "$BUILD/libmtasts.so is not built"
	TFO_CLIENT=$BUILD/tests/helpers/shim_tfo_client
	[ -x "$TFO_CLIENT" ] || skip "$TFO_CLIENT is not built"
	export MTASTS_TIMEOUT=5
	# The netns is the test's own: TFO on for clients and servers.
	sysctl -qw net.ipv4.tcp_fastopen=3 || skip "cannot enable TCP Fast Open"
}

# tfo_run ARGS...: the client under the shim; sets RC OUT ERR.
tfo_run() { run via_shim "$TFO_CLIENT" "$@"; }

tfo_rows() {
	local mode=$1
	relay_mark
	MTASTS_DOMAIN=good.test tfo_run -i "tfo-$mode-good" -r a@good.test \
		-m mx1.good.test "$mode" 0.0.0.0 25
	assert_eq "$RC" 0 "$mode: client exit (good.test)"
	assert_contains "$OUT" "smtp=ok" "$mode: client output"
	assert_delivered mx1.good.test "tfo-$mode-good" true mx1.good.test
	assert_decision domain=good.test mx=mx1.good.test tls=verified verdict=allow

	relay_mark
	MTASTS_DOMAIN=smtp-wrongname.test tfo_run -i "tfo-$mode-wrongname" \
		-r a@smtp-wrongname.test -m mx.smtp-wrongname.test "$mode" 0.0.0.0 25
	assert_eq "$RC" 3 "$mode: client exit (smtp-wrongname.test)"
	assert_contains "$OUT" "open=fail errno=ECONNREFUSED" "$mode: wrong name"
	assert_eq "$(smtp_count mx.smtp-wrongname.test message)" 0 "$mode: messages at the wrong-name MX"
	assert_decision verdict=refuse reason=certificate-host-mismatch

	relay_mark
	MTASTS_DOMAIN=rogue.test tfo_run -i "tfo-$mode-rogue" -r a@rogue.test \
		-m rogue.good.test "$mode" 0.0.0.0 25
	assert_eq "$RC" 3 "$mode: client exit (rogue.test)"
	assert_contains "$OUT" "open=fail errno=ECONNREFUSED" "$mode: rogue MX"
	assert_untouched rogue.good.test
	assert_decision domain=rogue.test mx=rogue.good.test verdict=refuse detail=mx-not-listed
}
