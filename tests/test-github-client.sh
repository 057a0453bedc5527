#!/bin/bash
# The GitHub client (lanectl github ...) against the loopback double, with
# a token file and as a GitHub App: pagination, ETags, each fault class,
# rate limits, token expiry, clock skew, and that no token ever reaches
# what the commands print or leave behind. Needs python3-jwt and
# python3-cryptography for the double (skipped without; CI=true: failure).
set -u
py=/usr/bin/python3
if ! "$py" -c 'import jsonschema, jwt, cryptography' 2>/dev/null || ! command -v openssl >/dev/null ||
        ! command -v curl >/dev/null; then
        [ "${CI:-}" = true ] && { echo "python3-jsonschema/jwt/cryptography, openssl or curl missing (CI=true: failure)"; exit 1; }
        echo "SKIP: needs python3-jsonschema python3-jwt python3-cryptography openssl curl"; exit 77
fi
: "${LANECTL:?}"
passed=0 failed=0
ok()  { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
w=$(mktemp -d /tmp/lanekeeper-gh-client.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$w"; }
trap cleanup EXIT
all="$w/all-output"   # everything the commands printed: searched for tokens at the end

# A personal access token made here, an App key made here.
pat="ghp_$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 36)"
printf '%s\n' "$pat" >"$w/token"; chmod 600 "$w/token"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$w/app.pem" 2>/dev/null; chmod 600 "$w/app.pem"
openssl pkey -in "$w/app.pem" -pubout -out "$w/app.pub" 2>/dev/null

double() { # NAME [ARGS...]: start a double, set $port
        local name=$1; shift
        "$py" -B "$TESTS_SRCDIR/github/ghdouble.py" --port-file "$w/$name.port" --token "$pat" --repo acme/site \
                --org acme --app-id 4242 --app-public-key "$w/app.pub" --installation-id 777 "$@" &
        pids+=($!)
        for _ in $(seq 100); do [ -s "$w/$name.port" ] && break; sleep 0.05; done
        port=$(cat "$w/$name.port")
}
ctl() { curl -sf -X POST "http://127.0.0.1:$port/_double/$1" -d "$2"; }
runner_proto() { curl -sf -X POST "http://127.0.0.1:$port/_runner/$1" -d "$2"; }   # what a runner says
conf() { # NAME MODE [TIMEOUT]
        if [ "$2" = app ]; then
                printf '[github]\napi_url = http://127.0.0.1:%s\napp_id = 4242\ninstallation_id = 777\nprivate_key_file = %s/app.pem\ntimeout_s = %s\n[store]\ndir = %s/store-%s\n' \
                        "$port" "$w" "${3:-20}" "$w" "$1" >"$w/$1.conf"
        else
                printf '[github]\napi_url = http://127.0.0.1:%s\ntoken_file = %s/token\ntimeout_s = %s\n[store]\ndir = %s/store-%s\n' \
                        "$port" "$w" "${3:-20}" "$w" "$1" >"$w/$1.conf"
        fi
}
gh() { # CONF ARGS...: run lanectl github, keep all it printed; sets out, err, rc
        local c=$1; shift
        out=$("$LANECTL" --config "$w/$c.conf" github "$@" --stats 2>"$w/err"); rc=$?
        err=$(cat "$w/err")
        printf '%s\n%s\n' "$out" "$err" >>"$all"
}
expect() { # WHAT WANT-RC
        if [ "$rc" -eq "$2" ]; then ok; else bad "$1: exit $rc, wanted $2: $err"; fi
}
stat_of() { sed -n "s/.*github: \([0-9]*\) requests, \([0-9]*\) not modified, \([0-9]*\) retries, \([0-9]*\) rate-limit units, \([0-9]*\) installation tokens.*/\\$1/p" <<<"$err"; }

double main
conf pat token
conf app app
conf short token 4

# ---- runners, pagination, name filter ----
gh pat runners --repo acme/site; expect "no runners" 0
[ "$(wc -l <<<"$out")" -eq 1 ] && ok || bad "an empty list prints only the header: $out"
reg=$(curl -sf -X POST -H "Authorization: Bearer $pat" -H "User-Agent: t" "http://127.0.0.1:$port/repos/acme/site/actions/runners/registration-token" |
        "$py" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
for i in $(seq 1 230); do runner_proto register "{\"token\":\"$reg\",\"name\":\"lane-$i\",\"labels\":[\"lanekeeper-managed\"]}" >/dev/null; done
gh pat runners --repo acme/site --output json; expect "230 runners" 0
n=$("$py" -c 'import json,sys; d=json.load(sys.stdin); print(len(d["runners"]), len({r["id"] for r in d["runners"]}))' <<<"$out")
[ "$n" = "230 230" ] && ok || bad "pagination gave '$n' runners, wanted 230 distinct"
[ "$(stat_of 1)" = 3 ] && ok || bad "230 runners should take 3 requests: $err"
gh pat runners --repo acme/site --name LANE-7; expect "name filter" 0
grep -qE '^[0-9]+ +lane-7 +offline +no +self-hosted,Linux,X64,lanekeeper-managed$' <<<"$out" && [ "$(wc -l <<<"$out")" -eq 2 ] &&
        ok || bad "--name lane-7: $out"

# ---- ETags: unchanged pages cost nothing ----
gh pat runners --repo acme/site
[ "$(stat_of 2)" = 3 ] && [ "$(stat_of 4)" = 0 ] && ok || bad "a repeated listing should be 3 x 304, 0 units: $err"
id=$("$py" -c 'import json,sys; print(json.load(sys.stdin)["runners"][0]["id"])' < <("$LANECTL" --config "$w/pat.conf" github runners --repo acme/site --name lane-1 --output json))
runner_proto heartbeat "{\"id\":$id,\"credential\":\"x\",\"session\":\"s\"}" >/dev/null   # wrong credential: nothing changes
gh pat runners --repo acme/site --name lane-1
grep -q ' offline ' <<<"$out" && [ "$(stat_of 2)" = 1 ] && ok || bad "still unchanged: $out $err"

# ---- faults ----
ctl fault '{"kind":"status","status":502,"count":2}' >/dev/null
gh pat runners --repo acme/site --name lane-1; expect "two 502s, then an answer" 0
[ "$(stat_of 3)" = 2 ] && ok || bad "two retries expected: $err"
ctl fault '{"kind":"status","status":503,"count":50}' >/dev/null
start=$(date +%s)
gh short runners --repo acme/site; expect "503 until the deadline" 3
grep -q 'the wait would pass the deadline\|gave up' <<<"$err" && ok || bad "503s: $err"
[ $(( $(date +%s) - start )) -le 8 ] && ok || bad "the 4 s deadline was not kept"
ctl clear-faults '{}' >/dev/null
ctl fault '{"kind":"reset"}' >/dev/null
gh pat runners --repo acme/site --name lane-1; expect "a reset connection is retried" 0
ctl fault '{"kind":"malformed","count":3}' >/dev/null
gh pat runners --repo acme/site --name lane-1; expect "malformed JSON" 3
grep -q 'not valid JSON' <<<"$err" && ok || bad "malformed JSON: $err"
ctl clear-faults '{}' >/dev/null
ctl fault '{"kind":"secondary","retry_after":1}' >/dev/null
gh pat runners --repo acme/site --name lane-1; expect "secondary limit waited out" 0
[ "$(stat_of 3)" = 1 ] && ok || bad "one retry after a secondary limit: $err"
ctl fault '{"kind":"slow","seconds":1}' >/dev/null
gh pat runners --repo acme/site --name lane-1; expect "a slow answer" 0
printf 'ghp_not_the_token\n' >"$w/token2"; chmod 600 "$w/token2"
sed "s|$w/token|$w/token2|" "$w/pat.conf" >"$w/bad.conf"
gh bad runners --repo acme/site; expect "bad credentials" 1
grep -q '401 Bad credentials' <<<"$err" && ok || bad "401: $err"
gh pat runners --repo acme/other; expect "unknown repository" 1
grep -q '404' <<<"$err" && ok || bad "404: $err"
chmod 644 "$w/token"
gh pat runners --repo acme/site; expect "a token file others may read" 3
grep -q 'chmod 600' <<<"$err" && ok || bad "token file mode: $err"
chmod 600 "$w/token"
gh pat runners --repo 'acme/../x'; expect "a bad repository name" 2
gh pat runners --repo acme/site --name 'a&b=c'; expect "a bad runner name" 2

# ---- a GitHub App ----
gh app runners --repo acme/site --name lane-2; expect "App: runners" 0
[ "$(stat_of 5)" = 1 ] && ok || bad "one installation token: $err"
ctl fault '{"kind":"expire-token","match":"runners"}' >/dev/null
gh app runners --repo acme/site --name lane-2; expect "App: a token made anew" 0
ctl clock '{"offset":-300}' >/dev/null   # GitHub's clock 5 minutes behind ours
gh app runners --repo acme/site --name lane-2; expect "App: JWT signed again for GitHub's clock" 0
ctl clock '{"offset":0}' >/dev/null
chmod 640 "$w/app.pem"
gh app runners --repo acme/site; expect "App key open to the group" 3
grep -q 'mode 0640' <<<"$err" && ok || bad "key mode: $err"
chmod 600 "$w/app.pem"
gh app runners --repo acme/site --debug; expect "App with debug output" 0
grep -q '^> GET /repos/acme/site/actions/runners' <<<"$err" && ok || bad "debug shows the request line: $err"
grep -qiE '^authorization: (\[REDACTED\]|\*+)$' <<<"$err" && ok || bad "the Authorization header is masked in debug output"

# ---- jobs and rate limits ----
run=$(ctl run '{"repo":"acme/site","jobs":[["build",["self-hosted","lanekeeper-managed"]]]}')
gh pat jobs --repo acme/site --status queued; expect "queued jobs" 0
grep -qE '^[0-9]+ +[0-9]+ +queued +- +[0-9]+s\+ +self-hosted,lanekeeper-managed$' <<<"$out" && ok || bad "jobs: $out"
gh pat jobs --repo acme/site --status bogus; expect "unknown status" 2
# Bounded: without --status the queued and in-progress runs only, at most
# --limit (default 20) of each, newest first; never the whole history.
for i in $(seq 1 30); do ctl run '{"repo":"acme/site","jobs":[["t'"$i"'",["self-hosted","no-such-label"]]]}' >/dev/null; done
gh pat jobs --repo acme/site; expect "jobs, default bound" 0
[ "$(stat_of 1)" = 22 ] && ok || bad "31 queued runs: 2 listings + 20 job requests, got $(stat_of 1): $err"
[ "$(grep -c ' queued ' <<<"$out")" = 20 ] && ok || bad "the 20 newest queued runs' jobs: $out"
gh pat jobs --repo acme/site --output json; expect "jobs, JSON" 0
names=$("$py" -c 'import json,sys; print(" ".join(sorted(j["name"] for j in json.load(sys.stdin)["jobs"])))' <<<"$out")
grep -qw t30 <<<"$names" && ! grep -qw t10 <<<"$names" && ok || bad "the newest runs first (t30 in, t10 out): $names"
gh pat jobs --repo acme/site --limit 5; expect "jobs --limit 5" 0
[ "$(stat_of 1)" = 7 ] && [ "$(grep -c ' queued ' <<<"$out")" = 5 ] && ok || bad "--limit 5: $(stat_of 1) requests: $out"
gh pat jobs --repo acme/site --limit 0; expect "--limit 0" 2
gh pat rate-limit --output json; expect "rate limit" 0
"$py" -c 'import json,sys; d=json.load(sys.stdin); assert d["resources"]["core"]["limit"] == 5000' <<<"$out" && ok || bad "rate-limit JSON: $out"
double small --rate-limit 2
conf small token 5
gh small runners --repo acme/site; gh small jobs --repo acme/site; gh small runners --repo acme/site --name y
expect "primary limit exhausted: reset an hour away" 3
grep -q 'the wait would pass the deadline' <<<"$err" && ok || bad "primary limit: $err"
grep -qE 'the primary rate limit \(core\) resets at [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z, in [0-9]+ min [0-9]+ s' <<<"$err" &&
        ok || bad "primary limit: the error says when it resets: $err"

# ---- lanectl plan reads GitHub through the client, once per repository ----
port=$(cat "$w/main.port")
# Names GitHub accepts and lanekeeper would never choose (GitHub's own
# examples) are data: listed, and they blind the plan to no other runner.
for n in "my runner" "runner-2@ip-10-1-2-3.us-west-2.compute.internal"; do
        runner_proto register "{\"token\":\"$reg\",\"name\":\"$n\",\"labels\":[]}" >/dev/null || bad "the double holds a runner named '$n'"
done
gh pat runners --repo acme/site --output json; expect "runners with the names GitHub gave them" 0
"$py" -c 'import json,sys; n={r["name"] for r in json.load(sys.stdin)["runners"]}; assert {"my runner", "runner-2@ip-10-1-2-3.us-west-2.compute.internal"} <= n, n' <<<"$out" &&
        ok || bad "foreign runner names listed: $out"
mkdir -p "$w/lanes.d" "$w/runners"
printf '[helper]\nmaintainers = root\nhost = %s\n[lanes]\nusers = %s\nroots = %s/runners\nrepositories = acme/site\n' \
        "$(hostname)" "$(id -un)" "$w" >"$w/policy.conf"; chmod 644 "$w/policy.conf"
for l in lane-3 lane-new; do
        printf '[lane]\nname = %s\nrepository = acme/site\nhost = %s\nroot = %s/runners\nuser = %s\nlabels = self-hosted, lanekeeper-managed\nmanaged = true\n' \
                "$l" "$(hostname)" "$w" "$(id -un)" >"$w/lanes.d/$l.conf"
done
for c in pat short; do
        printf '[lanes]\ndir = %s/lanes.d\n[helper]\npolicy = %s/policy.conf\n' "$w" "$w" >>"$w/$c.conf"
done
before=$(curl -sf "http://127.0.0.1:$port/_double/log" | "$py" -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin)["log"] if "/actions/runners" in e[1]))')
out=$("$LANECTL" --config "$w/pat.conf" plan --output json 2>"$w/err"); rc=$?
printf '%s\n' "$out" "$(cat "$w/err")" >>"$all"
[ $rc -le 1 ] && ok || bad "plan through the client: exit $rc $(cat "$w/err")"
"$py" - "$out" <<'PY' && ok || bad "plan through the client: $out"
import json, sys
lanes = {l["lane"]: l for l in json.loads(sys.argv[1])["lanes"]}
g = lanes["lane-3"]["observed"]["github"]
assert g["known"] and [r["name"] for r in g["runners"]] == ["lane-3"], g
assert lanes["lane-new"]["observed"]["github"] == {"known": True, "runners": []}, lanes["lane-new"]["observed"]["github"]
checks = {c["name"]: c for c in lanes["lane-3"]["observed"]["baseline"]["checks"]}
assert checks["clock_offset"]["state"] == "ready", checks["clock_offset"]
PY
after=$(curl -sf "http://127.0.0.1:$port/_double/log" | "$py" -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin)["log"] if "/actions/runners" in e[1]))')
[ $((after - before)) -eq 3 ] && ok || bad "two lanes of one repository: $((after - before)) runner requests, wanted 3 (one listing)"
ctl clock '{"offset":120}' >/dev/null
out=$("$LANECTL" --config "$w/pat.conf" plan --output json lane-3 2>>"$all")
"$py" -c 'import json,sys; c={c["name"]: c for c in json.loads(sys.argv[1])["lanes"][0]["observed"]["baseline"]["checks"]}["clock_offset"]; assert c["state"] == "not_ready" and "120s behind" in c["detail"], c' "$out" &&
        ok || bad "a clock 120 s behind GitHub's: $out"
