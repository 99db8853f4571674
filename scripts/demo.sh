#!/usr/bin/env bash
# lifeboat demo: back up a small generated hosting node (one snapshot per
# account, `node backup`), wipe it, bring every account back (`node
# restore`: smallest first, each verified, then handed to a ready hook), and
# prove independently that the restore is exact.
#
#   bash scripts/demo.sh [path/to/lifeboat]        (default build/lifeboat)
#
# Environment: ACCOUNTS (12), SCALE (0.02), SEED (1) for the sample node;
# KEEP=1 keeps the workspace under /tmp for inspection.
# Exit status: 0 when every account came back identical (content, modes,
# mtimes, symlinks, hard links) and `check --read-data` passed; 1 otherwise.
set -euo pipefail

LB=${1:-build/lifeboat}
if [[ ! -x $LB ]]; then
  echo "demo: no lifeboat binary at $LB (build it: make build)" >&2
  exit 2
fi
LB=$(cd "$(dirname "$LB")" && pwd)/$(basename "$LB")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GEN="$HERE/../bench/gen_node.py"
ACCOUNTS=${ACCOUNTS:-12}
SCALE=${SCALE:-0.02}
SEED=${SEED:-1}

WS=$(mktemp -d /tmp/lifeboat-demo.XXXXXX)
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  if [[ ${KEEP:-0} == 1 ]]; then
    echo "workspace kept: $WS"
  else
    rm -rf "$WS"
  fi
}
trap cleanup EXIT

NODE=$WS/node            # the live node (wiped after the backup)
PRISTINE=$WS/pristine    # a copy kept aside to compare the restore with
RESTORED=$WS/restored
REPO=$WS/repo
failures=0

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
human() { awk -v n="$1" 'BEGIN { split("B KiB MiB GiB TiB", u); i = 1; while (n >= 1024 && i < 5) { n /= 1024; i++ }
                                 if (i == 1) printf "%d B", n; else printf "%.1f %s", n, u[i] }'; }
fail() { echo "  MISMATCH: $*"; failures=$((failures + 1)); }
jget() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' "$@"; }

# What must survive a restore: names, types, modes, mtimes (ns), sizes, link
# counts and symlink targets.  Directory sizes are left out: they depend on the
# filesystem's history (ext4 directories never shrink), not on the data.
listing() {
  (cd "$1" && find . \( -type d -printf '%P %y %m %T@\n' \) -o \( -printf '%P %y %m %T@ %s %n %l\n' \) | LC_ALL=C sort)
}

echo "lifeboat demo — $("$LB" --version 2>/dev/null | head -1 || true)"
echo "workspace $WS"
echo

echo "[1/7] generating a sample hosting node ($ACCOUNTS accounts, scale $SCALE, seed $SEED)"
t=$(now)
python3 "$GEN" --out "$NODE" --accounts "$ACCOUNTS" --scale "$SCALE" --seed "$SEED" --json >"$WS/gen.json" 2>"$WS/gen.log"
cp -a "$NODE" "$PRISTINE"
mapfile -t accts < <(find "$NODE" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | LC_ALL=C sort)
bytes=$(jget "$WS/gen.json" 'd["bytes"]')
echo "      ${#accts[@]} accounts (${accts[*]})"
echo "      $(jget "$WS/gen.json" 'format(d["files"], ",") + " files, " + format(d["dirs"], ",") + " directories, " + str(d["symlinks"]) + " symlinks"'), $(human "$bytes") ($(since "$t") s)"

echo "[2/7] lifeboat init"
head -c 32 /dev/urandom | base64 >"$WS/password"
chmod 600 "$WS/password"
export LIFEBOAT_PASSWORD_FILE=$WS/password
"$LB" init --repo "$REPO" >"$WS/init.log" 2>&1 || { cat "$WS/init.log"; echo "demo: init failed" >&2; exit 1; }

echo "[3/7] node backup: every account, one snapshot each, through one pipeline"
t=$(now)
rc=0
"$LB" node backup "$NODE" --node demo-node --repo "$REPO" --json >"$WS/node-backup.json" 2>"$WS/node-backup.log" || rc=$?
if [[ $rc -ne 0 ]]; then
  if [[ $rc -eq 3 ]]; then fail "node backup was partial (exit 3)"; else fail "node backup failed (exit $rc)"; fi
  tail -3 "$WS/node-backup.log" | sed 's/^/      /'
fi
t_backup=$(since "$t")
if [[ -s $WS/node-backup.json ]]; then
  echo "      $(jget "$WS/node-backup.json" 'str(d["summary"]["ok"]) + " of " + str(d["summary"]["accounts"]) + " accounts ok"'), $(human "$(jget "$WS/node-backup.json" 'd["summary"]["bytes_added"]')") added after deduplication, in $t_backup s"
fi

echo "[4/7] snapshots"
"$LB" snapshots --repo "$REPO" 2>&1 | sed 's/^/      /' || true
if "$LB" snapshots --repo "$REPO" --json >"$WS/snapshots.json" 2>"$WS/snapshots.log"; then
  missing=$(python3 - "$WS/snapshots.json" "${accts[@]}" <<'EOF'
import json, sys
snaps = json.load(open(sys.argv[1]))
have = {s.get("account") for s in snaps if s.get("node") == "demo-node"}
print(" ".join(a for a in sys.argv[2:] if a not in have))
EOF
  ) || missing="(unreadable JSON)"
  [[ -z $missing ]] || fail "no snapshot for: $missing"
