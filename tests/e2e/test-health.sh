#!/bin/bash
# End to end: lanectl health on a real systemd (PID 1 in private
# namespaces), the socket-activated helper, the GitHub double and the
# runner kit. Two lanes of this host (lane-a; lane-b, kept busy by a long
# job so that jobs for its labels wait) and a runner of another host.
# Each check is shown detecting (a dry run changes nothing, records
# nothing) and healing (records planned then completed), beside what it
# must leave alone: another host's labels, a run with a hosted job, the
# default branch, the busy lane. Three stale jobs are cancelled in one
# cycle; the cap holds; a GitHub fault midway ends as a failed record while
# the other actions complete; an offline lane is restarted and a deleted
# registration re-registered through the executor; clock drift is reported.
# Ends with a leak scan. Needs root (exit 77 otherwise; CI=true: failure).
set -u
. "$TESTS_SRCDIR/e2e/harness.sh"

py=/usr/bin/python3
e2e_need_jobs
R=/srv/lanekeeper/runners
e2e_lane_users $R lane-a
host=$(hostname)

e2e_start_double --repo acme/site --heartbeat-timeout 12
pat=$E2E_PAT port=$E2E_PORT
. "$TESTS_SRCDIR/github/jobs-lib.sh"

d=$E2E_WORK/dest/usr/local
etc=/usr/local/etc/lanekeeper
policy=$etc/policy.conf
e2e_install_lanekeeper "$policy"
e2e_policy "$host" "$R"
conf() { # FILE [HEALTH-SETTINGS...]: lanekeeper.conf with these [health] lines
        local f=$1; shift
        printf '[github]\napi_url = http://127.0.0.1:%s\ntoken_file = /srv/lanekeeper/token\ntimeout_s = 8\n[helper]\npolicy = %s\n[store]\ndir = /srv/lanekeeper/store\n[lanes]\ndir = %s/lanes.d\n[baseline]\nmin_free_mib = 1\ncommands = sh\n[health]\n' \
                "$port" "$policy" "$etc" >"$d/etc/lanekeeper/$f"
        printf '%s\n' "$@" >>"$d/etc/lanekeeper/$f"
}
conf lanekeeper.conf
conf capped.conf "max_cancels = 2"
conf pr.conf "pr_priority = yes" "pr_priority_threshold = 2"
for l in "lane-a:self-hosted, X64, lanekeeper-managed" "lane-b:self-hosted, lanekeeper-managed, only-b"; do
        printf '[lane]\nname = %s\nrepository = acme/site\nhost = %s\nroot = %s\nuser = lkrunner\nlabels = %s\nmanaged = true\n' \
                "${l%%:*}" "$host" "$R" "${l#*:}" >"$d/etc/lanekeeper/lanes.d/${l%%:*}.conf"
done

# the shipped health service and timer; the test's store is elsewhere, so a drop-in names it
u=$E2E_WORK/units
sed -e "s|@bindir@|/usr/local/bin|" "$TESTS_SRCDIR/../units/lanekeeper-health.service.in" >"$u/lanekeeper-health.service"
cp "$TESTS_SRCDIR/../units/lanekeeper-health.timer" "$u/"
mkdir -p "$u/lanekeeper-health.service.d"
# and names the test's settings: a build for another prefix (make distcheck) has another default
printf '[Service]\nReadWritePaths=/srv/lanekeeper/store\nEnvironment=LANEKEEPER_CONFIG=%s/lanekeeper.conf\n' "$etc" \
        >"$u/lanekeeper-health.service.d/store.conf"
# the namespace's systemd booted seconds ago: OnBootSec=2min is far; a drop-in adds a first cycle 1 s after start
mkdir -p "$u/lanekeeper-health.timer.d"
printf '[Timer]\nOnActiveSec=1s\n' >"$u/lanekeeper-health.timer.d/soon.conf"

e2e_boot || exit 1
e2e_store_and_lanes $R "$pat" lane-a lane-b

