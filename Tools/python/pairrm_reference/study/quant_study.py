"""Fake-quantization study: which int8/int4 scheme keeps PairRM's order-averaged scores.

Runs llm-blender 0.0.2 DebertaV2PairRM (transformers 4.57.6, fp32 CPU) on the first N pairs of a
make_pairs.py JSONL, once in f32 and once per scheme with the six encoder Linear layers of every
layer replaced by fake-quantized ones (round half to even here; the converter rounds half away
from zero — the difference is negligible for a study). The position projections stay f32 (ours
precompute them from f32 weights), and LayerNorm-flagged outlier input channels are kept in f32
exactly as the converter's OutlierPlan does (5|gamma| + |beta| > 4 x median, at most 32).

A scheme is WEIGHTS+ACTIVATIONS, e.g. q8b32+q16tok:
  weights      f32 | q8row (per output row) | q8b32 / q4b32 / q4b16 / q5b32 / q6b32 (symmetric,
               per row per 32/16 inputs) | q4m32 (the converter's Q4_P16B32: signed block
               maximum -> level -8); BASE:SELECTOR=TYPE... overrides per matrix kind (q k v o f1
               f2, or att ffn all) and layer span (@A-B), e.g. q4m32:ffn@0-11=q8b32
  activations  f32 | q8tok / q12tok / q16tok (per token) | q8b32 (per token per 32 inputs)
A third part "+rows" keeps, in f32, the output rows of the attention-output and FFN-output
matrices that produce a following LayerNorm's outlier channels (whose large gains amplify any
error in those channels).
Prints sign agreement, Pearson and noise-to-signal ratio (mean squared error of s over the
variance of s; independent error sources add here) of s = (L(a,b) - L(b,a)) / 2 against f32.
With a fifth argument "trace" it also prints, per scheme, the relative error of the hidden
states after the embeddings and after each layer (||h_q - h||/||h|| over all positions and at
the three prefix positions, first 4 pairs) next to the signal the head sees: the relative
distance between the two candidates' prefix states in f32.

Results, 16 pairs of the --local-attention plain full-size checkpoint (make_full_checkpoints.sh),
bits per weight including f32 block scales, NSR = noise-to-signal of s:
  q8b32+q16tok (the q8 recipe)       9.0 bit  Pearson 0.9976  NSR 0.005
  q4m32+q8tok  (the q4 recipe)       5.0 bit  Pearson 0.425   NSR 1.49
  q4m32+q16tok                       5.0 bit  Pearson 0.460   NSR 1.61
  int4 attention, int8 FFN           7.7 bit  Pearson 0.811   NSR 0.48
  int8 attention, int4 FFN           6.3 bit  Pearson 0.556   NSR 1.02
  int4 only in layers 12-23 / 0-11   7.0 bit  Pearson 0.671 / 0.750  NSR 0.75 / 0.66
  q5b32+q16tok / q6b32+q16tok        6.0 / 7.0 bit  Pearson 0.805 / 0.890  NSR 0.55 / 0.22
On the outlier checkpoint (full-pairrm-hf-outliers): q4m32+q8tok Pearson 0.729 (NSR 0.75),
q6b32+q16tok 0.979 (NSR 0.058).
The int4 error is spread evenly over matrix kinds and layers (no small set to keep in int8), and
with "trace" the last layer's prefix states are off by 37% relative under q4 (2.5% under q8)
while the two candidates' prefix states differ by 33%: int4 noise is as large as the signal.
Usage (reference stack, see Tools/python/README.md):
  python -m pairrm_reference.study.quant_study CHECKPOINT PAIRS.jsonl N SCHEMES [trace], e.g.
  python -m pairrm_reference.study.quant_study scratch/ckpt/full-pairrm-hf \
      scratch/pairs-200.jsonl 16 q8b32+q16tok,q4m32+q16tok trace
"""
import json
import sys
import time

import numpy as np
import torch

from pairrm_reference.golden import common as gc


