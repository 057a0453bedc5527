#!/usr/bin/python3
"""The GitHub double's jobs against GitHub's behaviour: scheduling by labels
and scope through the runner's own session (the test speaks the runner's
protocol, as the kit's listener and worker do; nothing moves a job behind
a runner's back), the long poll, timestamps on the double's clock, run
endpoints (list filters, get, cancel, force-cancel, reruns, dispatch),
job logs through a signed 302, action tarballs, ephemeral runners, and
webhooks: signed with the hook's secret, in order, each payload valid
against GitHub's published schemas. Every body the double sends is checked
against the OpenAPI subset; the test ends asserting no violation."""
import hashlib
import hmac
import http.server
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ghhooks  # noqa: E402
import openapi_check  # noqa: E402
from test_double import PAT, Double, check, valid  # noqa: E402
import test_double  # noqa: E402

SECRET = "hook-secret-" + os.urandom(8).hex()
R = "/repos/acme/site"


class Receiver(http.server.BaseHTTPRequestHandler):
    got = []

    def do_POST(self):
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, raw))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


def receiver():
    srv = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


class Runner:
    """A runner as the kit's listener and worker speak for it."""

    def __init__(self, d, name, labels, scope=R, ephemeral=False):
        self.d = d
        if ephemeral:
            st, _, body = d.req("POST", scope + "/actions/runners/generate-jitconfig",
                                {"name": name, "runner_group_id": 1, "labels": labels})
            cfg = json.loads(__import__("base64").b64decode(body["encoded_jit_config"]))
            self.id, self.cred = cfg[".runner"], cfg[".credentials"]
        else:
            _, _, tok = d.req("POST", scope + "/actions/runners/registration-token")
            _, reg = d.runner("register", {"token": tok["token"], "name": name, "labels": labels})
            self.id, self.cred = reg["id"], reg["credential"]
        self.session = "s-" + name
        self.job = None

    @classmethod
    def listener(cls, d, rid, cred, session):
        """A listener of a runner registered elsewhere (a JIT configuration's), with its own SESSION."""
        r = cls.__new__(cls)
        r.d, r.id, r.cred, r.session, r.job = d, rid, cred, session, None
        return r

    def poll(self, busy=False, wait=0, **extra):
        st, body = self.d.runner("heartbeat", dict(extra, id=self.id, credential=self.cred, session=self.session,
                                                   busy=busy, wait=wait))
        if st == 200 and body.get("job"):
            self.job = body["job"]
        return st, body

    def report(self, kind, **fields):
        return self.d.runner("job", dict(fields, id=self.id, credential=self.cred, job=self.job["job_id"], kind=kind))

    def finish(self, conclusion="success", text="ok\n"):
        n = len(self.job["steps"])
        self.report("step", number=1, status="completed", conclusion="success")
        for i in range(n):
            self.report("step", number=i + 2, status="in_progress")
            self.report("log", text=text)
            self.report("step", number=i + 2, status="completed", conclusion=conclusion)
        self.report("step", number=n + 2, status="completed", conclusion="success")
        st, _ = self.report("complete", conclusion=conclusion)
        self.job = None
        return st


def sessions(d):
    """One listener session per runner: a second conflicts (exit 5 in the listener) until the first is
    deleted, which needs the runner's credential, as the listener's own exit does."""
    r = Runner(d, "sess-1", ["sessions"])
    st, _ = r.poll()
    check("a session is opened by the first poll", st == 200, st)
    other = Runner.listener(d, r.id, r.cred, "s-second")
    st, _ = other.poll()
    check("a second session of the same runner conflicts: 409", st == 409, st)
    st, _ = d.runner("disconnect", {"id": r.id, "session": r.session})
    check("a disconnect without the credential is refused", st == 404, st)
    st, _ = d.runner("disconnect", {"id": r.id, "credential": r.cred, "session": r.session})
    check("the session deleted on the listener's exit", st == 200, st)
    st, _ = other.poll()
    check("... so the next listener's session opens at once", st == 200, st)
    # CreateSession (what the listener does before "Listening for Jobs"):
    # online at once, without waiting for a long poll
    r2 = Runner(d, "sess-2", ["sessions"])
    st, _, body = d.req("GET", "/repos/acme/site/actions/runners/%d" % r2.id)
    check("a new runner is offline before its session", body["status"] == "offline", body.get("status"))
    st, _ = d.runner("session", {"id": r2.id, "credential": r2.cred, "session": r2.session})
    check("a session created: 200", st == 200, st)
    st, _, body = d.req("GET", "/repos/acme/site/actions/runners/%d" % r2.id)
    check("... and the runner is online at once", body["status"] == "online", body.get("status"))
    st, _ = d.runner("session", {"id": r2.id, "credential": r2.cred, "session": "s-other"})
    check("another listener's CreateSession conflicts: 409", st == 409, st)
    st, _ = d.runner("session", {"id": r2.id, "credential": "wrong", "session": "s-other"})
    check("a CreateSession without the credential: 404", st == 404, st)
    st, _ = r2.poll()
    check("the session's own long poll goes on", st == 200, st)


