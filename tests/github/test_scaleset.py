#!/usr/bin/python3
"""The double's runner scale set service against the shapes of GitHub's
own client (tests/github/scaleset-shapes.json, written from actions/scaleset
and citing its files and commits) and the flow the reference describes: the
registration exchange, runner groups, scale sets, one session per set, the
long poll, messages kept until deleted, acquisition, statistics, JIT runners
that take only their set's jobs, runner removal, expired tokens. Every body
is checked here against the fixture, as the double checks its own, and the
test ends by asserting the double kept no violation."""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_double  # noqa: E402
from test_double import Double, check  # noqa: E402
from test_jobs import Runner  # noqa: E402
import jsonschema  # noqa: E402
import jwt as pyjwt  # noqa: E402

SHAPES = json.load(open(os.path.join(HERE, "scaleset-shapes.json")))
A = "/_actions/lk/_apis/"
V = "api-version=6.0-preview"


def shaped(name, body, what):
    schema = dict(SHAPES["definitions"][name], definitions=SHAPES["definitions"])
    problems = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(body)]
    check("%s has the shape of %s" % (what, name), not problems, problems[:3])


class Service:
    """The service as lanekeeper's client speaks to it."""

    def __init__(self, d, scope_url="https://github.com/acme/site", reg_path="/repos/acme/site"):
        self.d = d
        _, _, tok = d.req("POST", reg_path + "/actions/runners/registration-token")
        st, _, body = d.req("POST", "/actions/runner-registration", {"url": scope_url, "runner_event": "register"},
                            token=None, headers={"Authorization": "RemoteAuth " + tok["token"]})
        self.status, self.conn = st, body
        self.admin = body["token"] if st == 201 else None

    def req(self, method, path, body=None, version=True, token=None, headers=None):
        sep = "&" if "?" in path else "?"
        p = A + path + (sep + V if version else "")
        h = {"Authorization": "Bearer " + (token or self.admin)}
        h.update(headers or {})
        return self.d.req(method, p, body, token=None, headers=h)

    def queue(self, session, method="GET", last=0, cap="8", msg=None, token=None):
        path = session["messageQueueUrl"].split("://", 1)[1].split("/", 1)[1]
        h = {"Authorization": "Bearer " + (token or session["messageQueueAccessToken"]), "Accept": "application/json; api-version=6.0-preview"}
        if cap is not None:
            h["X-ScaleSetMaxCapacity"] = cap
        if msg is not None:
            st, hd, text = self.d.req("DELETE", "/%s/%d" % (path, msg), token=None, headers=h, raw=True)
        else:
            st, hd, text = self.d.req(method, "/%s%s" % (path, "?lastMessageId=%d" % last if last else ""), token=None,
                                      headers=h, raw=True)
        json_body = "json" in (hd.get("Content-Type") or "") and text
        return st, hd, json.loads(text) if json_body else text  # a 401 here is text, as the client reads it


def exchange(d):
    s = Service(d)
    check("the registration exchange answers 201", s.status == 201, s.conn)
    shaped("AdminConnection", s.conn, "the exchange's answer")
    claims = pyjwt.decode(s.admin, options={"verify_signature": False})
    check("the admin token is a JWT with a future exp", claims["exp"] > time.time() + 600, claims)
    bad = Service(d, scope_url="https://github.com/acme/other")
    check("a registration token of another scope is refused", bad.status == 404, bad.conn)
    st, _, _ = d.req("POST", "/actions/runner-registration", {"url": "https://github.com/acme/site", "runner_event": "register"},
                     token=None, headers={"Authorization": "RemoteAuth nope"})
    check("an unknown registration token: 401", st == 401, st)
    st, _, _ = s.req("GET", "runtime/runnergroups/?groupName=Default", token="x.y.z")
    check("an unknown admin token: 401", st == 401, st)
    st, _, body = s.req("GET", "runtime/runnergroups/?groupName=Default", version=False)
    check("no api-version: 400", st == 400 and body["typeName"].endswith("Exception"), body)
    st, _, body = s.req("GET", "runtime/runnergroups/?groupName=Default")
    check("the default runner group", st == 200 and body["count"] == 1 and body["value"][0]["isDefaultGroup"], body)
    shaped("RunnerGroupList", body, "runner groups")
    st, _, body = s.req("GET", "runtime/runnergroups/?groupName=nosuch")
    check("no such group: count 0", st == 200 and body["count"] == 0, body)
    return s


