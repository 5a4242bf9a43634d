#!/bin/bash
# What is not SMTP is not touched: other ports, UDP, MTASTS_PORTS; a
# process that never connects behaves as without the shim (no TLS or other
# library loaded, no thread started); the fast path costs little.
set -euo pipefail
. "$(dirname "$0")/../helpers/shim_lib.sh"
shim_setup

# HTTP to a port other than 25: the relay is never started.
start_sink 127.0.0.1 8080 --http
assert_exit 0 client http 127.0.0.1 8080
assert_exit 0 client udp 127.0.2.1 25
assert_eq "$(relay_runs)" 0 "relay runs for HTTP and UDP"

# MTASTS_PORTS: 2525 only. Port 25 is then a plain connection.
start_sink 127.0.0.1 2525
world_mark
MTASTS_PORTS=2525 assert_exit 0 client -i pass-25 blocking 127.0.2.1 25
assert_eq "$(relay_runs)" 0 "relay runs for port 25 with MTASTS_PORTS=2525"
assert_eq "$(smtp_count mx1.good.test message)" 1 "plain message on port 25"
MTASTS_PORTS=2525 assert_exit 0 client -i pass-2525 sockopt 127.0.0.1 2525
assert_eq "$(relay_runs)" 1 "relay runs for port 2525"
assert_contains "$(cat "$RELAY_LOG")" "--dest 127.0.0.1 --port 2525"
# A list, with junk in it; a list with nothing valid means port 25.
MTASTS_PORTS="x, 2525 ,99999,587" assert_exit 0 client -i pass-list blocking 127.0.0.1 2525
assert_eq "$(relay_runs)" 2 "relay runs with a port list"
MTASTS_PORTS="junk" assert_exit 0 client -i pass-junk blocking 127.0.2.1 25
assert_eq "$(relay_runs)" 3 "relay runs with MTASTS_PORTS=junk"
relay_env_ok

# A process that never connects: nothing loaded, no thread, no file read.
run env LD_PRELOAD="$SHIM_PRELOAD" cat /proc/self/maps
assert_contains "$OUT" libmtasts.so
assert_not_contains "$OUT" libssl
assert_not_contains "$OUT" libcrypto
assert_not_contains "$OUT" libcurl
assert_not_contains "$OUT" libcares
assert_eq "$(env LD_PRELOAD="$SHIM_PRELOAD" awk '/^Threads:/ {print $2}' /proc/self/status)" 1 threads
assert_eq "$(readelf -d "$SHIM" | grep NEEDED | grep -v -e 'libc\.so' -e 'lib[al]san' -e libubsan -e libm\.so -e libgcc_s -e libstdc++ | wc -l)" 0 \
	"libraries the shim needs beyond libc"
# (Sanitizer runtimes do not run under ptrace.)
if command -v strace >/dev/null && [ -z "$SHIM_SAN" ]; then
	# After the exec of true: only the libraries are opened, nothing is
	# started.
	run strace -f -e trace=execve,openat,open,clone,clone3 env LD_PRELOAD="$SHIM" true
	after=$(printf '%s\n' "$ERR" | sed -n '/^execve("[^"]*\/true"/,$p')
	assert_contains "$after" 'execve(' "strace of true"
	assert_not_contains "$(printf '%s\n' "$after" | grep -v -e '\.so' -e 'ld\.so\.cache' -e '^execve' -e '^+++')" '(' \
		"system calls of a preloaded true beyond loading libraries"
fi
# ls behaves the same with and without.
assert_eq "$(LD_PRELOAD=$SHIM_PRELOAD ls -la /proc/self/fd/ | wc -l)" "$(ls -la /proc/self/fd/ | wc -l)" "ls output"

# The fast path: connect() to a closed non-SMTP port, with and without;
# then on a bad fd, where the hook's own cost is not hidden by the kernel's.
bench_ns() { printf '%s\n' "$OUT" | sed -n "s/.*$1 \([0-9]*\) ns\/call.*/\1/p"; }
run "$HELPERS/shim_client" -n 100000 bench 127.0.0.1 9
assert_eq "$RC" 0
plain=$(bench_ns refused,) plain_badf=$(bench_ns 'bad fd')
run client -n 100000 bench 127.0.0.1 9
assert_eq "$RC" 0
shim=$(bench_ns refused,) shim_badf=$(bench_ns 'bad fd')
echo "fast path: closed port $plain ns/call without the shim, $shim with it;" \
	"bad fd $plain_badf ns/call without, $shim_badf with" >&2
assert_le "$shim" $((plain * 3 + 1000)) "ns per connect() with the shim"
assert_le "$shim_badf" $((plain_badf * 3 + 1000)) "ns per connect(-1) with the shim"
assert_eq "$(relay_runs)" 3 "relay runs after the benchmark"
