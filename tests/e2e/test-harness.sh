#!/bin/bash
# The harness leaves the host as it found it, even when the test using it
# fails under set -e: no work directory, no cgroup, no process, and the
# host's /tmp untouched (the booted systemd runs systemd-tmpfiles).
set -u
passed=0 failed=0
ok()  { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
[ "$(id -u)" -eq 0 ] || { [ "${CI:-}" = true ] && { echo "needs root (CI=true: failure)"; exit 1; }; echo "SKIP: needs root"; exit 77; }

canary=$(mktemp /tmp/lanekeeper-canary.XXXXXX)
state=$(mktemp /var/tmp/lanekeeper-harness-state.XXXXXX)
# A test that boots, then fails, under set -e.
(
        set -eu
        . "$TESTS_SRCDIR/e2e/harness.sh"
        e2e_init
        e2e_boot >/dev/null 2>&1
        echo "$E2E_WORK $E2E_CGROUP $E2E_PID" >"$state"
        e2e_root true
        false   # the failure
        echo "not reached" >>"$state"
)
rc=$?
read -r work cgroup pid rest <"$state"
[ "$rc" -ne 0 ] && ok || bad "the failing test did not fail (rc $rc)"
[ -n "${work:-}" ] && ok || bad "the harness did not boot"
[ -z "${rest:-}" ] && ! grep -q "not reached" "$state" && ok || bad "set -e did not stop the test"
[ -n "${work:-}" ] && [ ! -e "$work" ] && ok || bad "work directory $work left behind"
[ -n "${cgroup:-}" ] && [ ! -e "$cgroup" ] && ok || bad "cgroup $cgroup left behind"
[ -n "${pid:-}" ] && ! kill -0 "$pid" 2>/dev/null && ok || bad "systemd (pid $pid) still running"
[ -f "$canary" ] && ok || bad "the host's /tmp was emptied"
rm -f "$canary" "$state"
echo "test-harness: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
