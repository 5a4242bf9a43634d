#!/bin/bash
# libmtasts.so relays SMTP sessions made every way a sender makes them:
# blocking, non-blocking, stdio, threads, fork, exec, dup'ed fds, IPv6 and
# v4-mapped addresses, quitting without reading. Each session reaches the
# receiver through the (fake) relay; the shim leaks no fd, leaves no child
# for the sender to see, and the relay runs in the environment the
# contract promises. (shim_client checks the fd count, SIGCHLD, waitpid(-1)
# and the process table itself; it exits 0 only on a 250 after DATA.)
set -euo pipefail
. "$(dirname "$0")/../helpers/shim_lib.sh"
shim_setup
MX=127.0.2.1	# mx1.good.test

n=0
for mode in blocking nonblock sockopt stdio dup quit-noread; do
	assert_exit 0 client -i "modes-$mode" "$mode" $MX 25
	n=$((n + 1))
done
assert_exit 0 client -i modes-flags flags $MX 25
n=$((n + 4))
assert_exit 0 client -i modes-repeat -n 5 repeat $MX 25
n=$((n + 5))
assert_exit 0 client -i modes-threads -n 16 threads $MX 25
n=$((n + 16))

# fork: the parent exits at once, the child finishes the session.
assert_exit 0 client -i modes-fork -s "$TEST_TMP/fork.status" fork $MX 25
for ((i = 0; i < 100; i++)); do [ -s "$TEST_TMP/fork.status" ] && break; sleep 0.05; done
assert_eq "$(cat "$TEST_TMP/fork.status" 2>/dev/null)" ok "the forked child's session"
n=$((n + 1))

# exec: the new program finishes the session on the inherited fd.
assert_exit 0 client -i modes-exec exec $MX 25
n=$((n + 1))

# exec by another thread while a connect() waits for its verdict: the
# new program inherits no fd of the shim's (all O_CLOEXEC).
FAKE_RELAY_DELAY_MS=1000 assert_exit 0 client -i modes-exec-race exec-race $MX 25
n=$((n + 1))

# v4-mapped IPv6 on an AF_INET6 socket: the relay is told plain IPv4.
assert_exit 0 client -i modes-mapped sockopt ::ffff:$MX 25
n=$((n + 1))
assert_contains "$(tail -n 1 "$RELAY_LOG")" "--dest $MX --port 25" "relay argv"

# Every session arrived (the relay outlives quit-noread and the parent of
# fork): count the receiver's messages.
for ((i = 0; i < 100; i++)); do
	[ "$(smtp_count mx1.good.test message)" -ge "$n" ] && break
	sleep 0.05
done
assert_eq "$(smtp_count mx1.good.test message)" "$n" "messages received"
assert_eq "$(smtp_log mx1.good.test | grep -c '"subject": "shim test modes-quit-noread"')" 1
assert_eq "$(smtp_log mx1.good.test | grep -c '"subject": "shim test modes-fork"')" 1
assert_eq "$(smtp_log mx1.good.test | grep -c '"subject": "shim test modes-exec"')" 1
relay_env_ok
assert_eq "$(grep -c relayed "$SHIM_LOG")" "$n" "shim log lines"

# IPv6: a receiver on [::1]:25.
start_sink ::1 25
assert_exit 0 client -i modes-v6 sockopt ::1 25
assert_exit 0 client -i modes-v6nb nonblock ::1 25
assert_eq "$(tail -n 2 "$RELAY_LOG" | grep -c -- "--dest ::1 --port 25")" 2 "relay argv"
assert_eq "$(grep -l 'shim test modes-v6' "$TEST_TMP"/sink/msg.* | wc -l)" 2 "IPv6 messages"
relay_env_ok

# The relay runs without libmtasts.so preloaded; the host's other
# LD_PRELOAD entries (here libm and libdl, by name) reach it unchanged.
# (A sanitizer runtime must come first, and stays.)
relay_reset
want=libm.so.6:libdl.so.2
[ -z "$SHIM_SAN" ] || want="${SHIM_PRELOAD%% *}:$want"
assert_exit 0 env LD_PRELOAD="$SHIM_PRELOAD libm.so.6:libdl.so.2" \
	"$HELPERS/shim_client" -i preload blocking $MX 25
assert_contains "$(cat "$RELAY_LOG")" "preload=clean ld_preload=$want pid=" "relay environment"
relay_env_ok

# No relay is left running once the sessions are over (the receivers
# close after QUIT; allow for a loaded machine).
for ((i = 0; i < 400; i++)); do
	pgrep -f '^mtasts-relay ' >/dev/null || break
	sleep 0.05
done
run pgrep -af '^mtasts-relay '
for pid in $(pgrep -f '^mtasts-relay '); do
	echo "relay $pid: $(cat "/proc/$pid/wchan" 2>/dev/null)" >&2
	ls -l "/proc/$pid/fd" >&2 || true
	grep "pid=$pid " "$TEST_TMP"/*.log >&2 || true
done
assert_eq "$OUT" "" "relays still running"
