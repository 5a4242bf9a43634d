#!/bin/bash
# io_uring can open connections no preload hook sees (IORING_OP_CONNECT):
# where the shim enforces, creating a ring fails with ENOSYS and one log
# line, unless MTASTS_ALLOW_IO_URING=1. Both ways a dynamically linked
# program makes a ring are covered: syscall(SYS_io_uring_setup) through
# libc, and liburing's io_uring_queue_init() (liburing 2.3 issues the
# system call itself, so only its entry points can be hooked). In the
# relay (not enforcing) nothing is refused.
set -euo pipefail
. "$(dirname "$0")/../helpers/shim_lib.sh"
shim_setup

cat > "$TEST_TMP/ring.c" <<'C'
#include <errno.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Prints "ring=ok" or "ring=ERRNO-TEXT". */
int main(void)
{
	struct io_uring_params p;
	long fd;

	memset(&p, 0, sizeof(p));
	fd = syscall(SYS_io_uring_setup, 4, &p);
	printf("ring=%s\n", fd >= 0 ? "ok" : strerror(errno));
	return 0;
}
C
assert_exit 0 cc -O2 -Wall -o "$TEST_TMP/ring" "$TEST_TMP/ring.c"
run "$TEST_TMP/ring"
native=$OUT
echo "without the shim: $native" >&2

# Refused, with the log line.
run env LD_PRELOAD="$SHIM_PRELOAD" "$TEST_TMP/ring"
assert_eq "$OUT" "ring=Function not implemented" "syscall(SYS_io_uring_setup) under the shim"
assert_contains "$(cat "$SHIM_LOG")" "syscall(SYS_io_uring_setup) refused (ENOSYS)"
assert_contains "$(cat "$SHIM_LOG")" "MTASTS_ALLOW_IO_URING=1"
assert_eq "$(grep -c 'io_uring' "$SHIM_LOG")" 1 "log lines"

# The operator's opt-out: exactly what the kernel says without the shim.
rm -f "$SHIM_LOG"
MTASTS_ALLOW_IO_URING=1 run env LD_PRELOAD="$SHIM_PRELOAD" "$TEST_TMP/ring"
assert_eq "$OUT" "$native" "with MTASTS_ALLOW_IO_URING=1"
[ ! -e "$SHIM_LOG" ] || assert_not_contains "$(cat "$SHIM_LOG")" "io_uring"
# Any other value is no opt-out.
MTASTS_ALLOW_IO_URING=yes run env LD_PRELOAD="$SHIM_PRELOAD" "$TEST_TMP/ring"
assert_eq "$OUT" "ring=Function not implemented" "MTASTS_ALLOW_IO_URING=yes"

# liburing, if its development files are installed.
if [ ! -e /usr/include/liburing.h ]; then
	echo "note: liburing.h not installed (liburing-dev): liburing step skipped" >&2
	exit 0
fi
cat > "$TEST_TMP/lring.c" <<'C'
#include <liburing.h>
#include <stdio.h>
#include <string.h>

/* Prints "queue_init=0" or "queue_init=-ERRNO". */
int main(void)
{
	struct io_uring ring;
	struct io_uring_params p;
	int r = io_uring_queue_init(4, &ring, 0), r2;

	memset(&p, 0, sizeof(p));
	r2 = io_uring_queue_init_params(4, &ring, &p);
	printf("queue_init=%d params=%d\n", r > 0 ? 0 : r, r2 > 0 ? 0 : r2);
	return 0;
}
C
assert_exit 0 cc -O2 -Wall -o "$TEST_TMP/lring" "$TEST_TMP/lring.c" -luring
run "$TEST_TMP/lring"
lnative=$OUT
assert_eq "$lnative" "queue_init=0 params=0" "liburing without the shim"
rm -f "$SHIM_LOG"
run env LD_PRELOAD="$SHIM_PRELOAD" "$TEST_TMP/lring"
assert_eq "$OUT" "queue_init=-38 params=-38" "liburing under the shim (-ENOSYS)"
assert_contains "$(cat "$SHIM_LOG")" "io_uring_queue_init refused (ENOSYS)"
assert_contains "$(cat "$SHIM_LOG")" "io_uring_queue_init_params refused (ENOSYS)"
MTASTS_ALLOW_IO_URING=1 run env LD_PRELOAD="$SHIM_PRELOAD" "$TEST_TMP/lring"
assert_eq "$OUT" "$lnative" "liburing with MTASTS_ALLOW_IO_URING=1"