lanectl() { e2e_as lanekeeper /usr/local/bin/lanectl --config "$etc/${CONF:-lanekeeper.conf}" "$@"; }
records() { e2e_root sh -c 'ls /srv/lanekeeper/store/audit | grep -c "^[0-9]"'; }
runstatus() { api GET "/repos/acme/site/actions/runs/$1" | "$py" -c 'import json,sys; r=json.load(sys.stdin); print(r["status"], r["conclusion"])'; }
field() { e2e_field "$1"; }
backdated() { # LABELS-JSON [EXTRA-JSON-FIELDS]: a run 5 h old whose one job asks for LABELS
        newrun "{\"repo\":\"acme/site\",\"age_s\":18000,\"jobs\":[{\"name\":\"old\",\"runs_on\":$1}]${2:+,$2}}"
}

for l in lane-a lane-b; do
        out=$(lanectl apply $l --confirm $l --idempotency-key "health-$l" --timeout 60 2>&1); rc=$?
        check "apply created $l ($rc): $out" test "$rc" = 0
done
# a runner of another host, registered in the same repository, with labels only it has
tok=$(api POST /repos/acme/site/actions/runners/registration-token | field 'd["token"]')
curl -sf -X POST "http://127.0.0.1:$port/_runner/register" \
        -d "{\"token\":\"$tok\",\"name\":\"elsewhere\",\"labels\":[\"self-hosted\",\"elsewhere-only\"],\"version\":\"2.330.0\"}" >/dev/null
# lane-b busy: a long job only it can take
busy=$(newrun '{"repo":"acme/site","branch":"hold","jobs":[{"name":"hold","runs_on":["only-b"],"steps":[{"run":"exec -a lk-e2e-hold sleep 600"}]}]}')
check "lane-b runs the long job" wait_marked lk-e2e-hold

# ---- healthy: nothing to do ----
out=$(lanectl health 2>&1); rc=$?
check "a healthy host: exit 0 ($rc): $out" test "$rc" = 0

# ---- status: the dashboard, 80 columns, colour only on a terminal; JSON for scripts ----
out=$(lanectl status 2>&1); rc=$?
check "status: healthy, exit 0 ($rc): $out" test "$rc" = 0
check "status: fits 80 columns: $(awk 'length($0) > 80' <<<"$out")" test "$(awk '{ if (length($0) > 80) n++ } END { print n + 0 }' <<<"$out")" = 0
check "status: no colour when not a terminal" test "$(grep -c $'\e\\[' <<<"$out")" = 0
check "status: lane-a active and online, idle" grep -q "^lane-a  *active/running .* online, idle" <<<"$out"
check "status: lane-b busy, with its job" grep -q "job acme/site run $busy \"hold\"" <<<"$out"
check "status: no job waits" grep -q "^(no job waits)$" <<<"$out"
tty=$(e2e_as lanekeeper script -qec "env TERM=xterm /usr/local/bin/lanectl --config $etc/lanekeeper.conf status" /dev/null 2>&1)
check "status: colour on a terminal" grep -q $'\e\\[32mHEALTHY' <<<"$tty"
out=$(lanectl status lane-b --output json 2>&1); rc=$?
check "status --output json lane-b: one lane, busy with run $busy ($rc)" \
        test "$(field '([l["name"] for l in d["lanes"]], d["lanes"][0]["github"]["busy"], d["lanes"][0]["github"]["job"].split()[2], d["status"], d["schema"])' <<<"$out")" = "(['lane-b'], True, '$busy', 'healthy', 'lanekeeper.status/1')"
check "status: lane-b's unit and last record" \
        test "$(field '(d["lanes"][0]["unit"]["active"], d["lanes"][0]["last_audit"]["command"], d["lanes"][0]["last_audit"]["status"])' <<<"$out")" = "('active', 'apply', 'completed')"
out=$(lanectl status nosuch 2>&1); rc=$?
check "status: an unknown lane is an error, named ($rc)" test "$rc" = 2 -a -n "$(grep "no lane of this host is named 'nosuch'" <<<"$out")"

