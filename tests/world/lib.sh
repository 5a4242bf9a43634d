# lib.sh - helpers for the integration tests (and tests/world/up)
#
# SYNOPSIS
#	#!/bin/bash
#	set -euo pipefail
#	. "$(dirname "$0")/../world/lib.sh"
#	world_env              # fresh cache dir, MTASTS_* pointing at the world
#	need_mtasts            # SKIP (exit 77) when $BUILD/mtasts is not built
#	assert_exit 0 mtasts policy good.test
#	assert_eq "$(field mode)" enforce
#
# DESCRIPTION
#	Sourcing has no side effects. The world itself is described in
#	tests/world/README.md; tests run inside it (tests/integration/run), one
#	at a time, so a test may change the mutable parts (switch.test, DNS
#	fragments) but must set them to the state it needs first
#	(world_switch_reset) rather than assume what an earlier test left.
#
#	Results of `run`/`assert_exit`: RC, OUT (stdout), ERR (stderr); every
#	command and its output is also echoed to stderr, which the runner
#	keeps in the test's log.

# shellcheck disable=SC2034 # used by the tests that source this file
WORLD_DNS=127.0.0.53          # dnsmasq, the world's resolver
WORLD_DNS_SERVFAIL=127.0.0.54 # dns_fail.py: SERVFAIL to everything
WORLD_DNS_REFUSED=127.0.0.55  # dns_fail.py: REFUSED to everything
WORLD_DNS_DROP=127.0.0.56     # dns_fail.py: reads, never answers
WORLD_DNS_DEAD=127.0.0.99     # nothing listens (ICMP port unreachable)
WORLD_ADDR_DOWN=127.0.1.26    # the policy-host address where nothing listens

# ---------------------------------------------------------------------------
# Test set-up

# world_env: exports the MTASTS_* variables for the world, a fresh test
# directory TEST_TMP and cache directory (mode 0700), and marks the current
# end of every world log so the counting helpers see this test only.
world_env() {
	: "${WORLD:?WORLD is not set: run tests through tests/integration/run}"
	: "${BUILD:?BUILD is not set}"
	TEST_TMP=$(mktemp -d "$WORLD/tests/$(basename "${0%.sh}").XXXXXX")
	mkdir -m 0700 "$TEST_TMP/cache"
	export TEST_TMP
	export MTASTS_DNS_SERVERS=$WORLD_DNS
	export MTASTS_CA_FILE=$WORLD/ca/ca.pem
	unset MTASTS_CA_PATH
	export MTASTS_CACHE_DIR=$TEST_TMP/cache
	export MTASTS_LOG=stderr
	export MTASTS_LOG_LEVEL=${MTASTS_LOG_LEVEL:-info}
	export MTASTS_TIMEOUT=5
	export MTASTS_REPORT_DIR=$TEST_TMP/reports
	MTASTS_BIN=$BUILD/mtasts
	world_mark
}

# new_cache_dir: switches MTASTS_CACHE_DIR to another fresh, empty
# directory (mode 0700), exported (call it directly, not in $(...)).
new_cache_dir() {
	MTASTS_CACHE_DIR=$(mktemp -d "$TEST_TMP/cache.XXXXXX")
	chmod 0700 "$MTASTS_CACHE_DIR"
	export MTASTS_CACHE_DIR
}

