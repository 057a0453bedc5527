#!/usr/bin/python3
"""The runner kit's Runner.Worker: runs one job, as actions/runner's worker.

  bin/Runner.Worker spawnclient     (started by Runner.Listener; never by hand)

The listener writes the job message as one JSON line on stdin, then
"cancel REASON" lines. The worker runs as the listener's child, so in the
same cgroup (the lane's unit) and as the same user. It:

- makes the workspace _work/<repo>/<repo> (the work folder of .runner);
- in "Set up job", resolves every `uses: owner/repo@ref` to
  _work/_actions/<owner>/<repo>/<ref>/: a directory with a `<ref>.completed`
  marker is used as it is (as the real runner does, so a damaged entry
  stays damaged); otherwise the action is downloaded from GitHub's
  tarball endpoint with the job's token and the marker written. An entry
  without action.yml, action.yaml or Dockerfile fails the job with the real
  runner's message "Can't find 'action.yml', 'action.yaml' or 'Dockerfile'
  under '<path>'. ...". Composite actions run their `run:` steps; others are
  refused by name;
- runs each `run:` step as `bash --noprofile --norc -e -o pipefail FILE` in
  its own process group, in the workspace, output streamed to GitHub as the
  job log (the job's token masked as ***), a failed step failing the job
  and skipping the rest;
- on cancellation (GitHub cancelled the run, or the runner is shutting
  down) and at timeout-minutes, stops the step as the real runner's
  process invoker does: SIGINT to its process group, SIGTERM 7.5 s later,
  SIGKILL 2.5 s after that; the job's conclusion is `cancelled` in both
  cases (GitHub's own: a timeout is told by its annotation, not its
  conclusion).
"""
import io
import json
import os
import select
import signal
import sys
import tarfile
import time
import urllib.error
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(sys.argv[0]))
ROOT = os.path.dirname(HERE) if os.path.basename(HERE).startswith("bin") else HERE
GRACE = (7.5, 2.5)          # SIGINT .. SIGTERM .. SIGKILL, as actions/runner's ProcessInvoker
NOT_FOUND = "Can't find 'action.yml', 'action.yaml' or 'Dockerfile' under '%s'. " \
            "Did you forget to run actions/checkout before running your local action?"


