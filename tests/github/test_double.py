#!/usr/bin/python3
"""The GitHub double against GitHub's published OpenAPI description, and
its behaviour against the reference: every endpoint, pagination, ETags,
rate limits, App JWTs, token expiry, heartbeats and every fault class.
Each check can fail; the double also validates every body it sends and
the test ends by asserting it found no violation."""
import calendar
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import openapi_check  # noqa: E402

import jwt as pyjwt  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

passed = failed = 0
PAT = "ghp_" + "T3st" * 10   # built at run time, never committed whole


def check(what, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: %s %s" % (what, detail))


class Double:
    def __init__(self, work, **opts):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.pub = os.path.join(work, "app.pub")
        with open(self.pub, "wb") as f:
            f.write(self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo))
        port_file = os.path.join(work, "port")
        args = [sys.executable, os.path.join(HERE, "ghdouble.py"), "--port-file", port_file, "--app-id", "4242",
                "--app-public-key", self.pub, "--token", PAT, "--repo", "acme/site", "--org", "acme",
                "--heartbeat-timeout", "30"]
        for k, v in opts.items():
            args += ["--" + k.replace("_", "-"), str(v)]
        self.proc = subprocess.Popen(args)
        for _ in range(100):
            if os.path.exists(port_file):
                break
            time.sleep(0.05)
        self.port = int(open(port_file).read())

    def req(self, method, path, body=None, token=PAT, headers=None, raw=False):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        h = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
             "User-Agent": "lanekeeper-test"}
        if token:
            h["Authorization"] = "Bearer " + token
        h.update(headers or {})
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            h["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        text = r.read()
        c.close()
        if raw:
            return r.status, dict(r.getheaders()), text
        return r.status, {k.lower(): v for k, v in r.getheaders()}, json.loads(text) if text else None

    def ctl(self, what, body=None):
        return self.req("POST" if body is not None else "GET", "/_double/" + what, body, token=None)[2]

    def ctl_status(self, what, body):
        st, _, out = self.req("POST", "/_double/" + what, body, token=None)
        return st, out or {}

    def runner(self, what, body):
        """The runner's own protocol (what the kit's config.sh, listener and worker say): (status, body)."""
        st, _, out = self.req("POST", "/_runner/" + what, body, token=None)
        return st, out

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def valid(method, path, status, body, what):
    problems = openapi_check.check(method, urllib.parse.urlsplit(path).path, status, body)
    check("%s matches the OpenAPI description" % what, not problems, problems[:3])


def app_jwt(key, iat_delta=-60, exp_delta=540, iss="4242"):
    now = int(time.time())
    return pyjwt.encode({"iat": now + iat_delta, "exp": now + exp_delta, "iss": iss}, key, algorithm="RS256")


def main():
    work = tempfile.mkdtemp(prefix="lanekeeper-double-")
    d = Double(work)
    try:
        run(d)
    finally:
        d.stop()
        subprocess.call(["rm", "-rf", work])
    print("test-double: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def register(d, name, labels, version="2.330.0"):
    _, _, tok = d.req("POST", "/repos/acme/site/actions/runners/registration-token")
    return d.runner("register", {"token": tok["token"], "name": name, "labels": labels, "version": version})[1]


def run(d):
    # ---- the examples of the description itself ----
    n = 0
    for method, path, status, body in openapi_check.examples():
        if body is None:
            continue   # the description gives no example body there
        concrete = path.replace("{owner}", "o").replace("{repo}", "r").replace("{org}", "g") \
            .replace("{runner_id}", "1").replace("{run_id}", "2").replace("{name}", "N").replace("{installation_id}", "3")
        problems = openapi_check.check(method, concrete, status, body)
        if path == "/repos/{owner}/{repo}":
            # the reference: the spec's repository example omits language, which real responses carry (null or a name)
            check("the repository example lacks only language", problems and
                  all("'language' is a required property" in p for p in problems), problems)
        elif "/jobs" in path:
            # the reference: the spec's job example omits created_at, which real responses carry
            check("the jobs example lacks only created_at", problems and all("created_at" in p for p in problems),
                  problems)
        elif path.endswith("/pulls/{pull_number}"):
            # the spec's pull request example's requested team lacks the "type" its schema requires
            check("the pull request example lacks only a requested team's type", problems and
                  all("'type' is a required property at requested_teams/" in p for p in problems), problems)
        else:
            check("example %s %s %s validates" % (method, path, status), not problems, problems[:2])
        n += 1
    check("examples were checked", n >= 15, n)
    # the validator can fail
    check("a wrong type is caught", openapi_check.check("GET", "/repos/o/r/actions/runners", 200,
                                                        {"total_count": "1", "runners": []}))
    check("a missing member is caught", openapi_check.check("GET", "/repos/o/r/actions/runners/1", 200,
                                                            {"id": 1, "name": "x"}))
    check("null where not nullable is caught", openapi_check.check(
        "GET", "/repos/o/r/actions/runners/1", 200,
        {"id": 1, "name": "x", "os": "linux", "status": "online", "busy": None, "labels": []}))
    check("nullable accepts null", not openapi_check.check(
        "GET", "/repos/o/r/actions/runners/1", 200,
        {"id": 1, "name": "x", "os": "linux", "status": "online", "busy": False, "labels": [], "version": None}))

    # ---- headers every answer carries ----
    st, h, body = d.req("GET", "/repos/acme/site/actions/runners")
    check("list runners 200", st == 200, st)
    for k in ("etag", "date", "x-github-request-id", "x-ratelimit-limit", "x-ratelimit-remaining",
              "x-ratelimit-used", "x-ratelimit-reset", "x-ratelimit-resource", "cache-control"):
        check("header %s" % k, k in h, sorted(h))
    check("content type", h.get("content-type") == "application/json; charset=utf-8", h.get("content-type"))
    st, h, body = d.req("GET", "/repos/acme/site/actions/runners", headers={"User-Agent": ""})
    check("no User-Agent: 403", st == 403, st)
    st, h, body = d.req("GET", "/repos/acme/site/actions/runners", headers={"X-GitHub-Api-Version": "2001-01-01"})
    check("unsupported API version refused", st == 400, st)
    st, _, body = d.req("GET", "/repos/acme/site/actions/runners", token="ghp_wrong")
    check("bad credentials 401", st == 401 and body["message"] == "Bad credentials", (st, body))
    st, _, body = d.req("GET", "/repos/acme/other/actions/runners")
    check("unknown repository 404", st == 404, st)

    # ---- registration, runners, heartbeats ----
    r1 = register(d, "cm-website", ["lanekeeper-managed"])
    check("config.sh-like registration", r1.get("id", 0) > 0, r1)
    st, _, body = d.req("GET", "/repos/acme/site/actions/runners/%d" % r1["id"])
    valid("GET", "/repos/acme/site/actions/runners/1", st, body, "get runner")
    check("a registered runner is offline until it heartbeats", body["status"] == "offline", body)
    check("default labels plus the custom one", [x["name"] for x in body["labels"]] ==
          ["self-hosted", "Linux", "X64", "lanekeeper-managed"], body["labels"])
    hb = d.runner("heartbeat", {"id": r1["id"], "credential": r1["credential"], "session": "s1"})[1]
    st, _, body = d.req("GET", "/repos/acme/site/actions/runners/%d" % r1["id"])
    check("a heartbeat makes it online", body["status"] == "online", body)
    st, conflict = d.runner("heartbeat", {"id": r1["id"], "credential": r1["credential"], "session": "s2"})
    check("a second listener is a session conflict", st == 409, st)
    d.ctl("clock", {"offset": 31})
    st, _, body = d.req("GET", "/repos/acme/site/actions/runners/%d" % r1["id"])
    check("no heartbeat for 31 s: offline", body["status"] == "offline", body)
    d.ctl("clock", {"offset": 0})
    check("heartbeat was answered", hb is not None)
    st, dup = d.runner("register", {"token": "nope", "name": "x"})
    check("an unknown registration token is refused", st == 404, st)

    # ---- pagination: 250 runners, 100 a page, Link to follow ----
    _, _, tok = d.req("POST", "/repos/acme/site/actions/runners/registration-token")
    for i in range(249):
        d.runner("register", {"token": tok["token"], "name": "r-%03d" % i, "labels": []})
    seen, url, pages = [], "/repos/acme/site/actions/runners?per_page=100", 0
    while url:
        st, h, body = d.req("GET", url)
        valid("GET", url, st, body, "runner page")
        pages += 1
        seen += [r["id"] for r in body["runners"]]
        check("total_count is the whole", body["total_count"] == 250, body["total_count"])
        link = h.get("link")
        url = None
        if link:
            for part in link.split(","):
                if 'rel="next"' in part:
                    url = part.split(">")[0].strip(" <").split(str(d.port), 1)[1]
    check("three pages", pages == 3, pages)
    check("every runner once", sorted(seen) == sorted(set(seen)) and len(seen) == 250, len(seen))
    st, h, body = d.req("GET", "/repos/acme/site/actions/runners?name=CM-Website")
    check("name= filter, without case", st == 200 and [r["id"] for r in body["runners"]] == [r1["id"]], body)
    check("one page: no Link", "link" not in h, h.get("link"))

    # ---- ETags ----
    st, h, body = d.req("GET", "/repos/acme/site/actions/runners?name=cm-website")
    etag, used = h["etag"], int(h["x-ratelimit-used"])
    st, h2, body = d.req("GET", "/repos/acme/site/actions/runners?name=cm-website", headers={"If-None-Match": etag})
    check("unchanged: 304", st == 304 and body is None, st)
    check("a 304 costs nothing", int(h2["x-ratelimit-used"]) == used, (used, h2.get("x-ratelimit-used")))
    d.runner("heartbeat", {"id": r1["id"], "credential": r1["credential"], "session": "s1"})
    d.ctl("clock", {"offset": 40})
    st, h3, body = d.req("GET", "/repos/acme/site/actions/runners?name=cm-website", headers={"If-None-Match": etag})
    check("changed (offline now): 200 with a new ETag", st == 200 and h3["etag"] != etag, (st, h3.get("etag")))
    d.ctl("clock", {"offset": 0})

    # ---- labels ----
    rid = r1["id"]
    base = "/repos/acme/site/actions/runners/%d/labels" % rid
    for method, body_in, want in (("GET", None, ["self-hosted", "Linux", "X64", "lanekeeper-managed"]),
                                  ("POST", {"labels": ["gpu"]}, ["self-hosted", "Linux", "X64", "lanekeeper-managed", "gpu"]),
                                  ("PUT", {"labels": ["lanekeeper-managed", "arm"]},
                                   ["self-hosted", "Linux", "X64", "lanekeeper-managed", "arm"]),
                                  ("DELETE", None, ["self-hosted", "Linux", "X64"])):
        st, _, body = d.req(method, base, body_in)
        valid(method, base, st, body, "%s labels" % method)
        check("%s labels gives %s" % (method, want), [x["name"] for x in body["labels"]] == want, body)
    d.req("PUT", base, {"labels": ["a", "b"]})
    st, _, body = d.req("DELETE", base + "/a")
    valid("DELETE", base + "/a", st, body, "remove one label")
    check("remove one label", [x["name"] for x in body["labels"]] == ["self-hosted", "Linux", "X64", "b"], body)
    st, _, body = d.req("DELETE", base + "/nope")
    check("remove a missing label: 404", st == 404, st)
    st, _, body = d.req("POST", base, {"labels": []})
    check("add no label: 422", st == 422 and "errors" in body, (st, body))

    # ---- JIT config ----
    jit = {"name": "jit-1", "runner_group_id": 1, "labels": ["self-hosted", "lanekeeper-managed"]}
    st, _, body = d.req("POST", "/repos/acme/site/actions/runners/generate-jitconfig", jit)
    valid("POST", "/repos/acme/site/actions/runners/generate-jitconfig", st, body, "JIT config")
    check("JIT: 201, ephemeral, only the given labels", st == 201 and body["runner"]["ephemeral"] and
          [x["name"] for x in body["runner"]["labels"]] == jit["labels"], body)
    st, _, body = d.req("POST", "/repos/acme/site/actions/runners/generate-jitconfig", jit)
    check("JIT with an existing name: 409", st == 409, st)
    st, _, body = d.req("POST", "/repos/acme/site/actions/runners/generate-jitconfig", {"name": "x"})
    check("JIT without labels: 422", st == 422, st)

    # ---- tokens ----
    for scope in ("/repos/acme/site", "/orgs/acme"):
        st, h, body = d.req("POST", scope + "/actions/runners/registration-token")
        valid("POST", scope + "/actions/runners/registration-token", st, body, "registration token")
        check("registration token 201 for %s" % scope, st == 201, st)
        check("counted against actions_runner_registration", h["x-ratelimit-resource"] == "actions_runner_registration",
              h.get("x-ratelimit-resource"))
    st, _, body = d.req("POST", "/repos/acme/site/actions/runners/remove-token")
    valid("POST", "/repos/acme/site/actions/runners/remove-token", st, body, "remove token")
    victim = max(seen)
    check("unregister with a remove token", d.runner("unregister", {"token": body["token"], "id": victim})[0] == 200)
    check("unregistered: gone", d.req("GET", "/repos/acme/site/actions/runners/%d" % victim)[0] == 404)
    check("a remove token cannot register", d.runner("register", {"token": body["token"], "name": "z"})[0] == 404)

    # ---- org scope ----
    st, _, body = d.req("GET", "/orgs/acme/actions/runners")
    valid("GET", "/orgs/acme/actions/runners", st, body, "org runners")
    st, _, body = d.req("GET", "/orgs/acme/actions/runner-groups")
    valid("GET", "/orgs/acme/actions/runner-groups", st, body, "runner groups")
    check("the Default group", body["runner_groups"][0]["name"] == "Default", body)

    # ---- the repository: its default branch, settable by the test ----
    st, _, body = d.req("GET", "/repos/acme/site")
    valid("GET", "/repos/acme/site", st, body, "get repository")
    check("the repository's default branch is main", st == 200 and body["default_branch"] == "main", body.get("default_branch"))
    d.ctl("repo", {"repo": "acme/site", "default_branch": "trunk"})
    st, _, body = d.req("GET", "/repos/acme/site")
    check("a test can rename the default branch", body["default_branch"] == "trunk", body.get("default_branch"))
    d.ctl("repo", {"repo": "acme/site", "default_branch": "main"})
    st, _, body = d.req("GET", "/repos/acme/nope")
    check("an unknown repository is 404", st == 404, st)

    # ---- runs and jobs ----
    old = d.ctl("run", {"repo": "acme/site", "age_s": 5 * 3600, "jobs": [["old", ["nobody-has-this"]]]})["run_id"]
    st, _, jobs = d.req("GET", "/repos/acme/site/actions/runs/%d/jobs" % old)
    age = time.time() - calendar.timegm(time.strptime(jobs["jobs"][0]["created_at"], "%Y-%m-%dT%H:%M:%SZ"))
    check("a test's age_s dates a run's jobs back (%.0f s)" % age, 5 * 3600 - 5 < age < 5 * 3600 + 5, jobs["jobs"][0])
    d.req("POST", "/repos/acme/site/actions/runs/%d/cancel" % old)
    run1 = d.ctl("run", {"repo": "acme/site", "jobs": [["build", ["self-hosted", "lanekeeper-managed"]],
                                                       ["test", ["self-hosted"]]]})["run_id"]
    st, _, body = d.req("GET", "/repos/acme/site/actions/runs?status=queued")
    valid("GET", "/repos/acme/site/actions/runs", st, body, "runs")
    check("the queued run is listed", [r["id"] for r in body["workflow_runs"]] == [run1], body.get("total_count"))
    st, _, jobs = d.req("GET", "/repos/acme/site/actions/runs/%d/jobs" % run1)
    valid("GET", "/repos/acme/site/actions/runs/1/jobs", st, jobs, "jobs")
    check("jobs carry created_at, labels, no runner yet", all(j["created_at"] and j["runner_id"] is None
                                                              for j in jobs["jobs"]), jobs)
    st, hb = d.runner("heartbeat", {"id": r1["id"], "credential": r1["credential"], "session": "s1"})
    # its labels are self-hosted, Linux, X64, b now: "build" (lanekeeper-managed) is not its to take, "test" is
    claimed = (hb.get("job") or {}).get("job_id")
    check("the runner's long poll claims the job whose labels it has", claimed == jobs["jobs"][1]["id"], hb)
    st, _, body = d.req("GET", "/repos/acme/site/actions/runners/%d" % rid)
    check("a runner with a job is busy", body["busy"] is True, body)
    st, _, body = d.req("DELETE", "/repos/acme/site/actions/runners/%d" % rid)
    check("deleting a busy runner: 422", st == 422 and "still running a job" in body["message"], (st, body))
    st, _, body = d.req("POST", "/repos/acme/site/actions/runs/%d/cancel" % run1)
    valid("POST", "/repos/acme/site/actions/runs/1/cancel", st, body, "cancel")
    check("cancel 202", st == 202, st)
    st, told = d.runner("heartbeat", {"id": r1["id"], "credential": r1["credential"], "session": "s1", "busy": True})
    check("the runner is told of the cancellation", (told.get("cancel") or {}).get("job_id") == claimed, told)
    st, _ = d.runner("job", {"id": r1["id"], "credential": r1["credential"], "job": claimed,
                             "kind": "complete", "conclusion": "cancelled"})
    check("the worker's conclusion is taken", st == 200, st)
    st, _, body = d.req("POST", "/repos/acme/site/actions/runs/%d/cancel" % run1)
    check("cancel a completed run: 409", st == 409, st)
    st, _, body = d.req("POST", "/repos/acme/site/actions/runs/%d/force-cancel" % run1)
    check("force-cancel a completed run: 409", st == 409, st)
    st, _, body = d.req("POST", "/repos/acme/site/actions/runs/%d/rerun-failed-jobs" % run1)
    valid("POST", "/repos/acme/site/actions/runs/1/rerun-failed-jobs", st, body, "rerun failed jobs")
    check("rerun failed jobs 201", st == 201, st)
    run2 = d.ctl("run", {"repo": "acme/site"})["run_id"]
    st, _, body = d.req("POST", "/repos/acme/site/actions/runs/%d/force-cancel" % run2)
    check("force-cancel 202", st == 202, st)

    # ---- variables ----
    vbase = "/repos/acme/site/actions/variables"
    st, _, body = d.req("POST", vbase, {"name": "LANE_ROUTE", "value": "lanekeeper"})
    valid("POST", vbase, st, body, "create variable")
    check("create variable 201", st == 201, st)
    st, _, body = d.req("POST", vbase, {"name": "LANE_ROUTE", "value": "x"})
    check("create it again: 409", st == 409, st)
    st, _, body = d.req("POST", vbase, {"name": "GITHUB_X", "value": "x"})
    check("a GITHUB_ name: 422", st == 422, st)
    st, _, body = d.req("PATCH", vbase + "/LANE_ROUTE", {"value": "github-hosted"})
    check("update 204", st == 204 and body is None, st)
    st, _, body = d.req("GET", vbase + "/LANE_ROUTE")
    valid("GET", vbase + "/LANE_ROUTE", st, body, "get variable")
    check("the new value", body["value"] == "github-hosted", body)
    st, _, body = d.req("GET", vbase)
    valid("GET", vbase, st, body, "list variables")

    # ---- App authentication ----
    key = d.key
    st, _, body = d.req("GET", "/repos/acme/site/installation", token=app_jwt(key))
    valid("GET", "/repos/acme/site/installation", st, body, "installation")
    st, h, body = d.req("POST", "/app/installations/777/access_tokens", token=app_jwt(key))
    valid("POST", "/app/installations/777/access_tokens", st, body, "access token")
    check("installation token 201", st == 201, (st, body))
    itok = body["token"]
    check("the token is long, with dots", len(itok) > 300 and "." in itok and itok.startswith("ghs_"), len(itok))
    st, _, body = d.req("GET", "/repos/acme/site/actions/runners?per_page=1", token=itok)
    check("the installation token works", st == 200, st)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for what, tok in (("another key", app_jwt(other)), ("exp past", app_jwt(key, -700, -100)),
                      ("exp over 10 min", app_jwt(key, 0, 700)), ("iat in the future", app_jwt(key, 120, 500)),
                      ("another issuer", app_jwt(key, iss="1")), ("HS256", pyjwt.encode({"iat": 0}, "k", "HS256"))):
        st, _, body = d.req("POST", "/app/installations/777/access_tokens", token=tok)
        check("JWT with %s: 401" % what, st == 401, (st, body))
    st, _, body = d.req("GET", "/repos/acme/site/actions/runners", token=app_jwt(key))
    check("a JWT cannot list runners", st == 401, st)
    d.ctl("fault", {"kind": "expire-token", "match": "runners"})
    st, _, body = d.req("GET", "/repos/acme/site/actions/runners", token=itok)
    check("an expired installation token: 401", st == 401, st)

    # ---- rate limits ----
    st, h, body = d.req("GET", "/rate_limit")
    valid("GET", "/rate_limit", st, body, "rate limit")
    used = body["resources"]["core"]["used"]
    st, h, body = d.req("GET", "/rate_limit")
    check("GET /rate_limit is free", body["resources"]["core"]["used"] == used, body["resources"]["core"])
    d.ctl("fault", {"kind": "secondary", "retry_after": 3})
    st, h, body = d.req("GET", "/repos/acme/site/actions/runners")
    check("secondary limit: 403 with retry-after", st == 403 and h.get("retry-after") == "3" and
          "secondary rate limit" in body["message"], (st, h.get("retry-after")))

    # ---- faults ----
    d.ctl("fault", {"kind": "status", "status": 502, "message": "Server Error"})
    st, _, _ = d.req("GET", "/repos/acme/site/actions/runners")
    check("injected 502", st == 502, st)
    st, _, _ = d.req("GET", "/repos/acme/site/actions/runners")
    check("a fault is consumed", st == 200, st)
    d.ctl("fault", {"kind": "malformed"})
    st, _, text = d.req("GET", "/repos/acme/site/actions/runners", raw=True)
    try:
        json.loads(text)
        ok = False
    except ValueError:
        ok = True
    check("malformed JSON", st == 200 and ok, text[:40])
    d.ctl("fault", {"kind": "slow", "seconds": 1.2})
    t = time.time()
    d.req("GET", "/repos/acme/site/actions/runners?per_page=1")
    check("a slow answer", time.time() - t >= 1.1, time.time() - t)
    d.ctl("fault", {"kind": "reset"})
    try:
        d.req("GET", "/repos/acme/site/actions/runners")
        ok = False
    except (ConnectionError, http.client.HTTPException, OSError):
        ok = True
    check("a connection reset", ok)

    # ---- primary limit: exhaust a small budget ----
    small_work = tempfile.mkdtemp(prefix="lanekeeper-double-")
    small = Double(small_work, rate_limit=3)
    try:
        codes = [small.req("GET", "/repos/acme/site/actions/runners")[0] for _ in range(4)]
        st, h, body = small.req("GET", "/repos/acme/site/actions/runners")
        check("three answers, then 403", codes == [200, 200, 200, 403] and st == 403, codes)
        check("remaining 0 and a reset", h.get("x-ratelimit-remaining") == "0" and int(h["x-ratelimit-reset"]) > time.time(),
              h)
    finally:
        small.stop()
        subprocess.call(["rm", "-rf", small_work])

    violations = d.ctl("violations")["violations"]
    check("the double sent nothing the description forbids", not violations, violations[:5])
    log = json.dumps(d.ctl("log"))
    check("the log holds no token", PAT not in log and itok[:40] not in log)


if __name__ == "__main__":
    sys.exit(main())
