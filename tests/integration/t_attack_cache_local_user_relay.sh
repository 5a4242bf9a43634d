#!/bin/bash
# The relay's side of t_attack_cache_local_user: when the engine refuses
# the cache (a directory others can write, or an unsafe file in it), the
# look-up fails with failure=cache. That is a configuration fault, not
# "this domain has no policy": under good.test's live enforce policy the
# relay must not deliver to an unlisted MX (rogue.good.test), nor in
# plaintext; it refuses (the application defers) and says why.
# Control: the same deliveries with a sound cache directory.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
. "$(dirname "$0")/relay_lib.sh"
. "$(dirname "$0")/fault_lib.sh"
fault_env

# Control: a sound cache: rogue refused (mx-not-listed).
drive -- --dest 127.0.2.3 --mx rogue.good.test --domain good.test
assert_verdict refuse ECONNREFUSED
assert_decision policy=enforce verdict=refuse detail=mx-not-listed

for mode in 0777 0770; do
	new_cache_dir
	chmod "$mode" "$MTASTS_CACHE_DIR"
	relay_mark
	drive --mail s@sender.test a@good.test --subject "localuser-$mode" -- \
		--dest 127.0.2.3 --mx rogue.good.test --domain good.test
	assert_match "$(relay_log_since)" "writable by"
	assert_verdict refuse ECONNREFUSED
	assert_untouched rogue.good.test
	relay_mark
	drive --mail s@sender.test a@good.test --subject "localuser-plain-$mode" -- \
		--dest 127.0.2.9 --mx mx.smtp-notls.test --domain good.test
	assert_verdict refuse ECONNREFUSED
	assert_eq "$(smtp_count mx.smtp-notls.test message)" 0 "plaintext messages ($mode)"
done