# ---- stale: three jobs for lane-b's labels, five hours queued; what is not ours stays ----
s1=$(backdated '["lanekeeper-managed","only-b"]'); s2=$(backdated '["only-b"]'); s3=$(backdated '["ONLY-B"]')
foreign=$(backdated '["elsewhere-only"]')
mixed=$(newrun '{"repo":"acme/site","age_s":18000,"jobs":[{"name":"here","runs_on":["only-b"]},{"name":"hosted","runs_on":["ubuntu-latest"]}]}')
before=$(records)
out=$(lanectl health --only stale --output json 2>&1); rc=$?
check "dry run: exit 1, actions pending ($rc)" test "$rc" = 1
check "dry run: three runs would be cancelled" test "$(field 'sorted(a["run_id"] for a in d["actions"] if a["result"] == "would")' <<<"$out")" = "$(printf '%s\n' $s1 $s2 $s3 | sort -n | "$py" -c 'import sys; print(sorted(int(x) for x in sys.stdin.read().split()))')"
check "dry run: the mixed run is left alone, and why" grep -q "run $mixed: .*left alone: job .*(hosted) is queued for ubuntu-latest, not this host's" <<<"$out"
check "dry run: the other host's labels are not even a finding" test "$(grep -c "run $foreign" <<<"$out")" = 0
check "dry run: the queue is per label set (only-b, any case: 3 jobs)" test "$(field '[q["queued"] for q in d["queue"] if [l.lower() for l in q["labels"]] == ["only-b"]][0]' <<<"$out")" = 3
check "dry run: no record written" test "$(records)" = "$before"
check "dry run: nothing cancelled" test "$(runstatus "$s1")" = "queued None"
out=$(lanectl health --heal --only stale 2>&1); rc=$?
check "heal: exit 0 ($rc): $out" test "$rc" = 0
for r in $s1 $s2 $s3; do check "stale run $r cancelled" test "$(runstatus "$r")" = "completed cancelled"; done
check "the other host's job still queued" test "$(runstatus "$foreign")" = "queued None"
check "the mixed run still queued" test "$(runstatus "$mixed")" = "queued None"
check "the busy lane's job still runs" test "$(runstatus "$busy")" = "in_progress None"
check "six records: planned then completed, three times" test "$(records)" = "$((before + 6))"
last=$(e2e_root sh -c 'cat /srv/lanekeeper/store/audit/HEAD' | awk '{print $1}')
rec=$(lanectl audit show "$last")
check "the last record: health, stale, cancel-run, completed" test "$(field '(d["command"], d["check"], d["action"], d["status"])' <<<"$rec")" = "('health', 'stale', 'cancel-run', 'completed')"
check "the chain verifies" lanectl audit verify

# ---- the cap: three stale runs, max_cancels = 2 ----
c1=$(backdated '["only-b"]'); c2=$(backdated '["only-b"]'); c3=$(backdated '["only-b"]')
out=$(CONF=capped.conf lanectl health --heal --only stale --output json 2>&1); rc=$?
check "capped: exit 1 ($rc)" test "$rc" = 1
check "capped: 2 completed, 1 capped" test "$(field '(d["counts"]["completed"], d["counts"]["capped"])' <<<"$out")" = "(2, 1)"
check "capped: one run left queued" test "$(for r in $c1 $c2 $c3; do runstatus "$r"; done | grep -c '^queued')" = 1
out=$(CONF=capped.conf lanectl health --heal --only stale --output json 2>&1); rc=$?
check "the next cycle takes the rest ($rc)" test "$(for r in $c1 $c2 $c3; do runstatus "$r"; done | grep -c '^completed')" = 3

# ---- a GitHub fault midway: that action fails, the others complete ----
f1=$(backdated '["only-b"]'); f2=$(backdated '["only-b"]')
ctl fault "{\"kind\":\"status\",\"status\":502,\"count\":-1,\"match\":\"POST .*/runs/$f1/cancel\"}" >/dev/null
before=$(records)
out=$(lanectl health --heal --only stale --output json 2>&1); rc=$?
ctl clear-faults '{}' >/dev/null
check "fault: exit 1 ($rc)" test "$rc" = 1
check "fault: one failed, one completed" test "$(field '(d["counts"]["failed"], d["counts"]["completed"])' <<<"$out")" = "(1, 1)"
check "fault: the failed action says GitHub's answer" grep -q '"detail": "cancelling run '"$f1"': .*502' <<<"$out"
check "fault: the failed run is still queued, not claimed done" test "$(runstatus "$f1")" = "queued None"
check "fault: the other run cancelled" test "$(runstatus "$f2")" = "completed cancelled"
check "fault: four records, one failed" test "$(records)" = "$((before + 4))"
api POST "/repos/acme/site/actions/runs/$f1/cancel" >/dev/null

