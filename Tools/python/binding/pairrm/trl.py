"""PairRM in training loops: a TRL reward function and TRL's (removed) ``PairRMJudge``.

Nothing here imports TRL or PyTorch; both objects follow TRL's calling conventions.

Reward function (``GRPOTrainer(reward_funcs=...)``, any ``(prompts, completions, **kwargs)`` caller)::

    from pairrm.trl import PairRMReward
    reward = PairRMReward("llm-blender/PairRM")                  # group-relative (default)
    reward = PairRMReward("pairrm-q8.prm", reference_column="reference")   # against a reference
    trainer = GRPOTrainer(model=..., reward_funcs=[reward], ...)

* ``prompts`` / ``completions``: one entry per sample (GRPO repeats each prompt once per
  generation). Strings, or TRL's conversational format (lists of ``{"role", "content"}``
  messages; see :func:`pairrm.conversation.from_chat`).
* group-relative (``reference_column=None``): the completions of one prompt form a group; each
  gets LLM-Blender's "max_logits" score inside its group (``Ranker.rank``: the mean over the
  group of ``L(x,c_i,c_j) - L(x,c_j,c_i)``; ``n(n-1)`` forward passes for a group of n; a
  group of one scores 0). The scores of a group sum to 0.
* against a reference (``reference_column="reference"``): ``kwargs[reference_column][i]`` is a
  reference completion (a dataset column TRL passes through) and the reward is
  ``compare(prompt, completion, reference).logit`` (> 0: better than the reference; 2 forward
  passes per sample).
* returns ``list[float]``, one per completion; groups / samples are scored in parallel on the
  Ranker's thread pool.

Judge (``OnlineDPOTrainer(judge=...)``, ``BasePairwiseJudge``'s signature)::

    from pairrm.trl import PairRMJudge
    judge = PairRMJudge("llm-blender/PairRM")
    judge.judge(["2+2?"], [["4", "5"]])           # -> [0]  (index of the better completion)
"""
from __future__ import annotations

import json
import math
import random
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import _inputs
from .conversation import from_chat, is_conversation, message_text
from .ranker import Ranker

__all__ = ["PairRMReward", "reward_function", "PairRMJudge"]


def _ranker(model: Any, ranker: Optional[Ranker], options: Dict[str, Any]) -> Ranker:
    if ranker is not None:
        if model is not None or options:
            raise TypeError("pass a model (and options) or a ranker, not both")
        return ranker
    return Ranker(model, **options)


def _key(prompt: Any) -> str:
    return prompt if isinstance(prompt, str) else json.dumps(prompt, sort_keys=True, default=str)


def _reference_text(reference: Any) -> str:
    if isinstance(reference, str):
        return reference
    if is_conversation(reference):
        return "\n".join(message_text(m["content"]) for m in reference if m["role"] != "system")
    raise TypeError("a reference must be a str or a list of messages, not %s" % type(reference).__name__)


class PairRMReward:
    """A TRL reward function: ``reward(prompts, completions, **kwargs) -> list[float]``.

    ``model`` / ``**options`` load a :class:`pairrm.Ranker` (or pass ``ranker=``).
    ``reference_column``: None (group-relative ranking, default) or the name of the keyword
    argument holding one reference completion per sample. ``__name__`` (TRL logs rewards under
    it) is ``name``.
    """

    def __init__(self, model: Any = None, *, ranker: Optional[Ranker] = None, reference_column: Optional[str] = None,
                 name: str = "pairrm", **options: Any) -> None:
        self.ranker = _ranker(model, ranker, options)
        self.reference_column = reference_column
        self.__name__ = name

    def __call__(self, prompts: Any, completions: Any, **kwargs: Any) -> List[float]:
        prompts, completions = _inputs.sequence(prompts, "prompts"), _inputs.sequence(completions, "completions")
        _inputs.same_length("prompts", prompts, "completions", completions)
        if not prompts:
            return []
        texts = [from_chat(p, c) for p, c in zip(prompts, completions)]
        if self.reference_column is not None:
            return self._against_reference(prompts, texts, kwargs)
        return self._group_relative(prompts, texts)

    def _against_reference(self, prompts: List[Any], texts: List[Tuple[str, str, str]], kwargs: Dict[str, Any]) -> List[float]:
        column = self.reference_column
        if column not in kwargs:
            raise KeyError("reference column %r not passed to the reward function (TRL passes the dataset's extra "
                           "columns as keyword arguments; got %s)" % (column, sorted(kwargs)))
        refs = _inputs.sequence(kwargs[column], column)
        _inputs.same_length("prompts", prompts, column, refs)
        ref_texts = []
        for (instruction, _prompt, _candidate), prompt, ref in zip(texts, prompts, refs):
            if instruction:  # conversational: the reference completes the same conversation
                ref_texts.append(from_chat(prompt, ref)[2])
            else:
                ref_texts.append(_reference_text(ref))
        results = self.ranker.compare_batch([t[1] for t in texts], [t[2] for t in texts], ref_texts,
                                            instructions=[t[0] for t in texts])
        return [float(r.logit) for r in results]

    def _group_relative(self, prompts: List[Any], texts: List[Tuple[str, str, str]]) -> List[float]:
        groups: Dict[str, List[int]] = {}
        for i, prompt in enumerate(prompts):
            groups.setdefault(_key(prompt), []).append(i)
        members = list(groups.values())
        rankings = self.ranker.rank_batch([texts[g[0]][1] for g in members], [[texts[i][2] for i in g] for g in members],
                                          instructions=[texts[g[0]][0] for g in members])
        rewards = [0.0] * len(prompts)
        for g, ranking in zip(members, rankings):
            assert ranking.scores is not None
            for i, score in zip(g, ranking.scores):
                rewards[i] = float(score)
        return rewards


