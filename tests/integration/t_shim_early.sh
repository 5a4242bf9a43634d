#!/bin/bash
# The hooks work before libmtasts.so's constructor has run: a library whose
# constructor resolves an MX host and connects to it on port 25 gets a
# relayed, TCP-looking connection, with the name it looked up passed on.
# Both preload orders are tried; the dynamic linker's init trace shows that
# in one of them the other library's constructor runs first.
set -euo pipefail
. "$(dirname "$0")/../helpers/shim_lib.sh"
shim_setup

cat > "$TEST_TMP/early.c" <<'C'
#define _GNU_SOURCE
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *session(void)
{
	struct addrinfo hints, *res;
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	char buf[512];
	ssize_t n;
	int fd, type = 0;
	socklen_t tl = sizeof(type);

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo("mx1.good.test", "25", &hints, &res) != 0)
		return "getaddrinfo";
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0)
		return "connect";
	freeaddrinfo(res);
	if (getpeername(fd, (struct sockaddr *)&peer, &len) < 0 ||
	    peer.ss_family != AF_INET)
		return "getpeername";
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &type, &tl) < 0 ||
	    type != IPPROTO_TCP)
		return "SO_PROTOCOL";
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 4 || strncmp(buf, "220", 3) != 0)
		return "greeting";
	if (write(fd, "QUIT\r\n", 6) != 6 || read(fd, buf, sizeof(buf)) < 4)
		return "quit";
	close(fd);
	return "ok";
}

__attribute__((constructor)) static void early(void)
{
	FILE *f = fopen(getenv("EARLY_RESULT"), "w");

	if (f) {
		fprintf(f, "%s\n", session());
		fclose(f);
	}
}
C
assert_exit 0 cc -shared -fPIC -O2 -Wall -o "$TEST_TMP/libearly.so" "$TEST_TMP/early.c"

first_init=""
san=${SHIM_PRELOAD% "$SHIM"}	# the ASan runtime in a SAN=1 build
[ "$san" = "$SHIM_PRELOAD" ] && san=""
for order in "$san $SHIM $TEST_TMP/libearly.so" "$san $TEST_TMP/libearly.so $SHIM"; do
	relay_reset
	rm -f "$TEST_TMP/result"
	assert_exit 0 env EARLY_RESULT="$TEST_TMP/result" LD_DEBUG=files \
		LD_PRELOAD="$order" /bin/true
	assert_eq "$(cat "$TEST_TMP/result")" ok "early session with LD_PRELOAD=$order"
	assert_contains "$(cat "$RELAY_LOG")" "--dest 127.0.2.1 --port 25 --mx mx1.good.test" \
		"relay argv with LD_PRELOAD=$order"
	relay_env_ok
	# Which of the two constructors ran first?
	first=$(printf '%s\n' "$ERR" | grep -o 'calling init: [^ ]*\(libearly\|libmtasts\)\.so' |
		head -n 1 | sed 's/.*\///')
	first_init="$first_init $first"
done
assert_contains "$first_init" libearly.so "a run where libearly's constructor ran first"
