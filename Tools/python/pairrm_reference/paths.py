"""Where things are, without machine-specific paths. Standard library only.

* ``REPO``: the repository root: ``$PAIRRM_REPO_ROOT`` if set, else the checkout this package sits
  in (``Tools/python/pairrm_reference`` -> three levels up), else (a non-editable install) the
  first of the current directory and its parents that holds ``Package.swift`` and
  ``Tests/Fixtures``, else the current directory.
* ``SCRATCH``: large, uncommitted outputs: ``$PAIRRM_SCRATCH``, else ``REPO/scratch``
  (gitignored).
* ``SHARED_VOCAB``: the real DeBERTa-v3 ``spm.model``, the bench corpus and the shared tokenizer
  cases: ``$PAIRRM_SHARED_VOCAB``, else ``REPO/../shared/vocab`` (the repository's sibling
  ``shared`` folder, as the Swift tests expect).
"""

import os
import sys

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
# The folder that holds the pairrm_reference package (Tools/python in a checkout).
PACKAGE_PARENT = os.path.dirname(PACKAGE_DIR)


def _is_repo(path):
    return os.path.isfile(os.path.join(path, "Package.swift")) and os.path.isdir(os.path.join(path, "Tests", "Fixtures"))


def _find_repo():
    env = os.environ.get("PAIRRM_REPO_ROOT")
    if env:
        return os.path.abspath(env)
    checkout = os.path.normpath(os.path.join(PACKAGE_PARENT, "..", ".."))
    if _is_repo(checkout):
        return checkout
    d = os.getcwd()
    while True:
        if _is_repo(d):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return os.getcwd()
        d = parent


REPO = _find_repo()
SCRATCH = os.path.abspath(os.environ.get("PAIRRM_SCRATCH") or os.path.join(REPO, "scratch"))
SHARED_VOCAB = os.path.abspath(os.environ.get("PAIRRM_SHARED_VOCAB")
                               or os.path.join(os.path.dirname(REPO), "shared", "vocab"))
FIXTURES = os.path.join(REPO, "Tests", "Fixtures")


def module_command(module, *args, python=None):
    """(argv, env) to run ``python -m module args...`` in a child process.

    The child must import this package even when ``python`` (default: this interpreter) has
    it neither installed nor on its path, so PYTHONPATH gets the folder holding the package --
    unless that folder is a site-packages directory (an installed copy), which must not leak
    into another interpreter.
    """
    env = dict(os.environ)
    entries = [e for e in env.get("PYTHONPATH", "").split(os.pathsep) if e]
    if os.path.basename(PACKAGE_PARENT) not in ("site-packages", "dist-packages") and PACKAGE_PARENT not in entries:
        env["PYTHONPATH"] = os.pathsep.join([PACKAGE_PARENT] + entries)
    return [python or sys.executable, "-m", module, *args], env
