#!/bin/bash
# End to end: pool operations on a real systemd (PID 1 in private
# namespaces), the socket-activated helper, the GitHub double and the
# runner kit. Two lanes: lane-a (labels self-hosted, lanekeeper-managed,
# gpu) and lane-b (self-hosted, lanekeeper-managed, only-b).
# - drain lane-a while it runs a long job: the job completes success, the
#   unit stops after it, a job only lane-a could take stays queued and a job
#   both could take goes to lane-b; apply refuses to undo the drain;
#   undrain: the queued job runs on lane-a;
# - rotate: refused while busy (nothing changes); when idle a new
#   registration and another .credentials file, the old registration gone;
# - revoke lane-b while it runs a job: the job is killed (named in the
#   record), the registration deleted, the credentials gone, the unit
#   removed; apply refuses; unrevoke refuses the same credential and takes
#   a new one; apply registers it again.
# Ends with a leak scan. Needs root (exit 77 otherwise; CI=true: failure).
set -u
. "$TESTS_SRCDIR/e2e/harness.sh"

py=/usr/bin/python3
e2e_need_jobs
R=/srv/lanekeeper/runners
e2e_lane_users $R lane-a
host=$(hostname)

pat2="ghp_$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 36)"
e2e_start_double --repo acme/site --heartbeat-timeout 12 --token "$pat2"
pat=$E2E_PAT port=$E2E_PORT
. "$TESTS_SRCDIR/github/jobs-lib.sh"

d=$E2E_WORK/dest/usr/local
etc=/usr/local/etc/lanekeeper
policy=$etc/policy.conf
e2e_install_lanekeeper "$policy"
e2e_policy "$host" "$R"
printf '[github]\napi_url = http://127.0.0.1:%s\ntoken_file = /srv/lanekeeper/token\ntimeout_s = 8\n[helper]\npolicy = %s\n[store]\ndir = /srv/lanekeeper/store\n[lanes]\ndir = %s/lanes.d\n[baseline]\nmin_free_mib = 1\ncommands = sh\n' \
        "$port" "$policy" "$etc" >"$d/etc/lanekeeper/lanekeeper.conf"
for l in "lane-a:self-hosted, lanekeeper-managed, gpu" "lane-b:self-hosted, lanekeeper-managed, only-b"; do
        printf '[lane]\nname = %s\nrepository = acme/site\nhost = %s\nroot = %s\nuser = lkrunner\nlabels = %s\nmanaged = true\n' \
                "${l%%:*}" "$host" "$R" "${l#*:}" >"$d/etc/lanekeeper/lanes.d/${l%%:*}.conf"
done

# the shipped retention service and its timer; a drop-in names the test's store and settings
u=$E2E_WORK/units
sed -e "s|@bindir@|/usr/local/bin|" "$TESTS_SRCDIR/../units/lanekeeper-prune.service.in" >"$u/lanekeeper-prune.service"
cp "$TESTS_SRCDIR/../units/lanekeeper-prune.timer" "$u/"
mkdir -p "$u/lanekeeper-prune.service.d"
printf '[Service]\nReadWritePaths=/srv/lanekeeper/store\nEnvironment=LANEKEEPER_CONFIG=%s/lanekeeper.conf\n' "$etc" \
        >"$u/lanekeeper-prune.service.d/store.conf"

e2e_boot || exit 1
e2e_store_and_lanes $R "$pat" lane-a lane-b

