#!/usr/bin/env bash
# An append-only tier (issue 6 point 5): the nodes back up through a REST
# server in append-only mode (their credentials cannot delete), while
# forget and prune run with separate prune credentials (a second server on
# the same storage without --append-only). Backups keep working, deletion
# with the backup credentials is refused and removes nothing, the prune job
# deletes what no snapshot needs, and a node writing snapshots dated in 2099
# cannot make the policy forget real ones.
set -euo pipefail
lifeboat=${1:?usage: prune_append_only.sh path/to/lifeboat}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/ports.sh"
server="$here/../../scripts/start-rclone-rest"
work=$(mktemp -d /tmp/lifeboat-prune-ao-XXXXXX)
backup_port=$(free_port)
prune_port=$(free_port)
while [ "$prune_port" = "$backup_port" ]; do prune_port=$(free_port); done
cleanup() {
  STATE=$work/backup-server PORT=$backup_port bash "$server" stop >/dev/null 2>&1 || true
  STATE=$work/prune-server PORT=$prune_port bash "$server" stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
export LIFEBOAT_PASSWORD=append-only-test LIFEBOAT_TEST_FAST_KDF=1

# Both servers serve one directory: STATE/repo of the first.
mkdir -p "$work/backup-server" "$work/prune-server"
STATE=$work/backup-server PORT=$backup_port REST_USER=node REST_PASS=node-pass APPEND_ONLY=1 bash "$server" start >/dev/null
ln -s "$work/backup-server/repo" "$work/prune-server/repo"
STATE=$work/prune-server PORT=$prune_port REST_USER=pruner REST_PASS=prune-pass bash "$server" start >/dev/null
nodes="rest:http://node:node-pass@127.0.0.1:$backup_port/"
pruner="rest:http://pruner:prune-pass@127.0.0.1:$prune_port/"

mkdir -p "$work/pool"
for i in $(seq 0 9); do head -c $(( (i + 1) * 150 * 1024 )) /dev/urandom > "$work/pool/p$i"; done
day=0
backup_day() {  # a new source each day; older days' unique data becomes garbage once forgotten
  day=$((day + 1))
  local src=$work/src/d$day
  mkdir -p "$src"
  cp "$work/pool/p$((day % 10))" "$work/pool/p$(((day + 3) % 10))" "$src/"
  head -c $(( 512 * 1024 )) /dev/urandom > "$src/own"
  "$lifeboat" backup "$src" --node web1 --account site --time "2026-11-$(printf %02d "$day")T02:00:00Z" \
    --repo "$nodes" -q 2>"$work/err" || { cat "$work/err"; fail "backup day $day through the append-only server"; }
}
"$lifeboat" init --repo "$nodes" -q 2>"$work/err" || { cat "$work/err"; fail "init"; }
for d in 1 2 3 4 5 6 7 8; do backup_day; done
echo "8 daily backups through the append-only server"

# A compromised node writes snapshots dated 2099 to push real ones out.
"$lifeboat" backup "$work/pool" --node web1 --account site --time 2099-01-01T00:00:00Z --repo "$nodes" -q 2>/dev/null
"$lifeboat" backup "$work/pool" --node web1 --account site --time 2099-01-02T00:00:00Z --repo "$nodes" -q 2>/dev/null

# The backup credentials cannot forget or prune, and nothing changes.
before=$(ls "$work/backup-server/repo/snapshots" "$work/backup-server/repo/data"/* | wc -l)
set +e
"$lifeboat" forget --keep-daily 3 --repo "$nodes" >"$work/out" 2>"$work/err"
rc=$?
set -e
[ "$rc" = 14 ] || { cat "$work/err"; fail "forget with the backup credentials: exit $rc, expected 14"; }
set +e
"$lifeboat" prune --repo "$nodes" >"$work/out" 2>"$work/err"
rc=$?
set -e
[ "$rc" != 0 ] || fail "prune with the backup credentials succeeded"
[ "$(wc -l < "$work/err")" = 1 ] || { cat "$work/err"; fail "prune's refusal is not one line"; }
after=$(ls "$work/backup-server/repo/snapshots" "$work/backup-server/repo/data"/* | wc -l)
[ "$before" = "$after" ] || fail "objects changed ($before -> $after) with the backup credentials"
echo "backup credentials: forget refused (exit 14), prune refused (exit $rc): $(cat "$work/err")"

# The prune job: the forged snapshots are kept and fill no quota, so the
# three real newest days stay.
"$lifeboat" forget --keep-daily 3 --repo "$pruner" --json >"$work/forget.json" 2>/dev/null || fail "forget with prune credentials"
kept_real=$("$lifeboat" snapshots --json --repo "$pruner" 2>/dev/null | jq -r '.[].time' | grep -c '^2026-11-0[678]') || true
[ "$kept_real" = 3 ] || { cat "$work/forget.json"; fail "expected the 3 newest real days kept, found $kept_real"; }
[ "$("$lifeboat" snapshots --json --repo "$pruner" 2>/dev/null | jq length)" = 5 ] || fail "expected 3 real + 2 forged snapshots"
"$lifeboat" prune --json --repo "$pruner" >"$work/prune.json" 2>"$work/err" || { cat "$work/err"; fail "prune with prune credentials"; }
deleted=$(jq .deleted.packs "$work/prune.json")
[ "$deleted" -gt 0 ] || { cat "$work/prune.json"; fail "prune deleted nothing"; }
[ "$(jq .waiting.plans "$work/prune.json")" = 0 ] || { cat "$work/prune.json"; fail "a plan waits although no backup runs"; }
# The markers the append-only backups could not remove are gone too.
[ -z "$(ls "$work/backup-server/repo/locks")" ] || fail "records left in locks/: $(ls "$work/backup-server/repo/locks")"
echo "prune credentials: kept the 3 newest real days beside 2 forged ones, deleted $deleted packs"

# Backups go on through the append-only server, and everything is intact.
backup_day
"$lifeboat" check --read-data --repo "$pruner" >"$work/check" 2>&1 || { cat "$work/check"; fail "check --read-data"; }
grep -q "no problems found" "$work/check" || { cat "$work/check"; fail "check found problems"; }
for id in $("$lifeboat" snapshots --json --repo "$nodes" 2>/dev/null | jq -r '.[] | select(.time < "2099") | .id'); do
  path=$("$lifeboat" snapshots --json --repo "$nodes" 2>/dev/null | jq -r --arg id "$id" '.[] | select(.id == $id) | .paths[0]')
  rm -rf "$work/out-dir"
  "$lifeboat" restore "$id" --target "$work/out-dir" --repo "$nodes" -q 2>/dev/null || fail "restore $id"
  diff -r "$path" "$work/out-dir" >/dev/null || fail "snapshot $id differs from $path"
done
echo "after prune: a new backup through the append-only server, check --read-data clean, every real snapshot exact"
