# shellcheck shell=bash
# postfix_lib.sh - Debian's Postfix 3.7 as a real MTA in the integration tests
#
# SYNOPSIS
#	. "$(dirname "$0")/../world/lib.sh"
#	. "$(dirname "$0")/relay_lib.sh"
#	. "$(dirname "$0")/postfix_lib.sh"
#	relay_env
#	postfix_start [--no-shim] [NAME=VALUE...]   # main.cf overrides
#	postfix_send [--subject S] FROM RCPT...    # SMTP to its smtpd
#	postfix_wait_queue_empty 20 || fail "not delivered"
#	postfix_wait_deferred 20 || fail "not deferred"
#	postfix_wait_gone 20 "$qid"  # that message left the queue
#	postfix_queue            # postqueue -p (the listing)
#	postfix_queue_count      # messages in the queue (any state)
#	postfix_log              # Postfix's own log (maillog_file)
#	postfix_cmd postqueue -f # any Postfix command, on this instance
#	postfix_stop             # also done by the EXIT trap
#
#	Sourcing installs an EXIT trap (postfix_stop, and relay_lib.sh's
#	fake_stop); a test that sets its own EXIT trap must call postfix_stop
#	in it: the master runs in a session of its own and would outlive the
#	test (until the end of the run), keeping $POSTFIX_ADDR:25.
#
# DESCRIPTION
#	Runs the installed Postfix (/usr/sbin/postfix, daemons in
#	/usr/lib/postfix/sbin; the package is installed but not running)
#	inside the test's network namespace as a complete, private instance:
#	its own configuration directory, queue, data directory and log under
#	$TEST_TMP/postfixN. Nothing of /etc/postfix or /var/spool/postfix is
#	read or written (meta_directory, the list of Postfix's own files, is
#	only read). Only the Postfix package's user "postfix" and group
#	"postdrop" are shared with the host.
#
#	The instance is a null client that relays everything by MX look-up:
#	  smtpd        listens on $POSTFIX_ADDR:25 only (default 127.0.3.1,
#	               this area's address block; set POSTFIX_ADDR before
#	               postfix_start to use one of yours), and accepts mail
#	               from 127/8 for any domain (mynetworks, no local
#	               delivery). Postfix binds only to addresses an
#	               interface lists, so postfix_start adds
#	               $POSTFIX_ADDR/32 to lo (the namespace's own) and
#	               postfix_stop removes it again;
#	  smtp         looks up MX records through the libc resolver
#	               (res_nsearch, reading the world's /etc/resolv.conf:
#	               no chroot anywhere in master.cf), binds its sockets
#	               to $POSTFIX_ADDR (smtp_bind_address) and speaks
#	               plaintext (smtp_tls_security_level = none: the relay
#	               does the TLS, Postfix must not need to);
#	  retries      short (queue_run_delay, minimal_backoff_time 1 s) so
#	               that a deferred message is seen as such at once.
#
#	Under the shim (the default), main.cf's import_environment carries
#	LD_PRELOAD (libmtasts.so, and the sanitizer runtimes of a sanitizer
#	build), MTASTS_RELAY and every MTASTS_* variable of the caller's
#	environment, with their values, to the master, which passes them to
#	every daemon it starts: the dynamic linker then preloads the library
#	into each of them at exec. Only the smtp client connects to port 25;
#	the other daemons carry the library without using it. (Setting
#	LD_PRELOAD with -o import_environment on the smtp service alone in
#	master.cf does NOT work: the daemon applies its import_environment
#	after it was started, too late for the dynamic linker.)
#
#	The daemons run as the unprivileged user "postfix", and so does
#	every relay the shim spawns from the smtp client. The relay must
#	therefore reach its cache directory, its log file and the CA file as
#	that user: postfix_start makes MTASTS_CACHE_DIR a fresh directory
#	owned by postfix ($POSTFIX_DIR/mtasts-cache), likewise
#	MTASTS_REPORT_DIR (if set), makes the MTASTS_LOG file (if a path)
#	writable by it, and makes the directories above $TEST_TMP
#	searchable (mode 0711: no listing) for the duration of the test: the
#	world's tmpfs is mode 0700. postfix_stop puts the modes back.
#
#	postfix_start [--no-shim] [NAME=VALUE...]: makes the instance and
#	starts it; each NAME=VALUE replaces that parameter's line of main.cf
#	or is added (e.g. smtp_tls_security_level=may,
#	default_destination_concurrency_limit=1, smtp_bind_address=).
#	--no-shim starts the same instance without the library (a control
#	run: Postfix then connects to the MX hosts itself). Sets
#	POSTFIX_DIR (the instance), POSTFIX_CONF (config_directory),
#	POSTFIX_QUEUE (queue_directory), POSTFIX_LOG (the maillog_file).
#	One instance per test at a time; a second postfix_start first stops
#	the running one and makes a new one next to it.
#
#	postfix_send [--subject S] [--body-file F] [--pipelining] FROM RCPT...:
#	injects one message with one SMTP transaction to smtpd on
#	$POSTFIX_ADDR:25 (Python smtplib, not under the shim), all RCPTs in
#	one envelope. Prints the queue id Postfix gave it (qid=$(postfix_send
#	...)); fails the test when Postfix refuses anything. Default subject "postfix-lib test". The message is
#	queued when this returns; delivery is asynchronous. --pipelining
#	sends the whole envelope in one write (smtpd advertises PIPELINING).
#
#	postfix_wait_queue_empty TIMEOUT: returns 0 as soon as the queue is
#	empty (everything delivered or bounced), 1 after TIMEOUT seconds.
#	postfix_wait_deferred TIMEOUT [QID]: returns 0 as soon as a message
#	(the message QID) is in the deferred queue, 1 after TIMEOUT seconds.
#	postfix_wait_gone TIMEOUT QID: returns 0 as soon as QID has left the
#	queue (delivered, bounced or deleted: see postfix_status), 1 after
#	TIMEOUT seconds; for when other messages stay queued.
#
#	postfix_log: the instance's log (postlogd writes it: no syslog).
#	Postfix's warnings and fatal errors of the start are also echoed to
#	stderr (the test's log).
#	postfix_log_since_mark / postfix_mark: the log from the mark on.
#	postfix_status QID [RCPT]: the status= of QID's last delivery
#	attempt (to RCPT, if given): sent, deferred or bounced; postfix_dsn
#	QID [RCPT] its dsn= (2.0.0, 4.4.1, ...). Postfix splits a message's
#	recipients by destination: one delivery (and one SMTP transaction)
#	per domain, all recipients of one domain in one transaction.
#
# FILES
#	$POSTFIX_DIR/etc/{main.cf,master.cf}, $POSTFIX_DIR/spool (queue),
#	$POSTFIX_DIR/data (data_directory), $POSTFIX_DIR/maillog.
#
# SEE ALSO
#	postconf(5) import_environment, master(5), mtasts-wrap(1)
#	(section Postfix), tests/integration/t_relay_postfix.sh

