#!/bin/bash
# Several messages down ONE connection, through exim's "-MC" re-exec path:
# three messages to good.test are queued (-odq), then one two-phase queue
# run (-qqff) delivers them. Exim sends the first on a fresh connection
# (through libmtasts.so and the relay), then execs "exim -MC ..." with the
# open connection on fd 0 to send the next ones (connection_max_messages
# is Exim's default, 500). That exec is of a set-user-ID program: the
# loader drops LD_PRELOAD there, so the new process sees the fd as the
# kernel does. The shim hands the application a loopback TCP socket of
# its own family (shim/loopback.c), so Exim finds an AF_INET socket; with
# the old AF_UNIX socketpair it crashed (SIGSEGV) and re-delivered the
# rest on new connections.
#
# Asserted: all three delivered over verified TLS with SNI mx1.good.test,
# over exactly one TCP connection to mx1 (one relay decision), Exim's
# -MC exec really happened (strace, when available), and no crash or
# panic in Exim's logs.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/exim_lib.sh"
relay_env
shim_ready || skip "$BUILD/libmtasts.so is not built"
exim_setup --tfo off

for r in a b c; do
	run exim_send --queue-only --subject "exim-multi-$r" s@sender.test "$r@good.test"
	assert_eq "$RC" 0 "exim -odq exit ($r)"
done
assert_eq "$(exim_queue_count)" 3 "messages queued"

trace=()
command -v strace >/dev/null && trace=(--strace "$TEST_TMP/multi.strace")
relay_mark
run exim_runq "${trace[@]}" -- -qqff
assert_eq "$RC" 0 "exim -qqff exit"
exim_log | sed 's/^/  exim| /' >&2

assert_eq "$(exim_queue_count)" 0 "messages left in the queue"
assert_eq "$(smtp_count mx1.good.test message)" 3 "messages at mx1.good.test"
for r in a b c; do
	msg=$(smtp_log mx1.good.test | grep '"event": "message"' | grep "\"exim-multi-$r\"")
	assert_eq "$(json_get '",".join(d["rcpt"])' "$msg")" "$r@good.test" "recipients of exim-multi-$r"
	assert_eq "$(json_get 'd["tls"]' "$msg")" true "tls of exim-multi-$r"
	assert_eq "$(json_get 'd["sni"]' "$msg")" mx1.good.test "sni of exim-multi-$r"
done
# One connection carried all three: one relay, one verified decision.
assert_eq "$(smtp_count mx1.good.test connect)" 1 "connections to mx1.good.test"
assert_eq "$(relay_log_since | grep ' decision ' | grep -c 'mx=mx1.good.test .*tls=verified verdict=allow')" \
	1 "verified decisions"

# Exim did hand the connection on (exec of exim -MC), and nothing crashed.
if [ ${#trace[@]} -gt 0 ]; then
	grep -qE 'execve\("[^"]*/exim4", \[[^]]*"-MC"' "$TEST_TMP/multi.strace" ||
		fail "Exim never exec'd exim -MC: the re-exec path was not exercised"
	if grep -E 'SIGSEGV|killed by' "$TEST_TMP/multi.strace" >&2; then
		fail "an Exim process crashed (above)"
	fi
fi
assert_eq "$(exim_panic_log)" "" "Exim's panic log"
if exim_log | grep -Ei 'crash|signal|SIGSEGV|panic' >&2; then
	fail "Exim's main log reports a crash (above)"
fi
# Exim's own log: the two later messages went down the existing
# connection ("H=host [addr]:25*": a continued connection), from the
# exec'd -MC process, which saw its fd as a TCP socket over loopback.
assert_eq "$(exim_log | grep -c ' => .* H=mx1\.good\.test \[127\.0\.2\.1\]:25\* ')" 2 \
	"deliveries on the continued connection"
