#!/bin/bash
# End to end: lanectl apply as the unprivileged maintainer against a real
# systemd (PID 1 in private namespaces), the socket-activated helper, the
# loopback GitHub double and the runner kit. Create from absent (the token
# handed to the lane's own unit, config.sh run there as the lane's user),
# idempotency, a second apply while one runs, a killed runner restarted by
# systemd, reconcile of labels, adopt, each completion gate failing on its
# own, GitHub faults during apply; then a leak scan for every token the
# double issued. Needs root (exit 77 otherwise; CI=true: failure).
set -u
. "$TESTS_SRCDIR/e2e/harness.sh"

py=/usr/bin/python3
"$py" -c 'import jsonschema, jwt, cryptography' 2>/dev/null ||
        e2e_skip "needs python3-jsonschema python3-jwt python3-cryptography for the GitHub double"
e2e_init
command -v dbus-daemon >/dev/null || e2e_skip "needs dbus-daemon (package dbus) for the system bus"
R=/srv/lanekeeper/runners
e2e_lane_users $R lane-a
host=$(hostname)
all=$E2E_WORK/all-output   # everything printed: searched for tokens at the end

# ---- the GitHub double (host loopback; the namespace shares the network) ----
e2e_start_double --repo acme/site --heartbeat-timeout 12
pat=$E2E_PAT port=$E2E_PORT
. "$TESTS_SRCDIR/github/jobs-lib.sh"
runner_proto() { curl -sf -X POST "http://127.0.0.1:$port/_runner/$1" -d "$2"; }   # what a runner says
state() { curl -sf "http://127.0.0.1:$port/_double/state"; }
runner_json() { # NAME: the double's view of that runner, or nothing
        state | "$py" -c 'import json,sys; n=sys.argv[1]; print("".join(json.dumps(r) for r in json.load(sys.stdin)["runners"] if r["name"]==n))' "$1"; }
runner_field() { runner_json "$1" | "$py" -c 'import json,sys; t=sys.stdin.read(); d=json.loads(t) if t.strip() else {}; v=d.get(sys.argv[1]); print(",".join(sorted(l["name"] for l in v)) if isinstance(v,list) else v)' "$2"; }
wait_job_running() { wait_job "$1" in_progress && [ "$(job "$1" runner_name)" = "$2" ]; }   # RUN RUNNER
tokens_seen=$E2E_WORK/tokens
collect_tokens() { e2e_issued_tokens "$E2E_WORK/issued" && cat "$E2E_WORK/issued" >>"$tokens_seen"; }

# ---- install what the build made, as 'make install' with prefix /usr/local would ----
d=$E2E_WORK/dest/usr/local
policy=/usr/local/etc/lanekeeper/policy.conf
e2e_install_lanekeeper "$policy"
e2e_policy "$host" "$R"
conf() { # NAME [MIN_FREE_MIB] [TIMEOUT_S]
        printf '[github]\napi_url = http://127.0.0.1:%s\ntoken_file = /srv/lanekeeper/token\ntimeout_s = %s\n[helper]\npolicy = %s\n[store]\ndir = /srv/lanekeeper/store\n[lanes]\ndir = /usr/local/etc/lanekeeper/lanes.d\n[baseline]\nmin_free_mib = %s\ncommands = sh\n' \
                "$port" "${3:-8}" "$policy" "${2:-1}" >"$d/etc/lanekeeper/$1.conf"
}
conf lanekeeper
conf bigdisk 999999999
lanefile() { # LANE LABELS
        printf '[lane]\nname = %s\nrepository = acme/site\nhost = %s\nroot = %s\nuser = lkrunner\nlabels = %s\nmanaged = true\n' \
                "$1" "$host" "$R" "$2" >"$d/etc/lanekeeper/lanes.d/$1.conf"
}
lanefile lane-a "self-hosted, X64, lanekeeper-managed"
lanefile lane-b "self-hosted, X64, lanekeeper-managed"
lanefile lane-c "self-hosted, Linux, X64, lanekeeper-managed"

e2e_boot || exit 1
e2e_root sh -c "set -e
        mkdir -p $R /srv/lanekeeper/store && chmod 755 /srv/lanekeeper $R
        chown lanekeeper:lanekeeper /srv/lanekeeper/store
        printf '%s\n' '$pat' > /srv/lanekeeper/token
        chown lanekeeper /srv/lanekeeper/token && chmod 600 /srv/lanekeeper/token"
kit() { # LANE: an unpacked runner, the lane user's
        e2e_root sh -c "mkdir -m 750 $R/$1 && $E2E_WORK/kit/install $R/$1 && chown -R lkrunner:lkrunner $R/$1"
}
kit lane-a
kit lane-b
check "register dir: root, group lanekeeper, 0771" test "$(e2e_root stat -c '%U %G %a' /run/lanekeeper-register)" = "root lanekeeper 771"

