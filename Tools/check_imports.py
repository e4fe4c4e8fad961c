#!/usr/bin/env python3
"""Fails when a target imports a module of this package (or of a dependency's product) that its
Package.swift entry does not declare. SwiftPM builds such code as long as the module happens to be
built for another reason, and `--explicit-target-dependency-import-check` is not enforced by the
Linux toolchain we use, so CI runs this instead.

usage: python3 Tools/check_imports.py   (from anywhere; reads `swift package dump-package`)
Prints one line per undeclared import and exits 1 if there is any.
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMPORT = re.compile(r"^\s*(?:@testable\s+)?(?:@_\w+(?:\([^)]*\))?\s+)*import\s+(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?([A-Za-z_][A-Za-z0-9_]*)", re.M)


def dependency_names(dependency):
    """The module names a declared dependency makes importable."""
    for kind in ("byName", "target", "product"):
        if kind in dependency:
            name = dependency[kind][0]
            return {name, name.replace("-", "_")}
    return set()


def main():
    package = json.loads(subprocess.check_output(["swift", "package", "dump-package"], cwd=ROOT))
    local = {target["name"] for target in package["targets"]}
    # Modules of dependency products are only known by name; any import of a module that is a
    # product name of some declared dependency, or a local target, must be declared.
    problems = []
    for target in package["targets"]:
        declared = set()
        for dependency in target["dependencies"]:
            declared |= dependency_names(dependency)
        kind = target["type"]
        path = target.get("path") or os.path.join("Tests" if kind == "test" else "Sources", target["name"])
        for folder, _, files in os.walk(os.path.join(ROOT, path)):
            for name in files:
                if not name.endswith(".swift"):
                    continue
                file = os.path.join(folder, name)
                with open(file, encoding="utf-8") as handle:
                    for module in IMPORT.findall(handle.read()):
                        if module in local and module != target["name"] and module not in declared:
                            problems.append("%s: imports %s, which target %s does not declare in Package.swift"
                                            % (os.path.relpath(file, ROOT), module, target["name"]))
    for problem in problems:
        print(problem)
    print("import check: %d targets, %d undeclared imports" % (len(package["targets"]), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
