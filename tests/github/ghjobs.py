"""Jobs in the GitHub double: workflows, runs, scheduling, the runner's
protocol, job logs, action tarballs and webhooks.

Scheduling is GitHub's: a queued job is claimed by an online runner that is
idle (its listener says so), of the job's repository or of the
repository's organisation (runner group Default, which admits every
repository), and whose labels include every label of the job's runs-on,
without regard to case. A job no runner matches stays queued. The claim
reaches the runner only through its listener session: the listener's long
poll (POST /_runner/heartbeat) returns the job message; the worker then
reports steps, output and the conclusion (POST /_runner/job). Nothing
else moves a job, except the REST API (cancel, force-cancel, reruns) and
the double's clock.

Conclusions: success, failure, cancelled. A job that outlives its
timeout-minutes is concluded `cancelled`, as on GitHub (its REST and
webhook conclusions are the same; GitHub's published webhook schema
allows no `timed_out` for a job), and its log carries GitHub's
annotation "The job running on runner NAME has exceeded the maximum
execution time of N minutes."; the worker enforces it, as the real one does.

Webhooks (POST /_double/hooks {url, secret[, events]}): workflow_job
(queued, waiting, in_progress, completed) and workflow_run (requested,
in_progress, completed), with X-GitHub-Event, X-GitHub-Delivery,
X-GitHub-Hook-ID, X-Hub-Signature-256 (HMAC-SHA256 of the body with the
secret), delivered in order from one thread; every payload is validated
against tests/github/webhooks-subset.json (GitHub's published schemas).
"""
import base64
import hashlib
import hmac
import io
import json
import os
import queue
import secrets
import tarfile
import threading
import time
import urllib.parse
import urllib.request
import uuid

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
WEBHOOKS = json.load(open(os.path.join(HERE, "webhooks-subset.json")))
LOG_CAP = 4 << 20          # bytes of job log kept (GitHub truncates far later)
LONG_POLL_MAX = 30.0


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def check_webhook(event, action, payload):
    """Problems with PAYLOAD as GitHub's published schema for EVENT$ACTION sees them."""
    name = "%s$%s" % (event, action)
    if name not in WEBHOOKS["definitions"]:
        return ["%s is not an event of the webhooks subset" % name]
    root = {"$ref": "#/definitions/" + name, "definitions": WEBHOOKS["definitions"]}
    return ["%s: %s at %s" % (name, e.message, "/".join(str(p) for p in e.absolute_path))
            for e in jsonschema.Draft7Validator(root).iter_errors(payload)]


def init_state(st):
    st.cond = threading.Condition(st.lock)   # a job queued, a job cancelled: wakes long polls
    st.workflows = {}          # (repo lower, id) -> workflow definition
    st.jobx = {}               # job id -> the double's own: repo, steps, timeout, cancel, log
    st.actions = {}            # (owner/repo lower, ref) -> {path: text}
    st.hooks = []              # [{id, url, secret, events}]
    st.deliveries = []         # [{id, event, action, status, problems}]
    st.job_tokens = []         # every GITHUB_TOKEN handed to a job (for leak scans)
    st.environments = {}       # (repo lower, name) -> {id, name, protected}: required reviewers make jobs wait
    st.log_urls = {}           # signed log URL id -> (job id, expires)
    st.hookq = queue.Queue()
    threading.Thread(target=deliver_loop, args=(st,), daemon=True).start()


# ---- objects as GitHub shapes them ----

def user_obj(login, kind="User", uid=1):
    base = "https://api.github.com/users/" + login
    return {"login": login, "id": uid, "node_id": "U_%d" % uid, "avatar_url": "https://avatars.githubusercontent.com/u/%d" % uid,
            "gravatar_id": "", "url": base, "html_url": "https://github.com/" + login,
            "followers_url": base + "/followers", "following_url": base + "/following{/other_user}",
            "gists_url": base + "/gists{/gist_id}", "starred_url": base + "/starred{/owner}{/repo}",
            "subscriptions_url": base + "/subscriptions", "organizations_url": base + "/orgs",
            "repos_url": base + "/repos", "events_url": base + "/events{/privacy}",
            "received_events_url": base + "/received_events", "type": kind, "site_admin": False}


