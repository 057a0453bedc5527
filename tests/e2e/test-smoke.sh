#!/bin/bash
# End to end: lanectl smoke on a real systemd (PID 1 in private
# namespaces), the socket-activated helper, the GitHub double and the
# runner kit. Lane lane-a (made by lanectl apply) serves acme/site.
# - the printed workflow is a file the double reads as GitHub would
#   (its syntax, its inputs), committed in acme/site;
# - bad input changes nothing; a workflow that is not there fails, named;
# - the smoke passes on a healthy lane: the job ran on lane-a's runner (id
#   and name), concluded success, the marker with the nonce in its log;
#   audited with the run, commit, job, runner and timings;
# - it fails, naming the reason: when the job runs elsewhere (lane-a
#   drained, another runner with its labels takes it), when it fails (a
#   broken _work/_actions entry: the runner's own message), and when no
#   runner claims it within the deadline (the run then cancelled);
# - apply --smoke: bad input changes nothing; proven, kept in the completed
#   record; not proven when the job fails (exit 5, the lane stays applied);
# - an organisation's lane (lane-org): apply --smoke-repo, and one smoke
#   in two repositories, each served by the same labels;
# - the negative cases (--negative): a label set nobody serves stays queued
#   with 0 matching runners and is cancelled; a drained lane's job waits and
#   runs after the undrain; a timeout ends timed out, the lane healthy after;
# - emergency controls: pause-repo (Actions off: a job stays queued, a
#   smoke refused) and resume-repo (back exactly as it was), cancel-active,
#   stop-claims (no new claim until undrain), revoke-all; dry runs change
#   nothing; each audited;
# - a leak scan. Needs root (exit 77 otherwise; CI=true: failure).
set -u
. "$TESTS_SRCDIR/e2e/harness.sh"

py=/usr/bin/python3
e2e_need_jobs
R=/srv/lanekeeper/runners
e2e_lane_users $R lane-a lane-other lane-org
host=$(hostname)

e2e_start_double --repo acme/site --repo acme/docs --org acme --heartbeat-timeout 12
pat=$E2E_PAT port=$E2E_PORT
. "$TESTS_SRCDIR/github/jobs-lib.sh"

d=$E2E_WORK/dest/usr/local
etc=/usr/local/etc/lanekeeper
policy=$etc/policy.conf
e2e_install_lanekeeper "$policy"
e2e_policy "$host" "$R"
echo "organisations = acme" >>"$d/etc/lanekeeper/policy.conf"
printf '[github]\napi_url = http://127.0.0.1:%s\ntoken_file = /srv/lanekeeper/token\ntimeout_s = 8\n[helper]\npolicy = %s\n[store]\ndir = /srv/lanekeeper/store\n[lanes]\ndir = %s/lanes.d\n[baseline]\nmin_free_mib = 1\ncommands = sh\n' \
        "$port" "$policy" "$etc" >"$d/etc/lanekeeper/lanekeeper.conf"
printf '[lane]\nname = lane-a\nrepository = acme/site\nhost = %s\nroot = %s\nuser = lkrunner\nlabels = self-hosted, X64, lanekeeper-managed\nmanaged = true\n' \
        "$host" "$R" >"$d/etc/lanekeeper/lanes.d/lane-a.conf"

e2e_boot || exit 1
e2e_store_and_lanes $R "$pat" lane-a lane-other lane-org
lanectl() { e2e_as lanekeeper /usr/local/bin/lanectl --config $etc/lanekeeper.conf "$@"; }
val() { "$py" -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }
records_of() { e2e_audit_records "x.get('command') == '$1'" "$2"; }   # COMMAND EXPR: over COMMAND's records
smoke_records() { records_of smoke "$1"; }
runs_now() { api GET "/repos/acme/site/actions/runs?per_page=1" | val 'd["total_count"]'; }

out=$(lanectl apply lane-a --confirm lane-a --idempotency-key smoke-1 --timeout 60 2>&1); rc=$?
check "apply created lane-a ($rc): $out" test "$rc" = 0
online() { api GET "/repos/acme/site/actions/runners?name=$1" | grep -q '"status": "online"'; }
for _ in $(seq 100); do online lane-a && break; sleep 0.2; done
check "lane-a's runner is online" online lane-a