lanectl() { e2e_as lanekeeper /usr/local/bin/lanectl --config "$etc/lanekeeper.conf" "$@"; }
field() { e2e_field "$1"; }
runner() { # NAME FIELD: the runner's field as GitHub lists it ("" when not listed)
        api GET "/repos/acme/site/actions/runners?per_page=100" |
                "$py" -c 'import json,sys; r=[x for x in json.load(sys.stdin)["runners"] if x["name"]==sys.argv[1]]; v=r[0][sys.argv[2]] if r else ""; print(",".join(l["name"] for l in v) if isinstance(v,list) else v)' "$1" "$2"
}
last_record() { # FIELD-EXPR: of the newest audit record
        e2e_root sh -c 'cd /srv/lanekeeper/store/audit && cat "$(ls | grep "^[0-9]" | sort -n | tail -n 1)"' | field "$1"
}
unit_state() { e2e_root systemctl show -P ActiveState "lanekeeper-lane@$1.service"; }
cred_inode() { e2e_root stat -c %i "$R/$1/.credentials" 2>/dev/null; }
prom() { # EXPR over lanectl metrics (e2e_prom)
        lanectl metrics >"$E2E_WORK/metrics.txt" && e2e_prom "$E2E_WORK/metrics.txt" "$1"
}

# ---- preflight: before the first lane ----
out=$(lanectl preflight --output json 2>&1); rc=$?
check "preflight ($rc): no check fails: $(field '[(c["name"], c["detail"]) for c in d["checks"] if c["status"] == "fail"]' <<<"$out")" \
        test "$rc" = 0 -a "$(field 'd["ok"]' <<<"$out")" = True
check "... the helper admits the maintainer (a dry run)" test "$(field '[c["status"] for c in d["checks"] if c["name"] == "helper"]' <<<"$out")" = "['ok']"
check "... GitHub answers for acme/site" grep -q "repos/acme/site: runners readable" <<<"$(field '[c["detail"] for c in d["checks"] if c["name"] == "github"]' <<<"$out")"
check "... both lanes' runners are installed" test "$(field '[c["status"] for c in d["checks"] if c["name"] in ("lane lane-a", "lane lane-b")]' <<<"$out")" = "['ok', 'ok']"
check "... the unenabled health timer is a warning with its fix" \
        grep -q "enable --now lanekeeper-health.timer" <<<"$(field '[c["fix"] for c in d["checks"] if c["status"] == "warn"]' <<<"$out")"
e2e_root sh -c "mkdir -p /srv/lanekeeper/pf-lanes && cp $etc/lanes.d/lane-a.conf /srv/lanekeeper/pf-lanes/ &&
        sed -e 's/^name = .*/name = lane-z/' $etc/lanes.d/lane-a.conf >/srv/lanekeeper/pf-lanes/lane-z.conf && chmod -R a+rX /srv/lanekeeper/pf-lanes"
out=$(lanectl preflight --lanes-dir /srv/lanekeeper/pf-lanes 2>&1); rc=$?
check "preflight with a lane whose runner is not installed fails ($rc)" test "$rc" = 1
check "... naming it and the fix: $(grep -A1 'lane lane-z ' <<<"$out" | head -n 2)" \
        grep -q "fix: download actions/runner .* into $R/lane-z as lkrunner" <<<"$out"
out=$(e2e_as lkrunner /usr/local/bin/lanectl --config "$etc/lanekeeper.conf" preflight 2>&1); rc=$?
check "preflight as a user who is no maintainer fails ($rc), saying why: $out" \
        test "$rc" = 1 -a -n "$(grep -E 'lkrunner is not one of the policy|cannot open the audit store' <<<"$out")"

for l in lane-a lane-b; do
        out=$(lanectl apply $l --confirm $l --idempotency-key "pool-$l" --timeout 60 2>&1); rc=$?
        check "apply created $l ($rc): $out" test "$rc" = 0
done

