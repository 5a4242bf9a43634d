#!/bin/bash
# A full wrapped delivery with the relay under valgrind memcheck: swaks,
# unmodified, under libmtasts.so sends to mx1.good.test (enforce, valid
# certificate); the shim runs the relay through a wrapper (MTASTS_RELAY)
# that runs it under valgrind --leak-check=full and records valgrind's
# exit status (99 on any memory error or definitely lost block). The
# message must be delivered over TLS, valgrind must exit 0 and report no
# "definitely lost". Then `mtasts policy good.test` under valgrind, the
# same way. Skips without valgrind or with a sanitizer build.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
relay_env
need_mtasts
shim_ready || skip "$BUILD/libmtasts.so is not built"
command -v valgrind > /dev/null || skip "valgrind is not installed"
if ldd "$RELAY" | grep -Eq 'lib(asan|ubsan|tsan)'; then
	skip "$RELAY is a sanitizer build"
fi
# Everything is 20-50 times slower under valgrind.
export MTASTS_TIMEOUT=60
VG_OPTS=(--leak-check=full --errors-for-leak-kinds=definite
	 --error-exitcode=99 --num-callers=30)

# The wrapper the shim runs as its relay: fds 3 and 4 (the TCP and
# application sockets) pass through sh and valgrind unchanged.
REAL_RELAY=$RELAY
RELAY=$TEST_TMP/relay-under-valgrind
cat > "$RELAY" <<SH
#!/bin/sh
valgrind ${VG_OPTS[*]} --log-file="$TEST_TMP/vg-relay.%p" "$REAL_RELAY" "\$@"
echo \$? >> "$TEST_TMP/vg-relay.rc"
SH
chmod +x "$RELAY"

# A fresh cache: the relay under valgrind also fetches the policy (DNS,
# libcurl dlopen()ed, HTTPS) before it does STARTTLS and relays.
MTASTS_DOMAIN=good.test run via_shim swaks --server mx1.good.test --to a@good.test --from s@sender.test \
	--helo client.world.test --header "Subject: valgrind-relay" --timeout 60
assert_eq "$RC" 0 "swaks exit"
assert_delivered mx1.good.test valgrind-relay true mx1.good.test
assert_decision domain=good.test mx=mx1.good.test policy=enforce tls=verified verdict=allow
assert_eq "$(nginx_count mta-sts.good.test)" 1 "policy fetches"
# The relay finishes after the application saw the final reply.
for ((i = 0; i < 300; i++)); do
	[ -s "$TEST_TMP/vg-relay.rc" ] && break
	sleep 0.1
done
cat "$TEST_TMP"/vg-relay.* >&2
assert_eq "$(cat "$TEST_TMP/vg-relay.rc" 2>/dev/null)" 0 "valgrind exit (relay)"
assert_eq "$(cat "$TEST_TMP"/vg-relay.[0-9]* | grep -c 'definitely lost: [1-9]' || true)" 0 \
	"definitely lost blocks (relay)"
assert_contains "$(cat "$TEST_TMP"/vg-relay.[0-9]*)" "ERROR SUMMARY: 0 errors"

# The command line: a policy fetch (DNS, HTTPS, parse, cache store).
run valgrind "${VG_OPTS[@]}" --log-file="$TEST_TMP/vg-cli" \
	"$BUILD/mtasts" policy good.test
cat "$TEST_TMP/vg-cli" >&2
assert_eq "$RC" 0 "valgrind exit (mtasts policy)"
assert_eq "$(field mode)" enforce "mode"
assert_eq "$(grep -c 'definitely lost: [1-9]' "$TEST_TMP/vg-cli" || true)" 0 \
	"definitely lost blocks (mtasts)"
assert_contains "$(cat "$TEST_TMP/vg-cli")" "ERROR SUMMARY: 0 errors"
