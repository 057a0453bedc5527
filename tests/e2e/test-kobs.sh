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
jobs:
  fixture:
    runs-on: [self-hosted, "${{ inputs.lane }}-only"]
    steps:
      - name: work
        env:
          EXTRA: ${{ inputs.extra }}
          STORM: ${{ inputs.storm }}
          CODE: ${{ inputs.code }}
        run: |
          mkdir -p out
          echo hello > out/a.txt
          cat /etc/hostname > out/b.txt
          if [ "$EXTRA" = 1 ]; then echo more > out/c.txt; fi
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
out=$(lk observe lane-a --dispatch fixture.yml --ref main --timeout 60 --input storm=3000 --ringbuf-size 4096 --out $obs/drop 2>&1); rc=$?
check "a tiny ring buffer: exit 1 ($rc): $out" test "$rc" = 1
check "... partial_ringbuf_drops with the count of the counters" \
        jt $obs/drop/observation-health.json 'o["kernel_layer"] == "partial_ringbuf_drops" and o["ringbuf_drops"] > 0'

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
