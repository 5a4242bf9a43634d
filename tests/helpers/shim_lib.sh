# shellcheck shell=bash disable=SC2034
# shim_lib.sh - shared set-up of the t_shim_*.sh integration tests
#
# SYNOPSIS
#	. "$(dirname "$0")/../helpers/shim_lib.sh"
#	shim_setup                 # world_env + the fake relay + helpers
#	client blocking 127.0.2.1 25     # shim_client under LD_PRELOAD
#
# DESCRIPTION
#	Sourced by the shim's integration tests (they run inside the world,
#	tests/integration/run). The shim is tested with the fake relay
#	(tests/helpers/shim_fake_relay.c), which relays plaintext, so only
#	the shim's own mechanics are under test. After shim_setup:
#	  SHIM          $BUILD/libmtasts.so
#	  HELPERS       $BUILD/tests/helpers
#	  RELAY_LOG     one line per relay run (FAKE_RELAY_LOG)
#	  SHIM_LOG      the shim's own log file (MTASTS_LOG)

# shellcheck source=tests/world/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../world/lib.sh"

shim_setup() {
	world_env
	SHIM=$BUILD/libmtasts.so
	HELPERS=$BUILD/tests/helpers
	[ -f "$SHIM" ] || skip "$SHIM is not built"
	local h
	for h in shim_client shim_fake_relay shim_smtp_sink; do
		[ -x "$HELPERS/$h" ] || skip "$HELPERS/$h is not built"
	done
	SHIM_PRELOAD=$SHIM
	SHIM_SAN=
	if readelf -d "$SHIM" | grep -q 'NEEDED.*libasan'; then
		SHIM_SAN=1
		SHIM_PRELOAD="$(ldd "$SHIM" | awk '/libasan/ {print $3}') $SHIM"
	fi
	RELAY_LOG=$TEST_TMP/relay.log
	SHIM_LOG=$TEST_TMP/shim.log
	export MTASTS_RELAY=$HELPERS/shim_fake_relay
	export FAKE_RELAY_LOG=$RELAY_LOG
	export MTASTS_LOG=$SHIM_LOG
	unset FAKE_RELAY_MODE FAKE_RELAY_DELAY_MS FAKE_RELAY_DEPTH
	unset MTASTS_PORTS MTASTS_DOMAIN
}

# client ARGS: shim_client under the shim.
client() { LD_PRELOAD=$SHIM_PRELOAD "$HELPERS/shim_client" "$@"; }

# relay_runs: how many times the fake relay ran.
relay_runs() {
	if [ -e "$RELAY_LOG" ]; then wc -l < "$RELAY_LOG"; else echo 0; fi
}

# relay_reset: forget earlier relay runs.
relay_reset() { rm -f "$RELAY_LOG"; }

# relay_env_ok: every relay run found the environment the contract
# promises (fds 0-4 only, own session, no blocked signal, no libmtasts.so
# in LD_PRELOAD) and none was a recursion.
relay_env_ok() {
	[ -e "$RELAY_LOG" ] || fail "the relay never ran"
	if grep -v 'fds=ok sid=ok sigmask=ok ' "$RELAY_LOG" >&2; then
		fail "a relay ran in a bad environment (above)"
	fi
	if grep 'mode=recursion' "$RELAY_LOG" >&2; then
		fail "the shim intercepted the relay's own connect()"
	fi
	if grep 'preload=shim' "$RELAY_LOG" >&2; then
		fail "a relay ran with libmtasts.so in LD_PRELOAD"
	fi
}

# start_sink ADDR PORT [--http]: the plain receiver of the helpers, in the
# background until the test ends; messages land in $TEST_TMP/sink.
start_sink() {
	local ready i
	mkdir -p "$TEST_TMP/sink"
	ready=$(mktemp -u "$TEST_TMP/ready.XXXXXX")
	# shellcheck disable=SC2086 # an optional flag
	"$HELPERS/shim_smtp_sink" ${3:-} --ready "$ready" --lifetime 100 \
		"$1" "$2" "$TEST_TMP/sink" >> "$TEST_TMP/sink.log" 2>&1 &
	for ((i = 0; i < 200; i++)); do
		[ -e "$ready" ] && return 0
		sleep 0.02
	done
	fail "shim_smtp_sink on $1:$2 did not start"
}
