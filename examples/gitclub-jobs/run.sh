#!/usr/bin/env bash
# run.sh: the GitClub jobs scenario, as `make test` runs it.
#
# Starts `castellan serve` (in-memory store) on a free port, uploads
# policy.polar (its tests run first), imports the organisations,
# memberships and repositories of facts.jsonl, then asks every question of
# questions.jsonl (the Jobs service's questions, each with the facts of its
# job or run as context facts) with `castellan authorize-batch` and
# compares the answers with answers.txt. Checks that no job or run fact was
# stored. Exits non-zero at the first difference.
#
# With CASTELLAN_BIN set (as `make test` does), that binary is used as it
# is instead of building one.
set -euo pipefail
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
dir=examples/gitclub-jobs

step "build and start castellan serve"
build_castellan
serve_castellan

step "upload the policy (its tests run first) and import the stored facts"
expect 0 "$castellan" policy $dir/policy.polar
expect 0 "$castellan" import --progress none $dir/facts.jsonl

step "the Jobs service asks, sending each job's and run's facts as context facts"
check_answers $dir/questions.jsonl $dir/answers.txt

step "one question by hand: bob restarts the run he started"
expect 0 "$castellan" authorize User:bob restart Run:101 \
  -c "has_relation Run:101 job Job:build" -c "has_relation Run:101 creator User:bob" \
  -c "has_relation Job:build repository Repository:anvil"
expect 1 "$castellan" authorize User:bob restart Run:101

step "jobs and runs stay with the Jobs service: nothing about them was stored"
expect 0 "$castellan" get has_relation Job:_
[ -z "$out" ] || fail "a job fact was stored: $out"
expect 0 "$castellan" get has_relation Run:_
[ -z "$out" ] || fail "a run fact was stored: $out"

step "ok"
