#!/bin/bash
# End to end: the ephemeral pool supervisor (lanekeeper-pool.service, the
# shipped unit) on a real systemd (PID 1 in private namespaces), the
# socket-activated helper, the GitHub double and the runner kit. Pool web:
# min 1, max 3, spare 1, slots web-1..web-3 (lanes of the policy's root).
# - cold start: one slot installed and started, its JIT runner online;
# - job hygiene: a job leaves files in the workspace and in HOME, a
#   background process and a file in /tmp; after it the slot's runner is
#   back with none of it, and its next run needed no helper call;
# - lanectl smoke --pool web: the job on one of the pool's slots, passed;
# - demand: four queued jobs scale the pool to max, all complete, then it
#   goes back to min; a busy slot is never stopped by scale-down;
# - kill -9 of the supervisor mid-burst: restarted, every job completes,
#   no orphaned registration;
# - a changed runner install is refused (no JIT configuration) and the
#   slot stopped, until its kept install is removed: then it runs again;
# Ends with a leak scan covering JIT configurations. Needs root (exit 77
# otherwise; CI=true: failure).
set -u
. "$TESTS_SRCDIR/e2e/harness.sh"

. "$TESTS_SRCDIR/e2e/pool-lib.sh"
e2e_need_jobs
e2e_lane_users $R web-1
# the supervisor authenticates as a GitHub App whose installation tokens
# live 30 s: it must make new ones before they expire, in-process
pool_double --token-ttl 30
pool_install web 'labels = self-hosted, lanekeeper-managed, pool-web\nmin = 1\nmax = 3\nspare = 1\n' \
        "--interval 1s --never-online 30s"
pool_boot web-1 web-2 web-3

online() { runners | grep -q "$1:online:False"; }
helper_calls() { e2e_root journalctl -o cat --no-pager -u 'lanekeeper-helper*' 2>/dev/null | grep -c "verb=" || true; }

out=$(lanectl pool validate 2>&1); rc=$?
check "pool validate ($rc): $out" test "$rc" = 0

# ---- cold start: min 1 and spare 1, so one slot ----
e2e_root systemctl start lanekeeper-pool.service
check "the supervisor is ready (Type=notify): $(e2e_root systemctl show -P ActiveState lanekeeper-pool.service)" \
        test "$(e2e_root systemctl show -P ActiveState lanekeeper-pool.service)" = active
check "web-1's JIT runner comes online" wait_for 30 online web-1
check "web-1's unit is installed and active" test "$(unit_state web-1)" = active
sleep 2
check "only web-1 runs (target 1): $(runners)" test "$(runners)" = "web-1:online:False"
check "web-2 not started" test "$(unit_state web-2)" = inactive
check "records: web-1 installed" test "$(records '[(x["lane"], x["status"]) for x in r if x["action"] == "install"]')" = \
        "[('web-1', 'planned'), ('web-1', 'completed')]"
check "the install was kept at the first run" e2e_root grep -q '^keep=bin,bin.2.330.0,config.sh,run.sh$' /srv/lanekeeper/store/slot-web-1.install
argv=$(e2e_root sh -c 'cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\0" " "')
check "no JIT configuration on any argv" test "$(grep -c -- "--jitconfig\|eyJ" <<<"$argv")" = 0