def scale_sets(s):
    st, _, made = s.req("POST", "runtime/runnerscalesets", {"name": "lk-ss", "runnerGroupId": 1,
                                                            "labels": [{"name": "lk-ss", "type": "System"}],
                                                            "RunnerSetting": {"disableUpdate": True}})
    check("a scale set is made", st == 200 and made["name"] == "lk-ss" and made["id"] > 0, made)
    shaped("RunnerScaleSet", made, "a new scale set")
    st, _, body = s.req("POST", "runtime/runnerscalesets", {"name": "LK-SS", "runnerGroupId": 1})
    check("a duplicate name in the group: 400 RunnerScaleSetExistsException",
          st == 400 and body["typeName"] == "RunnerScaleSetExistsException", body)
    shaped("ActionsException", body, "the duplicate's error")
    st, _, body = s.req("GET", "runtime/runnerscalesets?runnerGroupId=1&name=lk-ss")
    check("found by group and name", st == 200 and body["count"] == 1 and body["value"][0]["id"] == made["id"], body)
    shaped("RunnerScaleSetList", body, "the scale set list")
    st, _, body = s.req("GET", "runtime/runnerscalesets/%d" % made["id"])
    check("read by id, with statistics", st == 200 and body["statistics"]["totalAssignedJobs"] == 0, body)
    st, _, body = s.req("PATCH", "runtime/runnerscalesets/%d" % made["id"], {"RunnerSetting": {"disableUpdate": False}})
    check("updated", st == 200 and body["RunnerSetting"]["disableUpdate"] is False, body)
    st, _, body = s.req("GET", "runtime/runnerscalesets/999999")
    check("no such scale set: 404", st == 404, body)
    return made


def sessions(d, s, ss):
    st, _, sess = s.req("POST", "runtime/runnerscalesets/%d/sessions" % ss["id"], {"ownerName": "host-a"})
    check("a session", st == 200 and sess["ownerName"] == "host-a", sess)
    shaped("RunnerScaleSetSession", sess, "the session")
    st, _, body = s.req("POST", "runtime/runnerscalesets/%d/sessions" % ss["id"], {"ownerName": "host-b"})
    check("a second session conflicts: 409", st == 409 and body["typeName"] == "TaskAgentSessionConflictException", body)
    st, _, body = s.queue(sess, cap=None)
    check("a poll without X-ScaleSetMaxCapacity: 400", st == 400, body)
    d.ctl("scaleset", {"poll_s": 1})
    t0 = time.monotonic()
    st, _, body = s.queue(sess)
    check("an empty queue: 202 after the long poll", st == 202 and time.monotonic() - t0 >= 0.9, (st, body))
    return sess


