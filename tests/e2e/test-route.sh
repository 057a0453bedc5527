#!/bin/bash
# End to end: the SLO report and the routing guard (lanectl slo, lanectl
# route) on a real systemd with the ephemeral pool supervisor, the helper,
# the GitHub double (pull requests, pull_request runs, the variables API)
# and the runner kit. Pool web: min 1, max 2, spare 1.
# - bad input changes nothing; enable as root (the store's owner writes),
#   audited with its reason;
# - a healthy pool: trusted PR runs from the traffic generator pass all four
#   criteria; the guard leaves routing on; the canary stage advances once,
#   then not before its runs are counted;
# - an untrusted PR run sent to self-hosted labels trips the mismatch trigger:
#   the variable is false through the API, audited with the evidence; the
#   guard never sets it back;
# - runners killed at boot (the kit's fault): two trusted runs no runner took,
#   cancelled, trip the boot-failure trigger;
# - a slow pool (drained, GitHub's clock 150 s on) trips the queue-wait trigger;
# - the health timer's cycle and the pool supervisor run the guard
#   themselves for [route] repositories;
# - a pool offline 60 s (offline_s) after the supervisor's recovery attempt
#   (its runners die at boot; GitHub's clock 150 s on) trips the offline
#   trigger from the supervisor; the record forgets it once a runner is up;
# - metrics, and a leak scan. Needs root (exit 77 otherwise; CI=true: failure).
set -u
. "$TESTS_SRCDIR/e2e/harness.sh"

. "$TESTS_SRCDIR/e2e/pool-lib.sh"
e2e_need_jobs
e2e_lane_users $R web-1
pool_double
pool_install web 'labels = self-hosted, lanekeeper-managed, pool-web\nmin = 1\nmax = 2\nspare = 1\n' "--interval 1s"
# the shipped health service (the health timer's cycle), its store and settings the test's
sed -e "s|@bindir@|/usr/local/bin|" "$TESTS_SRCDIR/../units/lanekeeper-health.service.in" >"$u/lanekeeper-health.service"
mkdir -p "$u/lanekeeper-health.service.d"
printf '[Service]\nReadWritePaths=/srv/lanekeeper/store\nEnvironment=LANEKEEPER_CONFIG=%s/lanekeeper.conf\n' "$etc" \
        >"$u/lanekeeper-health.service.d/store.conf"
pool_boot web-1 web-2

VAR=CI_SELF_HOSTED_TRUSTED_ROUTING
online() { runners | grep -q "$1:online:False"; }
variable() { api GET "/repos/acme/site/actions/variables/$VAR" | "$py" -c 'import json,sys; print(json.load(sys.stdin).get("value", "unset"))'; }
val() { "$py" -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }
route_records() { e2e_audit_records '"route" in x.get("command", "")' "$1"; }   # EXPR over the route commands' records
traffic() { "$py" -B "$TESTS_SRCDIR/github/traffic.py" --api "http://127.0.0.1:$port" --token "$pat" --repo acme/site "$@"; }
prrun() { # a trusted pull request's run asking for the pool's labels
        local n; n=$(ctl pull '{"repo":"acme/site","author":"alice","association":"MEMBER"}' | val 'd["number"]')
        newrun "{\"repo\":\"acme/site\",\"pull\":$n,\"jobs\":[{\"name\":\"t\",\"runs_on\":[\"self-hosted\",\"pool-web\"],\"steps\":[{\"run\":\"true\"}]}]}"
}
guard() { lanectl route guard --repo acme/site; }
live_is() { [ "$(live_slots web 2)" = "$1" ]; }

e2e_root systemctl start lanekeeper-pool.service
check "web-1's runner comes online" wait_for 30 online web-1