POSTFIX_ADDR=${POSTFIX_ADDR:-127.0.3.1}
POSTFIX_DAEMON_DIR=/usr/lib/postfix/sbin
_POSTFIX_RUNNING=
_POSTFIX_CHMODS=()
_POSTFIX_N=0

# _postfix_make_searchable DIR: every directory from DIR up to / that is
# not searchable by others becomes 0711 until postfix_stop.
_postfix_make_searchable() {
	local d=$1 mode
	while [ -n "$d" ] && [ "$d" != / ]; do
		mode=$(stat -c %a "$d")
		if [ $((0$mode & 01)) = 0 ]; then
			_POSTFIX_CHMODS+=("$mode:$d")
			chmod o+x "$d"
		fi
		d=$(dirname "$d")
	done
}

_postfix_restore_modes() {
	local e
	for e in "${_POSTFIX_CHMODS[@]}"; do
		chmod "${e%%:*}" "${e#*:}" 2>/dev/null || true
	done
	_POSTFIX_CHMODS=()
}

# _postfix_preload: the LD_PRELOAD value via_shim would use.
_postfix_preload() {
	local pre=$BUILD/libmtasts.so rt
	rt=$(ldd "$pre" 2>/dev/null | awk '/lib(asan|ubsan)\.so/ { print $3 }' | tr '\n' ' ')
	printf '%s%s' "$rt" "$pre"
}

# _postfix_import_env: main.cf's import_environment value for the shim.
# Postfix's defaults first; values with a space go in { } (Postfix 3.0+).
_postfix_import_env() {
	local v name pre
	v="MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME"
	pre=$(_postfix_preload)
	v="$v { LD_PRELOAD=$pre }"
	case $pre in
	*asan*|*ubsan*) v="$v ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0" ;;
	esac
	v="$v MTASTS_RELAY=$RELAY"
	for name in $(compgen -e | grep '^MTASTS_' | grep -vx MTASTS_RELAY); do
		v="$v { $name=${!name} }"
	done
	printf '%s' "$v"
}

