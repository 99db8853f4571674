#!/usr/bin/env bash
# Faults on the wire (issue 5, point 5, SFTP part): a TCP fault-injecting
# proxy (scripts/tcp-fault-proxy: connections dropped after some bytes with
# a FIN or a reset, responses cut short, stalls, delays) between lifeboat
# and a real sshd. init, node backup and node restore through it complete
# (a command may fail once with one clear line; its rerun must complete),
# the repository judged directly against sshd is whole (check --read-data),
# and every account comes back exact. The proxy's counts show the faults
# that struck.
set -euo pipefail
lifeboat=${1:?usage: sftp_faults.sh path/to/lifeboat}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/ports.sh
. "$here/lib/ports.sh"
server="$here/../../scripts/start-sshd"
proxy="$here/../../scripts/tcp-fault-proxy"
work=$(mktemp -d /tmp/lifeboat-sftp-faults-XXXXXX)
chmod 755 "$work"  # the test user's home is below it
port=$(free_port)
pport=$(free_port)
export STATE=$work/sshd PORT=$port
cleanup() {
  python3 "$proxy" stop --state "$work/proxy" >/dev/null 2>&1 || true
  bash "$server" stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
export LIFEBOAT_PASSWORD=faults LIFEBOAT_TEST_FAST_KDF=1
bash "$server" start >/dev/null
# The proxy's port shows the server's host key too.
cp "$STATE/known_hosts" "$work/known_hosts"
echo "[127.0.0.1]:$pport $(cut -d' ' -f1,2 "$STATE/host_ed25519.pub")" >>"$work/known_hosts"
export LIFEBOAT_SFTP_IDENTITY=$STATE/client_ed25519 LIFEBOAT_SFTP_KNOWN_HOSTS=$work/known_hosts
repo_dir=$STATE/home/sftptest/repo
direct="sftp:sftptest@127.0.0.1:$port$repo_dir"
faulty="sftp:sftptest@127.0.0.1:$pport$repo_dir"

python3 "$here/../../bench/gen_node.py" --out "$work/home" --accounts 10 --scale 0.03 --seed 4 >/dev/null
python3 "$proxy" start --port "$pport" --target "$port" --seed "${SEED:-7}" --rate 0.5 --max-bytes 300000 \
  --delay-ms 200 --stall-ms 1500 --state "$work/proxy"

# through WHAT ARGS...: runs lifeboat through the faulty proxy; a failure must
# be one line, and the rerun must complete.
through() {
  local what=$1
  shift
  "$lifeboat" "$@" --repo "$faulty" -q 2>"$work/err" && return 0
  [ "$(wc -l <"$work/err")" = 1 ] || { cat "$work/err"; fail "$what failed without one clear line"; }
  echo "$what failed once (allowed), rerun: $(cat "$work/err")"
  "$lifeboat" "$@" --repo "$faulty" -q 2>"$work/err" || { cat "$work/err"; fail "$what failed again"; }
}

through init init
through "node backup" node backup "$work/home" --node web1
# A second backup of changed accounts (new packs, the parent snapshots read).
for a in $(ls "$work/home" | head -4); do head -c 3000000 /dev/urandom >"$work/home/$a/changed.bin"; done
through "node backup (changed)" node backup "$work/home" --node web1
through "check --read-data" check --read-data
mkdir "$work/out"
through "node restore" node restore --node web1 --target "$work/out"
python3 "$proxy" stop --state "$work/proxy"

# Judged without the proxy: the repository is whole, every account exact.
"$lifeboat" check --read-data --repo "$direct" -q 2>"$work/err" ||
  { cat "$work/err"; fail "check rejects what the faulty run left"; }
for a in $(ls "$work/home"); do
  diff -r --no-dereference "$work/home/$a" "$work/out/$a" >/dev/null || fail "account $a differs"
done
counts=$(cat "$work/proxy/tcp-fault-proxy.counts")
faults=$(echo "$counts" | jq '.drop + .truncate + .stall + .delay')
broken=$(echo "$counts" | jq '.drop + .truncate + .stall')
[ "$faults" -ge 5 ] && [ "$broken" -ge 3 ] || fail "only $faults faults struck, $broken breaking a connection ($counts)"
echo "backup, check and restore exact through $faults faults: $counts"
echo OK