def run_of(d, body):
    return d.ctl("run", dict({"repo": "acme/site"}, **body))["run_id"]


def jobs_of(d, rid, which="latest"):
    st, _, body = d.req("GET", "%s/actions/runs/%d/jobs?filter=%s" % (R, rid, which))
    valid("GET", "%s/actions/runs/1/jobs" % R, st, body, "jobs of run %d" % rid)
    return body["jobs"]


def get_run(d, rid):
    st, _, body = d.req("GET", "%s/actions/runs/%d" % (R, rid))
    valid("GET", "%s/actions/runs/1" % R, st, body, "get run")
    return body


def scheduling(d):
    gpu = Runner(d, "gpu-1", ["GPU"])                       # repository scope, labels without case
    org = Runner(d, "org-1", ["arm64"], scope="/orgs/acme")
    for r in (gpu, org):
        r.poll()
    first = run_of(d, {"jobs": [{"name": "cuda", "runs_on": ["self-hosted", "gpu"]}]})
    second = run_of(d, {"jobs": [{"name": "cuda-2", "runs_on": ["self-hosted", "gpu"]}]})
    arm = run_of(d, {"jobs": [{"name": "arm", "runs_on": ["self-hosted", "ARM64"]}]})
    never = run_of(d, {"jobs": [{"name": "never", "runs_on": ["self-hosted", "riscv"]}]})
    st, body = gpu.poll()
    check("the oldest job the runner matches is claimed (labels without case)",
          gpu.job and gpu.job["job_id"] == jobs_of(d, first)[0]["id"], body)
    check("the job message carries the job's token and steps", gpu.job["token"].startswith("ghs_") and
          gpu.job["steps"] and gpu.job["timeout_minutes"] == 360, gpu.job)
    st, body = gpu.poll(busy=True)
    check("a busy runner takes no second job", "job" not in body, body)
    st, body = org.poll()
    check("an organisation's runner takes its repositories' jobs", org.job and
          org.job["job_id"] == jobs_of(d, arm)[0]["id"], body)
    j = jobs_of(d, first)[0]
    check("claimed: in_progress with the runner's id, name and group", j["status"] == "in_progress" and
          j["runner_id"] == gpu.id and j["runner_name"] == "gpu-1" and j["runner_group_name"] == "Default", j)
    check("steps: Set up job, the job's own, Complete job", [s["name"] for s in j["steps"]] ==
          ["Set up job", "Run true", "Complete job"] and all(s["status"] == "queued" for s in j["steps"]), j["steps"])
    check("a running job's run is in_progress", get_run(d, first)["status"] == "in_progress")
    # a job no runner matches stays queued, forever, as on GitHub
    d.ctl("clock", {"offset": 86400 * 3})
    for r in (gpu, org):
        r.poll(busy=r.job is not None)
    d.ctl("clock", {"offset": 0})
    check("labels no runner has: queued after three days", jobs_of(d, never)[0]["status"] == "queued")
    st, _, body = d.req("GET", "%s/actions/runs?status=queued" % R)
    check("and its run is listed as queued", never in [r["id"] for r in body["workflow_runs"]], body["total_count"])
    # the worker's reports make the job's history
    gpu.report("step", number=1, status="in_progress")
    gpu.report("step", number=1, status="completed", conclusion="success")
    j = jobs_of(d, first)[0]
    check("a step's own times", j["steps"][0]["started_at"] and j["steps"][0]["completed_at"] and
          j["steps"][0]["conclusion"] == "success", j["steps"][0])
    check("a bad step conclusion is refused", gpu.report("step", number=2, status="completed", conclusion="meh")[0] == 400)
    check("a step that is not there is refused", gpu.report("step", number=9, status="in_progress")[0] == 400)
    st, _ = d.runner("job", {"id": org.id, "credential": org.cred, "job": gpu.job["job_id"], "kind": "poll"})
    check("another runner cannot report on this job", st == 404, st)
    st, _ = d.runner("job", {"id": gpu.id, "credential": "wrong", "job": gpu.job["job_id"], "kind": "poll"})
    check("a wrong credential cannot report", st == 404, st)
    token = gpu.job["token"]
    check("finished", gpu.finish(text="built with %s\n" % "cuda") == 200)
    j = jobs_of(d, first)[0]
    check("completed: success, completed_at, every step concluded", j["status"] == "completed" and
          j["conclusion"] == "success" and j["completed_at"] and all(s["status"] == "completed" for s in j["steps"]), j)
    st, _, _ = d.req("GET", "%s/actions/runs" % R, token=token)
    check("the job's token dies with its job", st == 401, st)
    check("the run: completed, success", get_run(d, first)["conclusion"] == "success")
    st, body = gpu.poll()
    check("idle again: it claims the next", gpu.job and gpu.job["job_id"] == jobs_of(d, second)[0]["id"], body)
    gpu.finish(conclusion="failure")
    check("a failed job fails its run", get_run(d, second)["conclusion"] == "failure")
    org.finish()
    return gpu, never, first, second


