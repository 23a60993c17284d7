#!/usr/bin/env bash
# The leaderboard update pipeline end to end, the path .github/workflows/leaderboard.yml takes, on
# the tiny `ci-smoke` suite and into a temporary folder (the committed boards are never touched):
# run -> update -> show -> a second update must change nothing -> the Markdown matches the boards
# -> diff says nothing changed -> a corrupt board is refused and left as it was.
# Exits non-zero at the first broken step. Usage: bash scripts/ci_leaderboard_check.sh
set -euo pipefail

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export FFBENCH_CACHE="$work/cache"
boards="$work/boards"
results="$work/ci-smoke.parquet"
fail() { echo "ci_leaderboard_check: FAILED: $*" >&2; exit 1; }
# The interpreter .ci/run installed into (PYTHON), when given: an `ffbench` elsewhere on PATH may
# belong to another installation; else the installed command, else python3's module.
ffbench() {
  if [ -n "${PYTHON:-}" ]; then "$PYTHON" -m ffbench "$@"
  elif type -P ffbench > /dev/null; then command ffbench "$@"
  else python3 -m ffbench "$@"; fi
}

echo "-- ffbench run --suite ci-smoke"
ffbench run --suite ci-smoke --out "$results" --quiet > /dev/null

echo "-- ffbench leaderboard update"
ffbench leaderboard update "$results" --boards "$boards" --quiet
for f in fashion-mnist-mini.parquet fashion-mnist-mini.md README.md; do
  [ -s "$boards/$f" ] || fail "update did not write $f"
done

echo "-- ffbench leaderboard show"
ffbench leaderboard show --boards "$boards"
ffbench leaderboard show fashion-mnist-mini --boards "$boards" --metric accuracy --json > "$work/show.json"
python3 - "$work/show.json" <<'EOF' || fail "show --json does not list the 2 ci-smoke configurations as preliminary"
import json, sys
rows = json.load(open(sys.argv[1]))
assert len(rows) == 2, rows
# 2 seeds each: fewer than the 3 a rank needs, so both are listed as preliminary, unranked
assert all(r["n"] == 2 and r["rank"] is None and r["status"] == "preliminary" for r in rows), rows
EOF

echo "-- a second identical update changes nothing"
cp -r "$boards" "$work/before"
ffbench leaderboard update "$results" --boards "$boards" --quiet > /dev/null
for f in "$work/before"/*; do
  cmp -s "$f" "$boards/$(basename "$f")" || fail "second update changed $(basename "$f")"
done

echo "-- the Markdown is what the boards render to, and diff sees no change"
ffbench leaderboard render --check --boards "$boards"
[ "$(ffbench leaderboard diff "$work/before" "$boards" --json | tr -d '[:space:]')" = "[]" ] \
  || fail "diff of identical boards is not empty"

echo "-- a corrupt board is refused and left untouched"
printf 'not parquet' > "$boards/fashion-mnist-mini.parquet"
if ffbench leaderboard update "$results" --boards "$boards" --quiet > /dev/null 2>&1; then
  fail "update accepted a corrupt board"
fi
[ "$(cat "$boards/fashion-mnist-mini.parquet")" = "not parquet" ] || fail "the corrupt board was overwritten"

echo "ci_leaderboard_check: OK"
