#!/usr/bin/env python3
"""PyTorch fp32 reference logits L(a,b) and L(b,a) for the first N pairs of a make_pairs.py JSONL.

Runs llm-blender 0.0.2 DebertaV2PairRM (transformers 4.57.6) on CPU, batch of one, no padding,
on the ids stored in the JSONL (ids_ab / ids_ba), so the Swift runtime and PyTorch see exactly
the same token ids.  Output JSON:

  {"checkpoint", "pairs_file", "dtype": "float32", "threads", "torch", "transformers",
   "load_seconds", "total_seconds",
   "results": [{"index", "T", "logit_ab", "logit_ba", "seconds_ab", "seconds_ba"}, ...]}

Usage:
  /work/venv-ref/bin/python Tools/python/golden/reference_logits.py \
      --checkpoint /work/scratch/ckpt/full-pairrm-hf --pairs /work/scratch/pairs-200.jsonl \
      --limit 8 --out /work/scratch/ref-logits-full.json [--threads 2] [--float64]
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True, help="PairRM-hf layout directory")
    ap.add_argument("--pairs", required=True, help="JSONL from make_pairs.py")
    ap.add_argument("--limit", type=int, default=8, help="first N pairs (default 8)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--float64", action="store_true", help="cast the model to float64 instead")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = torch.float64 if args.float64 else torch.float32
    pairs = []
    with open(args.pairs, encoding="utf-8") as f:
        for line in f:
            if len(pairs) >= args.limit:
                break
            pairs.append(json.loads(line))
    t0 = time.time()
    model = gc.load_model(args.checkpoint, dtype)
    load_s = time.time() - t0
    print(f"loaded {args.checkpoint} in {load_s:.1f}s ({torch.get_num_threads()} threads)", file=sys.stderr)
    results = []
    for p in pairs:
        r = {"index": p["index"], "T": len(p["ids_ab"])}
        for o in ("ab", "ba"):
            t = time.time()
            r[f"logit_{o}"] = gc.logit_only(model, p[f"ids_{o}"])
            r[f"seconds_{o}"] = round(time.time() - t, 3)
        results.append(r)
        print(f"  pair {p['index']}: T={r['T']} L(a,b)={r['logit_ab']:+.6f} L(b,a)={r['logit_ba']:+.6f} "
              f"({r['seconds_ab']:.1f}s + {r['seconds_ba']:.1f}s)", file=sys.stderr)
    import transformers
    out = {"checkpoint": os.path.abspath(args.checkpoint), "pairs_file": os.path.abspath(args.pairs),
           "dtype": "float64" if args.float64 else "float32", "threads": torch.get_num_threads(),
           "torch": torch.__version__, "transformers": transformers.__version__,
           "load_seconds": round(load_s, 2), "total_seconds": round(time.time() - t0, 2),
           "results": results}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {args.out} (total {out['total_seconds']:.1f}s)", file=sys.stderr)


if __name__ == "__main__":
    main()
