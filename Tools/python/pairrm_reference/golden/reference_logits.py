"""PyTorch reference logits L(a,b) and L(b,a) for the first N pairs of a make_pairs.py JSONL.

Runs llm-blender 0.0.2 DebertaV2PairRM (transformers 4.57.6) on CPU, batch of one, no padding,
on the ids stored in the JSONL (ids_ab / ids_ba), so the Swift runtime and PyTorch see exactly
the same token ids.  Output JSON:

  {"checkpoint", "pairs_file", "dtype", "threads", "torch", "transformers",
   "load_seconds", "total_seconds",
   "results": [{"index", "T", "logit_ab", "logit_ba", "seconds_ab", "seconds_ba"}, ...]}

--dtype float32 (default) | float64 | float16 | bfloat16: the checkpoint is loaded in float32
and the whole model is cast with ``model.to(dtype)``, as LLM-Blender casts the ranker for fp16
inference (``ranker.half()``, there on cuda/mps only): LayerNorm, softmax and the head
included.  Every op runs natively in float16 on CPU (torch 2.15; matmuls accumulate in float32
and round once, like GPU fp16 GEMMs), only slowly without AVX512-FP16/AMX: on an AVX512-BF16
CPU, 1 thread, float16 takes 4.2x the float32 time, bfloat16 0.6x, float64 about 2x.
--float64 is an alias of --dtype float64.

Usage:
  python -m pairrm_reference.golden.reference_logits \\
      --checkpoint scratch/ckpt/full-pairrm-hf --pairs scratch/pairs-200.jsonl \\
      --limit 8 --out scratch/ref-logits-full.json [--threads 2] [--dtype float16]
"""

import argparse
import json
import math
import os
import sys
import time

import torch

from pairrm_reference.golden import common as gc

DTYPES = {"float32": torch.float32, "float64": torch.float64,
          "float16": torch.float16, "bfloat16": torch.bfloat16}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True, help="PairRM-hf layout directory")
    ap.add_argument("--pairs", required=True, help="JSONL from make_pairs.py")
    ap.add_argument("--limit", type=int, default=8, help="first N pairs (default 8)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default=None,
                    help="cast the whole model to this dtype (default float32)")
    ap.add_argument("--float64", action="store_true", help="alias of --dtype float64")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    if args.float64:
        if args.dtype not in (None, "float64"):
            ap.error(f"--float64 contradicts --dtype {args.dtype}")
        args.dtype = "float64"
    args.dtype = args.dtype or "float32"

    if args.threads:
        torch.set_num_threads(args.threads)
    pairs = []
    with open(args.pairs, encoding="utf-8") as f:
        for line in f:
            if len(pairs) >= args.limit:
                break
            pairs.append(json.loads(line))
    t0 = time.time()
    model = gc.load_model(args.checkpoint, DTYPES[args.dtype])
    load_s = time.time() - t0
    print(f"loaded {args.checkpoint} as {args.dtype} in {load_s:.1f}s ({torch.get_num_threads()} threads)",
          file=sys.stderr)
    results = []
    for p in pairs:
        r = {"index": p["index"], "T": len(p["ids_ab"])}
        for o in ("ab", "ba"):
            t = time.time()
            r[f"logit_{o}"] = gc.logit_only(model, p[f"ids_{o}"])
            r[f"seconds_{o}"] = round(time.time() - t, 3)
            if not math.isfinite(r[f"logit_{o}"]):
                print(f"  warning: pair {p['index']} order {o}: logit {r[f'logit_{o}']}", file=sys.stderr)
        results.append(r)
        print(f"  pair {p['index']}: T={r['T']} L(a,b)={r['logit_ab']:+.6f} L(b,a)={r['logit_ba']:+.6f} "
              f"({r['seconds_ab']:.1f}s + {r['seconds_ba']:.1f}s)", file=sys.stderr, flush=True)
    import transformers
    out = {"checkpoint": os.path.abspath(args.checkpoint), "pairs_file": os.path.abspath(args.pairs),
           "dtype": args.dtype, "threads": torch.get_num_threads(),
           "torch": torch.__version__, "transformers": transformers.__version__,
           "load_seconds": round(load_s, 2), "total_seconds": round(time.time() - t0, 2),
           "results": results}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {args.out} (total {out['total_seconds']:.1f}s)", file=sys.stderr)


if __name__ == "__main__":
    main()