def queue_wait(d, gpu):
    rid = run_of(d, {"jobs": [{"name": "later", "runs_on": ["gpu"]}]})
    d.ctl("clock", {"offset": 600})
    gpu.poll()
    d.ctl("clock", {"offset": 0})
    j = jobs_of(d, rid)[0]
    wait = time.mktime(time.strptime(j["started_at"], "%Y-%m-%dT%H:%M:%SZ")) - \
        time.mktime(time.strptime(j["created_at"], "%Y-%m-%dT%H:%M:%SZ"))
    check("queue wait is started_at - created_at on the double's clock", 600 <= wait <= 602, wait)
    gpu.finish()


def long_poll(d, gpu):
    timer = threading.Timer(0.5, lambda: run_of(d, {"jobs": [{"name": "wake", "runs_on": ["gpu"]}]}))
    t = time.monotonic()
    timer.start()
    st, body = gpu.poll(wait=20)
    took = time.monotonic() - t
    check("a long poll returns with the job queued meanwhile", body.get("job") and body["job"]["name"] == "wake", body)
    check("... soon after it was queued, not at the end of the wait", took < 10, took)
    st, body = gpu.poll(busy=True, wait=0.3)
    check("a long poll with nothing to say ends at its wait", st == 200 and "job" not in body and "cancel" not in body,
          body)
    gpu.finish()


def cancelling(d, gpu):
    rid = run_of(d, {"jobs": [{"name": "a", "runs_on": ["gpu"]}, {"name": "b", "runs_on": ["gpu"]}]})
    gpu.poll()
    running = gpu.job["job_id"]
    st, _, body = d.req("POST", "%s/actions/runs/%d/cancel" % (R, rid))
    valid("POST", "%s/actions/runs/1/cancel" % R, st, body, "cancel")
    jobs = {j["id"]: j for j in jobs_of(d, rid)}
    other = [j for j in jobs.values() if j["id"] != running][0]
    check("cancel: the queued job is cancelled at once", other["status"] == "completed" and
          other["conclusion"] == "cancelled" and other["runner_id"] is None, other)
    check("cancel: the running job waits for its runner", jobs[running]["status"] == "in_progress", jobs[running])
    check("cancel: the run is not completed before its runner answers", get_run(d, rid)["status"] != "completed")
    st, body = gpu.poll(busy=True)
    check("the runner is told", body.get("cancel", {}).get("job_id") == running, body)
    st, body = gpu.poll(busy=True, wait=0.2, cancelled=running)
    check("... once: a listener that heard it is not told again", "cancel" not in body, body)
    st, ans = gpu.report("poll")
    check("the worker's own reports say cancel too", ans.get("cancel") == "cancelled", ans)
    gpu.report("complete", conclusion="cancelled")
    gpu.job = None
    check("then the run is completed, cancelled", get_run(d, rid)["conclusion"] == "cancelled")
    # force-cancel: the job ends now, whatever its runner does
    rid = run_of(d, {"jobs": [{"name": "stuck", "runs_on": ["gpu"]}]})
    gpu.poll()
    st, _, body = d.req("POST", "%s/actions/runs/%d/force-cancel" % (R, rid))
    valid("POST", "%s/actions/runs/1/force-cancel" % R, st, body, "force-cancel")
    check("force-cancel: completed at once", get_run(d, rid)["conclusion"] == "cancelled" and
          jobs_of(d, rid)[0]["conclusion"] == "cancelled")
    st, ans = gpu.report("complete", conclusion="success")
    check("a late success after force-cancel changes nothing", jobs_of(d, rid)[0]["conclusion"] == "cancelled", ans)
    gpu.job = None
    return rid


