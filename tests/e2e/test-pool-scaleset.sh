#!/bin/bash
# End to end: a pool in scale-set mode (lanekeeper-pool.service, the
# shipped unit) on a real systemd, the socket-activated helper, the GitHub
# double's Actions service and the runner kit. Pool ss: scale set lk-ss,
# min 0, max 3, spare 0.
# - the set is made and its message session held; nothing runs at rest;
# - scale from 0: jobs for the set are offered, acquired, each runs on a
#   fresh JIT runner of the set, and the pool goes back to 0 leaving no
#   registration behind;
# - at rest the supervisor sends nothing but the long poll (no REST);
# - kill -9 of the supervisor mid-burst: the session its predecessor held
#   is waited out, every job runs exactly once, no message is handled
#   twice, 0 orphaned runners;
# - an expired admin token and a 5xx storm on the service are survived;
# - lanectl pool status shows the set, its session and the statistics;
# Ends with a leak scan of every token and JIT configuration the double
# issued. Needs root (exit 77 otherwise; CI=true: failure).
set -u
. "$TESTS_SRCDIR/e2e/harness.sh"

. "$TESTS_SRCDIR/e2e/pool-lib.sh"
e2e_need_jobs
e2e_lane_users $R ss-1
pool_double --rate-limit 10000000   # the test polls its jobs often
# a 4-s long poll, and a session given up 8 s after its holder stopped polling
ctl scaleset '{"poll_s": 4, "session_timeout": 8}' >/dev/null
pool_install ss 'mode = scale-set\nscale_set = lk-ss\nmin = 0\nmax = 3\nspare = 0\n' "--interval 5s --never-online 30s"
pool_boot ss-1 ss-2 ss-3

sset() { # EXPR over the double's scale set lk-ss, as s
        ctl scaleset '{}' | "$py" -c 'import json,sys
s=[x for x in json.load(sys.stdin)["sets"] if x["name"] == "lk-ss"]
print(eval(sys.argv[1], {"s": s[0] if s else None}))' "$1"
}
live_is() { [ "$(live_slots ss 3)" = "$1" ]; }
wait_job_long() { for _ in 1 2 3 4; do wait_job "$1" completed 2>/dev/null && return 0; done; return 1; }   # RUN: 120 s
burst() { # N NAME SECONDS: N runs of one job for the set; their run ids
        local i out=""
        for i in $(seq "$1"); do
                out="$out $(newrun '{"repo":"acme/site","jobs":[{"name":"'"$2"'","runs_on":["lk-ss"],"steps":[{"run":"sleep '"$3"'"}]}]}')"
        done
        echo $out
}
log_since() { # N: the double's requests after the first N, as "METHOD PATH" lines
        ctl log '' | "$py" -c 'import json,sys; [print(x[0], x[1]) for x in json.load(sys.stdin)["log"][int(sys.argv[1]):]]' "$1"
}
log_len() { ctl log '' | "$py" -c 'import json,sys; print(len(json.load(sys.stdin)["log"]))'; }

out=$(lanectl pool validate 2>&1); rc=$?
check "pool validate ($rc): $out" test "$rc" = 0

# ---- the set made, its session held, nothing running ----
e2e_root systemctl start lanekeeper-pool.service
check "the supervisor is ready: $(e2e_root systemctl show -P ActiveState lanekeeper-pool.service)" \
        test "$(e2e_root systemctl show -P ActiveState lanekeeper-pool.service)" = active
has_session() { [ "$(sset 's is not None and s["session"] is not None')" = True ]; }
check "the scale set lk-ss exists with a session" wait_for 20 has_session
check "... its owner is this host's pool" test "$(sset 's["owner"]')" = "$host/ss"
check "records: set created, session opened" test "$(records '[(x["action"], x["status"]) for x in r if x["action"] in ("scale-set", "session")][:2]')" = \
        "[('scale-set', 'created'), ('session', 'opened')]"
sleep 2
check "min 0: no slot live" live_is 0
check "... no runner registered" no_runners