# ---- bad input changes nothing ----
out=$(lanectl route status --repo acme/site 2>&1); rc=$?
check "route status with the variable unset ($rc): $out" grep -q "false" <<<"$out"
out=$(lanectl route enable --repo acme/site 2>&1); rc=$?
check "enable without --reason: a usage error ($rc): $out" test "$rc" = 2
out=$(lanectl route enable --repo 'acme/../x' --reason r 2>&1); rc=$?
check "a bad repository name refused ($rc): $out" test "$rc" = 2
out=$(lanectl slo --repo acme/site --last 0 2>&1); rc=$?
check "slo --last 0 refused ($rc)" test "$rc" = 2
check "... the variable is still unset" test "$(variable)" = unset

# ---- enable, as root: it becomes the store's owner ----
out=$(rootctl route enable --repo acme/site --reason "canary stage 0" 2>&1); rc=$?
check "route enable ($rc): $out" test "$rc" = 0
check "the variable is true through the API" test "$(variable)" = true
check "audited with the reason" test "$(route_records '[(x["status"], x["to"], x["reason"]) for x in r if x["command"] == "route enable"]')" = \
        "[('planned', 'true', 'canary stage 0'), ('completed', 'true', 'canary stage 0')]"
check "the routing record is the store owner's" test "$(e2e_root stat -c %U /srv/lanekeeper/store/route-acme+site.json)" = lanekeeper

# ---- a healthy pool passes all four criteria ----
t=$(traffic --pr trusted --runs 6 --rate 3 --labels self-hosted,pool-web --step "sleep 1" --wait 150 --json)
check "6 trusted PR runs completed: $t" test "$(val 'd["completed"]' <<<"$t")" = 6
traffic --pr fork --runs 2 --rate 5 --labels ubuntu-latest >/dev/null
s=$(lanectl slo --repo acme/site --output json); rc=$?
check "slo passes on a healthy pool ($rc): $(val '{k: (v["value"], v["verdict"]) for k, v in d["criteria"].items()}' <<<"$s")" \
        test "$rc" = 0
check "... every criterion passes" test "$(val 'sorted(set(v["verdict"] for v in d["criteria"].values()))' <<<"$s")" = "['pass']"
check "... 6 trusted runs, 2 untrusted beside them" test "$(val '(d["trusted_runs"], d["untrusted_runs"])' <<<"$s")" = "(6, 2)"
check "... each run classified" test "$(val 'sorted(set(x["trust"] for x in d["runs"]))' <<<"$s")" = "['fork', 'trusted']"
check "... the lifecycle figure over 6 jobs of 6 runs" \
        test "$(val '(d["criteria"]["lifecycle"]["jobs"], len(d["criteria"]["lifecycle"]["runs"]))' <<<"$s")" = "(6, 6)"
check "... routing judged on 8 runs" test "$(val 'len(d["criteria"]["routing"]["runs"])' <<<"$s")" = 8
out=$(lanectl slo --repo acme/site 2>&1)
check "slo's text names each criterion and its threshold" grep -q "p95 queue wait .*<= 120 s *pass" <<<"$out"
out=$(guard); rc=$?
check "the guard on a healthy pool: no trigger ($rc): $out" test "$rc" = 0
check "... routing stays on" test "$(variable)" = true
out=$(lanectl route status --repo acme/site --output json)
check "stage 0 done, the next may begin: $out" test "$(val '(d["stage"], d["stage_runs"] >= 1, d["next_stage_ok"])' <<<"$out")" = "(0, True, True)"
out=$(lanectl route advance --repo acme/site --reason "stage 0 held" 2>&1); rc=$?
check "route advance ($rc): $out" test "$rc" = 0
out=$(lanectl route status --repo acme/site --output json)
check "stage 1, its count begun again" test "$(val '(d["stage"], d["stage_runs"], d["next_stage_ok"])' <<<"$out")" = "(1, 0, False)"
out=$(lanectl route advance --repo acme/site --reason "too early" 2>&1); rc=$?
check "advance refused with no run counted yet ($rc): $out" test "$rc" = 1

