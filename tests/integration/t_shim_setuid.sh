#!/bin/bash
# exec of a set-user-ID or set-group-ID program from a wrapped process:
# the dynamic linker will drop LD_PRELOAD there, so the shim logs one
# warning naming the program, for every exec call (execve, execv, execvp,
# execvpe, execl, execlp, execle, fexecve, posix_spawn, posix_spawnp).
# The exec itself goes ahead. A plain program gets no warning.
set -euo pipefail
. "$(dirname "$0")/../helpers/shim_lib.sh"
shim_setup

# shimmed CMD...: CMD alone under the preload (a sanitizer build's
# runtime first, no leak report from uninstrumented programs).
shimmed() {
	env LD_PRELOAD="$SHIM_PRELOAD" \
		ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0 "$@"
}

cp /usr/bin/true "$TEST_TMP/true-suid"
chmod 4755 "$TEST_TMP/true-suid"
cp /usr/bin/true "$TEST_TMP/true-sgid"
chgrp nogroup "$TEST_TMP/true-sgid"
chmod 2755 "$TEST_TMP/true-sgid"
cp /usr/bin/true "$TEST_TMP/true-plain"

cat > "$TEST_TMP/execer.c" <<'C'
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* execer MODE PROG: runs PROG (a path, or a name for the p variants)
 * the MODE's way; exits with PROG's status, 99 when the call failed. */
int main(int argc, char **argv)
{
	char *args[] = { argv[2], NULL };
	const char *m = argv[1], *p = argv[2];
	pid_t pid;
	int st, fd;

	if (argc != 3)
		return 2;
	if (strcmp(m, "execve") == 0) execve(p, args, environ);
	else if (strcmp(m, "execv") == 0) execv(p, args);
	else if (strcmp(m, "execvp") == 0) execvp(p, args);
	else if (strcmp(m, "execvpe") == 0) execvpe(p, args, environ);
	else if (strcmp(m, "execl") == 0) execl(p, p, "a", "b", (char *)NULL);
	else if (strcmp(m, "execlp") == 0) execlp(p, p, (char *)NULL);
	else if (strcmp(m, "execle") == 0) execle(p, p, "x", (char *)NULL, environ);
	else if (strcmp(m, "fexecve") == 0) {
		if ((fd = open(p, O_RDONLY)) >= 0)
			fexecve(fd, args, environ);
	} else if (strcmp(m, "posix_spawn") == 0 || strcmp(m, "posix_spawnp") == 0) {
		int r = m[11] == 'p' ? posix_spawnp(&pid, p, NULL, NULL, args, environ) :
				      posix_spawn(&pid, p, NULL, NULL, args, environ);
		if (r != 0 || waitpid(pid, &st, 0) != pid)
			return 99;
		return WIFEXITED(st) ? WEXITSTATUS(st) : 98;
	}
	perror(m);
	return 99;
}
C
assert_exit 0 cc -O2 -Wall -o "$TEST_TMP/execer" "$TEST_TMP/execer.c"
export PATH="$TEST_TMP:$PATH"

for mode in execve execv execl execle fexecve posix_spawn; do
	rm -f "$SHIM_LOG"
	assert_exit 0 shimmed "$TEST_TMP/execer" "$mode" "$TEST_TMP/true-suid"
	if [ "$mode" = fexecve ]; then
		assert_contains "$(cat "$SHIM_LOG")" "exec (fexecve): set-user-ID program"
	else
		assert_contains "$(cat "$SHIM_LOG")" "exec $TEST_TMP/true-suid: set-user-ID program" "$mode"
	fi
	assert_contains "$(cat "$SHIM_LOG")" "ignores LD_PRELOAD" "$mode"
	assert_eq "$(wc -l < "$SHIM_LOG")" 1 "warnings ($mode)"

	rm -f "$SHIM_LOG"
	assert_exit 0 shimmed "$TEST_TMP/execer" "$mode" "$TEST_TMP/true-plain"
	[ ! -e "$SHIM_LOG" ] || fail "$mode: a warning for a plain program: $(cat "$SHIM_LOG")"
done

# The PATH-searching variants find the program as exec will.
for mode in execvp execvpe execlp posix_spawnp; do
	rm -f "$SHIM_LOG"
	assert_exit 0 shimmed "$TEST_TMP/execer" "$mode" true-sgid
	assert_contains "$(cat "$SHIM_LOG")" "exec $TEST_TMP/true-sgid: set-group-ID program" "$mode"
	rm -f "$SHIM_LOG"
	assert_exit 0 shimmed "$TEST_TMP/execer" "$mode" true-plain
	[ ! -e "$SHIM_LOG" ] || fail "$mode: a warning for a plain program: $(cat "$SHIM_LOG")"
done

# A shell running the program (the shell is wrapped too).
rm -f "$SHIM_LOG"
assert_exit 0 shimmed bash -c "true-suid; exit \$?"
assert_contains "$(cat "$SHIM_LOG")" "exec $TEST_TMP/true-suid: set-user-ID program" "bash"

# execl's argument list arrives intact (a long one, past the stack array).
cat > "$TEST_TMP/many.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "count") == 0) {
		printf("argc=%d last=%s\n", argc, argv[argc - 1]);
		return 0;
	}
#define A10 "a", "a", "a", "a", "a", "a", "a", "a", "a", "a"
#define A100 A10, A10, A10, A10, A10, A10, A10, A10, A10, A10
	execl(argv[0], argv[0], "count", A100, A100, A100, "end", (char *)NULL);
	return 99;
}
C
assert_exit 0 cc -O2 -Wall -o "$TEST_TMP/many" "$TEST_TMP/many.c"
assert_exit 0 shimmed "$TEST_TMP/many"
assert_eq "$OUT" "argc=303 last=end" "execl with 303 arguments"