def q_sym(x, bits, block=None):
    """Symmetric round-to-nearest along the last dimension (optionally per block of it)."""
    qmax = 2 ** (bits - 1) - 1
    shape = x.shape
    if block:
        x = x.reshape(*shape[:-1], shape[-1] // block, block)
    s = x.abs().amax(-1, keepdim=True).clamp_min(1e-30) / qmax
    return (torch.round(x / s).clamp(-qmax, qmax) * s).reshape(shape)


def q4_signed_max(x, block=32):
    """The converter's Q4_P16B32 rounding: the block's signed extreme maps to level -8."""
    shape = x.shape
    x = x.reshape(*shape[:-1], shape[-1] // block, block)
    extreme = torch.gather(x, -1, x.abs().argmax(-1, keepdim=True))
    s = extreme / -8
    s = torch.where(s == 0, torch.ones_like(s), s)
    return (torch.round(x / s).clamp(-8, 7) * s).reshape(shape)


WEIGHTS = {"f32": lambda w: w, "q8row": lambda w: q_sym(w, 8), "q8b32": lambda w: q_sym(w, 8, 32),
           "q4b32": lambda w: q_sym(w, 4, 32), "q4b16": lambda w: q_sym(w, 4, 16),
           "q4m32": q4_signed_max, "q5b32": lambda w: q_sym(w, 5, 32), "q6b32": lambda w: q_sym(w, 6, 32)}
KINDS = ["q", "k", "v", "o", "f1", "f2"]
GROUPS = {"att": ["q", "k", "v", "o"], "ffn": ["f1", "f2"], "all": KINDS}


def weight_type(spec, kind, layer):
    """WEIGHTS part of a scheme: BASE[:SELECTOR=TYPE]..., later overrides win.

    SELECTOR is a matrix kind (q k v o f1 f2) or group (att ffn all), optionally restricted to
    layers with @A-B (inclusive), e.g. q4m32:o=q8b32:all@20-23=q8b32. The older FFN/ATT form
    ("q8b32/q4b32": FFN type / attention type) is still accepted.
    """
    if "/" in spec:
        return spec.split("/")[0 if kind in GROUPS["ffn"] else 1]
    base, *overrides = spec.split(":")
    chosen = base
    for override in overrides:
        selector, wtype = override.split("=")
        if "@" in selector:
            selector, span = selector.split("@")
            low, high = (int(v) for v in span.split("-"))
            if not low <= layer <= high:
                continue
        if kind in GROUPS.get(selector, [selector]):
            chosen = wtype
    return chosen
ACTIVATIONS = {"f32": lambda x: x, "q8tok": lambda x: q_sym(x, 8), "q12tok": lambda x: q_sym(x, 12),
               "q16tok": lambda x: q_sym(x, 16), "q8b32": lambda x: q_sym(x, 8, 32)}


def outlier_channels(gamma, beta):
    score = 5 * gamma.abs() + beta.abs()
    idx = torch.nonzero(score > 4 * score.median()).flatten()
    return idx[torch.argsort(score[idx], descending=True)[:32]] if len(idx) > 32 else idx


class FakeQuantLinear(torch.nn.Module):
    def __init__(self, linear, weights, activations, outliers, rel_ptr, keep_rows=()):
        super().__init__()
        self.bits = linear.weight.numel() * {"f32": 32, "q8row": 8, "q8b32": 9, "q4b32": 5, "q4b16": 6,
                                             "q4m32": 5, "q5b32": 6, "q6b32": 7}[weights]
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


def layer_trace(model, pairs, reference=None):
    """Hidden states per layer for the first 4 pairs; with a reference, prints relative errors."""
    states = [gc.forward_full(model, p["ids_ab"])[1:] for p in pairs[:4]]
    if reference is None:
        return states
    rows = []
    for (hs, _, _, pos), (ref, _, _, _) in zip(states, reference):
        rows.append([(float((h - r).norm() / r.norm()), float((h[0, pos] - r[0, pos]).norm() / r[0, pos].norm()))
                     for h, r in zip(hs, ref)])
    errors = np.array(rows).mean(axis=0)
    signal = np.mean([float((r[-1][0, pos[1]] - r[-1][0, pos[2]]).norm() / r[-1][0, pos[1]].norm())
                      for r, _, _, pos in reference])
    print("   layer: " + " ".join(f"{i:6d}" for i in range(len(errors))))
    print("   all:   " + " ".join(f"{e:6.3f}" for e in errors[:, 0]))
    print("   prefix:" + " ".join(f"{e:6.3f}" for e in errors[:, 1]))
    print(f"   signal: ||h_a - h_b|| / ||h_a|| at the last layer (f32) = {signal:.3f}", flush=True)


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    checkpoint, pairs_path, n, schemes = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(",")
    trace = len(sys.argv) == 6 and sys.argv[5] == "trace"
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
            slots.append((parent, name, getattr(parent, name), torch.as_tensor(outliers, dtype=torch.long), index, rows))

    def install(scheme):
        """Returns the weights' storage in bits per parameter (codes + f32 block scales)."""
        bits = params = 0
        for slot, (parent, name, linear, outliers, layer, rows) in enumerate(slots):
            if scheme is None:
                setattr(parent, name, linear)
                continue
            weights, activations, *extra = scheme.split("+")
            keep = rows if "rows" in extra else ()
            quantized = FakeQuantLinear(linear, weight_type(weights, KINDS[slot % 6], layer), activations,
                                        outliers, rel_ptr, keep)
            bits, params = bits + quantized.bits, params + linear.weight.numel()
            setattr(parent, name, quantized)
        return bits / max(params, 1)

    def scores():
        rows = []
        for p in pairs:
            ab, ba = gc.logit_only(model, p["ids_ab"]), gc.logit_only(model, p["ids_ba"])
            rows.append(((ab - ba) / 2, ab, ba))
        return np.array(rows)

    install(None)
    reference = scores()
    reference_states = layer_trace(model, pairs) if trace else None
    print(f"f32: mean |s| {np.abs(reference[:, 0]).mean():.4f}, std s {reference[:, 0].std():.4f}, "
          f"mean |L| {np.abs(reference[:, 1:]).mean():.4f}")
    for scheme in schemes:
        started = time.time()
        bits = install(scheme)
        got = scores()
        sign = np.mean(np.sign(got[:, 0]) == np.sign(reference[:, 0]))
        pearson = np.corrcoef(got[:, 0], reference[:, 0])[0, 1]
        # Noise-to-signal of s: independent error sources add here, unlike in Pearson.
        nsr = np.mean((got[:, 0] - reference[:, 0]) ** 2) / reference[:, 0].var()
        print(f"{scheme:18s} {bits:.2f} bit/w  sign {sign:.3f}  pearson {pearson:.4f}  nsr {nsr:.4f}  "
              f"mean |ds| {np.abs(got[:, 0] - reference[:, 0]).mean():.4f}  "
              f"mean |dL| {np.abs(got[:, 1:] - reference[:, 1:]).mean():.4f}  ({time.time() - started:.0f} s)", flush=True)
        if trace:
            layer_trace(model, pairs, reference_states)


if __name__ == "__main__":
    main()
