#!/bin/bash
# After a failed fetch, the same domain and id are not fetched again for 5
# minutes (RFC 8461 3.3); a new id, or --fresh, fetches at once.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

assert_exit 3 mtasts policy notfound.test
assert_eq "$(nginx_count mta-sts.notfound.test)" 1 "first attempt"
assert_exit 3 mtasts policy notfound.test
assert_eq "$(nginx_count mta-sts.notfound.test)" 1 "second look-up: no fetch"
assert_exit 3 mtasts policy notfound.test --fresh
assert_eq "$(nginx_count mta-sts.notfound.test)" 2 "--fresh ignores the backoff"

# The failure is remembered with its id.
assert_exit 0 mtasts cache show notfound.test
assert_eq "$(field failed_id)" 1 "failed_id"
assert_match "$(field failed_at)" '^[0-9]{4}-' "failed_at"

# Per id: a new id is fetched although the old one failed a moment ago.
world_switch_reset
world_policy_remove switch.test
world_mark
assert_exit 3 mtasts policy switch.test
assert_exit 3 mtasts policy switch.test
assert_eq "$(nginx_count mta-sts.switch.test)" 1 "switch.test id 1"
world_switch_policy_default | world_policy_set switch.test
assert_exit 3 mtasts policy switch.test
assert_eq "$(nginx_count mta-sts.switch.test)" 1 "id 1 still backed off"
world_dns_set_txt _mta-sts.switch.test "v=STSv1; id=2"
assert_exit 0 mtasts policy switch.test --json
assert_eq "$(json_get 'd["id"]')" 2
assert_eq "$(nginx_count mta-sts.switch.test)" 2 "new id fetched"
world_switch_reset
