"""``Ranker``: one loaded PairRM model (a ``pairrm_model`` handle) and everything it scores.

A Ranker is thread-safe: any number of threads may call it at once (the library never locks a
model, and ctypes releases the GIL during each call). The ``*_batch`` methods use that: they
spread the items of a batch over a thread pool (``max_workers`` threads, each call running
``threads`` threads inside one forward pass).
"""
from __future__ import annotations

import ctypes
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple, TypeVar

from . import _inputs
from ._library import ERR_INVALID_HANDLE, ModelInfo, PairRMError, Turn, check, load_library

__all__ = ["Ranker", "Model", "Comparison", "Ranking", "Selection", "MODES", "REF_MODES",
           "pick_reference", "ranks_from_scores"]

MODES = {"[A,B]+[B,A]": 0, "both": 0, "[A,B]": 1, "ab": 1, "[B,A]": 2, "ba": 2}
"""compare modes (LLM-Blender's names, and short aliases) -> pairrm_compare_mode."""
VERDICTS = {0: "tie", 1: "a", 2: "b"}
RANK_STRATEGIES = {"full": 0, "merge-sort": 1}
SELECT_STRATEGIES = {"bubble": 0, "full": 1}
REF_MODES = ("longest", "shortest", "median_length", "first", "last")
OPTIONS = ("threads", "batch_size", "source_max_length", "candidate_max_length", "replace_separator_literals",
           "reject_truncation", "verify_tensors", "max_pooled_contexts", "read_into_memory")

T = TypeVar("T")


class Comparison(NamedTuple):
    """Result of a comparison of A and B.

    ``logit``: in the default mode ``L(x,a,b) - L(x,b,a)`` (> 0: A is better); in mode
    ``"[A,B]"`` ``L(x,a,b)``; in mode ``"[B,A]"`` ``L(x,b,a)`` (LLM-Blender's raw value, not
    negated). ``verdict``: ``"a"``, ``"b"`` or ``"tie"``, always about A versus B.
    """
    logit: float
    verdict: str


class Ranking(NamedTuple):
    """Result of ranking n candidates: ``scores[i]`` (higher is better; ``None`` for the
    merge-sort strategy, which computes no scores) and ``ranks[i]`` (1 = best, ties share the
    best rank)."""
    scores: Optional[List[float]]
    ranks: List[int]


class Selection(NamedTuple):
    """Result of best/worst-of-n: ``index`` of the chosen candidate, and ``order`` (LLM-Blender's
    ``return_all`` order as indices: bubble -> the winner, then the candidate eliminated at each
    step; full -> best (or worst) first)."""
    index: int  # type: ignore[assignment]  # (shadows tuple.index, as the earlier namedtuple did)
    order: List[int]


def _mode(mode: str) -> int:
    try:
        return MODES[mode]
    except (KeyError, TypeError):
        raise ValueError("mode must be one of %s, not %r" % (sorted(MODES), mode)) from None


def _choice(table: Mapping[str, int], value: Any, name: str) -> int:
    try:
        return table[value]
    except (KeyError, TypeError):
        raise ValueError("%s must be one of %s, not %r" % (name, sorted(table), value)) from None


