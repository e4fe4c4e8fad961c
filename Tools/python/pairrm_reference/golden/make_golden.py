"""Golden per-layer fixtures for the tiny PairRM checkpoints (reference stack, CPU).

For every pair (source, a, b) and BOTH orders (a, b) and (b, a) it records, from llm-blender
0.0.2 ``DebertaV2PairRM`` over transformers 4.57.6 ``DebertaV2Model``:

* ids (LB ``tokenize_pair``: Formats/pairrm-model.md §2.3, fast tokenizer of the checkpoint dir),
  the 3 prefix positions, T, segment lengths, the candidate cap;
* hidden states from the float32 run: after the embedding LayerNorm (``hidden_states[0]``)
  and after each encoder layer (``hidden_states[1..L]``), all T rows, [T, H] float32;
* the 3 prefix rows of the last layer ([3, H]: source, candidate1, candidate2);
* head scores z1, z2 and logit = z1 - z2 from the float32 run AND from a float64 run
  (same weights cast with ``.double()``), plus max |f32 - f64| per hidden-state array.

Outputs (Swift reads them without Python):
  <out-dir>/<name>.json  metadata + ids + logits + index of the binary
  <out-dir>/<name>.f32   little-endian float32, all arrays back to back (row-major)

Usage (reference stack, see Tools/python/README.md):
  python -m pairrm_reference.golden.make_golden            # both fixtures
  python -m pairrm_reference.golden.make_golden --only tiny
The outlier checkpoint Tests/Fixtures/checkpoints/tiny-outliers is created first if missing
(python -m pairrm_reference.make_checkpoint --size tiny --outliers --seed 3 --layout pairrm-hf).
Deterministic: torch runs with 1 thread; rerunning reproduces the bytes on the same machine.
"""

import argparse
import hashlib
import json
import os
import random
import re
import subprocess
import sys

import numpy as np
import torch

from pairrm_reference.golden import common as gc
from pairrm_reference.paths import FIXTURES, REPO, module_command

CKPTS = os.path.join(FIXTURES, "checkpoints")
OUT_DIR = os.path.join(FIXTURES, "golden")

WORDS = ("the a of to and in is that it for on with as was be by this are or from at an not have "
         "model answer question reward pair candidate source better worse response assistant user "
         "explain why because however therefore example number value table data result compare "
         "quickly carefully simple complex short long first second third final summary detail "
         "language translate code function variable return error bug fix test check run build "
         "weather river mountain city garden kitchen music story history science math proof "
         "apple orange bread coffee morning evening night friend family teacher student book").split()


def make_text(seed, n_words, newline_every=17):
    """Deterministic English-ish text (Python's random.Random is stable across versions)."""
    r = random.Random(seed)
    out = []
    for i in range(n_words):
        w = r.choice(WORDS)
        if i == 0 or out[-1].endswith((".", "?", "!", "\n")):
            w = w.capitalize()
        if r.random() < 0.08:
            w += r.choice([",", ".", "?", "!", ";", ":"])
        if r.random() < 0.03:
            w = str(r.randrange(0, 10000))
        out.append(w)
        if (i + 1) % newline_every == 0:
            out.append("\n")
    text = " ".join(out).replace(" \n ", "\n")
    return text.strip() + "."


UNICODE_SRC = ("Résumé: «ça va» — naïve café, Ωmega ≤ ∞; Straße ﬁne ① ＡＢＣ full-width.\n"
               "Штучний інтелект змінює спосіб нашої роботи. Η γλώσσα είναι ζωντανός.\n"
               "漢字かな交じり文、emoji 😀 and 🧬🦠 fused unknowns, tab\there, ▁ metaspace char, zero\u200bwidth.")
UNICODE_A = "Très bien, merci! Ñandú über ﬀ — ２０２４年 🙂"
UNICODE_B = "   Leading and trailing spaces,   runs   of spaces\n\nand newlines  "


