#!/usr/bin/env python3
"""Patch a kubeadm ClusterConfiguration (v1beta3 or v1beta4) with a JSON merge document.

Usage:
  patch-cluster-config.py --patch JSON|@FILE [--in FILE] [--out FILE] [--check]
  patch-cluster-config.py --revert-from ORIGINAL --paths a.b,c [--in FILE] [--out FILE] [--check]
  patch-cluster-config.py --get PATH [--in FILE]
  patch-cluster-config.py --supported-versions

Input is the YAML kubeadm stores in the kube-system/kubeadm-config ConfigMap (key
ClusterConfiguration), or a YAML stream of kubeadm documents: only the ClusterConfiguration
document is changed, the others pass through. `--in`/`--out` default to stdin/stdout. The
apiVersion found is kept: kubeadm of the cluster reads what it wrote.

The patch is an RFC 7386 JSON merge patch (mappings merge recursively, null deletes a key,
scalars replace) with kubeadm-aware rules, so one document means the same on both API versions:
  - extraArgs (any component: apiServer, controllerManager, scheduler, etcd.local, ...): a
    mapping flag -> value. v1beta3 stores a mapping; v1beta4 a list of {name, value}, where an
    existing flag keeps its place and gets the new value, a new one is appended. A value may be
    a list of strings to repeat a flag (v1beta4 only); null removes the flag. Values become
    strings, as kubeadm stores them.
  - extraVolumes: a list of volumes merged by name (same name replaced in place, new ones
    appended); {"name": N, "$delete": true} removes one.
  - certSANs: a list added to the existing SANs (order kept, no duplicates); never shrinks.
  - {"$replace": VALUE} anywhere sets VALUE as is (for example to shrink certSANs).
  - any other list replaces the old one.
Example (phase 0, and phase 1.5's flags):
  {"controlPlaneEndpoint": "10.0.20.99:6443",
   "apiServer": {"certSANs": ["10.0.20.99", "k8s-apiserver.lab"],
                 "extraArgs": {"oidc-issuer-url": "https://dex.lab"},
                 "extraVolumes": [{"name": "audit", "hostPath": "/etc/kubernetes/audit.yaml",
                                   "mountPath": "/etc/kubernetes/audit.yaml", "readOnly": true,
                                   "pathType": "File"}]},
   "etcd": {"local": {"extraArgs": {"snapshot-count": "10000"}}}}

--revert-from puts the listed paths (dotted, e.g. controlPlaneEndpoint,apiServer.certSANs) back
to their value in ORIGINAL (absent there = removed), leaving every other field as it is now, so
a restore does not undo later changes such as a kubeadm upgrade's kubernetesVersion.

When the result equals the input, the input is written back byte for byte (a second run changes
nothing). Exit 0 on success; with --check, exit 0 when nothing would change and 1 when something
would (nothing is written); 2 on bad usage or input (unsupported apiVersion, no
ClusterConfiguration, malformed patch).
"""

import argparse
import copy
import json
import sys

import yaml

SUPPORTED_VERSIONS = ("kubeadm.k8s.io/v1beta3", "kubeadm.k8s.io/v1beta4")
REPLACE = "$replace"
DELETE = "$delete"


class PatchError(Exception):
    pass


def flag_value(value, version, flag):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, list) and version.endswith("v1beta4"):
        return [flag_value(v, version, flag) for v in value]
    raise PatchError(f"extraArgs.{flag}: a value must be a string, number or boolean"
                     + (" (or a list of them on v1beta4)" if version.endswith("v1beta4") else ""))


def merge_extra_args(current, patch, version, where):
    if not isinstance(patch, dict):
        raise PatchError(f"{where}: extraArgs in the patch must be a mapping flag -> value")
    if version.endswith("v1beta3"):
        result = dict(current or {})
        for flag, value in patch.items():
            if value is None:
                result.pop(flag, None)
            else:
                result[flag] = flag_value(value, version, flag)
        return result
    entries = [dict(e) for e in (current or [])]
    for flag, value in patch.items():
        first = next((i for i, e in enumerate(entries) if e.get("name") == flag), None)
        entries = [e for e in entries if e.get("name") != flag]
        if value is None:
            continue
        values = flag_value(value, version, flag)
        new = [{"name": flag, "value": v} for v in (values if isinstance(values, list) else [values])]
        at = len(entries) if first is None else first
        entries[at:at] = new
    return entries


def merge_extra_volumes(current, patch, where):
    if not isinstance(patch, list) or not all(isinstance(v, dict) and v.get("name") for v in patch):
        raise PatchError(f"{where}: extraVolumes in the patch must be a list of volumes with a name")
    result = [dict(v) for v in (current or [])]
    for volume in patch:
        index = next((i for i, v in enumerate(result) if v.get("name") == volume["name"]), None)
        if volume.get(DELETE):
            if index is not None:
                del result[index]
            continue
        if index is None:
            result.append(dict(volume))
        else:
            result[index] = dict(volume)
    return result