# ---- the workflow: printed, read by the double as GitHub would, committed ----
wf=$(lanectl smoke --print-workflow); rc=$?
check "--print-workflow ($rc)" test "$rc" = 0
check "... workflow_dispatch only, contents: read, checkout without persisted credentials" \
        test "$(grep -c -e '^  workflow_dispatch:$' -e '^  contents: read$' -e 'persist-credentials: false' <<<"$wf")" = 3
check "... the nonce reaches the step through env, never pasted into its script" \
        test -z "$(sed -n '/run: |/,$p' <<<"$wf" | grep -F '${{')"
commit_workflow() { # REPO: the printed workflow committed in REPO
        local body
        body=$("$py" -c 'import json,sys; print(json.dumps({"repo": sys.argv[1], "path": ".github/workflows/lanekeeper-smoke.yml", "yaml": sys.stdin.read()}))' "$1" <<<"$wf")
        curl -s -X POST "http://127.0.0.1:$port/_double/workflow" -d "$body"
}
res=$(commit_workflow acme/site)
check "the double accepts the printed workflow as a workflow file: $res" grep -q workflow_id <<<"$res"
ctl action '{"repo":"actions/checkout","ref":"v4","files":{"action.yml":"name: checkout\nruns:\n  using: composite\n  steps:\n    - run: echo checked out\n      shell: bash\n"}}' >/dev/null

# ---- bad input changes nothing ----
n0=$(runs_now)
out=$(lanectl smoke 2>&1); rc=$?
check "no lane: usage ($rc)" test "$rc" = 2
out=$(lanectl smoke lane-a --pool web 2>&1); rc=$?
check "a lane and a pool: usage ($rc)" test "$rc" = 2
out=$(lanectl smoke nosuch 2>&1); rc=$?
check "an unknown lane: named ($rc): $out" grep -q "no valid lane file names lane 'nosuch'" <<<"$out"
out=$(lanectl smoke lane-a --repo acme/elsewhere 2>&1); rc=$?
check "a repository the lane does not serve ($rc): $out" grep -q "lane-a does not serve acme/elsewhere" <<<"$out"
out=$(lanectl smoke lane-a --deadline 1s 2>&1); rc=$?
check "a deadline under 10 s ($rc)" test "$rc" = 2
check "... no run was made" test "$(runs_now)" = "$n0"
out=$(lanectl smoke lane-a --workflow nope.yml 2>&1); rc=$?
check "a workflow that is not there fails, named ($rc): $out" grep -q "FAIL" <<<"$out"
check "... how to fix it" grep -q "no workflow nope.yml in acme/site (commit lanectl smoke --print-workflow" <<<"$out"

# ---- a healthy lane: PASS ----
out=$(lanectl smoke lane-a --output json); rc=$?
check "the smoke passes on lane-a ($rc): $(val '[(s["passed"], s["reason"]) for s in d["smokes"]]' <<<"$out" 2>&1)" test "$rc" = 0
id=$(api GET "/repos/acme/site/actions/runners?name=lane-a" | val 'd["runners"][0]["id"]')
check "... on lane-a's runner, id and name" test "$(val '(d["smokes"][0]["runner"], d["smokes"][0]["runner_id"])' <<<"$out")" = "('lane-a', $id)"
check "... success, the marker seen" test "$(val '(d["smokes"][0]["conclusion"], d["smokes"][0]["marker"])' <<<"$out")" = "('success', True)"
run=$(val 'd["smokes"][0]["run_id"]' <<<"$out")
check "... the run was dispatched by workflow_dispatch on main" \
        test "$(api GET /repos/acme/site/actions/runs/$run | val '(d["event"], d["head_branch"], d["display_title"].startswith("lanekeeper smoke "))')" = \
        "('workflow_dispatch', 'main', True)"
check "... the job's log holds the marker with the nonce" \
        grep -q "lanekeeper smoke passed [0-9a-f]\{16\} on lane-a" <(joblog "$run")
check "... its timings" test "$(val 'all(isinstance(d["smokes"][0][k], int) and d["smokes"][0][k] >= 0 for k in ("queue_wait_s", "setup_s", "duration_s"))' <<<"$out")" = True
check "audited: planned, then completed with the run, commit, job, runner and timings" \
        test "$(smoke_records '[(x["status"], x.get("run_id"), bool(x.get("html_url")), len(x.get("commit") or ""), x.get("runner"), "queue_wait_s" in x) for x in r][-2:]')" = \
        "[('planned', None, False, 0, None, False), ('completed', $run, True, 40, 'lane-a', True)]"
