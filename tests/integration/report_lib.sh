# report_lib.sh - helpers for the TLSRPT integration tests (t_report_*.sh)
#
# SYNOPSIS
#	. "$(dirname "$0")/../world/lib.sh"
#	. "$(dirname "$0")/report_lib.sh"
#	report_env                     # world_env + reporter identity + helper
#	record --domain good.test --result certificate-expired --count 2
#	collector_start main 127.0.4.1 tlsrpt.report.test 200
#	tlsrpt_txt good.test "v=TLSRPTv1; rua=https://tlsrpt.report.test/v1"
#	assert_exit 0 mtasts report --date "$REPORT_DAY" --send
#
# DESCRIPTION
#	The reporter is "reporter.test". Sessions are recorded for
#	REPORT_DAY, two days ago (UTC): a finished day, so reports may be
#	sent. `record` runs tests/helpers/report_record, which calls the
#	same mts_tlsrpt_record() as the relay; when the Makefile has not
#	built it, it is compiled here against $BUILD/libmtastspolicy.a.
#
#	Addresses and names this file adds to the world (nothing else of
#	the world changes): 127.0.4.N for the test's own collectors and
#	submission relay, names under report.test, TXT records
#	_smtp._tls.<domain> and the DKIM key record. Every name set is
#	removed again when the test exits, and every server started is
#	stopped.

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
_REPORT_NAMES=()
_REPORT_PIDS=()

report_env() {
	world_env
	need_mtasts
	export MTASTS_REPORT_SUBMITTER=reporter.test
	export MTASTS_REPORT_ORG="Reporter Test Org"
	export MTASTS_REPORT_CONTACT=tlsrpt-contact@reporter.test
	export MTASTS_EHLO_NAME=sender.world.test
	unset MTASTS_REPORT_SMTP MTASTS_REPORT_SENDMAIL MTASTS_REPORT_FROM \
		MTASTS_REPORT_DKIM_KEY MTASTS_REPORT_DKIM_SELECTOR \
		MTASTS_REPORT_DKIM_DOMAIN MTASTS_REPORT_RETRY
	REPORT_DAY=$(date -u -d '2 days ago' +%F)
	REPORT_START=$(date -u -d "$REPORT_DAY 00:00:00" +%s)
	REPORT_END=$((REPORT_START + 86399))
	RECORD=$(report_helper) || fail "cannot build report_record"
	trap report_cleanup EXIT
}

# report_helper: prints the path of a report_record binary.
report_helper() {
	local bin=$BUILD/tests/helpers/report_record san=
	if [ -x "$bin" ] && [ "$bin" -nt "$ROOT_DIR/tests/helpers/report_record.c" ]; then
		echo "$bin"
		return
	fi
	bin=$TEST_TMP/report_record
	# A sanitizer build's library needs the sanitizer runtimes too.
	if ldd "$BUILD/mtasts" 2>/dev/null | grep -q libasan; then
		san="-fsanitize=address,undefined"
	fi
	# shellcheck disable=SC2046,SC2086 # word lists
	cc -std=c11 -D_GNU_SOURCE -O1 ${san:-} -o "$bin" \
		"$ROOT_DIR/tests/helpers/report_record.c" "$BUILD/libmtastspolicy.a" \
		$(pkg-config --libs libcares libcurl openssl) -lpthread >&2 || return 1
	echo "$bin"
}

# record ARGS: one or more sessions of REPORT_DAY (see report_record).
record() {
	"$RECORD" --dir "$MTASTS_REPORT_DIR" --day "$REPORT_DAY" "$@" ||
		fail "report_record $* failed"
}

# policy_file NAME MODE MX...: a policy text in $TEST_TMP/NAME.policy.
policy_file() {
	local name=$1 mode=$2 mx f
	shift 2
	f=$TEST_TMP/$name.policy
	{
		printf 'version: STSv1\nmode: %s\n' "$mode"
		for mx in "$@"; do printf 'mx: %s\n' "$mx"; done
		printf 'max_age: 86400\n'
	} > "$f"
	echo "$f"
}

# report_name NAME ADDR: an A record in the world, removed at exit.
report_name() {
	world_dns_set_host "$1" "$2"
	_REPORT_NAMES+=("host:$1")
}