unit=lanekeeper-lane@lane-a.service
lk() { # CONF ARGS...: lanectl as the maintainer; sets out, rc; all output kept
        local c=$1; shift
        out=$(e2e_as lanekeeper /usr/local/bin/lanectl --config "/usr/local/etc/lanekeeper/$c.conf" "$@" 2>&1); rc=$?
        printf '%s\n' "$out" >>"$all"
}
apply() { lk "$@"; }
records() { e2e_root sh -c 'ls /srv/lanekeeper/store/audit | grep -c "^[0-9]*\.json$"'; }
last_record() { e2e_root sh -c 'cat "/srv/lanekeeper/store/audit/$(ls /srv/lanekeeper/store/audit | grep "^[0-9]*\.json$" | sort -n | tail -n 1)"'; }
rec_field() { "$py" -c 'import json,sys; r=json.load(sys.stdin); print(eval(sys.argv[1], {}, {"r": r}))' "$1"; }
main_pid() { e2e_root systemctl show -P MainPID "$1"; }
# /proc/*/cmdline of every process, every 20 ms, while $1 runs
# (a flag file ends the loop: nothing is left running inside)
snap_start() {
        e2e_root touch /run/snap.on
        e2e_root sh -c 'while [ -e /run/snap.on ]; do cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\0" " "; echo; sleep 0.02; done' \
                </dev/null >>"$E2E_WORK/cmdlines" 2>/dev/null &
        snap_pid=$!
}
snap_stop() { e2e_root rm -f /run/snap.on; wait "$snap_pid" 2>/dev/null; }

# ---- refused before anything: no confirmation, no key ----
before=$(records)
apply lanekeeper apply lane-a --idempotency-key k0
check "no --confirm: usage error ($rc)" test "$rc" = 2
check "no --confirm: said so" grep -q -- "--confirm LANE" <<<"$out"
apply lanekeeper apply lane-a --confirm lane-a
check "no key: usage error ($rc)" test "$rc" = 2
apply lanekeeper apply lane-a --confirm lane-b --idempotency-key k0
check "confirmation for another lane: blocked ($rc)" test "$rc" = 1
check "blocked: unconfirmed mutation named" grep -q "mutation_not_confirmed" <<<"$out"
check "blocked: no unit written" e2e_root test ! -e /etc/systemd/system/$unit
check "blocked: no registration token was asked for" test "$(curl -sf "http://127.0.0.1:$port/_double/log" | grep -o registration-token | wc -l)" = 0

# ---- create from absent ----
# Whether PID 1 reloaded: a probe unit kept loaded (active) whose file
# changed on disk says NeedDaemonReload=yes until the next daemon-reload.
probe_stale() {
        e2e_root sh -c "printf '[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n' \
                >/etc/systemd/system/lk-reload-probe.service && systemctl start lk-reload-probe.service &&
                echo '# changed' >>/etc/systemd/system/lk-reload-probe.service"
}
pid1_reloads() { e2e_root systemctl show -P NeedDaemonReload lk-reload-probe.service; }
probe_stale
reloads_before=$(pid1_reloads)
snap_start
apply lanekeeper apply lane-a --confirm lane-a --idempotency-key create-a-1 --timeout 60
snap_stop
echo "$out"
check "create: completed ($rc)" test "$rc" = 0
check "create: says create completed" grep -q "^lane-a: create completed" <<<"$out"
rec=$(last_record)
check "create: record completed" test "$(rec_field 'r["status"]' <<<"$rec")" = completed
check "create: every gate passed" test "$(rec_field 'all(g["passed"] for g in r["gates"]) and len(r["gates"]) == 3' <<<"$rec")" = True
check "create: steps token..config.sh..gates" test "$(rec_field '" ".join(s["step"] for s in r["steps"])' <<<"$rec")" = \
        "token offer install-unit daemon-reload enable-now config.sh gates"
# the gates waited on events: the runner's own "Listening for Jobs" in
# _diag (group-readable through lanekeeper-register's default ACL) woke
# them, not a poll; and the unit's state over the bus was watched too
gd=$(rec_field '[s["detail"] for s in r["steps"] if s["step"] == "gates"][0]' <<<"$rec")
check "create: gates woken by the runner saying it listens ($gd)" \
        grep -qE "^all gates passed at (the first observation|observation [0-9]+ \([0-9]+ woken by an event, the last: the runner said it listens; watched: the unit and the runner's _diag\))$" <<<"$gd"
check "_diag: 0750, its logs 0640 under the unit's UMask=0077 (the default ACL)" \
        test "$(e2e_root sh -c "stat -c %a $R/lane-a/_diag $R/lane-a/_diag/Runner_*-utc.log | sort -u | tr '\n' ' '")" = "640 750 "
check "_diag: the listener's trace is readable by the maintainer" \
        e2e_as lanekeeper sh -c "grep -l 'Listening for Jobs' $R/lane-a/_diag/Runner_*-utc.log"
check "_diag: .credentials still closed to the maintainer" e2e_as lanekeeper sh -c "test -f $R/lane-a/.credentials && ! cat $R/lane-a/.credentials >/dev/null 2>&1"
check "unit active" e2e_root systemctl -q is-active $unit
check "unit enabled" e2e_root systemctl -q is-enabled $unit
check "create: no daemon-reload (systemd reads a new unit as it starts it): $(rec_field '[s["detail"] for s in r["steps"] if s["step"] == "daemon-reload"]' <<<"$rec")" \
        grep -q "^\['skipped: systemd has not loaded\|^\['skipped: systemd knows .* only as not found" \
        <<<"$(rec_field '[s["detail"] for s in r["steps"] if s["step"] == "daemon-reload"]' <<<"$rec")"
check "create: PID 1 did not reload (a changed probe unit still needs one: $reloads_before, then $(pid1_reloads))" \
        test "$reloads_before/$(pid1_reloads)" = yes/yes
check "create: systemd has the unit as written (NeedDaemonReload=no)" \
        test "$(e2e_root systemctl show -P NeedDaemonReload $unit)" = no
