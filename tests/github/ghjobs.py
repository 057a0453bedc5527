"""Jobs in the GitHub double: workflows, runs, scheduling, the runner's
protocol; REST endpoints in ghrest.py, webhooks in ghhooks.py.

Scheduling is GitHub's: a queued job is claimed by an online runner that is
idle (in GitHub's view), of the job's repository or of the repository's
organisation (runner group Default, which admits every repository), and
whose labels include every label of the job's runs-on, without regard to
case. A job no runner matches stays queued. A job for an environment with
required reviewers waits until a review approves it. The claim reaches the
runner only through its listener session: the listener's long poll (POST
/_runner/heartbeat) returns the job message; the worker then reports
steps, output and the conclusion (POST /_runner/job). Nothing else moves a
job, except the REST API (cancel, force-cancel, reruns, reviews) and the
double's clock.

Conclusions: success, failure, cancelled. A job that outlives its
timeout-minutes is concluded `cancelled`, as on GitHub (its REST and
webhook conclusions are the same; GitHub's published webhook schema
allows no `timed_out` for a job), and its log carries GitHub's
annotation "The job running on runner NAME has exceeded the maximum
execution time of N minutes."; the worker enforces it, as the real one does.
"""
import hashlib
import os
import queue
import secrets
import threading
import time

from ghhooks import deliver_loop, emit_job, emit_run, minimal_repo, user_obj

LOG_CAP = 4 << 20          # bytes of job log kept (GitHub truncates far later)
LONG_POLL_MAX = 30.0


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def init_state(st):
    st.cond = threading.Condition(st.lock)   # a job queued, a job cancelled: wakes long polls
    st.workflows = {}          # (repo lower, id) -> workflow definition
    st.jobx = {}               # job id -> the double's own: repo, steps, timeout, cancel, log
    st.actions = {}            # (owner/repo lower, ref) -> {path: text}
    st.hooks = []              # [{id, url, secret, events}]
    st.deliveries = []         # [{id, event, action, status, problems}]
    st.job_tokens = []         # every GITHUB_TOKEN handed to a job (for leak scans)
    st.jit_issued = []         # every JIT secret and encoded configuration (for leak scans)
    st.pulls = {}              # (repo lower, number) -> the double's pull request (ghrest.pull_view)
    st.environments = {}       # (repo lower, name) -> {id, name, protected}: required reviewers make jobs wait
    st.log_urls = {}           # signed log URL id -> (job id, expires)
    st.hookq = queue.Queue()
    threading.Thread(target=deliver_loop, args=(st,), daemon=True).start()


# ---- scheduling ----

def runner_online(st, r):
    return r["last_heartbeat"] is not None and st.now() - r["last_heartbeat"] < st.heartbeat_timeout


def runner_matches(r, repo, labels):
    kind, name = r["scope"].split(":", 1)
    if kind == "repo" and name != repo.lower():
        return False
    if kind == "org" and name != repo.split("/")[0].lower():
        return False
    have = {x["name"].lower() for x in r["labels"]}
    return all(lab.lower() in have for lab in labels)


def claim(st, r, host):
    """The job message for runner R, claiming the oldest queued job it can take; None when there is none."""
    for j in sorted(st.jobs.values(), key=lambda j: j["id"]):
        x = st.jobx[j["id"]]
        if j["status"] != "queued" or not runner_matches(r, x["repo"], j["labels"]):
            continue
        if not st.repos.get(x["repo"].lower(), {}).get("actions", {}).get("enabled", True):
            continue          # Actions disabled for the repository: its queued jobs stay, untouched
        if r.get("scale_set") and not st.ss_may_run(r, j):
            continue          # a scale set's runner takes only the jobs assigned to its set
        now = st.now()
        token = "ghs_" + secrets.token_urlsafe(27)
        st.tokens[token] = {"expires": now + 86400, "kind": "job"}
        st.job_tokens.append(token)
        x.update(token=token, cancel=None, attempt_runner=r["id"])
        j.update(status="in_progress", runner_id=r["id"], runner_name=r["name"], started_at=iso(now),
                 runner_group_id=r["runner_group_id"], runner_group_name="Default",
                 steps=[{"name": name, "status": "queued", "conclusion": None, "number": i + 1,
                         "started_at": None, "completed_at": None}
                        for i, name in enumerate(["Set up job"] + [s["name"] for s in x["steps"]] + ["Complete job"])])
        r["busy"], r["job"] = True, j["id"]
        run = st.runs[j["run_id"]]["view"]
        if run["status"] != "in_progress":
            run["status"] = "in_progress"
            run["updated_at"] = iso(now)
            emit_run(st, run["id"], "in_progress", host)
        emit_job(st, j, "in_progress", host)
        return {"job_id": j["id"], "run_id": j["run_id"], "run_attempt": j["run_attempt"], "repository": x["repo"],
                "workflow": j["workflow_name"], "name": j["name"], "labels": j["labels"], "steps": x["steps"],
                "timeout_minutes": x["timeout"], "token": token, "api_url": "http://%s" % host,
                "head_sha": j["head_sha"], "ref": "refs/heads/%s" % j["head_branch"]}
    return None


