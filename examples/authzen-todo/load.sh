#!/usr/bin/env bash
# load.sh BASE_URL: makes the Castellan at BASE_URL the Todo scenario's PDP.
# Uploads policy.polar (its tests run first) and the users' data (data/*.csv:
# roles and emails, the attributes the interop expects the PDP to know) with
# bin/castellan. The API key is CASTELLAN_API_KEY (an admin key; none in
# dev mode); CASTELLAN_BIN names another castellan binary.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 BASE_URL   (e.g. $0 http://127.0.0.1:8080)" >&2
  exit 2
fi
dir=$(cd "$(dirname "$0")" && pwd)
castellan=${CASTELLAN_BIN:-$dir/../../bin/castellan}
[ -x "$castellan" ] || { echo "load.sh: $castellan not found: run make build, or set CASTELLAN_BIN" >&2; exit 2; }
export CASTELLAN_URL=$1
"$castellan" policy "$dir/policy.polar"
"$castellan" import "$dir/data/roles.csv" "$dir/data/emails.csv"