# ---- at rest: the long poll only ----
n0=$(log_len)
sleep 12
rest=$(log_since "$n0" | grep -v " /_actions/lk/_msgq/" | sort | uniq -c)
check "12 s at rest: nothing but the long poll (${rest:-none})" test -z "$rest"
check "... and the poll was asked ($(log_since "$n0" | grep -c _msgq))" test "$(log_since "$n0" | grep -c _msgq)" -ge 2

# ---- scale from 0 on demand, and back ----
t0=$(date +%s)
runs=$(burst 2 first 3)
for x in $runs; do
        check "job $x for the set completed" wait_job "$x" completed
        check "... success" test "$(job "$x" conclusion)" = success
        check "... on a slot of the pool ($(job "$x" runner_name))" grep -q '^ss-[123]$' <<<"$(job "$x" runner_name)"
done
check "... both within $(($(date +%s) - t0)) s" test $(($(date +%s) - t0)) -lt 30
check "the jobs were offered and acquired" test "$(records 'sum(int(x["detail"].split()[0]) for x in r if x["action"] == "acquire" and x["status"] == "completed")')" -ge 2
check "back to 0 slots" wait_for 40 live_is 0
check "... nothing left behind: no runner registered" wait_for 30 no_runners
check "... the set's statistics: nothing assigned" test "$(sset 's["statistics"]["totalAssignedJobs"]')" = 0

# ---- lanectl pool status ----
st=$(lanectl pool status --output json); rc=$?
check "pool status: exit $rc" test "$rc" = 0
check "... the set and its session" test "$(field '[(p["scale_set"]["name"], p["scale_set"]["session"] is not None, p["scale_set"]["owner"]) for p in d["pools"]]' <<<"$st")" = \
        "[('lk-ss', True, '$host/ss')]"
check "... the service's statistics beside the pool's target" test "$(field '(d["pools"][0]["scale_set"]["statistics"]["assigned"], d["pools"][0]["target"], d["pools"][0]["scale_set"]["last_message"] > 0)' <<<"$st")" = \
        "(0, 0, True)"
txt=$(lanectl pool status ss)
check "pool status (text) names the set and its session" grep -q "scale set lk-ss (id [0-9]*): session [0-9a-f-]* (owner $host/ss)" <<<"$txt"
check "... and the service's view" grep -q "assigned 0, running 0" <<<"$txt"
txt=$(rootctl pool status ss 2>&1); rc=$?
check "pool status as root: the store's owner reads GitHub ($rc): $(grep 'not read' <<<"$txt")" \
        test "$rc" = 0 -a -z "$(grep 'not read' <<<"$txt")"
check "... its slots read" grep -q "ss-1" <<<"$txt"
prom=/srv/lanekeeper/store/metrics/lanekeeper-pool.prom
e2e_root cat $prom >"$E2E_WORK/pool.prom"
check "metrics: messages, acquisitions, sessions" test "$(e2e_prom "$E2E_WORK/pool.prom" '(m[("lanekeeper_pool_scaleset_messages_total", (("pool", "ss"),))] >= 2, m[("lanekeeper_pool_scaleset_acquired_jobs_total", (("pool", "ss"),))] >= 2, m[("lanekeeper_pool_scaleset_sessions_total", (("pool", "ss"),))], m[("lanekeeper_pool_scaleset_session_open", (("pool", "ss"),))])')" = \
        "(True, True, 1.0, 1.0)"

# ---- kill -9 mid-burst: the conflict waited out, each job exactly once ----
pid0=$(e2e_root systemctl show -P MainPID lanekeeper-pool.service)
runs=$(burst 4 killed 4)
any_running() { local x; for x in $runs; do [ "$(job "$x" status)" = in_progress ] && return 0; done; return 1; }
check "a burst job runs" wait_for 30 any_running
e2e_root systemctl kill -s KILL lanekeeper-pool.service
check "the supervisor restarted after kill -9" wait_for 30 supervisor_restarted "$pid0"
for x in $runs; do
        check "job $x after the kill completed" wait_job_long "$x"
        check "... success" test "$(job "$x" conclusion)" = success