def append_log(st, jid, text):
    x = st.jobx[jid]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(st.now())) + ".0000000Z "
    lines = "".join(stamp + ln + "\n" for ln in text.splitlines())
    if len(x["log"]) + len(lines) <= LOG_CAP:
        x["log"] += lines


def finish_job(st, j, conclusion, host):
    now = st.now()
    j.update(status="completed", conclusion=conclusion, completed_at=iso(now))
    for s in j["steps"]:
        if s["status"] != "completed":
            s.update(status="completed", conclusion="cancelled" if s["status"] == "in_progress" else "skipped",
                     started_at=s["started_at"] or iso(now), completed_at=iso(now))
    x = st.jobx[j["id"]]
    if x.get("token") in st.tokens:
        st.tokens[x["token"]]["expires"] = now - 1     # GITHUB_TOKEN dies with its job
    r = st.runners.get(j["runner_id"] or 0)
    if r and r.get("job") == j["id"]:
        r["busy"], r["job"] = False, None
        if r["ephemeral"]:
            r["spent"] = True      # deregistered once its listener hears the job is over
    emit_job(st, j, "completed", host)
    run = st.runs[j["run_id"]]["view"]
    latest = [y for y in st.jobs.values() if y["run_id"] == run["id"] and y["run_attempt"] == run["run_attempt"]]
    if run["status"] != "completed" and all(y["status"] == "completed" for y in latest):
        concl = [y["conclusion"] for y in latest]
        run.update(status="completed", updated_at=iso(now),
                   conclusion="failure" if "failure" in concl else "cancelled" if "cancelled" in concl else "success")
        emit_run(st, run["id"], "completed", host)
    st.cond.notify_all()


def new_job(st, rid, spec, repo, attempt, host, now, branch, sha, workflow):
    jid = st.new_id()
    owner, name = repo.split("/")
    base = "http://%s/repos/%s/%s" % (host, owner, name)
    steps = spec.get("steps") or [{"run": "true"}]
    steps = [dict(s, name=s.get("name") or ("Run %s" % s["uses"] if "uses" in s else "Run " + s["run"].split("\n")[0][:40]))
             for s in steps]
    j = {"id": jid, "run_id": rid, "run_url": "%s/actions/runs/%d" % (base, rid), "run_attempt": attempt,
         "node_id": "CR_%d" % jid, "head_sha": sha, "head_branch": branch, "url": "%s/actions/jobs/%d" % (base, jid),
         "html_url": "https://github.com/%s/actions/runs/%d/job/%d" % (repo, rid, jid),
         "status": "queued", "conclusion": None, "created_at": iso(now), "started_at": iso(now), "completed_at": None,
         "name": spec["name"], "steps": [], "check_run_url": "%s/check-runs/%d" % (base, jid),
         "labels": list(spec["runs_on"]), "runner_id": None, "runner_name": None, "runner_group_id": None,
         "runner_group_name": None, "workflow_name": workflow}
    env = st.environments.get((repo.lower(), spec.get("environment") or ""))
    st.jobs[jid] = j
    st.jobx[jid] = {"repo": repo, "steps": steps, "timeout": spec.get("timeout_minutes", 360), "cancel": None,
                    "log": "", "spec": spec, "environment": env}
    if env and env["protected"]:
        j["status"] = "waiting"        # for a reviewer of its environment; no runner sees it until approved
        emit_job(st, j, "waiting", host)
        return j
    emit_job(st, j, "queued", host)
    st.cond.notify_all()
    return j


