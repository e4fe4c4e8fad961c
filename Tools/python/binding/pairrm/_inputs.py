"""Checking and converting Python inputs before they reach the C library.

Texts are ``str`` (encoded as UTF-8; a lone surrogate is passed through so that the library
rejects it with ``PAIRRM_ERR_INVALID_UTF8``) or ``bytes`` (passed unchanged; the library
validates the UTF-8). ``None``, numbers and other types raise ``TypeError``; an embedded NUL
character raises ``ValueError`` (a C string would silently end there).

Lists of texts may be any sequence or iterable (list, tuple, numpy array, pandas Series), but
not a single ``str``/``bytes`` (which would be split into characters) nor a mapping.
"""
from __future__ import annotations

import ctypes
from typing import Any, List, Sequence, Tuple

TextLike = Any  # str | bytes


def text(value: Any, name: str) -> bytes:
    """One text -> NUL-free bytes for a ``const char *``."""
    if isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")  # lone surrogates reach the library, which rejects them
    elif isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    elif isinstance(value, memoryview):
        data = value.tobytes()
    else:
        raise TypeError("%s must be str (or UTF-8 bytes), not %s" % (name, type(value).__name__))
    if b"\0" in data:
        raise ValueError("%s contains a NUL character" % name)
    return data


def optional_text(value: Any, name: str) -> bytes:
    """Like :func:`text`, but ``None`` means the empty text (instructions)."""
    return b"" if value is None else text(value, name)


def sequence(values: Any, name: str) -> List[Any]:
    """A list-like argument (list, tuple, numpy array, pandas Series, iterable) -> list."""
    if values is None:
        raise TypeError("%s must be a list, not None" % name)
    if isinstance(values, (str, bytes, bytearray, dict)):
        raise TypeError("%s must be a list of texts, not a single %s" % (name, type(values).__name__))
    tolist = getattr(values, "tolist", None)
    if callable(tolist) and not isinstance(values, (list, tuple)):
        values = tolist()  # numpy arrays / pandas Series (numpy str_ elements become str)
    try:
        return list(values)
    except TypeError:
        raise TypeError("%s must be a list, not %s" % (name, type(values).__name__)) from None


def texts(values: Any, name: str) -> Tuple["ctypes.Array[ctypes.c_char_p]", int, List[bytes]]:
    """A list of texts -> (``const char *`` array, count, the bytes kept alive by the caller)."""
    encoded = [text(v, "%s[%d]" % (name, i)) for i, v in enumerate(sequence(values, name))]
    array = (ctypes.c_char_p * max(1, len(encoded)))(*encoded)
    return array, len(encoded), encoded


def same_length(name_a: str, a: Sequence[Any], name_b: str, b: Sequence[Any]) -> None:
    if len(a) != len(b):
        raise ValueError("%s and %s must have the same length (%d != %d)" % (name_a, name_b, len(a), len(b)))


def optional_list(values: Any, name: str, n: int) -> List[Any]:
    """An optional per-item list (instructions): None -> n empty texts."""
    if values is None:
        return [""] * n
    result = sequence(values, name)
    if len(result) != n:
        raise ValueError("%s must have one entry per input (%d != %d)" % (name, len(result), n))
    return result
