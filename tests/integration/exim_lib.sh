# shellcheck shell=bash
# exim_lib.sh - Exim 4 as an SMTP client in the integration tests
#
# SYNOPSIS
#	. "$(dirname "$0")/../world/lib.sh"
#	. "$(dirname "$0")/relay_lib.sh"
#	. "$(dirname "$0")/exim_lib.sh"
#	relay_env
#	exim_setup [--tfo on|off] [--interface ADDR|none] [--chunking on|off]
#		[--route HOSTS] [--port N] [--reexec]
#	exim_send [--no-shim|--wrap] [--strace FILE] [--queue-only] [--verbose] \
#		[--subject S] [--body-file F] FROM RCPT...
#	exim_runq [--no-shim|--wrap] [--strace FILE] [-- -qqff]  # exim -qff
#	exim_run [--no-shim|--wrap] [--strace FILE] -- EXIM-ARGS...
#	exim_queue          # the queue listing (exim -bp); empty when empty
#	exim_queue_count    # how many messages are queued (exim -bpc)
#	exim_log            # Exim's main log
#	exim_cmd ARGS...    # any other exim4 command, with this instance's -C
#
# DESCRIPTION
#	Runs the Debian Exim 4 that scripts/install-deps unpacks (not
#	installs: its package conflicts with Postfix) under
#	$EXIM_ROOT (default /var/lib/mtasts-test/exim4) as a pure client: no
#	daemon, a private configuration, spool and log per instance, one
#	dnslookup router (MX records from the world's DNS) and one smtp
#	transport to port 25.
#
#	The binary looks up the compiled-in user "Debian-exim" before it reads
#	any configuration, and this machine has no such user. Every Exim
#	command therefore runs in a mount namespace of its own (unshare -m,
#	inside the test's), where copies of /etc/passwd and /etc/group that
#	add Debian-exim (uid $EXIM_UID) are bind-mounted over the real ones,
#	and the instance's directory $EXIM_DIR over $EXIM_NS_DIR (/srv).
#	Nothing outside that one command sees them, nothing is left behind.
#
#	Why /srv: Exim runs its smtp transport as the Exim user (root is on
#	its compiled-in never_users list), and so does the relay the shim
#	spawns from it; neither can enter $WORLD (mode 0700). The instance's
#	directory, owned by that uid where Exim or the relay writes, holds
#	everything they need: the configuration, spool and logs, and for the
#	relay a copy of the test CA, a policy cache, a report directory and
#	its log (RELAY_LOG points there after exim_setup, so relay_lib.sh's
#	assert_decision and friends read it).
#
#	exim_setup [OPTIONS] makes a fresh instance (a new call makes
#	another one, with an empty queue and no retry hints) and sets:
#	  EXIM_DIR    the instance's directory (outside the namespace)
#	  EXIM_CONF   its configuration file
#	  RELAY_LOG   $EXIM_DIR/mtasts/relay.log (and relay_mark)
#	Options:
#	  --tfo on|off      hosts_try_fastopen = * (Exim 4.96's default: TCP
#	                    Fast Open, i.e. sendto(MSG_FASTOPEN) and no
#	                    connect()) or ":" (none: a plain connect()).
#	                    Default on. "on" also enables TFO in the network
#	                    namespace (net.ipv4.tcp_fastopen=3); the old value
#	                    is restored when the test exits.
#	  --interface ADDR  the smtp transport binds its sockets to ADDR
#	                    before connecting (default 127.0.4.1, this area's
#	                    address block; "none" for no bind).
#	  --chunking on|off hosts_try_chunking (BDAT); default on (Exim's
#	                    default; the world's receivers offer CHUNKING only
#	                    when started with --chunking).
#	  --route HOSTS     a manualroute router (route_list = * HOSTS, e.g.
#	                    "127.0.5.1" or "mx1.good.test") instead of the
#	                    dnslookup router: every message goes there. The
#	                    shim then learns no domain from MX look-ups: give
#	                    one with MTASTS_DOMAIN.
#	  --port N          the smtp transport's port (default 25; the shim
#	                    intercepts only MTASTS_PORTS, default 25).
#	  --reexec          Exim's default privilege model instead of
#	                    deliver_drop_privilege = true (see below).
#
#	Privileges and LD_PRELOAD. By default Exim, called by root with -C,
#	drops to the Exim user after receiving a message and re-executes
#	itself (exim -Mc ID, set-user-ID root) to deliver it. That exec is a
#	secure execution (AT_SECURE: real uid Debian-exim, effective uid 0):
#	the dynamic linker ignores LD_PRELOAD and the delivery runs WITHOUT
#	the shim (t_exim_reexec.sh shows it). exim_setup therefore sets
#	deliver_drop_privilege = true: no re-exec, the delivery process is a
#	fork of the one the shim was loaded into (by root: uid == euid,
#	AT_SECURE 0), then setuid to the Exim user. Exim also purges its
#	environment at start, except for keep_environment, which names
#	LD_PRELOAD, ASAN_OPTIONS, UBSAN_OPTIONS and the MTASTS_* variables:
#	the relay inherits them from the transport process.
#	One exec remains: to send further messages down an open connection,
#	the transport execs "exim -MC ..." (set-user-ID, from the Exim user:
#	AT_SECURE, no shim) with the connection on fd 0; that process then
#	sees the fd as the kernel does: the loopback TCP socket the shim
#	gives the application (shim/loopback.c; on the AF_UNIX socketpair
#	of old, Exim 4.96 crashed there). t_exim_multi.sh covers it.
#
#	exim_send [OPTIONS] FROM RCPT... submits one message from the
#	command line and delivers it in the foreground (-odf): when it
#	returns, the delivery attempt is over (delivered, deferred and
#	queued, or bounced). The exit status is Exim's, 0 also when the
#	delivery was deferred: look at exim_queue and exim_log. Options:
#	  --no-shim        without libmtasts.so (the control)
#	  --wrap           through scripts/mtasts-wrap (as an operator runs
#	                   it) instead of setting LD_PRELOAD here
#	  --strace FILE    under strace -f -e trace=connect,sendto,sendmsg,execve
#	  --queue-only     -odq instead of -odf: queued, not delivered (for
#	                   exim_runq)
#	  --verbose        exim -v: the SMTP dialogue and, with Fast Open,
#	                   Exim's " TFO mode ..." lines, on stdout/stderr
#	  --subject S      the Subject (default "exim test")
#	  --body-file F    the message (headers and body) comes from F
#	Under the shim: LD_PRELOAD=$BUILD/libmtasts.so (with the sanitizer
#	runtimes first for a SAN=1 build, as via_shim does), MTASTS_RELAY=$RELAY
#	and MTASTS_CA_FILE, _CACHE_DIR, _REPORT_DIR and _LOG in the instance;
#	every other MTASTS_* of the caller (DNS servers, time-out, log level,
#	EHLO name, domain) passes unchanged. Sets nothing itself: use
#	`run exim_send ...`.
#
#	exim_runq: a queue run (exim -qff) with the same --no-shim, --wrap and
#	--strace options; exim_run: any exim4 command line with them.
#
#	exim_queue, exim_queue_count, exim_log, exim_panic_log and exim_cmd
#	ARGS (any exim4 command with this instance's configuration, without
#	the shim) look at the instance.
#
#	strace_port25_pids FILE: the pids that made a connect(), sendto() or
#	sendmsg() to a port-25 address in FILE. strace_relay_pids FILE: the
#	pids that exec'd mtasts-relay. strace_tfo_count FILE: how many
#	sendto()/sendmsg() calls used MSG_FASTOPEN.
#
#	exim_lib.sh sets an EXIT trap (exim_cleanup: the sysctl, and
#	relay_lib.sh's fake_stop when loaded); a test that needs its own
#	trap calls exim_cleanup from it.
#
# ENVIRONMENT
#	EXIM_ROOT   where Exim is unpacked (default /var/lib/mtasts-test/exim4)

