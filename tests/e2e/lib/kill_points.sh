# Helpers for crash tests that kill a command at random points (sourced).

# duration_ms CMD...: runs CMD (output discarded) and prints how long it
# took in milliseconds, at least 20, to spread kills over.
duration_ms() {
  local start ms
  start=$(date +%s%N)
  "$@" >/dev/null 2>&1
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  [ "$ms" -gt 20 ] || ms=20
  echo "$ms"
}

# kill_after_ms MS CMD...: starts CMD (output discarded), sends it SIGKILL
# after MS milliseconds and waits for it. Succeeds if it was still running
# (so it was killed), fails if it had already finished.
kill_after_ms() {
  local ms=$1 pid was_running=1
  shift
  "$@" >/dev/null 2>&1 &
  pid=$!
  sleep "$(printf '0.%03d' $(( ms % 1000 )))"
  sleep $(( ms / 1000 ))
  kill -KILL "$pid" 2>/dev/null || was_running=0
  wait "$pid" 2>/dev/null || true
  [ "$was_running" = 1 ]
}