# ---- an untrusted PR run sent to self-hosted labels: the mismatch trigger ----
traffic --pr fork --runs 1 --labels self-hosted,pool-web --wait 60 >/dev/null
out=$(guard); rc=$?
check "the guard trips on the mismatch ($rc): $out" grep -q "trigger mismatch: untrusted run" <<<"$out"
check "... exit 1" test "$rc" = 1
check "the variable is false through the API" test "$(variable)" = false
check "audited: planned and completed, with the mismatch's evidence" \
        test "$(route_records '[(x["status"], x["to"], "mismatch" in x.get("evidence", {})) for x in r if x["command"] == "route guard"]')" = \
        "[('planned', 'false', True), ('completed', 'false', True)]"
out=$(guard); rc=$?
check "the guard again: routing is off, nothing to do ($rc): $out" test "$rc" = 0
check "... the guard never sets it back" test "$(variable)" = false

# ---- runners killed at boot: the boot-failure trigger ----
# GitHub dates runs to the second, and a run of the second routing was
# enabled in counts as after it (the guard errs toward tripping). The fork
# run above may be of this very second on a fast host: routing is enabled
# in the next one, so that only the boot failures trip the guard below.
sleep 1
rootctl route enable --repo acme/site --reason "the fork run was understood" >/dev/null
rootctl pool drain web --reason "test: runners to die at boot" >/dev/null
check "the pool drained" wait_for 60 live_is 0
e2e_root sh -c 'mkdir -p /run/lanekeeper-kit && touch /run/lanekeeper-kit/die-at-boot'
rootctl pool undrain web >/dev/null
r1=$(prrun) r2=$(prrun)
sleep 8
check "no runner took them: $(job "$r1" status) $(job "$r2" status)" test "$(job "$r1" status)$(job "$r2" status)" = queuedqueued
api POST "/repos/acme/site/actions/runs/$r1/cancel" >/dev/null
api POST "/repos/acme/site/actions/runs/$r2/cancel" >/dev/null
check "cancelled, never claimed" wait_job "$r2" completed
out=$(guard); rc=$?
check "the guard trips on two boot failures in a row ($rc): $out" grep -q "trigger boot-failure: trusted runs $r1 to $r2" <<<"$out"
check "the variable is false" test "$(variable)" = false
e2e_root rm -f /run/lanekeeper-kit/die-at-boot

# ---- a slow pool: the queue-wait trigger ----
rootctl route enable --repo acme/site --reason "runners boot again" >/dev/null
rootctl pool drain web --reason "test: a slow pool" >/dev/null
check "the pool drained" wait_for 60 live_is 0
r3=$(prrun)
out=$(guard); rc=$?
check "a job queued a moment: no trigger yet ($rc): $out" test "$rc" = 0
ctl clock '{"offset": 150}' >/dev/null
out=$(guard); rc=$?
check "150 s later on GitHub's clock the queue-wait trigger holds ($rc): $out" grep -q "trigger queue-wait: p95 queue wait 1[5-9][0-9] s" <<<"$out"
check "the variable is false" test "$(variable)" = false
ctl clock '{"offset": 0}' >/dev/null
api POST "/repos/acme/site/actions/runs/$r3/cancel" >/dev/null
rootctl pool undrain web >/dev/null
out=$(lanectl route status --repo acme/site --output json)
check "status counts the trips: $out" test "$(val '[d["trips"][k] for k in ("boot-failure", "queue-wait", "offline", "mismatch")]' <<<"$out")" = "[1, 1, 0, 1]"

# ---- the health timer runs the guard for [route] repositories ----
# (the running supervisor has not read [route]: its restart below does)
e2e_root sh -c "printf '[route]\nrepositories = acme/site\ninterval_s = 10\noffline_s = 60\n' >>$etc/lanekeeper.conf"
rootctl route enable --repo acme/site --reason "the pool is fast again" >/dev/null
traffic --pr bot --runs 1 --labels self-hosted,pool-web --wait 60 >/dev/null
check "routing still on before the health timer's cycle" test "$(variable)" = true
e2e_root systemctl start lanekeeper-health.service
check "the health timer's cycle turned routing off (a bot's run on self-hosted labels)" test "$(variable)" = false
check "... audited as health's" test "$(route_records 'len([x for x in r if x["command"] == "health route guard" and x["status"] == "completed"])')" = 1

