#!/bin/bash
# Exim 4.96 with its default TCP Fast Open (hosts_try_fastopen = *) under
# libmtasts.so: every row of the decision table (enforce: valid
# certificate delivered over TLS; wrong name and no STARTTLS refused and
# deferred; a non-listed MX never contacted, the listed one used; testing:
# delivered; no policy: the fallback), seen at the receivers, in Exim's own
# log, queue and -v dialogue, in the relay's decision lines, and in strace.
#
# With Fast Open, Exim opens its SMTP connections with
# sendto(fd, NULL, 0, MSG_FASTOPEN|MSG_DONTWAIT, mx, len) and never calls
# connect(): a shim that hooks only connect() never sees them (issue 8).
# The control at the end shows that, without the shim, this very Exim
# reaches the wrong-name MX and delivers (unverified TLS), with the
# MSG_FASTOPEN call in strace: so every refusal above is the shim's doing.
#
# EXIM_TFO=off runs the same rows with Fast Open off (plain connect()):
# t_exim_connect.sh does that.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/exim_lib.sh"
relay_env
shim_ready || skip "$BUILD/libmtasts.so is not built"
TFO=${EXIM_TFO:-on}
HAVE_STRACE=	# EXIM_NO_STRACE=1: the checks that need no strace only
[ -z "${EXIM_NO_STRACE:-}" ] && command -v strace >/dev/null && HAVE_STRACE=1
exim_setup --tfo "$TFO"

# send NAME RCPT: Exim under the shim (and strace when available); the
# strace output is $TEST_TMP/NAME.strace. EXIM_WRAP=--wrap: through
# scripts/mtasts-wrap.
send() {
	local name=$1 rcpt=$2 tr=()
	[ -z "$HAVE_STRACE" ] || tr=(--strace "$TEST_TMP/$name.strace")
	[ -z "${EXIM_WRAP:-}" ] || tr+=("$EXIM_WRAP")
	relay_mark
	EXIM_LOG_MARK=$(exim_log | wc -l)
	run exim_send "${tr[@]}" --verbose --subject "exim-$TFO-$name" s@sender.test "$rcpt"
	assert_eq "$RC" 0 "exim exit ($name)"
	echo "  exim log:" >&2
	exim_log_since | sed 's/^/  exim| /' >&2
	assert_eq "$(exim_panic_log)" "" "Exim's panic log"
	no_bypass "$name"
}

exim_log_since() { exim_log | tail -n +$((EXIM_LOG_MARK + 1)); }

# no_bypass NAME: in strace, every connect()/sendto()/sendmsg() to port 25
# was made by a relay process, never by Exim itself.
no_bypass() {
	local f=$TEST_TMP/$1.strace relays p
	[ -n "$HAVE_STRACE" ] || return 0
	relays=" $(strace_relay_pids "$f" | tr '\n' ' ') "
	for p in $(strace_port25_pids "$f"); do
		case $relays in
		*" $p "*) ;;
		*)
			grep -E "^$p .*htons\(25\)" "$f" | sed 's/^/  strace| /' >&2
			fail "$1: process $p (not a relay) reached port 25 itself: the shim was bypassed"
			;;
		esac
	done
}

# The shim itself handled the connection (its log line in the shared log).
shim_saw() {
	relay_log_since | grep -q 'mtasts-shim\[.*:25 .*'"$1" ||
		fail "no shim line for $1 in the log: the shim did not see Exim's connection"
}

# opened_as_configured IP: Exim's -v output says how it opened the
# connection to IP: with Fast Open (its sendto(MSG_FASTOPEN) succeeded,
# through the shim's hook) when TFO is on, never when it is off.
opened_as_configured() {
	if [ "$TFO" = on ]; then
		assert_contains "$OUT$ERR" "TFO mode connection attempt to $1," "exim -v output"
	else
		assert_not_contains "$OUT$ERR" "TFO mode" "exim -v output"
	fi
}

# queued RCPT: RCPT is still in Exim's queue, undelivered.
queued() {
	exim_queue | grep -Eq "^ +$1\$"
}

# --- enforce, listed MX, valid certificate: delivered over TLS ----------
send good a@good.test
assert_delivered mx1.good.test "exim-$TFO-good" true mx1.good.test
msg=$(smtp_message mx1.good.test)
assert_match "$(json_get 'd["tls_version"]' "$msg")" '^TLSv1\.[23]$'
assert_eq "$(json_get 'd["peer"].split(":")[0]' "$msg")" 127.0.4.1 \
	"source address (Exim's interface = 127.0.4.1 kept by the relay)"
assert_eq "$(smtp_count mx2.good.test connect)" 0 "connections to mx2.good.test"
assert_decision domain=good.test mx=mx1.good.test ip=127.0.2.1 policy=enforce \
	tls=verified verdict=allow
shim_saw mx=mx1.good.test
opened_as_configured 127.0.2.1
# Exim saw a plaintext server: the relay did STARTTLS, not Exim.
assert_not_contains "$OUT$ERR" "STARTTLS" "Exim's SMTP dialogue"
exim_line=$(exim_log_since | grep ' => a@good.test ')
assert_contains "$exim_line" "H=mx1.good.test [127.0.2.1]" "Exim's delivery line"
# Exim talked plaintext to the relay: the TLS is the relay's, not Exim's.
assert_not_contains "$exim_line" " X=" "Exim's delivery line"
queued a@good.test && fail "a@good.test is still queued"

