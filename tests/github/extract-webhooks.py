#!/usr/bin/python3
# Extract from GitHub's published webhook schemas (npm package
# @octokit/webhooks-schemas, schema.json) the events the GitHub double
# delivers (workflow_job and workflow_run, every action) and every
# definition they reach. The result, tests/github/webhooks-subset.json, is
# committed so that the suite validates the double's deliveries offline;
# scripts/fetch-openapi regenerates it from the pinned tarball.
#   extract-webhooks.py SCHEMA.json VERSION TARBALL_SHA256 > webhooks-subset.json
import json
import sys

EVENTS = ["workflow_job$queued", "workflow_job$waiting", "workflow_job$in_progress", "workflow_job$completed",
          "workflow_run$requested", "workflow_run$in_progress", "workflow_run$completed"]


def refs(node, out):
    if isinstance(node, dict):
        r = node.get("$ref")
        if isinstance(r, str) and r.startswith("#/definitions/"):
            out.add(r[len("#/definitions/"):])
        for v in node.values():
            refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)


def main():
    schema = json.load(open(sys.argv[1]))
    defs = schema["definitions"]
    keep, todo = set(), list(EVENTS)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        found = set()
        refs(defs[name], found)
        todo.extend(found - keep)
    out = {"source": {"package": "@octokit/webhooks-schemas", "version": sys.argv[2], "file": "schema.json",
                      "tarball_sha256": sys.argv[3]},
           "events": EVENTS, "definitions": {k: defs[k] for k in sorted(keep)}}
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