# ---- job hygiene ----
# A slot recycles itself after its one job (Restart=always, cleaned as it
# starts). With a spare, the spare slot started while the job ran may be
# online first, and then the restarting slot is the one stopped (the pool
# keeps the warm runner): which happens is a race, so this part runs
# without a spare.
rootctl pool scale web --spare 0 >/dev/null
spare_is() { [ "$(lanectl pool status --output json | "$py" -c 'import json,sys; print(json.load(sys.stdin)["pools"][0]["reasons"]["spare"])')" = "$1" ]; }
check "spare 0 is read" wait_for 20 spare_is 0
calls0=$(helper_calls)
r=$(newrun '{"repo":"acme/site","jobs":[{"name":"dirty","runs_on":["pool-web"],"steps":[{"run":"echo w > left-in-workspace\necho evil > $HOME/.bash_login\nmkdir -p $HOME/.config/evil && echo x > $HOME/.config/evil/x\necho t > /tmp/lk-hygiene-tmp\nsetsid sh -c \"exec -a lk-hygiene-bg sleep 300\" </dev/null >/dev/null 2>&1 &\nsleep 0.5"}]}]}')
check "the dirty job completed" wait_job "$r" completed
check "... success" test "$(job "$r" conclusion)" = success
ran_on=$(job "$r" runner_name)
check "... on a pool slot ($ran_on)" grep -q '^web-[123]$' <<<"$ran_on"
check "the slot's runner is back online after its one job" wait_for 40 online "$ran_on"
check "no background process of the job survived" test -z "$(marked lk-hygiene-bg)"
check "HOME holds none of the job's files" e2e_root sh -c "! test -e $R/$ran_on/.bash_login && ! test -e $R/$ran_on/.config"
check "the workspace is gone" e2e_root sh -c "! test -e $R/$ran_on/_work/site/site/left-in-workspace"
check "the job's /tmp went with its unit" test -z "$(e2e_root find /tmp /var/tmp -name lk-hygiene-tmp 2>/dev/null)"
check "the next run took no helper call ($calls0 -> $(helper_calls))" test "$(helper_calls)" = "$calls0"
rootctl pool scale web --spare 1 >/dev/null
check "spare 1 is read again" wait_for 20 spare_is 1

# ---- lanectl smoke --pool: a real job on one of the pool's slots ----
wf=$(lanectl smoke --print-workflow)
body=$("$py" -c 'import json,sys; print(json.dumps({"repo": "acme/site", "path": ".github/workflows/lanekeeper-smoke.yml", "yaml": sys.stdin.read()}))' <<<"$wf")
check "the smoke workflow committed" grep -q workflow_id <<<"$(curl -s -X POST "http://127.0.0.1:$port/_double/workflow" -d "$body")"
ctl action '{"repo":"actions/checkout","ref":"v4","files":{"action.yml":"name: checkout\nruns:\n  using: composite\n  steps:\n    - run: echo checked out\n      shell: bash\n"}}' >/dev/null
out=$(lanectl smoke --pool web --deadline 90s --output json); rc=$?
check "smoke --pool web passes ($rc): $out" test "$rc" = 0
slot=$("$py" -c 'import json,sys; s=json.load(sys.stdin)["smokes"][0]; print(s["runner"] if s["conclusion"] == "success" and s["marker"] else "")' <<<"$out")
check "... the job ran on one of the pool's slots ($slot), concluded success, the marker seen" grep -q '^web-[123]$' <<<"$slot"
check "... audited as the pool's smoke, completed" \
        test "$(e2e_audit_records 'x.get("command") == "smoke"' '[(x["status"], x.get("pool")) for x in r][-1]')" = "('completed', 'web')"
pool_idle() { runners | grep -q "web-[123]:online:False" && ! runners | grep -q ":True"; }
check "the pool has an idle runner online again after the smoke: $(runners)" wait_for 40 pool_idle

# ---- demand: four jobs, max 3; one long one keeps its slot busy through scale-down ----
live_is() { [ "$(live_slots web 3)" = "$1" ]; }
active_is() { [ "$(unit_state "$1")" = "$2" ]; }
long=$(newrun '{"repo":"acme/site","jobs":[{"name":"long","runs_on":["pool-web"],"steps":[{"run":"sleep 12"}]}]}')
runs=""
for i in 1 2 3; do
        runs="$runs $(newrun '{"repo":"acme/site","jobs":[{"name":"burst","runs_on":["pool-web"],"steps":[{"run":"sleep 2"}]}]}')"
done
check "the pool scales to max (3 slots live)" wait_for 30 live_is 3
for x in $runs; do
        check "burst job $x completed" wait_job "$x" completed
        check "... success" test "$(job "$x" conclusion)" = success
