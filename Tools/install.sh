#!/usr/bin/env bash
# Builds the pairrm command and libpairrm (the C ABI, Sources/PairRMCABIHeader/include/pairrm.h) in
# release mode and installs them:
#   PREFIX/bin/pairrm, PREFIX/lib/libpairrm.so.1 (+ libpairrm.so symlink),
#   PREFIX/include/pairrm.h, PREFIX/lib/pkgconfig/pairrm.pc, PREFIX/share/pairrm/python/pairrm/ (Python)
#
# usage: Tools/install.sh --prefix DIR [--scratch-path DIR] [--no-build] [--no-cli]
#
# The Swift runtime (and Foundation, for the command) is linked statically, so neither needs a
# Swift toolchain at run time: only libc, libm, libstdc++, libgcc_s and libzstd.so.1 (the
# libzstd1 package); the command also needs libz.so.1 (zlib1g). The release build uses its own scratch directory (default
# .build/cabi-release) so it never invalidates a normal `swift build -c release`.
# The version (pairrm --version, pairrm_version(), pairrm.pc) comes from
# Sources/PairRMFormat/Version.swift; the library's file name carries the ABI version.
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=""
scratch=".build/cabi-release"
build=1
cli=1
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix="$2"; shift 2 ;;
        --prefix=*) prefix="${1#*=}"; shift ;;
        --scratch-path) scratch="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        --no-cli) cli=0; shift ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 64 ;;
    esac
done
[ -n "$prefix" ] || { echo "install.sh: --prefix DIR is required" >&2; exit 64; }
mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"

header=Sources/PairRMCABIHeader/include/pairrm.h
major=$(sed -n 's/^#define PAIRRM_ABI_VERSION_MAJOR \([0-9]*\).*/\1/p' "$header")
minor=$(sed -n 's/^#define PAIRRM_ABI_VERSION_MINOR \([0-9]*\).*/\1/p' "$header")
patch=$(sed -n 's/^#define PAIRRM_ABI_VERSION_PATCH \([0-9]*\).*/\1/p' "$header")
abi="$major.$minor.$patch"
soname="libpairrm.so.$major"
version=$(sed -n 's/.*public static let string = "\([^"]*\)".*/\1/p' Sources/PairRMFormat/Version.swift)
[ -n "$version" ] || { echo "install.sh: no version in Sources/PairRMFormat/Version.swift" >&2; exit 1; }

if [ "$build" = 1 ]; then
    # -static-stdlib: the Swift runtime goes into the .so (SwiftPM applies --static-swift-stdlib
    # to executables only, so it is passed to swiftc directly). -soname: the product file is
    # libPairRMCABI.so (the product name "pairrm" belongs to the CLI); programs record the soname.
    swift build -c release --scratch-path "$scratch" --product PairRMCABI \
        -Xswiftc -static-stdlib -Xlinker -soname -Xlinker "$soname" \
        -Xlinker --version-script -Xlinker "$PWD/Tools/libpairrm.map"
    if [ "$cli" = 1 ]; then
        # --static-swift-stdlib: the Swift runtime and Foundation go into the executable.
        swift build -c release --scratch-path "$scratch" --product pairrm --static-swift-stdlib
    fi
fi
built="$scratch/release/libPairRMCABI.so"
[ -f "$built" ] || { echo "install.sh: $built not found (build first, or drop --no-build)" >&2; exit 1; }

install -d "$prefix/lib/pkgconfig" "$prefix/include" "$prefix/bin"
install -m 0755 "$built" "$prefix/lib/libpairrm.so.$abi"
strip --strip-debug "$prefix/lib/libpairrm.so.$abi" 2>/dev/null || true
ln -sf "libpairrm.so.$abi" "$prefix/lib/$soname"
ln -sf "$soname" "$prefix/lib/libpairrm.so"
install -m 0644 "$header" "$prefix/include/pairrm.h"
sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" Tools/pairrm.pc.in > "$prefix/lib/pkgconfig/pairrm.pc"
# The Python binding package (Tools/python/binding/pairrm): PYTHONPATH=PREFIX/share/pairrm/python.
install -d "$prefix/share/pairrm/python/pairrm"
install -m 0644 Tools/python/binding/pairrm/*.py Tools/python/binding/pairrm/py.typed "$prefix/share/pairrm/python/pairrm/"
rm -f "$prefix/share/pairrm/python/pairrm.py"   # the single-file module of earlier installs

if [ "$cli" = 1 ]; then
    cli_built="$scratch/release/pairrm"
    [ -f "$cli_built" ] || { echo "install.sh: $cli_built not found (build first, or pass --no-cli)" >&2; exit 1; }
    install -m 0755 "$cli_built" "$prefix/bin/pairrm"
    strip --strip-debug "$prefix/bin/pairrm" 2>/dev/null || true
fi

echo "installed pairrm $version (libpairrm ABI $abi) into $prefix"
if command -v readelf >/dev/null; then
    echo "  library needs: $(readelf -d "$prefix/lib/libpairrm.so.$abi" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
    [ "$cli" = 1 ] && echo "  pairrm needs:  $(readelf -d "$prefix/bin/pairrm" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
fi
[ "$cli" = 1 ] && echo "  run: $prefix/bin/pairrm --help   (add $prefix/bin to PATH)"
echo "  compile: cc app.c \$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs pairrm)"