def reruns(d, gpu, failed_run):
    before = jobs_of(d, failed_run)
    st, _, body = d.req("POST", "%s/actions/runs/%d/rerun-failed-jobs" % (R, failed_run))
    valid("POST", "%s/actions/runs/1/rerun-failed-jobs" % R, st, body, "rerun failed")
    run = get_run(d, failed_run)
    check("rerun: a new attempt", run["run_attempt"] == 2 and run["status"] == "queued" and
          run["previous_attempt_url"], run)
    latest, every = jobs_of(d, failed_run), jobs_of(d, failed_run, "all")
    check("filter=latest: the new attempt's jobs, queued", [j["run_attempt"] for j in latest] == [2] and
          latest[0]["status"] == "queued" and latest[0]["id"] != before[0]["id"], latest)
    check("filter=all: every attempt", sorted(j["run_attempt"] for j in every) == [1, 2], every)
    gpu.poll()
    check("the new attempt's job is claimed and runs", gpu.job and gpu.job["run_attempt"] == 2, gpu.job)
    gpu.finish()
    check("the run succeeds on attempt 2", get_run(d, failed_run)["conclusion"] == "success")
    st, _, body = d.req("POST", "%s/actions/runs/%d/rerun-failed-jobs" % (R, failed_run))
    check("a successful run has no failed jobs to rerun: 403", st == 403, st)
    st, _, body = d.req("POST", "%s/actions/runs/%d/rerun" % (R, failed_run))
    valid("POST", "%s/actions/runs/1/rerun" % R, st, body, "rerun")
    check("rerun: attempt 3 of every job", get_run(d, failed_run)["run_attempt"] == 3 and
          jobs_of(d, failed_run)[0]["status"] == "queued", st)
    st, _, body = d.req("POST", "%s/actions/runs/%d/rerun" % (R, failed_run))
    check("rerun of a run still going: 403", st == 403, st)
    gpu.poll()
    gpu.finish()


def dispatch_and_lists(d, gpu):
    wid = d.ctl("workflow", {"repo": "acme/site", "name": "Nightly", "path": ".github/workflows/nightly.yml",
                             "jobs": [{"name": "n", "runs_on": ["gpu"], "steps": [{"name": "go", "run": "echo n"}]}]})[
        "workflow_id"]
    d.ctl("workflow", {"repo": "acme/site", "name": "Push only", "path": ".github/workflows/push.yml", "on": ["push"],
                       "jobs": [{"name": "p", "runs_on": ["gpu"]}]})
    st, _, body = d.req("GET", "%s/actions/workflows" % R)
    valid("GET", "%s/actions/workflows" % R, st, body, "list workflows")
    check("two workflows", body["total_count"] == 2, body)
    path = "%s/actions/workflows/%d/dispatches" % (R, wid)
    st, _, body = d.req("POST", path, {"ref": "main", "inputs": {"why": "test"}})
    valid("POST", path, st, body, "dispatch")
    check("dispatch: 204", st == 204, (st, body))
    st, _, body = d.req("POST", "%s/actions/workflows/nightly.yml/dispatches" % R, {"ref": "refs/heads/release"})
    check("dispatch by file name", st == 204, st)
    st, _, body = d.req("POST", path, {})
    check("dispatch without ref: 422", st == 422, st)
    st, _, body = d.req("POST", "%s/actions/workflows/push.yml/dispatches" % R, {"ref": "main"})
    check("a workflow without workflow_dispatch: 422", st == 422 and "workflow_dispatch" in body["message"], body)
    st, _, body = d.req("POST", "%s/actions/workflows/none.yml/dispatches" % R, {"ref": "main"})
    check("an unknown workflow: 404", st == 404, st)
    st, _, body = d.req("GET", "%s/actions/runs?event=workflow_dispatch" % R)
    check("list by event", body["total_count"] == 2 and all(r["event"] == "workflow_dispatch" and r["name"] == "Nightly"
                                                            for r in body["workflow_runs"]), body["total_count"])
    st, _, body = d.req("GET", "%s/actions/runs?branch=release" % R)
    check("list by branch", body["total_count"] == 1, body["total_count"])
    run_of(d, {"actor": "hubot", "jobs": [{"name": "h", "runs_on": ["gpu"]}]})
    st, _, body = d.req("GET", "%s/actions/runs?actor=hubot" % R)
    valid("GET", "%s/actions/runs" % R, st, body, "runs by actor")
    check("list by actor", body["total_count"] == 1 and body["workflow_runs"][0]["actor"]["login"] == "hubot", body)
    st, _, body = d.req("GET", "%s/actions/runs/999999" % R)
    check("an unknown run: 404", st == 404, st)
    for _ in range(4):
        gpu.poll()
        if gpu.job:
            gpu.finish()


