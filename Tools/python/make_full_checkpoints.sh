#!/usr/bin/env bash
# Full-size (1.74 GB each) random PairRM checkpoints for benchmarks. NOT committed.
#   $OUT/full-pairrm-hf           f32, seed 1, --local-attention, llm-blender/PairRM-hf layout
#   $OUT/full-pairrm-hf-outliers  f32, seed 2, --outliers --local-attention
#   $OUT/full-pairrm-hf-fragile   f32, seed 3, --fragile --local-attention (scores sensitive to
#                                 rounding: fp16/bf16/quantized fidelity, pairrm_reference.study.fidelity_table)
#   $OUT/full-pairrm              llm-blender/PairRM layout (RankerConfig config.json +
#                                 ranker_config.json); weights and tokenizer files are
#                                 symlinks into full-pairrm-hf
# About 25 s and ~5 GB peak RAM per checkpoint (including the verification forward pass).
# usage: bash Tools/python/make_full_checkpoints.sh [OUT]      (default OUT: scratch/ckpt)
# Reference environment: see Tools/python/README.md. The interpreter is $PY, else .venv/bin/python
# of the repository if present, else python3. The tokenizer is the real DeBERTa-v3 spm.model from
# ../shared/vocab beside the repository ($PAIRRM_SHARED_VOCAB overrides).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
if [ -z "${PY:-}" ]; then
    if [ -x "$REPO/.venv/bin/python" ]; then PY="$REPO/.venv/bin/python"; else PY=python3; fi
fi
export PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}"
OUT="${1:-scratch/ckpt}"
export PYTHONWARNINGS=ignore
mkdir -p "$OUT"
mk() { "$PY" -m pairrm_reference.make_checkpoint --size full --force "$@"; }
mk --layout pairrm-hf --seed 1 --local-attention --out "$OUT/full-pairrm-hf"
mk --layout pairrm-hf --seed 2 --outliers --local-attention --out "$OUT/full-pairrm-hf-outliers"
mk --layout pairrm-hf --seed 3 --fragile --local-attention --out "$OUT/full-pairrm-hf-fragile"
mk --layout pairrm --link-from "$OUT/full-pairrm-hf" --out "$OUT/full-pairrm"