done
conflicts=$(records 'len([x for x in r if x["action"] == "session" and x["status"] == "conflict"])')
reopened() { [ "$(records 'len([x for x in r if x["action"] == "session" and x["status"] == "opened"])')" = 2 ]; }
check "the predecessor's session was waited out ($conflicts conflicts)" wait_for 40 reopened
check "... conflicts said" test "$conflicts" -ge 1
dups=$(records '[m for m in [x["detail"].split(":")[0] for x in r if x["action"] == "message" and x["status"] == "handled"]]' |
        "$py" -c 'import ast,sys; m=ast.literal_eval(sys.stdin.read()); print(len(m) - len(set(m)))')
check "no message was handled twice ($dups)" test "$dups" = 0
once() { # every run of the burst had one job, run once, by one runner
        local x
        for x in $runs; do
                [ "$(api GET "/repos/acme/site/actions/runs/$x/jobs" | "$py" -c 'import json,sys; j=json.load(sys.stdin)["jobs"]; print(len(j), j[0]["run_attempt"] if j else 0)')" = "1 1" ] || return 1
        done
}
check "each job ran exactly once" once
check "back to 0 after the kill" wait_for 60 live_is 0
check "0 orphaned runners" wait_for 30 no_runners

# ---- an expired admin token, then a 5xx storm on the service ----
ctl scaleset '{"expire": "admin"}' >/dev/null
runs=$(burst 2 expired 1)
for x in $runs; do
        check "job $x after the admin token expired completed" wait_job_long "$x"
done
check "... a new admin token was asked for" test "$(log_since 0 | grep -c "POST /actions/runner-registration")" -ge 2
ctl fault '{"kind":"status","status":502,"match":"_actions/lk/_apis/","count":8}' >/dev/null
ctl fault '{"kind":"status","status":503,"match":"_msgq","count":3}' >/dev/null
runs=$(burst 3 storm 1)
for x in $runs; do
        check "storm job $x completed" wait_job_long "$x"
        check "... success" test "$(job "$x" conclusion)" = success
done
ctl clear-faults '' >/dev/null
check "back to 0 after the storm" wait_for 60 live_is 0
check "0 orphaned runners after the storm" wait_for 30 no_runners

if [ "$failed" -gt 0 ]; then
        e2e_root journalctl -o cat --no-pager -u lanekeeper-pool.service | tail -n 40
        records '[(x.get("lane"), x["action"], x["status"], x.get("detail"), x["target"], x["queued"]) for x in r][-30:]'
        records '__import__("collections").Counter((x["action"], x["status"]) for x in r).most_common(12)'
        api GET /rate_limit
fi

# ---- stopped: the session closed, so a successor need not wait ----
e2e_root systemctl stop lanekeeper-pool.service
check "a stopped supervisor leaves no session" test "$(sset 's["session"]')" = None

# ---- leak scan: every token and JIT configuration the double issued ----
e2e_issued_tokens "$E2E_WORK/tokens.u" "$pat"
check "admin, queue and JIT secrets were issued ($(wc -l <"$E2E_WORK/tokens.u"))" test "$(wc -l <"$E2E_WORK/tokens.u")" -ge 10
e2e_root journalctl -o cat --no-pager >"$E2E_WORK/scan.journal" 2>/dev/null
e2e_root sh -c 'cat /srv/lanekeeper/store/audit/* /srv/lanekeeper/store/*.scaleset /srv/lanekeeper/store/metrics/* 2>/dev/null; cat /etc/systemd/system/lanekeeper-lane@ss-*.service' >"$E2E_WORK/scan.store"
check "records were written" test -s "$E2E_WORK/scan.store"
e2e_leak_scan "$E2E_WORK/tokens.u" scan.journal scan.store double.log

echo "test-pool-scaleset: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
