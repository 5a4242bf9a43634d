# shellcheck shell=bash disable=SC2034
# fault_lib.sh - helpers of the fault, attack and load tests (t_fault_*,
# t_attack_*, t_load_*)
#
# SYNOPSIS
#	. "$(dirname "$0")/../world/lib.sh"
#	. "$(dirname "$0")/relay_lib.sh"
#	. "$(dirname "$0")/fault_lib.sh"
#	fault_env                         # relay_env + the evil servers' cleanup
#	evil_mx 127.0.6.1 reset-handshake --cert "$WORLD/ca/mx1.good.test.pem" ...
#	evil_policy 127.0.6.20 endless h6-endless.test
#	h6_cert mta-sts.h6-x.test         # a leaf from the trusted test CA
#
# DESCRIPTION
#	Every server these helpers start listens on 127.0.6.0/24 (this area's
#	address block) and is killed, by its own pid, when the test exits.
#	Helpers of tests/helpers/: evil_mx.py (hostile MX and on-path proxy),
#	evil_policy.py (hostile policy host), evil_dns.py (a churning TXT id).
#	DNS names these tests add start with "h6-" so they collide with nobody.

FAULT_HELPERS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../helpers" && pwd)
_EVIL_PIDS=()

fault_stop() {
	local p
	for p in "${_EVIL_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	_EVIL_PIDS=()
	declare -F fake_stop >/dev/null && fake_stop
	return 0
}

# fault_env: relay_env (world_env, the relay's log), and the cleanup trap.
fault_env() {
	relay_env
	trap fault_stop EXIT
}

# _evil_start NAME PYFILE ARGS...: starts a helper in the background and
# waits for its pid file. EVIL_LOG is its event log.
_evil_start() {
	local name=$1 py=$2 pidf i
	shift 2
	EVIL_LOG=$TEST_TMP/evil-$name.jsonl
	pidf=$TEST_TMP/evil-$name.pid
	rm -f "$pidf"
	: > "$EVIL_LOG"
	python3 "$FAULT_HELPERS/$py" --log "$EVIL_LOG" --pid-file "$pidf" "$@" \
		>> "$TEST_TMP/evil-$name.err" 2>&1 &
	_EVIL_PIDS+=($!)
	for ((i = 0; i < 250; i++)); do
		[ -s "$pidf" ] && return 0
		sleep 0.02
	done
	cat "$TEST_TMP/evil-$name.err" >&2
	fail "$py on $name did not start"
}

# evil_mx ADDR MODE [evil_mx.py options]: a hostile MX on ADDR:25.
evil_mx() {
	local addr=$1 mode=$2
	shift 2
	_evil_start "$addr" evil_mx.py --addr "$addr" --mode "$mode" "$@"
}

# evil_policy ADDR MODE DOMAIN [options]: a hostile policy host for
# mta-sts.DOMAIN on ADDR:443, with a valid certificate for that name, and
# the DNS for it: A mta-sts.DOMAIN and TXT _mta-sts.DOMAIN "v=STSv1; id=1".
evil_policy() {
	local addr=$1 mode=$2 domain=$3
	shift 3
	h6_cert "mta-sts.$domain"
	WORLD_DNS_DEFER=1 world_dns_set_host "mta-sts.$domain" "$addr"
	world_dns_set_txt "_mta-sts.$domain" "v=STSv1; id=1"
	_evil_start "$addr" evil_policy.py --addr "$addr" --mode "$mode" \
		--cert "$WORLD/ca/mta-sts.$domain.pem" \
		--key "$WORLD/ca/mta-sts.$domain.key" "$@"
}

# evil_count EVENT [LOG]: events in the last started helper's log.
evil_count() {
	grep -c "\"event\": \"$1\"" "${2:-$EVIL_LOG}" || true
}

# h6_cert NAME [SAN...]: $WORLD/ca/NAME.pem and .key, a leaf of the trusted
# test CA with the SAN names given (default NAME), made with the world's
# own PKI functions (tests/world/certs.sh).
h6_cert() {
	local name=$1
	shift
	[ -e "$WORLD/ca/$name.pem" ] && return 0
	(
		# shellcheck source=tests/world/certs.sh
		. "$(dirname "${BASH_SOURCE[0]}")/../world/certs.sh"
		CERTS=$WORLD/ca
		if [ $# -gt 0 ]; then cert_valid "$name" "$@"; else cert_valid "$name" "$name"; fi
	) || fail "cannot make a certificate for $name"
}

# relay_pids: the mtasts-relay processes of this build that are running
# (inside the test's PID namespace: only this test's).
relay_pids() {
	local p exe st
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null) || continue
		[ "$exe" = "$RELAY" ] || continue
		st=$(awk '{print $3}' "$p/stat" 2>/dev/null) || continue
		[ "$st" = Z ] && continue
		echo "${p#/proc/}"
	done
}

# wait_for COUNT-CMD WANT [TRIES]: polls until COUNT-CMD prints WANT
# (0.05 s steps, default 200 tries = 10 s); returns 1 when it never does.
wait_for() {
	local i got
	for ((i = 0; i < ${3:-200}; i++)); do
		got=$(eval "$1")
		[ "$got" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# now_ms: milliseconds, for elapsed-time assertions.
now_ms() { echo $(($(date +%s%N) / 1000000)); }