_postfix_master_cf() {
	# service type private unpriv chroot wakeup maxproc command
	cat <<'EOF'
smtp      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

_postfix_main_cf() {
	cat <<EOF
# Written by tests/integration/postfix_lib.sh: a private null-client
# instance inside the test world. Nothing here touches /etc/postfix.
compatibility_level = 3.6
config_directory = $POSTFIX_CONF
queue_directory = $POSTFIX_QUEUE
data_directory = $POSTFIX_DIR/data
daemon_directory = $POSTFIX_DAEMON_DIR
mail_owner = postfix
setgid_group = postdrop
myhostname = sender.world.test
mydomain = world.test
myorigin = \$myhostname
mydestination =
local_transport = error:no local delivery in this instance
alias_maps =
alias_database =
local_recipient_maps =
inet_interfaces = $POSTFIX_ADDR
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains =
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
smtp_bind_address = $POSTFIX_ADDR
smtp_tls_security_level = none
smtp_host_lookup = dns
smtp_dns_support_level = enabled
disable_dns_lookups = no
smtp_connect_timeout = 15s
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
delay_warning_time = 0
bounce_queue_lifetime = 1d
maximal_queue_lifetime = 1d
maillog_file = $POSTFIX_LOG
maillog_file_prefixes = $POSTFIX_DIR
biff = no
smtputf8_enable = no
EOF
}

# postfix_start [--no-shim] [NAME=VALUE...]
postfix_start() {
	local shim=1 kv
	if [ "${1:-}" = --no-shim ]; then
		shim=0
		shift
	fi
	[ -x /usr/sbin/postfix ] || skip "Postfix is not installed"
	[ -n "$_POSTFIX_RUNNING" ] && postfix_stop
	_POSTFIX_N=$((_POSTFIX_N + 1))
	POSTFIX_DIR=$TEST_TMP/postfix$_POSTFIX_N
	POSTFIX_CONF=$POSTFIX_DIR/etc
	POSTFIX_QUEUE=$POSTFIX_DIR/spool
	POSTFIX_LOG=$POSTFIX_DIR/maillog
	mkdir -p "$POSTFIX_CONF" "$POSTFIX_QUEUE" "$POSTFIX_DIR/data"
	chmod 0755 "$POSTFIX_DIR" "$POSTFIX_CONF" "$POSTFIX_QUEUE"
	chown postfix "$POSTFIX_DIR/data"
	_postfix_make_searchable "$POSTFIX_DIR"
	# Postfix binds only to addresses of an interface (getifaddrs): the
	# namespace's lo has 127.0.0.1/8, which routes but does not list
	# 127.0.3.1. Add it (/32, removed again by postfix_stop).
	if ! ip -4 addr show dev lo | grep -q " $POSTFIX_ADDR/32 "; then
		ip addr add "$POSTFIX_ADDR/32" dev lo || fail "cannot add $POSTFIX_ADDR to lo"
		_POSTFIX_ADDED_ADDR=$POSTFIX_ADDR
	fi

	if [ "$shim" = 1 ]; then
		# The relays run as user postfix: a cache and a log they may write.
		MTASTS_CACHE_DIR=$POSTFIX_DIR/mtasts-cache
		mkdir -m 0700 "$MTASTS_CACHE_DIR"
		chown postfix:postfix "$MTASTS_CACHE_DIR"
		export MTASTS_CACHE_DIR
		if [ -n "${MTASTS_REPORT_DIR:-}" ]; then
			MTASTS_REPORT_DIR=$POSTFIX_DIR/mtasts-reports
			mkdir -m 0700 "$MTASTS_REPORT_DIR"
			chown postfix:postfix "$MTASTS_REPORT_DIR"
			export MTASTS_REPORT_DIR
		fi
		if [ -n "${MTASTS_LOG:-}" ] && [ "${MTASTS_LOG#/}" != "$MTASTS_LOG" ]; then
			touch "$MTASTS_LOG"
			chown postfix "$MTASTS_LOG"
			_postfix_make_searchable "$(dirname "$MTASTS_LOG")"
		fi
		[ -z "${MTASTS_CA_FILE:-}" ] || _postfix_make_searchable "$(dirname "$MTASTS_CA_FILE")"
	fi

	{
		_postfix_main_cf
		if [ "$shim" = 1 ]; then
			echo "import_environment = $(_postfix_import_env)"
		fi
	} > "$POSTFIX_CONF/main.cf"
	# Overrides replace the line of the same name (no "overriding
	# earlier entry" warnings), or are appended.
	for kv in "$@"; do
		case $kv in
		[a-z]*=*) ;;
		*) fail "postfix_start: not NAME=VALUE: $kv" ;;
		esac
		sed -i "/^${kv%%=*} *=/d" "$POSTFIX_CONF/main.cf"
		echo "${kv%%=*} = ${kv#*=}" >> "$POSTFIX_CONF/main.cf"
	done
	_postfix_master_cf > "$POSTFIX_CONF/master.cf"

	# postfix start checks the instance and creates the queue's
	# directories (postfix-script check-fatal, post-install): about 2.5 s.
	# The postfix command reports to stderr only when that is a terminal
	# (else to syslog, which the world has not): _postfix_tty gives it one.
	_postfix_tty postfix start || { postfix_log >&2; fail "postfix start failed"; }
	_POSTFIX_RUNNING=1
	_postfix_wait_listening || { postfix_log >&2; fail "Postfix's smtpd does not answer on $POSTFIX_ADDR:25"; }
	postfix_mark
}

