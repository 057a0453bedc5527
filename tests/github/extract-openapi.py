#!/usr/bin/python3
# Extract from GitHub's published OpenAPI description (npm package
# @octokit/openapi, generated/api.github.com.json) what lanekeeper's GitHub
# client and test double use: the operations below with their response
# schemas, headers and examples, and every component schema they reach.
# The result, tests/github/openapi-subset.json, is committed so that the
# test suite validates the double offline; scripts/fetch-openapi
# regenerates it from the pinned tarball and says when it differs.
#   extract-openapi.py SPEC.json VERSION TARBALL_SHA256 > openapi-subset.json
import json
import re
import sys

# GitHub's examples hold token-shaped strings (made up, but shaped like
# real ones); nothing token-shaped is committed, so they become this.
TOKEN = re.compile(r"^(gh[pousr]_|github_pat_)[A-Za-z0-9_]{20,}$")


def detoken(node):
    if isinstance(node, dict):
        return {k: detoken(v) for k, v in node.items()}
    if isinstance(node, list):
        return [detoken(v) for v in node]
    if isinstance(node, str) and TOKEN.match(node):
        return node[:4] + "example-token-of-the-openapi-description"
    return node

OPERATIONS = [
    ("get", "/repos/{owner}/{repo}"),
    ("get", "/repos/{owner}/{repo}/actions/runners"),
    ("get", "/orgs/{org}/actions/runners"),
    ("get", "/repos/{owner}/{repo}/actions/runners/{runner_id}"),
    ("delete", "/repos/{owner}/{repo}/actions/runners/{runner_id}"),
    ("post", "/repos/{owner}/{repo}/actions/runners/registration-token"),
    ("post", "/orgs/{org}/actions/runners/registration-token"),
    ("post", "/repos/{owner}/{repo}/actions/runners/remove-token"),
    ("post", "/repos/{owner}/{repo}/actions/runners/generate-jitconfig"),
    ("get", "/repos/{owner}/{repo}/actions/runners/{runner_id}/labels"),
    ("post", "/repos/{owner}/{repo}/actions/runners/{runner_id}/labels"),
    ("put", "/repos/{owner}/{repo}/actions/runners/{runner_id}/labels"),
    ("delete", "/repos/{owner}/{repo}/actions/runners/{runner_id}/labels"),
    ("delete", "/repos/{owner}/{repo}/actions/runners/{runner_id}/labels/{name}"),
    ("get", "/orgs/{org}/actions/runner-groups"),
    ("get", "/repos/{owner}/{repo}/actions/runs"),
    ("get", "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs"),
    ("post", "/repos/{owner}/{repo}/actions/runs/{run_id}/cancel"),
    ("post", "/repos/{owner}/{repo}/actions/runs/{run_id}/force-cancel"),
    ("post", "/repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs"),
    ("get", "/repos/{owner}/{repo}/actions/runs/{run_id}"),
    ("post", "/repos/{owner}/{repo}/actions/runs/{run_id}/rerun"),
    ("get", "/repos/{owner}/{repo}/actions/jobs/{job_id}"),
    ("get", "/repos/{owner}/{repo}/actions/jobs/{job_id}/logs"),
    ("get", "/repos/{owner}/{repo}/actions/workflows"),
    ("post", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches"),
    ("get", "/repos/{owner}/{repo}/tarball/{ref}"),
    ("post", "/repos/{owner}/{repo}/actions/runs/{run_id}/pending_deployments"),
    ("get", "/repos/{owner}/{repo}/actions/variables"),
    ("post", "/repos/{owner}/{repo}/actions/variables"),
    ("get", "/repos/{owner}/{repo}/actions/variables/{name}"),
    ("patch", "/repos/{owner}/{repo}/actions/variables/{name}"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("get", "/repos/{owner}/{repo}/installation"),
    ("post", "/app/installations/{installation_id}/access_tokens"),
    ("get", "/rate_limit"),
    ("get", "/repos/{owner}/{repo}/actions/permissions"),
    ("put", "/repos/{owner}/{repo}/actions/permissions"),
]


def main():
    spec = json.load(open(sys.argv[1]))
    comp = spec["components"]
    out = {
        "source": {"package": "@octokit/openapi", "version": sys.argv[2], "tarball_sha256": sys.argv[3],
                   "file": "generated/api.github.com.json", "openapi": spec["openapi"]},
        "operations": {},
        "components": {"schemas": {}},
        "examples": {},
    }
    seen = set()

    def deref(node, kind):
        ref = node.get("$ref") if isinstance(node, dict) else None
        if ref:
            return comp[kind][ref.split("/")[-1]]
        return node

    def reach(node):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref and ref.startswith("#/components/schemas/"):
                name = ref.split("/")[-1]
                if name not in seen:
                    seen.add(name)
                    out["components"]["schemas"][name] = comp["schemas"][name]
                    reach(comp["schemas"][name])
            for v in node.values():
                reach(v)
        elif isinstance(node, list):
            for v in node:
                reach(v)

    for method, path in OPERATIONS:
        op = spec["paths"][path][method]
        responses = {}
        for status, resp in op["responses"].items():
            resp = deref(resp, "responses")
            entry = {"headers": sorted(resp.get("headers", {}).keys())}
            content = resp.get("content", {}).get("application/json")
            if content:
                entry["schema"] = content["schema"]
                reach(content["schema"])
                for ex in content.get("examples", {}).values():
                    ex = deref(ex, "examples")
                    if "value" in ex:
                        out["examples"]["%s %s %s" % (method.upper(), path, status)] = detoken(ex["value"])
            responses[status] = entry
        body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if body:
            reach(body)
        out["operations"]["%s %s" % (method.upper(), path)] = {
            "operationId": op["operationId"], "responses": responses, "request": body}
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


main()
