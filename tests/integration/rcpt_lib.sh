# rcpt_lib.sh - helpers for the per-recipient tests (t_rcpt_*.sh)
#
# SYNOPSIS
#	. "$(dirname "$0")/../world/lib.sh"
#	. "$(dirname "$0")/relay_lib.sh"
#	. "$(dirname "$0")/rcpt_lib.sh"
#	rcpt_env
#	rcpt_smtp --server 127.0.2.1 --to a@good.test --to b@x.test --subject S
#	assert_rcpt_line rcpt_domain=b@x.test verdict=defer
#
# DESCRIPTION
#	rcpt_smtp runs tests/integration/rcpt_client.py (Python's smtplib
#	and raw sockets: a real client nobody here wrote the protocol of)
#	under the shim; its stdout is JSON lines, one per reply it got.
#
#	rcpt_lines / last_rcpt_line / assert_rcpt_line read the relay's
#	"rcpt" decision lines since the last relay_mark, like
#	assert_decision does for the connection's line.
#
#	rcpt_receiver ADDR [--chunking] starts a world smtp_receiver.py on
#	ADDR:25 (our block, 127.0.5.0/24) with the world CA's certificate of
#	mx1.good.test; RCPT_RX_LOG is its event log. Stopped on exit.

RCPT_DIR=$(dirname "${BASH_SOURCE[0]}")

rcpt_env() {
	relay_env
	shim_ready || skip "$BUILD/libmtasts.so is not built"
	export MTASTS_TIMEOUT=5
}

# rcpt_smtp ARGS...: the client under the shim; sets RC OUT ERR.
rcpt_smtp() {
	run via_shim python3 "$RCPT_DIR/rcpt_client.py" "$@"
	echo "  relay log:" >&2
	relay_log_since | sed 's/^/  log| /' >&2
}

rcpt_lines() {
	relay_log_since | grep ' rcpt domain=' || true
}

# rcpt_line_for DOMAIN: the last rcpt line for that recipient domain.
rcpt_line_for() {
	rcpt_lines | grep " rcpt_domain=$1 " | tail -n 1
}

# assert_rcpt DOMAIN KEY=VALUE...: that domain's last rcpt line has these.
assert_rcpt() {
	local dom=$1 line pair key want got
	shift
	line=$(rcpt_line_for "$dom")
	[ -n "$line" ] || fail "no rcpt line for $dom in the relay log"
	for pair in "$@"; do
		key=${pair%%=*}
		want=${pair#*=}
		got=$(kv "$key" "$line")
		[ "$got" = "$want" ] || fail "rcpt $dom $key: expected '$want', got '$got' in: $line"
	done
}

# client_reply KIND [N]: the code of the client's Nth (default last)
# JSON line of that kind ("rcpt", "data", ...), e.g. 250 or 450.
client_reply() {
	printf '%s\n' "$OUT" | python3 -c '
import json, sys
kind, n = sys.argv[1], int(sys.argv[2])
rows = [json.loads(l) for l in sys.stdin if l.startswith("{")]
rows = [r for r in rows if r.get("kind") == kind]
print(rows[n]["code"] if rows and -len(rows) <= n < len(rows) else "none")
' "$1" "${2:--1}"
}

client_field() {	# KIND FIELD: a field of the client's last JSON line of KIND
	printf '%s\n' "$OUT" | python3 -c '
import json, sys
kind, f = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in sys.stdin if l.startswith("{")]
rows = [r for r in rows if r.get("kind") == kind]
print(rows[-1].get(f, "none") if rows else "none")
' "$1" "$2"
}

_RCPT_PIDS=()
rcpt_receiver() {
	local addr=$1 pidf i
	shift
	RCPT_RX_LOG=$TEST_TMP/rx-$addr.jsonl
	RCPT_RX_DATA=$TEST_TMP/rx-$addr.data
	pidf=$TEST_TMP/rx-$addr.pid
	mkdir -p "$RCPT_RX_DATA"
	rm -f "$pidf"
	: > "$RCPT_RX_LOG"
	python3 "$RCPT_DIR/../world/smtp_receiver.py" --addr "$addr" --port 25 \
		--hostname mx1.good.test --cert "$WORLD/ca/mx1.good.test.pem" \
		--key "$WORLD/ca/mx1.good.test.key" --log "$RCPT_RX_LOG" \
		--data-dir "$RCPT_RX_DATA" --pid-file "$pidf" "$@" \
		>>"$TEST_TMP/rx-$addr.err" 2>&1 &
	_RCPT_PIDS+=($!)
	for ((i = 0; i < 200; i++)); do
		[ -s "$pidf" ] && return 0
		sleep 0.02
	done
	fail "receiver on $addr did not start"
}

rcpt_stop() {
	local p
	for p in "${_RCPT_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	_RCPT_PIDS=()
	fake_stop
}
trap rcpt_stop EXIT

# rx_message: the last message event of our own receiver.
rx_message() {
	grep '"event": "message"' "$RCPT_RX_LOG" | tail -n 1
}

rx_count() {
	grep -c "\"event\": \"$1\"" "$RCPT_RX_LOG" || true
}
