# shellcheck shell=bash
# same_accounts HOME OUT WHAT: every account directory of HOME is in OUT,
# byte for byte (diff -r), or the script fails naming the account.
same_accounts() {
  local a
  for a in $(ls "$1"); do
    diff -r --no-dereference "$1/$a" "$2/$a" >/dev/null || { echo "FAIL: account $a differs $3"; exit 1; }
  done
}