def merge_sans(current, patch, where):
    if not isinstance(patch, list) or not all(isinstance(s, str) for s in patch):
        raise PatchError(f"{where}: certSANs in the patch must be a list of strings")
    result = list(current or [])
    for san in patch:
        if san not in result:
            result.append(san)
    return result


def merge(current, patch, version, where=""):
    """RFC 7386 merge with the kubeadm rules above; returns the new value."""
    if isinstance(patch, dict) and REPLACE in patch:
        return copy.deepcopy(patch[REPLACE])
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(current) if isinstance(current, dict) else {}
    for key, value in patch.items():
        path = f"{where}.{key}" if where else key
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and REPLACE in value:
            result[key] = copy.deepcopy(value[REPLACE])
        elif key == "extraArgs":
            result[key] = merge_extra_args(result.get(key), value, version, path)
        elif key == "extraVolumes":
            result[key] = merge_extra_volumes(result.get(key), value, path)
        elif key == "certSANs":
            result[key] = merge_sans(result.get(key), value, path)
        else:
            result[key] = merge(result.get(key), value, version, path)
    return result


MISSING = object()


def get_path(doc, dotted):
    node = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


def revert_patch(original, paths):
    """The patch that puts each dotted path back to its value in `original` (or removes it)."""
    patch = {}
    for dotted in paths:
        parts = dotted.split(".")
        value = get_path(original, dotted)
        node = patch
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = None if value is MISSING else {REPLACE: copy.deepcopy(value)}
    return patch


def load_stream(text):
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as err:
        raise PatchError(f"the input is not YAML: {err}") from err
    docs = [d for d in docs if d is not None]
    index = next((i for i, d in enumerate(docs) if isinstance(d, dict) and d.get("kind") == "ClusterConfiguration"), None)
    if index is None:
        raise PatchError("the input has no ClusterConfiguration document (kind: ClusterConfiguration)")
    version = docs[index].get("apiVersion")
    if version not in SUPPORTED_VERSIONS:
        raise PatchError(f"ClusterConfiguration apiVersion {version!r} is not one of {', '.join(SUPPORTED_VERSIONS)}")
    return docs, index, version


def dump_stream(docs):
    return "---\n".join(yaml.safe_dump(d, default_flow_style=False, sort_keys=False) for d in docs)


def read_text(path):
    if path in (None, "-"):
        return sys.stdin.read()
    with open(path, encoding="utf-8") as f:
        return f.read()


def write_text(path, text):
    if path in (None, "-"):
        sys.stdout.write(text)
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


def main(argv):
    parser = argparse.ArgumentParser(description="Patch a kubeadm ClusterConfiguration (see the header).")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--patch", help="JSON merge document, or @FILE")
    mode.add_argument("--revert-from", metavar="ORIGINAL", help="ClusterConfiguration to take --paths from")
    mode.add_argument("--get", metavar="PATH", help="print the value at a dotted path as JSON (null if absent)")
    mode.add_argument("--supported-versions", action="store_true")
    parser.add_argument("--paths", help="with --revert-from: comma-separated dotted paths")
    parser.add_argument("--in", dest="input", help="input file (default stdin)")
    parser.add_argument("--out", help="output file (default stdout)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the patch would change something, write nothing")
    args = parser.parse_args(argv)

    if args.supported_versions:
        print("\n".join(SUPPORTED_VERSIONS))
        return 0
    try:
        text = read_text(args.input)
        docs, index, version = load_stream(text)
        if args.get:
            value = get_path(docs[index], args.get)
            print(json.dumps(None if value is MISSING else value))
            return 0
        if args.patch is not None:
            raw = read_text(args.patch[1:]) if args.patch.startswith("@") else args.patch
            try:
                patch = json.loads(raw)
            except json.JSONDecodeError as err:
                raise PatchError(f"--patch is not JSON: {err}") from err
        else:
            if not args.paths:
                raise PatchError("--revert-from needs --paths")
            original_docs, original_index, _ = load_stream(read_text(args.revert_from))
            patch = revert_patch(original_docs[original_index], [p for p in args.paths.split(",") if p])
        if not isinstance(patch, dict):
            raise PatchError("the patch must be a JSON object")
        if "apiVersion" in patch or "kind" in patch:
            raise PatchError("the patch must not change apiVersion or kind")
        patched = merge(docs[index], patch, version)
    except PatchError as err:
        print(f"patch-cluster-config: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"patch-cluster-config: {err}", file=sys.stderr)
        return 2

    changed = patched != docs[index]
    if args.check:
        print("patch-cluster-config: " + ("would change" if changed else "unchanged"), file=sys.stderr)
        return 1 if changed else 0
    if not changed:
        write_text(args.out, text)
    else:
        docs[index] = patched
        write_text(args.out, dump_stream(docs))
    print("patch-cluster-config: " + ("changed" if changed else "unchanged"), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