done
check "the long job completed" wait_job "$long" completed
check "... success: scale-down never stopped its busy slot" test "$(job "$long" conclusion)" = success
n=$(records 'len([x for x in r if x["action"] in ("install", "start", "reset") and x["status"] == "completed"])')
check "records: slots started for demand ($n)" test "$n" -ge 3
check "back to min: one slot live" wait_for 60 live_is 1
one_online() { local r; r=$(runners); [ "$(echo "$r" | wc -w)" = 1 ] && grep -q ":online:False" <<<"$r"; }
check "... its runner the only one on GitHub" wait_for 30 one_online
check "records: idle slots stopped, their runners deleted first" \
        test "$(records 'len([x for x in r if x["action"] == "stop" and x["status"] == "completed"])')" -ge 2
check "no stop was skipped for a busy runner, or it was said" \
        test "$(records 'all(x["detail"] == "the runner took a job: it stays" for x in r if x["status"] == "skipped")')" = True

# ---- lanectl pool status, the metrics ----
st=$(lanectl pool status --output json); rc=$?
check "pool status: exit $rc" test "$rc" = 0
check "... the pool was read, target 1" test "$(field '[(p["known"], p["target"], p["reasons"]["spare"]) for p in d["pools"]]' <<<"$st")" = "[(True, 1, 1)]"
check "... slots with state and runner" test "$(field '[s["name"] for s in d["pools"][0]["slots"]], sorted((s["state"], s["runner_id"] > 0) for s in d["pools"][0]["slots"])' <<<"$st")" = \
        "(['web-1', 'web-2', 'web-3'], [('idle', True), ('stopped', False), ('stopped', False)])"
check "... the last decisions, newest first" test "$(field 'len(d["pools"][0]["decisions"]) == 5 and d["pools"][0]["decisions"][0]["action"] == "stop"' <<<"$st")" = True
txt=$(lanectl pool status web)
check "pool status (text) says the target's reasons" grep -q "target 1 (busy 0 + queued 0 + spare 1, min 1, max 3)" <<<"$txt"
prom=/srv/lanekeeper/store/metrics/lanekeeper-pool.prom
by_state() { # the slots by state, as the supervisor's last pass wrote them
        e2e_root cat $prom >"$E2E_WORK/pool.prom"
        e2e_prom "$E2E_WORK/pool.prom" '[m[("lanekeeper_pool_slots", (("pool", "web"), ("state", s)))] for s in ("idle", "busy", "starting", "stopped")]'
}
by_state_is() { [ "$(by_state)" = "$1" ]; }
check "metrics: slots by state ($(by_state))" wait_for 5 by_state_is "[1.0, 0.0, 0.0, 2.0]"
check "metrics: written by a pass of the last 5 s" test "$(e2e_prom "$E2E_WORK/pool.prom" 'm[("lanekeeper_pool_last_pass_timestamp_seconds", (("pool", "web"),))] >= '$(($(date +%s) - 5)))" = True
check "metrics: JIT configurations issued" test "$(e2e_prom "$E2E_WORK/pool.prom" 'm[("lanekeeper_pool_jit_configs_issued_total", ())] >= 5')" = True
check "metrics: claim latency histogram" test "$(e2e_prom "$E2E_WORK/pool.prom" 'm[("lanekeeper_pool_claim_latency_seconds_count", ())] >= 4 and m[("lanekeeper_pool_claim_latency_seconds_bucket", (("le", "+Inf"),))] == m[("lanekeeper_pool_claim_latency_seconds_count", ())]')" = True
check "metrics: rate limit remaining" test "$(e2e_prom "$E2E_WORK/pool.prom" '0 < m[("lanekeeper_github_rate_limit_remaining", ())] <= 5000')" = True
refreshed_twice() { # a 30-s life: made anew twice within a minute, as the supervisor passes each second
        e2e_root cat $prom >"$E2E_WORK/pool.prom"
        [ "$(e2e_prom "$E2E_WORK/pool.prom" 'm[("lanekeeper_github_token_refreshes_total", ())] >= 2')" = True ]
}
check "metrics: the App's tokens made anew before they expired (30-s life)" wait_for 60 refreshed_twice
log401=$(ctl log '' | "$py" -c 'import json,sys; print(len([x for x in json.load(sys.stdin)["log"] if x[2] == 401]))')
check "no request was refused for an expired token ($log401)" test "$log401" = 0