# world_mark: (re)sets the point from which the log helpers count.
declare -A _WORLD_MARK=()
world_mark() {
	local f
	for f in "$WORLD/nginx/access.log" "$WORLD/dns.log" "$WORLD/dns-fail.log" \
		"$WORLD"/smtp/*.jsonl "$WORLD"/stall/*.jsonl; do
		[ -e "$f" ] || continue
		_WORLD_MARK[$f]=$(stat -c %s "$f")
	done
}

# world_log_since FILE: what FILE got since the mark.
world_log_since() {
	local f=$1 m=${_WORLD_MARK[$1]:-0}
	[ -e "$f" ] || return 0
	tail -c +$((m + 1)) "$f"
}

need_mtasts() {
	[ -x "${MTASTS_BIN:-$BUILD/mtasts}" ] || skip "${MTASTS_BIN:-$BUILD/mtasts} is not built"
}

# mtasts ARGS: the command under test.
mtasts() { "${MTASTS_BIN:-$BUILD/mtasts}" "$@"; }

# ---------------------------------------------------------------------------
# Running and asserting

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

skip() {
	echo "SKIP: $*"
	exit 77
}

# run CMD...: runs CMD (a command or function) with set -e off; sets RC,
# OUT, ERR and ELAPSED_MS; echoes all of it to stderr for the log.
run() {
	local o="$TEST_TMP/.out" e="$TEST_TMP/.err" t0 t1
	t0=$(date +%s%N)
	set +e
	"$@" >"$o" 2>"$e"
	RC=$?
	set -e
	t1=$(date +%s%N)
	ELAPSED_MS=$(((t1 - t0) / 1000000))
	OUT=$(cat "$o")
	ERR=$(cat "$e")
	{
		echo "+ $* -> exit $RC (${ELAPSED_MS} ms)"
		[ -z "$OUT" ] || printf '%s\n' "$OUT" | sed 's/^/  out| /'
		[ -z "$ERR" ] || printf '%s\n' "$ERR" | sed 's/^/  err| /'
	} >&2
}

# assert_exit CODE CMD...: run, then require exit status CODE.
assert_exit() {
	local want=$1
	shift
	run "$@"
	[ "$RC" = "$want" ] || fail "expected exit $want, got $RC from: $*"
}

# assert_eq ACTUAL EXPECTED [WHAT]
assert_eq() {
	[ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"
}

assert_ne() {
	[ "$1" != "$2" ] || fail "${3:-value}: expected anything but '$2'"
}

# assert_contains HAYSTACK NEEDLE [WHAT]: fixed-string search.
assert_contains() {
	case "$1" in
	*"$2"*) ;;
	*) fail "${3:-output} does not contain '$2'" ;;
	esac
}

assert_not_contains() {
	case "$1" in
	*"$2"*) fail "${3:-output} contains '$2'" ;;
	*) ;;
	esac
}

# assert_match TEXT ERE [WHAT]: some line of TEXT matches the extended regex.
assert_match() {
	printf '%s\n' "$1" | grep -Eq -- "$2" || fail "${3:-output} has no line matching /$2/"
}

# assert_failure_class fetch|invalid|webpki|dns: the failure class the
# engine logged for the last command (stderr, MTASTS_LOG=stderr, level
# info): "failure=<class>" as engine.c logs it, or the RFC 8460 result type
# (sts-policy-fetch-error, sts-policy-invalid, sts-webpki-invalid).
assert_failure_class() {
	local long
	case $1 in
	fetch) long=sts-policy-fetch-error ;;
	invalid) long=sts-policy-invalid ;;
	webpki) long=sts-webpki-invalid ;;
	*) long=$1 ;;
	esac
	printf '%s\n' "$ERR" | grep -Eq -- "failure=$1([^a-z-]|\$)|$long" ||
		fail "stderr does not name the failure class $1 ($long)"
}

# assert_le A B [WHAT]: integers, A <= B.
assert_le() {
	[ "$1" -le "$2" ] || fail "${3:-value} $1 is not <= $2"
}

# field NAME [TEXT]: the value of the first "NAME: value" line of TEXT
# (default $OUT). fields NAME [TEXT]: every such value, one per line.
field() {
	printf '%s\n' "${2-$OUT}" | sed -n "s/^$1: //p" | head -n 1
}

fields() {
	printf '%s\n' "${2-$OUT}" | sed -n "s/^$1: //p"
}

# json_get EXPR [TEXT]: evaluates a Python expression on d = the JSON of
# TEXT (default $OUT); prints strings bare, anything else as JSON.
# Fails the test when TEXT is not one JSON object.
json_get() {
	printf '%s' "${2-$OUT}" | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
v = eval(sys.argv[1], {"d": d})
print(v if isinstance(v, str) else json.dumps(v))' "$1" || fail "not JSON, or no $1"
}

# ---------------------------------------------------------------------------
# Observing the world

# nginx_count HOST [PATH]: requests nginx served for Host HOST (e.g.
# mta-sts.good.test) since the mark, optionally only for PATH.
nginx_count() {
	world_log_since "$WORLD/nginx/access.log" |
		awk -v h="$1" -v p="${2:-}" '$2 == h && (p == "" || $5 == p) { n++ } END { print n + 0 }'
}

# nginx_sni HOST: the SNI names sent in the requests for HOST since the mark.
nginx_sni() {
	world_log_since "$WORLD/nginx/access.log" | awk -v h="$1" '$2 == h { print $3 }'
}

# dns_count NAME [TYPE]: queries dnsmasq received for NAME since the mark.
dns_count() {
	world_log_since "$WORLD/dns.log" |
		grep -cE " query\\[${2:-[A-Z]+}\\] $(printf '%s' "$1" | sed 's/\./\\./g') from " || true
}

# stall_count DOMAIN: connections to the stall/drip server of DOMAIN.
stall_count() {
	world_log_since "$WORLD/stall/$1.jsonl" | grep -c '"event": "connect"' || true
}

# smtp_log MXHOST: the receiver's JSON lines since the mark.
smtp_log() { world_log_since "$WORLD/smtp/$1.jsonl"; }

# smtp_count MXHOST EVENT: connect, starttls, tls-failed, message, ...
smtp_count() {
	smtp_log "$1" | grep -c "\"event\": \"$2\"" || true
}

# ---------------------------------------------------------------------------
# Changing the world (DNS data lives in $WORLD/dns/dyn/*.conf fragments that
# dnsmasq reads at start; it does not re-read txt-record on SIGHUP, so every
# change restarts it: about 20 ms). Only names that are not in the static
# configuration may be changed: switch.test and any new name.

_dyn() { echo "$WORLD/dns/dyn/$1@$2.conf"; }

# world_dns_set_txt NAME [RECORD...]: NAME gets exactly these TXT records,
# one per argument (none: no TXT record). Restarts dnsmasq unless
# WORLD_DNS_DEFER=1.
world_dns_set_txt() {
	local name=$1 r f
	shift
	f=$(_dyn txt "$name")
	rm -f "$f" "$(_dyn fail "$name")"
	for r in "$@"; do
		printf 'txt-record=%s,"%s"\n' "$name" "$r" >> "$f"
	done
	_world_dns_changed
}

# world_dns_set_txt_strings NAME STRING...: one TXT record made of several
# character-strings (to be joined without spaces, RFC 8461 3.1).
world_dns_set_txt_strings() {
	local name=$1 s list=""
	shift
	for s in "$@"; do list="$list,\"$s\""; done
	rm -f "$(_dyn fail "$name")"
	printf 'txt-record=%s%s\n' "$name" "$list" > "$(_dyn txt "$name")"
	_world_dns_changed
}

# world_dns_set_host NAME [ADDR]: the A record of NAME (none: removed).
world_dns_set_host() {
	local f
	f=$(_dyn host "$1")
	rm -f "$f"
	[ -z "${2:-}" ] || printf 'host-record=%s,%s\n' "$1" "$2" > "$f"
	_world_dns_changed
}

# world_dns_set_mx NAME [PREF:HOST...]: NAME gets exactly these MX records
# (none: removed), e.g. world_dns_set_mx two.test 10:mx1.good.test.
# Only names outside the static configuration (see up) may be given.
world_dns_set_mx() {
	local name=$1 r f
	shift
	f=$(_dyn mx "$name")
	rm -f "$f"
	for r in "$@"; do
		printf 'mx-host=%s,%s,%s\n' "$name" "${r#*:}" "${r%%:*}" >> "$f"
	done
	_world_dns_changed
}

# world_dns_fail NAME servfail|refused|drop|off: every query for NAME (and
# below) fails that way; it replaces NAME's TXT records. "off" undoes it.
world_dns_fail() {
	local f addr
	f=$(_dyn fail "$1")
	rm -f "$f" "$(_dyn txt "$1")"
	case $2 in
	servfail) addr=$WORLD_DNS_SERVFAIL ;;
	refused) addr=$WORLD_DNS_REFUSED ;;
	drop) addr=$WORLD_DNS_DROP ;;
	off) addr= ;;
	*) fail "world_dns_fail: unknown mode $2" ;;
	esac
	[ -z "$addr" ] || printf 'server=/%s/%s\n' "$1" "$addr" > "$f"
	_world_dns_changed
}

_world_dns_changed() {
	[ "${WORLD_DNS_DEFER:-0}" = 1 ] || world_dns_reload
}

_pid_alive() {
	# A zombie (exited, not yet reaped by the namespace's init) is gone.
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

world_dns_stop() {
	local pid i
	pid=$(cat "$WORLD/pids/dnsmasq.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 200; i++)); do
		_pid_alive "$pid" || return 0
		sleep 0.01
	done
	kill -9 "$pid" 2>/dev/null || true
}

world_dns_start() {
	local i
	dnsmasq -C "$WORLD/dns/dnsmasq.conf" || return 1
	for ((i = 0; i < 150; i++)); do
		[ "$(dig +short +time=1 +tries=1 @"$WORLD_DNS" ready.world.test TXT 2>/dev/null)" = '"ok"' ] &&
			return 0
		sleep 0.02
	done
	echo "world: dnsmasq does not answer" >&2
	return 1
}

# world_dns_reload: restarts dnsmasq with the current fragments and waits
# until it answers again.
world_dns_reload() {
	world_dns_stop
	world_dns_start || fail "dnsmasq did not come back"
}

# world_policy_set DOMAIN: the policy file served for mta-sts.DOMAIN is
# replaced by standard input (atomically; nginx serves each request from
# the file as it is). world_policy_remove DOMAIN: 404 from now on.
world_policy_set() {
	local f="$WORLD/www/mta-sts.$1/.well-known/mta-sts.txt"
	mkdir -p "${f%/*}"
	cat > "$f.tmp"
	mv -f "$f.tmp" "$f"
}

world_policy_remove() {
	rm -f "$WORLD/www/mta-sts.$1/.well-known/mta-sts.txt"
}

# switch.test: the mutable domain. Default: TXT "v=STSv1; id=1", policy
# host on 127.0.1.27 serving enforce / mx1.good.test / max_age 86400.
world_switch_policy_default() {
	printf 'version: STSv1\nmode: enforce\nmx: mx1.good.test\nmax_age: 86400\n'
}

world_switch_dns_default() {
	rm -f "$WORLD"/dns/dyn/*@*switch.test.conf
	printf 'txt-record=_mta-sts.switch.test,"v=STSv1; id=1"\n' > "$(_dyn txt _mta-sts.switch.test)"
	printf 'host-record=mta-sts.switch.test,127.0.1.27\n' > "$(_dyn host mta-sts.switch.test)"
}

# world_switch_reset: switch.test back to its default, DNS and policy.
world_switch_reset() {
	world_switch_policy_default | world_policy_set switch.test
	world_switch_dns_default
	world_dns_reload
}
