"""The double's REST endpoints for runs, jobs, logs, workflows, reviews and
tarballs (JobsMixin, mixed into ghdouble's Handler), its signed downloads,
and the test's controls for workflows, environments, actions, runs and
hooks. Jobs move only through the runner's protocol (ghjobs) and these
endpoints, never through a control."""
import base64
import hashlib
import io
import json
import os
import tarfile
import urllib.parse

from ghhooks import hook_repository, hook_workflow, user_obj, emit_job
from ghjobs import create_run, finish_job, inline_workflow, iso
import ghworkflow


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
    route(R, GET=lambda h, q, o, r: h.get_repo(q, o, r))
    route(R + r"/actions/runs/(\d+)", GET=lambda h, q, o, r, i: h.get_run(q, o, r, i))
    route(R + r"/actions/runs/(\d+)/rerun", POST=lambda h, q, o, r, i: h.run_action(q, o, r, i, "rerun"))
    route(R + r"/actions/jobs/(\d+)", GET=lambda h, q, o, r, i: h.get_job(q, o, r, i))
    route(R + r"/actions/jobs/(\d+)/logs", GET=lambda h, q, o, r, i: h.job_logs(q, o, r, i))
    route(R + r"/actions/workflows", GET=lambda h, q, o, r: h.list_workflows(q, o, r))
    route(R + r"/actions/workflows/([^/]+)/dispatches", POST=lambda h, q, o, r, w: h.dispatch_workflow(q, o, r, w))
    route(R + r"/tarball/(.+)", GET=lambda h, q, o, r, ref: h.tarball(q, o, r, ref))
    route(R + r"/actions/runs/(\d+)/pending_deployments", POST=lambda h, q, o, r, i: h.review_deployments(q, o, r, i))
    route(R + r"/pulls/(\d+)", GET=lambda h, q, o, r, n: h.get_pull(q, o, r, n))


# A pull request's full object: GitHub's published example for
# GET /repos/{owner}/{repo}/pulls/{pull_number} (its shape, every key the
# schema requires), with the double's own values put in.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "openapi-subset.json")) as _f:
    PULL_EXAMPLE = json.load(_f)["examples"]["GET /repos/{owner}/{repo}/pulls/{pull_number} 200"]


def pull_view(st, repo, pr, host):
    """The pull request PR of REPO as GitHub shows it."""
    v = json.loads(json.dumps(PULL_EXAMPLE))
    base = "http://%s/repos/%s" % (host, repo)
    head_full = pr["head_repo"]
    v.update(id=pr["id"], node_id="PR_%d" % pr["id"], number=pr["number"], state="open", title=pr["title"],
             url="%s/pulls/%d" % (base, pr["number"]), html_url="https://github.com/%s/pull/%d" % (repo, pr["number"]),
             user=user_obj(pr["author"], "Bot" if pr["bot"] else "User", uid=pr["author_id"]),
             author_association=pr["association"], created_at=iso(pr["created"]), updated_at=iso(pr["created"]),
             merged=False, merged_at=None, closed_at=None, merge_commit_sha=None, draft=False, body=None,
             # the double has no reviewers, assignees, labels or milestones (and GitHub's own
             # example's requested team lacks the "type" its schema requires)
             requested_teams=[], requested_reviewers=[], assignees=[], assignee=None, labels=[], milestone=None)
    for side, full, ref, sha in (("head", head_full, pr["branch"], pr["sha"]), ("base", repo, "main", pr["base_sha"])):
        v[side] = dict(v[side], label="%s:%s" % (full.split("/")[0], ref), ref=ref, sha=sha,
                       user=user_obj(full.split("/")[0], "Organization", uid=2))
        v[side]["repo"] = dict(v[side]["repo"], full_name=full, name=full.split("/")[1], fork=full.lower() != repo.lower(),
                               owner=user_obj(full.split("/")[0], "Organization", uid=2))
    return v


