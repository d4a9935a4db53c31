#!/usr/bin/env python3
"""Checks docker/cuda-wheels.txt against pip's resolution of jax-cuda13-plugin[with-cuda].

Used by docker/Dockerfile.cuda at build time:

    pip install --dry-run --ignore-installed --only-binary=:all: --report report.json \
        -c cuda-wheels.txt "jax-cuda13-plugin[with-cuda]==<pjrt version>"
    python3 check_cuda_wheels.py cuda-wheels.txt report.json

The constraints (-c) make pip fail when a pinned version is outside what the plugin accepts. This
script adds what pip cannot see: every requirement of the plugin (with the "with-cuda" extra) must
be pinned, since only pinned wheels are unpacked into the image, and every pin must be used.
Transitive requirements that are not pinned are only reported (go-xla's own installer skips them).

Exit status 0 when consistent, 1 with one line per problem otherwise. Needs `packaging`
(Debian: python3-packaging), or falls back to the copy that pip vendors.
"""

import json
import re
import sys

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
except ImportError:  # pip vendors a copy
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name

PLUGIN = "jax-cuda13-plugin"
PJRT = "jax-cuda13-pjrt"
EXTRA = "with-cuda"
PIN_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][A-Za-z0-9.+!_-]*)$")


def read_pins(path):
    """Returns {canonical name: (name, version, line number)}; raises ValueError on a bad line."""
    pins = {}
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            m = PIN_RE.match(line)
            if not m:
                raise ValueError(f"{path}:{lineno}: want `name==version`, got {line!r}")
            key = canonicalize_name(m.group(1))
            if key in pins:
                raise ValueError(f"{path}:{lineno}: {m.group(1)} pinned twice")
            pins[key] = (m.group(1), m.group(2), lineno)
    return pins


def check(pins, report, pins_path="cuda-wheels.txt"):
    """Returns (problems, notes) for the pins against a `pip install --report` document."""
    problems, notes = [], []
    installed = {}
    for item in report.get("install", []):
        meta = item.get("metadata", {})
        installed[canonicalize_name(meta.get("name", ""))] = meta

    plugin = installed.get(canonicalize_name(PLUGIN))
    if plugin is None:
        return [f"pip's report has no {PLUGIN}: was it asked for?"], notes
    if canonicalize_name(PJRT) not in pins:
        problems.append(f"{pins_path}: {PJRT} is not pinned")
    elif pins[canonicalize_name(PJRT)][1] != plugin.get("version"):
        problems.append(
            f"{pins_path}:{pins[canonicalize_name(PJRT)][2]}: {PJRT}=={pins[canonicalize_name(PJRT)][1]} "
            f"but {PLUGIN} is {plugin.get('version')}"
        )

    direct = set()
    for spec in plugin.get("requires_dist", []) or []:
        req = Requirement(spec)
        if req.marker is not None and not req.marker.evaluate({"extra": EXTRA}):
            continue
        key = canonicalize_name(req.name)
        direct.add(key)
        if key not in pins:
            problems.append(f"{pins_path}: {PLUGIN}[{EXTRA}] requires {spec!r}, which is not pinned")
            continue
        name, version, lineno = pins[key]
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            problems.append(f"{pins_path}:{lineno}: {name}=={version} does not satisfy {spec!r}")

    for key, (name, version, lineno) in sorted(pins.items()):
        meta = installed.get(key)
        if meta is None:
            problems.append(f"{pins_path}:{lineno}: {name}=={version} is pinned but {PLUGIN}[{EXTRA}] does not need it")
        elif meta.get("version") != version:
            problems.append(f"{pins_path}:{lineno}: {name}=={version} but pip resolved {meta.get('version')}")

    for key, meta in sorted(installed.items()):
        if key not in pins and key not in direct and key != canonicalize_name(PLUGIN):
            notes.append(f"not installed (transitive, unpinned): {meta.get('name')}=={meta.get('version')}")
    return problems, notes


def main(argv):
    if len(argv) != 3:
        print(f"usage: {argv[0]} cuda-wheels.txt pip-report.json", file=sys.stderr)
        return 2
    try:
        pins = read_pins(argv[1])
    except ValueError as err:
        print(err, file=sys.stderr)
        return 1
    with open(argv[2], encoding="utf-8") as f:
        report = json.load(f)
    problems, notes = check(pins, report, argv[1])
    for note in notes:
        print(note)
    for problem in problems:
        print("ERROR:", problem, file=sys.stderr)
    if problems:
        return 1
    print(f"{argv[1]}: {len(pins)} pins consistent with {PLUGIN}[{EXTRA}]")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