def hook_repository(full):
    """The full repository object webhook payloads carry."""
    owner, name = full.split("/")
    api = "https://api.github.com/repos/" + full
    r = {"id": 1, "node_id": "R_1", "name": name, "full_name": full, "private": True,
         "owner": user_obj(owner, "Organization"), "html_url": "https://github.com/" + full, "description": None,
         "fork": False, "url": api, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
         "pushed_at": "2026-01-01T00:00:00Z", "git_url": "git://github.com/%s.git" % full,
         "ssh_url": "git@github.com:%s.git" % full, "clone_url": "https://github.com/%s.git" % full,
         "svn_url": "https://github.com/" + full, "homepage": None, "size": 1, "stargazers_count": 0,
         "watchers_count": 0, "language": "C", "has_issues": True, "has_projects": False, "has_downloads": True,
         "has_wiki": False, "has_pages": False, "forks_count": 0, "mirror_url": None, "archived": False,
         "open_issues_count": 0, "license": None, "forks": 0, "open_issues": 0, "watchers": 0,
         "default_branch": "main", "is_template": False, "web_commit_signoff_required": False, "topics": [],
         "visibility": "private", "custom_properties": {}}
    for k, suffix in (("forks_url", "/forks"), ("keys_url", "/keys{/key_id}"),
                      ("collaborators_url", "/collaborators{/collaborator}"), ("teams_url", "/teams"),
                      ("hooks_url", "/hooks"), ("issue_events_url", "/issues/events{/number}"), ("events_url", "/events"),
                      ("assignees_url", "/assignees{/user}"), ("branches_url", "/branches{/branch}"),
                      ("tags_url", "/tags"), ("blobs_url", "/git/blobs{/sha}"), ("git_tags_url", "/git/tags{/sha}"),
                      ("git_refs_url", "/git/refs{/sha}"), ("trees_url", "/git/trees{/sha}"),
                      ("statuses_url", "/statuses/{sha}"), ("languages_url", "/languages"),
                      ("stargazers_url", "/stargazers"), ("contributors_url", "/contributors"),
                      ("subscribers_url", "/subscribers"), ("subscription_url", "/subscription"),
                      ("commits_url", "/commits{/sha}"), ("git_commits_url", "/git/commits{/sha}"),
                      ("comments_url", "/comments{/number}"), ("issue_comment_url", "/issues/comments{/number}"),
                      ("contents_url", "/contents/{+path}"), ("compare_url", "/compare/{base}...{head}"),
                      ("merges_url", "/merges"), ("archive_url", "/{archive_format}{/ref}"),
                      ("downloads_url", "/downloads"), ("issues_url", "/issues{/number}"), ("pulls_url", "/pulls{/number}"),
                      ("milestones_url", "/milestones{/number}"), ("notifications_url", "/notifications{?since,all,participating}"),
                      ("labels_url", "/labels{/name}"), ("releases_url", "/releases{/id}"),
                      ("deployments_url", "/deployments")):
        r[k] = api + suffix
    return r


def hook_workflow(wf, full, host):
    base = "http://%s/repos/%s/actions/workflows/%d" % (host, full, wf["id"])
    return {"id": wf["id"], "node_id": "W_%d" % wf["id"], "name": wf["name"], "path": wf["path"], "state": "active",
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z", "url": base,
            "html_url": "https://github.com/%s/blob/main/%s" % (full, wf["path"]),
            "badge_url": "https://github.com/%s/workflows/%s/badge.svg" % (full, urllib.parse.quote(wf["name"]))}


