"""Write a random-weight PairRM checkpoint laid out exactly like the Hugging Face repos.

Two published layouts (Formats/pairrm-model.md §1.1):

* ``--layout pairrm-hf`` = ``llm-blender/PairRM-hf``::

      added_tokens.json  config.json  model.safetensors  special_tokens_map.json
      spm.model  tokenizer.json  tokenizer_config.json

  ``config.json`` is the ``DebertaV2Config`` + PairRM extras of §1.3, written the way
  transformers 4.35.2 ``save_pretrained`` wrote the published file (``json.dumps(indent=2,
  sort_keys=True) + "\\n"``, ``"torch_dtype"``, ``"transformers_version": "4.35.2"``, no
  ``_name_or_path``; for the full size this reproduces the published 967-byte file; the
  script asserts that length).  transformers >= 4.56 would instead write ``"dtype"`` and
  ``"legacy": true``; we deliberately mimic the published file, not the installed library.

* ``--layout pairrm`` = ``llm-blender/PairRM`` (what ``Blender.loadranker`` reads): the same
  tokenizer files and ``model.safetensors``, but ``config.json`` is the LLM-Blender
  *RankerConfig* of §1.2 (``json.dumps(indent=4)``, no trailing newline: the published
  508-byte file) and ``ranker_config.json`` is a byte-identical copy.

  NOTE on the ``pairrm`` layout: the real ``llm-blender/PairRM`` repo carries no backbone
  hyper-parameters at all -- only ``model_name: "microsoft/deberta-v3-large"``; LLM-Blender
  fetches that model's config from the hub.  A converter must therefore assume the
  deberta-v3-large hyper-parameters (Formats/pairrm-model.md §1.3) and infer/verify the sizes from the
  tensor shapes: hidden = word_embeddings.shape[1], vocab = word_embeddings.shape[0],
  layers = 1 + max layer index, intermediate = intermediate.dense.weight.shape[0],
  position_buckets = rel_embeddings.shape[0] / 2, n_tasks = head_layer.4.weight.shape[0].
  The number of attention heads is NOT visible in any shape (deberta-v3-large: 16 heads of 64).
  The tiny checkpoints in this layout deliberately add nothing non-published (the
  RankerConfig still names deberta-v3-large), so they hold a 32-wide, 2-layer, **4-head**
  model that only the tensor shapes describe; its weights are identical to the tiny
  pairrm-hf checkpoint of the same seed, whose config.json has num_attention_heads 4.

Files not written: ``README.md``, ``.gitattributes``, ``training_args.bin`` (irrelevant to
inference), the old ``config.bin``, and no manifest of our own: the directory must look like
the hub repo.  A summary is printed instead.

Sizes (``--size``):

* ``full``: the real PairRM-hf hyper-parameters (hidden 1024, 24 layers, 16 heads,
  intermediate 4096, vocab 128005, position_buckets 256, max_relative_positions -1, ...) and the
  real DeBERTa-v3 ``spm.model`` -> 394 tensors, 436,014,081 parameters, 1.74 GB in f32.
* ``tiny``: the same config keys with hidden 32, 2 layers, 4 heads, intermediate 64,
  position_buckets 256, max_relative_positions -1 (rel_embeddings [512, 32]) and the tiny
  1000-piece SentencePiece model from make_tiny_spm.py -> vocab 1005 ([MASK]=1000,
  <|source|>=1001, <|candidate1|>=1002, <|candidate2|>=1003, <|candidate|>=1004), 42 tensors.

Tokenizer files are produced by transformers 4.57.6 ``DebertaV2TokenizerFast(vocab_file=spm)``
+ ``add_tokens(["<|source|>", "<|candidate1|>", "<|candidate2|>", "<|candidate|>"])`` +
``save_pretrained``; ``added_tokens.json`` is checked against Formats/pairrm-model.md §1.4.

Weights: the module tree is built (on the meta device, no memory) from the real
``DebertaV2PairRM`` class of llm-blender 0.0.2 (``llm_blender/pair_ranker/pairrm.py``, loaded
by file path because importing the ``llm_blender`` package pulls in dependencies we do not
install) so the tensor names come from the real module tree; they are asserted against the
list of Formats/pairrm-model.md §1.6.  Every tensor is then drawn independently from
``numpy.random.default_rng([seed, crc32(name)])`` (PCG64, float32 standard normals), so a
tensor's values depend only on the seed, its name and its shape:

    word_embeddings.weight, rel_embeddings.weight   N(0, 0.05)
    *.LayerNorm.weight                              1 + N(0, 0.1)
    *.LayerNorm.bias                                N(0, 0.1)
    Linear weight [out, in]                         N(0, (g / sqrt(in))^2) with
        g = 1.6 query_proj/key_proj; 0.65 value_proj, attention.output.dense;
            1.0 intermediate.dense, head_layer.1, head_layer.4; 1.3 output.dense
        (full size: std 0.050 q/k, 0.0203 v/o, 0.0313 intermediate, 0.0203 output,
        0.0221 head_layer.1, 0.0313 head_layer.4 -- all within 0.02..0.05; attention is
        kept peaked and its residual share small so 24 random layers do not collapse all
        token states onto one vector, which would make every logit ~0)
    Linear bias                                     N(0, 0.05)

Biases and LayerNorm parameters are deliberately non-trivial (a default init leaves them
0/1 and would hide a dropped bias).  Row 0 of the word embeddings is random too.

``--outliers`` (off by default) then overwrites, in EVERY LayerNorm of the model
(embeddings.LayerNorm, each layer's attention.output.LayerNorm and output.LayerNorm, and the
rel-embedding encoder.LayerNorm), the same 4 hidden channels
``C = sorted(default_rng([seed, crc32("outliers")]).choice(hidden, 4, replace=False))``
with signs ``s = default_rng([seed, crc32("outlier-signs")]).choice([-1, 1], 4)``:
``weight[C[k]] = 20 + z1``, ``bias[C[k]] = 5 * s[k] + 0.5 * z2`` where ``z1, z2`` are the
next draws of that tensor's own generator after its base values (``z1 = rng.standard_normal(4)``
for the weight tensor, ``z2 = rng.standard_normal(4)`` for the bias tensor).  The chosen
channels are printed.

``--local-attention`` (off by default; the full-size benchmark checkpoints use it) makes the
random model behave like a ranker whose candidate states depend on the candidate: without it
every position attends almost uniformly to everything, so h_a and h_b see the same tokens and
the order-averaged score s = (L(a,b) - L(b,a)) / 2 is nearly zero (|s| ~ 0.05 on head outputs
of O(1)), which makes any quantization noise look like a verdict flip.  With it, per head
(dimension 0 of each 64-wide head, unit direction ``w`` from
``default_rng([seed, crc32("local-attention")])``, mean removed):
``key_proj.bias[head*64] += 6``; ``query_proj.weight[head*64, :] += 1.33 w``;
``rel_embeddings.weight[r] += 0.05 * (-10 * min(|r - 256|, 128) / 128) * w``.  The
position-to-content term k_j . PQ[r] then carries about -80 * min(|i - j|, 128) / 128 (before
the 1/sqrt(192) scale): attention decays with distance, like a trained encoder's local heads.

``--fragile`` (off by default; implies ``--outliers``) makes a model whose scores are sensitive
to rounding, so that half-precision and quantized engines can be compared where their errors
move verdicts.  Same draws ``z``, scaled differently: ``*.LayerNorm.weight = 1 + 0.3 z``,
``*.LayerNorm.bias = 0.2 z``, and every encoder-layer Linear weight (query/key/value_proj,
attention.output.dense, intermediate.dense, output.dense) ``0.05 z`` whatever its fan-in (full
size: q/k unchanged, value_proj, attention.output.dense and output.dense 2.5x, intermediate.dense
1.6x); then the outlier channels as for ``--outliers``.  Embeddings, head_layer and Linear
biases keep their normal draws.  Meant for ``--size full`` (at the tiny size, fan-in 32, 0.05
is smaller than the normal stds).  The weight std causes most of the sensitivity, the LayerNorm
spread adds to it: PyTorch bf16 vs f32, Pearson of s on 40 pairs (T <= 250) of seed 3 with
``--local-attention``: 0.88 with the normal LayerNorm draws, 0.77 with these, 0.69 with
N(1, 0.5) / N(0, 0.3), which made fp16 (0.90 on 16 pairs) more fragile than issue 11 asks
(fp16 ~0.96, bf16 ~0.76).  Measured on ``full-pairrm-hf-fragile`` (make_full_checkpoints.sh),
first pairs of make_pairs.py, fidelity_table.py: sign agreement / Pearson of s vs f32: bf16
0.800 / 0.748 (85 pairs), fp16 0.889 / 0.947 (45 pairs); f64 1.000 / 1.0000 with max |Δlogit|
9.2e-4 (one pair; the next largest 4.6e-4, median 6e-5).

``--dtype f16|bf16`` casts the float32 draws with torch (round-to-nearest-even);
``config.json`` then says ``torch_dtype`` float16 / bfloat16 (as HF would write for a half
model).  ``--format bin`` writes ``pytorch_model.bin`` with ``torch.save(OrderedDict state
dict)`` (default zip serialization) instead of ``model.safetensors``, as a fine-tuned model
saved with ``safe_serialization=False`` would have.  safetensors files are written with the
``safetensors`` library and metadata ``{"format": "pt"}`` like HF.

``--link-from DIR`` writes only the config file(s) of the requested layout and symlinks
every other file (weights + tokenizer files) from an existing checkpoint DIR (used for the
big ``full-pairrm`` benchmark directory).

Environment: the reference stack (``pip install -e 'Tools/python[fixtures]'`` plus
``pip install --no-deps llm-blender==0.0.2``, see Tools/python/README.md), e.g.

    python -m pairrm_reference.make_checkpoint --size tiny --layout pairrm-hf \
        --seed 1 --out scratch/tiny
"""

