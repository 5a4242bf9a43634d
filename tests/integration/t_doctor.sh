#!/bin/bash
# `mtasts doctor COMMAND|PATH`: tells whether libmtasts.so will cover a
# program. Covered (exit 0): a dynamic program, a script whose interpreter
# is one (also through /usr/bin/env), a program linking liburing (with a
# warning). Not covered (exit 1, with the reason): a static program, a Go
# program, set-user-ID / set-group-ID / file-capability programs, a script
# run by a static interpreter, a file that is neither ELF nor a script, a
# truncated ELF file. Exit 2: usage, a command not found.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts
T=$TEST_TMP

# doctor_json PATH EXPR: a field of the --json answer.
doctor_json() {
	mtasts doctor --json "$1" | python3 -c "import json,sys; d=json.load(sys.stdin); print($2)"
}

# A dynamic program, by name in PATH and by path.
assert_exit 0 mtasts doctor ls
assert_contains "$OUT" "path: $(command -v ls)"
assert_contains "$OUT" "format: ELF 64-bit, dynamically linked"
assert_contains "$OUT" "needs: libc.so.6"
assert_contains "$OUT" "LD_PRELOAD honoured: yes"
assert_contains "$OUT" "covered: yes"
assert_exit 0 mtasts doctor --json /usr/bin/true
assert_eq "$(doctor_json /usr/bin/true 'd["covered"], d["linking"], d["go"], d["setuid"], d["ld_preload_honoured"], d["reasons"]')" \
	"True dynamic False False True []" "json of a dynamic program"

# A static program.
printf 'int main(void) { return 0; }\n' > "$T/s.c"
assert_exit 0 gcc -static -o "$T/static" "$T/s.c"
assert_exit 1 mtasts doctor "$T/static"
assert_contains "$OUT" "format: ELF 64-bit, statically linked"
assert_contains "$OUT" "not covered: statically linked"
assert_contains "$OUT" "LD_PRELOAD honoured: no"
assert_contains "$OUT" "covered: no"
assert_eq "$(doctor_json "$T/static" 'd["covered"], d["linking"], d["needed"]')" "False static []" "json of a static program"

# set-user-ID, set-group-ID, file capabilities: dynamic, but not covered.
cp /usr/bin/true "$T/suid"; chmod 4755 "$T/suid"
assert_exit 1 mtasts doctor "$T/suid"
assert_contains "$OUT" "set-user-ID: yes"
assert_contains "$OUT" "not covered: set-user-ID"
assert_eq "$(doctor_json "$T/suid" 'd["setuid"], d["setgid"], d["linking"]')" "True False dynamic" "json setuid"
cp /usr/bin/true "$T/sgid"; chmod 2755 "$T/sgid"
assert_exit 1 mtasts doctor "$T/sgid"
assert_contains "$OUT" "not covered: set-group-ID"
cp /usr/bin/true "$T/caps"
if command -v setcap >/dev/null && setcap cap_net_raw+ep "$T/caps" 2>/dev/null; then
	assert_exit 1 mtasts doctor "$T/caps"
	assert_contains "$OUT" "not covered: file capabilities"
else
	echo "note: setcap unavailable: file capability case skipped" >&2
fi

# Scripts: the interpreter decides.
printf '#!/bin/sh\nexit 0\n' > "$T/script.sh"; chmod +x "$T/script.sh"
assert_exit 0 mtasts doctor "$T/script.sh"
assert_contains "$OUT" "script interpreter: /bin/sh"
assert_contains "$OUT" "covered: yes"
printf '#!/usr/bin/env python3\n' > "$T/envscript"; chmod +x "$T/envscript"
assert_exit 0 mtasts doctor "$T/envscript"
assert_contains "$OUT" "script interpreter: /usr/bin/env"
assert_contains "$OUT" "script interpreter: $(command -v python3)"
printf '#!%s\n' "$T/static" > "$T/static-script"; chmod +x "$T/static-script"
assert_exit 1 mtasts doctor "$T/static-script"
assert_contains "$OUT" "not covered: statically linked"
assert_eq "$(doctor_json "$T/static-script" 'd["scripts"], d["program"]')" "['$T/static'] $T/static" "json of a script"
printf '#!/nonexistent/interp\n' > "$T/lost-script"; chmod +x "$T/lost-script"
assert_exit 1 mtasts doctor "$T/lost-script"
assert_contains "$OUT" "interpreter cannot be opened"

# A program that links liburing: covered, with a warning.
if [ -e /usr/include/liburing.h ]; then
	printf '#include <liburing.h>\nint main(void) { struct io_uring r; return io_uring_queue_init(2, &r, 0) < 0; }\n' > "$T/u.c"
	assert_exit 0 gcc -o "$T/uring" "$T/u.c" -luring
else
	# No liburing: a stand-in library with its soname.
	printf 'int mts_stand_in(void) { return 0; }\n' > "$T/l.c"
	assert_exit 0 gcc -shared -fPIC -Wl,-soname,liburing.so.2 -o "$T/liburing.so.2" "$T/l.c"
	printf 'int mts_stand_in(void);\nint main(void) { return mts_stand_in(); }\n' > "$T/u.c"
	assert_exit 0 gcc -o "$T/uring" "$T/u.c" "$T/liburing.so.2"
fi
readelf -d "$T/uring" | grep -q 'NEEDED.*liburing.so.2' || fail "the test program does not need liburing"
assert_exit 0 mtasts doctor "$T/uring"
assert_contains "$OUT" "links liburing: yes"
assert_contains "$OUT" "warning: links liburing: io_uring_setup fails with ENOSYS"
assert_eq "$(doctor_json "$T/uring" 'd["liburing"], d["covered"], len(d["warnings"])')" "True True 1" "json liburing"

# A Go program, if one is installed (readelf is the independent witness).
go_bin=
for f in "$(command -v go 2>/dev/null || true)" /usr/lib/go/bin/go /usr/local/go/bin/go \
	 /usr/lib/google-cloud-sdk/bin/kubectl /usr/lib/google-cloud-sdk/bin/cbt; do
	[ -n "$f" ] && [ -f "$f" ] && readelf -S "$f" 2>/dev/null | grep -q '\.go\.buildinfo' && { go_bin=$f; break; }
done
if [ -n "$go_bin" ]; then
	assert_exit 1 mtasts doctor "$go_bin"
	assert_contains "$OUT" "go program: yes"
	assert_contains "$OUT" "not covered: a Go program"
else
	echo "note: no Go program installed: Go case skipped" >&2
fi
# ... and this very tool, which holds the Go marker as text, is no Go program.
assert_exit 0 mtasts doctor "$BUILD/mtasts"
assert_contains "$OUT" "go program: no"

# Neither ELF nor script; a truncated ELF file.
printf 'hello\n' > "$T/data"; chmod +x "$T/data"
assert_exit 1 mtasts doctor "$T/data"
assert_contains "$OUT" "not covered: neither an ELF program nor a #! script"
head -c 100 /usr/bin/true > "$T/truncated"; chmod +x "$T/truncated"
assert_exit 1 mtasts doctor "$T/truncated"
assert_contains "$OUT" "not covered: malformed ELF program headers"

# Usage and not found.
assert_exit 2 mtasts doctor
assert_exit 2 mtasts doctor no-such-command-here
assert_contains "$ERR" "no-such-command-here: command not found in PATH"
assert_exit 2 mtasts doctor "$T/missing"
assert_contains "$ERR" "$T/missing: command not found"
assert_exit 0 mtasts help doctor
assert_contains "$OUT" "usage: mtasts doctor"
