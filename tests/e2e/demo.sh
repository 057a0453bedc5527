#!/bin/bash
# make demo: one lane's life, as an operator sees it. Boots a real systemd
# as PID 1 in private namespaces (the e2e harness: nothing on the host is
# changed, and everything is undone on exit), starts the loopback GitHub
# double and puts the runner kit in a lane directory, installs a demo
# policy and lane file, and then, as the unprivileged maintainer
# 'lanekeeper', runs lanectl plan, apply, shows the lane online on GitHub
# and its unit active, the completed audit record, and removes the lane.
# Needs root (it says so otherwise).
set -u
. "$TESTS_SRCDIR/e2e/harness.sh"

py=/usr/bin/python3
bold=$(tput bold 2>/dev/null || true) plain=$(tput sgr0 2>/dev/null || true)
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
note() { printf '   %s\n' "$@"; }
lk() { # ARGS...: lanectl as the maintainer, shown as typed
        printf '\n%slanekeeper$ lanectl %s%s\n' "$bold" "$*" "$plain"
        e2e_as lanekeeper /usr/local/bin/lanectl "$@"
        rc=$?
        [ "$rc" = 0 ] || printf '   (exit status %s)\n' "$rc"
        return 0
}
as_root() { # ARGS...: a root command inside, shown as typed
        printf '\n%sroot# %s%s\n' "$bold" "$*" "$plain"
        e2e_root "$@"
}

if [ "$(id -u)" != 0 ]; then
        echo "make demo boots a systemd in private namespaces and needs root: sudo make demo" >&2
        exit 1
fi
failed=0
"$py" -c 'import jsonschema, jwt, cryptography' 2>/dev/null ||
        { echo "make demo needs python3-jsonschema python3-jwt python3-cryptography (scripts/install-deps)" >&2; exit 1; }
command -v dbus-daemon >/dev/null || { echo "make demo needs dbus-daemon (package dbus)" >&2; exit 1; }
e2e_init
# inside, /usr/local is what this build installs; lanectl's settings are
# there whatever the build's own prefix (make distcheck's, say)
export LANEKEEPER_CONFIG=/usr/local/etc/lanekeeper/lanekeeper.conf
e2e_add_user lanekeeper
e2e_add_user ghrunner
sed -i "s/^ghrunner:x:\([0-9]*\):$/ghrunner:x:\1:lanekeeper/" "$E2E_WORK/group"
R=/srv/lanekeeper/runners
LANE=cm-website
sed -i "s|^\(ghrunner:x:[0-9]*:[0-9]*:[^:]*:\)[^:]*:|\1$R/$LANE:|" "$E2E_WORK/passwd"
host=$(hostname)

say "Setting the stage: a private systemd, a loopback GitHub, a runner kit"
e2e_start_double --repo acme/site --heartbeat-timeout 12
pat=$E2E_PAT port=$E2E_PORT
note "GitHub double: http://127.0.0.1:$port (repository acme/site; every answer checked against GitHub's OpenAPI description)"

d=$E2E_WORK/dest/usr/local
e2e_install_lanekeeper /usr/local/etc/lanekeeper/policy.conf
cat >"$d/etc/lanekeeper/policy.conf" <<POLICY
# root's word: who may ask the helper, for which users, roots and repositories
[helper]
maintainers = lanekeeper
host = $host
[lanes]
users = ghrunner
roots = $R
repositories = acme/site
POLICY
chmod 644 "$d/etc/lanekeeper/policy.conf"
cat >"$d/etc/lanekeeper/lanekeeper.conf" <<CONF
[github]
api_url = http://127.0.0.1:$port
token_file = /srv/lanekeeper/token
[helper]
policy = /usr/local/etc/lanekeeper/policy.conf
[store]
dir = /srv/lanekeeper/store
[lanes]
dir = /usr/local/etc/lanekeeper/lanes.d
[baseline]
min_free_mib = 1
commands = sh
CONF
cat >"$d/etc/lanekeeper/lanes.d/$LANE.conf" <<LANEFILE
[lane]
name = $LANE
repository = acme/site
host = $host
root = $R
user = ghrunner
labels = self-hosted, X64, lanekeeper-managed
managed = true
LANEFILE