import argparse
import collections
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
import zlib

import numpy as np
import torch

from pairrm_reference.paths import FIXTURES, SHARED_VOCAB

DEFAULT_FULL_SPM = os.path.join(SHARED_VOCAB, "deberta-v3-spm.model")
DEFAULT_TINY_SPM = os.path.join(FIXTURES, "tiny-spm", "spm.model")

PREFIX_TOKENS = ["<|source|>", "<|candidate1|>", "<|candidate2|>", "<|candidate|>"]
TOKENIZER_FILES = ["added_tokens.json", "special_tokens_map.json", "spm.model",
                   "tokenizer.json", "tokenizer_config.json"]
WEIGHT_FILES = {"safetensors": "model.safetensors", "bin": "pytorch_model.bin"}
KNOWN_FILES = set(TOKENIZER_FILES) | set(WEIGHT_FILES.values()) | {"config.json", "ranker_config.json"}

SIZES = {
    # backbone hyper-parameters; everything else in config.json is shared (see hf_config)
    "full": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096),
    "tiny": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64),
}
TORCH_DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}
DTYPE_NAMES = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}

# llm-blender/PairRM config.json == ranker_config.json (Formats/pairrm-model.md §1.2), key order as
# written by dataclasses_json (field order of RankerConfig, minus "device").
RANKER_CONFIG = collections.OrderedDict([
    ("ranker_type", "pairranker"),
    ("model_type", "deberta"),
    ("model_name", "microsoft/deberta-v3-large"),
    ("cache_dir", "./hf_models/deberta-v3-large/"),
    ("load_checkpoint", None),
    ("source_maxlength", 1224),
    ("candidate_maxlength", 412),
    ("n_tasks", 1),
    ("num_pos", 5),
    ("num_neg", 5),
    ("sub_sampling_mode", "all_pair"),
    ("sub_sampling_ratio", 0.4),
    ("loss_type", "instructgpt"),
    ("reduce_type", "linear"),
    ("inference_mode", "bubble"),
    ("drop_out", 0.05),
    ("fp16", True),
])
RANKER_CONFIG_BYTES = json.dumps(RANKER_CONFIG, indent=4).encode()  # 508 bytes, no newline
assert len(RANKER_CONFIG_BYTES) == 508


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- config

