#!/usr/bin/env bash
# lifeboat serve (issue 5, point 2): per-node credentials with hashed
# passwords, each confined to its own repository path, append-only unless
# admin, TLS or loopback-only plain HTTP, a request log, a clean stop. A
# node backs up and restores through it; its attempts to delete, overwrite,
# upload damaged data or reach another node's path are refused, clearly.
set -euo pipefail
lifeboat=${1:?usage: serve.sh path/to/lifeboat}
work=$(mktemp -d /tmp/lifeboat-serve-XXXXXX)
# shellcheck source=lib/ports.sh
. "$(dirname "$0")/lib/ports.sh"
port=$(free_port)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; umount "$work/small" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
export LIFEBOAT_PASSWORD=serve-test LIFEBOAT_TEST_FAST_KDF=1
creds=$work/creds
echo web1-secret >"$work/web1.pw"
echo web2-secret >"$work/web2.pw"
echo admin-secret >"$work/admin.pw"
"$lifeboat" serve add-credential --credentials "$creds" --name web1 --path nodes/web1 --new-password-file "$work/web1.pw" -q
"$lifeboat" serve add-credential --credentials "$creds" --name web2 --path nodes/web2 --new-password-file "$work/web2.pw" -q
"$lifeboat" serve add-credential --credentials "$creds" --name prune1 --path nodes/web1 --admin --new-password-file "$work/admin.pw" -q
! grep -q secret "$creds" || fail "a password is stored in clear"

start_server() {  # extra flags...
  "$lifeboat" serve --root "$work/root" --credentials "$creds" --log "$work/requests.log" "$@" 2>"$work/serve.err" &
  pid=$!
  for _ in $(seq 1 50); do
    grep -q "serving" "$work/serve.err" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$work/serve.err"; fail "serve did not start"; }
    sleep 0.1
  done
  fail "serve did not say it is serving"
}
stop_server() {
  kill -TERM "$pid"
  wait "$pid" || fail "serve did not stop cleanly on SIGTERM (exit $?)"
  pid=
  grep -q "server stopped" "$work/serve.err" || fail "no clean-stop message"
}

# Plain HTTP is for loopback only.
set +e
"$lifeboat" serve --root "$work/root" --credentials "$creds" --listen 0.0.0.0:$port 2>"$work/err"
rc=$?
set -e
[ "$rc" = 2 ] && grep -q "loopback" "$work/err" || { cat "$work/err"; fail "plain HTTP on 0.0.0.0 was not refused"; }

start_server --listen "127.0.0.1:$port"
web1="rest:http://web1:web1-secret@127.0.0.1:$port/nodes/web1/"
python3 "$(dirname "$0")/../../bench/gen_node.py" --out "$work/home" --accounts 6 --scale 0.02 --seed 8 >/dev/null
"$lifeboat" init --repo "$web1" -q 2>/dev/null
"$lifeboat" node backup "$work/home" --node web1 --repo "$web1" -q 2>/dev/null || fail "node backup through serve"
"$lifeboat" check --read-data --repo "$web1" -q 2>/dev/null || fail "check through serve"
mkdir "$work/out"
"$lifeboat" node restore --node web1 --target "$work/out" --repo "$web1" -q 2>/dev/null || fail "node restore through serve"
for a in $(ls "$work/home"); do diff -r --no-dereference "$work/home/$a" "$work/out/$a" >/dev/null || fail "$a differs"; done
[ -f "$work/root/nodes/web1/config" ] || fail "the repository is not at root/nodes/web1"
echo "round trip through lifeboat serve: exact"

c() { curl -s -o "$work/body" -w '%{http_code}' "$@"; }
base="http://127.0.0.1:$port"
key=$(ls "$work/root/nodes/web1/keys" | head -1)
pack=$(find "$work/root/nodes/web1/data" -type f | head -1 | xargs basename)
# A node deletes its own backups: refused.
[ "$(c -u web1:web1-secret -X DELETE "$base/nodes/web1/keys/$key")" = 403 ] || fail "append-only credential deleted a key"
grep -q "append-only" "$work/body" || fail "the refusal does not say append-only: $(cat "$work/body")"
[ -f "$work/root/nodes/web1/keys/$key" ] || fail "the key is gone"
# ... through lifeboat too, with a clear one-line error.
echo another >"$work/another.pw"
"$lifeboat" key add --new-password-file "$work/another.pw" --repo "$web1" -q 2>/dev/null || fail "key add (a create) refused"
other=$("$lifeboat" key list --json --repo "$web1" 2>/dev/null | jq -r '[.[] | select(.current | not) | .id][0]')
set +e
"$lifeboat" key remove "$other" --repo "$web1" >/dev/null 2>"$work/err"
rc=$?
set -e
[ "$rc" = 14 ] && grep -q "append-only" "$work/err" || { cat "$work/err"; fail "key remove as web1: exit $rc"; }
# Overwrites: refused.
# (its own bytes again, so the name matches and only the overwrite is wrong)
[ "$(c -u web1:web1-secret -X POST --data-binary @"$work/root/nodes/web1/keys/$key" "$base/nodes/web1/keys/$key")" = 403 ] ||
  fail "overwrite of a key accepted"
