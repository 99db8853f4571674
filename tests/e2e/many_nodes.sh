#!/usr/bin/env bash
# Many nodes, one repository (issue 5, point 6): three nodes back up into the
# same REST repository at the same moment, with no lock between them. Nothing
# is lost (check --read-data, every account of every node restores exactly),
# and the next night each node dedups against what the others stored. (Two
# nodes that store the same new content in the same minute may both store it:
# each knows the repository as it was when it started.)
set -euo pipefail
lifeboat=${1:?usage: many_nodes.sh path/to/lifeboat}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/ports.sh
. "$here/lib/ports.sh"
server="$here/../../scripts/start-rclone-rest"
work=$(mktemp -d /tmp/lifeboat-many-nodes-XXXXXX)
port=$(free_port)
export STATE=$work/rclone PORT=$port REST_USER=u REST_PASS=p
cleanup() { bash "$server" stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
export LIFEBOAT_PASSWORD=many LIFEBOAT_TEST_FAST_KDF=1
export LIFEBOAT_REPOSITORY="rest:http://u:p@127.0.0.1:$port/"

bash "$server" start >/dev/null
# Three nodes: the same generator with different seeds (different accounts
# and files).
for n in 1 2 3; do
  python3 "$here/../../bench/gen_node.py" --out "$work/web$n" --accounts 8 --scale 0.03 --seed $((20 + n)) >/dev/null
done
"$lifeboat" init -q 2>/dev/null
pids=()
for n in 1 2 3; do
  "$lifeboat" node backup "$work/web$n" --node "web$n" --json >"$work/web$n.json" 2>"$work/web$n.err" &
  pids+=($!)
done
for i in 0 1 2; do wait "${pids[$i]}" || { cat "$work/web$((i + 1)).err"; fail "node web$((i + 1)) backup failed"; }; done
"$lifeboat" check --read-data -q 2>"$work/err" || { cat "$work/err"; fail "check after three concurrent node backups"; }

for n in 1 2 3; do
  mkdir "$work/out$n"
  "$lifeboat" node restore --node "web$n" --target "$work/out$n" -q 2>"$work/err" || { cat "$work/err"; fail "restore of web$n"; }
  for a in $(ls "$work/web$n"); do
    diff -r --no-dereference "$work/web$n/$a" "$work/out$n/$a" >/dev/null || fail "web$n/$a differs"
  done
done
# Round two, all three at once again: the three largest sites of web1 now
# also live on web2 and web3 (copied to staging, say). What web1 stored in
# round one serves them: each node dedups against the others' data.
copied=0
for a in $(du -s "$work"/web1/* | sort -rn | head -3 | cut -f2 | xargs -n1 basename); do
  cp -a "$work/web1/$a" "$work/web2/copy-$a"
  cp -a "$work/web1/$a" "$work/web3/copy-$a"
  copied=$((copied + 2 * $(du -sb "$work/web1/$a" | cut -f1)))
done
pids=()
for n in 1 2 3; do
  "$lifeboat" node backup "$work/web$n" --node "web$n" --json >"$work/web$n-2.json" 2>"$work/web$n-2.err" &
  pids+=($!)
done
for i in 0 1 2; do wait "${pids[$i]}" || { cat "$work/web$((i + 1))-2.err"; fail "round two: web$((i + 1)) failed"; }; done
added=0
for n in 1 2 3; do added=$((added + $(jq '.summary.bytes_added' "$work/web$n-2.json"))); done
echo "round two: $copied bytes of sites copied across nodes, $added bytes added to the repository"
[ "$added" -lt $((copied / 20)) ] || fail "the copies were stored again ($added bytes added for $copied copied)"
"$lifeboat" check --read-data -q 2>"$work/err" || { cat "$work/err"; fail "check after round two"; }
mkdir "$work/out-copy"
"$lifeboat" node restore --node web3 --target "$work/out-copy" -q 2>"$work/err" || { cat "$work/err"; fail "restore of web3 after round two"; }
diff -r --no-dereference "$work/web3" "$work/out-copy" -x .lifeboat-restore >/dev/null || fail "web3 differs after round two"
echo OK
