#!/usr/bin/env bash
# The REST backend against a real restic REST server (`rclone serve restic`,
# started here on 127.0.0.1 with basic auth): a node backed up and restored
# exactly through it, check --read-data, then the same server in append-only
# mode (backups go on, deletion is refused with a clear message), wrong
# credentials and an unreachable server (one line naming the location, never
# the password).
set -euo pipefail
lifeboat=${1:?usage: rest_backend.sh path/to/lifeboat}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/ports.sh
. "$here/lib/ports.sh"
# shellcheck source=lib/accounts.sh
. "$here/lib/accounts.sh"
server="$here/../../scripts/start-rclone-rest"
work=$(mktemp -d /tmp/lifeboat-rest-XXXXXX)
port=$(free_port)
export STATE=$work/rclone PORT=$port REST_USER=node1 REST_PASS=s3cret-rest-pass
cleanup() { bash "$server" stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
export LIFEBOAT_PASSWORD=rest-test LIFEBOAT_TEST_FAST_KDF=1
export LIFEBOAT_REPOSITORY="rest:http://node1:s3cret-rest-pass@127.0.0.1:$port/"

bash "$server" start >/dev/null
python3 "$here/../../bench/gen_node.py" --out "$work/home" --accounts 12 --scale 0.03 --seed 3 >/dev/null

"$lifeboat" init -q 2>"$work/err" || { cat "$work/err"; fail "init through REST"; }
"$lifeboat" node backup "$work/home" --node web1 -q 2>"$work/err" || { cat "$work/err"; fail "node backup through REST"; }
"$lifeboat" check --read-data -q 2>"$work/err" || { cat "$work/err"; fail "check --read-data through REST"; }
mkdir "$work/out"
"$lifeboat" node restore --node web1 --target "$work/out" -q 2>"$work/err" || { cat "$work/err"; fail "node restore through REST"; }
same_accounts "$work/home" "$work/out" "after the REST round trip"
# The objects are where a restic REST server keeps them.
[ -f "$STATE/repo/config" ] && [ -n "$(ls "$STATE/repo/snapshots")" ] || fail "no config/snapshots on the server"
echo "round trip: $(ls "$work/home" | wc -l) accounts exact through rest:http://node1@127.0.0.1:$port/"

# Nothing prints the password.
"$lifeboat" snapshots >"$work/out.txt" 2>&1 || true
"$lifeboat" check --json >>"$work/out.txt" 2>&1 || true
! grep -q s3cret "$work/out.txt" || fail "the REST password appears in output"

# Wrong credentials: one line, the location without the password, exit 14.
set +e
LIFEBOAT_REPOSITORY="rest:http://node1:wrong@127.0.0.1:$port/" "$lifeboat" snapshots >/dev/null 2>"$work/err"
rc=$?
set -e
[ "$rc" = 14 ] || { cat "$work/err"; fail "wrong REST password: exit $rc, want 14"; }
[ "$(wc -l <"$work/err")" = 1 ] && grep -q "rest:http://node1@127.0.0.1:$port" "$work/err" && ! grep -q wrong "$work/err" ||
  { cat "$work/err"; fail "wrong REST password: want one line naming the location"; }

# Append-only: the same repository, a server that refuses deletion.
bash "$server" stop >/dev/null
APPEND_ONLY=1 bash "$server" start >/dev/null
echo "new file" >"$work/home/$(ls "$work/home" | head -1)/added.txt"
"$lifeboat" node backup "$work/home" --node web1 -q 2>"$work/err" || { cat "$work/err"; fail "backup into an append-only server"; }
echo other-pass >"$work/other.pw"
"$lifeboat" key add --new-password-file "$work/other.pw" -q 2>/dev/null || fail "key add (a create) on append-only"
other=$("$lifeboat" key list --json 2>/dev/null | jq -r '[.[] | select(.current | not) | .id][0]')
[ -n "$other" ] && [ "$other" != null ] || fail "the added key is not listed"
set +e
"$lifeboat" key remove "$other" >/dev/null 2>"$work/err"
rc=$?
set -e
[ "$rc" = 14 ] || { cat "$work/err"; fail "key remove on append-only: exit $rc, want 14"; }
grep -q "append-only" "$work/err" || { cat "$work/err"; fail "the refusal does not say append-only"; }
"$lifeboat" check -q 2>/dev/null || fail "check after the refused deletion"
echo "append-only: backups go on, deletion refused: $(cat "$work/err")"

# Unreachable: one line naming the location, within seconds.
bash "$server" stop >/dev/null
start=$(date +%s)
set +e
"$lifeboat" snapshots >/dev/null 2>"$work/err"
rc=$?
set -e
[ "$rc" != 0 ] || fail "snapshots with the server down succeeded"
[ "$(wc -l <"$work/err")" = 1 ] && grep -q "127.0.0.1:$port" "$work/err" || { cat "$work/err"; fail "unreachable: want one line naming the server"; }
[ $(( $(date +%s) - start )) -le 15 ] || fail "unreachable server: took $(( $(date +%s) - start )) s to give up"
echo "unreachable: $(cat "$work/err")"
echo OK