def hook_run(v, full):
    """A REST run view as the workflow_run webhook shapes it."""
    keep = ("artifacts_url", "cancel_url", "check_suite_id", "check_suite_node_id", "check_suite_url", "conclusion",
            "created_at", "display_title", "event", "head_branch", "head_sha", "html_url", "id", "jobs_url", "logs_url",
            "node_id", "name", "path", "previous_attempt_url", "pull_requests", "rerun_url", "run_attempt", "run_number",
            "run_started_at", "status", "updated_at", "url", "workflow_id", "workflow_url", "actor", "triggering_actor")
    out = {k: v[k] for k in keep}
    lite = {k: hook_repository(full)[k] for k in WEBHOOKS["definitions"]["repository-lite"]["required"]}
    out["repository"] = out["head_repository"] = lite
    author = {"name": v["actor"]["login"], "email": "%s@users.noreply.github.com" % v["actor"]["login"]}
    out["head_commit"] = {"id": v["head_sha"], "tree_id": v["head_sha"], "message": v["display_title"],
                          "timestamp": v["created_at"], "author": author, "committer": author}
    out["referenced_workflows"] = []
    return out


def minimal_repo(full, host):
    owner, name = full.split("/")
    base = "http://%s/repos/%s" % (host, full)
    keys = ["archive_url", "assignees_url", "blobs_url", "branches_url", "collaborators_url", "comments_url",
            "commits_url", "compare_url", "contents_url", "contributors_url", "deployments_url", "downloads_url",
            "events_url", "forks_url", "git_commits_url", "git_refs_url", "git_tags_url", "hooks_url", "issue_comment_url",
            "issue_events_url", "issues_url", "keys_url", "labels_url", "languages_url", "merges_url", "milestones_url",
            "notifications_url", "pulls_url", "releases_url", "stargazers_url", "statuses_url", "subscribers_url",
            "subscription_url", "tags_url", "teams_url", "trees_url"]
    repo = {k: "%s/%s" % (base, k[:-4]) for k in keys}
    user_keys = ["avatar_url", "events_url", "followers_url", "following_url", "gists_url", "html_url", "organizations_url",
                 "received_events_url", "repos_url", "starred_url", "subscriptions_url", "url"]
    owner_obj = {k: "https://github.com/%s/%s" % (owner, k) for k in user_keys}
    owner_obj.update(login=owner, id=1, node_id="O_1", gravatar_id="", type="Organization", site_admin=False)
    repo.update(id=1, node_id="R_1", name=name, full_name=full, owner=owner_obj, private=True,
                html_url="https://github.com/" + full, description=None, fork=False, url=base)
    return repo


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


def create_run(st, repo, wf, host, event="push", branch="main", sha=None, actor="octocat", title=None):
    rid = st.new_id()
    now = st.now()
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
         "repository": minimal_repo(repo, host), "head_repository": minimal_repo(repo, host)}
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


# ---- webhooks ----

def emit(st, event, action, payload):
    for h in st.hooks:
        if h["events"] and event not in h["events"] and "*" not in h["events"]:
            continue
        st.hookq.put((h, event, action, json.loads(json.dumps(payload))))


def emit_job(st, j, action, host):  # noqa: ARG001 (host: one signature with emit_run)
    if not st.hooks:
        return
    repo = st.jobx[j["id"]]["repo"]
    emit(st, "workflow_job", action, {"action": action, "workflow_job": dict(j), "repository": hook_repository(repo),
                                      "sender": user_obj("octocat")})


def emit_run(st, rid, action, host):
    if not st.hooks:
        return
    run = st.runs[rid]
    emit(st, "workflow_run", action, {"action": action, "workflow_run": hook_run(run["view"], run["repo"]),
                                      "workflow": hook_workflow(run["workflow"], run["repo"], host),
                                      "repository": hook_repository(run["repo"]), "sender": user_obj("octocat")})