def logs_and_tarballs(d, gpu):
    rid = run_of(d, {"jobs": [{"name": "logged", "runs_on": ["gpu"]}]})
    gpu.poll()
    jid = gpu.job["job_id"]
    gpu.finish(text="line one\nline two\n")
    st, h, body = d.req("GET", "%s/actions/jobs/%d" % (R, jid))
    valid("GET", "%s/actions/jobs/1" % R, st, body, "get job")
    st, h, body = d.req("GET", "%s/actions/jobs/%d/logs" % (R, jid), raw=True)
    h = {k.lower(): v for k, v in h.items()}
    check("job logs: 302 to a signed URL", st == 302 and "sig=" in h.get("location", ""), (st, h.get("location")))
    loc = urllib.parse.urlsplit(h["location"])
    st, _, text = d.req("GET", loc.path + "?" + loc.query, token=None, raw=True)
    check("the signed URL needs no token and gives the job's output", st == 200 and b"line one" in text and
          b"line two" in text, text[:80])
    check("each log line is stamped", all(ln[:4].isdigit() and "Z " in ln for ln in text.decode().splitlines()), text[:80])
    st, _, text = d.req("GET", loc.path + "?sig=forged", token=None, raw=True)
    check("a forged signature: 403", st == 403, st)
    d.ctl("clock", {"offset": 61})
    st, _, text = d.req("GET", loc.path + "?" + loc.query, token=None, raw=True)
    d.ctl("clock", {"offset": 0})
    check("a signed URL lives a minute", st == 403, st)
    st, _, body = d.req("GET", "%s/actions/jobs/%d/logs" % (R, jid), token=None)
    check("job logs need a token", st == 401, st)
    d.ctl("action", {"repo": "acme/hello", "ref": "v1", "files": {"action.yml": "runs:\n  using: composite\n"}})
    st, h, _ = d.req("GET", "/repos/acme/hello/tarball/v1", raw=True)
    loc = urllib.parse.urlsplit({k.lower(): v for k, v in h.items()}.get("location", ""))
    st2, _, data = d.req("GET", loc.path + "?" + loc.query, token=None, raw=True)
    names = []
    try:
        names = tarfile.open(fileobj=io.BytesIO(data), mode="r:gz").getnames()
    except tarfile.TarError:
        pass
    check("tarball: 302, then a gzip'd tar under one top directory", st == 302 and st2 == 200 and len(names) == 1 and
          names[0].endswith("/action.yml"), (st, st2, names))
    check("an unknown ref: 404", d.req("GET", "/repos/acme/hello/tarball/v9", raw=True)[0] == 404)
    return rid


def ephemeral(d):
    jit = Runner(d, "jit-1", ["self-hosted", "eph"], ephemeral=True)
    a = run_of(d, {"jobs": [{"name": "one", "runs_on": ["eph"]}]})
    b = run_of(d, {"jobs": [{"name": "two", "runs_on": ["eph"]}]})
    jit.poll()
    check("the JIT runner claims a job", jit.job and jit.job["job_id"] == jobs_of(d, a)[0]["id"], jit.job)
    jit.finish()
    st, body = jit.poll()
    check("after its one job an ephemeral runner is deregistered", st == 404, (st, body))
    check("... and gone from the list", d.req("GET", "%s/actions/runners/%d" % (R, jit.id))[0] == 404)
    check("the other job waits for another runner", jobs_of(d, b)[0]["status"] == "queued")


def environments(d, gpu):
    """A job for an environment with required reviewers waits; approved, it is queued; rejected, it fails."""
    Receiver.got.clear()
    env = d.ctl("environment", {"repo": "acme/site", "name": "production", "reviewers": True})["environment_id"]
    rid = run_of(d, {"jobs": [{"name": "deploy", "runs_on": ["gpu"], "environment": "production"}]})
    check("a job for a protected environment waits", jobs_of(d, rid)[0]["status"] == "waiting")
    st, body = gpu.poll()
    check("a waiting job is no runner's", "job" not in body, body)
    path = "%s/actions/runs/%d/pending_deployments" % (R, rid)
    st, _, body = d.req("POST", path, {"environment_ids": [env], "state": "approved"})
    check("a review without a comment: 422", st == 422, st)
    st, _, body = d.req("POST", path, {"environment_ids": [env], "state": "approved", "comment": "ship it"})
    valid("POST", path, st, body, "approve")
    check("approved: a deployment answered", st == 200 and body and body[0]["environment"] == "production", body)
    check("approved: queued", jobs_of(d, rid)[0]["status"] == "queued")
    st, body = gpu.poll()
    check("then claimed", gpu.job and gpu.job["run_id"] == rid, body)
    gpu.finish()
    st, _, body = d.req("POST", path, {"environment_ids": [env], "state": "approved", "comment": "again"})
    check("nothing waits any more: 422", st == 422, st)
    rid = run_of(d, {"jobs": [{"name": "deploy", "runs_on": ["gpu"], "environment": "production"}]})
    st, _, body = d.req("POST", "%s/actions/runs/%d/pending_deployments" % (R, rid),
                        {"environment_ids": [env], "state": "rejected", "comment": "not today"})
    check("rejected: the job fails without a runner", jobs_of(d, rid)[0]["conclusion"] == "failure" and
          jobs_of(d, rid)[0]["runner_id"] is None, jobs_of(d, rid)[0])