def pick_reference(candidates: Sequence[str], ref_mode: str = "longest") -> str:
    """LLM-Blender's reference choice for ``rank_with_ref``: "longest" / "shortest" (first on ties,
    by code points), "median_length" (``sorted(candidates, key=len)[n // 2]``), "first", "last"."""
    candidates = _inputs.sequence(candidates, "candidates")
    if not candidates:
        raise ValueError("candidates must not be empty")
    if ref_mode == "longest":
        return max(candidates, key=len)
    if ref_mode == "shortest":
        return min(candidates, key=len)
    if ref_mode == "median_length":
        return sorted(candidates, key=len)[len(candidates) // 2]
    if ref_mode == "first":
        return candidates[0]
    if ref_mode == "last":
        return candidates[-1]
    raise ValueError("ref_mode must be one of %s, not %r" % (list(REF_MODES), ref_mode))


def ranks_from_scores(scores: Sequence[float]) -> List[int]:
    """LLM-Blender's ``get_ranks_from_scores``: ``rank_i = 1 + #{j : score_j > score_i}``."""
    return [1 + sum(1 for t in scores if t > s) for s in scores]


class Ranker:
    """A loaded PairRM model. Thread-safe; ``close()`` or ``with`` frees it.

    ``model`` is what users call the model: a ``.prm`` file, a checkpoint folder in the published
    ``llm-blender/PairRM(-hf)`` layout, or a hub id (``"llm-blender/PairRM"``,
    ``"org/name@revision"``) already in the Hugging Face cache. The library never uses the
    network: fetch a hub model first with ``pairrm download org/name`` (or huggingface_hub).
    ``None`` means ``$PAIRRM_MODEL``, else ``llm-blender/PairRM``. A checkpoint is converted
    once with ``recipe`` (``"q8"`` by default; ``"q8a8"``, ``"q4"``, ``"f16"``, ``"f32"``) and the
    result cached (``$PAIRRM_CACHE``). ``data`` loads a ``.prm`` container from bytes instead.

    Options (``pairrm_model_params`` fields): ``threads`` (threads inside one forward pass,
    default 1), ``batch_size``, ``source_max_length``, ``candidate_max_length``,
    ``replace_separator_literals``, ``reject_truncation``, ``verify_tensors``,
    ``max_pooled_contexts``, ``read_into_memory`` (1: read the file instead of mapping it).
    ``max_workers`` is the thread-pool size of the ``*_batch`` methods (default: CPU count
    divided by ``threads``). ``library`` (or ``lib``) is an explicit libpairrm path.

    Errors of the library raise :class:`pairrm.PairRMError` with its message; wrong Python
    types raise ``TypeError``, wrong values ``ValueError``.
    """

    def __init__(self, model: Any = None, *, recipe: Optional[str] = None, data: Optional[bytes] = None,
                 max_workers: Optional[int] = None, library: Optional[str] = None, lib: Optional[str] = None,
                 **options: int) -> None:
        self._handle: Optional[ctypes.c_void_p] = None
        self._pool: Optional[ThreadPoolExecutor] = None
        self._siblings: Dict[Tuple[int, int], "Ranker"] = {}
        self._lock = threading.Lock()
        self._lib = load_library(library or lib)
        params = self._lib.pairrm_model_default_params()
        for key, value in options.items():
            if key not in OPTIONS:
                raise TypeError("unknown option %r (options: %s)" % (key, ", ".join(OPTIONS)))
            if isinstance(value, bool):
                value = int(value)
            if not isinstance(value, int):
                raise TypeError("option %s must be an int, not %s" % (key, type(value).__name__))
            if not -2**31 <= value < 2**31:
                raise ValueError("option %s is out of range: %d" % (key, value))
            setattr(params, key, value)
        self.threads = max(1, params.threads)
        if max_workers is not None and (not isinstance(max_workers, int) or max_workers < 1):
            raise ValueError("max_workers must be a positive int")
        self.max_workers = max_workers or max(1, (os.cpu_count() or 1) // self.threads)
        handle = ctypes.c_void_p()
        if data is None:
            name = None if model is None else _inputs.text(os.fspath(model) if isinstance(model, os.PathLike) else model, "model")
            recipe_text = None if recipe is None else _inputs.text(recipe, "recipe")
            check(self._lib.pairrm_model_load(name, recipe_text, ctypes.byref(params), ctypes.byref(handle)))
            self._spec: Optional[Dict[str, Any]] = {"model": model, "recipe": recipe, "max_workers": max_workers,
                                                    "library": library or lib, **options}
        elif model is not None:
            raise TypeError("pass model or data, not both")
        else:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError("data must be bytes, not %s" % type(data).__name__)
            data = bytes(data)  # the library copies it (buffer_no_copy = 0)
            check(self._lib.pairrm_model_load_from_buffer(data, len(data), ctypes.byref(params), ctypes.byref(handle)))
            self._spec = None
        self._handle = handle
        self._options = dict(options)

    # ---------------------------------------------------------------- lifetime
    def close(self) -> None:
        """Frees the model and stops the thread pool (idempotent)."""
        with self._lock:
            handle, self._handle = self._handle, None
            pool, self._pool = self._pool, None
            siblings, self._siblings = list(self._siblings.values()), {}
        if pool is not None:
            pool.shutdown(wait=True)
        for sibling in siblings:
            sibling.close()
        if handle is not None and handle.value:
            check(self._lib.pairrm_model_free(handle))

    def __enter__(self) -> "Ranker":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __reduce__(self):
        """Pickling reloads the model by name in the receiving process (Ray, Spark, multiprocessing)."""
        if self._spec is None:
            raise TypeError("a Ranker loaded from bytes cannot be pickled; load it from a file or name")
        return (_reload, (self._spec,))

    def __repr__(self) -> str:
        model = self._spec.get("model") if self._spec else "<bytes>"
        state = "closed" if self._handle is None else "threads=%d, max_workers=%d" % (self.threads, self.max_workers)
        return "Ranker(%r, %s)" % (model, state)

    @property
    def handle(self) -> ctypes.c_void_p:
        """The ``pairrm_model *`` handle (raises PairRMError once closed)."""
        handle = self._handle
        if handle is None:
            raise PairRMError(ERR_INVALID_HANDLE, "the model was closed")
        return handle

    # ---------------------------------------------------------------- description
    @property
    def info(self) -> Dict[str, int]:
        """``pairrm_model_info`` as a dict (hidden_size, num_layers, ..., source_max_length, ...)."""
        info = ModelInfo(size=ctypes.sizeof(ModelInfo))
        check(self._lib.pairrm_model_get_info(self.handle, ctypes.byref(info)))
        return {field[0]: getattr(info, field[0]) for field in ModelInfo._fields_ if field[0] != "size"}

    def metadata(self, key: str) -> str:
        """A container metadata value as text, e.g. ``metadata("general.weights") -> "q8"``."""
        data = _inputs.text(key, "key")
        need = ctypes.c_size_t()
        check(self._lib.pairrm_model_get_metadata(self.handle, data, None, 0, ctypes.byref(need)))
        buf = ctypes.create_string_buffer(need.value)
        check(self._lib.pairrm_model_get_metadata(self.handle, data, buf, need.value, ctypes.byref(need)))
        return buf.value.decode("utf-8")

    def tokenize(self, text: Any) -> List[int]:
        """Token ids of ``text`` (PairRM's DeBERTa-v3 tokenizer, no [CLS]/[SEP])."""
        data = _inputs.text(text, "text")
        need = ctypes.c_size_t()
        check(self._lib.pairrm_model_tokenize(self.handle, data, None, 0, ctypes.byref(need)))
        ids = (ctypes.c_int32 * max(1, need.value))()
        check(self._lib.pairrm_model_tokenize(self.handle, data, ids, need.value, ctypes.byref(need)))
        return list(ids)[:need.value]

    def with_lengths(self, source_max_length: Optional[int] = None,
                     candidate_max_length: Optional[int] = None) -> "Ranker":
        """This model with other token caps (LLM-Blender's ``rank(..., source_max_length=,
        candidate_max_length=)``): a second handle on the same file, cached and closed with this one."""
        info = self.info
        s = source_max_length or info["source_max_length"]
        c = candidate_max_length or info["candidate_max_length"]
        if (s, c) == (info["source_max_length"], info["candidate_max_length"]):
            return self
        if self._spec is None:
            raise ValueError("other token caps need a Ranker loaded from a file or name, not bytes")
        with self._lock:
            sibling = self._siblings.get((s, c))
            if sibling is None:
                spec = dict(self._spec, source_max_length=s, candidate_max_length=c, max_workers=self.max_workers)
                sibling = self._siblings[(s, c)] = _reload(spec)
            return sibling

    # ---------------------------------------------------------------- scoring
    def compare(self, prompt: Any, a: Any, b: Any, instruction: Any = "", mode: str = "[A,B]+[B,A]") -> Comparison:
        """LLM-Blender's ``compare`` for one input: which of ``a`` and ``b`` answers
        ``instruction + prompt`` better. Returns :class:`Comparison` (logit, verdict)."""
        logit, verdict = ctypes.c_float(), ctypes.c_int32()
        check(self._lib.pairrm_model_compare(self.handle, _inputs.text(prompt, "prompt"), _inputs.text(a, "a"),
                                             _inputs.text(b, "b"), _inputs.optional_text(instruction, "instruction"),
                                             _mode(mode), ctypes.byref(logit), ctypes.byref(verdict)))
        return Comparison(logit.value, VERDICTS[verdict.value])

    def rank(self, prompt: Any, candidates: Any, instruction: Any = "", strategy: str = "full") -> Ranking:
        """LLM-Blender's ``rank`` for one input: all n(n-1) ordered pairs, "max_logits" scores
        (strategy "full"), or a merge sort without scores (strategy "merge-sort").
        Returns :class:`Ranking` (scores, ranks; 1 = best)."""
        array, n, _keep = _inputs.texts(candidates, "candidates")
        scores, ranks = (ctypes.c_float * max(1, n))(), (ctypes.c_int32 * max(1, n))()
        check(self._lib.pairrm_model_rank(self.handle, _inputs.text(prompt, "prompt"),
                                          _inputs.optional_text(instruction, "instruction"), array, n,
                                          _choice(RANK_STRATEGIES, strategy, "strategy"), scores, ranks, n))
        values = list(scores)[:n]
        return Ranking(None if all(math.isnan(s) for s in values) else values, list(ranks)[:n])

    def rank_with_ref(self, prompt: Any, candidates: Any, reference: Any = None, ref_mode: str = "longest",
                      instruction: Any = "", mode: str = "[A,B]+[B,A]") -> Ranking:
        """LLM-Blender's ``rank_with_ref`` for one input: each candidate's score is
        ``-compare(prompt, reference, candidate).logit`` (> 0: better than the reference; the
        reference itself scores 0). ``reference`` defaults to the candidate chosen by
        ``ref_mode`` (see :func:`pick_reference`). 2 forward passes per candidate."""
        cands = _inputs.sequence(candidates, "candidates")
        if not cands:
            raise ValueError("candidates must not be empty")
        ref = pick_reference(cands, ref_mode) if reference is None else reference
        scores = [-self.compare(prompt, ref, c, instruction=instruction, mode=mode).logit for c in cands]
        return Ranking(scores, ranks_from_scores(scores))

    def _select(self, fn: Callable[..., int], prompt: Any, candidates: Any, instruction: Any, strategy: str,
                start_order: Any) -> Selection:
        array, n, _keep = _inputs.texts(candidates, "candidates")
        start = None
        if start_order is not None:
            order = _inputs.sequence(start_order, "start_order")
            if len(order) != n:
                raise ValueError("start_order must have one entry per candidate")
            if not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < 2**31 for i in order):
                raise ValueError("start_order must hold candidate indices")
            start = (ctypes.c_int32 * max(1, n))(*order)
        index, out = ctypes.c_int32(), (ctypes.c_int32 * max(1, n))()
        check(fn(self.handle, _inputs.text(prompt, "prompt"), _inputs.optional_text(instruction, "instruction"),
                 array, n, _choice(SELECT_STRATEGIES, strategy, "strategy"), start, ctypes.byref(index), out, n))
        return Selection(index.value, list(out)[:n])

    def best_of_n(self, prompt: Any, candidates: Any, instruction: Any = "", strategy: str = "bubble",
                  start_order: Any = None) -> Selection:
        """LLM-Blender's ``get_best_of_n`` for one input. strategy "bubble" (one bubble pass,
        2(n-1) forward passes, from ``start_order`` or a random order) or "full" (full rank)."""
        return self._select(self._lib.pairrm_model_best_of_n, prompt, candidates, instruction, strategy, start_order)

    def worst_of_n(self, prompt: Any, candidates: Any, instruction: Any = "", strategy: str = "bubble",
                   start_order: Any = None) -> Selection:
        """LLM-Blender's ``get_worst_of_n`` for one input (the mirror image of best_of_n)."""
        return self._select(self._lib.pairrm_model_worst_of_n, prompt, candidates, instruction, strategy, start_order)

    def compare_conversations(self, a: Any, b: Any, mode: str = "[A,B]+[B,A]") -> Comparison:
        """LLM-Blender's ``compare_conversations`` for one pair: ``a`` and ``b`` are lists of
        ``{"role": "USER" | "ASSISTANT", "content": str}`` with the same USER turns."""
        keep: List[bytes] = []

        def turns(conversation: Any, name: str) -> Tuple[Any, int]:
            items = _inputs.sequence(conversation, name)
            encoded = []
            for i, turn in enumerate(items):
                if not isinstance(turn, Mapping):
                    raise TypeError("%s[%d] must be a dict with 'role' and 'content', not %s" % (name, i, type(turn).__name__))
                if "role" not in turn or "content" not in turn:
                    raise ValueError("%s[%d] needs 'role' and 'content'" % (name, i))
                role = _inputs.text(turn["role"], "%s[%d].role" % (name, i))
                content = _inputs.text(turn["content"], "%s[%d].content" % (name, i))
                keep.extend((role, content))
                encoded.append(Turn(role, content))
            return (Turn * max(1, len(encoded)))(*encoded), len(encoded)

        ta, na = turns(a, "a")
        tb, nb = turns(b, "b")
        logit, verdict = ctypes.c_float(), ctypes.c_int32()
        check(self._lib.pairrm_model_compare_conversations(self.handle, ta, na, tb, nb, _mode(mode),
                                                           ctypes.byref(logit), ctypes.byref(verdict)))
        return Comparison(logit.value, VERDICTS[verdict.value])

    # ---------------------------------------------------------------- reward-model helpers
    def reward(self, prompt: Any, response: Any, reference: Any, instruction: Any = "") -> float:
        """A scalar reward: the order-averaged logit of ``response`` against a ``reference``
        answer (> 0: better than the reference)."""
        return self.compare(prompt, response, reference, instruction=instruction).logit

    def rewards(self, prompt: Any, responses: Any, instruction: Any = "") -> List[float]:
        """LLM-Blender's "max_logits" scores of several responses to one prompt (higher is better;
        group-relative; n(n-1) forward passes)."""
        scores = self.rank(prompt, responses, instruction=instruction).scores
        assert scores is not None
        return scores

    # ---------------------------------------------------------------- batched (thread pool)
    def map(self, fn: Callable[..., T], *iterables: Iterable[Any], max_workers: Optional[int] = None) -> List[T]:
        """``[fn(*args) for args in zip(*iterables)]`` on the thread pool, in order. The GIL is
        released inside every library call, so calls on this Ranker run in parallel. The first
        exception raised by a call is re-raised."""
        items = list(zip(*[_inputs.sequence(it, "argument") for it in iterables]))
        workers = max_workers or self.max_workers
        if not isinstance(workers, int) or workers < 1:
            raise ValueError("max_workers must be a positive int")
        if workers == 1 or len(items) <= 1:
            return [fn(*args) for args in items]
        if max_workers is None or max_workers == self.max_workers:
            with self._lock:
                if self._handle is None:
                    raise PairRMError(ERR_INVALID_HANDLE, "the model was closed")
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="pairrm")
                pool = self._pool
            return list(pool.map(lambda args: fn(*args), items))
        with ThreadPoolExecutor(workers, thread_name_prefix="pairrm") as own:
            return list(own.map(lambda args: fn(*args), items))

    def compare_batch(self, prompts: Any, a: Any, b: Any, instructions: Any = None, mode: str = "[A,B]+[B,A]",
                      max_workers: Optional[int] = None) -> List[Comparison]:
        """:meth:`compare` for each ``(prompts[i], a[i], b[i])`` on the thread pool."""
        prompts, a, b = _inputs.sequence(prompts, "prompts"), _inputs.sequence(a, "a"), _inputs.sequence(b, "b")
        _inputs.same_length("prompts", prompts, "a", a)
        _inputs.same_length("a", a, "b", b)
        _mode(mode)
        ins = _inputs.optional_list(instructions, "instructions", len(prompts))
        return self.map(lambda p, x, y, i: self.compare(p, x, y, instruction=i, mode=mode), prompts, a, b, ins,
                        max_workers=max_workers)

    def rank_batch(self, prompts: Any, candidates: Any, instructions: Any = None, strategy: str = "full",
                   max_workers: Optional[int] = None) -> List[Ranking]:
        """:meth:`rank` for each ``(prompts[i], candidates[i])`` on the thread pool."""
        prompts, candidates = _inputs.sequence(prompts, "prompts"), _inputs.sequence(candidates, "candidates")
        _inputs.same_length("prompts", prompts, "candidates", candidates)
        ins = _inputs.optional_list(instructions, "instructions", len(prompts))
        return self.map(lambda p, c, i: self.rank(p, c, instruction=i, strategy=strategy), prompts, candidates, ins,
                        max_workers=max_workers)

    def rank_with_ref_batch(self, prompts: Any, candidates: Any, references: Any = None, ref_mode: str = "longest",
                            instructions: Any = None, mode: str = "[A,B]+[B,A]",
                            max_workers: Optional[int] = None) -> List[Ranking]:
        """:meth:`rank_with_ref` for each input on the thread pool (``references[i]`` or ``ref_mode``)."""
        prompts, candidates = _inputs.sequence(prompts, "prompts"), _inputs.sequence(candidates, "candidates")
        _inputs.same_length("prompts", prompts, "candidates", candidates)
        refs = [None] * len(prompts) if references is None else _inputs.sequence(references, "references")
        _inputs.same_length("prompts", prompts, "references", refs)
        ins = _inputs.optional_list(instructions, "instructions", len(prompts))
        return self.map(lambda p, c, r, i: self.rank_with_ref(p, c, reference=r, ref_mode=ref_mode, instruction=i, mode=mode),
                        prompts, candidates, refs, ins, max_workers=max_workers)

    def best_of_n_batch(self, prompts: Any, candidates: Any, instructions: Any = None, strategy: str = "bubble",
                        start_order: Any = None, max_workers: Optional[int] = None) -> List[Selection]:
        """:meth:`best_of_n` for each input on the thread pool (one ``start_order`` for all, or random)."""
        return self._select_batch(self.best_of_n, prompts, candidates, instructions, strategy, start_order, max_workers)

    def worst_of_n_batch(self, prompts: Any, candidates: Any, instructions: Any = None, strategy: str = "bubble",
                         start_order: Any = None, max_workers: Optional[int] = None) -> List[Selection]:
        """:meth:`worst_of_n` for each input on the thread pool."""
        return self._select_batch(self.worst_of_n, prompts, candidates, instructions, strategy, start_order, max_workers)

    def _select_batch(self, select: Callable[..., Selection], prompts: Any, candidates: Any, instructions: Any,
                      strategy: str, start_order: Any, max_workers: Optional[int]) -> List[Selection]:
        prompts, candidates = _inputs.sequence(prompts, "prompts"), _inputs.sequence(candidates, "candidates")
        _inputs.same_length("prompts", prompts, "candidates", candidates)
        ins = _inputs.optional_list(instructions, "instructions", len(prompts))
        return self.map(lambda p, c, i: select(p, c, instruction=i, strategy=strategy, start_order=start_order),
                        prompts, candidates, ins, max_workers=max_workers)

    def compare_conversations_batch(self, a: Any, b: Any, mode: str = "[A,B]+[B,A]",
                                    max_workers: Optional[int] = None) -> List[Comparison]:
        """:meth:`compare_conversations` for each ``(a[i], b[i])`` on the thread pool."""
        a, b = _inputs.sequence(a, "a"), _inputs.sequence(b, "b")
        _inputs.same_length("a", a, "b", b)
        return self.map(lambda x, y: self.compare_conversations(x, y, mode=mode), a, b, max_workers=max_workers)


def _reload(spec: Dict[str, Any]) -> Ranker:
    spec = dict(spec)
    return Ranker(spec.pop("model"), **spec)


Model = Ranker
"""The earlier name of :class:`Ranker` (same class)."""
