"""Fidelity of several engines against one PyTorch reference, as a Markdown table.

Per engine and pair, s = (L(a,b) - L(b,a)) / 2 is the order-averaged score.  Columns, against
the reference's s (and logits) on the pairs present in ALL inputs:
  sign    fraction of pairs whose s has the reference's sign (the verdict)
  Pearson correlation of s with the reference's s
  mean |Δs|, max |Δlogit| (over both orders)
  NSR     noise-to-signal: mean squared error of s over the variance of the reference s
Inputs:
  --pairs      the make_pairs.py JSONL (T of every pair is checked against it)
  --reference  one reference_logits.py output (normally --dtype float32)
  --pytorch    [LABEL=]PATH, any number: other reference_logits.py outputs, labelled
               pytorch-<dtype> (fp16, bf16, f64, f32) unless LABEL is given
  --ours       NAME=PATH, any number: `pairrm-bench reference` output
               ({"logits": [{"index", "order": "ab"|"ba", "T", "ours", "pytorch"}, ...]});
               its "pytorch" column must equal the reference's logits
Standard library + numpy only.

PyTorch on CPU without AVX512-FP16 runs float16 at about 4x the float32 time (85 pairs of
make_pairs.py ~75 min on 1 thread), so the float16 run may cover fewer pairs (--limit): that
shrinks the common set for every row; run the table again without it for the others.

Results on full-pairrm-hf-fragile (make_full_checkpoints.sh), reference PyTorch f32, CPU,
1 thread; first 45 pairs of pairs-200.jsonl (T 35..1151; fp16 limited to 45 for time):
  | engine       | pairs | sign  | Pearson(s) | mean |Δs| | max |Δlogit| | NSR     |
  | pytorch-fp16 |    45 | 0.889 | 0.9469     | 4.68e-02  | 2.75e-01     | 1.05e-01 |
  | pytorch-bf16 |    45 | 0.867 | 0.7556     | 1.06e-01  | 5.52e-01     | 4.64e-01 |
  | pytorch-f64  |    45 | 1.000 | 1.0000     | 5.17e-05  | 9.24e-04     | 2.22e-07 |
first 85 pairs (T 35..1342): bf16 0.800 / 0.7477 / NSR 0.530, f64 1.000 / 1.0000 / 1.7e-07
(max |Δlogit| 9.2e-4).

Full sequence (reference venv; SCRATCH is any scratch directory, checkpoints are 1.74 GB):
  python -m pairrm_reference.make_checkpoint --size full --layout pairrm-hf --seed 3 --fragile \\
      --local-attention --out $SCRATCH/ckpt/full-pairrm-hf-fragile
  python -m pairrm_reference.golden.make_pairs --tokenizer $SCRATCH/ckpt/full-pairrm-hf-fragile \\
      --n 200 --out $SCRATCH/pairs-200.jsonl
  for d in float32 float16 bfloat16 float64; do
    python -m pairrm_reference.golden.reference_logits --checkpoint $SCRATCH/ckpt/full-pairrm-hf-fragile \\
        --pairs $SCRATCH/pairs-200.jsonl --limit 85 --threads 1 --dtype $d --out $SCRATCH/ref-$d.json
  done
  pairrm convert $SCRATCH/ckpt/full-pairrm-hf-fragile -o $SCRATCH/fragile-q8.prm --weights q8
  pairrm-bench reference --model $SCRATCH/fragile-q8.prm --pairs $SCRATCH/pairs-200.jsonl \\
      --logits $SCRATCH/ref-float32.json > $SCRATCH/ours-q8.json
  python -m pairrm_reference.study.fidelity_table --pairs $SCRATCH/pairs-200.jsonl \\
      --reference $SCRATCH/ref-float32.json \\
      --pytorch $SCRATCH/ref-float16.json $SCRATCH/ref-bfloat16.json $SCRATCH/ref-float64.json \\
      --ours q8=$SCRATCH/ours-q8.json [--json table.json]
"""

import argparse
import json
import math
import os
import sys

import numpy as np

SHORT_DTYPE = {"float32": "f32", "float16": "fp16", "bfloat16": "bf16", "float64": "f64"}


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def pytorch_logits(doc):
    """{index: (T, L(a,b), L(b,a))} of a reference_logits.py output."""
    return {int(r["index"]): (int(r["T"]), float(r["logit_ab"]), float(r["logit_ba"])) for r in doc["results"]}


def bench_logits(doc, path):
    """{index: (T, L(a,b), L(b,a))} and {index: (pytorch ab, ba)} of a pairrm-bench reference output."""
    ours, theirs, seen = {}, {}, {}
    for row in doc["logits"]:
        seen.setdefault(int(row["index"]), {})[row["order"]] = row
    for index, orders in seen.items():
        if set(orders) != {"ab", "ba"}:
            print(f"warning: {path}: pair {index} lacks an order, skipped", file=sys.stderr)
            continue
        ab, ba = orders["ab"], orders["ba"]
        ours[index] = (int(ab["T"]), float(ab["ours"]), float(ba["ours"]))
        theirs[index] = (float(ab["pytorch"]), float(ba["pytorch"]))
    return ours, theirs


def split_label(arg, need_label):
    # a path may itself contain "=": only split if the whole argument is not a file
    if "=" in arg and not os.path.isfile(arg):
        label, path = arg.split("=", 1)
        return label, path
    if need_label:
        raise SystemExit(f"error: expected NAME=PATH, got {arg!r}")
    return None, arg


