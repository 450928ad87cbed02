#!/usr/bin/env python3
"""Extract a trimmed GitHub REST API contract from GitHub's official OpenAPI description.

Source: the npm package ``@octokit/openapi`` (MIT), which republishes
https://github.com/github/rest-api-description (file ``generated/api.github.com.json``)
with the small ``x-octokit`` extension.

Outputs (next to this script unless --out is given):

* ``openapi-subset.json``  - a valid OpenAPI 3.0.3 document holding only the operations
  listed in OPERATIONS below, plus every ``components`` entry they reach through
  ``$ref`` (transitively), so every ``$ref`` in the file resolves inside the file.
  ``info.version`` is the source package version; ``info.x-source`` records package,
  file and sha256 of the source spec.
* ``openapi-subset.deref.json`` - the same with every ``$ref`` inlined (compact JSON;
  skip with --no-deref).
* ``operations.json`` - a flat per-operation summary (method, path, server, success
  status, required body fields, body content types, query parameters, declared
  response headers, error statuses, docs URL). The README table is generated from it
  (``--markdown`` prints it).

Rerun (needs python3 >= 3.9 and, unless --spec is given, ``npm`` with registry access):

    # download @octokit/openapi with `npm pack` into a temp dir and extract:
    python3 extract.py --version 23.0.2
    # or point at an already unpacked spec:
    python3 extract.py --spec /path/to/package/generated/api.github.com.json
    # print the README operations table:
    python3 extract.py --spec ... --markdown
    # optional: validate (pip install openapi-spec-validator):
    python3 -m openapi_spec_validator openapi-subset.json

Options: ``--max-desc N`` truncates markdown descriptions longer than N characters
(default 0 = keep them all, as in the committed files); ``--no-examples`` drops examples.
Schemas (types, required, enums, min/max, formats, nullable ...) are never trimmed.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile

PACKAGE = "@octokit/openapi"
DEFAULT_VERSION = "23.0.2"
SPEC_MEMBER = "package/generated/api.github.com.json"

# operationId in GitHub's spec -> why the project needs it
OPERATIONS = [
    "issues/list-comments",
    "issues/create-comment",
    "issues/update-comment",
    "issues/delete-comment",
    "issues/get-comment",
    "issues/create",
    "issues/list-for-repo",
    "issues/update",
    "issues/get",
    "repos/create-dispatch-event",
    "repos/create-release",
    "repos/get-release-by-tag",
    "repos/list-releases",
    "repos/upload-release-asset",
    "repos/list-release-assets",
    "repos/delete-release-asset",
    "repos/create-commit-status",
    "checks/create",
    "checks/update",
    "repos/create-deployment",
    "repos/create-deployment-status",
    "repos/list-deployments",
    "pulls/get",
    "repos/list-pull-requests-associated-with-commit",
    "actions/list-workflow-run-artifacts",
    "actions/download-artifact",
    "actions/list-artifacts-for-repo",
    "rate-limit/get",
    # the registry on the repository itself: files with optimistic concurrency (blob sha),
    # refs that move only by fast-forward, release assets for model files
    "repos/get-content",
    "repos/create-or-update-file-contents",
    "repos/delete-file",
    "git/get-ref",
    "git/create-ref",
    "git/update-ref",
    "git/get-commit",
    "git/create-commit",
    "git/get-tree",
    "git/create-tree",
    "git/get-blob",
    "git/create-blob",
    "repos/get-release",
    "repos/update-release",
    "repos/get-release-asset",
    # fork-safe reporting: the privileged follow-up workflow reads the run that made the report
    "actions/get-workflow-run",
]

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def fetch_spec(version: str, workdir: str) -> str:
    """npm pack PACKAGE@version into workdir and extract the api.github.com spec."""
    out = (
        subprocess.run(
            ["npm", "pack", f"{PACKAGE}@{version}", "--silent"],
            cwd=workdir,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    tgz = os.path.join(workdir, out)
    with tarfile.open(tgz) as tf:
        member = tf.getmember(SPEC_MEMBER)
        tf.extract(member, workdir)
    return os.path.join(workdir, SPEC_MEMBER)


def iter_refs(node):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref
        for v in node.values():
            yield from iter_refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from iter_refs(v)


def resolve_pointer(doc, ref: str):
    if not ref.startswith("#/"):
        raise ValueError(f"external $ref not supported: {ref}")
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[part]
    return node


def collect_components(spec, roots) -> dict[str, set[str]]:
    """Transitively collect all #/components/<kind>/<name> reachable from roots."""
    needed: dict[str, set[str]] = {}
    stack = list(iter_refs(roots))
    seen = set()
    while stack:
        ref = stack.pop()
        if ref in seen:
            continue
        seen.add(ref)
        parts = ref[2:].split("/")
        if parts[0] != "components" or len(parts) != 3:
            raise ValueError(f"unexpected $ref: {ref}")
        needed.setdefault(parts[1], set()).add(parts[2])
        stack.extend(iter_refs(resolve_pointer(spec, ref)))
    return needed


