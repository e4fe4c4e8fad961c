#!/usr/bin/env bash
# Regenerate the committed tiny PairRM test fixtures:
#   Tests/Fixtures/tiny-spm/spm.model
#   Tests/Fixtures/checkpoints/{tiny-pairrm-hf,tiny-pairrm,tiny-f16,tiny-bf16,tiny-bin}/
#   Tests/Fixtures/checkpoints/tiny-expected.json
# Everything is deterministic: rerunning reproduces the committed bytes.
#
# Needs the reference venv (see requirements-reference.txt for how to create it):
#   python3 -m venv /work/venv-ref
#   /work/venv-ref/bin/pip install -r Tools/python/requirements-reference.txt
#   /work/venv-ref/bin/pip install --no-deps llm-blender==0.0.2
# Override the interpreter with PY=/path/to/python.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PY="${PY:-/work/venv-ref/bin/python}"
FIX="$REPO/Tests/Fixtures"
CK="$FIX/checkpoints"
export PYTHONWARNINGS=ignore

"$PY" "$HERE/make_tiny_spm.py" --out "$FIX/tiny-spm/spm.model"

mk() { "$PY" "$HERE/make_checkpoint.py" --size tiny --seed 1 --spm "$FIX/tiny-spm/spm.model" --force "$@"; }
mk --layout pairrm-hf --dtype f32  --format safetensors --out "$CK/tiny-pairrm-hf"
mk --layout pairrm    --dtype f32  --format safetensors --out "$CK/tiny-pairrm"
mk --layout pairrm-hf --dtype f16  --format safetensors --out "$CK/tiny-f16"
mk --layout pairrm-hf --dtype bf16 --format safetensors --out "$CK/tiny-bf16"
mk --layout pairrm-hf --dtype f32  --format bin         --out "$CK/tiny-bin"

"$PY" "$HERE/make_expected.py" --fixtures "$CK"
du -sh "$FIX/tiny-spm" "$CK"