# ---- superseded: per workflow, branch and event; never the default branch ----
o1=$(newrun '{"repo":"acme/site","branch":"feature-x","jobs":[{"name":"b","runs_on":["only-b"]}]}')
o2=$(newrun '{"repo":"acme/site","branch":"feature-x","jobs":[{"name":"b","runs_on":["only-b"]}]}')
m1=$(newrun '{"repo":"acme/site","branch":"main","jobs":[{"name":"b","runs_on":["only-b"]}]}')
m2=$(newrun '{"repo":"acme/site","branch":"main","jobs":[{"name":"b","runs_on":["only-b"]}]}')
e1=$(newrun '{"repo":"acme/site","branch":"feature-y","jobs":[{"name":"b","runs_on":["elsewhere-only"]}]}')
e2=$(newrun '{"repo":"acme/site","branch":"feature-y","jobs":[{"name":"b","runs_on":["elsewhere-only"]}]}')
out=$(lanectl health --heal --only superseded --output json 2>&1); rc=$?
check "superseded: exit 0 ($rc)" test "$rc" = 0
check "superseded: the older feature-x run cancelled" test "$(runstatus "$o1")" = "completed cancelled"
check "superseded: the newest kept" test "$(runstatus "$o2")" = "queued None"
check "superseded: main is left alone" test "$(runstatus "$m1") $(runstatus "$m2")" = "queued None queued None"
check "superseded: ... and says so" grep -q "run $m1 .*default branch" <<<"$out"
check "superseded: another host's runs are left alone" test "$(runstatus "$e1")" = "queued None"
ctl repo '{"repo":"acme/site","default_branch":"trunk"}' >/dev/null
out=$(lanectl health --heal --only superseded --output json 2>&1); rc=$?
check "superseded: with trunk the default, main's older run goes" test "$(runstatus "$m1")" = "completed cancelled"
ctl repo '{"repo":"acme/site","default_branch":"main"}' >/dev/null
for r in $o2 $m2 $e1 $e2 $foreign $mixed; do api POST "/repos/acme/site/actions/runs/$r/cancel" >/dev/null; done

# ---- pull-request priority (a policy switch): push runs on non-default branches yield ----
for n in 1 2 3; do newrun "{\"repo\":\"acme/site\",\"event\":\"pull_request\",\"branch\":\"pr-$n\",\"jobs\":[{\"name\":\"b\",\"runs_on\":[\"only-b\"]}]}" >/dev/null; done
p1=$(newrun '{"repo":"acme/site","event":"push","branch":"dev","jobs":[{"name":"b","runs_on":["only-b"]}]}')
p2=$(newrun '{"repo":"acme/site","event":"push","branch":"main","jobs":[{"name":"b","runs_on":["only-b"]}]}')
out=$(lanectl health --heal --only pr-priority 2>&1); rc=$?
check "pr-priority off by default: nothing cancelled ($rc)" test "$(runstatus "$p1")" = "queued None"
out=$(CONF=pr.conf lanectl health --heal --only pr-priority 2>&1); rc=$?
check "pr-priority: the push run on dev cancelled ($rc): $out" test "$(runstatus "$p1")" = "completed cancelled"
check "pr-priority: the push run on main kept" test "$(runstatus "$p2")" = "queued None"
for r in $(api GET "/repos/acme/site/actions/runs?status=queued" | field '" ".join(str(r["id"]) for r in d["workflow_runs"])'); do
        api POST "/repos/acme/site/actions/runs/$r/cancel" >/dev/null
done

# ---- offline: a stopped unit is restarted through the executor; the busy lane is left alone ----
e2e_root systemctl stop lanekeeper-lane@lane-a.service
out=$(lanectl health --only offline 2>&1); rc=$?
check "offline: detected, dry run ($rc): $out" test "$rc" = 1
check "offline: nothing restarted by a dry run" test "$(e2e_root systemctl show -P ActiveState lanekeeper-lane@lane-a.service)" = inactive
out=$(lanectl health --heal --only offline --output json 2>&1); rc=$?
check "offline: restarted ($rc)" test "$(field '[(a["lane"], a["action"], a["result"]) for a in d["actions"]]' <<<"$out")" = "[('lane-a', 'restart', 'completed')]"
state=$(e2e_root systemctl show -P ActiveState,SubState,NRestarts lanekeeper-lane@lane-a.service | tr '\n' ' ')
check "offline: lane-a active again ($state)" e2e_root systemctl -q is-active lanekeeper-lane@lane-a.service
check "offline: the busy lane's job still runs" test "$(runstatus "$busy")" = "in_progress None"