EXIM_ROOT=${EXIM_ROOT:-/var/lib/mtasts-test/exim4}
EXIM_BIN=$EXIM_ROOT/usr/sbin/exim4
EXIM_UID=64990             # Debian-exim in the private passwd copy
EXIM_NS_DIR=/srv           # where an instance appears inside _exim_ns
_EXIM_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_EXIM_SYSCTL_OLD=

# exim_ready: Exim is unpacked, unshare can make a mount namespace, and the
# shim is not a sanitizer build: Exim 4.96 deadlocks (a futex, right after
# its first log write) with the ASan runtime preloaded, shim or no shim.
exim_ready() {
	[ -x "$EXIM_BIN" ] || skip "Exim is not unpacked at $EXIM_ROOT (scripts/install-deps)"
	command -v unshare >/dev/null || skip "unshare is missing"
	# grep without -q reads all of ldd's output: with pipefail, an early
	# exit could kill ldd by SIGPIPE and fail the test instead of skipping.
	if ldd "$BUILD/libmtasts.so" 2>/dev/null | grep 'libasan' >/dev/null; then
		skip "a sanitizer build: Exim hangs with the ASan runtime preloaded, even without the shim"
	fi
}

# The passwd and group copies with Debian-exim, made once per test.
_exim_ids() {
	local d=$TEST_TMP/exim-ids
	[ -f "$d/passwd" ] && return 0
	mkdir -p "$d"
	cp /etc/passwd "$d/passwd"
	cp /etc/group "$d/group"
	grep -q '^Debian-exim:' "$d/group" || echo "Debian-exim:x:$EXIM_UID:" >> "$d/group"
	grep -q '^Debian-exim:' "$d/passwd" ||
		echo "Debian-exim:x:$EXIM_UID:$EXIM_UID:Exim (tests):/nonexistent:/usr/sbin/nologin" >> "$d/passwd"
}