def tiny_pairs(pt):
    """The pairs for the seed-1 tiny model. Long texts are sized for the tiny 1000-piece spm."""
    pairs = [
        ("hello", "hello!", "hi!", "f**k off!"),
        ("love", "I love you!", "I hate you!", "I love you, too!"),
        ("empty-ish", "?", "", "ok"),
        ("unicode", UNICODE_SRC, UNICODE_A, UNICODE_B),
        # T > 600: source ~700 tokens, untruncated candidates; |i-j| spans 0..T-1 > 512, so the
        # log buckets 129..255, the 511/512 edge and the clamp at rows 0/511 are all exercised
        ("long700", make_text(11, 290), make_text(12, 60), make_text(13, 80)),
        # odd source length below 1224, candidate 1 truncated at cap (2048 - Ls) // 2 (floor)
        ("cap-odd", make_text(21, 170), make_text(22, 400), make_text(23, 12)),
        # source truncated at 1224 and both candidates truncated at 412 -> T = 2048
        ("trunc-2048", make_text(31, 700), make_text(32, 260), make_text(33, 300)),
    ]
    # make cap-odd's source length odd so the floor in the cap formula matters
    name, s, a, b = pairs[5]
    for k in range(20):
        ids, _, info = pt.encode_pair(s, a, b)
        if info["segment_lengths"][0] % 2 == 1:
            break
        s = s + " x"
    pairs[5] = (name, s, a, b)
    return pairs


def outlier_pairs():
    return [
        ("hello", "hello!", "hi!", "f**k off!"),
        ("love", "I love you!", "I hate you!", "I love you, too!"),
        ("unicode-short", "Wie geht's? 漢字 😀", "Très bien, merci!", "Ça va 🧬🦠 bien"),
    ]


def f32(x):
    return float(np.float32(x))


def f32list(a):
    return [float(v) for v in np.asarray(a, dtype=np.float32).reshape(-1)]


class Blob:
    def __init__(self):
        self.parts = []
        self.n = 0

    def add(self, arr):
        a = np.ascontiguousarray(np.asarray(arr, dtype="<f4"))
        off = self.n
        self.parts.append(a.reshape(-1))
        self.n += a.size
        return {"offset": off, "shape": list(a.shape)}

    def bytes(self):
        return b"".join(p.tobytes() for p in self.parts)