def hf_config(size, vocab_size, prefix_ids, dtype):
    """config.json of llm-blender/PairRM-hf (Formats/pairrm-model.md §1.3), keys as 4.35.2 saved them."""
    s = SIZES[size]
    return {
        "architectures": ["DebertaV2PairRM"],
        "attention_probs_dropout_prob": 0.1,
        "cand1_prefix_id": prefix_ids[1],
        "cand2_prefix_id": prefix_ids[2],
        "cand_prefix_id": prefix_ids[3],
        "drop_out": 0.05,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": s["hidden_size"],
        "initializer_range": 0.02,
        "intermediate_size": s["intermediate_size"],
        "layer_norm_eps": 1e-07,
        "max_position_embeddings": 512,
        "max_relative_positions": -1,
        "model_type": "deberta-v2",
        "n_tasks": 1,
        "norm_rel_ebd": "layer_norm",
        "num_attention_heads": s["num_attention_heads"],
        "num_hidden_layers": s["num_hidden_layers"],
        "pad_token_id": 0,
        "pooler_dropout": 0,
        "pooler_hidden_act": "gelu",
        "pooler_hidden_size": s["hidden_size"],
        "pos_att_type": ["p2c", "c2p"],
        "position_biased_input": False,
        "position_buckets": 256,
        "relative_attention": True,
        "share_att_key": True,
        "source_prefix_id": prefix_ids[0],
        "torch_dtype": DTYPE_NAMES[dtype],
        "transformers_version": "4.35.2",
        "type_vocab_size": 0,
        "vocab_size": vocab_size,
    }


