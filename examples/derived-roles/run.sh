#!/usr/bin/env bash
# run.sh: the Cerbos album scenario in Polar, as `make test` runs it.
#
# Starts `castellan serve` (in-memory store) on a free port, uploads
# policy.polar (its tests run first), imports the principals' roles of
# facts.jsonl, then asks every question of questions.jsonl (each with its
# album's attributes as context facts, as a Cerbos request carries them)
# with `castellan authorize-batch` and compares the answers with
# answers.txt. Then stores the attributes instead and asks again by hand.
# Exits non-zero at the first difference.
#
# With CASTELLAN_BIN set (as `make test` does), that binary is used as it
# is instead of building one.
set -euo pipefail
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
dir=examples/derived-roles

step "build and start castellan serve"
build_castellan
serve_castellan

step "upload the policy (its tests run first) and import the principals' roles"
expect 0 "$castellan" policy $dir/policy.polar
expect 0 "$castellan" import --progress none $dir/facts.jsonl

step "ask, sending each album's attributes with the question"
check_answers $dir/questions.jsonl $dir/answers.txt

step "attributes may be stored instead: the same answers"
expect 0 "$castellan" tell album_owner Album:a1 User:bugs_bunny
expect 0 "$castellan" tell is_public Album:a1 Boolean:false
expect 0 "$castellan" authorize User:bugs_bunny edit Album:a1
expect 1 "$castellan" authorize User:bugs_bunny delete Album:a1
expect 1 "$castellan" authorize User:elmer view Album:a1
expect 0 "$castellan" authorize User:daffy_duck view Album:a1
expect 0 "$castellan" actions User:daffy_duck Album:a1
[ "$out" = "$(printf 'flag\nview')" ] || fail "daffy_duck's actions on a1: $out, want flag and view (the override)"

step "ok"