def signature(secret, raw):
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def deliver_loop(st):
    while True:
        h, event, action, payload = st.hookq.get()
        problems = check_webhook(event, action, payload)
        raw = json.dumps(payload).encode()
        did = str(uuid.uuid4())
        headers = {"Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/lanekeeper-double",
                   "X-GitHub-Event": event, "X-GitHub-Delivery": did, "X-GitHub-Hook-ID": str(h["id"]),
                   "X-GitHub-Hook-Installation-Target-Type": "repository",
                   "X-GitHub-Hook-Installation-Target-ID": "1"}
        if h["secret"]:
            headers["X-Hub-Signature-256"] = signature(h["secret"], raw)
            headers["X-Hub-Signature"] = "sha1=" + hmac.new(h["secret"].encode(), raw, hashlib.sha1).hexdigest()
        status = None
        try:
            req = urllib.request.Request(h["url"], data=raw, headers=headers, method="POST")
            with urllib.request.urlopen(req, timeout=10) as resp:   # GitHub gives a hook 10 s
                status = resp.status
        except urllib.error.HTTPError as e:
            status = e.code
        except (OSError, ValueError):
            status = None
        with st.lock:
            st.deliveries.append({"id": did, "hook_id": h["id"], "event": event, "action": action, "status": status,
                                  "problems": problems})
            if problems:
                st.violations.extend(problems)
            st.cond.notify_all()


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


