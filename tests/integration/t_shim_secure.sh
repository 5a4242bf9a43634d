#!/bin/bash
# In a secure-execution process (set-user/group-ID: AT_SECURE) the shim
# ignores the environment: MTASTS_RELAY, MTASTS_PORTS and MTASTS_LOG have no
# effect; port 25 is intercepted with the compile-time relay path. The
# program is set-group-ID to another group (egid != rgid sets AT_SECURE
# for root too) and dlopen()s the shim, since the dynamic linker ignores
# LD_PRELOAD paths in such a process.
set -euo pipefail
. "$(dirname "$0")/../helpers/shim_lib.sh"
shim_setup
[ -z "$SHIM_SAN" ] || skip "a sanitizer build cannot be dlopen()ed by a plain program"
relay=$(strings "$SHIM" | grep -m1 '/mtasts-relay$' || true)
[ -n "$relay" ] || fail "no compile-time relay path in $SHIM"
[ ! -e "$relay" ] || skip "$relay is installed: the secure process would run it"

cat > "$TEST_TMP/secure.c" <<'C'
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <unistd.h>

/* secure SHIM ADDR PORT: prints "secure=N connect=0" or "connect=ERRNO". */
int main(int argc, char **argv)
{
	int (*c)(int, const struct sockaddr *, socklen_t);
	struct sockaddr_in in;
	void *h;
	int fd;

	if (argc != 4 || (h = dlopen(argv[1], RTLD_NOW)) == NULL) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 2;
	}
	c = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(h, "connect");
	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_port = htons((unsigned short)atoi(argv[3]));
	inet_pton(AF_INET, argv[2], &in.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	printf("secure=%lu connect=%s\n", getauxval(AT_SECURE),
	       c(fd, (struct sockaddr *)&in, sizeof(in)) == 0 ? "0" :
	       strerror(errno));
	return 0;
}
C
assert_exit 0 cc -O2 -Wall -o "$TEST_TMP/secure" "$TEST_TMP/secure.c" -ldl
chgrp nogroup "$TEST_TMP/secure"
chmod 2755 "$TEST_TMP/secure"
start_sink 127.0.0.1 2525

# Not secure: the environment counts (port 2525 relayed, port 25 not).
cp "$TEST_TMP/secure" "$TEST_TMP/plain"
MTASTS_PORTS=2525 assert_exit 0 "$TEST_TMP/plain" "$SHIM" 127.0.0.1 2525
assert_eq "$OUT" "secure=0 connect=0" "plain program, port 2525"
assert_eq "$(relay_runs)" 1 "relay runs for the plain program"
assert_contains "$(cat "$SHIM_LOG")" "relayed"

# Secure: MTASTS_PORTS is ignored (2525 is a plain connection) ...
relay_reset
rm -f "$SHIM_LOG"
MTASTS_PORTS=2525 assert_exit 0 "$TEST_TMP/secure" "$SHIM" 127.0.0.1 2525
assert_eq "$OUT" "secure=1 connect=0" "secure program, port 2525"
# ... port 25 is intercepted, and MTASTS_RELAY is ignored: the built-in
# relay path does not exist here, so connect() fails closed.
MTASTS_PORTS=2525 assert_exit 0 "$TEST_TMP/secure" "$SHIM" 127.0.2.1 25
assert_eq "$OUT" "secure=1 connect=Connection refused" "secure program, port 25"
assert_eq "$(relay_runs)" 0 "fake relay runs in the secure program"
[ ! -e "$SHIM_LOG" ] || fail "MTASTS_LOG was honoured in a secure program"