# ---- lanectl pool scale and drain (as root: the pool files are root's) ----
conf_sum() { e2e_root sha256sum "$etc/pools.d/web.conf"; }
sum0=$(conf_sum)
out=$(rootctl pool scale web --min 9 2>&1); rc=$?
check "scale: min above max refused ($rc): $out" test "$rc" = 1
check "... the pool file unchanged" test "$(conf_sum)" = "$sum0"
out=$(rootctl pool scale web --min 2 --reason "more warm runners" 2>&1); rc=$?
check "scale --min 2 ($rc): $out" test "$rc" = 0
check "... the supervisor takes it: 2 slots live" wait_for 30 live_is 2
check "... the file keeps its other lines" e2e_root grep -q '^labels = self-hosted, lanekeeper-managed, pool-web$' "$etc/pools.d/web.conf"
check "... audited as the store's owner" e2e_root sh -c 'cd /srv/lanekeeper/store/audit && test "$(stat -c %U HEAD)" = lanekeeper &&
        test "$(stat -c %U $(grep -l "\"pool-scale\"" * | head -n 1))" = lanekeeper'
rootctl pool scale web --min 1 >/dev/null
check "back to min 1" wait_for 40 live_is 1
out=$(rootctl pool drain web 2>&1); rc=$?
check "drain without a reason refused ($rc)" test "$rc" = 2
out=$(lanectl pool drain web --reason "host maintenance" 2>&1); rc=$?
check "drain ($rc): $out" test "$rc" = 0
check "... idle slots stop" wait_for 30 live_is 0
check "... their runners deleted" wait_for 30 no_runners
q=$(newrun '{"repo":"acme/site","jobs":[{"name":"held","runs_on":["pool-web"],"steps":[{"run":"true"}]}]}')
sleep 4
check "... a queued job waits while drained" test "$(job "$q" status)" = queued
check "... status says draining" test "$(lanectl pool status --output json | field 'd["pools"][0]["draining"]')" = True
lanectl pool undrain web >/dev/null
check "undrain: the held job runs" wait_job "$q" completed
check "... success" test "$(job "$q" conclusion)" = success

# ---- a GitHub 5xx storm and a token expiry mid-burst ----
runs=""
for i in 1 2 3; do
        runs="$runs $(newrun '{"repo":"acme/site","jobs":[{"name":"storm","runs_on":["pool-web"],"steps":[{"run":"sleep 2"}]}]}')"
done
ctl fault '{"kind":"status","status":502,"match":"^GET /repos/acme/site/actions/(runs|runners)","count":60}' >/dev/null
ctl fault '{"kind":"status","status":503,"match":"generate-jitconfig","count":2}' >/dev/null
sleep 3
ctl fault '{"kind":"expire-token","match":"actions"}' >/dev/null
wait_job_long() { for _ in 1 2 3 4; do wait_job "$1" completed 2>/dev/null && return 0; done; return 1; }   # RUN: 120 s
for x in $runs; do
        check "storm job $x completed" wait_job_long "$x"
        check "... success" test "$(job "$x" conclusion)" = success
done
ctl clear-faults '' >/dev/null
check "back to min after the storm" wait_for 60 live_is 1
check "0 orphaned registrations after the storm" wait_for 30 one_online
n=$(records 'len([x for x in r if x["action"] == "jit" and x["status"] == "failed"])')
check "the refused JIT requests were audited ($n)" test "$n" -ge 1

