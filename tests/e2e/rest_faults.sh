#!/usr/bin/env bash
# Faults on the wire (issue 5, point 5, REST part): a fault-injecting proxy
# (scripts/fault-proxy: connections dropped, responses lost after the server
# acted, responses cut short, HTTP 500/503, delays) between lifeboat and a
# restic REST server. Backups and restores through it complete exactly (or
# fail with one clear line), and never leave a repository that check
# rejects — with the server in normal and in append-only mode (where a
# retried write whose first answer was lost is refused as an overwrite).
set -euo pipefail
lifeboat=${1:?usage: rest_faults.sh path/to/lifeboat}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/ports.sh
. "$here/lib/ports.sh"
# shellcheck source=lib/accounts.sh
. "$here/lib/accounts.sh"
server="$here/../../scripts/start-rclone-rest"
proxy="$here/../../scripts/fault-proxy"
work=$(mktemp -d /tmp/lifeboat-rest-faults-XXXXXX)
port=$(free_port)
pport=$(free_port)
export STATE=$work/rclone PORT=$port REST_USER=u REST_PASS=p
cleanup() {
  python3 "$proxy" stop --state "$work/proxy" >/dev/null 2>&1 || true
  bash "$server" stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
export LIFEBOAT_PASSWORD=faults LIFEBOAT_TEST_FAST_KDF=1
direct="rest:http://u:p@127.0.0.1:$port/"
faulty="rest:http://u:p@127.0.0.1:$pport/"

python3 "$here/../../bench/gen_node.py" --out "$work/home" --accounts 10 --scale 0.03 --seed 4 >/dev/null

for mode in plain append-only; do
  bash "$server" stop >/dev/null 2>&1 || true
  rm -rf "$STATE"
  if [ "$mode" = append-only ]; then APPEND_ONLY=1 bash "$server" start >/dev/null; else bash "$server" start >/dev/null; fi
  python3 "$proxy" stop --state "$work/proxy" >/dev/null 2>&1 || true
  python3 "$proxy" start --port "$pport" --target "$port" --rate 0.15 --delay-ms 100 --seed 11 --state "$work/proxy"

  "$lifeboat" init --repo "$faulty" -q 2>"$work/err" || { cat "$work/err"; fail "$mode: init through the faulty proxy"; }
  "$lifeboat" node backup "$work/home" --node web1 --repo "$faulty" -q 2>"$work/err" ||
    { cat "$work/err"; fail "$mode: node backup through the faulty proxy"; }
  # Judged without the proxy: the repository is whole.
  "$lifeboat" check --read-data --repo "$direct" -q 2>"$work/err" ||
    { cat "$work/err"; fail "$mode: check rejects what the faulty backup left"; }
  rm -rf "$work/out"
  mkdir "$work/out"
  "$lifeboat" node restore --node web1 --target "$work/out" --repo "$faulty" -q 2>"$work/err" ||
    { cat "$work/err"; fail "$mode: node restore through the faulty proxy"; }
  same_accounts "$work/home" "$work/out" "($mode)"
  python3 "$proxy" stop --state "$work/proxy"
  counts=$(cat "$work/proxy/fault-proxy.counts")
  faults=$(echo "$counts" | jq '.drop + .lose_response + .truncate + .http500 + .http503')
  [ "$faults" -ge 10 ] || fail "$mode: only $faults faults injected ($counts)"
  echo "$mode: backup, check and restore exact through $faults injected faults: $counts"
done
echo OK
