#!/usr/bin/env bash
# Live files (issue point 5): a file the backup cannot read is reported by
# path, the backup completes with exit code 3 ("partial"), the snapshot
# records the path, and everything else in it restores exactly.
# Runs the binary as an unprivileged user (as root every file is readable).
set -euo pipefail
lifeboat=${1:?usage: partial_backup.sh path/to/lifeboat}
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
  echo "SKIP: needs root and setpriv to run as an unprivileged user"; exit 0
fi
work=$(mktemp -d /tmp/lifeboat-partial-XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
export LIFEBOAT_PASSWORD=partial LIFEBOAT_TEST_FAST_KDF=1
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

mkdir -p "$work/src/sub" "$work/repo"
echo "public" > "$work/src/readable.txt"
echo "more" > "$work/src/sub/also.txt"
echo "private" > "$work/src/sub/secret.txt"
chown -R 65534:65534 "$work/src" "$work/repo"
chmod 000 "$work/src/sub/secret.txt"
chown root:root "$work/src/sub/secret.txt"

as_nobody "$lifeboat" init --repo "$work/repo" >/dev/null 2>&1
set +e
as_nobody "$lifeboat" backup "$work/src" --account acct --repo "$work/repo" >"$work/out" 2>"$work/err"
code=$?
set -e
[ "$code" -eq 3 ] || { echo "FAIL: expected exit 3 (partial), got $code"; cat "$work/err"; exit 1; }
grep -q "sub/secret.txt" "$work/err" || { echo "FAIL: unreadable file not named on stderr"; cat "$work/err"; exit 1; }
as_nobody "$lifeboat" snapshots --repo "$work/repo" --json > "$work/snaps.json"
python3 - "$work/snaps.json" <<'PY'
import json, sys
snaps = json.load(open(sys.argv[1]))
assert len(snaps) == 1, snaps
s = snaps[0]
assert s["partial"] is True, s
assert any(p.endswith("sub/secret.txt") for p in s.get("error_paths", [])), s
PY
as_nobody "$lifeboat" check --repo "$work/repo" >/dev/null 2>&1
mkdir "$work/out-dir" && chown 65534:65534 "$work/out-dir"
as_nobody "$lifeboat" restore latest --account acct --target "$work/out-dir/r" --repo "$work/repo" >/dev/null 2>&1 || true
cmp "$work/src/readable.txt" "$work/out-dir/r/readable.txt"
cmp "$work/src/sub/also.txt" "$work/out-dir/r/sub/also.txt"
echo "OK: partial backup reported (exit 3), recorded, and the readable files restore"

# A node with one account the backup cannot read at all: that account fails
# alone, named, and the others are backed up and restore.
mkdir -p "$work/home/alice/www" "$work/home/bob/www" "$work/home/carol/www" "$work/node-repo"
for a in alice bob carol; do echo "site of $a" > "$work/home/$a/www/index.html"; done
chown -R 65534:65534 "$work/home" "$work/node-repo"
chown root:root "$work/home/bob" && chmod 700 "$work/home/bob"
as_nobody "$lifeboat" init --repo "$work/node-repo" >/dev/null 2>&1
set +e
as_nobody "$lifeboat" node backup "$work/home" --node web1 --repo "$work/node-repo" --json >"$work/node.json" 2>"$work/node.err"
code=$?
set -e
[ "$code" -eq 3 ] || { echo "FAIL: node backup with an unreadable account: exit $code, expected 3"; cat "$work/node.err"; exit 1; }
grep -q "account bob" "$work/node.err" || { echo "FAIL: the unreadable account is not named"; cat "$work/node.err"; exit 1; }
python3 - "$work/node.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
by = {a["account"]: a for a in d["accounts"]}
assert by["alice"]["result"] == "ok" and by["carol"]["result"] == "ok", by
assert by["bob"]["result"] != "ok", by["bob"]
PY
mkdir "$work/node-out" && chown 65534:65534 "$work/node-out"
as_nobody "$lifeboat" node restore --node web1 --target "$work/node-out/home" --accounts alice,carol --repo "$work/node-repo" >/dev/null 2>&1
for a in alice carol; do cmp "$work/home/$a/www/index.html" "$work/node-out/home/$a/www/index.html"; done
echo "OK: an unreadable account fails alone in a node backup (exit 3); the others restore"