check "GitHub: lane-a online" test "$(runner_field lane-a status)" = online
check "GitHub: exactly the desired labels" test "$(runner_field lane-a labels)" = "X64,lanekeeper-managed,self-hosted"
check ".runner written by config.sh as lkrunner" test "$(e2e_root stat -c %U $R/lane-a/.runner)" = lkrunner
check "hand-off socket gone" test -z "$(e2e_root ls -A /run/lanekeeper-register)"
pid=$(main_pid $unit)
check "the runner's parent is systemd (PID 1 inside)" test "$(e2e_root awk '/^PPid:/ { print $2 }' /proc/$pid/status)" = 1
listener=$(e2e_root pgrep -u lkrunner -P "$pid" -f Runner.Listener | head -n 1)
check "Runner.Listener is run.sh's child ($listener)" test -n "$listener"
check "Runner.Listener runs in the lane's unit" grep -q "/lanekeeper-lane@lane-a.service$" <<<"$(e2e_root cat /proc/$listener/cgroup)"
check "journal: config.sh ran through lanekeeper-register" \
        grep -q "lanekeeper-register: lane-a: registering with http://127.0.0.1:$port/acme/site as lane-a" \
        <<<"$(e2e_root journalctl -u $unit -o cat --no-pager)"
collect_tokens

# ---- the same key again: the first result, nothing done ----
n=$(records); posts=$(curl -sf "http://127.0.0.1:$port/_double/log" | grep -o '"POST"' | wc -l)
apply lanekeeper apply lane-a --confirm lane-a --idempotency-key create-a-1
check "same key: first result ($rc)" test "$rc" = 0
check "same key: said so" grep -q "already done under this key: apply completed" <<<"$out"
check "same key: no new record" test "$(records)" = "$n"
check "same key: no request that changes GitHub" test "$(curl -sf "http://127.0.0.1:$port/_double/log" | grep -o '"POST"' | wc -l)" = "$posts"
apply lanekeeper apply lane-b --confirm lane-b --idempotency-key create-a-1
check "key of another lane: refused ($rc)" test "$rc" = 2
check "key of another lane: said so" grep -q "used for another lane" <<<"$out"
check "key of another lane: lane-b untouched" e2e_root test ! -e /etc/systemd/system/lanekeeper-lane@lane-b.service

# ---- an apply with nothing to do verifies, and completes ----
apply lanekeeper apply lane-a --confirm lane-a --idempotency-key noop-a-1
check "noop: completed ($rc)" test "$rc" = 0
check "noop: action noop" grep -q "^lane-a: noop completed" <<<"$out"

# ---- the runner killed: systemd restarts it, GitHub shows it online again ----
e2e_root kill -KILL "$listener" "$pid"
# GitHub keeps the dead listener's session until its heartbeat times out:
# the new listener meets a session conflict (exit 5, run.sh: 0) and systemd
# starts it again until the old session is gone. Settled: one main process
# with its listener for 3 s and GitHub showing the runner online.
settle() {
        local stable=0 prev= now
        for _ in $(seq 120); do
                now=$(main_pid $unit)
                if [ "$now" != 0 ] && [ "$now" = "$prev" ] && e2e_root pgrep -P "$now" -f Runner.Listener >/dev/null &&
                        [ "$(runner_field lane-a status)" = online ]; then
                        stable=$((stable + 1)); [ $stable -ge 6 ] && return 0
                else
                        stable=0
                fi
                prev=$now; sleep 0.5
        done
        return 1
}
check "killed: systemd started the runner again and it settled online" settle
npid=$(main_pid $unit)
check "killed: a new runner process ($pid -> $npid)" test "$npid" != "$pid" -a "$npid" != 0
apply lanekeeper apply lane-a --confirm lane-a --idempotency-key after-kill-1
check "killed: back online, apply completes ($rc)" test "$rc" = 0

# ---- two applies at once: the second is refused at once, nothing done ----
(apply bigdisk apply lane-a --confirm lane-a --idempotency-key gate-baseline-1 --timeout 4; exit "$rc") &
first=$!
# it holds the lane's lock for its 4 s of gates: wait until it does (seen
# in /proc/locks, without touching the lock)
for _ in $(seq 100); do e2e_flocked /srv/lanekeeper/store/locks/lane-a.lock && break; sleep 0.05; done
n=$(records)
apply lanekeeper apply lane-a --confirm lane-a --idempotency-key second-1
check "concurrent: lane busy ($rc)" test "$rc" = 3
check "concurrent: said so" grep -q "lane busy" <<<"$out"
wait $first; frc=$?
check "concurrent: the busy one wrote no record" test "$(records)" -le "$((n + 1))"
# ... and the first one was a baseline that is not ready: a failed record
rec=$(last_record)
check "gate baseline: failed ($frc)" test "$frc" = 4
check "gate baseline: record failed, naming baseline_ready" test "$(rec_field 'r["status"] + " " + r["failed"]' <<<"$rec")" = "failed baseline_ready"
check "gate baseline: only that gate failed" test "$(rec_field '[g["gate"] for g in r["gates"] if not g["passed"]]' <<<"$rec")" = "['baseline_ready']"
apply lanekeeper apply lane-a --confirm lane-a --idempotency-key second-1
check "after it: the second key is free and completes ($rc)" test "$rc" = 0

# ---- gate: service active, GitHub offline ----
listener=$(e2e_root pgrep -P "$(main_pid $unit)" -f Runner.Listener | head -n 1)
check "a listener to stop" test -n "$listener"
e2e_root kill -STOP "$listener"
ctl clock '{"offset": 13}' >/dev/null   # GitHub's clock: the last heartbeat is 13 s old
apply lanekeeper apply lane-a --confirm lane-a --idempotency-key gate-github-1 --timeout 3
rec=$(last_record)
check "gate github: failed ($rc)" test "$rc" = 4
check "gate github: only github_online failed" test "$(rec_field '[g["gate"] for g in r["gates"] if not g["passed"]]' <<<"$rec")" = "['github_online']"
check "gate github: says offline" grep -q "offline" <<<"$(rec_field 'r["steps"][-1]["detail"]' <<<"$rec")"
e2e_root kill -CONT "$listener"
ctl clock '{"offset": 0}' >/dev/null
for _ in $(seq 100); do [ "$(runner_field lane-a status)" = online ] && break; sleep 0.2; done

