#!/usr/bin/env bash
# Tiers: a snapshot host (local) → a nightly offsite (restic REST server
# `rclone serve restic` in append-only mode) → a weekly offsite (local),
# filled by `lifeboat copy`. Each tier has its own password and encryption
# key but shares blob ids and chunking (`init --copy-params-from`). Checks:
# refusal of a destination with other id keys; a copy killed with SIGKILL
# resumes and sends less than a full copy; a finished copy sends nothing
# again; check --read-data on every tier; a node restore from the last tier
# is identical to the source; an incremental copy sends only what is new.
set -euo pipefail
lifeboat=${1:?usage: copy.sh path/to/lifeboat}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/ports.sh
. "$here/lib/ports.sh"
# shellcheck source=lib/accounts.sh
. "$here/lib/accounts.sh"
server="$here/../../scripts/start-rclone-rest"
work=$(mktemp -d /tmp/lifeboat-copy-XXXXXX)
port=$(free_port)
export STATE=$work/rclone PORT=$port REST_USER=tier REST_PASS=tier-rest-pass
cleanup() { bash "$server" stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
export LIFEBOAT_TEST_FAST_KDF=1
unset LIFEBOAT_PASSWORD LIFEBOAT_REPOSITORY
echo host-pass >"$work/host.pw"
echo nightly-pass >"$work/nightly.pw"
echo weekly-pass >"$work/weekly.pw"
host=$work/host
rest="rest:http://tier:tier-rest-pass@127.0.0.1:$port"
nightly=$rest/nightly/
probe=$rest/probe/
weekly=$work/weekly
lb() { "$lifeboat" "$@" 2>>"$work/warnings"; }
json_field() { jq -r ".$1" "$work/out.json"; }

python3 "$here/../../bench/gen_node.py" --out "$work/home" --accounts 16 --scale 0.04 --seed 5 >/dev/null
accounts=$(ls "$work/home" | wc -l)
lb init -q --repo "$host" --password-file "$work/host.pw"
lb node backup "$work/home" --node web1 -q --repo "$host" --password-file "$work/host.pw"

APPEND_ONLY=1 bash "$server" start >/dev/null
# The nightly tier: the host's parameters (its password from the env), its own password.
LIFEBOAT_FROM_PASSWORD_FILE=$work/host.pw lb init -q --repo "$nightly" \
  --password-file "$work/nightly.pw" --copy-params-from "$host" || fail "init --copy-params-from host"
LIFEBOAT_FROM_PASSWORD_FILE=$work/host.pw lb init -q --repo "$probe" \
  --password-file "$work/nightly.pw" --copy-params-from "$host" || fail "init probe"
# The weekly tier: the nightly's parameters, its password from a command.
LIFEBOAT_FROM_PASSWORD_COMMAND="cat $work/nightly.pw" lb init -q --repo "$weekly" \
  --password-file "$work/weekly.pw" --copy-params-from "$nightly" || fail "init --copy-params-from nightly"
# Own passwords: the host's does not open the nightly tier.
set +e
"$lifeboat" snapshots --repo "$nightly" --password-file "$work/host.pw" >/dev/null 2>&1
rc=$?
set -e
[ "$rc" = 12 ] || fail "the host password opened the nightly tier (exit $rc, want 12)"

# A destination with other id keys is refused: one line, exit 2, says what to do.
lb init -q --repo "$work/plain" --password-file "$work/weekly.pw"
set +e
"$lifeboat" copy --repo "$host" --password-file "$work/host.pw" --to "$work/plain" \
  --to-password-file "$work/weekly.pw" >/dev/null 2>"$work/err"
rc=$?
set -e
grep -v "FAST_KDF" "$work/err" >"$work/err1" || true
[ "$rc" = 2 ] || { cat "$work/err"; fail "copy to a plain repository: exit $rc, want 2"; }
[ "$(wc -l <"$work/err1")" = 1 ] && grep -q "init --copy-params-from" "$work/err1" ||
  { cat "$work/err"; fail "the refusal is not one line naming init --copy-params-from"; }
echo "refused: $(cat "$work/err1")"

copy_to() {  # copy_to DST DST_PWFILE [extra...]: host → DST, JSON in out.json
  local dst=$1 pw=$2
  shift 2
  lb copy --repo "$host" --password-file "$work/host.pw" --to "$dst" --to-password-file "$pw" \
    --json "$@" >"$work/out.json"
}

# A full copy (into the probe), timed, to aim the kills.
start=$(date +%s%N)
copy_to "$probe" "$work/nightly.pw" || fail "full copy to the probe"
full_ms=$(( ($(date +%s%N) - start) / 1000000 ))
full_blobs=$(json_field blobs_sent)
[ "$(json_field snapshots_copied)" = "$accounts" ] || fail "full copy: $(json_field snapshots_copied) of $accounts snapshots"
echo "full copy over REST: $full_blobs blobs in $full_ms ms"

# Kill copies into the nightly tier until one dies with part of the work done.
snapshots_in() { "$lifeboat" snapshots --repo "$1" --password-file "$2" --json 2>/dev/null | jq length; }
partial=0
for pct in 50 35 65 25 75 45 55 15; do
  delay=$(( full_ms * pct / 100 ))
  "$lifeboat" copy --repo "$host" --password-file "$work/host.pw" --to "$nightly" \
    --to-password-file "$work/nightly.pw" -q >/dev/null 2>&1 &
  pid=$!
  sleep "$(printf '%d.%03d' $(( delay / 1000 )) $(( delay % 1000 )))"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  have=$(snapshots_in "$nightly" "$work/nightly.pw")
  echo "killed at ${delay} ms: $have of $accounts snapshots in the nightly tier"
  if [ "$have" -gt 0 ] && [ "$have" -lt "$accounts" ]; then partial=1; break; fi
  [ "$have" -lt "$accounts" ] || fail "the copy finished before any kill landed ($full_ms ms)"
done
[ "$partial" = 1 ] || fail "no kill left a partial copy"
"$lifeboat" check --repo "$nightly" --password-file "$work/nightly.pw" -q 2>"$work/err" ||
  { cat "$work/err"; fail "check after the kill"; }
copy_to "$nightly" "$work/nightly.pw" || fail "rerun after the kill"
resent=$(json_field blobs_sent)
[ "$(json_field snapshots_skipped)" = "$have" ] || fail "rerun skipped $(json_field snapshots_skipped), want $have"
[ "$resent" -lt "$full_blobs" ] || fail "the rerun sent $resent blobs, a full copy is $full_blobs"
echo "rerun after the kill: $resent of $full_blobs blobs sent"
copy_to "$nightly" "$work/nightly.pw" || fail "rerun of a finished copy"
[ "$(json_field blobs_sent)" = 0 ] && [ "$(json_field snapshots_copied)" = 0 ] ||
  fail "a finished copy sent $(json_field blobs_sent) blobs again"

# nightly → weekly, the destination password from the environment.
LIFEBOAT_TO_PASSWORD_FILE=$work/weekly.pw lb copy --repo "$nightly" --password-file "$work/nightly.pw" \
  --to "$weekly" --json >"$work/out.json" || fail "copy nightly → weekly"
[ "$(json_field snapshots_copied)" = "$accounts" ] || fail "weekly: $(json_field snapshots_copied) of $accounts copied"

for tier in "$host host.pw" "$nightly nightly.pw" "$weekly weekly.pw"; do
  set -- $tier
  "$lifeboat" check --read-data --repo "$1" --password-file "$work/$2" -q 2>"$work/err" ||
    { cat "$work/err"; fail "check --read-data of $1"; }
done
mkdir "$work/out"
lb node restore --node web1 --target "$work/out" -q --repo "$weekly" --password-file "$work/weekly.pw" ||
  fail "node restore from the weekly tier"
same_accounts "$work/home" "$work/out" "after host → nightly → weekly"
echo "three tiers: check --read-data clean, node restore from the weekly tier exact"

# An incremental: one account changes; only its new data travels.
first=$(ls "$work/home" | head -1)
head -c 300000 /dev/urandom >"$work/home/$first/new.bin"
lb node backup "$work/home" --node web1 -q --repo "$host" --password-file "$work/host.pw"
copy_to "$nightly" "$work/nightly.pw" --account "$first" || fail "incremental copy"
[ "$(json_field snapshots_copied)" = 1 ] || fail "incremental: $(json_field snapshots_copied) copied, want 1"
[ "$(json_field blobs_sent)" -lt 20 ] || fail "incremental sent $(json_field blobs_sent) blobs"
echo "incremental: $(json_field blobs_sent) blobs, $(json_field bytes_sent) bytes"
echo OK
