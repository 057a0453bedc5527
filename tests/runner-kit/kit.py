#!/usr/bin/python3
"""The runner kit: a stand-in for actions/runner (which cannot be downloaded
here), faithful where lanekeeper depends on it. See
../shared/reference/actions-runner.md.

  config.sh [--url URL] [--token T] [--name N] [--labels a,b] [--no-default-labels]
            [--runnergroup G] [--work DIR] [--unattended] [--replace] [--ephemeral]
            [--disableupdate]
  config.sh remove [--token T | --local]
  bin/Runner.Listener run [--jitconfig ENCODED]      (exit codes as the real listener's)
  bin/Runner.Worker spawnclient                      (worker.py: the job, started by the listener)
  run.sh [--jitconfig ENCODED]                       (loops on 2, every other code 0, as run.sh does)

Every argument may come as ACTIONS_RUNNER_INPUT_<NAME> instead; secrets
should. The URL's origin is where the loopback GitHub double listens
(http://127.0.0.1:PORT/OWNER/REPO). Both refuse to run as root unless
RUNNER_ALLOW_RUNASROOT is set. While alive the listener heartbeats to the
double (LANEKEEPER_KIT_HEARTBEAT_S, default 1 s), so GitHub shows the
runner online. Its heartbeat is the session's long poll (POST
/_runner/heartbeat): when GitHub gives the runner a job, the listener
starts bin/Runner.Worker as its child, which runs the job's steps (see
worker.py). It exits 1 when its registration was deleted (removing the
local configuration, as the real one does), 5 on a session conflict, 0 on
SIGTERM (after cancelling a running job, see listen()), and an ephemeral
runner 0 after its one job. While /run/lanekeeper-kit/die-at-boot exists
(a test's fault) every listener exits 1 as it boots.
"""
import base64
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

VERSION = "2.330.0"
# A test's fault: while this file exists every listener dies as it boots
# (exit 1, before its session), as a runner killed at boot does.
DIE_AT_BOOT = "/run/lanekeeper-kit/die-at-boot"
HERE = os.path.dirname(os.path.abspath(sys.argv[0]))
ROOT = os.path.dirname(HERE) if os.path.basename(HERE).startswith("bin") else HERE
FLAGS = ("url", "token", "name", "labels", "runnergroup", "work")
SWITCHES = ("no-default-labels", "unattended", "replace", "ephemeral", "disableupdate", "local")


TRACE = []   # the open _diag log, once there is one


def say(msg):
    print(msg, flush=True)
    if TRACE:
        # actions/runner's Terminal.WriteLine traces every console line
        TRACE[0].write("[%s INFO Terminal] WRITE LINE: %s\n" % (time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()), msg))
        TRACE[0].flush()


def open_diag(host):
    """_diag/HOST_yyyyMMdd-HHmmss-utc.log, as the runner's trace: created
    under the process's umask (the lane unit's 0077, unless the directory's
    default ACL says otherwise), as the runner's are; never fatal."""
    d = os.path.join(ROOT, "_diag")
    try:
        os.makedirs(d, exist_ok=True)
        TRACE[:] = [open(os.path.join(d, "%s_%s-utc.log" % (host, time.strftime("%Y%m%d-%H%M%S", time.gmtime()))), "a")]
    except OSError:
        TRACE.clear()


def refuse_root():
    if os.geteuid() == 0 and not os.environ.get("RUNNER_ALLOW_RUNASROOT"):
        say("Must not run with sudo")
        sys.exit(1)


def parse(argv):
    opts = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if not a.startswith("--"):
            say("Unrecognized command-line input arguments: '%s'" % a)
            sys.exit(1)
        key = a[2:].lower()
        if key in FLAGS or key == "jitconfig":
            if i + 1 >= len(argv):
                say("Missing value for --%s" % key)
                sys.exit(1)
            opts[key] = argv[i + 1]
            i += 2
        elif key in SWITCHES:
            opts[key] = True
            i += 1
        else:
            say("Unrecognized command-line input arguments: '%s'" % key)
            sys.exit(1)
    for key in FLAGS + SWITCHES + ("jitconfig",):
        env = "ACTIONS_RUNNER_INPUT_" + key.upper().replace("-", "")
        if key not in opts and os.environ.get(env):
            v = os.environ[env]
            opts[key] = True if key in SWITCHES else v
        os.environ.pop(env, None)   # the runner clears what it read
    return opts


