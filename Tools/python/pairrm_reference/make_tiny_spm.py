"""Train the tiny SentencePiece unigram model used by the tiny test checkpoints.

The model has the same *shape* of special pieces as the DeBERTa-v3 ``spm.model``
(see ../shared/vocab/README.md beside the repository and Formats/tokenizer.md §1.2):

    id 0      [PAD]           CONTROL
    id 1      [CLS]           CONTROL
    id 2      [SEP]           CONTROL
    id 3      [UNK]           UNKNOWN
    ids 4-259 <0x00>..<0xFF>  BYTE      (byte_fallback = true)
    ids 260-  normal pieces   NORMAL    (unigram, scores < 0)

Normalizer ``nmt_nfkc`` (precompiled charsmap), ``add_dummy_prefix``,
``remove_extra_whitespaces``, ``escape_whitespaces``; vocab_size 1000 pieces
(740 normal pieces).  A Hugging Face fast tokenizer built from it gets
``[MASK]`` = 1000 and PairRM's four prefix tokens 1001..1004.

Training input (fixed, deterministic): every line of the shared bench corpus
(``bench-corpus.txt`` of the shared vocabulary folder) that is pure ASCII and at least 40
characters long, in file order (the English part: Botchan + licence text,
531 lines / 274,227 chars).  The trainer runs with ``num_threads=1``,
``shuffle_input_sentence=false``, ``input_sentence_size=0`` (use everything) and
a fixed random-generator seed, so the output is byte-for-byte reproducible
with sentencepiece 0.2.3 (the script trains twice and checks that).  Training
reads an in-memory iterator, so no file paths end up in the model's
``trainer_spec``.

Usage (reference stack, see Tools/python/README.md; --corpus defaults to
$PAIRRM_SHARED_VOCAB/bench-corpus.txt, else ../shared/vocab/bench-corpus.txt beside the repository):

    python -m pairrm_reference.make_tiny_spm [--corpus PATH] --out Tests/Fixtures/tiny-spm/spm.model
"""

import argparse
import io
import os
import sys

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as sp_pb

from pairrm_reference.paths import SHARED_VOCAB

DEFAULT_CORPUS = os.path.join(SHARED_VOCAB, "bench-corpus.txt")
VOCAB_SIZE = 1000
MIN_LINE_CHARS = 40


def corpus_lines(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    return [l for l in lines if len(l) >= MIN_LINE_CHARS and all(ord(c) < 128 for c in l)]


def train(lines, vocab_size):
    spm.set_random_generator_seed(1)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=buf,
        model_type="unigram",
        vocab_size=vocab_size,
        character_coverage=1.0,
        byte_fallback=True,
        normalization_rule_name="nmt_nfkc",
        add_dummy_prefix=True,
        remove_extra_whitespaces=True,
        split_digits=False,
        max_sentence_length=8192,
        num_threads=1,
        shuffle_input_sentence=False,
        input_sentence_size=0,
        seed_sentencepiece_size=1000000,
        # DeBERTa-v3 special-piece layout
        pad_id=0, pad_piece="[PAD]",
        bos_id=1, bos_piece="[CLS]",
        eos_id=2, eos_piece="[SEP]",
        unk_id=3, unk_piece="[UNK]",
        minloglevel=2,
    )
    return buf.getvalue()


def verify(model_bytes, vocab_size):
    m = sp_pb.ModelProto()
    m.ParseFromString(model_bytes)
    P = sp_pb.ModelProto.SentencePiece
    assert len(m.pieces) == vocab_size, len(m.pieces)
    expect = [("[PAD]", P.CONTROL), ("[CLS]", P.CONTROL), ("[SEP]", P.CONTROL), ("[UNK]", P.UNKNOWN)]
    for i, (piece, typ) in enumerate(expect):
        assert m.pieces[i].piece == piece and m.pieces[i].type == typ, (i, m.pieces[i])
    for b in range(256):
        p = m.pieces[4 + b]
        assert p.piece == "<0x%02X>" % b and p.type == P.BYTE, (4 + b, p)
    for i in range(260, vocab_size):
        assert m.pieces[i].type == P.NORMAL, (i, m.pieces[i])
        assert m.pieces[i].score < 0, (i, m.pieces[i])
    ns = m.normalizer_spec
    assert ns.name == "nmt_nfkc" and ns.add_dummy_prefix and ns.remove_extra_whitespaces and ns.escape_whitespaces
    assert len(ns.precompiled_charsmap) > 0
    ts = m.trainer_spec
    assert ts.model_type == sp_pb.TrainerSpec.UNIGRAM and ts.byte_fallback and ts.unk_id == 3
    assert (ts.pad_id, ts.bos_id, ts.eos_id) == (0, 1, 2)
    sp = spm.SentencePieceProcessor(model_proto=model_bytes)
    ids = sp.encode("Hello, world! I love you.")
    assert all(0 <= i < vocab_size for i in ids) and len(ids) > 0
    return m, ids


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Train the tiny (1000-piece) DeBERTa-v3-shaped SentencePiece unigram model "
        "used by the tiny PairRM test checkpoints. Deterministic; verifies ids 0..259.",
        epilog="Pinned environment: the fixtures extra of Tools/python/pyproject.toml (sentencepiece==0.2.3).",
    )
    ap.add_argument("--corpus", default=DEFAULT_CORPUS,
                    help="bench corpus; its pure-ASCII lines of >= %d chars are the training input "
                         "(default: %%(default)s)" % MIN_LINE_CHARS)
    ap.add_argument("--vocab-size", type=int, default=VOCAB_SIZE,
                    help="total pieces including the 4 specials and 256 byte pieces (default: %(default)s)")
    ap.add_argument("--out", required=True, help="output spm.model path (parent dirs are created)")
    args = ap.parse_args(argv)

    lines = corpus_lines(args.corpus)
    print(f"training input: {len(lines)} lines, {sum(len(l) for l in lines)} chars", file=sys.stderr)
    model = train(lines, args.vocab_size)
    again = train(lines, args.vocab_size)
    if model != again:
        sys.exit("error: sentencepiece training is not deterministic here")
    m, ids = verify(model, args.vocab_size)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "wb") as f:
        f.write(model)
    print(f"wrote {args.out}: {len(model)} bytes, {len(m.pieces)} pieces "
          f"(ids 0-3 specials, 4-259 bytes, 260.. normal; first normal pieces: "
          f"{[p.piece for p in m.pieces[260:266]]}); 'Hello, world! I love you.' -> {ids}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
