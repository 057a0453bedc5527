#!/bin/bash
# The runner kit (tests/runner-kit) against the GitHub double: config.sh
# with actions/runner's flags and ACTIONS_RUNNER_INPUT_* inputs, .runner
# with the .NET BOM, credentials closed to others, status that follows the
# listener's heartbeats, the listener's exit codes (registration deleted:
# 1, session conflict: 5), config.sh remove, the root refusal; and jobs run
# by bin/Runner.Worker: steps as real processes under the listener, failure,
# cancel, timeout-minutes, actions from _work/_actions (a damaged one failing
# with the real runner's message), SIGTERM while busy, an ephemeral JIT
# runner's one job, and a leak scan. Needs the double's Python modules and
# python3-yaml (CI=true: a failure).
set -u
py=/usr/bin/python3
if ! "$py" -c 'import jsonschema, jwt, cryptography, yaml' 2>/dev/null || ! command -v curl >/dev/null ||
        ! command -v pgrep >/dev/null; then
        [ "${CI:-}" = true ] && { echo "python3-jsonschema/jwt/cryptography/yaml, curl or pgrep missing (CI=true: failure)"; exit 1; }
        echo "SKIP: needs python3-jsonschema python3-jwt python3-cryptography python3-yaml curl procps"; exit 77
