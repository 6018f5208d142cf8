#!/usr/bin/env bash
# run.sh: the AuthZEN interop Search scenario, end to end, as `make test` runs
# it. Starts `castellan serve` (in-memory store) on a free port with an admin
# key, loads the scenario with load.sh, and sends every request of
# search-{subject,resource,action}.json (the interop's 198 searches) and of
# castellan/search-*.json (unknown users, actions and records; paging), which
# authzen-check sends, following every page, comparing the results. Exits
# non-zero at the first difference.
set -euo pipefail
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

step "build"
build_castellan
$GO build -o "$tmp/authzen-check" ./examples/authzen-check

step "start castellan serve"
serve_castellan

step "load.sh: the policy, the users and the records"
CASTELLAN_BIN=$castellan expect 0 examples/authzen-search/load.sh "$CASTELLAN_URL"

step "every request of the scenario"
expect 0 "$tmp/authzen-check" "$CASTELLAN_URL" examples/authzen-search/search-*.json examples/authzen-search/castellan/search-*.json

printf '\nrun.sh: ok\n'
