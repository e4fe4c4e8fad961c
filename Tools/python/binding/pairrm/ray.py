"""Scoring pairs on Ray Data: a callable class for ``Dataset.map_batches``.

This module does not import Ray (only :func:`score_pairs` does, when called)::

    import ray
    from pairrm.ray import PairRMScorer

    ds = ray.data.read_json("pairs.jsonl")             # rows {"prompt", "a", "b"}; or read_parquet
    scored = ds.map_batches(
        PairRMScorer,
        fn_constructor_kwargs={"model": "/abs/path/pairrm-q8.prm", "threads": 1},
        concurrency=4,          # actors (workers); each loads the model once
        num_cpus=1,             # = threads: the cores one actor uses
        batch_size=16,
        batch_format="pandas",  # or "numpy" / "default" (dicts of numpy arrays)
    )
    scored.write_json("scored/")                       # + columns logit (float32), verdict

Leave Ray one logical CPU beyond the actors' (``ray.init(num_cpus=workers * threads + 1)`` or
more): when the actors hold every CPU, the read tasks that feed them never get scheduled and the
pipeline waits forever. Each actor maps the ``.prm`` file (the default), so N actors on one machine share one copy of
the weights through the page cache. Give the model as an absolute path (actors need not run in
the driver's directory), or a hub id already in the Hugging Face cache. Convert a checkpoint
folder once beforehand (``pairrm convert`` or ``pairrm.Ranker(folder)``) so that the actors
only map the cached file.
"""
from __future__ import annotations

import os
from typing import Any, Optional

from .pairs import PairScorer

__all__ = ["PairRMScorer", "score_pairs"]


class PairRMScorer(PairScorer):
    """Ray Data callable class: ``ds.map_batches(PairRMScorer, fn_constructor_kwargs={...},
    concurrency=N, num_cpus=threads)``. Constructor arguments: see :class:`pairrm.pairs.PairScorer`
    (``model``, ``threads``, column names, ``mode``, ...)."""


def _absolute(model: Any) -> Any:
    if isinstance(model, (str, os.PathLike)) and os.path.exists(model):
        return os.path.abspath(model)
    return model


def score_pairs(input_path: str, model: Any, *, output_path: Optional[str] = None, workers: int = 1, threads: int = 1,
                batch_size: int = 16, batch_format: str = "pandas", **scorer_kwargs: Any) -> Any:
    """Reads a JSONL (``.jsonl``/``.json``) or Parquet (``.parquet`` or a folder) dataset of
    pairs, scores it on ``workers`` Ray actors of ``threads`` cores each, writes it to
    ``output_path`` (a folder; JSON lines unless the input is Parquet) when given, and returns
    the scored ``ray.data.Dataset`` (lazy; materialized when written or consumed).
    Calls ``ray.init(num_cpus=max(cpu_count, workers * threads + 1))`` when Ray is not initialized."""
    import ray  # only here: importing pairrm never imports Ray

    if not ray.is_initialized():
        # Logical CPUs: the actors' workers * threads, plus one for the read/write tasks (with
        # every CPU held by an actor, the read tasks would wait forever).
        ray.init(num_cpus=max(os.cpu_count() or 1, workers * threads + 1))
    path = os.path.abspath(input_path)
    parquet = path.endswith(".parquet") or (os.path.isdir(path) and any(f.endswith(".parquet") for f in os.listdir(path)))
    ds = ray.data.read_parquet(path) if parquet else ray.data.read_json(path)
    kwargs = dict(scorer_kwargs, model=_absolute(model), threads=threads)
    scored = ds.map_batches(PairRMScorer, fn_constructor_kwargs=kwargs, concurrency=workers, num_cpus=threads,
                            batch_size=batch_size, batch_format=batch_format)
    if output_path is not None:
        (scored.write_parquet if parquet else scored.write_json)(os.path.abspath(output_path))
    return scored