def hf_config_bytes(cfg):
    return (json.dumps(cfg, indent=2, sort_keys=True) + "\n").encode()


def deberta_config(cfg):
    """A transformers DebertaV2Config (with the PairRM extras) equal to the hf_config dict."""
    from transformers import DebertaV2Config
    d = dict(cfg)
    for k in ("architectures", "model_type", "torch_dtype", "transformers_version"):
        d.pop(k)
    d["pos_att_type"] = "|".join(d["pos_att_type"])  # as deberta-v3-large's config says
    c = DebertaV2Config(**d)
    assert c.pos_att_type == ["p2c", "c2p"]
    return c


# ----------------------------------------------------------------------------- module / names

def load_pairrm_class():
    """DebertaV2PairRM from llm-blender 0.0.2, loaded by file path.

    ``import llm_blender`` executes the package __init__, which imports the Blender/fuser stack
    and third-party packages (dataclasses_json, ...) we do not install; pairrm.py itself only
    imports torch and transformers, so we load that one file directly.
    """
    spec = importlib.util.find_spec("llm_blender")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("error: llm-blender is not installed (pip install --no-deps llm-blender==0.0.2)")
    path = os.path.join(list(spec.submodule_search_locations)[0], "pair_ranker", "pairrm.py")
    mspec = importlib.util.spec_from_file_location("llm_blender_pair_ranker_pairrm", path)
    mod = importlib.util.module_from_spec(mspec)
    mspec.loader.exec_module(mod)
    return mod.DebertaV2PairRM


def expected_names(num_layers):
    """The tensor list of Formats/pairrm-model.md §1.6, in module order."""
    e = "pretrained_model.embeddings."
    names = [e + "word_embeddings.weight", e + "LayerNorm.weight", e + "LayerNorm.bias"]
    for i in range(num_layers):
        p = f"pretrained_model.encoder.layer.{i}."
        for sub in ("attention.self.query_proj", "attention.self.key_proj", "attention.self.value_proj",
                    "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense",
                    "output.dense", "output.LayerNorm"):
            names += [p + sub + ".weight", p + sub + ".bias"]
    names += ["pretrained_model.encoder.rel_embeddings.weight",
              "pretrained_model.encoder.LayerNorm.weight", "pretrained_model.encoder.LayerNorm.bias",
              "head_layer.1.weight", "head_layer.1.bias", "head_layer.4.weight", "head_layer.4.bias"]
    return names


def expected_shapes(cfg):
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    shapes = {}
    for n in expected_names(cfg["num_hidden_layers"]):
        if n.endswith("word_embeddings.weight"):
            s = (V, H)
        elif n.endswith("rel_embeddings.weight"):
            s = (2 * cfg["position_buckets"], H)
        elif n == "head_layer.1.weight":
            s = (H, 2 * H)
        elif n == "head_layer.4.weight":
            s = (cfg["n_tasks"], H)
        elif n == "head_layer.4.bias":
            s = (cfg["n_tasks"],)
        elif n.endswith("intermediate.dense.weight"):
            s = (I, H)
        elif n.endswith("intermediate.dense.bias"):
            s = (I,)
        elif n.endswith("output.dense.weight") and not n.endswith("attention.output.dense.weight"):
            s = (H, I)
        elif n.endswith(".weight") and "LayerNorm" not in n:
            s = (H, H)
        else:
            s = (H,)
        shapes[n] = s
    return shapes


def module_tensor_specs(cfg):
    """(name, shape) of every state_dict entry of the real DebertaV2PairRM, built on 'meta'."""
    cls = load_pairrm_class()
    with torch.device("meta"):
        model = cls(deberta_config(cfg))
    sd = model.state_dict()
    specs = [(k, tuple(v.shape)) for k, v in sd.items()]
    names = [k for k, _ in specs]
    want = expected_names(cfg["num_hidden_layers"])
    if names != want:
        sys.exit("error: module tree differs from Formats/pairrm-model.md §1.6:\n  extra %s\n  missing %s"
                 % (sorted(set(names) - set(want)), sorted(set(want) - set(names))))
    shapes = expected_shapes(cfg)
    for k, s in specs:
        assert shapes[k] == s, (k, s, shapes[k])
    assert len(specs) == 3 + 16 * cfg["num_hidden_layers"] + 3 + 4
    return specs


# ----------------------------------------------------------------------------- weights