# _postfix_tty CMD ARGS: postfix_cmd with a pseudo-terminal as stderr
# (Postfix's commands report there only then); output to start.log and
# stderr; the command's exit status.
_postfix_tty() {
	local rc cmd=$1
	shift
	script -qec "MAIL_CONFIG=$POSTFIX_CONF $cmd -c $POSTFIX_CONF $*" /dev/null \
		< /dev/null > "$POSTFIX_DIR/tty.out" 2>&1 && rc=0 || rc=$?
	tr -d '\r' < "$POSTFIX_DIR/tty.out" | tee -a "$POSTFIX_DIR/start.log" >&2
	return $rc
}

_postfix_wait_listening() {
	local i
	for ((i = 0; i < 250; i++)); do
		python3 - "$POSTFIX_ADDR" <<'PY' 2>/dev/null && return 0
import socket, sys
s = socket.create_connection((sys.argv[1], 25), timeout=1)
ok = s.recv(512).startswith(b"220 ")
s.sendall(b"QUIT\r\n")
s.close()
sys.exit(0 if ok else 1)
PY
		sleep 0.04
	done
	return 1
}

# postfix_cmd CMD ARGS...: a Postfix command on this instance (MAIL_CONFIG;
# for postfix, postqueue, postsuper, postconf also -c).
postfix_cmd() {
	local cmd=$1
	shift
	case $cmd in
	postfix|postqueue|postsuper|postconf|postcat)
		MAIL_CONFIG=$POSTFIX_CONF "$cmd" -c "$POSTFIX_CONF" "$@" ;;
	*)
		MAIL_CONFIG=$POSTFIX_CONF "$cmd" "$@" ;;
	esac
}

# postfix_stop: stops the instance (if running) and restores the modes.
postfix_stop() {
	local pid i
	if [ -n "$_POSTFIX_RUNNING" ]; then
		pid=$(tr -d ' ' < "$POSTFIX_QUEUE/pid/master.pid" 2>/dev/null) || pid=
		postfix_cmd postfix stop >/dev/null 2>&1 || true
		# postfix stop signals the master and returns: wait for it, then
		# make sure (a daemon left behind would keep 127.0.3.1:25).
		if [ -n "$pid" ]; then
			for ((i = 0; i < 100; i++)); do
				_pid_alive "$pid" || break
				sleep 0.05
			done
			kill -9 "$pid" 2>/dev/null || true
		fi
		_POSTFIX_RUNNING=
	fi
	_postfix_restore_modes
	if [ -n "${_POSTFIX_ADDED_ADDR:-}" ]; then
		ip addr del "$_POSTFIX_ADDED_ADDR/32" dev lo 2>/dev/null || true
		_POSTFIX_ADDED_ADDR=
	fi
	return 0
}

_postfix_cleanup() {
	postfix_stop
	declare -F fake_stop >/dev/null && fake_stop
	return 0
}
trap _postfix_cleanup EXIT

