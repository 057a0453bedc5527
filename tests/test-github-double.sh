#!/bin/bash
# The GitHub double against GitHub's published OpenAPI description, webhook
# schemas and the reference's behaviour: tests/github/test_double.py (every
# endpoint, pagination, ETags, rate limits, App JWTs, faults) and
# test_jobs.py (scheduling through the runner's session, the long poll, run
# endpoints, logs, tarballs, ephemeral runners, reviews, signed webhooks);
# test_scaleset.py (the runner scale set service against the shapes of
# GitHub's actions/scaleset client, tests/github/scaleset-shapes.json).
# Needs Debian's python3-jsonschema, python3-jwt and python3-cryptography;
# without them it is skipped, and with CI=true that is a failure.
py=/usr/bin/python3
if ! "$py" -c 'import jsonschema, jwt, cryptography' 2>/dev/null; then
        [ "${CI:-}" = true ] && { echo "python3-jsonschema, python3-jwt or python3-cryptography missing (CI=true: failure)"; exit 1; }
        echo "SKIP: needs python3-jsonschema python3-jwt python3-cryptography"
        exit 77
fi
# each prints "NAME: N passed, M failed"; one line of the sums ends this log
passed=0 failed=0
for t in test_double test_jobs test_scaleset; do
        out=$("$py" -B "$TESTS_SRCDIR/github/$t.py" 2>&1); rc=$?
        printf '%s\n' "$out"
        line=$(grep -E '^test-[a-z]+: [0-9]+ passed, [0-9]+ failed$' <<<"$out" | tail -n 1)
        [ -n "$line" ] || { echo "FAIL: $t.py ended without its counts (exit $rc)"; line="x: 0 passed, 1 failed"; }
        passed=$((passed + $(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")))
        failed=$((failed + $(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$line")))
        [ $rc -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
done
echo "test-github-double: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
