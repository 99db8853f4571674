# shellcheck shell=bash
# The S3 server of an e2e script: the Ceph RADOS Gateway ctest started for
# the run (fixture "rgw", state in LIFEBOAT_TEST_RGW_STATE), or, when the
# script runs on its own, one started here in $1 and stopped by rgw_stop.
# Sets S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY and exports the AWS_*
# variables lifeboat reads.
rgw_script="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/scripts/start-rgw"
rgw_own_state=
rgw_start() {
  local state=${LIFEBOAT_TEST_RGW_STATE:-}
  if [ -z "$state" ] || [ ! -f "$state/s3.env" ]; then
    rgw_own_state=$1
    STATE=$rgw_own_state PORT=auto MON_PORT=auto FRESH=1 bash "$rgw_script" start >"$1.log" 2>&1 ||
      { cat "$1.log"; echo "FAIL: the Ceph RADOS Gateway did not start"; exit 1; }
    state=$rgw_own_state
  fi
  # shellcheck disable=SC1091
  . "$state/s3.env"
  export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
}
rgw_stop() {
  [ -z "$rgw_own_state" ] || STATE=$rgw_own_state bash "$rgw_script" stop-and-remove >/dev/null 2>&1 || true
}
# A bucket name no other test uses.
rgw_bucket() { echo "e2e-$$-$RANDOM$RANDOM"; }
# The gateway's own answer to a GET (signed by curl), for looking behind lifeboat.
rgw_get() {
  curl -s --aws-sigv4 aws:amz:us-east-1:s3 --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$S3_ENDPOINT$1"
}
