#!/usr/bin/env bash
# run.sh: the AuthZEN interop Todo scenario, end to end, as `make test` runs
# it. Starts `castellan serve` (in-memory store) on a free port with an admin
# key, loads the scenario with load.sh, and sends every request of
# decisions.json (the interop's 40 evaluations and 3 batches) and of
# castellan.json (unknown users, actions and todos: denied, never an
# error) through authzen-check, which compares each decision. Exits
# non-zero at the first difference.
set -euo pipefail
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

step "build"
build_castellan
$GO build -o "$tmp/authzen-check" ./examples/authzen-check

step "start castellan serve"
serve_castellan

step "load.sh: the policy and the users' roles and emails"
CASTELLAN_BIN=$castellan expect 0 examples/authzen-todo/load.sh "$CASTELLAN_URL"

step "every request of the scenario"
expect 0 "$tmp/authzen-check" "$CASTELLAN_URL" examples/authzen-todo/decisions.json examples/authzen-todo/castellan.json

printf '\nrun.sh: ok\n'