# ---- drain lane-a under a long job ----
long=$(newrun '{"repo":"acme/site","jobs":[{"name":"long","runs_on":["gpu"],"steps":[{"name":"work","run":"exec -a lk-e2e-long sleep 12"}]}]}')
check "lane-a runs the long job" wait_marked lk-e2e-long
out=$(lanectl drain lane-a 2>&1); rc=$?
check "drain without a reason: refused ($rc)" test "$rc" = 2 -a -n "$(grep -- '--reason' <<<"$out")"
lanectl drain lane-a --reason "kernel update" >"$E2E_WORK/drain.out" 2>&1 &
drain_pid=$!
for _ in $(seq 100); do [ "$(runner lane-a labels)" = lanekeeper-managed ] && break; sleep 0.1; done
check "drain took lane-a's routing labels off ($(runner lane-a labels))" test "$(runner lane-a labels)" = lanekeeper-managed
check "lane-a still runs its job" test "$(runner lane-a busy)" = True -a "$(unit_state lane-a)" = active
gpu=$(newrun '{"repo":"acme/site","jobs":[{"name":"gpu","runs_on":["self-hosted","gpu"],"steps":[{"name":"work","run":"true"}]}]}')
both=$(newrun '{"repo":"acme/site","jobs":[{"name":"both","runs_on":["self-hosted","lanekeeper-managed"],"steps":[{"name":"work","run":"true"}]}]}')
check "a job both lanes could take goes to lane-b" wait_job "$both" completed
check "... on lane-b ($(job "$both" runner_name))" test "$(job "$both" runner_name)" = lane-b
wait "$drain_pid"; rc=$?
out=$(cat "$E2E_WORK/drain.out")
check "drain completed after the job ($rc): $out" test "$rc" = 0 -a -n "$(grep '^lane-a: drain completed' <<<"$out")"
check "the long job completed success ($(job "$long" conclusion))" test "$(job "$long" conclusion)" = success
check "lane-a's unit is stopped ($(unit_state lane-a))" test "$(unit_state lane-a)" = inactive
check "the job only lane-a could take stays queued ($(job "$gpu" status))" test "$(job "$gpu" status)" = queued
check "the record: drain completed, with the reason and the labels left" \
        test "$(last_record '(d["command"], d["status"], d["reason"], d["still_routed_by"])')" = "('drain', 'completed', 'kernel update', 'lanekeeper-managed')"
check "the hold is in the store" e2e_root grep -qx 'state=drained' /srv/lanekeeper/store/holds/lane-a
out=$(lanectl apply lane-a --confirm lane-a --idempotency-key pool-undo 2>&1); rc=$?
check "apply refuses to undo the drain ($rc): $out" test "$rc" = 1 -a -n "$(grep 'lane_held: the lane is drained since .* (kernel update); lanectl undrain lane-a lifts it' <<<"$out")"
check "... and changed nothing" test "$(unit_state lane-a)" = inactive -a "$(runner lane-a labels)" = lanekeeper-managed
out=$(lanectl restart lane-a --apply --confirm lane-a --idempotency-key pool-restart 2>&1); rc=$?
check "restart refuses too ($rc)" test "$rc" = 1
out=$(lanectl plan lane-a --output json 2>&1)
check "plan shows the hold" test "$(field '(d["lanes"][0]["blockers"][0]["id"], d["lanes"][0]["observed"]["hold"]["state"])' <<<"$out")" = "('lane_held', 'drained')"

# ---- runners and queue: the drained lane, a runner of another host, jobs nobody serves ----
tok=$(api POST /repos/acme/site/actions/runners/registration-token | field 'd["token"]')
curl -sf -X POST "http://127.0.0.1:$port/_runner/register" \
        -d "{\"token\":\"$tok\",\"name\":\"elsewhere\",\"labels\":[\"self-hosted\",\"elsewhere-only\"],\"version\":\"2.330.0\"}" >/dev/null
win=$(newrun '{"repo":"acme/site","jobs":[{"name":"win","runs_on":["windows-latest"]}]}')
out=$(lanectl queue 2>&1); rc=$?
check "queue ($rc): windows-latest waits with 0 matching runners: $out" \
        grep -q "^  waiting for a runner with labels: windows-latest$" <<<"$out"
check "queue: the gpu job waits too while lane-a is drained: $out" grep -q "waiting for a runner with labels: gpu,self-hosted" <<<"$out"
out=$(lanectl queue --output json 2>&1); rc=$?
check "queue --output json ($rc): $out" \
        test "$(field 'sorted((",".join(s["labels"]), s["queued"], s["online_runners"], s["repositories"]) for s in d["label_sets"])' <<<"$out")" = "[('gpu,self-hosted', 1, 0, 'acme/site'), ('windows-latest', 1, 0, 'acme/site')]"
