#!/bin/bash
# syscall(SYS_connect), syscall(SYS_sendto, MSG_FASTOPEN) and
# syscall(SYS_sendmsg, MSG_FASTOPEN) through libc's syscall(): routed to
# the shim's hooks, each row of the decision table as with connect().
# Other numbers pass through with their arguments and errno: checked by a
# small program (getpid, a failing close, a 6-argument mmap).
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/tfo_lib.sh"
tfo_setup

for mode in syscall-connect syscall-sendto syscall-sendmsg; do
	tfo_rows "$mode"
done

cat > "$TEST_TMP/pass.c" <<'C'
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	long pid = syscall(SYS_getpid), r;
	void *m;

	printf("getpid=%s", pid == (long)getpid() ? "ok" : "bad");
	errno = 0;
	r = syscall(SYS_close, 12345);
	printf(" close=%ld errno=%s", r, errno == EBADF ? "EBADF" : "other");
	m = (void *)syscall(SYS_mmap, 0L, 4096L, (long)(PROT_READ | PROT_WRITE),
			    (long)(MAP_PRIVATE | MAP_ANONYMOUS), -1L, 0L);
	if (m != MAP_FAILED)
		((char *)m)[4095] = 1;
	printf(" mmap=%s", m != MAP_FAILED ? "ok" : "bad");
	r = syscall(SYS_mmap, 0L, 4096L, (long)PROT_READ,
		    (long)(MAP_PRIVATE | MAP_ANONYMOUS), -1L, 1L);
	printf(" mmap-offset=%s\n", r == -1 && errno == EINVAL ? "EINVAL" : "other");
	return 0;
}
C
assert_exit 0 cc -O2 -Wall -o "$TEST_TMP/pass" "$TEST_TMP/pass.c"
run via_shim "$TEST_TMP/pass"
assert_eq "$RC" 0 "pass-through program exit"
assert_eq "$OUT" "getpid=ok close=-1 errno=EBADF mmap=ok mmap-offset=EINVAL" "pass-through results"
