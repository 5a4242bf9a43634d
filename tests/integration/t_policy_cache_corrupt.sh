#!/bin/bash
# A corrupt cache file is ignored (the policy is fetched again) and
# replaced by a good one.
set -euo pipefail
. "$(dirname "$0")/../world/lib.sh"
world_env
need_mtasts

f=$MTASTS_CACHE_DIR/good.test
assert_exit 0 mtasts policy good.test
good=$(cat "$f")
n=1
corrupt() {
	case $1 in
	garbage) head -c 3000 /dev/urandom > "$f" ;;
	empty) : > "$f" ;;
	truncated) printf '%s' "$good" | head -c $(( ${#good} / 2 )) > "$f" ;;
	badpolicy) printf '%s' "$good" | sed 's/^mode: enforce/mode: bogus/' > "$f" ;;
	esac
	chmod 0600 "$f"
}
for kind in garbage empty truncated badpolicy; do
	corrupt "$kind"
	assert_exit 0 mtasts policy good.test --json
	assert_eq "$(json_get 'd["source"]')" network "source after $kind"
	assert_eq "$(json_get 'd["mode"]')" enforce "mode after $kind"
	n=$((n + 1))
	assert_eq "$(nginx_count mta-sts.good.test)" "$n" "fetches after $kind"
	assert_exit 0 mtasts policy good.test --json
	assert_eq "$(json_get 'd["source"]')" cache "the file was replaced after $kind"
done