ctl clock '{"offset":0}' >/dev/null
ctl fault '{"kind":"status","status":503,"count":100}' >/dev/null
out=$("$LANECTL" --config "$w/short.conf" plan lane-3 2>>"$all"); rc=$?
[ $rc -eq 1 ] && grep -q 'lane_status_unknown: GitHub: GET .*503' <<<"$out" && ok || bad "plan with GitHub failing: $rc $out"
ctl clear-faults '{}' >/dev/null
printf '%s\n' "$out" >>"$all"

# ---- a token of 10,000 characters, with dots, works like any other ----
long="ghs_$(head -c 9000 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c 9990 | sed 's/\(.\{100\}\)/\1./g' | head -c 9996)"
double long --token "$long"
printf '%s\n' "$long" >"$w/long-token"; chmod 600 "$w/long-token"
printf '[github]\napi_url = http://127.0.0.1:%s\ntoken_file = %s/long-token\n[store]\ndir = %s/store-long\n' "$port" "$w" "$w" >"$w/long.conf"
gh long runners --repo acme/site; expect "a 10,000-character token" 0
grep -qF "${long:4:40}" "$all" && bad "the long token reached the output" || ok

# ---- nothing the double sent broke the description; no token anywhere ----
v=$(curl -sf "http://127.0.0.1:$(cat "$w/main.port")/_double/violations")
[ "$v" = '{"violations": []}' ] && ok || bad "the double's violations: $v"
grep -qF "$pat" "$all" && bad "the token reached the output" || ok
grep -qE 'ghs_[A-Za-z0-9]{16}' "$all" && bad "an installation token reached the output" || ok
grep -rqF "$pat" "$w"/store-* && bad "the token reached the store" || ok
grep -rqE 'ghs_[A-Za-z0-9]{16}' "$w"/store-* && bad "an installation token reached the store" || ok
[ -n "$(ls "$w"/store-pat/github-cache 2>/dev/null)" ] && ok || bad "no ETag cache was written"
[ "$(stat -c %a "$w/store-pat/github-cache")" = 700 ] && ok || bad "the ETag cache is open to others"

echo "test-github-client: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
