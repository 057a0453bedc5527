#!/bin/bash
# End to end: kernel observation of a lane (issue 16). A real systemd, the
# helper's two instances, the GitHub double and the runner kit; lane-a and
# lane-b created by lanectl apply. load-bpf refuses, with its specific
# error and nothing loaded, an object not in the policy, a wrong digest, an
# unmanaged lane and a lane not running, and only its own instance serves
# it. lanectl observe, run as the maintainer under a seccomp filter that
# kills it at any bpf() call, observes a dispatched fixture job: the
# surface holds what the fixture did, the health says complete with 0
# drops, the manifest matches the files and the tarball is byte-stable. A
# job in lane-b is not seen from lane-a; a 4 KiB ring buffer drops and the
# observation says so; nothing stays loaded after lanectl exits or is
# killed. Needs root (exit 77 otherwise; CI=true: failure).
set -u
. "$TESTS_SRCDIR/e2e/harness.sh"

py=/usr/bin/python3
e2e_need_jobs
command -v bpftool >/dev/null || e2e_skip "needs bpftool (package bpftool) to list loaded programs"
[ -r /sys/kernel/btf/vmlinux ] || e2e_skip "needs a kernel with BTF (/sys/kernel/btf/vmlinux)"
R=/srv/lanekeeper/runners
e2e_lane_users $R lane-a
host=$(hostname)

e2e_start_double --repo acme/site --heartbeat-timeout 12
pat=$E2E_PAT port=$E2E_PORT
. "$TESTS_SRCDIR/github/jobs-lib.sh"

d=$E2E_WORK/dest/usr/local
policy=/usr/local/etc/lanekeeper/policy.conf
e2e_install_lanekeeper "$policy"
install -m 755 "$NO_BPF" "$d/bin/no-bpf"
e2e_policy "$host" "$R"
e2e_policy_bpf observe
printf 'wrong = /usr/local/lib/lanekeeper/bpf/lanekeeper-observe.bpf.o sha256:%064d\n' 0 >>"$d/etc/lanekeeper/policy.conf"
printf '[github]\napi_url = http://127.0.0.1:%s\ntoken_file = /srv/lanekeeper/token\ntimeout_s = 8\n[helper]\npolicy = %s\n[store]\ndir = /srv/lanekeeper/store\n[lanes]\ndir = /usr/local/etc/lanekeeper/lanes.d\n[baseline]\nmin_free_mib = 1\ncommands = sh\n' \
        "$port" "$policy" >"$d/etc/lanekeeper/lanekeeper.conf"
for l in lane-a lane-b; do
        printf '[lane]\nname = %s\nrepository = acme/site\nhost = %s\nroot = %s\nuser = lkrunner\nlabels = self-hosted, %s-only, lanekeeper-managed\nmanaged = true\n' \
                "$l" "$host" "$R" "$l" >"$d/etc/lanekeeper/lanes.d/$l.conf"
done
echo 'dedicated = true' >>"$d/etc/lanekeeper/lanes.d/lane-a.conf"   # gate run empties its _work

