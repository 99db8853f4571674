#!/usr/bin/env bash
# Issue 6, point 4: restore and node restore from several repositories at
# once. Repository A is a local directory; B is a copy of it (cp -a: same
# keys, same blobs; another password added to it) served by rclone's REST
# server behind scripts/fault-proxy with a delay on every request (slow).
#  1. A healthy, B slow: node restore exact, both used, most bytes from A;
#  2. A damaged (a third of its packs deleted, one byte flipped in another):
#     restore and node restore exact, A's failures fall back on B;
#  3. a repository that is down, one with the wrong password and one with
#     another id key are each warned about and left out; the restore is
#     exact from the others.
set -euo pipefail
lifeboat=${1:?usage: multi_repo_restore.sh path/to/lifeboat}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/ports.sh
. "$here/lib/ports.sh"
# shellcheck source=lib/accounts.sh
. "$here/lib/accounts.sh"
server="$here/../../scripts/start-rclone-rest"
proxy="$here/../../scripts/fault-proxy"
work=$(mktemp -d /tmp/lifeboat-multi-repo-XXXXXX)
port=$(free_port)
pport=$(free_port)
export STATE=$work/rclone PORT=$port REST_USER=u REST_PASS=p
cleanup() {
  python3 "$proxy" stop --state "$work/proxy" >/dev/null 2>&1 || true
  bash "$server" stop >/dev/null 2>&1 || true
  [ -z "${KEEP:-}" ] && rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
export LIFEBOAT_PASSWORD=repo-a LIFEBOAT_TEST_FAST_KDF=1
A=$work/a
B="rest:http://u:p@127.0.0.1:$pport/"
echo repo-b >"$work/pw-b"
echo wrong >"$work/pw-wrong"

python3 "$here/../../bench/gen_node.py" --out "$work/home" --accounts 16 --scale 0.05 --seed 7 >/dev/null
"$lifeboat" init --repo "$A" -q
"$lifeboat" node backup "$work/home" --node web1 --repo "$A" -q

# B: a copy of A with a password of its own, slow.
bash "$server" start >/dev/null
cp -a "$A/." "$STATE/repo/"
"$lifeboat" key add --repo "rest:http://u:p@127.0.0.1:$port/" --new-password-file "$work/pw-b" -q
python3 "$proxy" start --port "$pport" --target "$port" --rate 0 --delay-rate 1 --delay-ms 50 \
  --seed 3 --state "$work/proxy"
cp -a "$A" "$work/a-clean"

both=(--repo "$A" --repo "$B" --repo-password-file "" --repo-password-file "$work/pw-b")
repo_field() { jq -r --arg loc "$2" "[.repositories[] | select(.location | contains(\$loc))][0].$3" "$1"; }

# 1. Both healthy, B slow.
"$lifeboat" node restore --node web1 --target "$work/out1" "${both[@]}" --json >"$work/r1.json" 2>"$work/err" ||
  { cat "$work/err"; fail "node restore from A and slow B"; }
same_accounts "$work/home" "$work/out1" "(A healthy, B slow)"
[ "$(jq '.repositories | length' "$work/r1.json")" = 2 ] || fail "two repositories expected in $(cat "$work/r1.json")"
a_bytes=$(repo_field "$work/r1.json" "$work/a" bytes)
b_bytes=$(repo_field "$work/r1.json" "127.0.0.1:$pport" bytes)
[ "$a_bytes" -gt 0 ] || fail "nothing read from A: $(jq -c .repositories "$work/r1.json")"
[ "$a_bytes" -gt "$b_bytes" ] || fail "the slow repository served more than the fast one: $(jq -c .repositories "$work/r1.json")"
echo "1. A healthy, B slow: exact; A $a_bytes bytes, B $b_bytes bytes"

# 2. A damaged.
mapfile -t packs < <(find "$A/data" -type f | sort)
[ "${#packs[@]}" -ge 2 ] || fail "too few packs (${#packs[@]}) to damage some"
for ((i = 0; i < ${#packs[@]}; i += 3)); do rm -f "${packs[$i]}"; done
victim=${packs[1]}
chmod u+w "$victim"
printf '\xff' | dd of="$victim" bs=1 seek=5000 conv=notrunc status=none
account=$(ls "$work/home" | head -1)
"$lifeboat" restore latest --account "$account" --target "$work/out2" "${both[@]}" --verify --json >"$work/r2.json" 2>"$work/err" ||
  { cat "$work/err"; fail "restore with A damaged"; }
diff -r --no-dereference "$work/home/$account" "$work/out2" >/dev/null || fail "restore of $account differs (A damaged)"
"$lifeboat" node restore --node web1 --target "$work/out3" "${both[@]}" --json >"$work/r3.json" 2>"$work/err" ||
  { cat "$work/err"; fail "node restore with A damaged"; }
same_accounts "$work/home" "$work/out3" "(A damaged, B slow)"
a_fail=$(repo_field "$work/r3.json" "$work/a" failures)
b_fallbacks=$(repo_field "$work/r3.json" "127.0.0.1:$pport" fallbacks)
[ "$a_fail" -gt 0 ] && [ "$b_fallbacks" -gt 0 ] ||
  fail "no fallback from damaged A to B recorded: $(jq -c .repositories "$work/r3.json")"
# Alone, damaged A cannot do it.
if "$lifeboat" node restore --node web1 --target "$work/out4" --repo "$A" -q 2>/dev/null; then
  fail "damaged A alone restored everything: the damage did not touch the restore"
fi
echo "2. A damaged: exact from both; A failures $a_fail, B fallbacks $b_fallbacks"

# 3. Repositories that cannot be used are left out with a warning.
down="rest:http://u:p@127.0.0.1:$(free_port)/"
"$lifeboat" init --repo "$work/other" -q
"$lifeboat" restore latest --account "$account" --target "$work/out5" --repo "$down" --repo "$B" \
  --repo "$work/a-clean" --repo "$work/other" --repo-password-file "" --repo-password-file "$work/pw-wrong" \
  --json >"$work/r5.json" 2>"$work/err5" || { cat "$work/err5"; fail "restore with unusable repositories"; }
diff -r --no-dereference "$work/home/$account" "$work/out5" >/dev/null || fail "restore of $account differs (unusable repositories)"
grep -q "127.0.0.1:$pport.*cannot be used" "$work/err5" || { cat "$work/err5"; fail "no warning for B with the wrong password"; }
grep -q "does not share blob ids" "$work/err5" || { cat "$work/err5"; fail "no warning for the repository with another id key"; }
[ "$(jq '[.repositories[] | select(.error != null)] | length' "$work/r5.json")" = 3 ] ||
  fail "three unusable repositories expected: $(jq -c .repositories "$work/r5.json")"
# None usable: the first one's error, one line.
if "$lifeboat" restore latest --target "$work/out6" --repo "$down" --repo "$B" --repo-password-file "" \
  --repo-password-file "$work/pw-wrong" 2>"$work/err6"; then fail "restore from no usable repository succeeded"; fi
[ "$(wc -l <"$work/err6")" -ge 1 ] || fail "no error line"
echo "3. unusable repositories left out with warnings; restore exact from the rest"
echo OK
