#!/usr/bin/env bash
# A prune killed with SIGKILL at any moment (walking, repacking, writing
# the plan, rewriting index segments, deleting packs) leaves a repository
# that `check` accepts, and the next prune finishes the job. Each round adds
# garbage (a new backup, older snapshots forgotten), kills a prune at a
# random point and checks; at the end one prune runs to completion, and
# check --read-data and a restore of every snapshot must be exact.
set -euo pipefail
lifeboat=${1:?usage: prune_crash.sh path/to/lifeboat}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/kill_points.sh"
work=$(mktemp -d /tmp/lifeboat-prune-crash-XXXXXX)
trap 'rm -rf "$work"' EXIT
export LIFEBOAT_PASSWORD=prune-crash LIFEBOAT_TEST_FAST_KDF=1
repo=$work/repo
"$lifeboat" init --repo "$repo" >/dev/null 2>&1

mkdir -p "$work/pool"
RANDOM=99
for i in $(seq 0 59); do head -c $(( (RANDOM % 8 + 1) * 256 * 1024 )) /dev/urandom > "$work/pool/p$i"; done
# round K: a new source directory of pool files plus its own data.
new_backup() {
  local src=$work/src/$1 j
  mkdir -p "$src"
  for j in $(seq 1 12); do cp "$work/pool/p$(( RANDOM % 60 ))" "$src/f$j"; done
  head -c $(( 4 << 20 )) /dev/urandom > "$src/own"
  "$lifeboat" backup "$src" --account site --repo "$repo" >/dev/null 2>&1
}
for k in 1 2 3 4 5 6; do new_backup "$k"; done

# How long an uninterrupted prune of this much garbage takes, on a copy.
cp -a "$repo" "$work/probe"
"$lifeboat" forget --keep-last 2 --repo "$work/probe" >/dev/null 2>&1
full_ms=$(duration_ms "$lifeboat" prune --repo "$work/probe")
rm -rf "$work/probe"
echo "uninterrupted prune: ${full_ms} ms"

rounds=${PRUNE_CRASH_ROUNDS:-16}
killed=0
for k in $(seq 1 "$rounds"); do
  new_backup "r$k"
  "$lifeboat" forget --keep-last 2 --repo "$repo" >/dev/null 2>&1
  # Time an uninterrupted prune of this very state (on a copy), so the kill
  # can land in any of its phases.
  rm -rf "$work/probe" && cp -a "$repo" "$work/probe"
  full_ms=$(duration_ms "$lifeboat" prune --repo "$work/probe")
  if kill_after_ms $(( RANDOM % (full_ms + full_ms / 4) )) "$lifeboat" prune --repo "$repo"; then
    killed=$((killed + 1))
  fi
  if ! "$lifeboat" check --repo "$repo" >"$work/check.out" 2>&1; then
    echo "FAIL: check rejected the repository after prune was killed (round $k)"
    cat "$work/check.out"
    exit 1
  fi
  # The snapshots kept still restore after every kill.
  "$lifeboat" restore latest --target "$work/out" --repo "$repo" >/dev/null 2>&1 ||
    { echo "FAIL: restore after a killed prune (round $k)"; exit 1; }
  diff -r "$work/src/r$k" "$work/out" >/dev/null || { echo "FAIL: latest snapshot differs after round $k"; exit 1; }
  rm -rf "$work/out"
done
echo "killed $killed of $rounds prunes mid-run; check accepted the repository every time"
[ "$killed" -ge $(( rounds / 3 )) ] || { echo "FAIL: too few prunes were killed mid-run ($killed)"; exit 1; }

# The next prune finishes the job: nothing unused is left, no plan waits.
"$lifeboat" prune --json --repo "$repo" >"$work/prune.json" 2>/dev/null
"$lifeboat" prune --json --repo "$repo" >"$work/prune2.json" 2>/dev/null
[ "$(jq .waiting.plans "$work/prune2.json")" = 0 ] || { echo "FAIL: a plan still waits"; cat "$work/prune2.json"; exit 1; }
[ "$(jq .planned.packs_unused "$work/prune2.json")" = 0 ] || { echo "FAIL: unused packs left after a complete prune"; cat "$work/prune2.json"; exit 1; }
[ -z "$(ls "$repo/locks")" ] || { echo "FAIL: records left in locks/"; exit 1; }
"$lifeboat" check --read-data --repo "$repo" >"$work/check.out" 2>&1 || { cat "$work/check.out"; exit 1; }
grep -q "no problems found" "$work/check.out" || { echo "FAIL: check after the final prune:"; cat "$work/check.out"; exit 1; }
for id in $("$lifeboat" snapshots --json --repo "$repo" 2>/dev/null | jq -r '.[].id'); do
  path=$("$lifeboat" snapshots --json --repo "$repo" 2>/dev/null | jq -r --arg id "$id" '.[] | select(.id == $id) | .paths[0]')
  rm -rf "$work/out"
  "$lifeboat" restore "$id" --target "$work/out" --repo "$repo" >/dev/null 2>&1
  diff -r "$path" "$work/out" >/dev/null || { echo "FAIL: snapshot $id differs from $path"; exit 1; }
done
echo "the next prune finished the job; check --read-data clean; every snapshot restores exactly"