# tlsrpt_txt DOMAIN [RECORD...]: the TXT records of _smtp._tls.DOMAIN.
tlsrpt_txt() {
	local d=$1
	shift
	world_dns_set_txt "_smtp._tls.$d" "$@"
	_REPORT_NAMES+=("txt:_smtp._tls.$d")
}

# world_cert NAME: a certificate of the world's CA for NAME (made once).
world_cert() {
	[ -e "$WORLD/ca/$1.pem" ] && return 0
	(
		# shellcheck source=tests/world/certs.sh
		. "$ROOT_DIR/tests/world/certs.sh"
		# shellcheck disable=SC2034 # read by the cert_* functions
		CERTS=$WORLD/ca
		cert_valid "$1" "$1"
	) || fail "cannot make a certificate for $1"
}

# wait_pidfile FILE: until a server wrote its pid file (5 s at most).
wait_pidfile() {
	local i
	for ((i = 0; i < 250; i++)); do
		[ -s "$1" ] && return 0
		sleep 0.02
	done
	fail "server did not start ($1)"
}

# collector_start ID ADDR NAME [STATUSES]: an HTTPS collector for NAME on
# ADDR:443 (statuses as tlsrpt_collector.py --status); its posts land in
# $TEST_TMP/collector-ID/.
collector_start() {
	local id=$1 addr=$2 name=$3 statuses=${4:-200}
	local dir=$TEST_TMP/collector-$id
	world_cert "$name"
	report_name "$name" "$addr"
	mkdir -p "$dir"
	python3 "$ROOT_DIR/tests/world/tlsrpt_collector.py" --addr "$addr" \
		--port 443 --cert "$WORLD/ca/$name.pem" --key "$WORLD/ca/$name.key" \
		--dir "$dir" --status "$statuses" --pid-file "$dir/pid" \
		2>>"$dir/stderr" &
	_REPORT_PIDS+=("$!")
	wait_pidfile "$dir/pid"
}

# collector_count ID: POSTs the collector got.
collector_count() {
	local f=$TEST_TMP/collector-$1/posts.jsonl
	[ -e "$f" ] || { echo 0; return; }
	wc -l < "$f" | tr -d ' '
}

# collector_post ID N FIELD: a field of the Nth POST's JSON line.
collector_post() {
	sed -n "${2}p" "$TEST_TMP/collector-$1/posts.jsonl" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$3"
}

# submit_start ADDR NAME: an SMTP receiver (the world's smtp_receiver.py)
# as the submission relay, with STARTTLS; log $TEST_TMP/submit.jsonl.
submit_start() {
	local addr=$1 name=$2
	world_cert "$name"
	report_name "$name" "$addr"
	mkdir -p "$TEST_TMP/submit-data"
	python3 "$ROOT_DIR/tests/world/smtp_receiver.py" --addr "$addr" --port 25 \
		--hostname "$name" --cert "$WORLD/ca/$name.pem" \
		--key "$WORLD/ca/$name.key" --log "$TEST_TMP/submit.jsonl" \
		--data-dir "$TEST_TMP/submit-data" --pid-file "$TEST_TMP/submit.pid" \
		2>>"$TEST_TMP/submit.err" &
	_REPORT_PIDS+=("$!")
	wait_pidfile "$TEST_TMP/submit.pid"
}

# out_file DOMAIN: the report file kept for DOMAIN and REPORT_DAY.
out_file() {
	local f
	for f in "$MTASTS_REPORT_DIR/out/reporter.test!$1!$REPORT_START!$REPORT_END!"*.json.gz; do
		[ -e "$f" ] || fail "no report file for $1"
		echo "$f"
		return
	done
}

# state_field DOMAIN KEY: a line of the report's state file.
state_field() {
	sed -n "s/^$2 //p" "$MTASTS_REPORT_DIR/state/$REPORT_DAY!$1"
}

report_cleanup() {
	local p n
	for p in "${_REPORT_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	export WORLD_DNS_DEFER=1
	for n in "${_REPORT_NAMES[@]}"; do
		case $n in
		host:*) world_dns_set_host "${n#host:}" ;;
		txt:*) world_dns_set_txt "${n#txt:}" ;;
		fail:*) world_dns_fail "${n#fail:}" off ;;
		esac
	done
	export WORLD_DNS_DEFER=0
	[ "${#_REPORT_NAMES[@]}" -eq 0 ] || world_dns_reload
}
