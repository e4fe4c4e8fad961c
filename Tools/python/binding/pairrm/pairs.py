"""``PairScorer``: scores a batch of (prompt, a, b) rows, the unit of work of the Ray and Spark
integrations (:mod:`pairrm.ray`, :mod:`pairrm.spark`).

A batch is a pandas DataFrame, a dict of columns (numpy arrays or lists: Ray's "numpy" /
"default" batch format) or a list of row dicts. The scorer returns the same kind of batch with
two columns added: ``logit`` (float32; > 0: A is better, see :class:`pairrm.Comparison`) and
``verdict`` (``"a"``, ``"b"`` or ``"tie"``).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from . import _inputs
from .ranker import Ranker

__all__ = ["PairScorer"]


class PairScorer:
    """Loads the model once (``Ranker(model, recipe=..., threads=..., **options)``) and scores
    batches of pairs with ``__call__``. ``max_workers`` threads score the rows of one batch in
    parallel (default 1: one core per scorer is ``threads`` cores).

    Column names: ``prompt_column``, ``a_column``, ``b_column``, optional ``instruction_column``;
    outputs ``logit_column`` and ``verdict_column``. ``mode`` is a compare mode.
    """

    def __init__(self, model: Any = None, *, recipe: Optional[str] = None, threads: int = 1, max_workers: int = 1,
                 prompt_column: str = "prompt", a_column: str = "a", b_column: str = "b",
                 instruction_column: Optional[str] = None, mode: str = "[A,B]+[B,A]", logit_column: str = "logit",
                 verdict_column: str = "verdict", library: Optional[str] = None, **options: Any) -> None:
        self.ranker = Ranker(model, recipe=recipe, threads=threads, max_workers=max_workers, library=library, **options)
        self.columns = (prompt_column, a_column, b_column, instruction_column)
        self.outputs = (logit_column, verdict_column)
        self.mode = mode

    def score(self, prompts: Any, a: Any, b: Any, instructions: Any = None) -> Tuple[List[float], List[str]]:
        """(logits, verdicts) of the rows."""
        results = self.ranker.compare_batch(prompts, a, b, instructions=instructions, mode=self.mode)
        return [r.logit for r in results], [r.verdict for r in results]

    def __call__(self, batch: Any) -> Any:
        prompt_c, a_c, b_c, ins_c = self.columns
        logit_c, verdict_c = self.outputs
        if isinstance(batch, list):  # rows
            rows = [dict(r) for r in batch]
            logits, verdicts = self.score([r[prompt_c] for r in rows], [r[a_c] for r in rows], [r[b_c] for r in rows],
                                          None if ins_c is None else [r.get(ins_c) or "" for r in rows])
            for r, logit, verdict in zip(rows, logits, verdicts):
                r[logit_c], r[verdict_c] = logit, verdict
            return rows
        if hasattr(batch, "columns") and hasattr(batch, "assign"):  # pandas DataFrame
            for column in (prompt_c, a_c, b_c):
                if column not in batch.columns:
                    raise KeyError("column %r not in the batch (columns: %s)" % (column, list(batch.columns)))
            instructions = None
            if ins_c is not None:
                instructions = [x if isinstance(x, str) else "" for x in _inputs.sequence(batch[ins_c], ins_c)]
            logits, verdicts = self.score(batch[prompt_c], batch[a_c], batch[b_c], instructions)
            import numpy
            return batch.assign(**{logit_c: numpy.array(logits, dtype="float32"), verdict_c: verdicts})
        if isinstance(batch, dict):  # {column: numpy array or list}
            for column in (prompt_c, a_c, b_c):
                if column not in batch:
                    raise KeyError("column %r not in the batch (columns: %s)" % (column, sorted(batch)))
            logits, verdicts = self.score(batch[prompt_c], batch[a_c], batch[b_c],
                                          None if ins_c is None else batch[ins_c])
            out: Dict[str, Any] = dict(batch)
            try:
                import numpy
                out[logit_c], out[verdict_c] = numpy.array(logits, dtype="float32"), numpy.array(verdicts)
            except ImportError:
                out[logit_c], out[verdict_c] = logits, verdicts
            return out
        raise TypeError("a batch must be a pandas DataFrame, a dict of columns or a list of rows, not %s"
                        % type(batch).__name__)

    def close(self) -> None:
        self.ranker.close()