out=$(lanectl runners --output json 2>&1); rc=$?
check "runners ($rc): lane-a drained, lane-b serving, the other host's runner not managed" \
        test "$(field 'sorted((r["name"], r["lane"], r["hold"], r["managed"], r["host"] is not None) for r in d["runners"])' <<<"$out")" = "[('elsewhere', None, None, False, False), ('lane-a', 'lane-a', 'drained', True, True), ('lane-b', 'lane-b', None, True, True)]"
out=$(lanectl runners 2>&1); rc=$?
check "runners, as text ($rc): the hold and its reason" grep -q "drained since .*: kernel update" <<<"$out"
check "runners, as text: the other host's runner" grep -q "^elsewhere .*(not ours)" <<<"$out"
check "metrics: one lane drained, none draining or revoked ($(prom '[m[("lanekeeper_lanes_held", (("state", s),))] for s in ("draining", "drained", "revoked")]'))" \
        test "$(prom '[m[("lanekeeper_lanes_held", (("state", s),))] for s in ("draining", "drained", "revoked")]')" = "[0.0, 1.0, 0.0]"
check "metrics: lane-a's hold" test "$(prom 'm[("lanekeeper_lane_hold", (("lane", "lane-a"), ("state", "drained")))]')" = 1.0
check "metrics: the claim latency histogram is whole (+Inf = count, buckets rising)" \
        test "$(prom '(lambda b: all(b[i][1] <= b[i+1][1] for i in range(len(b)-1)) and b[-1][1] == m[("lanekeeper_job_claim_latency_seconds_count", ())] and len(b) == 13)(sorted((float(k[1][0][1]), v) for k, v in m.items() if k[0] == "lanekeeper_job_claim_latency_seconds_bucket"))')" = True

out=$(lanectl undrain lane-a 2>&1); rc=$?
check "undrain ($rc): $out" test "$rc" = 0
check "lane-a has its labels back ($(runner lane-a labels))" test "$(runner lane-a labels)" = "self-hosted,lanekeeper-managed,gpu"
check "the queued job runs on lane-a" wait_job "$gpu" completed
check "... success on lane-a" test "$(job "$gpu" conclusion) $(job "$gpu" runner_name)" = "success lane-a"
check "no hold left" e2e_root test ! -e /srv/lanekeeper/store/holds/lane-a

# ---- rotate: never under a job; then new credentials ----
id0=$(runner lane-a id) ino0=$(cred_inode lane-a)
busy=$(newrun '{"repo":"acme/site","jobs":[{"name":"busy","runs_on":["gpu"],"steps":[{"name":"work","run":"exec -a lk-e2e-rot sleep 6"}]}]}')
check "lane-a runs a job" wait_marked lk-e2e-rot
out=$(lanectl rotate lane-a 2>&1); rc=$?
check "rotate refused while busy ($rc): $out" test "$rc" = 1 -a -n "$(grep 'runner_busy: runner .* is busy running a job' <<<"$out")"
check "... naming the job" grep -q "busy .*\"busy\"" <<<"$out"
check "... and nothing changed" test "$(runner lane-a id) $(cred_inode lane-a)" = "$id0 $ino0"
check "the job ends" wait_job "$busy" completed
check "... success" test "$(job "$busy" conclusion)" = success
out=$(lanectl rotate lane-a 2>&1); rc=$?
check "rotate when idle ($rc): $out" test "$rc" = 0
id1=$(runner lane-a id)
check "a new registration ($id0 -> $id1)" test -n "$id1" -a "$id1" != "$id0"
check "the old one is gone" test "$(api GET "/repos/acme/site/actions/runners/$id0" | field 'd.get("message")')" = "Not Found"
check "another .credentials file ($ino0 -> $(cred_inode lane-a))" test -n "$(cred_inode lane-a)" -a "$(cred_inode lane-a)" != "$ino0"
check "the record says both ids" test "$(last_record '(d["command"], d["status"], d["old_runner_id"])')" = "('rotate', 'completed', $id0)"
r=$(newrun '{"repo":"acme/site","jobs":[{"name":"after-rotate","runs_on":["gpu"],"steps":[{"name":"work","run":"true"}]}]}')
check "the rotated lane runs a job" wait_job "$r" completed
check "... success" test "$(job "$r" conclusion)" = success

