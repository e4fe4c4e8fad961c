"""Shared helpers for the golden / fidelity / benchmark scripts (reference venv only).

* ``load_model(dir, dtype)``: llm-blender 0.0.2 ``DebertaV2PairRM`` (loaded by file path, see
  ``pairrm_reference.make_checkpoint.load_pairrm_class``) from a PairRM-hf layout directory,
  eval mode, loaded in float32 and cast to ``dtype`` (float64, float16, bfloat16) if another.
* ``PairTokenizer``: LLM-Blender ``tokenize_pair`` (Formats/pairrm-model.md §2.3) with the fast tokenizer
  of a checkpoint directory: source max 1224, candidate cap (2048 - Ls) // 2,
  ``[CLS] <|source|> ... [SEP] [CLS] <|candidate1|> ... [SEP] [CLS] <|candidate2|> ... [SEP]``.
"""

import torch

from pairrm_reference import make_checkpoint as mc

SOURCE_MAX = 1224
CANDIDATE_MAX = 412


class PairTokenizer:
    def __init__(self, ckpt_dir):
        from transformers import AutoTokenizer
        self.tok = AutoTokenizer.from_pretrained(ckpt_dir)
        assert self.tok.is_fast, "PairRM runs the fast tokenizer"
        ids = self.tok.convert_tokens_to_ids(["<|source|>", "<|candidate1|>", "<|candidate2|>"])
        self.prefix_ids = ids

    def untruncated_len(self, text):
        """Content pieces of a text (no specials), to report whether truncation happened."""
        return len(self.tok.encode(text, add_special_tokens=False))

    def encode_pair(self, source, c1, c2):
        """ids, positions (3), info dict -- exactly LB blender_utils.tokenize_pair (batch of 1)."""
        tok = self.tok
        s = tok.encode("<|source|>" + source, max_length=SOURCE_MAX, truncation=True)
        cap = (SOURCE_MAX + 2 * CANDIDATE_MAX - len(s)) // 2
        a = tok.encode("<|candidate1|>" + c1, max_length=cap, truncation=True)
        b = tok.encode("<|candidate2|>" + c2, max_length=cap, truncation=True)
        ids = s + a + b
        pos = [1, len(s) + 1, len(s) + len(a) + 1]
        # sanity: positions are where torch.where(ids == prefix) finds them (the model's own logic)
        for p, pid in zip(pos, self.prefix_ids):
            assert ids[p] == pid and ids.count(pid) == 1, (p, pid)
        info = {"segment_lengths": [len(s), len(a), len(b)], "candidate_cap": cap}
        return ids, pos, info


def load_model(ckpt_dir, dtype=torch.float32):
    cls = mc.load_pairrm_class()
    m, info = cls.from_pretrained(ckpt_dir, torch_dtype=torch.float32, output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    if bad:
        raise RuntimeError(f"from_pretrained loading info not clean: {bad}")
    m = m.eval()
    if dtype != torch.float32:
        m = m.to(dtype)
    return m


@torch.no_grad()
def forward_full(model, ids):
    """Batch-of-one forward. Returns (logit, hidden_states tuple [1,T,H] each, z1, z2)."""
    x = torch.tensor([ids], dtype=torch.long)
    mask = torch.ones_like(x)
    out = model(input_ids=x, attention_mask=mask, output_hidden_states=True)
    hs = out.hidden_states
    # recompute the head from the last hidden state to expose z1, z2 (same ops as pairrm.py)
    last = hs[-1][0]
    pos = [int(torch.where(x[0] == pid)[0][0]) for pid in
           (model.source_prefix_id, model.cand1_prefix_id, model.cand2_prefix_id)]
    hsrc, h1, h2 = last[pos[0]], last[pos[1]], last[pos[2]]
    z1 = model.head_layer(torch.cat([hsrc, h1], dim=-1)[None])[0]
    z2 = model.head_layer(torch.cat([hsrc, h2], dim=-1)[None])[0]
    logit = out.logits[0]
    assert torch.equal((z1 - z2).mean(dim=-1), logit), (z1, z2, logit)
    return float(logit), hs, float(z1[0]), float(z2[0]), pos


@torch.no_grad()
def logit_only(model, ids):
    x = torch.tensor([ids], dtype=torch.long)
    return float(model(input_ids=x, attention_mask=torch.ones_like(x)).logits[0])
