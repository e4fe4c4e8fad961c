#!/usr/bin/env bash
# Full-size (1.74 GB each) random PairRM checkpoints for benchmarks. NOT committed.
#   $OUT/full-pairrm-hf           f32, seed 1, --local-attention, llm-blender/PairRM-hf layout
#   $OUT/full-pairrm-hf-outliers  f32, seed 2, --outliers --local-attention
#   $OUT/full-pairrm-hf-fragile   f32, seed 3, --fragile --local-attention (scores sensitive to
#                                 rounding: fp16/bf16/quantized fidelity, Tools/python/study/fidelity_table.py)
#   $OUT/full-pairrm              llm-blender/PairRM layout (RankerConfig config.json +
#                                 ranker_config.json); weights and tokenizer files are
#                                 symlinks into full-pairrm-hf
# About 25 s and ~5 GB peak RAM per checkpoint (including the verification forward pass).
# Reference venv: see requirements-reference.txt.  PY=... overrides the interpreter.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PY:-python3}"   # the reference environment's python, e.g. PY=.venv/bin/python
OUT="${1:-scratch/ckpt}"
export PYTHONWARNINGS=ignore
mkdir -p "$OUT"
"$PY" "$HERE/make_checkpoint.py" --size full --layout pairrm-hf --seed 1 --local-attention --force --out "$OUT/full-pairrm-hf"
"$PY" "$HERE/make_checkpoint.py" --size full --layout pairrm-hf --seed 2 --outliers --local-attention --force --out "$OUT/full-pairrm-hf-outliers"
"$PY" "$HERE/make_checkpoint.py" --size full --layout pairrm-hf --seed 3 --fragile --local-attention --force --out "$OUT/full-pairrm-hf-fragile"
"$PY" "$HERE/make_checkpoint.py" --size full --layout pairrm --force --link-from "$OUT/full-pairrm-hf" --out "$OUT/full-pairrm"