e2e_boot || exit 1
note "systemd booted as PID 1 in private namespaces (host pid $E2E_PID); /etc/systemd/system, /srv, /tmp are private"
e2e_root sh -c "set -e
        mkdir -p $R/$LANE /srv/lanekeeper/store && chmod 755 /srv/lanekeeper $R && chmod 750 $R/$LANE
        $E2E_WORK/kit/install $R/$LANE && chown -R ghrunner:ghrunner $R/$LANE
        chown lanekeeper:lanekeeper /srv/lanekeeper/store
        printf '%s\n' '$pat' > /srv/lanekeeper/token
        chown lanekeeper /srv/lanekeeper/token && chmod 600 /srv/lanekeeper/token"
note "the runner (kit) unpacked in $R/$LANE, owned by ghrunner; not configured, not running"
note "the maintainer 'lanekeeper' holds a GitHub token file; root wrote /usr/local/etc/lanekeeper/policy.conf"
as_root cat /usr/local/etc/lanekeeper/lanes.d/$LANE.conf

say "1. Plan: observe GitHub, the runner directory, systemd and the baseline; change nothing"
lk plan $LANE
[ "$rc" = 0 ] || failed=1

say "2. Apply: lock, fetch a registration token, hand it to the lane's own unit, start it, verify"
note "the token goes to config.sh through a one-shot socket and ACTIONS_RUNNER_INPUT_TOKEN, never argv or a file"
lk apply $LANE --confirm $LANE --idempotency-key demo-create-1
[ "$rc" = 0 ] || failed=1
note "the same key again returns the first result and does nothing:"
lk apply $LANE --confirm $LANE --idempotency-key demo-create-1

say "3. The lane: a systemd unit running as ghrunner, online on GitHub"
as_root systemctl status --no-pager --lines 0 lanekeeper-lane@$LANE.service
pid=$(e2e_root systemctl show -P MainPID lanekeeper-lane@$LANE.service)
note "main process $pid, parent $(e2e_root awk '/^PPid:/ { print $2 }' /proc/"$pid"/status) (systemd), user $(e2e_root ps -o user= -p "$pid")"
lk github runners --repo acme/site

say "4. Evidence: the audit records, chained by digest"
lk audit list
seq=$(e2e_as lanekeeper /usr/local/bin/lanectl audit list 2>/dev/null | awk '$0 ~ /completed/ { n = $1 } END { print n }')
[ -n "$seq" ] && lk audit show "$seq"
lk audit verify

say "5. Remove: a dry run first, then stop, deregister, remove the unit"
lk remove $LANE
lk remove $LANE --apply --confirm $LANE --idempotency-key demo-remove-1
[ "$rc" = 0 ] || failed=1
lk github runners --repo acme/site
as_root systemctl show -P LoadState lanekeeper-lane@$LANE.service
note "the lane directory stays (with its stale .runner); a later 'lanectl apply' registers it afresh"
lk audit verify

say "6. Leaving the host as it was found"
collect=$(curl -sf "http://127.0.0.1:$port/_double/issued" | "$py" -c 'import json,sys; print("\n".join(json.load(sys.stdin)["tokens"]))')
e2e_root sh -c 'cat /srv/lanekeeper/store/audit/*.json; journalctl -o cat --no-pager' >"$E2E_WORK/scan" 2>/dev/null
hits=$(printf '%s\n%s\n' "$collect" "$pat" | grep -v '^$' | grep -c -F -f - "$E2E_WORK/scan" || true)
note "tokens GitHub issued found in the audit store and journal: ${hits:-0}"
[ "${hits:-0}" = 0 ] || failed=1
e2e_shutdown   # the double too
note "systemd powered off; namespaces, cgroups, mounts and $E2E_WORK removed"
[ "$failed" = 0 ] && printf '\n%sdemo: done%s\n' "$bold" "$plain" || printf '\ndemo: a step did not go as shown above\n'
exit "$failed"
