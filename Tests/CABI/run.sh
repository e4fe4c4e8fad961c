#!/usr/bin/env bash
# C ABI tests (issue 6): builds libpairrm (debug) and the pairrm CLI, converts the tiny fixture
# model, then runs
#   1. the C golden test (compare/rank/best_of_n/conversations against LLM-Blender's values)
#   2. the C bad-input test (NULL, invalid UTF-8, zero/huge counts, small buffers, double free)
#   3. 8 pthreads sharing one model, checked against a single-threaded run
#   4. 1-3 again under -fsanitize=address,undefined (long golden cases skipped for time)
#   5. the Python ctypes test (Tools/python/binding/tests/test_pairrm_ctypes.py, PYTHONPATH picks the binding),
#      then the pip package installed into a fresh venv (Tools/python/binding/ci_test.sh)
#   6. with --install (or PAIRRM_CABI_INSTALL=1): Tools/install.sh into a temporary prefix (a
#      release build with the static Swift runtime) and the golden test, the Python binding and
#      the installed `pairrm` command from `env -i`
# Prints "N passed, M failed" (checks summed over all steps); exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

install_test=${PAIRRM_CABI_INSTALL:-0}
for arg in "$@"; do
    case "$arg" in
        --install) install_test=1 ;;
        *) echo "usage: Tests/CABI/run.sh [--install]" >&2; exit 64 ;;
    esac
done

work=$(mktemp -d "${TMPDIR:-/tmp}/pairrm-cabi.XXXXXX")
trap 'rm -rf "$work"' EXIT
total_passed=0
total_failed=0
started=$SECONDS

fail_setup() { echo "C ABI setup failed: $*" >&2; echo "0 passed, 1 failed"; exit 1; }
quiet() { grep -vE '^\[0/1] Planning build|^\[[0-9]+/[0-9]+\] (Compiling|Emitting|Write|Linking|Wrapping)|^Building for|^Build of product' || true; }

echo "== building libPairRMCABI and the pairrm CLI (debug)"
swift build --product PairRMCABI 2>&1 | quiet; [ "${PIPESTATUS[0]}" = 0 ] || fail_setup "swift build --product PairRMCABI"
swift build --product pairrm 2>&1 | quiet; [ "${PIPESTATUS[0]}" = 0 ] || fail_setup "swift build --product pairrm"
bin=$(swift build --show-bin-path)
lib="$bin/libPairRMCABI.so"
[ -f "$lib" ] || fail_setup "$lib missing"

model="$work/tiny-f32.prm"
"$bin/pairrm" convert Tests/Fixtures/checkpoints/tiny-pairrm-hf -o "$model" --weights f32 >/dev/null \
    || fail_setup "pairrm convert"
python3 Tests/CABI/make_golden.py Tests/Fixtures/parity/blender-tiny.json "$work/golden.h" || fail_setup "make_golden.py"

cflags=(-std=c11 -Wall -Wextra -Werror -g -I Sources/PairRMCABIHeader/include -I "$work")
ldflags=(-L "$bin" -lPairRMCABI "-Wl,-rpath,$bin" -lpthread -lm)
cc "${cflags[@]}" -O1 -o "$work/test_pairrm" Tests/CABI/test_pairrm.c "${ldflags[@]}" || fail_setup "cc test_pairrm.c"
# ASan + UBSan on the C side. gcc's libasan is linked into the (instrumented) executable, so it
# is loaded first and needs no LD_PRELOAD; the Swift library itself is not instrumented.
cc "${cflags[@]}" -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
    -o "$work/test_pairrm_asan" Tests/CABI/test_pairrm.c "${ldflags[@]}" || fail_setup "cc -fsanitize=address,undefined"
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# step NAME COMMAND...: runs a test program, adds its "N passed, M failed" line to the totals.
step() {
    local name=$1; shift
    local t0=$SECONDS out status summary p f
    out=$("$@" 2>&1); status=$?
    summary=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -n "$summary" ]; then
        # The counts may start the line ("86 passed, 0 failed") or follow a label.
        p=$(sed -E 's/^(.*[^0-9])?([0-9]+) passed, ([0-9]+) failed.*/\2/' <<<"$summary")
        f=$(sed -E 's/^(.*[^0-9])?([0-9]+) passed, ([0-9]+) failed.*/\3/' <<<"$summary")
    else
        p=$((status == 0 ? 1 : 0)); f=0   # a plain command: one check
    fi
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi  # crashed or sanitizer report
    total_passed=$((total_passed + p)); total_failed=$((total_failed + f))
    printf '%-28s %4d passed, %d failed  (%ds)\n' "$name" "$p" "$f" $((SECONDS - t0))
    if [ "$f" -ne 0 ]; then printf '%s\n' "$out" | grep -vE '^\s*$' | tail -n 40 | sed 's/^/    /'; fi
}

echo "== running"
step "C golden" "$work/test_pairrm" golden "$model"
step "C bad input" "$work/test_pairrm" bad "$model"
step "C 8 threads" "$work/test_pairrm" threads "$model" 8 2
step "C golden (asan+ubsan)" env PAIRRM_TEST_QUICK=1 "$work/test_pairrm_asan" golden "$model"
step "C bad input (asan+ubsan)" "$work/test_pairrm_asan" bad "$model"
step "C 8 threads (asan+ubsan)" "$work/test_pairrm_asan" threads "$model" 8 1
step "Python ctypes" env PYTHONPATH="$root/Tools/python/binding" python3 Tools/python/binding/tests/test_pairrm_ctypes.py \
    --lib "$lib" --model "$model"
# The pip package as users get it: a fresh venv, `pip install Tools/python/binding` bundling this
# (debug) library, its tests without numpy and then with numpy, pandas and Ray (PyPI).
# PAIRRM_PYTHON_CI_ARGS=--no-ray skips Ray where PyPI is slow.
# shellcheck disable=SC2086
step "pip package, fresh venv" bash Tools/python/binding/ci_test.sh --library "$lib" ${PAIRRM_PYTHON_CI_ARGS:-}

if [ "$install_test" = 1 ]; then
    prefix="$work/prefix"
    if Tools/install.sh --prefix "$prefix" 2>&1 | quiet | tail -n 4; then
        pc="$prefix/lib/pkgconfig"
        # shellcheck disable=SC2046
        if cc "${cflags[@]}" -O1 -o "$work/test_installed" Tests/CABI/test_pairrm.c \
               $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs pairrm) -lpthread -lm; then
            # A clean environment: no Swift toolchain, only the prefix's rpath.
            step "installed, env -i" env -i "$work/test_installed" golden "$model"
            step "installed, env -i, bad" env -i "$work/test_installed" bad "$model"
            step "installed, Python" env -i PATH=/usr/bin:/bin PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$prefix/share/pairrm/python" \
                python3 Tools/python/binding/tests/test_pairrm_ctypes.py \
                --lib "$prefix/lib/libpairrm.so" --model "$model"
            # The installed command runs without a Swift toolchain and reports the one version.
            expected_version=$(sed -n 's/.*public static let string = "\([^"]*\)".*/\1/p' Sources/PairRMFormat/Version.swift)
            step "installed pairrm --version" test "$(env -i "$prefix/bin/pairrm" --version)" = "$expected_version"
            step "installed pairrm rank" sh -c "echo '{\"prompt\":\"2+2?\",\"candidates\":[\"4\",\"5\"]}' | env -i \"$prefix/bin/pairrm\" rank --model \"$model\" | grep -q ranks"
        else
            step "installed (compile)" false
        fi
    else
        step "install.sh" false
    fi
fi

echo "C ABI tests took $((SECONDS - started))s"
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
