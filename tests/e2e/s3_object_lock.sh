#!/usr/bin/env bash
# S3 Object Lock on the Ceph RADOS Gateway: with LIFEBOAT_S3_OBJECT_LOCK_DAYS
# set, init makes a bucket with Object Lock, and init, node backup, check
# --read-data and node restore work; every object but locks carries a
# COMPLIANCE retention; the gateway's administrator credentials cannot delete
# a version before its date; forget only hides a snapshot (a delete marker)
# and removing the marker brings it back; prune renews the retention of
# everything that stays once less than half is left; a bucket without
# Object Lock is refused in one line.
set -euo pipefail
lifeboat=${1:?usage: s3_object_lock.sh path/to/lifeboat}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/accounts.sh
. "$here/lib/accounts.sh"
# shellcheck source=lib/rgw.sh
. "$here/lib/rgw.sh"
work=$(mktemp -d /tmp/lifeboat-s3lock-XXXXXX)
cleanup() { rgw_stop; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
rgw_start "$work/rgw"
export LIFEBOAT_PASSWORD=s3-lock-test LIFEBOAT_TEST_FAST_KDF=1
bucket=$(rgw_bucket)
export LIFEBOAT_REPOSITORY="s3:$S3_ENDPOINT/$bucket/tier"
export LIFEBOAT_S3_OBJECT_LOCK_DAYS=2 LIFEBOAT_S3_PART_SIZE_MIB=5
# The gateway's answer to a request signed with the test user's credentials
# (the user the gateway was set up with: its administrator, in effect).
s3() { local method=$1 path=$2; shift 2
  curl -s --aws-sigv4 aws:amz:us-east-1:s3 --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -X "$method" "$@" "$S3_ENDPOINT$path"; }

python3 "$here/../../bench/gen_node.py" --out "$work/home" --accounts 6 --scale 0.03 --seed 5 >/dev/null
# 40 MB: at least one full pack (two packers fill packs side by side, so a
# smaller file may end up in two packs under the multipart threshold).
head -c 40000000 /dev/urandom >"$work/home/$(ls "$work/home" | head -1)/big.bin"
"$lifeboat" init -q 2>"$work/err" || { cat "$work/err"; fail "init with Object Lock"; }
s3 GET "/$bucket?object-lock=" | grep -q "<ObjectLockEnabled>Enabled" || fail "init did not make the bucket with Object Lock"
"$lifeboat" node backup "$work/home" --node web1 -q 2>"$work/err" || { cat "$work/err"; fail "node backup with Object Lock"; }
"$lifeboat" check --read-data -q 2>"$work/err" || { cat "$work/err"; fail "check --read-data with Object Lock"; }
mkdir "$work/out"
"$lifeboat" node restore --node web1 --target "$work/out" -q 2>"$work/err" || { cat "$work/err"; fail "node restore with Object Lock"; }
same_accounts "$work/home" "$work/out" "after the Object Lock round trip"

# Every object of every kind carries the retention, big packs (multipart) too.
s3 GET "/$bucket?list-type=2&prefix=tier%2F" | grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g' >"$work/keys"
grep -q '^tier/config$' "$work/keys" && grep -q '^tier/keys/' "$work/keys" && grep -q '^tier/index/' "$work/keys" &&
  grep -q '^tier/snapshots/' "$work/keys" || fail "objects missing from the listing: $(cat "$work/keys")"
now=$(date -u +%s)
big=0
while read -r key; do
  s3 HEAD "/$bucket/$key" -I >"$work/head"
  grep -qi '^x-amz-object-lock-mode: COMPLIANCE' "$work/head" || { cat "$work/head"; fail "$key has no COMPLIANCE retention"; }
  until=$(grep -i '^x-amz-object-lock-retain-until-date:' "$work/head" | cut -d' ' -f2 | tr -d '\r')
  secs=$(( $(date -u -d "$until" +%s) - now ))
  [ "$secs" -gt $(( 47 * 3600 )) ] && [ "$secs" -le $(( 49 * 3600 )) ] || fail "$key retained until $until, want 2 days"
  [ "$(grep -i '^content-length:' "$work/head" | tr -dc 0-9)" -gt 10485760 ] && big=$((big + 1))
done <"$work/keys"
[ "$big" -gt 0 ] || fail "no pack went up in parts"
echo "retention: $(wc -l <"$work/keys") objects COMPLIANCE for 2 days ($big multipart)"

# forget (the tier's prune credentials: here the same user) hides a snapshot
# behind a delete marker; its version stays.
snap=$("$lifeboat" snapshots --json | jq -r '.[0].id')
"$lifeboat" forget -q "$snap" || fail "forget on an Object Lock bucket"
! "$lifeboat" snapshots --json | jq -r '.[].id' | grep -q "$snap" || fail "forget left the snapshot listed"
s3 GET "/$bucket?prefix=tier%2Fsnapshots%2F$snap&versions=" >"$work/versions"
version=$(grep -o '<Version><Key>[^<]*</Key><VersionId>[^<]*' "$work/versions" | sed 's/.*<VersionId>//')
marker=$(grep -o '<DeleteMarker><Key>[^<]*</Key><VersionId>[^<]*' "$work/versions" | sed 's/.*<VersionId>//')
[ -n "$version" ] && [ -n "$marker" ] || { cat "$work/versions"; fail "no version and delete marker after forget"; }

# Not even the administrator deletes a version before its date, bypass header or not.
for extra in "" "x-amz-bypass-governance-retention: true"; do
  code=$(s3 DELETE "/$bucket/tier/snapshots/$snap?versionId=$version" ${extra:+-H "$extra"} -o "$work/del" -w '%{http_code}')
  [ "$code" = 403 ] && grep -q AccessDenied "$work/del" || { cat "$work/del"; fail "the locked version was deleted (HTTP $code)"; }
done
# Nor a pack.
pack=$(grep '^tier/data/' "$work/keys" | head -1)
pack_version=$(s3 HEAD "/$bucket/$pack" -I | grep -i '^x-amz-version-id:' | cut -d' ' -f2 | tr -d '\r')
code=$(s3 DELETE "/$bucket/$pack?versionId=$pack_version" -o "$work/del" -w '%{http_code}')
[ "$code" = 403 ] || fail "a locked pack version was deleted (HTTP $code)"
echo "admin delete of a locked version: HTTP 403 $(grep -o '<Code>[^<]*' "$work/del" | cut -c7-)"

# Removing the delete marker undoes the forget.
[ "$(s3 DELETE "/$bucket/tier/snapshots/$snap?versionId=$marker" -o /dev/null -w '%{http_code}')" = 204 ] ||
  fail "could not remove the delete marker"
"$lifeboat" snapshots --json | jq -r '.[].id' | grep -q "$snap" || fail "the snapshot did not come back"
"$lifeboat" check -q || fail "check after undeleting"

# prune renews the retention of what stays once less than half of it is
# left: written with 2 days, pruned with a 5-day lock (2 days left is less
# than half of 5), every object there after the prune (its own new packs
# and segments included) is retained for 5 days; a second prune finds
# nothing to renew.
LIFEBOAT_S3_OBJECT_LOCK_DAYS=5 "$lifeboat" prune --json >"$work/prune.json" 2>"$work/err" ||
  { cat "$work/err"; fail "prune with Object Lock"; }
checked=$(jq '.object_lock.checked' "$work/prune.json")
renewed=$(jq '.object_lock.renewed' "$work/prune.json")
[ "$renewed" -gt 0 ] && [ "$renewed" -le "$checked" ] || { cat "$work/prune.json"; fail "prune renewed $renewed of $checked retentions"; }
s3 GET "/$bucket?list-type=2&prefix=tier%2F" | grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g' | grep -v '^tier/locks/' >"$work/kept"
now=$(date -u +%s)
while read -r key; do
  s3 HEAD "/$bucket/$key" -I >"$work/head"
  until=$(grep -i '^x-amz-object-lock-retain-until-date:' "$work/head" | cut -d' ' -f2 | tr -d '\r')
  secs=$(( $(date -u -d "$until" +%s) - now ))
  [ "$secs" -gt $(( 119 * 3600 )) ] && [ "$secs" -le $(( 121 * 3600 )) ] || fail "$key retained until $until after prune, want 5 days"
done <"$work/kept"
LIFEBOAT_S3_OBJECT_LOCK_DAYS=5 "$lifeboat" prune --json >"$work/prune.json" || fail "second prune with Object Lock"
[ "$(jq '.object_lock.renewed' "$work/prune.json")" = 0 ] && [ "$(jq '.object_lock.checked' "$work/prune.json")" -ge "$(grep -vc '^tier/data/' "$work/kept")" ] ||
  { cat "$work/prune.json"; fail "a second prune renewed retentions again, or checked too few"; }
"$lifeboat" check --read-data -q || fail "check after the renewing prune"
echo "prune renewed $renewed of $checked retentions (2 -> 5 days; $(wc -l <"$work/kept") objects now retained 5 days); a second prune renewed none"

# A bucket without Object Lock: one line, exit 2, nothing written.
plain=$(rgw_bucket)
unset LIFEBOAT_S3_OBJECT_LOCK_DAYS
LIFEBOAT_REPOSITORY="s3:$S3_ENDPOINT/$plain/tier" "$lifeboat" init -q 2>/dev/null || fail "init of a plain bucket"
set +e
LIFEBOAT_S3_OBJECT_LOCK_DAYS=2 LIFEBOAT_REPOSITORY="s3:$S3_ENDPOINT/$plain/tier" \
  "$lifeboat" backup "$work/home/alice" --account alice --node web1 -q 2>"$work/err"
rc=$?
set -e
[ "$rc" = 2 ] || { cat "$work/err"; fail "Object Lock on a plain bucket: exit $rc, want 2"; }
[ "$(wc -l <"$work/err")" = 1 ] && grep -q "does not have Object Lock enabled" "$work/err" ||
  { cat "$work/err"; fail "Object Lock on a plain bucket: want one line saying so"; }
[ "$(LIFEBOAT_REPOSITORY="s3:$S3_ENDPOINT/$plain/tier" "$lifeboat" snapshots --json | jq length)" = 0 ] ||
  fail "a snapshot was written without Object Lock"
echo "plain bucket: $(cat "$work/err")"
echo "PASS s3_object_lock"
