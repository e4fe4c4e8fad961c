"""In-tree PEP 517 build backend of the ``pairrm`` Python package (standard library only).

``pip install Tools/python/binding`` (or ``pip install "git+URL#subdirectory=Tools/python/binding"``)
builds a platform wheel (``pairrm-VERSION-py3-none-linux_<arch>.whl``) holding the package and
libpairrm as ``pairrm/libpairrm.so``:

* the version is read from ``Sources/PairRMFormat/Version.swift`` (the project's single version;
  the build fails if it cannot be read), or, in an sdist, from its ``PKG-INFO``;
* the library is ``$PAIRRM_PREBUILT_LIBRARY`` (or ``--config-settings library=PATH``) when set:
  an already built libpairrm.so (e.g. ``PREFIX/lib/libpairrm.so.1`` from ``Tools/install.sh``),
  copied without running Swift;
* otherwise it is built with ``Tools/install.sh --no-cli`` (release, Swift runtime linked
  statically, soname and version script as installed) in the scratch directory
  ``$PAIRRM_SWIFT_SCRATCH`` (or ``--config-settings scratch-path=DIR``; relative to the
  repository root; default ``.build/cabi-release``, the one install.sh uses). This needs a
  Swift toolchain (``swift`` on PATH).
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(HERE)                      # Tools/python/binding
REPO = os.path.normpath(os.path.join(PROJECT, "..", "..", ".."))
VERSION_FILE = os.path.join(REPO, "Sources", "PairRMFormat", "Version.swift")
INSTALL_SH = os.path.join(REPO, "Tools", "install.sh")
PACKAGE = "pairrm"
LIBRARY = "libpairrm.so"
ELF_MACHINES = {"x86_64": 62, "aarch64": 183, "arm64": 183}


class BuildError(RuntimeError):
    pass


# ------------------------------------------------------------------ project metadata
def _pyproject() -> dict:
    with open(os.path.join(PROJECT, "pyproject.toml"), "rb") as f:
        data = f.read()
    try:
        import tomllib  # Python 3.11+
        return tomllib.loads(data.decode("utf-8"))
    except ImportError:
        pass
    # A minimal reader for this file's subset: [tables], key = "string" | ["strings"] | multi-line lists.
    result: dict = {}
    table = result
    pending = None
    for raw in data.decode("utf-8").splitlines():
        line = raw.split(" #")[0].strip()
        if pending is not None:
            pending[1].append(line)
            if line.endswith("]"):
                table[pending[0]] = re.findall(r'"([^"]*)"', " ".join(pending[1]))
                pending = None
            continue
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            table = result
            for part in line.strip("[]").split("."):
                table = table.setdefault(part.strip().strip('"'), {})
            continue
        key, _, value = (s.strip() for s in line.partition("="))
        key = key.strip('"')
        if value.startswith("[") and not value.endswith("]"):
            pending = (key, [value])
        elif value.startswith("["):
            table[key] = re.findall(r'"([^"]*)"', value)
        else:
            table[key] = value.strip('"')
    return result


def _version_file() -> str:
    """[tool.pairrm-build] version-file (relative to this project), else the default."""
    configured = _pyproject().get("tool", {}).get("pairrm-build", {}).get("version-file")
    return os.path.normpath(os.path.join(PROJECT, configured)) if configured else VERSION_FILE


def _version() -> str:
    version_file = _version_file()
    if os.path.exists(version_file):
        with open(version_file, encoding="utf-8") as f:
            match = re.search(r'public static let string = "([^"]+)"', f.read())
        if not match:
            raise BuildError("no `public static let string = \"...\"` in %s" % version_file)
        return match.group(1)
    pkg_info = os.path.join(PROJECT, "PKG-INFO")  # an sdist
    if os.path.exists(pkg_info):
        with open(pkg_info, encoding="utf-8") as f:
            match = re.search(r"^Version: (\S+)$", f.read(), re.M)
        if match:
            return match.group(1)
    raise BuildError("cannot read the version: %s not found (build from a checkout of the repository, "
                     "or from an sdist with PKG-INFO)" % version_file)


def _metadata(version: str) -> str:
    project = _pyproject().get("project", {})
    lines = ["Metadata-Version: 2.1", "Name: %s" % project.get("name", PACKAGE), "Version: %s" % version]
    if project.get("description"):
        lines.append("Summary: %s" % project["description"])
    if project.get("requires-python"):
        lines.append("Requires-Python: %s" % project["requires-python"])
    lines.append("License: MIT")
    for classifier in project.get("classifiers", []):
        lines.append("Classifier: %s" % classifier)
    for extra, requirements in sorted(project.get("optional-dependencies", {}).items()):
        lines.append("Provides-Extra: %s" % extra)
        for requirement in requirements:
            marker = 'extra == "%s"' % extra
            lines.append("Requires-Dist: %s; %s" % (requirement, marker) if ";" not in requirement
                         else "Requires-Dist: %s and %s" % (requirement, marker))
    readme = os.path.join(PROJECT, "README.md")
    body = ""
    if os.path.exists(readme):
        lines.append("Description-Content-Type: text/markdown")
        with open(readme, encoding="utf-8") as f:
            body = f.read()
    return "\n".join(lines) + "\n\n" + body


def _platform_tag() -> str:
    return re.sub(r"[-.]", "_", sysconfig.get_platform())


def _wheel_file(tag: str) -> str:
    return "Wheel-Version: 1.0\nGenerator: pairrm_build\nRoot-Is-Purelib: false\nTag: %s\n" % tag


# ------------------------------------------------------------------ libpairrm
def _check_elf(path: str) -> None:
    with open(path, "rb") as f:
        header = f.read(20)
    if header[:4] != b"\x7fELF":
        raise BuildError("%s is not an ELF shared library" % path)
    machine = int.from_bytes(header[18:20], "little")
    arch = sysconfig.get_platform().split("-")[-1]
    want = ELF_MACHINES.get(arch)
    if want is not None and machine != want:
        raise BuildError("%s is built for another architecture (ELF machine %d; this platform, %s, needs %d)"
                         % (path, machine, arch, want))


def _library(config_settings: dict, workdir: str) -> str:
    """The path of the libpairrm to bundle (prebuilt, or built with Tools/install.sh)."""
    settings = config_settings or {}
    prebuilt = settings.get("library") or os.environ.get("PAIRRM_PREBUILT_LIBRARY")
    if prebuilt:
        path = os.path.realpath(os.path.expanduser(prebuilt))
        if not os.path.isfile(path):
            raise BuildError("PAIRRM_PREBUILT_LIBRARY=%s: no such file" % prebuilt)
        _check_elf(path)
        return path
    if not os.path.exists(INSTALL_SH):
        raise BuildError("libpairrm cannot be built here (no Tools/install.sh: not a checkout of the repository); "
                         "set PAIRRM_PREBUILT_LIBRARY=/path/to/libpairrm.so.1")
    if shutil.which("swift") is None:
        raise BuildError("building libpairrm needs a Swift toolchain, and `swift` is not on PATH. Install Swift "
                         "(https://swift.org/install), or bundle an already built library: "
                         "PAIRRM_PREBUILT_LIBRARY=PREFIX/lib/libpairrm.so.1 pip install Tools/python/binding "
                         "(PREFIX from Tools/install.sh --prefix PREFIX)")
    scratch = settings.get("scratch-path") or os.environ.get("PAIRRM_SWIFT_SCRATCH") or ".build/cabi-release"
    prefix = os.path.join(workdir, "prefix")
    command = ["bash", INSTALL_SH, "--prefix", prefix, "--scratch-path", scratch, "--no-cli"]
    print("pairrm_build: building libpairrm: %s (in %s)" % (" ".join(command), REPO), file=sys.stderr, flush=True)
    # install.sh prints the build log; keep pip's stdout protocol clean by sending it to stderr.
    status = subprocess.call(command, cwd=REPO, stdout=sys.stderr)
    if status != 0:
        raise BuildError("Tools/install.sh failed (exit status %d); see the log above (pip install -v)" % status)
    path = os.path.realpath(os.path.join(prefix, "lib", LIBRARY))
    if not os.path.isfile(path):
        raise BuildError("Tools/install.sh did not produce %s" % path)
    _check_elf(path)
    return path


# ------------------------------------------------------------------ wheel writing
def _package_files() -> list:
    root = os.path.join(PROJECT, PACKAGE)
    files = []
    for name in sorted(os.listdir(root)):
        if (name.endswith(".py") and name != "_version.py") or name == "py.typed":
            files.append((os.path.join(root, name), "%s/%s" % (PACKAGE, name)))
    return files


class _Wheel:
    def __init__(self, path: str) -> None:
        self.zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED)
        self.records = []

    def add(self, arcname: str, data: bytes, executable: bool = False) -> None:
        info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = (0o755 if executable else 0o644) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        self.records.append("%s,sha256=%s,%d" % (arcname, digest, len(data)))

    def close(self, record: str) -> None:
        self.records.append("%s,," % record)
        self.zip.writestr(zipfile.ZipInfo(record, date_time=(2020, 1, 1, 0, 0, 0)), "\n".join(self.records) + "\n")
        self.zip.close()


def _dist_info(version: str) -> str:
    return "%s-%s.dist-info" % (PACKAGE, version)


def _write_dist_info(directory: str, version: str, tag: str) -> str:
    name = _dist_info(version)
    os.makedirs(os.path.join(directory, name), exist_ok=True)
    for filename, text in (("METADATA", _metadata(version)), ("WHEEL", _wheel_file(tag))):
        with open(os.path.join(directory, name, filename), "w", encoding="utf-8") as f:
            f.write(text)
    return name


def _build(wheel_directory: str, config_settings: dict, editable: bool) -> str:
    version = _version()
    tag = "py3-none-%s" % _platform_tag()
    filename = "%s-%s-%s.whl" % (PACKAGE, version, tag)
    with tempfile.TemporaryDirectory(prefix="pairrm-build-") as workdir:
        library = _library(config_settings, workdir)
        wheel = _Wheel(os.path.join(wheel_directory, filename))
        if editable:
            # The source folder on sys.path; the library is copied next to the sources
            # (Tools/python/binding/pairrm/libpairrm.so, ignored by git).
            shutil.copyfile(library, os.path.join(PROJECT, PACKAGE, LIBRARY))
            with open(os.path.join(PROJECT, PACKAGE, "_version.py"), "w", encoding="utf-8") as f:
                f.write('version = "%s"\n' % version)
            wheel.add("%s_editable.pth" % PACKAGE, (PROJECT + "\n").encode())
        else:
            for path, arcname in _package_files():
                with open(path, "rb") as f:
                    wheel.add(arcname, f.read())
            wheel.add("%s/_version.py" % PACKAGE,
                      ('"""Written by the build backend from Sources/PairRMFormat/Version.swift."""\n'
                       'version = "%s"\n' % version).encode())
            with open(library, "rb") as f:
                wheel.add("%s/%s" % (PACKAGE, LIBRARY), f.read(), executable=True)
        info = _dist_info(version)
        wheel.add("%s/METADATA" % info, _metadata(version).encode())
        wheel.add("%s/WHEEL" % info, _wheel_file(tag).encode())
        wheel.add("%s/top_level.txt" % info, ("%s\n" % PACKAGE).encode())
        license_file = os.path.join(REPO, "LICENSE")
        if not os.path.exists(license_file):
            license_file = os.path.join(PROJECT, "LICENSE")  # an sdist
        if os.path.exists(license_file):
            with open(license_file, "rb") as f:
                wheel.add("%s/LICENSE" % info, f.read())
        wheel.close("%s/RECORD" % info)
    return filename


# ------------------------------------------------------------------ PEP 517 / 660 hooks
def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    return _write_dist_info(metadata_directory, _version(), "py3-none-%s" % _platform_tag())


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    return prepare_metadata_for_build_wheel(metadata_directory, config_settings)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    try:
        return _build(wheel_directory, config_settings or {}, editable=False)
    except BuildError as error:
        sys.exit("pairrm build failed: %s" % error)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    try:
        return _build(wheel_directory, config_settings or {}, editable=True)
    except BuildError as error:
        sys.exit("pairrm build failed: %s" % error)


def build_sdist(sdist_directory, config_settings=None):
    """An sdist of the Python sources (no Swift sources): building a wheel from it needs
    PAIRRM_PREBUILT_LIBRARY."""
    try:
        version = _version()
    except BuildError as error:
        sys.exit("pairrm build failed: %s" % error)
    base = "%s-%s" % (PACKAGE, version)
    filename = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz", format=tarfile.PAX_FORMAT) as tar:
        def add_bytes(name: str, data: bytes) -> None:
            info = tarfile.TarInfo("%s/%s" % (base, name))
            info.size, info.mtime, info.mode = len(data), 1577836800, 0o644
            tar.addfile(info, io.BytesIO(data))
        add_bytes("PKG-INFO", _metadata(version).encode())
        if os.path.exists(os.path.join(REPO, "LICENSE")):
            with open(os.path.join(REPO, "LICENSE"), "rb") as f:
                add_bytes("LICENSE", f.read())
        for top in ("pyproject.toml", "README.md", "build_backend", PACKAGE, "tests", "examples"):
            path = os.path.join(PROJECT, top)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    add_bytes(top, f.read())
                continue
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
                for name in sorted(filenames):
                    if name.endswith((".pyc", ".so")) or name == "_version.py":
                        continue
                    full = os.path.join(dirpath, name)
                    with open(full, "rb") as f:
                        add_bytes(os.path.relpath(full, PROJECT), f.read())
    return filename
