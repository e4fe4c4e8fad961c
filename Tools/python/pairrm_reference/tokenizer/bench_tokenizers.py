"""Single-thread tokenizer throughput: sentencepiece, HF tokenizers and PairRM-Swift, one run.

Usage (reference venv: transformers 4.57.6, tokenizers 0.22.2, sentencepiece 0.2.3):
  swift build -c release --product pairrm
  python -m pairrm_reference.tokenizer.bench_tokenizers \
      --model /path/to/pairrm-q8.prm [--corpus ../shared/vocab/bench-corpus.txt] \
      [--spm ../shared/vocab/deberta-v3-spm.model] [--pairrm .build/release/pairrm] [--passes 3] [--json out.json]
(corpus and spm default to $PAIRRM_SHARED_VOCAB, else ../shared/vocab beside the repository)

Each figure is the best of --passes passes over the corpus (one paragraph per line, each
encoded separately, no [CLS]/[SEP]). The HF rows use a fresh Rust tokenizer per pass (cold
per-word cache). Ours comes from `pairrm tokenize --benchmark` (best of the same number of passes,
load = Tokenizer construction from the mapped .prm vocabulary, best of 5).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

from pairrm_reference.paths import REPO, SHARED_VOCAB

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("RAYON_NUM_THREADS", "1")

PAIRRM_TOKENS = ["<|source|>", "<|candidate1|>", "<|candidate2|>", "<|candidate|>"]


def best_of(passes, fn):
    best, result = float("inf"), None
    for _ in range(passes):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.environ.get("PAIRRM_MODEL"), help=".prm file for ours (default $PAIRRM_MODEL)")
    ap.add_argument("--corpus", default=os.path.join(SHARED_VOCAB, "bench-corpus.txt"))
    ap.add_argument("--spm", default=os.path.join(SHARED_VOCAB, "deberta-v3-spm.model"))
    ap.add_argument("--pairrm", default=os.path.join(REPO, ".build", "release", "pairrm"))
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--json", help="also write the raw numbers here")
    args = ap.parse_args()
    if not args.model:
        ap.error("--model (or PAIRRM_MODEL) is required")

    with open(args.corpus, encoding="utf-8") as f:
        paragraphs = f.read().split("\n")
    if paragraphs and paragraphs[-1] == "":
        paragraphs.pop()
    nbytes = sum(len(p.encode("utf-8")) for p in paragraphs)
    rows = []  # (name, tokens, seconds)

    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=args.spm)
    t, ids = best_of(args.passes, lambda: sp.encode(paragraphs, num_threads=1))
    rows.append(("sentencepiece `encode(list, num_threads=1)`", sum(map(len, ids)), t))
    t, n = best_of(args.passes, lambda: sum(len(sp.encode(p)) for p in paragraphs))
    rows.append(("sentencepiece `encode(paragraph)` loop", n, t))

    import transformers
    import tokenizers
    from transformers import DebertaV2TokenizerFast
    fast = DebertaV2TokenizerFast(vocab_file=args.spm)
    fast.add_tokens(PAIRRM_TOKENS)
    serialized = fast.backend_tokenizer.to_str()

    def hf_cold():
        tok = tokenizers.Tokenizer.from_str(serialized)   # fresh = cold per-word cache
        return sum(len(e.ids) for e in tok.encode_batch(paragraphs, add_special_tokens=False))

    t, n = best_of(args.passes, hf_cold)
    rows.append(("HF tokenizers `encode_batch`, fresh tokenizer (cold cache)", n, t))

    out = subprocess.run([args.pairrm, "tokenize", "--model", args.model, "--benchmark", args.corpus,
                          "--passes", str(args.passes)], check=True, capture_output=True, text=True)
    ours = json.loads(out.stdout)
    rows.insert(0, ("**PairRM-Swift, pairrm mode** (= HF fast ids)", ours["pairrm"]["tokens"], ours["pairrm"]["seconds"]))
    rows.insert(1, ("**PairRM-Swift, sentencepiece mode** (= sentencepiece ids)",
                    ours["sentencepiece"]["tokens"], ours["sentencepiece"]["seconds"]))

    ref_pairrm = ours["pairrm"]["tokens"] / ours["pairrm"]["seconds"]
    ref_spm = ours["sentencepiece"]["tokens"] / ours["sentencepiece"]["seconds"]
    print(f"corpus {os.path.basename(args.corpus)}: {len(paragraphs)} paragraphs, {nbytes:,} bytes; single thread, best of {args.passes}; "
          f"{platform.machine()}, {os.cpu_count()} CPUs; sentencepiece {spm.__version__}, tokenizers {tokenizers.__version__}, "
          f"transformers {transformers.__version__}")
    print(f"PairRM-Swift tokenizer load (128k pieces, from the mapped .prm): {ours['load_ms']:.1f} ms "
          f"(median of 5: {ours['load_ms_median']:.1f} ms)\n")
    print("| Tokenizer, single thread | tokens | tokens/s | MB/s | ours pairrm mode is × | ours sentencepiece mode is × |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, n, t in rows:
        tps = n / t
        print(f"| {name} | {n:,} | {tps / 1e6:.2f} M | {nbytes / t / 1e6:.1f} | {ref_pairrm / tps:.2f} | {ref_spm / tps:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"bytes": nbytes, "paragraphs": len(paragraphs), "rows": [
                {"name": name, "tokens": n, "seconds": t} for name, n, t in rows], "ours": ours}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