# ---- a drain whose --wait runs out under a job stays draining; health finishes it once idle ----
slow=$(newrun '{"repo":"acme/site","jobs":[{"name":"slow","runs_on":["gpu"],"steps":[{"name":"work","run":"exec -a lk-e2e-slow sleep 8"}]}]}')
check "lane-a runs the slow job" wait_marked lk-e2e-slow
out=$(lanectl drain lane-a --reason "disk swap" --wait 1s 2>&1); rc=$?
check "drain --wait 1s under a job: exit 0, left draining ($rc): $out" test "$rc" = 0 -a "$(unit_state lane-a)" = active
check "... the hold says draining" e2e_root grep -q "^state=draining" /srv/lanekeeper/store/holds/lane-a
out=$(lanectl health --only offline 2>&1); rc=$?
check "health (dry) leaves the busy draining lane alone ($rc): $(grep -i drain <<<"$out" | head -n 2)" \
        test -z "$(grep finish-drain <<<"$out")" -a -n "$(marked lk-e2e-slow)"
check "the slow job ends" wait_job "$slow" completed
check "... success: the drain killed nothing" test "$(job "$slow" conclusion)" = success
for _ in $(seq 100); do [ "$(runner lane-a busy)" = False ] && break; sleep 0.2; done
out=$(lanectl health --heal --only offline --output json 2>&1); rc=$?
check "health --heal finishes the drain ($rc): $(field '[(a["action"], a["result"], a["detail"]) for a in d["actions"]]' <<<"$out")" \
        test "$(field '[(a["action"], a["result"]) for a in d["actions"] if a.get("lane") == "lane-a"]' <<<"$out")" = "[('finish-drain', 'completed')]"
check "... lane-a drained and stopped" test "$(unit_state lane-a)" = inactive -a -n "$(e2e_root grep -l '^state=drained' /srv/lanekeeper/store/holds/lane-a)"
out=$(lanectl undrain lane-a 2>&1); rc=$?
check "undrain again ($rc)" test "$rc" = 0 -a "$(unit_state lane-a)" = active

# ---- revoke lane-b under a job ----
victim=$(newrun '{"repo":"acme/site","jobs":[{"name":"victim","runs_on":["only-b"],"steps":[{"name":"work","run":"exec -a lk-e2e-victim sleep 300"}]}]}')
check "lane-b runs a job" wait_marked lk-e2e-victim
idb=$(runner lane-b id)
out=$(lanectl revoke lane-b --reason "host key leaked" 2>&1); rc=$?
check "revoke without --confirm: refused ($rc)" test "$rc" = 2 -a -n "$(marked lk-e2e-victim)"
out=$(lanectl revoke lane-b --reason "host key leaked" --confirm lane-b 2>&1); rc=$?
check "revoke ($rc): $out" test "$rc" = 0
check "... it says which job it killed" grep -q "killed .*\"victim\"" <<<"$out"
check "the job's process is gone" test -z "$(marked lk-e2e-victim)"
check "the job did not succeed ($(job "$victim" conclusion))" test "$(job "$victim" status)" = completed -a "$(job "$victim" conclusion)" != success
check "GitHub no longer lists lane-b" test -z "$(runner lane-b id)"
check "the credentials are gone" e2e_root sh -c "test ! -e $R/lane-b/.credentials -a ! -e $R/lane-b/.runner -a ! -e $R/lane-b/.credentials_rsaparams"
check "the runner install stays" e2e_root test -x "$R/lane-b/run.sh"
check "the unit is removed" test "$(e2e_root systemctl show -P LoadState lanekeeper-lane@lane-b.service)" = not-found
check "the record: killed job and reason" \
        test "$(last_record '(d["command"], d["status"], d["reason"], "victim" in d["killed_job"])')" = "('revoke', 'completed', 'host key leaked', True)"
