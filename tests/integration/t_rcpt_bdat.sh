#!/bin/bash
# CHUNKING (RFC 3030) through the per-recipient check: a receiver on our
# own block (127.0.5.1, mx1.good.test's certificate, --chunking) and a
# client that pipelines MAIL, the RCPTs and every BDAT chunk in one write.
# The chunks are binary and hold CRLF.CRLF and "RCPT TO:" lines: they are
# counted, never parsed, and arrive byte for byte; the recipient whose
# policy the connection does not satisfy is deferred in its place.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/rcpt_lib.sh"
rcpt_env
rcpt_receiver 127.0.5.1 --chunking

body=$TEST_TMP/body.bin
python3 - "$body" <<'PY'
import sys
parts = [b"line one\r\n", b"\r\n.\r\n", b"RCPT TO:<x@smtp-wrongname.test>\r\n",
         b"BDAT 5 LAST\r\n", b"QUIT\r\n", bytes(range(256)), b"\r\n.\r\n",
         b"\x00" * 100, b"DATA\r\n.\n", b"last line\r\n"]
open(sys.argv[1], "wb").write(b"".join(parts))
PY

for chunk in 7 100000; do
	relay_mark
	rcpt_smtp --mode bdat --chunk "$chunk" --server 127.0.5.1 \
		--to a@good.test --to b@smtp-wrongname.test \
		--body-file "$body" --subject "bdat-$chunk"
	assert_eq "$RC" 0 "client exit ($chunk)"
	assert_eq "$(client_reply rcpt 0)" 250 "RCPT a@good.test ($chunk)"
	assert_eq "$(client_reply rcpt 1)" 450 "RCPT b@smtp-wrongname.test ($chunk)"
	assert_eq "$(client_reply bdat)" 250 "last BDAT ($chunk)"
	assert_eq "$(client_reply quit)" 221 "QUIT ($chunk)"
	msg=$(rx_message)
	assert_eq "$(json_get 'd["rcpt"]' "$msg")" '["a@good.test"]' "recipients ($chunk)"
	assert_eq "$(json_get 'd["sha256"]' "$msg")" "$(client_field sent sha256)" "content ($chunk)"
	assert_eq "$(json_get 'd["tls"]' "$msg")" true "over TLS ($chunk)"
	assert_rcpt good.test verdict=allow mx=- policy=enforce
	assert_rcpt smtp-wrongname.test verdict=defer detail=mx-unknown
	assert_eq "$(rcpt_lines | wc -l)" 2 "rcpt lines: the chunks' RCPT lines are content ($chunk)"
done

# A big binary body (3 MiB) in 64 KiB chunks: the buffers fill and drain
# many times over.
relay_mark
head -c $((3 << 20)) /dev/urandom > "$TEST_TMP/big.bin"
rcpt_smtp --mode bdat --chunk 65536 --server 127.0.5.1 --to a@good.test \
	--to b@smtp-wrongname.test --body-file "$TEST_TMP/big.bin" --subject bdat-big
assert_eq "$(client_reply bdat)" 250 "last BDAT (big)"
msg=$(rx_message)
assert_eq "$(json_get 'd["sha256"]' "$msg")" "$(client_field sent sha256)" "content (big)"
assert_eq "$(rcpt_lines | wc -l)" 2 "rcpt lines (big)"

# Every recipient deferred: each BDAT is answered here and its chunk
# swallowed; the receiver gets neither.
relay_mark
before=$(rx_count message)
rcpt_smtp --mode bdat --chunk 50 --server 127.0.5.1 --to b@smtp-wrongname.test \
	--body-file "$body" --subject bdat-none
assert_eq "$(client_reply rcpt 0)" 450 "RCPT"
assert_eq "$(client_reply bdat)" 554 "BDAT answered by the relay"
assert_eq "$(client_reply quit)" 221 "QUIT"
assert_eq "$(rx_count message)" "$before" "messages"
