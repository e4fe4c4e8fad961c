#!/usr/bin/env bash
# Regenerate the committed tiny PairRM test fixtures:
#   Tests/Fixtures/tiny-spm/spm.model
#   Tests/Fixtures/checkpoints/{tiny-pairrm-hf,tiny-pairrm,tiny-f16,tiny-bf16,tiny-bin}/
#   Tests/Fixtures/checkpoints/tiny-expected.json
# Everything is deterministic: rerunning reproduces the committed bytes.
#
# Needs the reference environment (see Tools/python/README.md):
#   python3 -m venv .venv
#   .venv/bin/pip install -e 'Tools/python[fixtures]'
#   .venv/bin/pip install --no-deps llm-blender==0.0.2
# The interpreter is $PY, else .venv/bin/python of the repository if present, else python3.
# pairrm_reference is imported from this folder (PYTHONPATH), installed or not. The tiny spm is
# trained on ../shared/vocab/bench-corpus.txt beside the repository ($PAIRRM_SHARED_VOCAB overrides).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
if [ -z "${PY:-}" ]; then
    if [ -x "$REPO/.venv/bin/python" ]; then PY="$REPO/.venv/bin/python"; else PY=python3; fi
fi
export PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}"
FIX="$REPO/Tests/Fixtures"
CK="$FIX/checkpoints"
export PYTHONWARNINGS=ignore

"$PY" -m pairrm_reference.make_tiny_spm --out "$FIX/tiny-spm/spm.model"

mk() { "$PY" -m pairrm_reference.make_checkpoint --size tiny --seed 1 --spm "$FIX/tiny-spm/spm.model" --force "$@"; }
mk --layout pairrm-hf --dtype f32  --format safetensors --out "$CK/tiny-pairrm-hf"
mk --layout pairrm    --dtype f32  --format safetensors --out "$CK/tiny-pairrm"
mk --layout pairrm-hf --dtype f16  --format safetensors --out "$CK/tiny-f16"
mk --layout pairrm-hf --dtype bf16 --format safetensors --out "$CK/tiny-bf16"
mk --layout pairrm-hf --dtype f32  --format bin         --out "$CK/tiny-bin"

"$PY" -m pairrm_reference.make_expected --fixtures "$CK"
du -sh "$FIX/tiny-spm" "$CK"
