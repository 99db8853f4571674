#!/usr/bin/env bash
# Issue 3, node restore end to end on a generated node of 120 accounts with
# heavy-tailed sizes and a CMS core shared by many of them:
#  1. node backup, then node restore: byte- and metadata-exact, smallest
#     accounts ready first, the ready hook run once per account and only
#     once the account is complete (the hook checksums the account and the
#     checksum must equal the source's);
#  2. a node restore killed with SIGKILL mid-run, then --resume: accounts
#     ready before the kill are not restored again (a customer's edit made
#     after the kill survives), files completed before the kill are kept,
#     and the end result is the same, verified;
#  3. an earlier run's state without --resume is refused (exit 2).
set -euo pipefail
lifeboat=${1:?usage: node_restore.sh path/to/lifeboat}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/lifeboat-node-restore-XXXXXX)
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; [ -z "${KEEP:-}" ] && rm -rf "$work"' EXIT
export LIFEBOAT_PASSWORD=node-restore-test LIFEBOAT_TEST_FAST_KDF=1 LIFEBOAT_REPOSITORY=$work/repo
fail() { echo "FAIL: $*"; exit 1; }

accounts=120
python3 "$here/../../bench/gen_node.py" --out "$work/home" --accounts $accounts --scale 0.04 --seed 31 >/dev/null
"$lifeboat" init >/dev/null 2>&1
"$lifeboat" node backup "$work/home" --node web209 -q

