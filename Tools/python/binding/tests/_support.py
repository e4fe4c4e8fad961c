"""Shared set-up of the package tests: the repository's fixtures and the tiny f32 model.

The tiny model is ``$PAIRRM_TEST_MODEL`` (a .prm) when set; otherwise the published-layout
checkpoint Tests/Fixtures/checkpoints/tiny-pairrm-hf is converted once with recipe "f32" by the
library itself (``pairrm.Ranker(folder, recipe="f32")``) into a temporary ``$PAIRRM_CACHE``.
"""
import atexit
import json
import os
import shutil
import tempfile

import pairrm

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", ".."))
CHECKPOINT = os.path.join(ROOT, "Tests", "Fixtures", "checkpoints", "tiny-pairrm-hf")
GOLDEN_PATH = os.environ.get("PAIRRM_TEST_GOLDEN") or os.path.join(ROOT, "Tests", "Fixtures", "parity", "blender-tiny.json")
TOL = 1e-4

_golden = None
_model = None
_tmp = None


def golden():
    global _golden
    if _golden is None:
        with open(GOLDEN_PATH, encoding="utf-8") as f:
            _golden = json.load(f)
    return _golden


def temp_dir():
    global _tmp
    if _tmp is None:
        _tmp = tempfile.mkdtemp(prefix="pairrm-pytest-")
        atexit.register(shutil.rmtree, _tmp, True)
    return _tmp


def model_path():
    """A tiny f32 .prm file (converted once per process unless $PAIRRM_TEST_MODEL is set)."""
    global _model
    if _model is None:
        given = os.environ.get("PAIRRM_TEST_MODEL")
        if given:
            _model = given
        else:
            cache = os.path.join(temp_dir(), "cache")
            saved = os.environ.get("PAIRRM_CACHE")
            os.environ["PAIRRM_CACHE"] = cache
            try:
                with pairrm.Ranker(CHECKPOINT, recipe="f32"):
                    pass
            finally:
                if saved is None:
                    os.environ.pop("PAIRRM_CACHE", None)
                else:
                    os.environ["PAIRRM_CACHE"] = saved
            found = [os.path.join(d, f) for d, _, files in os.walk(cache) for f in files if f.endswith(".prm")]
            assert len(found) == 1, found
            _model = found[0]
    return _model


def short(case):
    """Cases small enough for a quick run (the ~7000-character ones are covered by the C tests)."""
    texts = [case.get(k) or "" for k in ("prompt", "a", "b")] + list(case.get("candidates", []))
    return all(len(t) <= 1000 for t in texts)


def optional(module):
    """Imports an optional module, or returns None."""
    try:
        return __import__(module)
    except ImportError:
        return None
