# relay_lib.sh - helpers for the relay's integration tests (t_relay_*.sh)
#
# SYNOPSIS
#	. "$(dirname "$0")/../world/lib.sh"
#	. "$(dirname "$0")/relay_lib.sh"
#	relay_env                        # world_env + the relay's log file
#	drive --domain good.test --mx mx1.good.test --dest 127.0.2.1
#	assert_verdict relay
#	assert_decision verdict=allow tls=verified reason=-
#
# DESCRIPTION
#	drive runs tests/helpers/relay_drive (it plays the shim's part: the
#	socket pair, the TCP socket, the verdict) with --port 25 and sends
#	one message when the verdict is "relay". Options before "--" go to
#	relay_drive, the rest to the relay.
#
#	The relay logs to $RELAY_LOG (debug level), whose decision lines the
#	assert_decision helper reads: each KEY=VALUE must appear in the last
#	decision line written since the last relay_mark.
#
#	shim_ready tells whether $BUILD/libmtasts.so exists; via_shim CMD...
#	runs CMD with the preload library and the relay.

relay_env() {
	world_env
	RELAY=$BUILD/mtasts-relay
	DRIVE=$BUILD/tests/helpers/relay_drive
	[ -x "$RELAY" ] || skip "$RELAY is not built"
	[ -x "$DRIVE" ] || skip "$DRIVE is not built"
	export RELAY_LOG=$TEST_TMP/relay.log
	export MTASTS_LOG=$RELAY_LOG
	export MTASTS_LOG_LEVEL=debug
	export MTASTS_EHLO_NAME=sender.world.test
	: > "$RELAY_LOG"
	relay_mark
}

# relay_mark: later helpers look at the relay log from here on.
relay_mark() {
	_RELAY_MARK=$(stat -c %s "$RELAY_LOG")
	world_mark
}

relay_log_since() {
	tail -c +$((_RELAY_MARK + 1)) "$RELAY_LOG"
}

# drive [DRIVE-OPTIONS] [--] RELAY-ARGS: sets RC OUT ERR like run.
drive() {
	local opts=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		case $1 in
		--dest|--mx|--domain|--port) break ;;
		esac
		opts+=("$1")
		shift
	done
	[ "${1:-}" = -- ] && shift
	run "$DRIVE" --relay "$RELAY" "${opts[@]}" -- --port 25 "$@"
	echo "  relay log:" >&2
	relay_log_since | sed 's/^/  log| /' >&2
}

# The value of KEY in LINE (key=value or key="quoted value").
kv() {
	printf '%s\n' "$2" | sed -n -E "s/.* $1=(\"([^\"\\\\]|\\\\.)*\"|[^ ]*).*/\\1/p" | head -n 1
}

last_decision() {
	relay_log_since | grep ' decision ' | tail -n 1
}

decision_count() {
	relay_log_since | grep -c ' decision ' || true
}

# assert_decision KEY=VALUE...: the last decision line has these values.
assert_decision() {
	local line pair key want got
	line=$(last_decision)
	[ -n "$line" ] || fail "no decision line in the relay log"
	for pair in "$@"; do
		key=${pair%%=*}
		want=${pair#*=}
		got=$(kv "$key" "$line")
		[ "$got" = "$want" ] || fail "decision $key: expected '$want', got '$got' in: $line"
	done
}

# assert_verdict relay|refuse|handoff [ERRNO-NAME]
assert_verdict() {
	assert_contains "$OUT" "verdict=$1 " "relay_drive output"
	[ -z "${2:-}" ] || assert_contains "$OUT" "verdict=$1 error=$2" "relay_drive output"
}

# The receiver's message event since the mark (one expected).
smtp_message() {
	smtp_log "$1" | grep '"event": "message"' | tail -n 1
}

# assert_delivered MX SUBJECT TLS(true|false) [SNI]
assert_delivered() {
	local msg
	assert_eq "$(smtp_count "$1" message)" 1 "messages at $1"
	msg=$(smtp_message "$1")
	assert_eq "$(json_get 'd["subject"]' "$msg")" "$2" "subject at $1"
	assert_eq "$(json_get 'd["tls"]' "$msg")" "$3" "tls at $1"
	[ -z "${4:-}" ] || assert_eq "$(json_get 'd["sni"]' "$msg")" "$4" "sni at $1"
}

# assert_untouched MX: no TCP connection reached the receiver since the mark.
assert_untouched() {
	assert_eq "$(smtp_count "$1" connect)" 0 "connections to $1"
}

# warm DOMAIN: fetch the policy into the cache once (the CLI, or the relay).
warm() {
	"$BUILD/mtasts" policy "$1" >/dev/null 2>&1 || true
}

shim_ready() {
	[ -f "$BUILD/libmtasts.so" ]
}

# via_shim CMD...: CMD under the preload library, as mtasts-wrap runs it.
# A sanitizer build of the library needs its runtimes preloaded first, and
# no leak report from the (uninstrumented) client at exit.
via_shim() {
	local pre=$BUILD/libmtasts.so rt
	rt=$(ldd "$pre" 2>/dev/null | awk '/lib(asan|ubsan)\.so/ { print $3 }' | tr '\n' ' ')
	if [ -n "$rt" ]; then
		ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0 \
			LD_PRELOAD="$rt$pre" MTASTS_RELAY=$RELAY timeout 30 "$@"
	else
		LD_PRELOAD=$pre MTASTS_RELAY=$RELAY timeout 30 "$@"
	fi
}

# fake_mx ADDR MODE [tls]: starts tests/helpers/relay_fake_mx.py on ADDR:25
# (127.0.3.N) in MODE, with the world's mx1.good.test certificate when
# "tls" is given; FAKE_LOG is its event log. Stopped when the test exits.
_FAKE_PIDS=()
fake_mx() {
	local addr=$1 mode=$2 pidf i
	FAKE_LOG=$TEST_TMP/fake-$addr.jsonl
	pidf=$TEST_TMP/fake-$addr.pid
	local args=(--addr "$addr" --mode "$mode" --log "$FAKE_LOG" --pid-file "$pidf")
	[ "${3:-}" = tls ] && args+=(--cert "$WORLD/ca/mx1.good.test.pem" --key "$WORLD/ca/mx1.good.test.key")
	rm -f "$pidf"
	: > "$FAKE_LOG"
	python3 "$(dirname "${BASH_SOURCE[0]}")/../helpers/relay_fake_mx.py" "${args[@]}" \
		>>"$TEST_TMP/fake-$addr.err" 2>&1 &
	_FAKE_PIDS+=($!)
	for ((i = 0; i < 200; i++)); do
		[ -s "$pidf" ] && return 0
		sleep 0.02
	done
	fail "fake MX on $addr did not start"
}

fake_stop() {
	local p
	for p in "${_FAKE_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	_FAKE_PIDS=()
}
trap fake_stop EXIT

# fake_count EVENT: events of the current fake MX.
fake_count() {
	grep -c "\"event\": \"$1\"" "$FAKE_LOG" || true
}
