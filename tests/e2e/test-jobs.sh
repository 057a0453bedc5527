#!/bin/bash
# End to end: jobs that really run. A lane created by lanectl apply (a real
# systemd as PID 1 in private namespaces, the socket-activated helper, the
# GitHub double, the runner kit) claims a queued job whose labels it has,
# through its listener's session; the step's process is seen in the lane
# unit's cgroup as the lane's user. A job with labels no runner has stays
# queued; cancel kills a running step; timeout-minutes stops one; a damaged
# _work/_actions entry fails with the real runner's message; an ephemeral
# JIT runner in a unit of its own runs one job and exits; webhooks are
# signed with the hook's secret. Ends with a leak scan. Needs root (exit 77
# otherwise; CI=true: failure).
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
policy=/usr/local/etc/lanekeeper/policy.conf
e2e_install_lanekeeper "$policy"
e2e_policy "$host" "$R"
printf '[github]\napi_url = http://127.0.0.1:%s\ntoken_file = /srv/lanekeeper/token\ntimeout_s = 8\n[helper]\npolicy = %s\n[store]\ndir = /srv/lanekeeper/store\n[lanes]\ndir = /usr/local/etc/lanekeeper/lanes.d\n[baseline]\nmin_free_mib = 1\ncommands = sh\n' \
        "$port" "$policy" >"$d/etc/lanekeeper/lanekeeper.conf"
printf '[lane]\nname = lane-a\nrepository = acme/site\nhost = %s\nroot = %s\nuser = lkrunner\nlabels = self-hosted, X64, lanekeeper-managed\nmanaged = true\n' \
        "$host" "$R" >"$d/etc/lanekeeper/lanes.d/lane-a.conf"

e2e_boot || exit 1
e2e_store_and_lanes $R "$pat" lane-a lane-jit
uid=$(e2e_uid lkrunner)
unit=lanekeeper-lane@lane-a.service

# webhooks to a receiver on the host's loopback: every delivery kept with its headers
"$py" -c '
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        with open(sys.argv[1], "a") as f:
            f.write(json.dumps({"sig": self.headers.get("X-Hub-Signature-256"), "event": self.headers.get("X-GitHub-Event"), "body": raw.decode()}) + "\n")
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[2], "w").write(str(srv.server_address[1]))
srv.serve_forever()' "$E2E_WORK/hooks.jsonl" "$E2E_WORK/hook-port" &
hook_pid=$!
for _ in $(seq 100); do [ -s "$E2E_WORK/hook-port" ] && break; sleep 0.05; done
secret=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
ctl hooks "{\"url\":\"http://127.0.0.1:$(cat "$E2E_WORK/hook-port")/hook\",\"secret\":\"$secret\"}" >/dev/null

# ---- the lane, as an operator makes it ----
out=$(e2e_as lanekeeper /usr/local/bin/lanectl --config /usr/local/etc/lanekeeper/lanekeeper.conf apply lane-a --confirm lane-a --idempotency-key jobs-1 --timeout 60 2>&1); rc=$?
check "apply created lane-a ($rc): $out" test "$rc" = 0
check "lane-a active" e2e_root systemctl -q is-active $unit

# ---- a job whose labels the lane has: claimed, run in the unit, as the lane's user ----
r=$(newrun '{"repo":"acme/site","jobs":[{"name":"build","runs_on":["self-hosted","lanekeeper-managed"],"steps":[{"name":"work","run":"id -u > whoami\ncat /proc/self/cgroup > cgroup\nexec -a lk-e2e-build sleep 3"}]}]}')
check "the step started" wait_marked lk-e2e-build
pid=$(marked lk-e2e-build)
check "the step's process is in the lane unit's cgroup" \
        e2e_root grep -q "/system.slice/system-lanekeeper.x2dlane.slice/$unit\$" /proc/$pid/cgroup
check "the step's process runs as the lane's user ($uid)" \
        test "$(e2e_root awk '/^Uid:/ { print $2 }' /proc/$pid/status)" = "$uid"