def webhooks(d, srv, gpu, never):
    Receiver.got.clear()
    url = "http://127.0.0.1:%d/hook" % srv.server_address[1]
    d.ctl("hooks", {"url": url, "secret": SECRET})
    rid = run_of(d, {"jobs": [{"name": "hooked", "runs_on": ["gpu"]}]})
    gpu.poll()
    gpu.finish()
    for _ in range(100):
        if len(Receiver.got) >= 6:
            break
        time.sleep(0.05)
    seen = [(h["x-github-event"], json.loads(raw)["action"]) for h, raw in Receiver.got]
    check("events in order", seen == [("workflow_run", "requested"), ("workflow_job", "queued"),
                                      ("workflow_run", "in_progress"), ("workflow_job", "in_progress"),
                                      ("workflow_job", "completed"), ("workflow_run", "completed")], seen)
    for h, raw in Receiver.got:
        want = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        other = "sha256=" + hmac.new(b"another secret", raw, hashlib.sha256).hexdigest()
        check("X-Hub-Signature-256 verifies with the secret", hmac.compare_digest(h.get("x-hub-signature-256", ""), want))
        check("... and not with another", not hmac.compare_digest(h.get("x-hub-signature-256", ""), other))
        check("a delivery id", len(h.get("x-github-delivery", "")) == 36, h.get("x-github-delivery"))
        payload = json.loads(raw)
        check("the payload is GitHub's shape", not ghhooks.check_webhook(h["x-github-event"], payload["action"], payload),
              ghhooks.check_webhook(h["x-github-event"], payload["action"], payload)[:2])
    done = [json.loads(raw) for h, raw in Receiver.got if h["x-github-event"] == "workflow_job"][-1]
    check("the completed job's payload names its runner and run", done["workflow_job"]["runner_id"] == gpu.id and
          done["workflow_job"]["run_id"] == rid and done["workflow_job"]["conclusion"] == "success", done["workflow_job"])
    # the validator can fail
    bad = json.loads(json.dumps(done))
    bad["workflow_job"]["conclusion"] = "timed_out"    # REST allows it; GitHub's webhook schema does not
    check("a conclusion the schema does not allow is caught", ghhooks.check_webhook("workflow_job", "completed", bad))
    del bad["repository"]
    check("a missing repository is caught", any("repository" in p for p in ghhooks.check_webhook("workflow_job",
                                                                                                "completed", bad)))
    environments(d, gpu)
    for _ in range(100):
        if any(json.loads(raw).get("action") == "waiting" for _, raw in Receiver.got):
            break
        time.sleep(0.05)
    actions = [json.loads(raw)["action"] for h, raw in Receiver.got if h["x-github-event"] == "workflow_job"]
    check("a waiting job is delivered as waiting, then queued once approved", actions[:3] == ["waiting", "queued",
                                                                                            "in_progress"], actions)
    deliveries = d.ctl("deliveries")["deliveries"]
    check("every delivery answered 204 with no schema problem", deliveries and
          all(x["status"] == 204 and not x["problems"] for x in deliveries), deliveries[-1:])
    st, _, _ = d.req("POST", "%s/actions/runs/%d/cancel" % (R, never))
    time.sleep(0.3)
    last = json.loads(Receiver.got[-1][1])
    check("cancelling a queued job is delivered as completed, cancelled",
          last.get("workflow_run", {}).get("conclusion") == "cancelled" or
          last.get("workflow_job", {}).get("conclusion") == "cancelled", last.get("action"))


