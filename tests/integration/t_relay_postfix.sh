#!/bin/bash
# Postfix 3.7, unmodified, under libmtasts.so (import_environment, no
# chroot; see postfix_lib.sh and mtasts-wrap(1)), delivering by its own MX
# look-up (res_nsearch: the shim learns domain -> MX -> address from it).
#
# 1. u@rogue.test: MX 10 rogue.good.test (not in the enforce policy),
#    MX 20 mx1.good.test (listed). The relay refuses the rogue MX before
#    any byte (the rogue receiver logs not even a TCP connection), Postfix
#    takes the refusal for an unreachable host, tries the next MX and
#    delivers through mx1.good.test over verified TLS (SNI mx1.good.test),
#    from its smtp_bind_address (the relay used Postfix's own socket).
# 2. u@smtp-wrongname.test: its only MX has a certificate for another
#    name: refused, Postfix defers, the message stays in the queue over
#    retries, and the receiver gets no message.
# 3. Connection caching (smtp_connection_cache_destinations): Postfix
#    parks the relayed connection in its scache process (the socket's fd
#    is passed to it and back) and reuses it: 4 messages to good.test,
#    one after the other, over ONE connection and one relay decision.
# 4. The control: a second instance, configured alike but without the
#    shim, delivers to the rogue MX (pref 10) in plaintext, so the
#    assertions of 1 can fail.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/postfix_lib.sh"
relay_env
shim_ready || skip "$BUILD/libmtasts.so is not built"
command -v postfix >/dev/null || skip "Postfix is not installed"
export MTASTS_LOG_LEVEL=info

# decisions: the relay's decision lines since the mark.
decisions() {
	relay_log_since | grep ' decision ' || true
}

# --- 1. rogue.test: the rogue MX refused, delivered through mx1 --------
postfix_start smtp_connection_cache_destinations=good.test \
	default_destination_concurrency_limit=1
qid=$(postfix_send --subject pf-rogue s@sender.test u@rogue.test)
postfix_wait_queue_empty 30 || { postfix_log >&2; fail "rogue.test: the queue did not empty"; }
assert_eq "$(postfix_status "$qid")" sent "Postfix status of $qid"
assert_match "$(postfix_log)" " $qid: to=<u@rogue.test>, relay=mx1\\.good\\.test\\[127\\.0\\.2\\.1\\]:25, .*dsn=2\\.0\\.0, status=sent" \
	"Postfix log (relay=mx1)"
assert_contains "$(postfix_log)" "connect to rogue.good.test[127.0.2.3]:25: Connection refused" \
	"Postfix log (the rogue MX unreachable for Postfix)"
assert_untouched rogue.good.test
assert_delivered mx1.good.test pf-rogue true mx1.good.test
msg=$(smtp_message mx1.good.test)
assert_eq "$(json_get 'd["rcpt"]' "$msg")" '["u@rogue.test"]' "rcpt at mx1"
assert_eq "$(json_get 'd["peer"].split(":")[0]' "$msg")" "$POSTFIX_ADDR" \
	"peer at mx1 (Postfix's smtp_bind_address)"
assert_eq "$(json_get 'd["helo"]' "$msg")" sender.world.test "helo at mx1"
# The decisions: first the rogue MX refused (no TLS: no byte sent), then mx1.
d=$(decisions)
assert_eq "$(printf '%s\n' "$d" | grep -c .)" 2 "decision lines"
first=$(printf '%s\n' "$d" | sed -n 1p)
second=$(printf '%s\n' "$d" | sed -n 2p)
for kv_want in domain=rogue.test mx=rogue.good.test ip=127.0.2.3 policy=enforce tls=none \
	verdict=refuse reason=validation-failure detail=mx-not-listed; do
	assert_eq "$(kv "${kv_want%%=*}" "$first")" "${kv_want#*=}" "first decision ${kv_want%%=*}"
done
for kv_want in domain=rogue.test mx=mx1.good.test ip=127.0.2.1 policy=enforce tls=verified \
	verdict=allow; do
	assert_eq "$(kv "${kv_want%%=*}" "$second")" "${kv_want#*=}" "second decision ${kv_want%%=*}"
