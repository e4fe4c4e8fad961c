"""Independent check of a golden fixture: re-reads <name>.json + <name>.f32 (no torch) and
recomputes every case with a float64 numpy implementation written from Formats/pairrm-model.md §3
(bucket formula §3.3, c(i,j) clamp, shared-key disentangled attention, post-LN, erf GELU,
head §3.6) straight from model.safetensors.  Prints per-case max |numpy - golden f32| for each
hidden-state array and |logit_numpy - logit_f64|.

Set GOLDEN_EXACT_SCALE=1 to use the exact sqrt(3d) instead of transformers' float32-rounded one.

Usage: python -m pairrm_reference.golden.check_golden [Tests/Fixtures/golden/tiny-golden.json ...]
(numpy + safetensors; no torch)
"""

import json
import math
import os
import sys

import numpy as np
from safetensors.numpy import load_file

from pairrm_reference.paths import REPO

F32_SCALE = os.environ.get("GOLDEN_EXACT_SCALE") is None


def bucket_table(max_d=2047, bucket_size=256, max_position=512):
    mid = bucket_size // 2
    x = np.arange(-max_d, max_d + 1)
    a = np.abs(x)
    # float32 like transformers (torch.log on float32); log(511/128) computed once in float32
    den = np.log(np.float32((max_position - 1) / mid))
    lp = np.ceil(np.log((np.maximum(a, mid) / mid).astype(np.float32)) / den * np.float32(mid - 1)) + mid
    b = np.where(a <= mid, x, np.sign(x) * lp).astype(np.int64)
    return b, max_d


def ln(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu_np(x):
    v = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + v(x / math.sqrt(2.0)))


def forward(W, cfg, ids, bt, max_d):
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    d = H // nh
    eps = cfg["layer_norm_eps"]
    g = lambda k: W[k].astype(np.float64)
    P = "pretrained_model."
    T = len(ids)
    X = ln(g(P + "embeddings.word_embeddings.weight")[ids], g(P + "embeddings.LayerNorm.weight"),
           g(P + "embeddings.LayerNorm.bias"), eps)
    outs = [X]
    R = ln(g(P + "encoder.rel_embeddings.weight"), g(P + "encoder.LayerNorm.weight"), g(P + "encoder.LayerNorm.bias"), eps)
    span = cfg["position_buckets"]
    i = np.arange(T)
    delta = bt[(i[:, None] - i[None, :]) + max_d]
    C = np.clip(delta + span, 0, 2 * span - 1)
    # transformers' scaled_size_sqrt builds the scale as a float32 tensor even when the model
    # runs in float64: sqrt(192) = 13.856406211853027 (f32) vs 13.856406460551018 (exact), a
    # 1.8e-8 relative change.  Using the float32 value makes this port agree with the torch
    # float64 run to ~1e-15; with the exact value the logits differ by ~1e-8.
    s = float(np.float32(math.sqrt(d * 3))) if F32_SCALE else math.sqrt(d * 3)
    for l in range(cfg["num_hidden_layers"]):
        p = f"{P}encoder.layer.{l}."
        lin = lambda x, n: x @ g(p + n + ".weight").T + g(p + n + ".bias")
        Q, K, V = lin(X, "attention.self.query_proj"), lin(X, "attention.self.key_proj"), lin(X, "attention.self.value_proj")
        PQ, PK = lin(R, "attention.self.query_proj"), lin(R, "attention.self.key_proj")
        ctx = np.zeros_like(X)
        for h in range(nh):
            sl = slice(h * d, (h + 1) * d)
            q, k, v = Q[:, sl], K[:, sl], V[:, sl]
            c2p = q @ PK[:, sl].T               # [T, 2span]
            p2c = k @ PQ[:, sl].T               # [T, 2span]
            sc = q @ k.T / s + np.take_along_axis(c2p, C, 1) / s + np.take_along_axis(p2c, C.T, 1).T / s
            sc = sc - sc.max(-1, keepdims=True)
            pr = np.exp(sc)
            pr /= pr.sum(-1, keepdims=True)
            ctx[:, sl] = pr @ v
        A = ln(lin(ctx, "attention.output.dense") + X, g(p + "attention.output.LayerNorm.weight"),
               g(p + "attention.output.LayerNorm.bias"), eps)
        F = lin(gelu_np(lin(A, "intermediate.dense")), "output.dense")
        X = ln(F + A, g(p + "output.LayerNorm.weight"), g(p + "output.LayerNorm.bias"), eps)
        outs.append(X)
    return outs


def head(W, hs, hc):
    g = lambda k: W[k].astype(np.float64)
    z = np.tanh(g("head_layer.1.weight") @ np.concatenate([hs, hc]) + g("head_layer.1.bias"))
    return float((g("head_layer.4.weight") @ z + g("head_layer.4.bias"))[0])


def check(path):
    with open(path, encoding="utf-8") as f:
        meta = json.load(f)
    blob = np.fromfile(os.path.join(os.path.dirname(path), meta["binary"]["file"]), dtype="<f4")
    assert blob.size == meta["binary"]["elements"]
    ck = os.path.join(REPO, meta["checkpoint"])
    W = load_file(os.path.join(ck, "model.safetensors"))
    cfg = meta["config"]
    bt, max_d = bucket_table()
    worst = 0.0
    for c in meta["cases"]:
        outs = forward(W, cfg, c["ids"], bt, max_d)
        diffs = []
        for e, o in zip(c["hidden_states"], outs):
            n = int(np.prod(e["shape"]))
            a = blob[e["offset"]: e["offset"] + n].reshape(e["shape"]).astype(np.float64)
            diffs.append(float(np.abs(a - o).max()))
        pv = c["prefix_vectors"]
        a = blob[pv["offset"]: pv["offset"] + int(np.prod(pv["shape"]))].reshape(pv["shape"])
        assert np.array_equal(a, np.array(c["prefix_vectors_values"], dtype=np.float32).reshape(pv["shape"]))
        last = outs[-1]
        p0, p1, p2 = c["positions"]
        logit = head(W, last[p0], last[p1]) - head(W, last[p0], last[p2])
        dl = abs(logit - c["logit_f64"])
        worst = max(worst, dl)
        print(f"  {c['name']:18s} T={c['T']:5d} max|np64 - golden f32| per array "
              f"{['%.1e' % x for x in diffs]}  |logit np64 - torch f64| = {dl:.1e}")
    print(f"{os.path.basename(path)}: worst logit diff vs torch float64 {worst:.2e}")


if __name__ == "__main__":
    paths = sys.argv[1:] or [os.path.join(REPO, "Tests", "Fixtures", "golden", n)
                             for n in ("tiny-golden.json", "tiny-outliers-golden.json")]
    for p in paths:
        check(p)