def build(ckpt_dir, pairs, name, out_dir, description):
    torch.set_num_threads(1)
    pt = gc.PairTokenizer(ckpt_dir)
    with open(os.path.join(ckpt_dir, "config.json")) as f:
        cfg = json.load(f)
    m32 = gc.load_model(ckpt_dir, torch.float32)
    m64 = gc.load_model(ckpt_dir, torch.float64)
    blob = Blob()
    cases = []
    for pidx, (pname, src, a, b) in enumerate(pairs):
        for order, (c1, c2) in (("ab", (a, b)), ("ba", (b, a))):
            ids, pos, info = pt.encode_pair(src, c1, c2)
            T = len(ids)
            l32, hs32, z1_32, z2_32, pos32 = gc.forward_full(m32, ids)
            l64, hs64, z1_64, z2_64, pos64 = gc.forward_full(m64, ids)
            assert pos32 == pos == pos64
            names = ["embeddings"] + [f"layer{i}" for i in range(len(hs32) - 1)]
            hidden = []
            for nm, h32, h64 in zip(names, hs32, hs64):
                h = h32[0].numpy()
                assert h.shape == (T, cfg["hidden_size"]) and h.dtype == np.float32
                d = float(np.abs(h.astype(np.float64) - h64[0].numpy()).max())
                e = blob.add(h)
                e.update({"name": nm, "max_abs_diff_f32_vs_f64": d,
                          "max_abs": float(np.abs(h).max())})
                hidden.append(e)
            last = hs32[-1][0].numpy()
            pv = last[pos]
            pve = blob.add(pv)
            pve["rows"] = ["source", "candidate1", "candidate2"]
            src_len = pt.untruncated_len("<|source|>" + src) + 2
            c1_len = pt.untruncated_len("<|candidate1|>" + c1) + 2
            c2_len = pt.untruncated_len("<|candidate2|>" + c2) + 2
            cases.append({
                "name": f"{pname}/{order}",
                "pair": pname,
                "pair_index": pidx,
                "order": order,
                "source": src, "candidate1": c1, "candidate2": c2,
                "T": T,
                "ids": ids,
                "positions": pos,
                "segment_lengths": info["segment_lengths"],
                "untruncated_segment_lengths": [src_len, c1_len, c2_len],
                "candidate_cap": info["candidate_cap"],
                "truncated": [src_len > info["segment_lengths"][0], c1_len > info["segment_lengths"][1],
                              c2_len > info["segment_lengths"][2]],
                "logit_f32": l32, "logit_f64": l64,
                "head_f32": [z1_32, z2_32], "head_f64": [z1_64, z2_64],
                "hidden_states": hidden,
                "prefix_vectors": pve,
                "prefix_vectors_values": f32list(pv),
            })
            print(f"  {pname}/{order}: T={T} seg={info['segment_lengths']} cap={info['candidate_cap']} "
                  f"logit f32 {l32:+.7f} f64 {l64:+.9f} |d|={abs(l32 - l64):.1e} "
                  f"max|h32-h64|={max(h['max_abs_diff_f32_vs_f64'] for h in hidden):.1e}",
                  file=sys.stderr)
    data = blob.bytes()
    import transformers
    rel_ckpt = os.path.relpath(ckpt_dir, REPO)
    meta = {
        "format": "pairrm-golden/1",
        "description": description,
        "generator": "Tools/python/pairrm_reference/golden/make_golden.py",
        "checkpoint": rel_ckpt,
        "reference": {"transformers": transformers.__version__, "torch": torch.__version__,
                      "llm_blender": "0.0.2 (pair_ranker/pairrm.py DebertaV2PairRM)",
                      "device": "cpu", "threads": 1, "batch": 1, "padding": "none (attention_mask all 1)"},
        "config": {k: cfg[k] for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                       "intermediate_size", "position_buckets", "max_relative_positions",
                                       "layer_norm_eps", "source_prefix_id", "cand1_prefix_id", "cand2_prefix_id")},
        "tokenization": {"source_max": gc.SOURCE_MAX, "candidate_max": gc.CANDIDATE_MAX,
                         "candidate_cap": "(source_max + 2*candidate_max - len(source_ids)) // 2",
                         "layout": "[CLS] <|source|> src [SEP] [CLS] <|candidate1|> c1 [SEP] [CLS] <|candidate2|> c2 [SEP]"},
        "binary": {"file": name + ".f32", "dtype": "float32", "byte_order": "little",
                   "elements": blob.n, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                   "indexing": "array element [i, j] of shape [R, C] is float number offset + i*C + j "
                               "(offsets and shapes in elements, not bytes)"},
        "cases": cases,
    }
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, name + ".f32"), "wb") as f:
        f.write(data)
    text = json.dumps(meta, indent=1, ensure_ascii=False)

    def collapse(mt):
        one = re.sub(r"\s*\n\s*", " ", mt.group(0))
        return one.replace("[ ", "[").replace(" ]", "]").replace("{ ", "{").replace(" }", "}")
    text = re.sub(r"\[\n[^\[\]{}]*?\n\s*\]", collapse, text)   # flat lists on one line
    text = re.sub(r"\{\n[^{}\[\]]*?\n\s*\}", collapse, text)   # small flat objects on one line
    assert json.loads(text) == json.loads(json.dumps(meta))
    with open(os.path.join(out_dir, name + ".json"), "w", encoding="utf-8") as f:
        f.write(text + "\n")
    print(f"wrote {name}.json ({len(text.encode()):,d} B) and {name}.f32 ({len(data):,d} B, "
          f"{blob.n:,d} floats) in {out_dir}", file=sys.stderr)


def ensure_outlier_checkpoint(path):
    if os.path.isfile(os.path.join(path, "model.safetensors")):
        return
    cmd, env = module_command("pairrm_reference.make_checkpoint", "--size", "tiny", "--outliers",
                              "--seed", "3", "--layout", "pairrm-hf", "--out", path)
    print("creating", path, ":", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, env=env)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=["tiny", "outliers"], default=None)
    ap.add_argument("--out-dir", default=OUT_DIR)
    args = ap.parse_args(argv)
    if args.only in (None, "tiny"):
        ck = os.path.join(CKPTS, "tiny-pairrm-hf")
        build(ck, tiny_pairs(gc.PairTokenizer(ck)), "tiny-golden", args.out_dir,
              "Per-layer golden values of the seed-1 tiny PairRM (Tests/Fixtures/checkpoints/tiny-pairrm-hf). "
              "See Tools/python/pairrm_reference/golden/README.md.")
    if args.only in (None, "outliers"):
        ck = os.path.join(CKPTS, "tiny-outliers")
        ensure_outlier_checkpoint(ck)
        build(ck, outlier_pairs(), "tiny-outliers-golden", args.out_dir,
              "Per-layer golden values of the seed-3 tiny PairRM with outlier LayerNorm channels "
              "(Tests/Fixtures/checkpoints/tiny-outliers). See Tools/python/pairrm_reference/golden/README.md.")


if __name__ == "__main__":
    main()