txt=$(lanectl smoke lane-a); rc=$?
check "text: a PASS line with the run and the runner ($rc): $txt" grep -q "^lane lane-a: acme/site: PASS  run [0-9]* .* on runner lane-a (id $id)" <<<"$txt"

# ---- apply --smoke: proven once the gates pass, kept in the completed record ----
n0=$(runs_now)
out=$(lanectl apply lane-a --smoke-repo acme/elsewhere --confirm lane-a --idempotency-key smoke-bad 2>&1); rc=$?
check "apply --smoke-repo a repository the lane does not serve: refused before anything ($rc): $out" \
        grep -q "lanectl apply: --smoke: lane-a does not serve acme/elsewhere" <<<"$out"
out=$(lanectl restart lane-a --smoke 2>&1); rc=$?
check "--smoke belongs to apply ($rc): $out" grep -q "belong to apply" <<<"$out"
out=$(lanectl apply lane-a --smoke --smoke-deadline 5s --confirm lane-a --idempotency-key smoke-bad 2>&1); rc=$?
check "a smoke deadline under 10 s: usage ($rc)" test "$rc" = 2
check "... no run was made, no apply recorded" test "$(runs_now):$(records_of apply 'len(r)')" = "$n0:1"
out=$(lanectl apply lane-a --smoke --confirm lane-a --idempotency-key smoke-2 --timeout 60 2>&1); rc=$?
check "apply --smoke on a healthy lane ($rc): $out" test "$rc" = 0
check "... the smoke line: its run, on lane-a's runner" grep -q "^  smoke  *ok  *[0-9]* ms  run [0-9]* in acme/site: job [0-9]* on runner lane-a (id $id)" <<<"$out"
check "... the completed record says proven, with the run and the runner" \
        test "$(records_of apply '[(x["status"], x.get("proven"), x.get("smoke", {}).get("runner"), x.get("smoke", {}).get("conclusion"), bool(x.get("smoke", {}).get("run_id"))) for x in r][-1]')" = \
        "('completed', True, 'lane-a', 'success', True)"

# ---- an organisation's lane: several repositories, each served by the same labels ----
printf '[lane]\nname = lane-org\norganisation = acme\nhost = %s\nroot = %s\nuser = lkrunner\nlabels = self-hosted, org-smoke, lanekeeper-managed\nmanaged = true\n' \
        "$host" "$R" >"$d/etc/lanekeeper/lanes.d/lane-org.conf"
check "the workflow committed in acme/docs too" grep -q workflow_id <<<"$(commit_workflow acme/docs)"
out=$(lanectl apply lane-org --smoke --confirm lane-org --idempotency-key smoke-org-0 2>&1); rc=$?
check "apply --smoke of an organisation's lane without --smoke-repo: refused before anything ($rc): $out" \
        grep -q "lane-org serves the organisation acme: name the repository with --smoke-repo" <<<"$out"
check "... nothing applied" test "$(api GET "/orgs/acme/actions/runners" | val 'd["total_count"]')" = 0
out=$(lanectl apply lane-org --smoke-repo acme/docs --confirm lane-org --idempotency-key smoke-org-1 --timeout 60 2>&1); rc=$?
check "apply lane-org --smoke-repo acme/docs: applied and proven ($rc): $out" grep -q "^  smoke  *ok .* in acme/docs: job [0-9]* on runner lane-org" <<<"$out"
out=$(lanectl smoke lane-org 2>&1); rc=$?
check "smoke of an organisation's lane names its repositories ($rc): $out" grep -q "lane-org serves the organisation acme: name the repositories (--repo)" <<<"$out"
out=$(lanectl smoke lane-org --repo acme/site --repo other/site 2>&1); rc=$?
check "... a repository outside the organisation refused ($rc): $out" grep -q "lane-org does not serve other/site" <<<"$out"
out=$(lanectl smoke lane-org --repo acme/site --repo acme/docs --output json); rc=$?
check "smoke lane-org in acme/site and acme/docs: both pass ($rc): $out" test "$rc" = 0
check "... each repository's job on lane-org's runner, success" \
        test "$(val '[(s["repository"], s["runner"], s["conclusion"], s["passed"]) for s in d["smokes"]]' <<<"$out")" = \
        "[('acme/site', 'lane-org', 'success', True), ('acme/docs', 'lane-org', 'success', True)]"
check "... two runs, one per repository" test "$(val 'len(set(s["run_id"] for s in d["smokes"]))' <<<"$out")" = 2
out=$(lanectl remove lane-org --apply --confirm lane-org --idempotency-key smoke-org-rm --timeout 60 2>&1); rc=$?
check "lane-org removed ($rc)" test "$rc" = 0
rm -f "$d/etc/lanekeeper/lanes.d/lane-org.conf"