# ---- the supervisor runs the guard for [route] repositories ----
e2e_root systemctl restart lanekeeper-pool.service
rootctl route enable --repo acme/site --reason "the bot's workflow was fixed" >/dev/null
traffic --pr bot --runs 1 --labels self-hosted,pool-web --wait 60 >/dev/null
off() { [ "$(variable)" = false ]; }
check "the supervisor's guard turned routing off by itself (a bot's run on self-hosted labels)" wait_for 40 off
check "... audited as the supervisor's" test "$(route_records 'len([x for x in r if x["command"] == "pool supervise route guard" and x["status"] == "completed"])')" = 1

# ---- a pool offline after a recovery attempt: the offline trigger ----
rootctl pool drain web --reason "test: runners to die at boot again" >/dev/null
check "the pool drained" wait_for 60 live_is 0
e2e_root sh -c 'touch /run/lanekeeper-kit/die-at-boot'
rootctl route enable --repo acme/site --reason "the bot's run was understood" >/dev/null
rootctl pool undrain web >/dev/null
offline_seen() { e2e_root cat /srv/lanekeeper/store/route-acme+site.json | val '[(x["name"], bool(x.get("recovery"))) for x in d.get("offline", [])]'; }
pool_offline() { [ "$(offline_seen)" = "[('pool web', True)]" ]; }
check "the supervisor told the routing record: pool web offline after a recovery attempt ($(offline_seen))" wait_for 40 pool_offline
check "... within offline_s (60 s) routing stays on" test "$(variable)" = true
ctl clock '{"offset": 150}' >/dev/null
check "150 s later on GitHub's clock the supervisor's guard turned routing off" wait_for 40 off
check "... audited with the offline trigger's evidence: $(route_records '[x["evidence"] for x in r if x["command"] == "pool supervise route guard" and x["status"] == "completed"][-1:]')" \
        test "$(route_records '[x["evidence"].get("offline", "")[:18] for x in r if x["command"] == "pool supervise route guard" and x["status"] == "completed"][-1:]')" = "['pool web offline 1']"
ctl clock '{"offset": 0}' >/dev/null
e2e_root rm -f /run/lanekeeper-kit/die-at-boot
check "the pool's runner comes online again" wait_for 60 online web-1
offline_clear() { [ "$(offline_seen)" = "[]" ]; }
check "... and the routing record forgets the pool's outage" wait_for 30 offline_clear
m=$(e2e_root cat /srv/lanekeeper/store/metrics/lanekeeper-route.prom)
check "metrics: the guard's trips by trigger" grep -q '^lanekeeper_route_guard_trips_total{repository="acme/site",trigger="mismatch"} 3$' <<<"$m"
check "metrics: ... the offline trip" grep -q '^lanekeeper_route_guard_trips_total{repository="acme/site",trigger="offline"} 1$' <<<"$m"
check "metrics: the SLO figures" grep -q '^lanekeeper_slo_queue_wait_p95_seconds{repository="acme/site"} ' <<<"$m"
check "metrics: routing off" grep -q '^lanekeeper_route_enabled{repository="acme/site"} 0$' <<<"$m"
check "no guard ever set routing to true" test "$(route_records '[x for x in r if "guard" in x["command"] and x["to"] != "false"]')" = "[]"

# ---- leak scan ----
e2e_root systemctl stop lanekeeper-pool.service
e2e_issued_tokens "$E2E_WORK/tokens.u" "$pat"
e2e_root journalctl -o cat --no-pager >"$E2E_WORK/scan.journal" 2>/dev/null
e2e_root sh -c 'cat /srv/lanekeeper/store/audit/* /srv/lanekeeper/store/route-* /srv/lanekeeper/store/metrics/* 2>/dev/null' >"$E2E_WORK/scan.store"
check "records were written" test -s "$E2E_WORK/scan.store"
e2e_leak_scan "$E2E_WORK/tokens.u" scan.journal scan.store double.log

echo "test-route: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
