#!/bin/bash
# The runner kit (tests/runner-kit) against the GitHub double: config.sh
# with actions/runner's flags and ACTIONS_RUNNER_INPUT_* inputs, .runner
# with the .NET BOM, credentials closed to others, status that follows the
# listener's heartbeats, the listener's exit codes (registration deleted:
# 1, session conflict: 5), config.sh remove, run.sh --jitconfig, and the
# root refusal. Needs the double's Python modules (CI=true: a failure).
set -u
py=/usr/bin/python3
if ! "$py" -c 'import jsonschema, jwt, cryptography' 2>/dev/null; then
        [ "${CI:-}" = true ] && { echo "python3-jsonschema/jwt/cryptography missing (CI=true: failure)"; exit 1; }
        echo "SKIP: needs python3-jsonschema python3-jwt python3-cryptography"; exit 77
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
api() { curl -s -X "$1" -H "Authorization: Bearer $pat" -H "User-Agent: kit-test" "http://127.0.0.1:$port$2" ${3:+-d "$3"}; }
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

# ---- a JIT runner: one job, then gone ----
jit=$(api POST /repos/acme/site/actions/runners/generate-jitconfig '{"name":"jit-kit","runner_group_id":1,"labels":["self-hosted","lanekeeper-managed"]}')
enc=$("$py" -c 'import json,sys; print(json.load(sys.stdin)["encoded_jit_config"])' <<<"$jit")
jid=$("$py" -c 'import json,sys; print(json.load(sys.stdin)["runner"]["id"])' <<<"$jit")
ACTIONS_RUNNER_INPUT_JITCONFIG=$enc "$kit/run.sh" >"$w/jit.log" 2>&1 & jpid=$!; pids+=($jpid)
wait_status jit-kit online && ok || bad "the JIT runner did not come online"
run=$(curl -s -X POST "http://127.0.0.1:$port/_double/run" -d '{"repo":"acme/site"}' | "$py" -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
curl -s -X POST "http://127.0.0.1:$port/_double/assign" -d "{\"job\":$((run + 1)),\"runner\":$jid}" >/dev/null
sleep 0.5
curl -s -X POST "http://127.0.0.1:$port/_double/complete" -d "{\"job\":$((run + 1))}" >/dev/null
wait $jpid; rc=$?
[ $rc -eq 0 ] && grep -q 'ephemeral runner is done' "$w/jit.log" && ok || bad "JIT runner after its job: $rc $(cat "$w/jit.log")"
[ "$(status jit-kit)" = absent ] && ok || bad "the JIT runner is still registered"

echo "test-runner-kit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
