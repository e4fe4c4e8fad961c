"""Loading libpairrm (the PairRM-Swift C ABI, ``pairrm.h``) through ctypes, and its errors.

Search order of :func:`load_library`:

1. the ``path`` argument, when given;
2. the library bundled in the installed wheel (``pairrm/libpairrm.so`` next to this file);
3. ``$PAIRRM_LIBRARY``;
4. the system search (``ctypes.util.find_library("pairrm")``, then ``libpairrm.so.1``).

The library is loaded once per process. Every foreign call goes through ``ctypes.CDLL``, which
releases the GIL for the duration of the call, so threads scoring on one model run in parallel.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from typing import Optional

__all__ = ["PairRMError", "load_library", "library_path", "library_version", "STATUS_NAMES"]

OK = 0
ERR_INVALID_ARGUMENT = 1
ERR_INVALID_UTF8 = 2
ERR_BUFFER_TOO_SMALL = 3
ERR_INVALID_HANDLE = 4
STATUS_NAMES = {
    0: "PAIRRM_OK", 1: "PAIRRM_ERR_INVALID_ARGUMENT", 2: "PAIRRM_ERR_INVALID_UTF8", 3: "PAIRRM_ERR_BUFFER_TOO_SMALL",
    4: "PAIRRM_ERR_INVALID_HANDLE", 5: "PAIRRM_ERR_IO", 6: "PAIRRM_ERR_INVALID_MODEL", 7: "PAIRRM_ERR_INPUT_TOO_LONG",
    8: "PAIRRM_ERR_INVALID_CONVERSATION", 9: "PAIRRM_ERR_NOT_FOUND", 100: "PAIRRM_ERR_INTERNAL",
}
ABI_MAJOR = 1
BUNDLED_NAME = "libpairrm.so"


class PairRMError(Exception):
    """A libpairrm call failed.

    ``status`` is the ``pairrm_status`` code, ``name`` its name (e.g. ``"PAIRRM_ERR_INVALID_UTF8"``)
    and ``message`` the library's own message (``pairrm_last_error()``); ``str(error)`` is
    ``"NAME: message"``.
    """

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.name = STATUS_NAMES.get(status, "PAIRRM_ERR_UNKNOWN")
        self.message = message
        super().__init__("%s: %s" % (self.name, message))

    def __reduce__(self):  # picklable (Ray / Spark ship exceptions between processes)
        return (PairRMError, (self.status, self.message))


class ModelParams(ctypes.Structure):
    """``pairrm_model_params`` (ABI 1.1)."""
    _fields_ = [("size", ctypes.c_uint32), ("threads", ctypes.c_int32), ("batch_size", ctypes.c_int32),
                ("source_max_length", ctypes.c_int32), ("candidate_max_length", ctypes.c_int32),
                ("replace_separator_literals", ctypes.c_int32), ("reject_truncation", ctypes.c_int32),
                ("verify_tensors", ctypes.c_int32), ("max_pooled_contexts", ctypes.c_int32),
                ("buffer_no_copy", ctypes.c_int32), ("read_into_memory", ctypes.c_int32)]


class ModelInfo(ctypes.Structure):
    """``pairrm_model_info``."""
    _fields_ = [("size", ctypes.c_uint32), ("hidden_size", ctypes.c_int32), ("num_layers", ctypes.c_int32),
                ("num_heads", ctypes.c_int32), ("intermediate_size", ctypes.c_int32), ("vocab_size", ctypes.c_int32),
                ("max_tokens", ctypes.c_int32), ("source_max_length", ctypes.c_int32),
                ("candidate_max_length", ctypes.c_int32), ("tensors_zero_copy", ctypes.c_int32),
                ("tensor_count", ctypes.c_uint64)]


class Turn(ctypes.Structure):
    """``pairrm_turn``."""
    _fields_ = [("role", ctypes.c_char_p), ("content", ctypes.c_char_p)]


_lib: Optional[ctypes.CDLL] = None
_lib_path: Optional[str] = None
_lib_lock = threading.Lock()


def _bundled() -> Optional[str]:
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), BUNDLED_NAME)
    return path if os.path.exists(path) else None


def _candidates(path: Optional[str]):
    if path:
        yield os.fspath(path)
        return
    bundled = _bundled()
    if bundled:
        yield bundled
        return
    env = os.environ.get("PAIRRM_LIBRARY")
    if env:
        yield env
        return
    found = ctypes.util.find_library("pairrm")
    if found:
        yield found
    yield "libpairrm.so.%d" % ABI_MAJOR
    yield "libpairrm.so"


def _declare(lib: ctypes.CDLL) -> None:
    c = ctypes
    P, S, I32, F = c.c_void_p, c.c_size_t, c.c_int32, c.c_float
    CHARS = c.POINTER(c.c_char_p)
    sigs = {
        "pairrm_version": (c.c_char_p, []),
        "pairrm_abi_version": (c.c_uint32, []),
        "pairrm_status_name": (c.c_char_p, [I32]),
        "pairrm_last_error": (c.c_char_p, []),
        "pairrm_model_default_params": (ModelParams, []),
        "pairrm_model_load": (I32, [c.c_char_p, c.c_char_p, c.POINTER(ModelParams), c.POINTER(P)]),
        "pairrm_model_load_from_file": (I32, [c.c_char_p, c.POINTER(ModelParams), c.POINTER(P)]),
        "pairrm_model_load_from_buffer": (I32, [c.c_char_p, S, c.POINTER(ModelParams), c.POINTER(P)]),
        "pairrm_model_free": (I32, [P]),
        "pairrm_model_get_info": (I32, [P, c.POINTER(ModelInfo)]),
        "pairrm_model_get_metadata": (I32, [P, c.c_char_p, c.c_char_p, S, c.POINTER(S)]),
        "pairrm_model_compare": (I32, [P, c.c_char_p, c.c_char_p, c.c_char_p, c.c_char_p, I32, c.POINTER(F), c.POINTER(I32)]),
        "pairrm_model_rank": (I32, [P, c.c_char_p, c.c_char_p, CHARS, S, I32, c.POINTER(F), c.POINTER(I32), S]),
        "pairrm_model_best_of_n": (I32, [P, c.c_char_p, c.c_char_p, CHARS, S, I32, c.POINTER(I32), c.POINTER(I32), c.POINTER(I32), S]),
        "pairrm_model_worst_of_n": (I32, [P, c.c_char_p, c.c_char_p, CHARS, S, I32, c.POINTER(I32), c.POINTER(I32), c.POINTER(I32), S]),
        "pairrm_model_compare_conversations": (I32, [P, c.POINTER(Turn), S, c.POINTER(Turn), S, I32, c.POINTER(F), c.POINTER(I32)]),
        "pairrm_model_tokenize": (I32, [P, c.c_char_p, c.POINTER(I32), S, c.POINTER(S)]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes


def load_library(path: Optional[str] = None) -> ctypes.CDLL:
    """Loads libpairrm once per process and returns the ``ctypes.CDLL``.

    ``path`` (or, without it, the bundled library, ``$PAIRRM_LIBRARY``, the system search) is
    used only by the first call; later calls return the library already loaded. Raises
    ``OSError`` when no library can be loaded or its ABI major version is not 1.
    """
    global _lib, _lib_path
    with _lib_lock:
        if _lib is not None:
            return _lib
        errors = []
        for candidate in _candidates(path):
            try:
                lib = ctypes.CDLL(candidate)
            except OSError as error:
                errors.append("%s (%s)" % (candidate, error))
                continue
            _declare(lib)
            abi = lib.pairrm_abi_version()
            if abi >> 16 != ABI_MAJOR:
                raise OSError("%s has ABI %d.%d; this module needs %d.x" % (candidate, abi >> 16, (abi >> 8) & 0xFF, ABI_MAJOR))
            _lib, _lib_path = lib, candidate
            return lib
        raise OSError("cannot load libpairrm: tried %s. Install the pairrm wheel (it bundles the library), "
                      "set $PAIRRM_LIBRARY to a libpairrm.so built by Tools/install.sh, or pass its path."
                      % "; ".join(errors))


def library_path() -> str:
    """The path libpairrm was loaded from (loads it if needed)."""
    load_library()
    return _lib_path or ""


def library_version() -> str:
    """``pairrm_version()`` of the loaded library, e.g. ``"1.1.0"``."""
    return load_library().pairrm_version().decode()


def check(status: int) -> None:
    """Raises :class:`PairRMError` with the calling thread's library message unless status is OK."""
    if status != OK:
        raise PairRMError(status, load_library().pairrm_last_error().decode("utf-8", "replace"))
