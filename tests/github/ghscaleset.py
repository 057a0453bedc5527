"""The Actions service's runner scale set API, served by the loopback double.

GitHub publishes no schema for this service. Its shapes follow GitHub's own
client, actions/scaleset: types.go at 0707047e9f55551b1bc7c025b2f237737fc53ad7,
client.go at 0015641f998671d2fbafe30b2e6be3c31fb3cb44, session_client.go at
1208e1216e05a9c54bfce63698bb641a3bbfd78d, errors.go at
2d4ce79cf1d77440ac80581f1c3d7e2a5695d2a3, listener/listener.go at
006ebc72e74342abd25e7e1dcac4a8f23dffe520 and its fake, testserver/server.go at
dd4c9f24810f77206472b84dece52f1ce2f93757. tests/github/scaleset-shapes.json
holds those shapes as JSON Schemas; every body served here is checked
against them (a violation is kept at /_double/violations).

The flow: a registration token exchanged at POST /actions/runner-registration
(Authorization: RemoteAuth TOKEN) for the service's URL and an admin token (a
JWT whose exp the client reads); runner groups; scale sets; one message
session per scale set (a second one conflicts, 409, until the first has not
polled for session_timeout); the long poll of the session's queue
(X-ScaleSetMaxCapacity required, 202 after poll_s without a message);
messages that stay until deleted (the queue is the scale set's: a new session
reads what an old one left); jobs whose runs-on is exactly the scale set's
name, offered as JobAvailable and assigned once acquired (flow "available"),
or assigned at once (flow "assigned", as the current client expects); JIT
configurations the runner kit accepts; runners removed, a busy one refused.

Steered through /_double/scaleset (POST: poll_s, session_timeout, queue_ttl,
admin_ttl, flow, expire: "admin" | "queue"; GET: the sets, sessions and
queues).
"""
import base64
import json
import os
import re
import secrets
import time
import uuid

import ghjobs
from ghjobs import iso

SHAPES = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "scaleset-shapes.json")))
BASE = "/_actions/lk/"                      # the service URL's path (the tenant's)
API = BASE + "_apis/"
QUEUE = BASE + "_msgq/"


def init_state(st):
    st.ss_secret = secrets.token_bytes(32)   # signs the admin tokens (the client only reads their exp)
    st.ss_sets = {}            # id -> scale set
    st.ss_admin = {}           # admin token -> {scope, expires}
    st.ss_issued = []          # admin and queue tokens (leak scans)
    st.ss_conf = {"poll_s": 50.0, "session_timeout": 120.0, "queue_ttl": 3600.0, "admin_ttl": 3600.0,
                  "flow": "available"}
    st.ss_may_run = lambda r, j: may_run(st, r, j)


def check(st, shape, body):
    """Problems of BODY against the fixture's SHAPE, kept as violations."""
    import jsonschema
    schema = dict(SHAPES["definitions"][shape], definitions=SHAPES["definitions"])
    problems = ["scaleset %s: %s" % (shape, e.message) for e in jsonschema.Draft7Validator(schema).iter_errors(body)]
    if shape == "RunnerScaleSetMessage" and not problems:
        items = json.loads(body["body"])      # a JSON array, as a string, of job messages
        if not isinstance(items, list):
            problems.append("scaleset RunnerScaleSetMessage: its body is not a JSON array")
        for m in items if isinstance(items, list) else []:
            kind = m.get("messageType") if isinstance(m, dict) else None
            if kind not in ("JobAvailable", "JobAssigned", "JobStarted", "JobCompleted"):
                problems.append("scaleset job message of no known type: %r" % kind)
            else:
                problems += check(st, kind, m)
    if problems:
        st.violations.extend(problems)
    return problems


def jwt_token(st, scope, ttl):
    import jwt as pyjwt
    now = st.now()
    tok = pyjwt.encode({"iss": "lanekeeper-double", "aud": "actions", "scope": scope, "iat": int(now),
                        "nbf": int(now), "exp": int(now + ttl)}, st.ss_secret, algorithm="HS256")
    return tok if isinstance(tok, str) else tok.decode()


# ---- the sets' jobs ----

