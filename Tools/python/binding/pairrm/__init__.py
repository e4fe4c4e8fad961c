"""PairRM from Python without PyTorch: the PairRM-Swift runtime (libpairrm) through ctypes.

::

    import pairrm
    ranker = pairrm.Ranker("llm-blender/PairRM")      # or a .prm file or a checkpoint folder
    ranker.compare("prompt", "answer A", "answer B")  # -> Comparison(logit=0.73, verdict='a')
    ranker.rank("prompt", ["c1", "c2", "c3"])         # -> Ranking(scores=[...], ranks=[...])
    ranker.compare_batch(prompts, a, b)               # thread pool; the GIL is released

Modules: :mod:`pairrm.ranker` (``Ranker``), :mod:`pairrm.blender` (a drop-in for LLM-Blender's
``Blender``), :mod:`pairrm.trl` (TRL reward function and ``PairRMJudge``), :mod:`pairrm.ray` and
:mod:`pairrm.spark` (scale-out; neither imports Ray or pyspark until used),
:mod:`pairrm.conversation` (LLM-Blender's conversation template).

The installed wheel bundles libpairrm (Swift runtime linked statically); without it the
library comes from ``$PAIRRM_LIBRARY`` or the system (see :func:`load_library`). No other
package is needed; numpy / pandas inputs are accepted and numpy arrays are returned by the
Blender shim when numpy is installed. Library errors raise :class:`PairRMError` with the
library's message.
"""
from __future__ import annotations

import os as _os
import re as _re

from ._library import PairRMError, library_path, library_version, load_library
from .ranker import Comparison, Model, Ranker, Ranking, Selection, pick_reference, ranks_from_scores

__all__ = ["Ranker", "Model", "PairRMError", "Comparison", "Ranking", "Selection", "load_library", "library_path",
           "library_version", "version", "pick_reference", "ranks_from_scores", "__version__"]


def _package_version() -> str:
    try:  # written into the wheel by the build backend, from Sources/PairRMFormat/Version.swift
        from ._version import version as built
        return built
    except ImportError:
        pass
    # A source checkout (PYTHONPATH=Tools/python/binding): read the one version directly.
    here = _os.path.dirname(_os.path.abspath(__file__))
    swift = _os.path.join(here, "..", "..", "..", "..", "Sources", "PairRMFormat", "Version.swift")
    try:
        with open(swift, encoding="utf-8") as f:
            match = _re.search(r'public static let string = "([^"]+)"', f.read())
        if match:
            return match.group(1)
    except OSError:
        pass
    try:  # e.g. PREFIX/share/pairrm/python from Tools/install.sh: the library's version is the same one
        return library_version()
    except OSError:
        return "0+unknown"


__version__ = _package_version()
"""This package's version (= ``pairrm --version`` = ``pairrm_version()`` of the bundled library)."""


def version() -> str:
    """The loaded libpairrm's version (``pairrm_version()``)."""
    return library_version()
