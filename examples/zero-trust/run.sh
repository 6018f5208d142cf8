#!/usr/bin/env bash
# run.sh: the zero-trust scenario, end to end, as `make test` runs it.
#
# Starts the example's identity provider (issuer: two real JWKS endpoints,
# workloads and users), which writes castellan.yaml and mints the tokens;
# starts `castellan serve --config castellan.yaml` (in-memory store, no dev
# mode); the admin uploads policy.polar (its tests run first) and stores
# which department each review belongs to. Then the workloads ask, each
# with its own token, and every decision is checked: employee-service
# reads reviews only on behalf of an hr user or the manager of the
# review's department; ai-reporting-agent performs read:aggregate on
# HrReport and nothing else, on behalf of nobody; forged verified facts
# are refused and a user token is no caller. Exits non-zero at the first
# difference.
#
# With CASTELLAN_BIN set (as `make test` does, to bin/castellan built with
# its version), that binary is used as it is instead of building one.
set -euo pipefail
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

step "build"
build_castellan
$GO build -o "$tmp/issuer" ./examples/zero-trust/issuer

step "start the identity provider (workloads and users issuers)"
"$tmp/issuer" -dir "$tmp" >"$tmp/issuer.out" 2>"$tmp/issuer.log" &
pids+=($!)
wait_for "$tmp/issuer.out" '/^ready/p' "${pids[0]}" || fail "the issuer did not start"
# token NAME: the token NAME of tokens/, or the admin key for "admin-key".
token() { if [ "$1" = admin-key ]; then echo "$admin_key"; else cat "$tmp/tokens/$1"; fi; }

step "start castellan serve --config castellan.yaml"
sed 's/^/  /' "$tmp/castellan.yaml"
admin_key=example-admin-$RANDOM$RANDOM$RANDOM$RANDOM
# Only the configuration file and the admin key: none of the caller's
# CASTELLAN_* settings.
env -i PATH="$PATH" HOME="${HOME:-/}" CASTELLAN_ADMIN_KEY="$admin_key" \
  "$castellan" serve --config "$tmp/castellan.yaml" 2>"$tmp/serve.log" &
pids+=($!)
addr=$(wait_for "$tmp/serve.log" '/castellan serving/s/.*"addr":"\([^"]*\)".*/\1/p' "${pids[1]}") ||
  fail "castellan serve did not start"
url=http://$addr
export CASTELLAN_URL=$url
echo "castellan is serving at $url"

step "the admin uploads the policy (its tests run first) and stores the reviews' departments"
export CASTELLAN_API_KEY=$admin_key
expect 0 "$castellan" policy examples/zero-trust/policy.polar
expect 0 "$castellan" tell review_department Review:eng-1 engineering
expect 0 "$castellan" tell review_department Review:sales-1 sales
unset CASTELLAN_API_KEY

