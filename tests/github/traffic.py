#!/usr/bin/python3
"""Traffic for the GitHub double: N runs at a given rate, each with one job
asking for the given labels and running the given step script; optionally
waits until every job is completed and prints what happened, with the
figures the SLO work reads (queue wait = started_at - created_at, run time
= completed_at - started_at), from the double's own REST answers.

  traffic.py --api http://127.0.0.1:PORT --token PAT --repo OWNER/NAME
             [--runs N] [--rate PER_S] [--labels a,b[;c,d...]]
             [--step 'sleep 1'] [--timeout-minutes M] [--wait SECONDS] [--json]
             [--pr trusted|fork|bot|contributor]

Label sets separated by ';' are used in turn (run i gets set i mod k).
With --pr each run is a pull_request run of a pull request of its own: by
a MEMBER from the repository itself (trusted), from a fork by a
CONTRIBUTOR, by a bot, or by a CONTRIBUTOR from the repository. Exits
0 when every run was created (and, with --wait, completed in time), 1
otherwise. Used by tests (test-runner-kit) and benchmarks (bench/job-latency).
"""
import argparse
import json
import sys
import time
import urllib.request


def call(api, token, method, path, body=None):
    req = urllib.request.Request(api + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + token, "User-Agent": "lanekeeper-traffic",
                                          "Accept": "application/vnd.github+json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"{}")


def seconds(stamp):
    return time.mktime(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--api", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--rate", type=float, default=5.0, help="runs created per second")
    ap.add_argument("--labels", default="self-hosted")
    ap.add_argument("--step", default="true")
    ap.add_argument("--timeout-minutes", type=float, default=360)
    ap.add_argument("--wait", type=float, default=0, help="seconds to wait for every job to complete")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--pr", choices=["trusted", "fork", "bot", "contributor"])
    a = ap.parse_args()
    sets = [[x.strip() for x in s.split(",") if x.strip()] for s in a.labels.split(";")]
    ids = []
    t0 = time.monotonic()
    for i in range(a.runs):
        due = t0 + i / a.rate
        time.sleep(max(0.0, due - time.monotonic()))
        body = {"repo": a.repo, "jobs": [{"name": "traffic-%d" % i, "runs_on": sets[i % len(sets)],
                                          "timeout_minutes": a.timeout_minutes, "steps": [{"run": a.step}]}]}
        if a.pr:
            who = {"trusted": {"author": "alice", "association": "MEMBER"},
                   "fork": {"author": "mallory", "association": "CONTRIBUTOR", "fork": a.repo.split("/")[0] + "-fork/x"},
                   "bot": {"author": "dependabot[bot]", "association": "NONE", "bot": True},
                   "contributor": {"author": "carol", "association": "CONTRIBUTOR"}}[a.pr]
            req = urllib.request.Request(a.api + "/_double/pull", data=json.dumps(dict(who, repo=a.repo)).encode(),
                                         method="POST")
            with urllib.request.urlopen(req, timeout=30) as r:
                body["pull"] = json.loads(r.read())["number"]
        req = urllib.request.Request(a.api + "/_double/run", data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            ids.append(json.loads(r.read())["run_id"])
    created = time.monotonic() - t0
    jobs = {}
    deadline = time.monotonic() + a.wait
    while True:
        for rid in ids:
            if rid not in jobs or jobs[rid]["status"] != "completed":
                jobs[rid] = call(a.api, a.token, "GET", "/repos/%s/actions/runs/%d/jobs" % (a.repo, rid))["jobs"][0]
        done = [j for j in jobs.values() if j["status"] == "completed"]
        if len(done) == len(ids) or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    waits = [seconds(j["started_at"]) - seconds(j["created_at"]) for j in done]
    times = [seconds(j["completed_at"]) - seconds(j["started_at"]) for j in done]
    by_runner = {}
    for j in done:
        by_runner[j["runner_name"]] = by_runner.get(j["runner_name"], 0) + 1
    report = {"runs": len(ids), "created_in_s": round(created, 3), "completed": len(done),
              "conclusions": {c: sum(1 for j in done if j["conclusion"] == c) for c in sorted({j["conclusion"] for j in done})},
              "queue_wait_s": {"p50": pct(waits, 50), "p95": pct(waits, 95), "max": max(waits or [0])},
              "run_time_s": {"p50": pct(times, 50), "p95": pct(times, 95)}, "by_runner": by_runner,
              "still_queued": sum(1 for j in jobs.values() if j["status"] == "queued")}
    if a.json:
        print(json.dumps(report, sort_keys=True))
    else:
        for k, v in report.items():
            print("%-14s %s" % (k, v))
    return 0 if not a.wait or len(done) == len(ids) else 1


if __name__ == "__main__":
    sys.exit(main())
