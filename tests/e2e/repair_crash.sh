#!/usr/bin/env bash
# Crash safety of `repair index` (issue 4, point 7): killed with SIGKILL at
# random points, it never leaves damage of its own (check finds nothing but
# the index gaps it was repairing), and the next run completes the job.
set -euo pipefail
lifeboat=${1:?usage: repair_crash.sh path/to/lifeboat}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/lifeboat-repair-crash-XXXXXX)
trap 'rm -rf "$work"' EXIT
export LIFEBOAT_PASSWORD=repair-crash LIFEBOAT_TEST_FAST_KDF=1 LIFEBOAT_REPOSITORY=$work/repo
fail() { echo "FAIL: $*"; exit 1; }
# shellcheck source=lib/kill_points.sh
. "$here/lib/kill_points.sh"

python3 "$here/../../bench/gen_node.py" --out "$work/home" --accounts 30 --scale 0.05 --seed 5 >/dev/null
"$lifeboat" init >/dev/null 2>&1
"$lifeboat" node backup "$work/home" --node web1 -q 2>/dev/null
# Most segments deleted, one of the two left damaged: the repair indexes
# the unlisted packs, then replaces the damaged segment (removal included).
ls "$work"/repo/index | tail -n +3 | while read -r s; do rm -f "$work/repo/index/$s"; done
bad=$(ls "$work"/repo/index | head -1)
[ -n "$bad" ] || fail "no index segment written"
chmod u+w "$work/repo/index/$bad"
printf 'X' | dd of="$work/repo/index/$bad" bs=1 seek=100 conv=notrunc status=none

# How long an uninterrupted repair takes, to spread the kills over it.
cp -a "$work/repo" "$work/probe"
full_ms=$(duration_ms "$lifeboat" repair index --repo "$work/probe" -q)
rm -rf "$work/probe"

RANDOM=99
killed=0
for i in $(seq 1 12); do
  delay_ms=$(( RANDOM % full_ms ))
  full=(); [ $((i % 2)) = 0 ] && full=(--full)
  if kill_after_ms "$delay_ms" "$lifeboat" repair index "${full[@]}" -q; then killed=$((killed + 1)); fi
  # Nothing but index gaps (packs no segment lists yet) may be reported.
  "$lifeboat" check --json >"$work/check.json" 2>/dev/null || true
  other=$(jq '[.problems[] | select(.kind != "index")] | length' "$work/check.json")
  [ "$other" = 0 ] || { jq '.problems[] | select(.kind != "index")' "$work/check.json" | head -20; fail "repair killed after ${delay_ms} ms left damage"; }
  jq -e --arg bad "$bad" '[.problems[] | select(.object != $bad) | select(.message | test("damaged|does not match"))] | length == 0' "$work/check.json" >/dev/null ||
    fail "repair killed after ${delay_ms} ms left a damaged segment"
done
echo "killed $killed of 12 repairs mid-run; none left damage"
"$lifeboat" repair index --json >"$work/final.json" 2>/dev/null || fail "the repair after the kills failed"
[ ! -e "$work/repo/index/$bad" ] || fail "the damaged segment $bad is still there"
"$lifeboat" check --read-data --json >"$work/check.json" 2>/dev/null || { jq . "$work/check.json" | head -30; fail "check rejects the repository after the final repair"; }
jq -e '.warnings | length == 0' "$work/check.json" >/dev/null || { jq .warnings "$work/check.json"; fail "check still warns after the repair"; }
"$lifeboat" restore latest --account "$(ls "$work/home" | sed -n 1p)" --target "$work/one" -q 2>/dev/null
diff -r --no-dereference "$work/home/$(ls "$work/home" | sed -n 1p)" "$work/one" || fail "restore after repair differs"
echo "OK: the final repair read $(jq .packs_read "$work/final.json") packs; check passes"
