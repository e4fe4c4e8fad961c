"""Reference CPU benchmark: PyTorch fp32 eager vs ONNX Runtime int8 (dynamic quantization).

For a full-size PairRM-hf checkpoint, with the same thread count for both engines
(torch.set_num_threads / ORT intra_op_num_threads, inter_op 1), it measures

* load time (DebertaV2PairRM.from_pretrained / onnxruntime.InferenceSession of the int8 model);
* latency of ONE pair (batch 1, no padding) at total T = 128, 512, 2048 tokens
  (1 warm-up at each length, then the median of --runs runs; PyTorch at 2048 defaults to 1 run);
* throughput: pairs/s for a batch of 8 pairs of 256 tokens (1 warm-up, median of 2 runs);
* peak RSS (ru_maxrss of the child process: each engine runs in its own subprocess).

Inputs are synthetic but well-formed PairRM sequences (Formats/pairrm-model.md §2.3 layout):
``[CLS] <|source|> s... [SEP] [CLS] <|candidate1|> c1... [SEP] [CLS] <|candidate2|> c2... [SEP]``
with Ls = T/2, L1 = L2 = T/4 and seeded random normal-piece ids; latency does not depend on
the ids.

ONNX: a wrapper (input_ids, attention_mask) -> logits around DebertaV2PairRM (backbone + the
prefix-position gather via ``torch.where(input_ids == prefix_id)``, the same logic as
llm-blender's forward, minus its Python asserts and the keep-column trim) is exported with the
TorchScript exporter (opset 17, dynamic batch and sequence axes), then
``quantize_dynamic(weight_type=QInt8)``.  Both models are cached in --onnx-dir (default
$PAIRRM_SCRATCH/onnx/<checkpoint name>/, PAIRRM_SCRATCH defaulting to <repository>/scratch); the export step also records the fp32-ONNX and
int8-ONNX logits vs PyTorch on a T=128 and a T=512 input.

Usage (reference venv with the ``benchmark`` extra, see Tools/python/README.md):
  python -m pairrm_reference.bench.bench_reference \
      --checkpoint scratch/ckpt/full-pairrm-hf --threads 1 --out scratch/bench-ref-1t.json
Options: --engines torch,ort  --lengths 128,512,2048  --runs 3  --torch-runs-2048 1  --skip-batch
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from pairrm_reference.paths import SCRATCH, module_command

PREFIX = (128001, 128002, 128003)  # overwritten from the checkpoint config


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def contention_info(res):
    """Other load on the machine skews timings: record load average and our own CPU time."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"loadavg_end": list(os.getloadavg()), "cpu_user_s": ru.ru_utime, "cpu_sys_s": ru.ru_stime,
            "involuntary_ctx_switches": ru.ru_nivcsw}


def read_cfg(ckpt):
    with open(os.path.join(ckpt, "config.json")) as f:
        return json.load(f)


def make_pair_ids(T, cfg, seed=0):
    import numpy as np
    rng = np.random.default_rng([seed, T])
    ls = T // 2
    l1 = (T - ls) // 2
    l2 = T - ls - l1
    hi = cfg["vocab_size"] - 5  # normal pieces only, below [MASK]
    def seg(prefix, n):
        body = rng.integers(260, hi, size=n - 3).tolist()
        return [1, prefix] + body + [2]
    ids = seg(cfg["source_prefix_id"], ls) + seg(cfg["cand1_prefix_id"], l1) + seg(cfg["cand2_prefix_id"], l2)
    assert len(ids) == T
    return ids


def batch_ids(B, T, cfg):
    return [make_pair_ids(T, cfg, seed=100 + b) for b in range(B)]


CPU_TIMES = []  # process CPU seconds of the timed runs of the last timed() call


