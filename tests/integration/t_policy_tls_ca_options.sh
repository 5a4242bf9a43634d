#!/bin/bash
# Trust anchors come from MTASTS_CA_FILE or MTASTS_CA_PATH; without them the
# system store is used, which does not know the test CA.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

# A hashed directory instead of a file.
unset MTASTS_CA_FILE
export MTASTS_CA_PATH=$WORLD/ca/hashed
assert_exit 0 mtasts policy good.test

# The system store: the test CA is unknown.
new_cache_dir
unset MTASTS_CA_PATH
assert_exit 3 mtasts policy good.test
assert_failure_class webpki

# Only the untrusted CA: untrusted.test is fine, good.test is not.
new_cache_dir
export MTASTS_CA_FILE=$WORLD/ca/untrusted-ca.pem
assert_exit 0 mtasts policy untrusted.test
assert_exit 3 mtasts policy good.test
assert_failure_class webpki
