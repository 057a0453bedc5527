#!/bin/bash
# End to end: lanectl plan observes units over the system bus of a real
# systemd (PID 1 in private namespaces) as the unprivileged maintainer. The
# units are written by hand here, not by the helper: one byte-for-byte the
# helper's render, one hand-made, one absent; then a drop-in. Needs root:
# exits 77 otherwise (a failure when CI=true).
set -u
. "$TESTS_SRCDIR/e2e/harness.sh"

e2e_init
command -v dbus-daemon >/dev/null || e2e_skip "needs dbus-daemon (package dbus) for the system bus"
R=/srv/lanekeeper/runners
e2e_lane_users $R cm-website-chris-testing
host=$(hostname)   # the harness keeps the host's name

d=$E2E_WORK/dest/usr/local
install -D -m 755 "$LANECTL" "$d/bin/lanectl"
install -D -m 755 "$LANEKEEPER_REGISTER" "$d/libexec/lanekeeper/lanekeeper-register"
install -d -m 755 "$d/etc/lanekeeper/lanes.d" "$d/etc/lanekeeper/store"
e2e_policy "$host" "$R"
printf '[helper]\npolicy = /usr/local/etc/lanekeeper/policy.conf\n[store]\ndir = /srv/lanekeeper/store\n[lanes]\ndir = /usr/local/etc/lanekeeper/lanes.d\n[baseline]\nmin_free_mib = 1\ncommands = sh\n' \
        >"$d/etc/lanekeeper/lanekeeper.conf"
for l in cm-website-chris-testing handmade absent-lane; do
        printf '[lane]\nname = %s\nrepository = acme/site\nhost = %s\nroot = %s\nuser = lkrunner\nlabels = self-hosted, X64, lanekeeper-managed\nmanaged = true\n' \
                "$l" "$host" "$R" >"$d/etc/lanekeeper/lanes.d/$l.conf"
done
label() { printf '{"id":%d,"name":"%s","type":"custom"}' "$1" "$2"; }
labels="[$(label 1 self-hosted),$(label 2 X64),$(label 3 lanekeeper-managed)]"
printf '{"total_count":2,"runners":[{"id":31,"name":"cm-website-chris-testing","os":"linux","status":"online","busy":false,"labels":%s},{"id":32,"name":"handmade","os":"linux","status":"online","busy":false,"labels":%s}]}' \
        "$labels" "$labels" >"$d/etc/lanekeeper/runners.json"

e2e_boot || exit 1
uid=$(e2e_uid lkrunner)
e2e_root sh -c "set -e
        mkdir -p $R /srv/lanekeeper/store && chmod 755 /srv/lanekeeper $R
        chown lanekeeper /srv/lanekeeper/store
        for l in cm-website-chris-testing handmade; do
                mkdir -m 750 $R/\$l
                printf '#!/bin/sh\nexec sleep infinity\n' > $R/\$l/run.sh
                chmod 755 $R/\$l/run.sh
        done
        printf '\357\273\277{\"agentId\":31,\"agentName\":\"cm-website-chris-testing\",\"gitHubUrl\":\"https://github.com/acme/site\"}' \
                > $R/cm-website-chris-testing/.runner
        printf secret > $R/cm-website-chris-testing/.credentials
        chmod 600 $R/cm-website-chris-testing/.credentials
        mkdir $R/cm-website-chris-testing/bin.2.330.0
        ln -s bin.2.330.0 $R/cm-website-chris-testing/bin
        chown -R lkrunner:lkrunner $R/cm-website-chris-testing $R/handmade"
# The helper's render, written by hand (its marker names lkrunner and $R).
sed "s|@pkglibexecdir@|${PKGLIBEXECDIR:?}|" "$TESTS_SRCDIR/golden/lane-unit.service" |
        e2e_root sh -c "cat > /etc/systemd/system/lanekeeper-lane@cm-website-chris-testing.service"
e2e_root sh -c "printf '[Service]\nUser=lkrunner\nExecStart=/bin/sleep infinity\n' > /etc/systemd/system/lanekeeper-lane@handmade.service"
e2e_root systemctl daemon-reload
e2e_root systemctl start lanekeeper-lane@cm-website-chris-testing.service lanekeeper-lane@handmade.service
check "system bus up" e2e_root systemctl -q is-active dbus.socket
# Type=simple is "active" from the fork; wait until the runner has exec'd
# as its user (systemd's pre-exec child still runs as root).
for i in $(seq 100); do
        pid=$(e2e_root systemctl show -P MainPID lanekeeper-lane@cm-website-chris-testing.service)
        [ "$(e2e_root stat -c %u /proc/$pid 2>/dev/null)" = "$uid" ] && break
        sleep 0.1
done

plan() { e2e_as lanekeeper /usr/local/bin/lanectl --config /usr/local/etc/lanekeeper/lanekeeper.conf plan \
        --inventory /usr/local/etc/lanekeeper/runners.json --output json "$@"; }
