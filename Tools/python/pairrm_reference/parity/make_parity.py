"""Run LLM-Blender's OWN PairRM code on the tiny checkpoint and record what it returns.

Writes ``Tests/Fixtures/parity/blender-tiny.json``, the ground truth for
``Tests/PairRMTests/ParityTests.swift``.  Everything goes through the real library:

* ``llm_blender.Blender.loadranker`` (-> ``blender_utils.load_ranker``, ``model_util``,
  ``CrossCompareCollator``, ``CrossCompareReranker``; weights strict-loaded from
  ``model.safetensors``; ``.float()`` because the device is ``"cpu"``), then the public methods
  ``compare`` (three modes), ``rank`` (scores and ranks, ``max_logits`` aggregation in
  ``gpt_eval.utils``), ``rank_with_ref`` (five ``ref_mode`` values and explicit references),
  ``compare_conversations`` (template and its assertions), ``get_best_of_n`` /
  ``get_worst_of_n`` (``full`` and ``bubble``).
* ``bubble`` draws its start order from ``torch.randperm``; the script replaces
  ``torch.randperm`` for the duration of one call by a function returning the given order, so
  the fixture records ``start_order`` and the result for it.
* ``pair_ranker/pairrm.py`` (the HF wrapper ``DebertaV2PairRM``) with ``blender_utils.tokenize_pair``
  is run on every ``compare`` case as a cross-check (it must agree with Blender's ``[A,B]``
  logit to 1e-5 unless the text contains a literal ``[SEP]``, which only Blender's collator
  rewrites).

Every case is one Blender call with ONE input, so Blender's batch-dependent candidate cap
(Formats/pairrm-model.md §2.4 step 4) equals the per-example cap the Swift port implements.  The ids
Blender feeds the backbone for each ``compare`` case in ``[A,B]`` mode are recorded too
(``ids_ab``), captured with a forward pre-hook on the backbone.

Loading notes: the tiny checkpoint in the ``pairrm`` layout names ``microsoft/deberta-v3-large``
as its backbone (like the real hub repo), which would need the network; the script passes
``model_name=<tiny-pairrm-hf dir>`` to ``loadranker`` (it sets RankerConfig attributes from
kwargs, as the README's ``source_max_length`` example does), so the tokenizer and the backbone
*architecture* come from the local PairRM-hf directory and the weights from the ``pairrm``
directory, through Blender's own ``load_ranker``.

Environment: the reference venv with the ``parity`` extra of Tools/python/pyproject.toml (the
fixtures stack plus ``dataclasses-json``, pure Python, needed because ``import llm_blender``
imports its config dataclasses) and ``pip install --no-deps llm-blender==0.0.2`` (see
Tools/python/README.md):

    python -m pairrm_reference.parity.make_parity

Deterministic: re-running reproduces the same file (fp32 CPU, one thread).
"""

import argparse
import contextlib
import importlib.util
import json
import logging
import os
import sys
import warnings

import numpy as np
import torch

from pairrm_reference.paths import FIXTURES, REPO

CHECKPOINTS = os.path.join(FIXTURES, "checkpoints")
OUT = os.path.join(FIXTURES, "parity", "blender-tiny.json")

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

import llm_blender  # noqa: E402  (needs dataclasses-json)
from llm_blender.blender.blender import Blender  # noqa: E402
from llm_blender.blender.config import BlenderConfig  # noqa: E402
from llm_blender.blender import blender_utils  # noqa: E402


def load_blender(pairrm_dir, hf_dir):
    blender = Blender(BlenderConfig(device="cpu", use_tqdm=False))
    with contextlib.redirect_stdout(sys.stderr):
        blender.loadranker(pairrm_dir, device="cpu", model_name=hf_dir)
    assert blender.ranker_config.ranker_type == "pairranker"
    assert next(blender.ranker.parameters()).dtype == torch.float32
    return blender


