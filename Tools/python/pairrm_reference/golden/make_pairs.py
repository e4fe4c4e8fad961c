"""Deterministic pair set for fidelity measurement (f32 / q8 / q4 Swift logits vs PyTorch).

Builds N (default 200) pairs (source, a, b) from lines of a text corpus
(default: bench-corpus.txt of the shared vocabulary folder), with target content lengths -- measured in
tokens of the FULL-size tokenizer -- drawn log-uniformly: source 5..1000, candidates 5..400
(so no candidate ever hits the (2048 - Ls) // 2 cap and no source hits 1224).  Each text is
a run of consecutive-from-a-random-start corpus lines, cut at the longest character prefix
whose token count is <= target (binary search), then stripped.

Writes JSONL, one object per pair:
  {"index", "source", "a", "b", "ids_ab", "pos_ab", "ids_ba", "pos_ba", "T"}
where ids_xy / pos_xy are LB tokenize_pair ids and the 3 prefix positions (Formats/pairrm-model.md §2.3)
for candidate1 = x, candidate2 = y.

Usage (reference stack, see Tools/python/README.md; SCRATCH = $PAIRRM_SCRATCH, else
<repository>/scratch; the corpus is $PAIRRM_SHARED_VOCAB/bench-corpus.txt, else
../shared/vocab/bench-corpus.txt beside the repository):
  python -m pairrm_reference.golden.make_pairs \
      [--tokenizer SCRATCH/ckpt/full-pairrm-hf] [--corpus PATH] [--n 200] [--seed 20240501] \
      [--out SCRATCH/pairs-200.jsonl]
"""

import argparse
import json
import math
import os
import sys

import numpy as np

from pairrm_reference.golden import common as gc
from pairrm_reference.paths import SCRATCH, SHARED_VOCAB


def fit_text(tok, lines, rng, target):
    """Consecutive corpus lines from a random start, cut to <= target content tokens."""
    start = int(rng.integers(len(lines)))
    parts, i = [], start
    # enough raw text: ~1 token per 3 chars is a safe overestimate for these lines
    while sum(len(p) for p in parts) < 6 * target + 40:
        parts.append(lines[i % len(lines)])
        i += 1
    text = "\n".join(parts)
    n = lambda s: len(tok.encode(s, add_special_tokens=False))
    if n(text) <= target:
        return text.strip()
    lo, hi = 1, len(text)          # n(text[:lo]) <= target < n(text[:hi])
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if n(text[:mid]) <= target:
            lo = mid
        else:
            hi = mid
    return text[:lo].strip()


def loguniform(rng, lo, hi):
    return int(round(math.exp(rng.uniform(math.log(lo), math.log(hi)))))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokenizer", default=os.path.join(SCRATCH, "ckpt", "full-pairrm-hf"),
                    help="checkpoint directory with the full-size tokenizer (default: %(default)s)")
    ap.add_argument("--corpus", default=os.path.join(SHARED_VOCAB, "bench-corpus.txt"),
                    help="text corpus, one paragraph per line (default: %(default)s)")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=20240501)
    ap.add_argument("--out", default=os.path.join(SCRATCH, "pairs-200.jsonl"), help="default: %(default)s")
    args = ap.parse_args(argv)

    pt = gc.PairTokenizer(args.tokenizer)
    with open(args.corpus, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    rng = np.random.default_rng(args.seed)
    Ts = []
    with open(args.out, "w", encoding="utf-8") as out:
        for k in range(args.n):
            ls, la, lb = loguniform(rng, 5, 1000), loguniform(rng, 5, 400), loguniform(rng, 5, 400)
            src = fit_text(pt.tok, lines, rng, ls)
            a = fit_text(pt.tok, lines, rng, la)
            b = fit_text(pt.tok, lines, rng, lb)
            ids_ab, pos_ab, _ = pt.encode_pair(src, a, b)
            ids_ba, pos_ba, _ = pt.encode_pair(src, b, a)
            assert len(ids_ab) == len(ids_ba)
            Ts.append(len(ids_ab))
            out.write(json.dumps({"index": k, "source": src, "a": a, "b": b,
                                  "ids_ab": ids_ab, "pos_ab": pos_ab, "ids_ba": ids_ba, "pos_ba": pos_ba,
                                  "T": len(ids_ab)}, ensure_ascii=False) + "\n")
    Ts = np.array(Ts)
    print(f"wrote {args.n} pairs to {args.out}: T min {Ts.min()} median {int(np.median(Ts))} "
          f"max {Ts.max()} mean {Ts.mean():.0f}; first 8 T: {Ts[:8].tolist()}", file=sys.stderr)


if __name__ == "__main__":
    main()