def trim_descriptions(node, max_len: int):
    """Shorten long markdown 'description' strings (never touches schema keywords)."""
    if max_len <= 0:
        return
    if isinstance(node, dict):
        for k, v in list(node.items()):
            if k == "description" and isinstance(v, str) and len(v) > max_len:
                cut = v[:max_len].rsplit(" ", 1)[0]
                node[k] = cut + " [...]"
            elif k == "properties" and isinstance(v, dict):
                # property *names* may be "description": recurse into each schema only
                for sub in v.values():
                    trim_descriptions(sub, max_len)
            else:
                trim_descriptions(v, max_len)
    elif isinstance(node, list):
        for v in node:
            trim_descriptions(v, max_len)


def drop_examples(node):
    if isinstance(node, dict):
        for key in ("examples",):
            if (
                key in node
                and isinstance(node[key], dict)
                and all(
                    isinstance(x, dict) and ("value" in x or "$ref" in x)
                    for x in node[key].values()
                )
            ):
                del node[key]
        for k, v in node.items():
            if k == "properties" and isinstance(v, dict):
                for sub in v.values():
                    drop_examples(sub)
            else:
                drop_examples(v)
    elif isinstance(node, list):
        for v in node:
            drop_examples(v)


def deref(spec, node, stack=()):
    """Resolve $ref recursively (cycle-safe: a cyclic ref is left as $ref)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in stack:
                return node
            return deref(spec, resolve_pointer(spec, ref), stack + (ref,))
        return {k: deref(spec, v, stack) for k, v in node.items()}
    if isinstance(node, list):
        return [deref(spec, v, stack) for v in node]
    return node


def required_fields(spec, schema):
    """Describe required top-level body fields, following allOf/oneOf/anyOf."""
    schema = deref(spec, schema)
    if not isinstance(schema, dict):
        return []
    if "oneOf" in schema or "anyOf" in schema:
        alts = schema.get("oneOf") or schema.get("anyOf")
        base = list(schema.get("required", []))
        options = [required_fields(spec, a) for a in alts]
        if all(o == options[0] for o in options):
            return base + options[0]
        # conditional requirement, e.g. checks/update: conclusion required if status=completed
        conds = []
        for alt, req in zip(alts, options):
            if not req:
                continue
            when = [
                f"{k} in {v['enum']}"
                for k, v in (alt.get("properties") or {}).items()
                if isinstance(v, dict) and "enum" in v
            ]
            conds.append(
                "+".join(req) + (" (if " + " and ".join(when) + ")" if when else " (one variant)")
            )
        return base + conds
    req = list(schema.get("required", []))
    for part in schema.get("allOf", []):
        for r in required_fields(spec, part):
            if r not in req:
                req.append(r)
    return req


def shape_of(spec, schema, depth=0):
    """Short human description of a response schema: component name, array of X, object{...}."""
    if not isinstance(schema, dict):
        return None
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "allOf" in schema:
        return " + ".join(str(shape_of(spec, x, depth + 1)) for x in schema["allOf"])
    if schema.get("type") == "array":
        return "array of " + str(shape_of(spec, schema.get("items"), depth + 1))
    if "properties" in schema and depth < 1:
        return (
            "object{"
            + ", ".join(
                f"{k}: {shape_of(spec, v, depth + 1) or v.get('type')}"
                for k, v in schema["properties"].items()
            )
            + "}"
        )
    return schema.get("type") or "object"


def summarize(spec, op_id, method, path, op, path_item):
    params = [deref(spec, p) for p in path_item.get("parameters", []) + op.get("parameters", [])]
    body = op.get("requestBody")
    body = deref(spec, body) if body else None
    body_info = None
    if body:
        content = body.get("content", {})
        ctypes = list(content)
        req = []
        props = []
        for ct in ctypes:
            sch = content[ct].get("schema")
            if sch is not None:
                req = required_fields(spec, sch)
                s = deref(spec, sch)
                props = list(s.get("properties", {})) if isinstance(s, dict) else []
                break
        body_info = {
            "required": body.get("required", False),
            "content_types": ctypes,
            "required_fields": req,
            "properties": props,
        }
    responses = op.get("responses", {})
    success = [c for c in responses if c[0] in "23"]
    errors = [c for c in responses if c[0] in "45"]
    headers = {}
    for code, r in responses.items():
        r = deref(spec, r)
        for h in r.get("headers") or {}:
            headers.setdefault(h, []).append(code)
    shapes = {}
    for code in success:
        r = responses[code]
        if "$ref" in r:
            r = resolve_pointer(spec, r["$ref"])
        for ct, media in (r.get("content") or {}).items():
            shapes[code] = {"content_type": ct, "shape": shape_of(spec, media.get("schema"))}
            break
    servers = op.get("servers") or path_item.get("servers") or spec.get("servers")
    return {
        "operationId": op_id,
        "method": method.upper(),
        "path": path,
        "server": servers[0]["url"] if servers else None,
        "summary": op.get("summary"),
        "docs": (op.get("externalDocs") or {}).get("url"),
        "path_params": [p["name"] for p in params if p.get("in") == "path"],
        "query_params": [
            p["name"] + ("*" if p.get("required") else "") for p in params if p.get("in") == "query"
        ],
        "request_body": body_info,
        "success_status": success,
        "error_status": errors,
        "response_headers": headers,
        "success_body": shapes,
        "paginated": any(p.get("name") == "per_page" for p in params),
    }


def markdown_table(summaries) -> str:
    rows = [
        "| operationId | method | path | success | required body fields |",
        "|---|---|---|---|---|",
    ]
    for s in summaries:
        path = s["path"]
        if s["server"] and s["server"] != "https://api.github.com":
            path = s["server"].replace("https://", "") + path
        q = [x for x in s["query_params"] if x.endswith("*")]
        if q:
            path += " ?" + "&".join(x.rstrip("*") + "=" for x in q)
        if s["request_body"]:
            rb = s["request_body"]
            fields = ", ".join(f"`{f}`" for f in rb["required_fields"]) or "—"
            if rb["content_types"] != ["application/json"]:
                fields += " (body: " + ", ".join(rb["content_types"]) + ")"
        else:
            fields = "no body"
        succ = "/".join(s["success_status"])
        if s["paginated"]:
            succ += " (paged)"
        rows.append(f"| `{s['operationId']}` | {s['method']} | `{path}` | {succ} | {fields} |")
    return "\n".join(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spec", help="path to api.github.com.json (non-deref); default: npm pack")
    ap.add_argument(
        "--version", default=DEFAULT_VERSION, help="@octokit/openapi version for npm pack"
    )
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument(
        "--max-desc",
        type=int,
        default=0,
        help="truncate descriptions longer than N chars (0 = keep all)",
    )
    ap.add_argument("--no-examples", action="store_true", help="drop examples")
    ap.add_argument(
        "--no-deref",
        action="store_true",
        help="do not write openapi-subset.deref.json (all $refs inlined, compact)",
    )
    ap.add_argument("--markdown", action="store_true", help="print README operations table")
    a = ap.parse_args(argv)

    tmp = None
    spec_path = a.spec
    if not spec_path:
        tmp = tempfile.TemporaryDirectory()
        spec_path = fetch_spec(a.version, tmp.name)
    raw = open(spec_path, "rb").read()
    spec = json.loads(raw)
    sha = hashlib.sha256(raw).hexdigest()

    # --- select operations -------------------------------------------------
    found = {}
    for path, item in spec["paths"].items():
        for m in HTTP_METHODS:
            op = item.get(m)
            if isinstance(op, dict) and op.get("operationId") in OPERATIONS:
                found[op["operationId"]] = (m, path)
    missing = [o for o in OPERATIONS if o not in found]
    if missing:
        print("NOT FOUND in spec: " + ", ".join(missing), file=sys.stderr)

    paths = {}
    for op_id in OPERATIONS:
        if op_id not in found:
            continue
        m, path = found[op_id]
        src = spec["paths"][path]
        dst = paths.setdefault(
            path, {k: copy.deepcopy(v) for k, v in src.items() if k not in HTTP_METHODS}
        )
        dst[m] = copy.deepcopy(src[m])
    # keep original path order
    paths = {p: paths[p] for p in spec["paths"] if p in paths}

    needed = collect_components(spec, paths)
    components = {}
    for kind, entries in spec["components"].items():
        if kind in needed:
            components[kind] = {
                n: copy.deepcopy(v) for n, v in entries.items() if n in needed[kind]
            }

    used_tags = {
        t
        for item in paths.values()
        for m in HTTP_METHODS
        if isinstance(item.get(m), dict)
        for t in item[m].get("tags", [])
    }

    info = copy.deepcopy(spec["info"])
    info["title"] = "GitHub REST API (api.github.com) - trimmed subset"
    info["description"] = (
        "Subset of GitHub's official OpenAPI description (github/rest-api-description) as "
        f"published in the npm package {PACKAGE}@{spec['info']['version']} (MIT). "
        f"Only {len(found)} operations used by the project are kept; all $refs resolve "
        "within this file. Generated by extract.py - do not edit by hand."
    )
    info["x-source"] = {
        "package": PACKAGE,
        "version": spec["info"]["version"],
        "file": SPEC_MEMBER,
        "sha256": sha,
        "upstream": "https://github.com/github/rest-api-description",
        "operations": [o for o in OPERATIONS if o in found],
        "max_description_chars": a.max_desc or None,
        "examples_dropped": a.no_examples,
    }
    out = {
        "openapi": spec["openapi"],
        "info": info,
        "servers": spec.get("servers"),
        "externalDocs": spec.get("externalDocs"),
        "tags": [t for t in spec.get("tags", []) if t.get("name") in used_tags],
        "paths": paths,
        "components": components,
    }
    if a.no_examples:
        drop_examples(out["paths"])
        drop_examples(out["components"])
        out["components"].pop("examples", None)
        # remove now-unreferenced components
        needed = collect_components(out, out["paths"])
        out["components"] = {
            k: {n: v for n, v in ents.items() if n in needed.get(k, ())}
            for k, ents in out["components"].items()
            if k in needed
        }
    trim_descriptions(out["paths"], a.max_desc)
    trim_descriptions(out["components"], a.max_desc)

    # sanity: every $ref resolves within the output
    for ref in set(iter_refs(out)):
        resolve_pointer(out, ref)

    summaries = [
        summarize(
            spec, o, *found[o], spec["paths"][found[o][1]][found[o][0]], spec["paths"][found[o][1]]
        )
        for o in OPERATIONS
        if o in found
    ]

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "openapi-subset.json"), "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(a.out, "operations.json"), "w") as f:
        json.dump(
            {
                "source": f"{PACKAGE}@{spec['info']['version']}",
                "missing": missing,
                "operations": summaries,
            },
            f,
            indent=1,
            ensure_ascii=False,
        )
        f.write("\n")
    if not a.no_deref:
        deref_doc = {k: v for k, v in out.items() if k != "components"}
        deref_doc["info"] = dict(out["info"], title=out["info"]["title"] + " (dereferenced)")
        deref_doc["paths"] = deref(out, out["paths"])
        left = set(iter_refs(deref_doc["paths"]))
        if left:  # cyclic refs: keep the components they need
            deref_doc["components"] = out["components"]
        with open(os.path.join(a.out, "openapi-subset.deref.json"), "w") as f:
            json.dump(deref_doc, f, ensure_ascii=False, separators=(",", ":"))
            f.write("\n")
    if a.markdown:
        print(markdown_table(summaries))
    print(
        f"{len(found)}/{len(OPERATIONS)} operations, "
        + ", ".join(f"{k}={len(v)}" for k, v in out["components"].items()),
        file=sys.stderr,
    )
    if tmp:
        tmp.cleanup()
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
