#!/bin/bash
# A message body full of lines that look like commands (RCPT TO: for a
# domain whose policy the connection does not satisfy, DATA, QUIT, lone
# dots, dot-stuffed lines) is content: delivered byte for byte, with no
# recipient decision made for any of its lines, by DATA (smtplib and a
# pipelining client), and a second transaction on the same connection is
# still judged.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/rcpt_lib.sh"
rcpt_env

body=$TEST_TMP/body.txt
printf '%s\r\n' "RCPT TO:<x@smtp-wrongname.test>" "rcpt to:<y@smtp-wrongname.test>" \
	"." ".." "...RCPT TO:<z@smtp-wrongname.test>" "DATA" "QUIT" "RSET" \
	"MAIL FROM:<evil@x.test>" "BDAT 10 LAST" "last" > "$body"

for mode in smtplib pipeline; do
	relay_mark
	rcpt_smtp --mode "$mode" --server mx1.good.test --to a@good.test \
		--body-file "$body" --subject "body-$mode"
	assert_eq "$RC" 0 "client exit ($mode)"
	assert_eq "$(client_reply rcpt)" 250 "RCPT ($mode)"
	msg=$(smtp_message mx1.good.test)
	assert_eq "$(json_get 'd["sha256"]' "$msg")" "$(client_field sent sha256)" "content ($mode)"
	assert_eq "$(json_get 'd["rcpt"]' "$msg")" '["a@good.test"]' "recipients ($mode)"
	assert_eq "$(rcpt_lines | wc -l)" 1 "rcpt lines ($mode)"
done

# Two transactions on one connection (a raw client):
# the second transaction's deferred RCPT is judged after the first
# message's content ended.
relay_mark
python3 - "$TEST_TMP/two.py" <<'PY'
import sys
open(sys.argv[1], "w").write(r'''
import socket, sys
s = socket.create_connection(("mx1.good.test", 25), timeout=20)
f = s.makefile("rb")
def reply():
    while True:
        ln = f.readline()
        if len(ln) < 4 or ln[3:4] != b"-":
            return ln.decode().strip()
out = [reply()]
s.sendall(b"EHLO c.world.test\r\n"); out.append(reply())
for rcpt in (b"a@good.test", b"b@smtp-wrongname.test"):
    s.sendall(b"MAIL FROM:<s@sender.test>\r\nRCPT TO:<" + rcpt + b">\r\nDATA\r\n")
    out += [reply(), reply(), reply()]
    if out[-1].startswith("354"):
        s.sendall(b"Subject: two\r\n\r\nRCPT TO:<c@smtp-wrongname.test>\r\n.\r\n")
        out.append(reply())
s.sendall(b"QUIT\r\n"); out.append(reply())
print("\n".join(out))
''')
PY
run via_shim python3 "$TEST_TMP/two.py"
relay_log_since | sed 's/^/  log| /' >&2
assert_eq "$RC" 0 "client exit"
assert_eq "$(printf '%s\n' "$OUT" | cut -c1-3 | tr '\n' ' ')" "220 250 250 250 354 250 250 450 554 221 " "replies"
assert_eq "$(smtp_count mx1.good.test message)" 1 "messages"
assert_eq "$(rcpt_lines | wc -l)" 2 "rcpt lines"

# A big body (1 MiB of lines, some starting with dots and "RCPT TO:"):
# the buffers fill and drain many times over, the bytes stay the same.
relay_mark
python3 - "$TEST_TMP/big.txt" <<'PY'
import sys, random
r = random.Random(4)
with open(sys.argv[1], "wb") as f:
    n = 0
    while n < 1 << 20:
        k = r.randrange(6)
        ln = [b".", b"RCPT TO:<z@smtp-wrongname.test>", b"..x", b"", b"DATA",
              bytes(r.randrange(33, 127) for _ in range(r.randrange(1, 990)))][k] + b"\r\n"
        f.write(ln)
        n += len(ln)
PY
rcpt_smtp --mode pipeline --server mx1.good.test --to a@good.test \
	--body-file "$TEST_TMP/big.txt" --subject body-big
assert_eq "$(client_reply eod)" 250 "end of data (big)"
msg=$(smtp_message mx1.good.test)
assert_eq "$(json_get 'd["sha256"]' "$msg")" "$(client_field sent sha256)" "content (big)"
assert_eq "$(rcpt_lines | wc -l)" 1 "rcpt lines (big)"