# ---- kill -9 of the supervisor mid-burst ----
pid0=$(e2e_root systemctl show -P MainPID lanekeeper-pool.service)
runs=""
for i in 1 2 3; do
        runs="$runs $(newrun '{"repo":"acme/site","jobs":[{"name":"killed","runs_on":["pool-web"],"steps":[{"run":"sleep 3"}]}]}')"
done
any_running() { local x; for x in $runs; do [ "$(job "$x" status)" = in_progress ] && return 0; done; return 1; }
check "a burst job runs" wait_for 30 any_running
e2e_root systemctl kill -s KILL lanekeeper-pool.service
check "the supervisor restarted after kill -9" wait_for 30 supervisor_restarted "$pid0"
for x in $runs; do
        check "job $x after the kill completed" wait_job "$x" completed
        check "... success" test "$(job "$x" conclusion)" = success
done
check "back to min after the kill" wait_for 60 live_is 1
check "0 orphaned registrations" wait_for 30 one_online
check "slots' sockets are the supervisor's" e2e_root test -S /run/lanekeeper-register/web-1.sock

# ---- a changed install is refused ----
# web-3 has run once (its install kept), whatever the demand above started
rootctl pool scale web --min 3 >/dev/null
kept3() { e2e_root test -s /srv/lanekeeper/store/slot-web-3.install; }
check "web-3 ran: its install kept" wait_for 40 kept3
rootctl pool scale web --min 0 --spare 0 >/dev/null
check "all stopped (web-3's runner gone with its JIT configuration)" wait_for 40 live_is 0
e2e_root sh -c "echo '# changed' >> $R/web-3/config.sh"
rootctl pool scale web --min 1 --spare 1 >/dev/null
check "back to min 1" wait_for 40 live_is 1
runs=""
for i in 1 2; do
        runs="$runs $(newrun '{"repo":"acme/site","jobs":[{"name":"after","runs_on":["pool-web"],"steps":[{"run":"sleep 2"}]}]}')"
done
refused() { [ "$(records 'len([x for x in r if x["action"] == "refuse" and x["lane"] == "web-3"])')" -ge 1 ]; }
check "web-3's changed install is refused" wait_for 40 refused
for x in $runs; do
        check "job $x ran elsewhere" wait_job "$x" completed
        check "... not on web-3 ($(job "$x" runner_name))" test "$(job "$x" runner_name)" != web-3
done
check "the refusal names the change" test "$(records '[x["detail"] for x in r if x["action"] == "refuse"][0]')" = \
        "the runner install changed since its first run (remove the slot's kept install once it is pristine again)"

check "web-3 is stopped, not restarting in a loop" wait_for 30 active_is web-3 inactive
e2e_root rm /srv/lanekeeper/store/slot-web-3.install
runs=""
for i in 1 2 3; do
        runs="$runs $(newrun '{"repo":"acme/site","jobs":[{"name":"trusted","runs_on":["pool-web"],"steps":[{"run":"sleep 3"}]}]}')"
done
web3_up() { runners | grep -q "web-3:online"; }
check "with its kept install removed, web-3 runs again" wait_for 40 web3_up
for x in $runs; do
        check "job $x completed" wait_job "$x" completed
done

if [ "$failed" -gt 0 ]; then
        e2e_root journalctl -o cat --no-pager -u lanekeeper-pool.service | tail -n 40
        e2e_root journalctl -o cat --no-pager -u lanekeeper-lane@web-3.service | tail -n 20
        records '[(x["lane"], x["action"], x["status"], x.get("detail"), x["target"], x["queued"]) for x in r][-30:]'
fi

