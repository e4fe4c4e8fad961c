"""A drop-in for LLM-Blender's ``Blender`` (its PairRM calls), without PyTorch.

Switch by changing the import::

    # import llm_blender
    import pairrm.blender as llm_blender

    blender = llm_blender.Blender()
    blender.loadranker("llm-blender/PairRM")          # or a .prm file / checkpoint folder
    blender.compare(inputs, candidates_A, candidates_B)               # -> bool array
    blender.rank(inputs, candidates, return_scores=True)              # -> float32 [N, n]
    blender.rank_with_ref(inputs, candidates, ref_mode="longest")     # -> int32 ranks [N, n]
    blender.compare_conversations(conversations_a, conversations_b)   # -> bool array
    blender.get_best_of_n(inputs, candidates)                         # -> list[str]

Method names, argument names, defaults and return types are LLM-Blender's (see
``pairrm-spec.md`` section 4). Arrays are numpy arrays when numpy is importable (as in
LLM-Blender: bool / float32 / int32 / float64 as it returns them), else plain (nested) lists.

Differences, all documented in the README:

* ``batch_size`` is accepted and ignored for the results: every input is scored on its own,
  which is LLM-Blender with ``batch_size=1``. (LLM-Blender's candidate token cap depends on the
  longest source in its batch; it only differs for inputs near the caps.) Inputs run in
  parallel on a thread pool (``Blender(max_workers=...)``).
* ``device`` is accepted and ignored (CPU). The model runs in float32 activations with the
  weights of ``recipe`` (default ``"q8"``; ``"f32"`` reproduces LLM-Blender-on-CPU within 1e-4).
* Invalid arguments raise :class:`InputError` (a ``ValueError`` that is also an
  ``AssertionError``, what LLM-Blender raises) with LLM-Blender's message.
* ``get_best_of_n(pairrm_cmp_type="bubble")`` draws its start order from Python's ``random``
  (one order for the whole call, like LLM-Blender's ``torch.randperm``); seed with ``random.seed``.
* ``best_of_n_generate``, ``n_generate``, ``fuse`` and the fuser need a generator model and
  raise ``NotImplementedError``.
"""
from __future__ import annotations

import random
from typing import Any, List, Optional

from . import _inputs
from .conversation import INSTRUCTION
from .ranker import Ranker, pick_reference, ranks_from_scores

__all__ = ["Blender", "InputError", "BlenderConfig", "RankerConfig"]

_np: Any
try:  # numpy is optional: LLM-Blender returns numpy arrays, we do too when numpy is there
    import numpy as _np
except ImportError:  # pragma: no cover - exercised in the bare-venv check
    _np = None


class InputError(ValueError, AssertionError):
    """Invalid arguments (LLM-Blender asserts; catch either ValueError or AssertionError)."""


class BlenderConfig:
    """Accepted for signature compatibility (``Blender(BlenderConfig())``); only ``device``
    (ignored) and ``use_tqdm`` (ignored) exist."""

    def __init__(self, device: str = "cpu", use_tqdm: bool = False, **kwargs: Any) -> None:
        self.device = device
        self.use_tqdm = use_tqdm
        self.__dict__.update(kwargs)


class RankerConfig:
    """Accepted for signature compatibility: ``load_checkpoint`` (the model to load)."""

    def __init__(self, load_checkpoint: Optional[str] = None, **kwargs: Any) -> None:
        self.load_checkpoint = load_checkpoint
        self.__dict__.update(kwargs)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InputError(message)


def _array(values: Any, dtype: str) -> Any:
    if _np is None:
        return values
    return _np.array(values, dtype=dtype)