def job_specs(body):
    """The jobs of a run from a workflow definition or the control body; the old [[name, labels]] form too."""
    out = []
    for j in body.get("jobs", [["build", ["self-hosted"]]]):
        if isinstance(j, list):
            j = {"name": j[0], "runs_on": j[1]}
        runs_on = j.get("runs_on", j.get("runs-on", ["self-hosted"]))
        out.append({"name": j["name"], "runs_on": [runs_on] if isinstance(runs_on, str) else list(runs_on),
                    "steps": j.get("steps"), "timeout_minutes": j.get("timeout_minutes", j.get("timeout-minutes", 360)),
                    "environment": j.get("environment")})
    return out


def create_run(st, repo, wf, host, event="push", branch="main", sha=None, actor="octocat", title=None, age=0, pr=None):
    """A new run of WF; AGE (seconds, a test's) dates it and its jobs that far back; PR (the double's
    pull request) makes it a pull_request run: GitHub names the pull request only when its head is
    the repository itself (a fork's run has pull_requests []), and the run's actor is its author."""
    rid = st.new_id()
    now = st.now() - age
    if pr:
        event, branch, sha, actor = "pull_request", pr["branch"], pr["sha"], pr["author"]
    sha = sha or hashlib.sha1(str(rid).encode()).hexdigest()
    owner, name = repo.split("/")
    base = "http://%s/repos/%s/%s" % (host, owner, name)
    v = {"id": rid, "name": wf["name"], "node_id": "WFR_%d" % rid, "head_branch": branch, "head_sha": sha,
         "path": wf["path"], "display_title": title or wf["name"], "run_number": rid, "event": event,
         "status": "queued", "conclusion": None, "workflow_id": wf["id"], "check_suite_id": rid,
         "check_suite_node_id": "CS_%d" % rid, "url": "%s/actions/runs/%d" % (base, rid),
         "html_url": "https://github.com/%s/actions/runs/%d" % (repo, rid), "pull_requests": [],
         "created_at": iso(now), "updated_at": iso(now), "run_attempt": 1, "run_started_at": iso(now),
         "actor": user_obj(actor), "triggering_actor": user_obj(actor), "previous_attempt_url": None,
         "jobs_url": "%s/actions/runs/%d/jobs" % (base, rid), "logs_url": "%s/actions/runs/%d/logs" % (base, rid),
         "check_suite_url": "%s/check-suites/%d" % (base, rid), "artifacts_url": "%s/actions/runs/%d/artifacts" % (base, rid),
         "cancel_url": "%s/actions/runs/%d/cancel" % (base, rid), "rerun_url": "%s/actions/runs/%d/rerun" % (base, rid),
         "workflow_url": "%s/actions/workflows/%d" % (base, wf["id"]), "head_commit": None,
         "repository": minimal_repo(repo, host), "head_repository": minimal_repo(pr["head_repo"] if pr else repo, host)}
    if pr:
        kind = "Bot" if pr["bot"] else "User"
        v.update(actor=user_obj(actor, kind, pr["author_id"]), triggering_actor=user_obj(actor, kind, pr["author_id"]))
        if pr["head_repo"].lower() == repo.lower():
            side = {"id": 1, "name": name, "url": "http://%s/repos/%s" % (host, repo)}
            v["pull_requests"] = [{"id": pr["id"], "number": pr["number"], "url": "http://%s/repos/%s/pulls/%d" % (host, repo, pr["number"]),
                                   "head": {"ref": pr["branch"], "sha": pr["sha"], "repo": side},
                                   "base": {"ref": "main", "sha": pr["base_sha"], "repo": side}}]
    st.runs[rid] = {"scope": "repo:" + repo.lower(), "view": v, "workflow": wf, "repo": repo}
    emit_run(st, rid, "requested", host)
    for spec in job_specs(wf):
        new_job(st, rid, spec, repo, 1, host, now, branch, sha, wf["name"])
    return rid


def inline_workflow(st, repo, body):
    """A workflow from the control body: a registered one by id or path, else the body's own jobs."""
    want = body.get("workflow")
    for (r, _), wf in st.workflows.items():
        if r == repo.lower() and want in (wf["id"], wf["path"], os.path.basename(wf["path"])):
            return wf
    return {"id": 1, "name": body.get("workflow") if isinstance(body.get("workflow"), str) else "CI",
            "path": ".github/workflows/ci.yml", "jobs": body.get("jobs", [["build", ["self-hosted"]]]), "on": ["push"]}


