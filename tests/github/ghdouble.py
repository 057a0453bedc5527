#!/usr/bin/python3
"""A loopback GitHub double for lanekeeper's tests.

It serves the REST endpoints lanekeeper's GitHub client uses, with the
shapes of GitHub's published OpenAPI description (every JSON body it sends
is checked against tests/github/openapi-subset.json; a violation is kept
and reported at /_double/violations), and the behaviour the reference
describes: pagination with Link headers, ETags and 304s that cost no rate
limit (ETags die with the token), primary and secondary rate limits with
their headers, GitHub App JWTs verified against the app's public key,
installation tokens that expire, runners registered through registration
tokens or JIT configs whose status follows heartbeats, jobs, variables;
and the Actions service's runner scale set API (ghscaleset.py: shapes of
GitHub's actions/scaleset client, scaleset-shapes.json).

Tests steer it through /_double/... (loopback only, no authentication):
faults (5xx, slow answers, connection resets, malformed JSON, token
expiry), clock, heartbeats, jobs, and the state itself.

    ghdouble.py --port-file FILE [--app-id ID --app-public-key PEM]
                [--token TOKEN]... [--repo OWNER/NAME]... [--org ORG]...
                [--rate-limit N] [--heartbeat-timeout S]
"""
import argparse
import base64
import hashlib
import http.server
import json
import os
import re
import secrets
import socket
import socketserver
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ghjobs  # noqa: E402
from ghjobs import iso  # noqa: E402
import ghrest  # noqa: E402
import ghscaleset  # noqa: E402
import openapi_check  # noqa: E402

API_VERSIONS = ("2022-11-28", "2026-03-10")


class State:
    def __init__(self, args):
        self.lock = threading.RLock()
        self.offset = 0.0                      # the double's clock minus the host's
        self.app_id = args.app_id
        self.app_key = None
        if args.app_public_key:
            from cryptography.hazmat.primitives.serialization import load_pem_public_key
            self.app_key = load_pem_public_key(open(args.app_public_key, "rb").read())
        self.installation_id = args.installation_id
        self.token_ttl = args.token_ttl
        self.tokens = {t: {"expires": None, "kind": "pat"} for t in args.token}
        self.repos = {r.lower(): {"full_name": r, "variables": {},
                                  "actions": {"enabled": True, "allowed_actions": "all", "sha_pinning_required": False}}
                      for r in args.repo}
        self.orgs = {o.lower(): o for o in args.org}
        self.rate_limit = args.rate_limit
        self.heartbeat_timeout = args.heartbeat_timeout
        self.used = {}                         # (token, resource) -> (window start, used)
        self.runners = {}                      # id -> runner record
        self.next_id = 100
        self.reg_tokens = {}                   # registration and remove tokens
        self.runs = {}                         # run id -> run
        self.jobs = {}                         # job id -> job
        self.faults = []                       # [{kind, match, count, ...}]
        self.violations = []
        self.log = []                          # [(method, path, status, token-hash)]
        ghjobs.init_state(self)
        ghscaleset.init_state(self)

    def now(self):
        return time.time() + self.offset

    def new_id(self):
        self.next_id += 1
        return self.next_id


def scope_key(kind, name):
    return "%s:%s" % (kind, name.lower())