# ---- metrics: the exposition format, parsed by prometheus_client; values match the state ----
# lane-a's restarted runner comes online when its listener's session is up: waited for (30 s at most)
a_online() { [ "$(lanectl metrics 2>/dev/null | e2e_prom /dev/stdin 'm[("lanekeeper_lane_online", (("lane", "lane-a"),))]')" = 1.0 ]; }
for _ in $(seq 60); do a_online && break; sleep 0.5; done
q=$(newrun '{"repo":"acme/site","jobs":[{"name":"w","runs_on":["only-b"]},{"name":"nobody","runs_on":["windows-latest"]}]}')
out=$(lanectl status 2>&1)
check "status: the queue per label set: $(sed -n '/^QUEUE/,/^$/p' <<<"$out")" \
        test "$(grep -c -e '^only-b  *1 .* 1/1  *yes$' -e '^windows-latest  *1 .* 0/0  *no$' <<<"$out")" = 2
lanectl metrics >"$E2E_WORK/metrics.txt"; rc=$?
check "metrics: exit 0 ($rc)" test "$rc" = 0
prom() { e2e_prom "$@"; }
check "metrics parse with prometheus_client" prom "$E2E_WORK/metrics.txt" 'len(m) > 10'
check "metrics: lane-a up and online, not busy" test "$(prom "$E2E_WORK/metrics.txt" '[m[(n, (("lane", "lane-a"),))] for n in ("lanekeeper_lane_up", "lanekeeper_lane_online", "lanekeeper_lane_busy")]')" = "[1.0, 1.0, 0.0]"
check "metrics: lane-b busy" test "$(prom "$E2E_WORK/metrics.txt" 'm[("lanekeeper_lane_busy", (("lane", "lane-b"),))]')" = 1.0
check "metrics: only-b's queue holds one job, served here, one matching runner" \
        test "$(prom "$E2E_WORK/metrics.txt" '[m[(n, (("labels", "only-b"), ("served_here", "true")))] for n in ("lanekeeper_queue_jobs", "lanekeeper_queue_matching_runners")]')" = "[1.0, 1.0]"
check "metrics: windows-latest waits with 0 matching runners, not served here" \
        test "$(prom "$E2E_WORK/metrics.txt" 'm[("lanekeeper_queue_matching_runners", (("labels", "windows-latest"), ("served_here", "false")))]')" = 0.0
check "metrics: audit records as the store has them, chain intact" \
        test "$(prom "$E2E_WORK/metrics.txt" '(int(m[("lanekeeper_audit_records", ())]), m[("lanekeeper_audit_chain_intact", ())])')" = "($(records), 1.0)"
api POST "/repos/acme/site/actions/runs/$q/cancel" >/dev/null
out=$(lanectl health --heal --only offline 2>&1)
tf=/srv/lanekeeper/store/metrics/lanekeeper.prom
check "the cycle wrote the textfile, mode 0644" test "$(e2e_root stat -c %a $tf)" = 644
e2e_root cat $tf >"$E2E_WORK/textfile.prom"
check "the textfile parses; its last success is this cycle's" \
        prom "$E2E_WORK/textfile.prom" 'abs(m[("lanekeeper_health_last_success_timestamp_seconds", ())] - __import__("time").time()) < 120'

# every command that changes a lane rewrites the textfile at once; the last cycle's counts stay
prom "$E2E_WORK/textfile.prom" 'm[("lanekeeper_health_degraded_findings", ())]' >"$E2E_WORK/findings.before"
e2e_root systemctl stop lanekeeper-lane@lane-a.service
lanectl metrics >/dev/null   # reads only: the textfile is not touched
e2e_root cat $tf >"$E2E_WORK/textfile.prom"
check "metrics: lanectl metrics leaves the textfile alone" prom "$E2E_WORK/textfile.prom" 'm[("lanekeeper_lane_up", (("lane", "lane-a"),))] == 1'
out=$(lanectl restart lane-a --apply --confirm lane-a --idempotency-key metrics-restart 2>&1); rc=$?
check "restart --apply for the textfile ($rc): $out" test "$rc" = 0
e2e_root cat $tf >"$E2E_WORK/textfile.prom"
check "the textfile after restart: lane-a up, the last cycle's findings and success kept" \
        prom "$E2E_WORK/textfile.prom" 'm[("lanekeeper_lane_up", (("lane", "lane-a"),))] == 1 and m[("lanekeeper_health_degraded_findings", ())] == '"$(cat "$E2E_WORK/findings.before")"' and abs(m[("lanekeeper_health_last_success_timestamp_seconds", ())] - __import__("time").time()) < 120'