# ---- the job runs elsewhere: FAIL ----
jit=$(api POST /repos/acme/site/actions/runners/generate-jitconfig '{"name":"lane-other","runner_group_id":1,"labels":["self-hosted","X64","lanekeeper-managed"]}')
val 'd["encoded_jit_config"]' <<<"$jit" | e2e_root sh -c "umask 077; cat > $R/lane-other/.jitconfig; chown lkrunner $R/lane-other/.jitconfig"
# the config goes through the environment, read from a file: never on an argv
e2e_root systemd-run -q --unit=lk-other -p User=lkrunner -p WorkingDirectory=$R/lane-other -p Environment=HOME=$R/lane-other \
        /bin/sh -c "ACTIONS_RUNNER_INPUT_JITCONFIG=\$(cat .jitconfig) exec ./run.sh"
for _ in $(seq 100); do online lane-other && break; sleep 0.2; done
check "another runner with lane-a's labels is online" online lane-other
out=$(lanectl drain lane-a --reason "test: the job must go elsewhere" 2>&1)
check "lane-a drained: $out" test "$?" = 0
out=$(lanectl smoke lane-a --deadline 60s 2>&1); rc=$?
check "the smoke fails when the job ran elsewhere ($rc): $out" test "$rc" = 1
check "... named: the runner it ran on" grep -q "the job ran on runner lane-other (id [0-9]*), not on lane lane-a's runner" <<<"$out"
check "... audited as failed with the reason" \
        test "$(smoke_records '[x["reason"][:32] for x in r if x["status"] == "failed"][-1:]')" = "['the job ran on runner lane-other']"

# ---- no runner claims it within the deadline: FAIL, the run cancelled ----
out=$(lanectl smoke lane-a --deadline 10s 2>&1); rc=$?
check "the smoke fails when no runner claims the job in 10 s ($rc): $out" grep -q "no runner claimed the job within 10 s" <<<"$out"
run=$(smoke_records '[x["run_id"] for x in r if x["status"] == "failed"][-1]')
check "... the run was cancelled" wait_job "$run" completed
check "... cancelled, never claimed" test "$(job "$run" conclusion):$(job "$run" runner_name)" = "cancelled:None"
out=$(lanectl undrain lane-a 2>&1)
check "lane-a undrained: $out" test "$?" = 0
for _ in $(seq 100); do online lane-a && break; sleep 0.2; done

# ---- the job fails (a broken _work/_actions entry): FAIL with the runner's message ----
a=$R/lane-a/_work/_actions/actions/checkout/v4
check "the checkout action is cached in lane-a's _actions" e2e_root test -f $a/action.yml
e2e_root rm $a/action.yml
out=$(lanectl smoke lane-a --deadline 60s 2>&1); rc=$?
check "the smoke fails when the job fails ($rc): $out" test "$rc" = 1
check "... named, with the runner's own message" grep -q "the job concluded failure: Can't find 'action.yml', 'action.yaml' or 'Dockerfile'" <<<"$out"
out=$(lanectl apply lane-a --smoke --smoke-deadline 60s --confirm lane-a --idempotency-key smoke-3 --timeout 60 2>&1); rc=$?
check "apply --smoke when the job fails: applied, not proven, exit 5 ($rc): $out" test "$rc" = 5
check "... said: applied, NOT PROVEN, the reason" grep -q "^  smoke  *FAILED .*applied, NOT PROVEN: the job concluded failure: Can't find" <<<"$out"
check "... the completed record says not proven, with the reason" \
        test "$(records_of apply '[(x["status"], x.get("proven"), ((x.get("smoke") or {}).get("reason") or "")[:25]) for x in r][-1]')" = \
        "('completed', False, 'the job concluded failure')"
check "... the lane stays applied: its unit active, its runner online" \
        test "$(e2e_root systemctl show -P ActiveState lanekeeper-lane@lane-a.service)" = active
check "... online" online lane-a
out=$(lanectl apply lane-a --smoke --confirm lane-a --idempotency-key smoke-3 2>&1); rc=$?
check "the same key again: the first result, exit 5, no second smoke ($rc): $out" test "$rc:$(records_of apply 'len([x for x in r if x["lane"] == "lane-a"])')" = "5:3"
e2e_root rm -rf $a $a.completed   # the entry and its marker, as the real runner keeps them
out=$(lanectl smoke lane-a --deadline 60s 2>&1); rc=$?
check "the damaged entry removed, the action is fetched again and the smoke passes ($rc): $out" test "$rc" = 0