def set_view(st, s, stats=True):
    v = {"id": s["id"], "name": s["name"], "runnerGroupId": s["group_id"], "runnerGroupName": s["group_name"],
         "labels": s["labels"], "RunnerSetting": s["setting"], "createdOn": s["created"],
         "runnerJitConfigUrl": "%s%sruntime/runnerscalesets/%d/generatejitconfig" % (s["host"], API, s["id"])}
    if stats:
        v["statistics"] = statistics(st, s)
    return v


def matches(s, j, x):
    kind, name = s["scope"].split(":", 1)
    repo = x["repo"].lower()
    if (kind == "repo" and repo != name) or (kind == "org" and repo.split("/")[0] != name):
        return False
    return [lab.lower() for lab in j["labels"]] == [s["name"].lower()]


def set_jobs(st, s):
    return [j for j in sorted(st.jobs.values(), key=lambda j: j["id"]) if matches(s, j, st.jobx[j["id"]])]


def may_run(st, r, j):
    """A scale set's runner takes only jobs assigned to its set."""
    s = st.ss_sets.get(r.get("scale_set") or 0)
    return bool(s) and j["id"] in s["assigned"]


def statistics(st, s):
    jobs = set_jobs(st, s)
    runners = [r for r in st.runners.values() if r.get("scale_set") == s["id"]]
    live = [j for j in jobs if j["status"] in ("queued", "in_progress")]
    return {"totalAvailableJobs": sum(1 for j in live if j["status"] == "queued" and j["id"] not in s["assigned"]),
            "totalAcquiredJobs": sum(1 for j in live if j["status"] == "queued" and j["id"] in s["acquired"]),
            "totalAssignedJobs": sum(1 for j in live if j["id"] in s["assigned"]),
            "totalRunningJobs": sum(1 for j in live if j["status"] == "in_progress" and j["id"] in s["assigned"]),
            "totalRegisteredRunners": len(runners),
            "totalBusyRunners": sum(1 for r in runners if r["busy"]),
            "totalIdleRunners": sum(1 for r in runners if not r["busy"] and ghjobs.runner_online(st, r))}


def job_message(st, kind, j, x, s):
    owner, repo = x["repo"].split("/")
    m = {"messageType": kind, "runnerRequestId": j["id"], "repositoryName": repo, "ownerName": owner,
         "jobId": str(j["id"]), "jobWorkflowRef": "%s/.github/workflows/%s.yml@refs/heads/%s" % (x["repo"], "ci", j["head_branch"]),
         "jobDisplayName": j["name"], "workflowRunId": j["run_id"], "eventName": "push", "requestLabels": j["labels"],
         "queueTime": j["created_at"], "scaleSetAssignTime": s["assign_time"].get(j["id"], "0001-01-01T00:00:00Z"),
         "runnerAssignTime": j["started_at"] if j["runner_id"] else "0001-01-01T00:00:00Z",
         "finishTime": j["completed_at"] or "0001-01-01T00:00:00Z"}
    if kind == "JobAvailable":
        m["acquireJobUrl"] = "%s%sruntime/runnerscalesets/%d/acquirejobs" % (s["host"], API, s["id"])
    if kind in ("JobStarted", "JobCompleted"):
        m["runnerId"], m["runnerName"] = j["runner_id"] or 0, j["runner_name"] or ""
    if kind == "JobCompleted":
        m["result"] = {"success": "succeeded", "failure": "failed", "cancelled": "canceled"}.get(j["conclusion"], "failed")
    return m


def pump(st, s):
    """Queue a message with what happened to the set's jobs since the last one."""
    out = []
    for j in set_jobs(st, s):
        x, seen = st.jobx[j["id"]], s["seen"].setdefault(j["id"], set())
        if j["id"] not in s["assigned"]:
            if st.ss_conf["flow"] == "assigned" and j["status"] == "queued":
                s["assigned"].add(j["id"])
            elif j["status"] == "queued" and "available" not in seen:
                seen.add("available")
                out.append(job_message(st, "JobAvailable", j, x, s))
        if j["id"] in s["assigned"] and "assigned" not in seen:
            seen.add("assigned")
            s["assign_time"][j["id"]] = iso(st.now())
            out.append(job_message(st, "JobAssigned", j, x, s))
        if "assigned" in seen and j["runner_id"] and "started" not in seen:
            seen.add("started")
            out.append(job_message(st, "JobStarted", j, x, s))
        if ("assigned" in seen or "available" in seen) and j["status"] == "completed" and "completed" not in seen:
            seen.add("completed")
            out.append(job_message(st, "JobCompleted", j, x, s))
    if out:
        s["next_msg"] += 1
        s["queue"].append({"messageId": s["next_msg"], "messageType": "RunnerScaleSetJobMessages",
                           "body": json.dumps(out), "statistics": statistics(st, s)})