# Gains chosen so that a 24-layer random model does not collapse all tokens onto one vector
# (rank collapse through near-uniform attention): with q/k 1.25 and v/o 1.0 the full-size
# model's last-layer token states had mean pairwise cosine 1.000 and |logit| ~ 1e-3;
# with these values 0.94 and logits ~0.2.
LINEAR_GAIN = {
    "attention.self.query_proj": 1.6, "attention.self.key_proj": 1.6,
    "attention.self.value_proj": 0.65, "attention.output.dense": 0.65,
    "intermediate.dense": 1.0, "output.dense": 1.3,
    "head_layer.1": 1.0, "head_layer.4": 1.0,
}


def tensor_rng(seed, name):
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def linear_gain(name):
    module = name.rsplit(".", 1)[0]
    for key in ("attention.self.query_proj", "attention.self.key_proj", "attention.self.value_proj",
                "attention.output.dense", "intermediate.dense"):
        if module.endswith(key):
            return LINEAR_GAIN[key]
    if module.endswith("output.dense"):
        return LINEAR_GAIN["output.dense"]
    if module in ("head_layer.1", "head_layer.4"):
        return LINEAR_GAIN[module]
    raise KeyError(name)


def outlier_channels(seed, hidden):
    ch = np.sort(np.random.default_rng([seed, zlib.crc32(b"outliers")]).choice(hidden, 4, replace=False))
    signs = np.random.default_rng([seed, zlib.crc32(b"outlier-signs")]).choice(np.array([-1.0, 1.0]), 4)
    return ch, signs