def post(origin, what, body):
    req = urllib.request.Request(origin + "/_runner/" + what, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def origin_of(url):
    u = urllib.parse.urlsplit(url)
    if u.scheme not in ("http", "https") or not u.netloc or len([p for p in u.path.split("/") if p]) not in (1, 2):
        say("Invalid configuration provided for url. Terminating unattended configuration.")
        sys.exit(1)
    return "%s://%s" % (u.scheme, u.netloc)


def write_secret(name, obj, bom=False):
    path = os.path.join(ROOT, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write((b"\xef\xbb\xbf" if bom else b"") + json.dumps(obj, indent=2).encode())


def configure(argv):
    refuse_root()
    if argv and argv[0] == "remove":
        return remove(argv[1:])
    o = parse(argv)
    open_diag("Runner")
    if os.path.exists(os.path.join(ROOT, ".runner")):
        say("Cannot configure the runner because it is already configured. To reconfigure the runner, run "
            "'config.cmd remove' or './config.sh remove' first.")
        return 1
    for need in ("url", "token"):
        if need not in o:
            say("Invalid configuration provided for %s. Terminating unattended configuration." % need)
            return 1
    origin = origin_of(o["url"])
    name = o.get("name") or os.uname().nodename
    labels = [x for x in o.get("labels", "").split(",") if x]
    say("--------------------------------------------------------------------------------")
    say("|        ____ _ _   _   _       _          _        _   _                      |")
    say("--------------------------------------------------------------------------------")
    say("# Authentication")
    st, reg = post(origin, "register", {"token": o["token"], "name": name, "labels": labels,
                                        "ephemeral": bool(o.get("ephemeral")),
                                        "no_default_labels": bool(o.get("no-default-labels")),
                                        "replace": bool(o.get("replace")), "version": VERSION,
                                        "runner_group_id": 1})
    if st == 404:
        say("Http response code: NotFound from 'POST %s/actions/runner-registration'" % origin)
        return 1
    if st == 409:
        say("A runner exists with the same name")
        return 1
    if st != 201:
        say("Failed to register the runner (%d)" % st)
        return 1
    say("√ Connected to GitHub")
    say("# Runner Registration")
    say("√ Runner successfully added")
    runner = {"agentId": reg["id"], "agentName": name, "poolId": 1, "poolName": "Default",
              "serverUrl": "https://pipelines.actions.githubusercontent.com/kit",
              "gitHubUrl": o["url"], "workFolder": o.get("work", "_work")}
    if o.get("ephemeral"):
        runner["ephemeral"] = True
    if o.get("disableupdate"):
        runner["disableUpdate"] = True
    write_secret(".credentials", {"scheme": "OAuth", "data": {"clientId": str(uuid.uuid4()),
                                                               "authorizationUrl": origin + "/_apis/oauth2/token",
                                                               "requireFipsCryptography": "False",
                                                               "kit": reg["credential"]}})
    write_secret(".credentials_rsaparams", {"d": base64.b64encode(os.urandom(64)).decode()})
    write_secret(".runner", runner, bom=True)   # the .NET writer's BOM
    with open(os.path.join(ROOT, ".env"), "w") as f:
        f.write("LANG=C.UTF-8\n")
    say("√ Runner connection is good")
    say("# Runner settings")
    say("√ Settings Saved.")
    return 0


def local_config():
    try:
        raw = open(os.path.join(ROOT, ".runner"), "rb").read()
        runner = json.loads(raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw)
        cred = json.load(open(os.path.join(ROOT, ".credentials")))["data"]["kit"]
        return runner, cred
    except (OSError, ValueError, KeyError):
        return None, None


def forget():
    for f in (".runner", ".credentials", ".credentials_rsaparams"):
        try:
            os.unlink(os.path.join(ROOT, f))
        except FileNotFoundError:
            pass


def remove(argv):
    o = parse(argv)
    runner, _ = local_config()
    if not runner:
        say("Runner is not configured")
        return 0 if o.get("local") else 1
    if not o.get("local"):
        if "token" not in o:
            say("Invalid configuration provided for token. Terminating unattended configuration.")
            return 1
        st, _ = post(origin_of(runner["gitHubUrl"]), "unregister", {"token": o["token"], "id": runner["agentId"]})
        if st != 200:
            say("Failed to remove the runner: Http response code: NotFound")
            return 1
        say("√ Runner removed successfully")
    forget()
    say("√ Removed .credentials")
    say("√ Removed .runner")
    return 0


def spawn_worker(job, origin, rid, cred, runner_name):
    """bin/Runner.Worker as the listener's child (so in the lane unit's cgroup, as its user), the job
    message and later cancellations written to its stdin, as the real listener's pipe to the worker."""
    rfd, wfd = os.pipe()
    worker = os.path.join(ROOT, "bin", "Runner.Worker")
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(rfd, 0)
            os.close(wfd)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.execv(worker, [worker, "spawnclient"])
        finally:
            os._exit(127)
    os.close(rfd)
    os.write(wfd, (json.dumps({"job": job, "origin": origin, "runner_id": rid, "credential": cred,
                               "runner_name": runner_name}) + "\n").encode())
    return pid, wfd


class Session:
    """The listener's session with GitHub and the worker it runs."""

    def __init__(self, rid, cred, origin, name):
        self.rid, self.cred, self.origin, self.name = rid, cred, origin, name
        self.worker = self.pipe = self.job_id = self.told = None
        self.jobs_done = 0

    def reap(self, block=False):
        if self.worker is None:
            return
        pid, status = os.waitpid(self.worker, 0 if block else os.WNOHANG)
        if pid == 0:
            return
        os.close(self.pipe)
        code = os.waitstatus_to_exitcode(status)
        result = {100: "Succeeded", 102: "Failed", 103: "Canceled"}.get(code)
        if result is None:
            # the worker died without concluding the job: the listener fails it, as the real one does
            say("Worker for job %s exited unexpectedly (%d)" % (self.job_id, code))
            self.report("log", text="##[error]The runner's worker process exited unexpectedly (exit code %d)." % code)
            self.report("complete", conclusion="failure")
            result = "Failed"
        say("Job %s completed with result: %s" % (self.job_id, result))
        self.worker = self.pipe = self.job_id = self.told = None
        self.jobs_done += 1

    def report(self, kind, **fields):
        post(self.origin, "job", dict(fields, id=self.rid, credential=self.cred, job=self.job_id, kind=kind))

    def tell(self, why):
        """Ask the worker to cancel its job (once)."""
        if self.worker is None or self.told:
            return
        say("Cancelling job %s (%s)" % (self.job_id, why))
        self.told = why
        try:
            os.write(self.pipe, ("cancel %s\n" % why).encode())
        except OSError:
            pass

    def start(self, job):
        if self.worker is not None:
            say("Waiting for the previous job to finish")
            self.reap(block=True)
        self.job_id = job["job_id"]
        say("Running job: %s" % job["name"])
        self.worker, self.pipe = spawn_worker(job, self.origin, self.rid, self.cred, self.name)


def listener_config(o):
    """(runner id, credential, origin, ephemeral, name) from --jitconfig or .runner; None when there is none."""
    if o.get("jitconfig"):
        try:
            jit = json.loads(base64.b64decode(o["jitconfig"]))
            return jit[".runner"], jit[".credentials"], jit.get(".url"), True, jit.get(".name", "jit-%s" % jit[".runner"])
        except (ValueError, KeyError, TypeError):
            say("Invalid JIT configuration")
            return None
    runner, cred = local_config()
    if not runner:
        say("Runner is not configured")
        return None   # the real listener: not configured -> 1 ... run.sh stops
    return runner["agentId"], cred, origin_of(runner["gitHubUrl"]), bool(runner.get("ephemeral")), runner["agentName"]


def listen(argv):
    """Runner.Listener run: the session, the long poll, the worker.

    SIGTERM or SIGINT while a job runs is modelled on actions/runner 2.33x:
    the listener asks the worker to cancel the job ("The runner has received
    a shutdown signal..."), the worker stops the step's process group
    (SIGINT, then SIGTERM after 7.5 s, SIGKILL after 2.5 s more), reports
    the job cancelled, and the listener exits 0 after it. The job is not
    let to finish: that is the runner's behaviour, and why lanekeeper's
    drain must stop taking jobs before it stops a lane."""
    refuse_root()
    if os.path.exists(DIE_AT_BOOT):
        say("Runner listener exited: %s says so (a test's fault)" % DIE_AT_BOOT)
        return 1
    if not argv or argv[0] != "run":
        if argv and argv[0] == "--version":
            say(VERSION)
            return 0
        say("usage: Runner.Listener run [--jitconfig ENCODED]")
        return 1
    open_diag("Runner")
    cfg = listener_config(parse(argv[1:]))
    if not cfg:
        return 1
    rid, cred, origin, ephemeral, name = cfg
    s = Session(rid, cred, origin, name)
    session = str(uuid.uuid4())
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    period = float(os.environ.get("LANEKEEPER_KIT_HEARTBEAT_S", "1"))
    # As actions/runner's RunAsync: the session first (GitHub shows the
    # runner online from then on), then "Listening for Jobs".
    while True:
        st, _ = post(origin, "session", {"id": rid, "credential": cred, "session": session, "version": VERSION})
        if st == 404:
            say("Runner registration has been deleted from the server, please re-configure.")
            if not ephemeral:
                forget()
            return 1
        if st == 409:
            say("A session for this runner already exists.")
            return 5
        if st == 200:
            break
        if stop:
            return 0
        time.sleep(period)
    say("√ Connected to GitHub")
    say("Current runner version: '%s'" % VERSION)
    say("%s: Listening for Jobs" % time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()))
    while True:
        s.reap()
        if stop:
            if s.worker is None:
                break
            s.tell("shutdown")
            time.sleep(0.05)
            continue
        st, body = post(origin, "heartbeat", {"id": rid, "credential": cred, "session": session, "version": VERSION,
                                              "cancelled": s.job_id if s.told else None, "wait": period})
        if st == 404:
            s.reap(block=True)
            if ephemeral and s.jobs_done:
                say("Job completed; the ephemeral runner is done")
                return 0
            say("Runner registration has been deleted from the server, please re-configure.")
            if not ephemeral:
                forget()   # as the real listener does
            return 1
        if st == 409:
            say("A session for this runner already exists.")
            return 5
        if st != 200:
            time.sleep(period)
        elif body.get("job"):
            s.start(body["job"])
        elif body.get("cancel"):
            s.tell(body["cancel"].get("reason", "cancelled"))
    post(origin, "disconnect", {"id": rid, "credential": cred, "session": session})   # the session deleted, as the listener does on exit
    say("Exiting...")
    return 0


def run_sh(argv):
    """As actions/runner's run.sh (through run-helper.sh): bin/Runner.Listener
    as a child process, SIGTERM/SIGINT passed on to it, restarted on exit
    code 2, every other code turned into 0."""
    refuse_root()
    child = []

    def forward(signum, _frame):
        if child:
            try:
                os.kill(child[0], signum)
            except ProcessLookupError:
                pass
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    listener = os.path.join(ROOT, "bin", "Runner.Listener")
    while True:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            try:
                os.execv(listener, [listener, "run"] + argv)
            finally:
                os._exit(127)
        child[:] = [pid]
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        child.clear()
        code = os.waitstatus_to_exitcode(status)
        if code == 2:
            time.sleep(0.1)
            continue
        return 0   # run.sh turns every other code into 0


def main():
    tool = os.path.basename(sys.argv[0])
    if tool == "config.sh":
        return configure(sys.argv[1:])
    if tool == "Runner.Listener":
        return listen(sys.argv[1:])
    if tool == "run.sh":
        return run_sh(sys.argv[1:])

    say("the runner kit is installed as config.sh, run.sh and bin/Runner.Listener")
    return 1


if __name__ == "__main__":
    sys.exit(main())