done
# The relays ran as Postfix's unprivileged user and cached the policy there.
assert_eq "$(stat -c %U "$MTASTS_CACHE_DIR")" postfix "owner of the cache"
[ -n "$(ls -A "$MTASTS_CACHE_DIR")" ] || fail "the relay cached nothing in $MTASTS_CACHE_DIR"

# --- 2. smtp-wrongname.test: deferred, stays queued ----------------------
relay_mark
postfix_mark
qid=$(postfix_send --subject pf-wrongname s@sender.test u@smtp-wrongname.test)
postfix_wait_deferred 30 "$qid" || { postfix_log >&2; fail "smtp-wrongname.test: not deferred"; }
assert_eq "$(postfix_status "$qid")" deferred "Postfix status of $qid"
assert_match "$(postfix_log_since_mark)" \
	" $qid: to=<u@smtp-wrongname.test>, relay=none, .*dsn=4\\.4\\.1, status=deferred \\(connect to mx\\.smtp-wrongname\\.test\\[127\\.0\\.2\\.4\\]:25: Connection refused\\)" \
	"Postfix log (deferred)"
assert_decision domain=smtp-wrongname.test mx=mx.smtp-wrongname.test policy=enforce \
	verdict=refuse reason=certificate-host-mismatch
# A retry (queue_run_delay 1 s) is refused again; the message stays.
for ((i = 0; i < 100; i++)); do
	[ "$(decisions | grep -c 'verdict=refuse')" -ge 2 ] && break
	sleep 0.1
done
assert_le 2 "$(decisions | grep -c 'verdict=refuse')" "refusals (first attempt and a retry)"
assert_eq "$(decisions | grep -vc 'verdict=refuse' || true)" 0 "decisions other than refuse"
assert_eq "$(postfix_queue_count)" 1 "messages in Postfix's queue"
assert_contains "$(postfix_queue)" "$qid" "postqueue -p"
assert_contains "$(postfix_queue)" "u@smtp-wrongname.test" "postqueue -p"
assert_eq "$(smtp_count mx.smtp-wrongname.test message)" 0 "messages at mx.smtp-wrongname.test"
assert_eq "$(smtp_count mx1.good.test connect)" 0 "connections to mx1 (no other MX)"
# Out of the way: its retries would add decisions below.
postfix_cmd postsuper -d "$qid" >&2
postfix_wait_queue_empty 10 || fail "postsuper -d $qid did not empty the queue"

# --- 3. connection caching: 4 messages, one relayed connection -----------
relay_mark
postfix_mark
for i in 1 2 3 4; do
	qid=$(postfix_send --subject "pf-cache$i" s@sender.test "u$i@good.test")
	postfix_wait_gone 20 "$qid" || { postfix_log >&2; fail "good.test: message $i not delivered"; }
	assert_eq "$(postfix_status "$qid")" sent "Postfix status of $qid"
done
assert_eq "$(smtp_count mx1.good.test message)" 4 "messages at mx1"
assert_eq "$(smtp_log mx1.good.test | grep '"event": "message"' | grep -c '"tls": true')" 4 \
	"messages over TLS at mx1"
assert_eq "$(smtp_count mx1.good.test connect)" 1 "connections to mx1 (one, reused)"
assert_contains "$(postfix_log_since_mark)" "to=<u4@good.test>, relay=mx1.good.test[127.0.2.1]:25, conn_use=4," \
	"Postfix log (the 4th message on the cached connection)"
assert_eq "$(decisions | grep -c .)" 1 "decision lines"
assert_decision domain=good.test mx=mx1.good.test policy=enforce tls=verified verdict=allow
postfix_stop

# --- 4. the control: no shim, Postfix picks the rogue MX itself ----------
relay_mark
postfix_start --no-shim
postfix_send --subject pf-control s@sender.test u@rogue.test >/dev/null
postfix_wait_queue_empty 30 || { postfix_log >&2; fail "control: the queue did not empty"; }
assert_eq "$(smtp_count rogue.good.test connect)" 1 "control: connections to the rogue MX"
assert_delivered rogue.good.test pf-control false
assert_eq "$(smtp_count mx1.good.test connect)" 0 "control: connections to mx1"
assert_eq "$(decisions | grep -c .)" 0 "control: decision lines (no relay)"
