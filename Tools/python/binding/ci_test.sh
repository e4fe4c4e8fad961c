#!/usr/bin/env bash
# CI test of the pairrm Python package (Tools/python/binding), the way users get it:
#   1. a fresh virtual environment (python3 -m venv in a temporary folder);
#   2. `pip install Tools/python/binding` from the repository, bundling an already built
#      libpairrm (--library, e.g. PREFIX/lib/libpairrm.so.1 from Tools/install.sh --prefix PREFIX)
#      or, with --build, building it with Swift (Tools/install.sh, scratch $PAIRRM_SWIFT_SCRATCH);
#   3. `import pairrm` with nothing else installed (no numpy), then every package test
#      (tests/run_tests.py) run from outside the source tree, so the installed package and its
#      bundled library are what is imported; also the ctypes test (tests/test_pairrm_ctypes.py);
#   4. numpy + pandas (and, unless --no-ray, ray[data]) installed, and the tests run again
#      (numpy return types, pandas inputs, the Spark mapInPandas function, the Ray pipeline).
# Prints each step's "N passed, M failed", then the total as its last line; exits 1 on failure.
#
# usage: Tools/python/binding/ci_test.sh --library PREFIX/lib/libpairrm.so.1 [--no-ray] [--keep]
#        Tools/python/binding/ci_test.sh --build [--no-ray]
# Environment: PYTHON (default python3), PIP_* (pip's own settings), PAIRRM_SWIFT_SCRATCH (--build).
set -uo pipefail
binding="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$binding/../../.." && pwd)"

library=""
build=0
ray=1
keep=0
while [ $# -gt 0 ]; do
    case "$1" in
        --library) library="$2"; shift 2 ;;
        --library=*) library="${1#*=}"; shift ;;
        --build) build=1; shift ;;
        --no-ray) ray=0; shift ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "ci_test.sh: unknown argument $1 (see --help)" >&2; exit 64 ;;
    esac
done
if [ -z "$library" ] && [ "$build" = 0 ]; then
    echo "ci_test.sh: pass --library PATH/libpairrm.so.1 (from Tools/install.sh) or --build" >&2; exit 64
fi
if [ -n "$library" ]; then
    [ -f "$library" ] || { echo "ci_test.sh: $library not found" >&2; echo "0 passed, 1 failed"; exit 1; }
    library="$(cd "$(dirname "$library")" && pwd)/$(basename "$library")"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/pairrm-python-ci.XXXXXX")
[ "$keep" = 1 ] && echo "keeping $work" || trap 'rm -rf "$work"' EXIT
venv="$work/venv"
py="$venv/bin/python"
started=$SECONDS
passed=0
failed=0

# step NAME COMMAND...: runs a command in $work (outside the source tree) and adds its
# "N passed, M failed" (or one check for a plain command) to the totals.
step() {
    local name=$1; shift
    local t0=$SECONDS out status summary p f
    out=$(cd "$work" && "$@" 2>&1); status=$?
    summary=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -n "$summary" ]; then
        p=$(sed -E 's/^(.*[^0-9])?([0-9]+) passed, ([0-9]+) failed.*/\2/' <<<"$summary")
        f=$(sed -E 's/^(.*[^0-9])?([0-9]+) passed, ([0-9]+) failed.*/\3/' <<<"$summary")
    else
        p=$((status == 0 ? 1 : 0)); f=0
    fi
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    printf '%-44s %4d passed, %d failed  (%ds)\n' "$name" "$p" "$f" $((SECONDS - t0))
    printf '%s\n' "$out" | grep -E '^  skipped ' | sed 's/^/    /'
    if [ "$f" -ne 0 ]; then printf '%s\n' "$out" | grep -vE '^\s*$' | tail -n 60 | sed 's/^/    /'; fi
}

echo "== fresh virtual environment"
"${PYTHON:-python3}" -m venv "$venv" || { echo "0 passed, 1 failed"; exit 1; }

echo "== pip install $binding"
if [ -n "$library" ]; then
    step "pip install (prebuilt libpairrm)" env PAIRRM_PREBUILT_LIBRARY="$library" "$py" -m pip install -q --disable-pip-version-check "$binding"
else
    step "pip install (libpairrm built with Swift)" env -u PAIRRM_PREBUILT_LIBRARY "$py" -m pip install -q --disable-pip-version-check "$binding"
fi
"$py" -c "import pairrm" 2>/dev/null || { echo "pairrm did not install"; echo "$passed passed, $((failed + 1)) failed"; exit 1; }

# Nothing else installed: import works, the bundled library is used, numpy is neither there nor needed.
step "import pairrm, nothing else installed" env -u PAIRRM_LIBRARY "$py" -c '
import importlib.util, os, sys, pairrm
assert importlib.util.find_spec("numpy") is None, "numpy is installed"
assert os.path.dirname(os.path.realpath(pairrm.library_path())) == os.path.dirname(os.path.realpath(pairrm.__file__)), pairrm.library_path()
assert pairrm.__version__ == pairrm.version(), (pairrm.__version__, pairrm.version())
import subprocess
out = subprocess.run([sys.executable, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True).stdout
names = {line.split("==")[0].lower() for line in out.split()}
assert names <= {"pairrm", "pip", "setuptools", "wheel"}, names
print("pairrm", pairrm.__version__, "from", pairrm.library_path())'

# The tiny model, converted once (recipe f32) by the installed library itself.
export PAIRRM_CACHE="$work/cache"
(cd "$work" && env -u PAIRRM_LIBRARY "$py" -c "import pairrm; pairrm.Ranker('$repo/Tests/Fixtures/checkpoints/tiny-pairrm-hf', recipe='f32').close()") \
    || { echo "converting the tiny checkpoint failed"; echo "$passed passed, $((failed + 1)) failed"; exit 1; }
model=$(find "$work/cache" -name '*.prm' | head -n 1)
export PAIRRM_TEST_MODEL="$model" PAIRRM_TEST_EXPECT_BUNDLED=1
export RAY_TMPDIR="$work/ray"   # Ray's session files go with the rest

step "tests, no numpy" env -u PAIRRM_LIBRARY "$py" "$binding/tests/run_tests.py" --label "no numpy"
step "ctypes test (installed package)" env -u PAIRRM_LIBRARY "$py" "$binding/tests/test_pairrm_ctypes.py" --model "$model"

extras=(numpy pandas)
[ "$ray" = 1 ] && extras+=("ray[data]")
step "pip install ${extras[*]}" "$py" -m pip install -q --disable-pip-version-check "${extras[@]}"
step "tests, with ${extras[*]}" env -u PAIRRM_LIBRARY "$py" "$binding/tests/run_tests.py" --label "with extras"

echo "Python package tests took $((SECONDS - started))s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