e2e_boot || exit 1
e2e_store_and_lanes $R "$pat" lane-a lane-b
e2e_root sh -c "mkdir -p /srv/lanekeeper/obs && chown lanekeeper /srv/lanekeeper/obs"
lk() { e2e_as lanekeeper /usr/local/bin/lanectl --config /usr/local/etc/lanekeeper/lanekeeper.conf "$@"; }
obs=/srv/lanekeeper/obs
jq_() { e2e_root "$py" -c 'import json,sys; o=json.load(open(sys.argv[1])); exec("print(" + sys.argv[2] + ")")' "$@"; }
# FILE EXPR: EXPR holds of the JSON object o in FILE
jt() { e2e_root "$py" -c 'import json,sys; o=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$@"; }
# No program of ours loaded (freeing after the last link closes is deferred: wait up to 5 s)
none_loaded() { for _ in $(seq 50); do bpftool prog list 2>/dev/null | grep -q ' name lk_' || return 0; sleep 0.1; done; return 1; }
loaded() { bpftool prog list 2>/dev/null | grep -c ' name lk_'; }

for l in lane-a lane-b; do
        out=$(lk apply $l --confirm $l --idempotency-key kobs-$l --timeout 60 2>&1); rc=$?
        check "apply created $l ($rc): $out" test "$rc" = 0
done
check "no observation program is loaded before any request" none_loaded

# ---- load-bpf: refusals, each specific, nothing loaded ----
refused() { # ERROR TEXT ARGS...: lanectl helper load-bpf ARGS refused with ERROR, saying TEXT
        local want=$1 text=$2 out rc; shift 2
        out=$(lk helper load-bpf "$@" 2>&1); rc=$?
        [ "$rc" = 1 ] && grep -qF -- "$want" <<<"$out" && grep -qF -- "$text" <<<"$out" && none_loaded ||
                { echo "  got ($rc): $out"; return 1; }
}
check "an object not in the policy: policy-violation" \
        refused policy-violation "BPF object 'other' is not in the policy" lane-a --bpf-object other
check "a wrong digest: policy-violation naming both digests" \
        refused policy-violation "the policy pins 0000000000000000000000000000000000000000000000000000000000000000" \
        lane-a --bpf-object wrong
check "an unmanaged lane: not-managed" refused not-managed "lanekeeper-lane@lane-z.service does not exist" \
        lane-z --bpf-object observe
check "a ring buffer size the protocol refuses never leaves lanectl" \
        test "$(lk helper load-bpf lane-a --bpf-object observe --ringbuf-size 5000 2>&1 | grep -c 'is not a power of two')" = 1
out=$(lk helper load-bpf lane-a --bpf-object observe --socket /run/lanekeeper/helper.socket 2>&1)
check "the units instance does not serve load-bpf: $out" grep -q "not-supported: load-bpf is served by lanekeeper-helper-bpf.socket" <<<"$out"
out=$(lk helper stop lane-b --socket /run/lanekeeper/helper-bpf.socket 2>&1)
check "the load-bpf instance serves nothing else: $out" grep -q "not-supported: this is the load-bpf instance" <<<"$out"
check "... and lane-b still runs" e2e_root systemctl -q is-active lanekeeper-lane@lane-b.service
out=$(lk helper stop lane-b 2>&1)
check "lane-b stopped" e2e_root sh -c '! systemctl -q is-active lanekeeper-lane@lane-b.service'
check "an inactive lane: not-active" refused not-active "a lane is observed only while it runs" lane-b --bpf-object observe
out=$(lk helper enable-now lane-b 2>&1)
check "lane-b started again" e2e_root systemctl -q is-active lanekeeper-lane@lane-b.service
out=$(lk helper load-bpf lane-a --bpf-object observe --output json 2>&1); rc=$?
attached() { [ "$rc" = 0 ] && grep -q '"programs": 5' <<<"$out" && grep -q '"descriptors": 7' <<<"$out" &&
        grep -q 'lanekeeper-lane@lane-a.service' <<<"$out"; }
check "load-bpf attaches ($rc): 5 programs, 7 descriptors, the unit's cgroup: $out" attached
check "... and detaches when lanectl exits" none_loaded
check "the helper's journal names each refusal" \
        e2e_root sh -c "journalctl -u lanekeeper-helper-bpf.service --no-pager | grep -c 'load-bpf.*policy-violation' | grep -qx 2"

# ---- the fixture workflow ----
wf='name: fixture
on:
  workflow_dispatch:
    inputs:
      extra: {required: false, type: string, default: "0"}
      storm: {required: false, type: string, default: "0"}
      code: {required: false, type: string, default: "0"}
      lane: {required: false, type: string, default: "lane-a"}
      drift_on: {required: false, type: string, default: "0"}
      counter: {required: false, type: string, default: "/nonexistent"}
jobs:
  fixture:
    runs-on: [self-hosted, "${{ inputs.lane }}-only"]
    steps:
      - name: work
        env:
          EXTRA: ${{ inputs.extra }}
          STORM: ${{ inputs.storm }}
          CODE: ${{ inputs.code }}
          DRIFT_ON: ${{ inputs.drift_on }}
          COUNTER: ${{ inputs.counter }}
        run: |
          mkdir -p out
          echo hello > out/a.txt
          cat /etc/hostname > out/b.txt
          if [ "$EXTRA" = 1 ]; then echo more > out/c.txt; fi
          if [ "$DRIFT_ON" != 0 ]; then
            n=$(($(cat "$COUNTER") + 1)); echo "$n" > "$COUNTER"
            if [ "$n" = "$DRIFT_ON" ]; then echo more > out/c.txt; fi
          fi
          i=0; while [ "$i" -lt "$STORM" ]; do : < /etc/hostname; i=$((i + 1)); done
          /usr/bin/python3 -c "import socket; socket.socket().connect_ex((\"127.0.0.1\", 9))"
          exit "$CODE"
'
body=$("$py" -c 'import json,sys; print(json.dumps({"repo": "acme/site", "path": ".github/workflows/fixture.yml", "yaml": sys.stdin.read()}))' <<<"$wf")
check "the fixture workflow committed" curl -sf -X POST "http://127.0.0.1:$port/_double/workflow" -d "$body" -o /dev/null

# ---- observe, with bpf() denied to lanectl ----
check "the no-bpf wrapper kills a process that calls bpf()" \
        sh -c '"$1" bpftool prog list >/dev/null 2>&1; [ $? = 159 ] || [ $? = 137 ]' sh "$d/bin/no-bpf"
out=$(e2e_as lanekeeper /usr/local/bin/no-bpf /usr/local/bin/lanectl --config /usr/local/etc/lanekeeper/lanekeeper.conf \
        observe lane-a --dispatch fixture.yml --ref main --timeout 60 --out $obs/r1 2>&1); rc=$?
check "observe under no-bpf exits 0 ($rc): $out" test "$rc" = 0
check "... says complete, 0 drops, correlation clean" grep -q "kernel layer complete, 0 ring buffer drops, correlation clean" <<<"$out"
check "health: complete, 0 drops, clean" \
        test "$(jq_ $obs/r1/observation-health.json 'o["kernel_layer"], o["ringbuf_drops"], o["cgroup_correlation"]')" = "complete 0 clean"
surf=$obs/r1/capability-surface.json
check "the surface holds the files the fixture wrote" \
        test "$(jq_ $surf '",".join(o["files_written"])')" = "out/a.txt,out/b.txt"
check "... what it executed" jt $surf '"/usr/bin/mkdir" in o["process_execs"] and "/usr/bin/cat" in o["process_execs"]'
check "... the file it read" jt $surf '"/etc/hostname" in o["files_read"]'
check "... the loopback endpoint it connected to" jt $surf '"inet:127.0.0.1:9" in o["network_endpoints"]'
check "... and not the runner's own files (the worker is not the job)" \
        jt $surf 'not any("_diag" in p for p in o["files_written"])'
check "... its step script's random name normalised" jt $surf 'any(p.endswith("/<uuid>.sh") for p in o["files_read"])'
check "correlation: bound to the job, on lane-a, success" \
        test "$(jq_ $obs/r1/correlation-report.json 'o["status"], o["bindings"][0]["runner_name"], o["bindings"][0]["conclusion"]')" = "clean lane-a success"
check "every file carries its schema and the run id" \
        e2e_root "$py" -c 'import json,sys
ids = set()
for f in ("observation-health.json", "capability-surface.json", "correlation-report.json", "manifest.json"):
    o = json.load(open(sys.argv[1] + "/" + f)); assert o["schema"].startswith("lanekeeper."), f; ids.add(o["run_id"])
assert len(ids) == 1, ids' $obs/r1
check "the manifest's bytes and digests are the files'" \
        e2e_root "$py" -c 'import json,sys,hashlib,os
m = json.load(open(sys.argv[1] + "/manifest.json"))
assert len(m["files"]) == 4
for f in m["files"]:
    b = open(sys.argv[1] + "/" + f["path"], "rb").read()
    assert f["bytes"] == len(b) and f["sha256"] == "sha256:" + hashlib.sha256(b).hexdigest(), f' $obs/r1
check "JSON is compact with sorted keys" \
        e2e_root "$py" -c 'import json,sys
t = open(sys.argv[1]).read().rstrip("\n"); assert t == json.dumps(json.loads(t), sort_keys=True, separators=(",", ":"), ensure_ascii=False)' $obs/r1/capability-surface.json
check "the tarball: sorted members, mtime 0, mode 0644, owner 0" \
        e2e_root "$py" -c 'import tarfile,sys
t = tarfile.open(sys.argv[1] + "/observation.tar.gz"); m = t.getmembers(); n = [x.name for x in m]
assert n == sorted(n) and len(n) == 5, n
assert all(x.mtime == 0 and x.mode == 0o644 and x.uid == 0 and x.gid == 0 for x in m)' $obs/r1
check "every record of the window is lane-a's cgroup" \
        e2e_root "$py" -c 'import json,sys
ids = {json.loads(l)["cgroup_id"] for l in open(sys.argv[1])}; assert len(ids) == 1, ids' $obs/r1/events.ndjson

# ---- a job in another lane is not seen ----
e2e_as lanekeeper /usr/local/bin/lanectl --config /usr/local/etc/lanekeeper/lanekeeper.conf \
        observe lane-a --duration 6 --out $obs/quiet >"$E2E_WORK/quiet.out" 2>&1 &
qpid=$!
for _ in $(seq 50); do [ "$(loaded)" -ge 5 ] && break; sleep 0.1; done
out=$(lk observe lane-b --dispatch fixture.yml --ref main --timeout 60 --input lane=lane-b --input extra=1 --out $obs/b1 2>&1); rc=$?
check "lane-b's job observed from lane-b ($rc): $out" test "$rc" = 0
check "... wrote out/c.txt there" jt $obs/b1/capability-surface.json '"out/c.txt" in o["files_written"]'
wait $qpid; rc=$?
check "lane-a's window beside it ($rc): $(cat "$E2E_WORK/quiet.out")" test "$rc" = 0
check "... saw none of lane-b's job" e2e_root sh -c "! grep -q 'out/c.txt\\|/usr/bin/mkdir' $obs/quiet/events.ndjson"

# ---- a skip exit is observed as the job's failure ----
out=$(lk observe lane-a --dispatch fixture.yml --ref main --timeout 60 --input code=40 --out $obs/skip 2>&1); rc=$?
check "exit 40: the job failed ($rc)" jt $obs/skip/correlation-report.json 'o["bindings"][0]["conclusion"] == "failure"'

# ---- a forced drop: a 4 KiB ring buffer and a storm of opens ----
out=$(lk observe lane-a --dispatch fixture.yml --ref main --timeout 60 --input storm=20000 --ringbuf-size 4096 --out $obs/drop 2>&1); rc=$?
check "a tiny ring buffer: exit 1 ($rc): $out" test "$rc" = 1
check "... partial_ringbuf_drops with the count of the counters" \
        jt $obs/drop/observation-health.json 'o["kernel_layer"] == "partial_ringbuf_drops" and o["ringbuf_drops"] > 0'

# ---- lanectl gate run: reset, dispatch, observe, accept, compare ----
out=$(lk gate run --lane lane-b --workflow fixture.yml --ref main --input lane=lane-b --out $obs/gate-b 2>&1); rc=$?
check "a lane not dedicated: refused, exit 2 ($rc): $out" \
        bash -c '[ "$1" = 2 ] && grep -q "lane lane-b is not dedicated" <<<"$2"' sh "$rc" "$out"
check "... and made nothing" e2e_root test ! -e $obs/gate-b
e2e_root sh -c "mkdir -p $R/lane-a/_work/left && echo stale >$R/lane-a/_work/left/over.txt && chown -R lkrunner $R/lane-a/_work"
out=$(lk gate run --lane lane-a --workflow fixture.yml --ref main --runs 3 --timeout 60 --out $obs/gate 2>&1); rc=$?
check "three runs of the fixture pass the gate ($rc): $out" test "$rc" = 0
check "... PASS: fixture acceptance, once per run" test "$(grep -c '^PASS: fixture acceptance$' <<<"$out")" = 3
check "... PASS: fixture three-run determinism" grep -qx 'PASS: fixture three-run determinism' <<<"$out"
check "... each run after a reset through the lane's unit" test "$(grep -c '_work emptied as the runner started' <<<"$out")" = 3
check "... which removed what the last job left in _work" e2e_root test ! -e $R/lane-a/_work/left
check "the three runs' surfaces are the same, and hold the fixture's files" \
        e2e_root "$py" -c 'import json,sys
s = [json.load(open("%s/run-%d/capability-surface.json" % (sys.argv[1], n))) for n in (1, 2, 3)]
for x in s: del x["run_id"]; x.pop("measurements", None)
assert s[0] == s[1] == s[2] and "out/a.txt" in s[0]["files_written"], s' $obs/gate
check "gate.json: passed, three runs accepted, determinism passed, one commit" \
        jt $obs/gate/gate.json 'o["schema"] == "lanekeeper.gate-result/1" and o["status"] == "passed" and o["runs_passed"] == 3 and o["determinism"] == "passed" and len({r["commit"] for r in o["runs"]}) == 1 and [r["acceptance"] for r in o["runs"]] == ["passed"] * 3'
check "gate.log holds what was printed" e2e_root sh -c "[ \"\$(grep -c '^PASS: ' $obs/gate/gate.log)\" = 4 ]"
e2e_root sh -c "mkdir -p $obs/busy && touch $obs/busy/notes.txt && chown -R lanekeeper $obs/busy"
out=$(lk gate run --lane lane-a --workflow fixture.yml --ref main --out $obs/busy 2>&1); rc=$?
check "a directory holding what no gate wrote is refused, untouched ($rc): $out" \
        bash -c '[ "$1" = 3 ] && grep -q "holds notes.txt, which no gate wrote" <<<"$2"' sh "$rc" "$out"
check "... and left as it was" test "$(e2e_root ls $obs/busy)" = notes.txt
e2e_root sh -c "echo 0 >$R/lane-a/gate-count && chown lkrunner $R/lane-a/gate-count"
out=$(lk gate run --lane lane-a --workflow fixture.yml --ref main --runs 3 --timeout 60 --input drift_on=3 \
        --input counter=$R/lane-a/gate-count --out $obs/drift 2>&1); rc=$?
check "a drift on run 3: exit 1 ($rc)" test "$rc" = 1
check "... every run accepted" test "$(grep -c '^PASS: fixture acceptance$' <<<"$out")" = 3
check "... FAIL naming the surface, between run-1 and run-3: $out" \
        grep -qx 'FAIL: capability-surface.json changed between run-1 and run-3' <<<"$out"
check "... with a unified diff labelled run-1/ and run-3/ adding out/c.txt: $out" \
        bash -c 'grep -qx -- "--- run-1/capability-surface.json" <<<"$1" && grep -qx -- "+++ run-3/capability-surface.json" <<<"$1" &&
                grep -qE -- "^\+ +\"out/c.txt\",?\$" <<<"$1"' sh "$out"
check "... and FAIL: fixture three-run determinism" grep -qx 'FAIL: fixture three-run determinism' <<<"$out"
check "... run 2 did not differ" bash -c '! grep -q "between run-1 and run-2" <<<"$1"' sh "$out"
check "gate.json: failed, determinism failed, the surface changed on run 3" \
        jt $obs/drift/gate.json 'o["status"] == "failed" and o["determinism"] == "failed" and o["changed"] == [{"run": 3, "file": "capability-surface.json"}]'
out=$(lk gate run --lane lane-a --workflow fixture.yml --ref main --runs 3 --timeout 60 --input code=40 --out $obs/gskip 2>&1); rc=$?
check "a skip exit fails acceptance at run 1 ($rc): $out" \
        bash -c '[ "$1" = 1 ] && grep -q "^FAIL: fixture acceptance (run 1): job [0-9]* concluded failure" <<<"$2" &&
                grep -qx "FAIL: fixture three-run determinism not evaluated: run 1 did not pass" <<<"$2"' sh "$rc" "$out"
check "... gate.json: failed, one run made" jt $obs/gskip/gate.json 'o["status"] == "failed" and len(o["runs"]) == 1'
out=$(lk gate run --lane lane-a --workflow fixture.yml --ref main --runs 1 --timeout 60 --input storm=20000 \
        --ringbuf-size 4096 --out $obs/gdrop 2>&1); rc=$?
check "a forced drop fails acceptance ($rc): $out" \
        bash -c '[ "$1" = 1 ] && grep -q "^FAIL: fixture acceptance (run 1): .*ring buffer drops (zero tolerance)" <<<"$2"' sh "$rc" "$out"

# ---- proof packs ----
out=$(lk proof pack $obs/gate --out $obs/pack 2>&1); rc=$?
check "proof pack of the passing gate: exit 0, passed ($rc): $out" \
        bash -c '[ "$1" = 0 ] && grep -q "^proof pack .*: passed, 17 subjects" <<<"$2"' sh "$rc" "$out"
check "... its manifest: schema, source, runs, statuses, retention, size, both verification modes" \
        jt $obs/pack/manifest.json 'o["schema"] == "lanekeeper.proof-pack/1" and o["repository"] == "acme/site" and o["ref"] == "main" and len(o["commit"]) == 40 and len(o["runs"]) == 3 and o["gates"][0]["status"] == "passed" and o["retention_days"] == 365 and o["size"]["bytes"] > 0 and set(o["verification"]) == {"historical", "current_state"} and len(o["gates"][0]["pass_lines"]) == 4'
check "... SHA256SUMS checks with coreutils' sha256sum" e2e_root sh -c "cd $obs/pack && sha256sum --quiet -c SHA256SUMS"
check "... the tarball holds the pack, mtime 0" \
        e2e_root "$py" -c 'import tarfile,sys
t = tarfile.open(sys.argv[1]); n = [x.name for x in t.getmembers()]
assert n == sorted(n) and "manifest.json" in n and "gates/fixture/run-3/observation.tar.gz" in n, n
assert all(x.mtime == 0 for x in t.getmembers())' $obs/pack.tar.gz
out=$(lk proof verify $obs/pack.tar.gz --require-passed 2>&1); rc=$?
check "proof verify of the tarball alone: intact ($rc): $out" \
        bash -c '[ "$1" = 0 ] && grep -q "intact, made .*, 17 of 17 subjects match" <<<"$2" && grep -q "^What it does not prove" <<<"$2"' sh "$rc" "$out"
out=$(lk proof pack $obs --out $obs/all-pack --expect fixture --expect nightly 2>&1); rc=$?
check "a pack of every gate: failed, with the missing one named ($rc): $out" \
        bash -c '[ "$1" = 1 ] && grep -q "gate nightly: missing" <<<"$2" && grep -q "gate fixture: failed" <<<"$2"' sh "$rc" "$out"
e2e_as lanekeeper sh -c "echo forged >>$obs/pack/gates/fixture/run-2/capability-surface.json"
out=$(lk proof verify $obs/pack 2>&1); rc=$?
check "a changed file: NOT INTACT, named ($rc): $out" \
        bash -c '[ "$1" = 1 ] && grep -q "PROBLEM gates/fixture/run-2/capability-surface.json: .*the manifest says" <<<"$2"' sh "$rc" "$out"

# ---- nothing outlives lanectl, killed included ----
check "nothing loaded after the observations" none_loaded
e2e_as lanekeeper /usr/local/bin/lanectl --config /usr/local/etc/lanekeeper/lanekeeper.conf \
        observe lane-a --duration 60 --out $obs/killed >/dev/null 2>&1 &
kpid=$!
for _ in $(seq 50); do [ "$(loaded)" -ge 5 ] && break; sleep 0.1; done
check "an observation attached 5 programs" test "$(loaded)" -ge 5
e2e_root pkill -KILL -f "observe lane-a --duration 60"
wait $kpid 2>/dev/null
check "lanectl killed: its programs are gone" none_loaded

# ---- no token anywhere in the artifacts ----
e2e_issued_tokens "$E2E_WORK/tokens" "$pat"
check "no issued token in any artifact" e2e_root sh -c "! grep -rqF -f $E2E_WORK/tokens $obs"

echo "test-kobs: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