def pull_requests(d):
    """Pull-request runs as GitHub shows them: the run names its pull request only when the head is the
    repository itself (a fork's has pull_requests []), its actor is the author; the pull request carries
    the author's association; the runs listing filters by event."""
    same = d.ctl("pull", {"repo": "acme/site", "author": "alice", "association": "MEMBER"})["number"]
    fork = d.ctl("pull", {"repo": "acme/site", "author": "mallory", "association": "CONTRIBUTOR",
                          "fork": "mallory/site"})["number"]
    bot = d.ctl("pull", {"repo": "acme/site", "author": "dependabot[bot]", "association": "NONE", "bot": True})["number"]
    runs = {n: run_of(d, {"pull": n, "jobs": [{"name": "t", "runs_on": ["ubuntu-latest"]}]}) for n in (same, fork, bot)}
    st, _, body = d.req("GET", R + "/actions/runs?event=pull_request&per_page=100")
    listed = {r["id"]: r for r in body["workflow_runs"]}
    check("the listing filtered by event has the three pull-request runs and nothing else",
          st == 200 and set(listed) == set(runs.values()), sorted(listed))
    r = listed[runs[same]]
    check("a same-repository run names its pull request", r["event"] == "pull_request" and
          [p["number"] for p in r["pull_requests"]] == [same] and r["head_repository"]["full_name"] == "acme/site", r)
    check("its actor is the author", r["actor"]["login"] == "alice" and r["actor"]["type"] == "User")
    f = listed[runs[fork]]
    check("a fork's run names no pull request, its head is the fork", f["pull_requests"] == [] and
          f["head_repository"]["full_name"] == "mallory/site", (f["pull_requests"], f["head_repository"]["full_name"]))
    check("a bot's run has a Bot actor", listed[runs[bot]]["actor"]["type"] == "Bot")
    st, _, pr = d.req("GET", R + "/pulls/%d" % same)
    check("GET pulls/N: the author and association", st == 200 and pr["user"]["login"] == "alice" and
          pr["author_association"] == "MEMBER" and pr["number"] == same and pr["head"]["repo"]["full_name"] == "acme/site",
          (st, pr.get("author_association") if isinstance(pr, dict) else pr))
    st, _, pr = d.req("GET", R + "/pulls/%d" % fork)
    check("a fork's pull request: its head repository is the fork", pr["head"]["repo"]["full_name"] == "mallory/site" and
          pr["head"]["repo"]["fork"] is True and pr["author_association"] == "CONTRIBUTOR")
    st, _, _ = d.req("GET", R + "/pulls/999")
    check("an unknown pull request is 404", st == 404, st)
    check("pulls/N is in the subset", openapi_check.operation_for("GET", R + "/pulls/1"))


WORKFLOW_FILE = """name: smoke
run-name: smoke ${{ inputs.nonce }}
on:
  workflow_dispatch:
    inputs:
      labels: {required: true, type: string}
      nonce: {required: true, type: string}
      minutes: {required: false, type: string, default: "10"}
permissions:
  contents: read
jobs:
  smoke:
    runs-on: ${{ fromJSON(inputs.labels) }}
    timeout-minutes: ${{ fromJSON(inputs.minutes) }}
    steps:
      - name: marker
        env:
          NONCE: ${{ inputs.nonce }}
        run: printf 'marker %s\\n' "$NONCE"
"""


def workflow_files(d, gpu):
    """A workflow file (YAML) as GitHub reads it: refused outside the syntax the double runs; a dispatch's
    inputs checked; runs-on, timeout-minutes, env and run-name evaluated; the run's id returned on request."""
    path = ".github/workflows/smoke.yml"
    for bad, why in (("on: [push]\njobs: {}\n", "no jobs"), ("on: [schedule]\njobs: {a: {runs-on: x, steps: [{run: 'true'}]}}\n",
                                                               "no 'schedule' event"),
                     (WORKFLOW_FILE.replace("contents: read", "contents: admin"), "permissions"),
                     (WORKFLOW_FILE.replace("${{ inputs.nonce }}\non:", "${{ secrets.X }}\non:"), "no expression"),
                     (WORKFLOW_FILE.replace("run: printf", "uses: nope\n        run: printf"), "one of uses and run"),
                     ("[", "not YAML")):
        st, body = d.ctl_status("workflow", {"repo": "acme/site", "path": path, "yaml": bad})
        check("workflow file refused (%s): %s" % (why, body.get("message")), st == 422 and why in body.get("message", ""),
              (st, body))
    wid = d.ctl("workflow", {"repo": "acme/site", "path": path, "yaml": WORKFLOW_FILE})["workflow_id"]
    disp = "%s/actions/workflows/smoke.yml/dispatches" % R
    st, _, body = d.req("POST", disp, {"ref": "main", "inputs": {"labels": "[\"gpu\"]", "nonce": "n1", "extra": "x"}})
    check("an undeclared input: 422", st == 422 and "Unexpected inputs provided: [\"extra\"]" in body["message"], body)
    st, _, body = d.req("POST", disp, {"ref": "main", "inputs": {"labels": "[\"gpu\"]"}})
    check("a required input missing: 422", st == 422 and "Required input 'nonce'" in body["message"], body)
    st, _, body = d.req("POST", disp, {"ref": "main", "inputs": {"labels": "gpu", "nonce": "n1"}})
    check("runs-on from input that is not JSON: 422", st == 422 and "fromJSON" in body["message"], body)
    st, _, body = d.req("POST", disp, {"ref": "main", "inputs": {"labels": "[\"gpu\"]", "nonce": "n1"},
                                       "return_run_details": True})
    valid("POST", disp, st, body, "dispatch with run details")
    check("dispatch with return_run_details: 200 and the run's id", st == 200 and body.get("workflow_run_id"), (st, body))
    rid = body["workflow_run_id"]
    run = get_run(d, rid)
    check("run-name evaluated: the run's display_title", run["display_title"] == "smoke n1" and run["name"] == "smoke",
          run["display_title"])
    check("the run is the workflow's", run["workflow_id"] == wid and run["event"] == "workflow_dispatch", run)
    job = jobs_of(d, rid)[0]
    check("runs-on from fromJSON(inputs.labels)", job["labels"] == ["gpu"], job["labels"])
    gpu.poll()
    check("the job message carries the step's env and the timeout",
          gpu.job and gpu.job["steps"][0].get("env") == {"NONCE": "n1"} and gpu.job["timeout_minutes"] == 10, gpu.job)
    if gpu.job:
        gpu.finish()


