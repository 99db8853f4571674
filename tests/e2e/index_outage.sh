#!/usr/bin/env bash
# Law 3, the outage this project answers: the index broke for some accounts
# and they could not be restored until a re-index ran after everything
# else. Here half the index segments are deleted and one is truncated; a
# whole-node restore still brings every account back exactly, without any
# global step first and without operator action (it reads the trailers of
# the packs no readable segment lists, and says so). `repair index` then
# writes the index back, and `check` accepts the repository.
set -euo pipefail
lifeboat=${1:?usage: index_outage.sh path/to/lifeboat}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/lifeboat-index-outage-XXXXXX)
trap 'rm -rf "$work"' EXIT
export LIFEBOAT_PASSWORD=index-outage LIFEBOAT_TEST_FAST_KDF=1 LIFEBOAT_REPOSITORY=$work/repo
fail() { echo "FAIL: $*"; exit 1; }

python3 "$here/../../bench/gen_node.py" --out "$work/home" --accounts 40 --scale 0.03 --seed 7 >/dev/null
"$lifeboat" init >/dev/null 2>&1
"$lifeboat" node backup "$work/home" --node web209 -q 2>/dev/null

segments=("$work"/repo/index/*)
[ ${#segments[@]} -ge 4 ] || fail "expected several index segments, got ${#segments[@]}"
for ((i = 0; i < ${#segments[@]}; i += 2)); do rm "${segments[$i]}"; done
truncate -s 100 "${segments[1]}"
echo "damaged the index: deleted $(((${#segments[@]} + 1) / 2)) of ${#segments[@]} segments, truncated one more"

"$lifeboat" node restore --node web209 --target "$work/out" --json >"$work/r.json" 2>"$work/r.err" ||
  { cat "$work/r.err"; fail "node restore with a damaged index failed"; }
[ "$(jq .summary.ready "$work/r.json")" = 40 ] || fail "not every account was restored: $(jq -c .summary "$work/r.json")"
grep -q "repair index" "$work/r.err" || fail "no warning saying what was repaired: $(cat "$work/r.err")"
diff -r --no-dereference -x .lifeboat-restore "$work/home" "$work/out" || fail "restored node differs"

# A single account's restore with no index at all.
mv "$work/repo/index" "$work/index-away" && mkdir "$work/repo/index"
"$lifeboat" restore latest --account "$(ls "$work/home" | sed -n 1p)" --target "$work/one" -q 2>/dev/null ||
  fail "restore with no index at all failed"
diff -r --no-dereference "$work/home/$(ls "$work/home" | sed -n 1p)" "$work/one" || fail "account restored without an index differs"
rmdir "$work/repo/index" 2>/dev/null || rm -rf "$work/repo/index"
mv "$work/index-away" "$work/repo/index"

"$lifeboat" repair index --json >"$work/repair.json" 2>/dev/null || fail "repair index failed"
[ "$(jq .packs_read "$work/repair.json")" -gt 0 ] || fail "repair index read nothing"
[ "$(jq '.unreadable_packs | length' "$work/repair.json")" = 0 ] || fail "unreadable packs"
"$lifeboat" check --read-data -q 2>/dev/null || fail "check rejects the repaired repository"
"$lifeboat" node restore --node web209 --target "$work/out2" -q 2>"$work/r2.err" || fail "restore after repair failed"
! grep -q "repair index" "$work/r2.err" || fail "the index still lacks blobs after repair index"
# The daily drill: everything restores and verifies; then a damaged pack is
# found (exit 11) and named, and the scratch space is gone either way.
"$lifeboat" drill --all --scratch "$work/drill" --json >"$work/drill.json" 2>/dev/null || fail "drill of a sound repository failed"
[ "$(jq .summary.ok "$work/drill.json")" = 40 ] || fail "drill: $(jq -c .summary "$work/drill.json")"
[ ! -e "$work/drill" ] || fail "drill left its scratch directory"
pack=$(find "$work/repo/data" -type f -size +1M | sort | sed -n 1p)
size=$(stat -c %s "$pack")
printf '\xff' | dd of="$pack" bs=1 seek=$((size / 2)) conv=notrunc status=none
set +e
"$lifeboat" drill --all --scratch "$work/drill" --json >"$work/drill2.json" 2>"$work/drill2.err"
rc=$?
set -e
[ $rc = 11 ] || fail "drill over a damaged pack: exit $rc, expected 11"
[ "$(jq .summary.failed "$work/drill2.json")" -ge 1 ] || fail "drill did not name a failed account"
[ ! -e "$work/drill" ] || fail "drill left its scratch directory after a failure"
# Salvage: the damaged snapshots are rewritten with what is readable (the
# lost parts marked damaged) and the originals forgotten; then the drill
# passes again, and every account still restores.
"$lifeboat" repair snapshots --read-data --forget --json >"$work/salvage.json" 2>/dev/null || fail "repair snapshots failed"
[ "$(jq .repaired "$work/salvage.json")" -ge 1 ] || fail "repair snapshots repaired nothing"
"$lifeboat" drill --all --scratch "$work/drill" -q 2>/dev/null || fail "drill after repair snapshots failed"
echo "OK: every account restored with half the index gone; repair index read $(jq .packs_read "$work/repair.json") packs; check passes"
