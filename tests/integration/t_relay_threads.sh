#!/bin/bash
# 16 threads of ONE process deliver at once through libmtasts.so and the
# real relay (issue 3).
#
# tests/helpers/shim_threads_smtp: every thread, released together by a
# barrier, looks DOMAIN's MX up with res_nsearch on a resolver state of
# its own (as Postfix does), resolves each MX host with getaddrinfo,
# connects in preference order (a refused connect moves on to the next MX)
# and speaks SMTP; the shim learns domain -> MX -> address from those
# concurrent look-ups (no MTASTS_DOMAIN). The process counts /proc/self/fd
# before and after, reaps with a SIGCHLD handler and waitpid(-1), and
# looks for children of its own: it must find none and leak nothing.
#
# 1. good.test: 16 messages at mx1.good.test over TLS (SNI mx1.good.test),
#    16 decision lines (enforce, verified, allow), nothing leaked.
# 2. rogue.test: each thread's first MX (rogue.good.test) is refused, its
#    second (mx1.good.test) delivers: 16 refusals, 16 messages at mx1, no
#    connection at the rogue MX.
# 3. shim_client's threads mode (16 threads, an address literal and
#    MTASTS_DOMAIN): 16 messages over TLS, its own fd and child checks.
# After each: no relay process left, no zombie relay.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
relay_env
shim_ready || skip "$BUILD/libmtasts.so is not built"
THREADS=$BUILD/tests/helpers/shim_threads_smtp
CLIENT=$BUILD/tests/helpers/shim_client
[ -x "$THREADS" ] || skip "$THREADS is not built"
[ -x "$CLIENT" ] || skip "$CLIENT is not built"
export MTASTS_LOG_LEVEL=info
unset MTASTS_DOMAIN
N=16

# relay_pids: mtasts-relay processes alive (not zombies) in this namespace.
relay_pids() {
	local p
	for p in $(pgrep -x mtasts-relay || true); do
		_pid_alive "$p" && echo "$p"
	done
	return 0
}

# relay_zombies: mtasts-relay processes in state Z.
relay_zombies() {
	local p
	for p in $(pgrep -x mtasts-relay || true); do
		[ "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" = Z ] && echo "$p"
	done
	return 0
}

# assert_relays_gone: every relay exits once both sides are closed, and
# is reaped (by the namespace's init: never by the host process).
assert_relays_gone() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ -z "$(relay_pids)$(relay_zombies)" ] && return 0
		sleep 0.05
	done
	fail "relays left: $(relay_pids | tr '\n' ' ') zombies: $(relay_zombies | tr '\n' ' ')"
}

# assert_summary: shim_threads_smtp's summary line says all went well.
assert_summary() {
	local want=$1
	assert_match "$OUT" "^threads=$N delivered=$N refused=$want fds_before=([0-9]+) fds_after=\\1 sigchld=0 reaped=0 children=0\$" \
		"shim_threads_smtp summary"
}

# messages_with SUBJECT-PREFIX: message events at mx1 whose subject starts so.
messages_with() {
	smtp_log mx1.good.test | grep '"event": "message"' | grep "\"subject\": \"$1-t" || true
}

# --- 1. good.test ---------------------------------------------------------
run via_shim "$THREADS" -n "$N" -i h1-thr-good good.test u@good.test
assert_eq "$RC" 0 "shim_threads_smtp exit"
assert_summary 0
msgs=$(messages_with h1-thr-good)
assert_eq "$(printf '%s\n' "$msgs" | grep -c '"event"' || true)" "$N" "messages at mx1.good.test"
assert_eq "$(printf '%s\n' "$msgs" | grep -c '"tls": true' || true)" "$N" "messages over TLS"
assert_eq "$(printf '%s\n' "$msgs" | grep -c '"sni": "mx1.good.test"' || true)" "$N" "messages with SNI mx1.good.test"
assert_eq "$(printf '%s\n' "$msgs" | grep -o '"subject": "[^"]*"' | sort -u | grep -c . || true)" \
	"$N" "distinct subjects (one per thread)"
assert_eq "$(decision_count)" "$N" "decision lines"
assert_eq "$(relay_log_since | grep ' decision ' |
	grep -c 'domain=good.test mx=mx1.good.test ip=127.0.2.1 port=25 policy=enforce .*tls=verified verdict=allow' || true)" \
	"$N" "good.test/mx1/enforce/verified/allow decisions"
assert_eq "$(smtp_count mx2.good.test connect)" 0 "connections to mx2 (pref 20)"
assert_relays_gone

# --- 2. rogue.test: the first MX refused in every thread -----------------
relay_mark
run via_shim "$THREADS" -n "$N" -i h1-thr-rogue rogue.test u@rogue.test
assert_eq "$RC" 0 "shim_threads_smtp exit"
assert_summary "$N"
msgs=$(messages_with h1-thr-rogue)
assert_eq "$(printf '%s\n' "$msgs" | grep -c '"tls": true' || true)" "$N" "messages at mx1 over TLS"
assert_untouched rogue.good.test
d=$(relay_log_since | grep ' decision ' || true)
assert_eq "$(printf '%s\n' "$d" | grep -c .)" $((2 * N)) "decision lines"
assert_eq "$(printf '%s\n' "$d" |
	grep -c 'domain=rogue.test mx=rogue.good.test ip=127.0.2.3 .*tls=none verdict=refuse reason=validation-failure detail=mx-not-listed' || true)" \
	"$N" "refusals of the rogue MX"
assert_eq "$(printf '%s\n' "$d" |
	grep -c 'domain=rogue.test mx=mx1.good.test ip=127.0.2.1 .*tls=verified verdict=allow' || true)" \
	"$N" "mx1 allowed"
assert_relays_gone

# --- 3. shim_client threads mode: an address literal, MTASTS_DOMAIN -----
relay_mark
MTASTS_DOMAIN=good.test run via_shim "$CLIENT" -i h1-thr-literal -n "$N" threads 127.0.2.1 25
assert_eq "$RC" 0 "shim_client exit (a thread failed, an fd leaked or a child was seen)"
msgs=$(smtp_log mx1.good.test | grep '"event": "message"' || true)
assert_eq "$(printf '%s\n' "$msgs" | grep -c '"tls": true' || true)" "$N" "messages over TLS"
assert_eq "$(decision_count)" "$N" "decision lines"
assert_eq "$(relay_log_since | grep ' decision ' | grep -c 'policy=enforce .*tls=verified verdict=allow' || true)" \
	"$N" "enforce/verified/allow decisions"
assert_relays_gone