# ---- the handler's part ----

class ScaleSetMixin:
    def ss_error(self, status, type_name, message):
        self.send(status, {"typeName": type_name, "message": message}, check=False)

    def ss_send(self, status, shape, body):
        check(self.st, shape, body)
        self.send(status, body, check=False)

    def ss_find_set(self, scope, sid):
        """Scale set SID of SCOPE, or None after answering 404 (the caller holds the lock)."""
        s = self.st.ss_sets.get(int(sid))
        if not s or s["scope"] != scope:
            self.ss_error(404, "RunnerScaleSetNotFoundException", "No runner scale set %s" % sid)
            return None
        return s

    def ss_admin(self, query):
        """The admin token's scope, or None after answering."""
        st = self.st
        auth = self.headers.get("Authorization") or ""
        m = re.match(r"^Bearer (\S+)$", auth)
        with st.lock:
            rec = st.ss_admin.get(m.group(1)) if m else None
            if not rec or rec["expires"] <= st.now():
                self.ss_error(401, "VssUnauthorizedException", "The user is not authorized: the token expired or is not valid")
                return None
        if (query.get("api-version") or [""])[0] != "6.0-preview":
            self.ss_error(400, "VssVersionOutOfRangeException", "The api-version query parameter is required")
            return None
        return rec["scope"]

    def ss_registration(self, query):
        """POST /actions/runner-registration: a registration token for the service's URL and an admin token."""
        st = self.st
        auth = self.headers.get("Authorization") or ""
        body = self.body_json()
        m = re.match(r"^RemoteAuth (\S+)$", auth)
        with st.lock:
            reg = st.reg_tokens.get(m.group(1)) if m else None
            if not reg or reg["purpose"] != "registration" or reg["expires"] <= st.now():
                return self.error(401, "Bad credentials")
            if not isinstance(body, dict) or body.get("runner_event") != "register" or not isinstance(body.get("url"), str):
                return self.error(422, "url and runner_event: register are required")
            path = [p for p in re.sub(r"^https?://[^/]+", "", body["url"]).split("/") if p]
            want = "repo:%s" % "/".join(path).lower() if len(path) == 2 else "org:%s" % path[0].lower() if len(path) == 1 else None
            if want != reg["scope"]:
                return self.error(404, "Not Found")
            tok = jwt_token(st, reg["scope"], st.ss_conf["admin_ttl"])
            st.ss_admin[tok] = {"scope": reg["scope"], "expires": st.now() + st.ss_conf["admin_ttl"]}
            st.ss_issued.append(tok)
        self.ss_send(201, "AdminConnection", {"url": "http://%s%s" % (self.headers.get("Host"), BASE), "token": tok})

    def ss_groups(self, query):
        if not self.ss_admin(query):
            return
        name = (query.get("groupName") or [""])[0]
        groups = [{"id": 1, "name": "Default", "size": 0, "isDefaultGroup": True}]
        hit = [g for g in groups if g["name"].lower() == name.lower()] if name else groups
        self.ss_send(200, "RunnerGroupList", {"count": len(hit), "value": hit})

    def ss_sets(self, query):
        st = self.st
        scope = self.ss_admin(query)
        if not scope:
            return
        if self.command == "GET":
            name = (query.get("name") or [""])[0].lower()
            gid = int((query.get("runnerGroupId") or ["0"])[0] or 0)
            with st.lock:
                hit = [set_view(st, s) for s in st.ss_sets.values() if s["scope"] == scope and
                       (not name or s["name"].lower() == name) and (not gid or s["group_id"] == gid)]
            return self.ss_send(200, "RunnerScaleSetList", {"count": len(hit), "value": hit})
        body = self.body_json()
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"] or \
                not isinstance(body.get("runnerGroupId"), int):
            return self.ss_error(400, "ArgumentException", "name and runnerGroupId are required")
        with st.lock:
            if any(s["scope"] == scope and s["name"].lower() == body["name"].lower() and s["group_id"] == body["runnerGroupId"]
                   for s in st.ss_sets.values()):
                return self.ss_error(400, "RunnerScaleSetExistsException",
                                     "A runner scale set named %s already exists in this runner group" % body["name"])
            if body["runnerGroupId"] != 1:
                return self.ss_error(404, "RunnerGroupNotFoundException", "No runner group %d" % body["runnerGroupId"])
            sid = st.new_id()
            s = {"id": sid, "name": body["name"], "scope": scope, "group_id": 1, "group_name": "Default",
                 "labels": [{"type": "System", "name": body["name"]}],
                 "setting": {"ephemeral": True, "isElastic": True, "disableUpdate": bool((body.get("RunnerSetting") or {}).get("disableUpdate"))},
                 "created": iso(st.now()), "host": "http://%s" % self.headers.get("Host"), "session": None,
                 "queue": [], "next_msg": 0, "seen": {}, "acquired": set(), "assigned": set(), "assign_time": {}}
            st.ss_sets[sid] = s
            view = set_view(st, s)
        self.ss_send(200, "RunnerScaleSet", view)

    def ss_set(self, query, sid):
        st = self.st
        scope = self.ss_admin(query)
        if not scope:
            return
        with st.lock:
            s = self.ss_find_set(scope, sid)
            if not s:
                return
            if self.command == "DELETE":
                del st.ss_sets[s["id"]]
                for r in [r for r in st.runners.values() if r.get("scale_set") == s["id"]]:
                    del st.runners[r["id"]]
                return self.send(204, check=False)
            if self.command == "PATCH":
                body = self.body_json()
                if not isinstance(body, dict):
                    return self.ss_error(400, "ArgumentException", "a runner scale set is expected")
                if isinstance(body.get("RunnerSetting"), dict):
                    s["setting"]["disableUpdate"] = bool(body["RunnerSetting"].get("disableUpdate"))
            view = set_view(st, s)
        self.ss_send(200, "RunnerScaleSet", view)

    def ss_session_view(self, st, s):
        x = s["session"]
        return {"sessionId": x["id"], "ownerName": x["owner"], "runnerScaleSet": set_view(st, s, stats=False),
                "messageQueueUrl": "%s%s%s" % (s["host"], QUEUE, x["id"]), "messageQueueAccessToken": x["token"],
                "statistics": statistics(st, s)}

    def ss_new_queue_token(self, st, x):
        x["token"] = base64.urlsafe_b64encode(secrets.token_bytes(30)).decode()
        x["token_expires"] = st.now() + st.ss_conf["queue_ttl"]
        st.ss_issued.append(x["token"])

    def ss_sessions(self, query, sid, sess=None):
        st = self.st
        scope = self.ss_admin(query)
        if not scope:
            return
        body = self.body_json() if self.command == "POST" else None
        with st.lock:
            s = self.ss_find_set(scope, sid)
            if not s:
                return
            x = s["session"]
            live = x and st.now() - x["seen"] < st.ss_conf["session_timeout"]
            if self.command == "POST":
                if not isinstance(body, dict) or not isinstance(body.get("ownerName"), str):
                    return self.ss_error(400, "ArgumentException", "ownerName is required")
                if live:
                    return self.ss_error(409, "TaskAgentSessionConflictException",
                                         "The scale set %s already has an active session from %s" % (s["name"], x["owner"]))
                s["session"] = x = {"id": str(uuid.uuid4()), "owner": body["ownerName"], "seen": st.now()}
                self.ss_new_queue_token(st, x)
                return self.ss_send(200, "RunnerScaleSetSession", self.ss_session_view(st, s))
            if not x or x["id"] != sess:
                return self.ss_error(404, "TaskAgentSessionExpiredException", "No session %s" % sess)
            if self.command == "DELETE":
                s["session"] = None
                return self.send(204, check=False)
            x["seen"] = st.now()
            self.ss_new_queue_token(st, x)
            view = self.ss_session_view(st, s)
        self.ss_send(200, "RunnerScaleSetSession", view)

    def ss_queue_session(self, sess):
        """(set, session) for the queue of SESS with a valid queue token, or None after answering 401."""
        st = self.st
        auth = self.headers.get("Authorization") or ""
        m = re.match(r"^Bearer (\S+)$", auth)
        for s in st.ss_sets.values():
            x = s["session"]
            if x and x["id"] == sess and m and m.group(1) == x["token"] and x["token_expires"] > st.now():
                return s, x
        self.send(401, raw=b"The message queue token expired or is not valid", check=False,
                  headers={"Content-Type": "text/plain"})
        return None

    def ss_messages(self, query, sess, msg_id=None):
        st = self.st
        if self.command == "DELETE":
            with st.lock:
                got = self.ss_queue_session(sess)
                if not got:
                    return
                s, x = got
                x["seen"] = st.now()
                before = len(s["queue"])
                s["queue"] = [m for m in s["queue"] if m["messageId"] != int(msg_id)]
                if len(s["queue"]) == before:
                    return self.ss_error(404, "MessageNotFoundException", "No message %s" % msg_id)
            return self.send(204, check=False)
        cap = self.headers.get("X-ScaleSetMaxCapacity")
        if cap is None or not re.match(r"^\d+$", cap):
            return self.ss_error(400, "ArgumentException", "X-ScaleSetMaxCapacity must be a count of runners, 0 or more")
        last = int((query.get("lastMessageId") or ["0"])[0] or 0)
        deadline = time.monotonic() + st.ss_conf["poll_s"]
        with st.lock:
            while True:
                got = self.ss_queue_session(sess)
                if not got:
                    return
                s, x = got
                x["seen"] = st.now()
                s["capacity"] = int(cap)
                pump(st, s)
                msg = next((m for m in s["queue"] if m["messageId"] > last), None)
                left = deadline - time.monotonic()
                if msg or left <= 0:
                    break
                st.cond.wait(min(left, 1.0))
        if not msg:
            return self.send(202, check=False)
        self.ss_send(200, "RunnerScaleSetMessage", msg)

    def ss_acquire(self, query, sid):
        st = self.st
        scope = self.ss_admin(query)
        if not scope:
            return
        body = self.body_json()
        if not isinstance(body, list) or not all(isinstance(i, int) for i in body):
            return self.ss_error(400, "ArgumentException", "a list of runner request ids is expected")
        with st.lock:
            s = self.ss_find_set(scope, sid)
            if not s:
                return
            ours = {j["id"]: j for j in set_jobs(st, s)}
            got = [i for i in body if i in ours and ours[i]["status"] == "queued"]
            for i in got:
                s["acquired"].add(i)
                s["assigned"].add(i)
            st.cond.notify_all()
        self.ss_send(200, "Int64List", {"count": len(got), "value": got})

    def ss_jit(self, query, sid):
        st = self.st
        scope = self.ss_admin(query)
        if not scope:
            return
        body = self.body_json()
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
            return self.ss_error(400, "ArgumentException", "name is required")
        with st.lock:
            s = self.ss_find_set(scope, sid)
            if not s:
                return
            if any(r["scope"] == scope and r["name"].lower() == body["name"].lower() for r in st.runners.values()):
                return self.ss_error(409, "AgentExistsException", "A runner named %s already exists" % body["name"])
            r = self.add_runner(scope, body["name"], [s["name"]], ephemeral=True, group=s["group_id"], default_labels=False)
            r["scale_set"] = s["id"]
            secret = secrets.token_urlsafe(24)
            r["jit_secret"] = secret
            encoded = base64.b64encode(json.dumps({".runner": r["id"], ".credentials": secret, ".name": r["name"],
                                                   ".url": "http://%s" % self.headers.get("Host")}).encode()).decode()
            st.jit_issued += [secret, encoded]
            view = {"runner": {"id": r["id"], "name": r["name"], "runnerScaleSetId": s["id"]}, "encodedJITConfig": encoded}
        self.ss_send(200, "RunnerScaleSetJitRunnerConfig", view)

    def ss_agents(self, query, rid=None):
        st = self.st
        scope = self.ss_admin(query)
        if not scope:
            return
        with st.lock:
            if rid is None:
                name = (query.get("agentName") or [""])[0].lower()
                hit = [{"id": r["id"], "name": r["name"], "runnerScaleSetId": r.get("scale_set") or 0}
                       for r in st.runners.values() if r["scope"] == scope and r["name"].lower() == name]
                return self.ss_send(200, "RunnerReferenceList", {"count": len(hit), "value": hit})
            r = st.runners.get(int(rid))
            if not r or r["scope"] != scope:
                return self.ss_error(404, "AgentNotFoundException", "No runner %s" % rid)
            if self.command == "GET":
                return self.ss_send(200, "RunnerReference", {"id": r["id"], "name": r["name"],
                                                             "runnerScaleSetId": r.get("scale_set") or 0})
            if r["busy"]:
                return self.ss_error(400, "JobStillRunningException", "Runner %s is running a job" % r["name"])
            del st.runners[r["id"]]
        self.send(204, check=False)

    def ss_control(self, body):
        """POST /_double/scaleset: settings and expiries; GET: the sets, their sessions and queues."""
        st = self.st
        if self.command == "POST":
            for k in ("poll_s", "session_timeout", "queue_ttl", "admin_ttl"):
                if k in (body or {}):
                    st.ss_conf[k] = float(body[k])
            if (body or {}).get("flow") in ("available", "assigned"):
                st.ss_conf["flow"] = body["flow"]
            if (body or {}).get("expire") == "admin":
                for rec in st.ss_admin.values():
                    rec["expires"] = st.now() - 1
            if (body or {}).get("expire") == "queue":
                for s in st.ss_sets.values():
                    if s["session"]:
                        s["session"]["token_expires"] = st.now() - 1
            if (body or {}).get("drop_session"):
                for s in st.ss_sets.values():
                    s["session"] = None
            st.cond.notify_all()
        return {"conf": st.ss_conf, "sets": [
            dict(set_view(st, s), session=(s["session"] or {}).get("id"), owner=(s["session"] or {}).get("owner"),
                 queue=[m["messageId"] for m in s["queue"]], capacity=s.get("capacity"),
                 assigned=sorted(s["assigned"]), acquired=sorted(s["acquired"]))
            for s in st.ss_sets.values()]}