def actions_permissions(d, gpu):
    """The repository's Actions permissions: disabled, a queued job stays queued (no runner is given it)
    and a dispatch is refused; enabled again, the job is claimed."""
    path = "%s/actions/permissions" % R
    st, _, body = d.req("GET", path)
    valid("GET", path, st, body, "actions permissions")
    check("Actions enabled, all actions, by default", (st, body.get("enabled"), body.get("allowed_actions")) == (200, True, "all"),
          body)
    st, _, body = d.req("PUT", path, {"allowed_actions": "all"})
    check("PUT without enabled: 422", st == 422, st)
    st, _, body = d.req("PUT", path, {"enabled": False})
    valid("PUT", path, st, body, "disable Actions")
    check("disabled: 204", st == 204, st)
    st, _, body = d.req("GET", path)
    check("... read back", body.get("enabled") is False and "allowed_actions" not in body, body)
    rid = run_of(d, {"jobs": [{"name": "paused", "runs_on": ["gpu"]}]})
    gpu.poll()
    check("a disabled repository's queued job is given to no runner", not gpu.job and
          jobs_of(d, rid)[0]["status"] == "queued", gpu.job)
    st, _, body = d.req("POST", "%s/actions/workflows/smoke.yml/dispatches" % R,
                        {"ref": "main", "inputs": {"labels": "[\"gpu\"]", "nonce": "n2"}})
    check("a dispatch while disabled: 422", st == 422 and "disabled" in body["message"], (st, body))
    st, _, body = d.req("PUT", path, {"enabled": True, "allowed_actions": "all"})
    check("enabled again: 204", st == 204, st)
    gpu.poll()
    check("... the queued job is claimed", gpu.job and gpu.job["job_id"] == jobs_of(d, rid)[0]["id"], gpu.job)
    if gpu.job:
        gpu.finish()


def main():
    work = tempfile.mkdtemp(prefix="lanekeeper-jobs-")
    d = Double(work)
    srv = receiver()
    try:
        gpu, never, first, second = scheduling(d)
        sessions(d)
        queue_wait(d, gpu)
        long_poll(d, gpu)
        cancelling(d, gpu)
        reruns(d, gpu, second)
        dispatch_and_lists(d, gpu)
        workflow_files(d, gpu)
        actions_permissions(d, gpu)
        logs_and_tarballs(d, gpu)
        ephemeral(d)
        webhooks(d, srv, gpu, never)
        pull_requests(d)
        violations = d.ctl("violations")["violations"]
        check("the double sent nothing the descriptions forbid", not violations, violations[:5])
        check("the job operations are in the subset", openapi_check.operation_for("GET", R + "/actions/jobs/1/logs"))
        log = json.dumps(d.ctl("log"))
        check("the log holds no token", PAT not in log)
    finally:
        d.stop()
        srv.shutdown()
        subprocess.call(["rm", "-rf", work])
    print("test-jobs: %d passed, %d failed" % (test_double.passed, test_double.failed))
    return 1 if test_double.failed else 0


if __name__ == "__main__":
    sys.exit(main())