# --- testing, self-signed certificate: delivered over TLS anyway --------
send testing a@testing-bad.test
assert_delivered mx.smtp-selfsigned.test "exim-$TFO-testing" true mx.smtp-selfsigned.test
assert_decision domain=testing-bad.test policy=testing tls=unverified verdict=allow \
	reason=certificate-not-trusted
opened_as_configured 127.0.2.5

# --- no policy (notxt.test, MX without STARTTLS): the fallback "may" ----
send nopolicy a@notxt.test
assert_delivered mx.smtp-notls.test "exim-$TFO-nopolicy" false
assert_decision domain=notxt.test mx=mx.smtp-notls.test tls=none verdict=allow
opened_as_configured 127.0.2.9
# (before the notls row: after its refusal, Exim's retry hints skip this host)

# --- enforce, wrong-name certificate: refused, deferred -----------------
send wrongname a@smtp-wrongname.test
assert_eq "$(smtp_count mx.smtp-wrongname.test message)" 0 "messages at mx.smtp-wrongname.test"
assert_decision domain=smtp-wrongname.test mx=mx.smtp-wrongname.test policy=enforce \
	verdict=refuse reason=certificate-host-mismatch
assert_match "$(exim_log_since)" '== a@smtp-wrongname\.test .* defer \(111\): Connection refused'
queued a@smtp-wrongname.test || fail "a@smtp-wrongname.test is not queued (deferred)"

# --- enforce, no STARTTLS: refused, deferred ----------------------------
send notls a@smtp-notls.test
assert_eq "$(smtp_count mx.smtp-notls.test message)" 0 "messages at mx.smtp-notls.test"
assert_decision domain=smtp-notls.test mx=mx.smtp-notls.test policy=enforce \
	verdict=refuse reason=starttls-not-supported
assert_match "$(exim_log_since)" '== a@smtp-notls\.test .* defer \(111\): Connection refused'
queued a@smtp-notls.test || fail "a@smtp-notls.test is not queued (deferred)"

# --- enforce, MX not listed (pref 10) before a listed one (pref 20) -----
# (through mtasts-wrap, as an operator would run Exim)
EXIM_WRAP=--wrap send rogue a@rogue.test
assert_untouched rogue.good.test
assert_delivered mx1.good.test "exim-$TFO-rogue" true mx1.good.test
relay_log_since | grep ' decision ' | grep -q 'mx=rogue.good.test .*verdict=refuse .*detail=mx-not-listed' ||
	fail "no refusal of rogue.good.test in the decision lines"
assert_decision domain=rogue.test mx=mx1.good.test policy=enforce tls=verified verdict=allow
opened_as_configured 127.0.2.1
assert_contains "$(exim_log_since)" "=> a@rogue.test " "Exim's log"
assert_contains "$(exim_log_since | grep ' => a@rogue.test ')" "H=mx1.good.test [127.0.2.1]"
queued a@rogue.test && fail "a@rogue.test is still queued"

assert_eq "$(exim_queue_count)" 2 "messages in Exim's queue (wrongname, notls)"

# --- control: the wrong-name MX, the same Exim, no shim ------------------
# A fresh instance (no retry hints): Exim reaches the MX itself, and
# delivers, over TLS it does not verify (or in plaintext).
exim_setup --tfo "$TFO"
relay_mark
EXIM_LOG_MARK=0
tr=()
[ -z "$HAVE_STRACE" ] || tr=(--strace "$TEST_TMP/control.strace")
run exim_send --no-shim "${tr[@]}" --subject "exim-$TFO-control" s@sender.test a@smtp-wrongname.test
assert_eq "$RC" 0 "exim exit (control)"
exim_log | sed 's/^/  exim| /' >&2
assert_delivered mx.smtp-wrongname.test "exim-$TFO-control" true
assert_eq "$(decision_count)" 0 "relay decisions without the shim"
assert_eq "$(exim_queue_count)" 0 "messages in the control's queue"
if [ -n "$HAVE_STRACE" ]; then
	f=$TEST_TMP/control.strace
	if [ "$TFO" = on ]; then
		# Exim really opens with Fast Open: sendto(MSG_FASTOPEN) to the
		# MX, and no connect() to port 25 at all.
		grep -E 'sendto\(.*MSG_FASTOPEN.*htons\(25\).*"127\.0\.2\.4"' "$f" >&2 ||
			fail "control: no sendto(MSG_FASTOPEN) to 127.0.2.4:25 in strace"
		if grep -E 'connect\(.*htons\(25\)' "$f" >&2; then
			fail "control: Exim called connect() to port 25 despite Fast Open"
		fi
	else
		[ "$(strace_tfo_count "$f")" = 0 ] || fail "control: MSG_FASTOPEN with TFO off"
		grep -E 'connect\(.*htons\(25\).*"127\.0\.2\.4"' "$f" >&2 ||
			fail "control: no connect() to 127.0.2.4:25 in strace"
	fi
else
	echo "strace is not installed: system call checks skipped" >&2
fi