# Everything the restore must reproduce, one line per entry: path, type,
# mode, owner, size, mtime, link target, and which names share an inode.
describe() {
  (cd "$1" && find . -mindepth 1 -path ./.lifeboat-restore -prune -o -printf '%P|%y|%m|%U:%G|%s|%T@|%l\n' | sort)
  (cd "$1" && find . -path ./.lifeboat-restore -prune -o -type f -links +1 -printf '%i %P\n' |
     sort -n | awk '{ if ($1 == prev) printf "%s=%s\n", first, $2; else { prev = $1; first = $2 } }' | sort)
}
# What the hook records: the checksum of everything in an account.
sum_function='account_sum() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum | sha256sum | cut -c1-16); }'
eval "$sum_function"
cat >"$work/hook.sh" <<EOF
#!/usr/bin/env bash
# \$1 = account; LIFEBOAT_ACCOUNT_DIR = where it was restored
set -euo pipefail
$sum_function
sleep "\${HOOK_SLEEP:-0}"
echo "\$1 \$LIFEBOAT_ACCOUNT \$(account_sum "\$LIFEBOAT_ACCOUNT_DIR")" >>"\$HOOK_LOG"
EOF
chmod +x "$work/hook.sh"
declare -A source_sum
for d in "$work/home"/*/; do a=$(basename "$d"); source_sum[$a]=$(account_sum "$d"); done

# ---- 1. a whole node, uninterrupted ----
out=$work/out1
HOOK_LOG=$work/hooks1.log "$lifeboat" node restore --node web209 --target "$out" --json \
  --on-account-ready "$work/hook.sh" >"$work/r1.json"
[ "$(jq '.summary.ready' "$work/r1.json")" = $accounts ] || fail "not every account ready: $(jq -c .summary "$work/r1.json")"
diff <(describe "$work/home") <(describe "$out") >"$work/diff1" || { head -20 "$work/diff1"; fail "restored node differs in metadata"; }
diff -r --no-dereference -x .lifeboat-restore "$work/home" "$out" || fail "restored node differs in content"
# Smallest first: accounts are listed in restore order, by size.
jq -r '.accounts[].bytes' "$work/r1.json" | sort -n -c || fail "accounts not ordered smallest first"
# ... and the smallest quarter was ready (on average) before the largest quarter.
jq -e '[.accounts[].ready_s] as $t | ($t | length) as $n | ($n / 4 | floor) as $q
       | (($t[0:$q] | add) / $q) < (($t[$n - $q:] | add) / $q)' "$work/r1.json" >/dev/null ||
  fail "small accounts were not ready before large ones"
jq -e '.summary.ready_50_s <= .summary.ready_90_s and .summary.ready_90_s <= .summary.ready_100_s' "$work/r1.json" >/dev/null ||
  fail "time to 50/90/100% not monotonic"
[ -s "$out/.lifeboat-restore/timeline.json" ] && [ -s "$out/.lifeboat-restore/timeline.csv" ] || fail "no timeline"
[ "$(($(wc -l <"$out/.lifeboat-restore/timeline.csv") - 1))" = $accounts ] || fail "timeline.csv lacks accounts"
# Hooks: once per account, with the account complete when it ran.
[ "$(wc -l <"$work/hooks1.log")" = $accounts ] || fail "hook ran $(wc -l <"$work/hooks1.log") times for $accounts accounts"
while read -r arg env sum; do
  [ "$arg" = "$env" ] || fail "hook argument $arg but LIFEBOAT_ACCOUNT $env"
  [ "$sum" = "${source_sum[$arg]}" ] || fail "hook for $arg ran before the account was complete"
done <"$work/hooks1.log"
[ "$(cut -d' ' -f1 "$work/hooks1.log" | sort -u | wc -l)" = $accounts ] || fail "hooks not once per account"
fetched=$(jq '.summary.bytes_fetched' "$work/r1.json"); written=$(jq '.summary.bytes_written' "$work/r1.json")
[ "$fetched" -lt "$written" ] || fail "shared content was fetched more than once ($fetched fetched for $written written)"
echo "uninterrupted: $accounts accounts ready, exact; $(jq .summary.ready_50_s "$work/r1.json") s to 50%, $fetched bytes fetched for $written written"

# ---- 2. killed mid-run, then resumed ----
out=$work/out2
journal=$out/.lifeboat-restore/journal
HOOK_LOG=$work/hooks2.log HOOK_SLEEP=0.01 "$lifeboat" node restore --node web209 --target "$out" -q \
  --on-account-ready "$work/hook.sh" &
pid=$!
for _ in $(seq 1 3000); do
  n=$(grep -c '^ready ' "$journal" 2>/dev/null || true)
  [ "${n:-0}" -ge $((accounts / 3)) ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.005
done
kill -KILL "$pid" 2>/dev/null || fail "the node restore ended before it could be killed"
wait "$pid" 2>/dev/null || true
pid=
online_before=$(grep '^online ' "$journal" | cut -d' ' -f2 | while read -r h; do echo "$h" | xxd -r -p; echo; done | sort -u)
n_online=$(echo "$online_before" | grep -c . || true)
n_ready=$(grep -c '^ready ' "$journal" || true)
[ "$n_ready" -lt $accounts ] || fail "the kill came too late (all accounts ready)"
echo "killed with $n_ready of $accounts accounts ready, $n_online online"
[ "$n_online" -gt 0 ] || fail "the kill came before any account was online"


# A customer changes a file in an account that was already online.
edited_account=$(echo "$online_before" | sed -n 1p)
edited_file=$(cd "$out/$edited_account" && find . -type f | sort | sed -n 1p)
echo "customer edit" >>"$out/$edited_account/$edited_file"

HOOK_LOG=$work/hooks2.log "$lifeboat" node restore --node web209 --target "$out" --resume --json \
  --on-account-ready "$work/hook.sh" >"$work/r2.json"
[ "$(jq '.summary.ready' "$work/r2.json")" = $accounts ] || fail "resume did not finish: $(jq -c .summary "$work/r2.json")"
[ "$(jq '.summary.resumed' "$work/r2.json")" -ge "$n_ready" ] || fail "accounts ready before the kill were restored again"
tail -c 14 "$out/$edited_account/$edited_file" | grep -q "customer edit" || fail "a finished account was restored again (the edit is gone)"
kept=$(jq '[.accounts[].files_kept] | add' "$work/r2.json")
[ "$kept" -gt 0 ] || fail "no file completed before the kill was kept"
total=$(jq '[.accounts[].bytes] | add' "$work/r2.json")
[ "$(jq '.summary.bytes_written' "$work/r2.json")" -lt "$total" ] || fail "resume rewrote everything"
for a in $online_before; do
  [ "$(grep -c "^$a " "$work/hooks2.log")" = 1 ] || fail "hook of $a ran again after resume"
done
[ "$(cut -d' ' -f1 "$work/hooks2.log" | sort -u | wc -l)" = $accounts ] || fail "some account's hook never ran"
# The same result as the uninterrupted run, once the customer's edit is undone.
cp -p "$work/home/$edited_account/$edited_file" "$out/$edited_account/$edited_file"
touch -r "$work/home/$edited_account/$edited_file" "$out/$edited_account/$edited_file"
diff -r --no-dereference -x .lifeboat-restore "$work/home" "$out" || fail "resumed node differs in content"
diff <(describe "$work/home") <(describe "$out") >"$work/diff2" || { head -20 "$work/diff2"; fail "resumed node differs in metadata"; }
echo "resumed: $(jq .summary.resumed "$work/r2.json") accounts kept from before the kill, $kept files kept, exact"

# ---- 3. an earlier run's state is not silently overwritten ----
set +e
"$lifeboat" node restore --node web209 --target "$out" -q 2>"$work/err3"
rc=$?
set -e
[ $rc = 2 ] || fail "restarting over an earlier run's state: exit $rc, expected 2"
grep -q -- "--resume" "$work/err3" || fail "no advice in: $(cat "$work/err3")"
echo OK