def metrics(ref, got):
    """ref, got: arrays [n, 2] of (L(a,b), L(b,a))."""
    s0 = (ref[:, 0] - ref[:, 1]) / 2
    s = (got[:, 0] - got[:, 1]) / 2
    finite = bool(np.isfinite(got).all())
    defined = finite and len(s) > 1 and s.std() > 0 and s0.std() > 0
    pearson = float(np.corrcoef(s, s0)[0, 1]) if defined else float("nan")
    nsr = float(np.mean((s - s0) ** 2) / s0.var()) if s0.std() > 0 else float("nan")
    return {
        "pairs": int(len(s0)),
        "sign_agreement": float(np.mean(np.sign(s) == np.sign(s0))),
        "pearson": pearson,
        "mean_abs_ds": float(np.mean(np.abs(s - s0))),
        "max_abs_dlogit": float(np.max(np.abs(got - ref))),
        "nsr": nsr,
        "finite": finite,
    }


def fmt(x, digits):
    return "nan" if not math.isfinite(x) else f"{x:.{digits}f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog=__doc__[__doc__.index("Per engine"):],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", required=True, help="make_pairs.py JSONL")
    ap.add_argument("--reference", required=True, help="reference_logits.py output (normally float32)")
    ap.add_argument("--pytorch", nargs="*", default=[], metavar="[LABEL=]PATH",
                    help="other reference_logits.py outputs (label default: pytorch-<dtype>)")
    ap.add_argument("--ours", nargs="*", default=[], metavar="NAME=PATH",
                    help="pairrm-bench reference outputs")
    ap.add_argument("--json", metavar="OUT", help="also write the table as JSON")
    args = ap.parse_args(argv)

    pair_T = {}
    with open(args.pairs, encoding="utf-8") as f:
        for line in f:
            p = json.loads(line)
            pair_T[int(p["index"])] = int(p["T"])

    ref_doc = load_json(args.reference)
    ref = pytorch_logits(ref_doc)
    ref_label = "pytorch-" + SHORT_DTYPE.get(ref_doc.get("dtype", "float32"), ref_doc.get("dtype", "?"))

    engines = []  # (label, path, {index: (T, ab, ba)})
    for arg in args.pytorch:
        label, path = split_label(arg, need_label=False)
        doc = load_json(path)
        label = label or "pytorch-" + SHORT_DTYPE.get(doc.get("dtype", "float32"), doc.get("dtype", "?"))
        for key in ("checkpoint", "pairs_file"):
            if doc.get(key) != ref_doc.get(key):
                print(f"warning: {label}: {key} {doc.get(key)} differs from the reference's {ref_doc.get(key)}",
                      file=sys.stderr)
        engines.append((label, path, pytorch_logits(doc)))
    for arg in args.ours:
        label, path = split_label(arg, need_label=True)
        ours, theirs = bench_logits(load_json(path), path)
        # the bench must have been run against this reference: its "pytorch" column is a copy
        # tolerance: the logits went through the bench's JSON writer and back
        mismatch = [i for i, v in theirs.items()
                    if i in ref and max(abs(a - b) for a, b in zip(v, ref[i][1:])) > 1e-9]
        if mismatch:
            print(f"warning: {label}: its pytorch logits differ from --reference on {len(mismatch)} pairs "
                  f"(first: {mismatch[:5]}); was it run with another --logits file?", file=sys.stderr)
        engines.append((label, path, ours))
    if not engines:
        ap.error("nothing to compare: give --pytorch and/or --ours")
    labels = [e[0] for e in engines]
    if len(set(labels)) != len(labels):
        ap.error(f"duplicate labels {labels}: use LABEL=PATH")

    common = set(ref)
    for _, _, logits in engines:
        common &= set(logits)
    for label, data in [(ref_label, ref)] + [(e[0], e[2]) for e in engines]:
        bad = [i for i in common if i not in pair_T or data[i][0] != pair_T[i]]
        if bad:
            raise SystemExit(f"error: {label}: T differs from {args.pairs} for pairs {sorted(bad)[:5]}")
    common = sorted(common)
    if not common:
        raise SystemExit("error: no pair is present in all inputs")
    Ts = [pair_T[i] for i in common]
    ref_arr = np.array([ref[i][1:] for i in common], dtype=np.float64)
    s0 = (ref_arr[:, 0] - ref_arr[:, 1]) / 2
    counts = ", ".join(f"{label} {len(d)}" for label, d in [(ref_label, ref)] + [(e[0], e[2]) for e in engines])
    print(f"{len(common)} pairs present in all inputs (T {min(Ts)}..{max(Ts)}, median {int(np.median(Ts))}); "
          f"pairs per input: {counts}")
    print(f"reference {ref_label} ({args.reference}): mean |s| {np.abs(s0).mean():.4f}, std s {s0.std():.4f}, "
          f"mean |L| {np.abs(ref_arr).mean():.4f}")
    print()
    print("| engine | pairs | sign agreement | Pearson(s) | mean \\|Δs\\| | max \\|Δlogit\\| | NSR |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    rows = []
    for label, path, logits in engines:
        got = np.array([logits[i][1:] for i in common], dtype=np.float64)
        m = metrics(ref_arr, got)
        if not m["finite"]:
            print(f"warning: {label}: non-finite logits", file=sys.stderr)
        rows.append(dict(engine=label, file=os.path.abspath(path), **m))
        print(f"| {label} | {m['pairs']} | {m['sign_agreement']:.3f} | {fmt(m['pearson'], 4)} | "
              f"{m['mean_abs_ds']:.2e} | {m['max_abs_dlogit']:.2e} | {m['nsr']:.2e} |")
    if args.json:
        out = {"reference": {"engine": ref_label, "file": os.path.abspath(args.reference),
                             "mean_abs_s": float(np.abs(s0).mean()), "std_s": float(s0.std())},
               "pairs_file": os.path.abspath(args.pairs), "indices": common, "rows": rows}
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