# _exim_ns CMD...: CMD in a private mount namespace that has Debian-exim
# and the current instance's directory at $EXIM_NS_DIR.
_exim_ns() {
	_exim_ids
	# shellcheck disable=SC2016 # expanded by the inner sh
	unshare --mount --propagation private -- /bin/sh -c '
		mount --bind "$1/passwd" /etc/passwd &&
		mount --bind "$1/group" /etc/group &&
		mount --bind "$2" "$3" || exit 71
		shift 3
		exec "$@"' exim-ns "$TEST_TMP/exim-ids" "$EXIM_DIR" "$EXIM_NS_DIR" "$@"
}

# exim_setup [--tfo on|off] [--interface ADDR|none] [--chunking on|off]
#	[--route HOSTS] [--port N] [--reexec]
exim_setup() {
	local tfo=on iface=127.0.4.1 chunking=on drop=true route='' port=25 d
	while [ $# -gt 0 ]; do
		case $1 in
		--tfo) tfo=$2; shift 2 ;;
		--interface) iface=$2; shift 2 ;;
		--chunking) chunking=$2; shift 2 ;;
		--route) route=$2; shift 2 ;;
		--port) port=$2; shift 2 ;;
		--reexec) drop=false; shift ;;
		*) fail "exim_setup: unknown option $1" ;;
		esac
	done
	exim_ready
	EXIM_DIR=$(mktemp -d "$TEST_TMP/exim.XXXXXX")
	EXIM_CONF=$EXIM_DIR/exim4.conf
	d=$EXIM_NS_DIR
	chmod 0755 "$EXIM_DIR"
	mkdir -p "$EXIM_DIR/spool" "$EXIM_DIR/log" "$EXIM_DIR/mtasts/cache" \
		"$EXIM_DIR/mtasts/reports"
	chmod 0700 "$EXIM_DIR/mtasts/cache"
	cp "${MTASTS_CA_FILE:-$WORLD/ca/ca.pem}" "$EXIM_DIR/mtasts/ca.pem"
	: > "$EXIM_DIR/mtasts/relay.log"
	chown -R "$EXIM_UID:$EXIM_UID" "$EXIM_DIR/spool" "$EXIM_DIR/log" "$EXIM_DIR/mtasts"
	# The relay's decision lines now come from this instance's log.
	# shellcheck disable=SC2034 # read by relay_lib.sh
	RELAY_LOG=$EXIM_DIR/mtasts/relay.log
	if declare -F relay_mark >/dev/null; then relay_mark; fi
	if [ "$tfo" = on ]; then _exim_tfo_enable; fi
	{
		echo "# exim_lib.sh: Exim as a client of the test world"
		echo "primary_hostname = sender.world.test"
		echo "qualify_domain = sender.world.test"
		echo "spool_directory = $d/spool"
		echo "log_file_path = $d/log/%slog"
		echo "log_selector = +all -arguments"
		echo "exim_path = $EXIM_BIN"
		echo "deliver_drop_privilege = $drop"
		echo "keep_environment = LD_PRELOAD : ASAN_OPTIONS : UBSAN_OPTIONS : ^MTASTS_"
		echo "disable_ipv6 = true"
		echo "dns_ipv4_lookup = *"
		# Which addresses are "this host" (an MX pointing here is an
		# error): only our own, not the whole 127/8 of the world.
		echo "local_interfaces = 127.0.4.1"
		echo "begin routers"
		if [ -n "$route" ]; then
			echo "smarthost:"
			echo "  driver = manualroute"
			echo "  route_list = * $route"
		else
			echo "dnslookup:"
			echo "  driver = dnslookup"
		fi
		echo "  transport = remote_smtp"
		echo "  no_more"
		echo "begin transports"
		echo "remote_smtp:"
		echo "  driver = smtp"
		if [ "$tfo" = on ]; then
			echo "  hosts_try_fastopen = *"
		else
			echo "  hosts_try_fastopen = :"
		fi
		if [ "$chunking" = on ]; then
			echo "  hosts_try_chunking = *"
		else
			echo "  hosts_try_chunking = :"
		fi
		[ "$iface" = none ] || echo "  interface = $iface"
		echo "  port = $port"
		echo "  connect_timeout = 10s"
		echo "  command_timeout = 15s"
		echo "begin retry"
		echo "*  *  F,1h,10m"
	} > "$EXIM_CONF"
	chmod 0644 "$EXIM_CONF"
	_exim_ns "$EXIM_BIN" -C "$d/exim4.conf" -bV > "$EXIM_DIR/bV.out" 2>&1 ||
		fail "exim -bV with $EXIM_CONF failed: $(cat "$EXIM_DIR/bV.out")"
}

