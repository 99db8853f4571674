#!/usr/bin/env bash
# Law 5: prune deletes while other nodes back up, and never what a snapshot
# needs. Two backup processes (two nodes) run in a loop, and a third runs
# one long backup, while forget and
# prune run again and again. Every backup reuses files from a shared pool,
# so it keeps meeting content whose only copy sits in a pack a prune has
# planned to delete (its snapshot was just forgotten): the race two-phase
# deletion exists for. Then `check --read-data` must be clean and every
# remaining snapshot must restore exactly.
set -euo pipefail
lifeboat=${1:?usage: prune_concurrent.sh path/to/lifeboat}
work=$(mktemp -d /tmp/lifeboat-prune-cc-XXXXXX)
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export LIFEBOAT_PASSWORD=prune-test LIFEBOAT_TEST_FAST_KDF=1
repo=$work/repo
"$lifeboat" init --repo "$repo" >/dev/null 2>&1

# The pool: 40 files of 100 KiB - 1.6 MiB.
mkdir -p "$work/pool"
RANDOM=777
for i in $(seq 0 39); do
  head -c $(( (RANDOM % 16 + 1) * 100 * 1024 )) /dev/urandom > "$work/pool/p$i"
done

# writer NODE ITERATIONS SEED: each iteration backs up a new directory of
# six pool files and one file of its own. Source directories are never
# changed after their backup, so each snapshot can be compared with its own.
writer() {
  local node=$1 n=$2 k src
  RANDOM=$3
  for k in $(seq 1 "$n"); do
    src=$work/src/$node-$k
    mkdir -p "$src/sub"
    for j in 1 2 3 4 5 6; do cp "$work/pool/p$(( RANDOM % 40 ))" "$src/sub/f$j" 2>/dev/null || true; done
    head -c $(( RANDOM * 8 )) /dev/urandom > "$src/own"
    "$lifeboat" backup "$src" --node "$node" --account site --repo "$repo" >/dev/null 2>>"$work/$node.err" ||
      { echo "FAIL: backup $node-$k failed:"; cat "$work/$node.err"; exit 1; }
  done
}

iterations=${PRUNE_ITERATIONS:-14}
# A third node with one long backup (a big account): the first prunes
# certainly overlap a running backup, so their plans must wait.
mkdir -p "$work/src/web3-1"
head -c $(( 96 << 20 )) /dev/urandom > "$work/src/web3-1/big"
cp "$work/pool/p1" "$work/pool/p2" "$work/src/web3-1/"
"$lifeboat" backup "$work/src/web3-1" --node web3 --account site --repo "$repo" >/dev/null 2>>"$work/web3.err" &
w3=$!
writer web1 "$iterations" 11 &
w1=$!
writer web2 "$iterations" 22 &
w2=$!

prunes=0 deleted=0 waited=0 repacked=0
running() { kill -0 "$w1" 2>/dev/null || kill -0 "$w2" 2>/dev/null || kill -0 "$w3" 2>/dev/null; }
while running; do
  "$lifeboat" forget --keep-last 2 --repo "$repo" >/dev/null 2>>"$work/forget.err" || { cat "$work/forget.err"; exit 1; }
  "$lifeboat" prune --json --repo "$repo" >"$work/prune.json" 2>>"$work/prune.err" ||
    { echo "FAIL: prune failed:"; cat "$work/prune.err"; exit 1; }
  prunes=$((prunes + 1))
  deleted=$((deleted + $(jq .deleted.packs "$work/prune.json")))
  waited=$((waited + $(jq .waiting.plans "$work/prune.json")))
  repacked=$((repacked + $(jq .planned.packs_repacked "$work/prune.json")))
done
wait "$w1" || { echo "FAIL: writer web1"; exit 1; }
wait "$w2" || { echo "FAIL: writer web2"; exit 1; }
wait "$w3" || { echo "FAIL: backup web3:"; cat "$work/web3.err"; exit 1; }
echo "ran $prunes prunes while two nodes backed up: $deleted packs deleted, $repacked repacked, $waited times a plan waited for a running backup"
[ "$prunes" -ge 3 ] || { echo "FAIL: only $prunes prunes ran during the backups"; exit 1; }
[ "$deleted" -gt 0 ] || { echo "FAIL: no prune deleted anything"; exit 1; }
[ "$waited" -gt 0 ] || { echo "FAIL: no plan ever waited for a backup: the race was not exercised"; exit 1; }

# One last forget and prune with nobody writing: it finishes every plan.
"$lifeboat" forget --keep-last 2 --repo "$repo" >/dev/null 2>&1
"$lifeboat" prune --json --repo "$repo" >"$work/prune.json" 2>/dev/null
[ "$(jq .waiting.plans "$work/prune.json")" = 0 ] || { echo "FAIL: a plan still waits with no writer"; cat "$work/prune.json"; exit 1; }
[ -z "$(ls "$repo/locks")" ] || { echo "FAIL: records left in locks/: $(ls "$repo/locks")"; exit 1; }

"$lifeboat" check --read-data --repo "$repo" >"$work/check.out" 2>&1 ||
  { echo "FAIL: check --read-data after concurrent prunes"; cat "$work/check.out"; exit 1; }
grep -q "no problems found" "$work/check.out" || { echo "FAIL: check reported:"; cat "$work/check.out"; exit 1; }

# Every snapshot left restores to exactly its source.
count=0
for id in $("$lifeboat" snapshots --json --repo "$repo" 2>/dev/null | jq -r '.[].id'); do
  path=$("$lifeboat" snapshots --json --repo "$repo" 2>/dev/null | jq -r --arg id "$id" '.[] | select(.id == $id) | .paths[0]')
  rm -rf "$work/out"
  "$lifeboat" restore "$id" --target "$work/out" --repo "$repo" >/dev/null 2>&1 ||
    { echo "FAIL: restore of $id ($path)"; exit 1; }
  diff -r --no-dereference "$path" "$work/out" >/dev/null || { echo "FAIL: snapshot $id differs from $path"; exit 1; }
  count=$((count + 1))
done
[ "$count" -eq 5 ] || { echo "FAIL: expected 5 snapshots (2 nodes x keep-last 2, and web3's), found $count"; exit 1; }
echo "check --read-data clean; all $count snapshots restore exactly"