def add_routes(route, Handler):
    route(r"/actions/runner-registration", POST=lambda h, q: h.ss_registration(q))
    route(API + r"runtime/runnergroups/?", GET=lambda h, q: h.ss_groups(q))
    route(API + r"runtime/runnerscalesets", GET=lambda h, q: h.ss_sets(q), POST=lambda h, q: h.ss_sets(q))
    route(API + r"runtime/runnerscalesets/(\d+)", GET=lambda h, q, i: h.ss_set(q, i),
          PATCH=lambda h, q, i: h.ss_set(q, i), DELETE=lambda h, q, i: h.ss_set(q, i))
    route(API + r"runtime/runnerscalesets/(\d+)/sessions", POST=lambda h, q, i: h.ss_sessions(q, i))
    route(API + r"runtime/runnerscalesets/(\d+)/sessions/([0-9a-f-]+)",
          PATCH=lambda h, q, i, x: h.ss_sessions(q, i, x), DELETE=lambda h, q, i, x: h.ss_sessions(q, i, x))
    route(API + r"runtime/runnerscalesets/(\d+)/acquirejobs", POST=lambda h, q, i: h.ss_acquire(q, i))
    route(API + r"runtime/runnerscalesets/(\d+)/generatejitconfig", POST=lambda h, q, i: h.ss_jit(q, i))
    route(API + r"distributedtask/pools/0/agents", GET=lambda h, q: h.ss_agents(q))
    route(API + r"distributedtask/pools/0/agents/(\d+)", GET=lambda h, q, i: h.ss_agents(q, i),
          DELETE=lambda h, q, i: h.ss_agents(q, i))
    route(QUEUE + r"([0-9a-f-]+)", GET=lambda h, q, x: h.ss_messages(q, x))
    route(QUEUE + r"([0-9a-f-]+)/(\d+)", DELETE=lambda h, q, x, m: h.ss_messages(q, x, m))