# ---- a deleted registration: registered again through the executor ----
id=$(api GET "/repos/acme/site/actions/runners?name=lane-a" | field 'd["runners"][0]["id"]')
api DELETE "/repos/acme/site/actions/runners/$id" >/dev/null
out=$(lanectl health --heal --only offline --output json 2>&1); rc=$?
check "re-register: exit 0 ($rc): $out" test "$rc" = 0
check "re-register: completed through apply" grep -q '"action": "re-register"' <<<"$out"
check "re-register: lane-a listed and online again" test "$(api GET "/repos/acme/site/actions/runners?name=lane-a" | field 'd["runners"][0]["status"]')" = online

# ---- a damaged actions cache: cleared through lane-a's own unit, the failed jobs rerun once ----
ctl action '{"repo":"acme/hello","ref":"v1","files":{"action.yml":"name: hello\nruns:\n  using: composite\n  steps:\n    - run: echo action says hi\n      shell: bash\n"}}' >/dev/null
wf='{"repo":"acme/site","branch":"cache","jobs":[{"name":"uses","runs_on":["X64"],"steps":[{"uses":"acme/hello@v1"}]}]}'
a=$R/lane-a/_work/_actions/acme/hello/v1
k1=$(newrun "$wf")
check "cache: a job fills lane-a's cache" wait_job "$k1" completed
check "cache: ... and passes" concluded "$k1" success "action says hi"
e2e_root rm $a/action.yml
k2=$(newrun "$wf")
check "cache: the damaged entry fails the next job" wait_job "$k2" completed
check "cache: ... with the runner's message" concluded "$k2" failure "Can't find 'action.yml'"
out=$(lanectl health --only cache --output json 2>&1); rc=$?
check "cache: dry run: exit 1 ($rc)" test "$rc" = 1
check "cache: dry run: would clear lane-a's cache, then rerun the run" \
        test "$(field '[(a.get("lane"), a["action"], a.get("run_id"), a["result"]) for a in d["actions"]]' <<<"$out")" = "[('lane-a', 'clear-cache', None, 'would'), ('lane-a', 'rerun-failed-jobs', $k2, 'would')]"
check "cache: the reason names the entry" grep -q "no action.yml in the cached $a" <<<"$out"
check "cache: a dry run removes nothing" e2e_root test -e $a.completed
out=$(lanectl health --heal --only cache --output json 2>&1); rc=$?
check "cache: heal: exit 0 ($rc)" test "$rc" = 0
check "cache: cleared, then rerun: $(field '[(a["action"], a["result"], a.get("detail")) for a in d["actions"]]' <<<"$out")" \
        test "$(field '[(a["action"], a["result"]) for a in d["actions"]]' <<<"$out")" = "[('clear-cache', 'completed'), ('rerun-failed-jobs', 'completed')]"
check "cache: the rerun is attempt 2" test "$(api GET /repos/acme/site/actions/runs/$k2 | field 'd["run_attempt"]')" = 2
check "cache: the rerun passes, the action downloaded afresh" wait_job "$k2" completed
check "cache: ... $(job "$k2" conclusion)" concluded "$k2" success "Download action repository 'acme/hello@v1'"
check "cache: lane-a runs again" e2e_root systemctl -q is-active lanekeeper-lane@lane-a.service
check "cache: the lane's measurement, 0640, the lane user's" \
        test "$(e2e_root stat -c '%a %U' $R/lane-a/.lanekeeper-cache)" = "640 lkrunner"
check "cache: the clear ran as the lane's user, in its unit" \
        e2e_root sh -c "journalctl -o cat --no-pager -u lanekeeper-lane@lane-a.service | grep -q 'lanekeeper-register: lane-a: cleared the actions cache'"
out=$(lanectl status lane-a --output json 2>&1)
check "status: lane-a's cache measured, the last self-heal actions listed" \
        test "$(field '(d["lanes"][0]["actions_cache"]["damaged"], [(h["action"], h["status"]) for h in d["last_heal"]][:2])' <<<"$out")" = "(0, [('rerun-failed-jobs', 'completed'), ('clear-cache', 'completed')])"