class Job:
    def __init__(self, msg):
        self.msg = msg
        self.job = msg["job"]
        self.origin = msg["origin"]
        self.cancel = None          # "cancelled", "shutdown" or "timeout"
        self.buf = ""
        self.sent = time.monotonic()
        self.deadline = time.monotonic() + float(self.job["timeout_minutes"]) * 60
        self.token = self.job["token"]

    # ---- talking to GitHub ----
    def report(self, kind, **fields):
        body = dict(fields, id=self.msg["runner_id"], credential=self.msg["credential"], job=self.job["job_id"], kind=kind)
        req = urllib.request.Request(self.origin + "/_runner/job", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        for attempt in range(5):
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    answer = json.loads(r.read() or b"{}")
                if answer.get("cancel") and not self.cancel:
                    self.cancel = "completed" if answer["cancel"] == "completed" else "cancelled"
                return answer
            except urllib.error.HTTPError as e:
                if e.code < 500:
                    return {}
            except OSError:
                pass
            time.sleep(0.2 * (attempt + 1))
        return {}

    def log(self, text):
        self.buf += text.replace(self.token, "***")
        if len(self.buf) > 32768 or time.monotonic() - self.sent > 0.25:
            self.flush()

    def flush(self):
        if self.buf:
            # whole lines only, unless the buffer is large
            cut = self.buf.rfind("\n") + 1 if len(self.buf) < 65536 else len(self.buf)
            if cut:
                self.report("log", text=self.buf[:cut])
                self.buf = self.buf[cut:]
        self.sent = time.monotonic()

    def listen(self):
        """A cancellation from the listener, if one is waiting on stdin."""
        while select.select([0], [], [], 0)[0]:
            line = sys.stdin.readline()
            if not line:
                return
            if line.startswith("cancel") and not self.cancel:
                self.cancel = "shutdown" if "shutdown" in line else "cancelled"

    # ---- the job ----
    def step(self, number, status, conclusion=None):
        self.report("step", number=number, status=status, conclusion=conclusion)

    def run_script(self, script, cwd, env):
        """The script's exit code; None when it was stopped (cancellation or timeout)."""
        tmp = os.path.join(ROOT, "_work", "_temp")
        os.makedirs(tmp, exist_ok=True)
        path = os.path.join(tmp, str(uuid.uuid4()) + ".sh")
        with open(path, "w") as f:
            f.write(script)
        self.log("shell: /usr/bin/bash --noprofile --norc -e -o pipefail {0}\n")
        proc = subprocess_popen(["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", path], cwd, env)
        stopping = None
        out = proc.stdout.fileno()
        while True:
            self.listen()
            if not self.cancel and time.monotonic() >= self.deadline:
                self.cancel = "timeout"
            if self.cancel and stopping is None:
                stopping = [time.monotonic(), signal.SIGINT]
                kill_group(proc.pid, signal.SIGINT)
            elif stopping:
                waited = time.monotonic() - stopping[0]
                if stopping[1] == signal.SIGINT and waited >= GRACE[0]:
                    stopping[1] = signal.SIGTERM
                    kill_group(proc.pid, signal.SIGTERM)
                elif stopping[1] == signal.SIGTERM and waited >= GRACE[0] + GRACE[1]:
                    stopping[1] = signal.SIGKILL
                    kill_group(proc.pid, signal.SIGKILL)
            ready = select.select([out], [], [], 0.1)[0]
            if ready:
                data = os.read(out, 65536)
                if data:
                    self.log(data.decode("utf-8", "replace"))
                    continue
                proc.wait()
                break
            if time.monotonic() - self.sent > 0.5:
                self.flush()
                if not self.cancel:
                    self.report("poll")
        kill_group(proc.pid, signal.SIGKILL)   # nothing of the step outlives it
        os.unlink(path)
        return None if stopping else proc.returncode

    def env(self, workspace):
        j = self.job
        e = {k: v for k, v in os.environ.items() if not k.startswith("ACTIONS_RUNNER_INPUT_")}
        e.update(CI="true", GITHUB_ACTIONS="true", GITHUB_WORKSPACE=workspace, GITHUB_REPOSITORY=j["repository"],
                 GITHUB_RUN_ID=str(j["run_id"]), GITHUB_RUN_ATTEMPT=str(j["run_attempt"]), GITHUB_JOB=j["name"],
                 GITHUB_SHA=j["head_sha"], GITHUB_REF=j["ref"], GITHUB_WORKFLOW=j["workflow"],
                 RUNNER_NAME=self.msg["runner_name"], RUNNER_OS="Linux", RUNNER_ARCH="X64",
                 RUNNER_TEMP=os.path.join(ROOT, "_work", "_temp"), RUNNER_WORKSPACE=os.path.dirname(workspace))
        return e

    def prepare_actions(self):
        """Set up job: every action resolved; (scripts per step, None) or (None, error)."""
        scripts = []
        for s in self.job["steps"]:
            if "uses" not in s:
                scripts.append([s["run"]])
                continue
            ref = s["uses"]
            if "@" not in ref or ref.count("/") < 1:
                return None, "Unable to resolve action `%s`, unable to find version" % ref
            name, version = ref.rsplit("@", 1)
            owner, repo = name.split("/")[:2]
            dest = os.path.join(ROOT, "_work", "_actions", owner, repo, version)
            if not os.path.exists(dest + ".completed"):
                self.log("Download action repository '%s' (SHA:%s)\n" % (ref, "0" * 40))
                err = self.download(owner, repo, version, dest)
                if err:
                    return None, err
            else:
                self.log("Action '%s' is already downloaded: %s\n" % (ref, dest))
            runs, err = load_action(dest)
            if err:
                return None, err
            scripts.append(runs)
        return scripts, None

    def download(self, owner, repo, version, dest):
        url = "%s/repos/%s/%s/tarball/%s" % (self.job["api_url"], owner, repo, version)
        req = urllib.request.Request(url, headers={"Authorization": "Bearer " + self.token,
                                                   "User-Agent": "GitHubActionsRunner-Linux-X64/kit"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                data = r.read()
        except urllib.error.HTTPError as e:
            return "An action could not be found at the URI '%s' (%d)" % (url, e.code)
        except OSError as e:
            return "Failed to download action '%s': %s" % (url, e)
        os.makedirs(dest, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for m in tar.getmembers():
                parts = m.name.split("/", 1)
                if len(parts) < 2 or not parts[1] or m.issym() or m.islnk() or ".." in parts[1].split("/"):
                    continue
                m.name = parts[1]
                tar.extract(m, dest)
        open(dest + ".completed", "w").close()
        return None


def default_signals():
    signal.signal(signal.SIGINT, signal.SIG_DFL)     # the worker ignores them; a step must not
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def subprocess_popen(argv, cwd, env):
    import subprocess
    return subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=default_signals)


def kill_group(pid, sig):
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def load_action(dest):
    """The `run:` scripts of the action at DEST, or an error as the real runner words it."""
    for name in ("action.yml", "action.yaml"):
        path = os.path.join(dest, name)
        if os.path.isfile(path):
            try:
                import yaml
                doc = yaml.safe_load(open(path))
                runs = doc["runs"]
            except Exception as e:  # noqa: BLE001 (any damage to the manifest)
                return None, "Failed to load %s: %s" % (path, type(e).__name__)
            if runs.get("using") != "composite":
                return None, "The runner kit runs composite actions only; '%s' uses '%s'" % (path, runs.get("using"))
            return [s["run"] for s in runs.get("steps", []) if "run" in s], None
    if os.path.isfile(os.path.join(dest, "Dockerfile")):
        return None, "The runner kit cannot run container actions ('%s')" % dest
    return None, NOT_FOUND % os.path.realpath(dest)


def run_job(job):
    j = job.job
    repo = j["repository"].split("/")[1]
    workspace = os.path.join(ROOT, "_work", repo, repo)
    os.makedirs(workspace, exist_ok=True)
    env = job.env(workspace)
    n_steps = len(j["steps"])
    job.step(1, "in_progress")
    job.log("Current runner version: '2.330.0'\nRunner name: '%s'\n" % job.msg["runner_name"])
    scripts, err = job.prepare_actions()
    if err:
        job.log("##[error]%s\n" % err)
        job.flush()
        job.step(1, "completed", "failure")
        for i in range(n_steps):
            job.step(i + 2, "completed", "skipped")
        return "failure"
    job.step(1, "completed", "success")
    result = "success"
    for i, s in enumerate(j["steps"]):
        number = i + 2
        job.listen()
        if result != "success" or job.cancel:
            job.step(number, "completed", "skipped")
            continue
        job.step(number, "in_progress")
        what = s["uses"] if "uses" in s else s["run"]
        job.log("##[group]Run %s\n%s\n##[endgroup]\n" % (what.split("\n")[0], what))
        step_env = dict(env, **{k: str(v) for k, v in (s.get("env") or {}).items()})   # the step's env: on top
        for script in scripts[i]:
            code = job.run_script(script, workspace, step_env)
            if code is None or code != 0:
                break
        if code is None:
            why = {"timeout": "The job running on runner %s has exceeded the maximum execution time of %s minutes."
                   % (job.msg["runner_name"], j["timeout_minutes"]),
                   "shutdown": "The runner has received a shutdown signal. This can happen when the runner service "
                   "is stopped, or a manually started runner is canceled."}.get(job.cancel)
            if why:
                job.log("##[error]%s\n" % why)
            job.log("##[error]The operation was canceled.\n")
            job.step(number, "completed", "cancelled")
            result = "cancelled"
        elif code != 0:
            job.log("##[error]Process completed with exit code %d.\n" % code)
            job.step(number, "completed", "failure")
            result = "failure"
        else:
            job.step(number, "completed", "success")
    if job.cancel and result == "success":
        result = "cancelled"
    job.step(n_steps + 2, "in_progress")
    job.log("Cleaning up orphan processes\n")
    job.step(n_steps + 2, "completed", "success")
    return result


def main(argv):
    if argv != ["spawnclient"]:
        print("Runner.Worker is started by Runner.Listener (spawnclient)")
        return 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # the listener decides; the worker cancels on its word
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    line = sys.stdin.readline()
    try:
        job = Job(json.loads(line))
    except (ValueError, KeyError):
        print("Runner.Worker: no job message")
        return 2
    result = run_job(job)
    job.flush()
    if job.cancel != "completed":
        job.report("complete", conclusion=result)
    # as actions/runner's worker: 100 + the task result (Succeeded 0, Failed 2, Canceled 3)
    return {"success": 100, "failure": 102, "cancelled": 103}[result]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