# ask DESCRIPTION WANT-STATUS WANT-BODY PATH BODY [CALLER [USER]]: POSTs BODY
# to PATH with CALLER's token (see token) as the bearer and USER's
# token in Castellan-On-Behalf-Of; fails unless the status is WANT-STATUS
# and the body contains WANT-BODY.
ask() {
  local what=$1 want_status=$2 want_body=$3 path=$4 body=$5 caller=${6:-} user=${7:-} status
  local args=(-sS -o "$tmp/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d "$body")
  [ -n "$caller" ] && args+=(-H "Authorization: Bearer $(token "$caller")")
  [ -n "$user" ] && args+=(-H "Castellan-On-Behalf-Of: $(token "$user")")
  status=$(curl "${args[@]}" "$url$path") || fail "cannot reach castellan"
  printf '%-66s %s %s\n' "$what" "$status" "$(cat "$tmp/body")"
  [ "$status" = "$want_status" ] || fail "$what: status $status, want $want_status"
  grep -qF -- "$want_body" "$tmp/body" || fail "$what: body $(cat "$tmp/body"), want it to contain $want_body"
}
q() { # q ACTOR-TYPE ACTOR ACTION RESOURCE-TYPE RESOURCE [CONTEXT-FACTS-JSON]
  printf '{"actor_type":"%s","actor_id":"%s","action":"%s","resource_type":"%s","resource_id":"%s","context_facts":%s}' \
    "$1" "$2" "$3" "$4" "$5" "${6:-[]}"
}
yes='{"allowed":true}'
no='{"allowed":false}'

step "employee-service reads reviews on behalf of hr, or of the manager of the review's department"
ask "employee-service for alice (hr): eng-1" 200 "$yes" /api/authorize "$(q User alice read Review eng-1)" employee-service alice
ask "employee-service for alice (hr): sales-1" 200 "$yes" /api/authorize "$(q User alice read Review sales-1)" employee-service alice
ask "employee-service for bob (manager, engineering): eng-1" 200 "$yes" /api/authorize "$(q User bob read Review eng-1)" employee-service bob
ask "employee-service for bob (manager, engineering): sales-1" 200 "$no" /api/authorize "$(q User bob read Review sales-1)" employee-service bob
ask "employee-service for dave (manager, sales): sales-1" 200 "$yes" /api/authorize "$(q User dave read Review sales-1)" employee-service dave
ask "employee-service for carol (engineer, engineering): eng-1" 200 "$no" /api/authorize "$(q User carol read Review eng-1)" employee-service carol
ask "employee-service for nobody, about alice: eng-1" 200 "$no" /api/authorize "$(q User alice read Review eng-1)" employee-service
ask "employee-service for carol, about alice (hr): eng-1" 200 "$no" /api/authorize "$(q User alice read Review eng-1)" employee-service carol
ask "AuthZEN: employee-service for bob, context.on_behalf_of: eng-1" 200 '{"decision":true}' /access/v1/evaluation \
  "{\"subject\":{\"type\":\"User\",\"id\":\"bob\"},\"action\":{\"name\":\"read\"},\"resource\":{\"type\":\"Review\",\"id\":\"eng-1\"},\"context\":{\"on_behalf_of\":\"$(token bob)\"}}" employee-service
ask "AuthZEN: employee-service for carol, context.on_behalf_of: eng-1" 200 '{"decision":false}' /access/v1/evaluation \
  "{\"subject\":{\"type\":\"User\",\"id\":\"carol\"},\"action\":{\"name\":\"read\"},\"resource\":{\"type\":\"Review\",\"id\":\"eng-1\"},\"context\":{\"on_behalf_of\":\"$(token carol)\"}}" employee-service

step "only employee-service reads reviews"
ask "ai-reporting-agent for alice (hr): eng-1" 200 "$no" /api/authorize "$(q User alice read Review eng-1)" ai-reporting-agent alice
ask "ai-reporting-agent for bob (manager, engineering): eng-1" 200 "$no" /api/authorize "$(q User bob read Review eng-1)" ai-reporting-agent bob
ask "the admin key (no verified caller) for alice (hr): eng-1" 200 "$no" /api/authorize "$(q User alice read Review eng-1)" admin-key alice

step "the agent performs read:aggregate on HrReport, for nobody, and nothing else"
ask "ai-reporting-agent: read:aggregate q3" 200 "$yes" /api/authorize "$(q Agent ai-reporting-agent read:aggregate HrReport q3)" ai-reporting-agent
ask "ai-reporting-agent: read q3" 200 "$no" /api/authorize "$(q Agent ai-reporting-agent read HrReport q3)" ai-reporting-agent
ask "ai-reporting-agent for alice (hr): read:aggregate q3" 200 "$no" /api/authorize "$(q Agent ai-reporting-agent read:aggregate HrReport q3)" ai-reporting-agent alice
ask "ai-reporting-agent for alice (hr), alice: read:aggregate q3" 200 "$no" /api/authorize "$(q User alice read:aggregate HrReport q3)" ai-reporting-agent alice
ask "employee-service, about the agent: read:aggregate q3" 200 "$no" /api/authorize "$(q Agent ai-reporting-agent read:aggregate HrReport q3)" employee-service
ask "employee-service, about itself: read:aggregate q3" 200 "$no" /api/authorize "$(q Service employee-service read:aggregate HrReport q3)" employee-service
ask "ai-reporting-agent: its actions on q3" 200 '{"results":["read:aggregate"]}' /api/actions \
  '{"actor_type":"Agent","actor_id":"ai-reporting-agent","resource_type":"HrReport","resource_id":"q3"}' ai-reporting-agent

step "a forged context fact changes nothing"
fact() { printf '{"predicate":"%s","args":[%s]}' "$1" "$2"; }
ask "agent forges request_caller(employee-service)" 400 "request_caller facts are verified facts" /api/authorize \
  "$(q User alice read Review eng-1 "[$(fact request_caller '{"type":"Service","id":"employee-service"}')]")" ai-reporting-agent alice
ask "employee-service forges has_claim(carol, role, hr)" 400 "has_claim facts are verified facts" /api/authorize \
  "$(q User carol read Review eng-1 "[$(fact has_claim '{"type":"User","id":"carol"},{"type":"String","id":"role"},{"type":"String","id":"hr"}')]")" employee-service carol
ask "employee-service forges request_on_behalf_of(alice)" 400 "request_on_behalf_of facts are verified facts" /api/authorize \
  "$(q User alice read Review eng-1 "[$(fact request_on_behalf_of '{"type":"User","id":"alice"}')]")" employee-service
ask "agent adds review_department(eng-1, engineering) for bob" 200 "$no" /api/authorize \
  "$(q User bob read Review eng-1 "[$(fact review_department '{"type":"Review","id":"eng-1"},{"type":"String","id":"engineering"}')]")" ai-reporting-agent bob
CASTELLAN_API_KEY=$admin_key expect 3 "$castellan" tell request_caller Service:employee-service

step "a token is what it is: no user token as a caller, no caller token for a user"
ask "alice's user token as the caller" 401 "invalid caller token" /api/authorize "$(q User alice read Review eng-1)" alice alice
ask "employee-service's token as the user" 401 "invalid user token" /api/authorize "$(q User alice read Review eng-1)" employee-service employee-service
ask "an expired employee-service token" 401 "(exp)" /api/authorize "$(q User alice read Review eng-1)" employee-service-expired alice
ask "no credentials" 401 "missing API key" /api/authorize "$(q User alice read Review eng-1)"
ask "read scope cannot write facts" 403 'needs scope \"write\"' /api/facts \
  "$(fact review_department '{"type":"Review","id":"eng-1"},{"type":"String","id":"sales"}')" employee-service
CASTELLAN_API_KEY=$admin_key expect 0 "$castellan" healthcheck

printf '\nrun.sh: ok\n'
