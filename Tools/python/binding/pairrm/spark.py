"""Scoring pairs on Spark with ``DataFrame.mapInPandas`` (this module does not import pyspark)::

    from pairrm.spark import score_pairs_in_pandas, OUTPUT_FIELDS

    fn = score_pairs_in_pandas("/shared/pairrm-q8.prm", threads=1)
    schema = df.schema.add("logit", "float").add("verdict", "string")   # or: f"{ddl}, {OUTPUT_FIELDS}"
    scored = df.mapInPandas(fn, schema=schema)

The function loads the model once per Python worker process (Spark reuses its Python workers,
``spark.python.worker.reuse``, and the model is cached in the process across tasks), maps the
``.prm`` file (shared through the page cache by the executors of one machine) and yields each
pandas batch with ``logit`` (float32) and ``verdict`` ("a" / "b" / "tie") added. The model
path must exist on every executor (a shared file system, or ``SparkContext.addFile`` and
``SparkFiles.get`` inside your own wrapper). Set ``spark.task.cpus`` to ``threads``.
"""
from __future__ import annotations

import json
import threading
from typing import Any, Callable, Dict, Iterable, Iterator, Optional

from .pairs import PairScorer

__all__ = ["score_pairs_in_pandas", "OUTPUT_FIELDS"]

OUTPUT_FIELDS = "logit float, verdict string"
"""The columns added to each batch, as a Spark DDL fragment."""

_scorers: Dict[str, PairScorer] = {}
_lock = threading.Lock()


def _scorer(spec: Dict[str, Any]) -> PairScorer:
    key = json.dumps(spec, sort_keys=True, default=str)
    with _lock:
        scorer = _scorers.get(key)
        if scorer is None:
            scorer = _scorers[key] = PairScorer(**spec)
        return scorer


def score_pairs_in_pandas(model: Any, *, recipe: Optional[str] = None, threads: int = 1, max_workers: int = 1,
                          prompt_column: str = "prompt", a_column: str = "a", b_column: str = "b",
                          instruction_column: Optional[str] = None, mode: str = "[A,B]+[B,A]",
                          logit_column: str = "logit", verdict_column: str = "verdict",
                          **options: Any) -> Callable[[Iterable[Any]], Iterator[Any]]:
    """A function for ``df.mapInPandas(fn, schema)``: iterator of pandas DataFrames in,
    iterator of the same DataFrames with ``logit_column`` and ``verdict_column`` out.
    It captures only the arguments (picklable), not a loaded model."""
    spec = dict(options, model=model, recipe=recipe, threads=threads, max_workers=max_workers,
                prompt_column=prompt_column, a_column=a_column, b_column=b_column,
                instruction_column=instruction_column, mode=mode, logit_column=logit_column,
                verdict_column=verdict_column)

    def score_pairs(batches: Iterable[Any]) -> Iterator[Any]:
        scorer = _scorer(spec)
        for batch in batches:
            yield scorer(batch)

    return score_pairs