class JobsMixin:
    """Handler methods for the endpoints above, the runner's protocol and the signed downloads."""

    def repo_run(self, owner, repo, run_id):
        run = self.st.runs.get(int(run_id))
        return run if run and run["scope"] == self.scope("repo", owner + "/" + repo) else None

    def get_repo(self, query, owner, repo):
        """GET /repos/OWNER/REPO: the full repository (its default branch is what health reads)."""
        a = self.api(query)
        if not a:
            return
        if not self.scope("repo", owner + "/" + repo):
            return self.error(404, "Not Found")
        with self.st.lock:
            rec = self.st.repos[(owner + "/" + repo).lower()]
            view = hook_repository(rec["full_name"])
            view["default_branch"] = rec.get("default_branch", "main")
        view.update({"permissions": {"admin": False, "maintain": False, "push": False, "triage": False, "pull": True},
                     "network_count": 0, "subscribers_count": 0, "has_discussions": False, "disabled": False})
        self.reply(*a, 200, view)

    def get_pull(self, query, owner, repo, number):
        a = self.api(query)
        if not a:
            return
        full = owner + "/" + repo
        with self.st.lock:
            pr = self.st.pulls.get((full.lower(), int(number))) if self.scope("repo", full) else None
            view = pull_view(self.st, self.st.repos[full.lower()]["full_name"], pr, self.headers.get("Host")) if pr else None
        if not view:
            return self.error(404, "Not Found")
        self.reply(*a, 200, view)

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
            if not self.st.repos.get(full.lower(), {}).get("actions", {}).get("enabled", True):
                return self.error(422, "Actions has been disabled for this repository.")
            if "workflow_dispatch" not in wf.get("on", []):
                return self.error(422, "Workflow does not have 'workflow_dispatch' trigger")
            inputs = body.get("inputs") or {}
            if not isinstance(inputs, dict) or len(inputs) > 25:
                return self.error(422, "Invalid request.\n\nFor 'properties/inputs', not an object of at most 25 members.")
            details = body.get("return_run_details")
            if details is not None and not isinstance(details, bool):
                return self.error(422, "Invalid request.\n\nFor 'properties/return_run_details', %s is not a boolean."
                                  % json.dumps(details))
            branch = body["ref"].split("refs/heads/")[-1]
            title = None
            if wf.get("yaml"):   # a workflow file: its inputs checked, its expressions evaluated
                values, why = ghworkflow.dispatch_inputs(wf["yaml"], inputs)
                if why:
                    return self.error(422, why)
                try:
                    specs = ghworkflow.jobs(wf["yaml"], values)
                    rn = wf["yaml"]["run_name"]
                    title = str(ghworkflow.value(rn, values)) if rn is not None else None
                except ghworkflow.Invalid as e:
                    return self.error(422, str(e))
                wf = dict(wf, jobs=specs)
            # GitHub runs a dispatch at the ref's head: the same commit until the branch changes (here: until
            # the workflow file is committed again)
            head = hashlib.sha1(("%s@%s:%s" % (full.lower(), branch, json.dumps(wf.get("yaml"), sort_keys=True,
                                                                                 default=str))).encode()).hexdigest()
            rid = create_run(self.st, full, wf, self.headers.get("Host"), event="workflow_dispatch", branch=branch,
                             sha=head, title=title)
            view = self.st.runs[rid]["view"]
        if details:
            return self.reply(*a, 200, {"workflow_run_id": rid, "run_url": view["url"], "html_url": view["html_url"]})
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
        if what == "workflow":   # {"repo", "path", "yaml": the file} or {"repo", "name", "path", "jobs", "on"}
            repo = body["repo"]
            path = body.get("path", ".github/workflows/ci.yml")
            if "yaml" in body:
                try:
                    y = ghworkflow.parse(body["yaml"], path)
                except ghworkflow.Invalid as e:
                    return 422, {"message": str(e)}
                wf = {"id": int(body.get("id") or st.new_id()), "name": y["name"], "path": path, "jobs": [],
                      "on": y["on"], "yaml": y}
                st.workflows[(repo.lower(), wf["id"])] = wf
                return 201, {"workflow_id": wf["id"]}
            wf = {"id": int(body.get("id") or st.new_id()), "name": body.get("name", "CI"),
                  "path": path, "jobs": body["jobs"],
                  "on": body.get("on", ["push", "workflow_dispatch"])}
            st.workflows[(repo.lower(), wf["id"])] = wf
            return 201, {"workflow_id": wf["id"]}
        if what == "repo":   # {"repo", "default_branch"}
            st.repos[body["repo"].lower()]["default_branch"] = body["default_branch"]
            return 200, {}
        if what == "environment":
            env = {"id": int(body.get("id") or st.new_id()), "name": body["name"], "protected": bool(body.get("reviewers"))}
            st.environments[(body["repo"].lower(), env["name"])] = env
            return 201, {"environment_id": env["id"]}
        if what == "action":
            st.actions[(body["repo"].lower(), body["ref"])] = dict(body["files"])
            return 201, {}
        if what == "pull":   # {"repo", "author", "association", "bot", "fork": "OWNER/REPO" of the head}
            repo = body["repo"]
            number = 1 + max([n for (r, n) in st.pulls if r == repo.lower()] or [0])
            branch = body.get("branch", "topic-%d" % number)
            st.pulls[(repo.lower(), number)] = {
                "id": st.new_id(), "number": number, "author": body.get("author", "octocat"),
                "author_id": 1000 + number, "bot": bool(body.get("bot")), "association": body.get("association", "MEMBER"),
                "head_repo": body.get("fork") or repo, "branch": branch, "title": body.get("title", "Change %d" % number),
                "sha": hashlib.sha1(("%s#%d" % (repo, number)).encode()).hexdigest(),
                "base_sha": hashlib.sha1(repo.encode()).hexdigest(), "created": st.now()}
            return 201, {"number": number}
        if what == "run":   # "pull": N makes it that pull request's pull_request run
            repo = body["repo"]
            pr = st.pulls.get((repo.lower(), int(body["pull"]))) if body.get("pull") else None
            rid = create_run(st, repo, inline_workflow(st, repo, body), host, event=body.get("event", "push"),
                             branch=body.get("branch", "main"), sha=body.get("sha"), actor=body.get("actor", "octocat"),
                             title=body.get("title"), age=float(body.get("age_s", 0)), pr=pr)
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
