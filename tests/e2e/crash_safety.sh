#!/usr/bin/env bash
# Law 2: a backup killed with SIGKILL at any moment leaves a repository that
# `check` accepts, and the next backup completes. Kills backups at many
# random points (spread over the whole run: walk, packing, uploads, index,
# snapshot) and checks both every time; finally restores and compares.
set -euo pipefail
lifeboat=${1:?usage: crash_safety.sh path/to/lifeboat}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/lifeboat-crash-XXXXXX)
trap 'rm -rf "$work"' EXIT
export LIFEBOAT_PASSWORD=crash-test LIFEBOAT_TEST_FAST_KDF=1
repo=$work/repo
src=$work/src

python3 "$here/../../bench/gen_node.py" --out "$src" --accounts 8 --scale 0.1 --seed 11 >/dev/null
"$lifeboat" init --repo "$repo" >/dev/null

# Every backup below re-reads everything (--force) and has new data to
# write, so a kill can land in the walk, in packing, in uploads, in the
# index segment or in the snapshot write. Time one such backup to spread
# the kills over it.
add_new_data() { head -c $((6 << 20)) /dev/urandom > "$src/$(ls "$src" | head -1)/new-$1.bin"; }
"$lifeboat" init --repo "$work/probe-repo" >/dev/null 2>&1
"$lifeboat" backup "$src" --account probe --repo "$work/probe-repo" >/dev/null
add_new_data probe
start=$(date +%s%N)
"$lifeboat" backup "$src" --account probe --force --repo "$work/probe-repo" >/dev/null
full_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$full_ms" -gt 20 ] || full_ms=20
echo "uninterrupted backup: ${full_ms} ms"

iterations=${CRASH_ITERATIONS:-25}
RANDOM=4242
killed=0
for i in $(seq 1 "$iterations"); do
  delay_ms=$(( RANDOM % (full_ms + full_ms / 4) ))
  add_new_data "$i"
  "$lifeboat" backup "$src" --account acct --force --repo "$repo" >/dev/null 2>&1 &
  pid=$!
  sleep "$(printf '0.%03d' $(( delay_ms % 1000 )))"
  sleep $(( delay_ms / 1000 ))
  if kill -KILL "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
  wait "$pid" 2>/dev/null || true
  if ! "$lifeboat" check --repo "$repo" >"$work/check.out" 2>&1; then
    echo "FAIL: check rejected the repository after a kill at ${delay_ms} ms (iteration $i)"
    cat "$work/check.out"
    exit 1
  fi
done
echo "killed $killed of $iterations backups mid-run; check accepted the repository every time"
[ "$killed" -ge $(( iterations / 2 )) ] || { echo "FAIL: too few kills landed mid-run ($killed)"; exit 1; }

# The next backup completes, and what it saved restores exactly.
"$lifeboat" backup "$src" --account acct --repo "$repo" >/dev/null
"$lifeboat" check --repo "$repo" --read-data >/dev/null
"$lifeboat" restore latest --account acct --target "$work/restored" --repo "$repo" >/dev/null
diff -r --no-dereference "$src" "$work/restored"
echo "OK"