check "the unit's own process list holds the step" \
        e2e_root sh -c "grep -qx $pid /sys/fs/cgroup/system.slice/system-lanekeeper\\\\x2dlane.slice/$unit/cgroup.procs"
check "the job completed" wait_job "$r" completed
check "success ($(job "$r" conclusion))" test "$(job "$r" conclusion)" = success
check "runner_name lane-a" test "$(job "$r" runner_name)" = lane-a
ws=$R/lane-a/_work/site/site
check "the step wrote its uid in the workspace" test "$(e2e_root cat $ws/whoami)" = "$uid"
check "... and its cgroup" e2e_root grep -q "$unit" $ws/cgroup
check "workspace files are the lane user's" test "$(e2e_root stat -c %u $ws/whoami)" = "$uid"

# ---- labels no runner has: queued ----
q=$(newrun '{"repo":"acme/site","jobs":[{"name":"gpu","runs_on":["self-hosted","gpu"]}]}')
sleep 2
check "a job with labels no runner has stays queued" test "$(job "$q" status)" = queued
check "and lane-a is not busy" test "$(api GET "/repos/acme/site/actions/runners?name=lane-a" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["runners"][0]["busy"])')" = False

# ---- cancel of a running job kills its process ----
r=$(newrun '{"repo":"acme/site","jobs":[{"name":"long","runs_on":["lanekeeper-managed"],"steps":[{"run":"exec -a lk-e2e-cancel sleep 300"}]}]}')
check "the long step started" wait_marked lk-e2e-cancel
api POST "/repos/acme/site/actions/runs/$r/cancel" >/dev/null
check "the cancelled job completed" wait_job "$r" completed
check "cancelled ($(job "$r" conclusion))" test "$(job "$r" conclusion)" = cancelled
check "the step's process is gone" test -z "$(marked lk-e2e-cancel)"
check "the lane stays active" e2e_root systemctl -q is-active $unit

# ---- timeout-minutes ----
r=$(newrun '{"repo":"acme/site","jobs":[{"name":"slow","runs_on":["lanekeeper-managed"],"timeout_minutes":0.05,"steps":[{"run":"exec -a lk-e2e-timeout sleep 300"}]}]}')
check "the timed-out job completed" wait_job "$r" completed
check "timed out: cancelled, with GitHub's annotation" concluded "$r" cancelled "has exceeded the maximum execution time of 0.05 minutes"
check "the timed-out step is gone" test -z "$(marked lk-e2e-timeout)"

# ---- actions: downloaded into _work/_actions; a damaged entry fails with the real message ----
ctl action '{"repo":"acme/hello","ref":"v1","files":{"action.yml":"name: hello\nruns:\n  using: composite\n  steps:\n    - run: echo action says hi\n      shell: bash\n"}}' >/dev/null
r=$(newrun '{"repo":"acme/site","jobs":[{"name":"act","runs_on":["lanekeeper-managed"],"steps":[{"uses":"acme/hello@v1"}]}]}')
check "the action job completed" wait_job "$r" completed
check "the action ran" concluded "$r" success "action says hi"
a=$R/lane-a/_work/_actions/acme/hello/v1
check "the action is cached as the lane's user's" test "$(e2e_root stat -c %u $a/action.yml)" = "$uid"
e2e_root rm $a/action.yml
r=$(newrun '{"repo":"acme/site","jobs":[{"name":"act","runs_on":["lanekeeper-managed"],"steps":[{"uses":"acme/hello@v1"}]}]}')
check "the damaged action job completed" wait_job "$r" completed
check "failure with the real runner's message" concluded "$r" failure "Can't find 'action.yml', 'action.yaml' or 'Dockerfile' under '$a'"

# ---- an ephemeral JIT runner in a unit of its own: one job, then it exits ----
jit=$(api POST /repos/acme/site/actions/runners/generate-jitconfig '{"name":"lane-jit","runner_group_id":1,"labels":["self-hosted","jit-only"]}')
"$py" -c 'import json,sys; print(json.load(sys.stdin)["encoded_jit_config"])' <<<"$jit" |
        e2e_root sh -c "umask 077; cat > $R/lane-jit/.jitconfig; chown lkrunner $R/lane-jit/.jitconfig"
