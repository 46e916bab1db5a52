# Sourced by .ci/run and ops/test: one test run at a time on a machine.
#
# Both local stacks listen on fixed ports, so a second run would stop or reuse the first one's,
# and .ci/run would clean the build folder the first run's tests execute from. The lock is one
# file in the cache folder that also holds the tools; a run that finds it held says so and waits.
# flock holds the lock and runs the script again as its child, with IOC_TEST_LOCK_HELD set so
# that the child (and ops/test under .ci/run) does not take it again. To stop a run, signal its
# process group (kill -- -PGID): a signal to flock's process alone releases the lock while the
# run goes on.

# run_alone SCRIPT [ARGS...]: returns at once under the lock; otherwise waits for the lock and
# replaces this process by SCRIPT ARGS run under it (SCRIPT: a path valid from the current folder).
run_alone() {
  [[ -n "${IOC_TEST_LOCK_HELD:-}" ]] && return 0
  local lock="${IOC_CACHE_DIR:-$HOME/.cache/ioc}/test.lock"
  mkdir -p "$(dirname "$lock")"
  flock -n "$lock" true || printf '%s: another run holds %s; waiting for it to end\n' "$1" "$lock" >&2
  IOC_TEST_LOCK_HELD=1 exec flock -o "$lock" "$@"
}
