#!/usr/bin/env bash
# Faults on the wire in front of a real S3 server (issue 5, point 5, S3
# part): scripts/fault-proxy between lifeboat and the Ceph RADOS Gateway
# drops connections, loses responses after the server acted (a PUT whose
# 200 never arrives is retried into If-None-Match's 412), cuts responses
# short, answers 500/503, delays, and flips a byte of request bodies (the
# gateway refuses a body that does not match its signed SHA-256). Init,
# node backup (with multipart uploads) and node restore through it complete
# exactly, and check --read-data, run directly, accepts the repository.
set -euo pipefail
lifeboat=${1:?usage: s3_faults.sh path/to/lifeboat}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/ports.sh
. "$here/lib/ports.sh"
# shellcheck source=lib/accounts.sh
. "$here/lib/accounts.sh"
# shellcheck source=lib/rgw.sh
. "$here/lib/rgw.sh"
proxy="$here/../../scripts/fault-proxy"
work=$(mktemp -d /tmp/lifeboat-s3-faults-XXXXXX)
cleanup() {
  python3 "$proxy" stop --state "$work/proxy" >/dev/null 2>&1 || true
  rgw_stop
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
rgw_start "$work/rgw"
export LIFEBOAT_PASSWORD=faults LIFEBOAT_TEST_FAST_KDF=1 LIFEBOAT_S3_PART_SIZE_MIB=5
port=${S3_ENDPOINT##*:}
pport=$(free_port)
bucket=$(rgw_bucket)
direct="s3:$S3_ENDPOINT/$bucket/r"
faulty="s3:http://127.0.0.1:$pport/$bucket/r"

python3 "$here/../../bench/gen_node.py" --out "$work/home" --accounts 10 --scale 0.03 --seed 4 >/dev/null
head -c 25000000 /dev/urandom >"$work/home/$(ls "$work/home" | head -1)/big.bin"
python3 "$proxy" start --port "$pport" --target "$port" --rate 0.15 --delay-ms 100 --seed 12 --corrupt-uploads \
  --state "$work/proxy"

"$lifeboat" init --repo "$faulty" -q 2>"$work/err" || { cat "$work/err"; fail "init through the faulty proxy"; }
"$lifeboat" node backup "$work/home" --node web1 --repo "$faulty" -q 2>"$work/err" ||
  { cat "$work/err"; fail "node backup through the faulty proxy"; }
# Judged without the proxy: the repository is whole.
"$lifeboat" check --read-data --repo "$direct" -q 2>"$work/err" ||
  { cat "$work/err"; fail "check rejects what the faulty backup left"; }
mkdir "$work/out"
"$lifeboat" node restore --node web1 --target "$work/out" --repo "$faulty" -q 2>"$work/err" ||
  { cat "$work/err"; fail "node restore through the faulty proxy"; }
same_accounts "$work/home" "$work/out" "after the faulty round trip"
[ -z "$(rgw_get "/$bucket?uploads=" | grep -o '<Upload>')" ] || fail "multipart uploads left open"
python3 "$proxy" stop --state "$work/proxy"
counts=$(cat "$work/proxy/fault-proxy.counts")
faults=$(echo "$counts" | jq '.drop + .lose_response + .truncate + .http500 + .http503 + .corrupt')
[ "$faults" -ge 10 ] || fail "only $faults faults injected ($counts)"
[ "$(echo "$counts" | jq .corrupt)" -ge 1 ] && [ "$(echo "$counts" | jq .lose_response)" -ge 1 ] ||
  fail "no damaged upload or no lost response among the faults ($counts)"
echo "backup, check and restore exact through $faults injected faults: $counts"
echo OK