def jobs(d, s, ss, sess):
    run = d.ctl("run", {"repo": "acme/site", "jobs": [{"name": "a", "runs_on": ["lk-ss"]}]})["run_id"]
    d.ctl("run", {"repo": "acme/site", "jobs": [{"name": "other", "runs_on": ["self-hosted", "lk-ss"]}]})
    st, _, m1 = s.queue(sess)
    check("a job for the set: a message", st == 200, (st, m1))
    shaped("RunnerScaleSetMessage", m1, "the message")
    items = json.loads(m1["body"])
    check("... JobAvailable for the job whose runs-on is the set's name only", [i["messageType"] for i in items] == ["JobAvailable"] and
          items[0]["jobDisplayName"] == "a" and items[0]["workflowRunId"] == run, items)
    for i in items:
        shaped(i["messageType"], i, "the job message")
    check("... statistics: 1 available, 0 assigned", (m1["statistics"]["totalAvailableJobs"], m1["statistics"]["totalAssignedJobs"]) == (1, 0),
          m1["statistics"])
    st, _, again = s.queue(sess)
    check("an undeleted message is read again", st == 200 and again["messageId"] == m1["messageId"], again)
    req_id = items[0]["runnerRequestId"]
    jit_st, _, jit = s.req("POST", "runtime/runnerscalesets/%d/generatejitconfig" % ss["id"], {"name": "lk-ss-1", "workFolder": "_work"})
    check("a JIT configuration for the set", jit_st == 200 and jit["runner"]["runnerScaleSetId"] == ss["id"], jit)
    shaped("RunnerScaleSetJitRunnerConfig", jit, "the JIT configuration")
    st, _, body = s.req("POST", "runtime/runnerscalesets/%d/generatejitconfig" % ss["id"], {"name": "lk-ss-1", "workFolder": "_work"})
    check("the same name again: 409 AgentExistsException", st == 409 and body["typeName"] == "AgentExistsException", body)
    cfg = json.loads(base64.b64decode(jit["encodedJITConfig"]))
    r = Runner.listener(d, cfg[".runner"], cfg[".credentials"], "s-ss-1")
    r.poll()
    check("the set's runner takes no job not yet assigned to its set", r.job is None, r.job)
    st, _, body = s.req("POST", "runtime/runnerscalesets/%d/acquirejobs" % ss["id"], [req_id, 123456789])
    check("acquire: the set's job, not an unknown one", st == 200 and body["value"] == [req_id], body)
    shaped("Int64List", body, "acquired")
    st, _, body = s.queue(sess, msg=m1["messageId"])
    check("the message deleted: 204", st == 204, body)
    st, _, body = s.queue(sess, msg=m1["messageId"])
    check("deleted twice: 404", st == 404, body)
    st, _, m2 = s.queue(sess, last=m1["messageId"])
    items = json.loads(m2["body"]) if st == 200 else []
    check("JobAssigned once acquired, statistics 1 assigned", st == 200 and [i["messageType"] for i in items] == ["JobAssigned"] and
          m2["statistics"]["totalAssignedJobs"] == 1, m2)
    r.poll()
    check("the set's runner claims its assigned job", r.job and r.job["job_id"] == req_id, r.job)
    st, _, body = s.req("DELETE", "distributedtask/pools/0/agents/%d" % r.id)
    check("a busy runner is not removed: JobStillRunningException", st == 400 and body["typeName"] == "JobStillRunningException", body)
    st, _, m3 = s.queue(sess, last=m2["messageId"])
    items = json.loads(m3["body"]) if st == 200 else []
    check("JobStarted with the runner", [i["messageType"] for i in items] == ["JobStarted"] and items[0]["runnerId"] == r.id and
          m3["statistics"]["totalRunningJobs"] == 1 and m3["statistics"]["totalBusyRunners"] == 1, m3)
    r.finish()
    st, _, m4 = s.queue(sess, last=m3["messageId"])
    items = json.loads(m4["body"]) if st == 200 else []
    check("JobCompleted, succeeded; nothing assigned left", [(i["messageType"], i.get("result")) for i in items] == [("JobCompleted", "succeeded")] and
          m4["statistics"]["totalAssignedJobs"] == 0, m4)
    for m in (m2, m3, m4):
        s.queue(sess, msg=m["messageId"])
    st, _, body = s.req("GET", "distributedtask/pools/0/agents?agentName=lk-ss-2")
    check("no runner of that name: count 0", st == 200 and body["count"] == 0, body)
    jit_st, _, jit2 = s.req("POST", "runtime/runnerscalesets/%d/generatejitconfig" % ss["id"], {"name": "lk-ss-2", "workFolder": "_work"})
    st, _, body = s.req("GET", "distributedtask/pools/0/agents?agentName=lk-ss-2")
    check("found by name", st == 200 and body["count"] == 1 and body["value"][0]["id"] == jit2["runner"]["id"], body)
    shaped("RunnerReferenceList", body, "runners by name")
    st, _, _ = s.req("DELETE", "distributedtask/pools/0/agents/%d" % jit2["runner"]["id"])
    check("an idle runner removed: 204", st == 204, st)
    st, _, body = s.req("GET", "distributedtask/pools/0/agents/%d" % jit2["runner"]["id"])
    check("... then 404 AgentNotFoundException", st == 404 and body["typeName"] == "AgentNotFoundException", body)