# ---- gate: GitHub online, service not running ----
e2e_root sh -c "cp -p $R/lane-a/run.sh $R/lane-a/run.sh.kit && printf '#!/bin/sh\nexit 1\n' > $R/lane-a/run.sh"
e2e_root systemctl kill -s KILL $unit   # no goodbye to GitHub: it still shows the runner online
apply lanekeeper apply lane-a --confirm lane-a --idempotency-key gate-unit-1 --timeout 4
rec=$(last_record)
check "gate unit: failed ($rc)" test "$rc" = 4
check "gate unit: planned a restart" test "$(rec_field 'r["action"]' <<<"$rec")" = restart
check "gate unit: only unit_active failed" test "$(rec_field '[g["gate"] for g in r["gates"] if not g["passed"]]' <<<"$rec")" = "['unit_active']"
# stopped first: with Restart=always (2 s) the unit would otherwise start
# itself once run.sh is back, and the plan would race it (noop or restart)
e2e_root systemctl stop $unit
e2e_root sh -c "mv $R/lane-a/run.sh.kit $R/lane-a/run.sh"
apply lanekeeper apply lane-a --confirm lane-a --idempotency-key restart-a-1 --timeout 60
check "restart: completed ($rc)" test "$rc" = 0
check "restart: action restart" grep -q "^lane-a: restart completed" <<<"$out"

# ---- reconcile: labels changed behind our back are set again ----
rid=$(runner_field lane-a id)
curl -sf -X PUT -H "Authorization: Bearer $pat" -H "User-Agent: t" -d '{"labels":["lanekeeper-managed","stray"]}' \
        "http://127.0.0.1:$port/repos/acme/site/actions/runners/$rid/labels" >/dev/null
apply lanekeeper apply lane-a --confirm lane-a --idempotency-key reconcile-a-1
check "reconcile: completed ($rc)" test "$rc" = 0
check "reconcile: action reconcile" grep -q "^lane-a: reconcile completed" <<<"$out"
check "reconcile: labels restored" test "$(runner_field lane-a labels)" = "X64,lanekeeper-managed,self-hosted"