out=$(plan 2>&1); rc=$?
[ $rc -eq 1 ] && ok || bad "plan exited $rc (want 1: one lane blocked): $out"
python3 - "$out" "$uid" <<'PY' && ok || bad "plan of three lanes: $out"
import json, sys
d = json.loads(sys.argv[1]); uid = int(sys.argv[2])
lanes = {l["lane"]: l for l in d["lanes"]}
m = lanes["cm-website-chris-testing"]
u = m["observed"]["unit"]
assert u["known"] and u["exists"] and u["managed"], u
assert u["load_state"] == "loaded" and u["active_state"] == "active" and u["sub_state"] == "running", u
assert u["main_uid"] == uid and u["user"] == "lkrunner" and u["main_pid"] > 1, u
assert u["unit_file_state"] in ("static", "disabled"), u
loc = m["observed"]["local"]
assert loc["configured"] and loc["credentials_present"] and loc["agent_id"] == 31 and loc["runner_version"] == "2.330.0", loc
checks = {c["name"]: c["state"] for c in m["observed"]["baseline"]["checks"]}
assert checks["cgroup_v2"] == "ready", m["observed"]["baseline"]
assert (m["shape"], m["action"], m["status"]) == ("supervised_active", "noop", "ready"), m
h = lanes["handmade"]
assert h["observed"]["unit"]["exists"] and not h["observed"]["unit"]["managed"], h["observed"]["unit"]
assert h["status"] == "blocked" and h["shape"] == "unknown_conflict", h
assert "unmanaged_runner_found" in [b["id"] for b in h["blockers"]], h["blockers"]
a = lanes["absent-lane"]
assert a["observed"]["unit"]["known"] and not a["observed"]["unit"]["exists"], a["observed"]["unit"]
assert not a["observed"]["local"]["exists"] and a["shape"] == "absent" and a["action"] == "create", a
PY
# the credentials' content reached nothing
e2e_root grep -rq secret /srv/lanekeeper/store && bad "credential content in the audit store" || ok

# A stopped managed unit: supervised_inactive, restart.
e2e_root systemctl stop lanekeeper-lane@cm-website-chris-testing.service
out=$(plan cm-website-chris-testing 2>&1)
python3 - "$out" <<'PY' && ok || bad "plan of a stopped lane: $out"
import json, sys
(l,) = json.loads(sys.argv[1])["lanes"]
assert l["observed"]["unit"]["active_state"] == "inactive" and l["observed"]["unit"]["main_pid"] is None, l["observed"]["unit"]
assert (l["shape"], l["action"]) == ("supervised_inactive", "restart"), l
PY

# A drop-in for every service (a distribution's default) leaves it managed.
e2e_root sh -c 'mkdir -p /etc/systemd/system/service.d
        printf "[Service]\nTimeoutStopFailureMode=abort\n" > /etc/systemd/system/service.d/10-all.conf
        systemctl daemon-reload'
out=$(plan cm-website-chris-testing 2>&1)
python3 - "$out" <<'PY' && ok || bad "plan with a drop-in for every service: $out"
import json, sys
(l,) = json.loads(sys.argv[1])["lanes"]
assert l["observed"]["unit"]["managed"], l["observed"]["unit"]
PY
e2e_root sh -c 'rm -r /etc/systemd/system/service.d; systemctl daemon-reload'

# A drop-in changes what runs: the unit is no longer the helper's alone.
e2e_root sh -c 'mkdir -p /etc/systemd/system/lanekeeper-lane@cm-website-chris-testing.service.d
        printf "[Service]\nUser=root\n" > /etc/systemd/system/lanekeeper-lane@cm-website-chris-testing.service.d/override.conf
        systemctl daemon-reload'
out=$(plan cm-website-chris-testing 2>&1); rc=$?
[ $rc -eq 1 ] && ok || bad "plan with a drop-in exited $rc: $out"
python3 - "$out" <<'PY' && ok || bad "plan with a drop-in: $out"
import json, sys
(l,) = json.loads(sys.argv[1])["lanes"]
u = l["observed"]["unit"]
assert not u["managed"] and "override.conf" in u["note"], u
assert "unmanaged_runner_found" in [b["id"] for b in l["blockers"]], l
PY

# One byte changed in the unit file: not managed either.
e2e_root sh -c 'rm -r /etc/systemd/system/lanekeeper-lane@cm-website-chris-testing.service.d
        sed -i "s/RestartSec=2s/RestartSec=3s/" /etc/systemd/system/lanekeeper-lane@cm-website-chris-testing.service
        systemctl daemon-reload'
out=$(plan cm-website-chris-testing 2>&1)
python3 - "$out" <<'PY' && ok || bad "plan with an edited unit: $out"
import json, sys
(l,) = json.loads(sys.argv[1])["lanes"]
assert l["observed"]["unit"]["exists"] and not l["observed"]["unit"]["managed"], l["observed"]["unit"]
PY
out=$(e2e_as lanekeeper /usr/local/bin/lanectl --config /usr/local/etc/lanekeeper/lanekeeper.conf audit verify 2>&1)
grep -q '^7 records, chain intact' <<<"$out" && ok || bad "audit after the plans: $out"

e2e_shutdown
echo "test-observe: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
