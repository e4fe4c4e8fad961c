#!/usr/bin/env python3
"""Scores a JSONL or Parquet dataset of pairs with PairRM on Ray Data and reports throughput.

    python Tools/python/binding/examples/ray_score_pairs.py --model pairrm-q8.prm \\
        --input pairs.jsonl [--output scored/] --workers 2 --threads 1 [--limit 48]

Each of the ``--workers`` actors loads the model once (the .prm file is memory-mapped, so the
actors share one copy of the weights through the page cache) and runs ``--threads`` threads
per forward pass (``num_cpus=threads``). Rows need a prompt and two answers (``--prompt-column``,
``--a-column``, ``--b-column``; e.g. ``--prompt-column source`` for rows {"source", "a", "b"}).
The input is read and materialized before the clock starts; the timed part is scoring (actor
start-up and model load included). Prints one line: workers, threads, pairs, seconds, pairs/s.
Needs ``pip install "ray[data]"`` next to the pairrm package.
"""
import argparse
import json
import os
import sys
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help=".prm file, checkpoint folder or cached hub id")
    parser.add_argument("--input", required=True, help="JSONL (.jsonl/.json) or Parquet (.parquet or folder)")
    parser.add_argument("--output", help="folder for the scored rows (JSON lines, or Parquet for Parquet input)")
    parser.add_argument("--workers", type=int, default=1, help="Ray actors (each loads the model once)")
    parser.add_argument("--threads", type=int, default=1, help="threads per forward pass = num_cpus per actor")
    parser.add_argument("--batch-size", type=int, default=4, help="rows per map_batches call")
    parser.add_argument("--limit", type=int, help="score only the first N rows")
    parser.add_argument("--prompt-column", default="prompt")
    parser.add_argument("--a-column", default="a")
    parser.add_argument("--b-column", default="b")
    parser.add_argument("--json", action="store_true", help="print the result line as JSON")
    args = parser.parse_args()

    import ray
    from pairrm.ray import PairRMScorer

    model = os.path.abspath(args.model) if os.path.exists(args.model) else args.model
    path = os.path.abspath(args.input)
    parquet = path.endswith(".parquet") or os.path.isdir(path)
    # One logical CPU beyond the actors' for the read / write tasks.
    ray.init(num_cpus=args.workers * args.threads + 1, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        ds = ray.data.read_parquet(path) if parquet else ray.data.read_json(path)
        ds = ds.select_columns([args.prompt_column, args.a_column, args.b_column])
        if args.limit:
            ds = ds.limit(args.limit)
        ds = ds.repartition(max(1, args.workers * 4)).materialize()  # read before the clock starts
        rows = ds.count()
        started = time.perf_counter()
        scored = ds.map_batches(
            PairRMScorer,
            fn_constructor_kwargs={"model": model, "threads": args.threads, "prompt_column": args.prompt_column,
                                   "a_column": args.a_column, "b_column": args.b_column},
            concurrency=args.workers, num_cpus=args.threads, batch_size=args.batch_size, batch_format="pandas",
        ).materialize()
        seconds = time.perf_counter() - started
        if args.output:
            (scored.write_parquet if parquet else scored.write_json)(os.path.abspath(args.output))
        result = {"workers": args.workers, "threads": args.threads, "pairs": rows, "seconds": round(seconds, 2),
                  "pairs_per_second": round(rows / seconds, 3)}
        if args.json:
            print(json.dumps(result))
        else:
            print("workers=%(workers)d threads=%(threads)d pairs=%(pairs)d seconds=%(seconds).2f "
                  "pairs/s=%(pairs_per_second).3f" % result)
    finally:
        ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