# ---- adopt: a runner configured earlier by hand (config.sh with GitHub's default labels) ----
kit lane-c
reg=$(curl -sf -X POST -H "Authorization: Bearer $pat" -H "User-Agent: t" \
        "http://127.0.0.1:$port/repos/acme/site/actions/runners/registration-token" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
echo "$reg" >>"$tokens_seen"
e2e_root sh -c "printf '%s' '$reg' > /srv/lanekeeper/reg-c && chown lkrunner /srv/lanekeeper/reg-c && chmod 600 /srv/lanekeeper/reg-c"
e2e_as lkrunner sh -c "cd $R/lane-c && ACTIONS_RUNNER_INPUT_TOKEN=\$(cat /srv/lanekeeper/reg-c) ./config.sh --unattended \
        --url http://127.0.0.1:$port/acme/site --name lane-c --labels lanekeeper-managed" >>"$all" 2>&1
e2e_root sh -c "rm /srv/lanekeeper/reg-c; chmod 640 $R/lane-c/.runner"   # svc.sh-era files: group-readable
# ... and the unit svc.sh installed for it, stopped and enabled
legacy=actions.runner.acme-site.lane-c.service
e2e_root sh -c "printf '[Unit]\nDescription=GitHub Actions Runner (acme-site.lane-c)\n[Service]\nExecStart=$R/lane-c/runsvc.sh\nUser=lkrunner\n[Install]\nWantedBy=multi-user.target\n' >/etc/systemd/system/$legacy
        mkdir -p /etc/systemd/system/multi-user.target.wants && ln -s ../$legacy /etc/systemd/system/multi-user.target.wants/$legacy
        systemctl daemon-reload"
apply lanekeeper apply lane-c --confirm lane-c --idempotency-key adopt-c-1 --timeout 60
echo "$out"
check "adopt: completed ($rc)" test "$rc" = 0
check "adopt: action adopt" grep -q "^lane-c: adopt completed" <<<"$out"
check "adopt: svc.sh's unit reported, enabled" grep -q "svc.sh's unit $legacy is installed and enabled" <<<"$out"
check "adopt: with the exact next step" grep -qF "systemctl disable --now $legacy && rm /etc/systemd/system/$legacy" <<<"$out"
check "adopt: the record names it" test "$(last_record | rec_field 'r["legacy_unit"]["unit"]')" = "$legacy"
check "adopt: svc.sh's unit untouched" e2e_root test -L /etc/systemd/system/multi-user.target.wants/$legacy
check "adopt: no new registration (same runner id)" test "$(state | grep -o '"name": "lane-c"' | wc -l)" = 1
# ... then the lane wants Linux gone: a read-only label the labels API
# cannot remove, so only registering again helps; never under a running
# job: then the labels gate fails on its own
lanefile lane-c "self-hosted, X64, lanekeeper-managed"
cid=$(runner_field lane-c id)
# a job only lane-c matches (it still has Linux), claimed by its own listener, running
crun=$(ctl run '{"repo": "acme/site", "jobs": [{"name": "lint", "runs_on": ["self-hosted", "Linux"], "steps": [{"run": "exec -a lk-apply-lint sleep 300"}]}]}' |
        "$py" -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
cjob=$(job "$crun" id)
check "a job only lane-c matches runs on lane-c" wait_job_running "$crun" lane-c
apply lanekeeper apply lane-c --confirm lane-c --idempotency-key reconcile-c-1 --timeout 3
echo "$out"
rec=$(last_record)
check "gate labels: failed ($rc)" test "$rc" = 4
check "gate labels: only github_online failed" test "$(rec_field '[g["gate"] for g in r["gates"] if not g["passed"]]' <<<"$rec")" = "['github_online']"
check "gate labels: names the labels it has" grep -q "has labels" <<<"$(rec_field 'r["steps"][-1]["detail"]' <<<"$rec")"
check "gate labels: registering again deferred while busy" grep -q "deferred: runner $cid is busy" <<<"$out"
check "gate labels: the busy runner kept its registration" test "$(runner_field lane-c id)" = "$cid"
api POST "/repos/acme/site/actions/runs/$crun/cancel" >/dev/null
check "the lint job, cancelled, ends" wait_job "$crun" completed
apply lanekeeper apply lane-c --confirm lane-c --idempotency-key reconcile-c-2 --timeout 60
echo "$out"
rec=$(last_record)
check "re-register: completed ($rc)" test "$rc" = 0
check "re-register: reconcile completed" grep -q "^lane-c: reconcile completed" <<<"$out"
check "re-register: steps" test "$(rec_field '" ".join(s["step"] for s in r["steps"])' <<<"$rec")" = \
        "labels stop processes reread deregister unlisted token offer install-unit daemon-reload enable-now config.sh gates"
check "re-register: exactly the desired labels" test "$(runner_field lane-c labels)" = "X64,lanekeeper-managed,self-hosted"
check "re-register: a new registration" test -n "$(runner_field lane-c id)" -a "$(runner_field lane-c id)" != "$cid"
check "re-register: the stale registration was forgotten" grep -q "forgetting the stale local registration" \
        <<<"$(e2e_root journalctl -u lanekeeper-lane@lane-c.service -o cat --no-pager)"
collect_tokens

# ---- GitHub faults during a create: a failed record, never completed, nothing installed ----
fault_case() { # NAME FAULT-JSON
        ctl clear-faults '{}' >/dev/null
        ctl fault "$2" >/dev/null
        apply lanekeeper apply lane-b --confirm lane-b --idempotency-key "fault-$1" --timeout 10
        rec=$(last_record)
        check "fault $1: failed ($rc)" test "$rc" = 4
        check "fault $1: record failed at the token" test "$(rec_field 'r["status"] + " " + r["failed"]' <<<"$rec")" = "failed token"
        check "fault $1: no unit installed" e2e_root test ! -e /etc/systemd/system/lanekeeper-lane@lane-b.service
        check "fault $1: no runner registered" test -z "$(runner_json lane-b)"
}
fault_case 5xx '{"match": "registration-token", "kind": "status", "status": 502, "count": -1}'
fault_case 401 '{"match": "registration-token", "kind": "status", "status": 401, "message": "Bad credentials", "count": -1}'
fault_case ratelimit '{"match": "registration-token", "kind": "secondary", "retry_after": 120, "count": -1}'
fault_case timeout '{"match": "registration-token", "kind": "slow", "seconds": 12, "count": 1}'
ctl clear-faults '{}' >/dev/null
# GitHub failing while the gates poll: failed, never completed
ctl fault '{"match": "GET /repos/acme/site/actions/runners", "kind": "status", "status": 503, "count": -1}' >/dev/null
apply lanekeeper apply lane-a --confirm lane-a --idempotency-key fault-gates-1 --timeout 3
rec=$(last_record)
check "fault while polling: not completed ($rc)" test "$rc" != 0
check "fault while polling: no completed record" test "$(rec_field 'r["status"]' <<<"$rec")" != completed
ctl clear-faults '{}' >/dev/null
sleep 1
# and once GitHub answers again, the create goes through
apply lanekeeper apply lane-b --confirm lane-b --idempotency-key create-b-1 --timeout 60
check "create lane-b after faults: completed ($rc)" test "$rc" = 0

# ---- lanectl restart: a dry run changes nothing; --apply restarts and verifies ----
pid=$(main_pid $unit)
lk lanekeeper restart lane-a
check "restart dry run: ready ($rc)" test "$rc" = 0
check "restart dry run: says so" grep -q "^lane-a: restart ready (dry run" <<<"$out"
check "restart dry run: same main process" test "$(main_pid $unit)" = "$pid"
lk lanekeeper restart lane-a --confirm lane-a
check "restart: --confirm without --apply is refused ($rc)" test "$rc" = 2
lk lanekeeper restart lane-a --apply --confirm lane-a --idempotency-key restart-cmd-1 --timeout 60
check "restart --apply: completed ($rc)" test "$rc" = 0
check "restart --apply: says so" grep -q "^lane-a: restart completed" <<<"$out"
check "restart --apply: a new main process" test "$(main_pid $unit)" != "$pid"
check "restart --apply: recorded as restart" test "$(last_record | rec_field 'r["command"] + " " + r["status"]')" = "restart completed"

# ---- lanectl remove refuses what is not lanekeeper's ----
lanefile lane-d "self-hosted, X64, lanekeeper-managed"
regd=$(curl -sf -X POST -H "Authorization: Bearer $pat" -H "User-Agent: t" \
        "http://127.0.0.1:$port/repos/acme/site/actions/runners/registration-token" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
echo "$regd" >>"$tokens_seen"
runner_proto register "{\"token\": \"$regd\", \"name\": \"lane-d\", \"labels\": [\"self-hosted\"]}" >/dev/null
lk lanekeeper remove lane-d --apply --confirm lane-d --idempotency-key rm-d-1
check "remove unmanaged runner: blocked ($rc)" test "$rc" = 1
check "remove unmanaged runner: says whose" grep -q "unmanaged_runner" <<<"$out"
check "remove unmanaged runner: still registered" test -n "$(runner_json lane-d)"
lanefile lane-e "self-hosted, X64, lanekeeper-managed"
e2e_root sh -c "printf '[Service]\nExecStart=/bin/sleep infinity\n' >/etc/systemd/system/lanekeeper-lane@lane-e.service && systemctl daemon-reload"
lk lanekeeper remove lane-e --apply --confirm lane-e --idempotency-key rm-e-1
check "remove a unit lanekeeper did not write: blocked ($rc)" test "$rc" = 1
check "remove a unit lanekeeper did not write: says so" grep -q "not written by lanekeeper" <<<"$out"
check "remove a unit lanekeeper did not write: unit untouched" e2e_root test -e /etc/systemd/system/lanekeeper-lane@lane-e.service
e2e_root sh -c "rm /etc/systemd/system/lanekeeper-lane@lane-e.service && systemctl daemon-reload"

# ---- remove refuses a busy runner, naming the job ----
bid=$(runner_field lane-b id)
# a label only lane-b has (an operator's, through the API), and a job asking for it
api POST "/repos/acme/site/actions/runners/$bid/labels" '{"labels": ["only-b"]}' >/dev/null
run=$(ctl run '{"repo": "acme/site", "workflow": "nightly", "jobs": [{"name": "integration", "runs_on": ["self-hosted", "only-b"], "steps": [{"run": "exec -a lk-apply-integration sleep 300"}]}]}' |
        "$py" -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
job=$(job "$run" id)
check "the integration job runs on lane-b" wait_job_running "$run" lane-b
lk lanekeeper remove lane-b
check "remove dry run while busy: blocked ($rc)" test "$rc" = 1
lk lanekeeper remove lane-b --apply --confirm lane-b --idempotency-key rm-b-busy
echo "$out"
check "remove busy: blocked ($rc)" test "$rc" = 1
check "remove busy: names the job" grep -q "job \"integration\" (id $job) of run $run" <<<"$out"
check "remove busy: the record names it too" grep -q "integration" <<<"$(last_record | rec_field 'r.get("busy_job", "")')"
check "remove busy: unit still active" e2e_root systemctl -q is-active lanekeeper-lane@lane-b.service
check "remove busy: still registered" test "$(runner_field lane-b id)" = "$bid"
check "remove busy: the job's step still runs" e2e_root pgrep -f lk-apply-integration
api POST "/repos/acme/site/actions/runs/$run/cancel" >/dev/null
check "the integration job, cancelled, ends" wait_job "$run" completed
api DELETE "/repos/acme/site/actions/runners/$bid/labels/only-b" >/dev/null

# ---- deregistration fails: the unit is started again, a failed record ----
ctl fault '{"match": "DELETE /repos/acme/site/actions/runners/", "kind": "status", "status": 503, "count": -1}' >/dev/null
lk lanekeeper remove lane-b --apply --confirm lane-b --idempotency-key rm-b-fault --timeout 10
rec=$(last_record)
echo "$out"
check "remove, GitHub failing: failed ($rc)" test "$rc" = 4
check "remove, GitHub failing: record failed at deregister" test "$(rec_field 'r["status"] + " " + r["failed"]' <<<"$rec")" = "failed deregister"
check "remove, GitHub failing: stopped, then started again" test "$(rec_field '" ".join(s["step"] for s in r["steps"])' <<<"$rec")" = \
        "stop processes reread deregister start-again"
# started again: systemd's start, then (the stopped listener's session not yet gone on
# GitHub: a session conflict, exit 5) its own restarts until the listener stays
for _ in $(seq 180); do e2e_root systemctl -q is-active lanekeeper-lane@lane-b.service && break; sleep 0.5; done
# while the old session lingers the unit flaps between active and activating
# (auto-restart): both are "started again and supervised"; inactive or failed is not
st=$(e2e_root systemctl show -P ActiveState lanekeeper-lane@lane-b.service)
check "remove, GitHub failing: unit started again, supervised ($st/$(e2e_root systemctl show -P SubState lanekeeper-lane@lane-b.service))" \
        test "$st" = active -o "$st" = activating
check "remove, GitHub failing: unit file kept" e2e_root test -e /etc/systemd/system/lanekeeper-lane@lane-b.service
check "remove, GitHub failing: still registered" test "$(runner_field lane-b id)" = "$bid"
ctl clear-faults '{}' >/dev/null

# ---- remove: stopped, processes gone, deregistered, unit removed, directory kept ----
bpid=$(main_pid lanekeeper-lane@lane-b.service)
probe_stale
reloads_before=$(pid1_reloads)
lk lanekeeper remove lane-b --apply --confirm lane-b --idempotency-key rm-b-1 --timeout 30
echo "$out"
rec=$(last_record)
check "remove: completed ($rc)" test "$rc" = 0
check "remove: PID 1 reloaded (the probe the create's check reads: $reloads_before, then $(pid1_reloads))" \
        test "$reloads_before/$(pid1_reloads)" = yes/no
check "remove: steps" test "$(rec_field '" ".join(s["step"] for s in r["steps"])' <<<"$rec")" = \
        "stop processes reread deregister unlisted remove-unit gates"
check "remove: gates unit_removed, github_deregistered passed" \
        test "$(rec_field '" ".join(g["gate"] for g in r["gates"] if g["passed"])' <<<"$rec")" = "unit_removed github_deregistered"
check "remove: GitHub no longer lists lane-b" test -z "$(runner_json lane-b)"
check "remove: unit file gone" e2e_root test ! -e /etc/systemd/system/lanekeeper-lane@lane-b.service
check "remove: unit not loaded" test "$(e2e_root systemctl show -P LoadState lanekeeper-lane@lane-b.service)" = not-found
check "remove: its processes are gone" e2e_root sh -c "! test -e /proc/$bpid"
check "remove: lane directory kept" e2e_root test -x $R/lane-b/run.sh
lk lanekeeper remove lane-b --apply --confirm lane-b --idempotency-key rm-b-1
check "remove, same key: the first result ($rc)" test "$rc" = 0
check "remove, same key: said so" grep -q "already done under this key: remove completed" <<<"$out"
# ... and applied again: GitHub has no runner, the stale .runner is replaced
apply lanekeeper apply lane-b --confirm lane-b --idempotency-key recreate-b-1 --timeout 60
echo "$out"
check "apply after remove: completed ($rc)" test "$rc" = 0
check "apply after remove: a new registration" test -n "$(runner_field lane-b id)" -a "$(runner_field lane-b id)" != "$bid"
check "journal: the stale registration was forgotten" grep -q "forgetting the stale local registration" \
        <<<"$(e2e_root journalctl -u lanekeeper-lane@lane-b.service -o cat --no-pager)"
collect_tokens

# ---- a killed apply leaves no lock, hand-off socket or token holder behind ----
# SIGKILL lanectl as soon as the hand-off socket appears: its offer server
# must not keep the lane locked (it dropped the lock fd at fork) nor outlive
# it with a token (it dies with its parent and removes its socket).
lk lanekeeper remove lane-b --apply --confirm lane-b --idempotency-key rm-b-kill --timeout 30
check "kill: lane-b removed first ($rc)" test "$rc" = 0
e2e_as lanekeeper /usr/local/bin/lanectl --config /usr/local/etc/lanekeeper/lanekeeper.conf \
        apply lane-b --confirm lane-b --idempotency-key kill-b-1 --timeout 60 >/dev/null 2>&1 &
killed=$!
# Watched and killed from one process inside the namespace: the socket
# lives only until the unit takes the answer (a few hundred ms), shorter
# than a poll that enters the namespace each time takes on a loaded host.
seen=$(e2e_root sh -c 'for _ in $(seq 20000); do
                [ -S /run/lanekeeper-register/lane-b.sock ] && break; sleep 0.001; done
        [ -S /run/lanekeeper-register/lane-b.sock ] || exit 1
        n=$(pgrep -x lanectl | wc -l); kill -KILL "$(pgrep -o -x lanectl)"; echo "$n"'); rc=$?
check "kill: the hand-off socket appeared" test "$rc" = 0
check "kill: two lanectl processes, command and offer server ($seen)" test "$seen" = 2
for _ in $(seq 20); do
        [ -z "$(e2e_root pgrep -x lanectl)" ] && ! e2e_flocked /srv/lanekeeper/store/locks/lane-b.lock && break
        sleep 0.05
done
check "kill: no lanectl process left within 1 s ($(e2e_root pgrep -a -x lanectl))" test -z "$(e2e_root pgrep -x lanectl)"
check "kill: the lane lock is free within 1 s" sh -c "! grep -qE 'FLOCK .* $(e2e_lock_id /srv/lanekeeper/store/locks/lane-b.lock) ' /proc/locks"
check "kill: the hand-off socket is gone" e2e_root test ! -e /run/lanekeeper-register/lane-b.sock
wait "$killed"
apply lanekeeper apply lane-b --confirm lane-b --idempotency-key kill-b-2 --timeout 60
check "kill: the next apply is not busy and completes ($rc)" test "$rc" = 0
collect_tokens
# ... and killed at seeded points through a whole create (token, offer,
# install-unit, daemon-reload, enable-now, config.sh, gates): each time no
# lanectl is left and the lock is free within 1 s, no completed record
# names the killed key, and the next apply leaves exactly one registration.
lock_free() { ! e2e_flocked /srv/lanekeeper/store/locks/lane-b.lock; }
for ms in 5 10 20 40 80 120 200 300 450; do
        lk lanekeeper remove lane-b --apply --confirm lane-b --idempotency-key rm-b-kill-$ms --timeout 30
        [ "$rc" = 0 ] || bad "kill at $ms ms: the remove before it failed ($rc)"
        e2e_as lanekeeper /usr/local/bin/lanectl --config /usr/local/etc/lanekeeper/lanekeeper.conf \
                apply lane-b --confirm lane-b --idempotency-key kill-b-at-$ms --timeout 60 >/dev/null 2>&1 &
        killed=$!
        sleep "0.$(printf '%03d' "$ms")"
        victim=$(e2e_root pgrep -o -x lanectl)
        [ -n "$victim" ] && e2e_root kill -KILL "$victim"
        for _ in $(seq 20); do [ -z "$(e2e_root pgrep -x lanectl)" ] && lock_free && break; sleep 0.05; done
        check "kill at $ms ms: no lanectl left within 1 s" test -z "$(e2e_root pgrep -x lanectl)"
        check "kill at $ms ms: the lane lock is free within 1 s" lock_free
        check "kill at $ms ms: no hand-off socket left" e2e_root test ! -e /run/lanekeeper-register/lane-b.sock
        wait "$killed"; krc=$?
        recs=$(e2e_root sh -c "grep -l 'kill-b-at-$ms' /srv/lanekeeper/store/audit/*.json 2>/dev/null | xargs -r cat")
        if [ "$krc" = 137 ] && grep -q '"status": *"completed"' <<<"$recs"; then
                # killed after its completed record (while it rewrote the metrics
                # textfile): the claim must hold, the unit up and the runner listed
                check "kill at $ms ms: killed after its record; what it claims holds" \
                        sh -c "nsenter -t $E2E_PID -a -- systemctl -q is-active lanekeeper-lane@lane-b.service && test -n '$(runner_json lane-b)'"
        elif [ "$krc" = 137 ]; then
                check "kill at $ms ms: killed, and no completed record claims it" \
                        test -z "$(grep -o '"status": *"completed"' <<<"$recs")"
        else
                check "kill at $ms ms: it finished first ($krc) and its record says so" grep -q '"status": *"completed"' <<<"$recs"
        fi
        apply lanekeeper apply lane-b --confirm lane-b --idempotency-key kill-b-after-$ms --timeout 60
        check "kill at $ms ms: the next apply completes ($rc)" test "$rc" = 0
        n=$(state | "$py" -c 'import json,sys; print(sum(r["name"].lower()=="lane-b" for r in json.load(sys.stdin)["runners"]))')
        check "kill at $ms ms: exactly one registration of lane-b ($n)" test "$n" = 1
done
collect_tokens

# ---- remove --purge: refused while a process of the lane's user could hold files there ----
e2e_root sh -c "setpriv --reuid=lkrunner --regid=lkrunner --init-groups sh -c 'cd $R/lane-b && exec sleep 120' </dev/null >/dev/null 2>&1 &"
for _ in $(seq 50); do stray=$(e2e_root pgrep -u lkrunner -x sleep | head -n 1); [ -n "$stray" ] && break; sleep 0.1; done
check "a stray process of lkrunner ($stray)" test -n "$stray"
bid=$(runner_field lane-b id)
lk lanekeeper remove lane-b --apply --purge --confirm lane-b --idempotency-key rm-b-purge-1 --timeout 30
echo "$out"
rec=$(last_record)
check "purge with a stray process: failed ($rc)" test "$rc" = 4
check "purge with a stray process: failed at purge-check" test "$(rec_field 'r["failed"]' <<<"$rec")" = purge-check
check "purge with a stray process: names it" grep -q "$stray (sleep)" <<<"$out"
check "purge with a stray process: other lanes' runners (same user) not counted" test "$(grep -o '[0-9]* processes of' <<<"$out")" = "1 processes of"
check "purge with a stray process: unit started again" e2e_root systemctl -q is-active lanekeeper-lane@lane-b.service
check "purge with a stray process: still registered" test "$(runner_field lane-b id)" = "$bid"
check "purge with a stray process: directory untouched" e2e_root test -x $R/lane-b/run.sh
e2e_root kill "$stray"
# ... a job left a read-only tree behind (as Go's module cache does)
e2e_root sh -c "mkdir -p $R/lane-b/_work/mod/x && touch $R/lane-b/_work/mod/x/f && chown -R lkrunner:lkrunner $R/lane-b/_work &&
        chmod 555 $R/lane-b/_work/mod/x $R/lane-b/_work/mod"
lk lanekeeper remove lane-b --apply --purge --confirm lane-b --idempotency-key rm-b-purge-2 --timeout 30
echo "$out"
rec=$(last_record)
check "purge: completed ($rc)" test "$rc" = 0
check "purge: steps" test "$(rec_field '" ".join(s["step"] for s in r["steps"])' <<<"$rec")" = \
        "stop processes purge-check reread deregister unlisted purge remove-unit gates"
check "purge: the lane directory is empty" e2e_root sh -c "test -d $R/lane-b && test -z \"\$(ls -A $R/lane-b)\""
check "purge: the lane unit said so" grep -q "purged the lane directory" \
        <<<"$(e2e_root journalctl -u lanekeeper-lane@lane-b.service -o cat --no-pager)"
check "purge: unit gone" e2e_root test ! -e /etc/systemd/system/lanekeeper-lane@lane-b.service
check "purge: deregistered" test -z "$(runner_json lane-b)"
check "purge: lane-a untouched" e2e_root test -x $R/lane-a/run.sh
check "purge: lane-a still active" e2e_root systemctl -q is-active $unit
lk lanekeeper remove lane-c --apply --purge --confirm lane-c
check "--purge without a key: refused ($rc)" test "$rc" = 2

check "audit chain intact" e2e_as lanekeeper /usr/local/bin/lanectl --config /usr/local/etc/lanekeeper/lanekeeper.conf audit verify

# ---- leak scan: every token the double issued, and the PAT ----
collect_tokens
echo "$pat" >>"$tokens_seen"
e2e_root sh -c 'cat /srv/lanekeeper/store/audit/*.json' >"$E2E_WORK/scan.audit"
e2e_root journalctl -o cat --no-pager >"$E2E_WORK/scan.journal" 2>/dev/null
e2e_root sh -c 'cat /etc/systemd/system/lanekeeper-lane@*.service' >"$E2E_WORK/scan.units"
sort -u "$tokens_seen" | grep -v '^$' >"$tokens_seen.u"
ntok=$(wc -l <"$tokens_seen.u")
check "leak scan has tokens to look for ($ntok)" test "$ntok" -ge 4
check "cmdline snapshots were taken" test "$(wc -l <"$E2E_WORK/cmdlines")" -ge 10
e2e_leak_scan "$tokens_seen.u" scan.audit scan.journal scan.units cmdlines all-output console.log double.log

echo "test-apply: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