lanectl metrics >"$E2E_WORK/metrics-cache.txt"
check "cache: metrics say lane-a's cache as measured, nothing damaged" \
        test "$(prom "$E2E_WORK/metrics-cache.txt" '[m[(n, (("lane", "lane-a"),))] for n in ("lanekeeper_actions_cache_entries", "lanekeeper_actions_cache_damaged_entries")]')" = "[0.0, 0.0]"
out=$(lanectl health --heal --only cache --output json 2>&1); rc=$?
check "cache: the next cycle does nothing more ($rc)" test "$(field 'len(d["actions"])' <<<"$out") $rc" = "0 0"

# ---- clock drift: degraded, the root step printed ----
ctl clock '{"offset": 300}' >/dev/null
out=$(lanectl health --only clock 2>&1); rc=$?
ctl clock '{"offset": 0}' >/dev/null
check "clock: degraded ($rc)" test "$rc" = 1
check "clock: says how far and what to do" grep -Eq "clock is (29[5-9]|30[0-5]) s off GitHub's.*timedatectl set-ntp true" <<<"$out"

# ---- the timer runs a cycle as the maintainer, in the hardened service; the journal shows it ----
mid=e6e63e47cf4e4bb6b41c1896092d42ca
e2e_root systemctl start lanekeeper-health.timer
# the service's own output (a stream journald knows the unit of) names the cycle
cycle=
for _ in $(seq 300); do
        cycle=$(e2e_root journalctl -o cat --no-pager -u lanekeeper-health.service 2>/dev/null | sed -n 's/^health cycle \([^:]*\):.*/\1/p' | tail -n 1)
        [ -n "$cycle" ] && [ -n "$(e2e_root journalctl -o cat --no-pager MESSAGE_ID=$mid LANEKEEPER_CYCLE=$cycle 2>/dev/null)" ] && break
        sleep 0.1
done
msg=$(e2e_root journalctl -o cat --no-pager MESSAGE_ID=$mid LANEKEEPER_CYCLE="$cycle" 2>/dev/null | tail -n 1)
[ -n "$msg" ] || e2e_root journalctl -o short --no-pager -u lanekeeper-health.service -u lanekeeper-health.timer | tail -n 20 >&2
check "the timer's cycle $cycle finished, in the journal with its MESSAGE_ID: $msg" grep -q "^health cycle .* finished: .* exit [01]$" <<<"$msg"
check "... as the maintainer" test "$(e2e_root journalctl -o export --no-pager MESSAGE_ID=$mid LANEKEEPER_CYCLE="$cycle" 2>/dev/null | sed -n 's/^_UID=//p' | tail -n 1)" = "$(e2e_uid lanekeeper)"
for _ in $(seq 100); do [ "$(e2e_root systemctl show -P ActiveState lanekeeper-health.service)" = inactive ] && break; sleep 0.1; done
check "the service ran ($(e2e_root systemctl show -P ExecMainStartTimestamp lanekeeper-health.service))" \
        test "$(e2e_root systemctl show -P ExecMainStartTimestampMonotonic lanekeeper-health.service)" != 0
check "... and ended with success ($(e2e_root systemctl show -P Result,ExecMainStatus lanekeeper-health.service | tr '\n' ' '))" \
        test "$(e2e_root systemctl show -P Result lanekeeper-health.service)" = success
check "the timer waits 5 minutes from the cycle's end" \
        test "$(e2e_root systemctl show -P TimersMonotonic lanekeeper-health.timer | grep -c 'OnUnitInactiveUSec.*5min')" = 1

# ---- leak scan ----
api POST "/repos/acme/site/actions/runs/$busy/cancel" >/dev/null
e2e_issued_tokens "$E2E_WORK/tokens.u" "$pat"
e2e_root journalctl -o cat --no-pager >"$E2E_WORK/scan.journal" 2>/dev/null
e2e_root sh -c 'cat /srv/lanekeeper/store/audit/*' >"$E2E_WORK/scan.audit"
e2e_leak_scan "$E2E_WORK/tokens.u" scan.journal scan.audit
violations=$(curl -sf "http://127.0.0.1:$port/_double/violations")
check "the double answered only what GitHub's description allows: $violations" test "$violations" = '{"violations": []}'

echo "test-health: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