r1=$(newrun '{"repo":"acme/site","jobs":[{"name":"one","runs_on":["jit-only"],"steps":[{"run":"cat /proc/self/cgroup > jit-cgroup"}]}]}')
r2=$(newrun '{"repo":"acme/site","jobs":[{"name":"two","runs_on":["jit-only"]}]}')
# the config goes through the environment, read from a file: never on an argv
e2e_root systemd-run -q --unit=lk-jit -p User=lkrunner -p WorkingDirectory=$R/lane-jit -p Environment=HOME=$R/lane-jit \
        /bin/sh -c "ACTIONS_RUNNER_INPUT_JITCONFIG=\$(cat .jitconfig) exec ./run.sh"
for _ in $(seq 200); do e2e_root systemctl -q is-active lk-jit.service || break; sleep 0.1; done
check "the JIT runner's unit ended" test "$(e2e_root systemctl show -P ActiveState lk-jit.service)" != active
check "... exit 0 (ExecMainStatus $(e2e_root systemctl show -P ExecMainStatus lk-jit.service))" \
        test "$(e2e_root systemctl show -P ExecMainStatus lk-jit.service)" = 0
check "its job succeeded" test "$(job "$r1" conclusion)" = success
check "in the JIT unit's cgroup" e2e_root grep -q "/lk-jit.service$" $R/lane-jit/_work/site/site/jit-cgroup
check "the second job waits for another runner" test "$(job "$r2" status)" = queued
check "the JIT runner is deregistered" test -z "$(api GET "/repos/acme/site/actions/runners?name=lane-jit" | "$py" -c 'import json,sys; print("".join(r["name"] for r in json.load(sys.stdin)["runners"]))')"

# ---- webhooks: signed with the secret, valid against GitHub's schemas ----
sleep 0.5
nhooks=$(wc -l <"$E2E_WORK/hooks.jsonl")
check "webhooks were delivered ($nhooks)" test "$nhooks" -ge 20
verify() { # SECRET: how many deliveries verify with it
        "$py" -c '
import hashlib, hmac, json, sys
n = 0
for line in open(sys.argv[1]):
    d = json.loads(line)
    want = "sha256=" + hmac.new(sys.argv[2].encode(), d["body"].encode(), hashlib.sha256).hexdigest()
    n += hmac.compare_digest(d["sig"] or "", want)
print(n)' "$E2E_WORK/hooks.jsonl" "$1"; }
check "every delivery verifies with the secret" test "$(verify "$secret")" = "$nhooks"
check "none with another secret" test "$(verify "not-$secret")" = 0
check "no delivery had a schema problem" test "$(ctl deliveries '{}' | "$py" -c 'import json,sys; print(sum(len(d["problems"]) for d in json.load(sys.stdin)["deliveries"]))')" = 0
violations=$(curl -sf "http://127.0.0.1:$port/_double/violations")
check "the double answered only what GitHub's description allows: $violations" test "$violations" = '{"violations": []}'

# ---- leak scan: every token the double issued (job tokens too), the PAT, the hook secret ----
e2e_issued_tokens "$E2E_WORK/tokens.u" "$pat" "$secret"
check "tokens to look for ($(wc -l <"$E2E_WORK/tokens.u"))" test "$(wc -l <"$E2E_WORK/tokens.u")" -ge 10
e2e_root journalctl -o cat --no-pager >"$E2E_WORK/scan.journal" 2>/dev/null
for run in $(api GET "/repos/acme/site/actions/runs?per_page=100" | "$py" -c 'import json,sys; print(" ".join(str(r["id"]) for r in json.load(sys.stdin)["workflow_runs"]))'); do
        joblog "$run"
done >"$E2E_WORK/scan.joblogs"
check "job logs were read" test -s "$E2E_WORK/scan.joblogs"
e2e_leak_scan "$E2E_WORK/tokens.u" scan.journal scan.joblogs double.log
kill "$hook_pid" 2>/dev/null

echo "test-jobs: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
