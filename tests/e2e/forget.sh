#!/usr/bin/env bash
# forget through the binary: a history of snapshots at chosen times
# (`backup --time`, `node backup --time`) over two nodes and two accounts;
# each rule's decisions in --dry-run --json, a dry run that deletes nothing,
# a real run that deletes exactly what it listed, a forged snapshot dated
# 2099 that pushes no real snapshot out, and an append-only REST server
# that refuses forget (exit 14) with nothing removed.
set -euo pipefail
lifeboat=${1:?usage: forget.sh path/to/lifeboat}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/ports.sh
. "$here/lib/ports.sh"
server="$here/../../scripts/start-rclone-rest"
work=$(mktemp -d /tmp/lifeboat-forget-XXXXXX)
cleanup() { STATE=$work/rclone bash "$server" stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
export LIFEBOAT_PASSWORD=forget-test LIFEBOAT_TEST_FAST_KDF=1
export LIFEBOAT_REPOSITORY=$work/repo
lb() { "$lifeboat" "$@"; }
count_snapshots() { ls "$1/snapshots" | wc -l; }

mkdir -p "$work/home/alice" "$work/home/bob"
echo "alice's site" >"$work/home/alice/index.html"
echo "bob's mail" >"$work/home/bob/inbox"
lb init -q

# web1: every day 2024-01-01..10 at 03:00, and 15:00 on the 9th and 10th
# (12 per account); web2: the 5th of January, February, March.
for d in 01 02 03 04 05 06 07 08 09 10; do
  lb node backup "$work/home" --node web1 --time "2024-01-${d}T03:00:00Z" -q
done
for d in 09 10; do lb node backup "$work/home" --node web1 --time "2024-01-${d}T15:00:00Z" -q; done
for m in 01 02 03; do lb node backup "$work/home" --node web2 --time "2024-${m}-05T12:00:00Z" -q; done
# One old tagged snapshot of web1/alice (13 in that group).
lb backup "$work/home/alice" --account alice --node web1 --tag keepme --time "2023-06-01T00:00:00Z" -q
total=$(count_snapshots "$work/repo")
[ "$total" = 31 ] || fail "history: $total snapshots, want 31"

# `backup --time` recorded the time given.
[ "$(lb snapshots --node web1 --account alice --json | jq -r '.[0].time')" = 2023-06-01T00:00:00.000000000Z ] ||
  fail "backup --time: the snapshot's time is not the one given"

# No rule and no ids: refused, nothing removed.
set +e
lb forget >/dev/null 2>"$work/err"; rc=$?
set -e
[ "$rc" = 2 ] || { cat "$work/err"; fail "forget without rules: exit $rc, want 2"; }
grep -q "keep" "$work/err" || { cat "$work/err"; fail "forget without rules: the message does not name --keep-*"; }

# plan RULES... : the --dry-run --json decisions.
plan() { lb forget --dry-run --json "$@"; }
# kept GROUP_FILTER: "time reasons" of the kept snapshots of web1/alice, newest last.
# Times without their (zero) nanoseconds.
kept_alice() { jq -r '.groups[] | select(.node=="web1" and .account=="alice") | .keep[] | (.time | sub("\\.0+Z$"; "Z")) + " " + (.reasons | join(","))'; }

plan --keep-last 3 >"$work/p.json"
[ "$(jq '.groups | length' "$work/p.json")" = 4 ] || fail "keep-last: want 4 groups (2 nodes x 2 accounts)"
[ "$(jq '.totals.keep' "$work/p.json")" = 12 ] || fail "keep-last 3: keep $(jq '.totals.keep' "$work/p.json"), want 12"
[ "$(jq '.totals.remove' "$work/p.json")" = 19 ] || fail "keep-last 3: remove $(jq '.totals.remove' "$work/p.json"), want 19"
[ "$(jq '.totals.removed' "$work/p.json")" = 0 ] && [ "$(jq '.dry_run' "$work/p.json")" = true ] ||
  fail "keep-last: a dry run reports removals"
[ "$(kept_alice <"$work/p.json")" = "2024-01-09T15:00:00Z last
2024-01-10T03:00:00Z last
2024-01-10T15:00:00Z last" ] || { kept_alice <"$work/p.json"; fail "keep-last 3: wrong snapshots kept"; }
[ "$(count_snapshots "$work/repo")" = 31 ] || fail "--dry-run removed snapshots"

plan --keep-daily 3 >"$work/p.json"
[ "$(kept_alice <"$work/p.json")" = "2024-01-08T03:00:00Z daily
2024-01-09T15:00:00Z daily
2024-01-10T15:00:00Z daily" ] || { kept_alice <"$work/p.json"; fail "keep-daily 3: wrong snapshots kept"; }

plan --keep-hourly 3 >"$work/p.json"
[ "$(kept_alice <"$work/p.json" | wc -l)" = 3 ] || fail "keep-hourly 3: want 3 kept"

# Within counts back from the group's newest (2024-01-10 15:00), not from now.
plan --keep-within 2d >"$work/p.json"
[ "$(kept_alice <"$work/p.json")" = "2024-01-09T03:00:00Z within
2024-01-09T15:00:00Z within
2024-01-10T03:00:00Z within
2024-01-10T15:00:00Z within" ] || { kept_alice <"$work/p.json"; fail "keep-within 2d: wrong snapshots kept"; }

# 2024-01-01 is a Monday: ISO weeks 1 (01..07) and 2 (08..10).
plan --keep-weekly 5 >"$work/p.json"
[ "$(kept_alice <"$work/p.json")" = "2023-06-01T00:00:00Z weekly
2024-01-07T03:00:00Z weekly
2024-01-10T15:00:00Z weekly" ] || { kept_alice <"$work/p.json"; fail "keep-weekly: wrong snapshots kept"; }

plan --keep-monthly 2 >"$work/p.json"
[ "$(jq -r '.groups[] | select(.node=="web2" and .account=="bob") | [.keep[].time | sub("\\.0+Z$"; "Z")] | join(" ")' "$work/p.json")" = \
  "2024-02-05T12:00:00Z 2024-03-05T12:00:00Z" ] || fail "keep-monthly 2 on web2: wrong snapshots kept"

plan --keep-yearly 5 --keep-tag keepme >"$work/p.json"
[ "$(kept_alice <"$work/p.json")" = "2023-06-01T00:00:00Z yearly,tag:keepme
2024-01-10T15:00:00Z yearly" ] || { kept_alice <"$work/p.json"; fail "keep-yearly + keep-tag: wrong reasons"; }

# Filters and grouping: only web2's alice considered; one group when grouped by nothing.
plan --keep-last 1 --node web2 --account alice >"$work/p.json"
[ "$(jq -c '[.groups[] | [.node, .account, (.keep|length), (.remove|length)]]' "$work/p.json")" = '[["web2","alice",1,2]]' ] ||
  fail "--node/--account filter: $(jq -c .groups "$work/p.json")"
plan --keep-last 1 --group-by none >"$work/p.json"
[ "$(jq -c '[.groups[] | [.node, .account, (.keep|length)]]' "$work/p.json")" = '[[null,null,1]]' ] ||
  fail "--group-by none: $(jq -c .groups "$work/p.json")"

# Human dry run: per group the kept snapshots with reasons and what would go.
lb forget --dry-run --keep-last 1 --keep-daily 2 --node web1 --account alice >"$work/out.txt"
grep -q "^node web1, account alice: keep 2, remove 11" "$work/out.txt" &&
  grep -q "last, daily" "$work/out.txt" && grep -q "^would remove:" "$work/out.txt" &&
  grep -q "nothing removed (--dry-run)" "$work/out.txt" || { cat "$work/out.txt"; fail "human --dry-run output"; }
[ "$(count_snapshots "$work/repo")" = 31 ] || fail "--dry-run removed snapshots"

# A forged snapshot dated 2099 (a wrong clock, or a node writing to an
# append-only tier) is kept for a person to look at and pushes nothing out.
cp -a "$work/repo" "$work/forged"
LIFEBOAT_REPOSITORY=$work/forged lb backup "$work/home/alice" --account alice --node web1 \
  --time 2099-01-01T00:00:00Z -q
rules=(--keep-last 2 --keep-daily 3 --keep-weekly 1 --keep-within 1d)
real_kept() { jq -r '[.groups[].keep[] | select(.time < "2099") | .id] | sort | join(" ")'; }
plan "${rules[@]}" | real_kept >"$work/kept-honest"
LIFEBOAT_REPOSITORY=$work/forged plan "${rules[@]}" >"$work/p.json"
real_kept <"$work/p.json" >"$work/kept-forged"
cmp -s "$work/kept-honest" "$work/kept-forged" || fail "the forged 2099 snapshot changed which real snapshots are kept"
[ "$(jq -r '.groups[].keep[] | select(.time >= "2099") | .reasons | join(",")' "$work/p.json")" = "dated in the future" ] ||
  fail "the forged snapshot is not kept as dated in the future"

# The real run removes exactly the snapshots it lists, and only snapshot objects.
data_before=$(find "$work/repo/data" -type f | wc -l)
lb snapshots --json | jq -r '.[].id' | sort >"$work/before"
lb forget "${rules[@]}" --json >"$work/run.json"
jq -r '.groups[].remove[].id' "$work/run.json" | sort >"$work/removed"
jq -r '.groups[].keep[].id' "$work/run.json" | sort >"$work/kept"
lb snapshots --json | jq -r '.[].id' | sort >"$work/after"
[ -s "$work/removed" ] || fail "the real run removed nothing"
[ "$(jq '.totals.removed' "$work/run.json")" = "$(wc -l <"$work/removed")" ] || fail "totals.removed differs from the list"
cmp -s "$work/after" "$work/kept" || fail "the snapshots left are not the ones listed as kept"
[ "$(comm -23 "$work/before" "$work/after")" = "$(cat "$work/removed")" ] || fail "removed snapshots differ from the list"
[ "$(find "$work/repo/data" -type f | wc -l)" = "$data_before" ] || fail "forget touched data"
lb check -q || fail "check after forget"
echo "policy run: removed $(wc -l <"$work/removed"), kept $(wc -l <"$work/kept")"

# Explicit ids: exactly those go; ids and rules together are refused.
victim=$(head -1 "$work/kept")
set +e
lb forget --keep-last 1 "$victim" >/dev/null 2>&1; rc=$?
set -e
[ "$rc" = 2 ] || fail "ids with --keep-*: exit $rc, want 2"
lb forget "${victim:0:10}" -q
! lb snapshots --json | jq -r '.[].id' | grep -q "$victim" || fail "forget ID left the snapshot"
[ "$(lb snapshots --json | jq length)" = $(( $(wc -l <"$work/kept") - 1 )) ] || fail "forget ID removed more than one"

# Append-only REST server: forget is refused (exit 14) and removes nothing.
port=$(free_port)
export STATE=$work/rclone PORT=$port REST_USER=node1 REST_PASS=rest-pass APPEND_ONLY=1
bash "$server" start >/dev/null
export LIFEBOAT_REPOSITORY="rest:http://node1:rest-pass@127.0.0.1:$port/"
lb init -q
for d in 01 02 03; do lb node backup "$work/home" --node web1 --time "2024-01-${d}T03:00:00Z" -q; done
before=$(count_snapshots "$STATE/repo")
lb forget --dry-run --keep-last 1 -q || fail "forget --dry-run on append-only"
set +e
lb forget --keep-last 1 >"$work/out.txt" 2>"$work/err"; rc=$?
set -e
[ "$rc" = 14 ] || { cat "$work/err"; fail "forget on append-only: exit $rc, want 14"; }
[ "$(wc -l <"$work/err")" = 1 ] && grep -q "prune credentials" "$work/err" && grep -q "nothing removed" "$work/err" ||
  { cat "$work/err"; fail "forget on append-only: want one line naming the prune credentials"; }
[ ! -s "$work/out.txt" ] || fail "forget on append-only printed a result"
[ "$(count_snapshots "$STATE/repo")" = "$before" ] || fail "forget on append-only removed snapshots"
echo "append-only: $(cat "$work/err")"
echo "PASS forget"
