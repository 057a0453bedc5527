"""Validate JSON bodies against the OpenAPI subset (tests/github/openapi-subset.json).

OpenAPI 3.0 schemas are not quite JSON Schema: `nullable: true` means the
value may also be null, and `$ref`s point into `#/components/schemas`. Both
are translated here; the validator is Debian's python3-jsonschema.
"""
import copy
import json
import os
import re

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
SUBSET = json.load(open(os.path.join(HERE, "openapi-subset.json")))


def _translate(node):
    if isinstance(node, list):
        return [_translate(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _translate(v) for k, v in node.items()
            if k not in ("example", "examples", "description", "title", "externalDocs", "deprecated",
                         "readOnly", "writeOnly", "discriminator", "xml")}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


_COMPONENTS = {"schemas": {k: _translate(v) for k, v in SUBSET["components"]["schemas"].items()}}


def operation_for(method, path):
    """The subset's operation key for a concrete request path, or None."""
    method = method.upper()
    for key in SUBSET["operations"]:
        m, template = key.split(" ", 1)
        if m != method:
            continue
        rx = "^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(rx, path):
            return key
    return None


def check(method, path, status, body):
    """Return a list of problems (empty when BODY is what the description allows)."""
    key = operation_for(method, path)
    if not key:
        return ["%s %s is not an operation of the subset" % (method, path)]
    responses = SUBSET["operations"][key]["responses"]
    resp = responses.get(str(status))
    if resp is None:
        return ["%s: status %s is not documented (documented: %s)" % (key, status, ", ".join(sorted(responses)))]
    schema = resp.get("schema")
    if schema is None:
        return [] if body in (None, b"", "") else ["%s %s: the description has no body here" % (key, status)]
    root = copy.deepcopy(_translate(schema))
    root["components"] = _COMPONENTS
    validator = jsonschema.Draft7Validator(root)
    return ["%s %s: %s at %s" % (key, status, e.message, "/".join(str(p) for p in e.absolute_path))
            for e in validator.iter_errors(body)]


def examples():
    """(method, path template, status, body) of every example in the subset."""
    for key, value in sorted(SUBSET["examples"].items()):
        method, path, status = key.split(" ")
        yield method, path, int(status), value