# ---- the negative cases: each PASS with its evidence, the lane as it was after ----
lanectl smoke lane-a --negative >"$E2E_WORK/negative.out" 2>&1 &
neg=$!
nobody_set() { # while the unsupported-labels case waits: lanectl queue's set with the nobody label
        lanectl queue --output json 2>/dev/null | val '[(s["queued"], s["online_runners"], "waiting") for s in d["label_sets"] if any(l.startswith("lanekeeper-nobody-") for l in s["labels"])]'
}
for _ in $(seq 40); do q=$(nobody_set); [ "$q" != "[]" ] && break; sleep 0.5; done
check "lanectl queue shows the unsupported label set queued with 0 matching runners: $q" test "$q" = "[(1, 0, 'waiting')]"
qt=$(lanectl queue 2>&1)
check "... and says in text it waits for a runner with those labels" grep -q "waiting for a runner with labels: .*lanekeeper-nobody-" <<<"$qt"
wait $neg; rc=$?
out=$(cat "$E2E_WORK/negative.out")
check "smoke --negative ($rc): $out" test "$rc" = 0
check "... unsupported labels: queued, 0 runners match, cancelled" grep -q "^PASS: unsupported labels: job [0-9]* queued 15 s .*: 0 of [0-9]* runners of repos/acme/site match .*; cancelled$" <<<"$out"
check "... drained lane: the job waited, then lane-a claimed it and it succeeded" grep -q "^PASS: drained lane: job [0-9]* waited 15 s while lane-a was drained; after the undrain lane-a claimed it and it succeeded" <<<"$out"
check "... timeout: ended timed out, the runner online and idle again" grep -q "^PASS: timeout: job [0-9]* (timeout-minutes 1, a step of 120 s) ended cancelled with GitHub's \"exceeded the maximum execution time\" annotation .*the runner is online and idle again$" <<<"$out"
check "... no FAIL line" test -z "$(grep '^FAIL' <<<"$out")"
check "... each case audited, completed, with its PASS line as evidence" \
        test "$(smoke_records '[(x["case"], x["status"], x["passed"], x["evidence"][:5]) for x in r if "case" in x]')" = \
        "[('unsupported-labels', 'completed', True, 'PASS:'), ('drained-lane', 'completed', True, 'PASS:'), ('timeout', 'completed', True, 'PASS:')]"
check "... lane-a undrained after it: a smoke passes" test "$(lanectl smoke lane-a --output json | val 'd["passed"]')" = True
out=$(lanectl smoke --pool web --negative 2>&1); rc=$?
check "--negative for a pool: usage ($rc)" test "$rc" = 2

# ---- emergency controls: dry runs change nothing; each audited; restored where it says ----
perms() { api GET /repos/acme/site/actions/permissions | val '(d["enabled"], d.get("allowed_actions"))'; }
api PUT /repos/acme/site/actions/permissions '{"enabled":true,"allowed_actions":"local_only"}' >/dev/null
check "Actions of acme/site set to local_only before the pause" test "$(perms)" = "(True, 'local_only')"
out=$(lanectl emergency pause-repo acme/site --reason "test: dry" 2>&1); rc=$?
check "pause-repo, a dry run ($rc): $out" grep -q "dry run: nothing done" <<<"$out"
check "... nothing changed" test "$(perms)" = "(True, 'local_only')"
out=$(lanectl emergency pause-repo acme/site --reason "test" --apply 2>&1); rc=$?
check "--apply without --confirm: usage ($rc)" test "$rc" = 2
out=$(lanectl emergency pause-repo acme/site --reason "test: incident 42" --apply --confirm acme/site 2>&1); rc=$?
check "pause-repo ($rc): $out" test "$rc" = 0
check "... Actions disabled for acme/site through the permissions API" test "$(perms)" = "(False, None)"
r=$(newrun '{"repo":"acme/site","jobs":[{"name":"paused","runs_on":["self-hosted","lanekeeper-managed"]}]}')
sleep 4
check "... a new job stays queued while lane-a is idle and online" test "$(job "$r" status)" = queued
out=$(lanectl smoke lane-a --deadline 10s 2>&1); rc=$?
check "... and a smoke is refused by GitHub, named ($rc): $out" grep -q "GitHub refused the dispatch" <<<"$out"
out=$(lanectl emergency pause-repo acme/site --reason "test: twice" --apply --confirm acme/site 2>&1); rc=$?
check "pause-repo again keeps what it was before the first ($rc): $out" grep -q '"allowed_actions":"local_only"' <<<"$out"
out=$(lanectl emergency resume-repo acme/site --reason "test: incident 42 over" --apply --confirm acme/site 2>&1); rc=$?
check "resume-repo ($rc): $out" test "$rc" = 0
check "... Actions exactly as it was: enabled, local_only" test "$(perms)" = "(True, 'local_only')"
check "... the queued job is claimed and succeeds" wait_job "$r" completed
out=$(lanectl emergency resume-repo acme/site --reason "test: again" --apply --confirm acme/site 2>&1); rc=$?
check "resume-repo of a repository not paused: refused ($rc): $out" grep -q "was not paused by lanekeeper" <<<"$out"
check "pause and resume audited: planned and completed, from and to" \
        test "$(records_of emergency '[(x["action"], x["status"], x.get("to", {}).get("enabled")) for x in r]')" = \
        "[('pause-repo', 'planned', False), ('pause-repo', 'completed', False), ('pause-repo', 'planned', False), ('pause-repo', 'completed', False), ('resume-repo', 'planned', True), ('resume-repo', 'completed', True)]"