# ---- the webhook receiver: a verified workflow_job delivery wakes a 60-s loop ----
wport=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
wsecret=$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
e2e_root sh -c "set -e
        printf '%s\n' '$wsecret' >/srv/lanekeeper/webhook.secret
        chown lanekeeper /srv/lanekeeper/webhook.secret && chmod 600 /srv/lanekeeper/webhook.secret
        printf '[pools]\nwebhook_listen = 127.0.0.1:%s\nwebhook_secret_file = /srv/lanekeeper/webhook.secret\n' $wport >>$etc/lanekeeper.conf
        mkdir -p /run/systemd/system/lanekeeper-pool.service.d
        printf '[Service]\nExecStart=\nExecStart=/usr/local/bin/lanectl pool supervise --interval 60s --never-online 30s\n' \
                >/run/systemd/system/lanekeeper-pool.service.d/zz-webhook.conf
        systemctl daemon-reload"
rootctl pool scale web --min 0 --spare 0 >/dev/null
e2e_root systemctl restart lanekeeper-pool.service
check "no slot live at min 0, spare 0" wait_for 30 live_is 0
ctl hooks "{\"url\":\"http://127.0.0.1:$wport/\",\"secret\":\"$wsecret\",\"events\":[\"workflow_job\"]}" >/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'X-GitHub-Event: workflow_job' \
        -H "X-Hub-Signature-256: sha256=$(printf '%064d' 0)" -d '{"action":"queued"}' "http://127.0.0.1:$wport/")
check "a forged delivery is refused ($code)" test "$code" = 401
t0=$(date +%s)
q=$(newrun '{"repo":"acme/site","jobs":[{"name":"woken","runs_on":["pool-web"],"steps":[{"run":"true"}]}]}')
check "the delivery woke the supervisor: the job ran well before the 60-s pass" wait_job "$q" completed
check "... in $(($(date +%s) - t0)) s" test $(($(date +%s) - t0)) -lt 30
check "... success" test "$(job "$q" conclusion)" = success
acc=$(ctl deliveries '' | "$py" -c 'import json,sys; print(sorted(set(d["status"] for d in json.load(sys.stdin)["deliveries"])))')
check "every delivery accepted ($acc)" test "$acc" = "[202]"
e2e_root cat $prom >"$E2E_WORK/pool.prom"
check "metrics: webhook requests by result" test "$(e2e_prom "$E2E_WORK/pool.prom" '(m[("lanekeeper_pool_webhook_requests_total", (("result", "accepted"),))] >= 1, m[("lanekeeper_pool_webhook_requests_total", (("result", "bad_signature"),))])')" = "(True, 1.0)"

# ---- a pool file or a drain file changed: a pass at once, not at the next 60-s one ----
e2e_root systemctl restart lanekeeper-pool.service   # ready after its first pass; the next is 60 s away
t0=$(date +%s)
rootctl pool scale web --min 1 >/dev/null
check "a rewritten pool file wakes the supervisor: a slot live" wait_for 20 live_is 1
lanectl pool drain web --reason "a wake-up test" >/dev/null
check "a drain file wakes it: the slot stops" wait_for 20 live_is 0
el=$(($(date +%s) - t0))
check "... both in $el s, before the 60-s pass" test "$el" -lt 50
lanectl pool undrain web >/dev/null
rootctl pool scale web --min 0 >/dev/null

# ---- leak scan: every token and JIT configuration the double issued ----
e2e_root systemctl stop lanekeeper-pool.service
e2e_issued_tokens "$E2E_WORK/tokens.u" "$pat" "$wsecret"
check "JIT configurations were issued ($(wc -l <"$E2E_WORK/tokens.u") secrets)" test "$(wc -l <"$E2E_WORK/tokens.u")" -ge 10
e2e_root journalctl -o cat --no-pager >"$E2E_WORK/scan.journal" 2>/dev/null
e2e_root sh -c 'cat /srv/lanekeeper/store/audit/* /srv/lanekeeper/store/*.install 2>/dev/null; cat /etc/systemd/system/lanekeeper-lane@web-*.service' >"$E2E_WORK/scan.store"
check "records were written" test -s "$E2E_WORK/scan.store"
e2e_leak_scan "$E2E_WORK/tokens.u" scan.journal scan.store double.log

echo "test-pool-supervise: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