def assigned_flow(d, s, ss, sess):
    d.ctl("scaleset", {"flow": "assigned"})
    d.ctl("run", {"repo": "acme/site", "jobs": [{"name": "b", "runs_on": ["lk-ss"]}]})
    st, _, m = s.queue(sess)   # every earlier message was deleted
    items = json.loads(m["body"]) if st == 200 else []
    check("flow 'assigned': JobAssigned without acquisition", [i["messageType"] for i in items] == ["JobAssigned"] and
          m["statistics"]["totalAssignedJobs"] == 1 and m["statistics"]["totalAvailableJobs"] == 0, m)
    s.queue(sess, msg=m["messageId"])
    d.ctl("scaleset", {"flow": "available"})


def expiry(d, s, ss, sess):
    d.ctl("scaleset", {"expire": "queue"})
    st, _, _ = s.queue(sess)
    check("an expired queue token: 401", st == 401, st)
    st, _, fresh = s.req("PATCH", "runtime/runnerscalesets/%d/sessions/%s" % (ss["id"], sess["sessionId"]))
    check("the session refreshed: a new queue token", st == 200 and fresh["messageQueueAccessToken"] != sess["messageQueueAccessToken"], fresh)
    st, _, _ = s.queue(fresh)
    check("... which polls", st in (200, 202), st)
    d.ctl("scaleset", {"expire": "admin"})
    st, _, _ = s.req("GET", "runtime/runnerscalesets/%d" % ss["id"])
    check("an expired admin token: 401", st == 401, st)
    s2 = Service(d)
    st, _, _ = s2.req("GET", "runtime/runnerscalesets/%d" % ss["id"])
    check("a new exchange gives a working one", st == 200, st)
    d.ctl("scaleset", {"session_timeout": 1})
    time.sleep(1.5)
    st, _, other = s2.req("POST", "runtime/runnerscalesets/%d/sessions" % ss["id"], {"ownerName": "host-b"})
    check("a session that stopped polling times out: a new one is made", st == 200 and other["ownerName"] == "host-b", other)
    st, _, _ = s2.req("DELETE", "runtime/runnerscalesets/%d/sessions/%s" % (ss["id"], other["sessionId"]))
    check("a session closed: 204", st == 204, st)
    d.ctl("scaleset", {"session_timeout": 120})
    st, _, body = s2.req("POST", "runtime/runnerscalesets/%d/sessions" % ss["id"], {"ownerName": "host-c"})
    check("after a close, no conflict", st == 200, body)
    st, _, _ = s2.req("DELETE", "runtime/runnerscalesets/%d" % ss["id"])
    check("the scale set deleted: 204", st == 204, st)
    issued = d.ctl("issued")["tokens"]
    check("admin and queue tokens are listed for leak scans", s.admin in issued and fresh["messageQueueAccessToken"] in issued)


def main():
    work = tempfile.mkdtemp(prefix="lanekeeper-scaleset-")
    d = Double(work)
    try:
        s = exchange(d)
        ss = scale_sets(s)
        sess = sessions(d, s, ss)
        jobs(d, s, ss, sess)
        assigned_flow(d, s, ss, sess)
        expiry(d, s, ss, sess)
        violations = d.ctl("violations")["violations"]
        check("the double sent nothing the fixture forbids", not violations, violations[:5])
        log = json.dumps(d.ctl("log"))
        check("the log holds no admin token", s.admin not in log)
    finally:
        d.stop()
        subprocess.call(["rm", "-rf", work])
    print("test-scaleset: %d passed, %d failed" % (test_double.passed, test_double.failed))
    return 1 if test_double.failed else 0


if __name__ == "__main__":
    sys.exit(main())