r1=$(newrun '{"repo":"acme/site","jobs":[{"name":"nobody-1","runs_on":["self-hosted","nobody-serves-this"]}]}')
r2=$(newrun '{"repo":"acme/site","jobs":[{"name":"nobody-2","runs_on":["self-hosted","nobody-serves-this"]}]}')
out=$(lanectl emergency cancel-active acme/site --reason "test: dry" 2>&1); rc=$?
check "cancel-active, a dry run, lists the runs not ended ($rc): $out" grep -q "2 runs not ended: .*$r1" <<<"$out"
check "... nothing cancelled" test "$(job "$r1" status)" = queued
out=$(lanectl emergency cancel-active acme/site --reason "test: stop the queue" --apply --confirm acme/site 2>&1); rc=$?
check "cancel-active ($rc): $out" grep -q "cancelled 2, 0 not" <<<"$out"
check "... both runs cancelled" test "$(job "$r1" conclusion)$(job "$r2" conclusion)" = cancelledcancelled

out=$(lanectl emergency stop-claims --reason "test: dry" 2>&1); rc=$?
check "stop-claims, a dry run, names this host's lanes ($rc): $out" grep -q "every lane of this host ($host): lane-a" <<<"$out"
out=$(lanectl emergency stop-claims --reason "test: stop all claims" --apply --confirm stop-claims 2>&1); rc=$?
check "stop-claims ($rc): $out" test "$rc" = 0
r=$(newrun '{"repo":"acme/site","jobs":[{"name":"after-stop","runs_on":["self-hosted","lanekeeper-managed"]}]}')
sleep 4
check "... no new claim: the job waits" test "$(job "$r" status)" = queued
out=$(lanectl undrain lane-a 2>&1)
check "... undrain, and it is claimed" wait_job "$r" completed

out=$(lanectl emergency revoke-all --reason "test: dry" 2>&1); rc=$?
check "revoke-all, a dry run ($rc)" grep -q "dry run: nothing done" <<<"$out"
check "... lane-a's runner still registered" online lane-a
out=$(lanectl emergency revoke-all --reason "test: credentials leaked" --apply --confirm revoke-all 2>&1); rc=$?
check "revoke-all ($rc): $out" test "$rc" = 0
check "... lane-a's unit stopped" test "$(e2e_root systemctl show -P ActiveState lanekeeper-lane@lane-a.service)" != active
check "... its runner deregistered" test "$(api GET "/repos/acme/site/actions/runners?name=lane-a" | val 'd["total_count"]')" = 0

# ---- leak scan: every token the double issued, the PAT ----
e2e_issued_tokens "$E2E_WORK/tokens.u" "$pat"
e2e_root journalctl -o cat --no-pager >"$E2E_WORK/scan.journal" 2>/dev/null
e2e_root sh -c 'cat /srv/lanekeeper/store/audit/*' >"$E2E_WORK/scan.store"
check "records were written" test -s "$E2E_WORK/scan.store"
e2e_leak_scan "$E2E_WORK/tokens.u" scan.journal scan.store double.log

echo "test-smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