# TFO for clients and servers in this network namespace (the test's own:
# tests/integration/run made it), restored when the test exits.
_exim_tfo_enable() {
	local old
	old=$(sysctl -n net.ipv4.tcp_fastopen) || fail "cannot read net.ipv4.tcp_fastopen"
	[ -n "$_EXIM_SYSCTL_OLD" ] || _EXIM_SYSCTL_OLD=$old
	sysctl -q -w net.ipv4.tcp_fastopen=3 || fail "cannot set net.ipv4.tcp_fastopen"
}

exim_cleanup() {
	if [ -n "$_EXIM_SYSCTL_OLD" ]; then
		sysctl -q -w net.ipv4.tcp_fastopen="$_EXIM_SYSCTL_OLD" || true
	fi
	if declare -F fake_stop >/dev/null; then fake_stop; fi
}
trap exim_cleanup EXIT

# exim_cmd ARGS...: exim4 -C $EXIM_CONF ARGS, without the shim.
exim_cmd() {
	_exim_ns "$EXIM_BIN" -C "$EXIM_NS_DIR/exim4.conf" "$@"
}

# exim_run [--no-shim|--wrap] [--strace FILE] -- EXIM-ARGS...: exim4 with
# this instance's configuration, under the shim unless --no-shim.
exim_run() {
	local shim=1 trace='' wrapper='' pre rt ns=$EXIM_NS_DIR/mtasts
	local -a wrap=()
	while [ $# -gt 0 ]; do
		case $1 in
		--no-shim) shim=''; shift ;;
		--wrap) wrapper=1; shift ;;
		--strace) trace=$2; shift 2 ;;
		--) shift; break ;;
		*) fail "exim_run: unknown option $1" ;;
		esac
	done
	if [ -n "$trace" ]; then
		command -v strace >/dev/null || fail "exim_run --strace: strace is missing"
		wrap+=(strace -f -qq -s 64 -o "$trace" -e "trace=connect,sendto,sendmsg,execve")
	fi
	if [ -n "$shim" ] && [ -n "$wrapper" ]; then
		wrap+=(env "BUILD=$BUILD" "MTASTS_REPORT_DIR=$ns/reports"
			"$_EXIM_LIB_DIR/../../scripts/mtasts-wrap" --ca-file "$ns/ca.pem"
			--cache-dir "$ns/cache" --log "$ns/relay.log" --)
	elif [ -n "$shim" ]; then
		pre=$BUILD/libmtasts.so
		rt=$(ldd "$pre" 2>/dev/null | awk '/lib(asan|ubsan)\.so/ { print $3 }' | tr '\n' ' ')
		wrap+=(env "LD_PRELOAD=$rt$pre" "MTASTS_RELAY=$RELAY"
			"MTASTS_CA_FILE=$ns/ca.pem" "MTASTS_CACHE_DIR=$ns/cache"
			"MTASTS_REPORT_DIR=$ns/reports" "MTASTS_LOG=$ns/relay.log")
		[ -z "$rt" ] || wrap+=(ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0)
	fi
	_exim_ns timeout 60 "${wrap[@]}" "$EXIM_BIN" -C "$EXIM_NS_DIR/exim4.conf" "$@"
}

