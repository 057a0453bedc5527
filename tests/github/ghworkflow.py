"""Workflow files in the GitHub double: the YAML an operator commits under
.github/workflows/, read as GitHub reads it, for the part of the syntax the
double runs. A file outside that part is refused with GitHub's kind of
message ("Invalid workflow file: ..."), never half-read.

Accepted (GitHub's workflow syntax):
- top level: name, run-name, on, permissions, env, concurrency, defaults, jobs;
- on: push, pull_request, workflow_dispatch (with inputs: type string,
  boolean, number or choice; description, required, default, options);
- permissions: read-all, write-all, {} or a map of scope -> read|write|none;
- a job: name, runs-on (a label, a list of labels, or an expression),
  timeout-minutes (a number or an expression), permissions, env, steps;
- a step: name, uses (OWNER/REPO@REF), with, run, env, shell (bash), if
  absent (the double evaluates no conditions).
Expressions: ${{ inputs.NAME }}, ${{ github.event.inputs.NAME }} and
${{ fromJSON(inputs.NAME) }}; any other expression in a value the double
evaluates is refused. Expressions inside `run:` are substituted as GitHub
does (textually, before the shell sees the script).
"""
import json
import re

import yaml

TOP = {"name", "run-name", "on", "permissions", "env", "concurrency", "defaults", "jobs"}
EVENTS = {"push", "pull_request", "workflow_dispatch"}
JOB = {"name", "runs-on", "timeout-minutes", "permissions", "env", "steps"}
STEP = {"name", "uses", "with", "run", "env", "shell", "id"}
SCOPES = {"actions", "attestations", "checks", "contents", "deployments", "discussions", "id-token", "issues",
          "models", "packages", "pages", "pull-requests", "repository-projects", "security-events", "statuses"}
INPUT = {"description", "required", "default", "type", "options"}
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
ONE = re.compile(r"^\$\{\{\s*(.*?)\s*\}\}$")
USES = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[^@]+)?@[A-Za-z0-9_./-]+$")


class Invalid(ValueError):
    pass


def _fail(path, why):
    raise Invalid("Invalid workflow file: %s: %s" % (path, why))


def _on(doc, path):
    on = doc.get("on", doc.get(True))     # YAML 1.1 reads a bare `on` as true
    if on is None:
        _fail(path, "no 'on' trigger")
    if isinstance(on, str):
        on = {on: None}
    elif isinstance(on, list):
        on = {e: None for e in on}
    if not isinstance(on, dict) or not on:
        _fail(path, "'on' is not an event, a list or a map of events")
    inputs = {}
    for ev, conf in on.items():
        if ev not in EVENTS:
            _fail(path, "the double runs no '%s' event" % ev)
        if ev == "workflow_dispatch" and conf:
            for name, spec in (conf.get("inputs") or {}).items():
                if not isinstance(spec, dict) or set(spec) - INPUT:
                    _fail(path, "input '%s': unexpected keys %s" % (name, sorted(set(spec or {}) - INPUT)))
                if spec.get("type", "string") not in ("string", "boolean", "number", "choice"):
                    _fail(path, "input '%s': type '%s' is not allowed" % (name, spec.get("type")))
                inputs[name] = spec
    return sorted(on), inputs


def _permissions(p, path):
    if p is None or p in ("read-all", "write-all") or p == {}:
        return
    if not isinstance(p, dict):
        _fail(path, "permissions: not read-all, write-all or a map")
    for k, v in p.items():
        if k not in SCOPES or v not in ("read", "write", "none"):
            _fail(path, "permissions: '%s: %s' is not a scope and read, write or none" % (k, v))


def _check_expr(value, path, where):
    for e in EXPR.findall(value):
        if not re.match(r"^(fromJSON\(\s*)?(github\.event\.)?inputs\.[A-Za-z_][A-Za-z0-9_-]*(\s*\))?$", e):
            _fail(path, "%s: the double evaluates no expression '%s'" % (where, e))