# ---- the runner's protocol (what the kit's listener and worker send) ----

def runner_protocol(handler, what, body):
    """POST /_runner/WHAT: registration, the listener's session, the worker's reports."""
    st = handler.st
    host = handler.headers.get("Host")
    if not isinstance(body, dict):
        return 400, {"message": "a JSON object is expected"}
    with st.lock:
        if what in ("register", "unregister"):
            return registration(handler, what, body)
        r = st.runners.get(int(body.get("id") or 0))
        if not r or not body.get("credential") or body.get("credential") not in (r.get("credential"), r.get("jit_secret")):
            return 404, {"message": "runner not found"}   # exit code 1 in the runner: the registration is gone
        if what == "session":
            return create_session(st, r, body)
        if what == "heartbeat":
            return heartbeat(st, r, body, host)
        if what == "disconnect":
            if r["session"] == body.get("session"):
                r["session"], r["last_heartbeat"] = None, None
            return 200, {}
        if what == "job":
            return job_report(st, r, body, host)
    return 404, {"message": "no such runner call"}


def registration(handler, what, body):
    st = handler.st
    reg = st.reg_tokens.get(body.get("token"))
    if what == "register":
        # what config.sh does with a registration token
        if not reg or reg["purpose"] != "registration" or reg["expires"] <= st.now() or not isinstance(body.get("name"), str):
            return 404, {"message": "Invalid registration token"}
        existing = [r for r in st.runners.values() if r["scope"] == reg["scope"] and r["name"].lower() == body["name"].lower()]
        if existing and not body.get("replace"):
            return 409, {"message": "A runner exists with the same name"}
        for r in existing:
            del st.runners[r["id"]]
        r = handler.add_runner(reg["scope"], body["name"], body.get("labels", []), ephemeral=bool(body.get("ephemeral")),
                               group=body.get("runner_group_id", 1), default_labels=not body.get("no_default_labels"))
        r["version"] = body.get("version")
        r["credential"] = secrets.token_urlsafe(24)
        return 201, {"id": r["id"], "name": r["name"], "credential": r["credential"]}
    r = st.runners.get(int(body.get("id") or 0))
    if not reg or reg["purpose"] != "remove" or reg["expires"] <= st.now() or not r or r["scope"] != reg["scope"]:
        return 404, {"message": "Invalid remove token or runner"}
    del st.runners[r["id"]]
    return 200, {}


def create_session(st, r, body):
    """The listener's CreateSession: the runner is online from now on; another
    listener's live session is a conflict (exit code 5 in the runner)."""
    if r["session"] and r["session"] != body.get("session") and runner_online(st, r):
        return 409, {"message": "session conflict"}
    r["session"], r["last_heartbeat"] = body.get("session"), st.now()
    if body.get("version"):
        r["version"] = body["version"]
    st.cond.notify_all()
    return 200, {"session": r["session"]}


def heartbeat(st, r, body, host):
    """The listener's long poll: the session's heartbeat; a job for an idle runner; a cancellation for a busy one."""
    if r["session"] and r["session"] != body.get("session") and runner_online(st, r):
        return 409, {"message": "session conflict"}
    wait = min(float(body.get("wait") or 0), LONG_POLL_MAX)
    deadline = time.monotonic() + wait
    # the session is heard when the poll arrives; a listener that stops polling
    # (SIGSTOP, a hung host) goes offline one heartbeat timeout after its last poll
    r["session"], r["last_heartbeat"] = body.get("session"), st.now()
    if body.get("version"):
        r["version"] = body["version"]
    while True:
        if r.get("spent"):
            del st.runners[r["id"]]        # an ephemeral runner's one job is over: deregistered
            st.cond.notify_all()
            return 404, {"message": "runner not found"}
        if r["busy"] and r.get("job"):
            x = st.jobx[r["job"]]
            if x["cancel"] and body.get("cancelled") != r["job"]:
                return 200, {"busy": True, "cancel": {"job_id": r["job"], "reason": x["cancel"]}}
        elif not r["busy"]:
            # GitHub's view decides, not the listener's: a job may reach a listener whose last
            # worker is still exiting; the listener starts it after (as actions/runner's dispatcher)
            msg = claim(st, r, host)
            if msg:
                return 200, {"busy": True, "job": msg}
        left = deadline - time.monotonic()
        if left <= 0:
            return 200, {"busy": bool(r["busy"])}
        st.cond.wait(min(left, 1.0))
        if r["id"] not in st.runners:
            return 404, {"message": "runner not found"}


