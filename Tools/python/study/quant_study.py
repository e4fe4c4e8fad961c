#!/usr/bin/env python3
"""Fake-quantization study: which int8/int4 scheme keeps PairRM's order-averaged scores.

Runs llm-blender 0.0.2 DebertaV2PairRM (transformers 4.57.6, fp32 CPU) on the first N pairs of a
make_pairs.py JSONL, once in f32 and once per scheme with the six encoder Linear layers of every
layer replaced by fake-quantized ones (round half to even here; the converter rounds half away
from zero — the difference is negligible for a study). The position projections stay f32 (ours
precompute them from f32 weights), and LayerNorm-flagged outlier input channels are kept in f32
exactly as the converter's OutlierPlan does (5|gamma| + |beta| > 4 x median, at most 32).

A scheme is WEIGHTS+ACTIVATIONS, e.g. q8b32+q16tok:
  weights      f32 | q8row (per output row) | q8b32 / q4b32 / q4b16 (per row per 32/16 inputs)
               FFN/ATT to give the FFN matrices and the attention matrices different types
  activations  f32 | q8tok / q12tok / q16tok (per token) | q8b32 (per token per 32 inputs)
A third part "+rows" keeps, in f32, the output rows of the attention-output and FFN-output
matrices that produce a following LayerNorm's outlier channels (whose large gains amplify any
error in those channels).
Prints sign agreement and Pearson of s = (L(a,b) - L(b,a)) / 2 against f32.

The choice of the q8 recipe (Q8_P16B32 weights x int16 activations, Formats/prm-v1.md §6.4) came
from this study on 16 pairs of the --local-attention full-size checkpoint:
  /work/venv-ref/bin/python Tools/python/study/quant_study.py /work/scratch/ckpt/full-pairrm-hf \
      /work/scratch/pairs-200.jsonl 16 q8row+q8tok,q8row+f32,q8row+q12tok,q8b32+q12tok,q8b32+q8b32
"""
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
import golden_common as gc  # noqa: E402


def q_sym(x, bits, block=None):
    """Symmetric round-to-nearest along the last dimension (optionally per block of it)."""
    qmax = 2 ** (bits - 1) - 1
    shape = x.shape
    if block:
        x = x.reshape(*shape[:-1], shape[-1] // block, block)
    s = x.abs().amax(-1, keepdim=True).clamp_min(1e-30) / qmax
    return (torch.round(x / s).clamp(-qmax, qmax) * s).reshape(shape)


WEIGHTS = {"f32": lambda w: w, "q8row": lambda w: q_sym(w, 8), "q8b32": lambda w: q_sym(w, 8, 32),
           "q4b32": lambda w: q_sym(w, 4, 32), "q4b16": lambda w: q_sym(w, 4, 16)}
ACTIVATIONS = {"f32": lambda x: x, "q8tok": lambda x: q_sym(x, 8), "q12tok": lambda x: q_sym(x, 12),
               "q16tok": lambda x: q_sym(x, 16), "q8b32": lambda x: q_sym(x, 8, 32)}


def outlier_channels(gamma, beta):
    score = 5 * gamma.abs() + beta.abs()
    idx = torch.nonzero(score > 4 * score.median()).flatten()
    return idx[torch.argsort(score[idx], descending=True)[:32]] if len(idx) > 32 else idx


class FakeQuantLinear(torch.nn.Module):
    def __init__(self, linear, weights, activations, outliers, rel_ptr, keep_rows=()):
        super().__init__()
        self.linear, self.activations, self.outliers, self.rel_ptr = linear, activations, outliers, rel_ptr
        w = linear.weight.data.clone()
        self.w_full = linear.weight.data
        if len(outliers):
            w[:, outliers] = 0
        self.wq = WEIGHTS[weights](w)
        if len(keep_rows):
            self.wq[keep_rows] = linear.weight.data[keep_rows]

    def forward(self, x):
        if x.data_ptr() == self.rel_ptr:  # position projections: precomputed from f32 weights
            return self.linear(x)
        masked = x
        if len(self.outliers):
            masked = x.clone()
            masked[..., self.outliers] = 0
        y = torch.nn.functional.linear(ACTIVATIONS[self.activations](masked), self.wq, self.linear.bias)
        if len(self.outliers):
            y = y + x[..., self.outliers] @ self.w_full[:, self.outliers].t()
        return y


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    checkpoint, pairs_path, n, schemes = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(",")
    model = gc.load_model(checkpoint, torch.float32)
    pairs = [json.loads(line) for line in open(pairs_path)][:n]
    encoder = model.pretrained_model.encoder
    rel_ptr = encoder.get_rel_embedding().data_ptr()
    slots = []
    for index, layer in enumerate(encoder.layer):
        previous = model.pretrained_model.embeddings.LayerNorm if index == 0 else encoder.layer[index - 1].output.LayerNorm
        attention_in = outlier_channels(previous.weight.data, previous.bias.data)
        ffn_in = outlier_channels(layer.attention.output.LayerNorm.weight.data, layer.attention.output.LayerNorm.bias.data)
        layer_out = outlier_channels(layer.output.LayerNorm.weight.data, layer.output.LayerNorm.bias.data)
        none = torch.zeros(0, dtype=torch.long)
        sa = layer.attention.self
        for parent, name, outliers, ffn, rows in [
                (sa, "query_proj", attention_in, False, none), (sa, "key_proj", attention_in, False, none),
                (sa, "value_proj", attention_in, False, none), (layer.attention.output, "dense", none, False, ffn_in),
                (layer.intermediate, "dense", ffn_in, True, none), (layer.output, "dense", none, True, layer_out)]:
            slots.append((parent, name, getattr(parent, name), torch.as_tensor(outliers, dtype=torch.long), ffn, rows))

    def install(scheme):
        for parent, name, linear, outliers, ffn, rows in slots:
            if scheme is None:
                setattr(parent, name, linear)
                continue
            weights, activations, *extra = scheme.split("+")
            if "/" in weights:
                weights = weights.split("/")[0 if ffn else 1]
            keep = rows if "rows" in extra else ()
            setattr(parent, name, FakeQuantLinear(linear, weights, activations, outliers, rel_ptr, keep))

    def scores():
        rows = []
        for p in pairs:
            ab, ba = gc.logit_only(model, p["ids_ab"]), gc.logit_only(model, p["ids_ba"])
            rows.append(((ab - ba) / 2, ab, ba))
        return np.array(rows)

    install(None)
    reference = scores()
    print(f"f32: mean |s| {np.abs(reference[:, 0]).mean():.4f}, std s {reference[:, 0].std():.4f}, "
          f"mean |L| {np.abs(reference[:, 1:]).mean():.4f}")
    for scheme in schemes:
        started = time.time()
        install(scheme)
        got = scores()
        sign = np.mean(np.sign(got[:, 0]) == np.sign(reference[:, 0]))
        pearson = np.corrcoef(got[:, 0], reference[:, 0])[0, 1]
        print(f"{scheme:18s} sign {sign:.3f}  pearson {pearson:.4f}  mean |ds| {np.abs(got[:, 0] - reference[:, 0]).mean():.4f}  "
              f"mean |dL| {np.abs(got[:, 1:] - reference[:, 1:]).mean():.4f}  ({time.time() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