class Handler(ghrest.JobsMixin, ghscaleset.ScaleSetMixin, http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm on, the
    # body of a reply on a kept-alive connection waits for the client's
    # delayed ACK of the headers (40 ms on Linux), a stall GitHub's servers
    # do not have and that would be measured as lanekeeper's own time.
    disable_nagle_algorithm = True
    server_version = "GitHub.com"
    sys_version = ""

    def log_message(self, fmt, *args):   # quiet; the tests read /_double/log
        pass

    # ---- plumbing ----
    @property
    def st(self):
        return self.server.state

    def body_json(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return ValueError

    def send(self, status, body=None, headers=None, raw=None, check=True):
        st = self.st
        headers = dict(headers or {})
        if raw is None:
            raw = b"" if body is None or status in (204, 304) else json.dumps(body).encode()
            if check and not self.path.startswith("/_double") and status != 304:
                problems = openapi_check.check(self.command, urllib.parse.urlsplit(self.path).path, status,
                                               None if status == 204 else body)
                # errors are documented by most operations only as "basic-error": tolerated where undocumented
                if problems and status < 400:
                    with st.lock:
                        st.violations.extend(problems)
        self.send_response(status)
        if raw or status not in (204, 304):
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        headers.setdefault("Date", self.date_time_string(st.now()))
        headers.setdefault("X-GitHub-Request-Id", "%X:%X" % (os.getpid(), secrets.randbits(32)))
        headers.setdefault("X-GitHub-Api-Version-Selected", self.headers.get("X-GitHub-Api-Version") or "2022-11-28")
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        if raw:
            self.wfile.write(raw)

    def error(self, status, message, extra=None, headers=None):
        body = {"message": message, "documentation_url": "https://docs.github.com/rest", "status": str(status)}
        body.update(extra or {})
        self.send(status, body, headers)

    def fault(self):
        """The first matching fault, consumed; None when there is none."""
        with self.st.lock:
            for f in self.st.faults:
                if f["count"] != 0 and re.search(f.get("match", ""), self.command + " " + self.path):
                    if f["count"] > 0:
                        f["count"] -= 1
                    return dict(f)
        return None

    # ---- authentication and rate limits ----
    def credential(self):
        auth = self.headers.get("Authorization") or ""
        m = re.match(r"^(?:Bearer|token) (\S+)$", auth)
        return m.group(1) if m else None

    def check_jwt(self, jwt_text):
        import jwt as pyjwt
        st = self.st
        if not st.app_key:
            return "no app is configured"
        try:
            claims = pyjwt.decode(jwt_text, st.app_key, algorithms=["RS256"],
                                  options={"verify_exp": False, "verify_iat": False, "require": ["iat", "exp", "iss"]})
        except Exception as e:  # any decoding or signature failure
            return "A JSON web token could not be decoded (%s)" % type(e).__name__
        now = st.now()
        if str(claims["iss"]) != str(st.app_id):
            return "'Issuer' claim ('iss') must be an Integer"
        if claims["iat"] > now + 1:
            return "'Issued at' claim ('iat') must be an Integer representing a time in the past"
        if claims["exp"] <= now:
            return "'Expiration time' claim ('exp') is too far in the past"
        if claims["exp"] - claims["iat"] > 600 or claims["exp"] > now + 600:
            return "'Expiration time' claim ('exp') is too far in the future"
        return None

    def authenticate(self, jwt_ok=False):
        """The token record, or None after answering 401."""
        st = self.st
        cred = self.credential()
        if not cred:
            self.error(401, "Requires authentication")
            return None
        if jwt_ok and cred.count(".") == 2 and cred.startswith("eyJ"):
            problem = self.check_jwt(cred)
            if problem:
                self.error(401, problem)
                return None
            return {"kind": "jwt", "token": "jwt:%s" % st.app_id}
        with st.lock:
            rec = st.tokens.get(cred)
            if not rec:
                self.error(401, "Bad credentials")
                return None
            if rec["expires"] is not None and rec["expires"] <= st.now():
                self.error(401, "Bad credentials")
                return None
        return dict(rec, token=cred)

    def rate_headers(self, token, resource, spend):
        """(headers, limited?) after spending SPEND units of TOKEN's RESOURCE."""
        st = self.st
        now = st.now()
        with st.lock:
            start, used = st.used.get((token, resource), (now, 0))
            if now - start >= 3600:
                start, used = now, 0
            limited = used >= st.rate_limit and spend > 0
            if not limited:
                used += spend
            st.used[(token, resource)] = (start, used)
        return {
            "x-ratelimit-limit": str(st.rate_limit),
            "x-ratelimit-remaining": str(max(st.rate_limit - used, 0)),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(int(start + 3600)),
            "x-ratelimit-resource": resource,
        }, limited

    # ---- dispatch ----
    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def dispatch(self):
        url = urllib.parse.urlsplit(self.path)
        path, query = url.path, urllib.parse.parse_qs(url.query)
        if path.startswith("/_double/"):
            return self.control(path[len("/_double/"):])
        if path.startswith("/_runner/") and self.command == "POST":
            body = self.body_json()
            status, out = ghjobs.runner_protocol(self, path[len("/_runner/"):], body)
            return self.send(status, out, check=False)
        if path.startswith(("/_logs/", "/_codeload/")) and self.command == "GET":
            return self.signed_download(path, query)
        st = self.st
        with st.lock:
            st.log.append([self.command, self.path, None, hashlib.sha256((self.credential() or "").encode()).hexdigest()[:12]])
        f = self.fault()
        if f:
            if f["kind"] == "reset":
                self.body_json()
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                self.close_connection = True
                self.connection.close()
                return
            if f["kind"] == "slow":
                time.sleep(f.get("seconds", 5))
            elif f["kind"] == "status":
                self.body_json()
                return self.error(f["status"], f.get("message", "Server Error"),
                                  headers={"Retry-After": str(f["retry_after"])} if "retry_after" in f else None)
            elif f["kind"] == "malformed":
                self.body_json()
                return self.send(200, raw=b'{"total_count": 1, "runners": [{"id": 1, "name": ')
            elif f["kind"] == "expire-token":
                with st.lock:
                    for rec in st.tokens.values():
                        if rec["kind"] == "installation":
                            rec["expires"] = st.now() - 1
            elif f["kind"] == "secondary":
                self.body_json()
                return self.error(403, "You have exceeded a secondary rate limit. Please wait a few minutes before you "
                                  "try again.", headers={"Retry-After": str(f.get("retry_after", 60))}
                                  if f.get("retry_after") is not None else None)
        if not self.headers.get("User-Agent"):
            return self.error(403, "Request forbidden by administrative rules. Please make sure your request has a "
                              "User-Agent header.")
        version = self.headers.get("X-GitHub-Api-Version")
        if version and version not in API_VERSIONS:
            return self.error(400, "API version %s is not supported." % version)
        for rx, methods in ROUTES:
            m = re.match(rx, path)
            if m:
                fn = methods.get(self.command)
                if not fn:
                    return self.error(404, "Not Found")
                return fn(self, query, *m.groups())
        return self.error(404, "Not Found")

    # ---- the API ----
    def api(self, query, resource="core", jwt=False, mutating=False):  # noqa: ARG002 (mutating: for the log)
        """Authenticate and count; returns (token record, rate headers) or None after answering."""
        rec = self.authenticate(jwt_ok=jwt)
        if not rec:
            return None
        if rec["kind"] == "jwt" and not jwt:
            self.error(401, "A JSON web token cannot be used to authenticate to this endpoint")
            return None
        headers, _ = self.rate_headers(rec["token"], resource, 0)
        if int(headers["x-ratelimit-remaining"]) == 0:
            self.error(403, "API rate limit exceeded for installation. If you reach out to GitHub Support for help, "
                       "please include the request ID.", headers=headers)
            return None
        return rec, headers

    def reply(self, rec, rheaders, status, body, resource="core", link=None, location=None):
        """Send BODY with an ETag; a matching If-None-Match costs nothing."""
        st = self.st
        etag = None
        if self.command == "GET":
            digest = hashlib.sha256(rec["token"].encode() + b"\0" + json.dumps(body, sort_keys=True).encode())
            etag = '"%s"' % digest.hexdigest()[:40]
            inm = self.headers.get("If-None-Match")
            if inm and etag in [t.strip() for t in inm.split(",")]:
                headers = dict(rheaders, ETag=etag, **{"Cache-Control": "private, max-age=60, s-maxage=60"})
                return self.send(304, headers=headers)
        headers, _ = self.rate_headers(rec["token"], resource, 1)
        if etag:
            headers["ETag"] = etag
            headers["Cache-Control"] = "private, max-age=60, s-maxage=60"
            headers["Vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP"
        if link:
            headers["Link"] = link
        if location:
            headers["Location"] = location
        with st.lock:
            if st.log:
                st.log[-1][2] = status
        self.send(status, body, headers)

    def scope(self, kind, name):
        st = self.st
        if kind == "repo" and name.lower() not in st.repos:
            return None
        if kind == "org" and name.lower() not in st.orgs:
            return None
        return scope_key(kind, name)

    def paginate(self, query, items, key, total=None):
        per_page = min(int((query.get("per_page") or ["30"])[0]), 100)
        page = max(int((query.get("page") or ["1"])[0]), 1)
        last = max((len(items) + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page: page * per_page]
        links = []
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[0] for k, v in query.items()}

        def at(p):
            q2 = dict(q, per_page=str(per_page), page=str(p))
            host = self.headers.get("Host")
            return "<http://%s%s?%s>" % (host, url.path, urllib.parse.urlencode(q2))
        if page > 1:
            links.append('%s; rel="prev"' % at(page - 1))
        if page < last:
            links.append('%s; rel="next"' % at(page + 1))
            links.append('%s; rel="last"' % at(last))
        if page > 1:
            links.append('%s; rel="first"' % at(1))
        return {"total_count": len(items) if total is None else total, key: chunk}, ", ".join(links) or None

    def runner_view(self, r):
        st = self.st
        online = r["last_heartbeat"] is not None and st.now() - r["last_heartbeat"] < st.heartbeat_timeout
        view = {"id": r["id"], "name": r["name"], "os": r["os"], "status": "online" if online else "offline",
                "busy": bool(r["busy"]) and online, "ephemeral": r["ephemeral"],
                "runner_group_id": r["runner_group_id"], "labels": r["labels"]}
        if r.get("version"):
            view["version"] = r["version"]
        return view

    def find_runner(self, sk, rid):
        r = self.st.runners.get(int(rid))
        return r if r and r["scope"] == sk else None

    def list_runners(self, query, kind, name):
        a = self.api(query)
        if not a:
            return
        sk = self.scope(kind, name)
        if not sk:
            return self.error(404, "Not Found")
        with self.st.lock:
            want = (query.get("name") or [None])[0]
            rs = [self.runner_view(r) for r in sorted(self.st.runners.values(), key=lambda r: r["id"])
                  if r["scope"] == sk and (want is None or r["name"].lower() == want.lower())]
        body, link = self.paginate(query, rs, "runners")
        self.reply(*a, 200, body, link=link)

    def get_runner(self, query, kind, name, rid):
        a = self.api(query)
        if not a:
            return
        with self.st.lock:
            r = self.find_runner(self.scope(kind, name), rid)
            view = self.runner_view(r) if r else None
        if not view:
            return self.error(404, "Not Found")
        self.reply(*a, 200, view)

    def delete_runner(self, query, kind, name, rid):
        a = self.api(query, mutating=True)
        if not a:
            return
        with self.st.lock:
            r = self.find_runner(self.scope(kind, name), rid)
            if not r:
                return self.error(404, "Not Found")
            if self.runner_view(r)["busy"]:
                return self.error(422, 'Bad request - Runner "%s" is still running a job"' % r["name"])
            del self.st.runners[r["id"]]
        self.reply(*a, 204, None)

    def make_token(self, query, kind, name, purpose):
        a = self.api(query, resource="actions_runner_registration")
        if not a:
            return
        sk = self.scope(kind, name)
        if not sk:
            return self.error(404, "Not Found")
        token = base64.b32encode(secrets.token_bytes(18)).decode().rstrip("=")
        expires = self.st.now() + 3600
        with self.st.lock:
            self.st.reg_tokens[token] = {"scope": sk, "purpose": purpose, "expires": expires}
        self.reply(*a, 201, {"token": token, "expires_at": iso(expires)}, resource="actions_runner_registration")

    def jitconfig(self, query, kind, name):
        a = self.api(query, mutating=True)
        if not a:
            return
        sk = self.scope(kind, name)
        body = self.body_json()
        if not sk:
            return self.error(404, "Not Found")
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or \
                not isinstance(body.get("runner_group_id"), int) or not isinstance(body.get("labels"), list) or \
                not 1 <= len(body["labels"]) <= 100:
            return self.error(422, "Invalid request.", {"errors": ["name, runner_group_id and labels are required"]})
        with self.st.lock:
            if any(r["scope"] == sk and r["name"].lower() == body["name"].lower() for r in self.st.runners.values()):
                return self.error(409, "Already exists - A runner with the name %s already exists." % body["name"])
            r = self.add_runner(sk, body["name"], body["labels"], ephemeral=True, group=body["runner_group_id"],
                                default_labels=False)
            secret = secrets.token_urlsafe(24)
            r["jit_secret"] = secret
            encoded = base64.b64encode(json.dumps({".runner": r["id"], ".credentials": secret, ".name": r["name"],
                                                   ".url": "http://%s" % self.headers.get("Host")}).encode()).decode()
            self.st.jit_issued += [secret, encoded]
            view = self.runner_view(r)
        self.reply(*a, 201, {"runner": view, "encoded_jit_config": encoded})

    def add_runner(self, sk, name, labels, ephemeral=False, group=1, default_labels=True):
        st = self.st
        rid = st.new_id()
        lab = []
        if default_labels:
            lab = [{"id": 1, "name": "self-hosted", "type": "read-only"}, {"id": 2, "name": "Linux", "type": "read-only"},
                   {"id": 3, "name": "X64", "type": "read-only"}]
        for n in labels:
            if n.lower() not in [x["name"].lower() for x in lab]:
                lab.append({"id": st.new_id(), "name": n, "type": "custom"})
        r = {"id": rid, "scope": sk, "name": name, "os": "Linux", "labels": lab, "busy": False, "ephemeral": ephemeral,
             "runner_group_id": group, "last_heartbeat": None, "session": None, "version": None}
        st.runners[rid] = r
        return r

    def labels(self, query, kind, name, rid, label=None):
        mutating = self.command != "GET"
        a = self.api(query, mutating=mutating)
        if not a:
            return
        body = self.body_json() if self.command in ("POST", "PUT") else None
        with self.st.lock:
            r = self.find_runner(self.scope(kind, name), rid)
            if not r:
                return self.error(404, "Not Found")
            custom = [x for x in r["labels"] if x["type"] == "custom"]
            fixed = [x for x in r["labels"] if x["type"] == "read-only"]
            if self.command in ("POST", "PUT"):
                if not isinstance(body, dict) or not isinstance(body.get("labels"), list) or \
                        not all(isinstance(n, str) and n for n in body["labels"]) or len(body["labels"]) > 100 or \
                        (self.command == "POST" and not body["labels"]):
                    return self.error(422, "Validation Failed", {"errors": [{"resource": "Label", "code": "invalid",
                                                                             "field": "labels"}]})
                if self.command == "PUT":
                    custom = []
                for n in body["labels"]:
                    if n.lower() not in [x["name"].lower() for x in fixed + custom]:
                        custom.append({"id": self.st.new_id(), "name": n, "type": "custom"})
            elif self.command == "DELETE" and label is None:
                custom = []
            elif self.command == "DELETE":
                left = [x for x in custom if x["name"].lower() != urllib.parse.unquote(label).lower()]
                if len(left) == len(custom):
                    return self.error(404, "Not Found")
                custom = left
            r["labels"] = fixed + custom
            out = list(r["labels"]) if self.command == "GET" else list(r["labels"] if label is None else r["labels"])
        self.reply(*a, 200, {"total_count": len(out), "labels": out})

    def runner_groups(self, query, org):
        a = self.api(query)
        if not a:
            return
        if not self.scope("org", org):
            return self.error(404, "Not Found")
        groups = [{"id": 1, "name": "Default", "visibility": "all", "default": True, "inherited": False,
                   "allows_public_repositories": False, "restricted_to_workflows": False, "selected_workflows": [],
                   "workflow_restrictions_read_only": False,
                   "runners_url": "http://%s/orgs/%s/actions/runner-groups/1/runners" % (self.headers.get("Host"), org)}]
        body, link = self.paginate(query, groups, "runner_groups")
        self.reply(*a, 200, body, link=link)

    def list_runs(self, query, owner, repo):
        a = self.api(query)
        if not a:
            return
        sk = self.scope("repo", owner + "/" + repo)
        if not sk:
            return self.error(404, "Not Found")
        q = {k: (query.get(k) or [None])[0] for k in ("status", "event", "branch", "actor", "head_sha")}
        filtered = any(q.values())

        def wanted(v):
            return (q["status"] is None or q["status"] in (v["status"], v["conclusion"])) and \
                (q["event"] is None or v["event"] == q["event"]) and \
                (q["branch"] is None or v["head_branch"] == q["branch"]) and \
                (q["actor"] is None or v["actor"]["login"].lower() == q["actor"].lower()) and \
                (q["head_sha"] is None or v["head_sha"] == q["head_sha"])
        with self.st.lock:
            runs = [json.loads(json.dumps(r["view"])) for r in sorted(self.st.runs.values(), key=lambda r: -r["view"]["id"])
                    if r["scope"] == sk and wanted(r["view"])]
        # filtered listings stop at 1,000 results, as GitHub's do
        body, link = self.paginate(query, runs[:1000] if filtered else runs, "workflow_runs",
                                   total=min(len(runs), 1000) if filtered else None)
        self.reply(*a, 200, body, link=link)

    def run_jobs(self, query, owner, repo, run_id):
        a = self.api(query)
        if not a:
            return
        which = (query.get("filter") or ["latest"])[0]
        if which not in ("latest", "all"):
            return self.error(422, "Invalid request.\n\nfilter must be latest or all.")
        with self.st.lock:
            run = self.repo_run(owner, repo, run_id)
            if not run:
                return self.error(404, "Not Found")
            jobs = json.loads(json.dumps(ghjobs.latest_jobs(self.st, run["view"]["id"], which)))
        body, link = self.paginate(query, jobs, "jobs")
        self.reply(*a, 200, body, link=link)

    def run_action(self, query, owner, repo, run_id, action):
        a = self.api(query, mutating=True)
        if not a:
            return
        host = self.headers.get("Host")
        with self.st.lock:
            run = self.repo_run(owner, repo, run_id)
            if not run:
                return self.error(404, "Not Found")
            v = run["view"]
            if action in ("cancel", "force-cancel"):
                if v["status"] == "completed":
                    return self.error(409, "Cannot cancel a workflow run that is completed.")
                ghjobs.cancel_run(self.st, v, action == "force-cancel", host)
                status = 202
            else:
                if v["status"] != "completed":
                    return self.error(403, "This workflow is already running")
                if action == "rerun-failed-jobs" and v["conclusion"] == "success":
                    return self.error(403, "This workflow run is not rerunnable")
                ghjobs.rerun(self.st, v["id"], action == "rerun-failed-jobs", host)
                status = 201
        self.reply(*a, status, {})

    def variables(self, query, owner, repo, vname=None):
        a = self.api(query, mutating=self.command != "GET")
        if not a:
            return
        sk = self.scope("repo", owner + "/" + repo)
        if not sk:
            return self.error(404, "Not Found")
        st = self.st
        variables = st.repos[(owner + "/" + repo).lower()]["variables"]
        if self.command == "GET" and vname is None:
            vs = [variables[k] for k in sorted(variables)]
            query = dict(query, per_page=[str(min(int((query.get("per_page") or ["10"])[0]), 30))])
            body, link = self.paginate(query, vs, "variables")
            return self.reply(*a, 200, body, link=link)
        if self.command == "GET":
            v = variables.get(vname.upper())
            return self.reply(*a, 200, v) if v else self.error(404, "Not Found")
        body = self.body_json()
        name = (body or {}).get("name", vname) if isinstance(body, dict) else None
        valid = isinstance(body, dict) and isinstance(name, str) and re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name) and \
            not name.upper().startswith("GITHUB_") and isinstance(body.get("value", ""), str)
        if not valid or (self.command == "POST" and not isinstance(body.get("value"), str)):
            return self.error(422, "Invalid request.", {"errors": ["name must be [A-Za-z0-9_], not GITHUB_"]})
        now = iso(st.now())
        with st.lock:
            if self.command == "POST":
                if name.upper() in variables:
                    return self.error(409, "Already exists - Variable already exists")
                variables[name.upper()] = {"name": name.upper(), "value": body["value"], "created_at": now,
                                           "updated_at": now}
                return self.reply(*a, 201, {})
            v = variables.get(vname.upper())
            if not v:
                return self.error(404, "Not Found")
            if "value" in body:
                v["value"] = body["value"]
            if "name" in body and body["name"].upper() != vname.upper():
                del variables[vname.upper()]
                v["name"] = body["name"].upper()
                variables[v["name"]] = v
            v["updated_at"] = now
        self.reply(*a, 204, None)

    def actions_permissions(self, query, owner, repo):
        """GET/PUT the repository's Actions permissions. Disabled: no runner is given a job of the
        repository (its queued jobs stay queued, untouched) and a dispatch is refused."""
        a = self.api(query, mutating=self.command != "GET")
        if not a:
            return
        if not self.scope("repo", owner + "/" + repo):
            return self.error(404, "Not Found")
        perms = self.st.repos[(owner + "/" + repo).lower()]["actions"]
        if self.command == "GET":
            out = dict(perms)
            if out["enabled"] and out["allowed_actions"] == "selected":
                out["selected_actions_url"] = "http://%s/repos/%s/%s/actions/permissions/selected-actions" % (
                    self.headers.get("Host"), owner, repo)
            if not out["enabled"]:
                out.pop("allowed_actions")
            return self.reply(*a, 200, out)
        body = self.body_json()
        if not isinstance(body, dict) or not isinstance(body.get("enabled"), bool) or \
                body.get("allowed_actions", "all") not in ("all", "local_only", "selected") or \
                not isinstance(body.get("sha_pinning_required", False), bool):
            return self.error(422, "Invalid request.\n\nenabled (a boolean) is required; allowed_actions is "
                              "all, local_only or selected.")
        with self.st.lock:
            perms["enabled"] = body["enabled"]
            for k in ("allowed_actions", "sha_pinning_required"):
                if k in body:
                    perms[k] = body[k]
            self.st.cond.notify_all()
        self.reply(*a, 204, None)

    def installation(self, query, kind, name):
        a = self.api(query, jwt=True)
        if not a:
            return
        if a[0]["kind"] != "jwt":
            return self.error(401, "A JSON web token could not be decoded")
        if not self.scope(kind, name):
            return self.error(404, "Not Found")
        account = name.split("/")[0]
        self.reply(*a, 200, {
            "id": self.st.installation_id, "app_id": int(self.st.app_id), "app_slug": "lanekeeper",
            "target_id": 1, "target_type": "Organization",
            "account": None, "access_tokens_url": "http://%s/app/installations/%d/access_tokens" % (
                self.headers.get("Host"), self.st.installation_id),
            "repositories_url": "http://%s/installation/repositories" % self.headers.get("Host"),
            "html_url": "https://github.com/organizations/%s/settings/installations/%d" % (
                account, self.st.installation_id),
            "repository_selection": "all", "permissions": {"administration": "write", "actions": "write"},
            "events": [], "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
            "single_file_name": None, "suspended_by": None, "suspended_at": None})

    def access_token(self, query, inst):
        a = self.api(query, jwt=True, mutating=True)
        if not a:
            return
        if a[0]["kind"] != "jwt":
            return self.error(401, "A JSON web token could not be decoded")
        if int(inst) != self.st.installation_id:
            return self.error(404, "Not Found")
        # long, with dots, of varying length: as GitHub's since 2026
        token = "ghs_" + ".".join(secrets.token_urlsafe(48).replace("-", "A").replace("_", "b")
                                  for _ in range(secrets.choice((8, 9, 10))))
        expires = self.st.now() + self.st.token_ttl
        with self.st.lock:
            self.st.tokens[token] = {"expires": expires, "kind": "installation"}
        self.reply(*a, 201, {"token": token, "expires_at": iso(expires),
                             "permissions": {"administration": "write", "actions": "write"},
                             "repository_selection": "all"})

    def rate_limit(self, query):
        rec = self.authenticate()
        if not rec:
            return
        res = {}
        for name in ("core", "search", "graphql", "integration_manifest", "actions_runner_registration"):
            h, _ = self.rate_headers(rec["token"], name, 0)
            res[name] = {"limit": int(h["x-ratelimit-limit"]), "remaining": int(h["x-ratelimit-remaining"]),
                         "used": int(h["x-ratelimit-used"]), "reset": int(h["x-ratelimit-reset"])}
        h, _ = self.rate_headers(rec["token"], "core", 0)
        self.send(200, {"resources": res, "rate": res["core"]}, h)   # free: nothing spent

    # ---- control ----
    def control(self, what):
        st = self.st
        body = self.body_json() if self.command in ("POST", "PUT") else None
        with st.lock:
            if what == "state" and self.command == "GET":
                return self.send(200, {
                    "runners": [dict(self.runner_view(r), scope=r["scope"]) for r in st.runners.values()],
                    "runs": [r["view"] for r in st.runs.values()], "jobs": list(st.jobs.values()),
                    "variables": {k: v["variables"] for k, v in st.repos.items()},
                    "tokens": len(st.tokens), "now": st.now()}, check=False)
            if what == "violations":
                return self.send(200, {"violations": st.violations}, check=False)
            if what == "issued":
                # every secret the double ever handed out, for leak scans
                issued = list(st.tokens.keys()) + list(st.reg_tokens.keys())
                issued += [r[k] for r in st.runners.values() for k in ("credential", "jit_secret") if r.get(k)]
                issued += [t for t in st.job_tokens if t not in issued]
                issued += [t for t in getattr(st, "jit_issued", []) if t not in issued]
                issued += [t for t in st.ss_issued if t not in issued]
                return self.send(200, {"tokens": issued}, check=False)
            if what == "log":
                return self.send(200, {"log": st.log}, check=False)
            if what == "scaleset":
                return self.send(200, self.ss_control(body), check=False)
            if what == "fault":
                f = dict(body)
                f.setdefault("count", 1)
                st.faults.append(f)
                return self.send(200, {"faults": len(st.faults)}, check=False)
            if what == "clear-faults":
                st.faults.clear()
                return self.send(200, {}, check=False)
            if what == "clock":
                st.offset = float(body["offset"])
                return self.send(200, {"now": st.now()}, check=False)
            if what == "reset-usage":
                st.used.clear()
                return self.send(200, {}, check=False)
            out = self.jobs_control(what, body)
            if out is not None:
                return self.send(out[0], out[1], check=False)
        return self.send(404, {"message": "no such control"}, check=False)



ROUTES = []


def route(rx, **methods):
    ROUTES.append((re.compile("^" + rx + "$"), methods))


S = r"([A-Za-z0-9_.-]+)"
for kind, prefix in (("repo", r"/repos/([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)"), ("org", r"/orgs/" + S)):
    def bind(fn, kind=kind):
        return lambda h, q, *g: fn(h, q, kind, *g)
    route(prefix + r"/actions/runners", GET=bind(Handler.list_runners))
    route(prefix + r"/actions/runners/(\d+)", GET=bind(Handler.get_runner), DELETE=bind(Handler.delete_runner))
    route(prefix + r"/actions/runners/registration-token",
          POST=lambda h, q, n, kind=kind: Handler.make_token(h, q, kind, n, "registration"))
    route(prefix + r"/actions/runners/remove-token",
          POST=lambda h, q, n, kind=kind: Handler.make_token(h, q, kind, n, "remove"))
    route(prefix + r"/actions/runners/generate-jitconfig", POST=bind(Handler.jitconfig))
    route(prefix + r"/actions/runners/(\d+)/labels", GET=bind(Handler.labels), POST=bind(Handler.labels),
          PUT=bind(Handler.labels), DELETE=bind(Handler.labels))
    route(prefix + r"/actions/runners/(\d+)/labels/([^/]+)", DELETE=bind(Handler.labels))
    route(prefix + r"/installation", GET=bind(Handler.installation))
route(r"/orgs/" + S + r"/actions/runner-groups", GET=lambda h, q, o: Handler.runner_groups(h, q, o))
route(r"/repos/" + S + "/" + S + r"/actions/runs", GET=lambda h, q, o, r: Handler.list_runs(h, q, o, r))
route(r"/repos/" + S + "/" + S + r"/actions/runs/(\d+)/jobs", GET=lambda h, q, o, r, i: Handler.run_jobs(h, q, o, r, i))
for action in ("cancel", "force-cancel", "rerun-failed-jobs"):
    route(r"/repos/" + S + "/" + S + r"/actions/runs/(\d+)/" + action,
          POST=lambda h, q, o, r, i, action=action: Handler.run_action(h, q, o, r, i, action))
route(r"/repos/" + S + "/" + S + r"/actions/permissions",
      GET=lambda h, q, o, r: h.actions_permissions(q, o, r), PUT=lambda h, q, o, r: h.actions_permissions(q, o, r))
route(r"/repos/" + S + "/" + S + r"/actions/variables",
      GET=lambda h, q, o, r: Handler.variables(h, q, o, r), POST=lambda h, q, o, r: Handler.variables(h, q, o, r))
route(r"/repos/" + S + "/" + S + r"/actions/variables/([A-Za-z0-9_]+)",
      GET=lambda h, q, o, r, n: Handler.variables(h, q, o, r, n), PATCH=lambda h, q, o, r, n: Handler.variables(h, q, o, r, n))
ghrest.add_routes(route, Handler, S)
ghscaleset.add_routes(route, Handler)
route(r"/app/installations/(\d+)/access_tokens", POST=lambda h, q, i: Handler.access_token(h, q, i))
route(r"/rate_limit", GET=lambda h, q: Handler.rate_limit(h, q))


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--app-id", default="4242")
    ap.add_argument("--app-public-key")
    ap.add_argument("--installation-id", type=int, default=777)
    ap.add_argument("--token-ttl", type=float, default=3600)
    ap.add_argument("--token", action="append", default=[])
    ap.add_argument("--repo", action="append", default=[])
    ap.add_argument("--org", action="append", default=[])
    ap.add_argument("--rate-limit", type=int, default=5000)
    ap.add_argument("--heartbeat-timeout", type=float, default=60)
    args = ap.parse_args()
    srv = Server(("127.0.0.1", 0), Handler)
    srv.state = State(args)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    try:
        srv.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