class LocalAttention:
    """The ``--local-attention`` structure (see the module docstring): a position-to-content
    attention bias that makes every token, the three prefix tokens included, attend mostly to
    its neighbours, as a trained encoder's heads largely do."""

    KEY_BIAS = 6.0       # beta: added to key dimension 0 of every head
    QUERY_GAIN = 1.33    # lambda: query_proj row (head dimension 0) gains lambda * w
    DEPTH = 10.0         # U: LN(rel_embeddings[r]) . w ~= -U * min(|r - span|, WIDTH) / WIDTH
    WIDTH = 128.0

    def __init__(self, seed, hidden, heads):
        rng = np.random.default_rng([seed, zlib.crc32(b"local-attention")])
        w = rng.standard_normal(hidden)
        w -= w.mean()                      # LayerNorm removes the mean: keep w orthogonal to it
        self.direction = (w / np.linalg.norm(w)).astype(np.float32)
        self.head_rows = np.arange(heads) * (hidden // heads)

    def apply(self, name, a):
        if name.endswith("attention.self.key_proj.bias"):
            a[self.head_rows] += np.float32(self.KEY_BIAS)
        elif name.endswith("attention.self.query_proj.weight"):
            a[self.head_rows, :] += np.float32(self.QUERY_GAIN) * self.direction[None, :]
        elif name.endswith("rel_embeddings.weight"):
            span = a.shape[0] // 2
            distance = np.minimum(np.abs(np.arange(a.shape[0]) - span), self.WIDTH) / self.WIDTH
            # the base rows are N(0, 0.05): scale the structure to that std so LN keeps it
            a += (np.float32(0.05) * (-self.DEPTH * distance))[:, None].astype(np.float32) * self.direction[None, :]
        return a


class Fragile:
    """The ``--fragile`` scales (see the module docstring)."""

    LN_GAIN_STD = 0.3          # LayerNorm weight 1 + N(0, 0.3) instead of 1 + N(0, 0.1)
    LN_BIAS_STD = 0.2          # LayerNorm bias N(0, 0.2) instead of N(0, 0.1)
    ENCODER_WEIGHT_STD = 0.05  # encoder-layer Linear weights, instead of g / sqrt(in)

    @staticmethod
    def is_encoder_matrix(name):
        return ".encoder.layer." in name and name.endswith(".weight") and "LayerNorm" not in name


def make_tensor(name, shape, seed, outliers, locality=None, fragile=False):
    rng = tensor_rng(seed, name)
    z = rng.standard_normal(shape, dtype=np.float32)
    if name.endswith("word_embeddings.weight") or name.endswith("rel_embeddings.weight"):
        a = z * np.float32(0.05)
    elif "LayerNorm" in name:
        gain_std, bias_std = (Fragile.LN_GAIN_STD, Fragile.LN_BIAS_STD) if fragile else (0.1, 0.1)
        if name.endswith(".weight"):
            a = np.float32(1.0) + z * np.float32(gain_std)
        else:
            a = z * np.float32(bias_std)
        if outliers is not None:
            ch, signs = outliers
            extra = rng.standard_normal(4)
            if name.endswith(".weight"):
                a[ch] = (20.0 + extra).astype(np.float32)
            else:
                a[ch] = (5.0 * signs + 0.5 * extra).astype(np.float32)
    elif name.endswith(".bias"):
        a = z * np.float32(0.05)
    elif fragile and Fragile.is_encoder_matrix(name):
        a = z * np.float32(Fragile.ENCODER_WEIGHT_STD)
    else:
        std = linear_gain(name) / np.sqrt(shape[1])
        a = z * np.float32(std)
    if locality is not None:
        a = locality.apply(name, a)
    assert a.dtype == np.float32 and a.shape == tuple(shape)
    return a


def build_state_dict(specs, seed, outliers, dtype, locality=None, fragile=False):
    sd = collections.OrderedDict()
    t0 = time.time()
    last = t0
    for i, (name, shape) in enumerate(specs):
        t = torch.from_numpy(make_tensor(name, shape, seed, outliers, locality, fragile))
        if dtype != "f32":
            t = t.to(TORCH_DTYPES[dtype])
        sd[name] = t.contiguous()
        now = time.time()
        if now - last > 2.0 or i == len(specs) - 1:
            log(f"  generated {i + 1}/{len(specs)} tensors ({now - t0:.1f}s)")
            last = now
    return sd


# ----------------------------------------------------------------------------- tokenizer

def write_tokenizer(spm_path, out):
    from transformers import DebertaV2TokenizerFast
    with tempfile.TemporaryDirectory() as tmp:
        tok = DebertaV2TokenizerFast(vocab_file=spm_path)
        n_spm = tok.vocab_size  # pieces of the spm model
        tok.add_tokens(PREFIX_TOKENS)
        written = tok.save_pretrained(tmp)
        names = sorted(os.path.basename(p) for p in written)
        if names != sorted(TOKENIZER_FILES):
            sys.exit(f"error: save_pretrained wrote {names}, expected {sorted(TOKENIZER_FILES)}")
        for n in TOKENIZER_FILES:
            shutil.copyfile(os.path.join(tmp, n), os.path.join(out, n))
    with open(os.path.join(out, "added_tokens.json")) as f:
        added = json.load(f)
    want = {"[MASK]": n_spm}
    for k, t in enumerate(PREFIX_TOKENS):
        want[t] = n_spm + 1 + k
    if added != want:
        sys.exit(f"error: added_tokens.json is {added}, expected {want}")
    vocab_size = len(tok)
    assert vocab_size == n_spm + 5
    prefix_ids = [want[t] for t in PREFIX_TOKENS]
    return vocab_size, prefix_ids, n_spm


# ----------------------------------------------------------------------------- files

def prepare_out(out, force):
    if os.path.lexists(out) and not os.path.isdir(out):
        sys.exit(f"error: {out} exists and is not a directory")
    if os.path.isdir(out):
        present = os.listdir(out)
        if present:
            unknown = [p for p in present if p not in KNOWN_FILES]
            if not force:
                sys.exit(f"error: {out} is not empty (use --force to replace a checkpoint there)")
            if unknown:
                sys.exit(f"error: refusing --force: {out} holds files that are not checkpoint files: {unknown}")
            for p in present:
                os.unlink(os.path.join(out, p))
    os.makedirs(out, exist_ok=True)


def write_configs(out, layout, cfg):
    if layout == "pairrm-hf":
        data = hf_config_bytes(cfg)
        with open(os.path.join(out, "config.json"), "wb") as f:
            f.write(data)
    else:
        for n in ("config.json", "ranker_config.json"):
            with open(os.path.join(out, n), "wb") as f:
                f.write(RANKER_CONFIG_BYTES)


def save_weights(sd, out, fmt):
    path = os.path.join(out, WEIGHT_FILES[fmt])
    if fmt == "safetensors":
        from safetensors.torch import save_file
        save_file(sd, path, metadata={"format": "pt"})
        os.chmod(path, 0o644)  # the safetensors library creates the file with mode 0600
    else:
        torch.save(sd, path)
    return path


def load_weights(path):
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file
        return load_file(path)
    return torch.load(path, map_location="cpu", weights_only=True)


# ----------------------------------------------------------------------------- verification

def verify(out, cfg, layout, fmt, sd):
    """Reload the directory with the reference stack and run one forward pass."""
    from transformers import AutoTokenizer
    t0 = time.time()
    path = os.path.join(out, WEIGHT_FILES[fmt])
    back = load_weights(path)
    assert list(back.keys()) == list(sd.keys()) or sorted(back) == sorted(sd)
    for k, v in sd.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape, k
        assert torch.equal(back[k], v), k
    del back

    cls = load_pairrm_class()
    if layout == "pairrm-hf":
        model, info = cls.from_pretrained(out, torch_dtype=torch.float32, output_loading_info=True)
        bad = {k: v for k, v in info.items() if v}
        if bad:
            sys.exit(f"error: from_pretrained loading info not clean: {bad}")
    else:
        model = cls(deberta_config(cfg))
        res = model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
        assert not res.missing_keys and not res.unexpected_keys
    model = model.float().eval()
    tok = AutoTokenizer.from_pretrained(out)
    assert len(tok) == cfg["vocab_size"], (len(tok), cfg["vocab_size"])

    def pair(src, c1, c2):
        s = tok.encode("<|source|>" + src, max_length=1224, truncation=True)
        b = (1224 + 2 * 412 - len(s)) // 2
        a = tok.encode("<|candidate1|>" + c1, max_length=b, truncation=True)
        c = tok.encode("<|candidate2|>" + c2, max_length=b, truncation=True)
        return s + a + c

    rows = [pair("hello!", "hi!", "f**k off!"), pair("hello!", "f**k off!", "hi!")]
    L = max(len(r) for r in rows)
    ids = torch.tensor([r + [0] * (L - len(r)) for r in rows])
    mask = (torch.arange(L)[None, :] < torch.tensor([len(r) for r in rows])[:, None]).long()
    with torch.no_grad():
        outp = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    logits = outp.logits
    hs = outp.hidden_states[-1][0, : len(rows[0])]
    if not torch.isfinite(logits).all() or not torch.isfinite(hs).all():
        sys.exit(f"error: non-finite forward output {logits}")
    log(f"  verify: reloaded {WEIGHT_FILES[fmt]} bit-exactly; forward ok on ids {rows[0]}: "
        f"logits [AB, BA] = {[round(x, 6) for x in logits.tolist()]}; last layer: mean L2 norm "
        f"{hs.norm(dim=-1).mean().item():.3f}, max |value| {hs.abs().max().item():.3f} ({time.time() - t0:.1f}s)")


# ----------------------------------------------------------------------------- main

def human(n):
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1000.0


def summarize(out, t_start):
    log(f"wrote {out} in {time.time() - t_start:.1f}s:")
    total = 0
    for n in sorted(os.listdir(out)):
        p = os.path.join(out, n)
        size = os.path.getsize(p)
        total += size
        link = f" -> {os.readlink(p)}" if os.path.islink(p) else ""
        log(f"  {n:28s} {size:>14,d} B  ({human(size)}){link}")
    log(f"  total {total:,d} B ({human(total)})")


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] + " Options first; the full description follows them.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__[__doc__.index("Two published layouts"):],
    )
    ap.add_argument("--size", choices=["tiny", "full"], required=True,
                    help="tiny: hidden 32, 2 layers, 4 heads, intermediate 64, tiny 1000-piece spm "
                         "(vocab 1005); full: the real PairRM-hf hyper-parameters (vocab 128005, 394 tensors)")
    ap.add_argument("--layout", choices=["pairrm-hf", "pairrm"], required=True,
                    help="pairrm-hf: config.json = DebertaV2Config + PairRM extras (llm-blender/PairRM-hf); "
                         "pairrm: config.json = ranker_config.json = LLM-Blender RankerConfig (llm-blender/PairRM)")
    ap.add_argument("--dtype", choices=["f32", "f16", "bf16"], default="f32",
                    help="stored tensor dtype (values are drawn in float32 and cast); default f32")
    ap.add_argument("--format", choices=["safetensors", "bin"], default="safetensors",
                    help="safetensors -> model.safetensors (as published); bin -> pytorch_model.bin "
                         "(torch.save of the state dict, zip format, like a fine-tuned export)")
    ap.add_argument("--seed", type=int, default=1, help="weight seed (default 1)")
    ap.add_argument("--outliers", action="store_true",
                    help="inject 4 outlier channels into every LayerNorm (gain ~20, bias ~+-5; see docstring)")
    ap.add_argument("--fragile", action="store_true",
                    help="LayerNorm gains N(1, 0.3) / biases N(0, 0.2), encoder weights std 0.05, implies "
                         "--outliers: scores sensitive to rounding (see docstring)")
    ap.add_argument("--local-attention", action="store_true",
                    help="make attention local through the relative positions so prefix states depend on "
                         "their own segment (realistic score spread; see docstring)")
    ap.add_argument("--spm", default=None,
                    help=f"SentencePiece model; default {DEFAULT_FULL_SPM} ($PAIRRM_SHARED_VOCAB, else "
                         f"../shared/vocab beside the repository) for full, Tests/Fixtures/tiny-spm/spm.model for tiny")
    ap.add_argument("--link-from", metavar="DIR", default=None,
                    help="do not generate weights/tokenizer: symlink them from the checkpoint DIR "
                         "(absolute links) and write only this layout's config file(s)")
    ap.add_argument("--no-verify", action="store_true",
                    help="skip the reload + DebertaV2PairRM forward check (it costs ~3x the weights in RAM at full size)")
    ap.add_argument("--force", action="store_true",
                    help="replace an existing checkpoint in --out (only checkpoint file names are deleted)")
    ap.add_argument("--out", required=True, help="output directory (created)")
    args = ap.parse_args(argv)

    t_start = time.time()
    torch.manual_seed(0)
    spm_path = args.spm or (DEFAULT_FULL_SPM if args.size == "full" else DEFAULT_TINY_SPM)
    if not os.path.isfile(spm_path):
        sys.exit(f"error: no spm model at {spm_path}" +
                 (" (run python -m pairrm_reference.make_tiny_spm first)" if args.size == "tiny" else ""))
    prepare_out(args.out, args.force)

    if args.link_from:
        src = os.path.abspath(args.link_from)
        wfile = WEIGHT_FILES[args.format]
        for n in TOKENIZER_FILES + [wfile]:
            if not os.path.isfile(os.path.join(src, n)):
                sys.exit(f"error: {src} has no {n}")
        with open(os.path.join(src, "added_tokens.json")) as f:
            added = json.load(f)
        n_spm = added["[MASK]"]
        vocab_size, prefix_ids = n_spm + 5, [added[t] for t in PREFIX_TOKENS]
        cfg = hf_config(args.size, vocab_size, prefix_ids, args.dtype)
        specs = module_tensor_specs(cfg)
        from safetensors import safe_open
        if args.format == "safetensors":
            with safe_open(os.path.join(src, wfile), framework="pt") as f:
                got = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
            if got != dict(specs):
                sys.exit(f"error: {src}/{wfile} does not hold the {args.size} tensor set")
        for n in TOKENIZER_FILES + [wfile]:
            os.symlink(os.path.join(src, n), os.path.join(args.out, n))
        write_configs(args.out, args.layout, cfg)
        summarize(args.out, t_start)
        return

    log(f"tokenizer from {spm_path}")
    vocab_size, prefix_ids, n_spm = write_tokenizer(spm_path, args.out)
    if args.size == "full":
        assert (n_spm, vocab_size, prefix_ids) == (128000, 128005, [128001, 128002, 128003, 128004]), \
            (n_spm, vocab_size, prefix_ids)
    cfg = hf_config(args.size, vocab_size, prefix_ids, args.dtype)
    if args.size == "full" and args.dtype == "f32":
        assert len(hf_config_bytes(cfg)) == 967, len(hf_config_bytes(cfg))  # published PairRM-hf config.json
    write_configs(args.out, args.layout, cfg)

    specs = module_tensor_specs(cfg)
    n_params = sum(int(np.prod(s)) for _, s in specs)
    log(f"{len(specs)} tensors, {n_params:,d} parameters (vocab {vocab_size}, hidden {cfg['hidden_size']}, "
        f"layers {cfg['num_hidden_layers']}, heads {cfg['num_attention_heads']}, "
        f"intermediate {cfg['intermediate_size']}), seed {args.seed}, dtype {args.dtype}, format {args.format}")
    if args.fragile:
        args.outliers = True
        log(f"fragile: LayerNorm gains 1 + N(0, {Fragile.LN_GAIN_STD}), biases N(0, {Fragile.LN_BIAS_STD}); "
            f"encoder weights std {Fragile.ENCODER_WEIGHT_STD}; outlier channels on")
    outliers = outlier_channels(args.seed, cfg["hidden_size"]) if args.outliers else None
    if outliers is not None:
        log(f"outlier channels {outliers[0].tolist()} bias signs {outliers[1].tolist()} in every LayerNorm")
    locality = None
    if args.local_attention:
        locality = LocalAttention(args.seed, cfg["hidden_size"], cfg["num_attention_heads"])
        log("local attention: key bias, query rows and rel_embeddings structured (see docstring)")
    sd = build_state_dict(specs, args.seed, outliers, args.dtype, locality, args.fragile)
    t0 = time.time()
    path = save_weights(sd, args.out, args.format)
    log(f"  saved {os.path.basename(path)} ({time.time() - t0:.1f}s)")
    if not args.no_verify:
        verify(args.out, cfg, args.layout, args.format, sd)
    summarize(args.out, t_start)


if __name__ == "__main__":
    main()