# postfix_send [--subject S] [--body-file F] [--pipelining] FROM RCPT...
postfix_send() {
	local subject="postfix-lib test" body="" pipelining=0
	while [ $# -gt 0 ]; do
		case $1 in
		--subject) subject=$2; shift 2 ;;
		--body-file) body=$2; shift 2 ;;
		--pipelining) pipelining=1; shift ;;
		*) break ;;
		esac
	done
	[ $# -ge 2 ] || fail "postfix_send FROM RCPT..."
	POSTFIX_QID=$(python3 - "$POSTFIX_ADDR" "$subject" "$body" "$pipelining" "$@" <<'PY'
import re, smtplib, sys
addr, subject, body_file, pipelining, sender = sys.argv[1:6]
rcpts = sys.argv[6:]
body = open(body_file).read() if body_file else "hello from postfix_lib\r\n"
msg = "From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\n%s" % (sender, ", ".join(rcpts), subject, body)
s = smtplib.SMTP(addr, 25, local_hostname="inject.world.test", timeout=20)
s.ehlo()
if pipelining == "1":
    # The whole envelope in one write; the replies read afterwards.
    cmds = "MAIL FROM:<%s>\r\n" % sender + "".join("RCPT TO:<%s>\r\n" % r for r in rcpts)
    s.send(cmds.encode())
    for _ in range(1 + len(rcpts)):
        code, text = s.getreply()
        if code != 250:
            sys.exit("envelope refused: %d %s" % (code, text))
    code, text = s.data(msg.encode())
else:
    s.mail(sender)
    for r in rcpts:
        code, text = s.rcpt(r)
        if code != 250:
            sys.exit("RCPT %s refused: %d %s" % (r, code, text))
    code, text = s.data(msg.encode())
s.quit()
if code != 250:
    sys.exit("DATA: %d %s" % (code, text))
m = re.search(rb"queued as ([0-9A-Za-z]+)", text)
print(m.group(1).decode() if m else "")
PY
) || fail "postfix_send: Postfix did not accept the message"
	echo "postfix_send: queued as $POSTFIX_QID (to $*)" >&2
	printf '%s\n' "$POSTFIX_QID"
}

# postfix_queue_count: messages in the queue, whatever their state.
postfix_queue_count() {
	find "$POSTFIX_QUEUE"/incoming "$POSTFIX_QUEUE"/active "$POSTFIX_QUEUE"/deferred \
		"$POSTFIX_QUEUE"/hold "$POSTFIX_QUEUE"/maildrop -type f 2>/dev/null | grep -c . || true
}

# postfix_queue: the queue listing (empty output when the queue is empty).
postfix_queue() {
	postfix_cmd postqueue -p 2>&1 | grep -v '^Mail queue is empty' || true
}

# postfix_wait_queue_empty TIMEOUT
postfix_wait_queue_empty() {
	local end=$(($(date +%s%N) + $1 * 1000000000))
	while [ "$(date +%s%N)" -lt "$end" ]; do
		[ "$(postfix_queue_count)" = 0 ] && return 0
		sleep 0.1
	done
	return 1
}

# postfix_wait_deferred TIMEOUT [QID]
postfix_wait_deferred() {
	local end=$(($(date +%s%N) + $1 * 1000000000)) qid=${2:-}
	while [ "$(date +%s%N)" -lt "$end" ]; do
		if [ -n "$qid" ]; then
			[ -n "$(find "$POSTFIX_QUEUE/deferred" -type f -name "$qid" 2>/dev/null)" ] && return 0
		else
			[ -n "$(find "$POSTFIX_QUEUE/deferred" -type f 2>/dev/null)" ] && return 0
		fi
		sleep 0.1
	done
	return 1
}

# postfix_wait_gone TIMEOUT QID: returns 0 as soon as message QID has left
# the queue (delivered, bounced or deleted), 1 after TIMEOUT seconds.
postfix_wait_gone() {
	local end=$(($(date +%s%N) + $1 * 1000000000))
	while [ "$(date +%s%N)" -lt "$end" ]; do
		[ -z "$(find "$POSTFIX_QUEUE"/incoming "$POSTFIX_QUEUE"/active "$POSTFIX_QUEUE"/deferred \
			"$POSTFIX_QUEUE"/hold -type f -name "$2" 2>/dev/null)" ] && return 0
		sleep 0.1
	done
	return 1
}

postfix_log() {
	cat "$POSTFIX_LOG" 2>/dev/null || true
}

postfix_mark() {
	_POSTFIX_LOG_MARK=$(stat -c %s "$POSTFIX_LOG" 2>/dev/null || echo 0)
}

postfix_log_since_mark() {
	tail -c +$((${_POSTFIX_LOG_MARK:-0} + 1)) "$POSTFIX_LOG" 2>/dev/null || true
}

# postfix_status QID [RCPT]: the status= of QID's last delivery attempt
# (for RCPT only, if given): sent, deferred, bounced, or "" (none logged).
postfix_status() {
	_postfix_attempts "$@" | sed -n -E 's/.* status=([a-z]+).*/\1/p' | tail -n 1
}

# postfix_dsn QID [RCPT]: the dsn= of that attempt (e.g. 4.4.1).
postfix_dsn() {
	_postfix_attempts "$@" | sed -n -E 's/.* dsn=([0-9.]+).*/\1/p' | tail -n 1
}

_postfix_attempts() {
	postfix_log | grep -F " $1: to=<${2:-}" || true
}