def make_tarball(prefix, files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(prefix + "/" + path)
            info.size, info.mode, info.mtime = len(data), 0o644, 1767225600
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def sign_url(st, kind, key):
    sig = base64.urlsafe_b64encode(os.urandom(18)).decode()
    st.log_urls[sig] = (kind, key, st.now() + 60)     # GitHub's signed URLs are short-lived: a minute
    return sig


def redeem(st, sig, kind):
    with st.lock:
        rec = st.log_urls.get(sig)
        if not rec or rec[0] != kind or rec[2] <= st.now():
            return None
        return rec[1]


def add_routes(route, Handler, S):
    """The REST endpoints of runs, jobs, workflows and tarballs (Handler methods in JobsMixin)."""
    R = r"/repos/" + S + "/" + S
    route(R + r"/actions/runs/(\d+)", GET=lambda h, q, o, r, i: h.get_run(q, o, r, i))
    route(R + r"/actions/runs/(\d+)/rerun", POST=lambda h, q, o, r, i: h.run_action(q, o, r, i, "rerun"))
    route(R + r"/actions/jobs/(\d+)", GET=lambda h, q, o, r, i: h.get_job(q, o, r, i))
    route(R + r"/actions/jobs/(\d+)/logs", GET=lambda h, q, o, r, i: h.job_logs(q, o, r, i))
    route(R + r"/actions/workflows", GET=lambda h, q, o, r: h.list_workflows(q, o, r))
    route(R + r"/actions/workflows/([^/]+)/dispatches", POST=lambda h, q, o, r, w: h.dispatch_workflow(q, o, r, w))
    route(R + r"/tarball/(.+)", GET=lambda h, q, o, r, ref: h.tarball(q, o, r, ref))
    route(R + r"/actions/runs/(\d+)/pending_deployments", POST=lambda h, q, o, r, i: h.review_deployments(q, o, r, i))


class JobsMixin:
    """Handler methods for the endpoints above, the runner's protocol and the signed downloads."""

    def repo_run(self, owner, repo, run_id):
        run = self.st.runs.get(int(run_id))
        return run if run and run["scope"] == self.scope("repo", owner + "/" + repo) else None

    def get_run(self, query, owner, repo, run_id):
        a = self.api(query)
        if not a:
            return
        with self.st.lock:
            run = self.repo_run(owner, repo, run_id)
            view = dict(run["view"]) if run else None
        if not view:
            return self.error(404, "Not Found")
        self.reply(*a, 200, view)

    def get_job(self, query, owner, repo, job_id):
        a = self.api(query)
        if not a:
            return
        with self.st.lock:
            j = self.st.jobs.get(int(job_id))
            ok = j and self.st.jobx[j["id"]]["repo"].lower() == (owner + "/" + repo).lower()
            view = json.loads(json.dumps(j)) if ok else None
        if not view:
            return self.error(404, "Not Found")
        self.reply(*a, 200, view)

    def job_logs(self, query, owner, repo, job_id):
        a = self.api(query)
        if not a:
            return
        with self.st.lock:
            j = self.st.jobs.get(int(job_id))
            if not j or self.st.jobx[j["id"]]["repo"].lower() != (owner + "/" + repo).lower():
                return self.error(404, "Not Found")
            sig = sign_url(self.st, "log", j["id"])
        # GitHub answers 302 to a short-lived, signed URL that needs no token
        loc = "http://%s/_logs/%d?sig=%s" % (self.headers.get("Host"), int(job_id), sig)
        self.reply(*a, 302, None, location=loc)

    def list_workflows(self, query, owner, repo):
        a = self.api(query)
        if not a:
            return
        full = owner + "/" + repo
        if not self.scope("repo", full):
            return self.error(404, "Not Found")
        with self.st.lock:
            wfs = [hook_workflow(wf, full, self.headers.get("Host")) for (r, _), wf in sorted(self.st.workflows.items())
                   if r == full.lower()]
        body, link = self.paginate(query, wfs, "workflows")
        self.reply(*a, 200, body, link=link)

    def dispatch_workflow(self, query, owner, repo, wid):
        a = self.api(query, mutating=True)
        if not a:
            return
        body = self.body_json()
        full = owner + "/" + repo
        if not self.scope("repo", full):
            return self.error(404, "Not Found")
        with self.st.lock:
            wf = next((w for (r, _), w in self.st.workflows.items() if r == full.lower() and
                       wid in (str(w["id"]), w["path"], os.path.basename(w["path"]))), None)
            if not wf:
                return self.error(404, "Not Found")
            if not isinstance(body, dict) or not isinstance(body.get("ref"), str) or not body["ref"]:
                return self.error(422, "Invalid request.\n\n\"ref\" wasn't supplied.")
            if "workflow_dispatch" not in wf.get("on", []):
                return self.error(422, "Workflow does not have 'workflow_dispatch' trigger")
            inputs = body.get("inputs") or {}
            if not isinstance(inputs, dict) or len(inputs) > 25:
                return self.error(422, "Invalid request.\n\nFor 'properties/inputs', not an object of at most 25 members.")
            branch = body["ref"].split("refs/heads/")[-1]
            create_run(self.st, full, wf, self.headers.get("Host"), event="workflow_dispatch", branch=branch)
        self.reply(*a, 204, None)

    def tarball(self, query, owner, repo, ref):
        a = self.api(query)
        if not a:
            return
        with self.st.lock:
            files = self.st.actions.get(((owner + "/" + repo).lower(), ref))
            if files is None:
                return self.error(404, "Not Found")
            sig = sign_url(self.st, "tarball", ((owner + "/" + repo).lower(), ref))
        loc = "http://%s/_codeload/%s/%s/legacy.tar.gz/%s?sig=%s" % (self.headers.get("Host"), owner, repo,
                                                                     urllib.parse.quote(ref, safe=""), sig)
        self.reply(*a, 302, None, location=loc)

    def review_deployments(self, query, owner, repo, run_id):
        """Approve or reject the jobs of a run waiting for their environment's reviewers."""
        a = self.api(query, mutating=True)
        if not a:
            return
        body = self.body_json()
        if not isinstance(body, dict) or body.get("state") not in ("approved", "rejected") or \
                not isinstance(body.get("environment_ids"), list) or \
                not all(isinstance(i, int) for i in body["environment_ids"]) or not isinstance(body.get("comment"), str):
            return self.error(422, "Invalid request.\n\nenvironment_ids, state and comment are required.")
        host = self.headers.get("Host")
        with self.st.lock:
            run = self.repo_run(owner, repo, run_id)
            if not run:
                return self.error(404, "Not Found")
            waiting = [j for j in self.st.jobs.values() if j["run_id"] == run["view"]["id"] and j["status"] == "waiting"
                       and self.st.jobx[j["id"]]["environment"]["id"] in body["environment_ids"]]
            if not waiting:
                return self.error(422, "No pending deployment requests to approve or reject")
            out = []
            for j in waiting:
                env = self.st.jobx[j["id"]]["environment"]
                if body["state"] == "rejected":
                    finish_job(self.st, j, "failure", host)
                    continue
                j["status"] = "queued"
                emit_job(self.st, j, "queued", host)
                now = iso(self.st.now())
                out.append({"url": "%s/deployments/%d" % (run["view"]["repository"]["url"], j["id"]), "id": j["id"],
                            "node_id": "DE_%d" % j["id"], "sha": j["head_sha"], "ref": j["head_branch"], "task": "deploy",
                            "payload": {}, "original_environment": env["name"], "environment": env["name"],
                            "description": None, "creator": user_obj("octocat"), "created_at": now, "updated_at": now,
                            "statuses_url": "%s/deployments/%d/statuses" % (run["view"]["repository"]["url"], j["id"]),
                            "repository_url": run["view"]["repository"]["url"], "transient_environment": False,
                            "production_environment": env["name"] == "production"})
            self.st.cond.notify_all()
        self.reply(*a, 200, out)

    def signed_download(self, path, query):
        """GET /_logs/JOB?sig= and /_codeload/...?sig=: what a 302 pointed at; no token, a signature."""
        sig = (query.get("sig") or [""])[0]
        st = self.st
        if path.startswith("/_logs/"):
            jid = redeem(st, sig, "log")
            if jid is None or str(jid) != path[len("/_logs/"):]:
                return self.send(403, raw=b"<Error><Code>AuthenticationFailed</Code></Error>",
                                 headers={"Content-Type": "application/xml"}, check=False)
            with st.lock:
                text = st.jobx[jid]["log"].encode()
            return self.send(200, raw=text, headers={"Content-Type": "text/plain"}, check=False)
        key = redeem(st, sig, "tarball")
        if key is None:
            return self.send(403, raw=b"", check=False)
        with st.lock:
            files = dict(st.actions[key])
        prefix = "%s-%s-%s" % (key[0].replace("/", "-"), key[1], hashlib.sha1(key[1].encode()).hexdigest()[:7])
        return self.send(200, raw=make_tarball(prefix, files), headers={"Content-Type": "application/x-gzip"},
                         check=False)

    def jobs_control(self, what, body):
        """The test's side: workflows, actions, runs (a push), hooks and deliveries. Never a job's state."""
        st = self.st
        host = self.headers.get("Host")
        if what == "workflow":
            repo = body["repo"]
            wf = {"id": int(body.get("id") or st.new_id()), "name": body.get("name", "CI"),
                  "path": body.get("path", ".github/workflows/ci.yml"), "jobs": body["jobs"],
                  "on": body.get("on", ["push", "workflow_dispatch"])}
            st.workflows[(repo.lower(), wf["id"])] = wf
            return 201, {"workflow_id": wf["id"]}
        if what == "environment":
            env = {"id": int(body.get("id") or st.new_id()), "name": body["name"], "protected": bool(body.get("reviewers"))}
            st.environments[(body["repo"].lower(), env["name"])] = env
            return 201, {"environment_id": env["id"]}
        if what == "action":
            st.actions[(body["repo"].lower(), body["ref"])] = dict(body["files"])
            return 201, {}
        if what == "run":
            repo = body["repo"]
            rid = create_run(st, repo, inline_workflow(st, repo, body), host, event=body.get("event", "push"),
                             branch=body.get("branch", "main"), sha=body.get("sha"), actor=body.get("actor", "octocat"),
                             title=body.get("title"))
            return 201, {"run_id": rid}
        if what == "hooks":
            h = {"id": len(st.hooks) + 1, "url": body["url"], "secret": body.get("secret", ""),
                 "events": body.get("events", ["workflow_job", "workflow_run"])}
            st.hooks.append(h)
            return 201, {"hook_id": h["id"]}
        if what == "deliveries":
            return 200, {"deliveries": st.deliveries}
        if what == "job-log":
            j = st.jobx.get(int(body["job"]))
            return (200, {"log": j["log"]}) if j else (404, {})
        return None