def job_report(st, r, body, host):
    j = st.jobs.get(int(body.get("job") or 0))
    if not j or j["runner_id"] != r["id"]:
        return 404, {"message": "not this runner's job"}
    x = st.jobx[j["id"]]
    kind = body.get("kind")
    if j["status"] == "completed":
        return 200, {"cancel": x["cancel"] or "completed"}   # force-cancelled meanwhile: nothing more is taken
    now = iso(st.now())
    if kind == "log":
        append_log(st, j["id"], str(body.get("text", "")))
    elif kind == "step":
        n = int(body.get("number", 0))
        if not 1 <= n <= len(j["steps"]):
            return 400, {"message": "no such step"}
        s = j["steps"][n - 1]
        if body.get("status") == "in_progress":
            s.update(status="in_progress", started_at=now)
        else:
            concl = body.get("conclusion")
            if concl not in ("success", "failure", "cancelled", "skipped"):
                return 400, {"message": "bad step conclusion"}
            s.update(status="completed", conclusion=concl, started_at=s["started_at"] or now, completed_at=now)
    elif kind == "complete":
        concl = body.get("conclusion")
        if concl not in ("success", "failure", "cancelled"):
            return 400, {"message": "bad job conclusion"}
        finish_job(st, j, concl, host)
    elif kind != "poll":
        return 400, {"message": "unknown report"}
    return 200, {"cancel": x["cancel"]}


# ---- REST: runs, jobs, logs, workflows, tarballs ----

def cancel_run(st, v, force, host):
    """Queued jobs are cancelled at once; running ones' runners are told (force: and the job ends now)."""
    for j in sorted(st.jobs.values(), key=lambda j: j["id"]):
        if j["run_id"] != v["id"] or j["status"] == "completed":
            continue
        if j["status"] in ("queued", "waiting"):
            finish_job(st, j, "cancelled", host)
            continue
        st.jobx[j["id"]]["cancel"] = st.jobx[j["id"]]["cancel"] or "cancelled"
        if force:
            finish_job(st, j, "cancelled", host)
    if v["status"] != "completed" and not any(j["run_id"] == v["id"] and j["status"] != "completed"
                                              for j in st.jobs.values()):
        v.update(status="completed", conclusion="cancelled", updated_at=iso(st.now()))
        emit_run(st, v["id"], "completed", host)
    st.cond.notify_all()


def rerun(st, rid, failed_only, host):
    run = st.runs[rid]
    v = run["view"]
    prev = [j for j in st.jobs.values() if j["run_id"] == rid and j["run_attempt"] == v["run_attempt"]]
    v.update(status="queued", conclusion=None, run_attempt=v["run_attempt"] + 1, updated_at=iso(st.now()),
             run_started_at=iso(st.now()), previous_attempt_url="%s/attempts/%d" % (v["url"], v["run_attempt"]))
    emit_run(st, rid, "requested", host)
    now = st.now()
    for j in sorted(prev, key=lambda j: j["id"]):
        spec = st.jobx[j["id"]]["spec"]
        if failed_only and j["conclusion"] == "success":
            keep = dict(j, run_attempt=v["run_attempt"], id=st.new_id())   # carried into the new attempt as it was
            st.jobs[keep["id"]] = keep
            st.jobx[keep["id"]] = dict(st.jobx[j["id"]])
            continue
        new_job(st, rid, spec, run["repo"], v["run_attempt"], host, now, v["head_branch"], v["head_sha"], v["name"])


def latest_jobs(st, rid, which):
    jobs = [j for j in st.jobs.values() if j["run_id"] == rid]
    if which == "all":
        return sorted(jobs, key=lambda j: j["id"])
    top = max([j["run_attempt"] for j in jobs] or [1])
    return sorted((j for j in jobs if j["run_attempt"] == top), key=lambda j: j["id"])
