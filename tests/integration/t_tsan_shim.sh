#!/bin/bash
# The shim's threaded paths under ThreadSanitizer: the host program
# (shim_client) built with clang -fsanitize=thread in $BUILD/tsan (`make
# tsan`, `make check`) with the shim's objects, built the same way, linked
# in (a TSan library preloaded into a host does not work well, and its
# LD_PRELOAD would reach TSan's symbolizer). Modes: 16 and then 32
# threads delivering at once, connect() racing a fork+exec in
# another thread, dup'ed fds, repeated sessions. Every session must be
# delivered and TSan must report nothing (halt_on_error: the first report
# fails the client). Skips when the TSan build is absent.
set -euo pipefail
. "$(dirname "$0")/../helpers/shim_lib.sh"
# make tsan runs this test with BUILD = the TSan build; make check with
# BUILD = the normal one, whose TSan build is $BUILD/tsan.
if [ -z "${TSAN_BUILD:-}" ]; then
	TSAN_BUILD=$BUILD/tsan
	if [ "$(nm -D "$BUILD/tests/helpers/shim_client" 2>/dev/null |
		grep -c ' T __tsan_' || true)" -gt 0 ]; then
		TSAN_BUILD=$BUILD
	fi
fi
shim_setup
[ -x "$TSAN_BUILD/tests/helpers/shim_client" ] ||
	skip "no TSan build in $TSAN_BUILD (make tsan)"
[ "$(nm -D "$TSAN_BUILD/tests/helpers/shim_client" | grep -c ' T __tsan_' || true)" -gt 0 ] ||
	skip "$TSAN_BUILD/tests/helpers/shim_client is not a TSan build"
MX=127.0.2.1	# mx1.good.test
TSAN_LOG=$TEST_TMP/tsan
export TSAN_OPTIONS="halt_on_error=1 report_thread_leaks=0 exitcode=66 second_deadlock_stack=1 log_path=$TSAN_LOG"
export MTASTS_RELAY=$TSAN_BUILD/tests/helpers/shim_fake_relay

# The shim is linked in: no LD_PRELOAD (nothing to preload, nothing to
# reach the relay or the symbolizer).
tclient() { env -u LD_PRELOAD "$TSAN_BUILD/tests/helpers/shim_client" "$@"; }
no_reports() {
	if compgen -G "$TSAN_LOG.*" > /dev/null; then
		cat "$TSAN_LOG".* >&2
		fail "ThreadSanitizer reported (above): $1"
	fi
}

# tsan_case WHAT ARGS: one client run; TSan's reports (in $TSAN_LOG.PID,
# also from the exec'd copies) are shown before any exit status.
tsan_case() {
	local what=$1
	shift
	run tclient "$@"
	no_reports "$what"
	[ "$RC" = 0 ] || fail "$what: shim_client exited $RC"
}

# report_thread_leaks=0: see tests/tsan/clone_passthrough.c (BUGS).
n=0
tsan_case "16 threads" -i tsan-threads16 -n 16 threads $MX 25
n=$((n + 16))
tsan_case "32 threads" -i tsan-threads32 -n 32 threads $MX 25
n=$((n + 32))
export FAKE_RELAY_DELAY_MS=300
tsan_case "exec-race" -i tsan-exec-race exec-race $MX 25
unset FAKE_RELAY_DELAY_MS
n=$((n + 1))
tsan_case "dup" -i tsan-dup dup $MX 25
n=$((n + 1))
tsan_case "repeat" -i tsan-repeat -n 5 repeat $MX 25
n=$((n + 5))

for ((i = 0; i < 100; i++)); do
	[ "$(smtp_count mx1.good.test message)" -ge "$n" ] && break
	sleep 0.05
done
assert_eq "$(smtp_count mx1.good.test message)" "$n" "messages received"
relay_env_ok