class Blender:
    """LLM-Blender's ``Blender`` for PairRM. ``Blender()`` then ``loadranker(path)``; or
    ``Blender(ranker=pairrm.Ranker(...))`` to share a loaded model.

    ``threads`` (per forward pass), ``max_workers`` (inputs scored in parallel), ``recipe``
    (weights of a converted checkpoint, default ``"q8"``) and ``library`` (libpairrm path) are
    this package's; the rest is LLM-Blender's signature.
    """

    def __init__(self, blender_config: Any = None, ranker_config: Any = None, fuser_config: Any = None, *,
                 ranker: Optional[Ranker] = None, threads: Optional[int] = None, max_workers: Optional[int] = None,
                 recipe: Optional[str] = None, library: Optional[str] = None) -> None:
        self.blender_config = blender_config or BlenderConfig()
        self.ranker_config = ranker_config
        self.fuser_config = fuser_config
        self.ranker: Optional[Ranker] = ranker
        self._threads, self._max_workers, self._recipe, self._library = threads, max_workers, recipe, library
        if fuser_config is not None:
            raise NotImplementedError("pairrm.blender has no fuser (GenFuser needs a generator model)")
        if ranker_config is not None and getattr(ranker_config, "load_checkpoint", None):
            self.loadranker(ranker_config.load_checkpoint)

    # ---------------------------------------------------------------- loading
    def loadranker(self, ranker_path: Any = "llm-blender/PairRM", device: Optional[str] = None, **kwargs: Any) -> None:
        """Loads PairRM from a hub id in the Hugging Face cache, a checkpoint folder or a ``.prm``
        file. ``device`` and LLM-Blender's config kwargs (``cache_dir``, ``fp16``, ...) are
        ignored; ``recipe``, ``threads`` and ``max_workers`` are this package's options."""
        recipe = kwargs.pop("recipe", self._recipe)
        threads = kwargs.pop("threads", self._threads)
        max_workers = kwargs.pop("max_workers", self._max_workers)
        options = {"threads": threads} if threads else {}
        for key in ("source_max_length", "candidate_max_length"):
            if kwargs.get(key):
                options[key] = kwargs[key]
        old, self.ranker = self.ranker, Ranker(ranker_path, recipe=recipe, max_workers=max_workers,
                                               library=self._library, **options)
        if old is not None:
            old.close()

    def _ranker(self) -> Ranker:
        if self.ranker is None:
            raise RuntimeError("No ranker loaded, please load ranker first through loadranker()")
        return self.ranker

    # ---------------------------------------------------------------- PairRM calls
    def rank(self, inputs: Any, candidates: Any, instructions: Any = None, return_scores: bool = False,
             batch_size: int = 8, **rank_kwargs: Any) -> Any:
        """Ranks the candidates of each input. Returns ranks (int32 [N, n], 1 = best, ties
        share the best rank) or, with ``return_scores``, "max_logits" scores (float32 [N, n],
        higher is better). ``source_max_length`` / ``candidate_max_length`` override the caps."""
        ranker = self._ranker()
        inputs, candidates = _inputs.sequence(inputs, "inputs"), _inputs.sequence(candidates, "candidates")
        candidates = [_inputs.sequence(c, "candidates[%d]" % i) for i, c in enumerate(candidates)]
        _require(len(inputs) == len(candidates), "Number of inputs and candidates must be the same")
        _require(all(len(c) > 0 for c in candidates), "Each input must have at least one candidate")
        _require(all(len(c) == len(candidates[0]) for c in candidates),
                 "Number of candidates for each input must be the same")
        ranker = ranker.with_lengths(rank_kwargs.get("source_max_length"), rank_kwargs.get("candidate_max_length"))
        rankings = ranker.rank_batch(inputs, candidates, instructions=instructions)
        if return_scores:
            return _array([r.scores for r in rankings], "float32")
        return _array([r.ranks for r in rankings], "int32")

    def rank_with_ref(self, inputs: Any, candidates: Any, instructions: Any = None, return_scores: bool = False,
                      batch_size: int = 8, ref_mode: str = "longest", ref_candidates: Any = None,
                      **rank_kwargs: Any) -> Any:
        """Scores each candidate against a reference (``ref_candidates[i]``, else chosen by
        ``ref_mode``: "longest", "shortest", "median_length", "first", "last"): score
        ``= -compare(input, reference, candidate)`` logit (float64 [N, n]); ranks (int32) unless
        ``return_scores``. ``mode`` in ``rank_kwargs`` is passed to compare."""
        ranker = self._ranker()
        inputs, candidates = _inputs.sequence(inputs, "inputs"), _inputs.sequence(candidates, "candidates")
        candidates = [_inputs.sequence(c, "candidates[%d]" % i) for i, c in enumerate(candidates)]
        _require(len(inputs) == len(candidates), "Number of inputs and candidates must be the same")
        _require(all(len(c) > 0 for c in candidates), "Each input must have at least one candidate")
        if ref_candidates is None:
            refs = [pick_reference(c, ref_mode) for c in candidates]
        else:
            refs = _inputs.sequence(ref_candidates, "ref_candidates")
            _require(len(refs) == len(inputs), "Number of inputs and ref_candidates must be the same")
        mode = rank_kwargs.get("mode", "[A,B]+[B,A]")
        if mode not in ("[A,B]", "[B,A]"):
            mode = "[A,B]+[B,A]"  # LLM-Blender's compare treats every other mode string as the default
        rankings = ranker.rank_with_ref_batch(inputs, candidates, references=refs, instructions=instructions, mode=mode)
        scores = [r.scores or [] for r in rankings]
        if return_scores:
            return _array(scores, "float64")
        return _array([ranks_from_scores(s) for s in scores], "int32")

    def compare(self, inputs: Any, candidates_A: Any, candidates_B: Any, instructions: Any = None,
                batch_size: int = 4, return_logits: bool = False, mode: str = "[A,B]+[B,A]") -> Any:
        """Compares ``candidates_A[i]`` with ``candidates_B[i]`` for each input: bool array
        (True: A is better) or, with ``return_logits``, float32 logits (> 0: A is better; mode
        "[B,A]" returns LLM-Blender's raw, not negated, value)."""
        ranker = self._ranker()
        inputs = _inputs.sequence(inputs, "inputs")
        candidates_A, candidates_B = _inputs.sequence(candidates_A, "candidates_A"), _inputs.sequence(candidates_B, "candidates_B")
        _require(len(candidates_A) == len(candidates_B), "Number of candidates_A and candidates_B must be the same")
        _require(len(inputs) == len(candidates_A), "Number of inputs and candidates must be the same")
        if mode not in ("[A,B]", "[B,A]"):
            mode = "[A,B]+[B,A]"  # LLM-Blender: any other string is the default mode
        logits = [c.logit for c in ranker.compare_batch(inputs, candidates_A, candidates_B, instructions=instructions, mode=mode)]
        if return_logits:
            return _array(logits, "float32")
        return _array([x > 0 for x in logits], "bool")

    def compare_conversations(self, conversations_a: Any, conversations_b: Any, batch_size: int = 4,
                              return_logits: bool = False, mode: str = "[A,B]+[B,A]") -> Any:
        """Compares two conversations (lists of ``{"role": "USER"|"ASSISTANT", "content"}``)
        per item; LLM-Blender's checks and messages; returns as :meth:`compare`."""
        ranker = self._ranker()
        conversations_a = _inputs.sequence(conversations_a, "conversations_a")
        conversations_b = _inputs.sequence(conversations_b, "conversations_b")
        for c in conversations_a + conversations_b:
            c = _inputs.sequence(c, "conversation")
            _require(len(c) % 2 == 0, "Each conversation must have even number of turns")
            _require(all(isinstance(t, dict) and "role" in t and "content" in t for t in c),
                     "Each turn must be a dict with 'role' and 'content'")
            _require(all(c[i]["role"] == "USER" for i in range(0, len(c), 2)), "Each even turn must be USER")
            _require(all(c[i]["role"] == "ASSISTANT" for i in range(1, len(c), 2)), "Each odd turn must be ASSISTANT")
        _require(len(conversations_a) == len(conversations_b), "Number of conversations must be the same")
        for a, b in zip(conversations_a, conversations_b):
            _require(len(a) == len(b), "Number of turns in each conversation must be the same")
            _require(all(a[i]["content"] == b[i]["content"] for i in range(0, len(a), 2)), "USER turns must be the same")
        if mode not in ("[A,B]", "[B,A]"):
            mode = "[A,B]+[B,A]"
        logits = [c.logit for c in ranker.compare_conversations_batch(conversations_a, conversations_b, mode=mode)]
        if return_logits:
            return _array(logits, "float32")
        return _array([x > 0 for x in logits], "bool")

    def _of_n(self, best: bool, inputs: Any, candidates: Any, instructions: Any, pairrm_cmp_type: str,
              return_all: bool) -> List[Any]:
        ranker = self._ranker()
        inputs, candidates = _inputs.sequence(inputs, "inputs"), _inputs.sequence(candidates, "candidates")
        candidates = [_inputs.sequence(c, "candidates[%d]" % i) for i, c in enumerate(candidates)]
        _require(len(inputs) == len(candidates), "Number of inputs and candidates must be the same")
        _require(all(len(c) > 0 for c in candidates), "Each input must have at least one candidate")
        if all(len(c) == 1 for c in candidates):
            return candidates if return_all else [c[0] for c in candidates]
        if pairrm_cmp_type == "bubble":
            n = len(candidates[0])
            _require(all(len(c) == n for c in candidates), "Number of candidates for each input must be the same")
            start: Optional[List[int]] = random.sample(range(n), n)  # one order for the batch, like torch.randperm
            strategy = "bubble"
        else:
            start, strategy = None, "full"
        run = ranker.best_of_n_batch if best else ranker.worst_of_n_batch
        selections = run(inputs, candidates, instructions=instructions, strategy=strategy, start_order=start)
        if return_all:
            return [[c[i] for i in s.order] for c, s in zip(candidates, selections)]
        return [c[s.index] for c, s in zip(candidates, selections)]

    def get_best_of_n(self, inputs: Any, candidates: Any, instructions: Any = None, pairrm_cmp_type: str = "bubble",
                      return_all: bool = False, batch_size: int = 8) -> List[Any]:
        """The best candidate of each input (``list[str]``), or with ``return_all`` all of them
        (``list[list[str]]``; bubble: the winner then the candidate eliminated at each step;
        "full": sorted best first)."""
        return self._of_n(True, inputs, candidates, instructions, pairrm_cmp_type, return_all)

    def get_worst_of_n(self, inputs: Any, candidates: Any, instructions: Any = None, pairrm_cmp_type: str = "bubble",
                       return_all: bool = False, batch_size: int = 8) -> List[Any]:
        """The worst candidate of each input (mirror image of :meth:`get_best_of_n`)."""
        return self._of_n(False, inputs, candidates, instructions, pairrm_cmp_type, return_all)

    # ---------------------------------------------------------------- not available without a generator
    def best_of_n_generate(self, *args: Any, **kwargs: Any) -> Any:
        """Not available: sample the n candidates with your generator, then call
        :meth:`get_best_of_n` (LLM-Blender ranks ``instruction + input`` with no newline)."""
        raise NotImplementedError("best_of_n_generate needs a generator model: sample n candidates per input "
                                  "yourself, then call get_best_of_n(inputs, candidates, instructions)")

    def n_generate(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("n_generate needs a generator model (not part of pairrm)")

    def loadfuser(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("pairrm.blender has no fuser (GenFuser needs a generator model)")

    def fuse(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("pairrm.blender has no fuser (GenFuser needs a generator model)")

    def rank_and_fuse(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("pairrm.blender has no fuser (GenFuser needs a generator model)")


CONVERSATION_INSTRUCTION = INSTRUCTION
