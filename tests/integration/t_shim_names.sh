#!/bin/bash
# The shim learns the MX host and the recipient domain from the sender's
# own look-ups, whatever resolver call it uses, and passes them to the
# relay (--mx, --domain); MTASTS_DOMAIN overrides the domain; a host looked
# up without an MX query gives --mx only; of two domains sharing an MX
# host the most recently looked-up one wins.
set -euo pipefail
. "$(dirname "$0")/../helpers/shim_lib.sh"
shim_setup

last_argv() { tail -n 1 "$RELAY_LOG" | sed 's/.*argv=//'; }

# Every MX look-up call, with getaddrinfo for the address.
for r in query search nquery nsearch send nsend; do
	relay_reset
	assert_exit 0 client -i "names-$r" -r "$r" -d good.test -m mx1.good.test -a gai lookup - 25
	assert_eq "$(last_argv)" \
		"mtasts-relay --dest 127.0.2.1 --port 25 --mx mx1.good.test --domain good.test" "argv ($r)"
done

# Every address look-up call, with res_query for the MX.
for a in ghbn ghbn2 ghbn_r ghbn2_r; do
	relay_reset
	assert_exit 0 client -i "names-$a" -r query -d good.test -m mx2.good.test -a "$a" lookup - 25
	assert_eq "$(last_argv)" \
		"mtasts-relay --dest 127.0.2.2 --port 25 --mx mx2.good.test --domain good.test" "argv ($a)"
done

# No MX look-up: the host only.
relay_reset
assert_exit 0 client -i names-hostonly -r none -m mx1.good.test lookup - 25
assert_eq "$(last_argv)" "mtasts-relay --dest 127.0.2.1 --port 25 --mx mx1.good.test" "argv (host only)"

# No look-up at all: the address only.
relay_reset
assert_exit 0 client -i names-none blocking 127.0.2.1 25
assert_eq "$(last_argv)" "mtasts-relay --dest 127.0.2.1 --port 25" "argv (no look-up)"

# MTASTS_DOMAIN overrides the learnt domain, and stands alone too.
relay_reset
MTASTS_DOMAIN=override.test assert_exit 0 client -i names-override -d good.test -m mx1.good.test lookup - 25
assert_eq "$(last_argv)" \
	"mtasts-relay --dest 127.0.2.1 --port 25 --mx mx1.good.test --domain override.test" "argv (override)"
MTASTS_DOMAIN=override.test assert_exit 0 client -i names-override2 blocking 127.0.2.1 25
assert_eq "$(last_argv)" "mtasts-relay --dest 127.0.2.1 --port 25 --domain override.test" "argv (override only)"

# mx1.good.test is an MX of good.test and of rogue.test: the domain is the
# one this process looked up (the shim's memory is per process).
relay_reset
assert_exit 0 client -i names-rogue -d rogue.test -m mx1.good.test lookup - 25
assert_eq "$(last_argv)" \
	"mtasts-relay --dest 127.0.2.1 --port 25 --mx mx1.good.test --domain rogue.test" "argv (rogue.test)"

# A trailing dot and upper case in the names the sender uses.
relay_reset
assert_exit 0 client -i names-case -d GOOD.test. -m MX1.Good.Test. lookup - 25
assert_eq "$(last_argv)" \
	"mtasts-relay --dest 127.0.2.1 --port 25 --mx mx1.good.test --domain good.test" "argv (case, dot)"
relay_env_ok

# A program built against an older C library calls __res_query (glibc 2.34+
# keeps it as the compatibility symbol __res_query@GLIBC_2.2.5): the shim's
# unversioned __res_query takes that call too.
cat > "$TEST_TMP/oldres.c" <<'C'
#include <arpa/nameser.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int old_res_query(const char *, int, int, unsigned char *, int);
__asm__(".symver old_res_query, __res_query@GLIBC_2.2.5");

int main(void)
{
	unsigned char ans[4096];
	struct addrinfo hints, *res;
	char buf[512];
	int fd;

	if (old_res_query("good.test", C_IN, T_MX, ans, sizeof(ans)) <= 0)
		return 1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo("mx2.good.test", "25", &hints, &res) != 0)
		return 2;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, res->ai_addr, res->ai_addrlen) < 0)
		return 3;
	freeaddrinfo(res);
	if (read(fd, buf, sizeof(buf)) < 4 || strncmp(buf, "220", 3) != 0)
		return 4;
	if (write(fd, "QUIT\r\n", 6) != 6 || read(fd, buf, sizeof(buf)) < 4)
		return 5;
	close(fd);
	return 0;
}
C
if cc -O2 -o "$TEST_TMP/oldres" "$TEST_TMP/oldres.c" 2>"$TEST_TMP/oldres.err"; then
	relay_reset
	assert_exit 0 env LD_PRELOAD="$SHIM_PRELOAD" "$TEST_TMP/oldres"
	assert_eq "$(last_argv)" \
		"mtasts-relay --dest 127.0.2.2 --port 25 --mx mx2.good.test --domain good.test" "argv (__res_query)"
else
	echo "no __res_query@GLIBC_2.2.5 to link against: $(cat "$TEST_TMP/oldres.err")" >&2
fi
