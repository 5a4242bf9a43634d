#!/bin/bash
# Exim's queue runner under libmtasts.so, with its default TCP Fast Open:
# messages queued first (-odq), then one two-phase queue run (exim -qqff,
# as the queue runner of a daemon does it), which routes everything and
# then sends the messages for one host down one connection, handing the
# open connection to a fresh exim process (exec of exim -MC). Every
# message to good.test arrives over verified TLS, the wrong-name domain
# stays deferred (a queue run does not get around the policy), and no
# Exim process ever reaches port 25 itself.
#
# The exec'd "exim -MC" that carries the open connection on to the next
# message is a set-user-ID program, so the dynamic linker drops the shim
# there; it inherits the relay's loopback TCP channel and goes on over it
# (t_exim_multi asserts that path).
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/exim_lib.sh"
relay_env
shim_ready || skip "$BUILD/libmtasts.so is not built"
exim_setup --tfo on

for r in a b c; do
	run exim_send --queue-only --subject "exim-queue-$r" s@sender.test "$r@good.test"
	assert_eq "$RC" 0 "exim -odq exit ($r)"
done
run exim_send --queue-only --subject exim-queue-wrongname s@sender.test a@smtp-wrongname.test
assert_eq "$RC" 0 "exim -odq exit (wrongname)"
assert_eq "$(exim_queue_count)" 4 "messages queued"
assert_eq "$(smtp_count mx1.good.test connect)" 0 "connections before the queue run"

trace=()
command -v strace >/dev/null && trace=(--strace "$TEST_TMP/queue.strace")
relay_mark
run exim_runq "${trace[@]}" -- -qqff
assert_eq "$RC" 0 "exim -qqff exit"
exim_log | sed 's/^/  exim| /' >&2

# good.test: three messages, each once, over TLS 1.2+ with SNI mx1.
assert_eq "$(smtp_count mx1.good.test message)" 3 "messages at mx1.good.test"
for r in a b c; do
	msg=$(smtp_log mx1.good.test | grep '"event": "message"' | grep "\"exim-queue-$r\"")
	assert_eq "$(json_get '",".join(d["rcpt"])' "$msg")" "$r@good.test" "recipients of exim-queue-$r"
	assert_eq "$(json_get 'd["tls"]' "$msg")" true "tls of exim-queue-$r"
	assert_eq "$(json_get 'd["sni"]' "$msg")" mx1.good.test "sni of exim-queue-$r"
	assert_match "$(json_get 'd["tls_version"]' "$msg")" '^TLSv1\.[23]$'
done
# Every connection to mx1 was a relay's, verified.
assert_eq "$(relay_log_since | grep ' decision ' | grep -c 'mx=mx1.good.test .*tls=verified verdict=allow')" \
	"$(smtp_count mx1.good.test connect)" "verified decisions = connections to mx1.good.test"

# smtp-wrongname.test: refused again, still queued, nothing arrived.
assert_eq "$(smtp_count mx.smtp-wrongname.test message)" 0 "messages at mx.smtp-wrongname.test"
relay_log_since | grep ' decision ' | grep -q 'domain=smtp-wrongname.test .*verdict=refuse reason=certificate-host-mismatch' ||
	fail "no refusal of smtp-wrongname.test in the queue run"
assert_eq "$(exim_queue_count)" 1 "messages left in the queue"
exim_queue | grep -Eq '^ +a@smtp-wrongname\.test$' || fail "a@smtp-wrongname.test is not the one left"

# No Exim process (the runner, its delivery processes, an exec'd -MC)
# reached port 25 itself.
if [ ${#trace[@]} -gt 0 ]; then
	f=$TEST_TMP/queue.strace
	relays=" $(strace_relay_pids "$f" | tr '\n' ' ') "
	for p in $(strace_port25_pids "$f"); do
		case $relays in
		*" $p "*) ;;
		*) fail "process $p (not a relay) reached port 25 itself: the shim was bypassed" ;;
		esac
	done
	if grep -qE 'execve\("[^"]*/exim4", \[[^]]*"-MC"' "$f"; then
		echo "note: Exim handed a connection to exim -MC (see the header of this test)" >&2
	fi
fi
