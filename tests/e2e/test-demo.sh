#!/bin/bash
# The README's main job, 'make demo', run as the test suite runs it, so that
# it cannot rot: it must finish, show the lane created, online and removed,
# find no token, and leave its work directory behind it removed.
# Needs root (exit 77 otherwise; CI=true: failure).
set -u
. "$TESTS_SRCDIR/e2e/harness.sh"
[ "$(id -u)" -eq 0 ] || e2e_skip "needs root"
passed=0 failed=0
check() { local what=$1; shift; if "$@"; then passed=$((passed + 1)); else echo "FAIL: $what"; failed=$((failed + 1)); fi; }

out=$(bash "$TESTS_SRCDIR/e2e/demo.sh" 2>&1 </dev/null); rc=$?
printf '%s\n' "$out"
check "demo: exit 0 ($rc)" test "$rc" = 0
check "demo: planned" grep -q "cm-website .*create" <<<"$out"
check "demo: created" grep -q "^cm-website: create completed" <<<"$out"
check "demo: repeated key did nothing" grep -q "already done under this key: apply completed" <<<"$out"
check "demo: unit active" grep -q "Active: active (running)" <<<"$out"
check "demo: runner's parent is systemd" grep -q "parent 1 (systemd), user ghrunner" <<<"$out"
check "demo: GitHub showed it online" grep -qE "^[0-9]+ +cm-website +online" <<<"$out"
check "demo: audit chain intact" grep -q "chain intact" <<<"$out"
check "demo: removed" grep -q "^cm-website: remove completed" <<<"$out"
check "demo: unit gone" grep -q "^not-found" <<<"$out"
check "demo: no token found" grep -q "found in the audit store and journal: 0" <<<"$out"
check "demo: done" grep -q "demo: done" <<<"$out"
work=$(grep -o '/var/lib/lanekeeper-e2e\.[A-Za-z0-9]*' <<<"$out" | tail -n 1)
check "demo: names its work directory ($work)" test -n "$work"
check "demo: its work directory is gone" test ! -e "${work:-/nonexistent}"
echo "test-demo: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