[ "$(c -u web1:web1-secret -X POST --data-binary junk "$base/nodes/web1/keys/$key")" = 400 ] || fail "junk under a key's name accepted"
# Damaged upload (content does not match its name): refused.
[ "$(c -u web1:web1-secret -X POST --data-binary junk "$base/nodes/web1/data/$pack")" = 400 ] || fail "damaged data upload accepted"
name=$(printf x | sha256sum | cut -c1-64)
[ "$(c -u web1:web1-secret -X POST --data-binary y "$base/nodes/web1/data/$name")" = 400 ] || fail "mismatched data upload accepted"
[ "$(c -u web1:web1-secret -X POST --data-binary y "$base/nodes/web1/snapshots/$name")" = 400 ] || fail "mismatched snapshot upload accepted"
[ "$(c -u web1:web1-secret -X POST --data-binary x "$base/nodes/web1/snapshots/$name")" = 200 ] || fail "a snapshot matching its name refused"
# Another node's path, and paths that try to escape: refused.
[ "$(c -u web2:web2-secret "$base/nodes/web1/config")" = 403 ] || fail "web2 read web1's config"
grep -q "may only reach" "$work/body" || fail "the refusal does not name the path: $(cat "$work/body")"
[ "$(c -u web2:web2-secret --path-as-is "$base/nodes/web2/../web1/config")" != 200 ] || fail "web2 escaped with .."
# Wrong password, unknown user, none at all: 401.
[ "$(c -u web1:wrong "$base/nodes/web1/config")" = 401 ] || fail "wrong password accepted"
[ "$(c -u nobody:x "$base/nodes/web1/config")" = 401 ] || fail "unknown user accepted"
[ "$(c "$base/nodes/web1/config")" = 401 ] || fail "no credentials accepted"
# The admin credential may delete (prune).
[ "$(c -u prune1:admin-secret -X DELETE "$base/nodes/web1/locks/$name")" = 200 ] || fail "admin delete refused"
grep -q " web1 POST /nodes/web1/data/" "$work/requests.log" || fail "no request log lines"
grep -q " 403 " "$work/requests.log" || fail "refusals are not logged"
! grep -q secret "$work/requests.log" || fail "a password in the request log"
stop_server
echo "refusals: delete, overwrite, damaged upload, other path, bad credentials; admin may delete; log written"

# A full disk on the server: one line saying so (exit 13), not "cannot
# reach", and a repository check accepts. (Needs root for the tmpfs.)
if mkdir "$work/small" && mount -t tmpfs -o size=4m tmpfs "$work/small" 2>/dev/null; then
  "$lifeboat" serve add-credential --credentials "$work/creds-full" --name full --path r --new-password-file "$work/web1.pw" -q
  "$lifeboat" serve --root "$work/small" --credentials "$work/creds-full" --listen "127.0.0.1:$port" -q &
  fullpid=$!
  sleep 0.5
  full="rest:http://full:web1-secret@127.0.0.1:$port/r/"
  mkdir "$work/bigsrc"
  head -c 12000000 /dev/urandom >"$work/bigsrc/big.bin"
  "$lifeboat" init --repo "$full" -q 2>/dev/null
  set +e
  "$lifeboat" backup "$work/bigsrc" --account big --repo "$full" -q 2>"$work/err"
  rc=$?
  set -e
  "$lifeboat" check --repo "$full" -q 2>/dev/null || { kill "$fullpid"; fail "check rejects the repository after the full disk"; }
  kill "$fullpid"; wait "$fullpid" || true
  umount "$work/small"
  [ "$rc" = 13 ] && [ "$(wc -l <"$work/err")" = 1 ] && grep -q "storage is full" "$work/err" ||
    { cat "$work/err"; fail "full server disk: exit $rc"; }
  echo "full disk on the server: $(cat "$work/err")"
fi

# TLS, on any address, with a given certificate.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 2 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
start_server --listen "127.0.0.1:$port" --tls-cert "$work/cert.pem" --tls-key "$work/key.pem"
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/cert.pem" -u web1:web1-secret "https://127.0.0.1:$port/nodes/web1/config")" = 200 ] ||
  fail "TLS request failed"
[ "$(curl -s -o /dev/null -w '%{http_code}' -u web1:web1-secret "http://127.0.0.1:$port/nodes/web1/config")" != 200 ] ||
  fail "plain HTTP answered on the TLS port"
stop_server
echo "TLS: served with the given certificate"
echo OK
