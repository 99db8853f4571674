#!/usr/bin/env bash
# Crash safety of `repair snapshots --forget` (issue 4, point 7): killed with
# SIGKILL at random points, it never adds damage of its own (every problem
# check reports is the original damage, in original snapshots; no repaired
# snapshot is affected, no snapshot object is half written), and the next
# run completes: one repaired snapshot per damaged original, originals
# forgotten, and after `repair index` check passes.
set -euo pipefail
lifeboat=${1:?usage: repair_snapshots_crash.sh path/to/lifeboat}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/lifeboat-repair-snap-crash-XXXXXX)
trap 'rm -rf "$work"' EXIT
export LIFEBOAT_PASSWORD=repair-snap LIFEBOAT_TEST_FAST_KDF=1 LIFEBOAT_REPOSITORY=$work/repo
fail() { echo "FAIL: $*"; exit 1; }
# shellcheck source=lib/kill_points.sh
. "$here/lib/kill_points.sh"

python3 "$here/../../bench/gen_node.py" --out "$work/home" --accounts 30 --scale 0.05 --seed 9 >/dev/null
"$lifeboat" init >/dev/null 2>&1
"$lifeboat" node backup "$work/home" --node web1 -q 2>/dev/null

# Lose three packs: the snapshots that needed them are damaged.
packs=$(find "$work/repo/data" -type f | sort)
npacks=$(echo "$packs" | wc -l)
[ "$npacks" -ge 6 ] || fail "only $npacks packs"
for k in 2 $((npacks / 2)) $((npacks - 1)); do rm -f "$(echo "$packs" | sed -n "${k}p")"; done
"$lifeboat" check --json >"$work/before.json" 2>/dev/null || true
jq -r '[.problems[].snapshots[]] | unique | .[]' "$work/before.json" | sort >"$work/damaged.txt"
ndamaged=$(wc -l <"$work/damaged.txt")
[ "$ndamaged" -ge 1 ] || fail "the lost packs damaged no snapshot"
"$lifeboat" snapshots --json 2>/dev/null | jq -r '.[].id' | sort >"$work/originals.txt"

# How long an uninterrupted repair takes, to spread the kills over it.
cp -a "$work/repo" "$work/probe"
full_ms=$(duration_ms "$lifeboat" repair snapshots --forget --repo "$work/probe" -q)
rm -rf "$work/probe"

RANDOM=7
killed=0
for i in $(seq 1 10); do
  delay_ms=$(( RANDOM % full_ms ))
  if kill_after_ms "$delay_ms" "$lifeboat" repair snapshots --forget -q; then killed=$((killed + 1)); fi
  "$lifeboat" check --json >"$work/check.json" 2>/dev/null || true
  # No snapshot object is unreadable, and only original damaged snapshots are affected.
  jq -e '[.problems[] | select(.kind == "snapshot")] | length == 0' "$work/check.json" >/dev/null ||
    fail "repair killed after ${delay_ms} ms left a damaged snapshot object"
  jq -r '[.problems[] | select(.restorable | not) | .snapshots[]] | unique | .[]' "$work/check.json" | sort >"$work/now.txt"
  extra=$(comm -13 "$work/damaged.txt" "$work/now.txt")
  if [ -n "$extra" ]; then
    jq -c --arg s "$extra" '.problems[] | select(.snapshots | index($s)) | {kind, object, message, files}' "$work/check.json" | head -5
    "$lifeboat" snapshots --json 2>/dev/null | jq -c --arg s "$extra" '.[] | select(.id == $s) | {tags, account}'
    fail "repair killed after ${delay_ms} ms: snapshots affected that were not before: $extra"
  fi
done
echo "killed $killed of 10 repairs mid-run; none added damage"

"$lifeboat" repair snapshots --forget --json >"$work/final.json" 2>/dev/null || fail "the repair after the kills failed"
"$lifeboat" snapshots --json 2>/dev/null >"$work/snaps.json"
# One snapshot per account, none of them a damaged original, each damaged one repaired exactly once.
[ "$(jq length "$work/snaps.json")" = 30 ] || fail "$(jq length "$work/snaps.json") snapshots, want 30 (one per account)"
[ "$(jq '[.[] | select(.tags | index("repaired"))] | length' "$work/snaps.json")" = "$ndamaged" ] ||
  fail "want $ndamaged repaired snapshots"
for s in $(cat "$work/damaged.txt"); do
  ! jq -e --arg s "$s" 'any(.[]; .id == $s)' "$work/snaps.json" >/dev/null || fail "damaged original $s is still there"
done
"$lifeboat" repair index -q 2>/dev/null
"$lifeboat" check --read-data -q 2>/dev/null || fail "check rejects the repository after the repairs"
mkdir "$work/out"
"$lifeboat" node restore --node web1 --target "$work/out" -q 2>/dev/null ||
  fail "node restore after the repairs failed"
echo "OK: $ndamaged damaged snapshots repaired once each; check passes; every account restores"
