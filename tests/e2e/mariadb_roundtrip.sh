#!/usr/bin/env bash
# Database dumps against a real MariaDB (docs/CLI.md "Databases"): a
# throwaway server (scripts/start-mariadb) holds databases of two accounts;
# `lifeboat node backup` streams their dumps into the accounts' snapshots;
# the databases are dropped, the dumps restored with `lifeboat restore` and
# loaded with the mariadb client; rows and CHECKSUM TABLE must be as before.
# bob's list also names a database that does not exist: that dump fails, bob
# fails alone (his snapshot saved, partial), alice is untouched, exit 3.
# Everything talks to the server over its unix socket (TCP: 127.0.0.1 only).
# KEEP=1 keeps the work directory (the server is stopped either way).
set -euo pipefail
lifeboat=${1:?usage: mariadb_roundtrip.sh path/to/lifeboat}
here=$(cd "$(dirname "$0")" && pwd)
start_mariadb=$here/../../scripts/start-mariadb
for tool in mariadbd mariadb mariadb-dump mariadb-install-db; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed (scripts/install-deps installs mariadb-server, mariadb-client)"; exit 0; }
done
work=$(mktemp -d /tmp/lifeboat-mariadb-XXXXXX)
export STATE=$work/server
cleanup() {
  "$start_mariadb" stop || true
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
export LIFEBOAT_PASSWORD=mariadb-test LIFEBOAT_TEST_FAST_KDF=1 LIFEBOAT_REPOSITORY=$work/repo
fail() { echo "FAIL: $*"; exit 1; }

# A random high port (another test server may hold one); nothing connects
# over TCP, but the server listens on 127.0.0.1 only anyway.
for attempt in 1 2 3; do
  export PORT=$((20000 + RANDOM % 20000))
  if sock=$("$start_mariadb" start 2>"$work/start.err"); then break; fi
  [ "$attempt" = 3 ] && { cat "$work/start.err"; fail "mariadb did not start"; }
done
sql() { mariadb --no-defaults --default-character-set=utf8mb4 --socket="$sock" -uroot "$@"; }

# ---- the accounts' data
mkdir -p "$work/home/alice/public_html" "$work/home/bob"
echo '<?php echo "shop";' >"$work/home/alice/public_html/index.php"
echo 'bob was here' >"$work/home/bob/notes.txt"
sql <<'SQL'
CREATE DATABASE alice_shop;
CREATE TABLE alice_shop.items (
  id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(200), price DECIMAL(10,2),
  img BLOB, note TEXT, added DATETIME(6)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO alice_shop.items (name, price, img, note, added) VALUES
  ('plain', 1.50, UNHEX('00FF10'), NULL, '2024-05-01 12:34:56.123456'),
  ('quote''s "double" \\back\\slash', NULL, UNHEX('000102030405FEFF'), 'line1\nline2\ttab\r', NULL),
  ('ünïcödé ✓ 日本語', 3.00, NULL, '🚀 four-byte UTF-8', '1999-12-31 23:59:59'),
  ('nul inside', 0, UNHEX(''), CONCAT('a', CHAR(0 USING binary), 'b'), NULL),
  ('', -0.01, NULL, '', NULL);
INSERT INTO alice_shop.items (name, price, img, note)
  SELECT CONCAT('row ', seq), seq / 100, UNHEX(SHA2(seq, 256)), REPEAT('x', seq % 97)
  FROM alice_shop.seq_1_to_3000;
CREATE TABLE alice_shop.audit (id INT PRIMARY KEY AUTO_INCREMENT, item INT) ENGINE=InnoDB;
CREATE TRIGGER alice_shop.items_audit AFTER INSERT ON alice_shop.items
  FOR EACH ROW INSERT INTO alice_shop.audit (item) VALUES (NEW.id);
CREATE PROCEDURE alice_shop.cheap() SELECT name FROM alice_shop.items WHERE price < 1;

CREATE DATABASE alice_blog;
CREATE TABLE alice_blog.posts (id INT PRIMARY KEY, title VARCHAR(100), body LONGTEXT,
  meta JSON) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO alice_blog.posts VALUES (1, 'Hello', REPEAT('lorem ipsum ', 20000), '{"tags": ["a", "ü"]}'),
  (2, NULL, NULL, NULL);

-- A name that needs quoting all the way: the list prints it, lifeboat
-- quotes it for the dump command, the file is named after it.
CREATE DATABASE `alice_o'brien db`;
CREATE TABLE `alice_o'brien db`.t (k VARCHAR(10) PRIMARY KEY, v INT);
INSERT INTO `alice_o'brien db`.t VALUES ('a', 1), ('b', NULL);

CREATE DATABASE bob_shop;
CREATE TABLE bob_shop.orders (id INT PRIMARY KEY, total DECIMAL(8,2)) ENGINE=InnoDB;
INSERT INTO bob_shop.orders VALUES (1, 9.99), (2, 100.00);
-- Not bob's: the LIKE 'bob\_%' in the list command must not pick it up.
CREATE DATABASE bobby;
SQL

dbs=(alice_shop alice_blog "alice_o'brien db" bob_shop)
# Every table's rows (every column's bytes, in hex) and CHECKSUM TABLE.
state_of() {
  local db table
  for db in "${dbs[@]}"; do
    for table in $(sql -N -B -e "SELECT table_name FROM information_schema.tables WHERE table_schema = '${db//\'/\'\'}' ORDER BY 1"); do
      cols=$(sql -N -B -e "SELECT GROUP_CONCAT(CONCAT('HEX(CAST(\`', column_name, '\` AS BINARY))') ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = '${db//\'/\'\'}' AND table_name = '$table'")
      echo "== $db.$table"
      sql -N -B -e "CHECKSUM TABLE \`$db\`.\`$table\` EXTENDED"
      sql -N -B -e "SELECT $cols FROM \`$db\`.\`$table\` ORDER BY 1"
    done
    sql -N -B -e "SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = '${db//\'/\'\'}'"
    sql -N -B -e "SELECT routine_name FROM information_schema.routines WHERE routine_schema = '${db//\'/\'\'}'"
  done
}
state_of >"$work/before"
[ "$(grep -c '' "$work/before")" -gt 3000 ] || fail "test data missing"

# ---- the backup: the documented form of the list command (docs/CLI.md),
# plus a name for bob that the server does not have.
mkdir "$work/tmp"
set +e
TMPDIR=$work/tmp "$lifeboat" init >/dev/null 2>&1
TMPDIR=$work/tmp "$lifeboat" node backup "$work/home" --node web1 --json \
  --db-list-command "mariadb --no-defaults --socket=$sock -uroot -N -B -r -e \"SHOW DATABASES LIKE '{account}\\_%'\"; [ {account} != bob ] || echo bob_gone" \
  --db-dump-command "mariadb-dump --no-defaults --socket=$sock -uroot --single-transaction --routines --triggers --events --hex-blob --skip-dump-date --databases {db}" \
  >"$work/backup.json" 2>"$work/backup.err"
code=$?
set -e
[ "$code" -eq 3 ] || { cat "$work/backup.err"; fail "node backup exited $code, expected 3 (bob's dump fails)"; }
grep -q "bob_gone" "$work/backup.err" || { cat "$work/backup.err"; fail "the failed dump is not named on stderr"; }
[ -z "$(ls -A "$work/tmp")" ] || fail "lifeboat left files in TMPDIR: $(ls -A "$work/tmp")"
[ ! -e "$work/home/alice/.lifeboat" ] || fail "dumps were written into the account directory"
python3 - "$work/backup.json" <<'PY'
import json, sys
out = json.load(open(sys.argv[1]))
acc = {a["account"]: a for a in out["accounts"]}
alice, bob = acc["alice"], acc["bob"]
assert alice["result"] == "ok", alice
names = sorted(d["name"] for d in alice["databases"])
assert names == ["alice_blog", "alice_o'brien db", "alice_shop"], names
assert all(d["bytes"] > 100 and d["error"] is None for d in alice["databases"]), alice["databases"]
assert bob["result"] == "failed", bob
assert bob["snapshot_id"], bob                      # saved all the same
err = bob["error"]
assert "dump of database bob_gone failed (exit status 2)" in err and "Unknown database" in err, err
bdb = {d["name"]: d for d in bob["databases"]}
assert set(bdb) == {"bob_shop", "bob_gone"}, bdb  # not bobby
assert bdb["bob_shop"]["error"] is None and bdb["bob_shop"]["bytes"] > 100, bdb
assert out["summary"]["ok"] == 1 and out["summary"]["failed"] == 1, out["summary"]
PY
"$lifeboat" snapshots --json >"$work/snaps.json"
python3 - "$work/snaps.json" "$work/home" <<'PY'
import json, sys, os
snaps = {s["account"]: s for s in json.load(open(sys.argv[1]))}
home = os.path.realpath(sys.argv[2])
assert snaps["alice"]["partial"] is False, snaps["alice"]
assert snaps["bob"]["partial"] is True, snaps["bob"]
assert snaps["bob"]["error_paths"] == [home + "/bob/.lifeboat/databases/bob_gone.sql"], snaps["bob"]
PY
"$lifeboat" check --read-data >/dev/null

# ---- lose the databases, restore the dumps, load them
for db in "${dbs[@]}"; do sql -e "DROP DATABASE \`$db\`"; done
"$lifeboat" restore latest:/.lifeboat/databases --account alice --target "$work/r-alice" >/dev/null
"$lifeboat" restore latest:/.lifeboat/databases/bob_shop.sql --account bob --target "$work/r-bob" >/dev/null
[ "$(ls "$work/r-alice" | wc -l)" -eq 3 ] || fail "expected 3 dumps for alice: $(ls "$work/r-alice")"
[ "$(stat -c %a "$work/r-alice")" = 700 ] || fail "databases directory mode $(stat -c %a "$work/r-alice")"
for f in "$work/r-alice"/*.sql "$work/r-bob/bob_shop.sql"; do
  [ "$(stat -c %a "$f")" = 600 ] || fail "$f has mode $(stat -c %a "$f"), expected 600"
  sql <"$f"
done
[ -f "$work/r-alice/alice_o'brien db.sql" ] || fail "dump file of the quoted name missing"
state_of >"$work/after"
diff "$work/before" "$work/after" >"$work/diff" || { head -20 "$work/diff"; fail "restored databases differ"; }

# ---- next night: the dumps are taken again and deduplicate (--skip-dump-date
# makes an unchanged database dump to the same bytes).
"$lifeboat" node backup "$work/home" --node web1 --include alice --json \
  --db-list-command "mariadb --no-defaults --socket=$sock -uroot -N -B -r -e \"SHOW DATABASES LIKE '{account}\\_%'\"" \
  --db-dump-command "mariadb-dump --no-defaults --socket=$sock -uroot --single-transaction --routines --triggers --events --hex-blob --skip-dump-date --databases {db}" \
  >"$work/again.json"
python3 - "$work/again.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["accounts"][0]
dumped = sum(d["bytes"] for d in a["databases"])
assert a["result"] == "ok" and len(a["databases"]) == 3, a
assert a["bytes_read"] >= dumped, a                 # always read again
assert a["bytes_added"] < 64 * 1024, a              # but nothing new stored except trees
PY
echo "OK: dumps of $(grep -c '^== ' "$work/before") tables streamed, restored and loaded identically; bob's failing dump failed bob alone"
