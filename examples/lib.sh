# lib.sh: what the examples' run.sh scripts share. Sourced (after
# `set -euo pipefail`) from examples/NAME/run.sh, it resolves
# CASTELLAN_BIN, changes to the repository root, makes $tmp (removed at
# exit, with the processes whose ids are in pids killed first) and defines
# step, fail, expect, wait_for and build_castellan.

castellan_bin=${CASTELLAN_BIN:-}
case $castellan_bin in
"" | /*) ;;
*) castellan_bin=$PWD/$castellan_bin ;;
esac
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
GO=${GO:-go}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/castellan-example.XXXXXX")
pids=()

cleanup() {
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
fail() {
  echo "run.sh: FAIL: $*" >&2
  for log in "$tmp"/*.log; do
    [ -s "$log" ] && { echo "--- $(basename "$log") (last lines)" >&2; tail -n 15 "$log" >&2; }
  done
  exit 1
}
# expect WANT CMD...: runs CMD, fails unless its exit code is WANT; its
# output is shown and kept in $out.
expect() {
  local want=$1 code=0
  shift
  out=$("$@" 2>&1) || code=$?
  printf '$ %s\n%s\n' "$*" "$out" | sed '/^$/d'
  [ "$code" = "$want" ] || fail "exit code $code, want $want: $*"
}
# wait_for FILE SED-EXPR PID: prints the first match of SED-EXPR in FILE,
# waiting up to 15s while PID runs.
wait_for() {
  local file=$1 expr=$2 pid=$3 got
  for _ in $(seq 1 150); do
    got=$(sed -n "$expr" "$file" 2>/dev/null | head -n 1)
    if [ -n "$got" ]; then echo "$got"; return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
# build_castellan: sets castellan to CASTELLAN_BIN, or to bin/castellan
# built now when it is not set.
build_castellan() {
  if [ -n "$castellan_bin" ]; then
    [ -f "$castellan_bin" ] && [ -x "$castellan_bin" ] || fail "CASTELLAN_BIN=$CASTELLAN_BIN is not an executable file"
    castellan=$castellan_bin
    echo "using $castellan ($("$castellan" version))"
  else
    $GO build -o bin/castellan ./cmd/castellan
    castellan=$root/bin/castellan
  fi
}
# serve_castellan: starts `castellan serve` on the in-memory store, on a
# free port, with a new admin key (no dev mode), waits until it serves and
# exports CASTELLAN_URL and CASTELLAN_API_KEY for the CLI.
serve_castellan() {
  local key=example-admin-$RANDOM$RANDOM$RANDOM$RANDOM
  # Explicit flags win over any CASTELLAN_* settings of the caller's environment.
  CASTELLAN_ADMIN_KEY=$key "$castellan" serve --addr 127.0.0.1:0 --database-url= --dev=false \
    --log-format json --log-level info 2>"$tmp/serve.log" &
  pids+=($!)
  local addr
  addr=$(wait_for "$tmp/serve.log" '/castellan serving/s/.*"addr":"\([^"]*\)".*/\1/p' "${pids[-1]}") ||
    fail "castellan serve did not start"
  export CASTELLAN_URL=http://$addr CASTELLAN_API_KEY=$key
  echo "castellan is serving at $CASTELLAN_URL"
}
# check_answers QUESTIONS ANSWERS: asks every question of the JSON Lines
# file QUESTIONS with `castellan authorize-batch` and fails unless the
# answers are, line for line, those of ANSWERS; prints each question with
# its answer.
check_answers() {
  local questions=$1 answers=$2 code=0
  "$castellan" authorize-batch "$questions" >"$tmp/answers" 2>"$tmp/batch.err" || code=$?
  [ "$code" -le 1 ] || { cat "$tmp/batch.err" >&2; fail "authorize-batch $questions: exit $code"; }
  paste -d ' ' "$tmp/answers" <(sed 's/, "context": .*}$/, ...}/' "$questions" | grep -v '^$') | sed 's/^/  /'
  diff -u "$answers" "$tmp/answers" || fail "the answers to $questions differ from $answers (-want +got)"
}