# exim_send [--no-shim|--wrap] [--strace FILE] [--queue-only] [--subject S]
#	[--body-file F] FROM RCPT...
exim_send() {
	local subject="exim test" body='' from mode=-odf
	local -a opts=() verbose=()
	while [ $# -gt 0 ]; do
		case $1 in
		--no-shim|--wrap) opts+=("$1"); shift ;;
		--strace) opts+=("$1" "$2"); shift 2 ;;
		--queue-only) mode=-odq; shift ;;
		--verbose) verbose=(-v); shift ;;
		--subject) subject=$2; shift 2 ;;
		--body-file) body=$2; shift 2 ;;
		--) shift; break ;;
		-*) fail "exim_send: unknown option $1" ;;
		*) break ;;
		esac
	done
	[ $# -ge 2 ] || fail "exim_send: FROM and at least one RCPT needed"
	from=$1
	shift
	if [ -z "$body" ]; then
		body=$EXIM_DIR/msg.$RANDOM
		printf 'From: %s\nTo: %s\nSubject: %s\n\nA message from Exim.\n' \
			"$from" "$*" "$subject" > "$body"
	fi
	exim_run "${opts[@]}" -- "${verbose[@]}" "$mode" -oi -f "$from" -- "$@" < "$body"
}

# exim_runq [--no-shim|--wrap] [--strace FILE] [-- QUEUE-OPTION]: one
# queue run in the foreground, as root, like the queue runner of an Exim
# daemon; by default -qff (every message, frozen or not, retry times
# ignored); -qqff routes everything first and then delivers, sending
# messages for one host down one connection (exim -MC).
exim_runq() {
	local -a opts=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		case $1 in
		--strace) opts+=("$1" "$2"); shift 2 ;;
		*) opts+=("$1"); shift ;;
		esac
	done
	[ "${1:-}" = -- ] && shift
	exim_run "${opts[@]}" -- "${1:--qff}"
}

# exim_queue: the queue listing, empty when the queue is empty.
exim_queue() { exim_cmd -bp; }

# exim_queue_count: the number of messages in the queue.
exim_queue_count() { exim_cmd -bpc; }

# exim_log: the main log of this instance.
exim_log() { cat "$EXIM_DIR/log/mainlog" 2>/dev/null || true; }

# exim_panic_log: Exim's panic log (empty when all is well).
exim_panic_log() { cat "$EXIM_DIR/log/paniclog" 2>/dev/null || true; }

# strace_port25_pids FILE: pids that connected or sent to port 25.
strace_port25_pids() {
	{ grep -E '(connect|sendto|sendmsg)\(.*sin6?_port=htons\(25\)' "$1" || true; } |
		awk '{ print $1 }' | sort -u
}

# strace_relay_pids FILE: pids that exec'd mtasts-relay.
strace_relay_pids() {
	{ grep -E 'execve\("[^"]*/mtasts-relay"' "$1" || true; } | awk '{ print $1 }' | sort -u
}

# strace_tfo_count FILE: sendto()/sendmsg() calls with MSG_FASTOPEN.
strace_tfo_count() {
	grep -cE '(sendto|sendmsg)\(.*MSG_FASTOPEN' "$1" || true
}