def parse(text, path):
    """The workflow in TEXT (the file at PATH): {name, run_name, on, inputs, jobs: [template...]}."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        _fail(path, "not YAML: %s" % str(e).split("\n")[0])
    if not isinstance(doc, dict):
        _fail(path, "not a map")
    extra = {k for k in doc if k is not True} - TOP
    if extra:
        _fail(path, "unexpected keys %s" % sorted(map(str, extra)))
    on, inputs = _on(doc, path)
    _permissions(doc.get("permissions"), path)
    jobs = doc.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        _fail(path, "no jobs")
    out = []
    for jid, j in jobs.items():
        if not isinstance(j, dict) or set(j) - JOB:
            _fail(path, "job '%s': unexpected keys %s" % (jid, sorted(set(j or {}) - JOB)))
        ro = j.get("runs-on")
        if isinstance(ro, str):
            _check_expr(ro, path, "job '%s' runs-on" % jid)
        elif not (isinstance(ro, list) and ro and all(isinstance(x, str) for x in ro)):
            _fail(path, "job '%s': runs-on is not a label, a list of labels or an expression" % jid)
        tm = j.get("timeout-minutes", 360)
        if isinstance(tm, str):
            _check_expr(tm, path, "job '%s' timeout-minutes" % jid)
        elif not isinstance(tm, (int, float)) or tm <= 0:
            _fail(path, "job '%s': timeout-minutes is not a positive number" % jid)
        _permissions(j.get("permissions"), path)
        steps = j.get("steps")
        if not isinstance(steps, list) or not steps:
            _fail(path, "job '%s': no steps" % jid)
        for i, s in enumerate(steps):
            where = "job '%s' step %d" % (jid, i + 1)
            if not isinstance(s, dict) or set(s) - STEP:
                _fail(path, "%s: unexpected keys %s" % (where, sorted(set(s or {}) - STEP)))
            if ("uses" in s) == ("run" in s):
                _fail(path, "%s: one of uses and run" % where)
            if "uses" in s and not USES.match(str(s["uses"])):
                _fail(path, "%s: uses '%s' is not OWNER/REPO@REF" % (where, s["uses"]))
            if s.get("shell", "bash") != "bash":
                _fail(path, "%s: the double runs bash only" % where)
            for k, v in list((s.get("env") or {}).items()) + list((s.get("with") or {}).items()):
                _check_expr(str(v), path, "%s %s" % (where, k))
            if "run" in s:
                _check_expr(s["run"], path, where)
        out.append({"id": jid, "name": j.get("name", jid), "runs_on": ro, "timeout": tm, "steps": steps,
                    "env": j.get("env") or {}})
    rn = doc.get("run-name")
    if rn is not None:
        _check_expr(str(rn), path, "run-name")
    return {"name": doc.get("name", path), "run_name": rn, "on": on, "inputs": inputs, "jobs": out}


def dispatch_inputs(wf, given):
    """INPUTS of a dispatch checked against WF's as GitHub does: (values, None) or (None, its 422 message)."""
    declared = wf.get("inputs") or {}
    unexpected = sorted(k for k in given if k not in declared)
    if unexpected:
        return None, "Unexpected inputs provided: %s" % json.dumps(unexpected)
    values = {}
    for name, spec in declared.items():
        if name in given:
            v = given[name]
            if not isinstance(v, (str, bool, int, float)):
                return None, "For 'properties/%s', %s is not a string." % (name, json.dumps(v))
            values[name] = v if isinstance(v, str) else json.dumps(v)
        elif spec.get("required") and "default" not in spec:
            return None, "Required input '%s' not provided" % name
        else:
            d = spec.get("default", "")
            values[name] = d if isinstance(d, str) else json.dumps(d)
        if spec.get("type") == "choice" and values[name] not in [str(o) for o in spec.get("options") or []]:
            return None, "Provided value '%s' for input '%s' not in the list of allowed values" % (values[name], name)
    return values, None


def _eval(expr, inputs):
    m = re.match(r"^fromJSON\(\s*(?:github\.event\.)?inputs\.([A-Za-z0-9_-]+)\s*\)$", expr)
    if m:
        try:
            return json.loads(inputs.get(m.group(1), ""))
        except ValueError:
            raise Invalid("The template is not valid. fromJSON: '%s' is not JSON" % inputs.get(m.group(1), ""))
    m = re.match(r"^(?:github\.event\.)?inputs\.([A-Za-z0-9_-]+)$", expr)
    return inputs.get(m.group(1), "")


def value(v, inputs):
    """V with its expressions evaluated: a whole-value expression keeps its type (a list from fromJSON);
    a list's items are evaluated one by one (runs-on: [self-hosted, "${{ inputs.x }}"], as GitHub does)."""
    if isinstance(v, list):
        return [value(x, inputs) for x in v]
    if not isinstance(v, str):
        return v
    m = ONE.match(v.strip())
    if m:
        return _eval(m.group(1), inputs)
    return EXPR.sub(lambda e: str(_eval(e.group(1), inputs)), v)


def _text(v):
    """A value as the runner's context gives it: YAML's true/false as GitHub writes them."""
    return json.dumps(v) if isinstance(v, bool) else str(v)


def jobs(wf, inputs):
    """The double's job specs of WF for a dispatch with INPUTS (raises Invalid as GitHub fails the run)."""
    out = []
    for t in wf["jobs"]:
        ro = value(t["runs_on"], inputs)
        ro = [ro] if isinstance(ro, str) else ro
        if not isinstance(ro, list) or not ro or not all(isinstance(x, str) and x for x in ro):
            raise Invalid("job '%s': runs-on evaluated to %s, not labels" % (t["id"], json.dumps(ro)))
        tm = value(t["timeout"], inputs)
        try:
            tm = float(tm)
            tm = int(tm) if tm == int(tm) else tm       # GitHub's message says "1 minutes", not "1.0"
        except (TypeError, ValueError):
            raise Invalid("job '%s': timeout-minutes evaluated to %s" % (t["id"], json.dumps(tm)))
        steps = []
        for s in t["steps"]:
            step = {k: s[k] for k in ("name", "uses") if k in s}
            if "run" in s:
                step["run"] = value(s["run"], inputs)
            env = dict(t["env"])
            env.update(s.get("env") or {})
            if env:
                step["env"] = {k: _text(value(v, inputs)) for k, v in env.items()}
            if "with" in s:
                step["with"] = {k: _text(value(v, inputs)) for k, v in s["with"].items()}
            steps.append(step)
        out.append({"name": value(t["name"], inputs), "runs_on": ro, "timeout_minutes": tm, "steps": steps})
    return out