fi
passed=0 failed=0
ok()  { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
w=$(mktemp -d /tmp/lanekeeper-runner-kit.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$w"; }
trap cleanup EXIT
pat="ghp_$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 36)"
"$py" -B "$TESTS_SRCDIR/github/ghdouble.py" --port-file "$w/port" --token "$pat" --repo acme/site --heartbeat-timeout 2 &
pids+=($!)
for _ in $(seq 100); do [ -s "$w/port" ] && break; sleep 0.05; done
port=$(cat "$w/port")
. "$TESTS_SRCDIR/github/jobs-lib.sh"
token() { api POST "/repos/acme/site/actions/runners/$1" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["token"])'; }
status() { api GET "/repos/acme/site/actions/runners?name=$1" |
        "$py" -c 'import json,sys; r=json.load(sys.stdin)["runners"]; print(r[0]["status"] if r else "absent")'; }
wait_status() { for _ in $(seq 60); do [ "$(status "$1")" = "$2" ] && return 0; sleep 0.1; done; return 1; }
kit=$w/runner
"$TESTS_SRCDIR/runner-kit/install" "$kit"
[ "$(readlink "$kit/bin")" = bin.2.330.0 ] && ok || bad "the kit's bin link"
url=http://127.0.0.1:$port/acme/site
export LANEKEEPER_KIT_HEARTBEAT_S=0.2

if [ "$(id -u)" -eq 0 ]; then
        out=$(env -u RUNNER_ALLOW_RUNASROOT "$kit/config.sh" --url "$url" --unattended 2>&1); rc=$?
        [ $rc -eq 1 ] && grep -q 'Must not run with sudo' <<<"$out" && ok || bad "config.sh as root: $rc $out"
        export RUNNER_ALLOW_RUNASROOT=1
fi

# ---- configure, with the token from the environment ----
reg=$(token registration-token)
out=$(ACTIONS_RUNNER_INPUT_TOKEN=bogus "$kit/config.sh" --url "$url" --name lane-kit --unattended 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q 'NotFound' <<<"$out" && ok || bad "a bad token: $rc $out"
out=$(ACTIONS_RUNNER_INPUT_TOKEN=$reg "$kit/config.sh" --url "$url" --name lane-kit --labels lanekeeper-managed,gpu \
        --work _work --unattended 2>&1); rc=$?
[ $rc -eq 0 ] && grep -q 'Settings Saved' <<<"$out" && ok || bad "config.sh: $rc $out"
grep -qF "$reg" <<<"$out" && bad "config.sh printed the token" || ok
[ "$(head -c 3 "$kit/.runner" | od -An -tx1 | tr -d ' ')" = efbbbf ] && ok || bad ".runner has no BOM"
tail -c +4 "$kit/.runner" | "$py" -c 'import json,sys; d=json.load(sys.stdin); assert d["agentName"] == "lane-kit" and d["agentId"] > 0 and d["workFolder"] == "_work"' &&
        ok || bad ".runner content"
[ "$(stat -c %a "$kit/.credentials")" = 600 ] && ok || bad ".credentials mode $(stat -c %a "$kit/.credentials")"
labels=$(api GET "/repos/acme/site/actions/runners?name=lane-kit" | "$py" -c 'import json,sys; print(",".join(l["name"] for l in json.load(sys.stdin)["runners"][0]["labels"]))')
[ "$labels" = "self-hosted,Linux,X64,lanekeeper-managed,gpu" ] && ok || bad "labels: $labels"
[ "$(status lane-kit)" = offline ] && ok || bad "registered but not running: $(status lane-kit)"
out=$(ACTIONS_RUNNER_INPUT_TOKEN=$reg "$kit/config.sh" --url "$url" --name lane-kit --unattended 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q 'already configured' <<<"$out" && ok || bad "configure twice: $rc $out"
out=$("$kit/config.sh" --url "$url" --frobnicate 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q 'Unrecognized' <<<"$out" && ok || bad "unknown flag: $rc $out"

# ---- run: online while it heartbeats; a second listener is a conflict ----
"$kit/run.sh" >"$w/run.log" 2>&1 & runpid=$!; pids+=($runpid)
wait_status lane-kit online && ok || bad "run.sh did not bring the runner online"
# as actions/runner: the session is created before "Listening for Jobs", so
# GitHub shows the runner online when the line is there; every console line
# is traced in _diag/Runner_*.log ("WRITE LINE: ...")
for _ in $(seq 50); do grep -q 'Listening for Jobs' "$w/run.log" && break; sleep 0.1; done
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}Z: Listening for Jobs$' "$w/run.log" && ok || bad "no 'DATE: Listening for Jobs': $(cat "$w/run.log")"
[ "$(status lane-kit)" = online ] && ok || bad "said it listens while GitHub shows it $(status lane-kit)"
logs=$(grep -l 'INFO Terminal\] WRITE LINE: .*Listening for Jobs' "$kit"/_diag/Runner_*-utc.log 2>/dev/null | wc -l)
[ "$logs" -eq 1 ] && ok || bad "_diag: $logs Runner_*-utc.log with the listening line: $(ls -l "$kit/_diag" 2>&1)"
grep -qF "$reg" "$kit"/_diag/* && bad "the token is in _diag" || ok
out=$("$kit/bin/Runner.Listener" run 2>&1); rc=$?
[ $rc -eq 5 ] && ok || bad "a second listener: exit $rc, wanted 5: $out"
kill -TERM $runpid; wait $runpid; rc=$?
[ $rc -eq 0 ] && ok || bad "run.sh on SIGTERM: exit $rc"
wait_status lane-kit offline && ok || bad "stopped, but still online"

# ---- the registration deleted on the server: the listener exits 1, forgets it ----
"$kit/bin/Runner.Listener" run >"$w/l.log" 2>&1 & lpid=$!; pids+=($lpid)
wait_status lane-kit online || bad "the listener did not come online"
id=$(api GET "/repos/acme/site/actions/runners?name=lane-kit" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["runners"][0]["id"])')
api DELETE "/repos/acme/site/actions/runners/$id" >/dev/null
wait $lpid; rc=$?
[ $rc -eq 1 ] && grep -q 'deleted from the server' "$w/l.log" && ok || bad "registration deleted: exit $rc $(cat "$w/l.log")"
[ ! -e "$kit/.runner" ] && [ ! -e "$kit/.credentials" ] && ok || bad "the local configuration was not removed"
out=$("$kit/run.sh" 2>&1); rc=$?
[ $rc -eq 0 ] && grep -q 'not configured' <<<"$out" && ok || bad "run.sh turns the listener's 1 into 0: $rc"

# ---- config.sh remove with a remove token ----
ACTIONS_RUNNER_INPUT_TOKEN=$(token registration-token) "$kit/config.sh" --url "$url" --name lane-kit2 --unattended >/dev/null 2>&1 ||
        bad "configure lane-kit2"
out=$("$kit/config.sh" remove --token bogus 2>&1); rc=$?
[ $rc -eq 1 ] && [ -e "$kit/.runner" ] && ok || bad "remove with a bad token: $rc $out"
out=$(ACTIONS_RUNNER_INPUT_TOKEN=$(token remove-token) "$kit/config.sh" remove 2>&1); rc=$?
[ $rc -eq 0 ] && [ ! -e "$kit/.runner" ] && [ "$(status lane-kit2)" = absent ] && ok || bad "remove: $rc $out"

# ---- jobs: the listener claims them, bin/Runner.Worker runs their steps ----
ACTIONS_RUNNER_INPUT_TOKEN=$(token registration-token) "$kit/config.sh" --url "$url" --name lane-jobs --labels gpu --unattended >/dev/null 2>&1 ||
        bad "configure lane-jobs"
"$kit/run.sh" >"$w/jobs.log" 2>&1 & runpid=$!; pids+=($runpid)
wait_status lane-jobs online || bad "lane-jobs did not come online"

ancestry='p=$$; while [ "$p" -gt 1 ]; do tr "\0" " " </proc/$p/cmdline; echo; p=$(awk "/^PPid:/ { print \$2 }" /proc/$p/status); done > ancestry'
r=$(newrun "$("$py" -c 'import json,sys; print(json.dumps({"repo":"acme/site","jobs":[{"name":"build","runs_on":["self-hosted","GPU"],
        "steps":[{"name":"hello","run":"echo hello from $GITHUB_REPOSITORY\n"+sys.argv[1]},{"name":"after","run":"echo after"}]}]}))' "$ancestry")")
wait_job "$r" completed && ok || bad "the job was not run: $(job "$r" status)"
[ "$(job "$r" conclusion)" = success ] && ok || bad "conclusion $(job "$r" conclusion)"
[ "$(steps "$r")" = "Set_up_job=success hello=success after=success Complete_job=success" ] && ok || bad "steps: $(steps "$r")"
[ "$(job "$r" runner_name)" = lane-jobs ] && ok || bad "runner_name $(job "$r" runner_name)"
joblog "$r" | grep -q 'hello from acme/site' && ok || bad "the job log lacks the step's output: $(joblog "$r" | head -5)"
ws=$kit/_work/site/site
# the step ran under the worker, which is the listener's child, which is run.sh's
sed -n '2,4p' "$ws/ancestry" | tr '\n' '|' | grep -Eq 'Runner\.Worker spawnclient *\|.*Runner\.Listener run *\|.*run\.sh' && ok ||
        bad "ancestry: $(cat "$ws/ancestry" 2>&1)"

r=$(newrun '{"repo":"acme/site","jobs":[{"name":"fails","runs_on":["gpu"],"steps":[{"run":"echo before; exit 3"},{"run":"echo never-printed"}]}]}')
wait_job "$r" completed || bad "the failing job did not complete"
[ "$(job "$r" conclusion)" = failure ] && [ "$(steps "$r")" = "Set_up_job=success Run_echo_before;_exit_3=failure Run_echo_never-printed=skipped Complete_job=success" ] &&
        ok || bad "a failing step: $(job "$r" conclusion) $(steps "$r")"
joblog "$r" | grep -q '##\[error\]Process completed with exit code 3\.' && ok || bad "no exit code in the log"
joblog "$r" | grep -v '##\[group\]\|^[^ ]* echo never-printed$' | grep -q 'never-printed$' && bad "a step after a failure ran" || ok

r=$(newrun '{"repo":"acme/site","jobs":[{"name":"riscv","runs_on":["self-hosted","riscv"]}]}')
sleep 1
[ "$(job "$r" status)" = queued ] && ok || bad "a job with labels no runner has: $(job "$r" status)"
api POST "/repos/acme/site/actions/runs/$r/cancel" >/dev/null

# cancel: the step's process group is stopped, the listener takes the next job
r=$(newrun '{"repo":"acme/site","jobs":[{"name":"long","runs_on":["gpu"],"steps":[{"run":"exec -a kit-sleep-cancel sleep 300"}]}]}')
# MARKER's process is gone (a loaded host may take a moment to reap it; 3 s at most)
gone() { for _ in $(seq 30); do pgrep -f "$1" >/dev/null || return 0; sleep 0.1; done; return 1; }
for _ in $(seq 100); do pgrep -f kit-sleep-cancel >/dev/null && break; sleep 0.05; done
pgrep -f kit-sleep-cancel >/dev/null && ok || bad "the long step never started"
api POST "/repos/acme/site/actions/runs/$r/cancel" >/dev/null
wait_job "$r" completed || bad "a cancelled job did not complete"
gone kit-sleep-cancel && ok || bad "cancel did not kill the step: $(pgrep -af kit-sleep-cancel)"
[ "$(job "$r" conclusion)" = cancelled ] && [ "$(steps "$r")" = "Set_up_job=success Run_exec_-a_kit-sleep-cancel_sleep_300=cancelled Complete_job=success" ] &&
        ok || bad "cancelled: $(job "$r" conclusion) $(steps "$r")"
joblog "$r" | grep -q '##\[error\]The operation was canceled\.' && ok || bad "no cancellation in the log"

# timeout-minutes: 0.05 (3 s)
r=$(newrun '{"repo":"acme/site","jobs":[{"name":"slow","runs_on":["gpu"],"timeout_minutes":0.05,"steps":[{"run":"exec -a kit-sleep-timeout sleep 300"}]}]}')
wait_job "$r" completed || bad "a timed-out job did not complete"
[ "$(job "$r" conclusion)" = cancelled ] && ok || bad "timeout: $(job "$r" conclusion)"
joblog "$r" | grep -q "has exceeded the maximum execution time of 0.05 minutes" && ok || bad "no timeout annotation"
gone kit-sleep-timeout && ok || bad "the timed-out step is still running: $(pgrep -af kit-sleep-timeout)"

# actions: downloaded once into _work/_actions, then used as they are
ctl action '{"repo":"acme/hello","ref":"v1","files":{"action.yml":"name: hello\nruns:\n  using: composite\n  steps:\n    - run: echo action says hi\n      shell: bash\n"}}' >/dev/null
r=$(newrun '{"repo":"acme/site","jobs":[{"name":"act","runs_on":["gpu"],"steps":[{"uses":"acme/hello@v1"}]}]}')
wait_job "$r" completed || bad "the action job did not complete"
[ "$(job "$r" conclusion)" = success ] && joblog "$r" | grep -q 'action says hi' && ok || bad "action: $(job "$r" conclusion)"
[ -f "$kit/_work/_actions/acme/hello/v1/action.yml" ] && [ -e "$kit/_work/_actions/acme/hello/v1.completed" ] && ok ||
        bad "the action is not in _work/_actions"
rm "$kit/_work/_actions/acme/hello/v1/action.yml"
r=$(newrun '{"repo":"acme/site","jobs":[{"name":"act","runs_on":["gpu"],"steps":[{"uses":"acme/hello@v1"}]}]}')
wait_job "$r" completed || bad "the damaged action job did not complete"
[ "$(job "$r" conclusion)" = failure ] && [ "$(steps "$r")" = "Set_up_job=failure Run_acme/hello@v1=skipped Complete_job=skipped" ] &&
        ok || bad "damaged action: $(job "$r" conclusion) $(steps "$r")"
joblog "$r" | grep -qF "Can't find 'action.yml', 'action.yaml' or 'Dockerfile' under '$(realpath "$kit")/_work/_actions/acme/hello/v1'" &&
        ok || bad "the damaged action's message: $(joblog "$r" | grep error)"

# traffic (tests/github/traffic.py): 12 runs at 20/s over two runners of the same labels
kit2=$w/runner2
"$TESTS_SRCDIR/runner-kit/install" "$kit2"
ACTIONS_RUNNER_INPUT_TOKEN=$(token registration-token) "$kit2/config.sh" --url "$url" --name lane-jobs-2 --labels gpu --unattended >/dev/null 2>&1 ||
        bad "configure lane-jobs-2"
"$kit2/run.sh" >"$w/jobs2.log" 2>&1 & run2=$!; pids+=($run2)
wait_status lane-jobs-2 online || bad "lane-jobs-2 did not come online"
rep=$("$py" -B "$TESTS_SRCDIR/github/traffic.py" --api "http://127.0.0.1:$port" --token "$pat" --repo acme/site --runs 12 --rate 20 \
        --labels gpu --step 'sleep 0.3' --wait 60 --json); rc=$?
[ $rc -eq 0 ] && ok || bad "traffic did not complete: $rep"
"$py" -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["conclusions"] == {"success": 12} and r["still_queued"] == 0, r' "$rep" &&
        ok || bad "traffic: $rep"
"$py" -c 'import json,sys; r=json.loads(sys.argv[1]); assert sorted(r["by_runner"]) == ["lane-jobs", "lane-jobs-2"], r' "$rep" &&
        ok || bad "both runners should have taken jobs: $rep"
kill -TERM $run2; wait $run2

# SIGTERM while a job runs: the listener cancels it (as actions/runner does) and exits 0
r=$(newrun '{"repo":"acme/site","jobs":[{"name":"stopped","runs_on":["gpu"],"steps":[{"run":"exec -a kit-sleep-term sleep 300"}]}]}')
for _ in $(seq 100); do pgrep -f kit-sleep-term >/dev/null && break; sleep 0.05; done
kill -TERM $runpid; wait $runpid; rc=$?
[ $rc -eq 0 ] && ok || bad "run.sh on SIGTERM while busy: exit $rc"
gone kit-sleep-term && ok || bad "the job's step outlived the runner: $(pgrep -af kit-sleep-term)"
[ "$(job "$r" conclusion)" = cancelled ] && joblog "$r" | grep -q 'The runner has received a shutdown signal' && ok ||
        bad "stopped while busy: $(job "$r" conclusion)"

# ---- a JIT runner: one job, then gone ----
jit=$(api POST /repos/acme/site/actions/runners/generate-jitconfig '{"name":"jit-kit","runner_group_id":1,"labels":["self-hosted","eph"]}')
enc=$("$py" -c 'import json,sys; print(json.load(sys.stdin)["encoded_jit_config"])' <<<"$jit")
r1=$(newrun '{"repo":"acme/site","jobs":[{"name":"one","runs_on":["eph"],"steps":[{"run":"touch jit-ran"}]}]}')
r2=$(newrun '{"repo":"acme/site","jobs":[{"name":"two","runs_on":["eph"]}]}')
ACTIONS_RUNNER_INPUT_JITCONFIG=$enc "$kit/run.sh" >"$w/jit.log" 2>&1 & jpid=$!; pids+=($jpid)
wait $jpid; rc=$?
[ $rc -eq 0 ] && grep -q 'ephemeral runner is done' "$w/jit.log" && ok || bad "JIT runner after its job: $rc $(cat "$w/jit.log")"
[ "$(job "$r1" conclusion)" = success ] && [ -e "$ws/jit-ran" ] && ok || bad "the JIT runner's job: $(job "$r1" conclusion)"
[ "$(job "$r2" status)" = queued ] && ok || bad "an ephemeral runner took a second job"
[ "$(status jit-kit)" = absent ] && ok || bad "the JIT runner is still registered"

# ---- no secret the double issued is in any output or job log ----
issued=$(curl -s "http://127.0.0.1:$port/_double/issued" | "$py" -c 'import json,sys; print("\n".join(json.load(sys.stdin)["tokens"]))')
[ "$(wc -l <<<"$issued")" -gt 5 ] && ok || bad "the double reports too few issued secrets"
all=$(cat "$w"/*.log; for run in $(api GET "/repos/acme/site/actions/runs?per_page=100" | "$py" -c 'import json,sys; print(" ".join(str(r["id"]) for r in json.load(sys.stdin)["workflow_runs"]))'); do joblog "$run"; done)
leaks=0
while read -r t; do [ -n "$t" ] && grep -qF -- "$t" <<<"$all" && leaks=$((leaks + 1)); done <<<"$issued"
[ $leaks -eq 0 ] && ok || bad "$leaks issued secrets appear in output or job logs"

echo "test-runner-kit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
