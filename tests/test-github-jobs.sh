#!/bin/bash
# The GitHub double's jobs (tests/github/test_jobs.py): scheduling through
# the runner's session, the long poll, run endpoints, logs, tarballs,
# ephemeral runners and signed webhooks validated against GitHub's
# published schemas. Needs Debian's python3-jsonschema, python3-jwt and
# python3-cryptography; without them it is skipped, and with CI=true that
# is a failure.
py=/usr/bin/python3
if ! "$py" -c 'import jsonschema, jwt, cryptography' 2>/dev/null; then
        [ "${CI:-}" = true ] && { echo "python3-jsonschema, python3-jwt or python3-cryptography missing (CI=true: failure)"; exit 1; }
        echo "SKIP: needs python3-jsonschema python3-jwt python3-cryptography"
        exit 77
fi
exec "$py" -B "$TESTS_SRCDIR/github/test_jobs.py"
