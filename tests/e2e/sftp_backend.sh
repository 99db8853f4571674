#!/usr/bin/env bash
# The SFTP backend against a real OpenSSH sshd (started here on 127.0.0.1
# with its own host key and user key): a node backed up and restored exactly
# through it, check --read-data, then what must be refused in one line: an
# unknown host key (with its fingerprint), a wrong key (exit 14), an
# unreachable port (within seconds) and a bad URL.
set -euo pipefail
lifeboat=${1:?usage: sftp_backend.sh path/to/lifeboat}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/ports.sh
. "$here/lib/ports.sh"
server="$here/../../scripts/start-sshd"
work=$(mktemp -d /tmp/lifeboat-sftp-XXXXXX)
chmod 755 "$work"  # the test user's home is below it
port=$(free_port)
export STATE=$work/sshd PORT=$port
cleanup() { bash "$server" stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
export LIFEBOAT_PASSWORD=sftp-test LIFEBOAT_TEST_FAST_KDF=1
export LIFEBOAT_SFTP_IDENTITY=$STATE/client_ed25519 LIFEBOAT_SFTP_KNOWN_HOSTS=$STATE/known_hosts
repo_dir=$STATE/home/sftptest/repo
export LIFEBOAT_REPOSITORY="sftp:sftptest@127.0.0.1:$port$repo_dir"

bash "$server" start >/dev/null
python3 "$here/../../bench/gen_node.py" --out "$work/home" --accounts 12 --scale 0.03 --seed 3 >/dev/null

"$lifeboat" init -q 2>"$work/err" || { cat "$work/err"; fail "init through SFTP"; }
"$lifeboat" node backup "$work/home" --node web1 -q 2>"$work/err" || { cat "$work/err"; fail "node backup through SFTP"; }
"$lifeboat" check --read-data -q 2>"$work/err" || { cat "$work/err"; fail "check --read-data through SFTP"; }
mkdir "$work/out"
"$lifeboat" node restore --node web1 --target "$work/out" -q 2>"$work/err" || { cat "$work/err"; fail "node restore through SFTP"; }
for a in $(ls "$work/home"); do
  diff -r --no-dereference "$work/home/$a" "$work/out/$a" >/dev/null || fail "account $a differs after the SFTP round trip"
done
# The objects are on the server, in the repository layout, owned by the SSH user.
[ -f "$repo_dir/config" ] && [ -n "$(ls "$repo_dir/snapshots")" ] && [ -n "$(ls "$repo_dir/data")" ] ||
  fail "no config/snapshots/data on the server"
[ "$(stat -c %U "$repo_dir/config")" = sftptest ] || fail "config is not owned by the SSH user"
[ -z "$(find "$repo_dir" -name '.*')" ] || fail "temporary files left: $(find "$repo_dir" -name '.*' | head -3)"
echo "round trip: $(ls "$work/home" | wc -l) accounts exact through $LIFEBOAT_REPOSITORY"

# The URL form sftp://user@host:port/path opens the same repository.
"$lifeboat" snapshots --repo "sftp://sftptest@127.0.0.1:$port$repo_dir" -q >/dev/null 2>"$work/err" ||
  { cat "$work/err"; fail "sftp:// URL form"; }

# one_line WHAT WANT_RC PATTERN: the last command's stderr is one line with
# PATTERN in it and its exit code is WANT_RC.
one_line() {
  local what=$1 want=$2 pattern=$3
  [ "$rc" = "$want" ] || { cat "$work/err"; fail "$what: exit $rc, want $want"; }
  [ "$(wc -l <"$work/err")" = 1 ] && grep -qF -- "$pattern" "$work/err" ||
    { cat "$work/err"; fail "$what: want one line with '$pattern'"; }
  echo "$what: $(cat "$work/err")"
}

# An unknown host key: refused (never trusted on first use), with the fingerprint.
: >"$work/empty_known_hosts"
fingerprint=$(ssh-keygen -l -E sha256 -f "$STATE/host_ed25519.pub" | cut -d' ' -f2)
set +e
LIFEBOAT_SFTP_KNOWN_HOSTS=$work/empty_known_hosts "$lifeboat" snapshots >/dev/null 2>"$work/err"
rc=$?
set -e
one_line "unknown host key" 14 "$fingerprint"
grep -qF "ssh-keyscan -p $port 127.0.0.1" "$work/err" || fail "unknown host key: no ssh-keyscan advice"

# A key the server does not accept.
ssh-keygen -q -t ed25519 -N '' -f "$work/wrong_key"
set +e
LIFEBOAT_SFTP_IDENTITY=$work/wrong_key "$lifeboat" snapshots >/dev/null 2>"$work/err"
rc=$?
set -e
one_line "wrong key" 14 "sftptest@127.0.0.1:$port refused the key"

# A bad URL.
set +e
"$lifeboat" snapshots --repo "sftp:sftptest@127.0.0.1" >/dev/null 2>"$work/err"
rc=$?
set -e
one_line "bad URL" 2 "sftp:[user@]host:[port]/path"

# Unreachable: one line naming the location, within seconds.
bash "$server" stop >/dev/null
start=$(date +%s)
set +e
"$lifeboat" snapshots >/dev/null 2>"$work/err"
rc=$?
set -e
one_line "unreachable" 1 "cannot reach sftp:sftptest@127.0.0.1:$port$repo_dir"
[ $(( $(date +%s) - start )) -le 15 ] || fail "unreachable server: took $(( $(date +%s) - start )) s to give up"
echo OK