out=$(lanectl apply lane-b --confirm lane-b --idempotency-key pool-b2 2>&1); rc=$?
check "apply refuses a revoked lane ($rc): $out" test "$rc" = 1 -a -n "$(grep 'lanectl unrevoke lane-b' <<<"$out")"
check "... and registered nothing" test -z "$(runner lane-b id)"
out=$(lanectl unrevoke lane-b --confirm lane-b 2>&1); rc=$?
check "unrevoke with the same credential: refused ($rc): $out" test "$rc" = 1 -a -n "$(grep 'credential_unchanged' <<<"$out")"
e2e_root sh -c "printf '%s\n' '$pat2' > /srv/lanekeeper/token"
out=$(lanectl unrevoke lane-b --confirm lane-b 2>&1); rc=$?
check "unrevoke with a new credential ($rc): $out" test "$rc" = 0
out=$(lanectl apply lane-b --confirm lane-b --idempotency-key pool-b3 --timeout 60 2>&1); rc=$?
check "apply registers lane-b again ($rc): $out" test "$rc" = 0
check "... a new runner" test -n "$(runner lane-b id)" -a "$(runner lane-b id)" != "$idb"

# ---- cleanup-stale: only managed offline registrations of this host with no lane ----
for g in "ghost-here:\"self-hosted\",\"lanekeeper-managed\",\"$host\"" \
         "ghost-there:\"self-hosted\",\"lanekeeper-managed\",\"other-host.example\"" \
         "ghost-unmanaged:\"self-hosted\",\"$host\""; do
        tok=$(api POST /repos/acme/site/actions/runners/registration-token | field 'd["token"]')
        curl -sf -X POST "http://127.0.0.1:$port/_runner/register" \
                -d "{\"token\":\"$tok\",\"name\":\"${g%%:*}\",\"labels\":[${g#*:}],\"version\":\"2.330.0\"}" >/dev/null
done
check "metrics: one stale registration (ghost-here; not the other host's, not the unmanaged one)" \
        test "$(prom 'm[("lanekeeper_stale_registrations", ())]')" = 1.0
out=$(lanectl cleanup-stale --older-than 1h --output json 2>&1); rc=$?
verdicts=$(field 'sorted((r["name"], r["verdict"]) for r in d["runners"] if r["name"] != "elsewhere")' <<<"$out")
check "cleanup-stale, first sighting ($rc): $verdicts" test "$verdicts" = "[('ghost-here', 'too_recent'), ('ghost-there', 'other_host'), ('ghost-unmanaged', 'unmanaged'), ('lane-a', 'has_lane'), ('lane-b', 'has_lane')]"
check "... a dry run: every ghost still there" test -n "$(runner ghost-here id)" -a -n "$(runner ghost-there id)"
sleep 3
n0=$(e2e_root sh -c 'ls /srv/lanekeeper/store/audit | wc -l')
out=$(lanectl cleanup-stale --older-than 2s 2>&1); rc=$?
check "dry run ($rc) names the stale one: $out" grep -q "^repos/acme/site .*ghost-here .*offline *delete" <<<"$out"
check "... and deletes nothing" test -n "$(runner ghost-here id)" -a "$n0" = "$(e2e_root sh -c 'ls /srv/lanekeeper/store/audit | wc -l')"
ghost=$(runner ghost-here id)
out=$(lanectl cleanup-stale --older-than 2s --apply --output json 2>&1); rc=$?
check "cleanup-stale --apply ($rc): $(field '[(r["name"], r["result"], r["detail"]) for r in d["runners"] if r["result"] != "none"]' <<<"$out")" \
        test "$rc" = 0 -a "$(field '[r["name"] for r in d["runners"] if r["result"] == "deleted"]' <<<"$out")" = "['ghost-here']"
