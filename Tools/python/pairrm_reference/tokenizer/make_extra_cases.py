"""Extra tokenizer conformance cases for the Swift PairRMTokenizer.

Random compositions of the fragments that exercise every known difference between the
references (Formats/tokenizer.md §7): whitespace kinds, combining marks, half-width kana, jamo,
emoji sequences, unknown ideographs, special/added-token strings, byte-piece spellings, float-tie
runs. Output lines have the same shape as ../shared/vocab/tokenizer-cases.jsonl:
  {"id", "category", "text", "ids" (sentencepiece 0.2.3), "ids_hf" (when fast differs)}

Reference stack (pinned): transformers 4.57.6, tokenizers 0.22.2, sentencepiece 0.2.3, e.g.
  python -m pairrm_reference.tokenizer.make_extra_cases \
      --spm ../shared/vocab/deberta-v3-spm.model --out Tests/Fixtures/tokenizer/extra-cases.jsonl
Deterministic for a given --seed.
"""
import argparse
import json
import random

import sentencepiece
import transformers
from transformers import DebertaV2TokenizerFast

FRAGMENTS = [
    "hello", "the", "xmmmmmm", "kkkkkkkk", "VVVVV", "bbb", "fb", "ab", " ", "  ", "\t", "\n", "\r\n",
    "\u00a0", "\u3000", "\u200b", "\u200d", "\u2581", "\ufeff", "\ufffd", "\u0085", "\u2028", "\x01", "\x00",
    "\u0301", "a\u0301", "ｚ\u0301", "①\u0301", "ｶﾞ", "ﾋﾟ", "ｺﾝﾋﾟｭｰﾀｰ", "\u1100\u1161\u11a8", "ㄱㅏㄱ", "ＡＢＣ",
    "ﬁ", "½", "™", "\uff5e", "\u32ff", "😀", "👨\u200d👩\u200d👧", "🇯🇵", "1\ufe0f\u20e3", "𪚥", "𩸽", "豈",
    "漢字", "ジャンプ", "한국어", "مرحبا", "שָׁלוֹם", "नमस्ते", "ไทย", "[SEP]", "[CLS]", "[MASK]", "[UNK]", "[PAD]",
    "<|source|>", "<|candidate1|>", "<|candidate2|>", "<|candidate|>", "＜｜source｜＞", "<0x41>", "<0xFF>",
    "http://x.y/z?q=1", "3.14159", "...", "!!", "def f(x):", "ẞ", "ı", "Ωmega",
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--spm", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--seed", type=int, default=20260601)
    args = parser.parse_args()
    assert transformers.__version__.startswith("4."), "transformers 5.x is not a reference (Formats/tokenizer.md §6.4)"

    sp = sentencepiece.SentencePieceProcessor(model_file=args.spm)
    fast = DebertaV2TokenizerFast(vocab_file=args.spm)
    fast.add_tokens(["<|source|>", "<|candidate1|>", "<|candidate2|>", "<|candidate|>"])
    assert fast.convert_tokens_to_ids("<|candidate|>") == 128004

    rng = random.Random(args.seed)
    with open(args.out, "w", encoding="utf-8") as out:
        for n in range(args.count):
            text = "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 8)))
            if n % 7 == 0:
                text = " " + text + " "
            case = {"id": f"extra-{n + 1:04d}", "category": "random_fragments", "text": text,
                    "ids": sp.encode(text)}
            hf = fast.encode(text, add_special_tokens=False)
            if hf != case["ids"]:
                case["ids_spm"] = case["ids"]
                case["ids_hf"] = hf
            out.write(json.dumps(case, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
