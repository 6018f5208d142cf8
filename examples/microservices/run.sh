#!/usr/bin/env bash
# run.sh: the GitHub Actions scenario, end to end, as `make test` runs it.
#
# Builds bin/castellan and the two example services, starts `castellan serve`
# (in-memory store) on a free port with an admin key, uploads policy.polar,
# gives each service its own narrow API key, lets the Repositories service
# tell the maintainer roles, and asks the Actions service to rerun actions
# for an allowed and a denied user. Checks that the action->repository
# context fact was never stored. Exits non-zero at the first difference.
#
# With CASTELLAN_BIN set (as `make test` does, to bin/castellan built with
# its version), that binary is used as it is instead of building one.
set -euo pipefail
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

step "build"
build_castellan
$GO build -o "$tmp/repositories" ./examples/microservices/repositories
$GO build -o "$tmp/actions" ./examples/microservices/actions

step "start castellan serve"
admin_key=example-admin-$RANDOM$RANDOM$RANDOM$RANDOM
# Explicit flags win over any CASTELLAN_* settings of the caller's environment.
CASTELLAN_ADMIN_KEY=$admin_key "$castellan" serve --addr 127.0.0.1:0 --database-url= --dev=false \
  --log-format json --log-level info 2>"$tmp/serve.log" &
pids+=($!)
addr=$(wait_for "$tmp/serve.log" '/castellan serving/s/.*"addr":"\([^"]*\)".*/\1/p' "${pids[0]}") ||
  fail "castellan serve did not start"
export CASTELLAN_URL=http://$addr
echo "castellan is serving at $CASTELLAN_URL"
expect 0 "$castellan" healthcheck

step "an admin uploads the policy (its tests run first)"
export CASTELLAN_API_KEY=$admin_key
expect 0 "$castellan" policy examples/microservices/policy.polar
expect 0 "$castellan" keys create --scope write --name repositories --json
write_key=$(printf '%s\n' "$out" | sed -n 's/^ *"key": "\(.*\)",*$/\1/p')
expect 0 "$castellan" keys create --scope read --name actions --json
read_key=$(printf '%s\n' "$out" | sed -n 's/^ *"key": "\(.*\)",*$/\1/p')
[ -n "$write_key" ] && [ -n "$read_key" ] || fail "no key secret in the output of keys create --json"

step "the Repositories service tells who maintains what (write key)"
CASTELLAN_API_KEY=$write_key expect 0 "$tmp/repositories" sync
expect 0 "$castellan" get has_role _ maintainer Repository:_
grep -q 'has_role(User{"alice"}, "maintainer", Repository{"anvil"})' <<<"$out" || fail "alice's role was not stored"

step "the Actions service asks Castellan before each rerun (read key)"
CASTELLAN_API_KEY=$read_key "$tmp/actions" -listen 127.0.0.1:0 >"$tmp/actions.out" 2>"$tmp/actions.log" &
pids+=($!)
actions=$(wait_for "$tmp/actions.out" 's/^listening on \(http:.*\)$/\1/p' "${pids[1]}") ||
  fail "the actions service did not start"
rerun() { # rerun USER ACTION WANT-STATUS
  local status
  status=$(curl -sS -o "$tmp/body" -w '%{http_code}' -X POST -H "X-User: $1" "$actions/actions/$2/rerun") ||
    fail "cannot reach the actions service"
  printf '$ POST /actions/%s/rerun as %s -> %s %s\n' "$2" "$1" "$status" "$(cat "$tmp/body")"
  [ "$status" = "$3" ] || fail "$1 rerunning action $2: status $status, want $3"
}
rerun alice 1 202  # maintainer of anvil, the repository of action 1: allowed
rerun bob 1 403    # only a reader of anvil: denied
rerun alice 2 403  # action 2 belongs to forge, which alice does not maintain
rerun carol 2 202  # carol maintains forge

step "the action->repository relation was a context fact: never stored"
expect 0 "$castellan" get has_relation
[ -z "$out" ] || fail "has_relation facts were stored: $out"
expect 1 "$castellan" authorize User:alice rerun Action:1
expect 0 "$castellan" authorize User:alice rerun Action:1 -c "has_relation Action:1 repository Repository:anvil"

step "keys are scoped: the read key cannot write"
CASTELLAN_API_KEY=$read_key expect 3 "$castellan" tell has_role User:mallory maintainer Repository:anvil
CASTELLAN_API_KEY=$read_key expect 1 "$castellan" authorize User:mallory rerun Action:1 -c "has_relation Action:1 repository Repository:anvil"

printf '\nrun.sh: ok\n'