def timed(fn, warmup, runs):
    """Median wall time of `runs` calls after `warmup` calls.  Also records the process CPU time
    of each run in CPU_TIMES: with 1 thread it is a contention-robust proxy for the latency when
    other jobs share the machine (it still includes cache / memory-bandwidth interference)."""
    for _ in range(warmup):
        fn()
    ts = []
    CPU_TIMES.clear()
    out = None
    for _ in range(runs):
        c = time.process_time()
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
        CPU_TIMES.append(time.process_time() - c)
    return statistics.median(ts), ts, out


# ----------------------------------------------------------------------------- torch child

def torch_wrapper(model):
    """(input_ids, attention_mask) -> logits; the PairRM head with torch.where positions."""
    import torch

    class PairRMLogits(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            m = self.m
            enc = m.pretrained_model(input_ids=input_ids, attention_mask=attention_mask,
                                     output_hidden_states=False, return_dict=True).last_hidden_state
            s = torch.where(input_ids == m.source_prefix_id)
            c1 = torch.where(input_ids == m.cand1_prefix_id)
            c2 = torch.where(input_ids == m.cand2_prefix_id)
            hs, h1, h2 = enc[s[0], s[1], :], enc[c1[0], c1[1], :], enc[c2[0], c2[1], :]
            left = m.head_layer(torch.cat([hs, h1], dim=-1))
            right = m.head_layer(torch.cat([hs, h2], dim=-1))
            return (left - right).mean(dim=-1)

    return PairRMLogits(model).eval()


def child_torch(args):
    import torch
    from pairrm_reference.golden import common as gc
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    cfg = read_cfg(args.checkpoint)
    res = {"engine": "pytorch-fp32-eager", "threads": torch.get_num_threads(), "torch": torch.__version__,
           "loadavg_start": list(os.getloadavg())}
    t = time.perf_counter()
    model = gc.load_model(args.checkpoint, torch.float32)
    res["load_s"] = time.perf_counter() - t
    res["rss_after_load_mb"] = peak_rss_mb()

    def run(ids_list):
        x = torch.tensor(ids_list)
        with torch.inference_mode():
            return model(input_ids=x, attention_mask=torch.ones_like(x)).logits.tolist()

    res["latency"] = {}
    for T in args.lengths:
        ids = [make_pair_ids(T, cfg)]
        runs = args.torch_runs_2048 if T >= 2048 else args.runs
        warm = 0 if T >= 2048 else 1
        med, ts, out = timed(lambda: run(ids), warm, runs)
        res["latency"][str(T)] = {"median_s": med, "runs_s": ts, "warmup": warm, "logit": out[0],
                                  "cpu_s": list(CPU_TIMES), "median_cpu_s": statistics.median(CPU_TIMES)}
        print(f"  torch T={T}: {med:.3f}s {['%.3f' % x for x in ts]}", file=sys.stderr, flush=True)
    if not args.skip_batch:
        ids = batch_ids(8, 256, cfg)
        med, ts, out = timed(lambda: run(ids), 1, 2)
        res["batch8x256"] = {"median_s": med, "runs_s": ts, "pairs_per_s": 8 / med, "logits": out,
                             "cpu_s": list(CPU_TIMES)}
        print(f"  torch batch 8x256: {med:.3f}s = {8 / med:.2f} pairs/s", file=sys.stderr, flush=True)
    res["peak_rss_mb"] = peak_rss_mb()
    res.update(contention_info(res))
    return res


# ----------------------------------------------------------------------------- ONNX export child

def onnx_paths(args):
    d = args.onnx_dir or os.path.join(SCRATCH, "onnx", os.path.basename(os.path.normpath(args.checkpoint)))
    return d, os.path.join(d, "pairrm-fp32.onnx"), os.path.join(d, "pairrm-int8.onnx")


def child_export(args):
    import numpy as np
    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from pairrm_reference.golden import common as gc
    torch.set_num_threads(args.threads)
    d, fp32_path, int8_path = onnx_paths(args)
    os.makedirs(d, exist_ok=True)
    cfg = read_cfg(args.checkpoint)
    res = {"onnx_dir": d}
    model = gc.load_model(args.checkpoint, torch.float32)
    wrap = torch_wrapper(model)
    if not os.path.isfile(fp32_path):
        ids = torch.tensor([make_pair_ids(64, cfg)])
        t = time.perf_counter()
        torch.onnx.export(wrap, (ids, torch.ones_like(ids)), fp32_path, dynamo=False, opset_version=17,
                          input_names=["input_ids", "attention_mask"], output_names=["logits"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                                        "attention_mask": {0: "batch", 1: "seq"}, "logits": {0: "batch"}},
                          do_constant_folding=True, external_data=True)
        res["export_s"] = time.perf_counter() - t
        print(f"  exported {fp32_path} in {res['export_s']:.1f}s", file=sys.stderr, flush=True)
    if not os.path.isfile(int8_path):
        t = time.perf_counter()
        quantize_dynamic(fp32_path, int8_path, weight_type=QuantType.QInt8)
        res["quantize_s"] = time.perf_counter() - t
        print(f"  quantized -> {int8_path} in {res['quantize_s']:.1f}s", file=sys.stderr, flush=True)

    def size(p):
        tot = os.path.getsize(p)
        data = p + ".data"
        for q in os.listdir(d):
            full = os.path.join(d, q)
            if q != os.path.basename(p) and q.startswith(os.path.basename(p)):
                tot += os.path.getsize(full)
        return tot
    res["fp32_onnx_bytes"] = size(fp32_path)
    res["int8_onnx_bytes"] = size(int8_path)
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    check = {}
    for T in (128, 512):
        ids = make_pair_ids(T, cfg, seed=7)
        x = torch.tensor([ids])
        with torch.inference_mode():
            ref = float(model(input_ids=x, attention_mask=torch.ones_like(x)).logits[0])
        feed = {"input_ids": np.array([ids], dtype=np.int64), "attention_mask": np.ones((1, T), dtype=np.int64)}
        check[str(T)] = {"torch_fp32": ref}
        for name, p in (("ort_fp32", fp32_path), ("ort_int8", int8_path)):
            s = ort.InferenceSession(p, so, providers=["CPUExecutionProvider"])
            v = float(s.run(None, feed)[0][0])
            check[str(T)][name] = v
            check[str(T)][name + "_abs_err"] = abs(v - ref)
            del s
        print(f"  check T={T}: {check[str(T)]}", file=sys.stderr, flush=True)
    res["logit_check"] = check
    return res


# ----------------------------------------------------------------------------- ORT child

def child_ort(args):
    import numpy as np
    import onnxruntime as ort
    d, fp32_path, int8_path = onnx_paths(args)
    cfg = read_cfg(args.checkpoint)
    res = {"engine": "onnxruntime-int8-dynamic", "threads": args.threads, "onnxruntime": ort.__version__,
           "model": int8_path, "loadavg_start": list(os.getloadavg())}
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    t = time.perf_counter()
    sess = ort.InferenceSession(int8_path, so, providers=["CPUExecutionProvider"])
    res["load_s"] = time.perf_counter() - t
    res["rss_after_load_mb"] = peak_rss_mb()

    def run(ids_list):
        x = np.array(ids_list, dtype=np.int64)
        return sess.run(None, {"input_ids": x, "attention_mask": np.ones_like(x)})[0].tolist()

    res["latency"] = {}
    for T in args.lengths:
        ids = [make_pair_ids(T, cfg)]
        med, ts, out = timed(lambda: run(ids), 1, args.runs)
        res["latency"][str(T)] = {"median_s": med, "runs_s": ts, "warmup": 1, "logit": out[0],
                                  "cpu_s": list(CPU_TIMES), "median_cpu_s": statistics.median(CPU_TIMES)}
        print(f"  ort T={T}: {med:.3f}s {['%.3f' % x for x in ts]}", file=sys.stderr, flush=True)
    if not args.skip_batch:
        ids = batch_ids(8, 256, cfg)
        med, ts, out = timed(lambda: run(ids), 1, 2)
        res["batch8x256"] = {"median_s": med, "runs_s": ts, "pairs_per_s": 8 / med, "logits": out,
                             "cpu_s": list(CPU_TIMES)}
        print(f"  ort batch 8x256: {med:.3f}s = {8 / med:.2f} pairs/s", file=sys.stderr, flush=True)
    res["peak_rss_mb"] = peak_rss_mb()
    res.update(contention_info(res))
    return res


CHILDREN = {"torch": child_torch, "export": child_export, "ort": child_ort}


def spawn(kind, args, argv):
    out = os.path.join(os.path.dirname(os.path.abspath(args.out)),
                       f".bench-child-{kind}-{os.getpid()}.json")
    cmd, env = module_command("pairrm_reference.bench.bench_reference", "--child", kind, "--child-out", out, *argv)
    print(f"[{kind}] {' '.join(cmd)}", file=sys.stderr, flush=True)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env=env)
    with open(out) as f:
        r = json.load(f)
    os.unlink(out)
    r["child_wall_s"] = time.perf_counter() - t
    return r


