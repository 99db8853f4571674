#!/usr/bin/env bash
# The S3 backend against a real S3 server that checks every signature (Ceph
# RADOS Gateway, shared by the test run): a node backed up and restored
# exactly through it with multipart uploads, check --read-data, two
# repositories under prefixes of one bucket, credentials from the
# environment and from the shared credentials file and never printed,
# virtual-hosted addressing, wrong credentials, a bad URL and an unreachable
# endpoint (one line naming the location).
set -euo pipefail
lifeboat=${1:?usage: s3_backend.sh path/to/lifeboat}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/ports.sh
. "$here/lib/ports.sh"
# shellcheck source=lib/accounts.sh
. "$here/lib/accounts.sh"
# shellcheck source=lib/rgw.sh
. "$here/lib/rgw.sh"
work=$(mktemp -d /tmp/lifeboat-s3-XXXXXX)
cleanup() { rgw_stop; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
rgw_start "$work/rgw"
export LIFEBOAT_PASSWORD=s3-test LIFEBOAT_TEST_FAST_KDF=1
bucket=$(rgw_bucket)
repo="s3:$S3_ENDPOINT/$bucket/node1"
export LIFEBOAT_REPOSITORY=$repo
# Parts of 5 MiB for objects over 10 MiB: packs that large go up in parts.
export LIFEBOAT_S3_PART_SIZE_MIB=5

python3 "$here/../../bench/gen_node.py" --out "$work/home" --accounts 12 --scale 0.03 --seed 3 >/dev/null
# One account with a big incompressible file, so some packs are over 10 MiB.
head -c 30000000 /dev/urandom >"$work/home/$(ls "$work/home" | head -1)/big.bin"

"$lifeboat" init -q 2>"$work/err" || { cat "$work/err"; fail "init on S3 (creates the bucket)"; }
"$lifeboat" node backup "$work/home" --node web1 -q 2>"$work/err" || { cat "$work/err"; fail "node backup on S3"; }
"$lifeboat" check --read-data -q 2>"$work/err" || { cat "$work/err"; fail "check --read-data on S3"; }
mkdir "$work/out"
"$lifeboat" node restore --node web1 --target "$work/out" -q 2>"$work/err" || { cat "$work/err"; fail "node restore from S3"; }
same_accounts "$work/home" "$work/out" "after the S3 round trip"
# The objects are in the bucket under the prefix, with a local repository's layout.
listing=$(rgw_get "/$bucket?list-type=2&prefix=node1%2Fsnapshots%2F")
[ "$(grep -o '<Key>node1/snapshots/[0-9a-f]\{64\}</Key>' <<<"$listing" | wc -l)" = 12 ] ||
  fail "want 12 snapshot objects under node1/snapshots/: $listing"
rgw_get "/$bucket/node1/config" >/dev/null
big=$(rgw_get "/$bucket?list-type=2&prefix=node1%2Fdata%2F" | grep -o '<Size>[0-9]*</Size>' | tr -dc '0-9\n' | sort -n | tail -1)
[ "$big" -gt $((10 << 20)) ] || fail "no pack over 10 MiB (largest $big): multipart not exercised"
[ -z "$(rgw_get "/$bucket?uploads=" | grep -o '<Upload>')" ] || fail "multipart uploads left open"
echo "round trip: $(ls "$work/home" | wc -l) accounts exact through $repo (largest pack $big bytes, in parts)"

# A second repository under another prefix of the same bucket is its own.
"$lifeboat" init --repo "s3:$S3_ENDPOINT/$bucket/node2" -q 2>"$work/err" || { cat "$work/err"; fail "init node2 prefix"; }
[ "$("$lifeboat" snapshots --repo "s3:$S3_ENDPOINT/$bucket/node2" --json | jq length)" = 0 ] ||
  fail "the node2 repository sees node1's snapshots"

# Nothing prints the secret.
"$lifeboat" snapshots >"$work/out.txt" 2>&1 || true
"$lifeboat" check --json >>"$work/out.txt" 2>&1 || true
! grep -q "$S3_SECRET_KEY" "$work/out.txt" || fail "the S3 secret appears in output"

# Credentials from the shared credentials file (no AWS_* variables).
printf '[backup]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" >"$work/credentials"
n=$(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE="$work/credentials" AWS_PROFILE=backup \
  "$lifeboat" snapshots --json | jq length)
[ "$n" = 12 ] || fail "credentials from the shared file: $n snapshots, want 12"

# Virtual-hosted addressing (<bucket>.localhost resolves to 127.0.0.1).
n=$(LIFEBOAT_S3_BUCKET_LOOKUP=dns "$lifeboat" snapshots --json --repo "s3:${S3_ENDPOINT/127.0.0.1/localhost}/$bucket/node1" | jq length)
[ "$n" = 12 ] || fail "virtual-hosted addressing: $n snapshots, want 12"

one_line() {  # one_line WANT_RC PATTERN command...: one line on stderr matching PATTERN, exit WANT_RC
  local want=$1 pattern=$2 rc
  shift 2
  set +e
  "$@" >/dev/null 2>"$work/err"
  rc=$?
  set -e
  [ "$rc" = "$want" ] || { cat "$work/err"; fail "$*: exit $rc, want $want"; }
  [ "$(wc -l <"$work/err")" = 1 ] && grep -q -- "$pattern" "$work/err" || { cat "$work/err"; fail "$*: want one line with '$pattern'"; }
  ! grep -q "$S3_SECRET_KEY\|wrong-secret" "$work/err" || fail "$*: the secret is in the message"
  echo "  $(cat "$work/err")"
}
echo "refusals:"
# Wrong secret: exit 14, naming the repository and what to check.
AWS_SECRET_ACCESS_KEY=wrong-secret one_line 14 "AWS_SECRET_ACCESS_KEY" "$lifeboat" snapshots
grep -q "$S3_ENDPOINT/$bucket/node1" "$work/err" || fail "the refusal does not name the repository"
# No credentials at all.
(unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; HOME=$work one_line 14 "no S3 credentials" "$lifeboat" snapshots)
# A URL without a bucket.
one_line 2 "s3:https://endpoint/bucket" "$lifeboat" snapshots --repo "s3:$S3_ENDPOINT"
# A bucket that does not exist.
one_line 10 "" "$lifeboat" snapshots --repo "s3:$S3_ENDPOINT/no-such-bucket-$$/r"
# Unreachable endpoint: one line naming it, within seconds.
dead=$(free_port)
start=$(date +%s)
one_line 1 "127.0.0.1:$dead" "$lifeboat" snapshots --repo "s3:http://127.0.0.1:$dead/$bucket/node1"
[ $(( $(date +%s) - start )) -le 15 ] || fail "unreachable endpoint: took $(( $(date +%s) - start )) s to give up"
echo OK