else
  fail "snapshots --json failed: $(tail -1 "$WS/snapshots.log")"
fi

echo "[5/7] wiping the node; node restore: smallest accounts first, each verified, then a ready hook"
rm -rf "$NODE"
t=$(now)
# The ready hook stands in for "bring the account online": it records when.
printf '#!/bin/sh\necho "$(date +%%s.%%N) $1" >>"%s/online.log"\n' "$WS" >"$WS/ready-hook.sh"
chmod +x "$WS/ready-hook.sh"
rc=0
"$LB" node restore --node demo-node --target "$RESTORED" --repo "$REPO" \
  --on-account-ready "$WS/ready-hook.sh" --json >"$WS/node-restore.json" 2>"$WS/node-restore.log" || rc=$?
[[ $rc -eq 0 ]] || { fail "node restore failed (exit $rc)"; tail -3 "$WS/node-restore.log" | sed 's/^/      /'; }
t_restore=$(since "$t")
hooks=$(cat "$WS/online.log" 2>/dev/null | wc -l)
if [[ -s $WS/node-restore.json ]]; then
  echo "      $(jget "$WS/node-restore.json" 'str(d["summary"]["ready"]) + " of " + str(d["summary"]["accounts"]) + " accounts ready and verified; 50% ready after " + format(d["summary"]["ready_50_s"], ".2f") + " s, all after " + format(d["summary"]["ready_100_s"], ".2f") + " s"')"
  echo "      $(human "$(jget "$WS/node-restore.json" 'd["summary"]["bytes_fetched"]')") fetched from the repository for $(human "$(jget "$WS/node-restore.json" 'd["summary"]["bytes_written"]')") written (shared content fetched once)"
  echo "      ready hook ran $hooks times; timeline in $RESTORED/.lifeboat-restore/timeline.csv"
fi
[[ $hooks -eq ${#accts[@]} ]] || fail "the ready hook ran $hooks times for ${#accts[@]} accounts"

echo "[6/7] verifying every account: diff -r (content, symlinks) and find (modes, mtimes, sizes, links)"
t=$(now)
ok_accts=0
for a in "${accts[@]}"; do
  bad=0
  if [[ ! -d $RESTORED/$a ]]; then
    fail "$a: nothing restored"
    continue
  fi
  if ! diff -r --no-dereference "$PRISTINE/$a" "$RESTORED/$a" >"$WS/diff-$a.txt" 2>&1; then
    fail "$a: content differs ($(wc -l <"$WS/diff-$a.txt") lines of diff -r), e.g.:"
    head -5 "$WS/diff-$a.txt" | sed 's/^/      /'
    bad=1
  fi
  if ! diff <(listing "$PRISTINE/$a") <(listing "$RESTORED/$a") >"$WS/meta-$a.txt"; then
    fail "$a: metadata differs ($(grep -c '^[<>]' "$WS/meta-$a.txt") lines; < original, > restored), e.g.:"
    grep '^[<>]' "$WS/meta-$a.txt" | head -6 | sed 's/^/      /'
    bad=1
  fi
  [[ $bad -eq 1 ]] || ok_accts=$((ok_accts + 1))
done
t_verify=$(since "$t")
echo "      $ok_accts of ${#accts[@]} accounts identical ($t_verify s)"

echo "[7/7] lifeboat check --read-data"
t=$(now)
if "$LB" check --repo "$REPO" --read-data >"$WS/check.log" 2>&1; then
  echo "      ok ($(since "$t") s)"
else
  fail "check --read-data failed"
  tail -5 "$WS/check.log" | sed 's/^/      /'
fi
t_check=$(since "$t")

repo_bytes=""
if "$LB" stats --repo "$REPO" --json >"$WS/stats.json" 2>/dev/null; then
  repo_bytes=$(jget "$WS/stats.json" 'd.get("repository_bytes", "")' 2>/dev/null || true)
fi
[[ -n $repo_bytes ]] || repo_bytes=$(du -sb "$REPO" | cut -f1)
ratio=$(awk -v a="$bytes" -v b="$repo_bytes" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "?" }')

echo
echo "Summary"
echo "  accounts      ${#accts[@]} on node demo-node, one snapshot each"
echo "  data          $(jget "$WS/gen.json" 'format(d["files"], ",")') files, $(human "$bytes")"
echo "  repository    $(human "$repo_bytes") on disk, encrypted; data/repository = $ratio× (dedup + compression)"
echo "  times         backup $t_backup s, restore $t_restore s, verify $t_verify s, check --read-data $t_check s"
if [[ $failures -eq 0 ]]; then
  echo "  result        OK: every account restored identical (content, modes, mtimes, symlinks, hard links)"
  exit 0
else
  echo "  result        FAILED: $failures problem(s) above$([[ ${KEEP:-0} == 1 ]] || echo "; rerun with KEEP=1 to inspect the workspace")"
  exit 1
fi