def table(results, lengths):
    rows = []
    hdr = ["engine", "threads", "load s"] + [f"T={T} s" for T in lengths] + ["8x256 pairs/s", "peak RSS MB"]
    for r in results:
        row = [r["engine"], str(r["threads"]), f"{r['load_s']:.2f}"]
        row += [f"{r['latency'][str(T)]['median_s']:.3f}" if str(T) in r["latency"] else "-" for T in lengths]
        row += [f"{r['batch8x256']['pairs_per_s']:.2f}" if "batch8x256" in r else "-", f"{r['peak_rss_mb']:.0f}"]
        rows.append(row)
        if all("median_cpu_s" in r["latency"].get(str(T), {}) for T in lengths):
            rows.append(["  (process CPU s)", "", ""] +
                        [f"{r['latency'][str(T)]['median_cpu_s']:.3f}" for T in lengths] + ["", ""])
    w = [max(len(x[i]) for x in rows + [hdr]) for i in range(len(hdr))]
    line = lambda r: "  ".join(c.rjust(w[i]) if i else c.ljust(w[i]) for i, c in enumerate(r))
    return "\n".join([line(hdr), line(["-" * x for x in w])] + [line(r) for r in rows])


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True, help="full-size PairRM-hf layout directory")
    ap.add_argument("--threads", type=int, choices=[1, 2], required=True)
    ap.add_argument("--out", required=True, help="result JSON")
    ap.add_argument("--engines", default="torch,ort")
    ap.add_argument("--lengths", default="128,512,2048")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per length (median); default 3")
    ap.add_argument("--torch-runs-2048", type=int, default=1)
    ap.add_argument("--skip-batch", action="store_true")
    ap.add_argument("--onnx-dir", default=None)
    ap.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    ap.add_argument("--child-out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.lengths = [int(x) for x in args.lengths.split(",")]

    if args.child:
        r = CHILDREN[args.child](args)
        with open(args.child_out, "w") as f:
            json.dump(r, f)
        return

    # strip our own private flags before passing argv on
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    result = {"checkpoint": os.path.abspath(args.checkpoint), "threads": args.threads,
              "lengths": args.lengths, "batch": "8 pairs x 256 tokens", "cpu_count": os.cpu_count(),
              "started": time.strftime("%Y-%m-%d %H:%M:%S"), "engines": []}
    try:
        with open("/proc/cpuinfo") as f:
            result["cpu"] = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), None)
    except OSError:
        pass
    if "ort" in engines:
        result["onnx_export"] = spawn("export", args, argv)
    for e in engines:
        result["engines"].append(spawn(e, args, argv))
    result["table"] = table(result["engines"], args.lengths)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(result["table"])
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