def reward_function(model: Any = None, *, ranker: Optional[Ranker] = None, reference_column: Optional[str] = None,
                    name: str = "pairrm", **options: Any) -> Callable[..., List[float]]:
    """A TRL reward function (see :class:`PairRMReward`): group-relative when
    ``reference_column`` is None, else against the reference completion in that column."""
    return PairRMReward(model, ranker=ranker, reference_column=reference_column, name=name, **options)


class PairRMJudge:
    """TRL's ``PairRMJudge`` (removed from TRL) on this runtime: a pairwise judge.

    ``judge(prompts, completions, shuffle_order=True, return_scores=False, temperature=1.0)``:
    ``completions[i]`` is a pair ``[c0, c1]``; returns per prompt ``0`` if ``c0`` is preferred
    (ties included), ``1`` if ``c1`` is, or with ``return_scores`` the probability that ``c0`` is
    better (softmax of the two "max_logits" scores divided by ``temperature``, i.e.
    ``sigmoid(logit / temperature)``). ``shuffle_order`` scores each pair in a random order
    (Python's ``random``) and maps the result back, as TRL did against position bias.
    """

    def __init__(self, model: Any = "llm-blender/PairRM", *, ranker: Optional[Ranker] = None, **options: Any) -> None:
        self.ranker = _ranker(None if ranker is not None else model, ranker, options)

    def judge(self, prompts: Any, completions: Any, shuffle_order: bool = True, return_scores: bool = False,
              temperature: float = 1.0) -> List[Any]:
        prompts, completions = _inputs.sequence(prompts, "prompts"), _inputs.sequence(completions, "completions")
        _inputs.same_length("prompts", prompts, "completions", completions)
        pairs = [_inputs.sequence(c, "completions[%d]" % i) for i, c in enumerate(completions)]
        if any(len(p) != 2 for p in pairs):
            raise ValueError("PairRM judge requires exactly 2 completions per prompt.")
        if return_scores and not temperature:
            raise ValueError("temperature must be non-zero")
        flips = [shuffle_order and random.random() < 0.5 for _ in pairs]
        texts = []
        for prompt, pair, flip in zip(prompts, pairs, flips):
            first, second = (pair[1], pair[0]) if flip else (pair[0], pair[1])
            instruction, x, c0 = from_chat(prompt, first)
            _, _, c1 = from_chat(prompt, second)
            texts.append((instruction, x, [c0, c1]))
        rankings = self.ranker.rank_batch([t[1] for t in texts], [t[2] for t in texts], instructions=[t[0] for t in texts])
        results: List[Any] = []
        for ranking, flip in zip(rankings, flips):
            if return_scores:
                assert ranking.scores is not None
                s0, s1 = (ranking.scores[1], ranking.scores[0]) if flip else (ranking.scores[0], ranking.scores[1])
                s0, s1 = s0 / temperature, s1 / temperature
                top = max(s0, s1)
                e0, e1 = math.exp(s0 - top), math.exp(s1 - top)
                results.append(e0 / (e0 + e1))
            else:
                r0 = ranking.ranks[1] if flip else ranking.ranks[0]
                results.append(r0 - 1)
        return results
