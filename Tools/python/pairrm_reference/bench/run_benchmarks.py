"""Runtime benchmark: PairRM-Swift (f32/q8/q4) against PyTorch fp32 eager and ONNX Runtime int8
(dynamic quantization of an ONNX export), in ONE run on the same machine, same full-size
checkpoint, same thread counts. Prints a markdown table with ratios against each anchor.

Ours: `.build/release/pairrm-bench latency` (synthetic assembled inputs of exact lengths, one
process per model/threads/length so peak RSS is per length). References:
pairrm_reference.bench.bench_reference, run by --python: the reference venv's interpreter, with
the ``benchmark`` extra (see Tools/python/README.md).

Usage (standard library only; the reference part needs the venv's python), from the repository root:
  swift build -c release --product pairrm-bench
  PYTHONPATH=Tools/python python3 -m pairrm_reference.bench.run_benchmarks --checkpoint scratch/ckpt/full-pairrm-hf \\
      --model f32=scratch/full-f32.prm --model q8=scratch/full-q8.prm \\
      --model q4=scratch/full-q4.prm --threads 1 --threads 2 --out bench.json
Add --reference-json FILE (repeatable, one per thread count) to reuse reference results instead
of re-running them (PyTorch at 2048 tokens takes minutes), or --reference-engines ort to time only
ONNX Runtime. A model FILE may end in @INT8 to run a q8 file with int8 activations (the q8a8
plan). The table's header names the CPU model, its SIMD features and our kernel variant.
"""
import argparse
import json
import os
import subprocess
import sys
import time

from pairrm_reference.paths import REPO, module_command

LENGTHS = [128, 512, 2048]


def run_ours(bench, model, threads, length, batch):
    command = [bench, "latency", "--model", model, "--threads", str(threads), "--tokens", str(length),
               "--runs", "3" if length < 2048 else "1", "--batch-pairs", "8" if batch else "0"]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output)


def ours(args):
    results = []
    for spec in args.model:
        name, path = spec.split("=", 1)
        for threads in args.threads:
            row = {"engine": f"pairrm-swift {name}", "threads": threads, "latency": {}, "peak_rss_mb": {}}
            for length in LENGTHS:
                print(f"ours {name} threads={threads} T={length}", file=sys.stderr, flush=True)
                result = run_ours(args.bench, path, threads, length, batch=(length == 128))
                row["latency"][str(length)] = result["latency_seconds"][str(length)]
                row["peak_rss_mb"][str(length)] = result["peak_rss_bytes"] / 2**20
                row["load_s"] = min(row.get("load_s", 1e9), result["load_seconds"])
                row["kernels"] = result["kernels"]
                if "batch_pairs_per_second" in result:
                    row["pairs_per_s"] = result["batch_pairs_per_second"]
            results.append(row)
    return results


def cpu_description():
    """CPU model name and the SIMD features our dispatch looks at (Linux /proc/cpuinfo)."""
    model, flags = "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model") and model == "unknown CPU":
                    model = value.strip()
                if key.strip() in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    wanted = ["avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "asimddp"]
    return model, [f for f in wanted if f in flags]


def references(args):
    rows = []
    if args.reference_json:
        documents = [json.load(open(path)) for path in args.reference_json]
    else:
        documents = []
        for threads in args.threads:
            out = f"/tmp/pairrm-bench-reference-{threads}t.json"
            command, env = module_command("pairrm_reference.bench.bench_reference",
                                          "--checkpoint", args.checkpoint, "--threads", str(threads), "--out", out,
                                          "--engines", args.reference_engines, python=args.python)
            subprocess.run(command, check=True, env=env)
            documents.append(json.load(open(out)))
    for document in documents:
        for engine in document["engines"]:
            rows.append({
                "engine": engine["engine"], "threads": engine["threads"], "load_s": engine["load_s"],
                "latency": {k: v["median_s"] for k, v in engine["latency"].items()},
                "pairs_per_s": engine.get("batch8x256", {}).get("pairs_per_s"),
                "peak_rss_mb": {"all": engine["peak_rss_mb"]},
            })
    return rows


def table(rows):
    anchors = {(r["engine"], r["threads"]): r for r in rows if not r["engine"].startswith("pairrm-swift")}
    lines = ["| engine | threads | load | 128 tok | 512 tok | 2048 tok | 8×256 pairs/s | peak RSS | vs ORT int8 (128/512/2048) | vs PyTorch fp32 (128/512/2048) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        ort = anchors.get(("onnxruntime-int8-dynamic", row["threads"]))
        torch = anchors.get(("pytorch-fp32-eager", row["threads"]))

        def ratio(anchor):
            if anchor is None or row["engine"] == anchor["engine"]:
                return "—"
            return " / ".join(f"{anchor['latency'][str(n)] / row['latency'][str(n)]:.2f}×" for n in LENGTHS
                              if str(n) in anchor["latency"] and str(n) in row["latency"])
        rss = row["peak_rss_mb"]
        rss_text = f"{rss['all']:.0f} MB" if "all" in rss else " / ".join(f"{rss[str(n)]:.0f}" for n in LENGTHS) + " MB"
        pairs = f"{row['pairs_per_s']:.2f}" if row.get("pairs_per_s") else "—"
        lines.append(f"| {row['engine']} | {row['threads']} | {row['load_s']:.3f} s | "
                     + " | ".join(f"{row['latency'][str(n)]:.3f} s" for n in LENGTHS)
                     + f" | {pairs} | {rss_text} | {ratio(ort)} | {ratio(torch)} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="full-size PairRM-hf checkpoint directory (for the references)")
    parser.add_argument("--model", action="append", required=True, help="NAME=FILE.prm of ours, repeatable")
    parser.add_argument("--threads", action="append", type=int, required=True)
    parser.add_argument("--bench", default=os.path.join(REPO, ".build/release/pairrm-bench"))
    parser.add_argument("--python", default=os.environ.get("PAIRRM_REFERENCE_PYTHON", sys.executable),
                        help="python of the reference environment (default: $PAIRRM_REFERENCE_PYTHON, else this one)")
    parser.add_argument("--reference-engines", default="torch,ort", help="bench_reference.py --engines (default torch,ort)")
    parser.add_argument("--reference-json", action="append", help="reuse bench_reference.py output (one per thread count)")
    parser.add_argument("--out", help="write all rows as JSON")
    args = parser.parse_args()
    started = time.time()
    load = os.getloadavg()
    rows = ours(args) + references(args)
    rows.sort(key=lambda r: (r["threads"], r["engine"]))
    model, features = cpu_description()
    kernels = sorted({r["kernels"] for r in rows if r.get("kernels")})
    print(f"machine: {model}, {os.cpu_count()} cores ({' '.join(features)}); our kernels: {', '.join(kernels)}; "
          f"load average at start {load[0]:.2f}; {time.time() - started:.0f} s\n")
    print(table(rows))
    if args.out:
        json.dump({"rows": rows, "loadavg_start": load, "cpu": model, "cpu_features": features}, open(args.out, "w"), indent=1)


if __name__ == "__main__":
    main()
