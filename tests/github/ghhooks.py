"""GitHub's shapes for the double's webhooks and REST bodies, and the
webhook deliveries: workflow_job (queued, waiting, in_progress, completed)
and workflow_run (requested, in_progress, completed), with X-GitHub-Event,
X-GitHub-Delivery, X-GitHub-Hook-ID and X-Hub-Signature-256 (HMAC-SHA256 of
the body with the hook's secret), delivered in order from one thread; every
payload validated against tests/github/webhooks-subset.json (GitHub's
published schemas, @octokit/webhooks-schemas)."""
import hashlib
import hmac
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
WEBHOOKS = json.load(open(os.path.join(HERE, "webhooks-subset.json")))


def check_webhook(event, action, payload):
    """Problems with PAYLOAD as GitHub's published schema for EVENT$ACTION sees them."""
    name = "%s$%s" % (event, action)
    if name not in WEBHOOKS["definitions"]:
        return ["%s is not an event of the webhooks subset" % name]
    root = {"$ref": "#/definitions/" + name, "definitions": WEBHOOKS["definitions"]}
    return ["%s: %s at %s" % (name, e.message, "/".join(str(p) for p in e.absolute_path))
            for e in jsonschema.Draft7Validator(root).iter_errors(payload)]


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