def load_hf_wrapper(hf_dir):
    """pair_ranker/pairrm.py by path (the HF wrapper the PairRM-hf README uses)."""
    path = os.path.join(os.path.dirname(llm_blender.__file__), "pair_ranker", "pairrm.py")
    spec = importlib.util.spec_from_file_location("lb_pairrm", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.DebertaV2PairRM.from_pretrained(hf_dir, torch_dtype=torch.float32).eval()
    return model


class IdRecorder:
    """Forward pre-hook on the backbone: the (trimmed) input ids of every forward."""

    def __init__(self, backbone):
        self.calls = []
        self.enabled = False
        backbone.register_forward_pre_hook(self.hook, with_kwargs=True)

    def hook(self, module, args, kwargs):
        if self.enabled:
            ids, mask = kwargs["input_ids"], kwargs["attention_mask"]
            for row, row_mask in zip(ids.tolist(), mask.tolist()):
                self.calls.append([i for i, m in zip(row, row_mask) if m])


@contextlib.contextmanager
def fixed_randperm(order):
    original = torch.randperm

    def randperm(n, *args, **kwargs):
        assert n == len(order), (n, order)
        return torch.tensor(order, dtype=torch.long)

    torch.randperm = randperm
    try:
        yield
    finally:
        torch.randperm = original


def f32list(values):
    return [float(np.float32(v)) for v in np.asarray(values).reshape(-1)]


# ---------------------------------------------------------------------------------------------
# Cases.  Texts use words of the tiny tokenizer's training text (Botchan) so most pieces are
# real pieces; a few carry characters it lacks ([UNK]), a literal [SEP], tabs/newlines, and
# non-ASCII letters (Python len counts code points, not UTF-8 bytes).

PROMPTS = [
    "What did the boy do when he was a child?",
    "Tell me about the school teacher and the town.",
    "Describe the weather in the country.",
    "Why was the old woman kind to him?",
]

COMPARE_CASES = [
    {"prompt": PROMPTS[0], "a": "He jumped from the second floor of the school.",
     "b": "I do not know."},
    {"prompt": PROMPTS[1], "a": "The teacher was a strange man who never smiled.",
     "b": "The town was small, and everybody knew everything about everybody."},
    {"prompt": "hello!", "a": "hi!", "b": "f**k off!"},
    {"prompt": "I love you!", "a": "I hate you!", "b": "I love you, too!"},
    {"prompt": PROMPTS[2], "instruction": "Answer in one short sentence. ",
     "a": "It was cold and it rained every day.", "b": "It was cold and it rained every day."},
    {"prompt": PROMPTS[3] + " [SEP] Be brief.", "a": "Because she [SEP] loved him.",
     "b": "She was paid[SEP]to be kind."},
    {"prompt": "  Spaces\tand\nnewlines   everywhere  ", "a": "café naïve résumé — ☃",
     "b": "\n\nThe end.\n"},
    {"prompt": "", "a": "", "b": "Something."},
]

# Long texts: the source is cut at 1224 tokens and the candidates at the cap that is left.
LONG = " ".join(["the old man went to the school and said nothing to anybody"] * 130)
COMPARE_CASES.append({"prompt": LONG, "a": LONG[:3000], "b": "Short answer."})

CANDIDATES = [
    "He jumped from the second floor of the school.",
    "I do not know.",
    "The boy was always getting into trouble, and his father never liked him.",
    "He was a child.",
    "When he was a child he broke his arm by jumping from a window.",
    "Nothing happened.",
    "He sat at home and read books all day.",
    "He fought with the other boys every day after school.",
    "His mother died when he was young.",
    "It is hard to say what he did.",
    "He was kind to the old servant Kiyo.",
    "The boy did many foolish things.",
]

RANK_CASES = [
    {"prompt": PROMPTS[0], "candidates": CANDIDATES[:1]},                       # n = 1: no forward
    {"prompt": PROMPTS[0], "candidates": CANDIDATES[:2]},
    {"prompt": PROMPTS[0], "candidates": [CANDIDATES[0], CANDIDATES[1], CANDIDATES[0]]},   # ties
    {"prompt": PROMPTS[1], "candidates": CANDIDATES[2:6]},
    {"prompt": PROMPTS[0], "candidates": CANDIDATES[:7]},                       # n = 7: left to right
    {"prompt": PROMPTS[0], "candidates": CANDIDATES[:8]},                       # n = 8: 8 partial sums
    {"prompt": PROMPTS[3], "instruction": "Please answer. ", "candidates": CANDIDATES[:10]},  # 8 + 2 rest
    {"prompt": PROMPTS[2], "candidates": [CANDIDATES[3], CANDIDATES[5], CANDIDATES[3], CANDIDATES[7],
                                          CANDIDATES[5], CANDIDATES[3], CANDIDATES[9], CANDIDATES[1],
                                          CANDIDATES[3]]},                    # n = 9 with two tie groups
    {"prompt": PROMPTS[1], "candidates": ["same", "same", "same"]},             # all tied, all scores 0
    {"prompt": LONG, "candidates": [LONG[:900], "A short one.", LONG[:400]],
     "source_max_length": 96, "candidate_max_length": 40},                     # overridden lengths
]

REF_CANDIDATES = [
    "Short.",
    "héllo wörld ça",       # 14 code points, 17 UTF-8 bytes
    "hello world xx",       # 14 code points: ties with the one above by Python len
    "A longer answer with several words in it.",
    "Tiny",
    "A longer answer with several words in it!",   # ties with [3] by length
]
REF_CASES = [{"prompt": PROMPTS[0], "candidates": REF_CANDIDATES, "ref_mode": mode}
             for mode in ["longest", "shortest", "median_length", "first", "last"]]
REF_CASES.append({"prompt": PROMPTS[1], "candidates": REF_CANDIDATES[:4], "ref_mode": "longest",
                  "reference": "The teacher was a strange man who never smiled."})
REF_CASES.append({"prompt": PROMPTS[2], "instruction": "Be kind. ", "candidates": REF_CANDIDATES[1:4],
                  "ref_mode": "median_length"})


def turn(role, content):
    return {"role": role, "content": content}


CONVERSATION_CASES = [
    {"a": [turn("USER", "hello"), turn("ASSISTANT", "hi")],
     "b": [turn("USER", "hello"), turn("ASSISTANT", "go away")]},
    {"a": [turn("USER", "hello"), turn("ASSISTANT", "hi"), turn("USER", "how are you?"),
           turn("ASSISTANT", "fine, thank you. And you?")],
     "b": [turn("USER", "hello"), turn("ASSISTANT", "what do you want"), turn("USER", "how are you?"),
           turn("ASSISTANT", "fine")]},
]
CONVERSATION_ERRORS = [
    {"a": [turn("USER", "hello")], "b": [turn("USER", "hello")]},                                  # odd
    {"a": [turn("ASSISTANT", "hi"), turn("USER", "hello")],
     "b": [turn("USER", "hello"), turn("ASSISTANT", "hi")]},                                       # role
    {"a": [turn("USER", "hello"), turn("assistant", "hi")],
     "b": [turn("USER", "hello"), turn("ASSISTANT", "hi")]},                                       # case
    {"a": [turn("USER", "hello"), turn("ASSISTANT", "hi")],
     "b": [turn("USER", "hello"), turn("ASSISTANT", "hi"), turn("USER", "x"), turn("ASSISTANT", "y")]},
    {"a": [turn("USER", "hello"), turn("ASSISTANT", "hi")],
     "b": [turn("USER", "hello!"), turn("ASSISTANT", "hi")]},                                      # USER differs
]

BEST_CANDIDATES = CANDIDATES[:6]
BEST_CASES = [
    {"prompt": PROMPTS[0], "candidates": BEST_CANDIDATES},
    {"prompt": PROMPTS[1], "candidates": [CANDIDATES[4], CANDIDATES[1], CANDIDATES[4], CANDIDATES[6]]},
    {"prompt": PROMPTS[3], "instruction": "Answer: ", "candidates": CANDIDATES[:9]},
    {"prompt": PROMPTS[2], "candidates": CANDIDATES[:1]},
]
BUBBLE_ORDERS = {
    6: [[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0], [2, 0, 5, 1, 3, 4]],
    4: [[0, 1, 2, 3], [3, 1, 0, 2]],
    9: [[0, 1, 2, 3, 4, 5, 6, 7, 8], [4, 8, 0, 6, 2, 7, 1, 5, 3]],
    1: [[0]],
}


def dump(result):
    """One case per line: small diffs when a case changes, no one-number-per-line bloat."""
    def one(value):
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    lines = ["{"]
    keys = list(result)
    for k, key in enumerate(keys):
        value = result[key]
        tail = "," if k + 1 < len(keys) else ""
        if isinstance(value, list) and value and isinstance(value[0], dict):
            lines.append("  %s: [" % json.dumps(key))
            lines += ["    " + one(item) + ("," if i + 1 < len(value) else "") for i, item in enumerate(value)]
            lines.append("  ]" + tail)
        else:
            lines.append("  %s: %s%s" % (json.dumps(key), one(value), tail))
    lines.append("}")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairrm", default=os.path.join(CHECKPOINTS, "tiny-pairrm"))
    parser.add_argument("--hf", default=os.path.join(CHECKPOINTS, "tiny-pairrm-hf"))
    parser.add_argument("--out", default=OUT)
    args = parser.parse_args()

    blender = load_blender(args.pairrm, args.hf)
    recorder = IdRecorder(blender.ranker.pretrained_model)
    wrapper = load_hf_wrapper(args.hf)
    hf_tokenizer = blender.ranker_tokenizer

    def instr(case):
        return [case["instruction"]] if "instruction" in case else None

    # -- compare ---------------------------------------------------------------------------
    compare_out = []
    worst_wrapper = 0.0
    for case in COMPARE_CASES:
        x, a, b = [case["prompt"]], [case["a"]], [case["b"]]
        entry = dict(case)
        for key, mode in [("ab", "[A,B]"), ("ba", "[B,A]"), ("both", "[A,B]+[B,A]")]:
            recorder.calls.clear()
            recorder.enabled = key == "ab"
            logits = blender.compare(x, a, b, instructions=instr(case), return_logits=True, mode=mode)
            recorder.enabled = False
            verdicts = blender.compare(x, a, b, instructions=instr(case), return_logits=False, mode=mode)
            assert logits.dtype == np.float32, logits.dtype
            entry["logit_" + key] = float(logits[0])
            entry["result_" + key] = bool(verdicts[0])
            if key == "ab":
                assert len(recorder.calls) == 1
                entry["ids_ab"] = recorder.calls[0]
        # Cross-check with the HF wrapper (pairrm.py + tokenize_pair).
        source = case.get("instruction", "") + case["prompt"]
        encodings = blender_utils.tokenize_pair(hf_tokenizer, [source], a, b)
        with torch.no_grad():
            hf_logit = float(wrapper(**encodings).logits[0])
        if "[SEP]" not in source + case["a"] + case["b"]:
            assert abs(hf_logit - entry["logit_ab"]) < 1e-5, (hf_logit, entry["logit_ab"])
            worst_wrapper = max(worst_wrapper, abs(hf_logit - entry["logit_ab"]))
        entry["hf_wrapper_logit_ab"] = hf_logit
        compare_out.append(entry)

    # -- rank ------------------------------------------------------------------------------
    rank_out = []
    for case in RANK_CASES:
        kw = {k: case[k] for k in ("source_max_length", "candidate_max_length") if k in case}
        recorder.calls.clear()
        recorder.enabled = True
        scores = blender.rank([case["prompt"]], [case["candidates"]], instructions=instr(case),
                              return_scores=True, **kw)
        recorder.enabled = False
        forwards = len(recorder.calls)
        ranks = blender.rank([case["prompt"]], [case["candidates"]], instructions=instr(case),
                             return_scores=False, **kw)
        assert scores.dtype == np.float32 and ranks.dtype == np.int32
        entry = dict(case)
        entry.update(scores=f32list(scores[0]), ranks=[int(r) for r in ranks[0]], forwards=forwards)
        rank_out.append(entry)

    # -- rank_with_ref ---------------------------------------------------------------------
    ref_out = []
    for case in REF_CASES:
        kw = {"ref_mode": case["ref_mode"]}
        if "reference" in case:
            kw["ref_candidates"] = [case["reference"]]
        scores = blender.rank_with_ref([case["prompt"]], [case["candidates"]], instructions=instr(case),
                                       return_scores=True, **kw)
        ranks = blender.rank_with_ref([case["prompt"]], [case["candidates"]], instructions=instr(case),
                                      return_scores=False, **kw)
        entry = dict(case)
        entry.update(scores=[float(s) for s in scores[0]], ranks=[int(r) for r in ranks[0]])
        ref_out.append(entry)

    # -- compare_conversations -------------------------------------------------------------
    conv_out = []
    for case in CONVERSATION_CASES:
        entry = dict(case)
        for key, mode in [("ab", "[A,B]"), ("ba", "[B,A]"), ("both", "[A,B]+[B,A]")]:
            logits = blender.compare_conversations([case["a"]], [case["b"]], return_logits=True, mode=mode)
            verdicts = blender.compare_conversations([case["a"]], [case["b"]], return_logits=False, mode=mode)
            entry["logit_" + key] = float(logits[0])
            entry["result_" + key] = bool(verdicts[0])
        conv_out.append(entry)
    conv_errors = []
    for case in CONVERSATION_ERRORS:
        try:
            blender.compare_conversations([case["a"]], [case["b"]])
        except AssertionError as error:
            entry = dict(case)
            entry["error"] = str(error)
            conv_errors.append(entry)
        else:
            raise SystemExit("expected an assertion for %r" % (case,))

    # -- best / worst of n -----------------------------------------------------------------
    best_out = []
    for case in BEST_CASES:
        x, cands = [case["prompt"]], [case["candidates"]]
        entry = dict(case)
        for which, fn in [("best", blender.get_best_of_n), ("worst", blender.get_worst_of_n)]:
            full = fn(x, cands, instructions=instr(case), pairrm_cmp_type="full")
            full_all = fn(x, cands, instructions=instr(case), pairrm_cmp_type="full", return_all=True)
            entry[which + "_full"] = str(full[0])
            entry[which + "_full_all"] = [str(s) for s in full_all[0]]
            bubbles = []
            for order in BUBBLE_ORDERS[len(case["candidates"])]:
                with fixed_randperm(order):
                    one = fn(x, cands, instructions=instr(case), pairrm_cmp_type="bubble")
                with fixed_randperm(order):
                    every = fn(x, cands, instructions=instr(case), pairrm_cmp_type="bubble", return_all=True)
                bubbles.append({"start_order": order, "choice": str(one[0]), "all": [str(s) for s in every[0]]})
            entry[which + "_bubble"] = bubbles
        best_out.append(entry)

    result = {
        "generator": "Tools/python/pairrm_reference/parity/make_parity.py",
        "reference": {
            "llm_blender": "0.0.2", "transformers": __import__("transformers").__version__,
            "torch": torch.__version__.split("+")[0], "numpy": np.__version__, "dtype": "float32", "device": "cpu",
        },
        "checkpoint": "Tests/Fixtures/checkpoints/tiny-pairrm (weights) + tiny-pairrm-hf (tokenizer, backbone config)",
        "notes": [
            "One input per Blender call, so Blender's batch-dependent candidate cap equals the per-example cap.",
            "logit_ba is Blender's [B,A] value: L(x, b, a), not negated; result_* is Blender's bool (logit > 0).",
            "best/worst *_full_all come from numpy.argsort (quicksort kind); with tied ranks its order among the tied "
            "indices is machine-dependent (x86-simd-sort on AVX2/AVX-512), so compare choices as strings.",
            "hf_wrapper_logit_ab: pair_ranker/pairrm.py DebertaV2PairRM on tokenize_pair ids (no [SEP] rewrite).",
        ],
        "compare": compare_out,
        "rank": rank_out,
        "rank_with_ref": ref_out,
        "compare_conversations": conv_out,
        "compare_conversations_errors": conv_errors,
        "best_of_n": best_out,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(dump(result))
    print("wrote %s (%d bytes); HF wrapper vs Blender [A,B]: max |diff| %.2e"
          % (os.path.relpath(args.out, REPO), os.path.getsize(args.out), worst_wrapper))


if __name__ == "__main__":
    main()