check "GitHub no longer lists ghost-here" test "$(api GET "/repos/acme/site/actions/runners/$ghost" | field 'd.get("message")')" = "Not Found"
check "the other host's, the unmanaged and the lanes' runners stay" \
        test -n "$(runner ghost-there id)" -a -n "$(runner ghost-unmanaged id)" -a -n "$(runner elsewhere id)" -a -n "$(runner lane-a id)"
check "metrics: no stale registration left" test "$(prom 'm[("lanekeeper_stale_registrations", ())]')" = 0.0
check "the record: completed, gate runner_gone" \
        test "$(last_record '(d["command"], d["status"], d["runner"], "runner_gone passed" in d["detail"])')" = "('cleanup-stale', 'completed', 'ghost-here', True)"

check "the audit chain is intact" lanectl audit verify

# ---- retention: the daily timer, and the shipped service pruning for real ----
e2e_root systemctl start lanekeeper-prune.timer
check "the retention timer is active, next $(e2e_root systemctl show -P NextElapseUSecRealtime lanekeeper-prune.timer)" \
        test "$(e2e_root systemctl show -P ActiveState lanekeeper-prune.timer)" = active
n_before=$(lanectl audit verify | sed -n 's/^\([0-9]*\) records.*/\1/p')
e2e_root systemctl start lanekeeper-prune.service
check "the service ran with the default retention: nothing that young pruned" \
        grep -q "^no audit record older than" <<<"$(e2e_root journalctl -o cat --no-pager -u lanekeeper-prune.service)"
check "... as the maintainer, and it succeeded" test "$(e2e_root systemctl show -P Result lanekeeper-prune.service)" = success
sleep 2
e2e_root sh -c "printf '[Service]\nExecStart=\nExecStart=/usr/local/bin/lanectl audit prune --older-than 1s\n' \
        >/etc/systemd/system/lanekeeper-prune.service.d/now.conf"
e2e_root systemctl daemon-reload
e2e_root systemctl start lanekeeper-prune.service
msg=$(e2e_root journalctl -o cat --no-pager -u lanekeeper-prune.service | grep "^pruned audit records" | tail -n 1)
check "the service pruned every record but the newest: $msg" grep -Eq "^pruned audit records 1-$((n_before - 1)) .*checkpoint record $((n_before + 1)) carries sha256:" <<<"$msg"
check "... and the idempotency keys" grep -Eq "^pruned [1-9][0-9]* idempotency key" <<<"$(e2e_root journalctl -o cat --no-pager -u lanekeeper-prune.service)"
out=$(lanectl audit verify); rc=$?
check "the chain verifies from the checkpoint ($rc): $out" grep -q "^2 records ($n_before-$((n_before + 1)); the ones before pruned, checkpointed), chain intact" <<<"$out"
check "the first records are gone" e2e_root test ! -e /srv/lanekeeper/store/audit/00000000000000000001.json
check "the checkpoint record" test "$(last_record '(d["command"], d["pruned_to"])')" = "('audit-prune', $((n_before - 1)))"

# ---- leak scan: every token the double issued, both PATs ----
e2e_issued_tokens "$E2E_WORK/tokens.u" "$pat" "$pat2"
e2e_root journalctl -o cat --no-pager >"$E2E_WORK/scan.journal" 2>/dev/null
e2e_root sh -c 'cat /srv/lanekeeper/store/audit/* /srv/lanekeeper/store/holds/* 2>/dev/null' >"$E2E_WORK/scan.store"
check "records were written" test -s "$E2E_WORK/scan.store"
e2e_leak_scan "$E2E_WORK/tokens.u" scan.journal scan.store drain.out double.log

echo "test-pool: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
